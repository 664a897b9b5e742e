//! `livecov demo` (the README's first command) works from a clean directory and reports
//! the figures its shipped data holds.

use std::process::Command;

#[test]
fn demo_reports_the_shipped_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\texample.com/prog/dep\t\tcoverage: 66.7% of statements\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("total\t\t\t\t\t(statements)\t45.6%\n"),
        "{stdout}"
    );
    for pod in [
        "shop-frontend-7d9f8-app",
        "billing-worker-0-worker",
        "ingest-5c6b-api",
    ] {
        let profile = std::fs::read_to_string(dir.join(format!("profiles/{pod}.txt"))).unwrap();
        assert!(profile.starts_with("mode: "), "{pod}: {profile}");
        assert!(profile.lines().count() > 10, "{pod}");
    }
}
