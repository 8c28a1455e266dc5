//! qtrace-filter: grep and awk for QEMU trace events.
//!
//! The core turns each line into an event (or an "other" line); this tool's
//! one decision is which events to keep and how to print them: the original
//! line, `key=value` text, CSV/TSV or JSON Lines, or counts and statistics.
//! Around that, grep's habits: `-v`, `-m NUM`, `-A/-B/-C NUM` context (held
//! in bounded memory: at most NUM lines for `-B`), and a line on stderr that
//! says why nothing was selected (`why_nothing.rs`).
//! Output formats and column rules are specified in `docs/formats.md`.

pub mod cli;
pub mod expr;
mod why_nothing;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::rc::Rc;

use qtrace_core::Error;
use qtrace_core::catalog::{Catalog, EventSpec, Fields};
use qtrace_core::cli::{Env, Status};
use qtrace_core::format::Slot;
use qtrace_core::glob::{Selection, glob_match};
use qtrace_core::limits::Limit;
use qtrace_core::lines::Line;
use qtrace_core::recognize::{Prefix, PrefixKind};
use qtrace_core::scan::{Event, InputInfo, Record, ScanOptions, Scanner};
use qtrace_core::value::{Kind, Radix, Value};
use qtrace_core::write::{Cell, RecordFormat, RecordWriter, push_seconds, unique_columns};
use rustc_hash::FxHashMap;

pub use cli::Args;
use cli::{NumberStyle, OutputKind};
use expr::{Cond, Operand};

type Result<T> = qtrace_core::Result<T>;

/// Columns that are not event arguments.
const META: &[&str] = &["input", "time", "tid", "event", "line", "message"];
/// The row of `-c`/`--stats` that counts the lines that are not events,
/// with `--keep-other`.
const OTHER_ROW: &[u8] = b"(other)";
/// Above this many argument columns, a multi-event CSV uses one `fields` column.
const MAX_UNION_COLUMNS: usize = 64;
/// Distinct event names remembered by the selection cache, and counted by
/// `-c`/`--stats` (QEMU declares about 5,000 events; a trace has hundreds).
/// Beyond it, or beyond [`NAME_BYTES_LIMIT`], further names are not counted
/// and the run says so at the end (see `qtrace_core::limits`).
const NAME_CACHE_LIMIT: usize = 100_000;
/// Bytes of event names remembered at most.
const NAME_BYTES_LIMIT: usize = 64 << 20;
/// Distinct host pointers `--normalize` gives tokens at most (a few minutes
/// of a real trace hold a few thousand; each costs about 30 bytes). Past it,
/// or past [`MAX_NORMALIZED_TIDS`] thread ids, further values are printed as
/// they are and the run says so at the end (see `qtrace_core::limits`).
const MAX_NORMALIZED_POINTERS: usize = 1_000_000;
/// Distinct thread ids `--normalize` gives tokens at most (QEMU runs a few
/// dozen threads).
const MAX_NORMALIZED_TIDS: usize = 4096;

/// A time bound from `--since` / `--until`.
#[derive(Debug, Clone, Copy)]
enum TimeBound {
    /// Nanoseconds after the first event.
    Relative(i64),
    /// Nanoseconds on the line's own clock.
    Absolute(i64),
}

fn parse_time_bound(flag: &str, s: &str) -> Result<TimeBound> {
    let bad = || {
        Error::usage(format!(
            "{flag} '{s}': expected seconds (e.g. 2.5), @SECONDS or an ISO-8601 time"
        ))
    };
    if let Some(abs) = s.strip_prefix('@') {
        return expr::parse_seconds(abs)
            .map(TimeBound::Absolute)
            .ok_or_else(bad);
    }
    if s.len() >= 20 && s.as_bytes()[4] == b'-' {
        let p = qtrace_core::recognize::Prefix {
            kind: PrefixKind::Iso,
            tid: None,
            time: Some(s.as_bytes()),
        };
        return p.time_nanos().map(TimeBound::Absolute).ok_or_else(bad);
    }
    let ns = expr::parse_seconds(s).ok_or_else(bad)?;
    // Plain numbers that look like epoch times are absolute.
    if ns >= 100_000_000 * 1_000_000_000 {
        Ok(TimeBound::Absolute(ns))
    } else {
        Ok(TimeBound::Relative(ns))
    }
}

/// Where a column's value comes from, for one event spec.
#[derive(Debug, Clone, Copy)]
enum Src {
    Input,
    Time,
    Tid,
    Event,
    Line,
    Message,
    Field(usize),
    AllFields,
    Unmatched,
    /// Whether the record is context (-A/-B/-C).
    Context,
    Absent,
}

/// The output columns, decided at the first selected event.
#[derive(Debug)]
struct Plan {
    columns: Vec<String>,
    /// Column index of each name as the user/tool named it (before de-clashing).
    keys: Vec<String>,
    by_spec: FxHashMap<usize, Vec<Src>>,
    unmatched_plan: Vec<Src>,
}

impl Plan {
    fn sources_for(&mut self, spec: Option<&EventSpec>, fields: Option<&Fields<'_>>) -> &[Src] {
        let Some(spec) = spec else {
            return &self.unmatched_plan;
        };
        let key = spec as *const EventSpec as usize;
        let keys = &self.keys;
        self.by_spec.entry(key).or_insert_with(|| {
            keys.iter()
                .map(|k| match k.as_str() {
                    "input" => Src::Input,
                    "time" => Src::Time,
                    "tid" => Src::Tid,
                    "event" => Src::Event,
                    "line" => Src::Line,
                    "message" => Src::Message,
                    "\0fields" => Src::AllFields,
                    "\0unmatched" => Src::Absent,
                    "\0context" => Src::Context,
                    name => {
                        let name = name.strip_prefix("\0arg:").unwrap_or(name);
                        fields
                            .and_then(|f| f.index(name))
                            .map_or(Src::Absent, Src::Field)
                    }
                })
                .collect()
        })
    }
}

/// Per-event statistics for `--stats`.
#[derive(Debug, Default, Clone, Copy)]
struct Stat {
    count: u64,
    first: Option<i64>,
    last: Option<i64>,
}

/// The tokens of one kind of value for `--normalize`: each distinct value
/// gets the next one (`p1`, `p2`, ...) while the cap allows. The tokens'
/// text is kept in one buffer, so a value costs its hash entry and a few
/// bytes.
#[derive(Debug)]
struct Tokens {
    prefix: &'static [u8],
    /// Value -> where its token is in `text`.
    index: FxHashMap<u64, (u32, u32)>,
    text: Vec<u8>,
    limit: Limit,
}

impl Tokens {
    fn new(prefix: &'static [u8], limit: Limit) -> Tokens {
        Tokens {
            prefix,
            index: FxHashMap::default(),
            text: Vec::new(),
            // Offsets into `text` are 32-bit.
            limit: limit.with_byte_budget(u32::MAX as usize),
        }
    }

    /// The token of `v`, made when `v` is new and the cap allows (`place`
    /// is where it was seen); `None` past the cap.
    #[inline]
    fn token(&mut self, v: u64, place: impl FnOnce() -> String) -> Option<&[u8]> {
        let (start, end) = match self.index.get(&v) {
            Some(&at) => at,
            None => self.add(v, place)?,
        };
        Some(&self.text[start as usize..end as usize])
    }

