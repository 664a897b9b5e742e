//! Bounds-checked reading and plain writing of the primitives both Go files use:
//! little-endian integers, ULEB128 and string tables.

use super::DecodeError;

/// A read position in an untrusted byte slice. Every read checks what remains.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor { bytes, pos }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Reads `n` ULEB128 values that must fit in 32 bits, appending them to `out`.
    /// The loop the counter payload spends its time in: one-byte values (zero and small
    /// counts, by far the most common) take a single compare.
    pub(crate) fn uleb32_many(
        &mut self,
        n: usize,
        out: &mut Vec<u32>,
        what: &str,
    ) -> Result<(), DecodeError> {
        out.reserve(n);
        let mut left = n;
        while left > 0 {
            // Eight one-byte values at once when no continuation bit is set.
            if left >= 8 {
                if let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
                    let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
                    if word & 0x8080_8080_8080_8080 == 0 {
                        out.extend(chunk.iter().map(|&b| u32::from(b)));
                        self.pos += 8;
                        left -= 8;
                        continue;
                    }
                }
            }
            match self.bytes.get(self.pos..self.pos + 2) {
                Some(&[b, _]) if b < 0x80 => {
                    self.pos += 1;
                    out.push(u32::from(b));
                }
                Some(&[b0, b1]) if b1 < 0x80 => {
                    self.pos += 2;
                    out.push(u32::from(b0 & 0x7f) | (u32::from(b1) << 7));
                }
                _ => out.push(self.uleb32(what)?),
            }
            left -= 1;
        }
        Ok(())
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::new(
                self.pos as u64,
                format!(
                    "{what}: need {n} bytes, only {} left (truncated file?)",
                    self.remaining()
                ),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    #[inline]
    pub(crate) fn u32_le(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub(crate) fn u32_be(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub(crate) fn u64_le(&mut self, what: &str) -> Result<u64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    #[inline]
    pub(crate) fn hash16(&mut self, what: &str) -> Result<[u8; 16], DecodeError> {
        let b = self.take(16, what)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(a)
    }

    /// Reads an unsigned LEB128 value of at most 10 bytes (64 bits).
    #[inline]
    pub(crate) fn uleb64(&mut self, what: &str) -> Result<u64, DecodeError> {
        // Most values (counters, indices, short lengths) fit in one byte.
        if let Some(&b) = self.bytes.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.uleb64_multi(what)
    }

    #[inline(never)]
    fn uleb64_multi(&mut self, what: &str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(DecodeError::new(
                    start as u64,
                    format!("{what}: ULEB128 value runs past the end of the data"),
                ));
            };
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err(DecodeError::new(
                    start as u64,
                    format!("{what}: ULEB128 value does not fit in 64 bits"),
                ));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// Reads a ULEB128 value that must fit in 32 bits (strict: larger values are an
    /// error, where Go would silently truncate).
    #[inline]
    pub(crate) fn uleb32(&mut self, what: &str) -> Result<u32, DecodeError> {
        if let Some(&b) = self.bytes.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u32::from(b));
            }
        }
        let start = self.pos;
        let v = self.uleb64(what)?;
        u32::try_from(v).map_err(|_| {
            DecodeError::new(
                start as u64,
                format!("{what}: ULEB128 value {v} does not fit in 32 bits"),
            )
        })
    }

    /// Reads a string table (§1.3): a ULEB count, then per entry a ULEB length and bytes.
    pub(crate) fn string_table(&mut self, what: &str) -> Result<Vec<String>, DecodeError> {
        Ok(self
            .string_table_shared(what)?
            .iter()
            .map(|s| s.to_string())
            .collect())
    }

    /// Like [`Cursor::string_table`], with strings that can be shared cheaply.
    pub(crate) fn string_table_shared(
        &mut self,
        what: &str,
    ) -> Result<Vec<std::sync::Arc<str>>, DecodeError> {
        let at = self.pos;
        let n = self.uleb64(what)?;
        // Each entry needs at least one byte (its length), so the count is bounded by what
        // remains; this keeps a hostile count from allocating.
        if n > self.remaining() as u64 {
            return Err(DecodeError::new(
                at as u64,
                format!(
                    "{what}: string table claims {n} entries but only {} bytes remain",
                    self.remaining()
                ),
            ));
        }
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let len = self.uleb64(what)?;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let at = self.pos;
            let bytes = self
                .take(len, what)
                .map_err(|e| DecodeError::new(at as u64, format!("string {i}: {}", e.message)))?;
            out.push(std::sync::Arc::from(String::from_utf8_lossy(bytes)));
        }
        Ok(out)
    }
}

