//! qtrace-e2e: the live end-to-end tests' toolkit. A real QEMU
//! (`qemu-system-x86_64`, SeaBIOS, TCG) is run through `scripts/capture`, and
//! every tool's answer is compared with ground truth that does not come from
//! the trace: QMP `query-pci`, the keys sent with QMP `send-key`, the LBAs our
//! own boot sector (`tests/live/boot.asm`) reads and writes.
//!
//! The tests themselves are in `tests/live.rs`; this library holds what they
//! share: the QEMUs to run on ([`qemus_or_skip`], [`for_each_qemu`]: the
//! system's `qemu-system-x86_64` and those `scripts/get-qemu` fetched,
//! listed in `QTRACE_QEMUS`; a missing one is skipped with a message
//! locally, a failure when `QTRACE_REQUIRE_QEMU=1` as in `.ci/run`),
//! running `scripts/capture` ([`capture`], [`Qemu::capture`]), running the tools in-process
//! through their `run` functions ([`ToolRun`]), the ground truth of each
//! scenario ([`BOOT_OPS`], [`KEY_COMBOS`], [`pci_devices`]) and the
//! comparisons ([`compare_pci`], [`compare_dma`], [`expected_key_events`]).
//! Comparisons return every difference found rather than stopping at the
//! first, so a failing test says everything that is wrong at once.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::Parser;
use qtrace_core::cli::{Env, Status};
use qtrace_core::scan::Diag;
use serde_json::Value;

/// The QEMU binary the live tests run.
pub const QEMU: &str = "qemu-system-x86_64";

/// Set to `1` to make the live tests fail, instead of skip, without QEMU.
pub const REQUIRE_QEMU: &str = "QTRACE_REQUIRE_QEMU";

/// Set to a folder to keep each live test's files (traces, QMP answers,
/// disk images) there instead of in a temporary folder.
pub const KEEP: &str = "QTRACE_LIVE_KEEP";

/// Hard time limit given to every capture, in seconds. A SeaBIOS-only run
/// takes well under 5 s here; this only bounds a hung one.
pub const TIME_LIMIT: &str = "60";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `scripts/capture`.
pub fn capture_script() -> PathBuf {
    root().join("scripts/capture")
}

/// A file of `tests/live/` (boot sectors and their sources).
pub fn live_file(name: &str) -> PathBuf {
    root().join("tests/live").join(name)
}

/// A file of `tests/data/` (recorded captures).
pub fn data_file(rel: &str) -> PathBuf {
    root().join("tests/data").join(rel)
}

