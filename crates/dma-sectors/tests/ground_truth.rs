//! dma-sectors on the real QEMU 7.2, 5.2 and 11.1 traces of tests/data, checked
//! against ground truth gathered outside the trace: the O_DIRECT operations
//! the guest issued (`dma-ops.tsv`), which image backs which guest disk
//! (`disks.tsv`), QEMU's drive order (`query-block.json`), the guest's view
//! of each disk (`guest-disks.txt`: size, controller by sysfs path), and the
//! QEMU 5.2 capture's `sector-read.txt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

/// Runs the tool (hermetic: built-in catalog only) and returns stdout and
/// stderr; the run must succeed.
fn run(args: &[&str], trace: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dma-sectors"))
        .env_remove("QTRACE_TRACE_EVENTS")
        .arg("--no-installed-catalog")
        .args(args)
        .arg(data(trace))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{trace} {args:?}: {stderr}");
    (stdout, stderr)
}

fn jsonl(args: &[&str], trace: &str) -> Vec<Value> {
    let (out, err) = run(&[&["-o", "jsonl"], args].concat(), trace);
    assert!(err.is_empty(), "{trace}: unexpected anomalies:\n{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} in {v}"))
        .to_string()
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

fn tsv_rows(rel: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(data(rel))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

/// One request the guest issued, expanded from `dma-ops.tsv`.
#[derive(Debug)]
struct Expected {
    op_idx: String,
    guest: String,
    write: bool,
    sector: u64,
    sectors: u64,
    bytes: u64,
    t_begin: f64,
    t_end: f64,
}

fn expected_requests(scenario: &str) -> Vec<Expected> {
    let rows = tsv_rows(&format!("{scenario}/dma-ops.tsv"));
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (idx, disk, dir, sector, count, bs, requests, tb, te, rc) = (
        col("idx"),
        col("disk"),
        col("dir"),
        col("sector"),
        col("count"),
        col("bs"),
        col("requests"),
        col("t_begin"),
        col("t_end"),
        col("rc"),
    );
    let mut out = Vec::new();
    for r in &rows[1..] {
        assert_eq!(r[rc], "0", "op {} failed in the guest", r[idx]);
        let bs: u64 = r[bs].parse().unwrap();
        let n: u64 = r[requests].parse().unwrap();
        let first: u64 = r[sector].parse().unwrap();
        assert_eq!(n * bs, r[count].parse::<u64>().unwrap() * 512);
        for k in 0..n {
            out.push(Expected {
                op_idx: r[idx].clone(),
                guest: r[disk].clone(),
                write: r[dir] == "W",
                sector: first + k * bs / 512,
                sectors: bs / 512,
                bytes: bs,
                t_begin: r[tb].parse().unwrap(),
                t_end: r[te].parse().unwrap(),
            });
        }
    }
    out
}

/// Guest disk name -> (our default label, controller kind, size in sectors),
/// from disks.tsv (guest name -> image), query-block.json (drive order ->
/// image; disk0, disk1, ... follow it) and guest-disks.txt (sysfs path).
fn guest_disks(scenario: &str) -> BTreeMap<String, (String, &'static str, u64)> {
    let images: BTreeMap<String, String> = tsv_rows(&format!("{scenario}/disks.tsv"))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let qb: Value = serde_json::from_str(
        &std::fs::read_to_string(data(&format!("{scenario}/query-block.json"))).unwrap(),
    )
    .unwrap();
    let drives: Vec<String> = qb
        .as_array()
        .unwrap()
        .iter()
        .map(|d| s(&d["inserted"], "file"))
        .collect();
    let mut out = BTreeMap::new();
    let text = std::fs::read_to_string(data(&format!("{scenario}/guest-disks.txt"))).unwrap();
    for l in text.lines().filter(|l| l.starts_with("DISK ")) {
        let name = l.split_whitespace().nth(1).unwrap().to_string();
        let field = |k: &str| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap()
                .to_string()
        };
        let sectors: u64 = field("sectors=").parse().unwrap();
        assert_eq!(field("ssz="), "512");
        let sysfs = field("sysfs=");
        // The controller, by the guest's sysfs path: PIIX3 IDE is 00:01.1
        // on pc, ICH9 AHCI is 00:1f.2 on q35 (both via libata), the rest by
        // driver directory; scsi is the LSI HBA (no ata in the path).
        let kind = if sysfs.contains("/virtio") {
            "virtio"
        } else if sysfs.contains("/nvme/") {
            "nvme"
        } else if sysfs.contains("0000:00:1f.2/ata") {
            "ahci"
        } else if sysfs.contains("0000:00:01.1/ata") {
            "ide"
        } else if sysfs.contains("/host0/target") {
            "scsi"
        } else {
            panic!("unknown controller for {sysfs}")
        };
        let image = &images[&name];
        let i = drives
            .iter()
            .position(|f| f.ends_with(&format!("/{image}")))
            .unwrap();
        out.insert(name, (format!("disk{i}"), kind, sectors));
    }
    out
}

