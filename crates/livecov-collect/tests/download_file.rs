//! `livecov cluster download` from a local directory (`file://` or a plain path) that
//! someone else can write to: links, odd file types and odd names in the tree must not
//! reach outside it, widen permissions, or stop the rest of the download.

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use livecov_collect::download::{download, download_with, DownloadOptions, Summary};
use livecov_collect::producer::SkipReason;

const KUBELET: &str = "node-1/_host_/20250101T090000Z/kubelet";
const KUBELET_DIR: &str = "node-1-_host_-kubelet-20250101T090000Z";
const HASH: &str = "fb5d9fb229349f9b25b93ba370b3e169";

/// A host instance with a meta file, one counter file readable by its owner only, and
/// info.json; returns the instance directory.
fn instance(root: &Path) -> std::path::PathBuf {
    let dir = root.join(KUBELET);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("covmeta.{HASH}")), b"meta bytes").unwrap();
    let private = dir.join(format!("covcounters.{HASH}.42.1"));
    std::fs::write(&private, b"counter bytes").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(dir.join("info.json"), b"{\"binary\":\"kubelet\"}").unwrap();
    dir
}

fn skipped(summary: &Summary) -> BTreeMap<String, SkipReason> {
    summary
        .skipped_keys
        .iter()
        .map(|k| (k.key.clone(), k.reason.clone()))
        .collect()
}

fn downloaded(collection: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = collection.join("coverage").join(KUBELET_DIR);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("cov") || name == "info.json"
        })
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn links_out_of_the_source_tree_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    let dir = instance(&root);
    let secret = tmp.path().join("shadow");
    std::fs::write(&secret, b"root:secret").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    symlink(&secret, dir.join(format!("covcounters.{HASH}.42.2"))).unwrap();
    // A directory link out of the tree, and a link inside it (links are never followed).
    let outside = tmp.path().join("elsewhere/_host_/20250101T090000Z/kubelet");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join(format!("covmeta.{HASH}")), b"outside").unwrap();
    symlink(tmp.path().join("elsewhere"), root.join("node-2")).unwrap();

    let url = url::Url::from_directory_path(&root).unwrap().to_string();
    let collection = tmp.path().join("collection");
    let summary = download(&DownloadOptions::new(&url, &collection))
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}\n{:#?}", summary.errors);
    assert_eq!(summary.files_downloaded, 3, "{summary}");
    let files = downloaded(&collection);
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        [
            format!("covcounters.{HASH}.42.1"),
            format!("covmeta.{HASH}"),
            "info.json".to_string()
        ]
    );
    assert!(files.values().all(|b| b != b"root:secret"));
    let skipped = skipped(&summary);
    assert_eq!(
        skipped.get(&format!("{KUBELET}/covcounters.{HASH}.42.2")),
        Some(&SkipReason::Link),
        "{summary}"
    );
    assert_eq!(skipped.get("node-2"), Some(&SkipReason::Link), "{summary}");
    let text = summary.to_string();
    assert!(text.contains("a symbolic link, not followed"), "{text}");
}

#[tokio::test]
async fn progress_goes_to_the_reporter() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    instance(&root);
    let collection = tmp.path().join("collection");
    let recorder = livecov_model::Recorder::default();
    let summary = download_with(
        &DownloadOptions::new(root.to_str().unwrap(), &collection),
        &recorder,
    )
    .await
    .unwrap();
    assert!(!summary.failed(), "{summary}");
    let phases = recorder.phases.lock().unwrap().clone();
    assert_eq!(phases.len(), 2, "{phases:?}");
    assert!(phases[0].name.starts_with("listing "), "{phases:?}");
    assert_eq!((phases[0].done, phases[0].finished), (3, true));
    assert_eq!(phases[1].name, "download");
    assert_eq!(
        (phases[1].total, phases[1].done, phases[1].finished),
        (Some(3), 3, true),
        "one step per object"
    );
}

#[tokio::test]
async fn copies_are_no_more_readable_than_their_source() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    instance(&root);
    let collection = tmp.path().join("collection");
    let summary = download(&DownloadOptions::new(root.to_str().unwrap(), &collection))
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}\n{:#?}", summary.errors);
    let copy = collection
        .join("coverage")
        .join(KUBELET_DIR)
        .join(format!("covcounters.{HASH}.42.1"));
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o600, 0, "copy has mode {mode:o}, its source 600");
    assert_eq!(std::fs::read(&copy).unwrap(), b"counter bytes");
}

