//! AKA round trips (TS 33.102 §6.3): HSS vector -> USIM, MAC failures, SQN freshness per
//! Annex C, and synchronisation failure -> AUTS -> HSS resynchronisation.

mod common;

use common::{hex, set1};
use ims_aka::{
    AkaError, Amf, AuthVector, Autn, Auts, Freshness, Milenage, Resynchronisation,
    ResynchronisationInfo, Sqn, SqnArray, SqnGenerator, SqnScheme, Usim, UsimOutcome,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn milenage() -> Milenage {
    Milenage::with_op(&hex(set1::K), &hex(set1::OP))
}

fn usim() -> Usim {
    Usim::new(milenage(), SqnScheme::default()).expect("valid scheme")
}

fn rand_n(n: u8) -> [u8; 16] {
    [n; 16]
}

fn authenticated(outcome: UsimOutcome) -> ims_aka::UsimKeys {
    match outcome {
        UsimOutcome::Authenticated(keys) => keys,
        other => panic!("expected success, got {other:?}"),
    }
}

fn auts_of(outcome: UsimOutcome) -> Auts {
    match outcome {
        UsimOutcome::SynchronisationFailure(auts) => auts,
        other => panic!("expected synchronisation failure, got {other:?}"),
    }
}

#[test]
fn vector_from_ts35208_set1_has_expected_fields() {
    let m = milenage();
    let sqn = Sqn::from_bytes(&hex(set1::SQN));
    let av = AuthVector::generate(&m, hex(set1::RAND), sqn, Amf(hex(set1::AMF)));
    assert_eq!(av.xres, hex::<8>(set1::RES));
    assert_eq!(av.ck, hex::<16>(set1::CK));
    assert_eq!(av.ik, hex::<16>(set1::IK));
    // AUTN = SQN ⊕ AK ‖ AMF ‖ MAC-A; SQN ⊕ AK and MAC-A computed by hand from TS 35.208 set 1
    // (ff9bb4d0b607 ⊕ aa689c648370 = 55f328b43577, f1 = 4a9ffac354dfafb3).
    assert_eq!(
        av.autn.to_bytes(),
        hex::<16>("55f328b43577b9b94a9ffac354dfafb3")
    );
    assert_eq!(Autn::build(&m, &av.rand, sqn, Amf(hex(set1::AMF))), av.autn);
    assert_eq!(Autn::from_bytes(&av.autn.to_bytes()), Ok(av.autn));
    assert_eq!(av.autn.sqn(&m.f5(&av.rand)), sqn);
}

#[test]
fn usim_accepts_generated_vectors_and_derives_the_same_keys() {
    let m = milenage();
    let mut gen = SqnGenerator::new(SqnScheme::default(), Sqn::default()).unwrap();
    let mut ue = usim();
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..40 {
        let av = AuthVector::generate_next(&m, &mut rng, &mut gen, Amf::SEPARATION_BIT).unwrap();
        let keys = authenticated(ue.authenticate(&av.rand, &av.autn).unwrap());
        assert_eq!(keys.res, av.xres);
        assert_eq!(keys.ck, av.ck);
        assert_eq!(keys.ik, av.ik);
    }
    // 40 vectors, SEQ 1..=40, IND round robin: SQN_MS is the last one.
    assert_eq!(ue.sqn_array().sqn_ms(), gen.last());
    assert_eq!(SqnScheme::default().seq(gen.last()), 40);
}

#[test]
fn mac_failure_on_tampered_autn_rand_or_key() {
    let m = milenage();
    let av = AuthVector::generate(&m, rand_n(1), Sqn::new(0x20).unwrap(), Amf::SEPARATION_BIT);

    let mut bad_mac = av.autn;
    bad_mac.mac_a[7] ^= 0x01;
    let mut bad_amf = av.autn;
    bad_amf.amf.0[1] ^= 0x01;
    let mut bad_sqn = av.autn;
    bad_sqn.sqn_xor_ak[5] ^= 0x01;
    let mut ue = usim();
    for autn in [bad_mac, bad_amf, bad_sqn] {
        assert_eq!(ue.authenticate(&av.rand, &autn), Err(AkaError::MacFailure));
    }
    assert_eq!(
        ue.authenticate(&rand_n(2), &av.autn),
        Err(AkaError::MacFailure)
    );

    let mut other_k = hex::<16>(set1::K);
    other_k[0] ^= 0x80;
    let mut other_ue = Usim::new(
        Milenage::with_op(&other_k, &hex(set1::OP)),
        SqnScheme::default(),
    )
    .unwrap();
    assert_eq!(
        other_ue.authenticate(&av.rand, &av.autn),
        Err(AkaError::MacFailure)
    );

    // A MAC failure must not consume the SQN: the genuine AUTN is still accepted.
    authenticated(ue.authenticate(&av.rand, &av.autn).unwrap());
}

#[test]
fn replayed_vector_gives_auts_and_resync_recovers_sqn_ms() {
    let m = milenage();
    let scheme = SqnScheme::default();
    let mut gen = SqnGenerator::new(scheme, Sqn::default()).unwrap();
    let mut ue = usim();
    let mut rng = StdRng::seed_from_u64(1);

    let av = AuthVector::generate_next(&m, &mut rng, &mut gen, Amf::SEPARATION_BIT).unwrap();
    authenticated(ue.authenticate(&av.rand, &av.autn).unwrap());
    let sqn_ms = ue.sqn_array().sqn_ms();

    // Same vector again: SEQ ≤ SEQ_MS(IND) -> synchronisation failure.
    let auts = auts_of(ue.authenticate(&av.rand, &av.autn).unwrap());
    let info = ResynchronisationInfo {
        rand: av.rand,
        auts,
    };
    let wire = info.to_bytes();
    let parsed = ResynchronisationInfo::from_bytes(&wire).unwrap();
    assert_eq!(parsed.verify(&m), Ok(sqn_ms));
}

#[test]
fn hss_behind_usim_resynchronises_and_next_vector_is_accepted() {
    let m = milenage();
    let scheme = SqnScheme::default();
    let mut ue = usim();
    let mut rng = StdRng::seed_from_u64(2);

    // The USIM has seen SEQ 1000 (e.g. from an HSS whose database was restored from a backup).
    let mut ahead = SqnGenerator::new(scheme, scheme.compose(999, 3).unwrap()).unwrap();
    let ahead_sqn = ahead.next_sqn_with_ind(0).unwrap();
    let av = AuthVector::generate(&m, rand_n(4), ahead_sqn, Amf::SEPARATION_BIT);
    authenticated(ue.authenticate(&av.rand, &av.autn).unwrap());

    // Our HSS only knows SEQ 5. It must reuse IND 0 here: on an unused IND the Annex C array
    // would accept the old SEQ 6 (see usim_array_accepts_out_of_order_indices_once).
    let mut gen = SqnGenerator::new(scheme, scheme.compose(5, 0).unwrap()).unwrap();
    let stale_sqn = gen.next_sqn_with_ind(0).unwrap();
    let stale = AuthVector::generate(&m, rand_n(3), stale_sqn, Amf::SEPARATION_BIT);
    let auts = auts_of(ue.authenticate(&stale.rand, &stale.autn).unwrap());

    let sqn_ms = ResynchronisationInfo {
        rand: stale.rand,
        auts,
    }
    .verify(&m)
    .unwrap();
    assert_eq!(scheme.seq(sqn_ms), 1000);
    assert_eq!(gen.resynchronise(sqn_ms), Resynchronisation::Reset);

    let fresh = AuthVector::generate_next(&m, &mut rng, &mut gen, Amf::SEPARATION_BIT).unwrap();
    assert_eq!(scheme.seq(gen.last()), 1001);
    let keys = authenticated(ue.authenticate(&fresh.rand, &fresh.autn).unwrap());
    assert_eq!(keys.res, fresh.xres);
}

#[test]
fn hss_already_in_range_keeps_its_counter() {
    let scheme = SqnScheme::default();
    let mut gen = SqnGenerator::new(scheme, scheme.compose(50, 1).unwrap()).unwrap();
    // USIM's highest is SEQ 40: the HSS's next SEQ 51 is fresh and within Δ.
    assert_eq!(
        gen.resynchronise(scheme.compose(40, 2).unwrap()),
        Resynchronisation::InRange
    );
    assert_eq!(scheme.seq(gen.last()), 50);
}

#[test]
fn hss_too_far_ahead_is_reset() {
    let scheme = SqnScheme::default();
    let seq_ms = 10;
    let mut gen =
        SqnGenerator::new(scheme, scheme.compose(seq_ms + scheme.delta, 0).unwrap()).unwrap();
    // next = seq_ms + Δ + 1: over the Δ limit of Annex C.2.1.
    assert_eq!(
        gen.resynchronise(scheme.compose(seq_ms, 4).unwrap()),
        Resynchronisation::Reset
    );
    assert_eq!(gen.next_sqn().map(|s| scheme.seq(s)), Ok(seq_ms + 1));
}

#[test]
fn tampered_auts_fails_mac_s() {
    let m = milenage();
    let rand = rand_n(9);
    let good = Auts::build(&m, &rand, Sqn::new(0x1234).unwrap());
    assert_eq!(
        ResynchronisationInfo { rand, auts: good }.verify(&m),
        Ok(Sqn::new(0x1234).unwrap())
    );

    let mut bad_mac = good;
    bad_mac.mac_s[0] ^= 0x40;
    let mut bad_conc = good;
    bad_conc.sqn_ms_xor_ak_star[0] ^= 0x40;
    for auts in [bad_mac, bad_conc] {
        assert_eq!(
            ResynchronisationInfo { rand, auts }.verify(&m),
            Err(AkaError::MacSFailure)
        );
    }
    // Wrong RAND (the S-CSCF mixed up challenges).
    assert_eq!(
        ResynchronisationInfo {
            rand: rand_n(10),
            auts: good
        }
        .verify(&m),
        Err(AkaError::MacSFailure)
    );
}

#[test]
fn auts_uses_f1_star_with_dummy_amf_and_f5_star() {
    // Independent composition from the TS 35.208 set 1 values: with SQN_MS = set-1 SQN and
    // AMF = 0000 the MAC differs from f1* with AMF b9b9, and Conc = SQN ⊕ f5*.
    let m = milenage();
    let sqn = Sqn::from_bytes(&hex(set1::SQN));
    let auts = Auts::build(&m, &hex(set1::RAND), sqn);
    // ff9bb4d0b607 ⊕ 451e8beca43b (f5* of set 1)
    assert_eq!(auts.sqn_ms_xor_ak_star, hex::<6>("ba853f3c123c"));
    assert_eq!(
        auts.mac_s,
        m.f1_star(&hex(set1::RAND), &hex(set1::SQN), &[0, 0])
    );
    assert_ne!(auts.mac_s, hex::<8>("01cfaf9ec4e871e9"));
}

#[test]
fn wire_length_errors() {
    assert_eq!(
        Autn::from_bytes(&[0; 15]),
        Err(AkaError::InvalidLength {
            field: "AUTN",
            expected: 16,
            actual: 15
        })
    );
    assert!(matches!(
        Auts::from_bytes(&[0; 16]),
        Err(AkaError::InvalidLength { field: "AUTS", .. })
    ));
    assert!(matches!(
        ResynchronisationInfo::from_bytes(&[0; 29]),
        Err(AkaError::InvalidLength {
            field: "RAND||AUTS",
            ..
        })
    ));
}

#[test]
fn usim_array_accepts_out_of_order_indices_once() {
    let scheme = SqnScheme::default();
    let mut arr = SqnArray::new(scheme).unwrap();
    let s = |seq, ind| scheme.compose(seq, ind).unwrap();
    assert_eq!(arr.accept(s(10, 1)), Freshness::Fresh);
    // Older SEQ on another IND (a vector issued earlier to another node) is still fresh.
    assert_eq!(arr.accept(s(7, 2)), Freshness::Fresh);
    // ... but not twice, nor a lower SEQ on an IND already used.
    let sqn_ms = s(10, 1);
    assert_eq!(
        arr.accept(s(7, 2)),
        Freshness::SynchronisationFailure { sqn_ms }
    );
    assert_eq!(
        arr.accept(s(9, 1)),
        Freshness::SynchronisationFailure { sqn_ms }
    );
    assert_eq!(arr.sqn_ms(), sqn_ms);
}

#[test]
fn usim_rejects_jumps_over_delta() {
    let scheme = SqnScheme {
        delta: 100,
        ..SqnScheme::default()
    };
    let mut arr = SqnArray::new(scheme).unwrap();
    let s = |seq, ind| scheme.compose(seq, ind).unwrap();
    assert_eq!(arr.accept(s(100, 0)), Freshness::Fresh);
    assert_eq!(arr.accept(s(200, 1)), Freshness::Fresh);
    assert_eq!(
        arr.accept(s(301, 2)),
        Freshness::SynchronisationFailure { sqn_ms: s(200, 1) }
    );
}

#[test]
fn usim_age_limit_rejects_old_sequence_numbers() {
    let scheme = SqnScheme {
        age_limit: Some(5),
        ..SqnScheme::default()
    };
    let mut arr = SqnArray::new(scheme).unwrap();
    let s = |seq, ind| scheme.compose(seq, ind).unwrap();
    assert_eq!(arr.accept(s(20, 0)), Freshness::Fresh);
    assert_eq!(arr.accept(s(16, 1)), Freshness::Fresh); // 20 - 16 = 4 < L
    assert_eq!(
        arr.accept(s(15, 2)), // 20 - 15 = 5, not < L
        Freshness::SynchronisationFailure { sqn_ms: s(20, 0) }
    );
}

#[test]
fn generator_round_robin_persistence_and_limits() {
    let scheme = SqnScheme {
        ind_bits: 2,
        ..SqnScheme::default()
    };
    let mut gen = SqnGenerator::new(scheme, Sqn::default()).unwrap();
    let inds: Vec<u32> = (0..6)
        .map(|_| scheme.ind(gen.next_sqn().unwrap()))
        .collect();
    assert_eq!(inds, vec![1, 2, 3, 0, 1, 2]);
    assert_eq!(scheme.seq(gen.last()), 6);

    // Persist and restore: continues where it stopped.
    let mut restored = SqnGenerator::new(scheme, gen.last()).unwrap();
    assert_eq!(restored.next_sqn(), gen.next_sqn());

    assert_eq!(gen.next_sqn_with_ind(4), Err(AkaError::IndOutOfRange(4)));
    let mut end = SqnGenerator::new(scheme, scheme.compose(scheme.seq_max(), 0).unwrap()).unwrap();
    assert_eq!(end.next_sqn(), Err(AkaError::SqnExhausted));

    assert_eq!(Sqn::new(1 << 48), Err(AkaError::SqnOutOfRange(1 << 48)));
    assert_eq!(Sqn::from_bytes(&Sqn::MAX.to_bytes()), Sqn::MAX);
    assert_eq!(
        SqnGenerator::new(
            SqnScheme {
                ind_bits: 0,
                ..scheme
            },
            Sqn::default()
        ),
        Err(AkaError::InvalidSqnScheme)
    );
}
