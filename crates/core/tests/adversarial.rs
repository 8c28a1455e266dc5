//! Adversarial inputs for the core scanning path (`Input`/`open_stream` →
//! `LineReader` → `Scanner::classify` → `Catalog::decode`): each must give a
//! clean decode or a clear error, never a panic, and in bounded memory.
//!
//! Also the regression tests for core bugs found by fuzzing (`r_fuzz_*`, see
//! `scripts/fuzz`) and by probing edge cases by hand (`r_adv_*`). Those that
//! still fail are `#[ignore]`d with the reason; run them with
//! `cargo test -p qtrace-core --test adversarial -- --ignored`.
//!
//! Tests that must not share a process (peak-memory measurement, stack
//! overflow) re-run this test binary on one `child_*` test, selected with the
//! `QTRACE_ADVERSARIAL_CHILD` variable; a `child_*` test does nothing unless
//! that variable names it.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use memchr::memmem::Finder;
use qtrace_core::catalog::Catalog;
use qtrace_core::input::{Encoding, Input, Opened, open_stream};
use qtrace_core::lines::{DEFAULT_MAX_LINE, Line, LineEvent, LineReader};
use qtrace_core::recognize::PrefixKind;
use qtrace_core::scan::{Diag, Record, ScanOptions, ScanStats, Scanner};
use qtrace_core::value::{Radix, Value};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// What one pass over a stream produced.
#[derive(Debug, Default)]
struct Outcome {
    /// `(number, bytes, full)` of every line handed out.
    lines: Vec<(u64, Vec<u8>, Vec<u8>)>,
    /// `(number, length)` of every line reported too long.
    too_long: Vec<(u64, u64)>,
    /// Lines classified as events.
    events: u64,
    /// Events whose message matched a catalog format.
    decoded: u64,
    /// The read error that ended the pass, if any.
    error: Option<io::Error>,
}

/// Reads every line of `reader`, classifies it and decodes the events with
/// the built-in catalog, touching every field value.
fn drain<R: Read>(reader: R, max_line: usize, chunk: usize) -> Outcome {
    let catalog = Catalog::builtin();
    let scanner = Scanner::new(&catalog, ScanOptions::default());
    let mut r = LineReader::with_limits(reader, max_line, chunk);
    let mut scratch = Vec::new();
    let mut out = Outcome::default();
    loop {
        match r.next_line() {
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e);
                break;
            }
            Ok(Some(LineEvent::TooLong { number, length })) => out.too_long.push((number, length)),
            Ok(Some(LineEvent::Line(line))) => {
                if let Record::Event(ev) = scanner.classify(line) {
                    out.events += 1;
                    let _ = ev.prefix.time_nanos();
                    if let Some(f) = catalog.decode(ev.name, ev.message, &mut scratch) {
                        out.decoded += 1;
                        for i in 0..f.len() {
                            let _ = (f.name(i), f.text(i), f.value(i));
                        }
                    }
                }
                out.lines
                    .push((line.number, line.bytes.to_vec(), line.full.to_vec()));
            }
        }
    }
    out
}

/// Opens in-memory bytes the way an input file is opened.
fn open(bytes: Vec<u8>) -> Opened {
    open_stream(Box::new(io::Cursor::new(bytes))).expect("opening an in-memory stream")
}

/// Decodes one event line with the built-in catalog; `None` when the line is
/// not an event or its message matches no format. The closure gets the fields.
fn decode_line<T>(
    text: &[u8],
    f: impl FnOnce(&qtrace_core::catalog::Fields<'_>) -> T,
) -> Option<T> {
    let catalog = Catalog::builtin();
    let scanner = Scanner::new(&catalog, ScanOptions::default());
    let line = Line {
        number: 1,
        bytes: text,
        full: text,
    };
    let Record::Event(ev) = scanner.classify(line) else {
        return None;
    };
    let mut scratch = Vec::new();
    let fields = catalog.decode(ev.name, ev.message, &mut scratch)?;
    Some(f(&fields))
}

/// A field value as text (values borrow from the decoded line).
fn show(v: Option<Value<'_>>) -> String {
    format!("{v:?}")
}

/// A scratch directory of its own for one test.
fn scratch_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("qtrace-adversarial-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    dir
}

/// Scans one file with `Scanner::scan_one`, as the tools do.
fn scan_file(path: &Path, opts: ScanOptions) -> (ScanStats, u64, Vec<Vec<u8>>) {
    let catalog = Catalog::builtin();
    let mut scanner = Scanner::new(&catalog, opts);
    let diag = Diag::new("adversarial");
    let mut seen = Vec::new();
    let go_on = scanner
        .scan_one(
            &Input::Path(path.to_path_buf()),
            0,
            &diag,
            &mut |_, rec: Record<'_>| {
                seen.push(rec.line().bytes.to_vec());
                Ok(true)
            },
        )
        .expect("scan_one only fails when the callback does");
    assert!(go_on);
    (scanner.stats, diag.errors(), seen)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A zstd frame holding `content` (< 256 bytes) in one raw block, built by
/// hand: magic, a single-segment header with a 1-byte content size, and a
/// last-block header.
fn raw_zstd_frame(content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 256);
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, content.len() as u8];
    let block = ((content.len() as u32) << 3) | 1; // raw block, last
    f.extend(&block.to_le_bytes()[..3]);
    f.extend(content);
    f
}

/// A zstd skippable frame (magic `0x184D2A50`), as pzstd writes before each frame.
fn skippable_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = 0x184D_2A50u32.to_le_bytes().to_vec();
    f.extend((payload.len() as u32).to_le_bytes());
    f.extend(payload);
    f
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

/// xorshift64*: a fixed-seed byte source, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }
}

/// A reader that hands out one byte per call.
struct OneByte<R>(R);

impl<R: Read> Read for OneByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

/// `head`, then `len` copies of `filler`, then `tail`, produced on demand so
/// that a huge stream costs no memory.
struct Lazy {
    head: Vec<u8>,
    filler: u8,
    len: u64,
    tail: Vec<u8>,
    pos: u64,
}

