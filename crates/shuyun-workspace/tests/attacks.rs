//! The attack corpus of the secure workspace: hostile SQL against real
//! Parquet files in a temporary directory, each asserting what the
//! operator receives.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{
    ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use datafusion::parquet::arrow::ArrowWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use shuyun_domain::authorization::Purpose;
use shuyun_domain::authorization::scope::{Allowance, FieldSet, Predicate, RowFilter, Value};
use shuyun_domain::catalogue::{FieldName, FieldSpec, FieldType, Grade, PiTag, Schema};
use shuyun_domain::workspace::{UnitDigestKey, unit_digest};
use shuyun_workspace::{
    ErrorCode, Exposure, PseudonymKey, ResultHistory, RunOptions, TableSpec, Workspace,
    WorkspaceConfig, WorkspaceError,
};

const KEY: &[u8; 32] = b"agreement-7-pseudonym-key-000001";
const IN_FILTER: [&str; 3] = ["昌江区", "珠山区", "乐平市"];

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

fn person_id(i: usize) -> String {
    format!("36020219{:02}0101{:04}", 60 + i % 40, i)
}

fn district(i: usize) -> &'static str {
    if i >= 300 {
        "乐平市"
    } else {
        ["昌江区", "珠山区", "浮梁县"][i % 3]
    }
}

const PERSONS: usize = 303;
const LOANS: usize = 400;
const ENTERPRISES: usize = 50;

fn income(i: usize) -> i64 {
    100_000 + (i as i64) * 997
}

fn loan_amount(j: usize) -> i64 {
    10_000 + (j as i64) * 13
}

fn allowance(fields: FieldSet, rows: Option<RowFilter>) -> Allowance {
    Allowance {
        agreement_id: 7,
        scenario_id: 3,
        purpose: Purpose::ALL[0],
        fields,
        rows,
    }
}

fn names(ns: &[&str]) -> FieldSet {
    FieldSet::Only(
        ns.iter()
            .map(|n| n.parse::<FieldName>().expect("name"))
            .collect(),
    )
}

async fn put(store: &Arc<dyn ObjectStore>, path: &str, batch: RecordBatch) -> Path {
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let p = Path::from(path);
    store.put(&p, buf.into()).await.expect("put");
    p
}

fn strings(v: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from(v.into_iter().collect::<Vec<_>>()))
}

fn ints(v: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v.into_iter().collect::<Vec<_>>()))
}

struct Fixture {
    _dir: tempfile::TempDir,
    tables: Vec<TableSpec>,
}

/// The platform's unit digest key of the fixtures with stored digests.
const PLATFORM: [u8; 16] = *b"attacks-platform";

