//! pci-table: the PCI devices a guest saw, from a QEMU trace of
//! `pci_cfg_read` / `pci_cfg_write`.
//!
//! The core turns lines into events and decodes their arguments (both the
//! QEMU ≤ 6.2 `%02u:%u` and the 7.0+ `%02x:%02x.%x` address formats); this
//! tool's one decision is to replay every access into a model of each
//! function's config space ([`function`]) and print what it reveals: lspci
//! lines, details, a bus tree, an lspci-readable dump, records, or the
//! annotated access log. The table holds per-function state only (at most
//! 4 KiB of config space each), whatever the trace's length.

pub mod cli;
pub mod function;
pub mod ids;
pub mod regs;
pub mod render;
pub mod select;
pub mod space;

use std::io::Write;

use qtrace_core::Error;
use qtrace_core::catalog::{Catalog, DigestCache, EventSpecs, Fields, Projection};
use qtrace_core::census::{Census, Family, LookedFor, explain_none, thousands};
use qtrace_core::cli::{Env, Status};
use qtrace_core::error::{EXCERPT_BYTES, excerpt};
use qtrace_core::input::Input;
use qtrace_core::limits::{Limit, Unused, damaged_name_of};
use qtrace_core::scan::{Diag, Event, Record, Scanner};
use qtrace_core::value::{Kind, Radix};
use qtrace_core::write::{Cell, RecordFormat, RecordWriter};
use rustc_hash::FxHashMap;

pub use cli::Args;
use cli::OutputKind;
use function::{Applied, Function, Op, Role, Subsystem};
use ids::Ids;
use render::View;
use select::{IdFilter, SlotFilter};

type Result<T> = qtrace_core::Result<T>;

/// The columns of a table record, in order (CSV header and JSON keys).
pub const TABLE_COLUMNS: &[&str] = &[
    "bdf",
    "qemu_name",
    "vendor_id",
    "device_id",
    "class",
    "revision",
    "subsystem_vendor_id",
    "subsystem_id",
    "header_type",
    "irq_line",
    "irq_pin",
    "vendor_name",
    "device_name",
    "class_name",
    "bars",
];

/// The columns of an access record (`--accesses -o csv|jsonl`).
pub const ACCESS_COLUMNS: &[&str] = &[
    "input",
    "line",
    "time",
    "bdf",
    "qemu_name",
    "op",
    "offset",
    "width",
    "value",
    "register",
    "role",
    "note",
];

/// Distinct functions kept at most: far more than any real machine has, and
/// it bounds memory (at most 8 KiB per function) whatever the input; beyond
/// it new ones are reported at the end and their accesses skipped (see
/// `qtrace_core::limits`).
const MAX_FUNCTIONS: usize = 8192;
/// Bytes of QEMU device names kept at most, over all functions (real names
/// are a few bytes; a damaged trace may print long ones).
const MAX_NAME_BYTES: usize = 16 << 20;

/// Everything resolved from the arguments before reading input.
#[derive(Debug)]
struct Config {
    slot: Option<SlotFilter>,
    id: Option<IdFilter>,
    ids: Ids,
}

impl Config {
    fn resolve(args: &Args) -> Result<Config> {
        if args.output != OutputKind::Lspci && (args.tree || args.dump > 0) {
            return Err(Error::usage(
                "-t and -x print lspci's formats; they cannot be combined with -o",
            ));
        }
        if args.output != OutputKind::Lspci && args.numeric > 0 {
            return Err(Error::usage(
                "-n and -nn choose how lspci-style lines show ids; -o records have both \
                 (vendor_id and vendor_name ...)",
            ));
        }
        if args.no_header && !matches!(args.output, OutputKind::Csv | OutputKind::Tsv) {
            return Err(Error::usage(
                "--no-header is for -o csv and -o tsv (the other formats have no header row)",
            ));
        }
        Ok(Config {
            slot: args.slot.as_deref().map(SlotFilter::parse).transpose()?,
            id: args
                .ids_filter
                .as_deref()
                .map(IdFilter::parse)
                .transpose()?,
            ids: Ids::load(args.ids.as_deref())?.numeric(args.numeric == 1),
        })
    }