impl Read for Lazy {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let h = self.head.len() as u64;
        let body_end = h + self.len;
        let n = if self.pos < h {
            let src = &self.head[self.pos as usize..];
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
            n
        } else if self.pos < body_end {
            let n = ((body_end - self.pos) as usize).min(buf.len());
            buf[..n].fill(self.filler);
            n
        } else {
            let src = self
                .tail
                .get((self.pos - body_end) as usize..)
                .unwrap_or(&[]);
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
            n
        };
        self.pos += n as u64;
        Ok(n)
    }
}

const CHILD_ENV: &str = "QTRACE_ADVERSARIAL_CHILD";

/// True inside the process started by [`run_child`] for test `name`.
fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == name)
}

/// Runs test `name` of this binary alone, in a fresh process, and asserts
/// that it ran and passed.
fn run_child(name: &str) {
    let out = Command::new(std::env::current_exe().expect("test binary path"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .output()
        .expect("re-running the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child test {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "child test {name} did not run:\n{stdout}"
    );
}

/// Peak resident set size of this process so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kb * 1024
}

const PCI_LINE: &[u8] = b"pci_cfg_read mch 00:00.0 @0x0 -> 0x8086";

// ---------------------------------------------------------------------------
// Invalid UTF-8 and NUL bytes
// ---------------------------------------------------------------------------

#[test]
fn invalid_utf8_stays_bytes_and_still_decodes() {
    let input = b"pci_cfg_read \xff\xfe 00:00.0 @0x0 -> 0x8086\n\
                  \xc3\x28 not utf-8 at all \xed\xa0\x80\n\
                  pci_cfg_\xffread x 00:00.0 @0x0 -> 0x1\n\
                  9479@1795674347.582949:pci_cfg_read \xf0\x9f 00:03.0 @0x0 -> 0x100e8086\n";
    let out = drain(open(input.to_vec()).reader, DEFAULT_MAX_LINE, 7);
    assert!(out.error.is_none());
    assert_eq!(out.lines.len(), 4);
    assert_eq!(out.events, 2, "lines 1 and 4 are events, 2 and 3 are not");
    assert_eq!(out.decoded, 2);
    let dev = decode_line(b"pci_cfg_read \xff\xfe 00:00.0 @0x0 -> 0x8086", |f| {
        (
            f.get("dev").and_then(|v| v.as_bytes().map(<[u8]>::to_vec)),
            show(f.get("val")),
        )
    });
    assert_eq!(
        dev,
        Some((
            Some(b"\xff\xfe".to_vec()),
            show(Some(Value::Unsigned(0x8086, Radix::Hex)))
        ))
    );
}

#[test]
fn nul_bytes_are_ordinary_bytes() {
    let input =
        b"pci_cfg_read a\0b 00:00.0 @0x0 -> 0x1\n\0\0\0\n\0pci_cfg_read x 00:00.0 @0x0 -> 0x1\n\
                  pci_cfg_read mch 00:00.0 @0x0 -> 0x80\x0086\n";
    let out = drain(open(input.to_vec()).reader, DEFAULT_MAX_LINE, 3);
    assert!(out.error.is_none());
    let numbers: Vec<u64> = out.lines.iter().map(|l| l.0).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(out.lines[1].1, b"\0\0\0");
    // Line 1 decodes with a NUL inside the string; line 3 starts with NUL
    // (not an event); line 4 has a NUL inside a number (an event that no
    // format matches).
    assert_eq!(out.events, 2);
    assert_eq!(out.decoded, 1);
    let dev = decode_line(b"pci_cfg_read a\0b 00:00.0 @0x0 -> 0x1", |f| {
        f.get("dev").and_then(|v| v.as_bytes().map(<[u8]>::to_vec))
    });
    assert_eq!(dev, Some(Some(b"a\0b".to_vec())));
    // A stream of nothing but NULs is one line, not an event.
    let out = drain(open(vec![0; 100_000]).reader, DEFAULT_MAX_LINE, 4096);
    assert_eq!(out.lines.len(), 1);
    assert_eq!(out.events, 0);
}

// ---------------------------------------------------------------------------
// A 100 MB line
// ---------------------------------------------------------------------------

const HUGE: u64 = 100 << 20;

/// The parent of `child_hundred_megabyte_line`: runs it alone so that the
/// process's peak RSS measures the reader and nothing else.
#[test]
fn hundred_megabyte_line_is_skipped_in_bounded_memory() {
    run_child("child_hundred_megabyte_line");
}

#[test]
fn child_hundred_megabyte_line() {
    if !is_child("child_hundred_megabyte_line") {
        return;
    }
    // Line 2 is `pci_cfg_read xxxx…` (HUGE bytes, then CRLF); the stream is
    // made on demand so the test itself allocates nothing big.
    let mut head = PCI_LINE.to_vec();
    head.extend(b"\npci_cfg_read ");
    let lazy = Lazy {
        filler: b'x',
        len: HUGE - 13,
        tail: b"\r\npci_cfg_read mch 00:00.0 @0x4 -> 0x29c08086\n".to_vec(),
        pos: 0,
        head,
    };
    let before = peak_rss();
    let opened = open_stream(Box::new(lazy)).expect("opening the lazy stream");
    assert_eq!(opened.encoding, Encoding::Plain);
    let out = drain(opened.reader, DEFAULT_MAX_LINE, 256 << 10);
    let grown = peak_rss().saturating_sub(before);
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.too_long, [(2, HUGE)]);
    let numbers: Vec<u64> = out.lines.iter().map(|l| l.0).collect();
    assert_eq!(
        numbers,
        [1, 3],
        "the lines around the long one still arrive"
    );
    assert_eq!(
        out.lines[1].1,
        b"pci_cfg_read mch 00:00.0 @0x4 -> 0x29c08086"
    );
    assert_eq!(out.decoded, 2);
    assert!(
        grown < 40 << 20,
        "peak RSS grew by {} MiB while skipping a {} MiB line",
        grown >> 20,
        HUGE >> 20
    );
    eprintln!(
        "peak RSS growth while skipping a {} MiB line: {:.1} MiB",
        HUGE >> 20,
        grown as f64 / (1 << 20) as f64
    );
}

