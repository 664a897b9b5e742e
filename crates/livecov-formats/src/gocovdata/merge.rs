//! `livecov go merge`: writes merged coverage data that `go tool covdata` reads back to the same
//! result (spec §6.1–6.3).
//!
//! Without `-pkg` each pod's meta file is copied and one counter file written; with
//! `-pkg` a reduced meta file holds the matching package blobs verbatim; with
//! `-pcombine` every pod is folded into one meta file whose packages are rebuilt with
//! functions de-duplicated by hash. Unlike covdata, output files are always named after
//! the hash inside them, so misnamed inputs come out paired correctly.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::gocovdata::{
    counter_file_name, encode_counter_file, encode_meta_file, encode_package_blob, func_hash,
    merge_file_hash, meta_file_name, package_hash, FuncMeta, FuncRecord, HashAlgo, PackageMeta,
};
use livecov_model::{merge_counters, CounterMode, Diagnostics};

use crate::gocovdata::dir::MergedBuild;
use crate::gocovdata::pkgmatch::PkgFilter;

/// The args summary covdata writes: `argc`/`argv*` only when every input file had the
/// same `os.Args`, `GOOS`/`GOARCH` only when they agree.
#[derive(Default)]
struct ArgsSummary {
    state: Option<(Option<Vec<String>>, String, String)>,
}

impl ArgsSummary {
    fn add(&mut self, os_args: Option<&Vec<String>>, goos: &str, goarch: &str) {
        let args = os_args.cloned().filter(|a| !a.is_empty());
        match &mut self.state {
            None => self.state = Some((args, goos.to_owned(), goarch.to_owned())),
            Some((a, os, arch)) => {
                if *a != args {
                    *a = None;
                }
                if os != goos {
                    os.clear();
                }
                if arch != goarch {
                    arch.clear();
                }
            }
        }
    }

    fn take(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some((args, os, arch)) = self.state.take() {
            if let Some(args) = args {
                out.push(("argc".to_owned(), args.len().to_string()));
                for (i, a) in args.into_iter().enumerate() {
                    out.push((format!("argv{i}"), a));
                }
            }
            if !os.is_empty() {
                out.push(("GOOS".to_owned(), os));
            }
            if !arch.is_empty() {
                out.push(("GOARCH".to_owned(), arch));
            }
        }
        out
    }
}

fn add_pod_args(summary: &mut ArgsSummary, pod: &MergedBuild) {
    for cf in &pod.counter_files {
        let get = |k: &str| {
            cf.args
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        summary.add(cf.os_args.as_ref(), get("GOOS"), get("GOARCH"));
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let path = dir.join(name);
    fs::write(&path, bytes)
        .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

/// Writes the merge of `pods` into `out_dir`: per build a meta file (reduced to the
/// packages `filter` keeps) and one counter file, or with `pcombine` one meta file and
/// one counter file for all. Problems go to `diags`; I/O failures are returned.
pub fn write_merged(
    pods: &[MergedBuild],
    out_dir: &Path,
    filter: Option<&PkgFilter>,
    pcombine: bool,
    diags: &mut Diagnostics,
) -> io::Result<()> {
    fs::create_dir_all(out_dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("creating output directory {}: {e}", out_dir.display()),
        )
    })?;
    if pods.is_empty() {
        diags.warn("no applicable files found in input directories");
        return Ok(());
    }
    if pcombine {
        return combine(pods, out_dir, filter, diags);
    }
    for pod in pods {
        let mut summary = ArgsSummary::default();
        add_pod_args(&mut summary, pod);
        let meta = &pod.meta;
        // Packages kept, in file order, with their new index.
        let kept: Vec<usize> = (0..meta.packages.len())
            .filter(|&i| filter.is_none_or(|f| f.matches(&meta.packages[i].path)))
            .collect();
        let hash = if filter.is_none() {
            let bytes = fs::read(&pod.meta_path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("reading {}: {e}", pod.meta_path.display()),
                )
            })?;
            write_file(out_dir, &meta_file_name(&meta.hash), &bytes)?;
            meta.hash
        } else {
            let bytes = fs::read(&pod.meta_path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("reading {}: {e}", pod.meta_path.display()),
                )
            })?;
            let blobs: Vec<&[u8]> = kept
                .iter()
                .map(|&i| &bytes[meta.blobs[i].clone()])
                .collect();
            let hash = merge_file_hash(HashAlgo::default(), blobs.iter().copied());
            let out = encode_meta_file(hash, meta.mode, meta.granularity, &blobs);
            write_file(out_dir, &meta_file_name(&hash), &out)?;
            hash
        };
        let mut records = Vec::new();
        for (new_idx, &p) in kept.iter().enumerate() {
            for f in 0..meta.packages[p].functions.len() {
                if pod.is_live(p, f) {
                    records.push(FuncRecord {
                        pkg: new_idx as u32,
                        func: f as u32,
                        counters: pod.func_counters(p, f).to_vec(),
                    });
                }
            }
        }
        let bytes = encode_counter_file(hash, &summary.take(), &records);
        write_file(out_dir, &counter_file_name(&hash, 0, now_nanos()), &bytes)?;
    }
    Ok(())
}

