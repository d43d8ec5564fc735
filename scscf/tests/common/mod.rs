//! Test harness shared by the registration tests and the benchmark: a fake HSS built from
//! ims-aka's HSS side (MILENAGE vectors, SQN management, AUTS verification) answering with
//! ims-diameter's typed Cx commands, and a UE computing its answers with ims-aka's UE side
//! (USIM + Digest AKA).

// Each user of this module (tests, bench) uses a different part of it.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ims_aka::{
    answer_challenge, Amf, AuthVector, DigestAlgorithm, DigestParams, Milenage, Qop, QopParams,
    ResynchronisationInfo, Sqn, SqnGenerator, SqnScheme, Usim,
};
use ims_diameter::base::{AnswerResult, ExperimentalResult};
use ims_diameter::cx::ChargingInformation;
use ims_diameter::cx::{
    auth_scheme, AnswerCommon, MultimediaAuthAnswer, MultimediaAuthRequest, ServerAssignmentAnswer,
    ServerAssignmentRequest, ServerAssignmentType, SipAuthDataItem, SipDigestAuthenticate,
};
use ims_diameter::{Command, DiameterUri, ExperimentalResultCode, ResultCode};
use ims_sip::header::Challenge;
use ims_sip::{Message, StatusCode};
use rand::rngs::StdRng;
use rand::SeedableRng;
use scscf::store::StoreOp;
use scscf::{Action, CxMessage, CxToken, Registrar, RegistrarConfig};

pub const K: [u8; 16] = [0x46; 16];
pub const OPC: [u8; 16] = [0xcd; 16];
pub const REALM: &str = "ims.example";
pub const SERVER: &str = "sip:scscf.ims.example:6060";
pub const PASSWORD: &[u8] = b"secret";

pub const USER_DATA: &str = "<?xml version=\"1.0\"?><IMSSubscription><PrivateID>alice@ims.example</PrivateID>\
<ServiceProfile>\
<PublicIdentity><BarringIndication>1</BarringIndication><Identity>sip:alice-barred@ims.example</Identity></PublicIdentity>\
<PublicIdentity><Identity>tel:+15551234</Identity></PublicIdentity>\
<PublicIdentity><Identity>sip:alice@ims.example</Identity></PublicIdentity>\
<InitialFilterCriteria><Priority>1</Priority><ApplicationServer><ServerName>sip:as.ims.example</ServerName><DefaultHandling>0</DefaultHandling></ApplicationServer></InitialFilterCriteria>\
</ServiceProfile></IMSSubscription>";

/// Alice's profile has an implicit set; anyone else gets a set of one.
pub fn user_data_for(impu: &str) -> Bytes {
    if impu == "sip:alice@ims.example" {
        Bytes::from_static(USER_DATA.as_bytes())
    } else {
        Bytes::from(format!(
            "<IMSSubscription><ServiceProfile><PublicIdentity><Identity>{impu}</Identity></PublicIdentity></ServiceProfile></IMSSubscription>"
        ))
    }
}

/// What the fake HSS does with the next request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HssMode {
    Normal,
    UserUnknown,
}

pub struct FakeHss {
    pub milenage: Milenage,
    pub sqn: SqnGenerator,
    pub rng: StdRng,
    pub mode: HssMode,
    /// Every MAR and SAR received, in order.
    pub mars: Vec<MultimediaAuthRequest>,
    pub sars: Vec<ServerAssignmentRequest>,
    /// The last vector handed out.
    pub last_vector: Option<AuthVector>,
}

impl FakeHss {
    pub fn new() -> Self {
        FakeHss {
            milenage: Milenage::with_opc(&K, &OPC),
            sqn: SqnGenerator::new(SqnScheme::default(), Sqn::default()).unwrap(),
            rng: StdRng::seed_from_u64(7),
            mode: HssMode::Normal,
            mars: Vec::new(),
            sars: Vec::new(),
            last_vector: None,
        }
    }

    pub fn common(&self, req: &ims_diameter::cx::RequestCommon) -> AnswerCommon {
        let result: AnswerResult = match self.mode {
            HssMode::Normal => ResultCode::SUCCESS.into(),
            HssMode::UserUnknown => {
                ExperimentalResult::tgpp(ExperimentalResultCode::ERROR_USER_UNKNOWN).into()
            }
        };
        AnswerCommon::answering(req, result, "hss.ims.example", REALM)
    }

