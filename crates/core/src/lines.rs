//! Splitting a byte stream into lines with one reused buffer, in bounded memory.
//!
//! [`LineReader`] reads large chunks straight into its own buffer and hands out
//! lines that borrow from it (no allocation per line). Lines end at `\n`; a
//! `\r` before it is not part of [`Line::bytes`] but stays in [`Line::full`],
//! which is exactly what the input held. A last line without a newline is still
//! a line. A line longer than the configured bound is not kept in memory: it is
//! skipped up to its newline and reported as [`LineEvent::TooLong`] with its
//! number, and reading goes on.
//!
//! With a prefilter ([`LineReader::next_with`]), lines that cannot contain a
//! needle are skipped with a vectorised substring search over the whole buffer
//! instead of being looked at one by one; line numbers stay exact.

use std::io::{self, Read};

use memchr::memmem::Finder;

use crate::swar;

/// Default bound on the length of one line: 16 MiB.
pub const DEFAULT_MAX_LINE: usize = 16 << 20;
/// How much is read at once.
const CHUNK: usize = 256 << 10;
/// Stretches of skipped lines up to this long (a few lines, between two
/// dense matches of a prefilter) have their newlines counted a word at a
/// time; the vectorised count's set-up only pays off on longer ones.
const SHORT_STRETCH: usize = 256;

/// One line of input, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number within its input.
    pub number: u64,
    /// The line without its terminator (`\n` or `\r\n`).
    pub bytes: &'a [u8],
    /// The line exactly as in the input, terminator included (none on a last
    /// line that had none).
    pub full: &'a [u8],
}

/// What [`LineReader::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEvent<'a> {
    /// A line.
    Line(Line<'a>),
    /// A line longer than the bound; it was skipped.
    TooLong {
        /// Its line number.
        number: u64,
        /// Its length in bytes (without the newline).
        length: u64,
    },
}

/// Reads lines from any byte stream in bounded memory.
#[derive(Debug)]
pub struct LineReader<R> {
    rdr: R,
    buf: Vec<u8>,
    /// Start of the unconsumed data.
    start: usize,
    /// End of valid data.
    end: usize,
    /// Where the newline search may resume (no newline in `start..scan`).
    scan: usize,
    eof: bool,
    /// Number of the last line handed out (or skipped).
    number: u64,
    /// Added to `number` per line: 1, or 0 when numbering is off.
    per_line: u64,
    max_line: usize,
    chunk: usize,
}

impl<R: LineSource> LineReader<R> {
    /// A reader with the default line bound.
    pub fn new(rdr: R) -> Self {
        Self::with_limits(rdr, DEFAULT_MAX_LINE, CHUNK)
    }

    /// A reader with a line bound and read size of your choosing (tests use
    /// tiny ones to hit every buffer boundary).
    pub fn with_limits(rdr: R, max_line: usize, chunk: usize) -> Self {
        let chunk = chunk.max(1);
        LineReader {
            rdr,
            buf: Vec::new(),
            start: 0,
            end: 0,
            scan: 0,
            eof: false,
            number: 0,
            per_line: 1,
            max_line: max_line.max(1),
            chunk,
        }
    }

    /// The number of the last line returned.
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// Turns line numbering off (or on again): off, every line and
    /// over-long line comes with number 0, and the lines a prefilter skips
    /// are not counted, which saves a pass over them. A caller that needs
    /// a number then works it out from where the line lies in the input
    /// (as [`crate::chunks`] does).
    pub fn set_numbering(&mut self, on: bool) {
        self.per_line = u64::from(on);
    }

    /// Where in the buffer the next line starts: everything before it has
    /// been handed out or skipped (right after an over-long line, the byte
    /// after that line's end).
    pub(crate) fn next_start(&self) -> usize {
        self.start
    }

    /// The source the bytes come from.
    pub fn source(&self) -> &R {
        &self.rdr
    }

    /// The source, to point it at more input before [`restart`](Self::restart).
    pub fn source_mut(&mut self) -> &mut R {
        &mut self.rdr
    }

    /// Starts over on what the source gives next: no bytes buffered, not at
    /// the end, line numbers from 1 again. The buffer is kept for reuse.
    pub fn restart(&mut self) {
        self.start = 0;
        self.end = 0;
        self.scan = 0;
        self.eof = false;
        self.number = 0;
    }

