//! Test kit: boot the real server on port 0 with a fresh database and the
//! demo organisations, with a clock the test can move.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use shuyun_client::Client;
use shuyun_ledger::NoteSigner;
use shuyun_server::workspace::Workspaces;
use shuyun_server::{AppState, Clock};
use shuyun_store::testing::TestDb;
use shuyun_store::{Backend, LedgerIdentity, Store};

pub const PASSWORD: &str = shuyun_server::demo::DEMO_PASSWORD;

pub struct App {
    pub base: String,
    pub store: Store,
    offset: Arc<AtomicI64>,
    /// The platform's unit digest key of the app (pilot data loaded
    /// outside the API needs it).
    pub unit_digests: shuyun_domain::workspace::UnitDigestKey,
    pub objects_dir: std::path::PathBuf,
    /// The platform's secret, kept so that a restart keeps pseudonyms and
    /// digests.
    master_key: [u8; 32],
    clock: Clock,
    db: Option<TestDb>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl App {
    /// Move the server's clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.offset.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base).expect("client")
    }

    pub async fn login(&self, username: &str) -> Client {
        let mut c = self.client();
        c.login(username, PASSWORD).await.expect("login");
        c
    }

    /// Stop serving (the store stays open).
    async fn halt(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Restart the server as a new process would: the same database,
    /// objects, secret and clock, nothing kept in memory. It listens on a
    /// new port: log in again afterwards.
    pub async fn restart(&mut self) {
        self.halt().await;
        let (base, stop, task) = serve(state(
            &self.store,
            &self.objects_dir,
            self.clock.clone(),
            self.master_key,
        ))
        .await;
        (self.base, self.stop, self.task) = (base, Some(stop), Some(task));
    }

    pub async fn stop(mut self) {
        self.halt().await;
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
        let _ = std::fs::remove_dir_all(&self.objects_dir);
    }
}

/// A second reviewer in the implementing institution (szzx), as releases
/// need two; created at `now`.
pub async fn second_reviewer(app: &App, now: i64) {
    let me: serde_json::Value = app.login("szzx").await.get("/api/v1/me").await.expect("me");
    app.store
        .create_user(
            "system",
            shuyun_store::accounts::NewUser {
                org_id: me["org_id"].as_i64().expect("org"),
                username: "szzx.review".parse().expect("name"),
                display_name: "数字经济发展中心 复核人".into(),
                password: PASSWORD.into(),
            },
            false,
            now,
        )
        .await
        .expect("second reviewer");
}

pub async fn spawn_app(backend: Backend) -> App {
    let db = TestDb::new(backend).await.expect("database");
    let store = Store::open(
        &db.url,
        LedgerIdentity {
            origin: "test.shuyun/ledger".into(),
            signer: NoteSigner::generate("test.shuyun/ledger").expect("key"),
        },
    )
    .await
    .expect("store");
    let offset = Arc::new(AtomicI64::new(0));
    let o = offset.clone();
    let system = Clock::system();
    let clock = Clock::from_fn(move || system.now() + o.load(Ordering::SeqCst));
    shuyun_server::demo::seed(&store, clock.now())
        .await
        .expect("seed");
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let objects_dir =
        std::env::temp_dir().join(format!("shuyun-objects-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&objects_dir).expect("objects dir");
    let mut master_key = [0u8; 32];
    rand::fill(&mut master_key);
    let state = state(&store, &objects_dir, clock.clone(), master_key);
    let unit_digests = state.workspaces.unit_digest_key();
    let (base, stop, task) = serve(state).await;
    App {
        unit_digests,
        base,
        store,
        offset,
        objects_dir,
        master_key,
        clock,
        db: Some(db),
        stop: Some(stop),
        task: Some(task),
    }
}

fn state(store: &Store, objects_dir: &std::path::Path, clock: Clock, key: [u8; 32]) -> AppState {
    let objects: Arc<dyn object_store::ObjectStore> = Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(objects_dir).expect("object store"),
    );
    AppState::new(store.clone(), objects, clock, false).with_workspaces(Workspaces::new(
        key,
        shuyun_server::workspace::Limits::default(),
    ))
}

async fn serve(
    state: AppState,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let _ = state.openapi.clone();
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = shuyun_server::serve(listener, state, async {
            let _ = rx.await;
        })
        .await;
    });
    (base, tx, task)
}

/// Run a test body against both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(shuyun_store::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(shuyun_store::Backend::Postgres).await })*
        }
    };
}

/// One demo login per role.
pub fn user_of(role: shuyun_domain::Role) -> &'static str {
    use shuyun_domain::Role::*;
    match role {
        DataAuthority => "sjj",
        ImplementingInstitution => "szzx",
        SourceDepartment => "fgw",
        Operator => "yunying1",
        Buyer => "bank1",
        Regulator => "jianguan",
        PlatformAdmin => "admin",
    }
}
