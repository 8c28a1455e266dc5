//! The per-keyboard decoder: bytes of one scancode set in, key presses and
//! releases out.
//!
//! Two stages. The byte stage splits the stream into scancodes
//! (prefixes `E0`, `E1`, `F0` in sets 2 and 3; `E0`, `E1` and bit 7 in set 1),
//! recognises Pause's `E1` sequences and keyboard replies. The sequence stage
//! turns scancodes into key events and folds in what
//! keyboards wrap around some keys, so that it changes no state:
//!
//! * fake shifts (`E0 12`, `E0 59`; set 1 `E0 2A`, `E0 36`) before a press
//!   belong to that press, after a release to that release (Print without
//!   modifiers: `E0 12 E0 7C` / `E0 F0 7C E0 F0 12`);
//! * Alt released and pressed again around SysRq (Alt+Print: `F0 11 11 84` /
//!   `F0 84 F0 11 11`; set 1 `B8 38 54` / `D4 B8 38`; right Alt with `E0`)
//!   belongs to the SysRq press or release, so Alt stays held throughout;
//! * Pause's make and break parts (`E1 14 77 E1 F0 14 F0 77`) are one press:
//!   QEMU sends nothing when Pause is released.
//!
//! Because a suffix can follow a release, a release is held back until the
//! next scancode, a [`Decoder::boundary`] (the next `ps2_keyboard_event`) or
//! the end of the input. Anything that does not decode becomes an event with
//! an [`Anomaly`], shown as a `[E0 xx]` token, and decoding goes on.

use crate::keys::{self, Key, Meaning, Translator};

/// A short byte string, kept inline up to `N` bytes (`N` < 256) and on the
/// heap beyond: the bytes of a key event and the timestamp of its line are
/// almost always short, and the decoder makes several per key press.
#[derive(Clone)]
pub struct InlineBytes<const N: usize>(Repr<N>);

#[derive(Clone)]
enum Repr<const N: usize> {
    Inline(u8, [u8; N]),
    Heap(Vec<u8>),
}

impl<const N: usize> InlineBytes<N> {
    /// Empty.
    pub const fn new() -> Self {
        const { assert!(N < 256) };
        InlineBytes(Repr::Inline(0, [0; N]))
    }

    /// The bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(n, b) => &b[..usize::from(*n)],
            Repr::Heap(v) => v,
        }
    }

    /// Appends one byte.
    #[inline]
    pub fn push(&mut self, b: u8) {
        if let Repr::Inline(n, buf) = &mut self.0
            && let Some(slot) = buf.get_mut(usize::from(*n))
        {
            *slot = b;
            *n += 1;
            return;
        }
        self.extend_from_slice(&[b]);
    }

    /// Appends bytes.
    #[inline]
    pub fn extend_from_slice(&mut self, s: &[u8]) {
        let spilled = match &mut self.0 {
            Repr::Inline(n, b) => {
                let len = usize::from(*n);
                if let Some(dst) = b.get_mut(len..len + s.len()) {
                    dst.copy_from_slice(s);
                    // In bounds of `b`, so below 256.
                    *n = (len + s.len()) as u8;
                    return;
                }
                let mut v = Vec::with_capacity(len + s.len());
                v.extend_from_slice(&b[..len]);
                v.extend_from_slice(s);
                v
            }
            Repr::Heap(v) => {
                v.extend_from_slice(s);
                return;
            }
        };
        self.0 = Repr::Heap(spilled);
    }
}

impl<const N: usize> Default for InlineBytes<N> {
    fn default() -> Self {
        InlineBytes::new()
    }
}

impl<const N: usize> From<&[u8]> for InlineBytes<N> {
    #[inline]
    fn from(s: &[u8]) -> Self {
        let mut b = InlineBytes::new();
        b.extend_from_slice(s);
        b
    }
}

impl<const N: usize> std::ops::Deref for InlineBytes<N> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> PartialEq for InlineBytes<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<const N: usize> Eq for InlineBytes<N> {}

impl<const N: usize> std::fmt::Debug for InlineBytes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

/// The bytes of one event (inline up to this many).
pub type SeqBytes = InlineBytes<23>;
/// A timestamp text (inline up to this many bytes).
pub type TimeText = InlineBytes<31>;

/// Where an event's first byte came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// 1-based line number in its input.
    pub line: u64,
    /// The timestamp text of that line, when it had one.
    pub time: Option<TimeText>,
    /// The thread id of that line, when it had one.
    pub tid: Option<u64>,
}

/// Where a byte came from, borrowed from its line: an [`Origin`] is only
/// made for the first byte of a sequence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct At<'a> {
    /// 1-based line number in its input.
    pub line: u64,
    /// The timestamp text of that line, when it had one.
    pub time: Option<&'a [u8]>,
    /// The thread id of that line, when it had one.
    pub tid: Option<u64>,
}

impl<'a> From<&'a Origin> for At<'a> {
    fn from(o: &'a Origin) -> Self {
        At {
            line: o.line,
            time: o.time.as_deref(),
            tid: o.tid,
        }
    }
}

impl From<At<'_>> for Origin {
    #[inline]
    fn from(at: At<'_>) -> Self {
        Origin {
            line: at.line,
            time: at.time.map(TimeText::from),
            tid: at.tid,
        }
    }
}

/// Bytes of one event: as the keyboard emitted them (what the trace shows)
/// and as the guest received them (after i8042 translation, when on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seq {
    /// The keyboard's bytes.
    pub raw: SeqBytes,
    /// The bytes the guest received.
    pub guest: SeqBytes,
    /// Where the first byte came from.
    pub origin: Origin,
}

