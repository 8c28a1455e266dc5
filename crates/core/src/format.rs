//! Compiling a trace-events format string into a matcher that recovers each
//! argument from the text QEMU printed.
//!
//! A format in a `trace-events` file is C source: string literals (with `\"`,
//! `\t`, `\n`, `\\`, `\xHH` escapes) and `PRIx64`-style macros, in any
//! spacing, possibly ending in a macro. [`CFormat::parse`] turns that into
//! literal pieces and conversion specifications, exactly as the C compiler and
//! glibc's printf on x86-64 would see them.
//!
//! [`CFormat::match_message`] then matches a printed message against the
//! pieces. Numbers are read greedily in the conversion's radix, strings up to
//! the next literal (shortest first); when the rest does not match, it backs
//! off and tries the next candidate. The whole message must be consumed.
//!
//! Cost: a straight-line plan takes each conversion's first candidate in
//! one pass; the backtracking search gets a few passes' worth of work; past
//! that, the table of `linear` finds the same first match in
//! O(message length × pieces), so no message can make matching slow.
//!
//! Documented choices for formats that are ambiguous by construction:
//! - `%s` directly followed by another conversion (no literal between) takes
//!   the shortest string that lets the rest match;
//! - a `*` width is recovered as the printed field width (exact whenever the
//!   value needed no more digits than the width);
//! - `%20s`-style padding spaces are not part of the string value.

use crate::value::{Kind, Radix};

mod linear;

/// A length modifier (only used to bound the value's range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// None: `int`-sized.
    Int,
    /// `hh`: char-sized.
    Char,
    /// `h`: short-sized.
    Short,
    /// `l`, `ll`, `z`, `j`, `t`, `q`, `L`, and `PRI*64`/`PRI*PTR`: 64 bits on x86-64.
    Long,
}

/// One printf conversion specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv {
    /// What the conversion prints.
    pub kind: Kind,
    /// `0` flag.
    pub zero: bool,
    /// `-` flag (left-justify: padding after the value).
    pub left: bool,
    /// `#` flag (`0x` before non-zero hex, `0` before octal).
    pub alt: bool,
    /// `+` flag.
    pub plus: bool,
    /// Space flag.
    pub space: bool,
    /// Field width, if fixed.
    pub width: Option<u32>,
    /// The width is given by a `*` argument.
    pub star_width: bool,
    /// Precision, if fixed.
    pub precision: Option<u32>,
    /// The precision is given by a `.*` argument.
    pub star_precision: bool,
    /// Length modifier.
    pub length: Length,
}

/// A piece of a compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal bytes.
    Lit(Vec<u8>),
    /// A conversion.
    Conv(Conv),
}

/// A parsed printf format.
#[derive(Debug, Clone)]
pub struct CFormat {
    /// The pieces, literals merged.
    pub pieces: Vec<Piece>,
    /// A straight-line matcher for formats made only of conversions that
    /// never need to back off when their first candidate fits (see
    /// [`CFormat::match_message`]); `None` when some piece needs the general
    /// matcher.
    plan: Option<Box<[Step]>>,
}

impl PartialEq for CFormat {
    fn eq(&self, other: &Self) -> bool {
        self.pieces == other.pieces
    }
}

impl Eq for CFormat {}

/// One value slot recovered by matching: a span of the message and, for
/// integers, the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    /// Start of the value's text in the message.
    pub start: u32,
    /// End (exclusive).
    pub end: u32,
    /// The integer (two's complement for signed values); 1 for a NULL pointer
    /// or string marker... see [`Slot::null`].
    pub num: u64,
    /// The value was printed as NULL (`(nil)` / `(null)`).
    pub null: bool,
}

/// The most literal and conversion pieces a format may have.
const MAX_PIECES: usize = 512;

impl CFormat {
    /// Parses the C source of a trace-events format (the text from the first
    /// `"` to the end of the line).
    pub fn parse(source: &str) -> Result<CFormat, String> {
        let text = c_source_to_bytes(source)?;
        Self::from_printf(&text)
    }

