//! Real Go-written coverage files, and mutations of them, through the `gocovdata`
//! decoders.
//!
//! The files under `tests/data/gocov/` were written by Go 1.26 programs built with
//! `go build -cover -coverpkg=./...` (three packages each: `main`, `dep`, `util`) and run
//! with `GOCOVERDIR` set: `set/` in `-covermode=set` (two runs), `atomic/` in
//! `-covermode=atomic` (one run).
//!
//! Properties: the unmutated files decode with no warnings and `encode_as_runtime`
//! reproduces Go's meta file byte for byte; any mutation (bit flips, overwrites,
//! truncations, insertions, deletions, splices, huge length fields) decodes to `Ok` or
//! `Err` without panicking, and every `Ok` agrees with what its bytes say.

use std::path::{Path, PathBuf};

use livecov_formats::gocovdata::{
    classify_file_name, decode_counter_file, decode_meta_file, encode_counter_file,
    encode_meta_file, encode_package_blob, hex16, peek_meta_hash, CounterFile, CounterFlavor,
    CovFileName, HashAlgo, MetaFile, META_HEADER_LEN,
};

use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// The real files.

struct GoFile {
    name: String,
    bytes: Vec<u8>,
}

struct Build {
    dir: &'static str,
    mode: u8,
    meta: GoFile,
    counters: Vec<GoFile>,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gocov")
}

fn load_build(dir: &'static str, mode: u8) -> Build {
    let mut meta = None;
    let mut counters = Vec::new();
    let path = data_dir().join(dir);
    let mut entries: Vec<_> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&p).unwrap();
        match classify_file_name(&name) {
            Some(CovFileName::Meta { .. }) => {
                assert!(meta.is_none(), "{dir}: two meta files");
                meta = Some(GoFile { name, bytes });
            }
            Some(CovFileName::Counters { .. }) => counters.push(GoFile { name, bytes }),
            None => panic!("{dir}: unexpected file {name}"),
        }
    }
    let meta = meta.unwrap_or_else(|| panic!("{dir}: no meta file"));
    assert!(!counters.is_empty(), "{dir}: no counter files");
    Build {
        dir,
        mode,
        meta,
        counters,
    }
}

fn builds() -> Vec<Build> {
    vec![load_build("set", 1), load_build("atomic", 3)]
}

/// Every real file, meta and counters, in a fixed order (the mutation sources).
fn all_files() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for b in builds() {
        out.push(b.meta.bytes);
        out.extend(b.counters.into_iter().map(|c| c.bytes));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Independent readers of the few fields the consistency checks need. They trust nothing
// and return `None` where the bytes do not say.

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().unwrap()))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(s.try_into().unwrap()))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().unwrap()))
}

/// ULEB128 at `*at`, advancing it; at most 10 bytes.
fn uleb(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f).checked_shl(7 * i).unwrap_or(0);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Checks a decoded meta file against its bytes.
fn check_meta_consistent(bytes: &[u8], m: &MetaFile) {
    assert!(bytes.len() >= META_HEADER_LEN);
    assert_eq!(m.hash[..], bytes[24..40], "file hash");
    assert_eq!(m.mode, bytes[48], "mode");
    assert_eq!(m.granularity, bytes[49], "granularity");
    assert_eq!(
        Some(m.packages.len() as u64),
        le_u64(bytes, 16),
        "package count"
    );
    assert_eq!(peek_meta_hash(bytes), Ok(m.hash), "peek_meta_hash");
    let n = m.packages.len();
    for (i, p) in m.packages.iter().enumerate() {
        let off = le_u64(bytes, META_HEADER_LEN + 8 * i).unwrap() as usize;
        let len = le_u64(bytes, META_HEADER_LEN + 8 * (n + i)).unwrap() as usize;
        assert_eq!(m.blobs[i], off..off + len, "package {i} blob range");
        let blob = &bytes[m.blobs[i].clone()];
        assert_eq!(p.hash[..], blob[16..32], "package {i} hash");
        assert_eq!(
            le_u32(blob, 40),
            Some(p.functions.len() as u32),
            "package {i} function count"
        );
        for (fi, f) in p.functions.iter().enumerate() {
            let mut at = le_u32(blob, 44 + 4 * fi).unwrap() as usize;
            let units = uleb(blob, &mut at);
            assert_eq!(
                units,
                Some(f.units.len() as u64),
                "package {i} function {fi} unit count"
            );
        }
    }
}

