//! The seed file: subscribers upserted into the store at start-up, in the same shape as the REST
//! API's subscriber document (see `seed.toml` next to the crate).

use crate::store::{Store, StoreError, WriteMode};
use crate::subscriber::Subscriber;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    subscribers: Vec<Subscriber>,
}

/// Why a seed file could not be applied; messages name the subscriber index and field.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{source_name}: {message}")]
    Syntax {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: subscribers[{index}].{reason}")]
    Invalid {
        source_name: String,
        index: usize,
        reason: crate::subscriber::InvalidSubscriber,
    },
    #[error("{source_name}: subscribers[{index}]: {error}")]
    Store {
        source_name: String,
        index: usize,
        error: StoreError,
    },
}

/// Parses and validates a seed file (whose origin is `source_name`) without touching the store.
pub fn parse(source_name: &str, text: &str) -> Result<Vec<Subscriber>, SeedError> {
    let seed: SeedFile = toml::from_str(text).map_err(|e| SeedError::Syntax {
        source_name: source_name.to_owned(),
        message: e.to_string().trim_end().replace('\n', " | "),
    })?;
    for (index, s) in seed.subscribers.iter().enumerate() {
        s.validate().map_err(|reason| SeedError::Invalid {
            source_name: source_name.to_owned(),
            index,
            reason,
        })?;
    }
    Ok(seed.subscribers)
}

/// Upserts every subscriber of the seed file; returns how many were written.
pub async fn apply(store: &Store, source_name: &str, text: &str) -> Result<usize, SeedError> {
    let subscribers = parse(source_name, text)?;
    for (index, s) in subscribers.iter().enumerate() {
        store
            .put_subscriber(s, WriteMode::Upsert)
            .await
            .map_err(|error| SeedError::Store {
                source_name: source_name.to_owned(),
                index,
                error,
            })?;
    }
    Ok(subscribers.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriber::{AuthScheme, SessionCase};

    const SHIPPED: &str = include_str!("../seed.toml");

    #[test]
    fn shipped_seed_is_valid_and_sipp_safe() {
        let subs = parse("seed.toml", SHIPPED).unwrap();
        assert_eq!(subs.len(), 3);
        assert_eq!(subs[0].auth_schemes[2], AuthScheme::SipDigest);
        let spt = &subs[1].service_profiles[0].initial_filter_criteria[0]
            .trigger_point
            .as_ref()
            .unwrap()
            .spt[0];
        assert_eq!(spt.session_case, Some(SessionCase::TerminatingUnregistered));
        // SIPp can not parse keys containing 0x00 or 0x5b ('[').
        for s in &subs {
            for key in [Some(s.k), s.op, s.opc].into_iter().flatten() {
                assert!(
                    !key.0.contains(&0x00) && !key.0.contains(&0x5b),
                    "{}",
                    s.impi
                );
            }
        }
    }

    #[test]
    fn errors_name_index_and_field() {
        let text = SHIPPED.replacen("password = \"carol-secret\"\n", "", 1);
        let err = parse("s.toml", &text).unwrap_err().to_string();
        assert_eq!(
            err,
            "s.toml: subscribers[2].password: required when \"SIP Digest\" is allowed"
        );
        let err = parse("s.toml", "[[subscribers]]\nimpi = 1\n").unwrap_err();
        assert!(matches!(err, SeedError::Syntax { .. }));
    }

    #[tokio::test]
    async fn apply_is_an_upsert_that_keeps_sqn() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        assert_eq!(apply(&store, "seed.toml", SHIPPED).await.unwrap(), 3);
        assert!(store
            .compare_and_set_sqn("alice@ims.example", 0, 640)
            .await
            .unwrap());
        assert_eq!(apply(&store, "seed.toml", SHIPPED).await.unwrap(), 3);
        assert_eq!(store.sqn("alice@ims.example").await.unwrap(), Some(640));
        assert_eq!(store.subscribers().await.unwrap().len(), 3);
    }
}
