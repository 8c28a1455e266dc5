//! What the PCI specification says about config-space offsets: the three
//! header layouts, which registers are read-only or 32-bit only, register
//! names (Linux's `pci_regs.h` names without the `PCI_` prefix) and the
//! names of capabilities.
//!
//! Nothing here knows about traces; [`crate::function`] asks these tables
//! how to interpret an access.

/// The header layout (header type register bits 6:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Type 0: an ordinary function (six BARs, expansion ROM at 0x30).
    Device,
    /// Type 1: a PCI-to-PCI bridge (two BARs, bus numbers, windows, ROM at 0x38).
    Bridge,
    /// Type 2: a CardBus bridge (one BAR, capability pointer at 0x14).
    CardBus,
}

impl Layout {
    /// The layout for a header type value (bit 7, multifunction, ignored).
    pub fn from_header_type(ht: u8) -> Option<Layout> {
        match ht & 0x7f {
            0 => Some(Layout::Device),
            1 => Some(Layout::Bridge),
            2 => Some(Layout::CardBus),
            _ => None,
        }
    }

    /// The header type number.
    pub fn number(self) -> u8 {
        match self {
            Layout::Device => 0,
            Layout::Bridge => 1,
            Layout::CardBus => 2,
        }
    }

    /// What lspci calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Device => "device",
            Layout::Bridge => "PCI bridge",
            Layout::CardBus => "CardBus bridge",
        }
    }

    /// Number of base address registers.
    pub fn bar_count(self) -> usize {
        match self {
            Layout::Device => 6,
            Layout::Bridge => 2,
            Layout::CardBus => 1,
        }
    }

    /// Offset of the expansion ROM base address register.
    pub fn rom_offset(self) -> Option<usize> {
        match self {
            Layout::Device => Some(0x30),
            Layout::Bridge => Some(0x38),
            Layout::CardBus => None,
        }
    }

    /// Offset of the capability pointer.
    pub fn cap_pointer(self) -> usize {
        match self {
            Layout::CardBus => 0x14,
            _ => 0x34,
        }
    }

    /// Length of the header (what `lspci -x` dumps by default).
    pub fn header_len(self) -> usize {
        match self {
            Layout::CardBus => 128,
            _ => 64,
        }
    }
}

/// True when `off` is the start of a register that is only ever accessed
/// as a whole dword (BARs, expansion ROM, 32-bit window halves): an aligned
/// access there is taken as 4 bytes. The PCIe extended capability header at
/// 0x100 is one too.
pub fn is_dword_register(layout: Option<Layout>, off: usize) -> bool {
    if off == 0x100 {
        return true;
    }
    match layout {
        Some(Layout::Device) => matches!(off, 0x10..=0x28 | 0x30) && off % 4 == 0,
        Some(Layout::Bridge) => matches!(off, 0x10 | 0x14 | 0x28 | 0x2c | 0x38),
        Some(Layout::CardBus) => matches!(off, 0x10 | 0x1c..=0x38 | 0x44) && off % 4 == 0,
        None => false,
    }
}

/// How a write to a byte behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// An ordinary read/write byte: it holds what was written.
    Normal,
    /// Read-only: a write does not change it.
    ReadOnly,
    /// Write-one-to-clear (status registers).
    OneToClear,
}

/// How a write to byte `off` behaves, for the header registers whose
/// behaviour the specification fixes. Device-specific and capability bytes
/// are treated as ordinary.
pub fn write_kind(layout: Option<Layout>, off: usize) -> WriteKind {
    match off {
        0x00..=0x03 | 0x08..=0x0b | 0x0e | 0x3d => return WriteKind::ReadOnly,
        0x06 | 0x07 => return WriteKind::OneToClear,
        _ => {}
    }
    match layout {
        Some(Layout::Device) if matches!(off, 0x2c..=0x2f | 0x34 | 0x3e | 0x3f) => {
            WriteKind::ReadOnly
        }
        Some(Layout::Bridge) if off == 0x34 => WriteKind::ReadOnly,
        Some(Layout::Bridge) if matches!(off, 0x1e | 0x1f) => WriteKind::OneToClear,
        Some(Layout::CardBus) if matches!(off, 0x14 | 0x40..=0x43) => WriteKind::ReadOnly,
        Some(Layout::CardBus) if matches!(off, 0x16 | 0x17) => WriteKind::OneToClear,
        _ => WriteKind::Normal,
    }
}

