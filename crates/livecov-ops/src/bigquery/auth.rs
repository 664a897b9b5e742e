//! Application Default Credentials, as Google's client libraries find them:
//! `GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's
//! `application_default_credentials.json`, then the metadata server of a GCP machine.
//! Service accounts sign a JWT (RS256) and trade it for an access token at the key's
//! `token_uri`; gcloud user credentials trade their refresh token. Secrets never print:
//! [`Credentials`]'s `Debug` shows the kind and the file only.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use serde::Deserialize;

/// The OAuth scope of every call.
const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";
/// Where tokens are traded when a credentials file names no `token_uri`.
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Where the access tokens come from.
pub enum Credentials {
    /// A service account key file.
    ServiceAccount {
        /// The file it came from.
        path: PathBuf,
        /// `client_email`.
        email: String,
        /// `private_key_id` (the JWT's `kid`).
        key_id: String,
        /// The RSA key.
        key: Box<ring::signature::RsaKeyPair>,
        /// `token_uri`.
        token_uri: String,
    },
    /// gcloud's user credentials (`gcloud auth application-default login`).
    AuthorizedUser {
        /// The file it came from.
        path: PathBuf,
        /// `client_id`.
        client_id: String,
        /// `client_secret`.
        client_secret: String,
        /// `refresh_token`.
        refresh_token: String,
        /// `token_uri`.
        token_uri: String,
    },
    /// The metadata server of a GCP machine (or `GCE_METADATA_HOST`).
    Metadata {
        /// `http://host`.
        base: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ServiceAccount { path, email, .. } => {
                write!(f, "ServiceAccount({email}, {})", path.display())
            }
            Credentials::AuthorizedUser { path, .. } => {
                write!(f, "AuthorizedUser({})", path.display())
            }
            Credentials::Metadata { base } => write!(f, "Metadata({base})"),
        }
    }
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    token_uri: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Credentials {
    /// The credentials Application Default Credentials would use here.
    pub fn find() -> Result<Credentials> {
        if let Some(path) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
            let path = PathBuf::from(path);
            return Credentials::from_file(&path)
                .with_context(|| "GOOGLE_APPLICATION_CREDENTIALS names it".to_string());
        }
        let gcloud = match std::env::var_os("CLOUDSDK_CONFIG") {
            Some(dir) => Some(PathBuf::from(dir)),
            None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/gcloud")),
        };
        if let Some(file) = gcloud.map(|d| d.join("application_default_credentials.json")) {
            if file.exists() {
                return Credentials::from_file(&file);
            }
        }
        let host = std::env::var("GCE_METADATA_HOST")
            .unwrap_or_else(|_| "metadata.google.internal".to_owned());
        Ok(Credentials::Metadata {
            base: format!("http://{host}"),
        })
    }

    /// Reads a service account key or gcloud user credentials file.
    pub fn from_file(path: &Path) -> Result<Credentials> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the credentials file {}", path.display()))?;
        let k: KeyFile = serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "{}: not a Google credentials file (expected JSON with \"type\": \
                 \"service_account\" or \"authorized_user\"): {e}",
                path.display()
            )
        })?;
        let token_uri = if k.token_uri.is_empty() {
            TOKEN_URI.to_owned()
        } else {
            k.token_uri
        };
        match k.kind.as_str() {
            "service_account" => {
                if k.client_email.is_empty() || k.private_key.is_empty() {
                    bail!(
                        "{}: a service account key needs client_email and private_key",
                        path.display()
                    );
                }
                let der = pem_body(&k.private_key)
                    .with_context(|| format!("{}: private_key", path.display()))?;
                let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| {
                    anyhow!(
                        "{}: private_key is not a PKCS#8 RSA key: {e}",
                        path.display()
                    )
                })?;
                Ok(Credentials::ServiceAccount {
                    path: path.to_owned(),
                    email: k.client_email,
                    key_id: k.private_key_id,
                    key: Box::new(key),
                    token_uri,
                })
            }
            "authorized_user" => {
                if k.refresh_token.is_empty() || k.client_id.is_empty() {
                    bail!(
                        "{}: user credentials need client_id and refresh_token",
                        path.display()
                    );
                }
                Ok(Credentials::AuthorizedUser {
                    path: path.to_owned(),
                    client_id: k.client_id,
                    client_secret: k.client_secret,
                    refresh_token: k.refresh_token,
                    token_uri,
                })
            }
            other => bail!(
                "{}: credentials of type {other:?} are not supported (livecov reads \
                 \"service_account\" keys and \"authorized_user\" gcloud credentials)",
                path.display()
            ),
        }
    }

    /// A fresh access token and how long it lives.
    pub(super) async fn token(&self, client: &reqwest::Client) -> Result<(String, Duration)> {
        let request = match self {
            Credentials::ServiceAccount {
                email,
                key_id,
                key,
                token_uri,
                ..
            } => {
                let assertion = jwt(email, key_id, key, token_uri, unix_now())?;
                client.post(token_uri).form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.as_str()),
                ])
            }
            Credentials::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
                ..
            } => client.post(token_uri).form(&[
                ("grant_type", "refresh_token"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
                ("refresh_token", refresh_token.as_str()),
            ]),
            Credentials::Metadata { base } => client
                .get(format!(
                    "{base}/computeMetadata/v1/instance/service-accounts/default/token"
                ))
                .query(&[("scopes", SCOPE)])
                .header("Metadata-Flavor", "Google")
                .timeout(Duration::from_secs(5)),
        };
        let response = request.send().await.map_err(|e| match self {
            Credentials::Metadata { base } => anyhow!(
                "no Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS is not set, \
                 gcloud has no application_default_credentials.json, and the metadata server \
                 {base} did not answer ({e}); set GOOGLE_APPLICATION_CREDENTIALS to a service \
                 account key or run `gcloud auth application-default login`"
            ),
            _ => anyhow!("asking for an access token ({self:?}): {e}"),
        })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!(
                "the token endpoint refused the credentials {self:?}: HTTP {status}: {}",
                first_line(&body)
            );
        }
        let t: TokenResponse = serde_json::from_str(&body)
            .map_err(|e| anyhow!("the token endpoint answered something else than a token: {e}"))?;
        Ok((
            t.access_token,
            Duration::from_secs(t.expires_in.unwrap_or(3600)),
        ))
    }
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    if body.is_empty() {
        bail!("not a PEM block");
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| anyhow!("the PEM block is not base64: {e}"))
}

