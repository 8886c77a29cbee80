//! The ingest engine: a department's upload (CSV in UTF-8 or GB18030, JSON
//! lines, or Parquet) is validated row by row against the resource's
//! [`Schema`] and stored as one Parquet file — all or nothing.
//!
//! Everything runs in a pipeline that keeps every core busy: the calling
//! task reads the input and uploads the output; on threads, CSV is cut into
//! blocks at record boundaries, parsed and validated column by column by
//! workers (see `read`), taken in input order for exact row numbers and
//! key checks, and encoded to Parquet one row group per encoder thread
//! while a writer thread assembles and hashes the file (see `write`).
//! Output is streamed through a temporary object next to `dest` (`dest` +
//! `.partial-<random>`) and renamed onto `dest` only when every row was
//! valid; on any rejection or error the temporary object is removed and an
//! existing object at `dest` is left as it was.
//!
//! Memory stays bounded whatever the input size: a few input blocks and
//! their parsed columns in flight, the Parquet row groups being encoded,
//! and for key uniqueness runs of 16 MiB of key hashes, spilled to a
//! temporary file (16 bytes per row) and merged at the end (see `keys`).
//!
//! Parquet input needs random access: [`ingest`] spools it to a temporary
//! file (removed afterwards) before reading it.

mod columns;
mod csv;
mod keys;
mod read;
mod validate;
mod value;
mod write;

/// Proleptic Gregorian day arithmetic (days since 1970-01-01).
pub mod civil {
    pub use super::value::{civil_from_days, days_from_civil};
}

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use shuyun_domain::catalogue::Schema;
use shuyun_domain::workspace::UnitDigestKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

pub use validate::{TIMESTAMP_TZ, arrow_schema, arrow_type};
pub(crate) use value::{parse_date, parse_timestamp_ms};

use read::{ChunkReader, ParseEnd};
use validate::Validator;
use write::ParquetSink;

/// The format of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Csv(TextEncoding),
    /// One JSON object per line (UTF-8).
    JsonLines,
    Parquet,
}

/// The text encoding of a CSV upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Gb18030,
    /// UTF-8 if the file starts with a UTF-8 BOM or its first 64 KiB are
    /// valid UTF-8, else GB18030. (Invalid UTF-8 later in a file detected as
    /// UTF-8 is then reported row by row.)
    Auto,
}

/// A successful ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub rows: u64,
    /// Size of the stored Parquet file.
    pub bytes: u64,
    /// SM3 of the stored Parquet file.
    pub sm3: [u8; 32],
    pub path: Path,
    /// Empty values per field, in schema order.
    pub null_counts: Vec<(String, u64)>,
}

/// One reason to reject an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based data row: CSV records after the header (blank lines are not
    /// counted), JSON lines by line number, Parquet rows in file order; 0 for
    /// the file as a whole (header, format).
    pub row: u64,
    pub field: Option<String>,
    pub reason: String,
}

/// Why an upload was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionReport {
    /// The first 1000 errors.
    pub errors: Vec<RowError>,
    /// All errors found (reading stops after 100,000).
    pub total_errors: u64,
    /// Data rows read.
    pub rows_read: u64,
}

impl RejectionReport {
    /// The errors as CSV (`row,field,reason`), UTF-8 with a BOM so that
    /// Excel shows Chinese correctly.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("\u{feff}row,field,reason\r\n");
        for e in &self.errors {
            out.push_str(&e.row.to_string());
            out.push(',');
            out.push_str(&csv_quote(e.field.as_deref().unwrap_or("")));
            out.push(',');
            out.push_str(&csv_quote(&e.reason));
            out.push_str("\r\n");
        }
        out
    }
}

/// Quotes a CSV value when it needs it. Values starting with `=`, `+`, `-`
/// or `@` get a leading apostrophe so that spreadsheets do not run them as
/// formulas.
fn csv_quote(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Why an ingest failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The input is invalid; nothing was stored.
    #[error("the upload was rejected: {} error(s)", .0.total_errors)]
    Rejected(RejectionReport),
    /// Reading the input or writing to storage failed; nothing was stored.
    #[error("ingest failed: {0}")]
    Io(String),
}

