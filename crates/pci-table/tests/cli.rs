//! Process-level tests of pci-table: every flag, exit codes 0/1/2, errors
//! with line numbers, broken pipes, help.

use std::io::Write;

use qtrace_testkit::{Tool, data};

const TOOL: Tool = Tool {
    name: "pci-table",
    bin: env!("CARGO_BIN_EXE_pci-table"),
    args: &[],
};

/// Runs with `stdin` and returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    TOOL.run(args, stdin)
}

/// A small log in QEMU 7.2's format (lines as SeaBIOS and Linux make them),
/// with an unrelated event and a line that is not an event.
const LOG: &str = "\
pci_cfg_read PIIX3 00:01.0 @0x0 -> 0x70008086
pci_cfg_read PIIX3 00:01.0 @0x8 -> 0x6010000
pci_cfg_read PIIX3 00:01.0 @0xe -> 0x80
pci_cfg_read e1000 00:03.0 @0x0 -> 0x8086
pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086
pci_cfg_read e1000 00:03.0 @0x8 -> 0x2000003
pci_cfg_read e1000 00:03.0 @0xe -> 0x0
pci_cfg_read e1000 00:03.0 @0x10 -> 0x0
pci_cfg_write e1000 00:03.0 @0x10 <- 0xffffffff
pci_cfg_read e1000 00:03.0 @0x10 -> 0xfffe0000
pci_cfg_write e1000 00:03.0 @0x10 <- 0x0
pci_cfg_read e1000 00:03.0 @0x14 -> 0x1
pci_cfg_write e1000 00:03.0 @0x14 <- 0xffffffff
pci_cfg_read e1000 00:03.0 @0x14 -> 0xffffffc1
pci_cfg_write e1000 00:03.0 @0x14 <- 0x1
pci_cfg_write e1000 00:03.0 @0x14 <- 0xd100
pci_cfg_write e1000 00:03.0 @0x10 <- 0xfea40000
pci_cfg_read e1000 00:03.0 @0x2c -> 0x11001af4
pci_cfg_read e1000 00:03.0 @0x3d -> 0x1
pci_cfg_write e1000 00:03.0 @0x3c <- 0xb
pci_cfg_read e1000 00:03.0 @0x4 -> 0x0
pci_cfg_write e1000 00:03.0 @0x4 <- 0x103
pci_update_mappings_add e1000 00:03.0 0,0xfea40000+0x20000
pci_cfg_read pci-bridge 00:08.0 @0x0 -> 0x11b36
pci_cfg_read pci-bridge 00:08.0 @0x8 -> 0x6040000
pci_cfg_read pci-bridge 00:08.0 @0xe -> 0x1
pci_cfg_write pci-bridge 00:08.0 @0x18 <- 0x10100
Could not open option rom 'kvmvapic.bin': No such file or directory
pci_cfg_read e1000 01:01.0 @0x0 -> 0x100e8086
pci_cfg_read e1000 01:01.0 @0xa -> 0x200
pci_cfg_read e1000 01:01.0 @0xe -> 0x0
";

const TABLE: &str = "\
00:01.0 ISA bridge [0601]: Intel Corporation 82371SB PIIX3 ISA [Natoma/Triton II] [8086:7000] {PIIX3}
00:03.0 Ethernet controller [0200]: Intel Corporation 82540EM Gigabit Ethernet Controller [8086:100e] (rev 03) {e1000}
00:08.0 PCI bridge [0604]: Red Hat, Inc. QEMU PCI-PCI bridge [1b36:0001] {pci-bridge}
01:01.0 Ethernet controller [0200]: Intel Corporation 82540EM Gigabit Ethernet Controller [8086:100e] (rev ??) {e1000}
";

#[test]
fn default_table_is_lspci_nn_with_qemu_names() {
    let (code, out, err) = run(&[], LOG);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, TABLE);
    assert!(err.is_empty(), "{err}");
    // A file argument and '-' read the same.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), LOG).unwrap();
    let (code, out2, _) = run(&[f.path().to_str().unwrap()], "");
    assert_eq!((code, out2.as_str()), (0, TABLE));
    let (_, out3, _) = run(&["-"], LOG);
    assert_eq!(out3, TABLE);
}

