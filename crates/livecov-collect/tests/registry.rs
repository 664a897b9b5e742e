//! `registry::RegistryClient` against a real registry: Debian's `docker-registry`
//! (distribution 2.8), started per test on 127.0.0.1 with a random port and a temporary
//! storage directory. Images are pushed with plain HTTP API calls (monolithic blob uploads,
//! manifest PUTs), so what the client reads is what a registry really serves. The registry
//! process and the pusher are in `support/registry_harness.rs` (shared with livecov's
//! `compile_registry` test).
//!
//! The binary is `$LIVECOV_REGISTRY_BIN`, else `/usr/bin/docker-registry`
//! (`.ci/install-registry.sh` installs it). When it is missing the tests fail if `$CI` is
//! set, and are skipped with a message otherwise.
//!
//! Authentication is the registry's own: `htpasswd` for Basic, and `token` for the Bearer
//! challenge, with a small token server in this file that signs ES256 JWTs the registry
//! verifies against a test-only certificate.

#[path = "support/registry_harness.rs"]
mod registry_harness;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use livecov_collect::registry::{
    digest_sha256, unsanitize, Credentials, ImageRef, Platform, RegistryClient, RegistryError,
    SourceLabels, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
};
use livecov_collect::registry_auth::RegistryAuth;
use registry_harness::{registry_bin, sanitize, sha256_digest, ImageSpec, Pusher, Registry};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// User and password of `HTPASSWD` (bcrypt, as the registry provisioned it for a missing
/// htpasswd file). Test-only.
const BASIC_USER: &str = "docker";
const BASIC_PASSWORD: &str = "alNPami0YBDfeOzIW_BHG-AlAjXU1QplT75E62pEXuE";
const HTPASSWD: &str = "docker:$2a$10$WnPCXDk/kx.uAJQK0plhVOsRXxepPNIttXrWLpAaq0MgcxRuQ3J5C\n";

/// The token issuer's self-signed P-256 certificate (valid 2000–2100) and key. Test-only.
const TOKEN_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBfDCCASGgAwIBAgIBATAKBggqhkjOPQQDAjAkMSIwIAYDVQQDDBlsaXZlY292
LXRlc3QtdG9rZW4taXNzdWVyMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAw
MDAwWjAkMSIwIAYDVQQDDBlsaXZlY292LXRlc3QtdG9rZW4taXNzdWVyMFkwEwYH
KoZIzj0CAQYIKoZIzj0DAQcDQgAEeE3gTMLe45Bzsd60kQ/zAeu+c5UJCv5JHWlv
V+v/XjiWrMq3FtWCy4gJnLgrovMiZeDEg7cAGALCBjMESoZduaNCMEAwDwYDVR0T
AQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAoQwHQYDVR0OBBYEFFCgA4/iQSGF4VNr
wsph8MyfFxp1MAoGCCqGSM49BAMCA0kAMEYCIQDV1+j5pjl1YVd2yN9Nn6j91bsT
t9J5IeJeLvpDN9cF/QIhAN12zhWD6Ds4kcktfzRczxsd2ULXYRDZ4Yh5Hwh4qKcP
-----END CERTIFICATE-----
";
const TOKEN_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjdRTIjYGExyCp3M7
rTKOAlKnk1VpEEj4vM2VAKc7siShRANCAAR4TeBMwt7jkHOx3rSRD/MB675zlQkK
/kkdaW9X6/9eOJasyrcW1YLLiAmcuCui8yJl4MSDtwAYAsIGMwRKhl25
-----END PRIVATE KEY-----
";
const TOKEN_SERVICE: &str = "livecov-test-registry";
const TOKEN_ISSUER: &str = "livecov-test-issuer";
/// Credentials the token server accepts; without them it grants nothing on `private/*`.
const TOKEN_USER: &str = "reader";
const TOKEN_PASSWORD: &str = "reader-secret";

const OPENSHIFT_LABELS: &[(&str, &str)] = &[
    (
        "io.openshift.build.source-location",
        "https://github.com/openshift/console",
    ),
    (
        "io.openshift.build.commit.id",
        "0123456789abcdef0123456789abcdef01234567",
    ),
    // Inherited from a base image: must not be paired with the OpenShift labels.
    (
        "org.opencontainers.image.source",
        "https://github.com/base/ubi",
    ),
    ("org.opencontainers.image.revision", "baseb4se"),
    ("vendor", "Red Hat, Inc."),
];
const DOOZER_ENV: &[&str] = &[
    "PATH=/usr/local/bin:/usr/bin",
    "__doozer_group=openshift-4.16",
    "__doozer_key=ose-console",
];

