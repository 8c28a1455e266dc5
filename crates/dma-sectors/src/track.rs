//! Joining the events of one guest request into one [`Request`].
//!
//! A guest request shows up in up to three layers, in this order on the
//! submitting thread: a controller event (`ide_dma_cb`, `process_ncq_command`,
//! `virtio_blk_handle_read`, `pci_nvme_read`, `scsi_disk_dma_command_READ`,
//! `ide_sector_read`, ...: position and length in the controller's units, no
//! disk pointer except the controller's own), then `dma_blk_io` for IDE, AHCI
//! and NVMe (byte offset, direction, the disk's BlockBackend pointer, no
//! length), then one or more `blk_co_preadv`/`blk_co_pwritev` (BlockBackend,
//! byte offset, byte count; several when a transfer is split into chunks,
//! one for several virtio requests that were merged).
//!
//! The joins:
//! - a controller event becomes a *hint*, waiting for the block-layer event
//!   at the same byte offset and direction (same thread preferred, oldest
//!   first); `execute_ncq_command_*` is merged into its `process_ncq_command`
//!   by (AHCI, port, tag);
//! - `dma_blk_io` takes a hint at its offset (or, when none matches, the last
//!   DMA hint on its thread, reported as a disagreement) and opens a DMA
//!   transfer keyed by its `dbs` pointer; block-layer chunks at the
//!   transfer's next offset join it until the hinted length is covered;
//!   `dma_complete` closes it (pointers are reused: they pair in order) and
//!   gives the latency;
//! - a block-layer event that joins nothing is a request of its own (QEMU's
//!   own reads, e.g. the geometry probe of sector 0 at start-up).
//!
//! The origin: QEMU reads a disk itself while it sets the device up, before
//! the guest runs (`hd_geometry_guess` reads sector 0 for IDE, virtio-blk
//! and scsi-hd disks; pflash reads its image). Such a read reaches the
//! block layer alone, and on the traces of tests/data it comes before the
//! first event of any guest-facing device. So a request of its own that
//! starts before the first controller, `dma_blk_io` or completion event of
//! its input waits until such an event comes: then it is QEMU's
//! ([`Request::qemu`]). When none comes before the end of the input or
//! before [`MAX_STARTUP`] such requests (a trace of block-layer events
//! alone), nothing tells QEMU's reads from the guest's: they are the
//! guest's, and from then on requests are reported at once. (So in a live
//! stream, QEMU's start-up reads appear when the guest's first event does;
//! in one of block-layer events alone, the first few requests wait for the
//! next ones.)
//!
//! The length reported is the one the block layer moved (the event that
//! carries bytes), else the controller's. Every request is reported once, in
//! the order of its first event; a request waits in a bounded reorder buffer
//! until its companions arrived, at most [`TTL`] block events (then it is
//! reported with what is known). Hints that never meet a block-layer event in
//! a trace that has them, and companions that disagree, are reported on
//! stderr with the line; nothing is dropped.
//!
//! Disks are keyed by BlockBackend pointer, or by the controller's device
//! pointer (or kind alone) for requests that never reached a traced
//! block-layer event. `blk_root_attach` lines come in pairs per `-drive` (a
//! temporary backend, then the real one): the second of a pair names the
//! disk at once, so disk0, disk1, ... follow the `-drive` order when those
//! events are traced, and the order of first I/O otherwise.

use std::collections::VecDeque;

use qtrace_core::limits::Limit;
use qtrace_core::recognize::{Prefix, PrefixKind};
use qtrace_core::scan::Diag;

use crate::cli::LabelKey;
use crate::decode::{CTRL_KINDS, Ctrl, DevKey, Hint, Obs, Op};
use crate::smallmap::SmallMap;
use crate::warn::{Kind, Warnings};

/// Block events a request may wait for its companion events.
pub const TTL: u64 = 10_000;
/// Most requests held for reordering.
const MAX_HELD: usize = 65_536;
/// Most block-layer requests held before the guest's first event, waiting
/// to be told QEMU's own (a machine has a few disks; past this, a trace of
/// block-layer events alone is assumed).
pub const MAX_STARTUP: usize = 16;
/// Most open DMA transfers / virtio requests remembered for pairing (a
/// guest has at most a few hundred in flight).
const MAX_TABLE: usize = 65_536;
/// Most DMA transfers or split transfers waiting for further chunks.
const MAX_ACCEPTING: usize = 512;
/// Most entries in the per-thread and per-device tables, and most disks (a
/// bound against garbage input; real traces have a handful). Keys beyond
/// these caps are reported at the end and exit status is 2 (see
/// `qtrace_core::limits`).
const MAX_SMALL: usize = 4096;

/// The caps of the tracker's tables keyed by input data.
#[derive(Debug)]
struct Limits {
    disks: Limit,
    dmas: Limit,
    vreqs: Limit,
    backends: Limit,
    devices: Limit,
    threads: Limit,
    attach: Limit,
}

impl Limits {
    /// The default caps, or `cap` for every table.
    fn new(cap: Option<usize>) -> Limits {
        let l = |what, default| Limit::with_cap(what, cap.unwrap_or(default));
        Limits {
            disks: l("disks", MAX_SMALL),
            dmas: l("DMA transfers in flight", MAX_TABLE),
            vreqs: l("virtio requests in flight", MAX_TABLE),
            backends: l("block backends", MAX_SMALL),
            devices: l("controller devices", MAX_SMALL),
            threads: l("threads", MAX_SMALL),
            attach: l("attached block devices", MAX_SMALL),
        }
    }

    fn report(&self, diag: &Diag) {
        for l in [
            &self.disks,
            &self.dmas,
            &self.vreqs,
            &self.backends,
            &self.devices,
            &self.threads,
            &self.attach,
        ] {
            l.report(diag);
        }
    }
}

/// Sets `k` to `v` in a capped table: a key it holds is replaced, a new one
/// added only when `limit` admits it (else the refusal is recorded).
fn insert_capped<K: Copy + Eq + std::hash::Hash, V>(
    map: &mut SmallMap<K, V>,
    limit: &mut Limit,
    k: K,
    v: V,
    place: impl FnOnce() -> String,
) {
    if let Some(held) = map.get_mut(&k) {
        *held = v;
    } else if limit.admit(map.len(), place) {
        map.insert(k, v);
    }
}

/// `FILE:LINE` of input `input` (by index into `names`).
fn place(names: &[String], input: usize, line: u64) -> String {
    format!("{}:{line}", names.get(input).map_or("?", String::as_str))
}

/// Where an event was.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    /// Input index.
    pub input: usize,
    /// 1-based line.
    pub line: u64,
    /// The line's prefix: thread id and timestamp, where present.
    pub prefix: Prefix<'a>,
}