    /// Answers a Cx request as the HSS would (TS 29.228 §6.1.2, §6.3).
    pub fn answer(&mut self, message: &CxMessage) -> ims_diameter::Message {
        // Through the wire format and back, as the driver would.
        let wire = message.to_message(1, 1).encode();
        match message {
            CxMessage::Mar(_) => {
                let mar = MultimediaAuthRequest::decode(&wire).unwrap();
                self.mars.push(mar.clone());
                let item = &mar.sip_auth_data_item;
                let requested = item.sip_authentication_scheme.clone().unwrap();
                let scheme = if requested == auth_scheme::UNKNOWN {
                    auth_scheme::DIGEST_AKAV1_MD5.to_owned()
                } else {
                    requested
                };
                if let Some(resync) = &item.sip_authorization {
                    let info = ResynchronisationInfo::from_bytes(resync).unwrap();
                    let sqn_ms = info.verify(&self.milenage).unwrap();
                    self.sqn.resynchronise(sqn_ms);
                }
                let item = if scheme == auth_scheme::SIP_DIGEST {
                    SipAuthDataItem {
                        sip_item_number: Some(1),
                        sip_authentication_scheme: Some(scheme),
                        sip_digest_authenticate: Some(SipDigestAuthenticate {
                            digest_realm: REALM.into(),
                            digest_algorithm: Some("MD5".into()),
                            digest_qop: "auth".into(),
                            digest_ha1: ims_aka::digest::ha1(&mar.user_name, REALM, PASSWORD)
                                .as_str()
                                .to_owned(),
                            extra: Vec::new(),
                        }),
                        ..SipAuthDataItem::default()
                    }
                } else {
                    let av = AuthVector::generate_next(
                        &self.milenage,
                        &mut self.rng,
                        &mut self.sqn,
                        Amf::SEPARATION_BIT,
                    )
                    .unwrap();
                    let mut rand_autn = av.rand.to_vec();
                    rand_autn.extend_from_slice(&av.autn.to_bytes());
                    self.last_vector = Some(av.clone());
                    SipAuthDataItem {
                        sip_item_number: Some(1),
                        sip_authentication_scheme: Some(scheme),
                        sip_authenticate: Some(Bytes::from(rand_autn)),
                        sip_authorization: Some(Bytes::copy_from_slice(&av.xres)),
                        confidentiality_key: Some(Bytes::copy_from_slice(&av.ck)),
                        integrity_key: Some(Bytes::copy_from_slice(&av.ik)),
                        ..SipAuthDataItem::default()
                    }
                };
                MultimediaAuthAnswer {
                    common: self.common(&mar.common),
                    user_name: Some(mar.user_name.clone()),
                    public_identity: Some(mar.public_identity.clone()),
                    sip_number_auth_items: Some(1),
                    sip_auth_data_items: vec![item],
                    extra: Vec::new(),
                }
                .to_message(1, 1)
            }
            CxMessage::Sar(_) => {
                let sar = ServerAssignmentRequest::decode(&wire).unwrap();
                self.sars.push(sar.clone());
                let with_data = sar.server_assignment_type == ServerAssignmentType::REGISTRATION;
                ServerAssignmentAnswer {
                    common: self.common(&sar.common),
                    user_name: sar.user_name.clone(),
                    user_data: with_data.then(|| user_data_for(&sar.public_identities[0])),
                    charging_information: with_data.then(|| ChargingInformation {
                        primary_charging_collection_function_name: DiameterUri::parse(
                            "aaa://ccf.ims.example",
                        ),
                        ..ChargingInformation::default()
                    }),
                    associated_identities: None,
                    loose_route_indication: None,
                    server_name: None,
                    wildcarded_public_identity: None,
                    priviledged_sender_indication: None,
                    extra: Vec::new(),
                }
                .to_message(1, 1)
            }
        }
    }

    pub fn sar_types(&self) -> Vec<ServerAssignmentType> {
        self.sars.iter().map(|s| s.server_assignment_type).collect()
    }
}

pub struct Ue {
    pub usim: Usim,
    pub impi: String,
    pub call_id: String,
    pub cseq: u32,
    pub contact: String,
    pub nc: u32,
}

impl Ue {
    pub fn new(contact: &str) -> Self {
        Ue {
            usim: Usim::new(Milenage::with_opc(&K, &OPC), SqnScheme::default()).unwrap(),
            impi: "alice@ims.example".into(),
            // Call-ID is a word: keep the contact's alphanumerics.
            call_id: format!(
                "call-{}",
                contact
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            ),
            cseq: 0,
            contact: contact.into(),
            nc: 0,
        }
    }

    /// A REGISTER as the P-CSCF forwards it.
    pub fn register(&mut self, authorization: &str, expires: Option<u32>) -> Message {
        self.cseq += 1;
        let mut raw = format!(
            "REGISTER sip:ims.example SIP/2.0\r\n\
             Via: SIP/2.0/UDP pcscf.ims.example;branch=z9hG4bKp{cseq}\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKu{cseq}\r\n\
             Max-Forwards: 69\r\n\
             From: <sip:alice@ims.example>;tag=ue1\r\n\
             To: <sip:alice@ims.example>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Path: <sip:term@pcscf.ims.example;lr>\r\n\
             P-Visited-Network-ID: \"visited.example\"\r\n\
             P-Charging-Vector: icid-value=\"abc123\"\r\n\
             Authorization: {authorization}\r\n",
            cseq = self.cseq,
            call_id = self.call_id,
        );
        if !self.contact.is_empty() {
            raw.push_str(&format!("Contact: {}\r\n", self.contact));
        }
        if let Some(e) = expires {
            raw.push_str(&format!("Expires: {e}\r\n"));
        }
        raw.push_str("Content-Length: 0\r\n\r\n");
        Message::parse(raw.as_bytes()).unwrap()
    }

