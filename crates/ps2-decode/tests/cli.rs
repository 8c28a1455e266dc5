//! Process-level tests of ps2-decode: every flag, exit codes 0/1/2, anomaly
//! reports, several keyboards, stdin, broken pipes, line buffering and --help.

use std::io::Write;

use qtrace_testkit::{Tool, data};

const TOOL: Tool = Tool {
    name: "ps2-decode",
    bin: env!("CARGO_BIN_EXE_ps2-decode"),
    args: &[],
};

/// Runs with `stdin`; returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    TOOL.run(args, stdin)
}

/// Set 2 with translation: Shift+h, i, Enter, then the guest selects set 1
/// and Caps Lock is typed there followed by `a`.
const LOG: &str = "\
100@1.000001:ps2_kbd_reset 0x10
100@1.000002:ps2_keyboard_set_translation 0x10 mode 1
Could not open option rom 'kvmvapic.bin': No such file or directory
200@2.000001:ps2_keyboard_event 0x10 qcode 1 down 1 modifier 0x2 modifiers 0x0 set 2 xlate 1
200@2.000002:ps2_put_keycode 0x10 keycode 0x12
200@2.000003:ps2_keyboard_event 0x10 qcode 41 down 1 modifier 0x0 modifiers 0x2 set 2 xlate 1
200@2.000004:ps2_put_keycode 0x10 keycode 0x33
200@2.000005:ps2_keyboard_event 0x10 qcode 41 down 0 modifier 0x0 modifiers 0x2 set 2 xlate 1
200@2.000006:ps2_put_keycode 0x10 keycode 0xf0
200@2.000007:ps2_put_keycode 0x10 keycode 0x33
200@2.000008:ps2_keyboard_event 0x10 qcode 1 down 0 modifier 0x2 modifiers 0x2 set 2 xlate 1
200@2.000009:ps2_put_keycode 0x10 keycode 0xf0
200@2.000010:ps2_put_keycode 0x10 keycode 0x12
200@2.000011:ps2_put_keycode 0x10 keycode 0x43
200@2.000012:ps2_put_keycode 0x10 keycode 0xf0
200@2.000013:ps2_put_keycode 0x10 keycode 0x43
200@2.000014:ps2_put_keycode 0x10 keycode 0x5a
200@2.000015:ps2_put_keycode 0x10 keycode 0xf0
200@2.000016:ps2_put_keycode 0x10 keycode 0x5a
100@3.000001:ps2_write_keyboard 0x10 val 240
100@3.000002:ps2_write_keyboard 0x10 val 1
200@3.000003:ps2_put_keycode 0x10 keycode 0x3a
200@3.000004:ps2_put_keycode 0x10 keycode 0xba
200@3.000005:ps2_put_keycode 0x10 keycode 0x1e
200@3.000006:ps2_put_keycode 0x10 keycode 0x9e
";

#[test]
fn key_events_text_and_exit_0() {
    let (code, out, err) = run(&[], LOG);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(
        out,
        "\
2.000002  0x10  12                       press    shift
2.000004  0x10  33                       press    h
2.000006  0x10  F0 33                    release  h
2.000009  0x10  F0 12                    release  shift
2.000011  0x10  43                       press    i
2.000012  0x10  F0 43                    release  i
2.000014  0x10  5A                       press    ret
2.000015  0x10  F0 5A                    release  ret
3.000003  0x10  3A                       press    caps_lock
3.000004  0x10  BA                       release  caps_lock
3.000005  0x10  1E                       press    a
3.000006  0x10  9E                       release  a
"
    );
}

#[test]
fn translated_column() {
    let (code, out, _) = run(&["--translated"], LOG);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[2],
        "2.000006  0x10  F0 33                    A3                       release  h"
    );
    // Set 1 while translation is on: QEMU translates set-1 bytes too.
    assert!(
        lines[10].contains("  1E  ") && lines[10].contains("  03  "),
        "{}",
        lines[10]
    );
    // --xlate off: the guest gets the keyboard's bytes.
    let (_, out, _) = run(&["--translated", "--xlate", "off"], LOG);
    assert!(
        out.lines()
            .nth(2)
            .unwrap()
            .contains("F0 33                    F0 33")
    );
    let (_, out, _) = run(&["--translated", "--xlate", "on", "-o", "csv"], LOG);
    assert_eq!(
        out.lines().next(),
        Some("time,tid,dev,bytes,action,key,text,translated")
    );
}

