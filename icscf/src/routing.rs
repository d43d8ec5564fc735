//! Next-hop resolution (RFC 3261 §16.6 step 7) with a static host table.
//!
//! RFC 3263 (NAPTR, SRV, A/AAAA lookups) is not implemented yet: a URI whose host is an IP
//! literal goes to that address (its port, or 5060), a host name must be in the configured
//! table (the table's port is used unless the URI names one). The transport is UDP unless the
//! URI says `transport=tcp`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ims_sip::{Host, Uri};
use ims_transport::{Target, Transport};

use crate::error::IcscfError;

/// The socket address `uri` resolves to.
pub fn resolve_uri(
    uri: &Uri,
    hosts: &HashMap<String, SocketAddr>,
) -> Result<SocketAddr, IcscfError> {
    let unresolvable = || IcscfError::Unresolvable(uri.to_string());
    let host = uri.host().ok_or_else(unresolvable)?;
    match host {
        Host::Ipv4(ip) => Ok(SocketAddr::new(IpAddr::V4(*ip), uri.port().unwrap_or(5060))),
        Host::Ipv6(ip) => Ok(SocketAddr::new(IpAddr::V6(*ip), uri.port().unwrap_or(5060))),
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

/// The transport a URI asks for (`transport` parameter, RFC 3261 §19.1.1); UDP by default.
pub fn uri_transport(uri: &Uri) -> Transport {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> HashMap<String, SocketAddr> {
        HashMap::from([(
            "scscf.ims.test".to_owned(),
            "10.0.0.5:6060".parse().unwrap(),
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
            r("sip:[2001:db8::1]:5070").unwrap(),
            "[2001:db8::1]:5070".parse().unwrap()
        );
        assert_eq!(
            r("sip:SCSCF.ims.test;lr").unwrap(),
            "10.0.0.5:6060".parse().unwrap()
        );
        assert_eq!(
            r("sip:scscf.ims.test:7000").unwrap(),
            "10.0.0.5:7000".parse().unwrap()
        );
        let err = r("sip:nowhere.ims.test").unwrap_err();
        assert_eq!(err.status().0, 503);
        assert!(err.to_string().contains("nowhere.ims.test"), "{err}");
    }

    #[test]
    fn transport_parameter() {
        let t = |s: &str| uri_transport(&Uri::parse(s).unwrap());
        assert_eq!(t("sip:a;transport=TCP"), Transport::Tcp);
        assert_eq!(t("sip:a"), Transport::Udp);
    }
}
