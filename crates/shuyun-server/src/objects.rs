//! Where accepted data versions (Parquet objects) are stored: files under
//! `<data_dir>/objects` by default, or an S3-compatible store (MinIO, a
//! cloud's S3-compatible OSS) named by the `[object_store]` section.
//!
//! The section holds only where the store is; its credentials come from the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally
//! `AWS_SESSION_TOKEN`, or the same names prefixed `SHUYUN_OBJECT_STORE_`
//! instead of `AWS_`), never from the file, and are redacted in `Debug`
//! output. S3 support is compiled in with the `s3` cargo feature.

use std::fmt;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;
use serde::Deserialize;

use crate::Config;

/// The `[object_store]` section. Every field can be overridden by
/// `SHUYUN_OBJECT_STORE_<FIELD>`, e.g. `SHUYUN_OBJECT_STORE_URL`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreConfig {
    /// `s3://bucket` or `s3://bucket/prefix`; left out, objects are files
    /// under `<data_dir>/objects`.
    #[serde(default)]
    pub url: Option<String>,
    /// The S3-compatible service, e.g. `http://minio.internal:9000` or
    /// `https://oss-cn-hangzhou.aliyuncs.com`; left out, AWS S3 of `region`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Signing region (default `us-east-1`, which MinIO expects).
    #[serde(default)]
    pub region: Option<String>,
    /// Allow a plain `http://` endpoint (inside a trusted network only).
    #[serde(default)]
    pub allow_http: bool,
    /// Address the bucket as `https://<bucket>.<endpoint host>` (virtual
    /// hosted style, which Alibaba Cloud OSS and Tencent COS require)
    /// instead of `<endpoint>/<bucket>` (path style, MinIO's default).
    #[serde(default)]
    pub virtual_hosted_style: bool,
    /// Read from the environment by [`Config::from_toml_and_env`].
    #[serde(skip)]
    pub credentials: Credentials,
}

/// Fields of `[object_store]`, overridable by `SHUYUN_OBJECT_STORE_<FIELD>`;
/// `true` for booleans.
pub(crate) const FIELDS: &[(&str, bool)] = &[
    ("url", false),
    ("endpoint", false),
    ("region", false),
    ("allow_http", true),
    ("virtual_hosted_style", true),
];

/// Names operators might use for credentials in the file, refused with a
/// pointer to the environment.
pub(crate) const CREDENTIAL_FIELDS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "session_token",
    "access_key",
    "secret_key",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "password",
];

/// How to give the store its credentials.
pub(crate) const CREDENTIALS_HELP: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or \
     SHUYUN_OBJECT_STORE_ACCESS_KEY_ID and SHUYUN_OBJECT_STORE_SECRET_ACCESS_KEY) in the \
     environment; credentials are never read from the configuration file";

/// A value that must not be printed: `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for handing to the store client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Credentials for the S3-compatible store, from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
}

impl Credentials {
    /// `SHUYUN_OBJECT_STORE_*` if either of its key variables is set, else
    /// `AWS_*`: the two sources are never mixed.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| env(name).filter(|v| !v.is_empty()).map(Secret);
        let from = |prefix: &str| Credentials {
            access_key_id: get(&format!("{prefix}ACCESS_KEY_ID")),
            secret_access_key: get(&format!("{prefix}SECRET_ACCESS_KEY")),
            session_token: get(&format!("{prefix}SESSION_TOKEN")),
        };
        let ours = from("SHUYUN_OBJECT_STORE_");
        if ours.access_key_id.is_some() || ours.secret_access_key.is_some() {
            ours
        } else {
            from("AWS_")
        }
    }
}

