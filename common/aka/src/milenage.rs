//! MILENAGE, the 3GPP example algorithm set for the AKA functions f1, f1*, f2, f3, f4, f5 and
//! f5* (3GPP TS 35.206 §4), built on AES-128 as the kernel function E_K (TS 35.206 §4.1 allows
//! any 128-bit block cipher; 3GPP uses Rijndael/AES).
//!
//! All functions share one construction (TS 35.206 §4.1, figure 2):
//!
//! ```text
//! TEMP = E_K(RAND ⊕ OPc)
//! OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc     IN1 = SQN ‖ AMF ‖ SQN ‖ AMF
//! OUTn = E_K(rot(TEMP ⊕ OPc, rn) ⊕ cn) ⊕ OPc            n = 2..5
//! ```
//!
//! and the outputs are slices of OUT1..OUT5 (TS 35.206 §4.1): f1 = OUT1[0..64], f1* = OUT1[64..128],
//! f5 = OUT2[0..48], f2 = OUT2[64..128], f3 = OUT3, f4 = OUT4, f5* = OUT5[0..48].

use std::fmt;

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use aes::Aes128;

/// Subscriber key K (128 bits).
pub type Key = [u8; 16];
/// Operator variant algorithm configuration field OP (TS 35.206 §2).
pub type Op = [u8; 16];
/// OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1), the per-subscriber form of OP stored in HSS and USIM.
pub type Opc = [u8; 16];
/// Random challenge RAND (TS 33.102 §6.3.2).
pub type Rand = [u8; 16];
/// Sequence number SQN as 6 octets, most significant first (TS 33.102 §6.3.2).
pub type SqnBytes = [u8; 6];
/// Network authentication code MAC-A (f1) or resynchronisation code MAC-S (f1*).
pub type Mac = [u8; 8];
/// RES / XRES as produced by MILENAGE f2 (64 bits).
pub type Res = [u8; 8];
/// Cipher key CK (f3).
pub type Ck = [u8; 16];
/// Integrity key IK (f4).
pub type Ik = [u8; 16];
/// Anonymity key AK (f5) or resynchronisation anonymity key AK* (f5*).
pub type Ak = [u8; 6];

/// Rotation amounts r1..r5 in bits (TS 35.206 §4.1, default values).
const R1: u32 = 64;
const R2: u32 = 0;
const R3: u32 = 32;
const R4: u32 = 64;
const R5: u32 = 96;

/// Constants c1..c5 (TS 35.206 §4.1): c1 = 0, cn has bit (n-2) set in the last octet.
const C1: [u8; 16] = const_c(0x00);
const C2: [u8; 16] = const_c(0x01);
const C3: [u8; 16] = const_c(0x02);
const C4: [u8; 16] = const_c(0x04);
const C5: [u8; 16] = const_c(0x08);

const fn const_c(last: u8) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[15] = last;
    c
}

/// Outputs of f2, f3, f4 and f5, which all derive from the same TEMP value and are therefore
/// computed together (the HSS and USIM always need them together).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct F2345 {
    /// RES / XRES (f2).
    pub res: Res,
    /// CK (f3).
    pub ck: Ck,
    /// IK (f4).
    pub ik: Ik,
    /// AK (f5).
    pub ak: Ak,
}

impl fmt::Debug for F2345 {
    // Keys are secrets: never print them in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("F2345").finish_non_exhaustive()
    }
}

/// Computes OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1).
pub fn compute_opc(k: &Key, op: &Op) -> Opc {
    let cipher = Aes128::new(&Array::from(*k));
    let mut opc = encrypt(&cipher, op);
    xor_in_place(&mut opc, op);
    opc
}

/// A MILENAGE instance for one subscriber: the AES key schedule of K plus OPc.
///
/// Construct it with [`Milenage::with_op`] when the operator provisions OP (OPc is derived
/// once here) or [`Milenage::with_opc`] when OPc is provisioned directly.
#[derive(Clone)]
pub struct Milenage {
    cipher: Aes128,
    opc: Opc,
}

impl fmt::Debug for Milenage {
    // K and OPc are secrets: never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Milenage").finish_non_exhaustive()
    }
}

impl Milenage {
    /// MILENAGE for a subscriber provisioned with K and the operator's OP.
    pub fn with_op(k: &Key, op: &Op) -> Self {
        Self::with_opc(k, &compute_opc(k, op))
    }

    /// MILENAGE for a subscriber provisioned with K and OPc.
    pub fn with_opc(k: &Key, opc: &Opc) -> Self {
        Self {
            cipher: Aes128::new(&Array::from(*k)),
            opc: *opc,
        }
    }

    /// The OPc in use (derived from OP or as provisioned).
    pub fn opc(&self) -> Opc {
        self.opc
    }

    /// f1: network authentication code MAC-A = f1_K(SQN, RAND, AMF) (TS 35.206 §4.1).
    pub fn f1(&self, rand: &Rand, sqn: &SqnBytes, amf: &[u8; 2]) -> Mac {
        let out1 = self.out1(rand, sqn, amf);
        take(&out1, 0)
    }

