//! The facts decoding rests on: QEMU's QKeyCode names, the scancodes QEMU's
//! PS/2 keyboard emits for each of them in sets 1, 2 and 3, the Linux key
//! code QEMU maps each of them to, and the i8042's set-2 → set-1 translation
//! table.
//!
//! The scancode tables are transcribed from `qemu-trace-formats.md` Appendix A
//! (QEMU's keycodemapdb tables, identical for every qcode in 4.2 – 10.2) and
//! Appendix B (`translate_table` in `hw/input/ps2.c`). A code above 0xff means
//! an `E0` prefix. The Linux codes are the `KEY_*` values of Linux's
//! `input-event-codes.h` that keycodemapdb pairs with each QKeyCode: what
//! `ps2_keyboard_event ... lnx N` prints since QEMU 11.1, where earlier
//! versions printed the QKeyCode index (`qcode N`); [`KeyNumber`] reads
//! either. Key names are QKeyCode names as HMP `sendkey` and QMP `send-key`
//! accept them, so a decoded session can be replayed.
//!
//! QEMU gives some keys identical bytes, so no decoder can tell them apart;
//! each such code decodes to one name, always the same ([`ALIASES`]):
//! `kp_multiply` (also `asterisk`) and `print` (also `sysrq`) in every set,
//! and in set 3 also `minus` (also `kp_subtract`), `slash` (also `kp_divide`)
//! and `hiragana` (also `katakanahiragana`).

use std::sync::OnceLock;

/// A key: its QKeyCode enum index (what `ps2_keyboard_event qcode N` prints
/// before QEMU 11.1).
pub type Key = u8;

/// One key's names and codes (0 = no code in that set: QEMU drops it).
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    /// QKeyCode name.
    pub name: &'static str,
    /// Scancodes in sets 1, 2 and 3 (`0xE0xx` = `E0` prefix).
    pub codes: [u16; 3],
    /// The Linux key code (`KEY_*`) QEMU maps it to; 0 (`KEY_RESERVED`) for
    /// `unmapped` only.
    pub linux: u16,
}

const fn k(name: &'static str, s1: u16, s2: u16, s3: u16, linux: u16) -> KeyDef {
    KeyDef {
        name,
        codes: [s1, s2, s3],
        linux,
    }
}

