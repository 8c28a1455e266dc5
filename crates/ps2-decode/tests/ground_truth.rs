//! ps2-decode on the real QEMU traces of tests/data, checked against what the
//! capture harness injected (`keys-injected.tsv`, `keys-sent.tsv`), the
//! strings it typed (`typed-text.tsv`), the bytes the guest read
//! (`guest-kbd-raw-bytes.txt`) and the key codes the guest decoded
//! (`guest-evdev.tsv`): never against earlier output of the tool.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ps2_decode::decode::Action;
use ps2_decode::keys::{self, KeyNumber};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

/// Runs ps2-decode with `args` (and `stdin`); returns stdout, checking that
/// the run succeeded with an empty stderr.
fn decode(args: &[&str], stdin: Option<&[u8]>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ps2-decode"))
        .env_remove("QTRACE_TRACE_EVENTS")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    assert!(err.is_empty(), "{args:?}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

/// The trace's text (decompressed with the zstd CLI when needed).
fn trace_text(rel: &str) -> String {
    let path = data(rel);
    if rel.ends_with(".zst") {
        let out = Command::new("zstd")
            .arg("-dc")
            .arg(&path)
            .output()
            .expect("zstd is installed");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    } else {
        std::fs::read_to_string(path).unwrap()
    }
}

/// One decoded event from `-o jsonl`.
#[derive(Debug)]
struct Ev {
    action: Option<String>,
    key: Option<String>,
    translated: Option<String>,
}

fn events(args: &[&str], stdin: Option<&[u8]>) -> Vec<Ev> {
    let mut a = vec!["-o", "jsonl"];
    a.extend_from_slice(args);
    decode(&a, stdin)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().map(String::from);
            assert!(v["dev"].is_string() && v["bytes"].is_string(), "{l}");
            Ev {
                action: s("action"),
                key: s("key"),
                translated: s("translated"),
            }
        })
        .collect()
}

const MODIFIERS: [&str; 8] = [
    "shift", "shift_r", "ctrl", "ctrl_r", "alt", "alt_r", "meta_l", "meta_r",
];

/// Every key press with the modifiers held at that moment (sorted).
fn presses(seq: impl IntoIterator<Item = (bool, String)>) -> Vec<(String, Vec<String>)> {
    let mut held: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (press, key) in seq {
        if press {
            let mut h: Vec<String> = held.iter().filter(|m| **m != key).cloned().collect();
            h.sort();
            out.push((key.clone(), h));
            if MODIFIERS.contains(&key.as_str()) && !held.contains(&key) {
                held.push(key);
            }
        } else {
            held.retain(|m| *m != key);
        }
    }
    out
}

fn decoded_presses(evs: &[Ev]) -> Vec<(String, Vec<String>)> {
    presses(evs.iter().filter_map(|e| {
        let press = match e.action.as_deref()? {
            "press" => true,
            "release" => false,
            other => panic!("action {other}"),
        };
        Some((press, e.key.clone()?))
    }))
}

/// Keys the capture scripts use that QEMU emits no bytes for in a set.
fn silent_in(set: u8) -> &'static [&'static str] {
    match set {
        2 => &["menu"],
        3 => &["f18"],
        _ => &[],
    }
}

/// `keys-injected.tsv`: key rows as (press, QKeyCode name, seq).
fn injected(dir: &str) -> Vec<(bool, String, u64)> {
    let text = std::fs::read_to_string(data(&format!("{dir}/keys-injected.tsv"))).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("seq\t"))
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[3] == "key").then(|| (c[5] == "1", c[4].to_string(), c[0].parse().unwrap()))
        })
        .collect()
}

/// The injected presses that reached the keyboard as bytes, under the names
/// a decoder can give them (qemu-trace-formats.md Appendix A).
fn expected_presses(dir: &str, set: u8) -> Vec<(String, Vec<String>)> {
    let silent = silent_in(set);
    presses(
        injected(dir)
            .into_iter()
            .map(|(p, name, _)| (p, keys::canonical(set, &name).to_string())),
    )
    .into_iter()
    .filter(|(k, _)| !silent.contains(&k.as_str()))
    .collect()
}

fn assert_same_presses(what: &str, got: &[(String, Vec<String>)], want: &[(String, Vec<String>)]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "{what}: press #{i} differs");
    }
    assert_eq!(got.len(), want.len(), "{what}: number of presses");
}

