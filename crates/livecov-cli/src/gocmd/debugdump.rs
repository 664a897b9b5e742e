//! `debugdump`: the same information as `go tool covdata debugdump`, in its layout
//! (spec §5.10; Go declares the format unstable, so it is not compared byte for byte).

use std::io::{self, Write};

use livecov_model::Diagnostics;

use livecov_formats::gocovdata::dir::MergedBuild;
use livecov_formats::gocovdata::pkgmatch::PkgFilter;

pub fn write(
    w: &mut dyn Write,
    command_line: &str,
    pods: &[MergedBuild],
    filter: Option<&PkgFilter>,
    live_only: bool,
    _diags: &mut Diagnostics,
) -> io::Result<()> {
    let mut w = io::BufWriter::new(w);
    writeln!(
        w,
        "/* WARNING: the format of this dump is not stable and is"
    )?;
    writeln!(w, " * expected to change from one Go release to the next.")?;
    writeln!(w, " *")?;
    writeln!(w, " * produced by:")?;
    writeln!(w, " *\t{command_line}")?;
    writeln!(w, " */")?;
    let (mut total, mut covered) = (0u64, 0u64);
    for pod in pods {
        let meta = &pod.meta;
        writeln!(w, "Cover mode: {}", meta.mode_name())?;
        writeln!(w, "Cover granularity: {}", meta.granularity_name())?;
        for cf in &pod.counter_files {
            write!(w, "data file {}", cf.path.display())?;
            let arg = |k: &str| cf.args.iter().find(|(key, _)| key == k).map(|(_, v)| v);
            if let Some(v) = arg("GOOS").filter(|v| !v.is_empty()) {
                write!(w, " GOOS={v}")?;
            }
            if let Some(v) = arg("GOARCH").filter(|v| !v.is_empty()) {
                write!(w, " GOARCH={v}")?;
            }
            if let Some(a) = cf.os_args.as_ref().filter(|a| !a.is_empty()) {
                writeln!(w, "  program args: [{}]", a.join(" "))?;
            }
            writeln!(w)?;
        }
        for (pi, pkg) in meta.packages.iter().enumerate() {
            if filter.is_some_and(|f| !f.matches(&pkg.path)) {
                continue;
            }
            let mut preamble = false;
            for (fi, func) in pkg.functions.iter().enumerate() {
                let live = pod.is_live(pi, fi);
                let show = live || !live_only;
                if show {
                    if !preamble {
                        writeln!(w, "\nPackage path: {}", pkg.path)?;
                        writeln!(w, "Package name: {}", pkg.name)?;
                        writeln!(w, "Module path: {}", pkg.module_path)?;
                        preamble = true;
                    }
                    writeln!(w, "\nFunc: {}", func.name)?;
                    writeln!(w, "Srcfile: {}", func.file)?;
                    writeln!(w, "Literal: {}", func.lit)?;
                }
                let counts = pod.func_counters(pi, fi);
                for (i, (u, &c)) in func.units.iter().zip(counts).enumerate() {
                    if show {
                        writeln!(
                            w,
                            "{i}: L{}:C{} -- L{}:C{} NS={} = {c}",
                            u.start_line, u.start_col, u.end_line, u.end_col, u.stmts
                        )?;
                    }
                    total += u64::from(u.stmts);
                    if c != 0 {
                        covered += u64::from(u.stmts);
                    }
                }
            }
        }
    }
    writeln!(w, "totalStmts: {total} coveredStmts: {covered}")?;
    w.flush()
}
