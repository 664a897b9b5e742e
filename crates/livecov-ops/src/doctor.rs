//! `livecov doctor`: why coverage is missing, for a Go binary, a coverage directory or a
//! coverage server. Each check returns [`Finding`]s that say what was seen and, for
//! anything wrong, what to change.
//!
//! Every input is untrusted: a binary is read through a bounded ELF reader (no section or
//! table larger than [`MAX_TABLE`] is loaded, nothing is read past the file's end), a
//! non-regular file is never opened (a FIFO would block), and a server's answers are
//! bounded in size and time. Nothing here panics on what it reads.
//!
//! What Go records (Go 1.20+, `cmd/go/internal/load/pkg.go` `setBuildInfo` and
//! `debug/buildinfo`): the `\xff Go buildinf:` blob in `.go.buildinfo` carries the Go
//! version and the module info, whose `build` lines include `-cover=true` for `go build
//! -cover` and `-ldflags=…`. The counter mode is not recorded anywhere in the binary (it
//! is an argument of the `runtime.addCovMeta` calls and reaches only the covmeta file
//! written at run time). Function names survive `-s -w` in `.gopclntab`, so the coverage
//! runtime (`internal/coverage/cfile.*`, `runtime.addCovMeta`) and livecov's agent
//! (`main.livecovAgent*`) are found in a stripped binary too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use livecov_collect::kube::{Connection, KubeSettings};
use livecov_collect::live::{Client, SnapshotData, Target};
use livecov_formats::gocovdata::{classify_file_name, hex16, CovFileName};

/// The largest ELF table (section headers, a string table, the symbol table, the build
/// info section) the doctor loads; a larger one is reported, not read.
pub const MAX_TABLE: u64 = 256 << 20;
/// How much of a binary is scanned for function names; a larger file is scanned up to it.
pub const MAX_SCAN: u64 = 4 << 30;
/// How many directory entries are looked at, over the whole tree.
pub const MAX_ENTRIES: usize = 100_000;
const MAX_DEPTH: usize = 8;
const MAX_HEALTH_BYTES: usize = 64 << 10;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// As it should be (or a neutral fact).
    Ok,
    /// Coverage may be lost in some cases.
    Warn,
    /// Coverage will be missing until it is changed.
    Problem,
}

/// One thing the doctor saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What was seen, naming the input.
    pub what: String,
    /// What to change, for warnings and problems.
    pub fix: Option<String>,
}

impl Finding {
    fn ok(what: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Ok,
            what: what.into(),
            fix: None,
        }
    }
    fn warn(what: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warn,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
    fn problem(what: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Problem,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Whether any finding is a problem.
pub fn has_problem(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Problem)
}

/// What the doctor is asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A file, expected to be a Go program (anything that is not a directory).
    Binary(PathBuf),
    /// A GOCOVERDIR or a collection's report directory.
    Dir(PathBuf),
    /// A coverage server.
    Url(Target),
}

/// Settings of a doctor run.
#[derive(Clone, Debug)]
pub struct DoctorSettings {
    /// The uid that is meant to write into a directory (a container's `runAsUser`);
    /// `None` checks only that a non-root writer could.
    pub writer_uid: Option<u32>,
    /// Per connection and request to a coverage server.
    pub timeout: Duration,
}

impl Default for DoctorSettings {
    fn default() -> DoctorSettings {
        DoctorSettings {
            writer_uid: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Reads a command-line word: an existing path is a directory or a binary; a URL or
/// `host:port` is a server. The error says why the word is neither.
pub fn subject(word: &str) -> Result<Subject, String> {
    let path = Path::new(word);
    if !word.contains("://") {
        match fs::symlink_metadata(path) {
            Ok(_) if path.is_dir() => return Ok(Subject::Dir(path.to_owned())),
            Ok(_) => return Ok(Subject::Binary(path.to_owned())),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("{word}: {e}"))
            }
            Err(_) => {}
        }
    }
    Target::parse(word).map(Subject::Url).map_err(|e| {
        format!("{word}: not an existing file or directory, nor a coverage server ({e})")
    })
}

/// Runs the checks for `subject`.
pub fn check(subject: &Subject, settings: &DoctorSettings) -> Vec<Finding> {
    match subject {
        Subject::Binary(p) => check_binary(p),
        Subject::Dir(p) => check_dir(p, settings.writer_uid),
        Subject::Url(t) => check_url(t, settings.timeout),
    }
}

// ---------------------------------------------------------------------------------------
// Binaries

/// What the doctor learnt from a Go binary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoBinary {
    /// `go1.22.3`.
    pub go_version: String,
    /// The main module path (`path` line).
    pub path: String,
    /// The `build` settings, key to value.
    pub settings: BTreeMap<String, String>,
    /// Whether the ELF has a symbol table (false after `-s`).
    pub has_symtab: bool,
    /// The coverage runtime's names found (symbols or function names).
    pub coverage_names: BTreeSet<String>,
    /// livecov's agent's names found.
    pub agent_names: BTreeSet<String>,
    /// Whether the deployed `coverage_server.go` is inside.
    pub deployed_server: bool,
}

const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Function names of the coverage runtime, linked only into `-cover` programs.
const COVERAGE_NEEDLES: &[&str] = &["runtime.addCovMeta", "internal/coverage/cfile."];
/// livecov's agent: every identifier is prefixed `livecovAgent`.
const AGENT_NEEDLE: &str = "main.livecovAgent";
/// The deployed coverage server: its file name and its `_cov` prefixed identifiers.
const DEPLOYED_NEEDLES: &[&str] = &["coverage_server.go", "main._cov"];

