//! A [`Profile`] as a tracefile, for exports.

use livecov_model::Profile;

use super::{Line, SourceFile, Tracefile};

/// The tracefile of `profile`: one `SF` block per file, sorted by path, under the default
/// test, with one `DA` per executable line ([`Profile::line_hits`]: the highest count of
/// the units spanning it). A profile keeps no function names or branches, so none are
/// written; `LF`/`LH` are then exactly the line view every summary export shows.
pub fn from_profile(profile: &Profile) -> Tracefile {
    let mut files: Vec<&str> = profile.files().collect();
    files.sort_unstable();
    Tracefile {
        files: files
            .into_iter()
            .map(|path| SourceFile {
                lines: profile
                    .line_hits(path)
                    .into_iter()
                    .map(|(line, hits)| Line {
                        line,
                        hits: u64::from(hits),
                        checksum: None,
                    })
                    .collect(),
                ..SourceFile::new(path)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecov_model::{CounterMode, Unit};

    #[test]
    fn a_profile_reads_back_as_the_same_lines() {
        let mut p = Profile::new(CounterMode::Count);
        let u = |s, e| Unit {
            start_line: s,
            start_col: 4,
            end_line: e,
            end_col: 2,
            stmts: 1,
        };
        p.add("z/b.go", u(3, 5), 2).unwrap();
        p.add("z/b.go", u(5, 6), 9).unwrap();
        p.add("a.py", u(1, 1), 0).unwrap();
        let t = from_profile(&p);
        let mut text = Vec::new();
        super::super::write(&t, &mut text).unwrap();
        let (back, warnings) = super::super::read(&text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(back, t);
        assert_eq!(t.files[0].path, "a.py");
        let b = &t.files[1];
        assert_eq!(
            b.lines.iter().map(|l| (l.line, l.hits)).collect::<Vec<_>>(),
            [(3, 2), (4, 2), (5, 9), (6, 9)]
        );
        assert_eq!((b.lines_found(), b.lines_hit()), (4, 4));
    }
}
