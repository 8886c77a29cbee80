//! Row validation against a [`Schema`] and column building: every input
//! format turns its rows into [`Cell`]s and hands them to a [`Validator`],
//! which checks types, nullability and key uniqueness and builds Arrow
//! record batches in the output schema.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, SchemaRef, TimeUnit};
use shuyun_domain::catalogue::{FieldType, Schema};

use super::RowError;
use super::columns::{BlockCtx, ParsedBlock};
use super::csv::MAX_RECORD_BYTES;
use super::keys::{KeyHasher, KeyLog, hash_cell};
use super::value::{Cell, convert};

/// Rows per output record batch.
pub(crate) const BATCH_ROWS: usize = 8192;
/// Row errors kept in a rejection report.
pub(crate) const KEPT_ERRORS: usize = 1000;
/// Reading stops after this many row errors.
pub(crate) const MAX_ERRORS: u64 = 100_000;
/// The time zone of stored timestamps.
pub const TIMESTAMP_TZ: &str = "+08:00";

/// The Arrow type a field is stored as.
pub fn arrow_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::String => DataType::Utf8,
        FieldType::Int64 | FieldType::Fen => DataType::Int64,
        FieldType::Float64 => DataType::Float64,
        FieldType::Bool => DataType::Boolean,
        FieldType::Date => DataType::Date32,
        FieldType::Timestamp => {
            DataType::Timestamp(TimeUnit::Millisecond, Some(TIMESTAMP_TZ.into()))
        }
    }
}

/// The Arrow schema of the stored Parquet file: one column per field in
/// schema order, with the field's label, grade, personal-information tag
/// (and unit, if any) as metadata (`shuyun.label`, `shuyun.grade`,
/// `shuyun.pi`, `shuyun.unit`).
pub fn arrow_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut meta = HashMap::from([
                ("shuyun.label".to_string(), f.label.clone()),
                ("shuyun.grade".to_string(), f.grade.as_str().to_string()),
                ("shuyun.pi".to_string(), f.pi.as_str().to_string()),
            ]);
            if let Some(unit) = &f.unit {
                meta.insert("shuyun.unit".to_string(), unit.clone());
            }
            Field::new(f.name.as_str(), arrow_type(f.field_type), f.nullable).with_metadata(meta)
        })
        .collect();
    Arc::new(arrow_schema::Schema::new(fields))
}

enum Col {
    Str(StringBuilder),
    I64(Int64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Ts(TimestampMillisecondBuilder),
}

impl Col {
    fn new(ty: FieldType) -> Self {
        let n = BATCH_ROWS;
        match ty {
            FieldType::String => Col::Str(StringBuilder::with_capacity(n, n * 16)),
            FieldType::Int64 | FieldType::Fen => Col::I64(Int64Builder::with_capacity(n)),
            FieldType::Float64 => Col::F64(Float64Builder::with_capacity(n)),
            FieldType::Bool => Col::Bool(BooleanBuilder::with_capacity(n)),
            FieldType::Date => Col::Date(Date32Builder::with_capacity(n)),
            FieldType::Timestamp => {
                Col::Ts(TimestampMillisecondBuilder::with_capacity(n).with_timezone(TIMESTAMP_TZ))
            }
        }
    }

