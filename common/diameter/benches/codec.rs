//! Codec micro-benchmarks: encode and decode of a MAR and an MAA carrying one
//! SIP-Auth-Data-Item (IMS-AKA), and of a SAA with ~2 KB of User-Data.
//!
//! Run: `cargo bench -p ims-diameter --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ims_diameter::base::{AnswerResult, ExperimentalResult};
use ims_diameter::cx::{
    auth_scheme, AnswerCommon, MultimediaAuthAnswer, MultimediaAuthRequest, RequestCommon,
    ServerAssignmentAnswer, SipAuthDataItem,
};
use ims_diameter::{Command, ExperimentalResultCode, Message, ResultCode};

fn request_common() -> RequestCommon {
    RequestCommon {
        session_id: "scscf.ims.mnc001.mcc001.3gppnetwork.org;1700000000;42".into(),
        origin_host: "scscf.ims.mnc001.mcc001.3gppnetwork.org".into(),
        origin_realm: "ims.mnc001.mcc001.3gppnetwork.org".into(),
        destination_host: Some("hss.ims.mnc001.mcc001.3gppnetwork.org".into()),
        destination_realm: "ims.mnc001.mcc001.3gppnetwork.org".into(),
        supported_features: Vec::new(),
    }
}

fn answer_common(result: AnswerResult) -> AnswerCommon {
    AnswerCommon::answering(
        &request_common(),
        result,
        "hss.ims.mnc001.mcc001.3gppnetwork.org",
        "ims.mnc001.mcc001.3gppnetwork.org",
    )
}

fn mar() -> Message {
    MultimediaAuthRequest {
        common: request_common(),
        user_name: "001010000000001@ims.mnc001.mcc001.3gppnetwork.org".into(),
        public_identity: "sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org".into(),
        sip_auth_data_item: SipAuthDataItem {
            sip_authentication_scheme: Some(auth_scheme::DIGEST_AKAV1_MD5.into()),
            ..Default::default()
        },
        sip_number_auth_items: 1,
        server_name: "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060".into(),
        extra: Vec::new(),
    }
    .to_message(1, 2)
}

fn maa() -> Message {
    MultimediaAuthAnswer {
        common: answer_common(AnswerResult::Base(ResultCode::SUCCESS)),
        user_name: Some("001010000000001@ims.mnc001.mcc001.3gppnetwork.org".into()),
        public_identity: Some("sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org".into()),
        sip_number_auth_items: Some(1),
        sip_auth_data_items: vec![SipAuthDataItem {
            sip_item_number: Some(1),
            sip_authentication_scheme: Some(auth_scheme::DIGEST_AKAV1_MD5.into()),
            sip_authenticate: Some(Bytes::from(vec![0x11; 32])),
            sip_authorization: Some(Bytes::from(vec![0x22; 8])),
            confidentiality_key: Some(Bytes::from(vec![0x33; 16])),
            integrity_key: Some(Bytes::from(vec![0x44; 16])),
            ..Default::default()
        }],
        extra: Vec::new(),
    }
    .to_message(1, 2)
}

fn saa() -> Message {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><IMSSubscription>");
    while xml.len() < 2000 {
        xml.push_str("<ServiceProfile><PublicIdentity><Identity>sip:alice@ims.test</Identity></PublicIdentity></ServiceProfile>");
    }
    xml.push_str("</IMSSubscription>");
    ServerAssignmentAnswer {
        common: answer_common(AnswerResult::Experimental(ExperimentalResult::tgpp(
            ExperimentalResultCode::DIAMETER_FIRST_REGISTRATION,
        ))),
        user_name: Some("alice@ims.test".into()),
        user_data: Some(Bytes::from(xml)),
        charging_information: None,
        associated_identities: None,
        loose_route_indication: None,
        server_name: None,
        wildcarded_public_identity: None,
        priviledged_sender_indication: None,
        extra: Vec::new(),
    }
    .to_message(1, 2)
}

/// `encode`: `Message` to bytes; `encode_typed`: typed command to `Message` to bytes;
/// `decode`: bytes to `Message`; `decode_typed`: bytes to the typed command.
fn bench_one<T: Command>(c: &mut Criterion, name: &str, msg: Message) {
    let wire = msg.encode();
    let typed = T::from_message(&msg).expect("fixture is valid");
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(&msg).encode()));
    g.bench_function("encode_typed", |b| {
        b.iter(|| black_box(&typed).to_message(1, 2).encode())
    });
    g.bench_function("decode", |b| {
        b.iter(|| Message::decode(black_box(&wire)).map(|m| m.avps.len()))
    });
    g.bench_function("decode_typed", |b| {
        b.iter(|| T::decode(black_box(&wire)).is_ok())
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    bench_one::<MultimediaAuthRequest>(c, "mar", mar());
    bench_one::<MultimediaAuthAnswer>(c, "maa", maa());
    bench_one::<ServerAssignmentAnswer>(c, "saa_2k_user_data", saa());
}

criterion_group!(benches, codec);
criterion_main!(benches);
