//! The ledger (存证/审计日志) in the database: appending entries with a
//! signed checkpoint per transaction, reading entries and proofs, and the
//! full verification behind `shuyun ledger verify`.
//!
//! An entry's leaf data is the UTF-8 text
//! `shuyun-ledger/v1\n{idx}\n{ts}\n{actor}\n{action}\n{object}\n{detail}`
//! where `detail` is the stored JSON text; its leaf hash is
//! SM3(0x00 || data) as in RFC 9162. Anyone holding the entries and the
//! published SM2 key can recompute the tree and check every checkpoint.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use shuyun_ledger::{Checkpoint, Frontier, Hash, leaf_hash};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{Backend, Store, StoreError, StoreResult};

/// Something that happened, to be written to the ledger.
#[derive(Debug, Clone)]
pub struct LedgerEvent {
    /// Who did it: `user:ID`, `token:ID`, `system`, or `anonymous`.
    pub actor: String,
    /// What was done, dotted: `auth.login`, `user.create`, ….
    pub action: String,
    /// What it was done to: `user:ID`, `org:ID`, ….
    pub object: String,
    /// Details as JSON. Never contains secrets.
    pub detail: serde_json::Value,
}

impl LedgerEvent {
    pub fn new(
        actor: impl Into<String>,
        action: &str,
        object: impl Into<String>,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            actor: actor.into(),
            action: action.to_string(),
            object: object.into(),
            detail,
        }
    }
}

/// One stored entry as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EntryView {
    pub index: u64,
    /// Unix milliseconds.
    pub ts: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: serde_json::Value,
    /// Hex SM3 leaf hash.
    pub leaf_hash: String,
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The exact bytes hashed into the tree for an entry.
pub fn leaf_data(
    idx: u64,
    ts: i64,
    actor: &str,
    action: &str,
    object: &str,
    detail: &str,
) -> String {
    let mut out =
        String::with_capacity(48 + actor.len() + action.len() + object.len() + detail.len());
    write_leaf_data(&mut out, idx, ts, actor, action, object, detail);
    out
}

/// [`leaf_data`] into a reused buffer, replacing its contents.
fn write_leaf_data(
    out: &mut String,
    idx: u64,
    ts: i64,
    actor: &str,
    action: &str,
    object: &str,
    detail: &str,
) {
    out.clear();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "shuyun-ledger/v1\n{idx}\n{ts}\n{actor}\n{action}\n{object}\n{detail}"
    );
}

pub(crate) async fn head(conn: &mut AnyConnection, backend: Backend) -> StoreResult<Frontier> {
    let sql = match backend {
        Backend::Postgres => "SELECT size, frontier FROM ledger_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT size, frontier FROM ledger_head WHERE id = 1",
    };
    match sqlx::query(sql).fetch_optional(&mut *conn).await? {
        Some(row) => Ok(Frontier::from_bytes(
            &row.try_get::<Vec<u8>, _>("frontier")?,
        )?),
        None => {
            let f = Frontier::new();
            sqlx::query("INSERT INTO ledger_head (id, size, frontier) VALUES (1, 0, $1)")
                .bind(f.to_bytes())
                .execute(&mut *conn)
                .await?;
            Ok(f)
        }
    }
}

const INSERT_CHUNK: usize = 500;

/// Append `events` at time `now_ms` and sign a checkpoint over the result,
/// inside the caller's transaction. Returns the new tree size.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    store: &Store,
    events: &[LedgerEvent],
    now_ms: i64,
) -> StoreResult<u64> {
    let mut frontier = head(conn, store.backend).await?;
    let mut rows = Vec::with_capacity(events.len());
    let mut data = String::with_capacity(512);
    for e in events {
        let idx = frontier.size();
        let (actor, action, object) =
            (one_line(&e.actor), one_line(&e.action), one_line(&e.object));
        let detail = e.detail.to_string();
        write_leaf_data(&mut data, idx, now_ms, &actor, &action, &object, &detail);
        let leaf = leaf_hash(data.as_bytes());
        frontier.push(leaf);
        rows.push((idx, actor, action, object, detail, leaf));
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO ledger_entries (idx, ts, actor, action, object, detail, leaf_hash) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            match store.backend {
                // SQLite: anonymous `?` parameters. Numbered `$N` ones are
                // named parameters to SQLite, and looking each one up by
                // name makes binding quadratic in the number of rows.
                Backend::Sqlite => sql.push_str("(?,?,?,?,?,?,?)"),
                Backend::Postgres => {
                    let b = i * 7;
                    sql.push_str(&format!(
                        "(${},${},${},${},${},${},${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7
                    ));
                }
            }
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (idx, actor, action, object, detail, leaf) in chunk {
            q = q
                .bind(*idx as i64)
                .bind(now_ms)
                .bind(actor.as_str())
                .bind(action.as_str())
                .bind(object.as_str())
                .bind(detail.as_str())
                .bind(leaf.to_vec());
        }
        q.execute(&mut *conn).await?;
    }
    let root = frontier.root();
    let checkpoint = Checkpoint {
        origin: store.identity.origin.clone(),
        size: frontier.size(),
        root,
        extensions: Vec::new(),
    };
    let note = store.identity.signer.sign(&checkpoint.to_note_text())?;
    sqlx::query("INSERT INTO ledger_checkpoints (size, root, ts, note) VALUES ($1, $2, $3, $4)")
        .bind(frontier.size() as i64)
        .bind(root.to_vec())
        .bind(now_ms)
        .bind(note)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE ledger_head SET size = $1, frontier = $2 WHERE id = 1")
        .bind(frontier.size() as i64)
        .bind(frontier.to_bytes())
        .execute(&mut *conn)
        .await?;
    Ok(frontier.size())
}

