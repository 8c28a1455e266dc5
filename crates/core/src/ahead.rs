//! Splitting and classifying lines on a second thread, so that a tool's own
//! work on one batch of lines overlaps with the preparation of the next.
//!
//! Three stages run at once: the read-ahead thread of [`Prefetch`] reads (and
//! decompresses) the input, this module's splitting thread runs the
//! [`LineReader`] (with the prefilter) and the line classification
//! ([`classify_with`]) over those buffers, and copies each
//! line it keeps into a batch together with where its prefix, name and
//! message are. The scanning thread rebuilds each [`Record`] from a batch
//! without looking at the bytes again. Batches travel over a bounded
//! channel and come back for reuse, so memory stays at a few batches
//! whatever the input size; read errors travel in order with the lines.
//!
//! Batches are handed over before every read of the input, so a live pipe
//! (`qemu … 2>&1 | tool --line-buffered`) gets each line through as soon as
//! it arrives, while a file is handed over in read-sized batches.
//!
//! A plain regular file is split differently: by workers that each read and
//! split chunks of it ([`crate::chunks`]); their batches come out of the
//! same [`Ahead`], in the same order, with the same line numbers.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use memchr::memmem::Finder;
use rustc_hash::FxHashSet;

use crate::chunks::{Chunking, Chunks, ReadAt};
use crate::format::Slot;
use crate::input::Stream;
use crate::lines::{Line, LineEvent, LineReader, LineSource, Window};
use crate::predecode::{Fate, Predecoded, Predecoder, Predecoding};
use crate::prefetch::Prefetch;
use crate::recognize::{Prefix, PrefixKind};
use crate::scan::{Event, Record, classify_with};

/// Batches in flight (two keep both threads busy; more only cost memory).
const DEPTH: usize = 2;
/// Bytes the line reader asks for at once (the read-ahead thread reads its
/// own fixed-size buffers; this only matters for the slow path of a line
/// longer than the read-ahead reserve).
const CHUNK: usize = 512 << 10;
/// A batch is handed over when it holds this many bytes of lines (or
/// before the next read, whichever comes first).
const BATCH_BYTES: usize = 128 << 10;
/// A returned batch that grew past this (a very long line) is dropped
/// instead of reused.
const KEEP_CAPACITY: usize = 4 << 20;

/// The event names a catalog knows, shareable with the splitting thread.
pub type NameSet = Arc<FxHashSet<Box<[u8]>>>;

/// The longest line a batch holds: offsets are 32-bit to keep entries
/// small, so a `--max-line-len` above this acts as this.
pub const MAX_LINE: usize = 1 << 30;

/// A span of a line, as 32-bit offsets from its start.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// Where `part`, a subslice of `line`, lies in it.
    fn of(line: &[u8], part: &[u8]) -> Span {
        let offset = (part.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
        debug_assert!(offset <= line.len() && offset + part.len() <= line.len());
        // Never out of bounds, even if a recogniser handed back a slice of
        // something else (an empty part then lies at the end).
        let start = offset.min(line.len());
        let end = (start + part.len()).min(line.len());
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    fn slice(self, line: &[u8]) -> &[u8] {
        &line[self.start as usize..self.end as usize]
    }
}

/// Where the slots of an event decoded ahead lie in its batch, the spec
/// they come from and the event's position in the tool's list.
#[derive(Debug, Clone, Copy)]
struct PreSpan {
    spec: u32,
    event: u32,
    slots: Span,
}

/// What a line was found to be.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Other,
    Event {
        prefix: PrefixKind,
        has_tid: bool,
        has_time: bool,
        tid: u64,
        time: Span,
        name: Span,
        message: Span,
        /// Its arguments, when decoded ahead.
        pre: Option<PreSpan>,
    },
    /// A line over the length bound, skipped; `number` is its length.
    TooLong,
}

/// One entry of a batch: a line, whose bytes are `start..full_end` of the
/// batch, of which `start..start + len` is the line without its terminator;
/// or a skipped over-long line (then `start` and `len` are its length's
/// halves).
#[derive(Debug, Clone, Copy)]
struct Entry {
    number: u64,
    start: u32,
    len: u32,
    full_end: u32,
    kind: Kind,
}

