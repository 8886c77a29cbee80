//! Reading stored Parquet objects back through `object_store`: an
//! [`AsyncFileReader`] that fetches only the byte ranges the Parquet reader
//! asks for, so reading a version never loads the whole object.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, TryFutureExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{
    AsyncFileReader, MetadataSuffixFetch, ParquetRecordBatchStream,
};
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use shuyun_domain::workspace::unit_digest;

fn to_parquet_err(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

/// A Parquet object in the store, read by ranges.
#[derive(Clone, Debug)]
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
}

impl ObjectReader {
    pub fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        Self { store, path }
    }
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        self.store
            .get_range(&self.path, range)
            .map_err(to_parquet_err)
            .boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(to_parquet_err)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>>> {
        async move {
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_via_suffix_and_finish(self)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

impl MetadataSuffixFetch for &mut ObjectReader {
    fn fetch_suffix(&mut self, suffix: usize) -> BoxFuture<'_, Result<Bytes>> {
        let options = GetOptions {
            range: Some(GetRange::Suffix(suffix as u64)),
            ..Default::default()
        };
        async move {
            let resp = self
                .store
                .get_opts(&self.path, options)
                .await
                .map_err(to_parquet_err)?;
            resp.bytes().await.map_err(to_parquet_err)
        }
        .boxed()
    }
}

/// A stream of record batches of `batch_rows` rows from a stored object:
/// the resource's fields only, never the hidden column of stored unit
/// digests.
pub async fn read_batches(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    batch_rows: usize,
) -> Result<ParquetRecordBatchStream<ObjectReader>> {
    let b = ParquetRecordBatchStreamBuilder::new(ObjectReader::new(store, path.clone())).await?;
    let fields: Vec<usize> = b
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name() != unit_digest::COLUMN)
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(b.parquet_schema(), fields);
    b.with_projection(mask).with_batch_size(batch_rows).build()
}

/// The fingerprint of the key a stored object's unit digests were made
/// with (`None` when it has none).
pub async fn unit_digest_fingerprint(
    store: Arc<dyn ObjectStore>,
    path: &Path,
) -> Result<Option<String>> {
    let b = ParquetRecordBatchStreamBuilder::new(ObjectReader::new(store, path.clone())).await?;
    let has_column = b
        .schema()
        .fields()
        .iter()
        .any(|f| f.name() == unit_digest::COLUMN);
    let fingerprint = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == unit_digest::METADATA_KEY))
        .and_then(|e| e.value.clone());
    Ok(fingerprint.filter(|_| has_column))
}
