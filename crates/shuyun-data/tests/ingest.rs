//! Integration tests of the ingest engine: good uploads in every format and
//! encoding, and every kind of bad upload, checking exact row numbers and
//! that nothing but a pre-existing object remains in the store.

// Test helpers unwrap freely (clippy's test allowance covers only #[test] fns).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, Int32Array, LargeStringArray, RecordBatch};
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use shuyun_data::ingest::{
    IngestError, IngestOutcome, InputFormat, RejectionReport, TextEncoding, ingest,
};
use shuyun_domain::catalogue::{FieldSpec, FieldType, Grade, PiTag, Schema};
use sm3::{Digest, Sm3};

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "shuyun-data-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    /// Every file under the directory, relative, sorted.
    fn files(&self) -> Vec<String> {
        fn walk(base: &std::path::Path, d: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &self.0, &mut out);
        out.sort();
        out
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn field(name: &str, ty: FieldType, nullable: bool, key: bool) -> FieldSpec {
    FieldSpec {
        name: name.parse().unwrap(),
        label: format!("标签{name}"),
        field_type: ty,
        unit: None,
        nullable,
        key,
        grade: Grade::General2,
        pi: PiTag::None,
    }
}

/// code (key), name, amount (fen), score (nullable), active, born, at (nullable), n (nullable).
fn schema() -> Schema {
    let mut name = field("name", FieldType::String, false, false);
    name.pi = PiTag::Pi;
    name.grade = Grade::General3;
    name.unit = None;
    let mut amount = field("amount", FieldType::Fen, false, false);
    amount.unit = Some("分".into());
    Schema::new(vec![
        field("code", FieldType::String, false, true),
        name,
        amount,
        field("score", FieldType::Float64, true, false),
        field("active", FieldType::Bool, false, false),
        field("born", FieldType::Date, false, false),
        field("at", FieldType::Timestamp, true, false),
        field("n", FieldType::Int64, true, false),
    ])
    .unwrap()
}

const HEADER: &str = "code,name,amount,score,active,born,at,n\n";
const GOOD: &str = "code,name,amount,score,active,born,at,n\n\
A1,张三,1250,3.5,是,1990-01-31,2024-05-01 08:00:00,7\n\
A2,\"李, 四\",0,,false,2000-02-29,2024-05-01T00:00:00Z,\n\
A3,\"王\"\"五\"\"\n第二行\",-3,1e2,1,1970-01-01,,-9\n";

fn dest() -> Path {
    Path::from("resources/r1/v2.parquet")
}

struct Env {
    dir: TempDir,
    store: Arc<dyn ObjectStore>,
}

fn env() -> Env {
    let dir = TempDir::new();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir.0).unwrap());
    Env { dir, store }
}

impl Env {
    async fn run(&self, input: &[u8], format: InputFormat) -> Result<IngestOutcome, IngestError> {
        ingest(input, format, &schema(), self.store.clone(), &dest()).await
    }