/// Decodes all of `bytes` as consecutive ULEB128 values that fit in 32 bits, into the
/// start of `out`, and returns them. `out` is a buffer reused from call to call: it is
/// grown as needed and never shrunk, so its spare length is not zeroed again per call.
///
/// `None` when a value does not fit in 32 bits or runs past the end; the caller then
/// reads value by value with a [`Cursor`], which says exactly where and why. Non-minimal
/// encodings decode as [`Cursor::uleb32`] decodes them.
///
/// Counter payloads are mostly one- and two-byte values in an unpredictable mix, which
/// costs a branch misprediction every few values when decoded one at a time. So this
/// decodes an 8-byte word at a time: the word's terminator bytes select a [`WordPlan`]
/// that says where each of its leading one- and two-byte values starts, and all eight
/// output slots are written without branching on the data (the slots past the plan's
/// count are overwritten by the next word).
pub(crate) fn uleb32_stream<'v>(bytes: &[u8], out: &'v mut Vec<u32>) -> Option<&'v [u32]> {
    // At most one value per byte, plus the eight slots a word may write past the end.
    let room = bytes.len() + 8;
    if out.len() < room {
        out.resize(room, 0);
    }
    let mut n = 0usize;
    let mut pos = 0usize;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let plan = &WORD_PLANS[continuation_bits(word)];
        let low7 = word & 0x7f7f_7f7f_7f7f_7f7f;
        // A second byte's seven bits, already moved to bit 7 of its value.
        let high7 = low7 >> 1;
        let slots = out.get_mut(n..n + 8)?;
        for (slot, (&shift, &high_mask)) in slots
            .iter_mut()
            .zip(plan.shifts.iter().zip(&plan.high_masks))
        {
            *slot = (((low7 >> shift) & 0x7f) | ((high7 >> shift) & u64::from(high_mask))) as u32;
        }
        n += usize::from(plan.count);
        pos += usize::from(plan.consumed);
        if plan.count == 0 {
            // The word starts with a value of three or more bytes.
            *out.get_mut(n)? = uleb32_at(bytes, &mut pos)?;
            n += 1;
        }
    }
    while pos < bytes.len() {
        *out.get_mut(n)? = uleb32_at(bytes, &mut pos)?;
        n += 1;
    }
    out.get(..n)
}

/// The continuation bits of the eight bytes of `word` (bit `i` from byte `i`), gathered
/// with a multiply, in place of a SIMD movemask: each bit lands in the top byte at a
/// distinct place and no two partial products meet there.
#[inline]
fn continuation_bits(word: u64) -> usize {
    ((word & 0x8080_8080_8080_8080).wrapping_mul(0x0002_0408_1020_4081) >> 56) as usize
}

/// One ULEB128 value at `*pos` with [`Cursor::uleb32`]'s rules; `None` instead of its
/// error.
#[inline(never)]
fn uleb32_at(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut c = Cursor::new(bytes, *pos);
    let v = c.uleb32("").ok()?;
    *pos = c.pos();
    Some(v)
}

/// How to decode the leading one- and two-byte values of an 8-byte word whose
/// continuation bits form a given pattern (see [`uleb32_stream`]). 32 bytes, so that
/// finding the plan of a word is a shift, on the path from one word to the next.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct WordPlan {
    /// Bit offset of each value's first byte in the word.
    shifts: [u8; 8],
    /// `0x3f80` for a two-byte value (its second byte's bits), 0 for a one-byte one.
    high_masks: [u16; 8],
    /// How many values the word holds before the first longer or unfinished one.
    count: u8,
    /// The bytes those values take.
    consumed: u8,
}

/// Indexed by the continuation pattern: bit `i` set when byte `i` does not end a value.
const WORD_PLANS: [WordPlan; 256] = word_plans();

const fn word_plans() -> [WordPlan; 256] {
    let empty = WordPlan {
        shifts: [0; 8],
        high_masks: [0; 8],
        count: 0,
        consumed: 0,
    };
    let mut plans = [empty; 256];
    let mut pattern = 0;
    while pattern < 256 {
        let plan = &mut plans[pattern];
        let mut start = 0;
        let mut byte = 0;
        while byte < 8 {
            if pattern >> byte & 1 == 0 {
                let len = byte + 1 - start;
                if len > 2 {
                    break;
                }
                let slot = plan.count as usize;
                plan.shifts[slot] = (start * 8) as u8;
                plan.high_masks[slot] = if len == 2 { 0x3f80 } else { 0 };
                plan.count += 1;
                start = byte + 1;
                plan.consumed = start as u8;
            }
            byte += 1;
        }
        pattern += 1;
    }
    plans
}

