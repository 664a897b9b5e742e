//! `lcov::read` on arbitrary bytes: never panic; whatever reads is written back with
//! `lcov::write` and reads again, without warnings, to the same tracefile and the same
//! bytes; merging a tracefile into a copy of itself keeps its shape; `to_layout` gives one
//! counter per unit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecov_formats::lcov::{read, to_layout, write, Tracefile};

fn to_bytes(t: &Tracefile) -> Vec<u8> {
    let mut out = Vec::new();
    write(t, &mut out).expect("writing to a Vec cannot fail");
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok((t, _warnings)) = read(data) else {
        return;
    };
    let text = to_bytes(&t);
    let (back, warnings) = match read(&text) {
        Ok(v) => v,
        Err(e) => panic!("written tracefile does not read: {e}"),
    };
    assert!(
        warnings.is_empty(),
        "written tracefile has warnings: {warnings:?}"
    );
    assert_eq!(back, t, "written tracefile reads to another tracefile");
    assert_eq!(to_bytes(&back), text, "second write differs from the first");

    let mut doubled = t.clone();
    let _ = doubled.merge(&t);
    assert_eq!(doubled.files.len(), t.files.len());
    for (d, f) in doubled.files.iter().zip(&t.files) {
        assert_eq!(d.lines.len(), f.lines.len());
        assert_eq!(d.functions.len(), f.functions.len());
        assert_eq!(d.branches.len(), f.branches.len());
    }

    let (layout, counters, _warnings) = to_layout(&t);
    assert_eq!(layout.units.len(), counters.len());
    let mut paths: Vec<&str> = t.files.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(layout.files.len(), paths.len());
});
