//! Putting livecov's Python agent (`agents/python/livecov_sitecustomize/`) into running
//! Python services without changing their images: `livecov py inject` writes the agent
//! files, an environment file and a docker-compose overlay that mounts the agent, puts it
//! on `PYTHONPATH` and turns it on for the services named (seed 004's pattern, with
//! `livecov collect` as the harvester).
//!
//! Two ways to get the data out:
//! - push (default): each service POSTs snapshots to `livecov collect --listen` (on the
//!   host through `host.docker.internal`, or a `livecov-harvester` service of the overlay
//!   when an image is given), with a bearer token from a file; nothing needs to reach the
//!   services, and the last snapshot is pushed when a service stops;
//! - scrape: each service's agent port 53700 is published on 127.0.0.1 (53700, 53701, …
//!   in the order the services are named), for `livecov collect --scan 127.0.0.1`.
//!
//! coverage.py itself must be importable inside the service: installed in the image, or a
//! directory made with `pip install --target DIR coverage` mounted through
//! `coverage_dir`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The starter Python imports at start-up, as committed in `agents/python/`.
pub const PY_SITECUSTOMIZE: &str =
    include_str!("../../../agents/python/livecov_sitecustomize/sitecustomize.py");
/// The agent module, as committed in `agents/python/`.
pub const PY_AGENT: &str =
    include_str!("../../../agents/python/livecov_sitecustomize/livecov_agent.py");
/// The agent's file names inside the agent directory.
pub const PY_AGENT_FILES: [(&str, &str); 2] = [
    ("sitecustomize.py", PY_SITECUSTOMIZE),
    ("livecov_agent.py", PY_AGENT),
];

/// Where the overlay mounts things inside the services.
const IN_AGENT: &str = "/livecov/agent";
const IN_SITE: &str = "/livecov/site";
const IN_TOKEN: &str = "/livecov/token";
/// The port the agents listen on inside the containers (scrape mode).
const AGENT_PORT: u16 = 53700;
/// The harvester's port (push mode).
pub const HARVESTER_PORT: u16 = 8431;

/// How the snapshots leave the services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Harvest {
    /// Agents push to `livecov collect --listen`.
    Push {
        /// Where to push; default the host's `livecov collect --listen 0.0.0.0:8431`
        /// through `host.docker.internal`, or the harvester service when `image` is set.
        url: Option<String>,
        /// An image holding the `livecov` binary: the overlay adds a `livecov-harvester`
        /// service running `livecov collect --listen` into `collection`.
        image: Option<String>,
        /// The harvester's collection directory on the host (bind-mounted).
        collection: PathBuf,
        /// Seconds between pushes.
        interval_secs: u64,
    },
    /// Agent ports published on the host's loopback from this port on.
    Scrape {
        /// The first host port (53700).
        first_port: u16,
    },
}

/// What `livecov py inject` writes.
#[derive(Clone, Debug)]
pub struct PyInjectSettings {
    /// The compose services to turn the agent on for (at least one).
    pub services: Vec<String>,
    /// The directory the agent files, the env file and the token go to (default
    /// `livecov`).
    pub dir: PathBuf,
    /// The overlay file (default `docker-compose.livecov.yml`). Relative paths inside it
    /// are relative to its directory, which must be the compose project directory.
    pub overlay: PathBuf,
    /// How the data leaves the services.
    pub harvest: Harvest,
    /// A host directory with coverage.py installed (`pip install --target DIR coverage`),
    /// mounted and put on `PYTHONPATH`; `None`: coverage.py is in the images.
    pub coverage_dir: Option<PathBuf>,
    /// `PYTHONPATH` entries the images need (the overlay's `PYTHONPATH` replaces theirs).
    pub pythonpath: Vec<String>,
    /// coverage.py's `source` (measure only these directories or packages).
    pub source: Vec<String>,
    /// The prefix the services' sources live under (`/app`), for compile's path mapping.
    pub source_root: Option<String>,
    /// The commit the images were built from (`SOURCE_GIT_COMMIT`).
    pub source_commit: Option<String>,
    /// Replace files that exist with other content.
    pub force: bool,
}

