//! The linear matcher: for every piece of a format and every position of a
//! message, whether the rest of the format can match the rest of the message
//! from there, computed in one backward pass per piece.
//!
//! Whether the backtracking search of [`CFormat::match_message`] succeeds
//! from a piece at a position depends on nothing else (not on how the pieces
//! before it were matched), so these answers form a table. Row `r` follows
//! from row `r + 1` alone: a literal needs itself and row `r + 1` after it; a
//! string needs row `r + 1` at any position from here on; a number needs row
//! `r + 1` at the end of one of its candidate digit runs. The candidates of a
//! number at one position are its longest fitting run and every shorter one,
//! so "some candidate end is in row `r + 1`" is a range query, answered in
//! constant time with the first position of row `r + 1` at or after the
//! range's start, carried along the backward pass together with the lengths
//! of the digit and zero runs. No state is visited twice and no byte is
//! rescanned, so a table costs O(message length × pieces), whatever the
//! message holds.
//!
//! The search then enters only the states the table marks, and so walks
//! straight to the match it would have found alone.
//!
//! Invariant: [`Table::good`] says exactly whether `CFormat::match_from`,
//! without a budget, succeeds from that piece and position. The tests compare
//! the two on every format shape.

use super::{
    Conv, DEC_DIGITS, HEX_DIGITS, HEX_UPPER_DIGITS, NOT_DIGIT, OCT_DIGITS, Piece, fitting_digits,
    has_at, pad_span, pads_with_spaces, trailing_pad, value_bounds,
};
use crate::value::{Kind, Radix};

/// No position: beyond every one.
const NONE: usize = usize::MAX;

/// Bytes of a `%g`-style field (any alphanumeric, `.`, `-`, `+`): 0 for
/// members, [`NOT_DIGIT`] for others.
static FLOAT_CHARS: [u8; 256] = {
    let mut t = [NOT_DIGIT; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'+' {
            t[b] = 0;
        }
        b += 1;
    }
    t
};

/// Which states of a format lead to a match of one message.
pub(crate) struct Table<'a> {
    msg: &'a [u8],
    /// One per piece, then the end of the format.
    rows: Vec<Row<'a>>,
    /// The bit rows of the conversions, `words` words each, one bit per
    /// position `0..=msg.len()`.
    bits: Vec<u64>,
    words: usize,
    /// Work spent building: one unit per state and per byte compared.
    work: usize,
}

/// How a row of the table is kept.
#[derive(Debug, Clone, Copy)]
enum Row<'a> {
    /// The end of the format: only the end of the message.
    End,
    /// A literal: it must be at the position, and the next row after it
    /// (cheaper to ask again than to store).
    Lit(&'a [u8]),
    /// A string: every position up to the last of the next row (none when
    /// `None`), since a string may end anywhere after its start.
    UpTo(Option<usize>),
    /// A conversion: the bit row with this index.
    Bits(usize),
}

/// What the backward pass carries for the four positions from the current
/// one on: the first position of the next row at or after each, and the
/// lengths of the run of the conversion's digits and of zeros starting there.
#[derive(Debug, Clone, Copy)]
struct Window {
    first_good: [usize; 4],
    run: [usize; 4],
    zeros: [usize; 4],
}

impl Window {
    /// Beyond the end of the message.
    const EMPTY: Window = Window {
        first_good: [NONE; 4],
        run: [0; 4],
        zeros: [0; 4],
    };

    /// Steps back one position, whose values are given.
    #[inline]
    fn shift(&mut self, first_good: usize, run: usize, zeros: usize) {
        self.first_good = [
            first_good,
            self.first_good[0],
            self.first_good[1],
            self.first_good[2],
        ];
        self.run = [run, self.run[0], self.run[1], self.run[2]];
        self.zeros = [zeros, self.zeros[0], self.zeros[1], self.zeros[2]];
    }
}

