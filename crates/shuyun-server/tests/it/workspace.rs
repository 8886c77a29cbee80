//! The secure workspace's records through the API, on both backends: the
//! demo's approved enterprise credit scenario, a query recorded as the
//! workspace records it, its audit visible to the operator and the
//! regulator, a release of the checked result reviewed by two different
//! reviewers of the institution and downloaded, a linkage alert handled by
//! the institution, a privacy budget set and read.

use reqwest::Method;
use serde_json::{Value, json};
use shuyun_domain::calendar::WorkCalendar;
use shuyun_domain::workspace::{Epsilon, QueryOutcome};
use shuyun_store::Backend;
use shuyun_store::workspace::QueryRecord;

use crate::authorization::enterprise_credit;
use crate::both_backends;
use crate::browser::{
    Browser, click, eventually, fill, login, screenshot, second_approval, wait_role,
};
use crate::kit::{App, PASSWORD, second_reviewer, spawn_app};

both_backends!(releases_and_alerts, releases_in_chromium);

const DAY: i64 = 86_400_000;

async fn releases_and_alerts(backend: Backend) {
    let app = spawn_app(backend).await;
    let (code, scenario, op, now) = scenario_with_history(&app).await;
    let operator = app.login("yunying1").await;
    let agreements: Vec<Value> = operator.get("/api/v1/agreements").await.expect("mine");
    let agreement = agreements[0]["id"].as_i64().expect("agreement");

    let result = "district,firms\n珠山区,120\n昌江区,85\n";
    let record = |outcome: QueryOutcome| query_record(scenario, &code, result, outcome);
    let q = app
        .store
        .record_query(&op, record(QueryOutcome::Shown), &[], now)
        .await
        .expect("query");

    // The operator and the regulator see the audit; another operator not.
    let mine: Vec<Value> = operator
        .get(&format!("/api/v1/scenarios/{scenario}/queries"))
        .await
        .expect("queries");
    assert_eq!(mine[0]["sql"], q.record.sql.as_str());
    let regulator = app.login("jianguan").await;
    let all: Vec<Value> = regulator
        .get(&format!("/api/v1/scenarios/{scenario}/queries"))
        .await
        .expect("queries");
    assert_eq!(all.len(), 1);
    let other = app.login("yunying2").await;
    assert_eq!(
        other
            .get::<Value>(&format!("/api/v1/scenarios/{scenario}/queries"))
            .await
            .expect_err("not theirs")
            .code(),
        Some("not_found")
    );

    // A release of anything but the checked result is refused.
    let path = format!("/api/v1/queries/{}/releases", q.id);
    let forged = operator
        .post::<Value, _>(
            &path,
            &json!({"title": "各区企业数", "media_type": "text/csv", "content": "district,firms\n珠山区,1\n"}),
        )
        .await
        .expect_err("forged");
    assert_eq!(forged.code(), Some("validation_failed"));
    let r: Value = operator
        .post(
            &path,
            &json!({"title": "各区企业数", "media_type": "text/csv", "content": result}),
        )
        .await
        .expect("request");
    let rid = r["id"].as_i64().expect("release");
    assert_eq!(r["state"], "requested");
    let content = format!("/api/v1/releases/{rid}/content");
    let early = operator
        .raw(Method::GET, &content, None, "")
        .await
        .expect("raw");
    assert_eq!(early.status.as_u16(), 409);

    // Two different reviewers of the institution approve.
    let szzx = app.login("szzx").await;
    let approve = format!("/api/v1/releases/{rid}/approve");
    assert_eq!(
        operator
            .post::<Value, _>(&approve, &json!({}))
            .await
            .expect_err("author")
            .code(),
        Some("forbidden")
    );
    let pending: Vec<Value> = szzx
        .get("/api/v1/releases?pending=true")
        .await
        .expect("queue");
    assert_eq!(pending.len(), 1);
    let first: Value = szzx
        .post(&approve, &json!({"note": "口径合规"}))
        .await
        .expect("first");
    assert_eq!(first["state"], "approved1");
    assert_eq!(
        szzx.post::<Value, _>(&approve, &json!({}))
            .await
            .expect_err("twice")
            .code(),
        Some("forbidden")
    );
    second_reviewer(&app, now).await;
    let second = app.login("szzx.review").await;
    let done: Value = second
        .post(&approve, &json!({"note": "同意出域"}))
        .await
        .expect("second");
    assert_eq!(done["state"], "approved");
    let got = operator
        .raw(Method::GET, &content, None, "")
        .await
        .expect("download");
    assert_eq!(got.status.as_u16(), 200);
    assert!(
        got.content_type.starts_with("text/csv"),
        "{}",
        got.content_type
    );
    assert_eq!(got.body, result);
    let stranger = other
        .raw(Method::GET, &content, None, "")
        .await
        .expect("raw");
    assert_eq!(stranger.status.as_u16(), 404);

    // A linkage stop reaches the institution's queue.
    app.store
        .record_query(&op, record(QueryOutcome::LinkageStopped), &[], now)
        .await
        .expect("linkage");
    let alerts: Vec<Value> = szzx.get("/api/v1/workspace/alerts").await.expect("alerts");
    assert_eq!(
        (alerts.len(), alerts[0]["state"].as_str()),
        (1, Some("open"))
    );
    let aid = alerts[0]["id"].as_i64().expect("alert");
    let handle = format!("/api/v1/workspace/alerts/{aid}/handle");
    assert_eq!(
        regulator
            .post::<Value, _>(&handle, &json!({"note": "已处理"}))
            .await
            .expect_err("regulator")
            .code(),
        Some("forbidden")
    );
    let handled: Value = szzx
        .post(&handle, &json!({"note": "已约谈运营机构"}))
        .await
        .expect("handle");
    assert_eq!(handled["state"], "handled");

    // The privacy budget.
    let budget = format!("/api/v1/agreements/{agreement}/privacy-budget");
    let none: Value = operator.get(&budget).await.expect("none");
    assert_eq!(none, Value::Null);
    let set: Value = szzx
        .call(Method::PUT, &budget, Some(&json!({"total": 1.0})))
        .await
        .expect("set");
    assert_eq!(
        (set["total"].as_f64(), set["remaining"].as_f64()),
        (Some(1.0), Some(1.0))
    );
    assert_eq!(
        szzx.call::<Value, _>(Method::PUT, &budget, Some(&json!({"total": 0.0})))
            .await
            .expect_err("zero")
            .code(),
        Some("validation_failed")
    );
    let seen: Value = operator.get(&budget).await.expect("seen");
    assert_eq!(seen["total"], 1.0);

    // The output-checking policy: defaults, then the institution's.
    let policy = format!("/api/v1/agreements/{agreement}/output-policy");
    let default: Value = operator.get(&policy).await.expect("policy");
    assert_eq!(default["min_units"], 10);
    let set: Value = szzx
        .call(
            Method::PUT,
            &policy,
            Some(&json!({"min_units": 20, "round_counts_to": 5})),
        )
        .await
        .expect("set");
    assert_eq!(
        (set["min_units"].as_i64(), set["dominance_pct"].as_i64()),
        (Some(20), Some(90))
    );
    assert_eq!(
        szzx.call::<Value, _>(Method::PUT, &policy, Some(&json!({"min_units": 1})))
            .await
            .expect_err("k = 1")
            .code(),
        Some("validation_failed")
    );
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

/// What the workspace reports of a district count over the enterprise
/// credit resource with `result` as its output (the engine is not wired
/// into these tests: the record is what it reports).
fn query_record(scenario: i64, code: &str, result: &str, outcome: QueryOutcome) -> QueryRecord {
    QueryRecord {
        scenario_id: scenario,
        synthetic: false,
        sql: "SELECT district, count(*) AS firms FROM enterprise_credit GROUP BY district".into(),
        plan_fingerprint: "cd".repeat(32),
        resources: vec![code.to_string()],
        fields: vec![format!("{code}.district")],
        rows_scanned: 205,
        result_sm3: if outcome.showed_result() {
            hex::encode(shuyun_ledger::sm3(result.as_bytes()))
        } else {
            String::new()
        },
        outcome,
        detail: json!({"resources": [code]}),
        epsilon: Epsilon(0),
    }
}

/// The demo's scenario sixty days on, the operator's principal, and a
/// recorder of queries as the workspace reports them.
async fn scenario_with_history(app: &App) -> (String, i64, shuyun_store::accounts::Principal, i64) {
    let code = enterprise_credit(app).await;
    let t0 = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    shuyun_server::demo::seed_authorization(&app.store, &WorkCalendar::builtin(), t0)
        .await
        .expect("history");
    app.advance_ms(60 * DAY);
    let now = t0 + 60 * DAY;
    let op = app
        .store
        .login("yunying1", PASSWORD, "test", now)
        .await
        .expect("login")
        .principal;
    let operator = app.login("yunying1").await;
    let agreements: Vec<Value> = operator.get("/api/v1/agreements").await.expect("mine");
    let agreement = agreements[0]["id"].as_i64().expect("agreement");
    let detail: Value = operator
        .get(&format!("/api/v1/agreements/{agreement}"))
        .await
        .expect("agreement");
    let scenario = detail["scenarios"][0]["id"].as_i64().expect("scenario");
    (code, scenario, op, now)
}

/// In the portal: the institution's two reviewers approve a release from
/// their to-do lists (the first is not offered a second approval), the
/// operator downloads it, the institution handles a linkage alert, and the
/// regulator finds the queries in the ledger explorer.
async fn releases_in_chromium(backend: Backend) {
    let app = spawn_app(backend).await;
    let (code, scenario, op, now) = scenario_with_history(&app).await;
    let result = "district,firms\n珠山区,120\n昌江区,85\n";
    let rec = |outcome: QueryOutcome| query_record(scenario, &code, result, outcome);
    let q = app
        .store
        .record_query(&op, rec(QueryOutcome::Shown), &[], now)
        .await
        .expect("query");
    app.store
        .request_release(
            &op,
            q.id,
            "各区县企业数",
            "text/csv",
            result.as_bytes().to_vec(),
            now,
        )
        .await
        .expect("request");
    app.store
        .record_query(&op, rec(QueryOutcome::LinkageStopped), &[], now)
        .await
        .expect("linkage");
    second_reviewer(&app, now).await;

    let b = Browser::start().await;
    let c = &b.client;
    let shot = |name: &str| format!("{backend:?}-ws-{name}");
    login(c, &app, "szzx").await;
    wait_role(c, "implementing_institution").await;
    eventually(c, "#todo-list", |t| {
        t.contains("审核出域申请") && t.contains("处理关联风险告警")
    })
    .await;
    click(c, "#nav-releases").await;
    fill(c, "form.review input[name='note']", "口径合规").await;
    click(c, "form.review button[value='approve']").await;
    eventually(c, "#releases td.state", |t| t.contains("一审已批准")).await;
    assert!(
        c.find(fantoccini::Locator::Css("form.review"))
            .await
            .is_err(),
        "no second approval by the same reviewer"
    );
    // The alert.
    click(c, "#nav-alerts").await;
    eventually(c, "#alerts", |t| t.contains("待处理")).await;
    fill(
        c,
        "#alerts input[name='note']",
        "已约谈运营机构，调整查询口径",
    )
    .await;
    click(c, "#alerts button").await;
    eventually(c, "#alerts td.state", |t| t.contains("已处理")).await;
    screenshot(c, &shot("alerts")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    second_approval(c, &app).await;

    login(c, &app, "yunying1").await;
    wait_role(c, "operator").await;
    eventually(c, "#todo-list", |t| t.contains("出域结果可下载")).await;
    click(c, "#nav-releases").await;
    eventually(c, "#releases", |t| t.contains("下载")).await;
    let link = c
        .find(fantoccini::Locator::Css("#releases a.download"))
        .await
        .expect("link")
        .attr("href")
        .await
        .expect("href")
        .expect("href");
    let operator = app.login("yunying1").await;
    let got = operator
        .raw(Method::GET, &link, None, "")
        .await
        .expect("download");
    assert_eq!((got.status.as_u16(), got.body.as_str()), (200, result));
    screenshot(c, &shot("releases")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    // The regulator finds every query in the ledger.
    login(c, &app, "jianguan").await;
    wait_role(c, "regulator").await;
    c.goto(&format!("{}/ledger?action=workspace.query", app.base))
        .await
        .expect("ledger");
    let ledger = eventually(c, "main", |t| t.contains("workspace.query")).await;
    assert_eq!(ledger.matches("workspace.query").count(), 2, "{ledger}");
    b.stop().await;
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}
