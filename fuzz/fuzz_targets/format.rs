//! Fuzz target `format`: compiling printf formats, matching messages against
//! them, and splitting lines in bounded memory.
//!
//! Input layout: everything before the first `\n` is the C source of a format
//! (UTF-8 lossily), everything after it is a message. The source goes through
//! `CFormat::parse` (and its raw bytes through `CFormat::from_printf`); when it
//! compiles, the message is matched (also appending after slots already
//! there), and every recovered slot is checked against its own text with a
//! naive number parser, so a match can never report a value the message
//! does not show.
//!
//! The same bytes then go through `LineReader::with_limits` with tiny limits
//! taken from the input (and a reader that returns short reads and
//! `Interrupted` errors), with and without a prefilter `Finder`, and must give
//! exactly what a naive splitter gives.

#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use memchr::memmem::Finder;
use qtrace_core::format::{CFormat, Piece, RawArg, Slot};
use qtrace_core::lines::{LineEvent, LineReader};
use qtrace_core::value::{Kind, Radix};

fuzz_target!(|data: &[u8]| {
    check_format(data);
    check_lines(data);
});

fn check_format(data: &[u8]) {
    let (src, msg) = match data.iter().position(|&b| b == b'\n') {
        Some(p) => (&data[..p], &data[p + 1..]),
        None => (data, &data[data.len()..]),
    };
    let _ = CFormat::from_printf(src);
    let Ok(format) = CFormat::parse(&String::from_utf8_lossy(src)) else {
        return;
    };
    let mut out: Vec<Slot> = Vec::new();
    let matched = format.match_message(msg, &mut out);
    // The linear matcher alone finds what `match_message` finds (the plan,
    // the budgeted search, or the linear matcher itself).
    let mut linear: Vec<Slot> = Vec::new();
    let linear_matched = format.match_linear(msg, &mut linear);
    assert_eq!((matched, &out), (linear_matched, &linear), "match_message and linear differ");
    // And the backtracking search alone, when it decides with a little
    // work (it is the oracle, not what runs on hostile input).
    let mut slow: Vec<Slot> = Vec::new();
    if let Some(slow_matched) = format.match_backtracking_within(msg, &mut slow, 200_000) {
        assert_eq!((matched, &out), (slow_matched, &slow), "matchers and backtracking differ");
    }
    // Appending after slots already there adds the same slots, or none.
    let mut appended = linear.clone();
    let mut scratch = Vec::new();
    let appending = format.match_appending(msg, &mut appended, &mut scratch);
    let want: Vec<Slot> = if matched { [&linear[..], &out[..]].concat() } else { linear.clone() };
    assert_eq!((appending, appended), (matched, want), "appending differs");
    if matched {
        check_slots(&format, msg, &out);
    }
    check_render(&format, msg);
}