/// True for bytes that never change (identification and fixed layout
/// bytes): a value there contradicts any width assumption that would make
/// it zero.
pub fn is_constant(layout: Option<Layout>, off: usize) -> bool {
    matches!(write_kind(layout, off), WriteKind::ReadOnly)
}

/// A named register: where it starts, how long it is, its name.
type Reg = (usize, usize, &'static str);

const COMMON: &[Reg] = &[
    (0x00, 2, "VENDOR_ID"),
    (0x02, 2, "DEVICE_ID"),
    (0x04, 2, "COMMAND"),
    (0x06, 2, "STATUS"),
    (0x08, 1, "REVISION_ID"),
    (0x09, 1, "CLASS_PROG"),
    (0x0a, 2, "CLASS_DEVICE"),
    (0x0c, 1, "CACHE_LINE_SIZE"),
    (0x0d, 1, "LATENCY_TIMER"),
    (0x0e, 1, "HEADER_TYPE"),
    (0x0f, 1, "BIST"),
];

const TYPE0: &[Reg] = &[
    (0x10, 4, "BAR0"),
    (0x14, 4, "BAR1"),
    (0x18, 4, "BAR2"),
    (0x1c, 4, "BAR3"),
    (0x20, 4, "BAR4"),
    (0x24, 4, "BAR5"),
    (0x28, 4, "CARDBUS_CIS"),
    (0x2c, 2, "SUBSYSTEM_VENDOR_ID"),
    (0x2e, 2, "SUBSYSTEM_ID"),
    (0x30, 4, "ROM_ADDRESS"),
    (0x34, 1, "CAPABILITY_LIST"),
    (0x35, 7, "RESERVED"),
    (0x3c, 1, "INTERRUPT_LINE"),
    (0x3d, 1, "INTERRUPT_PIN"),
    (0x3e, 1, "MIN_GNT"),
    (0x3f, 1, "MAX_LAT"),
];

const TYPE1: &[Reg] = &[
    (0x10, 4, "BAR0"),
    (0x14, 4, "BAR1"),
    (0x18, 1, "PRIMARY_BUS"),
    (0x19, 1, "SECONDARY_BUS"),
    (0x1a, 1, "SUBORDINATE_BUS"),
    (0x1b, 1, "SEC_LATENCY_TIMER"),
    (0x1c, 1, "IO_BASE"),
    (0x1d, 1, "IO_LIMIT"),
    (0x1e, 2, "SEC_STATUS"),
    (0x20, 2, "MEMORY_BASE"),
    (0x22, 2, "MEMORY_LIMIT"),
    (0x24, 2, "PREF_MEMORY_BASE"),
    (0x26, 2, "PREF_MEMORY_LIMIT"),
    (0x28, 4, "PREF_BASE_UPPER32"),
    (0x2c, 4, "PREF_LIMIT_UPPER32"),
    (0x30, 2, "IO_BASE_UPPER16"),
    (0x32, 2, "IO_LIMIT_UPPER16"),
    (0x34, 1, "CAPABILITY_LIST"),
    (0x35, 3, "RESERVED"),
    (0x38, 4, "ROM_ADDRESS1"),
    (0x3c, 1, "INTERRUPT_LINE"),
    (0x3d, 1, "INTERRUPT_PIN"),
    (0x3e, 2, "BRIDGE_CONTROL"),
];

const TYPE2: &[Reg] = &[
    (0x10, 4, "CB_SOCKET_BASE"),
    (0x14, 1, "CB_CAPABILITY_LIST"),
    (0x15, 1, "RESERVED"),
    (0x16, 2, "CB_SEC_STATUS"),
    (0x18, 1, "CB_PRIMARY_BUS"),
    (0x19, 1, "CB_CARD_BUS"),
    (0x1a, 1, "CB_SUBORDINATE_BUS"),
    (0x1b, 1, "CB_LATENCY_TIMER"),
    (0x1c, 4, "CB_MEMORY_BASE_0"),
    (0x20, 4, "CB_MEMORY_LIMIT_0"),
    (0x24, 4, "CB_MEMORY_BASE_1"),
    (0x28, 4, "CB_MEMORY_LIMIT_1"),
    (0x2c, 4, "CB_IO_BASE_0"),
    (0x30, 4, "CB_IO_LIMIT_0"),
    (0x34, 4, "CB_IO_BASE_1"),
    (0x38, 4, "CB_IO_LIMIT_1"),
    (0x3c, 1, "INTERRUPT_LINE"),
    (0x3d, 1, "INTERRUPT_PIN"),
    (0x3e, 2, "CB_BRIDGE_CONTROL"),
    (0x40, 2, "CB_SUBSYSTEM_VENDOR_ID"),
    (0x42, 2, "CB_SUBSYSTEM_ID"),
    (0x44, 4, "CB_LEGACY_MODE_BASE"),
];

/// The header registers (0x00..0x3f, 0x00..0x47 for CardBus) of a layout.
fn header_regs(layout: Option<Layout>) -> impl Iterator<Item = Reg> {
    let rest: &[Reg] = match layout {
        Some(Layout::Device) => TYPE0,
        Some(Layout::Bridge) => TYPE1,
        Some(Layout::CardBus) => TYPE2,
        None => &[],
    };
    COMMON.iter().chain(rest).copied()
}

/// A capability found in the function's list (see [`crate::function`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapRef {
    /// Its offset in config space.
    pub offset: usize,
    /// Capability id (8 bits for standard, 16 for extended capabilities).
    pub id: u16,
    /// True for a PCIe extended capability (at 0x100 or above).
    pub extended: bool,
    /// Bytes it spans, as far as we know (up to the next capability).
    pub len: usize,
}

