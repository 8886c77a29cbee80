//! Synthetic look-alike data (合成数据, C4): operators write and debug
//! their queries against data shaped like a resource, never against the
//! resource. A [`Profile`] keeps only marginal statistics of each column of
//! a stored version — category frequencies (categories held by fewer than
//! `k` rows dropped into "其他"), quantiles between the 5th and 95th
//! percentile of numbers, dates and times, flag and empty-value rates, and
//! for identifiers only their kind — and [`generate`] draws each column
//! independently from it. Identifiers are made up: valid-format 统一社会
//! 信用代码, 身份证号 and mobile numbers from a counter, the same for every
//! resource, so synthetic tables still join on them; no real identifier,
//! rare category or extreme value can appear.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use shuyun_domain::catalogue::{FieldSpec, FieldType, Schema};
use shuyun_domain::{CreditCode, ResidentId};

use crate::ingest::{TIMESTAMP_TZ, arrow_schema};

/// Values kept per numeric column to estimate its quantiles.
const RESERVOIR: usize = 100_000;
/// More distinct strings than this and a column is treated as free text or
/// an identifier, not categories.
const MAX_CATEGORIES: usize = 2_000;
/// Quantiles kept: the 5th, 10th, …, 95th percentiles.
const QUANTILES: usize = 19;
/// Most rows one call generates.
pub const MAX_SYNTHETIC_ROWS: usize = 1_000_000;

/// What kind of made-up identifier a column gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    CreditCode,
    ResidentId,
    Mobile,
    /// Anything else unique: `合成-000001`.
    Other,
}

/// The marginal model of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ColumnProfile {
    /// Text with few distinct values: each value held by at least `k`
    /// rows with its frequency; the rest counted as `other`.
    Categories {
        values: Vec<(String, u64)>,
        other: u64,
    },
    /// Unique or nearly unique text: only its kind.
    Identifier {
        kind: IdKind,
    },
    /// Numbers (integers, fen, floats): the 5th…95th percentiles.
    Numbers {
        quantiles: Vec<f64>,
        integer: bool,
    },
    /// Dates as days since 1970-01-01: the 5th…95th percentiles.
    Dates {
        quantiles: Vec<i64>,
    },
    /// Timestamps in milliseconds: the 5th…95th percentiles.
    Timestamps {
        quantiles: Vec<i64>,
    },
    Flags {
        trues: u64,
        falses: u64,
    },
    /// Too few values to say anything (fewer than `k`).
    Empty,
}

/// A column's model and its empty-value count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnModel {
    pub name: String,
    pub nulls: u64,
    #[serde(flatten)]
    pub profile: ColumnProfile,
}

/// The marginal statistics of a stored version: nothing from which a
/// record, or a value held by fewer than `k` records, can be read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub rows: u64,
    pub k: u32,
    pub columns: Vec<ColumnModel>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    #[error("reading the stored version failed: {0}")]
    Read(String),
    #[error("writing the synthetic data failed: {0}")]
    Write(String),
    #[error("{0}")]
    Invalid(String),
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What is gathered of one column while reading.
enum Gather {
    Text {
        counts: HashMap<String, u64>,
        overflow: bool,
        sample: Vec<String>,
    },
    Numbers {
        reservoir: Vec<f64>,
        seen: u64,
        integer: bool,
    },
    Ints {
        reservoir: Vec<i64>,
        seen: u64,
        dates: bool,
    },
    Flags {
        trues: u64,
        falses: u64,
    },
}

fn keep<T: Copy>(reservoir: &mut Vec<T>, seen: &mut u64, v: T, rng: &mut Rng) {
    *seen += 1;
    if reservoir.len() < RESERVOIR {
        reservoir.push(v);
    } else {
        let j = rng.below(*seen) as usize;
        if j < RESERVOIR {
            reservoir[j] = v;
        }
    }
}

fn quantiles<T: Copy + PartialOrd>(mut v: Vec<T>) -> Vec<T> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        return Vec::new();
    }
    (1..=QUANTILES)
        .map(|q| v[(q * (v.len() - 1)) / (QUANTILES + 1)])
        .collect()
}

fn id_kind(sample: &[String]) -> IdKind {
    let all = |f: &dyn Fn(&str) -> bool| !sample.is_empty() && sample.iter().all(|s| f(s));
    if all(&|s| s.parse::<CreditCode>().is_ok()) {
        IdKind::CreditCode
    } else if all(&|s| s.parse::<ResidentId>().is_ok()) {
        IdKind::ResidentId
    } else if all(&|s| s.len() == 11 && s.starts_with('1') && s.bytes().all(|b| b.is_ascii_digit()))
    {
        IdKind::Mobile
    } else {
        IdKind::Other
    }
}

