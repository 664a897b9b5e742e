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

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

/// The reader declined the file or table; read it through SQLite.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unsupported(pub(crate) &'static str);

/// The rows of table leaf pages already decoded, shared by the reads of one combine.
///
/// The data files of one service hold many byte-identical pages (bench/README.md, "Issue
/// 10": 67,526 arc leaf pages in 1,000 files, 7,162 distinct), so a page seen before
/// costs a digest of its bytes instead of decoding its cells. The key is a 128-bit XXH3
/// of the page under a seed drawn per cache, so that pages cannot be crafted to collide.
/// Rows are held as `i32`s (a page with a wider value is not kept), and at most
/// `capacity` rows are kept in all: past that, pages are decoded as without a cache.
pub(crate) struct LeafCache<const N: usize> {
    seed: u64,
    pages: RwLock<HashMap<u128, Box<[[i32; N]]>>>,
    room: AtomicUsize,
}

impl<const N: usize> LeafCache<N> {
    /// A cache that keeps at most `capacity` rows.
    pub(crate) fn new(capacity: usize) -> LeafCache<N> {
        use std::hash::{BuildHasher, Hasher};
        LeafCache {
            seed: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
            pages: RwLock::new(HashMap::new()),
            room: AtomicUsize::new(capacity),
        }
    }

    fn key(&self, page: &[u8]) -> u128 {
        xxhash_rust::xxh3::xxh3_128_with_seed(page, self.seed)
    }

    /// Calls `each` with the rows kept for the page whose key is `key`; false when
    /// there are none.
    fn replay(&self, key: u128, each: &mut impl FnMut([i64; N])) -> bool {
        let pages = self.pages.read().unwrap_or_else(|e| e.into_inner());
        let Some(rows) = pages.get(&key) else {
            return false;
        };
        for row in rows.iter() {
            each(row.map(i64::from));
        }
        true
    }

