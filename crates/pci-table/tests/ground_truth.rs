//! pci-table on the real QEMU traces of tests/data, checked against what
//! was recorded independently of the trace: the guest's own sysfs view
//! (`pci-devices-*.tsv`, `pci-config64-*.txt`), QEMU's view (`query-pci.json`,
//! with BAR sizes), and Debian's real `lspci` reading our dumps.
//!
//! Set QTRACE_REQUIRE_TOOLS=1 to make a missing `lspci` or `zstd` a failure
//! instead of a skip.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

/// A real trace with ground truth: its folder under tests/data (`.0`), its
/// trace file (`.1`), and the arguments pci-table always gets for it (`.2`).
type Scenario = (&'static str, &'static str, &'static [&'static str]);

/// Without the installed catalog (Debian's 7.2 one here): pci-table decodes
/// its own events with its built-in specs, as it must on any machine.
const BUILT_IN_ONLY: &[&str] = &["--no-installed-catalog"];

/// The traces with the guest's sysfs ground truth: QEMU 7.2's, and QEMU
/// 11.1's (which the installed 7.2 catalog does not describe).
const SCENARIOS: &[Scenario] = &[
    ("A-pci-pc-plain", "trace.log", &[]),
    ("A-pci-q35-ts", "trace.log", &[]),
    ("D-mixed-q35-ts", "trace.log.zst", &[]),
    ("Q11-A-pci-pc-ts", "trace.log.zst", BUILT_IN_ONLY),
];

/// SeaBIOS alone (QEMU 7.2) with `pvpanic-pci`, whose 2-byte memory BAR
/// reads back `0xfffffffe` when sized: ground truth is `query-pci.json`.
const PVPANIC: &[Scenario] = &[
    ("L-pci-pvpanic-pc", "trace.log", BUILT_IN_ONLY),
    ("L-pci-pvpanic-q35", "trace.log", BUILT_IN_ONLY),
];

fn trace(s: &Scenario) -> String {
    data(&format!("{}/{}", s.0, s.1))
        .to_str()
        .unwrap()
        .to_string()
}

/// `args`, the scenario's own arguments and its trace: a command line.
fn on(s: &Scenario, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    v.extend(s.2.iter().map(|a| a.to_string()));
    v.push(trace(s));
    v
}

/// Runs pci-table; returns (exit code, stdout, stderr).
fn tool<S: AsRef<OsStr>>(args: &[S]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pci-table"))
        .args(args)
        .env_remove("QTRACE_TRACE_EVENTS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tool_ok<S: AsRef<OsStr>>(args: &[S]) -> String {
    let (code, out, err) = tool(args);
    let shown: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    assert_eq!(code, 0, "{shown:?}: {err}");
    out
}

/// Whether an external tool is there; without it the test is skipped, unless
/// QTRACE_REQUIRE_TOOLS=1 asks for a failure.
fn have(tool: &str, test: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        if std::env::var("QTRACE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{test}: `{tool}` is required (QTRACE_REQUIRE_TOOLS=1) but not installed");
        }
        eprintln!("SKIPPED {test}: `{tool}` is not installed (apt-get install pciutils zstd)");
    }
    ok
}

/// The trace's text (zstd files through the zstd CLI).
fn trace_text(s: &Scenario) -> String {
    let path = trace(s);
    if path.ends_with(".zst") {
        let out = Command::new("zstd").arg("-dc").arg(&path).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        let mut s = String::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }
}

/// Rows of a ground-truth TSV (after its `#` comments), as column -> value.
fn tsv(rel: &str) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(data(rel)).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t'))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// `0000:00:1f.2` -> `00:1f.2`.
fn short_bdf(s: &str) -> String {
    s.strip_prefix("0000:").unwrap_or(s).to_string()
}

