//! From decoded trace events to block-level observations.
//!
//! This is the only place that knows event and argument names. Each event
//! the tool uses is turned into one owned [`Obs`] (an observation: "the
//! guest asked controller X for N sectors at S", "the block layer read B
//! bytes at O of backend P", "DMA transfer D completed", ...), with argument
//! names looked up through the catalog (several names where QEMU renamed an
//! argument between versions). Values are never trusted: a negative offset or
//! a missing argument becomes an error message for the caller to report with
//! the line, never a panic.

use qtrace_core::catalog::Fields;
use qtrace_core::value::Value;

/// A disk controller kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ctrl {
    /// IDE (PIIX/ICH bus-master DMA, PIO), also AHCI's non-NCQ commands when
    /// nothing else says AHCI.
    Ide,
    /// AHCI (SATA), recognised by NCQ commands or `ahci_start_dma`.
    Ahci,
    /// virtio-blk.
    Virtio,
    /// Emulated NVMe.
    Nvme,
    /// scsi-disk (`scsi-hd`, `scsi-cd`) behind any HBA.
    Scsi,
}

impl Ctrl {
    /// The name printed in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Ctrl::Ide => "ide",
            Ctrl::Ahci => "ahci",
            Ctrl::Virtio => "virtio",
            Ctrl::Nvme => "nvme",
            Ctrl::Scsi => "scsi",
        }
    }

    /// Index for per-kind counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Kinds whose requests reach the block layer through `dma_blk_io`.
    pub fn uses_dma_helpers(self) -> bool {
        matches!(self, Ctrl::Ide | Ctrl::Ahci | Ctrl::Nvme)
    }
}

/// Number of controller kinds.
pub const CTRL_KINDS: usize = 5;

/// Read or write, from the guest's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// Data from the disk to the guest.
    Read,
    /// Data from the guest to the disk.
    Write,
}

impl Op {
    /// `read` / `write`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
        }
    }
    /// `R` / `W`.
    pub fn letter(self) -> char {
        match self {
            Op::Read => 'R',
            Op::Write => 'W',
        }
    }
    fn from_write(w: bool) -> Op {
        if w { Op::Write } else { Op::Read }
    }
}

/// A controller-side identity of a device, to map requests that never reach
/// a traced block-layer event to the right disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DevKey {
    /// An `IDEState *`.
    Ide(u64),
    /// An AHCI state pointer and port.
    Ahci(u64, i64),
    /// A virtio device pointer.
    Virtio(u64),
}

impl DevKey {
    /// The pointer, for display and `--label`.
    pub fn ptr(self) -> u64 {
        match self {
            DevKey::Ide(p) | DevKey::Ahci(p, _) | DevKey::Virtio(p) => p,
        }
    }
}

/// A request as a controller describes it: `count` units of `unit` bytes
/// starting at unit `start`. `unit` is `None` when the event does not say
/// (SCSI logical blocks: 512 for scsi-hd by default, 2048 for scsi-cd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geom {
    /// First unit.
    pub start: u64,
    /// Number of units.
    pub count: u64,
    /// Bytes per unit, when known.
    pub unit: Option<u64>,
}

/// A controller event describing a guest request.
#[derive(Debug, Clone, Copy)]
pub struct Hint {
    /// The controller kind.
    pub ctrl: Ctrl,
    /// The event name.
    pub source: &'static str,
    /// Direction, when the event says.
    pub op: Option<Op>,
    /// Position and length.
    pub geom: Geom,
    /// The device, when the event names it.
    pub dev: Option<DevKey>,
    /// NCQ identity (AHCI pointer, port, tag), to merge `process_ncq_command`
    /// with `execute_ncq_command_*`.
    pub ncq: Option<(u64, i64, i64)>,
    /// virtio request pointer, to pair the completion.
    pub vreq: Option<u64>,
    /// The request goes through `dma_blk_io` (IDE and AHCI DMA, NVMe reads
    /// and writes), so a block-layer event alone must not take it while
    /// the trace has `dma_blk_io` events.
    pub via_dma: bool,
}