impl At<'_> {
    /// Thread id.
    #[inline]
    pub fn tid(&self) -> Option<u64> {
        self.prefix.tid
    }

    /// Timestamp in nanoseconds (parsed on demand: most events do not need
    /// it).
    #[inline]
    pub fn time_ns(&self) -> Option<i64> {
        self.prefix.time_nanos()
    }
}

/// Timestamp text kept with a request, inline when it is short (QEMU's
/// `SEC.USEC` is 17 bytes), so that a request costs no allocation for it.
#[derive(Debug, Clone)]
pub enum Stamp {
    /// Up to [`STAMP_INLINE`] bytes.
    Inline(u8, [u8; STAMP_INLINE]),
    /// Longer text.
    Heap(Box<[u8]>),
}

/// The longest timestamp text a [`Stamp`] keeps inline.
pub const STAMP_INLINE: usize = 30;

impl Stamp {
    /// A copy of `text`.
    pub fn new(text: &[u8]) -> Stamp {
        if text.len() <= STAMP_INLINE {
            let mut b = [0u8; STAMP_INLINE];
            b[..text.len()].copy_from_slice(text);
            Stamp::Inline(text.len() as u8, b)
        } else {
            Stamp::Heap(Box::from(text))
        }
    }
}

impl std::ops::Deref for Stamp {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Stamp::Inline(n, b) => &b[..usize::from(*n)],
            Stamp::Heap(b) => b,
        }
    }
}

/// The owned form of [`At`], kept for a request's first event.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Input index.
    pub input: usize,
    /// 1-based line.
    pub line: u64,
    /// Timestamp text, exactly as in the log.
    pub time: Option<Stamp>,
    /// The kind of prefix the timestamp came in.
    pub kind: PrefixKind,
    /// Thread id.
    pub tid: Option<u64>,
}

impl Meta {
    /// Timestamp in nanoseconds (parsed on demand: the default output
    /// prints the text).
    pub fn time_ns(&self) -> Option<i64> {
        Prefix {
            kind: self.kind,
            tid: self.tid,
            time: self.time.as_deref(),
        }
        .time_nanos()
    }
}

impl From<At<'_>> for Meta {
    fn from(a: At<'_>) -> Meta {
        Meta {
            input: a.input,
            line: a.line,
            time: a.prefix.time.map(Stamp::new),
            kind: a.prefix.kind,
            tid: a.tid(),
        }
    }
}

/// What identifies a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskKey {
    /// A BlockBackend pointer.
    Blk(u64),
    /// A controller's device pointer (requests that never reached a traced
    /// block-layer event).
    Dev(DevKey),
    /// Nothing but the controller kind (NVMe or SCSI events without any
    /// block-layer event).
    Anon(Option<Ctrl>),
}

/// One disk.
#[derive(Debug, Clone)]
pub struct Disk {
    /// What identifies it.
    pub key: DiskKey,
    /// `disk0`, ... or its `--label`.
    pub name: String,
    /// Controller kind, as inferred.
    pub ctrl: Option<Ctrl>,
    conflict_reported: bool,
}

impl Disk {
    /// The pointer that identifies the disk, if any.
    pub fn ptr(&self) -> Option<u64> {
        match self.key {
            DiskKey::Blk(p) => Some(p),
            DiskKey::Dev(d) => Some(d.ptr()),
            DiskKey::Anon(_) => None,
        }
    }
}

/// The disks seen, in order of first appearance.
#[derive(Debug, Default)]
pub struct Disks {
    list: Vec<Disk>,
    by_key: SmallMap<DiskKey, usize>,
    labels: Vec<(LabelKey, String)>,
    used: Vec<bool>,
}

impl Disks {
    fn new(labels: Vec<(LabelKey, String)>) -> Disks {
        let used = vec![false; labels.len()];
        Disks {
            labels,
            used,
            ..Disks::default()
        }
    }

    /// All disks, by index.
    pub fn list(&self) -> &[Disk] {
        &self.list
    }

    /// Disk `i`.
    pub fn get(&self, i: usize) -> &Disk {
        &self.list[i]
    }

    /// The disk with `key`, added when new and `limit` admits it (the list
    /// keeps retired disks too, so the cap counts every disk reported).
    fn get_or_add(
        &mut self,
        key: DiskKey,
        limit: &mut Limit,
        place: impl FnOnce() -> String,
    ) -> Option<usize> {
        if let Some(&i) = self.by_key.get(&key) {
            return Some(i);
        }
        let i = self.list.len();
        if !limit.admit(i, place) {
            return None;
        }
        let default = format!("disk{i}");
        let ptr = match key {
            DiskKey::Blk(p) => Some(p),
            DiskKey::Dev(d) => Some(d.ptr()),
            DiskKey::Anon(_) => None,
        };
        let label = self.labels.iter().position(|(k, _)| match k {
            LabelKey::Ptr(p) => Some(*p) == ptr,
            LabelKey::Name(n) => *n == default,
        });
        let name = match label {
            Some(l) => {
                self.used[l] = true;
                self.labels[l].1.clone()
            }
            None => default,
        };
        self.list.push(Disk {
            key,
            name,
            ctrl: None,
            conflict_reported: false,
        });
        self.by_key.insert(key, i);
        Some(i)
    }

    fn retire(&mut self, key: DiskKey) {
        self.by_key.remove(&key);
    }

    /// Labels that named no disk.
    pub fn unused_labels(&self) -> impl Iterator<Item = &(LabelKey, String)> {
        self.labels
            .iter()
            .zip(&self.used)
            .filter(|(_, u)| !**u)
            .map(|(l, _)| l)
    }
}

/// One guest request, as reported.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Its first event.
    pub meta: &'a Meta,
    /// Index into [`Disks`].
    pub disk: usize,
    /// Controller kind (the disk's, as known when the request is reported).
    pub ctrl: Option<Ctrl>,
    /// Direction (unknown only for a lone `execute_ncq_command_read`).
    pub op: Option<Op>,
    /// Byte offset on the disk.
    pub offset: u64,
    /// Bytes, when known.
    pub bytes: Option<u64>,
    /// The event that identified the request (the controller's, else
    /// `dma_blk_io`, else the block layer's).
    pub source: &'static str,
    /// Submission to completion, when both were seen before it was reported.
    pub latency: Option<i64>,
    /// QEMU's own request at start-up, not the guest's (see the module
    /// documentation).
    pub qemu: bool,
}

