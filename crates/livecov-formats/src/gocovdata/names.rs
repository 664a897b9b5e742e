//! File names of coverage files (spec §4): `covmeta.<tag>` and
//! `covcounters.<tag>.<pid>.<n>`.
//!
//! The tag in a name is only a hint; livecov identifies a build by the hash inside the
//! file. The matching rules still follow Go's regular expressions
//! `^covmeta\.(\S+)$` and `^covcounters\.(\S+)\.(\d+)\.(\d+)+$` so that the same files
//! are picked up.

use super::hex16;

/// What a file name says about a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CovFileName<'a> {
    /// A meta-data file and its tag.
    Meta {
        /// The tag after `covmeta.`.
        tag: &'a str,
    },
    /// A counter-data file.
    Counters {
        /// The tag (greedy, like Go's `\S+`).
        tag: &'a str,
        /// The process id field.
        pid: i64,
    },
}

fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// Classifies a base name; `None` for files Go ignores (`tmp.*`, `README`, …).
pub fn classify_file_name(name: &str) -> Option<CovFileName<'_>> {
    if let Some(tag) = name.strip_prefix("covmeta.") {
        if !tag.is_empty() && !tag.contains(is_go_space) {
            return Some(CovFileName::Meta { tag });
        }
        return None;
    }
    let rest = name.strip_prefix("covcounters.")?;
    if rest.contains(is_go_space) {
        return None;
    }
    // The last field is one or more digits, the one before it the pid; the greedy tag
    // takes everything else, so split from the right.
    let (head, last) = rest.rsplit_once('.')?;
    if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (tag, pid) = head.rsplit_once('.')?;
    if tag.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Go parses the pid as an int and skips the file when that fails (overflow).
    let pid = pid.parse::<i64>().ok()?;
    Some(CovFileName::Counters { tag, pid })
}

/// `covmeta.<hex>`.
pub fn meta_file_name(hash: &[u8; 16]) -> String {
    format!("covmeta.{}", hex16(hash))
}

/// `covcounters.<hex>.<pid>.<n>`.
pub fn counter_file_name(hash: &[u8; 16], pid: u64, n: u128) -> String {
    format!("covcounters.{}.{pid}.{n}", hex16(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_patterns() {
        assert_eq!(
            classify_file_name("covmeta.abc"),
            Some(CovFileName::Meta { tag: "abc" })
        );
        assert_eq!(
            classify_file_name("covcounters.abc.12.345"),
            Some(CovFileName::Counters {
                tag: "abc",
                pid: 12
            })
        );
        // Greedy tag: covcounters.H.1.2.3 has tag H.1.
        assert_eq!(
            classify_file_name("covcounters.H.1.2.3"),
            Some(CovFileName::Counters { tag: "H.1", pid: 2 })
        );
        assert_eq!(classify_file_name("tmp.covmeta.abc"), None);
        assert_eq!(classify_file_name("covmeta."), None);
        assert_eq!(classify_file_name("covcounters.abc.1"), None);
        assert_eq!(classify_file_name("covcounters.abc.x.1"), None);
        assert_eq!(
            classify_file_name("covcounters.abc.99999999999999999999.1"),
            None
        );
        assert_eq!(classify_file_name("metadata.json"), None);
    }
}