/// Seconds since the Unix epoch of a trace time as printed: `SEC.USEC`
/// (QEMU up to 10.0) or ISO-8601 UTC `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (10.1+),
/// converted here with the civil-calendar day count, not with qtrace's code.
fn epoch_seconds(time: &str) -> f64 {
    let Some((date, clock)) = time.split_once('T') else {
        return time.parse().unwrap_or_else(|_| panic!("time {time:?}"));
    };
    let num = |t: &str| t.parse::<i64>().unwrap_or_else(|_| panic!("time {time:?}"));
    let ymd: Vec<i64> = date.split('-').map(num).collect();
    let (y, m, d) = (ymd[0], ymd[1], ymd[2]);
    // Days from 1970-01-01 to y-m-d (proleptic Gregorian), March-based year.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let clock = clock
        .strip_suffix('Z')
        .unwrap_or_else(|| panic!("time {time:?}"));
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let hms: Vec<i64> = hms.split(':').map(num).collect();
    let whole = days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    whole as f64 + format!("0.{frac}").parse::<f64>().unwrap()
}

fn source_kind(source: &str) -> &'static str {
    match source {
        "ide_dma_cb" | "ide_sector_read" | "ide_sector_write" => "ide",
        "process_ncq_command" => "ahci",
        "virtio_blk_handle_read" | "virtio_blk_handle_write" => "virtio",
        "pci_nvme_read" | "pci_nvme_write" => "nvme",
        "scsi_disk_dma_command_READ" | "scsi_disk_dma_command_WRITE" => "scsi",
        other => panic!("a guest op was reported from {other}, not from its controller's event"),
    }
}

