//! Process-level tests of dma-sectors: every flag, exit codes, the joins on
//! small hand-written traces (one per case the real captures do not show:
//! chunked DMA, merged virtio requests, split SCSI transfers, NVMe blocks of
//! 4 KiB, TRIM, pre-2.7 `sector_num`), anomaly reports, broken pipes.

use std::io::Write;

use qtrace_testkit::Tool;
use serde_json::Value;

/// Hermetic: built-in specs only, whatever the machine has installed.
const TOOL: Tool = Tool {
    name: "dma-sectors",
    bin: env!("CARGO_BIN_EXE_dma-sectors"),
    args: &["--no-installed-catalog"],
};

fn cmd() -> assert_cmd::Command {
    TOOL.cmd()
}

/// Runs with `stdin` and returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    TOOL.run(args, stdin)
}

fn jsonl(args: &[&str], stdin: &str) -> Vec<Value> {
    let (code, out, err) = run(&[&["-o", "jsonl"], args].concat(), stdin);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// IDE: a read in one chunk, a write in two chunks (the second from the
/// main-loop thread), each completed; two blk_root_attach lines name the
/// real backend 0xa1.
const IDE: &str = "\
1@1000.000000:blk_root_attach child 0xc1 blk 0xa0 bs 0xb0
1@1000.000001:blk_root_attach child 0xc1 blk 0xa1 bs 0xb1
2@1000.000010:ide_dma_cb IDEState 0x51; sector_num=8 n=8 cmd=DMA READ
2@1000.000011:dma_blk_io dbs=0xd1 bs=0xa1 offset=4096 to_dev=0
2@1000.000012:dma_blk_cb dbs=0xd1 ret=0
2@1000.000013:blk_co_preadv blk 0xa1 bs 0xb1 offset 4096 bytes 4096 flags 0x0
1@1000.000020:dma_blk_cb dbs=0xd1 ret=0
1@1000.000021:dma_complete dbs=0xd1 ret=0 cb=0x99
2@1000.000100:ide_dma_cb IDEState 0x51; sector_num=100 n=16 cmd=DMA WRITE
2@1000.000101:dma_blk_io dbs=0xd1 bs=0xa1 offset=51200 to_dev=1
2@1000.000102:blk_co_pwritev blk 0xa1 bs 0xb1 offset 51200 bytes 4096 flags 0x0
1@1000.000110:blk_co_pwritev blk 0xa1 bs 0xb1 offset 55296 bytes 4096 flags 0x0
1@1000.000120:dma_complete dbs=0xd1 ret=0 cb=0x99
";

#[test]
fn requests_as_text_csv_tsv_jsonl() {
    let (code, out, err) = run(&[], IDE);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "1000.000010             2 disk0  ide    R          8 + 8          4096 ide_dma_cb\n\
         1000.000100             2 disk0  ide    W        100 + 16         8192 ide_dma_cb\n"
    );
    let (_, out, _) = run(&["-o", "csv"], IDE);
    assert_eq!(
        out,
        "time,tid,disk,controller,op,sector,sectors,offset,bytes,source,origin\n\
         1000.000010,2,disk0,ide,read,8,8,4096,4096,ide_dma_cb,guest\n\
         1000.000100,2,disk0,ide,write,100,16,51200,8192,ide_dma_cb,guest\n"
    );
    let (_, out, _) = run(&["-o", "tsv"], IDE);
    assert!(out.starts_with(
        "time\ttid\tdisk\tcontroller\top\tsector\tsectors\toffset\tbytes\tsource\torigin\n"
    ));
    let (_, out, _) = run(&["-o", "jsonl"], IDE);
    assert_eq!(
        out.lines().next().unwrap(),
        r#"{"time":"1000.000010","tid":2,"disk":"disk0","controller":"ide","op":"read","sector":8,"sectors":8,"offset":4096,"bytes":4096,"source":"ide_dma_cb","origin":"guest"}"#
    );
    let r = jsonl(&["--relative"], IDE);
    assert_eq!(r[0]["time"].as_f64(), Some(0.00001));
    assert_eq!(r[1]["time"].as_f64(), Some(0.0001));
    let (_, out, _) = run(&["--relative"], IDE);
    assert!(out.starts_with("0.000010 "), "{out}");
}

/// Relative times count from the trace's first timestamp even when its
/// event is one the tool does not read (the splitting threads leave such
/// events out, all but that one), from a file and from stdin.
#[test]
fn relative_times_count_from_the_first_event_of_any_kind() {
    let trace = format!(
        "9@999.500000:dma_blk_cb dbs=0xd1 ret=0\n\
         guest output\n\
         9@999.600000:pci_cfg_read mch 00:00.0 @0x0 -> 0x29c08086\n\
         {}",
        IDE.repeat(2000)
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &trace).unwrap();
    let out = cmd()
        .args(["--relative", "-o", "csv"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let from_file = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        from_file.lines().nth(1),
        Some("0.500010,2,disk0,ide,read,8,8,4096,4096,ide_dma_cb,guest")
    );
    assert_eq!(from_file.lines().count(), 1 + 2 * 2000);
    let (code, from_stdin, err) = run(&["--relative", "-o", "csv"], &trace);
    // The one line of guest output is counted, and the status stays 0.
    assert_eq!(
        (code, err.as_str()),
        (
            0,
            "dma-sectors: 1 line(s) were not trace events and were skipped\n"
        )
    );
    assert_eq!(from_stdin, from_file);
}

#[test]
fn plain_traces_have_no_time_columns() {
    let plain: String = IDE
        .lines()
        .map(|l| format!("{}\n", l.split_once(':').unwrap().1))
        .collect();
    let (code, out, _) = run(&[], &plain);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().next().unwrap(),
        "disk0  ide    R          8 + 8          4096 ide_dma_cb"
    );
    let r = jsonl(&[], &plain);
    assert!(r[0]["time"].is_null() && r[0]["tid"].is_null());
    let s = jsonl(&["--summary"], &plain);
    assert!(s[0]["first_time"].is_null() && s[0]["latency_min"].is_null());
    assert_eq!(s[0]["latency_count"], 0);
}

