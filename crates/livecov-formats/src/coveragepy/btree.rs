//! The rows of one SQLite table read straight from the database file's B-tree pages,
//! without SQL (SQLite's file format: <https://www.sqlite.org/fileformat.html>, §1.3 the
//! header, §1.6 B-tree pages, §2.1 records).
//!
//! Why: a branch-mode coverage.py file is mostly its `arc` table, tens of thousands of
//! four-integer rows, and combining a thousand files through SQLite spent most of its
//! time in the virtual machine and the per-column conversions (bench/README.md, "Issue
//! 10"). Walking the table's leaf pages costs a few nanoseconds a row.
//!
//! This reader is deliberately narrow: a rowid table whose rows are records of integers.
//! Anything else (a WAL-mode file, a page of an unexpected type, an overflowing cell, a
//! value that is not an integer, an offset outside the page, a loop in the tree) is
//! [`Unsupported`], and the caller reads the table through SQLite instead, which gives
//! the exact error for a damaged file. So this module never decides that a file is bad;
//! it only declines to read it. It never panics on any input.

/// The reader declined the file or table; read it through SQLite.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unsupported(pub(crate) &'static str);

const HEADER: &[u8; 16] = b"SQLite format 3\0";
const TABLE_INTERIOR: u8 = 0x05;
const TABLE_LEAF: u8 = 0x0d;
/// Deeper than any real table B-tree (a depth of 40 would need more pages than a file
/// can have); a guard against crafted cycles, with the page budget below.
const MAX_DEPTH: usize = 40;

/// A database image held in memory.
pub(crate) struct Database<'a> {
    bytes: &'a [u8],
    page_size: usize,
    usable: usize,
}

