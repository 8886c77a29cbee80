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
use shuyun_ledger::{Checkpoint, Frontier, Hash, NoteVerifier, leaf_hash};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection, Row};

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

/// Entries per INSERT statement (7 parameters each, far within the limits of
/// SQLite, 32766, and PostgreSQL, 65535). Small enough that a transaction of
/// a thousand entries already has several chunks to overlap (see [`append`]);
/// larger chunks measured no faster.
const INSERT_CHUNK: usize = 250;

/// An entry ready to insert.
struct NewEntry {
    idx: i64,
    actor: String,
    action: String,
    object: String,
    detail: String,
    leaf: Hash,
}

/// Leaf data and leaf hashes of `events`, appended to `frontier`; `data` is
/// a reused buffer.
fn prepare(
    events: &[LedgerEvent],
    frontier: &mut Frontier,
    now_ms: i64,
    data: &mut String,
) -> Vec<NewEntry> {
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        let idx = frontier.size();
        let (actor, action, object) =
            (one_line(&e.actor), one_line(&e.action), one_line(&e.object));
        let detail = e.detail.to_string();
        write_leaf_data(data, idx, now_ms, &actor, &action, &object, &detail);
        let leaf = leaf_hash(data.as_bytes());
        frontier.push(leaf);
        rows.push(NewEntry {
            idx: idx as i64,
            actor,
            action,
            object,
            detail,
            leaf,
        });
    }
    rows
}

