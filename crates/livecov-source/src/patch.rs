//! Unified diffs: what `git diff` prints and what `diff -u` or a code-review tool writes,
//! parsed into the files a change touched and the lines it added.
//!
//! Grammar: GNU diffutils' unified format (<https://www.gnu.org/software/diffutils/manual/html_node/Detailed-Unified.html>)
//! and git's extended headers (<https://git-scm.com/docs/diff-format>, "generating patch
//! text with -p"): `rename from/to`, `copy from/to`, `similarity index`, `new file mode`,
//! `deleted file mode`, `old mode`/`new mode`, `Binary files … differ`, `GIT binary patch`,
//! quoted paths (`core.quotePath`) and `\ No newline at end of file`.
//!
//! Only the new side's added lines are kept: removed lines have no place in the new
//! version, so they can never be covered or uncovered. A hunk is read by its line
//! counts, never by the look of a line, so a removed line that reads `-- x` or an added
//! one that reads `++ y` is not mistaken for a file header.

use std::fmt;

/// What a change did to a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileStatus {
    /// The file is new.
    Added,
    /// The file was removed: nothing of it is left to cover.
    Deleted,
    /// The file changed in place.
    Modified,
    /// The file moved (and may also have changed); `similarity` is git's percentage.
    Renamed {
        /// Git's `similarity index`, 0 when the diff does not say.
        similarity: u8,
    },
    /// The file was copied from another one.
    Copied {
        /// Git's `similarity index`, 0 when the diff does not say.
        similarity: u8,
    },
}

impl FileStatus {
    /// A lower-case word for reports: `added`, `deleted`, `modified`, `renamed`, `copied`.
    pub fn name(self) -> &'static str {
        match self {
            FileStatus::Added => "added",
            FileStatus::Deleted => "deleted",
            FileStatus::Modified => "modified",
            FileStatus::Renamed { .. } => "renamed",
            FileStatus::Copied { .. } => "copied",
        }
    }
}

/// One line the change added, numbered in the new version of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedLine {
    /// 1-based line number in the new file.
    pub line: u32,
    /// The line's text without the leading `+` and the line break.
    pub text: String,
}

/// One file of a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePatch {
    /// The path before the change (`None` for an added file).
    pub old_path: Option<String>,
    /// The path after the change (`None` for a deleted file).
    pub new_path: Option<String>,
    /// What happened to the file.
    pub status: FileStatus,
    /// The diff says the file is binary: it has no lines.
    pub binary: bool,
    /// Git's `old mode`/`new mode` (or the mode of a new or deleted file), when given.
    pub mode_change: Option<(String, String)>,
    /// Added lines, in line order.
    pub added: Vec<AddedLine>,
    /// Lines removed from the old version (counted, never measured).
    pub removed: u32,
}

impl FilePatch {
    fn new() -> FilePatch {
        FilePatch {
            old_path: None,
            new_path: None,
            status: FileStatus::Modified,
            binary: false,
            mode_change: None,
            added: Vec::new(),
            removed: 0,
        }
    }

    /// The path to report the file under: the new path, or the old one for a deletion.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }
}

/// A diff that cannot be read, with the 1-based line where reading stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchError {
    /// The line of the diff.
    pub line: usize,
    /// What was found and what was expected.
    pub message: String,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for PatchError {}

