//! Reading ahead on a second thread, so that the kernel's copy of the next
//! chunk (and its decompression, for gzip/zstd inputs) overlaps with the
//! scanning of the current one.
//!
//! The reader thread fills a few fixed-size buffers in turn and hands them
//! over a bounded channel; used buffers come back for reuse, so memory stays
//! at `DEPTH` buffers whatever the input size. Errors travel in order with the
//! data: the lines before an error are still read.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::input::Stream;

/// Bytes per buffer.
const CHUNK: usize = 1 << 20;
/// Buffers in flight.
const DEPTH: usize = 4;

/// A `Read` whose bytes are read ahead by a background thread.
#[derive(Debug)]
pub struct Prefetch {
    rx: Receiver<io::Result<(Vec<u8>, usize)>>,
    back: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    /// Valid bytes in `cur` (buffers keep their full size: no re-zeroing).
    len: usize,
    pos: usize,
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
                let mut made = 0;
                loop {
                    let mut buf = match free.try_recv() {
                        Ok(b) => b,
                        Err(_) if made < DEPTH => {
                            made += 1;
                            vec![0; CHUNK]
                        }
                        Err(_) => match free.recv() {
                            Ok(b) => b,
                            Err(_) => return, // the consumer is gone
                        },
                    };
                    // One read per buffer: a live pipe hands on what it has
                    // at once (a file read fills the buffer anyway).
                    let (n, err) = loop {
                        match src.read(&mut buf) {
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
            cur: Vec::new(),
            len: 0,
            pos: 0,
            done: false,
            thread: Some(thread),
        }
    }
}

impl Read for Prefetch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let used = std::mem::take(&mut self.cur);
            if used.capacity() > 0 {
                let _ = self.back.try_send(used);
            }
            self.pos = 0;
            self.len = 0;
            match self.rx.recv() {
                Ok(Ok((_, 0))) => self.done = true,
                Ok(Ok((buf, n))) => {
                    self.cur = buf;
                    self.len = n;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
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
mod tests {
    use super::*;

    /// Yields its bytes a few at a time, then optionally an error.
    struct Dribble {
        data: Vec<u8>,
        pos: usize,
        fail: bool,
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
            let n = buf.len().min(7).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn passes_bytes_through_in_order_and_then_the_error() {
        let data: Vec<u8> = (0..3 * CHUNK + 12345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let mut p = Prefetch::new(Box::new(Dribble {
            data: data.clone(),
            pos: 0,
            fail: true,
        }));
        let mut got = Vec::new();
        let mut buf = vec![0u8; 100_000];
        let err = loop {
            match p.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break Some(e),
            }
        };
        assert_eq!(got, data);
        assert_eq!(err.map(|e| e.to_string()), Some("boom".to_string()));
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let data = vec![b'x'; 10 * CHUNK];
        let mut p = Prefetch::new(Box::new(io::Cursor::new(data)));
        let mut buf = [0u8; 10];
        p.read_exact(&mut buf).unwrap();
        drop(p); // must not hang
    }

    #[test]
    fn empty_input() {
        let mut p = Prefetch::new(Box::new(io::empty()));
        let mut v = Vec::new();
        p.read_to_end(&mut v).unwrap();
        assert!(v.is_empty());
    }
}