#[test]
fn nothing_found_exits_1() {
    // See: issue 22 (it said nothing): stderr says why, the status stays 1.
    let (code, out, err) = run(&[], "ps2_put_keycode 0x55 keycode 0x1c\nhello\n");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            1,
            "",
            "pci-table: no pci_cfg_read/pci_cfg_write events in 2 lines (the input was read \
             once; enable them with -d 'trace:pci_cfg_*')\n"
        )
    );
    let (code, out, err) = run(&["-s", "1f.7"], LOG);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "pci-table: no function matches -s 1f.7 (the trace has 4: 00:01.0, 00:03.0, 00:08.0, 01:01.0)\n"
    );
    let (code, out, err) = run(&["-d", "1234:"], LOG);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.ends_with("pci-table: no function matches -d 1234: (the trace has 4: 00:01.0, 00:03.0, 00:08.0, 01:01.0)\n"), "{err}");
    // Records still get their header.
    let (code, out, _) = run(&["-o", "csv", "-s", "1f.7"], LOG);
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 1);
    let (code, out, _) = run(&["--accesses", "-s", "1f.7"], LOG);
    assert_eq!((code, out.as_str()), (1, ""));
}

#[test]
fn r22_an_empty_result_says_which_tool_the_trace_is_for() {
    // See: issue 22. Files are read again to name what they hold; every
    // count is checked against the trace itself.
    let keys = data("B-ps2-pc-set3-plain/trace.log");
    let text = std::fs::read_to_string(&keys).unwrap();
    let lines = text.lines().count();
    let (code, out, err) = run(&[keys.to_str().unwrap()], "");
    assert_eq!((code, out.as_str()), (1, ""));
    let want = format!(
        "pci-table: no pci_cfg_read/pci_cfg_write events in {} lines (this looks like a PS/2 \
         keyboard trace: ",
        thousands(lines)
    );
    assert!(err.starts_with(&want), "{err}");
    assert!(err.trim_end().ends_with("; try ps2-decode)"), "{err}");
    for name in err
        .split(": ")
        .nth(2)
        .unwrap()
        .split("; ")
        .next()
        .unwrap()
        .split(", ")
    {
        // Events ps2-decode reads, each in the trace.
        assert!(name.starts_with("ps2_"), "{name}");
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name}"
        );
    }
    let disks = data("C-dma-pc-ide-ts/trace.log");
    let (code, _, err) = run(&[disks.to_str().unwrap()], "");
    assert_eq!(code, 1);
    assert!(
        err.contains("(this looks like a block I/O trace: ") && err.contains("; try dma-sectors)"),
        "{err}"
    );
    // Not a trace at all: the README of the data, every line counted.
    let readme = data("README.md");
    let n = std::fs::read_to_string(&readme).unwrap().lines().count();
    let (code, _, err) = run(&[readme.to_str().unwrap()], "");
    assert_eq!(code, 1);
    assert!(
        err.ends_with(&format!(
            "pci-table: no pci_cfg_read/pci_cfg_write events: none of its {n} lines is a QEMU \
             trace event (enable them with -d 'trace:pci_cfg_*')\n"
        )),
        "{err}"
    );
    let empty = tempfile::NamedTempFile::new().unwrap();
    let (code, _, err) = run(&[empty.path().to_str().unwrap()], "");
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "pci-table: no pci_cfg_read/pci_cfg_write events: the input is empty\n"
        )
    );
    // --writes-only with no write, and a run that found functions: silent.
    let accesses = LOG.lines().filter(|l| l.starts_with("pci_cfg_")).count();
    let (code, _, err) = run(&["--accesses", "--writes-only", "-s", "01:01.0"], LOG);
    assert_eq!(code, 1);
    assert!(
        err.ends_with(&format!(
            "pci-table: no write to the 1 selected function(s) among {accesses} config access(es)\n"
        )),
        "{err}"
    );
    let (code, _, err) = run(&[], LOG);
    assert_eq!(code, 0);
    assert!(!err.contains("no "), "{err}");
}

