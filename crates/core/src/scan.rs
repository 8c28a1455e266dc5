//! Turning inputs into a stream of records: trace events and other lines.
//!
//! This is the loop every tool runs. For each input it detects compression,
//! splits lines in bounded memory, recognises each line's shape, and decides
//! with the catalog whether it is a trace event. Nothing is dropped silently:
//! a line is either an [`Event`] or an [`Record::Other`] line, and problems
//! (unreadable inputs, over-long lines) are reported through [`Diag`] and make
//! the final status an error, while the run goes on.
//!
//! Which lines are events: any line with QEMU's `TID@SEC.USEC:` or SystemTap
//! prefix, or wrapped by ftrace/syslog, whose name is an identifier; a bare or
//! ISO-prefixed `name args` line when the catalog knows `name`, or when `name`
//! contains an underscore and is followed by a space (QEMU event names always
//! contain one; an English word at the start of an error message does not).

use std::cell::Cell;
use std::io::Write;
use std::sync::Arc;

use crate::ahead::{Ahead, Item, Message, NameSet};
use crate::catalog::Catalog;
use crate::chunks::Chunking;
use crate::error::{EXCERPT_BYTES, Error, Result, excerpt};
use crate::follow::{Follow, FollowReader};
use crate::input::{Encoding, Input};
use crate::limits::Limit;
use crate::lines::{DEFAULT_MAX_LINE, Line};
use crate::predecode::{Predecoded, Predecoder};
use crate::recognize::{Prefix, PrefixKind, recognize, recognize_wrapped};

/// A trace event found in a line.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The line it came from.
    pub line: Line<'a>,
    /// Prefix fields (thread id, time) where present.
    pub prefix: Prefix<'a>,
    /// Event name.
    pub name: &'a [u8],
    /// Formatted arguments, as printed.
    pub message: &'a [u8],
    /// The arguments as a splitting thread decoded them, for the events
    /// the tool named in [`ScanOptions::predecode`]; use them through
    /// [`EventSpecs::decode_event`](crate::catalog::EventSpecs::decode_event).
    pub pre: Option<Predecoded<'a>>,
}

/// One line of input, classified.
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    /// A trace event.
    Event(Event<'a>),
    /// Any other line (error messages, guest output, continuation lines).
    Other(Line<'a>),
}

impl<'a> Record<'a> {
    /// The line, whatever it is.
    pub fn line(&self) -> &Line<'a> {
        match self {
            Record::Event(e) => &e.line,
            Record::Other(l) => l,
        }
    }
}

/// Where diagnostics go, and how many errors there were.
///
/// Methods take `&self` (the counters are cells) so that a tool's scanning
/// callback can report problems while the scanner holds the same `Diag`.
#[derive(Debug)]
pub struct Diag {
    tool: &'static str,
    errors: Cell<u64>,
    warnings: Cell<u64>,
    /// Counts without printing (a second reading whose messages were
    /// printed by the first).
    quiet: bool,
}

impl Diag {
    /// Diagnostics for `tool` (the prefix of every message).
    pub fn new(tool: &'static str) -> Self {
        Diag {
            tool,
            errors: Cell::new(0),
            warnings: Cell::new(0),
            quiet: false,
        }
    }

    /// Diagnostics that are counted but never printed.
    pub fn quiet(tool: &'static str) -> Self {
        Diag {
            quiet: true,
            ..Diag::new(tool)
        }
    }

    /// The tool's name.
    pub fn tool(&self) -> &'static str {
        self.tool
    }

    /// The tool's name when messages are printed, `None` when quiet.
    pub(crate) fn printing_as(&self) -> Option<&'static str> {
        (!self.quiet).then_some(self.tool)
    }

    /// Reports an error (the run goes on; the final status will be 2).
    pub fn error(&self, e: &Error) {
        self.errors.set(self.errors.get() + 1);
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{}: {e}", self.tool);
        }
    }

    /// Reports a warning (the final status is not changed).
    pub fn warn(&self, msg: impl std::fmt::Display) {
        self.warnings.set(self.warnings.get() + 1);
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{}: warning: {msg}", self.tool);
        }
    }

    /// Prints a note (a summary line) on stderr.
    pub fn note(&self, msg: impl std::fmt::Display) {
        if self.quiet {
            return;
        }
        let _ = writeln!(std::io::stderr().lock(), "{}: {msg}", self.tool);
    }

    /// Counts an error without printing it (for problems summarised later).
    pub fn count_error(&self) {
        self.errors.set(self.errors.get() + 1);
    }

    /// Errors reported so far.
    pub fn errors(&self) -> u64 {
        self.errors.get()
    }

    /// Warnings reported so far.
    pub fn warnings(&self) -> u64 {
        self.warnings.get()
    }
}