    fn selects(&self, f: &Function) -> bool {
        self.slot
            .as_ref()
            .is_none_or(|s| s.matches(f.bus, f.slot, f.func))
            && self
                .id
                .as_ref()
                .is_none_or(|d| d.matches(f.vendor(), f.device(), f.class()))
    }
}

/// The functions seen so far, by address and QEMU name.
#[derive(Debug)]
struct Table {
    funcs: Vec<Function>,
    /// By key: bus, slot and function bytes, then the name (one hash
    /// lookup however many names share an address).
    index: FxHashMap<Box<[u8]>, usize>,
    /// The key being looked up (reused).
    key: Vec<u8>,
    /// The function found last.
    last: Option<usize>,
    old_format: bool,
    empty: u64,
    /// The cap of `funcs`.
    limit: Limit,
}

impl Table {
    fn new(limit: Limit) -> Table {
        Table {
            funcs: Vec::new(),
            index: FxHashMap::default(),
            key: Vec::new(),
            last: None,
            old_format: false,
            empty: 0,
            limit,
        }
    }

    /// The function at `bus:slot.func` named `name`, created on first sight
    /// while the cap allows (`place` says where, for the report).
    fn function(
        &mut self,
        bus: u8,
        slot: u8,
        func: u8,
        in_trace: bool,
        name: &[u8],
        place: impl FnOnce() -> String,
    ) -> Option<usize> {
        // Accesses come in runs to one function: try the last one first.
        if let Some(i) = self.last {
            let f = &self.funcs[i];
            if (f.bus, f.slot, f.func) == (bus, slot, func) && *f.name == *name {
                return Some(i);
            }
        }
        self.key.clear();
        self.key.extend_from_slice(&[bus, slot, func]);
        self.key.extend_from_slice(name);
        if let Some(&i) = self.index.get(&self.key[..]) {
            self.last = Some(i);
            return Some(i);
        }
        if !self.limit.admit_bytes(self.funcs.len(), name.len(), place) {
            return None;
        }
        let i = self.funcs.len();
        self.funcs
            .push(Function::new(bus, slot, func, in_trace, name, i));
        self.index.insert(self.key[..].into(), i);
        self.last = Some(i);
        Some(i)
    }
}

/// One decoded config access.
struct Access<'a> {
    op: Op,
    dev: &'a [u8],
    bus: Option<u8>,
    slot: u8,
    func: u8,
    offset: u64,
    value: u64,
}

/// The config-access events with 64-bit offset and value: tried when a line
/// matches none of the real formats, so that a value or offset too wide for
/// QEMU's `unsigned` is reported as such instead of as an unknown format.
const WIDE_SPECS: &str = r#"
pci_cfg_read(const char *dev, uint32_t bus, uint32_t slot, uint32_t func, uint64_t offs, uint64_t val) "%s %02x:%02x.%x @0x%" PRIx64 " -> 0x%" PRIx64
pci_cfg_write(const char *dev, uint32_t bus, uint32_t slot, uint32_t func, uint64_t offs, uint64_t val) "%s %02x:%02x.%x @0x%" PRIx64 " <- 0x%" PRIx64
pci_cfg_read(const char *dev, unsigned devid, unsigned fnid, uint64_t offs, uint64_t val) "%s %02u:%u @0x%" PRIx64 " -> 0x%" PRIx64
pci_cfg_write(const char *dev, unsigned devid, unsigned fnid, uint64_t offs, uint64_t val) "%s %02u:%u @0x%" PRIx64 " <- 0x%" PRIx64
"#;

/// What decoding an access's message gives: the fields, or why they cannot
/// be used. Kept per message (accesses repeat: a guest probes the same
/// registers of the same functions), so it holds no borrowed text.
#[derive(Debug, Clone)]
struct AccessFields {
    /// Where the device name lies in the message (`None`: printed as NULL).
    dev: Option<std::ops::Range<usize>>,
    bus: Option<u8>,
    slot: u8,
    func: u8,
    offset: u64,
    value: u64,
}

