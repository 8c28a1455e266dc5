//! Following a log QEMU is still writing (`--follow`, like `tail -n +1 -F`):
//! the file is read from its start, then watched for more, and the reading
//! ends only when asked to (SIGINT or SIGTERM) or when the writing process
//! is gone (`--pid`).
//!
//! [`FollowReader`] is a byte stream that does not end at the end of the
//! file: when a read finds nothing new it polls (every [`POLL`], no busy
//! loop, no inotify), so the stream-splitting path of [`crate::ahead`]
//! hands on each line as soon as its newline is in the file, and holds an
//! unfinished last line until its newline arrives. It is never read by the
//! chunk workers of [`crate::chunks`], which split a file of known length.
//!
//! As `tail -F` does, it opens the file again when the name is given to
//! another file (another inode: the log was replaced) and reads it from the
//! start when the file shrank below what was read (it was truncated),
//! saying so on stderr. An unfinished line at that point ends there (a
//! newline is handed on in its place), as it would at the end of that
//! file. A file that does not exist yet is waited for; while the name is
//! gone, the file already open is read on.
//!
//! The stream ends, after everything the file holds by then has been read,
//! once a termination signal came or the `--pid` process has exited; an
//! unfinished last line is then handed on as the last line, as a reading
//! of the file without `--follow` would. The tool then finishes as usual
//! (tables, summaries, exit status). A second signal ends the process at
//! once, with the signal's default action.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::input::Input;

/// How often a followed file is looked at again when it has nothing new.
pub const POLL: Duration = Duration::from_millis(100);

/// What `--follow` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Follow {
    /// End once this process has exited (and the file is read to its end).
    pub pid: Option<u32>,
}

/// Refuses what cannot be followed: standard input, several inputs, a
/// compressed file or a binary simple trace, something other than a
/// regular file; and `--pid` where `/proc` cannot tell whether a process
/// runs. A file that does not exist yet is accepted (it is waited for).
pub fn check(inputs: &[Input], follow: &Follow) -> Result<()> {
    let path = match inputs {
        [Input::Path(p)] => p,
        [Input::Stdin] | [] => {
            return Err(Error::usage(
                "--follow follows a file by its name: name the log QEMU writes (-D FILE); \
                 standard input is read to its end without --follow",
            ));
        }
        several => {
            return Err(Error::usage(format!(
                "--follow follows one file, and {} were given",
                several.len()
            )));
        }
    };
    if follow.pid.is_some() && std::fs::metadata("/proc/self/stat").is_err() {
        return Err(Error::usage(
            "--pid needs /proc to see whether the process still runs, and this system has none",
        ));
    }
    let name = path.display();
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Input {
                input: name.to_string(),
                source,
            });
        }
    };
    let is_file = file.metadata().is_ok_and(|m| m.is_file());
    if !is_file {
        return Err(Error::usage(format!(
            "--follow follows a regular file, and {name} is not one (a pipe is read to its end \
             without --follow)"
        )));
    }
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Input {
                    input: name.to_string(),
                    source,
                });
            }
        }
    }
    let what = match crate::input::sniff(&head[..n]) {
        crate::input::Encoding::Plain => return Ok(()),
        crate::input::Encoding::Gzip => "gzip-compressed",
        crate::input::Encoding::Zstd => "zstd-compressed",
        crate::input::Encoding::SimpleTrace => "a binary simple trace",
    };
    Err(Error::usage(format!(
        "--follow reads a text log as QEMU writes it, and {name} is {what}: read it without \
         --follow"
    )))
}

/// The flag the termination signals set, registered on first use (only
/// `--follow` changes what SIGINT and SIGTERM do).
fn stop_flag() -> io::Result<Arc<AtomicBool>> {
    static FLAG: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);
    let mut slot = FLAG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(flag) = &*slot {
        return Ok(Arc::clone(flag));
    }
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The default action first: it acts only once the flag is set, so
        // the first signal ends the following and a second one the process.
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&flag))?;
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
    }
    *slot = Some(Arc::clone(&flag));
    Ok(flag)
}

/// Whether process `pid` runs: it has a `/proc` entry and is no zombie
/// (an exited child its parent has not waited for yet).
fn process_runs(pid: u32) -> bool {
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        // `PID (COMM) STATE ...`; COMM may itself hold ')'.
        Ok(stat) => match memchr::memrchr(b')', &stat) {
            Some(end) => !matches!(stat.get(end + 2), Some(b'Z' | b'X')),
            None => true,
        },
    }
}