impl PyInjectSettings {
    /// Push mode to the host's `livecov collect --listen`, files in `livecov/` and
    /// `docker-compose.livecov.yml`.
    pub fn new(services: Vec<String>) -> PyInjectSettings {
        PyInjectSettings {
            services,
            dir: PathBuf::from("livecov"),
            overlay: PathBuf::from("docker-compose.livecov.yml"),
            harvest: Harvest::Push {
                url: None,
                image: None,
                collection: PathBuf::from("livecov-collection"),
                interval_secs: 10,
            },
            coverage_dir: None,
            pythonpath: Vec::new(),
            source: Vec::new(),
            source_root: None,
            source_commit: None,
            force: false,
        }
    }
}

/// What `livecov py inject` wrote, and what to run next.
#[derive(Debug)]
pub struct PyInjectSummary {
    /// Every file written or left as it was (already identical).
    pub files: Vec<PathBuf>,
    /// The overlay.
    pub overlay: PathBuf,
    /// The environment file (`KEY=VALUE` lines, for `docker run --env-file`).
    pub env_file: PathBuf,
    /// The environment the services get.
    pub env: BTreeMap<String, String>,
    /// Commands to run, in order.
    pub next_steps: Vec<String>,
}

/// Writes the agent, the env file and the overlay as `settings` say.
pub fn inject_py(settings: &PyInjectSettings) -> Result<PyInjectSummary> {
    if settings.services.is_empty() {
        bail!("name at least one compose service to turn the Python agent on for");
    }
    for s in &settings.services {
        let ok = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            bail!("{s:?}: not a compose service name (letters, digits, '-', '_' and '.' only)");
        }
    }
    let base = settings
        .overlay
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut files = Vec::new();
    let agent_dir = settings.dir.join("agent");
    fs::create_dir_all(&agent_dir).with_context(|| format!("creating {}", agent_dir.display()))?;
    for (name, text) in PY_AGENT_FILES {
        let path = agent_dir.join(name);
        // The agent files are livecov's own: always brought up to date.
        write_file(&path, text.as_bytes(), true)?;
        files.push(path);
    }

    let mut env = BTreeMap::new();
    env.insert("LIVECOV_PYTHON".to_owned(), "1".to_owned());
    let mut pythonpath = vec![IN_AGENT.to_owned()];
    if settings.coverage_dir.is_some() {
        pythonpath.push(IN_SITE.to_owned());
    }
    pythonpath.extend(settings.pythonpath.iter().cloned());
    env.insert("PYTHONPATH".to_owned(), pythonpath.join(":"));
    // Any user can write /tmp; the snapshots leave through the agent, not this file.
    env.insert(
        "COVERAGE_FILE".to_owned(),
        "/tmp/livecov-coverage/.coverage".to_owned(),
    );
    if !settings.source.is_empty() {
        env.insert("LIVECOV_SOURCE".to_owned(), settings.source.join(","));
    }
    if let Some(root) = &settings.source_root {
        env.insert("LIVECOV_SOURCE_ROOT".to_owned(), root.clone());
    }
    if let Some(commit) = &settings.source_commit {
        env.insert("SOURCE_GIT_COMMIT".to_owned(), commit.clone());
    }

    let mut volumes = vec![format!("{}:{IN_AGENT}:ro", mount_path(&base, &agent_dir)?)];
    if let Some(site) = &settings.coverage_dir {
        volumes.push(format!("{}:{IN_SITE}:ro", mount_path(&base, site)?));
    }
    let mut overlay_services = serde_json::Map::new();
    let mut next_steps = Vec::new();
    let compose = format!(
        "docker compose -f docker-compose.yml -f {}",
        settings.overlay.display()
    );
    match &settings.harvest {
        Harvest::Push {
            url,
            image,
            collection,
            interval_secs,
        } => {
            let token_path = settings.dir.join("token");
            if !token_path.exists() || settings.force {
                write_file(&token_path, format!("{}\n", new_token()?).as_bytes(), true)?;
            }
            files.push(token_path.clone());
            volumes.push(format!("{}:{IN_TOKEN}:ro", mount_path(&base, &token_path)?));
            let on_host = image.is_none() && url.is_none();
            let url = match (url, image) {
                (Some(u), _) => u.clone(),
                (None, Some(_)) => format!("http://livecov-harvester:{HARVESTER_PORT}/"),
                (None, None) => format!("http://host.docker.internal:{HARVESTER_PORT}/"),
            };
            env.insert("LIVECOV_PUSH_URL".to_owned(), url);
            env.insert("LIVECOV_TOKEN_FILE".to_owned(), IN_TOKEN.to_owned());
            env.insert(
                "LIVECOV_PUSH_INTERVAL".to_owned(),
                format!("{}s", (*interval_secs).max(1)),
            );
            env.insert("LIVECOV_SERVE".to_owned(), "0".to_owned());
            for s in &settings.services {
                let mut svc = service_entry(&env, &volumes);
                if on_host {
                    svc["extra_hosts"] = json!(["host.docker.internal:host-gateway"]);
                }
                if image.is_some() {
                    svc["depends_on"] = json!(["livecov-harvester"]);
                }
                overlay_services.insert(s.clone(), svc);
            }
            match image {
                Some(image) => {
                    overlay_services.insert(
                        "livecov-harvester".to_owned(),
                        json!({
                            "image": image,
                            "command": [
                                "livecov", "collect",
                                "--collection", "/collection",
                                "--listen", format!("0.0.0.0:{HARVESTER_PORT}"),
                                "--token-file", IN_TOKEN,
                            ],
                            "volumes": [
                                format!("{}:/collection", mount_path(&base, collection)?),
                                format!("{}:{IN_TOKEN}:ro", mount_path(&base, &token_path)?),
                            ],
                            "stop_grace_period": "30s",
                        }),
                    );
                    next_steps.push(format!("{compose} up -d"));
                    next_steps.push("# … run the tests against the services …".to_owned());
                    next_steps.push(format!(
                        "{compose} stop {}   # the last snapshots are pushed",
                        settings.services.join(" ")
                    ));
                    next_steps.push(format!("{compose} stop livecov-harvester"));
                    next_steps.push(format!(
                        "livecov report --collection {}",
                        collection.display()
                    ));
                }
                None => {
                    next_steps.push(format!(
                        "livecov collect --collection {} --listen 0.0.0.0:{HARVESTER_PORT} --token-file {} &",
                        collection.display(),
                        token_path.display()
                    ));
                    next_steps.push(format!("{compose} up -d"));
                    next_steps.push("# … run the tests against the services …".to_owned());
                    next_steps.push(format!(
                        "{compose} stop {}   # the last snapshots are pushed",
                        settings.services.join(" ")
                    ));
                    next_steps.push(
                        "kill %1   # stops collect --listen, which compiles on the way".to_owned(),
                    );
                    next_steps.push(format!(
                        "livecov report --collection {}",
                        collection.display()
                    ));
                }
            }
        }
        Harvest::Scrape { first_port } => {
            env.insert("COVERAGE_PORT".to_owned(), AGENT_PORT.to_string());
            env.insert("LIVECOV_LISTEN_HOST".to_owned(), "0.0.0.0".to_owned());
            for (i, s) in settings.services.iter().enumerate() {
                let port = u16::try_from(i)
                    .ok()
                    .and_then(|i| first_port.checked_add(i))
                    .context("too many services for the port range")?;
                let mut svc = service_entry(&env, &volumes);
                svc["ports"] = json!([format!("127.0.0.1:{port}:{AGENT_PORT}")]);
                overlay_services.insert(s.clone(), svc);
            }
            next_steps.push(format!("{compose} up -d"));
            next_steps.push(
                "livecov collect --collection livecov-collection --scan 127.0.0.1 --watch 10s"
                    .to_owned(),
            );
        }
    }

    let env_file = settings.dir.join("livecov.env");
    let mut env_text = String::from(
        "# The Python agent's environment (livecov py inject); for docker run --env-file.\n",
    );
    for (k, v) in &env {
        env_text.push_str(&format!("{k}={v}\n"));
    }
    write_file(&env_file, env_text.as_bytes(), true)?;
    files.push(env_file.clone());

    let doc = json!({ "services": Value::Object(overlay_services) });
    let mut yaml = format!(
        "# livecov py inject: turns livecov's Python agent on for {}.\n\
         # Use it over the project's own file: {compose} up -d\n",
        settings.services.join(", ")
    );
    yaml.push_str(&serde_yaml::to_string(&doc).context("writing the overlay as YAML")?);
    write_file(&settings.overlay, yaml.as_bytes(), settings.force)?;
    files.push(settings.overlay.clone());
    Ok(PyInjectSummary {
        files,
        overlay: settings.overlay.clone(),
        env_file,
        env,
        next_steps,
    })
}

