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
