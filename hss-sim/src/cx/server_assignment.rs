//! S-CSCF registration/deregistration notification: SAR/SAA (TS 29.228 §6.1.2, detailed
//! behaviour §6.1.2.1; messages TS 29.229 §6.1.3-6.1.4).

use super::{CxError, CxResult, Hss};
use crate::store::RegistrationState;
use crate::subscriber::Subscriber;
use crate::user_data::ims_subscription_xml;

/// Server-Assignment-Type (TS 29.229 §6.3.15), the diameter crate's open newtype: unknown
/// values are answered DIAMETER_ERROR_IN_ASSIGNMENT_TYPE instead of being lost in decoding.
pub use ims_diameter::cx::ServerAssignmentType;

/// The SAR fields the HSS acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAssignmentRequest {
    /// User-Name (private identity); optional in SAR (TS 29.229 §6.1.3).
    pub user_name: Option<String>,
    /// Public-Identity AVPs; may be empty when User-Name is present (de-registration of all).
    pub public_identities: Vec<String>,
    pub server_name: String,
    pub assignment_type: ServerAssignmentType,
    /// User-Data-Already-Available = USER_DATA_ALREADY_AVAILABLE (1).
    pub user_data_already_available: bool,
}

/// The SAA content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAssignmentAnswer {
    pub result: CxResult,
    pub user_name: String,
    /// The IMS subscription XML (TS 29.228 Annex D), when the type downloads a profile.
    pub user_data: Option<String>,
}

impl Hss {
    /// SAR (TS 29.228 §6.1.2.1). The identities affected are the implicit registration sets of
    /// the Public-Identity AVPs (every identity of the user when only User-Name is given).
    ///
    /// * REGISTRATION, RE_REGISTRATION: state REGISTERED with this S-CSCF; User-Data returned
    ///   unless the S-CSCF says it already has it.
    /// * UNREGISTERED_USER: state UNREGISTERED with this S-CSCF (terminating services for an
    ///   unregistered user); User-Data returned.
    /// * NO_ASSIGNMENT: User-Data only, for the S-CSCF that is assigned; another S-CSCF gets
    ///   DIAMETER_UNABLE_TO_COMPLY.
    /// * TIMEOUT_/USER_/ADMINISTRATIVE_DEREGISTRATION, DEREGISTRATION_TOO_MUCH_DATA: NOT_REGISTERED
    ///   and the S-CSCF name cleared.
    /// * ..._STORE_SERVER_NAME: NOT_REGISTERED with the S-CSCF name kept (so a later LIR or UAR
    ///   returns the same S-CSCF).
    /// * AUTHENTICATION_FAILURE/TIMEOUT: a pending S-CSCF name (state NOT_REGISTERED) is
    ///   cleared; a registered user keeps its registration.
    ///
    /// A de-registration or authentication failure from an S-CSCF other than the stored one
    /// leaves the record alone (answered DIAMETER_SUCCESS): after an S-CSCF change the old one's
    /// timer must not wipe the new registration.
    pub async fn server_assignment(
        &self,
        req: &ServerAssignmentRequest,
    ) -> Result<ServerAssignmentAnswer, CxError> {
        let subscriber = self.sar_subscriber(req).await?;
        let first = req
            .public_identities
            .first()
            .cloned()
            .or_else(|| {
                subscriber
                    .public_identities()
                    .next()
                    .map(|p| p.identity.clone())
            })
            .ok_or(CxError::MissingAvp("Public-Identity"))?;
        let affected = affected_identities(&subscriber, &req.public_identities);
        let current = self.store.assignment(&first, &subscriber.impi).await?;
        let own = current
            .scscf_name
            .as_deref()
            .is_none_or(|n| n == req.server_name);
        let profile = |wanted: bool| {
            (wanted && !req.user_data_already_available)
                .then(|| ims_subscription_xml(&subscriber, &affected))
        };
        type T = ServerAssignmentType;
        let user_data = match req.assignment_type {
            T::REGISTRATION | T::RE_REGISTRATION => {
                self.store
                    .set_assignment(
                        &subscriber.impi,
                        &affected,
                        RegistrationState::Registered,
                        Some(&req.server_name),
                    )
                    .await?;
                profile(true)
            }
            T::UNREGISTERED_USER => {
                self.store
                    .set_assignment(
                        &subscriber.impi,
                        &affected,
                        RegistrationState::Unregistered,
                        Some(&req.server_name),
                    )
                    .await?;
                profile(true)
            }
            T::NO_ASSIGNMENT => {
                if current.scscf_name.as_deref() != Some(req.server_name.as_str()) {
                    return Err(CxError::UnableToComply(format!(
                        "{} is not the S-CSCF assigned to {first}",
                        req.server_name
                    )));
                }
                Some(ims_subscription_xml(&subscriber, &affected))
            }
            T::TIMEOUT_DEREGISTRATION
            | T::USER_DEREGISTRATION
            | T::ADMINISTRATIVE_DEREGISTRATION
            | T::DEREGISTRATION_TOO_MUCH_DATA => {
                if own {
                    self.store
                        .set_assignment(
                            &subscriber.impi,
                            &affected,
                            RegistrationState::NotRegistered,
                            None,
                        )
                        .await?;
                }
                None
            }
            T::TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME
            | T::USER_DEREGISTRATION_STORE_SERVER_NAME => {
                if own {
                    self.store
                        .set_assignment(
                            &subscriber.impi,
                            &affected,
                            RegistrationState::NotRegistered,
                            Some(&req.server_name),
                        )
                        .await?;
                }
                None
            }
            T::AUTHENTICATION_FAILURE | T::AUTHENTICATION_TIMEOUT => {
                if own && current.state == RegistrationState::NotRegistered {
                    self.store
                        .set_assignment(
                            &subscriber.impi,
                            &affected,
                            RegistrationState::NotRegistered,
                            None,
                        )
                        .await?;
                }
                None
            }
            other => return Err(CxError::InAssignmentType(other.0)),
        };
        Ok(ServerAssignmentAnswer {
            result: CxResult::Success,
            user_name: subscriber.impi.clone(),
            user_data,
        })
    }

