//! qtrace-testkit: what the process-level tests of the four tools
//! (`crates/*/tests/cli.rs`) share. A [`Tool`] runs a tool binary with no
//! user catalog from the environment, and holds the checks every Unix
//! filter here must pass the same way: a quiet success when the reader of
//! its output goes away (but an exit status of 2 when an error came
//! first), an error when its stdout is closed, output that arrives line by line with
//! `--line-buffered` while the input is still open, and `--help`,
//! `--version` and `--generate` that work.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a check waits for output that should come at once, before it
/// fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);

/// A file of the shared test data (`tests/data/REL`).
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

/// One tool binary under test.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// Its name, as `--version` prints it.
    pub name: &'static str,
    /// Its path (`env!("CARGO_BIN_EXE_<name>")` in the tool's tests).
    pub bin: &'static str,
    /// Arguments every run starts with (e.g. `--no-installed-catalog`).
    pub args: &'static [&'static str],
}

impl Tool {
    /// A command running the tool; hermetic: no user catalog from the
    /// environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(self.bin);
        c.env_remove("QTRACE_TRACE_EVENTS").args(self.args);
        c
    }

    /// The same as a `std` command, for tests that talk to the process
    /// while it runs.
    pub fn spawnable(&self) -> Command {
        let mut c = Command::new(self.bin);
        c.env_remove("QTRACE_TRACE_EVENTS").args(self.args);
        c
    }

    /// Runs with `args` and `stdin`; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let out = self.cmd().args(args).write_stdin(stdin).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Checks that the tool, run with `args` on `input` (whose output must
    /// be far bigger than a pipe buffer), exits 0 with nothing on stderr
    /// when its reader goes away after the first 100 bytes, as `| head`
    /// does.
    pub fn assert_broken_pipe_is_quiet(&self, args: &[&str], input: &Path) {
        let mut child = self
            .spawnable()
            .args(args)
            .arg(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 100];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{} {args:?}", self.name);
        assert!(
            out.stderr.is_empty(),
            "{} {args:?}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Checks that an error reported before the reader of the output goes
    /// away still makes the exit status 2, as grep's does: the tool runs
    /// with `args`, a file that does not exist, then `input` (whose output
    /// must be far bigger than a pipe buffer), and its reader leaves after
    /// the first 100 bytes. Its stderr names the missing file and nothing
    /// else: the broken pipe itself stays quiet.
    pub fn assert_error_then_broken_pipe_exits_2(&self, args: &[&str], input: &Path) {
        let missing = "no-such-trace.log";
        let mut child = self
            .spawnable()
            .args(args)
            .arg(missing)
            .arg(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 100];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{} {args:?}: {stderr}",
            self.name
        );
        assert_eq!(
            stderr.lines().collect::<Vec<_>>(),
            [format!(
                "{}: {missing}: No such file or directory (os error 2)",
                self.name
            )],
            "{} {args:?}",
            self.name
        );
    }

    /// Checks that with its stdout closed (`tool >&-`) the tool, run with
    /// `args` on `input` (which must give some output), fails as `cat`
    /// does: exit status 2 and `TOOL: error writing output: Bad file
    /// descriptor` on stderr, instead of discarding its output.
    pub fn assert_closed_stdout_is_an_error(&self, args: &[&str], input: &Path) {
        let out = Command::new("sh")
            .arg("-c")
            .arg("\"$@\" >&-")
            .arg("sh")
            .arg(self.bin)
            .args(self.args)
            .args(args)
            .arg(input)
            .env_remove("QTRACE_TRACE_EVENTS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{} {args:?} >&-: {stderr}",
            self.name
        );
        assert!(
            stderr.contains(&format!(
                "{}: error writing output: Bad file descriptor",
                self.name
            )),
            "{} {args:?} >&-: {stderr}",
            self.name
        );
    }

    /// Checks that the tool, run with `args` and given `input` on a stdin
    /// that stays open, writes `want` at once (and then exits 0 when stdin
    /// closes). Waits at most 30 s, so a regression fails instead
    /// of hanging.
    pub fn assert_output_before_input_ends(&self, args: &[&str], input: &[u8], want: &str) {
        let mut child = self
            .spawnable()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        stdin.flush().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let len = want.len();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; len];
            let r = stdout.read_exact(&mut buf).map(|()| buf);
            let _ = tx.send(r);
        });
        let got = rx.recv_timeout(PATIENCE);
        let Ok(Ok(buf)) = got else {
            let _ = child.kill();
            panic!(
                "{} {args:?}: no output while stdin stays open: {got:?}",
                self.name
            );
        };
        assert_eq!(
            String::from_utf8_lossy(&buf),
            want,
            "{} {args:?}",
            self.name
        );
        drop(stdin);
        assert!(child.wait().unwrap().success(), "{} {args:?}", self.name);
    }

    /// Checks `--help` (exit 0, and it mentions each of `help_has`),
    /// `--version` (`NAME VERSION`) and `--generate` of a man page and the
    /// bash, zsh and fish completions (each names the tool; roff may
    /// escape its hyphens).
    pub fn assert_help_version_and_generate(&self, help_has: &[&str]) {
        let out = self.cmd().arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{} --help", self.name);
        let help = String::from_utf8_lossy(&out.stdout);
        for want in help_has {
            assert!(
                help.contains(want),
                "{} --help lacks {want:?}: {help}",
                self.name
            );
        }
        let out = self.cmd().arg("--version").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{} --version", self.name);
        let version = String::from_utf8_lossy(&out.stdout);
        assert!(
            version.starts_with(&format!("{} ", self.name)),
            "{} --version: {version}",
            self.name
        );
        for what in ["man", "bash", "zsh", "fish"] {
            let out = self.cmd().args(["--generate", what]).output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{} --generate {what}",
                self.name
            );
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(self.name) || text.contains(&self.name.replace('-', "\\-")),
                "{} --generate {what}",
                self.name
            );
        }
    }
}
