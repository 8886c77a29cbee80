//! The authorization lifecycle tried as new users would, in headless
//! Chromium on both backends: the institution drafts the plan for the
//! pilot's enterprise credit product, the data authority approves, files
//! and puts it in force; a selection is announced, both operators apply,
//! the panel scores, the result goes to public notice with an objection,
//! which is answered before the award; the agreement is drafted (a
//! six-year term refused first), signed, filed and activated; the operator
//! submits its scenario plan, the institution approves it; the regulator
//! suspends the agreement and the operator is locked out at once; the
//! public disclosure page shows it suspended. Each role finds its next task
//! on its home page.

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use shuyun_store::Backend;

use crate::authorization::enterprise_credit;
use crate::both_backends;
use crate::browser::{Browser, click, eventually, fill, login, screenshot, text, wait_role};
use crate::kit::App;

both_backends!(authorization_in_chromium);

const DAY: i64 = 86_400_000;

/// Sign out whoever is signed in, then sign in as `user`.
async fn switch(c: &Client, app: &App, user: &str, role: &str) {
    c.goto(&app.base).await.expect("home");
    if let Ok(b) = c.find(Locator::Css("#logout")).await {
        b.click().await.expect("logout");
        wait_role(c, "anonymous").await;
    }
    login(c, app, user).await;
    wait_role(c, role).await;
}

async fn goto(c: &Client, app: &App, path: &str) {
    c.goto(&format!("{}{path}", app.base)).await.expect(path);
}

/// Set a form control's value directly (date inputs ignore typed keys in
/// some locales).
async fn set_value(c: &Client, css: &str, value: &str) {
    c.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![json!(css), json!(value)],
    )
    .await
    .expect("set value");
}

