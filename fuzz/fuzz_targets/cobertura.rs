//! `cobertura::read` (what `livecov diff --profile` reads of Cobertura XML) on arbitrary
//! bytes: never panic; every `Ok` has each file's lines 1-based, strictly increasing and
//! unique, and no empty `<source>`; an error names a line inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecov_formats::cobertura::read;

fuzz_target!(|data: &[u8]| {
    match read(data) {
        Ok(report) => {
            assert!(report.sources.iter().all(|s| !s.trim().is_empty()));
            for (file, lines) in &report.files {
                let mut last = 0u32;
                for &(line, _hits) in lines {
                    assert!(line > last, "{file}: line {line} after {last}");
                    last = line;
                }
            }
        }
        Err(e) => {
            let lines = 1 + data.iter().filter(|&&b| b == b'\n').count();
            assert!(
                (1..=lines).contains(&e.line),
                "error on line {} of {lines}: {e}",
                e.line
            );
        }
    }
});
