//! `livecov cluster download` of a `gs://` source against a real GCS emulator,
//! fake-gcs-server (github.com/fsouza/fake-gcs-server), on 127.0.0.1 with an in-memory
//! backend, holding the producer layout that `download_s3.rs` uploads to moto. The
//! download goes through the library entry point with `--endpoint` set to the emulator.
//!
//! fake-gcs-server is found through `LIVECOV_FAKE_GCS_BIN`, then `PATH`, then
//! `/var/tmp/livecov-ci-tools/fake-gcs-server-v1.52.3/bin/fake-gcs-server` (what
//! `.ci/install-fake-gcs.sh` installs). When it is missing the tests fail under CI (`CI`
//! set) and are skipped otherwise.

#[path = "support/object_store_harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Server, BUCKET, INSTANCE_FILES, PREFIX};
use livecov_collect::download::{download, DownloadOptions};

/// Starts fake-gcs-server on a free port, or says why the test is skipped.
fn start_fake_gcs(test: &str) -> Option<Server> {
    let program = harness::require(
        test,
        harness::find_program(
            "LIVECOV_FAKE_GCS_BIN",
            "fake-gcs-server",
            "/var/tmp/livecov-ci-tools/fake-gcs-server-v1.52.3/bin/fake-gcs-server",
        ),
        "fake-gcs-server (LIVECOV_FAKE_GCS_BIN, PATH, /var/tmp/livecov-ci-tools)",
        ".ci/install-fake-gcs.sh",
    )?;
    let port = harness::free_port();
    // Path-style requests (object_store's) are served only for the public host.
    let public_host = format!("127.0.0.1:{port}");
    let args = [
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        &port.to_string(),
        "-public-host",
        &public_host,
        "-backend",
        "memory",
    ]
    .map(String::from);
    Some(harness::start(&program, &args, port))
}

/// fake-gcs-server with BUCKET holding the producer layout under PREFIX.
async fn seeded_fake_gcs(test: &str) -> Option<Server> {
    let server = start_fake_gcs(test)?;
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{}/storage/v1/b", server.url))
        .json(&serde_json::json!({ "name": BUCKET }))
        .send()
        .await
        .expect("POST bucket");
    assert!(resp.status().is_success(), "creating {BUCKET}: {resp:?}");
    // Through the JSON API's media upload: this fake-gcs-server does not take the XML
    // API's PUT that object_store sends.
    for (key, bytes) in harness::bucket_objects() {
        let resp = client
            .post(format!("{}/upload/storage/v1/b/{BUCKET}/o", server.url))
            .query(&[("uploadType", "media"), ("name", key.as_str())])
            .body(bytes)
            .send()
            .await
            .unwrap_or_else(|e| panic!("uploading {key}: {e}"));
        assert!(resp.status().is_success(), "uploading {key}: {resp:?}");
    }
    Some(server)
}

#[tokio::test]
async fn gs_download_gives_the_uploaded_files_and_a_second_run_transfers_nothing() {
    let Some(server) =
        seeded_fake_gcs("gs_download_gives_the_uploaded_files_and_a_second_run_transfers_nothing")
            .await
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let opts = DownloadOptions::new(format!("gs://{BUCKET}/{PREFIX}/"), tmp.path())
        .endpoint(Some(server.url.clone()))
        .retry_delay(Duration::from_millis(10));
    let summary = download(&opts).await.unwrap();
    harness::assert_first_download(&summary, tmp.path(), &format!("gs://{BUCKET}/{PREFIX}"));

    // Unchanged objects are recognised by size and ETag.
    let again = download(&opts).await.unwrap();
    assert!(!again.failed(), "{again}");
    assert_eq!(
        (again.files_downloaded, again.files_unchanged),
        (0, INSTANCE_FILES)
    );
}

#[tokio::test]
async fn a_missing_gcs_bucket_is_a_clear_error() {
    let Some(server) = start_fake_gcs("a_missing_gcs_bucket_is_a_clear_error") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let opts = DownloadOptions::new("gs://no-such-bucket/some/prefix", tmp.path())
        .endpoint(Some(server.url.clone()))
        .retry_delay(Duration::from_millis(10));
    let msg = download(&opts)
        .await
        .expect_err("listing a missing bucket fails")
        .to_string();
    assert!(
        msg.starts_with("listing gs://no-such-bucket/some/prefix failed: "),
        "{msg}"
    );
}
