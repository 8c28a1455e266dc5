//! What dma-sectors prints: requests as they are found, or per-disk
//! aggregates (extents, summaries, the terminal map) at the end.
//!
//! Sector columns are in `--sector-size` units: `sector` is the byte offset
//! divided by it (rounded down), `sectors` the number of sectors the request
//! touches (so an unaligned request covers every sector it overlaps);
//! `offset` and `bytes` are exact. Aggregates keep per-disk state only:
//! counters, and for `--extents`/`--map` a map of request boundaries per
//! direction (memory grows with the number of distinct boundaries, not with
//! the trace, up to [`MAX_BOUNDARIES`] over every disk; past it a request
//! that would add one is left out of the extents and the map, and the run
//! says so and exits 2; see `qtrace_core::limits`).

use std::collections::BTreeMap;
use std::io::Write;

use qtrace_core::limits::Limit;
use qtrace_core::scan::Diag;
use qtrace_core::value::Radix;
use qtrace_core::write::{Cell, RecordFormat, RecordWriter, decimal_digits, push_seconds};

use crate::cli::{Config, Mode, OutputKind};
use crate::decode::{Ctrl, Op};
use crate::plot::{Plot, Point};
use crate::track::{Disks, Request, Sink};

type Result<T> = qtrace_core::Result<T>;

/// Columns of the per-request records.
pub const REQUEST_COLUMNS: &[&str] = &[
    "time",
    "tid",
    "disk",
    "controller",
    "op",
    "sector",
    "sectors",
    "offset",
    "bytes",
    "source",
    "origin",
];

/// Columns of `--extents` records.
pub const EXTENT_COLUMNS: &[&str] = &[
    "disk",
    "controller",
    "op",
    "sector",
    "sectors",
    "offset",
    "bytes",
    "requests",
    "depth",
    "origin",
];

/// Columns of `--summary` records.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "disk",
    "controller",
    "ptr",
    "requests",
    "reads",
    "writes",
    "read_bytes",
    "write_bytes",
    "unknown_length",
    "min_bytes",
    "avg_bytes",
    "max_bytes",
    "sequential",
    "sequential_pct",
    "seeks",
    "seek_min",
    "seek_avg",
    "seek_max",
    "first_time",
    "last_time",
    "latency_count",
    "latency_min",
    "latency_avg",
    "latency_max",
    "qemu_requests",
    "qemu_bytes",
];

/// Sectors `[start, end)` of a request, when its length is known.
#[inline]
pub fn sector_range(offset: u64, bytes: Option<u64>, ss: u64) -> (u64, Option<u64>) {
    if ss.is_power_of_two() {
        // The usual sizes, without a division.
        let k = ss.trailing_zeros();
        let start = offset >> k;
        let end = bytes.map(|b| {
            let e = offset.saturating_add(b);
            (e >> k) + u64::from(e & (ss - 1) != 0)
        });
        return (start, end);
    }
    let start = offset / ss;
    let end = bytes.map(|b| offset.saturating_add(b).div_ceil(ss));
    (start, end)
}

/// Boundaries of the requests of one disk and direction: at each sector,
/// how many requests start and end there.
type Bounds = BTreeMap<u64, (u64, u64)>;

/// Request boundaries `--extents` and `--map` keep at most, over every disk
/// and direction (a request adds two when it starts and ends where no other
/// did; each costs about 60 bytes). Real traces hold thousands.
pub const MAX_BOUNDARIES: usize = 1_000_000;

/// The `origin` of a request or extent.
fn origin_name(qemu: bool) -> &'static [u8] {
    if qemu { b"qemu" } else { b"guest" }
}

#[derive(Debug, Default)]
struct DiskStats {
    requests: u64,
    reads: u64,
    writes: u64,
    read_bytes: u64,
    write_bytes: u64,
    sized: u64,
    min_bytes: Option<u64>,
    max_bytes: u64,
    sum_bytes: u128,
    unknown_len: u64,
    prev_end: Option<u64>,
    followers: u64,
    sequential: u64,
    seeks: u64,
    seek_min: Option<u64>,
    seek_max: u64,
    seek_sum: u128,
    first_time: Option<Vec<u8>>,
    first_ns: Option<i64>,
    last_time: Option<Vec<u8>>,
    last_ns: Option<i64>,
    lat_n: u64,
    lat_min: Option<i64>,
    lat_max: i64,
    lat_sum: i128,
    /// The guest's reads and writes, then QEMU's own (see `op_index`).
    bounds: [Bounds; 4],
    max_end: u64,
    /// QEMU's own requests (not in the counts above).
    qemu_requests: u64,
    qemu_bytes: u64,
}

impl DiskStats {
    fn latency(&mut self, ns: i64) {
        self.lat_n += 1;
        self.lat_min = Some(self.lat_min.map_or(ns, |m| m.min(ns)));
        self.lat_max = self.lat_max.max(ns);
        self.lat_sum += i128::from(ns);
    }
}

enum Out<W: Write> {
    Text(W),
    Records(RecordWriter<W>),
}

