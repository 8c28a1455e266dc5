//! One PCI function rebuilt from the config accesses the guest made to it.
//!
//! Accesses are applied in trace order. Each one first gets a width: the
//! trace prints no length, so [`width_bounds`] gives a range from the value
//! and the offset's alignment, narrowed by what the registers are:
//!
//! 1. the value needs all the bytes the alignment allows: exact;
//! 2. an aligned access to a 32-bit-only register (BAR, expansion ROM, window
//!    halves, the extended capability header at 0x100) is 4 bytes;
//! 3. an access at the same offset as the one just before it, whose width was
//!    known, has that width (sizing read-backs, read-modify-write);
//! 4. a width that would make a known non-zero constant byte (ids, class,
//!    header type, interrupt pin) zero is ruled out.
//!
//! What is left ambiguous marks the extra bytes as *inferred* zero (see
//! [`crate::space`]). Writes then go through a small model of the registers
//! the specification fixes: read-only bytes keep their value, status bits
//! are write-one-to-clear, and a BAR holds `written & mask | flags` once its
//! mask is known. BAR sizing (an all-ones write, the read-back of the mask,
//! the restore) is recognised per register; the mask gives the size and the
//! probe never counts as the address. A BAR's type bits come from a read of
//! its own value (see [`TypeBits`]), never from a sizing read-back when such
//! a read exists: a BAR smaller than 16 bytes has writable bits 1-3, so its
//! read-back shows them set.

use crate::regs::{self, CapRef, Layout, WriteKind};
use crate::space::{EXTENDED, Know, Space, Width, width_bounds};

/// Direction of an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `pci_cfg_read`: the value the guest got.
    Read,
    /// `pci_cfg_write`: the value the guest wrote.
    Write,
}

/// What an access meant for BAR sizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An ordinary access.
    Plain,
    /// The all-ones write of a sizing handshake.
    Probe,
    /// The read-back of a probe: the register's mask.
    Sizing,
    /// The first write after a sizing read, putting the address back.
    Restore,
}

/// The outcome of applying one access.
#[derive(Debug, Clone, Copy)]
pub struct Applied {
    /// The width it was taken to have.
    pub width: Width,
    /// Its part in BAR sizing.
    pub role: Role,
    /// A read-only byte (ids, class, header type...) that this read found
    /// different from an earlier read: `(offset, before, now)`. A device
    /// replaced at the same address, or a damaged trace.
    pub changed: Option<(usize, u8, u8)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum SizeState {
    #[default]
    Idle,
    Probed,
    Sized,
}

/// Sizing bookkeeping for one dword register in 0x10..=0x38.
#[derive(Debug, Clone, Copy, Default)]
struct Sizing {
    state: SizeState,
    /// The read-back of the last probe.
    mask: Option<u32>,
    /// The register's value before the probe (its address while sizing).
    before: Option<u32>,
    /// The low nibble of the first read of the register made while it was
    /// not being sized: a BAR's type bits as the register really holds them.
    value_bits: Option<u32>,
}

const SIZING_FIRST: usize = 0x10;
const SIZING_SLOTS: usize = 11;

#[derive(Debug, Clone, Copy)]
struct Last {
    op: Op,
    offset: usize,
    width: Width,
}

/// The role of a dword in the BAR area under a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Bar,
    Upper,
    Rom,
}

/// A base address register (or the expansion ROM) as reconstructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// 0-5 for BARs, 6 for the expansion ROM (QEMU's numbering).
    pub index: u8,
    /// Offset of its (low) register.
    pub offset: usize,
    /// What it decodes.
    pub kind: BarKind,
    /// Its final address (never the sizing probe), when known.
    pub address: Option<u64>,
    /// Its size from the guest's sizing handshake, when the guest sized it.
    pub size: Option<u64>,
    /// For the expansion ROM: the enable bit.
    pub enabled: Option<bool>,
    /// True when no read of the register's own value was traced, so its type
    /// comes from the sizing read-back (right for every BAR whose type bits
    /// are read-only, as the specification has them; wrong for a BAR
    /// smaller than 16 bytes, whose bits 1-3 are address bits).
    pub type_from_sizing: bool,
}

/// The type bits of a BAR register and what they make of its sizing
/// read-back.
///
/// Bit 0 tells I/O from memory; for memory, bits 1-2 are the type (0 32-bit,
/// 1 below 1 MiB, 2 64-bit) and bit 3 is prefetchable; for I/O, bit 1 is
/// reserved. These bits are read-only in a BAR the specification describes,
/// but QEMU's write mask of a BAR is simply the complement of its size less
/// one, so a 2-byte memory BAR (`pvpanic-pci`) reads back `0xfffffffe` after
/// the all-ones probe. The type bits therefore come from a read of the
/// register's value made when the guest had not just written all-ones; a
/// low bit that such a read has clear and the read-back has set is an
/// address bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeBits {
    /// The register's low bits as read: bits 0-1 of an I/O BAR, bits 0-3
    /// of a memory BAR.
    pub bits: u32,
    /// True when no such read exists and the bits are the sizing
    /// read-back's.
    pub from_sizing: bool,
}

