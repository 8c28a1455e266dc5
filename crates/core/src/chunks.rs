//! Splitting a regular file on several threads at once: each worker reads
//! (`pread`) and splits its own chunks of the file, and the scanning thread
//! takes their batches in file order.
//!
//! Chunks are fixed-size stretches of the file, dealt out in turn: with two
//! workers, the first takes chunks 0, 2, 4, ..., the second 1, 3, 5, ....
//! A chunk holds the lines that start in it: its worker reads from the byte
//! before the chunk (a newline there means a line starts where the chunk
//! does), skips the end of a line that began in an earlier chunk, and reads
//! past the chunk's end to finish its last line. Every line thus belongs to
//! exactly one chunk, and within a chunk the usual [`LineReader`] (with its
//! prefilter and line bound) does the splitting. A worker numbers its lines
//! from 1 in each chunk; the receiving side, which takes the chunks in order,
//! knows how many lines came before and makes the numbers absolute.
//! When the tool uses no line numbers, the workers count nothing: the
//! stretches the prefilter skips then cost only the search for its needle.
//! The few lines that still need a number (over-long lines, a read error)
//! come with their offset in the file, and the receiving side counts the
//! file's newlines up to there, reading it once more at most.
//!
//! Why: a stream is read on one thread and split on another
//! ([`crate::prefetch`], [`crate::ahead`]), so every byte is written into a
//! buffer on one core and read on the other, and one thread does the whole
//! kernel copy. Here a chunk is read and split on the same core, while it
//! is in that core's cache, and the workers share the copy.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use memchr::memmem::Finder;

use crate::ahead::{Batch, MAX_LINE, Message, Plan};
use crate::lines::{LineEvent, LineReader, LineSource, Window, count_newlines};
use crate::predecode::Predecoding;

/// Something that can be read at any offset, by several threads at once.
pub trait ReadAt: Send + Sync {
    /// Reads into `buf` from byte `offset` of the file; returns how many
    /// bytes were read, 0 only at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

#[cfg(unix)]
impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

/// How a file is cut up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Bytes per chunk (at least 1).
    pub chunk: u64,
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Bytes read past a chunk's end with the chunk, to finish its last
    /// line in the same read; the first read after it, if the line goes
    /// on, is this long (at least 1), and each further one twice the one
    /// before, up to 256 KiB.
    pub overlap: usize,
}

/// Bytes per chunk: as fast as 1 MiB ones, and small enough that a chunk
/// stays in the worker's cache while it is split.
const CHUNK: u64 = 256 << 10;
/// Read with a chunk, past its end: enough to finish its last line but for
/// lines over 4 KiB.
const OVERLAP: usize = 4 << 10;
/// The largest read past a chunk's end (a long last line is read in
/// growing steps up to this).
const MAX_STEP: usize = 256 << 10;
/// Pieces a worker may have sent that the scanning thread has not taken:
/// the scanning thread takes the workers' chunks in turn, so each needs
/// room to run ahead while another is slow. With 4, ps2-decode on a 1 GiB
/// log took 0.86 s against 0.80 s with 8 and 0.75 s with 16, where peak
/// RSS reached 20 MiB (pci-table); 8 keeps it under 15 MiB.
const DEPTH: usize = 8;

impl Chunking {
    /// 256 KiB chunks, one worker per core, two to four. The cores are
    /// counted once per process (on Linux that reads the cgroup's files).
    pub fn for_this_machine() -> Chunking {
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        Chunking {
            chunk: CHUNK,
            workers: cores.clamp(2, 4),
            overlap: OVERLAP,
        }
    }
}

/// What a worker sends, in the order of its chunks.
#[derive(Debug)]
enum Piece {
    /// Some lines of the current chunk, numbered from 1 within it.
    Batch(Batch),
    /// The chunk is done, with its last lines if any: it held `lines`
    /// lines; `last` if the file ended within it (no chunk after it holds
    /// a line).
    ChunkEnd {
        batch: Option<Batch>,
        lines: u64,
        last: bool,
    },
    /// Reading failed; nothing follows.
    Error { at: FailedAt, source: io::Error },
}

