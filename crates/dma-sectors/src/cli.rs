//! Command-line arguments of dma-sectors and their resolution into a
//! [`Config`] before any input is read (labels parsed, output mode checked,
//! the plot file created so a bad path fails before a long scan).

use std::fs::File;
use std::path::PathBuf;

use clap::{ArgGroup, Parser, ValueEnum};
use qtrace_core::Error;
use qtrace_core::cli::{CommonArgs, InputArgs, ToolArgs};

const EXAMPLES: &str = "\
Examples:
  dma-sectors trace.log
      one line per guest request: time, tid, disk, controller, R/W, sector + count, bytes, source
  dma-sectors -o csv trace.log > requests.csv
      columns time,tid,disk,controller,op,sector,sectors,offset,bytes,source
  dma-sectors --summary trace.log.zst
      per disk: reads/writes, bytes, request sizes, % sequential, seeks, first/last time, latency
  dma-sectors --extents -o jsonl trace.log | jq .
      merged sector ranges per disk and direction, with how often they were touched
  dma-sectors --map trace.log
      a shaded picture of each disk (reads left, writes right), for a quick look over ssh
  dma-sectors --plot io.svg trace.log
      only draw sector against time (reads blue, writes red, QEMU's own grey) into io.svg
  dma-sectors --plot io.svg --summary trace.log
      the summary on stdout, and the plot
  dma-sectors --label 0x5645025058c0=root --label disk1=data trace.log
  qemu-system-x86_64 -msg timestamp=on -d trace:dma_blk_io,trace:dma_complete,trace:blk_co_p*,\\
      trace:ide_dma_cb,trace:*ncq*,trace:virtio_blk_*,trace:pci_nvme_read,trace:pci_nvme_write,\\
      trace:scsi_disk_dma_command_*,trace:blk_root_attach ... 2>&1 | dma-sectors --line-buffered
  dma-sectors --follow --pid $! qemu.log
      requests as a QEMU started with `-D qemu.log ... &` logs them, until it exits

Origin: QEMU reads each disk itself when it sets the device up, before the guest
runs (sector 0, to guess the geometry: `disk0 R 0 + 1` from blk_co_preadv alone).
Such a request, seen only at the block layer before the first controller or
dma_blk_io event of its input, is QEMU's: column origin=qemu (text: `qemu` after
the source), its own extents, and --summary counts it apart (qemu_requests,
qemu_bytes) from the guest's requests. Every other request is origin=guest;
in a trace of blk_co_* events alone nothing tells them apart.

Events used (enable whichever you can; more events give better joins):
  requests:   ide_dma_cb, ide_sector_read/write, process_ncq_command, execute_ncq_command_*,
              virtio_blk_handle_read/write, pci_nvme_read/write (nvme_rw, pci_nvme_rw before 6.0),
              scsi_disk_dma_command_READ/WRITE, dma_blk_io
  lengths:    blk_co_preadv, blk_co_pwritev (byte offset and count; blk names the disk)
  completion: dma_complete, dma_aio_cancel, virtio_blk_rw_complete/req_complete (latency)
  disks:      blk_root_attach/detach (disk0, disk1, ... in -drive order), ahci_start_dma

When no request is found, stderr says why: no block I/O events in the input
(and which tool's events it holds instead), or none that makes a request.

Exit status: 0 if a request was found, 1 if none was, 2 if an error occurred.";

/// Turn QEMU block-I/O trace events into the guest's disk requests: which
/// sectors were read and written, per disk, as a blkparse-like listing, CSV or
/// JSON Lines, merged extents, per-disk summaries, a terminal map or an SVG plot.
///
/// One guest request often appears in several events (controller event,
/// dma_blk_io, blk_co_preadv/pwritev); it is reported once. Disks are named
/// disk0, disk1, ... in order of first appearance; the controller kind (ide,
/// ahci, virtio, nvme, scsi) is inferred from the events.
#[derive(Debug, Parser)]
#[command(
    name = "dma-sectors",
    version,
    after_help = EXAMPLES,
    group(ArgGroup::new("report").args(["extents", "summary", "map"]).multiple(false))
)]
pub struct Args {
    /// Output format (default text: blkparse-like for requests, a table for
    /// extents, a block per disk for summaries).
    #[arg(short = 'o', long = "output", value_enum, value_name = "OUTPUT")]
    pub output: Option<OutputKind>,

    /// No header row in -o csv and -o tsv (for `sort | uniq -c`).
    #[arg(long)]
    pub no_header: bool,

    /// Instead of requests, print per disk and direction the merged sector
    /// ranges touched, with how many requests touched each and how many times
    /// its most-touched sector was.
    #[arg(long)]
    pub extents: bool,

    /// Instead of requests, print per disk: reads/writes, requests, bytes,
    /// min/avg/max request size, % sequential, seek distances, first/last
    /// time and completion latency (where completions are traced).
    #[arg(long)]
    pub summary: bool,

    /// Instead of requests, draw each disk as shaded text rows (reads left,
    /// writes right; darker = a sector in that cell was touched more often).
    #[arg(long)]
    pub map: bool,

    /// Rows per disk in --map.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub map_rows: u32,

    /// Write an SVG plot of sector against time (reads and writes in two
    /// colours, QEMU's own requests in grey, one panel per disk) to FILE.
    /// Alone, it is the only output (stdout stays empty); with --summary,
    /// --extents, --map or -o, that is printed too.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,

    /// Sector size in bytes for the sector columns (default 512). Byte offsets
    /// and lengths are converted; NVMe and SCSI logical blocks are converted
    /// through bytes too. A request not aligned to it is reported on stderr.
    #[arg(long, value_name = "BYTES", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=(1u64 << 30)))]
    pub sector_size: u64,