/// The short name of a standard capability (used in register names).
pub fn cap_short(id: u16) -> Option<&'static str> {
    Some(match id {
        0x01 => "PM",
        0x02 => "AGP",
        0x03 => "VPD",
        0x04 => "SLOTID",
        0x05 => "MSI",
        0x06 => "CHSWP",
        0x07 => "PCIX",
        0x08 => "HT",
        0x09 => "VNDR",
        0x0a => "DBG",
        0x0b => "CCRC",
        0x0c => "SHPC",
        0x0d => "SSVID",
        0x0e => "AGP3",
        0x0f => "SECDEV",
        0x10 => "EXP",
        0x11 => "MSIX",
        0x12 => "SATA",
        0x13 => "AF",
        0x14 => "EA",
        0x15 => "FPB",
        _ => return None,
    })
}

/// What lspci calls a standard capability.
pub fn cap_name(id: u16) -> &'static str {
    match id {
        0x01 => "Power Management",
        0x02 => "AGP",
        0x03 => "Vital Product Data",
        0x04 => "Slot Identification",
        0x05 => "MSI",
        0x06 => "CompactPCI hot-swap",
        0x07 => "PCI-X",
        0x08 => "HyperTransport",
        0x09 => "Vendor Specific Information",
        0x0a => "Debug port",
        0x0b => "CompactPCI central resource control",
        0x0c => "Hot-plug capable",
        0x0d => "Subsystem",
        0x0e => "AGP3",
        0x0f => "Secure device",
        0x10 => "Express",
        0x11 => "MSI-X",
        0x12 => "SATA HBA",
        0x13 => "PCI Advanced Features",
        0x14 => "Enhanced Allocation",
        0x15 => "Flattening Portal Bridge",
        _ => "Unknown capability",
    }
}