    /// Parses an already concatenated printf format.
    pub fn from_printf(text: &[u8]) -> Result<CFormat, String> {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut lit: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let b = text[i];
            if b != b'%' {
                lit.push(b);
                i += 1;
                continue;
            }
            i += 1;
            if text.get(i) == Some(&b'%') {
                lit.push(b'%');
                i += 1;
                continue;
            }
            let (conv, next) = parse_conv(text, i)?;
            i = next;
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Conv(conv));
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        // QEMU allows 10 arguments; matching recurses once per piece, so a
        // bound keeps hostile catalogs from exhausting the stack.
        if pieces.len() > MAX_PIECES {
            return Err(format!(
                "format has {} pieces, more than the {MAX_PIECES} supported",
                pieces.len()
            ));
        }
        Ok(CFormat::from_pieces(pieces))
    }

    /// A format made of `pieces` (literals already merged).
    pub fn from_pieces(pieces: Vec<Piece>) -> CFormat {
        let plan = plan(&pieces);
        CFormat { pieces, plan }
    }

    /// The kinds of the values [`match_message`](Self::match_message) produces,
    /// in order: one per argument the format consumes (a `*` width first), plus
    /// one for each `%m`.
    pub fn slot_kinds(&self) -> Vec<Kind> {
        let mut out = Vec::new();
        for p in &self.pieces {
            if let Piece::Conv(c) = p {
                if c.star_width {
                    out.push(Kind::Width);
                }
                if c.star_precision {
                    out.push(Kind::Width);
                }
                out.push(c.kind);
            }
        }
        out
    }

    /// Matches a printed message; on success `out` holds one slot per
    /// [`slot_kinds`](Self::slot_kinds) entry. `out` is cleared first.
    ///
    /// Matching first follows the first candidate of every conversion in one
    /// pass (the straight-line plan, when the format has one). When that path
    /// fails, the general matcher searches the other candidates depth first,
    /// in the same order, for a few passes' worth of work; past that, the
    /// linear matcher ([`match_linear`](Self::match_linear)) finds the same
    /// first match in time linear in the message. Whichever answers, the
    /// answer is the first match of the depth-first search.
    pub fn match_message(&self, msg: &[u8], out: &mut Vec<Slot>) -> bool {
        out.clear();
        if let Some(plan) = &self.plan {
            if run_plan(plan, msg, out) {
                return true;
            }
            out.clear();
        }
        self.match_general(msg, out, &mut 0)
    }

    /// Like [`match_message`](Self::match_message), but appends the slots
    /// to `out` (left as it was when nothing matches), so that a caller
    /// collecting the slots of many messages does not copy them;
    /// `scratch` serves the general matcher.
    #[inline]
    pub fn match_appending(
        &self,
        msg: &[u8],
        out: &mut Vec<Slot>,
        scratch: &mut Vec<Slot>,
    ) -> bool {
        let base = out.len();
        if let Some(plan) = &self.plan {
            if run_plan(plan, msg, out) {
                return true;
            }
            out.truncate(base);
        }
        let matched = self.match_general(msg, scratch, &mut 0);
        if matched {
            out.extend_from_slice(scratch);
        }
        matched
    }

    /// Whether the straight-line plan alone matches `msg` (for tests and
    /// measurements of how often the general matcher is needed).
    #[doc(hidden)]
    pub fn matched_by_plan(&self, msg: &[u8]) -> bool {
        let mut out = Vec::new();
        self.plan
            .as_ref()
            .is_some_and(|p| run_plan(p, msg, &mut out))
    }

    /// Whether the format has a straight-line plan (for tests).
    #[doc(hidden)]
    pub fn has_plan(&self) -> bool {
        self.plan.is_some()
    }

    /// Matches with the backtracking matcher alone, spending at most
    /// `work_limit` units of work (one per call and one per byte looked at);
    /// `None` when that was not enough to decide. `out` is cleared first.
    /// For tests: an oracle that shares no code with the linear matcher.
    #[doc(hidden)]
    pub fn match_backtracking_within(
        &self,
        msg: &[u8],
        out: &mut Vec<Slot>,
        work_limit: usize,
    ) -> Option<bool> {
        self.search(msg, out, work_limit, None, &mut 0)
    }

    /// Matches with the linear matcher alone (no plan, no budget): first,
    /// for every piece and every position of `msg`, whether the rest of the
    /// format can match from there (one backward pass per piece, see
    /// `linear`); then the backtracking search, entering only those
    /// states, walks straight to the match it would have found alone. Costs
    /// O(message length × pieces) whatever the message holds. `out` is
    /// cleared first.
    #[doc(hidden)]
    pub fn match_linear(&self, msg: &[u8], out: &mut Vec<Slot>) -> bool {
        self.match_linear_costed(msg, out, &mut 0)
    }

    /// [`match_message`](Self::match_message), also returning the work it
    /// spent: one unit per byte the plan read, per call of the backtracking
    /// search, per byte it looked at, and per state and byte of the linear
    /// matcher. For tests that bound the work by the message length.
    #[doc(hidden)]
    pub fn match_cost(&self, msg: &[u8]) -> (bool, usize) {
        let mut out = Vec::new();
        if let Some(plan) = &self.plan {
            if run_plan(plan, msg, &mut out) {
                return (true, msg.len() + 1);
            }
        }
        let mut work = msg.len() + 1;
        let matched = self.match_general(msg, &mut out, &mut work);
        (matched, work)
    }

    /// The general matcher: the backtracking search within a budget of a
    /// few passes over the message, then, when that did not decide, the
    /// linear matcher. `work` accumulates the work spent.
    fn match_general(&self, msg: &[u8], out: &mut Vec<Slot>, work: &mut usize) -> bool {
        let budget = 4 * msg.len() + 32 * self.pieces.len() + 256;
        match self.search(msg, out, budget, None, work) {
            Some(matched) => matched,
            None => self.match_linear_costed(msg, out, work),
        }
    }

    fn match_linear_costed(&self, msg: &[u8], out: &mut Vec<Slot>, work: &mut usize) -> bool {
        out.clear();
        let table = linear::Table::build(&self.pieces, msg);
        *work += table.work();
        if !table.matches() {
            return false;
        }
        // Every state entered leads to a match, so the search never backs
        // off; `Some(false)` or `None` would be a bug in the table.
        self.search(msg, out, usize::MAX, Some(&table), work) == Some(true)
    }

    /// The backtracking search from the first piece: `Some(matched)`, or
    /// `None` when `limit` ran out before it could decide. With a `table`,
    /// only states the table marks as leading to a match are entered.
    fn search(
        &self,
        msg: &[u8],
        out: &mut Vec<Slot>,
        limit: usize,
        table: Option<&linear::Table<'_>>,
        work: &mut usize,
    ) -> Option<bool> {
        out.clear();
        let mut s = Search {
            work: 0,
            limit,
            table,
        };
        let found = self.match_from(0, msg, 0, out, &mut s);
        *work += s.work;
        if found {
            Some(true)
        } else {
            out.clear();
            // Running out is for good: once spent, every call fails at once,
            // so a failure before that was a real one.
            (!s.spent()).then_some(false)
        }
    }

    fn match_from(
        &self,
        pi: usize,
        msg: &[u8],
        pos: usize,
        out: &mut Vec<Slot>,
        s: &mut Search<'_, '_>,
    ) -> bool {
        s.work += 1;
        if s.spent() {
            return false;
        }
        if let Some(t) = s.table
            && !t.good(pi, pos)
        {
            return false;
        }
        let Some(piece) = self.pieces.get(pi) else {
            return pos == msg.len();
        };
        match piece {
            Piece::Lit(l) => {
                s.work += l.len();
                msg.len() >= pos + l.len()
                    && &msg[pos..pos + l.len()] == l.as_slice()
                    && self.match_from(pi + 1, msg, pos + l.len(), out, s)
            }
            Piece::Conv(c) => {
                let mark = out.len();
                let next_lit = match self.pieces.get(pi + 1) {
                    Some(Piece::Lit(l)) => Some(l.as_slice()),
                    _ => None,
                };
                let is_last = pi + 1 == self.pieces.len();
                match c.kind {
                    Kind::Str | Kind::Errno => {
                        // Padding spaces of a width first.
                        let mut vstart = pos;
                        if c.width.is_some() && !c.left {
                            while vstart < msg.len() && msg[vstart] == b' ' {
                                vstart += 1;
                            }
                        }
                        s.work += vstart - pos;
                        let starts: &[usize] = if vstart != pos {
                            &[vstart, pos]
                        } else {
                            &[pos]
                        };
                        for &start in starts {
                            if is_last {
                                let end = trim_left_pad(c, msg, start, msg.len());
                                s.work += msg.len() - end;
                                self.push_str(c, msg, start, end, pos, out);
                                return true;
                            }
                            // Candidate ends: where the next literal starts (shortest first),
                            // or every position when a conversion follows.
                            let mut e = start;
                            loop {
                                let cand = match next_lit {
                                    Some(l) => match find_lit(&msg[e..], l) {
                                        Some(k) => {
                                            s.work += k + l.len();
                                            e + k
                                        }
                                        None => {
                                            s.work += msg.len() - e;
                                            break;
                                        }
                                    },
                                    None => e,
                                };
                                let vend = trim_left_pad(c, msg, start, cand);
                                s.work += cand - vend;
                                self.push_str(c, msg, start, vend, pos, out);
                                if self.match_from(pi + 1, msg, cand, out, s) {
                                    return true;
                                }
                                out.truncate(mark);
                                if cand >= msg.len() || s.spent() {
                                    break;
                                }
                                e = cand + 1;
                            }
                        }
                        false
                    }
                    Kind::Char => {
                        if pos < msg.len() {
                            // Width pads with spaces before (or after) the character.
                            let (vs, ve, end) = pad_span(c, msg, pos, 1);
                            if ve <= msg.len() {
                                self.push_star(c, pos, end, out);
                                out.push(Slot {
                                    start: vs as u32,
                                    end: ve as u32,
                                    num: u64::from(msg[vs]),
                                    null: false,
                                });
                                if self.match_from(pi + 1, msg, end, out, s) {
                                    return true;
                                }
                                out.truncate(mark);
                            }
                        }
                        false
                    }
                    Kind::Pointer => {
                        let rest = &msg[pos..];
                        let lead = leading_spaces(c, rest);
                        s.work += lead;
                        let r = &rest[lead..];
                        if r.starts_with(b"(nil)") {
                            let end = pos + lead + 5;
                            let pad = trailing_pad(c, msg, pos, end);
                            s.work += pad;
                            let end = end + pad;
                            self.push_star(c, pos, end, out);
                            out.push(Slot {
                                start: (pos + lead) as u32,
                                end: (pos + lead + 5) as u32,
                                num: 0,
                                null: true,
                            });
                            if self.match_from(pi + 1, msg, end, out, s) {
                                return true;
                            }
                            out.truncate(mark);
                            return false;
                        }
                        if !r.starts_with(b"0x") {
                            return false;
                        }
                        let digits_start = pos + lead + 2;
                        let n = msg[digits_start..]
                            .iter()
                            .take_while(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                            .count();
                        s.work += n;
                        self.try_number_ends(
                            c,
                            pi,
                            msg,
                            pos,
                            digits_start,
                            pos + lead,
                            n,
                            16,
                            false,
                            out,
                            s,
                            mark,
                        )
                    }
                    Kind::Signed | Kind::Unsigned(_) | Kind::Width => {
                        let rest = &msg[pos..];
                        let lead = leading_spaces(c, rest);
                        s.work += lead;
                        let mut p = pos + lead;
                        let vstart = p;
                        let mut neg = false;
                        if c.kind == Kind::Signed {
                            match msg.get(p) {
                                Some(b'-') => {
                                    neg = true;
                                    p += 1;
                                }
                                Some(b'+') if c.plus => p += 1,
                                Some(b' ') if c.space => p += 1,
                                _ => {}
                            }
                        }
                        let (radix, upper) = match c.kind {
                            Kind::Unsigned(Radix::Hex) => (16, false),
                            Kind::Unsigned(Radix::HexUpper) => (16, true),
                            Kind::Unsigned(Radix::Oct) => (8, false),
                            _ => (10, false),
                        };
                        if c.alt && radix == 16 {
                            let pre: &[u8] = if upper { b"0X" } else { b"0x" };
                            if msg[p..].starts_with(pre) {
                                p += 2;
                            } else {
                                // `%#x` prints zero without `0x` (`0`, or
                                // `00000000` with `%#08x`): only zeros may follow.
                                let zeros = msg[p..].iter().take_while(|&&b| b == b'0').count();
                                s.work += zeros;
                                if zeros == 0 {
                                    return false;
                                }
                                return self.try_number_ends(
                                    c, pi, msg, pos, p, vstart, zeros, 16, false, out, s, mark,
                                );
                            }
                        }
                        let n = msg[p..]
                            .iter()
                            .take_while(|&&b| match radix {
                                16 if upper => b.is_ascii_digit() || (b'A'..=b'F').contains(&b),
                                16 => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
                                8 => (b'0'..=b'7').contains(&b),
                                _ => b.is_ascii_digit(),
                            })
                            .count();
                        s.work += n;
                        self.try_number_ends(
                            c, pi, msg, pos, p, vstart, n, radix, neg, out, s, mark,
                        )
                    }
                    Kind::Float => {
                        let rest = &msg[pos..];
                        let lead = leading_spaces(c, rest);
                        let start = pos + lead;
                        let n = msg[start..]
                            .iter()
                            .take_while(|b| {
                                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+')
                            })
                            .count();
                        s.work += lead + n;
                        let mut k = n;
                        while k > 0 {
                            let pad = trailing_pad(c, msg, pos, start + k);
                            s.work += pad;
                            let end = start + k + pad;
                            self.push_star(c, pos, end, out);
                            out.push(Slot {
                                start: start as u32,
                                end: (start + k) as u32,
                                num: 0,
                                null: false,
                            });
                            if self.match_from(pi + 1, msg, end, out, s) {
                                return true;
                            }
                            out.truncate(mark);
                            if s.spent() {
                                return false;
                            }
                            k -= 1;
                        }
                        false
                    }
                }
            }
        }
    }

    /// Tries the digit runs `digits_start..digits_start+k` for k = n down to
    /// the fewest digits the conversion may print, skipping those whose value
    /// outgrows the C type.
    #[allow(clippy::too_many_arguments)]
    fn try_number_ends(
        &self,
        c: &Conv,
        pi: usize,
        msg: &[u8],
        field_start: usize,
        digits_start: usize,
        value_start: usize,
        n: usize,
        radix: u32,
        neg: bool,
        out: &mut Vec<Slot>,
        s: &mut Search<'_, '_>,
        mark: usize,
    ) -> bool {
        // The length modifier bounds what printf could have printed: a
        // greedy run of digits must not outgrow its C type.
        let (max_pos, max_neg) = value_bounds(c);
        let limit = if neg { max_neg } else { max_pos };
        // A run that outgrows the type makes every longer run outgrow it
        // too: only the runs up to the longest that fits are candidates.
        // That one is its leading zeros, then significant digits while the
        // value fits (at most 22 of them in any radix).
        let digits = &msg[digits_start..digits_start + n];
        let zeros = digits.iter().take_while(|&&b| b == b'0').count();
        let fits = zeros + fitting_digits(&digits[zeros..], u64::from(radix), limit);
        s.work += fits + 1;
        // `%.0x` of 0 prints no digit at all (C11 7.21.6.1).
        let min = usize::from(c.precision != Some(0));
        let mut k = fits;
        while k >= min {
            let dend = digits_start + k;
            let mag = if k <= zeros {
                0
            } else {
                s.work += k - zeros;
                parse_radix(&digits[zeros..k], radix).unwrap_or(u64::MAX)
            };
            let num = if neg {
                (mag as i64).wrapping_neg() as u64
            } else {
                mag
            };
            let pad = trailing_pad(c, msg, field_start, dend);
            s.work += pad;
            let end = dend + pad;
            self.push_star(c, field_start, end, out);
            out.push(Slot {
                start: value_start as u32,
                end: dend as u32,
                num,
                null: false,
            });
            if self.match_from(pi + 1, msg, end, out, s) {
                return true;
            }
            out.truncate(mark);
            if s.spent() || k == 0 {
                return false;
            }
            k -= 1;
        }
        false
    }

    fn push_star(&self, c: &Conv, field_start: usize, field_end: usize, out: &mut Vec<Slot>) {
        let w = (field_end - field_start) as u64;
        if c.star_width {
            out.push(Slot {
                start: field_start as u32,
                end: field_end as u32,
                num: w,
                null: false,
            });
        }
        if c.star_precision {
            out.push(Slot {
                start: field_start as u32,
                end: field_end as u32,
                num: w,
                null: false,
            });
        }
    }

    fn push_str(
        &self,
        c: &Conv,
        msg: &[u8],
        s: usize,
        e: usize,
        field_start: usize,
        out: &mut Vec<Slot>,
    ) {
        self.push_star(c, field_start, e, out);
        let null = c.kind == Kind::Str && &msg[s..e] == b"(null)";
        out.push(Slot {
            start: s as u32,
            end: e as u32,
            num: 0,
            null,
        });
    }
}

