//! Data versions in a real S3-compatible server: moto's `moto_server`
//! (PyPI `moto`, installed by `scripts/moto.sh`), started on a free loopback
//! port. Ingest through `open_objects` with an `[object_store]` section,
//! multipart upload, range reads back, all-or-nothing on rejection (no
//! object and no pending multipart upload left, an existing version intact),
//! and the `shuyun` binary configured from the environment alone.
//!
//! Built with the `s3` feature (`cargo test -p shuyun-cli --features s3`).
//! Without `moto_server` the tests fail under CI (`CI=true`) and are skipped,
//! loudly, elsewhere.

#![cfg(feature = "s3")]
// Test helpers unwrap freely (clippy's test allowance covers only #[test] fns).
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use shuyun_data::ingest::{IngestError, InputFormat, TextEncoding, ingest};
use shuyun_domain::catalogue::{FieldSpec, FieldType, Grade, PiTag, Schema};
use sm3::{Digest, Sm3};

const KEY_ID: &str = "SHUYUNTESTKEYID0001";
const SECRET: &str = "shuyun-test-secret-do-not-print";

/// A running `moto_server`, killed on drop.
struct Moto {
    child: Child,
    port: u16,
}

/// `SHUYUN_MOTO_SERVER`, else `moto_server` on `PATH`, else the venv that
/// `scripts/moto.sh` makes.
fn moto_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SHUYUN_MOTO_SERVER") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let home = std::env::var_os("HOME")?;
        Some(PathBuf::from(home).join(".cache/shuyun/venv-s3/bin/moto_server"))
            .filter(|p| p.is_file())
    })
}

