//! The rules every reader of Go coverage directories shares (`livecov go` and
//! `cluster compile`): how a file is read from disk, how a counter file's records are
//! laid onto its build, and which copy of a layout is trusted.
//!
//! One rule set, so the same damaged input gives the same result and the same message
//! whichever command reads it.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use livecov_model::{merge_counters, CounterMode};

use super::dir::Layout;
use super::hash::{file_hash, merge_file_hash, package_hash, HashAlgo};
use super::{granularity_name, mode_name, CounterFileReader, MetaFile};

/// The largest coverage file read: generous (the meta file of a very large Go binary is
/// tens of megabytes), and far below what would exhaust memory on a small machine.
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// How many bytes are read before the rest, so a file that is not coverage data is
/// refused after its header, not after reading it whole.
const HEADER_PROBE: usize = 64;

/// Reads coverage file `path` into `buf` (cleared first): only a regular file (after
/// following links), only up to [`MAX_FILE_BYTES`], and only when its first four bytes
/// are `magic`. The message names the file and what was expected.
pub fn read_data_file(path: &Path, magic: [u8; 4], buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    let p = path.display();
    // Checked before opening: opening a FIFO for reading waits for a writer.
    let meta = fs::metadata(path).map_err(|e| format!("reading {p}: {e}"))?;
    check_regular(path, &meta)?;
    let mut f = fs::File::open(path).map_err(|e| format!("reading {p}: {e}"))?;
    // Checked again on the open file: the name may have been replaced in between.
    let meta = f.metadata().map_err(|e| format!("reading {p}: {e}"))?;
    check_regular(path, &meta)?;
    let mut head = [0u8; HEADER_PROBE];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading {p}: {e}")),
        }
    }
    if got >= 4 && head[..4] != magic {
        let spaced = |b: &[u8]| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        return Err(format!(
            "{p}: at byte offset 0: bad magic {}: expected {} (not a Go coverage file)",
            spaced(&head[..4]),
            spaced(&magic)
        ));
    }
    let mut rest = MAX_FILE_BYTES - got as u64;
    if magic == super::COUNTER_MAGIC && meta.len() >= (got + 16) as u64 {
        // The footer (last 16 bytes) says whether the file is whole: checked before the
        // body is read, so a truncated or padded file costs one small read.
        let at = meta.len() - 16;
        let mut footer = [0u8; 4];
        f.seek(SeekFrom::Start(at))
            .and_then(|_| f.read_exact(&mut footer))
            .and_then(|_| f.seek(SeekFrom::Start(got as u64)))
            .map_err(|e| format!("reading {p}: {e}"))?;
        if footer != magic {
            return Err(format!(
                "{p}: at byte offset {at}: missing footer magic in the last 16 bytes \
                 (truncated or not a counter-data file)"
            ));
        }
    }
    if magic == super::META_MAGIC && got >= 16 {
        // Only the length the header declares is the file; what follows is never read.
        let declared = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
        if declared >= got as u64 && declared <= MAX_FILE_BYTES {
            rest = declared - got as u64;
        }
    }
    buf.reserve(meta.len().min(rest + got as u64) as usize);
    buf.extend_from_slice(&head[..got]);
    // The size may grow after the check (a file being written): never past the bound.
    f.take(rest + 1)
        .read_to_end(buf)
        .map_err(|e| format!("reading {p}: {e}"))?;
    if magic == super::META_MAGIC && got >= 16 {
        // What lies past the declared length (padding, a second file) is not the layout.
        let declared = u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
        if (buf.len() as u64) > declared && declared >= got as u64 {
            buf.truncate(declared as usize);
        }
    }
    if buf.len() as u64 > MAX_FILE_BYTES {
        buf.clear();
        return Err(too_large(path, MAX_FILE_BYTES + 1));
    }
    Ok(())
}

