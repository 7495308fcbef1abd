//! Helpers shared by the runtime's root tests: whether we are root, the
//! skip-or-fail rule for tests that need it, and running a command that
//! must succeed.

#![allow(dead_code)] // each test binary uses a different subset

use std::process::Command;

/// Whether the effective user is root (the second `Uid:` field of
/// `/proc/self/status`).
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|uid| uid == "0"))
        .unwrap_or(false)
}

/// Print why a test is skipped and return `true`; under
/// `NETC_REQUIRE_ROOT_TESTS=1` (CI) fail instead.
pub fn skip(reason: &str) -> bool {
    if std::env::var("NETC_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("NETC_REQUIRE_ROOT_TESTS=1 but {reason}");
    }
    eprintln!("skipped: {reason}");
    true
}

/// Run a command that must succeed; its standard output.
pub fn run(args: &[&str]) -> String {
    let output = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        output.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
