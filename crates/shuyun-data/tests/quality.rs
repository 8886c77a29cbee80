//! Quality evaluation over stored versions (every kind of rule on a small
//! file whose failing rows are known, and the timeliness arithmetic) and
//! the CSV export of a stored version, which must load back unchanged.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;
use shuyun_data::ingest::{InputFormat, TextEncoding, ingest};
use shuyun_data::quality::{Timing, evaluate};
use shuyun_domain::CreditCode;
use shuyun_domain::catalogue::{FieldSpec, FieldType, Grade, PiTag, Schema};
use shuyun_domain::quality::{Dimension, QualityReport, Rule, RuleSet};

fn field(name: &str, ty: FieldType, nullable: bool) -> FieldSpec {
    FieldSpec {
        name: name.parse().unwrap(),
        label: name.into(),
        field_type: ty,
        unit: None,
        nullable,
        key: false,
        grade: Grade::General2,
        pi: PiTag::None,
    }
}

fn schema() -> Schema {
    Schema::new(vec![
        field("code", FieldType::String, true),
        field("kind", FieldType::String, true),
        field("staff", FieldType::Int64, true),
        field("capital", FieldType::Fen, true),
        field("founded", FieldType::Date, true),
        field("closed", FieldType::Date, true),
        field("seen", FieldType::Timestamp, true),
    ])
    .unwrap()
}

fn code(n: u32) -> String {
    let first17 = format!("91360200MA{n:07}");
    format!("{first17}{}", CreditCode::check_char(&first17).unwrap())
}

const DAY: i64 = 86_400_000;
/// 2026-03-01 00:00 Beijing time.
const MAR1: i64 = 1_772_294_400_000;

async fn report(csv: &str, rules: &str, timing: Timing) -> QualityReport {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let path = Path::from("q/v1.parquet");
    let s = schema();
    ingest(
        csv.as_bytes(),
        InputFormat::Csv(TextEncoding::Utf8),
        &s,
        objects.clone(),
        &path,
    )
    .await
    .unwrap();
    let rules = RuleSet::new(serde_json::from_str::<Vec<Rule>>(rules).unwrap(), &s).unwrap();
    evaluate(objects, &path, &s, &rules, &timing).await.unwrap()
}

fn timing() -> Timing {
    Timing {
        uploaded_at_ms: MAR1 + 10 * 3_600_000,
        previous_uploaded_at_ms: None,
        max_age_days: Some(35),
    }
}

fn sample_csv() -> String {
    let mut csv = String::from("code,kind,staff,capital,founded,closed,seen\n");
    // Row 1: clean.
    csv += &format!(
        "{},A,10,100000,2020-01-01,2021-01-01,2026-02-20 08:00:00\n",
        code(1)
    );
    // Row 2: code duplicates row 1, staff out of range, kind not in list.
    csv += &format!("{},Z,-5,200000,2020-01-01,,2026-02-20 08:00:00\n", code(1));
    // Row 3: bad check character, closed before founded, empty capital.
    let mut bad = code(3);
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    csv += &format!("{bad},B,20,,2022-05-01,2021-01-01,\n");
    // Row 4: empty code (not counted for unique/format), founded too early.
    csv += ",A,30,300000,1900-01-01,,2026-01-25 12:00:00\n";
    csv
}

#[tokio::test]
async fn every_rule_kind_finds_its_rows() {
    let r = report(
        &sample_csv(),
        r#"[{"check":"not_empty","field":"capital","weight":2},
            {"check":"unique","fields":["code"]},
            {"check":"range","field":"staff","min":0,"max":10000},
            {"check":"range","field":"founded","min":"1949-10-01"},
            {"check":"code_list","field":"kind","values":["A","B"]},
            {"check":"format","field":"code","format":"credit_code"},
            {"check":"compare","left":"closed","op":">=","right":"founded"},
            {"check":"fresh","field":"seen"},
            {"check":"fresh"}]"#,
        timing(),
    )
    .await;
    assert_eq!(r.rows, 4);
    let got: Vec<(u64, u64, Vec<u64>)> = r
        .results
        .iter()
        .map(|x| (x.checked, x.failed, x.sample_rows.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, 1, vec![3]), // capital empty on row 3
            (3, 1, vec![2]), // row 2 repeats row 1's code
            (4, 1, vec![2]), // staff -5
            (4, 1, vec![4]), // founded 1900
            (4, 1, vec![2]), // kind Z
            (3, 1, vec![3]), // bad check character
            (2, 1, vec![3]), // closed before founded (rows 1 and 3 have both)
            (1, 0, vec![]),  // newest seen 2026-02-20, 9 days before upload
            (0, 0, vec![]),  // first version
        ]
    );
    assert!(
        r.results[7]
            .note
            .as_deref()
            .unwrap()
            .contains("9 day(s) old")
    );
    assert_eq!(r.results[8].note.as_deref(), Some("first version"));
    // Weighted: (0.75*2 + 2/3 + 0.75*3 + 2/3 + 0.5 + 1 + 1) / 10 = 0.75833…
    assert_eq!(r.score, 75.83);
    let dims: Vec<Dimension> = r.dimensions.iter().map(|d| d.0).collect();
    assert_eq!(dims, Dimension::ALL.to_vec());
}

