//! What a UE is provisioned with: identities (TS 23.228 §4.3.3), credentials (TS 33.203 §6.1
//! for IMS-AKA, RFC 2617 for SIP Digest), its P-CSCF and its contact (TS 24.229 §5.1.1.2).

use std::net::SocketAddr;

use ims_aka::{Amf, SqnScheme};
use ims_sip::transaction::TimerConfig;
use ims_sip::Uri;

/// The transport the UE uses towards its P-CSCF (TS 24.229 §5.1.1.2: UDP or TCP, the
/// Contact and Via name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipTransport {
    /// Datagrams; requests are retransmitted by Timers A/E.
    Udp,
    /// A TCP connection (reliable: no retransmissions).
    Tcp,
}

impl SipTransport {
    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            SipTransport::Udp => "UDP",
            SipTransport::Tcp => "TCP",
        }
    }

    /// Whether the transport is reliable (RFC 3261 §17: no request retransmissions).
    pub fn is_reliable(self) -> bool {
        matches!(self, SipTransport::Tcp)
    }
}

/// The operator variant the MILENAGE functions are personalised with (TS 35.206 §2).
#[derive(Clone, PartialEq, Eq)]
pub enum OperatorKey {
    /// OP; OPc is derived from it and K.
    Op([u8; 16]),
    /// OPc as stored on the USIM.
    Opc([u8; 16]),
}

/// How the UE authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// IMS-AKA (TS 33.203 §6.1) with Digest AKAv1-MD5 or AKAv2-MD5, whichever the network
    /// challenges with (RFC 3310, RFC 4169).
    Aka {
        /// The subscriber key K.
        k: [u8; 16],
        /// OP or OPc.
        operator_key: OperatorKey,
        /// The AMF the home network provisions for this subscriber. The USIM itself reads AMF
        /// from each AUTN; this value is kept so the same config can provision an HSS
        /// (the benchmark and conformance setups do).
        amf: Amf,
        /// The SEQ/IND scheme of the USIM's SQN array (TS 33.102 Annex C).
        sqn_scheme: SqnScheme,
    },
    /// SIP Digest with MD5 and a shared password (TS 24.229 §5.1.1.2.3, RFC 2617).
    Md5 {
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    // Keys and passwords stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Aka { amf, .. } => f
                .debug_struct("Aka")
                .field("amf", amf)
                .finish_non_exhaustive(),
            Credentials::Md5 { .. } => f.debug_struct("Md5").finish_non_exhaustive(),
        }
    }
}

/// Everything one simulated UE is provisioned with.
#[derive(Debug, Clone)]
pub struct UeConfig {
    /// The private user identity (IMPI, TS 23.003 §13.3), the Digest `username`.
    pub impi: String,
    /// The public user identity to register (IMPU, TS 23.003 §13.4): From and To of REGISTER.
    pub impu: Uri,
    /// The home network domain: the REGISTER Request-URI `sip:<home_domain>` (TS 24.229
    /// §5.1.1.2.1) and the Digest `uri`.
    pub home_domain: String,
    /// The Digest realm of the initial Authorization; `None` means the home domain.
    pub realm: Option<String>,
    /// AKA or MD5 credentials.
    pub credentials: Credentials,
    /// The P-CSCF, the UE's outbound proxy: every request goes there (TS 24.229 §5.1.1.1).
    pub pcscf: SocketAddr,
    /// Transport towards the P-CSCF.
    pub transport: SipTransport,
    /// The address the UE is reachable at: Via sent-by and Contact host/port.
    pub local_addr: SocketAddr,
    /// User part of the Contact URI; the driver also routes new incoming requests by it.
    pub contact_user: String,
    /// `+sip.instance` (RFC 5626 §4.1), a `urn:uuid:...` URN, without quotes or brackets.
    pub instance_id: Option<String>,
    /// `reg-id` (RFC 5626 §4.2); only sent together with `instance_id` and `outbound`.
    pub reg_id: Option<u32>,
    /// Whether to register as an RFC 5626 outbound client (`Supported: outbound`, reg-id).
    pub outbound: bool,
    /// Requested registration expiry in seconds (TS 24.229 §5.1.1.2.1 proposes 600 000).
    pub expires: u32,
    /// Transaction timer values (T1, T2, T4…).
    pub timers: TimerConfig,
    /// RTP port announced in SDP (no media is sent; see [`crate::sdp`]).
    pub media_port: u16,
    /// Seed of the generator for tags, branches, Call-IDs and cnonces; `None` draws one from
    /// the operating system. Tests set it for reproducible runs; UEs sharing a
    /// [`UeRunner`](crate::runner::UeRunner) must not share a seed, or they draw the same
    /// Call-IDs and the runner cannot tell their messages apart.
    pub rng_seed: Option<u64>,
    /// The User-Agent header value.
    pub user_agent: String,
}

impl UeConfig {
    /// A configuration with the usual defaults: UDP, outbound on with reg-id 1 and an instance
    /// id derived from the IMPI ([`instance_id_for`]), 600 000 s expiry (TS 24.229
    /// §5.1.1.2.1), default timers, contact user = user part of the IMPI.
    pub fn new(
        impi: &str,
        impu: Uri,
        home_domain: &str,
        credentials: Credentials,
        pcscf: SocketAddr,
        local_addr: SocketAddr,
    ) -> UeConfig {
        let contact_user = impi.split('@').next().unwrap_or(impi).to_owned();
        UeConfig {
            impi: impi.to_owned(),
            impu,
            home_domain: home_domain.to_owned(),
            realm: None,
            credentials,
            pcscf,
            transport: SipTransport::Udp,
            local_addr,
            contact_user,
            instance_id: Some(instance_id_for(impi)),
            reg_id: Some(1),
            outbound: true,
            expires: 600_000,
            timers: TimerConfig::default(),
            media_port: 40_000,
            rng_seed: None,
            user_agent: concat!("ims-ue-sim/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// The realm used before the first challenge.
    pub fn realm(&self) -> &str {
        self.realm.as_deref().unwrap_or(&self.home_domain)
    }
}

/// A stable `urn:uuid` for a subscriber: RFC 5626 §4.1 wants the instance id to survive
/// restarts, so it is derived from the IMPI rather than drawn at random. The 128 bits are two
/// FNV-1a hashes of the IMPI, formatted as an RFC 9562 version 8 (custom) UUID.
pub fn instance_id_for(impi: &str) -> String {
    fn fnv1a(seed: u64, data: &[u8]) -> u64 {
        data.iter().fold(seed, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
    let hi = fnv1a(0xcbf2_9ce4_8422_2325, impi.as_bytes());
    let lo = fnv1a(hi ^ 0x9e37_79b9_7f4a_7c15, impi.as_bytes());
    // Version 8 in bits 48-51, variant 0b10 in bits 64-65.
    let hi = (hi & !0xf000) | 0x8000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "urn:uuid:{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_id_is_stable_and_well_formed() {
        let a = instance_id_for("alice@ims.example");
        assert_eq!(a, instance_id_for("alice@ims.example"));
        assert_ne!(a, instance_id_for("bob@ims.example"));
        let uuid = a.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('8'), "version 8: {a}");
        assert!(
            matches!(&groups[3][..1], "8" | "9" | "a" | "b"),
            "variant: {a}"
        );
    }
}
