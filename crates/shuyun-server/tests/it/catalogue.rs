//! The catalogue through the API, on both backends: a department registers
//! and grades, the data authority confirms, the negative list, visibility.

use serde_json::{Value, json};
use shuyun_store::Backend;

use crate::both_backends;
use crate::kit::spawn_app;

both_backends!(catalogue_flow, data_loads, quality_api, pilot_catalogue);

fn resource(grade: &str, public: bool) -> Value {
    json!({
        "name": "企业信用信息",
        "description": "全市企业公共信用信息，含信用评价等级",
        "domain": "credit",
        "frequency": "monthly",
        "source_system": "景德镇市信用信息共享平台",
        "standard": "GB/T 22117-2018",
        "contact": "市发改委信用科",
        "rights": {"holder": "景德镇市发展和改革委员会", "processor": "景德镇市数字经济发展中心", "operator": "待授权运营机构"},
        "public": public,
        "schema": [
            {"name": "credit_code", "label": "统一社会信用代码", "type": "string", "key": true, "grade": "general3", "pi": "none"},
            {"name": "credit_level", "label": "信用等级", "type": "string", "grade": grade, "pi": "none"},
            {"name": "registered_capital", "label": "注册资本", "type": "fen", "unit": "分", "nullable": true, "grade": "general2", "pi": "none"}
        ],
        "basis": {"impact_object": "organisation_rights", "impact_degree": "moderate", "reason": "企业经营与信用信息"}
    })
}

async fn catalogue_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    let dept = app.login("fgw").await;
    let authority = app.login("sjj").await;
    let operator = app.login("yunying1").await;

    let a: Value = dept
        .post("/api/v1/resources", &resource("general4", true))
        .await
        .expect("register");
    assert_eq!(a["code"], "360200-XY-000001");
    assert_eq!(a["grade"], "general4");
    let b: Value = dept
        .post("/api/v1/resources", &resource("important", false))
        .await
        .expect("register");
    assert_eq!(b["grade"], Value::Null);
    let bid = b["id"].as_i64().expect("id");

    // Only source departments register; bad schemas are coded refusals.
    let e = operator
        .post::<Value, _>("/api/v1/resources", &resource("general1", true))
        .await
        .expect_err("operator");
    assert_eq!(e.code(), Some("forbidden"));
    let mut bad = resource("general1", true);
    bad["grade"] = json!("general1");
    bad["schema"][0]["grade"] = json!("general3");
    assert_eq!(
        dept.post::<Value, _>("/api/v1/resources", &bad)
            .await
            .expect_err("low")
            .code(),
        Some("validation_failed")
    );
    let mut dup = resource("general1", true);
    dup["schema"][1]["name"] = json!("credit_code");
    assert_eq!(
        dept.post::<Value, _>("/api/v1/resources", &dup)
            .await
            .expect_err("dup")
            .code(),
        Some("validation_failed")
    );
    let mut extra = resource("general1", true);
    extra["schema"][0]["secret"] = json!(true);
    assert_eq!(
        dept.post::<Value, _>("/api/v1/resources", &extra)
            .await
            .expect_err("extra")
            .code(),
        Some("validation_failed")
    );

    // The data authority sees the pending grading and confirms it.
    let pending: Vec<Value> = authority
        .get("/api/v1/gradings/pending")
        .await
        .expect("pending");
    assert_eq!(pending.len(), 1);
    let g: Value = authority
        .post(
            &format!("/api/v1/resources/{bid}/gradings/1/confirm"),
            &json!({"note": "分级依据充分"}),
        )
        .await
        .expect("confirm");
    assert_eq!(g["state"], "confirmed");
    let e = authority
        .post::<Value, _>(
            &format!("/api/v1/resources/{bid}/gradings/1/confirm"),
            &json!({}),
        )
        .await
        .expect_err("again");
    assert_eq!(e.code(), Some("conflict"));
    let e = dept
        .post::<Value, _>(
            &format!("/api/v1/resources/{bid}/gradings/1/confirm"),
            &json!({}),
        )
        .await
        .expect_err("dept");
    assert_eq!(e.code(), Some("forbidden"));

    // Visibility: public sees one, the operator one, the authority both.
    let public: Vec<Value> = app
        .client()
        .get("/api/v1/public/resources")
        .await
        .expect("public");
    assert_eq!(public.len(), 1);
    let seen: Vec<Value> = operator.get("/api/v1/resources").await.expect("operator");
    assert_eq!(seen.len(), 1);
    let all: Vec<Value> = authority.get("/api/v1/resources").await.expect("all");
    assert_eq!(all.len(), 2);
    assert_eq!(
        operator
            .get::<Value>(&format!("/api/v1/resources/{bid}"))
            .await
            .expect_err("hidden")
            .code(),
        Some("not_found")
    );

    // Negative list: request with a legal basis, approval, publication.
    let n: Value = dept
        .post(
            &format!("/api/v1/resources/{bid}/negative-list"),
            &json!({"legal_basis": "《中华人民共和国数据安全法》第二十一条"}),
        )
        .await
        .expect("request");
    let nid = n["id"].as_i64().expect("id");
    let n: Value = authority
        .post(
            &format!("/api/v1/negative-list/{nid}/approve"),
            &json!({"note": "同意"}),
        )
        .await
        .expect("approve");
    assert_eq!(n["list_version"], 1);
    let published: Vec<Value> = app
        .client()
        .get("/api/v1/public/negative-list")
        .await
        .expect("published");
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["resource_code"], b["code"]);
    let r: Value = authority
        .get(&format!("/api/v1/resources/{bid}"))
        .await
        .expect("r");
    assert_eq!(r["on_negative_list"], true);
    let e = operator
        .post::<Value, _>(&format!("/api/v1/negative-list/{nid}/withdraw"), &json!({}))
        .await
        .expect_err("operator");
    assert_eq!(e.code(), Some("forbidden"));
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

