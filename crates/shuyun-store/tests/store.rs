//! Storage tests, each run against SQLite and PostgreSQL.

use serde_json::json;
use shuyun_domain::{ErrorCode, OrgKind, Permission};
use shuyun_ledger::{NoteSigner, leaf_hash, verify_consistency, verify_inclusion};
use shuyun_store::accounts::{NewOrg, NewUser};
use shuyun_store::ledger::{EntryFilter, leaf_data};
use shuyun_store::testing::TestDb;
use shuyun_store::{Backend, LedgerEvent, LedgerIdentity, Store, StoreError};

const T0: i64 = 1_790_000_000_000;

async fn open(backend: Backend) -> (Store, TestDb) {
    let db = TestDb::new(backend).await.expect("test database");
    let store = Store::open(
        &db.url,
        LedgerIdentity {
            origin: "test.shuyun/ledger".into(),
            signer: NoteSigner::generate("test.shuyun/ledger").expect("key"),
        },
    )
    .await
    .expect("open store");
    (store, db)
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(shuyun_store::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(shuyun_store::Backend::Postgres).await })*
        }
    };
}

both_backends!(
    accounts_sessions_and_tokens,
    failed_change_writes_nothing,
    proofs_verify_against_checkpoints,
    verify_detects_edit,
    verify_detects_rewritten_leaf_hash,
    verify_detects_delete,
    verify_detects_reorder,
    ledger_refuses_update_and_delete,
    verify_accepts_unusual_entries,
);

fn code(e: StoreError) -> ErrorCode {
    e.into_domain().code
}

async fn seed_org(store: &Store) -> i64 {
    store
        .create_org(
            "system",
            NewOrg {
                name: "景德镇市数据局".into(),
                name_en: "Jingdezhen Data Bureau".into(),
                kind: OrgKind::DataAuthority,
                credit_code: "11360200MB1234567X".parse().unwrap_or_else(|_| {
                    let first = "11360200MB1234567";
                    format!(
                        "{first}{}",
                        shuyun_domain::CreditCode::check_char(first).expect("valid")
                    )
                    .parse()
                    .expect("credit code")
                }),
                division_code: "360200".parse().expect("division"),
            },
            T0,
        )
        .await
        .expect("org")
        .id
}

