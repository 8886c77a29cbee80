//! Temporary experiments (to be removed).

use std::time::Instant;

use futures_util::TryStreamExt;
use serde_json::json;
use shuyun_ledger::{NoteSigner, leaf_hash};
use shuyun_store::ledger::leaf_data;
use shuyun_store::testing::TestDb;
use shuyun_store::{Backend, LedgerEvent, LedgerIdentity, Store};
use sqlx::{Connection, Row};

fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").expect("stat");
    let rest = &s[s.rfind(')').expect(")") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    (f[11].parse::<f64>().expect("u") + f[12].parse::<f64>().expect("s")) / 100.0
}

fn rep(label: &str, t: Instant, c: f64, n: f64) {
    println!(
        "{label}: {:.2} us/row wall, {:.2} us/row cpu",
        t.elapsed().as_secs_f64() * 1e6 / n,
        (cpu() - c) * 1e6 / n
    );
}

const T0: i64 = 1_790_000_000_000;

fn event(i: u64) -> LedgerEvent {
    LedgerEvent::new(
        format!("user:{}", 1_000 + i % 97),
        "dataset.download",
        format!("dataset:{}", i % 5_003),
        json!({"bytes": 1_024 + i % 65_536, "format": "csv", "ip": "10.12.3.45", "request": i}),
    )
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let backend = if std::env::var("PG").is_ok() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let batch: u64 = std::env::var("BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let db = TestDb::new(backend).await.expect("db");
    let store = Store::open(
        &db.url,
        LedgerIdentity {
            origin: "b/l".into(),
            signer: NoteSigner::generate("b/l").expect("k"),
        },
    )
    .await
    .expect("open");
    let t = Instant::now();
    let c = cpu();
    let mut next = 0;
    let mut txs = 0;
    while next < n {
        let mut tx = store.begin(T0 + txs).await.expect("b");
        for i in next..next + batch {
            tx.record(event(i));
        }
        tx.commit().await.expect("c");
        next += batch;
        txs += 1;
    }
    println!("append {} /s", n as f64 / t.elapsed().as_secs_f64());

    for _ in 0..std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
    {
        if std::env::var("VONLY").is_err() {
            // A: fetch_all 7 cols via Any, no processing
            let t = Instant::now();
            let c = cpu();
            let mut from = 0i64;
            let mut cnt = 0;
            loop {
                let rows = sqlx::query("SELECT idx, ts, actor, action, object, detail, leaf_hash FROM ledger_entries WHERE idx >= $1 ORDER BY idx LIMIT 20000").bind(from).fetch_all(store.pool()).await.expect("q");
                if rows.is_empty() {
                    break;
                }
                cnt += rows.len();
                from += rows.len() as i64;
            }
            rep("A any fetch_all 7 cols", t, c, cnt as f64);

            // B: stream 7 cols via Any, decode + hash
            let t = Instant::now();
            let c = cpu();
            let mut s = sqlx::query("SELECT idx, ts, actor, action, object, detail, leaf_hash FROM ledger_entries ORDER BY idx").fetch(store.pool());
            let mut cnt = 0;
            while let Some(row) = s.try_next().await.expect("r") {
                let _idx: i64 = row.try_get(0).expect("i");
                cnt += 1;
            }
            drop(s);
            rep("B any stream 7 cols", t, c, cnt as f64);

            // C: 2 cols via Any
            let t = Instant::now();
            let c = cpu();
            let mut from = 0i64;
            let mut cnt = 0;
            loop {
                let rows = sqlx::query("SELECT idx, leaf_hash FROM ledger_entries WHERE idx >= $1 ORDER BY idx LIMIT 50000").bind(from).fetch_all(store.pool()).await.expect("q");
                if rows.is_empty() {
                    break;
                }
                cnt += rows.len();
                from += rows.len() as i64;
            }
            rep("C any fetch_all 2 cols", t, c, cnt as f64);

            if backend == Backend::Sqlite {
                let mut conn = sqlx::SqliteConnection::connect(&db.url).await.expect("c");
                let t = Instant::now();
                let c = cpu();
                let mut s = sqlx::query("SELECT idx, ts, actor, action, object, detail, leaf_hash FROM ledger_entries ORDER BY idx").fetch(&mut conn);
                let mut cnt = 0;
                let mut buf = 0usize;
                let _ = &mut buf;
                while let Some(row) = s.try_next().await.expect("r") {
                    let idx: i64 = row.try_get(0).expect("i");
                    let a: &str = row.try_get(2).expect("a");
                    buf += a.len() + idx as usize;
                    cnt += 1;
                }
                drop(s);
                rep("D native stream 7 cols", t, c, cnt as f64);
                let t = Instant::now();
                let c = cpu();
                let mut s = sqlx::query("SELECT idx, ts, actor, action, object, detail, leaf_hash FROM ledger_entries ORDER BY idx").fetch(&mut conn);
                let mut cnt = 0;
                while let Some(row) = s.try_next().await.expect("r") {
                    let idx: i64 = row.try_get(0).expect("i");
                    let d = leaf_data(
                        idx as u64,
                        row.try_get(1).expect("t"),
                        row.try_get(2).expect("a"),
                        row.try_get(3).expect("a"),
                        row.try_get(4).expect("a"),
                        row.try_get(5).expect("a"),
                    );
                    std::hint::black_box(leaf_hash(d.as_bytes()));
                    cnt += 1;
                }
                drop(s);
                rep("E native stream 7 cols + hash", t, c, cnt as f64);
            }
        }
        let t = Instant::now();
        let c = cpu();
        let r = store.verify_ledger().await.expect("v");
        assert!(r.ok());
        rep("verify", t, c, r.entries as f64);
    }
    store.close().await;
    db.cleanup().await;
}
