//! The one error type of the qtrace tools, with messages that say where and what.
//!
//! Every error knows enough to be printed as `tool: <input>:<line>: <what>`; the
//! tool name is added by [`crate::cli::run_main`]. Broken pipes are recognised
//! through any wrapping (see [`Error::is_broken_pipe`]) so that `tool | head`
//! ends quietly.

use std::fmt;
use std::io;

/// Everything that can go wrong while reading traces or writing results.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on an input (opening or reading it).
    Input {
        /// The input as shown to the user (`<stdin>` or the path).
        input: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A problem in one line of an input: the line is skipped, the run goes on.
    Line {
        /// The input as shown to the user.
        input: String,
        /// 1-based line number.
        line: u64,
        /// What was wrong with it.
        what: String,
    },
    /// An I/O error while writing output.
    Output(io::Error),
    /// A problem with the command line or its arguments (bad pattern, unknown field, ...).
    Usage(String),
    /// A problem in a trace-events catalog file.
    Catalog {
        /// The catalog file.
        path: String,
        /// 1-based line number in it.
        line: u64,
        /// What was wrong.
        what: String,
    },
}

impl Error {
    /// A usage error with the given message.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    /// A read error on `input` while it was at line `line`. Damaged
    /// compressed data is named with the byte of the file and placed in the
    /// line of the decompressed text (`FILE: compressed data damaged at byte
    /// N of the file (...)`); other errors read `FILE:LINE: what`.
    pub fn reading(input: &str, line: u64, source: io::Error) -> Self {
        match crate::input::Damaged::find(&source) {
            Some(damage) => Error::Input {
                input: input.to_string(),
                source: damage.clone().in_line(line).into_io(),
            },
            None => Error::Input {
                input: format!("{input}:{line}"),
                source,
            },
        }
    }

    /// True when this error is, at its root, a closed output pipe (EPIPE).
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Output(e) => io_is_broken_pipe(e),
            _ => false,
        }
    }
}

/// True when an I/O error, or any error it wraps, is a broken pipe.
pub fn io_is_broken_pipe(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return true;
    }
    // An io::Error may wrap another error (possibly another io::Error).
    let mut inner: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(err) = inner {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::BrokenPipe {
                return true;
            }
            inner = io.get_ref().map(|r| r as _);
        } else {
            inner = err.source();
        }
    }
    false
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input { input, source } => write!(f, "{input}: {source}"),
            Error::Line { input, line, what } => write!(f, "{input}:{line}: {what}"),
            Error::Output(e) => write!(f, "error writing output: {e}"),
            Error::Usage(msg) => f.write_str(msg),
            Error::Catalog { path, line, what } => write!(f, "{path}:{line}: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Input { source, .. } => Some(source),
            Error::Output(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// A bare I/O error reaching the top is an output error: inputs wrap theirs
    /// with the input's name before they get here.
    fn from(e: io::Error) -> Self {
        Error::Output(e)
    }
}

impl From<csv::Error> for Error {
    /// The csv crate wraps I/O errors; unwrap them so a broken pipe stays one.
    fn from(e: csv::Error) -> Self {
        if e.is_io_error() {
            match e.into_kind() {
                csv::ErrorKind::Io(io) => Error::Output(io),
                other => Error::Output(io::Error::other(format!("{other:?}"))),
            }
        } else {
            Error::Output(io::Error::other(e.to_string()))
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Bytes of input a message quotes at most (see [`excerpt`]).
pub const EXCERPT_BYTES: usize = 120;

/// Input bytes as a message quotes them: lossy UTF-8, and at most `max`
/// bytes of them, followed by `... (N bytes)` when cut, so that a line of
/// megabytes gives a message of one line. A cut never splits a UTF-8
/// character. Every message that quotes a trace line, an event name or
/// arguments goes through this (with [`EXCERPT_BYTES`]).
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut cut = max;
    // Back to the start of a character (at most 3 continuation bytes).
    while cut > 0 && max - cut < 3 && bytes[cut] & 0xc0 == 0x80 {
        cut -= 1;
    }
    if bytes[cut] & 0xc0 == 0x80 {
        cut = max;
    }
    format!(
        "{}... ({} bytes)",
        String::from_utf8_lossy(&bytes[..cut]),
        bytes.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_found_through_wrapping() {
        let inner = io::Error::new(io::ErrorKind::BrokenPipe, "closed");
        assert!(Error::Output(inner).is_broken_pipe());
        let wrapped = io::Error::other(io::Error::new(io::ErrorKind::BrokenPipe, "x"));
        assert!(Error::Output(wrapped).is_broken_pipe());
        assert!(!Error::usage("bad").is_broken_pipe());
    }

    #[test]
    fn csv_io_errors_unwrap_to_io() {
        let e: Error = csv::Error::from(io::Error::new(io::ErrorKind::BrokenPipe, "x")).into();
        assert!(e.is_broken_pipe());
    }

    #[test]
    fn excerpts_are_bounded_and_whole_when_short() {
        assert_eq!(excerpt(b"short", 120), "short");
        assert_eq!(excerpt(b"\xffab", 120), "\u{fffd}ab");
        let exact = [b'x'; 120];
        assert_eq!(excerpt(&exact, 120), "x".repeat(120));
        let long = vec![b'y'; 64 << 10];
        let e = excerpt(&long, EXCERPT_BYTES);
        assert_eq!(e, format!("{}... (65536 bytes)", "y".repeat(120)));
        // Never half a character: "é" is 2 bytes, the 120th byte starts one.
        let mut text = "a".repeat(119).into_bytes();
        text.extend("éé".as_bytes());
        assert_eq!(
            excerpt(&text, 120),
            format!("{}... (123 bytes)", "a".repeat(119))
        );
        // Bytes that are no UTF-8 at all are cut where asked.
        let bad = vec![0x80; 200];
        assert_eq!(
            excerpt(&bad, 4),
            "\u{fffd}\u{fffd}\u{fffd}\u{fffd}... (200 bytes)"
        );
    }

    #[test]
    fn messages_say_where() {
        let e = Error::Line {
            input: "t.log".into(),
            line: 7,
            what: "line too long".into(),
        };
        assert_eq!(e.to_string(), "t.log:7: line too long");
    }
}
