//! Human-readable `key=value` text records, one per line.
//!
//! Values are printed as in CSV; a value that is empty or contains a space,
//! quote, `=`, backslash or control byte is written in double quotes with
//! backslash escapes, so a line can always be split back into its fields.
//! Columns whose cell is [`Cell::Absent`] are left out.

use std::io::Write;

use super::{Cell, cell_text};
use crate::error::Result;

/// Writes records as `key=value` text.
#[derive(Debug)]
pub struct TextWriter<W: Write> {
    out: W,
    columns: Vec<String>,
    line: Vec<u8>,
    field: Vec<u8>,
}

impl<W: Write> TextWriter<W> {
    /// A writer for these columns.
    pub fn new(out: W, columns: Vec<String>) -> Self {
        TextWriter {
            out,
            columns,
            line: Vec::new(),
            field: Vec::new(),
        }
    }

    /// Writes one record as one line.
    pub fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        self.row_iter(cells.iter().copied())
    }

    /// Writes one record from cells in column order.
    pub fn row_iter<'c>(&mut self, cells: impl Iterator<Item = Cell<'c>>) -> Result<()> {
        self.line.clear();
        let mut first = true;
        for (name, cell) in self.columns.iter().zip(cells) {
            let cell = &cell;
            if matches!(cell, Cell::Absent) {
                continue;
            }
            if !first {
                self.line.push(b' ');
            }
            first = false;
            self.line.extend_from_slice(name.as_bytes());
            self.line.push(b'=');
            self.field.clear();
            cell_text(cell, &mut self.field);
            push_text_value(&self.field, matches!(cell, Cell::Str(_)), &mut self.line);
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(super::io_err)
    }

    /// The writer below.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(super::io_err)?;
        Ok(self.out)
    }
}

/// Appends a value, quoted when needed.
pub fn push_text_value(v: &[u8], is_string: bool, out: &mut Vec<u8>) {
    let needs = (is_string && v.is_empty())
        || v.iter()
            .any(|&b| b <= b' ' || b == b'"' || b == b'=' || b == b'\\' || b == 0x7f);
    if !needs {
        out.extend_from_slice(v);
        return;
    }
    out.push(b'"');
    for &b in v {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                let _ = write!(out, "\\x{b:02x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}
