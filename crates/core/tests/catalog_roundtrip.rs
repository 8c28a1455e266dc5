//! Round-trip property test over QEMU's whole trace-event catalog: for every
//! event spec, print random arguments with an independent model of glibc's
//! printf (x86-64), then check that `Catalog::decode` recovers every value.
//!
//! The renderer here shares no code with `qtrace_core::format`: it reads the
//! C source of each format (string literals and `PRI…` macros) itself, parses
//! the printf conversions itself, and prints them as glibc does (`(nil)` for a
//! NULL `%p`, `(null)` for a NULL `%s`, `%#x` of 0 is `0`, a `*` width is an
//! `int` argument). Values respect the printf-visible type of each conversion
//! (8/16/32/64 bits, signed or not) narrowed by the declared C type of the
//! argument where it is a standard one, converted as C converts them (a
//! negative `int` printed with `PRIx64` is sign-extended).
//!
//! Catalogs: QEMU's installed `trace-events-all` (or the shared copy of it),
//! and the QEMU 5.2 catalog when present. When a catalog is absent the test
//! says so on stderr and passes, unless `QTRACE_REQUIRE_CATALOG=1` is set, in
//! which case it fails. The catalogs are read at run time and never copied
//! into the repository (licence).
//!
//! Randomness comes from a seeded xorshift generator, seeded per event name,
//! so every run checks exactly the same cases.
//!
//! Some formats are ambiguous by construction: the printed text has more than
//! one reading. Those are listed in [`AMBIGUOUS`] (per event) and described
//! by the `Shape`s below (per format shape); for them the test asserts the
//! choice `qtrace_core::format` documents instead of the rendered values.

use std::ops::Range;
use std::path::{Path, PathBuf};

use qtrace_core::catalog::{Catalog, EventSpec, INSTALLED_CATALOGS};
use qtrace_core::value::{Radix, Value};

/// A file of the shared capture set, which sits beside the checkout
/// (`../shared/traces`).
fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/traces")
        .join(rel)
}
/// Cases per event spec.
const CASES: u32 = 8;
/// Cases per event spec whose format has adjacent conversions (few, and
/// where the interesting splits are rarer).
const AMBIGUOUS_CASES: u32 = 64;
/// Base seed; each event mixes in a hash of its name.
const SEED: u64 = 0x5eed_7ace_2024_0001;

/// How two conversions with no literal between them split their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `%s%s`: the earlier string takes the shortest text that lets the rest
    /// match, so it is always empty and the last string gets everything.
    StrStr,
    /// `%s%d` (any integer): the string is the shortest that lets the rest
    /// match, so the number absorbs the longest suffix of the string that
    /// still makes a valid number of its type ("ab12" + 5 → "ab", 125).
    StrNum,
    /// `%x%s` (any integer): numbers are read greedily, so the number absorbs
    /// the longest prefix of the string that still makes a valid number of
    /// its type (0x5 + "abc" → 0x5abc, "").
    NumStr,
    /// `%d%d`: the first number is greedy (the longest that leaves a valid
    /// second number).
    NumNum,
}

/// Every event of the QEMU 7.2 and 5.2 catalogs (and of the synthetic specs
/// below) whose format puts two value conversions next to each other with no
/// literal between them. The printed text of such a pair has several
/// readings; the test asserts the documented choice (see [`Shape`]).
/// `%c` next to anything is not ambiguous (it always prints one byte) and is
/// not listed.
///
/// Two further shapes are ambiguous in every catalog and are handled by rule
/// rather than listed per event:
/// - `%s` followed by a literal (`"%s: %d"`, 1600 uses): a string that
///   contains the literal cannot be told apart from the literal. The parser
///   takes the shortest string (the first occurrence of the literal that lets
///   the rest match); the generated strings never contain the literal that
///   follows them (checked on the rendered message), so the reading is unique.
/// - `%20s` / `%-20s`: spaces next to the padding cannot be told apart from
///   it. The parser documents that padding is not part of the value and
///   strips all leading (trailing for `-`) spaces; the test expects exactly
///   that.
///
/// Two more, only in the synthetic specs: `%.4s` of NULL prints nothing
/// (glibc prints "(null)" only when the precision allows six bytes), which
/// reads back as an empty string; and a negative `*` width (meaning `-`) is
/// never generated, as QEMU passes field widths, not alignments.
const AMBIGUOUS: &[(&str, Shape)] = &[
    // "%u 0x%lx%s -> 0x%08lx" (7.2) / "… -> 0x%lx" (5.2)
    ("artist_reg_read", Shape::NumStr),
    ("artist_reg_write", Shape::NumStr),
    // "handled intr=0x%x %s%s%s%s%s" (5.2)
    ("aspeed_i2c_bus_raise_interrupt", Shape::StrStr),
    // "Unable to get %s%d from KVM: %s"
    ("kvm_failed_fp_get", Shape::StrNum),
    ("kvm_failed_fp_set", Shape::StrNum),
    // "%u %d addr 0x%lx%s -> 0x%lx"
    ("lasips2_reg_read", Shape::NumStr),
    ("lasips2_reg_write", Shape::NumStr),
    // "Clear%s%s%s%s" / "Set%s%s%s%s"
    ("lsi_execute_script_io_clear", Shape::StrStr),
    ("lsi_execute_script_io_set", Shape::StrStr),
    // "%s reg 0x%x %s data8=0x%02x sfbr=0x%02x%s"
    ("lsi_execute_script_io_opcode", Shape::NumStr),
    // "Selected target %d%s"
    ("lsi_execute_script_io_selected", Shape::NumStr),
    // "%s%u: addr[0x%04lx] %s 0x%08lx (%lu)"
    ("sdhci_access", Shape::StrNum),
    // "(%d/%d/%d/%d) interrupt source 0x%x %s%s%s"
    ("sh_intc_sources", Shape::StrStr),
    // "  0x%04lx %s%ld val 0x%08x", " 0x%04lx %s%ld val 0x%08lx old …"
    ("usb_dwc2_hreg1_read", Shape::StrNum),
    ("usb_dwc2_hreg1_write", Shape::StrNum),
    // Synthetic specs of this file.
    ("synth_num_num", Shape::NumNum),
    ("synth_hex_str", Shape::NumStr),
];

