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
//!
//! The [`Decoder`] does this once per line of a large trace, so it looks
//! everything up before the scan: the event name goes to an [`Ev`] without
//! hashing, each event's specs come from the catalog once, and argument names
//! are resolved to positions once per spec; messages are only formatted for
//! lines that cannot be used.

use qtrace_core::catalog::{Catalog, EventSpecs, Fields, Projection};
use qtrace_core::format::Slot;
use qtrace_core::names::NameMap;
use qtrace_core::scan::Event;
use qtrace_core::value::Kind;

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

/// The events the tool reads, one per name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    /// `dma_blk_io`.
    DmaBlkIo,
    /// `dma_complete`.
    DmaComplete,
    /// `dma_aio_cancel`.
    DmaAioCancel,
    /// `ide_dma_cb`.
    IdeDmaCb,
    /// `ide_sector_read`.
    IdeSectorRead,
    /// `ide_sector_write`.
    IdeSectorWrite,
    /// `process_ncq_command`.
    ProcessNcq,
    /// `execute_ncq_command_read`.
    ExecNcqRead,
    /// `execute_ncq_command_write`.
    ExecNcqWrite,
    /// `ahci_start_dma`.
    AhciStartDma,
    /// `blk_co_preadv`.
    BlkCoPreadv,
    /// `blk_co_pwritev`.
    BlkCoPwritev,
    /// `bdrv_aio_readv`.
    BdrvAioReadv,
    /// `bdrv_aio_writev`.
    BdrvAioWritev,
    /// `blk_root_attach`.
    BlkRootAttach,
    /// `blk_root_detach`.
    BlkRootDetach,
    /// `virtio_blk_handle_read`.
    VirtioRead,
    /// `virtio_blk_handle_write`.
    VirtioWrite,
    /// `virtio_blk_rw_complete`.
    VirtioRwComplete,
    /// `virtio_blk_req_complete`.
    VirtioReqComplete,
    /// `pci_nvme_read`.
    PciNvmeRead,
    /// `pci_nvme_write`.
    PciNvmeWrite,
    /// `pci_nvme_rw` (before QEMU 6.0).
    PciNvmeRw,
    /// `nvme_rw` (older still).
    NvmeRw,
    /// `scsi_disk_dma_command_READ`.
    ScsiRead,
    /// `scsi_disk_dma_command_WRITE`.
    ScsiWrite,
}

/// Every event the tool reads, by name (the index is the [`Ev`] value).
pub const EVENTS: [(&str, Ev); 26] = [
    ("dma_blk_io", Ev::DmaBlkIo),
    ("dma_complete", Ev::DmaComplete),
    ("dma_aio_cancel", Ev::DmaAioCancel),
    ("ide_dma_cb", Ev::IdeDmaCb),
    ("ide_sector_read", Ev::IdeSectorRead),
    ("ide_sector_write", Ev::IdeSectorWrite),
    ("process_ncq_command", Ev::ProcessNcq),
    ("execute_ncq_command_read", Ev::ExecNcqRead),
    ("execute_ncq_command_write", Ev::ExecNcqWrite),
    ("ahci_start_dma", Ev::AhciStartDma),
    ("blk_co_preadv", Ev::BlkCoPreadv),
    ("blk_co_pwritev", Ev::BlkCoPwritev),
    ("bdrv_aio_readv", Ev::BdrvAioReadv),
    ("bdrv_aio_writev", Ev::BdrvAioWritev),
    ("blk_root_attach", Ev::BlkRootAttach),
    ("blk_root_detach", Ev::BlkRootDetach),
    ("virtio_blk_handle_read", Ev::VirtioRead),
    ("virtio_blk_handle_write", Ev::VirtioWrite),
    ("virtio_blk_rw_complete", Ev::VirtioRwComplete),
    ("virtio_blk_req_complete", Ev::VirtioReqComplete),
    ("pci_nvme_read", Ev::PciNvmeRead),
    ("pci_nvme_write", Ev::PciNvmeWrite),
    ("pci_nvme_rw", Ev::PciNvmeRw),
    ("nvme_rw", Ev::NvmeRw),
    ("scsi_disk_dma_command_READ", Ev::ScsiRead),
    ("scsi_disk_dma_command_WRITE", Ev::ScsiWrite),
];

impl Ev {
    /// The event name.
    pub fn name(self) -> &'static str {
        EVENTS[self as usize].0
    }
}

