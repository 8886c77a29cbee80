//! The parsing side of an ingest, run on a blocking thread: turns the input
//! (CSV, JSON lines or a spooled Parquet file) into validated record batches
//! handed to the Parquet writer.
//!
//! CSV is cut into blocks at record boundaries and the blocks are parsed
//! and validated by worker threads; their results are taken in input order,
//! so row numbers, key uniqueness and the error limits come out exactly as
//! when reading one row at a time. JSON lines and Parquet are read row by
//! row.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::{Buf, Bytes};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use shuyun_domain::catalogue::FieldType;
use tokio::sync::mpsc;

use super::columns::{BlockCtx, ParsedBlock, parse_block};
use super::csv::{Block, End, Fields, MAX_RECORD_BYTES, Splitter, parse_records};
use super::validate::{BATCH_ROWS, Validator};
use super::value::{BEIJING_OFFSET_MS, Cell};
use super::write::ParquetSink;
use super::{InputFormat, TextEncoding};

/// How parsing ended.
pub(crate) enum ParseEnd {
    /// Every row was valid and sent.
    Done,
    /// The input had errors (the validator holds them).
    Rejected,
    /// The input could not be read.
    Io(String),
    /// The writer went away (it failed and reports why).
    WriterGone,
}

/// A blocking reader over chunks sent by the async side.
pub(crate) struct ChunkReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl ChunkReader {
    pub(crate) fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        Self {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(&self.cur)
    }

    fn consume(&mut self, n: usize) {
        self.cur.advance(n);
    }
}

/// Hands a batch to the writer; false if the writer is gone.
fn send(sink: &mut ParquetSink, batch: Option<RecordBatch>) -> bool {
    match batch {
        Some(b) => sink.push(b),
        None => true,
    }
}

/// Parses text input (CSV or JSON lines).
pub(crate) fn parse_text(
    format: InputFormat,
    input: ChunkReader,
    v: &mut Validator,
    sink: &mut ParquetSink,
) -> ParseEnd {
    let r = match format {
        InputFormat::JsonLines => parse_jsonl(BufReader::with_capacity(1 << 16, input), v, sink),
        InputFormat::Csv(enc) => match decode(enc, input) {
            Ok((r, gb)) => parse_csv(r, gb, v, sink),
            Err(e) => Err(e),
        },
        InputFormat::Parquet => Ok(ParseEnd::Io("internal: Parquet is not text".into())),
    };
    match r {
        Ok(end) => end,
        Err(e) => ParseEnd::Io(format!("reading the input failed: {e}")),
    }
}

/// How much input [`TextEncoding::Auto`] looks at.
const SNIFF_BYTES: usize = 64 << 10;

/// Wraps the input in a decoder: a UTF-8 byte stream, and whether it was
/// decoded from GB18030 (then U+FFFD marks undecodable bytes).
fn decode(
    enc: TextEncoding,
    mut input: ChunkReader,
) -> io::Result<(Box<dyn BufRead + Send>, bool)> {
    let mut prefix = Vec::new();
    (&mut input)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)?;
    let gb = match enc {
        TextEncoding::Utf8 => false,
        TextEncoding::Gb18030 => !prefix.starts_with(b"\xEF\xBB\xBF"),
        TextEncoding::Auto => {
            !prefix.starts_with(b"\xEF\xBB\xBF")
                && match std::str::from_utf8(&prefix) {
                    Ok(_) => false,
                    // Only a character cut off by the sniff window is fine.
                    Err(e) => e.error_len().is_some(),
                }
        }
    };
    let joined = Read::chain(io::Cursor::new(prefix), input);
    if gb {
        let d = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding_rs::GB18030))
            .build(joined);
        Ok((Box::new(BufReader::with_capacity(1 << 18, d)), true))
    } else {
        // Both halves buffer already: no extra copy.
        Ok((Box::new(joined), false))
    }
}

/// CSV blocks parsed ahead of the one being taken in.
const BLOCKS_IN_FLIGHT_PER_WORKER: usize = 2;

