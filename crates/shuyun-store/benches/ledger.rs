//! Ledger benchmark: durable appends, inclusion proofs and full verification
//! on SQLite and PostgreSQL, each figure printed next to a baseline measured
//! in the same run.
//!
//! Run with `cargo bench -p shuyun-store --bench ledger`. Scale with
//! `SHUYUN_BENCH_ENTRIES` (default 1,000,000 ledger entries per backend),
//! `SHUYUN_BENCH_PG=0` to skip PostgreSQL, and `SHUYUN_BENCH_PG_ENTRIES` to
//! populate PostgreSQL with fewer entries than SQLite. PostgreSQL is found
//! at `SHUYUN_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! a fresh database is created there and dropped at the end.
//!
//! Targets (from the issue) are marked PASS or MISS; a miss never fails the
//! process.
//!
//! Baselines: appends are compared with plain INSERTs of rows of the same
//! columns and sizes into a table with a primary key on `idx` and nothing
//! else (the ledger table also has an index on `object` and append-only
//! triggers), in transactions of the same size, either one INSERT per row or
//! multi-row INSERTs, with each backend's natural placeholders. Proofs are
//! compared with one SM3 hash of 64 bytes; verification with hashing the
//! same leaf data in memory on one thread, with and without the tree's
//! interior nodes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use shuyun_ledger::{Frontier, Hash, MerkleTree, NoteSigner, leaf_hash, sm3};
use shuyun_store::ledger::leaf_data;
use shuyun_store::testing::TestDb;
use shuyun_store::{Backend, LedgerEvent, LedgerIdentity, Store};
use sqlx::Row;

const T0: i64 = 1_790_000_000_000;
const APPEND_TARGET: f64 = 50_000.0;
const PROOF_TARGET_US: f64 = 100.0;
const VERIFY_TARGET_RATIO: f64 = 2.0;
/// Batch sizes measured; the last one also populates the ledger.
const BATCHES: [usize; 3] = [100, 1_000, 5_000];
/// Rows per statement in the multi-row baseline.
const PLAIN_MULTI_ROWS: usize = 1_000;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got '{v}'")),
        Err(_) => default,
    }
}

/// A realistic ledger event, about 150 bytes of leaf data.
fn event(i: u64) -> LedgerEvent {
    LedgerEvent::new(
        format!("user:{}", 1_000 + i % 97),
        "dataset.download",
        format!("dataset:{}", i % 5_003),
        json!({"bytes": 1_024 + i % 65_536, "format": "csv", "ip": "10.12.3.45", "request": i}),
    )
}

/// The row a plain table gets for event `i`: the same columns and sizes as a
/// ledger row (the 32-byte hash column filled with a cheap stand-in).
struct PlainRow {
    idx: i64,
    ts: i64,
    actor: String,
    action: String,
    object: String,
    detail: String,
    hash: Vec<u8>,
}