#[test]
fn summary_extents_map() {
    let s = jsonl(&["--summary"], IDE);
    assert_eq!(s.len(), 1);
    let d = &s[0];
    assert_eq!(d["disk"], "disk0");
    assert_eq!(d["controller"], "ide");
    assert_eq!(d["ptr"], "0xa1");
    assert_eq!(
        (
            d["requests"].as_u64(),
            d["reads"].as_u64(),
            d["writes"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(
        (d["read_bytes"].as_u64(), d["write_bytes"].as_u64()),
        (Some(4096), Some(8192))
    );
    assert_eq!(
        (
            d["min_bytes"].as_u64(),
            d["avg_bytes"].as_u64(),
            d["max_bytes"].as_u64()
        ),
        (Some(4096), Some(6144), Some(8192))
    );
    assert_eq!(
        (d["sequential"].as_u64(), d["sequential_pct"].as_f64()),
        (Some(0), Some(0.0))
    );
    assert_eq!(
        (
            d["seeks"].as_u64(),
            d["seek_min"].as_u64(),
            d["seek_max"].as_u64()
        ),
        (Some(1), Some(84), Some(84))
    );
    assert_eq!(
        (d["first_time"].as_str(), d["last_time"].as_str()),
        (Some("1000.000010"), Some("1000.000100"))
    );
    assert_eq!(d["latency_count"], 2);
    assert_eq!(d["latency_min"].as_f64(), Some(0.000011));
    assert_eq!(d["latency_max"].as_f64(), Some(0.00002));
    let (_, text, _) = run(&["--summary"], IDE);
    assert!(
        text.starts_with("disk0  ide  0xa1\n  requests    2 (1 reads, 1 writes)\n"),
        "{text}"
    );
    assert!(
        text.contains("latency     min 0.000011, avg 0.000015, max 0.000020 s (2 paired"),
        "{text}"
    );
    let (_, csv, _) = run(&["--summary", "-o", "csv"], IDE);
    assert!(csv.starts_with("disk,controller,ptr,requests,reads,writes,read_bytes,write_bytes,unknown_length,min_bytes,avg_bytes,max_bytes,sequential,sequential_pct,seeks,seek_min,seek_avg,seek_max,first_time,last_time,latency_count,latency_min,latency_avg,latency_max,qemu_requests,qemu_bytes\n"), "{csv}");

    let (_, e, _) = run(&["--extents", "-o", "jsonl"], IDE);
    assert_eq!(e.lines().count(), 2);
    assert_eq!(
        e.lines().nth(1).unwrap(),
        r#"{"disk":"disk0","controller":"ide","op":"write","sector":100,"sectors":16,"offset":51200,"bytes":8192,"requests":1,"depth":1,"origin":"guest"}"#
    );
    let (_, text, _) = run(&["--extents"], IDE);
    assert_eq!(text.lines().count(), 2);
    assert!(text.contains("disk0  ide    W        100 + 16"), "{text}");

    let (code, map, _) = run(&["--map", "--map-rows", "4"], IDE);
    assert_eq!(code, 0);
    let rows: Vec<&str> = map
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 4, "{map}");
    assert!(map.contains("disk0 (ide, 0xa1)"), "{map}");
    // One sector per cell (the highest sector touched is 115): sectors 8-15
    // read once, 100-115 written once.
    assert!(
        map.contains("sectors 0-115 touched so far, 32 sectors (16.0 KiB) per row, 1 per cell"),
        "{map}"
    );
    assert_eq!(
        rows[0],
        "           0  ········░░░░░░░░················  ································"
    );
    assert_eq!(
        rows[3],
        "          96  ································  ····░░░░░░░░░░░░░░░░············"
    );
    assert!(map.contains('░') && map.contains('·'));
    let (code, _, err) = run(&["--map", "-o", "csv"], IDE);
    assert_eq!(code, 2);
    assert!(err.contains("--map"), "{err}");
}

#[test]
fn plot_writes_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("io.svg");
    let (code, out, err) = run(&["--plot", svg.to_str().unwrap(), "--summary"], IDE);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with("disk0"));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    assert_eq!(
        text.matches("<path").count(),
        2,
        "one path for reads, one for writes"
    );
    assert!(text.contains("disk0 (ide)") && text.contains("seconds since the first event"));
    let (code, _, err) = run(&["--plot", "/no/such/dir/io.svg"], IDE);
    assert_eq!(code, 2);
    assert!(err.contains("--plot /no/such/dir/io.svg"), "{err}");
}