    /// Name a disk: `0xPTR=NAME` (its BlockBackend pointer, as in blk_co_* and
    /// dma_blk_io) or `diskN=NAME` (rename a default name). Repeatable.
    #[arg(long, value_name = "SPEC")]
    pub label: Vec<String>,

    /// Print times as seconds since the first timestamped event.
    #[arg(long)]
    pub relative: bool,

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

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputKind {
    /// Human-readable: blkparse-like request lines, tables.
    Text,
    /// CSV with a header row.
    Csv,
    /// TSV with a header row.
    Tsv,
    /// JSON Lines.
    Jsonl,
}

/// What the run prints on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One record per request (the default).
    Requests,
    /// Merged extents.
    Extents,
    /// Per-disk summaries.
    Summary,
    /// Terminal map.
    Map,
    /// Nothing on stdout: `--plot` alone.
    PlotOnly,
}

/// A `--label` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelKey {
    /// A pointer (BlockBackend, or a device pointer for disks known only by it).
    Ptr(u64),
    /// A default name (`disk3`).
    Name(String),
}

/// Everything resolved from the arguments before reading input.
#[derive(Debug)]
pub struct Config {
    /// What to print.
    pub mode: Mode,
    /// Output format.
    pub output: OutputKind,
    /// No CSV/TSV header row.
    pub no_header: bool,
    /// Sector size in bytes.
    pub sector_size: u64,
    /// Labels, in command-line order.
    pub labels: Vec<(LabelKey, String)>,
    /// The SVG file (already created) and its path.
    pub plot: Option<(File, PathBuf)>,
    /// Rows per disk in the map.
    pub map_rows: u32,
    /// Relative times.
    pub relative: bool,
}

/// Parses one `--label` value.
pub fn parse_label(s: &str) -> Result<(LabelKey, String), Error> {
    let bad = || {
        Error::usage(format!(
            "--label '{s}': expected 0xPTR=NAME (a BlockBackend pointer) or diskN=NAME"
        ))
    };
    let (key, name) = s.split_once('=').ok_or_else(bad)?;
    if name.is_empty() || name.chars().any(|c| c.is_control()) {
        return Err(bad());
    }
    let key = key.trim();
    let key = if let Some(hex) = key.strip_prefix("0x").or_else(|| key.strip_prefix("0X")) {
        LabelKey::Ptr(u64::from_str_radix(hex, 16).map_err(|_| bad())?)
    } else if key
        .strip_prefix("disk")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        LabelKey::Name(key.to_string())
    } else {
        return Err(bad());
    };
    Ok((key, name.to_string()))
}

/// Resolves the arguments.
pub fn resolve(args: &Args) -> Result<Config, Error> {
    let mode = if args.extents {
        Mode::Extents
    } else if args.summary {
        Mode::Summary
    } else if args.map {
        Mode::Map
    } else if args.plot.is_some() && args.output.is_none() {
        Mode::PlotOnly
    } else {
        Mode::Requests
    };
    let output = args.output.unwrap_or(OutputKind::Text);
    if mode == Mode::Map && output != OutputKind::Text {
        return Err(Error::usage(
            "--map draws text; it cannot be combined with -o csv/tsv/jsonl",
        ));
    }
    if args.no_header && !matches!(output, OutputKind::Csv | OutputKind::Tsv) {
        return Err(Error::usage(
            "--no-header is for -o csv and -o tsv (the other formats have no header row)",
        ));
    }
    let labels = args
        .label
        .iter()
        .map(|l| parse_label(l))
        .collect::<Result<Vec<_>, _>>()?;
    let plot = match &args.plot {
        Some(p) => {
            let f = File::create(p).map_err(|source| {
                Error::usage(format!(
                    "--plot {}: cannot create it: {source}",
                    p.display()
                ))
            })?;
            Some((f, p.clone()))
        }
        None => None,
    };
    Ok(Config {
        mode,
        output,
        no_header: args.no_header,
        sector_size: args.sector_size,
        labels,
        plot,
        map_rows: args.map_rows,
        relative: args.relative,
    })
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
    fn labels() {
        assert_eq!(
            parse_label("0x55e7aa=root").unwrap(),
            (LabelKey::Ptr(0x55e7aa), "root".to_string())
        );
        assert_eq!(
            parse_label("disk12=data").unwrap(),
            (LabelKey::Name("disk12".into()), "data".to_string())
        );
        for bad in [
            "root", "0x=a", "0xzz=a", "disk=a", "sda=b", "0x1=", "diskx=a",
        ] {
            assert!(parse_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn report_modes_exclude_each_other() {
        assert!(Args::try_parse_from(["d", "--extents", "--summary"]).is_err());
        assert!(Args::try_parse_from(["d", "--map", "--summary"]).is_err());
        assert!(Args::try_parse_from(["d", "--sector-size", "0"]).is_err());
        let a = Args::try_parse_from(["d", "--map", "-o", "csv"]).unwrap();
        assert!(resolve(&a).is_err());
        let a = Args::try_parse_from(["d", "--no-header", "--summary"]).unwrap();
        assert!(resolve(&a).is_err());
    }

    #[test]
    fn plot_alone_prints_nothing_else() {
        let dir = std::env::temp_dir().join(format!("dma-sectors-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("io.svg");
        let svg = svg.to_str().unwrap();
        for (flags, mode) in [
            (&[][..], Mode::PlotOnly),
            (&["-o", "text"], Mode::Requests),
            (&["-o", "csv"], Mode::Requests),
            (&["--summary"], Mode::Summary),
            (&["--extents"], Mode::Extents),
            (&["--map"], Mode::Map),
        ] {
            let a = Args::try_parse_from(["d", "--plot", svg].iter().chain(flags)).unwrap();
            assert_eq!(resolve(&a).unwrap().mode, mode, "{flags:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