    #[cold]
    fn add(&mut self, v: u64, place: impl FnOnce() -> String) -> Option<(u32, u32)> {
        let n = self.index.len() as u64 + 1;
        let len = self.prefix.len() + 20;
        if !self.limit.admit_bytes(self.index.len(), len, place) {
            return None;
        }
        let start = self.text.len();
        self.text.extend_from_slice(self.prefix);
        qtrace_core::write::push_u64(&mut self.text, n);
        // The budget counted the longest token: give back what it did not use.
        self.limit.release_bytes(len - (self.text.len() - start));
        let at = (start as u32, self.text.len() as u32);
        self.index.insert(v, at);
        Some(at)
    }

    /// The token of `v`, if it has one.
    #[inline]
    fn get(&self, v: u64) -> Option<&[u8]> {
        let &(start, end) = self.index.get(&v)?;
        Some(&self.text[start as usize..end as usize])
    }
}

/// Tokens for `--normalize`: host pointers and thread ids, each within its
/// cap; values past it are printed as they are.
#[derive(Debug)]
struct Normalizer {
    ptrs: Tokens,
    tids: Tokens,
}

impl Normalizer {
    fn new() -> Normalizer {
        // A malformed QTRACE_MAX_KEYS is reported by `run` before any
        // input is read; here it means the defaults.
        let cap = qtrace_core::limits::cap_override().ok().flatten();
        let limit = |what, default| {
            Limit::with_cap(what, cap.unwrap_or(default))
                .with_effect("--normalize prints those as they are")
        };
        Normalizer {
            ptrs: Tokens::new(b"p", limit("host pointers", MAX_NORMALIZED_POINTERS)),
            tids: Tokens::new(b"tid", limit("thread ids", MAX_NORMALIZED_TIDS)),
        }
    }

    /// Says which values were printed as they are (errors: exit status 2).
    fn report(&self, diag: &qtrace_core::scan::Diag) {
        self.ptrs.limit.report(diag);
        self.tids.limit.report(diag);
    }
}

/// Everything resolved from the arguments before reading input.
#[derive(Debug)]
struct Config {
    selection: Selection,
    conds: Vec<Cond>,
    since: Option<TimeBound>,
    until: Option<TimeBound>,
    /// Some event must be decoded (for conditions or output).
    needs_decode: bool,
    /// Printed events are decoded (structured output, --normalize).
    decode_printed: bool,
    /// The output format (`-f` implies text).
    output: OutputKind,
    /// Lines of context before and after each selected event.
    before: usize,
    after: usize,
}

fn resolve(args: &Args, files: &mut Vec<std::ffi::OsString>) -> Result<Config> {
    let mut selection = Selection::all();
    let mut have_pattern = false;
    for p in &args.patterns {
        selection.add(p);
        have_pattern = true;
    }
    for f in &args.events_file {
        let text = std::fs::read_to_string(f).map_err(|source| Error::Input {
            input: f.display().to_string(),
            source,
        })?;
        selection.add_events_file(&text);
        have_pattern = true;
    }
    if !have_pattern {
        if files.is_empty() {
            return Err(Error::usage(
                "a PATTERN is required (use '*' for every event); see --help",
            ));
        }
        let p = files.remove(0);
        let p = p
            .to_str()
            .ok_or_else(|| Error::usage("the PATTERN is not valid UTF-8"))?
            .to_string();
        selection.add(&p);
    }
    let conds = args
        .wheres
        .iter()
        .map(|w| expr::parse(w))
        .collect::<Result<Vec<_>>>()?;
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time_bound("--since", s))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time_bound("--until", s))
        .transpose()?;
    let output = args.output_kind();
    if args.keep_other
        && matches!(
            output,
            OutputKind::Csv | OutputKind::Tsv | OutputKind::Jsonl
        )
    {
        return Err(Error::usage(
            "--keep-other works with raw and text output only",
        ));
    }
    if !args.fields.is_empty()
        && !args.count
        && !args.stats
        && matches!(output, OutputKind::Raw | OutputKind::Log)
    {
        return Err(Error::usage(
            "-f picks the columns of text, csv, tsv or jsonl output; raw and log output \
             print whole lines (leave out -o, or give -o text|csv|tsv|jsonl)",
        ));
    }
    let structured =
        !matches!(output, OutputKind::Raw | OutputKind::Log) && !args.count && !args.stats;
    let decode_printed = structured || args.normalize;
    let needs_decode = !conds.is_empty() || decode_printed;
    let (before, after) = args.context_lines();
    Ok(Config {
        selection,
        conds,
        since,
        until,
        needs_decode,
        decode_printed,
        output,
        before,
        after,
    })
}

/// Field names the selection can produce, for checking `-w`/`-f` names.
fn known_fields(cat: &Catalog, sel: &Selection) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for spec in cat.specs_where(|name| sel.matches(name)) {
        if let Ok(c) = spec.compiled() {
            for n in c.names() {
                if !out.iter().any(|o| o == &**n) {
                    out.push(n.to_string());
                }
            }
        }
    }
    out
}

