//! Process-level tests of qtrace-filter: every flag, exit codes, errors,
//! broken pipes, stdin and compressed inputs.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use qtrace_testkit::{Tool, data};

const TOOL: Tool = Tool {
    name: "qtrace-filter",
    bin: env!("CARGO_BIN_EXE_qtrace-filter"),
    args: &[],
};

fn cmd() -> assert_cmd::Command {
    TOOL.cmd()
}

/// Runs with `stdin` and returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    TOOL.run(args, stdin)
}

const LOG: &str = "\
100@1795674347.000001:pci_cfg_read mch 00:00.0 @0x0 -> 0x29c08086
100@1795674347.000002:pci_cfg_write PIIX3 00:01.0 @0x3c <- 0x5a
Could not open option rom 'kvmvapic.bin': No such file or directory
200@1795674348.500000:ps2_put_keycode 0x55e7c0 keycode 0x1c
100@1795674349.000000:pci_cfg_read e1000 00:03.0 @0x10 -> 0xfebc0000
200@1795674349.250000:dma_blk_io dbs=0x7f84a0 bs=0x55a2b0 offset=4096 to_dev=1
";

#[test]
fn raw_lines_like_grep_and_exit_codes() {
    let (code, out, err) = run(&["pci_cfg_read"], LOG);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "100@1795674347.000001:pci_cfg_read mch 00:00.0 @0x0 -> 0x29c08086\n\
         100@1795674349.000000:pci_cfg_read e1000 00:03.0 @0x10 -> 0xfebc0000\n"
    );
    assert!(err.is_empty(), "{err}");
    let (code, out, _) = run(&["no_such_event"], LOG);
    assert_eq!((code, out.as_str()), (1, ""));
    let (code, _, err) = run(&["pci_cfg_read", "/no/such/file"], "");
    assert_eq!(code, 2);
    assert!(err.starts_with("qtrace-filter: /no/such/file: "), "{err}");
    // Output before an error still comes out; status is 2.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), LOG).unwrap();
    let (code, out, _) = run(
        &["pci_cfg_read", f.path().to_str().unwrap(), "/no/such/file"],
        "",
    );
    assert_eq!(code, 2);
    assert_eq!(out.lines().count(), 2);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--bogus-flag"][..],
        &[],
        &["-w", "nosuchfield==1", "pci_cfg_read"],
        &["-w", "dev<abc", "pci_cfg_read"],
        &["-o", "csv", "--keep-other", "pci_cfg_read"],
        &["--since", "yesterday", "pci_cfg_read"],
        &["--explain", "no_such_event"],
    ] {
        let (code, out, err) = run(args, LOG);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert!(!err.is_empty(), "{args:?}");
    }
    let (_, _, err) = run(&["-w", "nosuchfield==1", "pci_cfg_read"], LOG);
    assert!(
        err.contains("unknown field 'nosuchfield'") && err.contains("offs"),
        "{err}"
    );
}

#[test]
fn patterns_globs_lists_and_exclusions() {
    let names = |args: &[&str]| -> Vec<String> {
        let (_, out, _) = run(&[&["-o", "csv", "-f", "event"], args].concat(), LOG);
        out.lines().skip(1).map(String::from).collect()
    };
    assert_eq!(
        names(&["pci_*"]),
        ["pci_cfg_read", "pci_cfg_write", "pci_cfg_read"]
    );
    assert_eq!(
        names(&["pci_cfg_?ead,dma_*"]),
        ["pci_cfg_read", "pci_cfg_read", "dma_blk_io"]
    );
    assert_eq!(
        names(&["-e", "*", "-e", "-pci_*"]),
        ["ps2_put_keycode", "dma_blk_io"]
    );
    assert_eq!(names(&["-v", "pci_*"]), ["ps2_put_keycode", "dma_blk_io"]);
    let ev = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ev.path(), "# my events\nps2_*\n\ndma_blk_io\n").unwrap();
    assert_eq!(
        names(&["--events-file", ev.path().to_str().unwrap()]),
        ["ps2_put_keycode", "dma_blk_io"]
    );
}

#[test]
fn csv_tsv_text_jsonl() {
    let (_, out, _) = run(&["-o", "csv", "pci_cfg_read"], LOG);
    assert_eq!(
        out,
        "time,tid,event,dev,bus,slot,func,offs,val\n\
         1795674347.000001,100,pci_cfg_read,mch,0x0,0x0,0x0,0x0,0x29c08086\n\
         1795674349.000000,100,pci_cfg_read,e1000,0x0,0x3,0x0,0x10,0xfebc0000\n"
    );
    let (_, out, _) = run(&["-o", "tsv", "-f", "dev,val", "pci_cfg_read"], LOG);
    assert_eq!(out, "dev\tval\nmch\t0x29c08086\ne1000\t0xfebc0000\n");
    let (_, out, _) = run(&["-o", "text", "dma_blk_io"], LOG);
    assert_eq!(
        out,
        "time=1795674349.250000 tid=200 event=dma_blk_io dbs=0x7f84a0 bs=0x55a2b0 offset=4096 to_dev=1\n"
    );
    let (_, out, _) = run(&["-o", "jsonl", "ps2_put_keycode"], LOG);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["time"], "1795674348.500000");
    assert_eq!(v["tid"], 200);
    assert_eq!(v["opaque"], "0x55e7c0");
    assert_eq!(v["keycode"], 0x1c);
    // Several kinds: union of argument columns, empty where not applicable.
    let (_, out, _) = run(&["-o", "csv", "pci_cfg_read,dma_blk_io"], LOG);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("time,tid,event,dev,bus,slot,func,offs,val,dbs,bs,offset,to_dev")
    );
    assert_eq!(
        lines.nth(2),
        Some("1795674349.250000,200,dma_blk_io,,,,,,,0x7f84a0,0x55a2b0,4096,1")
    );
}

