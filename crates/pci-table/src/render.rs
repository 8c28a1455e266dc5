//! The views of a finished table: `lspci -nn`-style lines, the `-v` details,
//! the `-t` bus tree (a port of lspci 3.9's own `ls-tree.c` algorithm, so
//! the drawing matches it), the `-x` hex dump that `lspci -F` reads, and the
//! per-function records for CSV/JSON.
//!
//! Nothing here prints an unknown byte as if it were known: unknown ids are
//! `????`, unknown fields are left out or marked, and a dump says which of its
//! `00` bytes were never observed or only inferred.

use std::io::Write;

use crate::function::{Bar, BarKind, CapWalk, Function, Subsystem};
use crate::ids::Ids;
use crate::regs::{self, Layout, human_size};
use crate::space::{Know, ranges};

/// One function with its capability walk, computed once for output.
#[derive(Debug)]
pub struct View<'a> {
    /// The function.
    pub f: &'a Function,
    /// Its capabilities as far as read.
    pub caps: CapWalk,
}

impl<'a> View<'a> {
    /// The view of `f`.
    pub fn new(f: &'a Function) -> Self {
        View { f, caps: f.caps() }
    }
}

/// The `lspci -nn` line of a function, with QEMU's device type in braces:
/// `00:1f.2 SATA controller [0106]: Intel Corporation ... [8086:2922] (rev 02) {ich9-ahci}`.
/// With `verbose`, lspci's ` (prog-if 01 [AHCI 1.0])` follows the revision.
pub fn lspci_line(v: &View<'_>, ids: &Ids, verbose: bool, out: &mut Vec<u8>) {
    let f = v.f;
    let _ = write!(
        out,
        "{} {}: {}",
        f.bdf(),
        ids.class_text(f.class16()),
        ids.vendor_device_text(f.vendor(), f.device())
    );
    match f.revision() {
        Some(0) => {}
        Some(r) => {
            let _ = write!(out, " (rev {r:02x})");
        }
        None => out.extend_from_slice(b" (rev ??)"),
    }
    if verbose && let Some(c) = f.class() {
        let (cl, sub, pi) = ((c >> 16) as u8, (c >> 8) as u8, c as u8);
        let name = ids.prog_if(cl, sub, pi);
        if pi != 0 || name.is_some() {
            let _ = write!(out, " (prog-if {pi:02x}");
            if let Some(n) = name {
                let _ = write!(out, " [{n}]");
            }
            out.push(b')');
        }
    }
    out.extend_from_slice(b" {");
    out.extend_from_slice(&f.name);
    out.extend_from_slice(b"}\n");
}

fn hex2(v: Option<u8>) -> String {
    v.map_or_else(|| "??".to_string(), |v| format!("{v:02x}"))
}

