//! Putting livecov's Go agent (`agents/go/livecov_agent.go`) into programs: `go build`
//! with the agent added to every main package through `-overlay` (the source tree is never
//! touched), or the file written into a directory for Dockerfile builds.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{bail, Context, Result};

use crate::Reporter;

/// The agent's file name; compile leaves it out by this name (see
/// [`crate::compile::DEFAULT_EXCLUDES`]).
pub const GO_AGENT_FILE: &str = "livecov_agent.go";

/// The agent's source, as committed in `agents/go/`.
pub const GO_AGENT_SOURCE: &str = include_str!("../../../agents/go/livecov_agent.go");

/// What `livecov go build` runs.
#[derive(Clone, Debug)]
pub struct GoBuildSettings {
    /// The `go` command (default `go` on `PATH`).
    pub go: PathBuf,
    /// `go build`'s flags and packages, as the user gave them.
    pub args: Vec<String>,
    /// The directory to run in (default: the current one).
    pub dir: Option<PathBuf>,
    /// The program that runs `livecov go toolexec` (livecov itself), needed for
    /// `-cover` builds; see [`toolexec`].
    pub toolexec: Option<PathBuf>,
}

impl GoBuildSettings {
    /// `go build <args>` with the `go` on `PATH`.
    pub fn new(args: Vec<String>) -> GoBuildSettings {
        GoBuildSettings {
            go: PathBuf::from("go"),
            args,
            dir: None,
            toolexec: std::env::current_exe().ok(),
        }
    }
}

/// What `livecov go build` did.
#[derive(Debug)]
pub struct GoBuildSummary {
    /// Directories of the main packages the agent was added to.
    pub agent_added: Vec<PathBuf>,
    /// Main packages that already hold a `livecov_agent.go` (left as they are).
    pub already_there: Vec<PathBuf>,
    /// The full `go build` command line that ran.
    pub command: Vec<String>,
    /// How `go build` exited.
    pub status: ExitStatus,
}

/// `go build` flags that take a value (`-o out` as well as `-o=out`); every other flag is
/// a boolean. From `go help build` (Go 1.20–1.26).
const VALUE_FLAGS: &[&str] = &[
    "C",
    "o",
    "p",
    "asmflags",
    "buildmode",
    "compiler",
    "covermode",
    "coverpkg",
    "gccgoflags",
    "gcflags",
    "installsuffix",
    "ldflags",
    "mod",
    "modfile",
    "overlay",
    "pgo",
    "pkgdir",
    "tags",
    "toolexec",
];

/// One flag of the user's command line: its name and all its words.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flag {
    name: String,
    value: Option<String>,
    words: Vec<String>,
}

/// Splits `go build`'s arguments into flags and packages the way Go's flag package does:
/// flags first, up to the first non-flag word or `--`.
fn split_args(args: &[String]) -> Result<(Vec<Flag>, Vec<String>)> {
    let mut flags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let word = &args[i];
        if word == "--" {
            i += 1;
            break;
        }
        let Some(body) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            break;
        };
        if body.is_empty() {
            break;
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (body.to_owned(), None),
        };
        let mut words = vec![word.clone()];
        let value = if inline.is_some() {
            inline
        } else if VALUE_FLAGS.contains(&name.as_str()) {
            i += 1;
            let Some(v) = args.get(i) else {
                bail!("flag -{name} needs a value (go build -{name} VALUE)");
            };
            words.push(v.clone());
            Some(v.clone())
        } else {
            None
        };
        flags.push(Flag { name, value, words });
        i += 1;
    }
    Ok((flags, args[i..].to_vec()))
}

