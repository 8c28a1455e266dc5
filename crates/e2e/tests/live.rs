//! Live end-to-end tests: a real QEMU (Debian's qemu-system-x86_64, SeaBIOS,
//! TCG) traced through `scripts/capture`, and each tool's answer compared with
//! ground truth that does not come from the trace — QMP `query-pci`, the keys
//! sent with QMP `send-key`, the LBAs that `tests/live/boot.asm` reads and
//! writes — in both log styles (plain and `-msg timestamp=on`).
//!
//! Every live test runs once per QEMU: the system's (Debian 12: 7.2) and each
//! one `QTRACE_QEMUS` lists (`.ci/run` sets it to the 10.0 that
//! `scripts/get-qemu` fetches, and 11.1 with `QTRACE_QEMU_11=1`); a failure
//! names the QEMU. Where a QEMU version traces differently, the test says
//! which fact it allows for. A missing QEMU is skipped with a message on
//! stderr; with `QTRACE_REQUIRE_QEMU=1` (set by `.ci/run`) it fails instead.
//! The tests of `scripts/capture`'s arguments and of the boot sectors run
//! everywhere. Each QEMU run takes about a second (PS/2: four, for the typed
//! keys), and the test harness runs two at a time on a 2-core machine.
//! `QTRACE_LIVE_KEEP=DIR` keeps each test's traces, QMP answers and disk
//! images under `DIR/<test>/` for a look after a failure.

use std::path::Path;
use std::time::Instant;

use qtrace_e2e::*;
use serde_json::Value;

/// The first difference between two sequences, with a little context.
fn first_difference<T: std::fmt::Debug + PartialEq>(got: &[T], want: &[T]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    let from = at.saturating_sub(2);
    format!(
        "{} items, expected {}; first difference at index {at}:\n  got      {:?}\n  expected {:?}",
        got.len(),
        want.len(),
        &got[from..got.len().min(at + 3)],
        &want[from..want.len().min(at + 3)]
    )
}

fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} difference(s) from the ground truth:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

fn path_arg(p: &Path) -> String {
    p.to_str().expect("temporary paths are UTF-8").to_string()
}

// ---------------------------------------------------------------------------
// scripts/capture itself (no QEMU needed)

#[test]
fn capture_help_shows_usage_steps_and_examples() {
    let c = capture(["--help"]);
    c.expect_code(0, "--help");
    for part in [
        "usage: capture",
        "--time-limit",
        "--wait WHERE:REGEX",
        "--keys FILE",
        "--query COMMAND=FILE",
        "examples:",
        "scripts/capture -M q35",
        "steps, in this order",
        "exit status:",
    ] {
        assert!(
            c.stdout.contains(part),
            "--help lacks {part:?}:\n{}",
            c.stdout
        );
    }
}

#[test]
fn capture_refuses_bad_arguments_with_status_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["-t", "pci_*"], "-D/--log"),
        (&["-D", "t.log"], "no trace events"),
        (
            &["-D", "t.log", "-t", "a", "--", "-netdev", "user,id=n0"],
            "network backend",
        ),
        (
            &["-D", "t.log", "-t", "a", "--", "-nic", "user"],
            "network backend",
        ),
        (
            &["-D", "t.log", "-t", "a", "--", "-net", "nic"],
            "network backend",
        ),
        (
            &["-D", "t.log", "-t", "a", "--", "-D", "other.log"],
            "sets this option itself",
        ),
        (&["-D", "t.log", "-t", "a", "--wait", "disk:x"], "log:REGEX"),
        (
            &["-D", "t.log", "-t", "a", "--wait", "log:("],
            "bad regular expression",
        ),
        (
            &["-D", "t.log", "-t", "a", "--wait", "debugcon:x"],
            "needs --debugcon",
        ),
        (
            &["-D", "t.log", "-t", "a", "--query", "query-pci"],
            "COMMAND=FILE",
        ),
        (&["-D", "t.log", "-t", "a", "--time-limit", "0"], "positive"),
        (
            &["-D", "t.log", "-t", "a", "--keys-log", "k.tsv"],
            "needs --keys",
        ),
        (
            &["-D", "t.log", "-t", "a", "--end", "later"],
            "invalid choice",
        ),
        (
            &["-D", "t.log", "-t", "a", "-L", "/nonexistent-qtrace-fw"],
            "not a folder",
        ),
        (
            &[
                "-D",
                "t.log",
                "-t",
                "a",
                "--module-dir",
                "/nonexistent-qtrace-mod",
            ],
            "not a folder",
        ),
    ];
    for (args, message) in cases {
        let c = capture(*args);
        c.expect_code(2, &format!("{args:?}"));
        assert!(
            c.stderr.contains(message),
            "{args:?}: stderr lacks {message:?}:\n{}",
            c.stderr
        );
        assert!(c.stdout.is_empty(), "{args:?}: stdout {:?}", c.stdout);
    }
}

