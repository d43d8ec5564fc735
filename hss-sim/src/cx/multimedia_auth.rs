//! Authentication: MAR/MAA (TS 29.228 §6.3.1, messages TS 29.229 §6.1.7-6.1.8).
//!
//! # Sequence numbers
//!
//! Each subscriber has one stored SQN_HE, the last SQN handed out. Vectors take their SQN
//! from ims-aka's [`SqnGenerator`], i.e. TS 33.102 Annex C profile 1 (not time based):
//! `SQN = SEQ ‖ IND` with a 5-bit IND; every vector takes `SEQ_HE + 1` and the next IND
//! round-robin. Several vectors in one MAR take consecutive values. The new SQN_HE is written
//! with a compare-and-set on the old one, so two MARs for the same user running at once never
//! hand out the same SQN (the loser re-reads and retries).
//!
//! Resynchronisation (TS 33.102 §6.3.5): when SIP-Authorization carries RAND ‖ AUTS, the HSS
//! checks MAC-S with f1*, recovers SQN_MS with f5*, and resets SEQ_HE to SEQ_MS when its next
//! value would not be accepted by the USIM; the fresh vectors then start at `SEQ_MS + 1`.

use super::{CxError, Hss};
use crate::subscriber::{AuthScheme, Subscriber};
use ims_aka::{AuthVector, Milenage, ResynchronisationInfo, Sqn, SqnGenerator, SqnScheme};
use rand::RngCore;

/// How often a MAR re-reads SQN_HE when another MAR for the same user wrote it in between.
const SQN_RETRIES: usize = 16;

/// The MAR fields the HSS acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultimediaAuthRequest {
    pub user_name: String,
    pub public_identity: String,
    /// The requesting S-CSCF (Server-Name), stored as pending/assigned.
    pub server_name: String,
    /// SIP-Authentication-Scheme of the request's SIP-Auth-Data-Item; "Unknown" (or empty)
    /// lets the HSS choose the subscriber's default scheme.
    pub authentication_scheme: String,
    /// SIP-Number-Auth-Items: how many vectors the S-CSCF asks for.
    pub number_auth_items: u32,
    /// SIP-Authorization: RAND ‖ AUTS after a synchronisation failure.
    pub authorization: Option<Vec<u8>>,
}

/// One SIP-Auth-Data-Item of the answer (TS 29.229 §6.3.13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipAuthDataItem {
    /// SIP-Item-Number, from 1 in order of use.
    pub item_number: u32,
    pub scheme: AuthScheme,
    pub data: AuthData,
}

/// The scheme-specific part of an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthData {
    /// Digest-AKAv1/v2-MD5: SIP-Authenticate = RAND ‖ AUTN, SIP-Authorization = XRES,
    /// Confidentiality-Key = CK, Integrity-Key = IK (TS 29.229 §6.3.10-6.3.11, §6.3.20-6.3.21).
    Aka {
        rand: [u8; 16],
        autn: [u8; 16],
        xres: Vec<u8>,
        ck: [u8; 16],
        ik: [u8; 16],
    },
    /// SIP Digest: SIP-Digest-Authenticate with Digest-Realm, Digest-Algorithm, Digest-QoP and
    /// Digest-HA1 (TS 29.229 §6.3.36, RFC 4740).
    Digest {
        realm: String,
        algorithm: String,
        qop: String,
        ha1: String,
    },
}

impl AuthData {
    /// RAND ‖ AUTN, the SIP-Authenticate value of an AKA item.
    pub fn sip_authenticate(&self) -> Option<[u8; 32]> {
        match self {
            Self::Aka { rand, autn, .. } => {
                let mut out = [0u8; 32];
                out[..16].copy_from_slice(rand);
                out[16..].copy_from_slice(autn);
                Some(out)
            }
            Self::Digest { .. } => None,
        }
    }
}

/// The MAA content (success only; failures are [`CxError`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultimediaAuthAnswer {
    pub user_name: String,
    pub public_identity: String,
    pub items: Vec<SipAuthDataItem>,
}

