//! `livecov export --format codecov --upload`: the older tool's `cluster codecov-upload`,
//! speaking Codecov's upload API itself instead of downloading and running its CLI.
//!
//! Spec: `../shared/specs/seed-system.md` §2.6 and §9 (flags, grouping by repo@commit,
//! slug and git service from the URL, `--source-org`, dry run, failures not fatal) and
//! `formats.md` §5 (what Codecov reads). Protocol: Codecov's v4 upload endpoint as its
//! uploaders use it — `POST <url>/upload/v4?package=…&commit=…&slug=…&flags=…` answered
//! with two lines (the result page, then a pre-signed storage URL), then `PUT` of the
//! report to that URL.
//!
//! Differences from the older tool, on purpose: the token travels only in the
//! `X-Upload-Token` header (never on a command line, in a URL or in a log line; the older
//! tool put it on the CLI's argv), and it is not needed for a dry run; nothing is
//! downloaded; paths are made repo-relative by the same mapping as every export.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use livecov_model::Severity;
use livecov_store::OwnerRow;

use crate::export::{globs, ExportSource, PathStyle, Selection};
use crate::Reporter;

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token read from a file or the environment (surrounding whitespace dropped).
    pub fn new(token: &str) -> Result<Token> {
        let t = token.trim();
        if t.is_empty() || t.chars().any(|c| c.is_control() || c == ' ') {
            bail!("the Codecov token is empty or holds spaces or control characters");
        }
        Ok(Token(t.to_owned()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// What [`upload`] needs.
#[derive(Clone, Debug)]
pub struct UploadSettings {
    /// The compiled collection.
    pub collection: PathBuf,
    /// The git cache of `clone-sources` (default: `<collection>/sources`).
    pub sources: Option<PathBuf>,
    /// The upload token; required unless `dry_run`.
    pub token: Option<Token>,
    /// Codecov's base URL (self-hosted instances have their own).
    pub codecov_url: String,
    /// Overrides the slug of every upload (default: from each repository URL).
    pub slug: Option<String>,
    /// Flags of every upload.
    pub flags: Vec<String>,
    /// Namespace globs (empty: all), ORed.
    pub namespaces: Vec<String>,
    /// Owner globs (empty: all), ORed; ANDed with the namespaces.
    pub owners: Vec<String>,
    /// Globs on the org part of the slug (empty: all), ORed.
    pub source_orgs: Vec<String>,
    /// Say what would be uploaded; send nothing.
    pub dry_run: bool,
    /// The store of the collection (default: `<collection>/livecov.db`).
    pub store: crate::StoreChoice,
}

impl UploadSettings {
    /// The defaults of `cluster codecov-upload`: codecov.io, flag `openshift-e2e`, every
    /// owner, a real upload (which needs a token).
    pub fn new(collection: impl Into<PathBuf>) -> UploadSettings {
        UploadSettings {
            collection: collection.into(),
            sources: None,
            token: None,
            codecov_url: "https://codecov.io".to_owned(),
            slug: None,
            flags: vec!["openshift-e2e".to_owned()],
            namespaces: Vec::new(),
            owners: Vec::new(),
            source_orgs: Vec::new(),
            dry_run: false,
            store: crate::StoreChoice::default(),
        }
    }
}

/// What became of one repo@commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Dry run: nothing sent.
    DryRun,
    /// Uploaded; Codecov's page for the commit.
    Uploaded(String),
    /// The upload failed (the others still ran).
    Failed(String),
}

/// One upload: a repository at a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadGroup {
    /// Repository URL as the image source records it.
    pub repo: String,
    /// Commit as recorded.
    pub commit: String,
    /// `org/repo`.
    pub slug: String,
    /// `github`, `gitlab`, `bitbucket` or `github_enterprise`, from the host.
    pub service: String,
    /// Owner groups merged into it.
    pub owners: usize,
    /// Files in the report.
    pub files: usize,
    /// Executable lines in the report.
    pub lines: u64,
    /// Bytes of the report.
    pub bytes: usize,
    /// What happened.
    pub outcome: Outcome,
}

/// What [`upload`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadSummary {
    /// One entry per repo@commit, sorted by repository and commit.
    pub groups: Vec<UploadGroup>,
    /// Owner groups left out because no repo@commit is known for their build.
    pub without_source: usize,
    /// Repositories left out by `--source-org`.
    pub filtered_orgs: usize,
}