/// One observation from one trace event.
#[derive(Debug, Clone, Copy)]
pub enum Obs {
    /// A controller describes a request.
    Hint(Hint),
    /// `execute_ncq_command_*`: the second NCQ event of a request.
    NcqExec {
        /// AHCI pointer, port, tag.
        ncq: (u64, i64, i64),
        /// Sectors.
        count: u64,
        /// First sector.
        lba: u64,
        /// Direction by event name (unreliable up to QEMU 7.2: writes are
        /// traced as `_read`), so only `Some` for `_write`.
        op: Option<Op>,
        /// The event name.
        source: &'static str,
    },
    /// An IDE DMA command that is neither a read nor a write (TRIM, ATAPI,
    /// unknown): the `dma_blk_io` that follows on this thread is not a disk
    /// transfer at the offset it shows.
    IdeOther,
    /// `ahci_start_dma`: the next `ide_dma_cb` on this thread is AHCI's.
    AhciStartDma(DevKey),
    /// `dma_blk_io`: a DMA transfer starts.
    DmaIo {
        /// The DMA state pointer (pairs with `dma_complete`).
        dbs: u64,
        /// The opaque the I/O function got: the BlockBackend for IDE, AHCI
        /// and NVMe.
        bs: u64,
        /// Byte offset.
        offset: u64,
        /// Direction.
        op: Op,
    },
    /// `blk_co_preadv` / `blk_co_pwritev` (or `bdrv_aio_*` in old QEMUs):
    /// the block layer moves data.
    Data {
        /// BlockBackend pointer.
        blk: u64,
        /// Byte offset.
        offset: u64,
        /// Byte count.
        bytes: u64,
        /// Direction.
        op: Op,
        /// The event name.
        source: &'static str,
        /// True for the pre-2.7 `bdrv_aio_*` fallback events.
        legacy: bool,
    },
    /// `dma_complete` (or `dma_aio_cancel` with `ok: false`).
    DmaDone {
        /// The DMA state pointer.
        dbs: u64,
        /// Completed (true) or cancelled (false).
        ok: bool,
    },
    /// A virtio-blk request completed.
    VirtioDone {
        /// Request pointer.
        req: u64,
    },
    /// `blk_root_attach`.
    Attach {
        /// The BdrvChild pointer.
        child: u64,
        /// The BlockBackend.
        blk: u64,
    },
    /// `blk_root_detach`.
    Detach {
        /// The BdrvChild pointer.
        child: u64,
        /// The BlockBackend.
        blk: u64,
    },
}

/// Whether the tool looks at events with this name (checked before decoding).
pub fn is_interesting(name: &[u8]) -> bool {
    matches!(
        name,
        b"dma_blk_io"
            | b"dma_complete"
            | b"dma_aio_cancel"
            | b"ide_dma_cb"
            | b"ide_sector_read"
            | b"ide_sector_write"
            | b"process_ncq_command"
            | b"execute_ncq_command_read"
            | b"execute_ncq_command_write"
            | b"ahci_start_dma"
            | b"blk_co_preadv"
            | b"blk_co_pwritev"
            | b"bdrv_aio_readv"
            | b"bdrv_aio_writev"
            | b"blk_root_attach"
            | b"blk_root_detach"
            | b"virtio_blk_handle_read"
            | b"virtio_blk_handle_write"
            | b"virtio_blk_rw_complete"
            | b"virtio_blk_req_complete"
            | b"pci_nvme_read"
            | b"pci_nvme_write"
            | b"pci_nvme_rw"
            | b"nvme_rw"
            | b"scsi_disk_dma_command_READ"
            | b"scsi_disk_dma_command_WRITE"
    )
}

type R<T> = Result<T, String>;

fn field<'a>(f: &Fields<'a>, names: &[&str]) -> R<Value<'a>> {
    f.get_any(names)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("the event has no argument named {}", names.join(" or ")))
}

