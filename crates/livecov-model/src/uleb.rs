//! Unsigned LEB128, the variable-length integer of Go's coverage files and of livecov's
//! stored counter vectors: seven value bits per byte, least significant group first.

/// Appends `v` in minimal ULEB128.
pub fn put_uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_encodings() {
        for (v, bytes) in [
            (0u64, vec![0x00]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
        ] {
            let mut out = Vec::new();
            put_uleb(&mut out, v);
            assert_eq!(out, bytes);
        }
    }
}
