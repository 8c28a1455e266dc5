//! One function's configuration space as far as the trace revealed it.
//!
//! Every byte carries its value and how we know it: from a read, from a
//! write, *inferred* (the byte lies in the part of an access whose width the
//! trace does not say, so it is zero only if the access was that wide), or
//! not at all. Invariants: a byte's value is meaningful only when it is not
//! [`Know::Unknown`]; an inferred byte never overwrites a read or written one
//! (the narrower reading of the access leaves the earlier value standing).
//!
//! Storage starts at the 256 bytes of conventional config space and grows to
//! 4096 only when an access beyond 0xff is seen, so a table of many
//! functions stays small.

/// Conventional config space size.
pub const CONVENTIONAL: usize = 256;
/// PCI Express extended config space size.
pub const EXTENDED: usize = 4096;

/// How a byte's value is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Know {
    /// Never observed.
    #[default]
    Unknown,
    /// Zero if an access of ambiguous width was as wide as its alignment allows.
    Inferred,
    /// The last certain observation was a read.
    Read,
    /// The last certain observation was a write (the value the guest wrote, as
    /// the register would hold it where the register's behaviour is modelled).
    Written,
}

impl Know {
    /// Read or written: the value is known.
    pub fn is_certain(self) -> bool {
        matches!(self, Know::Read | Know::Written)
    }
}

/// The smallest and largest width (in bytes) an access can have had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Width {
    /// At least this many bytes (the value needs them).
    pub min: u8,
    /// At most this many bytes (the offset's alignment allows no more).
    pub max: u8,
}

impl Width {
    /// A width known exactly.
    pub fn exact(w: u8) -> Width {
        Width { min: w, max: w }
    }

    /// True when the width is known exactly.
    pub fn is_exact(self) -> bool {
        self.min == self.max
    }
}

/// The widths a config access at `offset` printing `value` can have had:
/// QEMU traces the value zero-extended to 32 bits and no length, so the value
/// gives a lower bound (1, 2 or 4 bytes; there are no 3-byte accesses) and
/// the alignment an upper bound. `None` when the value cannot come from an
/// access at that offset (wider than the alignment allows).
pub fn width_bounds(offset: u32, value: u32) -> Option<Width> {
    let max = match offset % 4 {
        0 => 4,
        2 => 2,
        _ => 1,
    };
    let min = if value > 0xffff {
        4
    } else if value > 0xff {
        2
    } else {
        1
    };
    (min <= max).then_some(Width { min, max })
}

/// Per-byte flags, packed with the [`Know`] state (low two bits) so that a
/// function costs 2 bytes per config byte.
const KNOW_MASK: u8 = 0b0011;
const EVER_READ: u8 = 0b0100;
const EVER_WRITTEN: u8 = 0b1000;

fn know_bits(k: Know) -> u8 {
    match k {
        Know::Unknown => 0,
        Know::Inferred => 1,
        Know::Read => 2,
        Know::Written => 3,
    }
}

fn bits_know(b: u8) -> Know {
    match b & KNOW_MASK {
        0 => Know::Unknown,
        1 => Know::Inferred,
        2 => Know::Read,
        _ => Know::Written,
    }
}

/// The bytes of one function's config space and how each is known.
#[derive(Debug, Clone, Default)]
pub struct Space {
    value: Vec<u8>,
    /// [`Know`] in the low bits, `EVER_*` flags above.
    meta: Vec<u8>,
}

impl Space {
    /// An empty (all unknown) conventional config space.
    pub fn new() -> Space {
        Space {
            value: vec![0; CONVENTIONAL],
            meta: vec![0; CONVENTIONAL],
        }
    }

    /// Size of the space held (256, or 4096 once an extended offset was seen).
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Always false (there is at least the conventional space).
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Makes room for bytes up to `end` (exclusive).
    #[inline]
    pub fn ensure(&mut self, end: usize) {
        if end > self.value.len() {
            self.grow(end);
        }
    }

    /// The rare part of [`ensure`](Self::ensure): an extended offset.
    #[cold]
    fn grow(&mut self, end: usize) {
        let n = EXTENDED.max(end);
        self.value.resize(n, 0);
        self.meta.resize(n, 0);
    }

    /// How byte `off` is known.
    pub fn know(&self, off: usize) -> Know {
        self.meta.get(off).map_or(Know::Unknown, |&m| bits_know(m))
    }

    /// The byte's value and how it is known (the value is 0 when unknown).
    pub fn raw(&self, off: usize) -> (u8, Know) {
        match self.value.get(off) {
            Some(&v) => (v, bits_know(self.meta[off])),
            None => (0, Know::Unknown),
        }
    }

    /// The byte, when read or written.
    pub fn byte(&self, off: usize) -> Option<u8> {
        let (v, k) = self.raw(off);
        k.is_certain().then_some(v)
    }

