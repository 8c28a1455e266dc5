// gen-data.rs: deterministic generator of large synthetic QEMU trace-event logs
// (the "log" trace backend's text) for benchmarks; run it through scripts/gen-data,
// which compiles it with rustc. Not a workspace crate on purpose: it has no
// dependencies and must not slow down or complicate `cargo build --workspace`.
//
// The output is modelled on the real captures in ../shared/traces/ beside the
// checkout (copies in tests/data; QEMU 7.2, q35, timestamps), chiefly
// D-mixed-q35-ts: the same devices, pointer layout,
// event formats (QEMU's own trace-events format strings), the same sequences of
// events per operation (an AHCI NCQ command, an NVMe read, a key press, a PCI
// probe, ...) and, for `--kind mixed`, about the same share of each event.
// Lines are built from templates with a seeded PRNG (splitmix64); no line of
// the real traces is copied. Same arguments -> same bytes, on any machine.
//
// Usage: gen-data [--size BYTES] [--prefix ts|plain|mixed] [--kind mixed|pci|ps2|dma]
//                 [--seed N] OUTPUT        (OUTPUT '-' = stdout)
// BYTES takes a K, M or G suffix (binary: 1G = 2^30). The output ends at a line
// boundary and is at most BYTES long (it stops before the line that would overflow).

use std::fs::File;
use std::io::{self, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: gen-data [--size BYTES (default 1G; K/M/G suffixes)] \
[--prefix ts|plain|mixed (default mixed)] [--kind mixed|pci|ps2|dma (default mixed)] \
[--seed N (default 1)] OUTPUT";

// ---------------------------------------------------------------- PRNG

/// splitmix64: tiny, fast, and fully specified, so outputs are stable across
/// machines and Rust versions (no std hashing or floating point anywhere).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n < 2^32).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    /// Index into a table of integer weights.
    fn weighted(&mut self, w: &[u32]) -> usize {
        let total: u64 = w.iter().map(|&x| u64::from(x)).sum();
        let mut r = self.below(total);
        for (i, &x) in w.iter().enumerate() {
            if r < u64::from(x) {
                return i;
            }
            r -= u64::from(x);
        }
        w.len() - 1
    }
}

// ---------------------------------------------------------------- model data

/// A PCI function of the q35 machine of D-mixed-q35-ts: QEMU's device name,
/// address, the first 64 bytes of its configuration space (as the guest read
/// them), its capability chain (offset, id) and its BARs (index, address, size).
struct PciDev {
    name: &'static str,
    bus: u8,
    slot: u8,
    func: u8,
    cfg: [u8; 64],
    caps: &'static [(u8, u8)],
    bars: &'static [(u8, u64, u64)],
}

macro_rules! cfg64 {
    ($($b:expr),* $(,)?) => { [$($b),*] };
}

static PCI: &[PciDev] = &[
    PciDev { name: "mch", bus: 0, slot: 0, func: 0, caps: &[], bars: &[],
        cfg: cfg64!(0x86,0x80,0xc0,0x29,0x03,0x01,0,0, 0,0,0,0x06,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
                    0,0,0,0,0,0,0,0, 0,0,0,0,0xf4,0x1a,0,0x11, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0) },
    PciDev { name: "VGA", bus: 0, slot: 1, func: 0, caps: &[],
        bars: &[(0, 0xfd00_0000, 0x100_0000), (2, 0xfea9_8000, 0x1000)],
        cfg: cfg64!(0x34,0x12,0x11,0x11,0x03,0x01,0,0, 0x02,0,0,0x03,0,0,0,0, 0x08,0,0,0xfd,0,0,0,0, 0,0x80,0xa9,0xfe,0,0,0,0,
                    0,0,0,0,0,0,0,0, 0,0,0,0,0xf4,0x1a,0,0x11, 0,0,0xa8,0xfe,0,0,0,0, 0,0,0,0,0,0,0,0) },
    PciDev { name: "e1000e", bus: 0, slot: 2, func: 0, caps: &[(0xc8, 0x01), (0xd0, 0x05), (0xe0, 0x10), (0xa0, 0x11)],
        bars: &[(0, 0xfea4_0000, 0x2_0000), (1, 0xfea6_0000, 0x2_0000), (2, 0xc040, 0x20), (3, 0xfea9_0000, 0x4000)],
        cfg: cfg64!(0x86,0x80,0xd3,0x10,0x03,0x01,0x10,0, 0,0,0,0x02,0,0,0,0, 0,0,0xa4,0xfe,0,0,0xa6,0xfe, 0x41,0xc0,0,0,0,0,0xa9,0xfe,
                    0,0,0,0,0,0,0,0, 0,0,0,0,0x86,0x80,0,0, 0,0,0xa0,0xfe,0xc8,0,0,0, 0,0,0,0,0x0b,0x01,0,0) },
    PciDev { name: "qemu-xhci", bus: 0, slot: 3, func: 0, caps: &[(0x90, 0x11), (0xa0, 0x10)],
        bars: &[(0, 0xfea9_4000, 0x4000)],
        cfg: cfg64!(0x36,0x1b,0x0d,0,0x03,0x01,0x10,0, 0x01,0x30,0x03,0x0c,0,0,0,0, 0x04,0x40,0xa9,0xfe,0,0,0,0, 0,0,0,0,0,0,0,0,
                    0,0,0,0,0,0,0,0, 0,0,0,0,0xf4,0x1a,0,0x11, 0,0,0,0,0x90,0,0,0, 0,0,0,0,0x0b,0x01,0,0) },
    PciDev { name: "pcie-root-port", bus: 0, slot: 0x1c, func: 0, caps: &[(0x54, 0x10), (0x48, 0x11), (0x40, 0x0d)],
        bars: &[(0, 0xfea9_9000, 0x1000)],
        cfg: cfg64!(0x36,0x1b,0x0c,0,0x07,0x05,0x10,0, 0,0,0x04,0x06,0,0,0x81,0, 0,0x90,0xa9,0xfe,0,0,0,0, 0,0x01,0x01,0,0x10,0x10,0,0,
                    0x80,0xfe,0x90,0xfe,0x21,0xfe,0x31,0xfe, 0,0,0,0,0,0,0,0, 0,0,0,0,0x54,0,0,0, 0,0,0,0,0x0a,0x01,0x02,0) },
    PciDev { name: "pcie-root-port", bus: 0, slot: 0x1c, func: 1, caps: &[(0x54, 0x10), (0x48, 0x11), (0x40, 0x0d)],
        bars: &[(0, 0xfea9_a000, 0x1000)],
        cfg: cfg64!(0x36,0x1b,0x0c,0,0x07,0x05,0x10,0, 0,0,0x04,0x06,0,0,0x01,0, 0,0xa0,0xa9,0xfe,0,0,0,0, 0,0x02,0x02,0,0x20,0x20,0,0,
                    0x60,0xfe,0x70,0xfe,0x01,0xfe,0x11,0xfe, 0,0,0,0,0,0,0,0, 0,0,0,0,0x54,0,0,0, 0,0,0,0,0x0a,0x01,0x02,0) },
    PciDev { name: "ICH9-LPC", bus: 0, slot: 0x1f, func: 0, caps: &[], bars: &[],
        cfg: cfg64!(0x86,0x80,0x18,0x29,0x03,0x01,0,0, 0x02,0,0x01,0x06,0,0,0x80,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
                    0,0,0,0,0,0,0,0, 0,0,0,0,0xf4,0x1a,0,0x11, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0) },
    PciDev { name: "ich9-ahci", bus: 0, slot: 0x1f, func: 2, caps: &[(0x80, 0x05), (0xa8, 0x12)],
        bars: &[(4, 0xc060, 0x20), (5, 0xfea9_b000, 0x1000)],
        cfg: cfg64!(0x86,0x80,0x22,0x29,0x07,0x05,0x10,0, 0x02,0x01,0x06,0x01,0,0,0x80,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
                    0x61,0xc0,0,0,0,0xb0,0xa9,0xfe, 0,0,0,0,0xf4,0x1a,0,0x11, 0,0,0,0,0x80,0,0,0, 0,0,0,0,0x0a,0x01,0,0) },
    PciDev { name: "ICH9-SMB", bus: 0, slot: 0x1f, func: 3, caps: &[], bars: &[(4, 0x700, 0x40)],
        cfg: cfg64!(0x86,0x80,0x30,0x29,0x03,0x01,0,0, 0x02,0,0x05,0x0c,0,0,0x80,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
                    0x01,0x07,0,0,0,0,0,0, 0,0,0,0,0xf4,0x1a,0,0x11, 0,0,0,0,0,0,0,0, 0,0,0,0,0x0a,0x01,0,0) },
    PciDev { name: "nvme", bus: 1, slot: 0, func: 0, caps: &[(0x40, 0x11), (0x80, 0x10), (0x60, 0x01)],
        bars: &[(0, 0xfe80_0000, 0x4000)],
        cfg: cfg64!(0x36,0x1b,0x10,0,0x07,0x05,0x10,0, 0x02,0x02,0x08,0x01,0,0,0,0, 0x04,0,0x80,0xfe,0,0,0,0, 0,0,0,0,0,0,0,0,
                    0,0,0,0,0,0,0,0, 0,0,0,0,0xf4,0x1a,0,0x11, 0,0,0,0,0x40,0,0,0, 0,0,0,0,0x0a,0x01,0,0) },
    PciDev { name: "virtio-blk-pci", bus: 2, slot: 0, func: 0,
        caps: &[(0xdc, 0x11), (0x84, 0x09), (0x70, 0x09), (0x60, 0x09), (0x50, 0x09), (0x40, 0x09)],
        bars: &[(1, 0xfe60_0000, 0x1000), (4, 0xfe00_0000, 0x4000)],
        cfg: cfg64!(0xf4,0x1a,0x42,0x10,0x07,0x05,0x10,0, 0x01,0,0,0x01,0,0,0,0, 0,0,0,0,0,0,0x60,0xfe, 0,0,0,0,0,0,0,0,
                    0x0c,0,0,0xfe,0,0,0,0, 0,0,0,0,0xf4,0x1a,0,0x11, 0,0,0,0,0xdc,0,0,0, 0,0,0,0,0x0a,0x01,0,0) },
];

