//! Standard output, buffered the way a Unix filter should be.
//!
//! Decided once per run: line-buffered when stdout is a terminal or when the
//! user asked (`--line-buffered`, for `tail -f | tool | tool`), block-buffered
//! otherwise. std's stdout lock is itself line-buffered, so "line" means
//! writing to the lock directly and "block" means a large `BufWriter` over it.
//! The caller must end with an explicit `flush()`: a `BufWriter` dropped with
//! an error loses it.

use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};

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

/// The locked standard output with the chosen buffering.
#[derive(Debug)]
pub enum Stdout {
    /// Line-buffered (std's own behaviour).
    Line(StdoutLock<'static>),
    /// Block-buffered.
    Block(BufWriter<StdoutLock<'static>>),
}

/// Locks stdout once for the whole run with the given buffering.
pub fn stdout(mode: BufferMode) -> Stdout {
    let lock = io::stdout().lock();
    match mode {
        BufferMode::Line => Stdout::Line(lock),
        BufferMode::Block => Stdout::Block(BufWriter::with_capacity(128 << 10, lock)),
    }
}

impl Write for Stdout {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stdout::Line(w) => w.write(buf),
            Stdout::Block(w) => w.write(buf),
        }
    }
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stdout::Line(w) => w.write_all(buf),
            Stdout::Block(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stdout::Line(w) => w.flush(),
            Stdout::Block(w) => w.flush(),
        }
    }
}