    /// A little-endian 16-bit value, when both bytes are read or written.
    pub fn u16(&self, off: usize) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte(off)?, self.byte(off + 1)?]))
    }

    /// A little-endian 32-bit value, when all four bytes are read or written.
    pub fn u32(&self, off: usize) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte(off)?,
            self.byte(off + 1)?,
            self.byte(off + 2)?,
            self.byte(off + 3)?,
        ]))
    }

    /// A little-endian field of `len` (1-4) bytes whose lowest byte is read
    /// or written and whose higher bytes are read, written or inferred: the
    /// guest reads a register from its start, so a zero high byte of an
    /// access of unknown width is taken as the register's. `None` otherwise.
    pub fn field(&self, off: usize, len: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..len {
            let (b, k) = self.raw(off + i);
            let ok = if i == 0 {
                k.is_certain()
            } else {
                k != Know::Unknown
            };
            if !ok {
                return None;
            }
            v |= u32::from(b) << (8 * i);
        }
        Some(v)
    }

    /// Records a certain observation of byte `off`.
    pub fn set(&mut self, off: usize, v: u8, know: Know) {
        self.ensure(off + 1);
        self.value[off] = v;
        self.meta[off] = (self.meta[off] & !KNOW_MASK) | know_bits(know);
    }

    /// Records that byte `off` is zero if an ambiguous access was wide: only
    /// fills bytes not known better.
    pub fn infer_zero(&mut self, off: usize) {
        self.ensure(off + 1);
        if !bits_know(self.meta[off]).is_certain() {
            self.value[off] = 0;
            self.meta[off] = (self.meta[off] & !KNOW_MASK) | know_bits(Know::Inferred);
        }
    }

    /// Marks byte `off` as accessed by the guest (read or write).
    pub fn touch(&mut self, off: usize, write: bool) {
        self.ensure(off + 1);
        self.meta[off] |= if write { EVER_WRITTEN } else { EVER_READ };
    }

    /// True when the guest ever read byte `off` (with certainty).
    pub fn ever_read(&self, off: usize) -> bool {
        self.meta.get(off).is_some_and(|t| t & EVER_READ != 0)
    }

    /// True when the guest ever wrote byte `off` (with certainty).
    pub fn ever_written(&self, off: usize) -> bool {
        self.meta.get(off).is_some_and(|t| t & EVER_WRITTEN != 0)
    }

    /// True when any byte at or above 0x100 is known.
    pub fn has_extended(&self) -> bool {
        self.meta
            .iter()
            .skip(CONVENTIONAL)
            .any(|m| m & KNOW_MASK != 0)
    }
}

/// Turns a sorted list of offsets into `0x10-0x13,0x20` style ranges.
pub fn ranges(offsets: impl IntoIterator<Item = usize>) -> String {
    let mut out = String::new();
    let mut run: Option<(usize, usize)> = None;
    let flush = |out: &mut String, (a, b): (usize, usize)| {
        if !out.is_empty() {
            out.push(',');
        }
        if a == b {
            out.push_str(&format!("0x{a:02x}"));
        } else {
            out.push_str(&format!("0x{a:02x}-0x{b:02x}"));
        }
    };
    for o in offsets {
        run = match run {
            Some((a, b)) if o == b + 1 => Some((a, o)),
            Some(r) => {
                flush(&mut out, r);
                Some((o, o))
            }
            None => Some((o, o)),
        };
    }
    if let Some(r) = run {
        flush(&mut out, r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_from_value_and_alignment() {
        assert_eq!(width_bounds(0, 0x8086), Some(Width { min: 2, max: 4 }));
        assert_eq!(width_bounds(0, 0x1237_8086), Some(Width::exact(4)));
        assert_eq!(width_bounds(2, 0x1237), Some(Width::exact(2)));
        assert_eq!(width_bounds(0x3d, 0x1), Some(Width::exact(1)));
        assert_eq!(width_bounds(0xe, 0x0), Some(Width { min: 1, max: 2 }));
        assert_eq!(width_bounds(0x3, 0x100), None);
        assert_eq!(width_bounds(0x2, 0x10000), None);
    }

    #[test]
    fn inferred_never_overrides_known() {
        let mut s = Space::new();
        s.set(2, 0xc0, Know::Read);
        s.infer_zero(2);
        s.infer_zero(3);
        assert_eq!(s.raw(2), (0xc0, Know::Read));
        assert_eq!(s.raw(3), (0, Know::Inferred));
        assert_eq!(s.byte(3), None);
        s.set(3, 0x29, Know::Read);
        assert_eq!(s.u16(2), Some(0x29c0));
        assert_eq!(s.u32(0), None);
    }

    #[test]
    fn grows_for_extended_offsets() {
        let mut s = Space::new();
        assert_eq!(s.len(), 256);
        assert!(!s.has_extended());
        s.set(0x100, 1, Know::Read);
        assert_eq!(s.len(), 4096);
        assert!(s.has_extended());
        assert_eq!(s.know(5000), Know::Unknown);
    }

    #[test]
    fn range_lists() {
        assert_eq!(
            ranges([0, 1, 2, 3, 8, 0x10, 0x11]),
            "0x00-0x03,0x08,0x10-0x11"
        );
        assert_eq!(ranges([]), "");
    }
}
