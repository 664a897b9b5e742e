//! A profile: counts per unit after merging snapshots, keyed by file and position rather
//! than by a layout's counter order, so profiles of different builds (an owner's, a
//! repo@commit's, a whole collection's) and of different producers (Go, coverage.py, LCOV)
//! merge into one.
//!
//! Two units are the same when they sit at the same position of the same file; they must
//! then agree on their statement count, or they come from different versions of the file
//! and cannot be merged. A profile never holds two units at one position, so whatever it
//! holds can be written out in any format and read back unchanged.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::{CounterMode, Layout, MergeOutcome, MergeRule, Unit};

/// Why a unit could not be added or a profile merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileError {
    /// The file name is empty or holds a line break, which no profile format can carry.
    BadFileName {
        /// The rejected name.
        file: String,
    },
    /// A unit at this position already has another statement count.
    InconsistentStmts {
        /// The file.
        file: String,
        /// The unit being added.
        unit: Unit,
        /// The statement count already there.
        previous: u32,
    },
    /// The two profiles count in different modes.
    ModeMismatch {
        /// This profile's mode.
        ours: CounterMode,
        /// The other profile's.
        theirs: CounterMode,
    },
    /// A counter vector does not match its layout.
    CounterCount {
        /// Units in the layout.
        units: usize,
        /// Counters given.
        counters: usize,
    },
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileError::BadFileName { file } => write!(
                f,
                "file name {file:?} cannot appear in a profile: it is empty or has a line break"
            ),
            ProfileError::InconsistentStmts {
                file,
                unit,
                previous,
            } => write!(
                f,
                "inconsistent statement count for {file}:{}.{},{}.{}: {previous} statements \
                 before, {} now; the profiles were built from different sources of this file",
                unit.start_line, unit.start_col, unit.end_line, unit.end_col, unit.stmts
            ),
            ProfileError::ModeMismatch { ours, theirs } => write!(
                f,
                "cannot merge a {theirs}-mode profile into a {ours}-mode one: \
                 their counts mean different things"
            ),
            ProfileError::CounterCount { units, counters } => {
                write!(f, "{counters} counters for a layout of {units} units")
            }
        }
    }
}

impl std::error::Error for ProfileError {}

/// One unit of a [`Profile`] with its count, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// File name as the producer spells it.
    pub file: &'a str,
    /// Position and statement count.
    pub unit: Unit,
    /// Execution count (0 or 1 in set mode).
    pub count: u32,
}

/// Statements and units of a file or a whole profile, and how many of them ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Statements in all units.
    pub statements: u64,
    /// Statements in units that ran at least once.
    pub covered: u64,
    /// Units.
    pub units: u64,
    /// Units that ran at least once.
    pub units_hit: u64,
}

impl Totals {
    fn add(&mut self, unit: &Unit, count: u32) {
        self.statements += u64::from(unit.stmts);
        self.units += 1;
        if count > 0 {
            self.covered += u64::from(unit.stmts);
            self.units_hit += 1;
        }
    }

    /// `covered / statements` as a percentage, 0 for no statements.
    pub fn percent(&self) -> f64 {
        if self.statements == 0 {
            0.0
        } else {
            100.0 * self.covered as f64 / self.statements as f64
        }
    }
}

/// A mode and the counted units of each file, with units at one position merged.
///
/// Files keep the order in which they were first seen, which is deterministic and lets a
/// profile read from a file be written back unchanged; [`Profile::sort_files_by`]
/// reorders them. Units within a file are always in (start line, end line, start column,
/// end column) order, the order Go's text profiles use.
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    mode: CounterMode,
    files: Vec<FileUnits>,
    /// File name to its position in `files`: profiles have thousands of files.
    index: HashMap<String, usize>,
}

// The index is left out: it repeats `files`, and a hash map prints in no fixed order.
impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("mode", &self.mode)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FileUnits {
    name: String,
    /// Keyed by [`pos_key`], so iteration is in position order and lookups find repeats.
    units: BTreeMap<PosKey, Counted>,
}