impl Seq {
    #[inline]
    fn push(&mut self, raw: u8, guest: Option<u8>, at: At<'_>) {
        if self.raw.is_empty() {
            self.origin = Origin::from(at);
        }
        self.raw.push(raw);
        if let Some(g) = guest {
            self.guest.push(g);
        }
    }

    fn append(&mut self, other: Seq) {
        if self.raw.is_empty() {
            self.origin = other.origin;
        }
        self.raw.extend_from_slice(&other.raw);
        self.guest.extend_from_slice(&other.guest);
    }

    fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// Press or release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Make code.
    Press,
    /// Break code.
    Release,
}

impl Action {
    /// `press` / `release`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Press => "press",
            Action::Release => "release",
        }
    }
}

/// Why an event did not decode cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anomaly {
    /// No key has this code in the current set.
    UnknownCode,
    /// A release of a key that was not pressed.
    BreakWithoutMake,
    /// A sequence cut short by the end of the input or by the next key event.
    Truncated,
    /// A sequence that is not valid in the current set (e.g. `E0 E1`).
    Malformed,
    /// Fake-shift codes with no key after them.
    StrayFakeShift,
    /// Pause's break half (`E1 F0 14 F0 77`) without its make half.
    StrayPauseBreak,
}

impl Anomaly {
    /// A sentence for stderr.
    pub fn describe(self) -> &'static str {
        match self {
            Anomaly::UnknownCode => "no key has this code",
            Anomaly::BreakWithoutMake => "release of a key that was not pressed",
            Anomaly::Truncated => "truncated sequence",
            Anomaly::Malformed => "malformed sequence",
            Anomaly::StrayFakeShift => "fake-shift codes not followed by a key",
            Anomaly::StrayPauseBreak => "Pause break bytes without the make bytes",
        }
    }
}

/// One decoded key event (or an anomaly standing in for one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// Its bytes.
    pub seq: Seq,
    /// Press or release, when known.
    pub action: Option<Action>,
    /// The key, when known.
    pub key: Option<Key>,
    /// A press that will never be released (Pause's `E1` sequence; Hangul and
    /// Hanja, which QEMU 8.0+ does not release).
    pub tap: bool,
    /// What went wrong, for events that did not decode cleanly.
    pub anomaly: Option<Anomaly>,
    /// The scancode set it was decoded in.
    pub set: u8,
    /// The key state just after this event (what was held, the locks).
    pub state: KeyState,
}

impl KeyEvent {
    fn new(seq: Seq, action: Option<Action>, key: Option<Key>, set: u8) -> Self {
        KeyEvent {
            seq,
            action,
            key,
            tap: false,
            anomaly: None,
            set,
            state: KeyState::default(),
        }
    }

    fn anomaly(seq: Seq, action: Option<Action>, key: Option<Key>, set: u8, a: Anomaly) -> Self {
        KeyEvent {
            anomaly: Some(a),
            ..KeyEvent::new(seq, action, key, set)
        }
    }
}

/// Upper-case hex digits.
pub const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// Formats bytes as `E0 F0 75`.
pub fn hex_bytes(bytes: &[u8], out: &mut String) {
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(b & 0xf)]));
    }
}

/// Formats bytes as `E0 F0 75` into a byte buffer (as [`hex_bytes`]).
#[inline]
pub fn hex_bytes_into(bytes: &[u8], out: &mut Vec<u8>) {
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&[
            HEX_DIGITS[usize::from(b >> 4)],
            HEX_DIGITS[usize::from(b & 0xf)],
        ]);
    }
}

/// What the byte stage recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ScanKind {
    /// A key code: plain or `E0`-prefixed, make or break.
    Code { ext: bool, code: u8, brk: bool },
    /// `E1 14 77` (set 1 `E1 1D 45`).
    PauseMake,
    /// `E1 F0 14 F0 77` (set 1 `E1 9D C5`).
    PauseBreak,
    /// A reply or overflow byte (`FA AA EE FE 00 FF ...`), not a key.
    Reply,
    /// Bytes that do not form a sequence.
    Bad(Anomaly),
}

#[derive(Debug, Clone)]
struct Scan {
    kind: ScanKind,
    seq: Seq,
}

/// Bytes that are never keys in sets 2 and 3: replies (ACK, BAT, echo,
/// resend, BAT failure) and the overflow/error codes.
fn is_reply_byte(b: u8) -> bool {
    matches!(b, 0x00 | 0xaa | 0xee | 0xfa | 0xfc | 0xfd | 0xfe | 0xff)
}

/// Pause's sequences after `E1`, per set.
fn pause_parts(set: u8) -> (&'static [u8], &'static [u8]) {
    if set == 1 {
        (&[0x1d, 0x45], &[0x9d, 0xc5])
    } else {
        (&[0x14, 0x77], &[0xf0, 0x14, 0xf0, 0x77])
    }
}

/// The byte stage: splits bytes into scancodes.
#[derive(Debug, Default)]
struct Bytes {
    /// Bytes of the sequence being read (empty when idle).
    partial: Seq,
}

impl Bytes {
    fn take(&mut self, kind: ScanKind) -> Scan {
        Scan {
            kind,
            seq: std::mem::take(&mut self.partial),
        }
    }

    /// Before feeding byte `b`: the broken partial sequence it cannot
    /// extend, if any.
    #[inline]
    fn broken_by(&mut self, set: u8, b: u8) -> Option<Scan> {
        if !self.partial.is_empty() && !self.continues(set, b) {
            Some(self.take(ScanKind::Bad(Anomaly::Truncated)))
        } else {
            None
        }
    }

