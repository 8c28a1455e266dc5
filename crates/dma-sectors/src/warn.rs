//! Anomalies in the input, reported on stderr as `dma-sectors: warning:
//! INPUT:LINE: what` while the run goes on.
//!
//! Reports go through the run's [`Diag`] (so errors set the exit status).
//! Each kind prints its first
//! [`MESSAGES_SHOWN`](qtrace_core::limits::MESSAGES_SHOWN) occurrences; the rest are
//! counted and summarised at the end, by the policy every tool shares
//! ([`Messages`]), so a systematically odd trace cannot bury the output
//! under messages, yet nothing passes unmentioned. Lines that could not be
//! used at all (a block event whose arguments make no sense) are errors
//! (exit status 2); everything else is a warning.

use std::fmt;

use qtrace_core::limits::Messages;
use qtrace_core::scan::Diag;

/// Kinds of anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Companion events of one request disagree.
    Disagree,
    /// A controller event that no block-layer event matched.
    Unjoined,
    /// A request not aligned to the sector size.
    Unaligned,
    /// A position that overflows.
    Overflow,
    /// A block event whose arguments could not be used (an error).
    Unusable,
}

const KINDS: [(Kind, &str); 5] = [
    (Kind::Disagree, "requests whose events disagree"),
    (
        Kind::Unjoined,
        "controller events without a block-layer event",
    ),
    (Kind::Unaligned, "requests not aligned to the sector size"),
    (Kind::Overflow, "requests whose position overflows"),
    (Kind::Unusable, "block events that could not be used"),
];

/// Counts and prints anomalies.
#[derive(Debug)]
pub struct Warnings<'d> {
    diag: &'d Diag,
    inputs: Vec<String>,
    messages: Messages<5>,
}

impl<'d> Warnings<'d> {
    /// A reporter through `diag`, naming inputs by index with `inputs`.
    pub fn new(diag: &'d Diag, inputs: Vec<String>) -> Warnings<'d> {
        Warnings {
            diag,
            inputs,
            messages: Messages::new(KINDS.map(|(_, what)| what)),
        }
    }

    fn index(kind: Kind) -> usize {
        KINDS.iter().position(|(k, _)| *k == kind).unwrap_or(0)
    }

    /// Reports one anomaly at `input:line`.
    pub fn warn(&mut self, kind: Kind, input: usize, line: u64, what: fmt::Arguments<'_>) {
        let i = Self::index(kind);
        if !self.messages.show(i) {
            if kind == Kind::Unusable {
                // Not shown, still an error.
                self.diag.count_error();
            }
            return;
        }
        let name = self.inputs.get(input).map_or("?", String::as_str);
        if kind == Kind::Unusable {
            self.diag.error(&qtrace_core::Error::Line {
                input: name.to_string(),
                line,
                what: what.to_string(),
            });
        } else {
            self.diag.warn(format_args!("{name}:{line}: {what}"));
        }
    }

    /// How many anomalies of `kind` there were.
    pub fn count(&self, kind: Kind) -> u64 {
        self.messages.count(Self::index(kind))
    }

    /// Prints how many were not shown.
    pub fn finish(&self) {
        self.messages.report(self.diag);
    }
}