impl Hss {
    /// MAR (TS 29.228 §6.3.1): checks the identities, picks the scheme
    /// (DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED when the user may not use it), resynchronises
    /// SQN on RAND ‖ AUTS, stores the S-CSCF name (pending while not registered, overwriting a
    /// different one otherwise) and returns up to `max_auth_items` vectors (one for SIP Digest).
    pub async fn multimedia_auth(
        &self,
        req: &MultimediaAuthRequest,
    ) -> Result<MultimediaAuthAnswer, CxError> {
        let subscriber = self
            .subscriber_for_pair(&req.user_name, &req.public_identity)
            .await?;
        let scheme = match req.authentication_scheme.as_str() {
            "" | "Unknown" => subscriber
                .auth_schemes
                .first()
                .copied()
                .ok_or_else(|| CxError::AuthSchemeNotSupported("Unknown".into()))?,
            text => AuthScheme::parse(text)
                .filter(|s| subscriber.auth_schemes.contains(s))
                .ok_or_else(|| CxError::AuthSchemeNotSupported(text.to_owned()))?,
        };
        // Parse RAND ‖ AUTS before touching any state: a malformed value changes nothing.
        let resync = match (&req.authorization, scheme.is_aka()) {
            (Some(raw), true) => Some(ResynchronisationInfo::from_bytes(raw).map_err(|e| {
                CxError::InvalidAvpValue {
                    avp: "SIP-Authorization",
                    reason: e.to_string(),
                }
            })?),
            _ => None,
        };
        let items = if scheme.is_aka() {
            let milenage = milenage_of(&subscriber);
            let sqn_ms = resync
                .map(|info| info.verify(&milenage))
                .transpose()
                .map_err(|e| CxError::AuthenticationDataUnavailable(e.to_string()))?;
            let count = req.number_auth_items.clamp(1, self.auth.max_auth_items);
            let sqns = self
                .reserve_sqns(&subscriber.impi, subscriber.sqn, count, sqn_ms)
                .await?;
            let mut rng = rand::rng();
            (1u32..)
                .zip(sqns)
                .map(|(item_number, sqn)| {
                    let mut rand = [0u8; 16];
                    rng.fill_bytes(&mut rand);
                    let amf = ims_aka::Amf(subscriber.amf.0);
                    let av = AuthVector::generate(&milenage, rand, sqn, amf);
                    SipAuthDataItem {
                        item_number,
                        scheme,
                        data: AuthData::Aka {
                            rand: av.rand,
                            autn: av.autn.to_bytes(),
                            xres: av.xres.to_vec(),
                            ck: av.ck,
                            ik: av.ik,
                        },
                    }
                })
                .collect()
        } else {
            let password = subscriber.password.as_deref().ok_or_else(|| {
                CxError::UnableToComply("SIP Digest allowed but no password provisioned".into())
            })?;
            let realm = subscriber.realm().to_owned();
            let ha1 = ims_aka::digest::ha1(&subscriber.impi, &realm, password.as_bytes());
            vec![SipAuthDataItem {
                item_number: 1,
                scheme,
                data: AuthData::Digest {
                    realm,
                    algorithm: "MD5".into(),
                    qop: "auth".into(),
                    ha1: ha1.as_str().to_owned(),
                },
            }]
        };
        self.record_authenticating_scscf(&subscriber, &req.public_identity, &req.server_name)
            .await?;
        Ok(MultimediaAuthAnswer {
            user_name: subscriber.impi.clone(),
            public_identity: req.public_identity.clone(),
            items,
        })
    }

    /// Takes `count` consecutive SQNs for `impi`, resynchronising first when `sqn_ms` is given.
    /// `read` is SQN_HE as read with the subscriber; it is re-read only when another MAR wrote
    /// it in between.
    async fn reserve_sqns(
        &self,
        impi: &str,
        read: u64,
        count: u32,
        sqn_ms: Option<Sqn>,
    ) -> Result<Vec<Sqn>, CxError> {
        let aka_err = |e: ims_aka::AkaError| CxError::UnableToComply(format!("SQN: {e}"));
        let mut stored = read;
        for _ in 0..SQN_RETRIES {
            let mut generator =
                SqnGenerator::new(SqnScheme::default(), Sqn::new(stored).map_err(aka_err)?)
                    .map_err(aka_err)?;
            if let Some(ms) = sqn_ms {
                let outcome = generator.resynchronise(ms);
                tracing::info!(impi, ?outcome, sqn_ms = ms.value(), "SQN resynchronisation");
            }
            let sqns = (0..count)
                .map(|_| generator.next_sqn())
                .collect::<Result<Vec<_>, _>>()
                .map_err(aka_err)?;
            if self
                .store
                .compare_and_set_sqn(impi, stored, generator.last().value())
                .await?
            {
                return Ok(sqns);
            }
            stored = self.store.sqn(impi).await?.ok_or(CxError::UserUnknown)?;
        }
        Err(CxError::UnableToComply(
            "SQN kept changing under concurrent requests".into(),
        ))
    }

