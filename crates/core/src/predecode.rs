//! Decoding the arguments of a tool's events on the threads that split lines,
//! so that the tool's own thread finds them decoded.
//!
//! A tool that decodes most lines of its input (dma-sectors: nearly every
//! line is a block event) spends a third of its own thread in the format
//! matcher, while the threads that read and split the input have time to
//! spare. A tool names its events in [`ScanOptions::predecode`]; the
//! scanner builds a [`Predecoder`] from the catalog (each event's matchers,
//! in priority order), and every splitting thread matches the messages of
//! those events and stores the value slots with the line in its batch.
//!
//! The answer is always what [`EventSpecs::decode`] would give on the tool's
//! thread: that method tries the spec that matched last first, so it
//! keeps a slot decoded ahead only when the spec it matched is the one it
//! would try first (then its own match would give the same slots); else it
//! decodes the message itself. Each splitting thread keeps its own "matched
//! last" per event, so a trace of one QEMU version rarely falls back.
//!
//! [`ScanOptions::predecode`]: crate::scan::ScanOptions::predecode
//! [`EventSpecs::decode`]: crate::catalog::EventSpecs::decode

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::format::{CFormat, Slot};

/// The matchers of the events a tool wants decoded ahead, shareable with
/// the splitting threads.
#[derive(Debug, Default)]
pub struct Predecoder {
    by_name: FxHashMap<Box<[u8]>, u32>,
    /// Per event: its specs in priority order, as (catalog index, matcher).
    events: Vec<Box<[(u32, CFormat)]>>,
}

impl Predecoder {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds event `name` with its specs in priority order (the catalog's
    /// index of each, and its format). Names without specs are not added.
    pub fn add(&mut self, name: &[u8], specs: Vec<(u32, CFormat)>) {
        if specs.is_empty() || self.by_name.contains_key(name) {
            return;
        }
        self.by_name
            .insert(Box::from(name), self.events.len() as u32);
        self.events.push(specs.into_boxed_slice());
    }

    /// True when no event is decoded ahead.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Values decoded ahead for one event line: the catalog index of the spec
/// that matched, and its slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Predecoded<'a> {
    /// The catalog's index of the spec whose format matched.
    pub spec: u32,
    /// The slots, as [`CFormat::match_message`] gives them.
    pub slots: &'a [Slot],
}

/// One splitting thread's use of a [`Predecoder`]: which spec of each event
/// matched last (tried first next time), and a scratch buffer.
#[derive(Debug)]
pub(crate) struct Predecoding {
    table: Arc<Predecoder>,
    /// Per event, the position in its spec list of the last match.
    preferred: Vec<usize>,
    scratch: Vec<Slot>,
}

impl Predecoding {
    pub(crate) fn new(table: Arc<Predecoder>) -> Self {
        Predecoding {
            preferred: vec![0; table.events.len()],
            table,
            scratch: Vec::new(),
        }
    }