impl TypeBits {
    /// The type bits from `value` (a read of the register that was not a
    /// sizing read-back), else from the sizing read-back `readback`; `None`
    /// when there is neither (or the read-back is 0: no BAR).
    pub fn of(value: Option<u32>, readback: Option<u32>) -> Option<TypeBits> {
        let (v, from_sizing) = match (value, readback) {
            (Some(v), _) => (v, false),
            (None, Some(m)) if m != 0 => (m, true),
            _ => return None,
        };
        let low = if v & 1 == 1 { 0x3 } else { 0xf };
        Some(TypeBits {
            bits: v & low,
            from_sizing,
        })
    }

    /// The bits that are type bits rather than address bits in a BAR of
    /// the specification: `0x3` for I/O, `0xf` for memory.
    pub fn low_mask(self) -> u32 {
        if self.is_io() { 0x3 } else { 0xf }
    }

    /// Decodes I/O ports.
    pub fn is_io(self) -> bool {
        self.bits & 1 == 1
    }

    /// A 64-bit memory BAR (type 2), the low half of a register pair.
    pub fn is_mem64(self) -> bool {
        !self.is_io() && (self.bits >> 1) & 3 == 2
    }

    /// A memory BAR of the legacy below-1M type (type 1).
    pub fn is_below_1m(self) -> bool {
        !self.is_io() && (self.bits >> 1) & 3 == 1
    }

    /// A prefetchable memory BAR.
    pub fn is_prefetchable(self) -> bool {
        !self.is_io() && self.bits & 8 != 0
    }

    /// The address bits of a sizing read-back: the bits above the type
    /// bits, plus each type-bit position the read-back has set where the
    /// register's own value had it clear (it took the probe's one: writable).
    pub fn address_mask(self, readback: u32) -> u32 {
        let low = self.low_mask();
        (readback & !low) | (readback & !self.bits & low)
    }

    /// The address in the register value `value`: its read-only type bits
    /// cleared (with the sizing read-back `readback`, when there is one, to
    /// tell which low bits are writable).
    pub fn address(self, value: u32, readback: Option<u32>) -> u32 {
        let writable = readback.map_or(0, |m| self.address_mask(m));
        value & !(self.low_mask() & !writable)
    }
}

/// What a BAR decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// I/O ports.
    Io,
    /// Memory: address bits (32, 64, or 20 for the legacy below-1M type) and prefetchability.
    Mem {
        /// 32, 64 or 20.
        bits: u8,
        /// Prefetchable.
        prefetch: bool,
    },
    /// The expansion ROM.
    Rom,
}

impl BarKind {
    /// The name used in CSV and JSON: `io`, `mem32`, `mem64`, `mem1m`
    /// (each memory kind with `-pref` when prefetchable), `rom`.
    pub fn as_str(self) -> &'static str {
        match self {
            BarKind::Io => "io",
            BarKind::Rom => "rom",
            BarKind::Mem { bits, prefetch } => match (bits, prefetch) {
                (64, false) => "mem64",
                (64, true) => "mem64-pref",
                (20, false) => "mem1m",
                (20, true) => "mem1m-pref",
                (_, false) => "mem32",
                (_, true) => "mem32-pref",
            },
        }
    }
}

/// A function's subsystem ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsystem {
    /// Vendor and device id.
    Known(u16, u16),
    /// The function has none (a bridge whose capability list, fully read,
    /// has no subsystem capability).
    Absent,
    /// Not observed.
    Unknown,
}

/// The capability lists as far as the guest read them.
#[derive(Debug, Clone, Default)]
pub struct CapWalk {
    /// Capabilities in list order (standard, then extended).
    pub caps: Vec<CapRef>,
    /// Where the standard list could not be followed (bytes never observed).
    pub stopped: Option<usize>,
    /// Where the extended list could not be followed.
    pub ext_stopped: Option<usize>,
}

impl CapWalk {
    /// The first capability with this (standard) id.
    pub fn find(&self, id: u16) -> Option<&CapRef> {
        self.caps.iter().find(|c| !c.extended && c.id == id)
    }
}

/// Counts of bytes by how they are known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Bytes whose last certain observation was a read.
    pub read: usize,
    /// Bytes whose last certain observation was a write.
    pub written: usize,
    /// Bytes only inferred (zero if an access of unknown width was wide).
    pub inferred: usize,
    /// Bytes never observed.
    pub unknown: usize,
}

impl Counts {
    /// Read or written.
    pub fn known(&self) -> usize {
        self.read + self.written
    }
    /// All bytes counted.
    pub fn total(&self) -> usize {
        self.read + self.written + self.inferred + self.unknown
    }
}

/// One PCI function of the table.
#[derive(Debug, Clone)]
pub struct Function {
    /// Bus number (0 when the trace does not print one: QEMU ≤ 6.2).
    pub bus: u8,
    /// Device (slot) number.
    pub slot: u8,
    /// Function number.
    pub func: u8,
    /// False when the trace format has no bus number (bus 0 assumed).
    pub bus_in_trace: bool,
    /// QEMU's device type name (`dev` in the trace).
    pub name: Box<[u8]>,
    /// Its config space as observed.
    pub space: Space,
    /// Reads applied.
    pub reads: u64,
    /// Writes applied.
    pub writes: u64,
    /// Line number of the first access.
    pub first_line: u64,
    /// Line number of the last access.
    pub last_line: u64,
    /// Order of first appearance in the trace.
    pub seen: usize,
    sizing: [Sizing; SIZING_SLOTS],
    last: Option<Last>,
}

