//! A tracefile in livecov's terms: one unit per instrumented line, grouped by function.

use std::collections::BTreeMap;

use livecov_model::{CounterMode, Layout, LayoutFile, LayoutFunction, Unit};

use super::{short, LcovWarning, SourceFile, Tracefile};

/// The name of the pseudo function that holds a file's lines outside every function
/// (module-level Python code, or lines of a producer that wrote no `FN` records). It is the
/// name coverage.py's own function report uses.
pub const NO_FUNCTION: &str = "(no function)";

/// The `end_col` of every LCOV unit. LCOV knows lines, not columns: a unit covers its whole
/// line, from column 1 (`start_col`) to the end of the line, which `end_col == 0` stands
/// for (no real range ends before its first column).
pub const WHOLE_LINE_END_COL: u32 = 0;

/// Converts a tracefile into a layout, its counter vector (counter `k` is unit `k`'s) and
/// the warnings of the conversion.
///
/// - Every `DA` line becomes one unit: `start_line == end_line == line`, `start_col` 1,
///   `end_col` [`WHOLE_LINE_END_COL`], one statement. Its counter is the line's hits,
///   clamped to `u32::MAX` (the model's counters are 32-bit, as Go's are); a file with
///   clamped counts gets a warning.
/// - Test names are merged away (counts summed, conflicts resolved and reported as
///   [`SourceFile::normalize`] does): a layout describes a build, not a test. Files are
///   sorted by path, so the layout, and with it the build's identity, does not depend on
///   the order of the blocks.
/// - Each file's package is its directory (the path up to the last `/`; empty if none).
/// - Functions: records with the same start line are aliases (C++ constructors, template
///   instantiations) and become one function, named by the first alias in name order. A
///   function owns the lines from its start to its end line; without an end line (lcov 1.x,
///   llvm-cov), up to the line before the next function starts. A line inside several
///   functions (nested Python functions) belongs to the innermost, the one starting last.
///   Lines no function owns go to a first pseudo function named [`NO_FUNCTION`]; a function
///   that owns no line is kept, with no units. Branch records have no place in a layout yet
///   and are not converted.
///
/// The mode is [`CounterMode::Count`]: LCOV counts are execution counts.
pub fn to_layout(tracefile: &Tracefile) -> (Layout, Vec<u32>, Vec<LcovWarning>) {
    let mut warnings = Vec::new();
    let mut warn = |message: String| {
        warnings.push(LcovWarning {
            line: None,
            message,
        })
    };
    let mut by_path: BTreeMap<&str, SourceFile> = BTreeMap::new();
    for f in &tracefile.files {
        match by_path.get_mut(f.path.as_str()) {
            Some(into) => {
                into.lines.extend(f.lines.iter().cloned());
                into.functions.extend(f.functions.iter().cloned());
                into.normalize(&mut warn);
            }
            None => {
                let merged = SourceFile {
                    test_name: String::new(),
                    path: f.path.clone(),
                    version: None,
                    functions: f.functions.clone(),
                    branches: Vec::new(),
                    lines: f.lines.clone(),
                };
                by_path.insert(&f.path, merged);
            }
        }
    }

    let mut packages: BTreeMap<&str, u32> = BTreeMap::new();
    for path in by_path.keys() {
        packages.insert(package_of(path), 0);
    }
    for (i, v) in packages.values_mut().enumerate() {
        *v = index(i);
    }
    let mut layout = Layout {
        mode: CounterMode::Count,
        packages: packages.keys().map(|p| (*p).to_owned()).collect(),
        files: Vec::with_capacity(by_path.len()),
        functions: Vec::new(),
        units: Vec::new(),
    };
    let mut counters = Vec::new();
    for (path, f) in &by_path {
        let file = index(layout.files.len());
        layout.files.push(LayoutFile {
            path: (*path).to_owned(),
            package: packages[package_of(path)],
        });
        let clamped = add_file(&mut layout, &mut counters, file, f);
        if clamped > 0 {
            warn(format!(
                "SF:{}: {clamped} line counts exceed {} and were clamped to it",
                short(path),
                u32::MAX
            ));
        }
    }
    (layout, counters, warnings)
}

/// One function group of a file: its first alias and the lines it owns.
struct Group<'a> {
    name: &'a str,
    start: u32,
    end: u32,
    lines: Vec<(u32, u64)>,
}

/// Appends `f`'s functions and units; returns how many counts had to be clamped.
fn add_file(layout: &mut Layout, counters: &mut Vec<u32>, file: u32, f: &SourceFile) -> usize {
    // `f.functions` is sorted by (start line, name): the first of each start line names it.
    let mut groups: Vec<Group<'_>> = Vec::new();
    for func in &f.functions {
        match groups.last_mut() {
            Some(g) if g.start == func.start_line => {
                if let Some(e) = func.end_line {
                    g.end = g.end.max(e);
                }
            }
            _ => groups.push(Group {
                name: &func.name,
                start: func.start_line,
                end: func.end_line.unwrap_or(0),
                lines: Vec::new(),
            }),
        }
    }
    // No end line: up to the next function's start.
    for i in 0..groups.len() {
        if groups[i].end == 0 {
            groups[i].end = groups.get(i + 1).map_or(u32::MAX, |next| {
                next.start.saturating_sub(1).max(groups[i].start)
            });
        }
    }

    // Lines ascend and groups are sorted by start, so a stack of the groups that have begun
    // finds the innermost: pop those that ended, the top is the one that started last.
    let mut orphans: Vec<(u32, u64)> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut next = 0;
    for l in &f.lines {
        while next < groups.len() && groups[next].start <= l.line {
            stack.push(next);
            next += 1;
        }
        while stack.last().is_some_and(|&g| groups[g].end < l.line) {
            stack.pop();
        }
        match stack.last() {
            Some(&g) => groups[g].lines.push((l.line, l.hits)),
            None => orphans.push((l.line, l.hits)),
        }
    }

    let mut clamped = 0;
    let mut push = |name: &str, lines: &[(u32, u64)]| {
        layout.functions.push(LayoutFunction {
            name: name.to_owned(),
            file,
            first_unit: index(layout.units.len()),
        });
        for &(line, hits) in lines {
            layout.units.push(Unit {
                start_line: line,
                start_col: 1,
                end_line: line,
                end_col: WHOLE_LINE_END_COL,
                stmts: 1,
            });
            counters.push(u32::try_from(hits).unwrap_or_else(|_| {
                clamped += 1;
                u32::MAX
            }));
        }
    };
    if !orphans.is_empty() {
        push(NO_FUNCTION, &orphans);
    }
    for g in &groups {
        push(g.name, &g.lines);
    }
    clamped
}

/// The directory part of `path`.
fn package_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// A position as a model index. More than `u32::MAX` units would need a tracefile of
/// dozens of gigabytes; such an index saturates rather than wraps.
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