/// The [`Sink`] that prints and aggregates.
pub struct Report<'c, W: Write> {
    cfg: &'c Config,
    out: Out<W>,
    line_buffered: bool,
    stats: Vec<DiskStats>,
    need_bounds: bool,
    origin: Option<i64>,
    columns: Option<(bool, bool)>,
    plot: Option<Plot>,
    /// Keys in every disk's [`Bounds`].
    boundaries: usize,
    /// The cap of `boundaries`.
    bounds_limit: Limit,
    /// The inputs' names, for the places in reports of the caps.
    inputs: Vec<String>,
    /// Requests reported.
    pub requests: u64,
    buf: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for Report<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

fn record_format(o: OutputKind) -> Option<RecordFormat> {
    match o {
        OutputKind::Text => None,
        OutputKind::Csv => Some(RecordFormat::Csv),
        OutputKind::Tsv => Some(RecordFormat::Tsv),
        OutputKind::Jsonl => Some(RecordFormat::Jsonl),
    }
}

fn op_index(op: Op) -> usize {
    match op {
        Op::Read => 0,
        Op::Write => 1,
    }
}

/// Where the boundaries of a direction and origin are in `DiskStats::bounds`.
fn bounds_index(op: Op, qemu: bool) -> usize {
    op_index(op) + if qemu { 2 } else { 0 }
}

impl<'c, W: Write> Report<'c, W> {
    /// A report as `cfg` asks, writing to `out`.
    pub fn new(cfg: &'c Config, out: W, line_buffered: bool) -> Self {
        let columns = match cfg.mode {
            Mode::Requests => REQUEST_COLUMNS,
            Mode::Extents => EXTENT_COLUMNS,
            Mode::Summary => SUMMARY_COLUMNS,
            Mode::Map | Mode::PlotOnly => &[],
        };
        let out = match record_format(cfg.output) {
            Some(f) if !matches!(cfg.mode, Mode::Map | Mode::PlotOnly) => {
                let w = RecordWriter::new(f, columns.iter().map(|c| c.to_string()).collect(), out);
                Out::Records(if cfg.no_header { w.without_header() } else { w })
            }
            _ => Out::Text(out),
        };
        Report {
            cfg,
            out,
            line_buffered,
            stats: Vec::new(),
            need_bounds: matches!(cfg.mode, Mode::Extents | Mode::Map),
            origin: None,
            columns: None,
            plot: cfg.plot.as_ref().map(|_| Plot::default()),
            boundaries: 0,
            // A malformed QTRACE_MAX_KEYS is reported by `run` before any
            // input is read; here it means the default.
            bounds_limit: Limit::with_cap(
                "request boundaries",
                qtrace_core::limits::cap_override()
                    .ok()
                    .flatten()
                    .unwrap_or(MAX_BOUNDARIES),
            )
            .with_effect("the requests that would add one are left out of the extents and the map"),
            inputs: Vec::new(),
            requests: 0,
            buf: Vec::with_capacity(256),
        }
    }

    /// Names the inputs (by index), for the reports of the caps.
    pub fn set_input_names(&mut self, names: Vec<String>) {
        self.inputs = names;
    }

    /// Reports what the extent map and the plot did not take (as errors:
    /// exit status 2).
    pub fn report_limits(&self, diag: &Diag) {
        self.bounds_limit.report(diag);
        if let Some(p) = &self.plot {
            p.report_limit(diag);
        }
    }

    /// The time relative times count from (the first timestamped event).
    pub fn set_origin(&mut self, ns: i64) {
        if self.origin.is_none() {
            self.origin = Some(ns);
        }
    }

    fn stats_mut(&mut self, disk: usize) -> &mut DiskStats {
        if self.stats.len() <= disk {
            self.stats.resize_with(disk + 1, DiskStats::default);
        }
        &mut self.stats[disk]
    }

    /// The request's time in nanoseconds when the output shows it
    /// (`--relative`; otherwise the text is printed and it is not parsed).
    fn request_ns(&self, r: &Request<'_>) -> Option<i64> {
        if self.cfg.relative {
            r.meta.time_ns()
        } else {
            None
        }
    }

