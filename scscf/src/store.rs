//! Persistence of registrations so an S-CSCF restart loses none (DESIGN §3).
//!
//! The registrar is sans-IO: it emits [`StoreOp`]s in its actions and the driver applies them to
//! a [`RegistrationStore`]; on start the driver calls [`RegistrationStore::load_all`] and hands
//! the [`StoreSnapshot`] to [`crate::register::Registrar::restore`]. Stored are the registrations
//! (identities, User-Data, bindings with Path) and the outstanding challenges, so a UE that got
//! its 401 before the restart can still answer it.
//!
//! [`SqlStore`] keeps them in SQLite (default) or PostgreSQL: the migrations under
//! `scscf/migrations` use only types and statements both accept (TEXT, BIGINT, `$n`
//! placeholders, `ON CONFLICT ... DO UPDATE`); the SQLite path runs in the unit tests, the
//! PostgreSQL one in the ignored test `postgres_round_trip` (needs a server). [`MemoryStore`]
//! is the in-process variant.

use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported database.
    #[error("database URL must start with sqlite: or postgres:, got {0:?}")]
    UnsupportedUrl(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value cannot be read back (edited by hand, or a bug).
    #[error("stored data for {key} is corrupt: {reason}")]
    Corrupt {
        /// Row key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The in-memory store's lock was poisoned by a panicking writer.
    #[error("store lock poisoned")]
    Poisoned,
}

/// One stored binding; times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRecord {
    /// Contact value without `expires`.
    pub contact: String,
    /// Registering IMPI.
    pub impi: String,
    /// Expiry.
    pub expires_at_ms: i64,
    /// q in thousandths.
    pub q: i64,
    /// `+sip.instance`.
    pub instance: Option<String>,
    /// `reg-id`.
    pub reg_id: Option<i64>,
    /// Path as one comma-separated header value (empty when none).
    pub path: String,
    /// Call-ID.
    pub call_id: String,
    /// CSeq.
    pub cseq: i64,
}

/// One stored registration (implicit registration set and its bindings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    /// Key: the registered public identity.
    pub impu: String,
    /// Private identity.
    pub impi: String,
    /// User-Data XML from the SAA.
    pub user_data: Option<String>,
    /// P-Charging-Function-Addresses value.
    pub charging_function_addresses: Option<String>,
    /// Bindings.
    pub bindings: Vec<BindingRecord>,
}

/// One stored challenge; byte fields in lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    /// Key.
    pub nonce: String,
    /// IMPI.
    pub impi: String,
    /// IMPU key.
    pub impu: String,
    /// Digest algorithm token.
    pub algorithm: String,
    /// Realm.
    pub realm: String,
    /// qop offered.
    pub qop: String,
    /// AKA: RAND ‖ AUTN.
    pub sip_authenticate: Option<String>,
    /// AKA: XRES.
    pub xres: Option<String>,
    /// AKA: CK.
    pub ck: Option<String>,
    /// AKA: IK.
    pub ik: Option<String>,
    /// SIP Digest: HA1.
    pub ha1: Option<String>,
    /// End of validity.
    pub expires_at_ms: i64,
    /// Purge time.
    pub purge_at_ms: i64,
    /// `pending`, `consumed` or `expired`.
    pub state: String,
    /// Highest nc accepted.
    pub last_nc: i64,
}

/// A change the registrar asks the driver to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Insert or replace a registration with all its bindings.
    SaveRegistration(RegistrationRecord),
    /// Delete a registration (keyed by its IMPU).
    RemoveRegistration {
        /// Key.
        impu: String,
    },
    /// Insert or replace a challenge.
    SaveChallenge(Box<ChallengeRecord>),
    /// Delete a challenge.
    RemoveChallenge {
        /// Key.
        nonce: String,
    },
}

/// Everything stored, for [`crate::register::Registrar::restore`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreSnapshot {
    /// Registrations, ordered by IMPU.
    pub registrations: Vec<RegistrationRecord>,
    /// Challenges, ordered by nonce.
    pub challenges: Vec<ChallengeRecord>,
}

/// Where registrations are kept across restarts.
pub trait RegistrationStore {
    /// Applies one change.
    fn apply(&self, op: &StoreOp) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Loads everything.
    fn load_all(&self) -> impl Future<Output = Result<StoreSnapshot, StoreError>> + Send;
}