/// Input chunk size and queue depth (input chunks and output chunks).
const CHUNK_BYTES: usize = 1 << 20;
const QUEUE: usize = 4;

/// Threads per parallel stage (block parsers, Parquet encoders).
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4)
}

/// Starts a named thread (names show in `top -H`, profilers and panics).
fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new().name(name.to_string()).spawn(f)
}

/// A random suffix for temporary names.
fn unique_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// A unique temporary name next to `dest`.
fn partial_path(dest: &Path) -> Path {
    Path::from(format!("{dest}.partial-{}", unique_suffix()))
}

/// A spooled copy of a Parquet upload, removed on drop.
struct Spool(std::path::PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn spool<R: AsyncRead + Unpin>(mut input: R) -> Result<(Spool, std::fs::File), IngestError> {
    let p = std::env::temp_dir().join(format!("shuyun-ingest-{}.parquet", unique_suffix()));
    let guard = Spool(p.clone());
    let io_err = |e: io::Error| IngestError::Io(format!("spooling the Parquet upload failed: {e}"));
    let mut f = tokio::fs::File::create(&p).await.map_err(io_err)?;
    tokio::io::copy(&mut input, &mut f).await.map_err(io_err)?;
    f.flush().await.map_err(io_err)?;
    drop(f);
    let file = std::fs::File::open(&p).map_err(io_err)?;
    Ok((guard, file))
}

/// Validates `input` against `schema` and stores it as Parquet at `dest`.
///
/// All or nothing: on `Err` nothing new is left in `store` (an object already
/// at `dest` is untouched). `dest` comes from the caller, never from the
/// input. See the module documentation for memory and format details.
pub async fn ingest<R: AsyncRead + Unpin + Send>(
    input: R,
    format: InputFormat,
    schema: &Schema,
    store: Arc<dyn ObjectStore>,
    dest: &Path,
) -> Result<IngestOutcome, IngestError> {
    ingest_with(input, format, schema, store, dest, None).await
}

/// [`ingest`], also storing each row's unit digest under `unit_digests`
/// (a hidden column, see `shuyun_domain::workspace::unit_digest`) when the
/// schema has a unit field ([`Schema::unit_field`]) of text or integers.
pub async fn ingest_with<R: AsyncRead + Unpin + Send>(
    input: R,
    format: InputFormat,
    schema: &Schema,
    store: Arc<dyn ObjectStore>,
    dest: &Path,
    unit_digests: Option<UnitDigestKey>,
) -> Result<IngestOutcome, IngestError> {
    let mut v = Validator::new(schema);
    let digests = unit_digests.and_then(|key| {
        let unit = schema.unit_field()?;
        let field = v.names().iter().position(|n| n == unit.name.as_str())?;
        write::UnitDigests::new(key, &v.schema(), field)
    });
    let tmp = partial_path(dest);
    // A single key column is unique: dictionary encoding cannot help it.
    let no_dictionary = match schema.key_fields().collect::<Vec<_>>()[..] {
        [only] => Some(only.name.as_str().to_string()),
        _ => None,
    };
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(QUEUE);
    let mut sink = ParquetSink::new(v.schema(), no_dictionary, digests, out_tx);

    let (chunk_tx, chunk_rx) = mpsc::channel::<io::Result<Bytes>>(QUEUE);
    let (spooled, feed_input) = match format {
        InputFormat::Parquet => (Some(spool(input).await?), None),
        _ => (None, Some(input)),
    };
    let parser = tokio::task::spawn_blocking(move || {
        let end = match spooled {
            Some((_guard, file)) => read::parse_parquet(file, &mut v, &mut sink),
            None => read::parse_text(format, ChunkReader::new(chunk_rx), &mut v, &mut sink),
        };
        // Key uniqueness is settled once every row has been read, while the
        // encoders complete the file.
        let end = match end {
            ParseEnd::Done | ParseEnd::Rejected => {
                if matches!(end, ParseEnd::Done) {
                    sink.seal();
                }
                match v.conclude() {
                    Err(e) => ParseEnd::Io(e),
                    Ok(()) if v.failed() => ParseEnd::Rejected,
                    Ok(()) => end,
                }
            }
            other => other,
        };
        let written = match end {
            ParseEnd::Done | ParseEnd::WriterGone => Some(sink.finish()),
            _ => {
                drop(sink);
                None
            }
        };
        (end, v, written)
    });

    let feed = async move {
        let Some(mut input) = feed_input else { return };
        loop {
            let mut buf = Vec::with_capacity(CHUNK_BYTES);
            match input.read_buf(&mut buf).await {
                Ok(0) => return,
                Ok(_) => {
                    if chunk_tx.send(Ok(Bytes::from(buf))).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = chunk_tx.send(Err(e)).await;
                    return;
                }
            }
        }
    };
    let mut upload = BufWriter::new(store.clone(), tmp.clone());
    let write = async {
        while let Some(chunk) = out_rx.recv().await {
            upload
                .put(chunk)
                .await
                .map_err(|e| format!("writing to storage failed: {e}"))?;
        }
        Ok::<(), String>(())
    };
    let ((), uploaded) = tokio::join!(feed, write);
    let (end, v, written) = parser
        .await
        .map_err(|e| IngestError::Io(format!("the ingest worker failed: {e}")))?;

    let result = match (end, uploaded, written) {
        (ParseEnd::Rejected, _, _) => Err(IngestError::Rejected(RejectionReport {
            errors: v.errors.clone(),
            total_errors: v.total_errors,
            rows_read: v.rows,
        })),
        (ParseEnd::Io(e), _, _) => Err(IngestError::Io(e)),
        (_, Err(e), _) => Err(IngestError::Io(e)),
        (_, _, Some(Err(e))) => Err(IngestError::Io(e)),
        (ParseEnd::Done, Ok(()), Some(Ok(w))) => Ok(w),
        _ => Err(IngestError::Io("the writer stopped".into())),
    };
    let written = match result {
        Ok(w) => w,
        Err(err) => {
            let _ = upload.abort().await;
            remove(&*store, &tmp).await;
            return Err(err);
        }
    };
    if let Err(e) = upload.shutdown().await {
        remove(&*store, &tmp).await;
        return Err(IngestError::Io(format!(
            "finishing the Parquet file failed: {e}"
        )));
    }
    if let Err(e) = store.rename(&tmp, dest).await {
        remove(&*store, &tmp).await;
        return Err(IngestError::Io(format!(
            "moving the file into place failed: {e}"
        )));
    }
    let names = v.names().to_vec();
    Ok(IngestOutcome {
        rows: v.rows,
        bytes: written.bytes,
        sm3: written.sm3,
        path: dest.clone(),
        null_counts: names
            .into_iter()
            .zip(v.null_counts.iter().copied())
            .collect(),
    })
}

/// Removes a temporary object; a missing one is fine.
async fn remove(store: &dyn ObjectStore, p: &Path) {
    let _ = store.delete(p).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_csv_quotes_and_bom() {
        let r = RejectionReport {
            errors: vec![
                RowError {
                    row: 0,
                    field: None,
                    reason: "missing column 'a'".into(),
                },
                RowError {
                    row: 3,
                    field: Some("name".into()),
                    reason: "'x,\"y\"' 不是整数".into(),
                },
                RowError {
                    row: 4,
                    field: Some("n".into()),
                    reason: "=cmd()".into(),
                },
            ],
            total_errors: 3,
            rows_read: 4,
        };
        assert_eq!(
            r.to_csv(),
            "\u{feff}row,field,reason\r\n0,,missing column 'a'\r\n3,name,\"'x,\"\"y\"\"' 不是整数\"\r\n4,n,'=cmd()\r\n"
        );
    }

    #[test]
    fn partial_paths_are_siblings() {
        let d = Path::from("res/1/v2.parquet");
        let p = partial_path(&d);
        assert!(p.as_ref().starts_with("res/1/v2.parquet.partial-"));
        assert_ne!(p, partial_path(&d));
    }
}