/// Checks a decoded counter file against its bytes: header fields, and every record
/// re-read independently from the payload (so each record's counter count is the one
/// its bytes give).
fn check_counters_consistent(bytes: &[u8], f: &CounterFile) {
    assert_eq!(f.meta_hash[..], bytes[8..24], "meta hash");
    match f.flavor {
        CounterFlavor::Uleb128 => assert_eq!(bytes[24], 2),
        CounterFlavor::Raw { big_endian } => {
            assert_eq!(bytes[24], 1);
            assert_eq!(bytes[25], u8::from(big_endian));
        }
    }
    let footer = bytes.len() - 16;
    assert_eq!(
        bytes[footer..footer + 4],
        [0x00, 0x63, 0x77, 0x6d],
        "footer"
    );
    assert_eq!(le_u32(bytes, footer + 8), Some(f.segments), "segment count");
    assert_eq!(
        le_u64(bytes, 32),
        Some(f.records.len() as u64),
        "record count"
    );
    let strtab_len = le_u32(bytes, 40).unwrap() as usize;
    let args_len = le_u32(bytes, 44).unwrap() as usize;
    let mut at = 48 + strtab_len + args_len;
    assert!(at <= footer);
    let body = &bytes[..footer];
    let read = |at: &mut usize| -> u64 {
        match f.flavor {
            CounterFlavor::Uleb128 => uleb(body, at).expect("record bytes"),
            CounterFlavor::Raw { big_endian } => {
                let v = if big_endian {
                    be_u32(body, *at)
                } else {
                    le_u32(body, *at)
                };
                *at += 4;
                u64::from(v.expect("record bytes"))
            }
        }
    };
    for (r, rec) in f.records.iter().enumerate() {
        let n = read(&mut at);
        assert_eq!(n, rec.counters.len() as u64, "record {r} counter count");
        assert_eq!(read(&mut at), u64::from(rec.pkg), "record {r} package");
        assert_eq!(read(&mut at), u64::from(rec.func), "record {r} function");
        for (i, &c) in rec.counters.iter().enumerate() {
            assert_eq!(read(&mut at), u64::from(c), "record {r} counter {i}");
        }
    }
    assert!(at <= footer);
    // `os_args` must not panic or allocate wildly whatever the args say.
    if let Some(argv) = f.os_args() {
        assert!(argv.len() <= f.args.len());
    }
}

/// Re-encodes a decoded meta file and checks that it decodes to the same packages.
fn check_meta_reencodes(m: &MetaFile) {
    let blobs: Vec<Vec<u8>> = m
        .packages
        .iter()
        .map(|p| encode_package_blob(p, p.hash))
        .collect();
    let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
    let again = encode_meta_file(m.hash, m.mode, m.granularity, &refs);
    let (m2, w) = decode_meta_file(&again).expect("re-encoded meta decodes");
    assert!(w.is_empty(), "re-encoded meta has warnings: {w:?}");
    assert_eq!(m2.hash, m.hash);
    assert_eq!((m2.mode, m2.granularity), (m.mode, m.granularity));
    assert_eq!(m2.packages.len(), m.packages.len());
    for (a, b) in m.packages.iter().zip(&m2.packages) {
        assert_eq!(
            (&a.name, &a.path, &a.module_path, &a.hash, &a.functions),
            (&b.name, &b.path, &b.module_path, &b.hash, &b.functions)
        );
    }
}

