//! Bounded per-key tables and lines the tools did not use: one policy for
//! every tool, so that hostile input costs bounded memory and nothing is
//! lost without a word.
//!
//! **Caps.** Every table a tool keys by input data (keyboards by pointer,
//! disks by backend, PCI functions by address and name, event names, the
//! event ids of a binary trace) asks a [`Limit`] before it adds a key:
//! [`Limit::admit`] says yes while the table is under its cap (and, for keys
//! that are text, under its byte budget), else it records what was not
//! tracked (how many lines named a key that was refused, and the first of
//! them as `FILE:LINE`) and says no. Keys already in the table are never
//! refused, and the tables are hash maps, so lookups stay O(1) however full
//! they are. At the end of the run, [`Limit::report`] prints, when
//! something was refused,
//!
//! ```text
//! ps2-decode: stopped tracking new keyboards after 4096 (17 more seen, first at trace.log:8200)
//! ```
//!
//! and counts an error, so the exit status is 2. "More seen" counts the
//! lines (or records) whose key was refused, not distinct keys: counting
//! those would need the memory the cap saves.
//!
//! The default caps are far above what real traces hold (a handful of
//! keyboards and disks, hundreds of event names, a few dozen PCI functions)
//! and are documented with each table. `QTRACE_MAX_KEYS=N` (a positive
//! integer) sets every cap to `N` instead, for traces that really need more
//! or to try the limit on a small input; byte budgets do not change.
//!
//! **Lines not used.** [`Unused`] counts the lines a tool skipped because
//! they were not trace events, and the event lines whose name was damaged:
//! a name no catalog declares that is one byte off a name of an event the
//! tool reads ([`damaged_name_of`]; `pci_cfg_reaf`). Unknown names farther
//! from the tool's own are events of a QEMU the catalog does not describe,
//! which the tool would not read anyway. [`Unused::report`] prints both at
//! the end in the wording every tool shares (qtrace-filter's summary of
//! other lines is the same sentence, followed by its `--keep-other` hint):
//!
//! ```text
//! pci-table: 3 line(s) were not trace events and were skipped
//! pci-table: warning: 2 event line(s) with a damaged name (one byte off an event this tool reads, declared by no catalog) were skipped (first: trace.log:7 'pci_cfg_reaf', for pci_cfg_read)
//! ```
//!
//! Neither changes the exit status: other lines are information, and an
//! unknown name is a warning.
//!
//! **Messages.** A tool that reports a problem per line keeps each kind of
//! problem to its first [`MESSAGES_SHOWN`] messages ([`Messages`]); the rest
//! are counted, and at the end
//!
//! ```text
//! dma-sectors: 25 requests not aligned to the sector size in all; the first 20 are shown above
//! ```
//!
//! says how many there were. A systematically odd trace cannot bury the
//! output under messages, one kind of problem cannot hide the first of
//! another, and errors past the cap still count (the exit status is 2).

use std::fmt;

use crate::error::{Error, Result};
use crate::scan::Diag;

/// The environment variable that sets every table cap.
pub const MAX_KEYS_ENV: &str = "QTRACE_MAX_KEYS";

/// The cap set by [`MAX_KEYS_ENV`], if any; an error when it is set to
/// anything but a positive integer.
pub fn cap_override() -> Result<Option<usize>> {
    let Some(v) = std::env::var_os(MAX_KEYS_ENV) else {
        return Ok(None);
    };
    match v.to_str().and_then(|s| s.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => Ok(Some(n)),
        _ => Err(Error::usage(format!(
            "{MAX_KEYS_ENV}={}: expected a positive number of keys",
            v.to_string_lossy()
        ))),
    }
}

