//! qtrace-filter on the real QEMU traces of tests/data, checked against an
//! independent parser written here: event counts per name, and the CSV fields
//! of the events the other tools rely on.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

const TRACES: &[&str] = &[
    "A-pci-pc-plain/trace.log",
    "A-pci-q35-ts/trace.log",
    "B-ps2-pc-set2-xlate-ts/trace.log",
    "B-ps2-pc-set3-plain/trace.log",
    "B-ps2-q35-set1-raw-ts/trace.log",
    "C-dma-pc-ide-ts/trace.log",
    "C-dma-pc-virtio-scsi-ts/trace.log",
    "C-dma-q35-ahci-nvme-plain/trace.log",
    "D-mixed-q35-ts/trace.log.zst",
    "V-qemu52/pci-pc/trace.log",
    "V-qemu52/ps2-pc/trace.log",
    "V-qemu52/dma-q35/trace.log",
];

fn read_text(rel: &str) -> String {
    let path = data(rel);
    if rel.ends_with(".zst") {
        let out = Command::new("zstd")
            .arg("-dc")
            .arg(&path)
            .output()
            .expect("zstd is installed");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    } else {
        let mut s = String::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }
}

/// The oracle: `[TID@SEC.USEC:]name rest` split by hand.
struct OracleLine<'a> {
    time: Option<&'a str>,
    tid: Option<&'a str>,
    name: &'a str,
    rest: &'a str,
}

fn oracle(line: &str) -> Option<OracleLine<'_>> {
    let (prefix, body) = match line.split_once(':') {
        Some((p, b))
            if p.contains('@')
                && p.split('@')
                    .all(|x| x.bytes().all(|c| c.is_ascii_digit() || c == b'.')) =>
        {
            (Some(p), b)
        }
        _ => (None, line),
    };
    let (name, rest) = body.split_once(' ').unwrap_or((body, ""));
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return None;
    }
    let (tid, time) = match prefix {
        Some(p) => {
            let (t, s) = p.split_once('@').unwrap();
            (Some(t), Some(s))
        }
        None => (None, None),
    };
    Some(OracleLine {
        time,
        tid,
        name,
        rest,
    })
}

fn filter(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_qtrace-filter"))
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn counts_per_event_equal_the_oracle_on_every_trace() {
    for rel in TRACES {
        let text = read_text(rel);
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for line in text.lines() {
            if let Some(o) = oracle(line) {
                *want.entry(o.name.to_string()).or_default() += 1;
            }
        }
        assert!(!want.is_empty(), "{rel} has events");
        let path = data(rel);
        let got_text = filter(&["-o", "csv", "-c", "*", path.to_str().unwrap()]);
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for row in got_text.lines().skip(1) {
            let (name, n) = row.split_once(',').unwrap();
            got.insert(name.to_string(), n.parse().unwrap());
        }
        assert_eq!(got, want, "{rel}");
        // Raw selection of one event gives exactly its lines, byte for byte.
        let (top, _) = want.iter().max_by_key(|(_, n)| **n).unwrap();
        let raw = filter(&[top, path.to_str().unwrap()]);
        let expect: String = text
            .lines()
            .filter(|l| oracle(l).is_some_and(|o| o.name == top))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(raw, expect, "{rel} {top}");
    }
}

/// Numbers as the oracle reads them: `0x` hex or decimal.
fn num(s: &str) -> i128 {
    match s.strip_prefix("0x") {
        Some(h) => i128::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// The oracle's fields of one line, by event.
fn oracle_fields(name: &str, rest: &str) -> Vec<(String, String)> {
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    match name {
        "pci_cfg_read" | "pci_cfg_write" => {
            let arrow = if name == "pci_cfg_read" {
                " -> "
            } else {
                " <- "
            };
            let (left, val) = rest.rsplit_once(arrow).unwrap();
            let (left, offs) = left.rsplit_once(" @").unwrap();
            let (dev, addr) = left.rsplit_once(' ').unwrap();
            let mut v = vec![kv("dev", dev)];
            if let Some((bus, sf)) = addr.split_once(':')
                && let Some((slot, func)) = sf.split_once('.')
            {
                v.push(kv("bus", &format!("0x{bus}")));
                v.push(kv("slot", &format!("0x{slot}")));
                v.push(kv("func", &format!("0x{func}")));
            } else {
                let (slot, func) = addr.split_once(':').unwrap();
                v.push(kv("devid", slot));
                v.push(kv("fnid", func));
            }
            v.push(kv("offs", offs));
            v.push(kv("val", val));
            v
        }
        "ps2_put_keycode" => {
            let (opaque, code) = rest.split_once(" keycode ").unwrap();
            vec![kv("opaque", opaque), kv("keycode", code)]
        }
        "dma_blk_io" => rest
            .split(' ')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                kv(k, v)
            })
            .collect(),
        "blk_co_preadv" => {
            let w: Vec<&str> = rest.split(' ').collect();
            w.chunks(2).map(|c| kv(c[0], c[1])).collect()
        }
        _ => unreachable!(),
    }
}

fn same_value(oracle: &str, csv: &str) -> bool {
    let numeric = |s: &str| {
        s.strip_prefix("0x").map_or(
            s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty(),
            |h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()),
        )
    };
    if numeric(oracle) && numeric(csv) {
        num(oracle) == num(csv)
    } else {
        oracle == csv
    }
}