/// Finds an executable on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Writes a line to the real standard error, past the test harness's output
/// capture, so that skips and live results show in `cargo test` output.
pub fn say(msg: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Whether `QTRACE_REQUIRE_QEMU=1` is set.
pub fn qemu_required() -> bool {
    std::env::var_os(REQUIRE_QEMU).is_some_and(|v| v == "1")
}

/// The extra QEMUs the live tests run besides the system's: a list of
/// `NAME=FILE` separated by spaces, each FILE a description written by
/// `scripts/get-qemu` (`qemu.env`: `binary=`, `firmware=`, `module_dir=`,
/// `trace_events=` lines). `.ci/run` sets it from get-qemu's output.
pub const QEMUS: &str = "QTRACE_QEMUS";

/// One QEMU the live tests run: the system's `qemu-system-x86_64` or one
/// listed in [`QEMUS`].
#[derive(Debug, Clone)]
pub struct Qemu {
    /// `system`, or the name given in [`QEMUS`] (e.g. `10.0`).
    pub name: String,
    /// What to run.
    pub binary: PathBuf,
    /// Firmware folders, given to QEMU with `-L` before its own.
    pub firmware: Vec<PathBuf>,
    /// Its modules' folder (`QEMU_MODULE_DIR`), when not the system's.
    pub module_dir: Option<PathBuf>,
    /// Its trace-events-all, given to the tools with `--trace-events`
    /// (none for the system QEMU: the tools read the installed one).
    pub trace_events: Option<PathBuf>,
    /// `(major, minor)` from `--version`.
    pub version: (u32, u32),
    /// The first line of `--version`.
    pub version_line: String,
}

impl Qemu {
    /// For messages: the name and what `--version` said.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.version_line)
    }

    /// For short messages: `7.2 (system)`, or the name given (`10.0`).
    pub fn short(&self) -> String {
        if self.name == "system" {
            format!("{}.{} (system)", self.version.0, self.version.1)
        } else {
            self.name.clone()
        }
    }

    /// Whether this QEMU is at least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }

    /// For folder names: `system`, `10.0`, ...
    pub fn dir_name(&self) -> String {
        self.name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// The `scripts/capture` arguments that run this QEMU.
    pub fn capture_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["--qemu".into(), self.binary.clone().into()];
        for d in &self.firmware {
            a.push("--firmware".into());
            a.push(d.clone().into());
        }
        if let Some(m) = &self.module_dir {
            a.push("--module-dir".into());
            a.push(m.clone().into());
        }
        a
    }

    /// Runs `scripts/capture` with this QEMU and `args`.
    pub fn capture<I, S>(&self, args: I) -> Captured
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all = self.capture_args();
        all.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        capture(all)
    }

    /// `flags` with this QEMU's catalog in front, for a tool.
    fn tool_flags<'a>(&'a self, flags: &[&'a str]) -> Vec<&'a str> {
        let mut f = Vec::with_capacity(flags.len() + 2);
        if let Some(cat) = &self.trace_events {
            let cat = cat.to_str().expect("get-qemu's catalog paths are UTF-8");
            f.extend(["--trace-events", cat]);
        }
        f.extend_from_slice(flags);
        f
    }

    /// Runs ps2-decode in-process on `input`, with this QEMU's catalog.
    pub fn ps2_decode(&self, flags: &[&str], input: &Path) -> ToolRun {
        ps2_decode(&self.tool_flags(flags), input)
    }

    /// Runs pci-table in-process on `input`, with this QEMU's catalog.
    pub fn pci_table(&self, flags: &[&str], input: &Path) -> ToolRun {
        pci_table(&self.tool_flags(flags), input)
    }

    /// Runs dma-sectors in-process on `input`, with this QEMU's catalog.
    pub fn dma_sectors(&self, flags: &[&str], input: &Path) -> ToolRun {
        dma_sectors(&self.tool_flags(flags), input)
    }

    /// Runs qtrace-filter in-process on `input`, with this QEMU's catalog.
    pub fn qtrace_filter(&self, flags: &[&str], input: &Path) -> ToolRun {
        qtrace_filter(&self.tool_flags(flags), input)
    }

    /// Asks the binary for its version; `Err` says why it cannot run.
    fn probe(mut self) -> Result<Qemu, String> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--version");
        if let Some(m) = &self.module_dir {
            cmd.env("QEMU_MODULE_DIR", m);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().next().unwrap_or("").trim().to_string();
        let version = line.split_once("version ").map(|(_, v)| v).and_then(|v| {
            let mut parts = v.split(|c: char| !c.is_ascii_digit());
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        });
        match (out.status.success(), version) {
            (true, Some(version)) => {
                self.version = version;
                self.version_line = line;
                Ok(self)
            }
            _ => Err(format!(
                "{} --version: status {:?}, said {line:?} {}",
                self.binary.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
}

/// Reads a `scripts/get-qemu` description (`KEY=VALUE` lines).
fn read_description(name: &str, file: &Path) -> Result<Qemu, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut q = Qemu {
        name: name.to_string(),
        binary: PathBuf::new(),
        firmware: Vec::new(),
        module_dir: None,
        trace_events: None,
        version: (0, 0),
        version_line: String::new(),
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let path = || (!value.is_empty()).then(|| PathBuf::from(value));
        match key.trim() {
            "binary" => q.binary = PathBuf::from(value),
            "firmware" => {
                q.firmware = value
                    .split(':')
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
                    .collect()
            }
            "module_dir" => q.module_dir = path(),
            "trace_events" => q.trace_events = path(),
            _ => {}
        }
    }
    if q.binary.as_os_str().is_empty() {
        return Err(format!("{}: no binary= line", file.display()));
    }
    Ok(q)
}

/// Every QEMU the live test `test` is to run on, each one checked to start:
/// the system's `qemu-system-x86_64` and those listed in [`QEMUS`]. A QEMU
/// that is missing or does not start (or python3, which `scripts/capture`
/// runs on, missing) is skipped with a message, or makes this panic when
/// `QTRACE_REQUIRE_QEMU=1`.
pub fn qemus_or_skip(test: &str) -> Vec<Qemu> {
    static FOUND: OnceLock<Vec<Result<Qemu, String>>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let mut all = Vec::new();
        if find_on_path("python3").is_none() {
            all.push(Err(
                "python3 (for scripts/capture) not found on PATH".to_string()
            ));
            return all;
        }
        all.push(match find_on_path(QEMU) {
            Some(binary) => Qemu {
                name: "system".into(),
                binary,
                firmware: Vec::new(),
                module_dir: None,
                trace_events: None,
                version: (0, 0),
                version_line: String::new(),
            }
            .probe(),
            None => Err(format!(
                "{QEMU} not found on PATH (install Debian's qemu-system-x86)"
            )),
        });
        let list = std::env::var(QEMUS).unwrap_or_default();
        for entry in list.split_whitespace() {
            all.push(match entry.split_once('=') {
                Some((name, file)) => read_description(name, Path::new(file))
                    .and_then(Qemu::probe)
                    .map_err(|e| format!("QEMU {name} of {QEMUS}: {e}")),
                None => Err(format!("{QEMUS}: '{entry}' is not NAME=FILE")),
            });
        }
        all
    });
    let mut qemus = Vec::new();
    for q in found {
        match q {
            Ok(q) => qemus.push(q.clone()),
            Err(why) if qemu_required() => panic!(
                "{test}: {why}, and {REQUIRE_QEMU}=1 says the live tests must run \
                 (.ci/run installs and fetches what they need)"
            ),
            Err(why) => say(format!(
                "SKIPPED live test {test} on one QEMU: {why} ({REQUIRE_QEMU}=1 turns this \
                 skip into a failure)"
            )),
        }
    }
    qemus
}

/// Runs the live test `test` once per QEMU of [`qemus_or_skip`], each run
/// to its end even when another failed; then panics naming every QEMU it
/// failed on, with its message.
pub fn for_each_qemu(test: &str, run: impl Fn(&Qemu)) {
    let qemus = qemus_or_skip(test);
    let mut failures = Vec::new();
    for q in &qemus {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(q))) {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(a panic without a message)");
            failures.push(format!("on QEMU {}:\n{msg}", q.label()));
        }
    }
    assert!(
        failures.is_empty(),
        "{test}: failed on {} of {} QEMU(s)\n{}",
        failures.len(),
        qemus.len(),
        failures.join("\n\n")
    );
}