/// Our records by bdf.
fn records<S: AsRef<OsStr>>(args: &[S]) -> BTreeMap<String, Value> {
    let mut a: Vec<&OsStr> = vec!["-o".as_ref(), "jsonl".as_ref()];
    a.extend(args.iter().map(AsRef::as_ref));
    tool_ok(&a)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["bdf"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Every device of a query-pci answer, bridges' buses included.
fn qemu_devices(rel: &str) -> Vec<Value> {
    fn walk(devs: &[Value], out: &mut Vec<Value>) {
        for d in devs {
            out.push(d.clone());
            if let Some(sub) = d["pci_bridge"]["devices"].as_array() {
                walk(sub, out);
            }
        }
    }
    let q: Value = serde_json::from_str(&std::fs::read_to_string(data(rel)).unwrap()).unwrap();
    let mut out = Vec::new();
    for bus in q.as_array().unwrap() {
        walk(bus["devices"].as_array().unwrap(), &mut out);
    }
    out
}

/// BAR index -> size, from a query-pci device.
fn qemu_sizes(d: &Value) -> BTreeMap<u64, u64> {
    d["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["bar"].as_u64().unwrap(), r["size"].as_u64().unwrap()))
        .collect()
}

/// BAR index -> size, for the BARs the guest sized, from one of our records.
fn our_sizes(r: &Value) -> BTreeMap<u64, u64> {
    r["bars"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !b["size"].is_null())
        .map(|b| (b["index"].as_u64().unwrap(), b["size"].as_u64().unwrap()))
        .collect()
}

/// BAR index -> (kind, size) from a query-pci device, in our kind names
/// (`io`, `mem32`, `mem64`, `-pref` when prefetchable, `rom` for index 6).
fn qemu_kinds(d: &Value) -> BTreeMap<u64, (String, Option<u64>)> {
    d["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let bar = r["bar"].as_u64().unwrap();
            let kind = match (bar, r["type"].as_str().unwrap()) {
                (6, _) => "rom".to_string(),
                (_, "io") => "io".to_string(),
                (_, "memory") => format!(
                    "mem{}{}",
                    if r["mem_type_64"] == true { 64 } else { 32 },
                    if r["prefetch"] == true { "-pref" } else { "" }
                ),
                (_, t) => panic!("query-pci region type {t}"),
            };
            (bar, (kind, r["size"].as_u64()))
        })
        .collect()
}

/// BAR index -> (kind, size) from one of our records.
fn our_kinds(r: &Value) -> BTreeMap<u64, (String, Option<u64>)> {
    r["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["index"].as_u64().unwrap(),
                (b["kind"].as_str().unwrap().to_string(), b["size"].as_u64()),
            )
        })
        .collect()
}

/// `bb:dd.f` of a query-pci device.
fn qemu_bdf(d: &Value) -> String {
    format!(
        "{:02x}:{:02x}.{:x}",
        d["bus"].as_u64().unwrap(),
        d["slot"].as_u64().unwrap(),
        d["function"].as_u64().unwrap()
    )
}

/// The `-v` block of each function, by bdf.
fn verbose_blocks(s: &Scenario) -> BTreeMap<String, String> {
    tool_ok(&on(s, &["-v"]))
        .split("\n\n")
        .filter(|b| !b.is_empty())
        .map(|b| (b[..7].to_string(), b.to_string()))
        .collect()
}

#[test]
fn every_function_matches_the_guests_sysfs() {
    for s in SCENARIOS {
        let recs = records(&on(s, &[]));
        let verbose = verbose_blocks(s);
        for snap in ["early", "late"] {
            let rows = tsv(&format!("{}/pci-devices-{snap}.tsv", s.0));
            assert_eq!(
                recs.len(),
                rows.len(),
                "{} {snap}: number of functions",
                s.0
            );
            for row in &rows {
                let bdf = short_bdf(&row["bdf"]);
                let r = recs
                    .get(&bdf)
                    .unwrap_or_else(|| panic!("{} {snap}: {bdf} missing", s.0));
                let ctx = format!("{} {snap} {bdf}", s.0);
                for (ours, theirs) in [
                    ("vendor_id", "vendor"),
                    ("device_id", "device"),
                    ("class", "class"),
                    ("revision", "revision"),
                    ("header_type", "header_type"),
                    ("irq_pin", "int_pin"),
                ] {
                    assert_eq!(r[ours].as_u64(), Some(hex(&row[theirs])), "{ctx}: {ours}");
                }
                let sub = (hex(&row["subsystem_vendor"]), hex(&row["subsystem_device"]));
                match (
                    r["subsystem_vendor_id"].as_u64(),
                    r["subsystem_id"].as_u64(),
                ) {
                    (Some(v), Some(d)) => assert_eq!((v, d), sub, "{ctx}: subsystem"),
                    // A PCI bridge without a subsystem capability: Linux shows
                    // 0000:0000, we show none (and say so in -v).
                    (None, None) => {
                        assert_eq!(r["header_type"], 1, "{ctx}: subsystem not found");
                        assert_eq!(sub, (0, 0), "{ctx}: subsystem");
                        let v = &verbose[&bdf];
                        assert!(!v.contains("Subsystem"), "{ctx}: {v}");
                        assert!(!v.contains("list not followed"), "{ctx}: {v}");
                    }
                    other => panic!("{ctx}: half a subsystem: {other:?}"),
                }
                if row["bus_numbers"] != "-" {
                    let want: Vec<u64> = row["bus_numbers"].split('/').map(hex).collect();
                    let v = &verbose[&bdf];
                    let line = format!(
                        "Bus: primary={:02x}, secondary={:02x}, subordinate={:02x}",
                        want[0], want[1], want[2]
                    );
                    assert!(v.contains(&line), "{ctx}: {line} in {v}");
                }
            }
        }
    }
}

