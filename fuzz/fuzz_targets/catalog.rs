//! Fuzz target `catalog`: the trace-events grammar on arbitrary text.
//!
//! The input, read as UTF-8 lossily (as `Catalog::add_file` does), is added
//! to an empty catalog; every resulting spec is compiled and a few messages
//! (fixed ones and lines of the input itself) are decoded against every
//! name. Checks beyond "never panics": warnings carry a line number inside
//! the text, a compiled spec has one name per field kind, and a spec's
//! `declaration()` parses back to the same arguments and format.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qtrace_core::catalog::Catalog;

/// Messages tried against every name, besides the lines of the input.
const MESSAGES: &[&[u8]] = &[
    b"",
    b"0",
    b"-1",
    b"0x55e7c0 keycode 0x34",
    b"i440FX 00:00.0 @0x0 -> 0x8086",
    b"(nil) (null) 18446744073709551615",
    b"cpu=0x1 info=3",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut cat = Catalog::new();
    cat.add_text("fuzz", &text);
    let lines = text.lines().count() as u64;
    // Parse every declaration now (loading only reads the names).
    cat.check_all();
    for w in &cat.take_warnings() {
        let _ = w.to_string();
        if let qtrace_core::Error::Catalog { line, .. } = w {
            assert!(
                *line >= 1 && *line <= lines,
                "warning line {line} of {lines}"
            );
        }
    }
    for spec in cat.specs() {
        if let Ok(c) = spec.compiled() {
            assert_eq!(c.names().len(), c.kinds().len());
            assert_eq!(c.format().slot_kinds(), c.kinds());
        }
        // The declaration reads back as the same event.
        let decl = spec.declaration();
        let mut again = Catalog::new();
        again.add_text("again", &decl);
        again.check_all();
        let warnings = again.take_warnings();
        assert!(warnings.is_empty(), "{decl:?}: {warnings:?}");
        let back = again
            .specs_for(spec.name.as_bytes())
            .next()
            .unwrap_or_else(|| panic!("{decl:?} lost its name {:?}", spec.name));
        assert_eq!(back.args, spec.args, "{decl:?}");
        assert_eq!(back.format, spec.format, "{decl:?}");
    }
    let mut scratch = Vec::new();
    let extra = data.split(|&b| b == b'\n').take(8);
    let messages: Vec<&[u8]> = MESSAGES.iter().copied().chain(extra).collect();
    for name in cat.names().into_iter().take(16) {
        for m in &messages {
            if let Some(f) = cat.decode(name.as_bytes(), m, &mut scratch) {
                assert_eq!(f.names().len(), f.len());
                for i in 0..f.len() {
                    let _ = (f.name(i), f.kind(i), f.text(i), f.value(i));
                }
            }
        }
    }
});
