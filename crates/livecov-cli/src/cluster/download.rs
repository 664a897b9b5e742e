//! `livecov cluster download`: a producer bucket (or a copy of it) into a collection.
//!
//! Flags first (clap), then [`Settings`]: the one source URL the library downloads from,
//! whether it was given as `--url` or as the older tool's `--bucket`/`--prefix`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use livecov_ops::download::{download, DownloadOptions};

use crate::exit::Exit;
use crate::progress::TermReporter;

/// Flags of `livecov cluster download`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Download the coverage producer's objects into a collection",
    long_about = "Download the coverage producer's objects (covmeta, covcounters, info.json) \
into <collection>/coverage/, one directory per process instance.\n\n\
The source holds the producer's layout below its prefix:\n  \
{host}/{namespace}/{pod}/{container}/{discoveryTime}/{image}/{binary}/<file>   (pods)\n  \
{host}/_host_/{discoveryTime}/{binary}/<file>                                 (host processes)\n\
Each instance goes to <host>-<ns>-<pod>-<container>-<binary>-<discoveryTime> (or \
<host>-_host_-<binary>-<discoveryTime>), names longer than 200 bytes shortened with an MD5 \
suffix. Every instance is kept (a restarted container gets a directory of its own), both \
counter toggles (.1 and .2) are kept, and metadata.json is rewritten when the objects \
changed. Objects whose size and ETag are unchanged since the last run are not downloaded \
again (.livecov-objects.json records them).\n\n\
Keys at other depths are listed in the summary as skipped. Failed objects are retried, \
then reported; the others are still downloaded, and the exit status is 2.\n\n\
Credentials: for s3:// the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL, web identity, instance metadata) and \
profiles of ~/.aws/credentials and ~/.aws/config (--profile, AWS_PROFILE, or the default \
profile when no keys are in the environment: static keys, credential_process, region, \
endpoint_url); for gs:// the GOOGLE_* variables (GOOGLE_SERVICE_ACCOUNT, \
GOOGLE_APPLICATION_CREDENTIALS); for az:// the AZURE_* variables (AZURE_STORAGE_ACCOUNT_NAME, \
AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_USE_EMULATOR, …).",
    after_help = "Examples:\n  \
livecov cluster download --collection run1 --bucket art-ocp-code-coverage \\\n      \
--prefix openshift-ci/coverage/my-cluster --profile saml --region us-east-1\n  \
livecov cluster download --collection run1 --url gs://my-bucket/coverage/my-cluster\n  \
livecov cluster download --collection run1 --url s3://coverage/my-cluster \\\n      \
--endpoint http://127.0.0.1:9000\n  \
livecov cluster download --collection run1 --url ./mirror/openshift-ci/coverage/my-cluster"
)]
pub struct DownloadArgs {
    /// The collection directory; files go to <DIR>/coverage/<instance dir>/.
    #[arg(long, value_name = "DIR")]
    pub collection: PathBuf,

    /// S3 bucket of the producer (the older tool's flag; with --prefix, the same as
    /// --url s3://BUCKET/PREFIX).
    #[arg(long, value_name = "BUCKET", conflicts_with = "url")]
    pub bucket: Option<String>,

    /// The producer's base path in the bucket (its s3BasePath, e.g.
    /// openshift-ci/coverage/<cluster>); a trailing / is ignored.
    #[arg(
        long,
        value_name = "PREFIX",
        requires = "bucket",
        conflicts_with = "url"
    )]
    pub prefix: Option<String>,

    /// Where the producer's layout is: s3://bucket/prefix, gs://bucket/prefix,
    /// az://container/prefix, file:///abs/dir or a local directory.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "bucket",
        conflicts_with = "bucket"
    )]
    pub url: Option<String>,

    /// AWS profile from ~/.aws/credentials and ~/.aws/config (s3:// only).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region (s3:// only). Default: AWS_REGION, the profile's region, else us-east-1.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Endpoint of an S3-compatible server (MinIO, Ceph, moto …; path-style requests,
    /// http:// allowed); for gs://, of a GCS emulator (fake-gcs-server; no OAuth); for
    /// az://, the account URL (Azurite: http://127.0.0.1:10000/devstoreaccount1, with
    /// --store-option azure_storage_account_name=… and azure_storage_account_key=…).
    /// Default: AWS_ENDPOINT_URL for s3://.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Skip an instance whose directory already has metadata.json and a covmeta.* (the
    /// older tool's flag; without it, unchanged objects are skipped by size and ETag).
    #[arg(long)]
    pub skip_existing: bool,

    /// How many objects are transferred at once.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrency: u16,

    /// An object_store option for the provider, e.g. aws_skip_signature=true or
    /// timeout=5m (repeatable).
    #[arg(long = "store-option", value_name = "KEY=VALUE")]
    pub store_options: Vec<String>,
}

/// The flags resolved into what the library needs.
#[derive(Debug, PartialEq, Eq)]
struct Settings {
    source: String,
    store_options: Vec<(String, String)>,
}

