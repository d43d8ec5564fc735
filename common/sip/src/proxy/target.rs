//! What the application hands the proxy when it forwards: targets (RFC 3261 §16.5) and the
//! per-forward options of §16.6.

use crate::header::NameAddr;
use crate::Uri;

/// One target of §16.5: the URI the copy's Request-URI becomes (§16.6 step 2), where the
/// transport sends it, and an optional Route set pushed in front of the request's own.
///
/// Next-hop resolution (§16.6 steps 6–7, RFC 3263) is the application's: it passes the
/// resolved `destination` (the transaction layer's `A`: a socket address, a flow…). Use
/// [`Target::next_hop_uri`] to learn which URI that resolution must start from.
#[derive(Debug, Clone)]
pub struct Target<A> {
    /// The new Request-URI.
    pub uri: Uri,
    /// Where the transport sends the request (outbound proxy, flow, resolved address).
    pub destination: A,
    /// Whether that transport is reliable (fixes the client transaction's timers).
    pub reliable: bool,
    /// The Via transport token (`UDP`, `TCP`, `TLS`, `WS`…); `None` uses the configured one.
    pub transport: Option<String>,
    /// Route values pushed on top of the request's Route set (§16.6 step 6): an outbound
    /// proxy, or the Path of a registration (RFC 3327 §5.3) for an S-CSCF.
    pub route: Vec<NameAddr>,
    /// The q-value of the binding (RFC 3261 §20.10) in thousandths; `None` counts as 1000.
    pub q: Option<u16>,
}

impl<A> Target<A> {
    /// A target reached over an unreliable transport with no pushed Route and no q-value.
    pub fn new(uri: Uri, destination: A) -> Target<A> {
        Target {
            uri,
            destination,
            reliable: false,
            transport: None,
            route: Vec::new(),
            q: None,
        }
    }

    pub fn reliable(mut self, reliable: bool) -> Self {
        self.reliable = reliable;
        self
    }

    pub fn with_q(mut self, q: u16) -> Self {
        self.q = Some(q);
        self
    }

    pub fn with_route(mut self, route: Vec<NameAddr>) -> Self {
        self.route = route;
        self
    }

    /// The URI whose resolution gives the destination (§16.6 step 7 with §16.12): the first
    /// Route value — this target's pushed ones, then `remaining_route` (the request's Route
    /// set after §16.4) — or else the target URI itself.
    pub fn next_hop_uri<'a>(&'a self, remaining_route: &'a [NameAddr]) -> &'a Uri {
        self.route
            .first()
            .or_else(|| remaining_route.first())
            .map(|r| &r.uri)
            .unwrap_or(&self.uri)
    }

    pub(crate) fn q_value(&self) -> u16 {
        self.q.unwrap_or(1000)
    }
}

/// How several targets are tried (§16.6 "the proxy can forward in parallel or in
/// sequence"; RFC 3261 §16.6 and §20.10 on q-values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Forking {
    /// Highest q-value first; targets with equal q-value in parallel; the next group starts
    /// when every branch of the current one failed.
    #[default]
    ByQValue,
    /// All targets at once.
    Parallel,
    /// One target at a time, in the order given.
    Serial,
}

impl Forking {
    /// Splits targets into the groups started one after the other.
    pub(crate) fn groups<A>(self, mut targets: Vec<Target<A>>) -> Vec<Vec<Target<A>>> {
        match self {
            Forking::Parallel => vec![targets],
            Forking::Serial => targets.into_iter().map(|t| vec![t]).collect(),
            Forking::ByQValue => {
                // Stable, so equal q-values keep the application's order.
                targets.sort_by_key(|t| std::cmp::Reverse(t.q_value()));
                let mut groups: Vec<Vec<Target<A>>> = Vec::new();
                for target in targets {
                    match groups.last_mut() {
                        Some(group)
                            if group.first().map(Target::q_value) == Some(target.q_value()) =>
                        {
                            group.push(target)
                        }
                        _ => groups.push(vec![target]),
                    }
                }
                groups
            }
        }
    }
}

/// Per-forward options (§16.6 steps 4–5 and the application hooks).
#[derive(Debug, Clone)]
pub struct ForwardOptions {
    /// §16.6 step 4: the URI put in a Record-Route on top of the copy (it should carry `lr`;
    /// see [`ProxyConfig::record_route_uri`](super::ProxyConfig::record_route_uri)).
    pub record_route: Option<Uri>,
    /// §16.6 step 5: header fields appended to every copy (name, value).
    pub add_headers: Vec<(String, String)>,
    /// Header fields removed from every copy (all fields of each name).
    pub remove_headers: Vec<String>,
    /// How the targets are tried.
    pub forking: Forking,
    /// §16.6 step 11: run Timer C on INVITE branches (default on).
    pub timer_c: bool,
    /// When every branch failed and no target is left, report
    /// [`ProxyEvent::BranchesExhausted`](super::ProxyEvent::BranchesExhausted) and wait for
    /// the application (forward to more targets, respond, or
    /// [`send_best`](super::Proxy::send_best)) instead of sending the best response at once.
    /// An I-CSCF trying another S-CSCF uses this.
    pub hold_final: bool,
    /// Hand every response due upstream to the application as
    /// [`ProxyEvent::Response`](super::ProxyEvent::Response) instead of sending it; the
    /// application edits it and passes it to
    /// [`send_upstream`](super::Proxy::send_upstream).
    pub review_responses: bool,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        ForwardOptions {
            record_route: None,
            add_headers: Vec::new(),
            remove_headers: Vec::new(),
            forking: Forking::ByQValue,
            timer_c: true,
            hold_final: false,
            review_responses: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(user: &str, q: Option<u16>) -> Target<&'static str> {
        let mut target = Target::new(Uri::parse(&format!("sip:{user}@h")).unwrap(), "x");
        target.q = q;
        target
    }

    fn users(groups: &[Vec<Target<&'static str>>]) -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|t| t.uri.user().unwrap_or("").to_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn q_values_order_groups_and_equal_q_forks_in_parallel() {
        let groups = Forking::ByQValue.groups(vec![
            t("low", Some(100)),
            t("a", Some(800)),
            t("default", None),
            t("b", Some(800)),
        ]);
        assert_eq!(
            users(&groups),
            vec![vec!["default"], vec!["a", "b"], vec!["low"]]
        );
        assert_eq!(
            users(&Forking::Serial.groups(vec![t("x", None), t("y", None)])),
            vec![vec!["x"], vec!["y"]]
        );
        assert_eq!(
            users(&Forking::Parallel.groups(vec![t("x", Some(1)), t("y", None)])),
            vec![vec!["x", "y"]]
        );
    }

    #[test]
    fn next_hop_is_pushed_route_then_route_set_then_target() {
        let na = |s: &str| NameAddr::parse(s).unwrap();
        let target = t("bob", None);
        let route = vec![na("<sip:scscf.example.com;lr>")];
        assert_eq!(target.next_hop_uri(&[]).to_string(), "sip:bob@h");
        assert_eq!(
            target.next_hop_uri(&route).to_string(),
            "sip:scscf.example.com;lr"
        );
        let pushed = target
            .clone()
            .with_route(vec![na("<sip:pcscf.example.com;lr>")]);
        assert_eq!(
            pushed.next_hop_uri(&route).to_string(),
            "sip:pcscf.example.com;lr"
        );
    }
}
