//! `livecov cluster …` (the older tool's verbs) and `livecov report`.

pub mod compile;
pub mod images;
pub mod report;