    fn time_cell<'a>(&self, text: Option<&'a [u8]>, ns: Option<i64>) -> Cell<'a> {
        time_cell(self.cfg.relative, self.origin, text, ns)
    }

    fn push_time_text(&mut self, text: Option<&[u8]>, ns: Option<i64>) {
        let cell = self.time_cell(text, ns);
        match cell {
            Cell::Seconds(v) => push_seconds(&mut self.buf, v),
            Cell::Str(s) => self.buf.extend_from_slice(s),
            _ => self.buf.push(b'-'),
        }
    }

    fn flush_line(&mut self) -> Result<()> {
        if self.line_buffered {
            match &mut self.out {
                Out::Text(w) => w.flush()?,
                Out::Records(w) => w.flush()?,
            }
        }
        Ok(())
    }

    fn write_request(&mut self, r: &Request<'_>, disks: &Disks) -> Result<()> {
        let ss = self.cfg.sector_size;
        let (sector, end) = sector_range(r.offset, r.bytes, ss);
        let sectors = end.map(|e| e - sector);
        let disk = disks.get(r.disk);
        let ctrl = r.ctrl.map(|c| c.name());
        match &mut self.out {
            Out::Records(_) => {
                let time = self.time_cell(r.meta.time.as_deref(), self.request_ns(r));
                let cells = [
                    time,
                    r.meta.tid.map_or(Cell::Null, |t| Cell::UInt(t, Radix::Dec)),
                    Cell::Str(disk.name.as_bytes()),
                    ctrl.map_or(Cell::Null, |c| Cell::Str(c.as_bytes())),
                    r.op.map_or(Cell::Null, |o| Cell::Str(o.name().as_bytes())),
                    Cell::UInt(sector, Radix::Dec),
                    sectors.map_or(Cell::Null, |s| Cell::UInt(s, Radix::Dec)),
                    Cell::UInt(r.offset, Radix::Dec),
                    r.bytes.map_or(Cell::Null, |b| Cell::UInt(b, Radix::Dec)),
                    Cell::Str(r.source.as_bytes()),
                    Cell::Str(origin_name(r.qemu)),
                ];
                if let Out::Records(w) = &mut self.out {
                    w.row(&cells)?;
                }
            }
            Out::Text(_) => {
                // The time and tid columns are there when the first request
                // has them (a trace has a prefix on every line or on none).
                let (has_time, has_tid) = *self
                    .columns
                    .get_or_insert((r.meta.time.is_some(), r.meta.tid.is_some()));
                self.buf.clear();
                if has_time {
                    let start = self.buf.len();
                    let ns = self.request_ns(r);
                    self.push_time_text(r.meta.time.as_deref(), ns);
                    pad_to(&mut self.buf, start, 17);
                    self.buf.push(b' ');
                }
                // `{tid:>7} {disk:<6} {ctrl:<6} {R|W} {sector:>10} +
                // {sectors:<6} {bytes:>8} {source}`, without going through
                // `fmt`.
                let buf = &mut self.buf;
                if has_tid {
                    num_right::<7>(buf, r.meta.tid, b'-');
                    buf.push(b' ');
                }
                let name = disk.name.as_str();
                let width = if name.is_ascii() {
                    name.len()
                } else {
                    name.chars().count()
                };
                pad_left(buf, name.as_bytes(), width, 6);
                buf.push(b' ');
                buf.extend_from_slice(ctrl_column(r.ctrl));
                buf.extend_from_slice(&[r.op.map_or(b'?', |o| o.letter() as u8), b' ']);
                num_right::<10>(buf, Some(sector), b'?');
                buf.extend_from_slice(b" + ");
                num_left::<6>(buf, sectors, b'?');
                buf.push(b' ');
                num_right::<8>(buf, r.bytes, b'?');
                buf.push(b' ');
                buf.extend_from_slice(r.source.as_bytes());
                if r.qemu {
                    buf.extend_from_slice(b" qemu");
                }
                buf.push(b'\n');
                if let Out::Text(w) = &mut self.out {
                    w.write_all(&self.buf)?;
                }
            }
        }
        self.flush_line()
    }

    fn account(&mut self, r: &Request<'_>) {
        let ss = self.cfg.sector_size;
        let need_bounds = self.need_bounds;
        let (start, end) = sector_range(r.offset, r.bytes, ss);
        self.stats_mut(r.disk);
        let Report {
            stats,
            boundaries,
            bounds_limit,
            inputs,
            ..
        } = self;
        let s = &mut stats[r.disk];
        if r.qemu {
            // Apart from the guest's: counted, and its own extents.
            s.qemu_requests += 1;
            s.qemu_bytes = s.qemu_bytes.saturating_add(r.bytes.unwrap_or(0));
            if let (Some(end), Some(op), true) = (end, r.op, need_bounds)
                && end > start
            {
                let b = &mut s.bounds[bounds_index(op, true)];
                let new = usize::from(!b.contains_key(&start)) + usize::from(!b.contains_key(&end));
                if new == 0
                    || bounds_limit.admit_many(*boundaries, new, || request_place(inputs, r))
                {
                    *boundaries += new;
                    b.entry(start).or_default().0 += 1;
                    b.entry(end).or_default().1 += 1;
                }
            }
            return;
        }
        s.requests += 1;
        match r.op {
            Some(Op::Read) => {
                s.reads += 1;
                s.read_bytes = s.read_bytes.saturating_add(r.bytes.unwrap_or(0));
            }
            Some(Op::Write) => {
                s.writes += 1;
                s.write_bytes = s.write_bytes.saturating_add(r.bytes.unwrap_or(0));
            }
            None => {}
        }
        match r.bytes {
            Some(b) => {
                s.sized += 1;
                s.min_bytes = Some(s.min_bytes.map_or(b, |m| m.min(b)));
                s.max_bytes = s.max_bytes.max(b);
                s.sum_bytes += u128::from(b);
            }
            None => s.unknown_len += 1,
        }
        if let Some(prev) = s.prev_end {
            s.followers += 1;
            let dist = start.abs_diff(prev);
            if dist == 0 {
                s.sequential += 1;
            } else {
                s.seeks += 1;
                s.seek_min = Some(s.seek_min.map_or(dist, |m| m.min(dist)));
                s.seek_max = s.seek_max.max(dist);
                s.seek_sum += u128::from(dist);
            }
        }
        s.prev_end = end;
        let time = r.meta.time.as_deref();
        if let Some(ns) = r.meta.time_ns() {
            if s.first_ns.is_none() {
                s.first_ns = Some(ns);
                set_text(&mut s.first_time, time);
            }
            s.last_ns = Some(ns);
            set_text(&mut s.last_time, time);
        } else if s.first_time.is_none() && time.is_some() {
            set_text(&mut s.first_time, time);
            set_text(&mut s.last_time, time);
        } else if time.is_some() {
            set_text(&mut s.last_time, time);
        }
        if let Some(l) = r.latency {
            s.latency(l);
        }
        if let (Some(end), Some(op)) = (end, r.op)
            && end > start
        {
            // A request is taken whole or not at all: a start without its
            // end would spoil every extent after it. One left out does not
            // widen the map either.
            let taken = !need_bounds || {
                let b = &mut s.bounds[bounds_index(op, false)];
                let new = usize::from(!b.contains_key(&start)) + usize::from(!b.contains_key(&end));
                let taken = new == 0
                    || bounds_limit.admit_many(*boundaries, new, || request_place(inputs, r));
                if taken {
                    *boundaries += new;
                    b.entry(start).or_default().0 += 1;
                    b.entry(end).or_default().1 += 1;
                }
                taken
            };
            if taken {
                s.max_end = s.max_end.max(end);
            }
        }
    }

    /// Writes the end-of-run output (extents, summary, map, plot) and
    /// flushes.
    pub fn finish(mut self, disks: &Disks) -> Result<W> {
        match self.cfg.mode {
            Mode::Requests => {}
            Mode::Extents => self.write_extents(disks)?,
            Mode::Summary => self.write_summary(disks)?,
            Mode::Map => self.write_map(disks)?,
            Mode::PlotOnly => {}
        }
        if let (Some(plot), Some((file, path))) = (self.plot.take(), &self.cfg.plot) {
            plot.write(file, path, disks, self.origin)?;
        }
        match self.out {
            Out::Text(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Out::Records(w) => w.finish(),
        }
    }

    fn write_extents(&mut self, disks: &Disks) -> Result<()> {
        let ss = self.cfg.sector_size;
        let stats = std::mem::take(&mut self.stats);
        for (i, s) in stats.iter().enumerate() {
            let disk = disks.get(i);
            let ctrl = disk.ctrl.map(|c| c.name());
            for (op, qemu) in [
                (Op::Read, false),
                (Op::Write, false),
                (Op::Read, true),
                (Op::Write, true),
            ] {
                for e in sweep(&s.bounds[bounds_index(op, qemu)]) {
                    let sectors = e.end - e.start;
                    let offset = e.start.saturating_mul(ss);
                    let bytes = sectors.saturating_mul(ss);
                    match &mut self.out {
                        Out::Records(w) => w.row(&[
                            Cell::Str(disk.name.as_bytes()),
                            ctrl.map_or(Cell::Null, |c| Cell::Str(c.as_bytes())),
                            Cell::Str(op.name().as_bytes()),
                            Cell::UInt(e.start, Radix::Dec),
                            Cell::UInt(sectors, Radix::Dec),
                            Cell::UInt(offset, Radix::Dec),
                            Cell::UInt(bytes, Radix::Dec),
                            Cell::UInt(e.requests, Radix::Dec),
                            Cell::UInt(e.depth, Radix::Dec),
                            Cell::Str(origin_name(qemu)),
                        ])?,
                        Out::Text(w) => writeln!(
                            w,
                            "{:<6} {:<6} {} {:>10} + {:<6} {:>10} bytes  {:>5} request{}, depth {}{}",
                            disk.name,
                            ctrl.unwrap_or("-"),
                            op.letter(),
                            e.start,
                            sectors,
                            bytes,
                            e.requests,
                            if e.requests == 1 { "" } else { "s" },
                            e.depth,
                            if qemu { " qemu" } else { "" }
                        )?,
                    }
                }
            }
        }
        self.stats = stats;
        Ok(())
    }

    fn write_summary(&mut self, disks: &Disks) -> Result<()> {
        let stats = std::mem::take(&mut self.stats);
        for (i, disk) in disks.list().iter().enumerate() {
            let empty = DiskStats::default();
            let s = stats.get(i).unwrap_or(&empty);
            let avg = (s.sized > 0).then(|| round_div(s.sum_bytes, u128::from(s.sized)));
            let seek_avg = (s.seeks > 0).then(|| round_div(s.seek_sum, u128::from(s.seeks)));
            let seq_pct = (s.followers > 0).then(|| {
                // Fixed point with 6 decimals, as a number (see Cell::Seconds).
                (u128::from(s.sequential) * 100_000_000_000 / u128::from(s.followers)) as i64
            });
            let lat_avg = (s.lat_n > 0).then(|| (s.lat_sum / i128::from(s.lat_n)) as i64);
            let ctrl = disk.ctrl.map(|c| c.name());
            let ptr = disk.ptr();
            match &mut self.out {
                Out::Records(w) => {
                    let u = |v: u64| Cell::UInt(v, Radix::Dec);
                    let ou = |v: Option<u64>| v.map_or(Cell::Null, |v| Cell::UInt(v, Radix::Dec));
                    let (origin, relative) = (self.origin, self.cfg.relative);
                    let time = |text, ns| time_cell(relative, origin, text, ns);
                    w.row(&[
                        Cell::Str(disk.name.as_bytes()),
                        ctrl.map_or(Cell::Null, |c| Cell::Str(c.as_bytes())),
                        ptr.map_or(Cell::Null, Cell::Ptr),
                        u(s.requests),
                        u(s.reads),
                        u(s.writes),
                        u(s.read_bytes),
                        u(s.write_bytes),
                        u(s.unknown_len),
                        ou(s.min_bytes),
                        ou(avg),
                        ou((s.sized > 0).then_some(s.max_bytes)),
                        u(s.sequential),
                        seq_pct.map_or(Cell::Null, Cell::Seconds),
                        u(s.seeks),
                        ou(s.seek_min),
                        ou(seek_avg),
                        ou((s.seeks > 0).then_some(s.seek_max)),
                        time(s.first_time.as_deref(), s.first_ns),
                        time(s.last_time.as_deref(), s.last_ns),
                        u(s.lat_n),
                        s.lat_min.map_or(Cell::Null, Cell::Seconds),
                        lat_avg.map_or(Cell::Null, Cell::Seconds),
                        (s.lat_n > 0)
                            .then_some(s.lat_max)
                            .map_or(Cell::Null, Cell::Seconds),
                        u(s.qemu_requests),
                        u(s.qemu_bytes),
                    ])?;
                }
                Out::Text(_) => {
                    let mut t = String::new();
                    use std::fmt::Write as _;
                    let _ = write!(t, "{}  {}", disk.name, ctrl.unwrap_or("unknown controller"));
                    if let Some(p) = ptr {
                        let _ = write!(t, "  0x{p:x}");
                    }
                    t.push('\n');
                    let _ = writeln!(
                        t,
                        "  requests    {} ({} reads, {} writes{})",
                        s.requests,
                        s.reads,
                        s.writes,
                        if s.unknown_len > 0 {
                            format!(", {} of unknown length", s.unknown_len)
                        } else {
                            String::new()
                        }
                    );
                    let _ = writeln!(
                        t,
                        "  bytes       {} read ({}), {} written ({})",
                        s.read_bytes,
                        human(s.read_bytes),
                        s.write_bytes,
                        human(s.write_bytes)
                    );
                    if let (Some(min), Some(avg)) = (s.min_bytes, avg) {
                        let _ = writeln!(
                            t,
                            "  size        min {min}, avg {avg}, max {} bytes",
                            s.max_bytes
                        );
                    }
                    if s.followers > 0 {
                        let _ = writeln!(
                            t,
                            "  sequential  {:.1}% ({} of {} requests started where the previous one ended)",
                            s.sequential as f64 * 100.0 / s.followers as f64,
                            s.sequential,
                            s.followers
                        );
                    }
                    if let (Some(min), Some(avg)) = (s.seek_min, seek_avg) {
                        let _ = writeln!(
                            t,
                            "  seeks       {}: min {min}, avg {avg}, max {} sectors",
                            s.seeks, s.seek_max
                        );
                    }
                    if s.first_time.is_some() || s.first_ns.is_some() {
                        self.buf.clear();
                        self.push_time_text(s.first_time.as_deref(), s.first_ns);
                        self.buf.extend_from_slice(b", last ");
                        self.push_time_text(s.last_time.as_deref(), s.last_ns);
                        let _ = write!(
                            t,
                            "  time        first {}",
                            String::from_utf8_lossy(&self.buf)
                        );
                        if let (Some(a), Some(b)) = (s.first_ns, s.last_ns) {
                            self.buf.clear();
                            push_seconds(&mut self.buf, b.saturating_sub(a));
                            let _ = write!(t, " (span {} s)", String::from_utf8_lossy(&self.buf));
                        }
                        t.push('\n');
                    }
                    if let (Some(min), Some(avg)) = (s.lat_min, lat_avg) {
                        let sec = |ns: i64| {
                            let mut b = Vec::new();
                            push_seconds(&mut b, ns);
                            String::from_utf8_lossy(&b).into_owned()
                        };
                        let _ = writeln!(
                            t,
                            "  latency     min {}, avg {}, max {} s ({} paired with a completion)",
                            sec(min),
                            sec(avg),
                            sec(s.lat_max),
                            s.lat_n
                        );
                    } else {
                        t.push_str("  latency     - (no completion event paired)\n");
                    }
                    if s.qemu_requests > 0 {
                        let _ = writeln!(
                            t,
                            "  qemu        {} request(s) of QEMU's own at start-up, {} bytes (not counted above)",
                            s.qemu_requests, s.qemu_bytes
                        );
                    }
                    t.push('\n');
                    if let Out::Text(w) = &mut self.out {
                        w.write_all(t.as_bytes())?;
                    }
                }
            }
        }
        self.stats = stats;
        Ok(())
    }

    fn write_map(&mut self, disks: &Disks) -> Result<()> {
        const COLS: u64 = 32;
        const SHADES: [char; 5] = ['·', '░', '▒', '▓', '█'];
        let stats = std::mem::take(&mut self.stats);
        let Out::Text(w) = &mut self.out else {
            return Ok(());
        };
        for (i, disk) in disks.list().iter().enumerate() {
            let qemu = stats.get(i).map_or(0, |s| s.qemu_requests);
            let qemu_note = if qemu > 0 {
                format!(" ({qemu} request(s) of QEMU's own at start-up not drawn)")
            } else {
                String::new()
            };
            let Some(s) = stats.get(i).filter(|s| s.max_end > 0) else {
                writeln!(
                    w,
                    "{}: no guest request of known length{qemu_note}\n",
                    disk.name
                )?;
                continue;
            };
            let size = s.max_end;
            let rows_max = u64::from(self.cfg.map_rows);
            let per_cell = size.div_ceil(rows_max * COLS).max(1);
            let rows = size.div_ceil(per_cell * COLS).max(1);
            let ncells = (rows * COLS) as usize;
            let mut cells = [vec![0u64; ncells], vec![0u64; ncells]];
            for op in [Op::Read, Op::Write] {
                let grid = &mut cells[op_index(op)];
                for run in runs(&s.bounds[op_index(op)]) {
                    let first = (run.start / per_cell) as usize;
                    let last = ((run.end - 1) / per_cell) as usize;
                    for c in grid.iter_mut().take(last + 1).skip(first) {
                        *c = (*c).max(run.depth);
                    }
                }
            }
            let shade = |v: u64| match v {
                0 => SHADES[0],
                1 => SHADES[1],
                2..=3 => SHADES[2],
                4..=15 => SHADES[3],
                _ => SHADES[4],
            };
            let ss = self.cfg.sector_size;
            writeln!(
                w,
                "{} ({}{}): sectors 0-{} touched so far, {} sectors ({}) per row, {} per cell{qemu_note}",
                disk.name,
                disk.ctrl.map_or("unknown controller", |c| c.name()),
                disk.ptr().map_or(String::new(), |p| format!(", 0x{p:x}")),
                size - 1,
                per_cell * COLS,
                human(per_cell.saturating_mul(COLS).saturating_mul(ss)),
                per_cell
            )?;
            writeln!(
                w,
                "shading: {} untouched  {} once  {} 2-3 times  {} 4-15  {} 16+ (the most-touched sector of the cell)",
                SHADES[0], SHADES[1], SHADES[2], SHADES[3], SHADES[4]
            )?;
            writeln!(w, "{:>12}  {:<32}  writes", "sector", "reads")?;
            for row in 0..rows as usize {
                let mut line = format!("{:>12}  ", row as u64 * per_cell * COLS);
                for grid in &cells {
                    for c in &grid[row * COLS as usize..(row + 1) * COLS as usize] {
                        line.push(shade(*c));
                    }
                    line.push_str("  ");
                }
                writeln!(w, "{}", line.trim_end())?;
            }
            writeln!(w)?;
        }
        self.stats = stats;
        Ok(())
    }
}