/// Which file a name led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

impl Identity {
    #[cfg(unix)]
    fn of(m: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: m.dev(),
            ino: m.ino(),
        }
    }

    /// Without inodes a replacement is not seen (a truncation still is).
    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> Identity {
        Identity { dev: 0, ino: 0 }
    }
}

/// A file read as it grows; see the module docs.
#[derive(Debug)]
pub struct FollowReader {
    path: PathBuf,
    /// The tool's name for the notes on stderr, `None` to print none.
    tool: Option<&'static str>,
    file: Option<(File, Identity)>,
    /// Bytes read from the open file.
    pos: u64,
    /// The last byte handed on (a newline before the first).
    last: u8,
    stop: Arc<AtomicBool>,
    pid: Option<u32>,
    /// A note about the name's state was printed (waiting for it, or gone).
    noted_absence: bool,
}

impl FollowReader {
    /// Follows `path`; notes (replaced, truncated) go to stderr as
    /// `tool: path: ...` unless `tool` is `None`. Registers the handlers of
    /// SIGINT and SIGTERM.
    pub fn open(path: &Path, follow: &Follow, tool: Option<&'static str>) -> Result<FollowReader> {
        let wrap = |source: io::Error| Error::Input {
            input: path.display().to_string(),
            source,
        };
        let stop = stop_flag().map_err(wrap)?;
        let mut reader = FollowReader {
            path: path.to_path_buf(),
            tool,
            file: None,
            pos: 0,
            last: b'\n',
            stop,
            pid: follow.pid,
            noted_absence: false,
        };
        match File::open(path) {
            Ok(f) => {
                let id = Identity::of(&f.metadata().map_err(wrap)?);
                reader.file = Some((f, id));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                reader.note("does not exist yet; waiting for it");
                reader.noted_absence = true;
            }
            Err(e) => return Err(wrap(e)),
        }
        Ok(reader)
    }

    fn note(&self, what: &str) {
        if let Some(tool) = self.tool {
            let _ = writeln!(
                io::stderr().lock(),
                "{tool}: {}: {what}",
                self.path.display()
            );
        }
    }

