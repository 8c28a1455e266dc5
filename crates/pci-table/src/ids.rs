//! Names for vendor, device, subsystem and class ids, from the PCI ID
//! database: the copy embedded by the `pci-ids` crate (pci.ids is
//! distributed under BSD-3-Clause OR GPL-2.0-or-later), or a `pci.ids` file
//! read at run time with `-i FILE`, as lspci does.
//!
//! Also the name formatting of `lspci -nn`, so our lines read like its.

use std::path::Path;

use pci_ids::FromId;
use qtrace_core::Error;
use rustc_hash::FxHashMap;

/// A PCI ID database, and whether lspci-style text shows names (`-nn`,
/// the default) or numbers only (`-n`).
#[derive(Debug)]
pub struct Ids {
    db: Db,
    numeric: bool,
}

/// Where names come from.
#[derive(Debug)]
enum Db {
    /// The copy compiled into the binary (the `pci-ids` crate).
    Embedded,
    /// A pci.ids file read at run time.
    File(Box<IdsFile>),
}

/// The contents of a pci.ids file.
#[derive(Debug, Default)]
pub struct IdsFile {
    vendors: FxHashMap<u16, String>,
    devices: FxHashMap<(u16, u16), String>,
    subsystems: FxHashMap<(u16, u16, u16, u16), String>,
    classes: FxHashMap<u8, String>,
    subclasses: FxHashMap<(u8, u8), String>,
    prog_ifs: FxHashMap<(u8, u8, u8), String>,
}

fn hex<T: TryFrom<u32>>(s: &str, digits: usize) -> Option<T> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16)
        .ok()
        .and_then(|v| T::try_from(v).ok())
}

impl IdsFile {
    /// Parses pci.ids text: vendors, devices and subsystems, then the `C`
    /// class section. Lines it does not understand are skipped, as lspci does.
    pub fn parse(text: &str) -> IdsFile {
        let mut f = IdsFile::default();
        let mut vendor: Option<u16> = None;
        let mut device: Option<u16> = None;
        let mut class: Option<u8> = None;
        let mut subclass: Option<u8> = None;
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let tabs = line.bytes().take_while(|&b| b == b'\t').count();
            let body = &line[tabs..];
            let (id, name) = match body.split_once(char::is_whitespace) {
                Some((id, name)) => (id, name.trim()),
                None => continue,
            };
            match tabs {
                0 => {
                    device = None;
                    subclass = None;
                    if id == "C" {
                        vendor = None;
                        let (c, n) = name.split_once(char::is_whitespace).unwrap_or((name, ""));
                        class = hex(c, 2);
                        if let Some(c) = class {
                            f.classes.insert(c, n.trim().to_string());
                        }
                    } else {
                        class = None;
                        vendor = hex(id, 4);
                        if let Some(v) = vendor {
                            f.vendors.insert(v, name.to_string());
                        }
                    }
                }
                1 => {
                    if let Some(v) = vendor {
                        device = hex(id, 4);
                        if let Some(d) = device {
                            f.devices.insert((v, d), name.to_string());
                        }
                    } else if let Some(c) = class {
                        subclass = hex(id, 2);
                        if let Some(s) = subclass {
                            f.subclasses.insert((c, s), name.to_string());
                        }
                    }
                }
                2 => {
                    if let (Some(v), Some(d)) = (vendor, device) {
                        let (sd, n) = name.split_once(char::is_whitespace).unwrap_or((name, ""));
                        if let (Some(sv), Some(sd)) = (hex(id, 4), hex(sd, 4)) {
                            f.subsystems.insert((v, d, sv, sd), n.trim().to_string());
                        }
                    } else if let (Some(c), Some(s)) = (class, subclass)
                        && let Some(p) = hex(id, 2)
                    {
                        f.prog_ifs.insert((c, s, p), name.to_string());
                    }
                }
                _ => {}
            }
        }
        f
    }
}

