//! `livecov cluster compile --registry-lookup` against a real registry (Debian's
//! `docker-registry`, see livecov-collect's `tests/support/registry_harness.rs`): image
//! sources read from labels land in the store's `image_sources`, fill only empty fields,
//! failed lookups are recorded and retried, resolved images are not looked up again.
//!
//! The binary is `$LIVECOV_REGISTRY_BIN`, else `/usr/bin/docker-registry`; when it is
//! missing the test fails if `$CI` is set and is skipped with a message otherwise.

#[path = "../../livecov-collect/tests/support/registry_harness.rs"]
mod registry_harness;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use livecov_store::{ImageSourceRow, Store};
use registry_harness::{sanitize, ImageSpec, Pusher, Registry};

const APP_REPO: &str = "https://github.com/o/app";
const APP_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const OCI_REPO: &str = "https://github.com/o/oci";
const OCI_REVISION: &str = "feedfacefeedfacefeedfacefeedfacefeedface";

fn golden_count() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/go/golden/data/count")
}

/// `<collection>/coverage/<name>/` with real Go coverage files, a `metadata.json` naming
/// `image`, and `info` as `info.json` when given.
fn add_dir(collection: &Path, name: &str, image: &str, info: Option<&str>) {
    let dir = collection.join("coverage").join(name);
    fs::create_dir_all(&dir).unwrap();
    let mut copied = 0;
    for e in fs::read_dir(golden_count()).unwrap() {
        let e = e.unwrap();
        let file = e.file_name().to_string_lossy().into_owned();
        if file.starts_with("covmeta.") || file.starts_with("covcounters.") {
            fs::copy(e.path(), dir.join(&file)).unwrap();
            copied += 1;
        }
    }
    assert!(
        copied >= 2,
        "no Go coverage files in {}",
        golden_count().display()
    );
    let metadata = serde_json::json!({
        "pod_name": "web-7d9f8b6c4-x2x9z",
        "namespace": "shop",
        "container": {"name": "app", "image": image},
        "binary_name": "prog",
        "collected_at": "2026-11-21T09:00:00Z",
        "hostname": "node-a",
        "host_process": false,
    });
    fs::write(dir.join("metadata.json"), metadata.to_string()).unwrap();
    if let Some(info) = info {
        fs::write(dir.join("info.json"), info).unwrap();
    }
}

fn compile(collection: &Path, registry: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(["cluster", "compile", "--collection"])
        .arg(collection)
        .args([
            "--registry-lookup",
            "--insecure-registry",
            registry,
            "--known-registry",
            registry,
        ])
        .output()
        .unwrap()
}

fn image_sources(collection: &Path) -> BTreeMap<String, ImageSourceRow> {
    Store::open(&collection.join("livecov.db"))
        .unwrap()
        .image_sources()
        .unwrap()
        .into_iter()
        .map(|row| (row.image.clone(), row))
        .collect()
}

fn row(
    image: &str,
    (source_repo, commit_id): (&str, &str),
    (software_group, software_key): (&str, &str),
    origin: &str,
) -> ImageSourceRow {
    ImageSourceRow {
        image: image.to_owned(),
        source_repo: source_repo.to_owned(),
        commit_id: commit_id.to_owned(),
        software_group: software_group.to_owned(),
        software_key: software_key.to_owned(),
        origin: origin.to_owned(),
        error: String::new(),
    }
}

/// The `warning: image …` lines of compile's stderr.
fn warned_images(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .collect()
}