fn parse_csv(
    r: Box<dyn BufRead + Send>,
    gb: bool,
    v: &mut Validator,
    sink: &mut ParquetSink,
) -> io::Result<ParseEnd> {
    let mut splitter = Splitter::new(r);
    let Some(first) = splitter.next_block()? else {
        return Ok(ParseEnd::Io("internal: no input block".into()));
    };
    // Header.
    let mut fields = Fields::default();
    let (end, header_end) = parse_records(&first.data, first.last, 1, &mut fields);
    if fields.records() == 0 {
        if end == End::Complete && !first.too_long {
            v.error(0, None, "the file is empty: expected a header row");
        } else {
            v.error(0, None, "the header row is malformed (unterminated quote)");
        }
        return Ok(ParseEnd::Rejected);
    }
    let header: Option<Vec<&str>> = fields
        .fields(0)
        .map(|i| std::str::from_utf8(fields.value(&first.data, fields.bounds[i])).ok())
        .collect();
    let Some(header) = header else {
        v.error(
            0,
            None,
            "the header row is not valid UTF-8 (declare the encoding, e.g. GB18030)",
        );
        return Ok(ParseEnd::Rejected);
    };
    let names: Vec<&str> = header
        .iter()
        .map(|h| h.strip_prefix('\u{feff}').unwrap_or(h).trim())
        .collect();
    let Some(field_to_col) = map_columns(&names, v) else {
        return Ok(ParseEnd::Rejected);
    };
    let ctx = Arc::new(v.block_ctx(names.len(), field_to_col, gb));
    let mut next = Some(Block {
        data: first.data.slice(header_end..),
        last: first.last,
        too_long: first.too_long,
    });
    let pool = Pool::start(super::threads(), &ctx)?;
    let in_flight = pool.workers() * BLOCKS_IN_FLIGHT_PER_WORKER;
    let (mut sent, mut taken) = (0usize, 0usize);
    loop {
        while sent - taken < in_flight {
            let block = match next.take() {
                Some(b) => b,
                None => match splitter.next_block()? {
                    Some(b) => b,
                    None => break,
                },
            };
            if !pool.submit(sent, block) {
                return Ok(ParseEnd::Io("the ingest worker failed".into()));
            }
            sent += 1;
        }
        if sent == taken {
            break;
        }
        let Some(parsed) = pool.take(taken) else {
            return Ok(ParseEnd::Io("the ingest worker failed".into()));
        };
        taken += 1;
        let stop = parsed.unterminated || parsed.too_long;
        let batch = v.absorb(parsed);
        if !send(sink, batch) {
            return Ok(ParseEnd::WriterGone);
        }
        if v.exhausted() {
            return Ok(ParseEnd::Rejected);
        }
        if stop {
            break;
        }
    }
    Ok(finish(v, sink))
}

/// Block parsers on their own threads, taking blocks in turn.
struct Pool {
    jobs: Vec<std_mpsc::Sender<Block>>,
    results: Vec<std_mpsc::Receiver<ParsedBlock>>,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    fn start(n: usize, ctx: &Arc<BlockCtx>) -> io::Result<Self> {
        let mut pool = Pool {
            jobs: Vec::with_capacity(n),
            results: Vec::with_capacity(n),
            handles: Vec::with_capacity(n),
        };
        for _ in 0..n {
            let (job_tx, job_rx) = std_mpsc::channel::<Block>();
            let (res_tx, res_rx) = std_mpsc::channel();
            let ctx = ctx.clone();
            pool.handles
                .push(super::spawn("shuyun-ingest-parse", move || {
                    let mut fields = Fields::default();
                    for block in job_rx {
                        if res_tx.send(parse_block(&block, &ctx, &mut fields)).is_err() {
                            return;
                        }
                    }
                })?);
            pool.jobs.push(job_tx);
            pool.results.push(res_rx);
        }
        Ok(pool)
    }

    fn workers(&self) -> usize {
        self.jobs.len()
    }

    /// Hands block number `i` to its worker.
    fn submit(&self, i: usize, block: Block) -> bool {
        self.jobs[i % self.jobs.len()].send(block).is_ok()
    }

