//! `livecov cluster download` of an `az://` source against a real Azure Storage emulator,
//! Azurite (npm `azurite`), on 127.0.0.1 with in-memory persistence, holding the producer
//! layout that `download_s3.rs` uploads to moto. The download goes through the library
//! entry point with `--endpoint` set to the emulator's account URL and Azurite's
//! well-known development account as store options.
//!
//! azurite-blob is found through `LIVECOV_AZURITE_BIN`, then `PATH`, then
//! `/var/tmp/livecov-ci-tools/azurite/node_modules/.bin/azurite-blob` (what
//! `.ci/install-azurite.sh` installs). When it is missing the tests fail under CI (`CI`
//! set) and are skipped otherwise.

#[path = "support/object_store_harness.rs"]
mod harness;

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use harness::{Server, BUCKET, INSTANCE_FILES, PREFIX};
use livecov_collect::download::{download, DownloadOptions};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore as _, PutPayload};

/// Azurite's development account, documented by Microsoft; not a secret.
const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Starts azurite-blob on a free port, or says why the test is skipped.
fn start_azurite(test: &str) -> Option<Server> {
    let program = harness::require(
        test,
        harness::find_program(
            "LIVECOV_AZURITE_BIN",
            "azurite-blob",
            "/var/tmp/livecov-ci-tools/azurite/node_modules/.bin/azurite-blob",
        ),
        "azurite-blob (LIVECOV_AZURITE_BIN, PATH, /var/tmp/livecov-ci-tools/azurite)",
        ".ci/install-azurite.sh",
    )?;
    let port = harness::free_port();
    let args = [
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--silent",
    ]
    .map(String::from);
    Some(harness::start(&program, &args, port))
}

/// The account URL object_store is pointed at.
fn account_url(server: &Server) -> String {
    format!("{}/{ACCOUNT}", server.url)
}

/// Creates a container: object_store cannot, so this is the REST call, signed with the
/// account's Shared Key as Azure specifies (the date is not checked by Azurite).
async fn create_container(server: &Server, container: &str) {
    let (version, date) = ("2021-08-06", "Thu, 01 Jan 2026 00:00:00 GMT");
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n\
         /{ACCOUNT}/{ACCOUNT}/{container}\nrestype:container"
    );
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        &STANDARD.decode(ACCOUNT_KEY).unwrap(),
    );
    let signature = STANDARD.encode(ring::hmac::sign(&key, string_to_sign.as_bytes()));
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/{container}?restype=container",
            account_url(server)
        ))
        .header("x-ms-date", date)
        .header("x-ms-version", version)
        .header("Content-Length", "0")
        .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
        .send()
        .await
        .expect("PUT container");
    let status = resp.status();
    assert!(
        status.is_success(),
        "creating {container}: {status}: {}",
        resp.text().await.unwrap_or_default()
    );
}

/// Azurite with container BUCKET holding the producer layout under PREFIX.
async fn seeded_azurite(test: &str) -> Option<Server> {
    let server = start_azurite(test)?;
    create_container(&server, BUCKET).await;
    let store = MicrosoftAzureBuilder::new()
        .with_endpoint(account_url(&server))
        .with_account(ACCOUNT)
        .with_access_key(ACCOUNT_KEY)
        .with_container_name(BUCKET)
        .with_allow_http(true)
        .build()
        .expect("a client for Azurite");
    for (key, bytes) in harness::bucket_objects() {
        store
            .put(&ObjectPath::from(key.as_str()), PutPayload::from(bytes))
            .await
            .unwrap_or_else(|e| panic!("uploading {key}: {e}"));
    }
    Some(server)
}

/// Options that reach Azurite's development account.
fn options(server: &Server, source: &str, collection: &Path) -> DownloadOptions {
    DownloadOptions::new(source, collection)
        .endpoint(Some(account_url(server)))
        .store_option("azure_storage_account_name", ACCOUNT)
        .store_option("azure_storage_account_key", ACCOUNT_KEY)
        .retry_delay(Duration::from_millis(10))
}

#[tokio::test]
async fn az_download_gives_the_uploaded_files_and_a_second_run_transfers_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) =
        seeded_azurite("az_download_gives_the_uploaded_files_and_a_second_run_transfers_nothing")
            .await
    else {
        return;
    };
    let collection = tmp.path().join("collection");
    let opts = options(&server, &format!("az://{BUCKET}/{PREFIX}/"), &collection);
    let summary = download(&opts).await.unwrap();
    harness::assert_first_download(&summary, &collection, &format!("az://{BUCKET}/{PREFIX}"));

    // Unchanged objects are recognised by size and ETag.
    let again = download(&opts).await.unwrap();
    assert!(!again.failed(), "{again}");
    assert_eq!(
        (again.files_downloaded, again.files_unchanged),
        (0, INSTANCE_FILES)
    );
}

#[tokio::test]
async fn a_missing_azure_container_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = start_azurite("a_missing_azure_container_is_a_clear_error") else {
        return;
    };
    let opts = options(&server, "az://no-such-container/some/prefix", tmp.path());
    let msg = download(&opts)
        .await
        .expect_err("listing a missing container fails")
        .to_string();
    assert!(
        msg.starts_with("listing az://no-such-container/some/prefix failed: "),
        "{msg}"
    );
}