    /// Reads what the open file has past `pos`; 0 at its end.
    fn read_file(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some((file, _)) = &mut self.file else {
            return Ok(0);
        };
        loop {
            match file.read(buf) {
                Ok(n) => {
                    if n > 0 {
                        self.pos += n as u64;
                        self.last = buf[n - 1];
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// At the end of the open file: looks whether the name now leads to
    /// another file, or the file shrank, and starts on it. True when it did.
    fn look_again(&mut self, buf: &mut [u8]) -> io::Result<Looked> {
        let now = match std::fs::metadata(&self.path) {
            Ok(m) if m.is_file() => m,
            _ => {
                if !self.noted_absence {
                    self.noted_absence = true;
                    if self.file.is_some() {
                        self.note(
                            "is gone; reading on the file already open until another appears",
                        );
                    }
                }
                return Ok(Looked::Same);
            }
        };
        let id = Identity::of(&now);
        match &mut self.file {
            Some((file, open_id)) if *open_id == id => {
                if now.len() >= self.pos {
                    return Ok(Looked::Same);
                }
                file.rewind()?;
                self.pos = 0;
                self.note("file truncated; reading it again from the start");
            }
            _ => {
                // What the old file got since the last read comes first.
                let n = self.read_file(buf)?;
                if n > 0 {
                    return Ok(Looked::Data(n));
                }
                let Ok(file) = File::open(&self.path) else {
                    return Ok(Looked::Same);
                };
                let first = self.file.is_none();
                self.file = Some((file, id));
                self.pos = 0;
                if first {
                    if self.noted_absence {
                        self.note("has appeared; following it");
                    }
                } else {
                    self.note("replaced by another file; following the new file");
                }
            }
        }
        self.noted_absence = false;
        Ok(Looked::Reopened)
    }

    /// True once the reading should end at the end of the file.
    fn ending(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.pid.is_some_and(|p| !process_runs(p))
    }
}

/// What [`FollowReader::look_again`] found.
enum Looked {
    Same,
    /// Bytes of the file open until now, read into the buffer.
    Data(usize),
    /// Reading goes on with another file or from the start.
    Reopened,
}

impl Read for FollowReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.read_file(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // Decided before a last read: what the file got before the
            // signal or the exit is still read.
            let ending = self.ending();
            let n = self.read_file(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match self.look_again(buf)? {
                Looked::Data(n) => return Ok(n),
                Looked::Reopened => {
                    if self.last != b'\n' {
                        // The unfinished line ends where its file did.
                        self.last = b'\n';
                        buf[0] = b'\n';
                        return Ok(1);
                    }
                    continue;
                }
                Looked::Same => {}
            }
            if ending {
                return Ok(0);
            }
            std::thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::sync::mpsc;
    use std::time::Instant;

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(bytes).unwrap();
    }

    /// The bytes the reader hands on, on a thread, as they come.
    fn spawn(path: &Path, stop: Arc<AtomicBool>) -> mpsc::Receiver<Vec<u8>> {
        let mut r = FollowReader::open(path, &Follow::default(), None).unwrap();
        // Each test stops its own reader, not the process's signal flag.
        r.stop = stop;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = r.read(&mut buf).unwrap();
                if tx.send(buf[..n].to_vec()).is_err() || n == 0 {
                    return;
                }
            }
        });
        rx
    }

    /// Everything received within `wait`, until `until` bytes came.
    fn take(rx: &mpsc::Receiver<Vec<u8>>, until: usize, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while got.len() < until {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(b) => got.extend(b),
                Err(_) => break,
            }
        }
        got
    }

    #[test]
    fn reads_on_reopens_and_ends_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"one\n").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let rx = spawn(&path, Arc::clone(&stop));
        let second = Duration::from_secs(2);
        assert_eq!(take(&rx, 4, second), b"one\n");
        append(&path, b"two\n");
        assert_eq!(take(&rx, 4, second), b"two\n");
        // Truncated, then written again: from the start.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::thread::sleep(POLL * 3);
        append(&path, b"3\n");
        assert_eq!(take(&rx, 2, second), b"3\n");
        // An unfinished line, then the file replaced: the line ends there.
        append(&path, b"hal");
        assert_eq!(take(&rx, 3, second), b"hal");
        let new = dir.path().join("log.new");
        std::fs::write(&new, b"four\n").unwrap();
        std::fs::rename(&new, &path).unwrap();
        assert_eq!(take(&rx, 6, second), b"\nfour\n");
        // Nothing more: the reader waits, then ends when told to.
        assert_eq!(take(&rx, 1, POLL * 3), b"");
        append(&path, b"five");
        stop.store(true, Ordering::SeqCst);
        assert_eq!(take(&rx, 100, second), b"five");
    }

    #[test]
    fn waits_for_a_file_that_does_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later");
        let stop = Arc::new(AtomicBool::new(false));
        let rx = spawn(&path, Arc::clone(&stop));
        std::thread::sleep(POLL * 2);
        std::fs::write(&path, b"now\n").unwrap();
        assert_eq!(take(&rx, 4, Duration::from_secs(2)), b"now\n");
        stop.store(true, Ordering::SeqCst);
        assert_eq!(take(&rx, 100, Duration::from_secs(2)), b"");
    }

    #[test]
    fn ends_when_the_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"a\n").unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        assert!(process_runs(child.id()));
        let follow = Follow {
            pid: Some(child.id()),
        };
        let mut r = FollowReader::open(&path, &follow, None).unwrap();
        r.stop = Arc::new(AtomicBool::new(false));
        let mut got = Vec::new();
        let waiter = std::thread::spawn(move || child.wait());
        r.read_to_end(&mut got).unwrap();
        waiter.join().unwrap().unwrap();
        assert_eq!(got, b"a\n");
        assert!(!process_runs(u32::MAX));
    }

    #[test]
    fn refuses_what_cannot_be_followed() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.log");
        std::fs::write(&plain, b"pci_cfg_read x\n").unwrap();
        let gz = dir.path().join("log.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0]).unwrap();
        let f = Follow::default();
        let one = |p: &Path| vec![Input::Path(p.to_path_buf())];
        assert!(check(&one(&plain), &f).is_ok());
        assert!(check(&one(&dir.path().join("not-yet")), &f).is_ok());
        let msg = |inputs: &[Input]| check(inputs, &f).unwrap_err().to_string();
        assert!(
            msg(&one(&gz)).contains("is gzip-compressed"),
            "{}",
            msg(&one(&gz))
        );
        assert!(msg(&[Input::Stdin]).contains("standard input"));
        assert!(
            msg(&[Input::Path(plain.clone()), Input::Path(plain.clone())]).contains("one file")
        );
        assert!(msg(&one(dir.path())).contains("follows a regular file, and"));
    }
}
