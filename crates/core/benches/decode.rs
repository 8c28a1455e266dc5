//! Micro-benchmarks of the per-line hot path: recognising a line, and
//! decoding an event's arguments with the built-in format specs.
//!
//! Run with `cargo bench -p qtrace-core --bench decode`. These time single
//! steps in isolation; whole-tool speed against ripgrep and mawk is measured
//! by `scripts/bench`.

use divan::{Bencher, black_box};
use qtrace_core::catalog::Catalog;
use qtrace_core::format::Slot;
use qtrace_core::lines::Line;
use qtrace_core::recognize::recognize;
use qtrace_core::scan::{ScanOptions, Scanner};

fn main() {
    divan::main();
}

/// Real-shaped events, as QEMU 7.2's log backend prints them.
const EVENTS: &[(&str, &str)] = &[
    ("pci_cfg_read", "ahci 00:1f.2 @0x0 -> 0x29228086"),
    ("pci_cfg_write", "e1000 00:02.0 @0x10 <- 0xffffffff"),
    ("ps2_put_keycode", "0x5530dc2c7230 keycode 0x1e"),
    (
        "dma_blk_io",
        "dbs=0x7fda29b19940 bs=0x5530db9b1340 offset=9263104 to_dev=0",
    ),
];

#[divan::bench(args = EVENTS)]
fn decode(bencher: Bencher, event: &(&str, &str)) {
    let catalog = Catalog::builtin();
    let (name, message) = (event.0.as_bytes(), event.1.as_bytes());
    let mut scratch: Vec<Slot> = Vec::new();
    assert!(catalog.decode(name, message, &mut scratch).is_some());
    bencher.bench_local(|| {
        let fields = catalog.decode(black_box(name), black_box(message), &mut scratch);
        black_box(fields.map(|f| f.len()))
    });
}

const LINES: &[&str] = &[
    "39283@1767988001.186451:pci_cfg_read ahci 00:1f.2 @0x0 -> 0x29228086",
    "pci_cfg_read ahci 00:1f.2 @0x0 -> 0x29228086",
    "2025-01-09T17:06:41.186451Z pci_cfg_read ahci 00:1f.2 @0x0 -> 0x29228086",
];

#[divan::bench(args = LINES)]
fn recognize_line(line: &str) -> usize {
    recognize(black_box(line.as_bytes())).map_or(0, |s| s.name.len())
}

#[divan::bench(args = LINES)]
fn classify_line(bencher: Bencher, line: &str) {
    let catalog = Catalog::builtin();
    let scanner = Scanner::new(&catalog, ScanOptions::default());
    let bytes = line.as_bytes();
    bencher.bench_local(|| {
        let l = Line {
            number: 1,
            bytes: black_box(bytes),
            full: bytes,
        };
        black_box(matches!(
            scanner.classify(l),
            qtrace_core::scan::Record::Event(_)
        ))
    });
}

/// The matcher alone, without the name lookup.
#[divan::bench(args = EVENTS)]
fn match_format(bencher: Bencher, event: &(&str, &str)) {
    let catalog = Catalog::builtin();
    let (name, message) = (event.0.as_bytes(), event.1.as_bytes());
    let mut scratch: Vec<Slot> = Vec::new();
    let mut first: Vec<Slot> = Vec::new();
    let spec = catalog
        .decode(name, message, &mut first)
        .expect("matches")
        .spec();
    let format = spec.compiled().expect("compiles").format();
    bencher.bench_local(|| black_box(format.match_message(black_box(message), &mut scratch)));
}
