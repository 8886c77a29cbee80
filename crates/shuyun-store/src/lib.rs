//! Storage for shuyun: one [`Store`] over SQLite (the embedded default) and
//! PostgreSQL (production), chosen from the database URL at start-up.
//!
//! Every change goes through a [`Tx`]; a `Tx` collects ledger entries and, on
//! commit, appends them to the ledger and signs a checkpoint in the same
//! database transaction, so no state change can commit without its audit
//! record. The same SQL runs on both backends through sqlx's `Any` driver.

pub mod accounts;
pub mod authorization;
pub mod catalogue;
pub mod data;
pub mod ledger;
pub mod quality;
mod schema;
pub mod testing;
pub mod tickets;
mod tx;
pub mod workspace;

use std::sync::Arc;

use shuyun_domain::{DomainError, ErrorCode};
use shuyun_ledger::{MerkleTree, NoteSigner, NoteVerifier};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use tokio::sync::Mutex;

pub use ledger::{EntryView, LedgerEvent, VerifyReport};
pub use tx::Tx;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `VALUES` placeholders for a multi-row insert of `rows` rows of `cols`
    /// columns, in each backend's natural style: anonymous `?` for SQLite
    /// (its numbered `$N` are named parameters, which sqlx binds by name,
    /// quadratically), numbered `$N` for PostgreSQL.
    pub fn values_placeholders(self, rows: usize, cols: usize) -> String {
        let mut sql = String::with_capacity(rows * cols * 5);
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ",(" });
            for c in 0..cols {
                if c > 0 {
                    sql.push(',');
                }
                match self {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => sql.push_str(&format!("${}", r * cols + c + 1)),
                }
            }
            sql.push(')');
        }
        sql
    }

    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL '{}': use sqlite://PATH or postgres://…",
                url.split('@').next_back().unwrap_or("")
            )))
        }
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("ledger: {0}")]
    Ledger(#[from] shuyun_ledger::LedgerError),
    #[error("configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Whether this is a domain `Conflict`.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Domain(e) if e.code == ErrorCode::Conflict)
    }

    /// Whether this is a domain `NotFound`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::Domain(e) if e.code == ErrorCode::NotFound)
    }

    /// The domain view of this error: domain errors pass through; unique
    /// violations become conflicts; the rest are internal.
    pub fn into_domain(self) -> DomainError {
        match self {
            StoreError::Domain(e) => e,
            StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                DomainError::conflict("an object with the same unique key already exists")
            }
            other => DomainError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Ledger identity: the checkpoint origin line and the SM2 signing key.
pub struct LedgerIdentity {
    pub origin: String,
    pub signer: NoteSigner,
}

/// The store: a connection pool plus the ledger's signing identity and an
/// in-memory copy of the Merkle tree used to serve proofs.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database URL, for the ledger's long reads on a connection of the
    /// backend's own driver (see `ledger::NativeConn`).
    url: Arc<str>,
    identity: Arc<LedgerIdentity>,
    tree: Arc<Mutex<MerkleTree>>,
    /// SQLite allows one writer at a time; writers queue here instead of
    /// spinning on SQLITE_BUSY.
    write_gate: Arc<Mutex<()>>,
}

impl Store {
    /// Connect, run migrations, and make sure the ledger head exists.
    pub async fn open(url: &str, identity: LedgerIdentity) -> StoreResult<Self> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let max = match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        schema::migrate(&pool, backend).await?;
        let store = Self {
            pool,
            backend,
            url: url.into(),
            identity: Arc::new(identity),
            tree: Arc::new(Mutex::new(MerkleTree::new())),
            write_gate: Arc::new(Mutex::new(())),
        };
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The published key that verifies the ledger's checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.identity.signer.verifier()
    }

    pub fn origin(&self) -> &str {
        &self.identity.origin
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> StoreResult<()> {
        let row = sqlx::query("SELECT 1 AS one").fetch_one(&self.pool).await?;
        let _: i64 = row.try_get("one")?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::Backend;

    #[test]
    fn placeholders() {
        assert_eq!(Backend::Sqlite.values_placeholders(2, 2), "(?,?),(?,?)");
        assert_eq!(
            Backend::Postgres.values_placeholders(2, 3),
            "($1,$2,$3),($4,$5,$6)"
        );
    }
}