    /// The result for block number `i` (blocks are taken in order).
    fn take(&self, i: usize) -> Option<ParsedBlock> {
        self.results[i % self.results.len()].recv().ok()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs.clear();
        self.results.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// The end of the input: the last rows go to the writer.
fn finish(v: &mut Validator, sink: &mut ParquetSink) -> ParseEnd {
    if v.failed() {
        return ParseEnd::Rejected;
    }
    let last = v.take_batch();
    if !send(sink, last) {
        return ParseEnd::WriterGone;
    }
    if v.failed() {
        ParseEnd::Rejected
    } else {
        ParseEnd::Done
    }
}

/// Maps input columns to schema fields: for each schema field, the input
/// column holding it. Missing, unknown and duplicate columns are file errors
/// (row 0).
fn map_columns(names: &[&str], v: &mut Validator) -> Option<Vec<usize>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut ok = true;
    for (i, n) in names.iter().enumerate() {
        if seen.insert(n, i).is_some() {
            v.error(0, Some(n), format!("column '{n}' appears more than once"));
            ok = false;
        }
    }
    for n in names {
        if !v.names().iter().any(|f| f == n) {
            v.error(
                0,
                Some(n),
                format!("unknown column '{n}' (not in the resource's schema)"),
            );
            ok = false;
        }
    }
    let fields = v.names().to_vec();
    let mut map = Vec::with_capacity(fields.len());
    for f in &fields {
        match seen.get(f.as_str()) {
            Some(&c) => map.push(c),
            None => {
                v.error(0, Some(f), format!("missing column '{f}'"));
                ok = false;
            }
        }
    }
    ok.then_some(map)
}

fn parse_jsonl(
    mut r: impl BufRead,
    v: &mut Validator,
    sink: &mut ParquetSink,
) -> io::Result<ParseEnd> {
    let mut line = Vec::new();
    let mut lineno = 0u64;
    loop {
        if v.exhausted() {
            return Ok(ParseEnd::Rejected);
        }
        line.clear();
        let n = (&mut r)
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        lineno += 1;
        if line.len() > MAX_RECORD_BYTES {
            v.error(
                lineno,
                None,
                format!("the line exceeds {} MiB", MAX_RECORD_BYTES >> 20),
            );
            return Ok(ParseEnd::Rejected);
        }
        let mut l: &[u8] = &line;
        if lineno == 1 {
            l = l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l);
        }
        if l.trim_ascii().is_empty() {
            continue;
        }
        let obj = match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(l) {
            Ok(o) => o,
            Err(e) => {
                v.count_row();
                let why = if e.is_eof() {
                    "the line ends in the middle of a JSON object (truncated?)".to_string()
                } else {
                    format!("not a JSON object: {e}")
                };
                v.error(lineno, None, why);
                continue;
            }
        };
        let unknown: Vec<String> = obj
            .keys()
            .filter(|k| !v.names().iter().any(|n| n == *k))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            v.count_row();
            for k in unknown {
                v.error(
                    lineno,
                    Some(&k),
                    format!("unknown key '{k}' (not in the resource's schema)"),
                );
            }
            continue;
        }
        let names = v.names().to_vec();
        let batch = v.push_row(lineno, |f| json_cell(obj.get(&names[f])));
        if !send(sink, batch) {
            return Ok(ParseEnd::WriterGone);
        }
    }
    Ok(finish(v, sink))
}

fn json_cell(v: Option<&serde_json::Value>) -> Cell<'_> {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => Cell::Null,
        Some(Value::Bool(b)) => Cell::Bool(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Cell::I64(i),
            None => n
                .as_f64()
                .map_or(Cell::Bad("number out of range"), Cell::F64),
        },
        Some(Value::String(s)) => Cell::Str(s),
        Some(Value::Array(_) | Value::Object(_)) => {
            Cell::Bad("nested JSON values are not accepted")
        }
    }
}

/// Whether a Parquet column of type `dt` can feed a field of type `ty`.
fn compatible(ty: FieldType, dt: &DataType) -> bool {
    use DataType as D;
    let text = matches!(dt, D::Utf8 | D::LargeUtf8 | D::Utf8View);
    let int = matches!(
        dt,
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64
    );
    match ty {
        FieldType::String => text,
        FieldType::Int64 | FieldType::Fen => int,
        FieldType::Float64 => int || matches!(dt, D::Float32 | D::Float64),
        FieldType::Bool => matches!(dt, D::Boolean),
        FieldType::Date => text || matches!(dt, D::Date32 | D::Date64),
        FieldType::Timestamp => text || matches!(dt, D::Timestamp(_, _)),
    }
}

