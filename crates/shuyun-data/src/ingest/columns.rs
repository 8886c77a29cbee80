//! A CSV block, validated and converted column by column: a worker turns
//! one [`Block`] into Arrow arrays, its errors (by row within the block) and
//! its rows' key hashes, without looking at any other block. Row numbers,
//! key uniqueness and the error limits are applied afterwards, in input
//! order, by the [`Validator`](super::validate::Validator).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::builder::{BooleanBuilder, PrimitiveBuilder, StringBuilder};
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Float64Type, Int64Type, TimestampMillisecondType,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use shuyun_domain::catalogue::FieldType;

use super::csv::{Block, End, Fields, parse_records};
use super::keys::{KeyHasher, hash_cell};
use super::validate::TIMESTAMP_TZ;
use super::value::{Cell, DateCache, fast_date, fast_timestamp_ms, parse_text};

/// What a worker needs to know about the upload.
pub(crate) struct BlockCtx {
    /// Cells per record (the header's).
    pub(crate) ncols: usize,
    /// For each schema field, the input column holding it.
    pub(crate) field_to_col: Vec<usize>,
    /// The text was decoded from GB18030 (U+FFFD marks undecodable bytes).
    pub(crate) gb: bool,
    pub(crate) types: Vec<FieldType>,
    pub(crate) nullable: Vec<bool>,
    pub(crate) is_key: Vec<bool>,
    pub(crate) key_seed: (u64, u64),
    pub(crate) schema: SchemaRef,
    /// Set once the upload is known to fail: blocks are then only validated.
    pub(crate) failed: Arc<AtomicBool>,
}

/// An error in a block: `row` counts the block's records from 0; `field`
/// is a schema field index.
#[derive(Debug)]
pub(crate) struct BlockError {
    pub(crate) row: usize,
    pub(crate) field: Option<usize>,
    pub(crate) reason: String,
}

/// A validated block.
pub(crate) struct ParsedBlock {
    /// Data records in the block.
    pub(crate) rows: usize,
    /// In row order; within a row, in schema order.
    pub(crate) errors: Vec<BlockError>,
    /// Per row, the hash of its key values (empty without key fields).
    pub(crate) keys: Vec<u128>,
    /// Empty values per schema field.
    pub(crate) nulls: Vec<u64>,
    /// The rows as a batch, when the block has no errors and the upload has
    /// not failed.
    pub(crate) batch: Option<RecordBatch>,
    /// After the block's records, the input ends inside a quoted value.
    pub(crate) unterminated: bool,
    /// After the block's records comes one too large to read.
    pub(crate) too_long: bool,
    /// Building the batch failed (a bug, reported as a file error).
    pub(crate) internal: Option<String>,
}

/// The UTF-8 text of a block's values.
enum Text<'a> {
    /// The whole block (and its unescaped values) is valid UTF-8.
    Valid {
        data: &'a str,
        unescaped: &'a str,
        base: u32,
    },
    /// Some rows are not: those are rejected, the others checked one by one.
    Raw {
        data: &'a [u8],
        unescaped: &'a [u8],
        base: u32,
    },
}

impl<'a> Text<'a> {
    /// A value as text; `None` only for bytes that are not UTF-8 (whose
    /// rows are already rejected).
    fn get(&self, (s, e): (u32, u32)) -> Option<&'a str> {
        match *self {
            Text::Valid {
                data,
                unescaped,
                base,
            } => {
                if s < base {
                    data.get(s as usize..e as usize)
                } else {
                    unescaped.get((s - base) as usize..(e - base) as usize)
                }
            }
            Text::Raw {
                data,
                unescaped,
                base,
            } => {
                let b = if s < base {
                    data.get(s as usize..e as usize)
                } else {
                    unescaped.get((s - base) as usize..(e - base) as usize)
                };
                b.and_then(|b| std::str::from_utf8(b).ok())
            }
        }
    }
}

const NOT_UTF8: &str = "invalid UTF-8 (declare the encoding, e.g. GB18030)";
const NOT_GB18030: &str = "bytes that are not valid GB18030";
const REQUIRED: &str = "empty value in a required field";