/// Lines prepared by the splitting thread.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    /// Values of the events decoded ahead.
    slots: Vec<Slot>,
    /// Added to every entry's line number: a chunk's lines are numbered
    /// from 1 by its worker, which does not know how many came before.
    pub(crate) base: u64,
    /// The worker that filled it (where it goes back to).
    pub(crate) origin: usize,
    /// Events left out of it (see [`crate::predecode`]).
    pub(crate) left_out: u64,
}

impl Batch {
    /// An empty batch with room for a usual batch's worth of lines, so that
    /// filling it does not grow (and copy) it step by step: a batch is
    /// handed over once past `BATCH_BYTES`, so its bytes end within one
    /// line of that, and lines are rarely shorter than 32 bytes.
    pub(crate) fn with_usual_capacity(origin: usize) -> Batch {
        Batch {
            bytes: Vec::with_capacity(2 * BATCH_BYTES),
            entries: Vec::with_capacity(BATCH_BYTES / 32),
            slots: Vec::new(),
            base: 0,
            origin,
            left_out: 0,
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.slots.clear();
        self.base = 0;
        self.left_out = 0;
    }

    /// Whether it has nothing to hand over: no line, and no count of
    /// events left out.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.left_out == 0
    }

    /// Whether the batch is big enough to hand over: its lines and the
    /// values decoded ahead count alike, so that batches of decoded lines
    /// take no more memory than others.
    pub(crate) fn is_full(&self) -> bool {
        self.bytes.len() + self.slots.len() * std::mem::size_of::<Slot>() >= BATCH_BYTES
    }

    /// Classifies a line (with `knows`, see [`classify_with`]) and adds it
    /// (with its arguments decoded when `pre` has its event; only counted
    /// when `pre` leaves it out), or records an over-long line.
    #[inline]
    pub(crate) fn push(
        &mut self,
        ev: LineEvent<'_>,
        knows: impl Fn(&[u8]) -> bool,
        pre: Option<&mut Predecoding>,
    ) {
        match ev {
            LineEvent::Line(line) => {
                let kind = match classify_with(line, &knows) {
                    Record::Other(_) => Kind::Other,
                    Record::Event(e) => Kind::Event {
                        pre: match pre {
                            None => None,
                            Some(p) => {
                                let start = self.slots.len() as u32;
                                let timed = e.prefix.time.is_some();
                                match p.sort(e.name, e.message, timed, &mut self.slots) {
                                    // A damaged name of one of the tool's
                                    // events comes through, for the tool
                                    // to count.
                                    Fate::LeftOut
                                        if knows(e.name) || !p.table().near_listed(e.name) =>
                                    {
                                        self.left_out += 1;
                                        return;
                                    }
                                    Fate::LeftOut | Fate::Kept => None,
                                    Fate::Decoded { spec, event } => Some(PreSpan {
                                        spec,
                                        event,
                                        slots: Span {
                                            start,
                                            end: self.slots.len() as u32,
                                        },
                                    }),
                                }
                            }
                        },
                        prefix: e.prefix.kind,
                        has_tid: e.prefix.tid.is_some(),
                        has_time: e.prefix.time.is_some(),
                        tid: e.prefix.tid.unwrap_or(0),
                        time: e
                            .prefix
                            .time
                            .map_or_else(Span::default, |t| Span::of(line.bytes, t)),
                        name: Span::of(line.bytes, e.name),
                        message: Span::of(line.bytes, e.message),
                    },
                };
                // Lines are at most MAX_LINE long and a batch is handed over
                // once past BATCH_BYTES, so offsets fit in 32 bits.
                let start = self.bytes.len() as u32;
                self.bytes.extend_from_slice(line.full);
                self.entries.push(Entry {
                    number: line.number,
                    start,
                    len: line.bytes.len() as u32,
                    full_end: self.bytes.len() as u32,
                    kind,
                });
            }
            LineEvent::TooLong { number, length } => {
                self.entries.push(Entry {
                    number,
                    start: (length >> 32) as u32,
                    len: length as u32,
                    full_end: 0,
                    kind: Kind::TooLong,
                });
            }
        }
    }