#[test]
fn capture_dry_run_prints_the_qemu_command_line() {
    let c = capture([
        "-n",
        "-M",
        "q35",
        "-T",
        "-D",
        "t.log",
        "-t",
        "pci_*",
        "-t",
        "ps2_put_keycode,ps2_read_data",
        "--debug-exit",
        "--debugcon",
        "bios.txt",
        "--",
        "-nic",
        "none",
        "-device",
        "VGA",
    ]);
    c.expect_code(0, "dry run");
    let line = c.stdout.trim_end();
    for part in [
        " -nodefaults -display none -accel tcg -nic none -machine q35 -m 128 -qmp unix:",
        ",server=on,wait=off -D t.log -d 'trace:pci_*,trace:ps2_put_keycode,trace:ps2_read_data' -msg timestamp=on",
        " -chardev file,id=capture-debugcon,path=bios.txt -device isa-debugcon,iobase=0x402,chardev=capture-debugcon",
        " -device isa-debug-exit,iobase=0xf4,iosize=0x04 -nic none -device VGA",
    ] {
        assert!(line.contains(part), "command line lacks {part:?}:\n{line}");
    }
    assert!(!line.contains("netdev"), "{line}");
    assert_eq!(c.stdout.lines().count(), 1, "{}", c.stdout);
}

#[test]
fn capture_dry_run_passes_firmware_folders_and_the_module_folder() {
    let dir = WorkDir::new("capture-firmware");
    let (fw1, fw2, modules) = (dir.file("fw1"), dir.file("fw2"), dir.file("mod"));
    for d in [&fw1, &fw2, &modules] {
        std::fs::create_dir(d).expect("a folder");
    }
    let (fw1, fw2, modules) = (path_arg(&fw1), path_arg(&fw2), path_arg(&modules));
    let c = capture([
        "-n",
        "--qemu",
        "/opt/q/qemu-system-x86_64",
        "-L",
        &format!("{fw1}:{fw2}"),
        "--firmware",
        &fw1,
        "--module-dir",
        &modules,
        "-D",
        "t.log",
        "-t",
        "pci_*",
    ]);
    c.expect_code(0, "dry run with firmware folders");
    let want = format!(
        "QEMU_MODULE_DIR={modules} /opt/q/qemu-system-x86_64 -L {fw1} -L {fw2} -L {fw1} \
         -nodefaults -display none "
    );
    assert!(
        c.stdout.starts_with(&want),
        "{}\nexpected it to start with\n{want}",
        c.stdout
    );
}

#[test]
fn capture_without_qemu_says_so() {
    let dir = WorkDir::new("capture-no-qemu");
    let log = path_arg(&dir.file("t.log"));
    let c = capture([
        "--qemu",
        "/nonexistent/qemu-system-x86_64",
        "-D",
        &log,
        "-t",
        "a",
    ]);
    c.expect_code(2, "missing QEMU");
    assert!(c.stderr.contains("not found"), "{}", c.stderr);
}

// ---------------------------------------------------------------------------
// The boot sectors (no QEMU needed)

#[test]
fn boot_sectors_are_assembled_from_their_sources() {
    if find_on_path("nasm").is_none() {
        say(
            "SKIPPED boot_sectors_are_assembled_from_their_sources: nasm not found (apt-get install nasm)",
        );
        return;
    }
    let dir = WorkDir::new("build-boot");
    let out = std::process::Command::new(root().join("scripts/build-boot"))
        .arg(dir.path())
        .output()
        .expect("scripts/build-boot runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bin in ["boot.bin", "pci-scan.bin"] {
        let built = std::fs::read(dir.file(bin)).expect("built");
        let committed = std::fs::read(live_file(bin)).expect("committed");
        assert!(
            built == committed,
            "tests/live/{bin} differs from what its .asm assembles to: run scripts/build-boot"
        );
    }
}