/// Every listed operation appears, in order, on the disk QEMU's drive order
/// says, with the right direction, start sectors and lengths, from the
/// controller the guest used, inside the op's time window when the trace has
/// timestamps; every request stays inside its disk.
fn check_scenario(scenario: &str, trace: &str, timed: bool) {
    let trace = format!("{scenario}/{trace}");
    let reqs = jsonl(&[], &trace);
    let disks = guest_disks(scenario);
    let expected = expected_requests(scenario);
    let mut pos = 0;
    for e in &expected {
        let (label, kind, _) = &disks[&e.guest];
        let op = if e.write { "write" } else { "read" };
        let in_window = |r: &Value| {
            if !timed {
                return r["time"].is_null() && r["tid"].is_null();
            }
            let t = epoch_seconds(&s(r, "time"));
            t >= e.t_begin && t <= e.t_end
        };
        let found = reqs[pos..].iter().position(|r| {
            s(r, "disk") == *label
                && s(r, "op") == op
                && u(r, "sector") == e.sector
                && u(r, "sectors") == e.sectors
                && u(r, "bytes") == e.bytes
                && u(r, "offset") == e.sector * 512
                && in_window(r)
        });
        let Some(j) = found else {
            panic!(
                "{trace}: op {} ({} {op} {} + {}, within [{}, {}]) is missing after request {pos}",
                e.op_idx, e.guest, e.sector, e.sectors, e.t_begin, e.t_end
            );
        };
        let r = &reqs[pos + j];
        assert_eq!(
            s(r, "origin"),
            "guest",
            "{trace}: a guest op marked QEMU's: {r}"
        );
        assert_eq!(s(r, "controller"), *kind, "{trace}: {r}");
        assert_eq!(source_kind(&s(r, "source")), *kind, "{trace}: {r}");
        pos += j + 1;
    }
    // One consistent disk per guest disk: every request on a guest disk's
    // label has that disk's controller (QEMU's own start-up read comes
    // before the controller is known) and stays inside the disk.
    let by_label: BTreeMap<&str, (&str, u64)> = disks
        .values()
        .map(|(l, k, n)| (l.as_str(), (*k, *n)))
        .collect();
    for r in &reqs {
        let label = s(r, "disk");
        let (kind, size) = by_label
            .get(label.as_str())
            .unwrap_or_else(|| panic!("{trace}: request on an unknown disk: {r}"));
        let source = s(r, "source");
        match r["controller"].as_str() {
            Some(c) if c == *kind => {}
            // Before the disk's first NCQ command, AHCI's commands go
            // through the IDE core and look like IDE (SeaBIOS's boot read).
            Some("ide") if *kind == "ahci" && source == "ide_dma_cb" => {}
            None => assert!(source.starts_with("blk_co_"), "{trace}: {r}"),
            Some(_) => panic!("{trace}: wrong controller: {r}"),
        }
        assert!(u(r, "sector") + u(r, "sectors") <= *size, "{trace}: {r}");
    }
    // The summary agrees: one disk per guest disk, with its controller, and
    // completions paired where the controller's completion is traced.
    let summary = jsonl(&["--summary"], &trace);
    assert_eq!(summary.len(), disks.len(), "{trace}");
    for (label, (kind, _)) in &by_label {
        let d = summary
            .iter()
            .find(|d| s(d, "disk") == *label)
            .unwrap_or_else(|| panic!("{trace}: no summary for {label}"));
        assert_eq!(s(d, "controller"), *kind);
        let on = |origin: &str| {
            reqs.iter()
                .filter(|r| s(r, "disk") == *label && s(r, "origin") == origin)
                .count() as u64
        };
        let n = on("guest");
        assert_eq!(u(d, "requests"), n);
        assert_eq!(u(d, "reads") + u(d, "writes"), n);
        // QEMU's own requests are counted apart.
        assert_eq!(u(d, "qemu_requests"), on("qemu"), "{trace}: {d}");
        if timed && *kind != "scsi" {
            assert!(u(d, "latency_count") > 0, "{trace}: {d}");
            assert!(d["latency_min"].as_f64().unwrap() <= d["latency_max"].as_f64().unwrap());
        } else {
            assert_eq!(u(d, "latency_count"), 0, "{trace}: {d}");
            assert!(d["latency_avg"].is_null());
        }
    }
}

#[test]
fn ide_bmdma() {
    check_scenario("C-dma-pc-ide-ts", "trace.log", true);
}

#[test]
fn virtio_blk_and_lsi_scsi() {
    check_scenario("C-dma-pc-virtio-scsi-ts", "trace.log", true);
}

#[test]
fn ahci_ncq_and_nvme() {
    // NCQ writes are traced as execute_ncq_command_read in QEMU 7.2: the
    // direction must come from process_ncq_command's opcode.
    check_scenario("C-dma-q35-ahci-nvme-plain", "trace.log", false);
}

#[test]
fn qemu111_ide_and_nvme_with_iso_times() {
    // QEMU 11.1: ISO-8601 times without a thread id, ide_bus_exec_cmd.
    check_scenario("Q11-C-dma-pc-ide-nvme-ts", "trace.log", true);
}

