//! Parquet encoding off the parsing thread. Row groups are encoded in
//! parallel, each wholly by one of a few encoder threads (taking turns); a
//! writer thread appends them to the file in order, hashes the file with
//! SM3 and hands it to the uploader in chunks.
//!
//! Writer settings: Snappy compression (what DuckDB writes by default),
//! statistics with page indexes, row groups of [`ROW_GROUP_ROWS`] rows, and
//! dictionary encoding only for columns whose first batch shows few
//! distinct values. Like DuckDB, which also writes high-cardinality columns
//! plain: a dictionary cannot shrink identifiers, names or timestamps, and
//! costs a hash lookup per value.
//!
//! Memory: a few batches queued per encoder, and per encoder one row group
//! being encoded (its compressed pages).

use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use shuyun_domain::workspace::UnitDigestKey;
use shuyun_domain::workspace::unit_digest;
use sm3::{Digest, Sm3};
use tokio::sync::mpsc;

/// Rows per Parquet row group: bounds the encoders' memory.
pub(crate) const ROW_GROUP_ROWS: usize = 256 * 1024;
/// Bytes per chunk handed to the uploader.
const OUT_CHUNK: usize = 1 << 20;
/// Batches queued per encoder.
const ENCODER_QUEUE: usize = 4;
/// Rows of the first batch looked at to choose dictionary encoding.
const DICT_SAMPLE: usize = 16 * 1024;

/// What was written.
pub(crate) struct Written {
    pub(crate) bytes: u64,
    pub(crate) sm3: [u8; 32],
}

/// The stored unit digests an ingest adds (see
/// `shuyun_domain::workspace::unit_digest`): the key, and the position of
/// the unit field in the validated batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnitDigests {
    key: UnitDigestKey,
    field: usize,
}

impl UnitDigests {
    /// Digests of the unit at `field` of `schema`, if it is text or
    /// integers (others are not stored).
    pub(crate) fn new(key: UnitDigestKey, schema: &SchemaRef, field: usize) -> Option<Self> {
        matches!(
            schema.fields().get(field).map(|f| f.data_type()),
            Some(DataType::Utf8 | DataType::Int64)
        )
        .then_some(Self { key, field })
    }

    /// The digests of one batch's units (`None` only for a batch whose
    /// unit column is not of the schema's type).
    fn column(&self, batch: &RecordBatch) -> Option<ArrayRef> {
        let a = batch.column(self.field);
        let digests: UInt64Array = match a.data_type() {
            DataType::Utf8 => a
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(|v| self.key.bytes(v.as_bytes())))
                .collect(),
            DataType::Int64 => a
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| self.key.int(v)))
                .collect(),
            _ => return None,
        };
        Some(Arc::new(digests))
    }
}

/// The encoding side of an ingest, fed batches in order by the parser.
pub(crate) struct ParquetSink {
    /// The schema written: the validated fields, then the stored unit
    /// digests if any.
    schema: SchemaRef,
    digests: Option<UnitDigests>,
    /// A column never dictionary-encoded (a single key column is unique).
    no_dictionary: Option<String>,
    /// The uploader, until the threads start.
    out: Option<mpsc::Sender<Bytes>>,
    encoders: usize,
    run: Option<Running>,
    /// Why the writer could not start.
    error: Option<String>,
}

struct Running {
    txs: Vec<SyncSender<Msg>>,
    /// The row group being filled, and its rows so far.
    rg: usize,
    rg_rows: usize,
    encoders: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<Result<Written, String>>>,
    abort: Arc<AtomicBool>,
}

enum Msg {
    Batch(RecordBatch),
    /// The row group is complete.
    End,
}

impl ParquetSink {
    pub(crate) fn new(
        schema: SchemaRef,
        no_dictionary: Option<String>,
        digests: Option<UnitDigests>,
        out: mpsc::Sender<Bytes>,
    ) -> Self {
        let schema = match digests {
            Some(_) => {
                let mut fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
                fields.push(Arc::new(Field::new(
                    unit_digest::COLUMN,
                    DataType::UInt64,
                    true,
                )));
                Arc::new(Schema::new(fields))
            }
            None => schema,
        };
        Self {
            schema,
            digests,
            no_dictionary,
            out: Some(out),
            encoders: super::threads(),
            run: None,
            error: None,
        }
    }

