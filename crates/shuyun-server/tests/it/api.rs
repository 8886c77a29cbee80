//! API behaviour: sign-in, tokens, administration, bad input, the ledger.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shuyun_client::Client;
use shuyun_ledger::{Checkpoint, verify_consistency};
use shuyun_server::routes::{Kind, table};
use shuyun_store::Backend;

use crate::both_backends;
use crate::kit::{PASSWORD, spawn_app};

both_backends!(
    login_tokens_and_revocation,
    administration_and_ledger,
    bad_input_is_a_coded_problem,
    csrf_and_rate_limit,
    openapi_covers_every_route,
    ops_endpoints,
);

async fn login_tokens_and_revocation(backend: Backend) {
    let app = spawn_app(backend).await;
    let anon = app.client();
    let e = anon
        .get::<Value>("/api/v1/me")
        .await
        .expect_err("anonymous");
    assert_eq!(e.code(), Some("unauthenticated"));
    let mut c = app.client();
    let e = c
        .login("sjj", "not-the-password-1")
        .await
        .expect_err("wrong");
    assert_eq!(e.code(), Some("unauthenticated"));
    let me = c.login("jianguan", PASSWORD).await.expect("login");
    assert_eq!(me["me"]["role"], "regulator");

    // A scoped, expiring token used as curl would.
    let t: Value = c
        .post(
            "/api/v1/me/tokens",
            &json!({"name": "审计脚本", "scopes": ["ledger.read"], "expires_in_days": 7}),
        )
        .await
        .expect("issue");
    let token = t["token"].as_str().expect("token").to_string();
    let bearer = Client::with_token(&app.base, &token).expect("client");
    let entries: Vec<Value> = bearer
        .get("/api/v1/ledger/entries?limit=5")
        .await
        .expect("entries");
    assert_eq!(entries.len(), 5);
    let e = bearer
        .get::<Value>("/api/v1/orgs")
        .await
        .expect_err("out of scope");
    assert_eq!(e.code(), Some("forbidden"));
    // The token never appears in listings.
    let list: Vec<Value> = c.get("/api/v1/me/tokens").await.expect("list");
    assert!(
        !serde_json::to_string(&list)
            .expect("json")
            .contains(&token[3..])
    );

    app.advance_ms(8 * 86_400_000);
    let e = bearer
        .get::<Value>("/api/v1/ledger/entries")
        .await
        .expect_err("expired");
    assert_eq!(e.code(), Some("token_expired"));
    app.advance_ms(-8 * 86_400_000);

    let id = t["info"]["id"].as_i64().expect("id");
    let mut c = app.client();
    c.login("jianguan", PASSWORD).await.expect("login");
    let _: Value = c
        .delete(&format!("/api/v1/me/tokens/{id}"))
        .await
        .expect("revoke");
    let e = bearer
        .get::<Value>("/api/v1/ledger/entries")
        .await
        .expect_err("revoked");
    assert_eq!(e.code(), Some("token_revoked"));
    let e = Client::with_token(&app.base, "sy_not_a_token")
        .expect("c")
        .get::<Value>("/api/v1/me")
        .await
        .expect_err("bogus");
    assert_eq!(e.code(), Some("unauthenticated"));

    // Logout ends the session.
    let _: Value = c
        .post("/api/v1/auth/logout", &json!({}))
        .await
        .unwrap_or(Value::Null);
    assert_eq!(
        c.get::<Value>("/api/v1/me")
            .await
            .expect_err("logged out")
            .code(),
        Some("unauthenticated")
    );
    app.stop().await;
}