impl UploadSummary {
    /// Uploads that succeeded.
    pub fn uploaded(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Uploaded(_)))
    }

    /// Uploads that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.groups.iter().filter(|g| f(&g.outcome)).count()
    }
}

/// Uploads the selected owners' coverage to Codecov, one report per repo@commit.
pub fn upload(settings: &UploadSettings, reporter: &dyn Reporter) -> Result<UploadSummary> {
    if !settings.dry_run && settings.token.is_none() {
        bail!(
            "no Codecov token: give --token-file FILE or set CODECOV_TOKEN (a token is never \
             taken from the command line)"
        );
    }
    let base = settings.codecov_url.trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        bail!("--codecov-url {base:?}: expected an http:// or https:// URL");
    }
    let orgs = globs(&settings.source_orgs, "--source-org")?;
    let source = ExportSource::open(
        &settings.collection,
        &settings.store,
        settings.sources.clone(),
        reporter,
    )?;
    let chosen = source.select(&Selection::owners(&settings.namespaces, &settings.owners))?;

    let mut summary = UploadSummary::default();
    // (repo, commit) → build → owners.
    let mut groups: BTreeMap<(String, String), BTreeMap<i64, Vec<&OwnerRow>>> = BTreeMap::new();
    for (build, owners) in chosen {
        let (repo, commit) = source.origin(build);
        if repo.is_empty() || commit.is_empty() {
            summary.without_source += owners.len();
            continue;
        }
        groups
            .entry((repo.to_owned(), commit.to_owned()))
            .or_default()
            .insert(build, owners);
    }
    if summary.without_source > 0 {
        reporter.diagnostic(
            Severity::Warning,
            &format!(
                "{} owner groups have no known repo@commit (no image source); they are not \
                 uploaded (`livecov cluster images` resolves image sources)",
                summary.without_source
            ),
        );
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .user_agent(concat!("livecov/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;

    for ((repo, commit), builds) in &groups {
        let key = livecov_source::RemoteKey::parse(repo).ok();
        let slug = match (&settings.slug, &key) {
            (Some(s), _) => s.clone(),
            (None, Some(k)) if k.path().contains('/') => slug_of(&k.path()),
            (None, _) => {
                reporter.diagnostic(
                    Severity::Warning,
                    &format!(
                        "{repo}: not a repository URL livecov can read a slug from; give --slug"
                    ),
                );
                continue;
            }
        };
        let org = slug.split('/').next().unwrap_or_default();
        if orgs.as_ref().is_some_and(|g| !g.is_match(org)) {
            summary.filtered_orgs += 1;
            continue;
        }
        let service = git_service(key.as_ref().map_or("", |k| k.host())).to_owned();
        let chosen: Vec<(i64, Vec<&OwnerRow>)> =
            builds.iter().map(|(b, o)| (*b, o.clone())).collect();
        let (profile, _) = source.profile(&chosen, PathStyle::Repo, reporter)?;
        let body = upload_file(&profile)?;
        let lines = profile
            .files()
            .map(|f| profile.line_hits(f).len() as u64)
            .sum();
        let mut group = UploadGroup {
            repo: repo.clone(),
            commit: commit.clone(),
            slug: slug.clone(),
            service,
            owners: builds.values().map(Vec::len).sum(),
            files: profile.files().count(),
            lines,
            bytes: body.len(),
            outcome: Outcome::DryRun,
        };
        if !settings.dry_run {
            let token = settings.token.as_ref().map(|t| t.0.as_str()).unwrap_or("");
            group.outcome = match runtime.block_on(send(
                &client,
                base,
                token,
                commit,
                &slug,
                &settings.flags,
                body,
            )) {
                Ok(url) => Outcome::Uploaded(url),
                Err(e) => {
                    let e = format!("{e:#}").replace(token, "***");
                    reporter.diagnostic(
                        Severity::Error,
                        &format!("codecov upload of {slug}@{commit} failed: {e}"),
                    );
                    Outcome::Failed(e)
                }
            };
        }
        summary.groups.push(group);
    }
    Ok(summary)
}

/// `org/repo`: the first two segments of the repository path.
fn slug_of(path: &str) -> String {
    path.split('/').take(2).collect::<Vec<_>>().join("/")
}

/// The git service Codecov should look the slug up in, from the host.
fn git_service(host: &str) -> &'static str {
    if host.contains("github.com") {
        "github"
    } else if host.contains("gitlab") {
        "gitlab"
    } else if host.contains("bitbucket") {
        "bitbucket"
    } else {
        "github_enterprise"
    }
}

/// The upload body Codecov's uploaders send: the file list (`<<<<<< network`), then each
/// report as `# path=<name>` + its text + `<<<<<< EOF`.
fn upload_file(profile: &livecov_model::Profile) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut files: Vec<&str> = profile.files().collect();
    files.sort_unstable();
    for f in files {
        body.extend_from_slice(f.as_bytes());
        body.push(b'\n');
    }
    body.extend_from_slice(b"<<<<<< network\n# path=livecov-codecov.json\n");
    livecov_formats::codecov::write(profile, &mut body)?;
    body.extend_from_slice(b"<<<<<< EOF\n");
    Ok(body)
}

