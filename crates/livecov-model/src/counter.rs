//! Counter modes, granularity and the merge rule for counter vectors.

use std::fmt;

/// How a build counts executions (Go's `-covermode`).
///
/// The numeric values are Go's `CounterMode` constants, so they can be read and written
/// directly from the meta-data header byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CounterMode {
    /// `set`: counters are 0 or 1; merging is a logical OR.
    Set,
    /// `count`: plain increments; merging is a saturating sum.
    Count,
    /// `atomic`: atomic increments; merging is a saturating sum.
    Atomic,
}

impl CounterMode {
    /// Reads Go's `CMode` byte. 0 (invalid), 4 (regonly) and 5 (testmain) are not usable
    /// for reports and give `None`.
    pub fn from_go(byte: u8) -> Option<CounterMode> {
        match byte {
            1 => Some(CounterMode::Set),
            2 => Some(CounterMode::Count),
            3 => Some(CounterMode::Atomic),
            _ => None,
        }
    }

    /// Go's `CMode` byte for this mode.
    pub fn to_go(self) -> u8 {
        match self {
            CounterMode::Set => 1,
            CounterMode::Count => 2,
            CounterMode::Atomic => 3,
        }
    }

    /// The mode's name as Go prints it (`set`, `count`, `atomic`).
    pub fn name(self) -> &'static str {
        match self {
            CounterMode::Set => "set",
            CounterMode::Count => "count",
            CounterMode::Atomic => "atomic",
        }
    }

    /// Parses a mode name as written in a text profile's `mode:` line.
    pub fn from_name(name: &str) -> Option<CounterMode> {
        match name {
            "set" => Some(CounterMode::Set),
            "count" => Some(CounterMode::Count),
            "atomic" => Some(CounterMode::Atomic),
            _ => None,
        }
    }
}

impl fmt::Display for CounterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a build has one counter per block or one per function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterGranularity {
    /// One counter per basic block (what `go build -cover` always asks for).
    PerBlock,
    /// One counter per function.
    PerFunc,
}

impl CounterGranularity {
    /// Reads Go's `CGranularity` byte; 0 and unknown values give `None`.
    pub fn from_go(byte: u8) -> Option<CounterGranularity> {
        match byte {
            1 => Some(CounterGranularity::PerBlock),
            2 => Some(CounterGranularity::PerFunc),
            _ => None,
        }
    }

    /// Go's `CGranularity` byte.
    pub fn to_go(self) -> u8 {
        match self {
            CounterGranularity::PerBlock => 1,
            CounterGranularity::PerFunc => 2,
        }
    }

    /// The name Go prints (`perblock`, `perfunc`).
    pub fn name(self) -> &'static str {
        match self {
            CounterGranularity::PerBlock => "perblock",
            CounterGranularity::PerFunc => "perfunc",
        }
    }
}

impl fmt::Display for CounterGranularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the counters of several readings combine (`../shared/DESIGN.md`, merge rules).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MergeRule {
    /// Saturating sum of counts; in set mode an OR. Go's rule, and the default.
    #[default]
    Sum,
    /// Element-wise maximum, as the older tool merged pods.
    Max,
    /// Covered or not: 1 where any reading is non-zero.
    Or,
}

impl MergeRule {
    /// The rule's name as flags and stores spell it (`sum`, `max`, `or`).
    pub fn name(self) -> &'static str {
        match self {
            MergeRule::Sum => "sum",
            MergeRule::Max => "max",
            MergeRule::Or => "or",
        }
    }

    /// Parses a name written by [`MergeRule::name`].
    pub fn from_name(name: &str) -> Option<MergeRule> {
        match name {
            "sum" => Some(MergeRule::Sum),
            "max" => Some(MergeRule::Max),
            "or" => Some(MergeRule::Or),
            _ => None,
        }
    }

    /// Merges one counter `v` into `dst` under this rule for a build of `mode`; returns
    /// whether a sum was clamped at `u32::MAX`.
    #[inline]
    pub fn merge_one(self, mode: CounterMode, dst: &mut u32, v: u32) -> bool {
        match (self, mode) {
            (MergeRule::Max, _) => {
                *dst = (*dst).max(v);
                false
            }
            (MergeRule::Or, _) | (MergeRule::Sum, CounterMode::Set) => {
                if v != 0 {
                    *dst = 1;
                }
                false
            }
            (MergeRule::Sum, _) => {
                let (sum, carry) = dst.overflowing_add(v);
                *dst = if carry { u32::MAX } else { sum };
                carry
            }
        }
    }

    /// Merges `src` into `dst` element-wise under this rule; extra elements of the longer
    /// slice are ignored.
    #[inline]
    pub fn merge(self, mode: CounterMode, dst: &mut [u32], src: &[u32]) -> MergeOutcome {
        let mut overflowed = false;
        for (d, &s) in dst.iter_mut().zip(src) {
            overflowed |= self.merge_one(mode, d, s);
        }
        MergeOutcome { overflowed }
    }
}

