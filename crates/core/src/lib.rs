//! qtrace-core: the engine behind the qtrace tools. It turns QEMU trace-event
//! logs (any QEMU version's log-backend prefix, or the ftrace and syslog
//! wrappings; plain, gzip or zstd) into typed events, and holds the process
//! policy and output writers every tool shares.
//!
//! The pieces, in the order bytes flow through them:
//! [`input`] opens files and standard input and undoes compression
//! ([`simple`] reads QEMU's binary trace files into the same events;
//! [`follow`] reads a log as QEMU writes it);
//! [`lines`] splits lines in bounded memory, on a second thread ([`ahead`]),
//! or a file's chunks on several at once ([`chunks`]);
//! [`recognize`] finds the prefix and
//! event name; [`scan`] decides event vs. other line with the [`catalog`],
//! whose specs are compiled by [`format`](mod@format) into matchers that recover typed
//! [`value`]s; [`write`](mod@write) and [`output`] print the results; [`cli`] wraps a tool
//! into a well-behaved Unix process.
//!
//! ```
//! use qtrace_core::catalog::Catalog;
//! use qtrace_core::lines::Line;
//! use qtrace_core::scan::{Record, ScanOptions, Scanner};
//! use qtrace_core::value::{Radix, Value};
//!
//! let catalog = Catalog::builtin();
//! let scanner = Scanner::new(&catalog, ScanOptions::default());
//! let text = b"9479@1795674347.582949:pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086";
//! let line = Line { number: 1, bytes: text, full: text };
//! let Record::Event(ev) = scanner.classify(line) else { panic!("not an event") };
//! assert_eq!(ev.name, b"pci_cfg_read");
//! assert_eq!(ev.prefix.tid, Some(9479));
//! let mut scratch = Vec::new();
//! let fields = catalog.decode(ev.name, ev.message, &mut scratch).unwrap();
//! assert_eq!(fields.get("dev"), Some(Value::Str(Some(b"e1000"))));
//! assert_eq!(fields.get("slot"), Some(Value::Unsigned(3, Radix::Hex)));
//! assert_eq!(fields.get("val"), Some(Value::Unsigned(0x100e8086, Radix::Hex)));
//! ```
#![deny(missing_docs)]

pub mod ahead;
pub mod catalog;
pub mod census;
pub mod chunks;
pub mod cli;
pub mod error;
pub mod follow;
pub mod format;
pub mod glob;
pub mod input;
pub mod limits;
pub mod lines;
pub mod man;
pub mod names;
pub mod output;
pub mod predecode;
pub mod prefetch;
pub mod recognize;
pub mod scan;
pub mod simple;
pub mod suggest;
mod swar;
pub mod value;
pub mod write;

pub use error::{Error, Result};

/// Helpers shared by the unit tests of several modules.
#[cfg(test)]
pub(crate) mod test_support {
    use proptest::prelude::*;

    /// Byte strings of a length in `len` whose bytes are each one of
    /// `picks` or any byte, all `picks.len() + 1` choices equally likely.
    pub(crate) fn bytes_among(
        picks: &'static [u8],
        len: std::ops::Range<usize>,
    ) -> impl Strategy<Value = Vec<u8>> {
        let weight = u32::try_from(picks.len()).unwrap_or(u32::MAX);
        proptest::collection::vec(
            prop_oneof![weight => proptest::sample::select(picks), 1 => any::<u8>()],
            len,
        )
    }
}