impl<W: Write> Sink for Report<'_, W> {
    fn request(&mut self, r: &Request<'_>, disks: &Disks) -> Result<()> {
        self.requests += 1;
        // The per-disk aggregates are only printed by the other modes.
        if self.cfg.mode == Mode::PlotOnly {
            // Only the plot below is drawn.
        } else if self.cfg.mode != Mode::Requests {
            self.account(r);
        }
        if let Some(p) = &mut self.plot
            && let (Some(op), Some(b)) = (r.op, r.bytes)
        {
            let ss = self.cfg.sector_size;
            let (start, end) = sector_range(r.offset, Some(b), ss);
            let inputs = &self.inputs;
            p.push(
                Point {
                    disk: r.disk as u32,
                    write: op == Op::Write,
                    qemu: r.qemu,
                    time_ns: r.meta.time_ns(),
                    seq: self.requests,
                    sector: start,
                    sectors: end.unwrap_or(start) - start,
                },
                || request_place(inputs, r),
            );
        }
        if self.cfg.mode == Mode::Requests {
            self.write_request(r, disks)?;
        }
        Ok(())
    }

    fn latency(&mut self, disk: usize, ns: i64) {
        // Only the summary prints latencies.
        if !matches!(self.cfg.mode, Mode::Requests | Mode::PlotOnly) {
            self.stats_mut(disk).latency(ns);
        }
    }
}

