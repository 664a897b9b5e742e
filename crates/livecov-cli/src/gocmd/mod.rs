//! `livecov go …`: a drop-in for `go tool covdata` (textfmt, percent, func, pkglist,
//! merge, debugdump) that reads the files natively.
//!
//! Command lines use Go's flag syntax so existing scripts work unchanged. Outputs on
//! stdout and in `-o` files are byte-identical to covdata's for the same inputs. Where
//! covdata stops at the first bad file, livecov reports every bad input, still processes
//! the others, and exits with status 2.

mod build;
mod debugdump;
mod flags;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use livecov_model::{CounterMode, Diagnostics};
use rayon::prelude::*;

use crate::exit::Exit;
use flags::{Kind, Spec};
use livecov_formats::gocovdata::dir::{load, LoadOptions, MergedBuild, MetaCache};
use livecov_formats::gocovdata::pkgmatch::PkgFilter;
use livecov_formats::goprofile::covdata::Formatter;

const COMMANDS: &[(&str, &str)] = &[
    (
        "textfmt",
        "convert coverage data to the legacy text profile",
    ),
    (
        "percent",
        "print the percentage of statements covered, per package",
    ),
    ("func", "print the coverage of each function"),
    (
        "pkglist",
        "list the import paths of the instrumented packages",
    ),
    ("merge", "merge coverage data directories into one"),
    ("debugdump", "dump the coverage data in human-readable form"),
    (
        "html",
        "write an HTML page with the annotated sources (livecov addition; go tool cover -html)",
    ),
];

fn common_specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "i",
            kind: Kind::Value,
            help: "Input dirs to examine (comma separated)",
        },
        Spec {
            name: "pkg",
            kind: Kind::Value,
            help: "Restrict output to package(s) matching specified package pattern.",
        },
        Spec {
            name: "r",
            kind: Kind::Bool,
            help: "Also read sub-directories of every input directory (livecov addition)",
        },
        Spec {
            name: "v",
            kind: Kind::Value,
            help: "Verbose trace output level (accepted for compatibility)",
        },
        Spec {
            name: "cpuprofile",
            kind: Kind::Value,
            help: "Write CPU profile to specified file (accepted, ignored)",
        },
        Spec {
            name: "memprofile",
            kind: Kind::Value,
            help: "Write memory profile to specified file (accepted, ignored)",
        },
        Spec {
            name: "memprofilerate",
            kind: Kind::Value,
            help: "Set memprofile sampling rate (accepted, ignored)",
        },
        Spec {
            name: "hw",
            kind: Kind::Bool,
            help: "Panic on fatal errors (accepted, ignored)",
        },
    ]
}

fn command_specs(cmd: &str) -> Vec<Spec> {
    let mut specs = common_specs();
    match cmd {
        "textfmt" => {
            specs.push(Spec {
                name: "o",
                kind: Kind::Value,
                help: "Output text format to file ('-' for stdout; with -each, a directory)",
            });
            specs.push(Spec {
                name: "each",
                kind: Kind::Bool,
                help: "Write one profile per input directory into the -o directory, as \
                       <dir name>.txt (livecov addition)",
            });
        }
        "percent" => specs.push(Spec {
            name: "o",
            kind: Kind::Value,
            help: "Output text format to file",
        }),
        "html" => {
            specs.push(Spec {
                name: "o",
                kind: Kind::Value,
                help: "Output directory (default livecov-html); open <dir>/index.html",
            });
            specs.push(Spec {
                name: "src",
                kind: Kind::Value,
                help: "Directory holding the sources: the module or workspace root (default .)",
            });
            specs.push(Spec {
                name: "force",
                kind: Kind::Bool,
                help: "Write into a non-empty -o directory livecov did not write (no \
                       .livecov-manifest.json), overwriting files there",
            });
        }
        "debugdump" => specs.push(Spec {
            name: "live",
            kind: Kind::Bool,
            help: "Select only live (executed) functions for dump output.",
        }),
        "merge" => {
            specs.push(Spec {
                name: "o",
                kind: Kind::Value,
                help: "Output directory to write",
            });
            specs.push(Spec {
                name: "pcombine",
                kind: Kind::Bool,
                help: "Combine profiles derived from distinct program executables",
            });
        }
        _ => {}
    }
    specs
}

