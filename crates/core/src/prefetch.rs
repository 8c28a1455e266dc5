//! Reading ahead on a thread of its own, so that the kernel's copy of the
//! next chunk (and its decompression, for gzip/zstd inputs) overlaps with
//! the splitting of the current one ([`crate::ahead`]).
//!
//! The reader thread fills a few fixed-size buffers in turn and hands them
//! over a bounded channel; used buffers come back for reuse, so memory stays
//! at `DEPTH` buffers whatever the input size. Errors travel in order with the
//! data: the lines before an error are still read.
//!
//! No byte is copied on the way: the thread reads into a buffer after a
//! reserved front part, and the [`LineReader`](crate::lines::LineReader)
//! takes the whole buffer, moving only the unfinished line it still holds into
//! that front part (a line longer than the reserve takes a slower path).

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::input::Stream;
use crate::lines::{LineSource, Window};

/// Bytes read per buffer.
const CHUNK: usize = 256 << 10;
/// Room before the data for the unfinished line of the previous buffer.
const RESERVE: usize = 64 << 10;
/// Buffers in flight.
const DEPTH: usize = 2;

/// A [`LineSource`] whose bytes are read ahead by a background thread.
#[derive(Debug)]
pub struct Prefetch {
    rx: Receiver<io::Result<(Vec<u8>, usize)>>,
    back: SyncSender<Vec<u8>>,
    done: bool,
    /// Kept only to document ownership; never joined (see `Drop`).
    thread: Option<JoinHandle<()>>,
}

impl Prefetch {
    /// Starts reading `src` ahead on a new thread.
    pub fn new(mut src: Stream) -> Prefetch {
        let (tx, rx) = sync_channel::<io::Result<(Vec<u8>, usize)>>(DEPTH);
        let (back, free) = sync_channel::<Vec<u8>>(DEPTH + 1);
        let thread = std::thread::Builder::new()
            .name("qtrace-read".into())
            .spawn(move || {
                loop {
                    // A returned buffer if there is one, else a new one: the
                    // bounded channels cap how many exist at once (the
                    // consumer keeps a buffer that grew for a long line, so
                    // waiting for returns could wait forever).
                    let mut buf = free.try_recv().unwrap_or_else(|_| vec![0; RESERVE + CHUNK]);
                    // One read per buffer: a live pipe hands on what it has
                    // at once (a file read fills the buffer anyway).
                    let (n, err) = loop {
                        match src.read(&mut buf[RESERVE..]) {
                            Ok(k) => break (k, None),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => break (0, Some(e)),
                        }
                    };
                    let end = n == 0 || err.is_some();
                    if n > 0 && tx.send(Ok((buf, n))).is_err() {
                        return;
                    }
                    if let Some(e) = err {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    if end {
                        let _ = tx.send(Ok((Vec::new(), 0)));
                        return;
                    }
                }
            })
            .expect("spawning the reader thread");
        Prefetch {
            rx,
            back,
            done: false,
            thread: Some(thread),
        }
    }
}

impl LineSource for Prefetch {
    fn refill(&mut self, buf: &mut Vec<u8>, w: Window<'_>, _chunk: usize) -> io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        let (mut fresh, n) = match self.rx.recv() {
            Ok(Ok((_, 0))) | Err(_) => {
                self.done = true;
                return Ok(false);
            }
            Ok(Err(e)) => {
                self.done = true;
                return Err(e);
            }
            Ok(Ok(pair)) => pair,
        };
        let carry = *w.end - *w.start;
        if carry <= RESERVE {
            // Fast path: the unfinished line moves in front of the new data.
            let at = RESERVE - carry;
            fresh[at..RESERVE].copy_from_slice(&buf[*w.start..*w.end]);
            let old = std::mem::replace(buf, fresh);
            *w.scan = at + (*w.scan - *w.start);
            *w.start = at;
            *w.end = RESERVE + n;
            self.give_back(old);
        } else {
            // A long unfinished line: keep growing the current buffer.
            buf.copy_within(*w.start..*w.end, 0);
            *w.end -= *w.start;
            *w.scan -= *w.start;
            *w.start = 0;
            buf.truncate(*w.end);
            buf.extend_from_slice(&fresh[RESERVE..RESERVE + n]);
            *w.end += n;
            self.give_back(fresh);
        }
        Ok(true)
    }
}