#[test]
fn boot_bin_holds_the_ground_truth_ops_table() {
    let bin = std::fs::read(live_file("boot.bin")).expect("tests/live/boot.bin");
    let table = ops_table();
    let found = bin
        .windows(table.len())
        .filter(|w| *w == table.as_slice())
        .count();
    assert_eq!(
        found, 1,
        "boot.bin's OPS table is not BOOT_OPS (crates/e2e/src/lib.rs): keep them in sync"
    );
}

// ---------------------------------------------------------------------------
// The PCI comparison on recorded captures (no QEMU needed)

#[test]
fn pci_comparison_agrees_on_recorded_captures() {
    for scenario in ["A-pci-pc-plain", "A-pci-q35-ts"] {
        let table = pci_table(
            &["-o", "jsonl"],
            &data_file(&format!("{scenario}/trace.log")),
        );
        table.expect_clean(scenario);
        let text = std::fs::read_to_string(data_file(&format!("{scenario}/query-pci.json")))
            .expect("query-pci.json");
        let query: Value = serde_json::from_str(&text).expect("query-pci.json is JSON");
        let c = compare_pci(&query, &table.jsonl());
        assert_no_problems(scenario, &c.problems);
        assert_eq!(c.functions, 13, "{scenario}");
        assert!(c.bars >= 20 && c.subsystems >= 10, "{scenario}: {c:?}");
    }
}

// ---------------------------------------------------------------------------
// Live: PS/2 keyboard

/// The firmware has enabled keyboard scanning (command F4, traced in
/// decimal): from here on QEMU delivers injected keys.
const KEYBOARD_ENABLED: &str = "log:ps2_write_keyboard .* val 244$";

fn keycodes(q: &Qemu, log: &Path) -> Vec<u64> {
    let run = q.qtrace_filter(&["-o", "jsonl", "-f", "keycode", "ps2_put_keycode"], log);
    run.expect_clean("qtrace-filter ps2_put_keycode");
    run.jsonl()
        .iter()
        .map(|r| r["keycode"].as_u64().expect("keycode is an integer"))
        .collect()
}

#[test]
fn live_ps2_keys_are_decoded_and_their_replay_gives_the_same_bytes() {
    for_each_qemu("ps2_keys_and_replay", live_ps2);
}