/// A non-negative integer (or pointer) argument.
fn num(f: &Fields<'_>, names: &[&str]) -> R<u64> {
    match field(f, names)? {
        Value::Signed(v) if v >= 0 => Ok(v as u64),
        Value::Signed(v) => Err(format!("{} is negative ({v})", names[0])),
        Value::Unsigned(v, _) => Ok(v),
        Value::Pointer(p) => Ok(p.unwrap_or(0)),
        Value::Char(c) => Ok(u64::from(c)),
        _ => Err(format!("{} is not a number", names[0])),
    }
}

/// An integer argument of either sign (ports, tags, flags).
fn int(f: &Fields<'_>, names: &[&str]) -> R<i64> {
    field(f, names)?
        .as_i64()
        .ok_or_else(|| format!("{} is not a number", names[0]))
}

fn ptr(f: &Fields<'_>, names: &[&str]) -> R<u64> {
    match field(f, names)? {
        Value::Pointer(p) => Ok(p.unwrap_or(0)),
        other => other
            .as_u64()
            .ok_or_else(|| format!("{} is not a pointer", names[0])),
    }
}

fn text<'a>(f: &Fields<'a>, names: &[&str]) -> R<&'a [u8]> {
    Ok(match field(f, names)? {
        Value::Str(Some(s)) | Value::Float(s) => s,
        _ => b"",
    })
}

fn mul(a: u64, b: u64, what: &str) -> R<u64> {
    a.checked_mul(b)
        .ok_or_else(|| format!("{what} overflows 64 bits"))
}

/// NVMe direction from a verb (`read`, `write`) or an opname
/// (`NVME_NVM_CMD_READ`, `NVME_NVM_CMD_WRITE`, `..._WRITE_ZEROES`,
/// `NVME_ZONED_CMD_ZONE_APPEND`).
fn nvme_op(verb: &[u8]) -> Option<Op> {
    let v = String::from_utf8_lossy(verb).to_ascii_lowercase();
    if v.contains("read") {
        Some(Op::Read)
    } else if v.contains("write") || v.contains("append") {
        Some(Op::Write)
    } else {
        None
    }
}

fn is_zeroes(verb: &[u8]) -> bool {
    verb.windows(6).any(|w| w.eq_ignore_ascii_case(b"zeroes"))
}

fn nvme_hint(source: &'static str, op: Option<Op>, zeroes: bool, f: &Fields<'_>) -> R<Option<Obs>> {
    let Some(op) = op else {
        // Flush, compare, dataset management...: no sectors moved.
        return Ok(None);
    };
    let nlb = num(f, &["nlb", "blk_count"])?;
    let count = num(f, &["count", "byte_count"])?;
    let lba = num(f, &["lba", "slba"])?;
    // The namespace's block size: bytes per block, when it divides evenly
    // (extended-LBA formats add metadata to `count`; then it is unknown).
    let unit = (nlb > 0 && count % nlb == 0 && count / nlb >= 1).then(|| count / nlb);
    // Write Zeroes goes straight to the block layer, not through dma_blk_io.
    let via_dma = !zeroes;
    Ok(Some(Obs::Hint(Hint {
        ctrl: Ctrl::Nvme,
        source,
        op: Some(op),
        geom: Geom {
            start: lba,
            count: nlb,
            unit,
        },
        dev: None,
        ncq: None,
        vreq: None,
        via_dma,
    })))
}