/// Renders the format with arguments taken from `seed` (as QEMU's log
/// backend would print them) and matches the result: a small rendered
/// message must always match its own format, soundly.
fn check_render(format: &CFormat, seed: &[u8]) {
    let kinds = format.slot_kinds();
    if kinds.len() > 4 {
        return;
    }
    // Known core bugs (ignored tests in crates/core/tests/adversarial.rs): a
    // padded `%*c` (r_fuzz_format_2) and a left-justified `*` width
    // (r_fuzz_format_6) keep their padding; the padding of a number that
    // printed no digit swallows a following space (r_fuzz_format_8); a `.*`
    // precision of 0 is not expected to print no digit (r_fuzz_format_9); a
    // digitless `%.0d` takes a following `-` as its sign (r_fuzz_format_10);
    // a digitless `%#.0x` is not accepted (r_fuzz_format_11). Also
    // `%0…p` (undefined in C): the renderer pads it with spaces, the matcher
    // expects zeros.
    let known = |p: &Piece| {
        matches!(p, Piece::Conv(c) if (c.kind == Kind::Char && c.star_width)
            || (c.kind == Kind::Pointer && c.zero)
            || (c.left && c.star_width)
            || (c.precision == Some(0)
                && (c.width.is_some() || c.star_width || c.alt || c.kind == Kind::Signed))
            || (c.star_precision && matches!(c.kind, Kind::Signed | Kind::Unsigned(_))))
    };
    // And `%#x` of zero before a literal `x`, possibly after conversions that
    // printed nothing (r_fuzz_format_7).
    let alt_hex = |p: &Piece| {
        matches!(p, Piece::Conv(c) if c.alt
            && matches!(c.kind, Kind::Unsigned(Radix::Hex | Radix::HexUpper)))
    };
    let x_lit =
        |p: &Piece| matches!(p, Piece::Lit(l) if l.iter().any(|b| matches!(b, b'x' | b'X')));
    let alt_zero = format.pieces.iter().any(alt_hex) && format.pieces.iter().any(x_lit);
    if format.pieces.iter().any(known) || alt_zero {
        return;
    }
    let mut src = Words { seed, at: 0 };
    // With a `*` anywhere every word stays small: a huge width is a huge
    // message (r_adv_5), and a wrongly aligned argument list (r_adv_6) would
    // hand a width a value's word.
    let star = format
        .pieces
        .iter()
        .any(|p| matches!(p, Piece::Conv(c) if c.star_width || c.star_precision));
    let mut args = Vec::new();
    for k in &kinds {
        match k {
            // `%m` takes no argument.
            Kind::Errno => {}
            Kind::Str => args.push(RawArg::Bytes(src.bytes())),
            _ if star => args.push(RawArg::Word(src.word() % 64)),
            _ => args.push(RawArg::Word(src.word())),
        }
    }
    let mut msg = Vec::new();
    format.render(&mut args.iter().copied(), &mut msg);
    let mut out = Vec::new();
    assert!(
        format.match_message(&msg, &mut out),
        "{:?} rendered from {args:?} does not match its own format {format:?}",
        String::from_utf8_lossy(&msg)
    );
    check_slots(format, &msg, &out);
}

/// Argument words and strings cut from the fuzz input.
struct Words<'a> {
    seed: &'a [u8],
    at: usize,
}

impl<'a> Words<'a> {
    fn word(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for (i, x) in b.iter_mut().enumerate() {
            *x = self.seed.get(self.at + i).copied().unwrap_or(0);
        }
        self.at += 8;
        u64::from_le_bytes(b)
    }

    fn bytes(&mut self) -> &'a [u8] {
        let n = (self.word() % 12) as usize;
        let start = self.at.min(self.seed.len());
        let end = (start + n).min(self.seed.len());
        self.at += n;
        &self.seed[start..end]
    }
}

/// Every slot of a successful match agrees with its own text.
fn check_slots(format: &CFormat, msg: &[u8], out: &[Slot]) {
    let kinds = format.slot_kinds();
    assert_eq!(out.len(), kinds.len(), "one slot per kind");
    for (slot, kind) in out.iter().zip(&kinds) {
        let (s, e) = (slot.start as usize, slot.end as usize);
        assert!(s <= e && e <= msg.len(), "slot {slot:?} outside message");
        let text = &msg[s..e];
        match kind {
            // A precision of 0 prints no digit for 0 (`%.0d`, `%+.0d`).
            Kind::Signed | Kind::Unsigned(_) if no_digits(text) => {
                assert_eq!(
                    slot.num,
                    0,
                    "empty number {:?}",
                    String::from_utf8_lossy(text)
                );
            }
            Kind::Signed => {
                let t = text.strip_prefix(b" ").unwrap_or(text);
                assert_eq!(
                    naive_signed(t),
                    Some(slot.num as i64),
                    "%d slot {:?}",
                    String::from_utf8_lossy(text)
                );
            }
            Kind::Unsigned(r) => {
                let t = match r {
                    Radix::Hex => text.strip_prefix(b"0x").unwrap_or(text),
                    Radix::HexUpper => text.strip_prefix(b"0X").unwrap_or(text),
                    _ => text,
                };
                let radix = match r {
                    Radix::Dec => 10,
                    Radix::Hex | Radix::HexUpper => 16,
                    Radix::Oct => 8,
                };
                assert_eq!(
                    naive_unsigned(t, radix),
                    Some(slot.num),
                    "%{r:?} slot {:?}",
                    String::from_utf8_lossy(text)
                );
            }
            Kind::Pointer if slot.null => assert_eq!(text, b"(nil)"),
            Kind::Pointer => {
                let t = text.strip_prefix(b"0x").expect("pointer text starts 0x");
                assert_eq!(naive_unsigned(t, 16), Some(slot.num));
            }
            Kind::Str if slot.null => assert_eq!(text, b"(null)"),
            Kind::Char => {
                assert_eq!(text.len(), 1);
                assert_eq!(u64::from(text[0]), slot.num);
            }
            Kind::Float => assert!(!text.is_empty()),
            Kind::Width => assert_eq!(slot.num, (e - s) as u64),
            Kind::Str | Kind::Errno => {}
        }
    }
}

