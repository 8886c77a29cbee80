//! Workspace benchmark: the cost of enforcement. Generates a pilot-like
//! person-level credit resource as Parquet (`SHUYUN_BENCH_ROWS` rows,
//! default 5,000,000, in several files and row groups, in a temporary
//! directory), with the stored unit digests ingest writes, and runs the
//! same aggregate queries three ways:
//!
//! - (a) through [`Workspace::run_with`]: the guard (row filter,
//!   pseudonyms), lineage, the output checks of the default policy (k = 10,
//!   dominance and the p% rule on sums and means, which need each unit's
//!   contribution) and the limits, with the scenario's differencing
//!   history (each cell's unit sketch, checked against the earlier cells);
//!   and (a′) the same without the history, to show what differencing
//!   costs;
//! - (b) plain DataFusion over the same files, with the same parallelism
//!   and the row filter written into the SQL, so both do the same work;
//! - (c) DuckDB (from PyPI, in a venv under `$HOME/.cache/shuyun/venv`)
//!   over the same files, timed inside Python without start-up.
//!
//! Each query is warmed up, then timed `SHUYUN_BENCH_RUNS` times (default
//! 5); the median is reported. The results of (a), (a′) and (b) are
//! asserted equal for every row the checks release. Target: enforcement,
//! every check included, costs at most 15% over plain DataFusion
//! (geometric mean of (a)/(b)). A miss is reported, never a failure.

use std::path::{Path as FsPath, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding};
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use shuyun_domain::authorization::Purpose;
use shuyun_domain::authorization::scope::{Allowance, FieldSet, Predicate, RowFilter, Value};
use shuyun_domain::catalogue::{FieldSpec, FieldType, Grade, PiTag, Schema};
use shuyun_domain::workspace::{UnitDigestKey, unit_digest};
use shuyun_workspace::{
    PseudonymKey, ResultHistory, RunOptions, TableSpec, Workspace, WorkspaceConfig,
};

const TABLE: &str = "person_loans";
const KEY: &[u8; 32] = b"bench-agreement-pseudonym-key-01";
const FILES: usize = 4;
const ROW_GROUP: usize = 256 * 1024;
const BATCH: usize = 64 * 1024;
const WARMUP: usize = 2;

const DISTRICTS: [&str; 10] = [
    "昌江区",
    "珠山区",
    "浮梁县",
    "乐平市",
    "高新区",
    "经开区",
    "昌南新区",
    "陶瓷工业园区",
    "罗家镇",
    "鲇鱼山镇",
];
/// The agreement's row filter: these districts only.
const ALLOWED: [&str; 7] = [
    "昌江区",
    "珠山区",
    "浮梁县",
    "乐平市",
    "高新区",
    "经开区",
    "昌南新区",
];
const INDUSTRIES: [&str; 20] = [
    "陶瓷制造",
    "航空制造",
    "医药制造",
    "批发零售",
    "住宿餐饮",
    "交通运输",
    "信息技术",
    "金融服务",
    "房地产",
    "建筑施工",
    "教育培训",
    "卫生医疗",
    "文化旅游",
    "农林牧渔",
    "电力能源",
    "租赁商务",
    "科研服务",
    "居民服务",
    "公共管理",
    "其他行业",
];
const AGE_BANDS: [&str; 7] = ["18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"];

/// One benchmark query: its parts, so the row filter can be added to the
/// plain engines' `WHERE`.
struct Query {
    name: &'static str,
    select: &'static str,
    filter: Option<&'static str>,
    group_by: Option<&'static str>,
    having: Option<&'static str>,
}

