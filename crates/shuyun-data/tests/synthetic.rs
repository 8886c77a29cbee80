//! Synthetic look-alike data of a stored pilot version: same schema, valid
//! (it loads back through ingestion), drawn from marginals that keep no
//! real identifier, no category held by fewer than k rows and no value
//! outside the 5th–95th percentiles.

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use shuyun_data::ingest::{InputFormat, TextEncoding, arrow_schema, ingest};
use shuyun_data::synthetic::{ColumnProfile, IdKind, generate, identifier, profile, write};
use shuyun_domain::CreditCode;

#[tokio::test]
async fn enterprise_credit_look_alike() {
    let pr = shuyun_data::pilot::pilot_resources()
        .into_iter()
        .find(|r| r.key == "enterprise_credit")
        .unwrap();
    let mut csv = Vec::new();
    shuyun_data::pilot::generate_csv(pr.key, 10.0, 7, &mut csv).unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let real = Path::from("r/enterprise_credit/v1.parquet");
    let out = ingest(
        csv.as_slice(),
        InputFormat::Csv(TextEncoding::Utf8),
        &pr.schema,
        store.clone(),
        &real,
    )
    .await
    .unwrap();
    assert!(out.rows >= 500, "{} rows", out.rows);

    // The real values, to compare against.
    let text = String::from_utf8(csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let real_codes: HashSet<String> = rows.iter().map(|r| r[col("credit_code")].clone()).collect();
    let mut district_counts: HashMap<String, u64> = HashMap::new();
    for r in &rows {
        *district_counts
            .entry(r[col("industry")].clone())
            .or_insert(0) += 1;
    }
    let mut scores: Vec<i64> = rows
        .iter()
        .filter_map(|r| r[col("credit_score")].parse().ok())
        .collect();
    scores.sort_unstable();

    let k = 10;
    let p = profile(store.clone(), &real, &pr.schema, k).await.unwrap();
    assert_eq!(p.rows, out.rows);
    let model = |name: &str| &p.columns.iter().find(|c| c.name == name).unwrap().profile;
    assert_eq!(
        model("credit_code"),
        &ColumnProfile::Identifier {
            kind: IdKind::CreditCode
        }
    );
    // Nothing identifying in the profile itself.
    let json = serde_json::to_string(&p).unwrap();
    assert!(real_codes.iter().all(|c| !json.contains(c.as_str())));

    let n = 2000;
    let batch = generate(&pr.schema, &p, n, 42).unwrap();
    assert_eq!(batch.schema(), arrow_schema(&pr.schema));
    assert_eq!(batch.num_rows(), n);
    let codes = batch
        .column_by_name("credit_code")
        .unwrap()
        .as_string::<i32>();
    let synthetic_codes: HashSet<&str> = codes.iter().flatten().collect();
    assert_eq!(synthetic_codes.len(), n, "keys stay unique");
    assert!(
        synthetic_codes
            .iter()
            .all(|c| c.parse::<CreditCode>().is_ok())
    );
    assert!(
        synthetic_codes.iter().all(|c| !real_codes.contains(*c)),
        "no real identifier"
    );
    for v in batch
        .column_by_name("industry")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .flatten()
    {
        assert!(
            v == "其他" || district_counts.get(v).is_some_and(|c| *c >= u64::from(k)),
            "{v} is rare or made up"
        );
    }
    let (q5, q95) = (
        scores[scores.len() / 20] as f64 - 1.0,
        scores[scores.len() * 19 / 20] as f64 + 1.0,
    );
    for v in batch
        .column_by_name("credit_score")
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .flatten()
    {
        assert!(
            (q5..=q95).contains(&(v as f64)),
            "{v} outside [{q5}, {q95}]"
        );
    }
    // Deterministic for a seed.
    assert_eq!(
        generate(&pr.schema, &p, 50, 42).unwrap(),
        generate(&pr.schema, &p, 50, 42).unwrap()
    );

    // Written as Parquet, it loads back through ingestion: valid in every
    // field, keys unique.
    let synth = Path::from("s/enterprise_credit.parquet");
    write(store.clone(), &synth, &pr.schema, &p, n, 42)
        .await
        .unwrap();
    let bytes = store.get(&synth).await.unwrap().bytes().await.unwrap();
    let back = ingest(
        bytes.as_ref(),
        InputFormat::Parquet,
        &pr.schema,
        store.clone(),
        &Path::from("s/check.parquet"),
    )
    .await
    .unwrap();
    assert_eq!(back.rows, n as u64);
}

#[test]
fn identifiers_are_valid_and_shared() {
    for n in [0, 1, 30, 31, 999_999] {
        assert!(
            identifier(IdKind::CreditCode, n)
                .parse::<CreditCode>()
                .is_ok()
        );
        assert!(
            identifier(IdKind::ResidentId, n)
                .parse::<shuyun_domain::ResidentId>()
                .is_ok()
        );
    }
    assert_eq!(identifier(IdKind::Mobile, 5), "19900000005");
    assert_ne!(
        identifier(IdKind::CreditCode, 1),
        identifier(IdKind::CreditCode, 2)
    );
}
