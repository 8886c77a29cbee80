//! The output checks of C3 against real Parquet files: dominance, the p%
//! rule, rounding, totals of ROLLUP, differencing across queries and
//! differential privacy.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::parquet::arrow::ArrowWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use shuyun_domain::authorization::Purpose;
use shuyun_domain::authorization::scope::{Allowance, FieldSet};
use shuyun_domain::catalogue::{FieldSpec, FieldType, Grade, PiTag, Schema};
use shuyun_domain::workspace::checks::OutputPolicy;
use shuyun_domain::workspace::{Epsilon, Mechanism};
use shuyun_workspace::{
    ErrorCode, NoiseSpec, PseudonymKey, QueryOutput, ResultHistory, RunOptions, TableSpec,
    Workspace, WorkspaceConfig,
};

const KEY: &[u8; 32] = b"agreement-9-pseudonym-key-000001";

/// 甲: firms 0..32, 乙: 32..55, 丙: 55..60 (five firms).
const FIRMS: usize = 60;

fn district(i: usize) -> &'static str {
    match i {
        0..32 => "甲",
        32..55 => "乙",
        _ => "丙",
    }
}

/// In 甲, firms 0..12 make ceramics: one has 900 of the industry's 1000
/// turnover, the next 50, ten firms 5 each. Firm 32 dominates 乙.
fn turnover(i: usize) -> i64 {
    match i {
        0 => 900,
        1 => 50,
        2..12 => 5,
        32 => 1_000_000,
        _ => 100,
    }
}

fn industry(i: usize) -> &'static str {
    if i < 12 { "陶瓷" } else { "医药" }
}

fn staff(i: usize) -> i64 {
    10 + (i % 7) as i64
}

fn code(i: usize) -> String {
    format!("91360200MA{i:08}")
}

fn field(name: &str, t: FieldType, key: bool) -> FieldSpec {
    FieldSpec {
        name: name.parse().expect("field name"),
        label: name.to_string(),
        field_type: t,
        unit: None,
        nullable: !key,
        key,
        grade: Grade::General1,
        pi: PiTag::None,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    ws: Workspace,
}

async fn fixture(policy: OutputPolicy) -> Fixture {
    fixture_keyed(policy, true).await
}

/// The firms, with `credit_code` as the table's key (ingest guarantees
/// one row per unit: the checks count rows) or as a plain field that is
/// still the unit (the checks count distinct digests).
async fn fixture_keyed(policy: OutputPolicy, keyed: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("local store"));
    let schema = Schema::new(vec![
        field("credit_code", FieldType::String, keyed),
        field("district", FieldType::String, false),
        field("industry", FieldType::String, false),
        field("turnover", FieldType::Int64, false),
        field("staff", FieldType::Int64, false),
    ])
    .expect("schema");
    let strings = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from((0..FIRMS).map(f).collect::<Vec<_>>()))
    };
    let ints = |f: &dyn Fn(usize) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from((0..FIRMS).map(f).collect::<Vec<_>>()))
    };
    let batch = RecordBatch::try_from_iter(vec![
        ("credit_code", strings(&code)),
        ("district", strings(&|i| district(i).to_string())),
        ("industry", strings(&|i| industry(i).to_string())),
        ("turnover", ints(&turnover)),
        ("staff", ints(&staff)),
    ])
    .expect("batch");
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let path = Path::from("v1/firms.parquet");
    store.put(&path, buf.into()).await.expect("put");
    let table = TableSpec {
        resource: "360200-XY-000009".parse().expect("code"),
        name: "firms".into(),
        unit: Some("credit_code".parse().expect("name")),
        schema,
        store,
        objects: vec![path],
        allowance: Allowance {
            agreement_id: 9,
            scenario_id: 1,
            purpose: Purpose::ALL[0],
            fields: FieldSet::All,
            rows: None,
        },
        unit_digests: false,
    };
    let ws = Workspace::open(
        vec![table],
        PseudonymKey::new(*KEY).expect("key"),
        WorkspaceConfig {
            policy,
            ..WorkspaceConfig::default()
        },
    )
    .expect("workspace");
    Fixture { _dir: dir, ws }
}

async fn run(ws: &Workspace, sql: &str) -> QueryOutput {
    ws.run(sql).await.expect(sql)
}

async fn run_with(ws: &Workspace, sql: &str, options: RunOptions) -> QueryOutput {
    ws.run_with(sql, |_| Ok(()), options).await.expect(sql)
}