/// Specs written for this test (not QEMU's) that use printf features no
/// QEMU catalog uses: the `#`, `-`, `+` and space flags, `hh`/`h`/`ll`/`j`
/// lengths, precisions on `%d`/`%u`/`%s`, `*` widths on `%d`, padded `%p`
/// and `%c`, every `PRI…` size, `%%`, and adjacent numbers.
const SYNTHETIC: &str = r#"
synth_alt(unsigned a, unsigned b, unsigned c, uint64_t d, unsigned e, unsigned f) "a=%#x b=%#o c=%#X d=%#lx e=%#8x| f=%#-8x|"
synth_alt_zero(unsigned a, uint64_t b) "a=%#08x b=%#02" PRIx64 " end"
synth_sign(int a, int b, int64_t c, int d) "a=%+d b=% d c=%+lld d=%+5d|"
synth_left(int a, const char *s, char c, unsigned x, void *p) "[%-6d][%-8s][%-3c][%-5u][%-18p]"
synth_len(int a, int b, unsigned c, unsigned d, long e, size_t f, ssize_t g, uint64_t h, int64_t i) "hhd=%hhd hd=%hd hhu=%hhu hx=%hx ld=%ld zu=%zu zd=%zd llx=%llx jd=%jd"
synth_prec(unsigned a, int b, unsigned c, const char *s, const char *t) "%.3x %.5d %8.3u |%.4s|%10.3s|"
synth_star(int w, int v, int w2, uint64_t x) "%*d|%0*" PRIx64 "|"
synth_pri(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f, int64_t g, uint64_t h, uintptr_t p) "%" PRId8 " %" PRIu8 " %" PRIi16 " %" PRIx16 " %" PRIX32 " %" PRIu32 " %" PRIi64 " %" PRIX64 " %" PRIxPTR
synth_pad(void *p, char c, char d, const char *s, int n) "%18p|%c%c|%3c|%12s|%4d"
synth_percent(unsigned a) "%u%% done, 100%%"
synth_num_num(int a, int b) "%d%d"
synth_hex_str(unsigned a, const char *s) "<%x%s>"
"#;

// ---------------------------------------------------------------------------
// The C side: literals and macros, then printf conversions.

/// A printf conversion letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConvChar {
    D,
    U,
    LowerHex,
    UpperHex,
    Oct,
    Char,
    Str,
    Ptr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    None,
    Fixed(usize),
    Star,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    left: bool,
    zero: bool,
    alt: bool,
    plus: bool,
    space: bool,
    width: Width,
    precision: Option<usize>,
    /// Bits of the type printf reads: 8 (`hh`), 16 (`h`), 32, 64 (`l ll z j t`).
    bits: u32,
    conv: ConvChar,
}

impl Spec {
    fn is_int(&self) -> bool {
        matches!(
            self.conv,
            ConvChar::D | ConvChar::U | ConvChar::LowerHex | ConvChar::UpperHex | ConvChar::Oct
        )
    }
    fn signed(&self) -> bool {
        self.conv == ConvChar::D
    }
    fn radix(&self) -> u32 {
        match self.conv {
            ConvChar::LowerHex | ConvChar::UpperHex => 16,
            ConvChar::Oct => 8,
            _ => 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(Vec<u8>),
    Conv(Spec),
}

/// What `<inttypes.h>` expands a `PRI…` macro to with glibc on x86-64:
/// 8/16/32-bit types are passed as `int`, 64-bit ones and pointers as `long`.
fn expand_pri(word: &str) -> Option<String> {
    let rest = word.strip_prefix("PRI")?;
    let conv = rest.get(..1)?;
    if !"diuxXo".contains(conv) {
        return None;
    }
    match &rest[1..] {
        "8" | "16" | "32" => Some(conv.to_string()),
        "64" | "PTR" => Some(format!("l{conv}")),
        _ => None,
    }
}

/// Concatenates the literals and macros of a trace-events format into the
/// bytes the C compiler would pass to printf.
fn c_format_bytes(src: &str) -> Result<Vec<u8>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if b[i] == b'"' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("unterminated literal".into()),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let e = *b.get(i + 1).ok_or("dangling backslash")?;
                        i += 2;
                        let byte = match e {
                            b'n' => b'\n',
                            b't' => b'\t',
                            b'r' => b'\r',
                            b'a' => 7,
                            b'b' => 8,
                            b'f' => 12,
                            b'v' => 11,
                            b'"' | b'\\' | b'\'' | b'?' => e,
                            b'x' => {
                                let start = i;
                                while i < b.len() && b[i].is_ascii_hexdigit() {
                                    i += 1;
                                }
                                u8::from_str_radix(&src[start..i], 16)
                                    .map_err(|_| "bad \\x escape")?
                            }
                            b'0'..=b'7' => {
                                let start = i - 1;
                                while i < b.len() && i < start + 3 && (b'0'..=b'7').contains(&b[i])
                                {
                                    i += 1;
                                }
                                u8::from_str_radix(&src[start..i], 8)
                                    .map_err(|_| "bad octal escape")?
                            }
                            _ => return Err(format!("unknown escape \\{}", e as char)),
                        };
                        out.push(byte);
                    }
                    Some(&c) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
        } else if b[i].is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &src[start..i];
            let exp = expand_pri(word).ok_or_else(|| format!("unknown macro {word}"))?;
            out.extend_from_slice(exp.as_bytes());
        } else {
            return Err(format!("unexpected {:?} in format source", b[i] as char));
        }
    }
    Ok(out)
}