async fn data_loads(backend: Backend) {
    use reqwest::Method;
    let app = spawn_app(backend).await;
    let dept = app.login("fgw").await;
    let other = app.login("zjj").await;
    let r: Value = dept
        .post("/api/v1/resources", &resource("general4", true))
        .await
        .expect("register");
    let id = r["id"].as_i64().expect("id");
    let good = "credit_code,credit_level,registered_capital\n91360200MA0000001X,A,100000000\n91360202MA0000002Y,B,\n";
    async fn upload(
        c: &shuyun_client::Client,
        id: i64,
        body: String,
    ) -> shuyun_client::RawResponse {
        let path = format!("/api/v1/resources/{id}/data?format=csv&name=%E4%BC%81%E4%B8%9A.csv");
        c.raw(Method::POST, &path, Some(&body), "text/csv")
            .await
            .expect("upload")
    }
    let v1 = upload(&dept, id, good.to_string()).await;
    assert_eq!(v1.status.as_u16(), 201, "{}", v1.body);
    let v1 = v1.json();
    assert_eq!(
        (
            v1["version"].as_i64(),
            v1["rows"].as_i64(),
            v1["current"].as_bool()
        ),
        (Some(1), Some(2), Some(true))
    );
    assert_eq!(v1["original_name"], "企业.csv");
    assert_eq!(v1["sm3"].as_str().map(str::len), Some(64));
    // The stored object is the one whose SM3 the ledger holds.
    let stored =
        std::fs::read(app.objects_dir.join(v1["path"].as_str().expect("path"))).expect("object");
    assert_eq!(
        hex::encode(shuyun_ledger::sm3(&stored)),
        v1["sm3"].as_str().expect("sm3")
    );

    // A bad file: rejected with row numbers, the current version unchanged.
    let bad = "credit_code,credit_level,registered_capital\n91360200MA0000003Z,A,abc\n,B,5\n91360200MA0000001X,A,1\n91360200MA0000001X,A,2\n";
    let r = upload(&dept, id, bad.to_string()).await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    let detail = r.json()["detail"].as_str().expect("detail").to_string();
    assert!(detail.contains("current version is unchanged"), "{detail}");
    let rejections: Vec<Value> = dept
        .get(&format!("/api/v1/resources/{id}/rejections"))
        .await
        .expect("rejections");
    let rid = rejections[0]["id"].as_i64().expect("rid");
    let report = dept
        .raw(
            Method::GET,
            &format!("/api/v1/resources/{id}/rejections/{rid}/report"),
            None,
            "",
        )
        .await
        .expect("report");
    assert!(report.content_type.starts_with("text/csv"));
    assert!(
        report.body.contains("\n1,registered_capital,"),
        "{}",
        report.body
    );
    assert!(report.body.contains("\n2,credit_code,"), "{}", report.body);
    let versions: Vec<Value> = dept
        .get(&format!("/api/v1/resources/{id}/data"))
        .await
        .expect("versions");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["current"], true);

    // Another department cannot load; a second good version; back to v1.
    let r = upload(&other, id, good.to_string()).await;
    assert_eq!(r.status.as_u16(), 403);
    let v2 = upload(&dept, id, good.to_string()).await;
    assert_eq!(v2.status.as_u16(), 201);
    let back: Value = dept
        .post(
            &format!("/api/v1/resources/{id}/data/1/current"),
            &json!({}),
        )
        .await
        .expect("current");
    assert_eq!(back["current"], true);
    let e = dept
        .raw(
            Method::POST,
            &format!("/api/v1/resources/{id}/data?format=xml"),
            Some("x"),
            "text/plain",
        )
        .await
        .expect("fmt");
    assert_eq!(e.status.as_u16(), 422);
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