#[test]
fn sector_size_converts_and_reports_unaligned_requests() {
    let (code, out, err) = run(&["--sector-size", "4096", "-o", "csv"], IDE);
    assert_eq!(code, 0);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(
        rows[0],
        "1000.000010,2,disk0,ide,read,1,1,4096,4096,ide_dma_cb,guest"
    );
    // 51200 is 12.5 blocks of 4 KiB: the row still comes out, covering the
    // blocks it touches, and stderr names the line.
    assert_eq!(
        rows[1],
        "1000.000100,2,disk0,ide,write,12,3,51200,8192,ide_dma_cb,guest"
    );
    assert!(
        err.contains("warning: <stdin>:9: ide_dma_cb at byte 51200 (8192 bytes) is not aligned to 4096-byte sectors"),
        "{err}"
    );
    let (code, _, _) = run(&["--sector-size", "0"], IDE);
    assert_eq!(code, 2);
    // Many anomalies: the first 20 are shown, then how many there were.
    let many: String = (0..25)
        .map(|i| {
            format!(
                "blk_co_preadv blk 0xa1 bs 0xb1 offset {} bytes 100 flags 0x0\n",
                i * 1000
            )
        })
        .collect();
    let (code, out, err) = run(&[], &many);
    assert_eq!((code, out.lines().count()), (0, 25));
    assert_eq!(
        err.lines().filter(|l| l.contains("is not aligned")).count(),
        20,
        "{err}"
    );
    assert!(
        err.contains("\ndma-sectors: 25 requests not aligned to the sector size in all; the first 20 are shown above\n"),
        "{err}"
    );
}

#[test]
fn labels() {
    let r = jsonl(&["--label", "0xa1=root"], IDE);
    assert_eq!(r[0]["disk"], "root");
    let r = jsonl(&["--label", "disk0=boot"], IDE);
    assert_eq!(r[1]["disk"], "boot");
    let (code, _, err) = run(&["--label", "0xdead=x"], IDE);
    assert_eq!(code, 0);
    assert!(err.contains("--label 0xdead=x: no such disk"), "{err}");
    let (code, _, err) = run(&["--label", "sda"], IDE);
    assert_eq!(code, 2);
    assert!(err.contains("expected 0xPTR=NAME"), "{err}");
}

#[test]
fn exit_codes_and_errors_say_where() {
    // No block event: nothing found, and stderr says why (see: issue 22).
    let (code, out, err) = run(&[], "pci_cfg_read mch 00:00.0 @0x0 -> 0x8086\n");
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("dma-sectors: no block I/O events in 1 line (the input was read once; the events it reads: ide_dma_cb, "),
        "{err}"
    );
    let (code, out, _) = run(&["-o", "csv"], "");
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "time,tid,disk,controller,op,sector,sectors,offset,bytes,source,origin\n"
        )
    );
    // Unreadable input: error, status 2.
    let (code, _, err) = run(&["/no/such/file"], "");
    assert_eq!(code, 2);
    assert!(err.starts_with("dma-sectors: /no/such/file: "), "{err}");
    // A block event whose arguments make no sense: reported with its line,
    // the rest still comes out, status 2.
    let bad = format!(
        "{IDE}2@1000.000200:blk_co_preadv blk 0xa1 bs 0xb1 offset -512 bytes 512 flags 0x0\n"
    );
    let (code, out, err) = run(&[], &bad);
    assert_eq!(code, 2);
    assert_eq!(out.lines().count(), 2);
    assert!(
        err.contains("dma-sectors: <stdin>:14: blk_co_preadv: offset is negative"),
        "{err}"
    );
    // A line whose arguments match no known format.
    let (code, out, err) = run(
        &[],
        "blk_co_preadv what is this\nblk_co_preadv blk 0x1 bs 0x2 offset 0 bytes 512 flags 0x0\n",
    );
    assert_eq!(code, 2);
    assert_eq!(out.lines().count(), 1);
    assert!(
        err.contains("<stdin>:1: blk_co_preadv: the arguments match no known format"),
        "{err}"
    );
    // Usage errors.
    for args in [
        &["--bogus"][..],
        &["--extents", "--summary"],
        &["-o", "xml"],
    ] {
        let (code, out, err) = run(args, IDE);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty() && !err.is_empty(), "{args:?}");
    }
}

/// A start-up read (the block layer alone, before any controller event),
/// then the guest's first request.
const STARTUP: &str = "\
1@1000.000001:blk_root_attach child 0xc1 blk 0xa0 bs 0xb0
1@1000.000002:blk_root_attach child 0xc1 blk 0xa1 bs 0xb1
1@1000.000003:blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 512 flags 0x0
2@1000.000010:ide_dma_cb IDEState 0x51; sector_num=0 n=8 cmd=DMA READ
2@1000.000011:dma_blk_io dbs=0xd1 bs=0xa1 offset=0 to_dev=0
2@1000.000012:blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 4096 flags 0x0
1@1000.000020:dma_complete dbs=0xd1 ret=0 cb=0x99
";

