//! [`CoverageStore`]: the reads every front end needs (report, site, server, gates),
//! whatever database holds the collection. SQLite implements it now ([`crate::Store`]);
//! PostgreSQL will implement the same trait and pass the same tests
//! (`tests/conformance.rs`).

use livecov_model::{CounterMode, Layout, MergeRule, Profile};

use crate::{
    decompress_counters, BuildFile, BuildRow, ImageSourceRow, InputRow, OwnerRow, ProcessRow,
    Result, SourceFetchRow, StoredLayout,
};

/// The read side of a store.
pub trait CoverageStore {
    /// Every build.
    fn builds(&self) -> Result<Vec<BuildRow>>;
    /// Per-file totals of a build, sorted by path.
    fn build_files(&self, build_id: i64) -> Result<Vec<BuildFile>>;
    /// A build's stored layout.
    fn build_layout(&self, build_id: i64) -> Result<StoredLayout>;
    /// Every input (report directory), by directory name.
    fn inputs(&self) -> Result<Vec<InputRow>>;
    /// The processes of an input.
    fn processes(&self, dir: &str) -> Result<Vec<ProcessRow>>;
    /// The owner groups of one build.
    fn owners_of_build(&self, build_id: i64) -> Result<Vec<OwnerRow>>;
    /// Streams every owner group in key order, one at a time (a collection may hold
    /// more owners than are worth holding in memory at once).
    fn for_each_owner(&self, f: &mut dyn FnMut(OwnerRow) -> Result<()>) -> Result<()>;
    /// Every image source.
    fn image_sources(&self) -> Result<Vec<ImageSourceRow>>;
    /// What `clone-sources` fetched.
    fn source_fetches(&self) -> Result<Vec<SourceFetchRow>>;
    /// Diagnostics recorded for inputs: (dir, severity, message).
    fn diagnostics(&self) -> Result<Vec<(String, String, String)>>;
    /// A setting a compile kept.
    fn setting(&self, key: &str) -> Result<Option<String>>;
    /// The scenarios (input label `scenario`) that have owner groups, sorted.
    fn scenarios(&self) -> Result<Vec<String>>;
    /// The owner groups of one scenario, of one build when `build_id` is given.
    fn scenario_owners(&self, scenario: &str, build_id: Option<i64>) -> Result<Vec<OwnerRow>>;

    /// Every owner group, in key order.
    fn owners(&self) -> Result<Vec<OwnerRow>> {
        let mut all = Vec::new();
        self.for_each_owner(&mut |o| {
            all.push(o);
            Ok(())
        })?;
        Ok(all)
    }

    /// The counters of one build: its owners' counters (each `units` long) merged with
    /// `rule`, as the index and the build page show it.
    fn build_counters(
        &self,
        build_id: i64,
        units: usize,
        mode: CounterMode,
        rule: MergeRule,
    ) -> Result<Vec<u32>> {
        merge_owners(&self.owners_of_build(build_id)?, units, mode, rule)
    }

    /// The counters of one build as one scenario ran it: the scenario's owner groups of
    /// the build merged with `rule`.
    fn scenario_build_counters(
        &self,
        build_id: i64,
        scenario: &str,
        units: usize,
        mode: CounterMode,
        rule: MergeRule,
    ) -> Result<Vec<u32>> {
        merge_owners(
            &self.scenario_owners(scenario, Some(build_id))?,
            units,
            mode,
            rule,
        )
    }

    /// The profile of one build whose layout is `layout`: [`CoverageStore::build_counters`]
    /// keyed by file and position, ready to merge with other builds' or to export.
    fn build_profile(&self, build_id: i64, layout: &Layout, rule: MergeRule) -> Result<Profile> {
        let counters = self.build_counters(build_id, layout.units.len(), layout.mode, rule)?;
        Profile::from_layout(layout, &counters).map_err(|e| crate::StoreError::Corrupt {
            path: String::new(),
            what: format!("build {build_id}: {e}"),
        })
    }
}

/// Owner groups' counters (each `units` long) merged with `rule`.
fn merge_owners(
    owners: &[OwnerRow],
    units: usize,
    mode: CounterMode,
    rule: MergeRule,
) -> Result<Vec<u32>> {
    let mut merged = vec![0u32; units];
    for o in owners {
        let counters =
            decompress_counters(&o.counters, units).map_err(|e| crate::StoreError::Corrupt {
                path: String::new(),
                what: format!("counters of owner {}: {e}", o.key),
            })?;
        rule.merge(mode, &mut merged, &counters);
    }
    Ok(merged)
}

impl CoverageStore for crate::Store {
    fn builds(&self) -> Result<Vec<BuildRow>> {
        crate::Store::builds(self)
    }
    fn build_files(&self, build_id: i64) -> Result<Vec<BuildFile>> {
        crate::Store::build_files(self, build_id)
    }
    fn build_layout(&self, build_id: i64) -> Result<StoredLayout> {
        crate::Store::build_layout(self, build_id)
    }
    fn inputs(&self) -> Result<Vec<InputRow>> {
        crate::Store::inputs(self)
    }
    fn processes(&self, dir: &str) -> Result<Vec<ProcessRow>> {
        crate::Store::processes(self, dir)
    }
    fn owners_of_build(&self, build_id: i64) -> Result<Vec<OwnerRow>> {
        crate::Store::owners_of_build(self, build_id)
    }
    fn for_each_owner(&self, f: &mut dyn FnMut(OwnerRow) -> Result<()>) -> Result<()> {
        crate::Store::for_each_owner(self, f)
    }
    fn owners(&self) -> Result<Vec<OwnerRow>> {
        crate::Store::owners(self)
    }
    fn image_sources(&self) -> Result<Vec<ImageSourceRow>> {
        crate::Store::image_sources(self)
    }
    fn source_fetches(&self) -> Result<Vec<SourceFetchRow>> {
        crate::Store::source_fetches(self)
    }
    fn diagnostics(&self) -> Result<Vec<(String, String, String)>> {
        crate::Store::diagnostics(self)
    }
    fn setting(&self, key: &str) -> Result<Option<String>> {
        crate::Store::setting(self, key)
    }
    fn scenarios(&self) -> Result<Vec<String>> {
        crate::Store::scenarios(self)
    }
    fn scenario_owners(&self, scenario: &str, build_id: Option<i64>) -> Result<Vec<OwnerRow>> {
        crate::Store::scenario_owners(self, scenario, build_id)
    }
}