/// Checks a binary: Go or not, `-cover` or not, the mode, the agent, stripping.
pub fn check_binary(path: &Path) -> Vec<Finding> {
    let p = path.display();
    let md = match fs::metadata(path) {
        Ok(md) => md,
        Err(e) => {
            return vec![Finding::problem(
                format!("{p}: {e}"),
                "give the program's binary, a GOCOVERDIR directory or a coverage server URL",
            )]
        }
    };
    if !md.is_file() {
        return vec![Finding::problem(
            format!("{p}: not a regular file ({})", file_kind(&md)),
            "give the program's binary, a GOCOVERDIR directory or a coverage server URL",
        )];
    }
    let bin = match read_go_binary(path, md.len()) {
        Ok(b) => b,
        Err(why) => {
            return vec![Finding::problem(
                format!("{p}: {why}"),
                "give the Go program's ELF binary (the file the container runs), built \
                 with `livecov go build` or `go build -cover`",
            )]
        }
    };
    binary_findings(path, &bin)
}

fn binary_findings(path: &Path, bin: &GoBinary) -> Vec<Finding> {
    let p = path.display();
    let mut out = Vec::new();
    out.push(Finding::ok(format!(
        "{p}: a Go program built with {}{}",
        bin.go_version,
        if bin.path.is_empty() {
            String::new()
        } else {
            format!(", main package {}", bin.path)
        }
    )));
    let old_go = go_minor(&bin.go_version).is_some_and(|m| m < 20);
    if old_go {
        out.push(Finding::problem(
            format!(
                "{p}: {} cannot build programs with coverage (`go build -cover` came in Go 1.20)",
                bin.go_version
            ),
            "build with Go 1.20 or newer",
        ));
    }
    let cover_setting = bin.settings.get("-cover").map(String::as_str) == Some("true");
    let runtime = !bin.coverage_names.is_empty();
    let names = bin
        .coverage_names
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let covered = match (cover_setting, runtime) {
        (true, true) => {
            out.push(Finding::ok(format!(
                "{p}: built with -cover (build setting -cover=true; coverage runtime: {names})"
            )));
            true
        }
        (true, false) => {
            out.push(Finding::warn(
                format!(
                    "{p}: the build info says -cover=true but no coverage runtime function \
                     was found in it"
                ),
                "rebuild with `livecov go build` or `go build -cover`; the file may have \
                 been altered after the build",
            ));
            true
        }
        (false, true) => {
            out.push(Finding::ok(format!(
                "{p}: coverage runtime present ({names}) though the build info has no \
                 -cover setting (built by a tool other than go build?)"
            )));
            true
        }
        (false, false) => {
            out.push(Finding::problem(
                format!(
                    "{p}: not built with -cover: no -cover build setting and no coverage \
                     runtime; it can write no coverage{}",
                    if bin.agent_names.is_empty() {
                        ""
                    } else {
                        " (the agent inside does nothing without it)"
                    }
                ),
                "rebuild with `livecov go build [flags] [packages]` (adds -cover \
                 -covermode=atomic and the agent) or `go build -cover -covermode=atomic`",
            ));
            false
        }
    };
    if covered {
        let race = bin.settings.get("-race").map(String::as_str) == Some("true");
        let mode = if race {
            "atomic (built with -race, which makes atomic the default)".to_owned()
        } else if !bin.agent_names.is_empty() {
            "atomic unless --covermode was given (the default of `livecov go build`)".to_owned()
        } else {
            "set unless -covermode was given (the default of `go build -cover`)".to_owned()
        };
        out.push(Finding::ok(format!(
            "{p}: counter mode: Go records it only in the covmeta file written at run time; \
             likely {mode}; a running livecov agent reports it (X-Livecov-Cover-Mode)"
        )));
    }
    if !bin.agent_names.is_empty() {
        out.push(Finding::ok(format!(
            "{p}: livecov's Go agent is inside ({}): it serves /coverage on the first free \
             port from 53700 (COVERAGE_PORT) and flushes into GOCOVERDIR on SIGTERM/SIGINT",
            bin.agent_names.iter().next().map_or("", String::as_str)
        )));
    } else if bin.deployed_server {
        out.push(Finding::ok(format!(
            "{p}: the deployed coverage_server.go is inside: it serves /coverage on the first \
             free port from 53700, but writes nothing on SIGTERM"
        )));
    } else if covered {
        out.push(Finding::warn(
            format!(
                "{p}: no coverage agent inside: Go writes counters only when main returns or \
                 os.Exit is called, so a SIGTERM'd or killed process (a deleted pod) leaves none"
            ),
            "build with `livecov go build` (adds livecov's agent through -overlay) or run \
             `livecov go inject DIR` before a Dockerfile's go build; then collect live with \
             `livecov collect` or let the agent flush on SIGTERM",
        ));
    }
    let ldflags = bin
        .settings
        .get("-ldflags")
        .map(String::as_str)
        .unwrap_or("");
    let stripped_flags = ldflags.split_whitespace().any(|f| f == "-s" || f == "-w");
    if !bin.has_symtab || stripped_flags {
        out.push(Finding::ok(format!(
            "{p}: stripped ({}): this does not matter to coverage (counters and meta-data are \
             data of the program, not debug information); the build info and function names \
             the doctor reads survive stripping",
            if stripped_flags {
                format!("-ldflags={ldflags}")
            } else {
                "no symbol table".to_owned()
            }
        )));
    }
    out
}

