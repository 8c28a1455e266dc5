//! Decodes one event message in a loop, for counting the instructions one
//! decode takes (deterministic, unlike times on a shared machine):
//!
//! ```sh
//! cargo build --release -p qtrace-core --example decode_loop
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/decode_loop pci 0
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/decode_loop pci 100000
//! ```
//!
//! The difference of the two `I refs` totals over 100,000 is the count per
//! decode. Events: `pci` (pci_cfg_read), `ps2` (ps2_put_keycode), `dma`
//! (dma_blk_io), as QEMU 7.2 prints them.
use qtrace_core::catalog::Catalog;
fn main() {
    let catalog = Catalog::builtin();
    let which = std::env::args().nth(1).unwrap_or_default();
    let (name, msg): (&[u8], &[u8]) = match which.as_str() {
        "ps2" => (b"ps2_put_keycode", b"0x5530dc2c7230 keycode 0x1e"),
        "dma" => (
            b"dma_blk_io",
            b"dbs=0x7fda29b19940 bs=0x5530db9b1340 offset=9263104 to_dev=0",
        ),
        _ => (b"pci_cfg_read", b"ahci 00:1f.2 @0x0 -> 0x29228086"),
    };
    let ev = catalog.event(name).unwrap();
    let mut scratch = Vec::new();
    let mut n = 0u64;
    let iters: u64 = std::env::args()
        .nth(2)
        .map_or(100_000, |s| s.parse().unwrap());
    for _ in 0..iters {
        let f = ev.decode(std::hint::black_box(msg), &mut scratch).unwrap();
        n += f.num(f.len() - 1);
    }
    println!("{n}");
}