/// Where reading a chunk failed.
#[derive(Debug, Clone, Copy)]
enum FailedAt {
    /// Before the chunk's line of this number.
    Line(u64),
    /// Lines unnumbered: within the line that holds this byte of the file,
    /// or before the line that starts there.
    Offset(u64),
    /// Lines unnumbered: before the chunk's first line; the chunk starts at
    /// this byte.
    ChunkStart(u64),
}

/// The receiving side: the workers' batches in file order.
#[derive(Debug)]
pub(crate) struct Chunks {
    workers: Vec<Worker>,
    /// The chunk whose pieces come next.
    next: u64,
    /// Lines in the chunks before it.
    base: u64,
    /// The end of the chunk whose last batch was just handed out.
    ended: Option<(u64, bool)>,
    done: bool,
    /// Whether the workers number lines; when they do not, `renumber`
    /// numbers the few lines that need one (over-long lines, a read error).
    numbered: bool,
    renumber: Renumber,
}

#[derive(Debug)]
struct Worker {
    rx: Receiver<Piece>,
    back: SyncSender<Batch>,
}

impl Chunks {
    /// Starts the workers.
    pub(crate) fn spawn<F: ReadAt + 'static>(
        file: Arc<F>,
        plan: Plan,
        chunking: Chunking,
    ) -> Chunks {
        let chunking = Chunking {
            chunk: chunking.chunk.max(1),
            workers: chunking.workers.max(1),
            overlap: chunking.overlap,
        };
        let workers = (0..chunking.workers)
            .map(|id| {
                let (tx, rx) = sync_channel::<Piece>(DEPTH);
                let (back, free) = sync_channel::<Batch>(DEPTH + 1);
                let (file, plan) = (Arc::clone(&file), plan.clone());
                // Not joined: a worker ends at its next hand-over once the
                // receiving side is gone.
                std::thread::Builder::new()
                    .name(format!("qtrace-split-{id}"))
                    .spawn(move || work(&*file, id, chunking, &plan, &tx, &free))
                    .expect("spawning a splitting thread");
                Worker { rx, back }
            })
            .collect();
        Chunks {
            workers,
            next: 0,
            base: 0,
            ended: None,
            done: false,
            numbered: plan.numbered,
            renumber: Renumber::new(file),
        }
    }

    /// The next message; after `Error` or `End`, `None`.
    pub(crate) fn recv(&mut self) -> Option<Message> {
        if self.done {
            return None;
        }
        if let Some(end) = self.ended.take()
            && let Some(msg) = self.end_chunk(end)
        {
            return Some(msg);
        }
        let n = self.workers.len() as u64;
        loop {
            let worker = &self.workers[(self.next % n) as usize];
            match worker.rx.recv() {
                Ok(Piece::Batch(mut batch)) => {
                    self.number(&mut batch);
                    return Some(Message::Batch(batch));
                }
                Ok(Piece::ChunkEnd { batch, lines, last }) => {
                    if let Some(mut batch) = batch {
                        self.number(&mut batch);
                        self.ended = Some((lines, last));
                        return Some(Message::Batch(batch));
                    }
                    if let Some(msg) = self.end_chunk((lines, last)) {
                        return Some(msg);
                    }
                }
                Ok(Piece::Error { at, source }) => {
                    self.done = true;
                    let r = &mut self.renumber;
                    let line = match at {
                        FailedAt::Line(line) => self.base + line,
                        FailedAt::Offset(at) => r.newlines_before(at).map_or(0, |n| n + 1),
                        FailedAt::ChunkStart(0) => 1,
                        // The lines that start before the chunk: the first
                        // one, and one after each newline before the
                        // chunk's last byte.
                        FailedAt::ChunkStart(at) => r.newlines_before(at - 1).map_or(0, |n| n + 2),
                    };
                    return Some(Message::Error { line, source });
                }
                Err(_) => {
                    // A worker ended without a last word (it cannot, short of a panic).
                    self.done = true;
                    return None;
                }
            }
        }
    }

    /// Makes the numbers of a worker's batch absolute: adds the lines
    /// before its chunk, or, when the workers do not number lines, numbers
    /// its over-long lines from where they end.
    fn number(&mut self, batch: &mut Batch) {
        if self.numbered {
            batch.base = self.base;
        } else {
            // A line's number: the newlines before its last byte, plus one.
            let r = &mut self.renumber;
            batch.number_too_long(|end| r.newlines_before(end - 1).map_or(0, |n| n + 1));
        }
    }

    /// Counts the lines of a finished chunk; `End` after the last one.
    fn end_chunk(&mut self, (lines, last): (u64, bool)) -> Option<Message> {
        self.base += lines;
        self.next += 1;
        if last {
            self.done = true;
            return Some(Message::End { lines: self.base });
        }
        None
    }

    /// Returns a cleared batch to the worker it came from.
    pub(crate) fn give_back(&self, batch: Batch) {
        if let Some(w) = self.workers.get(batch.origin) {
            let _ = w.back.try_send(batch);
        }
    }
}

