//! Authorization lifecycle storage tests on SQLite and PostgreSQL: plan
//! versions, selections, agreements and scenarios, the access decision,
//! suspension and exit, disclosure; illegal steps refused with coded errors
//! and nothing changed; concurrent steps on one object exclusive.

use serde_json::{Value, json};
use shuyun_domain::authorization::{
    AccessRequest, AgreementAction, PlanAction, ScenarioAction, SelectionAction,
};
use shuyun_domain::calendar::WorkCalendar;
use shuyun_domain::catalogue::{
    DataDomain, FieldSpec, FieldType, Grade, GradeBasis, ImpactDegree, ImpactObject, PiTag, Schema,
    UpdateFrequency,
};
use shuyun_domain::workflow::NegativeAction;
use shuyun_domain::{ErrorCode, OrgKind};
use shuyun_ledger::NoteSigner;
use shuyun_store::accounts::{NewOrg, NewUser, Principal};
use shuyun_store::authorization::agreements::AgreementScope;
use shuyun_store::catalogue::{NewResource, Rights};
use shuyun_store::testing::TestDb;
use shuyun_store::{Backend, LedgerIdentity, Store, StoreError};

/// Monday 2026-09-28, 10:00 Beijing time.
const T0: i64 = 1_790_560_800_000;
const DAY: i64 = 86_400_000;
const PW: &str = "shuyun-demo-2026";

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { super::$name(shuyun_store::Backend::Sqlite).await })* }
        mod postgres { $(#[tokio::test] async fn $name() { super::$name(shuyun_store::Backend::Postgres).await })* }
    };
}

both_backends!(
    plan_versions,
    plan_concurrent_steps,
    selection_flow,
    selection_concurrent_steps,
    agreement_and_scenarios,
    agreement_concurrent_steps,
    exit_and_retention,
    disclosure,
    prohibitions,
    workspace_audit_and_release,
    differencing_history,
);

fn credit_code(n: usize, kind: OrgKind) -> shuyun_domain::CreditCode {
    let head = match kind {
        OrgKind::Operator | OrgKind::Buyer | OrgKind::Platform => "91",
        _ => "11",
    };
    let first = format!("{head}360200MA{n:07}");
    format!(
        "{first}{}",
        shuyun_domain::CreditCode::check_char(&first).expect("c")
    )
    .parse()
    .expect("cc")
}

struct World {
    store: Store,
    db: TestDb,
    cal: WorkCalendar,
    authority: Principal,
    institution: Principal,
    dept: Principal,
    op1: Principal,
    op2: Principal,
    regulator: Principal,
    /// The enterprise credit resource (360200-XY-000001).
    credit: String,
    /// A transport resource (360200-JT-000001).
    transport: String,
}

async fn world(backend: Backend) -> World {
    let db = TestDb::new(backend).await.expect("db");
    let store = Store::open(
        &db.url,
        LedgerIdentity {
            origin: "test/ledger".into(),
            signer: NoteSigner::generate("test/ledger").expect("key"),
        },
    )
    .await
    .expect("store");
    let mut ps = Vec::new();
    for (i, (user, kind)) in [
        ("sjj", OrgKind::DataAuthority),
        ("szzx", OrgKind::ImplementingInstitution),
        ("fgw", OrgKind::SourceDepartment),
        ("yunying1", OrgKind::Operator),
        ("yunying2", OrgKind::Operator),
        ("jianguan", OrgKind::Regulator),
    ]
    .into_iter()
    .enumerate()
    {
        let org = store
            .create_org(
                "system",
                NewOrg {
                    name: format!("机构{i}"),
                    name_en: format!("Org {i}"),
                    kind,
                    credit_code: credit_code(i + 1, kind),
                    division_code: "360200".parse().expect("d"),
                },
                T0,
            )
            .await
            .expect("org");
        store
            .create_user(
                "system",
                NewUser {
                    org_id: org.id,
                    username: user.parse().expect("u"),
                    display_name: user.into(),
                    password: PW.into(),
                },
                false,
                T0,
            )
            .await
            .expect("user");
        ps.push(
            store
                .login(user, PW, "test", T0)
                .await
                .expect("login")
                .principal,
        );
    }
    let division = "360200".parse().expect("d");
    let credit = store
        .register_resource(&ps[2], &division, resource(DataDomain::Credit), T0)
        .await
        .expect("credit")
        .code;
    let transport = store
        .register_resource(&ps[2], &division, resource(DataDomain::Transport), T0)
        .await
        .expect("transport")
        .code;
    let mut it = ps.into_iter();
    let mut next = || it.next().expect("principal");
    World {
        authority: next(),
        institution: next(),
        dept: next(),
        op1: next(),
        op2: next(),
        regulator: next(),
        store,
        db,
        cal: WorkCalendar::builtin(),
        credit,
        transport,
    }
}

fn field(name: &str, ty: FieldType, key: bool) -> FieldSpec {
    FieldSpec {
        name: name.parse().expect("name"),
        label: format!("{name}标签"),
        field_type: ty,
        unit: None,
        nullable: false,
        key,
        grade: Grade::General3,
        pi: PiTag::None,
    }
}

fn resource(domain: DataDomain) -> NewResource {
    NewResource {
        name: "企业信用信息".into(),
        description: "全市企业公共信用信息".into(),
        domain,
        frequency: UpdateFrequency::Monthly,
        source_system: "信用信息共享平台".into(),
        standard: "GB/T 22117".into(),
        contact: "信用科".into(),
        rights: Rights {
            holder: "景德镇市发改委".into(),
            processor: "数字经济发展中心".into(),
            operator: "待授权".into(),
        },
        shared_from_org_id: None,
        public: true,
        open_data: false,
        schema: Schema::new(vec![
            field("credit_code", FieldType::String, true),
            field("district", FieldType::String, false),
            field("credit_score", FieldType::Int64, false),
            field("credit_level", FieldType::String, false),
        ])
        .expect("schema"),
        grade: None,
        basis: GradeBasis {
            impact_object: ImpactObject::OrganisationRights,
            impact_degree: ImpactDegree::Moderate,
            reason: "企业经营信息".into(),
        },
    }
}

fn plan_json(codes: &[&str]) -> Value {
    json!({
        "name": "景德镇市公共数据资源授权运营实施方案",
        "necessity_feasibility": "数据资源富集但开发利用不足",
        "operator_criteria": "具备数据加工运营能力，经营和信用状况良好",
        "authorization": {"mode": "whole"},
        "data_scope": codes,
        "term_months": 60,
        "schedule": "2026年启动",
        "evaluation_exit": "期满评估，违约退出",
        "products": [
            {"name": "企业信用辅助评估", "area": "金融服务", "use": "industry"},
            {"name": "出行便民查询服务", "area": "交通运输", "use": "public_good"}
        ],
        "cost_revenue": "谁投入、谁贡献、谁受益",
        "security_emergency": "数据沙箱，应急预案",
        "rights_duties": "见协议",
        "supervision": "数据局监督"
    })
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("valid content")
}

fn code_of<T: std::fmt::Debug>(r: Result<T, StoreError>) -> ErrorCode {
    r.expect_err("refused").into_domain().code
}

async fn ledger_size(store: &Store) -> u64 {
    store
        .latest_checkpoint()
        .await
        .expect("checkpoint")
        .map_or(0, |c| c.size)
}

impl World {
    fn due(&self, now: i64) -> i64 {
        shuyun_domain::authorization::filing_due_ms(&self.cal, now)
    }

    /// A plan taken to `active`.
    async fn active_plan(&self, codes: &[&str], now: i64) -> i64 {
        let s = &self.store;
        let plan = s
            .create_plan(&self.institution, parse(plan_json(codes)), now)
            .await
            .expect("create");
        for (who, action) in [
            (&self.institution, PlanAction::Submit),
            (&self.authority, PlanAction::Approve),
        ] {
            s.plan_step(who, plan.id, action, "", self.due(now), now)
                .await
                .expect("step");
        }
        s.plan_step(
            &self.authority,
            plan.id,
            PlanAction::File,
            "赣数备〔2026〕1号",
            0,
            now,
        )
        .await
        .expect("file");
        s.plan_step(&self.authority, plan.id, PlanAction::Activate, "", 0, now)
            .await
            .expect("activate");
        plan.id
    }

    async fn finish(self) {
        assert!(
            self.store.verify_ledger().await.expect("verify").ok(),
            "the ledger verifies"
        );
        self.store.close().await;
        self.db.cleanup().await;
    }
}