    async fn sar_subscriber(&self, req: &ServerAssignmentRequest) -> Result<Subscriber, CxError> {
        match (&req.user_name, req.public_identities.first()) {
            (Some(impi), Some(impu)) => {
                let s = self.subscriber_for_pair(impi, impu).await?;
                // Every further identity must belong to the same user as well.
                for other in &req.public_identities[1..] {
                    if s.profile_of(other).is_none() {
                        return Err(match self.store.impi_of(other).await? {
                            Some(_) => CxError::IdentitiesDontMatch,
                            None => CxError::UserUnknown,
                        });
                    }
                }
                Ok(s)
            }
            (None, Some(impu)) => self.subscriber_by_impu(impu).await,
            (Some(impi), None) => self
                .store
                .subscriber(impi)
                .await?
                .ok_or(CxError::UserUnknown),
            (None, None) => Err(CxError::MissingAvp("Public-Identity")),
        }
    }
}

/// The union of the implicit registration sets of `requested`, or every identity of the user
/// when none is requested.
fn affected_identities(s: &Subscriber, requested: &[String]) -> Vec<String> {
    if requested.is_empty() {
        return s.public_identities().map(|p| p.identity.clone()).collect();
    }
    let mut out: Vec<String> = Vec::new();
    for impu in requested {
        for id in s.implicit_set(impu) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::test_support::*;
    use crate::cx::WireResult;

    fn sar(impu: &str, ty: ServerAssignmentType) -> ServerAssignmentRequest {
        ServerAssignmentRequest {
            user_name: Some("alice@ims.example".into()),
            public_identities: vec![impu.into()],
            server_name: SCSCF.into(),
            assignment_type: ty,
            user_data_already_available: false,
        }
    }

    async fn state(hss: &Hss, impu: &str) -> (RegistrationState, Option<String>) {
        let a = hss
            .store()
            .assignment(impu, "alice@ims.example")
            .await
            .unwrap();
        (a.state, a.scscf_name)
    }

    #[tokio::test]
    async fn registration_stores_scscf_for_implicit_set_and_returns_profile() {
        let hss = hss().await;
        let a = hss
            .server_assignment(&sar(
                "sip:alice@ims.example",
                ServerAssignmentType::REGISTRATION,
            ))
            .await
            .unwrap();
        assert_eq!(a.result, CxResult::Success);
        assert_eq!(a.user_name, "alice@ims.example");
        let xml = a.user_data.unwrap();
        assert!(xml.contains("<PrivateID>alice@ims.example</PrivateID>"));
        assert!(
            xml.contains("<Identity>tel:+15550001</Identity>"),
            "implicit set: {xml}"
        );
        assert!(xml.contains("<ServerName>sip:as.ims.example:5070</ServerName>"));
        assert_eq!(
            state(&hss, "tel:+15550001").await,
            (RegistrationState::Registered, Some(SCSCF.to_string()))
        );

        let mut req = sar("tel:+15550001", ServerAssignmentType::RE_REGISTRATION);
        req.user_data_already_available = true;
        let a = hss.server_assignment(&req).await.unwrap();
        assert_eq!(a.user_data, None);

        let a = hss
            .server_assignment(&sar(
                "sip:alice@ims.example",
                ServerAssignmentType::NO_ASSIGNMENT,
            ))
            .await
            .unwrap();
        assert!(a.user_data.is_some());
        let mut other = sar("sip:alice@ims.example", ServerAssignmentType::NO_ASSIGNMENT);
        other.server_name = SCSCF2.into();
        let e = hss.server_assignment(&other).await.unwrap_err();
        assert_eq!(e.wire(), WireResult::Base(5012));
    }

    #[tokio::test]
    async fn deregistration_variants() {
        let hss = hss().await;
        for ty in [
            ServerAssignmentType::TIMEOUT_DEREGISTRATION,
            ServerAssignmentType::USER_DEREGISTRATION,
            ServerAssignmentType::ADMINISTRATIVE_DEREGISTRATION,
            ServerAssignmentType::DEREGISTRATION_TOO_MUCH_DATA,
        ] {
            hss.server_assignment(&sar(
                "sip:alice@ims.example",
                ServerAssignmentType::REGISTRATION,
            ))
            .await
            .unwrap();
            // An S-CSCF that is not the assigned one can not de-register the user.
            let mut stranger = sar("sip:alice@ims.example", ty);
            stranger.server_name = SCSCF2.into();
            hss.server_assignment(&stranger).await.unwrap();
            assert_eq!(
                state(&hss, "tel:+15550001").await.0,
                RegistrationState::Registered
            );

            let a = hss
                .server_assignment(&sar("sip:alice@ims.example", ty))
                .await
                .unwrap();
            assert_eq!((a.result, a.user_data), (CxResult::Success, None));
            assert_eq!(
                state(&hss, "tel:+15550001").await,
                (RegistrationState::NotRegistered, None),
                "{ty:?}"
            );
        }
        for ty in [
            ServerAssignmentType::TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME,
            ServerAssignmentType::USER_DEREGISTRATION_STORE_SERVER_NAME,
        ] {
            hss.server_assignment(&sar(
                "sip:alice@ims.example",
                ServerAssignmentType::REGISTRATION,
            ))
            .await
            .unwrap();
            hss.server_assignment(&sar("sip:alice@ims.example", ty))
                .await
                .unwrap();
            assert_eq!(
                state(&hss, "sip:alice@ims.example").await,
                (RegistrationState::NotRegistered, Some(SCSCF.to_string()))
            );
        }
    }

    #[tokio::test]
    async fn unregistered_user_and_authentication_failure() {
        let hss = hss().await;
        let mut req = sar(
            "sip:bob@ims.example",
            ServerAssignmentType::UNREGISTERED_USER,
        );
        req.user_name = None;
        let a = hss.server_assignment(&req).await.unwrap();
        assert!(a
            .user_data
            .unwrap()
            .contains("<SessionCase>2</SessionCase>"));
        let rec = hss
            .store()
            .assignment("sip:bob@ims.example", "bob@ims.example")
            .await
            .unwrap();
        assert_eq!(rec.state, RegistrationState::Unregistered);

        // Pending S-CSCF from a MAR is dropped on authentication failure.
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
        for ty in [
            ServerAssignmentType::AUTHENTICATION_FAILURE,
            ServerAssignmentType::AUTHENTICATION_TIMEOUT,
        ] {
            hss.server_assignment(&sar("sip:alice@ims.example", ty))
                .await
                .unwrap();
            assert_eq!(
                state(&hss, "tel:+15550001").await,
                (RegistrationState::NotRegistered, None)
            );
        }
        // ...but a registered user stays registered.
        hss.server_assignment(&sar(
            "sip:alice@ims.example",
            ServerAssignmentType::REGISTRATION,
        ))
        .await
        .unwrap();
        hss.server_assignment(&sar(
            "sip:alice@ims.example",
            ServerAssignmentType::AUTHENTICATION_FAILURE,
        ))
        .await
        .unwrap();
        assert_eq!(
            state(&hss, "sip:alice@ims.example").await.0,
            RegistrationState::Registered
        );
    }

    #[tokio::test]
    async fn user_name_only_deregisters_everything() {
        let hss = hss().await;
        hss.server_assignment(&sar(
            "sip:alice@ims.example",
            ServerAssignmentType::REGISTRATION,
        ))
        .await
        .unwrap();
        let mut req = sar("x", ServerAssignmentType::USER_DEREGISTRATION);
        req.public_identities.clear();
        hss.server_assignment(&req).await.unwrap();
        assert!(hss.store().assignments().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn error_cases() {
        let hss = hss().await;
        let e = hss
            .server_assignment(&sar(
                "sip:nobody@ims.example",
                ServerAssignmentType::REGISTRATION,
            ))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5001));
        let e = hss
            .server_assignment(&sar(
                "sip:bob@ims.example",
                ServerAssignmentType::REGISTRATION,
            ))
            .await
            .unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5002));
        let mut req = sar("sip:alice@ims.example", ServerAssignmentType::REGISTRATION);
        req.public_identities.push("sip:bob@ims.example".into());
        let e = hss.server_assignment(&req).await.unwrap_err();
        assert_eq!(e.wire(), WireResult::Experimental(5002));
        for ty in [12, 13, 99] {
            let e = hss
                .server_assignment(&sar("sip:alice@ims.example", ServerAssignmentType(ty)))
                .await
                .unwrap_err();
            assert_eq!(e.wire(), WireResult::Experimental(5007));
        }
        let mut req = sar("sip:alice@ims.example", ServerAssignmentType::REGISTRATION);
        req.user_name = None;
        req.public_identities.clear();
        let e = hss.server_assignment(&req).await.unwrap_err();
        assert_eq!(e.wire(), WireResult::Base(5005));
    }
}