/// Splits a printf format into literals (with `%%` resolved and neighbours
/// merged) and conversions.
fn parse_printf(f: &[u8]) -> Result<Vec<Piece>, String> {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut lit = Vec::new();
    let mut i = 0;
    while i < f.len() {
        if f[i] != b'%' {
            lit.push(f[i]);
            i += 1;
            continue;
        }
        i += 1;
        if f.get(i) == Some(&b'%') {
            lit.push(b'%');
            i += 1;
            continue;
        }
        let mut s = Spec {
            left: false,
            zero: false,
            alt: false,
            plus: false,
            space: false,
            width: Width::None,
            precision: None,
            bits: 32,
            conv: ConvChar::D,
        };
        while let Some(&c) = f.get(i) {
            match c {
                b'-' => s.left = true,
                b'0' => s.zero = true,
                b'#' => s.alt = true,
                b'+' => s.plus = true,
                b' ' => s.space = true,
                _ => break,
            }
            i += 1;
        }
        if f.get(i) == Some(&b'*') {
            s.width = Width::Star;
            i += 1;
        } else {
            let start = i;
            while f.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i > start {
                s.width = Width::Fixed(std::str::from_utf8(&f[start..i]).unwrap().parse().unwrap());
            }
        }
        if f.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while f.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let digits = std::str::from_utf8(&f[start..i]).unwrap();
            s.precision = Some(digits.parse().unwrap_or(0));
        }
        let rest = &f[i..];
        let (bits, n) = if rest.starts_with(b"hh") {
            (8, 2)
        } else if rest.starts_with(b"ll") {
            (64, 2)
        } else {
            match rest.first() {
                Some(b'h') => (16, 1),
                Some(b'l' | b'z' | b'j' | b't') => (64, 1),
                _ => (32, 0),
            }
        };
        s.bits = bits;
        i += n;
        s.conv = match f.get(i) {
            Some(b'd' | b'i') => ConvChar::D,
            Some(b'u') => ConvChar::U,
            Some(b'x') => ConvChar::LowerHex,
            Some(b'X') => ConvChar::UpperHex,
            Some(b'o') => ConvChar::Oct,
            Some(b'c') => ConvChar::Char,
            Some(b's') => ConvChar::Str,
            Some(b'p') => ConvChar::Ptr,
            other => return Err(format!("unsupported conversion {other:?}")),
        };
        i += 1;
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        pieces.push(Piece::Conv(s));
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

// ---------------------------------------------------------------------------
// Random arguments.

/// xorshift64*: tiny, deterministic, good enough to pick test values.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The range of a C integer type.
fn int_range(signed: bool, bits: u32) -> (i128, i128) {
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// Converts an integer to a C integer type (modulo 2^bits, as C does).
fn wrap(v: i128, signed: bool, bits: u32) -> i128 {
    let m = 1i128 << bits;
    let x = v.rem_euclid(m);
    if signed && x >= m / 2 { x - m } else { x }
}

/// The range of a declared argument type, for the standard integer types.
fn declared_int(ty: &str) -> Option<(bool, u32)> {
    let t = ty.trim();
    let t = t.strip_prefix("const ").unwrap_or(t).trim();
    Some(match t {
        "bool" => (false, 1),
        "uint8_t" | "unsigned char" => (false, 8),
        "int8_t" | "signed char" | "char" => (true, 8),
        "uint16_t" | "unsigned short" => (false, 16),
        "int16_t" | "short" => (true, 16),
        "uint32_t" | "unsigned" | "unsigned int" => (false, 32),
        "int32_t" | "int" | "signed" => (true, 32),
        "uint64_t" | "unsigned long" | "unsigned long long" | "size_t" | "uintptr_t" | "hwaddr"
        | "ram_addr_t" => (false, 64),
        "int64_t" | "long" | "long long" | "ssize_t" | "off_t" | "ptrdiff_t" => (true, 64),
        _ => return None,
    })
}

/// A random integer of a type: small values, extremes, and random bit
/// lengths (so every number of digits occurs).
fn gen_int(rng: &mut Rng, signed: bool, bits: u32) -> i128 {
    let (lo, hi) = int_range(signed, bits);
    let v = match rng.below(10) {
        0..=2 => {
            let small = rng.below(17) as i128;
            if signed && rng.percent(40) {
                -small
            } else {
                small
            }
        }
        3 => [lo, hi, 0, lo + 1, hi - 1, -1, 1][rng.below(7) as usize],
        _ => {
            let nbits = 1 + rng.below(u64::from(bits)) as u32;
            let mask = if nbits >= 64 {
                u64::MAX
            } else {
                (1u64 << nbits) - 1
            };
            let mag = i128::from(rng.next() & mask);
            if signed {
                let mag = mag >> 1;
                if rng.percent(50) { -mag - 1 } else { mag }
            } else {
                mag
            }
        }
    };
    v.clamp(lo, hi)
}

fn gen_str(rng: &mut Rng) -> Option<Vec<u8>> {
    if rng.percent(8) {
        return None;
    }
    loop {
        let len = rng.below(13) as usize;
        let s: Vec<u8> = (0..len)
            .map(|_| {
                if rng.percent(15) {
                    b' '
                } else {
                    b'!' + rng.below(94) as u8
                }
            })
            .collect();
        // A real string "(null)" would print like a NULL one.
        if s != b"(null)" {
            return Some(s);
        }
    }
}

fn gen_ptr(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => 0,
        1..=2 => 1 + rng.below(0xffff),
        3 => rng.next() | 1,
        _ => 0x5500_0000_0000 | (rng.next() & 0x00ff_ffff_fff8),
    }
}

/// One argument as passed to printf.
#[derive(Debug, Clone)]
enum Arg {
    Int(i128),
    Str(Option<Vec<u8>>),
    Ptr(u64),
}

/// Random arguments for the conversions of a format; `args` are the
/// declared arguments (used only when they line up with the conversions).
fn gen_args(rng: &mut Rng, pieces: &[Piece], declared: &[String]) -> Vec<Arg> {
    let consumed: usize = pieces
        .iter()
        .map(|p| match p {
            Piece::Conv(s) if s.width == Width::Star => 2,
            Piece::Conv(_) => 1,
            Piece::Lit(_) => 0,
        })
        .sum();
    let types_line_up = consumed == declared.len();
    let mut out = Vec::new();
    for p in pieces {
        let Piece::Conv(s) = p else { continue };
        if s.width == Width::Star {
            out.push(Arg::Int(rng.below(21) as i128));
        }
        let decl = if types_line_up {
            declared_int(&declared[out.len()])
        } else {
            None
        };
        let arg = match s.conv {
            ConvChar::Str => Arg::Str(gen_str(rng)),
            ConvChar::Ptr => Arg::Ptr(gen_ptr(rng)),
            ConvChar::Char => {
                let (signed, bits) = decl.unwrap_or((true, 32));
                Arg::Int(wrap(gen_int(rng, signed, bits), false, 8))
            }
            _ => {
                // Draw in the declared type, then convert to what printf reads.
                let (signed, bits) = decl.unwrap_or((s.signed(), s.bits));
                Arg::Int(wrap(gen_int(rng, signed, bits), s.signed(), s.bits))
            }
        };
        out.push(arg);
    }
    out
}

// ---------------------------------------------------------------------------
// Rendering, as glibc's printf does it.

/// The value a field should decode to.
#[derive(Debug, Clone, PartialEq)]
enum Exp {
    Signed(i64),
    Unsigned(u64, Radix),
    Ptr(Option<u64>),
    Str(Option<Vec<u8>>),
    Char(u8),
    /// A `*` width: the printed field width.
    Width(u64),
}

impl Exp {
    fn value(&self) -> Value<'_> {
        match self {
            Exp::Signed(v) => Value::Signed(*v),
            Exp::Unsigned(v, r) => Value::Unsigned(*v, *r),
            Exp::Ptr(p) => Value::Pointer(*p),
            Exp::Str(s) => Value::Str(s.as_deref()),
            Exp::Char(c) => Value::Char(*c),
            Exp::Width(w) => Value::Unsigned(*w, Radix::Dec),
        }
    }
}

