//! The `livecov` binary: everything lives in `livecov-cli`.

fn main() -> std::process::ExitCode {
    // A reader that stops early (`livecov demo | head`) ends livecov quietly, as it
    // ends other Unix tools, instead of a panic on the next write to stdout.
    // SAFETY: called first, before any thread starts; SIG_DFL is always a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    livecov_cli::run()
}