/// `FILE:LINE` of a request's first event.
fn request_place(inputs: &[String], r: &Request<'_>) -> String {
    let input = inputs.get(r.meta.input).map_or("?", String::as_str);
    format!("{input}:{}", r.meta.line)
}

/// Sets `dst` to a copy of `src`, reusing its buffer.
fn set_text(dst: &mut Option<Vec<u8>>, src: Option<&[u8]>) {
    match (dst.as_mut(), src) {
        (Some(v), Some(s)) => {
            v.clear();
            v.extend_from_slice(s);
        }
        (None, Some(s)) => *dst = Some(s.to_vec()),
        (_, None) => *dst = None,
    }
}

/// A time as printed: the log's text, or seconds since `origin`.
fn time_cell(
    relative: bool,
    origin: Option<i64>,
    text: Option<&[u8]>,
    ns: Option<i64>,
) -> Cell<'_> {
    if relative {
        match (ns, origin) {
            (Some(t), Some(o)) => Cell::Seconds(t.saturating_sub(o)),
            _ => Cell::Null,
        }
    } else {
        text.map_or(Cell::Null, Cell::Str)
    }
}

fn round_div(a: u128, b: u128) -> u64 {
    u64::try_from((a + b / 2) / b).unwrap_or(u64::MAX)
}

