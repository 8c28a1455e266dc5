//! Command-line arguments of qtrace-filter and their resolution into a config.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use qtrace_core::cli::{CommonArgs, InputArgs, ToolArgs};

const EXAMPLES: &str = "\
Examples:
  qtrace-filter pci_cfg_read trace.log
      the pci_cfg_read lines, byte for byte (a drop-in for grep)
  qtrace-filter -o csv pci_cfg_read trace.log > pci.csv
      decoded fields (time,tid,event,dev,bus,slot,func,offs,val) for a spreadsheet
  qtrace-filter -o jsonl 'ps2_*' -w 'keycode>=0x80' trace.log | jq .
  qtrace-filter -c '*' trace.log.zst
      how many of each event (inputs may be gzip or zstd)
  qtrace-filter -e 'pci_*' -e -pci_nvme_* --stats trace.log
  qtrace-filter -w 'dev==e1000' -w 'offs<0x40' -f time,offs,val pci_cfg_read trace.log
      the named fields as text (-f implies -o text; add -o csv for CSV)
  qtrace-filter -B 5 -m 1 'pci_nvme_err_*' trace.log
      the five lines before the first NVMe error, as grep -B 5 -m 1 shows them
  qtrace-filter -o csv --no-header -f dev,offs pci_cfg_read trace.log | sort | uniq -c
  qemu-system-x86_64 -d trace:'pci_*' ... 2>&1 | qtrace-filter --line-buffered -o csv pci_cfg_read
  qtrace-filter --follow --pid $! -o csv pci_cfg_read qemu.log
      rows as a QEMU started with `-D qemu.log ... &` logs them, until it exits
  qtrace-filter --normalize dma_blk_io run1.log > a; qtrace-filter --normalize dma_blk_io run2.log > b; diff a b
  qtrace-filter --list 'ps2_*'; qtrace-filter --explain pci_cfg_read

When nothing is selected, a line on stderr says why: a pattern that names no
known event (with the nearest names), or which events the input holds.

Exit status: 0 if an event was selected, 1 if none was, 2 if an error occurred.";

/// Select QEMU trace events by name, decode their arguments into named fields,
/// filter on them, and print raw lines, text, CSV, TSV or JSON Lines.
///
/// PATTERN is an event-name glob with QEMU's semantics (`*`, `?`); a
/// comma-separated list is allowed, and a leading `-` excludes (`pci_*,-pci_nvme_*`).
#[derive(Debug, Parser)]
#[command(
    name = "qtrace-filter",
    version,
    after_help = EXAMPLES,
    override_usage = "qtrace-filter [OPTIONS] PATTERN [FILE]...\n       qtrace-filter [OPTIONS] -e PATTERN... [FILE]...\n       qtrace-filter --list [GLOB] | --explain EVENT"
)]
pub struct Args {
    /// A pattern (repeatable); then every positional argument is a file.
    #[arg(
        short = 'e',
        long = "regexp",
        value_name = "PATTERN",
        allow_hyphen_values = true
    )]
    pub patterns: Vec<String>,

    /// Read patterns from a QEMU events file (one per line, `#` comments, `-` excludes).
    #[arg(long, value_name = "FILE")]
    pub events_file: Vec<PathBuf>,

    /// Output format [default: raw; text with -f].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputKind>,

    /// Columns to print (comma-separated): time, tid, event, input, line,
    /// message, context, or argument names. Implies -o text unless -o says
    /// csv, tsv or jsonl.
    #[arg(
        short = 'f',
        long = "fields",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub fields: Vec<String>,

    /// How integers are printed: in the event's own radix (default), decimal,
    /// hex, or exactly as the log printed them.
    #[arg(long, value_enum, default_value_t = NumberStyle::Radix)]
    pub numbers: NumberStyle,

    /// Keep only events where EXPR holds (repeatable; all must hold):
    /// `field OP value`, OP one of == != < <= > >= on numbers, == != ~ (regex) on strings.
    #[arg(short = 'w', long = "where", value_name = "EXPR")]
    pub wheres: Vec<String>,

    /// Select the events that do NOT match.
    #[arg(short = 'v', long)]
    pub invert: bool,

    /// Stop reading an input after NUM selected events (as grep -m); with -c
    /// or --stats, count at most NUM per input. After-context is still printed.
    #[arg(short = 'm', long = "max-count", value_name = "NUM")]
    pub max_count: Option<u64>,

    /// Print NUM input lines after each selected event (grep's context: every
    /// line in raw and text output, the neighbouring events in csv, tsv and
    /// jsonl, marked as context; `--` between groups in raw and text output).
    #[arg(short = 'A', long = "after-context", value_name = "NUM")]
    pub after_context: Option<usize>,

    /// Print NUM input lines before each selected event (see -A); at most NUM
    /// lines are held in memory.
    #[arg(short = 'B', long = "before-context", value_name = "NUM")]
    pub before_context: Option<usize>,

    /// Print NUM input lines before and after each selected event (-A and -B
    /// take precedence).
    #[arg(short = 'C', long = "context", value_name = "NUM")]
    pub context: Option<usize>,

    /// No header row in -o csv and -o tsv (for `sort | uniq -c`), with -c and
    /// --stats too.
    #[arg(long)]
    pub no_header: bool,

    /// Print how many of each selected event there were, most frequent first.
    #[arg(short = 'c', long)]
    pub count: bool,

    /// Print per-event statistics: count, first and last time, rate.
    #[arg(long, conflicts_with = "count")]
    pub stats: bool,

    /// List the catalog's events (matching GLOB) with their arguments and formats.
    #[arg(long, value_name = "GLOB", num_args = 0..=1, default_missing_value = "*")]
    pub list: Option<String>,

    /// Show every known format of EVENT and the fields it decodes to.
    #[arg(long, value_name = "EVENT")]
    pub explain: Option<String>,

    /// Only events at or after TIME: seconds after the first event, or absolute
    /// on the line's own clock with `@SECONDS` or an ISO-8601 timestamp.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events at or before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Print times as seconds since the first event.
    #[arg(long)]
    pub relative: bool,

    /// Pass lines that are not trace events through (raw and text output);
    /// with -c or --stats, count them in a last row named `(other)`.
    #[arg(long)]
    pub keep_other: bool,

    /// Print the input name with each output line or record.
    #[arg(short = 'H', long)]
    pub with_filename: bool,

    /// With raw/log output of a binary simple trace, start each line with
    /// `PID@SEC.USEC:` as QEMU's log backend does with `-msg timestamp=on`.
    #[arg(long)]
    pub prefix: bool,

    /// Replace host pointers, thread ids and timestamps with stable tokens
    /// (p1, p2, ...; tid1, ...; T) so two runs can be compared with diff.
    /// At most 1,000,000 pointers and 4,096 thread ids get tokens (or
    /// $QTRACE_MAX_KEYS of each); further ones are printed as they are, and
    /// the run says so and exits 2.
    #[arg(long)]
    pub normalize: bool,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

