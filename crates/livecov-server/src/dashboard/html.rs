//! The dashboard's own pages (the list of collections); the site's pages come from
//! livecov-render. Every value from a store is escaped.

use livecov_render::IndexData;
use serde::Serialize;

use livecov_render::site::escape_html as esc;

/// One collection as listed: totals with statements counted once per build.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Listed {
    pub name: String,
    pub builds: usize,
    pub owners: usize,
    pub pods: usize,
    pub statements: u64,
    pub covered: u64,
    /// Why the store could not be read (the list still shows the others).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Why the store is incomplete (a compile did not finish).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub incomplete: String,
}

impl Listed {
    pub(crate) fn of(name: &str, index: &IndexData) -> Listed {
        let pods: std::collections::BTreeSet<&String> =
            index.owners.iter().flat_map(|o| &o.pods).collect();
        Listed {
            name: name.to_owned(),
            builds: index.builds.len(),
            owners: index.owners.len(),
            pods: pods.len(),
            statements: index.builds.values().map(|b| b.statements).sum(),
            covered: index.builds.values().map(|b| b.covered).sum(),
            error: String::new(),
            incomplete: index.incomplete.clone(),
        }
    }

    pub(crate) fn failed(name: &str, error: &str) -> Listed {
        Listed {
            name: name.to_owned(),
            error: error.to_owned(),
            ..Listed::default()
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

fn percent(covered: u64, statements: u64) -> String {
    if statements == 0 {
        "–".to_owned()
    } else {
        format!("{:.1}%", covered as f64 * 100.0 / statements as f64)
    }
}

/// The list of collections, newest first as given.
pub(crate) fn collections(list: &[Listed]) -> String {
    let mut rows = String::new();
    for c in list {
        let link = format!("c/{}/", path_segment(&c.name));
        let note = if !c.error.is_empty() {
            format!("<span class=\"badge level-low\">{}</span>", esc(&c.error))
        } else if !c.incomplete.is_empty() {
            format!(
                "<span class=\"badge level-medium\">incomplete: {}</span>",
                esc(&c.incomplete)
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr data-name=\"{name}\"><td><a href=\"{link}\">{name}</a> {note}</td>\
             <td class=\"num\">{builds}</td><td class=\"num\">{owners}</td>\
             <td class=\"num\">{pods}</td><td class=\"num\">{pct}</td>\
             <td class=\"num\">{covered} / {statements}</td></tr>\n",
            name = esc(&c.name),
            link = esc(&link),
            builds = c.builds,
            owners = c.owners,
            pods = c.pods,
            pct = percent(c.covered, c.statements),
            covered = c.covered,
            statements = c.statements,
        ));
    }
    if list.is_empty() {
        rows.push_str("<tr><td colspan=\"6\">No collection has been compiled yet.</td></tr>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"livecov {version}\">\n\
         <title>Collections</title>\n<link rel=\"stylesheet\" href=\"assets/livecov.css\">\n\
         </head>\n<body class=\"page-collections\">\n<header class=\"top\"><h1>Collections</h1>\
         <p class=\"subtitle\">{n} collection{s}</p></header>\n<main>\n\
         <div class=\"table-wrap\"><table class=\"data\" id=\"collections\">\n\
         <thead><tr><th>Collection</th><th class=\"num\">Builds</th><th class=\"num\">Owners</th>\
         <th class=\"num\">Pods</th><th class=\"num\">Coverage</th>\
         <th class=\"num\">Statements</th></tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n\
         </main>\n</body>\n</html>\n",
        version = env!("CARGO_PKG_VERSION"),
        n = list.len(),
        s = if list.len() == 1 { "" } else { "s" },
    )
}