#[test]
fn csv_tsv_jsonl_records() {
    let (code, out, _) = run(&["-o", "csv"], LOG);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "time,tid,dev,bytes,action,key,text");
    assert_eq!(lines[1], "2.000002,200,0x10,12,press,shift,");
    assert_eq!(lines[2], "2.000004,200,0x10,33,press,h,H");
    assert_eq!(lines[3], "2.000006,200,0x10,F0 33,release,h,");
    assert!(
        out.contains("\n2.000014,200,0x10,5A,press,ret,\"\n\"\n"),
        "{out}"
    );
    let (_, out, _) = run(&["-o", "tsv"], LOG);
    assert!(out.starts_with("time\ttid\tdev\tbytes\taction\tkey\ttext\n"));
    assert!(out.contains("2.000004\t200\t0x10\t33\tpress\th\tH\n"));
    let (_, out, _) = run(&["-o", "jsonl"], LOG);
    let first = out.lines().nth(1).unwrap();
    assert_eq!(
        first,
        r#"{"time":"2.000004","tid":200,"dev":"0x10","bytes":"33","action":"press","key":"h","text":"H"}"#
    );
    let shift: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(shift["text"].is_null());
    // No prefix: time and tid are never observed.
    let bare: String = LOG
        .lines()
        .map(|l| l.split_once(':').map_or(l, |(_, b)| b))
        .map(|l| format!("{l}\n"))
        .collect();
    let (code, out, _) = run(&["-o", "jsonl"], &bare);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(v["time"].is_null() && v["tid"].is_null(), "{v}");
    let (_, out, _) = run(&[], &bare);
    assert!(out.starts_with("0x10  12  "), "{out}");
}

#[test]
fn text_and_its_options() {
    let (code, out, err) = run(&["--text"], LOG);
    assert_eq!((code, out.as_str()), (0, "Hi\nA\n"), "{err}");
    let bs = "ps2_put_keycode 0x10 keycode 0x1c\n\
              ps2_put_keycode 0x10 keycode 0x66\n\
              ps2_put_keycode 0x10 keycode 0x32\n\
              ps2_put_keycode 0x10 keycode 0x76\n";
    let (_, out, _) = run(&["--text"], bs);
    assert_eq!(out, "a<BS>b<esc>\n");
    let (_, out, _) = run(&["--text", "--apply-backspace"], bs);
    assert_eq!(out, "b<esc>\n");
    let (_, out, _) = run(&["--text", "--printable-only"], bs);
    assert_eq!(out, "ab\n");
    let (_, out, _) = run(&["--text", "--printable-only", "--apply-backspace"], bs);
    assert_eq!(out, "b\n");
}

#[test]
fn sendkey_script() {
    let (code, out, _) = run(&["--sendkey"], LOG);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "sendkey shift-h\nsendkey i\nsendkey ret\nsendkey caps_lock\nsendkey a\n"
    );
}

#[test]
fn set_flag_forces_the_set() {
    // 1E is `a` in set 1 but `2` in set 2.
    let only = "ps2_put_keycode 0x10 keycode 0x1e\nps2_put_keycode 0x10 keycode 0x9e\n";
    let (_, out, _) = run(&["--text"], only);
    assert_eq!(out, "2[9E]\n");
    let (_, out, _) = run(&["--text", "--set", "1"], only);
    assert_eq!(out, "a\n");
    // A forced set ignores the trace's own set changes.
    let (_, out, _) = run(&["--text", "--set", "2"], LOG);
    assert_eq!(out, "Hi\nm[BA]2[9E]\n");
    // Set 3.
    let (_, out, _) = run(
        &["--set", "3"],
        "ps2_put_keycode 0x10 keycode 0x57\nps2_put_keycode 0x10 keycode 0xf0\nps2_put_keycode 0x10 keycode 0x57\n",
    );
    assert!(out.contains("press    print") && out.contains("release  print"));
}

