//! pci-table's entry point: all process policy lives in qtrace-core.
fn main() -> std::process::ExitCode {
    qtrace_core::cli::run_main::<pci_table::Args, _>("pci-table", pci_table::run)
}
