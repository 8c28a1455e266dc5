//! qtrace-filter --follow on a file that grows while it runs: each selected
//! line comes out before the next write, half a line never does, a
//! truncated or replaced file is read on, and SIGTERM or the end of the
//! --pid process ends the run with the usual exit status. The expected rows
//! are the lines the test wrote (raw output is the lines byte for byte).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use qtrace_testkit::Tool;

const TOOL: Tool = Tool {
    name: "qtrace-filter",
    bin: env!("CARGO_BIN_EXE_qtrace-filter"),
    args: &["--no-installed-catalog"],
};

/// Longer than a few polls of the followed file (every 100 ms).
const QUIET: Duration = Duration::from_millis(400);

fn append(path: &Path, bytes: &str) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes.as_bytes()).unwrap();
}

fn read(offs: u32, val: u32) -> String {
    format!("pci_cfg_read e1000 00:03.0 @0x{offs:x} -> 0x{val:x}\n")
}

#[test]
fn rows_appear_as_the_file_grows_and_sigterm_ends_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("qemu.log");
    std::fs::write(&log, read(0, 0x100e_8086)).unwrap();
    let mut run = TOOL.follow(&["pci_cfg_read"], &log);
    // Read from the start, as `tail -n +1 -F`.
    run.expect(&read(0, 0x100e_8086));

    append(&log, "pci_cfg_write e1000 00:03.0 @0x4 <- 0x7\n");
    append(&log, &read(4, 7));
    run.expect(&read(4, 7));

    // A line written in two halves comes out whole, once its newline is there.
    let line = read(8, 0x0200_0003);
    let (first, second) = line.split_at(20);
    append(&log, first);
    run.expect_nothing_for(QUIET);
    append(&log, second);
    run.expect(&line);

    // Truncated (the file shrinks below what was read): read from its start.
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &read(0x10, 0xfebc_0000));
    run.expect(&read(0x10, 0xfebc_0000));

    // Replaced by another file under the same name: followed anew.
    let new = dir.path().join("qemu.log.new");
    std::fs::write(&new, read(0x14, 0xc001)).unwrap();
    std::fs::rename(&new, &log).unwrap();
    run.expect(&read(0x14, 0xc001));
    append(&log, &read(0x2c, 0x1af4));
    run.expect(&read(0x2c, 0x1af4));

    let (code, rest, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(rest, "");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!(
                "qtrace-filter: {}: file truncated; reading it again from the start",
                log.display()
            ),
            format!(
                "qtrace-filter: {}: replaced by another file; following the new file",
                log.display()
            ),
        ]
    );
}

#[test]
fn pid_ends_the_run_once_the_process_is_gone_and_the_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("qemu.log");
    std::fs::write(&log, "").unwrap();
    // Long enough for the two writes below, short enough for a test.
    let mut writer = std::process::Command::new("sleep")
        .arg("2")
        .spawn()
        .unwrap();
    let pid = writer.id().to_string();
    let mut run = TOOL.follow(&["-o", "csv", "--pid", &pid, "pci_cfg_read"], &log);
    append(&log, &read(0, 0x1237_8086));
    run.expect("event,dev,bus,slot,func,offs,val\npci_cfg_read,e1000,0x0,0x3,0x0,0x0,0x12378086\n");
    // Written after the row came and before the process ends; no newline.
    append(&log, &read(4, 0x103).replace('\n', ""));
    writer.wait().unwrap();
    let (code, rest, stderr) = run.wait();
    assert_eq!(code, Some(0), "{stderr}");
    // The unfinished last line is read as the file's last line.
    assert_eq!(rest, "pci_cfg_read,e1000,0x0,0x3,0x0,0x4,0x103\n");
    assert_eq!(stderr, "");
}

#[test]
fn what_cannot_be_followed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("qemu.log");
    std::fs::write(&log, read(0, 0x100e_8086)).unwrap();
    let gz = dir.path().join("qemu.log.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]).unwrap();
    let (log, gz) = (log.to_str().unwrap(), gz.to_str().unwrap());
    for (args, says) in [
        (vec!["--follow", "pci_cfg_read"], "standard input"),
        (vec!["--follow", "pci_cfg_read", "-"], "standard input"),
        (
            vec!["--follow", "pci_cfg_read", log, log],
            "one file, and 2 were given",
        ),
        (vec!["--follow", "pci_cfg_read", gz], "is gzip-compressed"),
        (vec!["--pid", "1", "pci_cfg_read", log], "--follow"),
    ] {
        let (code, out, err) = TOOL.run(&args, "");
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn help_tells_of_follow() {
    let out = TOOL.cmd().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--follow") && help.contains("tail -n +1 -F"),
        "{help}"
    );
    assert!(
        help.contains("qtrace-filter --follow"),
        "an example: {help}"
    );
}