/// The cap and the record of what a table did not take; see the module
/// documentation.
#[derive(Debug, Clone)]
pub struct Limit {
    /// What the keys are, in the plural (`keyboards`, `event names`).
    what: &'static str,
    cap: usize,
    /// Most bytes of key text held (`usize::MAX`: no budget).
    byte_budget: usize,
    /// Bytes of key text admitted so far.
    bytes: usize,
    /// What happens to the input a refused key named, said after the
    /// summary (empty: nothing to say).
    effect: &'static str,
    /// Keys in the table when the first one was refused.
    tracked_at_refusal: usize,
    refused: u64,
    first_refused: Option<String>,
}

impl Limit {
    /// The limit of a table of `what` with `default_cap` keys at most, or
    /// the cap [`MAX_KEYS_ENV`] sets; an error when that variable is
    /// malformed.
    pub fn new(what: &'static str, default_cap: usize) -> Result<Limit> {
        Ok(Limit::with_cap(
            what,
            cap_override()?.unwrap_or(default_cap),
        ))
    }

    /// The limit of a table of `what` with exactly `cap` keys at most
    /// (the environment is not read).
    pub fn with_cap(what: &'static str, cap: usize) -> Limit {
        Limit {
            what,
            cap,
            byte_budget: usize::MAX,
            bytes: 0,
            effect: "",
            tracked_at_refusal: 0,
            refused: 0,
            first_refused: None,
        }
    }

    /// Also refuses keys once the text of the keys admitted with
    /// [`admit_bytes`](Self::admit_bytes) reaches `budget` bytes.
    pub fn with_byte_budget(mut self, budget: usize) -> Limit {
        self.byte_budget = budget;
        self
    }

    /// Says in the summary what became of the input a refused key named
    /// (`those values are printed as they are`), when that is not just
    /// "not tracked".
    pub fn with_effect(mut self, effect: &'static str) -> Limit {
        self.effect = effect;
        self
    }

    /// The cap in keys.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// May a table that holds `len` keys add one more? When not, the
    /// refusal is recorded, with `place()` (`FILE:LINE`) if it is the
    /// first. Ask only for keys the table does not hold yet.
    #[inline]
    pub fn admit(&mut self, len: usize, place: impl FnOnce() -> String) -> bool {
        if len < self.cap {
            return true;
        }
        self.refuse(len, place);
        false
    }

    /// Like [`admit`](Self::admit) for `n` keys that go in together or not
    /// at all (a request's first and last sector).
    #[inline]
    pub fn admit_many(&mut self, len: usize, n: usize, place: impl FnOnce() -> String) -> bool {
        if len.saturating_add(n) <= self.cap {
            return true;
        }
        self.refuse(len, place);
        false
    }

    /// Like [`admit`](Self::admit) for a key of `key_len` bytes of text,
    /// which also counts against the byte budget.
    #[inline]
    pub fn admit_bytes(
        &mut self,
        len: usize,
        key_len: usize,
        place: impl FnOnce() -> String,
    ) -> bool {
        if len < self.cap && self.bytes.saturating_add(key_len) <= self.byte_budget {
            self.bytes += key_len;
            return true;
        }
        self.refuse(len, place);
        false
    }

    /// Gives back `key_len` bytes of the budget (a key of text was removed).
    #[inline]
    pub fn release_bytes(&mut self, key_len: usize) {
        self.bytes = self.bytes.saturating_sub(key_len);
    }

    #[cold]
    fn refuse(&mut self, len: usize, place: impl FnOnce() -> String) {
        if self.refused == 0 {
            self.tracked_at_refusal = len;
            self.first_refused = Some(place());
        }
        self.refused += 1;
    }

    /// How many times a key was refused.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The sentence that says what was not tracked, when something was not.
    pub fn summary(&self) -> Option<String> {
        let first = self.first_refused.as_deref()?;
        let sep = if self.effect.is_empty() { "" } else { "; " };
        Some(format!(
            "stopped tracking new {} after {} ({} more seen, first at {first}){sep}{}",
            self.what, self.tracked_at_refusal, self.refused, self.effect
        ))
    }

