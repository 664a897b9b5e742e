//! Counter vectors at rest: sparse, then zstd-compressed.
//!
//! Most counters of a process are zero (functions never run). A vector is stored as
//! ULEB128 pairs (zeros skipped since the previous non-zero counter, value) for its
//! non-zero counters only, then zstd at level 1. That is small, fast to write, and can be
//! merged into a dense vector without materialising the stored one
//! ([`for_each_nonzero`]).

use livecov_model::uleb::put_uleb;

/// zstd failed to compress a value for the store. Never replaced by an empty blob: that
/// would be stored and only fail, far from its cause, when a page or report reads it.
#[derive(Debug, thiserror::Error)]
#[error("compressing {what} for the store (zstd level {LEVEL}) failed: {source}")]
pub struct CompressError {
    /// What was being compressed ("counters", "a layout").
    pub what: &'static str,
    /// zstd's error.
    #[source]
    pub source: std::io::Error,
}

/// The zstd level of every stored blob: fast, and small enough for sparse counters.
const LEVEL: i32 = 1;

/// Compresses a counter vector.
pub fn compress_counters(counters: &[u32]) -> Result<Vec<u8>, CompressError> {
    let mut raw = Vec::with_capacity(counters.len() / 4 + 16);
    let mut last = 0usize;
    // Skip zero runs eight counters at a time.
    for (chunk_index, chunk) in counters.chunks(8).enumerate() {
        if chunk.iter().fold(0, |acc, &c| acc | c) == 0 {
            continue;
        }
        for (j, &c) in chunk.iter().enumerate() {
            if c != 0 {
                let i = chunk_index * 8 + j;
                put_uleb(&mut raw, (i - last) as u64);
                put_uleb(&mut raw, u64::from(c));
                last = i + 1;
            }
        }
    }
    compress("counters", &raw, &[])
}

/// Compresses `bytes` at [`LEVEL`] with extra zstd parameters (none outside the tests,
/// which use an invalid one to make zstd fail).
fn compress(
    what: &'static str,
    bytes: &[u8],
    parameters: &[zstd::zstd_safe::CParameter],
) -> Result<Vec<u8>, CompressError> {
    let err = |source| CompressError { what, source };
    let mut compressor = zstd::bulk::Compressor::new(LEVEL).map_err(err)?;
    for &p in parameters {
        compressor.set_parameter(p).map_err(err)?;
    }
    compressor.compress(bytes).map_err(err)
}

fn get_uleb(raw: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let b = *raw
            .get(*pos)
            .ok_or_else(|| "counter data ends inside a value".to_owned())?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift > 63 {
            return Err("counter data holds an over-long value".to_owned());
        }
    }
}

/// Calls `f(index, value)` for every non-zero counter of a stored vector of `len`
/// counters, in index order. Errors name what was wrong; `f` is not called for a
/// vector that fails to decompress.
pub fn for_each_nonzero(
    bytes: &[u8],
    len: usize,
    mut f: impl FnMut(usize, u32),
) -> Result<(), String> {
    if bytes.is_empty() {
        // zstd decodes an empty input as an empty vector, i.e. all zeros; a blob written
        // by zstd is never empty (stores of older releases hold such blobs where
        // compression failed).
        return Err("stored counters are empty (not a zstd frame); compile again".to_owned());
    }
    // Each non-zero counter takes at most 10 + 5 bytes.
    let raw = zstd::bulk::decompress(bytes, len.saturating_mul(15).max(64))
        .map_err(|e| format!("decompressing counters: {e}"))?;
    let mut pos = 0;
    let mut index = 0usize;
    let mut pairs = Vec::new();
    while pos < raw.len() {
        let gap = get_uleb(&raw, &mut pos)?;
        let value = get_uleb(&raw, &mut pos)?;
        index = index
            .checked_add(usize::try_from(gap).map_err(|_| "counter gap too large".to_owned())?)
            .filter(|&i| i < len)
            .ok_or_else(|| format!("counter index beyond the {len} counters of the layout"))?;
        let value = u32::try_from(value).map_err(|_| "counter value exceeds 32 bits".to_owned())?;
        pairs.push((index, value));
        index += 1;
    }
    for (i, v) in pairs {
        f(i, v);
    }
    Ok(())
}

/// Decompresses a counter vector of `len` counters.
pub fn decompress_counters(bytes: &[u8], len: usize) -> Result<Vec<u32>, String> {
    let mut out = vec![0u32; len];
    for_each_nonzero(bytes, len, |i, v| out[i] = v)?;
    Ok(out)
}

/// Compresses a build's layout (its meta file) for the store.
pub fn compress_layout(bytes: &[u8]) -> Result<Vec<u8>, CompressError> {
    compress("a layout", bytes, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_size_check() {
        let v: Vec<u32> = (0..10_000)
            .map(|i| if i % 97 == 0 { i * 1000 } else { 0 })
            .chain([u32::MAX, 127, 128, 0, 0])
            .collect();
        let c = compress_counters(&v).unwrap();
        assert!(c.len() < 1_000, "{} bytes", c.len());
        assert_eq!(decompress_counters(&c, v.len()).unwrap(), v);
        assert!(
            decompress_counters(&c, 10_000).is_err(),
            "index beyond the layout"
        );
        assert!(decompress_counters(b"junk", 4).is_err());
        assert_eq!(
            decompress_counters(&compress_counters(&[0; 5]).unwrap(), 5).unwrap(),
            vec![0; 5]
        );
    }

    #[test]
    fn a_compression_failure_is_an_error_not_an_empty_blob() {
        // zstd refuses a window of 2^40 bytes; it cannot be made to fail otherwise.
        let bad = [zstd::zstd_safe::CParameter::WindowLog(40)];
        let e = compress("counters", b"\x01\x02", &bad).unwrap_err();
        assert_eq!(e.what, "counters");
        let text = e.to_string();
        assert!(
            text.starts_with("compressing counters for the store (zstd level 1) failed: "),
            "{text}"
        );
        // What the old `unwrap_or_default()` stored instead read back as "nothing ran";
        // now it is refused.
        let e = decompress_counters(&[], 2).unwrap_err();
        assert!(e.contains("stored counters are empty"), "{e}");
        assert!(!compress_layout(b"meta").unwrap().is_empty());
    }
}
