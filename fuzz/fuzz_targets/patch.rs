//! `patch::parse` (the unified-diff reader behind `livecov diff`) on arbitrary text: never
//! panic; every `Ok` keeps each file's added lines 1-based and strictly increasing (what
//! `FilePatch::added` promises and the line lookup relies on), with no more added lines
//! than the input has `+` lines, each added text being the rest of one; and the same diff
//! with CRLF line ends parses to the same files, or fails on the same line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecov_source::patch::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = parse(&text);
    if let Ok(files) = &parsed {
        let plus_lines = text.lines().filter(|l| l.starts_with('+')).count();
        let added: usize = files.iter().map(|f| f.added.len()).sum();
        assert!(
            added <= plus_lines,
            "{added} added lines from {plus_lines} `+` lines"
        );
        for f in files {
            let mut last = 0u32;
            for a in &f.added {
                assert!(
                    a.line > last,
                    "{}: added line {} after line {last}",
                    f.path(),
                    a.line
                );
                last = a.line;
                assert!(
                    text.lines().any(|l| l
                        .strip_prefix('+')
                        .is_some_and(|t| t.strip_suffix('\r').unwrap_or(t) == a.text)),
                    "{}: added text {:?} is not in the input",
                    f.path(),
                    a.text
                );
            }
        }
    }
    if !text.contains('\r') {
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(parse(&crlf), parsed, "CRLF line ends change the result");
    }
});