/// (QKeyCode index, scancode set 2, scancode set 1) for the keys typed.
static KEYS: &[(u8, u8, u8)] = &[
    (9, 0x16, 0x02), (10, 0x1e, 0x03), (11, 0x26, 0x04), (12, 0x25, 0x05), (13, 0x2e, 0x06),
    (14, 0x36, 0x07), (15, 0x3d, 0x08), (16, 0x3e, 0x09), (17, 0x46, 0x0a), (18, 0x45, 0x0b),
    (19, 0x4e, 0x0c), (20, 0x55, 0x0d), (21, 0x66, 0x0e), (22, 0x0d, 0x0f),
    (23, 0x15, 0x10), (24, 0x1d, 0x11), (25, 0x24, 0x12), (26, 0x2d, 0x13), (27, 0x2c, 0x14),
    (28, 0x35, 0x15), (29, 0x3c, 0x16), (30, 0x43, 0x17), (31, 0x44, 0x18), (32, 0x4d, 0x19),
    (33, 0x54, 0x1a), (34, 0x5b, 0x1b), (35, 0x5a, 0x1c),
    (36, 0x1c, 0x1e), (37, 0x1b, 0x1f), (38, 0x23, 0x20), (39, 0x2b, 0x21), (40, 0x34, 0x22),
    (41, 0x33, 0x23), (42, 0x3b, 0x24), (43, 0x42, 0x25), (44, 0x4b, 0x26), (45, 0x4c, 0x27),
    (46, 0x52, 0x28), (47, 0x0e, 0x29), (48, 0x5d, 0x2b),
    (49, 0x1a, 0x2c), (50, 0x22, 0x2d), (51, 0x21, 0x2e), (52, 0x2a, 0x2f), (53, 0x32, 0x30),
    (54, 0x31, 0x31), (55, 0x3a, 0x32), (56, 0x41, 0x33), (57, 0x49, 0x34), (58, 0x4a, 0x35),
    (60, 0x29, 0x39),
];
/// Letters and space are typed far more often than the rest.
const KEY_SPACE: usize = 50;
const KEY_RET: usize = 26;

/// Guest console / QEMU messages: the lines of a log that are not trace events.
/// None starts with an identifier-with-underscore followed by a space, so every
/// reader agrees they are not events.
static KERNEL_MSGS: &[&str] = &[
    "ata1: SATA link up 1.5 Gbps (SStatus 113 SControl 300)",
    "ata1.00: configured for UDMA/100",
    "sd 0:0:0:0: [sda] Write cache: enabled, read cache: enabled, doesn't support DPO or FUA",
    "nvme nvme0: 1/0/0 default/read/poll queues",
    "virtio_blk virtio1: [vda] 131072 512-byte logical blocks (67.1 MB/64.0 MiB)",
    "EXT2-fs (sda): warning: mounting unchecked fs, running e2fsck is recommended",
    "random: crng init done",
    "input: AT Translated Set 2 keyboard as /devices/platform/i8042/serio0/input/input1",
    "e1000e 0000:00:02.0 eth0: (PCI Express:2.5GT/s:Width x1) 52:54:00:12:34:56",
    "pcieport 0000:00:1c.0: PME: Signaling with IRQ 24",
    "xhci_hcd 0000:00:03.0: xHCI Host Controller",
    "Freeing unused kernel image (initmem) memory: 2756K",
];
static QEMU_WARNINGS: &[&str] = &[
    "warning: TCG doesn't support requested feature: CPUID.01H:ECX.vmx [bit 5]",
    "warning: host doesn't support requested feature: CPUID.80000001H:ECX.svm [bit 2]",
    "terminating on signal 15 from pid 4242 (timeout)",
];

// ---------------------------------------------------------------- generator

#[derive(Clone, Copy, PartialEq)]
enum Prefix {
    Ts,
    Plain,
    Mixed,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Mixed,
    Pci,
    Ps2,
    Dma,
}

#[derive(Clone, Copy)]
enum Th {
    Main,
    Vcpu,
}

#[derive(Clone, Copy)]
enum Ep {
    Ahci,
    AhciMisc,
    Nvme,
    NvmeAdmin,
    Virtio,
    Pci,
    Ps2,
    Ide,
    Scsi,
}

struct Ptrs {
    ahci: u64,
    sata: [u64; 3], // blk, bs (format node), bs (file node)
    nvm: [u64; 3],
    vd: [u64; 3],
    scsi: [u64; 2],
    ide: [u64; 2],  // bus, state
    vdev: u64,
    vreq: [u64; 8],
    kbd: u64,
    mouse: u64,
    nvme_dbs: u64,
    cb_ahci: u64,
    cb_nvme: u64,
    cb_ide: u64,
    dbs_hi: u64, // thread-heap base of the DMA state objects
}

struct Gen {
    rng: Rng,
    out: Box<dyn Write>,
    buf: Vec<u8>,
    written: u64,
    limit: u64,
    done: bool,
    start: usize, // where the line being written starts in buf
    t: u64,       // host clock, microseconds since the epoch
    ktime: u64,   // guest kernel clock, microseconds since boot
    prefix: Prefix,
    ts: bool,     // current lines carry TID@SEC.USEC:
    seg_left: u64,
    tid_main: u32,
    tid_vcpu: u32,
    dma_only: bool,
    p: Ptrs,
    ncq_tag: u32,
    sata_next: u64,
    nvme_gen: u32,
    nvme_tag: u32,
    nvme_tail: u32,
    nvme_admin_tail: u32,
    vd_next: u64,
    scsi_tag: u32,
    modifiers: u32,
}

