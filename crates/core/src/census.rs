//! Why a tool found nothing: a census of the event names its inputs hold,
//! and the sentence every tool prints on stderr when none of them is one it
//! reads ("no pci_cfg_read/pci_cfg_write events in 3,612 lines (this looks
//! like a PS/2 keyboard trace: ...; try ps2-decode)").
//!
//! The tools skip most lines unexamined (a prefilter on a needle such as
//! `pci_cfg_`, or splitting threads that leave out other events), so what
//! their own scan saw cannot say what a trace holds. [`Census::take`] reads
//! the inputs a second time, examining every line, but only when a run
//! found nothing and only the inputs that can be read again (regular
//! files, compressed or not): standard input and pipes are read once, and
//! for them the sentence claims no more than the lines the scan counted.
//! The census keeps a bounded table of names (at most [`MAX_NAMES`]); its
//! messages (an over-long line, a read error) go to a diagnostics sink of
//! its own that prints nothing, so they neither repeat on stderr nor change
//! the run's exit status.
//!
//! Which tool a trace belongs to is decided by the events it holds
//! ([`Family::of`]): `pci_cfg_*` is pci-table's, `ps2_*` and `pckbd_*`
//! ps2-decode's, the block-layer and disk-controller events dma-sectors';
//! a trace is sent to a tool only when it holds events that tool reads
//! ([`Family::read_by_tool`]: `pckbd_*` alone is not ps2-decode's input).
//! What a tool itself looked for, and when to ask, stays in the tool.

use rustc_hash::FxHashMap;

use crate::catalog::Catalog;
use crate::input::Input;
use crate::limits::Limit;
use crate::scan::{Diag, Record, ScanOptions, Scanner};

/// Distinct event names counted at most (real traces hold a few hundred).
pub const MAX_NAMES: usize = 4096;
/// Bytes of event names kept at most.
const MAX_NAME_BYTES: usize = 1 << 20;
/// Event names shown in a sentence at most.
const SHOWN: usize = 3;

/// The tools whose events a trace may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `pci_cfg_read` / `pci_cfg_write`: pci-table.
    Pci,
    /// The PS/2 keyboard and i8042 events: ps2-decode.
    Ps2,
    /// Block-layer, DMA and disk-controller events: dma-sectors.
    Block,
}

impl Family {
    /// Every family, in the order ties are decided.
    pub const ALL: [Family; 3] = [Family::Pci, Family::Ps2, Family::Block];

    /// The tool that reads these events.
    pub fn tool(self) -> &'static str {
        match self {
            Family::Pci => "pci-table",
            Family::Ps2 => "ps2-decode",
            Family::Block => "dma-sectors",
        }
    }

    /// What a trace of these events is, after "this looks like a".
    pub fn trace_kind(self) -> &'static str {
        match self {
            Family::Pci => "PCI configuration trace",
            Family::Ps2 => "PS/2 keyboard trace",
            Family::Block => "block I/O trace",
        }
    }

    /// Whether the family's tool reads this event (a subset of the
    /// family's names: not `ide_reset`, `pckbd_*`, `dma_blk_cb` ...).
    pub fn read_by_tool(self, name: &[u8]) -> bool {
        const BLOCK: &[&[u8]] = &[
            b"dma_blk_io",
            b"dma_complete",
            b"ide_dma_cb",
            b"ide_sector_",
            b"process_ncq_command",
            b"execute_ncq_command_",
            b"blk_co_p",
            b"bdrv_aio_",
            b"virtio_blk_handle_",
            b"virtio_blk_rw_complete",
            b"pci_nvme_read",
            b"pci_nvme_write",
            b"pci_nvme_rw",
            b"nvme_rw",
            b"scsi_disk_dma_command_",
        ];
        match self {
            Family::Pci => name == b"pci_cfg_read" || name == b"pci_cfg_write",
            Family::Ps2 => name.starts_with(b"ps2_"),
            Family::Block => BLOCK.iter().any(|p| name.starts_with(p)),
        }
    }

    /// The family an event name belongs to, if any.
    pub fn of(name: &[u8]) -> Option<Family> {
        const BLOCK_PREFIXES: &[&[u8]] = &[
            b"dma_blk_",
            b"dma_complete",
            b"dma_aio_cancel",
            b"ide_",
            b"ahci_",
            b"process_ncq_command",
            b"execute_ncq_command_",
            b"ncq_finish",
            b"blk_co_",
            b"blk_root_",
            b"bdrv_aio_",
            b"virtio_blk_",
            b"pci_nvme_",
            b"nvme_",
            b"scsi_disk_",
            b"scsi_req_",
        ];
        if name.starts_with(b"pci_cfg_") {
            Some(Family::Pci)
        } else if name.starts_with(b"ps2_") || name.starts_with(b"pckbd_") {
            Some(Family::Ps2)
        } else if BLOCK_PREFIXES.iter().any(|p| name.starts_with(p)) {
            Some(Family::Block)
        } else {
            None
        }
    }
}

