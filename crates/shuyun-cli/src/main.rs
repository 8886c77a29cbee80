//! The `shuyun` command: run the demo platform, serve from a configuration
//! file, and verify the ledger from outside the server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shuyun_server::{AppState, Clock, Config};

#[derive(Parser)]
#[command(
    name = "shuyun",
    version,
    about = "shuyun 数运 — public data authorized operation platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Source {
    /// TOML configuration file (every key can be overridden by SHUYUN_<KEY>).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (overrides the configuration).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Database URL (overrides the configuration).
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the demo platform with the Jingdezhen pilot's organisations and logins.
    Demo {
        #[command(flatten)]
        source: Source,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Scale of the synthetic pilot data (1.0 = 2,000 persons, 500
        /// enterprises; larger for benchmarks).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Start the platform from a configuration file, without demo data.
    Serve {
        #[command(flatten)]
        source: Source,
    },
    /// Create the first organisation (the platform operator) and its
    /// administrator on an empty installation. The password is read from the
    /// environment variable SHUYUN_BOOTSTRAP_PASSWORD, never from the command line.
    Bootstrap {
        #[command(flatten)]
        source: Source,
        /// The administrator's login name.
        #[arg(long, default_value = "admin")]
        username: String,
        /// Chinese name of the platform organisation.
        #[arg(long)]
        org_name: String,
        /// English name of the platform organisation.
        #[arg(long)]
        org_name_en: String,
        /// Its unified social credit code (统一社会信用代码).
        #[arg(long)]
        credit_code: String,
    },
    /// Load a file into a resource as its next data version, acting as a
    /// user of the owning department (password in SHUYUN_PASSWORD). The load
    /// is all or nothing; a rejected file prints its row-level report.
    Ingest {
        #[command(flatten)]
        source: Source,
        /// The resource's unified identifier, e.g. 360200-XY-000002.
        #[arg(long)]
        resource: String,
        /// Login of a user of the owning department.
        #[arg(long)]
        user: String,
        /// csv, jsonl or parquet.
        #[arg(long, default_value = "csv")]
        format: String,
        /// For CSV: auto, utf8 or gb18030.
        #[arg(long, default_value = "auto")]
        encoding: String,
        /// The file to load.
        file: PathBuf,
    },
    /// Ledger tools.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Recompute the whole Merkle tree from the stored entries and check every signed checkpoint.
    Verify {
        #[command(flatten)]
        source: Source,
    },
    /// Print the latest signed checkpoint and the verifier key.
    Checkpoint {
        #[command(flatten)]
        source: Source,
    },
}

fn load_config(source: &Source, demo_listen: Option<&str>) -> Result<Config, String> {
    let text = match &source.config {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?
        }
        None => String::new(),
    };
    let mut cfg = Config::from_toml_and_env(&text, |k| std::env::var(k).ok())?;
    if let Some(d) = &source.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(u) = &source.database_url {
        cfg.database_url = Some(u.clone());
    }
    if let Some(l) = demo_listen {
        if std::env::var("SHUYUN_LISTEN").is_err() {
            cfg.listen = l.parse().map_err(|e| format!("--listen {l}: {e}"))?;
        }
        if std::env::var("SHUYUN_LOG_FORMAT").is_err() && source.config.is_none() {
            cfg.log_format = "text".into();
        }
    }
    Ok(cfg)
}