#[test]
fn final_bar_addresses_are_the_late_sysfs_ones() {
    for s in SCENARIOS {
        let recs = records(&on(s, &[]));
        let rows = tsv(&format!("{}/pci-devices-late.tsv", s.0));
        let mut checked = 0;
        for row in &rows {
            let bdf = short_bdf(&row["bdf"]);
            let r = &recs[&bdf];
            let raw = |i: u64| hex(&row[&format!("bar{i}")]);
            let mut seen = BTreeSet::new();
            for b in r["bars"].as_array().unwrap() {
                let i = b["index"].as_u64().unwrap();
                if i == 6 {
                    continue;
                }
                seen.insert(i);
                let kind = b["kind"].as_str().unwrap();
                let want = match kind {
                    "io" => raw(i) & !3,
                    k if k.starts_with("mem64") => {
                        seen.insert(i + 1);
                        raw(i + 1) << 32 | (raw(i) & !0xf)
                    }
                    _ => raw(i) & !0xf,
                };
                assert_eq!(b["address"].as_u64(), Some(want), "{} {bdf} BAR{i}", s.0);
                checked += 1;
            }
            // BARs we do not list hold nothing in sysfs either.
            let n = if r["header_type"] == 1 { 2 } else { 6 };
            for i in (0..n).filter(|i| !seen.contains(i)) {
                assert_eq!(raw(i), 0, "{} {bdf} BAR{i} is missing", s.0);
            }
        }
        assert!(checked >= 15, "{}: only {checked} BARs", s.0);
    }
}

#[test]
fn bar_sizes_from_the_guests_sizing_are_qemus() {
    for s in SCENARIOS {
        let recs = records(&on(s, &[]));
        let qemu = qemu_devices(&format!("{}/query-pci.json", s.0));
        let verbose = verbose_blocks(s);
        assert_eq!(qemu.len(), recs.len(), "{}", s.0);
        let mut sized = 0;
        for d in &qemu {
            let bdf = format!(
                "{:02x}:{:02x}.{:x}",
                d["bus"].as_u64().unwrap(),
                d["slot"].as_u64().unwrap(),
                d["function"].as_u64().unwrap()
            );
            let r = &recs[&bdf];
            assert_eq!(r["vendor_id"], d["id"]["vendor"], "{} {bdf}", s.0);
            assert_eq!(r["device_id"], d["id"]["device"], "{} {bdf}", s.0);
            assert_eq!(
                r["class"].as_u64().map(|c| c >> 8),
                d["class_info"]["class"].as_u64(),
                "{} {bdf}",
                s.0
            );
            // Every region QEMU has was sized by the guest to the same size,
            // and the guest found no region QEMU does not have.
            assert_eq!(our_sizes(r), qemu_sizes(d), "{} {bdf}", s.0);
            sized += qemu_sizes(d).len();
            if let Some(b) = d["pci_bridge"]["bus"].as_object() {
                let v = &verbose[&bdf];
                let line = format!(
                    "secondary={:02x}, subordinate={:02x}",
                    b["secondary"].as_u64().unwrap(),
                    b["subordinate"].as_u64().unwrap()
                );
                assert!(v.contains(&line), "{} {bdf}: {line} in {v}", s.0);
            }
        }
        assert!(sized >= 15, "{}: only {sized} sized regions", s.0);
    }
}

#[test]
fn bar_types_and_sizes_are_qemus() {
    for s in SCENARIOS.iter().chain(PVPANIC) {
        let recs = records(&on(s, &[]));
        let qemu = qemu_devices(&format!("{}/query-pci.json", s.0));
        assert_eq!(qemu.len(), recs.len(), "{}", s.0);
        let mut regions = 0;
        for d in &qemu {
            let bdf = qemu_bdf(d);
            // Every region QEMU has, with its I/O or memory type, 64-bit and
            // prefetchable bits and size; and no region QEMU does not have.
            assert_eq!(our_kinds(&recs[&bdf]), qemu_kinds(d), "{} {bdf}", s.0);
            regions += qemu_kinds(d).len();
        }
        assert!(regions >= 6, "{}: only {regions} regions", s.0);
    }
}