#[test]
fn numbers_styles() {
    let val = |style: &str| {
        let (_, out, _) = run(
            &[
                "-o",
                "csv",
                "-f",
                "offs,val",
                "--numbers",
                style,
                "pci_cfg_read",
            ],
            LOG,
        );
        out.lines().nth(2).unwrap().to_string()
    };
    assert_eq!(val("radix"), "0x10,0xfebc0000");
    assert_eq!(val("dec"), "16,4273733632");
    assert_eq!(val("hex"), "0x10,0xfebc0000");
    assert_eq!(val("asis"), "10,febc0000");
}

#[test]
fn where_filters() {
    let count = |args: &[&str]| {
        let (_, out, _) = run(&[&["-o", "csv"], args].concat(), LOG);
        out.lines().count() - 1
    };
    assert_eq!(count(&["-w", "offs>=0x10", "pci_cfg_read"]), 1);
    assert_eq!(count(&["-w", "offs<16", "pci_cfg_read"]), 1);
    assert_eq!(count(&["-w", "dev==mch", "pci_cfg_*"]), 1);
    assert_eq!(count(&["-w", "dev~^(mch|e1000)$", "pci_*"]), 2);
    assert_eq!(count(&["-w", "dev!=mch", "-w", "val>0", "pci_cfg_read"]), 1);
    assert_eq!(count(&["-w", "tid==200", "*"]), 2);
    assert_eq!(count(&["-w", "time>1795674348", "*"]), 3);
}

#[test]
fn counts_and_stats() {
    let (code, out, _) = run(&["-c", "*"], LOG);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "       2 pci_cfg_read\n       1 dma_blk_io\n       1 pci_cfg_write\n       1 ps2_put_keycode\n"
    );
    let (_, out, _) = run(&["--stats", "-o", "csv", "pci_cfg_read"], LOG);
    assert_eq!(
        out,
        "event,count,first,last,rate\npci_cfg_read,2,1795674347.000001,1795674349.000000,0.500\n"
    );
    let (_, out, _) = run(
        &["--stats", "--relative", "-o", "jsonl", "pci_cfg_read"],
        LOG,
    );
    assert_eq!(
        out,
        "{\"event\":\"pci_cfg_read\",\"count\":2,\"first\":0.000000,\"last\":1.999999,\"rate\":0.500}\n"
    );
}

#[test]
fn time_windows_and_relative_times() {
    let (_, out, _) = run(
        &[
            "--since", "1.5", "--until", "2", "-o", "csv", "-f", "event", "*",
        ],
        LOG,
    );
    assert_eq!(out, "event\npci_cfg_read\n");
    let (_, out, _) = run(
        &[
            "--since",
            "@1795674349.1",
            "-f",
            "time,event",
            "-o",
            "csv",
            "--relative",
            "*",
        ],
        LOG,
    );
    assert_eq!(out, "time,event\n2.249999,dma_blk_io\n");
    let (code, _, err) = run(
        &["--since", "1", "*"],
        "pci_cfg_read mch 00:00.0 @0x0 -> 0x1\n",
    );
    assert_eq!(code, 2);
    assert!(err.contains("need timestamps"), "{err}");
}

#[test]
fn other_lines_filenames_and_normalize() {
    let (_, out, err) = run(&["--keep-other", "ps2_*"], LOG);
    assert_eq!(
        out,
        "Could not open option rom 'kvmvapic.bin': No such file or directory\n\
         200@1795674348.500000:ps2_put_keycode 0x55e7c0 keycode 0x1c\n"
    );
    assert!(err.is_empty());
    // Other lines are counted wherever every line is examined (a selection
    // by a name literal skips lines without it unseen, as grep does).
    let (_, _, err) = run(&["-e", "*", "-e", "-pci_*"], LOG);
    assert!(err.contains("1 line(s) were not trace events"), "{err}");
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), LOG).unwrap();
    let p = f.path().to_str().unwrap();
    let (_, out, _) = run(&["-H", "ps2_*", p, "-"], LOG);
    assert_eq!(
        out,
        format!(
            "{p}:200@1795674348.500000:ps2_put_keycode 0x55e7c0 keycode 0x1c\n\
             <stdin>:200@1795674348.500000:ps2_put_keycode 0x55e7c0 keycode 0x1c\n"
        )
    );
    let (_, out, _) = run(&["--normalize", "ps2_*,dma_*"], LOG);
    assert_eq!(
        out,
        "tid1@T:ps2_put_keycode p1 keycode 0x1c\ntid1@T:dma_blk_io dbs=p2 bs=p3 offset=4096 to_dev=1\n"
    );
}

#[test]
fn list_and_explain() {
    let (code, out, _) = run(&["--no-installed-catalog", "--list", "dma_blk_*"], "");
    assert_eq!(code, 0);
    assert!(
        out.contains("dma_blk_io(void *dbs, void *bs, int64_t offset, bool to_dev)"),
        "{out}"
    );
    assert!(out.contains("sector_num"), "{out}");
    let (code, out, _) = run(
        &["--no-installed-catalog", "--explain", "ps2_put_keycode"],
        "",
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("keycode") && out.contains("<built-in>"),
        "{out}"
    );
}

#[test]
fn trace_events_option_adds_a_catalog() {
    let cat = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cat.path(), "my_event(int a, const char *s) \"a=%d s=%s\"\n").unwrap();
    let (code, out, _) = run(
        &[
            "--trace-events",
            cat.path().to_str().unwrap(),
            "-o",
            "jsonl",
            "my_event",
        ],
        "my_event a=-5 s=hello world\n",
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"event\":\"my_event\",\"a\":-5,\"s\":\"hello world\"}\n"
    );
}