impl Function {
    /// A function first seen at `line`.
    pub fn new(bus: u8, slot: u8, func: u8, bus_in_trace: bool, name: &[u8], seen: usize) -> Self {
        Function {
            bus,
            slot,
            func,
            bus_in_trace,
            name: name.into(),
            space: Space::new(),
            reads: 0,
            writes: 0,
            first_line: 0,
            last_line: 0,
            seen,
            sizing: [Sizing::default(); SIZING_SLOTS],
            last: None,
        }
    }

    /// `bb:dd.f` in hex, as lspci prints it.
    pub fn bdf(&self) -> String {
        format!("{:02x}:{:02x}.{:x}", self.bus, self.slot, self.func)
    }

    /// Applies one access. An `Err` says why the access cannot be real (it
    /// is then not applied).
    pub fn access(&mut self, op: Op, offset: u64, value: u64) -> Result<Applied, String> {
        if offset >= EXTENDED as u64 {
            return Err(format!(
                "offset 0x{offset:x} is past the end of config space (0xfff); access ignored"
            ));
        }
        let Ok(value) = u32::try_from(value) else {
            return Err(format!(
                "value 0x{value:x} is wider than 32 bits, which no config access can be; access ignored"
            ));
        };
        let off = offset as usize;
        let Some(bounds) = width_bounds(offset as u32, value) else {
            return Err(format!(
                "value 0x{value:x} needs more bytes than an access at offset 0x{off:x} can have; access ignored"
            ));
        };
        let layout = self.layout();
        let width = self.resolve_width(op, off, bounds, layout);
        let role = self.sizing_role(op, off, value, width);
        if op == Op::Read {
            self.note_value_bits(off, value);
        }
        let mut changed = None;
        match op {
            Op::Read => {
                self.reads += 1;
                for i in 0..usize::from(width.min) {
                    let (o, b) = (off + i, (value >> (8 * i)) as u8);
                    if let (old, Know::Read) = self.space.raw(o)
                        && old != b
                        && regs::is_constant(layout, o)
                        && changed.is_none()
                    {
                        changed = Some((o, old, b));
                    }
                    self.space.set(o, b, Know::Read);
                    self.space.touch(o, false);
                }
                for i in usize::from(width.min)..usize::from(width.max) {
                    self.space.infer_zero(off + i);
                }
            }
            Op::Write => {
                self.writes += 1;
                self.apply_write(off, value, width, layout);
            }
        }
        self.last = Some(Last {
            op,
            offset: off,
            width,
        });
        Ok(Applied {
            width,
            role,
            changed,
        })
    }

    fn resolve_width(&self, op: Op, off: usize, w: Width, layout: Option<Layout>) -> Width {
        if w.is_exact() {
            return w;
        }
        // A width that would zero a known non-zero constant byte is ruled out.
        let mut max = w.max;
        while max > w.min {
            let start = off + usize::from(w.min);
            let end = off + usize::from(max);
            let contradicts = (start..end).any(|o| {
                regs::is_constant(layout, o) && self.space.byte(o).is_some_and(|b| b != 0)
            });
            if !contradicts {
                break;
            }
            max = if max == 4 { 2 } else { 1 }.max(w.min);
        }
        let w = Width { min: w.min, max };
        if w.is_exact() {
            return w;
        }
        if off % 4 == 0 && w.max == 4 && regs::is_dword_register(layout, off) {
            return Width::exact(4);
        }
        if let Some(l) = self.last {
            // Same register as the access just before: a sizing read-back or
            // a read-modify-write keeps the width.
            if l.offset == off && l.width.is_exact() && (w.min..=w.max).contains(&l.width.min) {
                return l.width;
            }
            // A run of dword reads (lspci, sysfs `config`) goes on as dwords.
            if op == Op::Read
                && l.op == Op::Read
                && l.offset + 4 == off
                && l.width == Width::exact(4)
                && w.max == 4
            {
                return Width::exact(4);
            }
        }
        w
    }

    fn sizing_role(&mut self, op: Op, off: usize, value: u32, width: Width) -> Role {
        if off < SIZING_FIRST || off % 4 != 0 || off >= SIZING_FIRST + 4 * SIZING_SLOTS {
            return Role::Plain;
        }
        let before = self.space.u32(off);
        let s = &mut self.sizing[(off - SIZING_FIRST) / 4];
        let dword = width == Width::exact(4);
        match op {
            Op::Write if dword && value & 0xffff_f800 == 0xffff_f800 => {
                if s.state == SizeState::Idle {
                    s.before = before;
                }
                s.state = SizeState::Probed;
                Role::Probe
            }
            Op::Write => {
                let r = if s.state == SizeState::Sized {
                    Role::Restore
                } else {
                    Role::Plain
                };
                s.state = SizeState::Idle;
                r
            }
            Op::Read if dword && s.state == SizeState::Probed => {
                s.mask = Some(value);
                s.state = SizeState::Sized;
                Role::Sizing
            }
            Op::Read => Role::Plain,
        }
    }

