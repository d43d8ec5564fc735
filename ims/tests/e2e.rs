//! The whole core as `ims up` runs it (HSS, I-CSCF, S-CSCF, P-CSCF in this process, over
//! loopback sockets, with the demo subscribers), driven by the UE simulator over real sockets:
//! - IMS-AKA (AKAv1-MD5) registration through P -> I (UAR) -> S (MAR, 401, SAR) -> HSS,
//!   re-registration and de-registration;
//! - a call between two registered UEs (INVITE/180/200/ACK, BYE/200), over UDP and over a
//!   TCP flow; a rejected call (486) and a cancelled one (CANCEL/487); a call to a tel URI;
//! - a call to a known but unregistered user (480) and to an unknown user (404);
//! - SIP Digest (MD5) registration and a call, the challenge a softphone gets, a wrong
//!   password (403), a subscriber provisioned over REST;
//! - `--data-dir` across a restart, and start-up failures that leave nothing running.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use hss_sim::app::StartError;
use ims::up::Storage;
use ims::up::{self, RunningCore, UpConfig, DEMO_SUBSCRIBERS, HOME_DOMAIN};
use ims_aka::{Amf, SqnScheme};
use ims_sip::{Message, StatusCode, Uri};
use tokio::time::timeout;
use ue_sim::runner::{UeHandle, UeRunner};
use ue_sim::{Credentials, EndReason, OperatorKey, SipTransport, UeConfig, UeEvent};

/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(20);

/// A loopback port free for both UDP and TCP right now (the CSCFs listen on both).
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("a TCP port");
        let port = tcp.local_addr().expect("bound").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `ims up`'s configuration on fresh ports, with the demo subscribers, in memory.
