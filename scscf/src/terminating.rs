//! Requests addressed to a served user (TS 24.229 §5.4.3.3): the bindings of the Request-URI's
//! public identity become fork targets, each routed through the Path it registered with
//! (RFC 3327 §5.3): the Path values are pushed as Route and the request is sent to the first
//! Path hop (the P-CSCF); the Request-URI becomes the contact and the called identity is
//! kept in P-Called-Party-ID (RFC 3455 §4.2). This module plans the fork; the decisions
//! around it (480 for a known user without contacts, 404 for a barred or unknown one) are in
//! [`crate::function`].
//!
//! Forking (RFC 3261 §16.6, §20.10): highest q first, equal q in parallel. Several bindings of
//! one UA instance (RFC 5626 `+sip.instance`, one per `reg-id` flow) are one target: the first
//! flow is tried, and when the edge proxy answers 430 Flow Failed (RFC 5626 §5.3) the next
//! flow of that instance is tried, while the other instances keep ringing.
//!
//! Not done: removing the binding of a failed flow from the registrar (the registrar has no
//! per-binding removal yet; the binding lives until it expires or is refreshed), unregistered
//! user services (an unregistered but known user gets 480), iFC/ISC.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use ims_sip::header::NameAddr;
use ims_sip::proxy::Target as ProxyTarget;
use ims_sip::Uri;
use ims_transport::Target;

use crate::bindings::Binding;
use crate::routing::{destination, resolve_uri, uri_transport, SessionError};

/// The fork of one terminating request: what to start with and the alternate flows.
#[derive(Debug, Clone)]
pub struct Fork {
    /// One target per UA instance (and per binding without an instance).
    pub targets: Vec<ProxyTarget<Target>>,
    /// The flows of each instance not tried yet.
    instances: Vec<InstanceFlows>,
}

#[derive(Debug, Clone)]
struct InstanceFlows {
    /// The contact of the flow being tried.
    current: Uri,
    /// Flows left, best first.
    rest: VecDeque<ProxyTarget<Target>>,
}

impl Fork {
    /// Plans the fork over `bindings` (best q first, as [`crate::Registrar::lookup`] returns
    /// them). Bindings whose first hop cannot be resolved are left out; if none is left the
    /// request cannot be delivered.
    pub fn plan(
        bindings: &[Binding],
        hosts: &HashMap<String, SocketAddr>,
    ) -> Result<Fork, SessionError> {
        let mut by_instance: Vec<(Option<String>, VecDeque<ProxyTarget<Target>>)> = Vec::new();
        let mut last_error = None;
        for binding in bindings {
            let target = match binding_target(binding, hosts) {
                Ok(target) => target,
                Err(error) => {
                    tracing::warn!(contact = %binding.uri(), %error, "binding not reachable");
                    last_error = Some(error);
                    continue;
                }
            };
            let group = binding.instance.as_ref().and_then(|i| {
                by_instance
                    .iter_mut()
                    .find(|(instance, _)| instance.as_ref() == Some(i))
            });
            match group {
                Some((_, flows)) => flows.push_back(target),
                None => by_instance.push((binding.instance.clone(), VecDeque::from([target]))),
            }
        }
        let mut targets = Vec::new();
        let mut instances = Vec::new();
        for (_, mut flows) in by_instance {
            let Some(first) = flows.pop_front() else {
                continue;
            };
            instances.push(InstanceFlows {
                current: first.uri.clone(),
                rest: flows,
            });
            targets.push(first);
        }
        if targets.is_empty() {
            return Err(last_error
                .unwrap_or_else(|| SessionError::TemporarilyUnavailable("no binding".into())));
        }
        Ok(Fork { targets, instances })
    }

    /// The flow to try after the one whose contact is `failed` answered 430 Flow Failed
    /// (RFC 5626 §5.3), if its instance has another.
    pub fn next_flow(&mut self, failed: &Uri) -> Option<ProxyTarget<Target>> {
        let instance = self
            .instances
            .iter_mut()
            .find(|i| i.current.equivalent(failed))?;
        let next = instance.rest.pop_front()?;
        instance.current = next.uri.clone();
        Some(next)
    }
}