/// (start line, end line, start col, end col): the position part of [`Unit::profile_key`].
type PosKey = (u32, u32, u32, u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counted {
    stmts: u32,
    count: u32,
}

fn pos_key(unit: &Unit) -> PosKey {
    let (sl, el, sc, ec, _stmts) = unit.profile_key();
    (sl, el, sc, ec)
}

fn unit_of(key: PosKey, stmts: u32) -> Unit {
    let (start_line, end_line, start_col, end_col) = key;
    Unit {
        start_line,
        start_col,
        end_line,
        end_col,
        stmts,
    }
}

impl Profile {
    /// An empty profile.
    pub fn new(mode: CounterMode) -> Profile {
        Profile {
            mode,
            files: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The profile of one build: `counters[k]` is the count of the layout's unit `k`.
    ///
    /// Files come in the layout's order. Units of one layout at one position (Go emits
    /// none, but nothing stops a producer) are merged with the layout mode's own rule.
    pub fn from_layout(layout: &Layout, counters: &[u32]) -> Result<Profile, ProfileError> {
        if counters.len() != layout.units.len() {
            return Err(ProfileError::CounterCount {
                units: layout.units.len(),
                counters: counters.len(),
            });
        }
        let mut profile = Profile::new(layout.mode);
        let rule = MergeRule::Sum;
        for f in 0..layout.functions.len() {
            let file = &layout.file_of(f).path;
            for k in layout.function_units(f) {
                profile.add_with(file, layout.units[k], counters[k], rule)?;
            }
        }
        Ok(profile)
    }

    /// The counter mode every unit was counted in.
    pub fn mode(&self) -> CounterMode {
        self.mode
    }

    /// Number of units (after merging repeats).
    pub fn len(&self) -> usize {
        self.files.iter().map(|f| f.units.len()).sum()
    }

    /// Reads the counters as plain counts ([`CounterMode::Count`]): a set-mode 0 or 1
    /// stays 0 or 1 (the unit ran or not, as coverage.py's own LCOV and Cobertura write a
    /// line that ran), an atomic count is a count. For line formats that take profiles
    /// of several modes at once; Go's text format keeps one mode and must not use it.
    pub fn read_as_counts(&mut self) {
        self.mode = CounterMode::Count;
    }

    /// True when the profile has no units.
    pub fn is_empty(&self) -> bool {
        self.files.iter().all(|f| f.units.is_empty())
    }

    /// File names in profile order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|f| f.name.as_str())
    }

    /// All units: files in profile order, units of a file in position order.
    pub fn blocks(&self) -> impl Iterator<Item = Block<'_>> {
        self.files.iter().flat_map(|f| {
            f.units.iter().map(move |(&key, c)| Block {
                file: &f.name,
                unit: unit_of(key, c.stmts),
                count: c.count,
            })
        })
    }

    /// The units of one file in position order; empty when the profile does not have it.
    pub fn file_blocks<'a>(&'a self, file: &str) -> impl Iterator<Item = Block<'a>> {
        let found = self.index.get(file).map(|&i| &self.files[i]);
        found.into_iter().flat_map(|f| {
            f.units.iter().map(move |(&key, c)| Block {
                file: &f.name,
                unit: unit_of(key, c.stmts),
                count: c.count,
            })
        })
    }

    /// Statements and units of the whole profile.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for b in self.blocks() {
            t.add(&b.unit, b.count);
        }
        t
    }

    /// Statements and units of each file, in profile order.
    pub fn file_totals(&self) -> Vec<(&str, Totals)> {
        self.files
            .iter()
            .map(|f| {
                let mut t = Totals::default();
                for (&key, c) in &f.units {
                    t.add(&unit_of(key, c.stmts), c.count);
                }
                (f.name.as_str(), t)
            })
            .collect()
    }

    /// Per executable line of `file`, the highest count of the units with statements that
    /// span it, in line order: the line view LCOV, Cobertura and coverage.py report.
    pub fn line_hits(&self, file: &str) -> Vec<(u32, u32)> {
        // A vector sorted once, not a map: diff coverage takes the line view of every file
        // of a 2-million-statement profile for its total.
        let mut lines: Vec<(u32, u32)> = Vec::new();
        for b in self.file_blocks(file) {
            if b.unit.stmts == 0 {
                continue;
            }
            let lines_of = b.unit.start_line..=b.unit.end_line.max(b.unit.start_line);
            lines.extend(lines_of.map(|line| (line, b.count)));
        }
        lines.sort_unstable_by_key(|&(line, _)| line);
        lines.dedup_by(|next, kept| {
            let same = next.0 == kept.0;
            if same {
                kept.1 = kept.1.max(next.1);
            }
            same
        });
        lines
    }

    /// Adds one unit, merging it with a unit already at the same position by the mode's
    /// own rule (set: OR; otherwise a sum saturating at `u32::MAX`; the outcome says
    /// whether it saturated).
    ///
    /// Fails, leaving the profile unchanged, when the file name is empty or has a line
    /// break, or when a unit at that position has another statement count.
    pub fn add(
        &mut self,
        file: &str,
        unit: Unit,
        count: u32,
    ) -> Result<MergeOutcome, ProfileError> {
        self.add_with(file, unit, count, MergeRule::Sum)
    }

    /// [`Profile::add`] with an explicit merge rule.
    pub fn add_with(
        &mut self,
        file: &str,
        unit: Unit,
        count: u32,
        rule: MergeRule,
    ) -> Result<MergeOutcome, ProfileError> {
        if file.is_empty() || file.contains('\n') || file.contains('\r') {
            return Err(ProfileError::BadFileName {
                file: file.to_owned(),
            });
        }
        let mode = self.mode;
        let i = self.file_slot(file);
        let units = &mut self.files[i].units;
        match units.get_mut(&pos_key(&unit)) {
            Some(c) if c.stmts != unit.stmts => Err(ProfileError::InconsistentStmts {
                file: file.to_owned(),
                unit,
                previous: c.stmts,
            }),
            Some(c) => Ok(MergeOutcome {
                overflowed: rule.merge_one(mode, &mut c.count, count),
            }),
            None => {
                units.insert(
                    pos_key(&unit),
                    Counted {
                        stmts: unit.stmts,
                        count,
                    },
                );
                Ok(MergeOutcome::default())
            }
        }
    }

    /// Merges every unit of `other` into this profile, by the rules of [`Profile::add`].
    pub fn merge(&mut self, other: &Profile) -> Result<MergeOutcome, ProfileError> {
        self.merge_with(other, MergeRule::Sum)
    }

    /// Merges every unit of `other` into this profile with `rule`.
    ///
    /// Fails, leaving this profile unchanged, when the modes differ or when any unit of
    /// `other` conflicts with one here; the modes must match because a set-mode 1 and a
    /// count-mode 1 do not mean the same thing.
    pub fn merge_with(
        &mut self,
        other: &Profile,
        rule: MergeRule,
    ) -> Result<MergeOutcome, ProfileError> {
        if self.mode != other.mode {
            return Err(ProfileError::ModeMismatch {
                ours: self.mode,
                theirs: other.mode,
            });
        }
        // Check everything first so a conflict cannot leave a half-merged profile behind.
        for b in other.blocks() {
            if let Some(previous) = self.stmts_at(b.file, &b.unit) {
                if previous != b.unit.stmts {
                    return Err(ProfileError::InconsistentStmts {
                        file: b.file.to_owned(),
                        unit: b.unit,
                        previous,
                    });
                }
            }
        }
        let mut outcome = MergeOutcome::default();
        for b in other.blocks() {
            // Cannot fail: checked above, and `other` holds no bad names or repeats.
            if let Ok(o) = self.add_with(b.file, b.unit, b.count, rule) {
                outcome.overflowed |= o.overflowed;
            }
        }
        Ok(outcome)
    }

    /// Reorders the files by `cmp` on their names (a stable sort).
    pub fn sort_files_by(&mut self, mut cmp: impl FnMut(&str, &str) -> Ordering) {
        self.files.sort_by(|a, b| cmp(&a.name, &b.name));
        self.index = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
    }

    fn stmts_at(&self, file: &str, unit: &Unit) -> Option<u32> {
        let &i = self.index.get(file)?;
        self.files[i].units.get(&pos_key(unit)).map(|c| c.stmts)
    }

    fn file_slot(&mut self, file: &str) -> usize {
        if let Some(&i) = self.index.get(file) {
            return i;
        }
        self.files.push(FileUnits {
            name: file.to_owned(),
            units: BTreeMap::new(),
        });
        self.index.insert(file.to_owned(), self.files.len() - 1);
        self.files.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LayoutFile, LayoutFunction};

    fn unit(sl: u32, sc: u32, el: u32, ec: u32, stmts: u32) -> Unit {
        Unit {
            start_line: sl,
            start_col: sc,
            end_line: el,
            end_col: ec,
            stmts,
        }
    }

    fn layout() -> Layout {
        Layout {
            mode: CounterMode::Count,
            packages: vec!["example.com/p".into()],
            files: vec![
                LayoutFile {
                    path: "example.com/p/a.go".into(),
                    package: 0,
                },
                LayoutFile {
                    path: "example.com/p/b.go".into(),
                    package: 0,
                },
            ],
            functions: vec![
                LayoutFunction {
                    name: "A".into(),
                    file: 0,
                    first_unit: 0,
                },
                LayoutFunction {
                    name: "B".into(),
                    file: 1,
                    first_unit: 2,
                },
            ],
            units: vec![
                unit(3, 10, 5, 2, 2),
                unit(5, 2, 7, 3, 1),
                unit(1, 1, 1, 20, 3),
            ],
        }
    }

    #[test]
    fn from_layout_keys_counters_by_file_and_position() {
        let p = Profile::from_layout(&layout(), &[4, 0, 1]).unwrap();
        assert_eq!(
            p.files().collect::<Vec<_>>(),
            ["example.com/p/a.go", "example.com/p/b.go"]
        );
        let a: Vec<_> = p.file_blocks("example.com/p/a.go").collect();
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].unit, a[0].count), (unit(3, 10, 5, 2, 2), 4));
        assert_eq!(
            p.totals(),
            Totals {
                statements: 6,
                covered: 5,
                units: 3,
                units_hit: 2
            }
        );
        let per_file = p.file_totals();
        assert_eq!(per_file[0].1.covered, 2);
        assert_eq!(per_file[1].1.covered, 3);
        assert_eq!(format!("{:.1}", p.totals().percent()), "83.3");
    }

    #[test]
    fn from_layout_refuses_a_counter_vector_of_another_length() {
        let e = Profile::from_layout(&layout(), &[1, 2]).unwrap_err();
        assert_eq!(e.to_string(), "2 counters for a layout of 3 units");
    }

    #[test]
    fn line_hits_take_the_highest_unit_and_skip_empty_units() {
        let mut p = Profile::new(CounterMode::Count);
        p.add("f.go", unit(3, 10, 5, 2, 2), 4).unwrap();
        p.add("f.go", unit(5, 2, 7, 3, 1), 0).unwrap();
        p.add("f.go", unit(9, 1, 9, 2, 0), 7).unwrap();
        assert_eq!(
            p.line_hits("f.go"),
            [(3, 4), (4, 4), (5, 4), (6, 0), (7, 0)]
        );
        assert!(p.line_hits("missing.go").is_empty());
    }

    #[test]
    fn merge_with_applies_the_rule_and_checks_first() {
        let mut a = Profile::new(CounterMode::Count);
        a.add("f.go", unit(1, 1, 2, 2, 1), 3).unwrap();
        let mut b = Profile::new(CounterMode::Count);
        b.add("f.go", unit(1, 1, 2, 2, 1), 5).unwrap();
        b.add("g.go", unit(1, 1, 2, 2, 1), 1).unwrap();

        let mut max = a.clone();
        max.merge_with(&b, MergeRule::Max).unwrap();
        assert_eq!(max.blocks().map(|b| b.count).collect::<Vec<_>>(), [5, 1]);
        let mut sum = a.clone();
        sum.merge(&b).unwrap();
        assert_eq!(sum.blocks().map(|b| b.count).collect::<Vec<_>>(), [8, 1]);

        // g.go's unit has 1 statement in `b` and 9 in `clash`: nothing of `clash` lands.
        let mut clash = Profile::new(CounterMode::Count);
        clash.add("a.go", unit(1, 1, 1, 1, 1), 1).unwrap();
        clash.add("g.go", unit(1, 1, 2, 2, 9), 1).unwrap();
        let before = sum.clone();
        let e = sum.merge(&clash).unwrap_err();
        assert!(matches!(
            e,
            ProfileError::InconsistentStmts { previous: 1, .. }
        ));
        assert_eq!(sum, before);

        let set = Profile::new(CounterMode::Set);
        assert!(matches!(
            a.merge(&set),
            Err(ProfileError::ModeMismatch { .. })
        ));
    }

    #[test]
    fn saturation_is_reported() {
        let mut p = Profile::new(CounterMode::Count);
        p.add("f.go", unit(1, 1, 1, 2, 1), u32::MAX - 1).unwrap();
        let o = p.add("f.go", unit(1, 1, 1, 2, 1), 5).unwrap();
        assert!(o.overflowed);
        assert_eq!(p.blocks().next().unwrap().count, u32::MAX);
    }

    #[test]
    fn bad_names_are_refused() {
        let mut p = Profile::new(CounterMode::Set);
        for name in ["", "a\nb", "a\rb"] {
            assert!(matches!(
                p.add(name, unit(1, 1, 1, 1, 1), 1),
                Err(ProfileError::BadFileName { .. })
            ));
        }
        assert!(p.is_empty());
    }
}
