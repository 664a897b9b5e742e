//! The HTML site and its sources: a collection's site (`cluster render`), one page for
//! a local profile (`render --go-profile`, `go html`), fetching sources
//! (`clone-sources`) and explaining a path (`sources explain`).

pub mod cluster;
pub mod local;
pub mod page;
pub mod sources;
