//! Tests of the scope policy: row filters, field sets, scope containment,
//! schema checks and the decision table.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::authorization::agreement::TermInput;
use crate::catalogue::{FieldSpec, Grade, PiTag};
use crate::error::ErrorCode;

fn f(s: &str) -> FieldName {
    s.parse().unwrap()
}

fn code(s: &str) -> ResourceCode {
    s.parse().unwrap()
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn text(s: &str) -> Value {
    Value::String(s.into())
}

fn filter(json: &str) -> RowFilter {
    serde_json::from_str(json).unwrap()
}

fn row(pairs: &[(&str, Value)]) -> BTreeMap<FieldName, Value> {
    pairs.iter().map(|(k, v)| (f(k), v.clone())).collect()
}

const R1: &str = "360200-XY-000001";
const R2: &str = "360200-JT-000001";
const R3: &str = "360200-WS-000001";

#[test]
fn values_are_typed_in_json() {
    let v = Value::Date(d("2026-01-01"));
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"type":"date","value":"2026-01-01"}"#
    );
    assert_eq!(
        serde_json::from_str::<Value>(r#"{"type":"fen","value":150}"#).unwrap(),
        Value::Fen(150)
    );
    assert!(serde_json::from_str::<Value>(r#"{"type":"date","value":"2026-02-30"}"#).is_err());
    assert!(serde_json::from_str::<Value>(r#"{"type":"decimal","value":"1"}"#).is_err());
    assert_eq!(Value::Int64(1).compare(&Value::Fen(1)), None);
    assert_eq!(Value::Float64(f64::NAN).compare(&Value::Float64(1.0)), None);
}

#[test]
fn row_filters_parse_only_when_well_formed() {
    let ok = filter(
        r#"[{"op":"eq","field":"district","value":{"type":"string","value":"昌江区"}},
            {"op":"range","field":"amount","min":{"type":"fen","value":0}}]"#,
    );
    assert_eq!(ok.predicates().len(), 2);
    assert_eq!(ok.to_string(), "district = '昌江区' AND amount >= 0");
    let bad = [
        "[]",
        r#"[{"op":"in","field":"a","values":[]}]"#,
        r#"[{"op":"in","field":"a","values":[{"type":"string","value":"x"},{"type":"int64","value":1}]}]"#,
        r#"[{"op":"range","field":"a"}]"#,
        r#"[{"op":"range","field":"a","min":{"type":"int64","value":5},"max":{"type":"int64","value":4}}]"#,
        r#"[{"op":"range","field":"a","min":{"type":"int64","value":5},"max":{"type":"fen","value":9}}]"#,
        r#"[{"op":"range","field":"a","min":{"type":"bool","value":false}}]"#,
        r#"[{"op":"like","field":"a","value":{"type":"string","value":"%"}}]"#,
        r#"[{"op":"eq","field":"A; DROP TABLE x","value":{"type":"string","value":"x"}}]"#,
        r#"[{"op":"eq","field":"a","value":{"type":"string","value":"x"},"sql":"1=1"}]"#,
    ];
    for b in bad {
        assert!(serde_json::from_str::<RowFilter>(b).is_err(), "{b}");
    }
    assert!(
        RowFilter::new(vec![Predicate::Eq {
            field: f("a"),
            value: Value::Float64(f64::INFINITY)
        }])
        .is_err()
    );
    assert!(
        RowFilter::new(vec![Predicate::Eq {
            field: f("a"),
            value: text(&"长".repeat(201))
        }])
        .is_err()
    );
    let many = vec![
        Predicate::Eq {
            field: f("a"),
            value: Value::Bool(true)
        };
        MAX_PREDICATES + 1
    ];
    assert!(RowFilter::new(many).is_err());
}

#[test]
fn row_filter_evaluation() {
    let rf = filter(
        r#"[{"op":"in","field":"district","values":[{"type":"string","value":"昌江区"},{"type":"string","value":"珠山区"}]},
            {"op":"range","field":"updated","min":{"type":"date","value":"2025-01-01"},"max":{"type":"date","value":"2025-12-31"}},
            {"op":"eq","field":"active","value":{"type":"bool","value":true}}]"#,
    );
    let base = [
        ("district", text("珠山区")),
        ("updated", Value::Date(d("2025-06-30"))),
        ("active", Value::Bool(true)),
    ];
    type Fields<'a> = Vec<(&'a str, Value)>;
    let cases: Vec<(&str, Fields, bool)> = vec![
        ("all hold", base.to_vec(), true),
        (
            "lower bound inclusive",
            vec![
                base[0].clone(),
                ("updated", Value::Date(d("2025-01-01"))),
                base[2].clone(),
            ],
            true,
        ),
        (
            "upper bound inclusive",
            vec![
                base[0].clone(),
                ("updated", Value::Date(d("2025-12-31"))),
                base[2].clone(),
            ],
            true,
        ),
        (
            "after the range",
            vec![
                base[0].clone(),
                ("updated", Value::Date(d("2026-01-01"))),
                base[2].clone(),
            ],
            false,
        ),
        (
            "other district",
            vec![
                ("district", text("浮梁县")),
                base[1].clone(),
                base[2].clone(),
            ],
            false,
        ),
        (
            "inactive",
            vec![
                base[0].clone(),
                base[1].clone(),
                ("active", Value::Bool(false)),
            ],
            false,
        ),
        (
            "null district",
            vec![base[1].clone(), base[2].clone()],
            false,
        ),
        (
            "wrong type in the row",
            vec![
                ("district", Value::Int64(1)),
                base[1].clone(),
                base[2].clone(),
            ],
            false,
        ),
        (
            "timestamp where a date is expected",
            vec![
                base[0].clone(),
                ("updated", Value::Timestamp(0)),
                base[2].clone(),
            ],
            false,
        ),
    ];
    for (name, r, want) in cases {
        assert_eq!(rf.matches(&row(&r)), want, "{name}");
    }
    let amounts =
        filter(r#"[{"op":"range","field":"amount","max":{"type":"float64","value":2.5}}]"#);
    assert!(amounts.matches(&row(&[("amount", Value::Float64(2.5))])));
    assert!(amounts.matches(&row(&[("amount", Value::Float64(-1e9))])));
    assert!(!amounts.matches(&row(&[("amount", Value::Float64(f64::NAN))])));
    assert!(!amounts.matches(&row(&[("amount", Value::Int64(1))])));
}

#[test]
fn implication_is_conservative() {
    let p = |json: &str| -> Predicate { serde_json::from_str(json).unwrap() };
    let eq_a = p(r#"{"op":"eq","field":"d","value":{"type":"string","value":"a"}}"#);
    let in_ab = p(
        r#"{"op":"in","field":"d","values":[{"type":"string","value":"a"},{"type":"string","value":"b"}]}"#,
    );
    let in_abc = p(
        r#"{"op":"in","field":"d","values":[{"type":"string","value":"a"},{"type":"string","value":"b"},{"type":"string","value":"c"}]}"#,
    );
    let other_field = p(r#"{"op":"eq","field":"e","value":{"type":"string","value":"a"}}"#);
    let r_1_10 = p(
        r#"{"op":"range","field":"n","min":{"type":"int64","value":1},"max":{"type":"int64","value":10}}"#,
    );
    let r_0_20 = p(
        r#"{"op":"range","field":"n","min":{"type":"int64","value":0},"max":{"type":"int64","value":20}}"#,
    );
    let r_ge_0 = p(r#"{"op":"range","field":"n","min":{"type":"int64","value":0}}"#);
    let r_le_5 = p(r#"{"op":"range","field":"n","max":{"type":"int64","value":5}}"#);
    let eq_5 = p(r#"{"op":"eq","field":"n","value":{"type":"int64","value":5}}"#);
    let eq_5_fen = p(r#"{"op":"range","field":"n","min":{"type":"fen","value":0}}"#);
    let table: Vec<(&Predicate, &Predicate, bool)> = vec![
        (&eq_a, &eq_a, true),
        (&eq_a, &in_ab, true),
        (&in_ab, &eq_a, false),
        (&in_ab, &in_abc, true),
        (&in_abc, &in_ab, false),
        (&eq_a, &other_field, false),
        (&r_1_10, &r_0_20, true),
        (&r_0_20, &r_1_10, false),
        (&r_1_10, &r_ge_0, true),
        (&r_ge_0, &r_1_10, false),
        (&r_le_5, &r_ge_0, false),
        (&eq_5, &r_1_10, true),
        (&eq_5, &r_le_5, true),
        (&r_1_10, &eq_5, false),
        (&r_ge_0, &eq_5_fen, false),
        (&eq_5, &eq_5_fen, false),
    ];
    for (a, b, want) in table {
        assert_eq!(a.implies(b), want, "{a} => {b}");
    }
    // A filter implies another when each of the other's conditions is implied.
    let narrow = RowFilter::new(vec![eq_a.clone(), r_1_10.clone()]).unwrap();
    let wide = RowFilter::new(vec![in_ab.clone()]).unwrap();
    assert!(narrow.implies(&wide));
    assert!(!wide.implies(&narrow));
    let both = RowFilter::and(Some(&narrow), Some(&wide)).unwrap();
    assert_eq!(both.predicates().len(), 3);
    assert!(both.implies(&narrow) && both.implies(&wide));
    assert_eq!(RowFilter::and(None, Some(&wide)), Some(wide.clone()));
    assert_eq!(RowFilter::and(None, None), None);
    // Duplicates are not repeated.
    assert_eq!(RowFilter::and(Some(&wide), Some(&wide)), Some(wide));
}

fn spec(name: &str, t: FieldType) -> FieldSpec {
    FieldSpec {
        name: f(name),
        label: "字段".into(),
        field_type: t,
        unit: None,
        nullable: true,
        key: false,
        grade: Grade::General2,
        pi: PiTag::None,
    }
}

fn schema() -> Schema {
    Schema::new(vec![
        spec("credit_level", FieldType::String),
        spec("district", FieldType::String),
        spec("updated", FieldType::Date),
        spec("amount", FieldType::Fen),
    ])
    .unwrap()
}

#[test]
fn schema_checks_fields_and_literal_types() {
    let s = schema();
    let grant = |json: &str| -> ResourceGrant { serde_json::from_str(json).unwrap() };
    let ok = grant(
        r#"{"resource":"360200-XY-000001","fields":["credit_level","district"],
            "rows":[{"op":"range","field":"amount","min":{"type":"fen","value":100}},
                    {"op":"eq","field":"updated","value":{"type":"date","value":"2026-01-01"}}]}"#,
    );
    assert_eq!(ok.check_schema(&s), Ok(()));
    let missing_field = grant(r#"{"resource":"360200-XY-000001","fields":["id_number"]}"#);
    assert!(
        missing_field
            .check_schema(&s)
            .unwrap_err()
            .contains("id_number")
    );
    let missing_row_field = grant(
        r#"{"resource":"360200-XY-000001","rows":[{"op":"eq","field":"gone","value":{"type":"string","value":"x"}}]}"#,
    );
    assert!(missing_row_field.check_schema(&s).is_err());
    let wrong_type = grant(
        r#"{"resource":"360200-XY-000001","rows":[{"op":"range","field":"amount","min":{"type":"int64","value":100}}]}"#,
    );
    let e = wrong_type.check_schema(&s).unwrap_err();
    assert!(e.contains("fen") && e.contains("int64"), "{e}");
    let date_as_text = grant(
        r#"{"resource":"360200-XY-000001","rows":[{"op":"eq","field":"updated","value":{"type":"string","value":"2026-01-01"}}]}"#,
    );
    assert!(date_as_text.check_schema(&s).is_err());

    let sc = scope_of(vec![ok, ResourceGrant::whole(code(R2))]);
    let schemas: BTreeMap<ResourceCode, Schema> = [(code(R1), s.clone())].into();
    let e = sc.check_schemas(|c| schemas.get(c)).unwrap_err();
    assert!(e.message.contains(R2), "{}", e.message);
    let schemas: BTreeMap<ResourceCode, Schema> = [(code(R1), s.clone()), (code(R2), s)].into();
    assert!(sc.check_schemas(|c| schemas.get(c)).is_ok());
}

#[test]
fn field_sets() {
    let all: FieldSet = serde_json::from_str(r#""all""#).unwrap();
    assert_eq!(all, FieldSet::All);
    let some: FieldSet = serde_json::from_str(r#"["b","a","a"]"#).unwrap();
    assert_eq!(some, FieldSet::Only([f("a"), f("b")].into()));
    assert_eq!(serde_json::to_string(&some).unwrap(), r#"["a","b"]"#);
    assert_eq!(serde_json::to_string(&all).unwrap(), r#""all""#);
    assert!(serde_json::from_str::<FieldSet>(r#"[]"#).is_err());
    assert!(serde_json::from_str::<FieldSet>(r#""*""#).is_err());
    assert!(serde_json::from_str::<FieldSet>(r#"["Bad"]"#).is_err());
    let ab = FieldSet::Only([f("a"), f("b")].into());
    let bc = FieldSet::Only([f("b"), f("c")].into());
    assert_eq!(ab.intersect(&bc), FieldSet::Only([f("b")].into()));
    assert_eq!(FieldSet::All.intersect(&bc), bc);
    assert!(ab.is_subset_of(&FieldSet::All));
    assert!(!FieldSet::All.is_subset_of(&ab));
    assert!(FieldSet::Only([f("a")].into()).is_subset_of(&ab));
    assert!(!bc.is_subset_of(&ab));
    // A grant without "fields" grants all.
    let g: ResourceGrant = serde_json::from_str(r#"{"resource":"360200-XY-000001"}"#).unwrap();
    assert_eq!(g, ResourceGrant::whole(code(R1)));
}

fn scope_of(resources: Vec<ResourceGrant>) -> Scope {
    Scope::new(ScopeInput {
        resources,
        domains: BTreeSet::new(),
        scenarios: BTreeSet::new(),
        purposes: [Purpose::IndustryDevelopment, Purpose::PublicGovernance].into(),
    })
    .unwrap()
}

fn r1_grant() -> ResourceGrant {
    serde_json::from_str(
        r#"{"resource":"360200-XY-000001","fields":["credit_level","district","updated"],
            "rows":[{"op":"in","field":"district","values":[{"type":"string","value":"昌江区"},{"type":"string","value":"珠山区"}]}]}"#,
    )
    .unwrap()
}

fn agreement_scope() -> Scope {
    scope_of(vec![ResourceGrant::whole(code(R2)), r1_grant()])
}

#[test]
fn scope_validation() {
    let s = agreement_scope();
    // Sorted by code.
    let codes: Vec<&str> = s.resource_codes().map(|c| c.as_str()).collect();
    assert_eq!(codes, vec![R2, R1]);
    assert!(s.grant(&code(R1)).is_some() && s.grant(&code(R3)).is_none());
    let mut i = s.clone().into_input();
    i.resources.push(ResourceGrant::whole(code(R1)));
    assert!(Scope::new(i).is_err());
    let mut i = s.clone().into_input();
    i.resources.clear();
    assert!(Scope::new(i).is_err());
    let mut i = s.clone().into_input();
    i.purposes.clear();
    assert_eq!(
        Scope::new(i).unwrap_err().field.as_deref(),
        Some("purposes")
    );
    // Domains confine: a transport resource in a credit-only scope.
    let mut i = s.clone().into_input();
    i.domains = [DataDomain::Credit].into();
    assert!(Scope::new(i.clone()).is_err());
    i.domains.insert(DataDomain::Transport);
    assert!(Scope::new(i).is_ok());
    // JSON round trip; an invalid scope does not parse.
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(serde_json::from_value::<Scope>(json.clone()).unwrap(), s);
    let mut bad = json;
    bad["purposes"] = serde_json::json!([]);
    assert!(serde_json::from_value::<Scope>(bad).is_err());
    // Negative list.
    assert!(s.check_not_excluded(&BTreeSet::new()).is_ok());
    assert!(s.check_not_excluded(&[code(R2)].into()).is_err());
}

#[test]
fn containment() {
    let outer = agreement_scope();
    let narrower = |f: &dyn Fn(&mut ScopeInput)| {
        let mut i = outer.clone().into_input();
        f(&mut i);
        Scope::new(i).unwrap()
    };
    let fewer_fields = |i: &mut ScopeInput| {
        i.resources[1].fields = FieldSet::Only([f("credit_level")].into());
    };
    let cases: Vec<(&str, Scope, bool)> = vec![
        ("itself", outer.clone(), true),
        (
            "one resource",
            scope_of(vec![ResourceGrant::whole(code(R2))]),
            true,
        ),
        ("fewer fields", narrower(&fewer_fields), true),
        (
            "more fields",
            narrower(&|i| i.resources[1].fields = FieldSet::All),
            false,
        ),
        (
            "fewer rows",
            narrower(&|i| {
                i.resources[1].rows = Some(filter(
                    r#"[{"op":"eq","field":"district","value":{"type":"string","value":"昌江区"}}]"#,
                ))
            }),
            true,
        ),
        ("all rows", narrower(&|i| i.resources[1].rows = None), false),
        (
            "rows of another district",
            narrower(&|i| {
                i.resources[1].rows = Some(filter(
                    r#"[{"op":"eq","field":"district","value":{"type":"string","value":"浮梁县"}}]"#,
                ))
            }),
            false,
        ),
        (
            "another resource",
            narrower(&|i| i.resources.push(ResourceGrant::whole(code(R3)))),
            false,
        ),
        (
            "another purpose",
            narrower(&|i| {
                i.purposes.insert(Purpose::PublicWelfare);
            }),
            false,
        ),
        (
            "fewer purposes",
            narrower(&|i| {
                i.purposes.remove(&Purpose::PublicGovernance);
            }),
            true,
        ),
        (
            "confined to domains",
            narrower(&|i| i.domains = [DataDomain::Credit, DataDomain::Transport].into()),
            true,
        ),
        (
            "confined to a scenario",
            narrower(&|i| i.scenarios = ["个人信用画像".parse().unwrap()].into()),
            true,
        ),
    ];
    for (name, inner, want) in &cases {
        assert_eq!(
            inner.is_subset_of(&outer),
            *want,
            "{name}: {:?}",
            inner.excess_over(&outer)
        );
        assert_eq!(
            inner.check_within(&outer).map_err(|e| e.code),
            if *want {
                Ok(())
            } else {
                Err(ErrorCode::Forbidden)
            },
            "{name}"
        );
        assert_eq!(
            super::super::prohibitions::check_grant_within(&outer, inner).is_ok(),
            *want
        );
    }
    // A scope confined to scenarios contains only scopes confined to some
    // of them.
    let confined = narrower(&|i| i.scenarios = ["个人信用画像".parse().unwrap()].into());
    assert!(!outer.is_subset_of(&confined));
    let other = narrower(&|i| i.scenarios = ["普惠金融服务".parse().unwrap()].into());
    assert!(!other.is_subset_of(&confined));
    let by_domain = narrower(&|i| i.domains = [DataDomain::Credit, DataDomain::Transport].into());
    assert!(!outer.is_subset_of(&by_domain));
    // Covering a scenario's grant.
    assert!(outer.covers(&ResourceGrant {
        resource: code(R1),
        fields: FieldSet::Only([f("district")].into()),
        rows: r1_grant().rows,
    }));
    assert!(!outer.covers(&ResourceGrant::whole(code(R1))));
}

const OPERATOR: i64 = 5;

fn view(state: AgreementState) -> AgreementView {
    let scenario =
        |id: i64, name: &str, state: ScenarioState, purpose: Purpose, data: &str| ScenarioView {
            id,
            name: name.parse().unwrap(),
            state,
            purpose,
            data: serde_json::from_str(data).unwrap(),
        };
    AgreementView {
        agreement_id: 1,
        operator_org_id: OPERATOR,
        state,
        term: Term::new(TermInput {
            start: d("2026-01-01"),
            end: d("2030-12-31"),
        })
        .unwrap(),
        scope: agreement_scope(),
        scenarios: vec![
            scenario(
                10,
                "个人信用画像",
                ScenarioState::Approved,
                Purpose::IndustryDevelopment,
                r#"[{"resource":"360200-XY-000001","fields":["credit_level","district"],
                     "rows":[{"op":"range","field":"updated","min":{"type":"date","value":"2025-01-01"}}]}]"#,
            ),
            scenario(
                11,
                "出行便民查询服务",
                ScenarioState::Submitted,
                Purpose::PublicGovernance,
                r#"[{"resource":"360200-JT-000001"}]"#,
            ),
            scenario(
                12,
                "民宿酒店引流服务",
                ScenarioState::Approved,
                Purpose::PublicWelfare,
                r#"[{"resource":"360200-JT-000001"}]"#,
            ),
            scenario(
                13,
                "货运路线优化服务",
                ScenarioState::Approved,
                Purpose::PublicGovernance,
                r#"[{"resource":"360200-JT-000001"}]"#,
            ),
            scenario(
                14,
                "充电桩选址服务",
                ScenarioState::Revoked,
                Purpose::IndustryDevelopment,
                r#"[{"resource":"360200-JT-000001"}]"#,
            ),
        ],
    }
}

struct Case {
    name: &'static str,
    state: AgreementState,
    org: i64,
    resource: &'static str,
    field: Option<&'static str>,
    purpose: Option<Purpose>,
    scenario: Option<i64>,
    now: i64,
    want: Result<(FieldSet, Option<&'static str>), DenyReason>,
}

fn noon(s: &str) -> i64 {
    d(s).start_epoch_ms_beijing() + 12 * 3_600_000
}

#[test]
fn the_decision_table() {
    use AgreementState as S;
    use DenyReason as R;
    let now = noon("2026-06-01");
    let base = Case {
        name: "",
        state: S::Active,
        org: OPERATOR,
        resource: R1,
        field: None,
        purpose: None,
        scenario: Some(10),
        now,
        want: Err(R::NotOperator),
    };
    let two = FieldSet::Only([f("credit_level"), f("district")].into());
    let r1_rows = "district IN ('昌江区', '珠山区') AND updated >= 2025-01-01";
    let cases = vec![
        Case {
            name: "the resource through an approved scenario",
            want: Ok((two.clone(), Some(r1_rows))),
            ..base
        },
        Case {
            name: "a field, purpose stated",
            field: Some("credit_level"),
            purpose: Some(Purpose::IndustryDevelopment),
            want: Ok((two.clone(), Some(r1_rows))),
            ..base
        },
        Case {
            name: "another organisation (re-sharing)",
            org: 6,
            want: Err(R::NotOperator),
            ..base
        },
        Case {
            name: "another organisation on an expired agreement",
            org: 6,
            now: noon("2031-06-01"),
            want: Err(R::NotOperator),
            ..base
        },
        Case {
            name: "suspended",
            state: S::Suspended,
            want: Err(R::AgreementNotActive),
            ..base
        },
        Case {
            name: "drafted",
            state: S::Drafted,
            want: Err(R::AgreementNotActive),
            ..base
        },
        Case {
            name: "signed, not yet filed",
            state: S::Signed,
            want: Err(R::AgreementNotActive),
            ..base
        },
        Case {
            name: "filed, not yet active",
            state: S::Filed,
            want: Err(R::AgreementNotActive),
            ..base
        },
        Case {
            name: "terminated",
            state: S::Terminated,
            want: Err(R::AgreementNotActive),
            ..base
        },
        Case {
            name: "exited",
            state: S::Exited,
            want: Err(R::AgreementNotActive),
            ..base
        },
        Case {
            name: "cancelled",
            state: S::Cancelled,
            want: Err(R::AgreementNotActive),
            ..base
        },
        Case {
            name: "expired as stored",
            state: S::Expired,
            want: Err(R::AgreementExpired),
            ..base
        },
        Case {
            name: "active but past the term",
            now: noon("2031-01-01"),
            want: Err(R::AgreementExpired),
            ..base
        },
        Case {
            name: "suspended and past the term",
            state: S::Suspended,
            now: noon("2031-01-01"),
            want: Err(R::AgreementExpired),
            ..base
        },
        Case {
            name: "the last millisecond of the term",
            now: d("2030-12-31").end_epoch_ms_beijing(),
            want: Ok((two.clone(), Some(r1_rows))),
            ..base
        },
        Case {
            name: "one millisecond after",
            now: d("2030-12-31").end_epoch_ms_beijing() + 1,
            want: Err(R::AgreementExpired),
            ..base
        },
        Case {
            name: "active before the term begins",
            now: d("2026-01-01").start_epoch_ms_beijing() - 1,
            want: Err(R::NotYetInForce),
            ..base
        },
        Case {
            name: "the first millisecond of the term",
            now: d("2026-01-01").start_epoch_ms_beijing(),
            want: Ok((two.clone(), Some(r1_rows))),
            ..base
        },
        Case {
            name: "a resource outside the scope",
            resource: R3,
            want: Err(R::ResourceNotInScope),
            ..base
        },
        Case {
            name: "a field outside the agreement's grant",
            field: Some("id_number"),
            want: Err(R::FieldNotInScope),
            ..base
        },
        Case {
            name: "a field granted but not asked for by the scenario",
            field: Some("updated"),
            want: Err(R::OutsideScenarioData),
            ..base
        },
        Case {
            name: "no scenario",
            scenario: None,
            want: Err(R::ScenarioRequired),
            ..base
        },
        Case {
            name: "a scenario still under review",
            resource: R2,
            scenario: Some(11),
            want: Err(R::ScenarioNotApproved),
            ..base
        },
        Case {
            name: "a revoked scenario",
            resource: R2,
            scenario: Some(14),
            want: Err(R::ScenarioNotApproved),
            ..base
        },
        Case {
            name: "an unknown scenario",
            scenario: Some(99),
            want: Err(R::ScenarioNotApproved),
            ..base
        },
        Case {
            name: "a resource in scope the scenario did not ask for",
            resource: R2,
            want: Err(R::OutsideScenarioData),
            ..base
        },
        Case {
            name: "a purpose other than the scenario's",
            purpose: Some(Purpose::PublicWelfare),
            want: Err(R::PurposeMismatch),
            ..base
        },
        Case {
            name: "a scenario whose purpose the agreement does not allow",
            resource: R2,
            scenario: Some(12),
            want: Err(R::PurposeNotAllowed),
            ..base
        },
        Case {
            name: "a whole resource through a scenario",
            resource: R2,
            field: Some("plate"),
            scenario: Some(13),
            want: Ok((FieldSet::All, None)),
            ..base
        },
    ];
    for c in cases {
        let req = AccessRequest {
            org_id: c.org,
            resource: code(c.resource),
            field: c.field.map(f),
            purpose: c.purpose,
            scenario_id: c.scenario,
        };
        let got = decide(&view(c.state), &req, c.now);
        match (&got, &c.want) {
            (Decision::Allow(a), Ok((fields, rows))) => {
                assert_eq!(&a.fields, fields, "{}", c.name);
                assert_eq!(
                    a.rows.as_ref().map(ToString::to_string).as_deref(),
                    *rows,
                    "{}",
                    c.name
                );
                assert_eq!(a.agreement_id, 1);
                assert_eq!(Some(a.scenario_id), c.scenario);
            }
            (Decision::Deny(d), Err(reason)) => {
                assert_eq!(d.reason, *reason, "{}: {}", c.name, d.message);
                assert!(!d.message.is_empty());
            }
            _ => panic!("{}: got {got:?}, wanted {:?}", c.name, c.want),
        }
    }
}

#[test]
fn a_scope_confined_to_scenarios_refuses_others() {
    let mut v = view(AgreementState::Active);
    let mut i = v.scope.clone().into_input();
    i.scenarios = ["个人信用画像".parse().unwrap()].into();
    v.scope = Scope::new(i).unwrap();
    let req = AccessRequest {
        org_id: OPERATOR,
        resource: code(R2),
        field: None,
        purpose: None,
        scenario_id: Some(13),
    };
    let now = noon("2026-06-01");
    assert_eq!(
        decide(&v, &req, now).deny_reason(),
        Some(DenyReason::ScenarioNotApproved)
    );
    let req = AccessRequest {
        resource: code(R1),
        scenario_id: Some(10),
        ..req
    };
    assert!(decide(&v, &req, now).is_allowed());
}

#[test]
fn decisions_serialise_and_convert() {
    let req = AccessRequest {
        org_id: 6,
        resource: code(R1),
        field: None,
        purpose: None,
        scenario_id: Some(10),
    };
    let v = view(AgreementState::Active);
    let now = noon("2026-06-01");
    let deny = decide(&v, &req, now);
    let json = serde_json::to_value(&deny).unwrap();
    assert_eq!(json["decision"], "deny");
    assert_eq!(json["reason"], "not_operator");
    let e = deny.into_result().unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(e.message.starts_with("not_operator: "));
    let allow = decide(
        &v,
        &AccessRequest {
            org_id: OPERATOR,
            ..req
        },
        now,
    );
    let json = serde_json::to_value(&allow).unwrap();
    assert_eq!(json["decision"], "allow");
    assert_eq!(
        json["fields"],
        serde_json::json!(["credit_level", "district"])
    );
    assert_eq!(serde_json::from_value::<Decision>(json).unwrap(), allow);
    assert!(allow.into_result().is_ok());
    for r in DenyReason::ALL {
        assert_eq!(DenyReason::parse(r.as_str()), Ok(r));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!("\"{}\"", r.as_str())
        );
    }
    // Requests carry no unknown keys.
    assert!(
        serde_json::from_str::<AccessRequest>(
            r#"{"org_id":5,"resource":"360200-XY-000001","as_org":6}"#
        )
        .is_err()
    );
}

#[test]
fn no_sublicence() {
    let v = view(AgreementState::Active);
    assert!(super::super::prohibitions::check_no_sublicence(&v, OPERATOR).is_ok());
    assert_eq!(
        super::super::prohibitions::check_no_sublicence(&v, 6).map_err(|e| e.code),
        Err(ErrorCode::Forbidden)
    );
}

#[test]
fn grant_filters_are_small_enough_to_combine() {
    let cond = Predicate::Eq {
        field: f("district"),
        value: text("昌江区"),
    };
    let grant = |n: usize| ResourceGrant {
        resource: code(R1),
        fields: FieldSet::All,
        rows: Some(RowFilter::new(vec![cond.clone(); n]).unwrap()),
    };
    let scope = |g: ResourceGrant| {
        let mut i = agreement_scope().into_input();
        i.resources = vec![g];
        Scope::new(i)
    };
    assert!(scope(grant(MAX_GRANT_PREDICATES)).is_ok());
    assert_eq!(
        scope(grant(MAX_GRANT_PREDICATES + 1))
            .unwrap_err()
            .field
            .as_deref(),
        Some("rows")
    );
    // The AND of two maximal grant filters is itself a valid filter, so an
    // allowance survives a JSON round trip.
    let both = RowFilter::and(grant(16).rows.as_ref(), grant(16).rows.as_ref()).unwrap();
    assert!(RowFilter::new(both.predicates().to_vec()).is_ok());
}

#[test]
fn scenario_views_come_from_scenario_plans() {
    use crate::authorization::scenario::{
        OutputForm, ScenarioPlan, ScenarioPlanInput, ScenarioProduct,
    };
    let plan = ScenarioPlan::new(ScenarioPlanInput {
        name: "个人信用画像".parse().unwrap(),
        purpose: Purpose::IndustryDevelopment,
        description: "信用评分".into(),
        data: vec![ResourceGrant::whole(code(R1))],
        outputs: [OutputForm::Verification].into(),
        security_measures: "沙箱".into(),
        product: ScenarioProduct {
            name: "个人信用画像".into(),
            kind: crate::authorization::ProductKind::ApiService,
        },
    })
    .unwrap();
    let v = ScenarioView::of(10, ScenarioState::Approved, &plan);
    assert_eq!(v.name.as_str(), "个人信用画像");
    assert_eq!(v.data, plan.data);
}
