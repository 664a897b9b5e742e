//! Reading one data file (spec §1.1–1.7; upstream `sqldata.py` `_read_db`, `lines`,
//! `arcs`, `file_tracer`).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::btree::{Database, LeafCache};
use super::data::{CoverageData, Measurement};
use super::numbits::Numbits;
use super::{Error, SCHEMA_VERSION};

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// One data file as read.
#[derive(Clone, Debug)]
pub struct DataFile {
    /// The file that was read, as given.
    pub path: PathBuf,
    /// The `meta` table (`version`, `has_arcs`, and `sys_argv`, `when`, `hash` when
    /// present), values as stored.
    pub meta: BTreeMap<String, String>,
    /// Its lines or arcs, contexts and tracers.
    pub data: CoverageData,
    /// Oddities that lose no data coverage.py would read, e.g. arc rows in a line-mode
    /// file (coverage.py ignores them, so does livecov, and says so here).
    pub warnings: Vec<String>,
}

/// Reads a coverage.py data file, read-only and immutable: no lock is taken, no journal
/// is replayed or created, the file is never modified.
///
/// Errors name the file: [`Error::Io`] when it cannot be opened or is not a regular file,
/// [`Error::NotCoverageData`] for another kind of file, [`Error::Schema`] for a schema
/// version other than 7, [`Error::Sqlite`] for a truncated or corrupt database and
/// [`Error::Corrupt`] for rows coverage.py could not have written (a numbits value that
/// is not a blob, a path with a NUL byte, a row pointing at no file…).
pub fn read_data_file(path: &Path) -> Result<DataFile, Error> {
    let mut file = read_data_file_at(path, None, None, 0)?;
    file.data.normalize();
    Ok(file)
}

/// [`read_data_file`], recording `input` as the first-seen order of every file in it, and
/// leaving the arc lists unsorted (combining sorts once, at the end). `bytes`, when the
/// caller has read the file already, are its contents (the arc table is read from them);
/// `leaves` holds the arc table's leaf pages other inputs had.
pub(crate) fn read_data_file_at(
    path: &Path,
    bytes: Option<&[u8]>,
    leaves: Option<&LeafCache<4>>,
    input: u32,
) -> Result<DataFile, Error> {
    let conn = open_immutable(path)?;
    let mut reader = Reader {
        path,
        conn: &conn,
        bytes,
        leaves,
        input,
    };
    reader.read()
}

/// Opens `path` as `file:<abs>?mode=ro&immutable=1`, after checking it is a regular file
/// (a FIFO would block) that starts like an SQLite database (or is empty).
fn open_immutable(path: &Path) -> Result<Connection, Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let mut head = Vec::with_capacity(16);
    fs::File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(io)?;
    if !head.is_empty() && head != SQLITE_HEADER {
        return Err(Error::NotCoverageData {
            path: path.to_owned(),
            message: "it does not start with the SQLite header \"SQLite format 3\\0\"".into(),
        });
    }
    let abs = std::path::absolute(path).map_err(io)?;
    let uri = format!("{}?mode=ro&immutable=1", file_uri(&abs));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(uri, flags).map_err(|source| Error::Sqlite {
        path: path.to_owned(),
        what: "opening",
        source,
    })
}

/// `file:` followed by the absolute path, every byte outside RFC 3986's unreserved set
/// (and `/`) percent-encoded, so that `?`, `#` and `%` in names stay part of the path.
fn file_uri(abs: &Path) -> String {
    let bytes = path_bytes(abs);
    let mut uri = String::with_capacity(bytes.len() + 5);
    uri.push_str("file:");
    for &b in bytes.iter() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(p.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> std::borrow::Cow<'_, [u8]> {
    // SQLite wants forward slashes in URIs on Windows.
    let s = p.to_string_lossy().replace('\\', "/");
    let s = if s.starts_with('/') {
        s
    } else {
        format!("/{s}")
    };
    std::borrow::Cow::Owned(s.into_bytes())
}

struct Reader<'a> {
    path: &'a Path,
    conn: &'a Connection,
    /// The file's contents, when the caller read them.
    bytes: Option<&'a [u8]>,
    /// Leaf pages of the arc table decoded for other inputs.
    leaves: Option<&'a LeafCache<4>>,
    input: u32,
}