    /// TS 29.228 §6.3.1: with no S-CSCF stored the requesting one is stored as pending (state
    /// stays NOT_REGISTERED until the SAR); a different stored S-CSCF is overwritten, keeping
    /// the registration state. Applies to the whole implicit registration set.
    async fn record_authenticating_scscf(
        &self,
        subscriber: &Subscriber,
        impu: &str,
        server_name: &str,
    ) -> Result<(), CxError> {
        let current = self.store.assignment(impu, &subscriber.impi).await?;
        if current.scscf_name.as_deref() == Some(server_name) || server_name.is_empty() {
            return Ok(());
        }
        self.store
            .set_assignment(
                &subscriber.impi,
                &subscriber.implicit_set(impu),
                current.state,
                Some(server_name),
            )
            .await?;
        Ok(())
    }
}

/// MILENAGE with the subscriber's OPc, or OPc computed from OP (TS 35.206 §4.1).
pub(crate) fn milenage_of(s: &Subscriber) -> Milenage {
    match (s.opc, s.op) {
        (Some(opc), _) => Milenage::with_opc(&s.k.0, &opc.0),
        (None, Some(op)) => Milenage::with_op(&s.k.0, &op.0),
        // validate() rejects subscribers without either; an all-zero OP keeps this total.
        (None, None) => Milenage::with_op(&s.k.0, &[0; 16]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::test_support::*;
    use crate::cx::WireResult;
    use crate::store::RegistrationState;
    use ims_aka::{Autn, Usim, UsimOutcome};

    fn mar(impi: &str, impu: &str, scheme: &str, n: u32) -> MultimediaAuthRequest {
        MultimediaAuthRequest {
            user_name: impi.into(),
            public_identity: impu.into(),
            server_name: SCSCF.into(),
            authentication_scheme: scheme.into(),
            number_auth_items: n,
            authorization: None,
        }
    }

    fn rand_autn(item: &SipAuthDataItem) -> ([u8; 16], Autn) {
        match &item.data {
            AuthData::Aka { rand, autn, .. } => (*rand, Autn::from_bytes(autn).unwrap()),
            other => panic!("not AKA: {other:?}"),
        }
    }

    async fn usim_of(hss: &Hss, impi: &str) -> Usim {
        let s = hss.store().subscriber(impi).await.unwrap().unwrap();
        Usim::new(milenage_of(&s), SqnScheme::default()).unwrap()
    }

    #[tokio::test]
    async fn aka_vectors_are_accepted_by_the_usim() {
        let hss = hss().await;
        let a = hss
            .multimedia_auth(&mar(
                "alice@ims.example",
                "sip:alice@ims.example",
                "Digest-AKAv1-MD5",
                3,
            ))
            .await
            .unwrap();
        assert_eq!(a.items.len(), 3);
        assert_eq!(
            a.items.iter().map(|i| i.item_number).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let mut usim = usim_of(&hss, "alice@ims.example").await;
        for item in &a.items {
            let (rand, autn) = rand_autn(item);
            match usim.authenticate(&rand, &autn).unwrap() {
                UsimOutcome::Authenticated(keys) => {
                    let AuthData::Aka { xres, ck, ik, .. } = &item.data else {
                        unreachable!()
                    };
                    assert_eq!(&keys.res[..], &xres[..]);
                    assert_eq!((keys.ck, keys.ik), (*ck, *ik));
                }
                other => panic!("{other:?}"),
            }
        }
        // Three SQNs used: SEQ 3, IND 3.
        assert_eq!(
            hss.store().sqn("alice@ims.example").await.unwrap(),
            Some((3 << 5) | 3)
        );
        // The requesting S-CSCF is pending for the whole implicit set.
        let pending = hss
            .store()
            .assignment("tel:+15550001", "alice@ims.example")
            .await
            .unwrap();
        assert_eq!(pending.state, RegistrationState::NotRegistered);
        assert_eq!(pending.scscf_name.as_deref(), Some(SCSCF));
    }

    #[tokio::test]
    async fn auts_resynchronises_and_next_vector_is_accepted() {
        let hss = hss().await;
        let impi = "alice@ims.example";
        let mut usim = usim_of(&hss, impi).await;
        let a = hss
            .multimedia_auth(&mar(impi, "sip:alice@ims.example", "Digest-AKAv1-MD5", 2))
            .await
            .unwrap();
        for item in &a.items {
            let (rand, autn) = rand_autn(item);
            assert!(matches!(
                usim.authenticate(&rand, &autn),
                Ok(UsimOutcome::Authenticated(_))
            ));
        }
        // The HSS loses its SQN (restored from an old backup): its next vector is stale.
        let stored = hss.store().sqn(impi).await.unwrap().unwrap();
        assert!(hss
            .store()
            .compare_and_set_sqn(impi, stored, 0)
            .await
            .unwrap());
        let a = hss
            .multimedia_auth(&mar(impi, "sip:alice@ims.example", "Digest-AKAv1-MD5", 1))
            .await
            .unwrap();
        let (rand, autn) = rand_autn(&a.items[0]);
        let auts = match usim.authenticate(&rand, &autn).unwrap() {
            UsimOutcome::SynchronisationFailure(auts) => auts,
            other => panic!("expected a synchronisation failure, got {other:?}"),
        };
        let mut req = mar(impi, "sip:alice@ims.example", "Digest-AKAv1-MD5", 1);
        req.authorization = Some(ResynchronisationInfo { rand, auts }.to_bytes().to_vec());
        let a = hss.multimedia_auth(&req).await.unwrap();
        let (rand, autn) = rand_autn(&a.items[0]);
        assert!(matches!(
            usim.authenticate(&rand, &autn),
            Ok(UsimOutcome::Authenticated(_))
        ));

        // A forged AUTS (bad MAC-S) is DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE.
        let mut bad = req.authorization.clone().unwrap();
        if let Some(last) = bad.last_mut() {
            *last ^= 1;
        }
        req.authorization = Some(bad);
        let e = hss.multimedia_auth(&req).await.unwrap_err();
        assert_eq!(e.wire(), WireResult::Base(4181));
        req.authorization = Some(vec![1, 2, 3]);
        let e = hss.multimedia_auth(&req).await.unwrap_err();
        assert_eq!(e.wire(), WireResult::Base(5004));
    }

    #[tokio::test]
    async fn akav2_and_unknown_scheme_and_item_cap() {
        let hss = hss().await;
        let a = hss
            .multimedia_auth(&mar(
                "bob@ims.example",
                "sip:bob@ims.example",
                "Digest-AKAv2-MD5",
                50,
            ))
            .await
            .unwrap();
        assert_eq!(a.items.len(), 5, "capped at max_auth_items");
        assert!(a
            .items
            .iter()
            .all(|i| i.scheme == AuthScheme::DigestAkaV2Md5));
        let a = hss
            .multimedia_auth(&mar("bob@ims.example", "sip:bob@ims.example", "Unknown", 0))
            .await
            .unwrap();
        assert_eq!(a.items.len(), 1);
        assert_eq!(a.items[0].scheme, AuthScheme::DigestAkaV1Md5);
    }

    #[tokio::test]
    async fn sip_digest_gives_ha1() {
        let hss = hss().await;
        let a = hss
            .multimedia_auth(&mar(
                "carol@ims.example",
                "sip:carol@ims.example",
                "SIP Digest",
                3,
            ))
            .await
            .unwrap();
        assert_eq!(a.items.len(), 1);
        let expected = ims_aka::digest::ha1("carol@ims.example", "ims.example", b"carol-secret");
        match &a.items[0].data {
            AuthData::Digest {
                realm,
                algorithm,
                qop,
                ha1,
            } => {
                assert_eq!(
                    (realm.as_str(), algorithm.as_str(), qop.as_str()),
                    ("ims.example", "MD5", "auth")
                );
                assert_eq!(ha1, expected.as_str());
                assert_eq!(ha1.len(), 32);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn error_cases() {
        let hss = hss().await;
        let e = hss
            .multimedia_auth(&mar(
                "bob@ims.example",
                "sip:bob@ims.example",
                "SIP Digest",
                1,
            ))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5006));
        let e = hss
            .multimedia_auth(&mar("bob@ims.example", "sip:bob@ims.example", "NTLM", 1))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5006));
        let e = hss
            .multimedia_auth(&mar(
                "bob@ims.example",
                "sip:alice@ims.example",
                "Unknown",
                1,
            ))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5002));
        let e = hss
            .multimedia_auth(&mar(
                "eve@ims.example",
                "sip:alice@ims.example",
                "Unknown",
                1,
            ))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5001));
    }

    #[tokio::test]
    async fn concurrent_mars_never_share_an_sqn() {
        let hss = hss().await;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let hss = hss.clone();
            tasks.push(tokio::spawn(async move {
                hss.multimedia_auth(&mar("bob@ims.example", "sip:bob@ims.example", "Unknown", 2))
                    .await
                    .unwrap()
            }));
        }
        let s = hss
            .store()
            .subscriber("bob@ims.example")
            .await
            .unwrap()
            .unwrap();
        let m = milenage_of(&s);
        let mut sqns = std::collections::HashSet::new();
        for t in tasks {
            for item in t.await.unwrap().items {
                let (rand, autn) = rand_autn(&item);
                assert!(sqns.insert(autn.sqn(&m.f5(&rand))));
            }
        }
        assert_eq!(sqns.len(), 16);
    }
}