/// `batch` with the stored unit digests of its column `unit`, as ingest
/// writes them.
fn with_digests(batch: RecordBatch, unit: &str) -> RecordBatch {
    let key = UnitDigestKey::from_bytes(PLATFORM);
    let ids = batch
        .column_by_name(unit)
        .expect("unit column")
        .as_string::<i32>();
    let digests: ArrayRef = Arc::new(
        ids.iter()
            .map(|v| v.map(|v| key.bytes(v.as_bytes())))
            .collect::<UInt64Array>(),
    );
    let mut columns: Vec<(String, ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .zip(batch.columns().iter().cloned())
        .collect();
    columns.push((unit_digest::COLUMN.to_string(), digests));
    RecordBatch::try_from_iter(columns).expect("batch with digests")
}

/// A config whose platform key is the fixtures'.
fn platform_config() -> WorkspaceConfig {
    WorkspaceConfig {
        unit_digest_key: UnitDigestKey::from_bytes(PLATFORM),
        ..WorkspaceConfig::default()
    }
}

async fn fixture() -> Fixture {
    fixture_digests(false).await
}

/// The fixture; with `stored`, the tables keyed by their unit (persons,
/// enterprises) carry stored unit digests under [`PLATFORM`].
async fn fixture_digests(stored: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("local store"));

    // Persons (个人信用信息).
    let persons_schema = Schema::new(vec![
        field(
            "id_number",
            FieldType::String,
            Grade::General4,
            PiTag::SensitivePi,
            true,
        ),
        field("name", FieldType::String, Grade::General3, PiTag::Pi, false),
        field(
            "district",
            FieldType::String,
            Grade::General1,
            PiTag::None,
            false,
        ),
        field("age", FieldType::Int64, Grade::General2, PiTag::None, false),
        field(
            "income",
            FieldType::Fen,
            Grade::Important,
            PiTag::None,
            false,
        ),
        field(
            "blacklisted",
            FieldType::Bool,
            Grade::Core,
            PiTag::None,
            false,
        ),
    ])
    .expect("schema");
    let n = PERSONS;
    let persons = RecordBatch::try_from_iter(vec![
        ("id_number", strings((0..n).map(person_id))),
        ("name", strings((0..n).map(|i| format!("张{i}")))),
        ("district", strings((0..n).map(|i| district(i).to_string()))),
        ("age", ints((0..n).map(|i| 20 + (i % 50) as i64))),
        ("income", ints((0..n).map(income))),
        (
            "blacklisted",
            Arc::new(BooleanArray::from(
                (0..n).map(|i| i % 7 == 0).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ])
    .expect("batch");
    let persons = if stored {
        with_digests(persons, "id_number")
    } else {
        persons
    };
    let p_persons = put(&store, "v1/persons.parquet", persons).await;
    let rows = RowFilter::new(vec![Predicate::In {
        field: "district".parse().expect("name"),
        values: IN_FILTER
            .iter()
            .map(|d| Value::String(d.to_string()))
            .collect(),
    }])
    .expect("filter");

    // Loans of persons (a second resource keyed by the same ID).
    let loans_schema = Schema::new(vec![
        field(
            "loan_no",
            FieldType::String,
            Grade::General2,
            PiTag::None,
            true,
        ),
        field(
            "id_number",
            FieldType::String,
            Grade::General4,
            PiTag::SensitivePi,
            false,
        ),
        field(
            "amount",
            FieldType::Fen,
            Grade::General3,
            PiTag::None,
            false,
        ),
    ])
    .expect("schema");
    let loans = RecordBatch::try_from_iter(vec![
        ("loan_no", strings((0..LOANS).map(|j| format!("L{j:05}")))),
        ("id_number", strings((0..LOANS).map(|j| person_id(j % n)))),
        ("amount", ints((0..LOANS).map(loan_amount))),
    ])
    .expect("batch");
    let p_loans = put(&store, "v1/loans.parquet", loans).await;

    // Enterprises (企业信用信息).
    let ent_schema = Schema::new(vec![
        field(
            "credit_code",
            FieldType::String,
            Grade::General2,
            PiTag::None,
            true,
        ),
        field(
            "legal_rep_id",
            FieldType::String,
            Grade::General4,
            PiTag::SensitivePi,
            false,
        ),
        field(
            "district",
            FieldType::String,
            Grade::General1,
            PiTag::None,
            false,
        ),
        field(
            "industry",
            FieldType::String,
            Grade::General1,
            PiTag::None,
            false,
        ),
        field(
            "capital",
            FieldType::Fen,
            Grade::Important,
            PiTag::None,
            false,
        ),
        field(
            "risk_rating",
            FieldType::String,
            Grade::Core,
            PiTag::None,
            false,
        ),
    ])
    .expect("schema");
    let m = ENTERPRISES;
    let ents = RecordBatch::try_from_iter(vec![
        (
            "credit_code",
            strings((0..m).map(|i| format!("91360200MA{i:08}"))),
        ),
        ("legal_rep_id", strings((0..m).map(|i| person_id(i * 3)))),
        (
            "district",
            strings((0..m).map(|i| district(i * 3).to_string())),
        ),
        (
            "industry",
            strings((0..m).map(|i| ["陶瓷", "航空", "医药"][i % 3].to_string())),
        ),
        ("capital", ints((0..m).map(|i| 1_000_000 * (i as i64 + 1)))),
        (
            "risk_rating",
            strings((0..m).map(|i| format!("R{}", i % 5))),
        ),
    ])
    .expect("batch");
    let ents = if stored {
        with_digests(ents, "credit_code")
    } else {
        ents
    };
    let p_ents = put(&store, "v1/enterprises.parquet", ents).await;

    let tables = vec![
        TableSpec {
            resource: "360200-XY-000001".parse().expect("code"),
            name: "persons".into(),
            unit: TableSpec::default_unit(&persons_schema),
            schema: persons_schema,
            store: store.clone(),
            objects: vec![p_persons],
            allowance: allowance(FieldSet::All, Some(rows)),
            unit_digests: stored,
        },
        TableSpec {
            resource: "360200-XY-000003".parse().expect("code"),
            name: "loans".into(),
            unit: Some("id_number".parse().expect("name")),
            schema: loans_schema,
            store: store.clone(),
            objects: vec![p_loans],
            allowance: allowance(FieldSet::All, None),
            unit_digests: false,
        },
        TableSpec {
            resource: "360200-XY-000002".parse().expect("code"),
            name: "enterprises".into(),
            unit: TableSpec::default_unit(&ent_schema),
            schema: ent_schema,
            store,
            objects: vec![p_ents],
            allowance: allowance(
                names(&[
                    "credit_code",
                    "legal_rep_id",
                    "district",
                    "industry",
                    "risk_rating",
                ]),
                None,
            ),
            unit_digests: stored,
        },
    ];
    Fixture { _dir: dir, tables }
}

async fn workspace_with(config: WorkspaceConfig) -> (Fixture, Workspace) {
    let f = fixture().await;
    let ws = Workspace::open(
        f.tables.clone(),
        PseudonymKey::new(*KEY).expect("key"),
        config,
    )
    .expect("workspace");
    (f, ws)
}

async fn workspace() -> (Fixture, Workspace) {
    workspace_with(WorkspaceConfig::default()).await
}

async fn refused(ws: &Workspace, sql: &str) -> WorkspaceError {
    match ws.run(sql).await {
        Ok(out) => panic!("expected a refusal of {sql:?}, got rows {:?}", out.rows()),
        Err(e) => e,
    }
}

async fn assert_code(ws: &Workspace, sql: &str, code: ErrorCode) -> WorkspaceError {
    let e = refused(ws, sql).await;
    assert_eq!(e.code, code, "{sql}: {e}");
    e
}

// ---- Lock-down -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_file_through_a_table_function_is_refused() {
    let (_f, ws) = workspace().await;
    for sql in [
        "SELECT * FROM read_parquet('v1/persons.parquet')",
        "SELECT * FROM read_csv('/etc/passwd')",
        // generate_series is a table function too: disabled.
        "SELECT count(*) FROM generate_series(1, 1000000000)",
        "SELECT count(*) FROM range(10)",
    ] {
        let e = refused(&ws, sql).await;
        assert!(
            matches!(e.code, ErrorCode::NotAllowed | ErrorCode::ParseError),
            "{sql}: {e}"
        );
    }
    // A path as a table name is not a table either.
    assert_code(&ws, "SELECT * FROM '/etc/passwd'", ErrorCode::ParseError).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_ddl_dml_set_and_explain_are_refused() {
    let (_f, ws) = workspace().await;
    for sql in [
        "COPY persons TO '/tmp/leak.csv'",
        "COPY (SELECT * FROM persons) TO '/tmp/leak.parquet' STORED AS PARQUET",
        "CREATE TABLE t AS SELECT * FROM persons",
        "CREATE VIEW v AS SELECT income FROM persons",
        "CREATE EXTERNAL TABLE raw STORED AS PARQUET LOCATION '/'",
        "INSERT INTO persons VALUES ('x')",
        "DELETE FROM persons",
        "DROP TABLE persons",
        "SET datafusion.execution.target_partitions = 1",
        "SET datafusion.catalog.information_schema = true",
        "SHOW ALL",
        "EXPLAIN SELECT count(*) FROM persons",
        "EXPLAIN ANALYZE SELECT count(*) FROM persons",
        "DESCRIBE persons",
    ] {
        let e = assert_code(&ws, sql, ErrorCode::NotAllowed).await;
        assert!(e.message.contains("only queries"), "{sql}: {e}");
    }
    assert_code(
        &ws,
        "SELECT count(*) FROM persons; SELECT count(*) FROM loans",
        ErrorCode::NotAllowed,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_but_the_session_tables_exists() {
    let (_f, ws) = workspace().await;
    for sql in [
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM information_schema.columns",
        "SELECT * FROM datafusion.public.persons",
        "SELECT count(*) FROM shuyun.other.persons",
    ] {
        assert_code(&ws, sql, ErrorCode::ParseError).await;
    }
    // The own catalog works under its full name.
    let out = ws
        .run("SELECT count(*) AS n FROM shuyun.workspace.persons")
        .await
        .expect("query");
    assert_eq!(out.rows(), vec![vec!["203".to_string()]]);
}

// ---- Core and out-of-scope fields do not exist -----------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_field_does_not_exist_however_it_is_named() {
    let (_f, ws) = workspace().await;
    for sql in [
        "SELECT blacklisted FROM persons",
        "SELECT p.blacklisted AS ok FROM persons p",
        "SELECT x FROM (SELECT blacklisted AS x FROM persons) s",
        "WITH c AS (SELECT blacklisted FROM persons) SELECT count(*) FROM c",
        "SELECT district FROM persons UNION ALL SELECT CAST(blacklisted AS VARCHAR) FROM persons",
        "SELECT count(*) OVER (PARTITION BY blacklisted) FROM persons",
        "SELECT count(*) FROM persons WHERE blacklisted",
        "SELECT risk_rating FROM enterprises",
        // Out of scope: the agreement does not grant `capital`.
        "SELECT sum(capital) FROM enterprises",
    ] {
        let e = assert_code(&ws, sql, ErrorCode::ParseError).await;
        assert!(
            e.message.contains("blacklisted")
                || e.message.contains("risk_rating")
                || e.message.contains("capital"),
            "{sql}: {e}"
        );
    }
    let persons = &ws.tables()[0];
    let fields: Vec<&str> = persons.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fields, ["id_number", "name", "district", "age", "income"]);
    let ents = &ws.tables()[2];
    let fields: Vec<&str> = ents.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        fields,
        ["credit_code", "legal_rep_id", "district", "industry"]
    );
    assert_eq!(ents.fields[1].exposure, Exposure::Pseudonymised);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_star_shows_only_allowed_masked_columns_and_no_single_unit() {
    let (_f, ws) = workspace().await;
    let out = ws.run("SELECT * FROM enterprises").await.expect("query");
    assert_eq!(
        out.columns(),
        ["credit_code", "legal_rep_id", "district", "industry"]
    );
    assert!(out.rows().is_empty());
    assert_eq!(out.audit.check.rows_suppressed, ENTERPRISES);
    assert!(out.audit.check.reasons[0].contains("single person or enterprise"));

    // Persons carry restricted fields: SELECT * is refused, naming one.
    let e = assert_code(&ws, "SELECT * FROM persons", ErrorCode::RestrictedOutput).await;
    assert!(
        e.message.contains("persons.name") || e.message.contains("persons.income"),
        "{e}"
    );

    // A pseudonymised identifier, aggregated over enough units, shows as
    // a pseudonym and never as the raw value.
    let out = ws
        .run("SELECT min(legal_rep_id) AS m, count(*) AS n FROM enterprises")
        .await
        .expect("query");
    let m = &out.rows()[0][0];
    assert_eq!(m.len(), 64);
    let raw: BTreeSet<String> = (0..PERSONS).map(person_id).collect();
    assert!(!raw.contains(m));
    let key = PseudonymKey::new(*KEY).expect("key");
    let expected = (0..ENTERPRISES)
        .map(|i| key.pseudonym(&person_id(i * 3)))
        .min()
        .expect("rows");
    assert_eq!(m, &expected);
}

// ---- Restricted fields never shown raw -----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_fields_are_refused_in_outputs_however_they_are_reached() {
    let (_f, ws) = workspace().await;
    for (sql, field) in [
        ("SELECT name FROM persons", "persons.name"),
        ("SELECT income AS salary FROM persons", "persons.income"),
        (
            "SELECT x FROM (SELECT income AS x FROM persons) s",
            "persons.income",
        ),
        (
            "WITH c AS (SELECT name FROM persons) SELECT * FROM c",
            "persons.name",
        ),
        (
            "SELECT district FROM persons UNION ALL SELECT name FROM persons",
            "persons.name",
        ),
        (
            "SELECT lag(income) OVER (ORDER BY age) AS prev FROM persons",
            "persons.income",
        ),
        (
            "SELECT row_number() OVER (ORDER BY income) AS r, district FROM persons",
            "persons.income",
        ),
        ("SELECT max(income) FROM persons", "persons.income"),
        (
            "SELECT district, min(name) FROM persons GROUP BY district",
            "persons.name",
        ),
        (
            "SELECT income, count(*) FROM persons GROUP BY income",
            "persons.income",
        ),
        (
            "SELECT (SELECT max(income) FROM persons) AS top",
            "persons.income",
        ),
        // A CASE leaking the value one bit at a time.
        (
            "SELECT district, CASE WHEN income > 250000 THEN 1 ELSE 0 END AS bit FROM persons",
            "persons.income",
        ),
        (
            "SELECT CASE WHEN substr(name, 1, 1) = '张' THEN 'a' ELSE 'b' END FROM persons",
            "persons.name",
        ),
        // Casts and arithmetic.
        (
            "SELECT CAST(income AS VARCHAR) FROM persons",
            "persons.income",
        ),
        ("SELECT income * 2 + 1 FROM persons", "persons.income"),
        // String functions on a personal field.
        ("SELECT substr(name, 1, 1) FROM persons", "persons.name"),
        ("SELECT concat(name, '-') FROM persons", "persons.name"),
        ("SELECT upper(name) FROM persons", "persons.name"),
        ("SELECT length(name) FROM persons", "persons.name"),
    ] {
        let e = assert_code(&ws, sql, ErrorCode::RestrictedOutput).await;
        assert!(e.message.contains(field), "{sql}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_fields_work_in_filters_grouping_and_aggregates() {
    let (_f, ws) = workspace().await;
    let out = ws
        .run(
            "SELECT district, count(*) AS n, sum(income) AS total, \
             sum(CASE WHEN income > 250000 THEN 1 ELSE 0 END) AS high \
             FROM persons WHERE age >= 20 AND name <> '' GROUP BY district ORDER BY district",
        )
        .await
        .expect("query");
    let expected: Vec<Vec<String>> = ["昌江区", "珠山区"]
        .iter()
        .map(|d| {
            let idx: Vec<usize> = (0..PERSONS).filter(|i| district(*i) == *d).collect();
            vec![
                d.to_string(),
                idx.len().to_string(),
                idx.iter().map(|i| income(*i)).sum::<i64>().to_string(),
                idx.iter()
                    .filter(|i| income(**i) > 250_000)
                    .count()
                    .to_string(),
            ]
        })
        .collect();
    let mut rows = out.rows();
    rows.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(rows, expected);
    assert_eq!(out.audit.check.rows_suppressed, 1, "乐平市 has 3 persons");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_functions_on_an_identifier_see_only_its_pseudonym() {
    let (_f, ws) = workspace().await;
    let out = ws
        .run(
            "SELECT substr(id_number, 1, 1) AS c, count(*) AS n FROM persons \
             GROUP BY substr(id_number, 1, 1)",
        )
        .await
        .expect("query");
    // Raw IDs all start with '3'; pseudonyms are hex, spread over 16 values.
    let firsts: BTreeSet<String> = out.rows().into_iter().map(|r| r[0].clone()).collect();
    assert!(firsts.len() > 1, "{firsts:?}");
    // And no group reveals a single person.
    let out = ws
        .run("SELECT id_number, count(*) FROM persons GROUP BY id_number")
        .await
        .expect("query");
    assert!(out.rows().is_empty());
    assert_eq!(out.audit.check.rows_suppressed, 203);
}

// ---- Minimum counts --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_group_is_suppressed_with_the_reason() {
    let (_f, ws) = workspace().await;
    let out = ws
        .run("SELECT district, count(*) AS n FROM persons GROUP BY district ORDER BY district")
        .await
        .expect("query");
    let mut rows = out.rows();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            vec!["昌江区".to_string(), "101".to_string()],
            vec!["珠山区".to_string(), "101".to_string()],
        ]
        .into_iter()
        .map(|mut r| {
            r[1] = (0..PERSONS)
                .filter(|i| district(*i) == r[0])
                .count()
                .to_string();
            r
        })
        .collect::<Vec<_>>()
    );
    assert_eq!(out.columns(), ["district", "n"]);
    assert_eq!(out.audit.check.rows_suppressed, 1);
    assert!(out.audit.check.reasons[0].contains("fewer than 10"));
    // A group made small by HAVING stays checked on its units.
    let out = ws
        .run("SELECT district, count(*) AS n FROM persons GROUP BY district HAVING count(*) < 5")
        .await
        .expect("query");
    assert!(out.rows().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_that_isolates_one_person_is_suppressed() {
    let (_f, ws) = workspace().await;
    let key = PseudonymKey::new(*KEY).expect("key");
    let target = key.pseudonym(&person_id(4));
    for sql in [
        format!(
            "SELECT sum(l.amount) AS total FROM loans l JOIN persons p \
             ON l.id_number = p.id_number WHERE p.id_number = '{target}'"
        ),
        "SELECT avg(income) FROM persons WHERE name = '张4'".to_string(),
        "SELECT count(*) FROM persons a JOIN persons b ON a.age = b.age \
         WHERE a.name = '张4'"
            .to_string(),
    ] {
        let out = ws.run(&sql).await.expect("query");
        assert!(out.rows().is_empty(), "{sql}: {:?}", out.rows());
        assert_eq!(out.audit.check.rows_suppressed, 1, "{sql}");
    }
}

/// Differencing two large groups: persons are followed by the digest of
/// their raw identifier whatever the query's shape (one table read row for
/// row, or a join), so "everyone in a district" and then "everyone but two"
/// are caught even when the second is asked through a join; a shape that
/// would lose the persons is refused rather than left unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differencing_two_large_groups_is_caught_across_query_shapes() {
    let (_f, ws) = workspace().await;
    differencing_is_caught(&ws, &ws).await;
}

/// Stored unit digests (written at ingest) follow the same persons as
/// digests computed from the raw identifiers: differencing is caught
/// within a version that has them, and between one that has them and one
/// that has not. The hidden column itself cannot be named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differencing_is_caught_with_stored_unit_digests() {
    let stored = fixture_digests(true).await;
    let with = Workspace::open(
        stored.tables.clone(),
        PseudonymKey::new(*KEY).expect("key"),
        platform_config(),
    )
    .expect("workspace");
    let (_plain, without) = workspace_with(platform_config()).await;
    differencing_is_caught(&with, &with).await;
    differencing_is_caught(&with, &without).await;
    differencing_is_caught(&without, &with).await;

    // Enterprises (their unit is visible): stored digests where the shape
    // carries them, the digest of the visible code through a window.
    let history = ResultHistory::default();
    let opts = || RunOptions {
        history: Some(history.clone()),
        noise: None,
    };
    let all = "SELECT count(*) AS n FROM enterprises";
    let out = with.run_with(all, |_| Ok(()), opts()).await.expect("all");
    assert_eq!(out.rows(), vec![vec![ENTERPRISES.to_string()]]);
    let but_two = "SELECT count(*) AS n FROM (SELECT credit_code, \
                   row_number() OVER (ORDER BY credit_code) AS r FROM enterprises) e \
                   WHERE r > 2";
    let out = with
        .run_with(but_two, |_| Ok(()), opts())
        .await
        .expect("but two");
    assert_eq!(
        out.audit.check.suppressed.differencing, 1,
        "{:?}",
        out.audit.check
    );

    for sql in [
        "SELECT __shuyun_unit_digest FROM persons",
        "SELECT count(DISTINCT __shuyun_unit_digest) AS n FROM enterprises",
    ] {
        let e = refused(&with, sql).await;
        assert_eq!(e.code, ErrorCode::ParseError, "{sql}: {e}");
    }
    let out = with
        .run("SELECT * FROM enterprises LIMIT 1")
        .await
        .expect("select star");
    assert!(
        !out.columns().iter().any(|c| c.contains("shuyun")),
        "{:?}",
        out.columns()
    );
}

/// "All of 昌江区" on `a`, "all but two" on `b`, in both orders.
async fn differencing_is_caught(a: &Workspace, b: &Workspace) {
    let history = ResultHistory::default();
    let opts = || RunOptions {
        history: Some(history.clone()),
        noise: None,
    };
    let all = "SELECT count(*) AS n, sum(income) AS s FROM persons WHERE district = '昌江区'";
    let out = a.run_with(all, |_| Ok(()), opts()).await.expect("all");
    assert_eq!(
        out.rows(),
        vec![vec![
            "100".to_string(),
            (0..300).step_by(3).map(income).sum::<i64>().to_string()
        ]]
    );
    assert_eq!(history.cells(), 1);

    // The two persons aged 20 (i = 0 and 150) are left out, through a join.
    let but_two = "SELECT count(*) AS n, sum(p.income) AS s FROM persons p \
                   JOIN persons q ON p.id_number = q.id_number \
                   WHERE p.district = '昌江区' AND q.age <> 20";
    let out = b
        .run_with(but_two, |_| Ok(()), opts())
        .await
        .expect("but two");
    assert!(out.rows().is_empty(), "{:?}", out.rows());
    let c = &out.audit.check;
    assert_eq!(c.suppressed.differencing, 1, "{c:?}");
    assert!(
        c.reasons.iter().any(|r| r.contains("differencing")),
        "{c:?}"
    );
    // Without the history it would have been shown.
    let out = b.run(but_two).await.expect("but two");
    assert_eq!(out.rows().len(), 1);

    // The other way round: the join first, then the table row for row.
    let other = ResultHistory::default();
    let o = || RunOptions {
        history: Some(other.clone()),
        noise: None,
    };
    b.run_with(but_two, |_| Ok(()), o()).await.expect("but two");
    let out = a.run_with(all, |_| Ok(()), o()).await.expect("all");
    assert_eq!(out.audit.check.suppressed.differencing, 1);

    // A union loses track of the persons: refused under a history.
    let union = "SELECT count(*) AS n FROM (SELECT id_number FROM persons \
                 UNION ALL SELECT id_number FROM persons) u";
    let e = a
        .run_with(union, |_| Ok(()), opts())
        .await
        .expect_err("a union under a history");
    assert_eq!(e.code, ErrorCode::NotAllowed, "{e}");
    assert!(e.message.contains("differencing"), "{e}");
}

// ---- Pseudonymised joins and row filters -----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pseudonymised_identifiers_join_across_tables() {
    let (_f, ws) = workspace().await;
    let out = ws
        .run(
            "SELECT p.district, count(*) AS loans, sum(l.amount) AS total \
             FROM loans l JOIN persons p ON l.id_number = p.id_number \
             GROUP BY p.district ORDER BY p.district",
        )
        .await
        .expect("query");
    let mut expected = Vec::new();
    for d in ["昌江区", "珠山区"] {
        let js: Vec<usize> = (0..LOANS).filter(|j| district(j % PERSONS) == d).collect();
        expected.push(vec![
            d.to_string(),
            js.len().to_string(),
            js.iter().map(|j| loan_amount(*j)).sum::<i64>().to_string(),
        ]);
    }
    let mut rows = out.rows();
    rows.sort();
    expected.sort();
    assert_eq!(rows, expected);

    let out = ws
        .run(
            "SELECT e.industry, count(*) AS n FROM enterprises e \
             JOIN persons p ON e.legal_rep_id = p.id_number GROUP BY e.industry",
        )
        .await
        .expect("query");
    // Legal representatives are persons 0, 3, 6, …: district(i*3) is 昌江区
    // for i < 100 (浮梁县 and 珠山区 never), so every match is in scope.
    let total: i64 = out
        .rows()
        .iter()
        .map(|r| r[1].parse::<i64>().expect("n"))
        .sum();
    assert_eq!(total, ENTERPRISES as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_row_filter_holds_whatever_the_where_clause_says() {
    let (_f, ws) = workspace().await;
    let in_scope = (0..PERSONS)
        .filter(|i| IN_FILTER.contains(&district(*i)))
        .count();
    for sql in [
        "SELECT count(*) FROM persons WHERE district = '浮梁县' OR 1=1",
        "SELECT count(*) FROM persons WHERE 1=1 OR district <> ''",
        "SELECT count(*) FROM (SELECT * FROM persons) p WHERE true OR district IS NULL",
    ] {
        let out = ws.run(sql).await.expect("query");
        assert_eq!(out.rows(), vec![vec![in_scope.to_string()]], "{sql}");
    }
    let out = ws
        .run("SELECT count(*) FROM persons WHERE district = '浮梁县'")
        .await
        .expect("query");
    // Zero persons: the single row aggregates no unit and is withheld.
    assert!(out.rows().is_empty());
    // The audit facts name what was read.
    let out = ws
        .run("SELECT district, count(*) FROM persons GROUP BY district")
        .await
        .expect("query");
    assert_eq!(out.audit.resources, ["360200-XY-000001"]);
    assert!(out.audit.fields.contains(&"persons.district".to_string()));
    assert_eq!(out.audit.rows_scanned, PERSONS as u64);
    assert_eq!(out.audit.plan_fingerprint.len(), 64);
    assert_eq!(out.audit.result_sm3.len(), 64);
    let again = ws
        .run("SELECT district, count(*) FROM persons GROUP BY district")
        .await
        .expect("query");
    assert_eq!(again.audit.plan_fingerprint, out.audit.plan_fingerprint);
}

// ---- Limits ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_join_that_exhausts_memory_is_stopped() {
    let (_f, ws) = workspace_with(WorkspaceConfig {
        memory_limit: 4 * 1024 * 1024,
        ..WorkspaceConfig::default()
    })
    .await;
    let e = assert_code(
        &ws,
        "SELECT count(*) AS n FROM persons a CROSS JOIN persons b CROSS JOIN persons c \
         GROUP BY a.id_number, b.id_number, c.id_number",
        ErrorCode::LimitExceeded,
    )
    .await;
    assert!(e.message.contains("memory"), "{e}");
    // The session is still healthy.
    let out = ws.run("SELECT count(*) FROM loans").await.expect("query");
    assert_eq!(out.rows(), vec![vec![LOANS.to_string()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_never_ends_hits_the_time_limit() {
    let (_f, ws) = workspace_with(WorkspaceConfig {
        time_limit: Duration::from_secs(2),
        ..WorkspaceConfig::default()
    })
    .await;
    let started = std::time::Instant::now();
    let e = assert_code(
        &ws,
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        ErrorCode::LimitExceeded,
    )
    .await;
    assert!(e.message.contains("time limit"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let out = ws.run("SELECT count(*) FROM loans").await.expect("query");
    assert_eq!(out.rows(), vec![vec![LOANS.to_string()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_running_and_later_queries() {
    let (_f, ws) = workspace().await;
    let ws = Arc::new(ws);
    let handle = ws.cancel_handle();
    let running = {
        let ws = ws.clone();
        tokio::spawn(async move {
            ws.run(
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) \
                 SELECT count(*) FROM r",
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.cancel();
    let r = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("stopped in time")
        .expect("task");
    assert_eq!(r.expect_err("cancelled").code, ErrorCode::Cancelled);
    let e = assert_code(&ws, "SELECT count(*) FROM loans", ErrorCode::Cancelled).await;
    assert!(e.message.contains("suspended"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_over_the_row_cap_is_refused() {
    let (_f, ws) = workspace_with(WorkspaceConfig {
        max_result_rows: 5,
        ..WorkspaceConfig::default()
    })
    .await;
    assert_code(
        &ws,
        "SELECT age, count(*) FROM persons GROUP BY age",
        ErrorCode::LimitExceeded,
    )
    .await;
}

// ---- Parse errors ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_errors_are_clear() {
    let (_f, ws) = workspace().await;
    let e = assert_code(&ws, "SELEC count(*) FROM persons", ErrorCode::ParseError).await;
    assert!(e.message.contains("SELEC"), "{e}");
    let e = assert_code(&ws, "SELECT nosuch FROM persons", ErrorCode::ParseError).await;
    assert!(e.message.contains("nosuch"), "{e}");
    let e = assert_code(&ws, "SELECT count(*) FROM nowhere", ErrorCode::ParseError).await;
    assert!(e.message.contains("nowhere"), "{e}");
    assert_code(&ws, "", ErrorCode::NotAllowed).await;
}