/// Runs `go build -cover` with the agent added to every main package among the packages
/// named (default `.`). Coverage mode is atomic unless `-covermode` says otherwise
/// (`POST /coverage/reset` needs atomic). A `-overlay` of the user's is kept: its entries
/// are merged with the agent's. `go build`'s own output goes to this process's stdout
/// and stderr.
pub fn go_build(settings: &GoBuildSettings, reporter: &dyn Reporter) -> Result<GoBuildSummary> {
    let (flags, mut packages) = split_args(&settings.args)?;
    if packages.is_empty() {
        packages.push(".".to_owned());
    }
    let flag = |name: &str| flags.iter().find(|f| f.name == name);
    if let Some(f) = flag("covermode") {
        if f.value.as_deref() != Some("atomic") {
            reporter.note(&format!(
                "-covermode={}: POST /coverage/reset needs atomic mode and will be refused",
                f.value.as_deref().unwrap_or("")
            ));
        }
    }
    // Go's -C must come first on the command line, before the command's other flags.
    let chdir: Vec<String> = flag("C").map(|f| f.words.clone()).unwrap_or_default();
    let user_overlay = flag("overlay").and_then(|f| f.value.clone());
    let user_toolexec = flag("toolexec").and_then(|f| f.value.clone());
    let others: Vec<&Flag> = flags
        .iter()
        .filter(|f| !matches!(f.name.as_str(), "C" | "overlay" | "toolexec"))
        .collect();

    let mut replace: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    if let Some(path) = &user_overlay {
        let base = settings.dir.clone().unwrap_or_default();
        let text = fs::read_to_string(base.join(path))
            .with_context(|| format!("reading the -overlay file {path}"))?;
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("-overlay file {path}: not JSON"))?;
        if let Some(map) = parsed.get("Replace").and_then(|r| r.as_object()) {
            replace.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    // Which packages are commands, and where they are.
    let mut list = Command::new(&settings.go);
    list.args(&chdir)
        .arg("list")
        .arg("-e")
        .arg("-f")
        .arg("{{.Name}}\t{{.Dir}}\t{{if .Error}}{{.Error}}{{end}}");
    if let Some(path) = &user_overlay {
        list.arg(format!("-overlay={path}"));
    }
    for f in others.iter().filter(|f| f.name != "o") {
        list.args(&f.words);
    }
    if let Some(t) = &user_toolexec {
        list.arg(format!("-toolexec={t}"));
    }
    list.args(&packages);
    if let Some(dir) = &settings.dir {
        list.current_dir(dir);
    }
    let listed = list
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} list", settings.go.display()))?;
    if !listed.status.success() {
        bail!(
            "`go list {}` failed ({}); see its messages above",
            packages.join(" "),
            listed.status
        );
    }
    let mut agent_added = Vec::new();
    let mut already_there = Vec::new();
    for line in String::from_utf8_lossy(&listed.stdout).lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(dir)) = (parts.next(), parts.next()) else {
            continue;
        };
        if name != "main" || dir.is_empty() {
            continue;
        }
        let dir = PathBuf::from(dir);
        let target = dir.join(GO_AGENT_FILE);
        if target.exists() || replace.contains_key(&target.to_string_lossy().into_owned()) {
            already_there.push(dir);
        } else {
            agent_added.push(dir);
        }
    }
    if agent_added.is_empty() && already_there.is_empty() {
        reporter.note(&format!(
            "no main package among {}: building with -cover, without the agent",
            packages.join(" ")
        ));
    }

    let work = tempfile::Builder::new()
        .prefix("livecov-go-build-")
        .tempdir()
        .context("making a temporary directory for the overlay")?;
    let agent = work.path().join(GO_AGENT_FILE);
    fs::write(&agent, GO_AGENT_SOURCE).with_context(|| format!("writing {}", agent.display()))?;
    for dir in &agent_added {
        replace.insert(
            dir.join(GO_AGENT_FILE).to_string_lossy().into_owned(),
            serde_json::Value::String(agent.to_string_lossy().into_owned()),
        );
    }
    let overlay = work.path().join("overlay.json");
    let body = serde_json::json!({ "Replace": replace });
    fs::write(&overlay, serde_json::to_vec_pretty(&body)?)
        .with_context(|| format!("writing {}", overlay.display()))?;

    let mut command: Vec<String> = chdir.clone();
    command.push("build".into());
    if flag("cover").is_none() {
        command.push("-cover".into());
    }
    if flag("covermode").is_none() {
        command.push("-covermode=atomic".into());
    }
    command.push(format!("-overlay={}", overlay.display()));
    // `go build -cover` hands the cover tool the packages' files by their paths on disk,
    // ignoring -overlay (golang/go#73802), so a file the overlay adds is not found. The
    // cover step runs through livecov (`livecov go toolexec`), which points it at the
    // agent's real file; every other tool runs as it is (through the user's -toolexec,
    // if any).
    if let Some(shim) = &settings.toolexec {
        let exe = shim.display().to_string();
        if exe.contains(char::is_whitespace) {
            bail!("livecov's path {exe:?} has white space; go build -toolexec cannot take it");
        }
        command.push(format!("-toolexec={exe} go toolexec"));
    }
    for f in &others {
        command.extend(f.words.iter().cloned());
    }
    command.extend(packages.iter().cloned());
    for dir in &agent_added {
        reporter.note(&format!("adding the livecov agent to {}", dir.display()));
    }
    let mut build = Command::new(&settings.go);
    build.args(&command);
    build.env(AGENT_ENV, &agent);
    match &user_toolexec {
        Some(t) => build.env(NEXT_TOOLEXEC_ENV, t),
        None => build.env_remove(NEXT_TOOLEXEC_ENV),
    };
    if let Some(dir) = &settings.dir {
        build.current_dir(dir);
    }
    let status = build
        .status()
        .with_context(|| format!("running {} build", settings.go.display()))?;
    let mut full = vec![settings.go.display().to_string()];
    full.extend(command);
    Ok(GoBuildSummary {
        agent_added,
        already_there,
        command: full,
        status,
    })
}