/// The fork target for one binding: Request-URI = contact, Route = Path, destination = the
/// first Path hop (or the contact itself without a Path).
pub fn binding_target(
    binding: &Binding,
    hosts: &HashMap<String, SocketAddr>,
) -> Result<ProxyTarget<Target>, SessionError> {
    let route = binding
        .path
        .iter()
        .map(|p| NameAddr::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SessionError::BadRequest(format!("stored Path: {e}")))?;
    let contact = binding.uri().clone();
    let hop = route.first().map_or(&contact, |r| &r.uri);
    let transport = uri_transport(hop);
    let addr = resolve_uri(hop, hosts)?;
    let mut target = ProxyTarget::new(contact, destination(transport, addr))
        .reliable(transport.is_stream())
        .with_route(route)
        .with_q(binding.q);
    target.transport = Some(transport.as_via_str().to_owned());
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn binding(contact: &str, q: u16, instance: Option<&str>, path: &[&str]) -> Binding {
        Binding {
            contact: NameAddr::parse(contact).unwrap(),
            impi: "bob@ims.test".into(),
            expires_at: UNIX_EPOCH + Duration::from_secs(1000),
            q,
            instance: instance.map(str::to_owned),
            reg_id: instance.map(|_| 1),
            path: path.iter().map(|p| (*p).to_owned()).collect(),
            call_id: "c".into(),
            cseq: 1,
        }
    }

    #[test]
    fn path_becomes_route_and_first_hop_is_the_destination() {
        let b = binding(
            "<sip:bob@192.0.2.20:5070>",
            700,
            None,
            &["<sip:term@10.0.0.1:5060;lr>", "<sip:other@10.0.0.9;lr>"],
        );
        let target = binding_target(&b, &HashMap::new()).unwrap();
        assert_eq!(target.uri.to_string(), "sip:bob@192.0.2.20:5070");
        assert_eq!(target.route.len(), 2);
        assert_eq!(target.q, Some(700));
        let Target::Remote { remote, .. } = target.destination else {
            panic!("remote");
        };
        assert_eq!(remote, "10.0.0.1:5060".parse().unwrap());
    }

    #[test]
    fn flows_of_one_instance_are_alternates() {
        let path = ["<sip:term@10.0.0.1;lr>"];
        let bindings = [
            binding("<sip:bob@192.0.2.20:1>", 1000, Some("urn:uuid:a"), &path),
            binding("<sip:bob@192.0.2.21:1>", 1000, None, &path),
            binding("<sip:bob@192.0.2.20:2>", 1000, Some("urn:uuid:a"), &path),
        ];
        let mut fork = Fork::plan(&bindings, &HashMap::new()).unwrap();
        let uris: Vec<String> = fork.targets.iter().map(|t| t.uri.to_string()).collect();
        assert_eq!(uris, ["sip:bob@192.0.2.20:1", "sip:bob@192.0.2.21:1"]);
        let failed = Uri::parse("sip:bob@192.0.2.20:1").unwrap();
        let next = fork.next_flow(&failed).expect("the second flow");
        assert_eq!(next.uri.to_string(), "sip:bob@192.0.2.20:2");
        assert!(fork.next_flow(&next.uri).is_none());
        assert!(fork.next_flow(&uris_uri("sip:bob@192.0.2.21:1")).is_none());
    }

    fn uris_uri(s: &str) -> Uri {
        Uri::parse(s).unwrap()
    }

    #[test]
    fn unreachable_bindings_are_skipped() {
        let bad = binding("<sip:bob@ue.test>", 1000, None, &["<sip:pcscf.unknown;lr>"]);
        let err = Fork::plan(std::slice::from_ref(&bad), &HashMap::new()).unwrap_err();
        assert_eq!(err.status().0, 503);
        let good = binding("<sip:bob@192.0.2.1>", 1000, None, &[]);
        let fork = Fork::plan(&[bad, good], &HashMap::new()).unwrap();
        assert_eq!(fork.targets.len(), 1);
    }
}