/// One value slot of a rendered message.
#[derive(Debug, Clone)]
struct Field {
    /// Index of the conversion's piece.
    piece: usize,
    /// The field's bytes in the message (padding included).
    span: Range<usize>,
    exp: Exp,
    /// The slot of a `*` width.
    star: bool,
}

fn radix_of(s: &Spec) -> Radix {
    match s.conv {
        ConvChar::LowerHex => Radix::Hex,
        ConvChar::UpperHex => Radix::HexUpper,
        ConvChar::Oct => Radix::Oct,
        _ => Radix::Dec,
    }
}

fn int_exp(s: &Spec, v: i128) -> Exp {
    if s.signed() {
        Exp::Signed(v as i64)
    } else {
        Exp::Unsigned(v as u64, radix_of(s))
    }
}

fn digits(mut v: u128, radix: u32, upper: bool) -> Vec<u8> {
    let set: &[u8] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut d = Vec::new();
    loop {
        d.push(set[(v % u128::from(radix)) as usize]);
        v /= u128::from(radix);
        if v == 0 {
            break;
        }
    }
    d.reverse();
    d
}

/// Pads `head` (sign, `0x`) + `body` (digits) to `width`: with zeros between
/// them when `zeros`, else with spaces on the left (right with `left`).
fn pad(out: &mut Vec<u8>, width: usize, left: bool, zeros: bool, head: &[u8], body: &[u8]) {
    let fill = width.saturating_sub(head.len() + body.len());
    if left {
        out.extend_from_slice(head);
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if zeros {
        out.extend_from_slice(head);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(body);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(head);
        out.extend_from_slice(body);
    }
}

fn render_int(out: &mut Vec<u8>, s: &Spec, width: usize, left: bool, v: i128) {
    let neg = v < 0;
    let mag = v.unsigned_abs();
    let upper = s.conv == ConvChar::UpperHex;
    let mut body = if s.precision == Some(0) && mag == 0 {
        Vec::new()
    } else {
        digits(mag, s.radix(), upper)
    };
    if let Some(p) = s.precision
        && body.len() < p
    {
        let mut z = vec![b'0'; p - body.len()];
        z.extend_from_slice(&body);
        body = z;
    }
    let mut head: Vec<u8> = Vec::new();
    if s.signed() {
        if neg {
            head.push(b'-');
        } else if s.plus {
            head.push(b'+');
        } else if s.space {
            head.push(b' ');
        }
    }
    if s.alt {
        match s.conv {
            ConvChar::Oct if body.first() != Some(&b'0') => body.insert(0, b'0'),
            ConvChar::LowerHex if mag != 0 => head.extend_from_slice(b"0x"),
            ConvChar::UpperHex if mag != 0 => head.extend_from_slice(b"0X"),
            _ => {}
        }
    }
    // The 0 flag is ignored with a precision (and with `-`).
    let zeros = s.zero && s.precision.is_none();
    pad(out, width, left, zeros, &head, &body);
}

/// Prints the message and records each value slot.
fn render(pieces: &[Piece], args: &[Arg]) -> (Vec<u8>, Vec<Field>) {
    let mut msg = Vec::new();
    let mut fields = Vec::new();
    let mut args = args.iter();
    for (pi, p) in pieces.iter().enumerate() {
        let s = match p {
            Piece::Lit(l) => {
                msg.extend_from_slice(l);
                continue;
            }
            Piece::Conv(s) => s,
        };
        let mut left = s.left;
        let width = match s.width {
            Width::None => 0,
            Width::Fixed(w) => w,
            Width::Star => {
                let Some(Arg::Int(w)) = args.next() else {
                    panic!("star width needs an int")
                };
                // A negative `*` width means `-` and its absolute value.
                left |= *w < 0;
                w.unsigned_abs() as usize
            }
        };
        let start = msg.len();
        let exp = match (s.conv, args.next().expect("one argument per conversion")) {
            (ConvChar::Str, Arg::Str(v)) => {
                let text: &[u8] = match v {
                    Some(t) => t,
                    // glibc prints "(null)" only when the precision allows 6 bytes.
                    None if s.precision.is_none_or(|p| p >= 6) => b"(null)",
                    None => b"",
                };
                let text = &text[..s.precision.map_or(text.len(), |p| p.min(text.len()))];
                pad(&mut msg, width, left, false, b"", text);
                Exp::Str(None) // decided from the printed text below
            }
            (ConvChar::Ptr, Arg::Ptr(v)) => {
                if *v == 0 {
                    pad(&mut msg, width, left, false, b"", b"(nil)");
                    Exp::Ptr(None)
                } else {
                    // glibc prints a pointer as %#lx.
                    let body = digits(u128::from(*v), 16, false);
                    let mut head = Vec::new();
                    if s.plus {
                        head.push(b'+');
                    } else if s.space {
                        head.push(b' ');
                    }
                    head.extend_from_slice(b"0x");
                    pad(&mut msg, width, left, s.zero, &head, &body);
                    Exp::Ptr(Some(*v))
                }
            }
            (ConvChar::Char, Arg::Int(v)) => {
                let c = *v as u8;
                pad(&mut msg, width, left, false, b"", &[c]);
                Exp::Char(c)
            }
            (_, Arg::Int(v)) => {
                render_int(&mut msg, s, width, left, *v);
                int_exp(s, *v)
            }
            (c, a) => panic!("argument {a:?} does not fit %{c:?}"),
        };
        let span = start..msg.len();
        if s.width == Width::Star {
            fields.push(Field {
                piece: pi,
                span: span.clone(),
                exp: Exp::Width(span.len() as u64),
                star: true,
            });
        }
        fields.push(Field {
            piece: pi,
            span,
            exp,
            star: false,
        });
    }
    (msg, fields)
}

// ---------------------------------------------------------------------------
// What the parser should recover, ambiguities resolved as documented.

/// Reads `text` as conversion `s` could have printed it, within the range of
/// the type printf reads; `None` when it could not have.
fn read_int(s: &Spec, text: &[u8]) -> Option<Exp> {
    let mut t = text;
    let has_width = s.width != Width::None;
    if has_width && !s.left && (!s.zero || s.precision.is_some()) {
        while let [b' ', rest @ ..] = t {
            t = rest;
        }
    }
    let mut neg = false;
    if s.signed() {
        match t.first() {
            Some(b'-') => neg = true,
            Some(b'+') if s.plus => {}
            Some(b' ') if s.space => {}
            _ => {}
        }
        if neg || (s.plus && t.first() == Some(&b'+')) || (s.space && t.first() == Some(&b' ')) {
            t = &t[1..];
        }
    }
    if s.alt && s.radix() == 16 && t != b"0" {
        let pre: &[u8] = if s.conv == ConvChar::UpperHex {
            b"0X"
        } else {
            b"0x"
        };
        t = t.strip_prefix(pre)?;
    }
    if t.is_empty() || t.len() > 40 {
        return None;
    }
    let mut mag: i128 = 0;
    for &b in t {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' if s.conv == ConvChar::LowerHex => b - b'a' + 10,
            b'A'..=b'F' if s.conv == ConvChar::UpperHex => b - b'A' + 10,
            _ => return None,
        };
        if u32::from(d) >= s.radix() {
            return None;
        }
        mag = mag * i128::from(s.radix()) + i128::from(d);
    }
    let v = if neg { -mag } else { mag };
    let (lo, hi) = int_range(s.signed(), s.bits);
    (lo..=hi).contains(&v).then(|| int_exp(s, v))
}