/// Milliseconds since the epoch (times before it clamp to 0).
pub fn to_ms(t: SystemTime) -> i64 {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Inverse of [`to_ms`] (negative values clamp to the epoch).
pub fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

// ---------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------

/// A store in process memory (tests, and the single-process `ims up` where a restart is a new
/// process anyway).
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    registrations: BTreeMap<String, RegistrationRecord>,
    challenges: BTreeMap<String, ChallengeRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn apply_now(&self, op: &StoreOp) -> Result<(), StoreError> {
        let mut g = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        match op {
            StoreOp::SaveRegistration(r) => {
                g.registrations.insert(r.impu.clone(), r.clone());
            }
            StoreOp::RemoveRegistration { impu } => {
                g.registrations.remove(impu);
            }
            StoreOp::SaveChallenge(c) => {
                g.challenges.insert(c.nonce.clone(), (**c).clone());
            }
            StoreOp::RemoveChallenge { nonce } => {
                g.challenges.remove(nonce);
            }
        }
        Ok(())
    }

    fn load_now(&self) -> Result<StoreSnapshot, StoreError> {
        let g = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(StoreSnapshot {
            registrations: g.registrations.values().cloned().collect(),
            challenges: g.challenges.values().cloned().collect(),
        })
    }
}

impl RegistrationStore for MemoryStore {
    fn apply(&self, op: &StoreOp) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(self.apply_now(op))
    }

    fn load_all(&self) -> impl Future<Output = Result<StoreSnapshot, StoreError>> + Send {
        std::future::ready(self.load_now())
    }
}

// ---------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Registrations in SQLite or PostgreSQL, chosen by the URL scheme.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
}

/// Runs `$body` with `$pool` bound to whichever pool is open; the statements are the same text
/// for both backends.
macro_rules! with_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match &$self.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

const SELECT_REGISTRATIONS: &str = "SELECT impu, impi, user_data, \
     charging_function_addresses FROM scscf_registrations ORDER BY impu";
const SELECT_BINDINGS: &str = "SELECT impu, contact, impi, expires_at, q, instance, reg_id, \
     path, call_id, cseq FROM scscf_bindings ORDER BY impu, position";
const SELECT_CHALLENGES: &str = "SELECT nonce, impi, impu, algorithm, realm, qop, \
     sip_authenticate, xres, ck, ik, ha1, expires_at, purge_at, state, last_nc \
     FROM scscf_challenges ORDER BY nonce";
const UPSERT_REGISTRATION: &str = "INSERT INTO scscf_registrations (impu, impi, user_data, \
     charging_function_addresses) VALUES ($1, $2, $3, $4) ON CONFLICT (impu) DO UPDATE \
     SET impi = $2, user_data = $3, charging_function_addresses = $4";
const DELETE_BINDINGS: &str = "DELETE FROM scscf_bindings WHERE impu = $1";
const INSERT_BINDING: &str = "INSERT INTO scscf_bindings (impu, position, contact, impi, \
     expires_at, q, instance, reg_id, path, call_id, cseq) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const DELETE_REGISTRATION: &str = "DELETE FROM scscf_registrations WHERE impu = $1";
const UPSERT_CHALLENGE: &str = "INSERT INTO scscf_challenges (nonce, impi, impu, algorithm, \
     realm, qop, sip_authenticate, xres, ck, ik, ha1, expires_at, purge_at, state, last_nc) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
     ON CONFLICT (nonce) DO UPDATE SET state = $14, last_nc = $15, purge_at = $13";
const DELETE_CHALLENGE: &str = "DELETE FROM scscf_challenges WHERE nonce = $1";

impl SqlStore {
    /// Opens `url` (`sqlite:...` or `postgres://...`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
            // An in-memory SQLite database lives in one connection: keep exactly one.
            let max = if url.contains(":memory:") || url.contains("mode=memory") {
                1
            } else {
                4
            };
            Backend::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(max)
                    .connect_with(opts)
                    .await?,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres(PgPoolOptions::new().max_connections(8).connect(url).await?)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let store = SqlStore { backend };
        with_pool!(store, pool => MIGRATOR.run(pool).await?);
        Ok(store)
    }
}

