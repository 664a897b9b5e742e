//! `covcounters.<hash>.<pid>.<nanotime>`: one process's counters (spec §3, validation
//! §8.2, writing §9).
//!
//! Like `go tool covdata`, only the first segment's records are read; the footer's
//! segment count is kept so callers can warn about the rest.

use super::cursor::{put_uleb, uleb32_stream, Cursor, StringTableWriter};
use super::DecodeError;

/// The first four bytes of every counter-data file.
pub const COUNTER_MAGIC: [u8; 4] = [0x00, 0x63, 0x77, 0x6d];
const HEADER_LEN: usize = 32;
const SEGMENT_HEADER_LEN: usize = 16;
const FOOTER_LEN: usize = 16;

/// How counter values are encoded in the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterFlavor {
    /// Fixed 4-byte values (`CtrRaw`), little- or big-endian.
    Raw {
        /// True when the header's `BigEndian` flag is set.
        big_endian: bool,
    },
    /// ULEB128 values (`CtrULeb128`), what every Go writer produces.
    Uleb128,
}

/// One function's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncRecord {
    /// Index into the meta file's package list.
    pub pkg: u32,
    /// Index into that package's function list.
    pub func: u32,
    /// Counter `i` belongs to unit `i` of the function.
    pub counters: Vec<u32>,
}

/// A decoded counter-data file (first segment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterFile {
    /// The meta file hash this file claims to belong to.
    pub meta_hash: [u8; 16],
    /// Payload encoding.
    pub flavor: CounterFlavor,
    /// The args table (`argc`, `argv0`…, `GOOS`, `GOARCH`) in file order.
    pub args: Vec<(String, String)>,
    /// The function records of the first segment, in file order.
    pub records: Vec<FuncRecord>,
    /// The byte offset of each record in the file (same order as `records`).
    pub record_offsets: Vec<u64>,
    /// The segment count from the footer; segments after the first are not read.
    pub segments: u32,
}

impl CounterFile {
    /// Looks up one args entry.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `os.Args` as recorded: `argv0..argv<argc-1>`, a missing entry reading as `""`.
    /// `None` when there is no valid `argc`.
    pub fn os_args(&self) -> Option<Vec<String>> {
        let argc: usize = self.arg("argc")?.parse().ok()?;
        // Bound by the number of entries present so a hostile argc cannot allocate.
        if argc > self.args.len() {
            return None;
        }
        Some(
            (0..argc)
                .map(|i| self.arg(&format!("argv{i}")).unwrap_or("").to_owned())
                .collect(),
        )
    }
}

/// A counter-data file whose header, args and footer have been read, with its records
/// still to be streamed (first segment only). Reading records one at a time into a
/// caller's buffer keeps merging many large files free of per-record allocations.
pub struct CounterFileReader<'a> {
    /// The meta file hash this file claims to belong to.
    pub meta_hash: [u8; 16],
    /// Payload encoding.
    pub flavor: CounterFlavor,
    /// The args table in file order.
    pub args: Vec<(String, String)>,
    /// The segment count from the footer; segments after the first are not read.
    pub segments: u32,
    cursor: Cursor<'a>,
    /// The segment's bytes up to the footer, and where its records start.
    body: &'a [u8],
    records_at: usize,
    entries: u64,
    next: u64,
}

/// Where a function record lies and which function it is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHead {
    /// Byte offset of the record in the file.
    pub offset: u64,
    /// Index into the meta file's package list.
    pub pkg: u32,
    /// Index into that package's function list.
    pub func: u32,
}