/// `n` with thousands separators, written here independently of the tool.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn r22_numeric_ids_like_lspci_n_and_nn() {
    // See: issue 22 (-nn was refused).
    let (code, out, err) = run(&["-n"], LOG);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "00:01.0 0601: 8086:7000 {PIIX3}\n\
         00:03.0 0200: 8086:100e (rev 03) {e1000}\n\
         00:08.0 0604: 1b36:0001 {pci-bridge}\n\
         01:01.0 0200: 8086:100e (rev ??) {e1000}\n"
    );
    // -nn is the default: names and numbers.
    assert_eq!(run(&["-nn"], LOG).1, TABLE);
    assert_eq!(run(&["-n", "-n"], LOG).1, TABLE);
    let (_, out, _) = run(&["-n", "-v", "-s", "00:03.0"], LOG);
    assert!(out.contains("\tSubsystem: 1af4:1100\n"), "{out}");
    let (code, _, err) = run(&["-n", "-o", "csv"], LOG);
    assert_eq!(code, 2);
    assert!(
        err.contains("-n and -nn choose how lspci-style lines show ids"),
        "{err}"
    );
}

/// Whether lspci is there; without it the test is skipped, unless
/// QTRACE_REQUIRE_TOOLS=1 asks for a failure.
fn have_lspci(test: &str) -> bool {
    let ok = std::process::Command::new("lspci")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !ok {
        if std::env::var("QTRACE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{test}: `lspci` is required (QTRACE_REQUIRE_TOOLS=1) but not installed");
        }
        eprintln!("SKIPPED {test}: `lspci` is not installed (apt-get install pciutils)");
    }
    ok
}

#[test]
fn r22_numeric_lines_are_the_real_lspci_n_on_our_dump() {
    // See: issue 22. The real lspci reads our -xxx dump; its -n lines are
    // ours without QEMU's {name}.
    if !have_lspci("r22_numeric_lines_are_the_real_lspci_n_on_our_dump") {
        return;
    }
    for t in [
        "A-pci-pc-plain/trace.log",
        "A-pci-q35-ts/trace.log",
        "L-pci-pvpanic-pc/trace.log",
        "L-pci-pvpanic-q35/trace.log",
        "V-qemu52/pci-pc/trace.log",
    ] {
        let trace = data(t);
        let trace = trace.to_str().unwrap();
        let dump = tempfile::NamedTempFile::new().unwrap();
        let (code, text, err) = run(&["-xxx", trace], "");
        assert_eq!(code, 0, "{t}: {err}");
        std::fs::write(dump.path(), text).unwrap();
        let lspci = std::process::Command::new("lspci")
            .arg("-F")
            .arg(dump.path())
            .arg("-n")
            .output()
            .unwrap();
        assert!(lspci.status.success(), "{t}");
        let theirs = String::from_utf8(lspci.stdout).unwrap();
        let (code, ours, _) = run(&["-n", trace], "");
        assert_eq!(code, 0, "{t}");
        let ours: String = ours
            .lines()
            .map(|l| format!("{}\n", l.rsplit_once(" {").unwrap().0))
            .collect();
        assert!(theirs.lines().count() > 3, "{t}: {theirs}");
        assert_eq!(ours, theirs, "{t}");
    }
}

#[test]
fn r22_no_header_for_csv_and_tsv_only() {
    // See: issue 22 (for `sort | uniq -c`).
    for (fmt, sep) in [("csv", ","), ("tsv", "\t")] {
        let (code, with, _) = run(&["-o", fmt], LOG);
        let (code2, without, err) = run(&["-o", fmt, "--no-header"], LOG);
        assert_eq!((code, code2, err.as_str()), (0, 0, ""));
        let mut lines = with.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with(&format!("bdf{sep}qemu_name{sep}"))
        );
        assert_eq!(
            lines.collect::<Vec<_>>(),
            without.lines().collect::<Vec<_>>()
        );
        assert_eq!(without.lines().count(), 4);
        let (_, acc, _) = run(&["--accesses", "-o", fmt, "--no-header"], LOG);
        assert_eq!(
            acc.lines().count(),
            LOG.lines().filter(|l| l.starts_with("pci_cfg_")).count()
        );
        assert!(acc.starts_with(&format!("<stdin>{sep}1{sep}")), "{acc}");
    }
    for args in [
        &["--no-header"][..],
        &["--no-header", "-o", "jsonl"],
        &["--no-header", "-t"],
    ] {
        let (code, out, err) = run(args, LOG);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        assert!(
            err.contains("--no-header is for -o csv and -o tsv"),
            "{err}"
        );
    }
}
#[test]
fn usage_and_input_errors_exit_2() {
    for args in [
        &["--bogus"][..],
        &["-s", "zz"],
        &["-s", "1f.8"],
        &["-s", "20"],
        &["-d", "8086"],
        &["-d", "10000:"],
        &["-t", "-o", "csv"],
        &["-x", "-o", "jsonl"],
        &["-t", "-x"],
        &["--writes-only"],
        &["-o", "xml"],
        &["-i", "/no/such/pci.ids"],
        &["--trace-events", "/no/such/trace-events"],
    ] {
        let (code, out, err) = run(args, LOG);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(!err.is_empty(), "{args:?}");
    }
    let (code, out, err) = run(&["/no/such/file"], "");
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.starts_with("pci-table: /no/such/file: "), "{err}");
    // A file that is not a pci.ids.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), "hello\nworld\n").unwrap();
    let (code, _, err) = run(&["-i", f.path().to_str().unwrap()], LOG);
    assert_eq!(code, 2);
    assert!(err.contains("not a pci.ids file"), "{err}");
    // Output before an unreadable input's error still comes out.
    let g = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(g.path(), LOG).unwrap();
    let (code, out, _) = run(&[g.path().to_str().unwrap(), "/no/such/file"], "");
    assert_eq!((code, out.as_str()), (2, TABLE));
}

