//! Reading QEMU's binary "simple" trace backend files (format version 4,
//! QEMU 2.8 and later).
//!
//! Layout (host byte order, no padding): a 24-byte header (`u64` all-ones,
//! `u64` magic `0xf2b177cb0aa429b4`, `u64` version), then records, each led by
//! a `u64` type: 0 = mapping (`u64` id, `u32` name length, name bytes),
//! 1 = event (`u64` id, `u64` timestamp in ns from a monotonic clock, `u32`
//! record length counted from the id, `u32` pid, then the arguments). Integer
//! arguments are `u64` words (signed types sign-extended); strings are a
//! `u32` length and at most 512 bytes (a NULL pointer is written as length 0).
//! Mapping records may appear anywhere; ids come only from them. A record
//! with id `0xfffffffffffffffe` reports events QEMU dropped (one `u64` count).
//!
//! The byte order is taken from the magic, so a file from a host of the other
//! endianness reads too. Version 3 files (QEMU 2.1–2.7: no record types, no
//! mappings) are recognised and reported as unsupported.

use std::io::{self, Read};

use rustc_hash::FxHashMap;

use crate::limits::Limit;

/// The header magic.
pub const MAGIC: u64 = 0xf2b1_77cb_0aa4_29b4;
/// The event id of a dropped-events record.
pub const DROPPED_ID: u64 = 0xffff_ffff_ffff_fffe;
/// No sane record is longer than this (10 arguments of at most 516 bytes).
const MAX_RECORD: u64 = 1 << 20;
/// Event names longer than this are corrupt.
const MAX_NAME: u32 = 4096;

/// One record of a simple trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimpleRecord<'a> {
    /// An event.
    Event {
        /// The event's name (from the mapping records), `None` if no mapping
        /// named its id.
        name: Option<&'a [u8]>,
        /// The raw id.
        id: u64,
        /// Nanoseconds on QEMU's monotonic clock.
        timestamp_ns: u64,
        /// QEMU's process id.
        pid: u32,
        /// The argument bytes.
        args: &'a [u8],
    },
    /// QEMU dropped events because its trace buffer was full.
    Dropped {
        /// When the record was written (not when the events were lost).
        timestamp_ns: u64,
        /// QEMU's process id.
        pid: u32,
        /// How many events were lost.
        count: u64,
    },
}

/// What went wrong reading a simple trace; the records before it were good.
#[derive(Debug)]
pub enum SimpleError {
    /// An I/O error.
    Io(io::Error),
    /// The file ends inside a record.
    Truncated {
        /// Byte offset where the incomplete record starts.
        offset: u64,
        /// The number the record would have had (1-based).
        record: u64,
    },
    /// A mapping record names an event with something that is not an
    /// identifier (`[A-Za-z_][A-Za-z0-9_]*`, as every QEMU event name is):
    /// the name is never rendered (a newline in it would forge a line of
    /// the log output) and the id's records are skipped. Reading may go on:
    /// the record itself was whole.
    BadName {
        /// Byte offset of the mapping record.
        offset: u64,
        /// The event id it maps.
        id: u64,
    },
    /// The bytes make no sense as a record.
    Corrupt {
        /// Byte offset of the record.
        offset: u64,
        /// What was wrong.
        what: String,
    },
}

impl std::fmt::Display for SimpleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimpleError::Io(e) => write!(f, "{e}"),
            SimpleError::Truncated { offset, record } => write!(
                f,
                "the file ends inside record {record} (byte offset {offset}): it was cut short \
                 (QEMU killed?); the records before it were decoded"
            ),
            SimpleError::BadName { offset, id } => write!(
                f,
                "record at byte {offset}: event name is not an identifier; the records of \
                 event id {id} are skipped"
            ),
            SimpleError::Corrupt { offset, what } => {
                write!(f, "byte offset {offset}: {what}; reading stopped here")
            }
        }
    }
}

