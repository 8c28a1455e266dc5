//! Byte-class scans eight bytes at a time on a plain `u64` ("SIMD within a
//! register"), for the short runs of the per-line hot path: the digits of a
//! `TID@SEC.USEC:` prefix, the identifier of an event name, the newlines
//! of the few lines skipped between two kept ones. A vectorised library call costs more in set-up
//! than these runs of a few dozen bytes take to scan.
//!
//! Every mask here is exact: each byte is tested on its own (no carry or
//! borrow crosses from one byte into the next), and a byte's verdict is
//! bit 7 of that byte in the mask. Words are loaded little-endian, so the
//! first byte of the slice is the lowest byte of the word.

/// Bit 7 of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;
/// Bits 0 to 6 of every byte.
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// `byte` in every byte of a word.
const fn splat(byte: u8) -> u64 {
    u64::from_le_bytes([byte; 8])
}

/// The eight bytes of `s` from `at` as a little-endian word (the caller
/// checks that they exist).
#[inline(always)]
fn word_at(s: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Bit 7 set in each byte of `word` that is an ASCII byte in `LO..=HI`
/// (both below 0x80).
#[inline(always)]
fn in_range<const LO: u8, const HI: u8>(word: u64) -> u64 {
    let low = word & LOW7;
    // (0x80 | b) - LO keeps bit 7 exactly when b >= LO; it cannot borrow.
    let at_least_lo = (low | HIGH).wrapping_sub(splat(LO));
    // b + (0x7f - HI) reaches bit 7 exactly when b > HI; it cannot carry.
    let above_hi = low.wrapping_add(splat(0x7f - HI));
    at_least_lo & !above_hi & !word & HIGH
}

/// Bit 7 set in each byte of `word` that equals `byte`.
#[inline(always)]
fn equal_to(word: u64, byte: u8) -> u64 {
    let diff = word ^ splat(byte);
    // A byte of `diff` is zero exactly when neither its low seven bits
    // (added to 0x7f) nor its own bit 7 reach bit 7.
    !(((diff & LOW7).wrapping_add(LOW7)) | diff) & HIGH
}

/// Bit 7 set in each byte of `word` that is an ASCII digit.
#[inline(always)]
fn digit_mask(word: u64) -> u64 {
    in_range::<b'0', b'9'>(word)
}

/// Bit 7 set in each byte of `word` that may be part of an identifier
/// (`[A-Za-z0-9_]`).
#[inline(always)]
fn ident_mask(word: u64) -> u64 {
    // Setting bit 5 folds upper-case letters onto lower-case ones.
    digit_mask(word) | in_range::<b'a', b'z'>(word | splat(0x20)) | equal_to(word, b'_')
}

/// The index (0 to 7) of the first byte whose bit 7 is set in a non-zero mask.
#[inline(always)]
fn first_marked(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// The length of the run of bytes at the start of `s` that `class` marks
/// (eight at a time) and `byte_class` accepts (one at a time, for the last
/// few bytes). Both must agree.
#[inline(always)]
fn run_len(s: &[u8], class: impl Fn(u64) -> u64, byte_class: impl Fn(u8) -> bool) -> usize {
    let mut i = 0;
    while i + 8 <= s.len() {
        let outside = !class(word_at(s, i)) & HIGH;
        if outside != 0 {
            return i + first_marked(outside);
        }
        i += 8;
    }
    while i < s.len() && byte_class(s[i]) {
        i += 1;
    }
    i
}

/// The number of ASCII digits at the start of `s`.
#[inline]
pub(crate) fn digit_run(s: &[u8]) -> usize {
    run_len(s, digit_mask, |b| b.is_ascii_digit())
}

/// The number of identifier bytes (`[A-Za-z0-9_]`) at the start of `s`.
#[inline]
pub(crate) fn ident_run(s: &[u8]) -> usize {
    run_len(s, ident_mask, |b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The number of newlines in `s` (meant for short stretches: each byte
/// lane of the running sum must stay below 256, so at most 2040 bytes).
#[inline]
pub(crate) fn count_newlines(s: &[u8]) -> u64 {
    debug_assert!(s.len() <= 255 * 8);
    // One per newline in each byte lane, summed across lanes at the end.
    let mut lanes = 0u64;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(w);
        lanes += equal_to(u64::from_le_bytes(bytes), b'\n') >> 7;
    }
    let tail = words.remainder();
    if !tail.is_empty() && s.len() >= 8 {
        // The last eight bytes again, minus the lanes already counted.
        let seen = 8 - tail.len();
        lanes += (equal_to(word_at(s, s.len() - 8), b'\n') >> 7) >> (8 * seen);
    } else {
        for &b in tail {
            lanes += u64::from(b == b'\n');
        }
    }
    // Pairs of byte lanes into four 16-bit lanes (no lane overflows), then
    // all four summed into the top 16 bits.
    let pairs = (lanes & 0x00ff_00ff_00ff_00ff) + ((lanes >> 8) & 0x00ff_00ff_00ff_00ff);
    pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytewise_digits(s: &[u8]) -> usize {
        s.iter().take_while(|b| b.is_ascii_digit()).count()
    }

    fn bytewise_ident(s: &[u8]) -> usize {
        s.iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count()
    }

    fn bytewise_newlines(s: &[u8]) -> u64 {
        s.iter().filter(|&&b| b == b'\n').count() as u64
    }

    #[test]
    fn every_byte_value_in_every_lane() {
        for lane in 0..8 {
            for b in 0..=255u8 {
                let mut bytes = [b'7'; 8];
                bytes[lane] = b;
                let word = u64::from_le_bytes(bytes);
                let bit = 0x80u64 << (8 * lane);
                let expect = |yes: bool| if yes { bit } else { 0 };
                assert_eq!(digit_mask(word) & bit, expect(b.is_ascii_digit()), "{b}");
                assert_eq!(
                    ident_mask(word) & bit,
                    expect(b.is_ascii_alphanumeric() || b == b'_'),
                    "{b}"
                );
                assert_eq!(equal_to(word, b'\n') & bit, expect(b == b'\n'), "{b}");
            }
        }
    }

    #[test]
    fn runs_of_every_length_up_to_line_ends() {
        for len in 0..40 {
            for stop in 0..=len {
                let mut s = vec![b'5'; len];
                if stop < len {
                    s[stop] = b':';
                }
                assert_eq!(digit_run(&s), stop);
                s.fill(b'x');
                if stop < len {
                    s[stop] = b' ';
                }
                assert_eq!(ident_run(&s), stop);
            }
        }
    }

    #[test]
    fn newlines_in_short_stretches() {
        assert_eq!(count_newlines(b""), 0);
        let all = [b'\n'; 255 * 8];
        for len in 0..all.len() {
            assert_eq!(count_newlines(&all[..len]), len as u64);
        }
        let s = b"\n\n\n\n\n\n\n\n\n\nabc\n";
        for from in 0..s.len() {
            assert_eq!(count_newlines(&s[from..]), bytewise_newlines(&s[from..]));
        }
    }

    proptest::proptest! {
        #[test]
        fn scans_agree_with_bytewise_ones(
            s in crate::test_support::bytes_among(b"\n_09aZ@`/:\x7f\xb0", 0..80),
            from in 0usize..80,
        ) {
            let s = &s[from.min(s.len())..];
            proptest::prop_assert_eq!(digit_run(s), bytewise_digits(s));
            proptest::prop_assert_eq!(ident_run(s), bytewise_ident(s));
            proptest::prop_assert_eq!(count_newlines(s), bytewise_newlines(s));
        }
    }
}