    async fn reject(&self, input: &[u8], format: InputFormat) -> RejectionReport {
        match self.run(input, format).await {
            Err(IngestError::Rejected(r)) => {
                assert!(
                    self.dir.files().is_empty(),
                    "left behind: {:?}",
                    self.dir.files()
                );
                r
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    async fn stored(&self) -> Bytes {
        self.store
            .get(&dest())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    }
}

const CSV: InputFormat = InputFormat::Csv(TextEncoding::Utf8);

fn read_parquet(b: Bytes) -> RecordBatch {
    let r = ParquetRecordBatchReaderBuilder::try_new(b)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
    arrow_select_concat(&batches)
}

fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    assert_eq!(batches.len(), 1, "small test files have one batch");
    batches[0].clone()
}

fn strings(a: &ArrayRef) -> Vec<Option<String>> {
    let s = a.as_string::<i32>();
    (0..s.len())
        .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
        .collect()
}

fn errs(r: &RejectionReport) -> Vec<(u64, Option<&str>)> {
    r.errors
        .iter()
        .map(|e| (e.row, e.field.as_deref()))
        .collect()
}

#[tokio::test]
async fn good_utf8_csv_is_stored_typed_with_metadata_and_hash() {
    let e = env();
    let out = e.run(GOOD.as_bytes(), CSV).await.unwrap();
    assert_eq!(out.rows, 3);
    assert_eq!(out.path, dest());
    assert_eq!(e.dir.files(), vec!["resources/r1/v2.parquet".to_string()]);
    let bytes = e.stored().await;
    assert_eq!(out.bytes, bytes.len() as u64);
    let sm3: [u8; 32] = Sm3::digest(&bytes).into();
    assert_eq!(out.sm3, sm3);
    let nulls: Vec<u64> = out.null_counts.iter().map(|(_, n)| *n).collect();
    assert_eq!(nulls, vec![0, 0, 0, 1, 0, 0, 1, 1]);
    assert_eq!(out.null_counts[3].0, "score");

    let b = read_parquet(bytes);
    let s = b.schema();
    let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "code", "name", "amount", "score", "active", "born", "at", "n"
        ]
    );
    let name_meta = s.field(1).metadata();
    assert_eq!(name_meta["shuyun.label"], "标签name");
    assert_eq!(name_meta["shuyun.grade"], "general3");
    assert_eq!(name_meta["shuyun.pi"], "pi");
    assert_eq!(s.field(2).metadata()["shuyun.unit"], "分");
    assert_eq!(
        s.field(6).data_type().to_string(),
        "Timestamp(ms, \"+08:00\")"
    );
    assert!(!s.field(0).is_nullable());
    assert!(s.field(3).is_nullable());
    assert_eq!(
        strings(b.column(1)),
        vec![
            Some("张三".into()),
            Some("李, 四".into()),
            Some("王\"五\"\n第二行".into())
        ]
    );
    let amount = b.column(2).as_primitive::<Int64Type>();
    assert_eq!(amount.values().to_vec(), vec![1250, 0, -3]);
    let score = b.column(3).as_primitive::<Float64Type>();
    assert_eq!(
        (score.value(0), score.is_null(1), score.value(2)),
        (3.5, true, 100.0)
    );
    let active = b.column(4).as_boolean();
    assert_eq!(
        (active.value(0), active.value(1), active.value(2)),
        (true, false, true)
    );
    let born = b.column(5).as_primitive::<Date32Type>();
    assert_eq!(born.values().to_vec(), vec![7335, 11_016, 0]);
    let at = b.column(6).as_primitive::<TimestampMillisecondType>();
    // 2024-05-01 08:00 Beijing = 2024-05-01 00:00 UTC.
    assert_eq!(at.value(0), 1_714_521_600_000);
    assert_eq!(at.value(1), 1_714_521_600_000);
    assert!(at.is_null(2));
    let n = b.column(7).as_primitive::<Int64Type>();
    assert_eq!((n.value(0), n.is_null(1), n.value(2)), (7, true, -9));
}

#[tokio::test]
async fn gb18030_csv_declared_and_detected() {
    let (encoded, _, unmappable) = encoding_rs::GB18030.encode(GOOD);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&encoded).is_err());
    for enc in [TextEncoding::Gb18030, TextEncoding::Auto] {
        let e = env();
        let out = e.run(&encoded, InputFormat::Csv(enc)).await.unwrap();
        assert_eq!(out.rows, 3);
        let b = read_parquet(e.stored().await);
        assert_eq!(strings(b.column(1))[0].as_deref(), Some("张三"));
    }
    // Declared UTF-8 but sent GB18030: rejected with the rows that differ.
    let e = env();
    let r = e.reject(&encoded, CSV).await;
    assert_eq!(
        errs(&r),
        vec![(1, Some("name")), (2, Some("name")), (3, Some("name"))]
    );
    assert!(r.errors[0].reason.contains("UTF-8"));
}

#[tokio::test]
async fn utf8_bom_is_accepted() {
    let with_bom = format!("\u{feff}{GOOD}");
    for enc in [
        TextEncoding::Utf8,
        TextEncoding::Auto,
        TextEncoding::Gb18030,
    ] {
        let e = env();
        let out = e
            .run(with_bom.as_bytes(), InputFormat::Csv(enc))
            .await
            .unwrap();
        assert_eq!(out.rows, 3, "{enc:?}");
        let b = read_parquet(e.stored().await);
        assert_eq!(strings(b.column(0))[0].as_deref(), Some("A1"));
        assert_eq!(strings(b.column(1))[0].as_deref(), Some("张三"));
    }
}

