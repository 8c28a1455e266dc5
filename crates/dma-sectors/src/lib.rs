//! dma-sectors: which sectors the guest read and wrote, per disk, from QEMU
//! block-I/O trace events — blkparse and btt for an emulator log.
//!
//! The core turns lines into events and decodes their arguments; this tool's
//! one decision is how the events of one guest request join into one request
//! ([`track`]), and how requests are printed or aggregated ([`report`]).
//!
//! # Output
//!
//! Per request (default), in order of the request's first event:
//!
//! | key | meaning |
//! |---|---|
//! | `time` | the exact timestamp text of the first event (`--relative`: seconds since the first timestamped event); null without timestamps |
//! | `tid` | its thread id; null without |
//! | `disk` | `disk0`, `disk1`, ... in order of first appearance, or the `--label` |
//! | `controller` | `ide`, `ahci`, `virtio`, `nvme`, `scsi` as inferred for the disk; null when unknown |
//! | `op` | `read` / `write` |
//! | `sector` | first sector, in `--sector-size` units (byte offset divided, rounded down) |
//! | `sectors` | sectors touched; null when the length is unknown |
//! | `offset` | byte offset on the disk |
//! | `bytes` | bytes moved (the block layer's count when traced, else the controller's); null when unknown |
//! | `source` | the event that identified the request: the controller's (`ide_dma_cb`, `process_ncq_command`, `virtio_blk_handle_read`, `pci_nvme_write`, `scsi_disk_dma_command_READ`, `ide_sector_read`, ...), else `dma_blk_io`, else `blk_co_preadv`/`blk_co_pwritev` (e.g. QEMU's own read of sector 0 at start-up) |
//! | `origin` | `guest`, or `qemu` for QEMU's own request at start-up: seen at the block layer alone, before the first controller, `dma_blk_io` or completion event of its input (the geometry probe of sector 0 of IDE, virtio-blk and SCSI disks); see [`track`] |
//!
//! Text output is one line per request, like blkparse but labelled:
//! `TIME TID DISK CONTROLLER R|W SECTOR + SECTORS BYTES SOURCE` (time and
//! tid only when the trace has them), then `qemu` on QEMU's own requests.
//!
//! `--extents` (per disk and direction, merged contiguous sector ranges; their
//! union is exactly the union of the requests' `[sector, sector+sectors)`):
//! `disk, controller, op, sector, sectors, offset, bytes, requests` (requests
//! that touched the extent), `depth` (most times one sector of it was
//! touched), `origin` (QEMU's own requests make extents of their own, after
//! the guest's; text: `qemu` at the end).
//!
//! `--summary` (per disk): `disk, controller, ptr` (the BlockBackend or device
//! pointer, a string), `requests, reads, writes, read_bytes, write_bytes,
//! unknown_length, min_bytes, avg_bytes, max_bytes, sequential` (requests that
//! started where the disk's previous request ended), `sequential_pct` (of the
//! requests after the first; a number with 6 decimals), `seeks, seek_min,
//! seek_avg, seek_max` (distance in sectors from the previous request's end,
//! over the non-sequential ones), `first_time, last_time, latency_count,
//! latency_min, latency_avg, latency_max` (seconds with 6 decimals, from the
//! request's first event to `dma_complete` or `virtio_blk_rw_complete`,
//! paired in order since pointers are reused; SCSI and PIO requests have no
//! traced completion), all over the guest's requests; then `qemu_requests,
//! qemu_bytes`, QEMU's own requests at start-up, counted apart. Never-observed
//! values are null/empty.
//!
//! `--map` draws each disk as text rows (reads left, writes right), shaded by
//! how often the most-touched sector of each cell was touched; the disk's size
//! is not in the trace, so the map spans the highest sector touched (by the
//! guest: QEMU's own requests are not drawn, their number is noted).
//! `--plot FILE.svg` draws sector against time (QEMU's own requests in
//! grey); alone, it is the only output: nothing is printed on stdout, and
//! stderr names the file. `--no-header` leaves out the CSV/TSV header row.
//!
//! # Units
//!
//! IDE, AHCI and virtio-blk count 512-byte sectors; `dma_blk_io` and
//! `blk_co_*` count bytes (`dma_blk_io` counted sectors up to QEMU 2.6); NVMe
//! counts namespace blocks (block size = bytes / blocks of the same event);
//! scsi-disk counts logical blocks of a size no event states: it is learned
//! from the block-layer event that matches (512 until then). Everything is
//! converted through bytes to `--sector-size`.
//!
//! # Anomalies
//!
//! Reported on stderr with input and line, the request still printed:
//! companion events that disagree (position, length, direction, disk), a
//! controller event no block-layer event matched in a trace that has them,
//! a request not aligned to the sector size. A block event whose arguments
//! cannot be decoded is an error (exit status 2 at the end).

pub mod cli;
pub mod decode;
pub mod plot;
pub mod report;
pub mod smallmap;
pub mod track;
pub mod warn;

use std::io::Write;

use qtrace_core::census::{Census, Family, LookedFor, explain_none, thousands};
use qtrace_core::cli::{Env, Status};
use qtrace_core::limits::damaged_name_of;
use qtrace_core::scan::{Record, Scanner};

pub use cli::Args;
use decode::{Decoder, Unusable};
use report::Report;
use track::{At, Tracker};
use warn::{Kind, Warnings};

