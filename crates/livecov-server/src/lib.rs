//! livecov's server front end: HTTP endpoints that turn requests into operations and
//! their results into answers, like the command line does for flags (DESIGN.md:
//! "server: axum … calls ops, like the CLI"). It holds no pipeline logic.
//!
//! Each part of the server is a module that builds its own [`axum::Router`]; a process
//! merges the ones it serves: the GitHub [`webhook`] (`livecov serve --webhook`) and the
//! [`dashboard`] (`livecov serve`: the site rendered from the store, its JSON API).
//!
//! Must not depend on the CLI crate (clap types stop at the CLI).
#![deny(missing_docs)]

pub mod dashboard;
pub mod listen;
pub mod webhook;

/// The router of every part a process serves, merged: `parts` are built by their
/// modules (for the webhook, [`webhook::Webhook::router`]).
pub fn router(parts: impl IntoIterator<Item = axum::Router>) -> axum::Router {
    parts
        .into_iter()
        .fold(axum::Router::new(), |all, part| all.merge(part))
}
