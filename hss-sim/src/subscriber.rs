//! The subscriber model: one IMS subscription (TS 23.228 §4.3.3, TS 29.228 Annex B) per private
//! user identity, with its authentication data and its service profiles.
//!
//! The same serde shape is used by the seed file (TOML), the REST API (JSON) and the `service_profiles`
//! column of the store (JSON), so what an operator writes is what the HSS keeps.
//!
//! Implicit registration sets (TS 23.228 §4.3.3.3) are modelled by profile membership: all public
//! identities listed in one [`ServiceProfile`] form one implicit registration set, so registering
//! any of them registers all of them and the S-CSCF receives them together in the User-Data.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A 128-bit secret (K, OP or OPc), written as 32 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key128(pub [u8; 16]);

impl fmt::Debug for Key128 {
    // Keys never appear in logs in full: the first two bytes are enough to tell them apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key128({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

impl Key128 {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).map_err(|e| format!("not hexadecimal: {e}"))?;
        let arr: [u8; 16] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{} bytes, expected 16", b.len()))?;
        Ok(Self(arr))
    }
}

impl Serialize for Key128 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Key128 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// The Authentication Management Field (TS 33.102 §6.3.2, Annex H), 16 bits, written as 4 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Amf(pub [u8; 2]);

impl Default for Amf {
    /// `8000`: the separation bit set, as TS 33.401 asks for E-UTRAN and most IMS deployments use.
    fn default() -> Self {
        Self([0x80, 0x00])
    }
}

impl Amf {
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).map_err(|e| format!("not hexadecimal: {e}"))?;
        let arr: [u8; 2] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{} bytes, expected 2", b.len()))?;
        Ok(Self(arr))
    }
}

impl Serialize for Amf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Amf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// An authentication scheme the subscriber may use, by its SIP-Authentication-Scheme text
/// (TS 29.229 §6.3.9).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum AuthScheme {
    /// IMS-AKA with HTTP Digest AKAv1 (RFC 3310).
    #[serde(rename = "Digest-AKAv1-MD5")]
    DigestAkaV1Md5,
    /// HTTP Digest AKAv2 (RFC 4169).
    #[serde(rename = "Digest-AKAv2-MD5")]
    DigestAkaV2Md5,
    /// SIP Digest (TS 33.203 Annex N, RFC 2617 MD5): the HSS hands out HA1.
    #[serde(rename = "SIP Digest", alias = "Digest-MD5")]
    SipDigest,
}

impl AuthScheme {
    /// The SIP-Authentication-Scheme value (TS 29.229 §6.3.9).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DigestAkaV1Md5 => "Digest-AKAv1-MD5",
            Self::DigestAkaV2Md5 => "Digest-AKAv2-MD5",
            Self::SipDigest => "SIP Digest",
        }
    }

    /// Parses a SIP-Authentication-Scheme value. `None` for "Unknown" and anything else the HSS
    /// does not implement; the caller decides whether that means "the subscriber's default".
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Digest-AKAv1-MD5" => Some(Self::DigestAkaV1Md5),
            "Digest-AKAv2-MD5" => Some(Self::DigestAkaV2Md5),
            // "Digest-MD5" is the name older S-CSCFs (Rel-5 era, Kamailio) send for the same thing.
            "SIP Digest" | "Digest-MD5" => Some(Self::SipDigest),
            _ => None,
        }
    }

    pub fn is_aka(self) -> bool {
        matches!(self, Self::DigestAkaV1Md5 | Self::DigestAkaV2Md5)
    }
}