/// The scenarios with a `keys-injected.tsv`: folder, trace, scancode set.
const SCENARIOS: &[(&str, &str, u8)] = &[
    ("B-ps2-pc-set2-xlate-ts", "trace.log", 2),
    ("B-ps2-pc-set3-plain", "trace.log", 3),
    ("B-ps2-q35-set1-raw-ts", "trace.log", 1),
    ("D-mixed-q35-ts", "trace.log.zst", 2),
    (Q11_B, "trace.log", 3),
];

/// QEMU 11.1, whose `ps2_keyboard_event` prints `lnx N` (the Linux key code).
const Q11_B: &str = "Q11-B-ps2-pc-set3-plain";

/// QEMU 11.1's own catalog, in the shared folder beside the checkout.
fn q11_catalog() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/traces/Q11-qemu-info/trace-events-all");
    p.is_file().then_some(p)
}

#[test]
fn keys_and_modifiers_match_what_was_injected() {
    for &(dir, trace, set) in SCENARIOS {
        let path = data(&format!("{dir}/{trace}"));
        let want = expected_presses(dir, set);
        assert!(want.len() > 80, "{dir}: {}", want.len());
        // The whole trace: the set is followed from the trace itself.
        let evs = events(&[path.to_str().unwrap()], None);
        assert_same_presses(dir, &decoded_presses(&evs), &want);
        // The ps2_put_keycode lines alone, with the set given.
        let only: String = trace_text(&format!("{dir}/{trace}"))
            .lines()
            .filter(|l| l.contains("ps2_put_keycode "))
            .map(|l| format!("{l}\n"))
            .collect();
        let set_arg = set.to_string();
        let evs = events(
            &["--set", &set_arg, "--no-installed-catalog"],
            Some(only.as_bytes()),
        );
        assert_same_presses(
            &format!("{dir} put_keycode only"),
            &decoded_presses(&evs),
            &want,
        );
    }
}

#[test]
fn qemu52_keys_match_what_was_sent() {
    let text = std::fs::read_to_string(data("V-qemu52/ps2-pc/keys-sent.tsv")).unwrap();
    let mut seq = Vec::new();
    for l in text.lines().skip(1) {
        let keys: Vec<&str> = l.split('\t').nth(3).unwrap().split('+').collect();
        seq.extend(keys.iter().map(|k| (true, k.to_string())));
        seq.extend(keys.iter().rev().map(|k| (false, k.to_string())));
    }
    let want = presses(seq);
    assert_eq!(want.len(), 9);
    let path = data("V-qemu52/ps2-pc/trace.log");
    let evs = events(&[path.to_str().unwrap()], None);
    assert_same_presses("qemu52", &decoded_presses(&evs), &want);
    let only: String = trace_text("V-qemu52/ps2-pc/trace.log")
        .lines()
        .filter(|l| l.contains("ps2_put_keycode "))
        .map(|l| format!("{l}\n"))
        .collect();
    let evs = events(&["--set", "2"], Some(only.as_bytes()));
    assert_same_presses("qemu52 put_keycode only", &decoded_presses(&evs), &want);
    assert_eq!(
        decode(&["--text", path.to_str().unwrap()], None),
        "qemuK\n<up><kp_5>\n"
    );
}

/// The strings of `typed-text.tsv`, as the guest saw them: letters in the
/// other case while the script had Caps Lock toggled on.
fn typed_strings(dir: &str) -> Vec<String> {
    let inj = injected(dir);
    let text = std::fs::read_to_string(data(&format!("{dir}/typed-text.tsv"))).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("script_line\t"))
        .map(|l| {
            let c: Vec<&str> = l.splitn(4, '\t').collect();
            let first: u64 = c[1].parse().unwrap();
            let caps = inj
                .iter()
                .filter(|(p, name, seq)| *p && name == "caps_lock" && *seq < first)
                .count()
                % 2
                == 1;
            c[3].chars()
                .map(|ch| match (caps, ch.is_ascii_lowercase()) {
                    (false, _) => ch,
                    (true, true) => ch.to_ascii_uppercase(),
                    (true, false) => ch.to_ascii_lowercase(),
                })
                .collect()
        })
        .collect()
}

/// Checks that `strings` appear in `text` in order.
fn assert_strings_in_order(what: &str, text: &str, strings: &[String]) {
    let mut pos = 0;
    for s in strings {
        let Some(i) = text[pos..].find(s.as_str()) else {
            panic!("{what}: {s:?} not found after byte {pos} of:\n{text}")
        };
        pos += i + s.len();
    }
}