async fn plan_versions(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let credit = w.credit.as_str();

    // Operators and departments do not draft; unknown resources and the
    // negative list keep a plan out.
    for who in [&w.op1, &w.op2, &w.dept] {
        assert_eq!(
            code_of(s.create_plan(who, parse(plan_json(&[credit])), T0).await),
            ErrorCode::Forbidden
        );
    }
    let e = s
        .create_plan(&w.institution, parse(plan_json(&["360200-HJ-000009"])), T0)
        .await
        .expect_err("unknown")
        .into_domain();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::Validation, Some("data_scope"))
    );

    let plan = s
        .create_plan(&w.institution, parse(plan_json(&[credit])), T0)
        .await
        .expect("create");
    assert_eq!((plan.version, plan.series_id), (1, plan.id));
    assert_eq!(plan.state.as_str(), "draft");

    // Filing an unapproved plan is refused and changes nothing.
    let size = ledger_size(s).await;
    assert_eq!(
        code_of(
            s.plan_step(&w.authority, plan.id, PlanAction::File, "赣数备1号", 0, T0)
                .await
        ),
        ErrorCode::Conflict
    );
    // The institution cannot approve; approval from draft needs a minor
    // revision.
    assert_eq!(
        code_of(
            s.plan_step(&w.institution, plan.id, PlanAction::Approve, "", 0, T0)
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(
            s.plan_step(&w.authority, plan.id, PlanAction::Approve, "", 0, T0)
                .await
        ),
        ErrorCode::Conflict
    );
    assert_eq!(ledger_size(s).await, size, "refusals write nothing");
    assert_eq!(s.plan(plan.id).await.expect("plan").state.as_str(), "draft");

    // Draft edits; submit; rejection needs reasons and returns to draft.
    let mut two = plan_json(&[credit, w.transport.as_str()]);
    two["term_months"] = json!(36);
    let plan = s
        .update_plan(&w.authority, plan.id, parse(two), T0)
        .await
        .expect("update");
    assert_eq!(plan.content.data_scope.len(), 2);
    s.plan_step(&w.institution, plan.id, PlanAction::Submit, "", 0, T0)
        .await
        .expect("submit");
    assert_eq!(
        code_of(
            s.update_plan(&w.institution, plan.id, parse(plan_json(&[credit])), T0)
                .await
        ),
        ErrorCode::Conflict,
        "no edits under deliberation"
    );
    assert_eq!(
        code_of(
            s.plan_step(&w.authority, plan.id, PlanAction::Reject, " ", 0, T0)
                .await
        ),
        ErrorCode::Validation
    );
    s.plan_step(&w.authority, plan.id, PlanAction::Reject, "期限过短", 0, T0)
        .await
        .expect("reject");
    let plan = s
        .update_plan(&w.institution, plan.id, parse(plan_json(&[credit])), T0)
        .await
        .expect("update");
    s.plan_step(&w.institution, plan.id, PlanAction::Submit, "", 0, T0)
        .await
        .expect("submit");
    let due = w.due(T0);
    let approved = s
        .plan_step(&w.authority, plan.id, PlanAction::Approve, "同意", due, T0)
        .await
        .expect("approve");
    assert_eq!(approved.state.as_str(), "approved");
    assert_eq!(approved.filing_due_at, Some(due));
    // Approved on Monday 28 September 2026: National Day pushes the 20th
    // working day to Friday 30 October.
    assert_eq!(
        due,
        "2026-10-30"
            .parse::<shuyun_domain::Date>()
            .expect("d")
            .end_epoch_ms_beijing()
    );
    // Immutable from here on.
    assert_eq!(
        code_of(
            s.update_plan(&w.institution, plan.id, parse(plan_json(&[credit])), T0)
                .await
        ),
        ErrorCode::Conflict
    );
    // Filing needs the document number.
    assert_eq!(
        code_of(
            s.plan_step(&w.authority, plan.id, PlanAction::File, "", 0, T0 + DAY)
                .await
        ),
        ErrorCode::Validation
    );
    let filed = s
        .plan_step(
            &w.authority,
            plan.id,
            PlanAction::File,
            "赣数备〔2026〕1号",
            0,
            T0 + DAY,
        )
        .await
        .expect("file");
    assert_eq!(filed.filing_reference, "赣数备〔2026〕1号");
    assert_eq!(filed.filing_due_at, Some(due), "the deadline is kept");
    s.plan_step(&w.authority, plan.id, PlanAction::Activate, "", 0, T0 + DAY)
        .await
        .expect("activate");

    // Revisions: nothing changed is refused; a minor change may be
    // approved from draft; a major one goes through deliberation.
    assert_eq!(
        code_of(
            s.revise_plan(&w.institution, plan.id, parse(plan_json(&[credit])), T0)
                .await
        ),
        ErrorCode::Conflict
    );
    let mut minor = plan_json(&[credit]);
    minor["supervision"] = json!("数据局与网信办联合监督");
    let v2 = s
        .revise_plan(&w.institution, plan.id, parse(minor), T0 + DAY)
        .await
        .expect("revise");
    assert_eq!(
        (
            v2.version,
            v2.series_id,
            v2.previous_id,
            v2.revision.as_str()
        ),
        (2, plan.series_id, Some(plan.id), "minor")
    );
    // One open version at a time.
    let mut major = plan_json(&[credit]);
    major["term_months"] = json!(48);
    assert_eq!(
        code_of(
            s.revise_plan(&w.institution, plan.id, parse(major.clone()), T0)
                .await
        ),
        ErrorCode::Conflict
    );
    // Editing the draft into a major change makes it a major revision.
    let v2 = s
        .update_plan(&w.institution, v2.id, parse(major), T0 + DAY)
        .await
        .expect("update");
    assert_eq!(v2.revision.as_str(), "major");
    assert_eq!(
        code_of(
            s.plan_step(&w.authority, v2.id, PlanAction::Approve, "", due, T0 + DAY)
                .await
        ),
        ErrorCode::Conflict,
        "a major change is deliberated"
    );
    for (who, action, note) in [
        (&w.institution, PlanAction::Submit, ""),
        (&w.authority, PlanAction::Approve, ""),
        (&w.authority, PlanAction::File, "赣数备〔2026〕2号"),
        (&w.authority, PlanAction::Activate, ""),
    ] {
        s.plan_step(who, v2.id, action, note, due, T0 + 2 * DAY)
            .await
            .expect("step");
    }
    let versions = s.plan_versions(plan.series_id).await.expect("versions");
    let states: Vec<&str> = versions.iter().map(|v| v.state.as_str()).collect();
    assert_eq!(states, vec!["superseded", "active"]);
    let steps = s
        .authorization_steps(shuyun_store::authorization::StepObject::Plan, plan.id)
        .await
        .expect("steps");
    assert_eq!(
        steps.iter().map(|s| s.action.as_str()).collect::<Vec<_>>(),
        vec![
            "submit",
            "reject",
            "submit",
            "approve",
            "file",
            "activate",
            "supersede"
        ]
    );

    // A resource put on the negative list cannot enter a plan, nor pass
    // a decision in a plan drafted before it was listed.
    let both = [credit, w.transport.as_str()];
    let p3 = s
        .create_plan(&w.institution, parse(plan_json(&both)), T0)
        .await
        .expect("create");
    let rid = s
        .resource_id_by_code(&w.transport)
        .await
        .expect("transport");
    let entry = s
        .request_negative(&w.dept, rid, "《数据安全法》第二十一条", T0)
        .await
        .expect("request");
    s.decide_negative(&w.authority, entry.id, NegativeAction::Approve, "", T0)
        .await
        .expect("approve");
    let e = s
        .create_plan(&w.institution, parse(plan_json(&both)), T0)
        .await
        .expect_err("negative")
        .into_domain();
    assert_eq!(e.code, ErrorCode::Validation);
    assert!(e.message.contains(&w.transport), "{}", e.message);
    assert_eq!(
        code_of(
            s.plan_step(&w.institution, p3.id, PlanAction::Submit, "", 0, T0)
                .await
        ),
        ErrorCode::Validation
    );
    // A regulator takes no step on a plan.
    assert_eq!(
        code_of(
            s.plan_step(&w.regulator, p3.id, PlanAction::Withdraw, "撤回", 0, T0)
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(s.plan(p3.id).await.expect("p3").state.as_str(), "draft");
    w.finish().await;
}

async fn plan_concurrent_steps(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let plan = s
        .create_plan(&w.institution, parse(plan_json(&[w.credit.as_str()])), T0)
        .await
        .expect("create");
    s.plan_step(&w.institution, plan.id, PlanAction::Submit, "", 0, T0)
        .await
        .expect("submit");
    // Approval and rejection at once: exactly one wins.
    let due = w.due(T0);
    let (a, b) = tokio::join!(
        s.plan_step(&w.authority, plan.id, PlanAction::Approve, "", due, T0),
        s.plan_step(&w.authority, plan.id, PlanAction::Reject, "再议", due, T0),
    );
    assert!(a.is_ok() != b.is_ok(), "exactly one step succeeds");
    let loser = if a.is_ok() { b } else { a };
    assert_eq!(code_of(loser), ErrorCode::Conflict);
    let steps = s
        .authorization_steps(shuyun_store::authorization::StepObject::Plan, plan.id)
        .await
        .expect("steps");
    assert_eq!(steps.len(), 2, "submit and one decision");
    w.finish().await;
}

/// Epoch ms of `hour` o'clock Beijing time on a date.
fn at(date: &str, hour: i64) -> i64 {
    date.parse::<shuyun_domain::Date>()
        .expect("date")
        .start_epoch_ms_beijing()
        + hour * 3_600_000
}

fn spec_json(deadline: i64) -> Value {
    json!({
        "title": "企业信用辅助评估运营机构遴选",
        "method": "open_tender",
        "criteria": [
            {"name": "技术方案", "weight": 40},
            {"name": "运营能力", "weight": 30},
            {"name": "安全保障", "weight": 20},
            {"name": "信用状况", "weight": 10}
        ],
        "application_deadline_ms": deadline,
        "notice_working_days": 5,
        "min_applicants": 2
    })
}

impl World {
    fn earliest(&self, spec: &Value, now: i64) -> i64 {
        let spec: shuyun_domain::authorization::SelectionSpec = parse(spec.clone());
        spec.method.earliest_deadline_ms(&self.cal, now)
    }

    /// An active plan with an announced selection closing at the end of
    /// 19 October 2026.
    async fn announced(&self) -> (i64, i64) {
        let plan = self.active_plan(&[self.credit.as_str()], T0).await;
        let spec = spec_json(at("2026-10-20", 0) - 1);
        let sel = self
            .store
            .open_selection(
                &self.institution,
                plan,
                parse(spec.clone()),
                self.earliest(&spec, T0),
                T0,
            )
            .await
            .expect("open");
        (plan, sel.id)
    }
}

async fn selection_flow(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let plan = w.active_plan(&[w.credit.as_str()], T0).await;

    // Operators do not announce; the deadline leaves 20 days for a tender.
    let early = spec_json(at("2026-10-17", 12));
    assert_eq!(
        code_of(
            s.open_selection(
                &w.op1,
                plan,
                parse(early.clone()),
                w.earliest(&early, T0),
                T0
            )
            .await
        ),
        ErrorCode::Forbidden
    );
    let e = s
        .open_selection(
            &w.institution,
            plan,
            parse(early.clone()),
            w.earliest(&early, T0),
            T0,
        )
        .await
        .expect_err("too early")
        .into_domain();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::Validation, Some("application_deadline_ms"))
    );
    let deadline = at("2026-10-20", 0) - 1;
    let spec = spec_json(deadline);
    let sel = s
        .open_selection(
            &w.institution,
            plan,
            parse(spec.clone()),
            w.earliest(&spec, T0),
            T0,
        )
        .await
        .expect("open");
    assert_eq!(sel.state.as_str(), "announced");

    // Applications: operators, once each, until the deadline.
    let t1 = T0 + DAY;
    assert_eq!(
        code_of(s.apply_selection(&w.institution, sel.id, "材料", t1).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(s.apply_selection(&w.op1, sel.id, "  ", t1).await),
        ErrorCode::Validation
    );
    let a1 = s
        .apply_selection(&w.op1, sel.id, "瓷都数据运营：技术方案与安全保障", t1)
        .await
        .expect("apply");
    assert_eq!(
        code_of(s.apply_selection(&w.op1, sel.id, "再次申请", t1).await),
        ErrorCode::Conflict
    );
    let a2 = s
        .apply_selection(&w.op2, sel.id, "昌南数智：运营能力与信用", t1 + 1)
        .await
        .expect("apply");
    assert_eq!(
        code_of(
            s.selection_step(&w.institution, sel.id, SelectionAction::Close, "", 0, t1)
                .await
        ),
        ErrorCode::Conflict,
        "applications are open until the deadline"
    );
    let late = deadline + 3_600_000;
    assert_eq!(
        code_of(s.apply_selection(&w.op2, sel.id, "迟到", late).await),
        ErrorCode::Conflict
    );
    // The panel: the institution, the data authority, and someone of an
    // applicant's organisation (who abstains on it).
    for u in [&w.institution, &w.authority, &w.op2] {
        s.add_reviewer(&w.institution, sel.id, u.user_id, t1)
            .await
            .expect("reviewer");
    }
    let closed = s
        .selection_step(&w.institution, sel.id, SelectionAction::Close, "", 0, late)
        .await
        .expect("close");
    assert_eq!(closed.state.as_str(), "reviewing");

    // Scoring one's own organisation's application is refused and stores
    // nothing; so are strangers, bad counts and too many points.
    let size = ledger_size(s).await;
    assert_eq!(
        code_of(
            s.score_application(&w.op2, sel.id, a2.id, &[3000, 2000, 1000, 500], late)
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(
            s.score_application(&w.regulator, sel.id, a1.id, &[3000, 2000, 1000, 500], late)
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(
            s.score_application(&w.institution, sel.id, a1.id, &[3000, 2000], late)
                .await
        ),
        ErrorCode::Validation
    );
    assert_eq!(
        code_of(
            s.score_application(
                &w.institution,
                sel.id,
                a1.id,
                &[4001, 2000, 1000, 500],
                late
            )
            .await
        ),
        ErrorCode::Validation
    );
    assert_eq!(ledger_size(s).await, size);
    let detail = s.selection_detail(&w.op2, sel.id).await.expect("detail");
    assert!(detail.scores.is_empty());
    // Publishing before the review is complete is refused.
    for (who, app, pts) in [
        (&w.institution, a1.id, [3600, 2500, 1800, 900]),
        (&w.authority, a1.id, [3400, 2600, 1700, 900]),
        (&w.op2, a1.id, [3000, 2000, 1500, 800]),
        (&w.institution, a2.id, [3000, 2400, 1600, 800]),
    ] {
        s.score_application(who, sel.id, app, &pts, late)
            .await
            .expect("score");
    }
    assert_eq!(
        code_of(
            s.selection_step(
                &w.institution,
                sel.id,
                SelectionAction::Publish,
                "",
                0,
                late
            )
            .await
        ),
        ErrorCode::Conflict
    );
    // A reviewer may correct their scores while reviewing.
    s.score_application(&w.authority, sel.id, a2.id, &[3000, 2000, 1000, 500], late)
        .await
        .expect("score");
    s.score_application(&w.authority, sel.id, a2.id, &[3100, 2300, 1500, 700], late)
        .await
        .expect("rescore");
    let ranking = s.selection_ranking(sel.id).await.expect("ranking");
    assert_eq!(ranking[0].application_id, a1.id);
    assert_eq!((ranking[0].reviewers, ranking[1].reviewers), (3, 2));

    // Public notice: 5 working days from Tuesday 20 October.
    let published_at = at("2026-10-20", 10);
    let notice_ends = parse::<shuyun_domain::authorization::SelectionSpec>(spec.clone())
        .notice_ends_ms(&w.cal, published_at);
    assert_eq!(notice_ends, at("2026-10-28", 0) - 1);
    let published = s
        .selection_step(
            &w.institution,
            sel.id,
            SelectionAction::Publish,
            "",
            notice_ends,
            published_at,
        )
        .await
        .expect("publish");
    assert_eq!(published.state.as_str(), "public_notice");
    assert_eq!(published.notice_ends_at, Some(notice_ends));
    assert_eq!(published.ranking.as_ref().map(Vec::len), Some(2));
    // Objections during the notice block the award until answered.
    let o = s
        .raise_objection(
            &w.op2,
            sel.id,
            "评分未考虑我方信用等级证明",
            at("2026-10-21", 9),
        )
        .await
        .expect("object");
    let after = at("2026-10-28", 9);
    assert_eq!(
        code_of(
            s.selection_step(
                &w.institution,
                sel.id,
                SelectionAction::Award,
                "",
                0,
                at("2026-10-27", 9)
            )
            .await
        ),
        ErrorCode::Conflict,
        "the notice runs"
    );
    assert_eq!(
        code_of(
            s.selection_step(&w.institution, sel.id, SelectionAction::Award, "", 0, after)
                .await
        ),
        ErrorCode::Conflict,
        "an objection awaits its answer"
    );
    assert_eq!(
        code_of(
            s.raise_objection(&w.op2, sel.id, "再提异议一次", after)
                .await
        ),
        ErrorCode::Conflict,
        "the notice has ended"
    );
    assert_eq!(
        code_of(s.answer_objection(&w.op1, o.id, false, "无", after).await),
        ErrorCode::Forbidden
    );
    let answered = s
        .answer_objection(
            &w.institution,
            o.id,
            false,
            "信用状况已按证明评分，维持结果",
            after,
        )
        .await
        .expect("answer");
    assert_eq!(answered.state.as_str(), "dismissed");
    assert_eq!(
        code_of(
            s.answer_objection(&w.institution, o.id, true, "改判", after)
                .await
        ),
        ErrorCode::Conflict
    );
    let awarded = s
        .selection_step(&w.institution, sel.id, SelectionAction::Award, "", 0, after)
        .await
        .expect("award");
    assert_eq!(awarded.state.as_str(), "awarded");
    assert_eq!(awarded.awarded_org_id, Some(w.op1.org_id));
    assert_eq!(
        code_of(
            s.selection_step(
                &w.institution,
                sel.id,
                SelectionAction::Cancel,
                "取消",
                0,
                after
            )
            .await
        ),
        ErrorCode::Conflict
    );
    // What each may see.
    let mine = s.selection_detail(&w.op1, sel.id).await.expect("detail");
    assert_eq!(mine.applications.len(), 1);
    assert!(mine.objections.is_empty() && mine.panel.is_empty());
    let all = s
        .selection_detail(&w.regulator, sel.id)
        .await
        .expect("detail");
    assert_eq!((all.applications.len(), all.scores.len()), (2, 20));
    assert_eq!(
        all.steps
            .iter()
            .map(|s| s.action.as_str())
            .collect::<Vec<_>>(),
        vec!["open", "close", "publish", "award"]
    );
    w.finish().await;
}

async fn selection_concurrent_steps(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let (_, sel) = w.announced().await;
    for op in [&w.op1, &w.op2] {
        s.apply_selection(op, sel, "申请材料", T0 + DAY)
            .await
            .expect("apply");
    }
    let late = at("2026-10-20", 9);
    // Two officials closing at once: exactly one succeeds (closing a
    // closed selection is illegal).
    let (a, b) = tokio::join!(
        s.selection_step(&w.institution, sel, SelectionAction::Close, "", 0, late),
        s.selection_step(&w.institution, sel, SelectionAction::Close, "", 0, late),
    );
    assert!(a.is_ok() != b.is_ok(), "exactly one step succeeds");
    assert_eq!(code_of(if a.is_ok() { b } else { a }), ErrorCode::Conflict);
    // A plan that is not approved selects no one.
    let draft = s
        .create_plan(&w.institution, parse(plan_json(&[w.credit.as_str()])), T0)
        .await
        .expect("draft");
    let spec = spec_json(at("2026-10-20", 0));
    assert_eq!(
        code_of(
            s.open_selection(
                &w.institution,
                draft.id,
                parse(spec.clone()),
                w.earliest(&spec, T0),
                T0
            )
            .await
        ),
        ErrorCode::Conflict
    );
    w.finish().await;
}

impl World {
    /// A selection under an active plan awarded to yunying1.
    async fn awarded(&self) -> (i64, i64) {
        let s = &self.store;
        let (plan, sel) = self.announced().await;
        for op in [&self.op1, &self.op2] {
            s.apply_selection(op, sel, "申请材料", T0 + DAY)
                .await
                .expect("apply");
        }
        let t = at("2026-10-20", 9);
        s.add_reviewer(&self.institution, sel, self.authority.user_id, T0)
            .await
            .expect("panel");
        s.selection_step(&self.institution, sel, SelectionAction::Close, "", 0, t)
            .await
            .expect("close");
        let d = s.selection_detail(&self.authority, sel).await.expect("d");
        for (app, pts) in d
            .applications
            .iter()
            .zip([[4000, 3000, 2000, 1000], [3000, 2000, 1000, 500]])
        {
            s.score_application(&self.authority, sel, app.id, &pts, t)
                .await
                .expect("score");
        }
        s.selection_step(
            &self.institution,
            sel,
            SelectionAction::Publish,
            "",
            t + DAY,
            t,
        )
        .await
        .expect("publish");
        let sel = s
            .selection_step(
                &self.institution,
                sel,
                SelectionAction::Award,
                "",
                0,
                t + 2 * DAY,
            )
            .await
            .expect("award");
        assert_eq!(sel.awarded_org_id, Some(self.op1.org_id));
        (plan, sel.id)
    }

    fn agreement_json(&self, start: &str, end: &str) -> Value {
        json!({
            "term": {"start": start, "end": end},
            "scope": {
                "resources": [{
                    "resource": self.credit,
                    "fields": ["credit_code", "district", "credit_level"],
                    "rows": [{"op": "eq", "field": "district", "value": {"type": "string", "value": "珠山区"}}]
                }],
                "purposes": ["industry_development"]
            },
            "products": [{"name": "企业信用辅助评估", "area": "金融服务", "use": "industry"}],
            "revenue_sharing": [
                {"party": "operator", "org_id": self.op1.org_id, "basis_points": 7000},
                {"party": "implementing_institution", "org_id": self.institution.org_id, "basis_points": 3000}
            ]
        })
    }

    fn scenario_json(&self, name: &str, fields: &[&str]) -> Value {
        json!({
            "name": name,
            "purpose": "industry_development",
            "description": "为银行提供企业信用辅助评估核验",
            "data": [{
                "resource": self.credit, "fields": fields,
                "rows": [{"op": "eq", "field": "district", "value": {"type": "string", "value": "珠山区"}}]
            }],
            "outputs": ["verification", "api_service"],
            "security_measures": "数据沙箱内计算，结果出域审核",
            "product": {"name": "企业信用辅助评估", "kind": "api_service"}
        })
    }

    fn ask(&self, field: Option<&str>, scenario: Option<i64>) -> AccessRequest {
        AccessRequest {
            org_id: 0,
            resource: self.credit.parse().expect("code"),
            field: field.map(|f| f.parse().expect("field")),
            purpose: None,
            scenario_id: scenario,
        }
    }

    /// An active agreement (from 2026-11-01 for five years) with an
    /// approved scenario: (agreement, scenario).
    async fn active_agreement(&self) -> (i64, i64) {
        let s = &self.store;
        let (_, sel) = self.awarded().await;
        let now = at("2026-10-30", 9);
        let a = s
            .draft_agreement(
                &self.institution,
                sel,
                parse(self.agreement_json("2026-11-01", "2031-10-31")),
                now,
            )
            .await
            .expect("draft");
        for (action, note) in [
            (AgreementAction::Sign, ""),
            (AgreementAction::File, "赣数备〔2026〕21号"),
            (AgreementAction::Activate, ""),
        ] {
            s.agreement_step(&self.institution, a.id, action, note, self.due(now), now)
                .await
                .expect("step");
        }
        let sc = s
            .submit_scenario(
                &self.op1,
                a.id,
                parse(self.scenario_json("企业信用辅助评估", &["credit_code", "credit_level"])),
                now,
            )
            .await
            .expect("submit");
        s.scenario_step(&self.institution, sc.id, ScenarioAction::Approve, "", now)
            .await
            .expect("approve");
        (a.id, sc.id)
    }
}

fn reason_of(d: &shuyun_domain::authorization::Decision) -> Option<&'static str> {
    d.deny_reason().map(|r| r.as_str())
}

async fn agreement_and_scenarios(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let (_, sel) = w.awarded().await;
    let now = at("2026-10-30", 9);
    let good = w.agreement_json("2026-10-30", "2031-10-29");

    // Bad drafts: an operator drafting, resources beyond the plan, fields
    // not in the schema, a six-year term.
    assert_eq!(
        code_of(
            s.draft_agreement(&w.op1, sel, parse(good.clone()), now)
                .await
        ),
        ErrorCode::Forbidden
    );
    let mut beyond = good.clone();
    beyond["scope"]["resources"]
        .as_array_mut()
        .expect("resources")
        .push(json!({"resource": w.transport}));
    assert_eq!(
        code_of(
            s.draft_agreement(&w.institution, sel, parse(beyond), now)
                .await
        ),
        ErrorCode::Forbidden
    );
    let mut bad_field = good.clone();
    bad_field["scope"]["resources"][0]["fields"] = json!(["credit_code", "no_such_field"]);
    assert_eq!(
        code_of(
            s.draft_agreement(&w.institution, sel, parse(bad_field), now)
                .await
        ),
        ErrorCode::Validation
    );
    let mut bad_share = good.clone();
    bad_share["revenue_sharing"][0]["org_id"] = json!(w.op2.org_id);
    assert_eq!(
        code_of(
            s.draft_agreement(&w.institution, sel, parse(bad_share), now)
                .await
        ),
        ErrorCode::Validation
    );
    let six = w.agreement_json("2026-10-30", "2032-10-29");
    assert!(
        serde_json::from_value::<shuyun_domain::authorization::AgreementContent>(six).is_err(),
        "a six-year term cannot even be written"
    );

    let a = s
        .draft_agreement(&w.institution, sel, parse(good.clone()), now)
        .await
        .expect("draft");
    assert_eq!(
        (a.state.as_str(), a.operator_org_id),
        ("drafted", w.op1.org_id)
    );
    assert_eq!(
        code_of(
            s.draft_agreement(&w.institution, sel, parse(good.clone()), now)
                .await
        ),
        ErrorCode::Conflict,
        "one agreement per award"
    );
    // Steps out of order change nothing.
    assert_eq!(
        code_of(
            s.agreement_step(&w.institution, a.id, AgreementAction::Activate, "", 0, now)
                .await
        ),
        ErrorCode::Conflict
    );
    let signed = s
        .agreement_step(
            &w.institution,
            a.id,
            AgreementAction::Sign,
            "",
            w.due(now),
            now,
        )
        .await
        .expect("sign");
    assert_eq!(signed.filing_due_at, Some(w.due(now)));
    assert_eq!(
        code_of(
            s.update_agreement(&w.institution, a.id, parse(good.clone()), now)
                .await
        ),
        ErrorCode::Conflict,
        "a signed agreement is immutable"
    );
    // Only its operator and the readers of the lifecycle see it.
    assert!(
        s.agreement(AgreementScope::of(&w.op1), a.id, now)
            .await
            .is_ok()
    );
    assert_eq!(
        code_of(s.agreement(AgreementScope::of(&w.op2), a.id, now).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        s.agreements(AgreementScope::of(&w.regulator), now)
            .await
            .expect("all")
            .len(),
        1
    );
    // Not active yet: no access.
    let d = s
        .authorize(&w.op1, w.ask(None, None), now)
        .await
        .expect("decide");
    assert_eq!(reason_of(&d), Some("agreement_not_active"));
    s.agreement_step(
        &w.institution,
        a.id,
        AgreementAction::File,
        "赣数备〔2026〕21号",
        0,
        now,
    )
    .await
    .expect("file");
    // Scenario plans are submitted on a filed or active agreement, but
    // approved only on an active one.
    let sc = s
        .submit_scenario(
            &w.op1,
            a.id,
            parse(w.scenario_json("企业信用辅助评估", &["credit_code", "credit_level"])),
            now,
        )
        .await
        .expect("submit");
    assert_eq!(
        code_of(
            s.scenario_step(&w.institution, sc.id, ScenarioAction::Approve, "", now)
                .await
        ),
        ErrorCode::Conflict
    );
    s.agreement_step(&w.institution, a.id, AgreementAction::Activate, "", 0, now)
        .await
        .expect("activate");
    // Beyond the scope, another operator, a duplicate: refused.
    assert_eq!(
        code_of(
            s.submit_scenario(
                &w.op1,
                a.id,
                parse(w.scenario_json("信用评分", &["credit_score"])),
                now
            )
            .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(
            s.submit_scenario(
                &w.op2,
                a.id,
                parse(w.scenario_json("x", &["credit_code"])),
                now
            )
            .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(
        code_of(
            s.submit_scenario(
                &w.op1,
                a.id,
                parse(w.scenario_json("企业信用辅助评估", &["credit_code"])),
                now
            )
            .await
        ),
        ErrorCode::Conflict
    );
    // Before approval, no access; the operator does not approve.
    let d = s
        .authorize(&w.op1, w.ask(None, Some(sc.id)), now)
        .await
        .expect("d");
    assert_eq!(reason_of(&d), Some("scenario_not_approved"));
    assert_eq!(
        code_of(
            s.scenario_step(&w.op1, sc.id, ScenarioAction::Approve, "", now)
                .await
        ),
        ErrorCode::Forbidden
    );
    s.scenario_step(
        &w.institution,
        sc.id,
        ScenarioAction::Approve,
        "同意开发",
        now,
    )
    .await
    .expect("approve");

    // The decision: fields narrowed to the scenario's, rows filtered.
    let d = s
        .authorize(&w.op1, w.ask(None, Some(sc.id)), now)
        .await
        .expect("d");
    let allow = d.clone().into_result().expect("allowed");
    assert_eq!(allow.agreement_id, a.id);
    assert_eq!(
        serde_json::to_value(&allow.fields).expect("json"),
        json!(["credit_code", "credit_level"])
    );
    assert_eq!(
        allow.rows.map(|r| r.to_string()).as_deref(),
        Some("district = '珠山区'")
    );
    for (ask, want) in [
        (
            w.ask(Some("district"), Some(sc.id)),
            "outside_scenario_data",
        ),
        (
            w.ask(Some("credit_score"), Some(sc.id)),
            "field_not_in_scope",
        ),
        (w.ask(None, None), "scenario_required"),
        (w.ask(None, Some(999)), "scenario_not_approved"),
    ] {
        let d = s.authorize(&w.op1, ask, now).await.expect("d");
        assert_eq!(reason_of(&d), Some(want));
    }
    let mut welfare = w.ask(None, Some(sc.id));
    welfare.purpose = Some(shuyun_domain::authorization::Purpose::PublicWelfare);
    assert_eq!(
        reason_of(&s.authorize(&w.op1, welfare, now).await.expect("d")),
        Some("purpose_mismatch")
    );
    // Another organisation gets nothing through yunying1's scenario (no
    // sharing or sub-licensing), whatever its request says.
    let mut borrowed = w.ask(None, Some(sc.id));
    borrowed.org_id = w.op1.org_id;
    assert_eq!(
        reason_of(&s.authorize(&w.op2, borrowed, now).await.expect("d")),
        Some("not_operator")
    );
    let mut transport = w.ask(None, Some(sc.id));
    transport.resource = w.transport.parse().expect("code");
    assert_eq!(
        reason_of(&s.authorize(&w.op1, transport, now).await.expect("d")),
        Some("resource_not_in_scope")
    );

    // Suspension (a regulator may order it) cuts access on the next call;
    // nothing is approved meanwhile; reinstatement restores it.
    let sc2 = s
        .submit_scenario(
            &w.op1,
            a.id,
            parse(w.scenario_json("普惠金融服务", &["credit_code"])),
            now,
        )
        .await
        .expect("submit");
    assert_eq!(
        code_of(
            s.agreement_step(&w.regulator, a.id, AgreementAction::Suspend, "", 0, now)
                .await
        ),
        ErrorCode::Validation,
        "a suspension gives its reasons"
    );
    s.agreement_step(
        &w.regulator,
        a.id,
        AgreementAction::Suspend,
        "数据安全风险排查",
        0,
        now,
    )
    .await
    .expect("suspend");
    let d = s
        .authorize(&w.op1, w.ask(None, Some(sc.id)), now)
        .await
        .expect("d");
    assert_eq!(reason_of(&d), Some("agreement_not_active"));
    let size = ledger_size(s).await;
    assert_eq!(
        code_of(
            s.scenario_step(&w.institution, sc2.id, ScenarioAction::Approve, "", now)
                .await
        ),
        ErrorCode::Conflict
    );
    assert_eq!(ledger_size(s).await, size);
    assert_eq!(
        s.scenario(sc2.id).await.expect("sc2").state.as_str(),
        "submitted"
    );
    assert_eq!(
        code_of(
            s.agreement_step(&w.regulator, a.id, AgreementAction::Reinstate, "", 0, now)
                .await
        ),
        ErrorCode::Forbidden
    );
    s.agreement_step(
        &w.authority,
        a.id,
        AgreementAction::Reinstate,
        "整改完成",
        0,
        now,
    )
    .await
    .expect("reinstate");
    assert!(
        s.authorize(&w.op1, w.ask(None, Some(sc.id)), now)
            .await
            .expect("d")
            .is_allowed()
    );
    // A resource put on the negative list since is denied.
    let rid = s.resource_id_by_code(&w.credit).await.expect("id");
    let entry = s
        .request_negative(&w.dept, rid, "《数据安全法》第二十一条", now)
        .await
        .expect("request");
    s.decide_negative(&w.authority, entry.id, NegativeAction::Approve, "", now)
        .await
        .expect("approve");
    let d = s
        .authorize(&w.op1, w.ask(None, Some(sc.id)), now)
        .await
        .expect("d");
    assert_eq!(reason_of(&d), Some("resource_not_in_scope"));
    s.decide_negative(&w.dept, entry.id, NegativeAction::Withdraw, "解除", now)
        .await
        .expect("lift");

    // Renewal: a new drafted agreement for the following term.
    let r = s
        .renew_agreement(&w.institution, a.id, "2036-10-29".parse().expect("d"), now)
        .await
        .expect("renew");
    assert_eq!(
        (
            r.state.as_str(),
            r.renewal_of,
            r.content.term.start.to_string()
        ),
        ("drafted", Some(a.id), "2031-10-30".to_string())
    );
    let again = s
        .renew_agreement(&w.institution, a.id, "2036-10-29".parse().expect("d"), now)
        .await
        .expect_err("one renewal at a time")
        .into_domain();
    assert_eq!(again.code, ErrorCode::Conflict, "{again:?}");

    // Expiry: derived from the clock at once, recorded by the sweep.
    let later = at("2031-10-30", 0);
    let d = s
        .authorize(&w.op1, w.ask(None, Some(sc.id)), later)
        .await
        .expect("d");
    assert_eq!(reason_of(&d), Some("agreement_expired"));
    let shown = s
        .agreement(AgreementScope::All, a.id, later)
        .await
        .expect("a");
    assert_eq!(
        (shown.state.as_str(), shown.recorded_state.as_str()),
        ("expired", "active")
    );
    assert!(s.expire_due(later - 1).await.expect("sweep").is_empty());
    assert_eq!(s.expire_due(later).await.expect("sweep"), vec![a.id]);
    assert!(s.expire_due(later).await.expect("sweep").is_empty());
    let steps = s
        .authorization_steps(shuyun_store::authorization::StepObject::Agreement, a.id)
        .await
        .expect("steps");
    let last = steps.last().expect("step");
    assert_eq!((last.action.as_str(), last.actor), ("expire", None));
    // Expiry opens the exit by itself.
    let exit = s.exit(a.id).await.expect("exit");
    assert_eq!((exit.cause.as_str(), exit.exited_at), ("expiry", later));
    w.finish().await;
}

async fn agreement_concurrent_steps(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let (a, sc) = w.active_agreement().await;
    let now = at("2026-11-02", 9);
    assert!(
        s.authorize(&w.op1, w.ask(None, Some(sc)), now)
            .await
            .expect("d")
            .is_allowed()
    );
    // Termination and the operator's exit at once (each final): exactly
    // one wins.
    let (x, y) = tokio::join!(
        s.agreement_step(
            &w.institution,
            a,
            AgreementAction::Exit,
            "运营机构申请退出",
            0,
            now
        ),
        s.agreement_step(
            &w.authority,
            a,
            AgreementAction::Terminate,
            "严重违约",
            0,
            now
        ),
    );
    assert!(
        x.is_ok() != y.is_ok(),
        "exactly one step succeeds: {x:?} {y:?}"
    );
    assert_eq!(code_of(if x.is_ok() { y } else { x }), ErrorCode::Conflict);
    let d = s
        .authorize(&w.op1, w.ask(None, Some(sc)), now)
        .await
        .expect("d");
    assert_eq!(reason_of(&d), Some("agreement_not_active"));
    w.finish().await;
}

async fn exit_and_retention(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let (a, sc) = w.active_agreement().await;
    let now = at("2027-03-01", 10);
    assert_eq!(
        code_of(s.exit(a).await),
        ErrorCode::NotFound,
        "no exit while in operation"
    );
    // A suspension is no exit: nothing is deleted.
    s.agreement_step(
        &w.institution,
        a,
        AgreementAction::Suspend,
        "违规排查",
        0,
        now,
    )
    .await
    .expect("suspend");
    assert_eq!(code_of(s.exit(a).await), ErrorCode::NotFound);
    // Termination for a violation: access cut, the exit opens at once.
    s.agreement_step(
        &w.authority,
        a,
        AgreementAction::Terminate,
        "违反协议约定，终止运营权",
        0,
        now,
    )
    .await
    .expect("terminate");
    let d = s
        .authorize(&w.op1, w.ask(None, Some(sc)), now)
        .await
        .expect("d");
    assert_eq!(reason_of(&d), Some("agreement_not_active"));
    let exit = s.exit(a).await.expect("exit");
    assert_eq!(exit.cause.as_str(), "termination");
    assert_eq!(
        exit.copies_due_at, now,
        "working copies are deleted at once"
    );
    assert_eq!(exit.logs_retained_until, at("2030-03-02", 0));
    assert_eq!(exit.handover.items().len(), 6);
    assert!(!exit.complete);
    assert_eq!(s.destructions_due(now).await.expect("due").len(), 1);
    assert!(s.destructions_due(now - 1).await.expect("due").is_empty());

    // The destruction record needs a second person outside the operator.
    let size = ledger_size(s).await;
    for (confirmer, code) in [
        (w.institution.user_id, ErrorCode::Forbidden),
        (w.op1.user_id, ErrorCode::Forbidden),
        (999_999, ErrorCode::Validation),
    ] {
        assert_eq!(
            code_of(
                s.record_destruction(
                    &w.institution,
                    a,
                    "运营机构工作区 7 及其副本",
                    "删除对象及加密密钥",
                    confirmer,
                    now
                )
                .await
            ),
            code
        );
    }
    assert_eq!(
        code_of(
            s.record_destruction(&w.op1, a, "工作区", "删除", w.authority.user_id, now)
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(ledger_size(s).await, size, "refusals write nothing");
    let exit = s
        .record_destruction(
            &w.institution,
            a,
            "运营机构工作区 7 及其副本",
            "删除对象及加密密钥",
            w.authority.user_id,
            now,
        )
        .await
        .expect("destroy");
    let record = exit.destruction.clone().expect("record");
    assert_eq!(
        (record.destroyed_by_user_id, record.confirmed_by_user_id),
        (w.institution.user_id, w.authority.user_id)
    );
    let entries = s
        .ledger_entries(&shuyun_store::ledger::EntryFilter {
            action: Some("exit.destroy".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("ledger");
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].detail["destruction"]["object"],
        "运营机构工作区 7 及其副本"
    );
    assert_eq!(
        code_of(
            s.record_destruction(&w.institution, a, "再次", "删除", w.authority.user_id, now)
                .await
        ),
        ErrorCode::Conflict
    );
    assert!(s.destructions_due(now).await.expect("due").is_empty());

    // Handover tracked item by item to completion.
    let delete_item = exit
        .handover
        .items()
        .iter()
        .position(|i| i.kind.as_str() == "delete_working_copies")
        .expect("item");
    assert!(exit.handover.items()[delete_item].done_at_ms.is_some());
    assert_eq!(
        code_of(
            s.complete_handover(&w.institution, a, delete_item, "x", now)
                .await
        ),
        ErrorCode::Conflict
    );
    assert_eq!(
        code_of(s.complete_handover(&w.institution, a, 99, "x", now).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code_of(s.complete_handover(&w.op1, a, 0, "x", now).await),
        ErrorCode::Forbidden
    );
    let exit = s
        .add_handover_item(&w.institution, a, "归还纸质资料", now)
        .await
        .expect("add");
    let open: Vec<usize> = exit.handover.outstanding().map(|(i, _)| i).collect();
    assert_eq!(open.len(), 6);
    for i in open {
        s.complete_handover(&w.institution, a, i, "见交接清单", now)
            .await
            .expect("complete");
    }
    assert_eq!(
        code_of(
            s.complete_handover(&w.institution, a, 0, "again", now)
                .await
        ),
        ErrorCode::Conflict
    );
    assert!(s.exit(a).await.expect("exit").complete);

    // Work logs are kept three years: releasing them earlier is refused.
    let size = ledger_size(s).await;
    assert_eq!(
        code_of(
            s.release_work_logs(&w.institution, a, at("2030-03-01", 23))
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(ledger_size(s).await, size);
    assert!(s.exit(a).await.expect("exit").logs_released_at.is_none());
    let released = s
        .release_work_logs(&w.institution, a, at("2030-03-02", 0))
        .await
        .expect("release");
    assert_eq!(released.logs_released_at, Some(at("2030-03-02", 0)));
    assert_eq!(
        code_of(
            s.release_work_logs(&w.institution, a, at("2030-03-03", 0))
                .await
        ),
        ErrorCode::Conflict
    );
    // Nothing leads out of termination.
    assert_eq!(
        code_of(
            s.agreement_step(&w.authority, a, AgreementAction::Reinstate, "", 0, now)
                .await
        ),
        ErrorCode::Conflict
    );
    w.finish().await;
}

async fn disclosure(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let (a, _) = w.active_agreement().await;
    // A draft plan and a drafted renewal stay out of view.
    s.create_plan(&w.institution, parse(plan_json(&[w.credit.as_str()])), T0)
        .await
        .expect("draft");
    let now = at("2026-11-02", 9);
    s.renew_agreement(&w.institution, a, "2036-10-31".parse().expect("d"), now)
        .await
        .expect("renew");
    let plans = s.public_plans().await.expect("plans");
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].state.as_str(), "active");
    let json = serde_json::to_value(&plans[0]).expect("json");
    assert!(json.get("cost_revenue").is_none() && json.get("security_emergency").is_none());
    let list = s.public_authorizations(now).await.expect("list");
    assert_eq!(list.len(), 1);
    let d = &list[0];
    assert_eq!(
        (d.agreement.agreement_id, d.agreement.state.as_str()),
        (a, "active")
    );
    assert_eq!(d.operator_org_name, "机构3");
    assert!(
        d.scope_summary[0].contains("企业信用信息"),
        "{:?}",
        d.scope_summary
    );
    assert!(d.scope_summary[0].contains("district = '珠山区'"));
    assert_eq!(
        d.scope_summary.last().map(String::as_str),
        Some("用途：产业发展")
    );
    let json = serde_json::to_value(d).expect("json");
    assert!(
        json.get("revenue_sharing").is_none(),
        "revenue sharing is not disclosed"
    );
    // A suspension shows at once; so does an expiry, before it is recorded.
    s.agreement_step(
        &w.regulator,
        a,
        AgreementAction::Suspend,
        "风险排查",
        0,
        now,
    )
    .await
    .expect("suspend");
    let list = s.public_authorizations(now).await.expect("list");
    assert_eq!(list[0].agreement.state.as_str(), "suspended");
    let list = s
        .public_authorizations(at("2031-11-01", 0))
        .await
        .expect("list");
    assert_eq!(list[0].agreement.state.as_str(), "expired");
    w.finish().await;
}

async fn prohibitions(backend: Backend) {
    use shuyun_domain::authorization::prohibitions::{DeliveredProduct, ProductDealing};
    let w = world(backend).await;
    let s = &w.store;
    let (a, _) = w.active_agreement().await;
    let now = at("2026-11-02", 9);
    let scope = |fields: Value, rows: bool| -> shuyun_domain::authorization::Scope {
        let mut g = json!({"resource": w.credit, "fields": fields});
        if rows {
            g["rows"] = json!([{"op": "eq", "field": "district", "value": {"type": "string", "value": "珠山区"}}]);
        }
        parse(json!({"resources": [g], "purposes": ["industry_development"]}))
    };
    // Within the agreement: fine. Beyond it (a field, all rows, another
    // purpose, another resource): forbidden.
    s.check_grant(a, &scope(json!(["credit_code"]), true), now)
        .await
        .expect("within");
    for beyond in [
        scope(json!(["credit_code", "credit_score"]), true),
        scope(json!(["credit_code"]), false),
        parse(
            json!({"resources": [{"resource": w.credit, "fields": ["credit_code"],
            "rows": [{"op": "eq", "field": "district", "value": {"type": "string", "value": "珠山区"}}]}],
            "purposes": ["public_welfare"]}),
        ),
        parse(
            json!({"resources": [{"resource": w.transport}], "purposes": ["industry_development"]}),
        ),
    ] {
        assert_eq!(
            code_of(s.check_grant(a, &beyond, now).await),
            ErrorCode::Forbidden
        );
    }
    // No sharing or sub-licensing to another organisation.
    s.check_sublicence(a, w.op1.org_id)
        .await
        .expect("the operator");
    for other in [w.op2.org_id, w.regulator.org_id] {
        assert_eq!(
            code_of(s.check_sublicence(a, other).await),
            ErrorCode::Forbidden
        );
    }
    // The operator does not buy or re-develop its own delivered product;
    // others may.
    let product = DeliveredProduct {
        product_id: 1,
        operator_org_id: w.op1.org_id,
        agreement_id: a,
    };
    for dealing in [ProductDealing::Buy, ProductDealing::Redevelop] {
        assert_eq!(
            code_of(s.check_product_dealing(&product, w.op1.org_id, dealing)),
            ErrorCode::Forbidden
        );
        s.check_product_dealing(&product, w.op2.org_id, dealing)
            .expect("others may");
    }
    // Nothing is granted under a suspended agreement.
    s.agreement_step(
        &w.regulator,
        a,
        AgreementAction::Suspend,
        "风险排查",
        0,
        now,
    )
    .await
    .expect("suspend");
    assert_eq!(
        code_of(
            s.check_grant(a, &scope(json!(["credit_code"]), true), now)
                .await
        ),
        ErrorCode::Conflict
    );
    w.finish().await;
}

/// The workspace's records: a query audited in the ledger; a release only
/// of the checked result, approved by two different reviewers of the
/// institution (never the author), downloaded with a ledger entry;
/// concurrent first approvals exclusive; a linkage stop raising an alert
/// the institution handles; the privacy budget spent with the query, a
/// query beyond it refused with nothing recorded.
async fn workspace_audit_and_release(backend: Backend) {
    use shuyun_domain::workspace::{Epsilon, QueryOutcome, ReleaseAction, ReleaseState};
    use shuyun_store::workspace::QueryRecord;

    let w = world(backend).await;
    let s = &w.store;
    let (agreement, scenario) = w.active_agreement().await;
    let now = at("2026-11-02", 10);
    let result = "district,firms\n珠山区,120\n".as_bytes().to_vec();
    let result_sm3 = hex::encode(shuyun_ledger::sm3(&result));
    let rec = |outcome: QueryOutcome, synthetic: bool, eps: f64| QueryRecord {
        scenario_id: scenario,
        synthetic,
        sql: "SELECT district, count(*) AS firms FROM enterprise_credit GROUP BY district".into(),
        plan_fingerprint: "ab".repeat(32),
        resources: vec![w.credit.clone()],
        fields: vec![format!("{}.district", w.credit)],
        rows_scanned: 1200,
        result_sm3: if outcome.showed_result() {
            result_sm3.clone()
        } else {
            String::new()
        },
        outcome,
        detail: json!({"suppressed": []}),
        epsilon: if eps > 0.0 {
            Epsilon::from_f64(eps).expect("eps")
        } else {
            Epsilon(0)
        },
    };

    // Only the scenario's operator records queries.
    assert_eq!(
        code_of(
            s.record_query(
                &w.institution,
                rec(QueryOutcome::Shown, false, 0.0),
                &[],
                now
            )
            .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(
            s.record_query(&w.op2, rec(QueryOutcome::Shown, false, 0.0), &[], now)
                .await
        ),
        ErrorCode::NotFound
    );
    let q = s
        .record_query(&w.op1, rec(QueryOutcome::Shown, false, 0.0), &[], now)
        .await
        .expect("query");
    assert_eq!((q.agreement_id, q.record.rows_scanned), (agreement, 1200));
    let audit = s
        .ledger_entries(&shuyun_store::ledger::EntryFilter {
            action: Some("workspace.query".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("ledger");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].detail["sql"], q.record.sql.as_str());
    assert_eq!(audit[0].detail["result_sm3"], result_sm3.as_str());
    assert_eq!(audit[0].detail["outcome"], "shown");
    assert_eq!(
        s.workspace_queries(&w.regulator, scenario, 10)
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(
        code_of(s.workspace_queries(&w.op2, scenario, 10).await),
        ErrorCode::NotFound
    );

    // A release is the checked result, nothing else; synthetic results and
    // refused queries never leave.
    let synthetic = s
        .record_query(&w.op1, rec(QueryOutcome::Shown, true, 0.0), &[], now)
        .await
        .expect("synthetic");
    assert_eq!(
        code_of(
            s.request_release(
                &w.op1,
                synthetic.id,
                "合成",
                "text/csv",
                result.clone(),
                now
            )
            .await
        ),
        ErrorCode::Conflict
    );
    let refused = s
        .record_query(&w.op1, rec(QueryOutcome::Refused, false, 0.0), &[], now)
        .await
        .expect("refused");
    assert_eq!(
        code_of(
            s.request_release(&w.op1, refused.id, "拒绝", "text/csv", result.clone(), now)
                .await
        ),
        ErrorCode::Conflict
    );
    let mut forged = result.clone();
    forged.extend_from_slice("昌江区,3\n".as_bytes());
    assert_eq!(
        code_of(
            s.request_release(&w.op1, q.id, "各区企业数", "text/csv", forged, now)
                .await
        ),
        ErrorCode::Validation
    );
    let r = s
        .request_release(&w.op1, q.id, "各区企业数", "text/csv", result.clone(), now)
        .await
        .expect("request");
    assert_eq!(
        (r.state, r.size),
        (ReleaseState::Requested, result.len() as i64)
    );
    assert_eq!(
        code_of(s.release_content(&w.op1, r.id, now).await),
        ErrorCode::Conflict,
        "not before two approvals"
    );

    // The author and the regulator do not review; two different reviewers
    // of the institution do; concurrent first approvals are exclusive.
    let second = {
        let org = w.institution.org_id;
        s.create_user(
            "system",
            NewUser {
                org_id: org,
                username: "szzx2".parse().expect("u"),
                display_name: "复核人".into(),
                password: PW.into(),
            },
            false,
            T0,
        )
        .await
        .expect("user");
        s.login("szzx2", PW, "test", T0)
            .await
            .expect("login")
            .principal
    };
    for p in [&w.op1, &w.regulator] {
        assert_eq!(
            code_of(
                s.release_step(p, r.id, ReleaseAction::Approve, "", now)
                    .await
            ),
            ErrorCode::Forbidden
        );
    }
    // One reviewer approving twice at once counts once (compare-and-set,
    // or refused as the same reviewer), never as the two approvals.
    let (a, b) = tokio::join!(
        s.release_step(
            &w.institution,
            r.id,
            ReleaseAction::Approve,
            "口径合规",
            now
        ),
        s.release_step(
            &w.institution,
            r.id,
            ReleaseAction::Approve,
            "口径合规",
            now
        ),
    );
    assert_eq!(
        usize::from(a.is_ok()) + usize::from(b.is_ok()),
        1,
        "exactly one first approval"
    );
    let (first, other) = (&w.institution, &second);
    assert_eq!(
        code_of(
            s.release_step(first, r.id, ReleaseAction::Approve, "", now)
                .await
        ),
        ErrorCode::Forbidden,
        "the same reviewer twice"
    );
    let done = s
        .release_step(other, r.id, ReleaseAction::Approve, "同意出域", now)
        .await
        .expect("second approval");
    assert_eq!(done.state, ReleaseState::Approved);
    assert_eq!(done.first_reviewer, Some(first.user_id));
    let (_, content) = s
        .release_content(&w.op1, r.id, now)
        .await
        .expect("download");
    assert_eq!(content, result);
    assert_eq!(
        code_of(s.release_content(&w.op2, r.id, now).await),
        ErrorCode::NotFound
    );
    let downloads = s
        .ledger_entries(&shuyun_store::ledger::EntryFilter {
            action: Some("workspace.release.download".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("ledger");
    assert_eq!(downloads[0].detail["content_sm3"], result_sm3.as_str());

    // A rejection needs reasons.
    let r2 = s
        .request_release(&w.op1, q.id, "再次申请", "text/csv", result.clone(), now)
        .await
        .expect("request");
    assert_eq!(
        code_of(
            s.release_step(&w.institution, r2.id, ReleaseAction::Reject, "", now)
                .await
        ),
        ErrorCode::Validation
    );
    let rejected = s
        .release_step(
            &w.institution,
            r2.id,
            ReleaseAction::Reject,
            "重复申请，不予出域",
            now,
        )
        .await
        .expect("reject");
    assert_eq!(rejected.state, ReleaseState::Rejected);
    assert_eq!(
        s.releases(&w.institution, true)
            .await
            .expect("pending")
            .len(),
        0
    );

    // A linkage stop raises an alert for the institution.
    s.record_query(
        &w.op1,
        rec(QueryOutcome::LinkageStopped, false, 0.0),
        &[],
        now,
    )
    .await
    .expect("linkage");
    let alerts = s.workspace_alerts(&w.institution).await.expect("alerts");
    assert_eq!((alerts.len(), alerts[0].state.as_str()), (1, "open"));
    assert_eq!(
        code_of(s.workspace_alerts(&w.op1).await),
        ErrorCode::Forbidden
    );
    let handled = s
        .handle_alert(
            &w.institution,
            alerts[0].id,
            "已约谈运营机构并暂停该查询",
            now,
        )
        .await
        .expect("handle");
    assert_eq!(handled.state, "handled");
    assert_eq!(
        code_of(
            s.handle_alert(&w.institution, alerts[0].id, "再次处理", now)
                .await
        ),
        ErrorCode::Conflict
    );

    // The privacy budget: none set, noisy queries refused; set, spent with
    // the query; beyond it, refused and nothing recorded.
    assert_eq!(
        code_of(
            s.record_query(&w.op1, rec(QueryOutcome::Shown, false, 0.5), &[], now)
                .await
        ),
        ErrorCode::Conflict
    );
    let one = Epsilon::from_f64(1.0).expect("eps");
    assert_eq!(
        code_of(s.set_privacy_budget(&w.op1, agreement, one, now).await),
        ErrorCode::Forbidden
    );
    s.set_privacy_budget(&w.institution, agreement, one, now)
        .await
        .expect("budget");
    s.record_query(&w.op1, rec(QueryOutcome::Shown, false, 0.6), &[], now)
        .await
        .expect("noisy");
    let before = s
        .workspace_queries(&w.op1, scenario, 100)
        .await
        .expect("list")
        .len();
    let e = s
        .record_query(&w.op1, rec(QueryOutcome::Shown, false, 0.5), &[], now)
        .await
        .expect_err("over budget")
        .into_domain();
    assert_eq!(e.code, ErrorCode::Conflict);
    assert!(e.message.contains("budget"), "{}", e.message);
    assert_eq!(
        s.workspace_queries(&w.op1, scenario, 100)
            .await
            .expect("list")
            .len(),
        before
    );
    let b = s
        .privacy_budget(agreement)
        .await
        .expect("budget")
        .expect("set");
    assert_eq!(b.spent, Epsilon::from_f64(0.6).expect("eps"));
    assert_eq!(
        code_of(
            s.set_privacy_budget(
                &w.institution,
                agreement,
                Epsilon::from_f64(0.5).expect("e"),
                now
            )
            .await
        ),
        ErrorCode::Validation,
        "never below what is spent"
    );
    // The output policy: defaults, set by the institution within bounds.
    use shuyun_domain::workspace::OutputPolicy;
    assert_eq!(
        s.output_policy(agreement).await.expect("policy"),
        OutputPolicy::default()
    );
    let strict = OutputPolicy {
        min_units: 20,
        ..OutputPolicy::default()
    };
    assert_eq!(
        code_of(s.set_output_policy(&w.op1, agreement, strict, now).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(
            s.set_output_policy(
                &w.institution,
                agreement,
                OutputPolicy {
                    min_units: 1,
                    ..OutputPolicy::default()
                },
                now
            )
            .await
        ),
        ErrorCode::Validation
    );
    s.set_output_policy(&w.institution, agreement, strict, now)
        .await
        .expect("set");
    assert_eq!(
        s.output_policy(agreement).await.expect("policy").min_units,
        20
    );
    assert!(s.verify_ledger().await.expect("verify").ok());
    w.finish().await;
}

/// A scenario's differencing history: the cells a shown query released
/// are recorded with it and read back oldest first, the newest
/// `HISTORY_CELLS` kept; cells come only with a shown result of the real
/// data; another scenario's history is its own.
async fn differencing_history(backend: Backend) {
    use shuyun_domain::workspace::differencing::HISTORY_CELLS;
    use shuyun_domain::workspace::{QueryOutcome, ReleasedCell, UnitSketch};
    use shuyun_store::workspace::QueryRecord;

    let w = world(backend).await;
    let s = &w.store;
    let (_agreement, scenario) = w.active_agreement().await;
    let now = at("2026-11-02", 10);
    let rec = |outcome: QueryOutcome, synthetic: bool| QueryRecord {
        scenario_id: scenario,
        synthetic,
        sql: "SELECT count(*) AS n FROM enterprise_credit".into(),
        plan_fingerprint: "cd".repeat(32),
        resources: vec![w.credit.clone()],
        fields: Vec::new(),
        rows_scanned: 10,
        result_sm3: String::new(),
        outcome,
        detail: json!({}),
        epsilon: Default::default(),
    };
    // Small sketches keep the test quick; their size is the engine's.
    let cell = |units: std::ops::Range<u64>, distinct: bool| {
        let mut sketch = UnitSketch::new(3);
        for u in units {
            sketch.add(u.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        ReleasedCell { sketch, distinct }
    };
    assert!(
        s.differencing_history(scenario)
            .await
            .expect("empty")
            .is_empty()
    );

    let first = [cell(0..100, true), cell(0..50, false)];
    s.record_query(&w.op1, rec(QueryOutcome::Shown, false), &first, now)
        .await
        .expect("first");
    let second = [cell(0..98, true)];
    s.record_query(
        &w.op1,
        rec(QueryOutcome::PartlySuppressed, false),
        &second,
        now,
    )
    .await
    .expect("second");
    let kept = s.differencing_history(scenario).await.expect("history");
    assert_eq!(kept, [first.as_slice(), second.as_slice()].concat());

    // Refused and synthetic queries add nothing, and a record that claims
    // otherwise is refused whole.
    for (outcome, synthetic) in [(QueryOutcome::Refused, false), (QueryOutcome::Shown, true)] {
        let before = s
            .workspace_queries(&w.op1, scenario, 100)
            .await
            .expect("queries")
            .len();
        assert!(
            s.record_query(&w.op1, rec(outcome, synthetic), &second, now)
                .await
                .is_err()
        );
        assert_eq!(
            s.workspace_queries(&w.op1, scenario, 100)
                .await
                .expect("queries")
                .len(),
            before,
            "nothing recorded"
        );
    }
    assert_eq!(s.differencing_history(scenario).await.expect("same"), kept);

    // Only the newest cells are kept.
    let many: Vec<ReleasedCell> = (0..HISTORY_CELLS as u64)
        .map(|n| cell(n..n + 20, true))
        .collect();
    s.record_query(&w.op1, rec(QueryOutcome::Shown, false), &many, now)
        .await
        .expect("many");
    let kept = s.differencing_history(scenario).await.expect("bounded");
    assert_eq!(kept.len(), HISTORY_CELLS);
    assert_eq!(kept, many);
    w.finish().await;
}