/// One subscription, keyed by its private user identity (IMPI, TS 23.003 §13.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriber {
    /// Private user identity, e.g. `alice@ims.example`.
    pub impi: String,
    /// Subscriber key K (TS 33.102 §6.3).
    pub k: Key128,
    /// Operator variant OP; OPc is derived from it (TS 35.206 §4.1). Exactly one of `op`/`opc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Key128>,
    /// Operator variant already combined with K (OPc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opc: Option<Key128>,
    #[serde(default)]
    pub amf: Amf,
    /// SQN_HE (TS 33.102 Annex C): the highest sequence number handed out so far.
    #[serde(default)]
    pub sqn: u64,
    /// Allowed schemes; the first is used when the S-CSCF asks with scheme "Unknown".
    #[serde(default = "default_auth_schemes")]
    pub auth_schemes: Vec<AuthScheme>,
    /// Clear-text password for SIP Digest; the HSS only ever sends HA1 (RFC 2617 §3.2.2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The Digest realm for HA1; defaults to the domain part of the IMPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_realm: Option<String>,
    /// Visited networks (Visited-Network-Identifier values, TS 29.229 §6.3.1) the subscriber may
    /// register from. The home network (the IMPI's domain) is always allowed; `*` allows all.
    #[serde(default)]
    pub allowed_visited_networks: Vec<String>,
    pub service_profiles: Vec<ServiceProfile>,
}

fn default_auth_schemes() -> Vec<AuthScheme> {
    vec![AuthScheme::DigestAkaV1Md5]
}

/// A service profile (TS 29.228 Annex B.2.1): public identities that share it form one implicit
/// registration set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceProfile {
    pub public_identities: Vec<PublicIdentity>,
    #[serde(default)]
    pub initial_filter_criteria: Vec<InitialFilterCriteria>,
}

/// A public user identity (IMPU, TS 23.003 §13.4) as provisioned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicIdentity {
    /// `sip:`, `sips:` or `tel:` URI.
    pub identity: String,
    /// Barring indication (TS 29.228 Annex B.2.1): the identity can not be used for sessions.
    #[serde(default)]
    pub barred: bool,
}

/// Initial filter criteria (TS 29.228 Annex B.2.2 and Annex C).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialFilterCriteria {
    pub priority: i32,
    /// Absent: the criteria match every initial request (unconditional triggering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_point: Option<TriggerPoint>,
    pub application_server: ApplicationServer,
    /// 0 = REGISTERED, 1 = UNREGISTERED (TS 29.228 Annex B.2.2); absent applies to both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_part_indicator: Option<u8>,
}

/// A trigger point: service point triggers in conjunctive (CNF, `condition_type_cnf = true`) or
/// disjunctive normal form, the `group` numbers saying which clause each SPT belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerPoint {
    pub condition_type_cnf: bool,
    pub spt: Vec<ServicePointTrigger>,
}

/// A service point trigger (TS 29.228 Annex B.2.2 / Annex C). Exactly one condition field is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePointTrigger {
    #[serde(default)]
    pub condition_negated: bool,
    #[serde(default = "default_group")]
    pub group: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_header: Option<HeaderCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_case: Option<SessionCase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_description: Option<HeaderCondition>,
}

fn default_group() -> Vec<u32> {
    vec![0]
}

/// A SIP header (or SDP line) condition: present, or its value matching `content` (a regular
/// expression, evaluated by the S-CSCF).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderCondition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The SessionCase values of TS 29.228 Annex B.2.2 (tSessionCase in Annex E).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionCase {
    Originating,
    TerminatingRegistered,
    TerminatingUnregistered,
    OriginatingUnregistered,
    OriginatingCdiv,
}

impl SessionCase {
    /// The enumerated value carried in the XML.
    pub fn code(self) -> u8 {
        match self {
            Self::Originating => 0,
            Self::TerminatingRegistered => 1,
            Self::TerminatingUnregistered => 2,
            Self::OriginatingUnregistered => 3,
            Self::OriginatingCdiv => 4,
        }
    }
}

/// The application server of an iFC (TS 29.228 Annex B.2.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationServer {
    pub server_name: String,
    #[serde(default)]
    pub default_handling: DefaultHandling,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_info: Option<String>,
}

/// What the S-CSCF does when the AS does not answer (TS 29.228 Annex B.2.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DefaultHandling {
    #[default]
    SessionContinued,
    SessionTerminated,
}

impl DefaultHandling {
    pub fn code(self) -> u8 {
        match self {
            Self::SessionContinued => 0,
            Self::SessionTerminated => 1,
        }
    }
}