/// Linux's resource flags (include/linux/ioport.h values, as sysfs prints them).
const IORESOURCE_IO: u64 = 0x100;
const IORESOURCE_MEM: u64 = 0x200;
const IORESOURCE_PREFETCH: u64 = 0x2000;
const IORESOURCE_SIZEALIGN: u64 = 0x4_0000;
const IORESOURCE_MEM_64: u64 = 0x10_0000;

#[test]
fn bar_types_and_sizes_are_linuxs_resources() {
    let s = SCENARIOS.iter().find(|s| s.0.starts_with("Q11-A")).unwrap();
    let recs = records(&on(s, &[]));
    for snap in ["early", "late"] {
        let rows = tsv_rows(&format!("{}/pci-resources-{snap}.tsv", s.0));
        let mut checked = 0;
        for (bdf, index, start, end, flags) in rows {
            // BARs and ROMs Linux sized itself (not the legacy IDE ports,
            // the shadowed VGA ROM or bridge windows).
            if index > 6 || flags & IORESOURCE_SIZEALIGN == 0 {
                continue;
            }
            let kind = if index == 6 {
                "rom".to_string()
            } else if flags & IORESOURCE_IO != 0 {
                "io".to_string()
            } else {
                assert_ne!(flags & IORESOURCE_MEM, 0, "{bdf} {index}");
                format!(
                    "mem{}{}",
                    if flags & IORESOURCE_MEM_64 != 0 {
                        64
                    } else {
                        32
                    },
                    if flags & IORESOURCE_PREFETCH != 0 {
                        "-pref"
                    } else {
                        ""
                    }
                )
            };
            let ours = our_kinds(&recs[&bdf]);
            assert_eq!(
                ours.get(&index),
                Some(&(kind, Some(end - start + 1))),
                "{snap} {bdf} {index}"
            );
            checked += 1;
        }
        assert!(checked >= 15, "{snap}: only {checked}");
    }
}

/// The rows of a `pci-resources-*.tsv`: (bdf, index, start, end, flags).
fn tsv_rows(rel: &str) -> Vec<(String, u64, u64, u64, u64)> {
    std::fs::read_to_string(data(rel))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let t: Vec<&str> = l.split('\t').collect();
            (
                short_bdf(t[0]),
                t[1].parse().unwrap(),
                hex(t[2]),
                hex(t[3]),
                hex(t[4]),
            )
        })
        .collect()
}

#[test]
fn pvpanic_captures_hold_the_tiny_bar_case() {
    for s in PVPANIC {
        // The case itself is in the trace: value 0 read, all-ones written,
        // 0xfffffffe read back (bits 1-3 writable: the BAR is 2 bytes).
        let text = trace_text(s);
        let pv: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("pvpanic-pci ") && l.contains(" @0x10 "))
            .map(|l| &l[l.find("pci_cfg_").unwrap()..])
            .collect();
        let bdf = pv[0].split(' ').nth(2).unwrap().to_string();
        let want = [
            format!("pci_cfg_read pvpanic-pci {bdf} @0x10 -> 0x0"),
            format!("pci_cfg_write pvpanic-pci {bdf} @0x10 <- 0xffffffff"),
            format!("pci_cfg_read pvpanic-pci {bdf} @0x10 -> 0xfffffffe"),
        ];
        assert_eq!(pv[..3], want, "{}", s.0);
        let qemu = qemu_devices(&format!("{}/query-pci.json", s.0));
        let d = qemu.iter().find(|d| qemu_bdf(d) == bdf).unwrap();
        assert_eq!(
            qemu_kinds(d),
            BTreeMap::from([(0, ("mem32".to_string(), Some(2)))]),
            "{}",
            s.0
        );
        let v = &verbose_blocks(s)[&bdf];
        assert!(
            v.contains("Region 0: Memory at febf")
                && v.contains("(32-bit, non-prefetchable) [size=2]\n"),
            "{}: {v}",
            s.0
        );
    }
}

