//! Fresh databases for tests: a new SQLite file or a new PostgreSQL
//! database per test, so the same test runs against both backends.
//!
//! PostgreSQL is found at `SHUYUN_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test creates its own
//! database there and drops it on [`TestDb::cleanup`].

use std::path::PathBuf;

use rand::RngCore;
use sqlx::Connection;

use crate::{Backend, StoreResult};

pub fn pg_admin_url() -> String {
    std::env::var("SHUYUN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database made for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pg_name: Option<String>,
    dir: Option<PathBuf>,
}

impl TestDb {
    /// Create an empty database of the given backend.
    pub async fn new(backend: Backend) -> StoreResult<Self> {
        let mut b = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let tag = hex::encode(b);
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("shuyun-test-{tag}"));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| crate::StoreError::Config(e.to_string()))?;
                Ok(Self {
                    url: format!("sqlite://{}", dir.join("shuyun.db").display()),
                    backend,
                    pg_name: None,
                    dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = format!("shuyun_t_{tag}");
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                Ok(Self {
                    url: format!("{base}/{name}"),
                    backend,
                    pg_name: Some(name),
                    dir: None,
                })
            }
        }
    }

    /// The SQLite file's directory, if this is SQLite.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref()
    }

    /// Remove the database.
    pub async fn cleanup(self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
