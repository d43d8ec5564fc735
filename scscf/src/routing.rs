//! Session routing configuration, next-hop resolution (RFC 3261 §16.6 step 7) and the errors
//! of session routing, each mapped to the SIP answer the S-CSCF sends.
//!
//! Resolution uses a static host table only: a URI whose host is an IP literal goes to that
//! address (its port, or 5060), a host name must be in the configured table (the table's port
//! is used unless the URI names one). RFC 3263 (NAPTR, SRV, A/AAAA) is not implemented yet.
//! The transport is UDP unless the URI says `transport=tcp` (or `tls`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ims_sip::header::Via;
use ims_sip::proxy::{ProxyConfig, ProxyError};
use ims_sip::{Host, Message, Scheme, StatusCode, Uri};
use ims_transport::{Target, Transport};

/// What session routing needs to know besides the registrar's state.
#[derive(Debug, Clone, Default)]
pub struct RoutingConfig {
    /// Domains of this network: an originating request for one of them is a request to a
    /// home user (TS 24.229 §5.4.3.2).
    pub home_domains: Vec<String>,
    /// The I-CSCF originating requests to home users go to, for the location query (LIR)
    /// and terminating S-CSCF selection. `None`: this S-CSCF acts as the terminating
    /// S-CSCF itself (a single-S-CSCF network).
    pub icscf: Option<Uri>,
    /// Where originating requests to other domains go (a BGCF, an IBCF, a peer network).
    /// `None`: they are answered 404.
    pub breakout: Option<Uri>,
    /// Static name resolution: lowercase host name -> socket address.
    pub hosts: HashMap<String, SocketAddr>,
}

impl RoutingConfig {
    /// Whether `uri` names a user of this network: a SIP URI whose host is a home domain.
    pub fn is_home(&self, uri: &Uri) -> bool {
        if !uri.is_sip() {
            return false;
        }
        let Some(Host::Domain(name)) = uri.host() else {
            return false;
        };
        let name = name.trim_end_matches('.');
        self.home_domains
            .iter()
            .any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(name))
    }
}

/// Why a session request is answered by the S-CSCF instead of being routed; `status` is the
/// SIP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Malformed header needed for routing: 400.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Originating request that did not come through our Service-Route or from a registered
    /// identity (TS 24.229 §5.4.3.2): 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The HSS does not know the public identity, or a tel URI that is none of our users
    /// (ENUM is not implemented), or a foreign domain without breakout: 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// The user is known but has no reachable contact (TS 24.229 §5.4.3.3); unregistered-user
    /// services are not implemented: 480.
    #[error("temporarily unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// A next hop whose host is neither an IP literal nor in the host table: 503 (RFC 3263
    /// §4.3 treats a failed resolution like an unreachable server).
    #[error("cannot resolve next hop {0}")]
    Unresolvable(String),
    /// The proxy refused to forward (Max-Forwards, malformed Route…).
    #[error("{0}")]
    Proxy(String, StatusCode),
}

impl SessionError {
    /// The SIP status answering this error.
    pub fn status(&self) -> StatusCode {
        match self {
            SessionError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SessionError::Forbidden(_) => StatusCode::FORBIDDEN,
            SessionError::NotFound(_) => StatusCode::NOT_FOUND,
            SessionError::TemporarilyUnavailable(_) => StatusCode::TEMPORARILY_UNAVAILABLE,
            SessionError::Unresolvable(_) => StatusCode::SERVICE_UNAVAILABLE,
            SessionError::Proxy(_, status) => *status,
        }
    }
}

impl From<ProxyError> for SessionError {
    fn from(error: ProxyError) -> Self {
        SessionError::Proxy(error.to_string(), error.status())
    }
}

/// The socket address `uri` resolves to (IP literal or host table).
pub fn resolve_uri(
    uri: &Uri,
    hosts: &HashMap<String, SocketAddr>,
) -> Result<SocketAddr, SessionError> {
    let unresolvable = || SessionError::Unresolvable(uri.to_string());
    if *uri.scheme() == Scheme::Tel {
        return Err(unresolvable());
    }
    let default_port = if *uri.scheme() == Scheme::Sips {
        5061
    } else {
        5060
    };
    match uri.host().ok_or_else(unresolvable)? {
        Host::Ipv4(ip) => Ok(SocketAddr::new(
            IpAddr::V4(*ip),
            uri.port().unwrap_or(default_port),
        )),
        Host::Ipv6(ip) => Ok(SocketAddr::new(
            IpAddr::V6(*ip),
            uri.port().unwrap_or(default_port),
        )),
        Host::Domain(name) => {
            let key = name.trim_end_matches('.').to_ascii_lowercase();
            let mut addr = *hosts.get(&key).ok_or_else(unresolvable)?;
            if let Some(port) = uri.port() {
                addr.set_port(port);
            }
            Ok(addr)
        }
    }
}

/// The transport a URI asks for (`transport` parameter, RFC 3261 §19.1.1; `sips` means TLS);
/// UDP by default.
pub fn uri_transport(uri: &Uri) -> Transport {
    if *uri.scheme() == Scheme::Sips {
        return Transport::Tls;
    }
    match uri.param("transport").flatten() {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        Some(t) if t.eq_ignore_ascii_case("tls") => Transport::Tls,
        _ => Transport::Udp,
    }
}