fn pad_to(buf: &mut Vec<u8>, start: usize, width: usize) {
    spaces(buf, width.saturating_sub(buf.len() - start));
}

/// `n` spaces (a short run as one fixed-size store).
#[inline]
fn spaces(buf: &mut Vec<u8>, n: usize) {
    let len = buf.len();
    if n <= 32 {
        buf.extend_from_slice(&[b' '; 32]);
        buf.truncate(len + n);
    } else {
        buf.resize(len + n, b' ');
    }
}

/// `v` (or `none`) right-aligned in `W` columns, as `{:>W}` prints it: the
/// digits are written at the end of a field of spaces that is copied whole
/// (one fixed-size copy) when they fit.
#[inline]
fn num_right<const W: usize>(buf: &mut Vec<u8>, v: Option<u64>, none: u8) {
    let mut f = [b' '; 20];
    let n = match v {
        Some(v) => decimal_digits(v, &mut f).len(),
        None => {
            f[19] = none;
            1
        }
    };
    if n <= W {
        buf.extend_from_slice(&f[20 - W..]);
    } else {
        buf.extend_from_slice(&f[20 - n..]);
    }
}

/// `v` (or `none`) left-aligned in `W` columns, as `{:<W}` prints it (see
/// [`num_right`]).
#[inline]
fn num_left<const W: usize>(buf: &mut Vec<u8>, v: Option<u64>, none: u8) {
    // The digits end at 20, spaces follow.
    let mut f = [b' '; 40];
    let (digits, _) = f.split_first_chunk_mut::<20>().expect("40 >= 20");
    let n = match v {
        Some(v) => decimal_digits(v, digits).len(),
        None => {
            digits[19] = none;
            1
        }
    };
    let start = 20 - n;
    if n <= W {
        buf.extend_from_slice(&f[start..start + W]);
    } else {
        buf.extend_from_slice(&f[start..20]);
    }
}

