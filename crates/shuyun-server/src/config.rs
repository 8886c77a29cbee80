//! Server configuration: a TOML file whose every key can be overridden by an
//! environment variable `SHUYUN_<KEY>` (upper case), e.g.
//! `SHUYUN_DATABASE_URL=postgres://…`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the platform keeps its files (SQLite database, keys, data).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `sqlite://…` (default: `<data_dir>/shuyun.db`) or `postgres://…`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// The checkpoint origin line: names this ledger to witnesses.
    #[serde(default = "default_origin")]
    pub ledger_origin: String,
    /// PKCS#8 PEM file of the ledger's SM2 signing key; created if missing.
    /// Default: `<data_dir>/ledger-sm2.pem`.
    #[serde(default)]
    pub ledger_key_file: Option<PathBuf>,
    /// Administrative division code of this platform (Jingdezhen: 360200).
    #[serde(default = "default_division")]
    pub division_code: String,
    /// `json` (default) or `text` logs.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// Mark cookies `Secure` (set when served over HTTPS).
    #[serde(default)]
    pub secure_cookies: bool,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_origin() -> String {
    "shuyun.local/ledger".into()
}
fn default_division() -> String {
    "360200".into()
}
fn default_log_format() -> String {
    "json".into()
}

const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "ledger_origin",
    "ledger_key_file",
    "division_code",
    "log_format",
    "secure_cookies",
];

impl Config {
    /// Parse TOML text, then apply `SHUYUN_*` overrides from `env`.
    pub fn from_toml_and_env(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| format!("config: {e}"))?;
        for key in KEYS {
            if let Some(v) = env(&format!("SHUYUN_{}", key.to_ascii_uppercase())) {
                let value = if *key == "secure_cookies" {
                    toml::Value::Boolean(matches!(v.as_str(), "1" | "true" | "yes"))
                } else {
                    toml::Value::String(v)
                };
                table.insert((*key).to_string(), value);
            }
        }
        let cfg: Config = table
            .try_into()
            .map_err(|e: toml::de::Error| format!("config: {e}"))?;
        cfg.division_code
            .parse::<shuyun_domain::DivisionCode>()
            .map_err(|e| format!("config: division_code: {}", e.message))?;
        Ok(cfg)
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("shuyun.db").display()))
    }

    pub fn ledger_key_file(&self) -> PathBuf {
        self.ledger_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("ledger-sm2.pem"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file() {
        let cfg = Config::from_toml_and_env(
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/shuyun\"\n",
            |k| (k == "SHUYUN_DATABASE_URL").then(|| "postgres://db/shuyun".to_string()),
        )
        .expect("config");
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.database_url(), "postgres://db/shuyun");
        let cfg = Config::from_toml_and_env("", |_| None).expect("defaults");
        assert_eq!(cfg.database_url(), "sqlite://data/shuyun.db");
        assert!(Config::from_toml_and_env("unknown_key = 1", |_| None).is_err());
        assert!(Config::from_toml_and_env("division_code = \"12\"", |_| None).is_err());
    }

    #[test]
    fn the_example_configuration_parses() {
        let text = include_str!("../../../shuyun.example.toml");
        let cfg = Config::from_toml_and_env(text, |_| None).expect("example config");
        assert_eq!(cfg.listen.port(), 8080);
    }
}