const QUERIES: [Query; 6] = [
    Query {
        name: "by district",
        select: "district, count(*) AS n, avg(income) AS avg_income, sum(loan_amount) AS loans",
        filter: None,
        group_by: Some("district"),
        having: None,
    },
    Query {
        name: "district x industry",
        select: "district, industry, count(*) AS n, avg(credit_score) AS avg_score, \
                 sum(income) AS income",
        filter: None,
        group_by: Some("district, industry"),
        having: None,
    },
    Query {
        name: "filtered by age band",
        select: "age_band, count(*) AS n, sum(loan_amount) AS loans, avg(income) AS avg_income",
        filter: Some("overdue AND income < 800000"),
        group_by: Some("age_band"),
        having: None,
    },
    Query {
        name: "count distinct key",
        select: "district, count(DISTINCT industry) AS industries, count(*) AS n",
        filter: None,
        group_by: Some("district"),
        having: None,
    },
    Query {
        name: "having",
        select: "industry, count(*) AS n, avg(income) AS avg_income",
        filter: Some("credit_score >= 600"),
        group_by: Some("industry"),
        having: Some("avg(income) > 2700000"),
    },
    Query {
        name: "whole table",
        select: "count(*) AS n, sum(loan_amount) AS loans, avg(credit_score) AS avg_score",
        filter: Some("dishonest = false"),
        group_by: None,
        having: None,
    },
];

impl Query {
    /// The SQL over `from`, with `extra` (the row filter) added to `WHERE`.
    fn sql(&self, from: &str, extra: Option<&str>) -> String {
        let mut s = format!("SELECT {} FROM {from}", self.select);
        match (extra, self.filter) {
            (Some(a), Some(b)) => s.push_str(&format!(" WHERE ({a}) AND ({b})")),
            (Some(a), None) | (None, Some(a)) => s.push_str(&format!(" WHERE {a}")),
            (None, None) => {}
        }
        if let Some(g) = self.group_by {
            s.push_str(&format!(" GROUP BY {g}"));
        }
        if let Some(h) = self.having {
            s.push_str(&format!(" HAVING {h}"));
        }
        s
    }
}

/// The row filter as SQL, for the plain engines.
fn row_filter_sql() -> String {
    let values: Vec<String> = ALLOWED.iter().map(|d| format!("'{d}'")).collect();
    format!("district IN ({})", values.join(", "))
}

fn main() {
    let rows: usize = std::env::var("SHUYUN_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let runs: usize = std::env::var("SHUYUN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let dir = tempfile::Builder::new()
        .prefix("shuyun-ws-bench-")
        .tempdir()
        .expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(rows, runs, dir.path()));
}