/// The `-v` details of a function, tab-indented like lspci's, then a blank line.
pub fn verbose_block(v: &View<'_>, ids: &Ids, out: &mut Vec<u8>) {
    let f = v.f;
    let layout = f.layout();
    match f.subsystem(&v.caps) {
        Subsystem::Known(sv, sd) => {
            let _ = writeln!(
                out,
                "\tSubsystem: {}",
                ids.subsystem_text(f.vendor(), f.device(), sv, sd)
            );
        }
        Subsystem::Absent => {}
        Subsystem::Unknown => out.extend_from_slice(b"\tSubsystem: not observed\n"),
    }
    match (f.header_type(), layout) {
        (Some(ht), Some(l)) => {
            let mf = if ht & 0x80 != 0 {
                ", multifunction"
            } else {
                ""
            };
            let _ = writeln!(out, "\tHeader type: {} ({}){mf}", l.number(), l.describe());
        }
        (Some(ht), None) => {
            let _ = writeln!(out, "\tHeader type: 0x{ht:02x} (unknown layout)");
        }
        _ => out.extend_from_slice(b"\tHeader type: not observed\n"),
    }
    if let Some(cmd) = f.space.u16(4) {
        let _ = writeln!(out, "\tCommand: {}", regs::command_bits(u32::from(cmd)));
    }
    match (f.irq_pin(), f.irq_line()) {
        (Some(0), _) => out.extend_from_slice(b"\tInterrupt: none\n"),
        (Some(p), line) => {
            let pin = if (1..=4).contains(&p) {
                char::from(b'A' + p - 1).to_string()
            } else {
                format!("0x{p:02x} (invalid)")
            };
            let _ = write!(out, "\tInterrupt: pin {pin}");
            match line {
                Some(l) => {
                    let _ = writeln!(out, " routed to IRQ {l}");
                }
                None => out.push(b'\n'),
            }
        }
        (None, Some(l)) => {
            let _ = writeln!(out, "\tInterrupt: pin not observed, line {l}");
        }
        (None, None) => {}
    }
    if let Some((p, s, sub)) = f.bus_numbers() {
        let _ = writeln!(
            out,
            "\tBus: primary={}, secondary={}, subordinate={}",
            hex2(p),
            hex2(s),
            hex2(sub)
        );
    }
    if layout == Some(Layout::Bridge) {
        bridge_windows(f, out);
    }
    for bar in f.bars() {
        bar_line(&bar, out);
    }
    for c in &v.caps.caps {
        if c.extended {
            let ver = f.space.byte(c.offset + 2).map_or(0, |b| b & 0xf);
            let _ = writeln!(
                out,
                "\tCapabilities: [{:03x} v{ver}] {}",
                c.offset,
                regs::ecap_name(c.id)
            );
        } else if c.id == 0x10 {
            let t = f.space.byte(c.offset + 2).map(|b| (b >> 4) & 0xf);
            let _ = writeln!(
                out,
                "\tCapabilities: [{:02x}] Express {}",
                c.offset,
                t.map_or("(type not observed)", regs::express_type)
            );
        } else {
            let _ = writeln!(
                out,
                "\tCapabilities: [{:02x}] {}",
                c.offset,
                regs::cap_name(c.id)
            );
        }
    }
    if let Some(p) = v.caps.stopped {
        let _ = writeln!(
            out,
            "\tCapabilities: list not followed past 0x{p:02x} (not read by the guest)"
        );
    }
    if let Some(p) = v.caps.ext_stopped {
        let _ = writeln!(
            out,
            "\tCapabilities: extended list at 0x{p:03x} not read by the guest"
        );
    }
    coverage_lines(v, out);
    if !f.bus_in_trace {
        out.extend_from_slice(
            b"\tAddress: the trace has no bus number (QEMU <= 6.2 prints slot:function); bus 0 assumed\n",
        );
    }
    let _ = writeln!(
        out,
        "\tTrace: {} accesses ({} reads, {} writes), lines {}-{}",
        f.reads + f.writes,
        f.reads,
        f.writes,
        f.first_line,
        f.last_line
    );
    out.push(b'\n');
}

fn bridge_windows(f: &Function, out: &mut Vec<u8>) {
    let s = &f.space;
    if let (Some(b), Some(l)) = (s.byte(0x1c), s.byte(0x1d)) {
        let (bu, lu) = if b & 0xf == 1 {
            (s.u16(0x30).unwrap_or(0), s.u16(0x32).unwrap_or(0))
        } else {
            (0, 0)
        };
        let base = u64::from(bu) << 16 | u64::from(b & 0xf0) << 8;
        let limit = u64::from(lu) << 16 | u64::from(l & 0xf0) << 8 | 0xfff;
        window("I/O behind bridge", base, limit, out);
    }
    if let (Some(b), Some(l)) = (s.u16(0x20), s.u16(0x22)) {
        let base = u64::from(b & 0xfff0) << 16;
        let limit = u64::from(l & 0xfff0) << 16 | 0xf_ffff;
        window("Memory behind bridge", base, limit, out);
    }
    if let (Some(b), Some(l)) = (s.u16(0x24), s.u16(0x26)) {
        let (bu, lu) = if b & 0xf == 1 {
            (s.u32(0x28).unwrap_or(0), s.u32(0x2c).unwrap_or(0))
        } else {
            (0, 0)
        };
        let base = u64::from(bu) << 32 | u64::from(b & 0xfff0) << 16;
        let limit = u64::from(lu) << 32 | u64::from(l & 0xfff0) << 16 | 0xf_ffff;
        window("Prefetchable memory behind bridge", base, limit, out);
    }
}