/// A live test's folder: temporary, or `$QTRACE_LIVE_KEEP/<test>` (emptied
/// first) when that is set.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl WorkDir {
    /// The folder for `test`.
    pub fn new(test: &str) -> WorkDir {
        if let Some(keep) = std::env::var_os(KEEP) {
            let path = PathBuf::from(keep).join(test);
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            return WorkDir { path, _temp: None };
        }
        let temp = tempfile::Builder::new()
            .prefix(&format!("qtrace-live-{test}-"))
            .tempdir()
            .expect("a temporary folder");
        WorkDir {
            path: temp.path().to_path_buf(),
            _temp: Some(temp),
        }
    }

    /// A file in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How a `scripts/capture` run ended.
#[derive(Debug)]
pub struct Captured {
    /// Its exit status (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error (capture's notes and QEMU's messages).
    pub stderr: String,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl Captured {
    /// Panics with everything capture said unless it exited with `code`.
    pub fn expect_code(&self, code: i32, what: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: scripts/capture exited with {:?}, expected {code}\nstderr:\n{}",
            self.code,
            self.stderr
        );
    }
}

/// Runs `scripts/capture` with `args`.
pub fn capture<I, S>(args: I) -> Captured
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let start = Instant::now();
    let out = Command::new(capture_script())
        .args(args)
        .env_remove("QEMU")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", capture_script().display()));
    Captured {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// What an in-process tool run produced.
#[derive(Debug)]
pub struct ToolRun {
    /// What `run` returned.
    pub status: Status,
    /// Errors reported through the tool's `Diag` (exit status 2 if any).
    pub errors: u64,
    /// Warnings reported.
    pub warnings: u64,
    /// Standard output.
    pub out: Vec<u8>,
}

impl ToolRun {
    /// The output as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }

    /// The output as JSON Lines records (panics on a line that is not JSON:
    /// a tool bug).
    pub fn jsonl(&self) -> Vec<Value> {
        self.out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice(l).unwrap_or_else(|e| {
                    panic!("not a JSON line ({e}): {}", String::from_utf8_lossy(l))
                })
            })
            .collect()
    }

    /// Panics unless the run found something with no error and no warning.
    pub fn expect_clean(&self, what: &str) -> &ToolRun {
        assert_eq!(
            (self.status, self.errors, self.warnings),
            (Status::Found, 0, 0),
            "{what}: status, errors, warnings (its messages are on stderr above)"
        );
        self
    }
}

/// Runs a tool's `run` in-process, as `run_main` would but with the output
/// in memory. Panics on arguments the tool refuses or an error it returns.
fn run_tool<A, F>(tool: &'static str, args: &[&OsStr], run: F) -> ToolRun
where
    A: Parser,
    F: FnOnce(&A, &mut Vec<u8>, &mut Env<'_>) -> qtrace_core::Result<Status>,
{
    let argv = std::iter::once(OsStr::new(tool)).chain(args.iter().copied());
    let parsed = A::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{tool} {args:?}: arguments refused: {e}"));
    let mut diag = Diag::new(tool);
    let mut out = Vec::new();
    let status = {
        let mut env = Env {
            diag: &mut diag,
            line_buffered: false,
        };
        run(&parsed, &mut out, &mut env)
    }
    .unwrap_or_else(|e| panic!("{tool} {args:?}: {e}"));
    ToolRun {
        status,
        errors: diag.errors(),
        warnings: diag.warnings(),
        out,
    }
}

fn argv<'a>(flags: &'a [&'a str], input: &'a Path) -> Vec<&'a OsStr> {
    flags
        .iter()
        .map(OsStr::new)
        .chain([input.as_os_str()])
        .collect()
}

/// Runs ps2-decode in-process on `input`.
pub fn ps2_decode(flags: &[&str], input: &Path) -> ToolRun {
    run_tool::<ps2_decode::Args, _>("ps2-decode", &argv(flags, input), |a, o, e| {
        ps2_decode::run(a, o, e)
    })
}

/// Runs pci-table in-process on `input`.
pub fn pci_table(flags: &[&str], input: &Path) -> ToolRun {
    run_tool::<pci_table::Args, _>("pci-table", &argv(flags, input), |a, o, e| {
        pci_table::run(a, o, e)
    })
}

/// Runs dma-sectors in-process on `input`.
pub fn dma_sectors(flags: &[&str], input: &Path) -> ToolRun {
    run_tool::<dma_sectors::Args, _>("dma-sectors", &argv(flags, input), |a, o, e| {
        dma_sectors::run(a, o, e)
    })
}

/// Runs qtrace-filter in-process on `input`.
pub fn qtrace_filter(flags: &[&str], input: &Path) -> ToolRun {
    run_tool::<qtrace_filter::Args, _>("qtrace-filter", &argv(flags, input), |a, o, e| {
        qtrace_filter::run(a, o, e)
    })
}

/// The two styles of log line QEMU's log backend prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `name args`.
    Plain,
    /// `TID@SECONDS.MICROSECONDS:name args` (`-msg timestamp=on`).
    Timestamps,
}

