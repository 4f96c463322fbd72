//! A line on the console that `cargo test` shows even when the test passes.
//!
//! The test harness captures what `println!` and `eprintln!` print and shows it only for a
//! failing test, so a test that skips a case (a CPU without AVX-512F, a machine without
//! `mkfifo`) and says so with those macros would pass silently. [`notice`] writes to the
//! process's standard error directly, which the harness does not capture, and says each
//! message once per process: a proptest that skips asks for every one of its cases.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Mutex;

/// The messages already written by this process.
static SAID: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Write `message` and a newline to standard error, past the test harness's capture, unless
/// this process has already written it: for a test that checks less than its name says (a CPU
/// feature or a system facility is missing).
pub fn notice(message: &str) {
    if first_time(message) {
        // Nothing useful can be done if the console is gone.
        let _ = writeln!(std::io::stderr(), "{message}");
    }
}

/// Whether this process meets `message` for the first time (and remember it).
fn first_time(message: &str) -> bool {
    // A test that panicked while holding the lock leaves the set usable.
    let mut said = SAID.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    said.insert(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_new_only_the_first_time() {
        let message = "test_notice's own test: a message met twice";
        assert!(first_time(message));
        assert!(!first_time(message));
        assert!(first_time("test_notice's own test: another message"));
    }
}