/// Every QKeyCode of QEMU 8.0 – 11.1 in enum order (older versions have a
/// prefix of this list, with the same codes), with its scancodes and its
/// Linux key code. Two pairs of keys share a Linux code as they share their
/// scancodes: `asterisk` and `kp_multiply` (`KEY_KPASTERISK`), `sysrq` and
/// `print` (`KEY_SYSRQ`).
pub const KEYS: [KeyDef; 162] = [
    k("unmapped", 0, 0, 0, 0),                         // 0
    k("shift", 0x002a, 0x0012, 0x0012, 42),            // 1
    k("shift_r", 0x0036, 0x0059, 0x0059, 54),          // 2
    k("alt", 0x0038, 0x0011, 0x0019, 56),              // 3
    k("alt_r", 0xe038, 0xe011, 0x0039, 100),           // 4
    k("ctrl", 0x001d, 0x0014, 0x0011, 29),             // 5
    k("ctrl_r", 0xe01d, 0xe014, 0x0058, 97),           // 6
    k("menu", 0xe01e, 0, 0x0091, 139),                 // 7
    k("esc", 0x0001, 0x0076, 0x0008, 1),               // 8
    k("1", 0x0002, 0x0016, 0x0016, 2),                 // 9
    k("2", 0x0003, 0x001e, 0x001e, 3),                 // 10
    k("3", 0x0004, 0x0026, 0x0026, 4),                 // 11
    k("4", 0x0005, 0x0025, 0x0025, 5),                 // 12
    k("5", 0x0006, 0x002e, 0x002e, 6),                 // 13
    k("6", 0x0007, 0x0036, 0x0036, 7),                 // 14
    k("7", 0x0008, 0x003d, 0x003d, 8),                 // 15
    k("8", 0x0009, 0x003e, 0x003e, 9),                 // 16
    k("9", 0x000a, 0x0046, 0x0046, 10),                // 17
    k("0", 0x000b, 0x0045, 0x0045, 11),                // 18
    k("minus", 0x000c, 0x004e, 0x004e, 12),            // 19
    k("equal", 0x000d, 0x0055, 0x0055, 13),            // 20
    k("backspace", 0x000e, 0x0066, 0x0066, 14),        // 21
    k("tab", 0x000f, 0x000d, 0x000d, 15),              // 22
    k("q", 0x0010, 0x0015, 0x0015, 16),                // 23
    k("w", 0x0011, 0x001d, 0x001d, 17),                // 24
    k("e", 0x0012, 0x0024, 0x0024, 18),                // 25
    k("r", 0x0013, 0x002d, 0x002d, 19),                // 26
    k("t", 0x0014, 0x002c, 0x002c, 20),                // 27
    k("y", 0x0015, 0x0035, 0x0035, 21),                // 28
    k("u", 0x0016, 0x003c, 0x003c, 22),                // 29
    k("i", 0x0017, 0x0043, 0x0043, 23),                // 30
    k("o", 0x0018, 0x0044, 0x0044, 24),                // 31
    k("p", 0x0019, 0x004d, 0x004d, 25),                // 32
    k("bracket_left", 0x001a, 0x0054, 0x0054, 26),     // 33
    k("bracket_right", 0x001b, 0x005b, 0x005b, 27),    // 34
    k("ret", 0x001c, 0x005a, 0x005a, 28),              // 35
    k("a", 0x001e, 0x001c, 0x001c, 30),                // 36
    k("s", 0x001f, 0x001b, 0x001b, 31),                // 37
    k("d", 0x0020, 0x0023, 0x0023, 32),                // 38
    k("f", 0x0021, 0x002b, 0x002b, 33),                // 39
    k("g", 0x0022, 0x0034, 0x0034, 34),                // 40
    k("h", 0x0023, 0x0033, 0x0033, 35),                // 41
    k("j", 0x0024, 0x003b, 0x003b, 36),                // 42
    k("k", 0x0025, 0x0042, 0x0042, 37),                // 43
    k("l", 0x0026, 0x004b, 0x004b, 38),                // 44
    k("semicolon", 0x0027, 0x004c, 0x004c, 39),        // 45
    k("apostrophe", 0x0028, 0x0052, 0x0052, 40),       // 46
    k("grave_accent", 0x0029, 0x000e, 0x000e, 41),     // 47
    k("backslash", 0x002b, 0x005d, 0x005c, 43),        // 48
    k("z", 0x002c, 0x001a, 0x001a, 44),                // 49
    k("x", 0x002d, 0x0022, 0x0022, 45),                // 50
    k("c", 0x002e, 0x0021, 0x0021, 46),                // 51
    k("v", 0x002f, 0x002a, 0x002a, 47),                // 52
    k("b", 0x0030, 0x0032, 0x0032, 48),                // 53
    k("n", 0x0031, 0x0031, 0x0031, 49),                // 54
    k("m", 0x0032, 0x003a, 0x003a, 50),                // 55
    k("comma", 0x0033, 0x0041, 0x0041, 51),            // 56
    k("dot", 0x0034, 0x0049, 0x0049, 52),              // 57
    k("slash", 0x0035, 0x004a, 0x004a, 53),            // 58
    k("asterisk", 0x0037, 0x007c, 0x007e, 55),         // 59
    k("spc", 0x0039, 0x0029, 0x0029, 57),              // 60
    k("caps_lock", 0x003a, 0x0058, 0x0014, 58),        // 61
    k("f1", 0x003b, 0x0005, 0x0007, 59),               // 62
    k("f2", 0x003c, 0x0006, 0x000f, 60),               // 63
    k("f3", 0x003d, 0x0004, 0x0017, 61),               // 64
    k("f4", 0x003e, 0x000c, 0x001f, 62),               // 65
    k("f5", 0x003f, 0x0003, 0x0027, 63),               // 66
    k("f6", 0x0040, 0x000b, 0x002f, 64),               // 67
    k("f7", 0x0041, 0x0083, 0x0037, 65),               // 68
    k("f8", 0x0042, 0x000a, 0x003f, 66),               // 69
    k("f9", 0x0043, 0x0001, 0x0047, 67),               // 70
    k("f10", 0x0044, 0x0009, 0x004f, 68),              // 71
    k("num_lock", 0x0045, 0x0077, 0x0076, 69),         // 72
    k("scroll_lock", 0x0046, 0x007e, 0x005f, 70),      // 73
    k("kp_divide", 0xe035, 0xe04a, 0x004a, 98),        // 74
    k("kp_multiply", 0x0037, 0x007c, 0x007e, 55),      // 75
    k("kp_subtract", 0x004a, 0x007b, 0x004e, 74),      // 76
    k("kp_add", 0x004e, 0x0079, 0x007c, 78),           // 77
    k("kp_enter", 0xe01c, 0xe05a, 0x0079, 96),         // 78
    k("kp_decimal", 0x0053, 0x0071, 0x0071, 83),       // 79
    k("sysrq", 0x0054, 0x007f, 0x0057, 99),            // 80
    k("kp_0", 0x0052, 0x0070, 0x0070, 82),             // 81
    k("kp_1", 0x004f, 0x0069, 0x0069, 79),             // 82
    k("kp_2", 0x0050, 0x0072, 0x0072, 80),             // 83
    k("kp_3", 0x0051, 0x007a, 0x007a, 81),             // 84
    k("kp_4", 0x004b, 0x006b, 0x006b, 75),             // 85
    k("kp_5", 0x004c, 0x0073, 0x0073, 76),             // 86
    k("kp_6", 0x004d, 0x0074, 0x0074, 77),             // 87
    k("kp_7", 0x0047, 0x006c, 0x006c, 71),             // 88
    k("kp_8", 0x0048, 0x0075, 0x0075, 72),             // 89
    k("kp_9", 0x0049, 0x007d, 0x007d, 73),             // 90
    k("less", 0x0056, 0x0061, 0x0013, 86),             // 91
    k("f11", 0x0057, 0x0078, 0x0056, 87),              // 92
    k("f12", 0x0058, 0x0007, 0x005e, 88),              // 93
    k("print", 0x0054, 0x007f, 0x0057, 99),            // 94
    k("home", 0xe047, 0xe06c, 0x006e, 102),            // 95
    k("pgup", 0xe049, 0xe07d, 0x006f, 104),            // 96
    k("pgdn", 0xe051, 0xe07a, 0x006d, 109),            // 97
    k("end", 0xe04f, 0xe069, 0x0065, 107),             // 98
    k("left", 0xe04b, 0xe06b, 0x0061, 105),            // 99
    k("up", 0xe048, 0xe075, 0x0063, 103),              // 100
    k("down", 0xe050, 0xe072, 0x0060, 108),            // 101
    k("right", 0xe04d, 0xe074, 0x006a, 106),           // 102
    k("insert", 0xe052, 0xe070, 0x0067, 110),          // 103
    k("delete", 0xe053, 0xe071, 0x0064, 111),          // 104
    k("stop", 0xe068, 0xe028, 0x000a, 128),            // 105
    k("again", 0xe005, 0, 0x000b, 129),                // 106
    k("props", 0xe006, 0, 0x000c, 130),                // 107
    k("undo", 0xe007, 0, 0x0010, 131),                 // 108
    k("front", 0xe00c, 0, 0, 132),                     // 109
    k("copy", 0xe078, 0, 0x0018, 133),                 // 110
    k("open", 0x0064, 0, 0x0020, 134),                 // 111
    k("paste", 0x0065, 0, 0x0028, 135),                // 112
    k("find", 0xe041, 0, 0x0030, 136),                 // 113
    k("cut", 0xe03c, 0, 0x0038, 137),                  // 114
    k("lf", 0x005b, 0, 0, 101),                        // 115
    k("help", 0xe075, 0, 0x0009, 138),                 // 116
    k("meta_l", 0xe05b, 0xe01f, 0x008b, 125),          // 117
    k("meta_r", 0xe05c, 0xe027, 0x008c, 126),          // 118
    k("compose", 0xe05d, 0xe02f, 0x008d, 127),         // 119
    k("pause", 0xe046, 0xe077, 0x0062, 119),           // 120
    k("ro", 0x0073, 0x0051, 0, 89),                    // 121
    k("hiragana", 0x0077, 0x0062, 0x0087, 91),         // 122
    k("henkan", 0x0079, 0x0064, 0x0086, 92),           // 123
    k("yen", 0x007d, 0x006a, 0x005d, 124),             // 124
    k("muhenkan", 0x007b, 0x0067, 0x0085, 94),         // 125
    k("katakanahiragana", 0x0070, 0x0013, 0x0087, 93), // 126
    k("kp_comma", 0x007e, 0x006d, 0, 121),             // 127
    k("kp_equals", 0x0059, 0x000f, 0, 117),            // 128
    k("power", 0xe05e, 0xe037, 0, 116),                // 129
    k("sleep", 0xe05f, 0xe03f, 0, 142),                // 130
    k("wake", 0xe063, 0xe05e, 0, 143),                 // 131
    k("audionext", 0xe019, 0xe04d, 0x0093, 163),       // 132
    k("audioprev", 0xe010, 0xe015, 0x0094, 165),       // 133
    k("audiostop", 0xe024, 0xe03b, 0x0098, 166),       // 134
    k("audioplay", 0xe022, 0xe034, 0, 164),            // 135
    k("audiomute", 0xe020, 0xe023, 0x009c, 113),       // 136
    k("volumeup", 0xe030, 0xe032, 0x0095, 115),        // 137
    k("volumedown", 0xe02e, 0xe021, 0x009d, 114),      // 138
    k("mediaselect", 0xe06d, 0xe050, 0, 226),          // 139
    k("mail", 0xe06c, 0xe048, 0, 155),                 // 140
    k("calculator", 0xe021, 0xe02b, 0x00a3, 140),      // 141
    k("computer", 0xe06b, 0xe040, 0, 157),             // 142
    k("ac_home", 0xe032, 0xe03a, 0x0097, 172),         // 143
    k("ac_back", 0xe06a, 0xe038, 0, 158),              // 144
    k("ac_forward", 0xe069, 0xe030, 0, 159),           // 145
    k("ac_refresh", 0xe067, 0xe020, 0, 173),           // 146
    k("ac_bookmarks", 0xe066, 0xe018, 0, 156),         // 147
    k("lang1", 0x0072, 0, 0, 122),                     // 148
    k("lang2", 0x0071, 0, 0, 123),                     // 149
    k("f13", 0x005d, 0x002f, 0x007f, 183),             // 150
    k("f14", 0x005e, 0x0037, 0x0080, 184),             // 151
    k("f15", 0x005f, 0x003f, 0x0081, 185),             // 152
    k("f16", 0x0055, 0, 0x0082, 186),                  // 153
    k("f17", 0xe003, 0, 0x0083, 187),                  // 154
    k("f18", 0xe077, 0, 0, 188),                       // 155
    k("f19", 0xe004, 0, 0, 189),                       // 156
    k("f20", 0x005a, 0, 0, 190),                       // 157
    k("f21", 0x0074, 0, 0, 191),                       // 158
    k("f22", 0xe079, 0, 0, 192),                       // 159
    k("f23", 0x006d, 0, 0, 193),                       // 160
    k("f24", 0x006f, 0, 0, 194),                       // 161
];