/// bdf -> BAR index -> kind, from `lspci -vv`'s `Region` lines (memory
/// kinds in our names; `io`).
fn lspci_regions(text: &str) -> BTreeMap<String, BTreeMap<u64, String>> {
    let mut out: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
    let mut cur = String::new();
    for l in text.lines() {
        if !l.starts_with(char::is_whitespace) && l.len() > 7 {
            cur = l[..7].to_string();
            out.entry(cur.clone()).or_default();
        } else if let Some(rest) = l.trim_start().strip_prefix("Region ") {
            let (index, what) = rest.split_once(": ").unwrap();
            let kind = if what.starts_with("I/O ports") {
                "io".to_string()
            } else {
                let bits = ["64-bit", "32-bit", "low-1M"]
                    .iter()
                    .find(|b| what.contains(&format!("({b},")))
                    .map_or("?", |b| match *b {
                        "64-bit" => "64",
                        "32-bit" => "32",
                        _ => "1m",
                    });
                let pref = if what.contains(", prefetchable)") {
                    "-pref"
                } else if what.contains(", non-prefetchable)") {
                    ""
                } else {
                    "?"
                };
                format!("mem{bits}{pref}")
            };
            out.get_mut(&cur)
                .unwrap()
                .insert(index.parse().unwrap(), kind);
        }
    }
    out
}

#[test]
fn real_lspci_decodes_our_dumps_bar_types_as_qemu_has_them() {
    if !have(
        "lspci",
        "real_lspci_decodes_our_dumps_bar_types_as_qemu_has_them",
    ) {
        return;
    }
    for s in SCENARIOS.iter().chain(PVPANIC) {
        let dump = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(dump.path(), tool_ok(&on(s, &["-xxx"]))).unwrap();
        let theirs = lspci_regions(&lspci(dump.path(), &["-vv"]));
        let qemu = qemu_devices(&format!("{}/query-pci.json", s.0));
        assert_eq!(theirs.len(), qemu.len(), "{}", s.0);
        for d in &qemu {
            let bdf = qemu_bdf(d);
            let want: BTreeMap<u64, String> = qemu_kinds(d)
                .into_iter()
                .filter(|(i, _)| *i != 6)
                .map(|(i, (k, _))| (i, k))
                .collect();
            assert_eq!(theirs[&bdf], want, "{} {bdf}", s.0);
        }
    }
}

/// (first line, last line) of each complete sweep of 64-byte dword reads over
/// every function (the guest reading /sys/.../config for a snapshot).
fn snapshot_sweeps(text: &str, functions: usize) -> Vec<(usize, usize)> {
    struct Run {
        key: (String, String),
        last_off: u64,
        idx: usize,
        start_idx: usize,
        start_line: usize,
        end_line: usize,
    }
    let mut runs: Vec<Run> = Vec::new();
    let mut cur: Option<Run> = None;
    let mut idx = 0;
    for (n, line) in text.lines().enumerate() {
        let Some(k) = line.find("pci_cfg_") else {
            continue;
        };
        let t: Vec<&str> = line[k..].split(' ').collect();
        if t.len() != 6 {
            continue;
        }
        idx += 1;
        let off = u64::from_str_radix(t[3].trim_start_matches("@0x"), 16).unwrap();
        let key = (t[1].to_string(), t[2].to_string());
        let read = t[0] == "pci_cfg_read";
        cur = match cur.take() {
            Some(mut r) if read && r.key == key && off == r.last_off + 4 && idx == r.idx + 1 => {
                r.last_off = off;
                r.idx = idx;
                r.end_line = n + 1;
                if off == 0x3c {
                    runs.push(r);
                    None
                } else {
                    Some(r)
                }
            }
            _ if read && off == 0 => Some(Run {
                key,
                last_off: 0,
                idx,
                start_idx: idx,
                start_line: n + 1,
                end_line: n + 1,
            }),
            _ => None,
        };
    }
    let mut sweeps: Vec<Vec<&Run>> = Vec::new();
    for r in &runs {
        match sweeps.last_mut() {
            Some(s) if s.last().unwrap().idx + 1 == r.start_idx => s.push(r),
            _ => sweeps.push(vec![r]),
        }
    }
    sweeps
        .iter()
        .filter(|s| s.len() == functions)
        .map(|s| (s[0].start_line, s.last().unwrap().end_line))
        .collect()
}

/// Parses an `lspci -x` dump: bdf -> bytes; plus the `#` note lines.
fn parse_dump(text: &str) -> (BTreeMap<String, Vec<u8>>, Vec<String>) {
    let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut cur: Option<String> = None;
    for l in text.lines() {
        if l.starts_with('#') {
            notes.push(l.to_string());
        } else if l.len() > 8 && l.as_bytes()[2] == b':' && l.as_bytes()[5] == b'.' {
            cur = Some(l[..7].to_string());
            out.insert(l[..7].to_string(), Vec::new());
        } else if let (Some(c), Some((_, hexes))) = (&cur, l.split_once(": ")) {
            let v = out.get_mut(c).unwrap();
            v.extend(hexes.split(' ').map(|h| u8::from_str_radix(h, 16).unwrap()));
        }
    }
    (out, notes)
}

