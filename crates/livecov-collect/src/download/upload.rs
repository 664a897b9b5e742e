//! Writing the producer's layout to an object store: `livecov collect --output URL`.
//!
//! The reverse of a download, through the same set-up: the URL is parsed and the
//! store built by the download's own code (`Source`, `build_store`:
//! the same schemes, endpoints, AWS profiles, credential chains and store options), so
//! whatever `cluster download URL` reads, `collect --output URL` writes. Each series of
//! the collection goes to `{prefix}/{Instance::key_dir}/` with the files the producer
//! uploads (`info.json`, `covmeta.<hash>`, `covcounters.<hash>.<pid>.<1|2>`); the local
//! `metadata.json` stays local (download writes its own from the keys).
//!
//! A file is uploaded when its size or modification time changed since its last upload
//! by this [`Uploader`], so the meta-data goes once and each round sends the one counter
//! file it rewrote. A failed file is reported with its URL and tried again next round.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::time::SystemTime;

use object_store::path::Path;
use object_store::PutPayload;

use super::{build_store, Backend, DownloadOptions, Error, Source};
use crate::producer::FileKind;

/// What one [`Uploader::sync`] did.
#[derive(Debug, Default)]
pub struct UploadSummary {
    /// Files written to the store.
    pub uploaded: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Files unchanged since their last upload.
    pub unchanged: usize,
    /// Files that could not be read or written, each naming its URL.
    pub errors: Vec<Error>,
}

/// Uploads series directories to an object store (or a local directory) in the
/// producer's layout.
pub struct Uploader {
    backend: Backend,
    source: Source,
    /// What was uploaded: object URL → (size, mtime).
    done: BTreeMap<String, (u64, Option<SystemTime>)>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("base", &self.source.base)
            .field("uploaded", &self.done.len())
            .finish()
    }
}

impl Uploader {
    /// An uploader to `opts`'s source URL (`s3://bucket/prefix`, `gs://…`, `az://…`,
    /// `file:///dir` or a plain path, created when missing), with its endpoint, region,
    /// profile and store options; the collection of `opts` is not used.
    pub fn new(opts: &DownloadOptions) -> Result<Uploader, Error> {
        let given = opts.source.as_str();
        let local = if let Some(rest) = given.strip_prefix("file://") {
            Some(
                url::Url::parse(given)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .ok_or_else(|| Error::Source {
                        url: given.to_owned(),
                        reason: format!("{rest:?} is not a local absolute path"),
                    })?,
            )
        } else if !given.contains("://") {
            Some(PathBuf::from(given))
        } else {
            None
        };
        if let Some(dir) = local {
            // A local output is created; a download source must exist.
            std::fs::create_dir_all(&dir).map_err(|error| Error::Io {
                action: "creating directory",
                path: dir.clone(),
                error,
            })?;
        }
        let source = Source::parse(given)?;
        let backend = build_store(&source, opts)?;
        Ok(Uploader {
            backend,
            source,
            done: BTreeMap::new(),
        })
    }