/// What lspci calls a PCIe extended capability.
pub fn ecap_name(id: u16) -> &'static str {
    match id {
        0x01 => "Advanced Error Reporting",
        0x02 | 0x09 => "Virtual Channel",
        0x03 => "Device Serial Number",
        0x04 => "Power Budgeting",
        0x05 => "Root Complex Link",
        0x06 => "Root Complex Internal Link",
        0x07 => "Root Complex Event Collector",
        0x08 => "Multi-Function VC",
        0x0a => "Root Complex Register Block",
        0x0b => "Vendor Specific Information",
        0x0d => "Access Control Services",
        0x0e => "Alternative Routing-ID Interpretation (ARI)",
        0x0f => "Address Translation Service (ATS)",
        0x10 => "Single Root I/O Virtualization (SR-IOV)",
        0x13 => "Page Request Interface (PRI)",
        0x15 => "Resizable BAR",
        0x17 => "Transaction Processing Hints",
        0x18 => "Latency Tolerance Reporting",
        0x19 => "Secondary PCI Express",
        0x1b => "Process Address Space ID (PASID)",
        0x1e => "L1 PM Substates",
        0x25 => "Data Link Feature",
        0x26 => "Physical Layer 16.0 GT/s",
        _ => "Unknown extended capability",
    }
}

/// What a PCI Express capability's device/port type (flags bits 7:4) means.
pub fn express_type(t: u8) -> &'static str {
    match t {
        0 => "Endpoint",
        1 => "Legacy Endpoint",
        4 => "Root Port",
        5 => "Upstream Port",
        6 => "Downstream Port",
        7 => "PCI-Express to PCI/PCI-X Bridge",
        8 => "PCI/PCI-X to PCI-Express Bridge",
        9 => "Root Complex Integrated Endpoint",
        10 => "Root Complex Event Collector",
        _ => "Unknown type",
    }
}

/// Registers inside a standard capability, relative to its start. `msi64`
/// tells the MSI layout (address is 64-bit) when known.
fn cap_regs(id: u16, msi64: Option<bool>) -> &'static [Reg] {
    match id {
        0x01 => &[
            (2, 2, "PM_PMC"),
            (4, 2, "PM_CTRL"),
            (6, 1, "PM_PPB_EXTENSIONS"),
            (7, 1, "PM_DATA"),
        ],
        0x05 => match msi64 {
            Some(true) => &[
                (2, 2, "MSI_FLAGS"),
                (4, 4, "MSI_ADDRESS_LO"),
                (8, 4, "MSI_ADDRESS_HI"),
                (0xc, 2, "MSI_DATA_64"),
                (0x10, 4, "MSI_MASK_64"),
                (0x14, 4, "MSI_PENDING_64"),
            ],
            Some(false) => &[
                (2, 2, "MSI_FLAGS"),
                (4, 4, "MSI_ADDRESS_LO"),
                (8, 2, "MSI_DATA_32"),
                (0xc, 4, "MSI_MASK_32"),
                (0x10, 4, "MSI_PENDING_32"),
            ],
            None => &[(2, 2, "MSI_FLAGS"), (4, 4, "MSI_ADDRESS_LO")],
        },
        0x09 => &[(2, 1, "VNDR_LEN")],
        0x0d => &[(4, 2, "SSVID_VENDOR_ID"), (6, 2, "SSVID_DEVICE_ID")],
        0x10 => &[
            (2, 2, "EXP_FLAGS"),
            (4, 4, "EXP_DEVCAP"),
            (8, 2, "EXP_DEVCTL"),
            (0xa, 2, "EXP_DEVSTA"),
            (0xc, 4, "EXP_LNKCAP"),
            (0x10, 2, "EXP_LNKCTL"),
            (0x12, 2, "EXP_LNKSTA"),
            (0x14, 4, "EXP_SLTCAP"),
            (0x18, 2, "EXP_SLTCTL"),
            (0x1a, 2, "EXP_SLTSTA"),
            (0x1c, 2, "EXP_RTCTL"),
            (0x1e, 2, "EXP_RTCAP"),
            (0x20, 4, "EXP_RTSTA"),
            (0x24, 4, "EXP_DEVCAP2"),
            (0x28, 2, "EXP_DEVCTL2"),
            (0x2a, 2, "EXP_DEVSTA2"),
            (0x2c, 4, "EXP_LNKCAP2"),
            (0x30, 2, "EXP_LNKCTL2"),
            (0x32, 2, "EXP_LNKSTA2"),
            (0x34, 4, "EXP_SLTCAP2"),
            (0x38, 2, "EXP_SLTCTL2"),
            (0x3a, 2, "EXP_SLTSTA2"),
        ],
        0x11 => &[
            (2, 2, "MSIX_FLAGS"),
            (4, 4, "MSIX_TABLE"),
            (8, 4, "MSIX_PBA"),
        ],
        _ => &[],
    }
}