/// The config64 ground truth: bdf -> 64 bytes.
fn config64(rel: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for l in std::fs::read_to_string(data(rel)).unwrap().lines() {
        if l.starts_with('#') {
            continue;
        }
        let mut t = l.split(' ');
        let bdf = short_bdf(t.next().unwrap());
        t.next();
        out.entry(bdf)
            .or_default()
            .extend(t.map(|h| u8::from_str_radix(h, 16).unwrap()));
    }
    out
}

#[test]
fn dump_at_each_snapshot_is_the_guests_config_space_byte_for_byte() {
    if !have(
        "zstd",
        "dump_at_each_snapshot_is_the_guests_config_space_byte_for_byte",
    ) {
        return;
    }
    for s in SCENARIOS {
        let text = trace_text(s);
        let gt_late = config64(&format!("{}/pci-config64-late.txt", s.0));
        let sweeps = snapshot_sweeps(&text, gt_late.len());
        assert!(
            sweeps.len() >= 2,
            "{}: snapshots not found: {sweeps:?}",
            s.0
        );
        for (snap, (_, end)) in [("early", sweeps[0]), ("late", *sweeps.last().unwrap())] {
            let gt = config64(&format!("{}/pci-config64-{snap}.txt", s.0));
            let prefix: String = text.lines().take(end).map(|l| format!("{l}\n")).collect();
            let f = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(f.path(), prefix).unwrap();
            let (dump, notes) = parse_dump(&tool_ok(&["-x", f.path().to_str().unwrap()]));
            // Every header byte is known by then, and equal to what sysfs read.
            assert!(notes.is_empty(), "{} {snap}: {notes:?}", s.0);
            assert_eq!(dump.len(), gt.len(), "{} {snap}", s.0);
            for (bdf, want) in &gt {
                assert_eq!(&dump[bdf], want, "{} {snap} {bdf}", s.0);
            }
        }
    }
}

#[test]
fn final_state_differs_from_the_late_snapshot_only_in_command() {
    for s in SCENARIOS {
        let gt = config64(&format!("{}/pci-config64-late.txt", s.0));
        let (dump, _) = parse_dump(&tool_ok(&on(s, &["-x"])));
        let mut changed = 0;
        for (bdf, want) in &gt {
            for (o, (a, b)) in dump[bdf].iter().zip(want).enumerate() {
                if a != b {
                    // Drivers clear bus mastering at shutdown, after the snapshot.
                    assert!(
                        (4..6).contains(&o),
                        "{} {bdf} byte 0x{o:02x}: {a:02x} vs {b:02x}",
                        s.0
                    );
                    changed += 1;
                }
            }
        }
        assert!(changed < 2 * gt.len(), "{}", s.0);
    }
}

/// Runs the real lspci on a dump file.
fn lspci(dump: &Path, args: &[&str]) -> String {
    let out = Command::new("lspci")
        .arg("-F")
        .arg(dump)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lspci {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pci.ids for both tools: the system's, else a small one of our own.
fn ids_file() -> (PathBuf, Option<tempfile::NamedTempFile>) {
    let sys = Path::new("/usr/share/misc/pci.ids");
    if sys.is_file() {
        return (sys.to_path_buf(), None);
    }
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        f.path(),
        "8086  Intel Corporation\n\t100e  82540EM Gigabit Ethernet Controller\n1b36  Red Hat, Inc.\n\
         C 02  Network controller\n\t00  Ethernet controller\nC 06  Bridge\n\t04  PCI bridge\n",
    )
    .unwrap();
    (f.path().to_path_buf(), Some(f))
}

#[test]
fn real_lspci_reads_our_dumps_and_agrees() {
    if !have("lspci", "real_lspci_reads_our_dumps_and_agrees") {
        return;
    }
    let (ids, _keep) = ids_file();
    let ids = ids.to_str().unwrap();
    for s in SCENARIOS {
        let dump = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(dump.path(), tool_ok(&on(s, &["-x"]))).unwrap();
        let selections: &[&[&str]] = if s.0.starts_with('A') || s.0.starts_with("Q11-A") {
            &[
                &[],
                &["-s", "00:1f.2"],
                &["-s", "1:"],
                &["-d", "8086:"],
                &["-d", "::0604"],
                &["-s", ".1"],
            ]
        } else {
            &[&[]]
        };
        for sel in selections.iter().copied() {
            let mut ours_args = vec!["-i", ids];
            ours_args.extend_from_slice(sel);
            ours_args.extend_from_slice(s.2);
            let t = trace(s);
            ours_args.push(&t);
            let ours: String = tool(&ours_args)
                .1
                .lines()
                .map(|l| format!("{}\n", l.rsplit_once(" {").unwrap().0))
                .collect();
            let mut l_args = vec!["-nn", "-i", ids];
            l_args.extend_from_slice(sel);
            assert_eq!(lspci(dump.path(), &l_args), ours, "{} {sel:?}", s.0);
            let mut tree_args = vec!["-t"];
            tree_args.extend_from_slice(sel);
            let mut ours_tree = tree_args.clone();
            ours_tree.extend_from_slice(s.2);
            ours_tree.push(&t);
            assert_eq!(
                lspci(dump.path(), &tree_args),
                tool(&ours_tree).1,
                "{} -t {sel:?}",
                s.0
            );
        }
        // With the whole config space (and -v details as comments), lspci
        // lists the same functions and walks the same capabilities.
        let full = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(full.path(), tool_ok(&on(s, &["-xxxx", "-v"]))).unwrap();
        assert_eq!(
            lspci(full.path(), &["-nn", "-i", ids]),
            lspci(dump.path(), &["-nn", "-i", ids]),
            "{}",
            s.0
        );
        let caps = |text: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.trim_start().strip_prefix("Capabilities: ["))
                .filter_map(|l| l.split_once(']').map(|(o, _)| o.to_string()))
                .collect()
        };
        let theirs = caps(&lspci(full.path(), &["-vvv"]));
        let ours = caps(&tool_ok(&on(s, &["-v"])));
        assert!(theirs.len() > 10, "{}: {theirs:?}", s.0);
        assert_eq!(theirs, ours, "{}", s.0);
    }
}