    /// Numbers its over-long lines, which come with the offset in the file
    /// just past them instead of a number (see [`crate::chunks`]).
    pub(crate) fn number_too_long(&mut self, mut number: impl FnMut(u64) -> u64) {
        for e in &mut self.entries {
            if let Kind::TooLong = e.kind {
                e.number = number(e.number);
            }
        }
    }

    /// How many events the splitting thread left out of it (see
    /// [`crate::predecode`]).
    pub fn left_out(&self) -> u64 {
        self.left_out
    }

    /// The records of the batch, in order.
    pub fn records(&self) -> impl Iterator<Item = Item<'_>> {
        let base = self.base;
        self.entries.iter().map(move |e| {
            let Entry {
                number,
                start,
                len,
                full_end,
                kind,
            } = *e;
            let number = number + base;
            if let Kind::TooLong = kind {
                return Item::TooLong {
                    number,
                    length: u64::from(start) << 32 | u64::from(len),
                };
            }
            let full = &self.bytes[start as usize..full_end as usize];
            let bytes = &full[..len as usize];
            let line = Line {
                number,
                bytes,
                full,
            };
            Item::Record(match kind {
                Kind::Event {
                    prefix,
                    has_tid,
                    has_time,
                    tid,
                    time,
                    name,
                    message,
                    pre,
                } => Record::Event(Event {
                    line,
                    prefix: Prefix {
                        kind: prefix,
                        tid: has_tid.then_some(tid),
                        time: has_time.then(|| time.slice(bytes)),
                    },
                    name: name.slice(bytes),
                    message: message.slice(bytes),
                    pre: pre.map(|p| Predecoded {
                        spec: p.spec,
                        event: p.event,
                        slots: &self.slots[p.slots.start as usize..p.slots.end as usize],
                    }),
                }),
                Kind::Other | Kind::TooLong => Record::Other(line),
            })
        })
    }
}

/// One item of a batch.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    /// A line and what it is.
    Record(Record<'a>),
    /// A line over the length bound, skipped.
    TooLong {
        /// Its line number.
        number: u64,
        /// Its length in bytes (without the newline).
        length: u64,
    },
}

/// What the splitting thread sends.
#[derive(Debug)]
pub enum Message {
    /// Some lines.
    Batch(Batch),
    /// Reading failed before line `line`; nothing follows.
    Error {
        /// The number the next line would have had.
        line: u64,
        /// What failed.
        source: io::Error,
    },
    /// The end of the input, after `lines` lines.
    End {
        /// Lines read (including skipped ones).
        lines: u64,
    },
}

/// The receiving end: batches of classified lines, in input order, from
/// the splitting thread of a stream or the workers splitting a file.
#[derive(Debug)]
pub struct Ahead {
    from: Splitter,
}

#[derive(Debug)]
enum Splitter {
    /// One splitting thread reading a stream.
    Stream {
        rx: Receiver<Message>,
        back: SyncSender<Batch>,
    },
    /// Workers splitting alternate chunks of a regular file.
    Chunks(Chunks),
}

/// How the splitting thread reads and classifies.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Longest line kept.
    pub max_line: usize,
    /// Only lines containing this are kept (see [`crate::scan::ScanOptions`]).
    pub prefilter: Option<Vec<u8>>,
    /// The names the catalog knows (for lines without a prefix).
    pub names: NameSet,
    /// The events to decode ahead and the only ones to keep (see
    /// [`crate::predecode`]).
    pub predecode: Option<Arc<Predecoder>>,
    /// Whether lines carry their numbers; see
    /// [`ScanOptions::line_numbers`](crate::scan::ScanOptions::line_numbers).
    pub numbered: bool,
}

impl Ahead {
    /// Starts splitting `src` on a new thread.
    pub fn spawn(src: Stream, plan: Plan) -> Ahead {
        let (tx, rx) = sync_channel::<Message>(DEPTH);
        let (back, free) = sync_channel::<Batch>(DEPTH + 1);
        // Not joined: the thread may be blocked reading a live pipe that has
        // nothing to say, and must not keep the process alive. It ends at its
        // next hand-over once this side is dropped.
        std::thread::Builder::new()
            .name("qtrace-split".into())
            .spawn(move || split(src, plan, tx, free))
            .expect("spawning the splitting thread");
        Ahead {
            from: Splitter::Stream { rx, back },
        }
    }

