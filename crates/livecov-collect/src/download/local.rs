//! Listing and copying a local source directory.
//!
//! A local source may be writable by someone other than the user who downloads it (a
//! shared mount of a producer's bucket), so, unlike object_store's `LocalFileSystem`:
//! - symbolic links are never followed, neither to files nor to directories: a link
//!   could name a file outside the tree (`covcounters.x.1.1` → `/etc/shadow`) or make a
//!   loop; each is skipped and reported;
//! - only regular files are copied: FIFOs, sockets and devices are skipped and reported,
//!   and never opened;
//! - a name that is not UTF-8, holds a control character or is not a valid object key is
//!   skipped and reported (escaped), and the rest of the tree is still listed;
//! - a copy is no more accessible than its source (mode bits are intersected);
//! - files are opened with `O_NOFOLLOW | O_NONBLOCK` and checked to be regular once
//!   opened, so a file swapped for a link or a FIFO after the listing is refused too.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path as FsPath;
use std::time::{SystemTime, UNIX_EPOCH};

use object_store::path::Path;
use object_store::ObjectMeta;

use super::Error;
use crate::producer::{SkipReason, SkippedKey};

/// Every regular file under `root` as object metadata (keys relative to `root`), and
/// what was skipped.
pub(super) fn list(root: &FsPath) -> (Vec<ObjectMeta>, Vec<SkippedKey>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, key)) = pending.pop() {
        let skip = |key: &str, reason| SkippedKey {
            key: key.to_string(),
            reason,
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                skipped.push(skip(&key, SkipReason::Unreadable(e.to_string())));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    skipped.push(skip(&key, SkipReason::Unreadable(e.to_string())));
                    continue;
                }
            };
            let name = entry.file_name();
            let child = match name.to_str() {
                Some(name) if key.is_empty() => name.to_string(),
                Some(name) => format!("{key}/{name}"),
                None => {
                    let shown = format!("{key}/{}", name.to_string_lossy().escape_debug());
                    skipped.push(skip(shown.trim_start_matches('/'), SkipReason::BadName));
                    continue;
                }
            };
            // `Path::parse` keeps the name as it is (no percent-encoding), so the key, the
            // local file name and the name read back in `copy` are one string.
            let location = match Path::parse(&child) {
                Ok(location) if !child.chars().any(char::is_control) => location,
                _ => {
                    skipped.push(skip(&child.escape_debug().to_string(), SkipReason::BadName));
                    continue;
                }
            };
            // `DirEntry::metadata` does not follow links.
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) => {
                    skipped.push(skip(&child, SkipReason::Unreadable(e.to_string())));
                    continue;
                }
            };
            let kind = meta.file_type();
            if kind.is_symlink() {
                skipped.push(skip(&child, SkipReason::Link));
            } else if kind.is_dir() {
                pending.push((entry.path(), child));
            } else if kind.is_file() {
                files.push(object_meta(location, &meta));
            } else {
                skipped.push(skip(&child, SkipReason::NotRegular));
            }
        }
    }
    (files, skipped)
}

/// The metadata object_store's `LocalFileSystem` gives a file (the same ETag scheme, so
/// manifests written by earlier downloads still match).
fn object_meta(location: Path, meta: &Metadata) -> ObjectMeta {
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let micros = modified
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    ObjectMeta {
        location,
        last_modified: modified.into(),
        size: meta.len(),
        e_tag: Some(format!("{:x}-{micros:x}-{:x}", meta.ino(), meta.len())),
        version: None,
    }
}

/// Copies the regular file `root/location` to `path` through a temporary file, with the
/// source's mtime and no wider permissions than the source's; returns the source's
/// metadata as copied.
pub(super) fn copy(
    root: &FsPath,
    location: &Path,
    path: &FsPath,
    url: &str,
) -> Result<ObjectMeta, Error> {
    let src = location
        .parts()
        .fold(root.to_path_buf(), |p, part| p.join(part.as_ref()));
    let refuse = |reason: &str| Error::Io {
        action: "reading",
        path: src.clone(),
        error: std::io::Error::other(reason.to_string()),
    };
    // The listing saw only real directories; one replaced by a link since then would lead
    // out of the tree.
    let parent = src.parent().unwrap_or(root);
    if !std::fs::canonicalize(parent).is_ok_and(|p| p.starts_with(root)) {
        return Err(refuse("its directory is no longer inside the source tree"));
    }
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&src)
        .map_err(|error| Error::Io {
            action: "opening (links are not followed)",
            path: src.clone(),
            error,
        })?;
    let meta = file.metadata().map_err(|error| Error::Io {
        action: "reading",
        path: src.clone(),
        error,
    })?;
    if !meta.is_file() {
        return Err(refuse("not a regular file"));
    }
    let save = |action: &'static str| {
        move |error| Error::Save {
            url: url.to_string(),
            path: path.to_path_buf(),
            action,
            error,
        }
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{}.livecov-part", name.unwrap_or_default()));
    let written = (|| {
        // A stale temporary file keeps its old mode: start afresh.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(save("removing a stale temporary file")(e))
            }
            _ => {}
        }
        let mode = meta.permissions().mode() & 0o666;
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(save("creating a temporary file"))?;
        // The mode given at creation is narrowed by the umask; narrow it by the source's
        // mode as well, whatever the umask.
        let created = out.metadata().map_err(save("creating a temporary file"))?;
        let narrowed = created.permissions().mode() & mode;
        out.set_permissions(std::fs::Permissions::from_mode(narrowed))
            .map_err(save("setting permissions"))?;
        let got = copy_bytes(&mut file, &mut out, meta.len()).map_err(save("writing"))?;
        if got != meta.len() {
            return Err(Error::Length {
                url: url.to_string(),
                got,
                want: meta.len(),
            });
        }
        out.set_modified(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))
            .map_err(save("setting the mtime"))?;
        drop(out);
        std::fs::rename(&tmp, path).map_err(save("renaming the temporary file"))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| object_meta(location.clone(), &meta))
}

/// Copies at most `len` bytes; returns how many there were.
fn copy_bytes(from: &mut File, to: &mut File, len: u64) -> std::io::Result<u64> {
    let got = std::io::copy(&mut from.take(len), to)?;
    to.flush()?;
    Ok(got)
}
