//! The REST provisioning API (axum): subscribers CRUD, registration records, RTR/PPR triggers,
//! and `GET /openapi.json` (see [`crate::openapi`]). Errors are JSON `{"error": ..., "field"?}`
//! with a status code saying what was wrong: 400 malformed JSON, 422 invalid subscriber, 404
//! unknown, 409 conflict or not registered, 502 the S-CSCF failed, 503 no Diameter node.

use crate::cx::Hss;
use crate::server::{Notifier, NotifyError};
use crate::store::{StoreError, WriteMode};
use crate::subscriber::Subscriber;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ims_diameter::cx::ReasonCode;
use serde::Deserialize;
use serde_json::json;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub hss: Hss,
    /// `None` when no Diameter node runs (tests of provisioning alone): RTR/PPR answer 503.
    pub notifier: Option<Notifier>,
}

/// An API error: status plus JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match e {
            StoreError::AlreadyExists(_) | StoreError::IdentityTaken { .. } => StatusCode::CONFLICT,
            _ => {
                tracing::error!(error = %e, "store failure in REST API");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        // Bad JSON syntax and wrong shapes (unknown field, bad key hex) are both the client's;
        // axum's text names the field and position.
        Self::new(StatusCode::BAD_REQUEST, e.body_text())
    }
}

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        let status = match &e {
            NotifyError::UserUnknown(_) => StatusCode::NOT_FOUND,
            NotifyError::NotRegistered(_) => StatusCode::CONFLICT,
            NotifyError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            NotifyError::Diameter { .. }
            | NotifyError::Rejected { .. }
            | NotifyError::BadAnswer { .. } => StatusCode::BAD_GATEWAY,
        };
        Self::new(status, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The router with every route of the API.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route(
            "/subscribers",
            get(list_subscribers).post(create_subscriber),
        )
        .route(
            "/subscribers/{impi}",
            get(get_subscriber)
                .put(put_subscriber)
                .delete(delete_subscriber),
        )
        .route("/subscribers/{impi}/rtr", post(trigger_rtr))
        .route("/subscribers/{impi}/ppr", post(trigger_ppr))
        .route("/assignments", get(list_assignments))
        .with_state(state)
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

fn validated(s: Subscriber) -> ApiResult<Subscriber> {
    s.validate().map_err(|e| ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: e.to_string(),
        field: Some(e.field),
    })?;
    Ok(s)
}

async fn list_subscribers(State(st): State<ApiState>) -> ApiResult<Json<Vec<Subscriber>>> {
    Ok(Json(st.hss.store().subscribers().await?))
}

async fn create_subscriber(
    State(st): State<ApiState>,
    body: Result<Json<Subscriber>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Subscriber>)> {
    let s = validated(body?.0)?;
    st.hss.store().put_subscriber(&s, WriteMode::Create).await?;
    let stored = st.hss.store().subscriber(&s.impi).await?.unwrap_or(s);
    Ok((StatusCode::CREATED, Json(stored)))
}

async fn get_subscriber(
    State(st): State<ApiState>,
    Path(impi): Path<String>,
) -> ApiResult<Json<Subscriber>> {
    st.hss
        .store()
        .subscriber(&impi)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no subscriber {impi}")))
}

/// Replaces an existing subscriber. Registration state of identities still provisioned is
/// kept; SQN never decreases.
async fn put_subscriber(
    State(st): State<ApiState>,
    Path(impi): Path<String>,
    body: Result<Json<Subscriber>, JsonRejection>,
) -> ApiResult<Json<Subscriber>> {
    let s = validated(body?.0)?;
    if s.impi != impi {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("body impi {:?} differs from the path {impi:?}", s.impi),
            field: Some("impi".into()),
        });
    }
    if !st.hss.store().put_subscriber(&s, WriteMode::Update).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no subscriber {impi}"),
        ));
    }
    let stored = st.hss.store().subscriber(&impi).await?.unwrap_or(s);
    Ok(Json(stored))
}

async fn delete_subscriber(
    State(st): State<ApiState>,
    Path(impi): Path<String>,
) -> ApiResult<StatusCode> {
    if st.hss.store().delete_subscriber(&impi).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no subscriber {impi}"),
        ))
    }
}

async fn list_assignments(
    State(st): State<ApiState>,
) -> ApiResult<Json<Vec<crate::store::Assignment>>> {
    Ok(Json(st.hss.store().assignments().await?))
}

/// Body of `POST /subscribers/{impi}/rtr`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RtrBody {
    /// Reason-Code (TS 29.229 §6.3.17): 0 PERMANENT_TERMINATION (default), 1
    /// NEW_SERVER_ASSIGNED, 2 SERVER_CHANGE, 3 REMOVE_S-CSCF.
    #[serde(default)]
    reason_code: i32,
    #[serde(default)]
    reason_info: Option<String>,
}

fn notifier(st: &ApiState) -> ApiResult<&Notifier> {
    st.notifier.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no Diameter node is running",
        )
    })
}

async fn trigger_rtr(
    State(st): State<ApiState>,
    Path(impi): Path<String>,
    body: Option<Json<RtrBody>>,
) -> ApiResult<Json<serde_json::Value>> {
    let body = body.map(|b| b.0).unwrap_or_default();
    if !(0..=3).contains(&body.reason_code) {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "reason_code must be 0..=3".into(),
            field: Some("reason_code".into()),
        });
    }
    let done = notifier(&st)?
        .registration_termination(&impi, ReasonCode(body.reason_code), body.reason_info)
        .await?;
    Ok(Json(json!({ "deregistered": done })))
}

async fn trigger_ppr(
    State(st): State<ApiState>,
    Path(impi): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let done = notifier(&st)?.push_profile(&impi).await?;
    Ok(Json(json!({ "pushed": done })))
}
