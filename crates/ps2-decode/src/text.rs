//! Typed text: what a key press types on a US-layout keyboard, given the
//! Shift, Ctrl, Alt and "Windows" keys held and the Caps and Num Lock states.
//!
//! A printing key gives its character (Shift and Caps Lock honoured; the
//! keypad gives digits while Num Lock is on and Shift is up); Enter (both) is
//! a newline, Tab a tab, Backspace `<BS>`. Any other key press, and any
//! printing key pressed with Ctrl, Alt or a "Windows" key, is a `<name>`
//! token (`<esc>`, `<f1>`, `<ctrl-c>`, `<shift-end>`), modifier names first
//! in the order ctrl, alt, shift, meta. Modifier and lock keys alone type
//! nothing. Anomalies are their bytes in brackets, `[E0 5F]`.
//!
//! [`TextLine`] collects one keyboard's text a line at a time, so that
//! `--apply-backspace` can remove what Backspace erased (a whole token at a
//! time; never past the start of the line).

use crate::decode::{KeyEvent, KeyState, hex_bytes};
use crate::keys::{self, Key};

/// The `<BS>` token Backspace types.
pub const BACKSPACE: &str = "<BS>";

/// Characters of a key without and with Shift (letters: lower/upper).
fn chars(name: &str) -> Option<(char, char)> {
    let b = name.as_bytes();
    if b.len() == 1 && b[0].is_ascii_lowercase() {
        return Some((b[0] as char, b[0].to_ascii_uppercase() as char));
    }
    Some(match name {
        "1" => ('1', '!'),
        "2" => ('2', '@'),
        "3" => ('3', '#'),
        "4" => ('4', '$'),
        "5" => ('5', '%'),
        "6" => ('6', '^'),
        "7" => ('7', '&'),
        "8" => ('8', '*'),
        "9" => ('9', '('),
        "0" => ('0', ')'),
        "minus" => ('-', '_'),
        "equal" => ('=', '+'),
        "bracket_left" => ('[', '{'),
        "bracket_right" => (']', '}'),
        "backslash" => ('\\', '|'),
        "semicolon" => (';', ':'),
        "apostrophe" => ('\'', '"'),
        "grave_accent" => ('`', '~'),
        "comma" => (',', '<'),
        "dot" => ('.', '>'),
        "slash" => ('/', '?'),
        "less" => ('<', '>'),
        "spc" => (' ', ' '),
        "tab" => ('\t', '\t'),
        "ret" | "kp_enter" => ('\n', '\n'),
        "kp_multiply" | "asterisk" => ('*', '*'),
        "kp_divide" => ('/', '/'),
        "kp_subtract" => ('-', '-'),
        "kp_add" => ('+', '+'),
        "kp_equals" => ('=', '='),
        "kp_comma" => (',', ','),
        _ => return None,
    })
}

/// The digit (or `.`) of a keypad key that types one with Num Lock on.
fn numpad(name: &str) -> Option<char> {
    match name {
        "kp_decimal" => Some('.'),
        _ => {
            let d = name.strip_prefix("kp_")?;
            let c = d.chars().next()?;
            (d.len() == 1 && c.is_ascii_digit()).then_some(c)
        }
    }
}

/// Modifier names in token order.
const TOKEN_MODS: [(Key, &str); 8] = [
    (keys::CTRL, "ctrl"),
    (keys::CTRL_R, "ctrl_r"),
    (keys::ALT, "alt"),
    (keys::ALT_R, "alt_r"),
    (keys::SHIFT, "shift"),
    (keys::SHIFT_R, "shift_r"),
    (keys::META_L, "meta_l"),
    (keys::META_R, "meta_r"),
];

fn token(name: &str, state: &KeyState, out: &mut String) {
    out.push('<');
    for (k, n) in TOKEN_MODS {
        if state.held(k) && k != keys::by_name(name).unwrap_or(0) {
            out.push_str(n);
            out.push('-');
        }
    }
    out.push_str(name);
    out.push('>');
}

