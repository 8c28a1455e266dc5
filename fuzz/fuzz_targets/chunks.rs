//! Fuzz target `chunks`: splitting a file in chunks on several workers
//! must give exactly what splitting it as one stream gives.
//!
//! The first four bytes of the input choose the chunk size (1-64), the
//! number of workers (1-3), the bytes read past a chunk's end (0-7), the
//! largest read the file answers (1-32 bytes), the line bound (1-64) and
//! whether a prefilter is used; the rest is the file. Every item (line
//! number, classification, prefix, name, message, the exact bytes, or an
//! over-long line's number and length) and how the input ended must be the
//! same both ways. When the third byte's top bit is set, the workers also
//! decode a few built-in events ahead (see `qtrace_core::predecode`), and
//! the fields the tool then gets must be those it would decode itself.
//! When its bit 5 is set, the workers do not number lines: every line's
//! number must then be 0 (and the count at the end), while over-long lines
//! keep theirs. When its bit 4 is set, the workers leave out the events not
//! among those few: what comes through must then be the stream's items in
//! order without some of those events, never the first with a timestamp,
//! and the count left out must make up the difference.

#![no_main]

use std::io;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use qtrace_core::ahead::{Ahead, Item, Message, Plan};
use qtrace_core::catalog::Catalog;
use qtrace_core::chunks::{Chunking, ReadAt};
use qtrace_core::scan::Record;

/// The file, answering at most `most` bytes per read.
struct Memory {
    data: Vec<u8>,
    most: usize,
}

impl ReadAt for Memory {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let at = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let n = buf.len().min(self.most).min(self.data.len() - at);
        buf[..n].copy_from_slice(&self.data[at..at + n]);
        Ok(n)
    }
}

/// The events whose arguments the workers may decode ahead.
const AHEAD: [&[u8]; 5] = [
    b"pci_cfg_read",
    b"pci_cfg_write",
    b"ps2_put_keycode",
    b"dma_blk_io",
    b"blk_co_preadv",
];

/// What an item is, for the checks of events left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Not an event.
    Other,
    /// An event; `named` when in `AHEAD`, `timed` when it has a timestamp.
    Event { named: bool, timed: bool },
}

/// Every item as text (an event's with its decoded fields, taken from the
/// values decoded ahead when `ahead_values`), then how the input ended;
/// with the numbers of lines and the count at the end shown as 0 unless
/// `numbers`. Also what each item is, and the count of events left out.
fn items(mut ahead: Ahead, ahead_values: bool, numbers: bool) -> (Vec<(String, Class)>, u64) {
    let shown = |n: u64| if numbers { n } else { 0 };
    let catalog = Catalog::builtin();
    let mut scratch = Vec::new();
    let mut out = Vec::new();
    let mut left_out = 0;
    while let Some(msg) = ahead.recv() {
        match msg {
            Message::Batch(batch) => {
                left_out += batch.left_out();
                for item in batch.records() {
                    let class = match item {
                        Item::Record(Record::Event(e)) => Class::Event {
                            named: AHEAD.contains(&e.name),
                            timed: e.prefix.time.is_some(),
                        },
                        _ => Class::Other,
                    };
                    let text = match item {
                        Item::TooLong { number, length } => format!("{number}: <{length}>"),
                        Item::Record(Record::Other(l)) => {
                            format!("{}: other {:?}", shown(l.number), l.full)
                        }
                        Item::Record(Record::Event(e)) => {
                            let fields = catalog.event(e.name).and_then(|specs| {
                                if ahead_values {
                                    specs.decode_event(&e, &mut scratch)
                                } else {
                                    specs.decode(e.message, &mut scratch)
                                }
                            });
                            let values: Vec<_> = fields
                                .iter()
                                .flat_map(|f| {
                                    (0..f.len())
                                        .map(|i| (f.name(i), f.num(i), f.text(i), f.is_null(i)))
                                })
                                .collect();
                            format!(
                                "{}: {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                                shown(e.line.number),
                                e.prefix.kind,
                                e.prefix.tid,
                                e.prefix.time,
                                e.name,
                                e.message,
                                e.line.bytes,
                                e.line.full,
                                values,
                            )
                        }
                    };
                    out.push((text, class));
                }
                ahead.give_back(batch);
            }
            Message::End { lines } => {
                out.push((format!("end after {}", shown(lines)), Class::Other));
                break;
            }
            Message::Error { line, source } => {
                out.push((format!("error at {line}: {source}"), Class::Other));
                break;
            }
        }
    }
    (out, left_out)
}

/// Checks what came through with events left out (`got`) against every
/// item (`all`).
fn check_left_out(all: &[(String, Class)], got: &[(String, Class)], left_out: u64) {
    assert_eq!(got.len() as u64 + left_out, all.len() as u64);
    let first_timed = all
        .iter()
        .position(|&(_, c)| matches!(c, Class::Event { timed: true, .. }));
    let mut next = 0;
    for (i, item) in all.iter().enumerate() {
        if got.get(next) == Some(item) {
            next += 1;
        } else {
            assert!(
                matches!(item.1, Class::Event { named: false, .. }) && first_timed != Some(i),
                "{item:?} was left out"
            );
        }
    }
    assert_eq!(next, got.len(), "items came through out of order");
}

fuzz_target!(|input: &[u8]| {
    let Some((&[a, b, c, d], data)) = input.split_first_chunk::<4>().map(|(h, t)| (h, t)) else {
        return;
    };
    let chunking = Chunking {
        chunk: u64::from(a % 64) + 1,
        workers: usize::from(b % 3) + 1,
        overlap: usize::from(b / 3 % 8),
    };
    let most = usize::from(c % 32) + 1;
    let plan = Plan {
        max_line: usize::from(d % 64) + 1,
        prefilter: (d >= 128).then(|| b"_r".to_vec()),
        names: Default::default(),
        predecode: None,
        numbered: true,
    };
    let numbered = c & 32 == 0;
    let (stream, _) = items(
        Ahead::spawn(Box::new(io::Cursor::new(data.to_vec())), plan.clone()),
        false,
        numbered,
    );
    let ahead_values = c >= 128;
    let only = c & 16 != 0;
    let ahead_names = if ahead_values { &AHEAD[..] } else { &[] };
    let mut table = Catalog::builtin().predecoder(ahead_names.iter().copied());
    if only {
        table.keep_only(AHEAD);
    }
    let plan = Plan {
        predecode: (ahead_values || only).then(|| Arc::new(table)),
        numbered,
        ..plan
    };
    let file = Arc::new(Memory {
        data: data.to_vec(),
        most,
    });
    let (chunks, left_out) = items(Ahead::spawn_file(file, plan, chunking), ahead_values, true);
    if only {
        check_left_out(&stream, &chunks, left_out);
    } else {
        assert_eq!(left_out, 0);
        assert_eq!(stream, chunks, "{chunking:?}, reads of {most}");
    }
});
