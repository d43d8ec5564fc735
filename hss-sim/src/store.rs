//! The subscriber store: sqlx over SQLite (default) or PostgreSQL, chosen by the URL scheme.
//!
//! Queries use sqlx's runtime API with `$n` placeholders, which both SQLite and PostgreSQL accept,
//! so each statement is written once; [`with_pool!`] runs it against whichever pool is open.
//! The schema lives in `migrations/` and is applied by [`Store::connect`].

use crate::subscriber::{Amf, AuthScheme, Key128, ServiceProfile, Subscriber};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use std::str::FromStr;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite: or postgres:, got {0:?}")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row can not be turned back into a subscriber (edited by hand, or a bug).
    #[error("stored data for {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A public identity is already provisioned for another private identity.
    #[error("public identity {impu} already belongs to {owner}")]
    IdentityTaken { impu: String, owner: String },
}

/// Registration state of a public identity (TS 29.228 §6.1.2, Table 6.1.2.1 states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegistrationState {
    NotRegistered,
    Registered,
    /// Registered by an S-CSCF for terminating services of an unregistered user.
    Unregistered,
}

impl RegistrationState {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotRegistered => "NOT_REGISTERED",
            Self::Registered => "REGISTERED",
            Self::Unregistered => "UNREGISTERED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "NOT_REGISTERED" => Some(Self::NotRegistered),
            "REGISTERED" => Some(Self::Registered),
            "UNREGISTERED" => Some(Self::Unregistered),
            _ => None,
        }
    }
}

/// The registration record of one public identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub impu: String,
    pub impi: String,
    pub state: RegistrationState,
    /// The assigned S-CSCF (or, while NOT_REGISTERED, the one that asked for authentication).
    pub scscf_name: Option<String>,
}

enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the open pool, whatever its backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &*$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// A handle to the database; cheap to clone (the pools are reference counted).
#[derive(Clone)]
pub struct Store {
    backend: std::sync::Arc<Backend>,
}

/// Whether a create fails on an existing IMPI or replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Upsert,
    /// Replace an existing subscriber; `Ok(false)` when it does not exist.
    Update,
}

const SUBSCRIBER_COLUMNS: &str = "impi, k, op, opc, amf, sqn, auth_schemes, password, digest_realm, allowed_visited_networks, service_profiles";