/// Why an event of the tool's could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// No format of the event in the catalog matches the arguments.
    NoFormat,
    /// The arguments matched but make no sense (a negative offset, a
    /// missing argument...): the message says which.
    Bad(String),
}

// The arguments each event is read through, in the order they are read (the
// first problem is the one reported); each is a list of alternative names,
// the first of which names it in messages.
const DMA_BLK_IO: [&[&str]; 5] = [
    &["offset"],
    &["sector_num"],
    &["dbs"],
    &["bs", "blk"],
    &["to_dev"],
];
const DBS: [&[&str]; 1] = [&["dbs"]];
const IDE_DMA_CB: [&[&str]; 4] = [&["dma", "cmd"], &["sector_num"], &["n"], &["s"]];
const IDE_SECTOR: [&[&str]; 2] = [&["sector_num", "sector"], &["nsectors"]];
const PROCESS_NCQ: [&[&str]; 6] = [&["s"], &["port"], &["tag"], &["cmd"], &["lba"], &["end"]];
const EXEC_NCQ: [&[&str]; 5] = [&["s"], &["port"], &["tag"], &["count"], &["lba"]];
const AHCI_START_DMA: [&[&str]; 2] = [&["s"], &["port"]];
const BLK_CO: [&[&str]; 3] = [&["blk"], &["offset"], &["bytes"]];
const BDRV_AIO: [&[&str]; 3] = [&["bs"], &["sector_num"], &["nb_sectors"]];
const BLK_ROOT: [&[&str]; 2] = [&["child"], &["blk"]];
const VIRTIO_RW: [&[&str]; 4] = [&["vdev"], &["sector"], &["nsectors"], &["req"]];
const REQ: [&[&str]; 1] = [&["req"]];
const NVME: [&[&str]; 4] = [
    &["verb", "opname"],
    &["nlb", "blk_count"],
    &["count", "byte_count"],
    &["lba", "slba"],
];
const SCSI: [&[&str]; 2] = [&["len", "count"], &["lba", "sector"]];

/// Turns the lines of the events the tool reads into observations.
///
/// Built once per run: each event's specs are looked up in the catalog
/// once, and its arguments resolved to positions once per spec (one
/// [`Projection`] per event, so events that alternate do not evict each
/// other), so a line costs a name check, the format match and a few array
/// reads.
#[derive(Debug)]
pub struct Decoder<'c> {
    names: NameMap<Ev>,
    specs: [Option<EventSpecs<'c>>; EVENTS.len()],
    dma_blk_io: Projection<5>,
    dma_complete: Projection<1>,
    dma_aio_cancel: Projection<1>,
    ide_dma_cb: Projection<4>,
    ide_sector: [Projection<2>; 2],
    process_ncq: Projection<6>,
    exec_ncq: [Projection<5>; 2],
    ahci_start_dma: Projection<2>,
    blk_co: [Projection<3>; 2],
    bdrv_aio: [Projection<3>; 2],
    blk_root: [Projection<2>; 2],
    virtio_rw: [Projection<4>; 2],
    virtio_done: [Projection<1>; 2],
    nvme: [Projection<4>; 4],
    scsi: [Projection<2>; 2],
}

