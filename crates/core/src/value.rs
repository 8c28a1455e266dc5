//! Typed argument values recovered from a trace line.
//!
//! A value keeps both its meaning (an integer, a pointer, a string...) and the
//! radix it was printed in, so outputs can print it back the way the event did
//! (`--numbers asis`) or normalise it. Strings borrow from the line: they are
//! bytes and need not be UTF-8.

/// How an integer was printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Radix {
    /// Decimal (`%d %i %u`).
    Dec,
    /// Lower-case hexadecimal (`%x`, `PRIx64`).
    Hex,
    /// Upper-case hexadecimal (`%X`).
    HexUpper,
    /// Octal (`%o`).
    Oct,
}

/// What kind of value a conversion produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A signed integer (`%d`, `%i`, `PRId64`).
    Signed,
    /// An unsigned integer in some radix (`%u %x %X %o`).
    Unsigned(Radix),
    /// A host pointer (`%p`); printed `(nil)` for NULL.
    Pointer,
    /// A string (`%s`); printed `(null)` for NULL.
    Str,
    /// One character (`%c`).
    Char,
    /// A floating-point number (`%g` and friends, QEMU ≤ 2.5), kept as text.
    Float,
    /// The field width given by a `*` (`%0*x`), recovered from the printed width.
    Width,
    /// The text of `%m` (an errno message); consumes no argument.
    Errno,
}

/// One decoded argument value. Strings and float texts borrow from the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A signed integer, printed in decimal.
    Signed(i64),
    /// An unsigned integer and the radix it was printed in.
    Unsigned(u64, Radix),
    /// A pointer; `None` for NULL (`(nil)`).
    Pointer(Option<u64>),
    /// A string; `None` for NULL (`(null)`).
    Str(Option<&'a [u8]>),
    /// One byte printed by `%c`.
    Char(u8),
    /// A floating-point number, as printed.
    Float(&'a [u8]),
}

impl Value<'_> {
    /// The value as an unsigned integer, for integers and pointers (signed
    /// values are reinterpreted as two's complement, as C would).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Signed(v) => Some(v as u64),
            Value::Unsigned(v, _) => Some(v),
            Value::Pointer(p) => Some(p.unwrap_or(0)),
            Value::Char(c) => Some(u64::from(c)),
            _ => None,
        }
    }

    /// The value as a signed integer, when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Signed(v) => Some(v),
            Value::Unsigned(v, _) => i64::try_from(v).ok(),
            Value::Char(c) => Some(i64::from(c)),
            _ => None,
        }
    }

    /// The value as an exact integer of any sign, for comparisons.
    pub fn as_i128(&self) -> Option<i128> {
        match *self {
            Value::Signed(v) => Some(i128::from(v)),
            Value::Unsigned(v, _) => Some(i128::from(v)),
            Value::Pointer(p) => Some(i128::from(p.unwrap_or(0))),
            Value::Char(c) => Some(i128::from(c)),
            _ => None,
        }
    }

    /// The string bytes, for strings (`None` for NULL and non-strings).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match *self {
            Value::Str(s) => s,
            Value::Float(s) => Some(s),
            _ => None,
        }
    }
}
