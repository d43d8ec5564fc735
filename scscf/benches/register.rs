//! Cost of one whole IMS-AKA registration through the registrar engine: REGISTER -> MAR ->
//! 401 -> REGISTER with the answer -> SAR -> 200 OK, with the fake HSS (MILENAGE vector
//! generation) and the UE (USIM, Digest AKA response) of the tests running in-process and the
//! Cx messages going through the Diameter codec. Run with `cargo bench -p scscf`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{aka_register, Net, Ue};
use criterion::{criterion_group, criterion_main, Criterion};
use ims_sip::StatusCode;

fn registration(c: &mut Criterion) {
    c.bench_function("aka_registration_full_flow", |b| {
        b.iter(|| {
            let mut net = Net::new();
            let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
            let ok = aka_register(&mut net, &mut ue, None, Some(3600));
            assert_eq!(ok.status(), Some(StatusCode::OK));
        })
    });
}

criterion_group!(benches, registration);
criterion_main!(benches);
