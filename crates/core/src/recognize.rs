//! Recognising the shape of a trace line: which prefix it carries, where the
//! event name is, where the message starts.
//!
//! QEMU's log backend has printed four prefixes over the years, and the same
//! payload also reaches users through ftrace and syslog. This module only looks
//! at the shape of a line; whether a bare `word rest` line is really an event
//! (and not, say, guest output) is decided with the catalog by
//! [`crate::scan`]. The accepted grammar is documented in `docs/formats.md`.
//!
//! | kind | example |
//! |---|---|
//! | bare | `pci_cfg_read mch 00:00.0 @0x0 -> 0x8086` |
//! | tid-time (≤ 10.0) | `9479@1795674347.582949:dma_blk_io dbs=…` |
//! | ISO (10.1+) | `2025-07-21T18:43:28.089797Z name args` (fraction optional) |
//! | SystemTap log | `9479@1795674347582949123 name args` (nanoseconds, space) |
//! | ftrace | `  qemu-system-x86-23030 [003] d..1. 5061.832941: tracing_mark_write: name args` |
//! | syslog | `Nov 26 08:09:29 host qemu-system-x86_64[1234]: name args` |

/// Which prefix a line carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixKind {
    /// No prefix: `name args`.
    Bare,
    /// `TID@SEC.USEC:name args` (`-msg timestamp=on`, or always up to QEMU 5.2).
    TidTime,
    /// `YYYY-MM-DDTHH:MM:SS[.ffffff]Z name args` (QEMU 10.1+ with `-msg timestamp=on`).
    Iso,
    /// `PID@NANOSECONDS name args` (SystemTap `.log.` probes).
    Stap,
    /// The ftrace backend, read back from `trace_pipe`.
    Ftrace,
    /// The syslog backend, as written by a syslog daemon.
    Syslog,
    /// A record of a binary simple trace: `tid` is the pid, `time` the
    /// monotonic clock in seconds with 6 decimals.
    Simple,
}

/// The prefix fields of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix<'a> {
    /// Which prefix.
    pub kind: PrefixKind,
    /// Thread id (process id for QEMU ≤ 3.1, SystemTap and syslog), where printed.
    pub tid: Option<u64>,
    /// The timestamp exactly as printed, where printed.
    pub time: Option<&'a [u8]>,
}

impl Prefix<'_> {
    /// The timestamp in nanoseconds on the line's own clock (Unix epoch for
    /// QEMU's prefixes; boot time for ftrace), when it has a numeric reading.
    pub fn time_nanos(&self) -> Option<i64> {
        let t = self.time?;
        match self.kind {
            PrefixKind::TidTime | PrefixKind::Ftrace | PrefixKind::Simple => {
                decimal_seconds_to_nanos(t)
            }
            PrefixKind::Stap => parse_u64(t).and_then(|v| i64::try_from(v).ok()),
            PrefixKind::Iso => iso_to_nanos(t),
            PrefixKind::Syslog => {
                if t.len() >= 20 && t[4] == b'-' && t[10] == b'T' {
                    iso_to_nanos(t)
                } else {
                    None
                }
            }
            PrefixKind::Bare => None,
        }
    }
}

/// The parts of a line that has the shape of a trace record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape<'a> {
    /// The prefix.
    pub prefix: Prefix<'a>,
    /// The event name.
    pub name: &'a [u8],
    /// The formatted arguments (after the one space that follows the name).
    pub message: &'a [u8],
}

/// Splits `name[ message]` where name is an identifier. The name must be
/// followed by a space or end the line.
#[inline]
fn split_name(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let first = *s.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let n = crate::swar::ident_run(s);
    let name = &s[..n];
    match s.get(n) {
        None => Some((name, &s[n..])),
        Some(b' ') => Some((name, &s[n + 1..])),
        Some(_) => None,
    }
}