#[tokio::test]
async fn columns_in_any_order_and_crlf() {
    let e = env();
    let csv = "n,at,born,active,score,amount,name,code\r\n,,2001-01-01,0,,5,甲,K\r\n";
    let out = e.run(csv.as_bytes(), CSV).await.unwrap();
    assert_eq!(out.rows, 1);
    let b = read_parquet(e.stored().await);
    assert_eq!(strings(b.column(0)), vec![Some("K".into())]);
    assert_eq!(b.column(2).as_primitive::<Int64Type>().value(0), 5);
}

#[tokio::test]
async fn header_only_gives_an_empty_file() {
    let e = env();
    let out = e.run(HEADER.as_bytes(), CSV).await.unwrap();
    assert_eq!(out.rows, 0);
    let r = ParquetRecordBatchReaderBuilder::try_new(e.stored().await).unwrap();
    assert_eq!(r.metadata().file_metadata().num_rows(), 0);
}

#[tokio::test]
async fn json_lines() {
    let e = env();
    let jsonl = "{\"code\":\"J1\",\"name\":\"赵六\",\"amount\":100,\"score\":2,\"active\":true,\"born\":\"1999-12-31\",\"at\":\"2024-01-01T12:00:00+08:00\",\"n\":null}\n\
\n\
{\"code\":\"J2\",\"name\":\"钱七\",\"amount\":-1,\"active\":false,\"born\":\"2000-01-01\"}\n";
    let out = e
        .run(jsonl.as_bytes(), InputFormat::JsonLines)
        .await
        .unwrap();
    assert_eq!(out.rows, 2);
    let b = read_parquet(e.stored().await);
    assert_eq!(
        strings(b.column(1)),
        vec![Some("赵六".into()), Some("钱七".into())]
    );
    assert_eq!(b.column(3).as_primitive::<Float64Type>().value(0), 2.0);
    assert_eq!(
        b.column(6)
            .as_primitive::<TimestampMillisecondType>()
            .value(0),
        1_704_081_600_000
    );

    let bad = "{\"code\":\"J1\",\"name\":\"a\",\"amount\":1,\"active\":true,\"born\":\"1999-12-31\",\"extra\":1}\n\
{\"code\":\"J2\",\"amount\":1,\"active\":true,\"born\":\"1999-12-31\"}\n\
{\"code\":\"J3\",\"name\":\"c\",\"amount\":\"1\",\"active\":1,\"born\":\"1999-12-31\"}\n\
{\"code\":\"J4\",\"name\":\"d\",\"amount\":1.5,\"active\":true,\"born\":\"1999-12-31\",\"score\":[1]}\n\
[1,2]\n\
{\"code\":\"J6\",\"name\":\"e\",\"amount\":1,\"act";
    let e = env();
    let r = e.reject(bad.as_bytes(), InputFormat::JsonLines).await;
    assert_eq!(
        errs(&r),
        vec![
            (1, Some("extra")),
            (2, Some("name")),
            (3, Some("amount")),
            (3, Some("active")),
            (4, Some("amount")),
            (4, Some("score")),
            (5, None),
            (6, None),
        ]
    );
    assert!(
        r.errors[7].reason.contains("truncated"),
        "{}",
        r.errors[7].reason
    );
    assert_eq!(r.rows_read, 6);
}

