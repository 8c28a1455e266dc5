//! Standard output, buffered the way a Unix filter should be, and failing
//! the way `cat` fails.
//!
//! Decided once per run: line-buffered when stdout is a terminal, when the
//! user asked (`--line-buffered`, for `qemu ... 2>&1 | tool | tool`) or
//! when following a file (`--follow`), block-buffered otherwise. The caller must end with an explicit `flush()`: a `BufWriter`
//! dropped with an error loses it.
//!
//! Every write error reaches the caller. std's own stdout would hide one:
//! it takes `EBADF` for success, and on Linux its runtime reopens a closed
//! stdout on `/dev/null` (read-write) before `main`, so `tool >&-` would
//! discard its output and exit 0. On Unix the tools therefore write to a
//! duplicate of file descriptor 1 (a write to a stdout opened read-only
//! fails with `EBADF`), and on Linux a stdout that is `/dev/null` opened
//! read-write, which is what the runtime leaves for a closed one, is taken
//! for closed: the first write fails with `EBADF`, as it does for `cat`. A
//! run that writes nothing succeeds, as `cat /dev/null >&-` does. (A stdout
//! given as `1<>/dev/null` on purpose looks the same, and is taken for
//! closed too.)

use std::io::{self, BufWriter, IsTerminal, LineWriter, Write};

/// How output is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferMode {
    /// Flush at every newline.
    Line,
    /// Flush when a large buffer is full.
    Block,
}

impl BufferMode {
    /// Line when stdout is a terminal or `force_line` is set, else block.
    pub fn detect(force_line: bool) -> BufferMode {
        if force_line || io::stdout().is_terminal() {
            BufferMode::Line
        } else {
            BufferMode::Block
        }
    }
}

/// What the writers write to: a duplicate of file descriptor 1 on Unix
/// (see the module docs), std's locked stdout elsewhere.
#[cfg(unix)]
type Raw = std::fs::File;
#[cfg(not(unix))]
type Raw = io::StdoutLock<'static>;

/// Standard output for the whole run, with the chosen buffering.
#[derive(Debug)]
pub struct Stdout {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// Flushed at every newline.
    Line(LineWriter<Raw>),
    /// Flushed when the buffer is full.
    Block(BufWriter<Raw>),
    /// No standard output: every write fails with this error (the OS's
    /// error number when there is one).
    Closed(Option<i32>, io::ErrorKind),
}

/// Opens standard output once for the whole run with the given buffering.
pub fn stdout(mode: BufferMode) -> Stdout {
    let inner = match open_raw() {
        Ok(raw) => match mode {
            BufferMode::Line => Inner::Line(LineWriter::new(raw)),
            BufferMode::Block => Inner::Block(BufWriter::with_capacity(128 << 10, raw)),
        },
        Err(e) => Inner::Closed(e.raw_os_error(), e.kind()),
    };
    Stdout { inner }
}

/// The error a write to a closed stdout gives, if stdout is closed.
pub fn closed_stdout() -> Option<io::Error> {
    open_raw().err()
}

#[cfg(unix)]
fn open_raw() -> io::Result<Raw> {
    use std::os::fd::AsFd;
    if stdout_was_closed() {
        return Err(ebadf());
    }
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    Ok(std::fs::File::from(fd))
}

#[cfg(not(unix))]
fn open_raw() -> io::Result<Raw> {
    Ok(io::stdout().lock())
}

/// The error of a write to a closed file descriptor.
#[cfg(unix)]
fn ebadf() -> io::Error {
    // EBADF is 9 on Linux, the BSDs and macOS.
    io::Error::from_raw_os_error(9)
}

/// True when stdout is what Rust's runtime puts in place of a closed one:
/// `/dev/null`, opened read-write (a shell's `>/dev/null` opens it
/// write-only).
#[cfg(target_os = "linux")]
fn stdout_was_closed() -> bool {
    const ACCESS_MODE: u32 = 0o3;
    const READ_WRITE: u32 = 0o2;
    let Ok(target) = std::fs::read_link("/proc/self/fd/1") else {
        return false;
    };
    if target != std::path::Path::new("/dev/null") {
        return false;
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/fdinfo/1") else {
        return false;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & ACCESS_MODE == READ_WRITE)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn stdout_was_closed() -> bool {
    false
}

impl Inner {
    fn closed_error(code: Option<i32>, kind: io::ErrorKind) -> io::Error {
        code.map_or_else(|| kind.into(), io::Error::from_raw_os_error)
    }
}

impl Write for Stdout {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Line(w) => w.write(buf),
            Inner::Block(w) => w.write(buf),
            Inner::Closed(code, kind) => Err(Inner::closed_error(*code, *kind)),
        }
    }
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Line(w) => w.write_all(buf),
            Inner::Block(w) => w.write_all(buf),
            Inner::Closed(code, kind) => Err(Inner::closed_error(*code, *kind)),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Line(w) => w.flush(),
            Inner::Block(w) => w.flush(),
            // Nothing was written.
            Inner::Closed(..) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_stdout_fails_the_first_write_not_a_run_that_writes_nothing() {
        let mut out = Stdout {
            inner: Inner::Closed(Some(9), io::ErrorKind::Other),
        };
        assert!(out.flush().is_ok());
        let e = out.write_all(b"x\n").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(9));
        let mut out = Stdout {
            inner: Inner::Closed(None, io::ErrorKind::BrokenPipe),
        };
        assert_eq!(
            out.write(b"x").unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }
}