impl<'c> Decoder<'c> {
    /// A decoder for the events `catalog` declares.
    pub fn new(catalog: &'c Catalog) -> Decoder<'c> {
        Decoder {
            names: {
                let mut names = NameMap::new();
                for (name, ev) in EVENTS {
                    names.insert(name.as_bytes(), ev);
                }
                names
            },
            specs: EVENTS.map(|(name, _)| catalog.event(name.as_bytes())),
            dma_blk_io: Projection::new(DMA_BLK_IO),
            dma_complete: Projection::new(DBS),
            dma_aio_cancel: Projection::new(DBS),
            ide_dma_cb: Projection::new(IDE_DMA_CB),
            ide_sector: [(); 2].map(|_| Projection::new(IDE_SECTOR)),
            process_ncq: Projection::new(PROCESS_NCQ),
            exec_ncq: [(); 2].map(|_| Projection::new(EXEC_NCQ)),
            ahci_start_dma: Projection::new(AHCI_START_DMA),
            blk_co: [(); 2].map(|_| Projection::new(BLK_CO)),
            bdrv_aio: [(); 2].map(|_| Projection::new(BDRV_AIO)),
            blk_root: [(); 2].map(|_| Projection::new(BLK_ROOT)),
            virtio_rw: [(); 2].map(|_| Projection::new(VIRTIO_RW)),
            virtio_done: [(); 2].map(|_| Projection::new(REQ)),
            nvme: [(); 4].map(|_| Projection::new(NVME)),
            scsi: [(); 2].map(|_| Projection::new(SCSI)),
        }
    }

    /// The event called `name`, when the tool reads it (checked before
    /// decoding; cheap for the names it does not read).
    #[inline]
    pub fn event(&self, name: &[u8]) -> Option<Ev> {
        self.names.get(name).copied()
    }

    /// Which of the tool's events `event` is, if any: from its position in
    /// [`event_names`](Self::event_names) when a splitting thread decoded
    /// it (no need to look at its name), else by name.
    #[inline]
    pub fn kind(&self, event: &Event<'_>) -> Option<Ev> {
        match event.pre {
            Some(pre) => EVENTS.get(pre.event as usize).map(|&(_, ev)| ev),
            None => self.event(event.name),
        }
    }

    /// The names of the events the tool reads, in the order of [`EVENTS`]
    /// (which [`kind`](Self::kind) relies on).
    pub fn event_names() -> impl Iterator<Item = &'static str> {
        EVENTS.iter().map(|&(name, _)| name)
    }

    /// Decodes the arguments of one event line of kind `kind` and turns
    /// them into an observation, taking the arguments as the splitting
    /// thread decoded them where it did (see `ScanOptions::predecode`).
    /// `Ok(None)`: the event is understood but says nothing about sectors
    /// (e.g. an NVMe flush). `scratch` is reused between lines.
    #[inline]
    pub fn observe(
        &mut self,
        kind: Ev,
        event: &Event<'_>,
        scratch: &mut Vec<Slot>,
    ) -> Result<Option<Obs>, Unusable> {
        let Some(specs) = self.specs[kind as usize] else {
            return Err(Unusable::NoFormat);
        };
        let Some(f) = specs.decode_event(event, scratch) else {
            return Err(Unusable::NoFormat);
        };
        self.fields(kind, &f)
    }

