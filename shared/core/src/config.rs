//! Settings every process reads from `SLUICE_*` environment variables. A value that
//! cannot be used stops the process at start, with a message naming the variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::domain::embedding::ServerDefault;

#[derive(Debug, Clone)]
pub struct Config {
    /// Largest inline blob (`content`/`data`) accepted, decoded bytes.
    pub max_inline_bytes: usize,
    /// Largest request body accepted (API Gateway and Lambda allow about 6 MB).
    pub max_body_bytes: usize,
    /// Deliveries of a queue message before it is dead-lettered.
    pub max_receives: u32,
    /// How long a queue message stays hidden while a worker holds it.
    pub visibility_timeout: Duration,
    /// Delay before a purge's final sweep: longer than any request that could still be
    /// writing into the namespace or bucket being deleted.
    pub purge_settle: Duration,
    /// Uploads declared larger than this get presigned multipart part URLs.
    pub multipart_threshold: u64,
    /// Part size for multipart uploads (at least S3's 5 MiB minimum).
    pub multipart_part_size: u64,
    /// Lets blob URLs and webhooks reach loopback and private addresses (development only).
    pub allow_private_urls: bool,
    /// Time limit of one outbound HTTP request (blob fetch, webhook delivery).
    pub fetch_timeout: Duration,
    /// Largest blob a batch fetches (video and audio are streamed to a temporary file,
    /// other blobs are held in memory).
    pub max_fetch_bytes: usize,
    /// Objects per queue message of a batch (one transaction records a chunk).
    pub batch_chunk_size: usize,
    /// A queued or processing batch without progress for this long is failed as stalled.
    pub batch_stall: Duration,
    /// First webhook retry delay; each later one doubles (capped at 15 minutes by SQS).
    pub webhook_retry_base: Duration,
    /// Delivery attempts per event and endpoint.
    pub webhook_max_attempts: u32,
    /// Consecutive failed deliveries after which an endpoint is disabled.
    pub webhook_disable_after: i64,
    /// Where embedding models are installed (`scripts/fetch-models`; `/opt/models` in Lambda).
    pub models_dir: std::path::PathBuf,
    /// The embedding model a namespace gets when it names none.
    pub embedding_default: ServerDefault,
    /// How long a sync run's lease lasts without progress before the poller resumes it.
    pub sync_lease: Duration,
    /// Deletions a run may apply, as a percentage of the files a sync knows; above it
    /// they are withheld and reported.
    pub sync_delete_brake_percent: u8,
    /// Keys listed per sync page (S3 lists at most 1000).
    pub sync_page_size: usize,
    /// Backblaze's API, where `b2_authorize_account` finds a key's S3 endpoint.
    pub backblaze_api_url: String,
    /// Box's API base (`/oauth2/token` and `/2.0/…` under it).
    pub box_api_url: String,
    /// Mux's API (`/video/v1/assets`), and its media host (static renditions).
    pub mux_api_url: String,
    pub mux_stream_url: String,
    /// How often sluice-local's poller looks for due syncs (an EventBridge schedule in AWS).
    pub sync_poll: Duration,
    /// Attempts at one file before its dead letter stops being retried by runs (until
    /// it is requeued).
    pub sync_max_file_attempts: i64,
    /// How often sluice-local sweeps expired uploads and stalled batches (a schedule in
    /// AWS).
    pub sweep: Duration,
    /// How long a soft-deleted object can be restored before the sweeper deletes it.
    pub soft_delete_retention: Duration,
    /// The AWS account Sluice runs in (set by the template): an `iam_role` connection's
    /// role in it is refused unless `allow_same_account_roles`.
    pub aws_account_id: Option<String>,
    pub allow_same_account_roles: bool,
}

const MIB: u64 = 1024 * 1024;

