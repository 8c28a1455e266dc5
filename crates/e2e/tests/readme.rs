//! Runs every example of the README's "qtrace-filter examples" and "The other
//! tools" sections as a user would, in the checkout, with the workspace's
//! tool binaries first on PATH: each must exit 0, print something (or write
//! the file it names), and leave nothing behind in the checkout.
//!
//! The binaries are the ones `cargo test --workspace` builds beside this
//! test (each tool has its own integration tests, so cargo builds it); when
//! one is missing the test says so instead of running a stale or foreign
//! copy.

use std::path::{Path, PathBuf};
use std::process::Command;

use qtrace_e2e::{find_on_path, root};

const TOOLS: [&str; 4] = ["qtrace-filter", "ps2-decode", "pci-table", "dma-sectors"];

/// The commands of the README's example sections: code blocks only,
/// comments and blank lines dropped, `\`-continued lines joined.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut commands = Vec::new();
    let mut section_wanted = false;
    let mut in_code = false;
    let mut pending = String::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section_wanted = heading == "qtrace-filter examples" || heading == "The other tools";
            continue;
        }
        if line.starts_with("```") {
            in_code = !in_code && section_wanted;
            continue;
        }
        if !in_code {
            continue;
        }
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(trimmed);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// The folder holding this build's tool binaries.
fn tool_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/readme-HASH -> target/<profile>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps")
        .to_path_buf();
    for t in TOOLS {
        assert!(
            dir.join(t).is_file(),
            "{} not built; run `cargo test --workspace` (or `cargo build --bins`) first",
            dir.join(t).display()
        );
    }
    dir
}

fn git_status() -> Option<String> {
    let out = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn readme_examples_run_and_leave_nothing_behind() {
    let commands = readme_commands();
    assert!(commands.len() >= 15, "README examples: {commands:?}");
    assert!(
        commands[0].starts_with("out=$(mktemp -d)"),
        "the examples start by making their temporary folder: {:?}",
        commands[0]
    );
    let needed = ["bash", "jq", "lspci"];
    if let Some(missing) = needed.iter().find(|n| find_on_path(n).is_none()) {
        assert!(
            std::env::var_os("QTRACE_REQUIRE_TOOLS").is_none_or(|v| v != "1"),
            "{missing} not found, and QTRACE_REQUIRE_TOOLS=1 requires it"
        );
        eprintln!("SKIPPED README examples: {missing} not found on PATH");
        return;
    }
    let path = std::env::join_paths(std::iter::once(tool_dir()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let before = git_status();
    let out = tempfile::tempdir().unwrap();
    let mut ran = 0;
    let mut plot_only = 0;
    for cmd in &commands[1..] {
        // The live example needs a guest of the user's own.
        if cmd.starts_with("qemu-system-x86_64 ") {
            continue;
        }
        let run = Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; {cmd}"))
            .current_dir(root())
            .env("PATH", &path)
            .env("out", out.path())
            .env_remove("QTRACE_TRACE_EVENTS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        // `| head` may end a reader that is not ours (jq) with SIGPIPE: bash
        // then reports 128 + 13 for the pipeline; our own tools exit 0 on a
        // broken pipe, as each tool's CLI tests check.
        let sigpipe_ok = cmd.contains("| head") && run.status.code() == Some(141);
        assert!(
            run.status.success() || sigpipe_ok,
            "README example failed ({}): {cmd}\n{stderr}",
            run.status
        );
        let wrote = cmd
            .split('"')
            .filter(|w| w.starts_with("$out/"))
            .map(|w| out.path().join(&w["$out/".len()..]))
            .collect::<Vec<_>>();
        for f in &wrote {
            let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
            assert!(len > 0, "{cmd}: wrote nothing to {}", f.display());
        }
        assert!(
            !run.stdout.is_empty() || !wrote.is_empty(),
            "README example printed nothing: {cmd}"
        );
        // See: issue 22. `--plot` with no other output chosen writes only
        // the plot.
        let words: Vec<&str> = cmd.split_whitespace().collect();
        if words.contains(&"--plot")
            && !words.iter().any(|w| {
                ["--summary", "--extents", "--map", "-o"].contains(w) || w.starts_with("--output")
            })
        {
            assert!(
                run.stdout.is_empty(),
                "{cmd}: printed on stdout besides the plot: {} bytes",
                run.stdout.len()
            );
            plot_only += 1;
        }
        ran += 1;
    }
    assert!(ran >= 15, "only {ran} examples ran");
    assert!(plot_only >= 1, "no README example draws a plot alone");
    assert_eq!(
        git_status(),
        before,
        "the README examples left files behind in the checkout"
    );
}

#[test]
fn readme_commands_are_read_whole() {
    let commands = readme_commands();
    assert!(
        commands
            .iter()
            .any(|c| c.contains("-w 'dev~^e1000'") && c.contains("pci_cfg_write tests/data")),
        "a continued line is joined: {commands:?}"
    );
    assert!(
        commands
            .iter()
            .all(|c| !c.starts_with('#') && !c.ends_with('\\'))
    );
}