/// The state of one backtracking search.
struct Search<'t, 'a> {
    /// Work spent: one unit per call and one per byte looked at.
    work: usize,
    /// The search gives up (fails) once `work` exceeds this.
    limit: usize,
    /// When set, only the states it marks as leading to a match are entered.
    table: Option<&'t linear::Table<'a>>,
}

impl Search<'_, '_> {
    fn spent(&self) -> bool {
        self.work > self.limit
    }
}

/// The largest magnitudes of a positive and of a negative value the
/// conversion's C type holds (a negative one only for `%d`).
fn value_bounds(c: &Conv) -> (u64, u64) {
    let bits = match (c.kind, c.length) {
        (Kind::Pointer, _) | (_, Length::Long) => 64,
        (_, Length::Int) => 32,
        (_, Length::Short) => 16,
        (_, Length::Char) => 8,
    };
    if c.kind == Kind::Signed {
        ((1u64 << (bits - 1)) - 1, 1u64 << (bits - 1))
    } else {
        (u64::MAX >> (64 - bits), 0)
    }
}

/// How many of the digits at the start of `d` (the first one not a zero)
/// form a value of at most `limit`: they stop fitting after at most 22.
fn fitting_digits(d: &[u8], radix: u64, limit: u64) -> usize {
    let mut v: u64 = 0;
    let mut k = 0;
    while let Some(&b) = d.get(k) {
        let Some(x) = (b as char).to_digit(radix as u32) else {
            break;
        };
        match v
            .checked_mul(radix)
            .and_then(|v| v.checked_add(u64::from(x)))
        {
            Some(w) if w <= limit => v = w,
            _ => break,
        }
        k += 1;
    }
    k
}

