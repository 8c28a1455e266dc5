//! JSON Lines record writer: one object per record, keys in column order.
//!
//! Strings that are not UTF-8 are escaped losslessly: each byte of an invalid
//! sequence becomes the lone surrogate `\udcXX` (XX = the byte), the
//! convention of Python's `surrogateescape` error handler (PEP 383); valid
//! UTF-8 is written as it is, with JSON's required escapes only.

use std::io::Write;

use super::{Cell, push_seconds, push_u64};
use crate::error::Result;

/// The largest integer JSON readers that use doubles hold exactly.
const MAX_SAFE: u64 = 1 << 53;

/// Writes records as JSON Lines.
#[derive(Debug)]
pub struct JsonlWriter<W: Write> {
    out: W,
    /// `"name":` for each column, escaped once.
    keys: Vec<Vec<u8>>,
    line: Vec<u8>,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer for these columns.
    pub fn new(out: W, columns: Vec<String>) -> Self {
        let keys = columns
            .iter()
            .map(|c| {
                let mut k = Vec::new();
                write_json_string(c.as_bytes(), &mut k);
                k.push(b':');
                k
            })
            .collect();
        JsonlWriter {
            out,
            keys,
            line: Vec::with_capacity(256),
        }
    }

    /// Writes one record as one line.
    pub fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        self.row_iter(cells.iter().copied())
    }

    /// Writes one record from cells in column order.
    pub fn row_iter<'c>(&mut self, cells: impl Iterator<Item = Cell<'c>>) -> Result<()> {
        self.line.clear();
        self.line.push(b'{');
        let mut first = true;
        for (key, cell) in self.keys.iter().zip(cells) {
            let cell = &cell;
            if matches!(cell, Cell::Absent) {
                continue;
            }
            if !first {
                self.line.push(b',');
            }
            first = false;
            self.line.extend_from_slice(key);
            write_json_value(cell, &mut self.line);
        }
        self.line.extend_from_slice(b"}\n");
        self.out.write_all(&self.line).map_err(super::io_err)
    }

    /// Writes one record whose keys vary from record to record (each key is
    /// escaped as it is written). [`Cell::Absent`] values are left out.
    pub fn row_pairs<'k, 'c>(
        &mut self,
        pairs: impl Iterator<Item = (&'k str, Cell<'c>)>,
    ) -> Result<()> {
        self.line.clear();
        self.line.push(b'{');
        let mut first = true;
        for (key, cell) in pairs {
            if matches!(cell, Cell::Absent) {
                continue;
            }
            if !first {
                self.line.push(b',');
            }
            first = false;
            write_json_string(key.as_bytes(), &mut self.line);
            self.line.push(b':');
            write_json_value(&cell, &mut self.line);
        }
        self.line.extend_from_slice(b"}\n");
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

fn write_json_value(cell: &Cell<'_>, out: &mut Vec<u8>) {
    match *cell {
        Cell::Absent | Cell::Null => out.extend_from_slice(b"null"),
        Cell::UInt(v, _) => {
            if v > MAX_SAFE {
                out.push(b'"');
                push_u64(out, v);
                out.push(b'"');
            } else {
                push_u64(out, v);
            }
        }
        Cell::Int(v) => {
            let big = v.unsigned_abs() > MAX_SAFE;
            if big {
                out.push(b'"');
            }
            if v < 0 {
                out.push(b'-');
            }
            push_u64(out, v.unsigned_abs());
            if big {
                out.push(b'"');
            }
        }
        Cell::Ptr(v) => {
            out.push(b'"');
            super::push_hex(out, v, false);
            out.push(b'"');
        }
        Cell::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Cell::Str(s) => write_json_string(s, out),
        Cell::Json(j) => out.extend_from_slice(j),
        Cell::Fixed(v, d) => {
            if v.is_finite() {
                let _ = write!(out, "{v:.*}", usize::from(d));
            } else {
                out.extend_from_slice(b"null");
            }
        }
        Cell::Seconds(ns) => push_seconds(out, ns),
    }
}

/// Appends `s` as a JSON string literal (quotes included), escaping invalid
/// UTF-8 bytes as `\udcXX`.
pub fn write_json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut rest = s;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(v) => (v, &rest[rest.len()..]),
            Err(e) => {
                let (v, tail) = rest.split_at(e.valid_up_to());
                // SAFETY-free: `v` is valid by construction.
                let v = std::str::from_utf8(v).unwrap_or_default();
                let bad_len = e.error_len().unwrap_or(tail.len());
                (v, &tail[..bad_len])
            }
        };
        escape_str(valid, out);
        for &b in bad {
            let _ = write!(out, "\\udc{b:02x}");
        }
        rest = &rest[valid.len() + bad.len()..];
    }
    out.push(b'"');
}

fn escape_str(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f | 0x7f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(s: &[u8]) -> String {
        let mut o = Vec::new();
        write_json_string(s, &mut o);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn strings_escape_losslessly() {
        assert_eq!(js(b"a\"b\\c\n\x01"), r#""a\"b\\c\n\u0001""#);
        assert_eq!(js("é".as_bytes()), "\"é\"");
        assert_eq!(js(b"x\xffy\xe2\x82"), r#""x\udcffy\udce2\udc82""#);
    }

    #[test]
    fn json_cells_are_written_as_they_are() {
        let mut w = JsonlWriter::new(Vec::new(), vec!["bars".into()]);
        w.row(&[Cell::Json(br#"[{"index":0}]"#)]).unwrap();
        assert_eq!(w.finish().unwrap(), b"{\"bars\":[{\"index\":0}]}\n");
    }

    #[test]
    fn big_numbers_become_strings_and_absent_keys_vanish() {
        let mut w = JsonlWriter::new(Vec::new(), vec!["a".into(), "b".into(), "c".into()]);
        w.row(&[
            Cell::UInt(u64::MAX, crate::value::Radix::Hex),
            Cell::Absent,
            Cell::Int(-(1 << 53)),
        ])
        .unwrap();
        assert_eq!(
            String::from_utf8(w.finish().unwrap()).unwrap(),
            "{\"a\":\"18446744073709551615\",\"c\":-9007199254740992}\n"
        );
    }

    #[test]
    fn output_parses_as_json() {
        let mut w = JsonlWriter::new(Vec::new(), vec!["s".into(), "n".into(), "p".into()]);
        w.row(&[
            Cell::Str(b"tab\there \x7f \x01 \xc3\xa9"),
            Cell::Seconds(1_234_567_000),
            Cell::Ptr(1 << 60),
        ])
        .unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["s"], "tab\there \u{7f} \u{1} \u{e9}");
        assert_eq!(v["n"].as_f64(), Some(1.234567));
        assert_eq!(v["p"], "0x1000000000000000");
    }
}