/// Profile the stored version at `path` (of `schema`) with the minimum
/// frequency `k` (2 to 1000) for a category to be kept.
pub async fn profile(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    schema: &Schema,
    k: u32,
) -> Result<Profile, SyntheticError> {
    if !(2..=1000).contains(&k) {
        return Err(SyntheticError::Invalid("k is 2 to 1000".into()));
    }
    let fields = schema.fields();
    let mut gathers: Vec<Gather> = fields
        .iter()
        .map(|f| match f.field_type {
            FieldType::String => Gather::Text {
                counts: HashMap::new(),
                overflow: false,
                sample: Vec::new(),
            },
            FieldType::Int64 | FieldType::Fen => Gather::Numbers {
                reservoir: Vec::new(),
                seen: 0,
                integer: true,
            },
            FieldType::Float64 => Gather::Numbers {
                reservoir: Vec::new(),
                seen: 0,
                integer: false,
            },
            FieldType::Date => Gather::Ints {
                reservoir: Vec::new(),
                seen: 0,
                dates: true,
            },
            FieldType::Timestamp => Gather::Ints {
                reservoir: Vec::new(),
                seen: 0,
                dates: false,
            },
            FieldType::Bool => Gather::Flags {
                trues: 0,
                falses: 0,
            },
        })
        .collect();
    let mut nulls = vec![0u64; fields.len()];
    let mut rows = 0u64;
    let mut rng = Rng(0x5EED);
    let mut stream = crate::objects::read_batches(store, path, 8192)
        .await
        .map_err(|e| SyntheticError::Read(e.to_string()))?;
    while let Some(batch) = stream
        .try_next()
        .await
        .map_err(|e| SyntheticError::Read(e.to_string()))?
    {
        rows += batch.num_rows() as u64;
        for (i, f) in fields.iter().enumerate() {
            let Some(col) = batch.column_by_name(f.name.as_str()) else {
                return Err(SyntheticError::Read(format!("no column {}", f.name)));
            };
            nulls[i] += col.null_count() as u64;
            gather(&mut gathers[i], col, &mut rng)?;
        }
    }
    let columns = fields
        .iter()
        .zip(gathers)
        .zip(nulls)
        .map(|((f, g), nulls)| ColumnModel {
            name: f.name.as_str().to_string(),
            nulls,
            profile: model(f, g, rows, k),
        })
        .collect();
    Ok(Profile { rows, k, columns })
}

fn gather(g: &mut Gather, col: &ArrayRef, rng: &mut Rng) -> Result<(), SyntheticError> {
    let bad = || SyntheticError::Read("a column's type differs from its schema".into());
    match g {
        Gather::Text {
            counts,
            overflow,
            sample,
        } => {
            let a = col.as_string_opt::<i32>().ok_or_else(bad)?;
            for v in a.iter().flatten() {
                if sample.len() < 200 {
                    sample.push(v.to_string());
                }
                if *overflow {
                    continue;
                }
                *counts.entry(v.to_string()).or_insert(0) += 1;
                if counts.len() > MAX_CATEGORIES {
                    *overflow = true;
                    counts.clear();
                }
            }
        }
        Gather::Numbers {
            reservoir, seen, ..
        } => {
            if let Some(a) = col.as_primitive_opt::<Int64Type>() {
                for v in a.iter().flatten() {
                    keep(reservoir, seen, v as f64, rng);
                }
            } else {
                let a = col.as_primitive_opt::<Float64Type>().ok_or_else(bad)?;
                for v in a.iter().flatten().filter(|v| v.is_finite()) {
                    keep(reservoir, seen, v, rng);
                }
            }
        }
        Gather::Ints {
            reservoir,
            seen,
            dates,
        } => {
            if *dates {
                let a = col.as_primitive_opt::<Date32Type>().ok_or_else(bad)?;
                for v in a.iter().flatten() {
                    keep(reservoir, seen, i64::from(v), rng);
                }
            } else {
                let a = col
                    .as_primitive_opt::<TimestampMillisecondType>()
                    .ok_or_else(bad)?;
                for v in a.iter().flatten() {
                    keep(reservoir, seen, v, rng);
                }
            }
        }
        Gather::Flags { trues, falses } => {
            let a = col.as_boolean_opt().ok_or_else(bad)?;
            for v in a.iter().flatten() {
                if v {
                    *trues += 1;
                } else {
                    *falses += 1;
                }
            }
        }
    }
    Ok(())
}