/// The event names of inputs read a second time; see the module
/// documentation.
#[derive(Debug, Default)]
pub struct Census {
    lines: u64,
    /// Some input is a binary simple trace: its lines are records.
    binary: bool,
    events: u64,
    /// Events whose name the bounded table had no room for.
    uncounted: u64,
    /// By name: how many lines.
    names: FxHashMap<Box<[u8]>, u64>,
}

impl Census {
    /// Reads every input again, examining each line, when all of them can
    /// be read again (regular files); `None` otherwise (standard input, a
    /// pipe, a file that cannot be opened any more). `max_line` is the
    /// tool's `--max-line-len`.
    pub fn take(catalog: &Catalog, inputs: &[Input], max_line: usize) -> Option<Census> {
        let rereadable = |i: &Input| match i {
            Input::Stdin => false,
            Input::Path(p) => std::fs::metadata(p).is_ok_and(|m| m.is_file()),
        };
        if inputs.is_empty() || !inputs.iter().all(rereadable) {
            return None;
        }
        let opts = ScanOptions {
            max_line,
            names_only: true,
            ..ScanOptions::default()
        };
        let mut census = Census {
            binary: inputs.iter().any(|i| {
                i.open()
                    .is_ok_and(|o| o.encoding == crate::input::Encoding::SimpleTrace)
            }),
            ..Census::default()
        };
        let mut scanner = Scanner::new(catalog, opts);
        // Messages about the inputs were printed by the tool's own scan.
        let quiet = Diag::quiet("census");
        let mut limit = Limit::with_cap("event names", MAX_NAMES).with_byte_budget(MAX_NAME_BYTES);
        let scanned = scanner.scan_all(inputs, &quiet, |_, rec| {
            if let Record::Event(ev) = rec {
                census.count(ev.name, &mut limit);
            }
            Ok(true)
        });
        if scanned.is_err() || quiet.errors() > 0 {
            return None;
        }
        census.lines = scanner.stats.lines;
        Some(census)
    }

    #[inline]
    fn count(&mut self, name: &[u8], limit: &mut Limit) {
        self.events += 1;
        if let Some(n) = self.names.get_mut(name) {
            *n += 1;
        } else if limit.admit_bytes(self.names.len(), name.len(), String::new) {
            self.names.insert(name.into(), 1);
        } else {
            self.uncounted += 1;
        }
    }

    /// A census of these names and counts (tests, and tools that counted
    /// for themselves).
    pub fn from_counts<'n>(
        lines: u64,
        counts: impl IntoIterator<Item = (&'n [u8], u64)>,
    ) -> Census {
        let mut c = Census {
            lines,
            ..Census::default()
        };
        for (name, n) in counts {
            c.events += n;
            *c.names.entry(name.into()).or_default() += n;
        }
        c
    }

    /// Lines read (every line of every input).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Lines that were trace events.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The names with their counts, most common first (ties by name).
    pub fn most_common(&self) -> Vec<(&[u8], u64)> {
        let mut v: Vec<(&[u8], u64)> = self.names.iter().map(|(k, &n)| (&k[..], n)).collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    /// The family with the most events its tool reads, and how many.
    pub fn main_family(&self) -> Option<(Family, u64)> {
        let mut per = [0u64; 3];
        for (name, &n) in &self.names {
            if let Some(f) = Family::of(name)
                && f.read_by_tool(name)
            {
                per[f as usize] += n;
            }
        }
        Family::ALL
            .into_iter()
            .map(|f| (f, per[f as usize]))
            .filter(|&(_, n)| n > 0)
            .fold(None, |best: Option<(Family, u64)>, x| match best {
                Some(b) if b.1 >= x.1 => Some(b),
                _ => Some(x),
            })
    }
}

/// What a tool looked for and found none of, for [`explain_none`].
#[derive(Debug, Clone, Copy)]
pub struct LookedFor<'a> {
    /// The tool's own family.
    pub family: Family,
    /// What it reads, after "no": `pci_cfg_read/pci_cfg_write events`.
    pub what: &'a str,
    /// How to get them, ending the sentence: `enable them with -d
    /// 'trace:pci_cfg_*'`.
    pub enable: &'a str,
}

