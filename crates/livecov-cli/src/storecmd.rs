//! `livecov store list|prune` and `livecov history`: the catalog of collections (which
//! a store holds, with their times, labels and totals), retention, and one subject's
//! coverage across collections.

use std::path::PathBuf;

use anyhow::{bail, Result};
use livecov_model::percent_1dp;
use livecov_ops::history::{Catalog, CollectionInfo, Point, Subject};
use serde_json::{json, Map, Value};

use crate::exit::Exit;

/// Parses a `KEY=VALUE` label (an empty value is allowed: `--label KEY=` removes a label
/// on compile).
pub fn parse_label(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains('\n') && !v.contains('\n') => {
            Ok((k.to_owned(), v.to_owned()))
        }
        _ => Err(format!(
            "{s:?} is not a label: expected KEY=VALUE (cluster=prod-1), one line"
        )),
    }
}

/// Parses a label a filter matches: `KEY=VALUE` with a value.
fn parse_filter_label(s: &str) -> std::result::Result<(String, String), String> {
    match parse_label(s)? {
        (_, v) if v.is_empty() => Err(format!("{s:?}: a filter needs a value (KEY=VALUE)")),
        kv => Ok(kv),
    }
}

/// Where the collections are: `--store URL` or `--root DIR`.
#[derive(clap::Args, Debug, Clone)]
pub struct CatalogArgs {
    /// A store: `postgres://USER@HOST:PORT/DB` (every collection in it), `sqlite:PATH`
    /// or a collection's store file [default: $LIVECOV_STORE].
    #[arg(long, value_name = "URL", conflicts_with = "root")]
    pub store: Option<String>,
    /// A directory of collection directories, each with its own livecov.db (the SQLite
    /// layout: one file per collection).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

impl CatalogArgs {
    fn catalog(&self) -> Result<Catalog> {
        if let Some(root) = &self.root {
            if !root.is_dir() {
                bail!("--root {}: not a directory", root.display());
            }
            return Ok(Catalog::Directory(root.clone()));
        }
        let spec = match &self.store {
            Some(s) => s.clone(),
            None => match std::env::var("LIVECOV_STORE")
                .ok()
                .filter(|s| !s.is_empty())
            {
                Some(s) => s,
                None => {
                    bail!("which collections? give --store URL (or $LIVECOV_STORE) or --root DIR")
                }
            },
        };
        Catalog::parse(&spec).map_err(anyhow::Error::msg)
    }
}

/// Table or JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// JSON.
    Json,
}

/// `livecov store …`.
#[derive(clap::Subcommand, Debug)]
pub enum StoreCommand {
    /// List the collections of a store or a directory: newest compiled first, with
    /// their times, labels, builds and totals (each build's statements counted once).
    List(ListArgs),
    /// Remove collections by age or count (the counters, owners and inputs of each, and
    /// the layouts no remaining build refers to). Prints what it removed.
    ///
    /// A collection's age is that of its last finished compile. --max-age and
    /// --keep-last add up: a collection goes when either says so. In PostgreSQL each
    /// collection goes in one transaction; in a directory its livecov.db goes and its
    /// raw coverage/ stays (compile it again to get it back). A collection being
    /// compiled is never removed.
    Prune(PruneArgs),
}

/// Flags of `livecov store list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Where the collections are.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Only collections with this label, KEY=VALUE (repeatable, all must match).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_filter_label)]
    pub labels: Vec<(String, String)>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Flags of `livecov store prune`.
#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Where the collections are.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Remove collections last compiled longer ago than this (30d, 12h, 2w).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub max_age: Option<std::time::Duration>,
    /// Remove collections beyond the N newest.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Only collections with this label, KEY=VALUE (repeatable, all must match), are
    /// considered (and counted by --keep-last).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_filter_label)]
    pub labels: Vec<(String, String)>,
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_age(s: &str) -> std::result::Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (expected an age: 30d, 12h, 2w)"))
}

/// Flags of `livecov history`.
#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Where the collections are.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// One build (its hex id, as `report` prints it); with --file, that file of it.
    #[arg(long, value_name = "ID", conflicts_with = "owner")]
    pub build: Option<String>,
    /// One owner: NAMESPACE/TYPE/OWNER/BINARY (e.g. shop/Deployment/web/server).
    #[arg(long, value_name = "NS/TYPE/OWNER/BINARY", conflicts_with = "file")]
    pub owner: Option<String>,
    /// One file, as the builds record its path (summed over every build that has it,
    /// unless --build names one).
    #[arg(long, value_name = "PATH")]
    pub file: Option<String>,
    /// Only collections with this label, KEY=VALUE (repeatable, all must match).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_filter_label)]
    pub labels: Vec<(String, String)>,
    /// The N newest points only (0: all).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl HistoryArgs {
    fn subject(&self) -> Result<Subject> {
        Ok(match (&self.build, &self.owner, &self.file) {
            (build, None, Some(path)) => Subject::File {
                build: build.clone(),
                path: path.clone(),
            },
            (Some(build), None, None) => Subject::Build(build.clone()),
            (None, Some(owner), None) => {
                let parts: Vec<&str> = owner.splitn(4, '/').collect();
                let [namespace, owner_type, owner, binary] = parts[..] else {
                    bail!("--owner {owner:?}: expected NAMESPACE/TYPE/OWNER/BINARY");
                };
                Subject::Owner {
                    namespace: namespace.to_owned(),
                    owner_type: owner_type.to_owned(),
                    owner: owner.to_owned(),
                    binary: binary.to_owned(),
                }
            }
            (None, None, None) => Subject::Total,
            _ => bail!("--owner goes alone: not with --build or --file"),
        })
    }
}

