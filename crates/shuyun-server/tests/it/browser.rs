//! Browser tests: the portal in real headless Chromium through ChromeDriver.
//!
//! Needs `chromium` and `chromedriver` (Debian packages of the same names;
//! `.ci/run` installs them). `SHUYUN_CHROMIUM` and `SHUYUN_CHROMEDRIVER`
//! override their paths.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use shuyun_domain::Role;
use shuyun_store::Backend;

use crate::both_backends;
use crate::kit::{App, PASSWORD, spawn_app, user_of};

both_backends!(portal_in_chromium);

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let driver_bin =
            std::env::var("SHUYUN_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin} (install chromium-driver): {e}"));
        let profile = std::env::temp_dir().join(format!("shuyun-chrome-{port}"));
        let chromium =
            std::env::var("SHUYUN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        });
        let caps = caps.as_object().expect("object").clone();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        driver,
                        profile,
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot reach chromedriver: {last:?}");
    }

    pub async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Find an element, waiting (up to 15 s) for a navigation to bring it.
pub async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    for _ in 0..150 {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            return el;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(c, "failure").await;
    panic!("{css}: no such element");
}

pub async fn text(c: &Client, css: &str) -> String {
    find(c, css).await.text().await.expect("text")
}

pub async fn fill(c: &Client, css: &str, value: &str) {
    let el = find(c, css).await;
    el.clear().await.expect("clear");
    el.send_keys(value).await.expect("type");
}

pub async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.expect("click");
}

pub async fn login(c: &Client, app: &App, username: &str) {
    c.goto(&format!("{}/login", app.base)).await.expect("goto");
    fill(c, "#username", username).await;
    fill(c, "#password", PASSWORD).await;
    click(c, "#login-submit").await;
}