    /// Feeds byte `b` (after [`broken_by`](Self::broken_by)); returns the
    /// scan it completes.
    #[inline]
    fn push(&mut self, set: u8, b: u8, guest: Option<u8>, at: At<'_>) -> Option<Scan> {
        self.partial.push(b, guest, at);
        let kind = self.complete(set)?;
        Some(self.take(kind))
    }

    /// When byte `b` completes a plain code, one with no `E0`/`E1` prefix
    /// that is not a reply: a make alone (set 1 also a break, but none of
    /// the bytes that may be replies), or `F0 xx` in sets 2 and 3. Returns
    /// whether it is a break and what the code means (a key or no key; fake
    /// shifts are `E0`-prefixed). The sequence itself is left to the caller.
    #[inline]
    fn plain_code(&self, set: u8, b: u8) -> Option<(bool, Meaning)> {
        let (code, brk) = match (set, self.partial.raw.as_slice()) {
            (1, []) => {
                if matches!(b, 0xe0 | 0xe1 | 0x00 | 0xff) || set1_reply_candidate(&[b]) {
                    return None;
                }
                (b & 0x7f, b & 0x80 != 0)
            }
            (_, []) if !matches!(b, 0xe0 | 0xe1 | 0xf0) && !is_reply_byte(b) => (b, false),
            (2 | 3, [0xf0]) if !matches!(b, 0xe0 | 0xe1 | 0xf0) && !is_reply_byte(b) => (b, true),
            _ => return None,
        };
        match keys::table(set).lookup(false, code) {
            Meaning::FakeShift => None,
            meaning => Some((brk, meaning)),
        }
    }

    /// Whether `b` can extend the partial sequence.
    fn continues(&self, set: u8, b: u8) -> bool {
        let p = &self.partial.raw;
        if p[0] == 0xe1 {
            let (make, brk) = pause_parts(set);
            let n = p.len() - 1;
            return make.get(n) == Some(&b) && make[..n] == p[1..]
                || brk.get(n) == Some(&b) && brk[..n] == p[1..];
        }
        // After E0 or F0: anything but another prefix (E0 F0 is fine in sets 2/3).
        match b {
            0xe0 | 0xe1 => false,
            0xf0 => set != 1 && p.as_slice() == [0xe0],
            _ => !(set != 1 && is_reply_byte(b)),
        }
    }

    /// The scan the partial sequence forms, when it is complete.
    fn complete(&self, set: u8) -> Option<ScanKind> {
        let p = &self.partial.raw;
        let last = *p.last()?;
        if p[0] == 0xe1 {
            let (make, brk) = pause_parts(set);
            return if p[1..] == *make {
                Some(ScanKind::PauseMake)
            } else if p[1..] == *brk {
                Some(ScanKind::PauseBreak)
            } else {
                None
            };
        }
        if set == 1 {
            match p.as_slice() {
                [0xe0] => None,
                [0x00 | 0xff] => Some(ScanKind::Reply),
                [b] => Some(ScanKind::Code {
                    ext: false,
                    code: b & 0x7f,
                    brk: b & 0x80 != 0,
                }),
                [0xe0, b] => Some(ScanKind::Code {
                    ext: true,
                    code: b & 0x7f,
                    brk: b & 0x80 != 0,
                }),
                _ => Some(ScanKind::Bad(Anomaly::Malformed)),
            }
        } else {
            match p.as_slice() {
                [0xe0] | [0xf0] | [0xe0, 0xf0] => None,
                [b] if is_reply_byte(*b) => Some(ScanKind::Reply),
                [b] => Some(ScanKind::Code {
                    ext: false,
                    code: *b,
                    brk: false,
                }),
                [0xf0, _] => Some(ScanKind::Code {
                    ext: false,
                    code: last,
                    brk: true,
                }),
                [0xe0, _] => Some(ScanKind::Code {
                    ext: true,
                    code: last,
                    brk: false,
                }),
                [0xe0, 0xf0, _] => Some(ScanKind::Code {
                    ext: true,
                    code: last,
                    brk: true,
                }),
                _ => Some(ScanKind::Bad(Anomaly::Malformed)),
            }
        }
    }

    /// Ends a partial sequence (end of input, next key event, set change).
    fn flush(&mut self) -> Option<Scan> {
        if self.partial.is_empty() {
            None
        } else {
            Some(self.take(ScanKind::Bad(Anomaly::Truncated)))
        }
    }
}

/// What the held-back release may still take as a suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    /// Fake shifts, all makes or all breaks (`Some(make)` once one was seen).
    Release {
        sysrq: bool,
        fake_make: Option<bool>,
    },
    /// Pause's break half.
    PauseMake,
}

/// Whether `key`, from `code` (without its release mark), is Print
/// sent as SysRq (Alt held): code 0x84 in set 2, 0x54 in set 1, never
/// extended.
fn is_sysrq(set: u8, key: Key, ext: bool, code: u8) -> bool {
    key == keys::PRINT && !ext && ((set == 2 && code == 0x84) || (set == 1 && code == 0x54))
}

/// Set-1 bytes that are replies when no key they could release is held.
fn set1_reply_candidate(raw: &[u8]) -> bool {
    matches!(raw, [0xaa | 0xee | 0xfa | 0xfc | 0xfd | 0xfe])
}

/// Longest run of fake-shift bytes kept waiting for a key.
const MAX_PREFIX: usize = 16;

/// Key state the decoder consults and updates as it emits events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    held: [u64; 3],
    /// Caps Lock as the guest has it (toggled by presses, set by LEDs).
    pub caps: bool,
    /// Num Lock, likewise.
    pub num: bool,
    /// Scroll Lock, likewise.
    pub scroll: bool,
}

