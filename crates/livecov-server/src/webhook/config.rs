//! The per-repository configuration (`--config FILE`): `defaults`, and `repos.<org/repo>`
//! overrides, in the Prow coverage plugin's YAML shape (seed-system.md section 12) with
//! livecov's additions.
//!
//! ```yaml
//! defaults:
//!   namespace: kubevirt-prow-jobs        # the ProwJob's namespace
//!   cluster: kubevirt-prow-control-plane # the build cluster
//!   image: quay.io/kubevirtci/covreport:v0.1
//!   coverageThreshold: 70                # total coverage, percent (0: inherit)
//!   gcs: {bucket: kubevirt-prow, credentialsSecret: gcs, pathStrategy: explicit}
//!   utilityImages: {cloneRefs: …, initUpload: …, entrypoint: …, sidecar: …}
//!   # livecov's additions
//!   paths: ["**/*.go", "**/go.mod"]     # changed files that start a job
//!   patchThreshold: 80                   # patch coverage, percent (none by default)
//!   lateAfterMinutes: 30                 # then an informational status
//! repos:
//!   kubevirt/project-infra:
//!     testPackages: ["./external-plugins/...", "./robots/..."]
//!     coverageThreshold: 25
//! ```
//!
//! As in the plugin, an override replaces a default only where it is set (a threshold of
//! 0 is "not set"), and `env` is replaced as a whole. A repository that is not under
//! `repos` is not handled. Unknown keys are errors, so a typo does not silently fall back
//! to a default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Not the YAML this module expects; the parser's message names line and column.
    #[error("{}: {error}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The YAML error, with its location.
        error: serde_yaml::Error,
    },
    /// Parsed, but a value is missing or out of range.
    #[error("{}: {key}: {why}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where in the file: `defaults.image`, `repos.org/repo.testPackages`.
        key: String,
        /// What was expected.
        why: String,
    },
}

/// The settings of one repository, or the defaults: every field optional, so that an
/// override can leave it to the defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RepoSettings {
    /// Namespace of the ProwJob.
    pub namespace: Option<String>,
    /// Container image of the job.
    pub image: Option<String>,
    /// Prow build cluster of the job.
    pub cluster: Option<String>,
    /// Go packages (or other test selectors) the job tests.
    pub test_packages: Vec<String>,
    /// Minimum total coverage, percent; 0 means "inherit".
    pub coverage_threshold: Option<f64>,
    /// Minimum patch coverage (changed executable lines), percent.
    pub patch_threshold: Option<f64>,
    /// Secret holding the GitHub token the job's script uses.
    pub github_token_secret: Option<String>,
    /// The job's timeout.
    pub timeout_minutes: Option<u64>,
    /// Grace period after the timeout.
    pub grace_period_seconds: Option<u64>,
    /// Environment of the job (replaced as a whole by an override).
    pub env: Option<BTreeMap<String, String>>,
    /// Artifact upload.
    pub gcs: Option<Gcs>,
    /// Prow's pod utilities.
    pub utility_images: Option<UtilityImages>,
    /// Globs of changed files that start a job (gitignore-less globs, `**` across
    /// directories). Default: Go sources and module files, as the plugin.
    pub paths: Vec<String>,
    /// The commit-status context. Default `coverage-auto`, the plugin's.
    pub context: Option<String>,
    /// Author associations whose `/coverage` comment starts a job.
    /// Default: OWNER, MEMBER, COLLABORATOR.
    pub allowed_associations: Vec<String>,
    /// A job without a result after this many minutes (fractions allowed) gets an
    /// informational status. Default 30.
    pub late_after_minutes: Option<f64>,
    /// The report link; `{org}`, `{repo}`, `{pr}`, `{job}`, `{build}`, `{sha}` and
    /// `{bucket}` are replaced. Default: Prow's Spyglass page of the job.
    pub report_url: Option<String>,
    /// Local runner: the test command (`sh -c`), run in the checkout with `ARTIFACTS`,
    /// `COVERAGE_PROFILE` and `TEST_PACKAGES` set; it writes a Go text profile to
    /// `$COVERAGE_PROFILE`.
    pub test_command: Option<String>,
    /// ProwJob runner: the container's command. Default: the plugin's.
    pub command: Vec<String>,
    /// ProwJob runner: the container's args before the test packages. Default: the
    /// plugin's script.
    pub args: Vec<String>,
}

/// The `gcs` block.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Gcs {
    /// The bucket.
    pub bucket: Option<String>,
    /// The secret with the upload credentials.
    pub credentials_secret: Option<String>,
    /// Prow's path strategy (`explicit` by default).
    pub path_strategy: Option<String>,
}