fn window(what: &str, base: u64, limit: u64, out: &mut Vec<u8>) {
    if base > limit {
        let _ = writeln!(out, "\t{what}: [disabled]");
    } else {
        let _ = writeln!(
            out,
            "\t{what}: {base:08x}-{limit:08x} [size={}]",
            human_size(limit - base + 1)
        );
    }
}

fn bar_line(b: &Bar, out: &mut Vec<u8>) {
    let addr = |w: usize| match b.address {
        Some(0) => "<unassigned>".to_string(),
        Some(a) => format!("{a:0w$x}"),
        None => "<not observed>".to_string(),
    };
    let size = match b.size {
        Some(s) => format!(" [size={}]", human_size(s)),
        None => " [size not measured: the guest did not size it]".to_string(),
    };
    // Said when the type bits may be a tiny BAR's address bits.
    let size = if b.type_from_sizing {
        size + " [type from the sizing read-back: the register's value was not read]"
    } else {
        size
    };
    let _ = match b.kind {
        BarKind::Io => writeln!(out, "\tRegion {}: I/O ports at {}{size}", b.index, addr(4)),
        BarKind::Mem { bits, prefetch } => writeln!(
            out,
            "\tRegion {}: Memory at {} ({}, {}prefetchable){size}",
            b.index,
            addr(8),
            match bits {
                64 => "64-bit",
                20 => "low-1M",
                _ => "32-bit",
            },
            if prefetch { "" } else { "non-" }
        ),
        BarKind::Rom => writeln!(
            out,
            "\tExpansion ROM at {}{}{size}",
            addr(8),
            match b.enabled {
                Some(true) => "",
                Some(false) => " [disabled]",
                None => " [enable bit not observed]",
            }
        ),
    };
}

fn coverage_lines(v: &View<'_>, out: &mut Vec<u8>) {
    let f = v.f;
    let hlen = f.layout().map_or(64, Layout::header_len);
    let slen = f.space_len(&v.caps);
    let h = f.counts(0..hlen);
    let s = f.counts(0..slen);
    let _ = writeln!(
        out,
        "\tCoverage: header {}/{} bytes known ({} read, {} written), {} inferred; \
         config space {}/{} known, {} inferred, {} never observed",
        h.known(),
        h.total(),
        h.read,
        h.written,
        h.inferred,
        s.known(),
        s.total(),
        s.inferred,
        s.unknown
    );
    let len = f.space.len();
    let read = ranges((0..len).filter(|&o| f.space.ever_read(o)));
    let written = ranges((0..len).filter(|&o| f.space.ever_written(o)));
    let _ = writeln!(
        out,
        "\tAccessed: read {}; written {}",
        if read.is_empty() { "none" } else { &read },
        if written.is_empty() { "none" } else { &written }
    );
}

/// How many bytes `-x` (level 1-2), `-xxx` (3) and `-xxxx` (4+) dump.
pub fn dump_len(v: &View<'_>, level: u8) -> usize {
    match level {
        0..=2 => v.f.layout().map_or(64, Layout::header_len),
        3 => 256,
        _ => v.f.space_len(&v.caps),
    }
}

/// An `lspci -x`-format block: the lspci line, hex rows, `#` comments naming
/// the bytes printed as 00 without having been observed (lspci ignores such
/// lines), and a blank line.
pub fn dump_block(v: &View<'_>, ids: &Ids, level: u8, out: &mut Vec<u8>) {
    let mut head = Vec::new();
    lspci_line(v, ids, false, &mut head);
    out.extend_from_slice(&fit_line(head));
    let len = dump_len(v, level);
    let s = &v.f.space;
    for row in (0..len).step_by(16) {
        let _ = write!(out, "{row:02x}:");
        for o in row..row + 16 {
            let _ = write!(out, " {:02x}", s.raw(o).0);
        }
        out.push(b'\n');
    }
    let unknown = ranges((0..len).filter(|&o| s.know(o) == Know::Unknown));
    let inferred = ranges((0..len).filter(|&o| s.know(o) == Know::Inferred));
    note_lines("# pci-table: never observed, printed as 00:", &unknown, out);
    note_lines(
        "# pci-table: inferred 00 (zero if the access was as wide as its alignment allows):",
        &inferred,
        out,
    );
    out.push(b'\n');
}

