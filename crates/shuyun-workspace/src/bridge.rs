//! A read-only view of one of the platform's object stores (object_store
//! 0.14, as `shuyun-data` writes it) through the object_store interface
//! DataFusion 55 is built on (0.13).
//!
//! Only reads and listings pass; every write, copy, rename or delete is
//! refused, so nothing a query does can change stored data.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store_df as df;

/// The platform's store, read-only, as DataFusion sees it.
#[derive(Debug)]
pub struct ReadOnlyStore {
    inner: Arc<dyn object_store::ObjectStore>,
}

impl ReadOnlyStore {
    pub fn new(inner: Arc<dyn object_store::ObjectStore>) -> Self {
        Self { inner }
    }
}

impl fmt::Display for ReadOnlyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReadOnly({})", self.inner)
    }
}

const STORE: &str = "shuyun-workspace";

fn refused() -> df::Error {
    df::Error::NotSupported {
        source: "the workspace reads data and never writes it".into(),
    }
}

fn path_in(p: &df::path::Path) -> object_store::path::Path {
    // Both crates hold the same canonical form.
    object_store::path::Path::from_iter(p.parts().map(|s| s.as_ref().to_string()))
}

fn path_out(p: &object_store::path::Path) -> df::path::Path {
    df::path::Path::from_iter(p.parts().map(|s| s.as_ref().to_string()))
}

fn err(e: object_store::Error) -> df::Error {
    match e {
        object_store::Error::NotFound { path, source } => df::Error::NotFound { path, source },
        other => df::Error::Generic {
            store: STORE,
            source: Box::new(other),
        },
    }
}

fn meta(m: object_store::ObjectMeta) -> df::ObjectMeta {
    df::ObjectMeta {
        location: path_out(&m.location),
        last_modified: m.last_modified,
        size: m.size,
        e_tag: m.e_tag,
        version: m.version,
    }
}

fn range(r: df::GetRange) -> object_store::GetRange {
    match r {
        df::GetRange::Bounded(r) => object_store::GetRange::Bounded(r),
        df::GetRange::Offset(o) => object_store::GetRange::Offset(o),
        df::GetRange::Suffix(s) => object_store::GetRange::Suffix(s),
    }
}

#[async_trait]
impl df::ObjectStore for ReadOnlyStore {
    async fn put_opts(
        &self,
        _location: &df::path::Path,
        _payload: df::PutPayload,
        _opts: df::PutOptions,
    ) -> df::Result<df::PutResult> {
        Err(refused())
    }

    async fn put_multipart_opts(
        &self,
        _location: &df::path::Path,
        _opts: df::PutMultipartOptions,
    ) -> df::Result<Box<dyn df::MultipartUpload>> {
        Err(refused())
    }

    async fn get_opts(
        &self,
        location: &df::path::Path,
        options: df::GetOptions,
    ) -> df::Result<df::GetResult> {
        let opts = object_store::GetOptions {
            if_match: options.if_match,
            if_none_match: options.if_none_match,
            if_modified_since: options.if_modified_since,
            if_unmodified_since: options.if_unmodified_since,
            range: options.range.map(range),
            version: options.version,
            head: options.head,
            ..Default::default()
        };
        let r = self
            .inner
            .get_opts(&path_in(location), opts)
            .await
            .map_err(err)?;
        let m = meta(r.meta.clone());
        let range = r.range.clone();
        let stream = r.into_stream().map(|b| b.map_err(err)).boxed();
        Ok(df::GetResult {
            payload: df::GetResultPayload::Stream(stream),
            meta: m,
            range,
            attributes: df::Attributes::default(),
        })
    }

    async fn get_ranges(
        &self,
        location: &df::path::Path,
        ranges: &[Range<u64>],
    ) -> df::Result<Vec<Bytes>> {
        self.inner
            .get_ranges(&path_in(location), ranges)
            .await
            .map_err(err)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, df::Result<df::path::Path>>,
    ) -> BoxStream<'static, df::Result<df::path::Path>> {
        locations.map(|_| Err(refused())).boxed()
    }

    fn list(
        &self,
        prefix: Option<&df::path::Path>,
    ) -> BoxStream<'static, df::Result<df::ObjectMeta>> {
        let prefix = prefix.map(path_in);
        self.inner
            .list(prefix.as_ref())
            .map(|r| r.map(meta).map_err(err))
            .boxed()
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&df::path::Path>,
    ) -> df::Result<df::ListResult> {
        let prefix = prefix.map(path_in);
        let r = self
            .inner
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(err)?;
        Ok(df::ListResult {
            common_prefixes: r.common_prefixes.iter().map(path_out).collect(),
            objects: r.objects.into_iter().map(meta).collect(),
        })
    }

    async fn copy_opts(
        &self,
        _from: &df::path::Path,
        _to: &df::path::Path,
        _options: df::CopyOptions,
    ) -> df::Result<()> {
        Err(refused())
    }

    async fn rename_opts(
        &self,
        _from: &df::path::Path,
        _to: &df::path::Path,
        _options: df::RenameOptions,
    ) -> df::Result<()> {
        Err(refused())
    }
}