/// The `utilityImages` block (Prow's decoration images).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct UtilityImages {
    /// clonerefs.
    pub clone_refs: Option<String>,
    /// initupload.
    pub init_upload: Option<String>,
    /// entrypoint.
    pub entrypoint: Option<String>,
    /// sidecar.
    pub sidecar: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct File {
    defaults: RepoSettings,
    repos: BTreeMap<String, RepoSettings>,
}

/// The whole configuration: defaults and the configured repositories.
#[derive(Debug, Clone, Default)]
pub struct Config {
    defaults: RepoSettings,
    repos: BTreeMap<String, RepoSettings>,
}

/// One repository's settings after the override is applied, with the defaults of the
/// plugin filled in.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `org/repo`.
    pub repo: String,
    /// The settings, every default applied.
    pub settings: RepoSettings,
    /// Total-coverage threshold (plugin default 70).
    pub coverage_threshold: f64,
    /// Commit status context.
    pub context: String,
    /// Globs of files that start a job.
    pub paths: globset::GlobSet,
    /// How long before a job counts as late.
    pub late_after: std::time::Duration,
}

/// The plugin's default threshold.
pub const DEFAULT_THRESHOLD: f64 = 70.0;
/// The plugin's status context and job name.
pub const DEFAULT_CONTEXT: &str = "coverage-auto";
/// What starts a job when `paths` is not set: what the plugin's `.go` check sees, plus
/// the module files.
pub const DEFAULT_PATHS: &[&str] = &["**/*.go", "**/go.mod", "**/go.sum"];
/// The associations allowed to ask for `/coverage` when the config says nothing.
pub const DEFAULT_ASSOCIATIONS: &[&str] = &["OWNER", "MEMBER", "COLLABORATOR"];

impl Config {
    /// Reads and checks `path`. `prow` says whether the ProwJob runner will use it, which
    /// makes the plugin's required defaults required. `fallback_packages` (the plugin's
    /// `--coverage-dirs`) are the test packages of repositories that set none.
    pub fn load(
        path: &Path,
        prow: bool,
        fallback_packages: &[String],
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        Config::parse_with(&text, path, prow, fallback_packages)
    }

    /// [`Config::load`] of `text` without fallback packages; `path` is for messages.
    pub fn parse(text: &str, path: &Path, prow: bool) -> Result<Config, ConfigError> {
        Config::parse_with(text, path, prow, &[])
    }

    fn parse_with(
        text: &str,
        path: &Path,
        prow: bool,
        fallback_packages: &[String],
    ) -> Result<Config, ConfigError> {
        let mut file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml::from_str(text).map_err(|error| ConfigError::Parse {
                path: path.to_owned(),
                error,
            })?
        };
        if file.defaults.test_packages.is_empty() {
            file.defaults.test_packages = fallback_packages.to_vec();
        }
        let invalid = |key: String, why: &str| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            why: why.to_owned(),
        };
        if prow {
            let d = &file.defaults;
            let gcs = d.gcs.clone().unwrap_or_default();
            let u = d.utility_images.clone().unwrap_or_default();
            for (key, value) in [
                ("namespace", &d.namespace),
                ("image", &d.image),
                ("cluster", &d.cluster),
                ("gcs.bucket", &gcs.bucket),
                ("gcs.credentialsSecret", &gcs.credentials_secret),
                ("utilityImages.cloneRefs", &u.clone_refs),
                ("utilityImages.initUpload", &u.init_upload),
                ("utilityImages.entrypoint", &u.entrypoint),
                ("utilityImages.sidecar", &u.sidecar),
            ] {
                if value.as_deref().is_none_or(str::is_empty) {
                    return Err(invalid(
                        format!("defaults.{key}"),
                        "required for the ProwJob runner (as in the Prow plugin)",
                    ));
                }
            }
        }
        let mut checks = vec![("defaults".to_owned(), &file.defaults)];
        checks.extend(file.repos.iter().map(|(k, v)| (format!("repos.{k}"), v)));
        for (key, s) in checks {
            for (name, t) in [
                ("coverageThreshold", s.coverage_threshold),
                ("patchThreshold", s.patch_threshold),
            ] {
                if t.is_some_and(|t| !(0.0..=100.0).contains(&t)) {
                    return Err(invalid(format!("{key}.{name}"), "a percent from 0 to 100"));
                }
            }
            if s.late_after_minutes.is_some_and(|m| !(m > 0.0 && m < 1e6)) {
                return Err(invalid(
                    format!("{key}.lateAfterMinutes"),
                    "a number of minutes above 0",
                ));
            }
            for glob in &s.paths {
                if let Err(e) = globset::Glob::new(glob) {
                    return Err(invalid(format!("{key}.paths"), &e.to_string()));
                }
            }
        }
        for (repo, s) in &file.repos {
            if repo.split('/').count() != 2 || repo.starts_with('/') || repo.ends_with('/') {
                return Err(invalid(
                    format!("repos.{repo}"),
                    "a key of the form org/repo",
                ));
            }
            if s.test_packages.is_empty() && file.defaults.test_packages.is_empty() {
                return Err(invalid(
                    format!("repos.{repo}.testPackages"),
                    "at least one test package (the plugin requires it per repository)",
                ));
            }
        }
        Ok(Config {
            defaults: file.defaults,
            repos: file.repos,
        })
    }

    /// The configured repositories.
    pub fn repos(&self) -> impl Iterator<Item = &str> {
        self.repos.keys().map(String::as_str)
    }

    /// `org/repo`'s settings, or `None` when it is not configured. The key is compared
    /// without regard to case, as GitHub names are.
    pub fn resolve(&self, repo: &str) -> Option<Resolved> {
        let (key, over) = self
            .repos
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(repo))?;
        let s = merge(&self.defaults, over);
        let globs: Vec<&str> = if s.paths.is_empty() {
            DEFAULT_PATHS.to_vec()
        } else {
            s.paths.iter().map(String::as_str).collect()
        };
        let mut set = globset::GlobSetBuilder::new();
        for g in globs {
            // Checked in parse; the defaults are valid.
            if let Ok(glob) = globset::GlobBuilder::new(g).literal_separator(true).build() {
                set.add(glob);
            }
        }
        Some(Resolved {
            repo: key.clone(),
            coverage_threshold: s
                .coverage_threshold
                .filter(|t| *t > 0.0)
                .unwrap_or(DEFAULT_THRESHOLD),
            context: s
                .context
                .clone()
                .unwrap_or_else(|| DEFAULT_CONTEXT.to_owned()),
            paths: set.build().unwrap_or_else(|_| globset::GlobSet::empty()),
            late_after: std::time::Duration::from_secs_f64(
                60.0 * s.late_after_minutes.unwrap_or(30.0),
            ),
            settings: s,
        })
    }
}