impl KeyState {
    /// True while `key` is pressed.
    pub fn held(&self, key: Key) -> bool {
        let k = usize::from(key);
        self.held
            .get(k / 64)
            .is_some_and(|w| w & (1 << (k % 64)) != 0)
    }

    fn set_held(&mut self, key: Key, on: bool) {
        let k = usize::from(key);
        if let Some(w) = self.held.get_mut(k / 64) {
            if on {
                *w |= 1 << (k % 64);
            } else {
                *w &= !(1 << (k % 64));
            }
        }
    }

    /// Keys held now, in enum order.
    pub fn held_keys(&self) -> impl Iterator<Item = Key> + '_ {
        (0..keys::KEYS.len() as u16)
            .map(|k| k as Key)
            .filter(|&k| self.held(k))
    }

    /// Either Shift held.
    pub fn shift(&self) -> bool {
        self.held(keys::SHIFT) || self.held(keys::SHIFT_R)
    }

    /// Applies the LED byte the guest sent (`ED xx`): bit 0 Scroll, 1 Num, 2 Caps.
    pub fn set_leds(&mut self, leds: u64) {
        self.scroll = leds & 1 != 0;
        self.num = leds & 2 != 0;
        self.caps = leds & 4 != 0;
    }

    /// Applies an event to the state; marks a release of an unpressed key.
    fn apply(&mut self, ev: &mut KeyEvent) {
        let (Some(action), Some(key)) = (ev.action, ev.key) else {
            return;
        };
        match action {
            Action::Press => {
                let repeat = self.held(key);
                if !repeat {
                    match key {
                        keys::CAPS_LOCK => self.caps = !self.caps,
                        keys::NUM_LOCK => self.num = !self.num,
                        keys::SCROLL_LOCK => self.scroll = !self.scroll,
                        _ => {}
                    }
                }
                if !ev.tap {
                    self.set_held(key, true);
                }
            }
            Action::Release => {
                let quiet = matches!(key, keys::LANG1 | keys::LANG2);
                if !self.held(key) && !quiet && ev.anomaly.is_none() {
                    ev.anomaly = Some(Anomaly::BreakWithoutMake);
                }
                self.set_held(key, false);
            }
        }
    }
}

/// A key code classified for the sequence stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Fake { make: bool },
    AltBreak(Key),
    AltMake(Key),
    SysrqMake,
    Key { key: Key, brk: bool, sysrq: bool },
    Unknown { brk: bool },
}

/// The decoder of one keyboard.
#[derive(Debug)]
pub struct Decoder {
    bytes: Bytes,
    translator: Translator,
    /// The held-back release (or Pause press) and what it may still take.
    last: Option<(KeyEvent, Suffix)>,
    /// Alt break (and make) that may be the start of a SysRq sequence.
    pending: Vec<(Scan, Item)>,
    /// Fake-shift bytes waiting for the key they precede.
    prefix: Seq,
    /// Key state.
    pub state: KeyState,
    /// Reply/overflow bytes skipped.
    pub replies: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with nothing held.
    pub fn new() -> Self {
        Decoder {
            bytes: Bytes::default(),
            translator: Translator::default(),
            last: None,
            pending: Vec::new(),
            prefix: Seq::default(),
            state: KeyState::default(),
            replies: 0,
        }
    }

    /// Feeds one byte the keyboard emitted in scancode `set`, with i8042
    /// translation on or off; finished events are appended to `out`.
    pub fn push(&mut self, set: u8, xlate: bool, b: u8, origin: &Origin, out: &mut Vec<KeyEvent>) {
        self.push_at(set, xlate, b, At::from(origin), out);
    }

    /// [`push`](Self::push) with the origin borrowed from the line.
    #[inline]
    pub fn push_at(&mut self, set: u8, xlate: bool, b: u8, at: At<'_>, out: &mut Vec<KeyEvent>) {
        let guest = if xlate {
            self.translator.push(b)
        } else {
            self.translator = Translator::default();
            Some(b)
        };
        if self.pending.is_empty()
            && self.prefix.is_empty()
            && let Some((brk, meaning)) = self.bytes.plain_code(set, b)
            && !matches!(meaning, Meaning::Key(keys::ALT | keys::ALT_R) if set != 3)
        {
            self.bytes.partial.push(b, guest, at);
            let seq = std::mem::take(&mut self.bytes.partial);
            self.push_plain(set, brk, meaning, seq, out);
            return;
        }
        self.push_general(set, b, guest, at, out);
    }

    /// [`push_at`](Self::push_at) after the translation, through the byte
    /// and sequence stages (every byte can take this way; plain codes take a
    /// shorter one to the same events).
    fn push_general(
        &mut self,
        set: u8,
        b: u8,
        guest: Option<u8>,
        at: At<'_>,
        out: &mut Vec<KeyEvent>,
    ) {
        if let Some(scan) = self.bytes.broken_by(set, b) {
            self.push_scan(set, scan, out);
        }
        if let Some(scan) = self.bytes.push(set, b, guest, at) {
            self.push_scan(set, scan, out);
        }
    }

    /// What [`push_scan`](Self::push_scan) does with a plain code (see
    /// [`Bytes::plain_code`]) of a key other than Alt while no pattern is
    /// under way (nothing pending, no fake shifts waiting): the held-back
    /// release goes out, then a press goes out, a release is held back, an
    /// unknown code goes out as an anomaly.
    #[inline]
    fn push_plain(
        &mut self,
        set: u8,
        brk: bool,
        meaning: Meaning,
        seq: Seq,
        out: &mut Vec<KeyEvent>,
    ) {
        self.emit_last(out);
        match meaning {
            Meaning::Key(key) if brk => {
                // A plain code is one byte after any F0: set 1 marks the
                // release in its high bit.
                let last = seq.raw.last().copied().unwrap_or(0);
                let code = if set == 1 { last & 0x7f } else { last };
                let sysrq = is_sysrq(set, key, false, code);
                self.hold_release(seq, key, set, sysrq);
            }
            Meaning::Key(key) => self.press(seq, key, set, out),
            Meaning::Unknown | Meaning::FakeShift => self.unknown_code(seq, brk, set, out),
        }
    }