/// Parses a unified diff (git's or GNU diff's) into its files, in the diff's order.
///
/// Text before the first file header (a commit message, `git format-patch` mail headers)
/// is skipped. A file whose header says it was renamed or copied keeps both paths. An
/// empty input is an empty change.
pub fn parse(text: &str) -> Result<Vec<FilePatch>, PatchError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut files: Vec<FilePatch> = Vec::new();
    let mut current: Option<FilePatch> = None;
    // The first new-side line the current file's next hunk may start at: hunks come in
    // line order and never overlap, so `FilePatch::added` stays strictly increasing.
    let mut next_free: u64 = 1;
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let at = i + 1;
        if let Some(rest) = line.strip_prefix("diff --git ") {
            files.extend(current.take());
            next_free = 1;
            let mut f = FilePatch::new();
            if let Some((a, b)) = split_git_header(rest) {
                f.old_path = Some(a);
                f.new_path = Some(b);
            }
            current = Some(f);
        } else if line.starts_with("diff --cc ") || line.starts_with("diff --combined ") {
            return Err(PatchError {
                line: at,
                message: "a combined diff of a merge commit: livecov needs a two-sided diff; \
                          diff the merge commit against its first parent (`git diff M^1 M`)"
                    .to_owned(),
            });
        } else if line.starts_with("--- ")
            && lines.get(i + 1).is_some_and(|n| n.starts_with("+++ "))
        {
            let old = header_path(&line[4..], "a/");
            let next = lines[i + 1].trim_end_matches(['\n', '\r']);
            let new = header_path(&next[4..], "b/");
            let f = match current.as_mut() {
                // A `diff --git` header already named the file; `---`/`+++` confirm it
                // (and say `/dev/null` for an added or deleted file).
                Some(f) if f.added.is_empty() && f.removed == 0 => f,
                _ => {
                    files.extend(current.take());
                    next_free = 1;
                    current.insert(FilePatch::new())
                }
            };
            match old {
                None => {
                    f.old_path = None;
                    f.status = FileStatus::Added;
                }
                Some(p) => f.old_path = Some(p),
            }
            match new {
                None => {
                    f.new_path = None;
                    f.status = FileStatus::Deleted;
                }
                Some(p) => f.new_path = Some(p),
            }
            i += 2;
            continue;
        } else if line.starts_with("@@@") {
            return Err(PatchError {
                line: at,
                message: "a combined-diff hunk (`@@@`): diff the merge commit against its \
                          first parent instead"
                    .to_owned(),
            });
        } else if line.starts_with("@@ ") {
            let Some(f) = current.as_mut() else {
                return Err(PatchError {
                    line: at,
                    message: "a hunk (`@@ … @@`) before any file header (`diff --git` or \
                              `---`/`+++`)"
                        .to_owned(),
                });
            };
            let (mut old_left, new_start, mut new_left) =
                hunk_header(line).ok_or_else(|| PatchError {
                    line: at,
                    message: format!(
                        "expected a hunk header `@@ -START[,COUNT] +START[,COUNT] @@`, found \
                         {line:?}"
                    ),
                })?;
            // A hunk that adds nothing names the line after which it removed lines.
            let first = u64::from(new_start) + u64::from(new_left == 0);
            let end = u64::from(new_start) + u64::from(new_left);
            if new_left > 0 && new_start == 0 {
                return Err(PatchError {
                    line: at,
                    message: format!(
                        "a hunk of {} adds {new_left} lines from line 0 (new-side lines start \
                         at 1)",
                        f.path()
                    ),
                });
            }
            if first < next_free {
                return Err(PatchError {
                    line: at,
                    message: format!(
                        "a hunk of {} starts at new line {new_start}, inside or before the \
                         previous hunk (which ended before line {next_free}): hunks must come \
                         in line order without overlapping",
                        f.path()
                    ),
                });
            }
            if end > u64::from(u32::MAX) + 1 {
                return Err(PatchError {
                    line: at,
                    message: format!(
                        "a hunk of {} runs past line {} ({new_left} lines from line \
                         {new_start})",
                        f.path(),
                        u32::MAX
                    ),
                });
            }
            next_free = end.max(first);
            let mut new_line = new_start;
            i += 1;
            while old_left > 0 || new_left > 0 {
                let Some(raw) = lines.get(i) else {
                    return Err(PatchError {
                        line: i,
                        message: format!(
                            "the diff ends inside a hunk of {}: {old_left} old and {new_left} \
                             new lines are missing (a truncated diff?)",
                            f.path()
                        ),
                    });
                };
                let body = raw.strip_suffix('\n').unwrap_or(raw);
                let body = body.strip_suffix('\r').unwrap_or(body);
                match body.as_bytes().first() {
                    Some(b'+') if new_left > 0 => {
                        f.added.push(AddedLine {
                            line: new_line,
                            text: body[1..].to_owned(),
                        });
                        // At most u32::MAX: the header check bounds the hunk's end.
                        new_line = new_line.saturating_add(1);
                        new_left -= 1;
                    }
                    Some(b'-') if old_left > 0 => {
                        f.removed += 1;
                        old_left -= 1;
                    }
                    // Some tools strip the space of an empty context line.
                    Some(b' ') | None if old_left > 0 && new_left > 0 => {
                        new_line = new_line.saturating_add(1);
                        old_left -= 1;
                        new_left -= 1;
                    }
                    Some(b'\\') => {}
                    _ => {
                        return Err(PatchError {
                            line: i + 1,
                            message: format!(
                                "expected a hunk line of {} (` `, `+`, `-` or `\\`) with \
                                 {old_left} old and {new_left} new lines to go, found {body:?}",
                                f.path()
                            ),
                        })
                    }
                }
                i += 1;
            }
            continue;
        } else if let Some(f) = current.as_mut() {
            git_extended_header(f, line);
        }
        i += 1;
    }
    files.extend(current);
    Ok(files)
}

