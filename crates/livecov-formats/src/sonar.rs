//! SonarQube's generic test coverage XML (`sonar.coverageReportPaths`).
//!
//! Spec: SonarQube's "Generic test data" documentation
//! (<https://docs.sonarsource.com/sonarqube-server/latest/analyzing-source-code/test-coverage/generic-test-data/>):
//! a root `<coverage version="1">`, one `<file path="…">` per source file (the path
//! relative to the project's base directory, or absolute), and in it one
//! `<lineToCover lineNumber="N" covered="true|false"/>` per executable line, with
//! optional `branchesToCover` and `coveredBranches` attributes. A file without lines is
//! still written: SonarQube then counts it as having nothing to cover. The schema the tests
//! validate against is `crates/livecov/tests/data/export/sonar-generic-coverage.xsd`,
//! written from that page.
//!
//! A profile has no branch data, so no branch attributes are written. Files are sorted by
//! path. A line numbered 0 (which no real producer writes, but an LCOV input may hold)
//! cannot be written: the schema wants a positive integer.

use std::io::{self, Write};

use livecov_model::Profile;

use crate::xml::escape;

/// Writes `profile` as generic coverage XML.
pub fn write(profile: &Profile, out: &mut impl Write) -> io::Result<()> {
    let mut files: Vec<&str> = profile.files().collect();
    files.sort_unstable();
    let mut w = io::BufWriter::with_capacity(64 * 1024, out);
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(w, r#"<coverage version="1">"#)?;
    for file in files {
        writeln!(w, r#"  <file path="{}">"#, escape(file))?;
        for (line, hits) in profile.line_hits(file) {
            if line == 0 {
                continue;
            }
            writeln!(
                w,
                r#"    <lineToCover lineNumber="{line}" covered="{}"/>"#,
                hits > 0
            )?;
        }
        writeln!(w, "  </file>")?;
    }
    writeln!(w, "</coverage>")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecov_model::{CounterMode, Unit};

    #[test]
    fn one_file_element_per_file_sorted_with_a_line_each() {
        let mut p = Profile::new(CounterMode::Set);
        let u = |l| Unit {
            start_line: l,
            start_col: 1,
            end_line: l,
            end_col: 3,
            stmts: 1,
        };
        p.add("src/b.py", u(2), 1).unwrap();
        p.add("src/a<1>.py", u(5), 0).unwrap();
        let mut out = Vec::new();
        write(&p, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?>
<coverage version="1">
  <file path="src/a&lt;1&gt;.py">
    <lineToCover lineNumber="5" covered="false"/>
  </file>
  <file path="src/b.py">
    <lineToCover lineNumber="2" covered="true"/>
  </file>
</coverage>
"#
        );
    }
}
