//! MILENAGE conformance: 3GPP TS 35.208 §4.3 test sets 1-6, every function, with OP and OPc.

mod common;

use common::hex;
use ims_aka::{compute_opc, Milenage};
use serde_json::Value;

fn test_sets() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/milenage_ts35208.json"
    );
    let text = std::fs::read_to_string(path).expect("read milenage_ts35208.json");
    let doc: Value = serde_json::from_str(&text).expect("parse JSON");
    doc["test_sets"]
        .as_array()
        .expect("test_sets array")
        .clone()
}

fn field<const N: usize>(set: &Value, name: &str) -> [u8; N] {
    hex(set[name].as_str().unwrap_or_else(|| panic!("field {name}")))
}

#[test]
fn ts35208_sets_1_to_6_all_functions() {
    let sets = test_sets();
    let numbers: Vec<u64> = sets.iter().filter_map(|s| s["set"].as_u64()).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);

    for set in &sets {
        let n = &set["set"];
        let k = field::<16>(set, "K");
        let op = field::<16>(set, "OP");
        let rand = field::<16>(set, "RAND");
        let sqn = field::<6>(set, "SQN");
        let amf = field::<2>(set, "AMF");

        assert_eq!(
            compute_opc(&k, &op),
            field::<16>(set, "OPc"),
            "OPc, set {n}"
        );

        let from_op = Milenage::with_op(&k, &op);
        let from_opc = Milenage::with_opc(&k, &field::<16>(set, "OPc"));
        for (label, m) in [("OP", &from_op), ("OPc", &from_opc)] {
            assert_eq!(m.opc(), field::<16>(set, "OPc"), "opc() {label}, set {n}");
            assert_eq!(
                m.f1(&rand, &sqn, &amf),
                field::<8>(set, "f1"),
                "f1 {label}, set {n}"
            );
            assert_eq!(
                m.f1_star(&rand, &sqn, &amf),
                field::<8>(set, "f1star"),
                "f1* {label}, set {n}"
            );
            assert_eq!(m.f2(&rand), field::<8>(set, "f2"), "f2 {label}, set {n}");
            assert_eq!(m.f3(&rand), field::<16>(set, "f3"), "f3 {label}, set {n}");
            assert_eq!(m.f4(&rand), field::<16>(set, "f4"), "f4 {label}, set {n}");
            assert_eq!(m.f5(&rand), field::<6>(set, "f5"), "f5 {label}, set {n}");
            assert_eq!(
                m.f5_star(&rand),
                field::<6>(set, "f5star"),
                "f5* {label}, set {n}"
            );

            let all = m.f2345(&rand);
            assert_eq!(all.res, field::<8>(set, "f2"), "f2345.res {label}, set {n}");
            assert_eq!(all.ck, field::<16>(set, "f3"), "f2345.ck {label}, set {n}");
            assert_eq!(all.ik, field::<16>(set, "f4"), "f2345.ik {label}, set {n}");
            assert_eq!(all.ak, field::<6>(set, "f5"), "f2345.ak {label}, set {n}");
        }
    }
}

#[test]
fn wrong_opc_changes_every_output() {
    let set = &test_sets()[0];
    let k = field::<16>(set, "K");
    let rand = field::<16>(set, "RAND");
    let mut opc = field::<16>(set, "OPc");
    opc[15] ^= 1;
    let m = Milenage::with_opc(&k, &opc);
    assert_ne!(m.f2(&rand), field::<8>(set, "f2"));
    assert_ne!(m.f3(&rand), field::<16>(set, "f3"));
    assert_ne!(m.f5_star(&rand), field::<6>(set, "f5star"));
}

#[test]
fn debug_output_does_not_leak_keys() {
    let set = &test_sets()[0];
    let m = Milenage::with_op(&field::<16>(set, "K"), &field::<16>(set, "OP"));
    let shown = format!("{m:?}");
    assert!(!shown.contains("465b") && !shown.contains("70"), "{shown}");
}