    /// Queues a batch; false if the writing side has stopped (it reports
    /// why from [`Self::finish`]).
    pub(crate) fn push(&mut self, batch: RecordBatch) -> bool {
        if self.run.is_none() && !self.start(Some(&batch)) {
            return false;
        }
        let Some(run) = &mut self.run else {
            return false;
        };
        let mut batch = match self.digests {
            Some(d) => {
                let mut columns = batch.columns().to_vec();
                columns.extend(d.column(&batch));
                match RecordBatch::try_new(self.schema.clone(), columns) {
                    Ok(b) => b,
                    Err(e) => {
                        self.error = Some(format!("cannot add the unit digests: {e}"));
                        return false;
                    }
                }
            }
            None => batch,
        };
        while batch.num_rows() > 0 {
            let take = (ROW_GROUP_ROWS - run.rg_rows).min(batch.num_rows());
            let part = batch.slice(0, take);
            batch = batch.slice(take, batch.num_rows() - take);
            let tx = &run.txs[run.rg % run.txs.len()];
            if tx.send(Msg::Batch(part)).is_err() {
                return false;
            }
            run.rg_rows += take;
            if run.rg_rows == ROW_GROUP_ROWS {
                if tx.send(Msg::End).is_err() {
                    return false;
                }
                run.rg += 1;
                run.rg_rows = 0;
            }
        }
        true
    }

    /// Ends the input: the encoders complete the last row group and the
    /// writer the file, while the caller goes on (see [`Self::finish`]).
    pub(crate) fn seal(&mut self) {
        if self.run.is_none() && self.error.is_none() {
            self.start(None);
        }
        if let Some(run) = &mut self.run {
            if run.rg_rows > 0 && !run.txs.is_empty() {
                let _ = run.txs[run.rg % run.txs.len()].send(Msg::End);
                run.rg_rows = 0;
            }
            run.txs.clear();
        }
    }

    /// Completes the file (footer included, all bytes handed over).
    pub(crate) fn finish(mut self) -> Result<Written, String> {
        self.seal();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let Some(mut run) = self.run.take() else {
            return Err("the Parquet writer did not start".into());
        };
        for h in run.encoders.drain(..) {
            let _ = h.join();
        }
        match run.writer.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err("the Parquet writer failed".into()),
        }
    }

    /// Starts the threads, with dictionary encoding chosen from `first`.
    fn start(&mut self, first: Option<&RecordBatch>) -> bool {
        let Some(out) = self.out.take() else {
            return false;
        };
        let key = self.digests.map(|d| d.key);
        let props = properties(&self.schema, first, self.no_dictionary.as_deref(), key);
        let sink = HashSink {
            buf: Vec::with_capacity(OUT_CHUNK),
            sm3: Sm3::new(),
            bytes: 0,
            tx: out,
        };
        let abort = Arc::new(AtomicBool::new(false));
        let (fw, factory) = match ArrowWriter::try_new(sink, self.schema.clone(), Some(props))
            .and_then(ArrowWriter::into_serialized_writer)
        {
            Ok(w) => w,
            Err(e) => {
                self.error = Some(format!("cannot start the Parquet writer: {e}"));
                return false;
            }
        };
        let factory = Arc::new(factory);
        let mut txs = Vec::with_capacity(self.encoders);
        let mut rxs = Vec::with_capacity(self.encoders);
        let mut encoders = Vec::with_capacity(self.encoders);
        for e in 0..self.encoders {
            let (tx, rx) = sync_channel::<Msg>(ENCODER_QUEUE);
            // A rendezvous: an encoder holds at most one finished row group.
            let (res_tx, res_rx) = sync_channel(0);
            let factory = factory.clone();
            let schema = self.schema.clone();
            let n = self.encoders;
            let spawned = super::spawn("shuyun-ingest-encode", move || {
                encode(e, n, &factory, &schema, &rx, &res_tx);
            });
            txs.push(tx);
            rxs.push(res_rx);
            match spawned {
                Ok(h) => encoders.push(h),
                Err(e) => {
                    self.error = Some(format!("cannot start a Parquet encoder: {e}"));
                    return false;
                }
            }
        }
        let writer_abort = abort.clone();
        let writer = match super::spawn("shuyun-ingest-write", move || {
            write(fw, &rxs, &writer_abort)
        }) {
            Ok(h) => h,
            Err(e) => {
                self.error = Some(format!("cannot start the Parquet writer: {e}"));
                return false;
            }
        };
        self.run = Some(Running {
            txs,
            rg: 0,
            rg_rows: 0,
            encoders,
            writer: Some(writer),
            abort,
        });
        true
    }
}

