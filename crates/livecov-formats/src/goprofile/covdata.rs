//! The reports of `go tool covdata` over merged pods: the text profile (`textfmt`),
//! `percent`, `func` and `pkglist` (spec §5.3–5.9), byte for byte.
//!
//! Like Go's formatter, units are accumulated per import path keyed by (file, function,
//! literal, position, statements), so the same package in several builds merges. Builds
//! that carry an identical package (same hash and layout) are first merged as dense
//! vectors, so keyed work is only done once per distinct package layout.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::gocovdata::PackageMeta;
use livecov_model::{merge_counters, percent_1dp, CounterMode, Unit};
use rayon::prelude::*;

use crate::gocovdata::dir::MergedBuild;
use crate::gocovdata::pkgmatch::PkgFilter;

/// One distinct layout of a package and its accumulated counts.
struct Variant<'a> {
    pkg: &'a PackageMeta,
    counts: Vec<u32>,
}

/// Units accumulated across pods, per import path.
pub struct Formatter<'a> {
    mode: CounterMode,
    packages: BTreeMap<&'a str, Vec<Variant<'a>>>,
    orders: &'a OrderCache,
}

/// The text-profile order of each package layout's units, computed once per process:
/// `textfmt -each` over hundreds of directories of the same build sorts it once.
///
/// Keyed by the package's hash (Go's `MetaHash` of its blob): two packages with the same
/// hash have the same units in the same order, so they share one sorted order.
#[derive(Default)]
pub struct OrderCache {
    by_pkg: Mutex<HashMap<[u8; 16], SortedUnits>>,
}

/// A package's units in profile order, `None` when two units share a key.
type SortedUnits = Arc<Option<Vec<UnitRef>>>;

/// One unit of a package: its function, its index in the function, and its index in
/// the package's counter vector.
#[derive(Clone, Copy)]
struct UnitRef {
    func: u32,
    unit: u32,
    flat: u32,
}

impl OrderCache {
    /// The sorted units of `pkg`, or `None` when two units share a key (never produced
    /// by Go's cover tool) and must go through the keyed merge.
    fn order(&self, pkg: &PackageMeta) -> Arc<Option<Vec<UnitRef>>> {
        let key = pkg.hash;
        if let Some(hit) = self.by_pkg.lock().expect("order cache lock").get(&key) {
            return hit.clone();
        }
        let mut refs = Vec::new();
        let mut flat = 0u32;
        for (fi, f) in pkg.functions.iter().enumerate() {
            for ui in 0..f.units.len() {
                refs.push(UnitRef {
                    func: fi as u32,
                    unit: ui as u32,
                    flat,
                });
                flat += 1;
            }
        }
        let unit = |r: &UnitRef| {
            let f = &pkg.functions[r.func as usize];
            (
                &*f.file,
                f.units[r.unit as usize].profile_key(),
                &*f.name,
                f.lit,
            )
        };
        refs.sort_unstable_by(|a, b| unit(a).cmp(&unit(b)));
        let unique = refs.windows(2).all(|w| unit(&w[0]) != unit(&w[1]));
        let order = Arc::new(unique.then_some(refs));
        self.by_pkg
            .lock()
            .expect("order cache lock")
            .insert(key, order.clone());
        order
    }
}

/// One line of a text profile before printing.
#[derive(Clone, Copy)]
struct Entry<'a> {
    file: &'a str,
    func: &'a str,
    lit: bool,
    unit: Unit,
    count: u32,
}