/// Reads records from a simple trace stream.
#[derive(Debug)]
pub struct SimpleReader<R> {
    rdr: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    big_endian: bool,
    /// Bytes consumed before `buf[start]`.
    offset: u64,
    records: u64,
    /// Event names by id; an empty name marks an id whose name was refused
    /// (see [`SimpleError::BadName`]).
    names: FxHashMap<u64, Box<[u8]>>,
    /// Event records skipped because their id's name was refused.
    skipped_bad_names: u64,
    /// The cap of `names` (see [`MAX_EVENT_IDS`]).
    names_limit: Limit,
}

/// Event ids named by mapping records kept at most: QEMU maps each of its
/// events once (about 5,000 in QEMU 7.2), so this is far more than any
/// build has; their names may take [`MAX_NAME_BYTES`] in all. Beyond
/// either, further ids are reported at the end (see [`crate::limits`]) and
/// their records are reported as unnamed.
pub const MAX_EVENT_IDS: usize = 65_536;
/// Bytes of event names kept at most (see [`MAX_EVENT_IDS`]).
pub const MAX_NAME_BYTES: usize = 16 << 20;

impl<R: Read> SimpleReader<R> {
    /// Reads and checks the header.
    pub fn new(rdr: R) -> Result<Self, SimpleError> {
        let mut r = SimpleReader {
            rdr,
            buf: vec![0; 64 << 10],
            start: 0,
            end: 0,
            eof: false,
            big_endian: false,
            offset: 0,
            records: 0,
            names: FxHashMap::default(),
            skipped_bad_names: 0,
            // A malformed QTRACE_MAX_KEYS is reported by the tool before
            // it reads any input; here it means the default.
            names_limit: Limit::new("event ids", MAX_EVENT_IDS)
                .unwrap_or_else(|_| Limit::with_cap("event ids", MAX_EVENT_IDS))
                .with_byte_budget(MAX_NAME_BYTES),
        };
        if !r.ensure(24)? {
            return Err(SimpleError::Corrupt {
                offset: 0,
                what: "too short for a simple-trace header".into(),
            });
        }
        let h = &r.buf[r.start..r.start + 24];
        let magic_le = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
        let magic_be = u64::from_be_bytes(h[8..16].try_into().expect("8 bytes"));
        r.big_endian = if magic_le == MAGIC {
            false
        } else if magic_be == MAGIC {
            true
        } else {
            return Err(SimpleError::Corrupt {
                offset: 8,
                what: "not a simple-trace file (bad magic)".into(),
            });
        };
        let version = r.u64_at(r.start + 16);
        if version != 4 {
            return Err(SimpleError::Corrupt {
                offset: 16,
                what: format!(
                    "simple-trace format version {version} is not supported (only version 4, QEMU 2.8 and later)"
                ),
            });
        }
        r.consume(24);
        Ok(r)
    }

    /// True when the file's integers are big-endian.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// Event records read so far (including dropped-events records).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Event records skipped because a mapping record gave their id a name
    /// that is not an identifier (each such mapping was reported).
    pub fn skipped_bad_names(&self) -> u64 {
        self.skipped_bad_names
    }

    /// Byte offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The cap of the table of event names, with what it refused.
    pub fn names_limit(&self) -> &Limit {
        &self.names_limit
    }

    /// Caps the table of event names at `limit` instead (for tests).
    pub fn set_names_limit(&mut self, limit: Limit) {
        self.names_limit = limit;
    }