#[test]
fn typed_strings_appear_in_order() {
    for &(dir, trace, _) in SCENARIOS {
        let path = data(&format!("{dir}/{trace}"));
        let strings = typed_strings(dir);
        assert!(strings.len() >= 3, "{dir}");
        for extra in [&[][..], &["--apply-backspace", "--printable-only"][..]] {
            let mut args = vec!["--text"];
            args.extend_from_slice(extra);
            args.push(path.to_str().unwrap());
            let text = decode(&args, None);
            assert_strings_in_order(&format!("{dir} {extra:?}"), &text, &strings);
        }
    }
}

/// QEMU 11.1's `lnx` key events need no catalog: with the built-in specs
/// alone, and with 11.1's own catalog when the shared folder has it, the
/// keys, modifiers and typed text are what the harness injected (`decode`
/// also checks for an empty stderr: no line was left undecoded).
#[test]
fn qemu_11_1_keys_and_text_without_a_catalog() {
    let path = data(&format!("{Q11_B}/trace.log"));
    let path = path.to_str().unwrap();
    let want = expected_presses(Q11_B, 3);
    assert!(want.len() > 200, "{}", want.len());
    let strings = typed_strings(Q11_B);
    assert!(strings.len() >= 4);
    let catalog = q11_catalog();
    let mut runs = vec![vec!["--no-installed-catalog"]];
    if let Some(c) = &catalog {
        runs.push(vec![
            "--no-installed-catalog",
            "--trace-events",
            c.to_str().unwrap(),
        ]);
    }
    for run in &runs {
        let mut args = run.clone();
        args.push(path);
        let evs = events(&args, None);
        assert_same_presses(&format!("{Q11_B} {run:?}"), &decoded_presses(&evs), &want);
        let mut args = run.clone();
        args.extend(["--text", path]);
        let text = decode(&args, None);
        assert_strings_in_order(&format!("{Q11_B} {run:?}"), &text, &strings);
    }
}

/// One `ps2_keyboard_event` of a trace: its key number, press or release,
/// and whether the keyboard emitted bytes for it (a `ps2_put_keycode`
/// before the next key event).
#[derive(Debug)]
struct TracedKey {
    number: u64,
    down: bool,
    emitted: bool,
}

/// The `ps2_keyboard_event ... <field> N down D ...` lines of a trace.
fn traced_keys(rel: &str, field: &str) -> Vec<TracedKey> {
    let mut out: Vec<TracedKey> = Vec::new();
    for l in trace_text(rel).lines() {
        if l.contains("ps2_put_keycode ") {
            if let Some(last) = out.last_mut() {
                last.emitted = true;
            }
            continue;
        }
        let Some(i) = l.find("ps2_keyboard_event ") else {
            continue;
        };
        let w: Vec<&str> = l[i..].split(' ').collect();
        assert_eq!((w[2], w[4]), (field, "down"), "{l}");
        out.push(TracedKey {
            number: w[3].parse().unwrap(),
            down: w[5] == "1",
            emitted: false,
        });
    }
    out
}

/// Each `lnx N` names, through the Linux-code table, the key the harness
/// injected (QEMU's input core sends `sysrq` as `print`).
#[test]
fn qemu_11_1_linux_codes_name_the_injected_keys() {
    let traced = traced_keys(&format!("{Q11_B}/trace.log"), "lnx");
    let inj = injected(Q11_B);
    assert_eq!(traced.len(), inj.len());
    assert!(inj.len() > 400, "{}", inj.len());
    for (t, (press, name, seq)) in traced.iter().zip(&inj) {
        let key = KeyNumber::Linux.key(t.number);
        assert_eq!(
            (key.map(keys::name), t.down),
            (Some(keys::canonical(0, name)), *press),
            "seq {seq}: lnx {}",
            t.number
        );
    }
}

/// The Linux codes in the trace are the codes the guest kernel reported
/// for the same key events (`EV_KEY` in `guest-evdev.tsv`): an independent
/// check of the codes the table pairs with those keys.
#[test]
fn qemu_11_1_linux_codes_are_what_the_guest_decoded() {
    let traced: Vec<(u64, bool)> = traced_keys(&format!("{Q11_B}/trace.log"), "lnx")
        .into_iter()
        .filter(|t| t.emitted)
        .map(|t| (t.number, t.down))
        .collect();
    let text = std::fs::read_to_string(data(&format!("{Q11_B}/guest-evdev.tsv"))).unwrap();
    let guest: Vec<(u64, bool)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[2] == "EV_KEY" && c[4] != "2").then(|| (c[3].parse().unwrap(), c[4] == "1"))
        })
        .collect();
    assert!(guest.len() > 400, "{}", guest.len());
    assert_eq!(traced, guest);
    // And every one of them is a key of the table, whose Linux code it is.
    for (code, _) in &guest {
        let key = KeyNumber::Linux.key(*code).unwrap();
        assert_eq!(keys::linux_code(key), Some(*code as u16));
    }
}

