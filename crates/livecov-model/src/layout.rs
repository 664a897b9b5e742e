//! A build's layout in livecov's own terms: what it can count, in counter order, for any
//! language. Go's `covmeta`, a coverage.py database and an LCOV file all become one.
//!
//! Counter vectors are dense and follow the layout: counter `k` belongs to unit `k`.
//! Units are grouped by function, functions in the producer's order, so a Go build's
//! unit `k` is the `k`-th unit of its meta file, packages, functions and units in order.
//!
//! The stored form (`encode`/`decode`) is versioned, compact (ULEB128 integers, strings
//! once each) and checked on decode: every count is bounded by the bytes that remain, so
//! a damaged blob is an error, never a panic or a huge allocation.

use std::fmt;
use std::ops::Range;

use crate::uleb::put_uleb;
use crate::{CounterMode, Unit};

/// One source file of a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutFile {
    /// The path as the producer records it (Go: `<import path>/<base name>`).
    pub path: String,
    /// Index into [`Layout::packages`].
    pub package: u32,
}

/// One function (or, for languages without them, one file's top level).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutFunction {
    /// The name as the producer records it.
    pub name: String,
    /// Index into [`Layout::files`].
    pub file: u32,
    /// Index of the function's first unit; it owns the units up to the next function's.
    pub first_unit: u32,
}

/// What one build counts, in counter order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// How the build counts.
    pub mode: CounterMode,
    /// Packages (Go import paths; a directory or module for other languages).
    pub packages: Vec<String>,
    /// Files, each in one package.
    pub files: Vec<LayoutFile>,
    /// Functions in counter order.
    pub functions: Vec<LayoutFunction>,
    /// Every unit, in counter order.
    pub units: Vec<Unit>,
}

/// Why a stored layout could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutError {
    /// Byte offset in the stored form.
    pub offset: usize,
    /// What was expected there.
    pub message: String,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stored layout: at byte offset {}: {}",
            self.offset, self.message
        )
    }
}

impl std::error::Error for LayoutError {}

const MAGIC: &[u8; 4] = b"lcl1";

impl Layout {
    /// The units of function `f`.
    pub fn function_units(&self, f: usize) -> Range<usize> {
        let start = self.functions[f].first_unit as usize;
        let end = self
            .functions
            .get(f + 1)
            .map_or(self.units.len(), |n| n.first_unit as usize);
        start..end
    }

    /// The path of function `f`'s file.
    pub fn file_of(&self, f: usize) -> &LayoutFile {
        &self.files[self.functions[f].file as usize]
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.units.len() * 6);
        out.extend_from_slice(MAGIC);
        out.push(self.mode.to_go());
        let put_str = |out: &mut Vec<u8>, s: &str| {
            put_uleb(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        };
        put_uleb(&mut out, self.packages.len() as u64);
        for p in &self.packages {
            put_str(&mut out, p);
        }
        put_uleb(&mut out, self.files.len() as u64);
        for f in &self.files {
            put_str(&mut out, &f.path);
            put_uleb(&mut out, u64::from(f.package));
        }
        put_uleb(&mut out, self.functions.len() as u64);
        for (i, f) in self.functions.iter().enumerate() {
            put_str(&mut out, &f.name);
            put_uleb(&mut out, u64::from(f.file));
            put_uleb(&mut out, self.function_units(i).len() as u64);
        }
        for u in &self.units {
            // Lines as deltas from the start line: most units span a line or two.
            put_uleb(&mut out, u64::from(u.start_line));
            put_uleb(&mut out, u64::from(u.start_col));
            put_uleb(&mut out, u64::from(u.end_line.wrapping_sub(u.start_line)));
            put_uleb(&mut out, u64::from(u.end_col));
            put_uleb(&mut out, u64::from(u.stmts));
        }
        out
    }

