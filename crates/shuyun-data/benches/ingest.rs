//! Ingest benchmark: generates a large pilot CSV (`SHUYUN_BENCH_ROWS` rows of
//! `person_credit`, default 5,000,000), ingests it into Parquet on the local
//! file system in a child process (so its peak memory is its own), converts
//! the same file with DuckDB (from PyPI, in a venv under
//! `$HOME/.cache/shuyun/venv`) and compares throughput and peak memory.
//! Target: at least 0.8x DuckDB's throughput with bounded memory. A miss is
//! reported, never a failure.

// A benchmark driver: failing loudly on setup errors is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path as FsPath, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use shuyun_data::ingest::{InputFormat, TextEncoding, ingest};
use shuyun_data::pilot::{generate_csv, pilot_resources};

const RESOURCE: &str = "person_credit";
const PERSONS_AT_SCALE_1: f64 = 2000.0;

fn main() {
    // `cargo bench` passes `--bench`; the child mode is chosen by environment.
    if let Ok(csv) = std::env::var("SHUYUN_BENCH_CHILD_CSV") {
        let out = std::env::var("SHUYUN_BENCH_CHILD_OUT").expect("output dir");
        child(&csv, &out);
        return;
    }
    let rows: u64 = std::env::var("SHUYUN_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let dir = std::env::temp_dir().join(format!("shuyun-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let result = std::panic::catch_unwind(|| run(rows, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn run(rows: u64, dir: &FsPath) {
    let csv = dir.join(format!("{RESOURCE}.csv"));
    let t = Instant::now();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    let n = generate_csv(RESOURCE, rows as f64 / PERSONS_AT_SCALE_1, 1, &mut f).unwrap();
    drop(f);
    let size = std::fs::metadata(&csv).unwrap().len();
    let mb = size as f64 / 1e6;
    println!(
        "input: {RESOURCE}, {n} rows, {mb:.1} MB CSV (generated in {:.1} s)",
        t.elapsed().as_secs_f64()
    );

    // (a) Ours, in a child process.
    let ours_dir = dir.join("ours");
    std::fs::create_dir_all(&ours_dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut cmd = timed(&exe);
    cmd.env("SHUYUN_BENCH_CHILD_CSV", &csv)
        .env("SHUYUN_BENCH_CHILD_OUT", &ours_dir);
    let (stdout, rss_time) = output(cmd);
    let secs: f64 = field(&stdout, "secs").expect("child reports secs");
    let ours_rss = rss_time
        .or_else(|| field(&stdout, "vmhwm_kb"))
        .unwrap_or(0.0)
        / 1024.0;
    let out_bytes: f64 = field(&stdout, "bytes").unwrap_or(0.0);
    println!(
        "ours:   {secs:.2} s, {:.1} MB/s, {:.0} rows/s, peak RSS {ours_rss:.0} MiB, Parquet {:.1} MB",
        mb / secs,
        n as f64 / secs,
        out_bytes / 1e6
    );

    // (b) DuckDB.
    let duck_out = dir.join("duck.parquet");
    match duckdb(&csv, &duck_out) {
        Some((dsecs, drss)) => {
            let duck_bytes = std::fs::metadata(&duck_out).map_or(0, |m| m.len());
            println!(
                "duckdb: {dsecs:.2} s, {:.1} MB/s, {:.0} rows/s, peak RSS {drss:.0} MiB, Parquet {:.1} MB",
                mb / dsecs,
                n as f64 / dsecs,
                duck_bytes as f64 / 1e6
            );
            let ratio = dsecs / secs;
            println!(
                "ratio ours/duckdb throughput: {ratio:.2}x, memory {:.2}x — target >= 0.8x DuckDB's throughput with bounded memory: {}",
                ours_rss / drss.max(1.0),
                if ratio >= 0.8 { "PASS" } else { "MISS" }
            );
        }
        None => println!("duckdb: unavailable (see above); no comparison"),
    }
}

/// A command run under `/usr/bin/time -v` when available (for peak RSS).
fn timed(program: &FsPath) -> Command {
    if FsPath::new("/usr/bin/time").exists() {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Runs a command; returns its stdout and the peak RSS in KiB reported by
/// `/usr/bin/time -v`, if any.
fn output(mut cmd: Command) -> (String, Option<f64>) {
    let out = cmd.output().expect("run child");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    let rss = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok());
    (stdout, rss)
}

/// `key=value` from a child's output.
fn field(s: &str, key: &str) -> Option<f64> {
    s.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

fn child(csv: &str, out: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = pilot_resources()
        .into_iter()
        .find(|r| r.key == RESOURCE)
        .unwrap()
        .schema;
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(out).unwrap());
    let t = Instant::now();
    let outcome = rt.block_on(async {
        let file = tokio::fs::File::open(csv).await.unwrap();
        ingest(
            file,
            InputFormat::Csv(TextEncoding::Utf8),
            &schema,
            store,
            &Path::from("bench/v1.parquet"),
        )
        .await
    });
    let secs = t.elapsed().as_secs_f64();
    let o = outcome.unwrap_or_else(|e| panic!("ingest failed: {e:?}"));
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    println!(
        "rows={} bytes={} secs={secs} vmhwm_kb={hwm}",
        o.rows, o.bytes
    );
}

/// DuckDB's CSV → Parquet time (measured inside Python, excluding start-up)
/// and peak RSS in MiB; `None` if DuckDB cannot be set up.
fn duckdb(csv: &FsPath, out: &FsPath) -> Option<(f64, f64)> {
    let home = std::env::var("HOME").ok()?;
    let venv = PathBuf::from(home).join(".cache/shuyun/venv");
    let py = venv.join("bin/python");
    if !py.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .ok()?
            .success();
        if !ok {
            println!("duckdb: cannot create a venv at {}", venv.display());
            return None;
        }
    }
    let has = Command::new(&py)
        .args(["-c", "import duckdb"])
        .status()
        .ok()?
        .success();
    if !has {
        let ok = Command::new(&py)
            .args(["-m", "pip", "install", "-q", "duckdb"])
            .status()
            .ok()?
            .success();
        if !ok {
            println!("duckdb: pip install duckdb failed");
            return None;
        }
    }
    let script = format!(
        "import duckdb, time, resource\n\
         t = time.time()\n\
         con = duckdb.connect()\n\
         con.execute(\"COPY (SELECT * FROM read_csv('{}', header=true)) TO '{}' (FORMAT parquet)\")\n\
         print(f'secs={{time.time() - t}} maxrss_kb={{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}} version={{duckdb.__version__}}')\n",
        csv.display(),
        out.display()
    );
    let mut cmd = timed(&py);
    cmd.args(["-c", &script]);
    let (stdout, rss) = output(cmd);
    let secs = field(&stdout, "secs")?;
    let rss = rss.or_else(|| field(&stdout, "maxrss_kb"))? / 1024.0;
    let version = stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("version="))
        .unwrap_or("?");
    println!("duckdb {version}: threads = default (all cores)");
    Some((secs, rss))
}