/// A parsed `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Objects are stored under this prefix; `None` for the bucket's root.
    pub prefix: Option<Path>,
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if let Some(p) = &self.prefix {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

impl S3Location {
    pub fn parse(url: &str) -> Result<Self, String> {
        let err = |why: &str| format!("object_store.url '{url}': {why}");
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(err(
                "only s3://bucket or s3://bucket/prefix is supported (leave url out to store \
                 files under <data_dir>/objects)",
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_bucket {
            return Err(err(&format!(
                "'{bucket}' is not a bucket name (3 to 63 lowercase letters, digits, '.' or \
                 '-', starting and ending with a letter or digit)"
            )));
        }
        if prefix.contains(['?', '#']) {
            return Err(err("the prefix may not contain '?' or '#'"));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            None
        } else {
            Some(
                Path::parse(prefix)
                    .map_err(|e| err(&format!("the prefix '{prefix}' is not a valid path: {e}")))?,
            )
        };
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

/// What [`ObjectStoreConfig`] asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Files under this directory.
    Local(std::path::PathBuf),
    S3 {
        location: S3Location,
        /// The endpoint as the client will use it (with the bucket in the
        /// host name for virtual hosted style).
        endpoint: Option<String>,
        region: Option<String>,
        allow_http: bool,
        virtual_hosted_style: bool,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local(dir) => write!(f, "files under {}", dir.display()),
            Target::S3 {
                location, endpoint, ..
            } => match endpoint {
                Some(e) => write!(f, "{location} at {e}"),
                None => write!(f, "{location} (AWS S3)"),
            },
        }
    }
}

impl ObjectStoreConfig {
    /// Checks the section (not the credentials, which only opening needs).
    pub fn target(&self, data_dir: &std::path::Path) -> Result<Target, String> {
        let Some(url) = &self.url else {
            if self.endpoint.is_some() || self.region.is_some() {
                return Err(
                    "object_store: endpoint and region need url = \"s3://bucket/prefix\"".into(),
                );
            }
            return Ok(Target::Local(data_dir.join("objects")));
        };
        let location = S3Location::parse(url.trim())?;
        let endpoint = match &self.endpoint {
            None => None,
            Some(e) => Some(self.check_endpoint(e.trim(), &location.bucket)?),
        };
        let region = match self.region.as_deref().map(str::trim) {
            None => None,
            Some(r)
                if !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(r.to_string())
            }
            Some(r) => return Err(format!("object_store.region '{r}' is not a region name")),
        };
        Ok(Target::S3 {
            location,
            endpoint,
            region,
            allow_http: self.allow_http,
            virtual_hosted_style: self.virtual_hosted_style,
        })
    }

    fn check_endpoint(&self, endpoint: &str, bucket: &str) -> Result<String, String> {
        let err = |why: &str| format!("object_store.endpoint '{endpoint}': {why}");
        let (scheme, rest) = endpoint
            .split_once("://")
            .ok_or_else(|| err("must start with https:// or http://"))?;
        match scheme {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(err(
                    "is plain HTTP: set allow_http = true to allow it (inside a trusted network only)",
                ));
            }
            _ => return Err(err("must start with https:// or http://")),
        }
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() || host.contains(['@', '?', '#']) {
            return Err(err("has no host name"));
        }
        if !path.trim_matches('/').is_empty() {
            return Err(err(
                "must not have a path (the bucket and prefix go in url)",
            ));
        }
        if self.virtual_hosted_style && !host.starts_with(&format!("{bucket}.")) {
            Ok(format!("{scheme}://{bucket}.{host}"))
        } else {
            Ok(format!("{scheme}://{host}"))
        }
    }
}

/// Opens the object store for resource data that `cfg` names.
pub fn open(cfg: &Config) -> Result<Arc<dyn ObjectStore>, String> {
    match cfg.object_store.target(&cfg.data_dir)? {
        Target::Local(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| format!("cannot open the object store at {}: {e}", dir.display()))?;
            Ok(Arc::new(fs))
        }
        target @ Target::S3 { .. } => open_s3(&target, &cfg.object_store.credentials),
    }
}

#[cfg(not(feature = "s3"))]
fn open_s3(target: &Target, _: &Credentials) -> Result<Arc<dyn ObjectStore>, String> {
    Err(format!(
        "the configuration stores data in {target}, but this shuyun was built without S3 \
         support: build it with `cargo build --release -p shuyun-cli --features s3`"
    ))
}

#[cfg(feature = "s3")]
fn open_s3(target: &Target, credentials: &Credentials) -> Result<Arc<dyn ObjectStore>, String> {
    use object_store::aws::{AmazonS3Builder, AwsCredential};
    use object_store::prefix::PrefixStore;

    let Target::S3 {
        location,
        endpoint,
        region,
        allow_http,
        virtual_hosted_style,
    } = target
    else {
        return Err("not an S3 target".into());
    };
    let (Some(key_id), Some(secret_key)) =
        (&credentials.access_key_id, &credentials.secret_access_key)
    else {
        return Err(format!("object store {target}: {CREDENTIALS_HELP}"));
    };
    let credential = AwsCredential {
        key_id: key_id.expose().to_string(),
        secret_key: secret_key.expose().to_string(),
        token: credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().to_string()),
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&location.bucket)
        .with_credentials(Arc::new(s3::Static(Arc::new(credential))))
        .with_allow_http(*allow_http)
        .with_virtual_hosted_style_request(*virtual_hosted_style);
    if let Some(e) = endpoint {
        builder = builder.with_endpoint(e);
    }
    if let Some(r) = region {
        builder = builder.with_region(r);
    }
    let s3 = builder
        .build()
        .map_err(|e| format!("cannot open the object store {target}: {e}"))?;
    Ok(match &location.prefix {
        Some(p) => Arc::new(PrefixStore::new(s3, p.clone())),
        None => Arc::new(s3),
    })
}