// ---------------------------------------------------------------------------------------
// Helpers (the registry process and the pusher are in support/registry_harness.rs)

fn anonymous_registry() -> Option<Registry> {
    Registry::anonymous()
}

fn client(registry: &Registry) -> RegistryClient {
    RegistryClient::builder()
        .insecure_host(&registry.addr)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn image_ref(registry: &Registry, path: &str) -> ImageRef {
    ImageRef::parse(&format!("{}/{path}", registry.addr)).expect("image ref")
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn single_platform_images_by_tag_and_by_digest() {
    let Some(registry) = anonymous_registry() else {
        return;
    };
    let pusher = Pusher::new(&registry, None);
    let openshift = pusher
        .image(
            "openshift/console",
            Some("v4.16"),
            &ImageSpec {
                arch: "amd64",
                labels: OPENSHIFT_LABELS,
                env: DOOZER_ENV,
                oci: false,
            },
        )
        .await;
    let oci = pusher
        .image(
            "oci/app",
            Some("1.0"),
            &ImageSpec {
                arch: "amd64",
                labels: &[
                    (
                        "org.opencontainers.image.source",
                        "https://github.com/example/app",
                    ),
                    ("org.opencontainers.image.revision", "feedface"),
                ],
                env: &[],
                oci: true,
            },
        )
        .await;
    let plain = pusher
        .image(
            "plain/nolabels",
            Some("latest"),
            &ImageSpec {
                arch: "amd64",
                labels: &[],
                env: &[],
                oci: false,
            },
        )
        .await;
    let payload = pusher
        .image(
            "ocp/release",
            Some("4.16.0-x86_64"),
            &ImageSpec {
                arch: "amd64",
                labels: &[("io.openshift.release", "4.16.0")],
                env: &[],
                oci: false,
            },
        )
        .await;
    let client = client(&registry);

    for path in [
        "openshift/console:v4.16".to_string(),
        format!("openshift/console@{}", openshift.manifest_digest),
        format!("openshift/console:v4.16@{}", openshift.manifest_digest),
    ] {
        let source = client
            .image_source(&image_ref(&registry, &path))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            source.source_url.as_deref(),
            Some("https://github.com/openshift/console"),
            "{path}"
        );
        assert_eq!(
            source.commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(source.source_labels, Some(SourceLabels::OpenShift));
        assert_eq!(source.software_group.as_deref(), Some("openshift-4.16"));
        assert_eq!(source.software_key.as_deref(), Some("ose-console"));
        assert_eq!(source.release, None);
        assert_eq!(source.digest, openshift.manifest_digest);
        assert_eq!(source.manifest_digest, openshift.manifest_digest);
        assert_eq!(source.config_digest, openshift.config_digest);
        assert_eq!(source.platform, Some(Platform::new("linux", "amd64")));
        assert_eq!(
            source.labels.get("vendor").map(String::as_str),
            Some("Red Hat, Inc.")
        );
    }

    let source = client
        .image_source(&image_ref(&registry, "oci/app:1.0"))
        .await
        .expect("oci image");
    assert_eq!(
        source.source_url.as_deref(),
        Some("https://github.com/example/app")
    );
    assert_eq!(source.commit.as_deref(), Some("feedface"));
    assert_eq!(source.source_labels, Some(SourceLabels::Oci));
    assert_eq!((source.software_group, source.software_key), (None, None));
    assert_eq!(source.manifest_digest, oci.manifest_digest);

    // No tag means latest.
    let source = client
        .image_source(&image_ref(&registry, "plain/nolabels"))
        .await
        .expect("image without labels");
    assert_eq!(
        (source.source_url, source.commit, source.source_labels),
        (None, None, None)
    );
    assert!(source.labels.is_empty());
    assert_eq!(source.config_digest, plain.config_digest);

    let source = client
        .image_source(&image_ref(&registry, "ocp/release:4.16.0-x86_64"))
        .await
        .expect("release payload");
    assert_eq!(source.release.as_deref(), Some("4.16.0"));
    assert_eq!(source.source_url, None);
    assert_eq!(source.manifest_digest, payload.manifest_digest);
}

#[tokio::test]
async fn manifest_lists_and_indexes_pick_the_configured_platform() {
    let Some(registry) = anonymous_registry() else {
        return;
    };
    let pusher = Pusher::new(&registry, None);
    for oci in [false, true] {
        let repo = if oci { "multi/oci" } else { "multi/docker" };
        let amd64 = pusher
            .image(
                repo,
                None,
                &ImageSpec {
                    arch: "amd64",
                    labels: OPENSHIFT_LABELS,
                    env: DOOZER_ENV,
                    oci,
                },
            )
            .await;
        let arm64 = pusher
            .image(
                repo,
                None,
                &ImageSpec {
                    arch: "arm64",
                    labels: &[(
                        "org.opencontainers.image.source",
                        "https://github.com/arm/only",
                    )],
                    env: &[],
                    oci,
                },
            )
            .await;
        let list = pusher
            .index(repo, "4.16", oci, &[("arm64", &arm64), ("amd64", &amd64)])
            .await;

        let source = client(&registry)
            .image_source(&image_ref(&registry, &format!("{repo}:4.16")))
            .await
            .unwrap_or_else(|e| panic!("{repo}: {e}"));
        assert_eq!(
            source.source_url.as_deref(),
            Some("https://github.com/openshift/console"),
            "{repo}"
        );
        assert_eq!(source.software_key.as_deref(), Some("ose-console"));
        assert_eq!(source.digest, list);
        assert_eq!(source.manifest_digest, amd64.manifest_digest);
        assert_eq!(source.config_digest, amd64.config_digest);
        assert_eq!(source.platform, Some(Platform::new("linux", "amd64")));

        // By the list's digest, for arm64.
        let arm_client = RegistryClient::builder()
            .insecure_host(&registry.addr)
            .platform(Platform::parse("linux/arm64").expect("platform"))
            .build()
            .expect("client");
        let source = arm_client
            .image_source(&image_ref(&registry, &format!("{repo}@{list}")))
            .await
            .expect("arm64");
        assert_eq!(
            source.source_url.as_deref(),
            Some("https://github.com/arm/only")
        );
        assert_eq!(source.source_labels, Some(SourceLabels::Oci));
        assert_eq!(source.manifest_digest, arm64.manifest_digest);
        assert_eq!(source.platform, Platform::parse("linux/arm64/v8"));

        let s390x = RegistryClient::builder()
            .insecure_host(&registry.addr)
            .platform(Platform::new("linux", "s390x"))
            .build()
            .expect("client");
        let err = s390x
            .image_source(&image_ref(&registry, &format!("{repo}:4.16")))
            .await
            .expect_err("no s390x entry");
        match &err {
            RegistryError::NoMatchingPlatform {
                platform,
                available,
                ..
            } => {
                assert_eq!(platform, "linux/s390x");
                assert_eq!(available, &["linux/arm64/v8", "linux/amd64"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string()
                .contains(&format!("{}/{repo}:4.16", registry.addr)),
            "{err}"
        );
    }
}

#[tokio::test]
async fn missing_images_are_404_errors_that_name_the_reference() {
    let Some(registry) = anonymous_registry() else {
        return;
    };
    let pusher = Pusher::new(&registry, None);
    let spec = ImageSpec {
        arch: "amd64",
        labels: &[],
        env: &[],
        oci: false,
    };
    pusher.image("team/app", Some("v1"), &spec).await;
    let client = client(&registry);
    let missing_digest = format!("sha256:{}", "ab".repeat(32));
    // distribution answers MANIFEST_UNKNOWN for a missing repository too; others say
    // NAME_UNKNOWN. Either way the registry's code is in the message.
    for path in [
        "team/app:v2".to_string(),
        format!("team/app@{missing_digest}"),
        "team/nothere:v1".to_string(),
    ] {
        let image = image_ref(&registry, &path);
        let err = client.image_source(&image).await.expect_err(&path);
        assert!(err.is_not_found(), "{path}: {err}");
        let message = err.to_string();
        assert!(message.starts_with(&image.to_string()), "{message}");
        assert!(message.contains("HTTP 404 Not Found"), "{message}");
        assert!(
            message.contains("MANIFEST_UNKNOWN") || message.contains("NAME_UNKNOWN"),
            "{message}"
        );
        assert!(message.contains("hint:"), "{message}");
    }
}

#[tokio::test]
async fn basic_auth_credentials() {
    let Some(bin) = registry_bin() else {
        return;
    };
    let registry = Registry::start(
        &bin,
        "auth:\n  htpasswd:\n    realm: livecov-test\n    path: {dir}/htpasswd\n",
        &[("htpasswd", HTPASSWD)],
    );
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"))
    );
    let pusher = Pusher::new(&registry, Some(basic));
    let spec = ImageSpec {
        arch: "amd64",
        labels: OPENSHIFT_LABELS,
        env: DOOZER_ENV,
        oci: false,
    };
    pusher.image("secure/app", Some("v1"), &spec).await;
    let image = image_ref(&registry, "secure/app:v1");

    let err = client(&registry)
        .image_source(&image)
        .await
        .expect_err("anonymous");
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("pass credentials for {}", registry.addr)),
        "{err}"
    );

    let wrong = RegistryClient::builder()
        .insecure_host(&registry.addr)
        .credentials(&registry.addr, Credentials::new(BASIC_USER, "wrong"))
        .build()
        .expect("client");
    assert_eq!(
        wrong
            .image_source(&image)
            .await
            .expect_err("wrong")
            .status(),
        Some(401)
    );

    let with_credentials = RegistryClient::builder()
        .insecure_host(&registry.addr)
        .credentials(&registry.addr, Credentials::new(BASIC_USER, BASIC_PASSWORD))
        .build()
        .expect("client");
    let source = with_credentials
        .image_source(&image)
        .await
        .expect("basic auth");
    assert_eq!(source.software_group.as_deref(), Some("openshift-4.16"));
}

#[tokio::test]
async fn auth_files_give_access_a_wrong_password_is_named_and_a_missing_entry_is_anonymous() {
    let Some(bin) = registry_bin() else {
        return;
    };
    let registry = Registry::start(
        &bin,
        "auth:\n  htpasswd:\n    realm: livecov-test\n    path: {dir}/htpasswd\n",
        &[("htpasswd", HTPASSWD)],
    );
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"))
    );
    let spec = ImageSpec {
        arch: "amd64",
        labels: OPENSHIFT_LABELS,
        env: DOOZER_ENV,
        oci: false,
    };
    Pusher::new(&registry, Some(basic))
        .image("secure/app", Some("v1"), &spec)
        .await;
    let image = image_ref(&registry, "secure/app:v1");
    let public = anonymous_registry().expect("the registry binary was found");
    Pusher::new(&public, None)
        .image("open/app", Some("v1"), &spec)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let client_from = |name: &str, auths: Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, json!({ "auths": auths }).to_string()).unwrap();
        let auth = RegistryAuth::discover(Some(&path)).expect("auth file");
        let client = RegistryClient::builder()
            .insecure_host(&registry.addr)
            .insecure_host(&public.addr)
            .auth_files(&auth)
            .build()
            .expect("client");
        (client, path)
    };

    // docker's `auth` form, under the key docker writes for a registry with a port.
    let (client, _) = client_from(
        "docker.json",
        json!({ format!("http://{}/v2/", registry.addr): {
            "auth": STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"))
        }}),
    );
    let source = client.image_source(&image).await.expect("auth file access");
    assert_eq!(source.software_group.as_deref(), Some("openshift-4.16"));
    // podman's username/password form.
    let (client, _) = client_from(
        "podman.json",
        json!({ &registry.addr: { "username": BASIC_USER, "password": BASIC_PASSWORD } }),
    );
    client.image_source(&image).await.expect("auth file access");

    let (client, path) = client_from(
        "wrong.json",
        json!({ &registry.addr: { "auth": STANDARD.encode(format!("{BASIC_USER}:not-the-password-7f3a")) } }),
    );
    let err = client
        .image_source(&image)
        .await
        .expect_err("wrong password");
    assert_eq!(err.status(), Some(401), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "check the credentials for {} in the registry auth file {}",
            registry.addr,
            path.display()
        )),
        "{msg}"
    );
    assert!(!msg.contains("7f3a"), "the password is not printed: {msg}");

    // Credentials for another registry only: requests go out anonymous, which the
    // htpasswd registry refuses and an open one serves.
    let (client, _) = client_from(
        "other.json",
        json!({ "quay.io": { "auth": STANDARD.encode("someone:else") } }),
    );
    let err = client.image_source(&image).await.expect_err("anonymous");
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("pass credentials for {}", registry.addr)),
        "{err}"
    );
    client
        .image_source(&image_ref(&public, "open/app:v1"))
        .await
        .expect("anonymous access without an entry");
}

