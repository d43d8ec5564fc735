//! The tokio driver over loopback UDP (and TCP): two UEs call each other directly (no core),
//! many UEs of one runner register with the fake registrar served on a real socket, and TCP
//! flows are kept alive (RFC 5626 §4.4.1).

mod support;

use std::time::Duration;

use ims_aka::DigestAlgorithm;
use ims_sip::{Message, Uri};
use support::*;
use tokio::net::UdpSocket;
use tokio::time::timeout;
use ue_sim::flow::KeepAlive;
use ue_sim::runner::{RunnerOptions, UeHandle, UeRunner};
use ue_sim::{EndReason, SipTransport, UeEvent};

/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(10);

async fn next(ue: &mut UeHandle) -> UeEvent {
    timeout(GUARD, ue.next_event())
        .await
        .expect("event in time")
        .expect("driver alive")
}

#[tokio::test]
async fn two_ues_call_each_other_directly() {
    direct_call(SipTransport::Udp).await;
}

#[tokio::test]
async fn two_ues_call_each_other_directly_over_tcp() {
    direct_call(SipTransport::Tcp).await;
}

async fn direct_call(transport: SipTransport) {
    let set = test_set(1);
    let a_runner = UeRunner::bind(transport, addr("127.0.0.1:0"))
        .await
        .unwrap();
    let b_runner = UeRunner::bind(transport, addr("127.0.0.1:0"))
        .await
        .unwrap();
    let (a_addr, b_addr) = (a_runner.local_addr(), b_runner.local_addr());
    // Each UE's "P-CSCF" is the other UE: requests go straight across.
    let mut alice = a_runner
        .add_ue(ue_config(
            "alice",
            aka_credentials(&set, true),
            a_addr,
            b_addr,
        ))
        .await
        .unwrap();
    let mut bob = b_runner
        .add_ue(ue_config(
            "bob",
            aka_credentials(&set, true),
            b_addr,
            a_addr,
        ))
        .await
        .unwrap();

    let target = Uri::parse(&format!("sip:bob@{b_addr}")).unwrap();
    let a_call = alice.call(target).await.unwrap();
    let b_call = match next(&mut bob).await {
        UeEvent::IncomingCall { call, from, .. } => {
            assert_eq!(from, "sip:alice@ims.example");
            call
        }
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallRinging { call: a_call }
    );
    bob.answer(b_call).await.unwrap();
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallEstablished { call: a_call }
    );
    assert_eq!(
        next(&mut bob).await,
        UeEvent::CallEstablished { call: b_call }
    );
    alice.hangup(a_call).await.unwrap();
    assert_eq!(
        next(&mut bob).await,
        UeEvent::CallEnded {
            call: b_call,
            reason: EndReason::RemoteHangup
        }
    );
    assert_eq!(
        next(&mut alice).await,
        UeEvent::CallEnded {
            call: a_call,
            reason: EndReason::LocalHangup
        }
    );
    a_runner.shutdown().await;
    b_runner.shutdown().await;
}

#[tokio::test]
async fn many_ues_register_through_one_runner() {
    let set = test_set(1);
    // The fake registrar on a real UDP socket.
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let registrar_addr = socket.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut registrar = FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5);
        let mut buf = vec![0u8; 65_535];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(request) = Message::parse(&buf[..n]) else {
                continue;
            };
            let response = registrar.handle(&request);
            let _ = socket.send_to(&response.to_bytes(), from).await;
        }
    });

    let set = test_set(1);
    let runner = UeRunner::bind(SipTransport::Udp, addr("127.0.0.1:0"))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for i in 0..20 {
        let config = ue_config(
            &format!("user{i}"),
            aka_credentials(&set, true),
            runner.local_addr(),
            registrar_addr,
        );
        handles.push(runner.add_ue(config).await.unwrap());
    }
    for h in &mut handles {
        let outcome = timeout(GUARD, h.register())
            .await
            .expect("in time")
            .unwrap();
        assert!(
            matches!(outcome, UeEvent::Registered { expires: 3600, .. }),
            "{outcome:?}"
        );
    }
    for h in &mut handles {
        let outcome = timeout(GUARD, h.deregister())
            .await
            .expect("in time")
            .unwrap();
        assert_eq!(outcome, UeEvent::Deregistered);
    }
    server.abort();
    runner.shutdown().await;
}

/// A figure, not a check of speed: how long N UEs of one runner take to register (AKAv1,
/// two round trips each) against the fake registrar over loopback. Run with
/// `cargo test -p ue-sim --test driver -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn registration_load_figure() {
    const N: usize = 2000;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let registrar_addr = socket.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut registrar = FakeRegistrar::aka(&test_set(1), DigestAlgorithm::AkaV1Md5);
        let mut buf = vec![0u8; 65_535];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(request) = Message::parse(&buf[..n]) else {
                continue;
            };
            let response = registrar.handle(&request);
            let _ = socket.send_to(&response.to_bytes(), from).await;
        }
    });
    let set = test_set(1);
    let runner = UeRunner::bind(SipTransport::Udp, addr("127.0.0.1:0"))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for i in 0..N {
        let config = ue_config(
            &format!("load{i}"),
            aka_credentials(&set, true),
            runner.local_addr(),
            registrar_addr,
        );
        handles.push(runner.add_ue(config).await.unwrap());
    }
    let start = std::time::Instant::now();
    let tasks: Vec<_> = handles
        .into_iter()
        .map(|mut h| tokio::spawn(async move { h.register().await }))
        .collect();
    let mut ok = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Ok(UeEvent::Registered { .. })) {
            ok += 1;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{ok}/{N} registrations in {elapsed:?}: {:.0} registrations/s",
        ok as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(ok, N);
    server.abort();
    runner.shutdown().await;
}

