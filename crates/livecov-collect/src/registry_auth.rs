//! Registry credentials from the auth files docker and podman write.
//!
//! Format (`containers-auth.json(5)`, docker's `config.json`):
//! `{"auths": {"<host[:port]>": {"auth": "<base64 of user:password>"}}}`, or an entry with
//! `"username"` and `"password"`. Docker writes Docker Hub as `https://index.docker.io/v1/`;
//! a scheme and a `/v1/` or `/v2/` path are ignored, and Docker Hub's hosts are one registry,
//! `docker.io`, as in [`crate::registry::ImageRef::registry`]. Entries without credentials
//! (docker's `{}` when a credential helper holds them) and entries scoped to a repository
//! namespace (`quay.io/org`) are not used: lookups are by registry host only.
//!
//! Search order ([`RegistryAuth::discover`]): the file given by the caller
//! (`--registry-auth-file`), `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`). A host's credentials come
//! from the first file that has them; a file named by the caller or by `REGISTRY_AUTH_FILE`
//! must exist, the others are skipped when absent. Errors name the file and the entry,
//! never a secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use crate::registry::Credentials;

/// An auth file that cannot be used. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    /// The file could not be read.
    #[error("registry auth file {}: cannot read it: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not JSON, or not shaped like an auth file.
    #[error("registry auth file {}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong (positions only, no values).
        reason: String,
    },
    /// One entry of `auths` is unusable.
    #[error("registry auth file {}: entry {key:?}: {reason}", path.display())]
    Entry {
        /// The file.
        path: PathBuf,
        /// The entry's key (a registry).
        key: String,
        /// What is wrong (never the secret).
        reason: String,
    },
}

/// The credentials of one auth file, by registry host.
#[derive(Clone, Debug)]
pub struct AuthFile {
    path: PathBuf,
    hosts: BTreeMap<String, Credentials>,
}