impl Style {
    /// The capture arguments for this style.
    pub fn capture_args(self) -> &'static [&'static str] {
        match self {
            Style::Plain => &[],
            Style::Timestamps => &["--timestamps"],
        }
    }

    /// For messages and folder names.
    pub fn name(self) -> &'static str {
        match self {
            Style::Plain => "plain",
            Style::Timestamps => "ts",
        }
    }

    /// Checks that every record of a trace made by `qemu` has (or, plain,
    /// has not) a `time` and a `tid`; returns the differences. Since QEMU
    /// 10.1, `-msg timestamp=on` prints an ISO-8601 time and no thread id.
    pub fn check_times(self, records: &[Value], what: &str, qemu: &Qemu) -> Vec<String> {
        let mut problems = Vec::new();
        let want = self == Style::Timestamps;
        let want_tid = want && !qemu.at_least(10, 1);
        for (i, r) in records.iter().enumerate() {
            let has_time = r["time"].is_string();
            let has_tid = r["tid"].is_u64();
            if has_time != want || has_tid != want_tid {
                problems.push(format!(
                    "{what} record {}: time {} tid {} in a {} trace",
                    i + 1,
                    r["time"],
                    r["tid"],
                    self.name()
                ));
            }
        }
        problems
    }
}

/// Makes `path` a raw disk image of `sectors` 512-byte sectors whose LBA 0 is
/// the boot sector `boot` (a file of `tests/live/`).
pub fn disk_image(path: &Path, boot: &str, sectors: u64) {
    let bin = std::fs::read(live_file(boot)).unwrap_or_else(|e| panic!("{boot}: {e}"));
    assert_eq!(bin.len(), 512, "{boot} is one sector");
    assert_eq!(&bin[510..], &[0x55, 0xaa], "{boot} has the boot signature");
    let mut image = vec![0u8; (sectors * 512) as usize];
    image[..512].copy_from_slice(&bin);
    std::fs::write(path, image).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Sectors of the DMA test's disk image (4 MiB).
pub const DISK_SECTORS: u64 = 8192;

/// One INT 13h step of `tests/live/boot.asm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskOp {
    /// AH=43h (write) rather than AH=42h (read).
    pub write: bool,
    /// Sectors.
    pub count: u8,
    /// First LBA.
    pub lba: u32,
    /// For a read: compare with the pattern written before.
    pub verify: bool,
}

const fn r(count: u8, lba: u32, verify: bool) -> DiskOp {
    DiskOp {
        write: false,
        count,
        lba,
        verify,
    }
}

const fn w(count: u8, lba: u32) -> DiskOp {
    DiskOp {
        write: true,
        count,
        lba,
        verify: false,
    }
}

/// The steps of `tests/live/boot.asm`'s `OPS` table, in order: the ground
/// truth of the DMA tests (the boot sector reports success only if each
/// step succeeded and what it wrote read back the same).
pub const BOOT_OPS: &[DiskOp] = &[
    r(1, 1, false),
    r(8, 63, false),
    w(2, 2048),
    r(2, 2048, true),
    w(1, 4000),
    r(16, 1000, false),
    w(16, 3000),
    r(16, 3000, true),
    r(1, 8191, false),
];

/// boot.asm's value for success through isa-debug-exit, and the exit status
/// QEMU then has: `(0x10 << 1) | 1`.
pub const BOOT_SUCCESS_STATUS: i32 = 33;

/// The `OPS` table as boot.asm lays it out in boot.bin: op, count, LBA
/// (little-endian dword), and for a read its verify byte; a 0 ends it.
pub fn ops_table() -> Vec<u8> {
    let mut t = Vec::new();
    for op in BOOT_OPS {
        t.push(if op.write { 0x43 } else { 0x42 });
        t.push(op.count);
        t.extend_from_slice(&op.lba.to_le_bytes());
        if !op.write {
            t.push(u8::from(op.verify));
        }
    }
    t.push(0);
    t
}

/// The bytes boot.asm writes: a write of N sectors writes the first N * 512
/// bytes of this pattern (byte i = ((i mod 256) * 7 + i / 256) mod 256 xor 0x5a).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((((i & 0xff) * 7 + (i >> 8)) & 0xff) as u8) ^ 0x5a)
        .collect()
}

/// The sectors the guest reads (SeaBIOS's load of the boot sector, LBA 0,
/// then boot.asm's reads) and writes.
pub fn expected_sectors() -> (BTreeSet<u64>, BTreeSet<u64>) {
    let mut reads = BTreeSet::from([0u64]);
    let mut writes = BTreeSet::new();
    for op in BOOT_OPS {
        let set = if op.write { &mut writes } else { &mut reads };
        set.extend(u64::from(op.lba)..u64::from(op.lba) + u64::from(op.count));
    }
    (reads, writes)
}

