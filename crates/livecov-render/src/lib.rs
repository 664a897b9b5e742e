//! The static HTML site.
