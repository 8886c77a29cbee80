//! Organisations, users, sessions and API tokens (G3), each change written
//! to the ledger in its own transaction.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shuyun_domain::access::token_allows;
use shuyun_domain::policy::{self, SESSION_TTL_MS};
use shuyun_domain::{
    CreditCode, DivisionCode, DomainError, ErrorCode, OrgKind, Permission, Role, Username,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::ledger::LedgerEvent;
use crate::{Store, StoreError, StoreResult};

/// An organisation as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub name_en: String,
    pub kind: OrgKind,
    pub credit_code: String,
    pub division_code: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// A new organisation.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    /// Chinese name, e.g. 景德镇市数据局.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// English name.
    #[schemars(length(min = 1, max = 100))]
    pub name_en: String,
    pub kind: OrgKind,
    pub credit_code: CreditCode,
    pub division_code: DivisionCode,
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct User {
    pub id: i64,
    pub org_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub must_change_password: bool,
    pub disabled: bool,
    pub created_at: i64,
}

/// A new user; the role follows from the organisation's kind.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub org_id: i64,
    pub username: Username,
    #[schemars(length(min = 1, max = 100))]
    pub display_name: String,
    /// Initial password (10-128 characters mixing letters with digits or
    /// symbols); the user must change it at first login.
    #[schemars(length(min = 10, max = 128))]
    pub password: String,
}

/// An API token as listed (never the secret).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// First characters of the token, to recognise it.
    pub prefix: String,
    pub scopes: Vec<Permission>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// How a caller proved who they are.
#[derive(Debug, Clone)]
pub enum AuthKind {
    Session { token_hash: String, csrf: String },
    Token { id: i64, scopes: Vec<Permission> },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub org_id: i64,
    pub org_name: String,
    pub org_name_en: String,
    pub role: Role,
    pub must_change_password: bool,
    pub auth: AuthKind,
}

impl Principal {
    /// The actor string written to the ledger.
    pub fn actor(&self) -> String {
        match &self.auth {
            AuthKind::Session { .. } => format!("user:{}", self.user_id),
            AuthKind::Token { id, .. } => format!("user:{}/token:{id}", self.user_id),
        }
    }

    /// Whether this caller may use a route needing `perm`.
    pub fn allows(&self, perm: Permission) -> bool {
        match &self.auth {
            AuthKind::Session { .. } => self.role.grants(perm),
            AuthKind::Token { scopes, .. } => token_allows(self.role, scopes, perm),
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// SM3 hash (hex) under which secrets (session and API tokens) are stored.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(shuyun_ledger::sm3(secret.as_bytes()))
}

pub fn hash_password(pw: &str) -> StoreResult<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Domain(DomainError::internal(format!("password hashing: {e}"))))
}

fn password_matches(pw: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// A fixed hash to verify against when the user does not exist, so that
/// timing does not reveal which user names exist.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn flag(row: &AnyRow, col: &str) -> StoreResult<bool> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

fn org_from_row(row: &AnyRow) -> StoreResult<Org> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        kind: OrgKind::parse(&row.try_get::<String, _>("kind")?)?,
        credit_code: row.try_get("credit_code")?,
        division_code: row.try_get("division_code")?,
        disabled: flag(row, "disabled")?,
        created_at: row.try_get("created_at")?,
    })
}

fn user_from_row(row: &AnyRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        must_change_password: flag(row, "must_change_password")?,
        disabled: flag(row, "disabled")?,
        created_at: row.try_get("created_at")?,
    })
}

fn scopes_to_text(scopes: &[Permission]) -> String {
    scopes
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn scopes_from_text(s: &str) -> StoreResult<Vec<Permission>> {
    s.split_whitespace()
        .map(|p| Permission::parse(p).map_err(StoreError::from))
        .collect()
}

fn token_from_row(row: &AnyRow) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        scopes: scopes_from_text(&row.try_get::<String, _>("scopes")?)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

const PRINCIPAL_COLUMNS: &str = "u.id AS user_id, u.username, u.display_name, u.role, u.disabled AS user_disabled, \
     u.must_change_password, o.id AS org_id, o.name AS org_name, o.name_en AS org_name_en, o.disabled AS org_disabled";

fn principal_from_row(row: &AnyRow, auth: AuthKind) -> StoreResult<Principal> {
    if flag(row, "user_disabled")? || flag(row, "org_disabled")? {
        return Err(
            DomainError::new(ErrorCode::AccountDisabled, "this account is disabled").into(),
        );
    }
    Ok(Principal {
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        org_id: row.try_get("org_id")?,
        org_name: row.try_get("org_name")?,
        org_name_en: row.try_get("org_name_en")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        must_change_password: flag(row, "must_change_password")?,
        auth,
    })
}

/// The result of a successful login: the session secret for the cookie.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub expires_at: i64,
    pub principal: Principal,
}