fn init_logs(format: &str) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "text" {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

async fn run_server(cfg: Config, demo: Option<f64>) -> Result<(), String> {
    init_logs(&cfg.log_format);
    let store = shuyun_server::open_store(&cfg).await?;
    let objects = shuyun_server::open_objects(&cfg)?;
    let target = cfg.object_store.target(&cfg.data_dir)?.to_string();
    shuyun_server::objects::probe(&*objects, &target).await?;
    tracing::info!(objects = %target, "data versions are stored in the object store");
    let division: shuyun_domain::DivisionCode = cfg
        .division_code
        .parse()
        .map_err(|e: shuyun_domain::DomainError| e.message)?;
    let clock = Clock::system();
    let pseudonym_secret = shuyun_server::workspace::load_or_create_key(&cfg.workspace_key_file())?;
    if let Some(scale) = demo {
        if !(scale > 0.0 && scale <= 10_000.0) {
            return Err("--scale is a number above 0 and at most 10000".into());
        }
        // The demo's history starts ninety days ago, so the authorization
        // chain (whose deadlines are weeks of working days) is complete.
        let start = clock.now() - 90 * 86_400_000;
        if shuyun_server::demo::seed(&store, start)
            .await
            .map_err(|e| e.to_string())?
        {
            tracing::info!("seeded the Jingdezhen pilot organisations and demo logins");
            let n = shuyun_server::demo::seed_pilot(
                &store,
                objects.clone(),
                &division,
                scale,
                start,
                shuyun_server::workspace::unit_digest_key(&pseudonym_secret),
            )
            .await?;
            tracing::info!(
                resources = n,
                scale,
                "registered and loaded the pilot resources"
            );
            shuyun_server::demo::seed_authorization(&store, &cfg.calendar, start + 3_600_000)
                .await?;
            tracing::info!("authorized the pilot's enterprise credit scenario");
        }
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "shuyun is serving on http://{addr}/ (database: {:?})",
        store.backend()
    );
    if demo.is_some() {
        let logins: Vec<&str> = shuyun_server::demo::DEMO_ACCOUNTS
            .iter()
            .map(|a| a.0)
            .collect();
        eprintln!(
            "demo logins (password '{}'): {}",
            shuyun_server::demo::DEMO_PASSWORD,
            logins.join(", ")
        );
    }
    let state = AppState::new(store.clone(), objects, clock, cfg.secure_cookies)
        .with_division(division)
        .with_calendar(cfg.calendar.clone(), cfg.ticket_working_days)
        .with_workspaces(shuyun_server::workspace::Workspaces::new(
            pseudonym_secret,
            shuyun_server::workspace::Limits::default(),
        ));
    shuyun_server::serve(listener, state, shuyun_server::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    Ok(())
}

async fn bootstrap(
    cfg: Config,
    username: &str,
    org_name: &str,
    org_name_en: &str,
    credit_code: &str,
) -> Result<(), String> {
    let password = std::env::var("SHUYUN_BOOTSTRAP_PASSWORD").map_err(|_| {
        "set SHUYUN_BOOTSTRAP_PASSWORD to the administrator's initial password".to_string()
    })?;
    let new_org = shuyun_store::accounts::NewOrg {
        name: org_name.to_string(),
        name_en: org_name_en.to_string(),
        kind: shuyun_domain::OrgKind::Platform,
        credit_code: credit_code
            .parse()
            .map_err(|e: shuyun_domain::DomainError| e.message)?,
        division_code: cfg
            .division_code
            .parse()
            .map_err(|e: shuyun_domain::DomainError| e.message)?,
    };
    let username = username
        .parse()
        .map_err(|e: shuyun_domain::DomainError| e.message)?;
    shuyun_domain::policy::check_password(&password).map_err(|e| e.message)?;
    let store = shuyun_server::open_store(&cfg).await?;
    let now = Clock::system().now();
    let result = async {
        if !store.list_users(None).await.map_err(|e| e.to_string())?.is_empty() {
            return Err("this installation already has users; administer it through the portal or the API".to_string());
        }
        let org = store.create_org("system:bootstrap", new_org, now).await.map_err(|e| e.into_domain().message)?;
        let user = store
            .create_user(
                "system:bootstrap",
                shuyun_store::accounts::NewUser { org_id: org.id, username, display_name: "平台管理员".into(), password },
                true,
                now,
            )
            .await
            .map_err(|e| e.into_domain().message)?;
        println!("created organisation {} and administrator '{}' (must change the password at first sign-in)", org.name, user.username);
        Ok(())
    }
    .await;
    store.close().await;
    result
}

struct IngestArgs {
    resource: String,
    user: String,
    format: String,
    encoding: String,
    file: PathBuf,
}

async fn ingest(cfg: Config, a: IngestArgs) -> Result<bool, String> {
    use shuyun_server::api::data::{LoadError, load_reader, parse_format};
    let password = std::env::var("SHUYUN_PASSWORD")
        .map_err(|_| format!("set SHUYUN_PASSWORD to the password of '{}'", a.user))?;
    let (format, format_name) =
        parse_format(Some(&a.format), Some(&a.encoding)).map_err(|e| e.message)?;
    let file = tokio::fs::File::open(&a.file)
        .await
        .map_err(|e| format!("cannot open {}: {e}", a.file.display()))?;
    let name = a
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let store = shuyun_server::open_store(&cfg).await?;
    let objects = shuyun_server::open_objects(&cfg)?;
    let unit_digests = shuyun_server::workspace::unit_digest_key(
        &shuyun_server::workspace::load_or_create_key(&cfg.workspace_key_file())?,
    );
    let now = Clock::system().now();
    let result = async {
        let session = store
            .login(&a.user, &password, "cli", now)
            .await
            .map_err(|e| e.into_domain().message)?;
        let id = store.resource_id_by_code(&a.resource).await.map_err(|e| e.into_domain().message)?;
        let outcome = load_reader(&store, objects, &session.principal, id, format, format_name, &name, file, now, unit_digests).await;
        let _ = store.logout(&session.principal, now).await;
        match outcome {
            Ok(v) => {
                println!("loaded {} rows into {} as version {} (SM3 {})", v.rows, a.resource, v.version, v.sm3);
                if let Ok(q) = store.quality_report(id, v.version).await {
                    println!("quality score {:.2}", q.report.score);
                    for r in q.report.results.iter().filter(|r| r.failed > 0) {
                        println!("  {} failed on {} of {} (rows {:?}…)", r.description, r.failed, r.checked, r.sample_rows);
                    }
                }
                Ok(true)
            }
            Err(LoadError::Rejected { rejection, report }) => {
                println!(
                    "REJECTED: {} error(s) in {} rows read; the current version is unchanged (rejection {})",
                    report.total_errors, report.rows_read, rejection.id
                );
                for line in report.to_csv().trim_start_matches('\u{feff}').lines().take(21) {
                    println!("  {line}");
                }
                Ok(false)
            }
            Err(LoadError::Refused(e)) => Err(e.message),
        }
    }
    .await;
    store.close().await;
    result
}

async fn verify(cfg: Config) -> Result<bool, String> {
    let store = shuyun_server::open_store(&cfg).await?;
    let started = std::time::Instant::now();
    let report = store.verify_ledger().await.map_err(|e| e.to_string())?;
    store.close().await;
    println!(
        "checked {} entries and {} signed checkpoints in {:.2?}",
        report.entries,
        report.checkpoints,
        started.elapsed()
    );
    if report.ok() {
        println!("ledger OK");
        return Ok(true);
    }
    if let Some(i) = report.first_bad_entry {
        println!("LEDGER TAMPERED: first bad entry is {i}");
    } else {
        println!("LEDGER TAMPERED");
    }
    for p in &report.problems {
        println!("  - {p}");
    }
    Ok(false)
}

async fn checkpoint(cfg: Config) -> Result<(), String> {
    let store = shuyun_server::open_store(&cfg).await?;
    println!("verifier key: {}", store.verifier().to_vkey_string());
    match store.latest_checkpoint().await.map_err(|e| e.to_string())? {
        Some(cp) => print!("{}", cp.note),
        None => println!("(the ledger is empty)"),
    }
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo {
            source,
            listen,
            scale,
        } => match load_config(&source, Some(&listen)) {
            Ok(cfg) => run_server(cfg, Some(scale)).await.map(|()| true),
            Err(e) => Err(e),
        },
        Command::Serve { source } => match load_config(&source, None) {
            Ok(cfg) => run_server(cfg, None).await.map(|()| true),
            Err(e) => Err(e),
        },
        Command::Bootstrap {
            source,
            username,
            org_name,
            org_name_en,
            credit_code,
        } => match load_config(&source, None) {
            Ok(cfg) => bootstrap(cfg, &username, &org_name, &org_name_en, &credit_code)
                .await
                .map(|()| true),
            Err(e) => Err(e),
        },
        Command::Ingest {
            source,
            resource,
            user,
            format,
            encoding,
            file,
        } => match load_config(&source, None) {
            Ok(cfg) => {
                ingest(
                    cfg,
                    IngestArgs {
                        resource,
                        user,
                        format,
                        encoding,
                        file,
                    },
                )
                .await
            }
            Err(e) => Err(e),
        },
        Command::Ledger { command } => match command {
            LedgerCommand::Verify { source } => match load_config(&source, None) {
                Ok(cfg) => verify(cfg).await,
                Err(e) => Err(e),
            },
            LedgerCommand::Checkpoint { source } => match load_config(&source, None) {
                Ok(cfg) => checkpoint(cfg).await.map(|()| true),
                Err(e) => Err(e),
            },
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("shuyun: {e}");
            ExitCode::from(2)
        }
    }
}
