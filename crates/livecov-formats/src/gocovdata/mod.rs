//! Go's second-generation coverage files: `covmeta.<hash>` (a build's layout) and
//! `covcounters.<hash>.<pid>.<nanotime>` (one process's counters).
//!
//! Spec: `../shared/specs/go-covdata.md`; upstream: Go's `src/internal/coverage`
//! (`decodemeta`, `decodecounter`, `encodemeta`, `encodecounter`).
//!
//! Decoders take the whole file as bytes and never panic: every length is checked against
//! what remains, every index against its table, and allocations are bounded by the input
//! size. Problems that Go tolerates are returned as warnings beside the value.

mod counters;
mod cursor;
pub mod dir;
mod hash;
pub mod merge;
mod meta;
mod names;
pub mod pkgmatch;
pub mod read;

use std::fmt;

pub use counters::{
    decode_counter_file, encode_counter_file, CounterFile, CounterFileReader, CounterFlavor,
    FuncRecord, RecordHead, COUNTER_MAGIC,
};
pub use hash::{file_hash, func_hash, merge_file_hash, package_hash, HashAlgo};
pub use meta::{
    decode_meta_file, decode_meta_file_with, encode_meta_file, encode_package_blob, peek_meta_hash,
    FuncMeta, MetaFile, PackageCache, PackageMeta, META_HEADER_LEN, META_MAGIC,
};
pub use names::{classify_file_name, counter_file_name, meta_file_name, CovFileName};

/// A problem at one byte offset of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the file where the problem was found.
    pub offset: u64,
    /// What was found and what was expected.
    pub message: String,
}

impl DecodeError {
    pub(crate) fn new(offset: u64, message: impl Into<String>) -> DecodeError {
        DecodeError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte offset {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Formats a 16-byte hash as Go does in file names: 32 lowercase hex digits.
pub fn hex16(hash: &[u8; 16]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(32);
    for b in hash {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Go's name for a `CMode` byte, `<invalid>` for values Go does not know.
pub fn mode_name(byte: u8) -> &'static str {
    match byte {
        1 => "set",
        2 => "count",
        3 => "atomic",
        4 => "regonly",
        5 => "testmain",
        _ => "<invalid>",
    }
}

/// Go's name for a `CGranularity` byte, `<invalid>` for unknown values.
pub fn granularity_name(byte: u8) -> &'static str {
    match byte {
        1 => "perblock",
        2 => "perfunc",
        _ => "<invalid>",
    }
}