/// Emits one event line: `ev!(self, thread, microseconds since the previous
/// line, "name", "format", args...)`. Written in two steps (begin, then the
/// arguments straight into the buffer) so the arguments may borrow `self`.
macro_rules! ev {
    ($g:expr, $th:expr, $dt:expr, $name:expr, $($fmt:tt)*) => {{
        let dt = $dt;
        if $g.begin($th, dt, $name) {
            let _ = write!($g.buf, $($fmt)*);
            $g.end();
        }
    }};
}

/// The events a C-style capture (`-d trace:dma_blk_io,...`) records.
fn is_dma_event(name: &str) -> bool {
    name.starts_with("dma_")
        || name.starts_with("ide_")
        || name.starts_with("blk_")
        || name.starts_with("virtio_blk_")
        || name.starts_with("scsi_")
        || matches!(
            name,
            "process_ncq_command"
                | "execute_ncq_command_read"
                | "ncq_finish"
                | "pci_nvme_read"
                | "pci_nvme_write"
                | "pci_nvme_rw_cb"
                | "pci_nvme_rw_complete_cb"
                | "pci_nvme_io_cmd"
        )
}

impl Gen {
    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Keeps the line that starts at `start` if it fits in the size limit.
    fn commit(&mut self, start: usize) {
        if self.written + self.buf.len() as u64 > self.limit {
            self.buf.truncate(start);
            self.done = true;
        } else if self.buf.len() >= 1 << 20 {
            let n = self.buf.len() as u64;
            if let Err(e) = self.flush() {
                eprintln!("gen-data: write error: {e}");
                std::process::exit(1);
            }
            self.written += n;
        }
    }

    fn tid(&self, th: Th) -> u32 {
        match th {
            Th::Main => self.tid_main,
            Th::Vcpu => self.tid_vcpu,
        }
    }

