//! The hashes Go stores in meta files: per package, per file, and for merged files.
//!
//! Go up to 1.23 used MD5; Go 1.24 and later use FNV-1a-128 with the same inputs. Nothing
//! in Go checks them, but livecov writes them correctly so other tools can trust them.

use md5::{Digest, Md5};

use super::meta::{FuncMeta, PackageMeta};

/// Which digest a Go release uses for coverage hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HashAlgo {
    /// Go 1.20 to 1.23.
    Md5,
    /// Go 1.24 and later (the default: what current toolchains write).
    #[default]
    Fnv128a,
}

enum Hasher {
    Md5(Md5),
    Fnv(u128),
}

const FNV128_OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const FNV128_PRIME: u128 = 0x0000000001000000000000000000013b;

impl Hasher {
    fn new(algo: HashAlgo) -> Hasher {
        match algo {
            HashAlgo::Md5 => Hasher::Md5(Md5::new()),
            HashAlgo::Fnv128a => Hasher::Fnv(FNV128_OFFSET),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Fnv(state) => {
                for &b in bytes {
                    *state ^= u128::from(b);
                    *state = state.wrapping_mul(FNV128_PRIME);
                }
            }
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.write(&v.to_le_bytes());
    }

    fn finish(self) -> [u8; 16] {
        match self {
            Hasher::Md5(h) => h.finalize().into(),
            Hasher::Fnv(state) => state.to_be_bytes(),
        }
    }
}

fn hash_func_into(h: &mut Hasher, f: &FuncMeta) {
    h.write(f.name.as_bytes());
    h.write(f.file.as_bytes());
    for u in &f.units {
        h.write_u32(u.start_line);
        h.write_u32(u.start_col);
        h.write_u32(u.end_line);
        h.write_u32(u.end_col);
        h.write_u32(u.stmts);
    }
    h.write_u32(u32::from(f.lit));
}

/// A function's hash (name, file, units, literal flag), used by `merge -pcombine` to
/// recognise the same function in several builds.
pub fn func_hash(algo: HashAlgo, f: &FuncMeta) -> [u8; 16] {
    let mut h = Hasher::new(algo);
    hash_func_into(&mut h, f);
    h.finish()
}

/// A package's `MetaHash`: path, name, module path, then every function.
pub fn package_hash(algo: HashAlgo, p: &PackageMeta) -> [u8; 16] {
    let mut h = Hasher::new(algo);
    h.write(p.path.as_bytes());
    h.write(p.name.as_bytes());
    h.write(p.module_path.as_bytes());
    for f in &p.functions {
        hash_func_into(&mut h, f);
    }
    h.finish()
}

/// The `MetaFileHash` a running program writes: every package hash in file order, then
/// the mode and granularity names.
pub fn file_hash<'a>(
    algo: HashAlgo,
    package_hashes: impl IntoIterator<Item = &'a [u8; 16]>,
    mode_name: &str,
    granularity_name: &str,
) -> [u8; 16] {
    let mut h = Hasher::new(algo);
    for ph in package_hashes {
        h.write(ph);
    }
    h.write(mode_name.as_bytes());
    h.write(granularity_name.as_bytes());
    h.finish()
}

/// The `MetaFileHash` that `covdata merge -pkg` / `-pcombine` writes: the digest of the
/// digests of every package blob.
pub fn merge_file_hash<'a>(algo: HashAlgo, blobs: impl IntoIterator<Item = &'a [u8]>) -> [u8; 16] {
    let mut h = Hasher::new(algo);
    for blob in blobs {
        let mut inner = Hasher::new(algo);
        inner.write(blob);
        h.write(&inner.finish());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv128a_matches_published_vectors() {
        let mut h = Hasher::new(HashAlgo::Fnv128a);
        h.write(b"");
        assert_eq!(
            super::super::hex16(&h.finish()),
            "6c62272e07bb014262b821756295c58d"
        );
        let mut h = Hasher::new(HashAlgo::Fnv128a);
        h.write(b"a");
        assert_eq!(
            super::super::hex16(&h.finish()),
            "d228cb696f1a8caf78912b704e4a8964"
        );
    }

    #[test]
    fn empty_merge_hash_is_digest_of_nothing() {
        assert_eq!(
            super::super::hex16(&merge_file_hash(HashAlgo::Md5, [])),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }
}
