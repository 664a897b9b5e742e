//! Retention: which collections of a catalog a policy removes (older than an age,
//! beyond the N newest, among those with given labels), and removing them: the data
//! of `livecov store prune`.
//!
//! A collection's age is that of its last finished compile (else its creation), so a
//! collection still compiled into is never old. The policies add up: a collection goes
//! when either says so. Removing is [`Catalog::remove`]: PostgreSQL rows in one
//! transaction per collection, then the layouts no build refers to any more; an SQLite
//! collection's `livecov.db`, keeping its raw `coverage/`.

use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};
use livecov_store::catalog::{parse_utc_timestamp, utc_timestamp, Removal};
use livecov_store::Catalog;

/// What to remove.
#[derive(Clone, Debug, Default)]
pub struct PruneSettings {
    /// Remove collections whose last compile finished longer ago than this.
    pub max_age: Option<Duration>,
    /// Remove collections beyond the N newest (of those the labels select).
    pub keep_last: Option<usize>,
    /// Only collections with every one of these labels are considered.
    pub labels: Vec<(String, String)>,
    /// Say what would be removed, remove nothing.
    pub dry_run: bool,
    /// The time ages are measured from (the clock is passed in).
    pub now: Option<SystemTime>,
}

/// One collection the policy selected.
#[derive(Clone, Debug)]
pub struct Pruned {
    /// The collection.
    pub name: String,
    /// Its time (last finished compile, else creation).
    pub time: String,
    /// Why the policy selected it.
    pub reason: String,
    /// What removing it removed (`None` with --dry-run), or why it failed.
    pub outcome: Option<std::result::Result<Removal, String>>,
}

/// What a prune did.
#[derive(Clone, Debug)]
pub struct PruneSummary {
    /// The collections selected, newest first.
    pub pruned: Vec<Pruned>,
    /// The collections the labels selected and the policy kept.
    pub kept: usize,
    /// Layouts removed (with --dry-run: that would be).
    pub layouts: u64,
}

impl PruneSummary {
    /// True when some removal failed.
    pub fn failed(&self) -> bool {
        self.pruned
            .iter()
            .any(|p| matches!(p.outcome, Some(Err(_))))
    }
}

/// Applies the policy of `settings` to `catalog`.
pub fn prune(catalog: &Catalog, settings: &PruneSettings) -> Result<PruneSummary> {
    if settings.max_age.is_none() && settings.keep_last.is_none() {
        bail!("nothing to prune by: give --max-age, --keep-last or both");
    }
    let now = settings.now.unwrap_or_else(SystemTime::now);
    let cutoff = settings
        .max_age
        .map(|age| now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH));
    let mut pruned = Vec::new();
    let mut kept = 0;
    let selected = catalog
        .list()?
        .into_iter()
        // A store that cannot be read is never pruned: what it holds is not known.
        .filter(|c| c.unreadable.is_none())
        .filter(|c| c.matches(&settings.labels));
    for (i, c) in selected.enumerate() {
        let time = c.time().to_owned();
        let reason = match (settings.keep_last, cutoff) {
            (Some(n), _) if i >= n => Some(format!("beyond the {n} newest")),
            (_, Some(cutoff)) => {
                let Some(t) = parse_utc_timestamp(&time) else {
                    bail!(
                        "collection {:?} of {}: its time {time:?} is not an RFC 3339 UTC time",
                        c.name,
                        catalog.display()
                    );
                };
                (t < cutoff).then(|| format!("older than {}", utc_timestamp(cutoff)))
            }
            _ => None,
        };
        match reason {
            Some(reason) => pruned.push(Pruned {
                name: c.name,
                time,
                reason,
                outcome: None,
            }),
            None => kept += 1,
        }
    }
    let layouts = if settings.dry_run {
        let names: Vec<String> = pruned.iter().map(|p| p.name.clone()).collect();
        catalog.layouts_freed(&names)?
    } else {
        let mut layouts = 0;
        for p in &mut pruned {
            let outcome = catalog.remove(&p.name).map_err(|e| e.to_string());
            if let Ok(r) = &outcome {
                layouts += r.layouts;
            }
            p.outcome = Some(outcome);
        }
        layouts
    };
    Ok(PruneSummary {
        pruned,
        kept,
        layouts,
    })
}