impl<'a> CounterFileReader<'a> {
    /// Reads the header, footer, string table and args. Returns the reader and warnings
    /// (padding oddities Go tolerates).
    pub fn new(bytes: &'a [u8]) -> Result<(CounterFileReader<'a>, Vec<DecodeError>), DecodeError> {
        let mut warnings = Vec::new();
        let min = HEADER_LEN + SEGMENT_HEADER_LEN + FOOTER_LEN;
        if bytes.len() < min {
            return Err(DecodeError::new(
                0,
                format!(
                    "truncated counter-data file: {} bytes, a valid file has at least {min}",
                    bytes.len()
                ),
            ));
        }
        let mut c = Cursor::new(bytes, 0);
        let magic = c.take(4, "magic")?;
        if magic != COUNTER_MAGIC {
            return Err(DecodeError::new(
                0,
                format!(
                    "bad magic {magic:02x?}: expected 00 63 77 6d (not a Go counter-data file)"
                ),
            ));
        }
        let version = c.u32_le("version")?;
        if version != 1 {
            return Err(DecodeError::new(
                4,
                format!("unknown counter-data file version {version} (expected 1)"),
            ));
        }
        let meta_hash = c.hash16("meta hash")?;
        let flavor = match c.u8("counter flavor")? {
            1 => {
                let be = c.u8("byte order")?;
                if be > 1 {
                    return Err(DecodeError::new(
                        25,
                        format!("big-endian flag {be}, expected 0 or 1"),
                    ));
                }
                CounterFlavor::Raw {
                    big_endian: be == 1,
                }
            }
            2 => CounterFlavor::Uleb128,
            other => {
                return Err(DecodeError::new(
                    24,
                    format!("unknown counter flavor {other} (expected 1 raw or 2 ULEB128)"),
                ))
            }
        };

        let footer_at = bytes.len() - FOOTER_LEN;
        let mut f = Cursor::new(bytes, footer_at);
        if f.take(4, "footer magic")? != COUNTER_MAGIC {
            return Err(DecodeError::new(
                footer_at as u64,
                "missing footer magic in the last 16 bytes (truncated or not a counter-data file)",
            ));
        }
        f.take(4, "footer padding")?;
        let segments = f.u32_le("segment count")?;
        if segments == 0 {
            return Err(DecodeError::new(
                footer_at as u64 + 8,
                "footer says the file has no segments",
            ));
        }

        // Segment 1 lies between the header and the footer that follows it.
        let body = &bytes[..footer_at];
        let mut c = Cursor::new(body, HEADER_LEN);
        let entries = c.u64_le("function record count")?;
        let strtab_len = c.u32_le("string table length")? as usize;
        let args_len = c.u32_le("args table length")? as usize;
        let seg_start = HEADER_LEN + SEGMENT_HEADER_LEN;
        let strtab_end = seg_start
            .checked_add(strtab_len)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| {
                DecodeError::new(
                    40,
                    format!("string table length {strtab_len} runs past the end of the segment"),
                )
            })?;
        let args_end = strtab_end
            .checked_add(args_len)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| {
                DecodeError::new(
                    44,
                    format!("args table length {args_len} runs past the end of the segment"),
                )
            })?;
        if !(SEGMENT_HEADER_LEN + strtab_len + args_len).is_multiple_of(4) {
            warnings.push(DecodeError::new(
                44,
                "segment preamble is not a multiple of 4 bytes",
            ));
        }
        let strings =
            Cursor::new(&bytes[..strtab_end], seg_start).string_table("counter string table")?;
        let args = decode_args(&bytes[..args_end], strtab_end, &strings)?;

        let c = Cursor::new(body, args_end);
        let min_record = match flavor {
            CounterFlavor::Uleb128 => 3,
            CounterFlavor::Raw { .. } => 12,
        };
        if entries > (c.remaining() / min_record) as u64 {
            return Err(DecodeError::new(
                32,
                format!(
                    "header claims {entries} function records, but only {} payload bytes remain",
                    c.remaining()
                ),
            ));
        }
        Ok((
            CounterFileReader {
                meta_hash,
                flavor,
                args,
                segments,
                cursor: c,
                body,
                records_at: args_end,
                entries,
                next: 0,
            },
            warnings,
        ))
    }

    /// The number of function records the segment header announces.
    pub fn record_count(&self) -> u64 {
        self.entries
    }

    /// Reads the next record's counters into `counters` (cleared first). `None` after
    /// the last record.
    pub fn next_record(
        &mut self,
        counters: &mut Vec<u32>,
    ) -> Result<Option<RecordHead>, DecodeError> {
        counters.clear();
        self.append_next_record(counters)
    }

    /// Reads the next record, appending its counters to `values`; the record's counters
    /// are the last `values.len() - (length before)` elements. `None` after the last
    /// record.
    pub fn append_next_record(
        &mut self,
        values: &mut Vec<u32>,
    ) -> Result<Option<RecordHead>, DecodeError> {
        if self.next == self.entries {
            return Ok(None);
        }
        let r = self.next;
        self.next += 1;
        let flavor = self.flavor;
        let c = &mut self.cursor;
        let rec_at = c.pos();
        let wrap = |e: DecodeError| {
            DecodeError::new(e.offset, format!("function record {r}: {}", e.message))
        };
        let n = read_value(c, flavor, "counter count").map_err(wrap)?;
        let per = match flavor {
            CounterFlavor::Uleb128 => 1,
            CounterFlavor::Raw { .. } => 4,
        };
        if n as usize > c.remaining() / per {
            return Err(DecodeError::new(
                rec_at as u64,
                format!(
                    "function record {r}: {n} counters need more than the {} bytes left",
                    c.remaining()
                ),
            ));
        }
        let pkg = read_value(c, flavor, "package index").map_err(wrap)?;
        let func = read_value(c, flavor, "function index").map_err(wrap)?;
        match flavor {
            CounterFlavor::Uleb128 => c.uleb32_many(n as usize, values, "counter").map_err(wrap)?,
            CounterFlavor::Raw { .. } => {
                values.reserve(n as usize);
                for _ in 0..n {
                    values.push(read_value(c, flavor, "counter").map_err(wrap)?);
                }
            }
        }
        Ok(Some(RecordHead {
            offset: rec_at as u64,
            pkg,
            func,
        }))
    }

    /// Reads every record (all that remain when none was read yet) into `buf` and
    /// returns them as one flat sequence of `u32`s: per record its counter count,
    /// package index and function index, then its counters. [`CounterFileReader::records`]
    /// walks it. `buf` is reused from file to file and only ever grows.
    ///
    /// The same values and the same error as reading record by record with
    /// [`CounterFileReader::append_next_record`], which this falls back to whenever the
    /// fast path (ULEB128 payload, all values decoded at once, records ending exactly at
    /// the footer) does not apply.
    pub fn read_all_records<'v>(
        &mut self,
        buf: &'v mut Vec<u32>,
    ) -> Result<&'v [u32], DecodeError> {
        if self.next == 0 && self.flavor == CounterFlavor::Uleb128 {
            let payload = &self.body[self.records_at..];
            if let Some(values) = uleb32_stream(payload, buf) {
                if records_span(values, self.entries) == Some(values.len()) {
                    self.next = self.entries;
                    self.cursor = Cursor::new(self.body, self.body.len());
                    // Reborrowed: `uleb32_stream` returns exactly this prefix.
                    let n = values.len();
                    return Ok(&buf[..n]);
                }
            }
        }
        buf.clear();
        loop {
            let at = buf.len();
            // Room for the record's three header values, filled in once they are read.
            buf.extend_from_slice(&[0; 3]);
            match self.append_next_record(buf)? {
                Some(head) => {
                    let n = buf.len() - at - 3;
                    // A record's counter count was checked against the bytes left, so
                    // it fits in a u32 as it did in the file.
                    buf[at] = u32::try_from(n).unwrap_or(u32::MAX);
                    buf[at + 1] = head.pkg;
                    buf[at + 2] = head.func;
                }
                None => {
                    buf.truncate(at);
                    return Ok(buf);
                }
            }
        }
    }

    /// Walks what [`CounterFileReader::read_all_records`] returned: per record, its
    /// package index, function index and counters, in file order.
    pub fn records(values: &[u32]) -> impl Iterator<Item = (u32, u32, &[u32])> + '_ {
        let mut rest = values;
        std::iter::from_fn(move || {
            let (&[n, pkg, func], tail) = rest.split_first_chunk::<3>()?;
            let (counters, tail) = tail.split_at_checked(n as usize)?;
            rest = tail;
            Some((pkg, func, counters))
        })
    }

    /// The byte offset of every record of the first segment, in file order (for
    /// messages about a record read in bulk); stops at the first record that does not
    /// decode.
    pub fn record_offsets(&self) -> Vec<u64> {
        let mut again = CounterFileReader {
            meta_hash: self.meta_hash,
            flavor: self.flavor,
            args: Vec::new(),
            segments: self.segments,
            cursor: Cursor::new(self.body, self.records_at),
            body: self.body,
            records_at: self.records_at,
            entries: self.entries,
            next: 0,
        };
        let mut scratch = Vec::new();
        let mut offsets = Vec::new();
        while let Ok(Some(head)) = again.next_record(&mut scratch) {
            offsets.push(head.offset);
        }
        offsets
    }

    /// After the last record: a warning when bytes remain before the footer of a
    /// one-segment file.
    pub fn trailing_warning(&self) -> Option<DecodeError> {
        (self.segments == 1 && self.cursor.remaining() != 0).then(|| {
            DecodeError::new(
                self.cursor.pos() as u64,
                format!(
                    "{} unexpected bytes between the last record and the footer",
                    self.cursor.remaining()
                ),
            )
        })
    }
}

