//! `sluice-admin`: organisations and API keys, on either backend.
//!
//! Keys are shown once, when created; only their sha256 is stored.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use sluice_core::app::views::ApiKeyView;
use sluice_core::app::{auth, buckets, namespaces, objects};
use sluice_core::{AppContext, Config};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Backend {
    /// The embedded store of `sluice-local` (SQLite + files under --data-dir).
    Local,
    /// DynamoDB/S3/SQS/EventBridge named by SLUICE_* variables (AWS_ENDPOINT_URL for a stand-in).
    Aws,
}

#[derive(Parser, Debug)]
#[command(
    name = "sluice-admin",
    about = "Manage Sluice organisations and API keys, and restore soft-deleted objects"
)]
struct Args {
    #[arg(long, value_enum, env = "SLUICE_BACKEND", default_value = "local")]
    backend: Backend,
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = "./.sluice")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the table, bucket, queues and event bus on an AWS stand-in (e.g. moto)
    /// and print the SLUICE_* variables that name them.
    Provision {
        #[arg(long, default_value = "sluice-dev")]
        prefix: String,
    },
    /// Create an organisation; prints its id (and its external id, on stderr).
    CreateOrg {
        #[arg(long)]
        name: String,
    },
    /// Create an API key for an organisation; prints the key once.
    CreateKey {
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List an organisation's keys (hints only, never the keys).
    ListKeys {
        #[arg(long)]
        org: String,
    },
    /// Revoke a key by its id.
    RevokeKey {
        #[arg(long)]
        org: String,
        #[arg(long)]
        key_id: String,
    },
    /// Print the external id an organisation's `iam_role` connections must use: its
    /// roles' trust policies require it as `sts:ExternalId`.
    ExternalId {
        #[arg(long)]
        org: String,
    },
    /// Restore soft-deleted objects (with their documents and vectors) before their
    /// restore window ends; prints what was restored and why any object was not.
    RestoreObjects {
        #[arg(long)]
        org: String,
        /// Namespace id or name.
        #[arg(long)]
        namespace: String,
        /// Bucket id or name.
        #[arg(long)]
        bucket: String,
        #[arg(required = true)]
        object_ids: Vec<String>,
    },
}

async fn context(args: &Args) -> anyhow::Result<AppContext> {
    match args.backend {
        Backend::Local => {
            let (ctx, _) = sluice_backend_local::context(
                &args.data_dir,
                "http://127.0.0.1:8080",
                Config::from_env()?,
            )?;
            Ok(ctx)
        }
        Backend::Aws => {
            let names = sluice_backend_aws::AwsNames::from_env()?;
            Ok(sluice_backend_aws::context(names, Config::from_env()?).await)
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Command::Provision { prefix } = &args.command {
        let sdk = sluice_backend_aws::sdk_config().await;
        let names = sluice_backend_aws::provision(&sdk, prefix).await?;
        println!("SLUICE_TABLE={}", names.table);
        println!("SLUICE_BUCKET={}", names.bucket);
        println!("SLUICE_EVENT_BUS={}", names.event_bus);
        println!("SLUICE_VECTOR_BUCKET={}", names.vector_bucket);
        println!("SLUICE_CREDENTIAL_KEY={}", names.credential_key);
        for (q, url) in &names.queue_urls {
            println!("SLUICE_{}_QUEUE_URL={url}", q.as_str().to_ascii_uppercase());
        }
        return Ok(());
    }
    let ctx = context(&args).await?;
    let fail = |e: sluice_core::Error| anyhow::anyhow!("{e}");
    match &args.command {
        Command::Provision { .. } => unreachable!("handled above"),
        Command::CreateOrg { name } => {
            let org = auth::create_org(&ctx, name).await.map_err(fail)?;
            let external = auth::external_id(&ctx, &org.org_id).await.map_err(fail)?;
            eprintln!("external id for iam_role connections: {external}");
            println!("{}", org.org_id);
        }
        Command::CreateKey { org, name } => {
            let (plaintext, key) = auth::create_api_key(&ctx, org, name, None)
                .await
                .map_err(fail)?;
            eprintln!("key id {} (the key below is shown once)", key.key_id);
            println!("{plaintext}");
        }
        Command::ListKeys { org } => {
            for key in auth::list_api_keys(&ctx, org).await.map_err(fail)? {
                println!("{}", serde_json::to_string(&ApiKeyView::from(&key))?);
            }
        }
        Command::RevokeKey { org, key_id } => {
            auth::revoke_api_key(&ctx, org, key_id)
                .await
                .map_err(fail)?;
            println!("revoked {key_id}");
        }
        Command::ExternalId { org } => {
            auth::get_org(&ctx, org).await.map_err(fail)?;
            println!("{}", auth::external_id(&ctx, org).await.map_err(fail)?);
        }
        Command::RestoreObjects {
            org,
            namespace,
            bucket,
            object_ids,
        } => {
            let ns = namespaces::resolve(&ctx, org, namespace)
                .await
                .map_err(fail)?;
            let bucket = buckets::resolve(&ctx, &ns, bucket).await.map_err(fail)?;
            let restored = objects::restore(&ctx, &bucket, object_ids)
                .await
                .map_err(fail)?;
            println!("{}", serde_json::to_string(&restored)?);
        }
    }
    Ok(())
}
