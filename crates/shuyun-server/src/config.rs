//! Server configuration: a TOML file whose every key can be overridden by an
//! environment variable `SHUYUN_<KEY>` (upper case), e.g.
//! `SHUYUN_DATABASE_URL=postgres://…`. The `[calendar]` section is a table:
//! `SHUYUN_CALENDAR` holds its TOML text. Each field of the `[object_store]`
//! section has its own variable, `SHUYUN_OBJECT_STORE_<FIELD>`; the object
//! store's credentials come only from the environment (see [`crate::objects`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use shuyun_domain::WorkCalendar;

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
    /// The 32-byte secret the workspace's keyed pseudonyms derive from;
    /// created if missing. Default: `<data_dir>/workspace-pseudonym.key`.
    #[serde(default)]
    pub workspace_key_file: Option<PathBuf>,
    /// Administrative division code of this platform (Jingdezhen: 360200).
    #[serde(default = "default_division")]
    pub division_code: String,
    /// `json` (default) or `text` logs.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// Mark cookies `Secure` (set when served over HTTPS).
    #[serde(default)]
    pub secure_cookies: bool,
    /// Working-day calendar for statutory deadlines, validated: the
    /// `[calendar]` section (`shuyun_domain::calendar::CalendarConfig`).
    /// Default: the built-in 2025–2026 State Council schedules.
    #[serde(default)]
    pub calendar: WorkCalendar,
    /// Working days a source department has to verify and answer a
    /// correction ticket or objection (1 to 60).
    #[serde(default = "default_ticket_days")]
    pub ticket_working_days: u32,
    /// Where accepted data versions are stored: the `[object_store]`
    /// section (default: files under `<data_dir>/objects`).
    #[serde(default)]
    pub object_store: crate::objects::ObjectStoreConfig,
}

fn default_ticket_days() -> u32 {
    crate::DEFAULT_TICKET_WORKING_DAYS
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
    "workspace_key_file",
    "division_code",
    "log_format",
    "secure_cookies",
    "calendar",
    "ticket_working_days",
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
                let value = match *key {
                    "secure_cookies" => {
                        toml::Value::Boolean(matches!(v.as_str(), "1" | "true" | "yes"))
                    }
                    "ticket_working_days" => toml::Value::Integer(v.parse().map_err(|_| {
                        format!("config: SHUYUN_TICKET_WORKING_DAYS: '{v}' is not a number")
                    })?),
                    "calendar" => toml::Value::Table(
                        toml::from_str(&v).map_err(|e| format!("config: SHUYUN_CALENDAR: {e}"))?,
                    ),
                    _ => toml::Value::String(v),
                };
                table.insert((*key).to_string(), value);
            }
        }
        object_store_from_env(&mut table, &env)?;
        // Bare TOML dates (`from = 2026-02-15`) read like quoted ones.
        if let Some(calendar) = table.get_mut("calendar") {
            dates_as_strings(calendar);
        }
        let mut cfg: Config = table
            .try_into()
            .map_err(|e: toml::de::Error| format!("config: {e}"))?;
        cfg.division_code
            .parse::<shuyun_domain::DivisionCode>()
            .map_err(|e| format!("config: division_code: {}", e.message))?;
        if !(1..=60).contains(&cfg.ticket_working_days) {
            return Err("config: ticket_working_days must be 1 to 60".into());
        }
        cfg.object_store
            .target(&cfg.data_dir)
            .map_err(|e| format!("config: {e}"))?;
        if cfg.object_store.url.is_some() {
            cfg.object_store.credentials = crate::objects::Credentials::from_env(&env);
        }
        Ok(cfg)
    }

    /// The working-day calendar for statutory deadlines.
    pub fn calendar(&self) -> &WorkCalendar {
        &self.calendar
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

    pub fn workspace_key_file(&self) -> PathBuf {
        self.workspace_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("workspace-pseudonym.key"))
    }
}

