//! Source trees: the files of one repo@commit ([`GitTree`]) or of a local directory
//! ([`DirTree`]), listed once and read by path.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::process::Git;

/// The largest source file read, from a directory or from git: far above any real source
/// file, and low enough that a hostile repository (or a hostile `cat-file` size) cannot
/// make livecov allocate gigabytes.
pub(crate) const MAX_FILE_BYTES: u64 = 64 << 20;

/// The files of one source tree.
///
/// Invariant: [`paths`](SourceTree::paths) is sorted, deduplicated, repo-relative and
/// `/`-separated, and `read` returns `Ok(None)` exactly for paths not in that list.
pub trait SourceTree: Send + Sync {
    /// Every regular file in the tree, sorted.
    fn paths(&self) -> &[String];
    /// The content of `path`, or `None` when the tree has no such file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>>;
    /// A human-readable name: `url@commit` for git trees, the directory for local ones.
    fn label(&self) -> String;
    /// Whether `path` is one of [`paths`](SourceTree::paths).
    fn contains(&self, path: &str) -> bool {
        self.paths()
            .binary_search_by(|p| p.as_str().cmp(path))
            .is_ok()
    }
}

/// A local directory, walked once when opened.
///
/// `.git` and `node_modules` are skipped; symbolic links to regular files inside the
/// directory are listed, links that lead outside it are not, and links to directories
/// are not followed (they could loop). Reads check again that the file resolves inside
/// the directory and is a regular file of at most 64 MiB, so a file replaced by a link
/// after the walk is refused too.
#[derive(Debug)]
pub struct DirTree {
    root: PathBuf,
    /// `root` with every link resolved: what each file must resolve inside of.
    canonical: PathBuf,
    paths: Vec<String>,
    skipped: Vec<PathBuf>,
    skip_dirs: &'static [&'static str],
}

impl DirTree {
    /// Walks `root` and lists its files.
    pub fn open(root: &Path) -> Result<DirTree> {
        DirTree::open_skipping(root, &[])
    }

    /// Like [`open`](DirTree::open), also leaving out directories with these names (for
    /// GOROOT: `testdata`, which Go never builds and which holds a third of its files).
    pub fn open_skipping(root: &Path, skip_dirs: &'static [&'static str]) -> Result<DirTree> {
        let canonical = fs::canonicalize(root).map_err(|source| Error::Io {
            what: "opening",
            path: root.to_path_buf(),
            source,
        })?;
        let mut tree = DirTree {
            root: root.to_path_buf(),
            canonical,
            paths: Vec::new(),
            skipped: Vec::new(),
            skip_dirs,
        };
        tree.walk(root, "")?;
        tree.paths.sort();
        Ok(tree)
    }

    /// The directory this tree lists.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Files left out because their names are not UTF-8.
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    fn walk(&mut self, dir: &Path, prefix: &str) -> Result<()> {
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { what, path, source }
        };
        let entries = fs::read_dir(dir).map_err(io("listing", dir))?;
        for entry in entries {
            let entry = entry.map_err(io("listing", dir))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                self.skipped.push(path);
                continue;
            };
            let file_type = entry.file_type().map_err(io("inspecting", &path))?;
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if file_type.is_dir() {
                if name != ".git"
                    && name != "node_modules"
                    && !self.skip_dirs.contains(&name.as_str())
                {
                    self.walk(&path, &rel)?;
                }
            } else if file_type.is_file() || (file_type.is_symlink() && self.inside(&path)) {
                self.paths.push(rel);
            }
        }
        Ok(())
    }
}

impl DirTree {
    /// Whether `path` resolves to a regular file inside the tree.
    fn inside(&self, path: &Path) -> bool {
        fs::canonicalize(path).is_ok_and(|c| c.starts_with(&self.canonical) && c.is_file())
    }
}