impl fmt::Display for MergeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`merge_counters`] observed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    /// At least one sum was clamped at `u32::MAX`.
    pub overflowed: bool,
}

/// Merges `src` into `dst` element-wise: OR (as 0/1) in set mode, a sum saturating at
/// `u32::MAX` otherwise. Both slices must have the same length; extra elements of the
/// longer one are ignored.
///
/// `#[inline]` so it is inlined across crates: readers call it once per function record,
/// millions of times, mostly on a handful of counters.
#[inline]
pub fn merge_counters(mode: CounterMode, dst: &mut [u32], src: &[u32]) -> MergeOutcome {
    let mut overflowed = false;
    match mode {
        CounterMode::Set => {
            for (d, &s) in dst.iter_mut().zip(src) {
                if s != 0 {
                    *d = 1;
                }
            }
        }
        CounterMode::Count | CounterMode::Atomic => {
            for (d, &s) in dst.iter_mut().zip(src) {
                let (sum, carry) = d.overflowing_add(s);
                *d = if carry { u32::MAX } else { sum };
                overflowed |= carry;
            }
        }
    }
    MergeOutcome { overflowed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_saturate_and_report_overflow() {
        let mut dst = vec![2_500_000_000, 1, 0];
        let out = merge_counters(CounterMode::Count, &mut dst, &[2_500_000_000, 2, 0]);
        assert_eq!(dst, vec![u32::MAX, 3, 0]);
        assert!(out.overflowed);
    }

    #[test]
    fn every_rule_through_one_function() {
        let mut sum = vec![2_500_000_000, 1, 0];
        assert!(
            MergeRule::Sum
                .merge(CounterMode::Count, &mut sum, &[2_500_000_000, 2, 0])
                .overflowed
        );
        assert_eq!(sum, vec![u32::MAX, 3, 0]);
        let mut max = vec![4, 1, 0];
        MergeRule::Max.merge(CounterMode::Count, &mut max, &[2, 7, 0]);
        assert_eq!(max, vec![4, 7, 0]);
        let mut or = vec![4, 0, 0];
        MergeRule::Or.merge(CounterMode::Count, &mut or, &[0, 9, 0]);
        assert_eq!(or, vec![4, 1, 0]);
        let mut set = vec![0, 1, 0];
        MergeRule::Sum.merge(CounterMode::Set, &mut set, &[5, 0, 0]);
        assert_eq!(set, vec![1, 1, 0]);
        // The sum rule and merge_counters agree.
        let (mut a, mut b) = (vec![3, u32::MAX - 1, 0], vec![3, u32::MAX - 1, 0]);
        let src = [4, 5, 6];
        assert_eq!(
            merge_counters(CounterMode::Atomic, &mut a, &src),
            MergeRule::Sum.merge(CounterMode::Atomic, &mut b, &src)
        );
        assert_eq!(a, b);
        for r in [MergeRule::Sum, MergeRule::Max, MergeRule::Or] {
            assert_eq!(MergeRule::from_name(r.name()), Some(r));
        }
    }

    #[test]
    fn set_mode_is_or() {
        let mut dst = vec![0, 1, 0];
        let out = merge_counters(CounterMode::Set, &mut dst, &[5, 0, 0]);
        assert_eq!(dst, vec![1, 1, 0]);
        assert!(!out.overflowed);
    }

    #[test]
    fn mode_bytes_round_trip() {
        for m in [CounterMode::Set, CounterMode::Count, CounterMode::Atomic] {
            assert_eq!(CounterMode::from_go(m.to_go()), Some(m));
            assert_eq!(CounterMode::from_name(m.name()), Some(m));
        }
        assert_eq!(CounterMode::from_go(4), None);
        assert_eq!(
            CounterGranularity::from_go(2),
            Some(CounterGranularity::PerFunc)
        );
    }
}