impl Prefetch {
    /// Returns a buffer of the standard size to the reader thread.
    fn give_back(&self, buf: Vec<u8>) {
        if buf.len() == RESERVE + CHUNK {
            let _ = self.back.try_send(buf);
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // Dropping the channels makes the thread exit at its next channel
        // operation. It is not joined: it may be blocked reading a live pipe
        // that has nothing to say, and must not keep the process alive.
        drop(self.thread.take());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::lines::{LineEvent, LineReader};

    /// Yields its bytes a few at a time, then optionally an error.
    pub(crate) struct Dribble {
        pub(crate) data: Vec<u8>,
        pub(crate) pos: usize,
        pub(crate) fail: bool,
    }

    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                if self.fail {
                    self.fail = false;
                    return Err(io::Error::other("boom"));
                }
                return Ok(0);
            }
            let n = buf.len().min(7919).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// 300 lines of every length up to `3 * longest` bytes and more (each
    /// with its newline), and a reader that dribbles them out and then
    /// fails with "boom".
    pub(crate) fn lines_then_error(longest: usize) -> (Dribble, Vec<Vec<u8>>) {
        let mut data = Vec::new();
        let mut lines = Vec::new();
        for i in 0..300usize {
            let len = (i * 977) % (3 * longest);
            let mut line = vec![b'a' + (i % 26) as u8; len];
            line.push(b'\n');
            data.extend_from_slice(&line);
            lines.push(line);
        }
        let src = Dribble {
            data,
            pos: 0,
            fail: true,
        };
        (src, lines)
    }

    /// Lines (with terminators) and the error that ended them, if any.
    fn lines_of(src: Prefetch, max: usize) -> (Vec<Vec<u8>>, Option<String>) {
        let mut r = LineReader::with_limits(src, max, 4096);
        let mut out = Vec::new();
        loop {
            match r.next_line() {
                Ok(Some(LineEvent::Line(l))) => out.push(l.full.to_vec()),
                Ok(Some(LineEvent::TooLong { length, .. })) => {
                    out.push(format!("<{length}>").into_bytes())
                }
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn lines_come_through_in_order_and_then_the_error() {
        // Lines of every length up to well past the reserve, so both the
        // fast and the slow path are taken.
        let (dribble, want) = lines_then_error(RESERVE);
        let src = Prefetch::new(Box::new(dribble));
        let (got, err) = lines_of(src, usize::MAX);
        assert_eq!(got.len(), want.len(), "error: {err:?}");
        assert!(got == want, "lines differ");
        assert_eq!(err.as_deref(), Some("boom"));
    }

    #[test]
    fn long_lines_are_still_skipped_in_bounded_memory() {
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5 * CHUNK));
        data.extend(b"\nlast");
        let src = Prefetch::new(Box::new(io::Cursor::new(data)));
        let (got, err) = lines_of(src, 1000);
        assert_eq!(err, None);
        assert_eq!(
            got,
            vec![
                b"first\n".to_vec(),
                format!("<{}>", 5 * CHUNK).into_bytes(),
                b"last".to_vec()
            ]
        );
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let data = vec![b'x'; 10 * CHUNK];
        let mut r = LineReader::with_limits(
            Prefetch::new(Box::new(io::Cursor::new(data))),
            usize::MAX,
            4096,
        );
        let _ = r.next_line();
        drop(r); // must not hang
    }

    #[test]
    fn empty_input() {
        let (got, err) = lines_of(Prefetch::new(Box::new(io::empty())), 100);
        assert!(got.is_empty() && err.is_none());
    }
}