/// One worker: splits chunks `id`, `id + workers`, ... until the file ends
/// or nobody listens.
fn work<F: ReadAt>(
    file: &F,
    id: usize,
    chunking: Chunking,
    plan: &Plan,
    tx: &SyncSender<Piece>,
    free: &Receiver<Batch>,
) {
    let finder = plan.prefilter.as_deref().map(Finder::new);
    let names = &plan.names;
    let knows = |name: &[u8]| names.contains(name);
    let mut pre = plan.predecode.clone().map(Predecoding::new);
    let fresh = || {
        free.try_recv()
            .unwrap_or_else(|_| Batch::with_usual_capacity(id))
    };
    let mut reader = LineReader::with_limits(
        ChunkSource::new(file, chunking.overlap),
        plan.max_line.min(MAX_LINE),
        MAX_STEP,
    );
    reader.set_numbering(plan.numbered);
    let mut batch = fresh();
    let mut chunk = id as u64;
    loop {
        // Saturating lands far past any file's end, where a chunk is empty
        // and last.
        let start = chunk.saturating_mul(chunking.chunk);
        reader.source_mut().begin(start, chunking.chunk);
        reader.restart();
        loop {
            match reader.next_with(finder.as_ref()) {
                Ok(Some(LineEvent::TooLong { length, .. })) if !plan.numbered => {
                    // Numbered by the receiving side, from where it ends.
                    let end = reader.source().base + reader.next_start() as u64;
                    let ev = LineEvent::TooLong {
                        number: end,
                        length,
                    };
                    batch.push(ev, knows, pre.as_mut());
                }
                Ok(Some(ev)) => {
                    batch.push(ev, knows, pre.as_mut());
                    if batch.is_full()
                        && tx
                            .send(Piece::Batch(std::mem::replace(&mut batch, fresh())))
                            .is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(source) => {
                    if !batch.is_empty() {
                        let _ = tx.send(Piece::Batch(batch));
                    }
                    let at = if plan.numbered {
                        FailedAt::Line(reader.line_number() + 1)
                    } else if reader.source().located {
                        FailedAt::Offset(reader.source().base + reader.next_start() as u64)
                    } else {
                        FailedAt::ChunkStart(start)
                    };
                    let _ = tx.send(Piece::Error { at, source });
                    return;
                }
            }
        }
        let rest = (!batch.is_empty()).then(|| std::mem::replace(&mut batch, fresh()));
        let last = reader.source().ended;
        let lines = reader.line_number();
        let end = Piece::ChunkEnd {
            batch: rest,
            lines,
            last,
        };
        if tx.send(end).is_err() || last {
            return;
        }
        chunk += chunking.workers as u64;
    }
}

/// One read of `file` from `offset`, retried when interrupted.
fn read_some<F: ReadAt + ?Sized>(file: &F, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            done => return done,
        }
    }
}