/// Runs qtrace-filter.
pub fn run<W: Write>(args: &Args, out: &mut W, env: &mut Env<'_>) -> Result<Status> {
    let catalog = args.input.catalog(env.diag)?;
    // Declarations are parsed when first looked up: report what listing
    // them found.
    if let Some(glob) = &args.list {
        let status = list(&catalog, glob, out);
        catalog.report_warnings(env.diag);
        return status;
    }
    if let Some(name) = &args.explain {
        let status = explain(&catalog, name, out);
        catalog.report_warnings(env.diag);
        return status;
    }
    let mut files = args.input.files.clone();
    let cfg = resolve(args, &mut files)?;
    let inputs = args.input.inputs_from(&files)?;

    // Unknown field names are errors that name the fields that exist.
    let known = if cfg.conds.is_empty() && args.fields.is_empty() {
        Vec::new()
    } else {
        known_fields(&catalog, &cfg.selection)
    };
    let context_marker = |f: &str| f == "context" && (cfg.before > 0 || cfg.after > 0);
    let unknown_field =
        |f: &str| !META.contains(&f) && !context_marker(f) && !known.iter().any(|k| k == f);
    for name in cfg
        .conds
        .iter()
        .map(|c| c.field.as_str())
        .chain(args.fields.iter().map(String::as_str))
    {
        if unknown_field(name) {
            catalog.report_warnings(env.diag);
            let mut avail: Vec<&str> = META.to_vec();
            if cfg.before > 0 || cfg.after > 0 {
                avail.push("context");
            }
            avail.extend(known.iter().map(String::as_str));
            return Err(Error::usage(format!(
                "unknown field '{name}'; the selected events have: {}",
                avail.join(", ")
            )));
        }
    }

    let mut opts: ScanOptions = args.input.scan_options();
    let needs_first_time = cfg.since.is_some() || cfg.until.is_some() || args.relative;
    let context = cfg.before > 0 || cfg.after > 0;
    // Context needs every line; the others are skipped unexamined.
    if !args.invert && !args.keep_other && !needs_first_time && !context {
        opts.prefilter = cfg.selection.required_literal();
    }
    opts.names_only = (args.count || args.stats) && cfg.conds.is_empty();
    // Line numbers show in decoded output (the `line` field, conditions,
    // the first line whose arguments did not decode), in the error about
    // a line without a time, and decide where context groups are apart;
    // raw lines need none, and the lines skipped by the prefilter then go
    // uncounted.
    // Counting names needs them for the first place a name past the cap
    // was seen.
    opts.line_numbers = cfg.needs_decode || needs_first_time || args.count || args.stats || context;
    let mut scanner = Scanner::new(&catalog, opts);

    let names_limit =
        Limit::new("event names", NAME_CACHE_LIMIT)?.with_byte_budget(NAME_BYTES_LIMIT);
    let mut state = State::new(args, &cfg, &catalog, env.line_buffered, names_limit);
    let diag = &mut *env.diag;
    let mut fatal: Option<Error> = None;
    // -m 0 reads nothing, as grep's does.
    let reads = args.max_count != Some(0);
    for (index, input) in inputs.iter().enumerate().filter(|_| reads) {
        // Each input is read until -m says it has given enough.
        scanner.scan_one(
            input,
            index,
            diag,
            &mut |info: InputInfo<'_>, rec: Record<'_>| match state.record(info, rec, out) {
                Ok(flow) => Ok(flow),
                Err(e) if e.is_broken_pipe() => Err(e),
                Err(e @ Error::Usage(_)) => {
                    fatal = Some(e);
                    Ok(false)
                }
                Err(e) => Err(e),
            },
        )?;
        if fatal.is_some() {
            break;
        }
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    state.finish(out)?;
    if args.normalize {
        state.norm.report(env.diag);
    }
    // Names past the cap are only a cost to the cache, except when counted.
    if args.count || args.stats {
        state.names_limit.report(env.diag);
    }
    if state.undescribed > 0 {
        env.diag.warn(undescribed_warning(&state, &catalog, args));
    }
    if state.unmatched > 0 {
        env.diag.warn(format!(
            "{} selected event(s) did not match any known format of their name (first: {}); \
             their fields are empty (-o jsonl keeps their message)",
            state.unmatched,
            state.first_unmatched.as_deref().unwrap_or("?")
        ));
    }
    if state.other > 0 && !args.keep_other {
        env.diag.note(format!(
            "{} line(s) were not trace events and were skipped (--keep-other passes them through)",
            state.other
        ));
    }
    if reads && env.diag.errors() == 0 {
        let found = state.selected > 0;
        let why = why_nothing::Run {
            args,
            selection: &cfg.selection,
            catalog: &catalog,
            inputs: &inputs,
            lines: scanner.stats.lines,
            events: scanner.stats.events,
            name_matched: state.name_matched,
            // The names a complete scan saw (the prefilter skips only
            // lines no pattern can match).
            seen: (!state.stopped_early && state.names_limit.refused() == 0)
                .then(|| state.name_cache.keys().map(|k| &k[..]).collect()),
        };
        for line in why.explain(found) {
            env.diag.note(line);
        }
    }
    Ok(Status::from_found(state.selected > 0))
}

/// The warning about selected events no catalog in use describes: their
/// fields are empty, and this is how to get QEMU's catalog.
fn undescribed_warning(state: &State<'_>, catalog: &Catalog, args: &Args) -> String {
    use qtrace_core::catalog::{CATALOG_ENV, INSTALLED_CATALOGS};
    let installed = INSTALLED_CATALOGS
        .iter()
        .find(|p| std::path::Path::new(p).is_file());
    let in_use: Vec<&str> = catalog
        .sources()
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "<built-in>")
        .collect();
    let head = format!(
        "{} selected event(s) have no format in the catalogs in use (first: {}); their fields are \
         empty (-o jsonl keeps their message)",
        state.undescribed,
        state.first_undescribed.as_deref().unwrap_or("?")
    );
    let how = match (in_use.is_empty(), installed) {
        (true, Some(p)) if args.input.no_installed_catalog => format!(
            "only the built-in specs were used: leave out --no-installed-catalog to use {p}, or \
             give QEMU's trace-events-all with --trace-events FILE or ${CATALOG_ENV}"
        ),
        (true, _) => format!(
            "only the built-in specs were used, and no QEMU catalog is installed: give QEMU's \
             trace-events-all with --trace-events FILE or ${CATALOG_ENV}, or install Debian's \
             qemu-system-common ({})",
            INSTALLED_CATALOGS[0]
        ),
        (false, _) => format!(
            "the catalogs in use ({}) do not declare them: give the trace-events-all of the QEMU \
             that wrote the trace with --trace-events FILE or ${CATALOG_ENV}",
            in_use.join(", ")
        ),
    };
    format!("{head};\n  {how}")
}

/// The per-run state of the main loop.
struct State<'r> {
    args: &'r Args,
    cfg: &'r Config,
    catalog: &'r Catalog,
    line_buffered: bool,
    /// Per distinct name: selected?, and its slot in `counts`.
    name_cache: FxHashMap<Box<[u8]>, (bool, u32)>,
    scratch: Vec<Slot>,
    first_time: Option<i64>,
    first_seen: bool,
    selected: u64,
    /// Events whose name the selection matched (before -v, -w and the time
    /// window), for the sentence that says why nothing was selected.
    name_matched: u64,
    other: u64,
    unmatched: u64,
    first_unmatched: Option<String>,
    /// Selected events that no catalog in use declares.
    undescribed: u64,
    first_undescribed: Option<String>,
    counts: Vec<(Box<[u8]>, Stat)>,
    /// The cap of `name_cache` and `counts`.
    names_limit: Limit,
    /// The slot of the current event's name in `counts`, if cached.
    current_slot: Option<u32>,
    needs_time: bool,
    select_all: bool,
    writer: Option<RecordWriter<Spool>>,
    spool: Spool,
    plan: Option<Plan>,
    norm: Normalizer,
    buf: Vec<u8>,
    fields_buf: Vec<u8>,
    /// The input being read (its index), and how many events of it were
    /// selected, for -m.
    input_index: usize,
    selected_here: u64,
    /// -m was reached in this input: only after-context is left to print.
    max_reached: bool,
    /// Some input was not read to its end (-m).
    stopped_early: bool,
    /// The lines held for -B (at most `cfg.before`), oldest first, and
    /// spare buffers for them.
    held: VecDeque<Held>,
    spare: Vec<Held>,
    /// Lines of after-context still to print.
    after_left: usize,
    /// The last line printed (input index, line number), for `--` between
    /// context groups.
    last_printed: Option<(usize, u64)>,
    /// Slots for decoding context events.
    context_scratch: Vec<Slot>,
}

/// A line held for -B: its bytes copied (one buffer, reused), and for an
/// event, where its parts are in them.
#[derive(Debug, Default)]
struct Held {
    number: u64,
    /// The full line, the line without its terminator, then for an event
    /// its time, name and message.
    bytes: Vec<u8>,
    full_len: usize,
    line_len: usize,
    event: Option<HeldEvent>,
}

#[derive(Debug, Clone, Copy)]
struct HeldEvent {
    kind: PrefixKind,
    tid: Option<u64>,
    time_len: Option<usize>,
    name_len: usize,
}

