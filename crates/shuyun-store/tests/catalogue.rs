//! Catalogue storage tests on SQLite and PostgreSQL: registration with
//! unified identifiers, grading versions and confirmation, the negative
//! list, sharing consent, visibility.

use shuyun_domain::catalogue::{
    DataDomain, FieldSpec, FieldType, Grade, GradeBasis, ImpactDegree, ImpactObject, PiTag, Schema,
    UpdateFrequency,
};
use shuyun_domain::workflow::{
    Consent, GradingAction, GradingState, NegativeAction, NegativeState,
};
use shuyun_domain::{ErrorCode, OrgKind};
use shuyun_ledger::NoteSigner;
use shuyun_store::accounts::{NewOrg, NewUser, Principal};
use shuyun_store::catalogue::{CatalogueView, NewGrading, NewResource, Rights};
use shuyun_store::testing::TestDb;
use shuyun_store::{Backend, LedgerIdentity, Store};

const T0: i64 = 1_790_000_000_000;
const PW: &str = "shuyun-demo-2026";

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { super::$name(shuyun_store::Backend::Sqlite).await })* }
        mod postgres { $(#[tokio::test] async fn $name() { super::$name(shuyun_store::Backend::Postgres).await })* }
    };
}

both_backends!(register_grade_and_confirm, negative_list_and_consent);

