//! Checks every row of the "QEMU versions" tables in `docs/formats.md`: each
//! line shape is recognised with the fields its row names, each event variant
//! decodes with the built-in spec whose format its row names (no QEMU
//! catalog), every built-in spec has a row, and every line said to come from
//! a capture occurs verbatim in that file of `tests/data`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use qtrace_core::catalog::Catalog;
use qtrace_core::input::Input;
use qtrace_core::lines::Line;
use qtrace_core::recognize::PrefixKind;
use qtrace_core::scan::{Event, Record, ScanOptions, Scanner};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One table row: its line number in the page and its cells, trimmed.
struct Row {
    at: usize,
    cells: Vec<String>,
}

/// The rows of the first table after the heading `heading` (which must exist).
fn table_after(page: &str, heading: &str) -> Vec<Row> {
    let mut lines = page.lines().enumerate();
    lines
        .by_ref()
        .find(|(_, l)| l.trim() == heading)
        .unwrap_or_else(|| panic!("docs/formats.md has no heading {heading:?}"));
    let rows: Vec<Row> = lines
        .skip_while(|(_, l)| !l.starts_with('|'))
        .take_while(|(_, l)| l.starts_with('|'))
        .skip(2) // the header and its rule
        .map(|(i, l)| Row {
            at: i + 1,
            cells: l
                .trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect(),
        })
        .collect();
    assert!(!rows.is_empty(), "{heading}: no table rows");
    rows
}

/// The text of the first `` `...` `` span of a cell.
fn code(cell: &str) -> &str {
    let start = cell.find('`').map(|i| i + 1).unwrap_or(0);
    let end = cell[start..].find('`').map_or(cell.len(), |i| start + i);
    &cell[start..end]
}

/// Every capture a row cites, read once (decompressed), as a set of lines.
#[derive(Default)]
struct Captures(BTreeMap<String, BTreeSet<Vec<u8>>>);

impl Captures {
    /// Checks the `from` cell: either `rendered`, or a capture in
    /// `tests/data` that holds `line` verbatim. Returns a problem, if any.
    fn check(&mut self, from: &str, line: &str) -> Option<String> {
        if from == "rendered" {
            return None;
        }
        if !from.starts_with('`') {
            return Some(format!(
                "`from` is neither `rendered` nor a capture: {from:?}"
            ));
        }
        let rel = code(from).to_string();
        let lines = self.0.entry(rel.clone()).or_insert_with(|| {
            let path = root().join("tests/data").join(&rel);
            let mut opened = Input::Path(path)
                .open()
                .unwrap_or_else(|e| panic!("{rel}: {e}"));
            let mut bytes = Vec::new();
            opened
                .reader
                .read_to_end(&mut bytes)
                .unwrap_or_else(|e| panic!("{rel}: {e}"));
            bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
        });
        (!lines.contains(line.as_bytes())).then(|| format!("{rel} has no line {line:?}"))
    }
}

fn page() -> String {
    std::fs::read_to_string(root().join("docs/formats.md")).expect("docs/formats.md")
}

fn classify<'a>(scanner: &Scanner<'_>, text: &'a str) -> Option<Event<'a>> {
    let bytes = text.as_bytes();
    match scanner.classify(Line {
        number: 1,
        bytes,
        full: bytes,
    }) {
        Record::Event(ev) => Some(ev),
        Record::Other(_) => None,
    }
}