/// Counts the newlines of a file from its start, for the few line numbers
/// needed when the workers do not number lines. Asked about offsets in
/// increasing order, as lines come, it reads the file at most once more.
struct Renumber {
    file: Arc<dyn ReadAt>,
    /// How far it has counted, and the newlines before there.
    at: u64,
    newlines: u64,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Renumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renumber")
            .field("at", &self.at)
            .field("newlines", &self.newlines)
            .finish_non_exhaustive()
    }
}

impl Renumber {
    fn new(file: Arc<dyn ReadAt>) -> Renumber {
        Renumber {
            file,
            at: 0,
            newlines: 0,
            buf: Vec::new(),
        }
    }

    /// The newlines before byte `offset` of the file; `None` if the file
    /// cannot be read that far again (the line number shown is then 0, for
    /// unknown).
    fn newlines_before(&mut self, offset: u64) -> Option<u64> {
        if offset < self.at {
            self.at = 0;
            self.newlines = 0;
        }
        if self.buf.is_empty() {
            self.buf = vec![0; 64 << 10];
        }
        while self.at < offset {
            let want =
                usize::try_from(offset - self.at).map_or(self.buf.len(), |n| n.min(self.buf.len()));
            match read_some(&*self.file, &mut self.buf[..want], self.at) {
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    self.newlines += count_newlines(&self.buf[..n]);
                    self.at += n as u64;
                }
            }
        }
        Some(self.newlines)
    }
}

/// The bytes of one chunk's lines, for a [`LineReader`].
struct ChunkSource<'f, F> {
    file: &'f F,
    /// Where the chunk starts, and where the next one does.
    start: u64,
    boundary: u64,
    /// Offset in the file of the next byte to read.
    pos: u64,
    /// Nothing has been read of this chunk yet.
    first: bool,
    /// The chunk's first read succeeded, so where its first line starts
    /// is known (or that it has none).
    located: bool,
    /// Offset in the file of the reader's buffer's first byte.
    base: u64,
    /// The chunk's last line is complete: no more bytes.
    done: bool,
    /// The file ended within this chunk or its last line.
    ended: bool,
    /// Bytes read past the chunk's end with it.
    overlap: usize,
    /// Size of the next read past the chunk's end.
    step: usize,
}

impl<'f, F: ReadAt> ChunkSource<'f, F> {
    fn new(file: &'f F, overlap: usize) -> Self {
        ChunkSource {
            file,
            overlap,
            start: 0,
            boundary: 0,
            pos: 0,
            first: true,
            located: false,
            base: 0,
            done: true,
            ended: false,
            step: overlap.max(1),
        }
    }

    /// Points the source at the chunk of `len` bytes from `start`.
    fn begin(&mut self, start: u64, len: u64) {
        self.start = start;
        self.boundary = start.saturating_add(len);
        self.pos = start;
        self.first = true;
        self.located = false;
        self.done = false;
        self.ended = false;
        self.step = self.overlap.max(1);
    }