    /// Reads the stored form.
    pub fn decode(bytes: &[u8]) -> Result<Layout, LayoutError> {
        let mut r = Reader { bytes, pos: 0 };
        if bytes.get(..4) != Some(MAGIC) {
            return Err(r.err("expected magic \"lcl1\" (a livecov layout)"));
        }
        r.pos = 4;
        let mode_byte = r.byte("counter mode")?;
        let mode = CounterMode::from_go(mode_byte).ok_or_else(|| {
            r.err(&format!(
                "counter mode {mode_byte} is not set, count or atomic"
            ))
        })?;
        let n = r.count("package count", 1)?;
        let mut packages = Vec::with_capacity(n);
        for _ in 0..n {
            packages.push(r.string("package name")?);
        }
        let n = r.count("file count", 2)?;
        let mut files = Vec::with_capacity(n);
        for _ in 0..n {
            let path = r.string("file path")?;
            let package = r.index("file package", packages.len())?;
            files.push(LayoutFile { path, package });
        }
        let n = r.count("function count", 3)?;
        let mut functions = Vec::with_capacity(n);
        let mut total = 0u64;
        for _ in 0..n {
            let name = r.string("function name")?;
            let file = r.index("function file", files.len())?;
            let units = r.uleb("unit count")?;
            let first_unit = u32::try_from(total).map_err(|_| r.err("too many units"))?;
            total += units;
            functions.push(LayoutFunction {
                name,
                file,
                first_unit,
            });
        }
        // Each unit takes at least five bytes.
        if total > (bytes.len() - r.pos) as u64 / 5 {
            return Err(r.err(&format!(
                "functions declare {total} units, more than the {} bytes left can hold",
                bytes.len() - r.pos
            )));
        }
        let mut units = Vec::with_capacity(total as usize);
        for _ in 0..total {
            let start_line = r.u32("start line")?;
            let start_col = r.u32("start column")?;
            let span = r.u32("line span")?;
            let end_col = r.u32("end column")?;
            let stmts = r.u32("statements")?;
            units.push(Unit {
                start_line,
                start_col,
                end_line: start_line.wrapping_add(span),
                end_col,
                stmts,
            });
        }
        if r.pos != bytes.len() {
            return Err(r.err(&format!(
                "{} bytes after the last unit",
                bytes.len() - r.pos
            )));
        }
        Ok(Layout {
            mode,
            packages,
            files,
            functions,
            units,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn err(&self, message: &str) -> LayoutError {
        LayoutError {
            offset: self.pos,
            message: message.to_owned(),
        }
    }

    fn byte(&mut self, what: &str) -> Result<u8, LayoutError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.err(&format!("truncated: expected the {what}")))?;
        self.pos += 1;
        Ok(b)
    }

    fn uleb(&mut self, what: &str) -> Result<u64, LayoutError> {
        let start = self.pos;
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte(what)?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        self.pos = start;
        Err(self.err(&format!("{what}: integer longer than 64 bits")))
    }

    fn u32(&mut self, what: &str) -> Result<u32, LayoutError> {
        let v = self.uleb(what)?;
        u32::try_from(v).map_err(|_| self.err(&format!("{what} {v} does not fit 32 bits")))
    }

    /// A count of items taking at least `min_bytes` each: bounded by what remains.
    fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize, LayoutError> {
        let v = self.uleb(what)?;
        let left = (self.bytes.len() - self.pos) / min_bytes;
        if v > left as u64 {
            return Err(self.err(&format!("{what} {v} needs more than the bytes left")));
        }
        Ok(v as usize)
    }

    fn index(&mut self, what: &str, len: usize) -> Result<u32, LayoutError> {
        let v = self.u32(what)?;
        if v as usize >= len {
            return Err(self.err(&format!("{what} {v} out of range (there are {len})")));
        }
        Ok(v)
    }

    fn string(&mut self, what: &str) -> Result<String, LayoutError> {
        let len = self.count(what, 1)?;
        let s = &self.bytes[self.pos..self.pos + len];
        let s = std::str::from_utf8(s)
            .map_err(|e| self.err(&format!("{what} is not UTF-8: {e}")))?
            .to_owned();
        self.pos += len;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Layout {
        let u = |l, s| Unit {
            start_line: l,
            start_col: 2,
            end_line: l + 3,
            end_col: 9,
            stmts: s,
        };
        Layout {
            mode: CounterMode::Count,
            packages: vec!["example.com/a".into(), "example.com/b".into()],
            files: vec![
                LayoutFile {
                    path: "example.com/a/a.go".into(),
                    package: 0,
                },
                LayoutFile {
                    path: "example.com/b/b.py".into(),
                    package: 1,
                },
            ],
            functions: vec![
                LayoutFunction {
                    name: "main".into(),
                    file: 0,
                    first_unit: 0,
                },
                LayoutFunction {
                    name: "empty".into(),
                    file: 0,
                    first_unit: 2,
                },
                LayoutFunction {
                    name: "<module>".into(),
                    file: 1,
                    first_unit: 2,
                },
            ],
            units: vec![u(3, 1), u(10, 0), u(1, 400)],
        }
    }

    #[test]
    fn round_trips() {
        let l = sample();
        let bytes = l.encode();
        assert_eq!(Layout::decode(&bytes).unwrap(), l);
        assert_eq!(l.function_units(0), 0..2);
        assert_eq!(l.function_units(1), 2..2);
        assert_eq!(l.function_units(2), 2..3);
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_or_a_value_never_a_panic() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            let err = Layout::decode(&bytes[..cut]).unwrap_err();
            assert!(err.offset <= cut, "{err}");
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let _ = Layout::decode(&b);
            }
        }
        let mut huge = MAGIC.to_vec();
        huge.push(2);
        put_uleb(&mut huge, u64::MAX >> 1);
        assert!(Layout::decode(&huge)
            .unwrap_err()
            .message
            .contains("needs more than the bytes left"));
    }
}