/// A newly issued API token; `token` is shown once and never stored.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IssuedToken {
    pub token: String,
    pub info: ApiToken,
}

impl Store {
    // ---- organisations -------------------------------------------------

    pub async fn create_org(&self, actor: &str, new: NewOrg, now_ms: i64) -> StoreResult<Org> {
        let name = policy::check_name("name", &new.name)?;
        let name_en = policy::check_name("name_en", &new.name_en)?;
        let mut tx = self.begin(now_ms).await?;
        let row = sqlx::query(
            "INSERT INTO orgs (name, name_en, kind, credit_code, division_code, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING *",
        )
        .bind(name)
        .bind(name_en)
        .bind(new.kind.as_str())
        .bind(new.credit_code.as_str())
        .bind(new.division_code.as_str())
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?;
        let org = org_from_row(&row)?;
        tx.record(LedgerEvent::new(
            actor,
            "org.create",
            format!("org:{}", org.id),
            json!({"name": org.name, "kind": org.kind, "credit_code": org.credit_code}),
        ));
        tx.commit().await?;
        Ok(org)
    }

    pub async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        let rows = sqlx::query("SELECT * FROM orgs ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(org_from_row).collect()
    }

    pub async fn org(&self, id: i64) -> StoreResult<Org> {
        let row = sqlx::query("SELECT * FROM orgs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("organisation {id}")))?;
        org_from_row(&row)
    }

    /// Disable or re-enable an organisation; disabling ends its users' sessions.
    pub async fn set_org_disabled(
        &self,
        actor: &str,
        id: i64,
        disabled: bool,
        now_ms: i64,
    ) -> StoreResult<Org> {
        let mut tx = self.begin(now_ms).await?;
        let row = sqlx::query("UPDATE orgs SET disabled = $1 WHERE id = $2 RETURNING *")
            .bind(i64::from(disabled))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| DomainError::not_found(format!("organisation {id}")))?;
        if disabled {
            sqlx::query("UPDATE sessions SET revoked = 1 WHERE user_id IN (SELECT id FROM users WHERE org_id = $1)")
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        let action = if disabled {
            "org.disable"
        } else {
            "org.enable"
        };
        tx.record(LedgerEvent::new(
            actor,
            action,
            format!("org:{id}"),
            json!({}),
        ));
        tx.commit().await?;
        org_from_row(&row)
    }

    // ---- users ---------------------------------------------------------

    pub async fn create_user(
        &self,
        actor: &str,
        new: NewUser,
        must_change: bool,
        now_ms: i64,
    ) -> StoreResult<User> {
        let display = policy::check_name("display_name", &new.display_name)?;
        policy::check_password(&new.password)?;
        let org = self.org(new.org_id).await.map_err(|_| {
            DomainError::invalid(
                "org_id",
                format!("organisation {} does not exist", new.org_id),
            )
        })?;
        let hash = hash_password(&new.password)?;
        let mut tx = self.begin(now_ms).await?;
        let row = sqlx::query(
            "INSERT INTO users (org_id, username, display_name, role, password_hash, must_change_password, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING *",
        )
        .bind(org.id)
        .bind(new.username.as_str())
        .bind(display)
        .bind(org.kind.role().as_str())
        .bind(hash)
        .bind(i64::from(must_change))
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?;
        let user = user_from_row(&row)?;
        tx.record(LedgerEvent::new(
            actor,
            "user.create",
            format!("user:{}", user.id),
            json!({"username": user.username, "org_id": org.id, "role": user.role}),
        ));
        tx.commit().await?;
        Ok(user)
    }

    pub async fn list_users(&self, org_id: Option<i64>) -> StoreResult<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users WHERE ($1 = 0 OR org_id = $1) ORDER BY id")
            .bind(org_id.unwrap_or(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn user(&self, id: i64) -> StoreResult<User> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("user {id}")))?;
        user_from_row(&row)
    }

    /// Disable or enable a user. Disabling ends their sessions and tokens at once.
    pub async fn set_user_disabled(
        &self,
        actor: &str,
        id: i64,
        disabled: bool,
        now_ms: i64,
    ) -> StoreResult<User> {
        let mut tx = self.begin(now_ms).await?;
        let row = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2 RETURNING *")
            .bind(i64::from(disabled))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| DomainError::not_found(format!("user {id}")))?;
        if disabled {
            sqlx::query("UPDATE sessions SET revoked = 1 WHERE user_id = $1")
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        tx.record(LedgerEvent::new(
            actor,
            action,
            format!("user:{id}"),
            json!({}),
        ));
        tx.commit().await?;
        user_from_row(&row)
    }