    /// The next event or dropped-events record (mapping records are taken in
    /// on the way), or `None` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<SimpleRecord<'_>>, SimpleError> {
        loop {
            let rec_offset = self.offset;
            if !self.ensure(8)? {
                if self.end > self.start {
                    return Err(self.truncated(rec_offset));
                }
                return Ok(None);
            }
            let kind = self.u64_at(self.start);
            match kind {
                0 => {
                    if !self.ensure(20)? {
                        return Err(self.truncated(rec_offset));
                    }
                    let id = self.u64_at(self.start + 8);
                    let len = self.u32_at(self.start + 16);
                    if len > MAX_NAME {
                        return Err(SimpleError::Corrupt {
                            offset: rec_offset,
                            what: format!("mapping record with a name of {len} bytes"),
                        });
                    }
                    let total = 20 + len as usize;
                    if !self.ensure(total)? {
                        return Err(self.truncated(rec_offset));
                    }
                    let name = &self.buf[self.start + 20..self.start + total];
                    // A refused name is kept empty: its id's records are skipped.
                    let bad_name = !is_identifier(name);
                    let name: &[u8] = if bad_name { &[] } else { name };
                    if let Some(known) = self.names.get_mut(&id) {
                        // A renamed id: its old name's bytes are freed.
                        self.names_limit.release_bytes(known.len());
                        if self
                            .names_limit
                            .admit_bytes(0, name.len(), || format!("byte offset {rec_offset}"))
                        {
                            *known = name.into();
                        } else {
                            self.names.remove(&id);
                        }
                    } else if self
                        .names_limit
                        .admit_bytes(self.names.len(), name.len(), || {
                            format!("byte offset {rec_offset}")
                        })
                    {
                        self.names.insert(id, name.into());
                    }
                    self.consume(total);
                    if bad_name {
                        return Err(SimpleError::BadName {
                            offset: rec_offset,
                            id,
                        });
                    }
                }
                1 => {
                    if !self.ensure(8 + 24)? {
                        return Err(self.truncated(rec_offset));
                    }
                    let id = self.u64_at(self.start + 8);
                    let timestamp_ns = self.u64_at(self.start + 16);
                    let length = u64::from(self.u32_at(self.start + 24));
                    let pid = self.u32_at(self.start + 28);
                    if !(24..=MAX_RECORD).contains(&length) {
                        return Err(SimpleError::Corrupt {
                            offset: rec_offset,
                            what: format!("event record with length {length}"),
                        });
                    }
                    let total = 8 + length as usize;
                    if !self.ensure(total)? {
                        return Err(self.truncated(rec_offset));
                    }
                    self.records += 1;
                    if id != DROPPED_ID && self.names.get(&id).is_some_and(|n| n.is_empty()) {
                        // Named badly: reported at its mapping record.
                        self.skipped_bad_names += 1;
                        self.consume(total);
                        continue;
                    }
                    let s = self.start;
                    self.consume(total);
                    let args = &self.buf[s + 32..s + total];
                    if id == DROPPED_ID {
                        let count = if args.len() >= 8 {
                            read_u64(args, self.big_endian)
                        } else {
                            0
                        };
                        return Ok(Some(SimpleRecord::Dropped {
                            timestamp_ns,
                            pid,
                            count,
                        }));
                    }
                    let name = self.names.get(&id).map(|n| &**n);
                    return Ok(Some(SimpleRecord::Event {
                        name,
                        id,
                        timestamp_ns,
                        pid,
                        args,
                    }));
                }
                other => {
                    return Err(SimpleError::Corrupt {
                        offset: rec_offset,
                        what: format!("unknown record type {other}"),
                    });
                }
            }
        }
    }

    fn truncated(&self, offset: u64) -> SimpleError {
        SimpleError::Truncated {
            offset,
            record: self.records + 1,
        }
    }

    fn u64_at(&self, at: usize) -> u64 {
        read_u64(&self.buf[at..at + 8], self.big_endian)
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b: [u8; 4] = self.buf[at..at + 4].try_into().expect("4 bytes");
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes `n` bytes available at `start`; false at end of file.
    fn ensure(&mut self, n: usize) -> Result<bool, SimpleError> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() < n {
                self.buf.resize(n.next_power_of_two(), 0);
            }
            match self.rdr.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SimpleError::Io(e)),
            }
        }
        Ok(true)
    }
}