/// Left Shift.
pub const SHIFT: Key = 1;
/// Right Shift.
pub const SHIFT_R: Key = 2;
/// Left Alt.
pub const ALT: Key = 3;
/// Right Alt.
pub const ALT_R: Key = 4;
/// Left Ctrl.
pub const CTRL: Key = 5;
/// Right Ctrl.
pub const CTRL_R: Key = 6;
/// Caps Lock.
pub const CAPS_LOCK: Key = 61;
/// Num Lock.
pub const NUM_LOCK: Key = 72;
/// Scroll Lock.
pub const SCROLL_LOCK: Key = 73;
/// Print Screen (and SysRq, which QEMU's input core turns into it).
pub const PRINT: Key = 94;
/// Pause (and Break, Ctrl+Pause).
pub const PAUSE: Key = 120;
/// Left "Windows" key.
pub const META_L: Key = 117;
/// Right "Windows" key.
pub const META_R: Key = 118;
/// Hangul/Hanja keys: QEMU 8.0+ sends nothing when they are released.
pub const LANG1: Key = 148;
/// See [`LANG1`].
pub const LANG2: Key = 149;

/// Codes shared by several keys: the name decoding uses, then the others.
/// `(set, name used, other names)`; set 0 means every set.
pub const ALIASES: &[(u8, &str, &[&str])] = &[
    (0, "kp_multiply", &["asterisk"]),
    (0, "print", &["sysrq"]),
    (3, "minus", &["kp_subtract"]),
    (3, "slash", &["kp_divide"]),
    (3, "hiragana", &["katakanahiragana"]),
];