#[test]
fn bad_lines_are_reported_with_line_numbers_and_the_table_still_comes_out() {
    let bad = format!(
        "{LOG}pci_cfg_read e1000 00:03.0 @0x\n\
         pci_cfg_read e1000 00:03.0 @0x8 -> 0x102000003\n\
         pci_cfg_write e1000 00:03.0 @0x1000 <- 0x0\n\
         pci_cfg_read e1000 00:03.0 @0x3 -> 0x100\n\
         pci_cfg_read e1000 00:40.0 @0x0 -> 0x1\n"
    );
    let n = LOG.lines().count();
    let (code, out, err) = run(&[], &bad);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, TABLE);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 6, "{err}");
    assert!(
        lines[0].starts_with(&format!("pci-table: <stdin>:{}: ", n + 1))
            && lines[0].contains("truncated"),
        "{err}"
    );
    assert!(
        lines[1].starts_with(&format!("pci-table: <stdin>:{}: ", n + 2))
            && lines[1].contains("wider than 32 bits"),
        "{err}"
    );
    assert!(
        lines[2].starts_with(&format!("pci-table: <stdin>:{}: ", n + 3))
            && lines[2].contains("past the end of config space"),
        "{err}"
    );
    assert!(
        lines[3].starts_with(&format!("pci-table: <stdin>:{}: ", n + 4))
            && lines[3].contains("offset 0x3"),
        "{err}"
    );
    assert!(
        lines[4].starts_with(&format!("pci-table: <stdin>:{}: ", n + 5))
            && lines[4].contains("slot number 64"),
        "{err}"
    );
    assert!(
        lines[5].contains("5 trace line(s) could not be used"),
        "{err}"
    );
}

#[test]
fn verbose_details() {
    let (code, out, _) = run(&["-v", "-s", "00:03"], LOG);
    assert_eq!(code, 0);
    let expected = "\
00:03.0 Ethernet controller [0200]: Intel Corporation 82540EM Gigabit Ethernet Controller [8086:100e] (rev 03) {e1000}
\tSubsystem: Red Hat, Inc. QEMU Virtual Machine [1af4:1100]
\tHeader type: 0 (device)
\tCommand: IO+ MEM+ SERR+
\tInterrupt: pin A routed to IRQ 11
\tRegion 0: Memory at fea40000 (32-bit, non-prefetchable) [size=128K]
\tRegion 1: I/O ports at d100 [size=64]
\tCapabilities: list not followed past 0x34 (not read by the guest)
\tCoverage: header 25/64 bytes known (14 read, 11 written), 3 inferred; config space 25/256 known, 3 inferred, 228 never observed
\tAccessed: read 0x00-0x04,0x08-0x0b,0x0e,0x10-0x17,0x2c-0x2f,0x3d; written 0x04-0x05,0x10-0x17,0x3c
\tTrace: 19 accesses (11 reads, 8 writes), lines 4-22

";
    assert_eq!(out, expected);
    let (_, out, _) = run(&["-v", "-s", "8.0"], LOG);
    assert!(
        out.contains("\tBus: primary=00, secondary=01, subordinate=01\n"),
        "{out}"
    );
    assert!(out.contains("(prog-if 00 [Normal decode])"), "{out}");
    // -vv is accepted (lspci habit) and means the same.
    let (code, out2, _) = run(&["-vv", "-s", "8.0"], LOG);
    assert_eq!((code, out2), (0, out));
}