#[test]
fn r22_qemus_start_up_read_is_marked_in_every_output() {
    // See: issue 22 (it was `disk0 R 0 + 1` like a guest read).
    let (code, out, err) = run(&[], STARTUP);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "1000.000003             1 disk0  -      R          0 + 1           512 blk_co_preadv qemu\n\
         1000.000010             2 disk0  ide    R          0 + 8          4096 ide_dma_cb\n"
    );
    let r = jsonl(&[], STARTUP);
    assert_eq!(
        (r[0]["origin"].as_str(), r[1]["origin"].as_str()),
        (Some("qemu"), Some("guest"))
    );
    let (_, csv, _) = run(&["-o", "csv", "--extents"], STARTUP);
    assert_eq!(
        csv,
        "disk,controller,op,sector,sectors,offset,bytes,requests,depth,origin\n\
         disk0,ide,read,0,8,0,4096,1,1,guest\n\
         disk0,ide,read,0,1,0,512,1,1,qemu\n"
    );
    // The summary counts the guest's request, and QEMU's apart.
    let s = jsonl(&["--summary"], STARTUP);
    assert_eq!(
        (s[0]["requests"].as_u64(), s[0]["read_bytes"].as_u64()),
        (Some(1), Some(4096))
    );
    assert_eq!(
        (s[0]["qemu_requests"].as_u64(), s[0]["qemu_bytes"].as_u64()),
        (Some(1), Some(512))
    );
    assert_eq!(s[0]["first_time"], "1000.000010");
    let (_, text, _) = run(&["--summary"], STARTUP);
    assert!(
        text.contains("  requests    1 (1 reads, 0 writes)\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  qemu        1 request(s) of QEMU's own at start-up, 512 bytes (not counted above)\n"
        ),
        "{text}"
    );
    let (_, map, _) = run(&["--map"], STARTUP);
    assert!(
        map.contains("(1 request(s) of QEMU's own at start-up not drawn)"),
        "{map}"
    );
    // Without a guest event to follow it, a block-layer request is the guest's.
    let alone = "blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 512 flags 0x0\n";
    assert_eq!(jsonl(&[], alone)[0]["origin"], "guest");
    // Nor is a read after the guest's first event QEMU's.
    let later = format!(
        "{STARTUP}1@1000.000030:blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 512 flags 0x0\n"
    );
    let r = jsonl(&[], &later);
    assert_eq!(r.len(), 3);
    assert_eq!(r[2]["origin"], "guest");
    // Past a start-up's worth of block-layer requests, none is held back.
    let many = alone.repeat(40);
    let r = jsonl(&[], &many);
    assert_eq!(r.len(), 40);
    assert!(r.iter().all(|x| x["origin"] == "guest"));
}

#[test]
fn r22_plot_alone_writes_only_the_plot() {
    // See: issue 22 (--plot also printed every request on stdout).
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("io.svg");
    let svg_s = svg.to_str().unwrap();
    let (code, out, err) = run(&["--plot", svg_s], STARTUP);
    assert_eq!((code, out.as_str()), (0, ""));
    assert_eq!(
        err,
        format!("dma-sectors: plotted 2 request(s) into {svg_s}\n")
    );
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(
        plot.starts_with("<svg") && plot.contains("QEMU's own"),
        "{plot}"
    );
    assert_eq!(plot.matches("<path").count(), 2);
    // With an output of its own chosen, both.
    for (args, first) in [
        (&["-o", "text"][..], "1000.000003 "),
        (&["-o", "csv"], "time,tid,"),
        (&["--summary"], "disk0  ide"),
        (&["--extents"], "disk0  ide"),
    ] {
        std::fs::remove_file(&svg).unwrap();
        let (code, out, err) = run(&[&["--plot", svg_s], args].concat(), STARTUP);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        assert!(out.starts_with(first), "{args:?}: {out}");
        assert!(std::fs::read_to_string(&svg).unwrap().contains("</svg>"));
    }
}

#[test]
fn r22_no_header_for_csv_and_tsv_only() {
    // See: issue 22 (for `sort | uniq -c`).
    for fmt in ["csv", "tsv"] {
        for mode in [&[][..], &["--extents"], &["--summary"]] {
            let (_, with, _) = run(&[&["-o", fmt], mode].concat(), IDE);
            let (code, without, err) = run(&[&["-o", fmt, "--no-header"], mode].concat(), IDE);
            assert_eq!((code, err.as_str()), (0, ""));
            let mut lines = with.lines();
            assert!(lines.next().unwrap().starts_with(if mode.is_empty() {
                "time"
            } else {
                "disk"
            }));
            assert_eq!(
                lines.collect::<Vec<_>>(),
                without.lines().collect::<Vec<_>>(),
                "{fmt} {mode:?}"
            );
            assert!(!without.is_empty());
        }
    }
    for args in [
        &["--no-header"][..],
        &["--no-header", "-o", "jsonl"],
        &["--no-header", "--map"],
    ] {
        let (code, out, err) = run(args, IDE);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        assert!(
            err.contains("--no-header is for -o csv and -o tsv"),
            "{err}"
        );
    }
}