/// QEMU 11.1 prints the Linux key code (`lnx N`) where earlier versions
/// printed the QKeyCode index: Up (KEY_UP 103) pressed and released, then
/// Print Screen (KEY_SYSRQ 99) with its fake shifts, in set 2; then a switch
/// to set 1 announced by the next key event, and `a` (KEY_A 30) there.
const LNX_LOG: &str = "\
ps2_keyboard_event 0x10 lnx 103 down 1 modifier 0x0 modifiers 0x0 set 2 xlate 1
ps2_put_keycode 0x10 keycode 0xe0
ps2_put_keycode 0x10 keycode 0x75
ps2_keyboard_event 0x10 lnx 103 down 0 modifier 0x0 modifiers 0x0 set 2 xlate 1
ps2_put_keycode 0x10 keycode 0xe0
ps2_put_keycode 0x10 keycode 0xf0
ps2_put_keycode 0x10 keycode 0x75
ps2_keyboard_event 0x10 lnx 99 down 1 modifier 0x0 modifiers 0x0 set 2 xlate 1
ps2_put_keycode 0x10 keycode 0xe0
ps2_put_keycode 0x10 keycode 0x12
ps2_put_keycode 0x10 keycode 0xe0
ps2_put_keycode 0x10 keycode 0x7c
ps2_keyboard_event 0x10 lnx 99 down 0 modifier 0x0 modifiers 0x0 set 2 xlate 1
ps2_put_keycode 0x10 keycode 0xe0
ps2_put_keycode 0x10 keycode 0xf0
ps2_put_keycode 0x10 keycode 0x7c
ps2_put_keycode 0x10 keycode 0xe0
ps2_put_keycode 0x10 keycode 0xf0
ps2_put_keycode 0x10 keycode 0x12
ps2_keyboard_event 0x10 lnx 30 down 1 modifier 0x0 modifiers 0x0 set 1 xlate 0
ps2_put_keycode 0x10 keycode 0x1e
ps2_keyboard_event 0x10 lnx 30 down 0 modifier 0x0 modifiers 0x0 set 1 xlate 0
ps2_put_keycode 0x10 keycode 0x9e
";

#[test]
fn linux_key_code_events_of_qemu_11_1() {
    // The built-in spec alone reads the lnx form: each key event ends the
    // previous key's bytes, so Print's leading fake shift belongs to it, and
    // its set applies.
    let want = "\
0x10  E0 75                    press    up
0x10  E0 F0 75                 release  up
0x10  E0 12 E0 7C              press    print
0x10  E0 F0 7C E0 F0 12        release  print
0x10  1E                       press    a
0x10  9E                       release  a
";
    for args in [&["--no-installed-catalog"][..], &[]] {
        let (code, out, err) = run(args, LNX_LOG);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, want, ""),
            "{args:?}"
        );
    }
    let (code, out, _) = run(&["--no-installed-catalog", "--text"], LNX_LOG);
    assert_eq!((code, out.as_str()), (0, "<up><print>a\n"));
    // Without the key events the prefix would end up on Up's release.
    let bytes_only: String = LNX_LOG
        .lines()
        .filter(|l| l.starts_with("ps2_put_keycode "))
        .map(|l| format!("{l}\n"))
        .collect();
    let (_, out, _) = run(&["--no-installed-catalog"], &bytes_only);
    assert!(
        out.contains("E0 F0 75 E0 12           release  up\n"),
        "{out}"
    );
}

#[test]
fn decimal_keycodes_of_old_qemu() {
    // QEMU <= 2.10 printed keycodes in decimal.
    let (code, out, _) = run(
        &["--text", "--no-installed-catalog"],
        "1@1.0:ps2_put_keycode 0x10 keycode 28\n1@1.1:ps2_put_keycode 0x10 keycode 240\n1@1.2:ps2_put_keycode 0x10 keycode 28\n",
    );
    assert_eq!((code, out.as_str()), (0, "a\n"));
}

