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
agent or not and its cover mode, GOCOVERDIR set and writable (when the agent reports it), \
and whether GET /coverage gives a snapshot of which build.\n\
--pod NS/NAME (through the Kubernetes API): the pod's phase and containers, then each \
coverage port (as collect --kubernetes finds them) through the API server's pod proxy, \
checked like a URL.\n\n\
With no argument, $GOCOVERDIR is checked.\n\n\
Exit status: 0 nothing is wrong, 1 a finding is a problem, 2 bad usage.",
    after_help = "Examples:\n  \
livecov doctor ./server\n  \
livecov doctor /tmp/cover --writer-uid 1000680000\n  \
livecov doctor 127.0.0.1:53700\n  \
livecov doctor --pod e2e/web-7d9f-x2x --kubeconfig ~/.kube/config"
)]
pub struct DoctorArgs {
    /// The binary, directory or coverage server (URL or host:port) to check.
    #[arg(value_name = "BINARY|DIR|URL", conflicts_with = "pod")]
    pub target: Option<String>,

    /// Check a pod through the Kubernetes API: NAMESPACE/NAME. The token needs get on
    /// pods and pods/proxy.
    #[arg(long, value_name = "NS/NAME")]
    pub pod: Option<String>,

    /// With --pod: the kubeconfig (default KUBECONFIG, ~/.kube/config, else in-cluster).
    #[arg(long, value_name = "FILE", requires = "pod")]
    pub kubeconfig: Option<std::path::PathBuf>,

    /// With --pod: the kubeconfig context (default its current-context).
    #[arg(long, value_name = "NAME", requires = "pod")]
    pub context: Option<String>,

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
    if let Some(pod) = &args.pod {
        let Some((ns, name)) = pod
            .split_once('/')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty() && !p.contains('/'))
        else {
            eprintln!("error: --pod {pod:?}: expected NAMESPACE/NAME");
            return Exit::Usage;
        };
        let kube = livecov_collect::kube::KubeSettings {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            timeout: Duration::from_secs(args.timeout.max(1)),
            ..Default::default()
        };
        return print(&livecov_ops::doctor::check_pod(&kube, ns, name));
    }
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
    print(&check(&subject, &settings))
}

/// Prints the findings, one a line, and gives the exit status.
fn print(findings: &[livecov_ops::doctor::Finding]) -> Exit {
    for f in findings {
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
    if has_problem(findings) {
        Exit::GateFailed
    } else {
        Exit::Ok
    }
}