/// Turns one decoded event into an observation. `Ok(None)`: the event is
/// understood but says nothing about sectors (e.g. an NVMe flush).
pub fn observe(name: &[u8], f: &Fields<'_>) -> R<Option<Obs>> {
    let obs = match name {
        b"dma_blk_io" => {
            let offset = match f.get_any(&["offset", "sector_num"]) {
                Some((i, _)) if f.name(i) == "sector_num" => {
                    mul(num(f, &["sector_num"])?, 512, "sector_num")?
                }
                _ => num(f, &["offset"])?,
            };
            Obs::DmaIo {
                dbs: ptr(f, &["dbs"])?,
                bs: ptr(f, &["bs", "blk"])?,
                offset,
                op: Op::from_write(int(f, &["to_dev"])? != 0),
            }
        }
        b"dma_complete" => Obs::DmaDone {
            dbs: ptr(f, &["dbs"])?,
            ok: true,
        },
        b"dma_aio_cancel" => Obs::DmaDone {
            dbs: ptr(f, &["dbs"])?,
            ok: false,
        },
        b"ide_dma_cb" => {
            let cmd = text(f, &["dma", "cmd"])?;
            let op = match cmd {
                b"DMA READ" => Op::Read,
                b"DMA WRITE" => Op::Write,
                _ => return Ok(Some(Obs::IdeOther)),
            };
            Obs::Hint(Hint {
                ctrl: Ctrl::Ide,
                source: "ide_dma_cb",
                op: Some(op),
                geom: Geom {
                    start: num(f, &["sector_num"])?,
                    count: num(f, &["n"])?,
                    unit: Some(512),
                },
                dev: Some(DevKey::Ide(ptr(f, &["s"])?)),
                ncq: None,
                vreq: None,
                via_dma: true,
            })
        }
        b"ide_sector_read" | b"ide_sector_write" => {
            let (op, source) = if name == b"ide_sector_read" {
                (Op::Read, "ide_sector_read")
            } else {
                (Op::Write, "ide_sector_write")
            };
            Obs::Hint(Hint {
                ctrl: Ctrl::Ide,
                source,
                op: Some(op),
                geom: Geom {
                    start: num(f, &["sector_num", "sector"])?,
                    count: num(f, &["nsectors"])?,
                    unit: Some(512),
                },
                dev: None,
                ncq: None,
                vreq: None,
                via_dma: false,
            })
        }
        b"process_ncq_command" => {
            let s = ptr(f, &["s"])?;
            let port = int(f, &["port"])?;
            let tag = int(f, &["tag"])?;
            let op = match num(f, &["cmd"])? {
                0x60 => Op::Read,
                0x61 => Op::Write,
                // NCQ NON-DATA, SEND/RECEIVE FPDMA: no sectors read or written.
                _ => return Ok(None),
            };
            let lba = num(f, &["lba"])?;
            let end = num(f, &["end"])?;
            let count = end
                .checked_sub(lba)
                .and_then(|c| c.checked_add(1))
                .ok_or_else(|| format!("NCQ range [{lba},{end}] ends before it starts"))?;
            Obs::Hint(Hint {
                ctrl: Ctrl::Ahci,
                source: "process_ncq_command",
                op: Some(op),
                geom: Geom {
                    start: lba,
                    count,
                    unit: Some(512),
                },
                dev: Some(DevKey::Ahci(s, port)),
                ncq: Some((s, port, tag)),
                vreq: None,
                via_dma: true,
            })
        }
        b"execute_ncq_command_read" | b"execute_ncq_command_write" => {
            let write = name == b"execute_ncq_command_write";
            Obs::NcqExec {
                ncq: (ptr(f, &["s"])?, int(f, &["port"])?, int(f, &["tag"])?),
                count: num(f, &["count"])?,
                lba: num(f, &["lba"])?,
                op: write.then_some(Op::Write),
                source: if write {
                    "execute_ncq_command_write"
                } else {
                    "execute_ncq_command_read"
                },
            }
        }
        b"ahci_start_dma" => Obs::AhciStartDma(DevKey::Ahci(ptr(f, &["s"])?, int(f, &["port"])?)),
        b"blk_co_preadv" | b"blk_co_pwritev" => {
            let write = name == b"blk_co_pwritev";
            Obs::Data {
                blk: ptr(f, &["blk"])?,
                offset: num(f, &["offset"])?,
                bytes: num(f, &["bytes"])?,
                op: Op::from_write(write),
                source: if write {
                    "blk_co_pwritev"
                } else {
                    "blk_co_preadv"
                },
                legacy: false,
            }
        }
        b"bdrv_aio_readv" | b"bdrv_aio_writev" => {
            let write = name == b"bdrv_aio_writev";
            Obs::Data {
                blk: ptr(f, &["bs"])?,
                offset: mul(num(f, &["sector_num"])?, 512, "sector_num")?,
                bytes: mul(num(f, &["nb_sectors"])?, 512, "nb_sectors")?,
                op: Op::from_write(write),
                source: if write {
                    "bdrv_aio_writev"
                } else {
                    "bdrv_aio_readv"
                },
                legacy: true,
            }
        }
        b"blk_root_attach" => Obs::Attach {
            child: ptr(f, &["child"])?,
            blk: ptr(f, &["blk"])?,
        },
        b"blk_root_detach" => Obs::Detach {
            child: ptr(f, &["child"])?,
            blk: ptr(f, &["blk"])?,
        },
        b"virtio_blk_handle_read" | b"virtio_blk_handle_write" => {
            let write = name == b"virtio_blk_handle_write";
            let dev = match f.get("vdev") {
                Some(_) => Some(DevKey::Virtio(ptr(f, &["vdev"])?)),
                None => None,
            };
            Obs::Hint(Hint {
                ctrl: Ctrl::Virtio,
                source: if write {
                    "virtio_blk_handle_write"
                } else {
                    "virtio_blk_handle_read"
                },
                op: Some(Op::from_write(write)),
                geom: Geom {
                    start: num(f, &["sector"])?,
                    count: num(f, &["nsectors"])?,
                    unit: Some(512),
                },
                dev,
                ncq: None,
                vreq: Some(ptr(f, &["req"])?),
                via_dma: false,
            })
        }
        b"virtio_blk_rw_complete" | b"virtio_blk_req_complete" => Obs::VirtioDone {
            req: ptr(f, &["req"])?,
        },
        b"pci_nvme_read" => return nvme_hint("pci_nvme_read", Some(Op::Read), false, f),
        b"pci_nvme_write" => {
            let verb = text(f, &["verb", "opname"])?;
            return nvme_hint("pci_nvme_write", nvme_op(verb), is_zeroes(verb), f);
        }
        b"pci_nvme_rw" | b"nvme_rw" => {
            let verb = text(f, &["verb", "opname"])?;
            let op = nvme_op(verb);
            let source = if name == b"nvme_rw" {
                "nvme_rw"
            } else {
                "pci_nvme_rw"
            };
            return nvme_hint(source, op, is_zeroes(verb), f);
        }
        b"scsi_disk_dma_command_READ" | b"scsi_disk_dma_command_WRITE" => {
            let write = name == b"scsi_disk_dma_command_WRITE";
            let count = num(f, &["len", "count"])?;
            if count == 0 {
                return Ok(None);
            }
            Obs::Hint(Hint {
                ctrl: Ctrl::Scsi,
                source: if write {
                    "scsi_disk_dma_command_WRITE"
                } else {
                    "scsi_disk_dma_command_READ"
                },
                op: Some(Op::from_write(write)),
                geom: Geom {
                    start: num(f, &["lba", "sector"])?,
                    count,
                    unit: None,
                },
                dev: None,
                ncq: None,
                vreq: None,
                via_dma: false,
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(obs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrace_core::catalog::Catalog;

    fn obs(line: &str) -> R<Option<Obs>> {
        let cat = Catalog::builtin();
        let (name, msg) = line.split_once(' ').unwrap();
        let mut scratch = Vec::new();
        let f = cat
            .decode(name.as_bytes(), msg.as_bytes(), &mut scratch)
            .expect("decodes");
        observe(name.as_bytes(), &f)
    }

    #[test]
    fn dma_blk_io_both_units() {
        let Ok(Some(Obs::DmaIo {
            dbs,
            bs,
            offset,
            op,
            ..
        })) = obs("dma_blk_io dbs=0x7f bs=0x56 offset=4096 to_dev=1")
        else {
            panic!()
        };
        assert_eq!((dbs, bs, offset, op), (0x7f, 0x56, 4096, Op::Write));
        let Ok(Some(Obs::DmaIo { offset, op, .. })) =
            obs("dma_blk_io dbs=0x7f bs=0x56 sector_num=8 to_dev=0")
        else {
            panic!()
        };
        assert_eq!((offset, op), (4096, Op::Read));
        assert!(obs("dma_blk_io dbs=0x7f bs=0x56 offset=-4096 to_dev=0").is_err());
    }

    #[test]
    fn ncq_direction_comes_from_the_opcode() {
        let Ok(Some(Obs::Hint(h))) =
            obs("process_ncq_command ahci(0x55)[0][tag:3]: NCQ op 0x61 on sectors [1000,1001]")
        else {
            panic!()
        };
        assert_eq!(h.op, Some(Op::Write));
        assert_eq!(
            h.geom,
            Geom {
                start: 1000,
                count: 2,
                unit: Some(512)
            }
        );
        assert_eq!(h.ncq, Some((0x55, 0, 3)));
        let Ok(Some(Obs::NcqExec { op, count, .. })) = obs(
            "execute_ncq_command_read ahci(0x55)[0][tag:3]: NCQ reading 2 sectors from LBA 1000",
        ) else {
            panic!()
        };
        assert_eq!((op, count), (None, 2));
        assert!(
            obs("process_ncq_command ahci(0x55)[0][tag:3]: NCQ op 0x60 on sectors [9,8]").is_err()
        );
        assert!(matches!(
            obs("process_ncq_command ahci(0x55)[0][tag:3]: NCQ op 0x63 on sectors [0,0]"),
            Ok(None)
        ));
    }

    #[test]
    fn ide_commands_with_spaces() {
        let Ok(Some(Obs::Hint(h))) =
            obs("ide_dma_cb IDEState 0x5645; sector_num=4096 n=8 cmd=DMA WRITE")
        else {
            panic!()
        };
        assert_eq!(
            (h.op, h.geom.start, h.geom.count),
            (Some(Op::Write), 4096, 8)
        );
        assert!(matches!(
            obs("ide_dma_cb IDEState 0x5645; sector_num=0 n=1 cmd=DMA TRIM"),
            Ok(Some(Obs::IdeOther))
        ));
    }

    #[test]
    fn nvme_blocks_and_verbs() {
        let Ok(Some(Obs::Hint(h))) = obs("pci_nvme_read cid 64 nsid 1 nlb 8 count 4096 lba 0x18")
        else {
            panic!()
        };
        assert_eq!(
            h.geom,
            Geom {
                start: 0x18,
                count: 8,
                unit: Some(512)
            }
        );
        let Ok(Some(Obs::Hint(h))) = obs(
            "pci_nvme_write cid 1 opname 'NVME_NVM_CMD_WRITE' nsid 1 nlb 2 count 8192 lba 0x10",
        ) else {
            panic!()
        };
        assert_eq!((h.op, h.geom.unit), (Some(Op::Write), Some(4096)));
        let Ok(Some(Obs::Hint(h))) = obs("nvme_rw read 8 blocks (4096 bytes) from LBA 16") else {
            panic!()
        };
        assert_eq!((h.op, h.geom.start), (Some(Op::Read), 16));
    }

    #[test]
    fn scsi_virtio_and_block_layer() {
        let Ok(Some(Obs::Hint(h))) =
            obs("scsi_disk_dma_command_WRITE Write (sector 70016, count 32)")
        else {
            panic!()
        };
        assert_eq!(
            (h.op, h.geom.unit, h.geom.count),
            (Some(Op::Write), None, 32)
        );
        let Ok(Some(Obs::Hint(h))) =
            obs("virtio_blk_handle_read vdev 0x56 req 0x57 sector 8 nsectors 8")
        else {
            panic!()
        };
        assert_eq!((h.dev, h.vreq), (Some(DevKey::Virtio(0x56)), Some(0x57)));
        let Ok(Some(Obs::Data {
            blk,
            offset,
            bytes,
            op,
            ..
        })) = obs("blk_co_pwritev blk 0x56 bs 0x57 offset 512 bytes 1024 flags 0x0")
        else {
            panic!()
        };
        assert_eq!((blk, offset, bytes, op), (0x56, 512, 1024, Op::Write));
    }
}
