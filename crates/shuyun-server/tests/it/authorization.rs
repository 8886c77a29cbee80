//! The authorization lifecycle through the API, on both backends: the
//! pilot's enterprise credit product from a draft plan to an active
//! agreement and an approved scenario, the access decision, a suspension
//! that locks the operator out on its next request, and the public
//! disclosure; bad input refused with coded errors and nothing changed.

use serde_json::{Value, json};
use shuyun_client::Client;
use shuyun_domain::calendar::WorkCalendar;
use shuyun_store::Backend;

use crate::both_backends;
use crate::kit::{App, spawn_app};

both_backends!(
    plan_lifecycle,
    selection_through_api,
    enterprise_credit_chain,
    demo_history
);

const DAY: i64 = 86_400_000;

/// Register the pilot's enterprise credit resource (seed 002 annex 1) as
/// its department, have the data authority confirm its grades, and return
/// its code.
pub async fn enterprise_credit(app: &App) -> String {
    let pr = shuyun_data::pilot::pilot_resources()
        .into_iter()
        .find(|r| r.key == "enterprise_credit")
        .expect("pilot resource");
    let dept = app.login(pr.owner_username).await;
    let r: Value = dept
        .post(
            "/api/v1/resources",
            &json!({
                "name": pr.name, "description": pr.description, "domain": pr.domain,
                "frequency": pr.frequency, "source_system": pr.source_system,
                "standard": pr.standard, "contact": "信用科", "public": true,
                "rights": {"holder": "景德镇市发展和改革委员会", "processor": "景德镇市数字经济发展中心", "operator": "待授权运营机构"},
                "schema": pr.schema,
                "basis": {"impact_object": "public_interest", "impact_degree": "serious", "reason": "信用评分批量泄露影响市场秩序"}
            }),
        )
        .await
        .expect("register");
    let id = r["id"].as_i64().expect("id");
    let authority = app.login("sjj").await;
    let _: Value = authority
        .post(
            &format!("/api/v1/resources/{id}/gradings/1/confirm"),
            &json!({"note": "确认"}),
        )
        .await
        .expect("confirm");
    r["code"].as_str().expect("code").to_string()
}

pub fn plan_body(code: &str) -> Value {
    json!({
        "name": "景德镇市公共数据资源授权运营实施方案",
        "necessity_feasibility": "公共数据资源富集但开发利用不足，具备授权运营条件",
        "operator_criteria": "具备数据加工运营能力，经营和信用状况良好，安全保障有力",
        "authorization": {"mode": "by_scenario", "scenarios": ["企业信用辅助评估", "普惠金融服务"]},
        "data_scope": [code],
        "term_months": 60,
        "schedule": "2026年第四季度启动遴选",
        "evaluation_exit": "年度评估；期满或违约退出",
        "products": [{"name": "企业信用辅助评估", "area": "金融服务", "use": "industry"}],
        "cost_revenue": "谁投入、谁贡献、谁受益",
        "security_emergency": "数据沙箱，结果出域审核，应急预案",
        "rights_duties": "见运营协议",
        "supervision": "市数据局监督，网信、公安等部门按职责监管"
    })
}