/// Options of a scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Longest line kept; longer ones are reported and skipped.
    pub max_line: usize,
    /// When set, only lines containing this needle are looked at (the others
    /// are neither events nor other lines). A speed-up for selections by name.
    pub prefilter: Option<Vec<u8>>,
    /// The tool looks only at event names and prefixes (counting): records
    /// of binary traces are not rendered, their message is left empty.
    pub names_only: bool,
    /// Events whose arguments the splitting threads decode ahead of the
    /// tool (see [`crate::predecode`]): worth it for events that make up
    /// much of the input.
    pub predecode: Vec<Box<[u8]>>,
    /// The only events the tool reads, when it names them (with those in
    /// `predecode`): the splitting threads may then leave the others out
    /// (they are still counted in `stats.events`). The first event with a timestamp in each input
    /// always comes through whatever its name (others may too), so a tool
    /// can take the time its relative times count from; lines that are not
    /// events, and damaged names of the tool's events (see
    /// [`crate::limits::damaged_name_of`]), always come through. See [`crate::predecode`].
    pub only_events: Option<Vec<Box<[u8]>>>,
    /// Whether the tool uses [`Line::number`]. When it does not, the lines
    /// of a regular file come with number 0 and `stats.lines` stays 0: the
    /// lines a prefilter skips are then not counted, which saves a pass
    /// over them. The scanner's own messages (over-long lines, read
    /// errors) keep their exact numbers. Input read as a stream (a pipe,
    /// compressed data) is numbered either way.
    pub line_numbers: bool,
    /// Follow the one input as it grows (`--follow`, see
    /// [`crate::follow`]): it is read as a stream, never in chunks, and
    /// its end is where following ends.
    pub follow: Option<Follow>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_line: DEFAULT_MAX_LINE,
            prefilter: None,
            names_only: false,
            predecode: Vec::new(),
            only_events: None,
            line_numbers: true,
            follow: None,
        }
    }
}

/// Counts kept by a scan, for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Lines read (including skipped ones); not counted when the tool said
    /// it uses no line numbers ([`ScanOptions::line_numbers`]).
    pub lines: u64,
    /// Lines that were trace events.
    pub events: u64,
    /// Lines that were not.
    pub other: u64,
    /// Lines skipped for being too long.
    pub too_long: u64,
}

/// What the callback is told about the input being read.
#[derive(Debug, Clone, Copy)]
pub struct InputInfo<'a> {
    /// The input's display name.
    pub name: &'a str,
    /// Its position among the inputs (0-based).
    pub index: usize,
}

/// Reads inputs and hands each line to a callback as a [`Record`].
#[derive(Debug)]
pub struct Scanner<'c> {
    catalog: &'c Catalog,
    opts: ScanOptions,
    /// The catalog's names, shared with the splitting threads once needed.
    names: Option<NameSet>,
    /// The events decoded ahead, shared with the splitting threads once
    /// needed.
    predecoder: Option<Arc<Predecoder>>,
    /// Stats over everything scanned so far.
    pub stats: ScanStats,
}

/// Whether to go on after a callback.
pub type Flow = bool;

impl<'c> Scanner<'c> {
    /// A scanner that uses `catalog` to recognise bare event lines.
    pub fn new(catalog: &'c Catalog, opts: ScanOptions) -> Self {
        Scanner {
            catalog,
            opts,
            names: None,
            predecoder: None,
            stats: ScanStats::default(),
        }
    }

