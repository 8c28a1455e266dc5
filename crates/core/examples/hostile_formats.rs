//! Times the format matcher on hostile messages against ordinary ones of
//! the same total size, for every format of the built-in specs and the
//! installed catalogs, and fails when the worst ratio is over a threshold
//! (run by `scripts/bench-hostile`):
//!
//! ```sh
//! cargo run --release -p qtrace-core --example hostile_formats -- [--len BYTES] [--max-ratio R] [--every N]
//! ```
//!
//! For each format: the time per byte of matching ordinary messages (as
//! QEMU prints them, `--len` bytes of them, one after another), and the time
//! per byte of matching each hostile message of `--len` bytes (see
//! `tests/support/hostile.rs`). The ratio of the two is what a hostile log
//! costs against an ordinary log of the same size. Prints the worst cases;
//! exits 1 when a ratio exceeds `--max-ratio` (default 250: the plan reads
//! an ordinary message at about a nanosecond per byte, the linear matcher a
//! hostile one at up to a few hundred), or when the worst cases cost more
//! per byte at `--len` than at a sixteenth of it (by over `--max-growth`,
//! default 3): linear time has a cost per byte that does not grow.

#[path = "../tests/support/hostile.rs"]
mod hostile;

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use qtrace_core::format::{CFormat, Slot};

struct Case {
    ratio: f64,
    name: String,
    label: &'static str,
    len: usize,
    hostile_ns: f64,
    ordinary_ns: f64,
}

/// The fastest of `runs` timings of `f`.
fn fastest(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn per_byte(d: Duration, bytes: usize) -> f64 {
    d.as_secs_f64() * 1e9 / bytes.max(1) as f64
}

fn main() -> ExitCode {
    let mut len = 64 << 10;
    let mut max_ratio = 250.0;
    let mut max_growth = 3.0;
    let mut every = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--len" => len = v.parse().expect("--len BYTES"),
            "--max-ratio" => max_ratio = v.parse().expect("--max-ratio R"),
            "--every" => every = v.parse().expect("--every N"),
            "--max-growth" => max_growth = v.parse().expect("--max-growth G"),
            _ => {
                eprintln!(
                    "usage: hostile_formats [--len BYTES] [--max-ratio R] [--max-growth G] [--every N]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let formats = hostile::catalog_formats();
    let started = Instant::now();
    let mut out: Vec<Slot> = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut messages = 0usize;
    for (name, format) in formats.iter().step_by(every.max(1)) {
        let ordinary = ordinary_log(format, len);
        let bytes: usize = ordinary.iter().map(Vec::len).sum();
        let match_all = |out: &mut Vec<Slot>| {
            for m in &ordinary {
                black_box(format.match_message(black_box(m), out));
            }
        };
        let ordinary_ns = per_byte(fastest(5, || match_all(&mut out)), bytes);
        for (label, msg) in hostile::hostile(format, len) {
            messages += 1;
            let mut time = |runs| {
                per_byte(
                    fastest(runs, || {
                        black_box(format.match_message(black_box(&msg), &mut out));
                    }),
                    msg.len(),
                )
            };
            let mut hostile_ns = time(1);
            if hostile_ns / ordinary_ns > max_ratio / 2.0 {
                // Close to the line: time again, on a quieter moment.
                hostile_ns = time(5);
            }
            cases.push(Case {
                ratio: hostile_ns / ordinary_ns,
                name: name.clone(),
                label,
                len: msg.len(),
                hostile_ns,
                ordinary_ns,
            });
        }
    }
    cases.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
    println!(
        "{} formats, {messages} hostile messages of up to {len} bytes, in {:.1} s",
        formats.len().div_ceil(every.max(1)),
        started.elapsed().as_secs_f64()
    );
    println!("worst cases (time per byte, hostile / ordinary):");
    for c in cases.iter().take(12) {
        println!(
            "  {:6.2}  {:>8.2} ns/B vs {:>6.2} ns/B  {} ({} bytes)  {}",
            c.ratio, c.hostile_ns, c.ordinary_ns, c.label, c.len, c.name
        );
    }
    let worst = cases.first().map_or(0.0, |c| c.ratio);
    let slowest = cases.iter().map(|c| c.hostile_ns).fold(0.0, f64::max);
    println!("slowest hostile message: {slowest:.2} ns per byte");
    // The worst cases again, at a sixteenth of the length: a matcher that
    // rescans costs more per byte on the longer message.
    let mut growth: f64 = 0.0;
    println!(
        "growth of the cost per byte from {} to {len} bytes:",
        len / 16
    );
    for c in cases.iter().take(12) {
        let Some((_, format)) = formats.iter().find(|(n, _)| *n == c.name) else {
            continue;
        };
        let mut per = |l: usize| {
            let (_, msg) = hostile::hostile(format, l)
                .into_iter()
                .find(|(label, _)| *label == c.label)
                .expect("the same kind of message");
            per_byte(
                fastest(5, || {
                    black_box(format.match_message(black_box(&msg), &mut out));
                }),
                msg.len(),
            )
        };
        let (short, long) = (per(len / 16), per(len));
        growth = growth.max(long / short);
        println!("  {:5.2}x  {} {}", long / short, c.label, c.name);
    }
    let mut ok = true;
    if worst > max_ratio {
        println!("FAIL: worst ratio {worst:.2} > {max_ratio}");
        ok = false;
    } else {
        println!("PASS: worst ratio {worst:.2} <= {max_ratio}");
    }
    if growth > max_growth {
        println!("FAIL: worst growth {growth:.2} > {max_growth}");
        ok = false;
    } else {
        println!("PASS: worst growth {growth:.2} <= {max_growth}");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Ordinary messages of `format`, `len` bytes of them.
fn ordinary_log(format: &CFormat, len: usize) -> Vec<Vec<u8>> {
    let mut rng = hostile::Rng(0x2545_f491_4f6c_dd1d);
    let mut total = 0;
    let mut out = Vec::new();
    while total < len {
        let m = hostile::ordinary(format, &mut rng);
        total += m.len().max(1);
        out.push(m);
    }
    out
}
