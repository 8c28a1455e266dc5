//! ps2-decode: the PS/2 keyboard bytes of a QEMU trace as key presses and
//! releases, typed text, or an HMP `sendkey` script.
//!
//! The core turns lines into events and their arguments; this tool follows
//! each keyboard (the `%p` pointer of the `ps2_*` events) on its own: the
//! bytes of `ps2_put_keycode` go through a [`decode::Decoder`] in the
//! keyboard's current scancode set, which `ps2_keyboard_event ... set S xlate
//! X` and the guest's commands (`ps2_write_keyboard` `F0 n`, resets) keep up
//! to date unless `--set` forces it; either form of that event is read, the
//! QKeyCode index (`qcode N`) or, since QEMU 11.1, the Linux key code
//! (`lnx N`; [`keys::KeyNumber`]). Key names come from the bytes alone,
//! never from the event's key number. Memory is per keyboard: a few
//! held-back bytes, the keys held, and one line of text.
//!
//! The output formats are specified in this crate's README.md.

pub mod decode;
pub mod keys;
pub mod sendkey;
pub mod text;

use std::io::Write;

use clap::{Parser, ValueEnum};
use qtrace_core::Error;
use qtrace_core::catalog::{Catalog, DigestCache, EventSpecs, Fields, Projection};
use qtrace_core::census::{Census, Family, LookedFor, explain_none, thousands};
use qtrace_core::cli::{CommonArgs, Env, InputArgs, Status, ToolArgs};
use qtrace_core::error::{EXCERPT_BYTES, excerpt};
use qtrace_core::input::Input;
use qtrace_core::limits::{Limit, Messages, Unused, damaged_name_of};
use qtrace_core::scan::{Diag, Record, Scanner};
use qtrace_core::value::{Kind as ValueKind, Radix};
use qtrace_core::write::{Cell, RecordFormat, RecordWriter};
use rustc_hash::FxHashMap;

use decode::{Action, Anomaly, At, Decoder, HEX_DIGITS, KeyEvent, hex_bytes, hex_bytes_into};
use sendkey::Folder;
use text::TextLine;

type Result<T> = qtrace_core::Result<T>;

const EXAMPLES: &str = "\
Examples:
  ps2-decode trace.log
      one line per key event: time, keyboard, bytes, press/release, key name
  ps2-decode --text trace.log
      the text that was typed (US layout): hello world
  ps2-decode --text --apply-backspace --printable-only trace.log
  ps2-decode --sendkey trace.log > keys.hmp
      an HMP script (sendkey shift-h ...) that types the same keys again
  ps2-decode --translated trace.log
      also the set-1 bytes the guest read through the i8042
  ps2-decode -o csv trace.log.zst > keys.csv
      columns time,tid,dev,bytes,action,key,text (also -o tsv, -o jsonl)
  grep ps2_put_keycode trace.log | ps2-decode --set 1
      a set-1 keyboard from its ps2_put_keycode lines alone
  qemu-system-x86_64 -d 'trace:ps2_*' ... 2>&1 | ps2-decode --line-buffered --text
  ps2-decode --follow --pid $! qemu.log
      keys as a QEMU started with `-D qemu.log ... &` logs them, until it exits

Key names are QEMU's QKeyCode names, as HMP sendkey and QMP send-key take them.
QEMU gives some keys the same bytes; those decode as kp_multiply (also asterisk),
print (also sysrq) and, in set 3, minus (also kp_subtract), slash (also
kp_divide) and hiragana (also katakanahiragana).