#[tokio::test]
async fn bearer_token_challenge_with_anonymous_and_basic_credentials_at_the_realm() {
    let Some(bin) = registry_bin() else {
        return;
    };
    let tokens = TokenServer::start();
    let auth = format!(
        "auth:\n  token:\n    realm: http://{}/token\n    service: {TOKEN_SERVICE}\n    \
         issuer: {TOKEN_ISSUER}\n    rootcertbundle: {{dir}}/token-root.pem\n",
        tokens.addr
    );
    let registry = Registry::start(&bin, &auth, &[("token-root.pem", TOKEN_CERT)]);
    let push_token = sign_token(&[
        ("public/app", &["pull", "push"]),
        ("private/app", &["pull", "push"]),
    ]);
    let pusher = Pusher::new(&registry, Some(format!("Bearer {push_token}")));
    let spec = ImageSpec {
        arch: "amd64",
        labels: OPENSHIFT_LABELS,
        env: DOOZER_ENV,
        oci: true,
    };
    pusher.image("public/app", Some("v1"), &spec).await;
    pusher.image("private/app", Some("v1"), &spec).await;

    // Anonymous: the realm grants pull on public/*; the token is cached per repository.
    let anonymous = client(&registry);
    for _ in 0..2 {
        let source = anonymous
            .image_source(&image_ref(&registry, "public/app:v1"))
            .await
            .expect("anonymous bearer");
        assert_eq!(
            source.source_url.as_deref(),
            Some("https://github.com/openshift/console")
        );
    }
    assert_eq!(
        tokens.issued(),
        1,
        "one token for two reads of one repository"
    );

    // Anonymous on private/*: the token grants nothing, the registry still says 401.
    let err = anonymous
        .image_source(&image_ref(&registry, "private/app:v1"))
        .await
        .expect_err("private, anonymous");
    assert_eq!(err.status(), Some(401), "{err}");

    // Credentials go to the realm as Basic auth, but only over https or to an insecure host.
    let refused = RegistryClient::builder()
        .insecure_host(&registry.addr)
        .credentials(&registry.addr, Credentials::new(TOKEN_USER, TOKEN_PASSWORD))
        .build()
        .expect("client");
    let err = refused
        .image_source(&image_ref(&registry, "private/app:v1"))
        .await
        .expect_err("plain-http realm with credentials");
    assert!(matches!(err, RegistryError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains(&tokens.addr), "{err}");

    let with_credentials = RegistryClient::builder()
        .insecure_host(&registry.addr)
        .insecure_host(&tokens.addr)
        .credentials(&registry.addr, Credentials::new(TOKEN_USER, TOKEN_PASSWORD))
        .build()
        .expect("client");
    let source = with_credentials
        .image_source(&image_ref(&registry, "private/app:v1"))
        .await
        .expect("private, with credentials");
    assert_eq!(source.software_key.as_deref(), Some("ose-console"));
}

#[tokio::test]
async fn sanitized_producer_strings_resolve_against_the_registry() {
    let Some(registry) = anonymous_registry() else {
        return;
    };
    let pusher = Pusher::new(&registry, None);
    let spec = ImageSpec {
        arch: "amd64",
        labels: OPENSHIFT_LABELS,
        env: DOOZER_ENV,
        oci: false,
    };
    let pushed = pusher.image("team/app-server", Some("v1"), &spec).await;
    let real = format!(
        "{}/team/app-server@{}",
        registry.addr, pushed.manifest_digest
    );
    let sanitized = sanitize(&real);
    assert!(!sanitized.contains(['/', ':', '@']), "{sanitized}");

    // A bare host leaves `team-app-server` ambiguous; a host with its org does not.
    assert_eq!(unsanitize(&sanitized, &[&registry.addr]), None);
    let exact = unsanitize(&sanitized, &[format!("{}/team", registry.addr)]).expect("org known");
    assert_eq!(exact.to_string(), real);

    let client = client(&registry);
    let (image, source) = client
        .resolve_sanitized(&sanitized, &[&registry.addr])
        .await
        .expect("resolved");
    assert_eq!(image.to_string(), real);
    assert_eq!(source.software_key.as_deref(), Some("ose-console"));

    let gone = sanitize(&format!(
        "{}/team/other-app@sha256:{}",
        registry.addr,
        "cd".repeat(32)
    ));
    let err = client
        .resolve_sanitized(&gone, &[&registry.addr])
        .await
        .expect_err("not in the registry");
    match &err {
        RegistryError::Unresolved { tried, last, .. } => {
            assert_eq!(*tried, 4);
            assert!(last.as_ref().is_some_and(|e| e.is_not_found()), "{err}");
        }
        other => panic!("{other:?}"),
    }
}

/// The harness computes digests and names media types on its own; they must agree with
/// the client's.
#[test]
fn the_harness_agrees_with_the_client_on_digests_and_media_types() {
    for bytes in [&b""[..], b"{}", b"layer of team/app for amd64"] {
        assert_eq!(sha256_digest(bytes), digest_sha256(bytes));
    }
    assert_eq!(registry_harness::DOCKER_MANIFEST, DOCKER_MANIFEST);
    assert_eq!(registry_harness::DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_LIST);
    assert_eq!(registry_harness::OCI_MANIFEST, OCI_MANIFEST);
    assert_eq!(registry_harness::OCI_INDEX, OCI_INDEX);
}

// ---------------------------------------------------------------------------------------
// A token server for the registry's `token` auth

struct TokenServer {
    addr: String,
    issued: Arc<AtomicUsize>,
}

impl TokenServer {
    /// Serves `GET /token?service=…&scope=…` on a thread that lives as long as the test
    /// binary. Grants pull on every repository except `private/*`, which needs
    /// `TOKEN_USER`'s Basic credentials; counts the tokens it issues.
    fn start() -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("token listener");
        let addr = listener.local_addr().expect("addr").to_string();
        let issued = Arc::new(AtomicUsize::new(0));
        let counter = issued.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve_token(stream, &counter);
            }
        });
        TokenServer { addr, issued }
    }

    fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