#[test]
fn tree_like_lspci_t() {
    let (code, out, _) = run(&["-t"], LOG);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "-[0000:00]-+-01.0\n           +-03.0\n           \\-08.0-[01]----01.0\n"
    );
    let (_, out, _) = run(&["-tv", "-s", "01:"], LOG);
    assert_eq!(
        out,
        "-[0000:00]-\\-08.0-[01]----01.0  Intel Corporation 82540EM Gigabit Ethernet Controller [8086:100e] {e1000}\n"
    );
}

#[test]
fn dumps_say_which_bytes_were_never_observed() {
    let (code, out, _) = run(&["-x", "-s", "01:01.0"], LOG);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "\
01:01.0 Ethernet controller [0200]: Intel Corporation 82540EM Gigabit Ethernet Controller [8086:100e] (rev ??) {e1000}
00: 86 80 0e 10 00 00 00 00 00 00 00 02 00 00 00 00
10: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
20: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
30: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
# pci-table: never observed, printed as 00: 0x04-0x09,0x0c-0x0d,0x10-0x3f
# pci-table: inferred 00 (zero if the access was as wide as its alignment allows): 0x0f

"
    );
    let rows = |args: &[&str]| {
        let (_, out, _) = run(args, LOG);
        out.lines()
            .filter(|l| l.len() == 51 && l.as_bytes()[2] == b':' && l.as_bytes()[3] == b' ')
            .count()
    };
    assert_eq!(rows(&["-x", "-s", "3.0"]), 4);
    assert_eq!(rows(&["-xx", "-s", "3.0"]), 4);
    assert_eq!(rows(&["-xxx", "-s", "3.0"]), 16);
    // Not a PCI Express function: -xxxx stops at 256 bytes, as lspci does.
    assert_eq!(rows(&["-xxxx", "-s", "3.0"]), 16);
    // -v puts the details in comments lspci ignores.
    let (_, out, _) = run(&["-x", "-v", "-s", "3.0"], LOG);
    assert!(out.contains("#\tRegion 0: Memory at fea40000"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("00:03.0 ")).count(), 1);
}

#[test]
fn records_have_exactly_the_documented_columns() {
    let (code, out, _) = run(&["-o", "csv"], LOG);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "bdf,qemu_name,vendor_id,device_id,class,revision,subsystem_vendor_id,subsystem_id,header_type,irq_line,irq_pin,vendor_name,device_name,class_name,bars"
    );
    assert_eq!(
        lines.nth(1).unwrap(),
        "00:03.0,e1000,0x8086,0x100e,0x20000,0x3,0x1af4,0x1100,0,11,1,Intel Corporation,82540EM Gigabit Ethernet Controller,Ethernet controller,0:mem32:0xfea40000:0x20000;1:io:0xd100:0x40"
    );
    let (_, out, _) = run(&["-o", "tsv", "-s", "8.0"], LOG);
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("00:08.0\tpci-bridge\t0x1b36\t0x1\t"),
        "{out}"
    );

    let (_, out, _) = run(&["-o", "jsonl"], LOG);
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 4);
    let keys: Vec<&str> = recs[1]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // serde_json's map is sorted; check the line's own key order too.
    assert_eq!(keys.len(), 15);
    let line = out.lines().nth(1).unwrap();
    let mut pos = 0;
    for k in [
        "bdf",
        "qemu_name",
        "vendor_id",
        "device_id",
        "class",
        "revision",
        "subsystem_vendor_id",
        "subsystem_id",
        "header_type",
        "irq_line",
        "irq_pin",
        "vendor_name",
        "device_name",
        "class_name",
        "bars",
    ] {
        let p = line[pos..]
            .find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("{k} in {line}"));
        pos += p;
    }
    let e = &recs[1];
    assert_eq!(e["bdf"], "00:03.0");
    assert_eq!(e["vendor_id"], 0x8086);
    assert_eq!(e["class"], 0x020000);
    assert_eq!(e["revision"], 3);
    assert_eq!(e["irq_line"], 11);
    assert_eq!(
        e["bars"],
        serde_json::json!([
            {"index": 0, "kind": "mem32", "address": 0xfea4_0000u64, "size": 0x20000},
            {"index": 1, "kind": "io", "address": 0xd100, "size": 0x40}
        ])
    );
    // Never observed is null, not 0.
    let far = &recs[3];
    assert_eq!(far["revision"], serde_json::Value::Null);
    assert_eq!(far["class"], serde_json::Value::Null);
    assert_eq!(far["irq_pin"], serde_json::Value::Null);
    assert_eq!(far["subsystem_id"], serde_json::Value::Null);
    assert_eq!(far["bars"], serde_json::json!([]));

    let (_, out, _) = run(&["-o", "text", "-s", "8.0"], LOG);
    assert!(
        out.starts_with("bdf=00:08.0 qemu_name=pci-bridge vendor_id=0x1b36"),
        "{out}"
    );
    // -o lspci is the default.
    let (_, out, _) = run(&["-o", "lspci"], LOG);
    assert_eq!(out, TABLE);
}