fn service_entry(env: &BTreeMap<String, String>, volumes: &[String]) -> Value {
    json!({
        "environment": env,
        "volumes": volumes,
        // Time for the SIGTERM save and the last push.
        "stop_grace_period": "15s",
    })
}

/// `path` as the overlay names it: `./rel` when it lies under the overlay's directory
/// (compose resolves relative paths against the project directory), else absolute.
fn mount_path(base: &Path, path: &Path) -> Result<String> {
    let plain = |p: &Path| {
        p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    };
    if let Ok(rest) = path.strip_prefix(base) {
        if plain(rest) {
            return Ok(format!("./{}", rest.display()));
        }
    }
    if base == Path::new(".") && path.is_relative() && plain(path) {
        return Ok(format!("./{}", path.display()));
    }
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .context("the current directory")?
            .join(path)
    };
    Ok(abs.display().to_string())
}

/// 32 hex digits from the OS's random source.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for the push token")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `bytes` to `path` through a temporary file; an existing file with other
/// content is replaced only with `replace`.
fn write_file(path: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            bail!(
                "{}: is a symbolic link; not writing through it",
                path.display()
            )
        }
        Ok(m) if !m.is_file() => bail!("{}: exists and is not a regular file", path.display()),
        Ok(_) => {
            let current = fs::read(path).with_context(|| format!("{}", path.display()))?;
            if current == bytes {
                return Ok(());
            }
            if !replace {
                bail!(
                    "{}: exists with other content; --force replaces it",
                    path.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".livecov")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_relative_to_the_overlay_when_they_can_be() {
        assert_eq!(
            mount_path(Path::new("."), Path::new("livecov/agent")).unwrap(),
            "./livecov/agent"
        );
        assert_eq!(
            mount_path(Path::new("deploy"), Path::new("deploy/livecov/agent")).unwrap(),
            "./livecov/agent"
        );
        assert_eq!(
            mount_path(Path::new("/srv/app"), Path::new("/srv/app/livecov/token")).unwrap(),
            "./livecov/token"
        );
        assert_eq!(
            mount_path(Path::new("."), Path::new("/opt/site")).unwrap(),
            "/opt/site"
        );
        assert!(mount_path(Path::new("."), Path::new("../x"))
            .unwrap()
            .starts_with('/'));
    }

    #[test]
    fn service_names_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = PyInjectSettings::new(vec!["web; rm -rf /".into()]);
        s.dir = tmp.path().join("livecov");
        s.overlay = tmp.path().join("o.yml");
        let e = inject_py(&s).unwrap_err().to_string();
        assert!(e.contains("not a compose service name"), "{e}");
        s.services.clear();
        assert!(inject_py(&s).is_err());
    }
}