/// Where `livecov go build` tells its toolexec step the agent's file is.
const AGENT_ENV: &str = "LIVECOV_GO_AGENT_FILE";
/// The user's own `-toolexec`, which the toolexec step runs each tool through.
const NEXT_TOOLEXEC_ENV: &str = "LIVECOV_GO_NEXT_TOOLEXEC";

/// The `-toolexec` step of [`go_build`]: runs `tool args…` (through the user's own
/// -toolexec when there was one), except that for the cover tool every input named
/// `<dir>/livecov_agent.go` that does not exist on disk (the overlay added it) is replaced
/// by the agent's real file. The cover tool names files by import path and base name,
/// so the coverage data is the same as if the file were in the tree.
pub fn toolexec(args: &[String]) -> Result<ExitStatus> {
    let Some((tool, rest)) = args.split_first() else {
        bail!("usage: livecov go toolexec TOOL [ARGS...] (run by go build -toolexec)");
    };
    let is_cover = Path::new(tool).file_stem().is_some_and(|s| s == "cover");
    let agent = std::env::var_os(AGENT_ENV).map(PathBuf::from);
    let rest: Vec<String> = rest
        .iter()
        .map(|a| match &agent {
            Some(agent)
                if is_cover
                    && Path::new(a).file_name().is_some_and(|n| n == GO_AGENT_FILE)
                    && !Path::new(a).exists() =>
            {
                agent.display().to_string()
            }
            _ => a.clone(),
        })
        .collect();
    let mut words: Vec<String> = std::env::var(NEXT_TOOLEXEC_ENV)
        .map(|t| t.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    words.push(tool.clone());
    words.extend(rest);
    Command::new(&words[0])
        .args(&words[1..])
        .status()
        .with_context(|| format!("running {}", words[0]))
}

/// What [`inject_go`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// The file was written.
    Written,
    /// The file was there with the same content.
    Unchanged,
}

