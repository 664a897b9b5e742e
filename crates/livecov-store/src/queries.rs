//! [`CoverageStore`]: the reads every front end needs (report, site, server, gates),
//! whatever database holds the collection. SQLite and PostgreSQL implement it and pass
//! the same tests (`tests/conformance.rs`); [`crate::Store`] dispatches to either.

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

    /// Whether a compile of this collection holds the store's compile lock now, when the
    /// database can tell (PostgreSQL: its advisory lock); `None` when it cannot (SQLite:
    /// the collection directory's lock file tells).
    fn compile_running(&self) -> Result<Option<bool>> {
        Ok(None)
    }

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

impl CoverageStore for crate::sqlite::SqliteStore {
    fn builds(&self) -> Result<Vec<BuildRow>> {
        crate::sqlite::SqliteStore::builds(self)
    }
    fn build_files(&self, build_id: i64) -> Result<Vec<BuildFile>> {
        crate::sqlite::SqliteStore::build_files(self, build_id)
    }
    fn build_layout(&self, build_id: i64) -> Result<StoredLayout> {
        crate::sqlite::SqliteStore::build_layout(self, build_id)
    }
    fn inputs(&self) -> Result<Vec<InputRow>> {
        crate::sqlite::SqliteStore::inputs(self)
    }
    fn processes(&self, dir: &str) -> Result<Vec<ProcessRow>> {
        crate::sqlite::SqliteStore::processes(self, dir)
    }
    fn owners_of_build(&self, build_id: i64) -> Result<Vec<OwnerRow>> {
        crate::sqlite::SqliteStore::owners_of_build(self, build_id)
    }
    fn for_each_owner(&self, f: &mut dyn FnMut(OwnerRow) -> Result<()>) -> Result<()> {
        crate::sqlite::SqliteStore::for_each_owner(self, f)
    }
    fn owners(&self) -> Result<Vec<OwnerRow>> {
        crate::sqlite::SqliteStore::owners(self)
    }
    fn image_sources(&self) -> Result<Vec<ImageSourceRow>> {
        crate::sqlite::SqliteStore::image_sources(self)
    }
    fn source_fetches(&self) -> Result<Vec<SourceFetchRow>> {
        crate::sqlite::SqliteStore::source_fetches(self)
    }
    fn diagnostics(&self) -> Result<Vec<(String, String, String)>> {
        crate::sqlite::SqliteStore::diagnostics(self)
    }
    fn setting(&self, key: &str) -> Result<Option<String>> {
        crate::sqlite::SqliteStore::setting(self, key)
    }
    fn scenarios(&self) -> Result<Vec<String>> {
        crate::sqlite::SqliteStore::scenarios(self)
    }
    fn scenario_owners(&self, scenario: &str, build_id: Option<i64>) -> Result<Vec<OwnerRow>> {
        crate::sqlite::SqliteStore::scenario_owners(self, scenario, build_id)
    }
}

impl CoverageStore for crate::Store {
    fn builds(&self) -> Result<Vec<BuildRow>> {
        self.backend.builds()
    }
    fn build_files(&self, build_id: i64) -> Result<Vec<BuildFile>> {
        self.backend.build_files(build_id)
    }
    fn build_layout(&self, build_id: i64) -> Result<StoredLayout> {
        self.backend.build_layout(build_id)
    }
    fn inputs(&self) -> Result<Vec<InputRow>> {
        self.backend.inputs()
    }
    fn processes(&self, dir: &str) -> Result<Vec<ProcessRow>> {
        self.backend.processes(dir)
    }
    fn owners_of_build(&self, build_id: i64) -> Result<Vec<OwnerRow>> {
        self.backend.owners_of_build(build_id)
    }
    fn for_each_owner(&self, f: &mut dyn FnMut(OwnerRow) -> Result<()>) -> Result<()> {
        self.backend.for_each_owner(f)
    }
    fn compile_running(&self) -> Result<Option<bool>> {
        self.backend.compile_running()
    }
    fn owners(&self) -> Result<Vec<OwnerRow>> {
        self.backend.owners()
    }
    fn image_sources(&self) -> Result<Vec<ImageSourceRow>> {
        self.backend.image_sources()
    }
    fn source_fetches(&self) -> Result<Vec<SourceFetchRow>> {
        self.backend.source_fetches()
    }
    fn diagnostics(&self) -> Result<Vec<(String, String, String)>> {
        self.backend.diagnostics()
    }
    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.backend.setting(key)
    }
    fn scenarios(&self) -> Result<Vec<String>> {
        self.backend.scenarios()
    }
    fn scenario_owners(&self, scenario: &str, build_id: Option<i64>) -> Result<Vec<OwnerRow>> {
        self.backend.scenario_owners(scenario, build_id)
    }
}