fn plain_row(i: u64, ts: i64) -> PlainRow {
    let e = event(i);
    PlainRow {
        idx: i as i64,
        ts,
        actor: e.actor,
        action: e.action,
        object: e.object,
        detail: e.detail.to_string(),
        hash: [i.to_le_bytes(); 4].concat(),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn mark(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

struct Bench {
    store: Store,
    db: TestDb,
    name: &'static str,
    /// Transactions committed so far (each gets its own timestamp).
    txs: i64,
    /// Next plain-table index.
    plain_next: u64,
}

impl Bench {
    async fn open(backend: Backend) -> Self {
        let db = TestDb::new(backend).await.expect("create test database");
        let store = Store::open(
            &db.url,
            LedgerIdentity {
                origin: "bench.shuyun/ledger".into(),
                signer: NoteSigner::generate("bench.shuyun/ledger").expect("key"),
            },
        )
        .await
        .expect("open store");
        let blob = match backend {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE bench_plain (idx BIGINT PRIMARY KEY, ts BIGINT NOT NULL, \
             actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, \
             detail TEXT NOT NULL, h {blob} NOT NULL)"
        )))
        .execute(store.pool())
        .await
        .expect("create plain table");
        let name = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        Self {
            store,
            db,
            name,
            txs: 0,
            plain_next: 0,
        }
    }

    async fn ledger_size(&self) -> u64 {
        self.store
            .latest_checkpoint()
            .await
            .expect("checkpoint")
            .map_or(0, |c| c.size)
    }

    /// Append `n` entries through the store API, `batch` per transaction.
    async fn append_ledger(&mut self, n: u64, batch: usize) -> Duration {
        let mut next = self.ledger_size().await;
        let end = next + n;
        let start = Instant::now();
        while next < end {
            let count = (end - next).min(batch as u64);
            let mut tx = self.store.begin(T0 + self.txs).await.expect("begin");
            for i in next..next + count {
                tx.record(event(i));
            }
            let size = tx.commit().await.expect("commit");
            assert_eq!(size, Some(next + count));
            next += count;
            self.txs += 1;
        }
        start.elapsed()
    }

    async fn begin_plain(&self) -> sqlx::Transaction<'static, sqlx::Any> {
        match self.store.backend() {
            Backend::Sqlite => self
                .store
                .pool()
                .begin_with("BEGIN IMMEDIATE")
                .await
                .expect("begin"),
            Backend::Postgres => self.store.pool().begin().await.expect("begin"),
        }
    }

    /// Insert `n` rows into the plain table, one INSERT statement per row,
    /// `batch` rows per transaction.
    async fn append_plain_single(&mut self, n: u64, batch: usize) -> Duration {
        let start = Instant::now();
        let end = self.plain_next + n;
        while self.plain_next < end {
            let count = (end - self.plain_next).min(batch as u64);
            let mut tx = self.begin_plain().await;
            for i in self.plain_next..self.plain_next + count {
                let r = plain_row(i, T0);
                sqlx::query(
                    "INSERT INTO bench_plain (idx, ts, actor, action, object, detail, h) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(r.idx)
                .bind(r.ts)
                .bind(r.actor)
                .bind(r.action)
                .bind(r.object)
                .bind(r.detail)
                .bind(r.hash)
                .execute(&mut *tx)
                .await
                .expect("insert");
            }
            tx.commit().await.expect("commit");
            self.plain_next += count;
        }
        start.elapsed()
    }

    /// Insert `n` rows into the plain table with multi-row INSERTs of up to
    /// [`PLAIN_MULTI_ROWS`] rows, `batch` rows per transaction.
    async fn append_plain_multi(&mut self, n: u64, batch: usize) -> Duration {
        let start = Instant::now();
        let end = self.plain_next + n;
        while self.plain_next < end {
            let count = (end - self.plain_next).min(batch as u64);
            let rows: Vec<PlainRow> = (self.plain_next..self.plain_next + count)
                .map(|i| plain_row(i, T0))
                .collect();
            let mut tx = self.begin_plain().await;
            for chunk in rows.chunks(PLAIN_MULTI_ROWS) {
                let sql = format!(
                    "INSERT INTO bench_plain (idx, ts, actor, action, object, detail, h) VALUES {}",
                    self.store.backend().values_placeholders(chunk.len(), 7)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    q = q
                        .bind(r.idx)
                        .bind(r.ts)
                        .bind(r.actor.as_str())
                        .bind(r.action.as_str())
                        .bind(r.object.as_str())
                        .bind(r.detail.as_str())
                        .bind(r.hash.clone());
                }
                q.execute(&mut *tx).await.expect("insert");
            }
            tx.commit().await.expect("commit");
            self.plain_next += count;
        }
        start.elapsed()
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Everything the raw-hashing baselines need: the entry fields as stored.
struct RawEntry {
    ts: i64,
    actor: String,
    action: String,
    object: String,
    detail: String,
}

async fn load_entries(store: &Store) -> Vec<RawEntry> {
    let mut out = Vec::new();
    loop {
        let rows = sqlx::query(
            "SELECT idx, ts, actor, action, object, detail FROM ledger_entries \
             WHERE idx >= $1 ORDER BY idx LIMIT 50000",
        )
        .bind(out.len() as i64)
        .fetch_all(store.pool())
        .await
        .expect("read entries");
        if rows.is_empty() {
            break;
        }
        for row in rows {
            assert_eq!(row.get::<i64, _>("idx") as usize, out.len());
            out.push(RawEntry {
                ts: row.get("ts"),
                actor: row.get("actor"),
                action: row.get("action"),
                object: row.get("object"),
                detail: row.get("detail"),
            });
        }
    }
    out
}

/// Leaf data and leaf hash of every entry, as the store computes them.
fn hash_leaves(entries: &[RawEntry]) -> Vec<Hash> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let data = leaf_data(i as u64, e.ts, &e.actor, &e.action, &e.object, &e.detail);
            leaf_hash(data.as_bytes())
        })
        .collect()
}

/// Deterministic pseudo-random indices below `n`.
fn sample_indices(n: u64, count: usize) -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        })
        .collect()
}

