//! `covmeta.<hash>`: a build's layout (spec §2, validation §8.1, writing §9).

use std::ops::Range;
use std::sync::Arc;

use livecov_model::Unit;

use super::cursor::{put_uleb, Cursor, StringTableWriter};
use super::hash::{file_hash, package_hash, HashAlgo};
use super::{granularity_name, mode_name, DecodeError};

/// Size of the fixed meta-file header.
pub const META_HEADER_LEN: usize = 56;
/// The first four bytes of every meta-data file.
pub const META_MAGIC: [u8; 4] = [0x00, 0x63, 0x76, 0x6d];
const BLOB_HEADER_LEN: usize = 44;

/// A decoded meta-data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaFile {
    /// `MetaFileHash` from the header: the build's identity.
    pub hash: [u8; 16],
    /// Raw `CMode` byte (1 set, 2 count, 3 atomic; see [`super::mode_name`]).
    pub mode: u8,
    /// Raw `CGranularity` byte (1 perblock, 2 perfunc).
    pub granularity: u8,
    /// Packages in file order; a counter record's `pkgIdx` indexes this list. Shared:
    /// builds that embed byte-identical package blobs share one decoded value.
    pub packages: Vec<Arc<PackageMeta>>,
    /// Where each package blob lies in the file it was decoded from (empty for values
    /// built in memory), so merges can copy blobs verbatim.
    pub blobs: Vec<Range<usize>>,
}

/// Decoded package blobs shared between meta files: the builds of one cluster embed
/// the same packages (the standard library, shared modules) byte for byte, and each is
/// decoded once. Keyed by the blob's bytes, so sharing never merges different blobs.
#[derive(Default)]
pub struct PackageCache {
    by_blob: std::sync::Mutex<std::collections::HashMap<Arc<[u8]>, Arc<PackageMeta>>>,
}

impl PackageCache {
    /// An empty cache.
    pub fn new() -> PackageCache {
        PackageCache::default()
    }

    fn get(&self, blob: &[u8]) -> Option<Arc<PackageMeta>> {
        self.by_blob.lock().ok()?.get(blob).cloned()
    }

    fn insert(&self, blob: &[u8], pkg: Arc<PackageMeta>) -> Arc<PackageMeta> {
        match self.by_blob.lock() {
            Ok(mut map) => map.entry(Arc::from(blob)).or_insert(pkg).clone(),
            Err(_) => pkg,
        }
    }
}

/// One package of a meta file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageMeta {
    /// Package name (`main`, `dep`).
    pub name: String,
    /// Import path.
    pub path: String,
    /// Module path, empty when there is none.
    pub module_path: String,
    /// The `MetaHash` stored in the blob header.
    pub hash: [u8; 16],
    /// Functions in index order; a counter record's `funcIdx` indexes this list.
    pub functions: Vec<FuncMeta>,
}

/// One function of a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncMeta {
    /// Function name as Go records it (`main`, `T.M`, `*T.M`, `func.L11.C14`).
    /// Shared with the package's string table: a layout has many functions per file.
    pub name: Arc<str>,
    /// Source file as Go records it (usually `<import path>/<base name>`).
    pub file: Arc<str>,
    /// True for a package-level function literal.
    pub lit: bool,
    /// Units in counter order: counter `i` belongs to unit `i`.
    pub units: Vec<Unit>,
}

impl MetaFile {
    /// Total number of units (counters) in the build.
    pub fn unit_count(&self) -> usize {
        self.packages
            .iter()
            .flat_map(|p| &p.functions)
            .map(|f| f.units.len())
            .sum()
    }

    /// The mode's name as Go prints it.
    pub fn mode_name(&self) -> &'static str {
        mode_name(self.mode)
    }

    /// The granularity's name as Go prints it.
    pub fn granularity_name(&self) -> &'static str {
        granularity_name(self.granularity)
    }
}

/// Reads only the header's `MetaFileHash`: enough to recognise a layout already decoded.
pub fn peek_meta_hash(header: &[u8]) -> Result<[u8; 16], DecodeError> {
    let mut c = Cursor::new(header, 0);
    check_magic_version(&mut c)?;
    c.take(16, "meta header")?;
    c.hash16("meta file hash")
}

