//! The store and the Cx core on PostgreSQL. Runs only when `IMS_TEST_POSTGRES_URL` is set
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); otherwise it returns at once and says so.
//! Identities carry a per-run suffix so runs never collide on a shared database.

use hss_sim::config::{AuthenticationConfig, ServerCapabilities};
use hss_sim::cx::{
    CxResult, Hss, MultimediaAuthRequest, ServerAssignmentRequest, ServerAssignmentType,
    UserAuthorizationRequest, UserAuthorizationType,
};
use hss_sim::store::{RegistrationState, Store, WriteMode};
use hss_sim::subscriber::Subscriber;

fn url() -> Option<String> {
    std::env::var("IMS_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

fn subscriber(tag: &str) -> Subscriber {
    let json = format!(
        r#"{{"impi":"pg-{tag}@ims.example","k":"a54dca182530bb1d6d132cded6237b2e",
        "opc":"7c2999fdafe593253cd654af4dfad714","auth_schemes":["Digest-AKAv1-MD5","SIP Digest"],
        "password":"pw","service_profiles":[{{"public_identities":[
        {{"identity":"sip:pg-{tag}@ims.example"}},{{"identity":"tel:+1555{tag}"}}]}}]}}"#
    );
    serde_json::from_str(&json).unwrap()
}

#[tokio::test]
async fn store_and_cx_on_postgres() {
    let Some(url) = url() else {
        eprintln!("IMS_TEST_POSTGRES_URL not set: PostgreSQL test skipped");
        return;
    };
    let store = Store::connect(&url).await.unwrap();
    // Migrations are idempotent: a second connect re-runs nothing.
    let store2 = Store::connect(&url).await.unwrap();
    let tag = format!(
        "{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let s = subscriber(&tag);
    assert!(store.put_subscriber(&s, WriteMode::Create).await.unwrap());
    assert_eq!(store2.subscriber(&s.impi).await.unwrap(), Some(s.clone()));

    let hss = Hss::new(
        store.clone(),
        ServerCapabilities::default(),
        AuthenticationConfig::default(),
    );
    let impu = format!("sip:pg-{tag}@ims.example");
    let uaa = hss
        .user_authorization(&UserAuthorizationRequest {
            user_name: s.impi.clone(),
            public_identity: impu.clone(),
            visited_network_identifier: String::new(),
            authorization_type: UserAuthorizationType::REGISTRATION,
        })
        .await
        .unwrap();
    assert_eq!(uaa.result, CxResult::FirstRegistration);
    let maa = hss
        .multimedia_auth(&MultimediaAuthRequest {
            user_name: s.impi.clone(),
            public_identity: impu.clone(),
            server_name: "sip:scscf.ims.example".into(),
            authentication_scheme: "Digest-AKAv1-MD5".into(),
            number_auth_items: 3,
            authorization: None,
        })
        .await
        .unwrap();
    assert_eq!(maa.items.len(), 3);
    assert_eq!(store.sqn(&s.impi).await.unwrap(), Some((3 << 5) | 3));
    let saa = hss
        .server_assignment(&ServerAssignmentRequest {
            user_name: Some(s.impi.clone()),
            public_identities: vec![impu.clone()],
            server_name: "sip:scscf.ims.example".into(),
            assignment_type: ServerAssignmentType::REGISTRATION,
            user_data_already_available: false,
        })
        .await
        .unwrap();
    assert!(saa.user_data.unwrap().contains(&format!("tel:+1555{tag}")));
    let a = store
        .assignment(&format!("tel:+1555{tag}"), &s.impi)
        .await
        .unwrap();
    assert_eq!(a.state, RegistrationState::Registered);

    assert!(store.delete_subscriber(&s.impi).await.unwrap());
    assert_eq!(store.impi_of(&impu).await.unwrap(), None);
}
