//! The secure workspace running SQL through the API, on both metadata
//! backends: the pilot's enterprise credit and vehicle resources loaded by
//! their departments, the demo's authorization history, and the operator
//! developing on synthetic data, running for real, meeting the output
//! checks and the attack corpus, asking a release out; the institution
//! seeing the linkage alert; the regulator finding every query in the
//! ledger; a suspension cancelling running queries; the differencing
//! history outliving a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use shuyun_domain::calendar::WorkCalendar;
use shuyun_store::Backend;

use crate::both_backends;
use crate::browser::{
    Browser, click, eventually, fill, find, login, screenshot, second_approval, wait_role,
};
use crate::kit::{App, second_reviewer, spawn_app};

both_backends!(
    workspace_sql,
    workspace_in_chromium,
    differencing_survives_a_restart
);

const DAY: i64 = 86_400_000;

/// Register a pilot resource for its department, confirm its grade if the
/// data authority must, load `scale` of its generated data; its code.
pub async fn load_pilot(app: &App, key: &str, scale: f64) -> String {
    let pr = shuyun_data::pilot::pilot_resources()
        .into_iter()
        .find(|r| r.key == key)
        .expect("pilot resource");
    let dept = app.login(pr.owner_username).await;
    let r: Value = dept
        .post(
            "/api/v1/resources",
            &json!({
                "name": pr.name, "description": pr.description, "domain": pr.domain,
                "frequency": pr.frequency, "source_system": pr.source_system,
                "standard": pr.standard, "contact": "数据科", "public": true,
                "rights": {"holder": "数源部门", "processor": "景德镇市数字经济发展中心", "operator": "待授权运营机构"},
                "schema": pr.schema,
                "basis": {"impact_object": "personal_rights", "impact_degree": "serious", "reason": "含个人信息"}
            }),
        )
        .await
        .expect("register");
    let id = r["id"].as_i64().expect("id");
    if !r["pending_grading"].is_null() {
        let _: Value = app
            .login("sjj")
            .await
            .post(
                &format!("/api/v1/resources/{id}/gradings/1/confirm"),
                &json!({"note": "确认"}),
            )
            .await
            .expect("confirm");
    }
    let mut csv = Vec::new();
    shuyun_data::pilot::generate_csv(key, scale, 7, &mut csv).expect("csv");
    let up = dept
        .raw(
            Method::POST,
            &format!("/api/v1/resources/{id}/data"),
            Some(std::str::from_utf8(&csv).expect("utf-8")),
            "text/csv",
        )
        .await
        .expect("upload");
    assert_eq!(up.status.as_u16(), 201, "{}", up.body);
    // A resource with a unit is stored with its units' digests under the
    // app's key, which the workspace then reads instead of the identifiers.
    let version: Value = serde_json::from_str(&up.body).expect("version");
    let objects: std::sync::Arc<dyn object_store::ObjectStore> = std::sync::Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(&app.objects_dir).expect("objects"),
    );
    let path = object_store::path::Path::from(version["path"].as_str().expect("path"));
    let fingerprint = shuyun_data::objects::unit_digest_fingerprint(objects, &path)
        .await
        .expect("footer");
    let expected = pr
        .schema
        .unit_field()
        .map(|_| app.unit_digests.fingerprint());
    assert_eq!(fingerprint, expected, "{key}");
    r["code"].as_str().expect("code").to_string()
}

/// The pilot data and the demo's history, sixty days on: the enterprise
/// credit code, the vehicles code and the approved scenario.
pub async fn workspace_ready(app: &App) -> (String, String, i64) {
    let credit = load_pilot(app, "enterprise_credit", 1.0).await;
    let vehicles = load_pilot(app, "vehicles", 1.0).await;
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
    let operator = app.login("yunying1").await;
    let agreements: Vec<Value> = operator.get("/api/v1/agreements").await.expect("mine");
    let detail: Value = operator
        .get(&format!(
            "/api/v1/agreements/{}",
            agreements[0]["id"].as_i64().expect("id")
        ))
        .await
        .expect("agreement");
    let scenario = detail["scenarios"][0]["id"].as_i64().expect("scenario");
    (credit, vehicles, scenario)
}