impl<'a> Database<'a> {
    /// Checks the 100-byte header: magic, page size, a rollback-journal (not WAL) file.
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Database<'a>, Unsupported> {
        if bytes.len() < 100 || &bytes[..16] != HEADER {
            return Err(Unsupported("no SQLite header"));
        }
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65536,
            n => usize::from(n),
        };
        if page_size < 512 || !page_size.is_power_of_two() {
            return Err(Unsupported("bad page size"));
        }
        // File format read and write versions: 1 is a rollback journal, 2 WAL (whose
        // newer pages may live in the -wal file beside).
        if bytes[18] != 1 || bytes[19] != 1 {
            return Err(Unsupported("not a rollback-journal database"));
        }
        let reserved = usize::from(bytes[20]);
        // The format requires at least 480 usable bytes per page.
        if page_size - reserved < 480 || !bytes.len().is_multiple_of(page_size) {
            return Err(Unsupported("bad page layout"));
        }
        Ok(Database {
            bytes,
            page_size,
            usable: page_size - reserved,
        })
    }

    fn page(&self, number: u32) -> Result<&'a [u8], Unsupported> {
        let index = (number as usize)
            .checked_sub(1)
            .ok_or(Unsupported("page 0"))?;
        let start = index
            .checked_mul(self.page_size)
            .ok_or(Unsupported("page beyond the file"))?;
        self.bytes
            .get(start..start + self.page_size)
            .map(|p| &p[..self.usable])
            .ok_or(Unsupported("page beyond the file"))
    }

    /// Calls `each` with the integer columns of every row of the table rooted at page
    /// `root`, in rowid order. Every row must hold exactly `N` columns, all integers
    /// (`each` gets them in column order); the rowid is not passed.
    pub(crate) fn for_each_int_row<const N: usize>(
        &self,
        root: u32,
        mut each: impl FnMut([i64; N]),
    ) -> Result<(), Unsupported> {
        let pages = self.bytes.len() / self.page_size;
        let mut budget = pages;
        // (page, next cell index): an explicit stack, so depth is bounded.
        let mut stack: Vec<(u32, usize)> = vec![(root, 0)];
        while let Some(top) = stack.len().checked_sub(1) {
            let (number, next) = stack[top];
            let page = self.page(number)?;
            let header_at = if number == 1 { 100 } else { 0 };
            let head = page
                .get(header_at..header_at + 12)
                .ok_or(Unsupported("short page"))?;
            let cells = usize::from(u16::from_be_bytes([head[3], head[4]]));
            let pointer = |i: usize, header_len: usize| -> Result<usize, Unsupported> {
                let p = header_at + header_len + 2 * i;
                let ptr = page
                    .get(p..p + 2)
                    .ok_or(Unsupported("cell pointers beyond the page"))?;
                Ok(usize::from(u16::from_be_bytes([ptr[0], ptr[1]])))
            };
            match head[0] {
                TABLE_LEAF => {
                    for i in 0..cells {
                        each(self.leaf_record::<N>(page, pointer(i, 8)?)?);
                    }
                    stack.pop();
                }
                TABLE_INTERIOR => {
                    let child = if next < cells {
                        let at = pointer(next, 12)?;
                        let c = page
                            .get(at..at + 4)
                            .ok_or(Unsupported("cell beyond the page"))?;
                        [c[0], c[1], c[2], c[3]]
                    } else if next == cells {
                        [head[8], head[9], head[10], head[11]]
                    } else {
                        stack.pop();
                        continue;
                    };
                    stack[top].1 += 1;
                    budget = budget
                        .checked_sub(1)
                        .ok_or(Unsupported("a loop in the tree"))?;
                    if stack.len() >= MAX_DEPTH {
                        return Err(Unsupported("tree too deep"));
                    }
                    stack.push((u32::from_be_bytes(child), 0));
                }
                _ => return Err(Unsupported("not a table B-tree page")),
            }
        }
        Ok(())
    }

    /// The `N` integer columns of the leaf cell at offset `at` of `page`.
    #[inline]
    fn leaf_record<const N: usize>(&self, page: &[u8], at: usize) -> Result<[i64; N], Unsupported> {
        let cell = page.get(at..).ok_or(Unsupported("cell beyond the page"))?;
        let (payload_len, a) = varint(cell)?;
        let (_rowid, b) = varint(&cell[a..])?;
        // Payloads longer than this spill onto overflow pages (never for integer rows).
        if payload_len > (self.usable - 35) as u64 {
            return Err(Unsupported("an overflowing cell"));
        }
        let payload = cell
            .get(a + b..a + b + payload_len as usize)
            .ok_or(Unsupported("cell beyond the page"))?;
        let (header_len, mut h) = varint(payload)?;
        let header_len = header_len as usize;
        let header = payload
            .get(..header_len)
            .ok_or(Unsupported("record header beyond the cell"))?;
        let mut body = header_len;
        let mut out = [0i64; N];
        // The common case: one byte per serial type, so the header is the types.
        if header_len == N + 1 && header[1..].iter().all(|&t| t < 0x80) {
            for (value, &serial) in out.iter_mut().zip(&header[1..]) {
                *value = match serial {
                    8 => 0,
                    9 => 1,
                    1..=6 => {
                        let size = [0, 1, 2, 3, 4, 6, 8][usize::from(serial)];
                        let bytes = payload
                            .get(body..body + size)
                            .ok_or(Unsupported("a value beyond the cell"))?;
                        body += size;
                        be_int(bytes)
                    }
                    _ => return Err(Unsupported("a value that is not an integer")),
                };
            }
            return Ok(out);
        }
        for value in &mut out {
            if h >= header.len() {
                return Err(Unsupported("a row with fewer columns"));
            }
            let (serial, n) = varint(&header[h..])?;
            h += n;
            let size = match serial {
                1..=4 => serial as usize,
                5 => 6,
                6 => 8,
                8 => {
                    *value = 0;
                    continue;
                }
                9 => {
                    *value = 1;
                    continue;
                }
                _ => return Err(Unsupported("a value that is not an integer")),
            };
            let bytes = payload
                .get(body..body + size)
                .ok_or(Unsupported("a value beyond the cell"))?;
            body += size;
            *value = be_int(bytes);
        }
        if h != header.len() {
            return Err(Unsupported("a row with more columns"));
        }
        Ok(out)
    }
}