fn model(f: &FieldSpec, g: Gather, rows: u64, k: u32) -> ColumnProfile {
    let k64 = u64::from(k);
    match g {
        Gather::Text {
            counts,
            overflow,
            sample,
        } => {
            let distinct = counts.len() as u64;
            let total: u64 = counts.values().sum();
            // Keys, and text nearly unique per row, are identifiers.
            if f.key || overflow || (total > 0 && distinct * 2 > total) {
                return ColumnProfile::Identifier {
                    kind: id_kind(&sample),
                };
            }
            let mut values: Vec<(String, u64)> =
                counts.into_iter().filter(|(_, n)| *n >= k64).collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let kept: u64 = values.iter().map(|v| v.1).sum();
            if values.is_empty() && total < k64 {
                return ColumnProfile::Empty;
            }
            ColumnProfile::Categories {
                values,
                other: total - kept,
            }
        }
        Gather::Numbers {
            reservoir, integer, ..
        } => {
            if (reservoir.len() as u64) < k64 {
                return ColumnProfile::Empty;
            }
            ColumnProfile::Numbers {
                quantiles: quantiles(reservoir),
                integer,
            }
        }
        Gather::Ints {
            reservoir, dates, ..
        } => {
            if (reservoir.len() as u64) < k64 {
                return ColumnProfile::Empty;
            }
            let q = quantiles(reservoir);
            if dates {
                ColumnProfile::Dates { quantiles: q }
            } else {
                ColumnProfile::Timestamps { quantiles: q }
            }
        }
        Gather::Flags { trues, falses } => {
            if trues + falses < k64 || rows == 0 {
                ColumnProfile::Empty
            } else {
                ColumnProfile::Flags { trues, falses }
            }
        }
    }
}

/// A made-up identifier number `n` of a kind: valid format, drawn from a
/// counter, the same for every resource.
pub fn identifier(kind: IdKind, n: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    match kind {
        IdKind::CreditCode => {
            let mut body = n;
            let mut chars = [b'0'; 9];
            for c in chars.iter_mut().rev() {
                *c = ALPHABET[(body % 31) as usize];
                body /= 31;
            }
            let first = format!("91360200{}", String::from_utf8_lossy(&chars));
            let check = CreditCode::check_char(&first).unwrap_or('0');
            format!("{first}{check}")
        }
        IdKind::ResidentId => {
            // Born 1960-01-01 plus n mod 16000 days, sequence from n.
            let days = crate::ingest::civil::days_from_civil(1960, 1, 1) + (n % 16_000) as i64;
            let (y, m, d) = crate::ingest::civil::civil_from_days(days);
            let first = format!("360200{y:04}{m:02}{d:02}{:03}", (n / 16_000) % 1000);
            let check = ResidentId::check_char(&first).unwrap_or('0');
            format!("{first}{check}")
        }
        IdKind::Mobile => format!("199{:08}", n % 100_000_000),
        IdKind::Other => format!("合成-{n:06}"),
    }
}

fn between<T: Copy + Into<f64>>(q: &[T], rng: &mut Rng) -> f64 {
    match q.len() {
        0 => 0.0,
        1 => q[0].into(),
        n => {
            let i = rng.below(n as u64 - 1) as usize;
            let (a, b): (f64, f64) = (q[i].into(), q[i + 1].into());
            a + (b - a) * rng.unit()
        }
    }
}

fn between_i64(q: &[i64], rng: &mut Rng) -> i64 {
    match q.len() {
        0 => 0,
        1 => q[0],
        n => {
            let i = rng.below(n as u64 - 1) as usize;
            let (a, b) = (q[i], q[i + 1]);
            a + rng.below((b - a) as u64 + 1) as i64
        }
    }
}

