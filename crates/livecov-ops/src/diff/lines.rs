//! Which added lines can be measured at all: a blank line or a comment is never
//! executable, even inside a unit that spans it (a Go block spans the comments between
//! its statements, so the line view of LCOV and Cobertura counts them, and diff-cover
//! reports a comment-only edit as uncovered).
//!
//! Decided from the diff's own text, per language family by file extension; an unknown
//! extension only drops blank lines. Block comments are followed across consecutive
//! added lines; a block comment that starts in an unchanged line is not seen, so its
//! added lines count if the data counts them (erring towards measuring).

use livecov_source::patch::AddedLine;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `//` and `/* … */`: Go, C, C++, Rust, Java, JavaScript, …
    CLike,
    /// `#`: Python, shell, Ruby, Perl, YAML.
    Hash,
    /// Blank lines only.
    Other,
}

fn family(path: &str) -> Family {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "go" | "c" | "h" | "cc" | "cpp" | "cxx" | "hh" | "hpp" | "hxx" | "rs" | "java" | "kt"
        | "js" | "jsx" | "ts" | "tsx" | "swift" | "scala" | "cs" | "m" | "mm" | "dart"
        | "proto" => Family::CLike,
        "py" | "pyi" | "sh" | "bash" | "rb" | "pl" | "pm" | "yaml" | "yml" | "r" => Family::Hash,
        _ => Family::Other,
    }
}

/// For each added line, whether it is blank or only a comment.
pub(crate) fn non_code(path: &str, added: &[AddedLine]) -> Vec<bool> {
    let fam = family(path);
    let mut out = Vec::with_capacity(added.len());
    let mut in_block = false;
    let mut prev: Option<u32> = None;
    for a in added {
        // A block comment is only followed through consecutive added lines.
        if prev.is_some_and(|p| p + 1 != a.line) {
            in_block = false;
        }
        prev = Some(a.line);
        let t = a.text.trim();
        let skip = if t.is_empty() {
            true
        } else {
            match fam {
                Family::Other => false,
                Family::Hash => t.starts_with('#'),
                Family::CLike => {
                    if in_block {
                        match t.find("*/") {
                            Some(end) => {
                                in_block = false;
                                t[end + 2..].trim().is_empty()
                            }
                            None => true,
                        }
                    } else if t.starts_with("//") {
                        true
                    } else if let Some(rest) = t.strip_prefix("/*") {
                        match rest.find("*/") {
                            Some(end) => rest[end + 2..].trim().is_empty(),
                            None => {
                                in_block = true;
                                true
                            }
                        }
                    } else {
                        false
                    }
                }
            }
        };
        out.push(skip);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(texts: &[(u32, &str)]) -> Vec<AddedLine> {
        texts
            .iter()
            .map(|(l, t)| AddedLine {
                line: *l,
                text: (*t).to_owned(),
            })
            .collect()
    }

    #[test]
    fn comments_and_blanks_by_language() {
        let go = lines(&[
            (1, "\t// doc"),
            (2, ""),
            (3, "\tx := 1 // trailing"),
            (4, "/* one */"),
            (5, "/* starts"),
            (6, " * middle"),
            (7, " */"),
            (8, "/* c */ y()"),
            (9, "*p = 3"),
        ]);
        assert_eq!(
            non_code("a/b.go", &go),
            [true, true, false, true, true, true, true, false, false]
        );
        let py = lines(&[(1, "# c"), (2, "x = 1  # c"), (3, "   ")]);
        assert_eq!(non_code("m.py", &py), [true, false, true]);
        assert_eq!(non_code("README", &py), [false, false, true]);
        // A gap ends a block comment: line 9 is not known to be inside one.
        let gap = lines(&[(1, "/* open"), (9, "*p = 3")]);
        assert_eq!(non_code("x.c", &gap), [true, false]);
    }
}