#[test]
fn malformed_catalog_lines_are_reported_once_by_the_runs_that_use_them() {
    // Line 1 has no `(`: every run says so. Line 2's arguments are
    // malformed: only runs that look `used_event` up say so (once). Line 3
    // is as bad, for an event nothing here uses.
    let cat = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        cat.path(),
        "no parenthesis here\n\
         used_event(int) \"n=%d\"\n\
         unused_event(int) \"n=%d\"\n\
         good_event(int n) \"n=%d\"\n",
    )
    .unwrap();
    let catalog = cat.path().to_str().unwrap();
    let common = ["--no-installed-catalog", "--trace-events", catalog];
    let input = "used_event n=1\ngood_event n=2\nused_event n=3\n";
    let warned = |err: &str, line: u32| err.matches(&format!("{catalog}:{line}: ")).count();

    let (code, out, err) = run(&[&common[..], &["-o", "csv", "used_event"]].concat(), input);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert_eq!(
        (warned(&err, 1), warned(&err, 2), warned(&err, 3)),
        (1, 1, 0),
        "{err}"
    );
    assert!(err.contains("argument 'int' has no type"), "{err}");

    let (code, out, err) = run(&[&common[..], &["-o", "csv", "good_event"]].concat(), input);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "event,n\ngood_event,2\n");
    assert_eq!(
        (warned(&err, 1), warned(&err, 2), warned(&err, 3)),
        (1, 0, 0),
        "{err}"
    );

    // Listing every event parses every line.
    let (code, out, err) = run(&[&common[..], &["--list", "*_event"]].concat(), "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("good_event(int n)"), "{out}");
    assert_eq!(
        (warned(&err, 1), warned(&err, 2), warned(&err, 3)),
        (1, 1, 1),
        "{err}"
    );
}

#[test]
fn unmatched_events_are_kept_and_reported() {
    let (code, out, err) = run(&["-o", "jsonl", "pci_cfg_read"], "pci_cfg_read garbage\n");
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"event\":\"pci_cfg_read\",\"message\":\"garbage\",\"unmatched\":true}\n"
    );
    assert!(
        err.contains("did not match") && err.contains("<stdin>:1"),
        "{err}"
    );
}

#[test]
fn compressed_crlf_long_lines_and_binary() {
    // gzip on stdin, detected by its magic bytes.
    let mut gz = flate2_gzip(LOG.as_bytes());
    let out = cmd()
        .args(["-c", "pci_cfg_read"])
        .write_stdin(std::mem::take(&mut gz))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "       2 pci_cfg_read\n"
    );
    // zstd file (the shipped mixed trace).
    let (code, out, _) = run(
        &[
            "-c",
            "ps2_put_keycode",
            data("D-mixed-q35-ts/trace.log.zst").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!((code, out.as_str()), (0, "     405 ps2_put_keycode\n"));
    // CRLF: fields do not include the \r, raw output keeps it.
    let (_, out, _) = run(
        &["-o", "csv", "-f", "val", "pci_cfg_read"],
        "pci_cfg_read a 00:00.0 @0x0 -> 0x1\r\n",
    );
    assert_eq!(out, "val\n0x1\n");
    let (_, out, _) = run(&["pci_cfg_read"], "pci_cfg_read a 00:00.0 @0x0 -> 0x1\r\n");
    assert_eq!(out, "pci_cfg_read a 00:00.0 @0x0 -> 0x1\r\n");
    // A line over the limit is reported with its number; the rest goes on.
    let input = format!("{}\npci_cfg_read a 00:00.0 @0x0 -> 0x1", "x".repeat(5000));
    let (code, out, err) = run(&["--max-line-len", "100", "pci_cfg_read"], &input);
    assert_eq!(code, 2);
    assert_eq!(out, "pci_cfg_read a 00:00.0 @0x0 -> 0x1\n");
    assert!(err.contains("<stdin>:1: line is 5000 bytes long"), "{err}");
    // Binary garbage and invalid UTF-8: no panic.
    let garbage: Vec<u8> = (0..20000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let out = cmd()
        .args(["-o", "jsonl", "*"])
        .write_stdin(garbage)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)));
}

fn flate2_gzip(data: &[u8]) -> Vec<u8> {
    // gzip via the system tool keeps this test free of extra dependencies.
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(child.wait().unwrap().success());
    out
}

#[test]
fn broken_pipe_is_a_quiet_success() {
    let big = tempfile::NamedTempFile::new().unwrap();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(big.path()).unwrap());
        for i in 0..200_000 {
            writeln!(
                f,
                "{i}@1795674347.000001:pci_cfg_read mch 00:00.0 @0x0 -> 0x29c08086"
            )
            .unwrap();
        }
    }
    for fmt in ["raw", "csv", "jsonl"] {
        TOOL.assert_broken_pipe_is_quiet(&["-o", fmt, "pci_cfg_read"], big.path());
    }
}

#[test]
fn help_man_and_completions() {
    TOOL.assert_help_version_and_generate(&["Examples:", "--where"]);
}

#[test]
fn line_buffered_output_arrives_before_input_ends() {
    // The header and the record must arrive while stdin is still open.
    TOOL.assert_output_before_input_ends(
        &["--line-buffered", "-o", "csv", "-f", "val", "pci_cfg_read"],
        b"pci_cfg_read a 00:00.0 @0x0 -> 0x1\n",
        "val\n0x1\n",
    );
}