/// Writes `livecov_agent.go` into `dir`, which must hold a `package main` (unless
/// `force`). An existing file of other content is replaced only with `force`; a symbolic
/// link in its place is never written through.
pub fn inject_go(dir: &Path, force: bool) -> Result<(PathBuf, Injected)> {
    let meta = fs::metadata(dir).with_context(|| format!("{}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    if !force && !has_package_main(dir)? {
        bail!(
            "{}: no .go file with `package main` here; the agent goes beside a program's \
             main function (use --force to write it anyway)",
            dir.display()
        );
    }
    let target = dir.join(GO_AGENT_FILE);
    match fs::symlink_metadata(&target) {
        Ok(m) if m.file_type().is_symlink() => bail!(
            "{}: is a symbolic link; not writing through it",
            target.display()
        ),
        Ok(m) if !m.is_file() => bail!("{}: exists and is not a regular file", target.display()),
        Ok(_) => {
            let current = fs::read(&target).with_context(|| format!("{}", target.display()))?;
            if current == GO_AGENT_SOURCE.as_bytes() {
                return Ok((target, Injected::Unchanged));
            }
            if !force {
                bail!(
                    "{}: exists with other content (an older agent, or a file of yours); \
                     --force replaces it",
                    target.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("{}", target.display())),
    }
    // Through a temporary file in the same directory, so a reader never sees half a file.
    let mut tmp = tempfile::Builder::new()
        .prefix(".livecov_agent")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    tmp.write_all(GO_AGENT_SOURCE.as_bytes())?;
    tmp.persist(&target)
        .with_context(|| format!("writing {}", target.display()))?;
    Ok((target, Injected::Written))
}

/// Whether a `.go` file of `dir` (not a test) declares `package main`.
fn has_package_main(dir: &Path) -> Result<bool> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".go") || name.ends_with("_test.go") || name == GO_AGENT_FILE {
            continue;
        }
        if !entry.file_type()?.is_file() {
            continue;
        }
        let text = match fs::read(entry.path()) {
            Ok(b) => b,
            Err(_) => continue,
        };
        // The package clause comes before any declaration; comments may precede it.
        let head = String::from_utf8_lossy(&text[..text.len().min(64 * 1024)]).into_owned();
        if head.lines().map(str::trim).any(|l| {
            l == "package main" || l.starts_with("package main ") || l.starts_with("package main/")
        }) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_end_at_the_first_package() {
        let (flags, pkgs) = split_args(&words("-o out -tags=a,b -trimpath ./cmd/... x")).unwrap();
        let names: Vec<_> = flags.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["o", "tags", "trimpath"]);
        assert_eq!(flags[0].value.as_deref(), Some("out"));
        assert_eq!(flags[0].words, ["-o", "out"]);
        assert_eq!(flags[1].value.as_deref(), Some("a,b"));
        assert_eq!(flags[2].value, None);
        assert_eq!(pkgs, ["./cmd/...", "x"]);
        let (flags, pkgs) = split_args(&words("-v -- -odd")).unwrap();
        assert_eq!(flags.len(), 1);
        assert_eq!(pkgs, ["-odd"]);
        assert!(split_args(&words("-o")).is_err());
    }

    #[test]
    fn inject_writes_once_and_refuses_links_and_foreign_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(inject_go(dir, false).is_err(), "no package main");
        fs::write(
            dir.join("main.go"),
            "// Command x.\npackage main\n\nfunc main() {}\n",
        )
        .unwrap();
        let (path, what) = inject_go(dir, false).unwrap();
        assert_eq!(what, Injected::Written);
        assert_eq!(fs::read_to_string(&path).unwrap(), GO_AGENT_SOURCE);
        assert_eq!(inject_go(dir, false).unwrap().1, Injected::Unchanged);
        fs::write(&path, "package main\n").unwrap();
        assert!(
            inject_go(dir, false).is_err(),
            "other content needs --force"
        );
        assert_eq!(inject_go(dir, true).unwrap().1, Injected::Written);

        let other = tempfile::tempdir().unwrap();
        let victim = other.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let e = inject_go(dir, true).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    }
}