/// The signed JWT a service account trades for an access token.
fn jwt(
    email: &str,
    key_id: &str,
    key: &ring::signature::RsaKeyPair,
    audience: &str,
    now: u64,
) -> Result<String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if !key_id.is_empty() {
        header["kid"] = key_id.into();
    }
    let claims = serde_json::json!({
        "iss": email,
        "scope": SCOPE,
        "aud": audience,
        "iat": now,
        "exp": now + 3600,
    });
    let message = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .map_err(|_| anyhow!("signing the token request failed"))?;
    Ok(format!("{message}.{}", b64.encode(signature)))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The first line of an answer, bounded, for error messages.
pub(super) fn first_line(body: &str) -> String {
    let line = body.trim().lines().next().unwrap_or("");
    line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_files_of_other_kinds_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, r#"{"type":"external_account"}"#).unwrap();
        let e = format!("{:#}", Credentials::from_file(&p).unwrap_err());
        assert!(e.contains("\"external_account\" are not supported"), "{e}");
        std::fs::write(&p, "not json").unwrap();
        let e = format!("{:#}", Credentials::from_file(&p).unwrap_err());
        assert!(e.contains("c.json: not a Google credentials file"), "{e}");
        std::fs::write(
            &p,
            r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#,
        )
        .unwrap();
        let e = format!("{:#}", Credentials::from_file(&p).unwrap_err());
        assert!(e.contains("not a PKCS#8 RSA key"), "{e}");
    }

    #[test]
    fn user_credentials_never_print_their_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("adc.json");
        std::fs::write(
            &p,
            r#"{"type":"authorized_user","client_id":"id","client_secret":"s3cret","refresh_token":"r3fresh"}"#,
        )
        .unwrap();
        let c = Credentials::from_file(&p).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("r3fresh"),
            "{shown}"
        );
        match c {
            Credentials::AuthorizedUser { token_uri, .. } => assert_eq!(token_uri, TOKEN_URI),
            other => panic!("{other:?}"),
        }
    }
}