/// Caches and field positions for decoding, per [`Op`] (reads and writes
/// alternate; each keeps its own).
#[derive(Debug)]
struct Scratch {
    /// The catalog's formats, through a cache of decoded messages.
    main: [DigestCache<std::result::Result<AccessFields, String>>; 2],
    /// The 64-bit variants (rare: only for lines no real format matches).
    wide: Vec<qtrace_core::format::Slot>,
    fields: [Projection<6>; 2],
}

impl Default for Scratch {
    fn default() -> Self {
        // The old format (QEMU <= 6.2) has no bus and calls slot and
        // function `devid` and `fnid`.
        let fields = || {
            Projection::new([
                &["dev"],
                &["bus"],
                &["slot", "devid"],
                &["func", "fnid"],
                &["offs", "offset"],
                &["val", "value"],
            ])
        };
        Scratch {
            main: Default::default(),
            wide: Vec::new(),
            fields: [fields(), fields()],
        }
    }
}

/// The specs of one config-access event: the catalog's, then the 64-bit
/// variants.
#[derive(Debug, Clone, Copy)]
struct AccessSpecs<'c> {
    main: Option<EventSpecs<'c>>,
    wide: Option<EventSpecs<'c>>,
}

impl<'c> AccessSpecs<'c> {
    fn new(catalog: &'c Catalog, wide: &'c Catalog, name: &[u8]) -> Self {
        AccessSpecs {
            main: catalog.event(name),
            wide: wide.event(name),
        }
    }
}

fn decode<'a>(
    specs: AccessSpecs<'_>,
    op: Op,
    ev: &Event<'a>,
    scratch: &mut Scratch,
) -> std::result::Result<Access<'a>, String> {
    let name = || excerpt(ev.name, EXCERPT_BYTES);
    let i = op as usize;
    let projection = &mut scratch.fields[i];
    let found = specs
        .main
        .and_then(|s| {
            s.decode_digest(ev.message, &mut scratch.main[i], |f| {
                access_fields(f, projection, ev.name)
            })
        })
        .or_else(|| {
            let f = specs.wide?.decode(ev.message, &mut scratch.wide)?;
            Some(access_fields(&f, projection, ev.name))
        });
    let Some(fields) = found else {
        return Err(format!(
            "{}: '{}' matches no known format of the event (truncated line?); skipped",
            name(),
            excerpt(ev.message, EXCERPT_BYTES)
        ));
    };
    let fields = fields?;
    Ok(Access {
        op,
        dev: fields.dev.map_or(b"(null)", |r| &ev.message[r]),
        bus: fields.bus,
        slot: fields.slot,
        func: fields.func,
        offset: fields.offset,
        value: fields.value,
    })
}

/// The fields of an access from a decoded message of event `event`.
fn access_fields(
    fields: &Fields<'_>,
    projection: &mut Projection<6>,
    event: &[u8],
) -> std::result::Result<AccessFields, String> {
    let name = || excerpt(event, EXCERPT_BYTES);
    let missing = |what: &str| {
        format!(
            "{}: the catalog's format has no {what} argument; skipped",
            name()
        )
    };
    let [dev, bus, slot, func, offset, value] = projection.resolve(fields);
    let is_int = |i: usize| !matches!(fields.kind(i), Kind::Str | Kind::Errno | Kind::Float);
    let num = |i: Option<usize>, what: &str| -> std::result::Result<u64, String> {
        match i {
            Some(i) if is_int(i) => Ok(fields.num(i)),
            _ => Err(missing(what)),
        }
    };
    let dev = match dev {
        Some(i) if matches!(fields.kind(i), Kind::Str | Kind::Errno) => {
            (!fields.is_null(i)).then(|| fields.text_range(i))
        }
        _ => return Err(missing("dev")),
    };
    let bus = match bus {
        Some(_) => Some(num(bus, "bus")?),
        None => None,
    };
    let slot = num(slot, "slot")?;
    let func = num(func, "function")?;
    let offset = num(offset, "offset")?;
    let value = num(value, "value")?;
    let range = |v: u64, max: u64, what: &str| -> std::result::Result<u8, String> {
        if v > max {
            Err(format!(
                "{}: {what} {v} is out of range (at most {max}); skipped",
                name()
            ))
        } else {
            Ok(v as u8)
        }
    };
    Ok(AccessFields {
        dev,
        bus: bus.map(|b| range(b, 0xff, "bus number")).transpose()?,
        slot: range(slot, 0x1f, "slot number")?,
        func: range(func, 7, "function number")?,
        offset,
        value,
    })
}