/// Applies `SHUYUN_OBJECT_STORE_<FIELD>` overrides to the `[object_store]`
/// table and refuses credentials written in the file.
fn object_store_from_env(
    table: &mut toml::Table,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    use crate::objects::{CREDENTIAL_FIELDS, FIELDS};
    let mut overrides = toml::Table::new();
    for (field, boolean) in FIELDS {
        let var = format!("SHUYUN_OBJECT_STORE_{}", field.to_ascii_uppercase());
        if let Some(v) = env(&var) {
            let value = if *boolean {
                match v.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" => toml::Value::Boolean(true),
                    "0" | "false" | "no" | "" => toml::Value::Boolean(false),
                    _ => return Err(format!("config: {var}: '{v}' is not true or false")),
                }
            } else {
                toml::Value::String(v)
            };
            overrides.insert((*field).to_string(), value);
        }
    }
    if !overrides.is_empty() {
        let section = table
            .entry("object_store")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section) = section.as_table_mut() else {
            return Err("config: object_store must be a section ([object_store])".into());
        };
        section.extend(overrides);
    }
    if let Some(section) = table.get("object_store").and_then(toml::Value::as_table)
        && let Some(key) = section
            .keys()
            .find(|k| CREDENTIAL_FIELDS.contains(&k.to_ascii_lowercase().as_str()))
    {
        return Err(format!(
            "config: object_store.{key}: {}",
            crate::objects::CREDENTIALS_HELP
        ));
    }
    Ok(())
}

fn dates_as_strings(value: &mut toml::Value) {
    match value {
        toml::Value::Datetime(d) => *value = toml::Value::String(d.to_string()),
        toml::Value::Array(items) => items.iter_mut().for_each(dates_as_strings),
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, v)| dates_as_strings(v)),
        _ => {}
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
        // The example lists the 2026 notice exactly as built in.
        assert_eq!(cfg.calendar(), &WorkCalendar::builtin());
        assert_eq!(
            cfg.object_store.target(&cfg.data_dir),
            Ok(crate::objects::Target::Local(PathBuf::from("data/objects")))
        );
        // Its commented-out [object_store] section is valid once uncommented.
        let section: String = text
            .lines()
            .skip_while(|l| *l != "# [object_store]")
            .take_while(|l| l.starts_with("# "))
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        assert!(section.contains("url = "), "{section}");
        let cfg = Config::from_toml_and_env(&section, |_| None).expect("object_store example");
        let target = cfg.object_store.target(&cfg.data_dir).expect("target");
        assert_eq!(
            target.to_string(),
            "s3://shuyun-data/jingdezhen at http://minio.dc.internal:9000"
        );
    }

    #[test]
    fn calendar_section() {
        use shuyun_domain::Date;
        let date = |s: &str| s.parse::<Date>().expect("date");
        let cfg = Config::from_toml_and_env("", |_| None).expect("defaults");
        assert!(cfg.calendar().covers(2026));
        let text = "[calendar]\n[[calendar.years]]\nyear = 2027\n\
                    holidays = [{ name = \"元旦\", from = 2027-01-01 }]\n";
        let cfg = Config::from_toml_and_env(text, |_| None).expect("bare dates");
        assert!(cfg.calendar().covers(2027) && cfg.calendar().covers(2026));
        assert!(!cfg.calendar().is_working_day(date("2027-01-01")));
        let cfg = Config::from_toml_and_env(text, |k| {
            (k == "SHUYUN_CALENDAR").then(|| "builtin = false".to_string())
        })
        .expect("env override");
        assert!(!cfg.calendar().covers(2026));
        let bad = "[calendar]\n[[calendar.years]]\nyear = 2027\n\
                   holidays = [{ name = \"元旦\", from = \"2027-01-01\", workdays = [\"2027-01-04\"] }]\n";
        let err = Config::from_toml_and_env(bad, |_| None).expect_err("weekday worked");
        assert!(err.contains("2027-01-04 is a Monday"), "{err}");
        assert!(Config::from_toml_and_env("[calendar]\nbuiltins = true\n", |_| None).is_err());
    }

    #[test]
    fn ticket_working_days() {
        let cfg = Config::from_toml_and_env("", |_| None).expect("defaults");
        assert_eq!(cfg.ticket_working_days, crate::DEFAULT_TICKET_WORKING_DAYS);
        let cfg = Config::from_toml_and_env("", |k| {
            (k == "SHUYUN_TICKET_WORKING_DAYS").then(|| "5".to_string())
        })
        .expect("env");
        assert_eq!(cfg.ticket_working_days, 5);
        for bad in ["ticket_working_days = 0", "ticket_working_days = 61"] {
            let e = Config::from_toml_and_env(bad, |_| None).expect_err(bad);
            assert!(e.contains("1 to 60"), "{e}");
        }
        let e = Config::from_toml_and_env("", |k| {
            (k == "SHUYUN_TICKET_WORKING_DAYS").then(|| "ten".to_string())
        })
        .expect_err("not a number");
        assert!(e.contains("not a number"), "{e}");
    }
}
