//! qtrace-filter's entry point: all process policy lives in qtrace-core.
fn main() -> std::process::ExitCode {
    qtrace_core::cli::run_main::<qtrace_filter::Args, _>("qtrace-filter", qtrace_filter::run)
}
