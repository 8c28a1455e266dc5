//! Inputs: a file path or standard input, opened as a byte stream with
//! transparent decompression.
//!
//! Compression is detected from the first bytes (gzip `1f 8b`, zstd
//! `28 b5 2f fd`), never from the file name, so `zcat`-less pipelines and
//! renamed files work alike. At most one input may be standard input: a second
//! `-` would read an already exhausted stream.
//!
//! A compressed input is decoded as far as it is intact: every byte the
//! decoder produced before a cut or damage is handed on (zstd by libzstd,
//! which gives each block as it is decoded; gzip member by member), then the
//! read fails with a [`Damaged`] that says at which byte of the file.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};

/// A byte stream that can be read on another thread (see [`crate::ahead`]).
pub type Stream = Box<dyn Read + Send>;

/// One input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`, or no file given).
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl Input {
    /// Interprets a command-line argument: `-` is standard input.
    pub fn from_arg(arg: &OsStr) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }

    /// Turns a list of arguments into inputs: none means standard input, and
    /// standard input may be named once only.
    pub fn from_args(args: &[OsString]) -> Result<Vec<Input>> {
        let inputs: Vec<Input> = if args.is_empty() {
            vec![Input::Stdin]
        } else {
            args.iter().map(|a| Input::from_arg(a)).collect()
        };
        if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
            return Err(Error::usage(
                "standard input ('-') can be named only once among the inputs",
            ));
        }
        Ok(inputs)
    }

    /// The name shown in messages: the path as given, or `<stdin>`.
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::Path(p) => p.display().to_string(),
        }
    }

    /// Opens the input for reading, decompressing it when its first bytes say
    /// it is gzip or zstd.
    pub fn open(&self) -> Result<Opened> {
        let wrap = |source: io::Error| Error::Input {
            input: self.display(),
            source,
        };
        let mut file = None;
        let raw: Stream = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::Path(p) => {
                let f = File::open(p).map_err(wrap)?;
                let meta = f.metadata().ok();
                if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
                    return Err(wrap(io::Error::other("is a directory")));
                }
                // A regular file that says how long it is can be read at
                // any offset (files of /proc and the like say 0).
                if meta.is_some_and(|m| m.is_file() && m.len() > 0) {
                    file = f.try_clone().ok().map(Arc::new);
                }
                Box::new(f)
            }
        };
        let mut opened = open_stream(raw).map_err(wrap)?;
        if opened.encoding == Encoding::Plain {
            opened.file = file;
        }
        Ok(opened)
    }
}

/// What an input turned out to contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Plain bytes.
    Plain,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
    /// QEMU's binary "simple" trace backend format (header magic found,
    /// possibly after decompression).
    SimpleTrace,
}