/// A transport destination for `addr`.
pub fn destination(transport: Transport, addr: SocketAddr) -> Target {
    Target::Remote {
        transport,
        remote: addr,
        server_name: None,
    }
}

/// Removes the Route values at the top of `request` that name this proxy too: when both the
/// originating and the terminating leg of a dialog ran through this S-CSCF the route set holds
/// our Record-Route twice, and §16.4 already took off the first. Consuming the rest here
/// spares a hop to ourselves. Returns how many were removed.
pub fn strip_own_routes(config: &ProxyConfig, request: &mut Message) -> usize {
    let ours = request
        .name_addrs("Route")
        .map(|routes| routes.iter().take_while(|r| config.is_me(&r.uri)).count())
        .unwrap_or(0);
    for _ in 0..ours {
        request.headers_mut().remove_first_value("Route");
    }
    ours
}

/// Where a response that matched no transaction goes (RFC 3261 §18.2.2): the top Via's
/// `received`/`rport` (RFC 3581), else its sent-by (resolved with the host table).
pub fn via_destination(via: &Via, hosts: &HashMap<String, SocketAddr>) -> Option<Target> {
    let port = via.rport().flatten().or(via.port).unwrap_or(5060);
    let received = via.received().and_then(|r| r.parse::<IpAddr>().ok());
    let addr = match (received, &via.host) {
        (Some(ip), _) => SocketAddr::new(ip, port),
        (None, Host::Ipv4(ip)) => SocketAddr::new(IpAddr::V4(*ip), port),
        (None, Host::Ipv6(ip)) => SocketAddr::new(IpAddr::V6(*ip), port),
        (None, Host::Domain(name)) => {
            let addr = hosts.get(&name.to_ascii_lowercase())?;
            SocketAddr::new(addr.ip(), via.port.unwrap_or(addr.port()))
        }
    };
    let transport = match via.transport.to_ascii_uppercase().as_str() {
        "TCP" => Transport::Tcp,
        "TLS" => Transport::Tls,
        _ => Transport::Udp,
    };
    Some(destination(transport, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> HashMap<String, SocketAddr> {
        HashMap::from([(
            "icscf.ims.test".to_owned(),
            "10.0.0.5:5070".parse().unwrap(),
        )])
    }

    #[test]
    fn ip_literals_table_names_and_failures() {
        let r = |s: &str| resolve_uri(&Uri::parse(s).unwrap(), &hosts());
        assert_eq!(
            r("sip:192.0.2.1").unwrap(),
            "192.0.2.1:5060".parse().unwrap()
        );
        assert_eq!(
            r("sips:[2001:db8::1]").unwrap(),
            "[2001:db8::1]:5061".parse().unwrap()
        );
        assert_eq!(
            r("sip:ICSCF.ims.test;lr").unwrap(),
            "10.0.0.5:5070".parse().unwrap()
        );
        assert_eq!(
            r("sip:icscf.ims.test:7000").unwrap(),
            "10.0.0.5:7000".parse().unwrap()
        );
        let err = r("sip:nowhere.ims.test").unwrap_err();
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(err.to_string().contains("nowhere.ims.test"), "{err}");
        assert!(r("tel:+15551234").is_err());
    }

    #[test]
    fn home_domains_and_transports() {
        let config = RoutingConfig {
            home_domains: vec!["ims.test".into()],
            ..RoutingConfig::default()
        };
        let home = |s: &str| config.is_home(&Uri::parse(s).unwrap());
        assert!(home("sip:bob@IMS.test"));
        assert!(!home("sip:bob@other.test"));
        assert!(!home("tel:+15551234"));
        assert!(!home("sip:bob@192.0.2.1"));
        let t = |s: &str| uri_transport(&Uri::parse(s).unwrap());
        assert_eq!(t("sip:a;transport=TCP"), Transport::Tcp);
        assert_eq!(t("sips:a"), Transport::Tls);
        assert_eq!(t("sip:a"), Transport::Udp);
    }

    #[test]
    fn own_routes_on_top_are_consumed() {
        let config = ProxyConfig::new(Host::Ipv4("10.0.0.3".parse().unwrap()), Some(5060));
        let mut request = Message::parse(
            b"BYE sip:bob@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP p;branch=z9hG4bK1\r\n\
              Route: <sip:10.0.0.3:5060;lr>, <sip:10.0.0.3;lr>\r\nRoute: <sip:p.test;lr>\r\n\
              From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\n\
              CSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(strip_own_routes(&config, &mut request), 2);
        let left: Vec<&str> = request.headers().values("Route").collect();
        assert_eq!(left, ["<sip:p.test;lr>"]);
        assert_eq!(strip_own_routes(&config, &mut request), 0);
    }

    #[test]
    fn stray_responses_follow_received_and_rport() {
        let via =
            Via::parse("SIP/2.0/UDP ue.test:5070;branch=z9hG4bK1;received=192.0.2.9;rport=4000")
                .unwrap();
        let Some(Target::Remote { remote, .. }) = via_destination(&via, &hosts()) else {
            panic!("a remote target");
        };
        assert_eq!(remote, "192.0.2.9:4000".parse().unwrap());
        let unknown = Via::parse("SIP/2.0/UDP nowhere.test;branch=z9hG4bK1").unwrap();
        assert!(via_destination(&unknown, &hosts()).is_none());
    }
}
