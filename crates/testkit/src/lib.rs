//! qtrace-testkit: what the process-level tests of the four tools
//! (`crates/*/tests/cli.rs`) share. A [`Tool`] runs a tool binary with no
//! user catalog from the environment, and holds the checks every Unix
//! filter here must pass the same way: a quiet success when the reader of
//! its output goes away (but an exit status of 2 when an error came
//! first), an error when its stdout is closed, output that arrives line by line with
//! `--line-buffered` while the input is still open, and `--help`,
//! `--version` and `--generate` that work. [`Following`] talks to a tool
//! that follows a growing file (`--follow`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

    /// Checks that lines the tool cannot use change nothing but stderr: with
    /// `args`, `intact` runs cleanly (exit 0, empty stderr), and `damaged`
    /// (the same plus such lines) gives the same stdout, exit 0, and exactly
    /// `want_stderr`.
    pub fn assert_unused_lines_only_reported(
        &self,
        args: &[&str],
        intact: &str,
        damaged: &str,
        want_stderr: &str,
    ) {
        let (code, clean_out, clean_err) = self.run(args, intact);
        assert_eq!(
            (code, clean_err.as_str()),
            (0, ""),
            "{} {args:?}",
            self.name
        );
        let (code, out, err) = self.run(args, damaged);
        assert_eq!(out, clean_out, "{} {args:?}: stdout", self.name);
        assert_eq!(code, 0, "{} {args:?}", self.name);
        assert_eq!(err, want_stderr, "{} {args:?}: stderr", self.name);
    }

    /// Runs the tool with `args` and `files`, reads the first 100 bytes of
    /// its output, then closes the pipe (as `| head` does) and waits.
    fn output_read_then_closed(
        &self,
        args: &[&str],
        files: &[&std::ffi::OsStr],
    ) -> std::process::Output {
        let mut child = self
            .spawnable()
            .args(args)
            .args(files)
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
        child.wait_with_output().unwrap()
    }

    /// Checks that the tool, run with `args` on `input` (whose output must
    /// be far bigger than a pipe buffer), exits 0 with nothing on stderr
    /// when its reader goes away after the first 100 bytes, as `| head`
    /// does.
    pub fn assert_broken_pipe_is_quiet(&self, args: &[&str], input: &Path) {
        let out = self.output_read_then_closed(args, &[input.as_os_str()]);
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
        let out = self.output_read_then_closed(args, &[missing.as_ref(), input.as_os_str()]);
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

    /// Starts the tool with `args`, then `--follow` and `file`, its stdout
    /// and stderr read as they come; see [`Following`].
    pub fn follow(&self, args: &[&str], file: &Path) -> Following {
        let mut child = self
            .spawnable()
            .args(args)
            .arg("--follow")
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = stdout;
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        Following {
            what: format!("{} {args:?} --follow", self.name),
            child,
            rx,
            seen: Vec::new(),
        }
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

/// A tool following a file (from [`Tool::follow`]): what it printed so far
/// is checked step by step while the test writes to the file.
#[derive(Debug)]
pub struct Following {
    what: String,
    child: Child,
    rx: mpsc::Receiver<Vec<u8>>,
    /// Stdout received and not yet checked.
    seen: Vec<u8>,
}

/// How a followed run ended: exit code (`None` if a signal killed it),
/// what stdout had after the last check, stderr.
pub type Ended = (Option<i32>, String, String);

impl Following {
    /// The process id of the tool.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Checks that the tool's next output is exactly `want`, waiting at
    /// most 30 s for it (so a tool that holds output back fails instead of
    /// hanging).
    pub fn expect(&mut self, want: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.seen.len() < want.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => self.seen.extend(bytes),
                Err(_) => break,
            }
        }
        let n = want.len().min(self.seen.len());
        let got: Vec<u8> = self.seen.drain(..n).collect();
        assert_eq!(String::from_utf8_lossy(&got), want, "{}", self.what);
    }

    /// Checks that the tool prints nothing for `wait`.
    pub fn expect_nothing_for(&mut self, wait: Duration) {
        if let Ok(bytes) = self.rx.recv_timeout(wait) {
            self.seen.extend(bytes);
        }
        assert_eq!(
            String::from_utf8_lossy(&self.seen),
            "",
            "{}: output too early",
            self.what
        );
    }

    /// Sends SIGTERM (with `kill`) and waits for the tool to end.
    pub fn terminate(self) -> Ended {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM");
        self.wait()
    }

    /// Waits (at most 30 s) for the tool to end by itself.
    pub fn wait(mut self) -> Ended {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{}: still running after 30 s", self.what);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends at the end of stdout.
        while let Ok(bytes) = self.rx.recv_timeout(PATIENCE) {
            self.seen.extend(bytes);
        }
        let mut stderr = Vec::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_end(&mut stderr);
        }
        (
            status.code(),
            String::from_utf8_lossy(&self.seen).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        )
    }
}