/// Press a form's button and wait for the page it leads to: its flash
/// message, or fail with its error.
async fn submit(c: &Client, button: &str) {
    c.execute(
        "for (const id of ['flash', 'error']) document.getElementById(id)?.remove();",
        vec![],
    )
    .await
    .expect("clear messages");
    click(c, button).await;
    for _ in 0..150 {
        if let Ok(e) = c.find(Locator::Css("#error")).await {
            panic!("{button}: {}", e.text().await.unwrap_or_default());
        }
        if c.find(Locator::Css("#flash")).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{button}: no answer");
}

/// The twelve items of the plan for the enterprise credit resource, all
/// but the term.
async fn fill_plan(c: &Client, code: &str) {
    fill(c, "#plan-name", "景德镇市公共数据资源授权运营实施方案").await;
    for (field, value) in [
        (
            "necessity_feasibility",
            "公共数据资源富集但开发利用不足，具备授权运营条件",
        ),
        (
            "operator_criteria",
            "具备数据加工运营能力，经营和信用状况良好",
        ),
        ("schedule", "2026年第四季度启动遴选"),
        ("evaluation_exit", "年度评估；期满或违约退出"),
        ("cost_revenue", "谁投入、谁贡献、谁受益"),
        ("security_emergency", "数据沙箱，结果出域审核，应急预案"),
        ("rights_duties", "见运营协议"),
        ("supervision", "市数据局监督，网信等部门按职责监管"),
    ] {
        fill(c, &format!("#plan-{field}"), value).await;
    }
    click(c, "#plan-mode option[value='by_scenario']").await;
    fill(c, "#plan-mode_list", "企业信用辅助评估\n普惠金融服务").await;
    click(c, &format!("#plan-scope input[value='{code}']")).await;
    fill(c, "#plan-products", "企业信用辅助评估 | 金融服务 | 产业").await;
}

/// The id at the end of the current URL's path.
async fn current_id(c: &Client) -> i64 {
    let url = c.current_url().await.expect("url");
    url.path()
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {url}"))
}

/// The step form on an agreement or scenario: type the note, press the
/// step's button.
async fn step(c: &Client, form: &str, button: &str, note: &str) {
    fill(c, &format!("{form} textarea[name='note']"), note).await;
    click(c, button).await;
}

async fn user_id(app: &App, username: &str) -> i64 {
    let me: Value = app
        .login(username)
        .await
        .get("/api/v1/me")
        .await
        .expect("me");
    me["user_id"]
        .as_i64()
        .or_else(|| me["id"].as_i64())
        .expect("user id")
}

async fn authorization_in_chromium(backend: Backend) {
    let app = crate::kit::spawn_app(backend).await;
    let code = enterprise_credit(&app).await;
    let b = Browser::start().await;
    let c = &b.client;
    let shot = |name: &str| format!("{backend:?}-az-{name}");

    // 1. The institution drafts the plan with its twelve items. A term
    //    over five years is refused and nothing is created.
    switch(c, &app, "szzx", "implementing_institution").await;
    eventually(c, "#todo", |t| t.contains("待办事项")).await;
    goto(c, &app, "/authorization").await;
    click(c, "#new-plan").await;
    fill_plan(c, &code).await;
    fill(c, "#plan-term", "72").await;
    // The browser itself stops a term over 60 months; the server refuses
    // it too when that check is bypassed.
    c.execute(
        "document.querySelector('#plan-form').noValidate = true;",
        vec![],
    )
    .await
    .expect("novalidate");
    click(c, "#plan-save").await;
    eventually(c, "#error", |t| t.contains("term")).await;
    let none: Vec<Value> = app
        .login("szzx")
        .await
        .get("/api/v1/plans")
        .await
        .expect("plans");
    assert!(none.is_empty(), "a refused plan creates nothing");
    // The form comes back empty: fill it again with a five-year term.
    fill_plan(c, &code).await;
    fill(c, "#plan-term", "60").await;
    click(c, "#plan-save").await;
    eventually(c, "#plan-state", |t| t == "草稿").await;
    let plan = current_id(c).await;
    assert!(text(c, "#plan-content").await.contains(&code));
    step(c, "form.step-form", "#plan-submit", "提请市政府审定").await;
    eventually(c, "#plan-state", |t| t == "审议中").await;

    // 2. The data authority finds it on its home page, approves it (filing
    //    now due in 20 working days), files it and puts it in force.
    switch(c, &app, "sjj", "data_authority").await;
    eventually(c, "#todo-list", |t| t.contains("审议实施方案")).await;
    click(c, &format!("#todo-list a[href='/plans/{plan}']")).await;
    step(c, "form.step-form", "#plan-approve", "市政府常务会议审定").await;
    eventually(c, "#plan-state", |t| t.contains("已审定")).await;
    eventually(c, "#plan-filing", |t| t.contains("剩余 20 个工作日")).await;
    goto(c, &app, "/").await;
    eventually(c, "#todo-list", |t| t.contains("实施方案待备案")).await;
    goto(c, &app, &format!("/plans/{plan}")).await;
    step(c, "form.step-form", "#plan-file", "赣数备〔2026〕9号").await;
    eventually(c, "#plan-state", |t| t == "已备案").await;
    step(c, "form.step-form", "#plan-activate", "").await;
    eventually(c, "#plan-state", |t| t == "实施中").await;
    screenshot(c, &shot("plan")).await;

    // 3. The institution announces the selection and forms the panel.
    switch(c, &app, "szzx", "implementing_institution").await;
    goto(c, &app, &format!("/plans/{plan}")).await;
    click(c, "#open-selection summary").await;
    fill(c, "#sel-title", "企业信用辅助评估场景运营机构遴选").await;
    click(c, "#sel-scenario option[value='企业信用辅助评估']").await;
    fill(c, "#sel-min", "2").await;
    click(c, "#sel-open").await;
    eventually(c, "#selection-state", |t| t == "公告中").await;
    let sel = current_id(c).await;
    for reviewer in ["szzx", "sjj", "yunying2"] {
        let uid = user_id(&app, reviewer).await;
        click(c, &format!("#reviewer option[value='{uid}']")).await;
        submit(c, "#add-reviewer").await;
    }
    assert_eq!(
        c.find_all(Locator::Css("#panel li"))
            .await
            .expect("panel")
            .len(),
        3
    );

    // 4. Both operators apply; each sees it on its home page.
    for (user, materials) in [
        ("yunying1", "瓷都数据运营：技术方案、运营能力与安全保障材料"),
        ("yunying2", "昌南数智：技术方案与信用证明"),
    ] {
        switch(c, &app, user, "operator").await;
        eventually(c, "#todo-list", |t| t.contains("可报名的遴选")).await;
        goto(c, &app, &format!("/selections/{sel}")).await;
        fill(c, "#materials", materials).await;
        click(c, "#apply").await;
        eventually(c, "#applications", |t| t.contains(materials)).await;
    }

    // 5. After the deadline the institution closes applications; the panel
    //    scores (nobody scores their own organisation's application).
    app.advance_ms(22 * DAY);
    switch(c, &app, "szzx", "implementing_institution").await;
    eventually(c, "#todo-list", |t| t.contains("报名已截止")).await;
    goto(c, &app, &format!("/selections/{sel}")).await;
    step(c, "form.step-form", "#sel-close", "").await;
    eventually(c, "#selection-state", |t| t == "评审中").await;
    let detail: Value = app
        .login("szzx")
        .await
        .get(&format!("/api/v1/selections/{sel}"))
        .await
        .expect("detail");
    let app_of = |org: &str| {
        detail["applications"]
            .as_array()
            .expect("applications")
            .iter()
            .find(|a| a["org_name"].as_str().is_some_and(|n| n.contains(org)))
            .and_then(|a| a["id"].as_i64())
            .expect("application")
    };
    let (a1, a2) = (app_of("瓷都"), app_of("昌南"));
    for (user, role, scores) in [
        (
            "szzx",
            "implementing_institution",
            vec![(a1, ["36", "26", "18", "9"]), (a2, ["30", "24", "16", "8"])],
        ),
        (
            "sjj",
            "data_authority",
            vec![(a1, ["35", "25", "17", "9"]), (a2, ["31", "23", "15", "7"])],
        ),
        ("yunying2", "operator", vec![(a1, ["30", "22", "15", "8"])]),
    ] {
        switch(c, &app, user, role).await;
        goto(c, &app, &format!("/selections/{sel}")).await;
        if user == "yunying2" {
            assert!(
                c.find(Locator::Css(&format!(
                    "form.score-form[data-application='{a2}']"
                )))
                .await
                .is_err(),
                "no score sheet for one's own application"
            );
        }
        for (application, points) in scores {
            let form = format!("form.score-form[data-application='{application}']");
            for (i, p) in points.iter().enumerate() {
                fill(c, &format!("{form} input[name='c{i}']"), p).await;
            }
            submit(c, &format!("{form} button")).await;
        }
    }

    // 6. The result goes to public notice; the runner-up objects.
    switch(c, &app, "szzx", "implementing_institution").await;
    goto(c, &app, &format!("/selections/{sel}")).await;
    step(c, "form.step-form", "#sel-publish", "").await;
    eventually(c, "#selection-state", |t| t == "结果公示中").await;
    let ranking = text(c, "#ranking").await;
    assert!(
        ranking.find("瓷都") < ranking.find("昌南"),
        "ranked by mean score: {ranking}"
    );
    switch(c, &app, "yunying2", "operator").await;
    goto(c, &app, &format!("/selections/{sel}")).await;
    fill(c, "#objection", "请复核我方信用状况得分").await;
    click(c, "#object").await;
    eventually(c, "#objections", |t| t.contains("待答复")).await;

    // 7. After the notice the institution answers the objection, then
    //    awards.
    let s: Value = app
        .login("szzx")
        .await
        .get(&format!("/api/v1/selections/{sel}"))
        .await
        .expect("selection");
    let wait =
        s["notice_ends_at"].as_i64().expect("notice") - s["updated_at"].as_i64().expect("at");
    app.advance_ms(wait + 3_600_000);
    switch(c, &app, "szzx", "implementing_institution").await;
    eventually(c, "#todo-list", |t| t.contains("答复遴选异议")).await;
    goto(c, &app, &format!("/selections/{sel}")).await;
    fill(
        c,
        "form.answer-form textarea",
        "经复核，信用状况得分无误，维持结果",
    )
    .await;
    click(c, "form.answer-form button[value='false']").await;
    eventually(c, "#objections", |t| t.contains("不成立")).await;
    step(c, "form.step-form", "#sel-award", "").await;
    eventually(c, "#selection-state", |t| t == "已确定运营机构").await;
    assert!(text(c, "#awarded-to").await.contains("瓷都数据运营"));

    // 8. The agreement: a six-year term is refused; five years with the
    //    credit resource's four fields in two districts is drafted.
    let rows = r#"[{"op":"in","field":"district","values":[{"type":"string","value":"珠山区"},{"type":"string","value":"昌江区"}]}]"#;
    let grant = |what: &str| format!("#agreement-form [name='{what}:{code}']");
    fill(
        c,
        &grant("fields"),
        "credit_code, name, industry, credit_level",
    )
    .await;
    fill(c, &grant("rows"), rows).await;
    let start = c
        .find(Locator::Css("#ag-start"))
        .await
        .expect("start")
        .prop("value")
        .await
        .expect("value")
        .expect("value");
    let start: shuyun_domain::Date = start.parse().expect("date");
    let six = shuyun_domain::authorization::Term::last_day(start, 72);
    set_value(c, "#ag-end", &six.to_string()).await;
    click(c, "#ag-save").await;
    eventually(c, "#error", |t| t.contains("term")).await;
    let none: Vec<Value> = app
        .login("szzx")
        .await
        .get("/api/v1/agreements")
        .await
        .expect("list");
    assert!(none.is_empty(), "a refused agreement drafts nothing");
    fill(
        c,
        &grant("fields"),
        "credit_code, name, industry, credit_level",
    )
    .await;
    fill(c, &grant("rows"), rows).await;
    click(c, "#ag-save").await;
    eventually(c, "#agreement-state", |t| t == "已起草").await;
    let agreement = current_id(c).await;
    assert!(
        text(c, "#agreement-scope")
            .await
            .contains("district IN ('珠山区', '昌江区')")
    );
    let form =
        "form.step-form[action$='/agreements/".to_string() + &agreement.to_string() + "/steps']";
    step(c, &form, "#ag-sign", "经集体决策后签订").await;
    eventually(c, "#agreement-state", |t| t.contains("已签订")).await;
    eventually(c, "#agreement-filing", |t| t.contains("剩余 20 个工作日")).await;
    step(c, &form, "#ag-file", "赣数备〔2026〕协字3号").await;
    eventually(c, "#agreement-state", |t| t == "已备案").await;
    step(c, &form, "#ag-activate", "").await;
    eventually(c, "#agreement-state", |t| t == "运营中").await;
    screenshot(c, &shot("agreement")).await;

    // 9. The operator submits its scenario plan; until approval it may not
    //    touch the data.
    let operator_api = app.login("yunying1").await;
    let token: Value = operator_api
        .post(
            "/api/v1/me/tokens",
            &json!({"name": "workspace", "expires_in_days": 30}),
        )
        .await
        .expect("token");
    let bearer =
        shuyun_client::Client::with_token(&app.base, token["token"].as_str().expect("token"))
            .expect("client");
    switch(c, &app, "yunying1", "operator").await;
    eventually(c, "#todo-list", |t| t.contains("提交场景开发方案")).await;
    click(c, &format!("#todo-list a[href='/agreements/{agreement}']")).await;
    click(c, "#submit-scenario summary").await;
    click(c, "#sc-name option[value='企业信用辅助评估']").await;
    fill(
        c,
        "#sc-description",
        "为浮梁农商银行等金融机构提供小微企业信用辅助评估核验服务",
    )
    .await;
    let sgrant = |what: &str| format!("#scenario-form [name='{what}:{code}']");
    fill(c, &sgrant("fields"), "credit_code, credit_level").await;
    click(
        c,
        "#scenario-form input[name='outputs'][value='verification']",
    )
    .await;
    click(
        c,
        "#scenario-form input[name='outputs'][value='api_service']",
    )
    .await;
    fill(
        c,
        "#sc-security",
        "数据沙箱内建模，结果经出域审核，接口按合同限量调用",
    )
    .await;
    click(c, "#sc-kind option[value='api_service']").await;
    click(c, "#sc-submit").await;
    eventually(c, "#scenarios .scenario-state", |t| t == "待审核").await;
    let scenario: i64 = c
        .find(Locator::Css("#scenarios .scenario"))
        .await
        .expect("scenario")
        .attr("data-scenario")
        .await
        .expect("attr")
        .and_then(|v| v.parse().ok())
        .expect("scenario id");
    let ask = json!({"resource": code, "scenario_id": scenario});
    let d: Value = bearer.post("/api/v1/authorize", &ask).await.expect("ask");
    assert_eq!(d["reason"], "scenario_not_approved");

    // 10. The institution reviews and approves it.
    switch(c, &app, "szzx", "implementing_institution").await;
    eventually(c, "#todo-list", |t| t.contains("审核场景开发方案")).await;
    goto(c, &app, &format!("/agreements/{agreement}")).await;
    step(
        c,
        "form.step-form[action^='/scenarios/']",
        "#sc-approve",
        "同意开发",
    )
    .await;
    eventually(c, "#scenarios .scenario-state", |t| t == "已批准").await;

    // 11. The operator's access is allowed now.
    switch(c, &app, "yunying1", "operator").await;
    goto(c, &app, &format!("/agreements/{agreement}")).await;
    eventually(c, "#access", |t| t.contains("可使用")).await;
    let d: Value = bearer.post("/api/v1/authorize", &ask).await.expect("ask");
    assert_eq!(d["decision"], "allow", "{d}");

    // 12. The regulator suspends it (reasons required); the operator is
    //     locked out on its very next request, by session and by token.
    switch(c, &app, "jianguan", "regulator").await;
    goto(c, &app, &format!("/agreements/{agreement}")).await;
    step(c, &form, "#ag-suspend", "").await;
    eventually(c, "#error", |t| !t.is_empty()).await;
    assert_eq!(text(c, "#agreement-state").await, "运营中");
    step(c, &form, "#ag-suspend", "发现数据安全风险，暂停排查").await;
    eventually(c, "#agreement-state", |t| t == "已暂停").await;
    let d: Value = bearer.post("/api/v1/authorize", &ask).await.expect("ask");
    assert_eq!(d["reason"], "agreement_not_active");
    let d: Value = operator_api
        .post("/api/v1/authorize", &ask)
        .await
        .expect("ask");
    assert_eq!(d["reason"], "agreement_not_active");
    switch(c, &app, "yunying1", "operator").await;
    eventually(c, "#todo-list", |t| t.contains("已暂停的协议")).await;
    goto(c, &app, &format!("/agreements/{agreement}")).await;
    eventually(c, "#access", |t| t.contains("已拒绝") && t.contains("暂停")).await;
    assert!(
        c.find(Locator::Css("#submit-scenario")).await.is_err(),
        "no new scenario plans on a suspended agreement"
    );
    screenshot(c, &shot("suspended")).await;

    // 13. The public page shows it suspended, without signing in.
    c.goto(&app.base).await.expect("home");
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;
    click(c, "#nav-disclosure").await;
    let row = eventually(
        c,
        &format!("#authorizations tr[data-agreement='{agreement}']"),
        |t| t.contains("已暂停"),
    )
    .await;
    for part in ["景德镇瓷都数据运营有限公司", "企业信用辅助评估", &code] {
        assert!(row.contains(part), "{part} missing from {row}");
    }
    assert!(
        text(c, "main")
            .await
            .contains("景德镇市公共数据资源授权运营实施方案")
    );
    assert!(
        !text(c, "main").await.contains("6000"),
        "no revenue sharing in public"
    );
    screenshot(c, &shot("disclosure")).await;

    assert!(app.store.verify_ledger().await.expect("verify").ok());
    b.stop().await;
    app.stop().await;
}