/// The SQL name of a resource's table.
pub fn table(code: &str) -> String {
    shuyun_server::workspace::table_name(code, "360200")
}

async fn refused(c: &shuyun_client::Client, scenario: i64, sql: &str) -> (String, Value) {
    refused_with(c, scenario, &json!({ "sql": sql })).await
}

async fn refused_with(c: &shuyun_client::Client, scenario: i64, body: &Value) -> (String, Value) {
    let sql = &body["sql"];
    let r = c
        .raw(
            Method::POST,
            &format!("/api/v1/scenarios/{scenario}/workspace/queries"),
            Some(&body.to_string()),
            "application/json",
        )
        .await
        .expect("raw");
    assert!(
        r.content_type.starts_with("application/problem+json"),
        "{sql}: {} {}",
        r.status,
        r.body
    );
    assert!(r.status.is_client_error(), "{sql}: {} {}", r.status, r.body);
    let v: Value = serde_json::from_str(&r.body).expect("problem");
    (v["code"].as_str().expect("code").to_string(), v)
}

async fn workspace_sql(backend: Backend) {
    let app = spawn_app(backend).await;
    let (credit, vehicles, scenario) = workspace_ready(&app).await;
    let (ec, vt) = (table(&credit), table(&vehicles));
    let operator = app.login("yunying1").await;
    let run = format!("/api/v1/scenarios/{scenario}/workspace/queries");

    // The schema browser: only what the scope allows, with exposure.
    let info: Value = operator
        .get(&format!("/api/v1/scenarios/{scenario}/workspace"))
        .await
        .expect("workspace");
    let tables = info["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 2);
    let credit_table = tables
        .iter()
        .find(|t| t["name"] == ec.as_str())
        .expect("ec");
    assert_eq!(credit_table["row_filtered"], true);
    let exposure = |t: &Value, f: &str| {
        t["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|x| x["name"] == f)
            .map(|x| x["exposure"].as_str().expect("exposure").to_string())
    };
    assert_eq!(exposure(credit_table, "industry").as_deref(), Some("open"));
    assert_eq!(
        exposure(credit_table, "credit_score").as_deref(),
        Some("restricted")
    );
    assert_eq!(
        exposure(credit_table, "legal_rep").as_deref(),
        Some("restricted")
    );
    // Out of the scenario's scope: does not exist.
    assert_eq!(exposure(credit_table, "abnormal"), None);
    let vehicle_table = tables
        .iter()
        .find(|t| t["name"] == vt.as_str())
        .expect("vt");
    assert_eq!(
        exposure(vehicle_table, "driver_id_number").as_deref(),
        Some("pseudonymised")
    );
    // Other roles have no workspace; another operator cannot open it.
    let other = app.login("yunying2").await;
    let (code, _) = refused(&other, scenario, "SELECT 1").await;
    assert_eq!(code, "not_found");
    let szzx = app.login("szzx").await;
    let (code, _) = refused(&szzx, scenario, "SELECT 1").await;
    assert_eq!(code, "forbidden");

    // Develop on synthetic data: labelled, and no real code appears.
    let assessment = format!(
        "SELECT industry, credit_level, count(*) AS firms, avg(credit_score) AS avg_score \
         FROM {ec} GROUP BY industry, credit_level ORDER BY industry, credit_level"
    );
    let syn: Value = operator
        .post(&run, &json!({"sql": assessment, "synthetic": true}))
        .await
        .expect("synthetic");
    assert_eq!(syn["synthetic"], true);
    assert!(!syn["rows"].as_array().expect("rows").is_empty(), "{syn}");

    // Run it for real: small cells are withheld, with the reason.
    let real: Value = operator
        .post(&run, &json!({"sql": assessment}))
        .await
        .expect("real");
    assert_eq!(real["synthetic"], false);
    assert_eq!(real["outcome"], "partly_suppressed", "{real}");
    let check = &real["check"];
    assert!(check["rows_suppressed"].as_u64().expect("n") > 0, "{check}");
    assert!(check["rows_released"].as_u64().expect("n") > 0, "{check}");
    assert!(
        check["reasons"][0]
            .as_str()
            .expect("reason")
            .contains("fewer than 10"),
        "{check}"
    );
    for row in real["rows"].as_array().expect("rows") {
        assert!(row[2].as_str().expect("n").parse::<u64>().expect("count") >= 10);
    }
    // The row filter holds: only the agreement's two districts exist.
    let districts: Value = operator
        .post(
            &run,
            &json!({"sql": format!("SELECT district, count(*) AS n FROM {ec} WHERE district <> '珠山区' OR district = '珠山区' GROUP BY district ORDER BY district")}),
        )
        .await
        .expect("districts");
    let seen: Vec<&str> = districts["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r[0].as_str().expect("d"))
        .collect();
    assert_eq!(seen, vec!["昌江区", "珠山区"], "{districts}");

    // No raw identifier is ever shown.
    for sql in [
        format!("SELECT credit_code FROM {ec}"),
        format!("SELECT driver_id_number, fuel FROM {vt}"),
        format!("SELECT plate_no, count(*) AS n FROM {vt} GROUP BY plate_no"),
    ] {
        let r: Value = operator
            .post(&run, &json!({ "sql": sql }))
            .await
            .expect(&sql);
        assert_eq!(r["rows"].as_array().expect("rows").len(), 0, "{sql}: {r}");
        assert_eq!(r["outcome"], "partly_suppressed", "{sql}: {r}");
    }

    // The attack corpus, as the operator receives it.
    for (sql, want) in [
        (
            "SELECT * FROM read_parquet('/etc/passwd')".to_string(),
            "not_allowed",
        ),
        (
            format!("COPY (SELECT industry FROM {ec}) TO '/tmp/out.csv'"),
            "not_allowed",
        ),
        (
            format!("CREATE VIEW v AS SELECT credit_score FROM {ec}"),
            "not_allowed",
        ),
        (format!("DELETE FROM {ec}"), "not_allowed"),
        (
            "SET datafusion.execution.batch_size = 1".into(),
            "not_allowed",
        ),
        ("SELECT 1; SELECT 2".into(), "not_allowed"),
        (
            format!("SELECT credit_score FROM {ec}"),
            "restricted_output",
        ),
        (
            format!("SELECT s FROM (SELECT credit_score AS s FROM {ec}) x"),
            "restricted_output",
        ),
        (
            format!("WITH c AS (SELECT legal_rep FROM {ec}) SELECT * FROM c"),
            "restricted_output",
        ),
        (
            format!("SELECT industry FROM {ec} UNION ALL SELECT legal_rep FROM {ec}"),
            "restricted_output",
        ),
        (
            format!("SELECT lag(credit_score) OVER (ORDER BY industry) AS p FROM {ec}"),
            "restricted_output",
        ),
        (
            format!(
                "SELECT industry, CASE WHEN credit_score > 700 THEN 1 ELSE 0 END AS bit FROM {ec}"
            ),
            "restricted_output",
        ),
        (
            format!("SELECT substr(legal_rep, 1, 1) AS s FROM {ec}"),
            "restricted_output",
        ),
        (format!("SELECT abnormal FROM {ec}"), "parse_error"),
        ("SELECT * FROM enterprise_credit".into(), "parse_error"),
        (
            "SELECT * FROM shuyun.workspace.nothing".into(),
            "parse_error",
        ),
        ("SELEC 1".into(), "parse_error"),
    ] {
        let (code, problem) = refused(&operator, scenario, &sql).await;
        assert_eq!(code, want, "{sql}: {problem}");
        assert!(problem["query_id"].as_i64().is_some(), "{sql}: {problem}");
    }

    // A query built to re-identify: persons of two departments fused.
    let linkage = format!(
        "SELECT v.driver_id_number, e.credit_level FROM {vt} v JOIN {ec} e ON v.driver_name = e.legal_rep"
    );
    let (code, problem) = refused(&operator, scenario, &linkage).await;
    assert_eq!(code, "linkage_risk", "{problem}");
    let alerts: Vec<Value> = szzx.get("/api/v1/workspace/alerts").await.expect("alerts");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["query_id"], problem["query_id"]);
    assert_eq!(alerts[0]["state"], "open");

    // Ask the checked result out; two reviewers approve; download.
    let release: Value = operator
        .post(
            &format!("/api/v1/queries/{}/releases", real["query_id"]),
            &json!({"title": "分行业信用等级分布", "media_type": "text/csv", "content": real["csv"]}),
        )
        .await
        .expect("release");
    let rid = release["id"].as_i64().expect("id");
    let approve = format!("/api/v1/releases/{rid}/approve");
    let _: Value = szzx
        .post(&approve, &json!({"note": "口径合规"}))
        .await
        .expect("first");
    second_reviewer(&app, 0).await;
    let done: Value = app
        .login("szzx.review")
        .await
        .post(&approve, &json!({"note": "同意出域"}))
        .await
        .expect("second");
    assert_eq!(done["state"], "approved");
    let got = operator
        .raw(
            Method::GET,
            &format!("/api/v1/releases/{rid}/content"),
            None,
            "",
        )
        .await
        .expect("download");
    assert_eq!(got.status.as_u16(), 200);
    assert_eq!(got.body, real["csv"].as_str().expect("csv"));

    // The regulator finds every query in the ledger, each with its facts.
    let regulator = app.login("jianguan").await;
    let queries: Vec<Value> = regulator
        .get(&format!("/api/v1/scenarios/{scenario}/queries?limit=1000"))
        .await
        .expect("queries");
    let entries: Vec<Value> = regulator
        .get("/api/v1/ledger/entries?action=workspace.query&limit=500")
        .await
        .expect("ledger");
    assert_eq!(entries.len(), queries.len(), "{entries:?}");
    assert_eq!(queries.len(), 2 + 1 + 3 + 17 + 1);
    let mine = queries
        .iter()
        .find(|q| q["id"] == real["query_id"])
        .expect("the real run");
    assert_eq!(mine["plan_fingerprint"].as_str().map(str::len), Some(64));
    assert_eq!(mine["result_sm3"], real["result_sm3"]);
    assert!(mine["rows_scanned"].as_u64().expect("scanned") > 0);
    assert!(
        mine["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .any(|f| f == &json!(format!("{credit}.credit_score"))),
        "{mine}"
    );
    assert!(app.store.verify_ledger().await.expect("verify").ok());

    // Differential privacy: refused without a budget; with one, noise is
    // added, ε is charged and shown, and a query beyond what is left is
    // refused (and audited) without running.
    let noisy = json!({
        "sql": format!("SELECT district, count(*) AS firms FROM {ec} GROUP BY district ORDER BY district"),
        "noise": {"mechanism": "laplace", "epsilon": 0.6}
    });
    let r = operator
        .raw(
            Method::POST,
            &run,
            Some(&noisy.to_string()),
            "application/json",
        )
        .await
        .expect("raw");
    assert_eq!(r.status.as_u16(), 409, "{}", r.body);
    assert!(r.body.contains("no_privacy_budget"), "{}", r.body);
    let agreements: Vec<Value> = operator.get("/api/v1/agreements").await.expect("mine");
    let aid = agreements[0]["id"].as_i64().expect("id");
    let budget = format!("/api/v1/agreements/{aid}/privacy-budget");
    let _: Value = szzx
        .call(Method::PUT, &budget, Some(&json!({"total": 1.0})))
        .await
        .expect("set budget");
    let dp: Value = operator.post(&run, &noisy).await.expect("noisy");
    assert_eq!(dp["check"]["noise"]["epsilon"], 600_000, "{dp}");
    assert_eq!(dp["rows"].as_array().expect("rows").len(), 2, "{dp}");
    let b: Value = operator.get(&budget).await.expect("budget");
    assert!(
        (b["spent"].as_f64().expect("spent") - 0.6).abs() < 1e-9,
        "{b}"
    );
    let r = operator
        .raw(
            Method::POST,
            &run,
            Some(&noisy.to_string()),
            "application/json",
        )
        .await
        .expect("raw");
    assert_eq!(r.status.as_u16(), 409, "{}", r.body);
    assert!(r.body.contains("privacy_budget_spent"), "{}", r.body);
    // Noise needs bounded contributions: an unbounded sum is refused.
    let (code, _) = refused_with(
        &operator,
        scenario,
        &json!({
            "sql": format!("SELECT district, sum(registered_capital) AS c FROM {ec} GROUP BY district"),
            "noise": {"mechanism": "laplace", "epsilon": 0.1}
        }),
    )
    .await;
    assert_eq!(code, "not_allowed");
    let b: Value = operator.get(&budget).await.expect("budget");
    assert!(
        (b["spent"].as_f64().expect("spent") - 0.6).abs() < 1e-9,
        "{b}"
    );

    // Limits: two queries at once per operator; a suspension cancels them.
    let never =
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r";
    let spawn = |c: shuyun_client::Client| {
        let path = run.clone();
        tokio::spawn(async move {
            c.raw(
                Method::POST,
                &path,
                Some(&json!({ "sql": never }).to_string()),
                "application/json",
            )
            .await
            .expect("raw")
        })
    };
    let first = spawn(app.login("yunying1").await);
    let second = spawn(app.login("yunying1").await);
    let mut busy = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = operator
            .raw(
                Method::POST,
                &run,
                Some(&json!({"sql": format!("SELECT count(*) AS n FROM {vt}")}).to_string()),
                "application/json",
            )
            .await
            .expect("raw");
        if r.status.as_u16() == 429 {
            busy = Some(r);
            break;
        }
    }
    let busy = busy.expect("a third query at once is refused");
    assert!(busy.body.contains("too_many_queries"), "{}", busy.body);
    let agreement: Vec<Value> = operator.get("/api/v1/agreements").await.expect("mine");
    let aid = agreement[0]["id"].as_i64().expect("id");
    let _: Value = regulator
        .post(
            &format!("/api/v1/agreements/{aid}/suspend"),
            &json!({"note": "发现违规查询，暂停运营"}),
        )
        .await
        .expect("suspend");
    for task in [first, second] {
        let r = tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("cancelled at once")
            .expect("task");
        assert_eq!(r.status.as_u16(), 409, "{}", r.body);
        assert!(r.body.contains("\"cancelled\""), "{}", r.body);
    }
    let (code, _) = refused(&operator, scenario, &assessment).await;
    assert_eq!(code, "agreement_not_active");
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

/// The pilot's first real 统一社会信用代码 (the data loaded by
/// [`load_pilot`]), to prove it never shows.
fn a_real_credit_code() -> String {
    let mut csv = Vec::new();
    shuyun_data::pilot::generate_csv("enterprise_credit", 1.0, 7, &mut csv).expect("csv");
    let text = String::from_utf8(csv).expect("utf-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "credit_code")
        .expect("credit_code column");
    lines
        .next()
        .expect("a row")
        .split(',')
        .nth(col)
        .expect("value")
        .to_string()
}

/// "All firms", then, after the server restarts, "all but two": the
/// second result would reveal the two by subtraction, and is withheld
/// because the first one's cells were recorded with its query.
async fn differencing_survives_a_restart(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (credit, _vehicles, scenario) = workspace_ready(&app).await;
    let ec = table(&credit);
    let run = format!("/api/v1/scenarios/{scenario}/workspace/queries");
    let all = format!("SELECT count(*) AS n FROM {ec}");
    let but_two = format!(
        "SELECT count(*) AS n FROM (SELECT credit_code, \
         row_number() OVER (ORDER BY credit_code) AS r FROM {ec}) e WHERE r > 2"
    );
    let operator = app.login("yunying1").await;
    let first: Value = operator
        .post(&run, &json!({ "sql": all }))
        .await
        .expect("all");
    assert_eq!(first["outcome"], "shown", "{first}");
    // Synthetic runs say nothing of real units and are not remembered.
    let syn: Value = operator
        .post(&run, &json!({ "sql": but_two, "synthetic": true }))
        .await
        .expect("synthetic");
    assert_eq!(syn["synthetic"], true, "{syn}");

    app.restart().await;
    let operator = app.login("yunying1").await;
    let second: Value = operator
        .post(&run, &json!({ "sql": but_two }))
        .await
        .expect("but two");
    assert_eq!(second["outcome"], "partly_suppressed", "{second}");
    assert_eq!(second["check"]["suppressed"]["differencing"], 1, "{second}");
    assert!(
        second["rows"].as_array().expect("rows").is_empty(),
        "{second}"
    );
    // The same query as the first adds nothing new and is shown again.
    let again: Value = operator
        .post(&run, &json!({ "sql": all }))
        .await
        .expect("again");
    assert_eq!(again["outcome"], "shown", "{again}");
    assert_eq!(again["rows"], first["rows"]);
    app.stop().await;
}

/// In the portal, as a new user would: the operator opens the scenario's
/// workspace from its agreement, reads the schema browser, develops the
/// credit assessment on synthetic data, runs it for real and sees small
/// cells suppressed, fails to see a raw identifier, is refused a
/// restricted field, asks the result out; a re-identifying query is
/// stopped; the institution sees the alert and two reviewers approve; the
/// operator downloads; the regulator finds every query in the ledger.
async fn workspace_in_chromium(backend: Backend) {
    let app = spawn_app(backend).await;
    let (credit, vehicles, scenario) = workspace_ready(&app).await;
    let (ec, vt) = (table(&credit), table(&vehicles));
    let secret_code = a_real_credit_code();
    let operator = app.login("yunying1").await;
    let agreements: Vec<Value> = operator.get("/api/v1/agreements").await.expect("mine");
    let aid = agreements[0]["id"].as_i64().expect("id");

    let b = Browser::start().await;
    let c = &b.client;
    let shot = |name: &str| format!("{backend:?}-sandbox-{name}");
    login(c, &app, "yunying1").await;
    wait_role(c, "operator").await;
    c.goto(&format!("{}/agreements/{aid}", app.base))
        .await
        .expect("agreement");
    click(c, "a.workspace").await;
    // The schema browser shows the scope with each field's grade and use.
    let schema = eventually(c, "#schema", |t| t.contains(&ec) && t.contains(&vt)).await;
    assert!(!schema.contains("abnormal"), "out of scope: {schema}");
    let exposure = |table: &str, field: &str| {
        format!("details[data-table='{table}'] tr[data-field='{field}'] [data-exposure]")
    };
    for (t, f, want) in [
        (&ec, "industry", "open"),
        (&ec, "credit_score", "restricted"),
        (&vt, "driver_id_number", "pseudonymised"),
    ] {
        let el = find(c, &exposure(t, f)).await;
        assert_eq!(
            el.attr("data-exposure").await.expect("attr").as_deref(),
            Some(want),
            "{t}.{f}"
        );
    }
    assert!(
        schema.contains("仅限计算") && schema.contains("假名化"),
        "{schema}"
    );

    // Develop on synthetic data: labelled as such, nothing to release.
    let assessment = format!(
        "SELECT industry, credit_level, count(*) AS firms, avg(credit_score) AS avg_score \
         FROM {ec} GROUP BY industry, credit_level ORDER BY industry, credit_level"
    );
    fill(c, "#sql", &assessment).await;
    click(c, "#run-synthetic").await;
    eventually(c, "#synthetic-label", |t| t.contains("合成数据")).await;
    assert!(
        c.find(fantoccini::Locator::Css("#release-form"))
            .await
            .is_err(),
        "synthetic results are never released"
    );
    screenshot(c, &shot("synthetic")).await;
    // Run it for real (the SQL stayed in the editor): small cells withheld.
    click(c, "#run-real").await;
    let check = eventually(c, "#check", |t| t.contains("部分单元格已抑制")).await;
    assert!(!check.contains("抑制 0"), "{check}");
    let reasons = find(c, "#reasons").await.text().await.expect("reasons");
    assert!(reasons.contains("fewer than 10"), "{reasons}");
    assert!(
        c.find(fantoccini::Locator::Css("#synthetic-label"))
            .await
            .is_err(),
        "a real run is not labelled synthetic"
    );
    let real_query = find(c, "#result")
        .await
        .attr("data-query")
        .await
        .expect("attr")
        .expect("query id");
    screenshot(c, &shot("real")).await;
    // Ask it out.
    fill(c, "#release-title", "分行业信用等级分布").await;
    click(c, "#request-release").await;
    eventually(c, "#releases", |t| {
        t.contains("分行业信用等级分布") && t.contains("待审核")
    })
    .await;

    // No raw identifier, however asked.
    c.goto(&format!("{}/scenarios/{scenario}/workspace", app.base))
        .await
        .expect("workspace");
    fill(
        c,
        "#sql",
        &format!("SELECT credit_code, industry FROM {ec}"),
    )
    .await;
    click(c, "#run-real").await;
    eventually(c, "#result", |t| t.contains("抑制")).await;
    find(c, "#no-rows").await;
    let page = c.source().await.expect("source");
    assert!(!page.contains(&secret_code), "a raw code was shown");
    // A restricted field in the output is refused with its code.
    fill(
        c,
        "#sql",
        &format!("SELECT s FROM (SELECT credit_score AS s FROM {ec}) x"),
    )
    .await;
    click(c, "#run-real").await;
    eventually(c, "#refusal-code", |t| t == "restricted_output").await;
    // A query built to re-identify is stopped and reported.
    fill(
        c,
        "#sql",
        &format!(
            "SELECT v.driver_id_number, e.credit_level FROM {vt} v JOIN {ec} e ON v.driver_name = e.legal_rep"
        ),
    )
    .await;
    click(c, "#run-real").await;
    eventually(c, "#refusal-code", |t| t == "linkage_risk").await;
    screenshot(c, &shot("linkage")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    // The institution: the alert and the first approval.
    second_reviewer(&app, 0).await;
    login(c, &app, "szzx").await;
    wait_role(c, "implementing_institution").await;
    eventually(c, "#todo-list", |t| {
        t.contains("审核出域申请") && t.contains("处理关联风险告警")
    })
    .await;
    click(c, "#nav-alerts").await;
    let alerts = eventually(c, "#alerts", |t| t.contains("待处理")).await;
    assert!(alerts.contains("linkage"), "{alerts}");
    click(c, "#nav-releases").await;
    fill(c, "form.review input[name='note']", "口径合规").await;
    click(c, "form.review button[value='approve']").await;
    eventually(c, "#releases td.state", |t| t.contains("一审已批准")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;
    second_approval(c, &app).await;

    // The operator downloads exactly the checked result.
    login(c, &app, "yunying1").await;
    wait_role(c, "operator").await;
    click(c, "#nav-releases").await;
    let link = find(c, "#releases a.download")
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("href");
    let got = operator
        .raw(Method::GET, &link, None, "")
        .await
        .expect("download");
    assert_eq!(got.status.as_u16(), 200);
    assert!(
        got.body
            .starts_with("industry,credit_level,firms,avg_score\r\n"),
        "{}",
        got.body
    );
    let queries: Vec<Value> = operator
        .get(&format!("/api/v1/scenarios/{scenario}/queries?limit=1000"))
        .await
        .expect("queries");
    let real = queries
        .iter()
        .find(|q| q["id"].as_i64().map(|i| i.to_string()).as_deref() == Some(real_query.as_str()))
        .expect("the real run");
    assert_eq!(
        hex::encode(shuyun_ledger::sm3(got.body.as_bytes())),
        real["result_sm3"].as_str().expect("sm3"),
        "the download is the checked result"
    );
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    // The regulator finds every one of those queries in the ledger.
    let queries: Vec<Value> = app
        .login("jianguan")
        .await
        .get(&format!("/api/v1/scenarios/{scenario}/queries?limit=1000"))
        .await
        .expect("queries");
    assert_eq!(queries.len(), 5, "{queries:?}");
    login(c, &app, "jianguan").await;
    wait_role(c, "regulator").await;
    c.goto(&format!("{}/ledger?action=workspace.query", app.base))
        .await
        .expect("ledger");
    let ledger = eventually(c, "main", |t| t.contains("workspace.query")).await;
    assert_eq!(ledger.matches("workspace.query").count(), 5, "{ledger}");
    screenshot(c, &shot("ledger")).await;
    b.stop().await;
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}
