//! History across collections: one subject (a build, an owner, a file, or everything)
//! measured in every collection of a catalog, oldest first: the data of
//! `livecov history` and of the dashboard's trend charts.
//!
//! A collection is placed at the time its last compile finished (else its creation);
//! its figures are those `report` gives for the same subject, so a point never
//! disagrees with the collection's own report.

use anyhow::{Context, Result};
use livecov_store::{CoverageStore, Store, StoreError};

pub use livecov_store::{Catalog, CollectionInfo};

/// What a history follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// One build, by the hex of its identity (as `report` prints it).
    Build(String),
    /// One owner (every build it ran, each build's statements counted once).
    Owner {
        /// Namespace (`host` for host processes).
        namespace: String,
        /// Owner type (Deployment, DaemonSet, …).
        owner_type: String,
        /// Owner name.
        owner: String,
        /// Binary name.
        binary: String,
    },
    /// One file as the builds record its path: of one build, or summed over every build
    /// of the collection that has it.
    File {
        /// The build (hex), or `None` for every build.
        build: Option<String>,
        /// The path as the build records it.
        path: String,
    },
    /// The whole collection (each build's statements counted once).
    Total,
}

/// One collection's figures for the subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// The collection's name.
    pub collection: String,
    /// When its last compile finished (else when it was made), RFC 3339 UTC.
    pub time: String,
    /// The collection's labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// Statements of the subject (infrastructure files excluded).
    pub statements: u64,
    /// Statements of the subject covered.
    pub covered: u64,
}

/// The subject in every collection of `catalog` that has every label of
/// `label_filter` and holds the subject (a collection without it has no point), oldest
/// first; only the `limit` newest points when `limit` is not 0.
pub fn history(
    catalog: &Catalog,
    subject: &Subject,
    label_filter: &[(String, String)],
    limit: usize,
) -> Result<Vec<Point>> {
    let collections = catalog
        .list()
        .with_context(|| format!("listing the collections of {}", catalog.display()))?;
    let mut points = Vec::new();
    // Newest first, so a limit reads only the collections it keeps.
    // A collection whose store cannot be read has no point (the list shows why).
    let readable = collections.into_iter().filter(|c| c.unreadable.is_none());
    for info in readable.filter(|c| c.matches(label_filter)) {
        if limit != 0 && points.len() == limit {
            break;
        }
        let figures = match subject {
            Subject::Total => Some((info.statements, info.covered)),
            _ => {
                let at = catalog.location(&info.name).with_context(|| {
                    format!(
                        "collection {:?} of {} has no store",
                        info.name,
                        catalog.display()
                    )
                })?;
                let store = match Store::open_at(&at, true) {
                    Err(StoreError::TooOld { .. }) => Store::open_at(&at, false),
                    opened => opened,
                }
                .with_context(|| format!("opening {}", at.display()))?;
                measure(&store, subject)
                    .with_context(|| format!("reading collection {:?}", info.name))?
            }
        };
        if let Some((statements, covered)) = figures {
            let time = info.time().to_owned();
            points.push(Point {
                collection: info.name,
                time,
                labels: info.labels,
                statements,
                covered,
            });
        }
    }
    points.reverse();
    Ok(points)
}

/// (statements, covered) of `subject` in one collection, as `report` counts them;
/// `None` when the collection does not hold it.
fn measure(store: &dyn CoverageStore, subject: &Subject) -> Result<Option<(u64, u64)>> {
    let hex = |b: &livecov_store::BuildRow| livecov_formats::gocovdata::hex16(&b.hash);
    let sum_files = |id: i64, path: Option<&str>| -> Result<Option<(u64, u64)>> {
        let mut found = None;
        for f in store.build_files(id)? {
            if f.excluded || path.is_some_and(|p| p != f.path) {
                continue;
            }
            let (s, c) = found.unwrap_or((0, 0));
            found = Some((s + f.statements, c + f.covered));
        }
        Ok(found)
    };
    let add = |a: Option<(u64, u64)>, b: Option<(u64, u64)>| match (a, b) {
        (Some((s1, c1)), Some((s2, c2))) => Some((s1 + s2, c1 + c2)),
        (a, b) => a.or(b),
    };
    Ok(match subject {
        Subject::Total => {
            let mut total = Some((0, 0));
            for b in store.builds()? {
                total = add(total, sum_files(b.id, None)?);
            }
            total
        }
        Subject::Build(want) => match store
            .builds()?
            .iter()
            .find(|b| hex(b).eq_ignore_ascii_case(want))
        {
            // A build whose files are all excluded still is the build: 0 of 0.
            Some(b) => Some(sum_files(b.id, None)?.unwrap_or((0, 0))),
            None => None,
        },
        Subject::File { build, path } => {
            let mut found = None;
            for b in store.builds()? {
                if build
                    .as_ref()
                    .is_some_and(|w| !hex(&b).eq_ignore_ascii_case(w))
                {
                    continue;
                }
                found = add(found, sum_files(b.id, Some(path))?);
            }
            found
        }
        Subject::Owner {
            namespace,
            owner_type,
            owner,
            binary,
        } => {
            let mut found = None;
            store.for_each_owner(&mut |o| {
                if &o.namespace == namespace
                    && &o.owner_type == owner_type
                    && &o.owner == owner
                    && &o.binary == binary
                {
                    found = add(found, Some((o.statements, o.covered)));
                }
                Ok(())
            })?;
            found
        }
    })
}