#[test]
fn anomalies_are_reported_and_shown() {
    let log = "\
ps2_put_keycode 0x10 keycode 0xe0
ps2_put_keycode 0x10 keycode 0x5f
ps2_put_keycode 0x10 keycode 0x1c
ps2_put_keycode 0x10 keycode 0xf0
ps2_put_keycode 0x10 keycode 0x32
ps2_put_keycode 0x10 keycode 0xe0
";
    let (code, out, err) = run(&[], log);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "\
0x10  E0 5F                    press    [E0 5F]
0x10  1C                       press    a
0x10  F0 32                    release  b [F0 32]
0x10  E0                       ?        [E0]
"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0]
            .starts_with("ps2-decode: warning: <stdin>:1: no key has code E0 5F in scancode set 2"),
        "{err}"
    );
    assert!(lines[1].contains("<stdin>:4: release of 'b'"), "{err}");
    assert!(
        lines[2].contains("<stdin>:6: truncated sequence E0"),
        "{err}"
    );
    let (_, out, _) = run(&["--text"], log);
    assert_eq!(out, "[E0 5F]a[F0 32][E0]\n");
    let (_, out, _) = run(&["-o", "jsonl"], log);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(v["key"].is_null());
    assert_eq!(v["text"], "[E0 5F]");
    assert_eq!(v["action"], "press");
    let (_, out, _) = run(&["--sendkey"], log);
    assert_eq!(out, "sendkey a\n");
    // After 20 messages of a kind the rest are counted; the output keeps
    // every event.
    let many = "ps2_put_keycode 0x10 keycode 0x02\n".repeat(150);
    let (code, out, err) = run(&[], &many);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 150);
    assert_eq!(err.lines().filter(|l| l.contains("warning:")).count(), 20);
    assert!(
        err.ends_with(
            "ps2-decode: 150 codes that no key has in all; the first 20 are shown above\n"
        ),
        "{err}"
    );
}

#[test]
fn replies_are_not_keys() {
    let log = "\
ps2_put_keycode 0x10 keycode 0xfa
ps2_put_keycode 0x10 keycode 0xaa
ps2_put_keycode 0x10 keycode 0x1c
ps2_write_keyboard 0x10 val 240
ps2_write_keyboard 0x10 val 0
ps2_put_keycode 0x10 keycode 0x02
ps2_put_keycode 0x10 keycode 0x01
";
    let (code, out, err) = run(&["--text"], log);
    assert_eq!(code, 0);
    // FA and AA are replies; 02 right after F0 00 is QEMU <= 6.1's reply
    // (the set); 01 is then F9.
    assert_eq!(out, "a<f9>\n");
    assert!(
        err.contains("3 keyboard reply or overflow byte(s)"),
        "{err}"
    );
}

#[test]
fn leds_set_caps_and_num_lock() {
    let log = "\
ps2_set_ledstate 0x10 ledstate 4
ps2_put_keycode 0x10 keycode 0x1c
ps2_set_ledstate 0x10 ledstate 2
ps2_put_keycode 0x10 keycode 0x1c
ps2_put_keycode 0x10 keycode 0x69
ps2_write_keyboard 0x10 val 237
ps2_write_keyboard 0x10 val 0
ps2_put_keycode 0x10 keycode 0x69
";
    let (_, out, _) = run(&["--text"], log);
    assert_eq!(out, "Aa1<kp_1>\n");
}

#[test]
fn several_keyboards_are_kept_apart() {
    // Two keyboards interleaved: each one's E0 prefix and Shift are its own.
    let log = "\
ps2_put_keycode 0x10 keycode 0x12
ps2_put_keycode 0x20 keycode 0xe0
ps2_put_keycode 0x10 keycode 0x1c
ps2_put_keycode 0x20 keycode 0x75
ps2_put_keycode 0x20 keycode 0x1c
ps2_put_keycode 0x20 keycode 0x5a
ps2_put_keycode 0x10 keycode 0x5a
";
    let (code, out, err) = run(&[], log);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(
        out.contains("0x20  E0 75                    press    up"),
        "{out}"
    );
    let (_, out, _) = run(&["--text"], log);
    assert_eq!(out, "<up>a\n[keyboard 0x10]\nA\n");
}