#[test]
fn epoch_seconds_of_both_time_forms() {
    assert_eq!(epoch_seconds("1796315819.359301"), 1_796_315_819.359301);
    // date -u -d @1796315819 prints Thu Dec  3 16:36:59 UTC 2026
    assert_eq!(epoch_seconds("2026-12-03T16:36:59Z"), 1_796_315_819.0);
    assert_eq!(epoch_seconds("1970-01-01T00:00:00.5Z"), 0.5);
    assert_eq!(epoch_seconds("2000-03-01T00:00:00Z"), 951_868_800.0);
}

#[test]
fn long_mixed_trace() {
    check_scenario("D-mixed-q35-ts", "trace.log.zst", true);
}

#[test]
fn qemu52_seabios_reads_sector_0_once() {
    // sector-read.txt: SeaBIOS reads LBA 0 (512 bytes) once from the vCPU
    // thread; QEMU reads it once from the main thread at start-up to guess
    // the geometry; no other sector is read.
    let truth = std::fs::read_to_string(data("V-qemu52/dma-q35/sector-read.txt")).unwrap();
    assert!(truth.contains("LBA 0, byte offset 0, 512 bytes") && truth.contains("No other sector"));
    let reqs = jsonl(&[], "V-qemu52/dma-q35/trace.log");
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    for r in &reqs {
        assert_eq!(
            (s(r, "disk").as_str(), s(r, "op").as_str()),
            ("disk0", "read")
        );
        assert_eq!(
            (
                u(r, "sector"),
                u(r, "sectors"),
                u(r, "offset"),
                u(r, "bytes")
            ),
            (0, 1, 0, 512)
        );
    }
    // The geometry probe first, then SeaBIOS's DMA read from another thread;
    // only the first is QEMU's own.
    assert_eq!(s(&reqs[0], "source"), "blk_co_preadv");
    assert_eq!(s(&reqs[1], "source"), "ide_dma_cb");
    assert_eq!(
        (
            s(&reqs[0], "origin").as_str(),
            s(&reqs[1], "origin").as_str()
        ),
        ("qemu", "guest")
    );
    assert_ne!(u(&reqs[0], "tid"), u(&reqs[1], "tid"));
    // The disk is on the q35 AHCI controller, but SeaBIOS's non-NCQ command
    // goes through the IDE core and nothing in this capture says AHCI.
    assert_eq!(s(&reqs[1], "controller"), "ide");
}