fn serve_token(stream: TcpStream, issued: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorized = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                let expected = STANDARD.encode(format!("{TOKEN_USER}:{TOKEN_PASSWORD}"));
                authorized = value.trim() == format!("Basic {expected}");
            }
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let url = url::Url::parse(&format!("http://token{target}")).expect("token URL");
    let mut grants: Vec<(String, Vec<&str>)> = Vec::new();
    for (key, value) in url.query_pairs() {
        if key != "scope" {
            continue;
        }
        let parts: Vec<&str> = value.split(':').collect();
        if let ["repository", name, _actions] = parts[..] {
            if authorized || !name.starts_with("private/") {
                grants.push((name.to_string(), vec!["pull"]));
            }
        }
    }
    let grants: Vec<(&str, &[&str])> = grants
        .iter()
        .map(|(name, actions)| (name.as_str(), actions.as_slice()))
        .collect();
    let body = json!({"token": sign_token(&grants), "expires_in": 300}).to_string();
    issued.fetch_add(1, Ordering::SeqCst);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// An ES256 JWT the registry accepts: the issuer's certificate in `x5c`, `access` claims
/// for `(repository, actions)`.
fn sign_token(access: &[(&str, &[&str])]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header =
        json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(pem_der(TOKEN_CERT))]});
    let access: Vec<Value> = access
        .iter()
        .map(|(name, actions)| json!({"type": "repository", "name": name, "actions": actions}))
        .collect();
    let claims = json!({
        "iss": TOKEN_ISSUER,
        "sub": "livecov-test",
        "aud": TOKEN_SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", access.len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pem_der(TOKEN_KEY), &rng)
        .expect("token key");
    let signature = key.sign(&rng, signing_input.as_bytes()).expect("sign");
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("PEM base64")
}
