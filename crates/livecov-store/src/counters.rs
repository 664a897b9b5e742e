//! Counter vectors at rest: ULEB128-encoded, then zstd-compressed.
//!
//! Most counters of a process are zero (functions never run): ULEB128 turns each into
//! one byte, a quarter of a little-endian u32, and zstd folds the runs to almost
//! nothing. Encoding first keeps compression (at level 1) fast enough that compiling
//! hundreds of processes is dominated by reading them.

/// Compresses a counter vector.
pub fn compress_counters(counters: &[u32]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(counters.len() + 16);
    for &c in counters {
        let mut v = c;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                raw.push(byte);
                break;
            }
            raw.push(byte | 0x80);
        }
    }
    zstd::bulk::compress(&raw, 1).unwrap_or_default()
}

/// Decompresses a counter vector of `len` counters. Errors name what was wrong.
pub fn decompress_counters(bytes: &[u8], len: usize) -> Result<Vec<u32>, String> {
    // A u32 takes at most 5 ULEB bytes.
    let raw = zstd::bulk::decompress(bytes, len * 5)
        .map_err(|e| format!("decompressing counters: {e}"))?;
    let mut out = Vec::with_capacity(len);
    let mut value: u64 = 0;
    let mut shift = 0;
    for &b in &raw {
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            out.push(u32::try_from(value).map_err(|_| "counter value exceeds 32 bits".to_owned())?);
            value = 0;
            shift = 0;
        } else {
            shift += 7;
            if shift > 28 {
                return Err("counter value longer than 5 bytes".to_owned());
            }
        }
    }
    if shift != 0 || out.len() != len {
        return Err(format!(
            "counter vector holds {} counters, expected {len}",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_size_check() {
        let v: Vec<u32> = (0..10_000)
            .map(|i| if i % 97 == 0 { i * 1000 } else { 0 })
            .chain([u32::MAX, 127, 128])
            .collect();
        let c = compress_counters(&v);
        assert!(c.len() < 2_000, "{} bytes", c.len());
        assert_eq!(decompress_counters(&c, v.len()).unwrap(), v);
        assert!(decompress_counters(&c, v.len() + 1).is_err());
        assert!(decompress_counters(b"junk", 4).is_err());
    }
}