impl Moto {
    /// Starts the server, or returns `None` after a loud message when it is
    /// not installed and this is not CI.
    fn start() -> Option<Self> {
        let Some(bin) = moto_binary() else {
            let msg = "moto_server not found: run scripts/moto.sh (it installs moto from PyPI \
                       into a venv) or set SHUYUN_MOTO_SERVER to its path";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("the S3 tests need a real S3-compatible server: {msg}");
            }
            eprintln!(
                "\n******** SKIPPED: the S3 tests need a real S3-compatible server: {msg} ********\n"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("{} exited at start: {status}", bin.display());
            }
            if moto.try_request("GET", "/").is_some() {
                return Some(moto);
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP/1.1 request (moto needs no signature for bucket
    /// administration): the status and body.
    fn try_request(&self, method: &str, target: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        write!(
            s,
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        )
        .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        Some((status, body.to_string()))
    }

    fn request(&self, method: &str, target: &str) -> (u16, String) {
        self.try_request(method, target)
            .unwrap_or_else(|| panic!("{method} {target}: no answer from moto_server"))
    }

    fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }

    /// Every key in the bucket, sorted, straight from the server.
    fn keys(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?list-type=2"));
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("<IsTruncated>true"), "{body}");
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_string()))
            .collect();
        keys.sort();
        keys
    }

    /// Multipart uploads started and neither completed nor aborted.
    fn pending_uploads(&self, bucket: &str) -> usize {
        let (status, body) = self.request("GET", &format!("/{bucket}?uploads"));
        assert_eq!(status, 200, "{body}");
        body.matches("<Upload>").count()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("shuyun-s3-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn field(name: &str, ty: FieldType, nullable: bool, key: bool) -> FieldSpec {
    FieldSpec {
        name: name.parse().unwrap(),
        label: format!("标签{name}"),
        field_type: ty,
        unit: None,
        nullable,
        key,
        grade: Grade::General2,
        pi: PiTag::None,
    }
}

/// id (key), token (64 hex digits, barely compressible), n (nullable).
fn schema() -> Schema {
    Schema::new(vec![
        field("id", FieldType::Int64, false, true),
        field("token", FieldType::String, false, false),
        field("n", FieldType::Int64, true, false),
    ])
    .unwrap()
}

/// `rows` valid rows of [`schema`] as CSV.
fn csv(rows: u64) -> Vec<u8> {
    let mut out = b"id,token,n\n".to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..rows {
        let mut token = String::with_capacity(64);
        for _ in 0..4 {
            // xorshift64*: cheap pseudo-random digits Parquet cannot shrink much.
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            token.push_str(&format!("{:016x}", x.wrapping_mul(0x2545_F491_4F6C_DD1D)));
        }
        let n = if i % 7 == 0 {
            String::new()
        } else {
            (i * 3).to_string()
        };
        writeln!(out, "{i},{token},{n}").unwrap();
    }
    out
}

fn s3_config(data: &str, moto: &Moto, bucket: &str, prefix: &str) -> shuyun_server::Config {
    let text = format!(
        "data_dir = {data:?}\n\n[object_store]\nurl = \"s3://{bucket}/{prefix}\"\n\
         endpoint = \"{}\"\nregion = \"cn-north-1\"\nallow_http = true\n",
        moto.endpoint()
    );
    shuyun_server::Config::from_toml_and_env(&text, |k| match k {
        "AWS_ACCESS_KEY_ID" => Some(KEY_ID.to_string()),
        "AWS_SECRET_ACCESS_KEY" => Some(SECRET.to_string()),
        _ => None,
    })
    .unwrap()
}

async fn sm3_of(store: &dyn ObjectStore, path: &Path) -> ([u8; 32], u64) {
    let bytes = store.get(path).await.unwrap().bytes().await.unwrap();
    (Sm3::digest(&bytes).into(), bytes.len() as u64)
}

#[tokio::test]
async fn ingest_into_s3_and_read_back() {
    let Some(moto) = Moto::start() else { return };
    let bucket = "shuyun-data";
    moto.create_bucket(bucket);
    let dir = TempDir::new("ingest");
    let cfg = s3_config(dir.path(), &moto, bucket, "jdz/objects");
    let objects = shuyun_server::open_objects(&cfg).unwrap();
    shuyun_server::objects::probe(&*objects, "test store")
        .await
        .unwrap();
    let shown = format!("{objects:?} {objects} {cfg:?}");
    assert!(
        !shown.contains(KEY_ID) && !shown.contains(SECRET),
        "credentials shown: {shown}"
    );
    // The local data directory holds no objects.
    assert!(!dir.0.join("objects").exists());

    // A file large enough that the Parquet output (> 10 MiB) goes up as a
    // multipart upload.
    const ROWS: u64 = 300_000;
    let good = csv(ROWS);
    let dest = Path::from("resources/360200-XY-000001/v1.parquet");
    let out = ingest(
        &good[..],
        InputFormat::Csv(TextEncoding::Utf8),
        &schema(),
        objects.clone(),
        &dest,
    )
    .await
    .unwrap();
    assert_eq!(out.rows, ROWS);
    assert!(out.bytes > 10 << 20, "{} bytes: not multipart", out.bytes);
    // The SM3 recorded for the version is that of the bytes the store gives back.
    assert_eq!(sm3_of(&*objects, &dest).await, (out.sm3, out.bytes));
    // It is under the configured prefix, alone: no temporary object remains.
    let stored_key = "jdz/objects/resources/360200-XY-000001/v1.parquet".to_string();
    assert_eq!(moto.keys(bucket), vec![stored_key.clone()]);
    assert_eq!(moto.pending_uploads(bucket), 0);

    // Read back by range requests, every row and value.
    let batches: Vec<_> = shuyun_data::objects::read_batches(objects.clone(), &dest, 65_536)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let mut lines = text.lines().skip(1);
    let mut rows = 0u64;
    for b in &batches {
        let ids = b.column(0).as_primitive::<Int64Type>();
        let tokens = b.column(1).as_string::<i32>();
        for i in 0..b.num_rows() {
            let line = lines.next().unwrap();
            let mut parts = line.split(',');
            assert_eq!(ids.value(i).to_string(), parts.next().unwrap());
            assert_eq!(tokens.value(i), parts.next().unwrap());
            rows += 1;
        }
    }
    assert_eq!(rows, ROWS);

    // A file whose last row is bad, onto the existing version: the first
    // 256k rows were already uploaded as parts when the bad row is read.
    let mut bad = csv(ROWS);
    bad.extend_from_slice(b"not-a-number,abc,1\n");
    match ingest(
        &bad[..],
        InputFormat::Csv(TextEncoding::Utf8),
        &schema(),
        objects.clone(),
        &dest,
    )
    .await
    {
        Err(IngestError::Rejected(r)) => {
            assert_eq!(r.total_errors, 1, "{r:?}");
            assert_eq!(r.errors[0].row, ROWS + 1, "{r:?}");
            assert_eq!(r.errors[0].field.as_deref(), Some("id"), "{r:?}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(sm3_of(&*objects, &dest).await, (out.sm3, out.bytes));
    assert_eq!(moto.keys(bucket), vec![stored_key.clone()]);
    assert_eq!(moto.pending_uploads(bucket), 0, "an aborted upload remains");

    // A rejected first version leaves nothing.
    let dest2 = Path::from("resources/360200-XY-000002/v1.parquet");
    let err = ingest(
        &b"id,token,n\n1,a,1\n1,b,2\n"[..],
        InputFormat::Csv(TextEncoding::Utf8),
        &schema(),
        objects.clone(),
        &dest2,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, IngestError::Rejected(_)), "{err:?}");
    assert!(matches!(
        objects.head(&dest2).await,
        Err(object_store::Error::NotFound { .. })
    ));
    assert_eq!(moto.keys(bucket), vec![stored_key]);
    assert_eq!(moto.pending_uploads(bucket), 0);
}

/// Runs `shuyun` with the object store configured by environment variables
/// only; `credentials` adds them to its environment.
fn shuyun(args: &[&str], moto: &Moto, bucket: &str, credentials: bool) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shuyun"));
    cmd.args(args)
        .env("SHUYUN_OBJECT_STORE_URL", format!("s3://{bucket}/platform"))
        .env("SHUYUN_OBJECT_STORE_ENDPOINT", moto.endpoint())
        .env("SHUYUN_OBJECT_STORE_ALLOW_HTTP", "true")
        .env("SHUYUN_PASSWORD", "shuyun-demo-2026")
        .env("SHUYUN_LISTEN", "127.0.0.1:0")
        .env_remove("SHUYUN_OBJECT_STORE_ACCESS_KEY_ID")
        .env_remove("SHUYUN_OBJECT_STORE_SECRET_ACCESS_KEY")
        .env_remove("SHUYUN_OBJECT_STORE_SESSION_TOKEN")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if credentials {
        cmd.env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET);
    } else {
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
    }
    let mut child = cmd.spawn().unwrap();
    // `serve` runs until stopped: it must stop by itself on a bad store.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("shuyun {args:?} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains(SECRET) && !text.contains(KEY_ID),
        "credentials printed: {text}"
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_cli_ingests_into_s3_configured_by_environment() {
    let Some(moto) = Moto::start() else { return };
    let bucket = "shuyun-cli";
    moto.create_bucket(bucket);
    let dir = TempDir::new("cli");
    let data = dir.path();

    // The demo platform with its pilot resources loaded into the bucket.
    let cfg = s3_config(data, &moto, bucket, "platform");
    let store = shuyun_server::open_store(&cfg).await.unwrap();
    shuyun_server::demo::seed(&store, 1_790_000_000_000)
        .await
        .unwrap();
    let objects = shuyun_server::open_objects(&cfg).unwrap();
    shuyun_server::demo::seed_pilot(
        &store,
        objects.clone(),
        &"360200".parse().unwrap(),
        0.05,
        1_790_000_000_000,
        shuyun_server::workspace::unit_digest_key(
            &shuyun_server::workspace::load_or_create_key(&cfg.workspace_key_file()).expect("key"),
        ),
    )
    .await
    .unwrap();
    store.close().await;
    let v1 = "platform/resources/360200-HJ-000001/v1.parquet".to_string();
    let seeded = moto.keys(bucket);
    assert!(seeded.contains(&v1), "{seeded:?}");
    assert!(
        seeded.iter().all(|k| k.starts_with("platform/resources/")),
        "{seeded:?}"
    );

    let mut generated = Vec::new();
    shuyun_data::pilot::generate_csv("env_quality_monthly", 0.05, 7, &mut generated).unwrap();
    let good = dir.0.join("环境.csv");
    std::fs::write(&good, &generated).unwrap();
    let ingest_args = |file: &FsPath| {
        [
            "ingest",
            "--data-dir",
            data,
            "--resource",
            "360200-HJ-000001",
            "--user",
            "sthjj",
            file.to_str().unwrap(),
        ]
        .map(String::from)
    };
    let run = |file: &FsPath, credentials: bool| {
        let args = ingest_args(file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        shuyun(&args, &moto, bucket, credentials)
    };

    // Without credentials in the environment: a clear refusal, nothing stored.
    let (c, out) = run(&good, false);
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("AWS_ACCESS_KEY_ID"), "{out}");
    assert_eq!(moto.keys(bucket), seeded);

    let (c, out) = run(&good, true);
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("as version 2"), "{out}");
    let v2 = Path::from("resources/360200-HJ-000001/v2.parquet");
    let head = objects.head(&v2).await.unwrap();
    assert!(head.size > 0);
    let after_good = moto.keys(bucket);
    assert_eq!(after_good.len(), seeded.len() + 1, "{after_good:?}");

    // A rejected file changes nothing in the bucket.
    let bad = dir.0.join("bad.csv");
    let header = String::from_utf8(generated)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&bad, format!("{header}\nnot,enough\n")).unwrap();
    let (c, out) = run(&bad, true);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("REJECTED"), "{out}");
    assert_eq!(moto.keys(bucket), after_good);
    assert_eq!(moto.pending_uploads(bucket), 0);

    // `serve` stops at start, naming the store, when the bucket is missing.
    let (c, out) = shuyun(
        &["serve", "--data-dir", data],
        &moto,
        "no-such-bucket",
        true,
    );
    assert_eq!(c, 2, "{out}");
    assert!(
        out.contains("s3://no-such-bucket/platform") && out.contains("does not answer"),
        "{out}"
    );
}