/// The first occurrence of `needle` in `hay`.
#[inline]
fn find_lit(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [b] => memchr::memchr(*b, hay),
        _ => memchr::memmem::find(hay, needle),
    }
}

/// One step of a straight-line plan.
#[derive(Debug, Clone)]
enum Step {
    /// Literal bytes that must come next.
    Lit(Box<[u8]>),
    /// A `%s` (or `%m`) without width: up to the first occurrence of the
    /// literal that follows it, which is consumed too; or, last, to the end.
    Str { until: Until, null_marker: bool },
    /// An integer conversion without `-`, `+`, space or `*`.
    Num(NumStep),
    /// A `%p` without width.
    Ptr,
}

/// Where a planned string ends.
#[derive(Debug, Clone)]
enum Until {
    /// At the end of the message.
    End,
    /// Before this byte (the literal after the string is one byte).
    Byte(u8),
    /// Before this literal.
    Lit(Box<memchr::memmem::Finder<'static>>),
}

/// A planned integer conversion.
#[derive(Debug, Clone)]
struct NumStep {
    /// Digit value of each byte in the conversion's radix, or `NOT_DIGIT`.
    digits: &'static [u8; 256],
    radix: u64,
    /// Leading spaces are padding (a width without the `0` flag).
    spaces: bool,
    /// `-` may come first.
    signed: bool,
    /// `0x`/`0X` must come first (`%#x`; a zero without it goes to the
    /// general matcher).
    prefix: Option<&'static [u8; 2]>,
    /// Largest magnitude a positive / negative value of the C type has.
    max_pos: u64,
    max_neg: u64,
}

const NOT_DIGIT: u8 = 0xff;

const fn digit_table(radix: u8, lower: bool, upper: bool) -> [u8; 256] {
    let mut t = [NOT_DIGIT; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let v = if c.is_ascii_digit() {
            c - b'0'
        } else if lower && c >= b'a' && c <= b'f' {
            c - b'a' + 10
        } else if upper && c >= b'A' && c <= b'F' {
            c - b'A' + 10
        } else {
            NOT_DIGIT
        };
        if v != NOT_DIGIT && v < radix {
            t[b] = v;
        }
        b += 1;
    }
    t
}

static DEC_DIGITS: [u8; 256] = digit_table(10, false, false);
static OCT_DIGITS: [u8; 256] = digit_table(8, false, false);
static HEX_DIGITS: [u8; 256] = digit_table(16, true, false);
static HEX_UPPER_DIGITS: [u8; 256] = digit_table(16, false, true);

/// The straight-line plan of `pieces`, when every piece has one.
fn plan(pieces: &[Piece]) -> Option<Box<[Step]>> {
    let mut steps = Vec::with_capacity(pieces.len());
    let mut i = 0;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Lit(l) => steps.push(Step::Lit(l.clone().into_boxed_slice())),
            Piece::Conv(c) => {
                if c.star_width || c.star_precision || c.left || c.plus || c.space {
                    return None;
                }
                match c.kind {
                    Kind::Str | Kind::Errno if c.width.is_none() => {
                        let until = match pieces.get(i + 1) {
                            None => Until::End,
                            Some(Piece::Lit(l)) => {
                                i += 1;
                                match l.as_slice() {
                                    [b] => Until::Byte(*b),
                                    _ => Until::Lit(Box::new(
                                        memchr::memmem::Finder::new(l).into_owned(),
                                    )),
                                }
                            }
                            Some(Piece::Conv(_)) => return None,
                        };
                        steps.push(Step::Str {
                            until,
                            null_marker: c.kind == Kind::Str,
                        });
                    }
                    Kind::Pointer if c.width.is_none() => steps.push(Step::Ptr),
                    Kind::Signed | Kind::Unsigned(_) => {
                        let (digits, radix, prefix): (_, _, Option<&'static [u8; 2]>) = match c.kind
                        {
                            Kind::Unsigned(Radix::Hex) => (&HEX_DIGITS, 16, c.alt.then_some(b"0x")),
                            Kind::Unsigned(Radix::HexUpper) => {
                                (&HEX_UPPER_DIGITS, 16, c.alt.then_some(b"0X"))
                            }
                            Kind::Unsigned(Radix::Oct) => (&OCT_DIGITS, 8, None),
                            _ => (&DEC_DIGITS, 10, None),
                        };
                        let bits = match c.length {
                            Length::Long => 64,
                            Length::Int => 32,
                            Length::Short => 16,
                            Length::Char => 8,
                        };
                        let signed = c.kind == Kind::Signed;
                        let (max_pos, max_neg) = if signed {
                            ((1u64 << (bits - 1)) - 1, 1u64 << (bits - 1))
                        } else {
                            (u64::MAX >> (64 - bits), 0)
                        };
                        steps.push(Step::Num(NumStep {
                            digits,
                            radix,
                            spaces: c.width.is_some() && (!c.zero || c.precision.is_some()),
                            signed,
                            prefix,
                            max_pos,
                            max_neg,
                        }));
                    }
                    _ => return None,
                }
            }
        }
        i += 1;
    }
    Some(steps.into_boxed_slice())
}

/// Follows `plan` through `msg`, taking the first candidate of every step.
fn run_plan(plan: &[Step], msg: &[u8], out: &mut Vec<Slot>) -> bool {
    let mut pos = 0usize;
    for step in plan {
        match step {
            Step::Lit(l) => {
                if !has_at(msg, pos, l) {
                    return false;
                }
                pos += l.len();
            }
            Step::Str { until, null_marker } => {
                let rest = &msg[pos..];
                let (end, next) = match until {
                    Until::End => (msg.len(), msg.len()),
                    Until::Byte(b) => match find_byte(*b, rest) {
                        Some(k) => (pos + k, pos + k + 1),
                        None => return false,
                    },
                    Until::Lit(f) => match f.find(rest) {
                        Some(k) => (pos + k, pos + k + f.needle().len()),
                        None => return false,
                    },
                };
                out.push(Slot {
                    start: pos as u32,
                    end: end as u32,
                    num: 0,
                    null: *null_marker && &msg[pos..end] == b"(null)",
                });
                pos = next;
            }
            Step::Ptr => {
                let rest = &msg[pos..];
                if rest.starts_with(b"(nil)") {
                    out.push(Slot {
                        start: pos as u32,
                        end: (pos + 5) as u32,
                        num: 0,
                        null: true,
                    });
                    pos += 5;
                    continue;
                }
                if !has_at(msg, pos, b"0x") {
                    return false;
                }
                let Some((num, n)) = read_digits(&rest[2..], &HEX_DIGITS, 16) else {
                    return false;
                };
                if n == 0 {
                    return false;
                }
                out.push(Slot {
                    start: pos as u32,
                    end: (pos + 2 + n) as u32,
                    num,
                    null: false,
                });
                pos += 2 + n;
            }
            Step::Num(s) => {
                if s.spaces {
                    pos += msg[pos..].iter().take_while(|&&b| b == b' ').count();
                }
                let start = pos;
                let neg = s.signed && msg.get(pos) == Some(&b'-');
                pos += usize::from(neg);
                if let Some(p) = s.prefix {
                    if !has_at(msg, pos, p) {
                        return false;
                    }
                    pos += 2;
                }
                let Some((mag, n)) = read_digits(&msg[pos..], s.digits, s.radix) else {
                    return false;
                };
                if n == 0 {
                    return false;
                }
                let num = if neg {
                    if mag > s.max_neg {
                        return false;
                    }
                    (mag as i64).wrapping_neg() as u64
                } else {
                    if mag > s.max_pos {
                        return false;
                    }
                    mag
                };
                pos += n;
                out.push(Slot {
                    start: start as u32,
                    end: pos as u32,
                    num,
                    null: false,
                });
            }
        }
    }
    pos == msg.len()
}