When no key event is decoded, stderr says why: no PS/2 keyboard events in the
input (and which tool's events it holds instead), or no key among them.

Exit status: 0 if a key event was decoded, 1 if none was, 2 if an error occurred.";

/// Decode the PS/2 keyboard bytes of a QEMU trace (`ps2_put_keycode`) into key
/// presses and releases, the typed text, or an HMP sendkey script, in scancode
/// set 1, 2 or 3, with or without i8042 translation.
#[derive(Debug, Parser)]
#[command(name = "ps2-decode", version, after_help = EXAMPLES)]
pub struct Args {
    /// Output format of the key events.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputKind::Text)]
    pub output: OutputKind,

    /// Print the typed text instead: US layout, honouring Shift, Caps Lock and
    /// Num Lock; Enter is a newline, Tab a tab, Backspace `<BS>`, other keys
    /// `<name>` tokens (`<esc>`, `<ctrl-c>`).
    #[arg(long, conflicts_with_all = ["sendkey", "translated"])]
    pub text: bool,

    /// With --text: let Backspace erase what it erased (within the line).
    #[arg(long, requires = "text")]
    pub apply_backspace: bool,

    /// With --text: leave out `<name>` tokens and `[..]` anomalies.
    #[arg(long, requires = "text")]
    pub printable_only: bool,

    /// Print an HMP script instead (`sendkey shift-a` per line) that replays
    /// the key presses.
    #[arg(long, conflicts_with = "translated")]
    pub sendkey: bool,

    /// Also show the bytes the guest received after i8042 translation (set 1
    /// when translation is on; the keyboard's own bytes when it is off).
    #[arg(long)]
    pub translated: bool,

    /// Decode every keyboard in this scancode set, ignoring what the trace says
    /// (default: follow `ps2_keyboard_event` and the guest's commands; set 2
    /// until they say otherwise).
    #[arg(long, value_name = "SET", value_parser = clap::value_parser!(u8).range(1..=3))]
    pub set: Option<u8>,

    /// No header row in -o csv and -o tsv (for `sort | uniq -c`).
    #[arg(long)]
    pub no_header: bool,

    /// Take i8042 translation as on or off, ignoring what the trace says
    /// (default: follow the trace; on until it says otherwise). Only changes
    /// --translated.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub xlate: Option<OnOff>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

impl ToolArgs for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// How key events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputKind {
    /// Aligned columns: time, keyboard, bytes, press/release, key.
    Text,
    /// CSV with a header row.
    Csv,
    /// TSV with a header row.
    Tsv,
    /// JSON Lines.
    Jsonl,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// The record keys of `-o csv|tsv|jsonl`, in order (`translated` is added
/// with --translated).
pub const COLUMNS: [&str; 7] = ["time", "tid", "dev", "bytes", "action", "key", "text"];

/// Width of the bytes column in text output (Pause's 8 bytes).
const BYTES_WIDTH: usize = 23;
/// The kinds of problem whose messages are capped (see
/// `qtrace_core::limits::Messages`): lines that could not be decoded, then
/// each [`Anomaly`] (in the order of [`problem_kind`]).
const PROBLEMS: [&str; 7] = [
    "ps2_* lines that could not be decoded",
    "codes that no key has",
    "releases of keys that were not pressed",
    "truncated sequences",
    "malformed sequences",
    "fake-shift codes not followed by a key",
    "Pause break bytes without the Pause make bytes",
];

/// The index in [`PROBLEMS`] of an anomaly.
fn problem_kind(a: Anomaly) -> usize {
    match a {
        Anomaly::UnknownCode => 1,
        Anomaly::BreakWithoutMake => 2,
        Anomaly::Truncated => 3,
        Anomaly::Malformed => 4,
        Anomaly::StrayFakeShift => 5,
        Anomaly::StrayPauseBreak => 6,
    }
}
/// Keyboards followed at most (a machine has one or two; each costs well
/// under a kilobyte, plus a line of text with --text). Pointers beyond it are
/// reported at the end (see `qtrace_core::limits`).
const MAX_KEYBOARDS: usize = 4096;

/// Runs ps2-decode.
pub fn run<W: Write>(args: &Args, out: &mut W, env: &mut Env<'_>) -> Result<Status> {
    if (args.text || args.sendkey) && args.output != OutputKind::Text {
        return Err(Error::usage(
            "--text and --sendkey print their own format; -o csv|tsv|jsonl is for key events",
        ));
    }
    if args.no_header
        && (args.text || args.sendkey || !matches!(args.output, OutputKind::Csv | OutputKind::Tsv))
    {
        return Err(Error::usage(
            "--no-header is for -o csv and -o tsv (the other formats have no header row)",
        ));
    }
    let catalog = args.input.catalog(env.diag)?;
    let inputs = args.input.inputs()?;
    let mut opts = args.input.scan_options();
    // Every event this tool reads is named ps2_*.
    opts.prefilter = Some(b"ps2_".to_vec());
    let mut scanner = Scanner::new(&catalog, opts);
    // One Diag for the scanner and this tool's own messages.
    let diag: &Diag = env.diag;
    let keyboards = Limit::new("keyboards", MAX_KEYBOARDS)?;
    let mut st = State::new(args, &catalog, out, env.line_buffered, keyboards);
    for (index, input) in inputs.iter().enumerate() {
        st.input = input.display();
        scanner.scan_one(input, index, diag, &mut |_, rec| {
            st.record(rec, diag)?;
            Ok(true)
        })?;
        st.end_input(diag)?;
    }
    st.finish(diag)?;
    st.unused.report(diag);
    st.keyboards.report(diag);
    st.messages.report(diag);
    let replies: u64 = st.devs.iter().map(|d| d.dec.replies).sum::<u64>() + st.set_replies;
    if replies > 0 {
        diag.note(format!(
            "{replies} keyboard reply or overflow byte(s) (FA AA EE FE 00 FF, set replies) \
             were not decoded as keys"
        ));
    }
    if st.bad_lines > 0 {
        diag.note(format!(
            "{} trace line(s) could not be decoded and were skipped",
            st.bad_lines
        ));
    }
    if st.events == 0 && diag.errors() == 0 {
        diag.note(st.why_nothing(&inputs, scanner.stats.lines));
    }
    Ok(Status::from_found(st.events > 0))
}

/// The events this tool reads (in the order of [`Kind::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PutKeycode,
    KeyboardEvent,
    WriteKeyboard,
    SetLedstate,
    SetTranslation,
    ResetKeyboard,
    KbdReset,
    ReadData,
}

impl Kind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    const ALL: [Kind; 8] = [
        Kind::PutKeycode,
        Kind::KeyboardEvent,
        Kind::WriteKeyboard,
        Kind::SetLedstate,
        Kind::SetTranslation,
        Kind::ResetKeyboard,
        Kind::KbdReset,
        Kind::ReadData,
    ];

    /// The event name.
    fn name(self) -> &'static [u8] {
        match self {
            Kind::PutKeycode => b"ps2_put_keycode",
            Kind::KeyboardEvent => b"ps2_keyboard_event",
            Kind::WriteKeyboard => b"ps2_write_keyboard",
            Kind::SetLedstate => b"ps2_set_ledstate",
            Kind::SetTranslation => b"ps2_keyboard_set_translation",
            Kind::ResetKeyboard => b"ps2_reset_keyboard",
            Kind::KbdReset => b"ps2_kbd_reset",
            Kind::ReadData => b"ps2_read_data",
        }
    }

    /// The integer fields read besides the device pointer.
    fn int_fields(self) -> [&'static [&'static str]; 2] {
        match self {
            Kind::PutKeycode => [&["keycode"], &[]],
            Kind::KeyboardEvent => [&["set"], &["xlate"]],
            Kind::WriteKeyboard => [&["val"], &[]],
            Kind::SetLedstate => [&["ledstate"], &[]],
            Kind::SetTranslation => [&["mode"], &[]],
            Kind::ResetKeyboard | Kind::KbdReset | Kind::ReadData => [&[], &[]],
        }
    }
}