/// The name of a key.
pub fn name(key: Key) -> &'static str {
    KEYS.get(usize::from(key)).map_or("unmapped", |d| d.name)
}

/// The key called `name` (QKeyCode names), if any.
pub fn by_name(name: &str) -> Option<Key> {
    KEYS.iter()
        .position(|d| d.name == name)
        .and_then(|i| Key::try_from(i).ok())
}

/// The key QEMU maps to Linux key code `code` (`KEY_*`), under the name
/// decoding uses for it: `KEY_KPASTERISK` is `kp_multiply` (also `asterisk`),
/// `KEY_SYSRQ` is `print` (also `sysrq`). `None` for codes no QKeyCode has.
pub fn from_linux(code: u64) -> Option<Key> {
    static BY_LINUX: OnceLock<[Key; 256]> = OnceLock::new();
    let t = BY_LINUX.get_or_init(|| {
        let mut t = [0; 256];
        for (q, def) in KEYS.iter().enumerate().skip(1) {
            let slot = &mut t[usize::from(def.linux)];
            // As in the scancode tables: the first key wins, unless a later
            // one is the name chosen for a shared code (ALIASES).
            let preferred = ALIASES
                .iter()
                .any(|(s, used, _)| *s == 0 && *used == def.name);
            if *slot == 0 || preferred {
                *slot = q as Key;
            }
        }
        t
    });
    let q = *t.get(usize::try_from(code).ok()?)?;
    (q != 0).then_some(q)
}