/// Maximal runs of consecutive sectors: `(first, count)`.
pub fn runs(sectors: &BTreeSet<u64>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &s in sectors {
        match out.last_mut() {
            Some((first, count)) if *first + *count == s => *count += 1,
            _ => out.push((s, 1)),
        }
    }
    out
}

/// What [`compare_dma`] checked.
#[derive(Debug, Default)]
pub struct DmaComparison {
    /// Requests the tool reported.
    pub requests: usize,
    /// Sectors read / written according to the tool.
    pub sectors: (usize, usize),
    /// Every difference from the ground truth.
    pub problems: Vec<String>,
}

/// Compares dma-sectors' requests (`-o jsonl`) with boot.asm's ground truth:
/// one disk, every request on controller `ctrl` (except QEMU's own read of
/// LBA 0 when the disk is attached, which no controller made), and per
/// direction exactly the sectors [`expected_sectors`] says.
pub fn compare_dma(requests: &[Value], ctrl: &str) -> DmaComparison {
    let mut c = DmaComparison {
        requests: requests.len(),
        ..DmaComparison::default()
    };
    let (want_reads, want_writes) = expected_sectors();
    let mut reads = BTreeSet::new();
    let mut writes = BTreeSet::new();
    for (i, q) in requests.iter().enumerate() {
        let n = i + 1;
        if q["disk"] != "disk0" {
            c.problems.push(format!("request {n}: disk {}", q["disk"]));
        }
        let (Some(sector), Some(count)) = (q["sector"].as_u64(), q["sectors"].as_u64()) else {
            c.problems
                .push(format!("request {n}: no sector or length: {q}"));
            continue;
        };
        let probe = q["controller"].is_null()
            && q["source"] == "blk_co_preadv"
            && q["op"] == "read"
            && sector == 0
            && count == 1;
        // dma-sectors marks that read as QEMU's own (origin qemu) and
        // every request of the guest's as the guest's.
        let want_origin = if probe { "qemu" } else { "guest" };
        if q["origin"] != want_origin {
            c.problems.push(format!(
                "request {n}: origin {}, expected {want_origin}: {q}",
                q["origin"]
            ));
        }
        if q["controller"] != ctrl && !probe {
            c.problems.push(format!(
                "request {n}: controller {}, expected {ctrl}: {q}",
                q["controller"]
            ));
        }
        if q["bytes"].as_u64() != Some(count * 512) {
            c.problems.push(format!(
                "request {n}: bytes {} for {count} sectors",
                q["bytes"]
            ));
        }
        let set = match q["op"].as_str() {
            Some("read") => &mut reads,
            Some("write") => &mut writes,
            _ => {
                c.problems.push(format!("request {n}: op {}", q["op"]));
                continue;
            }
        };
        set.extend(sector..sector + count);
    }
    c.sectors = (reads.len(), writes.len());
    for (what, got, want) in [
        ("read", &reads, &want_reads),
        ("written", &writes, &want_writes),
    ] {
        let extra: BTreeSet<u64> = got.difference(want).copied().collect();
        let missed: BTreeSet<u64> = want.difference(got).copied().collect();
        if !extra.is_empty() {
            c.problems.push(format!(
                "sectors {what} that the guest did not (first, count): {:?}",
                runs(&extra)
            ));
        }
        if !missed.is_empty() {
            c.problems.push(format!(
                "sectors {what} by the guest but not found (first, count): {:?}",
                runs(&missed)
            ));
        }
    }
    c
}

