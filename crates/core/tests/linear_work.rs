//! The format matcher's work is linear in the message: over every format of
//! the built-in specs and the installed catalogs, on hostile messages (long
//! digit runs, runs of the format's literal bytes, repeated prefixes),
//! `CFormat::match_cost` stays within a fixed multiple of message length ×
//! pieces. Work units are counted, not time, so the check is deterministic;
//! the timing benchmark is `scripts/bench-hostile`.
//!
//! See: issue 20 (a 64 KB `pci_cfg_read` line of zeros took seconds).

#[path = "support/hostile.rs"]
mod hostile;

use qtrace_core::format::CFormat;

/// Work units allowed per message byte and piece: the budgeted search
/// spends at most a few passes, the linear matcher one state per piece and
/// position plus at most 23 digits and a literal's bytes per state.
const WORK_PER_BYTE_AND_PIECE: usize = 16;

fn check(name: &str, format: &CFormat, len: usize) -> usize {
    let mut worst = 0;
    for (label, msg) in hostile::hostile(format, len) {
        let (_, work) = format.match_cost(&msg);
        let bound = WORK_PER_BYTE_AND_PIECE * (msg.len() + 1) * (format.pieces.len() + 1);
        assert!(
            work <= bound,
            "{name}: {label} message of {} bytes took {work} work units, over {bound}",
            msg.len()
        );
        worst = worst.max(work / ((msg.len() + 1) * (format.pieces.len() + 1)));
    }
    worst
}

#[test]
fn hostile_messages_cost_linear_work_in_every_catalog_format() {
    let formats = hostile::catalog_formats();
    assert!(formats.len() >= 100, "only {} formats", formats.len());
    // Every format at 2 KiB; a debug build is slow, so the longer messages
    // only for every 16th.
    let mut worst = 0;
    for (i, (name, format)) in formats.iter().enumerate() {
        worst = worst.max(check(name, format, 2048));
        if i % 16 == 0 {
            worst = worst.max(check(name, format, 16 << 10));
        }
    }
    eprintln!(
        "{} formats; worst work per byte and piece {worst}",
        formats.len()
    );
}

#[test]
fn the_reported_inputs_cost_linear_work() {
    // See: issue 20. pci_cfg_read with a 64 KiB run of zeros, and a format
    // with several `%s` between `(`, `/` and `) `.
    for (source, msg) in [
        (
            r#""%s %02x:%02x.%x @0x%x -> 0x%x""#,
            [b"d ".as_slice(), &[b'0'; 65536]].concat(),
        ),
        (r#""%s (%s/%s) %s""#, b"(/) ".repeat(16384)),
        (r#""%s (%s/%s) %s x""#, b"(/) ".repeat(16384)),
    ] {
        let format = CFormat::parse(source).unwrap();
        let (_, work) = format.match_cost(&msg);
        let bound = WORK_PER_BYTE_AND_PIECE * (msg.len() + 1) * (format.pieces.len() + 1);
        assert!(work <= bound, "{source}: {work} work units, over {bound}");
    }
}