/// The Linux key code (`KEY_*`) QEMU maps `key` to; `None` for `unmapped`.
pub fn linux_code(key: Key) -> Option<u16> {
    KEYS.get(usize::from(key))
        .map(|d| d.linux)
        .filter(|&c| c != 0)
}

/// How a `ps2_keyboard_event` line numbers its key: by the name of that
/// argument in the event's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNumber {
    /// `qcode N`: the QKeyCode index (before QEMU 11.1).
    Qcode,
    /// `lnx N`: the Linux key code (QEMU 11.1+).
    Linux,
}

impl KeyNumber {
    /// Both forms, newest first.
    pub const ALL: [KeyNumber; 2] = [KeyNumber::Linux, KeyNumber::Qcode];

    /// The argument name in the event's format (`qcode`, `lnx`).
    pub fn field(self) -> &'static str {
        match self {
            KeyNumber::Qcode => "qcode",
            KeyNumber::Linux => "lnx",
        }
    }

    /// The form whose argument is called `name`, if any.
    pub fn from_field(name: &[u8]) -> Option<KeyNumber> {
        Self::ALL.into_iter().find(|f| f.field().as_bytes() == name)
    }

    /// The key numbered `n` in this form (`None`: no key has that number;
    /// `qcode 0` is `unmapped`, which has no Linux code).
    pub fn key(self, n: u64) -> Option<Key> {
        match self {
            KeyNumber::Qcode => usize::try_from(n)
                .ok()
                .filter(|&i| i < KEYS.len())
                .map(|i| i as Key),
            KeyNumber::Linux => from_linux(n),
        }
    }

    /// The number of `key` in this form (`None`: `unmapped` has no Linux code).
    pub fn number(self, key: Key) -> Option<u64> {
        match self {
            KeyNumber::Qcode => (usize::from(key) < KEYS.len()).then_some(u64::from(key)),
            KeyNumber::Linux => linux_code(key).map(u64::from),
        }
    }
}

/// The name a decoder reports for a key QEMU cannot tell apart from another
/// (`asterisk` → `kp_multiply`, `sysrq` → `print`, ...) in `set`.
pub fn canonical(set: u8, name: &str) -> &str {
    for (s, used, others) in ALIASES {
        if (*s == 0 || *s == set) && others.contains(&name) {
            return used;
        }
    }
    name
}

/// True for the modifier keys (Shift, Ctrl, Alt, "Windows").
pub fn is_modifier(key: Key) -> bool {
    matches!(
        key,
        SHIFT | SHIFT_R | ALT | ALT_R | CTRL | CTRL_R | META_L | META_R
    )
}

/// What a scancode means in one set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// A key.
    Key(Key),
    /// A "fake shift" (`E0 12`, `E0 59` in set 2; `E0 2A`, `E0 36` in set 1)
    /// that keyboards wrap around some keys: not a key, changes no state.
    FakeShift,
    /// No key has this code.
    Unknown,
}

/// Reverse tables of one set: scancode → key.
#[derive(Debug)]
pub struct SetTable {
    plain: [u8; 256],
    ext: [u8; 256],
    fake_ext: [bool; 256],
}