/// Help for `livecov go`.
pub fn overview() -> String {
    let mut s = String::from(
        "usage: livecov go <command> [flags] -i=<dir1,dir2,...>\n\n\
         A drop-in for `go tool covdata` that reads Go coverage files (covmeta.*, \
         covcounters.*) natively, with no Go toolchain. The same command lines work \
         unchanged (-i=a,b, -o=x, -pkg=p, single or double dash) and print \
         byte-identical output.\n\nCommands:\n",
    );
    for (name, what) in COMMANDS {
        s.push_str(&format!("  {name:<10} {what}\n"));
    }
    // Building programs that serve their coverage while they run (not covdata's).
    s.push_str(
        "  build      go build -cover with livecov's agent added to every main package\n  \
         inject     write the agent (livecov_agent.go) into a main package's directory\n",
    );
    s.push_str(
        "\nlivecov additions: -o=- writes to stdout; -r reads sub-directories; \
         textfmt -each writes one profile per input directory.\n\
         Bad inputs are reported with the file and byte offset; the other inputs are \
         still processed and the exit status is 2.\n\n\
         Run 'livecov go <command> -h' for the flags of a command.\n",
    );
    s
}

fn usage(cmd: &str) -> String {
    let example = match cmd {
        "textfmt" => "livecov go textfmt -i=dir1,dir2 -o=out.txt",
        "merge" => "livecov go merge -i=dir1,dir2 -o=outdir [-pcombine]",
        _ => "livecov go CMD -i=dir1,dir2",
    };
    format!(
        "usage: {}\n\n{}\nFlags:\n{}",
        example.replace("CMD", cmd),
        COMMANDS
            .iter()
            .find(|(n, _)| *n == cmd)
            .map(|(_, w)| format!("{w}\n"))
            .unwrap_or_default(),
        flags::usage(&command_specs(cmd))
    )
}

/// Runs `livecov go <args>`.
pub fn run(args: &[String]) -> Exit {
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{}", overview());
        return Exit::Usage;
    };
    let cmd = cmd.as_str();
    if matches!(cmd, "-h" | "--help" | "-help" | "help") {
        print!("{}", overview());
        return Exit::Ok;
    }
    match cmd {
        "build" => return build::build(rest),
        "inject" => return build::inject(rest),
        "toolexec" => return build::toolexec(rest),
        _ => {}
    }
    if !COMMANDS.iter().any(|(n, _)| *n == cmd) {
        eprintln!("error: unknown command {cmd:?}\n");
        eprint!("{}", overview());
        return Exit::Usage;
    }
    let specs = command_specs(cmd);
    let parsed = match flags::parse(rest, &specs) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            eprint!("{}", usage(cmd));
            return Exit::Usage;
        }
    };
    if parsed.help() {
        print!("{}", usage(cmd));
        return Exit::Ok;
    }
    if !parsed.rest.is_empty() {
        eprintln!("error: unexpected arguments {:?}\n", parsed.rest);
        eprint!("{}", usage(cmd));
        return Exit::Usage;
    }
    let Some(inputs) = parsed.value("i").filter(|v| !v.is_empty()) else {
        eprintln!("error: select input directories with '-i' option\n");
        eprint!("{}", usage(cmd));
        return Exit::Usage;
    };
    let mut dirs = Vec::new();
    for d in inputs.split(',') {
        if d.is_empty() {
            eprintln!("error: empty input directory name in -i={inputs}");
            return Exit::Usage;
        }
        dirs.push(PathBuf::from(d));
    }
    // Like covdata, an empty -pkg applies no filter (while -pkg=, matches nothing).
    let filter = parsed
        .value("pkg")
        .filter(|v| !v.is_empty())
        .map(PkgFilter::parse);
    let opts = LoadOptions {
        recursive: parsed.bool("r"),
    };
    let out = parsed.value("o");
    let cache = MetaCache::default();
    let result = match cmd {
        "textfmt" if parsed.bool("each") => {
            let Some(out) = out else {
                eprintln!("error: select an output directory with '-o' option\n");
                eprint!("{}", usage(cmd));
                return Exit::Usage;
            };
            textfmt_each(&dirs, Path::new(out), opts, filter.as_ref(), &cache)
        }
        "textfmt" | "percent" | "func" | "pkglist" => {
            if cmd == "textfmt" && out.is_none() {
                eprintln!("error: select output file name with '-o' option\n");
                eprint!("{}", usage(cmd));
                return Exit::Usage;
            }
            report(cmd, &dirs, out, opts, filter.as_ref(), &cache)
        }
        "html" => {
            let out = out.filter(|o| !o.is_empty()).unwrap_or("livecov-html");
            let src = parsed.value("src").filter(|s| !s.is_empty()).unwrap_or(".");
            html(
                &dirs,
                Path::new(out),
                Path::new(src),
                parsed.bool("force"),
                opts,
                filter.as_ref(),
                &cache,
            )
        }
        "debugdump" => {
            let loaded = load(&dirs, opts, &cache);
            let mut d = loaded.diags;
            let stdout = io::stdout();
            let header: Vec<&str> = std::iter::once("livecov go debugdump")
                .chain(rest.iter().map(String::as_str))
                .collect();
            debugdump::write(
                &mut stdout.lock(),
                &header.join(" "),
                &loaded.builds,
                filter.as_ref(),
                parsed.bool("live"),
                &mut d,
            )
            .map(|()| d)
        }
        "merge" => {
            let Some(out) = out.filter(|o| !o.is_empty()) else {
                eprintln!("error: select output directory with '-o' option\n");
                eprint!("{}", usage(cmd));
                return Exit::Usage;
            };
            let loaded = load(&dirs, opts, &cache);
            let mut d = loaded.diags;
            livecov_formats::gocovdata::merge::write_merged(
                &loaded.builds,
                Path::new(out),
                filter.as_ref(),
                parsed.bool("pcombine"),
                &mut d,
            )
            .map(|()| d)
        }
        _ => unreachable!("command list checked above"),
    };
    finish(result)
}

