//! dma-sectors' entry point: all process policy lives in qtrace-core.
fn main() -> std::process::ExitCode {
    qtrace_core::cli::run_main::<dma_sectors::Args, _>("dma-sectors", dma_sectors::run)
}