#[test]
fn r22_an_empty_result_says_why() {
    // See: issue 22; counts checked against the inputs themselves.
    let keys = qtrace_testkit::data("B-ps2-pc-set3-plain/trace.log");
    let n = std::fs::read_to_string(&keys).unwrap().lines().count();
    let (code, _, err) = run(&[keys.to_str().unwrap()], "");
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!(
            "dma-sectors: no block I/O events in {},{:03} lines (this looks like a PS/2 keyboard trace: ps2_",
            n / 1000,
            n % 1000
        )) && err.ends_with("; try ps2-decode)\n"),
        "{err}"
    );
    let readme = qtrace_testkit::data("README.md");
    let n = std::fs::read_to_string(&readme).unwrap().lines().count();
    let (code, _, err) = run(&[readme.to_str().unwrap()], "");
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "dma-sectors: no block I/O events: none of its {n} lines is a QEMU trace event (the events it reads: "
        )),
        "{err}"
    );
    // Block events, but none that makes a request.
    let (code, _, err) = run(&[], "blk_root_attach child 0xc1 blk 0xa0 bs 0xb0\n");
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "dma-sectors: no request in 1 block event(s) (attach, completion or non-transfer events only)\n"
        )
    );
}
#[test]
fn companions_that_disagree_are_reported_and_the_block_layer_wins() {
    let log = "\
ide_dma_cb IDEState 0x51; sector_num=0 n=8 cmd=DMA READ
dma_blk_io dbs=0xd1 bs=0xa1 offset=0 to_dev=0
blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 2048 flags 0x0
dma_complete dbs=0xd1 ret=0 cb=0x99
";
    let (code, out, err) = run(&["-o", "csv"], log);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().nth(1),
        Some(",,disk0,ide,read,0,4,0,2048,ide_dma_cb,guest")
    );
    assert!(
        err.contains("warning: <stdin>:1: ide_dma_cb says 4096 bytes at byte 0, blk_co_preadv (line 3) says 2048 bytes at byte 0"),
        "{err}"
    );
    // A dma_blk_io at an offset no waiting request starts at: joined with
    // the last DMA command of its thread, and reported.
    let log = "\
ide_dma_cb IDEState 0x51; sector_num=8 n=8 cmd=DMA READ
dma_blk_io dbs=0xd1 bs=0xa1 offset=0 to_dev=0
blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 4096 flags 0x0
";
    let (_, out, err) = run(&["-o", "csv"], log);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        err.contains("<stdin>:1: ide_dma_cb: says read 8 sectors at 8, but the dma_blk_io that follows on its thread (line 2) is a read at byte 0"),
        "{err}"
    );
}

#[test]
fn controller_events_without_block_layer_events() {
    // A trace with only virtio_blk_handle_* (no blk_co_*): requests come
    // from the controller's events alone, named by the device pointer.
    let log = "\
virtio_blk_handle_read vdev 0x70 req 0x71 sector 8 nsectors 8
virtio_blk_rw_complete vdev 0x70 req 0x71 ret 0
virtio_blk_handle_write vdev 0x70 req 0x72 sector 16 nsectors 1
";
    let (code, out, err) = run(&["-o", "csv"], log);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "time,tid,disk,controller,op,sector,sectors,offset,bytes,source,origin\n\
         ,,disk0,virtio,read,8,8,4096,4096,virtio_blk_handle_read,guest\n\
         ,,disk0,virtio,write,16,1,8192,512,virtio_blk_handle_write,guest\n"
    );
    let s = jsonl(&["--summary"], log);
    assert_eq!(s[0]["ptr"], "0x70");
    // In a trace that has block-layer events, a controller event none of
    // them matched is reported, and still listed.
    let log = "\
virtio_blk_handle_read vdev 0x70 req 0x71 sector 8 nsectors 8
blk_co_preadv blk 0xa1 bs 0xb1 offset 4096 bytes 4096 flags 0x8
virtio_blk_handle_read vdev 0x70 req 0x72 sector 64 nsectors 8
virtio_blk_rw_complete vdev 0x70 req 0x72 ret 0
";
    let (code, out, err) = run(&["-o", "csv"], log);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.contains(",,disk0,virtio,read,64,8,32768,4096,virtio_blk_handle_read,guest"),
        "{out}"
    );
    assert!(
        err.contains(
            "<stdin>:3: no dma_blk_io or blk_co_* event matched this virtio_blk_handle_read"
        ),
        "{err}"
    );
}

#[test]
fn virtio_requests_merged_into_one_block_request() {
    let log = "\
virtio_blk_handle_read vdev 0x70 req 0x71 sector 8 nsectors 8
virtio_blk_handle_read vdev 0x70 req 0x72 sector 0 nsectors 8
virtio_blk_submit_multireq vdev 0x70 mrb 0x73 start 0 num_reqs 2 offset 0 size 8192 is_write 0
blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 8192 flags 0x8
virtio_blk_rw_complete vdev 0x70 req 0x72 ret 0
virtio_blk_rw_complete vdev 0x70 req 0x71 ret 0
";
    let (code, out, err) = run(&["-o", "csv"], log);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        [
            ",,disk0,virtio,read,8,8,4096,4096,virtio_blk_handle_read,guest",
            ",,disk0,virtio,read,0,8,0,4096,virtio_blk_handle_read,guest"
        ]
    );
}