/// A file over a few 256 KiB chunks is split by several threads at once:
/// every event line comes out once, in order, with the line number it has
/// in the file (counted here by reading the file line by line), and exactly
/// as when the same bytes come through a pipe.
#[test]
fn big_files_split_in_chunks_keep_order_and_line_numbers() {
    let one = std::fs::read(data("A-pci-q35-ts/trace.log")).unwrap();
    let mut text = Vec::new();
    for copy in 0..6 {
        text.extend_from_slice(&one);
        // Lines that are not events, a long one among them, between copies.
        text.extend_from_slice(format!("guest output {copy}\n").as_bytes());
        text.extend(std::iter::repeat_n(b'x', 5000 + copy));
        text.push(b'\n');
    }
    assert!(text.len() > 6 * 256 * 1024);
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &text).unwrap();
    let path = f.path().to_str().unwrap();

    let want: Vec<String> = text
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line = std::str::from_utf8(line).ok()?;
            let after_prefix = line.split_once(':')?.1;
            let name = after_prefix.split(' ').next()?;
            name.starts_with("pci_cfg_")
                .then(|| format!("{},{name}", i + 1))
        })
        .collect();
    assert!(want.len() > 6000, "{}", want.len());

    let out = cmd()
        .args(["-o", "csv", "-f", "line,event", "pci_cfg_*", path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1) // the header
        .map(str::to_string)
        .collect();
    assert!(got == want, "{} lines, want {}", got.len(), want.len());

    // Over-long lines are reported with their numbers, in order: also when
    // the output shows no line numbers, so that the lines the prefilter
    // skips are not counted as they go by.
    let long: Vec<usize> = text
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| line.len() > 4000)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(long.len(), 6);
    for args in [
        &["-c", "*"][..],
        &["pci_cfg_read"],
        &["-o", "csv", "pci_cfg_read"],
    ] {
        let out = cmd()
            .args(["--max-line-len", "4000"])
            .args(args)
            .arg(path)
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        let reported: Vec<usize> = err
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("qtrace-filter: {path}:")))
            .filter_map(|l| l.split(':').next()?.parse().ok())
            .collect();
        assert_eq!(reported, long, "{args:?}: {err}");
    }

    // The same bytes through a pipe (split by one thread): the same output.
    for args in [
        &["pci_cfg_read"][..],
        &["-c", "*"],
        &["-o", "jsonl", "-f", "line,event,message", "*"],
    ] {
        let from_file = cmd().args(args).arg(path).output().unwrap();
        let from_pipe = cmd().args(args).write_stdin(text.clone()).output().unwrap();
        assert_eq!(from_file.status.code(), Some(0), "{args:?}");
        assert!(from_file.stdout == from_pipe.stdout, "{args:?}");
    }
}

// See: issue 20
/// `--normalize` gives tokens to at most `QTRACE_MAX_KEYS` pointers and
/// thread ids (set low here): values seen first keep their tokens, later
/// ones come out as the input had them, in every output format, and the
/// run says what was not normalized, where it started, and exits 2.
#[test]
fn r20_normalize_past_the_cap_prints_values_as_they_are() {
    let log = "\
101@1.000001:ps2_put_keycode 0xa1 keycode 0x1c
102@1.000002:ps2_put_keycode 0xa2 keycode 0x1c
103@1.000003:ps2_put_keycode 0xa3 keycode 0x1c
101@1.000004:ps2_put_keycode 0xa1 keycode 0x1c
103@1.000005:ps2_put_keycode 0xa3 keycode 0x1c
";
    let normalize = |cap: Option<&str>, output: &str| {
        let mut c = cmd();
        if let Some(cap) = cap {
            c.env("QTRACE_MAX_KEYS", cap);
        }
        let out = c
            .args(["--normalize", "-o", output, "ps2_put_keycode"])
            .write_stdin(log)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, out, err) = normalize(Some("2"), "raw");
    assert_eq!(
        out,
        "tid1@T:ps2_put_keycode p1 keycode 0x1c\n\
         tid2@T:ps2_put_keycode p2 keycode 0x1c\n\
         103@T:ps2_put_keycode 0xa3 keycode 0x1c\n\
         tid1@T:ps2_put_keycode p1 keycode 0x1c\n\
         103@T:ps2_put_keycode 0xa3 keycode 0x1c\n"
    );
    let said = "qtrace-filter: stopped tracking new host pointers after 2 (2 more seen, first at \
                <stdin>:3); --normalize prints those as they are\n\
                qtrace-filter: stopped tracking new thread ids after 2 (2 more seen, first at \
                <stdin>:3); --normalize prints those as they are\n";
    assert_eq!((code, err.as_str()), (Some(2), said));
    // JSON: the pointer as the string the log had, the tid as a number.
    let (code, out, err) = normalize(Some("2"), "jsonl");
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pairs: Vec<(String, String)> = recs
        .iter()
        .map(|r| (r["tid"].to_string(), r["opaque"].to_string()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("\"tid1\"", "\"p1\""),
            ("\"tid2\"", "\"p2\""),
            ("103", "\"0xa3\""),
            ("\"tid1\"", "\"p1\""),
            ("103", "\"0xa3\""),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!((code, err.as_str()), (Some(2), said));
    let (code, out, _) = normalize(Some("2"), "csv");
    assert_eq!(code, Some(2));
    assert!(out.contains("\nT,103,ps2_put_keycode,0xa3,0x1c\n"), "{out}");
    // Under the cap every value has its token and the status is 0.
    let (code, out, err) = normalize(None, "raw");
    assert_eq!((code, err.as_str()), (Some(0), ""));
    assert_eq!(
        out.lines().nth(2),
        Some("tid3@T:ps2_put_keycode p3 keycode 0x1c")
    );
}

// See: issue 20
/// `-c` and `--stats` count at most `QTRACE_MAX_KEYS` distinct names (set
/// low here): the names seen first are counted exactly, and the run says
/// how many events of further names went uncounted and where the first
/// was, and exits 2.
#[test]
fn r20_count_tables_past_the_cap_are_reported() {
    let log = "\
1@1.000000:ev_a x
1@1.000001:ev_b x
1@1.000002:ev_c x
1@1.000003:ev_a x
1@1.000004:ev_d x
1@1.000005:ev_c x
";
    for (args, want) in [
        (&["-c", "*"][..], "       2 ev_a\n       1 ev_b\n"),
        (&["-o", "csv", "--stats", "*"][..], ""),
    ] {
        let out = cmd()
            .env("QTRACE_MAX_KEYS", "2")
            .args(args)
            .write_stdin(log)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        if want.is_empty() {
            let names: Vec<&str> = stdout
                .lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap())
                .collect();
            assert_eq!(names, ["ev_a", "ev_b"], "{stdout}");
        } else {
            assert_eq!(stdout, want);
        }
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "qtrace-filter: stopped tracking new event names after 2 (3 more seen, first at <stdin>:3)\n",
            "{args:?}"
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // Selecting without counting needs no table: the cap changes nothing.
    let out = cmd()
        .env("QTRACE_MAX_KEYS", "2")
        .arg("*")
        .write_stdin(log)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), log);
    assert!(out.stderr.is_empty());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn r20_an_error_outlives_a_broken_pipe_and_a_closed_stdout_is_an_error() {
    // See: issue 20 (both exited 0: the error was lost, the output discarded).
    let big = tempfile::NamedTempFile::new().unwrap();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(big.path()).unwrap());
        for i in 0..50_000 {
            writeln!(
                f,
                "{i}@1795674347.000001:pci_cfg_read mch 00:00.0 @0x0 -> 0x1"
            )
            .unwrap();
        }
    }
    for fmt in ["raw", "jsonl"] {
        TOOL.assert_error_then_broken_pipe_exits_2(&["-o", fmt, "pci_cfg_read"], big.path());
    }
    TOOL.assert_closed_stdout_is_an_error(&["pci_cfg_read"], big.path());
    TOOL.assert_closed_stdout_is_an_error(&["-c", "pci_cfg_read"], big.path());
}

