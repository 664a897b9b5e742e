//! livecov's coverage formats: one module per format, each reading bytes into
//! `livecov-model` values and writing them back.
//!
//! Invariants: pure (bytes in, values out; no network, no store, no async); decoders never
//! panic on untrusted bytes and report errors with the byte offset or line and what was
//! expected. Depends only on `livecov-model`.
#![deny(missing_docs)]

pub mod cobertura;
pub mod codecov;
pub mod compare;
pub mod coveragepy;
pub mod diffcov;
pub mod gocovdata;
pub mod goprofile;
pub mod json;
pub mod lcov;
pub mod markdown;
pub mod sonar;
pub mod summary;
mod xml;