async fn run(rows: usize, runs: usize, dir: &FsPath) {
    let t = Instant::now();
    let objects = generate(rows, dir);
    let bytes: u64 = objects
        .iter()
        .map(|p| {
            std::fs::metadata(dir.join(p.as_ref()))
                .expect("parquet file")
                .len()
        })
        .sum();
    println!(
        "input: {TABLE}, {rows} rows in {FILES} Parquet files (row groups of {ROW_GROUP}), \
         {:.1} MB, generated in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // (a) The workspace, with every check.
    let config = WorkspaceConfig {
        memory_limit: 8 << 30,
        time_limit: Duration::from_secs(600),
        unit_digest_key: platform_key(),
        ..WorkspaceConfig::default()
    };
    let partitions = config.target_partitions;
    let k = u64::from(config.policy.min_units);
    let ws = Workspace::open(
        vec![table_spec(dir, objects)],
        PseudonymKey::new(*KEY).expect("key"),
        config,
    )
    .expect("workspace");

    // (b) Plain DataFusion, same parallelism.
    let ctx =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    let data = dir.join("data");
    ctx.register_parquet(
        TABLE,
        data.to_str().expect("utf-8 path"),
        ParquetReadOptions::default(),
    )
    .await
    .expect("register parquet");
    let rf = row_filter_sql();

    println!(
        "engines: workspace (k = {k}, row filter {rf}) and DataFusion with target_partitions = \
         {partitions}; {WARMUP} warm-up runs, median of {runs}"
    );
    let mut ws_ms = Vec::new();
    let mut bare_ms = Vec::new();
    let mut df_ms = Vec::new();
    let history = ResultHistory::default();
    let with_history = || RunOptions {
        history: Some(history.clone()),
        noise: None,
    };
    for q in &QUERIES {
        let ws_sql = q.sql(TABLE, None);
        let df_sql = q.sql(TABLE, Some(&rf));
        // Equal work: the same numbers for every released row.
        let plain = datafusion_rows(&ctx, &df_sql).await;
        let out = ws
            .run_with(&ws_sql, |_| Ok(()), with_history())
            .await
            .expect("workspace query");
        compare(q.name, &out.rows(), &plain, out.audit.check.rows_suppressed);
        let out = ws.run(&ws_sql).await.expect("workspace query");
        compare(q.name, &out.rows(), &plain, out.audit.check.rows_suppressed);

        ws_ms.push(
            time(runs, || async {
                ws.run_with(&ws_sql, |_| Ok(()), with_history())
                    .await
                    .expect("workspace query")
            })
            .await,
        );
        bare_ms.push(
            time(runs, || async {
                ws.run(&ws_sql).await.expect("workspace query")
            })
            .await,
        );
        df_ms.push(
            time(runs, || async {
                ctx.sql(&df_sql)
                    .await
                    .expect("plan")
                    .collect()
                    .await
                    .expect("run")
            })
            .await,
        );
        println!(
            "  {}: workspace {:.1} ms (without history {:.1} ms), datafusion {:.1} ms",
            q.name,
            ws_ms[ws_ms.len() - 1],
            bare_ms[bare_ms.len() - 1],
            df_ms[df_ms.len() - 1]
        );
    }

    // (c) DuckDB.
    let duck_sql: Vec<String> = QUERIES
        .iter()
        .map(|q| {
            q.sql(
                &format!("read_parquet('{}/*.parquet')", data.display()),
                Some(&rf),
            )
        })
        .collect();
    let duck = duckdb(&duck_sql, runs, partitions);

    println!();
    println!(
        "{:<22} {:>12} {:>11} {:>13} {:>10} {:>8} {:>10} {:>9}",
        "query",
        "workspace ms",
        "no hist ms",
        "datafusion ms",
        "duckdb ms",
        "ws/df",
        "nohist/df",
        "duck/df"
    );
    let mut ws_ratios = Vec::new();
    let mut bare_ratios = Vec::new();
    let mut duck_ratios = Vec::new();
    for (i, q) in QUERIES.iter().enumerate() {
        let r = ws_ms[i] / df_ms[i];
        ws_ratios.push(r);
        bare_ratios.push(bare_ms[i] / df_ms[i]);
        let (d, dr) = match &duck {
            Some(d) => {
                duck_ratios.push(d[i] / df_ms[i]);
                (format!("{:.1}", d[i]), format!("{:.2}", d[i] / df_ms[i]))
            }
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<22} {:>12.1} {:>11.1} {:>13.1} {:>10} {:>8.2} {:>10.2} {:>9}",
            q.name,
            ws_ms[i],
            bare_ms[i],
            df_ms[i],
            d,
            r,
            bare_ms[i] / df_ms[i],
            dr
        );
    }
    let gm_ws = geomean(&ws_ratios);
    let gm_duck = if duck_ratios.is_empty() {
        "-".to_string()
    } else {
        format!("{:.2}", geomean(&duck_ratios))
    };
    println!(
        "{:<22} {:>12} {:>11} {:>13} {:>10} {:>8.2} {:>10.2} {:>9}",
        "geometric mean",
        "",
        "",
        "",
        "",
        gm_ws,
        geomean(&bare_ratios),
        gm_duck
    );
    println!(
        "differencing history after the runs: {} distinct cells",
        history.cells()
    );
    println!(
        "target: enforcement costs at most 15% over plain DataFusion: {} ({:+.1}%)",
        if gm_ws <= 1.15 { "PASS" } else { "MISS" },
        (gm_ws - 1.0) * 100.0
    );
}