fn test_config() -> UpConfig {
    // Logs for a failing run: RUST_LOG=debug cargo test -p ims --test e2e -- --nocapture
    ims_node::logging::init(&std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
    UpConfig {
        pcscf: loopback(free_port()),
        icscf: loopback(free_port()),
        scscf: loopback(free_port()),
        hss: loopback(free_port()),
        rest: loopback(free_port()),
        ..UpConfig::default()
    }
}

/// The core as `ims up` runs it, on fresh ports. A port found free can be taken by another
/// test before the core binds it; then the start is tried again on other ports.
async fn start_core() -> RunningCore {
    let mut attempts = 0;
    loop {
        match up::start(&test_config()).await {
            Ok(core) => return core,
            Err(error @ (up::UpError::Bind { .. } | up::UpError::Hss(StartError::Bind { .. })))
                if attempts < 3 =>
            {
                attempts += 1;
                eprintln!("retrying on other ports: {error}");
            }
            Err(error) => panic!("the core does not start: {error}"),
        }
    }
}

/// The demo subscriber `impi` as the seed file provisions it.
fn seed_entry(impi: &str) -> toml::Table {
    let seed: toml::Table = toml::from_str(DEMO_SUBSCRIBERS).expect("the demo seed is TOML");
    seed["subscribers"]
        .as_array()
        .expect("a subscribers array")
        .iter()
        .filter_map(toml::Value::as_table)
        .find(|s| s["impi"].as_str() == Some(impi))
        .unwrap_or_else(|| panic!("{impi} in the demo seed"))
        .clone()
}

fn key(hex: &str) -> [u8; 16] {
    let mut out = [0; 16];
    assert_eq!(hex.len(), 32, "a 128-bit key: {hex}");
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

/// The USIM of a demo AKA subscriber (K and OP or OPc from the seed).
fn aka_credentials(impi: &str) -> Credentials {
    let entry = seed_entry(impi);
    let hex = |field: &str| entry.get(field).and_then(toml::Value::as_str).map(key);
    let operator_key = match (hex("op"), hex("opc")) {
        (Some(op), None) => OperatorKey::Op(op),
        (None, Some(opc)) => OperatorKey::Opc(opc),
        _ => panic!("{impi}: exactly one of op/opc"),
    };
    Credentials::Aka {
        k: hex("k").expect("K"),
        operator_key,
        amf: Amf::SEPARATION_BIT,
        sqn_scheme: SqnScheme::default(),
    }
}

/// The password of a demo SIP Digest subscriber.
fn md5_credentials(impi: &str) -> Credentials {
    let password = seed_entry(impi)["password"]
        .as_str()
        .expect("a password")
        .to_owned();
    Credentials::Md5 { password }
}

fn impu(user: &str) -> Uri {
    Uri::parse(&format!("sip:{user}@{HOME_DOMAIN}")).expect("a SIP URI")
}

/// One UE with its own UDP socket, its P-CSCF being the core's.
async fn ue(core: &RunningCore, user: &str, credentials: Credentials) -> (UeRunner, UeHandle) {
    ue_over(SipTransport::Udp, core, user, credentials).await
}

/// One UE with its own socket of `transport` (the P-CSCF listens on UDP and TCP, same port).
async fn ue_over(
    transport: SipTransport,
    core: &RunningCore,
    user: &str,
    credentials: Credentials,
) -> (UeRunner, UeHandle) {
    let pcscf = core.addrs.pcscf_udp().expect("the P-CSCF listens on UDP");
    let runner = UeRunner::bind(transport, loopback(0))
        .await
        .expect("a UE socket");
    let mut config = UeConfig::new(
        &format!("{user}@{HOME_DOMAIN}"),
        impu(user),
        HOME_DOMAIN,
        credentials,
        pcscf,
        runner.local_addr(),
    );
    config.expires = 3600;
    let handle = runner.add_ue(config).await.expect("the UE is added");
    (runner, handle)
}

async fn next(ue: &mut UeHandle) -> UeEvent {
    timeout(GUARD, ue.next_event())
        .await
        .expect("an event in time")
        .expect("the UE driver runs")
}

async fn register(ue: &mut UeHandle) -> UeEvent {
    timeout(GUARD, ue.register())
        .await
        .expect("a registration outcome in time")
        .expect("the UE driver runs")
}

async fn deregister(ue: &mut UeHandle) -> UeEvent {
    timeout(GUARD, ue.deregister())
        .await
        .expect("a de-registration outcome in time")
        .expect("the UE driver runs")
}

/// Registers and checks the implicit registration set of the 200 OK.
async fn assert_registers(ue: &mut UeHandle, user: &str, associated: &[&str]) {
    match register(ue).await {
        UeEvent::Registered {
            associated_uris, ..
        } => {
            for uri in associated {
                assert!(
                    associated_uris.iter().any(|a| a.contains(uri)),
                    "{user}: {uri} in P-Associated-URI {associated_uris:?}"
                );
            }
        }
        other => panic!("{user} did not register: {other:?}"),
    }
}

/// A call from `caller` to `target` that fails with `expected`.
async fn assert_call_fails(caller: &mut UeHandle, target: Uri, expected: StatusCode) {
    let call = caller.call(target.clone()).await.expect("the call starts");
    loop {
        match next(caller).await {
            UeEvent::CallRinging { .. } => {}
            UeEvent::CallFailed { call: c, status } if c == call => {
                assert_eq!(status, expected, "call to {target}");
                return;
            }
            other => panic!("call to {target}: unexpected {other:?}"),
        }
    }
}

/// Alice calls Bob: INVITE/180/200/ACK end to end, then Alice hangs up (BYE/200).
async fn assert_call_and_hangup(alice: &mut UeHandle, bob: &mut UeHandle, bob_uri: Uri) {
    let a_call = alice.call(bob_uri).await.expect("the call starts");
    let (b_call, from) = match next(bob).await {
        UeEvent::IncomingCall { call, from, .. } => (call, from),
        other => panic!("bob: unexpected {other:?}"),
    };
    assert!(
        from.contains("alice@ims.example"),
        "the callee sees the caller: {from}"
    );
    assert_eq!(next(alice).await, UeEvent::CallRinging { call: a_call });
    bob.answer(b_call).await.expect("bob answers");
    assert_eq!(next(alice).await, UeEvent::CallEstablished { call: a_call });
    assert_eq!(next(bob).await, UeEvent::CallEstablished { call: b_call });

    alice.hangup(a_call).await.expect("alice hangs up");
    assert_eq!(
        next(bob).await,
        UeEvent::CallEnded {
            call: b_call,
            reason: EndReason::RemoteHangup
        }
    );
    assert_eq!(
        next(alice).await,
        UeEvent::CallEnded {
            call: a_call,
            reason: EndReason::LocalHangup
        }
    );
}

#[tokio::test]
async fn aka_registration_call_and_deregistration_across_the_core() {
    let core = start_core().await;
    let (_a_runner, mut alice) = ue(&core, "alice", aka_credentials("alice@ims.example")).await;
    let (_b_runner, mut bob) = ue(&core, "bob", aka_credentials("bob@ims.example")).await;

    // IMS-AKA through P -> I (UAR) -> S (MAR, 401, SAR) -> HSS.
    assert_registers(
        &mut alice,
        "alice",
        &["sip:alice@ims.example", "tel:+15550001"],
    )
    .await;
    assert_registers(&mut bob, "bob", &["sip:bob@ims.example"]).await;
    // Re-registration (TS 24.229 §5.1.1.4): the same set again.
    assert_registers(
        &mut alice,
        "alice",
        &["sip:alice@ims.example", "tel:+15550001"],
    )
    .await;

    // MO/MT call: P -> S (orig) -> I (LIR) -> S (term) -> P -> UE.
    assert_call_and_hangup(&mut alice, &mut bob, impu("bob")).await;

    // A known user without a registration: 480; an identity the HSS does not know: 404.
    assert_call_fails(&mut alice, impu("carol"), StatusCode(480)).await;
    assert_call_fails(&mut alice, impu("nobody"), StatusCode(404)).await;

    // Bob de-registers; a call to him now finds no contact.
    assert_eq!(deregister(&mut bob).await, UeEvent::Deregistered);
    assert_call_fails(&mut alice, impu("bob"), StatusCode(480)).await;

    core.shutdown().await;
}

#[tokio::test]
async fn sip_digest_md5_users_register_and_call() {
    let core = start_core().await;
    let (_c_runner, mut carol) = ue(&core, "carol", md5_credentials("carol@ims.example")).await;
    let (_d_runner, mut dave) = ue(&core, "dave", md5_credentials("dave@ims.example")).await;

    assert_registers(&mut carol, "carol", &["sip:carol@ims.example"]).await;
    assert_registers(&mut dave, "dave", &["sip:dave@ims.example"]).await;

    let c_call = carol.call(impu("dave")).await.expect("the call starts");
    let d_call = match next(&mut dave).await {
        UeEvent::IncomingCall { call, .. } => call,
        other => panic!("dave: unexpected {other:?}"),
    };
    assert_eq!(
        next(&mut carol).await,
        UeEvent::CallRinging { call: c_call }
    );
    dave.answer(d_call).await.expect("dave answers");
    assert_eq!(
        next(&mut carol).await,
        UeEvent::CallEstablished { call: c_call }
    );
    assert_eq!(
        next(&mut dave).await,
        UeEvent::CallEstablished { call: d_call }
    );
    dave.hangup(d_call).await.expect("dave hangs up");
    assert_eq!(
        next(&mut carol).await,
        UeEvent::CallEnded {
            call: c_call,
            reason: EndReason::RemoteHangup
        }
    );

    core.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let core = start_core().await;
    let wrong = Credentials::Md5 {
        password: "not-carols-password".into(),
    };
    let (_runner, mut carol) = ue(&core, "carol", wrong).await;
    match register(&mut carol).await {
        UeEvent::RegistrationFailed { status } => {
            assert_eq!(status, StatusCode(403), "a wrong Digest response");
        }
        other => panic!("registered with a wrong password: {other:?}"),
    }
    core.shutdown().await;
}

#[tokio::test]
async fn a_port_in_use_fails_the_start_and_names_the_function() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
    let config = UpConfig {
        icscf: taken.local_addr().expect("bound"),
        ..test_config()
    };
    let error = match up::start(&config).await {
        Ok(_) => panic!("started on a port in use"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("I-CSCF"), "{error}");
    // Nothing was left running: the HSS and the P-CSCF (bound before the I-CSCF failed) let
    // their ports go.
    assert!(TcpListener::bind(config.hss).is_ok(), "the HSS stopped");
    assert!(
        UdpSocket::bind(config.pcscf).is_ok(),
        "the P-CSCF's UDP socket closed"
    );
    assert!(
        TcpListener::bind(config.pcscf).is_ok(),
        "the P-CSCF's listener closed"
    );
}

#[tokio::test]
async fn a_ue_over_tcp_calls_a_ue_over_udp() {
    let core = start_core().await;
    let (_a_runner, mut alice) = ue_over(
        SipTransport::Tcp,
        &core,
        "alice",
        aka_credentials("alice@ims.example"),
    )
    .await;
    let (_b_runner, mut bob) = ue(&core, "bob", aka_credentials("bob@ims.example")).await;
    assert_registers(&mut alice, "alice", &["sip:alice@ims.example"]).await;
    assert_registers(&mut bob, "bob", &["sip:bob@ims.example"]).await;
    // Alice's side of the call runs over her TCP flow, Bob's over UDP.
    assert_call_and_hangup(&mut alice, &mut bob, impu("bob")).await;
    // And back: the P-CSCF reaches Alice over her flow for a terminating INVITE.
    let b_call = bob.call(impu("alice")).await.expect("the call starts");
    match next(&mut alice).await {
        UeEvent::IncomingCall { call, .. } => alice.answer(call).await.expect("answer"),
        other => panic!("alice: unexpected {other:?}"),
    }
    assert_eq!(next(&mut bob).await, UeEvent::CallRinging { call: b_call });
    assert_eq!(
        next(&mut bob).await,
        UeEvent::CallEstablished { call: b_call }
    );
    core.shutdown().await;
}

/// What a plain softphone sends first: a REGISTER without Authorization. The S-CSCF lets the
/// HSS pick the subscriber's scheme, so carol (SIP Digest only) gets an MD5 challenge.
#[tokio::test]
async fn a_softphone_register_without_credentials_gets_an_md5_challenge() {
    let core = start_core().await;
    let pcscf = core.addrs.pcscf_udp().expect("the P-CSCF listens on UDP");
    let phone = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("a socket");
    let me = phone.local_addr().expect("bound");
    let register = format!(
        "REGISTER sip:{HOME_DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKsoftphone1;rport\r\n\
         Max-Forwards: 70\r\nTo: <sip:carol@{HOME_DOMAIN}>\r\n\
         From: <sip:carol@{HOME_DOMAIN}>;tag=sp1\r\nCall-ID: softphone1@test\r\n\
         CSeq: 1 REGISTER\r\nContact: <sip:carol@{me}>\r\nExpires: 600\r\n\
         Content-Length: 0\r\n\r\n"
    );
    phone
        .send_to(register.as_bytes(), pcscf)
        .await
        .expect("sent");
    let mut buf = vec![0; 65_535];
    let response = loop {
        let (n, _) = timeout(GUARD, phone.recv_from(&mut buf))
            .await
            .expect("an answer in time")
            .expect("received");
        let message = Message::parse(&buf[..n]).expect("a SIP message");
        // Skip a provisional answer, if any.
        if message.status().is_some_and(|s| s.0 >= 200) {
            break message;
        }
    };
    assert_eq!(response.status(), Some(StatusCode(401)));
    let challenge = response
        .headers()
        .get("WWW-Authenticate")
        .expect("a challenge")
        .to_owned();
    assert!(challenge.starts_with("Digest"), "{challenge}");
    assert!(
        challenge.contains("realm=\"ims.example\""),
        "the home realm: {challenge}"
    );
    assert!(
        challenge.contains("algorithm=MD5"),
        "an MD5 challenge, not AKA: {challenge}"
    );
    assert!(
        !challenge.contains("ck=") && !challenge.contains("ik="),
        "no keys reach the UE: {challenge}"
    );
    core.shutdown().await;
}

/// A scratch directory under the system temp dir, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("ims-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// With a data directory the HSS and the S-CSCF keep their state in SQLite files; a restart on
/// the same files (migrations again, the seed upserted into a populated store, registrations
/// reloaded) gives a working core: the UEs register and call again.
#[tokio::test]
async fn a_data_directory_survives_a_restart() {
    let dir = ScratchDir::new("restart");
    let config = UpConfig {
        storage: Storage::Directory(dir.0.clone()),
        ..test_config()
    };
    let core = up::start(&config).await.expect("the core starts");
    let (_a_runner, mut alice) = ue(&core, "alice", aka_credentials("alice@ims.example")).await;
    assert_registers(&mut alice, "alice", &["sip:alice@ims.example"]).await;
    core.shutdown().await;
    for file in ["hss.db", "scscf.db"] {
        assert!(dir.0.join(file).is_file(), "{file} written");
    }

    // Same ports, same files; the seed is upserted again without losing the stored SQN.
    let core = up::start(&config).await.expect("the core starts again");
    let (_a_runner, mut alice) = ue(&core, "alice", aka_credentials("alice@ims.example")).await;
    let (_b_runner, mut bob) = ue(&core, "bob", aka_credentials("bob@ims.example")).await;
    assert_registers(&mut alice, "alice", &["sip:alice@ims.example"]).await;
    assert_registers(&mut bob, "bob", &["sip:bob@ims.example"]).await;
    assert_call_and_hangup(&mut alice, &mut bob, impu("bob")).await;
    core.shutdown().await;
}

#[tokio::test]
async fn an_unspecified_pcscf_address_is_refused() {
    let config = UpConfig {
        pcscf: SocketAddr::from(([0, 0, 0, 0], free_port())),
        ..test_config()
    };
    match up::start(&config).await {
        Ok(_) => panic!("started with a P-CSCF on 0.0.0.0"),
        Err(error) => assert!(
            matches!(error, up::UpError::UnspecifiedPcscfAddress(_)),
            "{error}"
        ),
    }
}

/// Two UEs registered with IMS-AKA on a fresh core.
async fn alice_and_bob(core: &RunningCore) -> [(UeRunner, UeHandle); 2] {
    let (a_runner, mut alice) = ue(core, "alice", aka_credentials("alice@ims.example")).await;
    let (b_runner, mut bob) = ue(core, "bob", aka_credentials("bob@ims.example")).await;
    assert_registers(&mut alice, "alice", &["sip:alice@ims.example"]).await;
    assert_registers(&mut bob, "bob", &["sip:bob@ims.example"]).await;
    [(a_runner, alice), (b_runner, bob)]
}

/// The callee's 486 and the caller's CANCEL (487) cross every proxy back to the other UE.
#[tokio::test]
async fn a_rejected_call_and_a_cancelled_call() {
    let core = start_core().await;
    let [(_a, mut alice), (_b, mut bob)] = alice_and_bob(&core).await;

    let a_call = alice.call(impu("bob")).await.expect("the call starts");
    let b_call = match next(&mut bob).await {
        UeEvent::IncomingCall { call, .. } => call,
        other => panic!("bob: unexpected {other:?}"),
    };
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallRinging { call: a_call }
    );
    bob.reject(b_call, StatusCode(486))
        .await
        .expect("bob rejects");
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallFailed {
            call: a_call,
            status: StatusCode(486)
        }
    );
    assert_eq!(
        next(&mut bob).await,
        UeEvent::CallEnded {
            call: b_call,
            reason: EndReason::Rejected(StatusCode(486))
        }
    );

    let a_call = alice.call(impu("bob")).await.expect("the call starts");
    let b_call = match next(&mut bob).await {
        UeEvent::IncomingCall { call, .. } => call,
        other => panic!("bob: unexpected {other:?}"),
    };
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallRinging { call: a_call }
    );
    alice.cancel(a_call).await.expect("alice cancels");
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallEnded {
            call: a_call,
            reason: EndReason::Cancelled
        }
    );
    assert_eq!(
        next(&mut bob).await,
        UeEvent::CallEnded {
            call: b_call,
            reason: EndReason::CancelledByCaller
        }
    );
    core.shutdown().await;
}