/// `go1.22.3` → 22; `None` for `devel` and other spellings.
fn go_minor(version: &str) -> Option<u32> {
    let rest = version.strip_prefix("go1.")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn file_kind(md: &fs::Metadata) -> &'static str {
    let t = md.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Reads what the doctor needs from a Go ELF binary of `len` bytes.
pub fn read_go_binary(path: &Path, len: u64) -> Result<GoBinary, String> {
    let mut f = fs::File::open(path).map_err(|e| e.to_string())?;
    // Checked again on the open file: the name may have been replaced in between.
    let md = f.metadata().map_err(|e| e.to_string())?;
    if !md.is_file() {
        return Err(format!("not a regular file ({})", file_kind(&md)));
    }
    let len = len.min(md.len());
    let mut r = Bounded { f: &mut f, len };
    let elf = Elf::read(&mut r)?;
    let mut bin = GoBinary::default();

    let scan = scan_names(&mut r)?;
    // The scan is only for ELF files without section headers: any other program may
    // hold the magic as data (livecov itself does).
    let info_at = match elf.section(".go.buildinfo") {
        Some(s) => Some(s.offset),
        None if elf.sections.is_empty() => scan.buildinfo,
        None => None,
    };
    let Some(info_at) = info_at else {
        return Err("an ELF file but not a Go program (no Go build info)".into());
    };
    let blob = r.read_at(info_at, (len - info_at.min(len)).min(1 << 20))?;
    let (version, modinfo) = parse_buildinfo(&blob)?;
    bin.go_version = version;
    for line in modinfo.lines() {
        let mut fields = line.splitn(2, '\t');
        match (fields.next(), fields.next()) {
            (Some("path"), Some(v)) => bin.path = v.to_owned(),
            (Some("build"), Some(kv)) => {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                let v = v.trim_matches('"');
                bin.settings.insert(k.to_owned(), v.to_owned());
            }
            _ => {}
        }
    }

    if let Some(symtab) = elf.sections.iter().find(|s| s.kind == SHT_SYMTAB) {
        bin.has_symtab = true;
        for name in elf.symbol_names(&mut r, symtab)? {
            // Not runtime.covctrs: the linker defines it in every program.
            if let Some(n) = COVERAGE_NEEDLES.iter().find(|n| name.starts_with(**n)) {
                bin.coverage_names
                    .insert(n.trim_end_matches('.').to_owned());
            } else if name.starts_with(AGENT_NEEDLE) {
                bin.agent_names.insert(name);
            } else if name.starts_with("main._cov") {
                bin.deployed_server = true;
            }
        }
    }
    bin.coverage_names.extend(scan.coverage);
    if scan.agent {
        bin.agent_names.insert(format!("{AGENT_NEEDLE}*"));
    }
    bin.deployed_server |= scan.deployed;
    Ok(bin)
}

/// Decodes the build info blob at the start of `blob`: the Go version and the module info.
fn parse_buildinfo(blob: &[u8]) -> Result<(String, String), String> {
    if blob.len() < 32 || !blob.starts_with(BUILDINFO_MAGIC) {
        return Err("the Go build info is damaged (no \\xff Go buildinf: header)".into());
    }
    let flags = blob[15];
    if flags & 2 == 0 {
        // Before Go 1.18 the header points at the strings instead of holding them.
        return Ok(("go1.17 or older".into(), String::new()));
    }
    let mut at = 32;
    let version = read_varint_string(blob, &mut at)
        .ok_or("the Go build info is damaged (its version string)")?;
    let mut modinfo = read_varint_string(blob, &mut at).unwrap_or_default();
    // cmd/go wraps the module info in 16-byte sentinels.
    if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo = modinfo
            .get(16..modinfo.len() - 16)
            .unwrap_or_default()
            .to_owned();
    }
    Ok((version, modinfo))
}

fn read_varint_string(b: &[u8], at: &mut usize) -> Option<String> {
    let mut n: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*at)?;
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let n = usize::try_from(n).ok()?;
    let end = at.checked_add(n)?;
    let s = b.get(*at..end)?;
    *at = end;
    Some(String::from_utf8_lossy(s).into_owned())
}

/// A file and its length: every read is checked against the length first.
struct Bounded<'a> {
    f: &'a mut fs::File,
    len: u64,
}

impl Bounded<'_> {
    fn read_at(&mut self, offset: u64, n: u64) -> Result<Vec<u8>, String> {
        if n > MAX_TABLE {
            return Err(format!(
                "an ELF table of {n} bytes at offset {offset} is over the doctor's \
                 {MAX_TABLE}-byte limit"
            ));
        }
        match offset.checked_add(n) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(format!(
                    "not a valid ELF file: {n} bytes at offset {offset} run past its end \
                     ({} bytes)",
                    self.len
                ))
            }
        }
        self.f
            .seek(SeekFrom::Start(offset))
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; usize::try_from(n).map_err(|e| e.to_string())?];
        self.f.read_exact(&mut buf).map_err(|e| e.to_string())?;
        Ok(buf)
    }
}

const SHT_SYMTAB: u32 = 2;

struct Section {
    name: String,
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    entsize: u64,
}

struct Elf {
    is64: bool,
    big: bool,
    sections: Vec<Section>,
}

impl Elf {
    fn read(r: &mut Bounded) -> Result<Elf, String> {
        if r.len < 52 {
            return Err(format!(
                "not an ELF file ({} bytes; too short for an ELF header)",
                r.len
            ));
        }
        let head = r.read_at(0, r.len.min(64))?;
        if !head.starts_with(b"\x7fELF") {
            let shown: Vec<String> = head[..4].iter().map(|b| format!("{b:02x}")).collect();
            return Err(format!(
                "not an ELF file (starts with {}; Linux binaries start with 7f 45 4c 46)",
                shown.join(" ")
            ));
        }
        let is64 = match head[4] {
            1 => false,
            2 => true,
            c => return Err(format!("not a valid ELF file: class byte {c}")),
        };
        let big = match head[5] {
            1 => false,
            2 => true,
            d => return Err(format!("not a valid ELF file: data encoding byte {d}")),
        };
        if is64 && head.len() < 64 {
            return Err("not a valid ELF file: truncated 64-bit header".into());
        }
        let e = Endian { big };
        let (shoff, shentsize, shnum, shstrndx) = if is64 {
            (
                e.u64(&head, 0x28),
                e.u16(&head, 0x3a),
                e.u16(&head, 0x3c),
                e.u16(&head, 0x3e),
            )
        } else {
            (
                u64::from(e.u32(&head, 0x20)),
                e.u16(&head, 0x2e),
                e.u16(&head, 0x30),
                e.u16(&head, 0x32),
            )
        };
        let want = if is64 { 64 } else { 40 };
        if shnum == 0 {
            return Ok(Elf {
                is64,
                big,
                sections: Vec::new(),
            });
        }
        if usize::from(shentsize) < want {
            return Err(format!(
                "not a valid ELF file: section header size {shentsize}"
            ));
        }
        let table = r.read_at(shoff, u64::from(shentsize) * u64::from(shnum))?;
        let mut sections = Vec::with_capacity(usize::from(shnum));
        let mut names = Vec::with_capacity(usize::from(shnum));
        for h in table.chunks_exact(usize::from(shentsize)) {
            let s = if is64 {
                Section {
                    name: String::new(),
                    kind: e.u32(h, 4),
                    offset: e.u64(h, 24),
                    size: e.u64(h, 32),
                    link: e.u32(h, 40),
                    entsize: e.u64(h, 56),
                }
            } else {
                Section {
                    name: String::new(),
                    kind: e.u32(h, 4),
                    offset: u64::from(e.u32(h, 16)),
                    size: u64::from(e.u32(h, 20)),
                    link: e.u32(h, 24),
                    entsize: u64::from(e.u32(h, 36)),
                }
            };
            names.push(e.u32(h, 0));
            sections.push(s);
        }
        if let Some(strs) = sections.get(usize::from(shstrndx)) {
            // SHT_NOBITS (8) has no bytes in the file.
            if strs.kind != 8 {
                let strtab = r.read_at(strs.offset, strs.size)?;
                for (s, n) in sections.iter_mut().zip(names) {
                    s.name = c_string(&strtab, n);
                }
            }
        }
        Ok(Elf {
            is64,
            big,
            sections,
        })
    }

    fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name && s.kind != 8)
    }

    fn symbol_names(&self, r: &mut Bounded, symtab: &Section) -> Result<Vec<String>, String> {
        let e = Endian { big: self.big };
        let entsize = if self.is64 { 24 } else { 16 };
        if symtab.entsize != 0 && symtab.entsize < entsize {
            return Err(format!(
                "not a valid ELF file: symbol size {}",
                symtab.entsize
            ));
        }
        let step = symtab.entsize.max(entsize);
        let Some(strs) = self.sections.get(symtab.link as usize) else {
            return Ok(Vec::new());
        };
        let table = r.read_at(symtab.offset, symtab.size)?;
        let strtab = r.read_at(strs.offset, strs.size)?;
        let step = usize::try_from(step).map_err(|e| e.to_string())?;
        Ok(table
            .chunks_exact(step)
            .map(|sym| c_string(&strtab, e.u32(sym, 0)))
            .filter(|n| !n.is_empty())
            .collect())
    }
}

struct Endian {
    big: bool,
}

impl Endian {
    fn bytes<const N: usize>(&self, b: &[u8], at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(s) = b.get(at..at + N) {
            out.copy_from_slice(s);
        }
        if self.big {
            out.reverse();
        }
        out
    }
    fn u16(&self, b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(self.bytes(b, at))
    }
    fn u32(&self, b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(self.bytes(b, at))
    }
    fn u64(&self, b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(self.bytes(b, at))
    }
}