#[inline]
fn digits(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// `SEC.FRACTION` → nanoseconds.
fn decimal_seconds_to_nanos(t: &[u8]) -> Option<i64> {
    let (sec, frac) = match memchr::memchr(b'.', t) {
        Some(d) => (&t[..d], &t[d + 1..]),
        None => (t, &t[t.len()..]),
    };
    let sec = i64::try_from(parse_u64(sec)?).ok()?;
    if frac.len() > 9 {
        return None;
    }
    let mut nanos: i64 = 0;
    for &b in frac {
        if !b.is_ascii_digit() {
            return None;
        }
        nanos = nanos * 10 + i64::from(b - b'0');
    }
    nanos *= [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
    ][9 - frac.len()];
    sec.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.f]Z` (or a numeric offset) → nanoseconds since the epoch.
fn iso_to_nanos(t: &[u8]) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        if digits(s) != s.len() {
            return None;
        }
        parse_u64(s).map(|v| v as i64)
    };
    let sep_ok = t.len() >= 19
        && t[4] == b'-'
        && t[7] == b'-'
        && (t[10] == b'T' || t[10] == b' ')
        && t[13] == b':'
        && t[16] == b':';
    if !sep_ok {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut nanos = 0i64;
    if let Some(r) = rest.strip_prefix(b".") {
        let n = digits(r);
        if n == 0 || n > 9 {
            return None;
        }
        for i in 0..9 {
            nanos = nanos * 10
                + r.get(i)
                    .filter(|_| i < n)
                    .map_or(0, |b| i64::from(b - b'0'));
        }
        rest = &r[n..];
    }
    let offset_secs = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), hh1, hh2, tail @ ..] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let hh = two(*hh1, *hh2)?;
            let mm = match tail {
                [b':', m1, m2] | [m1, m2] => two(*m1, *m2)?,
                [] => 0,
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
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Length of an ISO-8601 UTC timestamp at the start of `s` as QEMU 10.1+ prints it.
fn iso_prefix_len(s: &[u8]) -> Option<usize> {
    if s.len() < 20 {
        return None;
    }
    let pat = b"dddd-dd-ddTdd:dd:dd";
    for (i, &p) in pat.iter().enumerate() {
        let ok = if p == b'd' {
            s[i].is_ascii_digit()
        } else {
            s[i] == p
        };
        if !ok {
            return None;
        }
    }
    let mut n = 19;
    if s.get(n) == Some(&b'.') {
        let k = digits(&s[n + 1..]);
        if k == 0 || k > 9 {
            return None;
        }
        n += 1 + k;
    }
    if s.get(n) == Some(&b'Z') {
        Some(n + 1)
    } else {
        None
    }
}

const FTRACE_MARK: &[u8] = b"tracing_mark_write: ";

/// Recognises the shape of a trace line. Returns `None` for lines that cannot
/// be trace records in any of the known shapes.
#[inline]
pub fn recognize(line: &[u8]) -> Option<Shape<'_>> {
    let first = *line.first()?;
    if first.is_ascii_digit() {
        if let Some(s) = tid_prefixed(line) {
            return Some(s);
        }
        if let Some(n) = iso_prefix_len(line)
            && line.get(n) == Some(&b' ')
            && let Some((name, message)) = split_name(&line[n + 1..])
        {
            return Some(Shape {
                prefix: Prefix {
                    kind: PrefixKind::Iso,
                    tid: None,
                    time: Some(&line[..n]),
                },
                name,
                message,
            });
        }
    } else if let Some((name, message)) = split_name(line) {
        return Some(Shape {
            prefix: Prefix {
                kind: PrefixKind::Bare,
                tid: None,
                time: None,
            },
            name,
            message,
        });
    }
    recognize_wrapped(line)
}

/// `TID@SEC.USEC:name args` or `PID@NANOS name args`.
#[inline]
fn tid_prefixed(line: &[u8]) -> Option<Shape<'_>> {
    let (n, tid) = tid_digits(line);
    if line.get(n) != Some(&b'@') {
        return None;
    }
    let rest = &line[n + 1..];
    let s = crate::swar::digit_run(rest);
    if s == 0 {
        return None;
    }
    match rest.get(s) {
        Some(b'.') => {
            let f = crate::swar::digit_run(&rest[s + 1..]);
            let end = s + 1 + f;
            if f == 0 || rest.get(end) != Some(&b':') {
                return None;
            }
            let (name, message) = split_name(&rest[end + 1..])?;
            Some(Shape {
                prefix: Prefix {
                    kind: PrefixKind::TidTime,
                    tid,
                    time: Some(&rest[..end]),
                },
                name,
                message,
            })
        }
        Some(b' ') => {
            let (name, message) = split_name(&rest[s + 1..])?;
            Some(Shape {
                prefix: Prefix {
                    kind: PrefixKind::Stap,
                    tid,
                    time: Some(&rest[..s]),
                },
                name,
                message,
            })
        }
        _ => None,
    }
}

/// The run of digits at the start of `line` and, in the same pass, its
/// value as [`parse_u64`] gives it (`None` when empty, longer than 20
/// digits or over `u64::MAX`).
#[inline]
fn tid_digits(line: &[u8]) -> (usize, Option<u64>) {
    // Up to 19 digits cannot overflow a u64, so no check is needed per digit.
    const SAFE_DIGITS: usize = 19;
    let mut value: u64 = 0;
    let mut n = 0;
    while let Some(&b) = line.get(n) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if n == SAFE_DIGITS {
            // Rare: finish the run and let the checked parser decide.
            let n = n + digits(&line[n..]);
            return (n, parse_u64(&line[..n]));
        }
        value = value * 10 + u64::from(digit);
        n += 1;
    }
    (n, (n > 0).then_some(value))
}

/// The ftrace and syslog wrappings. The scanner tries these only for lines
/// that are not plain events, so they cost nothing on the common path.
#[cold]
pub fn recognize_wrapped(line: &[u8]) -> Option<Shape<'_>> {
    if let Some(at) = memchr::memmem::find(line, FTRACE_MARK) {
        return ftrace(line, at);
    }
    syslog(line)
}

fn ftrace(line: &[u8], at: usize) -> Option<Shape<'_>> {
    let (name, message) = split_name(&line[at + FTRACE_MARK.len()..])?;
    let head = line[..at].trim_ascii_end();
    let head = head.strip_suffix(b":")?;
    let time_start = head.iter().rposition(|&b| b == b' ').map_or(0, |p| p + 1);
    let time = &head[time_start..];
    if time.is_empty() || decimal_seconds_to_nanos(time).is_none() {
        return None;
    }
    // `comm-tid [cpu]`: the tid is the digits after the last '-' before " [".
    let tid = memchr::memmem::find(head, b" [").and_then(|b| {
        let before = head[..b].trim_ascii_end();
        let dash = before.iter().rposition(|&c| c == b'-')?;
        parse_u64(&before[dash + 1..])
    });
    Some(Shape {
        prefix: Prefix {
            kind: PrefixKind::Ftrace,
            tid,
            time: Some(time),
        },
        name,
        message,
    })
}

fn syslog(line: &[u8]) -> Option<Shape<'_>> {
    let close = memchr::memmem::find(line, b"]: ")?;
    let open = line[..close].iter().rposition(|&b| b == b'[')?;
    let pid = parse_u64(&line[open + 1..close])?;
    let prog_start = line[..open]
        .iter()
        .rposition(|&b| b == b' ')
        .map_or(0, |p| p + 1);
    let prog = &line[prog_start..open];
    if prog.is_empty() || memchr::memmem::find(prog, b"qemu").is_none() {
        return None;
    }
    let (name, message) = split_name(&line[close + 3..])?;
    // Everything before "host prog[pid]:" is the daemon's timestamp.
    let before = line[..prog_start].trim_ascii_end();
    let time = before
        .iter()
        .rposition(|&b| b == b' ')
        .map(|p| before[..p].trim_ascii_end())
        .filter(|t| !t.is_empty());
    Some(Shape {
        prefix: Prefix {
            kind: PrefixKind::Syslog,
            tid: Some(pid),
            time,
        },
        name,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kind, tid, time, name, message
    type Parts = (PrefixKind, Option<u64>, Option<String>, String, String);

    fn shape(l: &str) -> Option<Parts> {
        let bytes = l.as_bytes();
        let found = match recognize(bytes) {
            Some(s) if s.prefix.kind == PrefixKind::Bare && !s.name.contains(&b'_') => {
                recognize_wrapped(bytes)
            }
            other => other,
        };
        found.map(|s| {
            (
                s.prefix.kind,
                s.prefix.tid,
                s.prefix
                    .time
                    .map(|t| String::from_utf8_lossy(t).into_owned()),
                String::from_utf8_lossy(s.name).into_owned(),
                String::from_utf8_lossy(s.message).into_owned(),
            )
        })
    }

    #[test]
    fn every_prefix_variant() {
        use PrefixKind::*;
        let t = |s: &str| Some(s.to_string());
        let cases: &[(&str, Option<Parts>)] = &[
            (
                "pci_cfg_read mch 00:00.0 @0x0 -> 0x8086",
                Some((
                    Bare,
                    None,
                    None,
                    "pci_cfg_read".into(),
                    "mch 00:00.0 @0x0 -> 0x8086".into(),
                )),
            ),
            (
                "9479@1795674347.582949:dma_blk_io dbs=0x7f84 bs=0x55a2 offset=0 to_dev=0",
                Some((
                    TidTime,
                    Some(9479),
                    t("1795674347.582949"),
                    "dma_blk_io".into(),
                    "dbs=0x7f84 bs=0x55a2 offset=0 to_dev=0".into(),
                )),
            ),
            (
                "2025-07-21T18:43:28.089797Z ps2_read_data 0x55",
                Some((
                    Iso,
                    None,
                    t("2025-07-21T18:43:28.089797Z"),
                    "ps2_read_data".into(),
                    "0x55".into(),
                )),
            ),
            (
                "2025-07-21T18:43:05Z bmdma_reset ",
                Some((
                    Iso,
                    None,
                    t("2025-07-21T18:43:05Z"),
                    "bmdma_reset".into(),
                    "".into(),
                )),
            ),
            (
                "23030@1795675251676087123 ps2_read_data 0x55",
                Some((
                    Stap,
                    Some(23030),
                    t("1795675251676087123"),
                    "ps2_read_data".into(),
                    "0x55".into(),
                )),
            ),
            (
                " qemu-system-x86-23030   [003] d..1.  5061.832941: tracing_mark_write: pci_cfg_read i440FX 00:00.0 @0x0 -> 0x12378086",
                Some((
                    Ftrace,
                    Some(23030),
                    t("5061.832941"),
                    "pci_cfg_read".into(),
                    "i440FX 00:00.0 @0x0 -> 0x12378086".into(),
                )),
            ),
            (
                "       CPU 0/KVM-4242 [001] ..... 12.5: tracing_mark_write: kvm_run_exit ",
                Some((
                    Ftrace,
                    Some(4242),
                    t("12.5"),
                    "kvm_run_exit".into(),
                    "".into(),
                )),
            ),
            (
                "Nov 26 08:09:29 myhost qemu-system-x86_64[1234]: ps2_read_data 0x55",
                Some((
                    Syslog,
                    Some(1234),
                    t("Nov 26 08:09:29"),
                    "ps2_read_data".into(),
                    "0x55".into(),
                )),
            ),
            (
                "bmdma_reset ",
                Some((Bare, None, None, "bmdma_reset".into(), "".into())),
            ),
            (
                "kvm_cpu_exec",
                Some((Bare, None, None, "kvm_cpu_exec".into(), "".into())),
            ),
            ("qemu-system-x86_64: -d foo: bad", None),
            (
                "2025-07-21T18:43:28.089797Z qemu-system-x86_64: warning",
                None,
            ),
            ("# tracer: nop", None),
            ("   12.5: something", None),
            ("", None),
            ("9@: x", None),
            ("9@1.:x y", None),
            ("0x00: 27 80", None),
        ];
        for (line, want) in cases {
            assert_eq!(&shape(line), want, "line {line:?}");
        }
    }

    #[test]
    fn timestamps_to_nanos() {
        let p = |kind, t: &'static str| {
            Prefix {
                kind,
                tid: None,
                time: Some(t.as_bytes()),
            }
            .time_nanos()
        };
        assert_eq!(
            p(PrefixKind::TidTime, "1795674347.582949"),
            Some(1_795_674_347_582_949_000)
        );
        assert_eq!(
            p(PrefixKind::Iso, "1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(
            p(PrefixKind::Iso, "2025-07-21T18:43:05Z"),
            Some(1_753_123_385_000_000_000)
        );
        assert_eq!(p(PrefixKind::Stap, "42"), Some(42));
        assert_eq!(p(PrefixKind::TidTime, "99999999999999999999999.1"), None);
    }

    /// The byte-at-a-time recogniser of `TID@…` prefixes that the word-wise
    /// one replaced, kept as the oracle.
    fn bytewise_tid_prefixed(line: &[u8]) -> Option<Shape<'_>> {
        let digit_count = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
        let bytewise_split = |s: &[u8]| -> Option<(usize, usize)> {
            let first = *s.first()?;
            if !(first.is_ascii_alphabetic() || first == b'_') {
                return None;
            }
            let n = s
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            match s.get(n) {
                None => Some((n, n)),
                Some(b' ') => Some((n, n + 1)),
                Some(_) => None,
            }
        };
        let n = digit_count(line);
        if line.get(n) != Some(&b'@') {
            return None;
        }
        let tid = parse_u64(&line[..n]);
        let rest = &line[n + 1..];
        let s = digit_count(rest);
        if s == 0 {
            return None;
        }
        let (kind, time_end, name_start) = match rest.get(s) {
            Some(b'.') => {
                let f = digit_count(&rest[s + 1..]);
                let end = s + 1 + f;
                if f == 0 || rest.get(end) != Some(&b':') {
                    return None;
                }
                (PrefixKind::TidTime, end, end + 1)
            }
            Some(b' ') => (PrefixKind::Stap, s, s + 1),
            _ => return None,
        };
        let tail = &rest[name_start..];
        let (name_len, message_start) = bytewise_split(tail)?;
        Some(Shape {
            prefix: Prefix {
                kind,
                tid,
                time: Some(&rest[..time_end]),
            },
            name: &tail[..name_len],
            message: &tail[message_start..],
        })
    }

    #[test]
    fn tid_prefixes_at_the_edges() {
        for line in [
            &b"1@2.3:a"[..],
            b"1@2.3:a ",
            b"1@2.3:a_b9 x",
            b"123456789012345678@1.2:ev x",
            b"1234567890123456789@1.2:ev x",
            b"12345678901234567890@1.2:ev x",
            b"18446744073709551615@1.2:ev x",
            b"18446744073709551616@1.2:ev x",
            b"123456789012345678901@1.2:ev x",
            b"00000000000000000000000001@1.2:ev x",
            b"39283@1767988001.186451:pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086",
            b"39283@1767988001.186451:pci_cfg_read",
            b"39283@1767988001.186451:pci-cfg_read x",
            b"39283@1767988001.186451:9ci_cfg_read x",
            b"39283@1767988001.:ev x",
            b"39283@1767988001.186451ev x",
            b"39283@17679880011234567890123 ev x",
            b"39283@17679880011234567890123 ev",
            b"39283@ ev",
            b"39283",
            b"3@",
        ] {
            let want = bytewise_tid_prefixed(line);
            assert_eq!(
                tid_prefixed(line),
                want,
                "{:?}",
                line.escape_ascii().to_string()
            );
        }
        assert_eq!(
            tid_prefixed(b"18446744073709551615@1.2:ev x").and_then(|s| s.prefix.tid),
            Some(u64::MAX)
        );
    }

    proptest::proptest! {
        #[test]
        fn tid_prefixes_like_the_bytewise_parser(
            head in proptest::collection::vec(proptest::sample::select(&b"095"[..]), 0..24),
            body in crate::test_support::bytes_among(b"@.: _17aQ/", 0..60),
            shape in 0u8..3,
        ) {
            // Most cases get a well-formed prefix start so that the later
            // parts are reached; the body is arbitrary bytes.
            let mut line = head.clone();
            match shape {
                0 => line.extend_from_slice(b"@1767988001.186451:"),
                1 => line.extend_from_slice(b"@1767988001186451123 "),
                _ => {}
            }
            line.extend_from_slice(&body);
            proptest::prop_assert_eq!(tid_prefixed(&line), bytewise_tid_prefixed(&line));
            if let Some(shape) = recognize(&line) {
                proptest::prop_assert!(shape.name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_'));
            }
        }
    }

    #[test]
    fn non_utf8_and_nul_do_not_confuse_it() {
        assert_eq!(recognize(b"\xff\xfe name"), None);
        let s = recognize(b"ev_x \xff\x00 data").unwrap();
        assert_eq!(s.name, b"ev_x");
        assert_eq!(s.message, b"\xff\x00 data");
    }
}
