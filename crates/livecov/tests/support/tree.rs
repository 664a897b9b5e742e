//! Copies of fixture trees for tests that make their own checkouts.
//!
//! Shared with `#[path = "support/tree.rs"] mod tree;` (std only).
#![allow(dead_code)]

use std::fs;
use std::path::Path;

/// Copies the directory `from` to `to`, recursively (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}
