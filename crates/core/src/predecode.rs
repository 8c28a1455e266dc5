//! Work on a tool's events done by the threads that split lines: decoding
//! their arguments, so that the tool's own thread finds them decoded, and
//! leaving out the events the tool never reads.
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
//! A tool that reads only some events names them in
//! [`ScanOptions::only_events`]; the splitting threads then leave the
//! others out of their batches (and count them), so that the tool's thread
//! neither rebuilds nor looks at them. Events whose name no catalog declares
//! and is one byte off one of the tool's are kept too, so that the tool can
//! count damaged names ([`crate::limits::damaged_name_of`]). One event is
//! kept whatever its name:
//! the first with a timestamp that each splitting thread sees. A thread
//! splits its part of the input in order (all of a stream, every n-th chunk
//! of a file), so the input's first timestamp, from which tools count
//! relative times, always comes through.
//!
//! [`ScanOptions::predecode`]: crate::scan::ScanOptions::predecode
//! [`ScanOptions::only_events`]: crate::scan::ScanOptions::only_events
//! [`EventSpecs::decode`]: crate::catalog::EventSpecs::decode

use std::sync::Arc;

use crate::format::{CFormat, Slot};
use crate::names::NameMap;

/// What the splitting threads do with an event a tool named.
#[derive(Debug, Clone, Copy)]
enum Listed {
    /// Decode it with `events[i]`.
    Decode(u32),
    /// Keep it as it is.
    Keep,
}

/// The matchers of the events a tool wants decoded ahead, and the events it
/// reads at all, shareable with the splitting threads.
#[derive(Debug, Default)]
pub struct Predecoder {
    by_name: NameMap<Listed>,
    /// The events decoded ahead.
    events: Vec<AheadEvent>,
    /// Events not in `by_name` may be left out.
    only: bool,
    /// The names in `by_name`, for telling damaged forms of them.
    names: Vec<Box<[u8]>>,
}

impl Predecoder {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds event `name`, at `position` in the tool's list, with its specs
    /// in priority order (the catalog's index of each, and its format).
    /// Names without specs are not decoded ahead.
    pub fn add(&mut self, name: &[u8], position: u32, specs: Vec<(u32, CFormat)>) {
        let next = Listed::Decode(self.events.len() as u32);
        if specs.is_empty() || !self.by_name.insert(name, next) {
            return;
        }
        self.names.push(name.into());
        self.events.push(AheadEvent {
            position,
            specs: specs.into_boxed_slice(),
        });
    }

    /// Lets the splitting threads leave out every event not in `names`
    /// (see the module documentation).
    pub fn keep_only<'n>(&mut self, names: impl IntoIterator<Item = &'n [u8]>) {
        self.only = true;
        for name in names {
            if self.by_name.insert(name, Listed::Keep) {
                self.names.push(name.into());
            }
        }
    }

    /// True when `name` is one byte off one of the table's names (a
    /// damaged name, when no catalog declares it).
    pub(crate) fn near_listed(&self, name: &[u8]) -> bool {
        crate::limits::damaged_name_of(name, &self.names).is_some()
    }

    /// True when it has nothing for the splitting threads to do: no event
    /// to decode ahead, none to leave out.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && !self.only
    }
}

/// An event decoded ahead.
#[derive(Debug)]
struct AheadEvent {
    /// Its position in the tool's list.
    position: u32,
    /// Its specs in priority order, as (catalog index, matcher).
    specs: Box<[(u32, CFormat)]>,
}

/// Values decoded ahead for one event line: the catalog index of the spec
/// that matched, and its slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Predecoded<'a> {
    /// The catalog's index of the spec whose format matched.
    pub spec: u32,
    /// The position of the event's name in
    /// [`ScanOptions::predecode`](crate::scan::ScanOptions::predecode), so
    /// that a tool knows which of its events this is without comparing
    /// names.
    pub event: u32,
    /// The slots, as [`CFormat::match_message`] gives them.
    pub slots: &'a [Slot],
}

/// What becomes of one event line on a splitting thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Left out: the tool does not read it.
    LeftOut,
    /// Kept as it is.
    Kept,
    /// Kept, with its arguments appended to the slots: the spec's catalog
    /// index and the event's position in the tool's list.
    Decoded { spec: u32, event: u32 },
}

/// One splitting thread's use of a [`Predecoder`]: which spec of each event
/// matched last (tried first next time), a scratch buffer, and whether the
/// thread has seen a timestamp yet.
#[derive(Debug)]
pub(crate) struct Predecoding {
    table: Arc<Predecoder>,
    /// Per event, the position in its spec list of the last match.
    preferred: Vec<usize>,
    scratch: Vec<Slot>,
    timed: bool,
}