pub(crate) use livecov_model::uleb::put_uleb;

/// Interns strings in first-use order, as Go's string table writer does.
#[derive(Default)]
pub(crate) struct StringTableWriter {
    strings: Vec<String>,
    index: std::collections::HashMap<String, u32>,
}

impl StringTableWriter {
    /// A table that starts with `""` at index 0, like every table Go writes.
    pub(crate) fn new() -> StringTableWriter {
        let mut t = StringTableWriter::default();
        t.intern("");
        t
    }

    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }

    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        put_uleb(out, self.strings.len() as u64);
        for s in &self.strings {
            put_uleb(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uleb_round_trips_and_matches_go_examples() {
        for (v, bytes) in [
            (0u64, vec![0x00]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
        ] {
            let mut out = Vec::new();
            put_uleb(&mut out, v);
            assert_eq!(out, bytes);
            assert_eq!(Cursor::new(&bytes, 0).uleb64("x").unwrap(), v);
        }
        let mut out = Vec::new();
        put_uleb(&mut out, u64::MAX);
        assert_eq!(Cursor::new(&out, 0).uleb64("x").unwrap(), u64::MAX);
    }

    #[test]
    fn uleb_rejects_overlong_and_truncated_values() {
        assert!(Cursor::new(&[0x80, 0x80], 0).uleb64("x").is_err());
        assert!(Cursor::new(&[0xff; 11], 0).uleb64("x").is_err());
        let err = Cursor::new(&[0x80, 0x80, 0x80, 0x80, 0x10], 0)
            .uleb32("counter")
            .unwrap_err();
        assert!(err.to_string().contains("32 bits"), "{err}");
        // Non-minimal encodings are accepted, as Go does.
        assert_eq!(Cursor::new(&[0x81, 0x00], 0).uleb32("x").unwrap(), 1);
    }

    /// Decodes `bytes` value by value with a cursor, as the reference.
    fn one_at_a_time(bytes: &[u8]) -> Option<Vec<u32>> {
        let mut c = Cursor::new(bytes, 0);
        let mut out = Vec::new();
        while c.remaining() > 0 {
            out.push(c.uleb32("x").ok()?);
        }
        Some(out)
    }

    #[test]
    fn continuation_bits_gathers_every_pattern() {
        for pattern in 0..256usize {
            // Low bits vary so that they cannot leak into the result.
            let word = (0..8).fold(0u64, |w, i| {
                let high = if pattern >> i & 1 == 1 { 0x80 } else { 0 };
                let low = (0x5a ^ (i * 13)) & 0x7f;
                w | (high | low) << (8 * i)
            });
            assert_eq!(continuation_bits(word), pattern, "{word:016x}");
        }
    }

    #[test]
    fn uleb32_stream_matches_one_value_at_a_time() {
        // Values of every encoded length in random mixes, including non-minimal ones
        // and ones that do not fit in 32 bits, and a stream cut at every length.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut buf = vec![7; 3]; // A reused buffer with stale contents.
        for round in 0..3000 {
            let mut bytes = Vec::new();
            for _ in 0..next() % 40 {
                let r = next();
                match r % 16 {
                    0 => put_uleb(&mut bytes, r >> 20), // often more than 32 bits
                    1 => bytes.extend_from_slice(&[0x81, 0x80, 0x00]), // non-minimal 1
                    2..=5 => put_uleb(&mut bytes, (r >> 8) % (1 << 14)),
                    6 => put_uleb(&mut bytes, (r >> 8) % (1 << 28)),
                    7 => put_uleb(&mut bytes, u64::from(u32::MAX) - (r >> 60)),
                    _ => bytes.push((r >> 8) as u8 & 0x7f),
                }
            }
            for cut in [bytes.len(), bytes.len().saturating_sub(1), bytes.len() / 2] {
                let part = &bytes[..cut];
                let want = one_at_a_time(part);
                let got = uleb32_stream(part, &mut buf).map(<[u32]>::to_vec);
                assert_eq!(got, want, "round {round}, bytes {part:02x?}");
            }
        }
    }

    #[test]
    fn string_table_count_is_bounded_by_remaining_bytes() {
        let err = Cursor::new(&[0xff, 0xff, 0x03, 0x00], 0)
            .string_table("tab")
            .unwrap_err();
        assert!(err.to_string().contains("entries"), "{err}");
    }
}