/// The width of the register that starts at `off`, when one does.
pub fn register_width(
    layout: Option<Layout>,
    caps: &[CapRef],
    msi64: Option<bool>,
    off: usize,
) -> Option<usize> {
    if off < 0x40 || (layout == Some(Layout::CardBus) && off < 0x48) {
        return header_regs(layout)
            .find(|&(s, _, _)| s == off)
            .map(|(_, l, _)| l);
    }
    let c = caps
        .iter()
        .find(|c| off >= c.offset && off < c.offset + c.len.max(2))?;
    if c.extended {
        return None;
    }
    let rel = off - c.offset;
    if rel == 0 {
        return Some(2);
    }
    cap_regs(c.id, msi64)
        .iter()
        .find(|&&(s, _, _)| s == rel)
        .map(|&(_, l, _)| l)
}

/// The layout a class code suggests (for naming registers before the guest
/// has read the header type): PCI and CardBus bridges, else a device.
pub fn layout_for_class(class16: u16) -> Layout {
    match class16 {
        0x0604 | 0x0609 => Layout::Bridge,
        0x0607 => Layout::CardBus,
        _ => Layout::Device,
    }
}

/// The name of the register(s) an access of `width` bytes at `off` touches,
/// e.g. `COMMAND`, `VENDOR_ID+DEVICE_ID`, `MSIX_FLAGS`, `CAP_EXP`,
/// `DEVSPEC` (device-specific space outside any known capability).
pub fn register_name(
    layout: Option<Layout>,
    caps: &[CapRef],
    msi64: Option<bool>,
    off: usize,
    width: usize,
) -> String {
    let end = off + width.max(1);
    let mut names: Vec<String> = Vec::new();
    let mut push = |n: String| {
        if names.last() != Some(&n) {
            names.push(n);
        }
    };
    let mut pos = off;
    while pos < end {
        if pos < 0x40 || (layout == Some(Layout::CardBus) && pos < 0x48) {
            let hit = header_regs(layout).find(|&(s, l, _)| pos >= s && pos < s + l);
            match hit {
                Some((s, l, name)) => {
                    if pos == s {
                        push(name.to_string());
                    } else {
                        push(format!("{name}+{}", pos - s));
                    }
                    pos = s + l;
                }
                None => {
                    push(format!("HEADER+0x{pos:02x}"));
                    pos = end;
                }
            }
            continue;
        }
        let cap = caps
            .iter()
            .find(|c| pos >= c.offset && pos < c.offset + c.len.max(2));
        match cap {
            Some(c) => {
                let rel = pos - c.offset;
                let hdr = if c.extended { 4 } else { 2 };
                let short = if c.extended {
                    format!("ECAP_{:02X}", c.id)
                } else {
                    cap_short(c.id).map_or_else(|| format!("CAP_{:02X}", c.id), str::to_string)
                };
                if rel < hdr {
                    push(format!("CAP_{short}"));
                    pos = c.offset + hdr;
                    continue;
                }
                let regs = if c.extended {
                    &[][..]
                } else {
                    cap_regs(c.id, msi64)
                };
                match regs.iter().find(|&&(s, l, _)| rel >= s && rel < s + l) {
                    Some(&(s, l, name)) => {
                        if rel == s {
                            push(name.to_string());
                        } else {
                            push(format!("{name}+{}", rel - s));
                        }
                        pos = c.offset + s + l;
                    }
                    None => {
                        push(format!("{short}+0x{rel:x}"));
                        pos += width.max(1);
                    }
                }
            }
            None => {
                push(if pos < 0x100 { "DEVSPEC" } else { "EXTSPEC" }.to_string());
                pos = end;
            }
        }
    }
    // A dword at 0x08 reads better as one class register.
    let joined = names.join("+");
    joined.replace("CLASS_PROG+CLASS_DEVICE", "CLASS")
}