fn sorted(out: &QueryOutput) -> Vec<Vec<String>> {
    let mut rows = out.rows();
    rows.sort();
    rows
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn total_of(pred: impl Fn(usize) -> bool, f: impl Fn(usize) -> i64) -> i64 {
    (0..FIRMS).filter(|i| pred(*i)).map(f).sum()
}

/// Counting rows as units (a table keyed by its unit) and counting
/// distinct unit digests decide every cell alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_as_units_and_distinct_units_agree() {
    let policy = OutputPolicy {
        p_pct: 20,
        dominance_pct: 80,
        ..OutputPolicy::default()
    };
    let keyed = fixture_keyed(policy, true).await;
    let plain = fixture_keyed(policy, false).await;
    for sql in [
        "SELECT district, count(*) AS n, sum(turnover) AS t, avg(staff) AS s FROM firms \
         GROUP BY district",
        "SELECT district, industry, count(*) AS n, sum(staff) AS s FROM firms \
         GROUP BY district, industry",
        "SELECT industry, sum(turnover) FILTER (WHERE staff > 20) AS t FROM firms \
         WHERE district = '甲' GROUP BY industry",
        "SELECT count(*) AS n, sum(turnover) AS t FROM firms",
        "SELECT district, count(*) AS n, sum(staff) AS s FROM firms GROUP BY ROLLUP(district)",
        "SELECT d, count(*) AS n FROM (SELECT district AS d, credit_code FROM firms \
         WHERE staff > 3 ORDER BY staff LIMIT 40) s GROUP BY d",
    ] {
        let a = run(&keyed.ws, sql).await;
        let b = run(&plain.ws, sql).await;
        assert_eq!(sorted(&a), sorted(&b), "{sql}");
        let (ca, cb) = (&a.audit.check, &b.audit.check);
        assert_eq!(ca.suppressed, cb.suppressed, "{sql}");
        assert_eq!(ca.rows_produced, cb.rows_produced, "{sql}");
        assert_eq!(ca.totals_recomputed, cb.totals_recomputed, "{sql}");
        // The plans differ: rows are counted for the keyed table only.
        assert_ne!(a.audit.plan_fingerprint, b.audit.plan_fingerprint, "{sql}");
    }
}