    /// Prints the [`summary`](Self::summary), if any, as an error (the exit
    /// status becomes 2).
    pub fn report(&self, diag: &Diag) {
        if let Some(s) = self.summary() {
            diag.note(s);
            diag.count_error();
        }
    }
}

/// Messages of one kind a tool prints before it only counts the rest (see
/// [`Messages`]).
pub const MESSAGES_SHOWN: u64 = 20;

/// The message cap of a tool's `K` kinds of problem; see the module
/// documentation. Kinds are numbered `0..K`, each named by what its
/// problems are, in the plural (`requests not aligned to the sector size`).
#[derive(Debug, Clone)]
pub struct Messages<const K: usize> {
    what: [&'static str; K],
    counts: [u64; K],
}

impl<const K: usize> Messages<K> {
    /// Nothing counted yet, for kinds described by `what`.
    pub fn new(what: [&'static str; K]) -> Messages<K> {
        Messages {
            what,
            counts: [0; K],
        }
    }

    /// Counts a problem of kind `kind`; true when its message is to be
    /// printed (one of the first [`MESSAGES_SHOWN`] of its kind).
    #[inline]
    pub fn show(&mut self, kind: usize) -> bool {
        match self.counts.get_mut(kind) {
            Some(n) => {
                *n += 1;
                *n <= MESSAGES_SHOWN
            }
            None => true,
        }
    }

    /// Counts a warning of kind `kind` and prints it when [`show`](Self::show)
    /// says so.
    pub fn warn(&mut self, diag: &Diag, kind: usize, msg: impl fmt::Display) {
        if self.show(kind) {
            diag.warn(msg);
        }
    }

    /// Counts an error of kind `kind` and prints it when [`show`](Self::show)
    /// says so; it counts as an error (exit status 2) either way.
    pub fn error(&mut self, diag: &Diag, kind: usize, e: &Error) {
        if self.show(kind) {
            diag.error(e);
        } else {
            diag.count_error();
        }
    }

    /// Problems of kind `kind` counted, shown or not.
    pub fn count(&self, kind: usize) -> u64 {
        self.counts.get(kind).copied().unwrap_or(0)
    }

    /// The sentence that says how many problems of kind `kind` there were,
    /// when some were not shown.
    pub fn summary(&self, kind: usize) -> Option<String> {
        let n = self.count(kind);
        (n > MESSAGES_SHOWN).then(|| {
            format!(
                "{n} {} in all; the first {MESSAGES_SHOWN} are shown above",
                self.what[kind]
            )
        })
    }

    /// Prints the [`summary`](Self::summary) of every kind that has one, as
    /// notes (what they count was reported, or counted, already).
    pub fn report(&self, diag: &Diag) {
        for kind in 0..K {
            if let Some(s) = self.summary(kind) {
                diag.note(s);
            }
        }
    }
}

/// The sentence about `n` lines that were not trace events (qtrace-filter
/// adds its `--keep-other` hint after it).
pub fn other_lines_note(n: u64) -> String {
    format!("{n} line(s) were not trace events and were skipped")
}

/// Counts the lines a tool skipped without using them; see the module
/// documentation.
#[derive(Debug, Default, Clone)]
pub struct Unused {
    other: u64,
    unknown: u64,
    first_unknown: Option<String>,
}

impl Unused {
    /// Nothing counted yet.
    pub fn new() -> Unused {
        Unused::default()
    }

    /// Counts a line that is not a trace event.
    #[inline]
    pub fn other_line(&mut self) {
        self.other += 1;
    }

    /// Counts an event line at `input:line` whose name `name` is a damaged
    /// form of `meant` (see [`damaged_name_of`]).
    #[inline]
    pub fn damaged_event(&mut self, input: &str, line: u64, name: &[u8], meant: &[u8]) {
        self.unknown += 1;
        if self.first_unknown.is_none() {
            self.first_unknown = Some(first_unknown_place(input, line, name, meant));
        }
    }