    /// Holds back the release of `key` (a SysRq bounce or a fake make may
    /// still join it).
    #[inline]
    fn hold_release(&mut self, seq: Seq, key: Key, set: u8, sysrq: bool) {
        let ev = KeyEvent::new(seq, Some(Action::Release), Some(key), set);
        self.last = Some((
            ev,
            Suffix::Release {
                sysrq,
                fake_make: None,
            },
        ));
    }

    /// Emits the press of `key` (Lang1/Lang2 send no release: taps).
    #[inline]
    fn press(&mut self, seq: Seq, key: Key, set: u8, out: &mut Vec<KeyEvent>) {
        let mut ev = KeyEvent::new(seq, Some(Action::Press), Some(key), set);
        ev.tap = matches!(key, keys::LANG1 | keys::LANG2);
        self.emit(ev, out);
    }

    /// Emits a code the set does not define as an anomaly.
    fn unknown_code(&mut self, seq: Seq, brk: bool, set: u8, out: &mut Vec<KeyEvent>) {
        let action = Some(if brk { Action::Release } else { Action::Press });
        let ev = KeyEvent::anomaly(seq, action, None, set, Anomaly::UnknownCode);
        self.emit(ev, out);
    }

    /// Ends everything in progress: the next key event starts, the set
    /// changes, or the input ends. Partial sequences become anomalies.
    pub fn boundary(&mut self, set: u8, out: &mut Vec<KeyEvent>) {
        if self.bytes.partial.is_empty() && self.pending.is_empty() && self.prefix.is_empty() {
            // Nothing under way but the held-back release, if any.
            self.emit_last(out);
            return;
        }
        self.boundary_general(set, out);
    }

    /// [`boundary`](Self::boundary) through the byte and sequence stages
    /// (right whatever is under way).
    fn boundary_general(&mut self, set: u8, out: &mut Vec<KeyEvent>) {
        if let Some(scan) = self.bytes.flush() {
            self.push_scan(set, scan, out);
        }
        self.settle(set, out);
        if !self.prefix.is_empty() {
            let seq = std::mem::take(&mut self.prefix);
            self.emit(
                KeyEvent::anomaly(seq, None, None, set, Anomaly::StrayFakeShift),
                out,
            );
        }
    }

    fn classify(&self, set: u8, kind: &ScanKind) -> Option<Item> {
        let ScanKind::Code { ext, code, brk } = *kind else {
            return None;
        };
        Some(match keys::table(set).lookup(ext, code) {
            Meaning::FakeShift => Item::Fake { make: !brk },
            Meaning::Unknown => Item::Unknown { brk },
            Meaning::Key(key) => {
                let alt = matches!(key, keys::ALT | keys::ALT_R) && set != 3;
                let sysrq = is_sysrq(set, key, ext, code);
                let bounce_started = matches!(self.pending.as_slice(),
                    [(_, Item::AltBreak(a))] if *a == key);
                if alt && brk {
                    Item::AltBreak(key)
                } else if alt && bounce_started {
                    Item::AltMake(key)
                } else if sysrq && !brk && self.bounce_complete() {
                    Item::SysrqMake
                } else {
                    Item::Key { key, brk, sysrq }
                }
            }
        })
    }

    fn bounce_complete(&self) -> bool {
        matches!(self.pending.as_slice(),
            [(_, Item::AltBreak(a)), (_, Item::AltMake(b))] if a == b)
    }