/// When rows are units, the checks need not read the unit: a subquery
/// that drops it is fine. The differencing history needs the units, so
/// with it the same shape is refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_units_even_when_the_unit_is_not_selected() {
    let f = fixture(OutputPolicy::default()).await;
    let direct = run(
        &f.ws,
        "SELECT district, count(*) AS n FROM firms GROUP BY district",
    )
    .await;
    let sql = "SELECT d, count(*) AS n FROM (SELECT district AS d FROM firms) s GROUP BY d";
    let out = run(&f.ws, sql).await;
    assert_eq!(sorted(&out), sorted(&direct));
    assert_eq!(out.audit.check.rows_suppressed, 1);

    let plain = fixture_keyed(OutputPolicy::default(), false).await;
    let e = plain.ws.run(sql).await.expect_err("the unit is hidden");
    assert!(e.message.contains("hides that field"), "{e:?}");
    let e =
        f.ws.run_with(
            sql,
            |_| Ok(()),
            RunOptions {
                history: Some(ResultHistory::default()),
                noise: None,
            },
        )
        .await
        .expect_err("differencing needs the units");
    assert!(e.message.contains("hides that field"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sum_dominated_by_one_enterprise_is_withheld() {
    let f = fixture(OutputPolicy::default()).await;
    let out = run(
        &f.ws,
        "SELECT district, count(*) AS n, sum(turnover) AS t FROM firms GROUP BY district",
    )
    .await;
    let t = total_of(|i| district(i) == "甲", turnover).to_string();
    assert_eq!(sorted(&out), vec![row(&["甲", "32", &t])]);
    let c = &out.audit.check;
    assert_eq!(c.suppressed.dominance, 1, "{c:?}");
    assert_eq!(c.suppressed.too_few_units, 1, "{c:?}");
    assert_eq!(c.rows_suppressed, 2);
    assert!(c.reasons.iter().any(|r| r.contains("dominance")), "{c:?}");
    // No value of a withheld cell is in the reasons.
    let all = serde_json::to_string(c).expect("json");
    assert!(
        !all.contains("1000000") && !all.contains("1002200"),
        "{all}"
    );
    let json = serde_json::to_value(c).expect("json");
    assert_eq!(json["suppressed"]["dominance"], 1);
    assert_eq!(json["suppressed"]["too_few_units"], 1);

    // A count of the same cells has no magnitude to dominate.
    let out = run(
        &f.ws,
        "SELECT district, count(*) AS n FROM firms GROUP BY district",
    )
    .await;
    assert_eq!(
        sorted(&out),
        vec![row(&["乙", "23"]), row(&["甲", "32"])],
        "{:?}",
        out.audit.check
    );
    // Arithmetic above the aggregate sees only checked cells.
    let out = run(
        &f.ws,
        "SELECT sum(turnover) * 2 + 1 AS x FROM firms WHERE district = '乙'",
    )
    .await;
    assert!(out.rows().is_empty(), "{:?}", out.rows());
    assert_eq!(out.audit.check.suppressed.dominance, 1);
    // A mean of the same values is dominated just the same.
    let out = run(
        &f.ws,
        "SELECT avg(turnover) AS x FROM firms WHERE district = '乙'",
    )
    .await;
    assert!(out.rows().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_p_rule_catches_a_runner_up_who_could_estimate_the_largest() {
    let policy = OutputPolicy {
        dominance_pct: 95,
        ..OutputPolicy::default()
    };
    let f = fixture(policy).await;
    let sql = "SELECT industry, count(*) AS n, sum(turnover) AS t FROM firms \
               WHERE district = '甲' GROUP BY industry";
    let out = run(&f.ws, sql).await;
    let t = total_of(|i| district(i) == "甲" && industry(i) == "医药", turnover).to_string();
    assert_eq!(sorted(&out), vec![row(&["医药", "20", &t])]);
    let c = &out.audit.check;
    assert_eq!(c.suppressed.p_rule, 1, "{c:?}");
    assert_eq!(c.suppressed.dominance, 0, "{c:?}");
    assert!(c.reasons.iter().any(|r| r.contains("p% rule")), "{c:?}");
    // With the p% rule off, the cell is shown.
    let f = fixture(OutputPolicy { p_pct: 0, ..policy }).await;
    let out = run(&f.ws, sql).await;
    assert_eq!(out.rows().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_rounded_wherever_they_are_used() {
    let f = fixture(OutputPolicy {
        round_counts_to: 5,
        ..OutputPolicy::default()
    })
    .await;
    let out = run(
        &f.ws,
        "SELECT district, count(*) AS n, count(DISTINCT industry) AS k \
         FROM firms GROUP BY district",
    )
    .await;
    // 32 → 30, 23 → 25; two industries → 0.
    assert_eq!(
        sorted(&out),
        vec![row(&["乙", "25", "0"]), row(&["甲", "30", "0"])]
    );
    assert_eq!(out.audit.check.rounded_to, Some(5));
    assert!(
        out.audit
            .check
            .reasons
            .iter()
            .any(|r| r.contains("rounded to a multiple of 5"))
    );
    // Arithmetic on a count cannot undo the rounding.
    let out = run(
        &f.ws,
        "SELECT count(*) + 0 AS n FROM firms WHERE district = '甲'",
    )
    .await;
    assert_eq!(out.rows(), vec![row(&["30"])]);
    // Sums are not rounded.
    let out = run(
        &f.ws,
        "SELECT sum(staff) AS s FROM firms WHERE district = '甲'",
    )
    .await;
    assert_eq!(
        out.rows(),
        vec![row(
            &[&total_of(|i| district(i) == "甲", staff).to_string()]
        )]
    );
    // Without rounding, nothing says so.
    let f = fixture(OutputPolicy::default()).await;
    let out = run(&f.ws, "SELECT count(*) FROM firms WHERE district = '甲'").await;
    assert_eq!(out.rows(), vec![row(&["32"])]);
    assert_eq!(out.audit.check.rounded_to, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollup_total_is_recomputed_without_the_withheld_cell() {
    let f = fixture(OutputPolicy::default()).await;
    let out = run(
        &f.ws,
        "SELECT district, count(*) AS n, sum(staff) AS s, avg(staff) AS a FROM firms \
         GROUP BY ROLLUP(district)",
    )
    .await;
    let s = |d: &str| total_of(|i| district(i) == d, staff);
    let avg = |d: &str| {
        let n = (0..FIRMS).filter(|i| district(*i) == d).count() as f64;
        s(d) as f64 / n
    };
    let mut expected = vec![
        row(&["甲", "32", &s("甲").to_string(), &avg("甲").to_string()]),
        row(&["乙", "23", &s("乙").to_string(), &avg("乙").to_string()]),
        // 丙 (5 firms) is withheld; the total is 甲 + 乙 only, and its mean
        // (which would reveal 丙) is withheld.
        row(&["NULL", "55", &(s("甲") + s("乙")).to_string(), "NULL"]),
    ];
    expected.sort();
    assert_eq!(sorted(&out), expected);
    let c = &out.audit.check;
    assert_eq!(c.totals_recomputed, 1, "{c:?}");
    assert_eq!(c.suppressed.too_few_units, 1, "{c:?}");
    assert!(c.reasons.iter().any(|r| r.contains("recomputed")), "{c:?}");

    // HAVING cannot hide the withheld cell from the total's recomputation.
    let out = run(
        &f.ws,
        "SELECT district, count(*) AS n FROM firms GROUP BY ROLLUP(district) \
         HAVING count(*) > 10 OR district IS NULL",
    )
    .await;
    assert!(
        sorted(&out).contains(&row(&["NULL", "55"])),
        "{:?}",
        out.rows()
    );

    // Nothing withheld: the total stands as computed.
    let out = run(
        &f.ws,
        "SELECT district, count(*) AS n FROM firms WHERE district <> '丙' \
         GROUP BY ROLLUP(district)",
    )
    .await;
    assert!(sorted(&out).contains(&row(&["NULL", "55"])));
    assert_eq!(out.audit.check.totals_recomputed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_but_one_after_all_is_caught_as_differencing() {
    let f = fixture(OutputPolicy::default()).await;
    let history = ResultHistory::default();
    let opts = || RunOptions {
        history: Some(history.clone()),
        noise: None,
    };
    let all = "SELECT count(*) AS n, sum(staff) AS s FROM firms WHERE district = '甲'";
    let but_one = format!(
        "SELECT count(*) AS n, sum(staff) AS s FROM firms WHERE district = '甲' \
         AND credit_code <> '{}'",
        code(7)
    );
    let out = run_with(&f.ws, all, opts()).await;
    assert_eq!(out.rows().len(), 1);
    assert_eq!(history.cells(), 1);
    // What the caller keeps with the query's record.
    assert_eq!(out.released.len(), 1);
    let mut recorded = out.released.clone();

    let out = run_with(&f.ws, &but_one, opts()).await;
    assert!(out.rows().is_empty(), "{:?}", out.rows());
    assert!(out.released.is_empty(), "a withheld cell is not recorded");
    let c = &out.audit.check;
    assert_eq!(c.suppressed.differencing, 1, "{c:?}");
    assert!(
        c.reasons.iter().any(|r| r.contains("differencing")),
        "{c:?}"
    );
    // The same population again reveals nothing new (and adds nothing).
    let out = run_with(&f.ws, all, opts()).await;
    assert_eq!(out.rows().len(), 1);
    assert!(out.released.is_empty(), "{:?}", out.released);
    // Two large, different groups are fine.
    let out = run_with(
        &f.ws,
        "SELECT count(*) AS n FROM firms WHERE district = '乙'",
        opts(),
    )
    .await;
    assert_eq!(out.rows(), vec![row(&["23"])]);
    recorded.extend(out.released.iter().cloned());
    let out = run_with(
        &f.ws,
        "SELECT district, count(*) AS n FROM firms GROUP BY district",
        opts(),
    )
    .await;
    assert_eq!(out.rows().len(), 2);
    // Both cells are populations released before.
    assert!(out.released.is_empty(), "{:?}", out.released);
    // Without the history, the engine cannot know (the caller must pass it).
    assert_eq!(run(&f.ws, &but_one).await.rows().len(), 1);

    // The history survives serialisation.
    let json = serde_json::to_string(&history).expect("json");
    assert!(!json.contains(&code(7)), "sketches, not codes");
    let restored: ResultHistory = serde_json::from_str(&json).expect("history");
    assert_eq!(restored.cells(), history.cells());
    // As a store gives the recorded cells back after a restart.
    assert_eq!(recorded.len(), history.cells());
    let reloaded = ResultHistory::with_cells(ResultHistory::DEFAULT_MAX_CELLS, recorded);
    for h in [restored, reloaded] {
        let out = run_with(
            &f.ws,
            &but_one,
            RunOptions {
                history: Some(h),
                noise: None,
            },
        )
        .await;
        assert_eq!(out.audit.check.suppressed.differencing, 1);
    }

    // The history is bounded: the oldest cells go first.
    let small = ResultHistory::new(1);
    let o = RunOptions {
        history: Some(small.clone()),
        noise: None,
    };
    run_with(&f.ws, all, o.clone()).await;
    run_with(
        &f.ws,
        "SELECT count(*) AS n FROM firms WHERE district = '乙'",
        o.clone(),
    )
    .await;
    assert_eq!(small.cells(), 1);
    // "All" is forgotten, so "all but one" is no longer caught.
    let out = run_with(&f.ws, &but_one, o.clone()).await;
    assert_eq!(out.rows().len(), 1);
    assert_eq!(small.cells(), 1);
}

fn laplace(eps: f64) -> RunOptions {
    RunOptions {
        history: None,
        noise: Some(NoiseSpec::new(
            Mechanism::Laplace,
            Epsilon::from_f64(eps).expect("eps"),
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_is_added_and_its_epsilon_reported() {
    let f = fixture(OutputPolicy::default()).await;
    let out = run_with(
        &f.ws,
        "SELECT district, count(*) AS n, avg(least(greatest(staff, 0), 20)) AS a \
         FROM firms GROUP BY district",
        laplace(1.0),
    )
    .await;
    assert_eq!(out.audit.epsilon, Some(Epsilon(1_000_000)));
    let noise = out.audit.check.noise.as_ref().expect("noise applied");
    assert_eq!(noise.mechanism, "laplace");
    assert_eq!(noise.statistics, 3, "a count, and a mean as sum and count");
    assert_eq!(noise.epsilon_per_statistic, Epsilon(333_333));
    assert!(
        out.audit.check.reasons.iter().any(|r| r.contains("noise")),
        "{:?}",
        out.audit.check
    );
    // k still applies: 丙 is withheld.
    let rows = sorted(&out);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(out.audit.check.suppressed.too_few_units, 1);
    let exact = |d: &str| {
        let n = (0..FIRMS).filter(|i| district(*i) == d).count() as f64;
        total_of(|i| district(i) == d, staff) as f64 / n
    };
    for r in &rows {
        let a: f64 = r[2].parse().expect("mean");
        assert!(a.is_finite());
        assert_ne!(a, exact(&r[0]), "the mean carries noise");
    }

    // Without noise, no ε is spent.
    let out = run(&f.ws, "SELECT count(*) FROM firms").await;
    assert_eq!(out.audit.epsilon, None);
    assert!(out.audit.check.noise.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_refuses_what_it_cannot_bound() {
    let f = fixture(OutputPolicy::default()).await;
    for (sql, says) in [
        (
            "SELECT district, max(turnover) FROM firms GROUP BY district",
            "'max' is refused",
        ),
        (
            "SELECT district, sum(turnover) FROM firms GROUP BY district",
            "bounds",
        ),
        (
            "SELECT district, count(DISTINCT industry) FROM firms GROUP BY district",
            "DISTINCT",
        ),
        (
            "SELECT district, count(*) FROM firms GROUP BY ROLLUP(district)",
            "grouping sets",
        ),
        ("SELECT credit_code FROM firms", "must be an aggregate"),
        (
            "SELECT district, stddev(staff) FROM firms GROUP BY district",
            "'stddev' is refused",
        ),
    ] {
        let e =
            f.ws.run_with(sql, |_| Ok(()), laplace(0.5))
                .await
                .expect_err(sql);
        assert_eq!(e.code, ErrorCode::NotAllowed, "{sql}: {e}");
        assert!(e.message.contains(says), "{sql}: {e}");
    }
    // The Gaussian mechanism's calibration holds for ε ≤ 1 only.
    let e =
        f.ws.run_with(
            "SELECT count(*) FROM firms",
            |_| Ok(()),
            RunOptions {
                history: None,
                noise: Some(NoiseSpec::new(
                    Mechanism::Gaussian { delta_micros: 1 },
                    Epsilon::from_f64(2.0).expect("eps"),
                )),
            },
        )
        .await
        .expect_err("gaussian");
    assert_eq!(e.code, ErrorCode::NotAllowed, "{e}");
    // A bounded sum is accepted.
    let out = run_with(
        &f.ws,
        "SELECT district, sum(least(greatest(turnover, 0), 1000)) AS t FROM firms \
         GROUP BY district",
        laplace(0.5),
    )
    .await;
    assert_eq!(out.audit.epsilon, Some(Epsilon(500_000)));
}