/// `lines` trace lines with pseudo-random values: they compress evenly, so
/// a cut at a fraction of the compressed file falls near that fraction of
/// the text.
fn r20_trace_text(lines: usize) -> String {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut text = String::new();
    for i in 0..lines {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.push_str(&format!(
            "{}@1795674347.{:06}:pci_cfg_read dev{} 00:{:02x}.{} @0x{:x} -> 0x{:08x}\n",
            i % 7,
            i % 1_000_000,
            i % 97,
            i % 32,
            i % 8,
            x % 256,
            x >> 32
        ));
    }
    text
}

fn r20_gzip(text: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

/// As the zstd tool writes it: with the content checksum.
fn r20_zstd(text: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

#[test]
fn r20_cut_compressed_input_gives_every_line_before_the_cut_then_the_byte() {
    // See: issue 20 (cut at 10 %, a zstd trace gave 0 of its 25,218 lines).
    let text = r20_trace_text(60_000);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let dir = tempfile::tempdir().unwrap();
    for (format, compressed) in [
        ("zstd", r20_zstd(text.as_bytes())),
        ("gzip", r20_gzip(text.as_bytes())),
    ] {
        for percent in [10, 50] {
            let cut = compressed.len() * percent / 100;
            let path = dir.path().join(format!("cut-{percent}.{format}"));
            std::fs::write(&path, &compressed[..cut]).unwrap();
            let file = path.to_str().unwrap();
            let out = cmd().args(["pci_cfg_read", file]).output().unwrap();
            let stdout = String::from_utf8(out.stdout).unwrap();
            let got = stdout.lines().count();
            // Every whole line before the cut, as they were.
            assert_eq!(stdout, lines[..got].concat(), "{format} {percent}%");
            let expected = lines.len() * percent / 100;
            assert!(
                got + 4_000 > expected,
                "{format} {percent}%: {got} of about {expected} lines"
            );
            let (unit, what) = if format == "zstd" {
                ("frame", "the file ends inside the frame (cut short?)")
            } else {
                ("member", "the file ends inside the member (cut short?)")
            };
            assert_eq!(
                String::from_utf8(out.stderr).unwrap(),
                format!(
                    "qtrace-filter: {file}: compressed data damaged at byte {cut} of the file \
                     ({format} {unit} starting at byte 0, in line {} of the decompressed text): \
                     {what}\n",
                    got + 1
                )
            );
            assert_eq!(out.status.code(), Some(2));
        }
    }
}

#[test]
fn r20_a_flipped_compressed_byte_gives_the_lines_before_it_then_an_error() {
    // See: issue 20 (one flipped byte: 0 lines where zstd -dc gave 3,612).
    let text = r20_trace_text(60_000);
    let dir = tempfile::tempdir().unwrap();
    let mut z = r20_zstd(text.as_bytes());
    let at = z.len() / 2;
    z[at] ^= 0x40;
    let path = dir.path().join("flipped.zst");
    std::fs::write(&path, &z).unwrap();
    let out = cmd()
        .args(["pci_cfg_read", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let good = stdout
        .split_inclusive('\n')
        .zip(text.split_inclusive('\n'))
        .take_while(|(a, b)| a == b)
        .count();
    assert!(good > 20_000, "{good} good lines");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "qtrace-filter: {}: compressed data damaged at byte ",
            path.display()
        )) && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// A binary simple trace: header, then `records`.
fn r20_simple_trace(records: &[Vec<u8>]) -> Vec<u8> {
    let mut v = u64::MAX.to_le_bytes().to_vec();
    v.extend(0xf2b1_77cb_0aa4_29b4u64.to_le_bytes());
    v.extend(4u64.to_le_bytes());
    for r in records {
        v.extend(r);
    }
    v
}

fn r20_mapping(id: u64, name: &[u8]) -> Vec<u8> {
    let mut v = 0u64.to_le_bytes().to_vec();
    v.extend(id.to_le_bytes());
    v.extend((name.len() as u32).to_le_bytes());
    v.extend(name);
    v
}

/// A `pci_cfg_read(dev, bus, slot, func, offs, val)` record.
fn r20_pci_cfg_read(id: u64, ts: u64, dev: &str, words: [u64; 5]) -> Vec<u8> {
    let mut args = (dev.len() as u32).to_le_bytes().to_vec();
    args.extend(dev.as_bytes());
    for w in words {
        args.extend(w.to_le_bytes());
    }
    let mut v = 1u64.to_le_bytes().to_vec();
    v.extend(id.to_le_bytes());
    v.extend(ts.to_le_bytes());
    v.extend((24 + args.len() as u32).to_le_bytes());
    v.extend(4242u32.to_le_bytes());
    v.extend(args);
    v
}

#[test]
fn r20_simple_trace_event_names_must_be_identifiers() {
    // See: issue 20 (a mapping record's name forged a line of the raw output).
    let good = r20_mapping(1, b"pci_cfg_read");
    let bad_at = 24 + good.len();
    let file = r20_simple_trace(&[
        good,
        r20_mapping(2, b"x_y\npci_cfg_read evil 00:00.0 @0x0 -> 0x1af41000"),
        r20_pci_cfg_read(2, 1_000, "e1000", [0, 3, 0, 0, 0x100e_8086]),
        r20_pci_cfg_read(1, 2_000, "e1000", [0, 3, 0, 0, 0x100e_8086]),
        r20_pci_cfg_read(2, 3_000, "e1000", [0, 3, 0, 0, 0x100e_8086]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace-1234");
    std::fs::write(&path, file).unwrap();
    let out = cmd()
        .args(["--no-installed-catalog", "*", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "qtrace-filter: {}: record at byte {bad_at}: event name is not an identifier; \
             the records of event id 2 are skipped\n",
            path.display()
        )
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn r20_keep_other_with_counts_counts_the_other_lines_in_a_last_row() {
    // See: issue 20 (-c --keep-other printed the raw lines into the table).
    let log = "\
pci_cfg_read a 00:00.0 @0x0 -> 0x1
Could not open option rom 'kvmvapic.bin'
ps2_put_keycode 0x1 keycode 0x1c
ps2_put_keycode 0x1 keycode 0x1c
ps2_put_keycode 0x1 keycode 0x1c
hello
pci_cfg_read a 00:00.0 @0x4 -> 0x2
";
    assert_eq!(
        run(&["-c", "--keep-other", "*"], log),
        (
            0,
            "       3 ps2_put_keycode\n       2 pci_cfg_read\n       2 (other)\n".into(),
            String::new()
        )
    );
    let (code, out, err) = run(&["--stats", "--keep-other", "pci_*"], log);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
            .collect::<Vec<_>>(),
        [
            vec!["event", "count", "first", "last", "rate/s"],
            vec!["pci_cfg_read", "2", "-", "-", "-"],
            vec!["(other)", "2", "-", "-", "-"],
        ]
    );
    // Without --keep-other the table has events only, and stderr says why.
    let (code, out, err) = run(&["-c", "*"], log);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            "       3 ps2_put_keycode\n       2 pci_cfg_read\n",
            "qtrace-filter: 2 line(s) were not trace events and were skipped (--keep-other passes them through)\n"
        )
    );
    // Structured output has no place for other lines.
    let (code, out, err) = run(&["-c", "-o", "csv", "--keep-other", "*"], log);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("--keep-other works with raw and text output only"),
        "{err}"
    );
}

/// A shipped real trace (QEMU 7.2, q35 PCI enumeration with timestamps).
fn q35_trace() -> String {
    data("A-pci-q35-ts/trace.log").display().to_string()
}

/// Runs on files (no stdin).
fn run_files(args: &[&str]) -> (i32, String, String) {
    run(args, "")
}

/// `(bus, slot, func, offs, val)` of a raw `pci_cfg_*` line of QEMU 7.2, read
/// by hand from its text: `... pci_cfg_write DEV BB:SS.F @0xOFF <- 0xVAL`.
fn pci_line_numbers(line: &str) -> (u64, u64, u64, u64, u64) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| w.starts_with('@')).unwrap();
    let bdf = words[at - 1];
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let (bus, rest) = bdf.split_once(':').unwrap();
    let (slot, func) = rest.split_once('.').unwrap();
    (
        hex(bus),
        hex(slot),
        hex(func),
        hex(&words[at][1..]),
        hex(words[at + 2]),
    )
}

#[test]
fn r22_invert_decodes_the_events_it_prints() {
    // See: 22
    let trace = q35_trace();
    let text = std::fs::read_to_string(&trace).unwrap();
    for wheres in [&["-w", "offs<0x40"][..], &[]] {
        let mut args = vec!["-v"];
        args.extend_from_slice(wheres);
        args.push("pci_cfg_read");
        // The lines -v selects, as raw output prints them.
        let mut raw = args.clone();
        raw.push(&trace);
        let (code, raw_out, err) = run_files(&raw);
        assert_eq!(code, 0, "{err}");
        let raw_lines: Vec<&str> = raw_out.lines().collect();
        assert!(raw_lines.len() > 800, "{}", raw_lines.len());
        let mut jsonl = vec!["-o", "jsonl"];
        jsonl.extend_from_slice(&args);
        jsonl.push(&trace);
        let (code, out, err) = run_files(&jsonl);
        assert_eq!(code, 0);
        assert!(err.is_empty(), "no warning about a good trace: {err}");
        let recs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len(), raw_lines.len());
        let mut pci = 0;
        for (rec, line) in recs.iter().zip(&raw_lines) {
            assert!(text.contains(line));
            assert!(rec.get("unmatched").is_none(), "{rec}");
            if rec["event"] == "pci_cfg_write" || rec["event"] == "pci_cfg_read" {
                pci += 1;
                let (bus, slot, func, offs, val) = pci_line_numbers(line);
                assert_eq!(
                    [
                        &rec["bus"],
                        &rec["slot"],
                        &rec["func"],
                        &rec["offs"],
                        &rec["val"]
                    ],
                    [bus, slot, func, offs, val]
                        .map(serde_json::Value::from)
                        .each_ref(),
                    "{line}"
                );
            }
        }
        assert!(pci > 800, "{pci}");
        let mut csv = vec!["-o", "csv"];
        csv.extend_from_slice(&args);
        csv.push(&trace);
        let (code, out, err) = run_files(&csv);
        assert_eq!(code, 0);
        assert!(err.is_empty(), "{err}");
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(rows[0], "time,tid,event,fields");
        assert_eq!(rows.len(), raw_lines.len() + 1);
        for (row, line) in rows[1..].iter().zip(&raw_lines) {
            if line.contains(":pci_cfg_write ") {
                let (_, _, _, offs, val) = pci_line_numbers(line);
                assert!(
                    row.contains(&format!("offs={offs:#x} val={val:#x}")),
                    "{row} / {line}"
                );
            }
        }
    }
}

#[test]
fn r22_an_empty_result_is_explained_and_exits_1() {
    // See: 22
    let trace = q35_trace();
    let text = std::fs::read_to_string(&trace).unwrap();
    let lines = text.lines().count();
    let of = |name: &str| {
        text.lines()
            .filter(|l| l.contains(&format!(":{name} ")))
            .count()
    };
    let grouped = |n: usize| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    let (code, out, err) = run_files(&["pci_cfg_raed", &trace]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "qtrace-filter: no event is called 'pci_cfg_raed' (did you mean pci_cfg_read?)\n"
    );
    let (code, _, err) = run_files(&["pci_cgf_*", &trace]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "qtrace-filter: no event matches 'pci_cgf_*' (did you mean pci_cfg_read, pci_cfg_write?)\n"
    );
    // A name QEMU declares that the trace does not hold: what it holds.
    let (code, _, err) = run_files(&["pci_nvme_read", &trace]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "qtrace-filter: no pci_nvme_read events in {} lines (the input holds: \
             pci_cfg_read ({}), pci_cfg_write ({}), pci_update_mappings_add ({}), ...)\n",
            grouped(lines),
            grouped(of("pci_cfg_read")),
            grouped(of("pci_cfg_write")),
            grouped(of("pci_update_mappings_add"))
        )
    );
    // Events there, but the conditions left them all out.
    let (code, _, err) = run_files(&["-w", "offs>0x1000", "pci_cfg_read", &trace]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "qtrace-filter: none of the {} pci_cfg_read events in {} lines passed -w 'offs>0x1000'\n",
            grouped(of("pci_cfg_read")),
            grouped(lines)
        )
    );
    // Standard input is read once: no list of what it holds.
    let (code, _, err) = run(&["pci_nvme_read"], &text);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "qtrace-filter: no pci_nvme_read events in {} lines\n",
            grouped(lines)
        )
    );
    // A typo in a list that selects something else: said, exit 0.
    let (code, out, err) = run_files(&["pci_cfg_write,pci_cfg_raed", &trace]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), of("pci_cfg_write"));
    assert_eq!(
        err,
        "qtrace-filter: no event is called 'pci_cfg_raed' (did you mean pci_cfg_read?)\n"
    );
    // Nothing to say when the names exist.
    let (code, _, err) = run_files(&["pci_cfg_write,pci_nvme_read", &trace]);
    assert_eq!((code, err.as_str()), (0, ""));
    let empty = tempfile::NamedTempFile::new().unwrap();
    let (code, _, err) = run_files(&["pci_cfg_read", empty.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "qtrace-filter: no pci_cfg_read events: the input is empty\n"
    );
}