    /// Keeps the low nibble of a read of a BAR-area register that was not a
    /// sizing read-back (the register was not just written all-ones).
    fn note_value_bits(&mut self, off: usize, value: u32) {
        if off < SIZING_FIRST || off % 4 != 0 || off >= SIZING_FIRST + 4 * SIZING_SLOTS {
            return;
        }
        let s = &mut self.sizing[(off - SIZING_FIRST) / 4];
        if s.state == SizeState::Idle && s.value_bits.is_none() {
            s.value_bits = Some(value & 0xf);
        }
    }

    fn apply_write(&mut self, off: usize, value: u32, width: Width, layout: Option<Layout>) {
        if width == Width::exact(4)
            && let Some(layout) = layout
            && let Some(v) = self.bar_write_value(layout, off, value)
        {
            for i in 0..4 {
                self.space.set(off + i, (v >> (8 * i)) as u8, Know::Written);
                self.space.touch(off + i, true);
            }
            return;
        }
        for i in 0..usize::from(width.max) {
            let o = off + i;
            let certain = i < usize::from(width.min);
            let b = (value >> (8 * i)) as u8;
            if certain {
                self.space.touch(o, true);
            }
            match regs::write_kind(layout, o) {
                WriteKind::ReadOnly => {}
                WriteKind::OneToClear => {
                    let (cur, know) = self.space.raw(o);
                    if certain && know.is_certain() {
                        self.space.set(o, cur & !b, know);
                    }
                }
                WriteKind::Normal if certain => self.space.set(o, b, Know::Written),
                WriteKind::Normal => self.space.infer_zero(o),
            }
        }
    }

    /// What a BAR-area register holds after `w` is written to it, when the
    /// register is a BAR, its upper half or the ROM under `layout`.
    fn bar_write_value(&self, layout: Layout, off: usize, w: u32) -> Option<u32> {
        let slot = self.slot_role(layout, off)?;
        let mask = self.sizing[(off - SIZING_FIRST) / 4].mask;
        Some(match slot {
            Slot::Rom => match mask {
                Some(0) => 0,
                Some(m) => (w & m & 0xffff_f800) | (w & 1),
                None => w & 0xffff_f801,
            },
            Slot::Upper => mask.map_or(w, |m| w & m),
            Slot::Bar => match (mask, self.type_bits((off - SIZING_FIRST) / 4, None)) {
                (Some(0), _) => 0,
                (Some(m), Some(t)) => (w & t.address_mask(m)) | t.bits,
                (None, Some(t)) => (w & !t.low_mask()) | t.bits,
                (_, None) => w,
            },
        })
    }

    /// The type bits of the BAR register `k`: from a read of its value
    /// (`fallback`, else the first read that was not a sizing read-back),
    /// else from its sizing read-back.
    fn type_bits(&self, k: usize, fallback: Option<u32>) -> Option<TypeBits> {
        let s = self.sizing.get(k)?;
        TypeBits::of(s.value_bits.or(fallback), s.mask)
    }

    fn slot_role(&self, layout: Layout, off: usize) -> Option<Slot> {
        if layout.rom_offset() == Some(off) {
            return Some(Slot::Rom);
        }
        let n = layout.bar_count();
        let mut k = 0;
        while k < n {
            let o = SIZING_FIRST + 4 * k;
            if o == off {
                return Some(Slot::Bar);
            }
            let is64 = self.type_bits(k, None).is_some_and(TypeBits::is_mem64);
            if is64 && k + 1 < n {
                if o + 4 == off {
                    return Some(Slot::Upper);
                }
                k += 2;
            } else {
                k += 1;
            }
        }
        None
    }

    /// The header type byte, when known.
    pub fn header_type(&self) -> Option<u8> {
        self.space.byte(0x0e)
    }

    /// The header layout, when the header type is known (and valid).
    pub fn layout(&self) -> Option<Layout> {
        self.header_type().and_then(Layout::from_header_type)
    }

    /// Vendor id.
    pub fn vendor(&self) -> Option<u16> {
        self.space.field(0, 2).map(|v| v as u16)
    }

    /// Device id.
    pub fn device(&self) -> Option<u16> {
        self.space.field(2, 2).map(|v| v as u16)
    }

    /// The 24-bit class code (class, subclass, programming interface).
    pub fn class(&self) -> Option<u32> {
        self.space.field(0x09, 3)
    }

    /// Class and subclass (what lspci names).
    pub fn class16(&self) -> Option<u16> {
        self.space.field(0x0a, 2).map(|v| v as u16)
    }

    /// Revision id.
    pub fn revision(&self) -> Option<u8> {
        self.space.byte(0x08)
    }

    /// Interrupt line (0x3c).
    pub fn irq_line(&self) -> Option<u8> {
        self.space.byte(0x3c)
    }

    /// Interrupt pin (0x3d): 0 none, 1-4 INTA-INTD.
    pub fn irq_pin(&self) -> Option<u8> {
        self.space.byte(0x3d)
    }

    /// Primary, secondary and subordinate bus numbers of a bridge.
    pub fn bus_numbers(&self) -> Option<(Option<u8>, Option<u8>, Option<u8>)> {
        match self.layout()? {
            Layout::Bridge | Layout::CardBus => Some((
                self.space.byte(0x18),
                self.space.byte(0x19),
                self.space.byte(0x1a),
            )),
            Layout::Device => None,
        }
    }

