//! Fuzz target `recognize`: line-shape recognition, classification and
//! timestamp conversion over lines of arbitrary bytes.
//!
//! The input is split at `\n` (the way `LineReader` would hand it out) and
//! every line goes through `recognize`, `recognize_wrapped`,
//! `Scanner::classify` with the built-in catalog, `Catalog::decode`,
//! `EventSpecs::decode_digest` (which must give what decoding gives), and
//! `Prefix::time_nanos`. Besides "never panics", it checks invariants that the
//! tools rely on: names are identifiers borrowed from the line, the message is
//! the tail of the line, and a timestamp converts to nanoseconds only when it is
//! well formed, to the value a naive reference conversion gives.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qtrace_core::catalog::{Catalog, DigestCache, Fields};
use qtrace_core::lines::Line;
use qtrace_core::recognize::{Prefix, PrefixKind, Shape, recognize, recognize_wrapped};
use qtrace_core::scan::{Record, ScanOptions, Scanner};

thread_local! {
    // Building the catalog per input would dominate the run time; the
    // catalog is not `Sync` (it remembers the last winning spec), hence a
    // thread-local leaked once.
    static CATALOG: &'static Catalog = Box::leak(Box::new(Catalog::builtin()));
    // A second one for the cached decoding: it sees the same decodes in the
    // same order, so it prefers the same specs.
    static CACHED: &'static Catalog = Box::leak(Box::new(Catalog::builtin()));
}

/// What the cached decoding keeps per message: every field's value, shown.
fn digest(fields: &Fields<'_>) -> Vec<String> {
    (0..fields.len())
        .map(|i| format!("{:?}", fields.value(i)))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let catalog = CATALOG.with(|c| *c);
    let cached = CACHED.with(|c| *c);
    let mut digests = DigestCache::default();
    let scanner = Scanner::new(catalog, ScanOptions::default());
    let mut scratch = Vec::new();
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let bytes = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(shape) = recognize(bytes) {
            check_shape(bytes, &shape);
        }
        if let Some(shape) = recognize_wrapped(bytes) {
            check_shape(bytes, &shape);
        }
        let line = Line {
            number: i as u64 + 1,
            bytes,
            full: raw,
        };
        match scanner.classify(line) {
            Record::Event(ev) => {
                assert_eq!(ev.line, line);
                check_shape(
                    bytes,
                    &Shape {
                        prefix: ev.prefix,
                        name: ev.name,
                        message: ev.message,
                    },
                );
                let decoded = catalog.decode(ev.name, ev.message, &mut scratch);
                if let Some(fields) = &decoded {
                    assert_eq!(fields.names().len(), fields.len());
                    for f in 0..fields.len() {
                        let text = fields.text(f);
                        assert!(within(ev.message, text));
                        let _ = fields.value(f);
                        let _ = fields.name(f);
                    }
                }
                if let Some(specs) = cached.event(ev.name) {
                    let want = decoded.map(|f| digest(&f));
                    let have = specs.decode_digest(ev.message, &mut digests, digest);
                    assert_eq!(have, want, "{:?}", String::from_utf8_lossy(bytes));
                }
            }
            Record::Other(l) => assert_eq!(l, line),
        }
    }
});

/// True when `part` is a sub-slice of `whole` (borrowed from it, not copied).
fn within(whole: &[u8], part: &[u8]) -> bool {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

fn check_shape(line: &[u8], s: &Shape<'_>) {
    assert!(within(line, s.name) && within(line, s.message));
    let first = s.name[0];
    assert!(first.is_ascii_alphabetic() || first == b'_', "{:?}", s.name);
    assert!(
        s.name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    );
    // The message runs to the end of the line.
    assert_eq!(
        s.message.as_ptr() as usize + s.message.len(),
        line.as_ptr() as usize + line.len()
    );
    if let Some(t) = s.prefix.time {
        assert!(within(line, t));
    }
    check_time(&s.prefix);
}

/// Compares `time_nanos` with a naive reference conversion.
fn check_time(p: &Prefix<'_>) {
    let got = p.time_nanos();
    let Some(t) = p.time else {
        assert_eq!(got, None);
        return;
    };
    let want = match p.kind {
        PrefixKind::TidTime | PrefixKind::Ftrace | PrefixKind::Simple => naive_decimal(t),
        PrefixKind::Stap => naive_int(t).and_then(|v| i64::try_from(v).ok()),
        PrefixKind::Iso => naive_iso(t),
        PrefixKind::Syslog => {
            if t.len() >= 20 && t[4] == b'-' && t[10] == b'T' {
                naive_iso(t)
            } else {
                None
            }
        }
        PrefixKind::Bare => None,
    };
    assert_eq!(
        got,
        want,
        "time {:?} ({:?})",
        String::from_utf8_lossy(t),
        p.kind
    );
}

/// Up to 20 decimal digits (the documented bound of the prefix parser).
fn naive_int(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// `SECONDS[.FRACTION]`, at most 9 fraction digits.
fn naive_decimal(t: &[u8]) -> Option<i64> {
    let (sec, frac) = match t.iter().position(|&b| b == b'.') {
        Some(d) => (&t[..d], &t[d + 1..]),
        None => (t, &t[t.len()..]),
    };
    let sec = i128::from(naive_int(sec)?);
    if frac.len() > 9 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nanos: i128 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |b| i128::from(b - b'0'));
    }
    i64::try_from(sec * 1_000_000_000 + nanos).ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH[[:]MM])`, with day-of-month only
/// checked against 31 (the parser is that lenient on purpose).
fn naive_iso(t: &[u8]) -> Option<i64> {
    let num = |s: &[u8]| -> Option<i64> {
        if s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    if t.len() < 20 || t[4] != b'-' || t[7] != b'-' || t[10] != b'T' {
        return None;
    }
    if t[13] != b':' || t[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(&t[0..4])?, num(&t[5..7])?, num(&t[8..10])?);
    let (h, mi, s) = (num(&t[11..13])?, num(&t[14..16])?, num(&t[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut nanos = 0i64;
    if let Some(r) = rest.strip_prefix(b".") {
        let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        let mut frac = r[..n].to_vec();
        frac.resize(9, b'0');
        nanos = num(&frac)?;
        rest = &r[n..];
    }
    let offset = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (hh, mm) = match tail {
                [a, b] => (num(&[*a, *b])?, 0),
                [a, b, c, d] => (num(&[*a, *b])?, num(&[*c, *d])?),
                [a, b, b':', c, d] => (num(&[*a, *b])?, num(&[*c, *d])?),
                _ => return None,
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            let off = hh * 3600 + mm * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    // Days since the epoch by walking the calendar.
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let year_days = |y: i64| if leap(y) { 366 } else { 365 };
    let mut days: i64 = 0;
    if y >= 1970 {
        for yy in 1970..y {
            days += year_days(yy);
        }
    } else {
        for yy in y..1970 {
            days -= year_days(yy);
        }
    }
    const MONTH: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for m in 1..mo {
        days += MONTH[(m - 1) as usize] + i64::from(m == 2 && leap(y));
    }
    days += d - 1;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}
