//! Demo data: the Jingdezhen pilot (seed 002): the data bureau, the
//! digital-economy centre, the ten source departments of annex 1, two
//! operators, two banks, a regulator and a platform administrator, each with
//! one demo login. Seeding is idempotent.

use shuyun_domain::{CreditCode, OrgKind};
use shuyun_store::accounts::{NewOrg, NewUser};
use shuyun_store::{Store, StoreResult};

/// The password of every demo account (documented in README.md).
pub const DEMO_PASSWORD: &str = "shuyun-demo-2026";

/// (username, display name, org name, org English name, kind)
pub const DEMO_ACCOUNTS: &[(&str, &str, &str, &str, OrgKind)] = &[
    (
        "sjj",
        "数据局 王科长",
        "景德镇市数据局",
        "Jingdezhen Municipal Data Bureau",
        OrgKind::DataAuthority,
    ),
    (
        "szzx",
        "数字经济发展中心 李工",
        "景德镇市数字经济发展中心",
        "Jingdezhen Digital Economy Development Centre",
        OrgKind::ImplementingInstitution,
    ),
    (
        "fgw",
        "发改委 数据专员",
        "景德镇市发展和改革委员会",
        "Jingdezhen Development and Reform Commission",
        OrgKind::SourceDepartment,
    ),
    (
        "zjj",
        "住建局 数据专员",
        "景德镇市住房和城乡建设局",
        "Jingdezhen Housing and Urban-Rural Development Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "tjj",
        "统计局 数据专员",
        "景德镇市统计局",
        "Jingdezhen Statistics Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "jtj",
        "交通局 数据专员",
        "景德镇市交通运输局",
        "Jingdezhen Transport Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "wlj",
        "文旅局 数据专员",
        "景德镇市文化广电新闻出版旅游局",
        "Jingdezhen Culture and Tourism Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "wjw",
        "卫健委 数据专员",
        "景德镇市卫生健康委员会",
        "Jingdezhen Health Commission",
        OrgKind::SourceDepartment,
    ),
    (
        "cgj",
        "城管局 数据专员",
        "景德镇市城市管理局",
        "Jingdezhen Urban Management Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "zwj",
        "政务局 数据专员",
        "景德镇市政务服务管理局",
        "Jingdezhen Government Services Administration",
        OrgKind::SourceDepartment,
    ),
    (
        "sthjj",
        "生态环境局 数据专员",
        "景德镇市生态环境局",
        "Jingdezhen Ecology and Environment Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "gxj",
        "工信局 数据专员",
        "景德镇市工业和信息化局",
        "Jingdezhen Industry and Information Technology Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "yunying1",
        "瓷都数据运营 张经理",
        "景德镇瓷都数据运营有限公司（演示）",
        "Cidu Data Operations Co. (demo)",
        OrgKind::Operator,
    ),
    (
        "yunying2",
        "昌南数智科技 赵经理",
        "江西昌南数智科技有限公司（演示）",
        "Changnan Digital Intelligence Tech Co. (demo)",
        OrgKind::Operator,
    ),
    (
        "bank1",
        "浮梁农商银行 信贷部",
        "浮梁农村商业银行（演示）",
        "Fuliang Rural Commercial Bank (demo)",
        OrgKind::Buyer,
    ),
    (
        "bank2",
        "昌江银行 普惠金融部",
        "昌江银行景德镇分行（演示）",
        "Changjiang Bank Jingdezhen Branch (demo)",
        OrgKind::Buyer,
    ),
    (
        "jianguan",
        "网信办 监管员",
        "中共景德镇市委网络安全和信息化委员会办公室",
        "Jingdezhen Cyberspace Affairs Office",
        OrgKind::Regulator,
    ),
    (
        "admin",
        "平台管理员",
        "数运平台运维中心",
        "shuyun Platform Operations Centre",
        OrgKind::Platform,
    ),
];

/// A valid, clearly synthetic credit code for demo organisation `n`:
/// government bodies start `11`, enterprises `91`.
pub fn demo_credit_code(kind: OrgKind, n: usize) -> CreditCode {
    let head = match kind {
        OrgKind::Operator | OrgKind::Buyer | OrgKind::Platform => "91",
        _ => "11",
    };
    let first17 = format!("{head}360200MA{n:07}");
    let check = CreditCode::check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
        .parse()
        .unwrap_or_else(|_| unreachable_code())
}

