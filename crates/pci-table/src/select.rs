//! Device selection with lspci's syntax: `-s [[[domain]:][bus]:][slot][.[func]]`
//! and `-d [vendor]:[device][:class[:prog-if]]`, all in hex, each part
//! optional or `*` (any).

use qtrace_core::Error;

/// `-s`: which bus/slot/function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotFilter {
    domain: Option<u32>,
    bus: Option<u8>,
    slot: Option<u8>,
    func: Option<u8>,
}

/// `-d`: which vendor/device/class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdFilter {
    vendor: Option<u16>,
    device: Option<u16>,
    class: Option<u16>,
    prog_if: Option<u8>,
}

fn part<T: TryFrom<u32>>(s: &str, max: u32, what: &str, flag: &str) -> Result<Option<T>, Error> {
    if s.is_empty() || s == "*" {
        return Ok(None);
    }
    let bad = || {
        Error::usage(format!(
            "{flag} '{s}': invalid {what} (hex, at most 0x{max:x})"
        ))
    };
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) || s.len() > 8 {
        return Err(bad());
    }
    let v = u32::from_str_radix(s, 16).map_err(|_| bad())?;
    if v > max {
        return Err(bad());
    }
    T::try_from(v).map(Some).map_err(|_| bad())
}

impl SlotFilter {
    /// Parses lspci's `-s` argument.
    pub fn parse(s: &str) -> Result<SlotFilter, Error> {
        let mut f = SlotFilter::default();
        let colons: Vec<&str> = s.split(':').collect();
        let rest = match colons.as_slice() {
            [rest] => *rest,
            [bus, rest] => {
                f.bus = part(bus, 0xff, "bus number", "-s")?;
                rest
            }
            [dom, bus, rest] => {
                f.domain = part(dom, 0xffff_ffff, "domain", "-s")?;
                f.bus = part(bus, 0xff, "bus number", "-s")?;
                rest
            }
            _ => return Err(Error::usage(format!("-s '{s}': too many ':'"))),
        };
        let (slot, func) = match rest.split_once('.') {
            Some((s, fun)) => (s, Some(fun)),
            None => (rest, None),
        };
        f.slot = part(slot, 0x1f, "slot number", "-s")?;
        if let Some(fun) = func {
            f.func = part(fun, 7, "function number", "-s")?;
        }
        Ok(f)
    }

    /// True when a function at `bus:slot.func` (domain 0) is selected.
    pub fn matches(&self, bus: u8, slot: u8, func: u8) -> bool {
        self.domain.is_none_or(|d| d == 0)
            && self.bus.is_none_or(|b| b == bus)
            && self.slot.is_none_or(|s| s == slot)
            && self.func.is_none_or(|f| f == func)
    }
}

impl IdFilter {
    /// Parses lspci's `-d` argument.
    pub fn parse(s: &str) -> Result<IdFilter, Error> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() < 2 || parts.len() > 4 {
            return Err(Error::usage(format!(
                "-d '{s}': expected [vendor]:[device][:class[:prog-if]]"
            )));
        }
        Ok(IdFilter {
            vendor: part(parts[0], 0xffff, "vendor id", "-d")?,
            device: part(parts[1], 0xffff, "device id", "-d")?,
            class: match parts.get(2) {
                Some(c) => part(c, 0xffff, "class", "-d")?,
                None => None,
            },
            prog_if: match parts.get(3) {
                Some(p) => part(p, 0xff, "programming interface", "-d")?,
                None => None,
            },
        })
    }

    /// True when a function with these ids is selected; an id the trace
    /// never showed matches only a wildcard.
    pub fn matches(&self, vendor: Option<u16>, device: Option<u16>, class: Option<u32>) -> bool {
        let eq = |want: Option<u32>, got: Option<u32>| want.is_none() || want == got;
        eq(self.vendor.map(u32::from), vendor.map(u32::from))
            && eq(self.device.map(u32::from), device.map(u32::from))
            && eq(self.class.map(u32::from), class.map(|c| c >> 8))
            && eq(self.prog_if.map(u32::from), class.map(|c| c & 0xff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots() {
        let f = SlotFilter::parse("1f.2").unwrap();
        assert!(f.matches(0, 0x1f, 2) && f.matches(3, 0x1f, 2) && !f.matches(0, 0x1f, 3));
        let f = SlotFilter::parse("03:").unwrap();
        assert!(f.matches(3, 1, 0) && !f.matches(0, 1, 0));
        let f = SlotFilter::parse(".3").unwrap();
        assert!(f.matches(0, 1, 3) && !f.matches(0, 1, 0));
        let f = SlotFilter::parse("0000:00:1c").unwrap();
        assert!(f.matches(0, 0x1c, 1));
        let f = SlotFilter::parse("1:*:*").unwrap();
        assert!(!f.matches(0, 0, 0));
        assert_eq!(SlotFilter::parse("").unwrap(), SlotFilter::default());
        assert!(SlotFilter::parse("20").is_err());
        assert!(SlotFilter::parse("1f.8").is_err());
        assert!(SlotFilter::parse("zz:1").is_err());
        assert!(SlotFilter::parse("1:2:3:4").is_err());
    }

    #[test]
    fn ids() {
        let f = IdFilter::parse("8086:").unwrap();
        assert!(f.matches(Some(0x8086), Some(1), None));
        assert!(!f.matches(None, Some(1), None));
        let f = IdFilter::parse(":100e").unwrap();
        assert!(f.matches(Some(0x8086), Some(0x100e), None));
        let f = IdFilter::parse("::0106").unwrap();
        assert!(f.matches(None, None, Some(0x010601)));
        assert!(!f.matches(None, None, Some(0x010000)));
        let f = IdFilter::parse("::0106:01").unwrap();
        assert!(f.matches(None, None, Some(0x010601)));
        assert!(IdFilter::parse("8086").is_err());
        assert!(IdFilter::parse("10000:").is_err());
    }
}