impl<'a> Table<'a> {
    /// The table of `pieces` over `msg`.
    pub(crate) fn build(pieces: &'a [Piece], msg: &'a [u8]) -> Table<'a> {
        let words = msg.len() / 64 + 1;
        let mut t = Table {
            msg,
            rows: vec![Row::End; pieces.len() + 1],
            bits: Vec::new(),
            words,
            work: 0,
        };
        for r in (0..pieces.len()).rev() {
            t.rows[r] = match &pieces[r] {
                Piece::Lit(l) => Row::Lit(l),
                Piece::Conv(c) if matches!(c.kind, Kind::Str | Kind::Errno) => {
                    Row::UpTo(t.last_good(r + 1))
                }
                Piece::Conv(c) => {
                    let mut row = vec![0u64; words];
                    t.fill(r, c, &mut row);
                    let index = t.bits.len() / words;
                    t.bits.extend_from_slice(&row);
                    Row::Bits(index)
                }
            };
        }
        t
    }

    /// Whether the whole message matches.
    pub(crate) fn matches(&self) -> bool {
        self.good(0, 0)
    }

    /// The work spent building the table.
    pub(crate) fn work(&self) -> usize {
        self.work
    }

    /// Whether the pieces from `r` on match the message from `x` on.
    pub(crate) fn good(&self, r: usize, x: usize) -> bool {
        let n = self.msg.len();
        if x > n {
            return false;
        }
        match self.rows[r] {
            Row::End => x == n,
            Row::Lit(l) => has_at(self.msg, x, l) && self.good(r + 1, x + l.len()),
            Row::UpTo(last) => last.is_some_and(|l| x <= l),
            Row::Bits(k) => self.bits[k * self.words + x / 64] >> (x % 64) & 1 != 0,
        }
    }

    /// The last position of row `r`.
    fn last_good(&mut self, r: usize) -> Option<usize> {
        let n = self.msg.len();
        match self.rows[r] {
            Row::End => Some(n),
            Row::UpTo(last) => last,
            Row::Bits(k) => {
                let row = &self.bits[k * self.words..(k + 1) * self.words];
                let w = row.iter().rposition(|&w| w != 0)?;
                self.work += self.words - w;
                Some(w * 64 + 63 - row[w].leading_zeros() as usize)
            }
            Row::Lit(l) => {
                let mut x = n.checked_sub(l.len())?;
                loop {
                    self.work += 1;
                    if self.good(r, x) {
                        return Some(x);
                    }
                    x = x.checked_sub(1)?;
                }
            }
        }
    }

    /// Fills the bit row of conversion `c` (piece `r`), from the last
    /// position to the first.
    fn fill(&mut self, r: usize, c: &Conv, row: &mut [u64]) {
        let msg = self.msg;
        let n = msg.len();
        let shape = Shape::of(c);
        let mut here = Window::EMPTY;
        // The window at the first position at or after this one that is
        // not a space: where a field padded with spaces starts.
        let mut past_spaces = Window::EMPTY;
        let mut spaces = 0usize;
        for pos in (0..=n).rev() {
            let b = msg.get(pos).copied();
            let first_good = if self.good(r + 1, pos) {
                pos
            } else {
                here.first_good[0]
            };
            let (run, zeros) = match b {
                Some(b) if shape.class[usize::from(b)] != NOT_DIGIT => (
                    here.run[0] + 1,
                    if b == b'0' { here.zeros[0] + 1 } else { 0 },
                ),
                _ => (0, 0),
            };
            here.shift(first_good, run, zeros);
            if b == Some(b' ') {
                spaces += 1;
            } else {
                spaces = 0;
                if shape.lead {
                    past_spaces = here;
                }
            }
            self.work += 1;
            let window = if shape.lead { &past_spaces } else { &here };
            let start = if shape.lead { pos + spaces } else { pos };
            if self.cell(r, c, &shape, pos, start, window) {
                row[pos / 64] |= 1 << (pos % 64);
            }
        }
    }

    /// Whether conversion `c` (piece `r`) at `pos`, whose field starts after
    /// its padding at `start`, has a candidate that row `r + 1` accepts;
    /// `w` is the window at `start`.
    fn cell(
        &mut self,
        r: usize,
        c: &Conv,
        shape: &Shape,
        pos: usize,
        start: usize,
        w: &Window,
    ) -> bool {
        let msg = self.msg;
        match shape.kind {
            ShapeKind::Char => {
                if pos >= msg.len() {
                    return false;
                }
                let (_, ve, end) = pad_span(c, msg, pos, 1);
                ve <= msg.len() && self.good(r + 1, end)
            }
            ShapeKind::Float => {
                let run = w.run[0];
                self.some_end(r, c, shape, pos, start, w, 0, run, run, 1)
            }
            ShapeKind::Pointer => {
                if has_at(msg, start, b"(nil)") {
                    let end = start + 5;
                    let end = end + trailing_pad(c, msg, pos, end);
                    return self.good(r + 1, end);
                }
                if !has_at(msg, start, b"0x") {
                    return false;
                }
                self.number(r, c, shape, pos, start, w, 2, false)
            }
            ShapeKind::Number => {
                let mut off = 0;
                let mut neg = false;
                if shape.signed {
                    match msg.get(start) {
                        Some(b'-') => {
                            neg = true;
                            off = 1;
                        }
                        Some(b'+') if c.plus => off = 1,
                        Some(b' ') if c.space => off = 1,
                        _ => {}
                    }
                }
                if let Some(prefix) = shape.prefix {
                    if has_at(msg, start + off, prefix) {
                        off += 2;
                    } else {
                        // `%#x` of zero: zeros only, any number of them.
                        let zeros = w.zeros[off];
                        if zeros == 0 {
                            return false;
                        }
                        return self
                            .some_end(r, c, shape, pos, start, w, off, zeros, zeros, shape.min);
                    }
                }
                self.number(r, c, shape, pos, start, w, off, neg)
            }
        }
    }

    /// A run of digits at `start + off`: its candidates are the runs up to
    /// the longest whose value fits the type.
    #[allow(clippy::too_many_arguments)]
    fn number(
        &mut self,
        r: usize,
        c: &Conv,
        shape: &Shape,
        pos: usize,
        start: usize,
        w: &Window,
        off: usize,
        neg: bool,
    ) -> bool {
        let run = w.run[off];
        let zeros = w.zeros[off];
        let limit = if neg { shape.max_neg } else { shape.max_pos };
        let digits = start + off;
        let significant = &self.msg[digits + zeros..digits + run];
        let fits = zeros + fitting_digits(significant, shape.radix, limit);
        self.work += fits - zeros + 1;
        self.some_end(r, c, shape, pos, start, w, off, run, fits, shape.min)
    }

    /// Whether some digit run `start + off .. + k`, `min <= k <= fits`, ends
    /// (after a left-justified field's trailing padding, which only the
    /// whole run of `run` digits can have) where row `r + 1` accepts.
    #[allow(clippy::too_many_arguments)]
    fn some_end(
        &mut self,
        r: usize,
        c: &Conv,
        shape: &Shape,
        pos: usize,
        start: usize,
        w: &Window,
        off: usize,
        run: usize,
        fits: usize,
        min: usize,
    ) -> bool {
        if fits < min {
            return false;
        }
        let digits = start + off;
        let mut top = fits;
        if shape.pad_after && fits == run {
            let end = digits + fits;
            let pad = trailing_pad(c, self.msg, pos, end);
            self.work += pad;
            if self.good(r + 1, end + pad) {
                return true;
            }
            if fits == min {
                return false;
            }
            top = fits - 1;
        }
        // The first accepted position at or after the shortest run's end
        // is no later than the longest run's end.
        w.first_good[off + min] <= digits + top
    }
}

