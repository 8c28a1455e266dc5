//! The tools' man pages (`--generate man`): clap_mangen's title, name,
//! synopsis, description and options, then the sections a Unix man page
//! has and clap does not write: EXAMPLES and EXIT STATUS (from the tool's
//! `after_help` text), NOTES (its other paragraphs), ENVIRONMENT, FILES and
//! SEE ALSO.

use std::io::Write;

use clap::Command;

/// The four qtrace tools, for SEE ALSO.
const TOOLS: [&str; 4] = ["qtrace-filter", "ps2-decode", "pci-table", "dma-sectors"];

/// Writes the man page of `cmd` (named `tool`) to `out`.
pub fn render(tool: &str, cmd: Command, out: &mut dyn Write) -> std::io::Result<()> {
    let after = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    let sections = Sections::of(&after);
    if !sections.examples.is_empty() {
        section(out, "EXAMPLES")?;
        preformatted(out, &sections.examples)?;
    }
    section(out, "EXIT STATUS")?;
    paragraph(
        out,
        sections
            .exit_status
            .as_deref()
            .unwrap_or("0 if something was found, 1 if nothing was, 2 if an error occurred."),
    )?;
    paragraph(
        out,
        "As with grep, 2 wins: an error reported anywhere in the run gives 2, even \
         after output. A reader that goes away (a broken pipe, as with `| head`) \
         ends the run quietly without changing the status.",
    )?;
    section(out, "ENVIRONMENT")?;
    tagged(
        out,
        "QTRACE_TRACE_EVENTS",
        "A colon-separated list of trace-events catalogs to decode events with, tried \
         after --trace-events and before QEMU's installed catalog.",
    )?;
    tagged(
        out,
        "QTRACE_MAX_KEYS",
        "The cap on every table the tool keys by input data (keyboards, disks, PCI \
         functions, event names, ...) in place of its default. Past a cap the tool \
         stops tracking new keys, says so at the end and exits 2.",
    )?;
    section(out, "FILES")?;
    tagged(
        out,
        "/usr/share/qemu/trace-events-all",
        "QEMU's catalog of event formats (Debian's qemu-system-common); else \
         /usr/local/share/qemu/trace-events-all. --no-installed-catalog skips it. \
         The events the qtrace tools decode are also built in, in every variant \
         QEMU has printed.",
    )?;
    if !sections.notes.is_empty() {
        section(out, "NOTES")?;
        preformatted(out, &sections.notes)?;
    }
    section(out, "SEE ALSO")?;
    let mut see: Vec<String> = TOOLS
        .iter()
        .filter(|t| **t != tool)
        .map(|t| format!("{t}(1)"))
        .collect();
    see.extend(["qemu-system-x86_64(1)", "jq(1)"].map(String::from));
    if tool == "pci-table" {
        see.push("lspci(8)".into());
    }
    paragraph(out, &see.join(", "))?;
    if cmd.get_version().is_some() || cmd.get_long_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// The parts of a tool's `after_help` text: paragraphs separated by blank
/// lines; the one headed `Examples:` and the one starting `Exit status:`
/// have sections of their own, the others are notes.
#[derive(Debug, Default, PartialEq)]
struct Sections {
    examples: Vec<String>,
    exit_status: Option<String>,
    notes: Vec<String>,
}

impl Sections {
    fn of(text: &str) -> Sections {
        let mut s = Sections::default();
        for para in text
            .split("\n\n")
            .map(str::trim_end)
            .filter(|p| !p.trim().is_empty())
        {
            let mut lines = para.lines();
            let first = lines.next().unwrap_or_default();
            if first.trim() == "Examples:" {
                s.examples
                    .extend(lines.map(|l| l.strip_prefix("  ").unwrap_or(l).to_string()));
            } else if let Some(rest) = para.strip_prefix("Exit status:") {
                s.exit_status = Some(rest.split_whitespace().collect::<Vec<_>>().join(" "));
            } else {
                if !s.notes.is_empty() {
                    s.notes.push(String::new());
                }
                s.notes.extend(para.lines().map(String::from));
            }
        }
        s
    }
}

/// Roff text for one line: backslashes escaped, a leading `.` or `'`
/// protected, hyphens made minus signs (so options copy and paste).
fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    if line.starts_with('.') || line.starts_with('\'') {
        out.push_str("\\&");
    }
    for c in line.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            c => out.push(c),
        }
    }
    out
}

fn section(out: &mut dyn Write, name: &str) -> std::io::Result<()> {
    writeln!(out, ".SH \"{name}\"")
}

fn paragraph(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    writeln!(out, ".PP\n{}", escape(text))
}

fn tagged(out: &mut dyn Write, tag: &str, text: &str) -> std::io::Result<()> {
    writeln!(out, ".TP\n\\fB{}\\fR\n{}", escape(tag), escape(text))
}

fn preformatted(out: &mut dyn Write, lines: &[String]) -> std::io::Result<()> {
    writeln!(out, ".PP\n.nf")?;
    for l in lines {
        writeln!(out, "{}", escape(l))?;
    }
    writeln!(out, ".fi")
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: &str = "\
Examples:
  tool a.log
      what it does
  tool -x b.log | jq .

Input: anything, with a \\backslash
and a second line.

Exit status: 0 if a thing was found, 1 if none was,
2 if an error occurred.";

    #[test]
    fn after_help_splits_into_sections() {
        let s = Sections::of(AFTER);
        assert_eq!(
            s.examples,
            ["tool a.log", "    what it does", "tool -x b.log | jq ."]
        );
        assert_eq!(
            s.exit_status.as_deref(),
            Some("0 if a thing was found, 1 if none was, 2 if an error occurred.")
        );
        assert_eq!(
            s.notes,
            ["Input: anything, with a \\backslash", "and a second line."]
        );
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(escape(".start"), "\\&.start");
        assert_eq!(escape("'quote"), "\\&'quote");
        assert_eq!(escape("a\\b -x"), "a\\eb \\-x");
    }

    #[test]
    fn page_has_the_unix_sections_in_order() {
        let cmd = Command::new("pci-table")
            .about("demo")
            .arg(clap::Arg::new("file"))
            .after_help(AFTER);
        let mut out = Vec::new();
        render("pci-table", cmd, &mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("no {s} in\n{page}"));
        let order = [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH \"EXAMPLES\"",
            ".SH \"EXIT STATUS\"",
            ".SH \"ENVIRONMENT\"",
            ".SH \"FILES\"",
            ".SH \"NOTES\"",
            ".SH \"SEE ALSO\"",
        ];
        for w in order.windows(2) {
            assert!(at(w[0]) < at(w[1]), "{} before {}", w[0], w[1]);
        }
        assert!(page.contains("tool \\-x b.log | jq ."));
        assert!(page.contains("QTRACE_TRACE_EVENTS") && page.contains("QTRACE_MAX_KEYS"));
        assert!(page.contains("lspci(8)") && page.contains("qtrace\\-filter(1)"));
        assert!(!page.contains("pci\\-table(1)"), "no tool lists itself");
        assert!(!page.contains(".SH EXTRA"));
    }
}
