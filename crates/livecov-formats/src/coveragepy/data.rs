//! The in-memory form of coverage.py data: executed lines or arcs per (file, context).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::numbits::Numbits;

/// One arc: (from line, to line). A negative number `-N` is the entry to (as `from`) or
/// the exit from (as `to`) the code object whose first line is `N` (spec §1.5).
pub type Arc = (i32, i32);

/// What a data file measured: `meta.has_arcs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Measurement {
    /// No `has_arcs` row: nothing was recorded yet (coverage.py reads no lines or arcs).
    #[default]
    Unknown,
    /// Line (statement) mode, `has_arcs = '0'`: the `line_bits` table.
    Lines,
    /// Branch mode, `has_arcs = '1'`: the `arc` table.
    Arcs,
}

/// The data of one measured source file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileData {
    tracer: Option<String>,
    lines: BTreeMap<u32, Numbits>,
    arcs: BTreeMap<u32, ArcList>,
    /// Where coverage.py would first see this path: (input index, `file.id`). Combining
    /// maps paths in this order, as coverage.py does (see `PathAliases`).
    pub(crate) order: (u32, i64),
}

impl FileData {
    /// The plugin file tracer that measured the file (`tracer` table); `None` for
    /// coverage.py's own Python tracer.
    pub fn tracer(&self) -> Option<&str> {
        self.tracer.as_deref().filter(|t| !t.is_empty())
    }

    /// Executed lines per context id (an index into [`CoverageData::contexts`]), in
    /// line mode.
    pub fn lines_by_context(&self) -> impl Iterator<Item = (u32, &Numbits)> {
        self.lines.iter().map(|(&c, n)| (c, n))
    }

    /// Arcs per context id, each list sorted and without duplicates, in branch mode.
    pub fn arcs_by_context(&self) -> impl Iterator<Item = (u32, &[Arc])> {
        self.arcs.iter().map(|(&c, a)| (c, a.items.as_slice()))
    }

    /// True when the file has line or arc rows (a "touched" file has none).
    pub fn has_measurements(&self) -> bool {
        !self.lines.is_empty() || !self.arcs.is_empty()
    }

    pub(crate) fn set_tracer(&mut self, tracer: String) {
        self.tracer = Some(tracer);
    }

    pub(crate) fn add_numbits(&mut self, context: u32, numbits: &Numbits) {
        self.lines.entry(context).or_default().union_with(numbits);
    }

    pub(crate) fn add_arcs(&mut self, context: u32, arcs: &[Arc]) {
        self.arcs.entry(context).or_default().add(arcs);
    }

    fn normalize(&mut self) {
        for list in self.arcs.values_mut() {
            list.normalize();
        }
    }
}

/// A set of arcs. Outside merging, `items` is sorted and unique. While merging it is
/// in no order: the first list added is taken as it is (one data file's rows for a
/// (file, context) are unique already), and from the second on every arc goes through
/// a hash set, so combining a thousand inputs costs one hash probe per row and one sort
/// per list at the end, not a sort per input (bench/README.md, "Issue 10").
///
/// Inputs of one service mostly record the same arcs for a file, written in the same
/// order; an added list equal to the first one taken (`items[..first]`, arcs all in the
/// set) adds nothing and is skipped after one comparison, without hashing.
#[derive(Clone, Debug, Default)]
struct ArcList {
    items: Vec<Arc>,
    /// `items[..first]` is a list once added as it was (see above).
    first: usize,
    /// The arcs in `items`, once a second list was added; empty otherwise.
    seen: HashSet<Arc, BuildHasherDefault<ArcHasher>>,
    /// Whether `items` is sorted and unique.
    sorted: bool,
}

impl PartialEq for ArcList {
    fn eq(&self, other: &ArcList) -> bool {
        self.items == other.items
    }
}

impl Eq for ArcList {}

impl ArcList {
    fn add(&mut self, arcs: &[Arc]) {
        if self.items.is_empty() {
            self.items.extend_from_slice(arcs);
            self.first = arcs.len();
            self.sorted = arcs.len() <= 1;
            return;
        }
        if arcs == &self.items[..self.first] {
            return;
        }
        if self.seen.is_empty() {
            // A second list: index the first, dropping any duplicates it had.
            self.seen.reserve(self.items.len() + arcs.len());
            let seen = &mut self.seen;
            let before = self.items.len();
            self.items.retain(|&a| seen.insert(a));
            if self.items.len() != before {
                // Duplicates dropped: the first list is no longer a prefix as it was.
                self.first = 0;
            }
        }
        for &a in arcs {
            if self.seen.insert(a) {
                self.items.push(a);
            }
        }
        self.sorted = false;
    }

