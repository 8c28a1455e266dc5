//! Record writers shared by every tool: CSV, TSV, JSON Lines and `key=value` text.
//!
//! A tool describes its records once as a list of column names, then writes
//! rows of [`Cell`]s in that order. The conventions (documented in
//! `docs/formats.md`) are the same in every tool:
//! - integers are JSON numbers; above 2^53 (where JSON readers such as jq and
//!   JavaScript lose digits) they are written as JSON strings of the decimal
//!   value; in CSV/text they are printed in the radix the cell asks for;
//! - host pointers are strings (`"0x55e7…"`), never numbers;
//! - timestamps are the exact text of the log (strings), relative times are
//!   seconds with 6 decimals;
//! - a value never observed is `null` in JSON and an empty CSV field;
//!   [`Cell::Absent`] (a column that does not apply to this record) is left out
//!   of JSON objects altogether;
//! - bytes that are not UTF-8 go to CSV/text byte for byte, and to JSON as
//!   lone surrogate escapes `\udcXX` (PEP 383 "surrogateescape": Python's
//!   `s.encode('utf-8', 'surrogateescape')` gives back the exact bytes).

mod csv;
mod json;
mod text;

use std::io::{self, Write};

pub use self::csv::CsvWriter;
pub use self::json::{JsonlWriter, write_json_string};
pub use self::text::{TextWriter, push_text_value};

use crate::error::Result;
use crate::value::Radix;

/// One value in an output record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// The column does not apply to this record (JSON: key omitted; CSV: empty).
    Absent,
    /// The value was never observed (JSON: `null`; CSV: empty).
    Null,
    /// An unsigned integer, printed in `Radix` in text and CSV (hex with `0x`).
    UInt(u64, Radix),
    /// A signed integer.
    Int(i64),
    /// A host pointer or other identity: always a string `0x…`.
    Ptr(u64),
    /// A boolean.
    Bool(bool),
    /// A string (bytes, maybe not UTF-8).
    Str(&'a [u8]),
    /// Nanoseconds printed as seconds with 6 decimals (a JSON number).
    Seconds(i64),
    /// A real number printed with this many decimals (a JSON number; `null`
    /// when not finite).
    Fixed(f64, u8),
    /// A value that is already JSON (a list or object), written as it is in
    /// JSON output and as text elsewhere. The caller guarantees it is valid.
    Json(&'a [u8]),
}

/// The output formats for records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// JSON Lines: one object per record.
    Jsonl,
    /// Human-readable `key=value` text.
    Text,
}

/// Writes records in one of the [`RecordFormat`]s.
#[derive(Debug)]
pub enum RecordWriter<W: Write> {
    /// CSV or TSV.
    Csv(Box<CsvWriter<W>>),
    /// JSON Lines.
    Jsonl(JsonlWriter<W>),
    /// `key=value` text.
    Text(TextWriter<W>),
}

impl<W: Write> RecordWriter<W> {
    /// A writer of `format` with these columns. CSV/TSV write their header
    /// before the first row (or at [`finish`](Self::finish) when there was none).
    pub fn new(format: RecordFormat, columns: Vec<String>, out: W) -> Self {
        match format {
            RecordFormat::Csv => RecordWriter::Csv(Box::new(CsvWriter::new(out, b',', columns))),
            RecordFormat::Tsv => RecordWriter::Csv(Box::new(CsvWriter::new(out, b'\t', columns))),
            RecordFormat::Jsonl => RecordWriter::Jsonl(JsonlWriter::new(out, columns)),
            RecordFormat::Text => RecordWriter::Text(TextWriter::new(out, columns)),
        }
    }

    /// The same writer without the CSV/TSV header row (`--no-header`, for
    /// `sort | uniq -c`); the other formats have none.
    pub fn without_header(self) -> Self {
        match self {
            RecordWriter::Csv(w) => RecordWriter::Csv(Box::new(w.without_header())),
            other => other,
        }
    }

    /// Writes one record; `cells` are in column order.
    pub fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        self.row_iter(cells.iter().copied())
    }

    /// Writes one record from cells produced in column order (no slice needed,
    /// so callers need not allocate per record).
    pub fn row_iter<'c>(&mut self, cells: impl Iterator<Item = Cell<'c>>) -> Result<()> {
        match self {
            RecordWriter::Csv(w) => w.row_iter(cells),
            RecordWriter::Jsonl(w) => w.row_iter(cells),
            RecordWriter::Text(w) => w.row_iter(cells),
        }
    }

    /// Writes the header if no row was written, flushes, and returns the
    /// inner writer.
    pub fn finish(self) -> Result<W> {
        match self {
            RecordWriter::Csv(w) => (*w).finish(),
            RecordWriter::Jsonl(w) => w.finish(),
            RecordWriter::Text(w) => w.finish(),
        }
    }

    /// Flushes buffered output (for line-buffered use).
    pub fn flush(&mut self) -> Result<()> {
        match self {
            RecordWriter::Csv(w) => w.flush(),
            RecordWriter::Jsonl(w) => Ok(w.get_mut().flush()?),
            RecordWriter::Text(w) => Ok(w.get_mut().flush()?),
        }
    }
}