fn conv_of(pieces: &[Piece], f: &Field) -> Spec {
    match &pieces[f.piece] {
        Piece::Conv(s) => s.clone(),
        Piece::Lit(_) => unreachable!(),
    }
}

/// The shape of two adjacent value conversions, `None` when the pair is not
/// ambiguous (a `%c` is always exactly one byte).
fn pair_shape(a: &Spec, b: &Spec) -> Option<Shape> {
    let fixed = |s: &Spec| s.conv == ConvChar::Char;
    if fixed(a) || fixed(b) {
        return None;
    }
    // %p prints "0x…" or "(nil)": its own shape, not used next to a conversion.
    assert!(
        a.conv != ConvChar::Ptr && b.conv != ConvChar::Ptr,
        "a %p next to another conversion is a shape this test does not model"
    );
    Some(match (a.conv == ConvChar::Str, b.conv == ConvChar::Str) {
        (true, true) => Shape::StrStr,
        (true, false) => Shape::StrNum,
        (false, true) => Shape::NumStr,
        (false, false) => Shape::NumNum,
    })
}

/// Every adjacent, ambiguous pair of a format: (index of the first piece, shape).
fn ambiguous_pairs(pieces: &[Piece]) -> Vec<(usize, Shape)> {
    pieces
        .windows(2)
        .enumerate()
        .filter_map(|(i, w)| match w {
            [Piece::Conv(a), Piece::Conv(b)] => pair_shape(a, b).map(|s| (i, s)),
            _ => None,
        })
        .collect()
}