/// What one event types, appended to `out`; false when it types nothing.
/// `state` is the key state just after the event. `printable_only` leaves
/// out tokens and anomalies, all but `<BS>` (the caller decides about it).
pub fn event_text(ev: &KeyEvent, state: &KeyState, printable_only: bool, out: &mut String) -> bool {
    if ev.anomaly.is_some() {
        if printable_only {
            return false;
        }
        out.push('[');
        hex_bytes(&ev.seq.raw, out);
        out.push(']');
        return true;
    }
    let (Some(crate::decode::Action::Press), Some(key)) = (ev.action, ev.key) else {
        return false;
    };
    if keys::is_modifier(key) || matches!(key, keys::CAPS_LOCK | keys::NUM_LOCK | keys::SCROLL_LOCK)
    {
        return false;
    }
    let name = keys::name(key);
    let shift = state.shift();
    let command = [
        keys::CTRL,
        keys::CTRL_R,
        keys::ALT,
        keys::ALT_R,
        keys::META_L,
        keys::META_R,
    ]
    .iter()
    .any(|&k| state.held(k));
    if !command {
        if let Some(d) = numpad(name) {
            if state.num && !shift {
                out.push(d);
                return true;
            }
        } else if let Some((lower, upper)) = chars(name) {
            let letter = lower.is_ascii_lowercase();
            let up = if letter { shift != state.caps } else { shift };
            out.push(if up { upper } else { lower });
            return true;
        } else if name == "backspace" {
            // Kept even when printable_only: --apply-backspace needs it.
            out.push_str(BACKSPACE);
            return true;
        }
    }
    if printable_only {
        return false;
    }
    token(name, state, out);
    true
}

/// One keyboard's text, a line at a time.
#[derive(Debug, Default)]
pub struct TextLine {
    line: String,
    /// Where each piece of `line` starts (for Backspace).
    starts: Vec<usize>,
}

/// Longest unfinished line kept before it is written out anyway.
const MAX_LINE: usize = 64 << 10;

impl TextLine {
    /// Adds a piece of text. With `apply_backspace`, `<BS>` removes the
    /// previous piece of the line instead. Returns true when the line is
    /// complete (ends with a newline) or too long to keep.
    pub fn push(&mut self, piece: &str, apply_backspace: bool) -> bool {
        if apply_backspace && piece == BACKSPACE {
            if let Some(start) = self.starts.pop() {
                self.line.truncate(start);
            }
            return false;
        }
        self.starts.push(self.line.len());
        self.line.push_str(piece);
        self.line.ends_with('\n') || self.line.len() >= MAX_LINE
    }

    /// The line so far (taken; the buffer starts a new line).
    pub fn take(&mut self) -> String {
        self.starts.clear();
        std::mem::take(&mut self.line)
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.line.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Decoder, Origin};

    /// Types set-2 bytes and returns the text.
    fn typed(bytes: &str, printable_only: bool) -> String {
        let mut d = Decoder::new();
        let mut evs = Vec::new();
        for h in bytes.split_whitespace() {
            let b = u8::from_str_radix(h, 16).unwrap();
            d.push(2, false, b, &Origin::default(), &mut evs);
        }
        d.boundary(2, &mut evs);
        let mut s = String::new();
        for e in &evs {
            event_text(e, &e.state, printable_only, &mut s);
        }
        s
    }

    #[test]
    fn shift_caps_and_symbols() {
        // h i, Shift+1, Caps Lock, a, Shift+a, Caps Lock, Enter
        assert_eq!(
            typed(
                "33 F0 33 43 F0 43 12 16 F0 16 F0 12 58 F0 58 1C F0 1C 12 1C F0 1C F0 12 58 F0 58 5A F0 5A",
                false
            ),
            "hi!Aa\n"
        );
        // Shifted punctuation across the US layout.
        assert_eq!(
            typed("12 4C 52 41 49 4A 54 5B 5D 0E 4E 55 F0 12", false),
            ":\"<>?{}|~_+"
        );
    }

    #[test]
    fn keypad_follows_num_lock_and_tokens() {
        // kp_7 with Num Lock off, Num Lock, kp_7 kp_decimal kp_add, Esc,
        // Ctrl+c, Backspace, Shift+End.
        let bytes = "6C F0 6C 77 F0 77 6C 71 79 76 14 21 F0 21 F0 14 66 12 E0 69 E0 F0 69 F0 12";
        assert_eq!(typed(bytes, false), "<kp_7>7.+<esc><ctrl-c><BS><shift-end>");
        assert_eq!(typed(bytes, true), "7.+<BS>");
        assert_eq!(typed("E0 5F", false), "[E0 5F]");
        assert_eq!(typed("E0 5F", true), "");
    }

    #[test]
    fn backspace_applies_within_the_line() {
        let mut t = TextLine::default();
        for p in ["a", "b", "<esc>", BACKSPACE, BACKSPACE, "c"] {
            assert!(!t.push(p, true));
        }
        assert!(t.push("\n", true));
        assert_eq!(t.take(), "ac\n");
        assert!(!t.push(BACKSPACE, true));
        assert!(t.is_empty());
        assert!(!t.push(BACKSPACE, false));
        assert_eq!(t.take(), "<BS>");
    }
}