#[test]
fn access_log() {
    let (code, out, _) = run(&["--accesses", "-s", "3.0"], LOG);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 19);
    assert_eq!(lines[0], "00:03.0 @0x00 VENDOR_ID -> 0x8086");
    assert_eq!(lines[1], "00:03.0 @0x00 VENDOR_ID+DEVICE_ID -> 0x100e8086");
    assert_eq!(lines[5], "00:03.0 @0x10 BAR0 probe <- 0xffffffff");
    assert_eq!(lines[6], "00:03.0 @0x10 BAR0 sizing -> 0xfffe0000 (128K)");
    assert_eq!(lines[7], "00:03.0 @0x10 BAR0 restore <- 0x00000000");
    assert_eq!(lines[10], "00:03.0 @0x14 BAR1 sizing -> 0xffffffc1 (64)");
    assert_eq!(lines[15], "00:03.0 @0x3d INTERRUPT_PIN -> 0x01 (INTA)");
    assert_eq!(
        lines[18],
        "00:03.0 @0x04 COMMAND <- 0x0103 (IO+ MEM+ SERR+)"
    );

    let (_, out, _) = run(&["--accesses", "--writes-only", "-v", "-s", "8.0"], LOG);
    assert_eq!(
        out,
        "<stdin>:27: 00:08.0 @0x18 PRIMARY_BUS+SECONDARY_BUS+SUBORDINATE_BUS+SEC_LATENCY_TIMER <- 0x00010100 {pci-bridge}\n"
    );
    let (_, out, _) = run(&["--accesses", "--line-buffered", "-d", ":7000"], LOG);
    assert_eq!(out.lines().count(), 3);

    let (_, out, _) = run(&["--accesses", "-o", "jsonl", "-s", "3.0"], LOG);
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 19);
    assert_eq!(
        recs[6],
        serde_json::json!({"input": "<stdin>", "line": 10, "time": null, "bdf": "00:03.0",
            "qemu_name": "e1000", "op": "read", "offset": 16, "width": 4, "value": 0xfffe_0000u64,
            "register": "BAR0", "role": "sizing", "note": "128K"})
    );
    // An access whose width the trace does not tell has a null width.
    assert_eq!(recs[0]["width"], serde_json::Value::Null);
    let (_, out, _) = run(&["--accesses", "-o", "csv", "--writes-only"], LOG);
    assert_eq!(
        out.lines().next().unwrap(),
        "input,line,time,bdf,qemu_name,op,offset,width,value,register,role,note"
    );
    assert_eq!(out.lines().count(), 1 + 9);
}

#[test]
fn selection_with_lspci_syntax() {
    let bdfs = |args: &[&str]| -> Vec<String> {
        let (_, out, _) = run(args, LOG);
        out.lines().map(|l| l[..7].to_string()).collect()
    };
    assert_eq!(bdfs(&["-s", "3"]), ["00:03.0"]);
    assert_eq!(bdfs(&["-s", "1:"]), ["01:01.0"]);
    assert_eq!(
        bdfs(&["-s", "0000:00:*.0"]),
        ["00:01.0", "00:03.0", "00:08.0"]
    );
    assert_eq!(
        bdfs(&["-s", ".0", "-d", "8086:100e"]),
        ["00:03.0", "01:01.0"]
    );
    assert_eq!(bdfs(&["-d", "::0604"]), ["00:08.0"]);
    assert_eq!(bdfs(&["-d", "1b36:*:0604:00"]), ["00:08.0"]);
}

