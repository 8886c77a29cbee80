//! The shuyun HTTP server: the JSON API under `/api/v1`, the web portal
//! (Chinese first, English on request), the generated OpenAPI document,
//! health, readiness and Prometheus metrics.
//!
//! Only this crate knows HTTP. Handlers are thin: extract, call the store or
//! the domain, map the result. Every route is declared once in
//! [`routes::table`] with the permission it needs.

pub mod api;
pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod metrics;
pub mod objects;
pub mod pages;
pub mod routes;
pub mod workspace;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shuyun_domain::{DomainError, ErrorCode};
use shuyun_store::Store;
use tokio::net::TcpListener;

pub use config::Config;

/// A source of the current time in Unix milliseconds; tests move it.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Self(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
        }))
    }

    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

/// Working days a department has to verify and answer a ticket, unless
/// configured otherwise.
pub const DEFAULT_TICKET_WORKING_DAYS: u32 = 10;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub limiter: Arc<auth::LoginLimiter>,
    pub metrics: Arc<metrics::Metrics>,
    pub secure_cookies: bool,
    pub openapi: Arc<serde_json::Value>,
    /// Administrative division of this platform (in resource identifiers).
    pub division: shuyun_domain::DivisionCode,
    /// Where resource data lives (Parquet objects): the local data directory
    /// or an S3-compatible store.
    pub objects: Arc<dyn object_store::ObjectStore>,
    /// Working days, holidays and adjusted working days (工作日历) for
    /// statutory deadlines.
    pub calendar: Arc<shuyun_domain::calendar::WorkCalendar>,
    /// Working days a department has to answer a ticket or objection.
    pub ticket_working_days: u32,
    /// The secure workspace's running queries, limits and pseudonym secret.
    pub workspaces: Arc<workspace::Workspaces>,
}

impl AppState {
    pub fn new(
        store: Store,
        objects: Arc<dyn object_store::ObjectStore>,
        clock: Clock,
        secure_cookies: bool,
    ) -> Self {
        Self {
            store,
            clock,
            limiter: Arc::new(auth::LoginLimiter::default()),
            metrics: Arc::new(metrics::Metrics::default()),
            secure_cookies,
            openapi: Arc::new(routes::openapi()),
            division: shuyun_domain::DivisionCode::jingdezhen(),
            objects,
            calendar: Arc::new(shuyun_domain::calendar::WorkCalendar::builtin()),
            ticket_working_days: DEFAULT_TICKET_WORKING_DAYS,
            workspaces: Arc::new(workspace::Workspaces::random(workspace::Limits::default())),
        }
    }

    /// Use the platform's pseudonym secret (so pseudonyms stay the same
    /// across restarts) and the workspace's limits.
    pub fn with_workspaces(mut self, workspaces: workspace::Workspaces) -> Self {
        self.workspaces = Arc::new(workspaces);
        self
    }

    /// Use a configured working-day calendar and answer period for tickets.
    pub fn with_calendar(
        mut self,
        calendar: shuyun_domain::calendar::WorkCalendar,
        ticket_working_days: u32,
    ) -> Self {
        self.calendar = Arc::new(calendar);
        self.ticket_working_days = ticket_working_days;
        self
    }

    /// Use another administrative division code (from the configuration).
    pub fn with_division(mut self, division: shuyun_domain::DivisionCode) -> Self {
        self.division = division;
        self
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// Largest accepted request body (JSON or form).
pub const BODY_LIMIT: usize = 256 * 1024;
/// Largest data upload; the body is streamed, never held in memory.
pub const UPLOAD_LIMIT: usize = 8 << 30;

async fn headers_and_log(
    state: axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let start = std::time::Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    state
        .metrics
        .observe(method.as_str(), &route, status, elapsed);
    tracing::info!(method = %method, route = %route, status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request");
    resp
}

async fn fallback(req: Request) -> Response {
    let e = DomainError::new(
        ErrorCode::NotFound,
        format!("no route for {}", req.uri().path()),
    );
    if req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/healthz") {
        error::problem_response(&e)
    } else {
        pages::error_page(&e)
    }
}

async fn method_not_allowed() -> Response {
    let mut resp = error::problem_response(&DomainError::new(
        ErrorCode::BadRequest,
        "this method is not allowed here",
    ));
    *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    error::problem_response(&DomainError::internal("handler panicked")).into_response()
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    routes::router(state.clone())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state, headers_and_log))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
}

/// How often the platform records the expiry of agreements whose term has
/// ended. Decisions do not wait for it: they derive expiry from the clock.
pub const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Records expiries (`Store::expire_due`) every [`EXPIRY_SWEEP_INTERVAL`].
async fn expiry_sweeper(state: AppState) {
    let mut tick = tokio::time::interval(EXPIRY_SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.store.expire_due(state.now()).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(agreements = ?ids, "recorded the expiry of agreements");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the expiry sweep failed"),
        }
    }
}

/// Serve until `shutdown` resolves, recording agreement expiries on a
/// timer meanwhile.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(expiry_sweeper(state.clone()));
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sweeper.abort();
    served
}

/// Wait for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Open the store a configuration names: create the data directory and the
/// ledger's SM2 key on first start, connect, migrate.
pub async fn open_store(cfg: &Config) -> Result<Store, String> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| {
        format!(
            "cannot create data directory {}: {e}",
            cfg.data_dir.display()
        )
    })?;
    let key_file = cfg.ledger_key_file();
    let signer = if key_file.exists() {
        let pem = std::fs::read_to_string(&key_file)
            .map_err(|e| format!("cannot read {}: {e}", key_file.display()))?;
        shuyun_ledger::NoteSigner::from_pkcs8_pem(&cfg.ledger_origin, &pem)
            .map_err(|e| format!("{}: {e}", key_file.display()))?
    } else {
        let signer =
            shuyun_ledger::NoteSigner::generate(&cfg.ledger_origin).map_err(|e| e.to_string())?;
        let pem = signer.to_pkcs8_pem().map_err(|e| e.to_string())?;
        write_private(&key_file, pem.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", key_file.display()))?;
        tracing::info!(file = %key_file.display(), "created the ledger signing key");
        signer
    };
    Store::open(
        &cfg.database_url(),
        shuyun_store::LedgerIdentity {
            origin: cfg.ledger_origin.clone(),
            signer,
        },
    )
    .await
    .map_err(|e| format!("cannot open the database: {e}"))
}

/// The object store for resource data: files under `<data_dir>/objects`, or
/// the S3-compatible store of the `[object_store]` section (see [`objects`]).
pub fn open_objects(cfg: &Config) -> Result<Arc<dyn object_store::ObjectStore>, String> {
    objects::open(cfg)
}

pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}