/// The cell at row `i` of a column that passed [`compatible`].
fn array_cell(a: &ArrayRef, i: usize) -> Cell<'_> {
    use DataType as D;
    if a.is_null(i) {
        return Cell::Null;
    }
    match a.data_type() {
        D::Utf8 => Cell::Str(a.as_string::<i32>().value(i)),
        D::LargeUtf8 => Cell::Str(a.as_string::<i64>().value(i)),
        D::Utf8View => Cell::Str(a.as_string_view().value(i)),
        D::Int8 => Cell::I64(a.as_primitive::<Int8Type>().value(i).into()),
        D::Int16 => Cell::I64(a.as_primitive::<Int16Type>().value(i).into()),
        D::Int32 => Cell::I64(a.as_primitive::<Int32Type>().value(i).into()),
        D::Int64 => Cell::I64(a.as_primitive::<Int64Type>().value(i)),
        D::UInt8 => Cell::I64(a.as_primitive::<UInt8Type>().value(i).into()),
        D::UInt16 => Cell::I64(a.as_primitive::<UInt16Type>().value(i).into()),
        D::UInt32 => Cell::I64(a.as_primitive::<UInt32Type>().value(i).into()),
        D::UInt64 => i64::try_from(a.as_primitive::<UInt64Type>().value(i))
            .map_or(Cell::Bad("integer out of range"), Cell::I64),
        D::Float32 => Cell::F64(a.as_primitive::<Float32Type>().value(i).into()),
        D::Float64 => Cell::F64(a.as_primitive::<Float64Type>().value(i)),
        D::Boolean => Cell::Bool(a.as_boolean().value(i)),
        D::Date32 => Cell::Date(a.as_primitive::<Date32Type>().value(i)),
        D::Date64 => i32::try_from(
            a.as_primitive::<Date64Type>()
                .value(i)
                .div_euclid(86_400_000),
        )
        .map_or(Cell::Bad("date out of range"), Cell::Date),
        D::Timestamp(unit, tz) => {
            let ms = match unit {
                TimeUnit::Second => a
                    .as_primitive::<TimestampSecondType>()
                    .value(i)
                    .checked_mul(1000),
                TimeUnit::Millisecond => {
                    Some(a.as_primitive::<TimestampMillisecondType>().value(i))
                }
                TimeUnit::Microsecond => Some(
                    a.as_primitive::<TimestampMicrosecondType>()
                        .value(i)
                        .div_euclid(1000),
                ),
                TimeUnit::Nanosecond => Some(
                    a.as_primitive::<TimestampNanosecondType>()
                        .value(i)
                        .div_euclid(1_000_000),
                ),
            };
            // Without a time zone the value is a wall-clock time: Beijing's.
            let shift = if tz.is_none() { BEIJING_OFFSET_MS } else { 0 };
            ms.and_then(|m| m.checked_sub(shift))
                .map_or(Cell::Bad("timestamp out of range"), Cell::TsMs)
        }
        _ => Cell::Bad("unsupported column type"),
    }
}

/// Parses a spooled Parquet file. Columns are matched by name.
pub(crate) fn parse_parquet(
    file: std::fs::File,
    v: &mut Validator,
    sink: &mut ParquetSink,
) -> ParseEnd {
    let builder = match ParquetRecordBatchReaderBuilder::try_new(file) {
        Ok(b) => b,
        Err(e) => {
            v.error(
                0,
                None,
                format!("not a readable Parquet file (truncated?): {e}"),
            );
            return ParseEnd::Rejected;
        }
    };
    let in_schema = builder.schema().clone();
    let names: Vec<&str> = in_schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let Some(field_to_col) = map_columns(&names, v) else {
        return ParseEnd::Rejected;
    };
    let types = v.types().to_vec();
    let fnames = v.names().to_vec();
    for (f, &c) in field_to_col.iter().enumerate() {
        let dt = in_schema.field(c).data_type();
        if !compatible(types[f], dt) {
            v.error(
                0,
                Some(&fnames[f]),
                format!(
                    "column '{}' has type {dt}, which cannot hold {}",
                    fnames[f],
                    types[f].as_str()
                ),
            );
        }
    }
    if v.failed() {
        return ParseEnd::Rejected;
    }
    let reader = match builder.with_batch_size(BATCH_ROWS).build() {
        Ok(r) => r,
        Err(e) => {
            v.error(0, None, format!("not a readable Parquet file: {e}"));
            return ParseEnd::Rejected;
        }
    };
    let mut row = 0u64;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                v.error(
                    row + 1,
                    None,
                    format!("unreadable Parquet data (truncated or corrupt?): {e}"),
                );
                return ParseEnd::Rejected;
            }
        };
        let cols: Vec<&ArrayRef> = field_to_col.iter().map(|&c| batch.column(c)).collect();
        for i in 0..batch.num_rows() {
            if v.exhausted() {
                return ParseEnd::Rejected;
            }
            row += 1;
            let out = v.push_row(row, |f| array_cell(cols[f], i));
            if !send(sink, out) {
                return ParseEnd::WriterGone;
            }
        }
    }
    finish(v, sink)
}