fn unreachable_code() -> CreditCode {
    // check_char always yields a valid character for a valid prefix.
    "91350100M000100Y43"
        .parse()
        .unwrap_or_else(|_| unreachable_code())
}

/// Seed the pilot's organisations and users unless they exist.
pub async fn seed(store: &Store, now_ms: i64) -> StoreResult<bool> {
    if !store.list_orgs().await?.is_empty() {
        return Ok(false);
    }
    for (n, (username, display, org, org_en, kind)) in DEMO_ACCOUNTS.iter().enumerate() {
        let o = store
            .create_org(
                "system:demo",
                NewOrg {
                    name: (*org).into(),
                    name_en: (*org_en).into(),
                    kind: *kind,
                    credit_code: demo_credit_code(*kind, n + 1),
                    division_code: "360200".parse()?,
                },
                now_ms,
            )
            .await?;
        store
            .create_user(
                "system:demo",
                NewUser {
                    org_id: o.id,
                    username: username.parse()?,
                    display_name: (*display).into(),
                    password: DEMO_PASSWORD.into(),
                },
                false,
                now_ms,
            )
            .await?;
    }
    Ok(true)
}

/// Register the pilot's first-batch resources (seed 002 annex 1) for their
/// departments, confirm the grades that need the data authority, and load
/// each with deterministic synthetic data scaled by `scale`.
pub async fn seed_pilot(
    store: &Store,
    objects: std::sync::Arc<dyn object_store::ObjectStore>,
    division: &shuyun_domain::DivisionCode,
    scale: f64,
    now_ms: i64,
    unit_digests: shuyun_domain::workspace::UnitDigestKey,
) -> Result<usize, String> {
    use shuyun_domain::catalogue::{Grade, GradeBasis, ImpactDegree, ImpactObject, PiTag};
    use shuyun_domain::workflow::GradingAction;
    use shuyun_store::catalogue::{NewResource, Rights};

    let err = |e: shuyun_store::StoreError| e.into_domain().message;
    let authority = store
        .login("sjj", DEMO_PASSWORD, "demo", now_ms)
        .await
        .map_err(err)?;
    let mut sessions = vec![authority.principal.clone()];
    let mut count = 0;
    for (i, pr) in shuyun_data::pilot::pilot_resources()
        .into_iter()
        .enumerate()
    {
        let owner = store
            .login(pr.owner_username, DEMO_PASSWORD, "demo", now_ms)
            .await
            .map_err(err)?
            .principal;
        let grade = pr.schema.min_resource_grade();
        let has_pi = pr.schema.fields().iter().any(|f| f.pi != PiTag::None);
        let (impact_object, impact_degree) = match (grade >= Grade::Important, has_pi) {
            (true, true) => (ImpactObject::PersonalRights, ImpactDegree::Serious),
            (true, false) => (ImpactObject::PublicInterest, ImpactDegree::Serious),
            (false, true) => (ImpactObject::PersonalRights, ImpactDegree::Moderate),
            (false, false) => (ImpactObject::OrganisationRights, ImpactDegree::Minor),
        };
        let new = NewResource {
            name: pr.name.into(),
            description: pr.description.chars().take(2000).collect(),
            domain: pr.domain,
            frequency: pr.frequency,
            source_system: pr.source_system.into(),
            standard: pr.standard.into(),
            contact: format!("{}数据专员", owner.org_name),
            rights: Rights {
                holder: owner.org_name.clone(),
                processor: "景德镇市数字经济发展中心".into(),
                operator: "待授权运营机构".into(),
            },
            shared_from_org_id: None,
            public: true,
            open_data: grade <= Grade::General2 && !has_pi,
            schema: pr.schema.clone(),
            grade: None,
            basis: GradeBasis {
                impact_object,
                impact_degree,
                reason: pr.description.chars().take(500).collect(),
            },
        };
        let r = store
            .register_resource(&owner, division, new, now_ms)
            .await
            .map_err(err)?;
        if r.pending_grading.is_some() {
            store
                .decide_grading(
                    &authority.principal,
                    r.id,
                    1,
                    GradingAction::Confirm,
                    "试点分级经数据局确认",
                    now_ms,
                )
                .await
                .map_err(err)?;
        }
        store
            .set_quality_rules(&owner, r.id, shuyun_data::pilot::quality_rules(&pr), now_ms)
            .await
            .map_err(err)?;
        let mut csv = Vec::new();
        shuyun_data::pilot::generate_csv(pr.key, scale, 2026 + i as u64, &mut csv)
            .map_err(|e| e.to_string())?;
        crate::api::data::load_reader(
            store,
            objects.clone(),
            &owner,
            r.id,
            shuyun_data::ingest::InputFormat::Csv(shuyun_data::ingest::TextEncoding::Utf8),
            "csv",
            &format!("{}.csv", pr.key),
            std::io::Cursor::new(csv),
            now_ms,
            unit_digests,
        )
        .await
        .map_err(|e| format!("pilot data for {}: {}", pr.key, e.into_domain(r.id).message))?;
        sessions.push(owner);
        count += 1;
    }
    for p in &sessions {
        store.logout(p, now_ms).await.map_err(err)?;
    }
    Ok(count)
}