    /// The catalog in use.
    pub fn catalog(&self) -> &'c Catalog {
        self.catalog
    }

    /// Classifies one line.
    #[inline]
    pub fn classify<'a>(&self, line: Line<'a>) -> Record<'a> {
        classify_with(line, |name| self.catalog.knows(name))
    }

    /// Scans every input in order. Unreadable inputs and bad lines are
    /// reported to `diag` and skipped. Returns `false` when the callback asked
    /// to stop.
    pub fn scan_all<F>(&mut self, inputs: &[Input], diag: &Diag, mut f: F) -> Result<Flow>
    where
        F: FnMut(InputInfo<'_>, Record<'_>) -> Result<Flow>,
    {
        if let Some(follow) = &self.opts.follow {
            crate::follow::check(inputs, follow)?;
        }
        for (index, input) in inputs.iter().enumerate() {
            if !self.scan_one(input, index, diag, &mut f)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Scans one input; see [`scan_all`](Self::scan_all). When following
    /// ([`ScanOptions::follow`]), an input that cannot be followed is an
    /// error returned before anything is read. Problems the
    /// catalog found in the declarations it parsed on demand (for the tool's
    /// lookups before the scan, or for the events of this input) are
    /// reported before and after.
    pub fn scan_one<F>(
        &mut self,
        input: &Input,
        index: usize,
        diag: &Diag,
        f: &mut F,
    ) -> Result<Flow>
    where
        F: FnMut(InputInfo<'_>, Record<'_>) -> Result<Flow>,
    {
        self.catalog.report_warnings(diag);
        let flow = self.scan_input(input, index, diag, f);
        self.catalog.report_warnings(diag);
        flow
    }

    fn scan_input<F>(&mut self, input: &Input, index: usize, diag: &Diag, f: &mut F) -> Result<Flow>
    where
        F: FnMut(InputInfo<'_>, Record<'_>) -> Result<Flow>,
    {
        let name = input.display();
        if let Some(follow) = &self.opts.follow {
            // A tool that scans its inputs one by one checked them all with
            // InputArgs::inputs; should one not have, a second input is
            // still refused, after the first.
            if index > 0 {
                return Err(Error::usage("--follow follows one file"));
            }
            crate::follow::check(std::slice::from_ref(input), follow)?;
            let Input::Path(path) = input else {
                return Err(Error::usage("--follow cannot follow standard input"));
            };
            let reader = FollowReader::open(path, follow, diag.printing_as())?;
            let ahead = Ahead::spawn(Box::new(reader), self.plan());
            return self.scan_batches(ahead, &name, index, diag, f);
        }
        let opened = match input.open() {
            Ok(o) => o,
            Err(e) => {
                diag.error(&e);
                return Ok(true);
            }
        };
        if opened.encoding == Encoding::SimpleTrace {
            return self.scan_simple(&name, index, opened.reader, diag, f);
        }
        let plan = self.plan();
        let ahead = match opened.file {
            #[cfg(unix)]
            Some(file) => Ahead::spawn_file(file, plan, Chunking::for_this_machine()),
            _ => Ahead::spawn(opened.reader, plan),
        };
        self.scan_batches(ahead, &name, index, diag, f)
    }

    /// How the splitting threads are to read and classify.
    fn plan(&mut self) -> crate::ahead::Plan {
        crate::ahead::Plan {
            max_line: self.opts.max_line,
            prefilter: self.opts.prefilter.clone(),
            names: self.names(),
            predecode: self.predecoder(),
            numbered: self.opts.line_numbers,
        }
    }

    /// Hands the records of the splitting threads' batches to `f`.
    fn scan_batches<F>(
        &mut self,
        mut ahead: Ahead,
        name: &str,
        index: usize,
        diag: &Diag,
        f: &mut F,
    ) -> Result<Flow>
    where
        F: FnMut(InputInfo<'_>, Record<'_>) -> Result<Flow>,
    {
        let info = InputInfo { name, index };
        let max_line = self.opts.max_line.min(crate::ahead::MAX_LINE);
        while let Some(msg) = ahead.recv() {
            let batch = match msg {
                Message::Batch(b) => {
                    self.stats.events += b.left_out;
                    b
                }
                Message::End { lines } => {
                    self.stats.lines += lines;
                    return Ok(true);
                }
                Message::Error { line, source } => {
                    diag.error(&Error::reading(name, line, source));
                    self.stats.lines += line - 1;
                    return Ok(true);
                }
            };
            for item in batch.records() {
                match item {
                    Item::Record(rec) => {
                        match rec {
                            Record::Event(_) => self.stats.events += 1,
                            Record::Other(_) => self.stats.other += 1,
                        }
                        if !f(info, rec)? {
                            self.stats.lines += rec.line().number;
                            return Ok(false);
                        }
                    }
                    Item::TooLong { number, length } => {
                        self.stats.too_long += 1;
                        diag.error(&Error::Line {
                            input: name.to_string(),
                            line: number,
                            what: format!(
                                "line is {length} bytes long, over the limit of {max_line} (--max-line-len); skipped"
                            ),
                        });
                    }
                }
            }
            ahead.give_back(batch);
        }
        // The thread ended without a last word (it cannot, short of a panic).
        Err(Error::usage(format!(
            "{name}: reading stopped unexpectedly"
        )))
    }

    /// The matchers of the events to decode ahead and the events to keep,
    /// built on first use.
    fn predecoder(&mut self) -> Option<Arc<Predecoder>> {
        if self.opts.predecode.is_empty() && self.opts.only_events.is_none() {
            return None;
        }
        let catalog = self.catalog;
        let (names, only) = (&self.opts.predecode, &self.opts.only_events);
        let table = self.predecoder.get_or_insert_with(|| {
            let mut table = catalog.predecoder(names.iter().map(|n| &n[..]));
            if let Some(only) = only {
                // An event decoded ahead is read, even where the catalog
                // has no spec for it (then the table does not list it).
                table.keep_only(only.iter().chain(names).map(|n| &n[..]));
            }
            Arc::new(table)
        });
        (!table.is_empty()).then(|| Arc::clone(table))
    }

    /// The catalog's event names, for the splitting thread.
    fn names(&mut self) -> NameSet {
        self.names
            .get_or_insert_with(|| self.catalog.name_set())
            .clone()
    }
}

/// Classifies one line; `knows` says whether the catalog declares an event
/// name (it decides for lines without a prefix). See the module docs.
#[inline]
pub fn classify_with<'a>(line: Line<'a>, knows: impl Fn(&[u8]) -> bool) -> Record<'a> {
    let bytes = line.bytes;
    if let Some(shape) = recognize(bytes) {
        let strong = !matches!(shape.prefix.kind, PrefixKind::Bare | PrefixKind::Iso);
        let followed_by_space =
            shape.message.as_ptr() as usize > shape.name.as_ptr() as usize + shape.name.len();
        // The catalog lookup last: most event names have an underscore.
        let accepted =
            strong || (followed_by_space && shape.name.contains(&b'_')) || knows(shape.name);
        if accepted {
            return Record::Event(Event {
                line,
                prefix: shape.prefix,
                name: shape.name,
                message: shape.message,
                pre: None,
            });
        }
    }
    match recognize_wrapped(bytes) {
        Some(shape) => Record::Event(Event {
            line,
            prefix: shape.prefix,
            name: shape.name,
            message: shape.message,
            pre: None,
        }),
        None => Record::Other(line),
    }
}