fn check_magic_version(c: &mut Cursor<'_>) -> Result<(), DecodeError> {
    if c.remaining() < META_HEADER_LEN {
        return Err(DecodeError::new(
            0,
            format!(
                "truncated meta-data header: expected {META_HEADER_LEN} bytes, file has {}",
                c.remaining()
            ),
        ));
    }
    let magic = c.take(4, "magic")?;
    if magic != META_MAGIC {
        return Err(DecodeError::new(
            0,
            format!(
                "bad magic {magic:02x?}: expected 00 63 76 6d (not a Go coverage meta-data file)"
            ),
        ));
    }
    let version = c.u32_le("version")?;
    if version != 1 {
        return Err(DecodeError::new(
            4,
            format!("unknown meta-data file version {version} (expected 1)"),
        ));
    }
    Ok(())
}

/// Decodes a whole meta-data file. Returns the value and warnings for inconsistencies
/// Go tolerates (a wrong `TotalLength`, `StrTabOffset`, or `NumFiles`).
pub fn decode_meta_file(bytes: &[u8]) -> Result<(MetaFile, Vec<DecodeError>), DecodeError> {
    decode_meta_file_with(bytes, &PackageCache::new())
}

/// Like [`decode_meta_file`], sharing package blobs already decoded through `cache`.
/// A shared blob's warnings were given when it was first decoded.
pub fn decode_meta_file_with(
    bytes: &[u8],
    cache: &PackageCache,
) -> Result<(MetaFile, Vec<DecodeError>), DecodeError> {
    let mut warnings = Vec::new();
    let mut c = Cursor::new(bytes, 0);
    check_magic_version(&mut c)?;
    let total_len = c.u64_le("total length")?;
    let entries = c.u64_le("package count")?;
    let hash = c.hash16("meta file hash")?;
    let strtab_off = c.u32_le("string table offset")?;
    let strtab_len = c.u32_le("string table length")?;
    let mode = c.u8("counter mode")?;
    let granularity = c.u8("counter granularity")?;
    let file_len = bytes.len() as u64;
    if total_len != file_len {
        warnings.push(DecodeError::new(
            8,
            format!("header says total length {total_len}, file has {file_len} bytes"),
        ));
    }
    let tables_end = entries
        .checked_mul(16)
        .and_then(|t| t.checked_add(META_HEADER_LEN as u64))
        .filter(|&end| end <= file_len)
        .ok_or_else(|| {
            DecodeError::new(
                16,
                format!("package count {entries} needs more bytes than the file's {file_len}"),
            )
        })?;
    if u64::from(strtab_off) != tables_end {
        warnings.push(DecodeError::new(
            40,
            format!("string table offset {strtab_off}, expected {tables_end}"),
        ));
    }
    let n = entries as usize;
    let mut c = Cursor::new(bytes, META_HEADER_LEN);
    let mut offsets = Vec::with_capacity(n);
    for _ in 0..n {
        offsets.push(c.u64_le("package offset")?);
    }
    let mut lengths = Vec::with_capacity(n);
    for _ in 0..n {
        lengths.push(c.u64_le("package length")?);
    }
    let blobs_start = tables_end + u64::from(strtab_len);
    if blobs_start > file_len {
        return Err(DecodeError::new(
            44,
            format!("string table length {strtab_len} runs past the end of the file"),
        ));
    }
    // The file-level table carries only "" in practice; read it for validation only.
    let mut st = Cursor::new(&bytes[..blobs_start as usize], tables_end as usize);
    st.string_table("file string table")?;

    let mut packages = Vec::with_capacity(n);
    let mut blobs = Vec::with_capacity(n);
    for (i, (&off, &len)) in offsets.iter().zip(&lengths).enumerate() {
        let end = off.checked_add(len).filter(|&e| e <= file_len);
        let Some(end) = end.filter(|_| off >= blobs_start) else {
            return Err(DecodeError::new(
                META_HEADER_LEN as u64 + 8 * i as u64,
                format!(
                    "package {i}: blob at offset {off} with length {len} lies outside the \
                     package area [{blobs_start}, {file_len}) (truncated file?)"
                ),
            ));
        };
        let range = off as usize..end as usize;
        let blob = &bytes[range.clone()];
        let pkg = match cache.get(blob) {
            Some(p) => p,
            None => cache.insert(blob, Arc::new(decode_blob(blob, off, i, &mut warnings)?)),
        };
        packages.push(pkg);
        blobs.push(range);
    }
    Ok((
        MetaFile {
            hash,
            mode,
            granularity,
            packages,
            blobs,
        },
        warnings,
    ))
}

