//! The `livecov` binary: everything lives in `livecov-cli`.

fn main() -> std::process::ExitCode {
    livecov_cli::run()
}
