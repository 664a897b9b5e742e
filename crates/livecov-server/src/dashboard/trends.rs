//! History and comparison pages: one subject (the total, a build, an owner, a file)
//! across the collections (`/history`, `/api/history`), and what changed between two
//! collections (`/compare`, `/api/compare`), from `ops::history` and `ops::compare`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use livecov_ops::diff::CoverageInput;
use livecov_ops::history::{Point, Subject};
use serde::Deserialize;

use super::html::{esc, path_segment, percent, shell};
use super::{blocking, content, json, Answer, Dashboard, Failure, HTML};

/// `/history` and `/api/history` take one of `build`, `owner`
/// (`NAMESPACE/TYPE/OWNER/BINARY`) or `file` (with `in=BUILD` for one build's copy),
/// `label=k=v,k2=v2` and `limit`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct HistoryQuery {
    build: Option<String>,
    owner: Option<String>,
    file: Option<String>,
    #[serde(rename = "in")]
    in_build: Option<String>,
    label: Option<String>,
    limit: Option<usize>,
}

impl HistoryQuery {
    fn subject(&self) -> Result<(Subject, String), Failure> {
        Ok(match (&self.build, &self.owner, &self.file) {
            (Some(b), None, None) => (Subject::Build(b.clone()), format!("build {b}")),
            (None, Some(o), None) => {
                let parts: Vec<&str> = o.splitn(4, '/').collect();
                let [namespace, owner_type, owner, binary] = parts[..] else {
                    return Err(Failure::bad_request(
                        "owner=NAMESPACE/TYPE/OWNER/BINARY (an empty OWNER is allowed)",
                    ));
                };
                (
                    Subject::Owner {
                        namespace: namespace.to_owned(),
                        owner_type: owner_type.to_owned(),
                        owner: owner.to_owned(),
                        binary: binary.to_owned(),
                    },
                    format!("owner {o}"),
                )
            }
            (None, None, Some(f)) => (
                Subject::File {
                    build: self.in_build.clone(),
                    path: f.clone(),
                },
                match &self.in_build {
                    Some(b) => format!("file {f} of build {b}"),
                    None => format!("file {f}"),
                },
            ),
            (None, None, None) => (Subject::Total, "the total".to_owned()),
            _ => {
                return Err(Failure::bad_request(
                    "one of build=, owner= or file= (or none, for the total)",
                ))
            }
        })
    }

    fn labels(&self) -> Result<Vec<(String, String)>, Failure> {
        let Some(spec) = &self.label else {
            return Ok(Vec::new());
        };
        spec.split(',')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| Failure::bad_request(format!("label {kv:?} is not k=v")))
            })
            .collect()
    }
}

async fn points(d: &Arc<Dashboard>, q: &HistoryQuery) -> Result<(String, Vec<Point>), Failure> {
    let (subject, what) = q.subject()?;
    let labels = q.labels()?;
    let limit = q.limit.unwrap_or(0);
    let d = d.clone();
    let points = blocking(move || {
        livecov_ops::history::history(d.settings.collections.catalog(), &subject, &labels, limit)
            .map_err(|e| Failure::internal(format!("{e:#}")))
    })
    .await?;
    Ok((what, points))
}

pub(crate) async fn api_history(
    State(d): State<Arc<Dashboard>>,
    Query(q): Query<HistoryQuery>,
) -> Answer {
    let (what, points) = points(&d, &q).await?;
    let list: Vec<serde_json::Value> = points
        .iter()
        .map(|p| {
            serde_json::json!({
                "collection": p.collection,
                "time": p.time,
                "labels": p.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "statements": p.statements,
                "covered": p.covered,
            })
        })
        .collect();
    json(&serde_json::json!({ "subject": what, "points": list }))
}