/// Rewrites a QEMU 7.x trace in QEMU ≤ 6.2's `%02u:%u` address format.
fn to_old_format(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t: Vec<&str> = line.splitn(4, ' ').collect();
        if t.len() == 4 && t[0].starts_with("pci_cfg_") {
            let (slot, func) = t[2].split_once(':').unwrap().1.split_once('.').unwrap();
            let slot = u32::from_str_radix(slot, 16).unwrap();
            out.push_str(&format!("{} {} {slot:02}:{func} {}\n", t[0], t[1], t[3]));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn old_format_gives_the_same_table_on_bus_0() {
    let s = &SCENARIOS[0];
    let text = trace_text(s);
    let old = to_old_format(&text);
    assert!(old.contains("pci_cfg_read e1000 03:0 @0x0 -> 0x8086"));
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &old).unwrap();
    let (code, out, err) = tool(&["-o", "jsonl", f.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("bus 0 is assumed"), "{err}");
    let mut got: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut want: Vec<Value> = records(&on(s, &[]))
        .into_values()
        .map(|mut r| {
            let bdf = r["bdf"].as_str().unwrap();
            r["bdf"] = Value::from(format!("00{}", &bdf[2..]));
            r
        })
        .collect();
    let key = |v: &Value| (v["bdf"].to_string(), v["qemu_name"].to_string());
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got.len(), 13);
    assert_eq!(got, want);
}

#[test]
fn qemu_5_2_trace_matches_its_query_pci() {
    let t = data("V-qemu52/pci-pc/trace.log");
    let (code, out, err) = tool(&["-o", "jsonl", t.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("bus 0 is assumed"), "{err}");
    let recs: BTreeMap<(u64, u64), Value> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let b = v["bdf"].as_str().unwrap();
            assert!(b.starts_with("00:"), "{b}");
            let key = (
                u64::from_str_radix(&b[3..5], 16).unwrap(),
                u64::from_str_radix(&b[6..7], 16).unwrap(),
            );
            (key, v)
        })
        .collect();
    let qemu = qemu_devices("V-qemu52/pci-pc/query-pci.json");
    assert_eq!(recs.len(), qemu.len());
    for d in &qemu {
        // The old format has no bus: functions are told apart by slot and
        // function (and QEMU's name), and shown on bus 0.
        let key = (d["slot"].as_u64().unwrap(), d["function"].as_u64().unwrap());
        let r = &recs[&key];
        assert_eq!(r["vendor_id"], d["id"]["vendor"], "{key:?}");
        assert_eq!(r["device_id"], d["id"]["device"], "{key:?}");
        assert_eq!(
            r["class"].as_u64().map(|c| c >> 8),
            d["class_info"]["class"].as_u64(),
            "{key:?}"
        );
        assert_eq!(r["irq_pin"], d["irq_pin"], "{key:?}");
        assert_eq!(our_sizes(r), qemu_sizes(d), "{key:?}");
        assert_eq!(our_kinds(r), qemu_kinds(d), "{key:?}");
        if let Some(v) = r["subsystem_vendor_id"].as_u64() {
            assert_eq!(Some(v), d["id"]["subsystem-vendor"].as_u64(), "{key:?}");
            assert_eq!(
                r["subsystem_id"].as_u64(),
                d["id"]["subsystem"].as_u64(),
                "{key:?}"
            );
        }
    }
}