async fn administration_and_ledger(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login("admin").await;
    let cc = shuyun_server::demo::demo_credit_code(shuyun_domain::OrgKind::Buyer, 77);
    let org: Value = admin
        .post(
            "/api/v1/orgs",
            &json!({"name": "景德镇示范信用社", "name_en": "Demo Credit Union", "kind": "buyer",
                    "credit_code": cc.as_str(), "division_code": "360203"}),
        )
        .await
        .expect("create org");
    let org_id = org["id"].as_i64().expect("id");
    let e = admin
        .post::<Value, _>(
            "/api/v1/orgs",
            &json!({"name": "重复", "name_en": "Dup", "kind": "buyer", "credit_code": cc.as_str(), "division_code": "360203"}),
        )
        .await
        .expect_err("duplicate");
    assert_eq!(e.code(), Some("conflict"));
    let user: Value = admin
        .post(
            "/api/v1/users",
            &json!({"org_id": org_id, "username": "xys.loan", "display_name": "信用社 贷款部", "password": "initial-pass-2026"}),
        )
        .await
        .expect("create user");
    assert_eq!(user["role"], "buyer");
    assert_eq!(user["must_change_password"], true);
    let uid = user["id"].as_i64().expect("id");

    let mut u = app.client();
    u.login("xys.loan", "initial-pass-2026")
        .await
        .expect("login");
    let _: Value = u
        .post(
            "/api/v1/me/password",
            &json!({"current_password": "initial-pass-2026", "new_password": "my-own-pass-2026"}),
        )
        .await
        .unwrap_or(Value::Null);
    let me: Value = u.get("/api/v1/me").await.expect("me");
    assert_eq!(me["must_change_password"], false);

    // Admin issues a token to the user, then disables the organisation:
    // the user's session and token stop working on the next request.
    let t: Value = admin
        .post(
            &format!("/api/v1/users/{uid}/tokens"),
            &json!({"name": "对接", "expires_in_days": 30}),
        )
        .await
        .expect("token for user");
    let bearer = Client::with_token(&app.base, t["token"].as_str().expect("t")).expect("client");
    let _: Value = bearer.get("/api/v1/me").await.expect("token works");
    let _: Value = admin
        .post(&format!("/api/v1/orgs/{org_id}/disable"), &json!({}))
        .await
        .expect("disable");
    assert!(u.get::<Value>("/api/v1/me").await.is_err());
    assert_eq!(
        bearer
            .get::<Value>("/api/v1/me")
            .await
            .expect_err("disabled")
            .code(),
        Some("account_disabled")
    );
    let _: Value = admin
        .post(&format!("/api/v1/orgs/{org_id}/enable"), &json!({}))
        .await
        .expect("enable");
    let temp: Value = admin
        .post(&format!("/api/v1/users/{uid}/reset-password"), &json!({}))
        .await
        .expect("reset");
    let mut u = app.client();
    u.login("xys.loan", temp["temporary_password"].as_str().expect("pw"))
        .await
        .expect("temp login");

    // Every change is in the ledger, with inclusion proofs that verify.
    let reg = app.login("jianguan").await;
    let entries: Vec<Value> = reg
        .get(&format!("/api/v1/ledger/entries?object=org:{org_id}"))
        .await
        .expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["org.enable", "org.disable", "org.create"]);
    for e in &entries {
        let idx = e["index"].as_u64().expect("index");
        let p: Value = reg
            .get(&format!("/api/v1/ledger/entries/{idx}"))
            .await
            .expect("entry");
        assert_eq!(p["verified"], true, "{p}");
    }
    // A witness checks consistency between two checkpoints with the public key.
    let key: Value = anon_get(&app, "/api/v1/ledger/key").await;
    let verifier = shuyun_ledger::NoteVerifier::parse(key["vkey"].as_str().expect("vkey"))
        .expect("vkey parses");
    let first = entries.last().expect("e")["index"].as_u64().expect("i") + 1;
    let proof: Value = anon_get(
        &app,
        &format!("/api/v1/ledger/proofs/consistency?old_size={first}"),
    )
    .await;
    let old = Checkpoint::parse(
        &verifier
            .open(proof["old"]["note"].as_str().expect("n"))
            .expect("signed"),
    )
    .expect("cp");
    let new = Checkpoint::parse(
        &verifier
            .open(proof["new"]["note"].as_str().expect("n"))
            .expect("signed"),
    )
    .expect("cp");
    let hashes: Vec<[u8; 32]> = proof["proof"]
        .as_array()
        .expect("array")
        .iter()
        .map(|h| {
            hex::decode(h.as_str().expect("s"))
                .expect("hex")
                .try_into()
                .expect("32")
        })
        .collect();
    verify_consistency(old.size, new.size, &old.root, &new.root, &hashes).expect("consistent");
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

async fn anon_get(app: &crate::kit::App, path: &str) -> Value {
    app.client().get(path).await.expect(path)
}