fn decode_blob(
    blob: &[u8],
    base: u64,
    index: usize,
    warnings: &mut Vec<DecodeError>,
) -> Result<PackageMeta, DecodeError> {
    let at = |pos: usize| base + pos as u64;
    let err =
        |pos: usize, msg: String| DecodeError::new(at(pos), format!("package {index}: {msg}"));
    if blob.len() < BLOB_HEADER_LEN {
        return Err(err(
            0,
            format!(
                "package blob of {} bytes is shorter than its {BLOB_HEADER_LEN}-byte header",
                blob.len()
            ),
        ));
    }
    let mut c = Cursor::new(blob, 0);
    let length = c.u32_le("blob length")?;
    if length as usize != blob.len() {
        warnings.push(err(
            0,
            format!("blob header length {length}, table says {}", blob.len()),
        ));
    }
    let name_idx = c.u32_le("package name")?;
    let path_idx = c.u32_le("package path")?;
    let module_idx = c.u32_le("module path")?;
    let hash = c.hash16("package hash")?;
    c.take(4, "padding")?;
    let num_strings = c.u32_le("string count")?;
    let num_funcs = c.u32_le("function count")? as usize;
    let func_table_end = num_funcs
        .checked_mul(4)
        .and_then(|t| t.checked_add(BLOB_HEADER_LEN))
        .filter(|&e| e <= blob.len())
        .ok_or_else(|| {
            err(
                40,
                format!(
                    "function count {num_funcs} needs more than the blob's {} bytes",
                    blob.len()
                ),
            )
        })?;
    let mut func_offsets = Vec::with_capacity(num_funcs);
    for _ in 0..num_funcs {
        func_offsets.push(c.u32_le("function offset")? as usize);
    }
    let strings = c
        .string_table_shared("package string table")
        .map_err(|e| err(e.offset as usize, e.message))?;
    let strings_end = c.pos();
    debug_assert!(strings_end >= func_table_end);
    if num_strings as usize != strings.len() {
        warnings.push(err(
            36,
            format!(
                "header counts {num_strings} strings, table has {}",
                strings.len()
            ),
        ));
    }
    let lookup = |idx: u64, pos: usize, what: &str| -> Result<Arc<str>, DecodeError> {
        usize::try_from(idx)
            .ok()
            .and_then(|i| strings.get(i))
            .cloned()
            .ok_or_else(|| {
                err(
                    pos,
                    format!(
                        "{what} string index {idx} out of range (table has {} entries)",
                        strings.len()
                    ),
                )
            })
    };
    let name = lookup(u64::from(name_idx), 4, "package name")?.to_string();
    let path = lookup(u64::from(path_idx), 8, "package path")?.to_string();
    let module_path = lookup(u64::from(module_idx), 12, "module path")?.to_string();

    let mut functions = Vec::with_capacity(num_funcs);
    for (fi, &off) in func_offsets.iter().enumerate() {
        if off < strings_end || off >= blob.len() {
            return Err(err(
                BLOB_HEADER_LEN + 4 * fi,
                format!(
                    "function {fi} offset {off} outside the function area [{strings_end}, {})",
                    blob.len()
                ),
            ));
        }
        let mut fc = Cursor::new(blob, off);
        let wrap = |e: DecodeError| err(e.offset as usize, format!("function {fi}: {}", e.message));
        let n_units = fc.uleb64("unit count").map_err(wrap)?;
        // Each unit is five ULEBs, at least five bytes.
        if n_units > (fc.remaining() / 5) as u64 {
            return Err(err(
                off,
                format!(
                    "function {fi}: unit count {n_units} needs more than the {} bytes left",
                    fc.remaining()
                ),
            ));
        }
        let name_pos = fc.pos();
        let fname = fc.uleb64("function name").map_err(wrap)?;
        let fname = lookup(fname, name_pos, "function name")?;
        let file_pos = fc.pos();
        let ffile = fc.uleb64("source file").map_err(wrap)?;
        let ffile = lookup(ffile, file_pos, "source file")?;
        let mut units = Vec::with_capacity(n_units as usize);
        for _ in 0..n_units {
            units.push(Unit {
                start_line: fc.uleb32("unit start line").map_err(wrap)?,
                start_col: fc.uleb32("unit start column").map_err(wrap)?,
                end_line: fc.uleb32("unit end line").map_err(wrap)?,
                end_col: fc.uleb32("unit end column").map_err(wrap)?,
                stmts: fc.uleb32("unit statement count").map_err(wrap)?,
            });
        }
        let lit_pos = fc.pos();
        let lit = fc.uleb64("literal flag").map_err(wrap)?;
        if lit > 1 {
            warnings.push(err(
                lit_pos,
                format!("function {fi}: literal flag {lit}, expected 0 or 1"),
            ));
        }
        functions.push(FuncMeta {
            name: fname,
            file: ffile,
            lit: lit != 0,
            units,
        });
    }
    Ok(PackageMeta {
        name,
        path,
        module_path,
        hash,
        functions,
    })
}