#[test]
fn csv_fields_equal_the_values_in_the_lines() {
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for rel in TRACES {
        let text = read_text(rel);
        let path = data(rel);
        for event in [
            "pci_cfg_read",
            "pci_cfg_write",
            "ps2_put_keycode",
            "dma_blk_io",
            "blk_co_preadv",
        ] {
            let lines: Vec<OracleLine<'_>> = text
                .lines()
                .filter_map(oracle)
                .filter(|o| o.name == event)
                .collect();
            if lines.is_empty() {
                continue;
            }
            let csv = filter(&["-o", "csv", event, path.to_str().unwrap()]);
            let mut rdr = csv.lines();
            let header: Vec<&str> = rdr.next().unwrap().split(',').collect();
            let rows: Vec<&str> = rdr.collect();
            assert_eq!(rows.len(), lines.len(), "{rel} {event}");
            for (row, o) in rows.iter().zip(&lines) {
                // No field of these events contains a comma or quote.
                let cells: Vec<&str> = row.split(',').collect();
                let cell = |k: &str| {
                    cells[header
                        .iter()
                        .position(|h| *h == k)
                        .unwrap_or_else(|| panic!("{k} in {header:?}"))]
                };
                assert_eq!(cell("event"), event);
                if let Some(t) = o.time {
                    assert_eq!(cell("time"), t, "{rel}");
                    assert_eq!(cell("tid"), o.tid.unwrap());
                }
                for (k, v) in oracle_fields(event, o.rest) {
                    assert!(
                        same_value(&v, cell(&k)),
                        "{rel} {event} {k}: line has {v}, CSV has {}",
                        cell(&k)
                    );
                }
            }
            *checked.entry(event).or_default() += rows.len();
        }
    }
    for event in [
        "pci_cfg_read",
        "pci_cfg_write",
        "ps2_put_keycode",
        "dma_blk_io",
        "blk_co_preadv",
    ] {
        assert!(
            checked.get(event).copied().unwrap_or(0) > 10,
            "{event} checked {checked:?}"
        );
    }
}

#[test]
fn old_qemu_pci_format_and_device_names_with_spaces() {
    // QEMU 5.2 prints `%02u:%u` (decimal slot:function, no bus).
    let path = data("V-qemu52/pci-pc/trace.log");
    let csv = filter(&[
        "-o",
        "csv",
        "-f",
        "dev,devid,fnid,offs,val",
        "-w",
        "devid==30",
        "pci_cfg_read",
        path.to_str().unwrap(),
    ]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("dev,devid,fnid,offs,val"));
    let first = lines.next().expect("the bridge at slot 30 was read");
    assert!(first.starts_with("pci-bridge,30,0,"), "{first}");
    // A device name with a space, as q35's `ICH9 SMB` prints, decodes whole.
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        tmp.path(),
        "2745@1795679248.720889:pci_cfg_read ICH9 SMB 31:3 @0x0 -> 0x8086\n",
    )
    .unwrap();
    let out = filter(&["-o", "jsonl", "pci_cfg_read", tmp.path().to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["dev"], "ICH9 SMB");
    assert_eq!(v["devid"], 31);
    assert_eq!(v["fnid"], 3);
    assert_eq!(v["val"], 0x8086);
}