/// What is wrong with a subscriber record; `field` names the JSON/TOML key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidSubscriber {
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> InvalidSubscriber {
    InvalidSubscriber {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Subscriber {
    /// Checks what serde can not: one of OP/OPc, a password for SIP Digest, well-formed and
    /// unique identities, one condition per SPT.
    pub fn validate(&self) -> Result<(), InvalidSubscriber> {
        if self.impi.trim().is_empty() || self.impi.chars().any(char::is_whitespace) {
            return Err(invalid(
                "impi",
                "must be a non-empty identity without spaces",
            ));
        }
        match (&self.op, &self.opc) {
            (Some(_), Some(_)) => return Err(invalid("op", "give either op or opc, not both")),
            (None, None) => return Err(invalid("opc", "one of op or opc is required")),
            _ => {}
        }
        if self.sqn >= 1 << 48 {
            return Err(invalid("sqn", "SQN is a 48-bit number"));
        }
        if self.auth_schemes.is_empty() {
            return Err(invalid("auth_schemes", "at least one scheme is required"));
        }
        if self.auth_schemes.contains(&AuthScheme::SipDigest) && self.password.is_none() {
            return Err(invalid(
                "password",
                "required when \"SIP Digest\" is allowed",
            ));
        }
        if self.service_profiles.is_empty() {
            return Err(invalid(
                "service_profiles",
                "at least one profile is required",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (p, profile) in self.service_profiles.iter().enumerate() {
            if profile.public_identities.is_empty() {
                return Err(invalid(
                    format!("service_profiles[{p}].public_identities"),
                    "at least one public identity is required",
                ));
            }
            for (i, id) in profile.public_identities.iter().enumerate() {
                let field = format!("service_profiles[{p}].public_identities[{i}].identity");
                let uri = id.identity.as_str();
                if !(uri.starts_with("sip:") || uri.starts_with("sips:") || uri.starts_with("tel:"))
                {
                    return Err(invalid(field, "must be a sip:, sips: or tel: URI"));
                }
                if !seen.insert(uri) {
                    return Err(invalid(field, "listed twice"));
                }
            }
            for (f, ifc) in profile.initial_filter_criteria.iter().enumerate() {
                let base = format!("service_profiles[{p}].initial_filter_criteria[{f}]");
                if ifc.application_server.server_name.is_empty() {
                    return Err(invalid(
                        format!("{base}.application_server.server_name"),
                        "must not be empty",
                    ));
                }
                if matches!(ifc.profile_part_indicator, Some(v) if v > 1) {
                    return Err(invalid(
                        format!("{base}.profile_part_indicator"),
                        "0 (REGISTERED) or 1 (UNREGISTERED)",
                    ));
                }
                for (s, spt) in ifc
                    .trigger_point
                    .iter()
                    .flat_map(|t| t.spt.iter())
                    .enumerate()
                {
                    let set = [
                        spt.request_uri.is_some(),
                        spt.method.is_some(),
                        spt.sip_header.is_some(),
                        spt.session_case.is_some(),
                        spt.session_description.is_some(),
                    ];
                    if set.iter().filter(|b| **b).count() != 1 {
                        return Err(invalid(
                            format!("{base}.trigger_point.spt[{s}]"),
                            "exactly one of request_uri, method, sip_header, session_case, session_description",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The home domain: the part of the IMPI after the last `@`.
    pub fn home_domain(&self) -> &str {
        self.impi
            .rsplit_once('@')
            .map_or(self.impi.as_str(), |(_, d)| d)
    }

    /// The realm used for SIP Digest HA1.
    pub fn realm(&self) -> &str {
        self.digest_realm
            .as_deref()
            .unwrap_or_else(|| self.home_domain())
    }

    /// All public identities, in provisioning order.
    pub fn public_identities(&self) -> impl Iterator<Item = &PublicIdentity> {
        self.service_profiles
            .iter()
            .flat_map(|p| p.public_identities.iter())
    }

    /// The profile holding `impu`, i.e. its implicit registration set.
    pub fn profile_of(&self, impu: &str) -> Option<&ServiceProfile> {
        self.service_profiles
            .iter()
            .find(|p| p.public_identities.iter().any(|i| i.identity == impu))
    }

    /// The identities registered together with `impu` (its implicit registration set, itself included).
    pub fn implicit_set(&self, impu: &str) -> Vec<String> {
        self.profile_of(impu)
            .map(|p| {
                p.public_identities
                    .iter()
                    .map(|i| i.identity.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a user roaming in `visited` may register (TS 29.228 §6.1.1.1 step 3). An empty
    /// identifier means the request came from the home network.
    pub fn may_roam_to(&self, visited: &str) -> bool {
        visited.is_empty()
            || visited.eq_ignore_ascii_case(self.home_domain())
            || self
                .allowed_visited_networks
                .iter()
                .any(|n| n == "*" || n.eq_ignore_ascii_case(visited))
    }

    /// Whether `impu` has services for the unregistered state (TS 29.228 §6.1.4.1): some iFC of
    /// its profile applies to terminating requests to an unregistered user, either through the
    /// profile part indicator UNREGISTERED or a TERMINATING_UNREGISTERED session case.
    pub fn has_unregistered_services(&self, impu: &str) -> bool {
        self.profile_of(impu).is_some_and(|p| {
            p.initial_filter_criteria.iter().any(|ifc| {
                ifc.profile_part_indicator == Some(1)
                    || ifc.trigger_point.as_ref().is_some_and(|t| {
                        t.spt.iter().any(|s| {
                            !s.condition_negated
                                && s.session_case == Some(SessionCase::TerminatingUnregistered)
                        })
                    })
            })
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn alice() -> Subscriber {
        Subscriber {
            impi: "alice@ims.example".into(),
            k: Key128([0x11; 16]),
            op: None,
            opc: Some(Key128([0x22; 16])),
            amf: Amf::default(),
            sqn: 0,
            auth_schemes: vec![AuthScheme::DigestAkaV1Md5],
            password: None,
            digest_realm: None,
            allowed_visited_networks: vec![],
            service_profiles: vec![ServiceProfile {
                public_identities: vec![PublicIdentity {
                    identity: "sip:alice@ims.example".into(),
                    barred: false,
                }],
                initial_filter_criteria: vec![],
            }],
        }
    }

    #[test]
    fn key_hex_round_trip_and_errors() {
        let k = Key128::from_hex("000102030405060708090a0b0c0d0e0f").unwrap();
        assert_eq!(k.0[15], 0x0f);
        assert_eq!(k.to_hex(), "000102030405060708090a0b0c0d0e0f");
        assert!(Key128::from_hex("0001")
            .unwrap_err()
            .contains("expected 16"));
        assert!(Key128::from_hex("zz").is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = alice();
        assert_eq!(s.validate(), Ok(()));
        s.op = Some(Key128([1; 16]));
        assert_eq!(s.validate().unwrap_err().field, "op");
        s.op = None;
        s.auth_schemes.push(AuthScheme::SipDigest);
        assert_eq!(s.validate().unwrap_err().field, "password");
        s.password = Some("secret".into());
        s.service_profiles[0].public_identities[0].identity = "alice".into();
        assert_eq!(
            s.validate().unwrap_err().field,
            "service_profiles[0].public_identities[0].identity"
        );
    }

    #[test]
    fn roaming_rules() {
        let mut s = alice();
        assert!(s.may_roam_to(""));
        assert!(s.may_roam_to("ims.example"));
        assert!(!s.may_roam_to("visited.example"));
        s.allowed_visited_networks = vec!["visited.example".into()];
        assert!(s.may_roam_to("Visited.Example"));
    }

    #[test]
    fn auth_scheme_names() {
        assert_eq!(AuthScheme::parse("Digest-MD5"), Some(AuthScheme::SipDigest));
        assert_eq!(AuthScheme::parse("Unknown"), None);
        for s in [
            AuthScheme::DigestAkaV1Md5,
            AuthScheme::DigestAkaV2Md5,
            AuthScheme::SipDigest,
        ] {
            assert_eq!(AuthScheme::parse(s.as_str()), Some(s));
        }
    }
}