/// An SVG line of coverage (0-100 %) over the points, oldest left.
fn chart(points: &[Point]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    const PAD: f64 = 28.0;
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            W / 2.0
        } else {
            PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |p: &Point| {
        let pct = if p.statements == 0 {
            0.0
        } else {
            p.covered as f64 / p.statements as f64
        };
        H - PAD - (H - 2.0 * PAD) * pct
    };
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p)))
        .collect();
    let mut dots = String::new();
    for (i, p) in points.iter().enumerate() {
        dots.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\"><title>{}: {} ({})</title></circle>",
            x(i),
            y(p),
            esc(&p.collection),
            percent(p.covered, p.statements),
            esc(&p.time)
        ));
    }
    format!(
        "<svg class=\"trend\" id=\"trend\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" \
         role=\"img\" aria-label=\"coverage over time\">\
         <line x1=\"{PAD}\" y1=\"{top}\" x2=\"{r}\" y2=\"{top}\" stroke=\"#ccc\"/>\
         <line x1=\"{PAD}\" y1=\"{bottom}\" x2=\"{r}\" y2=\"{bottom}\" stroke=\"#ccc\"/>\
         <text x=\"2\" y=\"{top}\" font-size=\"10\">100%</text>\
         <text x=\"2\" y=\"{bottom}\" font-size=\"10\">0%</text>\
         <polyline fill=\"none\" stroke=\"#2a7ab0\" stroke-width=\"2\" points=\"{line}\"/>\
         <g fill=\"#2a7ab0\">{dots}</g></svg>",
        top = PAD,
        bottom = H - PAD,
        r = W - PAD,
        line = line.join(" "),
    )
}

pub(crate) async fn history_page(
    State(d): State<Arc<Dashboard>>,
    Query(q): Query<HistoryQuery>,
) -> Answer {
    let (what, points) = points(&d, &q).await?;
    let mut rows = String::new();
    for p in points.iter().rev() {
        let labels: Vec<String> = p
            .labels
            .iter()
            .map(|(k, v)| format!("<span class=\"badge\">{}={}</span>", esc(k), esc(v)))
            .collect();
        rows.push_str(&format!(
            "<tr data-collection=\"{c}\"><td><a href=\"/c/{seg}/\">{c}</a></td><td>{t}</td>\
             <td>{labels}</td><td class=\"num\">{pct}</td>\
             <td class=\"num\">{cov} / {st}</td></tr>\n",
            c = esc(&p.collection),
            seg = path_segment(&p.collection),
            t = esc(&p.time),
            labels = labels.join(" "),
            pct = percent(p.covered, p.statements),
            cov = p.covered,
            st = p.statements,
        ));
    }
    if points.is_empty() {
        rows.push_str("<tr><td colspan=\"5\">No collection holds it.</td></tr>\n");
    }
    let body = format!(
        "<header class=\"top\"><h1>History of {what}</h1><p class=\"subtitle\">{n} \
         collection{s}, oldest left · <a href=\"/\">all collections</a></p></header>\n<main>\n\
         {chart}\n<div class=\"table-wrap\"><table class=\"data\" id=\"history\">\n<thead><tr>\
         <th>Collection</th><th>Compiled</th><th>Labels</th><th class=\"num\">Coverage</th>\
         <th class=\"num\">Statements</th></tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n\
         </main>\n",
        what = esc(&what),
        n = points.len(),
        s = if points.len() == 1 { "" } else { "s" },
        chart = chart(&points),
    );
    Ok(content(HTML, shell(&format!("History of {what}"), &body)))
}

/// `/compare?a=NAME&b=NAME`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CompareQuery {
    a: String,
    b: String,
}

async fn report(
    d: &Arc<Dashboard>,
    q: &CompareQuery,
) -> Result<livecov_formats::compare::CompareReport, Failure> {
    let input = |name: &str| -> Result<CoverageInput, Failure> {
        let (dir, store) = d
            .settings
            .collections
            .open(name)
            .ok_or_else(|| Failure::not_found(format!("no collection named {name:?}")))?;
        Ok(CoverageInput::Collection {
            dir,
            sources: d.settings.sources.clone(),
            store,
        })
    };
    let settings = livecov_ops::compare::CompareSettings {
        a: input(&q.a)?,
        b: input(&q.b)?,
        changes: None,
        strip_prefixes: Vec::new(),
        python: Default::default(),
    };
    let (a, b) = (q.a.clone(), q.b.clone());
    let mut r = blocking(move || {
        livecov_ops::compare::compare(&settings, &livecov_ops::Silent)
            .map_err(|e| Failure::bad_request(format!("{e:#}")))
    })
    .await?;
    r.a_label = a;
    r.b_label = b;
    Ok(r)
}