async fn accounts_sessions_and_tokens(backend: Backend) {
    let (store, db) = open(backend).await;
    let org = seed_org(&store).await;
    let user = store
        .create_user(
            "system",
            NewUser {
                org_id: org,
                username: "sjj.admin".parse().expect("username"),
                display_name: "数据局管理员".into(),
                password: "shuyun-demo-2026".into(),
            },
            false,
            T0,
        )
        .await
        .expect("user");
    assert_eq!(user.role, shuyun_domain::Role::DataAuthority);

    // Wrong password and unknown user: unauthenticated, and ledgered.
    let e = store
        .login("sjj.admin", "wrong-password-1", "127.0.0.1", T0)
        .await
        .expect_err("bad pw");
    assert_eq!(code(e), ErrorCode::Unauthenticated);
    let e = store
        .login("nobody", "wrong-password-1", "127.0.0.1", T0)
        .await
        .expect_err("no user");
    assert_eq!(code(e), ErrorCode::Unauthenticated);
    let failed = store
        .ledger_entries(&EntryFilter {
            action: Some("auth.login_failed".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("entries");
    assert_eq!(failed.len(), 2);
    assert!(
        !failed
            .iter()
            .any(|e| e.detail.to_string().contains("wrong-password")),
        "no secrets in the ledger"
    );

    let session = store
        .login("sjj.admin", "shuyun-demo-2026", "127.0.0.1", T0)
        .await
        .expect("login");
    let p = store
        .session_principal(&session.token, T0 + 1000)
        .await
        .expect("session");
    assert_eq!(p.user_id, user.id);
    assert!(p.allows(Permission::UserAdmin));
    // Sessions expire.
    let e = store
        .session_principal(&session.token, T0 + 9 * 3600 * 1000)
        .await
        .expect_err("expired");
    assert_eq!(code(e), ErrorCode::Unauthenticated);

    // Tokens: scoped, expiring, revocable, stored as hashes.
    let issued = store
        .issue_token(&p, user.id, "巡检脚本", &[Permission::OrgRead], 30, T0)
        .await
        .expect("token");
    let tp = store
        .token_principal(&issued.token, T0 + 1)
        .await
        .expect("token principal");
    assert!(tp.allows(Permission::OrgRead));
    assert!(!tp.allows(Permission::UserAdmin), "scope narrows the role");
    let e = store
        .token_principal(&issued.token, T0 + 31 * 86_400_000)
        .await
        .expect_err("expired");
    assert_eq!(code(e), ErrorCode::TokenExpired);
    let stored: Vec<String> = {
        use sqlx::Row;
        sqlx::query("SELECT token_hash FROM api_tokens")
            .fetch_all(store.pool())
            .await
            .expect("rows")
            .iter()
            .map(|r| r.try_get::<String, _>("token_hash").expect("hash"))
            .collect()
    };
    assert!(
        !stored.iter().any(|h| h.contains(&issued.token[3..])),
        "token stored only as a hash"
    );
    store
        .revoke_token(&p, issued.info.id, T0 + 2)
        .await
        .expect("revoke");
    let e = store
        .token_principal(&issued.token, T0 + 3)
        .await
        .expect_err("revoked");
    assert_eq!(code(e), ErrorCode::TokenRevoked);
    let e = store
        .revoke_token(&p, issued.info.id, T0 + 4)
        .await
        .expect_err("twice");
    assert_eq!(code(e), ErrorCode::Conflict);
    let e = store
        .issue_token(&p, user.id, "x", &[Permission::Public], 30, T0)
        .await
        .expect_err("bad scope");
    assert_eq!(code(e), ErrorCode::Validation);
    let e = store
        .issue_token(&p, user.id, "x", &[], 999, T0)
        .await
        .expect_err("too long");
    assert_eq!(code(e), ErrorCode::Validation);

    // Disabling a user ends sessions and tokens at once.
    let t2 = store
        .issue_token(&p, user.id, "second", &[], 30, T0)
        .await
        .expect("token");
    store
        .set_user_disabled("system", user.id, true, T0 + 5)
        .await
        .expect("disable");
    assert_eq!(
        code(
            store
                .session_principal(&session.token, T0 + 6)
                .await
                .expect_err("off")
        ),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        code(
            store
                .token_principal(&t2.token, T0 + 6)
                .await
                .expect_err("off")
        ),
        ErrorCode::AccountDisabled
    );
    assert_eq!(
        code(
            store
                .login("sjj.admin", "shuyun-demo-2026", "127.0.0.1", T0 + 7)
                .await
                .expect_err("disabled")
        ),
        ErrorCode::AccountDisabled
    );
    store
        .set_user_disabled("system", user.id, false, T0 + 8)
        .await
        .expect("enable");

    // Password reset: old password stops working, the temporary one works once changed.
    let temp = store
        .reset_password("system", user.id, T0 + 9)
        .await
        .expect("reset");
    assert!(
        store
            .login("sjj.admin", "shuyun-demo-2026", "x", T0 + 10)
            .await
            .is_err()
    );
    let s = store
        .login("sjj.admin", &temp, "x", T0 + 10)
        .await
        .expect("temp login");
    assert!(s.principal.must_change_password);
    store
        .change_password(&s.principal, &temp, "a-new-password-9", T0 + 11)
        .await
        .expect("change");
    assert!(
        !store
            .login("sjj.admin", "a-new-password-9", "x", T0 + 12)
            .await
            .expect("new")
            .principal
            .must_change_password
    );

    // Duplicate user names are conflicts; every change above is in the ledger.
    let e = store
        .create_user(
            "system",
            NewUser {
                org_id: org,
                username: "sjj.admin".parse().expect("u"),
                display_name: "dup".into(),
                password: "shuyun-demo-2026".into(),
            },
            false,
            T0,
        )
        .await
        .expect_err("dup");
    assert_eq!(code(e), ErrorCode::Conflict);
    let report = store.verify_ledger().await.expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    let actions: Vec<String> = store
        .ledger_entries(&EntryFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("entries")
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "org.create",
        "user.create",
        "auth.login",
        "token.issue",
        "token.revoke",
        "user.disable",
        "user.enable",
        "user.reset_password",
        "user.change_password",
    ] {
        assert!(actions.iter().any(|x| x == a), "missing {a} in {actions:?}");
    }
    store.close().await;
    db.cleanup().await;
}

async fn failed_change_writes_nothing(backend: Backend) {
    let (store, db) = open(backend).await;
    seed_org(&store).await;
    let before = store
        .latest_checkpoint()
        .await
        .expect("cp")
        .expect("some")
        .size;
    // Same credit code again: refused, and no ledger entry or checkpoint.
    let dup = NewOrg {
        name: "重复".into(),
        name_en: "Duplicate".into(),
        kind: OrgKind::Buyer,
        credit_code: store.list_orgs().await.expect("orgs")[0]
            .credit_code
            .parse()
            .expect("cc"),
        division_code: "360200".parse().expect("d"),
    };
    assert_eq!(
        code(store.create_org("system", dup, T0).await.expect_err("dup")),
        ErrorCode::Conflict
    );
    assert_eq!(
        store
            .latest_checkpoint()
            .await
            .expect("cp")
            .expect("some")
            .size,
        before
    );
    // A transaction dropped without commit leaves nothing either.
    {
        let mut tx = store.begin(T0).await.expect("tx");
        tx.record(LedgerEvent::new("system", "test.dropped", "x:1", json!({})));
    }
    let report = store.verify_ledger().await.expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.entries, before);
    store.close().await;
    db.cleanup().await;
}

async fn append_many(store: &Store, batches: usize, per: usize) {
    for b in 0..batches {
        let mut tx = store.begin(T0 + b as i64).await.expect("tx");
        for i in 0..per {
            tx.record(LedgerEvent::new(
                "system",
                "test.event",
                format!("thing:{b}-{i}"),
                json!({"n": i, "text": "数据 \"quoted\"\nnewline"}),
            ));
        }
        tx.commit().await.expect("commit");
    }
}

async fn proofs_verify_against_checkpoints(backend: Backend) {
    let (store, db) = open(backend).await;
    append_many(&store, 7, 3).await;
    let cp = store.latest_checkpoint().await.expect("cp").expect("some");
    assert_eq!(cp.size, 21);
    let verifier = store.verifier();
    let text = verifier.open(&cp.note).expect("signed by our key");
    let checkpoint = shuyun_ledger::Checkpoint::parse(&text).expect("checkpoint");
    for index in 0..21 {
        let e = store
            .ledger_entry(index)
            .await
            .expect("entry")
            .expect("exists");
        let detail = e.detail.to_string();
        let leaf =
            leaf_hash(leaf_data(e.index, e.ts, &e.actor, &e.action, &e.object, &detail).as_bytes());
        assert_eq!(hex::encode(leaf), e.leaf_hash);
        let proof = store.inclusion_proof(index, 21).await.expect("proof");
        verify_inclusion(&leaf, index, 21, &proof, &checkpoint.root).expect("inclusion verifies");
    }
    let old = store
        .checkpoint_at(9)
        .await
        .expect("cp")
        .expect("checkpoint at 9");
    let old_cp =
        shuyun_ledger::Checkpoint::parse(&verifier.open(&old.note).expect("open")).expect("parse");
    let proof = store.consistency_proof(9, 21).await.expect("consistency");
    verify_consistency(9, 21, &old_cp.root, &checkpoint.root, &proof).expect("consistent");
    assert!(store.inclusion_proof(21, 21).await.is_err());
    store.close().await;
    db.cleanup().await;
}

/// Run raw SQL "behind the platform's back", dropping the append-only guard first.
async fn tamper(store: &Store, backend: Backend, sql: &str) {
    let drops: &[&str] = match backend {
        Backend::Sqlite => &[
            "DROP TRIGGER ledger_entries_no_update",
            "DROP TRIGGER ledger_entries_no_delete",
        ],
        Backend::Postgres => &["DROP TRIGGER ledger_entries_no_change ON ledger_entries"],
    };
    for d in drops {
        sqlx::query(*d)
            .execute(store.pool())
            .await
            .expect("drop guard");
    }
    for stmt in sql.split(';').filter(|s| !s.trim().is_empty()) {
        sqlx::query(sqlx::AssertSqlSafe(stmt.to_string()))
            .execute(store.pool())
            .await
            .expect("tamper");
    }
}

async fn verify_detects_edit(backend: Backend) {
    let (store, db) = open(backend).await;
    append_many(&store, 5, 2).await;
    assert!(store.verify_ledger().await.expect("verify").ok());
    tamper(
        &store,
        backend,
        "UPDATE ledger_entries SET actor = 'user:99' WHERE idx = 6",
    )
    .await;
    let r = store.verify_ledger().await.expect("verify");
    assert!(!r.ok());
    assert_eq!(r.first_bad_entry, Some(6), "{:?}", r.problems);
    store.close().await;
    db.cleanup().await;
}

async fn verify_detects_rewritten_leaf_hash(backend: Backend) {
    let (store, db) = open(backend).await;
    append_many(&store, 5, 1).await;
    // The attacker edits the content and recomputes the leaf hash too.
    let e = store.ledger_entry(3).await.expect("e").expect("some");
    let forged = leaf_hash(
        leaf_data(
            3,
            e.ts,
            "user:99",
            &e.action,
            &e.object,
            &e.detail.to_string(),
        )
        .as_bytes(),
    );
    tamper(
        &store,
        backend,
        &format!(
            "UPDATE ledger_entries SET actor = 'user:99', leaf_hash = {} WHERE idx = 3",
            match backend {
                Backend::Sqlite => format!("X'{}'", hex::encode(forged)),
                Backend::Postgres => format!("'\\x{}'::bytea", hex::encode(forged)),
            }
        ),
    )
    .await;
    let r = store.verify_ledger().await.expect("verify");
    assert!(!r.ok());
    assert_eq!(r.first_bad_entry, Some(3), "{:?}", r.problems);
    store.close().await;
    db.cleanup().await;
}

async fn verify_detects_delete(backend: Backend) {
    let (store, db) = open(backend).await;
    append_many(&store, 4, 2).await;
    tamper(&store, backend, "DELETE FROM ledger_entries WHERE idx = 2").await;
    let r = store.verify_ledger().await.expect("verify");
    assert!(!r.ok());
    assert_eq!(r.first_bad_entry, Some(2), "{:?}", r.problems);
    // Deleting the tail is caught by the checkpoints and the head.
    let (store2, db2) = open(backend).await;
    append_many(&store2, 4, 2).await;
    tamper(&store2, backend, "DELETE FROM ledger_entries WHERE idx = 7").await;
    let r = store2.verify_ledger().await.expect("verify");
    assert!(!r.ok());
    assert_eq!(r.first_bad_entry, Some(7), "{:?}", r.problems);
    store.close().await;
    store2.close().await;
    db.cleanup().await;
    db2.cleanup().await;
}

async fn verify_detects_reorder(backend: Backend) {
    let (store, db) = open(backend).await;
    append_many(&store, 1, 6).await;
    // Swap two whole rows, leaf hashes included (the rows keep valid hashes
    // of their own content, but their positions change).
    tamper(
        &store,
        backend,
        "UPDATE ledger_entries SET idx = 100 WHERE idx = 1; UPDATE ledger_entries SET idx = 1 WHERE idx = 2; UPDATE ledger_entries SET idx = 2 WHERE idx = 100",
    )
    .await;
    let r = store.verify_ledger().await.expect("verify");
    assert!(!r.ok());
    assert_eq!(r.first_bad_entry, Some(1), "{:?}", r.problems);
    store.close().await;
    db.cleanup().await;
}

async fn ledger_refuses_update_and_delete(backend: Backend) {
    let (store, db) = open(backend).await;
    append_many(&store, 1, 2).await;
    assert!(
        sqlx::query("UPDATE ledger_entries SET actor = 'x'")
            .execute(store.pool())
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM ledger_entries")
            .execute(store.pool())
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM ledger_checkpoints")
            .execute(store.pool())
            .await
            .is_err()
    );
    assert!(store.verify_ledger().await.expect("verify").ok());
    store.close().await;
    db.cleanup().await;
}

/// Verification rebuilds each entry's leaf data in SQL; it must agree with
/// [`leaf_data`] (used on append) byte for byte, whatever the content.
async fn verify_accepts_unusual_entries(backend: Backend) {
    let (store, db) = open(backend).await;
    for (ts, actor, object, detail) in [
        (-1_i64, "user:1", "", json!(null)),
        (0, "", "x", json!("")),
        (
            i64::MAX,
            "line\nbreak\r\nactor",
            "对象:数据",
            json!({"k": "数据 \"q\"\n\\ \u{1F600}"}),
        ),
        (
            i64::MIN,
            "system",
            "o'quote",
            json!([1.5, -0.0, 1e300, u64::MAX, i64::MIN]),
        ),
    ] {
        let mut tx = store.begin(ts).await.expect("tx");
        tx.record(LedgerEvent::new(actor, "test.unusual", object, detail));
        tx.commit().await.expect("commit");
    }
    let report = store.verify_ledger().await.expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.entries, 4);
    for index in 0..4 {
        let e = store
            .ledger_entry(index)
            .await
            .expect("entry")
            .expect("exists");
        let data = leaf_data(
            e.index,
            e.ts,
            &e.actor,
            &e.action,
            &e.object,
            &e.detail.to_string(),
        );
        assert_eq!(hex::encode(leaf_hash(data.as_bytes())), e.leaf_hash);
    }
    store.close().await;
    db.cleanup().await;
}