    fn keep(&self, key: u128, rows: &[[i32; N]]) {
        let taken = self
            .room
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |room| {
                room.checked_sub(rows.len())
            });
        if taken.is_ok() {
            let mut pages = self.pages.write().unwrap_or_else(|e| e.into_inner());
            pages.entry(key).or_insert_with(|| rows.into());
        }
    }
}

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
    #[cfg(test)]
    pub(crate) fn for_each_int_row<const N: usize>(
        &self,
        root: u32,
        each: impl FnMut([i64; N]),
    ) -> Result<(), Unsupported> {
        self.for_each_int_row_cached(root, None, each)
    }

    /// [`Self::for_each_int_row`], taking the rows of a leaf page `leaves` has seen from
    /// there and keeping those of a new one.
    pub(crate) fn for_each_int_row_cached<const N: usize>(
        &self,
        root: u32,
        leaves: Option<&LeafCache<N>>,
        mut each: impl FnMut([i64; N]),
    ) -> Result<(), Unsupported> {
        let mut decoded: Vec<[i32; N]> = Vec::new();
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
                    // Page 1 holds the file header too: never kept.
                    let cache = leaves.filter(|_| number != 1);
                    let key = cache.map(|c| (c, c.key(page)));
                    if let Some((cache, key)) = key {
                        if cache.replay(key, &mut each) {
                            stack.pop();
                            continue;
                        }
                    }
                    decoded.clear();
                    let mut narrow = key.is_some();
                    for i in 0..cells {
                        let row = self.leaf_record::<N>(page, pointer(i, 8)?)?;
                        if narrow {
                            let mut small = [0i32; N];
                            for (s, &v) in small.iter_mut().zip(&row) {
                                match i32::try_from(v) {
                                    Ok(v) => *s = v,
                                    Err(_) => narrow = false,
                                }
                            }
                            decoded.push(small);
                        }
                        each(row);
                    }
                    if let (Some((cache, key)), true) = (key, narrow) {
                        cache.keep(key, &decoded);
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
    match bytes {
        [b, ..] if *b < 0x80 => Ok((u64::from(*b), 1)),
        // Two bytes: rowids up to 16,383, most of a coverage.py arc table.
        [a, b, ..] if *b < 0x80 => Ok(((u64::from(a & 0x7f) << 7) | u64::from(*b), 2)),
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

    /// The bytes of the database `path` that `fill` writes into a table `t` of
    /// `columns` (1 KiB pages), and the root page of `t`.
    fn table_image(
        path: &std::path::Path,
        columns: &str,
        fill: impl FnOnce(&rusqlite::Connection),
    ) -> (Vec<u8>, u32) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(&format!(
            "pragma page_size=1024; create table t ({columns});"
        ))
        .unwrap();
        fill(&conn);
        let root: u32 = conn
            .query_row(
                "select rootpage from sqlite_schema where name = 't'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        drop(conn);
        (std::fs::read(path).unwrap(), root)
    }

    /// Rows written by SQLite itself: many pages (an interior level), negative and large
    /// integers, 0 and 1 (serial types 8 and 9), and rows deleted in the middle.
    #[test]
    fn reads_what_sqlite_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut want = Vec::new();
        let (bytes, root) = table_image(&path, "a integer, b integer, c integer", |conn| {
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
        });
        want.retain(|(rowid, _)| rowid % 5 != 0);
        let want: Vec<[i64; 3]> = want.into_iter().map(|(_, row)| row).collect();
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

    /// Two databases holding the same rows, with some values too wide for the cache: each
    /// read through one shared cache gives exactly the rows of a read without it; the
    /// second takes its narrow pages from the cache and only those were kept.
    #[test]
    fn a_shared_leaf_cache_gives_the_same_rows_and_keeps_narrow_pages_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut images = Vec::new();
        for name in ["a.db", "b.db"] {
            let columns = "a integer, b integer, c integer, d integer";
            images.push(table_image(&dir.path().join(name), columns, |conn| {
                conn.execute_batch("begin").unwrap();
                for i in 0..5_000i64 {
                    // Rows 4,000 on carry a value past i32.
                    let wide = if i >= 4_000 { 1 << 33 } else { i };
                    conn.execute(
                        "insert into t values (?1, ?2, ?3, ?4)",
                        [i % 13, -1, i * 7, wide],
                    )
                    .unwrap();
                }
                conn.execute_batch("commit").unwrap();
            }));
        }
        let cache = LeafCache::<4>::new(1 << 20);
        let mut kept = Vec::new();
        for (bytes, root) in &images {
            let db = Database::new(bytes).unwrap();
            let mut plain = Vec::new();
            db.for_each_int_row::<4>(*root, |r| plain.push(r)).unwrap();
            assert_eq!(plain.len(), 5_000);
            let mut cached = Vec::new();
            db.for_each_int_row_cached::<4>(*root, Some(&cache), |r| cached.push(r))
                .unwrap();
            assert_eq!(cached, plain);
            kept.push(cache.pages.read().unwrap().len());
        }
        // Every kept page's rows fit i32; the second, identical, file added none.
        assert!(kept[0] > 10, "{kept:?}");
        assert_eq!(kept[0], kept[1]);
        let rows_kept: usize = cache.pages.read().unwrap().values().map(|r| r.len()).sum();
        assert!(rows_kept < 4_000, "{rows_kept}");
        // A full cache keeps nothing more and still reads right.
        let full = LeafCache::<4>::new(0);
        let db = Database::new(&images[0].0).unwrap();
        let mut rows = 0;
        db.for_each_int_row_cached::<4>(images[0].1, Some(&full), |_| rows += 1)
            .unwrap();
        assert_eq!((rows, full.pages.read().unwrap().len()), (5_000, 0));
    }

    #[test]
    fn garbage_never_panics() {
        let mut bytes = vec![0u8; 4096];
        bytes[..16].copy_from_slice(HEADER);
        bytes[16..18].copy_from_slice(&1024u16.to_be_bytes());
        bytes[18] = 1;
        bytes[19] = 1;
        let mut state = 0x1234_5678_u32;
        let cache = LeafCache::<4>::new(1 << 16);
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
                let mut plain = Vec::new();
                let plain_ok = db.for_each_int_row::<4>(root, |r| plain.push(r)).is_ok();
                // Through the cache (pages kept from earlier rounds too): the same rows,
                // or the same refusal.
                let mut cached = Vec::new();
                let cached_ok = db
                    .for_each_int_row_cached::<4>(root, Some(&cache), |r| cached.push(r))
                    .is_ok();
                assert_eq!(plain_ok, cached_ok);
                if plain_ok {
                    assert_eq!(plain, cached);
                }
            }
        }
    }
}
