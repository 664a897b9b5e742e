//! Where a store is: `--store URL` / `LIVECOV_STORE`, parsed once.

use std::path::PathBuf;

/// A store's place: an SQLite file, or a collection in a PostgreSQL database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file (`sqlite:PATH`, or a plain path).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`) and the collection
    /// inside it that this store reads and writes.
    Postgres {
        /// The connection URL as given (it may hold a password: print
        /// [`StoreLocation::display`], never this).
        url: String,
        /// The collection's name in the shared store.
        collection: String,
    },
}

impl StoreLocation {
    /// Parses a `--store` value: `postgres://…`/`postgresql://…` (the collection named
    /// `collection`), `sqlite:PATH`, or a path. An unknown `scheme://` is refused rather
    /// than taken for a file name.
    pub fn parse(spec: &str, collection: &str) -> Result<StoreLocation, String> {
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            if collection.is_empty() {
                return Err(format!(
                    "--store {}: a PostgreSQL store holds many collections; name this one \
                     (--collection-name)",
                    redact_url(spec)
                ));
            }
            return Ok(StoreLocation::Postgres {
                url: spec.to_owned(),
                collection: collection.to_owned(),
            });
        }
        if let Some(path) = spec.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("--store sqlite: names no file (sqlite:PATH)".to_owned());
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = spec.split_once("://") {
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+')
            {
                return Err(format!(
                    "--store {}: unknown store scheme {scheme:?} (expected postgres://…, \
                     sqlite:PATH or a path)",
                    redact_url(spec)
                ));
            }
        }
        if spec.is_empty() {
            return Err(
                "--store is empty (expected postgres://…, sqlite:PATH or a path)".to_owned(),
            );
        }
        Ok(StoreLocation::Sqlite(PathBuf::from(spec)))
    }

    /// The location for messages: the path, or the URL with its password redacted.
    pub fn display(&self) -> String {
        match self {
            StoreLocation::Sqlite(p) => p.display().to_string(),
            StoreLocation::Postgres { url, collection } => {
                format!("{} (collection {collection})", redact_url(url))
            }
        }
    }

    /// True for a store shared by many collections (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreLocation::Postgres { .. })
    }
}

/// `url` with any password replaced by `***`: the one in the user part
/// (`postgres://user:secret@host`) and a `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_wherever_the_url_holds_them() {
        assert_eq!(
            redact_url("postgres://u:s3cr%40t@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("postgresql://h/db?user=u&password=pw&sslmode=disable"),
            "postgresql://h/db?user=u&password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://u:p@w@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn store_values_parse_to_their_backend() {
        assert_eq!(
            StoreLocation::parse("sqlite:/x/y.db", "c").unwrap(),
            StoreLocation::Sqlite("/x/y.db".into())
        );
        assert_eq!(
            StoreLocation::parse("rel/s.db", "c").unwrap(),
            StoreLocation::Sqlite("rel/s.db".into())
        );
        let pg = StoreLocation::parse("postgres://u:pw@h/db", "run1").unwrap();
        assert!(pg.is_shared());
        assert_eq!(pg.display(), "postgres://u:***@h/db (collection run1)");
        let e = StoreLocation::parse("mysql://u:pw@h/db", "c").unwrap_err();
        assert!(
            e.contains("unknown store scheme") && !e.contains("pw"),
            "{e}"
        );
    }
}