/// Median milliseconds of `runs` runs of `f`, after the warm-up runs.
async fn time<F, Fut, T>(runs: usize, f: F) -> f64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::new();
    for i in 0..WARMUP + runs {
        let t = Instant::now();
        std::hint::black_box(f().await);
        if i >= WARMUP {
            times.push(t.elapsed());
        }
    }
    median_ms(times)
}

fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn geomean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

async fn datafusion_rows(ctx: &SessionContext, sql: &str) -> Vec<Vec<String>> {
    let batches = ctx
        .sql(sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in &batches {
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("formatter"))
            .collect();
        for r in 0..b.num_rows() {
            out.push(fmts.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    out
}

/// Asserts that every row the workspace released is a row of plain
/// DataFusion's result (floats to 1e-9 relative, as partial sums may be
/// added in another order), and that the rows missing are exactly those
/// the minimum-count rule withheld.
fn compare(name: &str, ws: &[Vec<String>], plain: &[Vec<String>], suppressed: usize) {
    let mut ws = ws.to_vec();
    let mut plain = plain.to_vec();
    ws.sort();
    plain.sort();
    assert_eq!(
        ws.len() + suppressed,
        plain.len(),
        "{name}: the workspace released {} row(s) and withheld {suppressed}, DataFusion \
         produced {}",
        ws.len(),
        plain.len()
    );
    let mut used = vec![false; plain.len()];
    for row in &ws {
        let hit = plain
            .iter()
            .enumerate()
            .position(|(i, p)| !used[i] && same_row(row, p));
        match hit {
            Some(i) => used[i] = true,
            None => panic!("{name}: workspace row {row:?} is not in DataFusion's result {plain:?}"),
        }
    }
}

fn same_row(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x == y
                || match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                    _ => false,
                }
        })
}

// ---- The resource -----------------------------------------------------------

fn field(name: &str, t: FieldType, grade: Grade, pi: PiTag, key: bool) -> FieldSpec {
    FieldSpec {
        name: name.parse().expect("field name"),
        label: name.to_string(),
        field_type: t,
        unit: None,
        nullable: !key,
        key,
        grade,
        pi,
    }
}

/// Person-level loans (个人信贷), one row per person: the identifier is
/// sensitive personal information and the unit of the minimum-count rule.
fn schema() -> Schema {
    use FieldType::{Bool, Fen, Int64, String as Text};
    use Grade::{General1, General2, General3, General4, Important};
    Schema::new(vec![
        field("id_number", Text, General4, PiTag::SensitivePi, true),
        field("district", Text, General1, PiTag::None, false),
        field("industry", Text, General1, PiTag::None, false),
        field("age_band", Text, General2, PiTag::None, false),
        field("income", Fen, Important, PiTag::None, false),
        field("loan_amount", Fen, General3, PiTag::None, false),
        field("credit_score", Int64, Important, PiTag::Pi, false),
        field("overdue", Bool, General2, PiTag::Pi, false),
        field("dishonest", Bool, Important, PiTag::Pi, false),
    ])
    .expect("schema")
}

fn table_spec(dir: &FsPath, objects: Vec<Path>) -> TableSpec {
    let schema = schema();
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir).expect("local store"));
    let rows = RowFilter::new(vec![Predicate::In {
        field: "district".parse().expect("name"),
        values: ALLOWED
            .iter()
            .map(|d| Value::String(d.to_string()))
            .collect(),
    }])
    .expect("row filter");
    TableSpec {
        resource: "360200-XY-000101".parse().expect("resource code"),
        name: TABLE.into(),
        unit: TableSpec::default_unit(&schema),
        schema,
        store,
        objects,
        allowance: Allowance {
            agreement_id: 1,
            scenario_id: 1,
            purpose: Purpose::IndustryDevelopment,
            fields: FieldSet::All,
            rows: Some(rows),
        },
        unit_digests: true,
    }
}