    /// The capability lists, as far as the guest read them.
    pub fn caps(&self) -> CapWalk {
        let mut walk = CapWalk::default();
        let layout = self.layout();
        let status_has_list = self.space.byte(0x06).map(|s| s & 0x10 != 0);
        if status_has_list != Some(false) {
            let ptr_off = layout.map_or(0x34, Layout::cap_pointer);
            match self.space.byte(ptr_off) {
                None => walk.stopped = Some(ptr_off),
                Some(p) => {
                    let mut p = usize::from(p & 0xfc);
                    let mut steps = 0;
                    while p >= 0x40 && steps < 48 {
                        // id and next pointer read as one field (a zero next
                        // pointer may be inferred: the end of the list).
                        let (Some(id), Some(next)) = (
                            self.space.byte(p),
                            self.space.field(p, 2).map(|v| (v >> 8) as u8),
                        ) else {
                            walk.stopped = Some(p);
                            break;
                        };
                        walk.caps.push(CapRef {
                            offset: p,
                            id: u16::from(id),
                            extended: false,
                            len: 0,
                        });
                        p = usize::from(next & 0xfc);
                        steps += 1;
                    }
                }
            }
        }
        let express = walk.caps.iter().any(|c| c.id == 0x10);
        if express || self.space.has_extended() {
            let mut p = 0x100;
            let mut steps = 0;
            loop {
                let Some(h) = self.space.u32(p) else {
                    walk.ext_stopped = Some(p);
                    break;
                };
                if h == 0 || h == 0xffff_ffff {
                    break;
                }
                walk.caps.push(CapRef {
                    offset: p,
                    id: (h & 0xffff) as u16,
                    extended: true,
                    len: 0,
                });
                let next = (h >> 20) as usize & 0xffc;
                steps += 1;
                if next < 0x100 || steps >= 960 {
                    break;
                }
                p = next;
            }
        }
        // Each capability extends to the next one above it (or the end of its space).
        let offsets: Vec<(usize, bool)> =
            walk.caps.iter().map(|c| (c.offset, c.extended)).collect();
        for c in &mut walk.caps {
            let limit = if c.extended { EXTENDED } else { 0x100 };
            let next = offsets
                .iter()
                .filter(|&&(o, e)| e == c.extended && o > c.offset)
                .map(|&(o, _)| o)
                .min()
                .unwrap_or(limit);
            c.len = next - c.offset;
        }
        walk
    }

    /// Whether the MSI capability at `caps` uses 64-bit addresses.
    pub fn msi64(&self, caps: &CapWalk) -> Option<bool> {
        let c = caps.find(0x05)?;
        self.space.byte(c.offset + 2).map(|f| f & 0x80 != 0)
    }

    /// Subsystem vendor and device id: at 0x2c for devices, 0x40 for CardBus
    /// bridges, in the subsystem (SSVID) capability for PCI bridges.
    pub fn subsystem(&self, caps: &CapWalk) -> Subsystem {
        let at = |o: usize| match (self.space.field(o, 2), self.space.field(o + 2, 2)) {
            (Some(v), Some(d)) => Subsystem::Known(v as u16, d as u16),
            _ => Subsystem::Unknown,
        };
        match self.layout() {
            Some(Layout::Device) => at(0x2c),
            Some(Layout::CardBus) => at(0x40),
            Some(Layout::Bridge) => match caps.find(0x0d) {
                Some(c) => at(c.offset + 4),
                None if caps.stopped.is_none() => Subsystem::Absent,
                None => Subsystem::Unknown,
            },
            None => Subsystem::Unknown,
        }
    }

    /// A BAR-area register's value as an address: the value before a sizing
    /// probe while the handshake is not finished.
    fn reg_value(&self, k: usize) -> Option<u32> {
        let s = self.sizing.get(k)?;
        match s.state {
            SizeState::Idle => self.space.u32(SIZING_FIRST + 4 * k),
            SizeState::Probed | SizeState::Sized => s.before,
        }
    }

    fn mask(&self, k: usize) -> Option<u32> {
        self.sizing.get(k).and_then(|s| s.mask)
    }