/// The sentence (without the tool's prefix) that explains why a tool found
/// none of its events: `lines_read` is what its own scan counted over
/// `inputs` (their number gives "its"/"their"), `census` what a second
/// reading found, if there was one.
pub fn explain_none(
    looked: &LookedFor<'_>,
    inputs: usize,
    lines_read: u64,
    census: Option<&Census>,
) -> String {
    let empty = if inputs > 1 {
        "the inputs are empty"
    } else {
        "the input is empty"
    };
    let Some(c) = census else {
        if lines_read == 0 {
            return format!("no {}: {empty}", looked.what);
        }
        return format!(
            "no {} in {} (the input was read once; {})",
            looked.what,
            count_lines(lines_read),
            looked.enable
        );
    };
    let its = if inputs > 1 { "their" } else { "its" };
    if c.lines() == 0 {
        return format!("no {}: {empty}", looked.what);
    }
    if c.events() == 0 {
        let is = if c.lines() == 1 {
            format!("{its} only line is not")
        } else {
            format!("none of {its} {} lines is", thousands(c.lines()))
        };
        return format!(
            "no {}: {is} a QEMU trace event ({})",
            looked.what, looked.enable
        );
    }
    let common = c.most_common();
    let lines = if c.binary {
        count_records(c.lines())
    } else {
        count_lines(c.lines())
    };
    let head = format!("no {} in {lines}", looked.what);
    if let Some((f, _)) = c.main_family()
        && f != looked.family
    {
        let names: Vec<String> = common
            .iter()
            .filter(|(n, _)| Family::of(n) == Some(f) && f.read_by_tool(n))
            .take(SHOWN)
            .map(|(n, _)| shown_name(n))
            .collect();
        return format!(
            "{head} (this looks like a {}: {}; try {})",
            f.trace_kind(),
            names.join(", "),
            f.tool()
        );
    }
    let names: Vec<String> = common
        .iter()
        .take(SHOWN)
        .map(|(n, k)| format!("{} ({})", shown_name(n), thousands(*k)))
        .collect();
    let more = if common.len() > SHOWN || c.uncounted > 0 {
        ", ..."
    } else {
        ""
    };
    format!(
        "{head} ({its} most common events: {}{more}; {})",
        names.join(", "),
        looked.enable
    )
}

/// `1 line`, `3,612 lines`.
pub fn count_lines(n: u64) -> String {
    if n == 1 {
        "1 line".to_string()
    } else {
        format!("{} lines", thousands(n))
    }
}

/// `1 record`, `3,612 records` (of a binary trace).
pub fn count_records(n: u64) -> String {
    if n == 1 {
        "1 record".to_string()
    } else {
        format!("{} records", thousands(n))
    }
}