#[test]
fn two_disks_read_at_the_same_offset() {
    // Once a backend is known to be virtio's (and another SCSI's), a block
    // event joins only its own controller's request, even when both wait
    // at the same offset and the trace has no thread ids.
    let log = "\
virtio_blk_handle_read vdev 0x70 req 0x71 sector 0 nsectors 1
blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 512 flags 0x8
scsi_disk_dma_command_READ Read (sector 0, count 1)
blk_co_preadv blk 0xa2 bs 0xb2 offset 0 bytes 512 flags 0x0
virtio_blk_handle_read vdev 0x70 req 0x71 sector 8 nsectors 8
scsi_disk_dma_command_READ Read (sector 8, count 8)
blk_co_preadv blk 0xa2 bs 0xb2 offset 4096 bytes 4096 flags 0x0
blk_co_preadv blk 0xa1 bs 0xb1 offset 4096 bytes 4096 flags 0x8
";
    let (code, out, err) = run(&["-o", "csv"], log);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        [
            ",,disk0,virtio,read,0,1,0,512,virtio_blk_handle_read,guest",
            ",,disk1,scsi,read,0,1,0,512,scsi_disk_dma_command_READ,guest",
            ",,disk0,virtio,read,8,8,4096,4096,virtio_blk_handle_read,guest",
            ",,disk1,scsi,read,8,8,4096,4096,scsi_disk_dma_command_READ,guest",
        ]
    );
}

#[test]
fn ncq_nvme_scsi_and_old_formats() {
    // QEMU 7.2 traces NCQ writes as execute_ncq_command_read: the opcode
    // (0x61) says write, and dma_blk_io agrees.
    let log = "\
process_ncq_command ahci(0x60)[0][tag:3]: NCQ op 0x61 on sectors [1000,1001]
execute_ncq_command_read ahci(0x60)[0][tag:3]: NCQ reading 2 sectors from LBA 1000
dma_blk_io dbs=0xd2 bs=0xa2 offset=512000 to_dev=1
blk_co_pwritev blk 0xa2 bs 0xb2 offset 512000 bytes 1024 flags 0x0
dma_complete dbs=0xd2 ret=0 cb=0x99
ncq_finish ahci(0x60)[0][tag:3]: NCQ transfer finished
pci_nvme_io_cmd cid 7 nsid 0x1 sqid 1 opc 0x2 opname 'NVME_NVM_CMD_READ'
pci_nvme_read cid 7 nsid 1 nlb 2 count 8192 lba 0x10
dma_blk_io dbs=0xd3 bs=0xa3 offset=65536 to_dev=0
blk_co_preadv blk 0xa3 bs 0xb3 offset 65536 bytes 8192 flags 0x0
dma_complete dbs=0xd3 ret=0 cb=0x98
scsi_disk_dma_command_READ Read (sector 4, count 512)
blk_co_preadv blk 0xa4 bs 0xb4 offset 2048 bytes 131072 flags 0x0
blk_co_preadv blk 0xa4 bs 0xb4 offset 133120 bytes 131072 flags 0x0
dma_blk_io dbs=0xd5 bs=0xa5 sector_num=16 to_dev=0
blk_co_preadv blk 0xa5 bs 0xb5 offset 8192 bytes 512 flags 0x0
ide_dma_cb IDEState 0x51; sector_num=0 n=1 cmd=DMA TRIM
dma_blk_io dbs=0xd6 bs=0x51 offset=0 to_dev=1
";
    let (code, out, err) = run(&["-o", "csv"], log);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        [
            ",,disk0,ahci,write,1000,2,512000,1024,process_ncq_command,guest",
            ",,disk1,nvme,read,128,16,65536,8192,pci_nvme_read,guest",
            ",,disk2,scsi,read,4,512,2048,262144,scsi_disk_dma_command_READ,guest",
            ",,disk3,,read,16,1,8192,512,dma_blk_io,guest",
        ]
    );
    assert!(err.contains("1 IDE DMA command(s) that are not sector reads or writes (TRIM, ATAPI) were not reported"), "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn inputs_flags_and_catalogs() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    std::fs::write(&a, IDE).unwrap();
    // A file and stdin: one stream, line numbers per input.
    let out = cmd()
        .args(["-o", "csv", a.to_str().unwrap(), "-"])
        .write_stdin("blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 512 flags 0x0\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
    // --max-line-len: an over-long line is an error, the rest still counts.
    let long = format!("{IDE}{}\n", "x".repeat(5000));
    let (code, out, err) = run(&["--max-line-len", "1000"], &long);
    assert_eq!(code, 2);
    assert_eq!(out.lines().count(), 2);
    assert!(err.contains("<stdin>:14: line is 5000 bytes long"), "{err}");
    // --trace-events: a catalog for a QEMU that printed the event otherwise.
    let cat = dir.path().join("trace-events");
    std::fs::write(
        &cat,
        "blk_co_preadv(void *blk, void *bs, int64_t offset, int64_t bytes, int flags) \"BLK %p %p %\" PRId64 \" %\" PRId64 \" %x\"\n",
    )
    .unwrap();
    let odd = "blk_co_preadv BLK 0xa 0xb 1024 512 0\n";
    let (code, _, _) = run(&[], odd);
    assert_eq!(code, 2);
    let (code, out, err) = run(&["--trace-events", cat.to_str().unwrap(), "-o", "csv"], odd);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines().nth(1),
        Some(",,disk0,,read,2,1,1024,512,blk_co_preadv,guest")
    );
}

