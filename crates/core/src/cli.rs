//! Process policy for every tool, in one place: argument groups shared by the
//! tools, exit codes, error printing, broken pipes, buffering, final flush,
//! man pages and shell completions.
//!
//! A tool's `main` is one call: `run_main::<Args, _>("tool", tool::run)`.
//! Exit status: 0 when the run found or decoded something, 1 when it found
//! nothing, 2 when any error was reported (even after output), including
//! usage errors. A closed output pipe (`tool | head`) ends the run quietly,
//! with status 0, or 2 when an error was reported before it (as grep
//! does). Any other write error is an error (status 2), a closed stdout
//! (`tool >&-`) included, once the tool has something to write (see
//! [`crate::output`]).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, ValueEnum};

use crate::catalog::{Catalog, CatalogOptions};
use crate::error::{Error, Result};
use crate::follow::Follow;
use crate::input::Input;
use crate::lines::DEFAULT_MAX_LINE;
use crate::output::{BufferMode, Stdout, stdout};
use crate::scan::{Diag, ScanOptions};

/// What a run found, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Something was selected or decoded (exit 0, unless errors were reported).
    Found,
    /// Nothing was (exit 1, unless errors were reported).
    NothingFound,
}

impl Status {
    /// `Found` when `found` is true.
    pub fn from_found(found: bool) -> Status {
        if found {
            Status::Found
        } else {
            Status::NothingFound
        }
    }
}

/// Inputs and catalog options, shared by every tool.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Input")]
pub struct InputArgs {
    /// Trace files to read ('-' or none: standard input). gzip and zstd files
    /// are decompressed transparently.
    #[arg(value_name = "FILE")]
    pub files: Vec<OsString>,

    /// A QEMU trace-events catalog to decode events with (repeatable; tried
    /// before $QTRACE_TRACE_EVENTS, the installed trace-events-all and the
    /// built-in specs).
    #[arg(long = "trace-events", value_name = "FILE")]
    pub trace_events: Vec<PathBuf>,

    /// Do not read QEMU's installed catalog (/usr/share/qemu/trace-events-all).
    #[arg(long)]
    pub no_installed_catalog: bool,

    /// Longest line accepted, in bytes (at most 1 GiB); longer lines are
    /// reported and skipped.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE)]
    pub max_line_len: usize,

    /// Follow FILE as QEMU writes it, like `tail -n +1 -F`: read it from the
    /// start, then print each new line as its newline arrives (output is
    /// line-buffered). A replaced or truncated file is read anew. Ends on
    /// SIGINT/SIGTERM (or when --pid's process has exited and FILE is read
    /// to its end), then finishes as usual (tables, summaries). One plain
    /// file only: not standard input, nor gzip, zstd or simple traces.
    #[arg(long)]
    pub follow: bool,

    /// With --follow: stop once process PID (QEMU) has exited and FILE has
    /// been read to its end.
    #[arg(long, value_name = "PID", requires = "follow")]
    pub pid: Option<u32>,
}

impl InputArgs {
    /// The inputs named (standard input when none); with `--follow`, an
    /// error unless they are one file that can be followed.
    pub fn inputs(&self) -> Result<Vec<Input>> {
        self.inputs_from(&self.files)
    }

    /// The inputs `files` name, checked as [`inputs`](Self::inputs) checks
    /// them: for a tool whose positional arguments are not all files.
    pub fn inputs_from(&self, files: &[OsString]) -> Result<Vec<Input>> {
        let inputs = Input::from_args(files)?;
        if let Some(follow) = self.follow() {
            crate::follow::check(&inputs, &follow)?;
        }
        Ok(inputs)
    }

    /// What `--follow` and `--pid` ask for, when following.
    pub fn follow(&self) -> Option<Follow> {
        self.follow.then_some(Follow { pid: self.pid })
    }

    /// Loads the catalogs these arguments ask for and reports catalog warnings.
    pub fn catalog(&self, diag: &Diag) -> Result<Catalog> {
        let cat = Catalog::load(&CatalogOptions {
            files: self.trace_events.clone(),
            env: true,
            installed: !self.no_installed_catalog,
            builtin: true,
        })?;
        cat.report_warnings(diag);
        Ok(cat)
    }

    /// Scan options from these arguments.
    pub fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            max_line: self.max_line_len.max(1),
            follow: self.follow(),
            ..ScanOptions::default()
        }
    }
}

