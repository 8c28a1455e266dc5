//! Binary simple-trace files (QEMU's `simple` backend) read by qtrace-filter,
//! checked against the log-backend text the same QEMU process wrote.
//!
//! The events are decoded with the installed QEMU 7.2 catalog (the binary
//! files hold no formats). Without it the test is skipped, unless
//! `QTRACE_REQUIRE_CATALOG=1` (as in CI), when it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/S-simple")
        .join(rel)
}

fn catalog_present() -> bool {
    if Path::new("/usr/share/qemu/trace-events-all").is_file() {
        return true;
    }
    assert!(
        std::env::var_os("QTRACE_REQUIRE_CATALOG").is_none_or(|v| v != "1"),
        "QTRACE_REQUIRE_CATALOG=1 but /usr/share/qemu/trace-events-all is missing"
    );
    eprintln!(
        "skipped: /usr/share/qemu/trace-events-all is not installed (apt-get install qemu-system-x86)"
    );
    false
}

/// Runs qtrace-filter; returns (status, stdout, stderr).
fn filter(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qtrace-filter"))
        .env_remove("QTRACE_TRACE_EVENTS")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The log lines without their `TID@SEC.USEC:` prefix.
fn log_lines(run: &str) -> Vec<String> {
    let path = data(&format!("{run}/log.txt"));
    let text = if path.exists() {
        std::fs::read_to_string(path).unwrap()
    } else {
        let out = Command::new("zstd")
            .arg("-dc")
            .arg(data(&format!("{run}/log.txt.zst")))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    text.lines()
        .map(|l| {
            let (prefix, rest) = l.split_once(':').unwrap();
            assert!(prefix.contains('@'), "{l}");
            rest.to_string()
        })
        .collect()
}

/// Strings the simple backend cuts at 512 bytes (MAX_TRACE_STRLEN): the one
/// difference the binary format forces.
fn cut_at_512(log: &str, rendered: &str) -> bool {
    const CUT: &[&str] = &[
        "handle_qmp_command",
        "monitor_qmp_cmd_in_band",
        "monitor_qmp_respond",
    ];
    CUT.iter().any(|e| log.starts_with(&format!("{e} "))) && log.len() > rendered.len() + 100
}

#[test]
fn log_rendering_equals_the_log_backend_line_for_line() {
    if !catalog_present() {
        return;
    }
    for run in ["pc-ahci-nokeys", "q35-qmp-strings"] {
        let (code, out, err) = filter(&[
            "-o",
            "log",
            "*",
            data(&format!("{run}/trace.bin")).to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{run}: {err}");
        assert!(err.is_empty(), "{run}: {err}");
        let got: Vec<&str> = out.lines().collect();
        let want = log_lines(run);
        assert_eq!(got.len(), want.len(), "{run}");
        let mut cut = 0;
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if g != w {
                assert!(
                    cut_at_512(w, g),
                    "{run} record {}: log has\n{w}\nwe rendered\n{g}",
                    i + 1
                );
                cut += 1;
            }
        }
        // q35-qmp-strings has four strings over 512 bytes; the other run none.
        assert_eq!(cut, if run == "q35-qmp-strings" { 4 } else { 0 }, "{run}");
    }
}

#[test]
fn dropped_events_are_reported_and_become_a_record() {
    if !catalog_present() {
        return;
    }
    let bin = data("pc-dropped/trace.bin");
    let (code, out, err) = filter(&["*", bin.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        err.contains("record 9929") && err.contains("QEMU dropped 20124 events"),
        "{err}"
    );
    // Apart from the gap, the records are exactly the log's lines, in order.
    let want = log_lines("pc-dropped");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 9934);
    assert_eq!(got[9928], "dropped count=20124");
    assert_eq!(&got[..9928], &want[..9928]);
    assert_eq!(&got[9929..], &want[9928 + 20124..]);
    // In structured output the gap is a record of its own.
    let (_, out, _) = filter(&["-o", "jsonl", "dropped", bin.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["event"], "dropped");
    assert_eq!(v["count"], 20124);
    assert!(v["tid"].is_u64());
    let (_, out, _) = filter(&[
        "-o",
        "csv",
        "-f",
        "event,count",
        "dropped",
        bin.to_str().unwrap(),
    ]);
    assert_eq!(out, "event,count\ndropped,20124\n");
}

#[test]
fn prefix_counts_csv_and_cut_files() {
    if !catalog_present() {
        return;
    }
    let bin = data("pc-ahci-nokeys/trace.bin");
    let (_, out, _) = filter(&["--prefix", "pci_cfg_read", bin.to_str().unwrap()]);
    let first = out.lines().next().unwrap();
    let (prefix, rest) = first.split_once(':').unwrap();
    let (pid, time) = prefix.split_once('@').unwrap();
    assert!(pid.parse::<u32>().is_ok(), "{first}");
    assert_eq!(time.split_once('.').unwrap().1.len(), 6, "{first}");
    assert_eq!(rest, "pci_cfg_read i440FX 00:00.0 @0x0 -> 0x8086");
    // Counts per event equal the log's.
    let (_, out, _) = filter(&["-o", "csv", "-c", "*", bin.to_str().unwrap()]);
    let mut want: std::collections::BTreeMap<String, u64> = Default::default();
    for l in log_lines("pc-ahci-nokeys") {
        *want
            .entry(l.split(' ').next().unwrap().to_string())
            .or_default() += 1;
    }
    let got: std::collections::BTreeMap<String, u64> = out
        .lines()
        .skip(1)
        .map(|r| {
            let (n, c) = r.split_once(',').unwrap();
            (n.to_string(), c.parse().unwrap())
        })
        .collect();
    assert_eq!(got, want);
    // Decoded fields work as for text logs.
    let (_, out, _) = filter(&[
        "-o",
        "csv",
        "-f",
        "dev,offs,val",
        "-w",
        "offs==0",
        "pci_cfg_read",
        bin.to_str().unwrap(),
    ]);
    assert_eq!(out.lines().nth(1), Some("i440FX,0x0,0x8086"));
    // A file cut in the middle of a record: everything before the cut, and an error.
    let bytes = std::fs::read(&bin).unwrap();
    let cut = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cut.path(), &bytes[..bytes.len() - 10]).unwrap();
    let (code, out, err) = filter(&["*", cut.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(out.lines().count(), 496);
    assert!(err.contains("ends inside record 497"), "{err}");
    // From standard input, compressed, the format is still detected.
    let gz = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -c {} | {} -c pci_cfg_read",
            bin.display(),
            env!("CARGO_BIN_EXE_qtrace-filter")
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&gz.stdout),
        "     166 pci_cfg_read\n"
    );
}