impl Drop for ParquetSink {
    /// Without [`ParquetSink::finish`]: abandons the file (the uploader is
    /// aborted by the caller) and waits for the threads.
    fn drop(&mut self) {
        if let Some(mut run) = self.run.take() {
            run.abort.store(true, Ordering::Relaxed);
            run.txs.clear();
            for h in run.encoders.drain(..) {
                let _ = h.join();
            }
            if let Some(w) = run.writer.take() {
                let _ = w.join();
            }
        }
    }
}

type Encoded = Result<Vec<ArrowColumnChunk>, String>;

/// Encoder `e` of `n`: encodes row groups `e`, `e + n`, … as their batches
/// arrive.
fn encode(
    e: usize,
    n: usize,
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    rx: &Receiver<Msg>,
    out: &SyncSender<Encoded>,
) {
    let mut rg = e;
    let mut writers = None;
    for msg in rx {
        let step = match msg {
            Msg::Batch(batch) => {
                let ws = match writers.take() {
                    Some(ws) => Ok(ws),
                    None => factory.create_column_writers(rg),
                };
                ws.and_then(|mut ws| {
                    let mut it = ws.iter_mut();
                    for (field, col) in schema.fields().iter().zip(batch.columns()) {
                        for leaf in compute_leaves(field, col)? {
                            if let Some(w) = it.next() {
                                w.write(&leaf)?;
                            }
                        }
                    }
                    writers = Some(ws);
                    Ok(())
                })
                .map_err(|e| format!("encoding Parquet failed: {e}"))
            }
            Msg::End => {
                let chunks = writers
                    .take()
                    .map_or(Ok(Vec::new()), |ws| {
                        ws.into_iter().map(|w| w.close()).collect()
                    })
                    .map_err(|e| format!("encoding Parquet failed: {e}"));
                rg += n;
                match chunks {
                    Ok(c) => out.send(Ok(c)).map_err(|_| String::new()),
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = step {
            if !e.is_empty() {
                let _ = out.send(Err(e));
            }
            return;
        }
    }
}

/// Appends the encoders' row groups in order, then the footer.
fn write(
    mut fw: SerializedFileWriter<HashSink>,
    rxs: &[Receiver<Encoded>],
    abort: &AtomicBool,
) -> Result<Written, String> {
    let io_err = |e: parquet::errors::ParquetError| format!("writing Parquet failed: {e}");
    for k in 0.. {
        let Ok(chunks) = rxs[k % rxs.len()].recv() else {
            // That encoder has finished: there are no more row groups.
            break;
        };
        let mut rg = fw.next_row_group().map_err(io_err)?;
        for c in chunks? {
            c.append_to_row_group(&mut rg).map_err(io_err)?;
        }
        rg.close().map_err(io_err)?;
    }
    if abort.load(Ordering::Relaxed) {
        return Err("abandoned".into());
    }
    fw.finish().map_err(io_err)?;
    let sink = fw.inner_mut();
    sink.send()
        .map_err(|e| format!("writing Parquet failed: {e}"))?;
    Ok(Written {
        bytes: sink.bytes,
        sm3: std::mem::take(&mut sink.sm3).finalize().into(),
    })
}

/// The file's bytes: hashed, and sent to the uploader in chunks.
struct HashSink {
    buf: Vec<u8>,
    sm3: Sm3,
    bytes: u64,
    tx: mpsc::Sender<Bytes>,
}

impl HashSink {
    /// Hands over what is buffered.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.sm3.update(&self.buf);
        self.bytes += self.buf.len() as u64;
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(OUT_CHUNK));
        self.tx
            .blocking_send(Bytes::from(chunk))
            .map_err(|_| io::Error::other("the upload stopped"))
    }
}

impl Write for HashSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= OUT_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    /// Chunks are handed over as they fill; the rest by [`HashSink::send`]
    /// once the file is complete.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writer settings, with dictionary encoding for the columns of `first`
/// (if any) that have few distinct values.
///
/// Stored unit digests (the last column, when `digests` is given) are
/// written plain and uncompressed, without statistics: random 64-bit
/// values neither compress nor prune, and queries read them whole. The
/// key's fingerprint goes into the file's metadata.
fn properties(
    schema: &SchemaRef,
    first: Option<&RecordBatch>,
    no_dictionary: Option<&str>,
    digests: Option<UnitDigestKey>,
) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    if let Some(key) = digests {
        let c = ColumnPath::from(unit_digest::COLUMN);
        b = b
            .set_column_dictionary_enabled(c.clone(), false)
            .set_column_encoding(c.clone(), Encoding::PLAIN)
            .set_column_compression(c.clone(), Compression::UNCOMPRESSED)
            .set_column_statistics_enabled(c, EnabledStatistics::None)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                unit_digest::METADATA_KEY.to_string(),
                key.fingerprint(),
            )]));
    }
    for (i, field) in schema.fields().iter().enumerate() {
        if field.name() == unit_digest::COLUMN {
            continue;
        }
        let dictionary = Some(field.name().as_str()) != no_dictionary
            && first.is_none_or(|batch| few_distinct(batch.column(i)));
        if !dictionary {
            b = b.set_column_dictionary_enabled(ColumnPath::from(field.name().clone()), false);
        }
    }
    b.build()
}

