//! Messages built to make a format matcher slow, and ordinary ones to
//! compare them with: shared by the work-count test (`tests/linear_work.rs`)
//! and the timing benchmark (`examples/hostile_formats.rs`, run by
//! `scripts/bench-hostile`).
//!
//! The hostile messages are what made the old backtracking matcher
//! quadratic or worse: long runs of digits and zeros where a number goes,
//! long runs of the format's literal bytes (spaces, `:`, `(`, `/`, `) `,
//! `0x`), and an ordinary message's prefix repeated, each with and without a
//! way to finish the match.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use qtrace_core::catalog::Catalog;
use qtrace_core::format::{CFormat, Piece, RawArg};
use qtrace_core::value::Kind;

/// The distinct compiled formats of the built-in specs and of the installed
/// catalogs that exist (`/usr/share/qemu/trace-events-all` and QEMU 11.1's,
/// `../shared/traces/Q11-qemu-info/trace-events-all` next to the checkout),
/// each with the name of one event that uses it.
pub fn catalog_formats() -> Vec<(String, CFormat)> {
    let mut catalogs = vec![Catalog::builtin()];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for path in [
        Path::new("/usr/share/qemu/trace-events-all").to_path_buf(),
        root.join("../shared/traces/Q11-qemu-info/trace-events-all"),
    ] {
        if path.is_file() {
            let mut c = Catalog::new();
            c.add_file(&path).expect("catalog loads");
            catalogs.push(c);
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for catalog in &catalogs {
        for spec in catalog.specs() {
            let Some(source) = &spec.format else { continue };
            if !seen.insert(source.clone()) {
                continue;
            }
            if let Ok(compiled) = spec.compiled() {
                out.push((spec.name.clone(), compiled.format().clone()));
            }
        }
    }
    out
}

/// A small deterministic generator (xorshift), so that every run builds the
/// same messages.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One message as QEMU's log backend would print it: small numbers mostly,
/// sometimes large ones, short device-like strings, `*` widths small.
pub fn ordinary(format: &CFormat, rng: &mut Rng) -> Vec<u8> {
    let star = format
        .pieces
        .iter()
        .any(|p| matches!(p, Piece::Conv(c) if c.star_width || c.star_precision));
    let names: [&[u8]; 4] = [b"e1000", b"ICH9 SMB", b"virtio-blk", b"ide0-hd0"];
    let mut args = Vec::new();
    for kind in format.slot_kinds() {
        match kind {
            Kind::Errno => {}
            Kind::Str => args.push(RawArg::Bytes(names[(rng.next() % 4) as usize])),
            _ => {
                let w = rng.next();
                let w = if star {
                    w % 16
                } else {
                    match w % 4 {
                        0 => w >> 60,
                        1 => w >> 48,
                        2 => w >> 16,
                        _ => w,
                    }
                };
                args.push(RawArg::Word(w));
            }
        }
    }
    let mut msg = Vec::new();
    format.render(&mut args.into_iter(), &mut msg);
    msg
}

/// `unit` repeated up to `len` bytes.
fn repeat_to(unit: &[u8], len: usize) -> Vec<u8> {
    if unit.is_empty() {
        return Vec::new();
    }
    unit.iter().copied().cycle().take(len).collect()
}

/// Hostile messages of about `len` bytes for `format`, each with a label.
pub fn hostile(format: &CFormat, len: usize) -> Vec<(&'static str, Vec<u8>)> {
    let lits: Vec<&[u8]> = format
        .pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Lit(l) => Some(l.as_slice()),
            Piece::Conv(_) => None,
        })
        .collect();
    let convs = format.pieces.len() - lits.len();
    let all_lits: Vec<u8> = lits.concat();
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    // Every conversion a long run of zeros (or of ones, which overflow),
    // between the format's own literals; then the same without the last
    // piece, so that nothing matches and every split is a candidate.
    for (label, digit) in [("zero runs", b'0'), ("one runs", b'1')] {
        let run = len / convs.max(1);
        let mut full = Vec::new();
        for p in &format.pieces {
            match p {
                Piece::Lit(l) => full.extend_from_slice(l),
                Piece::Conv(_) => full.extend(std::iter::repeat_n(digit, run)),
            }
        }
        full.truncate(len);
        out.push((label, full.clone()));
        full.pop();
        out.push((label, full));
    }
    // The literal bytes of the format, each literal and all of them
    // together, repeated; with zeros between.
    for l in &lits {
        out.push(("literal repeated", repeat_to(l, len)));
        let mut unit = l.to_vec();
        unit.push(b'0');
        out.push(("literal and zero repeated", repeat_to(&unit, len)));
    }
    out.push(("all literals repeated", repeat_to(&all_lits, len)));
    let mut unit = all_lits.clone();
    unit.extend_from_slice(b"0x0 (null) (nil) -1 ");
    out.push(("all literals and values repeated", repeat_to(&unit, len)));
    // An ordinary message's prefixes repeated: each almost matches.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let msg = ordinary(format, &mut rng);
    if msg.len() > 1 {
        out.push(("prefix repeated", repeat_to(&msg[..msg.len() - 1], len)));
        out.push((
            "half prefix repeated",
            repeat_to(&msg[..msg.len() / 2 + 1], len),
        ));
    }
    // Long runs of spaces and zeros alone.
    out.push(("spaces", vec![b' '; len]));
    out.push(("zeros", vec![b'0'; len]));
    out.retain(|(_, m)| !m.is_empty());
    out
}