impl Scanner<'_> {
    /// Scans a binary simple trace: each record is rendered the way QEMU's
    /// log backend prints it (the format string with printf semantics) and
    /// handed on as an event whose prefix carries the pid and the record's
    /// time, so every tool and output works on it unchanged.
    fn scan_simple<F>(
        &mut self,
        name: &str,
        index: usize,
        rdr: crate::input::Stream,
        diag: &Diag,
        f: &mut F,
    ) -> Result<Flow>
    where
        F: FnMut(InputInfo<'_>, Record<'_>) -> Result<Flow>,
    {
        use crate::format::RawArg;
        use crate::simple::{SimpleError, SimpleReader, SimpleRecord};
        use rustc_hash::{FxHashMap, FxHashSet};

        let input_error = |what: String| Error::Input {
            input: name.to_string(),
            source: std::io::Error::other(what),
        };
        let mut reader = match SimpleReader::new(rdr) {
            Ok(r) => r,
            Err(e) => {
                diag.error(&input_error(e.to_string()));
                return Ok(true);
            }
        };
        let info = InputInfo { name, index };
        let catalog = self.catalog;
        let mut line: Vec<u8> = Vec::with_capacity(256);
        let mut time: Vec<u8> = Vec::with_capacity(32);
        // The spec that fitted each event id last time.
        let mut chosen: FxHashMap<u64, u32> = FxHashMap::default();
        // The ids already warned about (once each), within a cap: a damaged
        // file can hold any number of ids.
        let mut warned: FxHashSet<u64> = FxHashSet::default();
        let mut warned_limit = Limit::new(
            "unnamed or undecodable event ids",
            crate::simple::MAX_EVENT_IDS,
        )
        .unwrap_or_else(|_| {
            Limit::with_cap(
                "unnamed or undecodable event ids",
                crate::simple::MAX_EVENT_IDS,
            )
        });
        let mut first_warning = |warned: &mut FxHashSet<u64>, id: u64, number: u64| {
            !warned.contains(&id)
                && warned_limit.admit(warned.len(), || format!("{name}: record {number}"))
                && warned.insert(id)
        };
        let be = reader.big_endian();
        let names_only = self.opts.names_only;
        let mut last_secs = 0u64;
        let mut secs_text: Vec<u8> = Vec::with_capacity(24);
        loop {
            let number = reader.records() + 1;
            let rec = match reader.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(SimpleError::Io(e)) => {
                    diag.error(&Error::Input {
                        input: name.to_string(),
                        source: e,
                    });
                    break;
                }
                Err(e @ SimpleError::BadName { .. }) => {
                    diag.error(&input_error(e.to_string()));
                    continue;
                }
                Err(e) => {
                    diag.error(&input_error(e.to_string()));
                    break;
                }
            };
            line.clear();
            time.clear();
            let (ev_name_len, pid, ts) = match rec {
                SimpleRecord::Dropped {
                    timestamp_ns,
                    pid,
                    count,
                } => {
                    diag.warn(format!(
                        "{name}: record {number} (ending at byte {}): QEMU dropped {count} events here \
                         (its trace buffer was full)",
                        reader.offset()
                    ));
                    line.extend_from_slice(b"dropped count=");
                    crate::write::push_u64(&mut line, count);
                    (b"dropped".len(), Some(pid), timestamp_ns)
                }
                SimpleRecord::Event {
                    name: ev_name,
                    id,
                    timestamp_ns,
                    pid,
                    args: bytes,
                } => {
                    let Some(ev_name) = ev_name else {
                        if first_warning(&mut warned, id, number) {
                            diag.error(&input_error(format!(
                                "record {number}: event id {id} was not named by any mapping record; \
                                 its records are skipped"
                            )));
                        }
                        continue;
                    };
                    let mut args: [RawArg<'_>; 16] = [RawArg::Word(0); 16];
                    line.extend_from_slice(ev_name);
                    line.push(b' ');
                    let preferred = chosen.get(&id).copied();
                    let mark = line.len();
                    let mut try_spec = |idx: u32, line: &mut Vec<u8>| -> bool {
                        let Some(spec) = catalog.spec(idx) else {
                            return false;
                        };
                        let Ok(compiled) = spec.compiled() else {
                            return false;
                        };
                        let Some(n) = split_args(spec.string_args(), bytes, be, &mut args) else {
                            return false;
                        };
                        line.truncate(mark);
                        compiled
                            .format()
                            .render(&mut args[..n].iter().copied(), line);
                        true
                    };
                    // The spec that fitted this id before is tried alone first;
                    // the name is looked up only when it does not fit.
                    let mut rendered =
                        names_only || preferred.is_some_and(|idx| try_spec(idx, &mut line));
                    if !rendered {
                        for &idx in catalog.spec_indices(ev_name) {
                            if Some(idx) != preferred && try_spec(idx, &mut line) {
                                chosen.insert(id, idx);
                                rendered = true;
                                break;
                            }
                        }
                    }
                    if !rendered {
                        if first_warning(&mut warned, id, number) {
                            diag.warn(format!(
                                "{name}: record {number}: no catalog declares '{}' with arguments that fit \
                                 this record ({} bytes); its arguments are shown as raw bytes \
                                 (give the trace-events-all of the QEMU build with --trace-events)",
                                excerpt(ev_name, EXCERPT_BYTES),
                                bytes.len()
                            ));
                        }
                        line.extend_from_slice(b"raw=");
                        for b in bytes {
                            line.extend_from_slice(format!("{b:02x}").as_bytes());
                        }
                    }
                    (ev_name.len(), Some(pid), timestamp_ns)
                }
            };
            // The seconds change rarely from one record to the next.
            let secs = ts / 1_000_000_000;
            if secs != last_secs || secs_text.is_empty() {
                last_secs = secs;
                secs_text.clear();
                crate::write::push_u64(&mut secs_text, secs);
                secs_text.push(b'.');
            }
            time.extend_from_slice(&secs_text);
            let us = (ts % 1_000_000_000) / 1000;
            let us_text = [
                b'0' + (us / 100_000) as u8,
                b'0' + (us / 10_000 % 10) as u8,
                b'0' + (us / 1000 % 10) as u8,
                b'0' + (us / 100 % 10) as u8,
                b'0' + (us / 10 % 10) as u8,
                b'0' + (us % 10) as u8,
            ];
            time.extend_from_slice(&us_text);
            let len = line.len();
            line.push(b'\n');
            let event = Event {
                line: Line {
                    number,
                    bytes: &line[..len],
                    full: &line,
                },
                prefix: Prefix {
                    kind: PrefixKind::Simple,
                    tid: pid.map(u64::from),
                    time: Some(&time),
                },
                name: &line[..ev_name_len],
                message: &line[(ev_name_len + 1).min(len)..len],
                pre: None,
            };
            self.stats.events += 1;
            if !f(info, Record::Event(event))? {
                return Ok(false);
            }
        }
        self.stats.lines += reader.records();
        if let Some(s) = reader.names_limit().summary() {
            diag.note(format!("{name}: {s}"));
            diag.count_error();
        }
        warned_limit.report(diag);
        Ok(true)
    }
}

