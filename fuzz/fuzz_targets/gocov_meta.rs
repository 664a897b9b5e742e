//! `decode_meta_file` and `peek_meta_hash` on arbitrary bytes: never panic; whatever
//! decodes re-encodes (`encode_package_blob` + `encode_meta_file`) to bytes that decode
//! again, without warnings, to the same packages and functions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecov_formats::gocovdata::{
    decode_meta_file, encode_meta_file, encode_package_blob, peek_meta_hash,
};

fuzz_target!(|data: &[u8]| {
    let peeked = peek_meta_hash(data);
    let Ok((m, _warnings)) = decode_meta_file(data) else {
        return;
    };
    assert_eq!(
        peeked,
        Ok(m.hash),
        "peek_meta_hash disagrees with decode_meta_file"
    );
    assert_eq!(m.blobs.len(), m.packages.len());
    for b in &m.blobs {
        assert!(b.start <= b.end && b.end <= data.len());
    }

    let blobs: Vec<Vec<u8>> = m
        .packages
        .iter()
        .map(|p| encode_package_blob(p, p.hash))
        .collect();
    let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
    let again = encode_meta_file(m.hash, m.mode, m.granularity, &refs);
    let (m2, warnings) = match decode_meta_file(&again) {
        Ok(v) => v,
        Err(e) => panic!("re-encoded meta file does not decode: {e}"),
    };
    assert!(
        warnings.is_empty(),
        "re-encoded meta file has warnings: {warnings:?}"
    );
    assert_eq!(m2.hash, m.hash);
    assert_eq!((m2.mode, m2.granularity), (m.mode, m.granularity));
    assert_eq!(m2.packages.len(), m.packages.len());
    for (a, b) in m.packages.iter().zip(&m2.packages) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.path, b.path);
        assert_eq!(a.module_path, b.module_path);
        assert_eq!(a.hash, b.hash);
        assert_eq!(a.functions, b.functions);
    }
});