/// POST, then PUT the report to the storage URL the POST answered; the result page.
async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    commit: &str,
    slug: &str,
    flags: &[String],
    body: Vec<u8>,
) -> Result<String> {
    let flags = flags.join(",");
    let package = concat!("livecov-", env!("CARGO_PKG_VERSION"));
    let url = format!("{base}/upload/v4");
    let response = client
        .post(&url)
        .query(&[
            ("package", package),
            ("commit", commit),
            ("slug", slug),
            ("flags", flags.as_str()),
        ])
        .header("X-Upload-Token", token)
        .header("X-Reduced-Redundancy", "false")
        .header("Accept", "text/plain")
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("POST {url}: {status}: {}", text.trim());
    }
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(result), Some(put)) = (lines.next(), lines.next()) else {
        bail!("POST {url}: expected two lines (result URL, storage URL), got {text:?}");
    };
    if !(put.starts_with("https://") || put.starts_with("http://")) {
        bail!("POST {url}: the storage URL {put:?} is not an http(s) URL");
    }
    let response = client
        .put(put)
        .header("Content-Type", "text/plain")
        .body(body)
        .send()
        .await
        .context("PUT of the report to Codecov's storage URL")?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        bail!("PUT of the report: {status}: {}", text.trim());
    }
    Ok(result.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_services_come_from_the_url() {
        assert_eq!(slug_of("openshift/origin"), "openshift/origin");
        assert_eq!(slug_of("group/sub/project"), "group/sub");
        assert_eq!(git_service("github.com"), "github");
        assert_eq!(git_service("gitlab.cee.example.com"), "gitlab");
        assert_eq!(git_service("bitbucket.org"), "bitbucket");
        assert_eq!(git_service("git.example.com"), "github_enterprise");
    }

    #[test]
    fn tokens_never_print() {
        let t = Token::new(" s3cr3t\n").unwrap();
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert_eq!(t.0, "s3cr3t");
        assert!(Token::new("  ").is_err());
        assert!(Token::new("a b").is_err());
    }
}
