//! Snapshots of one process and the process lifetimes among them.

/// A snapshot of one process read from one counter file.
pub struct Snapshot {
    /// When it was written, as a sortable string (empty when unknown: oldest).
    pub time: String,
    /// The process's counters, aligned to its build's layout.
    pub counters: Vec<u32>,
}

/// The process lifetimes among the snapshots of one (build, pid), each with its latest
/// snapshot and how many earlier ones it superseded.
///
/// Snapshots of one process are cumulative, so a snapshot contained element-wise in
/// another is an earlier snapshot of the same process (the producer's `.1`/`.2`
/// toggles, repeated `WriteCountersDir` dumps) and is dropped; of two equal snapshots
/// the newer by time is kept. Snapshots where neither contains the other are different
/// lifetimes that happen to share a pid (a restarted container's main process is pid 1
/// again) and are all kept, so no run's coverage is lost.
///
/// `discard` receives the counter vectors of dropped snapshots (for reuse).
pub fn lifetimes(
    mut snaps: Vec<Snapshot>,
    mut discard: impl FnMut(Vec<u32>),
) -> Vec<(Snapshot, i64)> {
    // Oldest first (snapshots without a time first), so a later equal one wins.
    snaps.sort_by(|a, b| a.time.cmp(&b.time));
    let contains =
        |a: &Snapshot, b: &Snapshot| a.counters.iter().zip(&b.counters).all(|(x, y)| x >= y);
    let mut kept: Vec<(Snapshot, i64)> = Vec::new();
    for s in snaps {
        if let Some(k) = kept
            .iter_mut()
            .find(|(k, _)| contains(k, &s) && !contains(&s, k))
        {
            k.1 += 1;
            discard(s.counters);
            continue;
        }
        // `s` may contain (supersede) earlier kept snapshots.
        let mut superseded = 0;
        let mut i = 0;
        while i < kept.len() {
            if contains(&s, &kept[i].0) {
                let (old, n) = kept.swap_remove(i);
                superseded += n + 1;
                discard(old.counters);
            } else {
                i += 1;
            }
        }
        kept.push((s, superseded));
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(time: &str, counters: &[u32]) -> Snapshot {
        Snapshot {
            time: time.into(),
            counters: counters.to_vec(),
        }
    }

    #[test]
    fn cumulative_snapshots_keep_the_latest_and_count_the_rest() {
        let mut dropped = 0;
        let kept = lifetimes(
            vec![
                snap("t3", &[3, 2, 1]),
                snap("t1", &[1, 0, 0]),
                snap("t2", &[2, 1, 0]),
            ],
            |_| dropped += 1,
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0.counters, [3, 2, 1]);
        assert_eq!(kept[0].1, 2);
        assert_eq!(dropped, 2);
    }

    #[test]
    fn a_restart_that_reuses_a_pid_is_a_second_lifetime() {
        let kept = lifetimes(vec![snap("t1", &[5, 0]), snap("t2", &[0, 1])], |_| {});
        assert_eq!(kept.len(), 2, "neither contains the other: both count");
    }

    #[test]
    fn of_two_equal_snapshots_the_newer_is_kept() {
        let kept = lifetimes(vec![snap("t2", &[1, 1]), snap("t1", &[1, 1])], |_| {});
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0.time, "t2");
        assert_eq!(kept[0].1, 1);
    }
}