/// Prints the diagnostics and maps the outcome to an exit status.
fn finish(result: io::Result<Diagnostics>) -> Exit {
    match result {
        Ok(diags) => {
            for d in diags.iter() {
                eprintln!("{d}");
            }
            if diags.has_errors() {
                Exit::Error
            } else {
                Exit::Ok
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Error
        }
    }
}

/// Opens `-o`: a file, or stdout for `-`.
fn open_output(path: &str) -> io::Result<Box<dyn Write>> {
    if path == "-" {
        return Ok(Box::new(io::BufWriter::new(io::stdout())));
    }
    let f = fs::File::create(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("unable to open output file {path:?}: {e}"),
        )
    })?;
    Ok(Box::new(io::BufWriter::with_capacity(1 << 20, f)))
}

/// Builds the formatter over the pods, applying Go's mode rules: `textfmt` rejects a
/// pod whose mode differs from the first (strict); the reports accept it (relaxed).
/// A granularity clash is an error for every command.
fn build_formatter<'a>(
    cmd: &str,
    cache: &'a MetaCache,
    pods: &'a [MergedBuild],
    filter: Option<&PkgFilter>,
    diags: &mut Diagnostics,
) -> Option<Formatter<'a>> {
    let first = pods.first()?;
    let mode = first.mode().unwrap_or(CounterMode::Count);
    let granularity = first.meta.granularity;
    let mut fmt = Formatter::new(mode, &cache.orders);
    let mut prev_mode = mode;
    for pod in pods {
        let pod_mode = pod.mode().unwrap_or(CounterMode::Count);
        if pod.meta.granularity != granularity {
            diags.error(format!(
                "counter granularity clash while reading meta-data file {}: previous file had {}, \
                 new file has {}; its data is left out",
                pod.meta_path.display(),
                first.meta.granularity_name(),
                pod.meta.granularity_name()
            ));
            continue;
        }
        if cmd == "textfmt" && pod_mode != mode {
            diags.error(format!(
                "counter mode clash while reading meta-data file {}: previous file had {prev_mode}, \
                 new file has {pod_mode}; its data is left out (a text profile has one mode; \
                 hint: use percent or func, which accept mixed modes)",
                pod.meta_path.display(),
            ));
            continue;
        }
        prev_mode = pod_mode;
        fmt.add_pod(pod, filter);
    }
    Some(fmt)
}

