//! User registration status query: UAR/UAA (TS 29.228 §6.1.1, detailed behaviour §6.1.1.1).

use super::{CxError, CxResult, Hss};
use crate::config::ServerCapabilities;
use crate::store::RegistrationState;

/// User-Authorization-Type (TS 29.229 §6.3.24), the diameter crate's open newtype: unknown
/// values are rejected with DIAMETER_INVALID_AVP_VALUE, not lost.
pub use ims_diameter::cx::UserAuthorizationType;

/// The UAR fields the HSS acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAuthorizationRequest {
    /// User-Name: the private identity.
    pub user_name: String,
    pub public_identity: String,
    /// Visited-Network-Identifier (the P-CSCF's P-Visited-Network-ID); empty from the home network.
    pub visited_network_identifier: String,
    /// Absent on the wire means REGISTRATION (TS 29.229 §6.1.1).
    pub authorization_type: UserAuthorizationType,
}

/// The UAA content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAuthorizationAnswer {
    pub result: CxResult,
    pub server_name: Option<String>,
    pub server_capabilities: Option<ServerCapabilities>,
}

impl Hss {
    /// UAR (TS 29.228 §6.1.1.1):
    /// 1. both identities known (DIAMETER_ERROR_USER_UNKNOWN) and of one subscription
    ///    (DIAMETER_ERROR_IDENTITIES_DONT_MATCH);
    /// 2. unless de-registering: not every identity barred (DIAMETER_AUTHORIZATION_REJECTED),
    ///    and roaming to the visited network allowed (DIAMETER_ERROR_ROAMING_NOT_ALLOWED);
    /// 3. by type: REGISTRATION answers SUBSEQUENT_REGISTRATION with the S-CSCF name when the
    ///    identity is registered or unregistered, otherwise FIRST_REGISTRATION with the stored
    ///    (pending) S-CSCF name or the capabilities; DE_REGISTRATION answers the assigned
    ///    S-CSCF with DIAMETER_SUCCESS or DIAMETER_ERROR_IDENTITY_NOT_REGISTERED;
    ///    REGISTRATION_AND_CAPABILITIES answers the capabilities with DIAMETER_SUCCESS so the
    ///    I-CSCF can select a new S-CSCF.
    pub async fn user_authorization(
        &self,
        req: &UserAuthorizationRequest,
    ) -> Result<UserAuthorizationAnswer, CxError> {
        let ty = req.authorization_type;
        if ![
            UserAuthorizationType::REGISTRATION,
            UserAuthorizationType::DE_REGISTRATION,
            UserAuthorizationType::REGISTRATION_AND_CAPABILITIES,
        ]
        .contains(&ty)
        {
            return Err(CxError::InvalidAvpValue {
                avp: "User-Authorization-Type",
                reason: format!("unknown value {}", ty.0),
            });
        }
        let subscriber = self
            .subscriber_for_pair(&req.user_name, &req.public_identity)
            .await?;
        if ty != UserAuthorizationType::DE_REGISTRATION {
            if subscriber.public_identities().all(|p| p.barred) {
                return Err(CxError::AuthorizationRejected);
            }
            if !subscriber.may_roam_to(&req.visited_network_identifier) {
                return Err(CxError::RoamingNotAllowed(
                    req.visited_network_identifier.clone(),
                ));
            }
        }
        let assignment = self
            .store
            .assignment(&req.public_identity, &subscriber.impi)
            .await?;
        let with_name = |result, name: String| UserAuthorizationAnswer {
            result,
            server_name: Some(name),
            server_capabilities: None,
        };
        let with_capabilities = |result| UserAuthorizationAnswer {
            result,
            server_name: None,
            server_capabilities: Some(self.capabilities.clone()),
        };
        Ok(match ty {
            UserAuthorizationType::DE_REGISTRATION => {
                match (assignment.state, assignment.scscf_name) {
                    (
                        RegistrationState::Registered | RegistrationState::Unregistered,
                        Some(name),
                    ) => with_name(CxResult::Success, name),
                    _ => return Err(CxError::IdentityNotRegistered),
                }
            }
            UserAuthorizationType::REGISTRATION_AND_CAPABILITIES => {
                with_capabilities(CxResult::Success)
            }
            _ => match (assignment.state, assignment.scscf_name) {
                (RegistrationState::Registered | RegistrationState::Unregistered, Some(name)) => {
                    with_name(CxResult::SubsequentRegistration, name)
                }
                (_, Some(name)) => with_name(CxResult::FirstRegistration, name),
                (_, None) => with_capabilities(CxResult::FirstRegistration),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::test_support::*;

    fn uar(impi: &str, impu: &str) -> UserAuthorizationRequest {
        UserAuthorizationRequest {
            user_name: impi.into(),
            public_identity: impu.into(),
            visited_network_identifier: String::new(),
            authorization_type: UserAuthorizationType::REGISTRATION,
        }
    }

    #[tokio::test]
    async fn first_registration_gets_capabilities_then_pending_name() {
        let hss = hss().await;
        let a = hss
            .user_authorization(&uar("alice@ims.example", "sip:alice@ims.example"))
            .await
            .unwrap();
        assert_eq!(a.result, CxResult::FirstRegistration);
        assert_eq!(a.server_name, None);
        let caps = a.server_capabilities.unwrap();
        assert_eq!(caps.mandatory, vec![1]);
        assert_eq!(caps.server_names, vec![SCSCF.to_string()]);

        // A MAR from an S-CSCF stores its name as pending; the next UAR points there.
        let set = vec![
            "sip:alice@ims.example".to_string(),
            "tel:+15550001".to_string(),
        ];
        hss.store()
            .set_assignment(
                "alice@ims.example",
                &set,
                RegistrationState::NotRegistered,
                Some(SCSCF),
            )
            .await
            .unwrap();
        let a = hss
            .user_authorization(&uar("alice@ims.example", "tel:+15550001"))
            .await
            .unwrap();
        assert_eq!(a.result, CxResult::FirstRegistration);
        assert_eq!(a.server_name.as_deref(), Some(SCSCF));
    }

    #[tokio::test]
    async fn subsequent_registration_and_deregistration() {
        let hss = hss().await;
        let mut req = uar("alice@ims.example", "sip:alice@ims.example");
        req.authorization_type = UserAuthorizationType::DE_REGISTRATION;
        let err = hss.user_authorization(&req).await.unwrap_err();
        assert!(matches!(err, CxError::IdentityNotRegistered), "{err}");

        let set = vec!["sip:alice@ims.example".to_string()];
        hss.store()
            .set_assignment(
                "alice@ims.example",
                &set,
                RegistrationState::Registered,
                Some(SCSCF2),
            )
            .await
            .unwrap();
        let a = hss.user_authorization(&req).await.unwrap();
        assert_eq!(
            (a.result, a.server_name.as_deref()),
            (CxResult::Success, Some(SCSCF2))
        );

        req.authorization_type = UserAuthorizationType::REGISTRATION;
        let a = hss.user_authorization(&req).await.unwrap();
        assert_eq!(a.result, CxResult::SubsequentRegistration);
        assert_eq!(a.server_name.as_deref(), Some(SCSCF2));

        req.authorization_type = UserAuthorizationType::REGISTRATION_AND_CAPABILITIES;
        let a = hss.user_authorization(&req).await.unwrap();
        assert_eq!(a.result, CxResult::Success);
        assert!(a.server_name.is_none() && a.server_capabilities.is_some());
    }

    #[tokio::test]
    async fn error_cases() {
        let hss = hss().await;
        let e = hss
            .user_authorization(&uar("nobody@ims.example", "sip:alice@ims.example"))
            .await;
        assert!(matches!(e, Err(CxError::UserUnknown)));
        let e = hss
            .user_authorization(&uar("alice@ims.example", "sip:nobody@ims.example"))
            .await;
        assert!(matches!(e, Err(CxError::UserUnknown)));
        let e = hss
            .user_authorization(&uar("alice@ims.example", "sip:bob@ims.example"))
            .await;
        assert!(matches!(e, Err(CxError::IdentitiesDontMatch)));

        let mut req = uar("bob@ims.example", "sip:bob@ims.example");
        req.visited_network_identifier = "visited.example".into();
        let e = hss.user_authorization(&req).await.unwrap_err();
        assert!(matches!(e, CxError::RoamingNotAllowed(ref n) if n == "visited.example"));
        assert_eq!(e.wire(), crate::cx::WireResult::Experimental(5004));
        // Alice may roam there; the home network is always allowed.
        let mut req = uar("alice@ims.example", "sip:alice@ims.example");
        req.visited_network_identifier = "visited.example".into();
        assert!(hss.user_authorization(&req).await.is_ok());
        req.visited_network_identifier = "ims.example".into();
        assert!(hss.user_authorization(&req).await.is_ok());

        req.authorization_type = UserAuthorizationType(7);
        let e = hss.user_authorization(&req).await.unwrap_err();
        assert_eq!(e.wire(), crate::cx::WireResult::Base(5004));
    }

    #[tokio::test]
    async fn all_barred_is_rejected() {
        let hss = hss().await;
        let mut bob = hss
            .store()
            .subscriber("bob@ims.example")
            .await
            .unwrap()
            .unwrap();
        bob.service_profiles[0].public_identities[0].barred = true;
        hss.store()
            .put_subscriber(&bob, crate::store::WriteMode::Update)
            .await
            .unwrap();
        let e = hss
            .user_authorization(&uar("bob@ims.example", "sip:bob@ims.example"))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), crate::cx::WireResult::Base(5003));
    }
}