fn c_string(table: &[u8], at: u32) -> String {
    let Some(rest) = table.get(at as usize..) else {
        return String::new();
    };
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

#[derive(Default)]
struct Scan {
    buildinfo: Option<u64>,
    coverage: BTreeSet<String>,
    agent: bool,
    deployed: bool,
}

/// Scans the file (up to [`MAX_SCAN`] bytes) for the names that survive stripping, in
/// chunks that overlap by the longest name.
fn scan_names(r: &mut Bounded) -> Result<Scan, String> {
    const CHUNK: usize = 4 << 20;
    const OVERLAP: usize = 64;
    let mut scan = Scan::default();
    let mut buf = vec![0u8; CHUNK + OVERLAP];
    let mut carried = 0usize;
    let mut base: u64 = 0; // file offset of buf[0]
    let end = r.len.min(MAX_SCAN);
    r.f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut pos: u64 = 0;
    while pos < end {
        let want = usize::try_from((end - pos).min(CHUNK as u64)).unwrap_or(CHUNK);
        let n = read_full(r.f, &mut buf[carried..carried + want]).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        pos += n as u64;
        let window = &buf[..carried + n];
        if scan.buildinfo.is_none() {
            // Go aligns the blob to 16 bytes and its pointer size is 4 or 8.
            let mut from = 0;
            while let Some(i) = window.get(from..).and_then(|w| find(w, BUILDINFO_MAGIC)) {
                let at = base + (from + i) as u64;
                let ptr = window.get(from + i + 14).copied();
                if at.is_multiple_of(16) && matches!(ptr, Some(4 | 8)) {
                    scan.buildinfo = Some(at);
                    break;
                }
                from += i + 1;
            }
        }
        for needle in COVERAGE_NEEDLES {
            if find(window, needle.as_bytes()).is_some() {
                scan.coverage
                    .insert(needle.trim_end_matches('.').to_owned());
            }
        }
        scan.agent |= find(window, AGENT_NEEDLE.as_bytes()).is_some();
        scan.deployed |= DEPLOYED_NEEDLES
            .iter()
            .any(|d| find(window, d.as_bytes()).is_some());
        let keep = window.len().min(OVERLAP);
        let from = window.len() - keep;
        buf.copy_within(from..from + keep, 0);
        base += from as u64;
        carried = keep;
    }
    Ok(scan)
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay.get(at..at + needle.len()) == Some(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

// ---------------------------------------------------------------------------------------
// Directories

const FIX_NO_COUNTERS: &str = "the process never exited cleanly: no counters are written on \
SIGTERM or kill; use livecov's agent (`livecov go build`, which flushes on SIGTERM) or \
collect live (`livecov collect`)";

/// Checks a GOCOVERDIR or a collection's report directory (its sub-directories too).
pub fn check_dir(dir: &Path, writer_uid: Option<u32>) -> Vec<Finding> {
    let mut out = Vec::new();
    let d = dir.display();
    match fs::metadata(dir) {
        Ok(md) => out.extend(writability(dir, &md, writer_uid)),
        Err(e) => {
            out.push(Finding::problem(
                format!("{d}: {e}"),
                "check the path (GOCOVERDIR must name an existing directory)",
            ));
            return out;
        }
    }
    let mut walk = Walk::default();
    walk.visit(dir, 0, &mut out);
    if walk.truncated {
        out.push(Finding::warn(
            format!("{d}: more than {MAX_ENTRIES} entries; the rest were not looked at"),
            "run the doctor on a sub-directory",
        ));
    }
    if walk.metas.is_empty() && walk.counters.is_empty() {
        out.push(Finding::problem(
            format!(
                "{d}: no coverage files (covmeta.* or covcounters.*) here{}",
                {
                    if walk.dirs > 1 {
                        format!(" or in its {} sub-directories", walk.dirs - 1)
                    } else {
                        String::new()
                    }
                }
            ),
            "run the program built with -cover (`livecov go build`) with GOCOVERDIR set to \
             this directory; Go writes the covmeta file at start-up and counters when main \
             returns or os.Exit is called (never on SIGTERM or kill without livecov's agent)",
        ));
        return out;
    }
    // Pairing is per directory: covdata reads a directory's counters with its meta.
    let mut metas_by_dir: BTreeMap<PathBuf, BTreeSet<[u8; 16]>> = BTreeMap::new();
    for (path, hash) in &walk.metas {
        let parent = path.parent().unwrap_or(dir).to_owned();
        metas_by_dir.entry(parent).or_default().insert(*hash);
    }
    let mut counters_by: BTreeMap<(PathBuf, [u8; 16]), usize> = BTreeMap::new();
    for (path, hash) in &walk.counters {
        let parent = path.parent().unwrap_or(dir).to_owned();
        *counters_by.entry((parent, *hash)).or_default() += 1;
    }
    for (parent, hashes) in &metas_by_dir {
        for hash in hashes {
            let n = counters_by
                .get(&(parent.clone(), *hash))
                .copied()
                .unwrap_or(0);
            if n == 0 {
                out.push(Finding::problem(
                    format!(
                        "{}: meta-data of build {} without counters",
                        parent.display(),
                        hex16(hash)
                    ),
                    FIX_NO_COUNTERS,
                ));
            } else {
                out.push(Finding::ok(format!(
                    "{}: build {}: meta-data and {n} counter file{}",
                    parent.display(),
                    hex16(hash),
                    if n == 1 { "" } else { "s" }
                )));
            }
        }
    }
    for ((parent, hash), n) in &counters_by {
        let has_meta = metas_by_dir.get(parent).is_some_and(|hs| hs.contains(hash));
        if !has_meta {
            out.push(Finding::problem(
                format!(
                    "{}: {n} counter file{} of build {} without its meta-data file \
                     (covmeta.{}): they cannot be decoded",
                    parent.display(),
                    if *n == 1 { "" } else { "s" },
                    hex16(hash),
                    hex16(hash)
                ),
                "copy the covmeta file the same binary wrote at start-up into this directory \
                 (it is written once per GOCOVERDIR; a cleaned or per-run directory loses it)",
            ));
        }
    }
    out
}

/// Whether the intended writer (or any non-root one) can create files in `dir`.
fn writability(dir: &Path, md: &fs::Metadata, writer_uid: Option<u32>) -> Vec<Finding> {
    let d = dir.display();
    let mode = md.permissions().mode() & 0o7777;
    let owner = md.uid();
    let others_write = mode & 0o002 != 0 && mode & 0o001 != 0;
    let owner_write = mode & 0o300 == 0o300;
    let facts = format!("owner uid {owner}, gid {}, mode {mode:04o}", md.gid());
    match writer_uid {
        Some(w) if w == 0 || (w == owner && owner_write) || others_write => {
            vec![Finding::ok(format!(
                "{d}: uid {w} can write here ({facts})"
            ))]
        }
        Some(w) => vec![Finding::problem(
            format!(
                "{d}: uid {w} cannot create files here ({facts}){}",
                if mode & 0o020 != 0 {
                    "; only members of the group can"
                } else {
                    ""
                }
            ),
            format!(
                "`chown {w} {d}`, or `chmod 1777 {d}`, or in Kubernetes set the pod's \
                 securityContext.fsGroup and make the volume group-writable"
            ),
        )],
        None if owner == 0 && !others_write && mode & 0o020 == 0 => vec![Finding::warn(
            format!(
                "{d}: only root can create files here ({facts}); a non-root container \
                 (runAsNonRoot, OpenShift's random uid) cannot write coverage"
            ),
            format!(
                "`chmod 1777 {d}` or chown it to the container's uid; rerun with \
                 --writer-uid UID to check a given uid"
            ),
        )],
        None => vec![Finding::ok(format!("{d}: {facts}"))],
    }
}

#[derive(Default)]
struct Walk {
    entries: usize,
    dirs: usize,
    truncated: bool,
    metas: Vec<(PathBuf, [u8; 16])>,
    counters: Vec<(PathBuf, [u8; 16])>,
}

impl Walk {
    fn visit(&mut self, dir: &Path, depth: usize, out: &mut Vec<Finding>) {
        self.dirs += 1;
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                out.push(Finding::problem(
                    format!("{}: cannot list: {e}", dir.display()),
                    "make the directory readable (and searchable) by the uid that compiles",
                ));
                return;
            }
        };
        let mut names: Vec<PathBuf> = Vec::new();
        for entry in rd {
            self.entries += 1;
            if self.entries > MAX_ENTRIES {
                self.truncated = true;
                break;
            }
            match entry {
                Ok(e) => names.push(e.path()),
                Err(e) => out.push(Finding::problem(
                    format!("{}: cannot list: {e}", dir.display()),
                    "make the directory readable by the uid that compiles",
                )),
            }
        }
        names.sort();
        for path in names {
            let Ok(md) = fs::symlink_metadata(&path) else {
                continue;
            };
            if md.is_dir() {
                if depth < MAX_DEPTH {
                    self.visit(&path, depth + 1, out);
                }
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(kind) = classify_file_name(&name) else {
                continue;
            };
            if let Some(hash) = coverage_file(&path, &md, &kind, out) {
                match kind {
                    CovFileName::Meta { .. } => self.metas.push((path, hash)),
                    CovFileName::Counters { .. } => self.counters.push((path, hash)),
                }
            }
        }
    }
}

/// The build hash in a coverage file's header, or a finding on why it cannot be read.
fn coverage_file(
    path: &Path,
    md: &fs::Metadata,
    kind: &CovFileName,
    out: &mut Vec<Finding>,
) -> Option<[u8; 16]> {
    let p = path.display();
    let owner = format!(
        "owner uid {}, mode {:04o}",
        md.uid(),
        md.permissions().mode() & 0o7777
    );
    // Links are followed as covdata follows them; a FIFO is never opened (it would block).
    let target = match fs::metadata(path) {
        Ok(t) => t,
        Err(e) => {
            out.push(Finding::problem(
                format!("{p}: {e} ({owner})"),
                "remove the dangling link or restore its target",
            ));
            return None;
        }
    };
    if !target.is_file() {
        out.push(Finding::warn(
            format!(
                "{p}: {} named like a coverage file; readers skip it",
                file_kind(&target)
            ),
            "remove it; coverage files are regular files written by the Go runtime or livecov",
        ));
        return None;
    }
    let (magic, hash_at, what) = match kind {
        CovFileName::Meta { .. } => ([0x00, 0x63, 0x76, 0x6d], 24, "meta-data"),
        CovFileName::Counters { .. } => ([0x00, 0x63, 0x77, 0x6d], 8, "counter-data"),
    };
    let mut head = [0u8; 40];
    let got = match fs::File::open(path).and_then(|mut f| read_full(&mut f, &mut head)) {
        Ok(n) => n,
        Err(e) => {
            out.push(Finding::problem(
                format!("{p}: cannot read: {e} ({owner})"),
                format!(
                    "read it as uid {} or make it readable (`chmod a+r {p}`); in a \
                     container, the writer's umask decides the mode",
                    md.uid()
                ),
            ));
            return None;
        }
    };
    if got < hash_at + 16 || head[..4] != magic {
        out.push(Finding::problem(
            format!(
                "{p}: not a Go {what} file ({got} bytes read{})",
                if got >= 4 { ", wrong magic" } else { "" }
            ),
            "remove it or replace it with the file the program wrote (a truncated file comes \
             from a process killed while writing, or a full disk)",
        ));
        return None;
    }
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&head[hash_at..hash_at + 16]);
    Some(hash)
}

// ---------------------------------------------------------------------------------------
// Coverage servers

/// Checks a coverage server: reachable, the protocol headers, a snapshot, the build.
pub fn check_url(target: &Target, timeout: Duration) -> Vec<Finding> {
    let mut out = Vec::new();
    let url = &target.url;
    if let Some(addr) = url.strip_prefix("http://") {
        let addr = addr.split('/').next().unwrap_or(addr);
        match health(addr, timeout) {
            Ok(headers) => {
                if !health_findings(url, &headers, &mut out) {
                    return out;
                }
            }
            Err(f) => {
                out.push(f);
                return out;
            }
        }
    }
    let Some(runtime) = runtime(&mut out) else {
        return out;
    };
    let client = match Client::new(timeout, None, &[], false) {
        Ok(c) => c,
        Err(e) => {
            out.push(Finding::problem(e.to_string(), "retry"));
            return out;
        }
    };
    runtime.block_on(async {
        if !url.starts_with("http://") {
            match client.probe(target).await {
                Ok(info) => out.push(Finding::ok(format!(
                    "{url}: a coverage server: pid {}, binary {}",
                    info.pid, info.binary
                ))),
                Err(e) => {
                    out.push(Finding::problem(
                        e.to_string(),
                        "check the address and that the process runs",
                    ));
                    return;
                }
            }
        }
        out.push(snapshot_finding(url, client.snapshot(target, false).await));
    });
    out
}

/// `GET /health` over a plain socket, for the exact connection error and every header.
fn health(addr: &str, timeout: Duration) -> Result<Vec<(String, String)>, Finding> {
    let unreachable = |why: String| {
        Finding::problem(
            why,
            "check that the process runs and its agent listens there: livecov's agent and \
             coverage_server.go take the first free port from 53700 (COVERAGE_PORT); from \
             outside a pod or host it must listen on an address you can reach \
             (LIVECOV_LISTEN_HOST) and no firewall may be in between — or use push mode \
             (LIVECOV_PUSH_URL)",
        )
    };
    let addrs: Vec<_> = match addr.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => return Err(unreachable(format!("{addr}: cannot resolve: {e}"))),
    };
    let mut last = String::new();
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!("{a}: no answer within {timeout:?} (connection timed out)");
            }
            Err(e) => last = format!("{a}: cannot connect: {e}"),
        }
    }
    let Some(mut s) = stream else {
        return Err(unreachable(last));
    };
    let io = |e: std::io::Error| unreachable(format!("{addr}: GET /health: {e}"));
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    write!(
        s,
        "GET /health HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut buf = Vec::new();
    s.take(MAX_HEALTH_BYTES as u64)
        .read_to_end(&mut buf)
        .map_err(io)?;
    let text = String::from_utf8_lossy(&buf);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("").to_owned();
    if !status.starts_with("HTTP/") {
        return Err(Finding::problem(
            format!("{addr}: answered, but not HTTP"),
            "this is not a coverage server's port; coverage servers use 53700-53749",
        ));
    }
    let mut headers = vec![(":status".to_owned(), status)];
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Ok(headers)
}