#[tokio::test]
async fn parquet_round_trip_and_compatible_types() {
    let e = env();
    e.run(GOOD.as_bytes(), CSV).await.unwrap();
    let stored = e.stored().await;
    let e2 = env();
    let out = e2.run(&stored, InputFormat::Parquet).await.unwrap();
    assert_eq!(out.rows, 3);
    assert_eq!(
        read_parquet(e2.stored().await),
        read_parquet(stored.clone())
    );

    // Int32 and LargeUtf8 columns are accepted; nulls and keys are checked.
    let schema = Schema::new(vec![
        field("code", FieldType::String, false, true),
        field("n", FieldType::Int64, false, false),
    ])
    .unwrap();
    let write = |codes: Vec<Option<&str>>, ns: Vec<Option<i32>>| {
        let batch = RecordBatch::try_from_iter([
            ("code", Arc::new(LargeStringArray::from(codes)) as ArrayRef),
            ("n", Arc::new(Int32Array::from(ns)) as ArrayRef),
        ])
        .unwrap();
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        buf
    };
    let good = write(vec![Some("a"), Some("b")], vec![Some(1), Some(2)]);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let out = ingest(
        &good[..],
        InputFormat::Parquet,
        &schema,
        store.clone(),
        &dest(),
    )
    .await
    .unwrap();
    assert_eq!(out.rows, 2);
    let b = read_parquet(store.get(&dest()).await.unwrap().bytes().await.unwrap());
    assert_eq!(
        b.column(1).as_primitive::<Int64Type>().values().to_vec(),
        vec![1, 2]
    );

    let bad = write(
        vec![Some("a"), Some("b"), Some("a")],
        vec![Some(1), None, Some(3)],
    );
    let e3 = env();
    match ingest(
        &bad[..],
        InputFormat::Parquet,
        &schema,
        e3.store.clone(),
        &dest(),
    )
    .await
    {
        Err(IngestError::Rejected(r)) => {
            assert_eq!(errs(&r), vec![(2, Some("n")), (3, Some("code"))]);
            assert!(r.errors[1].reason.contains("row 1"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e3.dir.files().is_empty());

    // Truncated Parquet.
    let e4 = env();
    let r = e4
        .reject(&stored[..stored.len() / 2], InputFormat::Parquet)
        .await;
    assert_eq!(errs(&r), vec![(0, None)]);
    // Incompatible column type (text where an integer is expected).
    let e5 = env();
    let typed = Schema::new(vec![
        field("code", FieldType::Int64, false, true),
        field("n", FieldType::Int64, false, false),
    ])
    .unwrap();
    match ingest(
        &good[..],
        InputFormat::Parquet,
        &typed,
        e5.store.clone(),
        &dest(),
    )
    .await
    {
        Err(IngestError::Rejected(r)) => assert_eq!(errs(&r), vec![(0, Some("code"))]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn header_problems_are_file_errors() {
    let e = env();
    let r = e
        .reject(
            b"code,name,name,amount,score,active,born,at,extra\nx\n",
            CSV,
        )
        .await;
    assert_eq!(
        errs(&r),
        vec![(0, Some("name")), (0, Some("extra")), (0, Some("n"))]
    );
    assert!(r.errors[0].reason.contains("more than once"));
    assert!(r.errors[1].reason.contains("unknown"));
    assert!(r.errors[2].reason.contains("missing"));
    let r = e.reject(b"", CSV).await;
    assert_eq!(errs(&r), vec![(0, None)]);
}

#[tokio::test]
async fn row_errors_have_exact_rows_and_fields() {
    let e = env();
    let csv = format!(
        "{HEADER}\
A1,甲,100,,true,2000-01-01,,\n\
A2,乙,12.50,,true,2000-01-01,,\n\
A3,丙,1,x,yes,2023-02-29,2024-01-01 25:00:00,1.0\n\
A4,丁,1,,true,2000-01-01\n\
A5,,1,,true,2000-01-01,,\n\
A1,戊,1,,true,2000-01-01,,\n\
A7,己,1,,true,2000-01-01,,\n"
    );
    let r = e.reject(csv.as_bytes(), CSV).await;
    assert_eq!(
        errs(&r),
        vec![
            (2, Some("amount")),
            (3, Some("score")),
            (3, Some("active")),
            (3, Some("born")),
            (3, Some("at")),
            (3, Some("n")),
            (4, None),
            (5, Some("name")),
            (6, Some("code")),
        ]
    );
    assert!(r.errors[0].reason.contains("fen"));
    assert!(r.errors[6].reason.contains("expected 8 cells, found 6"));
    assert!(r.errors[7].reason.contains("empty"));
    assert!(
        r.errors[8].reason.contains("row 1"),
        "{}",
        r.errors[8].reason
    );
    assert_eq!(r.total_errors, 9);
    assert_eq!(r.rows_read, 7);

    let report = r.to_csv();
    assert!(report.starts_with("\u{feff}row,field,reason\r\n2,amount,"));
    assert!(report.contains("\r\n4,,\"expected 8 cells, found 6\"\r\n"));
}

#[tokio::test]
async fn truncated_csv_and_stray_quotes() {
    let e = env();
    let csv = format!("{HEADER}A1,甲,1,,true,2000-01-01,,\nA2,\"乙,1,,true,2000-01-01,,\n");
    let r = e.reject(csv.as_bytes(), CSV).await;
    assert_eq!(errs(&r), vec![(2, None)]);
    assert!(r.errors[0].reason.contains("unterminated"));

    let csv = format!("{HEADER}A1,甲\"乙,1,,true,2000-01-01,,\n");
    let r = e.reject(csv.as_bytes(), CSV).await;
    assert_eq!(errs(&r), vec![(1, None)]);
}

#[tokio::test]
async fn invalid_utf8_names_the_row() {
    let e = env();
    let mut csv = format!("{HEADER}A1,甲,1,,true,2000-01-01,,\n").into_bytes();
    csv.extend_from_slice(b"A2,\xff\xfe,1,,true,2000-01-01,,\n");
    let r = e.reject(&csv, CSV).await;
    assert_eq!(errs(&r), vec![(2, Some("name"))]);
}

#[tokio::test]
async fn a_character_split_by_a_delimiter_is_invalid_utf8() {
    // "中" is E4 B8 AD: its bytes on both sides of a delimiter make no text
    // in either value, although the values' bytes joined would.
    let e = env();
    let mut csv = HEADER.as_bytes().to_vec();
    csv.extend_from_slice(b"A1,\"\xe4\xb8\",\xad1,,true,2000-01-01,,\n");
    let r = e.reject(&csv, CSV).await;
    assert_eq!(errs(&r), vec![(1, Some("name"))]);
    assert!(r.errors[0].reason.contains("UTF-8"));
}

#[tokio::test]
async fn an_existing_object_at_dest_survives_a_rejection() {
    let e = env();
    e.store
        .put(&dest(), PutPayload::from_static(b"previous"))
        .await
        .unwrap();
    let csv = format!("{HEADER}A1,甲,x,,true,2000-01-01,,\n");
    let r = e.run(csv.as_bytes(), CSV).await;
    assert!(matches!(r, Err(IngestError::Rejected(_))));
    assert_eq!(e.dir.files(), vec!["resources/r1/v2.parquet".to_string()]);
    assert_eq!(&e.stored().await[..], b"previous");
}

#[tokio::test]
async fn errors_are_capped_and_many_batches_flow() {
    // 30,000 rows: several batches, then every row bad.
    let mut ok = String::from(HEADER);
    for i in 0..30_000 {
        ok.push_str(&format!("K{i},名{i},{i},,1,2000-01-01,,{i}\n"));
    }
    let e = env();
    let out = e.run(ok.as_bytes(), CSV).await.unwrap();
    assert_eq!(out.rows, 30_000);
    let r = ParquetRecordBatchReaderBuilder::try_new(e.stored().await).unwrap();
    assert_eq!(r.metadata().file_metadata().num_rows(), 30_000);

    let bad = ok.replace(",,1,", ",,maybe,");
    let e = env();
    let r = e.reject(bad.as_bytes(), CSV).await;
    assert_eq!(r.total_errors, 30_000);
    assert_eq!(r.errors.len(), 1000);
    assert_eq!(r.errors[999].row, 1000);
    // A bad row near the end of a long good file is still found and nothing is kept.
    let late = ok.replace("K29999,", "K0,");
    let r = e.reject(late.as_bytes(), CSV).await;
    assert_eq!(errs(&r), vec![(30_000, Some("code"))]);
}

#[tokio::test]
async fn duplicates_take_their_place_among_other_errors() {
    let e = env();
    let csv = format!(
        "{HEADER}\
A1,甲,1,,true,2000-01-01,,\n\
A2,乙,1,,true,2000-01-01,,\n\
A1,丙,1,,true,2000-01-01,,\n\
A4,丁,x,,true,2000-01-01,,\n\
A2,戊,1,,true,2000-01-01,,\n\
A1,己,1,,true,2000-01-01,,\n"
    );
    let r = e.reject(csv.as_bytes(), CSV).await;
    assert_eq!(
        errs(&r),
        vec![
            (3, Some("code")),
            (4, Some("amount")),
            (5, Some("code")),
            (6, Some("code"))
        ]
    );
    assert!(
        r.errors[0].reason.contains("row 1"),
        "{}",
        r.errors[0].reason
    );
    assert!(
        r.errors[2].reason.contains("row 2"),
        "{}",
        r.errors[2].reason
    );
    assert!(
        r.errors[3].reason.contains("row 1"),
        "{}",
        r.errors[3].reason
    );
    assert_eq!((r.total_errors, r.rows_read), (4, 6));
}

#[tokio::test]
async fn the_error_limit_counts_duplicates() {
    // Every row repeats row 1's key; every third row also has a bad amount
    // (and is then not checked for its key). From row 2 on each row has one
    // error, so reading stops after row 100,001 with 100,000 errors.
    let mut csv = String::from(HEADER);
    for i in 1..=100_050u32 {
        let amount = if i % 3 == 0 { "x" } else { "1" };
        csv.push_str(&format!("K0,名,{amount},,1,2000-01-01,,\n"));
    }
    let e = env();
    let r = e.reject(csv.as_bytes(), CSV).await;
    assert_eq!(r.total_errors, 100_000);
    assert_eq!(r.rows_read, 100_001);
    assert_eq!(r.errors.len(), 1000);
    assert_eq!(
        errs(&r)[..3],
        [(2, Some("code")), (3, Some("amount")), (4, Some("code"))]
    );
    assert_eq!(r.errors[999].row, 1001);

    // Only duplicates, more than the limit.
    let csv = csv.replace(",x,", ",1,");
    let r = e.reject(csv.as_bytes(), CSV).await;
    assert_eq!(r.total_errors, 100_000);
    assert_eq!(r.rows_read, 100_001);
    assert_eq!(r.errors[0].row, 2);
}

/// A CSV of several parallel blocks (blocks are cut at about 1 MiB): every
/// 7th row has a quoted name spanning two lines (with an escaped quote),
/// every 11th row is followed by a blank line, line ends alternate between
/// LF and CRLF. `bad(i)` may replace row `i`'s amount.
fn many_blocks(rows: u32, bad: impl Fn(u32) -> Option<&'static str>) -> String {
    let mut csv = String::from(HEADER);
    for i in 1..=rows {
        let name = if i % 7 == 0 {
            format!("\"名{i}\n第二行 \"\"引\"\"\"")
        } else {
            format!("名{i}")
        };
        let amount = bad(i).map_or(i.to_string(), str::to_string);
        let end = if i % 2 == 0 { "\r\n" } else { "\n" };
        csv.push_str(&format!(
            "K{i},{name},{amount},{i}.5,是,2000-01-01,2024-05-01 08:00:00,{i}{end}"
        ));
        if i % 11 == 0 {
            csv.push_str("\r\n");
        }
    }
    csv
}

#[tokio::test]
async fn many_blocks_keep_rows_and_values() {
    let csv = many_blocks(40_000, |_| None);
    assert!(csv.len() > 2 << 20, "several blocks");
    let e = env();
    let out = e.run(csv.as_bytes(), CSV).await.unwrap();
    assert_eq!(out.rows, 40_000);
    let r = ParquetRecordBatchReaderBuilder::try_new(e.stored().await)
        .unwrap()
        .with_batch_size(40_000)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
    let b = arrow_select_concat(&batches);
    assert_eq!(b.num_rows(), 40_000);
    let names = b.column(1).as_string::<i32>();
    let amounts = b.column(2).as_primitive::<Int64Type>();
    for i in [1u32, 7, 11, 12, 14_000, 39_998, 40_000] {
        let row = (i - 1) as usize;
        let name = if i % 7 == 0 {
            format!("名{i}\n第二行 \"引\"")
        } else {
            format!("名{i}")
        };
        assert_eq!(names.value(row), name);
        assert_eq!(amounts.value(row), i64::from(i));
    }
}

#[tokio::test]
async fn errors_in_later_blocks_have_exact_rows() {
    let bad = |i: u32| match i {
        5 | 21_001 | 39_999 => Some("x"),
        30_000 => Some("1.5"),
        _ => None,
    };
    let e = env();
    let r = e.reject(many_blocks(40_000, bad).as_bytes(), CSV).await;
    assert_eq!(
        errs(&r),
        vec![
            (5, Some("amount")),
            (21_001, Some("amount")),
            (30_000, Some("amount")),
            (39_999, Some("amount")),
        ]
    );
    assert!(r.errors[2].reason.contains("fen"));
    assert_eq!(r.rows_read, 40_000);

    // Whole-row errors, invalid UTF-8 and a duplicate, far into the file.
    let mut csv = many_blocks(40_000, |_| None).into_bytes();
    let at = |csv: &[u8], key: &str| {
        let needle = format!("\nK{key},");
        memchr::memmem::find(csv, needle.as_bytes()).unwrap() + 1
    };
    let p = at(&csv, "25000");
    csv.splice(p..p + 7, b"K1,".iter().copied());
    let p = at(&csv, "33001");
    csv.splice(p..p + 7, b"K33001,\xff".iter().copied());
    let p = at(&csv, "36001");
    csv.splice(p..p, b"ragged,row\n".iter().copied());
    let r = e.reject(&csv, CSV).await;
    assert_eq!(
        errs(&r),
        vec![
            (25_000, Some("code")),
            (33_001, Some("name")),
            (36_001, None)
        ]
    );
    assert!(r.errors[0].reason.contains("row 1"));
    assert!(r.errors[1].reason.contains("UTF-8"));
    assert!(r.errors[2].reason.contains("expected 8 cells, found 2"));
    assert_eq!(r.rows_read, 40_001);

    // An unterminated quote at the end: the row after the last one read.
    let mut csv = many_blocks(40_000, |_| None);
    csv.push_str("K40001,\"名,1,,是,2000-01-01,,\n");
    let r = e.reject(csv.as_bytes(), CSV).await;
    assert_eq!(errs(&r), vec![(40_001, None)]);
    assert!(r.errors[0].reason.contains("unterminated"));
}

#[tokio::test]
async fn in_memory_store_works() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let out = ingest(GOOD.as_bytes(), CSV, &schema(), store.clone(), &dest())
        .await
        .unwrap();
    let listed: Vec<String> = {
        use futures_util_list::list_all;
        list_all(&store).await
    };
    assert_eq!(listed, vec![dest().to_string()]);
    let bytes = store.get(&dest()).await.unwrap().bytes().await.unwrap();
    assert_eq!(out.sm3, <[u8; 32]>::from(Sm3::digest(&bytes)));
}

mod futures_util_list {
    use super::*;

    /// All paths in a store (via list_with_delimiter, recursively).
    pub async fn list_all(store: &Arc<dyn ObjectStore>) -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![None::<Path>];
        while let Some(d) = dirs.pop() {
            let l = store.list_with_delimiter(d.as_ref()).await.unwrap();
            out.extend(l.objects.into_iter().map(|o| o.location.to_string()));
            dirs.extend(l.common_prefixes.into_iter().map(Some));
        }
        out.sort();
        out
    }
}

mod pilot {
    //! The pilot generator's output: deterministic, valid, and joinable.

    use std::collections::{HashMap, HashSet};

    use super::*;
    use shuyun_data::pilot::{generate_csv, pilot_resources};

    fn csv(key: &str, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        generate_csv(key, 1.0, seed, &mut out).unwrap();
        out
    }

    #[test]
    fn same_seed_same_bytes() {
        for r in pilot_resources() {
            let a = csv(r.key, 42);
            assert_eq!(a, csv(r.key, 42), "{}", r.key);
            assert_ne!(a, csv(r.key, 43), "{}", r.key);
        }
        assert!(generate_csv("nope", 1.0, 1, &mut Vec::new()).is_err());
    }

    #[tokio::test]
    async fn every_resource_ingests_and_keys_join() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        // Column values by resource and field, read back from the stored Parquet.
        let mut cols: HashMap<(&str, &str), Vec<String>> = HashMap::new();
        for r in pilot_resources() {
            let data = csv(r.key, 7);
            let path = Path::from(format!("pilot/{}.parquet", r.key));
            let out = match ingest(&data[..], CSV, &r.schema, store.clone(), &path).await {
                Ok(o) => o,
                Err(IngestError::Rejected(rep)) => {
                    panic!("{}: {:?}", r.key, &rep.errors[..rep.errors.len().min(5)])
                }
                Err(e) => panic!("{}: {e}", r.key),
            };
            assert!(out.rows > 0, "{}", r.key);
            let bytes = store.get(&path).await.unwrap().bytes().await.unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .unwrap()
                .build()
                .unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                for f in [
                    "credit_code",
                    "id_number",
                    "builder_credit_code",
                    "owner_credit_code",
                    "operator_credit_code",
                    "driver_id_number",
                    "caller_id_number",
                ] {
                    if let Some(c) = batch.column_by_name(f) {
                        let v = cols.entry((r.key, f)).or_default();
                        v.extend(strings(c).into_iter().flatten());
                    }
                }
            }
        }
        let enterprises: HashSet<&String> =
            cols[&("enterprise_credit", "credit_code")].iter().collect();
        let persons: HashSet<&String> = cols[&("person_credit", "id_number")].iter().collect();
        assert_eq!(enterprises.len(), 500);
        assert_eq!(persons.len(), 2000);
        let share = |key: (&str, &str), set: &HashSet<&String>| {
            let v = &cols[&key];
            assert!(!v.is_empty(), "{key:?}");
            v.iter().filter(|c| set.contains(c)).count() as f64 / v.len() as f64
        };
        let builders = share(
            ("construction_projects", "builder_credit_code"),
            &enterprises,
        );
        assert!((0.9..1.0).contains(&builders), "{builders}");
        for key in [
            ("major_projects", "owner_credit_code"),
            ("vehicles", "operator_credit_code"),
            ("medical_institutions", "credit_code"),
            ("key_industries", "credit_code"),
        ] {
            assert_eq!(share(key, &enterprises), 1.0, "{key:?}");
        }
        for key in [
            ("vehicles", "driver_id_number"),
            ("complaints_12345", "caller_id_number"),
        ] {
            assert_eq!(share(key, &persons), 1.0, "{key:?}");
        }
    }
}

#[tokio::test]
async fn unit_digests_are_stored_hidden_and_fingerprinted() {
    use shuyun_domain::workspace::{UnitDigestKey, unit_digest};
    let key = UnitDigestKey::from_bytes(*b"ingest-test-key!");
    let e = env();
    shuyun_data::ingest::ingest_with(
        GOOD.as_bytes(),
        InputFormat::Csv(TextEncoding::Utf8),
        &schema(),
        e.store.clone(),
        &dest(),
        Some(key),
    )
    .await
    .unwrap();

    // The file holds one digest per row, of the raw key value.
    let r = ParquetRecordBatchReaderBuilder::try_new(e.stored().await).unwrap();
    let kv = r.metadata().file_metadata().key_value_metadata().unwrap();
    assert!(kv.iter().any(|x| x.key == unit_digest::METADATA_KEY
        && x.value.as_deref() == Some(key.fingerprint().as_str())));
    let batch = r.build().unwrap().next().unwrap().unwrap();
    let digests = batch
        .column_by_name(unit_digest::COLUMN)
        .expect("the hidden column")
        .as_primitive::<arrow_array::types::UInt64Type>()
        .clone();
    let codes = batch.column_by_name("code").unwrap().as_string::<i32>();
    assert_eq!(digests.len(), 3);
    for i in 0..3 {
        assert_eq!(digests.value(i), key.bytes(codes.value(i).as_bytes()));
    }

    // Readers of the platform never see it, and the fingerprint is found.
    let mut s = shuyun_data::objects::read_batches(e.store.clone(), &dest(), 8)
        .await
        .unwrap();
    use futures_util::StreamExt;
    let b = s.next().await.unwrap().unwrap();
    assert_eq!(b.num_columns(), 8);
    assert!(b.column_by_name(unit_digest::COLUMN).is_none());
    assert_eq!(
        shuyun_data::objects::unit_digest_fingerprint(e.store.clone(), &dest())
            .await
            .unwrap(),
        Some(key.fingerprint())
    );

    // Without a key, or without a unit, nothing is added.
    let plain = env();
    plain
        .run(GOOD.as_bytes(), InputFormat::Csv(TextEncoding::Utf8))
        .await
        .unwrap();
    assert_eq!(
        shuyun_data::objects::unit_digest_fingerprint(plain.store.clone(), &dest())
            .await
            .unwrap(),
        None
    );
    let mut fields: Vec<FieldSpec> = schema().fields().to_vec();
    for f in &mut fields {
        f.pi = PiTag::None;
    }
    let no_unit = env();
    shuyun_data::ingest::ingest_with(
        GOOD.as_bytes(),
        InputFormat::Csv(TextEncoding::Utf8),
        &Schema::new(fields).unwrap(),
        no_unit.store.clone(),
        &dest(),
        Some(key),
    )
    .await
    .unwrap();
    let r = ParquetRecordBatchReaderBuilder::try_new(no_unit.stored().await).unwrap();
    assert_eq!(r.schema().fields().len(), 8);
}