/// The variables as given; [`Config::from_env`] parses them (clap) and then checks what
/// a type alone cannot (S3's part-size minimum, the embedding model's name).
#[derive(Parser, Debug)]
#[command(name = "sluice", no_binary_name = true, disable_help_flag = true)]
pub struct ConfigVars {
    /// Largest inline blob (`content`/`data`), decoded bytes.
    #[arg(long, env = "SLUICE_MAX_INLINE_BYTES", value_name = "SLUICE_MAX_INLINE_BYTES", default_value_t = 5 * MIB as usize)]
    max_inline_bytes: usize,
    /// Deliveries of a local queue message before it is dead-lettered, with the reason its last delivery failed (1 or more).
    #[arg(long, env = "SLUICE_MAX_RECEIVES", value_name = "SLUICE_MAX_RECEIVES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_receives: u32,
    /// How long a worker holds a local queue message; also a sync page's time bound (1 to 43200).
    #[arg(long, env = "SLUICE_VISIBILITY_TIMEOUT_SECS", value_name = "SLUICE_VISIBILITY_TIMEOUT_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=43_200))]
    visibility_timeout_secs: u64,
    /// Delay before a purge's final sweep.
    #[arg(
        long,
        env = "SLUICE_PURGE_SETTLE_SECS",
        value_name = "SLUICE_PURGE_SETTLE_SECS",
        default_value_t = 60
    )]
    purge_settle_secs: u64,
    /// Uploads declared larger than this get presigned multipart part URLs (bytes).
    #[arg(long, env = "SLUICE_MULTIPART_THRESHOLD", value_name = "SLUICE_MULTIPART_THRESHOLD", default_value_t = 100 * MIB)]
    multipart_threshold: u64,
    /// Part size of multipart uploads (5 MiB to 5 GiB; S3 refuses parts under 5 MiB but the last).
    #[arg(long, env = "SLUICE_MULTIPART_PART_SIZE", value_name = "SLUICE_MULTIPART_PART_SIZE", default_value_t = 64 * MIB,
          value_parser = clap::value_parser!(u64).range(5 * MIB..=5 * 1024 * MIB))]
    multipart_part_size: u64,
    /// Let blob URLs, webhooks and connection endpoints reach loopback and private addresses (development only).
    #[arg(long, env = "SLUICE_ALLOW_PRIVATE_URLS", value_name = "SLUICE_ALLOW_PRIVATE_URLS", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    allow_private_urls: bool,
    /// Time limit of one blob fetch or webhook delivery (1 or more).
    #[arg(long, env = "SLUICE_FETCH_TIMEOUT_SECS", value_name = "SLUICE_FETCH_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    fetch_timeout_secs: u64,
    /// Largest blob a batch fetches or a sync reads (video and audio stream to a temporary file).
    #[arg(long, env = "SLUICE_MAX_FETCH_BYTES", value_name = "SLUICE_MAX_FETCH_BYTES", default_value_t = 100 * MIB as usize)]
    max_fetch_bytes: usize,
    /// Objects per batch-queue message (1 to 98: a chunk's results and the batch's counters share one transaction of at most 100 writes).
    #[arg(long, env = "SLUICE_BATCH_CHUNK_SIZE", value_name = "SLUICE_BATCH_CHUNK_SIZE", default_value_t = 50,
          value_parser = clap::value_parser!(u16).range(1..=98))]
    batch_chunk_size: u16,
    /// A batch without progress this long is failed as stalled (1 or more).
    #[arg(long, env = "SLUICE_BATCH_STALL_SECS", value_name = "SLUICE_BATCH_STALL_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..))]
    batch_stall_secs: u64,
    /// First webhook retry delay; each later one doubles, at most 15 minutes.
    #[arg(
        long,
        env = "SLUICE_WEBHOOK_RETRY_BASE_MS",
        value_name = "SLUICE_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 5000
    )]
    webhook_retry_base_ms: u64,
    /// Delivery attempts per event and endpoint (1 or more).
    #[arg(long, env = "SLUICE_WEBHOOK_MAX_ATTEMPTS", value_name = "SLUICE_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..))]
    webhook_max_attempts: u32,
    /// Consecutive failed deliveries that disable an endpoint (1 or more).
    #[arg(long, env = "SLUICE_WEBHOOK_DISABLE_AFTER", value_name = "SLUICE_WEBHOOK_DISABLE_AFTER", default_value_t = 20,
          value_parser = clap::value_parser!(i64).range(1..))]
    webhook_disable_after: i64,
    /// Where `scripts/fetch-models` installs the models (default `~/.cache/sluice/models`; `/opt/models` in Lambda, from the models layer).
    #[arg(long, env = "SLUICE_MODELS_DIR", value_name = "SLUICE_MODELS_DIR")]
    models_dir: Option<PathBuf>,
    /// Embedding backend of namespaces that name none: `local` (default) or `bedrock`.
    #[arg(
        long,
        env = "SLUICE_EMBEDDING_BACKEND",
        value_name = "SLUICE_EMBEDDING_BACKEND"
    )]
    embedding_backend: Option<String>,
    /// The Bedrock model of that default: `amazon.titan-embed-image-v1` (default) or `amazon.nova-2-multimodal-embeddings-v1:0`.
    #[arg(
        long,
        env = "SLUICE_BEDROCK_MODEL",
        value_name = "SLUICE_BEDROCK_MODEL"
    )]
    bedrock_model: Option<String>,
    /// How long a sync run's lease lasts without progress before the poller resumes it (5 to 43200).
    #[arg(long, env = "SLUICE_SYNC_LEASE_SECS", value_name = "SLUICE_SYNC_LEASE_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(5..=43_200))]
    sync_lease_secs: u64,
    /// Deletions a run may apply, as a percentage of the files a sync knows; above it they are withheld and reported (0 to 100).
    #[arg(long, env = "SLUICE_SYNC_DELETE_BRAKE_PERCENT", value_name = "SLUICE_SYNC_DELETE_BRAKE_PERCENT", default_value_t = 15,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    sync_delete_brake_percent: u8,
    /// Keys listed per sync page (1 to 1000).
    #[arg(long, env = "SLUICE_SYNC_PAGE_SIZE", value_name = "SLUICE_SYNC_PAGE_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    sync_page_size: u16,
    /// Backblaze's API, where `b2_authorize_account` finds a key's S3 endpoint.
    #[arg(
        long,
        env = "SLUICE_BACKBLAZE_API_URL",
        value_name = "SLUICE_BACKBLAZE_API_URL",
        default_value = "https://api.backblazeb2.com"
    )]
    backblaze_api_url: String,
    /// Box's API base: its token endpoint (`/oauth2/token`) and its API (`/2.0/…`).
    #[arg(
        long,
        env = "SLUICE_BOX_API_URL",
        value_name = "SLUICE_BOX_API_URL",
        default_value = "https://api.box.com"
    )]
    box_api_url: String,
    /// Mux's API, where a `mux` connection lists its assets (a stand-in in tests).
    #[arg(
        long,
        env = "SLUICE_MUX_API_URL",
        value_name = "SLUICE_MUX_API_URL",
        default_value = "https://api.mux.com"
    )]
    mux_api_url: String,
    /// Mux's media host, where a ready asset's MP4 static rendition is read.
    #[arg(
        long,
        env = "SLUICE_MUX_STREAM_URL",
        value_name = "SLUICE_MUX_STREAM_URL",
        default_value = "https://stream.mux.com"
    )]
    mux_stream_url: String,
    /// How often sluice-local looks for due syncs (1 to 3600; an EventBridge schedule in AWS).
    #[arg(long, env = "SLUICE_SYNC_POLL_SECS", value_name = "SLUICE_SYNC_POLL_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    sync_poll_secs: u64,
    /// Attempts at one file before its dead letter stops being retried by runs, until it is requeued (1 to 100).
    #[arg(long, env = "SLUICE_SYNC_MAX_FILE_ATTEMPTS", value_name = "SLUICE_SYNC_MAX_FILE_ATTEMPTS", default_value_t = 3,
          value_parser = clap::value_parser!(i64).range(1..=100))]
    sync_max_file_attempts: i64,
    /// How often sluice-local sweeps expired uploads and stalled batches (1 to 3600; a schedule in AWS).
    #[arg(long, env = "SLUICE_SWEEP_SECS", value_name = "SLUICE_SWEEP_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    sweep_secs: u64,
    /// How long a soft-deleted object can be restored (`sluice-admin restore-objects`) before the sweeper deletes it for good (0 to 315360000; default 30 days).
    #[arg(long, env = "SLUICE_SOFT_DELETE_RETENTION_SECS", value_name = "SLUICE_SOFT_DELETE_RETENTION_SECS", default_value_t = 2_592_000,
          value_parser = clap::value_parser!(u64).range(0..=315_360_000))]
    soft_delete_retention_secs: u64,
    /// The AWS account Sluice runs in (the template sets it): `iam_role` connections may not name a role in it unless SLUICE_ALLOW_SAME_ACCOUNT_ROLES.
    #[arg(
        long,
        env = "SLUICE_AWS_ACCOUNT_ID",
        value_name = "SLUICE_AWS_ACCOUNT_ID"
    )]
    aws_account_id: Option<String>,
    /// Let `iam_role` connections name a role in Sluice's own account (off: such a role could be any tenant's).
    #[arg(long, env = "SLUICE_ALLOW_SAME_ACCOUNT_ROLES", value_name = "SLUICE_ALLOW_SAME_ACCOUNT_ROLES", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    allow_same_account_roles: bool,
}