/// The platform's unit digest key of the benchmark.
fn platform_key() -> UnitDigestKey {
    UnitDigestKey::from_bytes(*b"bench-platform-k")
}

/// SplitMix64: a deterministic value per (row, stream).
fn mix(row: u64, stream: u64) -> u64 {
    let mut z = row
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A distinct 18-character resident identity number (GB 11643 layout:
/// region, birth date, sequence, check character) per row.
fn id_number(i: usize) -> String {
    let seq = i % 1000;
    let rest = i / 1000;
    let year = 1950 + rest % 60;
    let month = 1 + (rest / 60) % 12;
    let day = 1 + (rest / 720) % 28;
    let region = 360_201 + (rest / 20_160) % 100;
    let body = format!("{region:06}{year:04}{month:02}{day:02}{seq:03}");
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

fn batch(start: usize, n: usize) -> RecordBatch {
    let mut ids = Vec::with_capacity(n);
    let mut district = Vec::with_capacity(n);
    let mut industry = Vec::with_capacity(n);
    let mut age = Vec::with_capacity(n);
    let mut income = Vec::with_capacity(n);
    let mut loan = Vec::with_capacity(n);
    let mut score = Vec::with_capacity(n);
    let mut overdue = Vec::with_capacity(n);
    let mut dishonest = Vec::with_capacity(n);
    for i in start..start + n {
        let r = i as u64;
        ids.push(id_number(i));
        // Skewed districts: the urban ones are larger.
        let d = mix(r, 1) % 100;
        district.push(DISTRICTS[[0, 0, 1, 1, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9][(d % 14) as usize]]);
        let ind = mix(r, 2) % 20;
        industry.push(INDUSTRIES[ind as usize]);
        age.push(AGE_BANDS[(mix(r, 3) % 7) as usize]);
        // Income in fen per month, higher in some industries.
        let inc = 200_000 + ind as i64 * 50_000 + (mix(r, 4) % 4_000_000) as i64;
        income.push(inc);
        loan.push(if mix(r, 5).is_multiple_of(4) {
            0
        } else {
            inc * (1 + (mix(r, 6) % 30) as i64)
        });
        score.push(350 + (mix(r, 7) % 601) as i64);
        overdue.push(mix(r, 8).is_multiple_of(10));
        dishonest.push(mix(r, 9).is_multiple_of(50));
    }
    let strings = |v: Vec<&str>| Arc::new(StringArray::from(v)) as ArrayRef;
    // The stored unit digests, as ingest writes them.
    let key = platform_key();
    let digests: Vec<u64> = ids.iter().map(|id| key.bytes(id.as_bytes())).collect();
    RecordBatch::try_new(
        arrow_schema(),
        vec![
            Arc::new(UInt64Array::from(digests)),
            Arc::new(StringArray::from(ids)),
            strings(district),
            strings(industry),
            strings(age),
            Arc::new(Int64Array::from(income)),
            Arc::new(Int64Array::from(loan)),
            Arc::new(Int64Array::from(score)),
            Arc::new(BooleanArray::from(overdue)),
            Arc::new(BooleanArray::from(dishonest)),
        ],
    )
    .expect("batch")
}

fn arrow_schema() -> Arc<ArrowSchema> {
    let f = |n: &str, t: DataType| Field::new(n, t, true);
    Arc::new(ArrowSchema::new(vec![
        f(unit_digest::COLUMN, DataType::UInt64),
        f("id_number", DataType::Utf8),
        f("district", DataType::Utf8),
        f("industry", DataType::Utf8),
        f("age_band", DataType::Utf8),
        f("income", DataType::Int64),
        f("loan_amount", DataType::Int64),
        f("credit_score", DataType::Int64),
        f("overdue", DataType::Boolean),
        f("dishonest", DataType::Boolean),
    ]))
}

/// Writes `rows` rows in [`FILES`] Parquet files under `dir/data`; returns
/// their object paths.
fn generate(rows: usize, dir: &FsPath) -> Vec<Path> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    // The digests as ingest writes them: plain, uncompressed, no
    // statistics, with the key's fingerprint.
    let digests = ColumnPath::from(unit_digest::COLUMN);
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_column_dictionary_enabled(digests.clone(), false)
        .set_column_encoding(digests.clone(), Encoding::PLAIN)
        .set_column_compression(digests.clone(), Compression::UNCOMPRESSED)
        .set_column_statistics_enabled(digests, EnabledStatistics::None)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            unit_digest::METADATA_KEY.to_string(),
            platform_key().fingerprint(),
        )]))
        .build();
    let per_file = rows.div_ceil(FILES);
    let mut out = Vec::new();
    for f in 0..FILES {
        let start = f * per_file;
        let end = rows.min(start + per_file);
        if start >= end {
            break;
        }
        let name = format!("part-{f}.parquet");
        let file = std::fs::File::create(data.join(&name)).expect("create parquet");
        let mut w =
            ArrowWriter::try_new(file, arrow_schema(), Some(props.clone())).expect("writer");
        let mut i = start;
        while i < end {
            let n = BATCH.min(end - i);
            w.write(&batch(i, n)).expect("write");
            i += n;
        }
        w.close().expect("close");
        out.push(Path::from(format!("data/{name}")));
    }
    out
}