    /// f1*: resynchronisation code MAC-S = f1*_K(SQN, RAND, AMF) (TS 35.206 §4.1).
    pub fn f1_star(&self, rand: &Rand, sqn: &SqnBytes, amf: &[u8; 2]) -> Mac {
        let out1 = self.out1(rand, sqn, amf);
        take(&out1, 8)
    }

    /// f2, f3, f4 and f5 in one pass (TS 35.206 §4.1).
    pub fn f2345(&self, rand: &Rand) -> F2345 {
        let temp = self.temp(rand);
        let out2 = self.out_n(&temp, R2, &C2);
        let out3 = self.out_n(&temp, R3, &C3);
        let out4 = self.out_n(&temp, R4, &C4);
        F2345 {
            res: take(&out2, 8),
            ck: out3,
            ik: out4,
            ak: take(&out2, 0),
        }
    }

    /// f2: RES (XRES on the network side).
    pub fn f2(&self, rand: &Rand) -> Res {
        let out2 = self.out_n(&self.temp(rand), R2, &C2);
        take(&out2, 8)
    }

    /// f3: cipher key CK.
    pub fn f3(&self, rand: &Rand) -> Ck {
        self.out_n(&self.temp(rand), R3, &C3)
    }

    /// f4: integrity key IK.
    pub fn f4(&self, rand: &Rand) -> Ik {
        self.out_n(&self.temp(rand), R4, &C4)
    }

    /// f5: anonymity key AK, which conceals SQN in AUTN.
    pub fn f5(&self, rand: &Rand) -> Ak {
        let out2 = self.out_n(&self.temp(rand), R2, &C2);
        take(&out2, 0)
    }

    /// f5*: anonymity key AK* used to conceal SQN_MS in AUTS (resynchronisation).
    pub fn f5_star(&self, rand: &Rand) -> Ak {
        let out5 = self.out_n(&self.temp(rand), R5, &C5);
        take(&out5, 0)
    }

    /// TEMP = E_K(RAND ⊕ OPc).
    fn temp(&self, rand: &Rand) -> [u8; 16] {
        let mut x = *rand;
        xor_in_place(&mut x, &self.opc);
        encrypt(&self.cipher, &x)
    }

    /// OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc, IN1 = SQN ‖ AMF ‖ SQN ‖ AMF.
    fn out1(&self, rand: &Rand, sqn: &SqnBytes, amf: &[u8; 2]) -> [u8; 16] {
        let temp = self.temp(rand);
        let mut in1 = [0u8; 16];
        in1[0..6].copy_from_slice(sqn);
        in1[6..8].copy_from_slice(amf);
        in1[8..14].copy_from_slice(sqn);
        in1[14..16].copy_from_slice(amf);
        xor_in_place(&mut in1, &self.opc);
        let mut x = rot(&in1, R1);
        xor_in_place(&mut x, &temp);
        xor_in_place(&mut x, &C1);
        let mut out = encrypt(&self.cipher, &x);
        xor_in_place(&mut out, &self.opc);
        out
    }

    /// OUTn = E_K(rot(TEMP ⊕ OPc, rn) ⊕ cn) ⊕ OPc for n = 2..5.
    fn out_n(&self, temp: &[u8; 16], r: u32, c: &[u8; 16]) -> [u8; 16] {
        let mut x = *temp;
        xor_in_place(&mut x, &self.opc);
        let mut x = rot(&x, r);
        xor_in_place(&mut x, c);
        let mut out = encrypt(&self.cipher, &x);
        xor_in_place(&mut out, &self.opc);
        out
    }
}

/// rot(x, r): cyclic rotation of the 128-bit value x by r bit positions towards the most
/// significant bit (TS 35.206 §4.1). All MILENAGE default r values are multiples of 8, but the
/// rotation is done on the full 128-bit integer so any r would work.
fn rot(x: &[u8; 16], r: u32) -> [u8; 16] {
    u128::from_be_bytes(*x).rotate_left(r).to_be_bytes()
}

fn encrypt(cipher: &Aes128, block: &[u8; 16]) -> [u8; 16] {
    let mut b = Array::from(*block);
    cipher.encrypt_block(&mut b);
    b.into()
}

fn xor_in_place(a: &mut [u8; 16], b: &[u8; 16]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// Copies N octets of a 16-octet block starting at `at`. Callers use constant offsets that keep
/// `at + N <= 16`; the zip below cannot index out of bounds in any case.
fn take<const N: usize>(block: &[u8; 16], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(block.iter().skip(at)) {
        *o = *b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rot_moves_bits_towards_the_most_significant_end() {
        let mut x = [0u8; 16];
        x[15] = 0x01;
        let r = rot(&x, 32);
        assert_eq!(r[11], 0x01);
        assert_eq!(r.iter().filter(|&&b| b != 0).count(), 1);
        // The top octet wraps around to the bottom.
        let mut y = [0u8; 16];
        y[0] = 0x80;
        assert_eq!(rot(&y, 8)[15], 0x80);
        assert_eq!(rot(&y, 0), y);
    }

    #[test]
    fn constants_match_ts35206() {
        assert_eq!(C1, [0; 16]);
        assert_eq!((C2[15], C3[15], C4[15], C5[15]), (1, 2, 4, 8));
        assert_eq!(C5[..15], [0; 15]);
    }
}