/// Parses and validates a block; `fields` is scratch space.
pub(crate) fn parse_block(block: &Block, ctx: &BlockCtx, fields: &mut Fields) -> ParsedBlock {
    let data = &block.data[..];
    let (end, _) = parse_records(data, block.last, usize::MAX, fields);
    let n = fields.records();
    let nf = ctx.types.len();
    let mut errors = Vec::new();
    // Rows rejected as a whole (their cells are not looked at).
    let mut bad = Rejected::default();
    for r in 0..n {
        let k = fields.fields(r).len();
        if k != ctx.ncols {
            let reason = format!("expected {} cells, found {k}", ctx.ncols);
            bad.reject(&mut errors, n, r, None, reason);
        } else if fields.stray.binary_search(&(r as u32)).is_ok() {
            let reason =
                "a quote inside an unquoted value (quote the value and double inner quotes)";
            bad.reject(&mut errors, n, r, None, reason.to_string());
        }
    }
    let text = match (
        simdutf8::basic::from_utf8(data),
        simdutf8::basic::from_utf8(&fields.unescaped),
    ) {
        (Ok(data), Ok(unescaped)) => Text::Valid {
            data,
            unescaped,
            base: fields.base,
        },
        _ => {
            for r in 0..n {
                if bad.is(r) {
                    continue;
                }
                let col = fields.fields(r).position(|i| {
                    std::str::from_utf8(fields.value(data, fields.bounds[i])).is_err()
                });
                if let Some(c) = col {
                    let field = ctx.field_to_col.iter().position(|&fc| fc == c);
                    bad.reject(&mut errors, n, r, field, NOT_UTF8.to_string());
                }
            }
            Text::Raw {
                data,
                unescaped: &fields.unescaped,
                base: fields.base,
            }
        }
    };
    if ctx.gb {
        let fffd = "\u{fffd}".as_bytes();
        if memchr::memmem::find(data, fffd).is_some()
            || memchr::memmem::find(&fields.unescaped, fffd).is_some()
        {
            for r in 0..n {
                if !bad.is(r)
                    && fields.fields(r).any(|i| {
                        memchr::memmem::find(fields.value(data, fields.bounds[i]), fffd).is_some()
                    })
                {
                    bad.reject(&mut errors, n, r, None, NOT_GB18030.to_string());
                }
            }
        }
    }
    // Rows rejected as a whole are found in two passes: restore row order.
    errors.sort_by_key(|e| e.row);

    let build = !ctx.failed.load(Ordering::Relaxed) && errors.is_empty();
    let keyed = ctx.is_key.iter().any(|&k| k);
    let mut hashers = if keyed {
        vec![KeyHasher::new(ctx.key_seed); n]
    } else {
        Vec::new()
    };
    let mut nulls = vec![0u64; nf];
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(if build { nf } else { 0 });
    let mut cell_errors = Vec::new();
    let first: Vec<usize> = (0..n).map(|r| fields.fields(r).start).collect();
    for (f, &c) in ctx.field_to_col.iter().enumerate() {
        let mut col = Column {
            f,
            rows: n,
            nullable: ctx.nullable[f],
            key: keyed && ctx.is_key[f],
            errors: &mut cell_errors,
            hashers: &mut hashers,
            nulls: &mut nulls[f],
        };
        let cells = (0..n).map(|r| {
            if bad.is(r) {
                return In::Skip;
            }
            text.get(fields.bounds[first[r] + c])
                .map_or(In::Broken, In::Text)
        });
        let ty = ctx.types[f];
        let mut dates = DateCache::default();
        let array: Option<ArrayRef> = match ty {
            FieldType::String => col.strings(cells, build),
            FieldType::Int64 | FieldType::Fen => col.primitive::<Int64Type>(
                cells,
                build,
                |s| match fast_i64(s) {
                    Some(v) => Ok(Some(v)),
                    None => match parse_text(ty, s)? {
                        Cell::I64(v) => Ok(Some(v)),
                        other => none_or_internal(other),
                    },
                },
                Cell::I64,
            ),
            FieldType::Float64 => col.primitive::<Float64Type>(
                cells,
                build,
                |s| match parse_text(ty, s)? {
                    Cell::F64(v) => Ok(Some(v)),
                    other => none_or_internal(other),
                },
                Cell::F64,
            ),
            FieldType::Date => col.primitive::<Date32Type>(
                cells,
                build,
                |s| match fast_date(s, &mut dates) {
                    Some(v) => Ok(Some(v)),
                    None => match parse_text(ty, s)? {
                        Cell::Date(v) => Ok(Some(v)),
                        other => none_or_internal(other),
                    },
                },
                Cell::Date,
            ),
            FieldType::Timestamp => col.primitive::<TimestampMillisecondType>(
                cells,
                build,
                |s| match fast_timestamp_ms(s, &mut dates) {
                    Some(v) => Ok(Some(v)),
                    None => match parse_text(ty, s)? {
                        Cell::TsMs(v) => Ok(Some(v)),
                        other => none_or_internal(other),
                    },
                },
                Cell::TsMs,
            ),
            FieldType::Bool => col.bools(cells, build),
        };
        if let Some(a) = array {
            let a = if ty == FieldType::Timestamp {
                retimezone(a)
            } else {
                a
            };
            arrays.push(a);
        }
    }
    if !cell_errors.is_empty() {
        // Cell errors were found column by column: restore row order, the
        // schema order within a row being kept by the stable sort.
        errors.append(&mut cell_errors);
        errors.sort_by_key(|e| e.row);
    }
    if !errors.is_empty() {
        ctx.failed.store(true, Ordering::Relaxed);
    }
    let mut internal = None;
    let batch = if build && errors.is_empty() {
        match RecordBatch::try_new(ctx.schema.clone(), arrays) {
            Ok(b) => Some(b),
            Err(e) => {
                internal = Some(format!("internal error building a batch: {e}"));
                None
            }
        }
    } else {
        None
    };
    ParsedBlock {
        rows: n,
        errors,
        keys: hashers.iter().map(KeyHasher::finish).collect(),
        nulls,
        batch,
        unterminated: end != End::Complete,
        too_long: block.too_long,
        internal,
    }
}