    /// Lines that were not trace events.
    pub fn other_lines(&self) -> u64 {
        self.other
    }

    /// Event lines with a damaged name.
    pub fn damaged_events(&self) -> u64 {
        self.unknown
    }

    /// Prints the summaries (nothing when nothing was skipped): a note for
    /// other lines, a warning for unknown names; neither changes the exit
    /// status.
    pub fn report(&self, diag: &Diag) {
        if self.other > 0 {
            diag.note(other_lines_note(self.other));
        }
        if let Some(first) = &self.first_unknown {
            diag.warn(format_args!(
                "{} event line(s) with a damaged name (one byte off an event this tool reads, \
                 declared by no catalog) were skipped (first: {first})",
                self.unknown
            ));
        }
    }
}

/// The name in `names` that `name` is a damaged form of: same length, one
/// byte different (a flipped byte). The caller checks first that no catalog
/// declares `name`.
#[inline]
pub fn damaged_name_of<'n, N: AsRef<[u8]> + ?Sized + 'n>(
    name: &[u8],
    names: impl IntoIterator<Item = &'n N>,
) -> Option<&'n [u8]> {
    names
        .into_iter()
        .map(AsRef::as_ref)
        .find(|n| n.len() == name.len() && n.iter().zip(name).filter(|(a, b)| a != b).count() == 1)
}

#[cold]
fn first_unknown_place(input: &str, line: u64, name: &[u8], meant: &[u8]) -> String {
    // A damaged name may be long or hold control bytes: show a bounded,
    // escaped part of it.
    let shown: String = String::from_utf8_lossy(&name[..name.len().min(64)])
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    let more = if name.len() > 64 { "..." } else { "" };
    format!(
        "{input}:{line} '{shown}{more}', for {}",
        String::from_utf8_lossy(meant)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_cap_then_records_the_first_refusal() {
        let mut l = Limit::with_cap("keyboards", 3);
        let mut table = Vec::new();
        for (line, key) in [1u64, 2, 3, 4, 5, 6].iter().enumerate() {
            if l.admit(table.len(), || format!("t.log:{}", line + 1)) {
                table.push(*key);
            }
        }
        assert_eq!(table, [1, 2, 3]);
        assert_eq!(l.refused(), 3);
        assert_eq!(
            l.summary().as_deref(),
            Some("stopped tracking new keyboards after 3 (3 more seen, first at t.log:4)")
        );
    }

    #[test]
    fn keys_that_go_in_together_are_refused_together() {
        let mut l = Limit::with_cap("boundaries", 3);
        assert!(l.admit_many(0, 2, String::new));
        assert!(!l.admit_many(2, 2, || "f:2".into()));
        assert!(l.admit_many(2, 1, String::new));
        assert!(l.admit_many(3, 0, String::new));
        assert_eq!(
            l.summary().as_deref(),
            Some("stopped tracking new boundaries after 2 (1 more seen, first at f:2)")
        );
    }

    #[test]
    fn nothing_refused_says_nothing_and_counts_no_error() {
        let mut l = Limit::with_cap("disks", 10);
        assert!(l.admit(9, || unreachable!("not refused")));
        assert_eq!(l.summary(), None);
        let diag = Diag::new("t");
        l.report(&diag);
        assert_eq!(diag.errors(), 0);
    }

    #[test]
    fn a_refusal_is_an_error() {
        let mut l = Limit::with_cap("event names", 0);
        assert!(!l.admit(0, || "x:1".into()));
        let diag = Diag::new("t");
        l.report(&diag);
        assert_eq!(diag.errors(), 1);
    }

    #[test]
    fn the_byte_budget_refuses_long_keys_too() {
        let mut l = Limit::with_cap("names", 100).with_byte_budget(10);
        assert!(l.admit_bytes(0, 6, String::new));
        assert!(!l.admit_bytes(1, 6, || "f:2".into()));
        assert!(l.admit_bytes(1, 4, String::new));
        assert_eq!(
            l.summary().as_deref(),
            Some("stopped tracking new names after 1 (1 more seen, first at f:2)")
        );
    }

    #[test]
    fn the_effect_of_a_refusal_follows_the_summary() {
        let mut l = Limit::with_cap("pointers", 1).with_effect("those are printed as they are");
        assert!(l.admit(0, String::new));
        assert!(!l.admit(1, || "t.log:2".into()));
        assert_eq!(
            l.summary().as_deref(),
            Some(
                "stopped tracking new pointers after 1 (1 more seen, first at t.log:2); \
                 those are printed as they are"
            )
        );
    }

    #[test]
    fn messages_past_the_cap_are_counted_per_kind_and_summarised() {
        let mut m = Messages::new(["odd requests", "bad lines"]);
        let shown = (0..MESSAGES_SHOWN + 5).filter(|_| m.show(0)).count() as u64;
        assert_eq!(shown, MESSAGES_SHOWN);
        // Another kind has its own cap.
        assert!(m.show(1));
        assert_eq!((m.count(0), m.count(1)), (MESSAGES_SHOWN + 5, 1));
        assert_eq!(
            m.summary(0),
            Some(format!(
                "{} odd requests in all; the first {MESSAGES_SHOWN} are shown above",
                MESSAGES_SHOWN + 5
            ))
        );
        assert_eq!(m.summary(1), None);
        // Errors past the cap are not printed but still count.
        let diag = Diag::new("t");
        let e = Error::usage("x");
        for _ in 0..MESSAGES_SHOWN + 3 {
            m.error(&diag, 1, &e);
        }
        assert_eq!(diag.errors(), MESSAGES_SHOWN + 3);
        assert_eq!(m.count(1), MESSAGES_SHOWN + 4);
    }

    #[test]
    fn a_damaged_name_is_one_flipped_byte_off_a_known_one() {
        let names = ["pci_cfg_read", "pci_cfg_write"];
        assert_eq!(
            damaged_name_of(b"pci_cfg_reaf", names),
            Some(&b"pci_cfg_read"[..])
        );
        assert_eq!(
            damaged_name_of(b"pci_cfg_wri\xfee", names),
            Some(&b"pci_cfg_write"[..])
        );
        // The name itself, two flips, another length: not damaged forms.
        assert_eq!(damaged_name_of(b"pci_cfg_read", names), None);
        assert_eq!(damaged_name_of(b"pci_cfg_ruaf", names), None);
        assert_eq!(damaged_name_of(b"pci_cfg_rea", names), None);
        assert_eq!(damaged_name_of(b"ide_reset", names), None);
    }

    #[test]
    fn unused_lines_are_summarised_with_the_first_unknown_name_escaped() {
        let mut u = Unused::new();
        assert_eq!(u.other_lines(), 0);
        u.other_line();
        u.other_line();
        u.damaged_event("t.log", 7, b"pci_cfg_r\x01ad", b"pci_cfg_read");
        u.damaged_event("t.log", 9, b"pci_cfg_reaf", b"pci_cfg_read");
        assert_eq!((u.other_lines(), u.damaged_events()), (2, 2));
        assert_eq!(
            u.first_unknown.as_deref(),
            Some("t.log:7 'pci_cfg_r\\u{1}ad', for pci_cfg_read")
        );
        let long = vec![b'a'; 100];
        let mut v = Unused::new();
        v.damaged_event("f", 1, &long, b"x");
        assert_eq!(
            v.first_unknown.as_deref(),
            Some(format!("f:1 '{}...', for x", "a".repeat(64)).as_str())
        );
        let diag = Diag::new("t");
        u.report(&diag);
        assert_eq!((diag.errors(), diag.warnings()), (0, 1));
        assert_eq!(
            other_lines_note(2),
            "2 line(s) were not trace events and were skipped"
        );
    }
}