#[test]
fn broken_pipe_is_a_quiet_success() {
    let big = tempfile::NamedTempFile::new().unwrap();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(big.path()).unwrap());
        for i in 0..100_000u64 {
            writeln!(
                f,
                "1@1000.{i:06}:blk_co_preadv blk 0xa1 bs 0xb1 offset {} bytes 4096 flags 0x0",
                i * 4096
            )
            .unwrap();
        }
    }
    for fmt in ["text", "csv", "jsonl"] {
        TOOL.assert_broken_pipe_is_quiet(&["-o", fmt], big.path());
    }
}

#[test]
fn line_buffered_output_arrives_before_input_ends() {
    // QEMU's start-up read waits for the guest's first event (see: issue
    // 22), then both come out at once.
    TOOL.assert_output_before_input_ends(
        &["--line-buffered", "-o", "csv"],
        b"blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 512 flags 0x0\n\
          ide_dma_cb IDEState 0x51; sector_num=8 n=1 cmd=DMA READ\n\
          dma_blk_io dbs=0xd1 bs=0xa1 offset=4096 to_dev=0\n\
          blk_co_preadv blk 0xa1 bs 0xb1 offset 4096 bytes 512 flags 0x0\n",
        "time,tid,disk,controller,op,sector,sectors,offset,bytes,source,origin\n\
         ,,disk0,,read,0,1,0,512,blk_co_preadv,qemu\n\
         ,,disk0,ide,read,8,1,4096,512,ide_dma_cb,guest\n",
    );
}

#[test]
fn help_man_and_completions() {
    TOOL.assert_help_version_and_generate(&[
        "Examples:",
        "--extents",
        "--summary",
        "--map",
        "--plot",
        "--sector-size",
        "--label",
        "Events used",
    ]);
}

// See: issue 20
/// `--extents` and `--map` keep at most `QTRACE_MAX_KEYS` request
/// boundaries (set low here): a request that would add one past the cap is
/// left out whole, one that starts and ends on boundaries already kept is
/// still counted, `--summary` counts every request, and the run says what
/// was left out and exits 2.
#[test]
fn r20_extent_boundaries_past_the_cap_are_reported() {
    // 4 KiB reads (8 sectors) at these sectors; the 3rd and 6th would add
    // new boundaries once 0, 8, 16 and 24 are kept.
    let sectors = [0u64, 16, 32, 0, 8, 40];
    let log: String = sectors
        .iter()
        .map(|s| {
            format!(
                "blk_co_preadv blk 0xa1 bs 0xb1 offset {} bytes 4096 flags 0x0\n",
                s * 512
            )
        })
        .collect();
    let with_cap = |args: &[&str]| {
        let out = cmd()
            .env("QTRACE_MAX_KEYS", "4")
            .args(args)
            .write_stdin(log.as_str())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let said = "dma-sectors: stopped tracking new request boundaries after 4 (2 more seen, first \
                at <stdin>:3); the requests that would add one are left out of the extents and \
                the map\n";
    let (code, out, err) = with_cap(&["--extents", "-o", "jsonl"]);
    assert_eq!((code, err.as_str()), (Some(2), said));
    // Requests 1, 2, 4 and 5 cover sectors 0-23, 0-7 twice.
    let extents: Vec<(u64, u64, u64, u64)> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let n = |k: &str| v[k].as_u64().unwrap();
            (n("sector"), n("sectors"), n("requests"), n("depth"))
        })
        .collect();
    assert_eq!(extents, [(0, 24, 4, 2)]);
    let (code, out, err) = with_cap(&["--map", "--map-rows", "1"]);
    assert_eq!((code, err.as_str()), (Some(2), said));
    assert!(
        out.starts_with("disk0 (unknown controller, 0xa1): sectors 0-23 touched so far"),
        "{out}"
    );
    let (code, out, err) = with_cap(&["--summary", "-o", "jsonl"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["requests"], sectors.len() as u64);
    // Under the default cap every request is in the extents.
    let (code, out, err) = run(&["--extents", "-o", "csv"], &log);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        [
            "disk0,,read,0,24,0,12288,4,2,guest",
            "disk0,,read,32,16,16384,8192,2,1,guest"
        ]
    );
}

/// `--plot` holds at most `QTRACE_MAX_KEYS` requests: the plot shows the
/// first ones, the requests themselves are all printed, and the run says
/// what the plot lacks and exits 2.
#[test]
fn r20_plot_points_past_the_cap_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("p.svg");
    let log: String = (0..3u64)
        .map(|i| {
            format!(
                "1@1.00000{i}:blk_co_pwritev blk 0xa1 bs 0xb1 offset {} bytes 4096 flags 0x0\n",
                i * 4096
            )
        })
        .collect();
    let out = cmd()
        .env("QTRACE_MAX_KEYS", "2")
        .args(["-o", "csv", "--plot", svg.to_str().unwrap()])
        .write_stdin(log.as_str())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        1 + 3
    );
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "dma-sectors: stopped tracking new requests to plot after 2 (1 more seen, first at \
         <stdin>:3); the plot shows the requests before it\n"
    );
    assert_eq!(out.status.code(), Some(2));
    let text = std::fs::read_to_string(&svg).unwrap();
    // One stroke (`M x y V y`) per request plotted.
    assert_eq!(text.matches('M').count(), 2, "{text}");
}

