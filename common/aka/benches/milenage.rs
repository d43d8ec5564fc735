//! MILENAGE throughput: one authentication vector (f1, f2, f3, f4, f5 for a fresh RAND and
//! the next SQN), as the HSS computes it for every MAR.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ims_aka::{Amf, AuthVector, Milenage, Sqn, SqnGenerator, SqnScheme};

fn auth_vector(c: &mut Criterion) {
    // TS 35.208 test set 1 K and OP.
    let k = [
        0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6,
        0xbc,
    ];
    let op = [
        0xcd, 0xc2, 0x02, 0xd5, 0x12, 0x3e, 0x20, 0xf6, 0x2b, 0x6d, 0x67, 0x6a, 0xc7, 0x2c, 0xb3,
        0x18,
    ];
    let m = Milenage::with_op(&k, &op);
    let mut rand = [0u8; 16];
    let mut sqn = 0u64;
    c.bench_function("auth_vector_generate", |b| {
        b.iter(|| {
            // Vary RAND and SQN cheaply so nothing can be hoisted out of the loop.
            rand[0] = rand[0].wrapping_add(1);
            sqn = (sqn + 32) & Sqn::MAX.value();
            let s = Sqn::new(sqn).unwrap_or_default();
            black_box(AuthVector::generate(
                &m,
                black_box(rand),
                s,
                Amf::SEPARATION_BIT,
            ))
        })
    });

    // Including the per-subscriber setup an HSS does when it loads K/OPc from storage, and
    // the SQN counter step.
    let opc = m.opc();
    let mut gen = SqnGenerator::new(SqnScheme::default(), Sqn::default())
        .expect("the default SQN scheme is valid");
    c.bench_function("auth_vector_with_key_setup_and_sqn", |b| {
        b.iter(|| {
            rand[1] = rand[1].wrapping_add(1);
            let m = Milenage::with_opc(black_box(&k), black_box(&opc));
            let s = gen.next_sqn().unwrap_or_default();
            black_box(AuthVector::generate(&m, rand, s, Amf::SEPARATION_BIT))
        })
    });
}

criterion_group!(benches, auth_vector);
criterion_main!(benches);