fn check_regular(path: &Path, meta: &fs::Metadata) -> Result<(), String> {
    if !meta.is_file() {
        return Err(format!(
            "{}: not a regular file ({}); coverage files are regular files",
            path.display(),
            kind_of(meta)
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(path, meta.len()));
    }
    Ok(())
}

fn too_large(path: &Path, len: u64) -> String {
    format!(
        "{}: {len} bytes, over the {} MiB a coverage file may have; not read",
        path.display(),
        MAX_FILE_BYTES >> 20
    )
}

fn kind_of(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Whether the hash in a meta file's header is the hash of its content, as a running
/// program (Go 1.20–1.23 MD5, 1.24+ FNV-1a) or `covdata merge` writes it. A copy that
/// verifies is trusted over one that only decodes.
pub fn meta_hash_verifies(meta: &MetaFile, bytes: &[u8]) -> bool {
    [HashAlgo::Fnv128a, HashAlgo::Md5].into_iter().any(|algo| {
        let packages: Vec<[u8; 16]> = meta
            .packages
            .iter()
            .map(|p| package_hash(algo, p))
            .collect();
        let runtime = file_hash(
            algo,
            &packages,
            mode_name(meta.mode),
            granularity_name(meta.granularity),
        );
        runtime == meta.hash
            || merge_file_hash(algo, meta.blobs.iter().filter_map(|r| bytes.get(r.clone())))
                == meta.hash
    })
}

/// A function record of a counter file that does not fit its build's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordProblem {
    /// Byte offset of the record in the counter file.
    pub offset: u64,
    /// What is wrong and what was done about it.
    pub message: String,
}

/// Lays the records of one counter file (as [`CounterFileReader::read_all_records`]
/// returned them) onto `counters`, aligned to `layout`, merging with the sum rule, and
/// marks the functions seen in `live` (when given).
///
/// The rules: a record naming a package or function the layout does not have is
/// ignored; a record with more counters than its function's units keeps the first ones
/// (as `go tool covdata` does); one with fewer cannot be aligned and is ignored. Each is
/// reported in `problems`. Returns whether a sum was clamped at `u32::MAX`.
#[allow(clippy::too_many_arguments)] // Each argument is a different piece of one read.
pub fn merge_records(
    reader: &CounterFileReader<'_>,
    records: &[u32],
    meta: &MetaFile,
    layout: &Layout,
    mode: CounterMode,
    counters: &mut [u32],
    mut live: Option<&mut [bool]>,
    problems: &mut Vec<RecordProblem>,
) -> bool {
    let mut overflowed = false;
    // Record offsets only matter for messages, which are rare: found when first needed.
    let mut offsets: Option<Vec<u64>> = None;
    let mut offset_of = |k: usize| {
        let offsets = offsets.get_or_insert_with(|| reader.record_offsets());
        offsets.get(k).copied().unwrap_or(0)
    };
    for (k, (pi, fi, src)) in CounterFileReader::records(records).enumerate() {
        let (pi, fi) = (pi as usize, fi as usize);
        let Some(g) = layout.global_index(pi, fi) else {
            let message = match meta.packages.get(pi) {
                None => format!(
                    "function record {k} names package {pi} but the meta-data file has {} \
                     (index out of range); record ignored",
                    meta.packages.len()
                ),
                Some(pkg) => format!(
                    "function record {k} names function {fi} of package {} which has {} \
                     (index out of range); record ignored",
                    pkg.path,
                    pkg.functions.len()
                ),
            };
            problems.push(RecordProblem {
                offset: offset_of(k),
                message,
            });
            continue;
        };
        let range = layout.func_range(pi, fi);
        let (len, units) = (src.len(), range.len());
        if len != units {
            let func = &meta.packages[pi].functions[fi];
            let what = if len > units {
                "the extra counters are ignored"
            } else {
                "record ignored"
            };
            problems.push(RecordProblem {
                offset: offset_of(k),
                message: format!(
                    "function record {k} ({} in {}) has {len} counters, expected {units} \
                     (the units its meta-data file declares); {what}",
                    func.name, func.file,
                ),
            });
            if len < units {
                continue;
            }
        }
        overflowed |= merge_counters(mode, &mut counters[range], &src[..units]).overflowed;
        if let Some(live) = live.as_deref_mut() {
            live[g] = true;
        }
    }
    overflowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const MAGIC: [u8; 4] = [0x00, 0x63, 0x77, 0x6d];

    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("covcounters.x.1.2");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let err = read_data_file(&fifo, MAGIC, &mut Vec::new()).unwrap_err();
        assert!(err.contains("a FIFO"), "{err}");
        assert!(err.contains("covcounters.x.1.2"), "{err}");
    }

    #[test]
    fn character_device_is_refused() {
        let err = read_data_file(Path::new("/dev/zero"), MAGIC, &mut Vec::new()).unwrap_err();
        assert!(err.contains("a character device"), "{err}");
    }

    #[test]
    fn sparse_file_over_the_bound_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("covmeta.big");
        let f = fs::File::create(&path).unwrap();
        f.set_len(2 << 30).unwrap();
        let mut buf = Vec::new();
        let err = read_data_file(&path, MAGIC, &mut buf).unwrap_err();
        assert!(err.contains("2147483648 bytes, over the 512 MiB"), "{err}");
        assert!(buf.capacity() < 1 << 20, "nothing was read");
    }

    #[test]
    fn wrong_magic_is_refused_after_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("covcounters.text");
        fs::File::create(&path)
            .unwrap()
            .write_all(&vec![b'x'; 10_000])
            .unwrap();
        let mut buf = Vec::new();
        let err = read_data_file(&path, MAGIC, &mut buf).unwrap_err();
        assert!(err.contains("at byte offset 0: bad magic"), "{err}");
        assert!(buf.len() <= HEADER_PROBE);
    }

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("covcounters.ok");
        let mut bytes = MAGIC.to_vec();
        bytes.extend((0..100_000u32).map(|i| i as u8));
        // A counter file ends in a footer that starts with the magic.
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&[0; 12]);
        fs::write(&path, &bytes).unwrap();
        let mut buf = vec![1, 2, 3];
        read_data_file(&path, MAGIC, &mut buf).unwrap();
        assert_eq!(buf, bytes);
    }

    /// Attack finding F8: a counter file padded to hundreds of MB (sparse, 0 bytes on
    /// disk) was read whole before its missing footer was noticed; a meta file's
    /// padding after its declared length was read and kept.
    #[test]
    fn a_padded_counter_file_is_refused_by_its_footer_and_meta_padding_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("covcounters.big");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[0; 60]);
        fs::write(&path, &bytes).unwrap();
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(400 << 20).unwrap();
        let mut buf = Vec::new();
        let err = read_data_file(&path, MAGIC, &mut buf).unwrap_err();
        assert!(err.contains("missing footer magic"), "{err}");
        assert!(buf.capacity() < 1 << 20, "nothing past the header was read");

        let meta = dir.path().join("covmeta.padded");
        let mut m = super::super::META_MAGIC.to_vec();
        m.extend_from_slice(&[1, 0, 0, 0]);
        m.extend_from_slice(&80u64.to_le_bytes());
        m.extend((16..80u32).map(|i| i as u8));
        let whole = m.clone();
        m.extend_from_slice(&[0xee; 1000]);
        fs::write(&meta, &m).unwrap();
        read_data_file(&meta, super::super::META_MAGIC, &mut buf).unwrap();
        assert_eq!(buf, whole, "the declared 80 bytes, not the padding");
    }
}