    fn fields(&mut self, ev: Ev, f: &Fields<'_>) -> R<Option<Obs>> {
        let obs = match ev {
            Ev::DmaBlkIo => {
                let [offset, sector_num, dbs, bs, to_dev] = self.dma_blk_io.resolve(f);
                let offset = match (offset, sector_num) {
                    (None, Some(_)) => mul(num(f, sector_num, DMA_BLK_IO[1])?, 512, "sector_num")?,
                    _ => num(f, offset, DMA_BLK_IO[0])?,
                };
                Obs::DmaIo {
                    dbs: ptr(f, dbs, DMA_BLK_IO[2])?,
                    bs: ptr(f, bs, DMA_BLK_IO[3])?,
                    offset,
                    op: Op::from_write(int(f, to_dev, DMA_BLK_IO[4])? != 0),
                }
            }
            Ev::DmaComplete => {
                let [dbs] = self.dma_complete.resolve(f);
                Obs::DmaDone {
                    dbs: ptr(f, dbs, DBS[0])?,
                    ok: true,
                }
            }
            Ev::DmaAioCancel => {
                let [dbs] = self.dma_aio_cancel.resolve(f);
                Obs::DmaDone {
                    dbs: ptr(f, dbs, DBS[0])?,
                    ok: false,
                }
            }
            Ev::IdeDmaCb => {
                let [cmd, sector_num, n, s] = self.ide_dma_cb.resolve(f);
                let op = match text(f, cmd, IDE_DMA_CB[0])? {
                    b"DMA READ" => Op::Read,
                    b"DMA WRITE" => Op::Write,
                    _ => return Ok(Some(Obs::IdeOther)),
                };
                Obs::Hint(Hint {
                    ctrl: Ctrl::Ide,
                    source: "ide_dma_cb",
                    op: Some(op),
                    geom: Geom {
                        start: num(f, sector_num, IDE_DMA_CB[1])?,
                        count: num(f, n, IDE_DMA_CB[2])?,
                        unit: Some(512),
                    },
                    dev: Some(DevKey::Ide(ptr(f, s, IDE_DMA_CB[3])?)),
                    ncq: None,
                    vreq: None,
                    via_dma: true,
                })
            }
            Ev::IdeSectorRead | Ev::IdeSectorWrite => {
                let write = ev == Ev::IdeSectorWrite;
                let [sector, nsectors] = self.ide_sector[usize::from(write)].resolve(f);
                Obs::Hint(Hint {
                    ctrl: Ctrl::Ide,
                    source: ev.name(),
                    op: Some(Op::from_write(write)),
                    geom: Geom {
                        start: num(f, sector, IDE_SECTOR[0])?,
                        count: num(f, nsectors, IDE_SECTOR[1])?,
                        unit: Some(512),
                    },
                    dev: None,
                    ncq: None,
                    vreq: None,
                    via_dma: false,
                })
            }
            Ev::ProcessNcq => {
                let [s, port, tag, cmd, lba, end] = self.process_ncq.resolve(f);
                let s = ptr(f, s, PROCESS_NCQ[0])?;
                let port = int(f, port, PROCESS_NCQ[1])?;
                let tag = int(f, tag, PROCESS_NCQ[2])?;
                let op = match num(f, cmd, PROCESS_NCQ[3])? {
                    0x60 => Op::Read,
                    0x61 => Op::Write,
                    // NCQ NON-DATA, SEND/RECEIVE FPDMA: no sectors read or written.
                    _ => return Ok(None),
                };
                let lba = num(f, lba, PROCESS_NCQ[4])?;
                let end = num(f, end, PROCESS_NCQ[5])?;
                let count = end
                    .checked_sub(lba)
                    .and_then(|c| c.checked_add(1))
                    .ok_or_else(|| {
                        Unusable::Bad(format!("NCQ range [{lba},{end}] ends before it starts"))
                    })?;
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
            Ev::ExecNcqRead | Ev::ExecNcqWrite => {
                let write = ev == Ev::ExecNcqWrite;
                let [s, port, tag, count, lba] = self.exec_ncq[usize::from(write)].resolve(f);
                Obs::NcqExec {
                    ncq: (
                        ptr(f, s, EXEC_NCQ[0])?,
                        int(f, port, EXEC_NCQ[1])?,
                        int(f, tag, EXEC_NCQ[2])?,
                    ),
                    count: num(f, count, EXEC_NCQ[3])?,
                    lba: num(f, lba, EXEC_NCQ[4])?,
                    op: write.then_some(Op::Write),
                    source: ev.name(),
                }
            }
            Ev::AhciStartDma => {
                let [s, port] = self.ahci_start_dma.resolve(f);
                Obs::AhciStartDma(DevKey::Ahci(
                    ptr(f, s, AHCI_START_DMA[0])?,
                    int(f, port, AHCI_START_DMA[1])?,
                ))
            }
            Ev::BlkCoPreadv | Ev::BlkCoPwritev => {
                let write = ev == Ev::BlkCoPwritev;
                let [blk, offset, bytes] = self.blk_co[usize::from(write)].resolve(f);
                Obs::Data {
                    blk: ptr(f, blk, BLK_CO[0])?,
                    offset: num(f, offset, BLK_CO[1])?,
                    bytes: num(f, bytes, BLK_CO[2])?,
                    op: Op::from_write(write),
                    source: ev.name(),
                    legacy: false,
                }
            }
            Ev::BdrvAioReadv | Ev::BdrvAioWritev => {
                let write = ev == Ev::BdrvAioWritev;
                let [bs, sector_num, nb_sectors] = self.bdrv_aio[usize::from(write)].resolve(f);
                Obs::Data {
                    blk: ptr(f, bs, BDRV_AIO[0])?,
                    offset: mul(num(f, sector_num, BDRV_AIO[1])?, 512, "sector_num")?,
                    bytes: mul(num(f, nb_sectors, BDRV_AIO[2])?, 512, "nb_sectors")?,
                    op: Op::from_write(write),
                    source: ev.name(),
                    legacy: true,
                }
            }
            Ev::BlkRootAttach | Ev::BlkRootDetach => {
                let detach = ev == Ev::BlkRootDetach;
                let [child, blk] = self.blk_root[usize::from(detach)].resolve(f);
                let child = ptr(f, child, BLK_ROOT[0])?;
                let blk = ptr(f, blk, BLK_ROOT[1])?;
                if detach {
                    Obs::Detach { child, blk }
                } else {
                    Obs::Attach { child, blk }
                }
            }
            Ev::VirtioRead | Ev::VirtioWrite => {
                let write = ev == Ev::VirtioWrite;
                let [vdev, sector, nsectors, req] = self.virtio_rw[usize::from(write)].resolve(f);
                let dev = match vdev {
                    Some(_) => Some(DevKey::Virtio(ptr(f, vdev, VIRTIO_RW[0])?)),
                    None => None,
                };
                Obs::Hint(Hint {
                    ctrl: Ctrl::Virtio,
                    source: ev.name(),
                    op: Some(Op::from_write(write)),
                    geom: Geom {
                        start: num(f, sector, VIRTIO_RW[1])?,
                        count: num(f, nsectors, VIRTIO_RW[2])?,
                        unit: Some(512),
                    },
                    dev,
                    ncq: None,
                    vreq: Some(ptr(f, req, VIRTIO_RW[3])?),
                    via_dma: false,
                })
            }
            Ev::VirtioRwComplete | Ev::VirtioReqComplete => {
                let i = usize::from(ev == Ev::VirtioReqComplete);
                let [req] = self.virtio_done[i].resolve(f);
                Obs::VirtioDone {
                    req: ptr(f, req, REQ[0])?,
                }
            }
            Ev::PciNvmeRead => {
                let pos = self.nvme[0].resolve(f);
                return nvme_hint(ev.name(), Some(Op::Read), false, f, pos);
            }
            Ev::PciNvmeWrite | Ev::PciNvmeRw | Ev::NvmeRw => {
                let i = match ev {
                    Ev::PciNvmeWrite => 1,
                    Ev::PciNvmeRw => 2,
                    _ => 3,
                };
                let pos = self.nvme[i].resolve(f);
                let verb = text(f, pos[0], NVME[0])?;
                return nvme_hint(ev.name(), nvme_op(verb), is_zeroes(verb), f, pos);
            }
            Ev::ScsiRead | Ev::ScsiWrite => {
                let write = ev == Ev::ScsiWrite;
                let [len, lba] = self.scsi[usize::from(write)].resolve(f);
                let count = num(f, len, SCSI[0])?;
                if count == 0 {
                    return Ok(None);
                }
                Obs::Hint(Hint {
                    ctrl: Ctrl::Scsi,
                    source: ev.name(),
                    op: Some(Op::from_write(write)),
                    geom: Geom {
                        start: num(f, lba, SCSI[1])?,
                        count,
                        unit: None,
                    },
                    dev: None,
                    ncq: None,
                    vreq: None,
                    via_dma: false,
                })
            }
        };
        Ok(Some(obs))
    }
}

type R<T> = Result<T, Unusable>;

/// The position of an argument, or the message for its absence.
#[inline]
fn field(at: Option<usize>, names: &[&str]) -> R<usize> {
    match at {
        Some(i) => Ok(i),
        None => Err(missing(names)),
    }
}

#[cold]
fn missing(names: &[&str]) -> Unusable {
    Unusable::Bad(format!(
        "the event has no argument named {}",
        names.join(" or ")
    ))
}

#[cold]
fn not_a(what: &str, names: &[&str]) -> Unusable {
    Unusable::Bad(format!("{} is not a {what}", names[0]))
}

/// A non-negative integer (or pointer) argument.
#[inline]
fn num(f: &Fields<'_>, at: Option<usize>, names: &[&str]) -> R<u64> {
    let i = field(at, names)?;
    let v = f.num(i);
    match f.kind(i) {
        Kind::Signed if (v as i64) >= 0 => Ok(v),
        Kind::Signed => Err(negative(names, v as i64)),
        Kind::Unsigned(_) | Kind::Width | Kind::Pointer => Ok(v),
        Kind::Char => Ok(u64::from(v as u8)),
        Kind::Str | Kind::Errno | Kind::Float => Err(not_a("number", names)),
    }
}

#[cold]
fn negative(names: &[&str], v: i64) -> Unusable {
    Unusable::Bad(format!("{} is negative ({v})", names[0]))
}

/// An integer argument of either sign (ports, tags, flags).
#[inline]
fn int(f: &Fields<'_>, at: Option<usize>, names: &[&str]) -> R<i64> {
    let i = field(at, names)?;
    let v = f.num(i);
    match f.kind(i) {
        Kind::Signed => Ok(v as i64),
        Kind::Unsigned(_) | Kind::Width => i64::try_from(v).map_err(|_| not_a("number", names)),
        Kind::Char => Ok(i64::from(v as u8)),
        Kind::Pointer | Kind::Str | Kind::Errno | Kind::Float => Err(not_a("number", names)),
    }
}

#[inline]
fn ptr(f: &Fields<'_>, at: Option<usize>, names: &[&str]) -> R<u64> {
    let i = field(at, names)?;
    let v = f.num(i);
    match f.kind(i) {
        // NULL is 0.
        Kind::Pointer | Kind::Signed | Kind::Unsigned(_) | Kind::Width => Ok(v),
        Kind::Char => Ok(u64::from(v as u8)),
        Kind::Str | Kind::Errno | Kind::Float => Err(not_a("pointer", names)),
    }
}

#[inline]
fn text<'a>(f: &Fields<'a>, at: Option<usize>, names: &[&str]) -> R<&'a [u8]> {
    let i = field(at, names)?;
    Ok(match f.kind(i) {
        Kind::Str | Kind::Errno if !f.is_null(i) => f.text(i),
        Kind::Float => f.text(i),
        _ => b"",
    })
}