/// Decodes a counter-data file. Returns the value and warnings (hash or padding oddities
/// Go tolerates).
pub fn decode_counter_file(bytes: &[u8]) -> Result<(CounterFile, Vec<DecodeError>), DecodeError> {
    let (mut reader, mut warnings) = CounterFileReader::new(bytes)?;
    let mut records = Vec::with_capacity(reader.record_count() as usize);
    let mut record_offsets = Vec::with_capacity(reader.record_count() as usize);
    let mut buf = Vec::new();
    while let Some(head) = reader.next_record(&mut buf)? {
        record_offsets.push(head.offset);
        records.push(FuncRecord {
            pkg: head.pkg,
            func: head.func,
            counters: buf.clone(),
        });
    }
    warnings.extend(reader.trailing_warning());
    Ok((
        CounterFile {
            meta_hash: reader.meta_hash,
            flavor: reader.flavor,
            args: reader.args,
            records,
            record_offsets,
            segments: reader.segments,
        },
        warnings,
    ))
}

/// How many values `entries` records take at the start of `values` (laid out as
/// [`CounterFileReader::read_all_records`] returns them), when they all fit.
fn records_span(values: &[u32], entries: u64) -> Option<usize> {
    let mut at = 0usize;
    for _ in 0..entries {
        let n = *values.get(at)? as usize;
        at = at.checked_add(3)?.checked_add(n)?;
    }
    (at <= values.len()).then_some(at)
}