// ---- DuckDB -----------------------------------------------------------------

/// DuckDB's median milliseconds per query (timed inside Python, start-up
/// excluded), with `threads` threads; `None` if DuckDB cannot be set up.
fn duckdb(queries: &[String], runs: usize, threads: usize) -> Option<Vec<f64>> {
    let py = venv_python()?;
    let script = format!(
        "import duckdb, json, statistics, sys, time\n\
         qs = json.loads(sys.stdin.read())\n\
         con = duckdb.connect()\n\
         con.execute('SET threads = {threads}')\n\
         print(f'version={{duckdb.__version__}}')\n\
         for q in qs:\n\
         \x20   for _ in range({WARMUP}):\n\
         \x20       con.execute(q).fetchall()\n\
         \x20   ts = []\n\
         \x20   for _ in range({runs}):\n\
         \x20       t = time.perf_counter()\n\
         \x20       con.execute(q).fetchall()\n\
         \x20       ts.append((time.perf_counter() - t) * 1000)\n\
         \x20   ts.sort()\n\
         \x20   print(f'ms={{ts[len(ts) // 2]}}')\n"
    );
    let input = format!(
        "[{}]",
        queries
            .iter()
            .map(|q| format!("\"{}\"", q.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut child = Command::new(&py)
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take()?;
        stdin.write_all(input.as_bytes()).ok()?;
    }
    let out = child.wait_with_output().ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        println!(
            "duckdb: the queries failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let version = stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("version="))
        .unwrap_or("?");
    println!("duckdb {version}: threads = {threads}");
    let ms: Vec<f64> = stdout
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("ms=").and_then(|v| v.parse().ok()))
        .collect();
    (ms.len() == queries.len()).then_some(ms)
}

/// The venv's Python with DuckDB installed (created and installed on
/// first use, as the ingest benchmark does); `None`, said aloud, if that
/// is not possible.
fn venv_python() -> Option<PathBuf> {
    let home = std::env::var("HOME").ok()?;
    let venv = PathBuf::from(home).join(".cache/shuyun/venv");
    let py = venv.join("bin/python");
    if !py.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("duckdb: cannot create a venv at {}", venv.display());
            return None;
        }
    }
    let has = Command::new(&py)
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        let ok = Command::new(&py)
            .args(["-m", "pip", "install", "-q", "duckdb"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("duckdb: pip install duckdb failed; continuing without DuckDB");
            return None;
        }
    }
    Some(py)
}