#[test]
fn long_lines_at_tiny_limits_are_reported_with_their_numbers() {
    // Over-long lines of every size around the bound, CRLF and LF, and a last
    // one without a newline.
    let input = b"abc\nabcd\nabcde\r\nab\r\nabcdefghij\nabcd";
    for chunk in 1..6 {
        let out = drain(&input[..], 4, chunk);
        let numbers: Vec<u64> = out.lines.iter().map(|l| l.0).collect();
        assert_eq!(numbers, [1, 2, 4, 6], "chunk {chunk}");
        assert_eq!(out.too_long, [(3, 5), (5, 10)], "chunk {chunk}");
    }
}

// ---------------------------------------------------------------------------
// Binary garbage
// ---------------------------------------------------------------------------

/// Counts lines the obvious way.
fn naive_line_count(b: &[u8]) -> u64 {
    let nl = b.iter().filter(|&&c| c == b'\n').count() as u64;
    nl + u64::from(!b.is_empty() && !b.ends_with(b"\n"))
}

#[test]
fn binary_garbage_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let garbage = rng.bytes(1 << 20);
    // Garbage behind known event names exercises the format matcher too.
    let names: &[&[u8]] = &[
        b"pci_cfg_read ",
        b"9479@1795674347.582949:ps2_put_keycode ",
        b"2025-07-21T18:43:28.089797Z dma_blk_io ",
        b"Nov 26 08:09:29 h qemu-system-x86_64[1]: pci_update_mappings_add ",
        b" qemu-1 [003] d..1. 5061.8: tracing_mark_write: ps2_keyboard_event ",
    ];
    let mut named = Vec::new();
    for (i, chunk) in garbage.chunks(61).take(4000).enumerate() {
        named.extend(names[i % names.len()]);
        named.extend(chunk.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
        named.push(b'\n');
    }
    for input in [&garbage, &named] {
        let want = naive_line_count(input);
        for (max, chunk) in [(DEFAULT_MAX_LINE, 256 << 10), (64, 7), (300, 4096)] {
            let out = drain(open(input.clone()).reader, max, chunk);
            assert!(out.error.is_none(), "{:?}", out.error);
            let mut numbers: Vec<u64> = out.lines.iter().map(|l| l.0).collect();
            numbers.extend(out.too_long.iter().map(|t| t.0));
            numbers.sort_unstable();
            assert!(
                numbers.iter().copied().eq(1..=want),
                "every line is handed out or reported, once (max {max}, chunk {chunk})"
            );
        }
    }
    // Garbage behind a compression magic is an error, not a panic.
    for magic in [&[0x1f, 0x8b][..], &[0x28, 0xb5, 0x2f, 0xfd]] {
        let mut bytes = magic.to_vec();
        bytes.extend(&garbage[..4096]);
        match open_stream(Box::new(io::Cursor::new(bytes))) {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok(opened) => {
                let out = drain(opened.reader, DEFAULT_MAX_LINE, 4096);
                assert!(out.error.is_some(), "garbage decompressed without error");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Truncated last line, CRLF
// ---------------------------------------------------------------------------

#[test]
fn truncated_last_line_is_still_a_line() {
    let input = b"ps2_read_data 0x55\npci_cfg_read mch 00:00.0 @0x0 -> 0x8086";
    for chunk in [1, 2, 5, 1 << 16] {
        let out = drain(open(input.to_vec()).reader, DEFAULT_MAX_LINE, chunk);
        assert!(out.error.is_none());
        assert_eq!(out.lines.len(), 2);
        let last = &out.lines[1];
        assert_eq!(last.0, 2);
        assert_eq!(last.1, PCI_LINE);
        assert_eq!(last.2, PCI_LINE, "full has no terminator to add");
        assert_eq!(out.decoded, 2);
    }
    let val = decode_line(PCI_LINE, |f| show(f.get("val")));
    assert_eq!(val, Some(show(Some(Value::Unsigned(0x8086, Radix::Hex)))));
}

#[test]
fn crlf_line_endings_are_not_part_of_the_message() {
    let input = b"pci_cfg_read mch 00:00.0 @0x0 -> 0x8086\r\n\
                  9479@1795674347.582949:pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086\r\n\
                  \r\n\
                  half\rway\r\n\
                  pci_cfg_read mch 00:00.0 @0x4 -> 0x1\r\n";
    for chunk in [1, 2, 3, 64] {
        let out = drain(open(input.to_vec()).reader, DEFAULT_MAX_LINE, chunk);
        assert!(out.error.is_none());
        assert_eq!(out.lines.len(), 5);
        assert_eq!(out.lines[0].1, PCI_LINE);
        assert_eq!(out.lines[0].2, [PCI_LINE, b"\r\n"].concat());
        assert_eq!(out.lines[2].1, b"");
        assert_eq!(out.lines[2].2, b"\r\n");
        assert_eq!(out.lines[3].1, b"half\rway", "a lone CR is data");
        assert_eq!(out.events, 3);
        assert_eq!(out.decoded, 3, "the CR does not spoil the last value");
    }
}

// ---------------------------------------------------------------------------
// Numbers that do not fit
// ---------------------------------------------------------------------------

#[test]
fn numbers_over_64_bits_do_not_decode() {
    let lines: &[&[u8]] = &[
        b"pci_cfg_read mch 00:00.0 @0x0 -> 0x1ffffffffffffffff",
        b"pci_cfg_read mch 00:00.0 @0x0 -> 0x10000000000000000",
        b"pci_cfg_read mch 00:00.0 @0x1ffffffffffffffff -> 0x0",
        b"pci_cfg_read mch 1ffffffffffffffff:00.0 @0x0 -> 0x0",
        b"pci_cfg_read mch 00:10000000000000000.0 @0x0 -> 0x0",
        // The QEMU 5.2 format prints the bus in decimal.
        b"pci_cfg_read mch 18446744073709551616:0 @0x0 -> 0x0",
        b"9479@1795674347.582949:pci_cfg_read mch 00:00.0 @0x0 -> 0xfffffffffffffffffffffffffffffffffffffffffffffff",
    ];
    for l in lines {
        assert_eq!(
            decode_line(l, |f| format!(
                "{:?}",
                (0..f.len()).map(|i| f.value(i)).collect::<Vec<_>>()
            )),
            None,
            "{}",
            String::from_utf8_lossy(l)
        );
    }
    // The largest value that fits still decodes, to itself.
    // (Or does not decode at all, once `%x` is bounded to 32 bits: r_adv_3.)
    let val = decode_line(
        b"pci_cfg_read mch 00:00.0 @0x0 -> 0xffffffffffffffff",
        |f| show(f.get("val")),
    );
    assert!(
        val.is_none() || val == Some(show(Some(Value::Unsigned(u64::MAX, Radix::Hex)))),
        "{val:?}"
    );

    // Prefix numbers that overflow: the thread id is absent, not wrapped,
    // and a time that does not fit has no nanosecond reading.
    let catalog = Catalog::builtin();
    let scanner = Scanner::new(&catalog, ScanOptions::default());
    let text = b"99999999999999999999999@1795674347.582949:pci_cfg_read mch 00:00.0 @0x0 -> 0x1";
    let line = Line {
        number: 1,
        bytes: text,
        full: text,
    };
    let Record::Event(ev) = scanner.classify(line) else {
        panic!("a TID@TIME line is an event");
    };
    assert_eq!(ev.prefix.kind, PrefixKind::TidTime);
    assert_eq!(ev.prefix.tid, None);
    assert_eq!(ev.prefix.time_nanos(), Some(1_795_674_347_582_949_000));
    let text = b"1@99999999999999999999.5:pci_cfg_read mch 00:00.0 @0x0 -> 0x1";
    let line = Line {
        number: 1,
        bytes: text,
        full: text,
    };
    let Record::Event(ev) = scanner.classify(line) else {
        panic!("a TID@TIME line is an event");
    };
    assert_eq!(ev.prefix.time_nanos(), None);
    let text = b"1@9223372037.5:pci_cfg_read mch 00:00.0 @0x0 -> 0x1";
    let line = Line {
        number: 1,
        bytes: text,
        full: text,
    };
    let Record::Event(ev) = scanner.classify(line) else {
        panic!("a TID@TIME line is an event");
    };
    assert_eq!(ev.prefix.time_nanos(), None, "over i64::MAX nanoseconds");
}

// ---------------------------------------------------------------------------
// Compressed inputs
// ---------------------------------------------------------------------------

fn pci_lines(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                "pci_cfg_read mch 00:{:02x}.0 @0x{:x} -> 0x{:x}\n",
                i % 32,
                i % 256,
                i * 7919
            )
            .into_bytes()
        })
        .collect()
}

#[test]
fn gzip_cut_in_the_middle_is_an_error_after_whole_lines() {
    let lines = pci_lines(3000);
    let gz = gzip(&lines.concat());
    let cut = gz[..gz.len() / 2].to_vec();

    let opened = open(cut.clone());
    assert_eq!(opened.encoding, Encoding::Gzip);
    let out = drain(opened.reader, DEFAULT_MAX_LINE, 256 << 10);
    let err = out.error.expect("a cut gzip stream is a read error");
    assert!(!err.to_string().is_empty());
    // Every line handed out before the error is a whole, correct line.
    assert!(!out.lines.is_empty(), "the first half decodes");
    assert!(out.lines.len() < lines.len());
    for (i, l) in out.lines.iter().enumerate() {
        assert_eq!(l.0, i as u64 + 1);
        assert_eq!(l.2, lines[i]);
    }
    assert_eq!(out.decoded, out.lines.len() as u64);

    // Cut inside the 10-byte header, too.
    let out = drain(open(gz[..5].to_vec()).reader, DEFAULT_MAX_LINE, 4096);
    assert!(out.error.is_some() && out.lines.is_empty());

    // The scanner reports it once, names the input, and goes on.
    let dir = scratch_dir("gzip-cut");
    let path = dir.join("cut.log.gz");
    std::fs::write(&path, &cut).unwrap();
    let (stats, errors, seen) = scan_file(&path, ScanOptions::default());
    assert_eq!(errors, 1);
    assert_eq!(stats.events, seen.len() as u64);
    assert!(stats.events > 0);
    std::fs::remove_dir_all(dir).ok();
}

const FRAME1: &str = "pci_cfg_read i440FX 00:00.0 @0x0 -> 0x8086\n\
                      pci_cfg_read i440FX 00:00.0 @0x0 -> 0x12378086\n\
                      pci_cfg_read i440FX 00:00.0 @0x59 -> 0x0\n";
const FRAME2: &str = "18185@1795677114.575440:ps2_mouse_reset 0x55c8dbcfdf28\n\
                      18185@1795677114.575470:ps2_kbd_reset 0x55c8dbcfdac0\n\
                      18189@1795677114.603728:pckbd_kbd_read_status 0x18\n";

#[test]
fn zstd_stream_of_two_frames_reads_both() {
    let path = fixture("two-frames.log.zst");
    let bytes = std::fs::read(&path).expect("tests/data/two-frames.log.zst");
    let magic = [0x28, 0xb5, 0x2f, 0xfd];
    let starts: Vec<usize> = Finder::new(&magic).find_iter(&bytes).collect();
    assert_eq!(starts.len(), 2, "the fixture holds two frames");
    let want = format!("{FRAME1}{FRAME2}");

    // Whole, and fed one byte per read.
    for opened in [
        Input::Path(path.clone())
            .open()
            .expect("opening the fixture"),
        open_stream(Box::new(OneByte(io::Cursor::new(bytes.clone())))).unwrap(),
    ] {
        assert_eq!(opened.encoding, Encoding::Zstd);
        let out = drain(opened.reader, DEFAULT_MAX_LINE, 5);
        assert!(out.error.is_none(), "{:?}", out.error);
        let text: Vec<u8> = out.lines.iter().flat_map(|l| l.2.clone()).collect();
        assert_eq!(String::from_utf8_lossy(&text), want);
        assert_eq!(out.events, 6);
    }
    let (stats, errors, _) = scan_file(&path, ScanOptions::default());
    assert_eq!((stats.lines, stats.events, errors), (6, 6, 0));

    // Ending right after the first frame is a complete (shorter) stream.
    let out = drain(
        open(bytes[..starts[1]].to_vec()).reader,
        DEFAULT_MAX_LINE,
        4096,
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.lines.len(), 3);

    // Cut inside the second frame, or followed by garbage: an error.
    let out = drain(
        open(bytes[..bytes.len() - 10].to_vec()).reader,
        DEFAULT_MAX_LINE,
        4096,
    );
    assert!(out.error.is_some(), "a cut frame is an error");
    let mut trailing = bytes.clone();
    trailing.extend(b"garbage\n");
    let out = drain(open(trailing).reader, DEFAULT_MAX_LINE, 4096);
    let err = out.error.expect("trailing bytes are an error");
    assert!(err.to_string().contains("zstd"), "{err}");

    // Hand-made raw frames: an empty frame between two others adds nothing.
    let mut raw = raw_zstd_frame(b"ps2_read_data 0x55\n");
    raw.extend(raw_zstd_frame(b""));
    raw.extend(raw_zstd_frame(b"bmdma_reset \n"));
    let out = drain(open(raw).reader, DEFAULT_MAX_LINE, 4096);
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.lines.len(), 2);
}