fn code(n: usize, kind: OrgKind) -> shuyun_domain::CreditCode {
    let head = if kind == OrgKind::SourceDepartment || kind == OrgKind::DataAuthority {
        "11"
    } else {
        "91"
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
    authority: Principal,
    dept: Principal,
    other_dept: Principal,
    operator: Principal,
    other_dept_org: i64,
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
        ("fgw", OrgKind::SourceDepartment),
        ("zjj", OrgKind::SourceDepartment),
        ("yunying", OrgKind::Operator),
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
                    credit_code: code(i + 1, kind),
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
    let other_dept_org = ps[2].org_id;
    let mut it = ps.into_iter();
    World {
        authority: it.next().expect("p"),
        dept: it.next().expect("p"),
        other_dept: it.next().expect("p"),
        operator: it.next().expect("p"),
        store,
        db,
        other_dept_org,
    }
}

fn field(name: &str, grade: Grade, pi: PiTag, key: bool) -> FieldSpec {
    FieldSpec {
        name: name.parse().expect("name"),
        label: format!("{name}标签"),
        field_type: FieldType::String,
        unit: None,
        nullable: false,
        key,
        grade,
        pi,
    }
}

fn new_resource(grade_of_score: Grade, public: bool) -> NewResource {
    NewResource {
        name: "企业信用信息".into(),
        description: "全市企业公共信用信息".into(),
        domain: DataDomain::Credit,
        frequency: UpdateFrequency::Monthly,
        source_system: "信用信息共享平台".into(),
        standard: "GB/T 22117".into(),
        contact: "信用科 0798-0000000".into(),
        rights: Rights {
            holder: "景德镇市发改委".into(),
            processor: "数字经济发展中心".into(),
            operator: "待授权".into(),
        },
        shared_from_org_id: None,
        public,
        open_data: false,
        schema: Schema::new(vec![
            field("credit_code", Grade::General3, PiTag::None, true),
            field("credit_score", grade_of_score, PiTag::None, false),
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

async fn register_grade_and_confirm(backend: Backend) {
    let w = world(backend).await;
    let division = "360200".parse().expect("d");
    // General grades take effect at once; identifiers count up per domain.
    let a = w
        .store
        .register_resource(&w.dept, &division, new_resource(Grade::General4, true), T0)
        .await
        .expect("register");
    assert_eq!(a.code, "360200-XY-000001");
    assert_eq!(a.grade, Some(Grade::General4));
    let b = w
        .store
        .register_resource(
            &w.dept,
            &division,
            new_resource(Grade::Important, false),
            T0,
        )
        .await
        .expect("register");
    assert_eq!(b.code, "360200-XY-000002");
    assert_eq!(
        b.grade, None,
        "important grades wait for the data authority"
    );
    assert_eq!(b.pending_grading, Some(1));
    // A resource grade below its highest field is refused.
    let mut low = new_resource(Grade::Important, false);
    low.grade = Some(Grade::General2);
    let e = w
        .store
        .register_resource(&w.dept, &division, low, T0)
        .await
        .expect_err("low");
    assert_eq!(e.into_domain().code, ErrorCode::Validation);
    // Visibility: the public sees public entries; a department sees its own.
    assert_eq!(
        w.store
            .resources(CatalogueView::Public)
            .await
            .expect("l")
            .len(),
        1
    );
    assert_eq!(
        w.store
            .resources(CatalogueView::of(Some(&w.dept)))
            .await
            .expect("l")
            .len(),
        2
    );
    assert_eq!(
        w.store
            .resources(CatalogueView::of(Some(&w.other_dept)))
            .await
            .expect("l")
            .len(),
        1
    );
    assert_eq!(
        w.store
            .resources(CatalogueView::of(Some(&w.authority)))
            .await
            .expect("l")
            .len(),
        2
    );
    assert_eq!(
        w.store
            .resource(b.id, CatalogueView::of(Some(&w.operator)))
            .await
            .expect_err("hidden")
            .into_domain()
            .code,
        ErrorCode::NotFound
    );

    // The authority confirms; twice is a conflict.
    let g = w
        .store
        .decide_grading(&w.authority, b.id, 1, GradingAction::Confirm, "同意", T0)
        .await
        .expect("confirm");
    assert_eq!(g.state, GradingState::Confirmed);
    let e = w
        .store
        .decide_grading(&w.authority, b.id, 1, GradingAction::Reject, "", T0)
        .await
        .expect_err("twice");
    assert_eq!(e.into_domain().code, ErrorCode::Conflict);
    assert_eq!(
        w.store
            .resource(b.id, CatalogueView::Whole)
            .await
            .expect("r")
            .grade,
        Some(Grade::Important)
    );

    // Regrading creates a new version; history is kept; only the owner may.
    let regrade = NewGrading {
        schema: Schema::new(vec![
            field("credit_code", Grade::General3, PiTag::None, true),
            field("credit_score", Grade::Core, PiTag::None, false),
        ])
        .expect("s"),
        grade: None,
        basis: GradeBasis {
            impact_object: ImpactObject::EconomicOperation,
            impact_degree: ImpactDegree::Serious,
            reason: "汇聚后影响经济运行".into(),
        },
    };
    let e = w
        .store
        .propose_grading(&w.other_dept, b.id, regrade.clone(), T0)
        .await
        .expect_err("not owner");
    assert_eq!(e.into_domain().code, ErrorCode::Forbidden);
    let v2 = w
        .store
        .propose_grading(&w.dept, b.id, regrade.clone(), T0 + 1)
        .await
        .expect("propose");
    assert_eq!((v2.version, v2.state), (2, GradingState::Proposed));
    let e = w
        .store
        .propose_grading(&w.dept, b.id, regrade, T0 + 2)
        .await
        .expect_err("pending");
    assert_eq!(e.into_domain().code, ErrorCode::Conflict);
    w.store
        .decide_grading(
            &w.authority,
            b.id,
            2,
            GradingAction::Reject,
            "依据不足",
            T0 + 3,
        )
        .await
        .expect("reject");
    let r = w
        .store
        .resource(b.id, CatalogueView::Whole)
        .await
        .expect("r");
    assert_eq!(
        (r.grade, r.grading_version),
        (Some(Grade::Important), Some(1)),
        "a rejected proposal leaves v1 in force"
    );
    assert_eq!(
        w.store
            .gradings(b.id, CatalogueView::Whole)
            .await
            .expect("h")
            .len(),
        2
    );
    assert!(w.store.verify_ledger().await.expect("verify").ok());
    let actions: Vec<String> = w
        .store
        .ledger_entries(&shuyun_store::ledger::EntryFilter {
            object: Some(format!("resource:{}", b.id)),
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("e")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        vec![
            "grading.reject",
            "grading.propose",
            "grading.confirm",
            "resource.register"
        ]
    );
    w.store.close().await;
    w.db.cleanup().await;
}

async fn negative_list_and_consent(backend: Backend) {
    let w = world(backend).await;
    let division = "360200".parse().expect("d");
    let r = w
        .store
        .register_resource(&w.dept, &division, new_resource(Grade::General4, true), T0)
        .await
        .expect("register");
    assert_eq!(w.store.operable(r.id).await.expect("o"), Ok(()));
    let e = w
        .store
        .request_negative(&w.dept, r.id, "", T0)
        .await
        .expect_err("no basis");
    assert_eq!(e.into_domain().code, ErrorCode::Validation);
    let n = w
        .store
        .request_negative(&w.dept, r.id, "《数据安全法》第二十一条", T0)
        .await
        .expect("request");
    assert_eq!(n.state, NegativeState::Requested);
    let e = w
        .store
        .decide_negative(&w.dept, n.id, NegativeAction::Approve, "", T0)
        .await
        .expect_err("not authority");
    assert_eq!(e.into_domain().code, ErrorCode::Forbidden);
    let n = w
        .store
        .decide_negative(&w.authority, n.id, NegativeAction::Approve, "同意", T0)
        .await
        .expect("approve");
    assert_eq!(
        (n.state, n.list_version),
        (NegativeState::Approved, Some(1))
    );
    assert!(w.store.operable(r.id).await.expect("o").is_err());
    let e = w
        .store
        .decide_negative(&w.authority, n.id, NegativeAction::Approve, "", T0)
        .await
        .expect_err("twice");
    assert_eq!(e.into_domain().code, ErrorCode::Conflict);
    let n = w
        .store
        .decide_negative(&w.dept, n.id, NegativeAction::Withdraw, "已脱密", T0)
        .await
        .expect("lift");
    assert_eq!(
        (n.state, n.list_version),
        (NegativeState::Withdrawn, Some(2))
    );
    assert_eq!(w.store.operable(r.id).await.expect("o"), Ok(()));

    // Shared data needs the provider's consent in force.
    let mut shared = new_resource(Grade::General4, false);
    shared.shared_from_org_id = Some(w.other_dept_org);
    let s = w
        .store
        .register_resource(&w.dept, &division, shared, T0)
        .await
        .expect("shared");
    assert!(w.store.operable(s.id).await.expect("o").is_err());
    w.store
        .record_consent(&w.dept, s.id, Consent::Granted, "景住建函〔2026〕12号", T0)
        .await
        .expect("consent");
    assert_eq!(w.store.operable(s.id).await.expect("o"), Ok(()));
    w.store
        .record_consent(
            &w.dept,
            s.id,
            Consent::Refused,
            "景住建函〔2026〕15号",
            T0 + 1,
        )
        .await
        .expect("refuse");
    assert!(
        w.store.operable(s.id).await.expect("o").is_err(),
        "the newest record is in force"
    );
    let e = w
        .store
        .record_consent(&w.dept, r.id, Consent::Granted, "x号", T0)
        .await
        .expect_err("not shared");
    assert_eq!(e.into_domain().code, ErrorCode::Validation);
    assert!(w.store.verify_ledger().await.expect("verify").ok());
    w.store.close().await;
    w.db.cleanup().await;
}

mod data_versions {
    use super::*;
    use shuyun_domain::quality::QualityReport;
    use shuyun_store::data::AcceptedLoad;
    use shuyun_store::quality::Evaluation;

    async fn versions(backend: Backend) {
        let w = world(backend).await;
        let division = "360200".parse().expect("d");
        let r = w
            .store
            .register_resource(&w.dept, &division, new_resource(Grade::General4, true), T0)
            .await
            .expect("register");
        let e = w
            .store
            .prepare_load(&w.other_dept, r.id)
            .await
            .expect_err("not owner");
        assert_eq!(e.into_domain().code, ErrorCode::Forbidden);
        let load = |v: i64| AcceptedLoad {
            version: v,
            grading_version: 1,
            format: "csv".into(),
            original_name: "企业.csv".into(),
            rows: 10 * v,
            bytes: 1000,
            sm3: format!("{v:064x}"),
            path: format!("resources/{}/v{v}.parquet", r.id),
            quality: Evaluation {
                rules_version: 0,
                report: QualityReport::new(10 * v as u64, vec![]),
            },
        };
        assert_eq!(
            w.store.prepare_load(&w.dept, r.id).await.expect("prep"),
            (1, 1)
        );
        w.store
            .record_load(&w.dept, r.id, load(1), T0)
            .await
            .expect("v1");
        assert_eq!(
            w.store.prepare_load(&w.dept, r.id).await.expect("prep").0,
            2
        );
        w.store
            .record_load(&w.dept, r.id, load(2), T0 + 1)
            .await
            .expect("v2");
        let rej = w
            .store
            .record_rejection(
                &w.dept,
                r.id,
                "坏.csv",
                5,
                2,
                "row,field,reason\n3,credit_code,bad\n",
                T0 + 2,
            )
            .await
            .expect("rej");
        assert_eq!(
            w.store
                .current_data(r.id)
                .await
                .expect("c")
                .expect("some")
                .version,
            2,
            "a rejection changes nothing"
        );
        assert!(
            w.store
                .rejection_report(r.id, rej.id)
                .await
                .expect("report")
                .contains("credit_code")
        );
        w.store
            .make_current(&w.dept, r.id, 1, T0 + 3)
            .await
            .expect("back to v1");
        let vs = w.store.data_versions(r.id).await.expect("vs");
        assert_eq!(
            vs.iter()
                .filter(|v| v.current)
                .map(|v| v.version)
                .collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(
            w.store
                .make_current(&w.dept, r.id, 1, T0 + 4)
                .await
                .expect_err("again")
                .into_domain()
                .code,
            ErrorCode::Conflict
        );
        assert!(w.store.verify_ledger().await.expect("verify").ok());
        w.store.close().await;
        w.db.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite() {
        versions(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        versions(Backend::Postgres).await;
    }
}

mod quality {
    use super::*;
    use shuyun_domain::quality::{QualityReport, Rule};
    use shuyun_store::data::AcceptedLoad;
    use shuyun_store::quality::Evaluation;

    fn rules(json: &str) -> Vec<Rule> {
        serde_json::from_str(json).expect("rules")
    }

    async fn rules_reports_and_schema_changes(backend: Backend) {
        let w = world(backend).await;
        let division = "360200".parse().expect("d");
        let r = w
            .store
            .register_resource(&w.dept, &division, new_resource(Grade::General4, true), T0)
            .await
            .expect("register");
        // Defaults until the department sets rules: nothing is optional in
        // this schema, so only timeliness.
        let d = w.store.quality_rules(r.id).await.expect("defaults");
        assert_eq!((d.version, d.rules.rules().len()), (0, 1));
        // Only the owner sets rules, and they must fit the schema.
        let good = rules(
            r#"[{"check":"format","field":"credit_code","format":"credit_code","weight":5},
                {"check":"code_list","field":"credit_score","values":["A","B","C","D"]}]"#,
        );
        let e = w
            .store
            .set_quality_rules(&w.other_dept, r.id, good.clone(), T0 + 1)
            .await
            .expect_err("not the owner");
        assert_eq!(e.into_domain().code, ErrorCode::Forbidden);
        let e = w
            .store
            .set_quality_rules(
                &w.dept,
                r.id,
                rules(r#"[{"check":"not_empty","field":"missing"}]"#),
                T0 + 1,
            )
            .await
            .expect_err("unknown field");
        assert_eq!(e.into_domain().code, ErrorCode::Validation);
        assert_eq!(w.store.quality_rules(r.id).await.expect("r").version, 0);
        let set = w
            .store
            .set_quality_rules(&w.dept, r.id, good, T0 + 1)
            .await
            .expect("set");
        assert_eq!((set.version, set.set_by), (1, Some(w.dept.user_id)));
        // A schema change that drops a field the rules use is refused, and
        // nothing is proposed.
        let e = w
            .store
            .propose_grading(
                &w.dept,
                r.id,
                NewGrading {
                    schema: Schema::new(vec![field(
                        "credit_code",
                        Grade::General3,
                        PiTag::None,
                        true,
                    )])
                    .expect("s"),
                    grade: None,
                    basis: new_resource(Grade::General4, true).basis,
                },
                T0 + 2,
            )
            .await
            .expect_err("breaks a rule");
        let e = e.into_domain();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(e.message.contains("credit_score"), "{}", e.message);
        assert_eq!(
            w.store
                .gradings(r.id, CatalogueView::Whole)
                .await
                .expect("g")
                .len(),
            1
        );
        // Reports are recorded with each load; re-evaluations are kept and
        // the newest counts in the history.
        let load = |v: i64, score_rows: u64| AcceptedLoad {
            version: v,
            grading_version: 1,
            format: "csv".into(),
            original_name: "企业.csv".into(),
            rows: 10,
            bytes: 1000,
            sm3: format!("{v:064x}"),
            path: format!("resources/{}/v{v}.parquet", r.id),
            quality: Evaluation {
                rules_version: 1,
                report: QualityReport::new(score_rows, vec![]),
            },
        };
        for v in 1..=2 {
            w.store
                .record_load(&w.dept, r.id, load(v, 10), T0 + 10 * v)
                .await
                .expect("load");
        }
        w.store
            .record_quality(
                &w.dept,
                r.id,
                1,
                Evaluation {
                    rules_version: 1,
                    report: QualityReport::new(99, vec![]),
                },
                T0 + 30,
            )
            .await
            .expect("re-evaluate");
        let e = w
            .store
            .record_quality(
                &w.dept,
                r.id,
                7,
                Evaluation {
                    rules_version: 1,
                    report: QualityReport::new(1, vec![]),
                },
                T0 + 30,
            )
            .await
            .expect_err("no such version");
        assert_eq!(e.into_domain().code, ErrorCode::NotFound);
        let h = w.store.quality_history(r.id).await.expect("history");
        assert_eq!(
            h.iter()
                .map(|s| (s.data_version, s.rows, s.uploaded_at))
                .collect::<Vec<_>>(),
            vec![(1, 99, T0 + 10), (2, 10, T0 + 20)]
        );
        assert_eq!(
            w.store
                .quality_report(r.id, 1)
                .await
                .expect("r")
                .report
                .rows,
            99
        );
        assert_eq!(
            w.store.last_upload_before(r.id, T0 + 21).await.expect("t"),
            Some(T0 + 20)
        );
        assert_eq!(
            w.store.last_upload_before(r.id, T0 + 20).await.expect("t"),
            Some(T0 + 10)
        );
        assert!(w.store.verify_ledger().await.expect("verify").ok());
        for (action, n) in [("quality.report", 3), ("quality.rules", 1)] {
            let f = shuyun_store::ledger::EntryFilter {
                action: Some(action.into()),
                limit: 100,
                ..Default::default()
            };
            assert_eq!(
                w.store.ledger_entries(&f).await.expect("entries").len(),
                n,
                "{action}"
            );
        }
        w.store.close().await;
        w.db.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite() {
        rules_reports_and_schema_changes(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        rules_reports_and_schema_changes(Backend::Postgres).await;
    }
}
