//! The tokio side: the HSS as a Diameter node (the diameter crate's driver answers CER/DWR/DPR
//! and hands Cx requests to [`CxServer::handle`]), and the HSS-initiated procedures RTR and PPR
//! (TS 29.228 §6.2) sent through the same node to the connected S-CSCF.

use crate::store::{Assignment, RegistrationState, StoreError};
use crate::user_data::ims_subscription_xml;
use crate::wire::{host_of_sip_uri, CxServer};
use ims_diameter::base::AnswerResult;
use ims_diameter::cx::{PushProfileAnswer, ReasonCode, RegistrationTerminationAnswer};
use ims_diameter::driver::{handler, DiameterClient, DiameterNode, NodeConfig};
use ims_diameter::peer::capabilities::{node_capabilities, with_cx};
use ims_diameter::Command;
use serde::Serialize;
use std::net::IpAddr;
use tokio::net::TcpListener;

/// Starts the Diameter node of the HSS on `listener`. Any peer may connect (CSCFs are not
/// configured one by one); each Cx request is answered by `cx`.
pub fn start_diameter(cx: CxServer, listener: TcpListener, origin_realm: &str) -> DiameterNode {
    let ip = listener
        .local_addr()
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut local = with_cx(node_capabilities(cx.origin_host(), origin_realm, vec![ip]));
    local.product_name = "hss-sim".into();
    let mut config = NodeConfig::new(local);
    config.accept_unknown_peers = true;
    config.handler = Some(handler(move |request| {
        let cx = cx.clone();
        async move { cx.handle(request).await }
    }));
    DiameterNode::start(config, Some(listener))
}

/// Why an RTR or PPR could not be done; each maps to an HTTP status in the REST API.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no subscriber {0}")]
    UserUnknown(String),
    #[error("{0} has no assigned S-CSCF")]
    NotRegistered(String),
    #[error("Diameter request to {host} failed: {error}")]
    Diameter {
        host: String,
        error: ims_diameter::driver::Error,
    },
    #[error("S-CSCF {host} answered {result}")]
    Rejected { host: String, result: String },
    #[error("answer from {host} is malformed: {error}")]
    BadAnswer {
        host: String,
        error: ims_diameter::DecodeError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one RTR/PPR exchange did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NotifyOutcome {
    /// The S-CSCF (SIP URI) and the Diameter host the request went to.
    pub server_name: String,
    pub diameter_host: String,
    pub public_identities: Vec<String>,
}

/// Sends HSS-initiated Cx requests through the node.
#[derive(Clone)]
pub struct Notifier {
    cx: CxServer,
    client: DiameterClient,
}

impl Notifier {
    pub fn new(cx: CxServer, client: DiameterClient) -> Self {
        Self { cx, client }
    }

    /// The S-CSCFs serving `impi`, each with the identities it holds (REGISTERED or
    /// UNREGISTERED with a stored name).
    async fn serving(&self, impi: &str) -> Result<Vec<(String, Vec<String>)>, NotifyError> {
        let store = self.cx.hss().store();
        let subscriber = store
            .subscriber(impi)
            .await?
            .ok_or_else(|| NotifyError::UserUnknown(impi.to_owned()))?;
        let mut by_scscf: Vec<(String, Vec<String>)> = Vec::new();
        for id in subscriber.public_identities() {
            let a: Assignment = store.assignment(&id.identity, impi).await?;
            let (RegistrationState::Registered | RegistrationState::Unregistered, Some(name)) =
                (a.state, a.scscf_name)
            else {
                continue;
            };
            match by_scscf.iter_mut().find(|(n, _)| *n == name) {
                Some((_, ids)) => ids.push(a.impu),
                None => by_scscf.push((name, vec![a.impu])),
            }
        }
        if by_scscf.is_empty() {
            return Err(NotifyError::NotRegistered(impi.to_owned()));
        }
        Ok(by_scscf)
    }

    async fn diameter_host(&self, server_name: &str) -> Result<String, NotifyError> {
        Ok(match self.cx.hss().store().scscf_host(server_name).await? {
            Some(h) => h,
            None => host_of_sip_uri(server_name).to_owned(),
        })
    }

    /// Administrative de-registration (TS 29.228 §6.2.1): an RTR to every S-CSCF serving
    /// `impi`; once it answers DIAMETER_SUCCESS the identities are NOT_REGISTERED and their
    /// S-CSCF name is cleared.
    pub async fn registration_termination(
        &self,
        impi: &str,
        reason_code: ReasonCode,
        reason_info: Option<String>,
    ) -> Result<Vec<NotifyOutcome>, NotifyError> {
        let mut done = Vec::new();
        for (server_name, ids) in self.serving(impi).await? {
            let host = self.diameter_host(&server_name).await?;
            let request = self.cx.registration_termination_request(
                &host,
                impi,
                ids.clone(),
                reason_code,
                reason_info.clone(),
            );
            let answer =
                self.client
                    .request(request)
                    .await
                    .map_err(|error| NotifyError::Diameter {
                        host: host.clone(),
                        error,
                    })?;
            let rta = RegistrationTerminationAnswer::from_message(&answer).map_err(|error| {
                NotifyError::BadAnswer {
                    host: host.clone(),
                    error,
                }
            })?;
            check_success(&host, &rta.common.result)?;
            self.cx
                .hss()
                .store()
                .set_assignment(impi, &ids, RegistrationState::NotRegistered, None)
                .await?;
            done.push(NotifyOutcome {
                server_name,
                diameter_host: host,
                public_identities: ids,
            });
        }
        Ok(done)
    }

    /// Profile update (TS 29.228 §6.2.2): a PPR with the current IMS subscription XML to every
    /// S-CSCF serving `impi`.
    pub async fn push_profile(&self, impi: &str) -> Result<Vec<NotifyOutcome>, NotifyError> {
        let store = self.cx.hss().store();
        let subscriber = store
            .subscriber(impi)
            .await?
            .ok_or_else(|| NotifyError::UserUnknown(impi.to_owned()))?;
        let mut done = Vec::new();
        for (server_name, ids) in self.serving(impi).await? {
            let host = self.diameter_host(&server_name).await?;
            let xml = ims_subscription_xml(&subscriber, &ids);
            let request = self.cx.push_profile_request(&host, impi, xml);
            let answer =
                self.client
                    .request(request)
                    .await
                    .map_err(|error| NotifyError::Diameter {
                        host: host.clone(),
                        error,
                    })?;
            let ppa = PushProfileAnswer::from_message(&answer).map_err(|error| {
                NotifyError::BadAnswer {
                    host: host.clone(),
                    error,
                }
            })?;
            check_success(&host, &ppa.common.result)?;
            done.push(NotifyOutcome {
                server_name,
                diameter_host: host,
                public_identities: ids,
            });
        }
        Ok(done)
    }
}

fn check_success(host: &str, result: &AnswerResult) -> Result<(), NotifyError> {
    if result.is_success() {
        return Ok(());
    }
    Err(NotifyError::Rejected {
        host: host.to_owned(),
        result: match result {
            AnswerResult::Base(r) => format!("Result-Code {}", r.0),
            AnswerResult::Experimental(e) => format!("Experimental-Result-Code {}", e.code.0),
        },
    })
}