async fn bad_input_is_a_coded_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login("sjj").await;
    let before = app
        .store
        .latest_checkpoint()
        .await
        .expect("cp")
        .expect("some")
        .size;
    // (method, path, body, content type, status, code)
    type Case = (
        Method,
        &'static str,
        Option<String>,
        &'static str,
        u16,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (Method::POST, "/api/v1/orgs", Some("{not json".into()), "application/json", 400, "bad_request"),
        (Method::POST, "/api/v1/orgs", Some("{}".into()), "text/plain", 400, "bad_request"),
        (Method::POST, "/api/v1/orgs", Some(r#"{"name":"a","name_en":"a","kind":"buyer","credit_code":"91360200MA00000779","division_code":"360200","extra":1}"#.into()), "application/json", 422, "validation_failed"),
        (Method::POST, "/api/v1/orgs", Some(r#"{"name":1}"#.into()), "application/json", 422, "validation_failed"),
        (Method::POST, "/api/v1/orgs", Some(r#"{"name":"a","name_en":"a","kind":"buyer","credit_code":"91360200MA00000770","division_code":"360200"}"#.into()), "application/json", 422, "validation_failed"),
        (Method::POST, "/api/v1/orgs", Some(r#"{"name":"a","name_en":"a","kind":"alien","credit_code":"x","division_code":"360200"}"#.into()), "application/json", 422, "validation_failed"),
        (Method::POST, "/api/v1/users", Some(r#"{"org_id":1,"username":"Bad Name","display_name":"x","password":"shuyun-demo-2026"}"#.into()), "application/json", 422, "validation_failed"),
        (Method::POST, "/api/v1/users", Some(r#"{"org_id":1,"username":"weakpw","display_name":"x","password":"short"}"#.into()), "application/json", 422, "validation_failed"),
        (Method::POST, "/api/v1/users", Some(r#"{"org_id":424242,"username":"nobody","display_name":"x","password":"shuyun-demo-2026"}"#.into()), "application/json", 422, "validation_failed"),
        (Method::POST, "/api/v1/orgs", Some(format!("{{\"name\":\"{}\"}}", "x".repeat(300 * 1024))), "application/json", 413, "payload_too_large"),
        (Method::GET, "/api/v1/orgs/abc", None, "", 404, "not_found"),
        (Method::GET, "/api/v1/orgs/-1", None, "", 404, "not_found"),
        (Method::GET, "/api/v1/orgs/99999999999999999999999", None, "", 404, "not_found"),
        (Method::GET, "/api/v1/users?org_id=abc", None, "", 422, "validation_failed"),
        (Method::GET, "/api/v1/ledger/entries?limit=abc", None, "", 422, "validation_failed"),
        (Method::GET, "/api/v1/ledger/entries/99999", None, "", 404, "not_found"),
        (Method::GET, "/api/v1/ledger/entries?limit=0", None, "", 422, "validation_failed"),
        (Method::GET, "/api/v1/ledger/proofs/consistency?old_size=3&new_size=1", None, "", 404, "not_found"),
        (Method::GET, "/api/v1/nothing-here", None, "", 404, "not_found"),
        (Method::PUT, "/api/v1/orgs", Some("{}".into()), "application/json", 405, "bad_request"),
        (Method::POST, "/api/v1/me/tokens", Some(r#"{"name":"x","expires_in_days":0}"#.into()), "application/json", 422, "validation_failed"),
        (Method::POST, "/api/v1/me/tokens", Some(r#"{"name":"x","expires_in_days":30,"scopes":["root"]}"#.into()), "application/json", 422, "validation_failed"),
    ];
    for (m, path, body, ct, status, code) in cases {
        let r = admin
            .raw(m.clone(), path, body.as_deref(), ct)
            .await
            .expect("request");
        assert_eq!(r.status.as_u16(), status, "{m} {path}: {}", r.body);
        assert!(
            r.content_type.starts_with("application/problem+json"),
            "{m} {path}: {}",
            r.content_type
        );
        assert_eq!(r.json()["code"], code, "{m} {path}: {}", r.body);
    }
    // Nothing was changed by any of it.
    assert_eq!(
        app.store
            .latest_checkpoint()
            .await
            .expect("cp")
            .expect("some")
            .size,
        before
    );
    app.stop().await;
}

async fn csrf_and_rate_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    // A cookie session without the CSRF header cannot change anything.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("http");
    let r = http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(format!("{}/api/v1/orgs/1/disable", app.base))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], "csrf_failed");
    // Cross-origin unsafe requests are refused outright.
    let r = http
        .post(format!("{}/api/v1/auth/login", app.base))
        .header("Origin", "http://evil.example")
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!app.store.org(1).await.expect("org").disabled);

    // Guessing passwords is rate-limited per user name.
    let mut c = app.client();
    for _ in 0..5 {
        assert_eq!(
            c.login("bank2", "guess-guess-1")
                .await
                .expect_err("wrong")
                .code(),
            Some("unauthenticated")
        );
    }
    let e = c.login("bank2", PASSWORD).await.expect_err("limited");
    assert_eq!(e.code(), Some("rate_limited"));
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    app.advance_ms(16 * 60 * 1000);
    c.login("bank2", PASSWORD).await.expect("after the window");
    app.stop().await;
}

async fn openapi_covers_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .client()
        .get("/api/v1/openapi.json")
        .await
        .expect("openapi");
    assert_eq!(doc["openapi"], "3.1.0");
    for r in table() {
        if r.kind == Kind::Page {
            continue;
        }
        let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from OpenAPI",
            r.method,
            r.path
        );
        assert_eq!(op["x-permission"], r.perm.as_str());
    }
    let s = serde_json::to_string(&doc).expect("json");
    assert!(
        !s.contains("#/$defs"),
        "all references point into components"
    );
    app.stop().await;
}

async fn ops_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = app.client();
    assert_eq!(
        c.get::<Value>("/healthz").await.expect("healthz")["status"],
        "ok"
    );
    assert_eq!(
        c.get::<Value>("/readyz").await.expect("readyz")["status"],
        "ready"
    );
    let m = c
        .raw(Method::GET, "/metrics", None, "")
        .await
        .expect("metrics");
    assert!(m.content_type.starts_with("text/plain"));
    assert!(
        m.body.contains(
            "shuyun_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{}",
        m.body
    );
    assert!(m.body.contains("shuyun_ledger_entries "));
    app.stop().await;
}