impl Store {
    /// Opens `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`, `postgres://...`) and applies
    /// the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .foreign_keys(true);
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let pool = if memory {
                // Every connection to an in-memory database sees its own database: keep exactly
                // one, forever.
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await?
            } else {
                // WAL lets readers proceed while one MAR writes its SQN. synchronous=NORMAL is
                // the usual WAL pairing: a commit survives a crash of the process (only a power
                // loss may drop the last commits), and each MAR no longer waits for an fsync.
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(
                        options
                            .journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Normal),
                    )
                    .await?
            };
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres(PgPoolOptions::new().max_connections(8).connect(url).await?)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let store = Self {
            backend: std::sync::Arc::new(backend),
        };
        let migrator = sqlx::migrate!("./migrations");
        with_pool!(store, pool => migrator.run(pool).await?);
        Ok(store)
    }

    /// Writes a subscriber (validated by the caller) and its public identity index in one
    /// transaction. The stored SQN becomes the larger of the stored and the given one. Returns `false` only for [`WriteMode::Update`] of a missing IMPI.
    pub async fn put_subscriber(
        &self,
        s: &Subscriber,
        mode: WriteMode,
    ) -> Result<bool, StoreError> {
        let profiles =
            serde_json::to_string(&s.service_profiles).map_err(|e| StoreError::Corrupt {
                key: s.impi.clone(),
                reason: e.to_string(),
            })?;
        let schemes: Vec<&str> = s.auth_schemes.iter().map(|a| a.as_str()).collect();
        let schemes = schemes.join(",");
        let visited = s.allowed_visited_networks.join(",");
        let impus: Vec<String> = s.public_identities().map(|p| p.identity.clone()).collect();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let stored_sqn: Option<i64> =
                sqlx::query_scalar("SELECT sqn FROM subscribers WHERE impi = $1")
                    .bind(&s.impi)
                    .fetch_optional(&mut *tx)
                    .await?;
            let exists = stored_sqn.is_some();
            // SQN_HE never goes backwards through provisioning: a lower value would make the
            // USIM reject the next vectors (TS 33.102 Annex C.2) until a resynchronisation.
            let sqn = stored_sqn.map_or(s.sqn, |v| (v as u64).max(s.sqn));
            match (mode, exists) {
                (WriteMode::Create, true) => return Err(StoreError::AlreadyExists(s.impi.clone())),
                (WriteMode::Update, false) => return Ok(false),
                _ => {}
            }
            for impu in &impus {
                let owner: Option<String> =
                    sqlx::query_scalar("SELECT impi FROM public_identities WHERE impu = $1")
                        .bind(impu)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some(owner) = owner.filter(|o| *o != s.impi) {
                    return Err(StoreError::IdentityTaken { impu: impu.clone(), owner });
                }
            }
            let sql = format!(
                "INSERT INTO subscribers ({SUBSCRIBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (impi) DO UPDATE SET k = excluded.k, op = excluded.op, opc = excluded.opc, \
                 amf = excluded.amf, sqn = excluded.sqn, auth_schemes = excluded.auth_schemes, \
                 password = excluded.password, digest_realm = excluded.digest_realm, \
                 allowed_visited_networks = excluded.allowed_visited_networks, \
                 service_profiles = excluded.service_profiles"
            );
            sqlx::query(&sql)
                .bind(&s.impi)
                .bind(s.k.to_hex())
                .bind(s.op.map(|k| k.to_hex()))
                .bind(s.opc.map(|k| k.to_hex()))
                .bind(hex::encode(s.amf.0))
                .bind(sqn as i64)
                .bind(&schemes)
                .bind(&s.password)
                .bind(&s.digest_realm)
                .bind(&visited)
                .bind(&profiles)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM public_identities WHERE impi = $1")
                .bind(&s.impi)
                .execute(&mut *tx)
                .await?;
            for impu in &impus {
                sqlx::query("INSERT INTO public_identities (impu, impi) VALUES ($1, $2)")
                    .bind(impu)
                    .bind(&s.impi)
                    .execute(&mut *tx)
                    .await?;
            }
            // Registration records of identities no longer provisioned go with them.
            let rows = sqlx::query("SELECT impu FROM registrations WHERE impi = $1")
                .bind(&s.impi)
                .fetch_all(&mut *tx)
                .await?;
            for row in rows {
                let impu: String = row.try_get("impu")?;
                if !impus.contains(&impu) {
                    sqlx::query("DELETE FROM registrations WHERE impu = $1")
                        .bind(&impu)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The subscriber with private identity `impi`.
    pub async fn subscriber(&self, impi: &str) -> Result<Option<Subscriber>, StoreError> {
        let sql = format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE impi = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(&sql).bind(impi).fetch_optional(pool).await?;
            row.map(|r| decode_subscriber(&r)).transpose()
        })
    }

    /// The private identity owning public identity `impu`.
    pub async fn impi_of(&self, impu: &str) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("SELECT impi FROM public_identities WHERE impu = $1")
                .bind(impu)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// All subscribers, ordered by IMPI.
    pub async fn subscribers(&self) -> Result<Vec<Subscriber>, StoreError> {
        let sql = format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers ORDER BY impi");
        with_pool!(self, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(decode_subscriber).collect()
        })
    }

    /// Removes a subscriber with its identities and registrations; `false` if it did not exist.
    pub async fn delete_subscriber(&self, impi: &str) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for table in ["registrations", "public_identities"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE impi = $1"))
                    .bind(impi)
                    .execute(&mut *tx)
                    .await?;
            }
            let n = sqlx::query("DELETE FROM subscribers WHERE impi = $1")
                .bind(impi)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Sets SQN_HE to `new` if it is still `old` (compare-and-set, so concurrent MARs for the same
    /// user never hand out the same SQN). Returns whether the write happened.
    pub async fn compare_and_set_sqn(
        &self,
        impi: &str,
        old: u64,
        new: u64,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let n = sqlx::query("UPDATE subscribers SET sqn = $1 WHERE impi = $2 AND sqn = $3")
                .bind(new as i64)
                .bind(impi)
                .bind(old as i64)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// The stored SQN_HE.
    pub async fn sqn(&self, impi: &str) -> Result<Option<u64>, StoreError> {
        with_pool!(self, pool => {
            let v: Option<i64> = sqlx::query_scalar("SELECT sqn FROM subscribers WHERE impi = $1")
                .bind(impi)
                .fetch_optional(pool)
                .await?;
            Ok(v.map(|v| v as u64))
        })
    }

    /// The registration record of `impu` (NOT_REGISTERED without S-CSCF when none is stored).
    pub async fn assignment(&self, impu: &str, impi: &str) -> Result<Assignment, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT impu, impi, state, scscf_name FROM registrations WHERE impu = $1")
                .bind(impu)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(r) => decode_assignment(&r),
                None => Ok(Assignment {
                    impu: impu.to_owned(),
                    impi: impi.to_owned(),
                    state: RegistrationState::NotRegistered,
                    scscf_name: None,
                }),
            }
        })
    }

    /// Sets state and S-CSCF name of every identity in `impus` (an implicit registration set) in
    /// one transaction. NOT_REGISTERED without a name removes the records.
    pub async fn set_assignment(
        &self,
        impi: &str,
        impus: &[String],
        state: RegistrationState,
        scscf_name: Option<&str>,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for impu in impus {
                if state == RegistrationState::NotRegistered && scscf_name.is_none() {
                    sqlx::query("DELETE FROM registrations WHERE impu = $1")
                        .bind(impu)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    sqlx::query(
                        "INSERT INTO registrations (impu, impi, state, scscf_name) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (impu) DO UPDATE SET impi = excluded.impi, state = excluded.state, \
                         scscf_name = excluded.scscf_name",
                    )
                    .bind(impu)
                    .bind(impi)
                    .bind(state.as_str())
                    .bind(scscf_name)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Records that the S-CSCF `server_name` (SIP URI) is the Diameter node `diameter_host`.
    pub async fn remember_scscf_host(
        &self,
        server_name: &str,
        diameter_host: &str,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO scscf_hosts (server_name, diameter_host) VALUES ($1, $2) \
                 ON CONFLICT (server_name) DO UPDATE SET diameter_host = excluded.diameter_host",
            )
            .bind(server_name)
            .bind(diameter_host)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The Diameter identity recorded for the S-CSCF `server_name`.
    pub async fn scscf_host(&self, server_name: &str) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("SELECT diameter_host FROM scscf_hosts WHERE server_name = $1")
                .bind(server_name)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Every stored registration record (REGISTERED, UNREGISTERED, or a pending S-CSCF name).
    pub async fn assignments(&self) -> Result<Vec<Assignment>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT impu, impi, state, scscf_name FROM registrations ORDER BY impu")
                .fetch_all(pool)
                .await?;
            rows.iter().map(decode_assignment).collect()
        })
    }
}

