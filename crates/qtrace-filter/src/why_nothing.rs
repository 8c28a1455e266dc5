//! The lines on stderr that say why a run selected nothing, or that a
//! pattern names no event at all: `no event is called 'pci_cfg_raed' (did
//! you mean pci_cfg_read?)`, `no pci_cfg_read events in 3,612 lines (the
//! input holds: ps2_put_keycode (900), ...)`.
//!
//! Everything here runs once, at the end of a run: the nearest names are
//! computed only for a pattern that matched nothing, and the inputs are read
//! a second time (a [`Census`], regular files only) only when nothing was
//! selected.

use qtrace_core::catalog::Catalog;
use qtrace_core::census::{Census, count_lines, shown_name, thousands};
use qtrace_core::glob::{Selection, glob_match};
use qtrace_core::input::Input;
use qtrace_core::suggest::nearest;

use crate::Args;

/// Names suggested for a pattern at most.
const SUGGESTED: usize = 3;
/// Names the input holds shown at most.
const SHOWN: usize = 3;

/// What a run did, for the explanation.
pub(crate) struct Run<'a> {
    pub args: &'a Args,
    pub selection: &'a Selection,
    pub catalog: &'a Catalog,
    pub inputs: &'a [Input],
    /// Lines the scan counted.
    pub lines: u64,
    /// Events the scan counted.
    pub events: u64,
    /// Events whose name the selection matched.
    pub name_matched: u64,
    /// Every event name the scan saw that a pattern can match, when the scan
    /// was complete (not stopped by -m, no name past the cap).
    pub seen: Option<Vec<&'a [u8]>>,
}

impl Run<'_> {
    /// The lines to print (none when there is nothing to say): one per
    /// pattern that names no event, and when nothing was selected, why.
    pub fn explain(&self, found: bool) -> Vec<String> {
        let census = if found {
            None
        } else {
            let max_line = self.args.input.scan_options().max_line;
            Census::take(self.catalog, self.inputs, max_line)
        };
        let mut lines = Vec::new();
        let mut unknown_includes = 0;
        if let Some(seen) = &self.seen {
            let catalog_names = self.catalog.names();
            let patterns = self.selection.includes().iter().map(|p| (p, true));
            let patterns = patterns.chain(self.selection.excludes().iter().map(|p| (p, false)));
            for (pat, include) in patterns {
                let named = |n: &[u8]| glob_match(pat, n);
                if seen.iter().any(|n| named(n))
                    || catalog_names.iter().any(|n| named(n.as_bytes()))
                {
                    continue;
                }
                unknown_includes += usize::from(include);
                // The names the input holds first, most common first.
                let input_names: Vec<&[u8]> = match &census {
                    Some(c) => c.most_common().into_iter().map(|(n, _)| n).collect(),
                    None => seen.clone(),
                };
                let candidates = input_names
                    .into_iter()
                    .chain(catalog_names.iter().map(|n| n.as_bytes()));
                let near = nearest(pat, candidates, SUGGESTED);
                lines.push(no_such_event(pat, &near));
            }
        }
        if found
            || (unknown_includes > 0
                && unknown_includes == self.selection.includes().len()
                && !self.args.invert)
        {
            return lines;
        }
        lines.push(self.why_empty(census.as_ref()));
        lines
    }

    /// Why nothing was selected, when the patterns name real events.
    fn why_empty(&self, census: Option<&Census>) -> String {
        let what = selection_text(self.selection);
        let many = self.inputs.len() > 1;
        let lines = census.map_or(self.lines, Census::lines);
        if lines == 0 {
            let empty = if many {
                "the inputs are empty"
            } else {
                "the input is empty"
            };
            return format!("no {what} events: {empty}");
        }
        let in_lines = count_lines(lines);
        let events = census.map_or(self.events, Census::events);
        let filters = self.filters();
        if self.args.invert {
            if self.name_matched == events && filters.is_empty() {
                if self.selection.is_everything() {
                    return format!("-v '{what}' leaves out all events of {in_lines}");
                }
                return format!(
                    "every event in {in_lines} is a {what} event, and -v selects the others"
                );
            }
            return format!("no event in {in_lines} passed -v{}", filters);
        }
        if self.name_matched > 0 {
            return format!(
                "none of the {} {what} events in {in_lines} passed{}",
                thousands(self.name_matched),
                if filters.is_empty() {
                    " -m 0".to_string()
                } else {
                    filters
                }
            );
        }
        let Some(c) = census else {
            return format!("no {what} events in {in_lines}");
        };
        if c.events() == 0 {
            let is = if lines == 1 {
                "its only line is not".to_string()
            } else {
                format!("none of the {} lines is", thousands(lines))
            };
            return format!("no {what} events: {is} a QEMU trace event");
        }
        let common = c.most_common();
        let names: Vec<String> = common
            .iter()
            .take(SHOWN)
            .map(|(n, k)| format!("{} ({})", shown_name(n), thousands(*k)))
            .collect();
        let more = if common.len() > SHOWN { ", ..." } else { "" };
        let hold = if many {
            "the inputs hold"
        } else {
            "the input holds"
        };
        format!(
            "no {what} events in {in_lines} ({hold}: {}{more})",
            names.join(", ")
        )
    }

    /// The options besides the patterns that leave events out, as typed
    /// (each after a space).
    fn filters(&self) -> String {
        let mut s = String::new();
        for w in &self.args.wheres {
            s.push_str(&format!(" -w '{w}'"));
        }
        if let Some(t) = &self.args.since {
            s.push_str(&format!(" --since {t}"));
        }
        if let Some(t) = &self.args.until {
            s.push_str(&format!(" --until {t}"));
        }
        s
    }
}

