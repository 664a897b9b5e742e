//! `-pkg` patterns as Go's `cmd/internal/pkgpattern` simple patterns: an anchored literal
//! match where `...` matches any string, and a trailing `/...` may match nothing.

/// A comma-separated list of patterns; a package matches when any pattern does.
#[derive(Clone, Debug)]
pub struct PkgFilter {
    patterns: Vec<Pattern>,
}

#[derive(Clone, Debug)]
struct Pattern {
    /// Literal pieces between `...` wildcards.
    pieces: Vec<String>,
    /// `foo/...` also matches `foo`.
    optional_slash_suffix: Option<String>,
}

impl PkgFilter {
    /// Parses the `-pkg` value. Empty elements are dropped, so `-pkg=,` matches nothing.
    pub fn parse(value: &str) -> PkgFilter {
        PkgFilter {
            patterns: value
                .split(',')
                .filter(|p| !p.is_empty())
                .map(Pattern::new)
                .collect(),
        }
    }

    /// True when `path` matches one of the patterns.
    pub fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(path))
    }
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        let optional_slash_suffix = pattern.strip_suffix("/...").map(|prefix| prefix.to_owned());
        Pattern {
            pieces: pattern.split("...").map(str::to_owned).collect(),
            optional_slash_suffix,
        }
    }

    fn matches(&self, path: &str) -> bool {
        if let Some(prefix) = &self.optional_slash_suffix {
            if Pattern::new(prefix).glob(path) {
                return true;
            }
        }
        self.glob(path)
    }

    /// Anchored match of literal pieces separated by "match anything". Go's `.*` does
    /// not cross a newline; package paths never contain one.
    fn glob(&self, s: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("split yields one piece");
        let Some(mut s) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return s.is_empty();
        };
        for piece in middle {
            match s.find(piece.as_str()) {
                Some(at) => s = &s[at + piece.len()..],
                None => return false,
            }
        }
        s.len() >= last.len() && s.ends_with(last.as_str()) && !s.contains('\n')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_go_pkgpattern() {
        let f = PkgFilter::parse("net/...");
        assert!(f.matches("net"));
        assert!(f.matches("net/http"));
        assert!(!f.matches("network"));
        let f = PkgFilter::parse("example.com/prog/dep");
        assert!(f.matches("example.com/prog/dep"));
        assert!(!f.matches("example.com/prog/dep2"));
        let f = PkgFilter::parse("a...b,x");
        assert!(f.matches("ab") && f.matches("a/c/b") && f.matches("x"));
        assert!(!f.matches("abc"));
        let f = PkgFilter::parse("...");
        assert!(f.matches("anything/at/all"));
        assert!(!PkgFilter::parse(",").matches("a"));
        assert!(!PkgFilter::parse("").matches("a"));
        let f = PkgFilter::parse("...ab...ab");
        assert!(f.matches("abab") && !f.matches("aba"));
    }
}