/// What the run prints while it reads (the access log) or at the end.
enum Sink<W: Write> {
    /// Nothing until the end (the table views).
    Table,
    /// Access lines as text.
    Lines(W),
    /// Access records.
    Records(RecordWriter<W>),
}

struct Run<'r> {
    args: &'r Args,
    cfg: &'r Config,
    table: Table,
    /// Lines that were not events, and events of unknown names.
    unused: Unused,
    printed: u64,
    /// pci_cfg_read / pci_cfg_write events seen.
    accesses: u64,
    line_errors: u64,
    line_buffered: bool,
    buf: Vec<u8>,
}

/// Runs pci-table: reads every input, replays the config accesses, prints.
pub fn run<W: Write>(args: &Args, out: &mut W, env: &mut Env<'_>) -> Result<Status> {
    let cfg = Config::resolve(args)?;
    let catalog = args.input.catalog(env.diag)?;
    let inputs = args.input.inputs()?;
    let mut opts = args.input.scan_options();
    // Only lines containing this can be config accesses.
    opts.prefilter = Some(b"pci_cfg_".to_vec());
    let mut scanner = Scanner::new(&catalog, opts);

    let mut run = Run {
        args,
        cfg: &cfg,
        table: Table::new(
            Limit::new("PCI functions", MAX_FUNCTIONS)?.with_byte_budget(MAX_NAME_BYTES),
        ),
        unused: Unused::new(),
        printed: 0,
        accesses: 0,
        line_errors: 0,
        line_buffered: env.line_buffered,
        buf: Vec::with_capacity(256),
    };
    // Per-line problems are reported as they happen, through the run's Diag.
    let diag: &Diag = env.diag;
    let mut scratch = Scratch::default();
    let mut wide = Catalog::new();
    wide.add_text("<pci-table: 64-bit variants>", WIDE_SPECS);
    let read_specs = AccessSpecs::new(&catalog, &wide, b"pci_cfg_read");
    let write_specs = AccessSpecs::new(&catalog, &wide, b"pci_cfg_write");
    {
        let mut sink: Sink<&mut W> = if !args.accesses {
            Sink::Table
        } else if args.output == OutputKind::Lspci {
            Sink::Lines(&mut *out)
        } else {
            let cols = ACCESS_COLUMNS.iter().map(|s| s.to_string()).collect();
            Sink::Records(with_header(
                RecordWriter::new(record_format(args.output), cols, &mut *out),
                args,
            ))
        };
        scanner.scan_all(&inputs, diag, |info, rec| {
            let ev = match rec {
                Record::Event(ev) => ev,
                Record::Other(_) => {
                    run.unused.other_line();
                    return Ok(true);
                }
            };
            let (specs, op) = if ev.name == b"pci_cfg_read" {
                (read_specs, Op::Read)
            } else if ev.name == b"pci_cfg_write" {
                (write_specs, Op::Write)
            } else {
                if !catalog.knows(ev.name)
                    && let Some(meant) =
                        damaged_name_of(ev.name, [&b"pci_cfg_read"[..], b"pci_cfg_write"])
                {
                    run.unused
                        .damaged_event(info.name, ev.line.number, ev.name, meant);
                }
                return Ok(true);
            };
            run.accesses += 1;
            let acc = match decode(specs, op, &ev, &mut scratch) {
                Ok(a) => a,
                Err(what) => {
                    run.line_error(diag, info.name, ev.line.number, what);
                    return Ok(true);
                }
            };
            run.apply(info.name, &ev, &acc, diag, &mut sink)?;
            Ok(true)
        })?;
        if let Sink::Records(w) = sink {
            w.finish()?;
        }
    }
    if run.table.old_format {
        env.diag.note(
            "the trace is in QEMU <= 6.2's format (slot:function, no bus number): bus 0 is assumed for every function",
        );
    }
    if run.table.empty > 0 {
        env.diag.note(format!(
            "{} access(es) to absent functions (QEMU 8.0+'s 'empty' device) are not in the table",
            run.table.empty
        ));
    }
    run.table.limit.report(env.diag);
    if !args.accesses {
        run.print_table(out)?;
    }
    if run.line_errors > 0 {
        diag.note(format!(
            "{} trace line(s) could not be used (see above); the output is built from the others",
            run.line_errors
        ));
    }
    run.unused.report(diag);
    if run.printed == 0 && diag.errors() == 0 {
        diag.note(run.why_nothing(&catalog, &inputs, scanner.stats.lines));
    }
    Ok(Status::from_found(run.printed > 0))
}