impl Ids {
    /// The database to use: the file given with `-i`, else the embedded one.
    pub fn load(path: Option<&Path>) -> Result<Ids, Error> {
        let Some(path) = path else {
            return Ok(Ids::embedded());
        };
        let bytes = std::fs::read(path).map_err(|source| Error::Input {
            input: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let f = IdsFile::parse(&text);
        if f.vendors.is_empty() && f.classes.is_empty() {
            return Err(Error::usage(format!(
                "{}: no vendor or class entries: not a pci.ids file?",
                path.display()
            )));
        }
        Ok(Ids::file(f))
    }

    /// The embedded database.
    pub fn embedded() -> Ids {
        Ids {
            db: Db::Embedded,
            numeric: false,
        }
    }

    /// The names of a parsed pci.ids file.
    pub fn file(f: IdsFile) -> Ids {
        Ids {
            db: Db::File(Box::new(f)),
            numeric: false,
        }
    }

    /// The same database, with lspci-style text showing numbers only
    /// (`lspci -n`) when `on`; the name lookups are unchanged.
    pub fn numeric(mut self, on: bool) -> Ids {
        self.numeric = on;
        self
    }

    /// The vendor's name.
    pub fn vendor(&self, v: u16) -> Option<&str> {
        match &self.db {
            Db::Embedded => pci_ids::Vendor::from_id(v).map(|x| x.name()),
            Db::File(f) => f.vendors.get(&v).map(String::as_str),
        }
    }

    /// The device's name.
    pub fn device(&self, v: u16, d: u16) -> Option<&str> {
        match &self.db {
            Db::Embedded => pci_ids::Device::from_vid_pid(v, d).map(|x| x.name()),
            Db::File(f) => f.devices.get(&(v, d)).map(String::as_str),
        }
    }

    /// The name of a subsystem of device `v:d`.
    pub fn subsystem(&self, v: u16, d: u16, sv: u16, sd: u16) -> Option<&str> {
        match &self.db {
            Db::Embedded => pci_ids::Device::from_vid_pid(v, d)?
                .subsystems()
                .find(|s| s.subvendor() == sv && s.subdevice() == sd)
                .map(|s| s.name()),
            Db::File(f) => f.subsystems.get(&(v, d, sv, sd)).map(String::as_str),
        }
    }

    /// The base class name.
    pub fn class(&self, c: u8) -> Option<&str> {
        match &self.db {
            Db::Embedded => pci_ids::Class::from_id(c).map(|x| x.name()),
            Db::File(f) => f.classes.get(&c).map(String::as_str),
        }
    }

    /// The subclass name.
    pub fn subclass(&self, c: u8, s: u8) -> Option<&str> {
        match &self.db {
            Db::Embedded => pci_ids::Subclass::from_cid_sid(c, s).map(|x| x.name()),
            Db::File(f) => f.subclasses.get(&(c, s)).map(String::as_str),
        }
    }

    /// The programming interface name.
    pub fn prog_if(&self, c: u8, s: u8, p: u8) -> Option<&str> {
        match &self.db {
            Db::Embedded => pci_ids::Subclass::from_cid_sid(c, s)?
                .prog_ifs()
                .find(|x| x.id() == p)
                .map(|x| x.name()),
            Db::File(f) => f.prog_ifs.get(&(c, s, p)).map(String::as_str),
        }
    }

    /// What lspci shows for a class: the subclass name, else the class
    /// name (`class_name` in records).
    pub fn class_name(&self, class16: u16) -> Option<&str> {
        let (c, s) = ((class16 >> 8) as u8, class16 as u8);
        self.subclass(c, s).or_else(|| self.class(c))
    }

    /// The class part of an `lspci -nn` line: `SATA controller [0106]`.
    pub fn class_text(&self, class16: Option<u16>) -> String {
        if self.numeric {
            // lspci -n: `0106`.
            return hex4(class16);
        }
        match class16 {
            Some(c) => match self.class_name(c) {
                Some(n) => format!("{n} [{c:04x}]"),
                None => format!("Class [{c:04x}]"),
            },
            None => "Class [????]".to_string(),
        }
    }

    /// The vendor/device part of an `lspci -nn` line:
    /// `Intel Corporation 82540EM Gigabit Ethernet Controller [8086:100e]`,
    /// `Red Hat, Inc. Device [1b36:000e]`, `Device [1234:1111]`. Unknown ids
    /// print as `????`.
    pub fn vendor_device_text(&self, v: Option<u16>, d: Option<u16>) -> String {
        if self.numeric {
            // lspci -n: `8086:100e`.
            return format!("{}:{}", hex4(v), hex4(d));
        }
        let num = format!("[{}:{}]", hex4(v), hex4(d));
        let vn = v.and_then(|v| self.vendor(v));
        let dn = match (v, d) {
            (Some(v), Some(d)) => self.device(v, d),
            _ => None,
        };
        match (vn, dn) {
            (Some(vn), Some(dn)) => format!("{vn} {dn} {num}"),
            (Some(vn), None) => format!("{vn} Device {num}"),
            (None, _) => format!("Device {num}"),
        }
    }

    /// The subsystem as lspci -v names it.
    pub fn subsystem_text(&self, v: Option<u16>, d: Option<u16>, sv: u16, sd: u16) -> String {
        if self.numeric {
            // lspci -n -v: `Subsystem: 1af4:1100`.
            return format!("{sv:04x}:{sd:04x}");
        }
        let num = format!("[{sv:04x}:{sd:04x}]");
        let name = match (v, d) {
            (Some(v), Some(d)) => self.subsystem(v, d, sv, sd).or_else(|| {
                // lspci falls back to the device's own name when the
                // subsystem ids repeat the device ids.
                if v == sv && d == sd {
                    self.device(v, d)
                } else {
                    None
                }
            }),
            _ => None,
        };
        match (self.vendor(sv), name) {
            (Some(vn), Some(n)) => format!("{vn} {n} {num}"),
            (Some(vn), None) => format!("{vn} Device {num}"),
            (None, _) => format!("Device {num}"),
        }
    }
}

/// Four hex digits, or `????` when unknown.
pub fn hex4(v: Option<u16>) -> String {
    v.map_or_else(|| "????".to_string(), |v| format!("{v:04x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# comment
8086  Intel Corporation
\t100e  82540EM Gigabit Ethernet Controller
\t\t1af4 1100  QEMU Virtual Machine
\t2922  82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]
1b36  Red Hat, Inc.
C 01  Mass storage controller
\t06  SATA controller
\t\t01  AHCI 1.0
C 00  Unclassified device
\t00  Non-VGA unclassified device
";

    #[test]
    fn numeric_text_is_lspci_n() {
        let ids = Ids::file(IdsFile::parse(SAMPLE)).numeric(true);
        assert_eq!(ids.class_text(Some(0x0106)), "0106");
        assert_eq!(ids.class_text(None), "????");
        assert_eq!(
            ids.vendor_device_text(Some(0x8086), Some(0x2922)),
            "8086:2922"
        );
        assert_eq!(ids.vendor_device_text(Some(0x1234), None), "1234:????");
        assert_eq!(
            ids.subsystem_text(Some(0x8086), Some(0x100e), 0x1af4, 0x1100),
            "1af4:1100"
        );
        // Lookups (the records' name columns) still answer.
        assert_eq!(ids.vendor(0x8086), Some("Intel Corporation"));
    }

    #[test]
    fn file_lookups_and_lspci_text() {
        let ids = Ids::file(IdsFile::parse(SAMPLE));
        assert_eq!(ids.class_text(Some(0x0106)), "SATA controller [0106]");
        assert_eq!(ids.class_text(Some(0x00ff)), "Unclassified device [00ff]");
        assert_eq!(ids.class_text(Some(0x0c03)), "Class [0c03]");
        assert_eq!(ids.prog_if(1, 6, 1), Some("AHCI 1.0"));
        assert_eq!(
            ids.vendor_device_text(Some(0x8086), Some(0x2922)),
            "Intel Corporation 82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode] [8086:2922]"
        );
        assert_eq!(
            ids.vendor_device_text(Some(0x1b36), Some(0xe)),
            "Red Hat, Inc. Device [1b36:000e]"
        );
        assert_eq!(
            ids.vendor_device_text(Some(0x1234), None),
            "Device [1234:????]"
        );
        assert_eq!(
            ids.subsystem_text(Some(0x8086), Some(0x100e), 0x1af4, 0x1100),
            "Device [1af4:1100]"
        );
    }

    #[test]
    fn embedded_database_knows_qemu_devices() {
        let ids = Ids::embedded();
        assert_eq!(ids.vendor(0x1af4), Some("Red Hat, Inc."));
        assert_eq!(ids.class_name(0x0106), Some("SATA controller"));
        assert!(
            ids.device(0x8086, 0x100e)
                .is_some_and(|n| n.contains("82540EM"))
        );
        assert!(
            ids.subsystem(0x8086, 0x100e, 0x1af4, 0x1100)
                .is_some_and(|n| n.contains("QEMU"))
        );
    }
}