    /// [`ArcList::add`], taking `other` as it is when this list is empty.
    fn add_list(&mut self, other: ArcList) {
        if self.items.is_empty() {
            *self = other;
        } else {
            self.add(&other.items);
        }
    }

    fn normalize(&mut self) {
        self.seen = HashSet::default();
        if !self.sorted {
            self.items.sort_unstable();
            self.items.dedup();
            self.sorted = true;
        }
        self.first = self.items.len();
    }
}

/// A multiplicative hash for arcs (two small integers): the default SipHash costs more
/// than the rest of a row's combining; hash flooding is no concern for line numbers a
/// data file holds (a crafted file can only slow its own combine down).
#[derive(Default)]
struct ArcHasher(u64);

impl Hasher for ArcHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_i32(&mut self, n: i32) {
        self.write_u64(u64::from(n as u32));
    }

    fn write_u64(&mut self, n: u64) {
        // FxHash's step (rustc's hasher).
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Why two [`CoverageData`] values cannot be merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeConflict {
    /// One holds lines and the other arcs.
    Measurement {
        /// What the receiving side measured.
        ours: Measurement,
        /// What the other side measured.
        theirs: Measurement,
    },
    /// The two name different plugin tracers for a file that both measured.
    Tracer {
        /// The file.
        file: String,
        /// The receiving side's tracer (`""` for coverage.py's own).
        ours: String,
        /// The other side's tracer.
        theirs: String,
    },
}

/// coverage.py data: measured files with their lines or arcs per context, and the context
/// labels. Paths are sorted; context ids are local to this value (merging matches
/// contexts by label, as coverage.py does).
#[derive(Clone, Debug, Default)]
pub struct CoverageData {
    measurement: Measurement,
    contexts: Vec<String>,
    context_ids: HashMap<String, u32>,
    files: BTreeMap<String, FileData>,
}

impl CoverageData {
    /// No data, measurement unknown.
    pub fn new() -> CoverageData {
        CoverageData::default()
    }

    /// Lines, arcs, or nothing recorded yet.
    pub fn measurement(&self) -> Measurement {
        self.measurement
    }

    /// The context labels, indexed by context id. The default context is `""`.
    pub fn contexts(&self) -> &[String] {
        &self.contexts
    }

    /// The measured files (touched files with no data included), sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &FileData)> {
        self.files.iter().map(|(p, f)| (p.as_str(), f))
    }

    /// The data of one file, by its path as stored (after any remapping).
    pub fn file(&self, path: &str) -> Option<&FileData> {
        self.files.get(path)
    }

    /// The executed lines of `path` over every context, sorted: the union of its numbits
    /// in line mode, the positive ends of its arcs in branch mode (as coverage.py's
    /// `CoverageData.lines`). `None` when the file is not measured.
    pub fn lines(&self, path: &str) -> Option<Vec<u32>> {
        let file = self.files.get(path)?;
        let mut out = BTreeSet::new();
        match self.measurement {
            Measurement::Arcs => {
                for arcs in file.arcs.values() {
                    for &(from, to) in &arcs.items {
                        out.extend([from, to].into_iter().filter(|&n| n > 0).map(|n| n as u32));
                    }
                }
            }
            _ => {
                let mut all = Numbits::new();
                for n in file.lines.values() {
                    all.union_with(n);
                }
                return Some(all.to_nums());
            }
        }
        Some(out.into_iter().collect())
    }

    /// The arcs of `path` over every context, sorted. `None` when the file is not
    /// measured or the data is not branch data.
    pub fn arcs(&self, path: &str) -> Option<Vec<Arc>> {
        if self.measurement != Measurement::Arcs {
            return None;
        }
        let file = self.files.get(path)?;
        let mut out = BTreeSet::new();
        for arcs in file.arcs.values() {
            out.extend(arcs.items.iter().copied());
        }
        Some(out.into_iter().collect())
    }

    /// For each executed line of `path`, the sorted labels of the contexts that executed
    /// it (coverage.py's `contexts_by_lineno`; in branch mode, both positive ends of
    /// each arc count).
    pub fn contexts_by_line(&self, path: &str) -> BTreeMap<u32, Vec<String>> {
        let mut by_line: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
        if let Some(file) = self.files.get(path) {
            for (&ctx, numbits) in &file.lines {
                for line in numbits.iter() {
                    by_line.entry(line).or_default().insert(self.label(ctx));
                }
            }
            for (&ctx, arcs) in &file.arcs {
                for &(from, to) in &arcs.items {
                    for n in [from, to].into_iter().filter(|&n| n > 0) {
                        by_line.entry(n as u32).or_default().insert(self.label(ctx));
                    }
                }
            }
        }
        by_line
            .into_iter()
            .map(|(line, labels)| (line, labels.into_iter().map(str::to_owned).collect()))
            .collect()
    }

    fn label(&self, ctx: u32) -> &str {
        self.contexts.get(ctx as usize).map_or("", String::as_str)
    }

    /// Adds `other` into `self`: files matched by path, contexts by label, lines and arcs
    /// unioned, tracers adopted (coverage.py's `CoverageData.update` without path
    /// mapping). On a conflict `self` is left unchanged.
    pub fn update(&mut self, other: CoverageData) -> Result<(), MergeConflict> {
        self.check_update(&other)?;
        self.merge_collecting(other, &mut Vec::new());
        self.normalize();
        Ok(())
    }

    /// Merges `other` whatever its measurement, recording tracer conflicts (the receiving
    /// side's tracer is kept) instead of stopping at the first.
    pub(crate) fn merge_collecting(
        &mut self,
        other: CoverageData,
        conflicts: &mut Vec<MergeConflict>,
    ) {
        if self.measurement == Measurement::Unknown {
            self.measurement = other.measurement;
        }
        let remap: Vec<u32> = other
            .contexts
            .iter()
            .map(|label| self.intern_context(label))
            .collect();
        for (path, theirs) in other.files {
            if let Some(mine) = self.files.get(&path) {
                if let Err(conflict) = tracer_conflict(&path, mine, &theirs) {
                    conflicts.push(conflict);
                }
            }
            self.absorb_file(path, theirs, &remap);
        }
    }

    fn check_update(&self, other: &CoverageData) -> Result<(), MergeConflict> {
        let (ours, theirs) = (self.measurement, other.measurement);
        if ours != Measurement::Unknown && theirs != Measurement::Unknown && ours != theirs {
            return Err(MergeConflict::Measurement { ours, theirs });
        }
        for (path, their_file) in &other.files {
            if let Some(our_file) = self.files.get(path) {
                tracer_conflict(path, our_file, their_file)?;
            }
        }
        Ok(())
    }

    /// Merges one file's data, its context ids translated through `remap`.
    pub(crate) fn absorb_file(&mut self, path: String, theirs: FileData, remap: &[u32]) {
        let mine = self.files.entry(path).or_insert_with(|| FileData {
            order: theirs.order,
            ..FileData::default()
        });
        mine.order = mine.order.min(theirs.order);
        if mine.tracer().is_none() && theirs.tracer.is_some() {
            mine.tracer = theirs.tracer;
        }
        for (ctx, numbits) in theirs.lines {
            mine.add_numbits(remap[ctx as usize], &numbits);
        }
        for (ctx, arcs) in theirs.arcs {
            mine.arcs
                .entry(remap[ctx as usize])
                .or_default()
                .add_list(arcs);
        }
    }

    /// Sorts and deduplicates every arc list; the state every public entry point leaves.
    pub(crate) fn normalize(&mut self) {
        for file in self.files.values_mut() {
            file.normalize();
        }
    }

    pub(crate) fn set_measurement(&mut self, measurement: Measurement) {
        self.measurement = measurement;
    }

    pub(crate) fn intern_context(&mut self, label: &str) -> u32 {
        if let Some(&id) = self.context_ids.get(label) {
            return id;
        }
        let id = self.contexts.len() as u32;
        self.contexts.push(label.to_owned());
        self.context_ids.insert(label.to_owned(), id);
        id
    }

    pub(crate) fn file_mut(&mut self, path: String, order: (u32, i64)) -> &mut FileData {
        self.files.entry(path).or_insert_with(|| FileData {
            order,
            ..FileData::default()
        })
    }

    pub(crate) fn into_parts(self) -> (Measurement, Vec<String>, BTreeMap<String, FileData>) {
        (self.measurement, self.contexts, self.files)
    }
}

