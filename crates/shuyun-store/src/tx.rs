//! Transactions that carry their own ledger entries.
//!
//! A [`Tx`] is the only way to change state. Callers record [`LedgerEvent`]s
//! as they go; [`Tx::commit`] appends them to the ledger, signs a checkpoint
//! over the new tree, and commits everything at once. A transaction that is
//! dropped without commit rolls back its changes and its entries together.

use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::ledger::{self, LedgerEvent};
use crate::{Backend, Store, StoreResult};

pub struct Tx {
    inner: Transaction<'static, Any>,
    store: Store,
    pending: Vec<LedgerEvent>,
    now_ms: i64,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl Store {
    /// Begin a write transaction at time `now_ms` (Unix milliseconds).
    pub async fn begin(&self, now_ms: i64) -> StoreResult<Tx> {
        let (inner, gate) = match self.backend {
            Backend::Sqlite => {
                let gate = self.write_gate.clone().lock_owned().await;
                (self.pool.begin_with("BEGIN IMMEDIATE").await?, Some(gate))
            }
            Backend::Postgres => (self.pool.begin().await?, None),
        };
        Ok(Tx {
            inner,
            store: self.clone(),
            pending: Vec::new(),
            now_ms,
            _gate: gate,
        })
    }
}

impl Tx {
    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Record a ledger entry to be appended when this transaction commits.
    pub fn record(&mut self, event: LedgerEvent) {
        self.pending.push(event);
    }

    /// Append the recorded entries and a signed checkpoint, then commit.
    /// Returns the ledger size after the commit when entries were written.
    pub async fn commit(mut self) -> StoreResult<Option<u64>> {
        let size = if self.pending.is_empty() {
            None
        } else {
            let events = std::mem::take(&mut self.pending);
            Some(ledger::append(&mut self.inner, &self.store, &events, self.now_ms).await?)
        };
        self.inner.commit().await?;
        Ok(size)
    }
}
