//! `livecov cluster …` (the older tool's verbs) and `livecov report`.

pub mod compile;
pub mod download;
pub mod images;
pub mod report;