/// The bits set in a COMMAND register value, by name.
pub fn command_bits(v: u32) -> String {
    const BITS: &[(u32, &str)] = &[
        (0x1, "IO"),
        (0x2, "MEM"),
        (0x4, "BusMaster"),
        (0x8, "SpecCycle"),
        (0x10, "MemWINV"),
        (0x20, "VGASnoop"),
        (0x40, "ParErr"),
        (0x100, "SERR"),
        (0x200, "FastB2B"),
        (0x400, "DisINTx"),
    ];
    let set: Vec<String> = BITS
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| format!("{n}+"))
        .collect();
    if set.is_empty() {
        "all off".to_string()
    } else {
        set.join(" ")
    }
}

/// A size as lspci prints it: 64, 4K, 128K, 16M, 2G.
pub fn human_size(n: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for &(u, s) in UNITS {
        if n >= u && n % u == 0 {
            return format!("{}{s}", n / u);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names() {
        let d = Some(Layout::Device);
        assert_eq!(register_name(d, &[], None, 0x04, 2), "COMMAND");
        assert_eq!(register_name(d, &[], None, 0x00, 4), "VENDOR_ID+DEVICE_ID");
        assert_eq!(register_name(d, &[], None, 0x08, 4), "REVISION_ID+CLASS");
        assert_eq!(register_name(d, &[], None, 0x10, 4), "BAR0");
        assert_eq!(register_name(d, &[], None, 0x3c, 1), "INTERRUPT_LINE");
        assert_eq!(register_name(d, &[], None, 0x2e, 2), "SUBSYSTEM_ID");
        let b = Some(Layout::Bridge);
        assert_eq!(register_name(b, &[], None, 0x19, 1), "SECONDARY_BUS");
        assert_eq!(register_name(b, &[], None, 0x38, 4), "ROM_ADDRESS1");
        assert_eq!(register_name(None, &[], None, 0x10, 4), "HEADER+0x10");
        assert_eq!(register_name(d, &[], None, 0x90, 4), "DEVSPEC");
    }

    #[test]
    fn capability_names() {
        let caps = [
            CapRef {
                offset: 0x40,
                id: 0x10,
                extended: false,
                len: 0x3c,
            },
            CapRef {
                offset: 0x7c,
                id: 0x11,
                extended: false,
                len: 12,
            },
        ];
        let d = Some(Layout::Device);
        assert_eq!(register_name(d, &caps, None, 0x7e, 2), "MSIX_FLAGS");
        assert_eq!(register_name(d, &caps, None, 0x7c, 2), "CAP_MSIX");
        assert_eq!(register_name(d, &caps, None, 0x48, 2), "EXP_DEVCTL");
        assert_eq!(register_name(d, &caps, None, 0x40, 4), "CAP_EXP+EXP_FLAGS");
    }

    #[test]
    fn writes_to_fixed_registers() {
        let d = Some(Layout::Device);
        assert_eq!(write_kind(d, 0x00), WriteKind::ReadOnly);
        assert_eq!(write_kind(d, 0x06), WriteKind::OneToClear);
        assert_eq!(write_kind(d, 0x04), WriteKind::Normal);
        assert_eq!(write_kind(d, 0x2c), WriteKind::ReadOnly);
        assert_eq!(write_kind(Some(Layout::Bridge), 0x2c), WriteKind::Normal);
        assert!(is_dword_register(d, 0x24));
        assert!(!is_dword_register(Some(Layout::Bridge), 0x18));
    }

    #[test]
    fn sizes_and_bits() {
        assert_eq!(human_size(0x20000), "128K");
        assert_eq!(human_size(64), "64");
        assert_eq!(human_size(16 << 20), "16M");
        assert_eq!(command_bits(0x107), "IO+ MEM+ BusMaster+ SERR+");
    }
}
