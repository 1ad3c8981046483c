//! `sluice-local`: every route and worker in one process, on embedded storage.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

// Many small JSON allocations per request: mimalloc handles them better than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "sluice-local",
    about = "The whole Sluice API on this machine, with embedded storage"
)]
struct Args {
    /// Where the SQLite database and blob files live.
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = "./.sluice")]
    data_dir: PathBuf,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, env = "SLUICE_PORT", default_value_t = 8080)]
    port: u16,
    /// Address to bind.
    #[arg(long, env = "SLUICE_HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Use this API key (`sk_...`) instead of the generated dev key.
    #[arg(long, env = "SLUICE_API_KEY")]
    api_key: Option<String>,
    /// Log JSON lines instead of text.
    #[arg(long, env = "SLUICE_LOG_JSON")]
    log_json: bool,
    /// Refuse to start if others can read the data dir's secrets (by default: a warning).
    #[arg(long, env = "SLUICE_STRICT")]
    strict: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    sluice_core::telemetry::init(args.log_json);
    let addr = SocketAddr::new(args.host, args.port);
    let server = sluice_local::Server::start(sluice_local::Options {
        data_dir: args.data_dir,
        addr,
        api_key: args.api_key,
        strict: args.strict,
    })
    .await?;
    println!("Sluice is listening on {}", server.url);
    println!("SLUICE_URL={}", server.url);
    // A key the operator gave is theirs already: printing it would only put it in logs.
    if server.key_was_made {
        println!("API key: {}", server.api_key);
        println!("SLUICE_API_KEY={}", server.api_key);
    } else {
        println!("API key: the one given in --api-key / SLUICE_API_KEY");
    }
    server.run_until_signal().await
}