impl SourceTree for DirTree {
    fn paths(&self) -> &[String] {
        &self.paths
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        if !self.contains(path) {
            return Ok(None);
        }
        let full = self.root.join(path);
        let err = |source| Error::Io {
            what: "reading",
            path: full.clone(),
            source,
        };
        let refuse = |why: String| err(std::io::Error::other(why));
        let resolved = fs::canonicalize(&full).map_err(err)?;
        if !resolved.starts_with(&self.canonical) {
            return Err(refuse(format!(
                "it resolves to {}, outside the tree {}",
                resolved.display(),
                self.canonical.display()
            )));
        }
        let meta = fs::metadata(&resolved).map_err(err)?;
        if !meta.is_file() {
            return Err(refuse("not a regular file".to_owned()));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(refuse(format!(
                "{} bytes, over the {} MiB limit for a source file",
                meta.len(),
                MAX_FILE_BYTES >> 20
            )));
        }
        let mut data = Vec::with_capacity(meta.len() as usize);
        fs::File::open(&resolved)
            .and_then(|f| f.take(MAX_FILE_BYTES).read_to_end(&mut data))
            .map_err(err)?;
        Ok(Some(data))
    }

    fn label(&self) -> String {
        self.root.display().to_string()
    }
}

/// The files of one commit in the git cache, read straight from the object database.
///
/// Listing runs `git ls-tree` once; reading goes through one long-lived
/// `git cat-file --batch` process per tree, started on the first read.
pub struct GitTree {
    label: String,
    commit: String,
    paths: Vec<String>,
    blobs: HashMap<String, String>,
    skipped: usize,
    git: Git,
    reader: Mutex<Option<CatFile>>,
}

impl std::fmt::Debug for GitTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTree")
            .field("label", &self.label)
            .field("files", &self.paths.len())
            .finish_non_exhaustive()
    }
}

impl GitTree {
    /// Lists `commit` (a full id) of the bare repository that `git` points at.
    pub(crate) fn list(git: Git, label: String, commit: String) -> Result<GitTree> {
        let out = git
            .clone()
            .args(["ls-tree", "-r", "-z", "--full-tree", &commit])
            .run(|| format!("listing the files of {label}"))?;
        let mut blobs = HashMap::new();
        let mut links = Vec::new();
        let mut skipped = 0;
        for record in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            // `<mode> SP <type> SP <object> TAB <path>`
            let Some(tab) = record.iter().position(|&b| b == b'\t') else {
                skipped += 1;
                continue;
            };
            let (meta, path) = (&record[..tab], &record[tab + 1..]);
            let mut fields = meta.split(|&b| b == b' ');
            let (Some(mode), Some(kind), Some(oid)) = (fields.next(), fields.next(), fields.next())
            else {
                skipped += 1;
                continue;
            };
            if kind != b"blob" {
                continue; // submodules (`commit`) have no content here
            }
            let (Ok(path), Ok(oid)) = (String::from_utf8(path.to_vec()), std::str::from_utf8(oid))
            else {
                skipped += 1;
                continue;
            };
            if mode == b"120000" {
                links.push((path, oid.to_owned()));
            } else {
                blobs.insert(path, oid.to_owned());
            }
        }
        let mut tree = GitTree {
            label,
            commit,
            paths: Vec::new(),
            blobs,
            skipped,
            git,
            reader: Mutex::new(None),
        };
        tree.resolve_links(links)?;
        tree.paths = tree.blobs.keys().cloned().collect();
        tree.paths.sort();
        Ok(tree)
    }

    /// A symbolic link to a regular file of the same tree is listed as that file; other
    /// links (to directories, outside the tree, dangling) are left out.
    fn resolve_links(&mut self, links: Vec<(String, String)>) -> Result<()> {
        for (path, oid) in links {
            let target = self.read_object(&path, &oid)?;
            let Ok(target) = String::from_utf8(target) else {
                continue;
            };
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            if let Some(joined) = join_relative(dir, &target) {
                if let Some(target_oid) = self.blobs.get(&joined).cloned() {
                    self.blobs.insert(path, target_oid);
                }
            }
        }
        Ok(())
    }

    /// The full commit id.
    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// Entries left out because their names are not UTF-8 or `ls-tree` output was odd.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    fn read_object(&self, path: &str, oid: &str) -> Result<Vec<u8>> {
        // A poisoned lock only means another reader panicked; the process state is
        // reset below on any error, so the value is still usable.
        let mut guard = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(CatFile::spawn(&self.git, &self.label)?);
        }
        let result = match guard.as_mut() {
            Some(reader) => reader.read(oid),
            None => Err("the reader is not running".to_owned()),
        };
        if result.is_err() {
            // The stream may be out of step; start afresh on the next read.
            *guard = None;
        }
        result.map_err(|message| Error::Object {
            label: self.label.clone(),
            path: path.to_owned(),
            message,
        })
    }
}