impl SetTable {
    fn build(set: u8) -> SetTable {
        let mut t = SetTable {
            plain: [0; 256],
            ext: [0; 256],
            fake_ext: [false; 256],
        };
        let idx = usize::from(set - 1);
        for (q, def) in KEYS.iter().enumerate() {
            let code = def.codes[idx];
            if code == 0 {
                continue;
            }
            let slot = if code > 0xff {
                &mut t.ext[usize::from(code & 0xff)]
            } else {
                &mut t.plain[usize::from(code)]
            };
            // The first key with a code wins, unless a later one is the
            // name we chose for that code (ALIASES).
            let preferred = ALIASES
                .iter()
                .any(|(s, used, _)| (*s == 0 || *s == set) && *used == def.name);
            if *slot == 0 || preferred {
                *slot = q as u8;
            }
        }
        // The sequences QEMU special-cases (qemu-trace-formats.md §4.2).
        match set {
            1 => {
                t.ext[0x37] = PRINT; // Print, E0 37 (inside E0 2A E0 37)
                t.plain[0x54] = PRINT; // Alt+Print = SysRq
                t.ext[0x46] = PAUSE; // Ctrl+Pause = Break, E0 46
                t.fake_ext[0x2a] = true;
                t.fake_ext[0x36] = true;
            }
            2 => {
                t.ext[0x7c] = PRINT; // Print, E0 7C (inside E0 12 E0 7C)
                t.plain[0x84] = PRINT; // Alt+Print = SysRq
                t.ext[0x7e] = PAUSE; // Ctrl+Pause = Break, E0 7E
                t.fake_ext[0x12] = true;
                t.fake_ext[0x59] = true;
            }
            _ => {}
        }
        t
    }

    /// The meaning of a plain (`ext` false) or `E0`-prefixed code.
    pub fn lookup(&self, ext: bool, code: u8) -> Meaning {
        let i = usize::from(code);
        if ext && self.fake_ext[i] {
            return Meaning::FakeShift;
        }
        let q = if ext { self.ext[i] } else { self.plain[i] };
        if q == 0 {
            Meaning::Unknown
        } else {
            Meaning::Key(q)
        }
    }
}

/// The reverse table of `set` (1, 2 or 3; anything else is treated as 2).
pub fn table(set: u8) -> &'static SetTable {
    static TABLES: OnceLock<[SetTable; 3]> = OnceLock::new();
    let t = TABLES.get_or_init(|| [SetTable::build(1), SetTable::build(2), SetTable::build(3)]);
    match set {
        1 => &t[0],
        3 => &t[2],
        _ => &t[1],
    }
}

/// The i8042 translation of bytes 0x00–0x7f (set 2 → set 1).
const XLATE: [u8; 128] = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29,
    0x59, // 0x00
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03,
    0x5b, // 0x10
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06,
    0x5d, // 0x20
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09,
    0x5f, // 0x30
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c,
    0x61, // 0x40
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63,
    0x76, // 0x50
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f,
    0x6f, // 0x60
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46,
    0x54, // 0x70
];

/// What the i8042 does to one keyboard byte when translation is on: `F0` is
/// swallowed and marks the next byte as a break (`| 0x80`); bytes from 0x80
/// pass unchanged except `83` (F7) and `84` (SysRq).
#[derive(Debug, Default, Clone, Copy)]
pub struct Translator {
    pending_break: bool,
}

