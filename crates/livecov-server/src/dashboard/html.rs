//! The dashboard's own pages (the list of collections); the site's pages come from
//! livecov-render. Every value from a store is escaped.

use livecov_store::catalog::CollectionInfo;
use serde::Serialize;

pub(crate) use livecov_render::site::escape_html as esc;

/// One collection as listed: the catalog's figures (statements counted once per build).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Listed {
    pub name: String,
    pub created_at: String,
    pub compiled_at: Option<String>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub builds: u64,
    pub statements: u64,
    pub covered: u64,
    /// Why its store could not be read; absent when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

impl Listed {
    pub(crate) fn of(c: &CollectionInfo) -> Listed {
        Listed {
            name: c.name.clone(),
            created_at: c.created_at.clone(),
            compiled_at: c.compiled_at.clone(),
            labels: c.labels.iter().cloned().collect(),
            builds: c.builds,
            statements: c.statements,
            covered: c.covered,
            unreadable: c.unreadable.clone(),
        }
    }
}

/// `s` as one URL path segment (percent-encoded but for unreserved characters).
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn percent(covered: u64, statements: u64) -> String {
    if statements == 0 {
        "–".to_owned()
    } else {
        format!("{:.1}%", covered as f64 * 100.0 / statements as f64)
    }
}

/// A time as the catalog gives it, to the second.
fn short_time(t: &str) -> String {
    match t.split_once('.') {
        Some((head, _)) => format!("{head}Z"),
        None => t.to_owned(),
    }
}

/// The shell of a dashboard page (its own, not the site's): title, body, the stylesheet.
pub(crate) fn shell(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"livecov {version}\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/assets/livecov.css\">\n\
         </head>\n<body class=\"page-dashboard\">\n{body}</body>\n</html>\n",
        version = env!("CARGO_PKG_VERSION"),
        title = esc(title),
    )
}

/// The list of collections, newest first as given, with a form to compare two.
pub(crate) fn collections(list: &[Listed]) -> String {
    let mut rows = String::new();
    let mut options = String::new();
    for c in list {
        let link = format!("/c/{}/", path_segment(&c.name));
        let labels: Vec<String> = c
            .labels
            .iter()
            .map(|(k, v)| format!("<span class=\"badge\">{}={}</span>", esc(k), esc(v)))
            .collect();
        let when = c.compiled_at.as_deref().unwrap_or(&c.created_at);
        let note = match (&c.unreadable, &c.compiled_at) {
            (Some(why), _) => format!(
                " <span class=\"badge level-high\" title=\"{}\">unreadable store</span>",
                esc(why)
            ),
            (None, None) => {
                " <span class=\"badge level-medium\">not compiled to the end</span>".to_owned()
            }
            (None, Some(_)) => String::new(),
        };
        rows.push_str(&format!(
            "<tr data-name=\"{name}\"><td><a href=\"{link}\">{name}</a>{note}</td>\
             <td>{when}</td><td>{labels}</td>\
             <td class=\"num\">{builds}</td><td class=\"num\">{pct}</td>\
             <td class=\"num\">{covered} / {statements}</td></tr>\n",
            name = esc(&c.name),
            link = esc(&link),
            when = esc(&short_time(when)),
            labels = labels.join(" "),
            builds = c.builds,
            pct = percent(c.covered, c.statements),
            covered = c.covered,
            statements = c.statements,
        ));
        options.push_str(&format!(
            "<option value=\"{n}\">{n}</option>",
            n = esc(&c.name)
        ));
    }
    if list.is_empty() {
        rows.push_str("<tr><td colspan=\"6\">No collection has been compiled yet.</td></tr>\n");
    }
    let body = format!(
        "<header class=\"top\"><h1>Collections</h1>\
         <p class=\"subtitle\">{n} collection{s} · <a href=\"/history\">history of the total</a></p>\
         </header>\n<main>\n\
         <form class=\"filters\" action=\"/compare\" method=\"get\">Compare \
         <select name=\"a\" aria-label=\"earlier\">{options}</select> with \
         <select name=\"b\" aria-label=\"later\">{options}</select> \
         <button type=\"submit\">Compare</button></form>\n\
         <div class=\"table-wrap\"><table class=\"data\" id=\"collections\">\n\
         <thead><tr><th>Collection</th><th>Compiled</th><th>Labels</th>\
         <th class=\"num\">Builds</th><th class=\"num\">Coverage</th>\
         <th class=\"num\">Statements</th></tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n\
         </main>\n",
        n = list.len(),
        s = if list.len() == 1 { "" } else { "s" },
    );
    shell("Collections", &body)
}