/// A big-endian two's complement integer of 1 to 8 bytes, sign-extended.
#[inline]
fn be_int(bytes: &[u8]) -> i64 {
    let negative = bytes.first().is_some_and(|&b| b & 0x80 != 0);
    let mut v: i64 = if negative { -1 } else { 0 };
    for &byte in bytes {
        v = (v << 8) | i64::from(byte);
    }
    v
}

/// SQLite's varint: 1 to 9 bytes, big-endian groups of 7 bits, all 8 bits of a 9th.
#[inline]
fn varint(bytes: &[u8]) -> Result<(u64, usize), Unsupported> {
    match bytes.first() {
        Some(&b) if b < 0x80 => Ok((u64::from(b), 1)),
        _ => varint_long(bytes),
    }
}

fn varint_long(bytes: &[u8]) -> Result<(u64, usize), Unsupported> {
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().take(9).enumerate() {
        if i == 8 {
            return Ok(((v << 8) | u64::from(b), 9));
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(Unsupported("a varint beyond the data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05]), Ok((5, 1)));
        assert_eq!(varint(&[0x81, 0x00]), Ok((128, 2)));
        assert_eq!(varint(&[0xff; 9]), Ok((u64::MAX, 9)));
        assert!(varint(&[0x81]).is_err());
        assert!(varint(&[]).is_err());
    }

    /// Rows written by SQLite itself: many pages (an interior level), negative and large
    /// integers, 0 and 1 (serial types 8 and 9), and rows deleted in the middle.
    #[test]
    fn reads_what_sqlite_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "pragma page_size=1024; create table t (a integer, b integer, c integer);",
        )
        .unwrap();
        let mut want = Vec::new();
        conn.execute_batch("begin").unwrap();
        for i in 0..20_000i64 {
            let row = [i % 7 - 3, -i * 1_000_003, (i << 40) ^ i];
            conn.execute("insert into t values (?1, ?2, ?3)", row)
                .unwrap();
            want.push((i + 1, row));
        }
        conn.execute_batch("commit").unwrap();
        conn.execute("delete from t where rowid % 5 = 0", [])
            .unwrap();
        want.retain(|(rowid, _)| rowid % 5 != 0);
        let want: Vec<[i64; 3]> = want.into_iter().map(|(_, row)| row).collect();
        let root: u32 = conn
            .query_row(
                "select rootpage from sqlite_schema where name = 't'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        drop(conn);
        let bytes = std::fs::read(&path).unwrap();
        let db = Database::new(&bytes).unwrap();
        let mut got = Vec::new();
        db.for_each_int_row::<3>(root, |r| got.push(r)).unwrap();
        assert_eq!(got, want);
        // Too few columns asked: declined, not misread.
        assert!(db.for_each_int_row::<2>(root, |_| {}).is_err());
        // A truncated image or a wrong root: declined, never a panic.
        assert!(Database::new(&bytes[..bytes.len() - 1]).is_err());
        for root in [0, 1, 9999] {
            let _ = db.for_each_int_row::<3>(root, |_| {});
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut bytes = vec![0u8; 4096];
        bytes[..16].copy_from_slice(HEADER);
        bytes[16..18].copy_from_slice(&1024u16.to_be_bytes());
        bytes[18] = 1;
        bytes[19] = 1;
        let mut state = 0x1234_5678_u32;
        for round in 0..2000 {
            for b in bytes[100..].iter_mut() {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                *b = state as u8;
            }
            // Plausible page types, so the walk gets past the first check.
            for page in 0..4 {
                bytes[page * 1024 + if page == 0 { 100 } else { 0 }] =
                    [TABLE_LEAF, TABLE_INTERIOR][round % 2];
            }
            let Ok(db) = Database::new(&bytes) else {
                continue;
            };
            for root in 1..=4 {
                let _ = db.for_each_int_row::<4>(root, |_| {});
            }
        }
    }
}