/// Days in milliseconds, for the demo's back-dated history.
const DAY_MS: i64 = 86_400_000;

/// The authorization history of the pilot's enterprise credit product,
/// starting at `start_ms` (about sixty days before now): the plan drafted,
/// approved, filed and in force; an open tender both operators applied to,
/// scored by a panel, published and awarded to 瓷都数据运营; the agreement
/// (five years, 企业信用信息 in two districts and, when registered, the transport bureau's vehicles) signed,
/// filed and active; its scenario plan 企业信用辅助评估 approved. Each step
/// goes through the store as in the portal, at its own time, so deadlines
/// and the ledger read as they would have. Needs [`seed`] and the pilot's
/// enterprise credit resource; does nothing if a plan exists.
pub async fn seed_authorization(
    store: &Store,
    calendar: &shuyun_domain::calendar::WorkCalendar,
    start_ms: i64,
) -> Result<bool, String> {
    use serde_json::json;
    use shuyun_domain::authorization::{
        AgreementAction, AgreementContent, PlanAction, PlanContent, ScenarioAction, ScenarioPlan,
        SelectionAction, SelectionSpec, Term, filing_due_ms,
    };
    use shuyun_domain::calendar::Date;

    let err = |e: shuyun_store::StoreError| e.into_domain().message;
    if !store.plans().await.map_err(err)?.is_empty() {
        return Ok(false);
    }
    let resources = store
        .resources(shuyun_store::catalogue::CatalogueView::Whole)
        .await
        .map_err(err)?;
    let code = resources
        .iter()
        .find(|r| r.name == "企业信用信息")
        .map(|r| r.code.clone())
        .ok_or("the pilot's enterprise credit resource is not registered")?;
    // The transport bureau's vehicles (运输企业车辆规模 for the assessment),
    // when registered: the pilot has it, a test may not.
    let vehicles = resources
        .iter()
        .find(|r| r.name == "出租车、网约车、货运车信息")
        .map(|r| r.code.clone());
    let mut data_scope = vec![json!(code)];
    data_scope.extend(vehicles.iter().map(|v| json!(v)));
    let mut t = start_ms;
    let mut logins = Vec::new();
    for u in ["szzx", "sjj", "yunying1", "yunying2"] {
        logins.push(
            store
                .login(u, DEMO_PASSWORD, "demo", t)
                .await
                .map_err(err)?
                .principal,
        );
    }
    let [szzx, sjj, op1, op2] = <[_; 4]>::try_from(logins).map_err(|_| "demo logins")?;

    // The plan (实施方案), by scenario.
    let content: PlanContent = serde_json::from_value(json!({
        "name": "景德镇市公共数据资源授权运营实施方案（信用领域）",
        "necessity_feasibility": "信用数据需求旺盛而供给不足，授权运营可服务普惠金融和营商环境",
        "operator_criteria": "具备数据加工运营能力和安全保障能力，经营和信用状况良好，近三年无重大违法记录",
        "authorization": {"mode": "by_scenario", "scenarios": ["企业信用辅助评估", "普惠金融服务"]},
        "data_scope": data_scope,
        "term_months": 60,
        "schedule": "方案审定后启动遴选，当年完成协议签订并上线首个场景",
        "evaluation_exit": "年度运营评估；期满、违约或主动申请时退出并交接",
        "products": [
            {"name": "企业信用辅助评估", "area": "金融服务", "use": "industry"},
            {"name": "小微企业信用画像（公益版）", "area": "营商环境", "use": "public_good"}
        ],
        "cost_revenue": "谁投入、谁贡献、谁受益；运营服务费按政府定价核算",
        "security_emergency": "数据沙箱内计算，结果出域审核，分级分类防护与应急预案",
        "rights_duties": "实施机构负责监督，运营机构依约开发运营，数源部门保障数据质量",
        "supervision": "市数据局统筹监督，网信、公安等部门按职责监管"
    }))
    .map_err(|e| format!("demo plan: {e}"))?;
    let plan = store.create_plan(&szzx, content, t).await.map_err(err)?;
    for (p, action, note, days) in [
        (&szzx, PlanAction::Submit, "提请审定", 0),
        (&sjj, PlanAction::Approve, "市政府常务会议审定", 1),
        (&sjj, PlanAction::File, "赣数备〔2026〕9号", 2),
        (&sjj, PlanAction::Activate, "", 0),
    ] {
        t += days * DAY_MS;
        store
            .plan_step(p, plan.id, action, note, filing_due_ms(calendar, t), t)
            .await
            .map_err(err)?;
    }

    // The open tender (公开招标) for the credit scenario.
    t += DAY_MS;
    let method = shuyun_domain::authorization::SelectionMethod::OpenTender;
    let earliest = method.earliest_deadline_ms(calendar, t);
    let spec: SelectionSpec = serde_json::from_value(json!({
        "title": "企业信用辅助评估场景运营机构遴选",
        "method": "open_tender",
        "scenario": "企业信用辅助评估",
        "criteria": [
            {"name": "技术方案", "weight": 40}, {"name": "运营能力", "weight": 30},
            {"name": "安全保障", "weight": 20}, {"name": "信用状况", "weight": 10}
        ],
        "application_deadline_ms": earliest + DAY_MS,
        "notice_working_days": 5,
        "min_applicants": 2
    }))
    .map_err(|e| format!("demo selection: {e}"))?;
    let sel = store
        .open_selection(&szzx, plan.id, spec, earliest, t)
        .await
        .map_err(err)?;
    for reviewer in [&szzx, &sjj] {
        store
            .add_reviewer(&szzx, sel.id, reviewer.user_id, t)
            .await
            .map_err(err)?;
    }
    t += DAY_MS;
    let a1 = store
        .apply_selection(
            &op1,
            sel.id,
            "瓷都数据运营：技术方案、运营团队、数据安全管理体系认证、信用报告",
            t,
        )
        .await
        .map_err(err)?;
    let a2 = store
        .apply_selection(&op2, sel.id, "昌南数智：技术方案、运营案例、信用报告", t)
        .await
        .map_err(err)?;
    t = sel.spec.application_deadline_ms + DAY_MS;
    let notice = |t: i64| sel.spec.notice_ends_ms(calendar, t);
    store
        .selection_step(&szzx, sel.id, SelectionAction::Close, "", notice(t), t)
        .await
        .map_err(err)?;
    for (reviewer, app, points) in [
        (&szzx, a1.id, [3600, 2600, 1800, 900]),
        (&sjj, a1.id, [3500, 2500, 1700, 900]),
        (&szzx, a2.id, [3000, 2400, 1600, 800]),
        (&sjj, a2.id, [3100, 2300, 1500, 700]),
    ] {
        store
            .score_application(reviewer, sel.id, app, &points, t)
            .await
            .map_err(err)?;
    }
    let published = store
        .selection_step(&szzx, sel.id, SelectionAction::Publish, "", notice(t), t)
        .await
        .map_err(err)?;
    t = published.notice_ends_at.ok_or("no notice period")? + DAY_MS;
    store
        .selection_step(&szzx, sel.id, SelectionAction::Award, "", notice(t), t)
        .await
        .map_err(err)?;

    // The operating agreement (运营协议) and the approved scenario.
    t += DAY_MS;
    let start = Date::from_epoch_ms_beijing(t);
    let rows = json!([{"op": "in", "field": "district", "values": [
        {"type": "string", "value": "珠山区"}, {"type": "string", "value": "昌江区"}
    ]}]);
    let vehicle_fields = json!([
        "plate_no",
        "vehicle_type",
        "operator_credit_code",
        "driver_id_number",
        "driver_name",
        "fuel"
    ]);
    let mut granted = vec![json!({
        "resource": code,
        "fields": ["credit_code", "name", "legal_rep", "district", "industry", "registered_capital", "credit_score", "credit_level"],
        "rows": rows
    })];
    granted.extend(
        vehicles
            .iter()
            .map(|v| json!({"resource": v, "fields": vehicle_fields})),
    );
    let content: AgreementContent = serde_json::from_value(json!({
        "term": {"start": start, "end": Term::last_day(start, 60)},
        "scope": {
            "resources": granted,
            "scenarios": ["企业信用辅助评估"],
            "purposes": ["industry_development"]
        },
        "products": [{"name": "企业信用辅助评估", "area": "金融服务", "use": "industry"}],
        "revenue_sharing": [
            {"party": "operator", "org_id": op1.org_id, "basis_points": 6000},
            {"party": "implementing_institution", "org_id": szzx.org_id, "basis_points": 4000}
        ]
    }))
    .map_err(|e| format!("demo agreement: {e}"))?;
    let agreement = store
        .draft_agreement(&szzx, sel.id, content, t)
        .await
        .map_err(err)?;
    for (action, note, days) in [
        (AgreementAction::Sign, "经集体决策后签订", 1),
        (AgreementAction::File, "赣数备〔2026〕协字3号", 3),
        (AgreementAction::Activate, "", 1),
    ] {
        t += days * DAY_MS;
        store
            .agreement_step(
                &szzx,
                agreement.id,
                action,
                note,
                filing_due_ms(calendar, t),
                t,
            )
            .await
            .map_err(err)?;
    }
    t += DAY_MS;
    let mut scenario_data = vec![json!({
        "resource": code,
        "fields": ["credit_code", "legal_rep", "district", "industry", "registered_capital", "credit_score", "credit_level"],
        "rows": rows
    })];
    scenario_data.extend(
        vehicles
            .iter()
            .map(|v| json!({"resource": v, "fields": vehicle_fields})),
    );
    let plan: ScenarioPlan = serde_json::from_value(json!({
        "name": "企业信用辅助评估",
        "purpose": "industry_development",
        "description": "为浮梁农商银行等金融机构提供小微企业信用辅助评估：按行业、区县的信用等级分布与评分统计，以及单户核验结果",
        "data": scenario_data,
        "outputs": ["aggregate", "verification", "api_service"],
        "security_measures": "数据沙箱内建模，输出经最小单元数检查和两人审核后出域，接口按合同限量调用",
        "product": {"name": "企业信用辅助评估", "kind": "api_service"}
    }))
    .map_err(|e| format!("demo scenario: {e}"))?;
    let sc = store
        .submit_scenario(&op1, agreement.id, plan, t)
        .await
        .map_err(err)?;
    t += DAY_MS;
    store
        .scenario_step(&szzx, sc.id, ScenarioAction::Approve, "同意开发", t)
        .await
        .map_err(err)?;
    for p in [&szzx, &sjj, &op1, &op2] {
        store.logout(p, t).await.map_err(err)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_codes_are_valid_and_distinct() {
        let codes: Vec<String> = DEMO_ACCOUNTS
            .iter()
            .enumerate()
            .map(|(n, a)| demo_credit_code(a.4, n + 1).to_string())
            .collect();
        let mut d = codes.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), codes.len());
        assert_eq!(
            DEMO_ACCOUNTS
                .iter()
                .filter(|a| a.4 == OrgKind::SourceDepartment)
                .count(),
            10
        );
    }
}
