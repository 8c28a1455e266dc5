//! ps2-decode: the PS/2 keyboard bytes of a QEMU trace as key presses and
//! releases, typed text, or an HMP `sendkey` script.
//!
//! The core turns lines into events and their arguments; this tool follows
//! each keyboard (the `%p` pointer of the `ps2_*` events) on its own: the
//! bytes of `ps2_put_keycode` go through a [`decode::Decoder`] in the
//! keyboard's current scancode set, which `ps2_keyboard_event ... set S xlate
//! X` and the guest's commands (`ps2_write_keyboard` `F0 n`, resets) keep up
//! to date unless `--set` forces it. Key names come from the bytes alone,
//! never from `ps2_keyboard_event`'s qcode. Memory is per keyboard: a few
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
use qtrace_core::catalog::{Catalog, Fields};
use qtrace_core::cli::{CommonArgs, Env, InputArgs, Status, ToolArgs};
use qtrace_core::format::Slot;
use qtrace_core::scan::{Diag, Record, Scanner};
use qtrace_core::value::{Radix, Value};
use qtrace_core::write::{Cell, RecordFormat, RecordWriter};
use rustc_hash::FxHashMap;

use decode::{Action, Anomaly, Decoder, KeyEvent, Origin, hex_bytes};
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

Key names are QEMU's QKeyCode names, as HMP sendkey and QMP send-key take them.
QEMU gives some keys the same bytes; those decode as kp_multiply (also asterisk),
print (also sysrq) and, in set 3, minus (also kp_subtract), slash (also
kp_divide) and hiragana (also katakanahiragana).

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
/// Messages printed on stderr before the rest are only counted.
const MAX_REPORTS: u64 = 100;