    /// Reads `buf.len()` bytes from `offset`, fewer only at the end of the file.
    fn read_full(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match read_some(self.file, &mut buf[got..], offset + got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        Ok(got)
    }

    /// The first read: the chunk, the byte before it and a little after it.
    /// Finds the chunk's first line, and its last line's end if it is there.
    fn first_fill(&mut self, buf: &mut Vec<u8>, w: Window<'_>) -> io::Result<bool> {
        let lead = u64::from(self.start > 0);
        let from = self.start - lead;
        // The byte before the chunk and the chunk: a line of this chunk
        // starts after a newline among them, save the chunk's last byte.
        let own = usize::try_from(self.boundary - from).unwrap_or(usize::MAX);
        let want = own.saturating_add(self.overlap);
        if buf.len() < want {
            // Nothing in it needs keeping. A fresh zeroed allocation is
            // only touched where the read writes: a small file costs a few
            // pages, not a whole chunk's.
            *buf = vec![0; want];
        }
        self.base = from;
        let got = self.read_full(&mut buf[..want], from)?;
        self.located = true;
        self.pos = from + got as u64;
        let first = if lead == 0 {
            0
        } else {
            match memchr::memchr(b'\n', &buf[..got.min(own - 1)]) {
                Some(i) => i + 1,
                None => {
                    // No line starts here.
                    self.done = true;
                    self.ended = got < own;
                    return Ok(false);
                }
            }
        };
        let mut end = got;
        if got < own {
            // The file ends within the chunk.
            self.done = true;
            self.ended = true;
        } else if let Some(i) = memchr::memchr(b'\n', &buf[own - 1..got]) {
            // The chunk's last line ends here.
            end = own - 1 + i + 1;
            self.done = true;
        } else if got < want {
            // ... or with the file.
            self.done = true;
            self.ended = true;
        }
        if first >= end {
            return Ok(false);
        }
        *w.start = first;
        *w.scan = first;
        *w.end = end;
        Ok(true)
    }
}

impl<F: ReadAt> LineSource for ChunkSource<'_, F> {
    fn refill(&mut self, buf: &mut Vec<u8>, w: Window<'_>, max_step: usize) -> io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        if self.first {
            self.first = false;
            *w.start = 0;
            *w.scan = 0;
            *w.end = 0;
            return self.first_fill(buf, w);
        }
        // The chunk's last line goes on: read until its newline.
        if *w.start > 0 {
            self.base += *w.start as u64;
            buf.copy_within(*w.start..*w.end, 0);
            *w.end -= *w.start;
            *w.scan -= *w.start;
            *w.start = 0;
        }
        let want = self.step.min(max_step.max(1));
        self.step = self.step.saturating_mul(2);
        if buf.len() < *w.end + want {
            buf.resize(*w.end + want, 0);
        }
        let n = read_some(self.file, &mut buf[*w.end..*w.end + want], self.pos)?;
        if n == 0 {
            self.done = true;
            self.ended = true;
            return Ok(false);
        }
        self.pos += n as u64;
        match memchr::memchr(b'\n', &buf[*w.end..*w.end + n]) {
            Some(i) => {
                *w.end += i + 1;
                self.done = true;
            }
            None => *w.end += n,
        }
        Ok(true)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ahead::Ahead;
    use crate::ahead::tests::{collect, plan};
    use proptest::prelude::*;

    /// A file in memory whose reads return at most `most` bytes, and fail
    /// from offset `fail_from` on.
    pub(crate) struct Memory {
        data: Vec<u8>,
        most: usize,
        fail_from: u64,
    }