/// A decimal integer of at most 18 digits with an optional minus sign, the
/// common case parsed without the general parser (which handles the rest,
/// and every error).
fn fast_i64(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (neg, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some(if neg { -v } else { v })
}

/// A parser's `Null` (an empty value); any other cell cannot come back for
/// the type asked.
fn none_or_internal<T>(c: Cell<'_>) -> Result<Option<T>, String> {
    match c {
        Cell::Null => Ok(None),
        other => Err(format!("internal error: unexpected value {other:?}")),
    }
}

/// Timestamps are stored with the Beijing offset as their time zone.
fn retimezone(a: ArrayRef) -> ArrayRef {
    use arrow_array::cast::AsArray;
    match a.as_primitive_opt::<TimestampMillisecondType>() {
        Some(ts) if ts.timezone().is_none() => Arc::new(ts.clone().with_timezone(TIMESTAMP_TZ)),
        _ => a,
    }
}

/// Rows rejected as a whole.
#[derive(Default)]
struct Rejected(Vec<bool>);

impl Rejected {
    fn reject(
        &mut self,
        errors: &mut Vec<BlockError>,
        rows: usize,
        row: usize,
        field: Option<usize>,
        reason: String,
    ) {
        if self.0.is_empty() {
            self.0 = vec![false; rows];
        }
        self.0[row] = true;
        errors.push(BlockError { row, field, reason });
    }

    fn is(&self, row: usize) -> bool {
        !self.0.is_empty() && self.0[row]
    }
}

/// A cell handed to a column converter.
#[derive(Clone, Copy)]
enum In<'a> {
    /// The row is rejected as a whole.
    Skip,
    Text(&'a str),
    /// Not text although its row passed the UTF-8 check (a bug).
    Broken,
}

/// One schema field being converted.
struct Column<'a> {
    f: usize,
    rows: usize,
    nullable: bool,
    key: bool,
    errors: &'a mut Vec<BlockError>,
    hashers: &'a mut [KeyHasher],
    nulls: &'a mut u64,
}