/// The writer, without its header row when `--no-header` says so.
fn with_header<W: Write>(w: RecordWriter<W>, args: &Args) -> RecordWriter<W> {
    if args.no_header {
        w.without_header()
    } else {
        w
    }
}

fn record_format(o: OutputKind) -> RecordFormat {
    match o {
        OutputKind::Csv => RecordFormat::Csv,
        OutputKind::Tsv => RecordFormat::Tsv,
        OutputKind::Jsonl => RecordFormat::Jsonl,
        OutputKind::Text | OutputKind::Lspci => RecordFormat::Text,
    }
}

impl Run<'_> {
    /// Why nothing was listed (the run had no error to say it).
    fn why_nothing(&self, catalog: &Catalog, inputs: &[Input], lines: u64) -> String {
        if self.accesses == 0 {
            let looked = LookedFor {
                family: Family::Pci,
                what: "pci_cfg_read/pci_cfg_write events",
                enable: "enable them with -d 'trace:pci_cfg_*'",
            };
            let census = Census::take(catalog, inputs, self.args.input.scan_options().max_line);
            return explain_none(&looked, inputs.len(), lines, census.as_ref());
        }
        let funcs = &self.table.funcs;
        let accesses = thousands(self.accesses);
        if funcs.is_empty() {
            return format!("no function to list from {accesses} config access(es)");
        }
        let mut filters = Vec::new();
        if let Some(s) = &self.args.slot {
            filters.push(format!("-s {s}"));
        }
        if let Some(d) = &self.args.ids_filter {
            filters.push(format!("-d {d}"));
        }
        let selected = funcs.iter().filter(|f| self.cfg.selects(f)).count();
        if selected > 0 && self.args.writes_only {
            return format!(
                "no write to the {selected} selected function(s) among {accesses} config access(es)"
            );
        }
        let mut order: Vec<&Function> = funcs.iter().collect();
        order.sort_by_key(|f| (f.bus, f.slot, f.func, f.seen));
        let shown: Vec<String> = order.iter().take(8).map(|f| f.bdf()).collect();
        let more = if order.len() > 8 { ", ..." } else { "" };
        format!(
            "no function matches {} (the trace has {}: {}{more})",
            filters.join(" "),
            order.len(),
            shown.join(", ")
        )
    }

    fn line_error(&mut self, diag: &Diag, input: &str, line: u64, what: String) {
        self.line_errors += 1;
        diag.error(&Error::Line {
            input: input.to_string(),
            line,
            what,
        });
    }

    fn apply<W: Write>(
        &mut self,
        input: &str,
        ev: &Event<'_>,
        acc: &Access<'_>,
        diag: &Diag,
        sink: &mut Sink<&mut W>,
    ) -> Result<()> {
        let line = ev.line.number;
        if acc.dev == b"empty" {
            self.table.empty += 1;
            return Ok(());
        }
        if acc.bus.is_none() {
            self.table.old_format = true;
        }
        let Some(i) = self.table.function(
            acc.bus.unwrap_or(0),
            acc.slot,
            acc.func,
            acc.bus.is_some(),
            acc.dev,
            || format!("{input}:{line}"),
        ) else {
            return Ok(());
        };
        let f = &mut self.table.funcs[i];
        let applied = match f.access(acc.op, acc.offset, acc.value) {
            Ok(a) => a,
            Err(what) => {
                let what = format!("{} {}: {what}", f.bdf(), excerpt(acc.dev, EXCERPT_BYTES));
                self.line_error(diag, input, line, what);
                return Ok(());
            }
        };
        if let Some((o, before, now)) = applied.changed {
            diag.warn(format_args!(
                "{input}:{line}: {} {}: read-only byte 0x{o:02x} reads 0x{now:02x}, earlier 0x{before:02x} \
                 (another device at this address?)",
                f.bdf(),
                excerpt(acc.dev, EXCERPT_BYTES)
            ));
        }
        if f.first_line == 0 {
            f.first_line = line;
        }
        f.last_line = line;
        let f = &self.table.funcs[i];
        if !self.args.accesses
            || (self.args.writes_only && acc.op == Op::Read)
            || !self.cfg.selects(f)
        {
            return Ok(());
        }
        self.printed += 1;
        let off = acc.offset as usize;
        let caps = f.caps();
        let width = usize::from(applied.width.min);
        // Before the guest reads the header type, the class tells the layout.
        let layout = f
            .layout()
            .or_else(|| f.class16().map(regs::layout_for_class));
        let msi64 = f.msi64(&caps);
        let register = regs::register_name(layout, &caps.caps, msi64, off, width);
        // Values print as wide as the register they start, when the access
        // can have been that wide.
        let shown = regs::register_width(layout, &caps.caps, msi64, off)
            .filter(|&w| w > width && w <= usize::from(applied.width.max))
            .unwrap_or(width);
        let note = access_note(f, &caps, off, acc.value as u32, applied, &register);
        match sink {
            Sink::Table => {}
            Sink::Lines(out) => {
                let b = &mut self.buf;
                b.clear();
                if self.args.verbose > 0 {
                    let _ = write!(b, "{input}:{line}: ");
                }
                let _ = write!(b, "{} @0x{off:02x} {register}", f.bdf());
                match applied.role {
                    Role::Probe => b.extend_from_slice(b" probe"),
                    Role::Sizing => b.extend_from_slice(b" sizing"),
                    Role::Restore => b.extend_from_slice(b" restore"),
                    Role::Plain => {}
                }
                let arrow = if acc.op == Op::Read { "->" } else { "<-" };
                let _ = write!(b, " {arrow} 0x{:0w$x}", acc.value, w = 2 * shown);
                if !note.is_empty() {
                    let _ = write!(b, " ({note})");
                }
                if self.args.verbose > 0 {
                    b.extend_from_slice(b" {");
                    b.extend_from_slice(&f.name);
                    b.push(b'}');
                }
                b.push(b'\n');
                out.write_all(b)?;
                if self.line_buffered {
                    out.flush()?;
                }
            }
            Sink::Records(w) => {
                let bdf = f.bdf();
                let role = match applied.role {
                    Role::Probe => Cell::Str(b"probe"),
                    Role::Sizing => Cell::Str(b"sizing"),
                    Role::Restore => Cell::Str(b"restore"),
                    Role::Plain => Cell::Null,
                };
                w.row(&[
                    Cell::Str(input.as_bytes()),
                    Cell::UInt(line, Radix::Dec),
                    ev.prefix.time.map_or(Cell::Null, Cell::Str),
                    Cell::Str(bdf.as_bytes()),
                    Cell::Str(&f.name),
                    Cell::Str(if acc.op == Op::Read {
                        b"read"
                    } else {
                        b"write"
                    }),
                    Cell::UInt(acc.offset, Radix::Hex),
                    if applied.width.is_exact() {
                        Cell::UInt(u64::from(applied.width.min), Radix::Dec)
                    } else {
                        Cell::Null
                    },
                    Cell::UInt(acc.value, Radix::Hex),
                    Cell::Str(register.as_bytes()),
                    role,
                    if note.is_empty() {
                        Cell::Null
                    } else {
                        Cell::Str(note.as_bytes())
                    },
                ])?;
                if self.line_buffered {
                    w.flush()?;
                }
            }
        }
        Ok(())
    }

    fn print_table<W: Write>(&mut self, out: &mut W) -> Result<()> {
        let mut order: Vec<&Function> = self.table.funcs.iter().collect();
        order.sort_by_key(|f| (f.bus, f.slot, f.func, f.seen));
        let ids = &self.cfg.ids;
        let verbose = self.args.verbose > 0;
        let mut buf = Vec::with_capacity(4096);
        if self.args.tree {
            // The tree is built from every function; the selection picks
            // what is drawn (lspci's way), so bridges above stay in place.
            let selected: Vec<bool> = order.iter().map(|f| self.cfg.selects(f)).collect();
            self.printed = selected.iter().filter(|&&s| s).count() as u64;
            let views: Vec<View<'_>> = order.into_iter().map(View::new).collect();
            render::tree(&views, &selected, ids, verbose, &mut buf);
            out.write_all(&buf)?;
            return Ok(());
        }
        let views: Vec<View<'_>> = order
            .into_iter()
            .filter(|f| self.cfg.selects(f))
            .map(View::new)
            .collect();
        self.printed = views.len() as u64;
        if self.args.output != OutputKind::Lspci {
            return write_records(self.args, self.args.output, &views, ids, out);
        }
        for v in &views {
            buf.clear();
            if self.args.dump > 0 {
                if verbose {
                    // Details as comments, so lspci -F still reads the file.
                    let mut details = Vec::new();
                    render::lspci_line(v, ids, true, &mut details);
                    render::verbose_block(v, ids, &mut details);
                    let mut block = Vec::new();
                    render::dump_block(v, ids, self.args.dump, &mut block);
                    let mut lines = block.splitn(2, |&b| b == b'\n');
                    buf.extend_from_slice(lines.next().unwrap_or(&[]));
                    buf.push(b'\n');
                    let details = details.splitn(2, |&b| b == b'\n').nth(1).unwrap_or(&[]);
                    render::comment_lines(details, &mut buf);
                    buf.extend_from_slice(lines.next().unwrap_or(&[]));
                } else {
                    render::dump_block(v, ids, self.args.dump, &mut buf);
                }
            } else {
                render::lspci_line(v, ids, verbose, &mut buf);
                if verbose {
                    render::verbose_block(v, ids, &mut buf);
                }
            }
            out.write_all(&buf)?;
        }
        Ok(())
    }
}