async fn post(c: &Client, path: &str, body: Value) -> Value {
    c.post(path, &body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

async fn refused(c: &Client, path: &str, body: Value) -> String {
    c.post::<Value, _>(path, &body)
        .await
        .expect_err(path)
        .code()
        .unwrap_or("")
        .to_string()
}

async fn plan_lifecycle(backend: Backend) {
    let app = spawn_app(backend).await;
    let code = enterprise_credit(&app).await;
    let szzx = app.login("szzx").await;
    let sjj = app.login("sjj").await;
    let operator = app.login("yunying1").await;

    // Only the drafters draft; a negative-listed or unknown resource is
    // refused with the field at fault.
    assert_eq!(
        refused(&operator, "/api/v1/plans", plan_body(&code)).await,
        "forbidden"
    );
    let e = szzx
        .post::<Value, _>("/api/v1/plans", &plan_body("360200-HJ-000042"))
        .await
        .expect_err("unknown");
    assert_eq!(e.code(), Some("validation_failed"));
    let mut six = plan_body(&code);
    six["term_months"] = json!(72);
    assert_eq!(
        refused(&szzx, "/api/v1/plans", six).await,
        "validation_failed"
    );

    let plan = post(&szzx, "/api/v1/plans", plan_body(&code)).await;
    let id = plan["id"].as_i64().expect("id");
    assert_eq!(plan["state"], "draft");
    assert_eq!(plan["content"]["authorization"]["mode"], "by_scenario");
    let p = |a: &str| format!("/api/v1/plans/{id}/{a}");

    // Filing an unapproved plan: a conflict, and nothing changes.
    let before: Value = sjj.get(&format!("/api/v1/plans/{id}")).await.expect("get");
    assert_eq!(
        refused(&sjj, &p("file"), json!({"note": "赣数备1号"})).await,
        "conflict"
    );
    // Only the data authority decides.
    assert_eq!(refused(&szzx, &p("approve"), json!({})).await, "forbidden");
    let after: Value = sjj.get(&format!("/api/v1/plans/{id}")).await.expect("get");
    assert_eq!(before, after);

    post(&szzx, &p("submit"), json!({})).await;
    let approved = post(&sjj, &p("approve"), json!({"note": "市政府常务会议审定"})).await;
    assert_eq!(approved["state"], "approved");
    let cal = WorkCalendar::builtin();
    let approved_at = approved["approved_at"].as_i64().expect("approved_at");
    assert_eq!(
        approved["filing_due_at"].as_i64(),
        Some(cal.deadline_ms(approved_at, 20))
    );
    assert_eq!(approved["filing_deadline"]["overdue"], false);
    // Approved versions are immutable.
    let e = szzx
        .call::<Value, _>(
            reqwest::Method::PUT,
            &format!("/api/v1/plans/{id}"),
            Some(&plan_body(&code)),
        )
        .await
        .expect_err("immutable");
    assert_eq!(e.code(), Some("conflict"));

    // Forty days on, filing is overdue (and still shown so).
    app.advance_ms(40 * DAY);
    let sjj = app.login("sjj").await;
    let operator = app.login("yunying1").await;
    let late: Value = sjj.get(&format!("/api/v1/plans/{id}")).await.expect("get");
    assert_eq!(late["filing_deadline"]["overdue"], true, "{late}");
    assert!(
        late["filing_deadline"]["remaining_working_days"]
            .as_i64()
            .expect("days")
            < 0
    );
    let filed = post(&sjj, &p("file"), json!({"note": "赣数备〔2026〕7号"})).await;
    assert_eq!(filed["state"], "filed");
    assert_eq!(filed["filing_deadline"], Value::Null);
    let active = post(&sjj, &p("activate"), json!({})).await;
    assert_eq!(active["state"], "active");

    // A major change is a new version that goes through deliberation.
    let mut change = plan_body(&code);
    change["term_months"] = json!(36);
    let szzx = app.login("szzx").await;
    let v2 = post(&szzx, &p("versions"), change).await;
    assert_eq!(
        (v2["version"].as_i64(), v2["revision"].as_str()),
        (Some(2), Some("major"))
    );
    let v2id = v2["id"].as_i64().expect("id");
    assert_eq!(
        refused(&sjj, &format!("/api/v1/plans/{v2id}/approve"), json!({})).await,
        "conflict"
    );
    let detail: Value = sjj
        .get(&format!("/api/v1/plans/{v2id}"))
        .await
        .expect("get");
    assert_eq!(detail["versions"].as_array().map(Vec::len), Some(2));
    let list: Vec<Value> = sjj.get("/api/v1/plans").await.expect("list");
    assert_eq!(list.len(), 2);
    assert_eq!(
        operator
            .get::<Value>("/api/v1/plans")
            .await
            .expect_err("operators do not read drafts")
            .code(),
        Some("forbidden")
    );
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

/// The logins of the chain, signed in again after the clock jumps.
pub struct Team {
    pub sjj: Client,
    pub szzx: Client,
    pub yunying1: Client,
    pub yunying2: Client,
    pub jianguan: Client,
}

impl Team {
    pub async fn login(app: &App) -> Self {
        Self {
            sjj: app.login("sjj").await,
            szzx: app.login("szzx").await,
            yunying1: app.login("yunying1").await,
            yunying2: app.login("yunying2").await,
            jianguan: app.login("jianguan").await,
        }
    }
}

/// The user id behind a client.
async fn user_id(c: &Client) -> i64 {
    let me: Value = c.get("/api/v1/me").await.expect("me");
    me["user_id"]
        .as_i64()
        .or_else(|| me["id"].as_i64())
        .unwrap_or_else(|| panic!("no user id in {me}"))
}

/// Draft → deliberation → approved → filed → active through the API.
pub async fn active_plan(t: &Team, code: &str) -> i64 {
    let plan = post(&t.szzx, "/api/v1/plans", plan_body(code)).await;
    let id = plan["id"].as_i64().expect("id");
    let p = |a: &str| format!("/api/v1/plans/{id}/{a}");
    post(&t.szzx, &p("submit"), json!({})).await;
    post(&t.sjj, &p("approve"), json!({"note": "审定"})).await;
    post(&t.sjj, &p("file"), json!({"note": "赣数备〔2026〕9号"})).await;
    let active = post(&t.sjj, &p("activate"), json!({})).await;
    assert_eq!(active["state"], "active");
    id
}

/// A selection under `plan` taken to its award: applications of both
/// operators, a panel of the institution, the data authority and a
/// yunying2 user (who abstains on its own application), scores, public
/// notice with an objection and its answer. Returns the selection and the
/// team, signed in again.
pub async fn awarded_selection(app: &App, t: Team, plan: i64) -> (i64, Team) {
    // Deadline: 21 days from now (a tender leaves 20).
    let opened_at: i64 = t
        .sjj
        .get::<Value>(&format!("/api/v1/plans/{plan}"))
        .await
        .expect("plan")["updated_at"]
        .as_i64()
        .expect("ts");
    let spec = json!({
        "title": "企业信用辅助评估场景运营机构遴选",
        "method": "open_tender",
        "scenario": "企业信用辅助评估",
        "criteria": [
            {"name": "技术方案", "weight": 40}, {"name": "运营能力", "weight": 30},
            {"name": "安全保障", "weight": 20}, {"name": "信用状况", "weight": 10}
        ],
        "application_deadline_ms": opened_at + 21 * DAY,
        "notice_working_days": 5,
        "min_applicants": 2
    });
    let mut early = spec.clone();
    early["application_deadline_ms"] = json!(opened_at + 5 * DAY);
    let open = format!("/api/v1/plans/{plan}/selections");
    assert_eq!(refused(&t.szzx, &open, early).await, "validation_failed");
    assert_eq!(refused(&t.yunying1, &open, spec.clone()).await, "forbidden");
    let sel = post(&t.szzx, &open, spec).await;
    let id = sel["id"].as_i64().expect("id");
    let public: Vec<Value> = app
        .client()
        .get("/api/v1/public/selections")
        .await
        .expect("public");
    assert_eq!(public[0]["state"], "announced");
    let sp = |a: &str| format!("/api/v1/selections/{id}/{a}");
    let a1 = post(
        &t.yunying1,
        &sp("applications"),
        json!({"materials": "瓷都数据运营：技术方案、运营能力与安全保障材料"}),
    )
    .await;
    let a2 = post(
        &t.yunying2,
        &sp("applications"),
        json!({"materials": "昌南数智：技术方案与信用证明"}),
    )
    .await;
    assert_eq!(
        refused(&t.szzx, &sp("applications"), json!({"materials": "x"})).await,
        "forbidden"
    );
    for c in [&t.szzx, &t.sjj, &t.yunying2] {
        let uid = user_id(c).await;
        let _: Value = post(&t.szzx, &sp("reviewers"), json!({"user_id": uid})).await;
    }
    app.advance_ms(22 * DAY);
    let t = Team::login(app).await;
    let closed = post(&t.szzx, &sp("close"), json!({})).await;
    assert_eq!(closed["state"], "reviewing");
    let (a1, a2) = (
        a1["id"].as_i64().expect("a1"),
        a2["id"].as_i64().expect("a2"),
    );

    // Scoring one's own organisation's application: forbidden, nothing
    // stored.
    let own = json!({"application_id": a2, "centipoints": [3000, 2000, 1000, 500]});
    assert_eq!(refused(&t.yunying2, &sp("scores"), own).await, "forbidden");
    let seen: Value = t
        .yunying2
        .get(&format!("/api/v1/selections/{id}"))
        .await
        .expect("detail");
    assert_eq!(seen["scores"], json!([]));
    for (c, app_id, pts) in [
        (&t.szzx, a1, json!([3600, 2600, 1800, 900])),
        (&t.sjj, a1, json!([3500, 2500, 1700, 900])),
        (&t.yunying2, a1, json!([3000, 2200, 1500, 800])),
        (&t.szzx, a2, json!([3000, 2400, 1600, 800])),
        (&t.sjj, a2, json!([3100, 2300, 1500, 700])),
    ] {
        let _: Value = post(
            c,
            &sp("scores"),
            json!({"application_id": app_id, "centipoints": pts}),
        )
        .await;
    }
    let published = post(&t.szzx, &sp("publish"), json!({})).await;
    assert_eq!(published["state"], "public_notice");
    assert_eq!(published["ranking"][0]["application_id"], a1);
    let notice_ends = published["notice_ends_at"].as_i64().expect("notice");
    let published_at = published["updated_at"].as_i64().expect("ts");
    let objection = post(
        &t.yunying2,
        &sp("objections"),
        json!({"text": "请复核我方信用状况得分"}),
    )
    .await;
    assert_eq!(refused(&t.szzx, &sp("award"), json!({})).await, "conflict");
    app.advance_ms(notice_ends - published_at + 3_600_000);
    let t = Team::login(app).await;
    assert_eq!(
        refused(&t.szzx, &sp("award"), json!({})).await,
        "conflict",
        "an objection is open"
    );
    let oid = objection["id"].as_i64().expect("objection");
    post(
        &t.szzx,
        &format!("/api/v1/objections/{oid}/answer"),
        json!({"upheld": false, "answer": "经复核，信用状况得分无误，维持结果"}),
    )
    .await;
    let awarded = post(&t.szzx, &sp("award"), json!({})).await;
    assert_eq!(awarded["state"], "awarded");
    let me: Value = t.yunying1.get("/api/v1/me").await.expect("me");
    assert_eq!(awarded["awarded_org_id"], me["org_id"]);
    (id, t)
}

async fn selection_through_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let code = enterprise_credit(&app).await;
    let t = Team::login(&app).await;
    let plan = active_plan(&t, &code).await;
    let (sel, t) = awarded_selection(&app, t, plan).await;
    // What the applicant sees: its own application, nothing of others.
    let detail: Value = t
        .yunying1
        .get(&format!("/api/v1/selections/{sel}"))
        .await
        .expect("detail");
    assert_eq!(detail["applications"].as_array().map(Vec::len), Some(1));
    assert_eq!(detail["scores"], json!([]));
    let all: Value = t
        .jianguan
        .get(&format!("/api/v1/selections/{sel}"))
        .await
        .expect("detail");
    assert_eq!(all["applications"].as_array().map(Vec::len), Some(2));
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

/// The agreement of the chain: the enterprise credit resource, three
/// fields, one district, for industry development, five years from `start`.
pub fn agreement_body(
    code: &str,
    start: &str,
    end: &str,
    operator: i64,
    institution: i64,
) -> Value {
    json!({
        "term": {"start": start, "end": end},
        "scope": {
            "resources": [{
                "resource": code,
                "fields": ["credit_code", "name", "industry", "credit_level"],
                "rows": [{"op": "in", "field": "district", "values": [
                    {"type": "string", "value": "珠山区"}, {"type": "string", "value": "昌江区"}
                ]}]
            }],
            "scenarios": ["企业信用辅助评估", "普惠金融服务"],
            "purposes": ["industry_development"]
        },
        "products": [{"name": "企业信用辅助评估", "area": "金融服务", "use": "industry"}],
        "revenue_sharing": [
            {"party": "operator", "org_id": operator, "basis_points": 6000},
            {"party": "implementing_institution", "org_id": institution, "basis_points": 4000}
        ]
    })
}

pub fn scenario_body(code: &str) -> Value {
    json!({
        "name": "企业信用辅助评估",
        "purpose": "industry_development",
        "description": "为浮梁农商银行等金融机构提供小微企业信用辅助评估核验服务",
        "data": [{
            "resource": code,
            "fields": ["credit_code", "credit_level"],
            "rows": [{"op": "in", "field": "district", "values": [
                {"type": "string", "value": "珠山区"}, {"type": "string", "value": "昌江区"}
            ]}]
        }],
        "outputs": ["verification", "api_service"],
        "security_measures": "数据沙箱内建模，结果经出域审核，接口按合同限量调用",
        "product": {"name": "企业信用辅助评估", "kind": "api_service"}
    })
}

async fn org_of(c: &Client) -> i64 {
    let me: Value = c.get("/api/v1/me").await.expect("me");
    me["org_id"].as_i64().expect("org")
}

async fn enterprise_credit_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    let code = enterprise_credit(&app).await;
    let t = Team::login(&app).await;
    let plan = active_plan(&t, &code).await;
    let (sel, t) = awarded_selection(&app, t, plan).await;
    let operator = org_of(&t.yunying1).await;
    let institution = org_of(&t.szzx).await;

    // Today, Beijing time, on the server's clock.
    let now = t
        .szzx
        .get::<Value>(&format!("/api/v1/selections/{sel}"))
        .await
        .expect("sel")["updated_at"]
        .as_i64()
        .expect("ts");
    let start = shuyun_domain::Date::from_epoch_ms_beijing(now);
    let five = shuyun_domain::authorization::Term::last_day(start, 60);
    let six = shuyun_domain::authorization::Term::last_day(start, 72);
    let draft_path = format!("/api/v1/selections/{sel}/agreements");

    // A six-year agreement is refused, and nothing is drafted.
    let e = t
        .szzx
        .post::<Value, _>(
            &draft_path,
            &agreement_body(
                &code,
                &start.to_string(),
                &six.to_string(),
                operator,
                institution,
            ),
        )
        .await
        .expect_err("six years");
    assert_eq!(e.code(), Some("validation_failed"));
    assert!(e.to_string().contains("term"), "{e}");
    let none: Vec<Value> = t.szzx.get("/api/v1/agreements").await.expect("list");
    assert!(none.is_empty());

    let body = agreement_body(
        &code,
        &start.to_string(),
        &five.to_string(),
        operator,
        institution,
    );
    assert_eq!(
        refused(&t.yunying1, &draft_path, body.clone()).await,
        "forbidden"
    );
    let a = post(&t.szzx, &draft_path, body).await;
    let id = a["id"].as_i64().expect("id");
    assert_eq!(
        (a["state"].as_str(), a["operator_org_id"].as_i64()),
        (Some("drafted"), Some(operator))
    );
    let ap = |x: &str| format!("/api/v1/agreements/{id}/{x}");
    let signed = post(&t.szzx, &ap("sign"), json!({"note": "经集体决策后签订"})).await;
    assert_eq!(signed["state"], "signed");
    assert_eq!(signed["filing_deadline"]["overdue"], false);
    post(
        &t.szzx,
        &ap("file"),
        json!({"note": "赣数备〔2026〕协字3号"}),
    )
    .await;
    let active = post(&t.szzx, &ap("activate"), json!({})).await;
    assert_eq!(active["state"], "active");

    // The operator sees its agreement; the other operator does not.
    let mine: Vec<Value> = t.yunying1.get("/api/v1/agreements").await.expect("mine");
    assert_eq!(mine.len(), 1);
    let theirs: Vec<Value> = t.yunying2.get("/api/v1/agreements").await.expect("theirs");
    assert!(theirs.is_empty());

    // The scenario plan: submitted by the operator, approved by the
    // institution; only then may the operator touch the data.
    let sc = post(&t.yunying1, &ap("scenarios"), scenario_body(&code)).await;
    let sid = sc["id"].as_i64().expect("scenario");
    let ask = json!({"resource": code, "scenario_id": sid});
    let d: Value = post(&t.yunying1, "/api/v1/authorize", ask.clone()).await;
    assert_eq!(
        (d["decision"].as_str(), d["reason"].as_str()),
        (Some("deny"), Some("scenario_not_approved"))
    );
    assert_eq!(
        refused(
            &t.yunying1,
            &format!("/api/v1/scenarios/{sid}/approve"),
            json!({})
        )
        .await,
        "forbidden"
    );
    let approved = post(
        &t.szzx,
        &format!("/api/v1/scenarios/{sid}/approve"),
        json!({"note": "同意开发"}),
    )
    .await;
    assert_eq!(approved["state"], "approved");
    let d: Value = post(&t.yunying1, "/api/v1/authorize", ask.clone()).await;
    assert_eq!(d["decision"], "allow", "{d}");
    assert_eq!(d["fields"], json!(["credit_code", "credit_level"]));
    assert_eq!(d["rows"][0]["field"], "district");
    // A field outside the scope, and the other operator borrowing the
    // scenario (no sharing or sub-licensing): denied.
    let d: Value = post(
        &t.yunying1,
        "/api/v1/authorize",
        json!({"resource": code, "field": "legal_rep", "scenario_id": sid}),
    )
    .await;
    assert_eq!(d["reason"], "field_not_in_scope");
    let d: Value = post(&t.yunying2, "/api/v1/authorize", ask.clone()).await;
    assert_eq!(d["reason"], "not_operator");
    // Only operators ask.
    assert_eq!(
        refused(&t.szzx, "/api/v1/authorize", ask.clone()).await,
        "forbidden"
    );

    // An API token of the operator works like its session.
    let token: Value = post(
        &t.yunying1,
        "/api/v1/me/tokens",
        json!({"name": "workspace", "expires_in_days": 30}),
    )
    .await;
    let bearer =
        Client::with_token(&app.base, token["token"].as_str().expect("token")).expect("client");
    let d: Value = post(&bearer, "/api/v1/authorize", ask.clone()).await;
    assert_eq!(d["decision"], "allow");

    // A second scenario plan waits for review when the regulator orders
    // a suspension (one plan per scenario; reasons required).
    assert_eq!(
        refused(&t.yunying1, &ap("scenarios"), scenario_body(&code)).await,
        "conflict"
    );
    let mut second = scenario_body(&code);
    second["name"] = json!("普惠金融服务");
    let sc2 = post(&t.yunying1, &ap("scenarios"), second).await;
    let sid2 = sc2["id"].as_i64().expect("scenario");
    assert_eq!(
        refused(&t.jianguan, &ap("suspend"), json!({})).await,
        "validation_failed"
    );
    let suspended = post(
        &t.jianguan,
        &ap("suspend"),
        json!({"note": "发现数据安全风险，暂停排查"}),
    )
    .await;
    assert_eq!(suspended["state"], "suspended");

    // Locked out on the very next request, by session and by token.
    let d: Value = post(&t.yunying1, "/api/v1/authorize", ask.clone()).await;
    assert_eq!(
        (d["decision"].as_str(), d["reason"].as_str()),
        (Some("deny"), Some("agreement_not_active"))
    );
    let d: Value = post(&bearer, "/api/v1/authorize", ask.clone()).await;
    assert_eq!(d["reason"], "agreement_not_active");
    // The public sees it suspended at once, without logging in.
    let public: Vec<Value> = app
        .client()
        .get("/api/v1/public/authorizations")
        .await
        .expect("disclosure");
    assert_eq!(public.len(), 1);
    assert_eq!(public[0]["agreement_id"], id);
    assert_eq!(public[0]["state"], "suspended");
    assert_eq!(public[0]["operator_org_id"], operator);
    assert_eq!(
        public[0]["operator_org_name"],
        "景德镇瓷都数据运营有限公司（演示）"
    );
    assert_eq!(public[0]["term"]["end"], five.to_string());
    assert_eq!(
        public[0]["scope"]["resources"][0]["resource"],
        code.as_str()
    );
    assert!(public[0].get("revenue_sharing").is_none());
    let plans: Vec<Value> = app
        .client()
        .get("/api/v1/public/plans")
        .await
        .expect("plans");
    assert_eq!(
        (plans.len(), plans[0]["state"].as_str()),
        (1, Some("active"))
    );
    // No scenario is approved on a suspended agreement, and nothing changes.
    let before: Value = t
        .szzx
        .get(&format!("/api/v1/agreements/{id}"))
        .await
        .expect("agreement");
    assert_eq!(
        refused(
            &t.szzx,
            &format!("/api/v1/scenarios/{sid2}/approve"),
            json!({})
        )
        .await,
        "conflict"
    );
    let after: Value = t
        .szzx
        .get(&format!("/api/v1/agreements/{id}"))
        .await
        .expect("agreement");
    assert_eq!(before, after);
    assert_eq!(after["scenarios"][1]["state"], "submitted");
    // Nor are new plans submitted.
    let mut third = scenario_body(&code);
    third["name"] = json!("普惠金融服务");
    assert_eq!(
        refused(&t.yunying1, &ap("scenarios"), third).await,
        "conflict"
    );
    // Termination opens the exit: working copies to delete with a
    // destruction record, the handover tracked, the logs kept three years.
    post(
        &t.sjj,
        &ap("terminate"),
        json!({"note": "整改不到位，终止运营权"}),
    )
    .await;
    let detail: Value = t
        .szzx
        .get(&format!("/api/v1/agreements/{id}"))
        .await
        .expect("agreement");
    assert_eq!(detail["state"], "terminated");
    assert_eq!(detail["exit"]["cause"], "termination");
    assert_eq!(detail["exit"]["handover"].as_array().map(Vec::len), Some(6));
    let d: Value = post(&bearer, "/api/v1/authorize", ask.clone()).await;
    assert_eq!(d["reason"], "agreement_not_active");
    let sjj_user = user_id(&t.sjj).await;
    let szzx_user = user_id(&t.szzx).await;
    assert_eq!(
        refused(
            &t.szzx,
            &ap("destruction"),
            json!({"object": "工作区", "method": "删除", "confirmed_by_user_id": szzx_user})
        )
        .await,
        "forbidden",
        "a second person confirms"
    );
    let exit = post(
        &t.szzx,
        &ap("destruction"),
        json!({"object": "瓷都数据运营工作区及全部中间结果", "method": "删除对象及其加密密钥", "confirmed_by_user_id": sjj_user}),
    )
    .await;
    assert_eq!(exit["destruction"]["confirmed_by_user_id"], sjj_user);
    let first_open = exit["handover"]
        .as_array()
        .expect("items")
        .iter()
        .position(|i| i["done_at_ms"].is_null())
        .expect("open item");
    let exit = post(
        &t.szzx,
        &format!("/api/v1/agreements/{id}/handover/{first_open}/complete"),
        json!({"evidence": "平台账号已停用"}),
    )
    .await;
    assert!(exit["handover"][first_open]["done_at_ms"].is_i64());
    assert_eq!(
        refused(&t.szzx, &ap("logs/release"), json!({})).await,
        "forbidden"
    );
    let exits: Vec<Value> = t.jianguan.get("/api/v1/exits").await.expect("exits");
    assert_eq!(exits.len(), 1);
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}

/// The demo's authorization history: run through the store step by step
/// from today (the demo starts ninety days back); sixty days on, the
/// agreement is active, its scenario approved, the operator allowed, and
/// the public sees it.
async fn demo_history(backend: Backend) {
    let app = spawn_app(backend).await;
    let code = enterprise_credit(&app).await;
    // The server's clock (its offset is zero until advanced).
    let t0 = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let cal = WorkCalendar::builtin();
    assert!(
        shuyun_server::demo::seed_authorization(&app.store, &cal, t0)
            .await
            .expect("history")
    );
    assert!(
        !shuyun_server::demo::seed_authorization(&app.store, &cal, t0)
            .await
            .expect("again"),
        "seeding twice does nothing"
    );
    app.advance_ms(60 * DAY);
    let public: Vec<Value> = app
        .client()
        .get("/api/v1/public/authorizations")
        .await
        .expect("disclosure");
    assert_eq!(public.len(), 1);
    assert_eq!(public[0]["state"], "active");
    assert_eq!(
        public[0]["operator_org_name"],
        "景德镇瓷都数据运营有限公司（演示）"
    );
    let operator = app.login("yunying1").await;
    let agreements: Vec<Value> = operator.get("/api/v1/agreements").await.expect("mine");
    let id = agreements[0]["id"].as_i64().expect("id");
    let detail: Value = operator
        .get(&format!("/api/v1/agreements/{id}"))
        .await
        .expect("agreement");
    assert_eq!(detail["scenarios"][0]["state"], "approved");
    let sid = detail["scenarios"][0]["id"].as_i64().expect("scenario");
    let d: Value = post(
        &operator,
        "/api/v1/authorize",
        json!({"resource": code, "scenario_id": sid}),
    )
    .await;
    assert_eq!(d["decision"], "allow", "{d}");
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}