impl RegistrationStore for SqlStore {
    fn apply(&self, op: &StoreOp) -> impl Future<Output = Result<(), StoreError>> + Send {
        let op = op.clone();
        let this = self.clone();
        async move {
            match &op {
                StoreOp::SaveRegistration(r) => with_pool!(this, pool => {
                    let mut tx = pool.begin().await?;
                    sqlx::query(UPSERT_REGISTRATION)
                        .bind(&r.impu)
                        .bind(&r.impi)
                        .bind(&r.user_data)
                        .bind(&r.charging_function_addresses)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(DELETE_BINDINGS).bind(&r.impu).execute(&mut *tx).await?;
                    for (i, b) in r.bindings.iter().enumerate() {
                        sqlx::query(INSERT_BINDING)
                            .bind(&r.impu)
                            .bind(i64::try_from(i).unwrap_or(i64::MAX))
                            .bind(&b.contact)
                            .bind(&b.impi)
                            .bind(b.expires_at_ms)
                            .bind(b.q)
                            .bind(&b.instance)
                            .bind(b.reg_id)
                            .bind(&b.path)
                            .bind(&b.call_id)
                            .bind(b.cseq)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                }),
                StoreOp::RemoveRegistration { impu } => with_pool!(this, pool => {
                    let mut tx = pool.begin().await?;
                    sqlx::query(DELETE_BINDINGS).bind(impu).execute(&mut *tx).await?;
                    sqlx::query(DELETE_REGISTRATION).bind(impu).execute(&mut *tx).await?;
                    tx.commit().await?;
                }),
                StoreOp::SaveChallenge(c) => with_pool!(this, pool => {
                    sqlx::query(UPSERT_CHALLENGE)
                        .bind(&c.nonce)
                        .bind(&c.impi)
                        .bind(&c.impu)
                        .bind(&c.algorithm)
                        .bind(&c.realm)
                        .bind(&c.qop)
                        .bind(&c.sip_authenticate)
                        .bind(&c.xres)
                        .bind(&c.ck)
                        .bind(&c.ik)
                        .bind(&c.ha1)
                        .bind(c.expires_at_ms)
                        .bind(c.purge_at_ms)
                        .bind(&c.state)
                        .bind(c.last_nc)
                        .execute(pool)
                        .await?;
                }),
                StoreOp::RemoveChallenge { nonce } => with_pool!(this, pool => {
                    sqlx::query(DELETE_CHALLENGE).bind(nonce).execute(pool).await?;
                }),
            }
            Ok(())
        }
    }

    fn load_all(&self) -> impl Future<Output = Result<StoreSnapshot, StoreError>> + Send {
        let this = self.clone();
        async move {
            with_pool!(this, pool => {
                let mut regs: BTreeMap<String, RegistrationRecord> = BTreeMap::new();
                for row in sqlx::query(SELECT_REGISTRATIONS).fetch_all(pool).await? {
                    let impu: String = row.try_get(0)?;
                    regs.insert(
                        impu.clone(),
                        RegistrationRecord {
                            impu,
                            impi: row.try_get(1)?,
                            user_data: row.try_get(2)?,
                            charging_function_addresses: row.try_get(3)?,
                            bindings: Vec::new(),
                        },
                    );
                }
                for row in sqlx::query(SELECT_BINDINGS).fetch_all(pool).await? {
                    let impu: String = row.try_get(0)?;
                    let reg = regs.get_mut(&impu).ok_or_else(|| StoreError::Corrupt {
                        key: impu.clone(),
                        reason: "binding without registration".into(),
                    })?;
                    reg.bindings.push(BindingRecord {
                        contact: row.try_get(1)?,
                        impi: row.try_get(2)?,
                        expires_at_ms: row.try_get(3)?,
                        q: row.try_get(4)?,
                        instance: row.try_get(5)?,
                        reg_id: row.try_get(6)?,
                        path: row.try_get(7)?,
                        call_id: row.try_get(8)?,
                        cseq: row.try_get(9)?,
                    });
                }
                let mut challenges = Vec::new();
                for row in sqlx::query(SELECT_CHALLENGES).fetch_all(pool).await? {
                    challenges.push(ChallengeRecord {
                        nonce: row.try_get(0)?,
                        impi: row.try_get(1)?,
                        impu: row.try_get(2)?,
                        algorithm: row.try_get(3)?,
                        realm: row.try_get(4)?,
                        qop: row.try_get(5)?,
                        sip_authenticate: row.try_get(6)?,
                        xres: row.try_get(7)?,
                        ck: row.try_get(8)?,
                        ik: row.try_get(9)?,
                        ha1: row.try_get(10)?,
                        expires_at_ms: row.try_get(11)?,
                        purge_at_ms: row.try_get(12)?,
                        state: row.try_get(13)?,
                        last_nc: row.try_get(14)?,
                    });
                }
                Ok(StoreSnapshot {
                    registrations: regs.into_values().collect(),
                    challenges,
                })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RegistrationRecord {
        RegistrationRecord {
            impu: "sip:alice@ims.example".into(),
            impi: "alice@ims.example".into(),
            user_data: Some("<IMSSubscription/>".into()),
            charging_function_addresses: Some("ccf=\"aaa://ccf.ims.example\"".into()),
            bindings: vec![
                BindingRecord {
                    contact: "<sip:alice@192.0.2.1:5060>".into(),
                    impi: "alice@ims.example".into(),
                    expires_at_ms: 1_000_000,
                    q: 1000,
                    instance: Some("urn:uuid:1".into()),
                    reg_id: Some(1),
                    path: "<sip:term@pcscf.ims.example;lr>".into(),
                    call_id: "c1".into(),
                    cseq: 2,
                },
                BindingRecord {
                    contact: "<sip:alice@192.0.2.2:5060>".into(),
                    impi: "alice@ims.example".into(),
                    expires_at_ms: 2_000_000,
                    q: 500,
                    instance: None,
                    reg_id: None,
                    path: String::new(),
                    call_id: "c2".into(),
                    cseq: 7,
                },
            ],
        }
    }

    fn challenge() -> ChallengeRecord {
        ChallengeRecord {
            nonce: "bm9uY2U=".into(),
            impi: "alice@ims.example".into(),
            impu: "sip:alice@ims.example".into(),
            algorithm: "AKAv1-MD5".into(),
            realm: "ims.example".into(),
            qop: "auth".into(),
            sip_authenticate: Some("00".repeat(32)),
            xres: Some("11".repeat(8)),
            ck: Some("22".repeat(16)),
            ik: Some("33".repeat(16)),
            ha1: None,
            expires_at_ms: 5,
            purge_at_ms: 10,
            state: "pending".into(),
            last_nc: 0,
        }
    }

    async fn round_trip<S: RegistrationStore>(store: &S) {
        let mut r = sample();
        store
            .apply(&StoreOp::SaveRegistration(r.clone()))
            .await
            .unwrap();
        store
            .apply(&StoreOp::SaveChallenge(Box::new(challenge())))
            .await
            .unwrap();
        let snap = store.load_all().await.unwrap();
        assert_eq!(snap.registrations, vec![r.clone()]);
        assert_eq!(snap.challenges, vec![challenge()]);
        // Replace: one binding fewer.
        r.bindings.pop();
        store
            .apply(&StoreOp::SaveRegistration(r.clone()))
            .await
            .unwrap();
        let mut c = challenge();
        c.state = "consumed".into();
        store
            .apply(&StoreOp::SaveChallenge(Box::new(c.clone())))
            .await
            .unwrap();
        let snap = store.load_all().await.unwrap();
        assert_eq!(snap.registrations, vec![r.clone()]);
        assert_eq!(snap.challenges, vec![c.clone()]);
        store
            .apply(&StoreOp::RemoveRegistration {
                impu: r.impu.clone(),
            })
            .await
            .unwrap();
        store
            .apply(&StoreOp::RemoveChallenge {
                nonce: c.nonce.clone(),
            })
            .await
            .unwrap();
        assert_eq!(store.load_all().await.unwrap(), StoreSnapshot::default());
    }

    #[tokio::test]
    async fn sqlite_round_trip() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        round_trip(&store).await;
    }

    /// Needs a PostgreSQL server: `SCSCF_TEST_POSTGRES_URL=postgres://user@host:port/db
    /// cargo test -p scscf -- --ignored postgres`.
    #[tokio::test]
    #[ignore = "needs a PostgreSQL server in SCSCF_TEST_POSTGRES_URL"]
    async fn postgres_round_trip() {
        let url = std::env::var("SCSCF_TEST_POSTGRES_URL").expect("SCSCF_TEST_POSTGRES_URL");
        let store = SqlStore::connect(&url).await.unwrap();
        // Start clean: a previous failed run may have left rows.
        let snap = store.load_all().await.unwrap();
        for r in snap.registrations {
            store
                .apply(&StoreOp::RemoveRegistration { impu: r.impu })
                .await
                .unwrap();
        }
        for c in snap.challenges {
            store
                .apply(&StoreOp::RemoveChallenge { nonce: c.nonce })
                .await
                .unwrap();
        }
        round_trip(&store).await;
        // Migrations are idempotent: connecting again works.
        SqlStore::connect(&url).await.unwrap();
    }

    #[tokio::test]
    async fn memory_round_trip() {
        round_trip(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn unsupported_url() {
        assert!(matches!(
            SqlStore::connect("mysql://x").await,
            Err(StoreError::UnsupportedUrl(_))
        ));
    }

    #[test]
    fn time_conversion() {
        let t = UNIX_EPOCH + Duration::from_millis(1234);
        assert_eq!(to_ms(t), 1234);
        assert_eq!(from_ms(1234), t);
        assert_eq!(from_ms(-5), UNIX_EPOCH);
    }
}