/// Names of the device pointer argument.
const PTR_NAMES: &[&str] = &["opaque", "s"];

/// The kind of the event called `name`. Picked by length and the first
/// letter after `ps2_`, then compared whole (with names of known length the
/// comparisons are a few word compares).
#[inline]
fn kind_of(name: &[u8]) -> Option<Kind> {
    let kind = match (name.len(), name.get(4)) {
        (15, Some(b'p')) if name == b"ps2_put_keycode" => Kind::PutKeycode,
        (18, Some(b'k')) if name == b"ps2_keyboard_event" => Kind::KeyboardEvent,
        (18, Some(b'w')) if name == b"ps2_write_keyboard" => Kind::WriteKeyboard,
        (16, Some(b's')) if name == b"ps2_set_ledstate" => Kind::SetLedstate,
        (28, Some(b'k')) if name == b"ps2_keyboard_set_translation" => Kind::SetTranslation,
        (18, Some(b'r')) if name == b"ps2_reset_keyboard" => Kind::ResetKeyboard,
        (13, Some(b'k')) if name == b"ps2_kbd_reset" => Kind::KbdReset,
        (13, Some(b'r')) if name == b"ps2_read_data" => Kind::ReadData,
        _ => return None,
    };
    debug_assert_eq!(kind.name(), name);
    Some(kind)
}

/// One keyboard.
#[derive(Debug)]
struct Device {
    ptr: u64,
    /// `ptr` as printed (`0x…`), with the two spaces after it in text output.
    ptr_col: Box<[u8]>,
    set: u8,
    xlate: bool,
    dec: Decoder,
    /// A command byte waiting for its parameter (`F0`, `ED`, `F3`, `FC`).
    write_cmd: Option<u8>,
    /// After `F0 00`: QEMU ≤ 6.1 traces its reply (the set) as a keycode.
    expect_set_reply: bool,
    text: TextLine,
    fold: Folder,
}