fn entry_from_row(row: &AnyRow) -> StoreResult<EntryView> {
    let detail: String = row.try_get("detail")?;
    Ok(EntryView {
        index: row.try_get::<i64, _>("idx")? as u64,
        ts: row.try_get("ts")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        object: row.try_get("object")?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
        leaf_hash: hex::encode(row.try_get::<Vec<u8>, _>("leaf_hash")?),
    })
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CheckpointView {
    pub size: u64,
    /// Hex SM3 root hash.
    pub root: String,
    pub ts: i64,
    /// The C2SP signed note.
    pub note: String,
}

/// Filters for listing entries.
#[derive(Debug, Default, Clone)]
pub struct EntryFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object: Option<String>,
    /// Return entries with index below this (for paging backwards).
    pub before: Option<u64>,
    pub limit: u32,
}

impl Store {
    pub async fn ledger_entry(&self, index: u64) -> StoreResult<Option<EntryView>> {
        let row = sqlx::query("SELECT * FROM ledger_entries WHERE idx = $1")
            .bind(index as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// Newest first.
    pub async fn ledger_entries(&self, f: &EntryFilter) -> StoreResult<Vec<EntryView>> {
        let rows = sqlx::query(
            "SELECT * FROM ledger_entries WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) \
             AND ($3 = '' OR object = $3) AND idx < $4 ORDER BY idx DESC LIMIT $5",
        )
        .bind(f.actor.clone().unwrap_or_default())
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.object.clone().unwrap_or_default())
        .bind(f.before.map_or(i64::MAX, |b| b as i64))
        .bind(i64::from(f.limit.clamp(1, 500)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    pub async fn latest_checkpoint(&self) -> StoreResult<Option<CheckpointView>> {
        self.checkpoint_query(
            "SELECT * FROM ledger_checkpoints ORDER BY size DESC LIMIT 1",
            None,
        )
        .await
    }

    pub async fn checkpoint_at(&self, size: u64) -> StoreResult<Option<CheckpointView>> {
        self.checkpoint_query(
            "SELECT * FROM ledger_checkpoints WHERE size = $1",
            Some(size),
        )
        .await
    }

    async fn checkpoint_query(
        &self,
        sql: &'static str,
        size: Option<u64>,
    ) -> StoreResult<Option<CheckpointView>> {
        let mut q = sqlx::query(sql);
        if let Some(s) = size {
            q = q.bind(s as i64);
        }
        let row = q.fetch_optional(&self.pool).await?;
        row.map(|r| -> StoreResult<CheckpointView> {
            Ok(CheckpointView {
                size: r.try_get::<i64, _>("size")? as u64,
                root: hex::encode(r.try_get::<Vec<u8>, _>("root")?),
                ts: r.try_get("ts")?,
                note: r.try_get("note")?,
            })
        })
        .transpose()
    }

    /// Bring the in-memory tree up to date with the stored leaf hashes.
    async fn sync_tree(
        &self,
    ) -> StoreResult<tokio::sync::MutexGuard<'_, shuyun_ledger::MerkleTree>> {
        let mut tree = self.tree.lock().await;
        loop {
            let rows = sqlx::query("SELECT idx, leaf_hash FROM ledger_entries WHERE idx >= $1 ORDER BY idx LIMIT 50000")
                .bind(tree.size() as i64)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let idx = row.try_get::<i64, _>("idx")? as u64;
                if idx != tree.size() {
                    return Err(StoreError::Domain(shuyun_domain::DomainError::new(
                        shuyun_domain::ErrorCode::LedgerIntegrity,
                        format!("ledger entry {} is missing", tree.size()),
                    )));
                }
                tree.push(to_hash(&row.try_get::<Vec<u8>, _>("leaf_hash")?)?);
            }
        }
        Ok(tree)
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> StoreResult<Vec<Hash>> {
        let tree = self.sync_tree().await?;
        Ok(tree.inclusion_proof(index, size)?)
    }

    /// Consistency proof between two tree sizes.
    pub async fn consistency_proof(&self, old_size: u64, new_size: u64) -> StoreResult<Vec<Hash>> {
        let tree = self.sync_tree().await?;
        Ok(tree.consistency_proof(old_size, new_size)?)
    }

    /// Recompute the whole tree from the stored entries and check every
    /// checkpoint; see [`VerifyReport`].
    pub async fn verify_ledger(&self) -> StoreResult<VerifyReport> {
        verify(self).await
    }
}

fn to_hash(v: &[u8]) -> StoreResult<Hash> {
    v.try_into().map_err(|_| {
        StoreError::Domain(shuyun_domain::DomainError::new(
            shuyun_domain::ErrorCode::LedgerIntegrity,
            "a stored hash is not 32 bytes",
        ))
    })
}

/// The outcome of a full verification.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    pub entries: u64,
    pub checkpoints: u64,
    /// Empty when everything checks out.
    pub problems: Vec<String>,
    /// The index of the first entry found bad, if any.
    pub first_bad_entry: Option<u64>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Default)]
struct Findings {
    problems: Vec<String>,
    first_bad: Option<u64>,
}

impl Findings {
    fn add(&mut self, idx: Option<u64>, msg: String) {
        if self.first_bad.is_none() {
            self.first_bad = idx;
        }
        if self.problems.len() < 100 {
            self.problems.push(msg);
        }
    }
}

/// Rows per keyset-paginated read during verification: small enough that
/// reading and hashing overlap well, large enough that per-query overhead
/// does not matter.
const VERIFY_BATCH: i64 = 4_096;
/// Batches read ahead of the hashing thread.
const VERIFY_READ_AHEAD: usize = 4;

/// Where the entry scan stopped.
enum ScanEnd {
    /// Every stored entry was read.
    Complete,
    /// Entries are missing or out of order; positions have shifted, so the
    /// scan stopped there.
    Broken,
}

/// Recompute every leaf hash and the tree from the stored entries, read on
/// one task and hashed on a blocking thread, and compare against every stored
/// checkpoint, whose signatures are checked with the store's key.
async fn verify(store: &Store) -> StoreResult<VerifyReport> {
    let verifier = store.verifier();
    let mut found = Findings::default();

    // Checkpoints: each must be correctly signed, name our origin and size.
    let mut checkpoints: BTreeMap<u64, Hash> = BTreeMap::new();
    let rows = sqlx::query("SELECT size, root, note FROM ledger_checkpoints ORDER BY size")
        .fetch_all(&store.pool)
        .await?;
    let n_checkpoints = rows.len() as u64;
    for row in rows {
        let size = row.try_get::<i64, _>("size")? as u64;
        let note: String = row.try_get("note")?;
        let stored_root = to_hash(&row.try_get::<Vec<u8>, _>("root")?)?;
        match verifier
            .open(&note)
            .map_err(StoreError::from)
            .and_then(|text| Ok(Checkpoint::parse(&text)?))
        {
            Ok(cp) if cp.origin != store.identity.origin => found.add(
                None,
                format!("checkpoint {size}: origin '{}' is not ours", cp.origin),
            ),
            Ok(cp) if cp.size != size || cp.root != stored_root => found.add(
                None,
                format!("checkpoint {size}: the signed note does not match the stored size/root"),
            ),
            Ok(cp) => {
                checkpoints.insert(size, cp.root);
            }
            Err(e) => found.add(None, format!("checkpoint {size}: signature invalid: {e}")),
        }
    }

    // Entries, streamed in batches by a reader task to a hashing thread, so
    // database reads and SM3 hashing run on different cores.
    let (tx, rx) = tokio::sync::mpsc::channel::<StoreResult<Vec<AnyRow>>>(VERIFY_READ_AHEAD);
    let pool = store.pool.clone();
    let reader = tokio::spawn(async move {
        let mut next = 0_i64;
        loop {
            let rows = sqlx::query(
                "SELECT idx, ts, actor, action, object, detail, leaf_hash FROM ledger_entries \
                 WHERE idx >= $1 ORDER BY idx LIMIT $2",
            )
            .bind(next)
            .bind(VERIFY_BATCH)
            .fetch_all(&pool)
            .await;
            match rows {
                Ok(rows) if rows.is_empty() => break,
                Ok(rows) => {
                    if let Some(last) = rows.last() {
                        next = last.try_get::<i64, _>(0).unwrap_or(i64::MAX - 1) + 1;
                    }
                    if tx.send(Ok(rows)).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    break;
                }
            }
        }
    });
    let hashing = tokio::task::spawn_blocking(move || {
        let mut scan = EntryScan::new(checkpoints, found);
        let end = scan.run(rx);
        (scan, end)
    });
    let (scan, end) = match hashing.await {
        Ok(done) => done,
        Err(e) => {
            reader.abort();
            return Err(StoreError::Config(format!(
                "ledger verification thread failed: {e}"
            )));
        }
    };
    let EntryScan {
        frontier,
        checkpoints,
        mut found,
        ..
    } = scan;
    match end {
        Ok(ScanEnd::Complete) => {
            reader.await.ok();
        }
        Ok(ScanEnd::Broken) => {
            reader.abort();
            return Ok(VerifyReport {
                entries: frontier.size(),
                checkpoints: n_checkpoints,
                problems: found.problems,
                first_bad_entry: found.first_bad,
            });
        }
        Err(e) => {
            reader.abort();
            return Err(e);
        }
    }
    let entries = frontier.size();
    if let Some((&max_cp, _)) = checkpoints.last_key_value() {
        if max_cp > entries {
            found.add(
                Some(entries),
                format!("checkpoint {max_cp} covers more entries than are stored ({entries}): entries were deleted"),
            );
        } else if max_cp < entries {
            found.add(
                Some(max_cp),
                format!(
                    "entries {max_cp}..{} are not covered by any signed checkpoint",
                    entries - 1
                ),
            );
        }
    } else if entries > 0 {
        found.add(
            Some(0),
            "no signed checkpoint covers the stored entries".to_string(),
        );
    }
    let head = sqlx::query("SELECT size FROM ledger_head WHERE id = 1")
        .fetch_optional(&store.pool)
        .await?;
    if let Some(h) = head {
        let head_size = h.try_get::<i64, _>("size")? as u64;
        if head_size != entries {
            found.add(
                Some(head_size.min(entries)),
                format!("the ledger head records {head_size} entries but {entries} are stored"),
            );
        }
    }
    Ok(VerifyReport {
        entries,
        checkpoints: n_checkpoints,
        problems: found.problems,
        first_bad_entry: found.first_bad,
    })
}

/// The hashing side of [`verify`]: recomputes leaf hashes and the tree from
/// rows of `idx, ts, actor, action, object, detail, leaf_hash`, in order.
struct EntryScan {
    frontier: Frontier,
    /// Verified checkpoint roots by tree size.
    checkpoints: BTreeMap<u64, Hash>,
    found: Findings,
    last_good_checkpoint: u64,
    /// Reused buffer for the leaf data of one entry.
    data: String,
}

impl EntryScan {
    fn new(checkpoints: BTreeMap<u64, Hash>, found: Findings) -> Self {
        Self {
            frontier: Frontier::new(),
            checkpoints,
            found,
            last_good_checkpoint: 0,
            data: String::with_capacity(512),
        }
    }