#[test]
fn bad_lines_in_a_real_trace_are_reported_and_the_table_still_comes_out() {
    let s = &SCENARIOS[1];
    let clean = tool_ok(&on(s, &[]));
    let text = trace_text(s);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Inserted (1-based) at lines 101, 201 and 301 of the result.
    lines.insert(
        100,
        "10162@1795676552.409000:pci_cfg_read e1000e 00:02.0 @0x".into(),
    );
    lines.insert(
        200,
        "10162@1795676552.409000:pci_cfg_read e1000e 00:02.0 @0x0 -> 0x1100d38086".into(),
    );
    lines.insert(
        300,
        "10162@1795676552.409000:pci_cfg_write e1000e 00:02.0 @0x1000 <- 0x0".into(),
    );
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), lines.join("\n") + "\n").unwrap();
    let name = f.path().to_str().unwrap();
    let (code, out, err) = tool(&[name]);
    assert_eq!(code, 2);
    assert_eq!(out, clean);
    let errs: Vec<&str> = err.lines().collect();
    assert_eq!(errs.len(), 4, "{err}");
    assert!(
        errs[0].starts_with(&format!("pci-table: {name}:101: ")) && errs[0].contains("truncated"),
        "{err}"
    );
    assert!(
        errs[1].starts_with(&format!("pci-table: {name}:201: "))
            && errs[1].contains("wider than 32 bits"),
        "{err}"
    );
    assert!(
        errs[2].starts_with(&format!("pci-table: {name}:301: "))
            && errs[2].contains("past the end"),
        "{err}"
    );
}

#[test]
fn the_access_log_has_every_access_in_order() {
    // Not the 24 MB one.
    for s in SCENARIOS
        .iter()
        .filter(|s| !s.0.starts_with('D'))
        .chain(PVPANIC)
    {
        let text = trace_text(s);
        let want: Vec<(usize, bool)> = text
            .lines()
            .enumerate()
            .filter_map(|(n, l)| {
                // QEMU 8.0+ traces absent functions as device `empty`:
                // no function, so not in the log.
                if l.contains(" empty ") {
                    None
                } else if l.contains("pci_cfg_read ") {
                    Some((n + 1, false))
                } else if l.contains("pci_cfg_write ") {
                    Some((n + 1, true))
                } else {
                    None
                }
            })
            .collect();
        let out = tool_ok(&on(s, &["--accesses", "-o", "jsonl"]));
        let got: Vec<(usize, bool)> = out
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["line"].as_u64().unwrap() as usize, v["op"] == "write")
            })
            .collect();
        assert_eq!(got, want, "{}", s.0);
        let writes = tool_ok(&on(s, &["--accesses", "--writes-only"]));
        assert_eq!(writes.lines().count(), want.iter().filter(|w| w.1).count());
        // Each BAR sizing read-back names the size QEMU reports.
        let text_log = tool_ok(&on(s, &["--accesses"]));
        let qemu = qemu_devices(&format!("{}/query-pci.json", s.0));
        for d in &qemu {
            let bdf = format!(
                "{:02x}:{:02x}.{:x}",
                d["bus"].as_u64().unwrap(),
                d["slot"].as_u64().unwrap(),
                d["function"].as_u64().unwrap()
            );
            for (bar, size) in qemu_sizes(d) {
                let (reg, off) = match bar {
                    6 if d["pci_bridge"].is_object() => ("ROM_ADDRESS1".to_string(), 0x38),
                    6 => ("ROM_ADDRESS".to_string(), 0x30),
                    b => (format!("BAR{b}"), 0x10 + 4 * b),
                };
                let human = [(1u64 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")]
                    .iter()
                    .find(|(u, _)| size >= *u && size % u == 0)
                    .map_or(size.to_string(), |(u, n)| format!("{}{n}", size / u));
                let needle = format!("{bdf} @0x{off:02x} {reg} sizing -> ");
                let hit = text_log
                    .lines()
                    .rfind(|l| l.starts_with(&needle))
                    .unwrap_or_else(|| panic!("{}: no '{needle}'", s.0));
                assert!(
                    hit.ends_with(&format!("({human})")),
                    "{}: {hit} vs {size}",
                    s.0
                );
            }
        }
    }
}