/// grep's own output for `args` on `file`, the oracle for -m and context.
fn grep(args: &[&str], file: &str) -> Option<String> {
    let out = Command::new("grep").args(args).arg(file).output().ok()?;
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn r22_max_count_and_context_print_what_grep_prints() {
    // See: 22
    let trace = q35_trace();
    // Every line of the name holds `:NAME `, and no other line does.
    let pat = ":pci_update_mappings_del ";
    let cases: &[&[&str]] = &[
        &["-m", "3"],
        &["-B", "2", "-A", "1", "-m", "2"],
        &["-C", "1"],
        &["-B", "3"],
        &["-A", "2", "-m", "1"],
        &["-C", "2", "-A", "0", "-m", "4"],
    ];
    for case in cases {
        let Some(want) = grep(&[*case, &["-F", pat][..]].concat(), &trace) else {
            eprintln!("skipped: no grep");
            return;
        };
        assert!(want.contains("--") || !case.contains(&"-C"), "{case:?}");
        let (code, out, err) =
            run_files(&[*case, &["pci_update_mappings_del", trace.as_str()][..]].concat());
        assert_eq!(code, 0, "{case:?}: {err}");
        assert_eq!(out, want, "{case:?}");
        assert!(err.is_empty(), "{err}");
    }
    // -c counts at most NUM, as grep -c -m does.
    let (code, out, _) = run_files(&["-c", "-m", "5", "pci_cfg_read", &trace]);
    assert_eq!(code, 0);
    let want = grep(&["-c", "-m", "5", "-F", ":pci_cfg_read "], &trace).unwrap();
    assert_eq!(out, format!("{:>8} pci_cfg_read\n", want.trim()));
    // -m counts per input, as grep's does.
    let (code, out, _) = run_files(&["-m", "2", "pci_cfg_read", &trace, &trace]);
    assert_eq!(code, 0);
    let once = grep(&["-m", "2", "-F", ":pci_cfg_read "], &trace).unwrap();
    assert_eq!(out, format!("{once}{once}"));
    // -m 0 reads nothing and selects nothing, quietly.
    let (code, out, err) = run_files(&["-m", "0", "pci_cfg_read", &trace]);
    assert_eq!((code, out.as_str(), err.as_str()), (1, "", ""));
}

#[test]
fn r22_context_in_text_csv_and_jsonl_is_marked() {
    // See: 22
    let trace = q35_trace();
    let want = grep(
        &[
            "-B",
            "1",
            "-A",
            "1",
            "-m",
            "2",
            "-F",
            ":pci_update_mappings_del ",
        ],
        &trace,
    )
    .unwrap();
    // The raw lines grep shows, selected ones and context, in order.
    let groups: Vec<Vec<&str>> = want.split("--\n").map(|g| g.lines().collect()).collect();
    assert_eq!(groups.len(), 2);
    let args = [
        "-B",
        "1",
        "-A",
        "1",
        "-m",
        "2",
        "pci_update_mappings_del",
        &trace,
    ];
    let (code, out, _) = run_files(&[&["-o", "jsonl"][..], &args].concat());
    assert_eq!(code, 0);
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<&str> = groups.concat();
    assert_eq!(recs.len(), lines.len());
    for (rec, line) in recs.iter().zip(&lines) {
        let event = rec["event"].as_str().unwrap();
        assert!(line.contains(&format!(":{event} ")), "{line}");
        let context = event != "pci_update_mappings_del";
        assert_eq!(
            rec.get("context"),
            context.then_some(&serde_json::Value::Bool(true))
        );
        assert_eq!(
            rec["time"].as_str().unwrap(),
            &line[line.find('@').unwrap() + 1..line.find(':').unwrap()]
        );
    }
    let (code, out, _) = run_files(&[&["-o", "csv"][..], &args].concat());
    assert_eq!(code, 0);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows[0], "time,tid,event,fields,context");
    assert_eq!(rows.len(), lines.len() + 1);
    for (row, line) in rows[1..].iter().zip(&lines) {
        let context = !line.contains(":pci_update_mappings_del ");
        assert!(
            row.ends_with(if context { ",true" } else { ",false" }),
            "{row}"
        );
    }
    let (code, out, _) = run_files(&[&["-o", "text"][..], &args].concat());
    assert_eq!(code, 0);
    let text_groups: Vec<&str> = out.split("--\n").collect();
    assert_eq!(text_groups.len(), 2);
    for (tg, g) in text_groups.iter().zip(&groups) {
        assert_eq!(tg.lines().count(), g.len());
        assert_eq!(
            tg.lines().filter(|l| l.ends_with(" context=true")).count(),
            g.len() - 1
        );
    }
}