/// Findings from the `/health` headers; false when the rest is not worth asking.
fn health_findings(url: &str, headers: &[(String, String)], out: &mut Vec<Finding>) -> bool {
    let get = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    if get("x-art-coverage-server") != Some("1") {
        out.push(Finding::problem(
            format!(
                "{url}: answers HTTP ({}) but is not a coverage server (no \
                 X-Art-Coverage-Server: 1 header)",
                get(":status").unwrap_or("")
            ),
            "this is probably the program's own port: coverage servers take the first free \
             port from 53700 (COVERAGE_PORT); find it with `livecov collect --scan HOST`",
        ));
        return false;
    }
    out.push(Finding::ok(format!(
        "{url}: a coverage server: pid {}, binary {}",
        get("x-art-coverage-pid").unwrap_or("?"),
        get("x-art-coverage-binary").unwrap_or("?")
    )));
    match get("x-livecov-agent") {
        Some(agent) => out.push(Finding::ok(format!(
            "{url}: livecov's agent {agent}, cover mode {}, build {}",
            get("x-livecov-cover-mode").unwrap_or("?"),
            get("x-livecov-meta-hash").unwrap_or("?")
        ))),
        None => out.push(Finding::warn(
            format!(
                "{url}: not livecov's agent (no X-Livecov-Agent header; the deployed \
                 coverage_server.go?): nothing is written when the process is stopped"
            ),
            "collect before the process stops (`livecov collect --watch`), or rebuild with \
             `livecov go build` for a flush on SIGTERM, reset and push",
        )),
    }
    gocoverdir_findings(url, &get, out);
    if let Some(mode @ ("set" | "count")) = get("x-livecov-cover-mode") {
        out.push(Finding::warn(
            format!("{url}: cover mode {mode}: the agent refuses `collect --reset`, so scenarios cannot be told apart"),
            "build with -covermode=atomic (the default of `livecov go build`) for counts \
             and scenarios",
        ));
    }
    true
}

