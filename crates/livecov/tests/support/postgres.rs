//! A real PostgreSQL 15 server for a test: initdb into a temporary directory, started on
//! 127.0.0.1 and a free port, password authentication (scram-sha-256) for TCP clients,
//! stopped and removed when the guard drops (also when the test panics).
//!
//! The binaries come from `LIVECOV_PG_BIN`, else Debian's `/usr/lib/postgresql/15/bin`
//! (`scripts/test` installs postgresql-15). Missing: the `external::require` rule.
//! The server refuses to run as root, so as root every server program runs as the
//! `postgres` user (`runuser`), in a directory owned by it.
//!
//! Shared by the store tests and the workspace tests with
//! `#[path = …] mod pgserver;` beside `mod external;` (std, and the postgres client for
//! [`hold_layout`]).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The role the tests connect as, and its password.
pub const USER: &str = "livecov";
pub const PASSWORD: &str = "s3cret-livecov-test-pw";

/// A running server; stopped and deleted on drop.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    run_as: Option<String>,
}

fn bin_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LIVECOV_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
    (dir.join("postgres").is_file() && dir.join("initdb").is_file()).then_some(dir)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn check(what: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Postgres {
    /// Starts a server, or returns `None` (after the `require` rule) when PostgreSQL is
    /// not installed.
    pub fn start() -> Option<Postgres> {
        let bin = crate::external::require(
            "PostgreSQL 15 (Debian's postgresql-15: scripts/test installs it; or set \
             LIVECOV_PG_BIN to its bin directory)",
            bin_dir(),
        )?;
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "livecov-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run_as = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            check(
                "chown the server directory",
                Command::new("chown").arg(user).arg(&dir).output(),
            );
        }
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if let Some(user) = &run_as {
            check(
                "chown the password file",
                Command::new("chown").arg(user).arg(&pwfile).output(),
            );
        }
        let mut pg = Postgres {
            bin,
            data: dir.join("data"),
            dir,
            port: 0,
            run_as,
        };
        pg.server(
            "initdb",
            &[
                "-D",
                pg.data.to_str().unwrap(),
                "-U",
                USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--pwfile",
                pwfile.to_str().unwrap(),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        // A port that was free a moment ago may be taken when the server binds it: retry.
        for attempt in 0.. {
            pg.port = free_port();
            let opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
                pg.port,
                pg.dir.display()
            );
            let log = pg.dir.join("server.log");
            let out = pg.server_output(
                "pg_ctl",
                &[
                    "-D",
                    pg.data.to_str().unwrap(),
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &opts,
                    "start",
                ],
            );
            if out.status.success() {
                break;
            }
            assert!(
                attempt < 3,
                "pg_ctl start: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Some(pg)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn server_output(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    }

    fn server(&self, program: &str, args: &[&str]) -> Output {
        check(program, Ok(self.server_output(program, args)))
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db`, with the test role's password in it.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// The URL of database `db` without a password (for PGPASSWORD / passfile tests).
    pub fn url_without_password(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `db` and returns its URL.
    pub fn create_database(&self, db: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{db}\""));
        self.url(db)
    }

    /// Runs `sql` with psql over TCP and returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = check(
            "psql",
            Command::new(self.bin.join("psql"))
                .args([
                    "-X",
                    "-q",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    "127.0.0.1",
                ])
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    USER,
                    "-d",
                    db,
                    "-c",
                    sql,
                ])
                .env("PGPASSWORD", PASSWORD)
                .output(),
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// Stops the server at once (connections cut, no checkpoint: as a crash) and starts
    /// it again on the same port.
    pub fn restart(&self) {
        let log = self.dir.join("server.log");
        self.server(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "-t",
                "60",
                "restart",
            ],
        );
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The directory of the server's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self
                .command("pg_ctl")
                .args([
                    "-D",
                    self.data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ])
                .current_dir(&self.dir)
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A connection holding, in an open transaction, a layout row for the build `hash_hex`
/// (hex): every compile that stores that build waits on it, inside its write, until the
/// connection drops (the transaction then rolls back) or the server restarts.
pub fn hold_layout(url: &str, hash_hex: &str) -> postgres::Client {
    let hash: Vec<u8> = (0..hash_hex.len() / 2)
        .map(|i| u8::from_str_radix(&hash_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client.batch_execute("BEGIN").unwrap();
    client
        .execute(
            "INSERT INTO layouts (hash, format, mode, units, layout) \
             VALUES ($1, 'held', 'set', 0, '')",
            &[&hash],
        )
        .unwrap();
    client
}
