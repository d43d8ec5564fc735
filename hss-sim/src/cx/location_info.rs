//! User location query: LIR/LIA (TS 29.228 §6.1.4, detailed behaviour §6.1.4.1; messages
//! TS 29.229 §6.1.5-6.1.6).

use super::{CxError, CxResult, Hss};
use crate::config::ServerCapabilities;
use crate::store::RegistrationState;

/// The LIR fields the HSS acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationInfoRequest {
    pub public_identity: String,
    /// Originating-Request present: the request is an originating one for an unregistered user
    /// (TS 29.228 §6.1.4.1), served like an unregistered service.
    pub originating_request: bool,
}

/// The LIA content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationInfoAnswer {
    pub result: CxResult,
    pub server_name: Option<String>,
    pub server_capabilities: Option<ServerCapabilities>,
}

impl Hss {
    /// LIR (TS 29.228 §6.1.4.1):
    /// * unknown identity: DIAMETER_ERROR_USER_UNKNOWN;
    /// * an S-CSCF stored (registered, unregistered, or kept after a ..._STORE_SERVER_NAME
    ///   de-registration or pending from a MAR): DIAMETER_SUCCESS with its Server-Name;
    /// * not registered, none stored, with services for the unregistered state (or an
    ///   originating request): DIAMETER_UNREGISTERED_SERVICE with Server-Capabilities so the
    ///   I-CSCF picks an S-CSCF;
    /// * otherwise DIAMETER_ERROR_IDENTITY_NOT_REGISTERED.
    pub async fn location_info(
        &self,
        req: &LocationInfoRequest,
    ) -> Result<LocationInfoAnswer, CxError> {
        let subscriber = self.subscriber_by_impu(&req.public_identity).await?;
        let a = self
            .store
            .assignment(&req.public_identity, &subscriber.impi)
            .await?;
        match (a.state, a.scscf_name) {
            (_, Some(name)) => Ok(LocationInfoAnswer {
                result: CxResult::Success,
                server_name: Some(name),
                server_capabilities: None,
            }),
            (RegistrationState::NotRegistered, None)
                if req.originating_request
                    || subscriber.has_unregistered_services(&req.public_identity) =>
            {
                Ok(LocationInfoAnswer {
                    result: CxResult::UnregisteredService,
                    server_name: None,
                    server_capabilities: Some(self.capabilities.clone()),
                })
            }
            _ => Err(CxError::IdentityNotRegistered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::test_support::*;
    use crate::cx::WireResult;

    fn lir(impu: &str) -> LocationInfoRequest {
        LocationInfoRequest {
            public_identity: impu.into(),
            originating_request: false,
        }
    }

    #[tokio::test]
    async fn registered_user_gets_server_name() {
        let hss = hss().await;
        hss.store()
            .set_assignment(
                "alice@ims.example",
                &["tel:+15550001".to_string()],
                RegistrationState::Registered,
                Some(SCSCF2),
            )
            .await
            .unwrap();
        let a = hss.location_info(&lir("tel:+15550001")).await.unwrap();
        assert_eq!(
            (a.result, a.server_name.as_deref()),
            (CxResult::Success, Some(SCSCF2))
        );
        assert!(a.server_capabilities.is_none());
    }

    #[tokio::test]
    async fn unregistered_cases() {
        let hss = hss().await;
        // Bob has a TERMINATING_UNREGISTERED service.
        let a = hss
            .location_info(&lir("sip:bob@ims.example"))
            .await
            .unwrap();
        assert_eq!(a.result, CxResult::UnregisteredService);
        assert_eq!(a.result.wire(), WireResult::Experimental(2003));
        assert_eq!(a.server_capabilities.unwrap().mandatory, vec![1]);
        // Alice has none: not registered.
        let e = hss
            .location_info(&lir("sip:alice@ims.example"))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5003));
        // ...unless the request is originating.
        let mut req = lir("sip:alice@ims.example");
        req.originating_request = true;
        assert_eq!(
            hss.location_info(&req).await.unwrap().result,
            CxResult::UnregisteredService
        );
        let e = hss
            .location_info(&lir("sip:nobody@ims.example"))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5001));
    }
}