/// What the agent says of its GOCOVERDIR (`X-Livecov-Gocoverdir`: the path or `unset`;
/// `X-Livecov-Gocoverdir-Writable`: `yes` or `no: why`); nothing when it does not say.
fn gocoverdir_findings<'a>(
    url: &str,
    get: &impl Fn(&str) -> Option<&'a str>,
    out: &mut Vec<Finding>,
) {
    let Some(dir) = get("x-livecov-gocoverdir") else {
        return;
    };
    if dir.is_empty() || dir == "unset" {
        out.push(Finding::warn(
            format!("{url}: GOCOVERDIR is not set in the process: what ran since the last collection is lost when it stops"),
            "set GOCOVERDIR to a writable directory (in Kubernetes an emptyDir volume, or a \
             hostPath the node collector reads) so the agent's flush on SIGTERM has \
             somewhere to go",
        ));
        return;
    }
    match get("x-livecov-gocoverdir-writable") {
        Some("yes") => out.push(Finding::ok(format!(
            "{url}: GOCOVERDIR={dir}, writable by the process"
        ))),
        Some(no) => out.push(Finding::problem(
            format!(
                "{url}: GOCOVERDIR={dir} is not writable by the process ({})",
                no.trim_start_matches("no").trim_start_matches(':').trim()
            ),
            "mount a writable volume there (emptyDir), or make it writable by the \
             container's user (runAsUser, fsGroup); `livecov doctor DIR --writer-uid UID` \
             tells which",
        )),
        None => out.push(Finding::ok(format!("{url}: GOCOVERDIR={dir}"))),
    }
}

// ---------------------------------------------------------------------------------------
// Pods

/// Checks a pod through the API server: its phase and containers, then each coverage
/// port (as `collect --kubernetes` finds them) through the pod proxy: a coverage server
/// or not, livecov's agent, its GOCOVERDIR, and a snapshot's build.
pub fn check_pod(kube: &KubeSettings, namespace: &str, name: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let pod = format!("pod {namespace}/{name}");
    let conn = match Connection::from_settings(kube) {
        Ok(c) => c,
        Err(e) => {
            out.push(Finding::problem(
                format!("{pod}: no Kubernetes credentials: {e}"),
                "pass --kubeconfig FILE (and --context NAME), or run inside the cluster",
            ));
            return out;
        }
    };
    let Some(runtime) = runtime(&mut out) else {
        return out;
    };
    runtime.block_on(async {
        let (client, view) =
            match livecov_collect::kube::pod_view(&conn, kube.timeout, namespace, name).await {
                Ok(v) => v,
                Err(e) => {
                    out.push(Finding::problem(
                        format!("{pod}: {e}"),
                        "check the namespace and name (`kubectl get pod -n NS NAME`) and that \
                         the token may get pods and pods/proxy there (deploy/rbac.yaml)",
                    ));
                    return;
                }
            };
        if view.phase == "Running" {
            out.push(Finding::ok(format!(
                "{pod}: Running on node {} with IP {}",
                if view.node.is_empty() {
                    "?"
                } else {
                    &view.node
                },
                if view.pod_ip.is_empty() {
                    "none"
                } else {
                    &view.pod_ip
                }
            )));
        } else {
            out.push(Finding::problem(
                format!(
                    "{pod}: phase {}: no coverage server runs until it is Running",
                    if view.phase.is_empty() {
                        "unknown"
                    } else {
                        &view.phase
                    }
                ),
                "see `kubectl describe pod` for why it is not running",
            ));
        }
        for c in &view.containers {
            let what = format!(
                "{pod}: container {} ({}): {}{}, {} restarts",
                c.name,
                c.image,
                c.state,
                if c.ready { ", ready" } else { ", not ready" },
                c.restarts
            );
            if c.state == "no status" {
                out.push(Finding::warn(
                    what,
                    "the kubelet has not reported this container yet; run the doctor again \
                     in a moment",
                ));
            } else if !c.state.starts_with("running") {
                out.push(Finding::problem(
                    what,
                    "its coverage server runs only while the container does; see \
                     `kubectl logs` and `kubectl describe pod`",
                ));
            } else if c.restarts > 0 {
                out.push(Finding::warn(
                    what,
                    "each restart is a new process: what the old one counted is lost unless \
                     it was collected (`collect --watch`) or flushed into GOCOVERDIR by \
                     livecov's agent",
                ));
            } else {
                out.push(Finding::ok(what));
            }
        }
        if view.phase != "Running" || view.pod_ip.is_empty() {
            return;
        }
        for t in &view.targets {
            let who = t
                .pod
                .as_ref()
                .map_or(String::new(), |p| format!(" (container {})", p.container));
            let port = t
                .url
                .rsplit(':')
                .next()
                .unwrap_or("")
                .trim_end_matches("/proxy");
            let shown = format!("{pod} port {port}{who}");
            let headers = match client.health_headers(t).await {
                Ok(h) => h,
                Err(e) => {
                    out.push(Finding::problem(
                        format!("{shown}: no answer through the pod proxy: {e}"),
                        "build the program with `livecov go build` (or add the agent), and \
                         declare its port: a containerPort in 53700-53799, COVERAGE_PORT in \
                         the container's env, or the annotation livecov.dev/ports",
                    ));
                    continue;
                }
            };
            if !headers
                .iter()
                .any(|(k, v)| k == ":status" && v.starts_with("200"))
            {
                let status = headers.first().map_or("", |(_, v)| v.as_str());
                out.push(Finding::problem(
                    format!("{shown}: GET /health through the pod proxy answered {status}"),
                    "a 403 is RBAC (grant get on pods/proxy, deploy/rbac.yaml); a 502/503 \
                     means nothing listens on that port in the pod",
                ));
                continue;
            }
            if !health_findings(&shown, &headers, &mut out) {
                continue;
            }
            out.push(snapshot_finding(&shown, client.snapshot(t, false).await));
        }
    });
    out
}