#[tokio::test]
async fn a_bad_name_or_a_link_loop_is_skipped_and_the_rest_is_downloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    let dir = instance(&root);
    std::fs::write(dir.join(format!("covcounters.{HASH}.1\n.1")), b"x").unwrap();
    symlink(dir.join("loop-b"), dir.join("loop-a")).unwrap();
    symlink(dir.join("loop-a"), dir.join("loop-b")).unwrap();
    // A FIFO would block a reader that opened it; it must not even be opened.
    let fifo = dir.join(format!("covcounters.{HASH}.9.1"));
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success(), "mkfifo {}", fifo.display());

    let collection = tmp.path().join("collection");
    let summary = download(&DownloadOptions::new(root.to_str().unwrap(), &collection))
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}\n{:#?}", summary.errors);
    assert_eq!(downloaded(&collection).len(), 3, "{summary}");
    let skipped = skipped(&summary);
    assert_eq!(
        skipped.get(&format!("{KUBELET}/covcounters.{HASH}.1\\n.1")),
        Some(&SkipReason::BadName),
        "{summary}"
    );
    assert_eq!(
        skipped.get(&format!("{KUBELET}/loop-a")),
        Some(&SkipReason::Link)
    );
    assert_eq!(
        skipped.get(&format!("{KUBELET}/covcounters.{HASH}.9.1")),
        Some(&SkipReason::NotRegular)
    );
    // The summary shows the name escaped, on one line.
    let text = summary.to_string();
    assert!(
        text.contains(&format!("covcounters.{HASH}.1\\n.1\n")),
        "{text}"
    );
}

#[tokio::test]
async fn names_with_percent_signs_and_spaces_keep_their_spelling() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    let dir = instance(&root);
    let odd = format!("covcounters.{HASH}.7 %41.1");
    std::fs::write(dir.join(&odd), b"odd").unwrap();
    let collection = tmp.path().join("collection");
    let summary = download(&DownloadOptions::new(root.to_str().unwrap(), &collection))
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}\n{:#?}", summary.errors);
    assert_eq!(
        downloaded(&collection).get(&odd).map(Vec::as_slice),
        Some(&b"odd"[..])
    );
}

#[tokio::test]
async fn a_symlinked_instance_directory_is_not_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    instance(&root);
    // A second instance, downloaded normally.
    let other = root.join("node-2/_host_/20250101T090000Z/kubelet");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join(format!("covmeta.{HASH}")), b"meta bytes").unwrap();
    let collection = tmp.path().join("collection");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(collection.join("coverage")).unwrap();
    let link = collection.join("coverage").join(KUBELET_DIR);
    symlink(&outside, &link).unwrap();

    let summary = download(&DownloadOptions::new(root.to_str().unwrap(), &collection))
        .await
        .unwrap();
    assert!(summary.failed(), "{summary}");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing may be written through the link"
    );
    let errors: Vec<String> = summary.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(&link.display().to_string()) && errors[0].contains("symbolic link"),
        "{errors:?}"
    );
    // The other instance went on.
    let good = collection
        .join("coverage/node-2-_host_-kubelet-20250101T090000Z")
        .join(format!("covmeta.{HASH}"));
    assert_eq!(std::fs::read(good).unwrap(), b"meta bytes");
    assert_eq!(summary.files_downloaded, 1, "{summary}");
}

#[tokio::test]
async fn objects_over_the_compile_limits_are_skipped_before_transfer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    let dir = instance(&root);
    // Sparse: no disk is used by the source, and none may be used by the copy.
    let big = dir.join(format!("covcounters.{HASH}.43.1"));
    let f = std::fs::File::create(&big).unwrap();
    f.set_len((512 << 20) + 1).unwrap();
    drop(f);
    let info = dir.join("info.json");
    let f = std::fs::File::create(&info).unwrap();
    f.set_len((1 << 20) + 1).unwrap();
    drop(f);

    let url = url::Url::from_directory_path(&root).unwrap().to_string();
    let collection = tmp.path().join("collection");
    let summary = download(&DownloadOptions::new(&url, &collection))
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}\n{:#?}", summary.errors);
    let files = downloaded(&collection);
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        [
            format!("covcounters.{HASH}.42.1"),
            format!("covmeta.{HASH}"),
        ],
        "{summary}"
    );
    let skipped = skipped(&summary);
    assert_eq!(
        skipped.get(&format!("{KUBELET}/covcounters.{HASH}.43.1")),
        Some(&SkipReason::TooLarge {
            size: (512 << 20) + 1,
            limit: 512 << 20
        }),
        "{summary}"
    );
    assert_eq!(
        skipped.get(&format!("{KUBELET}/info.json")),
        Some(&SkipReason::TooLarge {
            size: (1 << 20) + 1,
            limit: 1 << 20
        }),
        "{summary}"
    );
    let text = summary.to_string();
    assert!(
        text.contains("536870913 bytes, over the 512 MiB limit"),
        "{text}"
    );
}
