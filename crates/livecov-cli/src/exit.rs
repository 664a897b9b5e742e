//! The one place where outcomes become exit statuses.

use std::process::ExitCode;

/// How a livecov run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything was read and written.
    Ok,
    /// A check found a problem: a gate (threshold, diff coverage) failed, or `doctor`
    /// found why coverage is missing.
    GateFailed,
    /// An input could not be read or an output not written; what could be done was done.
    Error,
    /// The command line was wrong (Go's flag package also exits 2 here).
    Usage,
    /// A wrapped tool's own status (`livecov go build` exits as `go build` did).
    Child(u8),
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::GateFailed => 1,
            Exit::Error | Exit::Usage => 2,
            Exit::Child(code) => code,
        })
    }
}