/// A note for the access log: decoded bits, sizes, what a header byte says.
fn access_note(
    f: &Function,
    caps: &function::CapWalk,
    off: usize,
    value: u32,
    a: Applied,
    register: &str,
) -> String {
    if a.role == Role::Sizing {
        return sizing_note(f, off, value);
    }
    if a.role == Role::Probe {
        return String::new();
    }
    let starts = |name: &str| register.split('+').next() == Some(name);
    if starts("COMMAND") {
        return regs::command_bits(value & 0xffff);
    }
    if starts("HEADER_TYPE") {
        let t = value as u8;
        let mf = if t & 0x80 != 0 { ", multifunction" } else { "" };
        return match regs::Layout::from_header_type(t) {
            Some(l) => format!("type {} {}{mf}", l.number(), l.describe()),
            None => format!("type 0x{:02x}{mf}", t & 0x7f),
        };
    }
    if starts("INTERRUPT_PIN") {
        return match value as u8 {
            0 => "none".to_string(),
            p @ 1..=4 => format!("INT{}", char::from(b'A' + p - 1)),
            _ => "invalid".to_string(),
        };
    }
    if let Some(c) = caps.caps.iter().find(|c| c.offset == off) {
        let name = if c.extended {
            regs::ecap_name(c.id)
        } else {
            regs::cap_name(c.id)
        };
        return name.to_string();
    }
    String::new()
}

