//! Helpers shared by the integration tests.
#![allow(dead_code)]

/// Decodes a hex string into exactly N octets; panics on bad test data.
pub fn hex<const N: usize>(s: &str) -> [u8; N] {
    let v = hex_vec(s);
    v.try_into()
        .unwrap_or_else(|v: Vec<u8>| panic!("{s}: {} octets, want {N}", v.len()))
}

/// Decodes a hex string.
pub fn hex_vec(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// TS 35.208 test set 1 (also in milenage_ts35208.json), used for the round-trip tests.
pub mod set1 {
    pub const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
    pub const RAND: &str = "23553cbe9637a89d218ae64dae47bf35";
    pub const SQN: &str = "ff9bb4d0b607";
    pub const AMF: &str = "b9b9";
    pub const OP: &str = "cdc202d5123e20f62b6d676ac72cb318";
    pub const RES: &str = "a54211d5e3ba50bf";
    pub const CK: &str = "b40ba9a3c58b2a05bbf0d987b21bf8cb";
    pub const IK: &str = "f769bcd751044604127672711c6d3441";
}