/// What the tracker hands on.
pub trait Sink {
    /// A request, in order of first event.
    fn request(&mut self, r: &Request<'_>, disks: &Disks) -> qtrace_core::Result<()>;
    /// A latency that arrived after its request was reported.
    fn latency(&mut self, disk: usize, ns: i64);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comp {
    Dma(u64),
    Virtio(u64),
}

#[derive(Debug)]
struct Draft {
    meta: Meta,
    source: &'static str,
    hint: Option<Hint>,
    /// Learned bytes per unit for hints that do not say (SCSI).
    unit: Option<u64>,
    /// The hint is DMA-joined or data-joined (no longer waiting).
    joined: bool,
    ncq_merged: bool,
    dma: Option<(u64, u64)>, // (offset, line)
    dma_bs: Option<u64>,
    op: Option<Op>,
    disk: Option<DiskKey>,
    data_offset: Option<u64>,
    data_line: Option<u64>,
    data_source: Option<&'static str>,
    data_bytes: u64,
    data_chunks: u32,
    mismatch: Option<String>,
    completion: Option<Comp>,
    latency: Option<i64>,
    born: u64,
    /// QEMU's own request (decided when the guest's first event came).
    qemu: bool,
}

impl Draft {
    fn new(at: At<'_>, source: &'static str, born: u64) -> Draft {
        Draft {
            meta: at.into(),
            source,
            hint: None,
            unit: None,
            joined: false,
            ncq_merged: false,
            dma: None,
            dma_bs: None,
            op: None,
            disk: None,
            data_offset: None,
            data_line: None,
            data_source: None,
            data_bytes: 0,
            data_chunks: 0,
            mismatch: None,
            completion: None,
            latency: None,
            born,
            qemu: false,
        }
    }
}

#[derive(Debug)]
struct Slot {
    state: State,
    d: Draft,
}

#[derive(Debug)]
struct Dma {
    slot: u64,
    blk: u64,
    /// `bs` is the BlockBackend (IDE, AHCI, NVMe); not for scsi-disk, whose
    /// opaque is a request pointer.
    trusted: bool,
    op: Op,
    next: u64,
    expected: Option<u64>,
    covered: u64,
    accepting: bool,
    start_ns: Option<i64>,
    disk: Option<usize>,
}

type NcqExecArgs = ((u64, i64, i64), u64, u64, Option<Op>, &'static str);

/// Data moved by one block-layer event, or the part of it that belongs to
/// one request.
#[derive(Debug, Clone, Copy)]
struct Piece {
    blk: u64,
    offset: u64,
    bytes: u64,
    op: Op,
    source: &'static str,
    line: u64,
}

#[derive(Debug)]
struct Chunk {
    slot: u64,
    blk: u64,
    op: Op,
    next: u64,
    remaining: u64,
}

#[derive(Debug)]
struct Pending {
    slot: u64,
    start_ns: Option<i64>,
    disk: Option<usize>,
}

/// The join engine; see the module documentation.
#[derive(Debug)]
pub struct Tracker {
    sector_size: u64,
    slots: VecDeque<Slot>,
    first_id: u64,
    /// Hints waiting for a DMA or block-layer event, oldest first.
    hints: VecDeque<u64>,
    dmas: SmallMap<u64, Dma>,
    accepting: Vec<u64>,
    chunks: Vec<Chunk>,
    vreqs: SmallMap<u64, Pending>,
    dev_map: SmallMap<DevKey, u64>,
    blk_kind: SmallMap<u64, Ctrl>,
    last_dma_hint: SmallMap<Option<u64>, u64>,
    ahci_ctx: SmallMap<Option<u64>, DevKey>,
    skip_dma: SmallMap<Option<u64>, u64>,
    attach: SmallMap<u64, (u64, Option<u64>)>,
    disks: Disks,
    clock: u64,
    seen_dma: bool,
    seen_blk: bool,
    joined: [u64; CTRL_KINDS],
    expired: [u64; CTRL_KINDS],
    scsi_unit: u64,
    late: Vec<(usize, i64)>,
    /// Non-read/write DMA commands (TRIM, ATAPI) whose `dma_blk_io` was skipped.
    pub skipped_other: u64,
    /// Requests whose position overflowed and could not be reported.
    pub unreportable: u64,
    /// Latencies are computed (only the summary prints them).
    latencies: bool,
    limits: Limits,
    /// The inputs' names, for the places in reports of [`Limits`].
    inputs: Vec<String>,
    /// The input being read, and whether a guest-facing event was seen in it.
    input: usize,
    guest_started: bool,
    /// Requests of the block layer alone from before that event (ids).
    startup: Vec<u64>,
}

impl Tracker {
    /// A tracker for `sector_size`-byte sectors and these labels.
    pub fn new(sector_size: u64, labels: Vec<(LabelKey, String)>) -> Tracker {
        Tracker {
            sector_size,
            slots: VecDeque::new(),
            first_id: 0,
            hints: VecDeque::new(),
            dmas: SmallMap::default(),
            accepting: Vec::new(),
            chunks: Vec::new(),
            vreqs: SmallMap::default(),
            dev_map: SmallMap::default(),
            blk_kind: SmallMap::default(),
            last_dma_hint: SmallMap::default(),
            ahci_ctx: SmallMap::default(),
            skip_dma: SmallMap::default(),
            attach: SmallMap::default(),
            disks: Disks::new(labels),
            clock: 0,
            seen_dma: false,
            seen_blk: false,
            joined: [0; CTRL_KINDS],
            expired: [0; CTRL_KINDS],
            scsi_unit: 512,
            late: Vec::new(),
            skipped_other: 0,
            unreportable: 0,
            latencies: true,
            // A malformed QTRACE_MAX_KEYS is reported by `run` before any
            // input is read; here it means the defaults.
            limits: Limits::new(qtrace_core::limits::cap_override().ok().flatten()),
            inputs: Vec::new(),
            input: 0,
            guest_started: false,
            startup: Vec::new(),
        }
    }

    /// Names the inputs (by index), for the reports of refused keys.
    pub fn set_input_names(&mut self, names: Vec<String>) {
        self.inputs = names;
    }

    /// Sets the cap of every table keyed by input data to `cap` (tests).
    pub fn set_cap(&mut self, cap: usize) {
        self.limits = Limits::new(Some(cap));
    }

    /// Reports every key a table did not take (as errors: exit status 2).
    pub fn report_limits(&self, diag: &Diag) {
        self.limits.report(diag);
    }

    /// Whether to pair completions with requests for their latency (on by
    /// default; without it, no timestamp is parsed for them).
    pub fn want_latencies(&mut self, on: bool) {
        self.latencies = on;
    }

    /// The disks seen so far.
    pub fn disks(&self) -> &Disks {
        &self.disks
    }

    fn next_id(&self) -> u64 {
        self.first_id + self.slots.len() as u64
    }

    fn slot_mut(&mut self, id: u64) -> Option<&mut Slot> {
        let i = id.checked_sub(self.first_id)?;
        self.slots.get_mut(usize::try_from(i).ok()?)
    }

    fn slot(&self, id: u64) -> Option<&Slot> {
        let i = id.checked_sub(self.first_id)?;
        self.slots.get(usize::try_from(i).ok()?)
    }

    /// Queues a request's draft; returns its id and the draft where it now
    /// lies (a draft is large: fill it there rather than copy it in).
    fn push_slot(&mut self, d: Draft, state: State) -> (u64, &mut Draft) {
        let id = self.next_id();
        let at = self.slots.len();
        self.slots.push_back(Slot { state, d });
        (id, &mut self.slots[at].d)
    }

    fn ready(&mut self, id: u64) {
        if let Some(s) = self.slot_mut(id) {
            s.state = State::Ready;
        }
    }

    /// Feeds one observation, then hands every request that is complete (and
    /// all before it) to `sink`.
    pub fn push(
        &mut self,
        at: At<'_>,
        obs: &Obs,
        warn: &mut Warnings<'_>,
        sink: &mut dyn Sink,
    ) -> qtrace_core::Result<()> {
        self.clock += 1;
        if at.input != self.input {
            // Another input, another QEMU run.
            self.settle_startup(false);
            self.input = at.input;
            self.guest_started = false;
        }
        if !self.guest_started
            && !matches!(
                obs,
                Obs::Data { .. } | Obs::Attach { .. } | Obs::Detach { .. }
            )
        {
            // A controller, DMA or completion event: the guest runs, and
            // what the block layer did alone before was QEMU's.
            self.guest_started = true;
            self.settle_startup(true);
        }
        match *obs {
            Obs::Hint(h) => self.hint(at, h),
            Obs::NcqExec {
                ncq,
                count,
                lba,
                op,
                source,
            } => self.ncq_exec(at, (ncq, count, lba, op, source), warn),
            Obs::IdeOther => insert_capped(
                &mut self.skip_dma,
                &mut self.limits.threads,
                at.tid(),
                at.line,
                || place(&self.inputs, at.input, at.line),
            ),
            Obs::AhciStartDma(dev) => insert_capped(
                &mut self.ahci_ctx,
                &mut self.limits.threads,
                at.tid(),
                dev,
                || place(&self.inputs, at.input, at.line),
            ),
            Obs::DmaIo {
                dbs,
                bs,
                offset,
                op,
            } => self.dma_io(at, dbs, bs, offset, op),
            Obs::Data {
                blk,
                offset,
                bytes,
                op,
                source,
                legacy,
            } => {
                let piece = Piece {
                    blk,
                    offset,
                    bytes,
                    op,
                    source,
                    line: at.line,
                };
                self.data(at, piece, legacy)
            }
            Obs::DmaDone { dbs, ok } => self.dma_done(at, dbs, ok),
            Obs::VirtioDone { req } => self.virtio_done(at, req),
            Obs::Attach { child, blk } => self.attached(at, child, blk),
            Obs::Detach { child, blk } => self.detached(child, blk),
        }
        self.expire();
        self.drain(warn, sink, false)
    }

    /// Reports everything still waiting (end of input).
    pub fn finish(
        &mut self,
        warn: &mut Warnings<'_>,
        sink: &mut dyn Sink,
    ) -> qtrace_core::Result<()> {
        self.settle_startup(false);
        self.drain(warn, sink, true)
    }

    /// Decides the origin of the requests held since the start of the
    /// input: QEMU's when the guest's first event came after them.
    fn settle_startup(&mut self, qemu: bool) {
        let held = std::mem::take(&mut self.startup);
        for &id in &held {
            if let Some(s) = self.slot_mut(id) {
                s.d.qemu = qemu;
                s.state = State::Ready;
            }
        }
        self.startup = held;
        self.startup.clear();
    }

    fn hint(&mut self, at: At<'_>, mut h: Hint) {
        if h.source == "ide_dma_cb"
            && let Some(dev) = self.ahci_ctx.remove(&at.tid())
        {
            h.ctrl = Ctrl::Ahci;
            h.dev = Some(dev);
        }
        let c = h.ctrl.index();
        let immediate = self.expired[c] > 0 && self.joined[c] == 0;
        let state = if immediate { State::Ready } else { State::Open };
        let latencies = self.latencies;
        let (id, d) = self.push_slot(Draft::new(at, h.source, self.clock), state);
        d.hint = Some(h);
        d.op = h.op;
        if let Some(req) = h.vreq {
            d.completion = Some(Comp::Virtio(req));
        }
        let start_ns = if latencies { d.meta.time_ns() } else { None };
        if let Some(req) = h.vreq {
            insert_capped(
                &mut self.vreqs,
                &mut self.limits.vreqs,
                req,
                Pending {
                    slot: id,
                    start_ns,
                    disk: None,
                },
                || place(&self.inputs, at.input, at.line),
            );
        }
        if !immediate {
            self.hints.push_back(id);
        }
        if h.via_dma {
            insert_capped(
                &mut self.last_dma_hint,
                &mut self.limits.threads,
                at.tid(),
                id,
                || place(&self.inputs, at.input, at.line),
            );
        }
    }

    /// `execute_ncq_command_*`: (AHCI/port/tag, sectors, first sector,
    /// direction by name, event name).
    fn ncq_exec(&mut self, at: At<'_>, exec: NcqExecArgs, warn: &mut Warnings<'_>) {
        let (ncq, count, lba, op, source) = exec;
        let found = self.hints.iter().copied().find(|&id| {
            self.slot(id).is_some_and(|s| {
                !s.d.joined && !s.d.ncq_merged && s.d.hint.is_some_and(|h| h.ncq == Some(ncq))
            })
        });
        if let Some(id) = found {
            let Some(s) = self.slot_mut(id) else { return };
            s.d.ncq_merged = true;
            let line = s.d.meta.line;
            let Some(h) = s.d.hint else { return };
            if h.geom.start != lba || h.geom.count != count || (op.is_some() && op != h.op) {
                warn.warn(
                    Kind::Disagree,
                    at.input,
                    at.line,
                    format_args!(
                        "{source} says {count} sectors at {lba}, but process_ncq_command (line {line}) said {} {} sectors at {}; using process_ncq_command",
                        h.op.map_or("?", Op::name),
                        h.geom.count,
                        h.geom.start
                    ),
                );
            }
            return;
        }
        self.hint(
            at,
            Hint {
                ctrl: Ctrl::Ahci,
                source,
                op,
                geom: crate::decode::Geom {
                    start: lba,
                    count,
                    unit: Some(512),
                },
                dev: Some(DevKey::Ahci(ncq.0, ncq.1)),
                ncq: Some(ncq),
                vreq: None,
                via_dma: true,
            },
        );
    }

    /// The bytes per unit that make `h` start at byte `offset`, if any.
    fn hint_unit(&self, h: &Hint, offset: u64) -> Option<u64> {
        match h.geom.unit {
            Some(u) => (h.geom.start.checked_mul(u) == Some(offset)).then_some(u),
            None => {
                if h.geom.start == 0 {
                    (offset == 0).then_some(self.scsi_unit)
                } else if offset % h.geom.start == 0 {
                    let u = offset / h.geom.start;
                    (u.is_power_of_two() && (512..=65536).contains(&u)).then_some(u)
                } else {
                    None
                }
            }
        }
    }

    /// Finds a waiting hint at `offset` (same thread first, then oldest).
    /// `blk` is the backend the block-layer event names: a hint whose
    /// device or controller kind is known to belong to another backend is
    /// not taken (two disks may be read at the same offset at once).
    fn find_hint(
        &self,
        offset: u64,
        op: Op,
        tid: Option<u64>,
        blk: u64,
        allow: impl Fn(&Hint) -> bool,
    ) -> Option<(usize, u64, u64)> {
        let kind = self.blk_kind.get(&blk).copied();
        let mut best: Option<(usize, u64, u64)> = None;
        for (i, &id) in self.hints.iter().enumerate() {
            let Some(s) = self.slot(id) else { continue };
            if s.state != State::Open || s.d.joined {
                continue;
            }
            let Some(h) = s.d.hint else { continue };
            if h.op.is_some_and(|o| o != op) || !allow(&h) {
                continue;
            }
            if kind.is_some_and(|k| !compatible(k, h.ctrl))
                || h.dev
                    .and_then(|d| self.dev_map.get(&d))
                    .is_some_and(|&b| b != blk)
            {
                continue;
            }
            let Some(unit) = self.hint_unit(&h, offset) else {
                continue;
            };
            if s.d.meta.tid == tid {
                return Some((i, id, unit));
            }
            if best.is_none() {
                best = Some((i, id, unit));
            }
        }
        best
    }

    /// Remembers which device and controller kind a backend belongs to.
    /// (`input`, `line`: where, for the reports of refused keys.)
    fn learn(&mut self, blk: u64, dev: Option<DevKey>, ctrl: Ctrl, input: usize, line: u64) {
        let inputs = &self.inputs;
        if let Some(dev) = dev {
            insert_capped(
                &mut self.dev_map,
                &mut self.limits.devices,
                dev,
                blk,
                || place(inputs, input, line),
            );
        }
        match self.blk_kind.get_mut(&blk) {
            Some(k) => {
                if *k == Ctrl::Ide && ctrl == Ctrl::Ahci {
                    *k = ctrl;
                }
            }
            None => insert_capped(
                &mut self.blk_kind,
                &mut self.limits.backends,
                blk,
                ctrl,
                || place(inputs, input, line),
            ),
        }
    }

    fn take_hint(&mut self, i: usize, id: u64) {
        self.hints.remove(i);
        if let Some(s) = self.slot(id)
            && let Some(h) = s.d.hint
        {
            self.joined[h.ctrl.index()] += 1;
        }
    }

    fn stop_accepting(&mut self, dbs: u64) {
        self.accepting.retain(|&d| d != dbs);
        if let Some(d) = self.dmas.get_mut(&dbs) {
            d.accepting = false;
        }
    }

    fn dma_io(&mut self, at: At<'_>, dbs: u64, bs: u64, offset: u64, op: Op) {
        self.seen_dma = true;
        self.ahci_ctx.remove(&at.tid());
        if self.skip_dma.remove(&at.tid()).is_some() {
            self.skipped_other += 1;
            self.last_dma_hint.remove(&at.tid());
            return;
        }
        // A transfer with this pointer that never completed (dma_complete
        // not traced): it is over.
        if let Some(old) = self.dmas.remove(&dbs) {
            self.accepting.retain(|&d| d != dbs);
            if old.expected.is_none() || old.covered < old.expected.unwrap_or(0) {
                self.ready(old.slot);
            }
        }
        // Another transfer now owns this offset: one that was waiting for
        // chunks of unknown length there is complete.
        let claimed: Vec<u64> = self
            .accepting
            .iter()
            .copied()
            .filter(|d| {
                self.dmas
                    .get(d)
                    .is_some_and(|x| x.blk == bs && x.next == offset)
            })
            .collect();
        for d in claimed {
            self.stop_accepting(d);
            if let Some(slot) = self.dmas.get(&d).map(|x| x.slot) {
                self.ready(slot);
            }
        }
        // virtio-blk and PIO never use dma_blk_io; scsi-disk does with
        // HBAs that pass scatter-gather lists (virtio-scsi, megasas...).
        let mut found = self.find_hint(offset, op, at.tid(), bs, |h| {
            h.via_dma || h.ctrl == Ctrl::Scsi
        });
        let mut mismatch = None;
        if found.is_none()
            && let Some(&id) = self.last_dma_hint.get(&at.tid())
            && let Some(i) = self.hints.iter().position(|&x| x == id)
        {
            found = Some((i, id, 512));
            mismatch = Some(at.line);
        }
        self.last_dma_hint.remove(&at.tid());
        let (id, trusted, expected) = match found {
            Some((i, id, unit)) => {
                self.take_hint(i, id);
                let Some(s) = self.slot_mut(id) else { return };
                let h = s.d.hint;
                let trusted = h.is_none_or(|h| h.ctrl != Ctrl::Scsi);
                if h.is_some_and(|h| h.geom.unit.is_none()) {
                    s.d.unit = Some(unit);
                }
                s.d.joined = true;
                s.d.dma = Some((offset, at.line));
                s.d.op = Some(op);
                if let (Some(l), Some(h)) = (mismatch, h) {
                    s.d.mismatch = Some(format!(
                        "says {} {} sectors at {}, but the dma_blk_io that follows on its thread (line {l}) is a {} at byte {offset}; using dma_blk_io's position and direction",
                        h.op.map_or("?", Op::name),
                        h.geom.count,
                        h.geom.start,
                        op.name()
                    ));
                }
                if trusted {
                    s.d.disk = Some(DiskKey::Blk(bs));
                    s.d.dma_bs = Some(bs);
                }
                let expected = h.and_then(|h| {
                    let u = h.geom.unit.or(s.d.unit)?;
                    h.geom.count.checked_mul(u)
                });
                if trusted && let Some(h) = h {
                    self.learn(bs, h.dev, h.ctrl, at.input, at.line);
                }
                (id, trusted, expected)
            }
            None => {
                let mut d = Draft::new(at, "dma_blk_io", self.clock);
                d.joined = true;
                d.dma = Some((offset, at.line));
                d.op = Some(op);
                d.disk = Some(DiskKey::Blk(bs));
                d.dma_bs = Some(bs);
                (self.push_slot(d, State::Open).0, true, None)
            }
        };
        if let Some(s) = self.slot_mut(id) {
            s.d.completion = Some(Comp::Dma(dbs));
        }
        if self.dmas.get(&dbs).is_none()
            && !self
                .limits
                .dmas
                .admit(self.dmas.len(), || place(&self.inputs, at.input, at.line))
        {
            return;
        }
        if self.accepting.len() >= MAX_ACCEPTING {
            let oldest = self.accepting.remove(0);
            if let Some(d) = self.dmas.get_mut(&oldest) {
                d.accepting = false;
            }
        }
        self.dmas.insert(
            dbs,
            Dma {
                slot: id,
                blk: bs,
                trusted,
                op,
                next: offset,
                expected,
                covered: 0,
                accepting: true,
                start_ns: if self.latencies {
                    self.slot(id).and_then(|s| s.d.meta.time_ns())
                } else {
                    None
                },
                disk: None,
            },
        );
        self.accepting.push(dbs);
    }

    /// Records a block-layer chunk in a request's draft.
    fn add_chunk(&mut self, id: u64, piece: Piece) {
        let Piece {
            blk,
            offset,
            bytes,
            op,
            source,
            line,
        } = piece;
        let dev = {
            let Some(s) = self.slot_mut(id) else { return };
            let d = &mut s.d;
            if d.data_offset.is_none() {
                d.data_offset = Some(offset);
                d.data_line = Some(line);
                d.data_source = Some(source);
            }
            d.data_bytes = d.data_bytes.saturating_add(bytes);
            d.data_chunks += 1;
            if d.op.is_none() {
                d.op = Some(op);
            }
            if let (Some(bs), None) = (d.dma_bs, &d.mismatch)
                && bs != blk
            {
                d.mismatch = Some(format!(
                    "dma_blk_io's backend 0x{bs:x} is not {source}'s blk 0x{blk:x} (line {line}); using the latter"
                ));
            }
            d.disk = Some(DiskKey::Blk(blk));
            d.hint.map(|h| (h.dev, h.ctrl))
        };
        if let Some((dev, ctrl)) = dev {
            let input = self.slot(id).map_or(0, |s| s.d.meta.input);
            self.learn(blk, dev, ctrl, input, piece.line);
        }
    }

    fn data(&mut self, at: At<'_>, piece: Piece, legacy: bool) {
        let Piece {
            blk,
            offset,
            bytes,
            op,
            source,
            ..
        } = piece;
        if legacy && self.seen_blk {
            return;
        }
        if !legacy {
            self.seen_blk = true;
        }
        // (a) the next chunk of an open DMA transfer.
        let dma = self
            .accepting
            .iter()
            .copied()
            .filter_map(|dbs| self.dmas.get(&dbs).map(|d| (dbs, d)))
            .filter(|(_, d)| d.next == offset && d.op == op && (d.blk == blk || !d.trusted))
            .max_by_key(|(_, d)| d.blk == blk)
            .map(|(dbs, d)| (dbs, d.slot));
        if let Some((dbs, slot)) = dma {
            if self.slot(slot).is_some() {
                self.add_chunk(
                    slot,
                    Piece {
                        blk,
                        offset,
                        bytes,
                        op,
                        source,
                        line: at.line,
                    },
                );
                let mut done = false;
                if let Some(d) = self.dmas.get_mut(&dbs) {
                    d.covered = d.covered.saturating_add(bytes);
                    d.next = d.next.saturating_add(bytes);
                    d.blk = blk;
                    d.trusted = true;
                    done = d.expected.is_some_and(|e| d.covered >= e);
                }
                if done {
                    self.stop_accepting(dbs);
                    self.ready(slot);
                }
                return;
            }
            self.stop_accepting(dbs);
        }
        // (b) the next chunk of a split non-DMA request (scsi-disk bounce
        // buffers).
        if let Some(i) = self
            .chunks
            .iter()
            .position(|c| c.blk == blk && c.next == offset && c.op == op)
        {
            let c = self.chunks.remove(i);
            if self.slot(c.slot).is_some_and(|s| s.state == State::Open) {
                self.add_chunk(
                    c.slot,
                    Piece {
                        blk,
                        offset,
                        bytes,
                        op,
                        source,
                        line: at.line,
                    },
                );
                if bytes < c.remaining {
                    self.chunks.push(Chunk {
                        next: offset.saturating_add(bytes),
                        remaining: c.remaining - bytes,
                        ..c
                    });
                } else {
                    self.ready(c.slot);
                }
                return;
            }
        }
        // (c) waiting controller hints at this offset (several when virtio
        // merged adjacent requests into one).
        let seen_dma = self.seen_dma;
        let allow = |h: &Hint| !h.via_dma || !seen_dma;
        if let Some((i, id, unit)) = self.find_hint(offset, op, at.tid(), blk, allow) {
            self.take_hint(i, id);
            let mut covered = 0u64;
            let mut cur = Some((id, unit));
            let mut last = id;
            while let Some((id, unit)) = cur {
                last = id;
                let (hint_bytes, ctrl) = {
                    let Some(s) = self.slot_mut(id) else { break };
                    s.d.joined = true;
                    let h = s.d.hint;
                    let mut unit = unit;
                    if let Some(h) = h
                        && h.geom.unit.is_none()
                    {
                        // SCSI: learn the logical block size.
                        if h.geom.start == 0 && h.geom.count > 0 && bytes % h.geom.count == 0 {
                            let u = bytes / h.geom.count;
                            if u.is_power_of_two() && (512..=65536).contains(&u) {
                                unit = u;
                            }
                        }
                        s.d.unit = Some(unit);
                    }
                    (
                        h.and_then(|h| h.geom.count.checked_mul(unit)),
                        h.map(|h| h.ctrl),
                    )
                };
                if ctrl == Some(Ctrl::Scsi) {
                    self.scsi_unit = self.slot(id).and_then(|s| s.d.unit).unwrap_or(512);
                }
                let left = bytes - covered;
                let here = offset.saturating_add(covered);
                match hint_bytes {
                    Some(hb) if hb > left => {
                        // The first chunk of a split request.
                        self.add_chunk(
                            id,
                            Piece {
                                blk,
                                offset: here,
                                bytes: left,
                                op,
                                source,
                                line: at.line,
                            },
                        );
                        if self.chunks.len() >= MAX_ACCEPTING {
                            let c = self.chunks.remove(0);
                            self.ready(c.slot);
                        }
                        self.chunks.push(Chunk {
                            slot: id,
                            blk,
                            op,
                            next: offset.saturating_add(bytes),
                            remaining: hb - left,
                        });
                        return;
                    }
                    Some(hb) if hb < left && hb > 0 => {
                        self.add_chunk(
                            id,
                            Piece {
                                blk,
                                offset: here,
                                bytes: hb,
                                op,
                                source,
                                line: at.line,
                            },
                        );
                        self.ready(id);
                        covered += hb;
                        let next = offset.saturating_add(covered);
                        cur = self
                            .find_hint(next, op, at.tid(), blk, |h| h.ctrl == Ctrl::Virtio)
                            .map(|(i, id, unit)| {
                                self.take_hint(i, id);
                                (id, unit)
                            });
                    }
                    _ => {
                        self.add_chunk(
                            id,
                            Piece {
                                blk,
                                offset: here,
                                bytes: left,
                                op,
                                source,
                                line: at.line,
                            },
                        );
                        self.ready(id);
                        covered = bytes;
                        cur = None;
                    }
                }
            }
            if covered < bytes {
                // Nothing waits for the rest: it belongs to the last request
                // (whose length then disagrees with its controller's).
                let rest = bytes - covered;
                if let Some(s) = self.slot_mut(last) {
                    s.d.data_bytes = s.d.data_bytes.saturating_add(rest);
                }
            }
            return;
        }
        // (d) a request of its own.
        let mut d = Draft::new(at, source, self.clock);
        d.op = Some(op);
        d.disk = Some(DiskKey::Blk(blk));
        d.data_offset = Some(offset);
        d.data_line = Some(at.line);
        d.data_source = Some(source);
        d.data_bytes = bytes;
        d.data_chunks = 1;
        if !self.guest_started && self.startup.len() < MAX_STARTUP {
            // Maybe QEMU's own: it waits for the guest's first event.
            let (id, _) = self.push_slot(d, State::Open);
            self.startup.push(id);
            return;
        }
        if !self.guest_started {
            // Too many for a start-up: a trace of block-layer events alone,
            // where nothing tells QEMU's reads from the guest's.
            self.settle_startup(false);
            self.guest_started = true;
        }
        self.push_slot(d, State::Ready);
    }

    fn dma_done(&mut self, at: At<'_>, dbs: u64, ok: bool) {
        let Some(d) = self.dmas.remove(&dbs) else {
            return;
        };
        self.accepting.retain(|&x| x != dbs);
        let lat = if ok && self.latencies {
            latency(at, d.start_ns)
        } else {
            None
        };
        self.completed(d.slot, d.disk, lat);
    }

    fn virtio_done(&mut self, at: At<'_>, req: u64) {
        let Some(p) = self.vreqs.remove(&req) else {
            return;
        };
        let lat = if self.latencies {
            latency(at, p.start_ns)
        } else {
            None
        };
        self.completed(p.slot, p.disk, lat);
    }

    fn completed(&mut self, slot: u64, disk: Option<usize>, lat: Option<i64>) {
        if let Some(s) = self.slot_mut(slot) {
            if s.d.latency.is_none() {
                s.d.latency = lat;
            }
            s.state = State::Ready;
            // No more chunks can come for it.
            self.chunks.retain(|c| c.slot != slot);
        } else if let (Some(disk), Some(lat)) = (disk, lat) {
            self.late.push((disk, lat));
        }
    }

    fn attached(&mut self, at: At<'_>, child: u64, blk: u64) {
        let inputs = &self.inputs;
        let here = || place(inputs, at.input, at.line);
        match self.attach.get(&child).copied() {
            Some((first, None)) if first != blk => {
                // The second attach of a -drive: the real backend.
                self.attach.insert(child, (first, Some(blk)));
                self.disks.retire(DiskKey::Blk(blk));
                // A disk refused here is counted, and refused again by
                // its first request.
                let _ = self
                    .disks
                    .get_or_add(DiskKey::Blk(blk), &mut self.limits.disks, here);
            }
            _ => insert_capped(
                &mut self.attach,
                &mut self.limits.attach,
                child,
                (blk, None),
                here,
            ),
        }
    }

    fn detached(&mut self, child: u64, blk: u64) {
        if let Some((_, Some(real))) = self.attach.get(&child).copied()
            && real == blk
        {
            self.attach.remove(&child);
            // The pointer may come back for another disk.
            self.disks.retire(DiskKey::Blk(blk));
        }
    }

    fn expire(&mut self) {
        let clock = self.clock;
        while let Some(&id) = self.hints.front() {
            let Some(s) = self.slot(id) else {
                self.hints.pop_front();
                continue;
            };
            if s.state == State::Open && !s.d.joined && s.d.born.saturating_add(TTL) > clock {
                break;
            }
            self.hints.pop_front();
            if let Some(s) = self.slot_mut(id)
                && !s.d.joined
            {
                s.state = State::Ready;
                if let Some(h) = s.d.hint {
                    self.expired[h.ctrl.index()] += 1;
                }
            }
        }
        let too_many = self.slots.len() > MAX_HELD;
        while let Some(front) = self.slots.front_mut() {
            if front.state == State::Open && (front.d.born.saturating_add(TTL) <= clock || too_many)
            {
                front.state = State::Ready;
            } else {
                break;
            }
        }
    }

    fn drain(
        &mut self,
        warn: &mut Warnings<'_>,
        sink: &mut dyn Sink,
        all: bool,
    ) -> qtrace_core::Result<()> {
        for (disk, lat) in self.late.drain(..) {
            sink.latency(disk, lat);
        }
        // Most events leave the oldest request waiting.
        if !all && self.slots.front().is_none_or(|s| s.state == State::Open) {
            return Ok(());
        }
        // The requests before the first one still open, reported where
        // they lie (finalizing does not look at the other slots).
        let ready = self
            .slots
            .iter()
            .take_while(|s| all || s.state != State::Open)
            .count();
        if ready > 0 {
            let mut slots = std::mem::take(&mut self.slots);
            let mut done = 0;
            let mut result = Ok(());
            for slot in slots.iter().take(ready) {
                let id = self.first_id;
                self.first_id += 1;
                done += 1;
                if let Some(r) = self.finalize(id, &slot.d, warn) {
                    result = sink.request(&r, &self.disks);
                    if result.is_err() {
                        break;
                    }
                }
            }
            slots.drain(..done);
            self.slots = slots;
            result?;
        }
        if all {
            self.hints.clear();
            self.chunks.clear();
        }
        Ok(())
    }

    fn finalize<'d>(
        &mut self,
        id: u64,
        d: &'d Draft,
        warn: &mut Warnings<'_>,
    ) -> Option<Request<'d>> {
        let input = d.meta.input;
        let line = d.meta.line;
        let hint = d.hint;
        let unit = hint.and_then(|h| {
            h.geom
                .unit
                .or(d.unit)
                .or((h.ctrl == Ctrl::Scsi).then_some(self.scsi_unit))
        });
        let hint_off = hint
            .zip(unit)
            .and_then(|(h, u)| h.geom.start.checked_mul(u));
        let hint_bytes = hint
            .zip(unit)
            .and_then(|(h, u)| h.geom.count.checked_mul(u));
        let data_off = d.dma.map(|(o, _)| o).or(d.data_offset);
        let Some(offset) = data_off.or(hint_off) else {
            self.unreportable += 1;
            warn.warn(
                Kind::Overflow,
                input,
                line,
                format_args!("{}: the position overflows 64 bits; not reported", d.source),
            );
            return None;
        };
        let bytes = if d.data_chunks > 0 {
            Some(d.data_bytes)
        } else {
            hint_bytes
        };
        if let Some(h) = hint {
            let what = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
            let data_name = d.data_source.unwrap_or("dma_blk_io");
            let data_line = d.data_line.or(d.dma.map(|(_, l)| l)).unwrap_or(line);
            if let Some(m) = &d.mismatch {
                warn.warn(
                    Kind::Disagree,
                    input,
                    line,
                    format_args!("{}: {m}", h.source),
                );
            } else if data_off.is_some()
                && (hint_off != data_off || (d.data_chunks > 0 && hint_bytes != Some(d.data_bytes)))
            {
                warn.warn(
                    Kind::Disagree,
                    input,
                    line,
                    format_args!(
                        "{} says {} bytes at byte {}, {} (line {}) says {} bytes at byte {}; using {}",
                        h.source,
                        what(hint_bytes),
                        what(hint_off),
                        data_name,
                        data_line,
                        if d.data_chunks > 0 {
                            d.data_bytes.to_string()
                        } else {
                            "?".to_string()
                        },
                        offset,
                        data_name
                    ),
                );
            } else if let (Some(ho), Some(o)) = (h.op, d.op)
                && ho != o
            {
                warn.warn(
                    Kind::Disagree,
                    input,
                    line,
                    format_args!(
                        "{} says {}, {} (line {}) says {}; using the latter",
                        h.source,
                        ho.name(),
                        data_name,
                        data_line,
                        o.name()
                    ),
                );
            }
            if !d.joined && (self.joined[h.ctrl.index()] > 0 || self.seen_blk) {
                warn.warn(
                    Kind::Unjoined,
                    input,
                    line,
                    format_args!(
                        "no dma_blk_io or blk_co_* event matched this {} ({} sectors at {}); reported from it alone",
                        h.source, h.geom.count, h.geom.start
                    ),
                );
            }
        } else if let Some(m) = &d.mismatch {
            warn.warn(
                Kind::Disagree,
                input,
                line,
                format_args!("{}: {m}", d.source),
            );
        }
        let ss = self.sector_size;
        let misaligned = |v: u64| {
            if ss.is_power_of_two() {
                v & (ss - 1) != 0
            } else {
                v % ss != 0
            }
        };
        if misaligned(offset) || bytes.is_some_and(misaligned) {
            warn.warn(
                Kind::Unaligned,
                input,
                line,
                format_args!(
                    "{} at byte {offset} ({} bytes) is not aligned to {ss}-byte sectors",
                    d.source,
                    bytes.map_or("?".to_string(), |b| b.to_string())
                ),
            );
        }
        let key = d
            .disk
            .or_else(|| {
                hint.and_then(|h| h.dev)
                    .and_then(|dev| self.dev_map.get(&dev).map(|&b| DiskKey::Blk(b)))
            })
            .or_else(|| hint.and_then(|h| h.dev).map(DiskKey::Dev))
            .unwrap_or(DiskKey::Anon(hint.map(|h| h.ctrl)));
        let inputs = &self.inputs;
        let disk = self
            .disks
            .get_or_add(key, &mut self.limits.disks, || place(inputs, input, line))?;
        if let Some(c) = hint.map(|h| h.ctrl) {
            self.observe_ctrl(disk, c, input, line, warn);
        }
        match d.completion {
            Some(Comp::Dma(dbs)) => {
                if let Some(x) = self.dmas.get_mut(&dbs)
                    && x.slot == id
                {
                    x.disk = Some(disk);
                }
            }
            Some(Comp::Virtio(req)) => {
                if let Some(x) = self.vreqs.get_mut(&req)
                    && x.slot == id
                {
                    x.disk = Some(disk);
                }
            }
            None => {}
        }
        Some(Request {
            meta: &d.meta,
            disk,
            ctrl: self.disks.get(disk).ctrl,
            op: d.op,
            offset,
            bytes,
            source: d.source,
            latency: d.latency,
            qemu: d.qemu,
        })
    }

    fn observe_ctrl(
        &mut self,
        disk: usize,
        c: Ctrl,
        input: usize,
        line: u64,
        warn: &mut Warnings<'_>,
    ) {
        let dk = &mut self.disks.list[disk];
        match dk.ctrl {
            None => dk.ctrl = Some(c),
            Some(k) if k == c => {}
            // AHCI's non-NCQ commands go through the IDE core.
            Some(Ctrl::Ide) if c == Ctrl::Ahci => dk.ctrl = Some(c),
            Some(Ctrl::Ahci) if c == Ctrl::Ide => {}
            Some(k) => {
                if !dk.conflict_reported {
                    dk.conflict_reported = true;
                    warn.warn(
                        Kind::Disagree,
                        input,
                        line,
                        format_args!(
                            "{} was a {} disk, and now gets a {} request (a reused pointer?); keeping {}",
                            dk.name,
                            k.name(),
                            c.name(),
                            k.name()
                        ),
                    );
                }
            }
        }
    }
}

/// From a submission at `start` to the completion at `at`.
fn latency(at: At<'_>, start: Option<i64>) -> Option<i64> {
    match (at.time_ns(), start) {
        (Some(t), Some(s)) if t >= s => t.checked_sub(s),
        _ => None,
    }
}

/// Whether a backend of kind `a` can serve a request of kind `b` (AHCI's
/// non-NCQ commands look like IDE's).
fn compatible(a: Ctrl, b: Ctrl) -> bool {
    a == b || matches!((a, b), (Ctrl::Ide, Ctrl::Ahci) | (Ctrl::Ahci, Ctrl::Ide))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_keep_the_text() {
        for t in [
            &b""[..],
            b"1767988001.213427",
            b"2025-07-21T18:43:28.089797Z",
            b"2025-07-21T18:43:28.089797123+01:30 and then some",
        ] {
            let s = Stamp::new(t);
            assert_eq!(&*s, t);
            assert_eq!(matches!(s, Stamp::Inline(..)), t.len() <= STAMP_INLINE);
        }
    }
}