impl Predecoding {
    pub(crate) fn new(table: Arc<Predecoder>) -> Self {
        Predecoding {
            preferred: vec![0; table.events.len()],
            table,
            scratch: Vec::new(),
            timed: false,
        }
    }

    /// The table this thread uses.
    pub(crate) fn table(&self) -> &Predecoder {
        &self.table
    }

    /// Decides about the event `name` with arguments `message` (`timed`:
    /// its line has a timestamp). When it is one of the table's events to
    /// decode and one of its formats matches `message`, appends the slots
    /// to `out`.
    #[inline]
    pub(crate) fn sort(
        &mut self,
        name: &[u8],
        message: &[u8],
        timed: bool,
        out: &mut Vec<Slot>,
    ) -> Fate {
        let first_timed = timed && !self.timed;
        self.timed |= timed;
        let event = match self.table.by_name.get(name) {
            Some(&Listed::Decode(i)) => i as usize,
            Some(Listed::Keep) => return Fate::Kept,
            None if self.table.only && !first_timed => return Fate::LeftOut,
            None => return Fate::Kept,
        };
        let AheadEvent { position, specs } = &self.table.events[event];
        let first = self.preferred[event];
        let order = std::iter::once(first).chain((0..specs.len()).filter(|&i| i != first));
        for i in order {
            let (spec, format) = &specs[i];
            if format.match_appending(message, out, &mut self.scratch) {
                self.preferred[event] = i;
                return Fate::Decoded {
                    spec: *spec,
                    event: *position,
                };
            }
        }
        Fate::Kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(only: bool) -> Arc<Predecoder> {
        let mut t = Predecoder::new();
        t.add(
            b"ev",
            3,
            vec![
                (7, CFormat::parse(r#""a=%d""#).unwrap()),
                (9, CFormat::parse(r#""a=%s""#).unwrap()),
            ],
        );
        t.add(b"none", 4, Vec::new());
        if only {
            t.keep_only([&b"ev"[..], b"kept"]);
        }
        Arc::new(t)
    }

    #[test]
    fn decodes_chosen_events_and_prefers_the_last_match() {
        let mut p = Predecoding::new(table(false));
        let mut out = Vec::new();
        let decoded = |spec| Fate::Decoded { spec, event: 3 };
        assert_eq!(p.sort(b"ev", b"a=12", false, &mut out), decoded(7));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].num, 12);
        // Only the string form matches; it is then tried first, and wins
        // where both would match.
        assert_eq!(p.sort(b"ev", b"a=x", false, &mut out), decoded(9));
        assert_eq!(p.sort(b"ev", b"a=3", true, &mut out), decoded(9));
        assert_eq!(out.len(), 3);
        assert_eq!(p.sort(b"ev", b"b=3", false, &mut out), Fate::Kept);
        assert_eq!(p.sort(b"other", b"a=3", false, &mut out), Fate::Kept);
        assert_eq!(p.sort(b"none", b"a=3", false, &mut out), Fate::Kept);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn leaves_out_unnamed_events_but_the_first_timestamp() {
        let mut p = Predecoding::new(table(true));
        let mut out = Vec::new();
        assert_eq!(p.sort(b"other", b"", false, &mut out), Fate::LeftOut);
        assert_eq!(p.sort(b"kept", b"", false, &mut out), Fate::Kept);
        // Not named, but the first with a timestamp.
        assert_eq!(p.sort(b"other", b"", true, &mut out), Fate::Kept);
        assert_eq!(p.sort(b"other", b"", true, &mut out), Fate::LeftOut);
        assert_eq!(p.sort(b"none", b"", false, &mut out), Fate::LeftOut);
        // A named event takes the first timestamp: nothing else is kept.
        let mut p = Predecoding::new(table(true));
        assert!(matches!(
            p.sort(b"ev", b"a=1", true, &mut out),
            Fate::Decoded { .. }
        ));
        assert_eq!(p.sort(b"other", b"", true, &mut out), Fate::LeftOut);
        assert_eq!(out.len(), 1);
        // Without `keep_only`, nothing is left out.
        let mut p = Predecoding::new(table(false));
        assert_eq!(p.sort(b"other", b"", false, &mut out), Fate::Kept);
        assert!(!table(true).is_empty());
        assert!(Predecoder::new().is_empty());
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

    prop_compose! {
        /// Up to 60 picks among `kinds` lines, and how to cut their text
        /// in chunks.
        fn split_case(kinds: usize)(
            picks in prop::collection::vec(0..kinds, 0..60),
            chunk in 1u64..120,
            workers in 1usize..4,
        ) -> (Vec<usize>, Chunking) {
            (picks, Chunking { chunk, workers, overlap: 3 })
        }
    }

    /// The lines `picks` chooses from `lines`, each ended by a newline.
    fn text_of(lines: &[&str], picks: &[usize]) -> Vec<u8> {
        picks
            .iter()
            .flat_map(|&i| [lines[i].as_bytes(), b"\n"].concat())
            .collect()
    }

    proptest! {
        #[test]
        fn fields_decoded_ahead_are_those_the_tool_would_decode(
            (picks, chunking) in split_case(LINES.len()),
        ) {
            let data = text_of(&LINES, &picks);
            let stream = |predecode| {
                Ahead::spawn(Box::new(std::io::Cursor::new(data.clone())), plan(predecode))
            };
            let (want, none) = decode_all(stream(false), false);
            prop_assert_eq!(none, 0);
            let (ahead, used) = decode_all(stream(true), true);
            prop_assert_eq!(&ahead, &want);
            let decodable = picks.iter().filter(|&&i| i < 4).count();
            prop_assert_eq!(used, decodable);
            let (chunked, _) = decode_all(Ahead::spawn_file(memory(&data), plan(true), chunking), true);
            prop_assert_eq!(&chunked, &want);
        }
    }

    /// Lines for the tests of leaving events out: `ev` is decoded ahead,
    /// `kept_ev` only named, the other events neither.
    const MIXED: [&str; 8] = [
        "ev a=1 s=x",
        "1@1.5:ev a=2 s=",
        "kept_ev 1",
        "other_ev x=0x1",
        "2@2.5:other_ev x=0x2",
        "3@3.5:stray_ev z",
        "4@4.5:kept_ev 2",
        "not an event",
    ];

    /// Every record `ahead` gives as `number name` (`-` for other lines),
    /// and the events left out.
    fn records(mut ahead: Ahead) -> (Vec<String>, u64) {
        let (mut out, mut left_out) = (Vec::new(), 0);
        while let Some(msg) = ahead.recv() {
            let Message::Batch(b) = msg else { break };
            left_out += b.left_out;
            for item in b.records() {
                let Item::Record(rec) = item else { continue };
                let name = match rec {
                    Record::Event(e) => String::from_utf8_lossy(e.name).into_owned(),
                    Record::Other(_) => "-".into(),
                };
                out.push(format!("{} {name}", rec.line().number));
            }
            ahead.give_back(b);
        }
        (out, left_out)
    }

    proptest! {
        #[test]
        fn events_left_out_are_only_unnamed_ones_and_never_the_first_timestamp(
            (picks, chunking) in split_case(MIXED.len()),
        ) {
            let data = text_of(&MIXED, &picks);
            let mut only = plan(true);
            let mut table = catalog().predecoder([&b"ev"[..]]);
            table.keep_only([&b"kept_ev"[..]]);
            only.predecode = Some(Arc::new(table));
            let cursor = || Box::new(std::io::Cursor::new(data.clone()));
            let (all, none) = records(Ahead::spawn(cursor(), plan(false)));
            prop_assert_eq!(none, 0);
            for (got, left_out) in [
                records(Ahead::spawn(cursor(), only.clone())),
                records(Ahead::spawn_file(memory(&data), only.clone(), chunking)),
            ] {
                // What comes through comes in order, unchanged.
                let mut rest = all.iter();
                for g in &got {
                    prop_assert!(rest.any(|a| a == g), "{} out of order", g);
                }
                // Only events no one named are left out, and all are counted.
                prop_assert_eq!(got.len() as u64 + left_out, all.len() as u64);
                for a in &all {
                    let named = a.ends_with(" ev") || a.ends_with(" kept_ev") || a.ends_with(" -");
                    prop_assert!(!named || got.contains(a), "{} left out", a);
                }
                // The first timestamped line (picks 1, 4, 5, 6) comes through.
                if let Some(k) = picks.iter().position(|&i| (1..=6).contains(&i) && i != 2 && i != 3) {
                    let first = &all[k];
                    prop_assert!(got.contains(first), "first timestamp {} left out", first);
                }
            }
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
            pre: Some(Predecoded {
                spec,
                event: 0,
                slots: &fake,
            }),
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
