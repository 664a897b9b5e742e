//! The numbits encoding of a set of line numbers (spec §1.4; upstream `coverage/numbits.py`).
//!
//! Number `n` is in the set when bit `n % 8` (least significant first) of byte `n / 8` is
//! set. coverage.py's union keeps trailing zero bytes, so two blobs of different lengths
//! can hold the same set: compare decoded sets, never bytes.

use std::fmt;

/// The longest blob whose numbers all fit in a `u32` (2^29 bytes, 512 MiB). A longer one
/// cannot come from a Python program; it is refused rather than allocated.
pub const MAX_NUMBITS_LEN: usize = 1 << 29;

/// A numbits blob longer than [`MAX_NUMBITS_LEN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumbitsTooLong {
    /// The blob's length in bytes.
    pub len: usize,
}

impl fmt::Display for NumbitsTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "numbits blob of {} bytes holds line numbers beyond 2^32 (at most {} bytes)",
            self.len, MAX_NUMBITS_LEN
        )
    }
}

impl std::error::Error for NumbitsTooLong {}

/// A set of non-negative line numbers, kept in coverage.py's packed form.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Numbits {
    bytes: Vec<u8>,
}

impl Numbits {
    /// The empty set.
    pub fn new() -> Numbits {
        Numbits::default()
    }

    /// Takes a blob as stored in `line_bits.numbits`. Every byte string is a valid set;
    /// only the length is checked, so that every number fits in a `u32`.
    pub fn from_blob(bytes: Vec<u8>) -> Result<Numbits, NumbitsTooLong> {
        if bytes.len() > MAX_NUMBITS_LEN {
            return Err(NumbitsTooLong { len: bytes.len() });
        }
        Ok(Numbits { bytes })
    }

    /// Packs `nums` as coverage.py's `nums_to_numbits` does: `max / 8 + 1` bytes, or no
    /// bytes for the empty set.
    pub fn from_nums(nums: impl IntoIterator<Item = u32>) -> Numbits {
        let mut bytes = Vec::new();
        for n in nums {
            let byte = (n / 8) as usize;
            if byte >= bytes.len() {
                bytes.resize(byte + 1, 0);
            }
            bytes[byte] |= 1 << (n % 8);
        }
        Numbits { bytes }
    }

    /// The blob, trailing zero bytes included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True when no number is set (the blob may still have zero bytes).
    pub fn is_empty(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }

    /// Whether `n` is in the set.
    pub fn contains(&self, n: u32) -> bool {
        self.bytes
            .get((n / 8) as usize)
            .is_some_and(|b| b & (1 << (n % 8)) != 0)
    }

    /// The numbers in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.bytes.iter().enumerate().flat_map(|(i, &byte)| {
            // `from_blob` bounds the length, so `i * 8 + 7` fits in a u32.
            let base = (i as u32) * 8;
            (0..8u32)
                .filter(move |bit| byte & (1 << bit) != 0)
                .map(move |bit| base + bit)
        })
    }

    /// The numbers in increasing order, collected.
    pub fn to_nums(&self) -> Vec<u32> {
        self.iter().collect()
    }

    /// ORs `other` into `self`, as `numbits_union`: the result is as long as the longer.
    pub fn union_with(&mut self, other: &Numbits) {
        if other.bytes.len() > self.bytes.len() {
            self.bytes.resize(other.bytes.len(), 0);
        }
        for (mine, theirs) in self.bytes.iter_mut().zip(&other.bytes) {
            *mine |= theirs;
        }
    }

    /// The set of numbers in both, as `numbits_intersection`: trailing zeros stripped.
    pub fn intersection(&self, other: &Numbits) -> Numbits {
        let mut bytes: Vec<u8> = self
            .bytes
            .iter()
            .zip(&other.bytes)
            .map(|(a, b)| a & b)
            .collect();
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        Numbits { bytes }
    }
}

impl fmt::Debug for Numbits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_from_the_spec() {
        let cases: [(&[u32], &[u8]); 4] = [
            (&[2, 4, 5], &[0x34]),
            (&[1, 2, 4, 5, 6, 11, 14, 15], &[0x76, 0xC8]),
            (&[6, 14, 15], &[0x40, 0xC0]),
            (&[], &[]),
        ];
        for (nums, blob) in cases {
            let packed = Numbits::from_nums(nums.iter().copied());
            assert_eq!(packed.as_bytes(), blob, "{nums:?}");
            let decoded = Numbits::from_blob(blob.to_vec()).unwrap();
            assert_eq!(decoded.to_nums(), nums);
        }
    }

    #[test]
    fn trailing_zero_bytes_do_not_change_the_set() {
        let padded = Numbits::from_blob(vec![0x34, 0, 0]).unwrap();
        assert_eq!(padded.to_nums(), [2, 4, 5]);
        assert_ne!(padded, Numbits::from_nums([2, 4, 5]));
        assert!(Numbits::from_blob(vec![0, 0]).unwrap().is_empty());
    }

    #[test]
    fn union_keeps_the_longer_length_and_intersection_strips() {
        let mut a = Numbits::from_nums([1, 20]);
        let b = Numbits::from_nums([2]);
        a.union_with(&b);
        assert_eq!(a.to_nums(), [1, 2, 20]);
        assert_eq!(a.as_bytes().len(), 3);
        let mut short = Numbits::from_nums([2]);
        short.union_with(&Numbits::from_blob(vec![0, 0, 0, 0]).unwrap());
        assert_eq!(short.as_bytes(), [4, 0, 0, 0]);
        assert_eq!(a.intersection(&Numbits::from_nums([2, 3])).as_bytes(), [4]);
        assert_eq!(
            a.intersection(&Numbits::from_nums([3])).as_bytes(),
            [] as [u8; 0]
        );
    }

    #[test]
    fn line_zero_and_contains() {
        let n = Numbits::from_blob(vec![0x01, 0x80]).unwrap();
        assert_eq!(n.to_nums(), [0, 15]);
        assert!(n.contains(0) && n.contains(15) && !n.contains(16) && !n.contains(u32::MAX));
    }

    #[test]
    fn an_overlong_blob_is_refused() {
        // Checked by length only; no 512 MiB allocation in a unit test.
        assert_eq!(
            NumbitsTooLong { len: MAX_NUMBITS_LEN + 1 }.to_string(),
            "numbits blob of 536870913 bytes holds line numbers beyond 2^32 (at most 536870912 bytes)"
        );
    }
}
