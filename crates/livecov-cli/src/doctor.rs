//! `livecov doctor`: why coverage is missing, one finding a line.

use std::time::Duration;

use livecov_ops::doctor::{check, has_problem, subject, DoctorSettings, Severity};

use crate::exit::Exit;

/// Flags of `livecov doctor`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Explain why coverage is missing: for a binary, a coverage directory or a server",
    long_about = "Checks one thing and prints what it found, one finding a line (`ok:`, \
`warning:`, `problem:`), each warning and problem followed by `  fix:` and what to change.\n\n\
A BINARY (a Go ELF program): built with -cover or not (its Go build info and coverage \
runtime), the likely counter mode, whether livecov's agent or the deployed \
coverage_server.go is inside, and that stripping (-s -w) does not matter.\n\
A DIR (a GOCOVERDIR or a collection's report directory, sub-directories included): empty, \
meta-data without counters, counters without meta-data, unreadable or non-regular files, and \
whether a non-root writer (or --writer-uid) can create files in it.\n\
A URL or host:port (a coverage server): reachable, a coverage server or not, livecov's \
agent or not and its cover mode, and whether GET /coverage gives a snapshot of which build.\n\n\
With no argument, $GOCOVERDIR is checked.\n\n\
Exit status: 0 nothing is wrong, 1 a finding is a problem, 2 bad usage.",
    after_help = "Examples:\n  \
livecov doctor ./server\n  \
livecov doctor /tmp/cover --writer-uid 1000680000\n  \
livecov doctor 127.0.0.1:53700"
)]
pub struct DoctorArgs {
    /// The binary, directory or coverage server (URL or host:port) to check.
    #[arg(value_name = "BINARY|DIR|URL")]
    pub target: Option<String>,

    /// For a directory: the uid that is meant to write coverage into it (a container's
    /// runAsUser); by default only whether some non-root uid could is checked.
    #[arg(long, value_name = "UID")]
    pub writer_uid: Option<u32>,

    /// For a server: seconds to wait for a connection and for each answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub timeout: u64,
}

/// Runs `livecov doctor`.
pub fn run(args: &DoctorArgs) -> Exit {
    let word = match &args.target {
        Some(t) => t.clone(),
        None => match std::env::var("GOCOVERDIR") {
            Ok(d) if !d.is_empty() => d,
            _ => {
                eprintln!(
                    "error: nothing to check\nhint: give a binary, a directory or a coverage \
                     server (`livecov doctor ./server`), or set GOCOVERDIR"
                );
                return Exit::Usage;
            }
        },
    };
    let subject = match subject(&word) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let settings = DoctorSettings {
        writer_uid: args.writer_uid,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let findings = check(&subject, &settings);
    for f in &findings {
        let label = match f.severity {
            Severity::Ok => "ok",
            Severity::Warn => "warning",
            Severity::Problem => "problem",
        };
        println!("{label}: {}", f.what);
        if let Some(fix) = &f.fix {
            println!("  fix: {fix}");
        }
    }
    if has_problem(&findings) {
        Exit::GateFailed
    } else {
        Exit::Ok
    }
}