impl AuthFile {
    /// Reads and parses the file.
    pub fn read(path: &Path) -> Result<AuthFile, AuthFileError> {
        let bytes = std::fs::read(path).map_err(|error| AuthFileError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        AuthFile::parse(path, &bytes)
    }

    /// Parses the bytes of the file at `path` (named in errors).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<AuthFile, AuthFileError> {
        let format = |reason: String| AuthFileError::Format {
            path: path.to_path_buf(),
            reason,
        };
        // Through `Value`, so that no error message quotes a value of the file.
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
            format(format!(
                "not valid JSON at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(doc) = doc else {
            return Err(format("not a JSON object".into()));
        };
        let mut hosts = BTreeMap::new();
        let auths = match doc.get("auths") {
            None | Some(Value::Null) => {
                return Ok(AuthFile {
                    path: path.into(),
                    hosts,
                })
            }
            Some(Value::Object(auths)) => auths,
            Some(_) => return Err(format("\"auths\" is not an object".into())),
        };
        for (key, entry) in auths {
            let entry_err = |reason: &str| AuthFileError::Entry {
                path: path.to_path_buf(),
                key: key.clone(),
                reason: reason.to_string(),
            };
            let Value::Object(entry) = entry else {
                return Err(entry_err("not an object"));
            };
            let string = |field: &str| match entry.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(entry_err(&format!("\"{field}\" is not a string"))),
            };
            let credentials = match (string("auth")?, string("username")?, string("password")?) {
                (Some(auth), _, _) => Some(decode_auth(auth).map_err(|r| entry_err(&r))?),
                (None, Some(user), Some(password)) => Some(Credentials::new(user, password)),
                (None, Some(_), None) => {
                    return Err(entry_err("has \"username\" but no \"password\""))
                }
                (None, None, Some(_)) => {
                    return Err(entry_err("has \"password\" but no \"username\""))
                }
                (None, None, None) => None,
            };
            if let (Some(host), Some(credentials)) = (registry_host(key), credentials) {
                hosts.entry(host).or_insert(credentials);
            }
        }
        Ok(AuthFile {
            path: path.into(),
            hosts,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The credentials for a registry `host[:port]` (as in
    /// [`crate::registry::ImageRef::registry`]), if the file has them.
    pub fn credentials(&self, registry: &str) -> Option<&Credentials> {
        self.hosts.get(&registry_host(registry)?)
    }
}

/// `auth`: base64 of `user:password` (standard alphabet, padding optional).
fn decode_auth(auth: &str) -> Result<Credentials, String> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(auth.trim())
        .map_err(|_| "\"auth\" is not valid base64".to_string())?;
    let text = String::from_utf8(bytes)
        .map_err(|_| "\"auth\" does not decode to UTF-8 text".to_string())?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| "\"auth\" does not decode to user:password (no colon)".to_string())?;
    if user.is_empty() {
        return Err("\"auth\" decodes to an empty user name".into());
    }
    Ok(Credentials::new(user, password))
}

/// The registry an `auths` key or an image's registry names, in the form
/// [`crate::registry::ImageRef::registry`] uses; `None` for keys scoped to a namespace.
fn registry_host(key: &str) -> Option<String> {
    let key = key.trim();
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let (host, path) = key.split_once('/').unwrap_or((key, ""));
    if !matches!(path.trim_end_matches('/'), "" | "v1" | "v2") || host.is_empty() {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => host,
    })
}

/// The auth files found, in search order.
#[derive(Clone, Debug, Default)]
pub struct RegistryAuth {
    files: Vec<AuthFile>,
}

impl RegistryAuth {
    /// Reads the auth files in the search order of the module docs: `explicit`, then the
    /// environment's. A file named by `explicit` or `REGISTRY_AUTH_FILE` must exist.
    pub fn discover(explicit: Option<&Path>) -> Result<RegistryAuth, AuthFileError> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let docker = env("DOCKER_CONFIG")
            .or_else(|| env("HOME").map(|h| h.join(".docker")))
            .map(|d| d.join("config.json"));
        let required = [explicit.map(Path::to_path_buf), env("REGISTRY_AUTH_FILE")];
        let optional = [
            env("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")),
            docker,
        ];
        let mut files = Vec::new();
        for path in required.into_iter().flatten() {
            files.push(AuthFile::read(&path)?);
        }
        for path in optional.into_iter().flatten() {
            if path.is_file() {
                files.push(AuthFile::read(&path)?);
            }
        }
        Ok(RegistryAuth { files })
    }

    /// Auth files in search order (for tests and callers that know their files).
    pub fn from_files(files: Vec<AuthFile>) -> RegistryAuth {
        RegistryAuth { files }
    }

    /// The files read, in search order.
    pub fn files(&self) -> &[AuthFile] {
        &self.files
    }

    /// The credentials for a registry from the first file that has them.
    pub fn credentials(&self, registry: &str) -> Option<(&Credentials, &Path)> {
        self.files
            .iter()
            .find_map(|f| Some((f.credentials(registry)?, f.path())))
    }

    /// Every registry with credentials, the credentials that apply to it and their file
    /// (the first that has the registry), sorted by registry.
    pub fn all(&self) -> BTreeMap<&str, (&Credentials, &Path)> {
        let mut all = BTreeMap::new();
        for file in &self.files {
            for (host, credentials) in &file.hosts {
                all.entry(host.as_str())
                    .or_insert((credentials, file.path()));
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn parse(json: &str) -> Result<AuthFile, AuthFileError> {
        AuthFile::parse(Path::new("/run/auth.json"), json.as_bytes())
    }

    fn auth(user_pass: &str) -> String {
        STANDARD.encode(user_pass)
    }

    #[test]
    fn auth_and_username_password_entries_by_host() {
        let f = parse(&format!(
            r#"{{"auths": {{
                "quay.io": {{"auth": "{}"}},
                "127.0.0.1:5000": {{"username": "ci", "password": "p:w"}},
                "https://index.docker.io/v1/": {{"auth": "{}", "email": "x@y"}},
                "https://Registry.Example.com/v2/": {{"auth": "{}"}}
            }}, "credsStore": "desktop"}}"#,
            auth("robot+ci:s3cr3t:with:colons"),
            auth("hub:hubpw"),
            auth("ex:expw")
        ))
        .unwrap();
        assert_eq!(
            f.credentials("quay.io"),
            Some(&Credentials::new("robot+ci", "s3cr3t:with:colons"))
        );
        assert_eq!(
            f.credentials("127.0.0.1:5000"),
            Some(&Credentials::new("ci", "p:w"))
        );
        assert_eq!(f.credentials("127.0.0.1:5001"), None);
        assert_eq!(
            f.credentials("docker.io"),
            Some(&Credentials::new("hub", "hubpw"))
        );
        assert_eq!(
            f.credentials("registry.example.com"),
            Some(&Credentials::new("ex", "expw"))
        );
    }

    #[test]
    fn unpadded_base64_and_empty_entries_and_namespaced_keys() {
        let unpadded = auth("ab:c").trim_end_matches('=').to_string();
        let f = parse(&format!(
            r#"{{"auths": {{"a.io": {{"auth": "{unpadded}"}}, "b.io": {{}},
                "c.io/org": {{"auth": "{}"}}, "d.io": {{"auth": ""}}}}}}"#,
            auth("u:p")
        ))
        .unwrap();
        assert_eq!(f.credentials("a.io"), Some(&Credentials::new("ab", "c")));
        assert_eq!(f.credentials("b.io"), None);
        assert_eq!(f.credentials("c.io"), None);
        assert_eq!(f.credentials("d.io"), None);
        assert!(parse("{}").unwrap().hosts.is_empty());
    }

    #[test]
    fn errors_name_the_file_and_entry_and_never_the_secret() {
        let cases = [
            ("{\"auths\": {", "registry auth file /run/auth.json: not valid JSON at line 1 column 11"),
            ("[]", "registry auth file /run/auth.json: not a JSON object"),
            (r#"{"auths": []}"#, "registry auth file /run/auth.json: \"auths\" is not an object"),
            (
                r#"{"auths": {"q.io": "hunter2"}}"#,
                "registry auth file /run/auth.json: entry \"q.io\": not an object",
            ),
            (
                r#"{"auths": {"q.io": {"auth": "hunter2!!"}}}"#,
                "registry auth file /run/auth.json: entry \"q.io\": \"auth\" is not valid base64",
            ),
            (
                r#"{"auths": {"q.io": {"auth": 7}}}"#,
                "registry auth file /run/auth.json: entry \"q.io\": \"auth\" is not a string",
            ),
            (
                r#"{"auths": {"q.io": {"username": "u"}}}"#,
                "registry auth file /run/auth.json: entry \"q.io\": has \"username\" but no \"password\"",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(parse(json).unwrap_err().to_string(), want, "{json}");
        }
        let no_colon = format!(
            r#"{{"auths": {{"q.io": {{"auth": "{}"}}}}}}"#,
            auth("hunter2")
        );
        let msg = parse(&no_colon).unwrap_err().to_string();
        assert_eq!(
            msg,
            "registry auth file /run/auth.json: entry \"q.io\": \"auth\" does not decode to \
             user:password (no colon)"
        );
        assert!(!msg.contains("hunter2") && !msg.contains(&auth("hunter2")));
        // A JSON syntax error after a secret does not quote it.
        let msg = parse(r#"{"auths": {"q.io": {"password": "hunter2" "#)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn the_first_file_with_a_host_wins_and_missing_required_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.json");
        let second = dir.path().join("second.json");
        std::fs::write(
            &first,
            format!(
                r#"{{"auths": {{"a.io": {{"auth": "{}"}}}}}}"#,
                auth("one:1")
            ),
        )
        .unwrap();
        std::fs::write(
            &second,
            format!(
                r#"{{"auths": {{"a.io": {{"auth": "{}"}}, "b.io": {{"auth": "{}"}}}}}}"#,
                auth("two:2"),
                auth("two:b")
            ),
        )
        .unwrap();
        let auth = RegistryAuth::from_files(vec![
            AuthFile::read(&first).unwrap(),
            AuthFile::read(&second).unwrap(),
        ]);
        let (c, from) = auth.credentials("a.io").unwrap();
        assert_eq!((c, from), (&Credentials::new("one", "1"), first.as_path()));
        assert_eq!(
            auth.credentials("b.io").unwrap().0,
            &Credentials::new("two", "b")
        );
        assert_eq!(auth.credentials("c.io"), None);
        assert_eq!(
            auth.all()
                .into_iter()
                .map(|(h, (c, _))| (h, c.username.as_str()))
                .collect::<Vec<_>>(),
            [("a.io", "one"), ("b.io", "two")]
        );

        let missing = dir.path().join("absent.json");
        let e = RegistryAuth::discover(Some(&missing))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "registry auth file {}: cannot read it: ",
                missing.display()
            )),
            "{e}"
        );
    }
}