/// The current-thread runtime of the network checks; a finding when it cannot start.
fn runtime(out: &mut Vec<Finding>) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            out.push(Finding::problem(
                format!("cannot start the HTTP client: {e}"),
                "retry",
            ));
            None
        }
    }
}

/// The finding of `GET /coverage` on `shown` (a URL, or a pod and port).
fn snapshot_finding<E: std::fmt::Display>(
    shown: &str,
    result: Result<livecov_collect::live::Snapshot, E>,
) -> Finding {
    match result {
        Ok(s) => Finding::ok(snapshot_works(shown, &s)),
        Err(e) => Finding::problem(
            format!("{shown}: GET /coverage failed: {e}"),
            "a binary built without -cover answers 500 here: rebuild it with \
             `livecov go build` or `go build -cover`",
        ),
    }
}

/// The finding of a snapshot that came back: what it holds, per language.
fn snapshot_works(url: &str, s: &livecov_collect::live::Snapshot) -> String {
    match &s.data {
        SnapshotData::Go(g) => format!(
            "{url}: GET /coverage works: build {} ({} bytes of meta-data, {} of counters)",
            s.hash_hex(),
            g.meta.as_ref().map_or(0, Vec::len),
            g.counters.len()
        ),
        SnapshotData::Python(p) => format!(
            "{url}: GET /coverage works: a coverage.py {} save ({} bytes of data file{})",
            p.coverage_version,
            p.data.len(),
            if p.report_json.is_some() {
                ", with its JSON report"
            } else {
                ", no JSON report"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gocoverdir_as_the_agent_reports_it() {
        let run = |h: &[(&str, &str)]| {
            let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
            let mut out = Vec::new();
            gocoverdir_findings("u", &get, &mut out);
            out
        };
        assert!(run(&[]).is_empty());
        assert_eq!(
            run(&[("x-livecov-gocoverdir", "unset")])[0].severity,
            Severity::Warn
        );
        let ok = run(&[
            ("x-livecov-gocoverdir", "/cov"),
            ("x-livecov-gocoverdir-writable", "yes"),
        ]);
        assert_eq!(ok[0].severity, Severity::Ok);
        let bad = run(&[
            ("x-livecov-gocoverdir", "/cov"),
            ("x-livecov-gocoverdir-writable", "no: permission denied"),
        ]);
        assert_eq!(bad[0].severity, Severity::Problem);
        assert!(bad[0].what.contains("(permission denied)"), "{:?}", bad[0]);
    }

    #[test]
    fn varint_strings_never_read_past_the_end() {
        let mut at = 0;
        assert_eq!(read_varint_string(&[5, b'a'], &mut at), None);
        let mut at = 0;
        assert_eq!(read_varint_string(&[0xff; 12], &mut at), None);
        let mut at = 0;
        assert_eq!(
            read_varint_string(&[2, b'g', b'o'], &mut at).as_deref(),
            Some("go")
        );
    }

    #[test]
    fn build_info_is_read_inline_and_cut_short_safely() {
        let mut blob = BUILDINFO_MAGIC.to_vec();
        blob.extend([8, 2]);
        blob.resize(32, 0);
        blob.push(8);
        blob.extend(b"go1.22.3");
        let modinfo = format!(
            "{}path\tex/a\nbuild\t-cover=true\n{}",
            "0".repeat(16),
            "1".repeat(16)
        );
        blob.push(u8::try_from(modinfo.len()).unwrap());
        blob.extend(modinfo.as_bytes());
        let (v, m) = parse_buildinfo(&blob).unwrap();
        assert_eq!(v, "go1.22.3");
        assert_eq!(m, "path\tex/a\nbuild\t-cover=true\n");
        for n in 0..blob.len() {
            let _ = parse_buildinfo(&blob[..n]);
        }
        assert!(parse_buildinfo(&blob[..40]).is_err());
    }

    #[test]
    fn go_minor_reads_release_versions_only() {
        assert_eq!(go_minor("go1.26.8"), Some(26));
        assert_eq!(go_minor("go1.19"), Some(19));
        assert_eq!(go_minor("devel go1.27-abc"), None);
    }

    #[test]
    fn find_finds_across_false_starts() {
        assert_eq!(find(b"aab", b"ab"), Some(1));
        assert_eq!(find(b"abc", b"abd"), None);
        assert_eq!(find(b"", b"a"), None);
    }
}