/// Re-encodes a decoded counter file and checks that it decodes to the same records.
fn check_counters_reencode(f: &CounterFile) {
    let again = encode_counter_file(f.meta_hash, &f.args, &f.records);
    let (g, w) = decode_counter_file(&again).expect("re-encoded counters decode");
    assert!(w.is_empty(), "re-encoded counters have warnings: {w:?}");
    assert_eq!(g.meta_hash, f.meta_hash);
    assert_eq!(g.records, f.records);
    let mut a = f.args.clone();
    let mut b = g.args.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

/// Runs every decoder on `bytes`: none may panic, and whatever decodes must be
/// consistent with the bytes and survive a re-encode.
fn decode_everything(bytes: &[u8]) {
    let peeked = peek_meta_hash(bytes);
    if let Ok((m, _warnings)) = decode_meta_file(bytes) {
        assert_eq!(peeked, Ok(m.hash));
        check_meta_consistent(bytes, &m);
        check_meta_reencodes(&m);
    }
    if let Ok((f, _warnings)) = decode_counter_file(bytes) {
        check_counters_consistent(bytes, &f);
        check_counters_reencode(&f);
    }
}

// ---------------------------------------------------------------------------------------
// The unmutated files.

#[test]
fn real_files_decode_cleanly_and_agree() {
    for b in builds() {
        let dir = b.dir;
        let (m, w) = decode_meta_file(&b.meta.bytes)
            .unwrap_or_else(|e| panic!("{dir}/{}: {e}", b.meta.name));
        assert!(w.is_empty(), "{dir}/{}: warnings {w:?}", b.meta.name);
        assert_eq!(b.meta.name, format!("covmeta.{}", hex16(&m.hash)));
        assert_eq!(m.mode, b.mode, "{dir}: mode");
        assert_eq!(m.granularity, 1, "{dir}: granularity");
        assert_eq!(m.packages.len(), 3, "{dir}: package count");
        let mut names: Vec<&str> = m.packages.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["dep", "main", "util"], "{dir}");
        check_meta_consistent(&b.meta.bytes, &m);
        check_meta_reencodes(&m);

        for c in &b.counters {
            let (f, w) =
                decode_counter_file(&c.bytes).unwrap_or_else(|e| panic!("{dir}/{}: {e}", c.name));
            assert!(w.is_empty(), "{dir}/{}: warnings {w:?}", c.name);
            assert_eq!(f.meta_hash, m.hash, "{dir}/{}: meta hash", c.name);
            assert_eq!(f.flavor, CounterFlavor::Uleb128);
            assert_eq!(f.segments, 1);
            // Written on linux/amd64.
            assert_eq!(f.arg("GOOS"), Some("linux"));
            assert_eq!(f.arg("GOARCH"), Some("amd64"));
            assert!(!f.records.is_empty(), "{dir}/{}: no records", c.name);
            let argv = f.os_args().expect("argc and argv");
            assert!(!argv.is_empty());
            for (r, rec) in f.records.iter().enumerate() {
                let p = &m.packages[rec.pkg as usize];
                let func = &p.functions[rec.func as usize];
                assert_eq!(
                    rec.counters.len(),
                    func.units.len(),
                    "{dir}/{}: record {r} ({}.{})",
                    c.name,
                    p.path,
                    func.name
                );
                if b.mode == 1 {
                    assert!(rec.counters.iter().all(|&v| v <= 1), "set mode counts 0/1");
                }
            }
            check_counters_consistent(&c.bytes, &f);
            check_counters_reencode(&f);
        }
    }
}

/// Where two byte strings differ, as a readable list (for assertion messages).
fn describe_diff(ours: &[u8], go: &[u8]) -> String {
    let mut out = format!("ours {} bytes, Go's {} bytes", ours.len(), go.len());
    let diffs: Vec<usize> = (0..ours.len().max(go.len()))
        .filter(|&i| ours.get(i) != go.get(i))
        .collect();
    for &i in diffs.iter().take(40) {
        out.push_str(&format!(
            "\n  offset {i:#06x}: ours {:02x?}, Go's {:02x?}",
            ours.get(i),
            go.get(i)
        ));
    }
    if diffs.len() > 40 {
        out.push_str(&format!("\n  … {} differing bytes in all", diffs.len()));
    }
    out
}