    fn append(&mut self, c: Cell<'_>) {
        match (self, c) {
            (Col::Str(b), Cell::Str(s)) => b.append_value(s),
            (Col::I64(b), Cell::I64(v)) => b.append_value(v),
            (Col::F64(b), Cell::F64(v)) => b.append_value(v),
            (Col::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Col::Date(b), Cell::Date(v)) => b.append_value(v),
            (Col::Ts(b), Cell::TsMs(v)) => b.append_value(v),
            (Col::Str(b), _) => b.append_null(),
            (Col::I64(b), _) => b.append_null(),
            (Col::F64(b), _) => b.append_null(),
            (Col::Bool(b), _) => b.append_null(),
            (Col::Date(b), _) => b.append_null(),
            (Col::Ts(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Str(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Bool(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Ts(b) => Arc::new(b.finish()),
        }
    }
}

/// Validates rows and builds batches. Once any error is found it stops
/// building (the file will be rejected) and only keeps validating.
///
/// Rows come one at a time ([`Self::push_row`]: JSON lines, Parquet) or as
/// CSV blocks validated by workers ([`Self::absorb`]), in input order
/// either way. Key uniqueness is settled by [`Self::conclude`] once every
/// row has been seen; its duplicates then take their place among the other
/// errors in row order, with the error limit applied as if they had been
/// found while reading.
///
/// Memory: the builders hold at most one batch; key hashes are kept in a
/// bounded buffer spilled to disk (see [`KeyLog`]); at most
/// [`MAX_ERRORS`] errors are kept.
pub(crate) struct Validator {
    names: Vec<String>,
    types: Vec<FieldType>,
    nullable: Vec<bool>,
    is_key: Vec<bool>,
    key_label: String,
    schema: SchemaRef,
    cols: Vec<Col>,
    in_batch: usize,
    keys: KeyLog,
    key_seed: (u64, u64),
    /// Recording a key hash failed (spilling to disk).
    key_error: Option<String>,
    pub(crate) null_counts: Vec<u64>,
    pub(crate) rows: u64,
    pub(crate) errors: Vec<RowError>,
    pub(crate) total_errors: u64,
}

impl Validator {
    pub(crate) fn new(schema: &Schema) -> Self {
        let f = schema.fields();
        let key_names: Vec<&str> = schema.key_fields().map(|k| k.name.as_str()).collect();
        Self {
            names: f.iter().map(|x| x.name.as_str().to_string()).collect(),
            types: f.iter().map(|x| x.field_type).collect(),
            nullable: f.iter().map(|x| x.nullable).collect(),
            is_key: f.iter().map(|x| x.key).collect(),
            key_label: key_names.join(","),
            schema: arrow_schema(schema),
            cols: f.iter().map(|x| Col::new(x.field_type)).collect(),
            in_batch: 0,
            keys: KeyLog::new(),
            key_error: None,
            key_seed: (
                RandomState::new().hash_one(1u8),
                RandomState::new().hash_one(2u8),
            ),
            null_counts: vec![0; f.len()],
            rows: 0,
            errors: Vec::new(),
            total_errors: 0,
        }
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    pub(crate) fn types(&self) -> &[FieldType] {
        &self.types
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// What CSV block workers need to know.
    pub(crate) fn block_ctx(&self, ncols: usize, field_to_col: Vec<usize>, gb: bool) -> BlockCtx {
        BlockCtx {
            ncols,
            field_to_col,
            gb,
            types: self.types.clone(),
            nullable: self.nullable.clone(),
            is_key: self.is_key.clone(),
            key_seed: self.key_seed,
            schema: self.schema.clone(),
            failed: Arc::new(AtomicBool::new(self.failed())),
        }
    }

    pub(crate) fn failed(&self) -> bool {
        self.total_errors > 0
    }

    /// Whether reading should stop (too many errors, or the key check
    /// failed).
    pub(crate) fn exhausted(&self) -> bool {
        self.total_errors >= MAX_ERRORS || self.key_error.is_some()
    }

    pub(crate) fn error(&mut self, row: u64, field: Option<&str>, reason: impl Into<String>) {
        self.total_errors += 1;
        if self.errors.len() < MAX_ERRORS as usize {
            self.errors.push(RowError {
                row,
                field: field.map(str::to_string),
                reason: reason.into(),
            });
        }
    }

    /// Validates one row whose cell for schema field `i` is `cell(i)`, and
    /// returns a full batch when one is ready. Call [`Self::count_row`]
    /// instead for a row rejected as a whole (e.g. ragged).
    pub(crate) fn push_row<'a>(
        &mut self,
        row: u64,
        mut cell: impl FnMut(usize) -> Cell<'a>,
    ) -> Option<RecordBatch> {
        self.rows += 1;
        let mut ok = true;
        let mut kh = KeyHasher::new(self.key_seed);
        for i in 0..self.types.len() {
            match convert(self.types[i], cell(i)) {
                Ok(Cell::Null) if !self.nullable[i] => {
                    ok = false;
                    let name = self.names[i].clone();
                    self.error(row, Some(&name), "empty value in a required field");
                }
                Ok(v) => {
                    if matches!(v, Cell::Null) {
                        self.null_counts[i] += 1;
                    }
                    if self.is_key[i] {
                        hash_cell(&v, &mut kh);
                    }
                    if !self.failed() {
                        self.cols[i].append(v);
                    }
                }
                Err(reason) => {
                    ok = false;
                    let name = self.names[i].clone();
                    self.error(row, Some(&name), reason);
                }
            }
        }
        if ok && !self.key_label.is_empty() {
            self.key(kh.finish(), row);
        }
        if self.failed() {
            return None;
        }
        self.in_batch += 1;
        (self.in_batch >= BATCH_ROWS)
            .then(|| self.take_batch())
            .flatten()
    }

    /// Counts a row that was rejected before its cells were looked at.
    pub(crate) fn count_row(&mut self) {
        self.rows += 1;
    }

    fn key(&mut self, hash: u128, row: u64) {
        if self.key_error.is_none()
            && let Err(e) = self.keys.push(hash, row)
        {
            self.key_error = Some(format!("checking key uniqueness failed: {e}"));
        }
    }

    /// Takes in a CSV block whose rows follow the rows seen so far; returns
    /// its batch unless the upload has failed. Stops counting rows once
    /// errors reach the limit, as reading one row at a time would.
    pub(crate) fn absorb(&mut self, b: ParsedBlock) -> Option<RecordBatch> {
        if let Some(e) = b.internal {
            self.error(0, None, e);
        }
        let keyed = !self.key_label.is_empty();
        let mut errors = b.errors.into_iter().peekable();
        for r in 0..b.rows {
            if self.exhausted() {
                return None;
            }
            self.rows += 1;
            let row = self.rows;
            let mut ok = true;
            while let Some(e) = errors.next_if(|e| e.row == r) {
                ok = false;
                let name = e.field.map(|f| self.names[f].clone());
                self.error(row, name.as_deref(), e.reason);
            }
            if ok && keyed {
                self.key(b.keys[r], row);
            }
        }
        for (n, add) in self.null_counts.iter_mut().zip(&b.nulls) {
            *n += add;
        }
        if b.unterminated && !self.exhausted() {
            self.error(
                self.rows + 1,
                None,
                "the file ends inside a quoted value (unterminated quote; truncated file?)",
            );
        }
        if b.too_long && !self.exhausted() {
            self.error(
                self.rows + 1,
                None,
                format!(
                    "the row exceeds {} MiB (unterminated quote?)",
                    MAX_RECORD_BYTES >> 20
                ),
            );
        }
        if self.failed() { None } else { b.batch }
    }

    /// Settles key uniqueness once every row has been read and completes
    /// the report (keeping its first [`KEPT_ERRORS`] errors). Duplicates
    /// take their place among the other errors in row order, and the error
    /// limit applies to the merged list as if they had been found while
    /// reading (which also fixes the rows read).
    pub(crate) fn conclude(&mut self) -> Result<(), String> {
        if let Some(e) = self.key_error.take() {
            return Err(e);
        }
        let keys = std::mem::replace(&mut self.keys, KeyLog::new());
        let dups = keys
            .duplicates(MAX_ERRORS as usize)
            .map_err(|e| format!("checking key uniqueness failed: {e}"))?;
        if !dups.is_empty() {
            self.merge_duplicates(&dups);
        }
        self.errors.truncate(KEPT_ERRORS);
        Ok(())
    }

    fn merge_duplicates(&mut self, dups: &[(u64, u64)]) {
        let label = self.key_label.clone();
        let old = std::mem::take(&mut self.errors);
        // Errors counted but not kept belong to the row where reading
        // stopped, the last one kept.
        let unkept = self.total_errors - old.len() as u64;
        let (mut i, mut j) = (0, 0);
        let mut total = 0u64;
        let mut last_row = 0;
        let mut merged = Vec::new();
        loop {
            let row = match (old.get(i).map(|e| e.row), dups.get(j).map(|d| d.0)) {
                (None, None) => break,
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
            };
            if total >= MAX_ERRORS {
                // Reading would have stopped after `last_row`.
                self.rows = self.rows.min(last_row);
                break;
            }
            while i < old.len() && old[i].row == row {
                merged.push(old[i].clone());
                total += 1;
                i += 1;
                if i == old.len() {
                    total += unkept;
                }
            }
            while j < dups.len() && dups[j].0 == row {
                merged.push(RowError {
                    row,
                    field: Some(label.clone()),
                    reason: format!(
                        "duplicate key ({label}): the same value as row {}",
                        dups[j].1
                    ),
                });
                total += 1;
                j += 1;
            }
            last_row = row;
        }
        if total >= MAX_ERRORS {
            // The limit was reached at the last row kept (duplicates beyond
            // the limit are not even kept).
            self.rows = self.rows.min(last_row);
        }
        self.total_errors = total;
        self.errors = merged;
    }

    /// The rows built so far as a batch (none if there are none or the file
    /// already failed).
    pub(crate) fn take_batch(&mut self) -> Option<RecordBatch> {
        if self.in_batch == 0 || self.failed() {
            return None;
        }
        self.in_batch = 0;
        let cols: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        match RecordBatch::try_new(self.schema.clone(), cols) {
            Ok(b) => Some(b),
            Err(e) => {
                self.error(0, None, format!("internal error building a batch: {e}"));
                None
            }
        }
    }
}