fn report(
    cmd: &str,
    dirs: &[PathBuf],
    out: Option<&str>,
    opts: LoadOptions,
    filter: Option<&PkgFilter>,
    cache: &MetaCache,
) -> io::Result<Diagnostics> {
    // Like covdata, create the output file before reading, so it exists (empty) even
    // when nothing can be read.
    let mut text_out = match out {
        Some(o) if !o.is_empty() => Some(open_output(o)?),
        _ => None,
    };
    let loaded = load(dirs, opts, cache);
    let mut diags = loaded.diags;
    if loaded.builds.is_empty() {
        diags.warn("no applicable files found in input directories");
    }
    let fmt = build_formatter(cmd, cache, &loaded.builds, filter, &mut diags);
    let stdout = io::stdout();
    let mut so = io::BufWriter::new(stdout.lock());
    if let Some(fmt) = &fmt {
        match cmd {
            "percent" => fmt.write_percent(&mut so)?,
            "func" => fmt.write_func(&mut so)?,
            "pkglist" => {
                for p in fmt.package_paths() {
                    writeln!(so, "{p}")?;
                }
            }
            _ => {}
        }
        so.flush()?;
        if let Some(w) = text_out.as_mut() {
            fmt.write_textfmt(w)?;
        }
    }
    if let Some(mut w) = text_out {
        w.flush()?;
    }
    Ok(diags)
}

/// `html`: the merged profile of the inputs as one build page with annotated sources.
fn html(
    dirs: &[PathBuf],
    out: &Path,
    src: &Path,
    force: bool,
    opts: LoadOptions,
    filter: Option<&PkgFilter>,
    cache: &MetaCache,
) -> io::Result<Diagnostics> {
    // The source trees are walked while the coverage is read: neither needs the other.
    let src_root = src.to_path_buf();
    let sources =
        std::thread::spawn(move || livecov_ops::site::sources::local_sources(&src_root, true));
    let loaded = load(dirs, opts, cache);
    let mut diags = loaded.diags;
    if loaded.builds.is_empty() {
        diags.error("no applicable files found in input directories; nothing to render");
        return Ok(diags);
    }
    let page = livecov_ops::site::local::go_page(&loaded.builds, filter, &mut diags);
    let sources = match sources.join() {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            diags.error(format!("{e:#}"));
            return Ok(diags);
        }
        Err(_) => {
            diags.error("indexing the sources failed");
            return Ok(diags);
        }
    };
    let rendered = livecov_ops::site::local::render_files(
        page.files,
        &page.mode.to_string(),
        &page.title,
        &page.build,
        out,
        src,
        sources,
        force,
    );
    match rendered {
        Ok(site) => crate::site::report_local(&site),
        Err(e) => diags.error(format!("{e:#}")),
    }
    Ok(diags)
}

/// `textfmt -each`: one text profile per input directory, decoding each distinct layout
/// once for the whole run.
fn textfmt_each(
    dirs: &[PathBuf],
    out_dir: &Path,
    opts: LoadOptions,
    filter: Option<&PkgFilter>,
    cache: &MetaCache,
) -> io::Result<Diagnostics> {
    fs::create_dir_all(out_dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("creating output directory {}: {e}", out_dir.display()),
        )
    })?;
    let mut diags = Diagnostics::new();
    let mut names = std::collections::BTreeMap::new();
    for d in dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "input".to_owned());
        // The first directory of a name keeps it (`insert` would keep the last).
        match names.entry(name) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(d);
            }
            std::collections::btree_map::Entry::Occupied(e) => diags.error(format!(
                "input directories {} and {} would both write {}.txt; the second is skipped",
                e.get().display(),
                d.display(),
                e.key()
            )),
        }
    }
    let results: Vec<io::Result<Diagnostics>> = names
        .par_iter()
        .map(|(name, dir)| {
            let loaded = load(std::slice::from_ref(*dir), opts, cache);
            let mut d = loaded.diags;
            let path = out_dir.join(format!("{name}.txt"));
            let mut w = io::BufWriter::new(fs::File::create(&path)?);
            if let Some(fmt) = build_formatter("textfmt", cache, &loaded.builds, filter, &mut d) {
                fmt.write_textfmt(&mut w)?;
            }
            w.flush()?;
            Ok(d)
        })
        .collect();
    for r in results {
        diags.extend(r?);
    }
    Ok(diags)
}
