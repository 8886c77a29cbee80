//! The `shuyun` binary as a user runs it: `ledger verify` passes on an
//! untouched ledger and fails loudly, naming the entry, after a row is
//! edited behind the platform's back.

use std::process::Command;

fn shuyun(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shuyun"))
        .args(args)
        .output()
        .expect("run shuyun");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn ledger_verify_catches_a_hand_edit() {
    let dir = std::env::temp_dir().join(format!("shuyun-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().expect("utf-8 path");
    // Populate a ledger the way the platform does.
    let cfg = shuyun_server::Config::from_toml_and_env(&format!("data_dir = {data:?}"), |_| None)
        .expect("config");
    let store = shuyun_server::open_store(&cfg).await.expect("store");
    shuyun_server::demo::seed(&store, 1_790_000_000_000)
        .await
        .expect("seed");
    store.close().await;

    let (code, out) = shuyun(&["ledger", "verify", "--data-dir", data]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ledger OK"), "{out}");

    // Edit an entry by hand, as someone with the database file could.
    let url = format!("sqlite://{}/shuyun.db", data);
    let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite");
    sqlx::query("DROP TRIGGER ledger_entries_no_update")
        .execute(&pool)
        .await
        .expect("drop trigger");
    sqlx::query("UPDATE ledger_entries SET detail = '{\"username\":\"mallory\"}' WHERE idx = 5")
        .execute(&pool)
        .await
        .expect("edit");
    pool.close().await;

    let (code, out) = shuyun(&["ledger", "verify", "--data-dir", data]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("first bad entry is 5"), "{out}");

    // A missing configuration file is a readable error, exit 2.
    let (code, out) = shuyun(&["ledger", "verify", "--config", "/nonexistent/shuyun.toml"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot read"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bootstrap_creates_the_first_administrator_once() {
    let dir = std::env::temp_dir().join(format!("shuyun-boot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().expect("utf-8 path");
    let code = shuyun_server::demo::demo_credit_code(shuyun_domain::OrgKind::Platform, 1);
    let args = [
        "bootstrap",
        "--data-dir",
        data,
        "--username",
        "root.admin",
        "--org-name",
        "数运平台运维中心",
        "--org-name-en",
        "Platform Operations",
        "--credit-code",
        code.as_str(),
    ];
    let run = |pw: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shuyun"));
        cmd.args(args);
        match pw {
            Some(p) => cmd.env("SHUYUN_BOOTSTRAP_PASSWORD", p),
            None => cmd.env_remove("SHUYUN_BOOTSTRAP_PASSWORD"),
        };
        let out = cmd.output().expect("run");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (c, out) = run(None);
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("SHUYUN_BOOTSTRAP_PASSWORD"), "{out}");
    let (c, out) = run(Some("short"));
    assert_eq!(c, 2, "{out}");
    let (c, out) = run(Some("first-admin-2026"));
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("root.admin"), "{out}");
    let (c, out) = run(Some("first-admin-2026"));
    assert_eq!(c, 2, "a second bootstrap is refused: {out}");
    assert!(out.contains("already has users"), "{out}");
    let (c, out) = shuyun(&["ledger", "verify", "--data-dir", data]);
    assert_eq!(c, 0, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn ingest_loads_a_file_or_prints_its_rejection() {
    let dir = std::env::temp_dir().join(format!("shuyun-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().expect("utf-8 path");
    let cfg = shuyun_server::Config::from_toml_and_env(&format!("data_dir = {data:?}"), |_| None)
        .expect("config");
    let store = shuyun_server::open_store(&cfg).await.expect("store");
    shuyun_server::demo::seed(&store, 1_790_000_000_000)
        .await
        .expect("seed");
    let objects = shuyun_server::open_objects(&cfg).expect("objects");
    shuyun_server::demo::seed_pilot(
        &store,
        objects,
        &"360200".parse().expect("d"),
        0.05,
        1_790_000_000_000,
        shuyun_server::workspace::unit_digest_key(
            &shuyun_server::workspace::load_or_create_key(&cfg.workspace_key_file()).expect("key"),
        ),
    )
    .await
    .expect("pilot");
    store.close().await;

    // Environmental readings belong to sthjj; write a GB18030 file of them.
    let good = dir.join("环境.csv");
    let mut csv = Vec::new();
    shuyun_data::pilot::generate_csv("env_quality_monthly", 0.05, 7, &mut csv).expect("generate");
    let text = String::from_utf8(csv).expect("utf-8");
    let (gb, _, _) = encoding_rs::GB18030.encode(&text);
    std::fs::write(&good, &gb).expect("write");
    let run = |user: &str, file: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_shuyun"))
            .args([
                "ingest",
                "--data-dir",
                data,
                "--resource",
                "360200-HJ-000001",
                "--user",
                user,
            ])
            .arg(file)
            .env("SHUYUN_PASSWORD", "shuyun-demo-2026")
            .output()
            .expect("run");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (c, out) = run("sthjj", &good);
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("as version 2"), "{out}");
    assert!(out.contains("quality score "), "{out}");
    // Another department is refused; a broken file is rejected with its rows.
    let (c, out) = run("fgw", &good);
    assert_eq!(c, 2, "{out}");
    let bad = dir.join("bad.csv");
    let header = text.lines().next().expect("header");
    std::fs::write(&bad, format!("{header}\nnot,enough\n")).expect("write");
    let (c, out) = run("sthjj", &bad);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("REJECTED") && out.contains("\n  1,"), "{out}");
    let (c, out) = shuyun(&["ledger", "verify", "--data-dir", data]);
    assert_eq!(c, 0, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