/// A tel URI of Bob's implicit registration set reaches Bob (LIR by the tel URI).
#[tokio::test]
async fn a_call_to_a_tel_uri_reaches_its_owner() {
    let core = start_core().await;
    let [(_a, mut alice), (_b, mut bob)] = alice_and_bob(&core).await;
    let tel = Uri::parse("tel:+15550002").expect("a tel URI");
    let a_call = alice.call(tel).await.expect("the call starts");
    match next(&mut bob).await {
        UeEvent::IncomingCall { call, from, .. } => {
            assert!(from.contains("alice@ims.example"), "{from}");
            bob.answer(call).await.expect("bob answers");
        }
        other => panic!("bob: unexpected {other:?}"),
    }
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallRinging { call: a_call }
    );
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallEstablished { call: a_call }
    );
    core.shutdown().await;
}

/// A subscriber provisioned over the HSS's REST API while the core runs can register at once
/// and be called.
#[tokio::test]
async fn a_subscriber_provisioned_over_rest_registers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let core = start_core().await;
    let body = r#"{"impi": "erin@ims.example",
        "k": "e484a7f5be85eeedf527750ea757adbd", "opc": "15c8c82148c983a7b1d1f192c3323237",
        "auth_schemes": ["SIP Digest"], "password": "erin-secret",
        "service_profiles": [{"public_identities": [{"identity": "sip:erin@ims.example"}]}]}"#;
    let request = format!(
        "POST /subscribers HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        core.addrs.rest,
        body.len()
    );
    let mut http = tokio::net::TcpStream::connect(core.addrs.rest)
        .await
        .expect("the REST API accepts");
    http.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = String::new();
    timeout(GUARD, http.read_to_string(&mut answer))
        .await
        .expect("an answer in time")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let (_e, mut erin) = ue(
        &core,
        "erin",
        Credentials::Md5 {
            password: "erin-secret".into(),
        },
    )
    .await;
    assert_registers(&mut erin, "erin", &["sip:erin@ims.example"]).await;
    let (_c, mut carol) = ue(&core, "carol", md5_credentials("carol@ims.example")).await;
    assert_registers(&mut carol, "carol", &["sip:carol@ims.example"]).await;
    let c_call = carol.call(impu("erin")).await.expect("the call starts");
    match next(&mut erin).await {
        UeEvent::IncomingCall { call, .. } => erin
            .reject(call, StatusCode(603))
            .await
            .expect("erin declines"),
        other => panic!("erin: unexpected {other:?}"),
    }
    assert_eq!(
        next(&mut carol).await,
        UeEvent::CallRinging { call: c_call }
    );
    assert_eq!(
        next(&mut carol).await,
        UeEvent::CallFailed {
            call: c_call,
            status: StatusCode(603)
        }
    );
    core.shutdown().await;
}