/// One package being rebuilt by `-pcombine`.
struct Combined<'a> {
    first: &'a PackageMeta,
    functions: Vec<FuncMeta>,
    by_hash: HashMap<[u8; 16], usize>,
    counters: BTreeMap<usize, Vec<u32>>,
}

fn combine(
    pods: &[MergedBuild],
    out_dir: &Path,
    filter: Option<&PkgFilter>,
    diags: &mut Diagnostics,
) -> io::Result<()> {
    let granularity = pods[0].meta.granularity;
    let mode = pods
        .iter()
        .filter(|p| p.meta.granularity == granularity)
        .filter_map(MergedBuild::mode)
        .max()
        .unwrap_or(CounterMode::Count);
    let mut order: Vec<Combined<'_>> = Vec::new();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    let mut summary = ArgsSummary::default();
    for pod in pods {
        if pod.meta.granularity != granularity {
            diags.error(format!(
                "counter granularity clash while reading meta-data file {}: previous file had {}, \
                 new file has {}; its data is left out",
                pod.meta_path.display(),
                pods[0].meta.granularity_name(),
                pod.meta.granularity_name()
            ));
            continue;
        }
        add_pod_args(&mut summary, pod);
        for (pi, pkg) in pod.meta.packages.iter().enumerate() {
            if filter.is_some_and(|f| !f.matches(&pkg.path)) {
                continue;
            }
            let ci = *index_of.entry(pkg.path.as_str()).or_insert_with(|| {
                order.push(Combined {
                    first: pkg,
                    functions: Vec::new(),
                    by_hash: HashMap::new(),
                    counters: BTreeMap::new(),
                });
                order.len() - 1
            });
            let c = &mut order[ci];
            for (fi, f) in pkg.functions.iter().enumerate() {
                let h = func_hash(HashAlgo::default(), f);
                let gi = *c.by_hash.entry(h).or_insert_with(|| {
                    c.functions.push(f.clone());
                    c.functions.len() - 1
                });
                if !pod.is_live(pi, fi) {
                    continue;
                }
                let src = pod.func_counters(pi, fi);
                match c.counters.get_mut(&gi) {
                    Some(dst) => {
                        if merge_counters(mode, dst, src).overflowed {
                            diags.warn(format!(
                                "uint32 overflow during counter merge of {} in {}",
                                f.name, pkg.path
                            ));
                        }
                    }
                    None => {
                        c.counters.insert(gi, src.to_vec());
                    }
                }
            }
        }
    }
    let blobs: Vec<Vec<u8>> = order
        .iter()
        .map(|c| {
            let pkg = PackageMeta {
                name: c.first.name.clone(),
                path: c.first.path.clone(),
                module_path: c.first.module_path.clone(),
                hash: [0; 16],
                functions: c.functions.clone(),
            };
            encode_package_blob(&pkg, package_hash(HashAlgo::default(), &pkg))
        })
        .collect();
    let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
    let hash = merge_file_hash(HashAlgo::default(), refs.iter().copied());
    write_file(
        out_dir,
        &meta_file_name(&hash),
        &encode_meta_file(hash, mode.to_go(), granularity, &refs),
    )?;
    let mut records = Vec::new();
    for (pi, c) in order.iter().enumerate() {
        for (&fi, counters) in &c.counters {
            records.push(FuncRecord {
                pkg: pi as u32,
                func: fi as u32,
                counters: counters.clone(),
            });
        }
    }
    let bytes = encode_counter_file(hash, &summary.take(), &records);
    write_file(out_dir, &counter_file_name(&hash, 0, now_nanos()), &bytes)
}