#[test]
fn compile_reads_image_sources_from_the_registry_fills_empty_fields_and_retries_failures() {
    let Some(mut registry) = Registry::anonymous() else {
        return;
    };
    let addr = registry.addr.clone();

    // (a) OpenShift build labels and doozer env, (b) OCI labels only, (c) no labels (its
    // source comes from info.json), (d) no labels but doozer env (info.json knows the
    // repository but not the commit, so it is looked up).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (a, b, c) = runtime.block_on(async {
        let pusher = Pusher::new(&registry, None);
        let a = pusher
            .image(
                "org/app",
                None,
                &ImageSpec {
                    arch: "amd64",
                    labels: &[
                        ("io.openshift.build.source-location", APP_REPO),
                        ("io.openshift.build.commit.id", APP_COMMIT),
                    ],
                    env: &["PATH=/usr/bin", "__doozer_group=g", "__doozer_key=k"],
                    oci: false,
                },
            )
            .await;
        let b = pusher
            .image(
                "org/oci",
                None,
                &ImageSpec {
                    arch: "amd64",
                    labels: &[
                        ("org.opencontainers.image.source", OCI_REPO),
                        ("org.opencontainers.image.revision", OCI_REVISION),
                    ],
                    env: &[],
                    oci: true,
                },
            )
            .await;
        let c = pusher
            .image(
                "org/plain",
                None,
                &ImageSpec {
                    arch: "amd64",
                    labels: &[],
                    env: &[],
                    oci: false,
                },
            )
            .await;
        pusher
            .image(
                "org/bare",
                Some("v1"),
                &ImageSpec {
                    arch: "amd64",
                    labels: &[],
                    env: &["__doozer_group=gd", "__doozer_key=kd"],
                    oci: false,
                },
            )
            .await;
        (a, b, c)
    });
    let image_a = format!("{addr}/org/app@{}", a.manifest_digest);
    let image_b = sanitize(&format!("{addr}/org/oci@{}", b.manifest_digest));
    let image_c = format!("{addr}/org/plain@{}", c.manifest_digest);
    let image_d = format!("{addr}/org/bare:v1");
    let missing = format!("{addr}/org/gone@sha256:{}", "ab".repeat(32));
    assert!(!image_b.contains(['/', ':', '@']), "{image_b}");

    let tmp = tempfile::tempdir().unwrap();
    let collection = tmp.path();
    add_dir(collection, "a", &image_a, None);
    add_dir(collection, "b-sanitized", &image_b, None);
    add_dir(
        collection,
        "c-info",
        &image_c,
        Some(
            r#"{"source_url":"https://github.com/o/from-info","source_commit":"abc","software_group":"","software_key":""}"#,
        ),
    );
    add_dir(
        collection,
        "d-info-no-commit",
        &image_d,
        Some(
            r#"{"source_url":"https://github.com/o/d-from-info","source_commit":"","software_group":"","software_key":""}"#,
        ),
    );
    add_dir(collection, "missing", &missing, None);

    // First run: every input compiles; the missing image is a warning, not an input
    // error, so the exit status is 0.
    let out = compile(collection, &addr);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("compiled 5 inputs"), "{stderr}");
    let warned = warned_images(&stderr);
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(warned[0].starts_with(&format!("{missing}: ")), "{stderr}");

    let first = image_sources(collection);
    assert_eq!(
        first.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut keys = vec![
                image_a.as_str(),
                image_b.as_str(),
                image_c.as_str(),
                image_d.as_str(),
                missing.as_str(),
            ];
            keys.sort();
            keys
        },
        "{first:#?}"
    );
    assert_eq!(
        first[&image_a],
        row(&image_a, (APP_REPO, APP_COMMIT), ("g", "k"), "registry")
    );
    // The sanitized string is the key; the registry was reached through
    // --known-registry.
    assert_eq!(
        first[&image_b],
        row(&image_b, (OCI_REPO, OCI_REVISION), ("", ""), "registry")
    );
    // info.json knew repository and commit: the image is not looked up, and its empty
    // registry labels cannot replace those values.
    assert_eq!(
        first[&image_c],
        row(
            &image_c,
            ("https://github.com/o/from-info", "abc"),
            ("", ""),
            "info.json"
        )
    );
    // info.json knew the repository only: the lookup fills group and key from the env,
    // and the repository survives the registry's empty labels.
    let d = &first[&image_d];
    assert_eq!(
        (
            d.source_repo.as_str(),
            d.commit_id.as_str(),
            d.software_group.as_str(),
            d.software_key.as_str(),
            d.error.as_str()
        ),
        ("https://github.com/o/d-from-info", "", "gd", "kd", ""),
        "{d:?}"
    );
    // The missing image: recorded with the registry's 404 and its reference.
    let m = &first[&missing];
    assert_eq!(
        (
            m.source_repo.as_str(),
            m.commit_id.as_str(),
            m.software_group.as_str(),
            m.software_key.as_str(),
            m.origin.as_str()
        ),
        ("", "", "", "", ""),
        "{m:?}"
    );
    assert!(m.error.starts_with(&missing), "{m:?}");
    assert!(m.error.contains("404"), "{m:?}");
    assert!(m.error.contains("MANIFEST_UNKNOWN"), "{m:?}");
    assert!(stderr.contains(&m.error), "{stderr}");

    // Second run with the registry gone: images the registry answered are not looked up
    // again (no warning, rows unchanged), including the one whose labels carry no
    // commit; only the missing image is retried, its error updated.
    registry.stop();
    let out = compile(collection, &addr);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("(5 unchanged, 0 failed"), "{stderr}");
    let mut warned = warned_images(&stderr);
    warned.sort();
    assert_eq!(warned.len(), 1, "{stderr}");
    for image in [&image_a, &image_b, &image_c, &image_d] {
        assert!(
            !warned.iter().any(|w| w.starts_with(image.as_str())),
            "{image} looked up again: {stderr}"
        );
    }
    assert!(
        warned
            .iter()
            .any(|w| w.starts_with(&format!("{missing}: "))),
        "{stderr}"
    );

    let second = image_sources(collection);
    for image in [&image_a, &image_b, &image_c, &image_d] {
        assert_eq!(second[image], first[image]);
    }
    assert_eq!(d.origin, "info.json+registry", "{d:?}");
    let m2 = &second[&missing];
    assert_ne!(m2.error, m.error, "the error of the retried lookup");
    assert!(m2.error.starts_with(&missing), "{m2:?}");
    // Not the first run's 404 (checked by its error code: the port may hold "404").
    assert!(!m2.error.contains("MANIFEST_UNKNOWN"), "{m2:?}");
    assert!(m2.error.contains("request to"), "{m2:?}");
    assert_eq!(
        ImageSourceRow {
            error: String::new(),
            ..m2.clone()
        },
        ImageSourceRow {
            error: String::new(),
            ..m.clone()
        }
    );
}