impl Column<'_> {
    fn error(&mut self, row: usize, reason: String) {
        self.errors.push(BlockError {
            row,
            field: Some(self.f),
            reason,
        });
    }

    /// The text of a cell; `None` for a row rejected as a whole (or a bug,
    /// reported as an error).
    fn text<'t>(&mut self, row: usize, c: In<'t>) -> Option<&'t str> {
        match c {
            In::Text(s) => Some(s),
            In::Skip => None,
            In::Broken => {
                self.error(row, "internal error: a value is not valid text".into());
                None
            }
        }
    }

    /// An empty value: null if the field allows it.
    fn null(&mut self, row: usize) -> bool {
        if !self.nullable {
            self.error(row, REQUIRED.to_string());
            return false;
        }
        *self.nulls += 1;
        if self.key {
            hash_cell(&Cell::Null, &mut self.hashers[row]);
        }
        true
    }

    fn strings<'t>(
        &mut self,
        cells: impl Iterator<Item = In<'t>>,
        build: bool,
    ) -> Option<ArrayRef> {
        let mut b = build.then(|| StringBuilder::with_capacity(self.rows, self.rows * 16));
        for (row, cell) in cells.enumerate() {
            match self.text(row, cell) {
                Some("") => {
                    self.null(row);
                    if let Some(b) = &mut b {
                        b.append_null();
                    }
                }
                Some(s) => {
                    if self.key {
                        hash_cell(&Cell::Str(s), &mut self.hashers[row]);
                    }
                    if let Some(b) = &mut b {
                        b.append_value(s);
                    }
                }
                None => {
                    if let Some(b) = &mut b {
                        b.append_null();
                    }
                }
            }
        }
        b.map(|mut b| Arc::new(b.finish()) as ArrayRef)
    }

    fn primitive<'t, T: ArrowPrimitiveType>(
        &mut self,
        cells: impl Iterator<Item = In<'t>>,
        build: bool,
        mut parse: impl FnMut(&str) -> Result<Option<T::Native>, String>,
        cell: impl Fn(T::Native) -> Cell<'static>,
    ) -> Option<ArrayRef> {
        let mut b = build.then(|| PrimitiveBuilder::<T>::with_capacity(self.rows));
        for (row, c) in cells.enumerate() {
            let v = match self.text(row, c) {
                None => None,
                Some(s) => match parse(s) {
                    Ok(Some(v)) => Some(v),
                    Ok(None) => {
                        self.null(row);
                        None
                    }
                    Err(reason) => {
                        self.error(row, reason);
                        None
                    }
                },
            };
            if self.key
                && let Some(v) = v
            {
                hash_cell(&cell(v), &mut self.hashers[row]);
            }
            if let Some(b) = &mut b {
                b.append_option(v);
            }
        }
        b.map(|mut b| Arc::new(b.finish()) as ArrayRef)
    }

    fn bools<'t>(&mut self, cells: impl Iterator<Item = In<'t>>, build: bool) -> Option<ArrayRef> {
        let mut b = build.then(|| BooleanBuilder::with_capacity(self.rows));
        for (row, c) in cells.enumerate() {
            let v = match self.text(row, c) {
                None => None,
                Some(s) => match parse_text(FieldType::Bool, s) {
                    Ok(Cell::Bool(v)) => Some(v),
                    Ok(Cell::Null) => {
                        self.null(row);
                        None
                    }
                    Ok(other) => {
                        self.error(row, format!("internal error: unexpected value {other:?}"));
                        None
                    }
                    Err(reason) => {
                        self.error(row, reason);
                        None
                    }
                },
            };
            if self.key
                && let Some(v) = v
            {
                hash_cell(&Cell::Bool(v), &mut self.hashers[row]);
            }
            if let Some(b) = &mut b {
                b.append_option(v);
            }
        }
        b.map(|mut b| Arc::new(b.finish()) as ArrayRef)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_integers_agree_with_the_general_parser() {
        for s in [
            "0",
            "-0",
            "42",
            "-42",
            "999999999999999999",
            "-999999999999999999",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "+5",
            " 5",
            "5 ",
            "",
            "-",
            "1.0",
            "1e3",
            "１２",
        ] {
            if let Some(v) = fast_i64(s) {
                assert_eq!(parse_text(FieldType::Int64, s), Ok(Cell::I64(v)), "{s:?}");
            }
        }
        assert_eq!(fast_i64("-123"), Some(-123));
        assert_eq!(fast_i64("9223372036854775807"), None);
    }
}