/// The values the parser must return for a rendered message: the rendered
/// ones, with string padding removed and adjacent pairs re-split the way the
/// parser documents.
fn expected(pieces: &[Piece], msg: &[u8], fields: &[Field]) -> Vec<Exp> {
    let mut fields = fields.to_vec();
    for (pi, _) in ambiguous_pairs(pieces) {
        let ai = fields
            .iter()
            .position(|f| f.piece == pi && !f.star)
            .unwrap();
        let bi = ai + 1;
        assert!(
            !fields[bi].star && fields[bi].piece == pi + 1,
            "a * width inside an adjacent pair is not modelled"
        );
        let (sa, sb) = (conv_of(pieces, &fields[ai]), conv_of(pieces, &fields[bi]));
        assert!(
            sa.width == Width::None || sa.is_int(),
            "a padded string inside an adjacent pair is not modelled"
        );
        let start = fields[ai].span.start;
        let end = fields[bi].span.end;
        let whole = &msg[start..end];
        let split = match pair_shape(&sa, &sb).unwrap() {
            Shape::StrStr => 0,
            // The shortest string that leaves a valid number.
            Shape::StrNum => (0..=whole.len())
                .find(|&k| read_int(&sb, &whole[k..]).is_some())
                .unwrap(),
            // The longest number that leaves a valid string (any string is).
            Shape::NumStr => (1..=whole.len())
                .rev()
                .find(|&k| read_int(&sa, &whole[..k]).is_some())
                .unwrap(),
            // The longest first number that leaves a valid second one.
            Shape::NumNum => (1..whole.len())
                .rev()
                .find(|&k| {
                    read_int(&sa, &whole[..k]).is_some() && read_int(&sb, &whole[k..]).is_some()
                })
                .unwrap(),
        };
        fields[ai].span = start..start + split;
        fields[bi].span = start + split..end;
        for i in [ai, bi] {
            let s = conv_of(pieces, &fields[i]);
            if s.is_int() {
                fields[i].exp = read_int(&s, &msg[fields[i].span.clone()]).unwrap();
            }
        }
    }
    fields
        .iter()
        .map(|f| {
            let s = conv_of(pieces, f);
            if s.conv != ConvChar::Str || f.star {
                return f.exp.clone();
            }
            let mut t = &msg[f.span.clone()];
            if s.width != Width::None {
                // Documented: spaces next to the padding count as padding.
                if s.left {
                    t = t.trim_ascii_end();
                } else {
                    t = t.trim_ascii_start();
                }
            }
            Exp::Str((t != b"(null)").then(|| t.to_vec()))
        })
        .collect()
}