/// True for a QEMU event name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        None => false,
    }
}

/// A `u64` from 8 bytes in the file's byte order.
pub fn read_u64(b: &[u8], big_endian: bool) -> u64 {
    let a: [u8; 8] = b[..8].try_into().expect("8 bytes");
    if big_endian {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    }
}

/// A `u32` from 4 bytes in the file's byte order.
pub fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let a: [u8; 4] = b[..4].try_into().expect("4 bytes");
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// True for argument types the simple backend writes as strings.
pub fn is_string_type(ty: &str) -> bool {
    (ty.starts_with("const char") || ty.starts_with("char")) && ty.matches('*').count() == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut v = u64::MAX.to_le_bytes().to_vec();
        v.extend(MAGIC.to_le_bytes());
        v.extend(4u64.to_le_bytes());
        v
    }

    fn mapping(id: u64, name: &str) -> Vec<u8> {
        let mut v = 0u64.to_le_bytes().to_vec();
        v.extend(id.to_le_bytes());
        v.extend((name.len() as u32).to_le_bytes());
        v.extend(name.as_bytes());
        v
    }

    fn event(id: u64, ts: u64, args: &[u8]) -> Vec<u8> {
        let mut v = 1u64.to_le_bytes().to_vec();
        v.extend(id.to_le_bytes());
        v.extend(ts.to_le_bytes());
        v.extend((24 + args.len() as u32).to_le_bytes());
        v.extend(77u32.to_le_bytes());
        v.extend(args);
        v
    }

    #[test]
    fn reads_mappings_events_dropped_and_reports_a_cut() {
        let mut f = header();
        f.extend(mapping(5, "ps2_read_data"));
        f.extend(event(5, 1000, &0x55u64.to_le_bytes()));
        f.extend(event(DROPPED_ID, 2000, &42u64.to_le_bytes()));
        f.extend(mapping(9, "late_group_event"));
        f.extend(event(9, 3000, &[]));
        f.extend(event(77, 4000, &[]));
        let cut = event(5, 5000, &1u64.to_le_bytes());
        f.extend(&cut[..cut.len() - 3]);
        let mut r = SimpleReader::new(&f[..]).unwrap();
        match r.next_record().unwrap().unwrap() {
            SimpleRecord::Event {
                name,
                timestamp_ns,
                pid,
                args,
                ..
            } => {
                assert_eq!(name, Some(&b"ps2_read_data"[..]));
                assert_eq!((timestamp_ns, pid), (1000, 77));
                assert_eq!(read_u64(args, false), 0x55);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            r.next_record().unwrap(),
            Some(SimpleRecord::Dropped {
                timestamp_ns: 2000,
                pid: 77,
                count: 42
            })
        );
        assert!(matches!(
            r.next_record().unwrap(),
            Some(SimpleRecord::Event {
                name: Some(b"late_group_event"),
                ..
            })
        ));
        assert!(matches!(
            r.next_record().unwrap(),
            Some(SimpleRecord::Event {
                name: None,
                id: 77,
                ..
            })
        ));
        match r.next_record() {
            Err(SimpleError::Truncated { record, .. }) => assert_eq!(record, 5),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn big_endian_files_read_too() {
        let mut f = u64::MAX.to_be_bytes().to_vec();
        f.extend(MAGIC.to_be_bytes());
        f.extend(4u64.to_be_bytes());
        f.extend(0u64.to_be_bytes());
        f.extend(3u64.to_be_bytes());
        f.extend(1u32.to_be_bytes());
        f.extend(b"x");
        let mut r = SimpleReader::new(&f[..]).unwrap();
        assert!(r.big_endian());
        assert_eq!(r.next_record().unwrap(), None);
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let mut f = header();
        f.extend(7u64.to_le_bytes());
        let mut r = SimpleReader::new(&f[..]).unwrap();
        assert!(matches!(r.next_record(), Err(SimpleError::Corrupt { .. })));
        let mut f = header();
        f.extend(1u64.to_le_bytes());
        f.extend([0xff; 40]);
        let mut r = SimpleReader::new(&f[..]).unwrap();
        assert!(matches!(r.next_record(), Err(SimpleError::Corrupt { .. })));
        let mut v3 = u64::MAX.to_le_bytes().to_vec();
        v3.extend(MAGIC.to_le_bytes());
        v3.extend(3u64.to_le_bytes());
        assert!(SimpleReader::new(&v3[..]).is_err());
    }

    #[test]
    fn mapping_records_past_the_cap_are_refused_and_recorded() {
        // See: issue 20 (a flood of mapping records grew the table without bound).
        let mut file = header();
        for id in 0..5u64 {
            file.extend(mapping(id, &format!("ev_{id}")));
        }
        file.extend(mapping(1, "ev_renamed"));
        file.extend(event(0, 1, &[]));
        file.extend(event(1, 2, &[]));
        file.extend(event(4, 3, &[]));
        let mut r = SimpleReader::new(&file[..]).unwrap();
        r.set_names_limit(Limit::with_cap("event ids", 2));
        let mut names = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            if let SimpleRecord::Event { name, .. } = rec {
                names.push(name.map(|n| String::from_utf8_lossy(n).into_owned()));
            }
        }
        assert_eq!(
            names,
            [Some("ev_0".to_string()), Some("ev_renamed".into()), None]
        );
        // Ids 2, 3 and 4 were refused; the first at the third mapping.
        let third = 24 + 2 * (20 + 4);
        assert_eq!(
            r.names_limit().summary(),
            Some(format!(
                "stopped tracking new event ids after 2 (3 more seen, first at byte offset {third})"
            ))
        );
    }

    #[test]
    fn r20_names_that_are_not_identifiers_are_refused_never_handed_on() {
        // See: issue 20 (a mapping record's name with a newline forged a log line).
        let mut file = header();
        file.extend(mapping(1, "pci_cfg_read"));
        let bad_at = file.len() as u64;
        file.extend(mapping(
            2,
            "x_y\npci_cfg_read evil 00:00.0 @0x0 -> 0x1af41000",
        ));
        file.extend(event(2, 10, &[]));
        file.extend(event(1, 20, &[]));
        file.extend(event(2, 30, &[]));
        let mut r = SimpleReader::new(&file[..]).unwrap();
        let mut seen = Vec::new();
        let mut errors = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some(SimpleRecord::Event {
                    name, timestamp_ns, ..
                })) => seen.push((name.map(<[u8]>::to_vec), timestamp_ns)),
                Ok(Some(other)) => panic!("{other:?}"),
                Ok(None) => break,
                Err(e @ SimpleError::BadName { .. }) => errors.push(e.to_string()),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(seen, [(Some(b"pci_cfg_read".to_vec()), 20)]);
        assert_eq!(
            errors,
            [format!(
                "record at byte {bad_at}: event name is not an identifier; the records of \
                 event id 2 are skipped"
            )]
        );
        assert_eq!(r.skipped_bad_names(), 2);
    }

    #[test]
    fn identifiers_are_qemus_event_name_syntax() {
        for good in ["pci_cfg_read", "_x", "a", "ps2_put_keycode2", "Q"] {
            assert!(is_identifier(good.as_bytes()), "{good}");
        }
        for bad in [
            "", "2pci", "pci cfg", "a\nb", "a-b", "a.b", "é", "a\0", "x\r",
        ] {
            assert!(!is_identifier(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn string_types() {
        assert!(is_string_type("const char *"));
        assert!(is_string_type("char *"));
        assert!(!is_string_type("char **"));
        assert!(!is_string_type("const char"));
        assert!(!is_string_type("unsigned char *"));
        assert!(!is_string_type("void *"));
    }
}