    /// When `name` is one of the table's events and one of its formats
    /// matches `message`: appends the slots to `out` and returns the spec's
    /// catalog index.
    #[inline]
    pub(crate) fn decode(
        &mut self,
        name: &[u8],
        message: &[u8],
        out: &mut Vec<Slot>,
    ) -> Option<u32> {
        let &event = self.table.by_name.get(name)?;
        let specs = &self.table.events[event as usize];
        let first = self.preferred[event as usize];
        let order = std::iter::once(first).chain((0..specs.len()).filter(|&i| i != first));
        for i in order {
            let (spec, format) = &specs[i];
            if format.match_message(message, &mut self.scratch) {
                self.preferred[event as usize] = i;
                out.extend_from_slice(&self.scratch);
                return Some(*spec);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Arc<Predecoder> {
        let mut t = Predecoder::new();
        t.add(
            b"ev",
            vec![
                (7, CFormat::parse(r#""a=%d""#).unwrap()),
                (9, CFormat::parse(r#""a=%s""#).unwrap()),
            ],
        );
        t.add(b"none", Vec::new());
        Arc::new(t)
    }

    #[test]
    fn decodes_chosen_events_and_prefers_the_last_match() {
        let mut p = Predecoding::new(table());
        let mut out = Vec::new();
        assert_eq!(p.decode(b"ev", b"a=12", &mut out), Some(7));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].num, 12);
        // Only the string form matches; it is then tried first, and wins
        // where both would match.
        assert_eq!(p.decode(b"ev", b"a=x", &mut out), Some(9));
        assert_eq!(p.decode(b"ev", b"a=3", &mut out), Some(9));
        assert_eq!(out.len(), 3);
        assert_eq!(p.decode(b"ev", b"b=3", &mut out), None);
        assert_eq!(p.decode(b"other", b"a=3", &mut out), None);
        assert_eq!(p.decode(b"none", b"a=3", &mut out), None);
        assert_eq!(out.len(), 3);
    }

    use crate::ahead::{Ahead, Item, Message, Plan};
    use crate::catalog::{Catalog, Fields};
    use crate::chunks::Chunking;
    use crate::chunks::tests::memory;
    use crate::scan::{Event, Record};
    use proptest::prelude::*;

    /// Two sources declare `ev`; some of its messages match both formats,
    /// so which one wins depends on which matched last.
    fn catalog() -> Catalog {
        let mut c = Catalog::new();
        c.add_text(
            "one",
            "ev(int a, const char *s) \"a=%d s=%s\"\nother_ev(uint64_t x) \"x=0x%\" PRIx64\n",
        );
        c.add_text("two", "ev(const char *a, const char *s) \"a=%s s=%s\"\n");
        c
    }

    fn show(f: Option<Fields<'_>>) -> String {
        let Some(f) = f else {
            return "no match".into();
        };
        let mut out = format!("{}:{}", f.spec().origin.path, f.spec().origin.line);
        for i in 0..f.len() {
            out += &format!(
                " {}={:?}/{}/{}",
                f.name(i),
                f.kind(i),
                f.num(i),
                f.text(i).escape_ascii()
            );
        }
        out
    }

    /// Each event of `ahead` decoded by `decode` (a fresh catalog each call
    /// of this function, so both sides start with the same preferences).
    fn decode_all(mut ahead: Ahead, ahead_values: bool) -> (Vec<String>, usize) {
        let c = catalog();
        let mut scratch = Vec::new();
        let (mut out, mut used) = (Vec::new(), 0);
        while let Some(msg) = ahead.recv() {
            let Message::Batch(b) = msg else { break };
            for item in b.records() {
                let Item::Record(Record::Event(ev)) = item else {
                    continue;
                };
                used += usize::from(ev.pre.is_some());
                let f = c.event(ev.name).and_then(|specs| {
                    if ahead_values {
                        specs.decode_event(&ev, &mut scratch)
                    } else {
                        specs.decode(ev.message, &mut scratch)
                    }
                });
                out.push(format!("{}: {}", ev.line.number, show(f)));
            }
            ahead.give_back(b);
        }
        (out, used)
    }

    fn plan(predecode: bool) -> Plan {
        Plan {
            max_line: 1000,
            prefilter: None,
            names: catalog().name_set(),
            predecode: predecode
                .then(|| Arc::new(catalog().predecoder([&b"ev"[..], b"other_ev", b"nope"]))),
            numbered: true,
        }
    }

    const LINES: [&str; 7] = [
        "ev a=12 s=x",
        "ev a=abc s=y",
        "1@1.5:ev a=-3 s=",
        "other_ev x=0xff",
        "other_ev x=zz",
        "ev broken",
        "not an event",
    ];

    proptest! {
        #[test]
        fn fields_decoded_ahead_are_those_the_tool_would_decode(
            picks in prop::collection::vec(0..LINES.len(), 0..60),
            chunk in 1u64..120,
            workers in 1usize..4,
        ) {
            let mut data = Vec::new();
            for &i in &picks {
                data.extend_from_slice(LINES[i].as_bytes());
                data.push(b'\n');
            }
            let stream = |predecode| {
                Ahead::spawn(Box::new(std::io::Cursor::new(data.clone())), plan(predecode))
            };
            let (want, none) = decode_all(stream(false), false);
            prop_assert_eq!(none, 0);
            let (ahead, used) = decode_all(stream(true), true);
            prop_assert_eq!(&ahead, &want);
            let decodable = picks.iter().filter(|&&i| i < 4).count();
            prop_assert_eq!(used, decodable);
            let chunking = Chunking { chunk, workers, overlap: 3 };
            let (chunked, _) = decode_all(Ahead::spawn_file(memory(&data), plan(true), chunking), true);
            prop_assert_eq!(&chunked, &want);
        }
    }

    #[test]
    fn values_decoded_ahead_are_taken_only_from_the_spec_tried_first() {
        let c = catalog();
        let specs = c.event(b"ev").unwrap();
        let mut scratch = Vec::new();
        // Prefer the first source's spec.
        let first = specs.decode(b"a=1 s=x", &mut scratch).unwrap();
        assert_eq!(&*first.spec().origin.path, "one");
        let line = b"ev a=5 s=x";
        let fake = [
            Slot {
                start: 2,
                end: 3,
                num: 77,
                null: false,
            },
            Slot {
                start: 6,
                end: 7,
                num: 0,
                null: false,
            },
        ];
        let index = |origin: &str| {
            c.spec_indices(b"ev")
                .iter()
                .copied()
                .find(|&i| &*c.spec(i).unwrap().origin.path == origin)
                .unwrap()
        };
        let event = |spec| Event {
            line: crate::lines::Line {
                number: 1,
                bytes: line,
                full: line,
            },
            prefix: crate::recognize::Prefix {
                kind: crate::recognize::PrefixKind::Bare,
                tid: None,
                time: None,
            },
            name: &line[..2],
            message: &line[3..],
            pre: Some(Predecoded { spec, slots: &fake }),
        };
        // From the preferred spec: taken as they are (77, not the 5 of the
        // text, shows they were not decoded again).
        let ev = event(index("one"));
        let f = specs.decode_event(&ev, &mut scratch).unwrap();
        assert_eq!(f.num(0), 77);
        // From another spec: decoded again, with the preferred one.
        let ev = event(index("two"));
        let f = specs.decode_event(&ev, &mut scratch).unwrap();
        assert_eq!((f.num(0), &*f.spec().origin.path), (5, "one"));
    }
}