/// An opened input: a byte stream plus what it was detected to be.
pub struct Opened {
    /// The (decompressed) bytes.
    pub reader: Stream,
    /// How the stream was encoded.
    pub encoding: Encoding,
    /// The file itself, when the input is a plain regular file: it can then
    /// be read at any offset, by several threads at once
    /// ([`crate::chunks`]). Its bytes are those of `reader`, from the start.
    pub file: Option<Arc<File>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("encoding", &self.encoding)
            .field("file", &self.file.is_some())
            .finish()
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// A simple-trace file starts with an all-ones event id and this magic (host order).
const SIMPLE_MAGIC: u64 = 0xf2b1_77cb_0aa4_29b4;

/// Reads up to `buf.len()` bytes, stopping early only at end of stream.
fn read_head(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn is_simple_trace(head: &[u8]) -> bool {
    if head.len() < 16 || head[..8] != [0xff; 8] {
        return false;
    }
    let m: [u8; 8] = head[8..16].try_into().expect("8 bytes");
    u64::from_le_bytes(m) == SIMPLE_MAGIC || u64::from_be_bytes(m) == SIMPLE_MAGIC
}

/// What a stream whose first bytes are `head` (up to 16 of them) holds, by
/// its magic (a compressed simple trace is named by its compression).
pub fn sniff(head: &[u8]) -> Encoding {
    if head.starts_with(&GZIP_MAGIC) {
        Encoding::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) || is_skippable(head) {
        Encoding::Zstd
    } else if is_simple_trace(head) {
        Encoding::SimpleTrace
    } else {
        Encoding::Plain
    }
}

/// Detects the encoding of a stream from its first bytes and returns a reader
/// of its decoded bytes. Nested compression (a gzip of a zstd) is not unwrapped.
pub fn open_stream(mut raw: Stream) -> io::Result<Opened> {
    let mut head = [0u8; 16];
    let n = read_head(&mut *raw, &mut head)?;
    let head = head[..n].to_vec();
    let encoding = sniff(&head);
    let reader: Stream = match encoding {
        Encoding::Gzip => Box::new(GzipMembers::Between(Counted::new(&head, raw))),
        Encoding::Zstd => Box::new(ZstdFrames::new(Counted::new(&head, raw))?),
        Encoding::SimpleTrace | Encoding::Plain => Box::new(io::Cursor::new(head).chain(raw)),
    };
    if matches!(encoding, Encoding::Gzip | Encoding::Zstd) {
        // A compressed simple trace: look at the decompressed header too. A
        // decoding error here is kept for the first read that reaches it, so
        // the lines before it still come out.
        let mut reader = reader;
        let mut inner = [0u8; 16];
        let mut n = 0;
        let mut pending = None;
        while n < inner.len() {
            match reader.read(&mut inner[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    pending = Some(e);
                    break;
                }
            }
        }
        let inner = inner[..n].to_vec();
        let simple = pending.is_none() && is_simple_trace(&inner);
        let reader: Stream = Box::new(HeadThen {
            head: io::Cursor::new(inner),
            pending,
            rest: reader,
        });
        let encoding = if simple {
            Encoding::SimpleTrace
        } else {
            encoding
        };
        return Ok(Opened {
            reader,
            encoding,
            file: None,
        });
    }
    Ok(Opened {
        reader,
        encoding,
        file: None,
    })
}

/// Bytes already read, then an error met while reading them (if any), then
/// the rest of the stream.
struct HeadThen {
    head: io::Cursor<Vec<u8>>,
    pending: Option<io::Error>,
    rest: Stream,
}

impl Read for HeadThen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        self.rest.read(buf)
    }
}

/// True for the magic of a zstd skippable frame (`0x184D2A50`–`0x184D2A5F`,
/// little-endian), which carries no data (pzstd writes one before each frame).
fn is_skippable(m: &[u8]) -> bool {
    m.len() >= 4 && m[0] & 0xf0 == 0x50 && m[1..4] == [0x2a, 0x4d, 0x18]
}

/// Compressed input found damaged: cut short, or bytes that do not decode.
///
/// Everything decoded before the damage has been handed on by then; this
/// error comes from the read that reached it, inside an
/// [`io::ErrorKind::InvalidData`] I/O error (see [`Damaged::find`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// `gzip` or `zstd`.
    format: &'static str,
    /// Where the zstd frame or gzip member holding the damage starts.
    unit_start: u64,
    /// How far into the file the decoder got: gzip's decoder stops at the
    /// byte that does not decode; libzstd says only that a step of at most
    /// 128 KiB of input failed, and this is where the step starts. A
    /// checksum that does not match is found at the frame's (member's) end:
    /// the damage is then somewhere between `unit_start` and here.
    at: u64,
    /// What the decoder said.
    what: String,
    /// The line of the decompressed text the damage falls in, once known.
    line: Option<u64>,
}

impl Damaged {
    /// The byte of the (compressed) file where decoding stopped.
    pub fn offset(&self) -> u64 {
        self.at
    }

    /// The same damage, placed in line `line` of the decompressed text.
    #[must_use]
    pub fn in_line(mut self, line: u64) -> Damaged {
        self.line = Some(line);
        self
    }

    /// The damage an I/O error reports, if it is one.
    pub fn find(e: &io::Error) -> Option<&Damaged> {
        e.get_ref()?.downcast_ref()
    }

    /// Wraps the damage as the I/O error readers return.
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = if self.format == "gzip" {
            "member"
        } else {
            "frame"
        };
        write!(
            f,
            "compressed data damaged at byte {} of the file ({} {unit} starting at byte {}",
            self.at, self.format, self.unit_start
        )?;
        if let Some(line) = self.line {
            write!(f, ", in line {line} of the decompressed text")?;
        }
        write!(f, "): {}", self.what)
    }
}