/// Compares dma-sectors' `--extents -o jsonl` with the runs of
/// [`expected_sectors`]; returns the differences.
pub fn compare_extents(extents: &[Value]) -> Vec<String> {
    let (reads, writes) = expected_sectors();
    let mut want: Vec<(String, u64, u64)> = Vec::new();
    for (op, set) in [("read", &reads), ("write", &writes)] {
        want.extend(runs(set).into_iter().map(|(s, n)| (op.to_string(), s, n)));
    }
    // QEMU's own read of LBA 0 when it attaches the disk is an extent of
    // its own (origin qemu); the guest's extents are the ground truth's.
    let mut problems = Vec::new();
    for e in extents.iter().filter(|e| e["origin"] != "guest") {
        if e["origin"] != "qemu" || e["op"] != "read" || e["sector"] != 0 || e["sectors"] != 1 {
            problems.push(format!("an extent that is not the guest's: {e}"));
        }
    }
    let got: Vec<(String, u64, u64)> = extents
        .iter()
        .filter(|e| e["origin"] == "guest")
        .map(|e| {
            (
                e["op"].as_str().unwrap_or("?").to_string(),
                e["sector"].as_u64().unwrap_or(u64::MAX),
                e["sectors"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    let (mut g, mut wnt) = (got.clone(), want.clone());
    g.sort();
    wnt.sort();
    if g != wnt {
        problems.push(format!(
            "extents (op, sector, sectors): got {got:?}, expected {want:?}"
        ));
    }
    for e in extents {
        if e["disk"] != "disk0" {
            problems.push(format!("extent on disk {}", e["disk"]));
        }
    }
    problems
}

/// Checks the disk image after the run: every sector boot.asm wrote holds the
/// pattern (so the writes went where the ground truth says).
pub fn check_written_image(image: &Path) -> Vec<String> {
    let data = std::fs::read(image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    let mut problems = Vec::new();
    for op in BOOT_OPS.iter().filter(|o| o.write) {
        let len = usize::from(op.count) * 512;
        let at = op.lba as usize * 512;
        if data.get(at..at + len) != Some(&pattern(len)[..]) {
            problems.push(format!(
                "disk image: LBA {} + {} does not hold the pattern boot.asm wrote",
                op.lba, op.count
            ));
        }
    }
    problems
}

/// The trace events the DMA tests enable on `qemu`: every event
/// dma-sectors reads for IDE (DMA and PIO) and AHCI, plus the commands for
/// context. QEMU 8.0 renamed `ide_exec_cmd` to `ide_bus_exec_cmd` (QEMU
/// warns about a name it does not have); `*ncq*` covers 8.0's
/// `execute_ncq_command_write` too.
pub fn dma_events(qemu: &Qemu) -> Vec<&'static str> {
    let exec = if qemu.at_least(8, 0) {
        "ide_bus_exec_cmd"
    } else {
        "ide_exec_cmd"
    };
    let mut events = DMA_EVENTS.to_vec();
    events.insert(3, exec);
    events
}

/// [`dma_events`] without the IDE command event, whose name depends on the
/// QEMU version.
const DMA_EVENTS: &[&str] = &[
    "ide_dma_cb",
    "ide_sector_read",
    "ide_sector_write",
    "dma_blk_io",
    "dma_complete",
    "blk_co_preadv",
    "blk_co_pwritev",
    "blk_root_attach",
    "ahci_start_dma",
    "*ncq*",
];

/// The key combos the PS/2 test types, as `send-key` takes them: lowercase
/// letters, shifted symbols (left and right Shift), Enter, arrows, the
/// keypad, right-side modifiers, Print Screen (alone, with Shift, Alt =
/// SysRq, Ctrl), Pause (alone and Ctrl = Break) and other special keys.
/// Nothing SeaBIOS acts on drastically (no Ctrl+Alt+Delete).
pub const KEY_COMBOS: &[&str] = &[
    "t",
    "h",
    "e",
    "spc",
    "q",
    "u",
    "i",
    "c",
    "k",
    "spc",
    "b",
    "r",
    "o",
    "w",
    "n",
    "spc",
    "f",
    "o",
    "x",
    "spc",
    "j",
    "u",
    "m",
    "p",
    "s",
    "spc",
    "o",
    "v",
    "e",
    "r",
    "spc",
    "t",
    "h",
    "e",
    "spc",
    "l",
    "a",
    "z",
    "y",
    "spc",
    "d",
    "o",
    "g",
    "shift-1",
    "shift-2",
    "shift-slash",
    "shift-semicolon",
    "shift-apostrophe",
    "shift-equal",
    "shift-minus",
    "shift-bracket_left",
    "shift-grave_accent",
    "shift_r-9",
    "shift_r-0",
    "shift-a",
    "shift_r-z",
    "ret",
    "up",
    "down",
    "left",
    "right",
    "shift-right",
    "kp_0",
    "kp_5",
    "kp_9",
    "kp_add",
    "kp_subtract",
    "kp_multiply",
    "kp_divide",
    "kp_decimal",
    "kp_enter",
    "ctrl_r-c",
    "alt_r-f",
    "ctrl_r-alt_r-x",
    "meta_r-r",
    "shift_r-ctrl_r-home",
    "print",
    "shift-print",
    "alt-print",
    "ctrl-print",
    "pause",
    "ctrl-pause",
    "esc",
    "tab",
    "backspace",
    "f1",
    "f12",
    "insert",
    "delete",
    "home",
    "end",
    "pgup",
    "pgdn",
    "ret",
];

/// The first line [`KEY_COMBOS`] type on a US keyboard.
pub const TYPED_FIRST_LINE: &str = "the quick brown fox jumps over the lazy dog!@?:\"+_{~()AZ";

/// The key events `send-key` makes of `combos`: each combo's keys pressed in
/// order and released in reverse. QEMU's PS/2 keyboard sends nothing when
/// Pause is released without Ctrl, so that release is absent.
pub fn expected_key_events(combos: &[&str]) -> Vec<(String, String)> {
    let mut events = Vec::new();
    for combo in combos {
        let keys: Vec<&str> = combo.split('-').collect();
        let ctrl = keys.iter().any(|k| matches!(*k, "ctrl" | "ctrl_r"));
        for k in &keys {
            events.push(("press".to_string(), k.to_string()));
        }
        for k in keys.iter().rev() {
            if *k == "pause" && !ctrl {
                continue;
            }
            events.push(("release".to_string(), k.to_string()));
        }
    }
    events
}

/// The extra QEMU arguments of a PCI test machine: a few devices on the root
/// bus and a PCI bridge with devices behind it (pc: pci-bridge; q35: two
/// PCIe root ports, one with a device, one with a PCIe-to-PCI bridge and
/// two devices behind it), plus the boot disk `disk` (pci-scan.bin) on IDE
/// (pc) or AHCI (q35).
pub fn pci_devices(machine: &str, disk: &Path) -> Vec<OsString> {
    let mut drive = OsString::from("file=");
    drive.push(disk);
    drive.push(",format=raw,if=none,id=d0");
    let mut a: Vec<OsString> = vec![
        "-drive".into(),
        drive,
        "-device".into(),
        "ide-hd,drive=d0,bus=ide.0".into(),
    ];
    let devices: &[&str] = if machine == "q35" {
        &[
            "VGA",
            "virtio-rng-pci",
            "qemu-xhci",
            "pcie-root-port,id=rp1,chassis=1,slot=1,addr=1c.0,multifunction=on",
            "pcie-root-port,id=rp2,chassis=2,slot=2,addr=1c.1",
            "virtio-rng-pci,bus=rp1",
            "pcie-pci-bridge,id=pb1,bus=rp2",
            "lsi53c895a,bus=pb1,addr=1.0",
            "virtio-rng-pci,bus=pb1,addr=2.0",
        ]
    } else {
        &[
            "VGA",
            "virtio-rng-pci",
            "lsi53c895a",
            "qemu-xhci",
            "pci-bridge,id=br1,chassis_nr=1,addr=8.0",
            "virtio-rng-pci,bus=br1,addr=1.0",
            "lsi53c895a,bus=br1,addr=3.0",
        ]
    };
    for d in devices {
        a.push("-device".into());
        a.push((*d).into());
    }
    a
}

/// What [`compare_pci`] checked.
#[derive(Debug, Default)]
pub struct PciComparison {
    /// Functions in query-pci.
    pub functions: usize,
    /// BARs compared (index, kind, size, and address when mapped).
    pub bars: usize,
    /// Subsystem ids compared.
    pub subsystems: usize,
    /// Every difference.
    pub problems: Vec<String>,
}

fn flatten_query_pci<'a>(devices: &'a [Value], out: &mut Vec<&'a Value>) {
    for d in devices {
        out.push(d);
        if let Some(behind) = d["pci_bridge"]["devices"].as_array() {
            flatten_query_pci(behind, out);
        }
    }
}

/// pci-table's name for a query-pci region's kind.
fn bar_kind(region: &Value) -> String {
    if region["bar"] == 6 {
        return "rom".into();
    }
    if region["type"] == "io" {
        return "io".into();
    }
    let bits = if region["mem_type_64"] == true {
        "mem64"
    } else {
        "mem32"
    };
    if region["prefetch"] == true {
        format!("{bits}-pref")
    } else {
        bits.into()
    }
}

/// Compares pci-table's records (`-o jsonl`) with QMP `query-pci`: the same
/// functions (bus/slot/function); per function the vendor and device ids,
/// class (query-pci's class is pci-table's without the programming
/// interface), IRQ pin, IRQ line (query-pci's `irq`, where it has one), the
/// subsystem ids (where query-pci has them: header type 0), and the BARs
/// (index, kind, size; address where QEMU has it mapped).
pub fn compare_pci(query_pci: &Value, table: &[Value]) -> PciComparison {
    let mut c = PciComparison::default();
    let mut functions = Vec::new();
    for bus in query_pci.as_array().map(Vec::as_slice).unwrap_or_default() {
        flatten_query_pci(
            bus["devices"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &mut functions,
        );
    }
    c.functions = functions.len();
    let mut seen = BTreeSet::new();
    for d in functions {
        let bdf = format!(
            "{:02x}:{:02x}.{:x}",
            d["bus"].as_u64().unwrap_or(999),
            d["slot"].as_u64().unwrap_or(999),
            d["function"].as_u64().unwrap_or(999)
        );
        seen.insert(bdf.clone());
        let Some(t) = table.iter().find(|t| t["bdf"] == bdf.as_str()) else {
            c.problems
                .push(format!("{bdf}: in query-pci, not in pci-table"));
            continue;
        };
        let mut same = |what: &str, theirs: &Value, ours: &Value| {
            if theirs != ours {
                c.problems.push(format!(
                    "{bdf}: {what}: query-pci {theirs}, pci-table {ours}"
                ));
            }
        };
        same("vendor", &d["id"]["vendor"], &t["vendor_id"]);
        same("device", &d["id"]["device"], &t["device_id"]);
        same(
            "class",
            &d["class_info"]["class"],
            &t["class"].as_u64().map_or(Value::Null, |c| (c >> 8).into()),
        );
        same("irq pin", &d["irq_pin"], &t["irq_pin"]);
        if !d["irq"].is_null() {
            same("irq line", &d["irq"], &t["irq_line"]);
        }
        if !d["id"]["subsystem"].is_null() {
            same(
                "subsystem vendor",
                &d["id"]["subsystem-vendor"],
                &t["subsystem_vendor_id"],
            );
            same("subsystem", &d["id"]["subsystem"], &t["subsystem_id"]);
            c.subsystems += 1;
        }
        let regions = d["regions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let bars = t["bars"].as_array().map(Vec::as_slice).unwrap_or_default();
        for region in regions {
            c.bars += 1;
            let index = &region["bar"];
            let Some(bar) = bars.iter().find(|b| &b["index"] == index) else {
                c.problems.push(format!(
                    "{bdf}: BAR {index} ({}) not in pci-table",
                    bar_kind(region)
                ));
                continue;
            };
            let mut same = |what: &str, theirs: &Value, ours: &Value| {
                if theirs != ours {
                    c.problems.push(format!(
                        "{bdf}: BAR {index} {what}: query-pci {theirs}, pci-table {ours}"
                    ));
                }
            };
            same("kind", &bar_kind(region).into(), &bar["kind"]);
            same("size", &region["size"], &bar["size"]);
            // -1: QEMU has it unmapped (a disabled ROM): the register still
            // holds the address the firmware gave it.
            if region["address"] != -1 {
                same("address", &region["address"], &bar["address"]);
            }
        }
        for bar in bars {
            if !regions.iter().any(|r| r["bar"] == bar["index"]) {
                c.problems.push(format!(
                    "{bdf}: BAR {} in pci-table, not in query-pci: {bar}",
                    bar["index"]
                ));
            }
        }
    }
    for t in table {
        let bdf = t["bdf"].as_str().unwrap_or("?");
        if !seen.contains(bdf) {
            c.problems
                .push(format!("{bdf}: in pci-table, not in query-pci"));
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_of_get_qemu_are_read() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = dir.path().join("qemu.env");
        std::fs::write(
            &file,
            "name=10.0\nversion=1:10.0.2\nbinary=/q/bin/qemu\nfirmware=/q/a:/q/b\n\
             module_dir=/q/mod\ntrace_events=/q/te\nfuture_key=x\n",
        )
        .expect("written");
        let q = read_description("ten", &file).expect("read");
        assert_eq!(q.name, "ten");
        assert_eq!(q.binary, Path::new("/q/bin/qemu"));
        assert_eq!(q.firmware, [Path::new("/q/a"), Path::new("/q/b")]);
        assert_eq!(q.module_dir.as_deref(), Some(Path::new("/q/mod")));
        assert_eq!(q.trace_events.as_deref(), Some(Path::new("/q/te")));
        let args: Vec<String> = q
            .capture_args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--qemu",
                "/q/bin/qemu",
                "--firmware",
                "/q/a",
                "--firmware",
                "/q/b",
                "--module-dir",
                "/q/mod"
            ]
        );
        std::fs::write(&file, "firmware=\nmodule_dir=\n").expect("written");
        assert!(read_description("x", &file).is_err(), "no binary");
        std::fs::write(&file, "binary=/b\nfirmware=\nmodule_dir=\n").expect("written");
        let q = read_description("x", &file).expect("read");
        assert!(q.firmware.is_empty() && q.module_dir.is_none() && q.trace_events.is_none());
    }

    #[test]
    fn expected_sectors_follow_the_ops() {
        let (reads, writes) = expected_sectors();
        assert_eq!(
            runs(&reads),
            [
                (0, 2),
                (63, 8),
                (1000, 16),
                (2048, 2),
                (3000, 16),
                (8191, 1)
            ]
        );
        assert_eq!(runs(&writes), [(2048, 2), (3000, 16), (4000, 1)]);
        assert!(
            BOOT_OPS
                .iter()
                .all(|o| u64::from(o.lba) + u64::from(o.count) <= DISK_SECTORS)
        );
    }

    #[test]
    fn key_events_of_combos() {
        let ev = expected_key_events(&["shift-a", "pause", "ctrl-pause"]);
        let flat: Vec<String> = ev.iter().map(|(a, k)| format!("{a} {k}")).collect();
        assert_eq!(
            flat,
            [
                "press shift",
                "press a",
                "release a",
                "release shift",
                "press pause",
                "press ctrl",
                "press pause",
                "release pause",
                "release ctrl"
            ]
        );
    }

    #[test]
    fn pattern_matches_boot_asm() {
        // Byte 0x100: (0 * 7 + 1) ^ 0x5a; byte 0x25: (0x25 * 7 = 0x103 -> 0x03) ^ 0x5a.
        let p = pattern(0x200);
        assert_eq!(
            (p[0], p[1], p[0x25], p[0x100]),
            (0x5a, 0x5d, 0x03 ^ 0x5a, 0x01 ^ 0x5a)
        );
    }

    #[test]
    fn compare_pci_reports_differences() {
        let q: Value = serde_json::json!([{"bus": 0, "devices": [{
            "bus": 0, "slot": 3, "function": 0, "irq_pin": 1, "irq": 11,
            "class_info": {"class": 512}, "id": {"vendor": 32902, "device": 4110,
            "subsystem": 4352, "subsystem-vendor": 6900},
            "regions": [{"bar": 0, "type": "memory", "mem_type_64": false, "prefetch": false,
                         "size": 131072, "address": 4272160768u64}]}]}]);
        let good = serde_json::json!({"bdf": "00:03.0", "vendor_id": 32902, "device_id": 4110,
            "class": 131072, "irq_pin": 1, "irq_line": 11, "subsystem_vendor_id": 6900,
            "subsystem_id": 4352, "bars": [{"index": 0, "kind": "mem32", "size": 131072,
            "address": 4272160768u64}]});
        let c = compare_pci(&q, std::slice::from_ref(&good));
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!((c.functions, c.bars, c.subsystems), (1, 1, 1));
        let mut bad = good.clone();
        bad["bars"][0]["size"] = 65536.into();
        bad["subsystem_id"] = Value::Null;
        let c = compare_pci(&q, &[bad]);
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
    }
}
