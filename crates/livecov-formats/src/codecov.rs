//! Codecov's own JSON coverage format: `{"coverage": {"<path>": {"<line>": hits}}}`.
//!
//! Spec: `../shared/specs/formats.md` §5 (what Codecov accepts) and Codecov's
//! "Codecov Custom Coverage Format" documentation
//! (<https://docs.codecov.com/docs/codecov-custom-coverage-format>): paths relative to the
//! repository root, line numbers as string keys, and per line an integer hit count (or
//! `"h/t"` for partial branches, or `null`, which livecov never writes). Files and lines
//! are sorted, so the same profile gives the same bytes.

use std::io::{self, Write};

use livecov_model::Profile;

/// Writes `profile` in Codecov's JSON format, one file per line.
pub fn write(profile: &Profile, out: &mut impl Write) -> io::Result<()> {
    let mut files: Vec<&str> = profile.files().collect();
    files.sort_unstable();
    let mut w = io::BufWriter::with_capacity(64 * 1024, out);
    write!(w, "{{\"coverage\":{{")?;
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            write!(w, ",")?;
        }
        write!(w, "\n{}:{{", json_string(file))?;
        for (j, (line, hits)) in profile.line_hits(file).into_iter().enumerate() {
            if j > 0 {
                write!(w, ",")?;
            }
            write!(w, "\"{line}\":{hits}")?;
        }
        write!(w, "}}")?;
    }
    writeln!(w, "\n}}}}")?;
    w.flush()
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    // serde_json escapes exactly what JSON requires; a `&str` always serialises.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecov_model::{CounterMode, Unit};

    #[test]
    fn lines_are_string_keys_with_integer_hits() {
        let mut p = Profile::new(CounterMode::Count);
        let u = |s, e| Unit {
            start_line: s,
            start_col: 1,
            end_line: e,
            end_col: 3,
            stmts: 1,
        };
        p.add("pkg/z.go", u(3, 4), 12).unwrap();
        p.add("a \"q\".go", u(1, 1), 0).unwrap();
        let mut out = Vec::new();
        write(&p, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"coverage\":{\n\"a \\\"q\\\".go\":{\"1\":0},\n\"pkg/z.go\":{\"3\":12,\"4\":12}\n}}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["coverage"]["pkg/z.go"]["4"], 12);
    }
}
