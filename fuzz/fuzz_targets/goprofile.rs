//! `goprofile::parse` on arbitrary text: never panic; whatever parses is written back with
//! `goprofile::write` and parses again, without warnings, to the same profile (also after
//! `sort_textfmt`), and merging a profile into a copy of itself succeeds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecov_formats::goprofile::{parse, sort_textfmt, write, Profile};

fn to_text(p: &Profile) -> String {
    let mut out = Vec::new();
    write(p, &mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("write produces UTF-8")
}

fn reparse(p: &Profile) -> String {
    let text = to_text(p);
    let (q, warnings) = match parse(&text) {
        Ok(v) => v,
        Err(e) => panic!("written profile does not parse: {e}\n{text}"),
    };
    assert!(
        warnings.is_empty(),
        "written profile has warnings: {warnings:?}"
    );
    assert_eq!(&q, p, "written profile parses to another profile");
    assert_eq!(to_text(&q), text, "second write differs from the first");
    text
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok((p, _warnings)) = parse(&text) else {
        return;
    };
    assert_eq!(p.len(), p.blocks().count());
    reparse(&p);

    let mut sorted = p.clone();
    sort_textfmt(&mut sorted);
    assert_eq!(sorted.len(), p.len());
    reparse(&sorted);

    let mut doubled = p.clone();
    match doubled.merge(&p) {
        Ok(_) => assert_eq!(doubled.len(), p.len()),
        Err(e) => panic!("merging a profile into itself failed: {e}"),
    }
});