impl std::error::Error for Damaged {}

/// A decoder's message as the tail of ours: first letter in lower case, and
/// what a checksum that does not match means for the lines already read.
fn decoder_says(e: &io::Error) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    let mut what: String = match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "the decoder failed".to_string(),
    };
    if what.contains("checksum") {
        what.push_str(
            " (the damage is somewhere after the start of the frame or member, \
             and the lines read from it may carry it)",
        );
    }
    what
}

/// Bytes of compressed input buffered for the decoder at a time (what libzstd
/// asks for: one block and its header).
const COMPRESSED_BUF: usize = 128 << 10;

/// The compressed bytes of an input, buffered here so that the decoder's
/// position in the file is known when it finds damage.
struct Counted {
    inner: Stream,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// Bytes handed to the decoder before `buf[pos]`.
    used: u64,
    /// The stream said end of file.
    eof: bool,
    /// The last refill failed: an error of the file, not of its contents.
    failed: bool,
}

impl Counted {
    /// `head` (the bytes read to detect the encoding) then `inner`.
    fn new(head: &[u8], inner: Stream) -> Counted {
        let mut buf = vec![0; COMPRESSED_BUF.max(head.len())].into_boxed_slice();
        buf[..head.len()].copy_from_slice(head);
        Counted {
            inner,
            buf,
            pos: 0,
            filled: head.len(),
            used: 0,
            eof: false,
            failed: false,
        }
    }

    /// True when every byte of the stream was handed to the decoder.
    fn at_end(&self) -> bool {
        self.eof && self.pos == self.filled
    }
}

impl Read for Counted {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl io::BufRead for Counted {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled && !self.eof {
            self.pos = 0;
            self.filled = 0;
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.filled = n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.failed = true;
                        return Err(e);
                    }
                }
                break;
            }
        }
        self.failed = false;
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.filled - self.pos);
        self.pos += n;
        self.used += n as u64;
    }
}

/// Decoded bytes asked of libzstd per call, at most. A call that meets
/// damage reports no output, so what it decoded before the damage is lost:
/// this keeps that to one block, as `zstd -dc` does (it decodes into a
/// buffer of this size).
const ZSTD_OUT_STEP: usize = 128 << 10;

/// Decodes every frame of a zstd stream (skippable frames are skipped) with
/// libzstd, which hands on each block as soon as it is decoded: a cut or
/// damaged file gives everything before the damage, then a [`Damaged`].
struct ZstdFrames {
    src: Counted,
    dec: zstd::stream::raw::Decoder<'static>,
    /// Where the frame being decoded (or the next one) starts.
    frame_start: u64,
    /// The decoder has taken bytes of a frame it has not finished.
    in_frame: bool,
    /// An error met after some output; the next read returns it.
    pending: Option<io::Error>,
    done: bool,
}

impl ZstdFrames {
    fn new(src: Counted) -> io::Result<ZstdFrames> {
        Ok(ZstdFrames {
            src,
            dec: zstd::stream::raw::Decoder::new()?,
            frame_start: 0,
            in_frame: false,
            pending: None,
            done: false,
        })
    }

    fn damage(&self, what: String) -> io::Error {
        Damaged {
            format: "zstd",
            unit_start: self.frame_start,
            at: self.src.used,
            what,
            line: None,
        }
        .into_io()
    }

    /// One step: feeds the buffered input to the decoder, writing into `out`.
    /// `Ok(None)` at a clean end of the stream.
    fn step(&mut self, out: &mut [u8]) -> io::Result<Option<usize>> {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        let input = self.src.fill_buf()?;
        if input.is_empty() {
            if self.in_frame {
                return Err(self.damage("the file ends inside the frame (cut short?)".into()));
            }
            return Ok(None);
        }
        let mut inb = InBuffer::around(input);
        let mut outb = OutBuffer::around(out);
        let result = self.dec.run(&mut inb, &mut outb);
        let (used, wrote) = (inb.pos(), outb.pos());
        match result {
            Ok(0) => {
                self.src.consume(used);
                // A frame ended (and was checked); the next starts here.
                self.in_frame = false;
                self.frame_start = self.src.used;
            }
            Ok(_) => {
                self.src.consume(used);
                self.in_frame = true;
                if used == 0 && wrote == 0 {
                    return Err(self.damage("the decoder made no progress".into()));
                }
            }
            Err(e) => {
                let what = if !self.in_frame && self.frame_start > 0 {
                    format!(
                        "the bytes after the end of the last frame are not zstd data ({})",
                        decoder_says(&e)
                    )
                } else {
                    decoder_says(&e)
                };
                self.src.consume(used);
                return Err(self.damage(what));
            }
        }
        Ok(Some(wrote))
    }
}