fn credit_code(n: u32) -> String {
    let first17 = format!("91360200MA{n:07}");
    format!(
        "{first17}{}",
        shuyun_domain::CreditCode::check_char(&first17).expect("c")
    )
}

async fn quality_api(backend: Backend) {
    use reqwest::Method;
    let app = spawn_app(backend).await;
    let dept = app.login("fgw").await;
    let other = app.login("zjj").await;
    let public = app.client();
    let r: Value = dept
        .post("/api/v1/resources", &resource("general4", true))
        .await
        .expect("register");
    let id = r["id"].as_i64().expect("id");
    // Defaults: the optional field filled in, and timeliness.
    let d: Value = public
        .get(&format!("/api/v1/resources/{id}/quality/rules"))
        .await
        .expect("defaults");
    assert_eq!(d["version"], 0);
    assert_eq!(d["rules"].as_array().map(Vec::len), Some(2));
    let rules = json!([
        {"check": "format", "field": "credit_code", "format": "credit_code", "weight": 3},
        {"check": "not_empty", "field": "registered_capital"},
        {"check": "code_list", "field": "credit_level", "values": ["A", "B", "C", "D"]},
        {"check": "range", "field": "registered_capital", "min": 0, "max": 100000000000i64}
    ]);
    let path = format!("/api/v1/resources/{id}/quality/rules");
    let e = other
        .post::<Value, _>(&path, &rules)
        .await
        .expect_err("not owner");
    assert_eq!(e.code(), Some("forbidden"));
    let e = dept
        .post::<Value, _>(
            &path,
            &json!([{"check": "range", "field": "credit_level", "min": 1}]),
        )
        .await
        .expect_err("bad rule");
    assert_eq!(e.code(), Some("validation_failed"));
    let e = dept
        .post::<Value, _>(&path, &json!([{"check": "format", "field": "credit_code"}]))
        .await
        .expect_err("missing format");
    assert_eq!(e.code(), Some("validation_failed"));
    let set: Value = dept.post(&path, &rules).await.expect("set");
    assert_eq!(set["version"], 1);

    // Row 2 has a bad check character and an unknown level; row 3 no capital.
    let mut bad_code = credit_code(2);
    let last = bad_code.pop().expect("c");
    bad_code.push(if last == '0' { '1' } else { '0' });
    let csv = format!(
        "credit_code,credit_level,registered_capital\n{},A,100\n{bad_code},Z,200\n{},B,\n{},C,300\n",
        credit_code(1),
        credit_code(3),
        credit_code(4)
    );
    let up = dept
        .raw(
            Method::POST,
            &format!("/api/v1/resources/{id}/data?name=q.csv"),
            Some(&csv),
            "text/csv",
        )
        .await
        .expect("upload");
    assert_eq!(up.status.as_u16(), 201, "{}", up.body);
    let report: Value = public
        .get(&format!("/api/v1/resources/{id}/data/1/quality"))
        .await
        .expect("report");
    let results = report["report"]["results"]
        .as_array()
        .expect("results")
        .clone();
    let got: Vec<(u64, u64, Value)> = results
        .iter()
        .map(|r| {
            (
                r["checked"].as_u64().expect("n"),
                r["failed"].as_u64().expect("n"),
                r["sample_rows"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (4, 1, json!([2])),
            (4, 1, json!([3])),
            (4, 1, json!([2])),
            (3, 0, json!([]))
        ]
    );
    // (0.75*3 + 0.75 + 0.75 + 1) / 6 = 0.7916…
    assert_eq!(report["report"]["score"], 79.17);
    assert!(
        !report.to_string().contains(&bad_code),
        "reports never show values"
    );

    // New rules and a re-evaluation: the history shows the newest.
    let set: Value = dept
        .post(
            &path,
            &json!([{"check": "format", "field": "credit_code", "format": "credit_code"}]),
        )
        .await
        .expect("set 2");
    assert_eq!(set["version"], 2);
    let again = format!("/api/v1/resources/{id}/data/1/quality");
    let e = other
        .post::<Value, _>(&again, &json!({}))
        .await
        .expect_err("not owner");
    assert_eq!(e.code(), Some("forbidden"));
    let re: Value = dept.post(&again, &json!({})).await.expect("re-evaluate");
    assert_eq!(
        (re["rules_version"].as_i64(), re["report"]["score"].as_f64()),
        (Some(2), Some(75.0))
    );
    let h: Vec<Value> = public
        .get(&format!("/api/v1/resources/{id}/quality"))
        .await
        .expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["score"], 75.0);
    // A private resource's quality is as invisible as the resource.
    let p: Value = dept
        .post("/api/v1/resources", &resource("general4", false))
        .await
        .expect("register");
    let e = public
        .get::<Value>(&format!("/api/v1/resources/{}/quality", p["id"]))
        .await
        .expect_err("hidden");
    assert_eq!(e.code(), Some("not_found"));
    let e = public
        .get::<Value>(&format!("/api/v1/resources/{id}/data/9/quality"))
        .await
        .expect_err("no version");
    assert_eq!(e.code(), Some("not_found"));
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

async fn pilot_catalogue(backend: Backend) {
    let app = spawn_app(backend).await;
    let objects: std::sync::Arc<dyn object_store::ObjectStore> = std::sync::Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(&app.objects_dir).expect("objects"),
    );
    let n = shuyun_server::demo::seed_pilot(
        &app.store,
        objects,
        &"360200".parse().expect("d"),
        0.2,
        1_790_000_000_000,
        app.unit_digests,
    )
    .await
    .expect("pilot");
    assert_eq!(n, 14);
    let authority = app.login("sjj").await;
    let all: Vec<Value> = authority.get("/api/v1/resources").await.expect("catalogue");
    assert_eq!(all.len(), 14);
    let owners: std::collections::BTreeSet<&str> = all
        .iter()
        .filter_map(|r| r["owner_org_name"].as_str())
        .collect();
    assert_eq!(
        owners.len(),
        10,
        "the ten departments of annex 1: {owners:?}"
    );
    for r in &all {
        assert!(
            r["grade"].is_string(),
            "every pilot resource is graded: {r}"
        );
        let id = r["id"].as_i64().expect("id");
        let versions: Vec<Value> = authority
            .get(&format!("/api/v1/resources/{id}/data"))
            .await
            .expect("versions");
        assert_eq!(versions.len(), 1, "{}", r["name"]);
        assert!(versions[0]["rows"].as_i64().expect("rows") > 0);
        // Each carries the department's rules and a quality report.
        let rules: Value = authority
            .get(&format!("/api/v1/resources/{id}/quality/rules"))
            .await
            .expect("rules");
        assert_eq!(rules["version"], 1, "{}", r["name"]);
        let q: Value = authority
            .get(&format!("/api/v1/resources/{id}/data/1/quality"))
            .await
            .expect("quality");
        let score = q["report"]["score"].as_f64().expect("score");
        assert!((0.0..=100.0).contains(&score), "{}: {score}", r["name"]);
        // Identifier formats hold in the generated data.
        for res in q["report"]["results"].as_array().expect("results") {
            if res["rule"]["check"] == "format" {
                assert_eq!(res["failed"], 0, "{}: {res}", r["name"]);
            }
        }
    }
    // Personal data is never opened; the person credit resource is important.
    let person = all
        .iter()
        .find(|r| r["name"] == "个人信用信息")
        .expect("person credit");
    assert_eq!(person["grade"], "important");
    assert_eq!(person["open_data"], false);
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}