#[tokio::test]
async fn stale_data_fails_timeliness() {
    let t = Timing {
        uploaded_at_ms: MAR1 + 40 * DAY,
        previous_uploaded_at_ms: Some(MAR1 - 30 * DAY),
        max_age_days: Some(35),
    };
    let r = report(
        &sample_csv(),
        r#"[{"check":"fresh","field":"seen"},{"check":"fresh"}]"#,
        t,
    )
    .await;
    assert_eq!((r.results[0].checked, r.results[0].failed), (1, 1));
    assert_eq!((r.results[1].checked, r.results[1].failed), (1, 1));
    assert!(
        r.results[1]
            .note
            .as_deref()
            .unwrap()
            .starts_with("70 day(s)")
    );
    assert_eq!(r.score, 0.0);
    // Irregular resources are not measured on timeliness.
    let t = Timing {
        max_age_days: None,
        ..t
    };
    let r = report(&sample_csv(), r#"[{"check":"fresh"}]"#, t).await;
    assert_eq!(
        (r.results[0].checked, r.results[0].failed, r.score),
        (0, 0, 100.0)
    );
}

#[tokio::test]
async fn money_and_timestamp_bounds_and_many_batches() {
    let mut csv = String::from("code,kind,staff,capital,founded,closed,seen\n");
    for i in 0..20_000u32 {
        // Every 1000th row has capital above ¥1,000,000.00 and a date after the bound.
        let capital = if i % 1000 == 999 { 100_000_001 } else { 5_000 };
        let seen = if i % 1000 == 999 {
            "2026-03-02 00:00:00"
        } else {
            "2026-02-01 00:00:00"
        };
        csv += &format!("{},A,1,{capital},2020-01-01,,{seen}\n", code(i));
    }
    let r = report(
        &csv,
        r#"[{"check":"range","field":"capital","max":100000000},
            {"check":"range","field":"seen","max":"2026-03-01 23:59:59"},
            {"check":"unique","fields":["code","kind"]}]"#,
        timing(),
    )
    .await;
    assert_eq!(r.rows, 20_000);
    assert_eq!(
        (r.results[0].failed, r.results[0].sample_rows[0]),
        (20, 1000)
    );
    assert_eq!(
        (r.results[1].failed, r.results[1].sample_rows[1]),
        (20, 2000)
    );
    assert_eq!((r.results[2].checked, r.results[2].failed), (20_000, 0));
}

/// A stored version exported as CSV loads back into the same data.
#[tokio::test]
async fn csv_export_round_trips() {
    use futures_util::StreamExt;
    use shuyun_data::export::{csv_header, csv_rows};
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let s = schema();
    let csv = format!(
        "code,kind,staff,capital,founded,closed,seen\n\
         {},\"景德镇, 陶瓷\",10,100000,2020-01-01,,2026-02-20 08:00:00\n\
         ,\"say \"\"hi\"\"\",,,1999-12-31,2000-01-01,2026-03-01 23:59:59.250\n",
        code(1)
    );
    let p1 = Path::from("e/v1.parquet");
    let first = ingest(
        csv.as_bytes(),
        InputFormat::Csv(TextEncoding::Utf8),
        &s,
        objects.clone(),
        &p1,
    )
    .await
    .unwrap();
    let mut out = String::new();
    let mut batches = shuyun_data::objects::read_batches(objects.clone(), &p1, 1)
        .await
        .unwrap();
    while let Some(b) = batches.next().await {
        let b = b.unwrap();
        if out.is_empty() {
            out += &csv_header(&b.schema());
        }
        out += &csv_rows(&b);
    }
    assert!(out.starts_with("\u{feff}code,kind,staff"));
    assert!(out.contains("\"景德镇, 陶瓷\""));
    assert!(out.contains("2026-03-01 23:59:59.250"));
    let p2 = Path::from("e/v2.parquet");
    let second = ingest(
        out.as_bytes(),
        InputFormat::Csv(TextEncoding::Utf8),
        &s,
        objects.clone(),
        &p2,
    )
    .await
    .unwrap();
    assert_eq!(first.rows, second.rows);
    assert_eq!(first.sm3, second.sm3, "the same data, byte for byte");
}