/// Encodes one package blob as `cmd/cover` does: string table interned in the order
/// `""`, path, name, module path, then each function's name and file.
pub fn encode_package_blob(p: &PackageMeta, hash: [u8; 16]) -> Vec<u8> {
    let mut st = StringTableWriter::new();
    let path = st.intern(&p.path);
    let name = st.intern(&p.name);
    let module = st.intern(&p.module_path);
    let mut records = Vec::new();
    let mut rec_offsets = Vec::with_capacity(p.functions.len());
    for f in &p.functions {
        let fname = st.intern(&f.name);
        let ffile = st.intern(&f.file);
        rec_offsets.push(records.len());
        put_uleb(&mut records, f.units.len() as u64);
        put_uleb(&mut records, u64::from(fname));
        put_uleb(&mut records, u64::from(ffile));
        for u in &f.units {
            for v in [u.start_line, u.start_col, u.end_line, u.end_col, u.stmts] {
                put_uleb(&mut records, u64::from(v));
            }
        }
        put_uleb(&mut records, u64::from(f.lit));
    }
    let mut table = Vec::new();
    st.write(&mut table);
    let records_start = BLOB_HEADER_LEN + 4 * p.functions.len() + table.len();
    let total = records_start + records.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&name.to_le_bytes());
    out.extend_from_slice(&path.to_le_bytes());
    out.extend_from_slice(&module.to_le_bytes());
    out.extend_from_slice(&hash);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(st.len() as u32).to_le_bytes());
    out.extend_from_slice(&(p.functions.len() as u32).to_le_bytes());
    for off in rec_offsets {
        out.extend_from_slice(&((records_start + off) as u32).to_le_bytes());
    }
    out.extend_from_slice(&table);
    out.extend_from_slice(&records);
    out
}

/// Writes a meta file from package blobs (already encoded) with the given header fields.
pub fn encode_meta_file(hash: [u8; 16], mode: u8, granularity: u8, blobs: &[&[u8]]) -> Vec<u8> {
    let n = blobs.len();
    let strtab = [1u8, 0];
    let tables_end = META_HEADER_LEN + 16 * n;
    let total: usize = tables_end + strtab.len() + blobs.iter().map(|b| b.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&META_MAGIC);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(total as u64).to_le_bytes());
    out.extend_from_slice(&(n as u64).to_le_bytes());
    out.extend_from_slice(&hash);
    out.extend_from_slice(&(tables_end as u32).to_le_bytes());
    out.extend_from_slice(&(strtab.len() as u32).to_le_bytes());
    out.push(mode);
    out.push(granularity);
    out.extend_from_slice(&[0; 6]);
    let mut off = tables_end + strtab.len();
    for b in blobs {
        out.extend_from_slice(&(off as u64).to_le_bytes());
        off += b.len();
    }
    for b in blobs {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(&strtab);
    for b in blobs {
        out.extend_from_slice(b);
    }
    out
}

impl MetaFile {
    /// The build's layout in livecov's own terms (what the store keeps), or `None` when
    /// its counter mode is not set, count or atomic. Unit `k` of the layout is unit `k`
    /// of the file (packages, functions, units in order), so counter vectors carry over.
    pub fn to_layout(&self) -> Option<livecov_model::Layout> {
        use livecov_model::{Layout, LayoutFile, LayoutFunction};
        let mode = livecov_model::CounterMode::from_go(self.mode)?;
        let mut files: Vec<LayoutFile> = Vec::new();
        let mut file_index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut functions = Vec::new();
        let mut units = Vec::new();
        for (pi, p) in self.packages.iter().enumerate() {
            for f in &p.functions {
                let file = *file_index.entry(&f.file).or_insert_with(|| {
                    files.push(LayoutFile {
                        path: f.file.to_string(),
                        package: pi as u32,
                    });
                    (files.len() - 1) as u32
                });
                functions.push(LayoutFunction {
                    name: f.name.to_string(),
                    file,
                    first_unit: units.len() as u32,
                });
                units.extend_from_slice(&f.units);
            }
        }
        Some(Layout {
            mode,
            packages: self.packages.iter().map(|p| p.path.clone()).collect(),
            files,
            functions,
            units,
        })
    }