async fn run_backend(backend: Backend, entries: u64, started: Instant) {
    let mut b = Bench::open(backend).await;
    let name = b.name;
    println!();
    println!("== {name}: populating {entries} ledger entries ==");

    // 1. Durable appends at several batch sizes. Smaller batch sizes append a
    // sample; the largest one fills the ledger up to `entries`.
    let sample = (entries / 20).clamp(1, 50_000);
    let reps = 3;
    let (last_batch, small_batches) = BATCHES.split_last().expect("batch sizes");
    for &batch in small_batches {
        let n = sample.div_ceil(batch as u64) * batch as u64;
        let (mut led, mut one, mut multi) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..reps {
            led.push(rate(n, b.append_ledger(n, batch).await));
            one.push(rate(n, b.append_plain_single(n, batch).await));
            multi.push(rate(n, b.append_plain_multi(n, batch).await));
        }
        print_append(name, batch, n, reps, &mut led, &mut one, &mut multi);
    }
    let batch = *last_batch;
    let filled = b.ledger_size().await;
    let remaining = entries.saturating_sub(filled);
    // The fill is measured in segments so a median is available; the plain
    // baselines get one segment each of the same size, interleaved.
    let segments = 5_u64;
    let seg = remaining.div_ceil(segments).max(1);
    let (mut led, mut one, mut multi) = (Vec::new(), Vec::new(), Vec::new());
    let mut fill_time = Duration::ZERO;
    let mut left = remaining;
    while left > 0 {
        let n = left.min(seg);
        let d = b.append_ledger(n, batch).await;
        fill_time += d;
        led.push(rate(n, d));
        one.push(rate(n, b.append_plain_single(n, batch).await));
        multi.push(rate(n, b.append_plain_multi(n, batch).await));
        left -= n;
    }
    let size = b.ledger_size().await;
    if remaining > 0 {
        println!(
            "[{name}] fill: {} entries at batch {batch} in {} ({}/s overall)",
            remaining,
            secs(fill_time),
            thousands(rate(remaining, fill_time))
        );
        print_append(name, batch, seg, led.len(), &mut led, &mut one, &mut multi);
    }
    println!(
        "[{name}] ledger size {size}; elapsed since start {}",
        secs(started.elapsed())
    );

    // Raw hashing baselines over the same bytes, in memory, one thread.
    let raw = load_entries(&b.store).await;
    assert_eq!(raw.len() as u64, size);
    let mut leaf_times = Vec::new();
    let mut full_times = Vec::new();
    let mut leaves = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        leaves = hash_leaves(&raw);
        leaf_times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut f = Frontier::new();
        for (i, e) in raw.iter().enumerate() {
            let data = leaf_data(i as u64, e.ts, &e.actor, &e.action, &e.object, &e.detail);
            f.push(leaf_hash(data.as_bytes()));
        }
        black_box(f.root());
        full_times.push(t.elapsed().as_secs_f64());
    }
    let leaf_time = median(&mut leaf_times);
    let full_time = median(&mut full_times);
    let bytes: usize = raw
        .iter()
        .enumerate()
        .map(|(i, e)| {
            leaf_data(i as u64, e.ts, &e.actor, &e.action, &e.object, &e.detail).len() + 1
        })
        .sum();
    drop(raw);

    // 2. Inclusion proofs.
    let t = Instant::now();
    let first = b.store.inclusion_proof(0, size).await.expect("proof");
    let sync = t.elapsed();
    black_box(first);
    println!(
        "[{name}] tree sync (first store.inclusion_proof at {size} entries): {}",
        secs(sync)
    );
    let indices = sample_indices(size, 2_000);
    let mut per_call = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for &i in &indices {
            black_box(b.store.inclusion_proof(i, size).await.expect("proof"));
        }
        per_call.push(t.elapsed().as_secs_f64() * 1e6 / indices.len() as f64);
    }
    let store_us = median(&mut per_call);

    let mut tree = MerkleTree::with_capacity(leaves.len());
    let t = Instant::now();
    tree.extend(leaves.iter().copied());
    let build = t.elapsed();
    let mut per_call = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for &i in &indices {
            black_box(tree.inclusion_proof(i, size).expect("proof"));
        }
        per_call.push(t.elapsed().as_secs_f64() * 1e6 / indices.len() as f64);
    }
    let tree_us = median(&mut per_call);
    // Cross-check: the store serves the same proofs as the local tree.
    for &i in indices.iter().take(20) {
        assert_eq!(
            b.store.inclusion_proof(i, size).await.expect("proof"),
            tree.inclusion_proof(i, size).expect("proof")
        );
    }
    let input = [0x5a_u8; 64];
    let mut per_hash = Vec::new();
    for _ in 0..5 {
        let n = 200_000;
        let t = Instant::now();
        for i in 0..n {
            let mut buf = input;
            buf[0] = i as u8;
            black_box(sm3(black_box(&buf)));
        }
        per_hash.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    let hash_us = median(&mut per_hash);
    println!(
        "[{name}] inclusion proof at {size}: store.inclusion_proof {store_us:.2} µs/proof | \
         SM3(64 B) {hash_us:.3} µs (ratio {:.0}x) | target < {PROOF_TARGET_US} µs: {}",
        store_us / hash_us,
        mark(store_us < PROOF_TARGET_US)
    );
    println!(
        "[{name}] inclusion proof at {size}: MerkleTree::inclusion_proof {tree_us:.2} µs/proof | \
         SM3(64 B) {hash_us:.3} µs (ratio {:.0}x) | target < {PROOF_TARGET_US} µs: {} \
         (tree built from {size} leaves in {})",
        tree_us / hash_us,
        mark(tree_us < PROOF_TARGET_US),
        secs(build)
    );
    drop(tree);
    drop(leaves);

    // 3. Full verification.
    let mut times = Vec::new();
    let mut checkpoints = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let report = b.store.verify_ledger().await.expect("verify");
        times.push(t.elapsed().as_secs_f64());
        assert!(report.ok(), "verify found problems: {:?}", report.problems);
        assert_eq!(report.entries, size);
        checkpoints = report.checkpoints;
    }
    let verify = median(&mut times);
    println!(
        "[{name}] verify_ledger at {size} entries, {checkpoints} checkpoints: {verify:.3} s \
         ({}/s) | raw SM3 leaves+nodes {full_time:.3} s (ratio {:.2}) | raw SM3 leaves only \
         {leaf_time:.3} s (ratio {:.2}, {:.0} MB/s) | target <= {VERIFY_TARGET_RATIO}x leaves+nodes: {}",
        thousands(size as f64 / verify),
        verify / full_time,
        verify / leaf_time,
        bytes as f64 / leaf_time / 1e6,
        mark(verify <= VERIFY_TARGET_RATIO * full_time)
    );
    // For the record: what checking the checkpoint signatures costs (part of
    // verify_ledger, where it runs alongside the entry hashing).
    let notes: Vec<String> = sqlx::query("SELECT note FROM ledger_checkpoints")
        .fetch_all(b.store.pool())
        .await
        .expect("checkpoints")
        .iter()
        .map(|r| r.get("note"))
        .collect();
    let verifier = b.store.verifier();
    let t = Instant::now();
    for note in &notes {
        black_box(verifier.open(note).expect("signed"));
    }
    let sig = t.elapsed();
    println!(
        "[{name}] (info) SM2 checks of the {} checkpoint signatures alone: {} ({:.0} µs each, one thread)",
        notes.len(),
        secs(sig),
        sig.as_secs_f64() * 1e6 / notes.len() as f64
    );

    // A proof right after an append, as a server serves it: the tree must
    // first take in the new entry (one database read).
    let mut per_call = Vec::new();
    for _ in 0..200 {
        b.append_ledger(1, 1).await;
        let size = b.ledger_size().await;
        let t = Instant::now();
        black_box(
            b.store
                .inclusion_proof(size / 2, size)
                .await
                .expect("proof"),
        );
        per_call.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let fresh_us = median(&mut per_call);
    println!(
        "[{name}] (info) store.inclusion_proof right after a 1-entry append (syncs 1 entry): \
         {fresh_us:.1} µs (median of 200) | target < {PROOF_TARGET_US} µs: {}",
        mark(fresh_us < PROOF_TARGET_US)
    );
    println!(
        "[{name}] done; elapsed since start {}",
        secs(started.elapsed())
    );
    b.store.close().await;
    b.db.cleanup().await;
}