#[test]
fn encode_as_runtime_reproduces_go_meta_files_byte_for_byte() {
    for b in builds() {
        let (m, _) = decode_meta_file(&b.meta.bytes).unwrap();
        let (ours, hash) = m.encode_as_runtime(HashAlgo::Fnv128a);
        assert_eq!(
            hash,
            m.hash,
            "{}: FNV-1a-128 file hash {} differs from Go's {}",
            b.dir,
            hex16(&hash),
            hex16(&m.hash)
        );
        assert!(
            ours == b.meta.bytes,
            "{}: re-encoded meta file differs from Go's: {}",
            b.dir,
            describe_diff(&ours, &b.meta.bytes)
        );
    }
}

/// Go's counter writer interns the args strings in map iteration order (random: see
/// `AppendSegment` in `internal/coverage/encodecounter`) and then writes the args table
/// sorted by key; livecov interns in sorted order. So only the string table and the
/// args indices into it may differ: everything else must be Go's bytes exactly.
#[test]
fn encode_counter_file_reproduces_go_counter_files_outside_the_string_table() {
    for b in builds() {
        for c in &b.counters {
            let (f, _) = decode_counter_file(&c.bytes).unwrap();
            let ours = encode_counter_file(f.meta_hash, &f.args, &f.records);
            let what = format!("{}/{}", b.dir, c.name);
            assert_eq!(
                ours.len(),
                c.bytes.len(),
                "{what}: {}",
                describe_diff(&ours, &c.bytes)
            );
            let tables_end = 48
                + le_u32(&c.bytes, 40).unwrap() as usize
                + le_u32(&c.bytes, 44).unwrap() as usize;
            assert!(
                ours[..48] == c.bytes[..48] && ours[tables_end..] == c.bytes[tables_end..],
                "{what}: re-encoded counter file differs from Go's outside the tables: {}",
                describe_diff(&ours, &c.bytes)
            );
            let (g, _) = decode_counter_file(&ours).unwrap();
            let mut ours_args = g.args.clone();
            let mut go_args = f.args.clone();
            ours_args.sort();
            go_args.sort();
            assert_eq!(ours_args, go_args, "{what}");
        }
    }
}

