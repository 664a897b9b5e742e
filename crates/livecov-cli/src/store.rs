//! `--store` and `--collection-name`: which store a command reads or writes.

/// Flags of every command that opens a collection's store.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// The store: `postgres://USER@HOST:PORT/DB` (one database shared by many
    /// collections and machines; the password from the URL, PGPASSWORD or the passfile
    /// ~/.pgpass, never printed), `sqlite:PATH`, or a path [default: $LIVECOV_STORE,
    /// else <collection>/livecov.db].
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// The collection's name in a shared store [default: the collection directory's
    /// name].
    #[arg(long, value_name = "NAME")]
    pub collection_name: Option<String>,
}

impl StoreArgs {
    /// The operation's store choice: `--store`, else `$LIVECOV_STORE`, else the
    /// collection's own file.
    pub fn choice(&self) -> livecov_ops::StoreChoice {
        livecov_ops::StoreChoice {
            url: self.store.clone().or_else(|| {
                std::env::var("LIVECOV_STORE")
                    .ok()
                    .filter(|s| !s.is_empty())
            }),
            name: self.collection_name.clone(),
        }
    }
}