fn mul(a: u64, b: u64, what: &str) -> R<u64> {
    a.checked_mul(b)
        .ok_or_else(|| Unusable::Bad(format!("{what} overflows 64 bits")))
}

/// Whether `hay` contains `needle`, ignoring ASCII case.
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// NVMe direction from a verb (`read`, `write`) or an opname
/// (`NVME_NVM_CMD_READ`, `NVME_NVM_CMD_WRITE`, `..._WRITE_ZEROES`,
/// `NVME_ZONED_CMD_ZONE_APPEND`).
fn nvme_op(verb: &[u8]) -> Option<Op> {
    if contains_ignore_case(verb, b"read") {
        Some(Op::Read)
    } else if contains_ignore_case(verb, b"write") || contains_ignore_case(verb, b"append") {
        Some(Op::Write)
    } else {
        None
    }
}

fn is_zeroes(verb: &[u8]) -> bool {
    contains_ignore_case(verb, b"zeroes")
}

fn nvme_hint(
    source: &'static str,
    op: Option<Op>,
    zeroes: bool,
    f: &Fields<'_>,
    pos: [Option<usize>; 4],
) -> R<Option<Obs>> {
    let Some(op) = op else {
        // Flush, compare, dataset management...: no sectors moved.
        return Ok(None);
    };
    let [_, nlb, count, lba] = pos;
    let nlb = num(f, nlb, NVME[1])?;
    let count = num(f, count, NVME[2])?;
    let lba = num(f, lba, NVME[3])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(line: &str) -> Result<Option<Obs>, String> {
        let cat = Catalog::builtin();
        let mut dec = Decoder::new(&cat);
        let scanner = qtrace_core::scan::Scanner::new(&cat, Default::default());
        let text = qtrace_core::lines::Line {
            number: 1,
            bytes: line.as_bytes(),
            full: line.as_bytes(),
        };
        let qtrace_core::scan::Record::Event(event) = scanner.classify(text) else {
            panic!("not an event line: {line}");
        };
        let ev = dec.event(event.name).expect("an event the tool reads");
        let mut scratch = Vec::new();
        dec.observe(ev, &event, &mut scratch).map_err(|e| match e {
            Unusable::Bad(what) => what,
            Unusable::NoFormat => panic!("does not decode: {line}"),
        })
    }

    #[test]
    fn names_are_told_apart() {
        let cat = Catalog::builtin();
        let dec = Decoder::new(&cat);
        for (name, ev) in EVENTS {
            assert_eq!(dec.event(name.as_bytes()), Some(ev), "{name}");
            assert_eq!(ev.name(), name);
            let mut other = name.as_bytes().to_vec();
            for i in 0..other.len() {
                other[i] ^= 0x20;
                assert_eq!(dec.event(&other), None);
                other[i] ^= 0x20;
            }
            other.push(b'x');
            assert_eq!(dec.event(&other), None);
            assert_eq!(dec.event(&other[..name.len() - 1]), None);
        }
        for name in [
            "",
            "dma",
            "dma_blk_cb",
            "ncq_finish",
            "pci_nvme_rw_cb",
            "nvme_r",
        ] {
            assert_eq!(dec.event(name.as_bytes()), None, "{name}");
        }
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
