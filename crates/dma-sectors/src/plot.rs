//! `--plot FILE.svg`: sector against time, one panel per disk, reads and
//! writes in two colours, like seekwatcher; QEMU's own requests at start-up
//! in grey (with a legend entry only when there are some).
//!
//! Each request is a short vertical stroke at its time, from its first to
//! its last sector (at least 1.5 px tall so single sectors stay visible).
//! Traces without timestamps are plotted against the request number. The
//! SVG is written by hand (no plotting crate): one `<path>` per disk and
//! direction keeps the file small. The plot holds one 40-byte point per
//! request of known length until the end of the run, at most
//! [`MAX_PLOT_POINTS`]; past it, later requests are left out of the plot and
//! the run says so and exits 2 (see `qtrace_core::limits`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use qtrace_core::Error;
use qtrace_core::limits::Limit;
use qtrace_core::scan::Diag;

use crate::track::Disks;

/// One request on the plot.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// Disk index.
    pub disk: u32,
    /// A write (else a read).
    pub write: bool,
    /// QEMU's own request, not the guest's.
    pub qemu: bool,
    /// Time in nanoseconds, when the trace has timestamps.
    pub time_ns: Option<i64>,
    /// 1-based request number.
    pub seq: u64,
    /// First sector.
    pub sector: u64,
    /// Sectors.
    pub sectors: u64,
}

/// Requests `--plot` holds at most (40 MB of points; an SVG of a million
/// strokes is already slow to display).
pub const MAX_PLOT_POINTS: usize = 1_000_000;

/// The points collected during the run.
#[derive(Debug)]
pub struct Plot {
    points: Vec<Point>,
    /// The cap of `points`.
    limit: Limit,
}

impl Default for Plot {
    fn default() -> Self {
        // A malformed QTRACE_MAX_KEYS is reported by the tool before any
        // input is read; here it means the default.
        let cap = qtrace_core::limits::cap_override().ok().flatten();
        Plot {
            points: Vec::new(),
            limit: Limit::with_cap("requests to plot", cap.unwrap_or(MAX_PLOT_POINTS))
                .with_effect("the plot shows the requests before it"),
        }
    }
}

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 100.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const PANEL: f64 = 220.0;
const GAP: f64 = 70.0;
const READ_COLOUR: &str = "#1f77b4";
const WRITE_COLOUR: &str = "#d62728";
const QEMU_COLOUR: &str = "#8c8c8c";

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn ticks(max: f64) -> Vec<f64> {
    (0..=4).map(|i| max * f64::from(i) / 4.0).collect()
}

impl Plot {
    /// Adds a request (first seen at `place`), while the cap allows.
    #[inline]
    pub fn push(&mut self, p: Point, place: impl FnOnce() -> String) {
        if self.limit.admit(self.points.len(), place) {
            self.points.push(p);
        }
    }

    /// Says how many requests were left out (an error: exit status 2).
    pub fn report_limit(&self, diag: &Diag) {
        self.limit.report(diag);
    }

    /// Writes the SVG.
    pub fn write(
        self,
        file: &File,
        path: &Path,
        disks: &Disks,
        origin: Option<i64>,
    ) -> qtrace_core::Result<()> {
        let err = |e: std::io::Error| Error::usage(format!("--plot {}: {e}", path.display()));
        let mut w = BufWriter::new(file);
        self.render(&mut w, disks, origin).map_err(err)?;
        w.flush().map_err(err)
    }