/// Whether `msg` has `lit` at `pos`: compared eight bytes at a time, which
/// is cheaper than a call to `memcmp` for the short literals of formats.
#[inline]
fn has_at(msg: &[u8], pos: usize, lit: &[u8]) -> bool {
    let Some(here) = msg.get(pos..pos + lit.len()) else {
        return false;
    };
    let mut a = here.chunks_exact(8);
    let mut b = lit.chunks_exact(8);
    for (x, y) in (&mut a).zip(&mut b) {
        if word8(x) != word8(y) {
            return false;
        }
    }
    a.remainder().iter().zip(b.remainder()).all(|(x, y)| x == y)
}

/// The first `b` in `hay`: a plain loop over the first bytes (strings in
/// messages are short, and a call to `memchr` costs more than it saves
/// there), `memchr` beyond.
#[inline]
fn find_byte(b: u8, hay: &[u8]) -> Option<usize> {
    let head = hay.len().min(16);
    if let Some(i) = hay[..head].iter().position(|&x| x == b) {
        return Some(i);
    }
    memchr::memchr(b, &hay[head..]).map(|i| i + head)
}

/// Eight bytes as one word.
#[inline]
fn word8(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_ne_bytes(w)
}

/// The value and length of the run of digits at the start of `d`, or `None`
/// when the value overflows 64 bits.
#[inline]
fn read_digits(d: &[u8], table: &[u8; 256], radix: u64) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut i = 0;
    // Up to 15 digits cannot overflow in any radix up to 16: no checks.
    let fast = d.len().min(15);
    while i < fast {
        let x = table[usize::from(d[i])];
        if x == NOT_DIGIT {
            return Some((v, i));
        }
        v = v * radix + u64::from(x);
        i += 1;
    }
    while i < d.len() {
        let x = table[usize::from(d[i])];
        if x == NOT_DIGIT {
            break;
        }
        v = v.checked_mul(radix)?.checked_add(u64::from(x))?;
        i += 1;
    }
    Some((v, i))
}

/// The widest field [`CFormat::render`] pads to (a `*` width from a binary
/// record can ask for up to 2^31).
pub const MAX_RENDER_WIDTH: usize = 64 << 10;

/// One argument for [`CFormat::render`]: what QEMU's binary trace holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawArg<'a> {
    /// An integer or pointer, as the 64-bit word the simple backend wrote
    /// (signed types sign-extended).
    Word(u64),
    /// A string's bytes (a NULL pointer is written as an empty string).
    Bytes(&'a [u8]),
}

impl CFormat {
    /// Renders the format with `args` as glibc's printf on x86-64 would, the
    /// way QEMU's log backend prints an event. Each conversion's length
    /// modifier decides how much of a 64-bit word is used (`%d` of an `int`
    /// reads its low 32 bits). Missing arguments render as 0 / empty.
    pub fn render<'a>(&self, args: &mut impl Iterator<Item = RawArg<'a>>, out: &mut Vec<u8>) {
        for piece in &self.pieces {
            match piece {
                Piece::Lit(l) => out.extend_from_slice(l),
                Piece::Conv(c) => render_conv(c, args, out),
            }
        }
    }
}

fn word<'a>(args: &mut impl Iterator<Item = RawArg<'a>>) -> u64 {
    match args.next() {
        Some(RawArg::Word(w)) => w,
        _ => 0,
    }
}

fn render_conv<'a>(c: &Conv, args: &mut impl Iterator<Item = RawArg<'a>>, out: &mut Vec<u8>) {
    let mut left = c.left;
    let mut width = c.width.unwrap_or(0) as usize;
    if c.star_width {
        let w = word(args) as u32 as i32;
        if w < 0 {
            left = true;
        }
        // A width read from a (possibly hostile) binary record is capped:
        // no real event pads a field to more than this.
        width = (w.unsigned_abs() as usize).min(MAX_RENDER_WIDTH);
    }
    let mut precision = c.precision.map(|p| p as usize);
    if c.star_precision {
        let p = word(args) as u32 as i32;
        precision = if p < 0 {
            None
        } else {
            Some((p as usize).min(MAX_RENDER_WIDTH))
        };
    }
    // Numbers are formatted into this stack buffer; strings are borrowed.
    let mut num = NumBuf::new();
    let mut sign: &[u8] = b"";
    let mut prefix: &[u8] = b"";
    let mut numeric = false;
    let body: &[u8] = match c.kind {
        Kind::Str | Kind::Errno => {
            // glibc's %m prints errno's text and takes no argument.
            let s: &[u8] = match c.kind {
                Kind::Str => match args.next() {
                    Some(RawArg::Bytes(b)) => b,
                    _ => b"",
                },
                _ => b"",
            };
            match precision {
                Some(p) if p < s.len() => &s[..p],
                _ => s,
            }
        }
        Kind::Char => {
            num.push(word(args) as u8);
            num.as_slice()
        }
        Kind::Pointer => {
            let v = word(args);
            if v == 0 {
                b"(nil)"
            } else {
                prefix = b"0x";
                num.digits(v, 16, false, None);
                num.as_slice()
            }
        }
        Kind::Signed => {
            numeric = true;
            let raw = word(args);
            let v: i64 = match c.length {
                Length::Long => raw as i64,
                Length::Int => i64::from(raw as u32 as i32),
                Length::Short => i64::from(raw as u16 as i16),
                Length::Char => i64::from(raw as u8 as i8),
            };
            sign = if v < 0 {
                b"-"
            } else if c.plus {
                b"+"
            } else if c.space {
                b" "
            } else {
                b""
            };
            num.digits(v.unsigned_abs(), 10, false, precision);
            num.as_slice()
        }
        Kind::Unsigned(_) | Kind::Width => {
            numeric = true;
            let raw = word(args);
            let v: u64 = match c.length {
                Length::Long => raw,
                Length::Int => u64::from(raw as u32),
                Length::Short => u64::from(raw as u16),
                Length::Char => u64::from(raw as u8),
            };
            let (radix, upper) = match c.kind {
                Kind::Unsigned(Radix::Hex) => (16, false),
                Kind::Unsigned(Radix::HexUpper) => (16, true),
                Kind::Unsigned(Radix::Oct) => (8, false),
                _ => (10, false),
            };
            num.digits(v, radix, upper, precision);
            if c.alt && v != 0 {
                match radix {
                    16 => prefix = if upper { b"0X" } else { b"0x" },
                    8 if !num.as_slice().starts_with(b"0") => prefix = b"0",
                    _ => {}
                }
            }
            num.as_slice()
        }
        Kind::Float => {
            numeric = true;
            // The simple backend stores a double's integer cast; print it.
            let v = word(args) as i64;
            if v < 0 {
                sign = b"-";
            }
            num.digits(v.unsigned_abs(), 10, false, None);
            num.as_slice()
        }
    };
    let len = sign.len() + prefix.len() + body.len();
    let pad = width.saturating_sub(len);
    if pad == 0 {
        out.extend_from_slice(sign);
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
    } else if left {
        out.extend_from_slice(sign);
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(b' ', pad));
    } else if c.zero && numeric && precision.is_none() {
        out.extend_from_slice(sign);
        out.extend_from_slice(prefix);
        out.extend(std::iter::repeat_n(b'0', pad));
        out.extend_from_slice(body);
    } else {
        out.extend(std::iter::repeat_n(b' ', pad));
        out.extend_from_slice(sign);
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
    }
}