#[inline]
fn read_value(c: &mut Cursor<'_>, flavor: CounterFlavor, what: &str) -> Result<u32, DecodeError> {
    match flavor {
        CounterFlavor::Uleb128 => c.uleb32(what),
        CounterFlavor::Raw { big_endian: false } => c.u32_le(what),
        CounterFlavor::Raw { big_endian: true } => c.u32_be(what),
    }
}

fn decode_args(
    bytes: &[u8],
    at: usize,
    strings: &[String],
) -> Result<Vec<(String, String)>, DecodeError> {
    let mut c = Cursor::new(bytes, at);
    if c.remaining() == 0 {
        return Ok(Vec::new());
    }
    let n = c.uleb64("args count")?;
    if n > (c.remaining() / 2) as u64 {
        return Err(DecodeError::new(
            at as u64,
            format!("args table claims {n} pairs in {} bytes", c.remaining()),
        ));
    }
    let mut args: Vec<(String, String)> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let pos = c.pos();
        let k = c.uleb64("args key")?;
        let v = c.uleb64("args value")?;
        let get = |i: u64| usize::try_from(i).ok().and_then(|i| strings.get(i));
        let (Some(k), Some(v)) = (get(k), get(v)) else {
            return Err(DecodeError::new(
                pos as u64,
                format!(
                    "malformed string table ref in args: index beyond the {} strings",
                    strings.len()
                ),
            ));
        };
        if args.iter().any(|(key, _)| key == k) {
            return Err(DecodeError::new(
                pos as u64,
                format!("malformed args table: key {k:?} repeated"),
            ));
        }
        args.push((k.clone(), v.clone()));
    }
    if let Some(argc) = args.iter().find(|(k, _)| k == "argc") {
        if argc.1.parse::<i64>().is_err() {
            return Err(DecodeError::new(
                at as u64,
                format!("malformed argc in args table: {:?}", argc.1),
            ));
        }
    }
    if bytes[c.pos()..].iter().any(|&b| b != 0) {
        return Err(DecodeError::new(
            c.pos() as u64,
            "args table padding holds non-zero bytes",
        ));
    }
    Ok(args)
}