/// Appends a cell's text form (CSV and text) to `buf`.
pub fn cell_text(cell: &Cell<'_>, buf: &mut Vec<u8>) {
    match *cell {
        Cell::Absent | Cell::Null => {}
        Cell::UInt(v, Radix::Dec) => push_u64(buf, v),
        Cell::UInt(v, Radix::Hex) | Cell::Ptr(v) => push_hex(buf, v, false),
        Cell::UInt(v, Radix::HexUpper) => push_hex(buf, v, true),
        Cell::UInt(v, Radix::Oct) => {
            let _ = write!(buf, "0{v:o}");
        }
        Cell::Int(v) => {
            if v < 0 {
                buf.push(b'-');
            }
            push_u64(buf, v.unsigned_abs());
        }
        Cell::Bool(b) => buf.extend_from_slice(if b { b"true" } else { b"false" }),
        Cell::Str(s) | Cell::Json(s) => buf.extend_from_slice(s),
        Cell::Seconds(ns) => push_seconds(buf, ns),
        Cell::Fixed(v, d) => {
            if v.is_finite() {
                let _ = write!(buf, "{v:.*}", usize::from(d));
            }
        }
    }
}

/// `0x` and the hex digits of `v`, without going through `fmt`.
#[inline]
pub fn push_hex(buf: &mut Vec<u8>, mut v: u64, upper: bool) {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut tmp = [0u8; 18];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = table[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    tmp[i - 2] = b'0';
    tmp[i - 1] = b'x';
    buf.extend_from_slice(&tmp[i - 2..]);
}

/// Decimal digits of `v`, without going through `fmt`.
#[inline]
pub fn push_u64(buf: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 20];
    buf.extend_from_slice(decimal_digits(v, &mut tmp));
}

/// The decimal digits of `v`, written at the end of `tmp` (four at a time,
/// from a table of pairs) and returned; the bytes before them are left as
/// they were, so a caller can pre-fill `tmp` with padding.
#[inline]
pub fn decimal_digits(v: u64, tmp: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                                2021222324252627282930313233343536373839\
                                4041424344454647484950515253545556575859\
                                6061626364656667686970717273747576777879\
                                8081828384858687888990919293949596979899";
    let pair = |tmp: &mut [u8; 20], at: usize, p: u32| {
        let p = p as usize * 2;
        tmp[at..at + 2].copy_from_slice(&PAIRS[p..p + 2]);
    };
    let mut i = tmp.len();
    let mut v = v;
    // One 64-bit division per four digits; the rest in 32 bits.
    while v >= 10_000 {
        let four = (v % 10_000) as u32;
        v /= 10_000;
        i -= 4;
        pair(tmp, i, four / 100);
        pair(tmp, i + 2, four % 100);
    }
    let mut v = v as u32;
    if v >= 100 {
        i -= 2;
        pair(tmp, i, v % 100);
        v /= 100;
    }
    if v >= 10 {
        i -= 2;
        pair(tmp, i, v);
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    &tmp[i..]
}

/// Nanoseconds as seconds with 6 decimals (microsecond precision, truncated
/// toward zero: QEMU's clocks print microseconds).
pub fn push_seconds(buf: &mut Vec<u8>, ns: i64) {
    if ns < 0 {
        buf.push(b'-');
    }
    let a = ns.unsigned_abs();
    push_u64(buf, a / 1_000_000_000);
    let _ = write!(buf, ".{:06}", (a % 1_000_000_000) / 1000);
}

/// Makes column names unique: a later duplicate gets `_2`, `_3`, ...; and a
/// name in `reserved` is prefixed with `arg_` (so an event argument called
/// `time` cannot clash with the prefix column `time`).
pub fn unique_columns(names: impl IntoIterator<Item = String>, reserved: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let mut n = if reserved.contains(&n.as_str()) {
            format!("arg_{n}")
        } else {
            n
        };
        if out.contains(&n) {
            let base = n.clone();
            let mut k = 2;
            while out.contains(&n) {
                n = format!("{base}_{k}");
                k += 1;
            }
        }
        out.push(n);
    }
    out
}