    /// Encodes the whole file as a running Go program of the given hash generation would,
    /// recomputing package hashes and the file hash. Returns the bytes and the new hash.
    pub fn encode_as_runtime(&self, algo: HashAlgo) -> (Vec<u8>, [u8; 16]) {
        let mut hashes = Vec::with_capacity(self.packages.len());
        let mut blobs = Vec::with_capacity(self.packages.len());
        for p in &self.packages {
            let h = package_hash(algo, p);
            blobs.push(encode_package_blob(p, h));
            hashes.push(h);
        }
        let fh = file_hash(
            algo,
            &hashes,
            mode_name(self.mode),
            granularity_name(self.granularity),
        );
        let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        (encode_meta_file(fh, self.mode, self.granularity, &refs), fh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 217-byte example of spec §2.5, rebuilt from its table.
    fn spec_example() -> MetaFile {
        MetaFile {
            hash: [0; 16],
            mode: 3,
            granularity: 1,
            blobs: vec![],
            packages: vec![Arc::new(PackageMeta {
                name: "main".into(),
                path: "example.com/prog/cmd/empty".into(),
                module_path: "example.com/prog".into(),
                hash: [0; 16],
                functions: vec![FuncMeta {
                    name: "main".into(),
                    file: "example.com/prog/cmd/empty/main.go".into(),
                    lit: false,
                    units: vec![Unit {
                        start_line: 8,
                        start_col: 13,
                        end_line: 13,
                        end_col: 2,
                        stmts: 4,
                    }],
                }],
            })],
        }
    }

    #[test]
    fn spec_example_encodes_to_217_bytes_and_decodes_back() {
        let (bytes, hash) = spec_example().encode_as_runtime(HashAlgo::Md5);
        assert_eq!(bytes.len(), 217);
        assert_eq!(&bytes[0x48..0x4a], &[1, 0]);
        assert_eq!(&bytes[0xd0..0xd9], &[1, 2, 4, 8, 13, 13, 2, 4, 0]);
        let (m, warnings) = decode_meta_file(&bytes).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(m.hash, hash);
        assert_eq!(
            m.packages[0].functions,
            spec_example().packages[0].functions
        );
        assert_eq!(m.blobs[0], 74..217);
        assert_eq!(peek_meta_hash(&bytes).unwrap(), hash);
    }

    #[test]
    fn zero_package_file_is_58_bytes() {
        let bytes = encode_meta_file([0; 16], 1, 1, &[]);
        assert_eq!(bytes.len(), 58);
        let (m, w) = decode_meta_file(&bytes).unwrap();
        assert!(m.packages.is_empty() && w.is_empty());
    }

    #[test]
    fn truncation_anywhere_is_an_error_not_a_panic() {
        let (bytes, _) = spec_example().encode_as_runtime(HashAlgo::Fnv128a);
        for cut in 0..bytes.len() {
            assert!(decode_meta_file(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn bad_magic_and_version_name_offsets() {
        let (mut bytes, _) = spec_example().encode_as_runtime(HashAlgo::Fnv128a);
        bytes[4] = 2;
        let e = decode_meta_file(&bytes).unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.message.contains("version 2"), "{e}");
        bytes[0] = 9;
        assert!(decode_meta_file(&bytes)
            .unwrap_err()
            .message
            .contains("bad magic"));
    }

    #[test]
    fn string_index_out_of_range_is_reported() {
        let (mut bytes, _) = spec_example().encode_as_runtime(HashAlgo::Fnv128a);
        // Package path index (blob offset 8) points past the 5-entry table.
        bytes[74 + 8] = 9;
        let e = decode_meta_file(&bytes).unwrap_err();
        assert_eq!(e.offset, 82);
        assert!(e.message.contains("out of range"), "{e}");
    }
}