#[test]
fn exit_1_when_no_key_event() {
    let (code, out, err) = run(
        &[],
        "pci_cfg_read mch 00:00.0 @0x0 -> 0x8086\nps2_keyboard_event 0x10 qcode 7 down 1 modifier 0x0 modifiers 0x0 set 2 xlate 1\n",
    );
    // See: issue 22: stderr says why, the status stays 1.
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            1,
            "",
            "ps2-decode: no key press or release in 1 PS/2 keyboard event(s) (0 ps2_put_keycode)\n"
        )
    );
    // CSV still gets its header.
    let (code, out, _) = run(&["-o", "csv"], "");
    assert_eq!(
        (code, out.as_str()),
        (1, "time,tid,dev,bytes,action,key,text\n")
    );
}

#[test]
fn r22_an_empty_result_says_why() {
    // See: issue 22. A PCI trace, the data README (no trace line), an
    // empty file, standard input; every count checked against the input.
    let pci = data("A-pci-pc-plain/trace.log");
    let lines = std::fs::read_to_string(&pci).unwrap().lines().count();
    let (code, out, err) = run(&[pci.to_str().unwrap()], "");
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        format!(
            "ps2-decode: no PS/2 keyboard events in {},{:03} lines (this looks like a PCI \
             configuration trace: pci_cfg_read, pci_cfg_write; try pci-table)\n",
            lines / 1000,
            lines % 1000
        )
    );
    let readme = data("README.md");
    let n = std::fs::read_to_string(&readme).unwrap().lines().count();
    let (code, _, err) = run(&[readme.to_str().unwrap()], "");
    assert_eq!(code, 1);
    assert!(
        err.ends_with(&format!(
            "ps2-decode: no PS/2 keyboard events: none of its {n} lines is a QEMU trace event \
             (enable them with -d 'trace:ps2_*')\n"
        )),
        "{err}"
    );
    let empty = tempfile::NamedTempFile::new().unwrap();
    let (code, _, err) = run(&[empty.path().to_str().unwrap()], "");
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "ps2-decode: no PS/2 keyboard events: the input is empty\n"
        )
    );
    let (code, _, err) = run(
        &[],
        "pci_cfg_read mch 00:00.0 @0x0 -> 0x8086\nhello\nworld\n",
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "ps2-decode: no PS/2 keyboard events in 3 lines (the input was read once; enable \
             them with -d 'trace:ps2_*')\n"
        )
    );
}

#[test]
fn r22_no_header_for_csv_and_tsv_only() {
    // See: issue 22 (for `sort | uniq -c`).
    let t = data("B-ps2-pc-set3-plain/trace.log");
    let t = t.to_str().unwrap();
    for fmt in ["csv", "tsv"] {
        let (code, with, _) = run(&["-o", fmt, t], "");
        let (code2, without, err) = run(&["-o", fmt, "--no-header", t], "");
        assert_eq!((code, code2), (0, 0), "{err}");
        let mut lines = with.lines();
        assert!(lines.next().unwrap().starts_with("time"));
        assert_eq!(
            lines.collect::<Vec<_>>(),
            without.lines().collect::<Vec<_>>()
        );
        assert!(without.lines().count() > 10);
    }
    for args in [
        &["--no-header"][..],
        &["--no-header", "-o", "jsonl"],
        &["--no-header", "--text"],
    ] {
        let (code, out, err) = run(&[args, &[t]].concat(), "");
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        assert!(
            err.contains("--no-header is for -o csv and -o tsv"),
            "{err}"
        );
    }
}
#[test]
fn exit_2_on_errors_with_output_kept() {
    // A line that matches no format of its event: reported, skipped, status 2.
    let log = "\
ps2_put_keycode 0x10 keycode 0x1c
ps2_put_keycode 0x10 keycode banana
ps2_put_keycode 0x10 keycode 0x32
";
    let (code, out, err) = run(&["--text"], log);
    assert_eq!(code, 2);
    assert_eq!(out, "ab\n");
    assert!(
        err.contains("ps2-decode: <stdin>:2: ps2_put_keycode: the arguments match no known format"),
        "{err}"
    );
    // Unreadable input after a good one.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), LOG).unwrap();
    let (code, out, err) = run(&["--text", f.path().to_str().unwrap(), "/no/such/file"], "");
    assert_eq!(code, 2);
    assert_eq!(out, "Hi\nA\n");
    assert!(err.starts_with("ps2-decode: /no/such/file: "), "{err}");
    // Usage errors.
    for args in [
        &["--bogus"][..],
        &["--set", "4"],
        &["--apply-backspace"],
        &["--printable-only"],
        &["--text", "--sendkey"],
        &["--text", "--translated"],
        &["--sendkey", "--translated"],
        &["--text", "-o", "csv"],
        &["--sendkey", "-o", "jsonl"],
        &["-o", "xml"],
        &["--xlate", "maybe"],
    ] {
        let (code, out, err) = run(args, LOG);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?}");
        assert!(!err.is_empty(), "{args:?}");
    }
}