#[test]
fn r22_no_header_for_csv_and_tsv() {
    // See: 22
    let trace = q35_trace();
    for o in ["csv", "tsv"] {
        let (_, with, _) = run_files(&["-o", o, "-f", "dev,offs", "pci_cfg_read", &trace]);
        let (code, without, _) = run_files(&[
            "-o",
            o,
            "--no-header",
            "-f",
            "dev,offs",
            "pci_cfg_read",
            &trace,
        ]);
        assert_eq!(code, 0);
        let (header, rest) = with.split_once('\n').unwrap();
        assert_eq!(header, if o == "csv" { "dev,offs" } else { "dev\toffs" });
        assert_eq!(without, rest);
        let (_, counts, _) = run_files(&["-c", "-o", o, "--no-header", "pci_cfg_*", &trace]);
        assert!(!counts.contains("event"), "{counts}");
        assert_eq!(counts.lines().count(), 2);
    }
    // Nothing selected: no header either.
    let (code, out, _) = run_files(&["-o", "csv", "--no-header", "pci_nvme_read", &trace]);
    assert_eq!((code, out.as_str()), (1, ""));
}

#[test]
fn r22_fields_imply_text_output() {
    // See: 22
    let trace = q35_trace();
    let (code, out, err) = run_files(&["-f", "dev,offs,val", "-m", "2", "pci_cfg_read", &trace]);
    assert_eq!(code, 0, "{err}");
    let (_, raw, _) = run_files(&["-m", "2", "pci_cfg_read", &trace]);
    let want: Vec<String> = raw
        .lines()
        .map(|l| {
            let (_, _, _, offs, val) = pci_line_numbers(l);
            let dev = l.split_whitespace().nth(1).unwrap();
            format!("dev={dev} offs={offs:#x} val={val:#x}")
        })
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    let (code, out, err) = run_files(&["-o", "raw", "-f", "dev", "pci_cfg_read", &trace]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("-f picks the columns of text, csv, tsv or jsonl output"),
        "{err}"
    );
    let (_, help, _) = run(&["--help"], "");
    assert!(help.contains("qtrace-filter --follow"), "{help}");
    // (The examples; --line-buffered's own text is core's.)
    let examples = help.split("Examples:").nth(1).unwrap();
    assert!(!examples.contains("tail -f"), "{examples}");
    assert!(
        examples.contains("-f time,offs,val pci_cfg_read"),
        "{examples}"
    );
}

