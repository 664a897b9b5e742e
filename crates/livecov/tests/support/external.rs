//! The one rule for tests that need a program from outside the workspace (Go, moto,
//! docker-registry, Chromium, fake-gcs-server, Azurite…): when it is missing, the test
//! fails if `CI` is set and is skipped, with a message on stderr, otherwise.
//! `scripts/test` installs every such program and points the tests at it (`LIVECOV_*`
//! variables), so a run of it skips nothing.
//!
//! Shared by every test crate with `#[path = …] mod external;` (the file depends on
//! nothing but std).
#![allow(dead_code)]

/// `found`, or — when it is `None` — a panic under `CI` and otherwise `None` after a
/// "skipping" line on stderr. `what` names the missing program and how to get it, e.g.
/// "moto_server (run .ci/install-moto.sh or set LIVECOV_MOTO_SERVER)".
///
/// A skipped test returns early and so passes: the message is the only trace, which is
/// why CI must not skip.
pub fn require<T>(what: &str, found: Option<T>) -> Option<T> {
    if found.is_some() {
        return found;
    }
    // libtest runs each test on a thread named after it.
    let current = std::thread::current();
    let test = current.name().unwrap_or("test");
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set and {what} was not found; scripts/test installs it");
    }
    eprintln!(
        "skipping {test}: {what} not found (scripts/test installs it; with CI set this fails)"
    );
    None
}