/// Applies one of git's extended header lines to `f`; other lines are ignored.
fn git_extended_header(f: &mut FilePatch, line: &str) {
    if let Some(p) = line.strip_prefix("rename from ") {
        f.old_path = Some(unquote(p));
        f.status = FileStatus::Renamed {
            similarity: similarity_of(f.status),
        };
    } else if let Some(p) = line.strip_prefix("rename to ") {
        f.new_path = Some(unquote(p));
        f.status = FileStatus::Renamed {
            similarity: similarity_of(f.status),
        };
    } else if let Some(p) = line.strip_prefix("copy from ") {
        f.old_path = Some(unquote(p));
        f.status = FileStatus::Copied {
            similarity: similarity_of(f.status),
        };
    } else if let Some(p) = line.strip_prefix("copy to ") {
        f.new_path = Some(unquote(p));
        f.status = FileStatus::Copied {
            similarity: similarity_of(f.status),
        };
    } else if let Some(s) = line.strip_prefix("similarity index ") {
        let similarity = s.trim_end_matches('%').parse().unwrap_or(0);
        f.status = match f.status {
            FileStatus::Copied { .. } => FileStatus::Copied { similarity },
            _ => FileStatus::Renamed { similarity },
        };
    } else if let Some(m) = line.strip_prefix("new file mode ") {
        f.status = FileStatus::Added;
        f.old_path = None;
        f.mode_change = Some((String::new(), m.to_owned()));
    } else if let Some(m) = line.strip_prefix("deleted file mode ") {
        f.status = FileStatus::Deleted;
        f.new_path = None;
        f.mode_change = Some((m.to_owned(), String::new()));
    } else if let Some(m) = line.strip_prefix("old mode ") {
        f.mode_change = Some((m.to_owned(), String::new()));
    } else if let Some(m) = line.strip_prefix("new mode ") {
        let old = f.mode_change.take().map(|(o, _)| o).unwrap_or_default();
        f.mode_change = Some((old, m.to_owned()));
    } else if line.starts_with("Binary files ") || line == "GIT binary patch" {
        f.binary = true;
    }
}

fn similarity_of(status: FileStatus) -> u8 {
    match status {
        FileStatus::Renamed { similarity } | FileStatus::Copied { similarity } => similarity,
        _ => 0,
    }
}