// The same values as `ConfigVars`'s defaults (a test holds them equal).
impl Default for Config {
    fn default() -> Self {
        Config {
            max_inline_bytes: 5 * 1024 * 1024,
            max_body_bytes: 6 * MIB as usize,
            max_receives: 5,
            visibility_timeout: Duration::from_secs(120),
            purge_settle: Duration::from_secs(60),
            multipart_threshold: 100 * 1024 * 1024,
            multipart_part_size: 64 * 1024 * 1024,
            allow_private_urls: false,
            fetch_timeout: Duration::from_secs(30),
            max_fetch_bytes: 100 * 1024 * 1024,
            batch_chunk_size: 50,
            batch_stall: Duration::from_secs(900),
            webhook_retry_base: Duration::from_secs(5),
            webhook_max_attempts: 8,
            webhook_disable_after: 20,
            models_dir: default_models_dir(),
            embedding_default: ServerDefault::local(),
            sync_lease: Duration::from_secs(300),
            sync_delete_brake_percent: 15,
            sync_page_size: 1000,
            backblaze_api_url: "https://api.backblazeb2.com".into(),
            box_api_url: "https://api.box.com".into(),
            mux_api_url: "https://api.mux.com".into(),
            mux_stream_url: "https://stream.mux.com".into(),
            sync_poll: Duration::from_secs(60),
            sync_max_file_attempts: 3,
            sweep: Duration::from_secs(30),
            soft_delete_retention: Duration::from_secs(2_592_000),
            aws_account_id: None,
            allow_same_account_roles: false,
        }
    }
}