/// Where output goes.
#[derive(Debug)]
enum Sink<'w, W: Write> {
    Lines(&'w mut W),
    Records(RecordWriter<&'w mut W>),
}

/// What [`State::record`] reads from one event's arguments.
#[derive(Debug, Clone, Copy)]
struct Args3 {
    /// The device pointer (NULL is 0).
    ptr: Option<u64>,
    /// The two integer fields of [`Kind::int_fields`].
    ints: [Option<i64>; 2],
}

struct State<'a, W: Write> {
    args: &'a Args,
    catalog: &'a Catalog,
    /// The specs of each [`Kind`], looked up once.
    specs: [Option<EventSpecs<'a>>; 8],
    /// The pointer and integer fields of each [`Kind`], by position.
    projs: [Projection<3>; 8],
    /// The arguments of repeated messages of each [`Kind`] (messages repeat:
    /// one keyboard pointer, a few hundred key codes and key events), so a
    /// repeated one skips decoding and projecting.
    args_cache: [DigestCache<Args3>; 8],
    /// The pointer and index of the keyboard looked up last.
    last_dev: Option<(u64, usize)>,
    sink: Option<Sink<'a, W>>,
    line_buffered: bool,
    input: String,
    devs: Vec<Device>,
    by_ptr: FxHashMap<u64, usize>,
    /// The cap of `devs`.
    keyboards: Limit,
    /// Lines that were not events, and events of unknown names.
    unused: Unused,
    evbuf: Vec<KeyEvent>,
    lines: Vec<String>,
    buf: String,
    /// Output line being built (text output).
    line: Vec<u8>,
    /// Cell texts being built (record output).
    hex: String,
    hex_guest: String,
    typed: String,
    events: u64,
    /// The cap of the problems printed, per kind of [`PROBLEMS`].
    messages: Messages<7>,
    /// Events of the eight kinds this tool reads.
    kbd_events: u64,
    /// Of them, `ps2_put_keycode`.
    keycodes: u64,
    set_replies: u64,
    bad_lines: u64,
    text_dev: Option<usize>,
}

/// The integer at position `i`, when it is an integer that fits an `i64`.
#[inline]
fn int_at(fields: &Fields<'_>, i: Option<usize>) -> Option<i64> {
    i.and_then(|i| fields.value(i).as_i64())
}

/// The device pointer: the `opaque`/`s` argument (position `named`) when it
/// is a pointer, else the first pointer argument; NULL is 0.
#[inline]
fn pointer_at(fields: &Fields<'_>, named: Option<usize>) -> Option<u64> {
    let i = match named {
        Some(i) if fields.kind(i) == ValueKind::Pointer => i,
        _ => (0..fields.len()).find(|&i| fields.kind(i) == ValueKind::Pointer)?,
    };
    Some(if fields.is_null(i) { 0 } else { fields.num(i) })
}

/// Appends a bytes column of text output: `bytes` as `E0 F0 75`, padded
/// with spaces to [`BYTES_WIDTH`], then two spaces (`{:<23}  `). Returns
/// where the hex text is in `line`.
#[inline]
fn bytes_column(line: &mut Vec<u8>, bytes: &[u8]) -> std::ops::Range<usize> {
    let start = line.len();
    // Up to 8 bytes fit the width: a blank column, then the digits in place.
    const FIT: usize = BYTES_WIDTH.div_ceil(3);
    if bytes.len() <= FIT {
        line.extend_from_slice(&[b' '; BYTES_WIDTH + 2]);
        for (cell, &b) in line[start..].chunks_exact_mut(3).zip(bytes) {
            cell[0] = HEX_DIGITS[usize::from(b >> 4)];
            cell[1] = HEX_DIGITS[usize::from(b & 0xf)];
        }
        return start..start + (3 * bytes.len()).saturating_sub(1);
    }
    hex_bytes_into(bytes, line);
    let end = line.len();
    line.extend_from_slice(b"  ");
    start..end
}

impl<'a, W: Write> State<'a, W> {
    fn new(
        args: &'a Args,
        catalog: &'a Catalog,
        out: &'a mut W,
        line_buffered: bool,
        keyboards: Limit,
    ) -> Self {
        let sink = match args.output {
            _ if args.text || args.sendkey => Sink::Lines(out),
            OutputKind::Text => Sink::Lines(out),
            kind => {
                let format = match kind {
                    OutputKind::Csv => RecordFormat::Csv,
                    OutputKind::Tsv => RecordFormat::Tsv,
                    _ => RecordFormat::Jsonl,
                };
                let mut cols: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
                if args.translated {
                    cols.push("translated".into());
                }
                let w = RecordWriter::new(format, cols, out);
                Sink::Records(if args.no_header {
                    w.without_header()
                } else {
                    w
                })
            }
        };
        State {
            args,
            catalog,
            specs: Kind::ALL.map(|k| catalog.event(k.name())),
            projs: Kind::ALL.map(|k| {
                let [a, b] = k.int_fields();
                Projection::new([PTR_NAMES, a, b])
            }),
            args_cache: Default::default(),
            last_dev: None,
            sink: Some(sink),
            line_buffered,
            input: String::new(),
            devs: Vec::new(),
            by_ptr: FxHashMap::default(),
            keyboards,
            unused: Unused::new(),
            evbuf: Vec::new(),
            lines: Vec::new(),
            buf: String::new(),
            line: Vec::with_capacity(128),
            hex: String::new(),
            hex_guest: String::new(),
            typed: String::new(),
            events: 0,
            messages: Messages::new(PROBLEMS),
            kbd_events: 0,
            keycodes: 0,
            set_replies: 0,
            bad_lines: 0,
            text_dev: None,
        }
    }

    /// The keyboard with this pointer, if it was seen.
    #[inline]
    fn find_dev(&mut self, ptr: u64) -> Option<usize> {
        if let Some((p, i)) = self.last_dev
            && p == ptr
        {
            return Some(i);
        }
        let i = *self.by_ptr.get(&ptr)?;
        self.last_dev = Some((ptr, i));
        Some(i)
    }

    /// The keyboard with this pointer, added when new and the cap allows
    /// (`line` is where it was named).
    #[inline]
    fn dev(&mut self, ptr: u64, line: u64) -> Option<usize> {
        match self.find_dev(ptr) {
            Some(i) => Some(i),
            None => self.add_dev(ptr, line),
        }
    }

    #[cold]
    fn add_dev(&mut self, ptr: u64, line: u64) -> Option<usize> {
        let i = self.devs.len();
        let input = &self.input;
        if !self.keyboards.admit(i, || format!("{input}:{line}")) {
            return None;
        }
        self.devs.push(Device {
            ptr,
            ptr_col: format!("{ptr:#x}  ").into_bytes().into_boxed_slice(),
            set: self.args.set.unwrap_or(2),
            xlate: self.args.xlate.is_none_or(|x| x == OnOff::On),
            dec: Decoder::new(),
            write_cmd: None,
            expect_set_reply: false,
            text: TextLine::default(),
            fold: Folder::default(),
        });
        self.by_ptr.insert(ptr, i);
        Some(i)
    }

    fn bad_line(&mut self, diag: &Diag, line: u64, what: String) {
        self.bad_lines += 1;
        if self.messages.show(0) {
            diag.error(&Error::Line {
                input: self.input.clone(),
                line,
                what,
            });
        } else {
            diag.count_error();
        }
    }

    fn record(&mut self, rec: Record<'_>, diag: &Diag) -> Result<()> {
        let ev = match rec {
            Record::Event(ev) => ev,
            Record::Other(_) => {
                self.unused.other_line();
                return Ok(());
            }
        };
        let Some(kind) = kind_of(ev.name) else {
            // Other ps2_ events (the mouse's) are not this tool's; a
            // damaged name of one of its own is counted.
            if !self.catalog.knows(ev.name)
                && let Some(meant) = damaged_name_of(ev.name, Kind::ALL.iter().map(|k| k.name()))
            {
                self.unused
                    .damaged_event(&self.input, ev.line.number, ev.name, meant);
            }
            return Ok(());
        };
        self.kbd_events += 1;
        if kind == Kind::PutKeycode {
            self.keycodes += 1;
        }
        let line = ev.line.number;
        let got = self.decode(kind, ev.message);
        let Some(Args3 { ptr, ints }) = got else {
            let name = excerpt(ev.name, EXCERPT_BYTES);
            self.bad_line(
                diag,
                line,
                format!("{name}: the arguments match no known format of this event; line skipped"),
            );
            return Ok(());
        };
        let Some(ptr) = ptr else {
            let name = excerpt(ev.name, EXCERPT_BYTES);
            self.bad_line(
                diag,
                line,
                format!("{name}: no device pointer; line skipped"),
            );
            return Ok(());
        };
        // ps2_read_data also names the mouse: it only matters for keyboards
        // already seen.
        if kind == Kind::ReadData {
            if let Some(d) = self.find_dev(ptr) {
                self.devs[d].expect_set_reply = false;
            }
            return Ok(());
        }
        let Some(d) = self.dev(ptr, line) else {
            return Ok(());
        };
        let forced_set = self.args.set.is_some();
        let forced_xlate = self.args.xlate.is_some();
        match kind {
            Kind::PutKeycode => {
                let code = ints[0];
                let Some(b) = code.and_then(|c| u8::try_from(c).ok()) else {
                    let name = excerpt(ev.name, EXCERPT_BYTES);
                    let what = match code {
                        Some(c) => format!("{name}: keycode {c} is not a byte; line skipped"),
                        None => format!("{name}: no keycode; line skipped"),
                    };
                    self.bad_line(diag, line, what);
                    return Ok(());
                };
                let dev = &mut self.devs[d];
                if std::mem::take(&mut dev.expect_set_reply)
                    && matches!(b, 1..=3 | 0x43 | 0x41 | 0x3f)
                {
                    self.set_replies += 1;
                } else {
                    let at = At {
                        line,
                        time: ev.prefix.time,
                        tid: ev.prefix.tid,
                    };
                    dev.dec.push_at(dev.set, dev.xlate, b, at, &mut self.evbuf);
                }
            }
            Kind::KeyboardEvent => {
                let dev = &mut self.devs[d];
                dev.expect_set_reply = false;
                dev.dec.boundary(dev.set, &mut self.evbuf);
                if !forced_set && let Some(s) = ints[0].filter(|s| (1..=3).contains(s)) {
                    dev.set = s as u8;
                }
                if !forced_xlate && let Some(x) = ints[1] {
                    dev.xlate = x != 0;
                }
            }
            Kind::WriteKeyboard => {
                let val = ints[0].unwrap_or(-1);
                let dev = &mut self.devs[d];
                dev.expect_set_reply = false;
                match dev.write_cmd.take() {
                    Some(0xf0) => match val {
                        0 => dev.expect_set_reply = true,
                        1..=3 if !forced_set && dev.set != val as u8 => {
                            dev.dec.boundary(dev.set, &mut self.evbuf);
                            dev.set = val as u8;
                        }
                        _ => {}
                    },
                    Some(0xed) => dev.dec.state.set_leds(val as u64),
                    Some(_) => {}
                    None => match val {
                        0xf0 | 0xed | 0xf3 | 0xfc => dev.write_cmd = Some(val as u8),
                        0xf5 | 0xf6 | 0xff if !forced_set => {
                            dev.dec.boundary(dev.set, &mut self.evbuf);
                            dev.set = 2;
                        }
                        _ => {}
                    },
                }
            }
            Kind::SetLedstate => {
                if let Some(l) = ints[0] {
                    self.devs[d].dec.state.set_leds(l as u64);
                }
            }
            Kind::SetTranslation => {
                if !forced_xlate && let Some(m) = ints[0] {
                    self.devs[d].xlate = m != 0;
                }
            }
            Kind::ResetKeyboard | Kind::KbdReset => {
                let dev = &mut self.devs[d];
                dev.dec.boundary(dev.set, &mut self.evbuf);
                dev.write_cmd = None;
                if !forced_set {
                    dev.set = 2;
                }
                if kind == Kind::KbdReset && !forced_xlate {
                    dev.xlate = false;
                }
            }
            Kind::ReadData => {}
        }
        if self.evbuf.is_empty() {
            return Ok(());
        }
        self.drain(d, diag)
    }

    /// The arguments of an event of `kind` (`None`: no format matches).
    fn decode(&mut self, kind: Kind, message: &[u8]) -> Option<Args3> {
        let k = kind as usize;
        let projection = &mut self.projs[k];
        self.specs[k]?.decode_digest(message, &mut self.args_cache[k], |fields| {
            let [p, a, b] = projection.resolve(fields);
            Args3 {
                ptr: pointer_at(fields, p),
                ints: [int_at(fields, a), int_at(fields, b)],
            }
        })
    }

    /// Ends partial sequences of every keyboard at the end of an input.
    /// Why no key event was decoded (the run had no error to say it).
    fn why_nothing(&self, inputs: &[Input], lines: u64) -> String {
        if self.kbd_events == 0 {
            let looked = LookedFor {
                family: Family::Ps2,
                what: "PS/2 keyboard events",
                enable: "enable them with -d 'trace:ps2_*'",
            };
            let max_line = self.args.input.scan_options().max_line;
            let census = Census::take(self.catalog, inputs, max_line);
            return explain_none(&looked, inputs.len(), lines, census.as_ref());
        }
        format!(
            "no key press or release in {} PS/2 keyboard event(s) ({} ps2_put_keycode)",
            thousands(self.kbd_events),
            thousands(self.keycodes)
        )
    }

    fn end_input(&mut self, diag: &Diag) -> Result<()> {
        for d in 0..self.devs.len() {
            let dev = &mut self.devs[d];
            dev.dec.boundary(dev.set, &mut self.evbuf);
            self.drain(d, diag)?;
        }
        Ok(())
    }

    fn finish(&mut self, diag: &Diag) -> Result<()> {
        self.end_input(diag)?;
        for d in 0..self.devs.len() {
            if self.args.text && !self.devs[d].text.is_empty() {
                let mut line = self.devs[d].text.take();
                if !line.ends_with('\n') {
                    line.push('\n');
                }
                self.write_text_line(d, &line)?;
            }
            if self.args.sendkey {
                self.devs[d].fold.finish(&mut self.lines);
                self.write_lines()?;
            }
        }
        match self.sink.take() {
            Some(Sink::Records(w)) => {
                w.finish()?;
            }
            Some(Sink::Lines(w)) => w.flush()?,
            None => {}
        }
        Ok(())
    }

    /// Outputs the events the decoder of keyboard `d` finished.
    fn drain(&mut self, d: usize, diag: &Diag) -> Result<()> {
        let mut evs = std::mem::take(&mut self.evbuf);
        let r = evs.iter().try_for_each(|ev| self.output(d, ev, diag));
        evs.clear();
        self.evbuf = evs;
        r
    }

    fn output(&mut self, d: usize, ev: &KeyEvent, diag: &Diag) -> Result<()> {
        self.events += 1;
        if let Some(a) = ev.anomaly {
            self.report(d, ev, a, diag);
        }
        if self.args.text {
            self.buf.clear();
            let printable_only = self.args.printable_only;
            if text::event_text(ev, &ev.state, printable_only, &mut self.buf)
                && !(printable_only && !self.args.apply_backspace && self.buf == text::BACKSPACE)
            {
                let piece = std::mem::take(&mut self.buf);
                let done = self.devs[d].text.push(&piece, self.args.apply_backspace);
                self.buf = piece;
                if done {
                    let line = self.devs[d].text.take();
                    self.write_text_line(d, &line)?;
                }
            }
            return Ok(());
        }
        if self.args.sendkey {
            if let (None, Some(action), Some(key)) = (ev.anomaly, ev.action, ev.key) {
                self.devs[d]
                    .fold
                    .event(action, key, ev.tap, &mut self.lines);
                self.write_lines()?;
            }
            return Ok(());
        }
        let key_name = ev.key.map(keys::name);
        let translated = self.args.translated;
        let dev = &self.devs[d];
        match self.sink.as_mut() {
            Some(Sink::Records(w)) => {
                let action = ev.action.map(Action::as_str);
                let bytes = &mut self.hex;
                bytes.clear();
                hex_bytes(&ev.seq.raw, bytes);
                let guest = &mut self.hex_guest;
                guest.clear();
                if translated {
                    hex_bytes(&ev.seq.guest, guest);
                }
                let typed = &mut self.typed;
                typed.clear();
                let has_text = text::event_text(ev, &ev.state, false, typed);
                let origin = &ev.seq.origin;
                let cells = [
                    origin.time.as_deref().map_or(Cell::Null, Cell::Str),
                    origin.tid.map_or(Cell::Null, |t| Cell::UInt(t, Radix::Dec)),
                    Cell::Ptr(dev.ptr),
                    Cell::Str(bytes.as_bytes()),
                    action.map_or(Cell::Null, |a| Cell::Str(a.as_bytes())),
                    key_name.map_or(Cell::Null, |k| Cell::Str(k.as_bytes())),
                    if has_text {
                        Cell::Str(typed.as_bytes())
                    } else {
                        Cell::Null
                    },
                    Cell::Str(guest.as_bytes()),
                ];
                let n = if translated {
                    cells.len()
                } else {
                    cells.len() - 1
                };
                w.row(&cells[..n])?;
                if self.line_buffered {
                    w.flush()?;
                }
            }
            Some(Sink::Lines(out)) => {
                // time  ptr  bytes  [guest bytes]  action  key
                let line = &mut self.line;
                line.clear();
                if let Some(t) = &ev.seq.origin.time {
                    line.extend_from_slice(t);
                    line.extend_from_slice(b"  ");
                }
                line.extend_from_slice(&dev.ptr_col);
                let bytes = bytes_column(line, &ev.seq.raw);
                if translated {
                    bytes_column(line, &ev.seq.guest);
                }
                // Padded to 7, then two spaces.
                line.extend_from_slice(match ev.action {
                    Some(Action::Press) => b"press    ",
                    Some(Action::Release) => b"release  ",
                    None => b"?        ",
                });
                match (key_name, ev.anomaly) {
                    (Some(k), None) => line.extend_from_slice(k.as_bytes()),
                    (Some(k), Some(_)) => {
                        line.extend_from_slice(k.as_bytes());
                        line.extend_from_slice(b" [");
                        line.extend_from_within(bytes);
                        line.push(b']');
                    }
                    (None, _) => {
                        line.push(b'[');
                        line.extend_from_within(bytes);
                        line.push(b']');
                    }
                }
                line.push(b'\n');
                out.write_all(line)?;
                if self.line_buffered {
                    out.flush()?;
                }
            }
            None => {}
        }
        Ok(())
    }

    fn report(&mut self, d: usize, ev: &KeyEvent, a: Anomaly, diag: &Diag) {
        if !self.messages.show(problem_kind(a)) {
            return;
        }
        let mut bytes = String::new();
        hex_bytes(&ev.seq.raw, &mut bytes);
        let set = ev.set;
        let what = match a {
            Anomaly::UnknownCode => format!("no key has code {bytes} in scancode set {set}"),
            Anomaly::BreakWithoutMake => format!(
                "release of '{}' ({bytes}) that was not pressed",
                ev.key.map_or("?", keys::name)
            ),
            Anomaly::Truncated => format!("truncated sequence {bytes}"),
            Anomaly::Malformed => format!("malformed sequence {bytes} in scancode set {set}"),
            Anomaly::StrayFakeShift => format!("fake-shift codes {bytes} not followed by a key"),
            Anomaly::StrayPauseBreak => {
                format!("Pause break bytes {bytes} without the Pause make bytes")
            }
        };
        diag.warn(format_args!(
            "{}:{}: {what} (keyboard {:#x}); shown as [{bytes}]",
            self.input, ev.seq.origin.line, self.devs[d].ptr
        ));
    }

    fn write_text_line(&mut self, d: usize, line: &str) -> Result<()> {
        let multi = self.devs.len() > 1;
        let Some(Sink::Lines(out)) = self.sink.as_mut() else {
            return Ok(());
        };
        if multi && self.text_dev.is_some_and(|p| p != d) {
            writeln!(out, "[keyboard {:#x}]", self.devs[d].ptr)?;
        }
        self.text_dev = Some(d);
        out.write_all(line.as_bytes())?;
        if self.line_buffered {
            out.flush()?;
        }
        Ok(())
    }

    fn write_lines(&mut self) -> Result<()> {
        let Some(Sink::Lines(out)) = self.sink.as_mut() else {
            self.lines.clear();
            return Ok(());
        };
        for l in self.lines.drain(..) {
            out.write_all(l.as_bytes())?;
            out.write_all(b"\n")?;
        }
        if self.line_buffered {
            out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Args::command().debug_assert()
    }

    fn run_on(args: &[&str], input: &str) -> (Status, String) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), input).unwrap();
        let mut argv = vec!["ps2-decode", "--no-installed-catalog"];
        argv.extend_from_slice(args);
        argv.push(file.path().to_str().unwrap());
        let a = Args::try_parse_from(argv).unwrap();
        let mut out = Vec::new();
        let mut diag = Diag::new("ps2-decode");
        let mut env = Env {
            diag: &mut diag,
            line_buffered: false,
        };
        let s = run(&a, &mut out, &mut env).unwrap();
        (s, String::from_utf8(out).unwrap())
    }

    const LOG: &str = "\
1@1.000001:ps2_keyboard_event 0x10 qcode 1 down 1 modifier 0x2 modifiers 0x0 set 2 xlate 1
1@1.000002:ps2_put_keycode 0x10 keycode 0x12
1@1.000003:ps2_put_keycode 0x10 keycode 0x33
1@1.000004:ps2_put_keycode 0x10 keycode 0xf0
1@1.000005:ps2_put_keycode 0x10 keycode 0x33
1@1.000006:ps2_put_keycode 0x10 keycode 0xf0
1@1.000007:ps2_put_keycode 0x10 keycode 0x12
1@1.000008:ps2_put_keycode 0x10 keycode 0x43
1@1.000009:ps2_write_keyboard 0x10 val 240
1@1.000010:ps2_write_keyboard 0x10 val 1
1@1.000011:ps2_put_keycode 0x10 keycode 0x2a
1@1.000012:ps2_put_keycode 0x10 keycode 0xaa
";

    #[test]
    fn follows_set_changes_and_prints_events() {
        let (s, out) = run_on(&[], LOG);
        assert_eq!(s, Status::Found);
        assert_eq!(
            out,
            "1.000002  0x10  12                       press    shift\n\
             1.000003  0x10  33                       press    h\n\
             1.000004  0x10  F0 33                    release  h\n\
             1.000006  0x10  F0 12                    release  shift\n\
             1.000008  0x10  43                       press    i\n\
             1.000011  0x10  2A                       press    shift\n\
             1.000012  0x10  AA                       release  shift\n"
        );
        let (_, text) = run_on(&["--text"], LOG);
        assert_eq!(text, "Hi\n");
        let (_, sk) = run_on(&["--sendkey"], LOG);
        // i is never released, so the set-1 Shift nests around it.
        assert_eq!(sk, "sendkey shift-h\nsendkey i-shift\n");
    }

    #[test]
    fn records_have_the_documented_columns() {
        let (_, csv) = run_on(&["-o", "csv", "--translated"], LOG);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("time,tid,dev,bytes,action,key,text,translated")
        );
        assert_eq!(lines.next(), Some("1.000002,1,0x10,12,press,shift,,2A"));
        assert_eq!(lines.next(), Some("1.000003,1,0x10,33,press,h,H,23"));
        assert_eq!(lines.next(), Some("1.000004,1,0x10,F0 33,release,h,,A3"));
    }

    #[test]
    fn repeated_messages_decode_with_the_spec_that_matched_last() {
        // Both formats read "12"; the catalog tries the one that matched
        // last first, and the decode cache must give the same answer.
        let events = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            events.path(),
            "ps2_put_keycode(void *opaque, int keycode) \"%p keycode %d\"\n\
             ps2_put_keycode(void *opaque, int keycode) \"%p keycode %x\"\n",
        )
        .unwrap();
        let log = "\
ps2_put_keycode 0x10 keycode 12
ps2_put_keycode 0x10 keycode 1c
ps2_put_keycode 0x10 keycode 12
ps2_put_keycode 0x10 keycode zz
ps2_put_keycode 0x10 keycode 12
";
        let path = events.path().to_str().unwrap();
        let (_, out) = run_on(&["--trace-events", path], log);
        assert_eq!(
            out,
            "0x10  0C                       press    f4\n\
             0x10  1C                       press    a\n\
             0x10  12                       press    shift\n\
             0x10  12                       press    shift\n"
        );
    }
}