fn report(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_line_shape_row_is_recognised_as_it_says() {
    let page = page();
    let catalog = Catalog::builtin();
    let scanner = Scanner::new(&catalog, ScanOptions::default());
    let mut captures = Captures::default();
    let mut problems = Vec::new();
    let mut kinds: Vec<PrefixKind> = Vec::new();
    for row in table_after(&page, "### Line shapes (log backend)") {
        let [_qemu, shape, fields, line, from] = &row.cells[..] else {
            problems.push(format!("line {}: not 5 cells", row.at));
            continue;
        };
        let text = code(line);
        let want_kind = match code(shape).split_once(' ').map_or("", |(w, _)| w) {
            "PID@SEC.USEC:name" | "TID@SEC.USEC:name" => PrefixKind::TidTime,
            "YYYY-MM-DDTHH:MM:SS.ffffffZ" => PrefixKind::Iso,
            "name" => PrefixKind::Bare,
            // "the same, ..." repeats the previous row's shape
            _ if shape.starts_with("the same") => match kinds.last() {
                Some(&kind) => kind,
                None => {
                    problems.push(format!("line {}: \"the same\" on the first row", row.at));
                    continue;
                }
            },
            other => {
                problems.push(format!("line {}: unknown shape {other:?}", row.at));
                continue;
            }
        };
        kinds.push(want_kind);
        let Some(ev) = classify(&scanner, text) else {
            problems.push(format!("line {}: not an event: {text:?}", row.at));
            continue;
        };
        let want_tid = fields.contains("`tid`");
        let want_time = fields.contains("`time`");
        if ev.prefix.kind != want_kind
            || ev.prefix.tid.is_some() != want_tid
            || ev.prefix.time.is_some() != want_time
            || (want_time && ev.prefix.time_nanos().is_none())
        {
            problems.push(format!(
                "line {}: {text:?} recognised as {:?}, tid {:?}, time {:?}",
                row.at,
                ev.prefix.kind,
                ev.prefix.tid,
                ev.prefix.time.map(String::from_utf8_lossy)
            ));
        }
        problems.extend(
            captures
                .check(from, text)
                .map(|p| format!("line {}: {p}", row.at)),
        );
    }
    report("line shapes", &problems);
    for kind in [PrefixKind::Bare, PrefixKind::TidTime, PrefixKind::Iso] {
        assert!(
            kinds.contains(&kind),
            "the table shows every prefix QEMU's log backend prints; {kind:?} is missing"
        );
    }
}

#[test]
fn every_event_variant_row_decodes_with_its_builtin_spec() {
    let page = page();
    let catalog = Catalog::builtin();
    let scanner = Scanner::new(&catalog, ScanOptions::default());
    let mut captures = Captures::default();
    let mut problems = Vec::new();
    let mut covered = BTreeSet::new();
    let mut from_captures = 0;
    for row in table_after(&page, "### Event variants") {
        let [_qemu, event, format, line, from] = &row.cells[..] else {
            problems.push(format!("line {}: not 5 cells", row.at));
            continue;
        };
        let (name, format, text) = (code(event), code(format), code(line));
        let Some(ev) = classify(&scanner, text) else {
            problems.push(format!("line {}: not an event: {text:?}", row.at));
            continue;
        };
        if ev.name != name.as_bytes() {
            problems.push(format!(
                "line {}: the line's event is {:?}, the row's {name}",
                row.at,
                String::from_utf8_lossy(ev.name)
            ));
            continue;
        }
        // A fresh catalog per row: each row stands for a trace of its own
        // QEMU, and a catalog tries the last winner of a name first.
        let fresh = Catalog::builtin();
        let mut scratch = Vec::new();
        let Some(fields) = fresh.decode(ev.name, ev.message, &mut scratch) else {
            problems.push(format!(
                "line {}: no built-in spec decodes {text:?}",
                row.at
            ));
            continue;
        };
        let declaration = fields.spec().declaration();
        if !declaration.ends_with(&format!(") {format}")) {
            problems.push(format!(
                "line {}: {text:?} decoded by `{declaration}`, not by the row's format",
                row.at
            ));
        }
        if fields.len() != fields.names().len()
            || fields.is_empty() != format.trim_matches('"').is_empty()
        {
            problems.push(format!(
                "line {}: {} field(s) for `{declaration}`",
                row.at,
                fields.len()
            ));
        }
        covered.insert(declaration);
        if from != "rendered" {
            from_captures += 1;
        }
        problems.extend(
            captures
                .check(from, text)
                .map(|p| format!("line {}: {p}", row.at)),
        );
    }
    for spec in catalog.specs() {
        let declaration = spec.declaration();
        if !covered.contains(&declaration) && !declaration.starts_with("dropped(") {
            problems.push(format!("no row shows the built-in spec `{declaration}`"));
        }
    }
    report("event variants", &problems);
    assert!(
        from_captures >= 40,
        "most rows are real lines from captures ({from_captures})"
    );
}