/// The institution's second reviewer (`szzx.review`) approves the pending
/// release in the portal, then signs out.
pub async fn second_approval(c: &Client, app: &App) {
    login(c, app, "szzx.review").await;
    wait_role(c, "implementing_institution").await;
    click(c, "#nav-releases").await;
    fill(c, "form.review input[name='note']", "同意出域").await;
    click(c, "form.review button[value='approve']").await;
    eventually(c, "#releases td.state", |t| t.contains("已批准出域")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;
}

pub async fn role_of_page(c: &Client) -> String {
    match c.find(Locator::Css("body")).await {
        Ok(b) => b.attr("data-role").await.ok().flatten().unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Wait (up to 15 s) for the page to reach the given role; navigation after
/// a click completes asynchronously.
pub async fn wait_role(c: &Client, role: &str) {
    let mut last = String::new();
    for _ in 0..150 {
        last = role_of_page(c).await;
        if last == role {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected a page for role {role}, still at {last}");
}

/// Wait (up to 15 s) until the text of `css` satisfies `ok`; return it.
pub async fn eventually(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..150 {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && let Ok(t) = el.text().await
        {
            if ok(&t) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(c, "failure").await;
    let url = c
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    panic!("{css}: condition never held at {url}; last text {last:?}");
}

pub async fn screenshot(c: &Client, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

async fn portal_in_chromium(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = Browser::start().await;
    let c = &b.client;

    // The public landing page shows the signed checkpoint, in Chinese.
    c.goto(&app.base).await.expect("home");
    assert_eq!(role_of_page(c).await, "anonymous");
    assert!(text(c, "main").await.contains("最新签名检查点"));
    screenshot(c, &format!("{backend:?}-public")).await;

    // Every role signs in and lands on its own home page.
    for role in Role::ALL {
        login(c, &app, user_of(role)).await;
        wait_role(c, role.as_str()).await;
        let key = format!("role.{}", role.as_str());
        let label = shuyun_server::i18n::t(shuyun_server::i18n::Lang::Zh, &key);
        assert_eq!(text(c, "#role-name").await, label);
        screenshot(c, &format!("{backend:?}-home-{}", role.as_str())).await;
        click(c, "#logout").await;
        wait_role(c, "anonymous").await;
    }

    // A wrong password says so and stays on the form.
    c.goto(&format!("{}/login", app.base)).await.expect("goto");
    fill(c, "#username", "sjj").await;
    fill(c, "#password", "wrong-password-1").await;
    click(c, "#login-submit").await;
    eventually(c, "#login-error", |t| t == "用户名或密码错误").await;

    // English on request.
    click(c, "#lang-switch").await;
    eventually(c, "h1", |t| t.contains("Sign in")).await;
    click(c, "#lang-switch").await;
    eventually(c, "h1", |t| t.contains("登录")).await;

    // The data authority registers an organisation and a user, resets a password.
    login(c, &app, "sjj").await;
    wait_role(c, "data_authority").await;
    c.goto(&format!("{}/admin/orgs", app.base))
        .await
        .expect("orgs");
    let cc = shuyun_server::demo::demo_credit_code(shuyun_domain::OrgKind::Operator, 55);
    fill(c, "#org_name", "景德镇新运营公司").await;
    fill(c, "#org_name_en", "New Operator Co.").await;
    c.find(Locator::Css("#org_kind option[value='operator']"))
        .await
        .expect("option")
        .click()
        .await
        .expect("select");
    fill(c, "#org_credit_code", cc.as_str()).await;
    click(c, "#create-org").await;
    eventually(c, "#flash", |t| t.contains("景德镇新运营公司")).await;
    assert!(text(c, "#orgs").await.contains(cc.as_str()));
    // A bad credit code is refused with a readable message, nothing created.
    fill(c, "#org_name", "坏代码公司").await;
    fill(c, "#org_name_en", "Bad Code Co.").await;
    let last = cc.as_str().chars().last().expect("char");
    let bad = format!(
        "{}{}",
        &cc.as_str()[..17],
        if last == '0' { '1' } else { '0' }
    );
    fill(c, "#org_credit_code", &bad).await;
    click(c, "#create-org").await;
    eventually(c, "#error", |t| t.contains("check character")).await;
    assert!(!text(c, "#orgs").await.contains("坏代码公司"));

    c.goto(&format!("{}/admin/users", app.base))
        .await
        .expect("users");
    fill(c, "#user_username", "newop.dev").await;
    fill(c, "#user_display_name", "新运营 开发").await;
    fill(c, "#user_password", "first-pass-2026").await;
    click(c, "#create-user").await;
    eventually(c, "#flash", |t| t.contains("newop.dev")).await;
    click(c, "tr[data-user='newop.dev'] button.reset").await;
    let temp = eventually(c, "#temp-password", |t| t.starts_with("Sy-")).await;
    assert!(temp.starts_with("Sy-"));
    screenshot(c, &format!("{backend:?}-users")).await;
    // ... issues the new user an API token, then revokes it.
    click(c, "tr[data-user='newop.dev'] a").await;
    fill(c, "#token_name", "对接测试").await;
    click(c, "#issue-token").await;
    let admin_token = eventually(c, "#new-token", |t| t.starts_with("sy_")).await;
    let client = shuyun_client::Client::with_token(&app.base, &admin_token).expect("client");
    assert!(client.get::<Value>("/api/v1/me").await.is_ok());
    click(c, "#tokens button.revoke").await;
    eventually(c, "#flash", |t| t.contains("已完成")).await;
    assert_eq!(
        client
            .get::<Value>("/api/v1/me")
            .await
            .expect_err("revoked")
            .code(),
        Some("token_revoked")
    );
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    // The new user signs in with the temporary password and must change it.
    c.goto(&format!("{}/login", app.base)).await.expect("goto");
    fill(c, "#username", "newop.dev").await;
    fill(c, "#password", &temp).await;
    click(c, "#login-submit").await;
    eventually(c, "#flash", |t| t.contains("修改初始密码")).await;
    // Until then every other page sends them back to the account page.
    c.goto(&format!("{}/", app.base)).await.expect("home");
    find(c, "#change-password").await;
    fill(c, "#current_password", &temp).await;
    fill(c, "#new_password", "my-secret-2026").await;
    click(c, "#change-password").await;
    eventually(c, "#flash", |t| t.contains("已完成")).await;
    // ... and issues an API token, which works with a plain HTTP client.
    fill(c, "#token_name", "接口对接").await;
    click(c, "#issue-token").await;
    let token = eventually(c, "#new-token", |t| t.starts_with("sy_")).await;
    let me: Value = shuyun_client::Client::with_token(&app.base, &token)
        .expect("client")
        .get("/api/v1/me")
        .await
        .expect("token works");
    assert_eq!(me["username"], "newop.dev");
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    // The regulator looks up an entry in the ledger and sees it verified.
    login(c, &app, "jianguan").await;
    wait_role(c, "regulator").await;
    c.goto(&format!("{}/ledger", app.base))
        .await
        .expect("ledger");
    assert!(text(c, "#entries").await.contains("token.issue"));
    fill(c, "#index", "3").await;
    click(c, "#goto").await;
    eventually(c, "#verified", |t| t.starts_with('✓')).await;
    assert!(
        text(c, "#checkpoint-note")
            .await
            .contains("test.shuyun/ledger")
    );
    screenshot(c, &format!("{backend:?}-ledger-entry")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    // Pages an operator may not use are refused, not shown.
    login(c, &app, "yunying1").await;
    wait_role(c, "operator").await;
    c.goto(&format!("{}/ledger", app.base))
        .await
        .expect("ledger");
    eventually(c, "#error-code", |t| t.contains("forbidden")).await;
    // The refusal keeps the operator's own frame (still signed in).
    assert!(text(c, "#who").await.contains("瓷都数据运营"));
    assert!(
        c.find(Locator::Css("#entries")).await.is_err(),
        "no ledger shown"
    );

    click(c, "#logout").await;
    wait_role(c, "anonymous").await;
    catalogue_in_browser(c, &app, backend).await;

    b.stop().await;
    app.stop().await;
}

/// A department registers and grades a resource; the data authority
/// confirms it; the negative list goes from request to publication.
async fn catalogue_in_browser(c: &Client, app: &App, backend: Backend) {
    login(c, app, "fgw").await;
    wait_role(c, "source_department").await;
    c.goto(&format!("{}/catalogue/new", app.base))
        .await
        .expect("new");
    fill(c, "#r_name", "企业信用信息").await;
    fill(c, "#r_description", "全市企业公共信用信息").await;
    fill(c, "#r_source_system", "信用信息共享平台").await;
    fill(c, "#r_standard", "GB/T 22117-2018").await;
    fill(c, "#r_contact", "信用科").await;
    fill(c, "input[name='f0_name']", "credit_code").await;
    fill(c, "input[name='f0_label']", "统一社会信用代码").await;
    click(c, "input[name='f0_key']").await;
    fill(c, "input[name='f1_name']", "credit_level").await;
    fill(c, "input[name='f1_label']", "信用等级").await;
    click(c, "select[name='f1_grade'] option[value='important']").await;
    fill(c, "#r_reason", "企业信用评价结果").await;
    click(c, "#r_public").await;
    click(c, "#submit-resource").await;
    let code = eventually(c, "#resource-code", |t| t.starts_with("360200-XY-")).await;
    assert!(text(c, "#gradings").await.contains("proposed"));
    screenshot(c, &format!("{backend:?}-resource")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    // The data authority confirms the important grade.
    login(c, app, "sjj").await;
    wait_role(c, "data_authority").await;
    c.goto(&format!("{}/catalogue", app.base))
        .await
        .expect("catalogue");
    click(c, &format!("tr[data-code='{code}'] a")).await;
    fill(c, "#gradings input[name='note']", "依据充分").await;
    click(c, "#gradings button.confirm").await;
    eventually(c, "#resource-grade", |t| t.contains("重要数据")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    // The department asks for the negative list; the authority approves.
    login(c, app, "fgw").await;
    wait_role(c, "source_department").await;
    c.goto(&format!("{}/catalogue", app.base))
        .await
        .expect("catalogue");
    click(c, &format!("tr[data-code='{code}'] a")).await;
    fill(c, "#legal_basis", "《中华人民共和国数据安全法》第二十一条").await;
    click(c, "#request-negative").await;
    eventually(c, "#flash", |t| t.contains("已完成")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;
    login(c, app, "sjj").await;
    wait_role(c, "data_authority").await;
    c.goto(&format!("{}/negative-list", app.base))
        .await
        .expect("negative list");
    click(c, "#negative-requests button.approve").await;
    eventually(c, "#negative-published", |t| t.contains(&code)).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;
    // The public reads the published list without signing in.
    c.goto(&format!("{}/negative-list", app.base))
        .await
        .expect("public list");
    eventually(c, "#negative-published", |t| t.contains(&code)).await;
    data_in_browser(c, app, backend, &code).await;
}

fn credit_code(n: u32) -> String {
    let first17 = format!("91360200MA{n:07}");
    format!(
        "{first17}{}",
        shuyun_domain::CreditCode::check_char(&first17).expect("c")
    )
}

/// The department loads a good file and a broken one through the upload
/// form, sees the rejection and the unchanged current version, reads the
/// quality report and changes the rules.
async fn data_in_browser(c: &Client, app: &App, backend: Backend, code: &str) {
    let dir =
        std::env::temp_dir().join(format!("shuyun-upload-{}-{backend:?}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let good = dir.join("企业信用.csv");
    std::fs::write(
        &good,
        format!(
            "credit_code,credit_level\n{},A\n{},B\n{},C\n",
            credit_code(1),
            credit_code(2),
            credit_code(3)
        ),
    )
    .expect("write");
    // Row 2 repeats row 1's key; row 3 has no credit code.
    let bad = dir.join("坏文件.csv");
    std::fs::write(
        &bad,
        format!(
            "credit_code,credit_level\n{0},A\n{0},B\n,C\n",
            credit_code(1)
        ),
    )
    .expect("write");

    login(c, app, "fgw").await;
    wait_role(c, "source_department").await;
    c.goto(&format!("{}/catalogue", app.base))
        .await
        .expect("catalogue");
    click(c, &format!("tr[data-code='{code}'] a")).await;
    eventually(c, "#no-data", |t| !t.is_empty()).await;
    find(c, "#file")
        .await
        .send_keys(&good.to_string_lossy())
        .await
        .expect("choose file");
    click(c, "#upload").await;
    eventually(c, "#flash", |t| t.contains("已入库") && t.contains("v1")).await;
    eventually(c, "#data-versions tr[data-version='1']", |t| {
        t.contains("当前版本") && t.contains("企业信用.csv")
    })
    .await;

    // The broken file is rejected; v1 stays current and alone.
    find(c, "#file")
        .await
        .send_keys(&bad.to_string_lossy())
        .await
        .expect("choose file");
    click(c, "#upload").await;
    let err = eventually(c, "#error", |t| t.contains("驳回")).await;
    assert!(err.contains("当前版本未改变"), "{err}");
    eventually(c, "#rejections", |t| t.contains("坏文件.csv")).await;
    let rows = c
        .find_all(Locator::Css("#data-versions tr[data-version]"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert!(
        text(c, "#data-versions tr[data-version='1']")
            .await
            .contains("当前版本")
    );
    let href = find(c, "#rejections a.report")
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("href");
    assert!(href.contains("/rejections/"), "{href}");
    screenshot(c, &format!("{backend:?}-data")).await;

    // The quality report of v1.
    click(c, "#data-versions a.score").await;
    eventually(c, "#quality-score", |t| !t.is_empty()).await;
    assert!(text(c, "#quality-results").await.contains("时效性"));
    screenshot(c, &format!("{backend:?}-quality")).await;

    // New rules through the form.
    c.goto(&format!("{}/catalogue", app.base))
        .await
        .expect("catalogue");
    click(c, &format!("tr[data-code='{code}'] a")).await;
    click(c, "#quality-rules + details summary").await;
    let rules = r#"[{"check":"format","field":"credit_code","format":"credit_code","weight":3},{"check":"code_list","field":"credit_level","values":["A","B","C"]}]"#;
    fill(c, "#rules-json", rules).await;
    click(c, "#save-rules").await;
    eventually(c, "#flash", |t| t.contains("质量规则")).await;
    assert!(
        text(c, "#quality-rules")
            .await
            .contains("credit_code is a valid credit_code")
    );
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;
    let _ = std::fs::remove_dir_all(&dir);
    objection_in_browser(c, app, backend, code).await;
    open_data_in_browser(c, app, backend).await;
}

/// The public, without signing in, finds open data, downloads it and
/// reads the DCAT catalogue.
async fn open_data_in_browser(c: &Client, app: &App, backend: Backend) {
    // A department opens a resource (set up through the API).
    let dept = app.login("wlj").await;
    let r: Value = dept
        .post(
            "/api/v1/resources",
            &json!({
                "name": "公共文化场馆", "description": "全市公共文化场馆", "domain": "culture_tourism",
                "frequency": "quarterly", "source_system": "文旅资源库", "standard": "GB/T 35295",
                "contact": "信息科", "public": true, "open_data": true,
                "rights": {"holder": "市文广新旅局", "processor": "数字经济发展中心", "operator": "待授权"},
                "schema": [
                    {"name": "venue_id", "label": "场馆编号", "type": "string", "key": true, "grade": "general1", "pi": "none"},
                    {"name": "name", "label": "场馆名称", "type": "string", "grade": "general1", "pi": "none"}
                ],
                "basis": {"impact_object": "public_interest", "impact_degree": "minor", "reason": "公开信息"}
            }),
        )
        .await
        .expect("register");
    let up = dept
        .raw(
            reqwest::Method::POST,
            &format!("/api/v1/resources/{}/data", r["id"]),
            Some("venue_id,name\nV001,景德镇中国陶瓷博物馆\n"),
            "text/csv",
        )
        .await
        .expect("upload");
    assert_eq!(up.status.as_u16(), 201);
    let code = r["code"].as_str().expect("code");

    c.goto(&format!("{}/", app.base)).await.expect("home");
    wait_role(c, "anonymous").await;
    click(c, "#nav-open").await;
    eventually(c, &format!("#open-data tr[data-code='{code}']"), |t| {
        t.contains("CSV")
    })
    .await;
    // Download the CSV as the page's link would, in the page's own context.
    let href = find(
        c,
        &format!("#open-data tr[data-code='{code}'] a.download-csv"),
    )
    .await
    .attr("href")
    .await
    .expect("href")
    .expect("href");
    let body = c
        .execute_async(
            "const [url, done] = arguments; fetch(url).then(r => r.text()).then(done, e => done('ERR ' + e));",
            vec![json!(href)],
        )
        .await
        .expect("fetch");
    // (The browser's UTF-8 decoder consumes the BOM.)
    assert_eq!(
        body.as_str(),
        Some("venue_id,name\r\nV001,景德镇中国陶瓷博物馆\r\n")
    );
    screenshot(c, &format!("{backend:?}-open-data")).await;
    click(c, "#dcat-link").await;
    let dcat = eventually(c, "body", |t| t.contains("dcat:Catalog")).await;
    assert!(
        dcat.contains(code) && dcat.contains("download?format=csv"),
        "{dcat}"
    );
}

/// An operator objects to a record; the department answers within its
/// deadline; the operator accepts.
async fn objection_in_browser(c: &Client, app: &App, backend: Backend, code: &str) {
    login(c, app, "yunying1").await;
    wait_role(c, "operator").await;
    c.goto(&format!("{}/catalogue", app.base))
        .await
        .expect("catalogue");
    click(c, &format!("tr[data-code='{code}'] a")).await;
    click(c, "#raise-ticket summary").await;
    fill(c, "#tk_field", "credit_level").await;
    fill(c, "#tk_records", "第2行").await;
    fill(
        c,
        "#tk_description",
        "该企业信用等级应为A，附评价结果通知书",
    )
    .await;
    click(c, "#submit-ticket").await;
    eventually(c, "#ticket-state", |t| t.contains("待受理")).await;
    eventually(c, "#ticket-deadline", |t| t.contains("剩余 10 个工作日")).await;
    assert!(
        c.find(Locator::Css("#step-answer")).await.is_err(),
        "the raiser cannot answer"
    );
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    login(c, app, "fgw").await;
    wait_role(c, "source_department").await;
    c.goto(&format!("{}/tickets", app.base))
        .await
        .expect("tickets");
    eventually(c, "#tickets", |t| {
        t.contains("瓷都数据运营") || t.contains(code)
    })
    .await;
    click(c, "#tickets tr[data-ticket] a").await;
    click(c, "#step-acknowledge").await;
    eventually(c, "#ticket-state", |t| t.contains("核实中")).await;
    click(c, "#outcome option[value='unfounded']").await;
    fill(c, "#step-note", "经核实，信用等级以年度评价为准").await;
    click(c, "#step-answer").await;
    eventually(c, "#ticket-outcome", |t| t.contains("异议不成立")).await;
    screenshot(c, &format!("{backend:?}-ticket")).await;
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;

    login(c, app, "yunying1").await;
    wait_role(c, "operator").await;
    c.goto(&format!("{}/tickets", app.base))
        .await
        .expect("tickets");
    click(c, "#tickets tr[data-ticket] a").await;
    click(c, "#step-accept").await;
    eventually(c, "#ticket-state", |t| t.contains("已办结")).await;
    let steps = text(c, "#ticket-steps").await;
    for step in ["受理", "答复", "认可答复"] {
        assert!(steps.contains(step), "{steps}");
    }
    click(c, "#logout").await;
    wait_role(c, "anonymous").await;
}