    impl ReadAt for Memory {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let n = buf.len().min(self.most);
            if offset.saturating_add(n as u64) > self.fail_from {
                return Err(io::Error::other("boom"));
            }
            let Ok(at) = usize::try_from(offset) else {
                return Ok(0);
            };
            if at >= self.data.len() {
                return Ok(0);
            }
            let n = n.min(self.data.len() - at);
            buf[..n].copy_from_slice(&self.data[at..at + n]);
            Ok(n)
        }
    }

    pub(crate) fn memory(data: &[u8]) -> Arc<Memory> {
        Arc::new(Memory {
            data: data.to_vec(),
            most: usize::MAX,
            fail_from: u64::MAX,
        })
    }

    /// What the stream's items and end become when lines are not numbered:
    /// every line's number is 0, and so is the count at the end; an
    /// over-long line keeps its number, and so does a read error.
    fn unnumbered((items, end): (Vec<String>, String)) -> (Vec<String>, String) {
        let items = items
            .into_iter()
            .map(|item| {
                let (number, rest) = item.split_once(": ").expect("numbered item");
                if rest.starts_with('<') {
                    item
                } else {
                    assert!(number.parse::<u64>().is_ok(), "{item}");
                    format!("0: {rest}")
                }
            })
            .collect();
        let end = if end.starts_with("end after ") {
            "end after 0".to_string()
        } else {
            end
        };
        (items, end)
    }

    /// The items and end of splitting `data` as a stream, and in chunks.
    fn both(
        data: &[u8],
        plan: &Plan,
        chunking: Chunking,
        most: usize,
    ) -> ((Vec<String>, String), (Vec<String>, String)) {
        let stream = collect(Ahead::spawn(
            Box::new(io::Cursor::new(data.to_vec())),
            plan.clone(),
        ));
        let file = Arc::new(Memory {
            data: data.to_vec(),
            most,
            fail_from: u64::MAX,
        });
        let chunks = collect(Ahead::spawn_file(file, plan.clone(), chunking));
        (stream, chunks)
    }

    #[test]
    fn lines_across_chunk_boundaries() {
        let text =
            b"9479@1.5:known a b\n\nunknown words\r\nknown x\nx\n\nlast_line without newline";
        for chunk in 1..=text.len() as u64 + 2 {
            for workers in 1..=3 {
                let chunking = Chunking {
                    chunk,
                    workers,
                    overlap: (chunk % 3) as usize,
                };
                for prefilter in [None, Some(&b"known"[..]), Some(&b"x"[..])] {
                    let (stream, chunks) = both(text, &plan(1000, prefilter), chunking, usize::MAX);
                    assert_eq!(chunks, stream, "{chunking:?} {prefilter:?}");
                }
            }
        }
    }

    #[test]
    fn over_long_lines_are_reported_once_with_their_number() {
        let mut data = b"a\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5000));
        data.extend(b"\nb\n");
        data.extend(std::iter::repeat_n(b'y', 300));
        data.extend(b"\r\nc");
        for (chunk, overlap) in [
            (1, 0),
            (7, 1),
            (100, 4096),
            (1000, 3),
            (4999, 0),
            (5003, 2),
            (100_000, 9),
        ] {
            let chunking = Chunking {
                chunk,
                workers: 2,
                overlap,
            };
            let (stream, chunks) = both(&data, &plan(200, None), chunking, 3);
            assert_eq!(chunks, stream, "{chunking:?}");
            assert_eq!(chunks.0[1], "2: <5000>");
            assert_eq!(chunks.0[3], "4: <300>");
            // Unnumbered, the over-long lines are numbered all the same, by
            // counting the file's newlines again.
            let plan = Plan {
                numbered: false,
                ..plan(200, None)
            };
            let (stream, chunks) = both(&data, &plan, chunking, 3);
            assert_eq!(chunks, unnumbered(stream), "{chunking:?}");
            assert_eq!(
                chunks.0[..4],
                [
                    r#"0: other "a\\n""#,
                    "2: <5000>",
                    r#"0: other "b\\n""#,
                    "4: <300>"
                ]
            );
        }
    }

    #[test]
    fn empty_and_newline_only_files() {
        for data in [&b""[..], b"\n", b"\n\n\n", b"x"] {
            for chunk in 1..4 {
                let chunking = Chunking {
                    chunk,
                    workers: 2,
                    overlap: 1,
                };
                let (stream, chunks) = both(data, &plan(10, None), chunking, 1);
                assert_eq!(chunks, stream, "{data:?} {chunking:?}");
            }
        }
    }

    #[test]
    fn a_read_error_comes_after_every_line_before_it() {
        let data: Vec<u8> = (0..200)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let all = collect(Ahead::spawn_file(
            memory(&data),
            plan(100, None),
            Chunking {
                chunk: 64,
                workers: 3,
                overlap: 5,
            },
        ))
        .0;
        for (fail_from, numbered) in [0, 1, 63, 64, 500, 1000, 1500]
            .into_iter()
            .flat_map(|f| [(f, true), (f, false)])
        {
            let file = Arc::new(Memory {
                data: data.clone(),
                most: 13,
                fail_from,
            });
            let chunking = Chunking {
                chunk: 64,
                workers: 3,
                overlap: 5,
            };
            let plan = Plan {
                numbered,
                ..plan(100, None)
            };
            let (got, end) = collect(Ahead::spawn_file(file, plan, chunking));
            let before = &all[..got.len()];
            if numbered {
                assert_eq!(got[..], *before, "fail_from {fail_from}");
            } else {
                let (before, _) = unnumbered((before.to_vec(), String::new()));
                assert_eq!(got, before, "fail_from {fail_from}");
            }
            assert_eq!(end, format!("error at {}: boom", got.len() + 1));
            // Nothing of what failed was given out: the lines before the
            // failing offset (less a chunk and the read past it) came out.
            let whole_lines = data[..fail_from as usize]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            assert!(got.len() <= whole_lines);
            assert!(got.len() + 64 / 6 + 2 >= whole_lines, "{fail_from}");
        }
    }

    #[test]
    fn renumbering_counts_newlines_and_says_when_it_cannot() {
        let file = Arc::new(Memory {
            data: b"a\nb\n\nc\nd".to_vec(),
            most: 2,
            fail_from: 7,
        });
        let mut r = Renumber::new(file);
        assert_eq!(r.newlines_before(0), Some(0));
        assert_eq!(r.newlines_before(4), Some(2));
        assert_eq!(r.newlines_before(5), Some(3));
        // Backwards: counted again from the start.
        assert_eq!(r.newlines_before(2), Some(1));
        assert_eq!(r.newlines_before(7), Some(4));
        // Past where reading fails, and past the end.
        assert_eq!(r.newlines_before(8), None);
        let mut r = Renumber::new(memory(b"a\nb"));
        assert_eq!(r.newlines_before(3), Some(1));
        assert_eq!(r.newlines_before(9), None);
    }

    /// A file and how to split it.
    #[derive(Debug, Clone)]
    struct Case {
        data: Vec<u8>,
        chunking: Chunking,
        /// The largest read the file answers.
        most: usize,
        max_line: usize,
        prefilter: Option<&'static [u8]>,
    }

    prop_compose! {
        /// Any bytes, any chunk size, any number of workers, with and
        /// without a prefilter.
        fn cases()(
            data in crate::test_support::bytes_among(b"\n\n\r kown_x", 0..600),
            chunk in 1u64..80,
            workers in 1usize..4,
            most in 1usize..50,
            overlap in 0usize..9,
            max_line in 1usize..40,
            filtered in any::<bool>(),
        ) -> Case {
            Case {
                data,
                chunking: Chunking { chunk, workers, overlap },
                most,
                max_line,
                prefilter: filtered.then_some(&b"kn"[..]),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// The same lines, numbers and end as one thread reading the stream
        /// (which numbers lines even when told not to).
        #[test]
        fn chunks_split_like_the_stream(case in cases(), numbered in any::<bool>()) {
            let plan = Plan { numbered, ..plan(case.max_line, case.prefilter) };
            let (stream, chunks) = both(&case.data, &plan, case.chunking, case.most);
            prop_assert_eq!(chunks, if numbered { stream } else { unnumbered(stream) });
        }

        /// Reads failing anywhere: unnumbered lines come out as numbered
        /// ones but for their numbers, and the over-long lines and the read
        /// error have the same numbers.
        #[test]
        fn unnumbered_chunks_differ_only_in_line_numbers(case in cases(), fail_from in 0u64..700) {
            let split = |numbered| {
                let file = Arc::new(Memory { data: case.data.clone(), most: case.most, fail_from });
                let plan = Plan { numbered, ..plan(case.max_line, case.prefilter) };
                collect(Ahead::spawn_file(file, plan, case.chunking))
            };
            prop_assert_eq!(split(false), unnumbered(split(true)));
        }
    }
}