impl Args {
    /// The output format: `-o`, or text when `-f` names fields, else raw.
    pub fn output_kind(&self) -> OutputKind {
        match self.output {
            Some(o) => o,
            None if !self.fields.is_empty() => OutputKind::Text,
            None => OutputKind::Raw,
        }
    }

    /// Lines of context before and after each selected event (`-B`, `-A`,
    /// `-C`); none when counting.
    pub fn context_lines(&self) -> (usize, usize) {
        if self.count || self.stats {
            return (0, 0);
        }
        let c = self.context.unwrap_or(0);
        (
            self.before_context.unwrap_or(c),
            self.after_context.unwrap_or(c),
        )
    }
}

impl ToolArgs for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// What to print for each selected event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputKind {
    /// The original lines, byte for byte (binary simple traces: rendered as
    /// QEMU's log backend prints them).
    Raw,
    /// The same as raw: events as QEMU's log backend prints them.
    Log,
    /// `key=value` text.
    Text,
    /// CSV with a header row.
    Csv,
    /// TSV with a header row.
    Tsv,
    /// JSON Lines.
    Jsonl,
}

/// How integers are printed in text, CSV and TSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NumberStyle {
    /// The radix the event printed (hex with `0x`).
    Radix,
    /// Decimal.
    Dec,
    /// Hexadecimal with `0x`.
    Hex,
    /// Exactly the text of the log.
    Asis,
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
    fn fields_imply_text_and_context_follows_grep() {
        let parse = |a: &[&str]| Args::try_parse_from(a).unwrap();
        assert_eq!(parse(&["q", "x"]).output_kind(), OutputKind::Raw);
        assert_eq!(
            parse(&["q", "-f", "time", "x"]).output_kind(),
            OutputKind::Text
        );
        assert_eq!(
            parse(&["q", "-f", "time", "-o", "csv", "x"]).output_kind(),
            OutputKind::Csv
        );
        assert_eq!(parse(&["q", "-C", "2", "x"]).context_lines(), (2, 2));
        assert_eq!(
            parse(&["q", "-C", "2", "-A", "1", "x"]).context_lines(),
            (2, 1)
        );
        assert_eq!(parse(&["q", "-B", "3", "x"]).context_lines(), (3, 0));
        assert_eq!(parse(&["q", "-c", "-B", "3", "x"]).context_lines(), (0, 0));
    }
}