    /// Starts splitting a regular file: workers read and split alternate
    /// chunks of it at once (see [`crate::chunks`]).
    pub fn spawn_file<F: ReadAt + 'static>(file: Arc<F>, plan: Plan, chunking: Chunking) -> Ahead {
        Ahead {
            from: Splitter::Chunks(Chunks::spawn(file, plan, chunking)),
        }
    }

    /// The next message; after `Error` or `End`, `None`.
    pub fn recv(&mut self) -> Option<Message> {
        match &mut self.from {
            Splitter::Stream { rx, .. } => rx.recv().ok(),
            Splitter::Chunks(c) => c.recv(),
        }
    }

    /// Returns a used batch for reuse.
    pub fn give_back(&self, mut batch: Batch) {
        if batch.bytes.capacity() <= KEEP_CAPACITY {
            batch.clear();
            match &self.from {
                Splitter::Stream { back, .. } => {
                    let _ = back.try_send(batch);
                }
                Splitter::Chunks(c) => c.give_back(batch),
            }
        }
    }
}

/// The batch being filled, shared by the split loop and the input (which
/// hands it over before each read).
struct Pending {
    batch: Batch,
    tx: SyncSender<Message>,
    free: Receiver<Batch>,
    /// The scanning side is gone.
    closed: bool,
}

impl Pending {
    /// Hands over the batch if it holds anything.
    fn flush(&mut self) {
        if self.batch.is_empty() || self.closed {
            return;
        }
        let fresh = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Batch::with_usual_capacity(0));
        let full = std::mem::replace(&mut self.batch, fresh);
        if self.tx.send(Message::Batch(full)).is_err() {
            self.closed = true;
        }
    }
}

/// The input, handing over the pending batch before every read.
struct Source {
    src: Prefetch,
    pending: Rc<RefCell<Pending>>,
}

impl LineSource for Source {
    fn refill(&mut self, buf: &mut Vec<u8>, w: Window<'_>, chunk: usize) -> io::Result<bool> {
        let closed = {
            let mut p = self.pending.borrow_mut();
            p.flush();
            p.closed
        };
        if closed {
            // Nobody listens: stop reading.
            return Ok(false);
        }
        self.src.refill(buf, w, chunk)
    }
}

