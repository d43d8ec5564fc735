//! The Cx procedures of the HSS (TS 29.228 §6), as a sans-socket core: each procedure takes a
//! decoded request and the [`Store`], and returns the answer's content or a [`CxError`] that
//! names its Result-Code / Experimental-Result-Code.
//!
//! The Diameter encoding of these requests and answers (TS 29.229 §6.1) is in [`crate::wire`];
//! nothing here knows about AVPs or sockets, so every procedure is tested against an in-memory
//! SQLite store.

mod error;
mod location_info;
mod multimedia_auth;
mod server_assignment;
mod user_authorization;

pub use error::{CxError, CxResult, WireResult};
pub use location_info::{LocationInfoAnswer, LocationInfoRequest};
pub use multimedia_auth::{AuthData, MultimediaAuthAnswer, MultimediaAuthRequest, SipAuthDataItem};
pub use server_assignment::{
    ServerAssignmentAnswer, ServerAssignmentRequest, ServerAssignmentType,
};
pub use user_authorization::{
    UserAuthorizationAnswer, UserAuthorizationRequest, UserAuthorizationType,
};

use crate::config::{AuthenticationConfig, ServerCapabilities};
use crate::store::Store;
use crate::subscriber::Subscriber;

/// The HSS: the store plus what the configuration says about S-CSCF selection and
/// authentication. Cheap to clone.
#[derive(Clone)]
pub struct Hss {
    store: Store,
    capabilities: ServerCapabilities,
    auth: AuthenticationConfig,
}

impl Hss {
    pub fn new(store: Store, capabilities: ServerCapabilities, auth: AuthenticationConfig) -> Self {
        Self {
            store,
            capabilities,
            auth,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The subscription owning `impu`, or DIAMETER_ERROR_USER_UNKNOWN.
    async fn subscriber_by_impu(&self, impu: &str) -> Result<Subscriber, CxError> {
        let impi = self
            .store
            .impi_of(impu)
            .await?
            .ok_or(CxError::UserUnknown)?;
        self.store
            .subscriber(&impi)
            .await?
            .ok_or(CxError::UserUnknown)
    }

    /// The subscription for the pair (User-Name, Public-Identity), checking both exist
    /// (DIAMETER_ERROR_USER_UNKNOWN) and belong together (DIAMETER_ERROR_IDENTITIES_DONT_MATCH),
    /// the first two checks of UAR and MAR (TS 29.228 §6.1.1.1, §6.3.1).
    async fn subscriber_for_pair(&self, impi: &str, impu: &str) -> Result<Subscriber, CxError> {
        let subscriber = self
            .store
            .subscriber(impi)
            .await?
            .ok_or(CxError::UserUnknown)?;
        // The common case needs no second query: the identity is in the user's own profiles.
        if subscriber.profile_of(impu).is_some() {
            return Ok(subscriber);
        }
        match self.store.impi_of(impu).await? {
            Some(_) => Err(CxError::IdentitiesDontMatch),
            None => Err(CxError::UserUnknown),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::store::WriteMode;

    pub const SCSCF: &str = "sip:scscf1.ims.example:6060";
    pub const SCSCF2: &str = "sip:scscf2.ims.example:6060";

    /// An HSS over an in-memory store holding the shipped demo subscribers.
    pub async fn hss() -> Hss {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        for s in crate::seed::parse("seed.toml", include_str!("../../seed.toml")).unwrap() {
            store.put_subscriber(&s, WriteMode::Create).await.unwrap();
        }
        Hss::new(
            store,
            ServerCapabilities {
                mandatory: vec![1],
                optional: vec![2, 3],
                server_names: vec![SCSCF.into()],
            },
            AuthenticationConfig::default(),
        )
    }
}