/// The controller column and the space after it, as `{:<6} ` prints the
/// name (`-` when unknown).
fn ctrl_column(c: Option<Ctrl>) -> &'static [u8; 7] {
    match c {
        None => b"-      ",
        Some(Ctrl::Ide) => b"ide    ",
        Some(Ctrl::Ahci) => b"ahci   ",
        Some(Ctrl::Virtio) => b"virtio ",
        Some(Ctrl::Nvme) => b"nvme   ",
        Some(Ctrl::Scsi) => b"scsi   ",
    }
}

/// `text` (`chars` characters wide) left-aligned in `width` columns, as
/// `{:<width}` pads it.
#[inline]
fn pad_left(buf: &mut Vec<u8>, text: &[u8], chars: usize, width: usize) {
    buf.extend_from_slice(text);
    spaces(buf, width.saturating_sub(chars));
}

/// Bytes in binary units, one decimal.
pub fn human(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// One merged extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// First sector.
    pub start: u64,
    /// One past the last sector.
    pub end: u64,
    /// Requests that touched it.
    pub requests: u64,
    /// Most times one sector in it was touched.
    pub depth: u64,
}

/// A run of sectors touched the same number of times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: u64,
    end: u64,
    depth: u64,
}

fn runs(b: &Bounds) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut depth: u64 = 0;
    let mut prev: Option<u64> = None;
    for (&at, &(starts, ends)) in b {
        if let Some(p) = prev
            && depth > 0
            && at > p
        {
            match out.last_mut() {
                Some(last) if last.end == p && last.depth == depth => last.end = at,
                _ => out.push(Run {
                    start: p,
                    end: at,
                    depth,
                }),
            }
        }
        depth = (depth + starts).saturating_sub(ends);
        prev = Some(at);
    }
    out
}