// ---------------------------------------------------------------------------
// Empty input, odd files
// ---------------------------------------------------------------------------

#[test]
fn empty_input_gives_no_lines_and_no_error() {
    let opened = open(Vec::new());
    assert_eq!(opened.encoding, Encoding::Plain);
    let mut r = LineReader::new(opened.reader);
    assert!(r.next_line().unwrap().is_none());
    assert!(r.next_line().unwrap().is_none(), "end of stream is sticky");
    assert_eq!(r.line_number(), 0);

    for (what, bytes) in [
        ("empty gzip", gzip(b"")),
        ("empty zstd frame", raw_zstd_frame(b"")),
    ] {
        let out = drain(open(bytes).reader, DEFAULT_MAX_LINE, 4096);
        assert!(out.error.is_none(), "{what}: {:?}", out.error);
        assert!(out.lines.is_empty() && out.too_long.is_empty(), "{what}");
    }

    let dir = scratch_dir("empty");
    let path = dir.join("empty.log");
    std::fs::write(&path, b"").unwrap();
    let (stats, errors, seen) = scan_file(&path, ScanOptions::default());
    assert_eq!(stats, ScanStats::default());
    assert_eq!(errors, 0);
    assert!(seen.is_empty());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn unreadable_inputs_are_reported_not_fatal() {
    let dir = scratch_dir("unreadable");
    // A directory and a missing file. (Binary simple-trace files are being
    // taught to the scanner; they are not "unreadable" here on purpose.)
    for path in [dir.clone(), dir.join("missing.log")] {
        let (stats, errors, seen) = scan_file(&path, ScanOptions::default());
        assert_eq!(errors, 1, "{}", path.display());
        assert_eq!(stats.lines, 0);
        assert!(seen.is_empty());
    }
    std::fs::remove_dir_all(dir).ok();
}

// ---------------------------------------------------------------------------
// Regression tests for core bugs found by the fuzz targets and by hand
// (fixed in c4d59ad and 3e8f668 unless marked #[ignore])
// ---------------------------------------------------------------------------

// See: fuzz target `recognize` (scripts/fuzz), minimised crash input below;
// fixed in 3e8f668.
#[test]
fn r_fuzz_recognize_1() {
    let catalog = Catalog::builtin();
    let scanner = Scanner::new(&catalog, ScanOptions::default());
    let cases: &[&[u8]] = &[
        // The minimised fuzz input: `z` instead of `:` between hour and minute.
        b"2025-07-21T18z43:28+02 s qemu[4]: s",
        // Offset with non-digits (`+0A:00` was read as +17:00).
        b"2025-07-21T18:43:28+0A:00 h qemu-system-x86_64[1]: ps2_read_data 0x55",
        // Offset `+02:` with the minutes missing.
        b"2025-07-21T18:43:28+02: h qemu-system-x86_64[1]: ps2_read_data 0x55",
    ];
    for text in cases {
        let line = Line {
            number: 1,
            bytes: text,
            full: text,
        };
        let Record::Event(ev) = scanner.classify(line) else {
            panic!("a syslog-wrapped line is an event");
        };
        assert_eq!(ev.prefix.kind, PrefixKind::Syslog);
        assert_eq!(
            ev.prefix.time_nanos(),
            None,
            "{:?} is not a timestamp",
            String::from_utf8_lossy(ev.prefix.time.unwrap())
        );
    }
}

/// Every line event of `input` read through a prefilter, as text.
fn prefiltered<R: Read>(input: R, max: usize, chunk: usize, needle: &[u8]) -> Vec<String> {
    let finder = Finder::new(needle);
    let mut r = LineReader::with_limits(input, max, chunk);
    let mut got = Vec::new();
    while let Some(ev) = r.next_with(Some(&finder)).unwrap() {
        got.push(match ev {
            LineEvent::Line(l) => {
                format!("line {} {:?}", l.number, String::from_utf8_lossy(l.bytes))
            }
            LineEvent::TooLong { number, length } => format!("too long {number} {length}"),
        });
    }
    got
}

// See: fuzz target `format` (scripts/fuzz), LineReader part. Found against the
// core of d0921b5; fixed by the `skip_complete` change in lines.rs (aae089a).
#[test]
fn r_fuzz_format_1() {
    // The fuzz input's line part (max 35, chunk 4, one byte per read, needle
    // "d %"): line 2 is 36 bytes, lacks the needle, and was dropped unreported.
    let input: &[u8] = b"d %\" PRIu16 \" nsid %\" PRIu32 \" nlb %\" PRIu32 \" count %\" PRIu64 \" lba 0x%\" PRIx64\n\
                         cid 0 nsid 1 nlb 1 count 512 lba 0x0";
    assert_eq!(
        prefiltered(OneByte(input), 35, 4, b"d %"),
        ["too long 1 80", "too long 2 36"]
    );
    // Reduced: line 1 is over the bound of 3 and lacks the needle; line 2 has
    // it. Without a prefilter the same input reports line 1.
    assert_eq!(
        prefiltered(&b"aaaa\nb\n"[..], 3, 64, b"b"),
        ["too long 1 4", "line 2 \"b\""]
    );

    // Through the scanner: `--max-line-len` errors depend on the prefilter.
    let dir = scratch_dir("r-fuzz-format-1");
    let path = dir.join("long.log");
    std::fs::write(
        &path,
        b"pci_cfg_read mch 00:00.0 @0x0 -> 0x8086\nbmdma_reset \n",
    )
    .unwrap();
    let opts = |prefilter: Option<&[u8]>| ScanOptions {
        max_line: 20,
        prefilter: prefilter.map(<[u8]>::to_vec),
        ..ScanOptions::default()
    };
    let (plain, plain_errors, _) = scan_file(&path, opts(None));
    let (filtered, filtered_errors, _) = scan_file(&path, opts(Some(b"bmdma")));
    std::fs::remove_dir_all(dir).ok();
    assert_eq!((plain.too_long, plain_errors), (1, 1));
    assert_eq!((filtered.too_long, filtered_errors), (1, 1));
}

// See: found by hand while writing the `catalog` fuzz target (libFuzzer rarely
// forms valid multi-byte whitespace); fixed in 3e8f668.
#[test]
fn r_adv_1_catalog_unicode_space_in_argument() {
    for space in ['\u{a0}', '\u{2003}', '\u{3000}'] {
        let text = format!("ev_x(int{space}x) \"%d\"\n");
        let result = std::panic::catch_unwind(|| {
            let mut c = Catalog::new();
            c.add_text("t", &text);
            c.check_all();
            (c.take_warnings().len(), c.knows(b"ev_x"))
        });
        // Either a warning naming the line or an accepted argument; not a panic.
        assert!(result.is_ok(), "Catalog::add_text panicked on {text:?}");
    }
}

/// Conversions in the deep format of `r_adv_2`; deep enough to overflow an
/// 8 MiB stack in debug and release builds.
const DEEP: usize = 20_000;

// See: found by hand (matcher recursion), not reachable within libFuzzer's
// default input size; fixed in 3e8f668 (formats are limited to 512 pieces).
#[test]
fn r_adv_2_deep_format_does_not_overflow_the_stack() {
    run_child("child_deep_format");
}

#[test]
fn child_deep_format() {
    if !is_child("child_deep_format") {
        return;
    }
    // The main thread's stack size, where the tools run.
    let t = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let mut c = Catalog::new();
            c.add_text("deep", &format!("ev_x(int x) \"{}\"\n", "%d ".repeat(DEEP)));
            let msg = "1 ".repeat(DEEP);
            let mut scratch = Vec::new();
            // Matching or giving up are both fine; crashing is not.
            let _ = c.decode(b"ev_x", msg.as_bytes(), &mut scratch).is_some();
        })
        .unwrap();
    t.join().unwrap();
}

