//! Shared by `sessions.rs` and `sockets.rs`: a fake HSS answering Cx requests given as
//! Diameter messages (MAA with real MILENAGE vectors, SAA with an IMS subscription, 5001 for
//! unknown users), and a UE computing its IMS-AKA answers with ims-aka's USIM.

// Each test file uses a different part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use bytes::Bytes;
use ims_aka::{
    answer_challenge, Amf, AuthVector, DigestAlgorithm, DigestParams, Milenage, Qop, QopParams,
    Sqn, SqnGenerator, SqnScheme, Usim,
};
use ims_diameter::base::{AnswerResult, ExperimentalResult};
use ims_diameter::cx::{
    auth_scheme, AnswerCommon, MultimediaAuthAnswer, MultimediaAuthRequest, ServerAssignmentAnswer,
    ServerAssignmentRequest, ServerAssignmentType, SipAuthDataItem,
};
use ims_diameter::{Command, CommandCode, ExperimentalResultCode, ResultCode};
use ims_sip::header::Challenge;
use ims_sip::Message;
use rand::rngs::StdRng;
use rand::SeedableRng;

pub const K: [u8; 16] = [0x46; 16];
pub const OPC: [u8; 16] = [0xcd; 16];
pub const REALM: &str = "ims.test";

/// The HSS side: one subscriber record per public identity.
pub struct FakeHss {
    milenage: Milenage,
    sqn: SqnGenerator,
    rng: StdRng,
    /// Public identity -> its IMS subscription XML.
    pub users: BTreeMap<String, String>,
    /// Server-Assignment-Type of every SAR, in order.
    pub sar_types: Vec<ServerAssignmentType>,
    pub mars: usize,
}

impl FakeHss {
    /// An HSS knowing `users` (public identities, each its own implicit set; the first one's
    /// also holds `tel` and a barred `<user>-barred@<domain>` when `tel` is given).
    pub fn new(users: &[&str], tel: Option<&str>) -> Self {
        let mut map = BTreeMap::new();
        for (i, user) in users.iter().enumerate() {
            // The first user's implicit set also holds a tel URI and a barred identity.
            let extra = tel
                .filter(|_| i == 0)
                .map(|t| {
                    let barred = user.replace('@', "-barred@");
                    format!(
                        "<PublicIdentity><Identity>{t}</Identity></PublicIdentity>\
                         <PublicIdentity><BarringIndication>1</BarringIndication>\
                         <Identity>{barred}</Identity></PublicIdentity>"
                    )
                })
                .unwrap_or_default();
            let xml = format!(
                "<IMSSubscription><ServiceProfile><PublicIdentity><Identity>{user}</Identity>\
                 </PublicIdentity>{extra}</ServiceProfile></IMSSubscription>"
            );
            map.insert((*user).to_owned(), xml);
        }
        FakeHss {
            milenage: Milenage::with_opc(&K, &OPC),
            sqn: SqnGenerator::new(SqnScheme::default(), Sqn::default()).unwrap(),
            rng: StdRng::seed_from_u64(7),
            users: map,
            sar_types: Vec::new(),
            mars: 0,
        }
    }

    fn result(&self, known: bool) -> AnswerResult {
        if known {
            ResultCode::SUCCESS.into()
        } else {
            ExperimentalResult::tgpp(ExperimentalResultCode::ERROR_USER_UNKNOWN).into()
        }
    }