fn live_ps2(q: &Qemu) {
    let start = Instant::now();
    let dir = WorkDir::new(&format!("ps2_keys_and_replay-{}", q.dir_name()));
    let keys = dir.file("keys.txt");
    let mut text = String::from("# keys typed by crates/e2e/tests/live.rs\n");
    for k in KEY_COMBOS {
        text.push_str(k);
        text.push('\n');
    }
    std::fs::write(&keys, text).expect("keys file");

    // Run 1: pc, timestamps.
    let log = dir.file("kbd-pc-ts.log");
    let sent = dir.file("sent.tsv");
    let c = q.capture([
        "-M",
        "pc",
        "-T",
        "-D",
        &path_arg(&log),
        "-t",
        "ps2_*",
        "-t",
        "pckbd_*",
        "--wait",
        KEYBOARD_ENABLED,
        "--keys",
        &path_arg(&keys),
        "--keys-log",
        &path_arg(&sent),
        "--settle",
        "1.5",
        "--time-limit",
        TIME_LIMIT,
    ]);
    c.expect_code(0, "capture of typed keys");
    let sent = std::fs::read_to_string(&sent).expect("keys log");
    assert_eq!(
        sent.lines().count(),
        KEY_COMBOS.len() + 1,
        "every combo sent:\n{sent}"
    );

    // ps2-decode gives back exactly the key events send-key made.
    let run = q.ps2_decode(&["-o", "jsonl"], &log);
    run.expect_clean("ps2-decode -o jsonl");
    let records = run.jsonl();
    let got: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or("?").to_string(),
                r["key"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    let want = expected_key_events(KEY_COMBOS);
    assert!(
        got == want,
        "ps2-decode key events: {}",
        first_difference(&got, &want)
    );
    assert_no_problems(
        "ps2-decode times",
        &Style::Timestamps.check_times(&records, "ps2-decode", q),
    );
    let devs: std::collections::BTreeSet<&str> =
        records.iter().filter_map(|r| r["dev"].as_str()).collect();
    assert_eq!(devs.len(), 1, "one keyboard: {devs:?}");

    // The text typed, US layout.
    let typed = q.ps2_decode(&["--text", "--printable-only"], &log);
    typed.expect_clean("ps2-decode --text");
    assert_eq!(typed.text().lines().next(), Some(TYPED_FIRST_LINE));

    // --sendkey folds the events back into the combos sent.
    let script = q.ps2_decode(&["--sendkey"], &log);
    script.expect_clean("ps2-decode --sendkey");
    let script = script.text();
    let combos: Vec<&str> = script
        .lines()
        .map(|l| l.trim_start_matches("sendkey "))
        .collect();
    assert!(
        combos == KEY_COMBOS,
        "--sendkey: {}",
        first_difference(&combos, KEY_COMBOS)
    );

    // Run 2: replay that script on q35, plain log; the keyboard must send the
    // same bytes (read with qtrace-filter, independently of ps2-decode).
    let replay = dir.file("replay.txt");
    std::fs::write(&replay, &script).expect("replay script");
    let log2 = dir.file("kbd-q35-plain.log");
    let c = q.capture([
        "-M",
        "q35",
        "-D",
        &path_arg(&log2),
        "-t",
        "ps2_*",
        "--wait",
        KEYBOARD_ENABLED,
        "--keys",
        &path_arg(&replay),
        "--settle",
        "1.5",
        "--time-limit",
        TIME_LIMIT,
    ]);
    c.expect_code(0, "capture of the replay");
    let (bytes1, bytes2) = (keycodes(q, &log), keycodes(q, &log2));
    assert!(
        bytes1.len() > 2 * KEY_COMBOS.len(),
        "{} bytes",
        bytes1.len()
    );
    assert!(
        bytes1 == bytes2,
        "replayed bytes: {}",
        first_difference(&bytes2, &bytes1)
    );
    let again = q.ps2_decode(&["--sendkey"], &log2);
    again.expect_clean("ps2-decode --sendkey (replay)");
    assert_eq!(
        again.text(),
        script,
        "the replay decodes to the same script"
    );
    let plain = q.ps2_decode(&["-o", "jsonl"], &log2).jsonl();
    assert_no_problems(
        "ps2-decode times",
        &Style::Plain.check_times(&plain, "ps2-decode", q),
    );

    say(format!(
        "live ps2 on QEMU {}: {} combos -> {} key events and {} bytes decoded as sent (pc, timestamps); \
         --sendkey replay on q35 (plain) gave the same bytes ({:.1} s)",
        q.short(),
        KEY_COMBOS.len(),
        want.len(),
        bytes1.len(),
        start.elapsed().as_secs_f64()
    ));
}

// ---------------------------------------------------------------------------
// Live: PCI

fn live_pci(machine: &str, style: Style) {
    let test = format!("pci_{machine}_{}", style.name());
    for_each_qemu(&test, |q| live_pci_on(q, &test, machine, style));
}

fn live_pci_on(q: &Qemu, test: &str, machine: &str, style: Style) {
    let test = format!("{test}-{}", q.dir_name());
    let start = Instant::now();
    let dir = WorkDir::new(&test);
    let disk = dir.file("disk.img");
    disk_image(&disk, "pci-scan.bin", 2048);
    let log = dir.file("trace.log");
    let query = dir.file("query-pci.json");
    let version = dir.file("query-version.json");
    let mut args: Vec<std::ffi::OsString> = ["-M", machine]
        .iter()
        .chain(style.capture_args())
        .map(|s| std::ffi::OsString::from(*s))
        .collect();
    for a in [
        "-D",
        &path_arg(&log),
        "-t",
        "pci_cfg_*",
        "-t",
        "pci_update_mappings_*",
        "--debugcon",
        &path_arg(&dir.file("debugcon.txt")),
        "--wait",
        "debugcon:^qtrace-live: pci scan done$",
        "--query",
        &format!("query-pci={}", path_arg(&query)),
        "--query",
        &format!("query-version={}", path_arg(&version)),
        "--time-limit",
        TIME_LIMIT,
        "--",
    ] {
        args.push(a.into());
    }
    args.extend(pci_devices(machine, &disk));
    let c = q.capture(&args);
    c.expect_code(0, &test);

    // The QEMU that ran is the one this run is for (QMP's own answer).
    let text = std::fs::read_to_string(&version).expect("query-version answer");
    let answer: Value = serde_json::from_str(&text).expect("query-version answer is JSON");
    let ran = (
        answer["qemu"]["major"].as_u64().unwrap_or(0),
        answer["qemu"]["minor"].as_u64().unwrap_or(0),
    );
    assert_eq!(
        ran,
        (u64::from(q.version.0), u64::from(q.version.1)),
        "{test}: QMP query-version {answer}"
    );

    let run = q.pci_table(&["-o", "jsonl"], &log);
    run.expect_clean("pci-table -o jsonl");
    let table = run.jsonl();
    let text = std::fs::read_to_string(&query).expect("query-pci answer");
    let query_pci: Value = serde_json::from_str(&text).expect("query-pci answer is JSON");
    let cmp = compare_pci(&query_pci, &table);
    assert_no_problems(&test, &cmp.problems);
    // The machine really had what the test is about: a device behind a
    // bridge (pc: bus 1; q35: bus 3, behind a root port and a PCIe-to-PCI
    // bridge), subsystems read by pci-scan.bin, BARs sized by SeaBIOS.
    let (functions, behind) = if machine == "q35" {
        (13, "03:")
    } else {
        (11, "01:")
    };
    assert_eq!(cmp.functions, functions, "{test}: functions in query-pci");
    assert!(
        table
            .iter()
            .any(|t| t["bdf"].as_str().is_some_and(|b| b.starts_with(behind)))
    );
    assert!(
        cmp.subsystems >= functions - 4 && cmp.bars >= 15,
        "{test}: {cmp:?}"
    );

    // The log style is the one asked for.
    let reads = q.qtrace_filter(&["-o", "jsonl", "-f", "time,tid,dev", "pci_cfg_read"], &log);
    reads.expect_clean("qtrace-filter pci_cfg_read");
    let reads = reads.jsonl();
    assert_no_problems(&test, &style.check_times(&reads, "pci_cfg_read", q));
    // Since QEMU 8.0, reads of absent functions are traced too, as device
    // `empty` (pci-table leaves them out of the table, as query-pci does);
    // 7.2 does not trace them.
    let empty = reads.iter().filter(|r| r["dev"] == "empty").count();
    assert_eq!(
        empty > 0,
        q.at_least(8, 0),
        "{test}: {empty} reads of device `empty`"
    );

    say(format!(
        "live pci {machine} ({}) on QEMU {}: {} functions, {} BARs, {} subsystems match query-pci ({:.1} s)",
        style.name(),
        q.short(),
        cmp.functions,
        cmp.bars,
        cmp.subsystems,
        start.elapsed().as_secs_f64()
    ));
}

#[test]
fn live_pci_pc_plain() {
    live_pci("pc", Style::Plain);
}

#[test]
fn live_pci_pc_timestamps() {
    live_pci("pc", Style::Timestamps);
}

#[test]
fn live_pci_q35_plain() {
    live_pci("q35", Style::Plain);
}

#[test]
fn live_pci_q35_timestamps() {
    live_pci("q35", Style::Timestamps);
}

// ---------------------------------------------------------------------------
// Live: disk I/O

fn live_dma(machine: &str, style: Style) {
    let ctrl = if machine == "q35" { "ahci" } else { "ide" };
    let test = format!("dma_{machine}_{ctrl}_{}", style.name());
    for_each_qemu(&test, |q| live_dma_on(q, &test, machine, ctrl, style));
}

fn live_dma_on(q: &Qemu, test: &str, machine: &str, ctrl: &str, style: Style) {
    let test = format!("{test}-{}", q.dir_name());
    let start = Instant::now();
    let dir = WorkDir::new(&test);
    let disk = dir.file("disk.img");
    disk_image(&disk, "boot.bin", DISK_SECTORS);
    let log = dir.file("trace.log");
    let mut args: Vec<String> = ["-M", machine]
        .iter()
        .chain(style.capture_args())
        .map(|s| s.to_string())
        .collect();
    args.extend(["-D".into(), path_arg(&log)]);
    for e in dma_events(q) {
        args.extend(["-t".into(), e.to_string()]);
    }
    args.extend(
        [
            "--debug-exit",
            "--time-limit",
            TIME_LIMIT,
            "--",
            "-drive",
            &format!("file={},format=raw,if=none,id=d0", path_arg(&disk)),
            "-device",
            "ide-hd,drive=d0,bus=ide.0",
        ]
        .map(String::from),
    );
    let c = q.capture(&args);
    // 33: boot.asm's success through isa-debug-exit, so every INT 13h call
    // succeeded and the data it wrote read back the same.
    c.expect_code(BOOT_SUCCESS_STATUS, &test);
    assert_no_problems(&test, &check_written_image(&disk));

    let run = q.dma_sectors(&["-o", "jsonl"], &log);
    run.expect_clean("dma-sectors -o jsonl");
    let requests = run.jsonl();
    let cmp = compare_dma(&requests, ctrl);
    assert_no_problems(&test, &cmp.problems);
    assert_no_problems(&test, &style.check_times(&requests, "dma-sectors", q));
    if ctrl == "ahci" {
        // AHCI: one DMA command per INT 13h call, in order, after QEMU's
        // own read of LBA 0 and SeaBIOS's load of the boot sector.
        let got: Vec<(String, u64, u64)> = requests
            .iter()
            .skip(1)
            .map(|q| {
                (
                    q["op"].as_str().unwrap_or("?").to_string(),
                    q["sector"].as_u64().unwrap_or(u64::MAX),
                    q["sectors"].as_u64().unwrap_or(u64::MAX),
                )
            })
            .collect();
        let want: Vec<(String, u64, u64)> = std::iter::once(("read".to_string(), 0, 1))
            .chain(BOOT_OPS.iter().map(|o| {
                let op = if o.write { "write" } else { "read" };
                (op.to_string(), u64::from(o.lba), u64::from(o.count))
            }))
            .collect();
        assert!(
            got == want,
            "{test}: AHCI requests: {}",
            first_difference(&got, &want)
        );
    }

    let extents = q.dma_sectors(&["--extents", "-o", "jsonl"], &log);
    extents.expect_clean("dma-sectors --extents");
    assert_no_problems(&test, &compare_extents(&extents.jsonl()));

    let sources: std::collections::BTreeSet<&str> = requests
        .iter()
        .filter_map(|q| q["source"].as_str())
        .collect();
    say(format!(
        "live dma {machine} {ctrl} ({}) on QEMU {}: {} requests ({}) cover exactly the {} sectors read \
         and {} written by boot.bin; extents match; image holds the writes ({:.1} s)",
        style.name(),
        q.short(),
        cmp.requests,
        sources.into_iter().collect::<Vec<_>>().join(", "),
        cmp.sectors.0,
        cmp.sectors.1,
        start.elapsed().as_secs_f64()
    ));
}

#[test]
fn live_dma_q35_ahci_plain() {
    live_dma("q35", Style::Plain);
}

#[test]
fn live_dma_q35_ahci_timestamps() {
    live_dma("q35", Style::Timestamps);
}

#[test]
fn live_dma_pc_ide_plain() {
    live_dma("pc", Style::Plain);
}

#[test]
fn live_dma_pc_ide_timestamps() {
    live_dma("pc", Style::Timestamps);
}

// ---------------------------------------------------------------------------
// Live: capture's own guarantees

#[test]
fn live_capture_time_limit_stops_qemu() {
    for_each_qemu("capture_time_limit", capture_time_limit);
}

fn capture_time_limit(q: &Qemu) {
    let dir = WorkDir::new(&format!("capture-time-limit-{}", q.dir_name()));
    let c = q.capture([
        "-D",
        &path_arg(&dir.file("t.log")),
        "-t",
        "pci_cfg_read",
        "--debugcon",
        &path_arg(&dir.file("bios.txt")),
        "--wait",
        "debugcon:this line is never printed",
        "--time-limit",
        "2",
    ]);
    c.expect_code(124, "time limit");
    assert!(
        c.stderr.contains("time limit of 2 s reached"),
        "{}",
        c.stderr
    );
    assert!(c.elapsed.as_secs_f64() < 10.0, "took {:?}", c.elapsed);
    // SeaBIOS ran meanwhile: the log and the debug console were written.
    assert!(std::fs::metadata(dir.file("t.log")).is_ok_and(|m| m.len() > 0));
}

#[test]
fn live_capture_reports_qemu_failing_to_start() {
    for_each_qemu("capture_qemu_fails", capture_qemu_fails);
}

fn capture_qemu_fails(q: &Qemu) {
    let dir = WorkDir::new(&format!("capture-qemu-fails-{}", q.dir_name()));
    let c = q.capture([
        "-D",
        &path_arg(&dir.file("t.log")),
        "-t",
        "pci_cfg_read",
        "--wait",
        "log:x",
        "--time-limit",
        "30",
        "--",
        "-device",
        "no-such-device-qtrace",
    ]);
    c.expect_code(2, "QEMU refusing a device");
    assert!(c.stderr.contains("QEMU exited (status 1)"), "{}", c.stderr);
    assert!(c.elapsed.as_secs_f64() < 10.0, "took {:?}", c.elapsed);
}

#[test]
fn live_capture_output_to_a_closed_pipe_is_quiet() {
    for_each_qemu("capture_closed_pipe", capture_closed_pipe);
}

fn capture_closed_pipe(q: &Qemu) {
    let dir = WorkDir::new(&format!("capture-closed-pipe-{}", q.dir_name()));
    let mut child = std::process::Command::new(capture_script())
        .args(q.capture_args())
        .args(["-D", &path_arg(&dir.file("t.log")), "-t", "pci_cfg_read"])
        .args(["--query", "query-qmp-schema=-", "--time-limit", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("capture starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("capture ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("Traceback") && !stderr.contains("rror"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// --follow on the log of a running QEMU

#[test]
fn live_follow_gives_rows_while_qemu_runs_and_ends_with_it() {
    for_each_qemu("follow", live_follow);
}

/// `qtrace-filter --follow --pid` on the log a running QEMU writes (SeaBIOS
/// enumerating PCI, then 2 s more): the first row comes while QEMU still
/// runs, and the tool ends by itself once the process is gone, with one
/// row per pci_cfg_read line QEMU wrote.
fn live_follow(q: &Qemu) {
    let test = format!("follow-{}", q.dir_name());
    let dir = WorkDir::new(&test);
    let log = dir.file("trace.log");
    // target/<profile>/deps/live-HASH -> target/<profile>/qtrace-filter
    let exe = std::env::current_exe().expect("current_exe");
    let tool = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps")
        .join("qtrace-filter");
    assert!(
        tool.is_file(),
        "{} not built; run `cargo test --workspace` (or `cargo build --bins`) first",
        tool.display()
    );
    let capture_err = std::fs::File::create(dir.file("capture.err")).unwrap();
    let mut capture = std::process::Command::new(capture_script())
        .args(q.capture_args())
        .args(["-D", &path_arg(&log), "-t", "pci_cfg_read"])
        .args(["--debugcon", &path_arg(&dir.file("debugcon.txt"))])
        .args(["--wait", "debugcon:No bootable device", "--run", "2"])
        .args(["--end", "quit", "--time-limit", TIME_LIMIT])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(capture_err)
        .spawn()
        .expect("capture starts");
    let mut follow = std::process::Command::new(&tool);
    if let Some(cat) = &q.trace_events {
        follow.arg("--trace-events").arg(cat);
    }
    let mut follow = follow
        .args(["--follow", "--pid", &capture.id().to_string()])
        .args(["-o", "csv", "pci_cfg_read"])
        .arg(&log)
        .env_remove("QTRACE_TRACE_EVENTS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("qtrace-filter starts");
    let stdout = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut rows = std::io::BufRead::lines(stdout).map(|l| l.expect("utf-8 rows"));
    assert_eq!(
        rows.next().as_deref(),
        Some("event,dev,bus,slot,func,offs,val"),
        "{test}"
    );
    let first = rows.next().expect("a first row");
    let running = capture.try_wait().unwrap().is_none();
    let rest = rows.count();
    let out = follow.wait_with_output().expect("qtrace-filter ends");
    let captured = capture.wait().expect("capture ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        running,
        "{test}: the first row ({first}) came only after QEMU had ended"
    );
    assert!(first.starts_with("pci_cfg_read,"), "{test}: {first}");
    assert_eq!(captured.code(), Some(0), "{test}: capture");
    assert_eq!(out.status.code(), Some(0), "{test}: {stderr}");
    // At most the notes that the log was waited for.
    assert!(
        stderr
            .lines()
            .all(|l| l.ends_with("does not exist yet; waiting for it")
                || l.ends_with("has appeared; following it")),
        "{test}: {stderr}"
    );
    let logged = std::fs::read_to_string(&log)
        .expect("the log")
        .lines()
        .filter(|l| l.starts_with("pci_cfg_read "))
        .count();
    assert!(logged > 100, "{test}: {logged} pci_cfg_read lines");
    assert_eq!(1 + rest, logged, "{test}: rows against lines logged");
    say(format!(
        "live follow on QEMU {}: the first of {logged} rows came while QEMU ran; \
         qtrace-filter ended with it",
        q.short()
    ));
}