/// A small stack buffer for one formatted number (a precision may ask for
/// more zeros than fit: those are capped at the buffer size, far beyond any
/// precision QEMU's formats use).
struct NumBuf {
    buf: [u8; 96],
    start: usize,
}

impl NumBuf {
    fn new() -> Self {
        NumBuf {
            buf: [0; 96],
            start: 96,
        }
    }

    fn push(&mut self, b: u8) {
        self.buf[95] = b;
        self.start = 95;
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Digits of `v` in `radix`, at least `precision` of them (C: precision
    /// 0 and value 0 print nothing).
    fn digits(&mut self, mut v: u64, radix: u64, upper: bool, precision: Option<usize>) {
        let table: &[u8; 16] = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let mut i = self.buf.len();
        if !(v == 0 && precision == Some(0)) {
            loop {
                i -= 1;
                self.buf[i] = table[(v % radix) as usize];
                v /= radix;
                if v == 0 {
                    break;
                }
            }
        }
        if let Some(p) = precision {
            let want = self.buf.len().saturating_sub(p.min(self.buf.len()));
            while i > want {
                i -= 1;
                self.buf[i] = b'0';
            }
        }
        self.start = i;
    }
}

/// With `-` and a width, trailing spaces up to the width are padding.
fn trim_left_pad(c: &Conv, msg: &[u8], s: usize, mut e: usize) -> usize {
    if c.left && c.width.is_some() {
        while e > s && msg[e - 1] == b' ' {
            e -= 1;
        }
    }
    e
}

/// Leading padding spaces of a right-aligned field with a width.
fn leading_spaces(c: &Conv, rest: &[u8]) -> usize {
    if pads_with_spaces(c) {
        rest.iter().take_while(|&&b| b == b' ').count()
    } else {
        0
    }
}

/// Whether a field's leading spaces are its padding: a width without `-`
/// and without `0`, or with `0` and a precision (with a precision the 0 flag
/// is ignored for integers: spaces pad).
fn pads_with_spaces(c: &Conv) -> bool {
    let width = c.width.is_some() || c.star_width;
    width && ((!c.left && !c.zero) || (c.zero && c.precision.is_some()))
}

/// Trailing padding of a left-justified field: spaces up to the width.
fn trailing_pad(c: &Conv, msg: &[u8], field_start: usize, end: usize) -> usize {
    if !c.left {
        return 0;
    }
    let Some(w) = c.width else { return 0 };
    let have = end - field_start;
    let want = (w as usize).saturating_sub(have);
    msg[end..]
        .iter()
        .take(want)
        .take_while(|&&b| b == b' ')
        .count()
}

fn pad_span(c: &Conv, msg: &[u8], pos: usize, len: usize) -> (usize, usize, usize) {
    let w = c.width.unwrap_or(0) as usize;
    if w > len {
        if c.left {
            (pos, pos + len, (pos + w).min(msg.len()))
        } else {
            let pad = w - len;
            (pos + pad, pos + pad + len, pos + w)
        }
    } else {
        (pos, pos + len, pos + len)
    }
}

fn parse_radix(d: &[u8], radix: u32) -> Option<u64> {
    let mut v: u64 = 0;
    for &b in d {
        let x = (b as char).to_digit(radix)?;
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(x))?;
    }
    Some(v)
}

fn parse_conv(text: &[u8], mut i: usize) -> Result<(Conv, usize), String> {
    let mut c = Conv {
        kind: Kind::Signed,
        zero: false,
        left: false,
        alt: false,
        plus: false,
        space: false,
        width: None,
        star_width: false,
        precision: None,
        star_precision: false,
        length: Length::Int,
    };
    while let Some(&b) = text.get(i) {
        match b {
            b'0' => c.zero = true,
            b'-' => c.left = true,
            b'#' => c.alt = true,
            b'+' => c.plus = true,
            b' ' => c.space = true,
            b'\'' => {}
            _ => break,
        }
        i += 1;
    }
    if text.get(i) == Some(&b'*') {
        c.star_width = true;
        i += 1;
    } else {
        let n = digits_at(text, i);
        if n > 0 {
            c.width = Some(num_at(text, i, n)?);
            i += n;
        }
    }
    if text.get(i) == Some(&b'.') {
        i += 1;
        if text.get(i) == Some(&b'*') {
            c.star_precision = true;
            i += 1;
        } else {
            let n = digits_at(text, i);
            c.precision = Some(if n > 0 { num_at(text, i, n)? } else { 0 });
            i += n;
        }
    }
    loop {
        match text.get(i) {
            Some(b'h') => {
                c.length = if c.length == Length::Short {
                    Length::Char
                } else {
                    Length::Short
                };
            }
            Some(b'l' | b'z' | b'j' | b't' | b'q' | b'L') => c.length = Length::Long,
            _ => break,
        }
        i += 1;
    }
    let Some(&conv) = text.get(i) else {
        return Err("format ends inside a conversion".into());
    };
    c.kind = match conv {
        b'd' | b'i' => Kind::Signed,
        b'u' => Kind::Unsigned(Radix::Dec),
        b'x' => Kind::Unsigned(Radix::Hex),
        b'X' => Kind::Unsigned(Radix::HexUpper),
        b'o' => Kind::Unsigned(Radix::Oct),
        b'c' => Kind::Char,
        b's' => Kind::Str,
        b'p' => Kind::Pointer,
        b'm' => Kind::Errno,
        b'e' | b'E' | b'f' | b'F' | b'g' | b'G' | b'a' | b'A' => Kind::Float,
        other => {
            return Err(format!(
                "unsupported conversion '%{}'",
                String::from_utf8_lossy(&[other])
            ));
        }
    };
    Ok((c, i + 1))
}

fn digits_at(t: &[u8], i: usize) -> usize {
    t.get(i..)
        .map_or(0, |s| s.iter().take_while(|b| b.is_ascii_digit()).count())
}

fn num_at(t: &[u8], i: usize, n: usize) -> Result<u32, String> {
    std::str::from_utf8(&t[i..i + n])
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&w: &u32| w <= 4096)
        .ok_or_else(|| "field width out of range".to_string())
}

/// Concatenates the C string literals and `PRI…` macros of a trace-events
/// format into the printf format the compiler would see (glibc, x86-64).
pub fn c_source_to_bytes(src: &str) -> Result<Vec<u8>, String> {
    let s = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                i += 1;
                loop {
                    let Some(&b) = s.get(i) else {
                        return Err("unterminated string literal in format".into());
                    };
                    i += 1;
                    match b {
                        b'"' => break,
                        b'\\' => {
                            let Some(&e) = s.get(i) else {
                                return Err("unterminated escape in format".into());
                            };
                            i += 1;
                            match e {
                                b'n' => out.push(b'\n'),
                                b't' => out.push(b'\t'),
                                b'r' => out.push(b'\r'),
                                b'a' => out.push(7),
                                b'b' => out.push(8),
                                b'f' => out.push(12),
                                b'v' => out.push(11),
                                b'\\' | b'"' | b'\'' | b'?' => out.push(e),
                                b'x' => {
                                    let n =
                                        s[i..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
                                    if n == 0 {
                                        return Err("\\x escape without digits in format".into());
                                    }
                                    let v = u32::from_str_radix(&src[i..i + n], 16)
                                        .map_err(|e| e.to_string())?;
                                    out.push(v as u8);
                                    i += n;
                                }
                                b'0'..=b'7' => {
                                    let mut v = u32::from(e - b'0');
                                    let mut k = 0;
                                    while k < 2 && matches!(s.get(i), Some(b'0'..=b'7')) {
                                        v = v * 8 + u32::from(s[i] - b'0');
                                        i += 1;
                                        k += 1;
                                    }
                                    out.push(v as u8);
                                }
                                other => {
                                    return Err(format!(
                                        "unknown escape '\\{}' in format",
                                        String::from_utf8_lossy(&[other])
                                    ));
                                }
                            }
                        }
                        _ => out.push(b),
                    }
                }
            }
            b'P' => {
                let n = s[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let word = &src[i..i + n];
                let expanded =
                    pri_macro(word).ok_or_else(|| format!("unknown macro '{word}' in format"))?;
                out.extend_from_slice(expanded.as_bytes());
                i += n;
            }
            other => {
                return Err(format!(
                    "unexpected '{}' in format",
                    String::from_utf8_lossy(&[other])
                ));
            }
        }
    }
    Ok(out)
}

