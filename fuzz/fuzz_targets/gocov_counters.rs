//! `decode_counter_file` on arbitrary bytes: never panic; whatever decodes re-encodes
//! (`encode_counter_file`) to bytes that decode again, without warnings, to the same
//! records and args.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecov_formats::gocovdata::{decode_counter_file, encode_counter_file};

fuzz_target!(|data: &[u8]| {
    let Ok((f, _warnings)) = decode_counter_file(data) else {
        return;
    };
    if let Some(argv) = f.os_args() {
        assert!(argv.len() <= f.args.len());
    }
    let again = encode_counter_file(f.meta_hash, &f.args, &f.records);
    let (g, warnings) = match decode_counter_file(&again) {
        Ok(v) => v,
        Err(e) => panic!("re-encoded counter file does not decode: {e}"),
    };
    assert!(
        warnings.is_empty(),
        "re-encoded counter file has warnings: {warnings:?}"
    );
    assert_eq!(g.meta_hash, f.meta_hash);
    assert_eq!(g.records, f.records);
    assert_eq!(g.segments, 1);
    let mut a = f.args.clone();
    let mut b = g.args.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
});
