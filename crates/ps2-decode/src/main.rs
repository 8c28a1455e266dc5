//! ps2-decode's entry point: all process policy lives in qtrace-core.
fn main() -> std::process::ExitCode {
    qtrace_core::cli::run_main::<ps2_decode::Args, _>("ps2-decode", ps2_decode::run)
}