impl Resolved {
    /// Whether `/coverage` from an author with this association starts a job.
    pub fn allows(&self, association: &str) -> bool {
        if self.settings.allowed_associations.is_empty() {
            DEFAULT_ASSOCIATIONS.contains(&association)
        } else {
            self.settings
                .allowed_associations
                .iter()
                .any(|a| a.eq_ignore_ascii_case(association))
        }
    }
}

/// `over` on top of `base`: set fields win, a threshold of 0 inherits, `env` whole.
fn merge(base: &RepoSettings, over: &RepoSettings) -> RepoSettings {
    fn pick<T: Clone>(over: &Option<T>, base: &Option<T>) -> Option<T> {
        over.clone().or_else(|| base.clone())
    }
    fn list(over: &[String], base: &[String]) -> Vec<String> {
        if over.is_empty() { base } else { over }.to_vec()
    }
    let threshold = |o: Option<f64>, b: Option<f64>| o.filter(|t| *t > 0.0).or(b);
    let gcs = match (&over.gcs, &base.gcs) {
        (Some(o), Some(b)) => Some(Gcs {
            bucket: pick(&o.bucket, &b.bucket),
            credentials_secret: pick(&o.credentials_secret, &b.credentials_secret),
            path_strategy: pick(&o.path_strategy, &b.path_strategy),
        }),
        (o, b) => pick(o, b),
    };
    let utility_images = match (&over.utility_images, &base.utility_images) {
        (Some(o), Some(b)) => Some(UtilityImages {
            clone_refs: pick(&o.clone_refs, &b.clone_refs),
            init_upload: pick(&o.init_upload, &b.init_upload),
            entrypoint: pick(&o.entrypoint, &b.entrypoint),
            sidecar: pick(&o.sidecar, &b.sidecar),
        }),
        (o, b) => pick(o, b),
    };
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    RepoSettings {
        namespace: nonempty(&over.namespace).or_else(|| base.namespace.clone()),
        image: nonempty(&over.image).or_else(|| base.image.clone()),
        cluster: nonempty(&over.cluster).or_else(|| base.cluster.clone()),
        test_packages: list(&over.test_packages, &base.test_packages),
        coverage_threshold: threshold(over.coverage_threshold, base.coverage_threshold),
        patch_threshold: threshold(over.patch_threshold, base.patch_threshold),
        github_token_secret: pick(&over.github_token_secret, &base.github_token_secret),
        timeout_minutes: pick(&over.timeout_minutes, &base.timeout_minutes),
        grace_period_seconds: pick(&over.grace_period_seconds, &base.grace_period_seconds),
        env: pick(&over.env, &base.env),
        gcs,
        utility_images,
        paths: list(&over.paths, &base.paths),
        context: pick(&over.context, &base.context),
        allowed_associations: list(&over.allowed_associations, &base.allowed_associations),
        late_after_minutes: pick(&over.late_after_minutes, &base.late_after_minutes),
        report_url: pick(&over.report_url, &base.report_url),
        test_command: pick(&over.test_command, &base.test_command),
        command: list(&over.command, &base.command),
        args: list(&over.args, &base.args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLUGIN: &str = "\
defaults:
  namespace: kubevirt-prow-jobs
  image: quay.io/kubevirtci/covreport:v1
  cluster: kubevirt-prow-control-plane
  coverageThreshold: 70
  env: {GIMME_GO_VERSION: '1.25.1', A: b}
  gcs: {bucket: kubevirt-prow, credentialsSecret: gcs, pathStrategy: explicit}
  utilityImages: {cloneRefs: c, initUpload: i, entrypoint: e, sidecar: s}
repos:
  kubevirt/project-infra:
    testPackages: ['./external-plugins/...', './robots/...']
    coverageThreshold: 25
    env: {ONLY: this}
  kubevirt/ci-health:
    testPackages: ['./pkg/...', './cmd/...']
    coverageThreshold: 0
    image: ''
";

    fn load(text: &str, prow: bool) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("config.yaml"), prow)
    }

    #[test]
    fn overrides_replace_only_what_they_set_and_env_whole() {
        let config = load(PLUGIN, true).unwrap();
        let pi = config.resolve("kubevirt/project-infra").unwrap();
        assert_eq!(pi.coverage_threshold, 25.0);
        assert_eq!(
            pi.settings.image.as_deref(),
            Some("quay.io/kubevirtci/covreport:v1")
        );
        assert_eq!(
            pi.settings.env,
            Some(BTreeMap::from([("ONLY".to_owned(), "this".to_owned())]))
        );
        let ch = config.resolve("KubeVirt/CI-Health").unwrap();
        assert_eq!(ch.repo, "kubevirt/ci-health");
        assert_eq!(ch.coverage_threshold, 70.0, "0 inherits the default");
        assert_eq!(
            ch.settings.image.as_deref(),
            Some("quay.io/kubevirtci/covreport:v1")
        );
        assert_eq!(ch.settings.env.as_ref().map(|e| e.len()), Some(2));
        assert_eq!(ch.context, "coverage-auto");
        assert!(config.resolve("kubevirt/kubevirt").is_none());
    }

    #[test]
    fn default_paths_are_go_files_and_module_files() {
        let config = load(PLUGIN, true).unwrap();
        let r = config.resolve("kubevirt/project-infra").unwrap();
        assert!(r.paths.is_match("main.go"));
        assert!(r.paths.is_match("pkg/a/b.go"));
        assert!(r.paths.is_match("go.mod"));
        assert!(!r.paths.is_match("README.md"));
        assert!(!r.paths.is_match("docs/x.gox"));
    }

    #[test]
    fn associations_default_to_owners_members_collaborators() {
        let config = load(PLUGIN, false).unwrap();
        let r = config.resolve("kubevirt/project-infra").unwrap();
        assert!(r.allows("MEMBER"));
        assert!(!r.allows("CONTRIBUTOR"));
        assert!(!r.allows("NONE"));
    }

    #[test]
    fn errors_name_the_key_and_what_was_expected() {
        let no_image = PLUGIN.replace("  image: quay.io/kubevirtci/covreport:v1\n", "");
        let e = load(&no_image, true).unwrap_err().to_string();
        assert_eq!(
            e,
            "config.yaml: defaults.image: required for the ProwJob runner (as in the Prow plugin)"
        );
        assert!(
            load(&no_image, false).is_ok(),
            "the local runner needs no image"
        );
        let e = load("repos:\n  a/b:\n    coverageThreshold: 20\n", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("repos.a/b.testPackages: at least one test package"),
            "{e}"
        );
        let e = load(
            "repos:\n  a/b:\n    testPackages: [x]\n    coverageThreshold: 120\n",
            false,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "config.yaml: repos.a/b.coverageThreshold: a percent from 0 to 100"
        );
        let e = load("defaults:\n  imagee: x\n", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config.yaml: defaults: unknown field `imagee`"),
            "{e}"
        );
        assert!(e.contains("line 2"), "{e}");
        let e = load("repos:\n  ab:\n    testPackages: [x]\n", false)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "config.yaml: repos.ab: a key of the form org/repo");
    }
}