#[test]
fn r22_events_no_catalog_describes_say_how_to_get_one() {
    // See: 22
    // The mixed trace holds many events the built-in specs do not describe
    // (ide_reset, ...): their fields are empty without QEMU's catalog.
    let trace = data("D-mixed-q35-ts/trace.log.zst").display().to_string();
    let (code, out, err) = run_files(&[
        "--no-installed-catalog",
        "-o",
        "csv",
        "-m",
        "2000",
        "ide_*,pci_cfg_read",
        &trace,
    ]);
    assert_eq!(code, 0);
    assert!(out.lines().count() > 1);
    assert!(!err.contains("did not match any known format"), "{err}");
    assert!(
        err.contains("have no format in the catalogs in use"),
        "{err}"
    );
    assert!(
        err.contains("--trace-events FILE") && err.contains("$QTRACE_TRACE_EVENTS"),
        "{err}"
    );
    assert!(err.contains("/usr/share/qemu/trace-events-all"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    // With QEMU's catalog, the same events decode and nothing is said.
    let installed = std::path::Path::new("/usr/share/qemu/trace-events-all");
    if installed.is_file() {
        let (code, _, err) = run_files(&[
            "--no-installed-catalog",
            "--trace-events",
            installed.to_str().unwrap(),
            "-o",
            "csv",
            "-m",
            "2000",
            "ide_*,pci_cfg_read",
            &trace,
        ]);
        assert_eq!((code, err.as_str()), (0, ""));
    } else {
        eprintln!("part skipped: no /usr/share/qemu/trace-events-all");
    }
}

#[test]
fn r22_other_lines_keep_their_place_in_text_output() {
    // See: 22
    // --keep-other -o text and text context print other lines where the
    // input has them (they used to come before every record).
    let (code, out, _) = run(
        &["--keep-other", "-o", "text", "-f", "event", "pci_cfg_*"],
        LOG,
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "event=pci_cfg_read\nevent=pci_cfg_write\n\
         Could not open option rom 'kvmvapic.bin': No such file or directory\n\
         event=pci_cfg_read\n"
    );
    let (code, out, _) = run(
        &["-o", "text", "-f", "event", "-B", "1", "ps2_put_keycode"],
        LOG,
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "Could not open option rom 'kvmvapic.bin': No such file or directory\n\
         event=ps2_put_keycode\n"
    );
}