/// The splitting thread's loop.
fn split(src: Stream, plan: Plan, tx: SyncSender<Message>, free: Receiver<Batch>) {
    let pending = Rc::new(RefCell::new(Pending {
        batch: Batch::with_usual_capacity(0),
        tx,
        free,
        closed: false,
    }));
    let source = Source {
        src: Prefetch::new(src),
        pending: Rc::clone(&pending),
    };
    let finder = plan.prefilter.as_deref().map(Finder::new);
    let names = &plan.names;
    let knows = |name: &[u8]| names.contains(name);
    let mut pre = plan.predecode.clone().map(Predecoding::new);
    let mut reader = LineReader::with_limits(source, plan.max_line.min(MAX_LINE), CHUNK);
    let end = loop {
        let ev = match reader.next_with(finder.as_ref()) {
            Ok(Some(ev)) => ev,
            Ok(None) => {
                break Message::End {
                    lines: reader.line_number(),
                };
            }
            Err(source) => {
                break Message::Error {
                    line: reader.line_number() + 1,
                    source,
                };
            }
        };
        let mut p = pending.borrow_mut();
        if p.closed {
            return;
        }
        let b = &mut p.batch;
        b.push(ev, knows, pre.as_mut());
        if b.is_full() {
            p.flush();
        }
    };
    let mut p = pending.borrow_mut();
    p.flush();
    if !p.closed {
        let _ = p.tx.send(end);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::prefetch::tests::lines_then_error;

    pub(crate) fn plan(max_line: usize, prefilter: Option<&[u8]>) -> Plan {
        Plan {
            max_line,
            prefilter: prefilter.map(<[u8]>::to_vec),
            names: Arc::new(FxHashSet::from_iter([b"known".to_vec().into_boxed_slice()])),
            predecode: None,
            numbered: true,
        }
    }

    /// Every item as text, and how the input ended.
    fn run(src: Stream, plan: Plan) -> (Vec<String>, String) {
        collect(Ahead::spawn(src, plan))
    }

    /// Every item `ahead` gives as text, and how the input ended.
    pub(crate) fn collect(mut ahead: Ahead) -> (Vec<String>, String) {
        let mut out = Vec::new();
        while let Some(msg) = ahead.recv() {
            match msg {
                Message::Batch(b) => {
                    for item in b.records() {
                        out.push(match item {
                            Item::TooLong { number, length } => format!("{number}: <{length}>"),
                            Item::Record(Record::Other(l)) => {
                                format!(
                                    "{}: other {:?}",
                                    l.number,
                                    l.full.escape_ascii().to_string()
                                )
                            }
                            Item::Record(Record::Event(e)) => format!(
                                "{}: {:?} tid={:?} time={:?} {} [{}] {:?}",
                                e.line.number,
                                e.prefix.kind,
                                e.prefix.tid,
                                e.prefix.time.map(|t| t.escape_ascii().to_string()),
                                e.name.escape_ascii(),
                                e.message.escape_ascii(),
                                e.line.full.escape_ascii().to_string(),
                            ),
                        });
                    }
                    ahead.give_back(b);
                }
                Message::End { lines } => return (out, format!("end after {lines}")),
                Message::Error { line, source } => {
                    return (out, format!("error at {line}: {source}"));
                }
            }
        }
        (out, "channel closed".into())
    }

    #[test]
    fn records_are_rebuilt_exactly() {
        let text = b"9479@1795674347.582949:pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086\r\n\
            known args here\n\
            unknown words here\n\
            some_event\n\
            2025-01-09T17:06:41.186451Z known x\n\
            guest output\xff\n\
            last_line without newline";
        let (got, end) = run(Box::new(io::Cursor::new(text.to_vec())), plan(1000, None));
        assert_eq!(
            got,
            [
                r#"1: TidTime tid=Some(9479) time=Some("1795674347.582949") pci_cfg_read [e1000 00:03.0 @0x0 -> 0x100e8086] "9479@1795674347.582949:pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086\\r\\n""#,
                r#"2: Bare tid=None time=None known [args here] "known args here\\n""#,
                r#"3: other "unknown words here\\n""#,
                r#"4: other "some_event\\n""#,
                r#"5: Iso tid=None time=Some("2025-01-09T17:06:41.186451Z") known [x] "2025-01-09T17:06:41.186451Z known x\\n""#,
                r#"6: other "guest output\\xff\\n""#,
                r#"7: Bare tid=None time=None last_line [without newline] "last_line without newline""#,
            ]
        );
        assert_eq!(end, "end after 7");
    }

    #[test]
    fn lines_come_through_in_order_and_then_the_error() {
        // Lines of every length up to well past a batch, read a few bytes
        // at a time, so batches are handed over at every read.
        let (dribble, lines) = lines_then_error(BATCH_BYTES);
        let want: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| format!("{}: other {:?}", i + 1, line.escape_ascii().to_string()))
            .collect();
        let (got, end) = run(Box::new(dribble), plan(usize::MAX, None));
        assert_eq!(got.len(), want.len());
        assert!(got == want, "lines differ");
        assert_eq!(end, "error at 301: boom");
    }

    #[test]
    fn long_lines_and_prefilter_keep_numbers() {
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5 * CHUNK));
        data.extend(b"\nkeep one\nskip\nkeep two");
        let (got, end) = run(Box::new(io::Cursor::new(data)), plan(1000, Some(b"keep")));
        assert_eq!(
            got,
            [
                format!("2: <{}>", 5 * CHUNK),
                r#"3: other "keep one\\n""#.to_string(),
                r#"5: other "keep two""#.to_string(),
            ]
        );
        assert_eq!(end, "end after 5");
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let data = b"line\n".repeat(2 * CHUNK);
        let mut ahead = Ahead::spawn(Box::new(io::Cursor::new(data)), plan(100, None));
        assert!(matches!(ahead.recv(), Some(Message::Batch(_))));
        drop(ahead); // must not hang
    }

    #[test]
    fn empty_input() {
        let (got, end) = run(Box::new(io::empty()), plan(100, None));
        assert!(got.is_empty());
        assert_eq!(end, "end after 0");
    }
}