// See: found by hand; `Length` is documented as bounding the value's range
// but the matcher never read it; fixed in c4d59ad.
#[test]
fn r_adv_3_int_conversions_are_32_bit() {
    for l in [
        &b"pci_cfg_read mch 00:00.0 @0x0 -> 0x100000000"[..],
        b"pci_cfg_read mch 00:00.0 @0x100000000 -> 0x0",
        b"ps2_put_keycode 0x55e7 keycode 4294967296",
    ] {
        assert_eq!(
            decode_line(l, |f| (0..f.len())
                .map(|i| format!("{:?}", f.value(i)))
                .collect::<Vec<_>>()),
            None,
            "{}",
            String::from_utf8_lossy(l)
        );
    }
}

// See: found by hand with `pzstd` (zstd's parallel compressor), which starts
// every frame with a skippable frame; fixed in 3e8f668.
#[test]
fn r_adv_4_zstd_skippable_frames() {
    // What `pzstd` writes: a skippable frame holding the frame size, then the frame.
    let frame = raw_zstd_frame(b"ps2_read_data 0x55\n");
    let mut pz = skippable_frame(&(frame.len() as u32).to_le_bytes());
    pz.extend(&frame);
    let opened = open(pz.clone());
    assert_eq!(opened.encoding, Encoding::Zstd, "pzstd output is zstd");
    let out = drain(opened.reader, DEFAULT_MAX_LINE, 4096);
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.lines.len(), 1);

    // A skippable frame between two frames.
    let mut two = frame.clone();
    two.extend(skippable_frame(b"meta"));
    two.extend(&frame);
    let out = drain(open(two).reader, DEFAULT_MAX_LINE, 4096);
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.lines.len(), 2);
}