/// True when no string contains the literal that follows it (the literal's
/// first occurrence after the string's start is where it was printed).
fn strings_unambiguous(pieces: &[Piece], msg: &[u8], fields: &[Field]) -> bool {
    let mut lit_at = vec![0usize; pieces.len()];
    for f in fields {
        lit_at[f.piece] = f.span.end;
    }
    let mut pos = 0;
    let mut starts = vec![0usize; pieces.len()];
    for (i, p) in pieces.iter().enumerate() {
        starts[i] = pos;
        pos = match p {
            Piece::Lit(l) => pos + l.len(),
            Piece::Conv(_) => lit_at[i],
        };
    }
    fields.iter().filter(|f| !f.star).all(|f| {
        if conv_of(pieces, f).conv != ConvChar::Str {
            return true;
        }
        let next = pieces[f.piece + 1..]
            .iter()
            .enumerate()
            .find_map(|(k, p)| match p {
                Piece::Lit(l) => Some((f.piece + 1 + k, l)),
                Piece::Conv(_) => None,
            });
        match next {
            None => true,
            Some((li, l)) => {
                let from = f.span.start;
                find(&msg[from..], l).map(|k| from + k) == Some(starts[li])
            }
        }
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// The property.

#[derive(Debug, Default)]
struct Tally {
    specs: usize,
    cases: usize,
    ambiguous_cases: usize,
    /// Events whose format shows an adjacent pair, with its shape.
    ambiguous_events: Vec<(String, Shape)>,
    /// Cases matched by the straight-line plan (the rest needed the
    /// backtracking matcher, or their format has no plan).
    planned_cases: usize,
    failures: Vec<String>,
}

fn check_spec(catalog: &Catalog, spec: &EventSpec, cases: u32, tally: &mut Tally) {
    tally.specs += 1;
    let pieces = match spec.format.as_deref().map(c_format_bytes) {
        None => Vec::new(),
        Some(Ok(bytes)) => match parse_printf(&bytes) {
            Ok(p) => p,
            Err(e) => {
                tally.failures.push(format!(
                    "{}: test renderer cannot read format: {e}",
                    spec.name
                ));
                return;
            }
        },
        Some(Err(e)) => {
            tally.failures.push(format!(
                "{}: test renderer cannot read format: {e}",
                spec.name
            ));
            return;
        }
    };
    let shapes = ambiguous_pairs(&pieces);
    for &(_, shape) in &shapes {
        tally.ambiguous_events.push((spec.name.clone(), shape));
    }
    let declared: Vec<String> = spec.args.iter().map(|a| a.ty.clone()).collect();
    let mut rng = Rng::new(SEED ^ fnv1a(&spec.name));
    let mut scratch = Vec::new();
    let cases = if shapes.is_empty() {
        cases
    } else {
        cases.max(AMBIGUOUS_CASES)
    };
    for case in 0..cases {
        let mut tries = 0;
        let (msg, fields) = loop {
            let args = gen_args(&mut rng, &pieces, &declared);
            let (msg, fields) = render(&pieces, &args);
            if strings_unambiguous(&pieces, &msg, &fields) {
                break (msg, fields);
            }
            tries += 1;
            assert!(tries < 1000, "{}: no unambiguous strings found", spec.name);
        };
        tally.cases += 1;
        let want = expected(&pieces, &msg, &fields);
        if !shapes.is_empty() {
            tally.ambiguous_cases += 1;
        }
        let show = || {
            format!(
                "{} case {case}: format {} message {:?}",
                spec.name,
                spec.format.as_deref().unwrap_or("<none>"),
                String::from_utf8_lossy(&msg)
            )
        };
        let Some(got) = catalog.decode(spec.name.as_bytes(), &msg, &mut scratch) else {
            let what = format!("{}: no match; expected {want:?}", show());
            tally.failures.push(what);
            continue;
        };
        if !std::ptr::eq(got.spec(), spec) {
            tally.failures.push(format!(
                "{}: matched another spec ({}:{})",
                show(),
                got.spec().origin.path,
                got.spec().origin.line
            ));
            continue;
        }
        // The straight-line plan (when the format has one) and the linear
        // matcher must agree with the backtracking search alone.
        if let Ok(compiled) = spec.compiled() {
            let (mut fast, mut slow, mut linear) = (Vec::new(), Vec::new(), Vec::new());
            let format = compiled.format();
            let fast_ok = format.match_message(&msg, &mut fast);
            let linear_ok = format.match_linear(&msg, &mut linear);
            let Some(slow_ok) = format.match_backtracking_within(&msg, &mut slow, 2_000_000) else {
                tally
                    .failures
                    .push(format!("{}: backtracking did not decide", show()));
                continue;
            };
            if format.has_plan() && (fast_ok, &fast) != (slow_ok, &slow) {
                tally.failures.push(format!(
                    "{}: planned matcher gave {fast_ok} {fast:?}, backtracking {slow_ok} {slow:?}",
                    show()
                ));
                continue;
            }
            if (linear_ok, &linear) != (slow_ok, &slow) {
                tally.failures.push(format!(
                    "{}: linear matcher gave {linear_ok} {linear:?}, backtracking {slow_ok} {slow:?}",
                    show()
                ));
                continue;
            }
            if format.matched_by_plan(&msg) {
                tally.planned_cases += 1;
            }
        }
        let got_values: Vec<Value<'_>> = (0..got.len()).map(|i| got.value(i)).collect();
        let want_values: Vec<Value<'_>> = want.iter().map(Exp::value).collect();
        if got_values != want_values {
            let what = format!(
                "{}: expected {want_values:?}, decoded {got_values:?}",
                show()
            );
            tally.failures.push(what);
            continue;
        }
        // Field names come from the declared arguments, in order.
        if spec.args.len() == got.len() {
            let names: Vec<&str> = spec.args.iter().map(|a| a.name.as_str()).collect();
            let got_names: Vec<&str> = got.names().iter().map(|n| &**n).collect();
            if names != got_names {
                tally.failures.push(format!(
                    "{}: field names {got_names:?}, declared {names:?}",
                    show()
                ));
            }
        }
    }
}

fn run_catalog(catalog: &Catalog, label: &str) -> Tally {
    let mut tally = Tally::default();
    for spec in catalog.specs() {
        check_spec(catalog, spec, CASES, &mut tally);
    }
    report(&tally, label);
    tally
}

/// One summary line on stderr (seen with `--nocapture`).
fn report(tally: &Tally, label: &str) {
    eprintln!(
        "catalog_roundtrip: {label}: {} specs, {} cases ({} in formats with adjacent conversions, {} matched by the straight-line plan), {} failures",
        tally.specs,
        tally.cases,
        tally.ambiguous_cases,
        tally.planned_cases,
        tally.failures.len(),
    );
}

fn assert_clean(tally: &Tally, label: &str) {
    // Every ambiguous shape found must be listed, with the same shape, so
    // that the list above stays a true inventory.
    let unlisted: Vec<_> = tally
        .ambiguous_events
        .iter()
        .filter(|(name, shape)| !AMBIGUOUS.contains(&(name.as_str(), *shape)))
        .collect();
    assert!(
        unlisted.is_empty(),
        "{label}: formats with adjacent conversions missing from AMBIGUOUS: {unlisted:?}"
    );
    // Per event: how many cases failed, and the first three of them.
    let mut per_event: Vec<(&str, usize)> = Vec::new();
    let mut shown: Vec<&str> = Vec::new();
    for f in &tally.failures {
        let name = f.split([':', ' ']).next().unwrap_or("");
        match per_event.iter_mut().find(|(n, _)| *n == name) {
            Some((_, k)) if *k >= 3 => *k += 1,
            Some((_, k)) => {
                *k += 1;
                shown.push(f);
            }
            None => {
                per_event.push((name, 1));
                shown.push(f);
            }
        }
    }
    assert!(
        tally.failures.is_empty(),
        "{label}: {} of {} cases failed, per event: {per_event:?}; examples:\n{}",
        tally.failures.len(),
        tally.cases,
        shown.join("\n")
    );
}

fn require_catalog() -> bool {
    std::env::var_os("QTRACE_REQUIRE_CATALOG").is_some_and(|v| v == "1")
}

/// Loads one catalog file on its own (no built-in specs), or explains why not.
fn load(path: &Path) -> Catalog {
    let mut c = Catalog::new();
    c.add_file(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    c.check_all();
    let warnings = c.take_warnings();
    assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
    c
}

fn skip_or_fail(what: &str) {
    assert!(
        !require_catalog(),
        "{what} not found, and QTRACE_REQUIRE_CATALOG=1 requires it"
    );
    eprintln!(
        "catalog_roundtrip: SKIPPED: {what} not found (set QTRACE_REQUIRE_CATALOG=1 to fail instead)"
    );
}

#[test]
fn installed_catalog_round_trips() {
    let found: Option<PathBuf> = INSTALLED_CATALOGS
        .iter()
        .map(PathBuf::from)
        // A copy of Debian's QEMU 7.2 catalog, when QEMU itself is not installed.
        .chain(std::iter::once(shared("qemu-info/trace-events-all")))
        .find(|p| p.is_file());
    let Some(path) = found else {
        skip_or_fail("QEMU's trace-events-all");
        return;
    };
    let catalog = load(&path);
    assert!(
        catalog.specs().len() > 3000,
        "{} looks truncated",
        path.display()
    );
    let tally = run_catalog(&catalog, &path.display().to_string());
    assert!(tally.cases >= tally.specs * CASES as usize);
    assert_clean(&tally, &path.display().to_string());
}

#[test]
fn qemu52_catalog_round_trips() {
    let path = &shared("V-qemu52/trace-events-all");
    if !path.is_file() {
        skip_or_fail("the QEMU 5.2 trace-events-all");
        return;
    }
    let catalog = load(path);
    assert!(
        catalog.specs().len() > 3000,
        "{} looks truncated",
        path.display()
    );
    let tally = run_catalog(&catalog, "QEMU 5.2");
    assert_clean(&tally, "QEMU 5.2");
}

/// The renderer itself, on values whose text is known by heart.
#[test]
fn renderer_prints_like_glibc() {
    let p = |src: &str, args: &[Arg]| {
        let pieces = parse_printf(&c_format_bytes(src).unwrap()).unwrap();
        String::from_utf8(render(&pieces, args).0).unwrap()
    };
    use Arg::{Int, Ptr, Str};
    assert_eq!(
        p(
            r#""%#x %#08x %#o %#X %+d % d %5.3d %-4d|""#,
            &[
                Int(0),
                Int(0),
                Int(8),
                Int(31),
                Int(0),
                Int(5),
                Int(-7),
                Int(3)
            ]
        ),
        "0 00000000 010 0X1F +0  5  -007 3   |"
    );
    assert_eq!(
        p(
            r#""%p %p %18p|%s|%.4s|%20s|""#,
            &[
                Ptr(0),
                Ptr(0x10),
                Ptr(0),
                Str(None),
                Str(None),
                Str(Some(b"ab".to_vec()))
            ]
        ),
        "(nil) 0x10              (nil)|(null)||                  ab|"
    );
    assert_eq!(
        p(
            r#""0x%0*" PRIx64 " %" PRId64 " %" PRIu8 "%%""#,
            &[Int(4), Int(0xab), Int(-1), Int(255)]
        ),
        "0x00ab -1 255%"
    );
    assert_eq!(wrap(-1, false, 64), i128::from(u64::MAX));
    assert_eq!(wrap(300, true, 8), 44);
}

#[test]
fn synthetic_specs_round_trip() {
    let mut catalog = Catalog::new();
    catalog.add_text("synthetic", SYNTHETIC);
    catalog.check_all();
    let warnings = catalog.take_warnings();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(catalog.specs().len(), 12);
    // More cases: these formats are few and dense.
    let mut tally = Tally::default();
    for spec in catalog.specs() {
        check_spec(&catalog, spec, 400, &mut tally);
    }
    report(&tally, "synthetic");
    assert_clean(&tally, "synthetic");
}