impl Read for ZstdFrames {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Err(e);
        }
        if buf.is_empty() || self.done {
            return Ok(0);
        }
        let mut produced = 0;
        while produced < buf.len() {
            // What is decoded goes on rather than wait for more input.
            if produced > 0 && self.src.pos == self.src.filled {
                break;
            }
            let end = buf.len().min(produced + ZSTD_OUT_STEP);
            match self.step(&mut buf[produced..end]) {
                Ok(Some(n)) => produced += n,
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(e) if produced > 0 => {
                    self.pending = Some(e);
                    break;
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
        Ok(produced)
    }
}

/// Decodes every member of a gzip stream, reporting damage with the byte
/// where it was found.
enum GzipMembers {
    /// At a member boundary.
    Between(Counted),
    /// Inside a member that starts at byte `start`.
    In {
        dec: Box<flate2::bufread::GzDecoder<Counted>>,
        start: u64,
    },
    /// After the last member (or damage).
    Done,
}

impl Read for GzipMembers {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(self, GzipMembers::Done) {
                GzipMembers::Done => return Ok(0),
                GzipMembers::Between(mut src) => {
                    let next = src.fill_buf()?;
                    if next.is_empty() {
                        return Ok(0);
                    }
                    let is_member = GZIP_MAGIC.starts_with(&next[..next.len().min(2)]);
                    let start = src.used;
                    if !is_member {
                        return Err(Damaged {
                            format: "gzip",
                            unit_start: start,
                            at: start,
                            what: "the bytes after the end of the last member are not gzip data"
                                .into(),
                            line: None,
                        }
                        .into_io());
                    }
                    *self = GzipMembers::In {
                        dec: Box::new(flate2::bufread::GzDecoder::new(src)),
                        start,
                    };
                }
                GzipMembers::In { mut dec, start } => match dec.read(buf) {
                    Ok(0) => *self = GzipMembers::Between(dec.into_inner()),
                    Ok(n) => {
                        *self = GzipMembers::In { dec, start };
                        return Ok(n);
                    }
                    Err(e) => {
                        let src = dec.get_ref();
                        if src.failed {
                            return Err(e);
                        }
                        let what = if src.at_end() {
                            "the file ends inside the member (cut short?)".to_string()
                        } else {
                            decoder_says(&e)
                        };
                        return Err(Damaged {
                            format: "gzip",
                            unit_start: start,
                            at: src.used,
                            what,
                            line: None,
                        }
                        .into_io());
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(o: Opened) -> Vec<u8> {
        let mut v = Vec::new();
        let mut r = o.reader;
        r.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn plain_passes_through() {
        let o = open_stream(Box::new(io::Cursor::new(b"abc\n".to_vec()))).unwrap();
        assert_eq!(o.encoding, Encoding::Plain);
        assert_eq!(read_all(o), b"abc\n");
    }

    #[test]
    fn short_and_empty_streams() {
        let o = open_stream(Box::new(io::Cursor::new(Vec::new()))).unwrap();
        assert_eq!(read_all(o), b"");
        let o = open_stream(Box::new(io::Cursor::new(vec![0x1f]))).unwrap();
        assert_eq!(o.encoding, Encoding::Plain);
        assert_eq!(read_all(o), [0x1f]);
    }

    #[test]
    fn gzip_is_detected_by_magic_and_multi_member() {
        let mut gz = Vec::new();
        for part in [&b"one\n"[..], b"two\n"] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let o = open_stream(Box::new(io::Cursor::new(gz))).unwrap();
        assert_eq!(o.encoding, Encoding::Gzip);
        assert_eq!(read_all(o), b"one\ntwo\n");
    }

    #[test]
    fn truncated_gzip_is_an_error_not_a_panic() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&b"pci_cfg_read x 00:00.0 @0x0 -> 0x0\n".repeat(1000))
            .unwrap();
        let gz = e.finish().unwrap();
        let cut = gz[..gz.len() / 2].to_vec();
        let o = open_stream(Box::new(io::Cursor::new(cut))).unwrap();
        let mut r = o.reader;
        let mut v = Vec::new();
        assert!(r.read_to_end(&mut v).is_err());
    }

    /// Trace-like lines with pseudo-random values: they compress evenly, so
    /// a cut at a fraction of the compressed file falls near the same
    /// fraction of the text.
    fn trace_text(lines: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut text = Vec::new();
        for i in 0..lines {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.extend(
                format!(
                    "pci_cfg_read dev{} 00:{:02x}.{} @0x{:x} -> 0x{:08x}\n",
                    i % 97,
                    i % 32,
                    i % 8,
                    x % 256,
                    x >> 32
                )
                .as_bytes(),
            );
        }
        text
    }

    /// As the zstd tool writes it: with the content checksum.
    fn zstd_of(text: &[u8]) -> Vec<u8> {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.include_checksum(true).unwrap();
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn gzip_of(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    /// Hands on at most 7 bytes per read, so buffers fill at odd places.
    struct Dribble(io::Cursor<Vec<u8>>);

    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(7);
            self.0.read(&mut buf[..n])
        }
    }

    /// Reads until the end or the first error: the bytes, and the error.
    fn decode(file: Vec<u8>, dribble: bool) -> (Vec<u8>, Option<io::Error>) {
        let raw: Stream = if dribble {
            Box::new(Dribble(io::Cursor::new(file)))
        } else {
            Box::new(io::Cursor::new(file))
        };
        let mut r = open_stream(raw).unwrap().reader;
        let mut out = Vec::new();
        let mut buf = vec![0; 256 << 10];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn common_prefix(a: &[u8], b: &[u8]) -> usize {
        a.iter().zip(b).take_while(|(x, y)| x == y).count()
    }

    #[test]
    fn cut_zstd_gives_everything_before_the_cut_then_the_byte() {
        // See: issue 20 (a cut zstd file lost the last window, 4 MiB, of text).
        let text = trace_text(60_000);
        let z = zstd_of(&text);
        for (dribble, percent) in [(false, 10), (false, 50), (false, 90), (true, 50)] {
            let cut = z.len() * percent / 100;
            let (out, err) = decode(z[..cut].to_vec(), dribble);
            assert_eq!(&text[..out.len()], &out[..], "a prefix of the text");
            // Everything but the block the cut falls in (at most 128 KiB).
            let expected = text.len() * percent / 100;
            assert!(
                out.len() + (192 << 10) > expected,
                "{percent}%: {} of {expected} bytes",
                out.len()
            );
            let err = err.expect("an error after the text");
            let damage = Damaged::find(&err).expect("a Damaged");
            assert_eq!(damage.offset(), cut as u64);
            assert_eq!(
                err.to_string(),
                format!(
                    "compressed data damaged at byte {cut} of the file (zstd frame starting at \
                     byte 0): the file ends inside the frame (cut short?)"
                )
            );
        }
    }

    #[test]
    fn flipped_zstd_byte_gives_what_came_before_and_an_error() {
        let text = trace_text(60_000);
        let mut z = zstd_of(&text);
        let at = z.len() / 2;
        z[at] ^= 0x40;
        let (out, err) = decode(z, false);
        // The blocks before the damaged one came out (compressed blocks do
        // not all hold the same length of text: a third, not a half).
        let good = common_prefix(&out, &text);
        assert!(good > text.len() / 3, "{good} good bytes");
        let err = err.expect("the damage is reported");
        let damage = Damaged::find(&err).expect("a Damaged");
        // libzstd decodes a step of up to 128 KiB of input at a time and
        // says only that the step failed: the offset is that step's start.
        assert!(
            damage.offset() <= at as u64 && damage.offset() + (128 << 10) > at as u64,
            "flipped at {at}: {err}"
        );
    }

    #[test]
    fn zstd_frames_and_skippable_frames_follow_each_other() {
        let mut z = zstd_of(b"one\n");
        z.extend([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        let second = z.len();
        z.extend(zstd_of(b"two\n"));
        for dribble in [false, true] {
            let (out, err) = decode(z.clone(), dribble);
            assert_eq!(out, b"one\ntwo\n");
            assert!(err.is_none(), "{err:?}");
        }
        // A cut in the second frame says where that frame starts.
        let (out, err) = decode(z[..z.len() - 2].to_vec(), false);
        assert!(out.starts_with(b"one\n") && b"one\ntwo\n".starts_with(&out));
        let err = err.unwrap().to_string();
        assert!(
            err.contains(&format!("(zstd frame starting at byte {second})")),
            "{err}"
        );
        // Bytes after the last frame that are no frame.
        let mut z = zstd_of(b"one\n");
        let end = z.len();
        z.extend(b"garbage!");
        let (out, err) = decode(z, false);
        assert_eq!(out, b"one\n");
        let err = err.unwrap();
        assert_eq!(Damaged::find(&err).unwrap().offset(), end as u64, "{err}");
        assert!(err.to_string().contains("not zstd data"), "{err}");
    }

    #[test]
    fn cut_gzip_gives_everything_before_the_cut_then_the_byte() {
        let text = trace_text(60_000);
        let g = gzip_of(&text);
        for (dribble, percent) in [(false, 10), (false, 50), (true, 50)] {
            let cut = g.len() * percent / 100;
            let (out, err) = decode(g[..cut].to_vec(), dribble);
            assert_eq!(&text[..out.len()], &out[..]);
            assert!(out.len() + (192 << 10) > text.len() * percent / 100);
            let err = err.unwrap();
            assert_eq!(
                err.to_string(),
                format!(
                    "compressed data damaged at byte {cut} of the file (gzip member starting at \
                     byte 0): the file ends inside the member (cut short?)"
                )
            );
        }
    }

    #[test]
    fn gzip_members_damage_and_trailing_bytes_are_placed() {
        let mut g = gzip_of(b"one\n");
        let second = g.len();
        g.extend(gzip_of(b"two\n"));
        let (out, err) = decode(g.clone(), true);
        assert_eq!((out, err.is_none()), (b"one\ntwo\n".to_vec(), true));
        // The second member's checksum damaged.
        let mut bad = g.clone();
        let crc = bad.len() - 8;
        bad[crc] ^= 1;
        let (out, err) = decode(bad, false);
        assert_eq!(out, b"one\ntwo\n");
        let err = err.unwrap();
        assert!(
            err.to_string().contains(&format!(
                "(gzip member starting at byte {second}): corrupt gzip stream does not have a \
                 matching checksum (the damage is somewhere"
            )),
            "{err}"
        );
        // Bytes after the last member that are no member.
        let mut trailing = g;
        let end = trailing.len();
        trailing.extend(b"garbage!");
        let (out, err) = decode(trailing, false);
        assert_eq!(out, b"one\ntwo\n");
        let err = err.unwrap();
        assert_eq!(Damaged::find(&err).unwrap().offset(), end as u64);
        assert!(err.to_string().contains("not gzip data"), "{err}");
    }

    #[test]
    fn damage_is_placed_in_a_line() {
        let d = Damaged {
            format: "zstd",
            unit_start: 0,
            at: 145_078,
            what: "the file ends inside the frame (cut short?)".into(),
            line: None,
        };
        assert_eq!(
            d.in_line(25_218).to_string(),
            "compressed data damaged at byte 145078 of the file (zstd frame starting at byte 0, \
             in line 25218 of the decompressed text): the file ends inside the frame (cut short?)"
        );
    }

    #[test]
    fn simple_trace_header_is_recognised() {
        let mut h = vec![0xff; 8];
        h.extend(SIMPLE_MAGIC.to_le_bytes());
        h.extend(4u64.to_le_bytes());
        let o = open_stream(Box::new(io::Cursor::new(h))).unwrap();
        assert_eq!(o.encoding, Encoding::SimpleTrace);
    }

    #[test]
    fn stdin_only_once() {
        assert!(Input::from_args(&["-".into(), "-".into()]).is_err());
        assert_eq!(Input::from_args(&[]).unwrap(), vec![Input::Stdin]);
    }
}
