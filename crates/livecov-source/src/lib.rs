//! Sources at the exact commit: a shared git cache and path resolution.