/// `-START[,COUNT] +START[,COUNT]` of a hunk header: (old count, new start, new count).
fn hunk_header(line: &str) -> Option<(u32, u32, u32)> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |r: &str| -> Option<(u32, u32)> {
        match r.split_once(',') {
            Some((s, n)) => Some((s.parse().ok()?, n.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (_, old_count) = range(old)?;
    let (new_start, new_count) = range(new)?;
    Some((old_count, new_start, new_count))
}

/// The path of a `---`/`+++` line: `None` for `/dev/null`, otherwise without git's `a/` or
/// `b/` prefix and without the timestamp GNU diff appends after a tab.
fn header_path(field: &str, prefix: &str) -> Option<String> {
    let field = if field.starts_with('"') {
        field
    } else {
        field.split('\t').next().unwrap_or(field)
    };
    let path = unquote(field.trim_end());
    if path == "/dev/null" {
        return None;
    }
    Some(path.strip_prefix(prefix).map(str::to_owned).unwrap_or(path))
}

/// `a/X b/Y` of a `diff --git` line. Ambiguous when a path has spaces and is not quoted;
/// then the halves are split where `a/X` equals `b/X` (a file neither renamed nor copied),
/// and a rename's `rename from/to` lines name the paths anyway.
fn split_git_header(rest: &str) -> Option<(String, String)> {
    if rest.starts_with('"') {
        let end = closing_quote(rest)?;
        let a = unquote(&rest[..=end]);
        let b = unquote(rest[end + 1..].trim_start());
        return Some((
            a.strip_prefix("a/")?.to_owned(),
            b.strip_prefix("b/")?.to_owned(),
        ));
    }
    if let Some(pos) = rest.find(" \"b/") {
        let a = &rest[..pos];
        let b = unquote(&rest[pos + 1..]);
        return Some((
            a.strip_prefix("a/")?.to_owned(),
            b.strip_prefix("b/")?.to_owned(),
        ));
    }
    let a = rest.strip_prefix("a/")?;
    // Same path on both sides: "a/P b/P", so the split is in the middle.
    let half = (a.len().checked_sub(3)?) / 2;
    if a.len() >= 3 && a.get(half..half + 3) == Some(" b/") && a[..half] == a[half + 3..] {
        return Some((a[..half].to_owned(), a[half + 3..].to_owned()));
    }
    let (x, y) = a.split_once(" b/")?;
    Some((x.to_owned(), y.to_owned()))
}

fn closing_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Undoes git's C-style quoting (`"a/t\303\251st.go"`); unquoted text is returned as is.
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_owned();
    };
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(f: &FilePatch) -> Vec<u32> {
        f.added.iter().map(|a| a.line).collect()
    }

    #[test]
    fn git_headers_renames_modes_binaries_and_deletions() {
        let diff = "\
diff --git a/old/name.go b/new/name.go
similarity index 87%
rename from old/name.go
rename to new/name.go
index 1111111..2222222 100644
--- a/old/name.go
+++ b/new/name.go
@@ -3,2 +3,3 @@ func f() {
 \tx := 1
-\ty := 2
+\ty := 3
+\tz := 4
diff --git a/gone.go b/gone.go
deleted file mode 100644
index 3333333..0000000
--- a/gone.go
+++ /dev/null
@@ -1,2 +0,0 @@
-package gone
-var X = 1
diff --git a/script.sh b/script.sh
old mode 100644
new mode 100755
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..4444444
Binary files /dev/null and b/logo.png differ
diff --git a/fresh.go b/fresh.go
new file mode 100644
--- /dev/null
+++ b/fresh.go
@@ -0,0 +1,2 @@
+package fresh
+var Y = 2
\\ No newline at end of file
";
        let files = parse(diff).unwrap();
        assert_eq!(files.len(), 5);
        let r = &files[0];
        assert_eq!(r.status, FileStatus::Renamed { similarity: 87 });
        assert_eq!(
            (r.old_path.as_deref(), r.new_path.as_deref()),
            (Some("old/name.go"), Some("new/name.go"))
        );
        assert_eq!(added(r), [4, 5]);
        assert_eq!(r.removed, 1);
        assert_eq!(files[1].status, FileStatus::Deleted);
        assert_eq!(files[1].path(), "gone.go");
        assert!(files[1].added.is_empty());
        assert_eq!(
            files[2].mode_change,
            Some(("100644".to_owned(), "100755".to_owned()))
        );
        assert_eq!(files[2].status, FileStatus::Modified);
        assert!(files[3].binary);
        assert_eq!(files[3].status, FileStatus::Added);
        assert_eq!(files[3].path(), "logo.png");
        assert_eq!(files[4].status, FileStatus::Added);
        assert_eq!(added(&files[4]), [1, 2]);
        assert_eq!(files[4].added[1].text, "var Y = 2");
    }

    #[test]
    fn hunks_are_read_by_their_counts_not_by_the_look_of_a_line() {
        // A removed line "-- x" and an added line "++ y" look like file headers.
        let diff = "\
--- a/f.txt\t2026-01-01 00:00:00
+++ b/f.txt\t2026-01-02 00:00:00
@@ -1,2 +1,2 @@
--- x
+++ y
 same
";
        let files = parse(diff).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path(), "f.txt");
        assert_eq!(added(&files[0]), [1]);
        assert_eq!(files[0].added[0].text, "++ y");
    }

    #[test]
    fn zero_context_hunks_and_default_counts() {
        let diff = "\
diff --git a/m.go b/m.go
--- a/m.go
+++ b/m.go
@@ -10 +10 @@
-a
+b
@@ -20,0 +21,2 @@ func g()
+c
+d
";
        let files = parse(diff).unwrap();
        assert_eq!(added(&files[0]), [10, 21, 22]);
    }

    #[test]
    fn quoted_paths_are_unquoted() {
        let diff = "\
diff --git \"a/t\\303\\251st dir/x.go\" \"b/t\\303\\251st dir/x.go\"
--- \"a/t\\303\\251st dir/x.go\"
+++ \"b/t\\303\\251st dir/x.go\"
@@ -1 +1 @@
-a
+b
";
        let files = parse(diff).unwrap();
        assert_eq!(files[0].path(), "tést dir/x.go");
        assert_eq!(split_git_header("a/x y b/x y").unwrap().0, "x y");
    }

    /// Untrusted diffs (a pull request's) never panic: every truncation of a diff with
    /// every kind of header, and every byte of it replaced by a few odd ones.
    #[test]
    fn mangled_diffs_never_panic() {
        let diff = "diff --git \"a/t\\303\\251 x.go\" \"b/t\\303\\251 x.go\"\nsimilarity index 90%\n\
                    rename from a\nrename to b\nold mode 100644\nnew mode 100755\n--- a/x\n+++ b/x\n\
                    @@ -4294967295,2 +4294967295,2 @@\n-a\n+b\n c\n\\ No newline at end of file\n\
                    diff --git a/é b/é\nBinary files a/é and b/é differ\n";
        let bytes = diff.as_bytes();
        for cut in 0..=bytes.len() {
            let _ = parse(&String::from_utf8_lossy(&bytes[..cut]));
        }
        for at in 0..bytes.len() {
            for b in [b'\n', b'"', b'\\', b'@', b'+', b'-', b' ', 0xC3] {
                let mut m = bytes.to_vec();
                m[at] = b;
                let _ = parse(&String::from_utf8_lossy(&m));
            }
        }
    }

    /// Found by the `patch` fuzz target: a mangled `diff --git` line let the next file's
    /// hunks land in the file before, so its added lines went backwards (5 after 6).
    #[test]
    fn hunks_out_of_order_or_overlapping_are_an_error() {
        let e = parse("--- a/f\n+++ b/f\n@@ -5,2 +5,2 @@\n-a\n-b\n+x\n+y\n@@ -5 +5 @@\n-c\n+z\n")
            .unwrap_err();
        assert_eq!(e.line, 8);
        assert!(e.message.contains("hunk of f starts at new line 5"), "{e}");
        let e = parse("--- a/f\n+++ b/f\n@@ -9 +9 @@\n-a\n+b\n@@ -1 +1 @@\n-c\n+d\n").unwrap_err();
        assert_eq!(e.line, 6);
        // A removal right after the lines a hunk ended with, and a new file's own hunks,
        // are in order.
        let files = parse(
            "--- a/f\n+++ b/f\n@@ -3 +3 @@\n-a\n+b\n@@ -5,2 +3,0 @@\n-c\n-d\n@@ -8 +5 @@\n-e\n+g\n\
             --- a/h\n+++ b/h\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .unwrap();
        assert_eq!(added(&files[0]), [3, 5]);
        assert_eq!(added(&files[1]), [1]);
    }

    /// Found by the `patch` fuzz target's invariant that added lines are 1-based and
    /// strictly increasing: a hunk from line 0, or one past u32::MAX, numbered lines 0 or
    /// repeated u32::MAX.
    #[test]
    fn hunks_from_line_zero_or_past_the_last_line_are_an_error() {
        let e = parse("--- a/f\n+++ b/f\n@@ -0,0 +0,1 @@\n+a\n").unwrap_err();
        assert!(e.message.contains("from line 0"), "{e}");
        let e = parse("--- a/f\n+++ b/f\n@@ -1,0 +4294967295,2 @@\n+a\n+b\n").unwrap_err();
        assert!(e.message.contains("runs past line 4294967295"), "{e}");
        let files = parse("--- a/f\n+++ b/f\n@@ -1,0 +4294967295 @@\n+a\n").unwrap();
        assert_eq!(added(&files[0]), [u32::MAX]);
    }

    #[test]
    fn truncated_and_malformed_diffs_name_the_line() {
        let e = parse("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("ends inside a hunk of f"), "{e}");
        let e = parse("--- a/f\n+++ b/f\n@@ -x +1 @@\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("@@ -1 +1 @@\n").unwrap_err();
        assert!(e.message.contains("before any file header"));
        let e = parse("diff --cc m.go\n").unwrap_err();
        assert!(e.message.contains("first parent"));
        assert!(parse("").unwrap().is_empty());
    }
}