impl Settings {
    fn from_args(args: &DownloadArgs) -> Result<Settings> {
        let source = match (&args.url, &args.bucket) {
            (Some(url), _) => url.clone(),
            (None, Some(bucket)) => {
                let bucket = bucket.trim_matches('/');
                if bucket.is_empty() || bucket.contains('/') {
                    bail!("--bucket {bucket:?} is not a bucket name (a prefix goes to --prefix)");
                }
                match args.prefix.as_deref().map(|p| p.trim_matches('/')) {
                    Some(prefix) if !prefix.is_empty() => format!("s3://{bucket}/{prefix}"),
                    _ => format!("s3://{bucket}"),
                }
            }
            (None, None) => bail!("give --url, or --bucket and --prefix"),
        };
        let store_options = args
            .store_options
            .iter()
            .map(|o| match o.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
                _ => bail!("--store-option {o:?} is not KEY=VALUE"),
            })
            .collect::<Result<_>>()?;
        Ok(Settings {
            source,
            store_options,
        })
    }
}

/// Downloads, prints the summary (stdout) and each error (stderr).
pub fn run(args: &DownloadArgs) -> Result<Exit> {
    let settings = Settings::from_args(args)?;
    let mut opts = DownloadOptions::new(&settings.source, &args.collection)
        .region(args.region.clone())
        .endpoint(args.endpoint.clone())
        .profile(args.profile.clone())
        .skip_existing(args.skip_existing)
        .max_concurrency(usize::from(args.max_concurrency));
    for (k, v) in &settings.store_options {
        opts = opts.store_option(k, v);
    }
    let summary = download(&opts, &TermReporter::new()).with_context(|| {
        format!(
            "downloading {} into {}",
            settings.source,
            args.collection.display()
        )
    })?;
    for e in &summary.errors {
        eprintln!("error: {e}");
    }
    print!("{summary}");
    println!(
        "Coverage data saved to: {}",
        args.collection.join("coverage").display()
    );
    Ok(if summary.failed() {
        Exit::Error
    } else {
        Exit::Ok
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DownloadArgs,
    }

    fn parse(argv: &[&str]) -> Result<DownloadArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("download").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn older_tool_flags_make_an_s3_url() {
        let a = parse(&[
            "--collection",
            "c",
            "--bucket",
            "art",
            "--prefix",
            "/openshift-ci/coverage/x/",
            "--profile",
            "saml",
            "--region",
            "us-east-1",
            "--skip-existing",
            "--max-concurrency",
            "3",
        ])
        .unwrap();
        let s = Settings::from_args(&a).unwrap();
        assert_eq!(s.source, "s3://art/openshift-ci/coverage/x");
        assert!(a.skip_existing);
        assert_eq!(a.max_concurrency, 3);
        let a = parse(&["--collection", "c", "--bucket", "art"]).unwrap();
        assert_eq!(Settings::from_args(&a).unwrap().source, "s3://art");
    }

    #[test]
    fn bad_flag_combinations_are_usage_errors() {
        assert!(parse(&["--collection", "c"]).is_err());
        assert!(parse(&["--collection", "c", "--prefix", "p", "--url", "s3://b"]).is_err());
        assert!(parse(&["--collection", "c", "--bucket", "b", "--url", "s3://b"]).is_err());
        assert!(parse(&["--collection", "c", "--url", "x", "--max-concurrency", "0"]).is_err());
        let a = parse(&[
            "--collection",
            "c",
            "--url",
            "x",
            "--store-option",
            "novalue",
        ])
        .unwrap();
        let e = Settings::from_args(&a).unwrap_err().to_string();
        assert!(e.contains("not KEY=VALUE"), "{e}");
    }

    #[test]
    fn downloads_a_local_mirror_and_fails_on_a_missing_one() {
        let tmp = tempfile::tempdir().unwrap();
        let leaf = tmp
            .path()
            .join("mirror/node-1/_host_/20250101T090000Z/kubelet");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(leaf.join("covmeta.0123"), b"meta").unwrap();
        std::fs::write(leaf.join("covcounters.0123.1.1"), b"counters").unwrap();
        let collection = tmp.path().join("run");
        let mirror = tmp.path().join("mirror");
        let argv = [
            "--collection",
            collection.to_str().unwrap(),
            "--url",
            mirror.to_str().unwrap(),
        ];
        assert_eq!(run(&parse(&argv).unwrap()).unwrap(), Exit::Ok);
        let dir = collection.join("coverage/node-1-_host_-kubelet-20250101T090000Z");
        assert_eq!(std::fs::read(dir.join("covmeta.0123")).unwrap(), b"meta");
        assert!(dir.join("metadata.json").is_file());

        let absent = tmp.path().join("absent");
        let argv = [
            "--collection",
            collection.to_str().unwrap(),
            "--url",
            absent.to_str().unwrap(),
        ];
        let e = format!("{:#}", run(&parse(&argv).unwrap()).unwrap_err());
        assert!(e.contains("cannot open directory"), "{e}");
    }
}