impl Config {
    /// Defaults, overridden by the `SLUICE_*` variables that are set.
    pub fn from_env() -> anyhow::Result<Self> {
        let vars = ConfigVars::try_parse_from(Vec::<String>::new())
            .map_err(|e| anyhow::anyhow!("configuration: {}", e.render().to_string().trim()))?;
        Config::from_vars(vars)
    }

    fn from_vars(v: ConfigVars) -> anyhow::Result<Self> {
        let embedding_default = match v.embedding_backend.as_deref() {
            None => {
                if v.bedrock_model.is_some() {
                    ServerDefault::parse("bedrock", v.bedrock_model.as_deref())
                        .map(|_| ServerDefault::local())
                        .map_err(|e| anyhow::anyhow!("SLUICE_BEDROCK_MODEL: {e}"))?
                } else {
                    ServerDefault::local()
                }
            }
            Some(backend) => {
                ServerDefault::parse(backend, v.bedrock_model.as_deref()).map_err(|e| {
                    anyhow::anyhow!("SLUICE_EMBEDDING_BACKEND / SLUICE_BEDROCK_MODEL: {e}")
                })?
            }
        };
        Ok(Config {
            max_inline_bytes: v.max_inline_bytes,
            max_body_bytes: 6 * MIB as usize,
            max_receives: v.max_receives,
            visibility_timeout: Duration::from_secs(v.visibility_timeout_secs),
            purge_settle: Duration::from_secs(v.purge_settle_secs),
            multipart_threshold: v.multipart_threshold,
            multipart_part_size: v.multipart_part_size,
            allow_private_urls: v.allow_private_urls,
            fetch_timeout: Duration::from_secs(v.fetch_timeout_secs),
            max_fetch_bytes: v.max_fetch_bytes,
            batch_chunk_size: v.batch_chunk_size as usize,
            batch_stall: Duration::from_secs(v.batch_stall_secs),
            webhook_retry_base: Duration::from_millis(v.webhook_retry_base_ms),
            webhook_max_attempts: v.webhook_max_attempts,
            webhook_disable_after: v.webhook_disable_after,
            models_dir: v.models_dir.unwrap_or_else(default_models_dir),
            embedding_default,
            sync_lease: Duration::from_secs(v.sync_lease_secs),
            sync_delete_brake_percent: v.sync_delete_brake_percent,
            sync_page_size: v.sync_page_size as usize,
            backblaze_api_url: v.backblaze_api_url,
            box_api_url: v.box_api_url,
            mux_api_url: v.mux_api_url,
            mux_stream_url: v.mux_stream_url,
            sync_poll: Duration::from_secs(v.sync_poll_secs),
            sync_max_file_attempts: v.sync_max_file_attempts,
            sweep: Duration::from_secs(v.sweep_secs),
            soft_delete_retention: Duration::from_secs(v.soft_delete_retention_secs),
            aws_account_id: v.aws_account_id.filter(|a| !a.is_empty()),
            allow_same_account_roles: v.allow_same_account_roles,
        })
    }
}

