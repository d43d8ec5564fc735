//! Realm-based request routing (RFC 6733 §2.7 Routing Table, §6.1.6 Request Routing).
//!
//! A small static table: (Destination-Realm, Application-Id) -> peers in order of preference
//! (primary first, then secondaries). [`RoutingTable::select`] picks the first peer the caller
//! reports as available (its peer machine is open and its RFC 3539 watchdog is OKAY), which
//! gives failover to the secondary and failback to the primary without extra state.

/// Result-Code 3002 DIAMETER_UNABLE_TO_DELIVER (RFC 6733 §7.1.3).
pub const DIAMETER_UNABLE_TO_DELIVER: u32 = 3002;
/// Result-Code 3003 DIAMETER_REALM_NOT_SERVED (RFC 6733 §7.1.3).
pub const DIAMETER_REALM_NOT_SERVED: u32 = 3003;

/// Why a request could not be routed; each maps to its Result-Code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No routing entry for the Destination-Realm (3003 DIAMETER_REALM_NOT_SERVED).
    #[error("realm {realm:?} is not served")]
    RealmNotServed {
        /// The Destination-Realm asked for.
        realm: String,
    },
    /// The realm is known but no peer for the application is available
    /// (3002 DIAMETER_UNABLE_TO_DELIVER).
    #[error("no available peer for realm {realm:?}, application {application}")]
    UnableToDeliver {
        /// The Destination-Realm asked for.
        realm: String,
        /// The Application-Id of the request.
        application: u32,
    },
}

impl RouteError {
    /// The Result-Code an answer carries for this error.
    pub fn result_code(&self) -> u32 {
        match self {
            RouteError::RealmNotServed { .. } => DIAMETER_REALM_NOT_SERVED,
            RouteError::UnableToDeliver { .. } => DIAMETER_UNABLE_TO_DELIVER,
        }
    }
}

/// One routing table entry (RFC 6733 §2.7): realm + application -> ordered peer identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Realm Name, the primary key; compared case-insensitively (DNS names).
    pub realm: String,
    /// Application Identifier, the secondary key.
    pub application: u32,
    /// Server Identifiers (peer Origin-Hosts), primary first.
    pub peers: Vec<String>,
}

/// The routing table.
#[derive(Debug, Clone, Default)]
pub struct RoutingTable {
    routes: Vec<Route>,
}

impl RoutingTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route; `peers` are in order of preference.
    pub fn add_route(
        &mut self,
        realm: impl Into<String>,
        application: u32,
        peers: impl IntoIterator<Item = impl Into<String>>,
    ) -> &mut Self {
        self.routes.push(Route {
            realm: realm.into(),
            application,
            peers: peers.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// The configured routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Picks the most preferred available peer for `realm` and `application`, skipping
    /// `exclude` (the peer a request is failing over from, RFC 6733 §5.5.4).
    pub fn select<'a>(
        &'a self,
        realm: &str,
        application: u32,
        exclude: Option<&str>,
        mut is_available: impl FnMut(&str) -> bool,
    ) -> Result<&'a str, RouteError> {
        let mut realm_known = false;
        for route in &self.routes {
            if !route.realm.eq_ignore_ascii_case(realm) {
                continue;
            }
            realm_known = true;
            if route.application != application {
                continue;
            }
            for peer in &route.peers {
                if exclude.is_some_and(|ex| ex.eq_ignore_ascii_case(peer)) {
                    continue;
                }
                if is_available(peer) {
                    return Ok(peer);
                }
            }
        }
        if realm_known {
            Err(RouteError::UnableToDeliver {
                realm: realm.to_owned(),
                application,
            })
        } else {
            Err(RouteError::RealmNotServed {
                realm: realm.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RoutingTable {
        let mut t = RoutingTable::new();
        t.add_route("ims.example", 16777216, ["hss1", "hss2"]);
        t
    }

    #[test]
    fn primary_then_secondary_then_unable_to_deliver() {
        let t = table();
        assert_eq!(
            t.select("IMS.example", 16777216, None, |_| true),
            Ok("hss1")
        );
        assert_eq!(
            t.select("ims.example", 16777216, None, |p| p == "hss2"),
            Ok("hss2")
        );
        assert_eq!(
            t.select("ims.example", 16777216, Some("hss1"), |_| true),
            Ok("hss2")
        );
        let err = t
            .select("ims.example", 16777216, None, |_| false)
            .unwrap_err();
        assert_eq!(err.result_code(), 3002);
        let err = t.select("ims.example", 4, None, |_| true).unwrap_err();
        assert_eq!(err.result_code(), 3002);
    }

    #[test]
    fn unknown_realm_is_not_served() {
        let t = table();
        let err = t.select("other.example", 16777216, None, |_| true);
        assert_eq!(err.map_err(|e| e.result_code()), Err(3003));
    }
}