impl Held {
    fn fill(&mut self, rec: &Record<'_>) {
        let line = rec.line();
        self.number = line.number;
        self.bytes.clear();
        self.bytes.extend_from_slice(line.full);
        self.bytes.extend_from_slice(line.bytes);
        self.full_len = line.full.len();
        self.line_len = line.bytes.len();
        self.event = match rec {
            Record::Other(_) => None,
            Record::Event(ev) => {
                if let Some(t) = ev.prefix.time {
                    self.bytes.extend_from_slice(t);
                }
                self.bytes.extend_from_slice(ev.name);
                self.bytes.extend_from_slice(ev.message);
                Some(HeldEvent {
                    kind: ev.prefix.kind,
                    tid: ev.prefix.tid,
                    time_len: ev.prefix.time.map(<[u8]>::len),
                    name_len: ev.name.len(),
                })
            }
        };
    }

    fn record(&self) -> Record<'_> {
        let (full, rest) = self.bytes.split_at(self.full_len);
        let (bytes, rest) = rest.split_at(self.line_len);
        let line = Line {
            number: self.number,
            bytes,
            full,
        };
        let Some(h) = self.event else {
            return Record::Other(line);
        };
        let (time, rest) = match h.time_len {
            Some(n) => {
                let (t, rest) = rest.split_at(n);
                (Some(t), rest)
            }
            None => (None, rest),
        };
        let (name, message) = rest.split_at(h.name_len);
        Record::Event(Event {
            line,
            prefix: Prefix {
                kind: h.kind,
                tid: h.tid,
                time,
            },
            name,
            message,
            pre: None,
        })
    }
}

impl<'r> State<'r> {
    fn new(
        args: &'r Args,
        cfg: &'r Config,
        catalog: &'r Catalog,
        line_buffered: bool,
        names_limit: Limit,
    ) -> Self {
        State {
            args,
            cfg,
            catalog,
            line_buffered,
            name_cache: FxHashMap::default(),
            scratch: Vec::new(),
            first_time: None,
            first_seen: false,
            selected: 0,
            name_matched: 0,
            other: 0,
            unmatched: 0,
            first_unmatched: None,
            undescribed: 0,
            first_undescribed: None,
            counts: Vec::new(),
            names_limit,
            current_slot: None,
            needs_time: args.stats || args.relative || cfg.since.is_some() || cfg.until.is_some(),
            select_all: cfg.selection.is_everything(),
            writer: None,
            spool: Spool::default(),
            plan: None,
            norm: Normalizer::new(),
            buf: Vec::with_capacity(4096),
            fields_buf: Vec::new(),
            input_index: 0,
            selected_here: 0,
            max_reached: false,
            stopped_early: false,
            held: VecDeque::new(),
            spare: Vec::new(),
            after_left: 0,
            last_printed: None,
            context_scratch: Vec::new(),
        }
    }

    /// Context lines are asked for.
    fn has_context(&self) -> bool {
        self.cfg.before > 0 || self.cfg.after > 0
    }

    /// Whether the event `name` (at `input:line`) is selected; caches the
    /// answer and gives the name its slot in `counts`, within the cap.
    #[inline]
    fn name_selected(&mut self, name: &[u8], input: &str, line: u64) -> bool {
        if let Some(&(s, slot)) = self.name_cache.get(name) {
            self.current_slot = Some(slot);
            return s;
        }
        let s = self.cfg.selection.matches(name);
        if self
            .names_limit
            .admit_bytes(self.name_cache.len(), name.len(), || {
                format!("{input}:{line}")
            })
        {
            let slot = self.counts.len() as u32;
            self.counts.push((name.into(), Stat::default()));
            self.name_cache.insert(name.into(), (s, slot));
            self.current_slot = Some(slot);
        } else {
            self.current_slot = None;
        }
        s
    }

