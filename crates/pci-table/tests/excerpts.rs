//! A message that quotes a trace line quotes at most an excerpt of it: a
//! 64 KiB pci_cfg_read line that matches no format gives one short line on
//! stderr, not 64 KiB of it.

use qtrace_testkit::Tool;

const TOOL: Tool = Tool {
    name: "pci-table",
    bin: env!("CARGO_BIN_EXE_pci-table"),
    args: &["--no-installed-catalog"],
};

#[test]
fn a_64_kib_line_is_quoted_as_an_excerpt() {
    let args = "e1000 00:03.0 @0x0 -> ".to_string() + &"9".repeat(64 << 10);
    let input = format!("pci_cfg_read e1000 00:03.0 @0x0 -> 0x100e8086\npci_cfg_read {args}\n");
    let (code, out, err) = TOOL.run(&[], &input);
    assert_eq!(code, 2, "{err}");
    assert!(out.starts_with("00:03.0 "), "{out}");
    assert!(
        err.len() < 400,
        "{} bytes of stderr: {}",
        err.len(),
        &err[..400]
    );
    let quoted = format!("'{}... ({} bytes)'", &args[..120], args.len());
    assert!(
        err.starts_with("pci-table: <stdin>:2: pci_cfg_read: ") && err.contains(&quoted),
        "{err}"
    );
}
