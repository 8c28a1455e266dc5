//! Inputs: a file path or standard input, opened as a byte stream with
//! transparent decompression.
//!
//! Compression is detected from the first bytes (gzip `1f 8b`, zstd
//! `28 b5 2f fd`), never from the file name, so `zcat`-less pipelines and
//! renamed files work alike. At most one input may be standard input: a second
//! `-` would read an already exhausted stream.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
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

/// Detects the encoding of a stream from its first bytes and returns a reader
/// of its decoded bytes. Nested compression (a gzip of a zstd) is not unwrapped.
pub fn open_stream(mut raw: Stream) -> io::Result<Opened> {
    let mut head = [0u8; 16];
    let n = read_head(&mut *raw, &mut head)?;
    let head = head[..n].to_vec();
    let (encoding, reader): (Encoding, Stream) = if head.starts_with(&GZIP_MAGIC) {
        let chained = io::Cursor::new(head).chain(raw);
        (
            Encoding::Gzip,
            Box::new(flate2::read::MultiGzDecoder::new(chained)),
        )
    } else if head.starts_with(&ZSTD_MAGIC) || is_skippable(&head) {
        let chained: Stream = Box::new(io::Cursor::new(head).chain(raw));
        (Encoding::Zstd, Box::new(ZstdFrames::Between(chained)))
    } else if is_simple_trace(&head) {
        (
            Encoding::SimpleTrace,
            Box::new(io::Cursor::new(head).chain(raw)),
        )
    } else {
        (Encoding::Plain, Box::new(io::Cursor::new(head).chain(raw)))
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

type ZstdDecoder = ruzstd::decoding::StreamingDecoder<Stream, ruzstd::decoding::FrameDecoder>;

/// True for the magic of a zstd skippable frame (`0x184D2A50`–`0x184D2A5F`,
/// little-endian), which carries no data (pzstd writes one before each frame).
fn is_skippable(m: &[u8]) -> bool {
    m.len() >= 4 && m[0] & 0xf0 == 0x50 && m[1..4] == [0x2a, 0x4d, 0x18]
}

fn zstd_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
}

/// Reads every frame of a multi-frame zstd stream, skipping skippable frames,
/// and turns decoder errors into `InvalidData` I/O errors that name the format.
enum ZstdFrames {
    /// At a frame boundary.
    Between(Stream),
    /// Inside a frame.
    In(Box<ZstdDecoder>),
    /// After the last frame (or a failed one).
    Done,
}

impl Read for ZstdFrames {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(self, ZstdFrames::Done) {
                ZstdFrames::Done => return Ok(0),
                ZstdFrames::In(mut dec) => {
                    let n = dec.read(buf).map_err(zstd_error)?;
                    if n > 0 {
                        *self = ZstdFrames::In(dec);
                        return Ok(n);
                    }
                    *self = ZstdFrames::Between(dec.into_inner());
                }
                ZstdFrames::Between(mut r) => {
                    let mut magic = [0u8; 4];
                    let k = read_head(&mut *r, &mut magic)?;
                    if k == 0 {
                        return Ok(0);
                    }
                    if k < 4 {
                        return Err(zstd_error("trailing bytes after the last frame"));
                    }
                    if is_skippable(&magic) {
                        let mut len = [0u8; 4];
                        if read_head(&mut *r, &mut len)? < 4 {
                            return Err(zstd_error("skippable frame cut short"));
                        }
                        let len = u64::from(u32::from_le_bytes(len));
                        if io::copy(&mut (&mut r).take(len), &mut io::sink())? < len {
                            return Err(zstd_error("skippable frame cut short"));
                        }
                        *self = ZstdFrames::Between(r);
                        continue;
                    }
                    if magic != ZSTD_MAGIC {
                        return Err(zstd_error("trailing bytes after the last frame"));
                    }
                    let chained: Stream = Box::new(io::Cursor::new(magic.to_vec()).chain(r));
                    let dec =
                        ruzstd::decoding::StreamingDecoder::new(chained).map_err(zstd_error)?;
                    *self = ZstdFrames::In(Box::new(dec));
                }
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
