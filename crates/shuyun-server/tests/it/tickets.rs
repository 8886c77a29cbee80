//! Correction tickets and objections through the API, on both backends:
//! an operator objects, the department verifies and answers, the operator
//! disputes once and accepts; deadlines in working days turn overdue.

use reqwest::Method;
use serde_json::{Value, json};
use shuyun_domain::calendar::WorkCalendar;
use shuyun_store::Backend;

use crate::both_backends;
use crate::kit::spawn_app;

both_backends!(objection_flow);

const DAY: i64 = 86_400_000;

async fn objection_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    let dept = app.login("fgw").await;
    let other_dept = app.login("zjj").await;
    let operator = app.login("yunying1").await;
    let authority = app.login("sjj").await;
    let r: Value = dept
        .post(
            "/api/v1/resources",
            &json!({
                "name": "企业信用信息", "description": "全市企业公共信用信息", "domain": "credit",
                "frequency": "monthly", "source_system": "信用平台", "standard": "GB/T 22117-2018",
                "contact": "信用科", "public": true,
                "rights": {"holder": "市发改委", "processor": "数字经济发展中心", "operator": "待授权"},
                "schema": [
                    {"name": "credit_code", "label": "统一社会信用代码", "type": "string", "key": true, "grade": "general3", "pi": "none"},
                    {"name": "credit_level", "label": "信用等级", "type": "string", "grade": "general3", "pi": "none"}
                ],
                "basis": {"impact_object": "organisation_rights", "impact_degree": "moderate", "reason": "企业信用"}
            }),
        )
        .await
        .expect("register");
    let id = r["id"].as_i64().expect("id");
    let up = dept
        .raw(
            Method::POST,
            &format!("/api/v1/resources/{id}/data"),
            Some("credit_code,credit_level\n91360200MA0000001X,A\n"),
            "text/csv",
        )
        .await
        .expect("upload");
    assert_eq!(up.status.as_u16(), 201, "{}", up.body);

    let path = format!("/api/v1/resources/{id}/tickets");
    let objection = json!({"kind": "objection", "field": "credit_level", "records": "第1行 91360200MA0000001X",
                           "description": "本企业信用等级应为AA，附2026年评价结果"});
    // Bad tickets are refused and nothing is stored.
    for (body, code) in [
        (
            json!({"kind": "objection", "records": "1", "description": "x"}),
            "validation_failed",
        ),
        (
            json!({"kind": "objection", "field": "nope", "records": "1", "description": "字段不存在的情况"}),
            "validation_failed",
        ),
        (
            json!({"kind": "complaint", "records": "1", "description": "不存在的类型"}),
            "validation_failed",
        ),
        (
            json!({"kind": "objection", "data_version": 9, "records": "1", "description": "不存在的版本"}),
            "not_found",
        ),
    ] {
        let e = operator
            .post::<Value, _>(&path, &body)
            .await
            .expect_err("bad ticket");
        assert_eq!(e.code(), Some(code), "{body}");
    }
    let e = dept
        .post::<Value, _>(&path, &objection)
        .await
        .expect_err("own resource");
    assert_eq!(e.code(), Some("conflict"));
    assert!(
        operator
            .get::<Vec<Value>>("/api/v1/tickets")
            .await
            .expect("list")
            .is_empty()
    );

    let t: Value = operator.post(&path, &objection).await.expect("raise");
    let tid = t["id"].as_i64().expect("id");
    assert_eq!(
        (t["state"].as_str(), t["data_version"].as_i64()),
        (Some("open"), Some(1))
    );
    let created = t["created_at"].as_i64().expect("created");
    let cal = WorkCalendar::builtin();
    assert_eq!(t["due_at"].as_i64(), Some(cal.deadline_ms(created, 10)));
    assert_eq!(t["deadline"]["overdue"], false);
    assert_eq!(t["deadline"]["remaining_working_days"], 10);

    // Visibility: the raiser, the owner and whole-catalogue readers.
    let step = format!("/api/v1/tickets/{tid}/steps");
    let e = other_dept
        .get::<Value>(&format!("/api/v1/tickets/{tid}"))
        .await
        .expect_err("hidden");
    assert_eq!(e.code(), Some("not_found"));
    let e = other_dept
        .post::<Value, _>(&step, &json!({"action": "acknowledge"}))
        .await
        .expect_err("hidden");
    assert_eq!(e.code(), Some("not_found"));
    let all: Vec<Value> = authority.get("/api/v1/tickets").await.expect("all");
    assert_eq!(all.len(), 1);
    let mine: Vec<Value> = dept.get("/api/v1/tickets").await.expect("dept");
    assert_eq!(mine[0]["id"], tid);

    // Each party takes only its own steps.
    let e = operator
        .post::<Value, _>(
            &step,
            &json!({"action": "answer", "outcome": "corrected", "note": "自己回答自己"}),
        )
        .await
        .expect_err("raiser answers");
    assert_eq!(e.code(), Some("forbidden"));
    let e = dept
        .post::<Value, _>(&step, &json!({"action": "accept"}))
        .await
        .expect_err("owner accepts");
    assert_eq!(e.code(), Some("forbidden"));
    let v: Value = dept
        .post(
            &step,
            &json!({"action": "acknowledge", "note": "已受理，核实中"}),
        )
        .await
        .expect("ack");
    assert_eq!(v["state"], "verifying");
    let e = dept
        .post::<Value, _>(&step, &json!({"action": "acknowledge"}))
        .await
        .expect_err("twice");
    assert_eq!(e.code(), Some("conflict"));
    let e = dept
        .post::<Value, _>(&step, &json!({"action": "answer", "note": "没有结论"}))
        .await
        .expect_err("no outcome");
    assert_eq!(e.code(), Some("validation_failed"));
    let e = dept
        .post::<Value, _>(&step, &json!({"action": "answer", "outcome": "unfounded"}))
        .await
        .expect_err("no note");
    assert_eq!(e.code(), Some("validation_failed"));
    let v: Value = dept
        .post(&step, &json!({"action": "answer", "outcome": "unfounded", "note": "经核实，评价结果以2025年度为准"}))
        .await
        .expect("answer");
    assert_eq!(
        (v["state"].as_str(), v["outcome"].as_str()),
        (Some("answered"), Some("unfounded"))
    );
    assert_eq!(v["deadline"], Value::Null, "no deadline once answered");

    // The raiser disputes (with reasons) a week later: a new deadline.
    app.advance_ms(7 * DAY);
    // (Sessions do not last that long.)
    let operator = app.login("yunying1").await;
    let e = operator
        .post::<Value, _>(&step, &json!({"action": "dispute"}))
        .await
        .expect_err("no reasons");
    assert_eq!(e.code(), Some("validation_failed"));
    let v: Value = operator
        .post(
            &step,
            &json!({"action": "dispute", "note": "2026年评价结果已于3月公布"}),
        )
        .await
        .expect("dispute");
    assert_eq!(
        (v["state"].as_str(), v["disputes"].as_i64()),
        (Some("verifying"), Some(1))
    );
    let restarted = v["updated_at"].as_i64().expect("t");
    assert_eq!(v["due_at"].as_i64(), Some(cal.deadline_ms(restarted, 10)));

    // Unanswered for a month: overdue, shown to everyone concerned.
    app.advance_ms(30 * DAY);
    let (dept, operator) = (app.login("fgw").await, app.login("yunying1").await);
    let late: Vec<Value> = dept.get("/api/v1/tickets").await.expect("dept");
    assert_eq!(late[0]["deadline"]["overdue"], true);
    assert!(
        late[0]["deadline"]["remaining_working_days"]
            .as_i64()
            .expect("n")
            < 0
    );

    let v: Value = dept
        .post(&step, &json!({"action": "answer", "outcome": "corrected", "note": "已更正为AA，将在下一版本发布"}))
        .await
        .expect("answer again");
    assert_eq!(v["outcome"], "corrected");
    let e = operator
        .post::<Value, _>(
            &step,
            &json!({"action": "dispute", "note": "再次申诉的理由"}),
        )
        .await
        .expect_err("second dispute");
    assert_eq!(e.code(), Some("conflict"));
    let v: Value = operator
        .post(&step, &json!({"action": "accept", "note": "认可"}))
        .await
        .expect("accept");
    assert_eq!(v["state"], "closed");
    let e = operator
        .post::<Value, _>(&step, &json!({"action": "withdraw"}))
        .await
        .expect_err("closed");
    assert_eq!(e.code(), Some("conflict"));

    let d: Value = operator
        .get(&format!("/api/v1/tickets/{tid}"))
        .await
        .expect("detail");
    let steps: Vec<&str> = d["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["action"].as_str())
        .collect();
    assert_eq!(
        steps,
        ["acknowledge", "answer", "dispute", "answer", "accept"]
    );

    // A withdrawn correction ticket.
    let t2: Value = operator
        .post(
            &path,
            &json!({"kind": "correction", "records": "第1行", "description": "企业名称有错别字"}),
        )
        .await
        .expect("raise");
    let v: Value = operator
        .post(
            &format!("/api/v1/tickets/{}/steps", t2["id"]),
            &json!({"action": "withdraw"}),
        )
        .await
        .expect("withdraw");
    assert_eq!(v["state"], "withdrawn");
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}
