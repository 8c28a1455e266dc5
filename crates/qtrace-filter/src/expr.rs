//! `--where` expressions: `field OP value`, parsed once, evaluated per event.
//!
//! Numbers compare by value whatever radix the log or the literal used
//! (`offs<0x40` and `offs<64` are the same test); strings compare as bytes, and
//! `~` is a regex search over the string's bytes. `time` compares in seconds on
//! the line's clock; `tid` as a number. An event that lacks the field does not
//! satisfy the expression.

use qtrace_core::Error;
use regex::bytes::Regex;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `~` (regex)
    Match,
}

/// The right-hand side.
#[derive(Debug, Clone)]
pub enum Literal {
    /// An integer (decimal, `0x` hex, `-` allowed).
    Int(i128),
    /// A time or other decimal number, in nanoseconds (for `time`).
    Nanos(i64),
    /// A string.
    Str(Vec<u8>),
    /// A compiled regex.
    Regex(Regex),
}

/// One parsed `--where` expression.
#[derive(Debug, Clone)]
pub struct Cond {
    /// The field name.
    pub field: String,
    /// The operator.
    pub op: Op,
    /// The value compared with.
    pub lit: Literal,
    /// The string form of the literal (for string comparisons of numeric literals).
    pub text: Vec<u8>,
}

/// Parses `field OP value`.
pub fn parse(expr: &str) -> Result<Cond, Error> {
    let ops: [(&str, Op); 7] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("~", Op::Match),
    ];
    let (pos, op_text, op) = ops
        .iter()
        .filter_map(|(t, o)| expr.find(t).map(|p| (p, *t, *o)))
        .min_by_key(|(p, t, _)| (*p, std::cmp::Reverse(t.len())))
        .ok_or_else(|| {
            Error::usage(format!(
                "--where '{expr}': expected FIELD OP VALUE with OP one of == != < <= > >= ~"
            ))
        })?;
    let field = expr[..pos].trim().to_string();
    let value = expr[pos + op_text.len()..].trim();
    if field.is_empty() {
        return Err(Error::usage(format!(
            "--where '{expr}': missing field name"
        )));
    }
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    let lit = if op == Op::Match {
        Literal::Regex(
            Regex::new(value)
                .map_err(|e| Error::usage(format!("--where '{expr}': bad regex: {e}")))?,
        )
    } else if field == "time" {
        match parse_seconds(value) {
            Some(ns) => Literal::Nanos(ns),
            None => {
                return Err(Error::usage(format!(
                    "--where '{expr}': time must be in seconds, e.g. 1795674347.5"
                )));
            }
        }
    } else if let Some(i) = parse_int(value) {
        Literal::Int(i)
    } else {
        if !matches!(op, Op::Eq | Op::Ne) {
            return Err(Error::usage(format!(
                "--where '{expr}': '{value}' is not a number; strings take only ==, != and ~"
            )));
        }
        Literal::Str(value.as_bytes().to_vec())
    };
    Ok(Cond {
        field,
        op,
        lit,
        text: value.as_bytes().to_vec(),
    })
}

/// Parses a decimal or `0x` hex integer, optionally negative.
pub fn parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse::<i128>().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Parses `SECONDS[.FRACTION]` into nanoseconds.
pub fn parse_seconds(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
    {
        return None;
    }
    let int: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f = 0i64;
    for i in 0..9 {
        f = f * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    let v = int.checked_mul(1_000_000_000)?.checked_add(f)?;
    Some(if neg { -v } else { v })
}

/// The value of a field, as seen by a condition.
#[derive(Debug, Clone, Copy)]
pub enum Operand<'a> {
    /// An integer.
    Int(i128),
    /// A time in nanoseconds.
    Nanos(i64),
    /// A string (or the printed text of a value).
    Str(&'a [u8]),
    /// A NULL string or pointer.
    Null,
}

impl Cond {
    /// Whether the condition holds for `v`.
    pub fn eval(&self, v: Operand<'_>) -> bool {
        use std::cmp::Ordering;
        let ord: Option<Ordering> = match (&self.lit, v) {
            (Literal::Regex(re), Operand::Str(s)) => return re.is_match(s),
            (Literal::Regex(re), Operand::Int(i)) => return re.is_match(i.to_string().as_bytes()),
            (Literal::Regex(_), _) => return false,
            (Literal::Int(l), Operand::Int(i)) => Some(i.cmp(l)),
            (Literal::Nanos(l), Operand::Nanos(n)) => Some(n.cmp(l)),
            (Literal::Str(l), Operand::Str(s)) => {
                return match self.op {
                    Op::Eq => s == l.as_slice(),
                    Op::Ne => s != l.as_slice(),
                    _ => false,
                };
            }
            // A number literal against a string field compares the text.
            (Literal::Int(_), Operand::Str(s)) => {
                return match self.op {
                    Op::Eq => s == self.text.as_slice(),
                    Op::Ne => s != self.text.as_slice(),
                    _ => false,
                };
            }
            (_, Operand::Null) => {
                return matches!(&self.lit, Literal::Str(l) if (l == b"(null)" || l == b"(nil)") == (self.op == Op::Eq))
                    || (self.op == Op::Ne
                        && !matches!(&self.lit, Literal::Str(l) if l == b"(null)" || l == b"(nil)"));
            }
            _ => None,
        };
        let Some(ord) = ord else { return false };
        match self.op {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Match => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates() {
        let c = parse("offs<0x40").unwrap();
        assert!(c.eval(Operand::Int(63)) && !c.eval(Operand::Int(64)));
        let c = parse("val >= 128").unwrap();
        assert!(c.eval(Operand::Int(0x80)));
        let c = parse("dev==e1000").unwrap();
        assert!(c.eval(Operand::Str(b"e1000")) && !c.eval(Operand::Str(b"e1000e")));
        let c = parse("dev~^e1000").unwrap();
        assert!(c.eval(Operand::Str(b"e1000e")));
        let c = parse("dev!=\"ICH9 SMB\"").unwrap();
        assert!(!c.eval(Operand::Str(b"ICH9 SMB")));
        let c = parse("time>1795674347.5").unwrap();
        assert!(c.eval(Operand::Nanos(1_795_674_347_600_000_000)));
        let c = parse("keycode==-1").unwrap();
        assert!(c.eval(Operand::Int(-1)));
        assert!(parse("nofield").is_err());
        assert!(parse("dev<abc").is_err());
        assert!(parse("x~(").is_err());
    }

    #[test]
    fn null_values() {
        assert!(parse("p==(nil)").unwrap().eval(Operand::Null));
        assert!(!parse("p!=(nil)").unwrap().eval(Operand::Null));
        assert!(parse("p!=0x1").unwrap().eval(Operand::Null));
    }
}