#[cfg(feature = "s3")]
mod s3 {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use object_store::CredentialProvider;
    use object_store::aws::AwsCredential;

    /// Fixed credentials whose `Debug` shows neither the key ID nor the
    /// secret (object_store's own provider prints the key ID).
    pub(super) struct Static(pub(super) Arc<AwsCredential>);

    impl std::fmt::Debug for Static {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("StaticCredentials(redacted)")
        }
    }

    type CredentialFuture<'a> =
        Pin<Box<dyn Future<Output = object_store::Result<Arc<AwsCredential>>> + Send + 'a>>;

    impl CredentialProvider for Static {
        type Credential = AwsCredential;

        // The desugared form of object_store's `#[async_trait]` method.
        fn get_credential<'life0, 'async_trait>(&'life0 self) -> CredentialFuture<'async_trait>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(std::future::ready(Ok(Arc::clone(&self.0))))
        }
    }
}

/// Checks at start-up that the store answers: lists the top level of the
/// store (one request), so a wrong endpoint, bucket or credentials stop the
/// server with a clear message instead of failing the first upload.
pub async fn probe(store: &dyn ObjectStore, target: &str) -> Result<(), String> {
    store
        .list_with_delimiter(None)
        .await
        .map(|_| ())
        .map_err(|e| format!("the object store {target} does not answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_toml_and_env(text, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    const MINIO: &str = "[object_store]\nurl = \"s3://shuyun-data/jdz/objects/\"\n\
                         endpoint = \"http://minio.internal:9000\"\nallow_http = true\n";
    const CREDS: &[(&str, &str)] = &[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret"),
    ];

    #[test]
    fn local_files_by_default() {
        let c = cfg("data_dir = \"d\"", CREDS).expect("defaults");
        assert_eq!(
            c.object_store.target(&c.data_dir),
            Ok(Target::Local(std::path::PathBuf::from("d/objects")))
        );
        // Credentials are not even read without an S3 url.
        assert_eq!(c.object_store.credentials, Credentials::default());
        let e = cfg("[object_store]\nendpoint = \"https://x\"\n", &[]).expect_err("no url");
        assert!(e.contains("need url"), "{e}");
    }

    #[test]
    fn s3_target_from_file_and_env() {
        let c = cfg(MINIO, CREDS).expect("minio");
        let t = c.object_store.target(&c.data_dir).expect("target");
        assert_eq!(
            t,
            Target::S3 {
                location: S3Location {
                    bucket: "shuyun-data".into(),
                    prefix: Some(Path::from("jdz/objects")),
                },
                endpoint: Some("http://minio.internal:9000".into()),
                region: None,
                allow_http: true,
                virtual_hosted_style: false,
            }
        );
        assert_eq!(
            t.to_string(),
            "s3://shuyun-data/jdz/objects at http://minio.internal:9000"
        );
        assert_eq!(
            c.object_store
                .credentials
                .secret_access_key
                .as_ref()
                .map(Secret::expose),
            Some("wJalrXUtnFEMI-secret")
        );
        // Every field can come from the environment alone.
        let c = cfg(
            "",
            &[
                ("SHUYUN_OBJECT_STORE_URL", "s3://bucket-1"),
                (
                    "SHUYUN_OBJECT_STORE_ENDPOINT",
                    "https://oss-cn-hangzhou.aliyuncs.com",
                ),
                ("SHUYUN_OBJECT_STORE_REGION", "oss-cn-hangzhou"),
                ("SHUYUN_OBJECT_STORE_VIRTUAL_HOSTED_STYLE", "true"),
            ],
        )
        .expect("env");
        match c.object_store.target(&c.data_dir).expect("target") {
            Target::S3 {
                location,
                endpoint,
                region,
                ..
            } => {
                assert_eq!(location.prefix, None);
                // Virtual hosted style puts the bucket in the host name, once.
                assert_eq!(
                    endpoint.as_deref(),
                    Some("https://bucket-1.oss-cn-hangzhou.aliyuncs.com")
                );
                assert_eq!(region.as_deref(), Some("oss-cn-hangzhou"));
            }
            t => panic!("{t:?}"),
        }
        let c = cfg(
            "[object_store]\nurl = \"s3://b-1\"\nvirtual_hosted_style = true\n\
             endpoint = \"https://b-1.cos.ap-beijing.myqcloud.com\"\n",
            &[],
        )
        .expect("bucket already in host");
        assert!(
            c.object_store
                .target(&c.data_dir)
                .expect("t")
                .to_string()
                .ends_with("at https://b-1.cos.ap-beijing.myqcloud.com")
        );
        let e = cfg("", &[("SHUYUN_OBJECT_STORE_ALLOW_HTTP", "maybe")]).expect_err("bool");
        assert!(e.contains("SHUYUN_OBJECT_STORE_ALLOW_HTTP"), "{e}");
    }

    #[test]
    fn bad_settings_are_named() {
        for (text, needle) in [
            ("url = \"gs://b/p\"", "only s3://"),
            ("url = \"s3://B/p\"", "not a bucket name"),
            ("url = \"s3://ab\"", "not a bucket name"),
            ("url = \"s3://bucket/a/../b\"", "not a valid path"),
            ("url = \"s3://bucket/a?x=1\"", "'?'"),
            (
                "url = \"s3://bucket\"\nendpoint = \"http://minio:9000\"",
                "allow_http = true",
            ),
            (
                "url = \"s3://bucket\"\nendpoint = \"minio:9000\"",
                "https://",
            ),
            (
                "url = \"s3://bucket\"\nendpoint = \"https://minio:9000/bucket\"",
                "must not have a path",
            ),
            ("url = \"s3://bucket\"\nregion = \"cn north\"", "region"),
        ] {
            // Checked when the configuration is read, before any command runs.
            let e = cfg(&format!("[object_store]\n{text}\n"), &[]).expect_err(text);
            assert!(e.starts_with("config: "), "{e}");
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(cfg("[object_store]\nbucket = \"x\"\n", &[]).is_err());
        assert!(cfg("object_store = \"s3://x\"\n", &[]).is_err());
    }

    #[test]
    fn credentials_only_from_the_environment() {
        let e = cfg(
            "[object_store]\nurl = \"s3://bucket\"\nsecret_access_key = \"hunter2-secret\"\n",
            &[],
        )
        .expect_err("secret in file");
        assert!(e.contains("never read from the configuration file"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        // SHUYUN_OBJECT_STORE_* wins over AWS_*, and the two are not mixed.
        let c = cfg(
            MINIO,
            &[
                ("AWS_ACCESS_KEY_ID", "aws-id"),
                ("AWS_SECRET_ACCESS_KEY", "aws-secret"),
                ("AWS_SESSION_TOKEN", "aws-token"),
                ("SHUYUN_OBJECT_STORE_ACCESS_KEY_ID", "our-id"),
                ("SHUYUN_OBJECT_STORE_SECRET_ACCESS_KEY", "our-secret"),
            ],
        )
        .expect("ours");
        let cr = &c.object_store.credentials;
        assert_eq!(
            cr.access_key_id.as_ref().map(Secret::expose),
            Some("our-id")
        );
        assert_eq!(
            cr.secret_access_key.as_ref().map(Secret::expose),
            Some("our-secret")
        );
        assert_eq!(cr.session_token, None);
        // Neither the key ID nor the secret shows in Debug output.
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("our-id") && !shown.contains("our-secret"),
            "{shown}"
        );
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn opening_without_credentials_or_support_is_explained() {
        let c = cfg(MINIO, &[]).expect("config");
        let e = open(&c).map(|_| ()).expect_err("cannot open");
        if cfg!(feature = "s3") {
            assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        } else {
            assert!(e.contains("built without S3 support"), "{e}");
            assert!(e.contains("--features s3"), "{e}");
        }
        assert!(e.contains("s3://shuyun-data/jdz/objects"), "{e}");
    }

    #[cfg(feature = "s3")]
    #[test]
    fn an_opened_store_does_not_show_its_credentials() {
        let c = cfg(MINIO, CREDS).expect("config");
        let store = open(&c).expect("builds without contacting the server");
        let shown = format!("{store:?} {store}");
        assert!(
            !shown.contains("AKIDEXAMPLE") && !shown.contains("wJalrXUtnFEMI"),
            "{shown}"
        );
        assert!(shown.contains("shuyun-data"), "{shown}");
    }
}