/// A figure, not a check of speed: N concurrent calls between two UEs on two runners over
/// loopback UDP (INVITE/180/200/ACK, then BYE/200). Run with
/// `cargo test -p ue-sim --test driver -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn call_load_figure() {
    const N: usize = 1000;
    let set = test_set(1);
    let a_runner = UeRunner::bind(SipTransport::Udp, addr("127.0.0.1:0"))
        .await
        .unwrap();
    let b_runner = UeRunner::bind(SipTransport::Udp, addr("127.0.0.1:0"))
        .await
        .unwrap();
    let (a_addr, b_addr) = (a_runner.local_addr(), b_runner.local_addr());
    let mut alice = a_runner
        .add_ue(ue_config(
            "alice",
            aka_credentials(&set, true),
            a_addr,
            b_addr,
        ))
        .await
        .unwrap();
    let mut bob = b_runner
        .add_ue(ue_config(
            "bob",
            aka_credentials(&set, true),
            b_addr,
            a_addr,
        ))
        .await
        .unwrap();
    let callee = tokio::spawn(async move {
        let mut ended = 0;
        while ended < N {
            match bob.next_event().await {
                Some(UeEvent::IncomingCall { call, .. }) => bob.answer(call).await.unwrap(),
                Some(UeEvent::CallEnded { .. }) => ended += 1,
                Some(_) => {}
                None => break,
            }
        }
        ended
    });
    let start = std::time::Instant::now();
    let target = Uri::parse(&format!("sip:bob@{b_addr}")).unwrap();
    for _ in 0..N {
        alice.call(target.clone()).await.unwrap();
    }
    let (mut established, mut ended) = (0, 0);
    while ended < N {
        match timeout(GUARD, alice.next_event()).await.expect("in time") {
            Some(UeEvent::CallEstablished { call }) => {
                established += 1;
                alice.hangup(call).await.unwrap();
            }
            Some(UeEvent::CallEnded { .. } | UeEvent::CallFailed { .. }) => ended += 1,
            Some(_) => {}
            None => break,
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{established}/{N} calls set up and torn down in {elapsed:?}: {:.0} calls/s",
        established as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(established, N);
    assert_eq!(callee.await.unwrap(), N);
    a_runner.shutdown().await;
    b_runner.shutdown().await;
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    timeout(GUARD, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("condition reached");
}

fn fast_keepalive() -> RunnerOptions {
    RunnerOptions {
        keepalive: Some(KeepAlive {
            min_interval: Duration::from_millis(50),
            max_interval: Duration::from_millis(100),
            pong_timeout: Duration::from_millis(300),
        }),
    }
}

#[tokio::test]
async fn tcp_flow_is_kept_alive_with_crlf_pings() {
    let set = test_set(1);
    let a_runner = UeRunner::bind_with(SipTransport::Tcp, addr("127.0.0.1:0"), fast_keepalive())
        .await
        .unwrap();
    let b_runner = UeRunner::bind(SipTransport::Tcp, addr("127.0.0.1:0"))
        .await
        .unwrap();
    let (a_addr, b_addr) = (a_runner.local_addr(), b_runner.local_addr());
    let alice = a_runner
        .add_ue(ue_config(
            "alice",
            aka_credentials(&set, true),
            a_addr,
            b_addr,
        ))
        .await
        .unwrap();
    // The INVITE opens Alice's flow to "her P-CSCF" (Bob's runner, whose transport answers
    // pings with pongs).
    alice
        .call(Uri::parse(&format!("sip:bob@{b_addr}")).unwrap())
        .await
        .unwrap();
    wait_until(|| a_runner.stats().pongs_received >= 2).await;
    let stats = a_runner.stats();
    assert!(stats.pings_sent >= stats.pongs_received);
    assert_eq!(stats.flows_failed, 0);
    // Bob did not open the connection, so he does not ping on it.
    assert_eq!(b_runner.stats().pings_sent, 0);
    a_runner.shutdown().await;
    b_runner.shutdown().await;
}

#[tokio::test]
async fn tcp_flow_without_pongs_fails() {
    let set = test_set(1);
    // A peer that accepts and reads but never answers a ping.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    let runner = UeRunner::bind_with(SipTransport::Tcp, addr("127.0.0.1:0"), fast_keepalive())
        .await
        .unwrap();
    let alice = runner
        .add_ue(ue_config(
            "alice",
            aka_credentials(&set, true),
            runner.local_addr(),
            peer,
        ))
        .await
        .unwrap();
    alice
        .call(Uri::parse(&format!("sip:bob@{peer}")).unwrap())
        .await
        .unwrap();
    wait_until(|| runner.stats().flows_failed >= 1).await;
    assert!(runner.stats().pings_sent >= 1);
    assert_eq!(runner.stats().pongs_received, 0);
    silent.abort();
    runner.shutdown().await;
}
