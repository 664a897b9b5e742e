//! livecov's bottom crate: the plain types every other crate pushes into.
//!
//! It knows counter modes and granularities, coverable units, and the merge rules of
//! `../shared/DESIGN.md` (saturating sums, set-mode OR). It has no I/O, no async and no
//! dependencies, and it must never depend on another livecov crate.
#![deny(missing_docs)]

mod counter;
mod diagnostics;
mod layout;
mod origin;
pub mod owners;
mod profile;
mod reporter;
mod snapshot;
pub mod uleb;
mod unit;

pub use counter::{merge_counters, CounterGranularity, CounterMode, MergeOutcome, MergeRule};
pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use layout::{Layout, LayoutError, LayoutFile, LayoutFunction};
pub use origin::Origin;
pub use profile::{Block, Profile, ProfileError, Totals};
pub use reporter::{Phase, Recorder, Reporter, Silent};
pub use snapshot::{lifetimes, Snapshot};
pub use unit::Unit;

/// Formats `100·covered/total` the way Go's `%.1f` does (correctly rounded, ties to even).
///
/// A total of zero prints `0.0`, as `go tool covdata func` does.
pub fn percent_1dp(covered: u64, total: u64) -> String {
    let total = if total == 0 { 1 } else { total };
    format!("{:.1}", 100.0 * covered as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_ties_to_even_like_go() {
        assert_eq!(percent_1dp(1, 16), "6.2");
        assert_eq!(percent_1dp(3, 16), "18.8");
        assert_eq!(percent_1dp(13, 16), "81.2");
        assert_eq!(percent_1dp(2, 3), "66.7");
        assert_eq!(percent_1dp(0, 0), "0.0");
        assert_eq!(percent_1dp(5, 5), "100.0");
    }
}