/// Merged intervals of the requests of one disk and direction.
fn union(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[test]
fn extents_cover_exactly_the_union_of_the_requests() {
    for trace in [
        "C-dma-pc-ide-ts/trace.log",
        "C-dma-pc-virtio-scsi-ts/trace.log",
        "C-dma-q35-ahci-nvme-plain/trace.log",
        "D-mixed-q35-ts/trace.log.zst",
        "V-qemu52/dma-q35/trace.log",
    ] {
        let reqs = jsonl(&[], trace);
        let mut want: BTreeMap<(String, String, String), Vec<(u64, u64)>> = BTreeMap::new();
        for r in &reqs {
            let a = u(r, "sector");
            want.entry((s(r, "disk"), s(r, "op"), s(r, "origin")))
                .or_default()
                .push((a, a + u(r, "sectors")));
        }
        let mut got: BTreeMap<(String, String, String), Vec<(u64, u64)>> = BTreeMap::new();
        let mut touches: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for e in jsonl(&["--extents"], trace) {
            let a = u(&e, "sector");
            let key = (s(&e, "disk"), s(&e, "op"), s(&e, "origin"));
            got.entry(key.clone())
                .or_default()
                .push((a, a + u(&e, "sectors")));
            *touches.entry(key).or_default() += u(&e, "requests");
            assert!(u(&e, "depth") >= 1 && u(&e, "depth") <= u(&e, "requests"));
            assert_eq!(u(&e, "bytes"), u(&e, "sectors") * 512);
        }
        assert_eq!(got.len(), want.len(), "{trace}");
        for (key, reqs) in want {
            let n = reqs.len() as u64;
            let merged = union(reqs);
            let mut ext = got[&key].clone();
            ext.sort_unstable();
            assert_eq!(ext, merged, "{trace} {key:?}");
            assert_eq!(touches[&key], n, "{trace} {key:?}");
        }
    }
}

/// See: issue 22. QEMU reads sector 0 of each IDE, virtio-blk and SCSI disk
/// itself when it sets the device up (the geometry guess), on its main
/// thread, before the guest runs; NVMe disks are not read. Those requests,
/// and only those, are marked `qemu`; no operation of dma-ops.tsv is.
#[test]
fn r22_qemus_start_up_reads_are_marked_and_no_guest_op_is() {
    for (scenario, file) in [
        ("C-dma-pc-ide-ts", "trace.log"),
        ("Q11-C-dma-pc-ide-nvme-ts", "trace.log"),
        ("C-dma-pc-virtio-scsi-ts", "trace.log"),
        ("D-mixed-q35-ts", "trace.log.zst"),
    ] {
        let trace = format!("{scenario}/{file}");
        let reqs = jsonl(&[], &trace);
        let disks = guest_disks(scenario);
        // One start-up read per disk of a kind QEMU guesses the geometry of.
        let mut probed: Vec<&str> = disks
            .values()
            .filter(|(_, kind, _)| *kind != "nvme")
            .map(|(label, _, _)| label.as_str())
            .collect();
        probed.sort_unstable();
        let qemu: Vec<&Value> = reqs.iter().filter(|r| s(r, "origin") == "qemu").collect();
        let mut labels: Vec<String> = qemu.iter().map(|r| s(r, "disk")).collect();
        labels.sort_unstable();
        assert_eq!(labels, probed, "{trace}");
        let first_op = expected_requests(scenario)
            .iter()
            .map(|e| e.t_begin)
            .fold(f64::INFINITY, f64::min);
        // The main thread: the one that attached the drives (first line).
        let text = std::fs::read_to_string(data(&trace)).ok();
        let main_tid = text
            .as_deref()
            .and_then(|t| t.lines().next())
            .and_then(|l| l.split_once('@'))
            .and_then(|(tid, _)| tid.parse::<u64>().ok());
        for r in &qemu {
            assert_eq!(
                (
                    s(r, "op").as_str(),
                    u(r, "sector"),
                    u(r, "sectors"),
                    u(r, "bytes")
                ),
                ("read", 0, 1, 512),
                "{trace}: {r}"
            );
            assert_eq!(s(r, "source"), "blk_co_preadv", "{trace}: {r}");
            assert!(epoch_seconds(&s(r, "time")) < first_op, "{trace}: {r}");
            if let Some(tid) = main_tid {
                assert_eq!(u(r, "tid"), tid, "{trace}: {r}");
            }
        }
        // Everything else is the guest's: SeaBIOS and Linux, from their
        // controllers' events.
        assert!(reqs.iter().filter(|r| s(r, "origin") == "guest").count() > 30);
        assert!(
            reqs.iter()
                .all(|r| ["guest", "qemu"].contains(&s(r, "origin").as_str()))
        );
    }
}

#[test]
fn labels_rename_disks_by_pointer_and_by_name() {
    let trace = "C-dma-q35-ahci-nvme-plain/trace.log";
    let summary = jsonl(&["--summary"], trace);
    let nvme_ptr = s(&summary[1], "ptr");
    let reqs = jsonl(
        &[
            "--label",
            &format!("{nvme_ptr}=nvme0n1"),
            "--label",
            "disk0=sda",
        ],
        trace,
    );
    for r in &reqs {
        let want = match r["controller"].as_str().unwrap_or("") {
            "nvme" => "nvme0n1",
            _ => "sda",
        };
        assert_eq!(s(r, "disk"), want, "{r}");
    }
}