#[test]
fn every_truncation_of_a_real_file_is_an_error() {
    for bytes in all_files() {
        for cut in 0..bytes.len() {
            assert!(
                decode_meta_file(&bytes[..cut]).is_err(),
                "meta cut at {cut}"
            );
            assert!(
                decode_counter_file(&bytes[..cut]).is_err(),
                "counters cut at {cut}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mutations.

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip one bit of the byte at `pos % len`.
    FlipBit { pos: usize, bit: u8 },
    /// Overwrite the byte at `pos % len`.
    SetByte { pos: usize, value: u8 },
    /// Keep only the first `len % (len + 1)` bytes.
    Truncate { len: usize },
    /// Insert bytes at `pos % (len + 1)`.
    Insert { pos: usize, bytes: Vec<u8> },
    /// Delete up to `n` bytes at `pos % len`.
    Delete { pos: usize, n: usize },
    /// Replace `n` bytes at `pos` with `n` bytes of another real file from `src_pos`.
    Splice {
        pos: usize,
        src: usize,
        src_pos: usize,
        n: usize,
    },
    /// Write a huge little-endian integer over a length or count field.
    HugeField {
        field: usize,
        value: u64,
        wide: bool,
    },
    /// Write a huge ULEB128 value at `pos % len` (string lengths, unit and counter counts).
    HugeUleb { pos: usize, value: u64 },
}

/// Offsets of the fixed-position length, count and offset fields of both file kinds
/// (meta header, first package tables, counter segment header, footer).
const FIELDS: &[(usize, bool)] = &[
    (8, true),   // meta TotalLength
    (16, true),  // meta Entries
    (40, false), // meta StrTabOffset
    (44, false), // meta StrTabLength
    (56, true),  // meta first package offset
    (64, true),  // meta second package offset / first length (1-package files)
    (72, true),  // meta third package offset
    (80, true),  // meta first package length (3-package files)
    (88, true),  // meta second package length
    (96, true),  // meta third package length
    (32, true),  // counters NumFuncs
    (40, false), // counters StrTabLen
    (44, false), // counters ArgsLen
];

fn huge_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(u64::from(u32::MAX)),
        Just(u64::from(u32::MAX) + 1),
        Just(1u64 << 31),
        Just(1u64 << 63),
        Just(usize::MAX as u64 / 16 + 1),
        Just(usize::MAX as u64 / 4 + 1),
        0u64..4096,
        any::<u64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    prop_oneof![
        3 => (pos, 0u8..8).prop_map(|(pos, bit)| Mutation::FlipBit { pos, bit }),
        3 => (pos, any::<u8>()).prop_map(|(pos, value)| Mutation::SetByte { pos, value }),
        1 => pos.prop_map(|len| Mutation::Truncate { len }),
        2 => (pos, prop::collection::vec(any::<u8>(), 1..24))
            .prop_map(|(pos, bytes)| Mutation::Insert { pos, bytes }),
        2 => (pos, 1usize..32).prop_map(|(pos, n)| Mutation::Delete { pos, n }),
        2 => (pos, any::<usize>(), pos, 1usize..64)
            .prop_map(|(pos, src, src_pos, n)| Mutation::Splice { pos, src, src_pos, n }),
        2 => (0..FIELDS.len(), huge_value())
            .prop_map(|(i, value)| Mutation::HugeField { field: FIELDS[i].0, value, wide: FIELDS[i].1 }),
        2 => (pos, huge_value()).prop_map(|(pos, value)| Mutation::HugeUleb { pos, value }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, sources: &[Vec<u8>]) {
    let len = bytes.len();
    match *m {
        Mutation::FlipBit { pos, bit } if len > 0 => bytes[pos % len] ^= 1 << bit,
        Mutation::SetByte { pos, value } if len > 0 => bytes[pos % len] = value,
        Mutation::Truncate { len: keep } => bytes.truncate(keep % (len + 1)),
        Mutation::Insert {
            pos,
            bytes: ref ins,
        } => {
            let at = pos % (len + 1);
            bytes.splice(at..at, ins.iter().copied());
        }
        Mutation::Delete { pos, n } if len > 0 => {
            let at = pos % len;
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::Splice {
            pos,
            src,
            src_pos,
            n,
        } if len > 0 => {
            let src = &sources[src % sources.len()];
            let from = src_pos % src.len();
            let n = n.min(src.len() - from);
            let at = pos % len;
            let end = (at + n).min(len);
            bytes.splice(at..end, src[from..from + n].iter().copied());
        }
        Mutation::HugeField { field, value, wide } => {
            let le = value.to_le_bytes();
            let w = if wide { 8 } else { 4 };
            for (i, &b) in le[..w].iter().enumerate() {
                if let Some(slot) = bytes.get_mut(field + i) {
                    *slot = b;
                }
            }
        }
        Mutation::HugeUleb { pos, value } if len > 0 => {
            let mut enc = Vec::new();
            let mut v = value;
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    enc.push(b);
                    break;
                }
                enc.push(b | 0x80);
            }
            let at = pos % len;
            let end = (at + enc.len()).min(len);
            // Overwrite, keeping the length when the value fits (most fields are short).
            bytes.splice(at..end, enc);
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        ..ProptestConfig::default()
    })]

    /// Any mutation of any real file: `Ok` or `Err`, never a panic, and every `Ok` is
    /// consistent with its bytes and re-encodes to the same value.
    #[test]
    fn mutated_real_files_never_panic_and_ok_values_are_consistent(
        file in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let sources = all_files();
        let mut bytes = sources[file % sources.len()].clone();
        for m in &mutations {
            apply(&mut bytes, m, &sources);
        }
        decode_everything(&bytes);
    }

    /// The unmutated meta file with one field of its header or package tables set to a
    /// huge value, and a counter file with one segment field set to a huge value.
    #[test]
    fn huge_length_fields_are_rejected_or_tolerated(
        file in any::<usize>(),
        field in 0..FIELDS.len(),
        value in huge_value(),
    ) {
        let sources = all_files();
        let mut bytes = sources[file % sources.len()].clone();
        let (at, wide) = FIELDS[field];
        apply(&mut bytes, &Mutation::HugeField { field: at, value, wide }, &sources);
        decode_everything(&bytes);
    }
}

#[test]
fn real_meta_files_verify_and_a_damaged_byte_does_not() {
    use livecov_formats::gocovdata::read::meta_hash_verifies;
    for b in builds() {
        let (m, _) = decode_meta_file(&b.meta.bytes).unwrap();
        assert!(
            meta_hash_verifies(&m, &b.meta.bytes),
            "{}: Go's own file",
            b.dir
        );
        // One byte of a function name changed: still decodes, no longer verifies.
        let (merged, _) = m.encode_as_runtime(livecov_formats::gocovdata::HashAlgo::Fnv128a);
        assert!(meta_hash_verifies(
            &decode_meta_file(&merged).unwrap().0,
            &merged
        ));
        let name = m.packages[0].functions[0].name.as_bytes().to_vec();
        let at = b
            .meta
            .bytes
            .windows(name.len())
            .position(|w| w == name.as_slice())
            .expect("function name in the string table");
        let mut damaged = b.meta.bytes.clone();
        damaged[at] ^= 0x20;
        let (dm, _) = decode_meta_file(&damaged).expect("a changed letter still decodes");
        assert!(
            !meta_hash_verifies(&dm, &damaged),
            "{}: damaged copy verifies",
            b.dir
        );
    }
}

/// Issue 11.1: a damaged copy of a layout must not decide the build; whichever order the
/// copies come in, the one that verifies is used, and the other is named.
#[test]
fn a_damaged_meta_copy_never_wins_over_an_intact_one() {
    use livecov_formats::gocovdata::dir::MetaCache;
    let b = &builds()[0];
    let (good, _) = decode_meta_file(&b.meta.bytes).unwrap();
    let name = good.packages[0].functions[0].name.as_bytes().to_vec();
    let at = b
        .meta
        .bytes
        .windows(name.len())
        .position(|w| w == name.as_slice())
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (bad_dir, good_dir, trunc_dir) = (
        tmp.path().join("a-bad"),
        tmp.path().join("b-good"),
        tmp.path().join("c-trunc"),
    );
    for d in [&bad_dir, &good_dir, &trunc_dir] {
        std::fs::create_dir(d).unwrap();
    }
    let mut damaged = b.meta.bytes.clone();
    damaged[at] ^= 0x20;
    let bad = bad_dir.join(&b.meta.name);
    let goodp = good_dir.join(&b.meta.name);
    let trunc = trunc_dir.join(&b.meta.name);
    std::fs::write(&bad, &damaged).unwrap();
    std::fs::write(&goodp, &b.meta.bytes).unwrap();
    std::fs::write(&trunc, &b.meta.bytes[..b.meta.bytes.len() / 2]).unwrap();
    let orders: [Vec<&Path>; 4] = [
        vec![&bad, &goodp],
        vec![&goodp, &bad],
        vec![&trunc, &bad, &goodp],
        vec![&trunc, &goodp],
    ];
    for order in orders {
        let cache = MetaCache::default();
        let chosen = cache.decode_copies(good.hash, &order).unwrap();
        assert_eq!(chosen.path, goodp, "order {order:?}");
        assert_eq!(*chosen.meta, good);
        for (p, why) in &chosen.rejected {
            assert!(why.contains(&p.display().to_string()), "{why}");
        }
        // A later request is answered from the cache with the same copy.
        let again = cache.decode_copies(good.hash, &[&trunc]).unwrap();
        assert_eq!(again.path, goodp);
    }
    // Only damaged copies: the truncated one fails, the damaged one is used, nothing cached
    // from the failure.
    let cache = MetaCache::default();
    let err = cache.decode_copies(good.hash, &[&trunc]).unwrap_err();
    assert_eq!(err.len(), 1);
    assert!(err[0].1.contains("c-trunc"), "{}", err[0].1);
    let chosen = cache.decode_copies(good.hash, &[&trunc, &goodp]).unwrap();
    assert_eq!(chosen.path, goodp);
}