fn labels_json(labels: &[(String, String)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn labels_text(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn print_json(v: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs `livecov store …`.
pub fn run_store(command: &StoreCommand) -> Result<Exit> {
    match command {
        StoreCommand::List(args) => list(args),
        StoreCommand::Prune(args) => prune(args),
    }
}

fn list(args: &ListArgs) -> Result<Exit> {
    let catalog = args.catalog.catalog()?;
    let collections: Vec<CollectionInfo> = catalog
        .list()
        .map_err(|e| anyhow::anyhow!("listing {}: {e}", catalog.display()))?
        .into_iter()
        .filter(|c| c.matches(&args.labels))
        .collect();
    match args.format {
        Format::Json => print_json(&Value::Array(
            collections
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "created_at": c.created_at,
                        "compiled_at": c.compiled_at,
                        "labels": labels_json(&c.labels),
                        "builds": c.builds,
                        "statements": c.statements,
                        "covered": c.covered,
                        "unreadable": c.unreadable,
                    })
                })
                .collect(),
        ))?,
        Format::Table => {
            let mut rows = vec![[
                "COLLECTION",
                "COMPILED",
                "BUILDS",
                "COVERAGE",
                "STATEMENTS",
                "LABELS",
            ]
            .map(String::from)
            .to_vec()];
            for c in &collections {
                rows.push(vec![
                    c.name.clone(),
                    match (&c.unreadable, &c.compiled_at) {
                        (Some(why), _) => format!("(unreadable: {why})"),
                        (None, Some(at)) => at.clone(),
                        (None, None) => "(unfinished)".to_owned(),
                    },
                    c.builds.to_string(),
                    format!("{}%", percent_1dp(c.covered, c.statements)),
                    format!("{}/{}", c.covered, c.statements),
                    labels_text(&c.labels),
                ]);
            }
            print!("{}", crate::cluster::report::table(&rows));
            eprintln!("{} collections in {}", collections.len(), catalog.display());
        }
    }
    Ok(Exit::Ok)
}

fn prune(args: &PruneArgs) -> Result<Exit> {
    let catalog = args.catalog.catalog()?;
    let settings = livecov_ops::retention::PruneSettings {
        max_age: args.max_age,
        keep_last: args.keep_last,
        labels: args.labels.clone(),
        dry_run: args.dry_run,
        now: None,
    };
    let summary = livecov_ops::retention::prune(&catalog, &settings)?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for p in &summary.pruned {
        match &p.outcome {
            None => println!("{verb} {} ({}, {})", p.name, p.time, p.reason),
            Some(Ok(r)) => {
                println!("{verb} {} ({}, {})", p.name, p.time, p.reason);
                for f in &r.removed {
                    println!("  removed {f}");
                }
                for k in &r.kept {
                    println!(
                        "  kept {k} (raw coverage: compile the collection again to restore it)"
                    );
                }
            }
            Some(Err(e)) => eprintln!("error: {}: not removed: {e}", p.name),
        }
    }
    let done = summary
        .pruned
        .iter()
        .filter(|p| !matches!(p.outcome, Some(Err(_))))
        .count();
    println!(
        "{verb} {done} collections and {} layouts no remaining build uses; kept {} collections",
        summary.layouts, summary.kept
    );
    Ok(if summary.failed() {
        Exit::Error
    } else {
        Exit::Ok
    })
}

/// Runs `livecov history`.
pub fn run_history(args: &HistoryArgs) -> Result<Exit> {
    let catalog = args.catalog.catalog()?;
    let subject = args.subject()?;
    let points = livecov_ops::history::history(&catalog, &subject, &args.labels, args.limit)?;
    match args.format {
        Format::Json => print_json(&Value::Array(points.iter().map(point_json).collect()))?,
        Format::Table => {
            let mut rows = vec![["TIME", "COLLECTION", "COVERAGE", "STATEMENTS", "LABELS"]
                .map(String::from)
                .to_vec()];
            for p in &points {
                rows.push(vec![
                    p.time.clone(),
                    p.collection.clone(),
                    format!("{}%", percent_1dp(p.covered, p.statements)),
                    format!("{}/{}", p.covered, p.statements),
                    labels_text(&p.labels),
                ]);
            }
            print!("{}", crate::cluster::report::table(&rows));
            if points.is_empty() {
                eprintln!(
                    "no collection of {} holds this subject{}",
                    catalog.display(),
                    if args.labels.is_empty() {
                        ""
                    } else {
                        " with these labels"
                    }
                );
            }
        }
    }
    Ok(Exit::Ok)
}

fn point_json(p: &Point) -> Value {
    json!({
        "collection": p.collection,
        "time": p.time,
        "labels": labels_json(&p.labels),
        "statements": p.statements,
        "covered": p.covered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_with_values_that_hold_equals_signs() {
        assert_eq!(parse_label("run=a=b"), Ok(("run".into(), "a=b".into())));
        assert_eq!(parse_label("run="), Ok(("run".into(), String::new())));
        assert!(parse_label("=x").is_err());
        assert!(parse_label("novalue").is_err());
        assert!(parse_filter_label("run=").is_err());
    }
}