#[test]
fn sendkey_script_replays_the_injected_presses() {
    for &(dir, trace, set) in SCENARIOS {
        let path = data(&format!("{dir}/{trace}"));
        let script = decode(&["--sendkey", path.to_str().unwrap()], None);
        assert!(
            script.lines().all(|l| l.starts_with("sendkey ")),
            "{script}"
        );
        let replay = ps2_decode::sendkey::parse(&script).unwrap();
        let got = presses(
            replay
                .iter()
                .map(|&(a, k)| (a == Action::Press, keys::name(k).to_string())),
        );
        // Modifiers held over several keys are pressed again per combo, so
        // compare the presses of the other keys and the modifiers held then.
        let non_mod = |v: Vec<(String, Vec<String>)>| -> Vec<(String, Vec<String>)> {
            v.into_iter()
                .filter(|(k, _)| !MODIFIERS.contains(&k.as_str()))
                .collect()
        };
        assert_same_presses(
            &format!("{dir} sendkey"),
            &non_mod(got),
            &non_mod(expected_presses(dir, set)),
        );
    }
}

fn hex_list(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

#[test]
fn untranslated_bytes_are_what_the_guest_read() {
    // Set 1 without translation: the guest's serio_raw saw exactly the
    // keyboard's bytes, after its own set-up replies.
    let info = std::fs::read_to_string(data("B-ps2-q35-set1-raw-ts/guest-input-info.txt")).unwrap();
    let offset: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("KBD-RAW-MARK offset="))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let raw =
        std::fs::read_to_string(data("B-ps2-q35-set1-raw-ts/guest-kbd-raw-bytes.txt")).unwrap();
    let guest: Vec<u8> = raw
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(hex_list)
        .collect();
    let path = data("B-ps2-q35-set1-raw-ts/trace.log");
    let evs = events(&["--translated", path.to_str().unwrap()], None);
    let got: Vec<u8> = evs
        .iter()
        .flat_map(|e| hex_list(e.translated.as_deref().unwrap()))
        .collect();
    assert_eq!(got, guest[offset..]);
}

#[test]
fn translated_bytes_are_what_the_guest_read() {
    // Set 2 with translation: compare with the bytes QEMU's i8042 handed the
    // guest from the keyboard (`ps2_read_data KBD` then `pckbd_kbd_read_data`),
    // a separate trace point after translation; FA are ACKs of LED commands.
    let trace = trace_text("B-ps2-pc-set2-xlate-ts/trace.log");
    let mut kbd = None;
    let mut started = false;
    let mut from_kbd = false;
    let mut guest = Vec::new();
    for l in trace.lines() {
        let Some((_, body)) = l.split_once(':') else {
            continue;
        };
        let mut w = body.split(' ');
        match (w.next(), w.next()) {
            (Some("ps2_kbd_reset"), Some(p)) => kbd = Some(p.to_string()),
            (Some("ps2_put_keycode"), _) => started = true,
            (Some("ps2_read_data"), p) => from_kbd = p.map(String::from) == kbd,
            (Some("pckbd_kbd_read_data"), Some(v)) => {
                let b = u8::from_str_radix(v.trim_start_matches("0x"), 16).unwrap();
                if std::mem::take(&mut from_kbd) && started && b != 0xfa {
                    guest.push(b);
                }
            }
            _ => {}
        }
    }
    assert!(guest.len() > 400, "{}", guest.len());
    let path = data("B-ps2-pc-set2-xlate-ts/trace.log");
    let evs = events(&["--translated", path.to_str().unwrap()], None);
    let got: Vec<u8> = evs
        .iter()
        .flat_map(|e| hex_list(e.translated.as_deref().unwrap()))
        .collect();
    assert_eq!(got, guest);
}

#[test]
fn key_table_follows_qemus_enum() {
    for &(dir, _, _) in SCENARIOS {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(data(&format!("{dir}/qkeycode-enum.json"))).unwrap(),
        )
        .unwrap();
        let names = v["values"].as_array().unwrap();
        // 7.2 has 150 keys; 11.1 all 162 of the table.
        let want = if dir == Q11_B { keys::KEYS.len() } else { 150 };
        assert_eq!(names.len(), want, "{dir}");
        for (i, n) in names.iter().enumerate() {
            assert_eq!(Some(keys::KEYS[i].name), n.as_str(), "{dir}: qcode {i}");
        }
    }
}