/// Writes a one-segment ULEB128 counter file, as Go's writers do: args sorted by key,
/// the preamble padded to a multiple of 4, and a footer.
pub fn encode_counter_file(
    meta_hash: [u8; 16],
    args: &[(String, String)],
    records: &[FuncRecord],
) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = args.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut st = StringTableWriter::new();
    let pairs: Vec<(u32, u32)> = sorted
        .iter()
        .map(|(k, v)| (st.intern(k), st.intern(v)))
        .collect();
    let mut table = Vec::new();
    st.write(&mut table);
    let mut args_bytes = Vec::new();
    put_uleb(&mut args_bytes, pairs.len() as u64);
    for (k, v) in pairs {
        put_uleb(&mut args_bytes, u64::from(k));
        put_uleb(&mut args_bytes, u64::from(v));
    }
    while !(SEGMENT_HEADER_LEN + table.len() + args_bytes.len()).is_multiple_of(4) {
        args_bytes.push(0);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&COUNTER_MAGIC);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&meta_hash);
    out.push(2);
    out.push(0);
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    out.extend_from_slice(&(table.len() as u32).to_le_bytes());
    out.extend_from_slice(&(args_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&table);
    out.extend_from_slice(&args_bytes);
    for r in records {
        put_uleb(&mut out, r.counters.len() as u64);
        put_uleb(&mut out, u64::from(r.pkg));
        put_uleb(&mut out, u64::from(r.func));
        for &v in &r.counters {
            put_uleb(&mut out, u64::from(v));
        }
    }
    out.extend_from_slice(&COUNTER_MAGIC);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 142-byte file of spec §3.9, byte for byte.
    fn spec_example_bytes() -> Vec<u8> {
        let mut b = vec![0x00, 0x63, 0x77, 0x6d, 1, 0, 0, 0];
        b.extend_from_slice(&[
            0xf3, 0x3f, 0x68, 0xe2, 0x03, 0xf7, 0xf2, 0xd9, 0x8b, 0x57, 0xaa, 0xd0, 0xd2, 0x3d,
            0x33, 0x4c,
        ]);
        b.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&4u64.to_le_bytes());
        b.extend_from_slice(&50u32.to_le_bytes());
        b.extend_from_slice(&10u32.to_le_bytes());
        b.push(9);
        for s in [
            "",
            "argv0",
            "prog/prog2",
            "GOOS",
            "linux",
            "GOARCH",
            "amd64",
            "argc",
            "1",
        ] {
            b.push(s.len() as u8);
            b.extend_from_slice(s.as_bytes());
        }
        b.extend_from_slice(&[4, 5, 6, 3, 4, 7, 8, 1, 2, 0]);
        b.extend_from_slice(&[1, 2, 0, 1, 1, 2, 1, 1, 1, 0, 2, 1, 3, 0, 0, 1, 0, 1]);
        b.extend_from_slice(&[0x00, 0x63, 0x77, 0x6d, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn decodes_spec_example() {
        let bytes = spec_example_bytes();
        assert_eq!(bytes.len(), 142);
        let (f, w) = decode_counter_file(&bytes).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(f.flavor, CounterFlavor::Uleb128);
        assert_eq!(f.arg("GOOS"), Some("linux"));
        assert_eq!(f.os_args(), Some(vec!["prog/prog2".to_owned()]));
        assert_eq!(f.records.len(), 4);
        assert_eq!(
            f.records[3],
            FuncRecord {
                pkg: 0,
                func: 0,
                counters: vec![1, 0, 1]
            }
        );
    }

    #[test]
    fn encoder_output_decodes_to_the_same_records() {
        let (f, _) = decode_counter_file(&spec_example_bytes()).unwrap();
        let bytes = encode_counter_file(f.meta_hash, &f.args, &f.records);
        assert_eq!(bytes.len(), 142);
        let (g, w) = decode_counter_file(&bytes).unwrap();
        assert!(w.is_empty());
        assert_eq!(g.records, f.records);
        let mut a = f.args.clone();
        let mut b = g.args.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn raw_big_and_little_endian_payloads() {
        for big in [false, true] {
            let mut b = spec_example_bytes()[..32].to_vec();
            b[24] = 1;
            b[25] = u8::from(big);
            b.extend_from_slice(&1u64.to_le_bytes());
            b.extend_from_slice(&2u32.to_le_bytes());
            b.extend_from_slice(&2u32.to_le_bytes());
            b.extend_from_slice(&[1, 0, 0, 0]); // table: "" ; args: 0 pairs + pad
            let put = |b: &mut Vec<u8>, v: u32| {
                b.extend_from_slice(&if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                })
            };
            for v in [2, 0, 1, 7, 300] {
                put(&mut b, v);
            }
            b.extend_from_slice(&[0x00, 0x63, 0x77, 0x6d, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
            let (f, w) = decode_counter_file(&b).unwrap();
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(f.records[0].counters, vec![7, 300]);
            assert_eq!(f.records[0].func, 1);
        }
    }

    #[test]
    fn truncation_anywhere_is_an_error_not_a_panic() {
        let bytes = spec_example_bytes();
        for cut in 0..bytes.len() {
            assert!(decode_counter_file(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// Reads all records of `bytes` in bulk, and one by one as the reference.
    fn both_ways(bytes: &[u8]) -> (Result<Vec<u32>, DecodeError>, Result<Vec<u32>, DecodeError>) {
        let bulk = CounterFileReader::new(bytes).and_then(|(mut r, _)| {
            let mut buf = vec![9; 5];
            let records = r.read_all_records(&mut buf)?.to_vec();
            assert!(r.next_record(&mut Vec::new())?.is_none());
            Ok(records)
        });
        let single = CounterFileReader::new(bytes).and_then(|(mut r, _)| {
            let (mut all, mut counters) = (Vec::new(), Vec::new());
            while let Some(head) = r.next_record(&mut counters)? {
                all.extend([counters.len() as u32, head.pkg, head.func]);
                all.extend_from_slice(&counters);
            }
            Ok(all)
        });
        (bulk, single)
    }

    #[test]
    fn bulk_records_equal_records_read_one_by_one() {
        let bytes = spec_example_bytes();
        let (bulk, single) = both_ways(&bytes);
        assert_eq!(bulk.as_ref().unwrap(), single.as_ref().unwrap());
        let records = bulk.unwrap();
        let walked: Vec<_> = CounterFileReader::records(&records).collect();
        assert_eq!(walked.len(), 4);
        assert_eq!(walked[3], (0, 0, &[1, 0, 1][..]));
        let (reader, _) = CounterFileReader::new(&bytes).unwrap();
        assert_eq!(reader.record_offsets(), vec![108, 112, 116, 120]);
    }

    #[test]
    fn bulk_reading_gives_the_same_error_for_every_damage() {
        // Every byte of the payload replaced by values that end, continue or overflow
        // a ULEB128 value, and the record count raised and lowered: bulk reading must
        // give what reading record by record gives, error message and offset included.
        let good = spec_example_bytes();
        let payload = 108..good.len() - 16;
        for at in payload {
            for b in [0x00, 0x05, 0x7f, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[at] = b;
                let (bulk, single) = both_ways(&bytes);
                assert_eq!(bulk, single, "byte {at} = {b:#x}");
            }
        }
        for count in [0u8, 1, 3, 5, 6] {
            let mut bytes = good.clone();
            bytes[32] = count;
            let (bulk, single) = both_ways(&bytes);
            assert_eq!(bulk, single, "record count {count}");
        }
    }

    #[test]
    fn record_count_mismatch_names_the_offset() {
        let mut bytes = spec_example_bytes();
        bytes[32] = 5;
        let e = decode_counter_file(&bytes).unwrap_err();
        assert!(e.message.contains("record"), "{e}");
    }
}