    /// The next line, or `None` at the end of the stream.
    pub fn next_line(&mut self) -> io::Result<Option<LineEvent<'_>>> {
        self.next_with(None)
    }

    /// Like [`next_line`](Self::next_line), but when a prefilter is given,
    /// only lines that contain its needle are returned (others are skipped
    /// and counted). Too-long lines are reported either way.
    pub fn next_with(
        &mut self,
        prefilter: Option<&Finder<'_>>,
    ) -> io::Result<Option<LineEvent<'_>>> {
        loop {
            if let Some(finder) = prefilter {
                let needle_len = finder.needle().len().max(1);
                if let Some(i) = finder.find(&self.buf[self.scan..self.end]) {
                    let at = self.scan + i;
                    let line_start = match memchr::memrchr(b'\n', &self.buf[self.start..at]) {
                        Some(p) => self.start + p + 1,
                        None => self.start,
                    };
                    if line_start > self.start {
                        if let Some(ev) = self.skip_complete(line_start) {
                            return Ok(Some(ev));
                        }
                    }
                    match memchr::memchr(b'\n', &self.buf[at..self.end]) {
                        Some(p) => {
                            let nl = at + p;
                            return Ok(Some(self.take_line(nl + 1)));
                        }
                        None => {
                            // The line holding the needle continues past the buffer.
                            self.scan = self.start;
                            if self.eof {
                                let end = self.end;
                                return Ok(Some(self.take_line(end)));
                            }
                        }
                    }
                } else {
                    // No needle here: drop every complete line.
                    if let Some(p) = memchr::memrchr(b'\n', &self.buf[self.start..self.end]) {
                        let cut = self.start + p + 1;
                        if let Some(ev) = self.skip_complete(cut) {
                            return Ok(Some(ev));
                        }
                    }
                    self.scan = self.end.saturating_sub(needle_len - 1).max(self.start);
                    if self.eof {
                        if self.start < self.end {
                            // A last line without newline and without the needle.
                            let length = (self.end - self.start) as u64;
                            self.number += self.per_line;
                            self.start = self.end;
                            if length > self.max_line as u64 {
                                return Ok(Some(LineEvent::TooLong {
                                    number: self.number,
                                    length,
                                }));
                            }
                        }
                        return Ok(None);
                    }
                }
            } else {
                if let Some(p) = memchr::memchr(b'\n', &self.buf[self.scan..self.end]) {
                    let nl = self.scan + p;
                    return Ok(Some(self.take_line(nl + 1)));
                }
                self.scan = self.end;
                if self.eof {
                    if self.start < self.end {
                        let end = self.end;
                        return Ok(Some(self.take_line(end)));
                    }
                    return Ok(None);
                }
            }
            // Need more data for the line that starts at `start`.
            // One byte of slack: the line may still end in "\r\n".
            if self.end - self.start > self.max_line.saturating_add(1) {
                return self.skip_long_line().map(Some);
            }
            self.fill()?;
        }
    }

    /// Skips the complete lines in `start..cut` (which ends after a newline)
    /// unseen, counting them when numbering. A region longer than the line
    /// bound may hold an over-long line: then the lines are walked, and the
    /// first over-long one is returned (the scan resumes after it on the
    /// next call).
    fn skip_complete(&mut self, cut: usize) -> Option<LineEvent<'static>> {
        if cut - self.start <= self.max_line {
            if self.per_line != 0 {
                self.number += count_newlines(&self.buf[self.start..cut]);
            }
            self.start = cut;
            return None;
        }
        while self.start < cut {
            let nl = self.start
                + memchr::memchr(b'\n', &self.buf[self.start..cut]).expect("cut ends a line");
            let mut len = nl - self.start;
            if len > 0 && self.buf[nl - 1] == b'\r' {
                len -= 1;
            }
            self.start = nl + 1;
            self.number += self.per_line;
            if len > self.max_line {
                self.scan = self.scan.max(self.start);
                return Some(LineEvent::TooLong {
                    number: self.number,
                    length: len as u64,
                });
            }
        }
        None
    }

    /// Hands out `start..end_incl_newline` as a line and advances past it.
    fn take_line(&mut self, stop: usize) -> LineEvent<'_> {
        let full_range = self.start..stop;
        self.start = stop;
        self.scan = stop;
        self.number += self.per_line;
        let full = &self.buf[full_range];
        let mut bytes = full;
        if let Some(b) = bytes.strip_suffix(b"\n") {
            bytes = b.strip_suffix(b"\r").unwrap_or(b);
        }
        if bytes.len() > self.max_line {
            return LineEvent::TooLong {
                number: self.number,
                length: bytes.len() as u64,
            };
        }
        LineEvent::Line(Line {
            number: self.number,
            bytes,
            full,
        })
    }

    /// Discards the current over-long line up to and including its newline.
    fn skip_long_line(&mut self) -> io::Result<LineEvent<'static>> {
        let mut length = (self.end - self.start) as u64;
        let mut last = self.buf[self.end - 1];
        // Drop what was buffered of the line: nothing of it is kept.
        self.start = self.end;
        self.scan = self.end;
        let mut ended_by_newline = false;
        while !self.eof {
            self.fill()?;
            let region = &self.buf[self.start..self.end];
            if let Some(p) = memchr::memchr(b'\n', region) {
                length += p as u64;
                if p > 0 {
                    last = region[p - 1];
                }
                self.start += p + 1;
                self.scan = self.start;
                ended_by_newline = true;
                break;
            }
            length += region.len() as u64;
            if let Some(&b) = region.last() {
                last = b;
            }
            self.start = self.end;
            self.scan = self.end;
        }
        if ended_by_newline && last == b'\r' {
            length -= 1;
        }
        self.number += self.per_line;
        Ok(LineEvent::TooLong {
            number: self.number,
            length,
        })
    }

    /// Makes more bytes available after `end`, keeping the unconsumed ones.
    fn fill(&mut self) -> io::Result<()> {
        let more = self.rdr.refill(
            &mut self.buf,
            Window {
                start: &mut self.start,
                end: &mut self.end,
                scan: &mut self.scan,
            },
            self.chunk,
        )?;
        if !more {
            self.eof = true;
        }
        Ok(())
    }
}