    /// Handles one record; `false` when this input has given enough (-m).
    fn record<W: Write>(
        &mut self,
        info: InputInfo<'_>,
        rec: Record<'_>,
        out: &mut W,
    ) -> Result<bool> {
        let input = info.name;
        if info.index != self.input_index {
            // Context and -m do not reach across inputs.
            self.input_index = info.index;
            self.selected_here = 0;
            self.max_reached = false;
            self.after_left = 0;
            self.spare.extend(self.held.drain(..));
        }
        if self.max_reached {
            // Only the after-context of the last selected event is left.
            if let Record::Other(_) = rec {
                self.other += 1;
            }
            return self.context_line(input, rec, out);
        }
        let ev = match rec {
            Record::Other(line) => {
                self.other += 1;
                // Counting, --keep-other counts them as one row instead.
                if self.args.keep_other && !self.args.count && !self.args.stats {
                    self.write_other(input, line, out)?;
                    self.after_left = self.after_left.saturating_sub(1);
                    self.spare.extend(self.held.drain(..));
                    return Ok(true);
                }
                if self.has_context() {
                    return self.context_line(input, rec, out);
                }
                return Ok(true);
            }
            Record::Event(ev) => ev,
        };
        // Reading the time costs; only some options need it.
        let t = if self.needs_time {
            ev.prefix.time_nanos()
        } else {
            None
        };
        if !self.first_seen {
            self.first_seen = true;
            self.first_time = t;
        }
        // Selecting everything needs no per-name lookup unless names are counted.
        let mut keep = if self.select_all && !self.args.count && !self.args.stats {
            true
        } else {
            self.name_selected(ev.name, input, ev.line.number)
        };
        self.name_matched += u64::from(keep);
        if !keep && !self.args.invert {
            return self.context_line(input, rec, out);
        }
        // Time window (applies whether or not -v is given).
        if self.cfg.since.is_some() || self.cfg.until.is_some() {
            let Some(t) = t else {
                return Err(Error::usage(format!(
                    "{input}:{}: --since/--until need timestamps, and this line has none \
                     (capture with -msg timestamp=on)",
                    ev.line.number
                )));
            };
            let rel = t - self.first_time.unwrap_or(t);
            let within = |b: TimeBound, after: bool| match b {
                TimeBound::Relative(ns) => {
                    if after {
                        rel >= ns
                    } else {
                        rel <= ns
                    }
                }
                TimeBound::Absolute(ns) => {
                    if after {
                        t >= ns
                    } else {
                        t <= ns
                    }
                }
            };
            if self.cfg.since.is_some_and(|b| !within(b, true))
                || self.cfg.until.is_some_and(|b| !within(b, false))
            {
                return self.context_line(input, rec, out);
            }
        }
        let catalog = self.catalog;
        let mut scratch = std::mem::take(&mut self.scratch);
        // Decoded: for the conditions of an event the name keeps, and every
        // event that may be printed decoded (with -v, those the name leaves
        // out too).
        let has_conds = !self.cfg.conds.is_empty();
        let decoded = (keep && has_conds) || self.cfg.decode_printed;
        let fields = if decoded {
            catalog.decode(ev.name, ev.message, &mut scratch)
        } else {
            None
        };
        if keep && has_conds {
            keep = self
                .cfg
                .conds
                .iter()
                .all(|c| eval_cond(c, &ev, fields.as_ref()));
        }
        if keep == self.args.invert {
            self.scratch = scratch;
            return self.context_line(input, rec, out);
        }
        self.selected += 1;
        self.selected_here += 1;
        if decoded && fields.is_none() {
            let first = if catalog.knows(ev.name) {
                self.unmatched += 1;
                &mut self.first_unmatched
            } else {
                self.undescribed += 1;
                &mut self.first_undescribed
            };
            if first.is_none() {
                *first = Some(format!(
                    "{input}:{} {}",
                    ev.line.number,
                    qtrace_core::error::excerpt(ev.name, qtrace_core::error::EXCERPT_BYTES)
                ));
            }
        }
        let r = self
            .print_held(input, out)
            .and_then(|()| self.emit(input, &ev, t, fields.as_ref(), false, out));
        self.scratch = scratch;
        r?;
        self.after_left = self.cfg.after;
        if self.args.max_count.is_some_and(|m| self.selected_here >= m) {
            self.max_reached = true;
            if self.after_left == 0 {
                self.stopped_early = true;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A line that was not selected: after-context to print, or held for
    /// -B. `false` once the after-context of -m's last event is printed.
    fn context_line<W: Write>(
        &mut self,
        input: &str,
        rec: Record<'_>,
        out: &mut W,
    ) -> Result<bool> {
        if !self.has_context() {
            return Ok(true);
        }
        let structured = !matches!(
            self.cfg.output,
            OutputKind::Raw | OutputKind::Log | OutputKind::Text
        );
        // CSV, TSV and JSON Lines have no place for lines that are not events.
        if structured && matches!(rec, Record::Other(_)) {
            return Ok(true);
        }
        if self.after_left > 0 {
            self.after_left -= 1;
            self.print_context(input, rec, out)?;
            if self.max_reached && self.after_left == 0 {
                self.stopped_early = true;
                return Ok(false);
            }
            return Ok(true);
        }
        if self.max_reached {
            self.stopped_early = true;
            return Ok(false);
        }
        if self.cfg.before > 0 {
            let mut h = if self.held.len() >= self.cfg.before {
                self.held.pop_front().unwrap_or_default()
            } else {
                self.spare.pop().unwrap_or_default()
            };
            h.fill(&rec);
            self.held.push_back(h);
        }
        Ok(true)
    }

    /// Prints the lines held for -B, oldest first, and forgets them.
    fn print_held<W: Write>(&mut self, input: &str, out: &mut W) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        let mut r = Ok(());
        for h in &held {
            r = self.print_context(input, h.record(), out);
            if r.is_err() {
                break;
            }
        }
        self.held = held;
        self.spare.extend(self.held.drain(..));
        r
    }

    /// Prints a context line in the output's own format.
    fn print_context<W: Write>(&mut self, input: &str, rec: Record<'_>, out: &mut W) -> Result<()> {
        match rec {
            Record::Other(line) => self.write_other(input, line, out),
            Record::Event(ev) => {
                let t = if self.needs_time {
                    ev.prefix.time_nanos()
                } else {
                    None
                };
                let mut scratch = std::mem::take(&mut self.context_scratch);
                let fields = if self.cfg.decode_printed {
                    self.catalog.decode(ev.name, ev.message, &mut scratch)
                } else {
                    None
                };
                let r = self.emit(input, &ev, t, fields.as_ref(), true, out);
                self.context_scratch = scratch;
                r
            }
        }
    }

    /// Prints a line that is not an event as it is (raw and text output):
    /// through the spool in text output, so it keeps its place among the
    /// records.
    fn write_other<W: Write>(&mut self, input: &str, line: Line<'_>, out: &mut W) -> Result<()> {
        self.separate(out, line.number)?;
        if self.cfg.output == OutputKind::Text {
            {
                let mut b = self.spool.0.borrow_mut();
                if self.args.with_filename {
                    b.extend_from_slice(input.as_bytes());
                    b.push(b':');
                }
                b.extend_from_slice(line.full);
                if !line.full.ends_with(b"\n") {
                    b.push(b'\n');
                }
            }
            return self.spool.drain_to(out, self.line_buffered);
        }
        if self.args.with_filename {
            out.write_all(input.as_bytes())?;
            out.write_all(b":")?;
        }
        write_line(out, line.full)?;
        if self.line_buffered {
            out.flush()?;
        }
        Ok(())
    }

    /// With context, `--` before a line that does not follow the last one
    /// printed (raw and text output, as grep does).
    fn separate<W: Write>(&mut self, out: &mut W, number: u64) -> Result<()> {
        let here = (self.input_index, number);
        let last = self.last_printed.replace(here);
        if !self.has_context()
            || !matches!(
                self.cfg.output,
                OutputKind::Raw | OutputKind::Log | OutputKind::Text
            )
        {
            return Ok(());
        }
        if let Some((i, n)) = last
            && (i != here.0 || n + 1 != number)
        {
            if self.cfg.output == OutputKind::Text {
                self.spool.0.borrow_mut().extend_from_slice(b"--\n");
            } else {
                out.write_all(b"--\n")?;
            }
        }
        Ok(())
    }

    fn emit<W: Write>(
        &mut self,
        input: &str,
        ev: &Event<'_>,
        t: Option<i64>,
        fields: Option<&Fields<'_>>,
        context: bool,
        out: &mut W,
    ) -> Result<()> {
        if self.args.count || self.args.stats {
            let st = match self.current_slot {
                Some(slot) => &mut self.counts[slot as usize].1,
                // A name past the cap: recorded by `names_limit`.
                None => return Ok(()),
            };
            st.count += 1;
            if let Some(t) = t {
                st.first.get_or_insert(t);
                st.last = Some(t);
            }
            return Ok(());
        }
        match self.cfg.output {
            OutputKind::Raw | OutputKind::Log => {
                self.separate(out, ev.line.number)?;
                if self.args.with_filename {
                    out.write_all(input.as_bytes())?;
                    out.write_all(b":")?;
                }
                if self.args.prefix
                    && !self.args.normalize
                    && ev.prefix.kind == PrefixKind::Simple
                    && let (Some(tid), Some(time)) = (ev.prefix.tid, ev.prefix.time)
                {
                    write!(out, "{tid}@")?;
                    out.write_all(time)?;
                    out.write_all(b":")?;
                }
                if self.args.normalize {
                    self.buf.clear();
                    normalized_line(&mut self.norm, input, ev, fields, &mut self.buf);
                    out.write_all(&self.buf)?;
                } else {
                    write_line(out, ev.line.full)?;
                }
                if self.line_buffered {
                    out.flush()?;
                }
                Ok(())
            }
            kind => {
                self.separate(out, ev.line.number)?;
                if self.plan.is_none() {
                    self.plan = Some(self.make_plan(ev, fields));
                    let plan = self.plan.as_ref().expect("just set");
                    let format = match kind {
                        OutputKind::Csv => RecordFormat::Csv,
                        OutputKind::Tsv => RecordFormat::Tsv,
                        OutputKind::Jsonl => RecordFormat::Jsonl,
                        _ => RecordFormat::Text,
                    };
                    let w = RecordWriter::new(format, plan.columns.clone(), self.spool.clone());
                    self.writer = Some(if self.args.no_header {
                        w.without_header()
                    } else {
                        w
                    });
                }
                self.write_record(input, ev, t, fields, context)?;
                // The writer writes into the spool; move it to `out` in large pieces.
                if self.line_buffered {
                    self.writer.as_mut().expect("writer exists").flush()?;
                }
                self.spool.drain_to(out, self.line_buffered)
            }
        }
    }

    fn make_plan(&self, first: &Event<'_>, first_fields: Option<&Fields<'_>>) -> Plan {
        let args = self.args;
        let mut keys: Vec<String> = Vec::new();
        // With -v or context, any event may be printed: its arguments go in
        // one column.
        let any_event = self.args.invert || self.has_context();
        if !args.fields.is_empty() {
            // With context, `context` is the marker (placed where -f puts
            // it, or last).
            let context = self.has_context();
            keys.extend(args.fields.iter().map(|f| {
                if context && f == "context" {
                    "\0context".to_string()
                } else {
                    f.clone()
                }
            }));
            if context && !args.fields.iter().any(|f| f == "context") {
                keys.push("\0context".into());
            }
        } else {
            if args.with_filename {
                keys.push("input".into());
            }
            if first.prefix.time.is_some() {
                keys.push("time".into());
            }
            if first.prefix.tid.is_some() {
                keys.push("tid".into());
            }
            keys.push("event".into());
            // Argument columns: the first event's own fields, then those of
            // every other selected event's first-priority spec.
            let mut args_cols: Vec<String> = Vec::new();
            let mut add = |n: &str| {
                if !args_cols.iter().any(|a| a == n) {
                    args_cols.push(n.to_string());
                }
            };
            if let Some(f) = first_fields {
                f.names().iter().for_each(|n| add(n));
            }
            let mut seen_names: Vec<&str> = vec![];
            if !any_event {
                for spec in self.catalog.specs_where(|n| self.cfg.selection.matches(n)) {
                    let first_done = first_fields.is_some() && spec.name.as_bytes() == first.name;
                    if seen_names.contains(&spec.name.as_str()) || first_done {
                        continue;
                    }
                    seen_names.push(&spec.name);
                    if let Ok(c) = spec.compiled() {
                        c.names().iter().for_each(|n| add(n));
                    }
                }
            }
            if args_cols.len() > MAX_UNION_COLUMNS || any_event {
                keys.push("\0fields".into());
            } else {
                keys.extend(args_cols.into_iter().map(|a| format!("\0arg:{a}")));
            }
            if self.cfg.output == OutputKind::Jsonl {
                keys.push("message".into());
                keys.push("\0unmatched".into());
            }
            if self.has_context() {
                keys.push("\0context".into());
            }
        }
        let reserved: &[&str] = &[
            "input",
            "time",
            "tid",
            "event",
            "line",
            "message",
            "fields",
            "unmatched",
            if self.has_context() {
                "context"
            } else {
                "fields"
            },
        ];
        let display = keys.iter().map(|k| {
            if let Some(a) = k.strip_prefix("\0arg:") {
                if reserved.contains(&a) {
                    format!("arg_{a}")
                } else {
                    a.to_string()
                }
            } else {
                k.trim_start_matches('\0').to_string()
            }
        });
        let columns = unique_columns(display, &[]);
        let unmatched_plan = keys
            .iter()
            .map(|k| match k.as_str() {
                "input" => Src::Input,
                "time" => Src::Time,
                "tid" => Src::Tid,
                "event" => Src::Event,
                "line" => Src::Line,
                "message" => Src::Message,
                "\0unmatched" => Src::Unmatched,
                "\0context" => Src::Context,
                _ => Src::Absent,
            })
            .collect();
        Plan {
            columns,
            keys,
            by_spec: FxHashMap::default(),
            unmatched_plan,
        }
    }

    fn write_record(
        &mut self,
        input: &str,
        ev: &Event<'_>,
        t: Option<i64>,
        fields: Option<&Fields<'_>>,
        context: bool,
    ) -> Result<()> {
        let style = self.args.numbers;
        let normalize = self.args.normalize;
        // Tokens first (they need &mut), then the cells borrow them.
        if normalize {
            let place = || format!("{input}:{}", ev.line.number);
            if let Some(tid) = ev.prefix.tid {
                self.norm.tids.token(tid, place);
            }
            if let Some(f) = fields {
                for i in 0..f.len() {
                    if let Value::Pointer(Some(p)) = f.value(i) {
                        self.norm.ptrs.token(p, place);
                    }
                }
            }
        }
        if self.cfg.output == OutputKind::Jsonl && self.args.fields.is_empty() {
            return self.write_json_record(input, ev, t, fields, context);
        }
        let args = self.args;
        let first_time = self.first_time;
        // Disjoint borrows of the state: the plan's sources, the writer, the
        // tokens and the scratch buffer are used together below.
        let State {
            plan,
            writer,
            norm,
            fields_buf,
            ..
        } = self;
        let srcs: &[Src] = plan
            .as_mut()
            .expect("plan made")
            .sources_for(fields.map(|f| f.spec()), fields);
        let needs_all = srcs.iter().any(|s| matches!(s, Src::AllFields));
        if needs_all {
            fields_buf.clear();
            if let Some(f) = fields {
                let mut v = Vec::new();
                for i in 0..f.len() {
                    if i > 0 {
                        fields_buf.push(b' ');
                    }
                    fields_buf.extend_from_slice(f.name(i).as_bytes());
                    fields_buf.push(b'=');
                    v.clear();
                    qtrace_core::write::cell_text(
                        &value_cell(f, i, style, norm, normalize),
                        &mut v,
                    );
                    qtrace_core::write::push_text_value(
                        &v,
                        matches!(f.kind(i), Kind::Str),
                        fields_buf,
                    );
                }
            } else {
                fields_buf.extend_from_slice(ev.message);
            }
        }
        let rel = args.relative;
        let output = self.cfg.output;
        // CSV and TSV say true or false; text and JSON mark context only.
        let not_context = match output {
            OutputKind::Csv | OutputKind::Tsv => Cell::Bool(false),
            _ => Cell::Absent,
        };
        let norm = &*norm;
        let fields_text = &*fields_buf;
        let cells = srcs.iter().map(|src| match *src {
            Src::Input => Cell::Str(input.as_bytes()),
            Src::Time => match (ev.prefix.time, t) {
                _ if normalize => Cell::Str(b"T"),
                (_, Some(t)) if rel => Cell::Seconds(t - first_time.unwrap_or(t)),
                (Some(text), _) => Cell::Str(text),
                (None, _) => Cell::Null,
            },
            Src::Tid => match ev.prefix.tid {
                Some(tid) if normalize => norm
                    .tids
                    .get(tid)
                    .map_or(Cell::UInt(tid, Radix::Dec), Cell::Str),
                Some(tid) => Cell::UInt(tid, Radix::Dec),
                None => Cell::Null,
            },
            Src::Event => Cell::Str(ev.name),
            Src::Line => Cell::UInt(ev.line.number, Radix::Dec),
            Src::Message => {
                if fields.is_none() || output != OutputKind::Jsonl {
                    Cell::Str(ev.message)
                } else {
                    Cell::Absent
                }
            }
            Src::Field(i) => match fields {
                Some(f) => value_cell(f, i, style, norm, normalize),
                None => Cell::Null,
            },
            Src::AllFields => Cell::Str(fields_text),
            Src::Unmatched => Cell::Bool(true),
            Src::Context if context => Cell::Bool(true),
            Src::Context => not_context,
            Src::Absent => Cell::Absent,
        });
        writer.as_mut().expect("writer exists").row_iter(cells)
    }

    /// JSON Lines without `-f`: each record has its own event's keys, in the
    /// order time, tid, event, arguments (an argument named like a prefix key
    /// becomes `arg_<name>`); unmatched events carry `message` and `unmatched`.
    fn write_json_record(
        &mut self,
        input: &str,
        ev: &Event<'_>,
        t: Option<i64>,
        fields: Option<&Fields<'_>>,
        context: bool,
    ) -> Result<()> {
        const RESERVED: &[&str] = &["input", "time", "tid", "event", "message", "unmatched"];
        const RESERVED_WITH_CONTEXT: &[&str] = &[
            "input",
            "time",
            "tid",
            "event",
            "message",
            "unmatched",
            "context",
        ];
        let reserved = if self.has_context() {
            RESERVED_WITH_CONTEXT
        } else {
            RESERVED
        };
        let style = self.args.numbers;
        let normalize = self.args.normalize;
        let norm = &self.norm;
        let time = match (ev.prefix.time, t) {
            (Some(_), _) if normalize => Cell::Str(b"T"),
            (_, Some(t)) if self.args.relative => Cell::Seconds(t - self.first_time.unwrap_or(t)),
            (Some(text), _) => Cell::Str(text),
            (None, _) => Cell::Absent,
        };
        let tid = match ev.prefix.tid {
            Some(tid) if normalize => norm
                .tids
                .get(tid)
                .map_or(Cell::UInt(tid, Radix::Dec), Cell::Str),
            Some(tid) => Cell::UInt(tid, Radix::Dec),
            None => Cell::Absent,
        };
        let input_cell = if self.args.with_filename {
            Cell::Str(input.as_bytes())
        } else {
            Cell::Absent
        };
        let head = [
            ("input", input_cell),
            ("time", time),
            ("tid", tid),
            ("event", Cell::Str(ev.name)),
        ];
        let mut renamed: Vec<String> = Vec::new();
        if let Some(f) = fields {
            for n in f.names() {
                if reserved.contains(&&**n) {
                    renamed.push(format!("arg_{n}"));
                }
            }
        }
        let args = fields
            .into_iter()
            .flat_map(|f| (0..f.len()).map(move |i| (i, f)));
        let mut k = 0;
        let renamed_ref = &renamed;
        let args = args.map(move |(i, f)| {
            let n = f.name(i);
            let key: &str = if reserved.contains(&n) {
                k += 1;
                &renamed_ref[k - 1]
            } else {
                n
            };
            (key, value_cell(f, i, style, norm, normalize))
        });
        let context = (
            "context",
            if context {
                Cell::Bool(true)
            } else {
                Cell::Absent
            },
        );
        let tail = if fields.is_none() {
            [
                ("message", Cell::Str(ev.message)),
                ("unmatched", Cell::Bool(true)),
                context,
            ]
        } else {
            [
                ("message", Cell::Absent),
                ("unmatched", Cell::Absent),
                context,
            ]
        };
        match self.writer.as_mut().expect("writer exists") {
            RecordWriter::Jsonl(w) => w.row_pairs(head.into_iter().chain(args).chain(tail)),
            _ => unreachable!("JSON output uses the JSON writer"),
        }
    }

    fn finish<W: Write>(&mut self, out: &mut W) -> Result<()> {
        if self.args.count || self.args.stats {
            return self.print_counts(out);
        }
        if !matches!(self.cfg.output, OutputKind::Raw | OutputKind::Log) {
            let w = match self.writer.take() {
                Some(w) => w,
                None => {
                    // No record: CSV/TSV still get their header.
                    if !matches!(self.cfg.output, OutputKind::Csv | OutputKind::Tsv) {
                        return Ok(());
                    }
                    let mut cols: Vec<String> = if self.args.fields.is_empty() {
                        let mut c = vec!["event".to_string()];
                        c.extend(known_fields(self.catalog, &self.cfg.selection));
                        c
                    } else {
                        self.args.fields.clone()
                    };
                    cols.dedup();
                    let f = if self.cfg.output == OutputKind::Csv {
                        RecordFormat::Csv
                    } else {
                        RecordFormat::Tsv
                    };
                    let w = RecordWriter::new(f, unique_columns(cols, &[]), self.spool.clone());
                    if self.args.no_header {
                        w.without_header()
                    } else {
                        w
                    }
                }
            };
            w.finish()?;
            self.spool.drain_to(out, true)?;
        }
        Ok(())
    }

    fn print_counts<W: Write>(&mut self, out: &mut W) -> Result<()> {
        let mut rows: Vec<(&[u8], Stat)> = self
            .counts
            .iter()
            .map(|(k, v)| (&**k, *v))
            .filter(|(_, st)| st.count > 0)
            .collect();
        rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        // --keep-other: the lines that are not events, as one last row (no
        // event name has parentheses).
        if self.args.keep_other && self.other > 0 {
            let other = Stat {
                count: self.other,
                first: None,
                last: None,
            };
            rows.push((OTHER_ROW, other));
        }
        let format = match self.cfg.output {
            OutputKind::Csv => Some(RecordFormat::Csv),
            OutputKind::Tsv => Some(RecordFormat::Tsv),
            OutputKind::Jsonl => Some(RecordFormat::Jsonl),
            _ => None,
        };
        let base = if self.args.relative {
            self.first_time
        } else {
            None
        };
        let secs = |t: Option<i64>| t.map(|t| t - base.unwrap_or(0));
        if self.args.count {
            match format {
                Some(f) => {
                    let mut w =
                        RecordWriter::new(f, vec!["event".into(), "count".into()], Vec::new());
                    if self.args.no_header {
                        w = w.without_header();
                    }
                    for (name, st) in &rows {
                        w.row(&[Cell::Str(name), Cell::UInt(st.count, Radix::Dec)])?;
                    }
                    out.write_all(&w.finish()?)?;
                }
                None => {
                    for (name, st) in &rows {
                        write!(out, "{:>8} ", st.count)?;
                        out.write_all(name)?;
                        out.write_all(b"\n")?;
                    }
                }
            }
            return Ok(());
        }
        let cols = ["event", "count", "first", "last", "rate"]
            .map(String::from)
            .to_vec();
        let rate = |st: &Stat| match (st.first, st.last) {
            (Some(a), Some(b)) if b > a && st.count > 1 => {
                Some((st.count - 1) as f64 * 1e9 / (b - a) as f64)
            }
            _ => None,
        };
        match format {
            Some(f) => {
                let mut w = RecordWriter::new(f, cols, Vec::new());
                if self.args.no_header {
                    w = w.without_header();
                }
                for (name, st) in &rows {
                    w.row(&[
                        Cell::Str(name),
                        Cell::UInt(st.count, Radix::Dec),
                        secs(st.first).map_or(Cell::Null, Cell::Seconds),
                        secs(st.last).map_or(Cell::Null, Cell::Seconds),
                        rate(st).map_or(Cell::Null, |r| Cell::Fixed(r, 3)),
                    ])?;
                }
                out.write_all(&w.finish()?)?;
            }
            None => {
                let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(5).max(5);
                writeln!(
                    out,
                    "{:<width$} {:>10} {:>18} {:>18} {:>12}",
                    "event", "count", "first", "last", "rate/s"
                )?;
                for (name, st) in &rows {
                    let t = |v: Option<i64>| {
                        v.map_or("-".to_string(), |ns| {
                            let mut b = Vec::new();
                            push_seconds(&mut b, ns);
                            String::from_utf8_lossy(&b).into_owned()
                        })
                    };
                    let r = rate(st).map_or("-".to_string(), |r| format!("{r:.1}"));
                    writeln!(
                        out,
                        "{:<width$} {:>10} {:>18} {:>18} {:>12}",
                        String::from_utf8_lossy(name),
                        st.count,
                        t(secs(st.first)),
                        t(secs(st.last)),
                        r
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// A byte buffer the record writer writes into and the main loop drains, so
/// the writer can live across calls without borrowing the output.
#[derive(Debug, Clone, Default)]
struct Spool(Rc<RefCell<Vec<u8>>>);

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Spool {
    /// Moves the spooled bytes to `out` when there are many (or always, when
    /// line-buffered).
    fn drain_to<W: Write>(&self, out: &mut W, always: bool) -> Result<()> {
        let mut b = self.0.borrow_mut();
        if always || b.len() >= 64 << 10 {
            out.write_all(&b)?;
            b.clear();
            if always {
                out.flush()?;
            }
        }
        Ok(())
    }
}

#[inline]
fn write_line<W: Write>(out: &mut W, full: &[u8]) -> Result<()> {
    out.write_all(full)?;
    if !full.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A decoded value as an output cell, in the chosen number style.
fn value_cell<'a>(
    f: &Fields<'a>,
    i: usize,
    style: NumberStyle,
    norm: &'a Normalizer,
    normalize: bool,
) -> Cell<'a> {
    let v = f.value(i);
    if style == NumberStyle::Asis && !matches!(v, Value::Str(_)) {
        return Cell::Str(f.text(i));
    }
    match v {
        Value::Signed(x) => match style {
            NumberStyle::Hex => Cell::UInt(x as u64, Radix::Hex),
            _ => Cell::Int(x),
        },
        Value::Unsigned(x, r) => Cell::UInt(
            x,
            match style {
                NumberStyle::Dec => Radix::Dec,
                NumberStyle::Hex => Radix::Hex,
                _ => r,
            },
        ),
        // A pointer past the cap of tokens is printed as it is.
        Value::Pointer(Some(p)) if normalize => norm.ptrs.get(p).map_or(Cell::Ptr(p), Cell::Str),
        Value::Pointer(p) => Cell::Ptr(p.unwrap_or(0)),
        Value::Str(Some(s)) => Cell::Str(s),
        Value::Str(None) => Cell::Null,
        Value::Char(_) | Value::Float(_) => Cell::Str(f.text(i)),
    }
}

fn eval_cond(c: &Cond, ev: &Event<'_>, fields: Option<&Fields<'_>>) -> bool {
    let operand = match c.field.as_str() {
        "time" => match ev.prefix.time_nanos() {
            Some(ns) => Operand::Nanos(ns),
            None => return false,
        },
        "tid" => match ev.prefix.tid {
            Some(t) => Operand::Int(i128::from(t)),
            None => return false,
        },
        "event" => Operand::Str(ev.name),
        "line" => Operand::Int(i128::from(ev.line.number)),
        "message" => Operand::Str(ev.message),
        name => {
            let Some(f) = fields else { return false };
            let Some(i) = f.index(name) else { return false };
            match f.value(i) {
                Value::Str(Some(s)) => Operand::Str(s),
                Value::Str(None) | Value::Pointer(None) => Operand::Null,
                Value::Float(s) => Operand::Str(s),
                v => match v.as_i128() {
                    Some(x) => Operand::Int(x),
                    None => Operand::Str(f.text(i)),
                },
            }
        }
    };
    c.eval(operand)
}

/// Rewrites an event line (of `input`) with stable tokens for pointers,
/// tids and times; a pointer or tid past the cap of tokens is left as it is.
fn normalized_line(
    norm: &mut Normalizer,
    input: &str,
    ev: &Event<'_>,
    fields: Option<&Fields<'_>>,
    buf: &mut Vec<u8>,
) {
    let place = || format!("{input}:{}", ev.line.number);
    let mut push_tid = |t: u64, buf: &mut Vec<u8>| match norm.tids.token(t, place) {
        Some(token) => buf.extend_from_slice(token),
        None => qtrace_core::write::push_u64(buf, t),
    };
    match ev.prefix.kind {
        PrefixKind::Bare => {}
        PrefixKind::TidTime | PrefixKind::Stap => {
            if let Some(t) = ev.prefix.tid {
                push_tid(t, buf);
            }
            buf.extend_from_slice(if ev.prefix.kind == PrefixKind::Stap {
                b"@T "
            } else {
                b"@T:"
            });
        }
        _ => {
            if let Some(t) = ev.prefix.tid {
                push_tid(t, buf);
                buf.push(b' ');
            }
            buf.extend_from_slice(b"T ");
        }
    }
    buf.extend_from_slice(ev.name);
    buf.push(b' ');
    let msg = ev.message;
    let mut at = 0;
    if let Some(f) = fields {
        for i in 0..f.len() {
            if let Value::Pointer(Some(p)) = f.value(i) {
                let text = f.text(i);
                let start = text.as_ptr() as usize - msg.as_ptr() as usize;
                if start >= at
                    && let Some(token) = norm.ptrs.token(p, place)
                {
                    buf.extend_from_slice(&msg[at..start]);
                    buf.extend_from_slice(token);
                    at = start + text.len();
                }
            }
        }
    }
    buf.extend_from_slice(&msg[at..]);
    buf.push(b'\n');
}

fn list<W: Write>(cat: &Catalog, glob: &str, out: &mut W) -> Result<Status> {
    let mut n = 0;
    for spec in cat.specs_where(|name| glob_match(glob.as_bytes(), name)) {
        n += 1;
        writeln!(out, "{}", spec.declaration())?;
    }
    Ok(Status::from_found(n > 0))
}

fn explain<W: Write>(cat: &Catalog, name: &str, out: &mut W) -> Result<Status> {
    let mut n = 0;
    for spec in cat.specs_for(name.as_bytes()) {
        n += 1;
        writeln!(out, "{}", spec.declaration())?;
        writeln!(out, "  from {}:{}", spec.origin.path, spec.origin.line)?;
        match spec.compiled() {
            Ok(c) => {
                for (name, kind) in c.names().iter().zip(c.kinds()) {
                    writeln!(out, "  {name:<16} {}", kind_text(*kind))?;
                }
            }
            Err(e) => writeln!(out, "  (format cannot be decoded: {e})")?,
        }
    }
    if n == 0 {
        return Err(Error::usage(format!(
            "no catalog declares an event named '{name}' (see --list)"
        )));
    }
    Ok(Status::Found)
}

fn kind_text(k: Kind) -> &'static str {
    match k {
        Kind::Signed => "signed integer (decimal)",
        Kind::Unsigned(Radix::Dec) => "unsigned integer (decimal)",
        Kind::Unsigned(Radix::Hex) => "unsigned integer (hex)",
        Kind::Unsigned(Radix::HexUpper) => "unsigned integer (HEX)",
        Kind::Unsigned(Radix::Oct) => "unsigned integer (octal)",
        Kind::Pointer => "host pointer",
        Kind::Str => "string",
        Kind::Char => "character",
        Kind::Float => "floating-point number (text)",
        Kind::Width => "field width (from *)",
        Kind::Errno => "errno text (%m)",
    }
}
