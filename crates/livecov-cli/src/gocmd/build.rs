//! `livecov go build` and `livecov go inject`: livecov's Go agent into programs.

use std::path::Path;

use livecov_ops::agent::{
    go_build, inject_go, toolexec as run_toolexec, GoBuildSettings, Injected, GO_AGENT_FILE,
};

use crate::exit::Exit;
use crate::progress::TermReporter;

const BUILD_HELP: &str = "usage: livecov go build [go build flags] [packages]

Runs `go build -cover -covermode=atomic` with livecov's agent (livecov_agent.go) added to
every main package through -overlay: the source tree is not touched. The binaries serve
their coverage while they run (GET /coverage on the first free port from 53700, or
COVERAGE_PORT), flush it into GOCOVERDIR on SIGTERM/SIGINT, and push it to
LIVECOV_PUSH_URL when set; see agents/go/README.md.

Every go build flag works as with go build (-o, -tags, -ldflags, -C, ...); -covermode and
-coverpkg override the defaults, and an -overlay of yours is merged with the agent's.
The exit status is go build's.

Examples:
  livecov go build -o bin/ ./cmd/...
  livecov go build -tags netgo -o server .
";

const INJECT_HELP: &str = "usage: livecov go inject [--force] DIR

Writes livecov's Go agent as DIR/livecov_agent.go, for builds that cannot use
`livecov go build` (a Dockerfile's `go build -cover`). DIR must hold a `package main`.
An existing livecov_agent.go of other content is replaced only with --force. Compile leaves
the file out of coverage figures by its name.

Example (Dockerfile):
  RUN livecov go inject ./cmd/server && go build -cover -covermode=atomic -o /server ./cmd/server
";

/// `livecov go build <args>`.
pub fn build(args: &[String]) -> Exit {
    // go build has no -h of its own: anywhere before `--` it asks for this help.
    if args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        print!("{BUILD_HELP}");
        return Exit::Ok;
    }
    let settings = GoBuildSettings::new(args.to_vec());
    match go_build(&settings, &TermReporter::new()) {
        Ok(summary) => {
            for dir in &summary.already_there {
                eprintln!(
                    "note: {} already has {GO_AGENT_FILE}; built as it is",
                    dir.display()
                );
            }
            if summary.status.success() {
                Exit::Ok
            } else {
                let code = summary.status.code().unwrap_or(1);
                Exit::Child(u8::try_from(code).unwrap_or(1))
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Error
        }
    }
}

/// `livecov go inject [--force] DIR`.
pub fn inject(args: &[String]) -> Exit {
    let mut force = false;
    let mut dirs = Vec::new();
    for a in args {
        match a.as_str() {
            "-h" | "-help" | "--help" => {
                print!("{INJECT_HELP}");
                return Exit::Ok;
            }
            "-force" | "--force" => force = true,
            _ if a.starts_with('-') => {
                eprintln!("error: unknown flag {a}\n");
                eprint!("{INJECT_HELP}");
                return Exit::Usage;
            }
            _ => dirs.push(a.clone()),
        }
    }
    if dirs.len() != 1 {
        eprintln!("error: give one directory\n");
        eprint!("{INJECT_HELP}");
        return Exit::Usage;
    }
    match inject_go(Path::new(&dirs[0]), force) {
        Ok((path, Injected::Written)) => {
            println!("wrote {}", path.display());
            Exit::Ok
        }
        Ok((path, Injected::Unchanged)) => {
            println!("{} is up to date", path.display());
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Error
        }
    }
}

/// `livecov go toolexec TOOL ARGS…`: the -toolexec step of `livecov go build` (not for
/// direct use).
pub fn toolexec(args: &[String]) -> Exit {
    match run_toolexec(args) {
        Ok(status) if status.success() => Exit::Ok,
        Ok(status) => Exit::Child(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("livecov go toolexec: {e:#}");
            Exit::Error
        }
    }
}