impl SourceTree for GitTree {
    fn paths(&self) -> &[String] {
        &self.paths
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.blobs.get(path) {
            Some(oid) => self.read_object(path, oid).map(Some),
            None => Ok(None),
        }
    }

    fn label(&self) -> String {
        self.label.clone()
    }

    fn contains(&self, path: &str) -> bool {
        self.blobs.contains_key(path)
    }
}

/// `dir/target` with `.` and `..` folded; `None` when it leaves the tree or is absolute.
pub(crate) fn join_relative(dir: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// A running `git cat-file --batch`.
struct CatFile {
    child: Child,
    input: Option<BufWriter<ChildStdin>>,
    output: BufReader<ChildStdout>,
    command: String,
}

impl CatFile {
    fn spawn(git: &Git, label: &str) -> Result<CatFile> {
        let git = git.clone().args(["cat-file", "--batch"]);
        let command = git.to_string();
        let spawn_err = |source| Error::Spawn {
            what: format!("reading files of {label}"),
            command: command.clone(),
            source,
        };
        let mut child = git
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(spawn_err)?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_err(std::io::Error::other("no pipes")));
        };
        Ok(CatFile {
            child,
            input: Some(BufWriter::new(input)),
            output: BufReader::new(output),
            command,
        })
    }

    fn read(&mut self, oid: &str) -> std::result::Result<Vec<u8>, String> {
        let io = |e: std::io::Error| format!("`{}`: {e}", self.command);
        let input = self.input.as_mut().ok_or("the reader is closed")?;
        writeln!(input, "{oid}")
            .and_then(|()| input.flush())
            .map_err(io)?;
        let mut header = String::new();
        self.output.read_line(&mut header).map_err(io)?;
        let size = blob_size(oid, header.trim_end())?;
        let mut data = vec![0; size];
        self.output.read_exact(&mut data).map_err(io)?;
        let mut newline = [0u8; 1];
        self.output.read_exact(&mut newline).map_err(io)?;
        Ok(data)
    }
}

/// The size in a `cat-file --batch` header, `<oid> <type> <size>` (or `<oid> missing`),
/// refused when the object is not a blob or is larger than [`MAX_FILE_BYTES`], before
/// anything is allocated for it. The caller restarts the reader after an error, since
/// the body was not consumed.
fn blob_size(oid: &str, header: &str) -> std::result::Result<usize, String> {
    let mut fields = header.split(' ');
    let (Some(_), Some(kind), Some(size)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(format!("object {oid}: git answered {header:?}"));
    };
    if kind != "blob" {
        return Err(format!("object {oid} is a {kind}, not a blob"));
    }
    let size: u64 = size
        .parse()
        .map_err(|_| format!("object {oid}: bad size in {header:?}"))?;
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "object {oid} is {size} bytes, over the {} MiB limit for a source file",
            MAX_FILE_BYTES >> 20
        ));
    }
    usize::try_from(size).map_err(|_| format!("object {oid}: {size} bytes do not fit in memory"))
}