    /// The answer to a Cx request, as the HSS would give it (TS 29.228 §6.1.2, §6.3).
    pub fn answer(&mut self, request: &ims_diameter::Message) -> ims_diameter::Message {
        // Through the wire format and back, as over a real connection.
        let request = ims_diameter::Message::decode(&request.encode()).expect("decodable");
        if request.header.command_code == CommandCode::MULTIMEDIA_AUTH {
            let mar = MultimediaAuthRequest::from_message(&request).expect("a valid MAR");
            self.mars += 1;
            let known = self.users.contains_key(&mar.public_identity);
            let av = AuthVector::generate_next(
                &self.milenage,
                &mut self.rng,
                &mut self.sqn,
                Amf::SEPARATION_BIT,
            )
            .unwrap();
            let mut rand_autn = av.rand.to_vec();
            rand_autn.extend_from_slice(&av.autn.to_bytes());
            let item = SipAuthDataItem {
                sip_item_number: Some(1),
                sip_authentication_scheme: Some(auth_scheme::DIGEST_AKAV1_MD5.to_owned()),
                sip_authenticate: Some(Bytes::from(rand_autn)),
                sip_authorization: Some(Bytes::copy_from_slice(&av.xres)),
                confidentiality_key: Some(Bytes::copy_from_slice(&av.ck)),
                integrity_key: Some(Bytes::copy_from_slice(&av.ik)),
                ..SipAuthDataItem::default()
            };
            MultimediaAuthAnswer {
                common: AnswerCommon::answering(
                    &mar.common,
                    self.result(known),
                    "hss.ims.test",
                    REALM,
                ),
                user_name: Some(mar.user_name.clone()),
                public_identity: Some(mar.public_identity.clone()),
                sip_number_auth_items: Some(1),
                sip_auth_data_items: if known { vec![item] } else { Vec::new() },
                extra: Vec::new(),
            }
            .to_answer_of(&request.header)
        } else {
            let sar = ServerAssignmentRequest::from_message(&request).expect("a valid SAR");
            self.sar_types.push(sar.server_assignment_type);
            let identity = sar.public_identities.first().cloned().unwrap_or_default();
            let data = self.users.get(&identity).cloned();
            let with_data = matches!(
                sar.server_assignment_type,
                ServerAssignmentType::REGISTRATION | ServerAssignmentType::UNREGISTERED_USER
            );
            ServerAssignmentAnswer {
                common: AnswerCommon::answering(
                    &sar.common,
                    self.result(data.is_some()),
                    "hss.ims.test",
                    REALM,
                ),
                user_name: sar.user_name.clone(),
                user_data: data.filter(|_| with_data).map(Bytes::from),
                charging_information: None,
                associated_identities: None,
                loose_route_indication: None,
                server_name: None,
                wildcarded_public_identity: None,
                priviledged_sender_indication: None,
                extra: Vec::new(),
            }
            .to_answer_of(&request.header)
        }
    }
}

/// The UE side of IMS-AKA.
pub struct Ue {
    pub usim: Usim,
    pub impi: String,
    pub impu: String,
    nc: u32,
}

impl Ue {
    pub fn new(user: &str) -> Self {
        Ue {
            usim: Usim::new(Milenage::with_opc(&K, &OPC), SqnScheme::default()).unwrap(),
            impi: format!("{user}@{REALM}"),
            impu: format!("sip:{user}@{REALM}"),
            nc: 0,
        }
    }

    /// The Authorization of an initial REGISTER (TS 24.229 §5.1.1.2.1: empty nonce and
    /// response).
    pub fn initial_authorization(&self) -> String {
        format!(
            "Digest username=\"{}\", realm=\"{REALM}\", nonce=\"\", uri=\"sip:{REALM}\", \
             response=\"\", integrity-protected=\"no\"",
            self.impi
        )
    }

    /// The Authorization answering the 401 `response` (RES from the USIM).
    pub fn answer(&mut self, response: &Message) -> String {
        let header = response
            .headers()
            .get("WWW-Authenticate")
            .expect("a challenge");
        let challenge = Challenge::parse(header).unwrap();
        let algorithm = DigestAlgorithm::parse(challenge.algorithm().unwrap()).unwrap();
        let nonce = challenge.nonce().unwrap();
        let aka = answer_challenge(&mut self.usim, algorithm, nonce).unwrap();
        assert!(aka.auts.is_none(), "no resynchronisation expected");
        self.nc += 1;
        let nc = format!("{:08x}", self.nc);
        let uri = format!("sip:{REALM}");
        let params = DigestParams {
            username: &self.impi,
            realm: REALM,
            nonce,
            uri: &uri,
            method: "REGISTER",
            algorithm,
            qop: Some(QopParams {
                qop: Qop::Auth,
                nc: &nc,
                cnonce: "0a4f113b",
            }),
            body: b"",
        };
        let digest = params.response(&aka.password).unwrap();
        format!(
            "Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{digest}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"0a4f113b\", \
             integrity-protected=\"yes\"",
            self.impi,
            algorithm.as_str()
        )
    }
}