    /// The BARs and expansion ROM the function has, as far as observed: a
    /// register is listed when the guest's sizing showed it implemented, or
    /// when it was never sized but holds a non-zero value.
    pub fn bars(&self) -> Vec<Bar> {
        let mut out = Vec::new();
        let Some(layout) = self.layout() else {
            return out;
        };
        let n = layout.bar_count();
        let mut k = 0;
        while k < n {
            let off = SIZING_FIRST + 4 * k;
            let (val, mask) = (self.reg_value(k), self.mask(k));
            if matches!((mask, val), (Some(0), _) | (None, None) | (None, Some(0))) {
                k += 1;
                continue;
            }
            // A BAR never sized keeps its value's flags (as observed).
            let fallback = if mask.is_none() { val } else { None };
            let Some(t) = self.type_bits(k, fallback) else {
                k += 1;
                continue;
            };
            let address_mask = mask.map(|m| t.address_mask(m));
            let address = val.map(|v| t.address(v, mask));
            if t.is_io() {
                out.push(Bar {
                    index: k as u8,
                    offset: off,
                    kind: BarKind::Io,
                    address: address.map(u64::from),
                    size: address_mask.and_then(|m| lowest_bit(u64::from(m))),
                    enabled: None,
                    type_from_sizing: t.from_sizing,
                });
                k += 1;
                continue;
            }
            let prefetch = t.is_prefetchable();
            if t.is_mem64() {
                let (uval, umask) = if k + 1 < n {
                    (self.reg_value(k + 1), self.mask(k + 1))
                } else {
                    (None, None)
                };
                let address = match (address, uval) {
                    (Some(v), Some(u)) => Some(u64::from(u) << 32 | u64::from(v)),
                    _ => None,
                };
                let size = address_mask.and_then(|lo| {
                    let lo = u64::from(lo);
                    let full = match umask {
                        Some(u) => u64::from(u) << 32 | lo,
                        None if lo != 0 => 0xffff_ffff_0000_0000 | lo,
                        None => return None,
                    };
                    lowest_bit(full)
                });
                out.push(Bar {
                    index: k as u8,
                    offset: off,
                    kind: BarKind::Mem { bits: 64, prefetch },
                    address,
                    size,
                    enabled: None,
                    type_from_sizing: t.from_sizing,
                });
                k += 2;
            } else {
                let bits = if t.is_below_1m() { 20 } else { 32 };
                out.push(Bar {
                    index: k as u8,
                    offset: off,
                    kind: BarKind::Mem { bits, prefetch },
                    address: address.map(u64::from),
                    size: address_mask.and_then(|m| lowest_bit(u64::from(m))),
                    enabled: None,
                    type_from_sizing: t.from_sizing,
                });
                k += 1;
            }
        }
        if let Some(off) = layout.rom_offset() {
            let k = (off - SIZING_FIRST) / 4;
            let (val, mask) = (self.reg_value(k), self.mask(k));
            let skip = matches!((mask, val), (Some(0), _) | (None, None) | (None, Some(0)));
            if !skip {
                out.push(Bar {
                    index: 6,
                    offset: off,
                    kind: BarKind::Rom,
                    address: val.map(|v| u64::from(v & 0xffff_f800)),
                    size: mask.and_then(|m| lowest_bit(u64::from(m & 0xffff_f800))),
                    enabled: val.map(|v| v & 1 == 1),
                    type_from_sizing: false,
                });
            }
        }
        out
    }

    /// The size of config space to account for: 4096 for PCI Express
    /// functions (or when extended bytes were seen), else 256.
    pub fn space_len(&self, caps: &CapWalk) -> usize {
        if caps.find(0x10).is_some() || self.space.has_extended() {
            EXTENDED
        } else {
            crate::space::CONVENTIONAL
        }
    }

    /// Bytes in `range` by how they are known.
    pub fn counts(&self, range: std::ops::Range<usize>) -> Counts {
        let mut c = Counts::default();
        for o in range {
            match self.space.know(o) {
                Know::Read => c.read += 1,
                Know::Written => c.written += 1,
                Know::Inferred => c.inferred += 1,
                Know::Unknown => c.unknown += 1,
            }
        }
        c
    }
}