impl<'a> Formatter<'a> {
    /// A formatter merging with `mode` (Go uses the first pod's mode).
    pub fn new(mode: CounterMode, orders: &'a OrderCache) -> Formatter<'a> {
        Formatter {
            mode,
            packages: BTreeMap::new(),
            orders,
        }
    }

    /// Adds every package of `pod` that `filter` accepts.
    pub fn add_pod(&mut self, pod: &'a MergedBuild, filter: Option<&PkgFilter>) {
        for (i, pkg) in pod.meta.packages.iter().enumerate() {
            if filter.is_some_and(|f| !f.matches(&pkg.path)) {
                continue;
            }
            let variants = self.packages.entry(pkg.path.as_str()).or_default();
            let counts = pod.package_counters(i);
            let pkg: &'a PackageMeta = pkg;
            let existing = variants.iter_mut().find(|v| {
                std::ptr::eq(v.pkg, pkg)
                    || (v.pkg.hash == pkg.hash && v.pkg.functions == pkg.functions)
            });
            match existing {
                Some(v) => {
                    merge_counters(self.mode, &mut v.counts, counts);
                }
                None => {
                    let mut v = Variant {
                        pkg,
                        counts: vec![0; counts.len()],
                    };
                    merge_counters(self.mode, &mut v.counts, counts);
                    variants.push(v);
                }
            }
        }
    }

    /// Visited import paths, sorted.
    pub fn package_paths(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.packages.keys().copied()
    }

    /// The units of one package in text-profile order, merged where keys repeat.
    fn sorted_entries(&self, variants: &[Variant<'a>]) -> Vec<Entry<'a>> {
        if let [only] = variants {
            if let Some(order) = self.orders.order(only.pkg).as_ref() {
                return order
                    .iter()
                    .map(|r| {
                        let f = &only.pkg.functions[r.func as usize];
                        Entry {
                            file: &f.file,
                            func: &f.name,
                            lit: f.lit,
                            unit: f.units[r.unit as usize],
                            count: only.counts[r.flat as usize],
                        }
                    })
                    .collect();
            }
        }
        let n: usize = variants.iter().map(|v| v.counts.len()).sum();
        // Rank files once so the sort compares integers, not paths.
        let mut files: Vec<&'a str> = variants
            .iter()
            .flat_map(|v| v.pkg.functions.iter().map(|f| &*f.file))
            .collect();
        files.sort_unstable();
        files.dedup();
        let mut entries: Vec<(u32, Entry<'a>)> = Vec::with_capacity(n);
        for v in variants {
            let mut counts = v.counts.iter();
            let mut last: Option<(&str, u32)> = None;
            for f in &v.pkg.functions {
                let rank = match last {
                    Some((file, r)) if std::ptr::eq(file, &*f.file) || file == &*f.file => r,
                    _ => files.binary_search(&&*f.file).unwrap_or(0) as u32,
                };
                last = Some((&f.file, rank));
                for u in &f.units {
                    let entry = Entry {
                        file: &f.file,
                        func: &f.name,
                        lit: f.lit,
                        unit: *u,
                        count: *counts.next().unwrap_or(&0),
                    };
                    entries.push((rank, entry));
                }
            }
        }
        entries.sort_unstable_by(|(ra, a), (rb, b)| {
            ra.cmp(rb)
                .then_with(|| a.unit.profile_key().cmp(&b.unit.profile_key()))
                .then_with(|| a.func.cmp(b.func))
                .then_with(|| a.lit.cmp(&b.lit))
        });
        // Equal keys are now adjacent: fold them the way Go's formatter accumulates.
        let mut out: Vec<Entry<'a>> = Vec::with_capacity(entries.len());
        for (_, e) in entries {
            match out.last_mut() {
                Some(last)
                    if last.file == e.file
                        && last.unit == e.unit
                        && last.func == e.func
                        && last.lit == e.lit =>
                {
                    let mut c = [last.count];
                    merge_counters(self.mode, &mut c, &[e.count]);
                    last.count = c[0];
                }
                _ => out.push(e),
            }
        }
        out
    }

    /// (covered, total) statements of one package.
    fn package_totals(&self, variants: &[Variant<'a>]) -> (u64, u64) {
        let sum = |entries: &mut dyn Iterator<Item = (u32, u32)>| {
            entries.fold((0u64, 0u64), |(cov, tot), (stmts, count)| {
                let s = u64::from(stmts);
                (cov + if count != 0 { s } else { 0 }, tot + s)
            })
        };
        if let [only] = variants {
            // A single layout cannot repeat a key (Go's cover tool keeps unit positions
            // unique), so no keyed de-duplication is needed.
            let units = only.pkg.functions.iter().flat_map(|f| &f.units);
            sum(&mut units.zip(&only.counts).map(|(u, &c)| (u.stmts, c)))
        } else {
            let entries = self.sorted_entries(variants);
            sum(&mut entries.iter().map(|e| (e.unit.stmts, e.count)))
        }
    }

    /// Writes the legacy text profile (`textfmt`).
    pub fn write_textfmt(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "mode: {}", self.mode)?;
        let blocks: Vec<Vec<u8>> = self
            .packages
            .par_iter()
            .map(|(_, variants)| {
                let entries = self.sorted_entries(variants);
                let mut buf = Vec::with_capacity(entries.len() * 48);
                for e in entries {
                    let u = e.unit;
                    buf.extend_from_slice(e.file.as_bytes());
                    for (sep, v) in [
                        (b':', u.start_line),
                        (b'.', u.start_col),
                        (b',', u.end_line),
                        (b'.', u.end_col),
                        (b' ', u.stmts),
                        (b' ', e.count),
                    ] {
                        buf.push(sep);
                        push_decimal(&mut buf, v);
                    }
                    buf.push(b'\n');
                }
                buf
            })
            .collect();
        for b in blocks {
            w.write_all(&b)?;
        }
        Ok(())
    }

    /// Writes `percent`: one line per package; a package without statements prints
    /// its name and two tabs with no newline, as Go does.
    pub fn write_percent(&self, w: &mut dyn Write) -> io::Result<()> {
        let totals: Vec<(u64, u64)> = self
            .packages
            .par_iter()
            .map(|(_, v)| self.package_totals(v))
            .collect();
        for ((path, _), (cov, tot)) in self.packages.iter().zip(totals) {
            write!(w, "\t{path}\t\t")?;
            if tot != 0 {
                writeln!(w, "coverage: {}% of statements", percent_1dp(cov, tot))?;
            }
        }
        Ok(())
    }

    /// Writes `func`: per-function percentages through a `text/tabwriter` emulation.
    pub fn write_func(&self, w: &mut dyn Write) -> io::Result<()> {
        let per_pkg: Vec<(Vec<[String; 3]>, u64, u64)> = self
            .packages
            .par_iter()
            .map(|(_, variants)| func_rows(&self.sorted_entries(variants)))
            .collect();
        let mut rows = Vec::new();
        let (mut all, mut cov) = (0u64, 0u64);
        for (r, c, t) in per_pkg {
            rows.extend(r);
            cov += c;
            all += t;
        }
        rows.push([
            "total".to_owned(),
            "(statements)".to_owned(),
            format!("{}%", percent_1dp(cov, all)),
        ]);
        write_tabbed(w, &rows)
    }
}

/// Appends `v` in decimal.
fn push_decimal(buf: &mut Vec<u8>, mut v: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Walks sorted units; a new function starts whenever the name changes (Go compares
/// names only, so adjacent same-name functions merge). Literals print no line but
/// count towards the totals.
fn func_rows(entries: &[Entry<'_>]) -> (Vec<[String; 3]>, u64, u64) {
    let mut rows = Vec::new();
    let (mut all, mut all_cov) = (0u64, 0u64);
    let mut i = 0;
    while i < entries.len() {
        let first = entries[i];
        let (mut tot, mut cov) = (0u64, 0u64);
        while i < entries.len() && entries[i].func == first.func {
            let s = u64::from(entries[i].unit.stmts);
            tot += s;
            if entries[i].count != 0 {
                cov += s;
            }
            i += 1;
        }
        if !first.lit {
            rows.push([
                format!("{}:{}:", first.file, first.unit.start_line),
                first.func.to_owned(),
                format!("{}%", percent_1dp(cov, tot)),
            ]);
        }
        all += tot;
        all_cov += cov;
    }
    (rows, all_cov, all)
}

/// `text/tabwriter` with minwidth 1, tabwidth 8, padding 1 and tab padding, for rows
/// of two tab-terminated cells and a trailing cell.
fn write_tabbed(w: &mut dyn Write, rows: &[[String; 3]]) -> io::Result<()> {
    let width = |s: &str| s.chars().count();
    let col = |k: usize| {
        let max = rows.iter().map(|r| width(&r[k]) + 1).max().unwrap_or(1);
        max.div_ceil(8) * 8
    };
    let (c0, c1) = (col(0), col(1));
    let mut out = io::BufWriter::new(w);
    for r in rows {
        out.write_all(r[0].as_bytes())?;
        out.write_all(&b"\t".repeat((c0 - width(&r[0])).div_ceil(8)))?;
        out.write_all(r[1].as_bytes())?;
        out.write_all(&b"\t".repeat((c1 - width(&r[1])).div_ceil(8)))?;
        out.write_all(r[2].as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_formatting() {
        let mut b = Vec::new();
        for v in [0, 7, 10, 4294967295] {
            push_decimal(&mut b, v);
            b.push(b' ');
        }
        assert_eq!(b, b"0 7 10 4294967295 ");
    }

    #[test]
    fn tabwriter_emulation_matches_go_examples() {
        let rows = vec![
            ["p.go:10:".to_owned(), "f1".to_owned(), "33.3%".to_owned()],
            [
                "total".to_owned(),
                "(statements)".to_owned(),
                "62.5%".to_owned(),
            ],
        ];
        let mut out = Vec::new();
        write_tabbed(&mut out, &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "p.go:10:\tf1\t\t33.3%\ntotal\t\t(statements)\t62.5%\n"
        );
    }
}