/// Output options shared by every tool.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Output")]
pub struct CommonArgs {
    /// Flush output after every line (the default when stdout is a terminal,
    /// and with --follow), e.g. for `qemu ... 2>&1 | tool --line-buffered`.
    #[arg(long)]
    pub line_buffered: bool,

    /// Print a man page or a shell completion script, then exit.
    #[arg(long, value_name = "WHAT")]
    pub generate: Option<Generate>,
}

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// A man page (roff).
    Man,
    /// bash completions.
    Bash,
    /// zsh completions.
    Zsh,
    /// fish completions.
    Fish,
    /// elvish completions.
    Elvish,
    /// PowerShell completions.
    Powershell,
}

/// Implemented by every tool's `Args` so the shared policy can find the
/// shared flags.
pub trait ToolArgs: Parser {
    /// The shared output flags.
    fn common(&self) -> &CommonArgs;
}

/// Everything a tool's `run` gets besides its arguments.
#[derive(Debug)]
pub struct Env<'a> {
    /// Where diagnostics go.
    pub diag: &'a mut Diag,
    /// Whether output should be flushed per line.
    pub line_buffered: bool,
}

/// Parses arguments, runs the tool, and turns the outcome into an exit code.
pub fn run_main<A, F>(tool: &'static str, run: F) -> ExitCode
where
    A: ToolArgs,
    F: FnOnce(&A, &mut Stdout, &mut Env<'_>) -> Result<Status>,
{
    let parsed = A::command().try_get_matches().and_then(|mut matches| {
        // Following a log means printing each row as it comes.
        let follow = matches.try_get_one::<bool>("follow").ok().flatten() == Some(&true);
        A::from_arg_matches_mut(&mut matches)
            .map(|a| (a, follow))
            .map_err(|e| e.format(&mut A::command()))
    });
    let (args, follow) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            // --help or --version with nowhere to print them.
            if let Some(closed) = (!e.use_stderr())
                .then(crate::output::closed_stdout)
                .flatten()
            {
                let _ = writeln!(std::io::stderr(), "{tool}: {}", Error::Output(closed));
                return ExitCode::from(2);
            }
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if let Some(what) = args.common().generate {
        let mut out = stdout(BufferMode::Block);
        let r =
            generate::<A>(tool, what, &mut out).and_then(|()| out.flush().map_err(Error::Output));
        return match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "{tool}: {e}");
                ExitCode::from(2)
            }
        };
    }
    let mode = BufferMode::detect(args.common().line_buffered || follow);
    let mut out = stdout(mode);
    let mut diag = Diag::new(tool);
    let mut env = Env {
        diag: &mut diag,
        line_buffered: mode == BufferMode::Line,
    };
    let result =
        run(&args, &mut out, &mut env).and_then(|s| out.flush().map(|()| s).map_err(Error::Output));
    match result {
        Ok(status) => {
            if diag.errors() > 0 {
                ExitCode::from(2)
            } else if status == Status::Found {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        // Nobody reads on: quiet, but errors reported before it still count.
        Err(e) if e.is_broken_pipe() => ExitCode::from(if diag.errors() > 0 { 2 } else { 0 }),
        Err(e) => {
            diag.error(&e);
            ExitCode::from(2)
        }
    }
}

/// Writes a man page or completion script for the tool's command.
pub fn generate<A: CommandFactory>(
    tool: &'static str,
    what: Generate,
    out: &mut dyn Write,
) -> Result<()> {
    let mut cmd = A::command().name(tool);
    use clap_complete::Shell;
    let shell = match what {
        Generate::Man => return crate::man::render(tool, cmd, out).map_err(Error::Output),
        Generate::Bash => Shell::Bash,
        Generate::Zsh => Shell::Zsh,
        Generate::Fish => Shell::Fish,
        Generate::Elvish => Shell::Elvish,
        Generate::Powershell => Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut cmd, tool, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Demo {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn shared_groups_are_valid_clap() {
        Demo::command().debug_assert();
        let d = Demo::try_parse_from(["demo", "a.log", "-", "--trace-events", "x"]).unwrap();
        assert_eq!(d.input.inputs().unwrap().len(), 2);
        assert_eq!(d.input.max_line_len, DEFAULT_MAX_LINE);
    }

    #[test]
    fn man_page_and_completions_render() {
        for what in [Generate::Man, Generate::Bash, Generate::Zsh, Generate::Fish] {
            let mut out = Vec::new();
            generate::<Demo>("demo", what, &mut out).unwrap();
            assert!(String::from_utf8_lossy(&out).contains("demo"), "{what:?}");
        }
    }
}