/// The unconsumed part of a [`LineReader`]'s buffer, which a
/// [`LineSource`] must keep (it may move it, shifting all three by the same
/// amount).
#[derive(Debug)]
pub struct Window<'a> {
    /// Start of the unconsumed bytes.
    pub start: &'a mut usize,
    /// End of the valid bytes.
    pub end: &'a mut usize,
    /// Where the newline search resumes (between start and end).
    pub scan: &'a mut usize,
}

/// Where a [`LineReader`]'s bytes come from. Every [`Read`] is one (bytes
/// are read into the reader's own buffer); [`crate::prefetch::Prefetch`]
/// hands over whole buffers filled on another thread instead of copying.
pub trait LineSource {
    /// Adds bytes after `*w.end` (possibly swapping `buf` for another buffer
    /// holding the unconsumed bytes); returns `false` at end of stream. On
    /// the first call after the reader (re)starts, a source may also move
    /// `*w.start` and `*w.scan` forward over bytes it read that are not the
    /// reader's (the end of a line that began before a chunk, see
    /// [`crate::chunks`]).
    fn refill(&mut self, buf: &mut Vec<u8>, w: Window<'_>, chunk: usize) -> io::Result<bool>;
}

impl<R: Read> LineSource for R {
    fn refill(&mut self, buf: &mut Vec<u8>, w: Window<'_>, chunk: usize) -> io::Result<bool> {
        if *w.start > 0 {
            buf.copy_within(*w.start..*w.end, 0);
            *w.end -= *w.start;
            *w.scan -= *w.start;
            *w.start = 0;
        }
        if buf.len() - *w.end < chunk {
            let want = *w.end + chunk;
            buf.resize(want, 0);
        }
        loop {
            match self.read(&mut buf[*w.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    *w.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The newlines in `b`.
pub(crate) fn count_newlines(b: &[u8]) -> u64 {
    if b.len() <= SHORT_STRETCH {
        swar::count_newlines(b)
    } else {
        bytecount::count(b, b'\n') as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects `(number, bytes, full)` or `(number, "<too long N>")`.
    fn collect(
        input: &[u8],
        max: usize,
        chunk: usize,
        needle: Option<&[u8]>,
    ) -> Vec<(u64, Vec<u8>, Vec<u8>)> {
        let finder = needle.map(Finder::new);
        let mut r = LineReader::with_limits(input, max, chunk);
        let mut out = Vec::new();
        while let Some(ev) = r.next_with(finder.as_ref()).unwrap() {
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

    /// The obvious line splitter, used as the oracle.
    fn naive(input: &[u8], max: usize, needle: Option<&[u8]>) -> Vec<(u64, Vec<u8>, Vec<u8>)> {
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

    const SEEDS: &[&[u8]] = &[
        b"",
        b"\n",
        b"a",
        b"a\n",
        b"a\r\nb\r\n",
        b"one\ntwo\nthree",
        b"\n\n\nx\n",
        b"\r\n\r",
        b"pci_cfg_read a\nfoo\npci_cfg_read b\npci_cfg_rea",
        b"x\x00y\n\xff\xfe\nlast",
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nbb\naaaaaaaaaaaaaaa",
    ];

    #[test]
    fn matches_naive_splitter_at_every_buffer_size() {
        for seed in SEEDS {
            for chunk in 1..8 {
                for max in [1usize, 3, 10, 1000] {
                    assert_eq!(
                        collect(seed, max, chunk, None),
                        naive(seed, max, None),
                        "seed {:?} chunk {chunk} max {max}",
                        String::from_utf8_lossy(seed)
                    );
                }
            }
        }
    }

    #[test]
    fn prefilter_matches_naive_filter() {
        for seed in SEEDS {
            for needle in [&b"a"[..], b"pci_cfg_read ", b"\r", b"zz"] {
                for chunk in 1..8 {
                    assert_eq!(
                        collect(seed, 1000, chunk, Some(needle)),
                        naive(seed, 1000, Some(needle)),
                        "seed {:?} needle {:?} chunk {chunk}",
                        String::from_utf8_lossy(seed),
                        String::from_utf8_lossy(needle)
                    );
                }
            }
        }
    }

    #[test]
    fn prefilter_counts_skipped_stretches_of_every_length() {
        // Skipped stretches from empty to well past SHORT_STRETCH, so that
        // both ways of counting their newlines are taken, at buffer
        // boundaries of several sizes and with bounds below and above them.
        let mut input = Vec::new();
        for i in 0..90usize {
            for j in 0..i % 7 {
                input.extend(std::iter::repeat_n(
                    b'a' + (j % 3) as u8,
                    (i * 13 + j * 29) % 90,
                ));
                input.extend(if j % 2 == 0 { &b"\n"[..] } else { b"\r\n" });
            }
            input.extend(b"keep ");
            input.extend(std::iter::repeat_n(b'k', i * 5 % 70));
            input.push(b'\n');
        }
        for chunk in [7, 64, 300, 4096] {
            for max in [40, 100, 255, 256, 257, 1000] {
                assert_eq!(
                    collect(&input, max, chunk, Some(b"keep")),
                    naive(&input, max, Some(b"keep")),
                    "chunk {chunk} max {max}"
                );
            }
        }
    }

    #[test]
    fn long_line_is_skipped_without_buffering_it() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1 << 20));
        input.extend(b"\nafter\n");
        let mut r = LineReader::with_limits(&input[..], 1000, 4096);
        let mut seen = Vec::new();
        while let Some(ev) = r.next_line().unwrap() {
            seen.push(format!("{ev:?}").chars().take(60).collect::<String>());
        }
        assert_eq!(seen.len(), 3);
        assert!(
            seen[1].contains("TooLong { number: 2, length: 1048576 }"),
            "{}",
            seen[1]
        );
        assert!(r.buf.len() < 16 * 1024, "buffer grew to {}", r.buf.len());
    }

    proptest::proptest! {
        #[test]
        fn random_inputs_split_like_naive(
            input in crate::test_support::bytes_among(b"\n\rab", 0..200),
            chunk in 1usize..40,
            max in 1usize..60,
        ) {
            proptest::prop_assert_eq!(collect(&input, max, chunk, None), naive(&input, max, None));
            proptest::prop_assert_eq!(collect(&input, 10_000, chunk, Some(b"ab")), naive(&input, 10_000, Some(b"ab")));
            proptest::prop_assert_eq!(collect(&input, max, chunk, Some(b"ab")), naive(&input, max, Some(b"ab")));
            proptest::prop_assert_eq!(collect(&input, max, chunk, Some(b"a")), naive(&input, max, Some(b"a")));
        }
    }
}