#[test]
fn ids_file_replaces_the_embedded_database() {
    let ids = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        ids.path(),
        "8086  Chipzilla\n\t100e  Pro/1000 MT\n\t7000  South bridge\n1b36  Hat\nC 02  Network\n\t00  Wired\nC 06  Bridge\n",
    )
    .unwrap();
    let (code, out, _) = run(&["-i", ids.path().to_str().unwrap()], LOG);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "\
00:01.0 Bridge [0601]: Chipzilla South bridge [8086:7000] {PIIX3}
00:03.0 Wired [0200]: Chipzilla Pro/1000 MT [8086:100e] (rev 03) {e1000}
00:08.0 Bridge [0604]: Hat Device [1b36:0001] {pci-bridge}
01:01.0 Wired [0200]: Chipzilla Pro/1000 MT [8086:100e] (rev ??) {e1000}
"
    );
    let (_, out, _) = run(
        &[
            "--ids",
            ids.path().to_str().unwrap(),
            "-s",
            "3.0",
            "-o",
            "csv",
        ],
        LOG,
    );
    assert!(out.contains(",Chipzilla,Pro/1000 MT,Wired,"), "{out}");
}

#[test]
fn catalog_and_line_length_options() {
    // A catalog file of our own (the format QEMU 7.0+ prints) is used.
    let te = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        te.path(),
        "pci_cfg_read(const char *dev, uint32_t bus, uint32_t slot, uint32_t func, unsigned offs, unsigned val) \"%s %02x:%02x.%x @0x%x -> 0x%x\"\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &[
            "--trace-events",
            te.path().to_str().unwrap(),
            "--no-installed-catalog",
        ],
        LOG,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, TABLE);
    // A line longer than --max-line-len is reported; the rest still counts.
    let long = format!(
        "pci_cfg_read e1000 00:05.0 @0x0 -> 0x100e8086 {}\n{LOG}",
        "x".repeat(300)
    );
    let (code, out, err) = run(&["--max-line-len", "200"], &long);
    assert_eq!(code, 2);
    assert_eq!(out, TABLE);
    assert!(
        err.contains("<stdin>:1:") && err.contains("--max-line-len"),
        "{err}"
    );
}

#[test]
fn old_qemu_format_assumes_bus_0() {
    let old = "\
2745@1795679248.720889:pci_cfg_read i440FX 00:0 @0x0 -> 0x12378086
2745@1795679248.720890:pci_cfg_read i440FX 00:0 @0x8 -> 0x6000002
2745@1795679248.733032:pci_cfg_read pci-bridge 30:0 @0x0 -> 0x11b36
2745@1795679248.733033:pci_cfg_read ICH9 SMB 31:3 @0x0 -> 0x29308086
";
    let (code, out, err) = run(&[], old);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "\
00:00.0 Host bridge [0600]: Intel Corporation 440FX - 82441FX PMC [Natoma] [8086:1237] (rev 02) {i440FX}
00:1e.0 Class [????]: Red Hat, Inc. QEMU PCI-PCI bridge [1b36:0001] (rev ??) {pci-bridge}
00:1f.3 Class [????]: Intel Corporation 82801I (ICH9 Family) SMBus Controller [8086:2930] (rev ??) {ICH9 SMB}
"
    );
    assert!(err.contains("bus 0 is assumed"), "{err}");
}

#[test]
fn generate_help_and_version() {
    TOOL.assert_help_version_and_generate(&["Examples:", "lspci -F", "--accesses", "--ids"]);
    // -V is --version.
    let (code, out, _) = run(&["-V"], "");
    assert_eq!(code, 0);
    assert!(out.starts_with("pci-table "), "{out}");
}

/// A trace with 8192 functions: its table is far bigger than a pipe buffer.
fn big_trace() -> tempfile::NamedTempFile {
    let big = tempfile::NamedTempFile::new().unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(big.path()).unwrap());
    for bus in 0..256 {
        for slot in 0..32 {
            writeln!(
                f,
                "pci_cfg_read e1000 {bus:02x}:{slot:02x}.0 @0x0 -> 0x100e8086"
            )
            .unwrap();
            writeln!(
                f,
                "pci_cfg_read e1000 {bus:02x}:{slot:02x}.0 @0x8 -> 0x2000003"
            )
            .unwrap();
        }
    }
    f.flush().unwrap();
    drop(f);
    big
}