/// Draw `rows` synthetic rows of `schema` from `profile`, deterministically
/// for a `seed`. Key columns get distinct identifiers.
pub fn generate(
    schema: &Schema,
    profile: &Profile,
    rows: usize,
    seed: u64,
) -> Result<RecordBatch, SyntheticError> {
    if rows > MAX_SYNTHETIC_ROWS {
        return Err(SyntheticError::Invalid(format!(
            "at most {MAX_SYNTHETIC_ROWS} synthetic rows"
        )));
    }
    let mut rng = Rng(seed ^ 0xA5A5_5A5A_DEAD_BEEF);
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for f in schema.fields() {
        let m = profile
            .columns
            .iter()
            .find(|c| c.name == f.name.as_str())
            .ok_or_else(|| {
                SyntheticError::Invalid(format!("the profile has no column {}", f.name))
            })?;
        let null_p = if f.nullable && profile.rows > 0 {
            m.nulls as f64 / profile.rows as f64
        } else {
            0.0
        };
        let is_null = |rng: &mut Rng, empty: bool| f.nullable && (empty || rng.unit() < null_p);
        let empty = m.profile == ColumnProfile::Empty;
        let array: ArrayRef = match (&f.field_type, &m.profile) {
            (FieldType::String, p) => {
                let mut b = StringBuilder::new();
                let total = match p {
                    ColumnProfile::Categories { values, other } => {
                        values.iter().map(|v| v.1).sum::<u64>() + other
                    }
                    _ => 0,
                };
                for n in 0..rows {
                    if is_null(&mut rng, empty) {
                        b.append_null();
                        continue;
                    }
                    let v = match p {
                        ColumnProfile::Identifier { kind } => identifier(*kind, n as u64),
                        ColumnProfile::Categories { values, .. } => {
                            let mut t = rng.below(total.max(1));
                            let mut out = "其他".to_string();
                            for (v, c) in values {
                                if t < *c {
                                    out = v.clone();
                                    break;
                                }
                                t -= c;
                            }
                            out
                        }
                        _ => identifier(IdKind::Other, n as u64),
                    };
                    b.append_value(v);
                }
                std::sync::Arc::new(b.finish())
            }
            (FieldType::Int64 | FieldType::Fen, p) => {
                let mut b = Int64Builder::new();
                for _ in 0..rows {
                    match p {
                        ColumnProfile::Numbers { quantiles, .. } if !is_null(&mut rng, false) => {
                            b.append_value(between(quantiles, &mut rng).round() as i64)
                        }
                        _ if f.nullable => b.append_null(),
                        _ => b.append_value(0),
                    }
                }
                std::sync::Arc::new(b.finish())
            }
            (FieldType::Float64, p) => {
                let mut b = Float64Builder::new();
                for _ in 0..rows {
                    match p {
                        ColumnProfile::Numbers { quantiles, .. } if !is_null(&mut rng, false) => {
                            b.append_value(between(quantiles, &mut rng))
                        }
                        _ if f.nullable => b.append_null(),
                        _ => b.append_value(0.0),
                    }
                }
                std::sync::Arc::new(b.finish())
            }
            (FieldType::Date, p) => {
                let mut b = Date32Builder::new();
                for _ in 0..rows {
                    match p {
                        ColumnProfile::Dates { quantiles } if !is_null(&mut rng, false) => {
                            b.append_value(between_i64(quantiles, &mut rng) as i32)
                        }
                        _ if f.nullable => b.append_null(),
                        _ => b.append_value(0),
                    }
                }
                std::sync::Arc::new(b.finish())
            }
            (FieldType::Timestamp, p) => {
                let mut b = TimestampMillisecondBuilder::new().with_timezone(TIMESTAMP_TZ);
                for _ in 0..rows {
                    match p {
                        ColumnProfile::Timestamps { quantiles } if !is_null(&mut rng, false) => {
                            b.append_value(between_i64(quantiles, &mut rng))
                        }
                        _ if f.nullable => b.append_null(),
                        _ => b.append_value(0),
                    }
                }
                std::sync::Arc::new(b.finish())
            }
            (FieldType::Bool, p) => {
                let mut b = BooleanBuilder::new();
                for _ in 0..rows {
                    match p {
                        ColumnProfile::Flags { trues, falses } if !is_null(&mut rng, false) => {
                            b.append_value(rng.below(trues + falses) < *trues)
                        }
                        _ if f.nullable => b.append_null(),
                        _ => b.append_value(false),
                    }
                }
                std::sync::Arc::new(b.finish())
            }
        };
        arrays.push(array);
    }
    RecordBatch::try_new(arrow_schema(schema), arrays)
        .map_err(|e| SyntheticError::Invalid(e.to_string()))
}

/// Generate and store synthetic rows as Parquet at `dest`.
pub async fn write(
    store: Arc<dyn ObjectStore>,
    dest: &Path,
    schema: &Schema,
    profile: &Profile,
    rows: usize,
    seed: u64,
) -> Result<u64, SyntheticError> {
    let batch = generate(schema, profile, rows, seed)?;
    let mut buf = Vec::new();
    {
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None)
            .map_err(|e| SyntheticError::Write(e.to_string()))?;
        w.write(&batch)
            .map_err(|e| SyntheticError::Write(e.to_string()))?;
        w.close()
            .map_err(|e| SyntheticError::Write(e.to_string()))?;
    }
    let size = buf.len() as u64;
    store
        .put(dest, bytes::Bytes::from(buf).into())
        .await
        .map_err(|e| SyntheticError::Write(e.to_string()))?;
    Ok(size)
}