fn lowest_bit(x: u64) -> Option<u64> {
    (x != 0).then(|| 1u64 << x.trailing_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> Function {
        Function::new(0, 3, 0, true, b"e1000", 0)
    }

    fn apply(f: &mut Function, seq: &[(Op, u64, u64)]) -> Vec<Role> {
        seq.iter()
            .map(|&(op, o, v)| f.access(op, o, v).unwrap().role)
            .collect()
    }

    use Op::{Read as R, Write as W};

    #[test]
    fn ids_and_widths() {
        let mut d = f();
        apply(&mut d, &[(R, 0, 0x8086), (R, 0xe, 0)]);
        assert_eq!(d.vendor(), Some(0x8086));
        assert_eq!(d.device(), None, "device id only inferred");
        assert_eq!(d.space.raw(2), (0, Know::Inferred));
        apply(&mut d, &[(R, 0, 0x100e_8086)]);
        assert_eq!((d.vendor(), d.device()), (Some(0x8086), Some(0x100e)));
        // A later 16-bit read at 0 cannot be 32 bits wide: device id is not 0.
        let a = d.access(R, 0, 0x8086).unwrap();
        assert_eq!(a.width, Width::exact(2));
        assert_eq!(d.device(), Some(0x100e));
        assert_eq!(d.layout(), Some(Layout::Device));
    }

    #[test]
    fn bar_sizing_handshake() {
        let mut d = f();
        let roles = apply(
            &mut d,
            &[
                (R, 0xe, 0),
                (R, 0x10, 0),
                (W, 0x10, 0xffff_ffff),
                (R, 0x10, 0xfffe_0000),
                (W, 0x10, 0),
                (R, 0x14, 0x1),
                (W, 0x14, 0xffff_ffff),
                (R, 0x14, 0xffff_ffc1),
                (W, 0x14, 0x1),
                (W, 0x18, 0xffff_ffff),
                (R, 0x18, 0),
                (W, 0x18, 0),
                (W, 0x14, 0xd100),
                (W, 0x10, 0xfea4_0000),
                (R, 0x30, 0),
                (W, 0x30, 0xffff_f800),
                (R, 0x30, 0xfffc_0000),
                (W, 0x30, 0xfea0_0001),
            ],
        );
        assert_eq!(
            &roles[..5],
            [
                Role::Plain,
                Role::Plain,
                Role::Probe,
                Role::Sizing,
                Role::Restore
            ]
        );
        let bars = d.bars();
        assert_eq!(bars.len(), 3, "{bars:?}");
        assert_eq!(
            bars[0].kind,
            BarKind::Mem {
                bits: 32,
                prefetch: false
            }
        );
        assert_eq!(
            (bars[0].address, bars[0].size),
            (Some(0xfea4_0000), Some(0x20000))
        );
        // The I/O flag survives a write of the bare address.
        assert_eq!(bars[1].kind, BarKind::Io);
        assert_eq!((bars[1].address, bars[1].size), (Some(0xd100), Some(0x40)));
        assert_eq!(d.space.u32(0x14), Some(0xd101));
        assert_eq!(bars[2].index, 6);
        assert_eq!(
            (bars[2].address, bars[2].size, bars[2].enabled),
            (Some(0xfea0_0000), Some(0x40000), Some(true))
        );
    }

    #[test]
    fn sixty_four_bit_bar_and_unfinished_sizing() {
        let mut d = f();
        apply(
            &mut d,
            &[
                (R, 0xe, 0),
                (R, 0x20, 0xfe20_000c),
                (W, 0x20, 0xffff_ffff),
                (R, 0x20, 0xffff_c00c),
                (W, 0x20, 0xfe20_000c),
                (R, 0x24, 0),
                (W, 0x24, 0xffff_ffff),
                (R, 0x24, 0xffff_ffff),
            ],
        );
        let bars = d.bars();
        assert_eq!(bars.len(), 1);
        assert_eq!(
            bars[0].kind,
            BarKind::Mem {
                bits: 64,
                prefetch: true
            }
        );
        assert_eq!(bars[0].size, Some(0x4000));
        // The upper half is still the probe's read-back: its address is the value before.
        assert_eq!(bars[0].address, Some(0xfe20_0000));
    }

    #[test]
    fn type_bits_come_from_the_value_not_the_sizing_read_back() {
        // pvpanic-pci: a 2-byte memory BAR, value 0, read-back 0xfffffffe.
        let t = TypeBits::of(Some(0), Some(0xffff_fffe)).unwrap();
        assert_eq!((t.bits, t.from_sizing), (0, false));
        assert!(!t.is_io() && !t.is_mem64() && !t.is_prefetchable() && !t.is_below_1m());
        assert_eq!(t.address_mask(0xffff_fffe), 0xffff_fffe, "size 2");
        assert_eq!(t.address(0xfebf_c000, Some(0xffff_fffe)), 0xfebf_c000);
        // The same read-back alone would say 32-bit prefetchable with reserved
        // type 3: that is what is left when no value was read (and said so).
        let s = TypeBits::of(None, Some(0xffff_fffe)).unwrap();
        assert_eq!((s.bits, s.from_sizing), (0xe, true));
        assert!(s.is_prefetchable());
        assert_eq!(s.address_mask(0xffff_fffe), 0xffff_fff0);
        // An I/O BAR: bit 1 is reserved, bits from 2 up are the address.
        let io = TypeBits::of(Some(0xc001), Some(0xffff_ff01)).unwrap();
        assert_eq!(io.bits, 1);
        assert!(io.is_io() && !io.is_prefetchable() && !io.is_mem64());
        assert_eq!(io.address_mask(0xffff_ff01), 0xffff_ff00, "256 ports");
        assert_eq!(io.address(0xc001, Some(0xffff_ff01)), 0xc000);
        // A 2-port I/O BAR (QEMU's mask reaches bit 1).
        let io2 = TypeBits::of(Some(1), Some(0xffff_ffff)).unwrap();
        assert_eq!(io2.address_mask(0xffff_ffff), 0xffff_fffe);
        // A 64-bit prefetchable BAR: the read-back repeats the type bits.
        let m64 = TypeBits::of(Some(0xfe00_000c), Some(0xffff_c00c)).unwrap();
        assert!(m64.is_mem64() && m64.is_prefetchable() && !m64.is_io());
        assert_eq!(m64.address_mask(0xffff_c00c), 0xffff_c000);
        assert_eq!(m64.address(0xfe00_000c, Some(0xffff_c00c)), 0xfe00_0000);
        // No BAR, or nothing known.
        assert_eq!(TypeBits::of(None, Some(0)), None);
        assert_eq!(TypeBits::of(None, None), None);
    }

    #[test]
    fn tiny_memory_bar_sized_by_seabios() {
        // pvpanic-pci's BAR0 as SeaBIOS sizes and places it (QEMU 7.2).
        let mut d = Function::new(0, 1, 0, true, b"pvpanic-pci", 0);
        let roles = apply(
            &mut d,
            &[
                (R, 0, 0x0011_1b36),
                (R, 0xe, 0),
                (R, 0x10, 0),
                (W, 0x10, 0xffff_ffff),
                (R, 0x10, 0xffff_fffe),
                (W, 0x10, 0),
                (W, 0x10, 0xfebf_c000),
            ],
        );
        assert_eq!(roles[3..6], [Role::Probe, Role::Sizing, Role::Restore]);
        let bars = d.bars();
        assert_eq!(bars.len(), 1, "{bars:?}");
        assert_eq!(
            bars[0].kind,
            BarKind::Mem {
                bits: 32,
                prefetch: false
            }
        );
        assert_eq!(
            (bars[0].address, bars[0].size, bars[0].type_from_sizing),
            (Some(0xfebf_c000), Some(2), false)
        );
        // The register (and so the -x dump) holds the address, no flag bits.
        assert_eq!(d.space.u32(0x10), Some(0xfebf_c000));
    }

    #[test]
    fn sizing_without_a_read_of_the_value_says_so() {
        let mut d = f();
        apply(
            &mut d,
            &[
                (R, 0xe, 0),
                (W, 0x10, 0xffff_ffff),
                (R, 0x10, 0xffff_f008),
                (W, 0x10, 0xfe00_0000),
                // A read after the restore is the register's value again.
                (W, 0x14, 0xffff_ffff),
                (R, 0x14, 0xffff_fffe),
                (W, 0x14, 0xfe00_1000),
                (R, 0x14, 0xfe00_1000),
            ],
        );
        let bars = d.bars();
        assert_eq!(bars.len(), 2, "{bars:?}");
        assert_eq!(
            bars[0].kind,
            BarKind::Mem {
                bits: 32,
                prefetch: true
            }
        );
        assert_eq!(
            (bars[0].size, bars[0].type_from_sizing),
            (Some(0x1000), true)
        );
        assert_eq!(d.space.u32(0x10), Some(0xfe00_0008));
        // Until the read after the address was programmed, BAR1's type was
        // the read-back's; that read gives the real one.
        assert_eq!(
            bars[1].kind,
            BarKind::Mem {
                bits: 32,
                prefetch: false
            }
        );
        assert_eq!(
            (bars[1].address, bars[1].size, bars[1].type_from_sizing),
            (Some(0xfe00_1000), Some(2), false)
        );
    }

    #[test]
    fn read_only_and_one_to_clear() {
        let mut d = f();
        apply(
            &mut d,
            &[(R, 0, 0x100e_8086), (R, 4, 0x0010_0107), (R, 0xe, 0)],
        );
        apply(&mut d, &[(W, 0, 0xffff_ffff), (W, 6, 0x10)]);
        assert_eq!(d.vendor(), Some(0x8086));
        assert_eq!(d.space.u16(6), Some(0));
        assert!(d.space.ever_written(0));
    }

    #[test]
    fn bad_accesses() {
        let mut d = f();
        assert!(d.access(R, 0x1000, 0).unwrap_err().contains("past the end"));
        assert!(
            d.access(R, 0, 0x1_0000_0000)
                .unwrap_err()
                .contains("wider than 32 bits")
        );
        assert!(d.access(R, 3, 0x100).is_err());
        assert_eq!(d.reads, 0);
    }

    #[test]
    fn cardbus_bridge() {
        let mut d = Function::new(0, 4, 0, true, b"cb", 0);
        apply(
            &mut d,
            &[
                (R, 0, 0xac56_104c),
                (R, 8, 0x0607_0001),
                (R, 0xe, 0x82),
                (R, 6, 0x0210),
                (R, 0x14, 0xa0),
                (R, 0xa0, 0x0001),
                (R, 0x18, 0x0005_0400),
                (R, 0x40, 0x1234_1af4),
                (R, 0x10, 0),
                (W, 0x10, 0xffff_ffff),
                (R, 0x10, 0xffff_f000),
                (W, 0x10, 0xfeb0_0000),
                (R, 0x3c, 0x010b),
            ],
        );
        assert_eq!(d.layout(), Some(Layout::CardBus));
        let caps = d.caps();
        assert_eq!(caps.caps.len(), 1);
        assert_eq!((caps.caps[0].offset, caps.caps[0].id), (0xa0, 1));
        assert_eq!(d.subsystem(&caps), Subsystem::Known(0x1af4, 0x1234));
        assert_eq!(d.bus_numbers(), Some((Some(0), Some(4), Some(5))));
        let bars = d.bars();
        assert_eq!(bars.len(), 1, "one BAR and no ROM register: {bars:?}");
        assert_eq!(
            (bars[0].address, bars[0].size),
            (Some(0xfeb0_0000), Some(0x1000))
        );
        assert_eq!(Layout::CardBus.header_len(), 128);
    }

    #[test]
    fn changed_constant_bytes_are_told() {
        let mut d = f();
        apply(&mut d, &[(R, 0, 0x100e_8086), (R, 0xe, 0)]);
        let a = d.access(R, 0, 0x1234_8086).unwrap();
        assert_eq!(a.changed, Some((2, 0x0e, 0x34)));
        assert_eq!(d.access(R, 0, 0x1234_8086).unwrap().changed, None);
    }

    #[test]
    fn capability_walk_and_bridge_subsystem() {
        let mut d = Function::new(0, 0x1c, 0, true, b"pcie-root-port", 0);
        apply(
            &mut d,
            &[
                (R, 0xe, 0x81),
                (R, 6, 0x10),
                (R, 0x34, 0x54),
                (R, 0x54, 0x4810),
                (R, 0x48, 0x4005),
                (R, 0x40, 0x0d),
                (R, 0x44, 0x1b36),
                (R, 0x46, 0),
            ],
        );
        let caps = d.caps();
        let ids: Vec<u16> = caps.caps.iter().map(|c| c.id).collect();
        assert_eq!(ids, [0x10, 0x05, 0x0d]);
        assert_eq!(caps.stopped, None);
        assert_eq!(caps.ext_stopped, Some(0x100));
        assert_eq!(d.subsystem(&caps), Subsystem::Known(0x1b36, 0));
    }
}