/// Whether at most a quarter of the sampled values are distinct.
fn few_distinct(a: &ArrayRef) -> bool {
    let n = a.len().min(DICT_SAMPLE);
    let limit = n / 4;
    let valid = |i: usize| a.is_valid(i);
    match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            let mut seen = HashSet::new();
            for i in (0..n).filter(|&i| valid(i)) {
                seen.insert(s.value(i));
                if seen.len() > limit {
                    return false;
                }
            }
            true
        }
        DataType::Int64 => a
            .as_primitive_opt::<Int64Type>()
            .is_none_or(|p| distinct_within(p.values().iter().take(n).copied(), limit)),
        DataType::Float64 => a
            .as_primitive_opt::<Float64Type>()
            .is_none_or(|p| distinct_within(p.values().iter().take(n).map(|v| v.to_bits()), limit)),
        DataType::Date32 => a
            .as_primitive_opt::<Date32Type>()
            .is_none_or(|p| distinct_within(p.values().iter().take(n).copied(), limit)),
        DataType::Timestamp(_, _) => a
            .as_primitive_opt::<TimestampMillisecondType>()
            .is_none_or(|p| distinct_within(p.values().iter().take(n).copied(), limit)),
        _ => true,
    }
}

fn distinct_within<T: std::hash::Hash + Eq>(values: impl Iterator<Item = T>, limit: usize) -> bool {
    let mut seen = HashSet::new();
    for v in values {
        seen.insert(v);
        if seen.len() > limit {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};

    #[test]
    fn dictionary_only_for_few_distinct_values() {
        let few: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..1000).map(|i| ["A", "B", "C"][i % 3]),
        ));
        let many: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..1000).map(|i| format!("id-{i}")),
        ));
        assert!(few_distinct(&few));
        assert!(!few_distinct(&many));
        let ints: ArrayRef = Arc::new(Int64Array::from_iter_values((0..1000).map(|i| i % 300)));
        assert!(!few_distinct(&ints));
        let ints: ArrayRef = Arc::new(Int64Array::from_iter_values((0..1000).map(|i| i % 40)));
        assert!(few_distinct(&ints));
    }
}