impl Translator {
    /// The byte the guest receives for `b`, or `None` for a swallowed `F0`.
    pub fn push(&mut self, b: u8) -> Option<u8> {
        if b == 0xf0 {
            self.pending_break = true;
            return None;
        }
        let t = match b {
            0x00..=0x7f => XLATE[usize::from(b)],
            0x83 => 0x41,
            0x84 => 0x54,
            _ => b,
        };
        let brk = std::mem::take(&mut self.pending_break);
        Some(if brk { t | 0x80 } else { t })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_order_and_names() {
        assert_eq!(name(0), "unmapped");
        assert_eq!(by_name("shift"), Some(SHIFT));
        assert_eq!(by_name("print"), Some(PRINT));
        assert_eq!(by_name("pause"), Some(PAUSE));
        assert_eq!(by_name("caps_lock"), Some(CAPS_LOCK));
        assert_eq!(by_name("num_lock"), Some(NUM_LOCK));
        assert_eq!(by_name("scroll_lock"), Some(SCROLL_LOCK));
        assert_eq!(by_name("meta_l"), Some(META_L));
        assert_eq!(by_name("lang1"), Some(LANG1));
        assert_eq!(by_name("f24"), Some(161));
        assert_eq!(by_name("nope"), None);
        for (i, d) in KEYS.iter().enumerate() {
            assert_eq!(by_name(d.name), Some(i as Key), "{}", d.name);
        }
    }

    /// A few keys against their `KEY_*` values in Linux's
    /// `input-event-codes.h`.
    #[test]
    fn linux_codes_are_the_key_values() {
        let cases: &[(&str, u16)] = &[
            ("esc", 1),           // KEY_ESC
            ("1", 2),             // KEY_1
            ("ret", 28),          // KEY_ENTER
            ("shift", 42),        // KEY_LEFTSHIFT
            ("spc", 57),          // KEY_SPACE
            ("kp_multiply", 55),  // KEY_KPASTERISK
            ("less", 86),         // KEY_102ND
            ("kp_enter", 96),     // KEY_KPENTER
            ("print", 99),        // KEY_SYSRQ
            ("alt_r", 100),       // KEY_RIGHTALT
            ("up", 103),          // KEY_UP
            ("pause", 119),       // KEY_PAUSE
            ("lang1", 122),       // KEY_HANGEUL
            ("meta_l", 125),      // KEY_LEFTMETA
            ("compose", 127),     // KEY_COMPOSE
            ("menu", 139),        // KEY_MENU
            ("f13", 183),         // KEY_F13
            ("f24", 194),         // KEY_F24
            ("mediaselect", 226), // KEY_MEDIA
        ];
        for &(n, code) in cases {
            let key = by_name(n).unwrap();
            assert_eq!(linux_code(key), Some(code), "{n}");
            assert_eq!(from_linux(u64::from(code)), Some(key), "{n}");
        }
        assert_eq!(linux_code(0), None);
        for none in [0, 84, 120, 195, 255, 256, 0x2ff, u64::MAX] {
            assert_eq!(from_linux(none), None, "{none}");
        }
    }

    /// Every key but `unmapped` has a Linux code; codes are unique except
    /// for the keys that share every scancode too (the aliases of all sets),
    /// and a code leads back to its key under the name decoding uses.
    #[test]
    fn linux_codes_round_trip() {
        let mut by_code: std::collections::BTreeMap<u16, Vec<Key>> = Default::default();
        for (i, d) in KEYS.iter().enumerate().skip(1) {
            assert_ne!(d.linux, 0, "{}", d.name);
            by_code.entry(d.linux).or_default().push(i as Key);
        }
        let mut shared = Vec::new();
        for (code, keys) in &by_code {
            let back = from_linux(u64::from(*code)).unwrap();
            for &k in keys {
                assert_eq!(name(back), canonical(0, name(k)), "{code}");
                assert_eq!(KEYS[usize::from(k)].codes, KEYS[usize::from(back)].codes);
            }
            if keys.len() > 1 {
                shared.push(keys.iter().map(|&k| name(k)).collect::<Vec<_>>());
            }
        }
        assert_eq!(shared, [["asterisk", "kp_multiply"], ["sysrq", "print"]]);
        for (s, used, others) in ALIASES.iter().filter(|a| a.0 == 0) {
            let want = by_name(used).and_then(linux_code);
            for o in *others {
                assert_eq!(by_name(o).and_then(linux_code), want, "{s} {o}");
            }
        }
    }

    #[test]
    fn key_numbers_of_both_forms() {
        assert_eq!(KeyNumber::from_field(b"qcode"), Some(KeyNumber::Qcode));
        assert_eq!(KeyNumber::from_field(b"lnx"), Some(KeyNumber::Linux));
        assert_eq!(KeyNumber::from_field(b"keycode"), None);
        for f in KeyNumber::ALL {
            assert_eq!(KeyNumber::from_field(f.field().as_bytes()), Some(f));
        }
        let j = by_name("j").unwrap();
        assert_eq!(KeyNumber::Qcode.key(42), Some(j));
        assert_eq!(KeyNumber::Linux.key(36), Some(j));
        assert_eq!(KeyNumber::Qcode.number(j), Some(42));
        assert_eq!(KeyNumber::Linux.number(j), Some(36));
        assert_eq!(KeyNumber::Qcode.key(0), Some(0));
        assert_eq!(KeyNumber::Linux.number(0), None);
        assert_eq!(KeyNumber::Qcode.key(KEYS.len() as u64), None);
        assert_eq!(KeyNumber::Qcode.key(u64::MAX), None);
        for key in 0..KEYS.len() as Key {
            let q = KeyNumber::Qcode.number(key).unwrap();
            assert_eq!(KeyNumber::Qcode.key(q), Some(key));
            if let Some(n) = KeyNumber::Linux.number(key) {
                let back = KeyNumber::Linux.key(n).unwrap();
                assert_eq!(name(back), canonical(0, name(key)));
            }
        }
    }

    /// The documented alias list is exactly the set of codes QEMU shares.
    #[test]
    fn shared_codes_are_the_documented_aliases() {
        for set in 1..=3u8 {
            let mut by_code: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
            for d in KEYS.iter() {
                let c = d.codes[usize::from(set - 1)];
                if c != 0 {
                    by_code.entry(c).or_default().push(d.name);
                }
            }
            for (code, names) in by_code {
                let t = table(set);
                let got = t.lookup(code > 0xff, code as u8);
                let Meaning::Key(q) = got else {
                    panic!("set {set} {code:#x}: {got:?}")
                };
                if names.len() == 1 {
                    // Every key with its own code decodes to itself, except
                    // the table entries QEMU never emits (special cases).
                    if !(names[0] == "pause" && set != 3) {
                        assert_eq!(name(q), names[0], "set {set} {code:#x}");
                    }
                    continue;
                }
                let used = name(q);
                assert!(names.contains(&used));
                for n in &names {
                    assert_eq!(canonical(set, n), used, "set {set}: {n}");
                }
            }
        }
        assert_eq!(canonical(2, "kp_subtract"), "kp_subtract");
        assert_eq!(canonical(3, "kp_subtract"), "minus");
    }

    #[test]
    fn special_sequences_and_fake_shifts() {
        let t2 = table(2);
        assert_eq!(t2.lookup(true, 0x7c), Meaning::Key(PRINT));
        assert_eq!(t2.lookup(false, 0x84), Meaning::Key(PRINT));
        assert_eq!(t2.lookup(true, 0x7e), Meaning::Key(PAUSE));
        assert_eq!(t2.lookup(true, 0x12), Meaning::FakeShift);
        assert_eq!(t2.lookup(false, 0x12), Meaning::Key(SHIFT));
        assert_eq!(
            t2.lookup(true, 0x75),
            by_name("up").map(Meaning::Key).unwrap()
        );
        assert_eq!(
            t2.lookup(false, 0x83),
            by_name("f7").map(Meaning::Key).unwrap()
        );
        assert_eq!(t2.lookup(true, 0x5f), Meaning::Unknown);
        let t1 = table(1);
        assert_eq!(t1.lookup(true, 0x2a), Meaning::FakeShift);
        assert_eq!(t1.lookup(true, 0x37), Meaning::Key(PRINT));
        assert_eq!(
            t1.lookup(false, 0x37),
            by_name("kp_multiply").map(Meaning::Key).unwrap()
        );
        let t3 = table(3);
        assert_eq!(t3.lookup(false, 0x57), Meaning::Key(PRINT));
        assert_eq!(t3.lookup(false, 0x62), Meaning::Key(PAUSE));
        assert_eq!(
            t3.lookup(false, 0x91),
            by_name("menu").map(Meaning::Key).unwrap()
        );
        assert_eq!(t2.lookup(false, 0x91), Meaning::Unknown);
    }

    #[test]
    fn translation_matches_the_captured_example() {
        // qemu-trace-formats.md §4.5: set-2 bytes and what the guest read.
        let cases: &[(&[u8], &[u8])] = &[
            (&[0x1c, 0xf0, 0x1c], &[0x1e, 0x9e]),
            (&[0xe0, 0x4a, 0xe0, 0xf0, 0x4a], &[0xe0, 0x35, 0xe0, 0xb5]),
            (
                &[0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77],
                &[0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5],
            ),
            (&[0x83, 0xf0, 0x83], &[0x41, 0xc1]),
            (&[0x02], &[0x41]),
        ];
        for (set2, set1) in cases {
            let mut t = Translator::default();
            let got: Vec<u8> = set2.iter().filter_map(|&b| t.push(b)).collect();
            assert_eq!(&got, set1);
        }
    }
}