/// What `<inttypes.h>` makes of a `PRI…` macro with glibc on x86-64.
fn pri_macro(word: &str) -> Option<&'static str> {
    let rest = word.strip_prefix("PRI")?;
    let mut chars = rest.chars();
    let conv = chars.next()?;
    let size = chars.as_str();
    let long = match size {
        "8" | "16" | "32" | "LEAST8" | "LEAST16" | "LEAST32" | "FAST8" => false,
        "64" | "PTR" | "MAX" | "LEAST64" | "FAST16" | "FAST32" | "FAST64" => true,
        _ => return None,
    };
    Some(match (conv, long) {
        ('d', false) => "d",
        ('i', false) => "i",
        ('u', false) => "u",
        ('x', false) => "x",
        ('X', false) => "X",
        ('o', false) => "o",
        ('d', true) => "ld",
        ('i', true) => "li",
        ('u', true) => "lu",
        ('x', true) => "lx",
        ('X', true) => "lX",
        ('o', true) => "lo",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(src: &str, msg: &str) -> Option<Vec<String>> {
        let f = CFormat::parse(src).unwrap();
        let mut out = Vec::new();
        if !f.match_message(msg.as_bytes(), &mut out) {
            return None;
        }
        Some(
            out.iter()
                .zip(f.slot_kinds())
                .map(|(s, k)| {
                    let text = &msg[s.start as usize..s.end as usize];
                    match k {
                        Kind::Signed => format!("{}", s.num as i64),
                        Kind::Unsigned(_) | Kind::Width | Kind::Char => format!("{}", s.num),
                        Kind::Pointer if s.null => "NULL".into(),
                        Kind::Pointer => format!("p{:x}", s.num),
                        Kind::Str if s.null => "NULL".into(),
                        _ => format!("'{text}'"),
                    }
                })
                .collect(),
        )
    }

    #[test]
    fn c_source_forms() {
        assert_eq!(c_source_to_bytes(r#""a=%"PRIx64" b""#).unwrap(), b"a=%lx b");
        assert_eq!(
            c_source_to_bytes(r#""offset 0x%" PRIx64 " size %u""#).unwrap(),
            b"offset 0x%lx size %u"
        );
        assert_eq!(c_source_to_bytes(r#""lba %"PRId64"#).unwrap(), b"lba %ld");
        assert_eq!(c_source_to_bytes(r#""x" PRIu32 """#).unwrap(), b"xu");
        assert_eq!(
            c_source_to_bytes(r#""q \"%s\"\t\x41""#).unwrap(),
            b"q \"%s\"\tA"
        );
        assert!(c_source_to_bytes(r#""open"#).is_err());
        assert!(c_source_to_bytes(r#""a" PRIq64"#).is_err());
    }

    #[test]
    fn pci_cfg_both_formats() {
        assert_eq!(
            m(
                r#""%s %02x:%02x.%x @0x%x -> 0x%x""#,
                "mch 00:1f.2 @0x0 -> 0x29c08086"
            ),
            Some(vec![
                "'mch'".into(),
                "0".into(),
                "31".into(),
                "2".into(),
                "0".into(),
                "700481670".into()
            ])
        );
        assert_eq!(
            m(
                r#""%s %02u:%u @0x%x -> 0x%x""#,
                "ICH9 SMB 31:3 @0x0 -> 0x8086"
            ),
            Some(vec![
                "'ICH9 SMB'".into(),
                "31".into(),
                "3".into(),
                "0".into(),
                "32902".into()
            ])
        );
        // The new format does not match the old text and vice versa.
        assert_eq!(
            m(
                r#""%s %02x:%02x.%x @0x%x -> 0x%x""#,
                "i440FX 00:0 @0x0 -> 0x8086"
            ),
            None
        );
        assert_eq!(
            m(
                r#""%s %02u:%u @0x%x -> 0x%x""#,
                "mch 00:00.0 @0x0 -> 0x8086"
            ),
            None
        );
    }

    #[test]
    fn conversions() {
        assert_eq!(
            m(r#""%p keycode 0x%02x""#, "0x55e7c0 keycode 0x34"),
            Some(vec!["p55e7c0".into(), "52".into()])
        );
        assert_eq!(
            m(r#""%p keycode %d""#, "(nil) keycode -3"),
            Some(vec!["NULL".into(), "-3".into()])
        );
        assert_eq!(
            m(
                r#""IDEState %p; sector_num=%"PRId64" n=%d cmd=%s""#,
                "IDEState 0x1; sector_num=8 n=1 cmd=DMA READ"
            ),
            Some(vec![
                "p1".into(),
                "8".into(),
                "1".into(),
                "'DMA READ'".into()
            ])
        );
        assert_eq!(
            m(r#""%s: %s""#, "(null): a: b"),
            Some(vec!["NULL".into(), "'a: b'".into()])
        );
        assert_eq!(
            m(r#""intensity: %u%%""#, "intensity: 50%"),
            Some(vec!["50".into()])
        );
        assert_eq!(
            m(r#""data:0x%0*"PRIx64" x""#, "data:0x00ff x"),
            Some(vec!["4".into(), "255".into()])
        );
        assert_eq!(
            m(r#""%#x %#x""#, "0 0x1f"),
            Some(vec!["0".into(), "31".into()])
        );
        assert_eq!(
            m(r#""%20s|""#, "               hello|"),
            Some(vec!["'hello'".into()])
        );
        assert_eq!(
            m(r#""%3d|%-4d|""#, " -1|7   |"),
            Some(vec!["-1".into(), "7".into()])
        );
        assert_eq!(m(r#""%c%c""#, "a\0"), Some(vec!["97".into(), "0".into()]));
        assert_eq!(
            m(r#""%X %o""#, "FF 17"),
            Some(vec!["255".into(), "15".into()])
        );
        assert_eq!(
            m(r#""%08x/%0x8""#, "0000abcd/18"),
            Some(vec!["43981".into(), "1".into()])
        );
        assert_eq!(
            m(r#""%sing %d""#, "reading 5"),
            Some(vec!["'read'".into(), "5".into()])
        );
        assert_eq!(m(r#""v=%g""#, "v=1.5e-3"), Some(vec!["'1.5e-3'".into()]));
        assert_eq!(m(r#""""#, ""), Some(vec![]));
        assert_eq!(m(r#""""#, "x"), None);
    }

    #[test]
    fn overflow_and_garbage_do_not_match() {
        assert_eq!(m(r#""%lx""#, "1ffffffffffffffff"), None);
        assert_eq!(m(r#""%ld""#, "9223372036854775808"), None);
        assert_eq!(
            m(r#""%ld""#, "-9223372036854775808"),
            Some(vec!["-9223372036854775808".into()])
        );
        assert_eq!(
            m(r#""%lu""#, "18446744073709551615"),
            Some(vec!["18446744073709551615".into()])
        );
        assert_eq!(m(r#""%lu""#, "18446744073709551616"), None);
        assert_eq!(
            m(r#""%d""#, "-2147483648"),
            Some(vec!["-2147483648".into()])
        );
        assert_eq!(m(r#""%d""#, "2147483648"), None);
        assert_eq!(m(r#""%u""#, "4294967296"), None);
        assert_eq!(m(r#""%x""#, "AB"), None);
    }

    #[test]
    fn pathological_backtracking_is_bounded() {
        let f = CFormat::parse(r#""%s %s %s %s %s %s %s %s %s %s X""#).unwrap();
        let msg = " ".repeat(5000);
        let mut out = Vec::new();
        assert!(!f.match_message(msg.as_bytes(), &mut out));
    }

    #[test]
    fn bad_formats_are_errors() {
        assert!(CFormat::parse(r#""%""#).is_err());
        assert!(CFormat::parse(r#""%y""#).is_err());
        assert!(CFormat::parse(r#""%99999d""#).is_err());
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use proptest::prelude::*;

    /// Conversions and literals that formats in QEMU's catalogs are built of.
    const TOKENS: &[&str] = &[
        "%s", "%d", "%u", "%x", "%02x", "%08x", "%#x", "%#08x", "%p", "%X", "%o", "%3d", "%-3d",
        "%lx", "%hhx", "%hd", "%ld", "%.8x", "%.0x", "%c", "%m", "%5s", "%+d", "% d", "%*d", " ",
        "=", ":", ".", " @0x", " -> 0x", "x", "0", "-", "(", ")", ", ", "ab",
    ];

    fn format_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(TOKENS), 0..8).prop_map(|t| t.concat())
    }

    /// Messages close to what a format prints: rendered from random words
    /// and strings, then possibly cut or with a byte changed.
    fn check(format: &str, words: &[u64], strs: &[Vec<u8>], cut: usize, poke: (usize, u8)) {
        let f = CFormat::from_printf(format.as_bytes()).unwrap();
        let mut si = 0;
        let mut wi = 0;
        let mut args = std::iter::from_fn(|| {
            let which = (wi + si) % 3;
            if which == 2 && si < strs.len() {
                si += 1;
                Some(RawArg::Bytes(&strs[si - 1]))
            } else if wi < words.len() {
                wi += 1;
                Some(RawArg::Word(words[wi - 1]))
            } else {
                None
            }
        });
        let mut msg = Vec::new();
        f.render(&mut args, &mut msg);
        let variants = [
            msg.clone(),
            msg[..msg.len().saturating_sub(cut)].to_vec(),
            {
                let mut m = msg.clone();
                if !m.is_empty() {
                    let i = poke.0 % m.len();
                    m[i] = poke.1;
                }
                m
            },
        ];
        for m in &variants {
            compare_with_oracle(&f, m);
            let mut fast = Vec::new();
            let a = f.match_message(m, &mut fast);
            // Appending after slots already there: those, then the same
            // slots, or nothing added.
            let before = Slot {
                start: 7,
                end: 9,
                num: 42,
                null: true,
            };
            let (mut appended, mut scratch) = (vec![before], Vec::new());
            let c = f.match_appending(m, &mut appended, &mut scratch);
            let want: Vec<Slot> = if a {
                std::iter::once(before)
                    .chain(fast.iter().copied())
                    .collect()
            } else {
                vec![before]
            };
            assert_eq!((c, appended), (a, want), "format {format:?}");
        }
    }

    /// Work the oracle may spend on one message: far more than any of these
    /// messages needs, except the 64 KiB ones a huge `*` width renders.
    const ORACLE_WORK: usize = 2_000_000;

    /// The plan (when the format has one) and the linear matcher give what
    /// the backtracking search alone gives, when it decides within
    /// [`ORACLE_WORK`]. Without a plan, `match_message` is that same search
    /// for short messages, so only the linear matcher is compared then.
    fn compare_with_oracle(f: &CFormat, m: &[u8]) {
        let mut slow = Vec::new();
        let Some(b) = f.match_backtracking_within(m, &mut slow, ORACLE_WORK) else {
            return;
        };
        let show = || {
            format!(
                "format {:?} message {:?}",
                f.pieces,
                String::from_utf8_lossy(m)
            )
        };
        if f.has_plan() {
            let mut fast = Vec::new();
            let a = f.match_message(m, &mut fast);
            assert_eq!((a, &fast), (b, &slow), "plan: {}", show());
        }
        let mut lin = Vec::new();
        let c = f.match_linear(m, &mut lin);
        assert_eq!((c, &lin), (b, &slow), "linear: {}", show());
        // State by state: a state the table wrongly marks would not change
        // the answer, only make the search back off (and cost time).
        if m.len() <= 64 {
            let table = linear::Table::build(&f.pieces, m);
            for pi in 0..=f.pieces.len() {
                for pos in 0..=m.len() {
                    let mut s = Search {
                        work: 0,
                        limit: ORACLE_WORK,
                        table: None,
                    };
                    let found = f.match_from(pi, m, pos, &mut Vec::new(), &mut s);
                    if s.spent() {
                        continue;
                    }
                    assert_eq!(
                        table.good(pi, pos),
                        found,
                        "piece {pi} at {pos}: {}",
                        show()
                    );
                }
            }
        }
    }

    /// Bits of messages that make matching hard: digits and zeros, signs,
    /// prefixes, NULL markers, spaces and the literals' bytes.
    const MESSAGE_TOKENS: &[&str] = &[
        "0",
        "00",
        "000",
        "1",
        "7",
        "9",
        "a",
        "f",
        "F",
        "x",
        "0x",
        "0X",
        " ",
        "  ",
        "-",
        "+",
        ":",
        ".",
        "@",
        "=",
        "(",
        ")",
        ", ",
        "ab",
        "(nil)",
        "(null)",
        " -> 0x",
        "ffffffff",
        "ffffffffffffffff",
        "18446744073709551615",
        "18446744073709551616",
        "2147483648",
        "4294967296",
        "1.5e-3",
    ];

    proptest! {
        #[test]
        fn linear_agrees_with_backtracking(
            format in format_strategy(),
            parts in proptest::collection::vec(proptest::sample::select(MESSAGE_TOKENS), 0..14),
        ) {
            let f = CFormat::from_printf(format.as_bytes()).unwrap();
            compare_with_oracle(&f, parts.concat().as_bytes());
        }

        #[test]
        fn plan_agrees_with_backtracking(
            format in format_strategy(),
            words in proptest::collection::vec(
                prop_oneof![0u64..20, any::<u64>(), Just(u64::MAX), Just(0x8000_0000)],
                0..8,
            ),
            strs in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![Just(b' '), Just(b'x'), Just(b'0'), Just(b':'), any::<u8>()], 0..6),
                0..4,
            ),
            cut in 0usize..3,
            poke in (any::<usize>(), prop_oneof![Just(b' '), Just(b'0'), Just(b'x'), any::<u8>()]),
        ) {
            check(&format, &words, &strs, cut, poke);
        }
    }

    #[test]
    fn plan_covers_common_formats() {
        for f in [
            "%s %02x:%02x.%x @0x%x -> 0x%x",
            "%p keycode 0x%02x",
            "dbs=%p bs=%p offset=%ld to_dev=%d",
        ] {
            let f = CFormat::from_printf(f.as_bytes()).unwrap();
            assert!(f.plan.is_some(), "{f:?}");
        }
        for f in ["%c", "%-3d", "%*d", "%5s", "%s%d", "%f"] {
            let f = CFormat::from_printf(f.as_bytes()).unwrap();
            assert!(f.plan.is_none(), "{f:?}");
        }
    }
}