fn decode_assignment<R: Row>(row: &R) -> Result<Assignment, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let impu: String = row.try_get("impu")?;
    let state: String = row.try_get("state")?;
    Ok(Assignment {
        impi: row.try_get("impi")?,
        state: RegistrationState::parse(&state).ok_or_else(|| StoreError::Corrupt {
            key: impu.clone(),
            reason: format!("unknown registration state {state:?}"),
        })?,
        scscf_name: row.try_get("scscf_name")?,
        impu,
    })
}

fn decode_subscriber<R: Row>(row: &R) -> Result<Subscriber, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let impi: String = row.try_get("impi")?;
    let corrupt = |field: &str, reason: String| StoreError::Corrupt {
        key: impi.clone(),
        reason: format!("{field}: {reason}"),
    };
    let key = |field: &str, v: Option<String>| -> Result<Option<Key128>, StoreError> {
        v.map(|t| Key128::from_hex(&t).map_err(|e| corrupt(field, e)))
            .transpose()
    };
    let k = key("k", Some(row.try_get("k")?))?.ok_or_else(|| corrupt("k", "missing".into()))?;
    let op = key("op", row.try_get("op")?)?;
    let opc = key("opc", row.try_get("opc")?)?;
    let amf: String = row.try_get("amf")?;
    let amf = Amf::from_hex(&amf).map_err(|e| corrupt("amf", e))?;
    let sqn: i64 = row.try_get("sqn")?;
    let schemes: String = row.try_get("auth_schemes")?;
    let auth_schemes = schemes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| AuthScheme::parse(s).ok_or_else(|| corrupt("auth_schemes", s.to_owned())))
        .collect::<Result<Vec<_>, _>>()?;
    let visited: String = row.try_get("allowed_visited_networks")?;
    let profiles: String = row.try_get("service_profiles")?;
    let service_profiles: Vec<ServiceProfile> =
        serde_json::from_str(&profiles).map_err(|e| corrupt("service_profiles", e.to_string()))?;
    Ok(Subscriber {
        k,
        op,
        opc,
        amf,
        sqn: sqn as u64,
        auth_schemes,
        password: row.try_get("password")?,
        digest_realm: row.try_get("digest_realm")?,
        allowed_visited_networks: visited
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        service_profiles,
        impi,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriber::tests::alice;

    #[tokio::test]
    async fn subscriber_round_trip_and_conflicts() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let mut a = alice();
        a.allowed_visited_networks = vec!["v1.example".into(), "v2.example".into()];
        assert!(store.put_subscriber(&a, WriteMode::Create).await.unwrap());
        assert_eq!(store.subscriber(&a.impi).await.unwrap(), Some(a.clone()));
        assert!(matches!(
            store.put_subscriber(&a, WriteMode::Create).await,
            Err(StoreError::AlreadyExists(_))
        ));
        let mut b = alice();
        b.impi = "bob@ims.example".into();
        assert!(!store.put_subscriber(&b, WriteMode::Update).await.unwrap());
        assert!(matches!(
            store.put_subscriber(&b, WriteMode::Upsert).await,
            Err(StoreError::IdentityTaken { .. })
        ));
        assert_eq!(
            store
                .impi_of("sip:alice@ims.example")
                .await
                .unwrap()
                .as_deref(),
            Some("alice@ims.example")
        );
        assert!(store.delete_subscriber(&a.impi).await.unwrap());
        assert!(!store.delete_subscriber(&a.impi).await.unwrap());
        assert_eq!(store.impi_of("sip:alice@ims.example").await.unwrap(), None);
    }

    #[tokio::test]
    async fn sqn_compare_and_set() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store
            .put_subscriber(&alice(), WriteMode::Create)
            .await
            .unwrap();
        assert!(store
            .compare_and_set_sqn("alice@ims.example", 0, 33)
            .await
            .unwrap());
        assert!(!store
            .compare_and_set_sqn("alice@ims.example", 0, 66)
            .await
            .unwrap());
        assert_eq!(store.sqn("alice@ims.example").await.unwrap(), Some(33));
    }

    #[tokio::test]
    async fn assignments_set_and_clear() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let a = alice();
        store.put_subscriber(&a, WriteMode::Create).await.unwrap();
        let set = vec!["sip:alice@ims.example".to_string()];
        store
            .set_assignment(
                &a.impi,
                &set,
                RegistrationState::Registered,
                Some("sip:scscf"),
            )
            .await
            .unwrap();
        let got = store.assignment(&set[0], &a.impi).await.unwrap();
        assert_eq!(got.state, RegistrationState::Registered);
        assert_eq!(got.scscf_name.as_deref(), Some("sip:scscf"));
        assert_eq!(store.assignments().await.unwrap().len(), 1);
        store
            .set_assignment(&a.impi, &set, RegistrationState::NotRegistered, None)
            .await
            .unwrap();
        assert!(store.assignments().await.unwrap().is_empty());
        store
            .remember_scscf_host("sip:scscf", "scscf.ims.example")
            .await
            .unwrap();
        store
            .remember_scscf_host("sip:scscf", "scscf2.ims.example")
            .await
            .unwrap();
        assert_eq!(
            store.scscf_host("sip:scscf").await.unwrap().as_deref(),
            Some("scscf2.ims.example")
        );
    }

    #[tokio::test]
    async fn rejects_unknown_url() {
        assert!(matches!(
            Store::connect("mysql://x").await,
            Err(StoreError::UnsupportedUrl(_))
        ));
    }
}