    fn push_scan(&mut self, set: u8, scan: Scan, out: &mut Vec<KeyEvent>) {
        // Set 1: a lone FA/AA/EE/FE... is a reply unless it releases a held key.
        if set == 1
            && set1_reply_candidate(&scan.seq.raw)
            && let ScanKind::Code { code, .. } = scan.kind
        {
            // Held-back releases first, so "held" is up to date.
            self.settle(set, out);
            let key = match keys::table(1).lookup(false, code) {
                Meaning::Key(k) => Some(k),
                _ => None,
            };
            if !key.is_some_and(|k| self.state.held(k)) {
                self.replies += 1;
                return;
            }
        }
        match scan.kind {
            ScanKind::Reply => {
                self.replies += 1;
                return;
            }
            ScanKind::PauseMake => {
                self.settle(set, out);
                let seq = self.prefixed(scan.seq);
                let mut ev = KeyEvent::new(seq, Some(Action::Press), Some(keys::PAUSE), set);
                ev.tap = true;
                self.last = Some((ev, Suffix::PauseMake));
                return;
            }
            ScanKind::PauseBreak => {
                if self.pending.is_empty()
                    && self.prefix.is_empty()
                    && let Some((ev, Suffix::PauseMake)) = &mut self.last
                {
                    ev.seq.append(scan.seq);
                    let (ev, _) = self.last.take().expect("checked");
                    self.emit(ev, out);
                    return;
                }
                self.settle(set, out);
                self.emit(
                    KeyEvent::anomaly(
                        scan.seq,
                        None,
                        Some(keys::PAUSE),
                        set,
                        Anomaly::StrayPauseBreak,
                    ),
                    out,
                );
                return;
            }
            ScanKind::Bad(a) => {
                self.settle(set, out);
                let seq = self.prefixed(scan.seq);
                self.emit(KeyEvent::anomaly(seq, None, None, set, a), out);
                return;
            }
            ScanKind::Code { .. } => {}
        }
        let Some(item) = self.classify(set, &scan.kind) else {
            return;
        };
        match item {
            Item::Fake { make } => {
                if self.pending.is_empty()
                    && self.prefix.is_empty()
                    && let Some((ev, Suffix::Release { fake_make, .. })) = &mut self.last
                    && fake_make.is_none_or(|m| m == make)
                {
                    ev.seq.append(scan.seq);
                    *fake_make = Some(make);
                    return;
                }
                self.settle(set, out);
                if self.prefix.raw.len() + scan.seq.raw.len() > MAX_PREFIX {
                    let seq = std::mem::take(&mut self.prefix);
                    self.emit(
                        KeyEvent::anomaly(seq, None, None, set, Anomaly::StrayFakeShift),
                        out,
                    );
                }
                self.prefix.append(scan.seq);
            }
            Item::AltBreak(_) => {
                if !self.pending.is_empty() {
                    self.settle(set, out);
                } else if !matches!(self.last, Some((_, Suffix::Release { sysrq: true, .. }))) {
                    self.emit_last(out);
                }
                self.pending.push((scan, item));
            }
            Item::AltMake(_) => self.pending.push((scan, item)),
            Item::SysrqMake => {
                self.emit_last(out);
                let mut seq = std::mem::take(&mut self.prefix);
                for (s, _) in self.pending.drain(..) {
                    seq.append(s.seq);
                }
                seq.append(scan.seq);
                let ev = KeyEvent::new(seq, Some(Action::Press), Some(keys::PRINT), set);
                self.emit(ev, out);
            }
            Item::Key { .. } | Item::Unknown { .. } => {
                self.settle(set, out);
                self.real(set, scan.seq, item, out);
            }
        }
    }

    /// `seq` after the fake-shift bytes waiting for it (which are taken).
    #[inline]
    fn prefixed(&mut self, seq: Seq) -> Seq {
        if self.prefix.is_empty() {
            return seq;
        }
        let mut full = std::mem::take(&mut self.prefix);
        full.append(seq);
        full
    }

    /// Decodes a real key code (no pattern around it).
    fn real(&mut self, set: u8, seq: Seq, item: Item, out: &mut Vec<KeyEvent>) {
        let full = self.prefixed(seq);
        match item {
            Item::Key { key, brk, sysrq } => {
                if brk {
                    self.hold_release(full, key, set, sysrq);
                } else {
                    self.press(full, key, set, out);
                }
            }
            Item::AltBreak(key) => {
                let ev = KeyEvent::new(full, Some(Action::Release), Some(key), set);
                self.emit(ev, out);
            }
            Item::AltMake(key) => {
                let ev = KeyEvent::new(full, Some(Action::Press), Some(key), set);
                self.emit(ev, out);
            }
            Item::Unknown { brk } => self.unknown_code(full, brk, set, out),
            Item::Fake { .. } | Item::SysrqMake => {
                // Only reached through settle() for items that never reach it.
                let ev = KeyEvent::anomaly(full, None, None, set, Anomaly::Malformed);
                self.emit(ev, out);
            }
        }
    }

    /// Resolves everything held back: a complete Alt bounce after a SysRq
    /// release joins it; other pending Alt codes are real releases/presses.
    fn settle(&mut self, set: u8, out: &mut Vec<KeyEvent>) {
        if self.bounce_complete()
            && let Some((ev, Suffix::Release { sysrq: true, .. })) = &mut self.last
        {
            for (s, _) in self.pending.drain(..) {
                ev.seq.append(s.seq);
            }
        }
        self.emit_last(out);
        let pending = std::mem::take(&mut self.pending);
        for (scan, item) in pending {
            self.real(set, scan.seq, item, out);
            self.emit_last(out);
        }
    }

    fn emit_last(&mut self, out: &mut Vec<KeyEvent>) {
        if let Some((ev, _)) = self.last.take() {
            self.emit(ev, out);
        }
    }

