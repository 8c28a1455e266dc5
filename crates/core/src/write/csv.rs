//! CSV and TSV record writers.
//!
//! CSV is RFC 4180 (the csv crate: fields quoted only when needed, quotes
//! doubled, bytes written as they are). TSV follows the "linear TSV"
//! convention instead of quoting: a tab, newline, carriage return or backslash
//! inside a value is written as `\t`, `\n`, `\r`, `\\`. Both write a header row
//! with the column names, unless told not to ([`CsvWriter::without_header`]).

use std::io::Write;

use super::{Cell, cell_text};
use crate::error::Result;

/// Writes records as CSV (or TSV).
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    inner: Inner<W>,
    columns: Vec<String>,
    header_done: bool,
    scratch: Vec<u8>,
    record: csv::ByteRecord,
}

#[derive(Debug)]
enum Inner<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Tsv(W),
}

impl<W: Write> CsvWriter<W> {
    /// A writer with `delimiter` `,` (CSV) or `\t` (TSV).
    pub fn new(out: W, delimiter: u8, columns: Vec<String>) -> Self {
        let inner = if delimiter == b'\t' {
            Inner::Tsv(out)
        } else {
            Inner::Csv(Box::new(
                csv::WriterBuilder::new()
                    .delimiter(delimiter)
                    .buffer_capacity(64 << 10)
                    .from_writer(out),
            ))
        };
        CsvWriter {
            inner,
            columns,
            header_done: false,
            scratch: Vec::new(),
            record: csv::ByteRecord::new(),
        }
    }

    /// The same writer, writing no header row.
    pub fn without_header(mut self) -> Self {
        self.header_done = true;
        self
    }

    fn header(&mut self) -> Result<()> {
        if self.header_done {
            return Ok(());
        }
        self.header_done = true;
        match &mut self.inner {
            Inner::Csv(w) => w.write_record(&self.columns)?,
            Inner::Tsv(w) => {
                let mut line = Vec::new();
                for (i, c) in self.columns.iter().enumerate() {
                    if i > 0 {
                        line.push(b'\t');
                    }
                    tsv_escape(c.as_bytes(), &mut line);
                }
                line.push(b'\n');
                w.write_all(&line).map_err(super::io_err)?;
            }
        }
        Ok(())
    }

    /// Writes one record.
    pub fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        self.row_iter(cells.iter().copied())
    }

    /// Writes one record from cells in column order.
    pub fn row_iter<'c>(&mut self, cells: impl Iterator<Item = Cell<'c>>) -> Result<()> {
        self.header()?;
        match &mut self.inner {
            Inner::Csv(w) => {
                self.record.clear();
                for c in cells {
                    self.scratch.clear();
                    cell_text(&c, &mut self.scratch);
                    self.record.push_field(&self.scratch);
                }
                w.write_byte_record(&self.record)?;
            }
            Inner::Tsv(w) => {
                self.scratch.clear();
                let mut field = Vec::new();
                for (i, c) in cells.enumerate() {
                    if i > 0 {
                        self.scratch.push(b'\t');
                    }
                    field.clear();
                    cell_text(&c, &mut field);
                    tsv_escape(&field, &mut self.scratch);
                }
                self.scratch.push(b'\n');
                w.write_all(&self.scratch).map_err(super::io_err)?;
            }
        }
        Ok(())
    }

    /// Flushes the csv crate's buffer and the writer below it.
    pub fn flush(&mut self) -> Result<()> {
        match &mut self.inner {
            Inner::Csv(w) => w.flush().map_err(super::io_err),
            Inner::Tsv(w) => w.flush().map_err(super::io_err),
        }
    }

    /// Writes the header if nothing was written, flushes, returns the writer.
    pub fn finish(mut self) -> Result<W> {
        self.header()?;
        self.flush()?;
        match self.inner {
            Inner::Csv(w) => w.into_inner().map_err(|e| {
                super::io_err(std::io::Error::new(e.error().kind(), e.error().to_string()))
            }),
            Inner::Tsv(w) => Ok(w),
        }
    }
}

fn tsv_escape(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_escapes_and_csv_keeps_bytes() {
        let mut w = CsvWriter::new(Vec::new(), b'\t', vec!["a".into()]);
        w.row(&[Cell::Str(b"x\ty\\z\n")]).unwrap();
        assert_eq!(w.finish().unwrap(), b"a\nx\\ty\\\\z\\n\n");
        let mut w = CsvWriter::new(Vec::new(), b',', vec!["a".into()]);
        w.row(&[Cell::Str(b"\xff\x00,")]).unwrap();
        assert_eq!(w.finish().unwrap(), b"a\n\"\xff\x00,\"\n");
    }
}