type Result<T> = qtrace_core::Result<T>;

/// Runs dma-sectors.
pub fn run<W: Write>(args: &Args, out: &mut W, env: &mut Env<'_>) -> Result<Status> {
    let cfg = cli::resolve(args)?;
    let catalog = args.input.catalog(env.diag)?;
    let inputs = args.input.inputs()?;
    let names: Vec<String> = inputs.iter().map(|i| i.display()).collect();
    let mut opts = args.input.scan_options();
    // Nearly every line of a block trace is one of these: their arguments
    // are decoded on the threads that split the input, which leave out
    // every other event (no more are named to keep; a third of a block
    // trace: dma_blk_cb, ncq_finish...).
    opts.predecode = Decoder::event_names()
        .map(|n| Box::from(n.as_bytes()))
        .collect();
    opts.only_events = Some(Vec::new());
    let mut scanner = Scanner::new(&catalog, opts);
    // A malformed QTRACE_MAX_KEYS is an error before any input is read.
    qtrace_core::limits::cap_override()?;
    let mut tracker = Tracker::new(cfg.sector_size, cfg.labels.clone());
    tracker.set_input_names(names.clone());
    let mut unused = qtrace_core::limits::Unused::new();
    tracker.want_latencies(cfg.mode == cli::Mode::Summary);
    let mut report = Report::new(&cfg, &mut *out, env.line_buffered);
    report.set_input_names(names.clone());
    let mut warn = Warnings::new(env.diag, names);
    let mut decoder = Decoder::new(&catalog);
    let mut scratch = Vec::new();
    let mut have_origin = false;
    // Events this tool reads, seen (an empty result says why).
    let mut block_events = 0u64;
    scanner.scan_all(&inputs, env.diag, |info, rec| {
        let ev = match rec {
            Record::Event(ev) => ev,
            Record::Other(_) => {
                unused.other_line();
                return Ok(true);
            }
        };
        let kind = decoder.kind(&ev);
        if kind.is_some() {
            block_events += 1;
        }
        if kind.is_none()
            && !catalog.knows(ev.name)
            && let Some(meant) = damaged_name_of(ev.name, Decoder::event_names())
        {
            unused.damaged_event(info.name, ev.line.number, ev.name, meant);
        }
        if kind.is_none() && have_origin {
            return Ok(true);
        }
        if !have_origin && let Some(t) = ev.prefix.time_nanos() {
            have_origin = true;
            report.set_origin(t);
        }
        let Some(kind) = kind else {
            return Ok(true);
        };
        let line = ev.line.number;
        match &decoder.observe(kind, &ev, &mut scratch) {
            Ok(Some(obs)) => {
                let at = At {
                    input: info.index,
                    line,
                    prefix: ev.prefix,
                };
                tracker.push(at, obs, &mut warn, &mut report)?;
            }
            Ok(None) => {}
            Err(Unusable::NoFormat) => warn.warn(
                Kind::Unusable,
                info.index,
                line,
                format_args!(
                    "{}: the arguments match no known format of this event (another QEMU version? try --trace-events with its trace-events-all); line skipped",
                    kind.name()
                ),
            ),
            Err(Unusable::Bad(what)) => warn.warn(
                Kind::Unusable,
                info.index,
                line,
                format_args!("{}: {what}; line skipped", kind.name()),
            ),
        }
        Ok(true)
    })?;
    tracker.finish(&mut warn, &mut report)?;
    warn.finish();
    tracker.report_limits(env.diag);
    report.report_limits(env.diag);
    unused.report(env.diag);
    let requests = report.requests;
    report.finish(tracker.disks())?;
    if let (cli::Mode::PlotOnly, Some((_, path))) = (cfg.mode, &cfg.plot) {
        env.diag.note(format_args!(
            "plotted {} request(s) into {}",
            thousands(requests),
            path.display()
        ));
    }
    if tracker.skipped_other > 0 {
        env.diag.note(format_args!(
            "{} IDE DMA command(s) that are not sector reads or writes (TRIM, ATAPI) were not reported",
            tracker.skipped_other
        ));
    }
    for (key, name) in tracker.disks().unused_labels() {
        env.diag.warn(format_args!(
            "--label {}={name}: no such disk in the trace",
            match key {
                cli::LabelKey::Ptr(p) => format!("0x{p:x}"),
                cli::LabelKey::Name(n) => n.clone(),
            }
        ));
    }
    if requests == 0 && env.diag.errors() == 0 {
        let why = if block_events == 0 {
            let looked = LookedFor {
                family: Family::Block,
                what: "block I/O events",
                enable: "the events it reads: ide_dma_cb, process_ncq_command, \
                         virtio_blk_handle_*, pci_nvme_read/write, scsi_disk_dma_command_*, \
                         dma_blk_io, blk_co_preadv/pwritev, ... (see --help); enable them with \
                         -d trace:dma_blk_io,trace:blk_co_p*,trace:ide_dma_cb,...",
            };
            let max_line = args.input.scan_options().max_line;
            let census = Census::take(&catalog, &inputs, max_line);
            explain_none(&looked, inputs.len(), scanner.stats.lines, census.as_ref())
        } else {
            format!(
                "no request in {} block event(s) (attach, completion or non-transfer events only)",
                thousands(block_events)
            )
        };
        env.diag.note(why);
    }
    Ok(Status::from_found(requests > 0))
}