    /// Consume batches until the reader is done or the scan breaks.
    fn run(
        &mut self,
        mut rx: tokio::sync::mpsc::Receiver<StoreResult<Vec<AnyRow>>>,
    ) -> StoreResult<ScanEnd> {
        while let Some(batch) = rx.blocking_recv() {
            for row in &batch? {
                if let ScanEnd::Broken = self.entry(row)? {
                    return Ok(ScanEnd::Broken);
                }
            }
        }
        Ok(ScanEnd::Complete)
    }

    fn entry(&mut self, row: &AnyRow) -> StoreResult<ScanEnd> {
        let idx = row.try_get::<i64, _>(0)? as u64;
        let expected = self.frontier.size();
        if idx != expected {
            let msg = if idx > expected {
                format!("entry {expected} is missing (next stored entry is {idx})")
            } else {
                format!("entry {idx} appears out of order")
            };
            self.found.add(Some(expected), msg);
            // Cannot continue meaningfully: positions have shifted.
            return Ok(ScanEnd::Broken);
        }
        write_leaf_data(
            &mut self.data,
            idx,
            row.try_get(1)?,
            row.try_get::<&str, _>(2)?,
            row.try_get::<&str, _>(3)?,
            row.try_get::<&str, _>(4)?,
            row.try_get::<&str, _>(5)?,
        );
        let leaf = leaf_hash(self.data.as_bytes());
        if leaf.as_slice() != row.try_get::<&[u8], _>(6)? {
            self.found.add(
                Some(idx),
                format!("entry {idx}: content does not match its stored leaf hash (edited)"),
            );
        }
        self.frontier.push(leaf);
        let size = self.frontier.size();
        if let Some(root) = self.checkpoints.get(&size) {
            let last_good = self.last_good_checkpoint;
            if *root != self.frontier.root() {
                self.found.add(
                    Some(last_good),
                    format!(
                        "checkpoint {size}: recomputed root differs; an entry in {last_good}..{} was changed, inserted or reordered",
                        size - 1
                    ),
                );
            }
            // Later checkpoints are judged on their own recomputed roots.
            self.last_good_checkpoint = size;
        }
        Ok(ScanEnd::Complete)
    }
}