    fn render(&self, w: &mut dyn Write, disks: &Disks, origin: Option<i64>) -> std::io::Result<()> {
        let timed = !self.points.is_empty() && self.points.iter().all(|p| p.time_ns.is_some());
        let x_of = |p: &Point| -> f64 {
            if timed {
                let t0 = origin.unwrap_or(0);
                (p.time_ns.unwrap_or(t0) - t0) as f64 / 1e9
            } else {
                p.seq as f64
            }
        };
        let (mut xmin, mut xmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in &self.points {
            let x = x_of(p);
            xmin = xmin.min(x);
            xmax = xmax.max(x);
        }
        if !xmin.is_finite() {
            (xmin, xmax) = (0.0, 1.0);
        }
        if xmax <= xmin {
            xmax = xmin + 1.0;
        }
        // The points by disk and direction, in request order within each
        // (a stable sort): each panel reads only its own points, so many
        // disks do not cost a pass over every point each.
        let mut order: Vec<u32> = (0..self.points.len() as u32).collect();
        order.sort_by_key(|&i| {
            let p = &self.points[i as usize];
            (p.disk, p.write)
        });
        let mut groups: Vec<(usize, &[u32])> = Vec::new();
        for run in
            order.chunk_by(|&a, &b| self.points[a as usize].disk == self.points[b as usize].disk)
        {
            let d = self.points[run[0] as usize].disk as usize;
            if d < disks.list().len() {
                groups.push((d, run));
            }
        }
        let shown: Vec<usize> = groups.iter().map(|g| g.0).collect();
        let panels = shown.len().max(1) as f64;
        let height = TOP + panels * (PANEL + GAP);
        let pw = WIDTH - LEFT - RIGHT;
        writeln!(
            w,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
        )?;
        writeln!(
            w,
            r#"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="15">Sectors read and written against {}</text>"#,
            if timed { "time" } else { "request number" }
        )?;
        writeln!(
            w,
            r#"<g transform="translate({},14)"><rect width="12" height="4" y="4" fill="{READ_COLOUR}"/><text x="16" y="10">read</text><rect x="60" width="12" height="4" y="4" fill="{WRITE_COLOUR}"/><text x="76" y="10">write</text></g>"#,
            WIDTH - RIGHT - 120.0
        )?;
        if self.points.iter().any(|p| p.qemu) {
            writeln!(
                w,
                r#"<g transform="translate({},14)"><rect width="12" height="4" y="4" fill="{QEMU_COLOUR}"/><text x="16" y="10">QEMU's own</text></g>"#,
                WIDTH - RIGHT - 220.0
            )?;
        }
        if shown.is_empty() {
            writeln!(
                w,
                r#"<text x="{LEFT}" y="{}">no request of known length</text>"#,
                TOP + 20.0
            )?;
        }
        for (k, &(d, group)) in groups.iter().enumerate() {
            let disk = disks.get(d);
            let y0 = TOP + k as f64 * (PANEL + GAP);
            let points = || group.iter().map(|&i| &self.points[i as usize]);
            let ymax = points()
                .map(|p| p.sector.saturating_add(p.sectors))
                .max()
                .unwrap_or(1)
                .max(1) as f64;
            writeln!(
                w,
                r#"<text x="{LEFT}" y="{}" font-weight="bold">{}{}</text>"#,
                y0 + 12.0,
                esc(&disk.name),
                esc(&disk
                    .ctrl
                    .map_or(String::new(), |c| format!(" ({})", c.name())))
            )?;
            let top = y0 + 20.0;
            let ph = PANEL - 20.0;
            writeln!(
                w,
                r##"<rect x="{LEFT}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##
            )?;
            for v in ticks(ymax) {
                let y = top + ph - v / ymax * ph;
                writeln!(
                    w,
                    r##"<line x1="{}" x2="{LEFT}" y1="{y:.1}" y2="{y:.1}" stroke="#888"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                    LEFT - 4.0,
                    LEFT - 6.0,
                    y + 4.0,
                    v.round() as u64
                )?;
            }
            for v in ticks(xmax - xmin) {
                let x = LEFT + v / (xmax - xmin) * pw;
                let label = if timed {
                    format!("{:.3}", xmin + v)
                } else {
                    format!("{}", (xmin + v).round() as u64)
                };
                writeln!(
                    w,
                    r##"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}" stroke="#888"/><text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"##,
                    top + ph,
                    top + ph + 4.0,
                    top + ph + 16.0
                )?;
            }
            writeln!(
                w,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate(16,{}) rotate(-90)" text-anchor="middle">sector</text>"#,
                LEFT + pw / 2.0,
                top + ph + 32.0,
                if timed {
                    "seconds since the first event"
                } else {
                    "request number"
                },
                top + ph / 2.0
            )?;
            for (write, qemu, colour) in [
                (false, false, READ_COLOUR),
                (true, false, WRITE_COLOUR),
                (false, true, QEMU_COLOUR),
                (true, true, QEMU_COLOUR),
            ] {
                let mut d_attr = String::new();
                for p in points().filter(|p| p.write == write && p.qemu == qemu) {
                    let x = LEFT + (x_of(p) - xmin) / (xmax - xmin) * pw;
                    let yb = top + ph - p.sector as f64 / ymax * ph;
                    let mut yt = top + ph - (p.sector.saturating_add(p.sectors)) as f64 / ymax * ph;
                    if yb - yt < 1.5 {
                        yt = yb - 1.5;
                    }
                    use std::fmt::Write as _;
                    let _ = write!(d_attr, "M{x:.1} {yb:.1}V{yt:.1}");
                }
                if !d_attr.is_empty() {
                    writeln!(
                        w,
                        r#"<path d="{d_attr}" stroke="{colour}" stroke-width="1.5" fill="none"/>"#
                    )?;
                }
            }
        }
        writeln!(w, "</svg>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_one_path_per_disk_and_direction() {
        let mut p = Plot::default();
        for (i, write) in [false, true, false].into_iter().enumerate() {
            p.push(
                Point {
                    disk: 0,
                    write,
                    qemu: false,
                    time_ns: Some(i as i64 * 1_000_000),
                    seq: i as u64 + 1,
                    sector: 8 * i as u64,
                    sectors: 8,
                },
                String::new,
            );
        }
        let mut disks = crate::track::Tracker::new(512, Vec::new());
        let diag = qtrace_core::scan::Diag::new("t");
        let mut warn = crate::warn::Warnings::new(&diag, vec!["x".into()]);
        struct Nop;
        impl crate::track::Sink for Nop {
            fn request(
                &mut self,
                _: &crate::track::Request<'_>,
                _: &Disks,
            ) -> qtrace_core::Result<()> {
                Ok(())
            }
            fn latency(&mut self, _: usize, _: i64) {}
        }
        let at = crate::track::At {
            input: 0,
            line: 1,
            prefix: qtrace_core::recognize::Prefix {
                kind: qtrace_core::recognize::PrefixKind::Bare,
                tid: None,
                time: None,
            },
        };
        disks
            .push(
                at,
                &crate::decode::Obs::Data {
                    blk: 1,
                    offset: 0,
                    bytes: 512,
                    op: crate::decode::Op::Read,
                    source: "blk_co_preadv",
                    legacy: false,
                },
                &mut warn,
                &mut Nop,
            )
            .unwrap();
        disks.finish(&mut warn, &mut Nop).unwrap();
        let mut out = Vec::new();
        p.render(&mut out, disks.disks(), Some(0)).unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains(READ_COLOUR) && svg.contains(WRITE_COLOUR));
        assert!(svg.contains(">disk0<"));
        assert_eq!(esc("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
    }
}