#[test]
fn catalog_and_line_length_options() {
    // A catalog that renames the argument: decoding goes through it first.
    let cat = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        cat.path(),
        "ps2_put_keycode(void *opaque, int keycode) \"%p code=0x%02x\"\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &[
            "--text",
            "--no-installed-catalog",
            "--trace-events",
            cat.path().to_str().unwrap(),
        ],
        "ps2_put_keycode 0x10 code=0x1c\n",
    );
    assert_eq!((code, out.as_str()), (0, "a\n"), "{err}");
    // An over-long line is reported and skipped; the rest is decoded.
    let long = format!(
        "ps2_put_keycode 0x10 keycode 0x{}\nps2_put_keycode 0x10 keycode 0x32\n",
        "1".repeat(200)
    );
    let (code, out, err) = run(&["--text", "--max-line-len", "100"], &long);
    assert_eq!((code, out.as_str()), (2, "b\n"));
    assert!(
        err.contains("<stdin>:1:") && err.contains("--max-line-len"),
        "{err}"
    );
}

#[test]
fn compressed_trace_and_stdin_dash() {
    let path = data("D-mixed-q35-ts/trace.log.zst");
    let (code, out, err) = run(&["--text", path.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("mixed workload on q35\n"), "{out}");
    let (code, out, _) = run(&["--text", "-"], LOG);
    assert_eq!((code, out.as_str()), (0, "Hi\nA\n"));
}

#[test]
fn broken_pipe_is_a_quiet_success() {
    let big = tempfile::NamedTempFile::new().unwrap();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(big.path()).unwrap());
        for i in 0..100_000 {
            writeln!(f, "1@{i}.000001:ps2_put_keycode 0x10 keycode 0x1c").unwrap();
            writeln!(f, "1@{i}.000002:ps2_put_keycode 0x10 keycode 0xf0").unwrap();
            writeln!(f, "1@{i}.000003:ps2_put_keycode 0x10 keycode 0x1c").unwrap();
            if i % 50 == 0 {
                writeln!(f, "1@{i}.000004:ps2_put_keycode 0x10 keycode 0x5a").unwrap();
            }
        }
    }
    for args in [
        &[][..],
        &["-o", "csv"],
        &["-o", "jsonl"],
        &["--text"],
        &["--sendkey"],
    ] {
        TOOL.assert_broken_pipe_is_quiet(args, big.path());
    }
}

#[test]
fn line_buffered_output_arrives_before_input_ends() {
    // `a`, Enter: the line is complete once Enter's make is read.
    TOOL.assert_output_before_input_ends(
        &["--line-buffered", "--text"],
        b"ps2_put_keycode 0x10 keycode 0x1c\nps2_put_keycode 0x10 keycode 0x5a\n",
        "a\n",
    );
}

#[test]
fn help_version_man_and_completions() {
    TOOL.assert_help_version_and_generate(&[
        "Examples:",
        "--text",
        "--sendkey",
        "--translated",
        "--set",
        "kp_multiply (also asterisk)",
        "Exit status",
    ]);
}

