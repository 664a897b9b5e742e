//! Downloading a producer's bucket (or a copy of it) into a collection: the collector's
//! async download run to completion on a runtime of its own, so front ends without one
//! (the command line) call a plain function.

use anyhow::{Context, Result};
pub use livecov_collect::download::{DownloadOptions, Summary};

use crate::Reporter;

/// Downloads what `settings` names, reporting the listing and one step per object to
/// `reporter`. Single failed objects are in the summary; `Err` means nothing could be
/// done (an unusable source, a failed listing, an uncreatable collection).
pub fn download(settings: &DownloadOptions, reporter: &dyn Reporter) -> Result<Summary> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(livecov_collect::download::download_with(settings, reporter))?)
}