pub(crate) fn io_err(e: io::Error) -> crate::error::Error {
    crate::error::Error::Output(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits_match_to_string() {
        let around_powers = (0..20u32).flat_map(|k| {
            let p = 10u64.pow(k);
            [p - 1, p, p + 1, p.saturating_mul(7).saturating_add(3)]
        });
        for v in around_powers.chain([
            0,
            9,
            10,
            99,
            100,
            101,
            12_345,
            1 << 40,
            u64::MAX - 1,
            u64::MAX,
        ]) {
            let mut tmp = [b' '; 20];
            assert_eq!(decimal_digits(v, &mut tmp), v.to_string().as_bytes());
            let mut buf = b"x".to_vec();
            push_u64(&mut buf, v);
            assert_eq!(buf, format!("x{v}").as_bytes());
        }
    }

    #[test]
    fn cell_texts() {
        let t = |c: Cell<'_>| {
            let mut b = Vec::new();
            cell_text(&c, &mut b);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(t(Cell::UInt(255, Radix::Hex)), "0xff");
        assert_eq!(t(Cell::UInt(255, Radix::Dec)), "255");
        assert_eq!(t(Cell::UInt(8, Radix::Oct)), "010");
        assert_eq!(t(Cell::Int(i64::MIN)), "-9223372036854775808");
        assert_eq!(t(Cell::Ptr(0x55e7)), "0x55e7");
        assert_eq!(t(Cell::Seconds(1_500_123)), "0.001500");
        assert_eq!(t(Cell::Seconds(-2_000_000_000)), "-2.000000");
        assert_eq!(t(Cell::Null), "");
    }

    #[test]
    fn column_clashes() {
        let cols = unique_columns(
            ["time", "event", "dev", "dev", "x"].map(String::from),
            &["time", "tid", "event"],
        );
        assert_eq!(cols, ["arg_time", "arg_event", "dev", "dev_2", "x"]);
    }

    #[test]
    fn every_format_writes_the_same_record() {
        let cols = vec![
            "time".to_string(),
            "dev".to_string(),
            "val".to_string(),
            "p".to_string(),
            "n".to_string(),
        ];
        let row = [
            Cell::Str(b"1795674347.582949"),
            Cell::Str(b"ICH9 SMB, \"x\""),
            Cell::UInt(0x8086, Radix::Hex),
            Cell::Ptr(0x55e7_0000_0000),
            Cell::Null,
        ];
        let out = |f| {
            let mut w = RecordWriter::new(f, cols.clone(), Vec::new());
            w.row(&row).unwrap();
            String::from_utf8(w.finish().unwrap()).unwrap()
        };
        assert_eq!(
            out(RecordFormat::Csv),
            "time,dev,val,p,n\n1795674347.582949,\"ICH9 SMB, \"\"x\"\"\",0x8086,0x55e700000000,\n"
        );
        assert_eq!(
            out(RecordFormat::Tsv),
            "time\tdev\tval\tp\tn\n1795674347.582949\tICH9 SMB, \"x\"\t0x8086\t0x55e700000000\t\n"
        );
        assert_eq!(
            out(RecordFormat::Jsonl),
            "{\"time\":\"1795674347.582949\",\"dev\":\"ICH9 SMB, \\\"x\\\"\",\"val\":32902,\"p\":\"0x55e700000000\",\"n\":null}\n"
        );
        assert_eq!(
            out(RecordFormat::Text),
            "time=1795674347.582949 dev=\"ICH9 SMB, \\\"x\\\"\" val=0x8086 p=0x55e700000000 n=\n"
        );
    }

    #[test]
    fn no_header_when_asked() {
        for (f, want) in [
            (RecordFormat::Csv, "1,\"x,y\"\n"),
            (RecordFormat::Tsv, "1\tx,y\n"),
        ] {
            let cols = vec!["n".to_string(), "s".to_string()];
            let mut w = RecordWriter::new(f, cols.clone(), Vec::new()).without_header();
            w.row(&[Cell::UInt(1, Radix::Dec), Cell::Str(b"x,y")])
                .unwrap();
            assert_eq!(String::from_utf8(w.finish().unwrap()).unwrap(), want);
            let w = RecordWriter::new(f, cols, Vec::new()).without_header();
            assert!(w.finish().unwrap().is_empty());
        }
    }

    #[test]
    fn header_even_without_rows() {
        let w = RecordWriter::new(RecordFormat::Csv, vec!["a".into(), "b".into()], Vec::new());
        assert_eq!(w.finish().unwrap(), b"a,b\n");
    }
}
