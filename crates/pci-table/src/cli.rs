//! Command-line arguments of pci-table.

use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};
use qtrace_core::cli::{CommonArgs, InputArgs, ToolArgs};

const EXAMPLES: &str = "\
Examples:
  pci-table trace.log
      one line per function, like `lspci -nn`, plus QEMU's device type: {e1000}
  pci-table -v -s 00:03.0 trace.log
      BARs with the sizes the guest's own sizing found, IRQ, subsystem,
      capabilities, and which config bytes the trace revealed
  pci-table -t trace.log.zst
      the bus tree through bridges, like `lspci -t`
  pci-table -n trace.log
      ids without names, like `lspci -n`: 00:03.0 0200: 8086:100e (rev 03) {e1000}
  pci-table -xxx trace.log > dump && lspci -F dump -vv
      an `lspci -x` hex dump that the real lspci can read
  pci-table -o jsonl trace.log | jq -c '{bdf, qemu_name, bars}'
  pci-table -o csv -d 8086: trace.log > intel.csv
  pci-table --accesses --writes-only -s 1f.2 trace.log
      every write to 00:1f.2 in order, with register names and decoded bits
  qemu-system-x86_64 -d trace:pci_cfg_* ... 2>&1 | pci-table --accesses --line-buffered
  pci-table --follow qemu.log
      the table of a log QEMU is still writing (-D), printed on Ctrl-C or SIGTERM

Input: the pci_cfg_read / pci_cfg_write events of any QEMU version (other
lines are ignored). QEMU up to 6.2 prints no bus number: bus 0 is assumed.

When nothing is listed, stderr says why: no config accesses in the input
(and which tool's events it holds instead), or no function matching -s/-d.

Exit status: 0 if a function was listed, 1 if none was, 2 if an error occurred.";

/// Rebuild what `lspci` would have shown inside the guest from a QEMU trace of
/// PCI configuration accesses (pci_cfg_read / pci_cfg_write), plus what lspci
/// cannot show: QEMU's device type, the bytes the guest actually read or
/// wrote, BAR sizes from the guest's own sizing, and the writes in order.
#[derive(Debug, Parser)]
#[command(name = "pci-table", version, after_help = EXAMPLES)]
pub struct Args {
    /// Be verbose: BARs, IRQ line and pin, subsystem, bus numbers,
    /// capabilities, coverage (with --accesses: input and line of each access).
    #[arg(short = 'v', long, action = ArgAction::Count)]
    pub verbose: u8,

    /// Show the bus tree through bridges, like `lspci -t`.
    #[arg(short = 't', long, conflicts_with_all = ["dump", "accesses"])]
    pub tree: bool,

    /// Hex dump of config space in `lspci -x` format (64 bytes; -xxx: 256;
    /// -xxxx: 4096 for PCI Express functions), readable by `lspci -F FILE`.
    #[arg(short = 'x', long = "dump", action = ArgAction::Count, conflicts_with = "accesses")]
    pub dump: u8,

    /// Print the annotated access log (one line per access, with register
    /// names) instead of the table.
    #[arg(long)]
    pub accesses: bool,

    /// With --accesses: only writes.
    #[arg(long, requires = "accesses")]
    pub writes_only: bool,

    /// Output format: lspci-style lines, or one record per function (per
    /// access with --accesses) in CSV, TSV, JSON Lines or key=value text.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputKind::Lspci)]
    pub output: OutputKind,

    /// Only functions in this slot, in lspci's syntax (hex; parts may be
    /// omitted or `*`).
    #[arg(short = 's', value_name = "[[[DOMAIN]:]BUS:][SLOT][.[FUNC]]")]
    pub slot: Option<String>,

    /// Only functions with these ids, in lspci's syntax (hex; parts may be
    /// omitted or `*`).
    #[arg(short = 'd', value_name = "[VENDOR]:[DEVICE][:CLASS[:PROG_IF]]")]
    pub ids_filter: Option<String>,

    /// How lspci-style lines show ids, as lspci's own -n does: -n numbers
    /// only (`00:00.0 0600: 8086:1237 (rev 02)`), -nn names and numbers
    /// (the default). CSV, TSV, JSON Lines and text records always have both.
    #[arg(short = 'n', long = "numeric", action = ArgAction::Count)]
    pub numeric: u8,

    /// No header row in -o csv and -o tsv (for `sort | uniq -c`).
    #[arg(long)]
    pub no_header: bool,

    /// Read names from this pci.ids file instead of the embedded PCI ID
    /// database.
    #[arg(short = 'i', long = "ids", value_name = "FILE")]
    pub ids: Option<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

impl ToolArgs for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputKind {
    /// `lspci -nn`-style lines (and -v, -t, -x views).
    Lspci,
    /// CSV with a header row.
    Csv,
    /// TSV with a header row.
    Tsv,
    /// JSON Lines: one object per function (or access).
    Jsonl,
    /// `key=value` text.
    Text,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Args::command().debug_assert();
    }

    #[test]
    fn lspci_style_flags() {
        let a = Args::try_parse_from(["pci-table", "-xxx", "-vv", "-s", "1f.2", "t.log"]).unwrap();
        assert_eq!((a.dump, a.verbose), (3, 2));
        assert!(Args::try_parse_from(["pci-table", "-t", "-x"]).is_err());
        assert!(Args::try_parse_from(["pci-table", "--writes-only"]).is_err());
        for (flags, n) in [
            (&["-n"][..], 1),
            (&["-nn"], 2),
            (&["-n", "-v"], 1),
            (&[], 0),
        ] {
            let a = Args::try_parse_from(["pci-table"].iter().chain(flags)).unwrap();
            assert_eq!(a.numeric, n, "{flags:?}");
        }
    }
}
