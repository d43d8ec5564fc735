//! The REST provisioning API through `tower::ServiceExt::oneshot` (no socket), against an
//! in-memory SQLite store.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use hss_sim::config::{AuthenticationConfig, ServerCapabilities};
use hss_sim::cx::Hss;
use hss_sim::rest::{router, ApiState};
use hss_sim::store::Store;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn app() -> Router {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let hss = Hss::new(
        store,
        ServerCapabilities::default(),
        AuthenticationConfig::default(),
    );
    router(ApiState {
        hss,
        notifier: None,
    })
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, value)
}

fn dave() -> Value {
    json!({
        "impi": "dave@ims.example",
        "k": "7c2999fdafe593253cd654af4dfad714",
        "opc": "27a0aeb3fee9232f8af2211f9ee491c5",
        "auth_schemes": ["Digest-AKAv1-MD5"],
        "service_profiles": [{
            "public_identities": [{ "identity": "sip:dave@ims.example" }],
            "initial_filter_criteria": [{
                "priority": 1,
                "application_server": { "server_name": "sip:as.ims.example" },
                "trigger_point": { "condition_type_cnf": true, "spt": [{ "method": "INVITE" }] }
            }]
        }]
    })
}

#[tokio::test]
async fn crud_round_trip() {
    let app = app().await;
    let body = dave().to_string();
    let (s, v) = call(&app, "POST", "/subscribers", Some(&body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["amf"], "8000", "default AMF filled in");
    assert_eq!(
        v["service_profiles"][0]["initial_filter_criteria"][0]["trigger_point"]["spt"][0]["group"],
        json!([0])
    );

    let (s, v) = call(&app, "POST", "/subscribers", Some(&body)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    let (s, v) = call(&app, "GET", "/subscribers/dave@ims.example", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["k"], "7c2999fdafe593253cd654af4dfad714");
    let (s, v) = call(&app, "GET", "/subscribers", None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));

    let mut changed = dave();
    changed["allowed_visited_networks"] = json!(["visited.example"]);
    changed["sqn"] = json!(64);
    let (s, v) = call(
        &app,
        "PUT",
        "/subscribers/dave@ims.example",
        Some(&changed.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["allowed_visited_networks"], json!(["visited.example"]));
    // SQN never goes backwards through provisioning.
    changed["sqn"] = json!(0);
    let (_, v) = call(
        &app,
        "PUT",
        "/subscribers/dave@ims.example",
        Some(&changed.to_string()),
    )
    .await;
    assert_eq!(v["sqn"], 64);

    let (s, _) = call(&app, "DELETE", "/subscribers/dave@ims.example", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&app, "GET", "/subscribers/dave@ims.example", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["error"].as_str().unwrap().contains("dave@ims.example"));
    let (s, _) = call(&app, "DELETE", "/subscribers/dave@ims.example", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn errors_say_what_was_wrong() {
    let app = app().await;
    let (s, v) = call(&app, "POST", "/subscribers", Some("{not json")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].is_string());

    let mut bad_key = dave();
    bad_key["k"] = json!("0011");
    let (s, v) = call(&app, "POST", "/subscribers", Some(&bad_key.to_string())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("expected 16"), "{v}");

    let mut both = dave();
    both["op"] = json!("7c2999fdafe593253cd654af4dfad714");
    let (s, v) = call(&app, "POST", "/subscribers", Some(&both.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["field"], "op");

    let mut unknown = dave();
    unknown["colour"] = json!("blue");
    let (s, v) = call(&app, "POST", "/subscribers", Some(&unknown.to_string())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("colour"), "{v}");

    let (s, _) = call(&app, "POST", "/subscribers", Some(&dave().to_string())).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = call(
        &app,
        "PUT",
        "/subscribers/other@ims.example",
        Some(&dave().to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["field"], "impi");
    let mut thief = dave();
    thief["impi"] = json!("thief@ims.example");
    let (s, v) = call(&app, "POST", "/subscribers", Some(&thief.to_string())).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("sip:dave@ims.example"));

    let (s, v) = call(&app, "GET", "/assignments", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    let (s, _) = call(&app, "POST", "/subscribers/dave@ims.example/rtr", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = call(&app, "POST", "/subscribers/dave@ims.example/ppr", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = app().await;
    let (s, v) = call(&app, "GET", "/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    let paths = v["paths"].as_object().unwrap();
    for (path, method) in [
        ("/subscribers", "get"),
        ("/subscribers", "post"),
        ("/subscribers/{impi}", "get"),
        ("/subscribers/{impi}", "put"),
        ("/subscribers/{impi}", "delete"),
        ("/subscribers/{impi}/rtr", "post"),
        ("/subscribers/{impi}/ppr", "post"),
        ("/assignments", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    // Every $ref points at a defined schema.
    let text = v.to_string();
    let schemas = v["components"]["schemas"].as_object().unwrap();
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
}
