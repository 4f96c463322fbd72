//! A line on the console that `cargo test` shows even when the test passes.
//!
//! The test harness captures what `println!` and `eprintln!` print and shows it only for a
//! failing test, so a test that skips a case (a CPU without AVX-512F, a machine without
//! `mkfifo`) and says so with those macros would pass silently. [`notice`] writes to the
//! process's standard error directly, which the harness does not capture.

use std::io::Write;

/// Write `message` and a newline to standard error, past the test harness's capture: for a
/// test that checks less than its name says (a CPU feature or a system facility is missing).
pub fn notice(message: &str) {
    // Nothing useful can be done if the console is gone.
    let _ = writeln!(std::io::stderr(), "{message}");
}