    /// The output as a URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.source.base
    }

    /// Uploads the new or changed files of each `(key_dir, local directory)`.
    pub async fn sync(&mut self, series: &[(String, PathBuf)]) -> UploadSummary {
        let mut out = UploadSummary::default();
        for (key_dir, dir) in series {
            let mut names: Vec<(String, u64, Option<SystemTime>)> = Vec::new();
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    for e in entries.flatten() {
                        let Ok(name) = e.file_name().into_string() else {
                            continue;
                        };
                        if FileKind::of(&name).is_none() {
                            continue;
                        }
                        let Ok(meta) = e.metadata() else { continue };
                        if meta.is_file() {
                            names.push((name, meta.len(), meta.modified().ok()));
                        }
                    }
                }
                Err(error) => {
                    out.errors.push(Error::Io {
                        action: "listing",
                        path: dir.clone(),
                        error,
                    });
                    continue;
                }
            }
            names.sort();
            for (name, len, mtime) in names {
                let key = format!("{key_dir}/{name}");
                let url = format!("{}/{key}", self.source.base);
                if self.done.get(&url) == Some(&(len, mtime)) {
                    out.unchanged += 1;
                    continue;
                }
                let path = dir.join(&name);
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(error) => {
                        out.errors.push(Error::Io {
                            action: "reading",
                            path,
                            error,
                        });
                        continue;
                    }
                };
                let n = bytes.len() as u64;
                match self.put(&key, &url, bytes).await {
                    Ok(()) => {
                        out.uploaded += 1;
                        out.bytes += n;
                        self.done.insert(url, (len, mtime));
                    }
                    Err(e) => out.errors.push(e),
                }
            }
        }
        out
    }

    async fn put(&self, key: &str, url: &str, bytes: Vec<u8>) -> Result<(), Error> {
        match &self.backend {
            Backend::Store(store) => {
                let prefix = self.source.prefix.as_ref();
                let full = if prefix.is_empty() {
                    key.to_owned()
                } else {
                    format!("{prefix}/{key}")
                };
                let location = Path::parse(&full).map_err(|e| Error::Source {
                    url: url.to_owned(),
                    reason: format!("not a valid object key: {e}"),
                })?;
                store
                    .put(&location, PutPayload::from(bytes))
                    .await
                    .map(|_| ())
                    .map_err(|error| Error::Get {
                        url: format!("PUT {url}"),
                        attempts: 1,
                        error,
                    })
            }
            Backend::Local(root) => {
                write_local(root, key, &bytes).map_err(|(path, error)| Error::Save {
                    url: url.to_owned(),
                    path,
                    action: "writing",
                    error,
                })
            }
        }
    }
}

/// Writes `root/key` through a temporary file and a rename; no directory of the key may
/// be a link (the output is not written through links, as downloads are not).
fn write_local(root: &FsPath, key: &str, bytes: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
    let path = root.join(key);
    let mut dir = root.to_path_buf();
    for part in key
        .split('/')
        .take(key.split('/').count().saturating_sub(1))
    {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err((
                    dir,
                    std::io::Error::other("a symbolic link; not written through"),
                ))
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir(&dir).map_err(|e| (dir.clone(), e))?,
        }
    }
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| (tmp.clone(), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| (path.clone(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_output_gets_the_bucket_layout_and_skips_unchanged_files() {
        let tmp = tempfile::tempdir().unwrap();
        let series = tmp.path().join("series");
        std::fs::create_dir(&series).unwrap();
        std::fs::write(series.join("covmeta.00"), b"meta").unwrap();
        std::fs::write(series.join("covcounters.00.1.1"), b"c1").unwrap();
        std::fs::write(series.join("metadata.json"), b"{}").unwrap();
        let out = tmp.path().join("bucket/prefix");
        let mut up = Uploader::new(&DownloadOptions::new(
            format!("file://{}", out.display()),
            "",
        ))
        .unwrap();
        let key = "node-1/_host_/20260101T000000Z/svc".to_owned();
        let list = [(key.clone(), series.clone())];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let first = rt.block_on(up.sync(&list));
        assert_eq!((first.uploaded, first.unchanged), (2, 0), "{first:?}");
        assert!(first.errors.is_empty());
        assert_eq!(
            std::fs::read(out.join(&key).join("covmeta.00")).unwrap(),
            b"meta"
        );
        assert!(!out.join(&key).join("metadata.json").exists());
        let second = rt.block_on(up.sync(&list));
        assert_eq!((second.uploaded, second.unchanged), (0, 2));
        // A link inside the output is not written through.
        std::fs::remove_dir_all(out.join("node-1")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), out.join("node-1")).unwrap();
        let mut again =
            Uploader::new(&DownloadOptions::new(out.display().to_string(), "")).unwrap();
        let linked = rt.block_on(again.sync(&list));
        assert_eq!(linked.uploaded, 0);
        assert!(
            linked.errors[0].to_string().contains("symbolic link"),
            "{:?}",
            linked.errors
        );
    }
}