/// `no event is called 'X' (did you mean A, B?)`, or `no event matches` a
/// glob.
fn no_such_event(pat: &[u8], near: &[&[u8]]) -> String {
    let is_glob = pat.iter().any(|&c| c == b'*' || c == b'?');
    let head = if is_glob {
        format!("no event matches '{}'", shown_name(pat))
    } else {
        format!("no event is called '{}'", shown_name(pat))
    };
    if near.is_empty() {
        return format!("{head} (--list shows the catalog's events)");
    }
    let near: Vec<String> = near.iter().map(|n| shown_name(n)).collect();
    format!("{head} (did you mean {}?)", near.join(", "))
}

/// The selection as written: `pci_cfg_read`, `pci_*,-pci_nvme_*`.
fn selection_text(sel: &Selection) -> String {
    let inc = sel.includes().iter().map(|p| shown_name(p));
    let exc = sel.excludes().iter().map(|p| format!("-{}", shown_name(p)));
    let all: Vec<String> = inc.chain(exc).collect();
    if all.is_empty() {
        "*".to_string()
    } else {
        all.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_named_with_the_nearest_names() {
        assert_eq!(
            no_such_event(b"pci_cfg_raed", &[b"pci_cfg_read"]),
            "no event is called 'pci_cfg_raed' (did you mean pci_cfg_read?)"
        );
        assert_eq!(
            no_such_event(b"pci_cgf_*", &[b"pci_cfg_read", b"pci_cfg_write"]),
            "no event matches 'pci_cgf_*' (did you mean pci_cfg_read, pci_cfg_write?)"
        );
        assert_eq!(
            no_such_event(b"zzz", &[]),
            "no event is called 'zzz' (--list shows the catalog's events)"
        );
    }

    #[test]
    fn selections_are_shown_as_written() {
        let mut s = Selection::all();
        s.add("pci_*,-pci_nvme_*");
        assert_eq!(selection_text(&s), "pci_*,-pci_nvme_*");
        let mut s = Selection::all();
        s.add("-ahci_*");
        assert_eq!(selection_text(&s), "-ahci_*");
        assert_eq!(shown_name(b"a\x01b"), "a\\u{1}b");
    }
}