fn print_append(
    name: &str,
    batch: usize,
    n: u64,
    reps: usize,
    led: &mut [f64],
    one: &mut [f64],
    multi: &mut [f64],
) {
    let (l, o, m) = (median(led), median(one), median(multi));
    println!(
        "[{name}] append batch={batch:<5} ({n} entries x {reps}, median): ledger {}/s | \
         plain 1-row INSERTs {}/s (ratio {:.2}) | plain {PLAIN_MULTI_ROWS}-row INSERTs {}/s \
         (ratio {:.2}) | target >= {}/s: {}",
        thousands(l),
        thousands(o),
        l / o,
        thousands(m),
        l / m,
        thousands(APPEND_TARGET),
        mark(l >= APPEND_TARGET)
    );
}

#[tokio::main]
async fn main() {
    let entries = env_u64("SHUYUN_BENCH_ENTRIES", 1_000_000).max(1);
    let pg = env_u64("SHUYUN_BENCH_PG", 1) != 0;
    let pg_entries = env_u64("SHUYUN_BENCH_PG_ENTRIES", entries).max(1);
    let started = Instant::now();
    println!(
        "shuyun ledger bench: {entries} entries (SQLite), {} (PostgreSQL); \
         ratio = figure / baseline; {} worker threads",
        if pg {
            pg_entries.to_string()
        } else {
            "skipped".to_string()
        },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "baselines: plain = same-size rows into a table with only a primary key, same \
         transaction size; raw SM3 = the same leaf data hashed in memory on one thread"
    );
    run_backend(Backend::Sqlite, entries, started).await;
    if pg {
        run_backend(Backend::Postgres, pg_entries, started).await;
    }
    println!();
    println!("total {}", secs(started.elapsed()));
}