/// Messages are capped per kind: a flood of undecodable lines shows its
/// first 20 (each an error), and the first problem of another kind after
/// it is still shown.
#[test]
fn r20_messages_are_capped_per_kind() {
    let mut log = "blk_co_preadv blk 0xa1 this is not the format\n".repeat(25);
    log.push_str("blk_co_preadv blk 0xa1 bs 0xb1 offset 100 bytes 512 flags 0x0\n");
    let (code, out, err) = run(&[], &log);
    assert_eq!((code, out.lines().count()), (2, 1));
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("match no known format"))
            .count(),
        20,
        "{err}"
    );
    assert!(
        err.contains("warning: <stdin>:26: blk_co_preadv at byte 100 (512 bytes) is not aligned"),
        "{err}"
    );
    assert!(
        err.ends_with(
            "dma-sectors: 25 block events that could not be used in all; the first 20 are shown above\n"
        ),
        "{err}"
    );
}

// See: issue 20
/// Past the cap (set low through `QTRACE_MAX_KEYS`), a new disk is not
/// tracked: its requests are not reported, the run says how many were
/// refused and where the first was, and exits 2.
#[test]
fn r20_disks_past_the_cap_are_reported_not_tracked() {
    let log = "\
1@1.000000:blk_co_preadv blk 0xa1 bs 0xb1 offset 0 bytes 512 flags 0x0
1@1.000001:blk_co_preadv blk 0xa2 bs 0xb2 offset 512 bytes 512 flags 0x0
1@1.000002:blk_co_preadv blk 0xa3 bs 0xb3 offset 1024 bytes 512 flags 0x0
1@1.000003:blk_co_preadv blk 0xa3 bs 0xb3 offset 1536 bytes 512 flags 0x0
1@1.000004:blk_co_preadv blk 0xa1 bs 0xb1 offset 2048 bytes 512 flags 0x0
";
    let out = cmd()
        .env("QTRACE_MAX_KEYS", "2")
        .args(["-o", "jsonl"])
        .write_stdin(log)
        .output()
        .unwrap();
    let reqs: Vec<(String, u64)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["disk"].as_str().unwrap().to_string(),
                v["offset"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reqs,
        [
            ("disk0".into(), 0),
            ("disk1".into(), 512),
            ("disk0".into(), 2048)
        ]
    );
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "dma-sectors: stopped tracking new disks after 2 (2 more seen, first at <stdin>:3)\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// DMA transfers in flight past the cap are reported the same way.
#[test]
fn r20_dma_transfers_past_the_cap_are_reported() {
    let mut log = String::new();
    for i in 0..4u64 {
        log.push_str(&format!(
            "2@1.{i:06}:dma_blk_io dbs=0xd{i} bs=0xa1 offset={} to_dev=0\n",
            i * 4096
        ));
    }
    let out = cmd()
        .env("QTRACE_MAX_KEYS", "3")
        .args(["-o", "jsonl"])
        .write_stdin(log)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "dma-sectors: stopped tracking new DMA transfers in flight after 3 (1 more seen, first at <stdin>:4)\n"
        ),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// Other lines and event lines whose name lost a byte are counted on
/// stderr; an event this tool does not read (`ide_reset`, unknown to the
/// built-in catalog) is not a damaged one. Output and status are those of
/// the intact lines alone.
#[test]
fn r20_other_lines_and_damaged_names_are_counted() {
    let damaged = format!(
        "{IDE}guest output\n\
         another line of it\n\
         2@1000.000500:blk_co_preadw blk 0xa1 bs 0xb1 offset 4096 bytes 4096 flags 0x0\n\
         2@1000.000501:ide_reset IDEstate 0x51\n"
    );
    let first = IDE.lines().count() + 3;
    TOOL.assert_unused_lines_only_reported(
        &["-o", "jsonl"],
        IDE,
        &damaged,
        &format!(
            "dma-sectors: 2 line(s) were not trace events and were skipped\n\
             dma-sectors: warning: 1 event line(s) with a damaged name (one byte off an event this \
             tool reads, declared by no catalog) were skipped (first: <stdin>:{first} 'blk_co_preadw', \
             for blk_co_preadv)\n"
        )
    );
}

#[test]
fn r20_an_error_outlives_a_broken_pipe_and_a_closed_stdout_is_an_error() {
    // See: issue 20 (both exited 0: the error was lost, the output discarded).
    let big = tempfile::NamedTempFile::new().unwrap();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(big.path()).unwrap());
        for i in 0..50_000u64 {
            writeln!(
                f,
                "1@1000.{i:06}:blk_co_preadv blk 0xa1 bs 0xb1 offset {} bytes 4096 flags 0x0",
                i * 4096
            )
            .unwrap();
        }
    }
    TOOL.assert_error_then_broken_pipe_exits_2(&["-o", "jsonl"], big.path());
    TOOL.assert_closed_stdout_is_an_error(&["-o", "jsonl"], big.path());
}