/// Variables a process reads beside [`Config`]'s: its own (sluice-local, the admin
/// tool, the Lambdas' resource names), logging, and the tests' switches. Name, default,
/// meaning.
pub const PROCESS_VARS: &[(&str, &str, &str)] = &[
    ("SLUICE_LOG", "`info`", "Log filter: `level` or `target=level,…`."),
    ("SLUICE_LOG_JSON", "off (local), on (Lambda)", "JSON log lines."),
    ("SLUICE_HOST", "`127.0.0.1`", "Address sluice-local listens on."),
    ("SLUICE_PORT", "8080", "Port sluice-local listens on."),
    ("SLUICE_DATA_DIR", "`./.sluice`", "sluice-local's and sluice-admin's embedded storage."),
    ("SLUICE_API_KEY", "made and printed at first start", "The dev key sluice-local creates its org with."),
    ("SLUICE_STRICT", "false", "sluice-local refuses to start when others can read its data dir (made 0700, its keys and databases 0600); by default it warns."),
    ("SLUICE_BACKEND", "`local`", "sluice-admin: `local` (the data dir) or `aws` (the stack's resources)."),
    ("SLUICE_TABLE", "the stack's", "DynamoDB table (Lambda, sluice-admin `aws`)."),
    ("SLUICE_BUCKET", "the stack's", "S3 bucket of blobs and uploads."),
    ("SLUICE_VECTOR_BUCKET", "the stack's", "S3 Vectors bucket of the collections' indexes."),
    ("SLUICE_EVENT_BUS", "the stack's", "EventBridge bus of domain events."),
    ("SLUICE_CREDENTIAL_KEY", "the stack's", "KMS key that seals connection credentials and webhook secrets."),
    ("SLUICE_{BATCHES,TASKS,WEBHOOKS,SYNCS}_QUEUE_URL", "the stack's", "SQS queue URLs, one per queue."),
    ("SLUICE_EMULATOR_SERIALIZE_TRANSACTIONS", "false", "The DynamoDB adapter runs transactions one at a time (moto rolls a cancelled one back by restoring the whole table; never needed on DynamoDB)."),
];