impl Drop for CatFile {
    fn drop(&mut self) {
        // Closing stdin ends cat-file; wait so it does not linger as a zombie.
        drop(self.input.take());
        if self.child.wait().is_err() {
            let _ = self.child.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_are_joined_inside_the_tree() {
        assert_eq!(join_relative("a/b", "../c.go").as_deref(), Some("a/c.go"));
        assert_eq!(join_relative("", "./x/y.go").as_deref(), Some("x/y.go"));
        assert_eq!(join_relative("a", "../../x"), None);
        assert_eq!(join_relative("a", "/etc/passwd"), None);
    }

    #[test]
    fn dir_tree_lists_sorted_files_and_skips_git_dirs() {
        let dir = tempfile::tempdir().unwrap();
        for rel in ["b/z.go", "a.go", ".git/HEAD", "node_modules/x.js", "b/a.go"] {
            let p = dir.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, rel).unwrap();
        }
        let tree = DirTree::open(dir.path()).unwrap();
        assert_eq!(tree.paths(), ["a.go", "b/a.go", "b/z.go"]);
        assert_eq!(
            tree.read("b/a.go").unwrap().as_deref(),
            Some(&b"b/a.go"[..])
        );
        assert_eq!(tree.read(".git/HEAD").unwrap(), None);
        assert_eq!(tree.read("../etc/passwd").unwrap(), None);
    }

    #[test]
    fn dir_tree_never_follows_a_link_out_of_its_root() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir_all(root.join("pkg")).unwrap();
        fs::write(root.join("pkg/a.go"), "package pkg\n").unwrap();
        fs::write(tmp.path().join("secret"), "secret\n").unwrap();
        fs::create_dir_all(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/x.go"), "outside\n").unwrap();
        symlink("a.go", root.join("pkg/in.go")).unwrap();
        symlink(tmp.path().join("secret"), root.join("pkg/out.go")).unwrap();
        symlink("../../secret", root.join("pkg/rel.go")).unwrap();
        symlink(tmp.path().join("outside"), root.join("ext")).unwrap();
        let tree = DirTree::open(&root).unwrap();
        assert_eq!(tree.paths(), ["pkg/a.go", "pkg/in.go"]);
        assert_eq!(tree.read("pkg/in.go").unwrap().unwrap(), b"package pkg\n");
        assert_eq!(tree.read("pkg/out.go").unwrap(), None);

        // A listed file replaced by a link out of the tree after the walk is refused.
        fs::remove_file(root.join("pkg/a.go")).unwrap();
        symlink(tmp.path().join("secret"), root.join("pkg/a.go")).unwrap();
        let e = tree.read("pkg/a.go").unwrap_err().to_string();
        assert!(e.contains("outside the tree"), "{e}");
        // So is a listed directory replaced by a link.
        fs::remove_dir_all(root.join("pkg")).unwrap();
        symlink(tmp.path().join("outside"), root.join("pkg")).unwrap();
        assert!(tree.read("pkg/in.go").is_err());
    }

    #[test]
    fn cat_file_sizes_are_bounded_before_allocating() {
        let oid = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(blob_size(oid, &format!("{oid} blob 12")), Ok(12));
        let e = blob_size(oid, &format!("{oid} blob 99999999999999")).unwrap_err();
        assert!(
            e.contains("99999999999999 bytes") && e.contains("64 MiB"),
            "{e}"
        );
        let e = blob_size(oid, &format!("{oid} blob {}", MAX_FILE_BYTES + 1)).unwrap_err();
        assert!(e.contains("limit"), "{e}");
        assert!(blob_size(oid, &format!("{oid} missing")).is_err());
        assert!(blob_size(oid, &format!("{oid} tree 5")).is_err());
        assert!(blob_size(oid, &format!("{oid} blob -1")).is_err());
    }
}