/// Splits a record's argument bytes by the spec's argument kinds; `None`
/// unless they consume the bytes exactly.
fn split_args<'a>(
    strings: &[bool],
    bytes: &'a [u8],
    be: bool,
    out: &mut [crate::format::RawArg<'a>; 16],
) -> Option<usize> {
    use crate::format::RawArg;
    use crate::simple::{read_u32, read_u64};
    if strings.len() > out.len() {
        return None;
    }
    let mut p = 0usize;
    for (i, &is_str) in strings.iter().enumerate() {
        if is_str {
            let len = read_u32(bytes.get(p..p + 4)?, be) as usize;
            p += 4;
            out[i] = RawArg::Bytes(bytes.get(p..p.checked_add(len)?)?);
            p += len;
        } else {
            out[i] = RawArg::Word(read_u64(bytes.get(p..p + 8)?, be));
            p += 8;
        }
    }
    (p == bytes.len()).then_some(strings.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<String> {
        let cat = Catalog::builtin();
        let s = Scanner::new(&cat, ScanOptions::default());
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                let line = Line {
                    number: i as u64 + 1,
                    bytes: l.as_bytes(),
                    full: l.as_bytes(),
                };
                match s.classify(line) {
                    Record::Event(e) => format!("event {}", String::from_utf8_lossy(e.name)),
                    Record::Other(_) => "other".to_string(),
                }
            })
            .collect()
    }

    #[test]
    fn events_and_other_lines() {
        let got = kinds(
            "pci_cfg_read mch 00:00.0 @0x0 -> 0x8086\n\
             Could not open option rom 'kvmvapic.bin': No such file or directory\n\
             qemu-system-x86_64: warning: nic e1000.0 has no peer\n\
             some_unknown_event 1 2\n\
             hello\n\
             unknown_without_space\n\
             1@2.000003:anything_goes x\n\
             0x00: 27 80 00 00\n\
             \n\
             bmdma_reset ",
        );
        assert_eq!(
            got,
            [
                "event pci_cfg_read",
                "other",
                "other",
                "event some_unknown_event",
                "other",
                "other",
                "event anything_goes",
                "other",
                "other",
                "event bmdma_reset"
            ]
        );
    }
}
