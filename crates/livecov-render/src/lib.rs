//! livecov's static HTML site: an index of owner groups and one page per build, whose
//! sources and annotations load on demand from one small script per file.
//!
//! The files and the data they carry are described in `SITE.md` beside this crate; the
//! scripts in `assets/` read that data. This crate is pure: it is handed the data and
//! writes files, it never reads a store or a repository.

pub mod model;
pub mod site;

pub use model::{
    default_levels, Block, BuildData, BuildPage, FileData, FileEntry, FileSource, IndexBuild,
    IndexData, IndexDiagnostic, IndexOwner, Level, PageOwner, ScenarioTotal, SourceInfo,
    SourceStatus, MAX_PAGE_SCENARIOS,
};
pub use site::{
    asset, build_page_path, index_html, page_in_memory, render_single, render_site,
    renderer_version, PageInMemory, PageSource, RenderError, RenderOptions, RenderSummary,
    MANIFEST,
};
