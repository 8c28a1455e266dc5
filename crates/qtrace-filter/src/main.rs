//! qtrace-filter: placeholder
fn main() {}
