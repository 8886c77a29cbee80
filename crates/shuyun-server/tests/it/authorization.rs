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

both_backends!(plan_lifecycle);

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
        "authorization": {"mode": "by_scenario", "scenarios": ["企业信用辅助评估"]},
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
