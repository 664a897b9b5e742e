//! The HTML site and its sources: `livecov cluster render`, `livecov render`,
//! `livecov go html`, `livecov cluster clone-sources`, `livecov sources …`.

pub mod cluster;
pub mod local;
pub mod page;
pub mod sources;
