//! RFC 5626 §4.4.1 keep-alives on the stream flows a [`UeRunner`](crate::runner::UeRunner)
//! opened towards P-CSCFs: a CRLFCRLF ping at a random point of the interval, a CRLF pong
//! expected within the pong timeout, otherwise the flow has failed and the UEs behind it
//! re-register (§4.4.1, §4.2.1 recovery).
//!
//! Sans-IO like the UE: the table takes `now` and answers which pings to send and which
//! flows failed; the runner does the I/O. Flows are per connection, not per UE, since all UEs
//! of a runner share the connection to their P-CSCF. UDP keep-alives (STUN, §4.4.2) and
//! Flow-Timer (§4.4.1: the server's preferred interval) are not implemented.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ims_transport::ConnectionId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Keep-alive timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// Shortest interval between pings.
    pub min_interval: Duration,
    /// Longest interval; each ping is scheduled uniformly between the two.
    pub max_interval: Duration,
    /// How long a pong may take before the flow counts as failed.
    pub pong_timeout: Duration,
}

impl Default for KeepAlive {
    /// RFC 5626 §4.4.1 without Flow-Timer: every 95-120 s, pong within 10 s.
    fn default() -> Self {
        KeepAlive {
            min_interval: Duration::from_secs(95),
            max_interval: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of the keep-alive machinery, shared with the runner's owner.
#[derive(Debug, Default)]
pub struct FlowStats {
    /// Pings sent.
    pub pings_sent: AtomicU64,
    /// Pongs received on tracked flows.
    pub pongs_received: AtomicU64,
    /// Flows declared failed (pong timeout or connection closed).
    pub flows_failed: AtomicU64,
}

impl FlowStats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Flow {
    remote: SocketAddr,
    next_ping: Instant,
    pong_due: Option<Instant>,
}

impl Flow {
    fn deadline(&self) -> Instant {
        self.pong_due
            .map_or(self.next_ping, |p| p.min(self.next_ping))
    }
}

/// What the runner must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowAction {
    /// Send a CRLFCRLF ping on this connection.
    Ping(ConnectionId),
    /// The flow failed: close it, re-register the UEs whose P-CSCF is `remote`.
    Failed {
        /// The connection.
        conn: ConnectionId,
        /// Its peer.
        remote: SocketAddr,
    },
}

/// The flows being kept alive.
#[derive(Debug)]
pub struct FlowTable {
    config: KeepAlive,
    flows: HashMap<ConnectionId, Flow>,
    rng: StdRng,
    stats: std::sync::Arc<FlowStats>,
}

impl FlowTable {
    /// An empty table.
    pub fn new(config: KeepAlive, stats: std::sync::Arc<FlowStats>) -> FlowTable {
        FlowTable {
            config,
            flows: HashMap::new(),
            rng: StdRng::from_os_rng(),
            stats,
        }
    }

    fn interval(&mut self) -> Duration {
        let (lo, hi) = (
            self.config.min_interval,
            self.config.max_interval.max(self.config.min_interval),
        );
        let span = u64::try_from((hi - lo).as_millis()).unwrap_or(u64::MAX);
        lo + Duration::from_millis(self.rng.random_range(0..=span))
    }

    /// Starts keeping `conn` alive (no effect if it already is).
    pub fn track(&mut self, now: Instant, conn: ConnectionId, remote: SocketAddr) {
        if self.flows.contains_key(&conn) {
            return;
        }
        let next_ping = now + self.interval();
        self.flows.insert(
            conn,
            Flow {
                remote,
                next_ping,
                pong_due: None,
            },
        );
    }

    /// How many flows are tracked.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// A pong arrived on `conn`.
    pub fn on_pong(&mut self, conn: ConnectionId) {
        if let Some(flow) = self.flows.get_mut(&conn) {
            flow.pong_due = None;
            FlowStats::bump(&self.stats.pongs_received);
        }
    }

    /// `conn` closed; returns its peer if it was a tracked flow (which thereby failed).
    pub fn on_closed(&mut self, conn: ConnectionId) -> Option<SocketAddr> {
        let flow = self.flows.remove(&conn)?;
        FlowStats::bump(&self.stats.flows_failed);
        Some(flow.remote)
    }

    /// When [`FlowTable::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.flows.values().map(Flow::deadline).min()
    }

    /// Pings due at `now` (the pong timer starts) and flows whose pong is overdue (removed).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<FlowAction> {
        let mut actions = Vec::new();
        let due: Vec<ConnectionId> = self
            .flows
            .iter()
            .filter(|(_, f)| f.deadline() <= now)
            .map(|(c, _)| *c)
            .collect();
        for conn in due {
            let interval = self.interval();
            let Some(flow) = self.flows.get_mut(&conn) else {
                continue;
            };
            if flow.pong_due.is_some_and(|p| p <= now) {
                let remote = flow.remote;
                self.flows.remove(&conn);
                FlowStats::bump(&self.stats.flows_failed);
                actions.push(FlowAction::Failed { conn, remote });
            } else if flow.next_ping <= now {
                flow.next_ping = now + interval;
                if flow.pong_due.is_none() {
                    flow.pong_due = Some(now + self.config.pong_timeout);
                }
                FlowStats::bump(&self.stats.pings_sent);
                actions.push(FlowAction::Ping(conn));
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn table() -> (FlowTable, Arc<FlowStats>) {
        let stats = Arc::new(FlowStats::default());
        (FlowTable::new(KeepAlive::default(), stats.clone()), stats)
    }

    #[test]
    fn ping_within_interval_and_pong_keeps_flow() {
        let (mut t, stats) = table();
        let t0 = Instant::now();
        let remote: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        t.track(t0, ConnectionId(7), remote);
        let first = t.poll_timeout().unwrap();
        assert!(first >= t0 + Duration::from_secs(95) && first <= t0 + Duration::from_secs(120));
        assert!(t
            .handle_timeout(first - Duration::from_millis(1))
            .is_empty());
        assert_eq!(
            t.handle_timeout(first),
            vec![FlowAction::Ping(ConnectionId(7))]
        );
        t.on_pong(ConnectionId(7));
        // No failure 10 s later; the next ping comes 95-120 s after the first.
        assert!(t.handle_timeout(first + Duration::from_secs(11)).is_empty());
        assert_eq!(t.len(), 1);
        assert_eq!(stats.pings_sent.load(Ordering::Relaxed), 1);
        assert_eq!(stats.pongs_received.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn missing_pong_fails_the_flow_after_10_s() {
        let (mut t, stats) = table();
        let t0 = Instant::now();
        let remote: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        t.track(t0, ConnectionId(1), remote);
        let ping_at = t.poll_timeout().unwrap();
        assert_eq!(t.handle_timeout(ping_at).len(), 1);
        assert_eq!(t.poll_timeout(), Some(ping_at + Duration::from_secs(10)));
        assert!(t
            .handle_timeout(ping_at + Duration::from_secs(9))
            .is_empty());
        assert_eq!(
            t.handle_timeout(ping_at + Duration::from_secs(10)),
            vec![FlowAction::Failed {
                conn: ConnectionId(1),
                remote
            }]
        );
        assert!(t.is_empty());
        assert_eq!(stats.flows_failed.load(Ordering::Relaxed), 1);
        // A close of an untracked connection is not a flow failure.
        assert_eq!(t.on_closed(ConnectionId(99)), None);
    }
}
