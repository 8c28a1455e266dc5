//! Key events as an HMP `sendkey` script: one `sendkey a`, `sendkey shift-a`
//! or `sendkey ctrl-alt-f2` line per combo, which QEMU's monitor replays by
//! pressing the keys in order and releasing them in reverse order.
//!
//! Folding: keys are kept in press order while held. When a key that was
//! pressed after the last combo is released, one combo is written: every key
//! held, in press order (so `shift` down, `a` down, `a` up gives
//! `sendkey shift-a`, and a later `b` under the same Shift gives
//! `sendkey shift-b`). Keys already written in a combo are then released
//! silently. A key QEMU never releases (Pause's `E1` sequence, Hangul/Hanja
//! on 8.0+) is written at once with the keys held. Presses that overlap
//! without nesting (`a` down, `b` down, `a` up) become one combo (`a-b`):
//! `sendkey` cannot say more. Every key press is replayed, with the same keys
//! held at that moment; only the order of releases may differ.

use crate::decode::Action;
use crate::keys::{self, Key};

/// Folds one keyboard's key events into `sendkey` lines.
#[derive(Debug, Default)]
pub struct Folder {
    /// Keys held, in press order, and whether a combo already included them.
    held: Vec<(Key, bool)>,
}

impl Folder {
    fn combo(&mut self, extra: Option<Key>, out: &mut Vec<String>) {
        let mut line = String::from("sendkey ");
        let mut first = true;
        for k in self.held.iter().map(|h| h.0).chain(extra) {
            if !first {
                line.push('-');
            }
            first = false;
            line.push_str(keys::name(k));
        }
        for h in &mut self.held {
            h.1 = true;
        }
        out.push(line);
    }

    /// Takes one event; complete combos are appended to `out`.
    pub fn event(&mut self, action: Action, key: Key, tap: bool, out: &mut Vec<String>) {
        let pos = self.held.iter().position(|h| h.0 == key);
        match action {
            Action::Press if tap => self.combo(Some(key), out),
            Action::Press => match pos {
                // A repeated press: the first press, then one more.
                Some(i) => {
                    if !self.held[i].1 {
                        self.combo(None, out);
                    }
                    self.combo(None, out);
                }
                None => {
                    // A held key that was used in a combo stays held.
                    self.held.push((key, false));
                }
            },
            Action::Release => {
                let Some(i) = pos else { return };
                if !self.held[i].1 {
                    self.combo(None, out);
                }
                self.held.remove(i);
            }
        }
    }

    /// Ends the stream: keys still held that no combo included are written.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        if self.held.iter().any(|h| !h.1) {
            self.combo(None, out);
        }
        self.held.clear();
    }
}

/// Parses a `sendkey` script back into the key events QEMU generates for it
/// (presses in order, releases in reverse order). Lines that are blank or
/// start with `#` are skipped; an unknown key name is an error.
pub fn parse(script: &str) -> Result<Vec<(Action, Key)>, String> {
    let mut out = Vec::new();
    for (n, line) in script.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        if words.next() != Some("sendkey") {
            return Err(format!("line {}: not a sendkey command", n + 1));
        }
        let combo = words
            .next()
            .ok_or_else(|| format!("line {}: no keys", n + 1))?;
        let keys: Vec<Key> = combo
            .split('-')
            .map(|name| {
                keys::by_name(name).ok_or_else(|| format!("line {}: unknown key '{name}'", n + 1))
            })
            .collect::<Result<_, _>>()?;
        out.extend(keys.iter().map(|&k| (Action::Press, k)));
        out.extend(keys.iter().rev().map(|&k| (Action::Release, k)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(name: &str) -> Key {
        keys::by_name(name).unwrap()
    }

    fn fold(events: &[(Action, &str)]) -> Vec<String> {
        let mut f = Folder::default();
        let mut out = Vec::new();
        for &(a, name) in events {
            f.event(a, k(name), name == "pause", &mut out);
        }
        f.finish(&mut out);
        out
    }

    use Action::{Press as P, Release as R};

    /// Every press of a key other than a modifier, with the keys held at
    /// that moment (sorted).
    fn presses_with_held(events: &[(Action, Key)]) -> Vec<(Key, Vec<Key>)> {
        let mut held: Vec<Key> = Vec::new();
        let mut out = Vec::new();
        for &(a, key) in events {
            match a {
                P => {
                    let mut h = held.clone();
                    h.sort();
                    if !keys::is_modifier(key) {
                        out.push((key, h));
                    }
                    if key != keys::PAUSE && !held.contains(&key) {
                        held.push(key);
                    }
                }
                R => held.retain(|&x| x != key),
            }
        }
        out
    }

    #[test]
    fn nested_presses_fold_into_combos() {
        let ev = [
            (P, "shift"),
            (P, "t"),
            (R, "t"),
            (R, "shift"),
            (P, "h"),
            (R, "h"),
            (P, "ctrl"),
            (P, "alt"),
            (P, "f2"),
            (R, "f2"),
            (R, "alt"),
            (R, "ctrl"),
            (P, "ctrl"),
            (P, "l"),
            (R, "l"),
            (P, "x"),
            (R, "x"),
            (R, "ctrl"),
            (P, "meta_r"),
            (R, "meta_r"),
            (P, "ctrl"),
            (P, "pause"),
            (R, "ctrl"),
            (P, "pause"),
        ];
        let got = fold(&ev);
        assert_eq!(
            got,
            [
                "sendkey shift-t",
                "sendkey h",
                "sendkey ctrl-alt-f2",
                "sendkey ctrl-l",
                "sendkey ctrl-x",
                "sendkey meta_r",
                "sendkey ctrl-pause",
                "sendkey pause",
            ]
        );
        // Parsing the script back replays every key press with the same keys
        // held (a modifier held over several combos is pressed for each).
        let back = parse(&got.join("\n")).unwrap();
        let orig: Vec<(Action, Key)> = ev.iter().map(|&(a, n)| (a, k(n))).collect();
        assert_eq!(presses_with_held(&back), presses_with_held(&orig));
        // Nested input comes back event for event.
        let nested = &orig[..12];
        let script = {
            let mut f = Folder::default();
            let mut out = Vec::new();
            for &(a, key) in nested {
                f.event(a, key, false, &mut out);
            }
            out.join("\n")
        };
        assert_eq!(parse(&script).unwrap(), nested);
    }

    #[test]
    fn overlapping_and_unfinished_presses() {
        assert_eq!(
            fold(&[(P, "a"), (P, "b"), (R, "a"), (R, "b"), (P, "shift")]),
            ["sendkey a-b", "sendkey shift"]
        );
        // A key repeated while held.
        assert_eq!(fold(&[(P, "a"), (P, "a"), (R, "a")]), ["sendkey a"; 2]);
        // Releases of keys never pressed are ignored.
        assert_eq!(fold(&[(R, "a")]), Vec::<String>::new());
    }

    #[test]
    fn parse_errors() {
        assert!(
            parse("sendkey nokey")
                .unwrap_err()
                .contains("unknown key 'nokey'")
        );
        assert!(parse("type a").is_err());
        assert!(parse("sendkey").is_err());
        assert_eq!(parse("# c\n\nsendkey a 100").unwrap().len(), 2);
    }
}