    /// Starts an event line (prefix and name); false if it is not to be written.
    fn begin(&mut self, th: Th, dt: u64, name: &'static str) -> bool {
        if self.done || (self.dma_only && !is_dma_event(name)) {
            return false;
        }
        self.t += dt;
        self.ktime += dt;
        if self.rng.below(200) == 0 {
            self.other_line();
            if self.done {
                return false;
            }
        }
        self.start = self.buf.len();
        if self.ts {
            let tid = self.tid(th);
            let _ = write!(self.buf, "{}@{}.{:06}:", tid, self.t / 1_000_000, self.t % 1_000_000);
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(b' ');
        true
    }

    fn end(&mut self) {
        self.buf.push(b'\n');
        self.commit(self.start);
        if self.prefix == Prefix::Mixed && !self.done {
            self.seg_left -= 1;
            if self.seg_left == 0 {
                self.new_run();
            }
        }
    }

    /// A line that is not a trace event: guest console output or a QEMU message.
    fn other_line(&mut self) {
        let start = self.buf.len();
        let k = self.ktime;
        match self.rng.below(10) {
            0..=4 => {
                let m = KERNEL_MSGS[self.rng.below(KERNEL_MSGS.len() as u64) as usize];
                let _ = writeln!(self.buf, "[{:5}.{:06}] {}", k / 1_000_000 % 100_000, k % 1_000_000, m);
            }
            5 => {
                let n = 1 << self.rng.range(0, 8);
                let _ = writeln!(self.buf, "{n}+0 records in");
            }
            6 => {
                // busybox dd's summary; integer maths only (tenths of MB/s).
                let n: u64 = 1 << self.rng.range(0, 8);
                let us = self.rng.range(150, 9000);
                let tenths = n * 4096 * 10 / us;
                let _ = writeln!(
                    self.buf,
                    "{} bytes ({}.0KB) copied, 0.{:06} seconds, {}.{}MB/s",
                    n * 4096,
                    n * 4,
                    us,
                    tenths / 10,
                    tenths % 10
                );
            }
            7 => {
                let disk = ["sda", "nvme0n1", "vda"][self.rng.below(3) as usize];
                let skip = self.rng.below(16000);
                let _ = writeln!(self.buf, "/ # dd if=/dev/{disk} of=/dev/null bs=4096 skip={skip} count=8 iflag=direct");
            }
            _ => {
                if self.ts {
                    // -msg timestamp=on also stamps QEMU's own messages (ISO 8601, UTC).
                    let s = self.t / 1_000_000;
                    let (d, hms) = (s / 86400, s % 86400);
                    let (y, mo, da) = civil_from_days(d as i64);
                    let _ = write!(
                        self.buf,
                        "{y:04}-{mo:02}-{da:02}T{:02}:{:02}:{:02}.{:06}Z ",
                        hms / 3600,
                        hms / 60 % 60,
                        hms % 60,
                        self.t % 1_000_000
                    );
                }
                let w = QEMU_WARNINGS[self.rng.below(QEMU_WARNINGS.len() as u64) as usize];
                let _ = writeln!(self.buf, "qemu-system-x86_64: {w}");
            }
        }
        self.commit(start);
    }

    /// Starts a new QEMU run (a new segment in `--prefix mixed`): new thread ids,
    /// the other prefix style, and the device resets QEMU traces at start-up.
    fn new_run(&mut self) {
        if self.prefix == Prefix::Mixed {
            self.ts = !self.ts;
            self.seg_left = self.rng.range(20_000, 200_000);
        }
        self.tid_main = self.rng.range(1_000, 60_000) as u32;
        self.tid_vcpu = self.tid_main + 4;
        self.t += self.rng.range(5_000_000, 600_000_000);
        self.ktime = 0;
        self.prologue();
    }

    fn prologue(&mut self) {
        let m = Th::Main;
        for d in [self.p.sata, self.p.nvm, self.p.vd] {
            let child = d[0] - 0x9a30;
            ev!(self, m, 9, "blk_root_attach", "child {:#x} blk {:#x} bs {:#x}", child, d[0] + 0xcfe0, d[2]);
            ev!(self, m, 8, "blk_root_detach", "child {:#x} blk {:#x} bs {:#x}", child, d[0] + 0xcfe0, d[2]);
            ev!(self, m, 4, "blk_root_attach", "child {:#x} blk {:#x} bs {:#x}", child, d[0], d[1]);
        }
        let ide0 = self.p.ide[1];
        for i in 0..12u64 {
            ev!(self, m, self.rng.range(50, 90), "ide_reset", "IDEstate {:#x}", ide0 + (i / 2) * 0x13f0 + (i % 2) * 0x3d8);
        }
        ev!(self, m, 3600, "ps2_mouse_reset", "{:#x}", self.p.mouse);
        ev!(self, m, 5, "ps2_kbd_reset", "{:#x}", self.p.kbd);
        ev!(self, m, 23, "pci_nvme_pci_reset", "PCI Function Level Reset");
        let a = self.p.ahci;
        ev!(self, m, 24, "ahci_reset", "ahci({a:#x}): HBA reset");
        for port in 0..6u64 {
            ev!(self, m, 2, "ahci_reset_port", "ahci({a:#x})[{port}]: reset port");
            ev!(self, m, 2, "ide_reset", "IDEstate {:#x}", ide0 + port * 0x13f0);
            ev!(self, m, 1, "ide_reset", "IDEstate {:#x}", ide0 + port * 0x13f0 + 0x3d8);
            if port == 0 {
                ev!(self, m, 2, "ahci_set_signature",
                    "ahci({a:#x})[0]: set signature sector:0x01 nsector:0x01 lcyl:0x00 hcyl:0x00 (cumulatively: 0x00000101)");
            }
        }
    }

    /// A DMA-state object address on a worker thread's heap.
    fn dbs(&mut self) -> u64 {
        self.p.dbs_hi + (self.rng.below(0x3ff_ffff) << 4)
    }

    fn blk_rw(&mut self, th: Th, d: [u64; 3], write: bool, off: u64, bytes: u64, flags: u32) {
        let (b, p) = if write {
            ("blk_co_pwritev", "bdrv_co_pwritev_part")
        } else {
            ("blk_co_preadv", "bdrv_co_preadv_part")
        };
        ev!(self, th, self.rng.range(1, 8), b, "blk {:#x} bs {:#x} offset {} bytes {} flags {:#x}", d[0], d[1], off, bytes, flags);
        ev!(self, th, self.rng.range(1, 6), p, "bs {:#x} offset {} bytes {} flags {:#x}", d[1], off, bytes, flags);
        ev!(self, th, self.rng.range(1, 6), p, "bs {:#x} offset {} bytes {} flags {:#x}", d[2], off, bytes, flags);
    }

    fn sectors(&mut self) -> u64 {
        const S: [u64; 10] = [1, 8, 16, 24, 32, 64, 96, 128, 176, 256];
        const W: [u32; 10] = [3, 46, 14, 6, 9, 8, 4, 5, 2, 3];
        S[self.rng.weighted(&W)]
    }

    /// An AHCI batch: 1..6 NCQ commands issued by the guest, their completions,
    /// then the guest's interrupt handler (PxIS/IS acknowledgement).
    fn ahci(&mut self) {
        let (v, m, a) = (Th::Vcpu, Th::Main, self.p.ahci);
        let n = match self.rng.below(100) {
            0..=81 => 1,
            82..=93 => 2,
            _ => self.rng.range(3, 6) as usize,
        };
        let mut cmds = [(0u32, 0u64); 6];
        for c in cmds.iter_mut().take(n) {
            let tag = self.ncq_tag;
            self.ncq_tag = (self.ncq_tag + 1) % 32;
            let write = self.rng.pct(28);
            let cnt = self.sectors().max(8);
            let lba = if self.rng.pct(60) && self.sata_next + cnt < 262_144 {
                self.sata_next
            } else {
                self.rng.below(262_144 / 8 - 64) * 8
            };
            self.sata_next = lba + cnt;
            let dbs = self.dbs();
            *c = (tag, dbs);
            let bit = 1u32 << tag;
            ev!(self, v, self.rng.range(10, 400), "ahci_mem_write", "ahci({a:#x}): write4 @ 0x134: 0x{:016x}", bit);
            ev!(self, v, self.rng.range(1, 3), "ahci_port_write", "ahci({a:#x})[0]: port write [reg:PxSACT] @ 0x34: 0x{:08x}", bit);
            ev!(self, v, 1, "ahci_mem_write", "ahci({a:#x}): write4 @ 0x138: 0x{:016x}", bit);
            ev!(self, v, 1, "ahci_port_write", "ahci({a:#x})[0]: port write [reg:PxCI] @ 0x38: 0x{:08x}", bit);
            ev!(self, v, self.rng.range(1, 5), "ahci_populate_sglist", "ahci({a:#x})[0]");
            let op = if write { 0x61 } else { 0x60 };
            ev!(self, v, 1, "process_ncq_command", "ahci({a:#x})[0][tag:{tag}]: NCQ op 0x{op:02x} on sectors [{},{}]", lba, lba + cnt - 1);
            ev!(self, v, self.rng.range(1, 4), "execute_ncq_command_read", "ahci({a:#x})[0][tag:{tag}]: NCQ reading {cnt} sectors from LBA {lba}");
            ev!(self, v, self.rng.range(1, 4), "dma_blk_io", "dbs={dbs:#x} bs={:#x} offset={} to_dev={}", self.p.sata[0], lba * 512, write as u8);
            ev!(self, v, self.rng.range(1, 3), "dma_blk_cb", "dbs={dbs:#x} ret=0");
            self.blk_rw(v, self.p.sata, write, lba * 512, cnt * 512, 0);
        }
        let (mut irqstat, mut chk) = (0, 0);
        for i in (0..n).rev() {
            let (tag, dbs) = cmds[i];
            let dt = if i == n - 1 { self.rng.range(40, 900) } else { self.rng.range(2, 8) };
            ev!(self, m, dt, "dma_blk_cb", "dbs={dbs:#x} ret=0");
            ev!(self, m, self.rng.range(1, 5), "dma_complete", "dbs={dbs:#x} ret=0 cb={:#x}", self.p.cb_ahci);
            ev!(self, m, self.rng.range(1, 3), "ahci_trigger_irq",
                "ahci({a:#x})[0]: trigger irq +SDBS (0x00000008); irqstat: 0x{irqstat:08x} --> 0x00000008; effective: 0x00000008");
            ev!(self, m, 1, "ahci_check_irq", "ahci({a:#x}): check irq 0x{chk:08x} --> 0x00000001");
            ev!(self, m, self.rng.range(1, 3), "ahci_irq_raise", "ahci({a:#x}): raise irq");
            ev!(self, m, self.rng.range(1, 17), "ncq_finish", "ahci({a:#x})[0][tag:{tag}]: NCQ transfer finished");
            irqstat = 8;
            chk = 1;
        }
        ev!(self, v, self.rng.range(30, 200), "ahci_mem_read_32_host", "ahci({a:#x}): mem read [reg:IS] @ 0x8: 0x00000001");
        ev!(self, v, 2, "ahci_mem_read_32", "ahci({a:#x}): mem read @ 0x8: 0x00000001");
        ev!(self, v, 2, "ahci_mem_read", "ahci({a:#x}): read4 @ 0x8: 0x0000000000000001");
        ev!(self, v, 2, "ahci_port_read", "ahci({a:#x})[0]: port read [reg:PxIS] @ 0x10: 0x00000008");
        ev!(self, v, 2, "ahci_mem_read_32", "ahci({a:#x}): mem read @ 0x110: 0x00000008");
        ev!(self, v, 1, "ahci_mem_read", "ahci({a:#x}): read4 @ 0x110: 0x0000000000000008");
        ev!(self, v, 1, "ahci_mem_write", "ahci({a:#x}): write4 @ 0x110: 0x0000000000000008");
        ev!(self, v, 1, "ahci_port_write", "ahci({a:#x})[0]: port write [reg:PxIS] @ 0x10: 0x00000008");
        ev!(self, v, 1, "ahci_check_irq", "ahci({a:#x}): check irq 0x00000001 --> 0x00000000");
        ev!(self, v, 2, "ahci_irq_lower", "ahci({a:#x}): lower irq");
        ev!(self, v, 1, "ahci_port_read", "ahci({a:#x})[0]: port read [reg:PxSACT] @ 0x34: 0x00000000");
        ev!(self, v, 1, "ahci_mem_read_32", "ahci({a:#x}): mem read @ 0x134: 0x00000000");
        ev!(self, v, 1, "ahci_mem_read", "ahci({a:#x}): read4 @ 0x134: 0x0000000000000000");
        ev!(self, v, self.rng.range(60, 300), "ahci_mem_write", "ahci({a:#x}): write4 @ 0x8: 0x0000000000000001");
        ev!(self, v, 2, "ahci_check_irq", "ahci({a:#x}): check irq 0x00000000 --> 0x00000000");
        ev!(self, v, 1, "ahci_irq_lower", "ahci({a:#x}): lower irq");
        ev!(self, v, 1, "ahci_mem_write_host", "ahci({a:#x}) write4 [reg:IS] @ 0x8: 0x0000000000000001");
    }

    /// A non-NCQ ATA command through AHCI (IDENTIFY, FLUSH CACHE, ...).
    fn ahci_misc(&mut self) {
        let (v, a) = (Th::Vcpu, self.p.ahci);
        let (bus, st) = (self.p.ahci + 0x1868, self.p.ahci + 0x18f0);
        ev!(self, v, self.rng.range(100, 5000), "ahci_port_write", "ahci({a:#x})[0]: port write [reg:PxCI] @ 0x38: 0x00000001");
        let cmd = [0xe7u32, 0xec, 0xea, 0xef, 0xb0][self.rng.below(5) as usize];
        ev!(self, v, 3, "ide_exec_cmd", "IDE exec cmd: bus {bus:#x}; state {st:#x}; cmd 0x{cmd:02x}");
        if cmd == 0xec || cmd == 0xb0 {
            ev!(self, v, 2, "ahci_populate_sglist", "ahci({a:#x})[0]");
            ev!(self, v, 2, "ahci_dma_prepare_buf", "ahci({a:#x})[0]: prepare buf limit=512 prepared=512");
            ev!(self, v, 2, "ahci_pio_transfer", "ahci({a:#x})[0]: reading 512 bytes on ata w/ sglist");
        }
        ev!(self, v, self.rng.range(2, 60), "ahci_cmd_done", "ahci({a:#x})[0]: cmd done");
        ev!(self, v, 2, "ahci_trigger_irq",
            "ahci({a:#x})[0]: trigger irq +DHRS (0x00000001); irqstat: 0x00000000 --> 0x00000001; effective: 0x00000001");
        ev!(self, v, 1, "ahci_check_irq", "ahci({a:#x}): check irq 0x00000000 --> 0x00000001");
        ev!(self, v, 1, "ahci_irq_raise", "ahci({a:#x}): raise irq");
    }

    /// One NVMe I/O command: doorbell, PRP mapping, block layer, completion, MSI-X.
    fn nvme(&mut self) {
        let (v, m) = (Th::Vcpu, Th::Main);
        let write = self.rng.pct(45);
        const B: [u64; 7] = [512, 4096, 8192, 16384, 32768, 65536, 131072];
        const W: [u32; 7] = [2, 48, 15, 15, 10, 5, 5];
        let bytes = B[self.rng.weighted(&W)];
        let nlb = bytes / 512;
        let lba = self.rng.below(131_072 / 8 - 256) * 8;
        self.nvme_tag = (self.nvme_tag + 1) % 64;
        if self.nvme_tag == 0 {
            self.nvme_gen = (self.nvme_gen + 1) % 16;
        }
        let cid = (self.nvme_gen << 12) | self.nvme_tag;
        self.nvme_tail = (self.nvme_tail + 1) % 1024;
        let tail = self.nvme_tail;
        ev!(self, v, self.rng.range(200, 40_000), "pci_nvme_mmio_write", "addr 0x1008 data {tail:#x} size 4");
        ev!(self, v, self.rng.range(2, 30), "pci_nvme_mmio_doorbell_sq", "sqid 1 new_tail {tail}");
        ev!(self, m, self.rng.range(20, 80), "pci_nvme_shadow_doorbell_sq", "sqid 1 new_shadow_doorbell {tail}");
        let (opc, opname) = if write { (1, "NVME_NVM_CMD_WRITE") } else { (2, "NVME_NVM_CMD_READ") };
        ev!(self, m, self.rng.range(3, 9), "pci_nvme_io_cmd", "cid {cid} nsid 0x1 sqid 1 opc {opc:#x} opname '{opname}'");
        if write {
            ev!(self, m, 4, "pci_nvme_write", "cid {cid} opname 'NVME_NVM_CMD_WRITE' nsid 1 nlb {nlb} count {bytes} lba {lba:#x}");
        } else {
            ev!(self, m, 4, "pci_nvme_read", "cid {cid} nsid 1 nlb {nlb} count {bytes} lba {lba:#x}");
        }
        let pages = bytes.div_ceil(4096);
        let page = |r: &mut Rng| {
            if r.pct(50) { 0x1f30_0000 + (r.below(0x100) << 12) } else { 0x3290_0000 + (r.below(0x400) << 12) }
        };
        let prp1 = page(&mut self.rng);
        let prp2 = match pages {
            1 => 0,
            2 => page(&mut self.rng),
            _ => 0x1260_0000 + (self.rng.below(0x800) << 12),
        };
        let trans = bytes.min(4096);
        ev!(self, m, 2, "pci_nvme_map_prp", "trans_len {trans} len {bytes} prp1 {prp1:#x} prp2 {prp2:#x} num_prps {}", pages + 1);
        ev!(self, m, 3, "pci_nvme_map_addr", "addr {prp1:#x} len {trans}");
        for i in 1..pages {
            let a = if i == 1 && pages == 2 { prp2 } else { page(&mut self.rng) };
            ev!(self, m, 1, "pci_nvme_map_addr", "addr {a:#x} len 4096");
        }
        let dbs = self.p.nvme_dbs;
        ev!(self, m, self.rng.range(5, 2600), "dma_blk_io", "dbs={dbs:#x} bs={:#x} offset={} to_dev={}", self.p.nvm[0], lba * 512, write as u8);
        ev!(self, m, self.rng.range(3, 10), "dma_blk_cb", "dbs={dbs:#x} ret=0");
        self.blk_rw(m, self.p.nvm, write, lba * 512, bytes, 0);
        ev!(self, m, self.rng.range(20, 100), "pci_nvme_eventidx_sq", "sqid 1 new_eventidx {tail}");
        ev!(self, m, 2, "pci_nvme_shadow_doorbell_sq", "sqid 1 new_shadow_doorbell {tail}");
        ev!(self, m, self.rng.range(10, 300), "dma_blk_cb", "dbs={dbs:#x} ret=0");
        ev!(self, m, 1, "dma_complete", "dbs={dbs:#x} ret=0 cb={:#x}", self.p.cb_nvme);
        ev!(self, m, self.rng.range(2, 30), "pci_nvme_rw_cb", "cid {cid} blk 'nvm0'");
        ev!(self, m, 2, "pci_nvme_rw_complete_cb", "cid {cid} blk 'nvm0'");
        ev!(self, m, 2, "pci_nvme_enqueue_req_completion", "cid {cid} cqid 1 dw0 0x0 dw1 0x0 status 0x0");
        let head = (tail + 1023) % 1024;
        ev!(self, m, self.rng.range(3, 7), "pci_nvme_shadow_doorbell_cq", "cqid 1 new_shadow_doorbell {head}");
        ev!(self, m, 2, "pci_nvme_irq_msix", "raising MSI-X IRQ vector 1");
        ev!(self, v, self.rng.range(50, 400), "pci_nvme_mmio_write", "addr 0x100c data {tail:#x} size 4");
        ev!(self, v, self.rng.range(2, 8), "pci_nvme_mmio_doorbell_cq", "cqid 1 new_head {tail}");
    }

    /// One NVMe admin command (Identify), completed through the pin interrupt.
    fn nvme_admin(&mut self) {
        let (v, m) = (Th::Vcpu, Th::Main);
        self.nvme_admin_tail = (self.nvme_admin_tail + 1) % 32;
        let tail = self.nvme_admin_tail;
        let cid = self.rng.below(32);
        if self.rng.pct(12) {
            ev!(self, v, self.rng.range(200, 40_000), "pci_nvme_mmio_read", "addr 0x1c size 4");
        }
        ev!(self, v, self.rng.range(200, 40_000), "pci_nvme_mmio_write", "addr 0x1000 data {tail:#x} size 4");
        ev!(self, v, self.rng.range(2, 30), "pci_nvme_mmio_doorbell_sq", "sqid 0 new_tail {tail}");
        ev!(self, m, self.rng.range(20, 80), "pci_nvme_admin_cmd", "cid {cid} sqid 0 opc 0x6 opname 'NVME_ADM_CMD_IDENTIFY'");
        let (cns, ns) = if self.rng.pct(95) { (0, true) } else { (1, false) };
        ev!(self, m, self.rng.range(3, 15), "pci_nvme_identify", "cid {cid} cns {cns:#x} ctrlid 0 csi 0x0");
        if ns {
            ev!(self, m, 3, "pci_nvme_identify_ns", "nsid 1");
        } else {
            ev!(self, m, 3, "pci_nvme_identify_ctrl", "identify controller");
        }
        let prp1 = 0x1ef0_0000 + (self.rng.below(0x100) << 12);
        ev!(self, m, 2, "pci_nvme_map_prp", "trans_len 4096 len 4096 prp1 {prp1:#x} prp2 0x0 num_prps 2");
        ev!(self, m, 3, "pci_nvme_map_addr", "addr {prp1:#x} len 4096");
        ev!(self, m, 4, "pci_nvme_enqueue_req_completion", "cid {cid} cqid 0 dw0 0x0 dw1 0x0 status 0x0");
        ev!(self, m, self.rng.range(10, 30), "pci_nvme_irq_pin", "pulsing IRQ pin");
        ev!(self, v, self.rng.range(50, 400), "pci_nvme_mmio_write", "addr 0x1004 data {tail:#x} size 4");
        ev!(self, v, self.rng.range(2, 8), "pci_nvme_mmio_doorbell_cq", "cqid 0 new_head {tail}");
    }

    /// One virtio-blk request, handled in the main loop.
    fn virtio(&mut self) {
        let m = Th::Main;
        let write = self.rng.pct(40);
        let n = self.sectors();
        let sector = if self.rng.pct(50) && self.vd_next + n < 131_072 {
            self.vd_next
        } else {
            self.rng.below(131_072 - 256)
        };
        self.vd_next = sector + n;
        let req = self.p.vreq[self.rng.below(8) as usize];
        let vdev = self.p.vdev;
        let name = if write { "virtio_blk_handle_write" } else { "virtio_blk_handle_read" };
        ev!(self, m, self.rng.range(300, 40_000), name, "vdev {vdev:#x} req {req:#x} sector {sector} nsectors {n}");
        self.blk_rw(m, self.p.vd, write, sector * 512, n * 512, 8);
        ev!(self, m, self.rng.range(40, 120), "virtio_blk_rw_complete", "vdev {vdev:#x} req {req:#x} ret 0");
        ev!(self, m, self.rng.range(2, 6), "virtio_blk_req_complete", "vdev {vdev:#x} req {req:#x} status 0");
    }

    /// Legacy IDE bus-master DMA (ata_piix): READ/WRITE DMA.
    fn ide(&mut self) {
        let (v, m) = (Th::Vcpu, Th::Main);
        let write = self.rng.pct(35);
        let n = self.sectors();
        let sector = self.rng.below(262_144 - 256);
        let [bus, st] = self.p.ide;
        let cmd = if write { 0xca } else { 0xc8 };
        ev!(self, v, self.rng.range(300, 30_000), "ide_exec_cmd", "IDE exec cmd: bus {bus:#x}; state {st:#x}; cmd 0x{cmd:02x}");
        let dma = if write { "DMA WRITE" } else { "DMA READ" };
        ev!(self, v, self.rng.range(4, 40), "ide_dma_cb", "IDEState {st:#x}; sector_num={sector} n={n} cmd={dma}");
        let dbs = self.dbs();
        ev!(self, v, self.rng.range(2, 8), "dma_blk_io", "dbs={dbs:#x} bs={:#x} offset={} to_dev={}", self.p.sata[0], sector * 512, write as u8);
        ev!(self, v, 2, "dma_blk_cb", "dbs={dbs:#x} ret=0");
        let b = if write { "blk_co_pwritev" } else { "blk_co_preadv" };
        ev!(self, v, self.rng.range(5, 50), b, "blk {:#x} bs {:#x} offset {} bytes {} flags 0x0", self.p.sata[0], self.p.sata[1], sector * 512, n * 512);
        ev!(self, m, self.rng.range(30, 400), "dma_blk_cb", "dbs={dbs:#x} ret=0");
        ev!(self, m, 2, "dma_complete", "dbs={dbs:#x} ret=0 cb={:#x}", self.p.cb_ide);
    }

    /// A few SCSI READ(10)/WRITE(10) commands to an LSI 53C895A disk.
    fn scsi(&mut self) {
        let v = Th::Vcpu;
        let write = self.rng.pct(25);
        let mut lba = self.rng.below(131_072 - 512);
        for _ in 0..self.rng.range(1, 4) {
            let n = self.sectors();
            self.scsi_tag = (self.scsi_tag + 2) % 0x1_0000;
            let (cmd, name) = if write { (42, "scsi_disk_dma_command_WRITE") } else { (40, "scsi_disk_dma_command_READ") };
            ev!(self, v, self.rng.range(100, 20_000), "scsi_req_parsed_lba", "target 0 lun 0 tag {} command {cmd} lba {lba}", 65_536 + self.scsi_tag);
            if write {
                ev!(self, v, 5, name, "Write (sector {lba}, count {n})");
            } else {
                ev!(self, v, 5, name, "Read (sector {lba}, count {n})");
            }
            let b = if write { "blk_co_pwritev" } else { "blk_co_preadv" };
            ev!(self, v, self.rng.range(10, 60), b, "blk {:#x} bs {:#x} offset {} bytes {} flags 0x0", self.p.scsi[0], self.p.scsi[1], lba * 512, n * 512);
            lba += n;
        }
    }

    // ------------------------------------------------------------ PCI

    fn cfg_val(d: &PciDev, off: u32, w: u32) -> u32 {
        let mut v = 0u32;
        for i in 0..w {
            let o = off + i;
            let b = if o < 64 {
                d.cfg[o as usize]
            } else if let Some(k) = d.caps.iter().position(|&(c, _)| u32::from(c) == o) {
                d.caps[k].1
            } else if let Some(k) = d.caps.iter().position(|&(c, _)| u32::from(c) + 1 == o) {
                d.caps.get(k + 1).map_or(0, |c| c.0)
            } else {
                // The rest of a capability: small, stable, plausible register bits.
                let h = (o.wrapping_mul(0x9e37_79b1) ^ u32::from(d.slot) << 3 ^ u32::from(d.func)) >> 27;
                if h < 20 { 0 } else { (h as u8) << 3 | (o as u8 & 7) }
            };
            v |= u32::from(b) << (8 * i);
        }
        v
    }

    fn cfg_read(&mut self, d: &PciDev, off: u32, w: u32) {
        let val = Self::cfg_val(d, off, w);
        let dt = self.rng.range(20, 60);
        ev!(self, Th::Vcpu, dt, "pci_cfg_read", "{} {:02x}:{:02x}.{:x} @{off:#x} -> {val:#x}", d.name, d.bus, d.slot, d.func);
    }

    fn cfg_write(&mut self, d: &PciDev, off: u32, val: u32) {
        let dt = self.rng.range(20, 60);
        ev!(self, Th::Vcpu, dt, "pci_cfg_write", "{} {:02x}:{:02x}.{:x} @{off:#x} <- {val:#x}", d.name, d.bus, d.slot, d.func);
    }

    fn mappings(&mut self, d: &PciDev, add: bool) {
        let name = if add { "pci_update_mappings_add" } else { "pci_update_mappings_del" };
        for &(bar, addr, size) in d.bars {
            ev!(self, Th::Vcpu, 3, name, "{} {:02x}:{:02x}.{:x} {bar},{addr:#x}+{size:#x}", d.name, d.bus, d.slot, d.func);
        }
    }

    /// One PCI function: a Linux-style probe with BAR sizing, a config dump
    /// (lspci / sysfs), a driver enabling it, or a bridge's bus numbers.
    fn pci(&mut self) {
        let d = &PCI[self.rng.below(PCI.len() as u64) as usize];
        self.t += self.rng.range(100, 20_000);
        let bridge = d.cfg[0xa] == 0x04 && d.cfg[0xb] == 0x06;
        match self.rng.below(if bridge { 10 } else { 9 }) {
            0..=3 => {
                self.cfg_read(d, 0x0, 4);
                self.cfg_read(d, 0xe, 1);
                self.cfg_read(d, 0x8, 4);
                self.cfg_read(d, 0x6, 2);
                if !d.caps.is_empty() {
                    self.cfg_read(d, 0x34, 1);
                    for &(c, _) in d.caps {
                        self.cfg_read(d, u32::from(c), 2);
                    }
                }
                self.cfg_read(d, 0x3d, 1);
                self.cfg_read(d, 0x3c, 1);
                let cmd = Self::cfg_val(d, 0x4, 2);
                if !d.bars.is_empty() {
                    self.cfg_read(d, 0x4, 2);
                    self.cfg_write(d, 0x4, cmd & !0x3);
                    self.mappings(d, false);
                }
                for &(bar, _, size) in d.bars {
                    let off = 0x10 + 4 * u32::from(bar);
                    let orig = Self::cfg_val(d, off, 4);
                    let mask = !(size as u32 - 1) | (orig & if orig & 1 == 1 { 0x3 } else { 0xf });
                    self.cfg_read(d, off, 4);
                    self.cfg_write(d, off, 0xffff_ffff);
                    let dt = self.rng.range(20, 60);
                    ev!(self, Th::Vcpu, dt, "pci_cfg_read", "{} {:02x}:{:02x}.{:x} @{off:#x} -> {mask:#x}", d.name, d.bus, d.slot, d.func);
                    self.cfg_write(d, off, orig);
                }
                if !d.bars.is_empty() {
                    self.cfg_write(d, 0x4, cmd);
                    self.mappings(d, true);
                }
            }
            4..=6 => {
                for off in (0..64).step_by(4) {
                    self.cfg_read(d, off, 4);
                }
            }
            7..=8 => {
                self.cfg_read(d, 0x4, 2);
                let cmd = Self::cfg_val(d, 0x4, 2);
                self.cfg_write(d, 0x4, cmd | 0x7);
                if let Some(&(c, _)) = d.caps.iter().find(|&&(_, id)| id == 0x11) {
                    self.cfg_read(d, u32::from(c) + 2, 2);
                    self.cfg_write(d, u32::from(c) + 2, 0xc000);
                    ev!(self, Th::Vcpu, 2, "msix_write_config", "dev {} enabled 1 masked 1", d.name);
                    self.cfg_write(d, u32::from(c) + 2, 0x8000);
                    ev!(self, Th::Vcpu, 2, "msix_write_config", "dev {} enabled 1 masked 0", d.name);
                } else if let Some(&(c, _)) = d.caps.iter().find(|&&(_, id)| id == 0x05) {
                    self.cfg_read(d, u32::from(c) + 2, 2);
                    let addr = 0xfee0_0000 | (self.rng.below(4) as u32) << 12;
                    self.cfg_write(d, u32::from(c) + 4, addr);
                    self.cfg_write(d, u32::from(c) + 2, 0x81);
                }
            }
            _ => {
                self.cfg_read(d, 0xa, 2);
                self.cfg_read(d, 0x18, 4);
                let sec = self.rng.range(1, 2) as u32;
                self.cfg_write(d, 0x18, 0x00ff_0000 | sec << 8);
                self.cfg_read(d, 0x19, 1);
                self.cfg_write(d, 0x19, sec);
                self.cfg_read(d, 0x1a, 1);
                self.cfg_write(d, 0x1a, sec);
            }
        }
    }

    // ------------------------------------------------------------ PS/2

    fn kbd_byte(&mut self, status: u32, dev: u64, data: u32) {
        let v = Th::Vcpu;
        ev!(self, v, self.rng.range(80, 400), "pckbd_kbd_read_status", "0x{status:02x}");
        ev!(self, v, self.rng.range(2, 10), "ps2_read_data", "{dev:#x}");
        ev!(self, v, 2, "pckbd_kbd_read_data", "0x{data:02x}");
    }

    /// A key press or release, scancode set 2 translated to set 1 by the i8042.
    fn key(&mut self, k: (u8, u8, u8), down: bool, modifier: u32) {
        let (m, kbd) = (Th::Main, self.p.kbd);
        // QEMU prints the modifier state from before this key.
        let dt = self.rng.range(30_000, 120_000);
        ev!(self, m, dt, "ps2_keyboard_event",
            "{kbd:#x} qcode {} down {} modifier {modifier:#x} modifiers {:#x} set 2 xlate 1", k.0, down as u8, self.modifiers);
        if down {
            self.modifiers |= modifier;
        } else {
            self.modifiers &= !modifier;
        }
        if !down {
            ev!(self, m, self.rng.range(12, 40), "ps2_put_keycode", "{kbd:#x} keycode 0xf0");
        }
        ev!(self, m, self.rng.range(2, 20), "ps2_put_keycode", "{kbd:#x} keycode 0x{:02x}", k.1);
        let data = u32::from(k.2) | if down { 0 } else { 0x80 };
        self.kbd_byte(0x1d, kbd, data);
    }

    fn ps2(&mut self) {
        let (v, kbd, mouse) = (Th::Vcpu, self.p.kbd, self.p.mouse);
        match self.rng.below(20) {
            0..=7 => {
                // a word, then a space or Enter
                for i in 0..=self.rng.range(2, 9) {
                    let last = i > 0 && self.rng.pct(15);
                    let k = if last {
                        KEYS[if self.rng.pct(70) { KEY_SPACE } else { KEY_RET }]
                    } else {
                        KEYS[self.rng.below(KEYS.len() as u64) as usize]
                    };
                    let shift = !last && self.rng.pct(8);
                    if shift {
                        self.key((1, 0x12, 0x2a), true, 0x2);
                    }
                    self.key(k, true, 0);
                    self.key(k, false, 0);
                    if shift {
                        self.key((1, 0x12, 0x2a), false, 0x2);
                    }
                    if last {
                        break;
                    }
                }
            }
            8 => {
                // mouse motion: one 3-byte packet per move
                for _ in 0..self.rng.range(1, 6) {
                    let (x, y) = (self.rng.range(0, 40) as i32 - 20, self.rng.range(0, 40) as i32 - 20);
                    let b = self.rng.below(8) as u32 & if self.rng.pct(90) { 0 } else { 7 };
                    ev!(self, Th::Main, self.rng.range(8_000, 50_000), "ps2_mouse_send_packet",
                        "{mouse:#x} x {x} y {y} z 0 bs {b:#x}");
                    let b0 = 0x08 | b | if x < 0 { 0x10 } else { 0 } | if y < 0 { 0x20 } else { 0 };
                    self.kbd_byte(0x3d, mouse, b0);
                    self.kbd_byte(0x3d, mouse, x as u32 & 0xff);
                    self.kbd_byte(0x3d, mouse, y as u32 & 0xff);
                }
            }
            9..=10 => {
                // keyboard LEDs
                let led = self.rng.below(8) as u32;
                ev!(self, v, self.rng.range(1_000, 90_000), "pckbd_kbd_read_status", "0x1c");
                ev!(self, v, 5, "pckbd_kbd_write_data", "0xed");
                ev!(self, v, 2, "ps2_write_keyboard", "{kbd:#x} val 237");
                self.kbd_byte(0x1d, kbd, 0xfa);
                ev!(self, v, self.rng.range(20, 200), "pckbd_kbd_read_status", "0x1c");
                ev!(self, v, 5, "pckbd_kbd_write_data", "0x{led:02x}");
                ev!(self, v, 2, "ps2_write_keyboard", "{kbd:#x} val {led}");
                ev!(self, v, 2, "ps2_set_ledstate", "{kbd:#x} ledstate {led}");
                self.kbd_byte(0x1d, kbd, 0xfa);
            }
            11..=15 => {
                // commands to the mouse through the controller (0xd4), e.g. rate/resolution set-up
                for _ in 0..self.rng.range(1, 4) {
                    let val = [0xf4u32, 0xf5, 0xf3, 0xe8, 0xe6, 0xf2][self.rng.below(6) as usize];
                    for _ in 0..self.rng.range(1, 3) {
                        ev!(self, v, self.rng.range(20, 200), "pckbd_kbd_read_status", "0x1c");
                    }
                    ev!(self, v, 4, "pckbd_kbd_write_command", "0xd4");
                    ev!(self, v, self.rng.range(20, 200), "pckbd_kbd_read_status", "0x1c");
                    ev!(self, v, 4, "pckbd_kbd_write_data", "0x{val:02x}");
                    ev!(self, v, 2, "ps2_write_mouse", "{mouse:#x} val {val}");
                    self.kbd_byte(0x3d, mouse, 0xfa);
                }
            }
            _ => {
                // the driver rewrites the controller command byte
                ev!(self, v, self.rng.range(1_000, 90_000), "pckbd_kbd_read_status", "0x1c");
                ev!(self, v, 4, "pckbd_kbd_write_command", "0x60");
                ev!(self, v, self.rng.range(20, 200), "pckbd_kbd_read_status", "0x1c");
                let cb = [0x47u32, 0x45, 0x65][self.rng.below(3) as usize];
                ev!(self, v, 4, "pckbd_kbd_write_data", "0x{cb:02x}");
                ev!(self, v, 2, "ps2_keyboard_set_translation", "{kbd:#x} mode {}", (cb >> 6) & 1);
            }
        }
    }

    fn run(&mut self, kind: Kind) -> io::Result<()> {
        use Ep::*;
        let (eps, w): (&[Ep], &[u32]) = match kind {
            Kind::Mixed => (&[Ahci, AhciMisc, Nvme, NvmeAdmin, Virtio, Pci, Ps2], &[5100, 45, 1210, 270, 1165, 230, 90]),
            Kind::Pci => (&[Pci, Ahci, Nvme, Virtio, Ps2], &[1000, 40, 10, 10, 10]),
            Kind::Ps2 => (&[Ps2, Ahci, Nvme, Virtio, Pci], &[1000, 20, 5, 5, 3]),
            Kind::Dma => (&[Ahci, Nvme, Virtio, Ide, Scsi, AhciMisc], &[300, 250, 250, 250, 250, 10]),
        };
        self.new_run();
        while !self.done {
            match eps[self.rng.weighted(w)] {
                Ahci => self.ahci(),
                AhciMisc => self.ahci_misc(),
                Nvme => self.nvme(),
                NvmeAdmin => self.nvme_admin(),
                Virtio => self.virtio(),
                Pci => self.pci(),
                Ps2 => self.ps2(),
                Ide => self.ide(),
                Scsi => self.scsi(),
            }
        }
        self.flush()?;
        self.out.flush()
    }
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let t = s.trim_end_matches(['B', 'b']).trim_end_matches('i');
    let (num, mul) = match t.chars().last()? {
        'K' | 'k' => (&t[..t.len() - 1], 1u64 << 10),
        'M' | 'm' => (&t[..t.len() - 1], 1 << 20),
        'G' | 'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn main() -> ExitCode {
    let mut size = 1u64 << 30;
    let mut prefix = Prefix::Mixed;
    let mut kind = Kind::Mixed;
    let mut seed = 1u64;
    let mut output = None;
    let mut args = std::env::args().skip(1);
    let fail = |msg: String| {
        eprintln!("gen-data: {msg}\n{USAGE}");
        ExitCode::from(2)
    };
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |f: &str| inline.clone().or_else(|| args.next()).ok_or(format!("{f} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--size" => match value("--size").map(|v| parse_size(&v)) {
                Ok(Some(n)) => size = n,
                Ok(None) => return fail("bad --size".into()),
                Err(e) => return fail(e),
            },
            "--prefix" => match value("--prefix").as_deref() {
                Ok("ts") => prefix = Prefix::Ts,
                Ok("plain") => prefix = Prefix::Plain,
                Ok("mixed") => prefix = Prefix::Mixed,
                Ok(o) => return fail(format!("bad --prefix {o:?}")),
                Err(e) => return fail(e.clone()),
            },
            "--kind" => match value("--kind").as_deref() {
                Ok("mixed") => kind = Kind::Mixed,
                Ok("pci") => kind = Kind::Pci,
                Ok("ps2") => kind = Kind::Ps2,
                Ok("dma") => kind = Kind::Dma,
                Ok(o) => return fail(format!("bad --kind {o:?}")),
                Err(e) => return fail(e.clone()),
            },
            "--seed" => match value("--seed").map(|v| v.parse::<u64>()) {
                Ok(Ok(n)) => seed = n,
                Ok(Err(_)) => return fail("bad --seed".into()),
                Err(e) => return fail(e),
            },
            _ if a.starts_with('-') && a != "-" => return fail(format!("unknown option {a}")),
            _ if output.is_none() => output = Some(a),
            _ => return fail("more than one OUTPUT".into()),
        }
    }
    let Some(output) = output else { return fail("OUTPUT missing".into()) };
    let out: Box<dyn Write> = if output == "-" {
        Box::new(io::stdout().lock())
    } else {
        match File::create(&output) {
            Ok(f) => Box::new(f),
            Err(e) => return fail(format!("{output}: {e}")),
        }
    };

    // The seed picks the per-run layout (heap addresses, thread ids, start time) too.
    let mut rng = Rng(seed ^ 0x7154_7261_6365_2d67); // "qTrace-g"
    let heap = 0x5500_0000_0000 + (rng.below(0xf_ffff) << 20);
    let text = heap - 0x3400_0000 - (rng.below(0xfff) << 12);
    let h = |off: u64| heap + off;
    let p = Ptrs {
        ahci: h(0x16c_6490),
        sata: [h(0xcb_1340), h(0xcb_1690), h(0xcb_8d40)],
        nvm: [h(0xcb_e7b0), h(0xcc_2340), h(0xcc_9680)],
        vd: [h(0xcc_ee50), h(0xcd_0e10), h(0xcd_8150)],
        scsi: [h(0xcd_dfa0), h(0xce_1a90)],
        ide: [h(0x16c_7cf8), h(0x16c_7d80)],
        vdev: h(0x1d6_27b0),
        vreq: [
            h(0x1ff_65c0), h(0x200_b2c0), h(0x1ff_fe70), h(0x201_3c00),
            h(0x1fe_9a80), h(0x200_4e10), h(0x1ff_0f50), h(0x200_8330),
        ],
        kbd: h(0x15c_7230),
        mouse: h(0x15c_7698),
        nvme_dbs: h(0x200_7c00),
        cb_ahci: text + 0x252_1a40,
        cb_nvme: text + 0x258_49c0,
        cb_ide: text + 0x252_9410,
        dbs_hi: 0x7f00_0000_0000 + (rng.below(0xff) << 32),
    };
    let mut g = Gen {
        t: 1_700_000_000_000_000 + rng.below(100_000_000) * 1_000_000 + rng.below(1_000_000),
        rng,
        out,
        buf: Vec::with_capacity(1 << 21),
        written: 0,
        limit: size,
        done: size == 0,
        start: 0,
        ktime: 0,
        prefix,
        ts: prefix != Prefix::Plain,
        seg_left: u64::MAX,
        tid_main: 0,
        tid_vcpu: 0,
        dma_only: kind == Kind::Dma,
        p,
        ncq_tag: 0,
        sata_next: 0,
        nvme_gen: 0,
        nvme_tag: 0,
        nvme_tail: 0,
        nvme_admin_tail: 0,
        vd_next: 0,
        scsi_tag: 0,
        modifiers: 0,
    };
    // `--prefix mixed`: alternate runs with and without timestamps, first with.
    if prefix == Prefix::Mixed {
        g.ts = false; // new_run() flips it to true for the first run
    }
    match g.run(kind) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-data: {output}: {e}");
            ExitCode::FAILURE
        }
    }
}