/// What kind of field a conversion reads, for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShapeKind {
    Number,
    Pointer,
    Float,
    Char,
}

/// A conversion, as the table's backward pass needs it.
struct Shape {
    kind: ShapeKind,
    /// Digit values of the conversion's radix ([`NOT_DIGIT`] for others),
    /// or the members of a float field.
    class: &'static [u8; 256],
    radix: u64,
    /// `-` (and `+` or space with those flags) may come first.
    signed: bool,
    /// `%#x`: `0x` (or `0X`) before a value that is not zero.
    prefix: Option<&'static [u8; 2]>,
    /// Leading spaces are padding.
    lead: bool,
    /// A left-justified field with a fixed width: spaces after it pad it.
    pad_after: bool,
    /// The fewest digits printed (0 with a precision of 0).
    min: usize,
    max_pos: u64,
    max_neg: u64,
}

impl Shape {
    fn of(c: &Conv) -> Shape {
        let (max_pos, max_neg) = value_bounds(c);
        let mut shape = Shape {
            kind: ShapeKind::Number,
            class: &DEC_DIGITS,
            radix: 10,
            signed: c.kind == Kind::Signed,
            prefix: None,
            lead: pads_with_spaces(c),
            pad_after: c.left && c.width.is_some(),
            min: usize::from(c.precision != Some(0)),
            max_pos,
            max_neg,
        };
        match c.kind {
            Kind::Char => shape.kind = ShapeKind::Char,
            Kind::Float => {
                shape.kind = ShapeKind::Float;
                shape.class = &FLOAT_CHARS;
            }
            Kind::Pointer => {
                shape.kind = ShapeKind::Pointer;
                shape.class = &HEX_DIGITS;
                shape.radix = 16;
            }
            Kind::Unsigned(Radix::Hex) => {
                shape.class = &HEX_DIGITS;
                shape.radix = 16;
                shape.prefix = c.alt.then_some(b"0x");
            }
            Kind::Unsigned(Radix::HexUpper) => {
                shape.class = &HEX_UPPER_DIGITS;
                shape.radix = 16;
                shape.prefix = c.alt.then_some(b"0X");
            }
            Kind::Unsigned(Radix::Oct) => {
                shape.class = &OCT_DIGITS;
                shape.radix = 8;
            }
            // Decimal; strings never get here.
            Kind::Signed | Kind::Unsigned(Radix::Dec) | Kind::Width | Kind::Str | Kind::Errno => {}
        }
        shape
    }
}