pub(crate) async fn api_compare(
    State(d): State<Arc<Dashboard>>,
    Query(q): Query<CompareQuery>,
) -> Answer {
    let r = report(&d, &q).await?;
    json(&livecov_formats::compare::to_json(&r))
}

fn pair(side: Option<(u64, u64)>) -> String {
    match side {
        Some((st, cov)) => format!(
            "{} <span class=\"muted\">{cov} / {st}</span>",
            percent(cov, st)
        ),
        None => "–".to_owned(),
    }
}

pub(crate) async fn compare_page(
    State(d): State<Arc<Dashboard>>,
    Query(q): Query<CompareQuery>,
) -> Result<Response, Failure> {
    let r = report(&d, &q).await?;
    let mut builds = String::new();
    for g in &r.builds {
        builds.push_str(&format!(
            "<tr data-build=\"{id}\"><td><a href=\"/history?build={id}\">{id}</a></td>\
             <td class=\"num\">{a}</td><td class=\"num\">{b}</td></tr>\n",
            id = esc(&g.name),
            a = pair(g.a),
            b = pair(g.b),
        ));
    }
    let mut owners = String::new();
    for g in &r.owners {
        owners.push_str(&format!(
            "<tr data-owner=\"{o}\"><td>{o}</td><td class=\"num\">{a}</td>\
             <td class=\"num\">{b}</td></tr>\n",
            o = esc(&g.name),
            a = pair(g.a),
            b = pair(g.b),
        ));
    }
    let mut files = String::new();
    for f in &r.files {
        let ratio = |x: &Option<livecov_formats::diffcov::Ratio>| {
            x.as_ref()
                .map_or("–".to_owned(), |x| format!("{} / {}", x.covered, x.lines))
        };
        files.push_str(&format!(
            "<tr data-file=\"{p}\"><td>{p}</td><td class=\"num\">{a}</td><td class=\"num\">{b}</td>\
             <td class=\"num\">{up}</td><td class=\"num\">{down}</td></tr>\n",
            p = esc(&f.path),
            a = ratio(&f.a),
            b = ratio(&f.b),
            up = f.newly_covered.len(),
            down = f.newly_uncovered.len(),
        ));
    }
    let moved = r.moved(None);
    let body = format!(
        "<header class=\"top\"><h1>{a} → {b}</h1><p class=\"subtitle\">lines {ac} / {al} → {bc} / {bl} · \
         {up} newly covered, {down} newly uncovered in {nf} file{s} · \
         <a href=\"/\">all collections</a></p></header>\n<main>\n\
         <h2>Builds</h2><div class=\"table-wrap\"><table class=\"data\" id=\"compare-builds\">\
         <thead><tr><th>Build</th><th class=\"num\">{a}</th><th class=\"num\">{b}</th></tr></thead>\
         <tbody>{builds}</tbody></table></div>\n\
         <h2>Owners</h2><div class=\"table-wrap\"><table class=\"data\" id=\"compare-owners\">\
         <thead><tr><th>Owner</th><th class=\"num\">{a}</th><th class=\"num\">{b}</th></tr></thead>\
         <tbody>{owners}</tbody></table></div>\n\
         <h2>Files</h2><div class=\"table-wrap\"><table class=\"data\" id=\"compare-files\">\
         <thead><tr><th>File</th><th class=\"num\">lines {a}</th><th class=\"num\">lines {b}</th>\
         <th class=\"num\">newly covered</th><th class=\"num\">newly uncovered</th></tr></thead>\
         <tbody>{files}</tbody></table></div>\n</main>\n",
        a = esc(&q.a),
        b = esc(&q.b),
        ac = r.a.covered,
        al = r.a.lines,
        bc = r.b.covered,
        bl = r.b.lines,
        up = moved.newly_covered,
        down = moved.newly_uncovered,
        nf = moved.files,
        s = if moved.files == 1 { "" } else { "s" },
    );
    Ok(content(HTML, shell(&format!("{} → {}", q.a, q.b), &body)))
}