/// lspci reads dump lines of at most 254 bytes; longer ones stop it.
const DUMP_LINE_MAX: usize = 250;

/// Shortens a dump header line to what lspci accepts (only its start, the
/// address, matters to lspci).
fn fit_line(mut line: Vec<u8>) -> Vec<u8> {
    if line.len() > DUMP_LINE_MAX {
        line.truncate(DUMP_LINE_MAX - 4);
        line.extend_from_slice(b"...\n");
    }
    line
}

/// Writes `text` (lines) as `#` comment lines short enough for lspci,
/// breaking long ones after a comma or space.
pub fn comment_lines(text: &[u8], out: &mut Vec<u8>) {
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut rest = line;
        let mut first = true;
        while !rest.is_empty() {
            let lead: &[u8] = if first { b"#" } else { b"#\t  " };
            let room = DUMP_LINE_MAX - lead.len() - 1;
            let take = if rest.len() <= room {
                rest.len()
            } else {
                rest[..room]
                    .iter()
                    .rposition(|&b| b == b',' || b == b' ')
                    .map_or(room, |p| p + 1)
            };
            out.extend_from_slice(lead);
            out.extend_from_slice(&rest[..take]);
            out.push(b'\n');
            rest = &rest[take..];
            first = false;
        }
    }
}