impl Reader<'_> {
    fn corrupt(&self, message: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.path.to_owned(),
            message: message.into(),
        }
    }

    fn sqlite(&self, what: &'static str, source: rusqlite::Error) -> Error {
        if let rusqlite::Error::SqliteFailure(_, Some(msg)) = &source {
            if let Some(table) = msg.strip_prefix("no such table: ") {
                if table == "coverage_schema" {
                    return Error::NotCoverageData {
                        path: self.path.to_owned(),
                        message: "it has no coverage_schema table".into(),
                    };
                }
                return self.corrupt(format!("the {table} table is missing"));
            }
        }
        Error::Sqlite {
            path: self.path.to_owned(),
            what,
            source,
        }
    }

    /// Runs `sql` and hands each row's values to `each`.
    fn rows(
        &self,
        what: &'static str,
        sql: &str,
        mut each: impl FnMut(&[ValueRef<'_>]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.sqlite(what, e))?;
        // Every query here selects at most four columns.
        let n = stmt.column_count().min(4);
        let mut rows = stmt.query([]).map_err(|e| self.sqlite(what, e))?;
        while let Some(row) = rows.next().map_err(|e| self.sqlite(what, e))? {
            let mut values = [ValueRef::Null; 4];
            for (i, value) in values.iter_mut().enumerate().take(n) {
                *value = row.get_ref(i).map_err(|e| self.sqlite(what, e))?;
            }
            each(&values[..n])?;
        }
        Ok(())
    }

    fn read(&mut self) -> Result<DataFile, Error> {
        self.check_schema()?;
        let meta = self.read_meta()?;
        let measurement = match meta.get("has_arcs") {
            None => Measurement::Unknown,
            // coverage.py: bool(int(value)).
            Some(v) => match v.trim().parse::<i64>() {
                Ok(0) => Measurement::Lines,
                Ok(_) => Measurement::Arcs,
                Err(_) => return Err(self.corrupt(format!("meta has_arcs is {v:?}, not 0 or 1"))),
            },
        };
        let mut data = CoverageData::new();
        data.set_measurement(measurement);

        let mut files: HashMap<i64, String> = HashMap::new();
        self.rows(
            "reading the file table",
            "select id, path from file order by id",
            |row| {
                let id = self.int(row[0], "file.id")?;
                let path = self.text(row[1], "file.path", id)?;
                if path.contains('\0') {
                    return Err(self.corrupt(format!(
                        "file.path of file id {id} has a NUL byte: {path:?}"
                    )));
                }
                data.file_mut(path.clone(), (self.input, id));
                files.insert(id, path);
                Ok(())
            },
        )?;
        let mut contexts: HashMap<i64, u32> = HashMap::new();
        self.rows(
            "reading the context table",
            "select id, context from context",
            |row| {
                let id = self.int(row[0], "context.id")?;
                let label = self.text(row[1], "context.context", id)?;
                contexts.insert(id, data.intern_context(&label));
                Ok(())
            },
        )?;
        let file_of = |id: i64, table: &str| {
            files.get(&id).cloned().ok_or_else(|| {
                self.corrupt(format!(
                    "a {table} row names file id {id}, which the file table lacks"
                ))
            })
        };
        let context_of = |id: i64, table: &str| {
            contexts.get(&id).copied().ok_or_else(|| {
                self.corrupt(format!(
                    "a {table} row names context id {id}, which the context table lacks"
                ))
            })
        };

        let mut warnings = Vec::new();
        let (wanted, other) = match measurement {
            Measurement::Lines => (Some("line_bits"), Some("arc")),
            Measurement::Arcs => (Some("arc"), Some("line_bits")),
            Measurement::Unknown => (None, None),
        };
        if wanted == Some("line_bits") {
            self.rows(
                "reading the line_bits table",
                "select file_id, context_id, numbits from line_bits",
                |row| {
                    let file_id = self.int(row[0], "line_bits.file_id")?;
                    let ctx = context_of(self.int(row[1], "line_bits.context_id")?, "line_bits")?;
                    let path = file_of(file_id, "line_bits")?;
                    let numbits = match row[2] {
                        ValueRef::Blob(b) => Numbits::from_blob(b.to_vec()).map_err(|e| {
                            self.corrupt(format!("line_bits of file id {file_id}: {e}"))
                        })?,
                        other => {
                            return Err(self.corrupt(format!(
                                "line_bits.numbits of file id {file_id} is {}, not a blob",
                                type_name(other)
                            )))
                        }
                    };
                    data.file_mut(path, (self.input, file_id))
                        .add_numbits(ctx, &numbits);
                    Ok(())
                },
            )?;
        }
        if wanted == Some("arc") {
            let rows = match self.arc_rows_from_pages() {
                Some(rows) => rows,
                None => self.arc_rows_through_sql()?,
            };
            // One add per run of rows of one (file, context): coverage.py writes each
            // file's arcs together, so the rows need no sorting.
            let mut arcs = Vec::new();
            for run in rows.chunk_by(|x, y| (x[0], x[1]) == (y[0], y[1])) {
                let file_id = run[0][0];
                let ctx = context_of(run[0][1], "arc")?;
                let path = file_of(file_id, "arc")?;
                arcs.clear();
                for row in run {
                    let from = self.line(row[2], "arc.fromno", file_id)?;
                    let to = self.line(row[3], "arc.tono", file_id)?;
                    arcs.push((from, to));
                }
                data.file_mut(path, (self.input, file_id))
                    .add_arcs(ctx, &arcs);
            }
        }
        if let Some(table) = other {
            let mut any = false;
            let sql = format!("select exists (select 1 from {table})");
            self.rows("checking the unused table", &sql, |row| {
                any = matches!(row[0], ValueRef::Integer(1));
                Ok(())
            })?;
            if any {
                let kind = if table == "arc" { "lines" } else { "arcs" };
                warnings.push(format!(
                    "{}: meta has_arcs says {kind} but the {table} table has rows; they are ignored, as coverage.py ignores them",
                    self.path.display()
                ));
            }
        }
        self.rows(
            "reading the tracer table",
            "select file_id, tracer from tracer",
            |row| {
                let file_id = self.int(row[0], "tracer.file_id")?;
                let tracer = self.text(row[1], "tracer.tracer", file_id)?;
                let path = file_of(file_id, "tracer")?;
                data.file_mut(path, (self.input, file_id))
                    .set_tracer(tracer);
                Ok(())
            },
        )?;
        Ok(DataFile {
            path: self.path.to_owned(),
            meta,
            data,
            warnings,
        })
    }

    /// The arc table's rows (file_id, context_id, fromno, tono) read from the file's
    /// B-tree pages, or `None` when that reader declines (see [`super::btree`]) or the
    /// table is not coverage.py's; then SQLite reads them.
    fn arc_rows_from_pages(&self) -> Option<Vec<[i64; 4]>> {
        let root: i64 = self
            .conn
            .query_row(
                "select rootpage from sqlite_schema where type = 'table' and name = 'arc'",
                [],
                |row| row.get(0),
            )
            .ok()?;
        let mut columns = Vec::with_capacity(4);
        let mut stmt = self
            .conn
            .prepare("select name from pragma_table_info('arc') order by cid")
            .ok()?;
        let mut names = stmt.query([]).ok()?;
        while let Some(row) = names.next().ok()? {
            columns.push(row.get::<_, String>(0).ok()?);
        }
        if columns != ["file_id", "context_id", "fromno", "tono"] {
            return None;
        }
        let read;
        let bytes = match self.bytes {
            Some(bytes) => bytes,
            None => {
                read = fs::read(self.path).ok()?;
                &read
            }
        };
        let db = Database::new(bytes).ok()?;
        let mut rows = Vec::new();
        db.for_each_int_row_cached::<4>(u32::try_from(root).ok()?, self.leaves, |row| {
            rows.push(row)
        })
        .ok()?;
        Some(rows)
    }

    fn arc_rows_through_sql(&self) -> Result<Vec<[i64; 4]>, Error> {
        let mut rows = Vec::new();
        self.rows(
            "reading the arc table",
            "select file_id, context_id, fromno, tono from arc",
            |row| {
                rows.push([
                    self.int(row[0], "arc.file_id")?,
                    self.int(row[1], "arc.context_id")?,
                    self.int(row[2], "arc.fromno")?,
                    self.int(row[3], "arc.tono")?,
                ]);
                Ok(())
            },
        )?;
        Ok(rows)
    }

    fn check_schema(&self) -> Result<(), Error> {
        let mut found: Option<String> = None;
        let mut ok = false;
        self.rows(
            "reading coverage_schema",
            "select version from coverage_schema",
            |row| {
                if found.is_none() {
                    ok = row[0] == ValueRef::Integer(SCHEMA_VERSION);
                    found = Some(match row[0] {
                        ValueRef::Integer(n) => n.to_string(),
                        ValueRef::Real(r) => r.to_string(),
                        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                        other => type_name(other).to_owned(),
                    });
                }
                Ok(())
            },
        )?;
        match found {
            None => Err(Error::NotCoverageData {
                path: self.path.to_owned(),
                message: "its coverage_schema table is empty".into(),
            }),
            Some(_) if ok => Ok(()),
            Some(found) => Err(Error::Schema {
                path: self.path.to_owned(),
                found,
            }),
        }
    }

    fn read_meta(&self) -> Result<BTreeMap<String, String>, Error> {
        let mut meta = BTreeMap::new();
        self.rows(
            "reading the meta table",
            "select key, value from meta",
            |row| {
                let key = self.text(row[0], "meta.key", 0)?;
                let value = match row[1] {
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(r) => r.to_string(),
                    v => self.text(v, "meta.value", 0)?,
                };
                meta.insert(key, value);
                Ok(())
            },
        )?;
        Ok(meta)
    }

    fn int(&self, v: ValueRef<'_>, column: &str) -> Result<i64, Error> {
        match v {
            ValueRef::Integer(n) => Ok(n),
            other => Err(self.corrupt(format!("{column} is {}, not an integer", type_name(other)))),
        }
    }

    fn line(&self, n: i64, column: &str, file_id: i64) -> Result<i32, Error> {
        i32::try_from(n).map_err(|_| {
            self.corrupt(format!(
                "{column} of file id {file_id} is {n}, beyond any line number"
            ))
        })
    }

    fn text(&self, v: ValueRef<'_>, column: &str, id: i64) -> Result<String, Error> {
        match v {
            ValueRef::Text(t) => String::from_utf8(t.to_vec())
                .map_err(|_| self.corrupt(format!("{column} of row {id} is not UTF-8 text"))),
            other => Err(self.corrupt(format!(
                "{column} of row {id} is {}, not text",
                type_name(other)
            ))),
        }
    }
}

fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page reader is taken for real coverage.py files, and gives exactly the rows
    /// SQLite gives, in the same order.
    #[test]
    fn arcs_from_pages_equal_arcs_through_sql_on_coverage_py_files() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/coveragepy");
        let mut checked = 0;
        for case in [
            "branch",
            "contexts",
            "parallel/parts",
            "paths/container/app",
        ] {
            for entry in fs::read_dir(data.join(case)).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap();
                if !name.starts_with(".coverage") || name == ".coveragerc" {
                    continue;
                }
                let conn = open_immutable(&path).unwrap();
                let reader = Reader {
                    path: &path,
                    conn: &conn,
                    bytes: None,
                    leaves: None,
                    input: 0,
                };
                if reader
                    .read_meta()
                    .unwrap()
                    .get("has_arcs")
                    .map(String::as_str)
                    != Some("1")
                {
                    continue;
                }
                let sql = reader.arc_rows_through_sql().unwrap();
                assert!(!sql.is_empty(), "{}", path.display());
                assert_eq!(
                    reader.arc_rows_from_pages(),
                    Some(sql),
                    "{}",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked >= 1, "no branch-mode fixture");
    }

    #[test]
    fn uri_escapes_query_and_fragment_characters() {
        assert_eq!(
            file_uri(Path::new("/tmp/a b/.coverage?x#y%")),
            "file:/tmp/a%20b/.coverage%3Fx%23y%25"
        );
    }
}