/// `n` with commas between groups of three digits: `3,612`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// An event name as shown in a message: bounded, control bytes escaped.
pub fn shown_name(name: &[u8]) -> String {
    let cut = &name[..name.len().min(64)];
    let mut s: String = String::from_utf8_lossy(cut)
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    if name.len() > 64 {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCI: LookedFor<'static> = LookedFor {
        family: Family::Pci,
        what: "pci_cfg_read/pci_cfg_write events",
        enable: "enable them with -d 'trace:pci_cfg_*'",
    };

    #[test]
    fn thousands_are_grouped() {
        for (n, s) in [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1000, "1,000"),
            (3612, "3,612"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), s);
        }
        assert_eq!(count_lines(1), "1 line");
        assert_eq!(count_lines(12_000), "12,000 lines");
    }

    #[test]
    fn families_by_name() {
        assert_eq!(Family::of(b"pci_cfg_write"), Some(Family::Pci));
        assert_eq!(Family::of(b"ps2_put_keycode"), Some(Family::Ps2));
        assert_eq!(Family::of(b"pckbd_kbd_read_data"), Some(Family::Ps2));
        for b in [
            &b"blk_co_preadv"[..],
            b"ide_dma_cb",
            b"pci_nvme_read",
            b"dma_blk_io",
        ] {
            assert_eq!(Family::of(b), Some(Family::Block));
        }
        assert_eq!(Family::of(b"pci_update_mappings_add"), None);
        assert_eq!(Family::of(b"qemu_mutex_lock"), None);
    }

    #[test]
    fn another_tools_trace_is_named_with_its_tool() {
        let c = Census::from_counts(
            3612,
            [
                (&b"ps2_put_keycode"[..], 900),
                (b"ps2_keyboard_event", 450),
                (b"pci_update_mappings_add", 2000),
            ],
        );
        assert_eq!(
            explain_none(&PCI, 1, 3612, Some(&c)),
            "no pci_cfg_read/pci_cfg_write events in 3,612 lines (this looks like a PS/2 \
             keyboard trace: ps2_put_keycode, ps2_keyboard_event; try ps2-decode)"
        );
    }

    #[test]
    fn otherwise_the_most_common_events_and_how_to_enable_the_tools() {
        let c = Census::from_counts(
            10,
            [
                (&b"a_event"[..], 5),
                (b"b_event", 3),
                (b"c_event", 1),
                (b"d_event", 1),
            ],
        );
        assert_eq!(
            explain_none(&PCI, 2, 10, Some(&c)),
            "no pci_cfg_read/pci_cfg_write events in 10 lines (their most common events: \
             a_event (5), b_event (3), c_event (1), ...; enable them with -d 'trace:pci_cfg_*')"
        );
        // The tool's own family dominating is no reason to send the user
        // elsewhere (dma-sectors on a trace of ide_reset alone).
        let block = LookedFor {
            family: Family::Block,
            what: "block I/O events",
            enable: "enable them",
        };
        let c = Census::from_counts(4, [(&b"ide_reset"[..], 4)]);
        assert_eq!(c.main_family(), None);
        assert_eq!(
            explain_none(&block, 1, 4, Some(&c)),
            "no block I/O events in 4 lines (its most common events: ide_reset (4); enable them)"
        );
    }

    #[test]
    fn only_a_tool_that_reads_the_events_is_named() {
        // i8042 events alone are no input for ps2-decode.
        let c = Census::from_counts(9, [(&b"pckbd_kbd_read_status"[..], 9)]);
        assert_eq!(c.main_family(), None);
        assert_eq!(
            explain_none(&PCI, 1, 9, Some(&c)),
            "no pci_cfg_read/pci_cfg_write events in 9 lines (its most common events: \
             pckbd_kbd_read_status (9); enable them with -d 'trace:pci_cfg_*')"
        );
        let mut c = Census::from_counts(9, [(&b"blk_co_preadv"[..], 2), (b"ide_exec_cmd", 7)]);
        c.binary = true;
        assert_eq!(
            explain_none(&PCI, 1, 9, Some(&c)),
            "no pci_cfg_read/pci_cfg_write events in 9 records (this looks like a block I/O \
             trace: blk_co_preadv; try dma-sectors)"
        );
    }

    #[test]
    fn not_a_trace_empty_and_read_once() {
        let c = Census::from_counts(256, []);
        assert_eq!(
            explain_none(&PCI, 1, 256, Some(&c)),
            "no pci_cfg_read/pci_cfg_write events: none of its 256 lines is a QEMU trace \
             event (enable them with -d 'trace:pci_cfg_*')"
        );
        let c = Census::from_counts(1, []);
        assert!(explain_none(&PCI, 1, 1, Some(&c)).contains(": its only line is not a QEMU"));
        let c = Census::from_counts(0, []);
        assert_eq!(
            explain_none(&PCI, 1, 0, Some(&c)),
            "no pci_cfg_read/pci_cfg_write events: the input is empty"
        );
        assert_eq!(
            explain_none(&PCI, 2, 0, None),
            "no pci_cfg_read/pci_cfg_write events: the inputs are empty"
        );
        assert_eq!(
            explain_none(&PCI, 1, 5000, None),
            "no pci_cfg_read/pci_cfg_write events in 5,000 lines (the input was read once; \
             enable them with -d 'trace:pci_cfg_*')"
        );
    }

    #[test]
    fn a_census_reads_files_again_but_not_standard_input() {
        let dir = std::env::temp_dir().join(format!("qtrace-census-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.log");
        std::fs::write(
            &p,
            "1@1.000001:ps2_put_keycode 0x10 keycode 0x1c\nnot an event\n\
             1@1.000002:ps2_put_keycode 0x10 keycode 0xf0\n",
        )
        .unwrap();
        let catalog = Catalog::builtin();
        let c = Census::take(&catalog, &[Input::Path(p.clone())], 1 << 20).unwrap();
        assert_eq!((c.lines(), c.events()), (3, 2));
        assert_eq!(c.most_common(), [(&b"ps2_put_keycode"[..], 2)]);
        assert_eq!(c.main_family(), Some((Family::Ps2, 2)));
        assert!(Census::take(&catalog, &[Input::Stdin], 1 << 20).is_none());
        let gone = dir.join("absent.log");
        assert!(Census::take(&catalog, &[Input::Path(gone)], 1 << 20).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_name_table_is_bounded() {
        let mut c = Census::default();
        let mut limit = Limit::with_cap("event names", 2);
        for name in [&b"a"[..], b"b", b"c", b"a", b"d"] {
            c.count(name, &mut limit);
        }
        assert_eq!((c.events(), c.uncounted, c.names.len()), (5, 2, 2));
    }
}