/// `docs/configuration.md`: every variable with its default and range, from the
/// declarations above (`cargo xtask routes` writes it; a test fails when it differs).
pub fn reference() -> String {
    let mut out = String::from(
        "# Configuration\n\n<!-- Written by `cargo xtask routes` from shared/core/src/config.rs; edit that. -->\n\n\
         Environment variables, for `sluice-local` and the Lambdas alike. A value that cannot be \
         used (not a number, out of range, an unknown model) stops the process at start with a \
         message naming the variable; nothing falls back to a default silently.\n\n\
         | variable | default | meaning |\n|---|---|---|\n",
    );
    let cmd = <ConfigVars as clap::CommandFactory>::command();
    for arg in cmd.get_arguments() {
        let Some(env) = arg.get_env() else { continue };
        let default = arg
            .get_default_values()
            .first()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|| "see meaning".into());
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        out += &format!("| `{}` | {default} | {help} |\n", env.to_string_lossy());
    }
    out += "\nRead by one process, or set by the stack:\n\n| variable | default | meaning |\n|---|---|---|\n";
    for (name, default, meaning) in PROCESS_VARS {
        out += &format!("| `{name}` | {default} | {meaning} |\n");
    }
    out += "\nThe AWS SDK's own variables apply too: `AWS_REGION`, `AWS_ENDPOINT_URL` and the \
            per-service `AWS_ENDPOINT_URL_<SERVICE>` (the tests point S3, DynamoDB, SQS and \
            Bedrock at local stand-ins with them).\n";
    out
}

/// `~/.cache/sluice/models`, where the scripts install models by default.
fn default_models_dir() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    std::path::Path::new(&home).join(".cache/sluice/models")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let mut cmd = <ConfigVars as clap::CommandFactory>::command();
        // Feed values through the flags each variable also has, so the test does not
        // depend on (or change) the process environment.
        let mut argv = Vec::new();
        for (name, value) in vars {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_env().is_some_and(|e| e == *name))
                .unwrap_or_else(|| panic!("{name} is not a config variable"));
            argv.push(format!("--{}={value}", arg.get_long().unwrap()));
        }
        let matches = cmd
            .try_get_matches_from_mut(argv)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let vars = <ConfigVars as clap::FromArgMatches>::from_arg_matches(&matches)?;
        Config::from_vars(vars)
    }

    #[test]
    fn defaults_agree() {
        let parsed = parse(&[]).unwrap();
        let expected = Config {
            models_dir: parsed.models_dir.clone(),
            ..Config::default()
        };
        assert_eq!(format!("{parsed:?}"), format!("{expected:?}"));
    }

    #[test]
    fn bad_values_are_errors_not_defaults() {
        for (name, value) in [
            ("SLUICE_MAX_INLINE_BYTES", "lots"),
            ("SLUICE_BATCH_CHUNK_SIZE", "0"),
            ("SLUICE_BATCH_CHUNK_SIZE", "99"),
            ("SLUICE_MULTIPART_PART_SIZE", "1024"),
            ("SLUICE_FETCH_TIMEOUT_SECS", "0"),
            ("SLUICE_ALLOW_PRIVATE_URLS", "maybe"),
            ("SLUICE_WEBHOOK_MAX_ATTEMPTS", "-1"),
            ("SLUICE_EMBEDDING_BACKEND", "gpu"),
            ("SLUICE_BEDROCK_MODEL", "no.such-model"),
            ("SLUICE_SWEEP_SECS", "0"),
            ("SLUICE_SWEEP_SECS", "soon"),
        ] {
            assert!(
                parse(&[(name, value)]).is_err(),
                "{name}={value} was accepted"
            );
        }
        let c = parse(&[
            ("SLUICE_BATCH_CHUNK_SIZE", "98"),
            ("SLUICE_ALLOW_PRIVATE_URLS", "true"),
        ])
        .unwrap();
        assert_eq!(c.batch_chunk_size, 98);
        assert!(c.allow_private_urls);
    }
}