/// coverage.py's rule: tracers must agree, except that a file one side measured nothing
/// for (touched only) and with no tracer makes no claim.
pub(crate) fn tracer_conflict(
    path: &str,
    ours: &FileData,
    theirs: &FileData,
) -> Result<(), MergeConflict> {
    let (a, b) = (ours.tracer().unwrap_or(""), theirs.tracer().unwrap_or(""));
    if a == b
        || (a.is_empty() && !ours.has_measurements())
        || (b.is_empty() && !theirs.has_measurements())
    {
        return Ok(());
    }
    Err(MergeConflict::Tracer {
        file: path.to_owned(),
        ours: a.to_owned(),
        theirs: b.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(paths: &[(&str, &str, &[u32])]) -> CoverageData {
        let mut data = CoverageData::new();
        data.set_measurement(Measurement::Lines);
        for (i, (path, ctx, nums)) in paths.iter().enumerate() {
            let ctx = data.intern_context(ctx);
            data.file_mut(path.to_string(), (0, i as i64))
                .add_numbits(ctx, &Numbits::from_nums(nums.iter().copied()));
        }
        data
    }

    #[test]
    fn update_unions_lines_and_matches_contexts_by_label() {
        let mut a = lines(&[("a.py", "", &[1, 2]), ("a.py", "t1", &[3])]);
        let b = lines(&[("a.py", "t1", &[4]), ("b.py", "", &[9])]);
        a.update(b).unwrap();
        assert_eq!(a.lines("a.py").unwrap(), [1, 2, 3, 4]);
        assert_eq!(a.lines("b.py").unwrap(), [9]);
        assert_eq!(a.contexts(), ["", "t1"]);
        let by_line = a.contexts_by_line("a.py");
        assert_eq!(by_line[&4], ["t1"]);
        assert_eq!(by_line[&1], [""]);
    }

    #[test]
    fn update_refuses_lines_into_arcs() {
        let mut a = CoverageData::new();
        a.set_measurement(Measurement::Arcs);
        let err = a.update(lines(&[("a.py", "", &[1])])).unwrap_err();
        assert_eq!(
            err,
            MergeConflict::Measurement {
                ours: Measurement::Arcs,
                theirs: Measurement::Lines
            }
        );
        // Unknown (nothing recorded) combines with either.
        a.update(CoverageData::new()).unwrap();
    }

    #[test]
    fn arcs_union_and_derived_lines() {
        let mut data = CoverageData::new();
        data.set_measurement(Measurement::Arcs);
        let c = data.intern_context("");
        let f = data.file_mut("m.py".into(), (0, 1));
        f.add_arcs(c, &[(-1, 1), (1, 2), (2, -1)]);
        f.add_arcs(c, &[(1, 3), (1, 2), (3, -1)]);
        data.normalize();
        assert_eq!(
            data.arcs("m.py").unwrap(),
            [(-1, 1), (1, 2), (1, 3), (2, -1), (3, -1)]
        );
        assert_eq!(data.lines("m.py").unwrap(), [1, 2, 3]);
    }

    #[test]
    fn arc_lists_union_whatever_the_order_and_repeats() {
        let mut list = ArcList::default();
        list.add(&[(3, 4), (1, 2), (3, 4)]);
        list.add(&[(3, 4), (1, 2), (3, 4)]);
        list.add(&[(5, 6), (1, 2)]);
        list.add(&[(3, 4), (1, 2), (3, 4)]);
        let mut other = ArcList::default();
        other.add(&[(7, 8)]);
        other.add(&[(9, -1), (7, 8)]);
        list.add_list(other);
        list.normalize();
        assert_eq!(list.items, [(1, 2), (3, 4), (5, 6), (7, 8), (9, -1)]);
        list.add(&[(1, 2), (3, 4), (5, 6), (7, 8), (9, -1)]);
        list.add(&[(0, 1)]);
        list.normalize();
        assert_eq!(
            list.items,
            [(0, 1), (1, 2), (3, 4), (5, 6), (7, 8), (9, -1)]
        );
        let mut empty = ArcList::default();
        empty.add_list(list.clone());
        assert_eq!(empty, list);
    }

    #[test]
    fn tracer_conflict_only_when_both_measured() {
        let mut with_tracer = FileData::default();
        with_tracer.set_tracer("django".into());
        with_tracer.add_numbits(0, &Numbits::from_nums([1]));
        let touched = FileData::default();
        assert!(tracer_conflict("t.html", &touched, &with_tracer).is_ok());
        let mut measured = FileData::default();
        measured.add_numbits(0, &Numbits::from_nums([2]));
        assert!(tracer_conflict("t.html", &measured, &with_tracer).is_err());
    }
}
