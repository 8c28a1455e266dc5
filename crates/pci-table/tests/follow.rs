//! pci-table --follow on a real trace written into a file while it runs:
//! nothing is printed while the file grows, and SIGTERM ends the run with
//! the table of every function seen, which must be the guest's own view
//! (tests/data/A-pci-pc-plain/pci-devices-late.tsv, from sysfs), even when
//! the file was truncated on the way and a line came in two halves. The
//! trace is written in three parts, each with the accesses of other
//! functions, so the table is whole only if all three were read.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use qtrace_testkit::{Tool, data};

const TOOL: Tool = Tool {
    name: "pci-table",
    bin: env!("CARGO_BIN_EXE_pci-table"),
    args: &["--no-installed-catalog"],
};

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

/// `BDF CLASS: VENDOR:DEVICE` of each function in the guest's sysfs dump.
fn sysfs_functions() -> Vec<String> {
    let tsv = std::fs::read_to_string(data("A-pci-pc-plain/pci-devices-late.tsv")).unwrap();
    let mut rows = tsv.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = rows.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (bdf, vendor, device, class) = (col("bdf"), col("vendor"), col("device"), col("class"));
    rows.map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        format!(
            "{} {}: {}:{}",
            f[bdf].trim_start_matches("0000:"),
            &f[class][2..6],
            &f[vendor][2..],
            &f[device][2..]
        )
    })
    .collect()
}

#[test]
fn the_table_of_everything_followed_comes_at_sigterm() {
    let trace = std::fs::read(data("A-pci-pc-plain/trace.log")).unwrap();
    let of = |line: &[u8], bdfs: &[&str]| {
        bdfs.iter()
            .any(|bdf| line.windows(bdf.len()).any(|w| w == bdf.as_bytes()))
    };
    let mut parts: [Vec<&[u8]>; 3] = Default::default();
    for line in trace.split_inclusive(|&b| b == b'\n') {
        let part = if of(line, &[" 00:04.0 ", " 00:05.0 ", " 00:06.0 "]) {
            1
        } else if of(line, &[" 00:07.0 ", " 00:08.0 ", " 01:0"]) {
            2
        } else {
            0
        };
        parts[part].push(line);
    }
    assert!(parts.iter().all(|p| p.len() > 500));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("qemu.log");
    std::fs::write(&log, parts[0].concat()).unwrap();
    let mut run = TOOL.follow(&["-n"], &log);
    run.expect_nothing_for(Duration::from_millis(300));

    // The second part in pieces, one line in two halves.
    for (i, line) in parts[1].iter().enumerate() {
        if i == 100 {
            let (a, b) = line.split_at(line.len() / 2);
            append(&log, a);
            std::thread::sleep(Duration::from_millis(250));
            append(&log, b);
        } else {
            append(&log, line);
        }
    }
    run.expect_nothing_for(Duration::from_millis(300));

    // Truncated, then the last part (shorter than the two before): read
    // from the new start.
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &parts[2].concat());
    run.expect_nothing_for(Duration::from_millis(300));

    let (code, table, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Vec<String> = table
        .lines()
        .map(|l| {
            l.split(" (rev")
                .next()
                .unwrap()
                .split(" {")
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(listed, sysfs_functions(), "{table}");
    assert_eq!(
        stderr,
        format!(
            "pci-table: {}: file truncated; reading it again from the start\n",
            log.display()
        )
    );
}

#[test]
fn standard_input_is_not_followed() {
    let (code, out, err) = TOOL.run(&["--follow"], "");
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.starts_with("pci-table: --follow follows a file by its name"),
        "{err}"
    );
}