/// A number field that printed only a sign, or nothing.
fn no_digits(text: &[u8]) -> bool {
    !text.iter().any(u8::is_ascii_hexdigit)
}

fn naive_signed(t: &[u8]) -> Option<i64> {
    std::str::from_utf8(t).ok()?.parse().ok()
}

fn naive_unsigned(t: &[u8], radix: u32) -> Option<u64> {
    let s = std::str::from_utf8(t).ok()?;
    if s.is_empty() || s.starts_with('+') {
        return None;
    }
    u64::from_str_radix(s, radix).ok()
}

/// A reader that hands out at most `step` bytes at a time and sometimes
/// fails with `Interrupted`, as a pipe or a signal would.
struct Stingy<'a> {
    data: &'a [u8],
    step: usize,
    calls: usize,
}

impl Read for Stingy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let n = buf.len().min(self.data.len()).min(self.step);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

type Got = Vec<(u64, Vec<u8>, Vec<u8>)>;

fn check_lines(data: &[u8]) {
    let [a, b, c, rest @ ..] = data else {
        return;
    };
    let max = usize::from(*a % 64) + 1;
    let chunk = usize::from(*b % 32) + 1;
    let step = usize::from(*c % 7) + 1;
    // A needle taken from the input itself, without newlines (a needle that
    // spans lines can never be inside one line).
    let needle: Vec<u8> = rest
        .iter()
        .skip(usize::from(*c) % 5)
        .take(usize::from(*a % 4) + 1)
        .copied()
        .filter(|&b| b != b'\n')
        .collect();
    assert_eq!(
        collect(rest, max, chunk, step, None),
        naive(rest, max, None)
    );
    if !needle.is_empty() {
        assert_eq!(
            collect(rest, max, chunk, step, Some(&needle)),
            naive(rest, max, Some(&needle)),
            "needle {:?} max {max} chunk {chunk}",
            String::from_utf8_lossy(&needle)
        );
    }
}

fn collect(input: &[u8], max: usize, chunk: usize, step: usize, needle: Option<&[u8]>) -> Got {
    let finder = needle.map(Finder::new);
    let rdr = Stingy {
        data: input,
        step,
        calls: 0,
    };
    let mut r = LineReader::with_limits(rdr, max, chunk);
    let mut out = Vec::new();
    while let Some(ev) = r.next_with(finder.as_ref()).expect("no I/O errors") {
        match ev {
            LineEvent::Line(l) => out.push((l.number, l.bytes.to_vec(), l.full.to_vec())),
            LineEvent::TooLong { number, length } => out.push((
                number,
                format!("<too long {length}>").into_bytes(),
                Vec::new(),
            )),
        }
    }
    out
}

/// The obvious splitter: lines end at `\n`, a `\r` before it is not part of
/// the line, a line over `max` bytes is reported (with or without a needle),
/// and with a needle only lines containing it are kept.
fn naive(input: &[u8], max: usize, needle: Option<&[u8]>) -> Got {
    let mut out = Vec::new();
    let mut n = 0;
    let mut rest = input;
    while !rest.is_empty() {
        let (full, tail) = match rest.iter().position(|&b| b == b'\n') {
            Some(p) => (&rest[..=p], &rest[p + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = tail;
        n += 1;
        let mut bytes = full;
        if let Some(b) = bytes.strip_suffix(b"\n") {
            bytes = b.strip_suffix(b"\r").unwrap_or(b);
        }
        if bytes.len() > max {
            out.push((
                n,
                format!("<too long {}>", bytes.len()).into_bytes(),
                Vec::new(),
            ));
            continue;
        }
        if let Some(nd) = needle
            && !full.windows(nd.len()).any(|w| w == nd)
        {
            continue;
        }
        out.push((n, bytes.to_vec(), full.to_vec()));
    }
    out
}