    /// Reset a user's password to a new random one, shown once to the
    /// administrator; the user must change it at next login. Ends sessions.
    pub async fn reset_password(&self, actor: &str, id: i64, now_ms: i64) -> StoreResult<String> {
        let temp = format!("Sy-{}", random_hex(8));
        let hash = hash_password(&temp)?;
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = 1 WHERE id = $2",
        )
        .bind(hash)
        .bind(id)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(DomainError::not_found(format!("user {id}")).into());
        }
        sqlx::query("UPDATE sessions SET revoked = 1 WHERE user_id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.record(LedgerEvent::new(
            actor,
            "user.reset_password",
            format!("user:{id}"),
            json!({}),
        ));
        tx.commit().await?;
        Ok(temp)
    }

    /// A user changes their own password, proving the current one.
    pub async fn change_password(
        &self,
        p: &Principal,
        current: &str,
        new: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        policy::check_password(new)?;
        if current == new {
            return Err(DomainError::invalid(
                "new_password",
                "the new password must differ from the current one",
            )
            .into());
        }
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(p.user_id)
            .fetch_one(&self.pool)
            .await?;
        if !password_matches(current, &row.try_get::<String, _>("password_hash")?) {
            return Err(
                DomainError::invalid("current_password", "the current password is wrong").into(),
            );
        }
        let hash = hash_password(new)?;
        let mut tx = self.begin(now_ms).await?;
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 0 WHERE id = $2")
            .bind(hash)
            .bind(p.user_id)
            .execute(tx.conn())
            .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "user.change_password",
            format!("user:{}", p.user_id),
            json!({}),
        ));
        tx.commit().await?;
        Ok(())
    }

    // ---- login and sessions ------------------------------------------

    /// Check a user name and password. Success creates a session; both
    /// outcomes are written to the ledger. `client` names the caller's
    /// address for the record.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
        now_ms: i64,
    ) -> StoreResult<NewSession> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRINCIPAL_COLUMNS}, u.password_hash FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.username = $1"
        )))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let stored = match &row {
            Some(r) => r.try_get::<String, _>("password_hash")?,
            None => DUMMY_HASH
                .get_or_init(|| hash_password("timing-equaliser-0").unwrap_or_default())
                .clone(),
        };
        let matched = password_matches(password, &stored) && row.is_some();
        let session_token = random_hex(32);
        let csrf = random_hex(16);
        let principal = match (&row, matched) {
            (Some(r), true) => principal_from_row(
                r,
                AuthKind::Session {
                    token_hash: secret_hash(&session_token),
                    csrf: csrf.clone(),
                },
            ),
            _ => Err(
                DomainError::new(ErrorCode::Unauthenticated, "wrong user name or password").into(),
            ),
        };
        let mut tx = self.begin(now_ms).await?;
        let user_object = match &row {
            Some(r) => format!("user:{}", r.try_get::<i64, _>("user_id")?),
            None => "user:unknown".to_string(),
        };
        let principal = match principal {
            Ok(p) => p,
            Err(e) => {
                let reason = match &e {
                    StoreError::Domain(d) => d.code.as_str(),
                    _ => "error",
                };
                tx.record(LedgerEvent::new(
                    "anonymous",
                    "auth.login_failed",
                    user_object,
                    json!({"username": username.chars().take(64).collect::<String>(), "client": client, "reason": reason}),
                ));
                tx.commit().await?;
                return Err(e);
            }
        };
        let expires_at = now_ms + SESSION_TTL_MS;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, revoked) VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(secret_hash(&session_token))
        .bind(principal.user_id)
        .bind(&csrf)
        .bind(now_ms)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
        tx.record(LedgerEvent::new(
            format!("user:{}", principal.user_id),
            "auth.login",
            user_object,
            json!({"client": client}),
        ));
        tx.commit().await?;
        Ok(NewSession {
            token: session_token,
            csrf,
            expires_at,
            principal,
        })
    }

    /// The caller behind a session cookie, if the session is live.
    pub async fn session_principal(&self, token: &str, now_ms: i64) -> StoreResult<Principal> {
        let hash = secret_hash(token);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRINCIPAL_COLUMNS}, s.csrf_token, s.expires_at, s.revoked FROM sessions s \
             JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id WHERE s.token_hash = $1"
        )))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DomainError::new(ErrorCode::Unauthenticated, "the session is unknown or has ended"))?;
        if flag(&row, "revoked")? || row.try_get::<i64, _>("expires_at")? <= now_ms {
            return Err(DomainError::new(
                ErrorCode::Unauthenticated,
                "the session has ended; sign in again",
            )
            .into());
        }
        let csrf = row.try_get("csrf_token")?;
        principal_from_row(
            &row,
            AuthKind::Session {
                token_hash: hash,
                csrf,
            },
        )
    }

    pub async fn logout(&self, p: &Principal, now_ms: i64) -> StoreResult<()> {
        let AuthKind::Session { token_hash, .. } = &p.auth else {
            return Ok(());
        };
        let mut tx = self.begin(now_ms).await?;
        sqlx::query("UPDATE sessions SET revoked = 1 WHERE token_hash = $1")
            .bind(token_hash)
            .execute(tx.conn())
            .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "auth.logout",
            format!("user:{}", p.user_id),
            json!({}),
        ));
        tx.commit().await?;
        Ok(())
    }

    // ---- API tokens ----------------------------------------------------

    /// Issue a token for `user_id`, scoped to `scopes` (a subset of the
    /// owner's permissions; empty = all of them), expiring after `days`.
    pub async fn issue_token(
        &self,
        actor: &Principal,
        user_id: i64,
        name: &str,
        scopes: &[Permission],
        days: u32,
        now_ms: i64,
    ) -> StoreResult<IssuedToken> {
        let name = policy::check_name("name", name)?;
        policy::check_token_days(days)?;
        let owner = self.user(user_id).await?;
        if owner.disabled {
            return Err(DomainError::new(
                ErrorCode::AccountDisabled,
                "cannot issue a token to a disabled user",
            )
            .into());
        }
        for s in scopes {
            if !s.scopable() || !owner.role.grants(*s) {
                return Err(DomainError::invalid(
                    "scopes",
                    format!(
                        "the role {} does not hold '{}'",
                        owner.role.as_str(),
                        s.as_str()
                    ),
                )
                .into());
            }
        }
        let token = format!("sy_{}", random_hex(24));
        let prefix = token[..11].to_string();
        let expires_at = now_ms + i64::from(days) * 86_400_000;
        let mut tx = self.begin(now_ms).await?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, scopes, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        )
        .bind(user_id)
        .bind(&name)
        .bind(&prefix)
        .bind(secret_hash(&token))
        .bind(scopes_to_text(scopes))
        .bind(actor.user_id)
        .bind(now_ms)
        .bind(expires_at)
        .fetch_one(tx.conn())
        .await?;
        let info = token_from_row(&row)?;
        tx.record(LedgerEvent::new(
            actor.actor(),
            "token.issue",
            format!("token:{}", info.id),
            json!({"user_id": user_id, "name": name, "prefix": prefix, "scopes": scopes, "expires_at": expires_at}),
        ));
        tx.commit().await?;
        Ok(IssuedToken { token, info })
    }

    pub async fn list_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY id DESC")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    pub async fn token(&self, id: i64) -> StoreResult<ApiToken> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("token {id}")))?;
        token_from_row(&row)
    }

    pub async fn revoke_token(
        &self,
        actor: &Principal,
        id: i64,
        now_ms: i64,
    ) -> StoreResult<ApiToken> {
        let mut tx = self.begin(now_ms).await?;
        let row = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING *")
            .bind(now_ms)
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else {
            drop(tx);
            // Either unknown or already revoked: say which.
            let t = self.token(id).await?;
            return Err(DomainError::conflict(format!("token {} is already revoked", t.id)).into());
        };
        tx.record(LedgerEvent::new(
            actor.actor(),
            "token.revoke",
            format!("token:{id}"),
            json!({}),
        ));
        tx.commit().await?;
        token_from_row(&row)
    }

    /// The caller behind a bearer token. Refuses unknown, expired and revoked
    /// tokens with distinct codes.
    pub async fn token_principal(&self, token: &str, now_ms: i64) -> StoreResult<Principal> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRINCIPAL_COLUMNS}, t.id AS token_id, t.scopes, t.expires_at, t.revoked_at, t.last_used_at FROM api_tokens t \
             JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org_id WHERE t.token_hash = $1"
        )))
        .bind(secret_hash(token))
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DomainError::new(ErrorCode::Unauthenticated, "unknown API token"))?;
        if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            return Err(
                DomainError::new(ErrorCode::TokenRevoked, "this API token was revoked").into(),
            );
        }
        if row.try_get::<i64, _>("expires_at")? <= now_ms {
            return Err(
                DomainError::new(ErrorCode::TokenExpired, "this API token has expired").into(),
            );
        }
        let id: i64 = row.try_get("token_id")?;
        let scopes = scopes_from_text(&row.try_get::<String, _>("scopes")?)?;
        let p = principal_from_row(&row, AuthKind::Token { id, scopes })?;
        // Record last use at most once a minute; not a state change worth a ledger entry.
        let last: Option<i64> = row.try_get("last_used_at")?;
        if last.is_none_or(|l| now_ms - l > 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(p)
    }
}