    pub fn initial_authorization(&self, algorithm: Option<&str>) -> String {
        let alg = algorithm
            .map(|a| format!(", algorithm={a}"))
            .unwrap_or_default();
        format!(
            "Digest username=\"{}\", realm=\"{REALM}\", nonce=\"\", uri=\"sip:ims.example\", response=\"\"{alg}, integrity-protected=\"no\"",
            self.impi
        )
    }

    /// The Authorization answering `challenge` with `password`.
    pub fn answer(
        &mut self,
        challenge: &Challenge,
        password: &[u8],
        auts: Option<&str>,
        protected: &str,
    ) -> String {
        self.nc += 1;
        let nc = format!("{:08x}", self.nc);
        let algorithm = DigestAlgorithm::parse(challenge.algorithm().unwrap()).unwrap();
        let nonce = challenge.nonce().unwrap();
        let params = DigestParams {
            username: &self.impi,
            realm: challenge.realm().unwrap(),
            nonce,
            uri: "sip:ims.example",
            method: "REGISTER",
            algorithm,
            qop: Some(QopParams {
                qop: Qop::Auth,
                nc: &nc,
                cnonce: "0a4f113b",
            }),
            body: b"",
        };
        let response = params.response(password).unwrap();
        let auts = auts.map(|a| format!(", auts=\"{a}\"")).unwrap_or_default();
        format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{nonce}\", uri=\"sip:ims.example\", response=\"{response}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"0a4f113b\"{auts}, integrity-protected=\"{protected}\"",
            self.impi,
            challenge.realm().unwrap(),
            algorithm.as_str(),
        )
    }
}

pub struct Net {
    pub scscf: Registrar,
    pub hss: FakeHss,
    pub now: SystemTime,
    pub store_ops: Vec<StoreOp>,
    /// Cx tokens the test chose not to answer.
    pub unanswered: Vec<CxToken>,
    pub hold_cx: bool,
}

impl Net {
    pub fn new() -> Self {
        Net {
            scscf: Registrar::with_rng(
                RegistrarConfig::new(SERVER, REALM),
                StdRng::seed_from_u64(1),
            )
            .unwrap(),
            hss: FakeHss::new(),
            now: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            store_ops: Vec::new(),
            unanswered: Vec::new(),
            hold_cx: false,
        }
    }

    /// Runs actions to completion; returns the SIP responses.
    pub fn run(&mut self, mut actions: Vec<Action>) -> Vec<Message> {
        let mut responses = Vec::new();
        while !actions.is_empty() {
            let mut next = Vec::new();
            for a in actions {
                match a {
                    Action::Respond(m) => responses.push(m),
                    Action::Store(op) => self.store_ops.push(op),
                    Action::CxRequest { token, message } => {
                        if self.hold_cx {
                            self.unanswered.push(token);
                            continue;
                        }
                        let answer = self.hss.answer(&message);
                        next.extend(self.scscf.handle_cx_answer(self.now, token, &answer));
                    }
                }
            }
            actions = next;
        }
        responses
    }

    pub fn send(&mut self, request: Message) -> Message {
        let actions = self.scscf.handle_register(self.now, request);
        let mut responses = self.run(actions);
        assert_eq!(responses.len(), 1, "one response per REGISTER");
        responses.remove(0)
    }

    pub fn timeout(&mut self) -> Vec<Message> {
        let actions = self.scscf.handle_timeout(self.now);
        self.run(actions)
    }
}

pub fn challenge_of(resp: &Message) -> Challenge {
    assert_eq!(resp.status(), Some(StatusCode::UNAUTHORIZED));
    Challenge::parse(resp.headers().get("WWW-Authenticate").unwrap()).unwrap()
}

/// The full IMS-AKA registration; returns the 200 OK.
pub fn aka_register(
    net: &mut Net,
    ue: &mut Ue,
    algorithm: Option<&str>,
    expires: Option<u32>,
) -> Message {
    let r1 = ue.register(&ue.initial_authorization(algorithm), expires);
    let challenge = challenge_of(&net.send(r1));
    let alg = DigestAlgorithm::parse(challenge.algorithm().unwrap()).unwrap();
    let answer = answer_challenge(&mut ue.usim, alg, challenge.nonce().unwrap()).unwrap();
    assert!(answer.auts.is_none());
    let auth = ue.answer(&challenge, &answer.password, None, "yes");
    net.send(ue.register(&auth, expires))
}

pub fn header_values(m: &Message, name: &str) -> Vec<String> {
    m.headers().values(name).map(str::to_owned).collect()
}