/// Merges the requests recorded in `b` into maximal contiguous extents.
fn sweep(b: &Bounds) -> Vec<Extent> {
    let mut out: Vec<Extent> = Vec::new();
    let mut depth: u64 = 0;
    let mut cur: Option<Extent> = None;
    let mut prev = 0u64;
    for (&at, &(starts, ends)) in b {
        if let Some(c) = &mut cur
            && depth > 0
            && at > prev
        {
            c.depth = c.depth.max(depth);
        }
        depth = (depth + starts).saturating_sub(ends);
        match (&mut cur, depth) {
            (None, d) if d > 0 => {
                cur = Some(Extent {
                    start: at,
                    end: at,
                    requests: starts,
                    depth: 0,
                });
            }
            (Some(c), 0) => {
                c.end = at;
                c.requests += starts;
                out.push(*c);
                cur = None;
            }
            (Some(c), _) => c.requests += starts,
            _ => {}
        }
        prev = at;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(reqs: &[(u64, u64)]) -> Bounds {
        let mut b = Bounds::new();
        for &(s, e) in reqs {
            b.entry(s).or_default().0 += 1;
            b.entry(e).or_default().1 += 1;
        }
        b
    }

    #[test]
    fn extents_merge_overlapping_and_adjacent_ranges() {
        let b = bounds(&[(0, 8), (8, 16), (4, 6), (4, 6), (100, 101)]);
        assert_eq!(
            sweep(&b),
            [
                Extent {
                    start: 0,
                    end: 16,
                    requests: 4,
                    depth: 3
                },
                Extent {
                    start: 100,
                    end: 101,
                    requests: 1,
                    depth: 1
                }
            ]
        );
        assert_eq!(
            runs(&b),
            [
                Run {
                    start: 0,
                    end: 4,
                    depth: 1
                },
                Run {
                    start: 4,
                    end: 6,
                    depth: 3
                },
                Run {
                    start: 6,
                    end: 16,
                    depth: 1
                },
                Run {
                    start: 100,
                    end: 101,
                    depth: 1
                }
            ]
        );
    }

    #[test]
    fn sector_ranges_cover_unaligned_requests() {
        assert_eq!(sector_range(4096, Some(4096), 512), (8, Some(16)));
        assert_eq!(sector_range(100, Some(512), 512), (0, Some(2)));
        assert_eq!(sector_range(4096, None, 4096), (1, None));
        for ss in [1, 3, 512, 520, 4096, 1 << 30] {
            for (o, b) in [(0, 0), (1, 1), (511, 2), (4096, 4095), (u64::MAX - 1, 10)] {
                let e = u64::saturating_add(o, b);
                assert_eq!(
                    sector_range(o, Some(b), ss),
                    (o / ss, Some(e / ss + u64::from(e % ss != 0))),
                    "{o} {b} {ss}"
                );
            }
        }
        assert_eq!(
            sector_range(u64::MAX - 1, Some(10), 512).0,
            (u64::MAX - 1) / 512
        );
    }

    #[test]
    fn numbers_and_padding_as_fmt_prints_them() {
        let mut digits = [0u8; 20];
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            65536,
            1 << 40,
            u64::MAX,
        ] {
            assert_eq!(decimal_digits(v, &mut digits), v.to_string().as_bytes());
            let t = v.to_string();
            for w in [0, 1, 6, 8, 10, 40] {
                let mut b = Vec::new();
                pad_left(&mut b, t.as_bytes(), t.len(), w);
                assert_eq!(b, format!("{t:<w$}").as_bytes());
            }
        }
        for v in [
            None,
            Some(0),
            Some(7),
            Some(123456),
            Some(1 << 40),
            Some(u64::MAX),
        ] {
            let t = v.map_or("?".to_string(), |v| v.to_string());
            let mut b = Vec::new();
            num_right::<8>(&mut b, v, b'?');
            num_left::<6>(&mut b, v, b'?');
            num_right::<10>(&mut b, v, b'?');
            assert_eq!(b, format!("{t:>8}{t:<6}{t:>10}").as_bytes());
        }
        for c in [
            None,
            Some(Ctrl::Ide),
            Some(Ctrl::Ahci),
            Some(Ctrl::Virtio),
            Some(Ctrl::Nvme),
            Some(Ctrl::Scsi),
        ] {
            let name = c.map_or("-", Ctrl::name);
            assert_eq!(ctrl_column(c), format!("{name:<6} ").as_bytes());
        }
        let mut b = Vec::new();
        pad_left(&mut b, "dïsk".as_bytes(), 4, 6);
        assert_eq!(b, format!("{:<6}", "dïsk").as_bytes());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(131072), "128.0 KiB");
        assert_eq!(human(3 << 20), "3.0 MiB");
    }
}