fn sizing_note(f: &Function, off: usize, mask: u32) -> String {
    let layout = f.layout();
    if layout.and_then(regs::Layout::rom_offset) == Some(off) {
        return match mask & 0xffff_f800 {
            0 => "no ROM".to_string(),
            m => regs::human_size(1 << m.trailing_zeros()),
        };
    }
    if mask == 0 {
        return "not implemented".to_string();
    }
    // The upper half of a 64-bit BAR reads back without flag bits.
    let bar = f.bars().into_iter().find(|b| b.offset == off);
    match bar {
        Some(b) => b
            .size
            .map_or_else(|| "size in the upper half".to_string(), regs::human_size),
        None => {
            if f.bars().iter().any(|b| b.offset + 4 == off) {
                "upper half".to_string()
            } else {
                format!("mask 0x{mask:08x}")
            }
        }
    }
}

/// Writes one record per function.
fn write_records<W: Write>(
    args: &Args,
    kind: OutputKind,
    views: &[View<'_>],
    ids: &Ids,
    out: &mut W,
) -> Result<()> {
    let cols: Vec<String> = TABLE_COLUMNS.iter().map(|s| s.to_string()).collect();
    let json = kind == OutputKind::Jsonl;
    let mut w = with_header(
        RecordWriter::new(record_format(kind), cols, &mut *out),
        args,
    );
    for v in views {
        let f = v.f;
        let bdf = f.bdf();
        // Without the header type the BAR registers cannot be told apart.
        let bars = f.layout().map(|_| f.bars());
        let compact = bars.as_deref().map(|b| {
            if json {
                render::bars_json(b)
            } else {
                render::bars_compact(b)
            }
        });
        let (sv, sd) = match f.subsystem(&v.caps) {
            Subsystem::Known(a, b) => (Some(a), Some(b)),
            _ => (None, None),
        };
        let vendor_name = f.vendor().and_then(|x| ids.vendor(x));
        let device_name = match (f.vendor(), f.device()) {
            (Some(a), Some(b)) => ids.device(a, b),
            _ => None,
        };
        let class_name = f.class16().and_then(|c| ids.class_name(c));
        let num = |x: Option<u64>, r| x.map_or(Cell::Null, |x| Cell::UInt(x, r));
        fn text(x: Option<&str>) -> Cell<'_> {
            x.map_or(Cell::Null, |s| Cell::Str(s.as_bytes()))
        }
        let cells = [
            Cell::Str(bdf.as_bytes()),
            Cell::Str(&f.name),
            num(f.vendor().map(u64::from), Radix::Hex),
            num(f.device().map(u64::from), Radix::Hex),
            num(f.class().map(u64::from), Radix::Hex),
            num(f.revision().map(u64::from), Radix::Hex),
            num(sv.map(u64::from), Radix::Hex),
            num(sd.map(u64::from), Radix::Hex),
            num(f.layout().map(|l| u64::from(l.number())), Radix::Dec),
            num(f.irq_line().map(u64::from), Radix::Dec),
            num(f.irq_pin().map(u64::from), Radix::Dec),
            text(vendor_name),
            text(device_name),
            text(class_name),
            match (&compact, json) {
                (None, _) => Cell::Null,
                (Some(j), true) => Cell::Json(j.as_bytes()),
                (Some(c), false) => Cell::Str(c.as_bytes()),
            },
        ];
        w.row(&cells)?;
    }
    w.finish()?;
    Ok(())
}