// See: issue 20
/// Messages are capped per kind, as in every tool: a flood of undecodable
/// lines shows its first 20 errors and still counts the rest (exit status
/// 2), and a problem of another kind after it is still shown.
#[test]
fn r20_messages_are_capped_per_kind() {
    let mut log = "ps2_put_keycode 0x10 this is not the format\n".repeat(25);
    log.push_str("ps2_put_keycode 0x10 keycode 0xe0\nps2_put_keycode 0x10 keycode 0x5f\n");
    let (code, out, err) = run(&[], &log);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "0x10  E0 5F                    press    [E0 5F]\n");
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("match no known format"))
            .count(),
        20,
        "{err}"
    );
    assert!(
        err.contains("ps2-decode: warning: <stdin>:26: no key has code E0 5F in scancode set 2"),
        "{err}"
    );
    assert!(
        err.contains(
            "\nps2-decode: 25 ps2_* lines that could not be decoded in all; the first 20 are \
             shown above\n"
        ),
        "{err}"
    );
}

// See: issue 20
/// Past the cap (set low through `QTRACE_MAX_KEYS`), a new keyboard is
/// not followed: its bytes are not decoded, the run says how many lines
/// named untracked ones and where the first was, and exits 2.
#[test]
fn r20_keyboards_past_the_cap_are_reported_not_followed() {
    let log = "\
1@1.000000:ps2_put_keycode 0x10 keycode 0x1c
1@1.000001:ps2_put_keycode 0x20 keycode 0x1c
1@1.000002:ps2_put_keycode 0x30 keycode 0x1c
1@1.000003:ps2_put_keycode 0x30 keycode 0xf0
1@1.000004:ps2_put_keycode 0x10 keycode 0xf0
1@1.000005:ps2_put_keycode 0x10 keycode 0x1c
";
    let out = TOOL
        .cmd()
        .env("QTRACE_MAX_KEYS", "2")
        .args(["-o", "csv"])
        .write_stdin(log)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let devs: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(devs, ["0x10", "0x20", "0x10"], "{stdout}");
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "ps2-decode: stopped tracking new keyboards after 2 (2 more seen, first at <stdin>:3)\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn r20_a_malformed_key_cap_is_a_usage_error() {
    let out = TOOL
        .cmd()
        .env("QTRACE_MAX_KEYS", "many")
        .write_stdin(LOG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("QTRACE_MAX_KEYS=many: expected a positive number of keys")
    );
}

/// Other lines that were examined (they contain `ps2_`) and event lines
/// whose name lost a byte are counted on stderr; the output and status are
/// those of the intact lines alone.
#[test]
fn r20_other_lines_and_damaged_names_are_counted() {
    let intact = "\
1@1.000000:ps2_put_keycode 0x10 keycode 0x1c
1@1.000001:ps2_put_keycode 0x10 keycode 0xf0
1@1.000002:ps2_put_keycode 0x10 keycode 0x1c
";
    let damaged = format!(
        "{intact}guest says ps2_ is fine\n\
         1@1.000003:ps2_put_keycodf 0x10 keycode 0xf0\n\
         1@1.000004:ps2_mouse_reset 0x99\n\
         1@1.000005:ps2_wrbte_keyboard 0x10 val 0xff\n"
    );
    TOOL.assert_unused_lines_only_reported(
        &[],
        intact,
        &damaged,
        "ps2-decode: 1 line(s) were not trace events and were skipped\n\
         ps2-decode: warning: 2 event line(s) with a damaged name (one byte off an event this \
         tool reads, declared by no catalog) were skipped (first: <stdin>:5 'ps2_put_keycodf', \
         for ps2_put_keycode)\n",
    );
}

#[test]
fn r20_an_error_outlives_a_broken_pipe_and_a_closed_stdout_is_an_error() {
    // See: issue 20 (both exited 0: the error was lost, the output discarded).
    let big = tempfile::NamedTempFile::new().unwrap();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(big.path()).unwrap());
        for i in 0..50_000 {
            writeln!(f, "1@{i}.000001:ps2_put_keycode 0x10 keycode 0x1c").unwrap();
            writeln!(f, "1@{i}.000002:ps2_put_keycode 0x10 keycode 0xf0").unwrap();
            writeln!(f, "1@{i}.000003:ps2_put_keycode 0x10 keycode 0x1c").unwrap();
        }
    }
    TOOL.assert_error_then_broken_pipe_exits_2(&["-o", "jsonl"], big.path());
    TOOL.assert_closed_stdout_is_an_error(&["-o", "jsonl"], big.path());
}