#[test]
fn broken_pipe_is_a_quiet_success() {
    let big = big_trace();
    for args in [&["-v"][..], &["-o", "jsonl"], &["--accesses"], &["-xxx"]] {
        TOOL.assert_broken_pipe_is_quiet(args, big.path());
    }
}

#[test]
fn compressed_real_trace() {
    // The shipped zstd trace is read as it is.
    let (code, out, err) = run(
        &[data("D-mixed-q35-ts/trace.log.zst").to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 11);
    assert!(out.contains("01:00.0 Non-Volatile memory controller [0108]: Red Hat, Inc. QEMU NVM Express Controller [1b36:0010] (rev 02) {nvme}"), "{out}");
}

// See: issue 20
/// Past the cap (set low through `QTRACE_MAX_KEYS`), a new function is not
/// tracked: the table lists the first ones, the run says how many accesses
/// went to untracked ones and where the first was, and exits 2.
#[test]
fn r20_functions_past_the_cap_are_reported_not_tracked() {
    let log = "\
pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086
pci_cfg_read e1000 00:04.0 @0x0 -> 0x100e8086
pci_cfg_read e1000 00:05.0 @0x0 -> 0x100e8086
pci_cfg_read e1000 00:05.0 @0x8 -> 0x2000003
pci_cfg_read e1000 00:03.0 @0x8 -> 0x2000003
";
    let out = TOOL
        .cmd()
        .env("QTRACE_MAX_KEYS", "2")
        .args(["-o", "csv"])
        .write_stdin(log)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let bdfs: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(bdfs, ["00:03.0", "00:04.0"], "{stdout}");
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "pci-table: stopped tracking new PCI functions after 2 (2 more seen, first at <stdin>:3)\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// Many QEMU devices printed at one address are one function each, found
/// by hash (a trace of them once slowed the tool 75-fold).
#[test]
fn r20_many_names_at_one_address_are_distinct_functions() {
    let mut log = String::new();
    for i in 0..3000 {
        log.push_str(&format!("pci_cfg_read dev{i} 00:03.0 @0x0 -> 0x100e8086\n"));
    }
    for i in 0..3000 {
        log.push_str(&format!("pci_cfg_read dev{i} 00:03.0 @0x8 -> 0x2000003\n"));
    }
    let (code, out, err) = run(&["-o", "csv"], &log);
    assert_eq!((code, err.as_str()), (0, ""));
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(names.len(), 3000);
    let want: Vec<String> = (0..3000).map(|i| format!("dev{i}")).collect();
    assert_eq!(names, want);
    // Every function got its class and revision (0x2000003) from its second access.
    assert!(
        out.lines().skip(1).all(|l| l.contains(",0x20000,0x3,")),
        "{out}"
    );
}

/// Other lines that were examined (they contain `pci_cfg_`) and event lines
/// whose name lost a byte are counted on stderr; the output and status are
/// those of the intact lines alone.
#[test]
fn r20_other_lines_and_damaged_names_are_counted() {
    let intact = "\
pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086
pci_cfg_read e1000 00:03.0 @0x8 -> 0x2000003
";
    let damaged = format!(
        "{intact}the guest printed pci_cfg_ here\n\
         pci_cfg_reaf e1000 00:03.0 @0x8 -> 0x2000003\n\
         1@2.000000:pci_cfg_wrjte e1000 00:03.0 @0x10 <- 0xffffffff\n"
    );
    TOOL.assert_unused_lines_only_reported(
        &[],
        intact,
        &damaged,
        "pci-table: 1 line(s) were not trace events and were skipped\n\
         pci-table: warning: 2 event line(s) with a damaged name (one byte off an event this \
         tool reads, declared by no catalog) were skipped (first: <stdin>:4 'pci_cfg_reaf', \
         for pci_cfg_read)\n",
    );
}

#[test]
fn r20_an_error_outlives_a_broken_pipe_and_a_closed_stdout_is_an_error() {
    // See: issue 20 (both exited 0: the error was lost, the output discarded).
    let big = big_trace();
    TOOL.assert_error_then_broken_pipe_exits_2(&["-v"], big.path());
    TOOL.assert_closed_stdout_is_an_error(&["-v"], big.path());
}