/// Insert `rows` with one multi-row INSERT.
async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: Vec<NewEntry>,
    now_ms: i64,
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO ledger_entries (idx, ts, actor, action, object, detail, leaf_hash) VALUES {}",
        backend.values_placeholders(rows.len(), 7)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in rows {
        q = q
            .bind(r.idx)
            .bind(now_ms)
            .bind(r.actor)
            .bind(r.action)
            .bind(r.object)
            .bind(r.detail)
            .bind(r.leaf.to_vec());
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// What the CPU side of [`append`] has ready after each insert.
enum Next {
    /// The next chunk of entries.
    Rows(Vec<NewEntry>),
    /// The signed checkpoint note, once every entry is inserted.
    Signed(String),
}

/// Append `events` at time `now_ms` and sign a checkpoint over the result,
/// inside the caller's transaction. Returns the new tree size.
///
/// The events go in chunks of [`INSERT_CHUNK`]; while the database inserts
/// one chunk, this task hashes the next (and, after the last, signs the
/// checkpoint), so hashing and database work overlap.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    store: &Store,
    events: &[LedgerEvent],
    now_ms: i64,
) -> StoreResult<u64> {
    let backend = store.backend;
    let mut frontier = head(conn, backend).await?;
    let mut data = String::with_capacity(512);
    let mut chunks = events.chunks(INSERT_CHUNK);
    let mut rows = match chunks.next() {
        Some(chunk) => prepare(chunk, &mut frontier, now_ms, &mut data),
        None => Vec::new(),
    };
    let note = loop {
        // `biased`: the insert is polled first, so its statement is on its
        // way to the database before the CPU work starts.
        let (inserted, next) = tokio::join!(biased; insert(conn, backend, rows, now_ms), async {
            match chunks.next() {
                Some(chunk) => Ok(Next::Rows(prepare(chunk, &mut frontier, now_ms, &mut data))),
                None => sign_checkpoint(store, &frontier).map(Next::Signed),
            }
        });
        inserted?;
        match next? {
            Next::Rows(next) => rows = next,
            Next::Signed(note) => break note,
        }
    };
    sqlx::query("INSERT INTO ledger_checkpoints (size, root, ts, note) VALUES ($1, $2, $3, $4)")
        .bind(frontier.size() as i64)
        .bind(frontier.root().to_vec())
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

/// The signed checkpoint note for the tree `frontier` describes.
fn sign_checkpoint(store: &Store, frontier: &Frontier) -> StoreResult<String> {
    let checkpoint = Checkpoint {
        origin: store.identity.origin.clone(),
        size: frontier.size(),
        root: frontier.root(),
        extensions: Vec::new(),
    };
    Ok(store.identity.signer.sign(&checkpoint.to_note_text())?)
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

    /// The in-memory tree, holding at least `need` leaves if the ledger has
    /// that many: it is brought up to date with the stored leaf hashes only
    /// when it is shorter. Entries are append-only, so a tree that already
    /// has `need` leaves answers every proof up to size `need` exactly as an
    /// up-to-date one would, without a database round trip.
    async fn sync_tree(
        &self,
        need: u64,
    ) -> StoreResult<tokio::sync::MutexGuard<'_, shuyun_ledger::MerkleTree>> {
        let mut tree = self.tree.lock().await;
        if tree.size() >= need {
            return Ok(tree);
        }
        // The first batch comes from the pool; when there is more than one
        // batch to catch up on (at start-up), the rest comes through a
        // connection of the backend's own driver, which reads much faster.
        let mut hashes = Vec::new();
        let first = sqlx::query(SYNC_SELECT)
            .bind(tree.size() as i64)
            .bind(SYNC_BATCH)
            .fetch_all(&self.pool)
            .await?;
        for row in &first {
            let hash = row.try_get::<&[u8], _>(1)?.try_into().ok();
            hashes.push((row.try_get::<i64, _>(0)?, hash));
        }
        drop(first);
        let mut native = None;
        loop {
            let full = hashes.len() as i64 == SYNC_BATCH;
            for (idx, hash) in hashes.drain(..) {
                if idx as u64 != tree.size() {
                    return Err(StoreError::Domain(shuyun_domain::DomainError::new(
                        shuyun_domain::ErrorCode::LedgerIntegrity,
                        format!("ledger entry {} is missing", tree.size()),
                    )));
                }
                tree.push(hash.ok_or_else(not_a_hash)?);
            }
            if !full {
                break;
            }
            let conn = match &mut native {
                Some(conn) => conn,
                None => native.insert(NativeConn::open(self).await?),
            };
            conn.leaf_hashes(tree.size() as i64, SYNC_BATCH, &mut hashes)
                .await?;
        }
        if let Some(conn) = native {
            conn.close().await;
        }
        Ok(tree)
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> StoreResult<Vec<Hash>> {
        let tree = self.sync_tree(size).await?;
        Ok(tree.inclusion_proof(index, size)?)
    }

    /// Consistency proof between two tree sizes.
    pub async fn consistency_proof(&self, old_size: u64, new_size: u64) -> StoreResult<Vec<Hash>> {
        let tree = self.sync_tree(new_size).await?;
        Ok(tree.consistency_proof(old_size, new_size)?)
    }

    /// Recompute the whole tree from the stored entries and check every
    /// checkpoint; see [`VerifyReport`].
    pub async fn verify_ledger(&self) -> StoreResult<VerifyReport> {
        verify(self).await
    }
}

fn to_hash(v: &[u8]) -> StoreResult<Hash> {
    v.try_into().map_err(|_| not_a_hash())
}

fn not_a_hash() -> StoreError {
    StoreError::Domain(shuyun_domain::DomainError::new(
        shuyun_domain::ErrorCode::LedgerIntegrity,
        "a stored hash is not 32 bytes",
    ))
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
/// The entries to verify, with each entry's leaf data (see [`leaf_data`])
/// put together by the database: one text column instead of six costs far
/// less to fetch. The same SQL works on both backends (`||` turns the BIGINT
/// columns into their decimal text, as Rust's formatting does); the test
/// `verify_accepts_unusual_entries` keeps the two definitions in step.
const VERIFY_SELECT: &str = "SELECT idx, 'shuyun-ledger/v1\n' || idx || '\n' || ts || '\n' || actor \
     || '\n' || action || '\n' || object || '\n' || detail AS data, leaf_hash \
     FROM ledger_entries WHERE idx >= $1 ORDER BY idx LIMIT $2";

/// Recompute every leaf hash and the tree from the stored entries and
/// compare against every stored checkpoint, whose signatures are checked
/// with the store's key.
///
/// Three things run at once: a task reads the entries in batches, a
/// blocking thread hashes them (recording the recomputed root at every
/// stored checkpoint size), and another blocking thread checks the
/// checkpoint signatures. The findings are then put together in the order
/// of a sequential pass: checkpoint problems first, then entry by entry.
async fn verify(store: &Store) -> StoreResult<VerifyReport> {
    let rows = sqlx::query("SELECT size, root, note FROM ledger_checkpoints ORDER BY size")
        .fetch_all(&store.pool)
        .await?;
    let n_checkpoints = rows.len() as u64;
    let mut stored = Vec::with_capacity(rows.len());
    for row in &rows {
        stored.push(StoredCheckpoint {
            size: row.try_get::<i64, _>("size")? as u64,
            root: to_hash(row.try_get::<&[u8], _>("root")?)?,
            note: row.try_get("note")?,
        });
    }
    drop(rows);
    let sizes = stored.iter().map(|c| c.size).collect();

    // Checkpoint signatures.
    let verifier = store.verifier();
    let origin = store.identity.origin.clone();
    let signatures = tokio::task::spawn_blocking(move || {
        stored
            .into_iter()
            .map(|c| (c.size, c.check(&verifier, &origin)))
            .collect::<Vec<_>>()
    });

    // Entries, streamed in batches by a reader task to a hashing thread.
    let (tx, rx) = tokio::sync::mpsc::channel::<StoreResult<EntryBatch>>(VERIFY_READ_AHEAD);
    let mut conn = NativeConn::open(store).await?;
    let reader = tokio::spawn(async move {
        let mut next = 0_i64;
        loop {
            let mut batch = EntryBatch::default();
            match conn.entries(next, VERIFY_BATCH, &mut batch).await {
                Ok(()) if batch.idx.is_empty() => break,
                Ok(()) => {
                    next = batch.idx.last().map_or(i64::MAX - 1, |&i| i) + 1;
                    if tx.send(Ok(batch)).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            }
        }
        conn.close().await;
    });
    let hashing = tokio::task::spawn_blocking(move || {
        let mut scan = EntryScan::new(sizes);
        let outcome = scan.run(rx);
        (scan, outcome)
    });

    let hashed = joined(hashing.await);
    // The reader ends by itself (closing its connection) once the hashing
    // thread has gone.
    drop(reader);
    let (scan, outcome) = hashed?;
    outcome?;
    let signatures = joined(signatures.await)?;

    // Replay in sequential order.
    let mut found = Findings::default();
    let mut checkpoints: BTreeMap<u64, Hash> = BTreeMap::new();
    for (size, checked) in signatures {
        match checked {
            Ok(root) => {
                checkpoints.insert(size, root);
            }
            Err(msg) => found.add(None, msg),
        }
    }
    let mut last_good_checkpoint = 0_u64;
    for event in scan.events {
        match event {
            ScanEvent::Edited(idx) => found.add(
                Some(idx),
                format!("entry {idx}: content does not match its stored leaf hash (edited)"),
            ),
            ScanEvent::Checkpoint { size, root } => {
                let Some(signed) = checkpoints.get(&size) else {
                    continue;
                };
                if *signed != root {
                    found.add(
                        Some(last_good_checkpoint),
                        format!(
                            "checkpoint {size}: recomputed root differs; an entry in {last_good_checkpoint}..{} was changed, inserted or reordered",
                            size - 1
                        ),
                    );
                }
                // Later checkpoints are judged on their own recomputed roots.
                last_good_checkpoint = size;
            }
        }
    }
    let entries = scan.frontier.size();
    if let Some((expected, idx)) = scan.broken {
        let msg = if idx > expected {
            format!("entry {expected} is missing (next stored entry is {idx})")
        } else {
            format!("entry {idx} appears out of order")
        };
        found.add(Some(expected), msg);
        // Cannot continue meaningfully: positions have shifted.
        return Ok(VerifyReport {
            entries,
            checkpoints: n_checkpoints,
            problems: found.problems,
            first_bad_entry: found.first_bad,
        });
    }
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

/// The result of a blocking task: a panic carries on here, and a task
/// cancelled by a runtime shutting down becomes an error.
fn joined<T>(r: Result<T, tokio::task::JoinError>) -> StoreResult<T> {
    r.map_err(|e| match e.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(e) => StoreError::Domain(shuyun_domain::DomainError::new(
            shuyun_domain::ErrorCode::Internal,
            format!("ledger verification was cancelled: {e}"),
        )),
    })
}

/// A checkpoint row as stored.
struct StoredCheckpoint {
    size: u64,
    root: Hash,
    note: String,
}

impl StoredCheckpoint {
    /// The signed root if the note is correctly signed by our key, names our
    /// origin and matches the stored size and root; otherwise the problem.
    fn check(&self, verifier: &NoteVerifier, origin: &str) -> Result<Hash, String> {
        let size = self.size;
        match verifier
            .open(&self.note)
            .map_err(StoreError::from)
            .and_then(|text| Ok(Checkpoint::parse(&text)?))
        {
            Ok(cp) if cp.origin != origin => Err(format!(
                "checkpoint {size}: origin '{}' is not ours",
                cp.origin
            )),
            Ok(cp) if cp.size != size || cp.root != self.root => Err(format!(
                "checkpoint {size}: the signed note does not match the stored size/root"
            )),
            Ok(cp) => Ok(cp.root),
            Err(e) => Err(format!("checkpoint {size}: signature invalid: {e}")),
        }
    }
}

/// What the entry scan saw, in order.
enum ScanEvent {
    /// The entry's content does not match its stored leaf hash.
    Edited(u64),
    /// The tree reached the size of a stored checkpoint, with this root.
    Checkpoint { size: u64, root: Hash },
}

/// The hashing side of [`verify`]: recomputes leaf hashes and the tree from
/// rows of `idx, data, leaf_hash` ([`VERIFY_SELECT`]), in order.
struct EntryScan {
    frontier: Frontier,
    /// Sizes of the stored checkpoints, ascending, and the next one due.
    sizes: Vec<u64>,
    next_size: usize,
    events: Vec<ScanEvent>,
    /// `(expected, found)` indices where the entries stop being contiguous.
    broken: Option<(u64, u64)>,
}

impl EntryScan {
    fn new(mut sizes: Vec<u64>) -> Self {
        sizes.sort_unstable();
        sizes.dedup();
        Self {
            frontier: Frontier::new(),
            sizes,
            next_size: 0,
            events: Vec::new(),
            broken: None,
        }
    }

    /// Consume batches until the reader is done or the entries break off.
    fn run(
        &mut self,
        mut rx: tokio::sync::mpsc::Receiver<StoreResult<EntryBatch>>,
    ) -> StoreResult<()> {
        while let Some(batch) = rx.blocking_recv() {
            let batch = batch?;
            let mut start = 0;
            for (i, &idx) in batch.idx.iter().enumerate() {
                let end = batch.ends[i];
                self.entry(idx, &batch.data[start..end], batch.leaf[i].as_ref());
                if self.broken.is_some() {
                    return Ok(());
                }
                start = end;
            }
        }
        Ok(())
    }

    fn entry(&mut self, idx: i64, data: &str, stored_leaf: Option<&Hash>) {
        let idx = idx as u64;
        let expected = self.frontier.size();
        if idx != expected {
            self.broken = Some((expected, idx));
            return;
        }
        let leaf = leaf_hash(data.as_bytes());
        if stored_leaf != Some(&leaf) {
            self.events.push(ScanEvent::Edited(idx));
        }
        self.frontier.push(leaf);
        let size = self.frontier.size();
        while self.sizes.get(self.next_size).is_some_and(|&s| s < size) {
            self.next_size += 1;
        }
        if self.sizes.get(self.next_size) == Some(&size) {
            self.events.push(ScanEvent::Checkpoint {
                size,
                root: self.frontier.root(),
            });
            self.next_size += 1;
        }
    }
}

/// Entries as [`VERIFY_SELECT`] returns them, packed without a per-entry
/// allocation.
#[derive(Default)]
struct EntryBatch {
    idx: Vec<i64>,
    /// The entries' leaf data back to back; entry `i` ends at `ends[i]`.
    data: String,
    ends: Vec<usize>,
    /// Stored leaf hashes; `None` when one is not 32 bytes (it matches nothing).
    leaf: Vec<Option<Hash>>,
}

impl EntryBatch {
    fn push(&mut self, idx: i64, data: &str, leaf: &[u8]) {
        self.idx.push(idx);
        self.data.push_str(data);
        self.ends.push(self.data.len());
        self.leaf.push(leaf.try_into().ok());
    }
}

/// Rows per read while bringing the in-memory tree up to date.
const SYNC_BATCH: i64 = 50_000;
const SYNC_SELECT: &str =
    "SELECT idx, leaf_hash FROM ledger_entries WHERE idx >= $1 ORDER BY idx LIMIT $2";

/// A connection of the backend's own driver, for the ledger's long
/// sequential reads: converting rows through the `Any` driver costs more
/// CPU time than reading them (about twice as much on SQLite).
enum NativeConn {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl NativeConn {
    async fn open(store: &Store) -> StoreResult<Self> {
        Ok(match store.backend {
            Backend::Sqlite => Self::Sqlite(sqlx::SqliteConnection::connect(&store.url).await?),
            Backend::Postgres => Self::Postgres(sqlx::PgConnection::connect(&store.url).await?),
        })
    }

    async fn close(self) {
        // Nothing to do if the goodbye fails: the connection is gone either way.
        let _ = match self {
            Self::Sqlite(c) => c.close().await,
            Self::Postgres(c) => c.close().await,
        };
    }

    /// Up to `limit` entries from index `from` on ([`VERIFY_SELECT`]).
    async fn entries(&mut self, from: i64, limit: i64, out: &mut EntryBatch) -> StoreResult<()> {
        match self {
            Self::Sqlite(c) => {
                let rows = sqlx::query(VERIFY_SELECT)
                    .bind(from)
                    .bind(limit)
                    .fetch_all(&mut *c)
                    .await?;
                for row in &rows {
                    out.push(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                }
            }
            Self::Postgres(c) => {
                let rows = sqlx::query(VERIFY_SELECT)
                    .bind(from)
                    .bind(limit)
                    .fetch_all(&mut *c)
                    .await?;
                for row in &rows {
                    out.push(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                }
            }
        }
        Ok(())
    }

    /// Up to `limit` `(idx, leaf_hash)` pairs from index `from` on; `None`
    /// for a stored hash that is not 32 bytes.
    async fn leaf_hashes(
        &mut self,
        from: i64,
        limit: i64,
        out: &mut Vec<(i64, Option<Hash>)>,
    ) -> StoreResult<()> {
        match self {
            Self::Sqlite(c) => {
                let rows = sqlx::query(SYNC_SELECT)
                    .bind(from)
                    .bind(limit)
                    .fetch_all(&mut *c)
                    .await?;
                for row in &rows {
                    out.push((row.try_get(0)?, row.try_get::<&[u8], _>(1)?.try_into().ok()));
                }
            }
            Self::Postgres(c) => {
                let rows = sqlx::query(SYNC_SELECT)
                    .bind(from)
                    .bind(limit)
                    .fetch_all(&mut *c)
                    .await?;
                for row in &rows {
                    out.push((row.try_get(0)?, row.try_get::<&[u8], _>(1)?.try_into().ok()));
                }
            }
        }
        Ok(())
    }
}