/// Writes `prefix list` as comment lines short enough for lspci.
fn note_lines(prefix: &str, list: &str, out: &mut Vec<u8>) {
    let mut line = String::new();
    for item in list.split(',').filter(|i| !i.is_empty()) {
        if !line.is_empty() && prefix.len() + line.len() + item.len() + 2 > DUMP_LINE_MAX {
            let _ = writeln!(out, "{prefix} {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(',');
        }
        line.push_str(item);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{prefix} {line}");
    }
}

/// `bars` in CSV/TSV/text: `INDEX:KIND:ADDRESS:SIZE` entries joined by `;`
/// (hex; a value never observed is empty), e.g.
/// `0:mem32:0xfea40000:0x20000;1:io:0xd100:0x40;6:rom:0xfea00000:0x40000`.
pub fn bars_compact(bars: &[Bar]) -> String {
    let opt = |v: Option<u64>| v.map_or_else(String::new, |v| format!("0x{v:x}"));
    bars.iter()
        .map(|b| {
            format!(
                "{}:{}:{}:{}",
                b.index,
                b.kind.as_str(),
                opt(b.address),
                opt(b.size)
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// `bars` in JSON: a list of `{"index", "kind", "address", "size"}` objects;
/// numbers are integers (above 2^53, strings of the decimal value, as
/// everywhere in qtrace), never observed is `null`.
pub fn bars_json(bars: &[Bar]) -> String {
    let num = |v: Option<u64>| match v {
        None => "null".to_string(),
        Some(v) if v > 1 << 53 => format!("\"{v}\""),
        Some(v) => v.to_string(),
    };
    let items: Vec<String> = bars
        .iter()
        .map(|b| {
            format!(
                "{{\"index\":{},\"kind\":\"{}\",\"address\":{},\"size\":{}}}",
                b.index,
                b.kind.as_str(),
                num(b.address),
                num(b.size)
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// A bridge for the tree: lspci's `struct bridge`.
struct TBridge {
    primary: u32,
    secondary: u32,
    subordinate: u32,
    /// Index of the bridge's function in the view list (None: the host bridge).
    dev: Option<usize>,
    children: Vec<usize>,
    /// Buses in creation order.
    buses: Vec<usize>,
}

struct TBus {
    number: u32,
    devs: Vec<usize>,
}

struct Tree<'v, 'a> {
    views: &'v [View<'a>],
    selected: &'v [bool],
    bridges: Vec<TBridge>,
    buses: Vec<TBus>,
    ids: &'v Ids,
    verbose: bool,
}

/// How deep the drawing follows bridges (a trace can describe a bridge
/// whose secondary bus holds itself; lspci would loop).
const MAX_DEPTH: usize = 64;

impl Tree<'_, '_> {
    fn find_bus(&self, b: usize, n: u32) -> Option<usize> {
        self.bridges[b]
            .buses
            .iter()
            .copied()
            .find(|&u| self.buses[u].number == n)
    }

    fn new_bus(&mut self, b: usize, n: u32) -> usize {
        self.buses.push(TBus {
            number: n,
            devs: Vec::new(),
        });
        let id = self.buses.len() - 1;
        self.bridges[b].buses.push(id);
        id
    }

    fn insert_dev(&mut self, d: usize, b: usize, depth: usize) {
        let n = u32::from(self.views[d].f.bus);
        let bus = match self.find_bus(b, n) {
            Some(u) => u,
            None => {
                let child =
                    self.bridges[b].children.iter().copied().find(|&c| {
                        self.bridges[c].secondary <= n && n <= self.bridges[c].subordinate
                    });
                if let Some(c) = child
                    && depth < MAX_DEPTH
                {
                    self.insert_dev(d, c, depth + 1);
                    return;
                }
                self.new_bus(b, n)
            }
        };
        self.buses[bus].devs.push(d);
    }

    fn bridge_of(&self, d: usize) -> Option<usize> {
        self.bridges.iter().position(|b| b.dev == Some(d))
    }

    /// lspci's `check_dev_filter`: selected, or a bridge to something selected.
    fn dev_shown(&self, d: usize, depth: usize) -> bool {
        if self.selected[d] {
            return true;
        }
        depth < MAX_DEPTH
            && self.bridge_of(d).is_some_and(|b| {
                self.bridges[b]
                    .buses
                    .iter()
                    .any(|&u| self.bus_shown(u, depth + 1))
            })
    }

    fn bus_shown(&self, u: usize, depth: usize) -> bool {
        self.buses[u].devs.iter().any(|&d| self.dev_shown(d, depth))
    }
}

/// Writes a finished line. As in lspci's `ls-tree.c`, the line buffer is
/// then turned into the prefix of the next line: `+` and `|` become `|`,
/// everything else a space.
fn print_it(line: &mut Vec<u8>, p: usize, out: &mut Vec<u8>) {
    line.truncate(p);
    out.extend_from_slice(line);
    out.push(b'\n');
    for c in line.iter_mut() {
        *c = if *c == b'+' || *c == b'|' { b'|' } else { b' ' };
    }
}

fn put(line: &mut Vec<u8>, p: usize, s: &[u8]) -> usize {
    line.truncate(p);
    line.extend_from_slice(s);
    line.len()
}

fn show_tree_dev(
    t: &Tree<'_, '_>,
    d: usize,
    line: &mut Vec<u8>,
    p: usize,
    out: &mut Vec<u8>,
    depth: usize,
) {
    let f = t.views[d].f;
    let p = put(line, p, format!("{:02x}.{:x}", f.slot, f.func).as_bytes());
    if let Some(b) = t.bridge_of(d)
        && depth < MAX_DEPTH
    {
        let br = &t.bridges[b];
        let s = if br.secondary == 0 {
            "-".to_string()
        } else if br.secondary == br.subordinate {
            format!("-[{:02x}]-", br.secondary)
        } else {
            format!("-[{:02x}-{:02x}]-", br.secondary, br.subordinate)
        };
        let p = put(line, p, s.as_bytes());
        show_tree_bridge(t, b, line, p, out, depth + 1);
        return;
    }
    let mut p = p;
    if t.verbose {
        let mut s =
            format!("  {} {{", t.ids.vendor_device_text(f.vendor(), f.device())).into_bytes();
        s.extend_from_slice(&f.name);
        s.push(b'}');
        p = put(line, p, &s);
    }
    print_it(line, p, out);
}

fn show_tree_bus(
    t: &Tree<'_, '_>,
    u: usize,
    line: &mut Vec<u8>,
    p: usize,
    out: &mut Vec<u8>,
    depth: usize,
) {
    let devs = &t.buses[u].devs;
    match devs.as_slice() {
        [] => print_it(line, p, out),
        [d] => {
            if t.dev_shown(*d, depth) {
                let p = put(line, p, b"--");
                show_tree_dev(t, *d, line, p, out, depth);
            } else {
                print_it(line, p, out);
            }
        }
        [init @ .., last] => {
            let mut empty = true;
            for &d in init {
                if t.dev_shown(d, depth) {
                    let q = put(line, p, b"+-");
                    show_tree_dev(t, d, line, q, out, depth);
                    empty = false;
                }
            }
            let mut p = p;
            if t.dev_shown(*last, depth) {
                p = put(line, p, b"\\-");
                show_tree_dev(t, *last, line, p, out, depth);
                empty = false;
            }
            if empty {
                print_it(line, p, out);
            }
        }
    }
}

fn show_tree_bridge(
    t: &Tree<'_, '_>,
    b: usize,
    line: &mut Vec<u8>,
    p: usize,
    out: &mut Vec<u8>,
    depth: usize,
) {
    let p = put(line, p, b"-");
    let buses = &t.bridges[b].buses;
    match buses.as_slice() {
        [] => print_it(line, p, out),
        [u] => {
            if t.bus_shown(*u, depth) {
                let p = if b == 0 {
                    put(
                        line,
                        p,
                        format!("[0000:{:02x}]-", t.buses[*u].number).as_bytes(),
                    )
                } else {
                    p
                };
                show_tree_bus(t, *u, line, p, out, depth);
            } else {
                print_it(line, p, out);
            }
        }
        [init @ .., last] => {
            let mut empty = true;
            for &u in init {
                if t.bus_shown(u, depth) {
                    let k = put(
                        line,
                        p,
                        format!("+-[0000:{:02x}]-", t.buses[u].number).as_bytes(),
                    );
                    show_tree_bus(t, u, line, k, out, depth);
                    empty = false;
                }
            }
            if t.bus_shown(*last, depth) {
                let k = put(
                    line,
                    p,
                    format!("\\-[0000:{:02x}]-", t.buses[*last].number).as_bytes(),
                );
                show_tree_bus(t, *last, line, k, out, depth);
                empty = false;
            }
            if empty {
                print_it(line, p, out);
            }
        }
    }
}

/// The `-t` view of `views` (sorted by bus, slot, function) as lspci 3.9
/// draws it; with a selection (`selected`), only the selected functions and
/// the bridges leading to them. A bridge whose bus numbers were never
/// observed is drawn as an ordinary function.
pub fn tree(views: &[View<'_>], selected: &[bool], ids: &Ids, verbose: bool, out: &mut Vec<u8>) {
    let mut t = Tree {
        views,
        selected,
        bridges: vec![TBridge {
            primary: !0,
            secondary: 0,
            subordinate: !0,
            dev: None,
            children: Vec::new(),
            buses: Vec::new(),
        }],
        buses: Vec::new(),
        ids,
        verbose,
    };
    for (i, v) in views.iter().enumerate() {
        let is_bridge_class = v.f.class16().is_some_and(|c| c >> 8 == 0x06);
        if let (true, Some((Some(p), Some(s), Some(sub)))) = (is_bridge_class, v.f.bus_numbers()) {
            t.bridges.push(TBridge {
                primary: u32::from(p),
                secondary: u32::from(s),
                subordinate: u32::from(sub),
                dev: Some(i),
                children: Vec::new(),
                buses: Vec::new(),
            });
        }
    }
    // The bridge tree, with lspci's choice of parent (the first candidate
    // with the smallest span, the host bridge's counting as 0).
    for b in 0..t.bridges.len() {
        let mut best: Option<usize> = None;
        for c in 0..t.bridges.len() {
            let (bb, cc) = (&t.bridges[b], &t.bridges[c]);
            let span = |x: &TBridge| x.subordinate.wrapping_sub(x.primary);
            if c != b
                && bb.primary >= cc.secondary
                && bb.primary <= cc.subordinate
                && best.is_none_or(|x| span(&t.bridges[x]) > span(cc))
            {
                best = Some(c);
            }
        }
        if let Some(p) = best {
            t.bridges[p].children.insert(0, b);
        }
    }
    for b in 0..t.bridges.len() {
        let s = t.bridges[b].secondary;
        if t.find_bus(b, s).is_none() {
            t.new_bus(b, s);
        }
    }
    for d in 0..views.len() {
        t.insert_dev(d, 0, 0);
    }
    let mut line = Vec::new();
    show_tree_bridge(&t, 0, &mut line, 0, out, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::Op;

    fn func(bus: u8, slot: u8, f: u8, name: &str, seq: &[(Op, u64, u64)]) -> Function {
        let mut x = Function::new(bus, slot, f, true, name.as_bytes(), 0);
        for &(op, o, v) in seq {
            x.access(op, o, v).unwrap();
        }
        x
    }

    #[test]
    fn tree_like_lspci() {
        use Op::Read as R;
        let dev = |b, s, f| {
            func(
                b,
                s,
                f,
                "x",
                &[(R, 0, 0x1234_8086), (R, 8, 0x0200_0000), (R, 0xe, 0)],
            )
        };
        let bridge = |b, s, p: u64, sec: u64, sub: u64| {
            func(
                b,
                s,
                0,
                "br",
                &[
                    (R, 0, 0x000c_1b36),
                    (R, 8, 0x0604_0000),
                    (R, 0xe, 1),
                    (R, 0x18, p | sec << 8 | sub << 16),
                ],
            )
        };
        let fs = [
            dev(0, 0, 0),
            bridge(0, 0x1c, 0, 1, 1),
            bridge(0, 0x1d, 0, 2, 3),
            dev(1, 0, 0),
            bridge(2, 0, 2, 3, 3),
            dev(3, 1, 0),
            dev(3, 2, 0),
        ];
        let views: Vec<View<'_>> = fs.iter().map(View::new).collect();
        let mut out = Vec::new();
        tree(&views, &[true; 7], &Ids::embedded(), false, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "-[0000:00]-+-00.0\n           +-1c.0-[01]----00.0\n           \\-1d.0-[02-03]----00.0-[03]--+-01.0\n                                        \\-02.0\n"
        );
    }

    #[test]
    fn a_type_known_only_from_the_sizing_read_back_is_said() {
        let mut bar = Bar {
            index: 1,
            offset: 0x14,
            kind: BarKind::Mem {
                bits: 32,
                prefetch: true,
            },
            address: Some(0xfe00_0000),
            size: Some(0x1000),
            enabled: None,
            type_from_sizing: true,
        };
        let mut out = Vec::new();
        bar_line(&bar, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\tRegion 1: Memory at fe000000 (32-bit, prefetchable) [size=4K] \
             [type from the sizing read-back: the register's value was not read]\n"
        );
        bar.type_from_sizing = false;
        let mut out = Vec::new();
        bar_line(&bar, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\tRegion 1: Memory at fe000000 (32-bit, prefetchable) [size=4K]\n"
        );
    }

    #[test]
    fn compact_and_json_bars() {
        let bars = [
            Bar {
                index: 0,
                offset: 0x10,
                kind: BarKind::Mem {
                    bits: 64,
                    prefetch: true,
                },
                address: Some(0xfe20_0000),
                size: Some(0x4000),
                enabled: None,
                type_from_sizing: false,
            },
            Bar {
                index: 6,
                offset: 0x30,
                kind: BarKind::Rom,
                address: None,
                size: Some(1 << 60),
                enabled: None,
                type_from_sizing: false,
            },
        ];
        assert_eq!(
            bars_compact(&bars),
            "0:mem64-pref:0xfe200000:0x4000;6:rom::0x1000000000000000"
        );
        assert_eq!(
            bars_json(&bars),
            "[{\"index\":0,\"kind\":\"mem64-pref\",\"address\":4263510016,\"size\":16384},\
             {\"index\":6,\"kind\":\"rom\",\"address\":null,\"size\":\"1152921504606846976\"}]"
        );
    }
}