/// Runs ps2-decode.
pub fn run<W: Write>(args: &Args, out: &mut W, env: &mut Env<'_>) -> Result<Status> {
    if (args.text || args.sendkey) && args.output != OutputKind::Text {
        return Err(Error::usage(
            "--text and --sendkey print their own format; -o csv|tsv|jsonl is for key events",
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
    let mut st = State::new(args, &catalog, out, env.line_buffered);
    for (index, input) in inputs.iter().enumerate() {
        st.input = input.display();
        scanner.scan_one(input, index, diag, &mut |_, rec| {
            st.record(rec, diag)?;
            Ok(true)
        })?;
        st.end_input(diag)?;
    }
    st.finish(diag)?;
    if st.unreported > 0 {
        diag.note(format!(
            "{} more problem(s) were found but not shown",
            st.unreported
        ));
    }
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
    Ok(Status::from_found(st.events > 0))
}

/// The events this tool reads.
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

fn kind_of(name: &[u8]) -> Option<Kind> {
    Some(match name {
        b"ps2_put_keycode" => Kind::PutKeycode,
        b"ps2_keyboard_event" => Kind::KeyboardEvent,
        b"ps2_write_keyboard" => Kind::WriteKeyboard,
        b"ps2_set_ledstate" => Kind::SetLedstate,
        b"ps2_keyboard_set_translation" => Kind::SetTranslation,
        b"ps2_reset_keyboard" => Kind::ResetKeyboard,
        b"ps2_kbd_reset" => Kind::KbdReset,
        b"ps2_read_data" => Kind::ReadData,
        _ => return None,
    })
}

/// One keyboard.
#[derive(Debug)]
struct Device {
    ptr: u64,
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

struct State<'a, W: Write> {
    args: &'a Args,
    catalog: &'a Catalog,
    sink: Option<Sink<'a, W>>,
    line_buffered: bool,
    input: String,
    devs: Vec<Device>,
    by_ptr: FxHashMap<u64, usize>,
    scratch: Vec<Slot>,
    evbuf: Vec<KeyEvent>,
    lines: Vec<String>,
    buf: String,
    events: u64,
    reported: u64,
    unreported: u64,
    set_replies: u64,
    bad_lines: u64,
    text_dev: Option<usize>,
}

fn int_field(fields: &Fields<'_>, name: &str) -> Option<i64> {
    fields.get(name).and_then(|v| v.as_i64())
}

impl<'a, W: Write> State<'a, W> {
    fn new(args: &'a Args, catalog: &'a Catalog, out: &'a mut W, line_buffered: bool) -> Self {
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
                Sink::Records(RecordWriter::new(format, cols, out))
            }
        };
        State {
            args,
            catalog,
            sink: Some(sink),
            line_buffered,
            input: String::new(),
            devs: Vec::new(),
            by_ptr: FxHashMap::default(),
            scratch: Vec::new(),
            evbuf: Vec::new(),
            lines: Vec::new(),
            buf: String::new(),
            events: 0,
            reported: 0,
            unreported: 0,
            set_replies: 0,
            bad_lines: 0,
            text_dev: None,
        }
    }

    fn dev(&mut self, ptr: u64) -> usize {
        if let Some(&i) = self.by_ptr.get(&ptr) {
            return i;
        }
        let i = self.devs.len();
        self.devs.push(Device {
            ptr,
            set: self.args.set.unwrap_or(2),
            xlate: self.args.xlate.is_none_or(|x| x == OnOff::On),
            dec: Decoder::new(),
            write_cmd: None,
            expect_set_reply: false,
            text: TextLine::default(),
            fold: Folder::default(),
        });
        self.by_ptr.insert(ptr, i);
        i
    }

    /// Counts a message against the cap; true when it may be printed.
    fn may_report(&mut self) -> bool {
        if self.reported < MAX_REPORTS {
            self.reported += 1;
            true
        } else {
            self.unreported += 1;
            false
        }
    }

    fn bad_line(&mut self, diag: &Diag, line: u64, what: String) {
        self.bad_lines += 1;
        if self.may_report() {
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
        let Record::Event(ev) = rec else {
            return Ok(());
        };
        let Some(kind) = kind_of(ev.name) else {
            return Ok(());
        };
        let line = ev.line.number;
        let name = String::from_utf8_lossy(ev.name).into_owned();
        let catalog = self.catalog;
        let mut scratch = std::mem::take(&mut self.scratch);
        let Some(fields) = catalog.decode(ev.name, ev.message, &mut scratch) else {
            self.scratch = scratch;
            self.bad_line(
                diag,
                line,
                format!("{name}: the arguments match no known format of this event; line skipped"),
            );
            return Ok(());
        };
        let ptr = match fields.get_any(&["opaque", "s"]) {
            Some((_, Value::Pointer(p))) => Some(p.unwrap_or(0)),
            _ => (0..fields.len()).find_map(|i| match fields.value(i) {
                Value::Pointer(p) => Some(p.unwrap_or(0)),
                _ => None,
            }),
        };
        let Some(ptr) = ptr else {
            self.scratch = scratch;
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
            if let Some(&d) = self.by_ptr.get(&ptr) {
                self.devs[d].expect_set_reply = false;
            }
            self.scratch = scratch;
            return Ok(());
        }
        let d = self.dev(ptr);
        let forced_set = self.args.set.is_some();
        let forced_xlate = self.args.xlate.is_some();
        match kind {
            Kind::PutKeycode => {
                let code = int_field(&fields, "keycode");
                let Some(b) = code.and_then(|c| u8::try_from(c).ok()) else {
                    self.scratch = scratch;
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
                    let origin = Origin {
                        line,
                        time: ev.prefix.time.map(Box::from),
                        tid: ev.prefix.tid,
                    };
                    dev.dec
                        .push(dev.set, dev.xlate, b, &origin, &mut self.evbuf);
                }
            }
            Kind::KeyboardEvent => {
                let dev = &mut self.devs[d];
                dev.expect_set_reply = false;
                dev.dec.boundary(dev.set, &mut self.evbuf);
                if !forced_set
                    && let Some(s) = int_field(&fields, "set").filter(|s| (1..=3).contains(s))
                {
                    dev.set = s as u8;
                }
                if !forced_xlate && let Some(x) = int_field(&fields, "xlate") {
                    dev.xlate = x != 0;
                }
            }
            Kind::WriteKeyboard => {
                let val = int_field(&fields, "val").unwrap_or(-1);
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
                if let Some(l) = int_field(&fields, "ledstate") {
                    self.devs[d].dec.state.set_leds(l as u64);
                }
            }
            Kind::SetTranslation => {
                if !forced_xlate && let Some(m) = int_field(&fields, "mode") {
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
        self.scratch = scratch;
        self.drain(d, diag)
    }

    /// Ends partial sequences of every keyboard at the end of an input.
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
        let r = evs.drain(..).try_for_each(|ev| self.output(d, ev, diag));
        self.evbuf = evs;
        r
    }

    fn output(&mut self, d: usize, ev: KeyEvent, diag: &Diag) -> Result<()> {
        self.events += 1;
        if let Some(a) = ev.anomaly {
            self.report(d, &ev, a, diag);
        }
        if self.args.text {
            self.buf.clear();
            let printable_only = self.args.printable_only;
            if text::event_text(&ev, &ev.state, printable_only, &mut self.buf)
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
        let ptr = self.devs[d].ptr;
        let mut bytes = String::new();
        hex_bytes(&ev.seq.raw, &mut bytes);
        let mut guest = String::new();
        if self.args.translated {
            hex_bytes(&ev.seq.guest, &mut guest);
        }
        let mut typed = String::new();
        let has_text = text::event_text(&ev, &ev.state, false, &mut typed);
        let key_name = ev.key.map(keys::name);
        let action = ev.action.map(Action::as_str);
        match self.sink.as_mut() {
            Some(Sink::Records(w)) => {
                let origin = &ev.seq.origin;
                let mut cells = vec![
                    origin.time.as_deref().map_or(Cell::Null, Cell::Str),
                    origin.tid.map_or(Cell::Null, |t| Cell::UInt(t, Radix::Dec)),
                    Cell::Ptr(ptr),
                    Cell::Str(bytes.as_bytes()),
                    action.map_or(Cell::Null, |a| Cell::Str(a.as_bytes())),
                    key_name.map_or(Cell::Null, |k| Cell::Str(k.as_bytes())),
                    if has_text {
                        Cell::Str(typed.as_bytes())
                    } else {
                        Cell::Null
                    },
                ];
                if self.args.translated {
                    cells.push(Cell::Str(guest.as_bytes()));
                }
                w.row(&cells)?;
                if self.line_buffered {
                    w.flush()?;
                }
            }
            Some(Sink::Lines(out)) => {
                let mut line = Vec::with_capacity(96);
                if let Some(t) = &ev.seq.origin.time {
                    line.extend_from_slice(t);
                    line.extend_from_slice(b"  ");
                }
                let _ = write!(line, "{ptr:#x}  {bytes:<BYTES_WIDTH$}  ");
                if self.args.translated {
                    let _ = write!(line, "{guest:<BYTES_WIDTH$}  ");
                }
                let _ = write!(line, "{:<7}  ", action.unwrap_or("?"));
                match (key_name, ev.anomaly) {
                    (Some(k), None) => line.extend_from_slice(k.as_bytes()),
                    (Some(k), Some(_)) => {
                        let _ = write!(line, "{k} [{bytes}]");
                    }
                    (None, _) => {
                        let _ = write!(line, "[{bytes}]");
                    }
                }
                line.push(b'\n');
                out.write_all(&line)?;
                if self.line_buffered {
                    out.flush()?;
                }
            }
            None => {}
        }
        Ok(())
    }

    fn report(&mut self, d: usize, ev: &KeyEvent, a: Anomaly, diag: &Diag) {
        if !self.may_report() {
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
}