    fn emit(&mut self, mut ev: KeyEvent, out: &mut Vec<KeyEvent>) {
        self.state.apply(&mut ev);
        ev.state = self.state.clone();
        out.push(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `bytes` in `set` and renders `BYTES action key` per event.
    fn decode(set: u8, xlate: bool, bytes: &[u8]) -> Vec<String> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            let origin = Origin {
                line: i as u64 + 1,
                ..Origin::default()
            };
            d.push(set, xlate, b, &origin, &mut out);
        }
        d.boundary(set, &mut out);
        out.iter()
            .map(|e| {
                let mut s = String::new();
                hex_bytes(&e.seq.raw, &mut s);
                if xlate {
                    s.push_str(" => ");
                    hex_bytes(&e.seq.guest, &mut s);
                }
                s.push(' ');
                s.push_str(e.action.map_or("?", Action::as_str));
                s.push(' ');
                s.push_str(e.key.map_or("?", keys::name));
                if let Some(a) = e.anomaly {
                    s.push_str(&format!(" !{a:?}"));
                }
                s
            })
            .collect()
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn set2_plain_extended_and_breaks() {
        assert_eq!(
            decode(
                2,
                false,
                &hex("1C F0 1C E0 75 E0 F0 75 E0 4A E0 F0 4A 83 F0 83")
            ),
            [
                "1C press a",
                "F0 1C release a",
                "E0 75 press up",
                "E0 F0 75 release up",
                "E0 4A press kp_divide",
                "E0 F0 4A release kp_divide",
                "83 press f7",
                "F0 83 release f7",
            ]
        );
    }

    #[test]
    fn set2_special_sequences() {
        // Print alone, with Shift, with left and right Alt (SysRq); Pause
        // alone and with Ctrl (qemu-trace-formats.md §4.2 and §4.5).
        let got = decode(
            2,
            false,
            &hex("E0 12 E0 7C E0 F0 7C E0 F0 12 \
                 12 E0 7C E0 F0 7C F0 12 \
                 11 F0 11 11 84 F0 84 F0 11 11 F0 11 \
                 E0 11 E0 F0 11 E0 11 84 F0 84 E0 F0 11 E0 11 E0 F0 11 \
                 E1 14 77 E1 F0 14 F0 77 \
                 14 E0 7E E0 F0 7E F0 14"),
        );
        assert_eq!(
            got,
            [
                "E0 12 E0 7C press print",
                "E0 F0 7C E0 F0 12 release print",
                "12 press shift",
                "E0 7C press print",
                "E0 F0 7C release print",
                "F0 12 release shift",
                "11 press alt",
                "F0 11 11 84 press print",
                "F0 84 F0 11 11 release print",
                "F0 11 release alt",
                "E0 11 press alt_r",
                "E0 F0 11 E0 11 84 press print",
                "F0 84 E0 F0 11 E0 11 release print",
                "E0 F0 11 release alt_r",
                "E1 14 77 E1 F0 14 F0 77 press pause",
                "14 press ctrl",
                "E0 7E press pause",
                "E0 F0 7E release pause",
                "F0 14 release ctrl",
            ]
        );
    }

    #[test]
    fn alt_released_and_pressed_again_without_sysrq_is_two_events() {
        assert_eq!(
            decode(2, false, &hex("11 F0 11 11 1C F0 1C F0 11")),
            [
                "11 press alt",
                "F0 11 release alt",
                "11 press alt",
                "1C press a",
                "F0 1C release a",
                "F0 11 release alt",
            ]
        );
    }

    #[test]
    fn fake_shifts_around_navigation_keys() {
        // Real keyboards: NumLock on, and with Shift held.
        assert_eq!(
            decode(
                2,
                false,
                &hex("E0 12 E0 75 E0 F0 75 E0 F0 12 12 E0 F0 12 E0 74 E0 F0 74 E0 12 F0 12")
            ),
            [
                "E0 12 E0 75 press up",
                "E0 F0 75 E0 F0 12 release up",
                "12 press shift",
                "E0 F0 12 E0 74 press right",
                "E0 F0 74 E0 12 release right",
                "F0 12 release shift",
            ]
        );
        // Set 1.
        assert_eq!(
            decode(1, false, &hex("E0 2A E0 37 E0 B7 E0 AA")),
            ["E0 2A E0 37 press print", "E0 B7 E0 AA release print"]
        );
        // A release's suffix and the next press's prefix, back to back.
        assert_eq!(
            decode(
                2,
                false,
                &hex("E0 12 E0 75 E0 F0 75 E0 F0 12 E0 12 E0 72 E0 F0 72")
            ),
            [
                "E0 12 E0 75 press up",
                "E0 F0 75 E0 F0 12 release up",
                "E0 12 E0 72 press down",
                "E0 F0 72 release down",
            ]
        );
    }

    #[test]
    fn set1_sequences() {
        let got = decode(
            1,
            false,
            &hex("1E 9E E0 48 E0 C8 2A 1E 9E AA \
                 38 B8 38 54 D4 B8 38 B8 \
                 E0 38 E0 B8 E0 38 54 D4 E0 B8 E0 38 E0 B8 \
                 E1 1D 45 E1 9D C5 1D E0 46 E0 C6 9D"),
        );
        assert_eq!(
            got,
            [
                "1E press a",
                "9E release a",
                "E0 48 press up",
                "E0 C8 release up",
                "2A press shift",
                "1E press a",
                "9E release a",
                "AA release shift",
                "38 press alt",
                "B8 38 54 press print",
                "D4 B8 38 release print",
                "B8 release alt",
                "E0 38 press alt_r",
                "E0 B8 E0 38 54 press print",
                "D4 E0 B8 E0 38 release print",
                "E0 B8 release alt_r",
                "E1 1D 45 E1 9D C5 press pause",
                "1D press ctrl",
                "E0 46 press pause",
                "E0 C6 release pause",
                "9D release ctrl",
            ]
        );
    }

    #[test]
    fn set1_replies_are_not_keys_unless_a_key_is_held() {
        // FA (ACK) and AA (BAT) alone are replies; AA after Shift is its release.
        assert_eq!(
            decode(1, false, &hex("FA AA 2A AA FE 00 FF")),
            ["2A press shift", "AA release shift"]
        );
        // kp_comma is 7E: FE releases it when it is held.
        assert_eq!(
            decode(1, false, &hex("7E FE")),
            ["7E press kp_comma", "FE release kp_comma"]
        );
    }

    #[test]
    fn set3_table_and_replies() {
        assert_eq!(
            decode(
                3,
                false,
                &hex("1C F0 1C 57 F0 57 62 F0 62 91 F0 91 FA AA 4E F0 4E")
            ),
            [
                "1C press a",
                "F0 1C release a",
                "57 press print",
                "F0 57 release print",
                "62 press pause",
                "F0 62 release pause",
                "91 press menu",
                "F0 91 release menu",
                "4E press minus",
                "F0 4E release minus",
            ]
        );
    }

    #[test]
    fn anomalies_resynchronise() {
        assert_eq!(
            decode(2, false, &hex("E0 5F 1C F0 1C F0 1C E0 E0 75 E0 F0 75 E0")),
            [
                "E0 5F press ? !UnknownCode",
                "1C press a",
                "F0 1C release a",
                "F0 1C release a !BreakWithoutMake",
                "E0 ? ? !Truncated",
                "E0 75 press up",
                "E0 F0 75 release up",
                "E0 ? ? !Truncated",
            ]
        );
        assert_eq!(
            decode(2, false, &hex("E1 14 1C E1 F0 14 F0 77 E0 12")),
            [
                "E1 14 ? ? !Truncated",
                "1C press a",
                "E1 F0 14 F0 77 ? pause !StrayPauseBreak",
                "E0 12 ? ? !StrayFakeShift",
            ]
        );
        // A byte run of fake shifts cannot grow without bound.
        let many: Vec<u8> = std::iter::repeat_n([0xe0, 0x12], 40).flatten().collect();
        let got = decode(2, false, &many);
        assert!(got.len() >= 4, "{got:?}");
        assert!(got.iter().all(|g| g.ends_with("!StrayFakeShift")));
    }

    #[test]
    fn translation_is_tracked_per_byte() {
        assert_eq!(
            decode(
                2,
                true,
                &hex("1C F0 1C E0 4A E0 F0 4A E1 14 77 E1 F0 14 F0 77")
            ),
            [
                "1C => 1E press a",
                "F0 1C => 9E release a",
                "E0 4A => E0 35 press kp_divide",
                "E0 F0 4A => E0 B5 release kp_divide",
                "E1 14 77 E1 F0 14 F0 77 => E1 1D 45 E1 9D C5 press pause",
            ]
        );
    }

    /// Prefixes, real codes, Alt and SysRq codes: the bytes the random
    /// streams favour so that sequences get exercised.
    const INTERESTING: [u8; 20] = [
        0xe0, 0xe1, 0xf0, 0x12, 0x59, 0x11, 0x84, 0x7c, 0x14, 0x77, 0x1d, 0x45, 0x9d, 0xc5, 0x2a,
        0xaa, 0x38, 0xb8, 0x54, 0xd4,
    ];

    /// A fixed pseudo-random byte stream (a linear congruential generator)
    /// that draws one of `interesting` in `share` of 256 cases.
    struct ByteStream {
        x: u32,
        interesting: &'static [u8],
        share: u8,
    }

    impl ByteStream {
        /// The next raw draw.
        fn raw(&mut self) -> u8 {
            self.x = self.x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (self.x >> 24) as u8
        }

        /// The next byte, biased towards the interesting ones.
        fn byte(&mut self) -> u8 {
            let r = self.raw();
            if r < self.share {
                self.interesting[usize::from(r) % self.interesting.len()]
            } else {
                self.raw()
            }
        }
    }

    /// Any byte stream, in any set, with hints cutting it anywhere: no
    /// panic, and every byte ends up in an event or counted as a reply.
    #[test]
    fn every_byte_is_accounted_for() {
        let mut stream = ByteStream {
            x: 0x1234_5678,
            interesting: &INTERESTING[..16],
            share: 160,
        };
        for set in 1..=3u8 {
            for xlate in [false, true] {
                let mut d = Decoder::new();
                let mut out = Vec::new();
                let mut pushed = 0u64;
                for i in 0..20_000u64 {
                    let b = stream.byte();
                    let origin = Origin {
                        line: i + 1,
                        ..Origin::default()
                    };
                    d.push(set, xlate, b, &origin, &mut out);
                    pushed += 1;
                    if stream.raw() < 8 {
                        d.boundary(set, &mut out);
                    }
                }
                d.boundary(set, &mut out);
                let in_events: u64 = out.iter().map(|e| e.seq.raw.len() as u64).sum();
                assert_eq!(in_events + d.replies, pushed, "set {set} xlate {xlate}");
                assert!(out.iter().all(|e| !e.seq.raw.is_empty()));
                assert!(out.iter().all(|e| e.seq.guest.len() <= e.seq.raw.len()));
            }
        }
    }

    /// The short ways for plain codes and idle boundaries give the same
    /// events, in the same order, with the same state, as the byte and
    /// sequence stages.
    #[test]
    fn plain_codes_take_a_short_way_to_the_same_events() {
        let mut stream = ByteStream {
            x: 0x0bad_cafe,
            interesting: &INTERESTING,
            share: 128,
        };
        for set in 1..=3u8 {
            for xlate in [false, true] {
                let (mut short, mut general) = (Decoder::new(), Decoder::new());
                let (mut got, mut want) = (Vec::new(), Vec::new());
                for i in 0..50_000u64 {
                    let b = stream.byte();
                    let time = i.to_string();
                    let at = At {
                        line: i + 1,
                        time: Some(time.as_bytes()),
                        tid: Some(i % 3),
                    };
                    short.push_at(set, xlate, b, at, &mut got);
                    let guest = if xlate {
                        general.translator.push(b)
                    } else {
                        Some(b)
                    };
                    general.push_general(set, b, guest, at, &mut want);
                    if stream.raw() < 8 {
                        short.boundary(set, &mut got);
                        general.boundary_general(set, &mut want);
                    }
                }
                short.boundary(set, &mut got);
                general.boundary_general(set, &mut want);
                assert_eq!(got, want, "set {set} xlate {xlate}");
                assert_eq!(short.replies, general.replies);
                assert_eq!(short.state, general.state);
            }
        }
    }

    #[test]
    fn locks_toggle_on_press_and_follow_leds() {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        let o = Origin::default();
        for b in hex("58 F0 58") {
            d.push(2, false, b, &o, &mut out);
        }
        d.boundary(2, &mut out);
        assert!(d.state.caps);
        d.state.set_leds(2);
        assert!(!d.state.caps && d.state.num);
    }
}