/// The field width given to `%0*x` by the record of `r_adv_5`: far over the
/// default line bound of 16 MiB.
const STAR_WIDTH: u64 = 200 << 20;

// See: found by reading `CFormat::render` (c4d59ad) while extending the
// `format` fuzz target; the 7.2 catalog has `%0*` formats (empty_slot_write,
// pflash_sector_erase_start), so a hostile binary trace alone triggered it;
// fixed in d1c3ebf (widths from binary records are capped at 64 KiB).
#[test]
fn r_adv_5_simple_trace_star_width_is_bounded() {
    run_child("child_simple_trace_star_width");
}

#[test]
fn child_simple_trace_star_width() {
    if !is_child("child_simple_trace_star_width") {
        return;
    }
    // A simple trace (format 4, little-endian): header, one mapping, one
    // event whose first argument is the `*` width.
    let mut file = u64::MAX.to_le_bytes().to_vec();
    file.extend(0xf2b1_77cb_0aa4_29b4u64.to_le_bytes());
    file.extend(4u64.to_le_bytes());
    file.extend(0u64.to_le_bytes());
    file.extend(1u64.to_le_bytes());
    file.extend(4u32.to_le_bytes());
    file.extend(b"ev_w");
    let args: Vec<u8> = [STAR_WIDTH, 1]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    file.extend(1u64.to_le_bytes());
    file.extend(1u64.to_le_bytes());
    file.extend(0u64.to_le_bytes());
    file.extend((24 + args.len() as u32).to_le_bytes());
    file.extend(77u32.to_le_bytes());
    file.extend(&args);
    let dir = scratch_dir("star-width");
    let path = dir.join("trace-77");
    std::fs::write(&path, &file).unwrap();

    let mut catalog = Catalog::new();
    catalog.add_text("t", "ev_w(int width, uint64_t v) \"data:0x%0*\" PRIx64\n");
    let opts = ScanOptions::default();
    let max_line = opts.max_line;
    let mut scanner = Scanner::new(&catalog, opts);
    let diag = Diag::new("adversarial");
    let before = peak_rss();
    let mut longest = 0;
    scanner
        .scan_one(&Input::Path(path), 0, &diag, &mut |_, rec: Record<'_>| {
            longest = longest.max(rec.line().bytes.len());
            Ok(true)
        })
        .unwrap();
    let grown = peak_rss().saturating_sub(before);
    std::fs::remove_dir_all(dir).ok();
    assert!(
        longest <= max_line,
        "a {longest}-byte line was handed out (bound {max_line})"
    );
    assert!(
        grown < 40 << 20,
        "peak RSS grew by {} MiB for a 56-byte record",
        grown >> 20
    );
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `%*cx` rendered with width 45 and char 0, reduced by hand.
#[test]
#[ignore = "core bug: CFormat::match_message cannot match a `%*c` whose star width padded the character (the padding is taken as the character)"]
fn r_fuzz_format_2() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""%*c|""#).unwrap();
    let mut msg = Vec::new();
    f.render(
        &mut [RawArg::Word(2), RawArg::Word(u64::from(b'a'))].into_iter(),
        &mut msg,
    );
    assert_eq!(msg, b" a|", "what printf(\"%*c|\", 2, 'a') prints");
    let mut out = Vec::new();
    assert!(
        f.match_message(&msg, &mut out),
        "{:?} does not match",
        String::from_utf8_lossy(&msg)
    );
    assert_eq!(
        out.iter().map(|s| s.num).collect::<Vec<_>>(),
        [2, u64::from(b'a')],
        "width 2, character 'a'"
    );
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `%0*g` rendered with width 36, reduced by hand; fixed in da2f520.
#[test]
fn r_fuzz_format_3() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""%05g|""#).unwrap();
    let mut msg = Vec::new();
    f.render(&mut [RawArg::Word(1)].into_iter(), &mut msg);
    assert_eq!(msg, b"00001|", "what printf(\"%05g|\", 1.0) prints");
    let mut out = Vec::new();
    assert!(f.match_message(&msg, &mut out));
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `% s%0-1.0xx` rendered with "" and 0, reduced by hand; fixed in da2f520.
#[test]
fn r_fuzz_format_4() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""[%.0x]""#).unwrap();
    let mut msg = Vec::new();
    f.render(&mut [RawArg::Word(0)].into_iter(), &mut msg);
    assert_eq!(msg, b"[]", "what printf(\"[%.0x]\", 0) prints");
    let mut out = Vec::new();
    assert!(f.match_message(&msg, &mut out), "\"[]\" does not match");
    assert_eq!(out[0].num, 0);
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `%s %-20fx%x`, reduced by hand; fixed in da2f520.
#[test]
fn r_fuzz_format_5() {
    use qtrace_core::format::CFormat;
    let f = CFormat::parse(r#""[%-8g]""#).unwrap();
    let mut out = Vec::new();
    assert!(
        f.match_message(b"[1.5     ]", &mut out),
        "what printf(\"[%-8g]\", 1.5) prints does not match"
    );
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `%-*x -` rendered with width 58, reduced by hand.
#[test]
#[ignore = "core bug: CFormat::match_message does not consume the padding of a left-justified number whose width is a `*` argument (%-*x); trailing_pad only knows fixed widths"]
fn r_fuzz_format_6() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""[%-*x]""#).unwrap();
    let mut msg = Vec::new();
    f.render(
        &mut [RawArg::Word(4), RawArg::Word(0x1f)].into_iter(),
        &mut msg,
    );
    assert_eq!(msg, b"[1f  ]", "what printf(\"[%-*x]\", 4, 0x1f) prints");
    let mut out = Vec::new();
    assert!(f.match_message(&msg, &mut out), "\"[1f  ]\" does not match");
    assert_eq!(
        out.iter().map(|s| s.num).collect::<Vec<_>>(),
        [4, 0x1f],
        "width 4, value 0x1f"
    );
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `%#x%#xx` rendered with 0x34 and 0, reduced by hand.
#[test]
#[ignore = "core bug: CFormat::match_message reads `%#x` as a `0x` prefix whenever `0x` follows and never tries the bare `0` that `%#x` prints for zero, so `%#x` of 0 before a literal `x` does not match"]
fn r_fuzz_format_7() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""[%#xx]""#).unwrap();
    let mut msg = Vec::new();
    f.render(&mut [RawArg::Word(0)].into_iter(), &mut msg);
    assert_eq!(msg, b"[0x]", "what printf(\"[%#xx]\", 0) prints");
    let mut out = Vec::new();
    assert!(f.match_message(&msg, &mut out), "\"[0x]\" does not match");
}

// See: found by reading `CFormat::render` (c4d59ad): `%m` takes no argument
// (`slot_kinds` says so too) but the renderer consumes one for it; fixed in da2f520.
#[test]
fn r_adv_6_render_errno_takes_no_argument() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""%m|%d""#).unwrap();
    let mut msg = Vec::new();
    f.render(&mut [RawArg::Word(5)].into_iter(), &mut msg);
    assert_eq!(String::from_utf8_lossy(&msg), "|5");
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `%s %02.0x 0` rendered with "\xffE" and 0, reduced by hand.
#[test]
#[ignore = "core bug: CFormat::match_message takes a padded number's leading spaces greedily; when the number printed no digit (precision 0, value 0) and the next literal starts with a space, the padding swallows it"]
fn r_fuzz_format_8() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""[%2.0x 0]""#).unwrap();
    let mut msg = Vec::new();
    f.render(&mut [RawArg::Word(0)].into_iter(), &mut msg);
    assert_eq!(msg, b"[   0]", "what printf(\"[%2.0x 0]\", 0) prints");
    let mut out = Vec::new();
    assert!(f.match_message(&msg, &mut out), "\"[   0]\" does not match");
    assert_eq!(out[0].num, 0);
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `% s%0-.*d` rendered with "0x5\xbc", 0 and 0, reduced by hand.
#[test]
#[ignore = "core bug: CFormat::match_message accepts a digitless number only for a literal `.0` precision, not for a `.*` precision whose argument was 0"]
fn r_fuzz_format_9() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""[%.*d]""#).unwrap();
    let mut msg = Vec::new();
    f.render(
        &mut [RawArg::Word(0), RawArg::Word(0)].into_iter(),
        &mut msg,
    );
    assert_eq!(msg, b"[]", "what printf(\"[%.*d]\", 0, 0) prints");
    let mut out = Vec::new();
    assert!(f.match_message(&msg, &mut out), "\"[]\" does not match");
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `% s%0x%-2s%.d-p:…` rendered with "", 0, "", 0, reduced by hand.
#[test]
#[ignore = "core bug: CFormat::match_message lets a digitless `%.0d` (value 0) take a following `-` as its sign, so a literal starting with `-` no longer matches"]
fn r_fuzz_format_10() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""[%.0d-]""#).unwrap();
    let mut msg = Vec::new();
    f.render(&mut [RawArg::Word(0)].into_iter(), &mut msg);
    assert_eq!(msg, b"[-]", "what printf(\"[%.0d-]\", 0) prints");
    let mut out = Vec::new();
    assert!(f.match_message(&msg, &mut out), "\"[-]\" does not match");
    assert_eq!(out[0].num, 0);
}

// See: fuzz target `format` (scripts/fuzz), render→match round trip; the
// crash was `%s %0 x%#.0xl 1` rendered with "0(-x", 0, 0, reduced by hand.
#[test]
#[ignore = "core bug: CFormat::match_message's `%#x` path requires `0x` or `0`, but `%#.0x` of 0 prints nothing (the digitless case of da2f520 is not reached with the # flag)"]
fn r_fuzz_format_11() {
    use qtrace_core::format::{CFormat, RawArg};
    let f = CFormat::parse(r#""[%#.0x]""#).unwrap();
    let mut msg = Vec::new();
    f.render(&mut [RawArg::Word(0)].into_iter(), &mut msg);
    assert_eq!(msg, b"[]", "what printf(\"[%#.0x]\", 0) prints");
    let mut out = Vec::new();
    assert!(f.match_message(&msg, &mut out), "\"[]\" does not match");
}

/// A tool that names the only events it reads sees those (and those it
/// has decoded ahead, even one the catalog has no format for) and every
/// line that is not an event; of the others only the first timestamp comes
/// through, and all are counted, from a file split in chunks and from a
/// compressed stream alike.
#[test]
fn events_no_one_reads_are_left_out_but_counted() {
    let mut text = String::new();
    for i in 0..5000 {
        text += &format!("{i}@1700000000.{i:06}:dma_blk_cb dbs=0x1 ret=0\n");
        text += &format!("{i}@1700000000.{i:06}:dma_complete dbs=0x1 ret=0 cb=0x2\n");
        text += &format!("{i}@1700000000.{i:06}:not_in_any_catalog x={i}\n");
        text += "guest says hello\n";
    }
    let dir = scratch_dir("only-events");
    let plain = dir.join("t.log");
    std::fs::write(&plain, &text).unwrap();
    let packed = dir.join("t.log.gz");
    std::fs::write(&packed, gzip(text.as_bytes())).unwrap();
    for path in [&plain, &packed] {
        let opts = ScanOptions {
            only_events: Some(vec![Box::from(&b"dma_complete"[..])]),
            predecode: vec![Box::from(&b"not_in_any_catalog"[..])],
            ..ScanOptions::default()
        };
        let (stats, errors, seen) = scan_file(path, opts);
        assert_eq!(errors, 0);
        assert_eq!((stats.events, stats.other), (15_000, 5000));
        let count = |what: &str| {
            seen.iter()
                .filter(|l| l.windows(what.len()).any(|w| w == what.as_bytes()))
                .count()
        };
        assert_eq!(count("dma_complete"), 5000, "{}", path.display());
        assert_eq!(count("not_in_any_catalog"), 5000);
        assert_eq!(count("guest says hello"), 5000);
        // The first line of all, and at most one per splitting thread
        // after it.
        assert!(seen[0].starts_with(b"0@1700000000.000000:dma_blk_cb"));
        assert!(count("dma_blk_cb") <= 8, "{}", count("dma_blk_cb"));
    }
    std::fs::remove_dir_all(dir).ok();
}
