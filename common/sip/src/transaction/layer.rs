//! The transaction layer: many transactions, message matching and one timer schedule.
//!
//! RFC 3261 §17 places the transaction layer between the transport and the transaction user
//! (TU). This struct is that layer, sans-IO: the transport hands it what arrived
//! ([`TransactionLayer::handle_message`]) and drains [`Transmit`]s; the TU starts client
//! transactions ([`TransactionLayer::send_request`]), answers server transactions
//! ([`TransactionLayer::send_response`]) and drains [`Event`]s; whoever owns the clock calls
//! [`TransactionLayer::handle_timeout`] at [`TransactionLayer::poll_timeout`].
//!
//! `A` is whatever names the far end for the transport (a socket address, a flow token…);
//! client transactions send to the destination the TU chose (after RFC 3263 resolution),
//! server transactions answer to the source of the request, and the transport applies §18.2.2
//! (received/rport, the connection the request came on).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use super::key::{to_tag, ClientKey, ServerKey};
use super::{
    InviteClient, InviteServer, NonInviteClient, NonInviteServer, Timer, TimerConfig,
    TransactionError, TransactionId, TuEvent,
};
use crate::{Message, Method};

/// A message for the transport to send.
#[derive(Debug, Clone)]
pub struct Transmit<A> {
    /// The transaction that sends it (for [`TransactionLayer::handle_transport_error`]);
    /// `None` for messages sent with [`TransactionLayer::send_stateless`].
    pub transaction: Option<TransactionId>,
    pub destination: A,
    pub message: Message,
}

/// What the layer tells the transaction user.
#[derive(Debug, Clone)]
pub enum Event<A> {
    /// A request created a new server transaction (§17.2); answer it with
    /// [`TransactionLayer::send_response`]. For a CANCEL, `cancels` names the INVITE server
    /// transaction it matches (§9.2), whatever its state: the TU answers the CANCEL 200 and,
    /// if that INVITE is still Proceeding, the INVITE 487. `None` means no INVITE matches and
    /// the TU answers 481.
    Request {
        id: TransactionId,
        request: Message,
        source: A,
        cancels: Option<TransactionId>,
    },
    /// A response for a client transaction (1xx, the first final, and per RFC 6026 every 2xx
    /// retransmission or forked 2xx while the INVITE client is Accepted).
    Response {
        id: TransactionId,
        response: Message,
    },
    /// An ACK that is the TU's business: the ACK for a 2xx has its own branch and matches no
    /// transaction (§17.2.3, §13.3.1.4), or it matched an Accepted INVITE server transaction
    /// (RFC 6026 §7.1), which `id` then names.
    Ack {
        id: Option<TransactionId>,
        ack: Message,
        source: A,
    },
    /// A response that matched no client transaction; §18.1.2 passes it to the core (a
    /// proxy forwards such 2xx statelessly, a UAC re-ACKs 2xx retransmissions).
    StrayResponse { response: Message, source: A },
    /// Timer B or F fired on a client transaction (the TU synthesizes a 408, §8.1.3.1),
    /// Timer H on an INVITE server transaction (the ACK never arrived, §17.2.1), or a
    /// proxy's Timer C (§16.8; the transaction stays alive for the CANCEL).
    Timeout { id: TransactionId, timer: Timer },
    /// The transport could not send for this transaction (§18.4).
    TransportError { id: TransactionId },
    /// The transaction reached Terminated and was removed from the layer.
    Terminated { id: TransactionId },
}

/// The four kinds of transaction the layer runs.
#[derive(Debug)]
enum Machine {
    InviteClient(InviteClient),
    NonInviteClient(NonInviteClient),
    InviteServer(InviteServer),
    NonInviteServer(NonInviteServer),
}

/// Forwards a method call to whichever machine is inside.
macro_rules! each_machine {
    ($machine:expr, $m:ident => $body:expr) => {
        match $machine {
            Machine::InviteClient($m) => $body,
            Machine::NonInviteClient($m) => $body,
            Machine::InviteServer($m) => $body,
            Machine::NonInviteServer($m) => $body,
        }
    };
}

impl Machine {
    fn poll_transmit(&mut self) -> Option<Message> {
        each_machine!(self, m => m.poll_transmit())
    }
    fn poll_event(&mut self) -> Option<TuEvent> {
        each_machine!(self, m => m.poll_event())
    }
    fn poll_timeout(&self) -> Option<Instant> {
        each_machine!(self, m => m.poll_timeout())
    }
    fn handle_timeout(&mut self, now: Instant) {
        each_machine!(self, m => m.handle_timeout(now))
    }
    fn handle_transport_error(&mut self, now: Instant) {
        each_machine!(self, m => m.handle_transport_error(now))
    }
    fn is_terminated(&self) -> bool {
        each_machine!(self, m => m.is_terminated())
    }
}

/// Where the layer's indexes point at an entry from.
#[derive(Debug)]
enum EntryKeys {
    Client(ClientKey),
    /// A server transaction is found under its request's key, plus (RFC 2543 INVITEs only)
    /// one alias per To tag it answered with, since the ACK carries that tag (§17.2.3).
    Server(Vec<ServerKey>),
}

#[derive(Debug)]
struct Entry<A> {
    machine: Machine,
    /// The client's destination or the server's request source.
    peer: A,
    keys: EntryKeys,
    /// The deadline this entry has in the layer's schedule.
    scheduled: Option<Instant>,
}

/// Owns the transactions of one SIP element; see the module docs.
#[derive(Debug)]
pub struct TransactionLayer<A> {
    config: TimerConfig,
    next_id: u64,
    entries: HashMap<TransactionId, Entry<A>>,
    clients: HashMap<ClientKey, TransactionId>,
    servers: HashMap<ServerKey, TransactionId>,
    /// Every entry's next deadline, ordered, so `poll_timeout` is the first element.
    schedule: BTreeSet<(Instant, TransactionId)>,
    transmits: VecDeque<Transmit<A>>,
    events: VecDeque<Event<A>>,
}

impl<A: Clone> TransactionLayer<A> {
    pub fn new(config: TimerConfig) -> Self {
        TransactionLayer {
            config,
            next_id: 0,
            entries: HashMap::new(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            schedule: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// How many transactions are alive.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, id: TransactionId) -> bool {
        self.entries.contains_key(&id)
    }

    /// The INVITE client transaction `id`, to inspect its state.
    pub fn invite_client(&self, id: TransactionId) -> Option<&InviteClient> {
        match &self.entries.get(&id)?.machine {
            Machine::InviteClient(m) => Some(m),
            _ => None,
        }
    }

    pub fn non_invite_client(&self, id: TransactionId) -> Option<&NonInviteClient> {
        match &self.entries.get(&id)?.machine {
            Machine::NonInviteClient(m) => Some(m),
            _ => None,
        }
    }

    pub fn invite_server(&self, id: TransactionId) -> Option<&InviteServer> {
        match &self.entries.get(&id)?.machine {
            Machine::InviteServer(m) => Some(m),
            _ => None,
        }
    }

    pub fn non_invite_server(&self, id: TransactionId) -> Option<&NonInviteServer> {
        match &self.entries.get(&id)?.machine {
            Machine::NonInviteServer(m) => Some(m),
            _ => None,
        }
    }

    /// The TU starts a client transaction for `request` (§17.1), sent to `destination`.
    ///
    /// The request must carry a top Via with a fresh RFC 3261 branch (§8.1.1.7) and a CSeq.
    /// ACK is refused: the INVITE client transaction builds the ACK for non-2xx, and the TU
    /// sends the ACK for 2xx with [`send_stateless`](Self::send_stateless).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        destination: A,
        reliable: bool,
    ) -> Result<TransactionId, TransactionError> {
        let key = ClientKey::from_request(&request)?;
        if self.clients.contains_key(&key) {
            return Err(TransactionError::DuplicateTransaction {
                branch: key.branch,
                method: key.method.as_str().to_owned(),
            });
        }
        let machine = if key.method == Method::INVITE {
            Machine::InviteClient(InviteClient::new(now, request, reliable, self.config)?)
        } else {
            Machine::NonInviteClient(NonInviteClient::new(now, request, reliable, self.config)?)
        };
        let id = self.allocate_id();
        self.clients.insert(key.clone(), id);
        self.entries.insert(
            id,
            Entry {
                machine,
                peer: destination,
                keys: EntryKeys::Client(key),
                scheduled: None,
            },
        );
        self.drain(id);
        Ok(id)
    }

    /// A stateful proxy starts Timer C on INVITE client transaction `id` (§16.6 step 11);
    /// see [`InviteClient::start_timer_c`].
    pub fn start_timer_c(
        &mut self,
        now: Instant,
        id: TransactionId,
    ) -> Result<(), TransactionError> {
        match self.entries.get_mut(&id).map(|entry| &mut entry.machine) {
            Some(Machine::InviteClient(m)) => m.start_timer_c(now),
            _ => return Err(TransactionError::UnknownTransaction(id)),
        }
        self.drain(id);
        Ok(())
    }

    /// The TU answers server transaction `id` (§17.2.1, §17.2.2).
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Message,
    ) -> Result<(), TransactionError> {
        let entry = self
            .entries
            .get_mut(&id)
            .ok_or(TransactionError::UnknownTransaction(id))?;
        match &mut entry.machine {
            Machine::InviteServer(m) => {
                // An RFC 2543 ACK for a non-2xx carries the To tag of this response.
                let alias = match &entry.keys {
                    EntryKeys::Server(keys) => keys
                        .first()
                        .and_then(|key| key.with_to_tag(to_tag(&response)))
                        .filter(|alias| !keys.contains(alias)),
                    EntryKeys::Client(_) => None,
                };
                m.send_response(now, response)?;
                if let (Some(alias), EntryKeys::Server(keys)) = (alias, &mut entry.keys) {
                    keys.push(alias.clone());
                    self.servers.insert(alias, id);
                }
            }
            Machine::NonInviteServer(m) => m.send_response(now, response)?,
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => {
                return Err(TransactionError::UnknownTransaction(id))
            }
        }
        self.drain(id);
        Ok(())
    }

    /// Queues a message outside any transaction: the ACK for a 2xx (§13.2.2.4), a 2xx
    /// retransmission by a UAS core, or a stateless proxy's forwarding.
    pub fn send_stateless(&mut self, destination: A, message: Message) {
        self.transmits.push_back(Transmit {
            transaction: None,
            destination,
            message,
        });
    }

    /// The transport delivers a message that arrived from `source`; `reliable` says whether
    /// it came over a reliable transport, which fixes the timers of a new server transaction.
    ///
    /// Errors are for messages that cannot be matched at all (no Via, no CSeq…); for a
    /// request the transport answers statelessly with the error's
    /// [`status`](TransactionError::status) if it can, a response is dropped
    /// (§18.1.2).
    pub fn handle_message(
        &mut self,
        now: Instant,
        message: Message,
        source: A,
        reliable: bool,
    ) -> Result<(), TransactionError> {
        if message.is_request() {
            self.handle_request(now, message, source, reliable)
        } else {
            self.handle_response(now, message, source)
        }
    }

    /// A response arrived (§17.1.3 matching, §18.1.2 for those that match nothing).
    fn handle_response(
        &mut self,
        now: Instant,
        response: Message,
        source: A,
    ) -> Result<(), TransactionError> {
        let key = ClientKey::from_response(&response)?;
        let Some(&id) = self.clients.get(&key) else {
            self.events
                .push_back(Event::StrayResponse { response, source });
            return Ok(());
        };
        if let Some(entry) = self.entries.get_mut(&id) {
            match &mut entry.machine {
                Machine::InviteClient(m) => m.handle_response(now, response)?,
                Machine::NonInviteClient(m) => m.handle_response(now, response)?,
                Machine::InviteServer(_) | Machine::NonInviteServer(_) => {}
            }
        }
        self.drain(id);
        Ok(())
    }

    /// A request arrived (§17.2.3 matching; a new server transaction otherwise).
    fn handle_request(
        &mut self,
        now: Instant,
        request: Message,
        source: A,
        reliable: bool,
    ) -> Result<(), TransactionError> {
        let key = ServerKey::from_request(&request)?;
        let is_ack = request.method() == Some(&Method::ACK);
        if let Some(&id) = self.servers.get(&key) {
            if let Some(entry) = self.entries.get_mut(&id) {
                match &mut entry.machine {
                    Machine::InviteServer(m) => m.handle_request(now, request)?,
                    Machine::NonInviteServer(m) => m.handle_request(now, request),
                    Machine::InviteClient(_) | Machine::NonInviteClient(_) => {}
                }
            }
            self.drain(id);
            return Ok(());
        }
        if is_ack {
            self.events.push_back(Event::Ack {
                id: None,
                ack: request,
                source,
            });
            return Ok(());
        }
        let cancels = if request.method() == Some(&Method::CANCEL) {
            // §9.2: the CANCEL matches the INVITE server transaction its key names.
            key.cancelled_invite()
                .and_then(|invite| self.servers.get(&invite).copied())
                .filter(|id| self.invite_server(*id).is_some())
        } else {
            None
        };
        let machine = if request.method() == Some(&Method::INVITE) {
            Machine::InviteServer(InviteServer::new(
                now,
                request.clone(),
                reliable,
                self.config,
            )?)
        } else {
            Machine::NonInviteServer(NonInviteServer::new(
                now,
                request.clone(),
                reliable,
                self.config,
            )?)
        };
        let id = self.allocate_id();
        self.servers.insert(key.clone(), id);
        self.entries.insert(
            id,
            Entry {
                machine,
                peer: source.clone(),
                keys: EntryKeys::Server(vec![key]),
                scheduled: None,
            },
        );
        self.events.push_back(Event::Request {
            id,
            request,
            source,
            cancels,
        });
        self.drain(id);
        Ok(())
    }

    /// The transport failed to send a [`Transmit`] of transaction `id` (§18.4).
    pub fn handle_transport_error(&mut self, now: Instant, id: TransactionId) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.machine.handle_transport_error(now);
            self.drain(id);
        }
    }

    /// Fires every timer due at `now`, across all transactions.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<TransactionId> = self
            .schedule
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.machine.handle_timeout(now);
            }
            self.drain(id);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.schedule.first().map(|(at, _)| *at)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit<A>> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event<A>> {
        self.events.pop_front()
    }

    fn allocate_id(&mut self) -> TransactionId {
        self.next_id += 1;
        TransactionId(self.next_id)
    }

    /// Moves transaction `id`'s output into the layer's queues, reschedules it, and removes
    /// it once Terminated.
    fn drain(&mut self, id: TransactionId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        while let Some(message) = entry.machine.poll_transmit() {
            self.transmits.push_back(Transmit {
                transaction: Some(id),
                destination: entry.peer.clone(),
                message,
            });
        }
        while let Some(event) = entry.machine.poll_event() {
            self.events.push_back(match event {
                TuEvent::Response(response) => Event::Response { id, response },
                TuEvent::Ack(ack) => Event::Ack {
                    id: Some(id),
                    ack,
                    source: entry.peer.clone(),
                },
                TuEvent::Timeout(timer) => Event::Timeout { id, timer },
                TuEvent::TransportError => Event::TransportError { id },
            });
        }
        let deadline = entry.machine.poll_timeout();
        if deadline != entry.scheduled {
            if let Some(old) = entry.scheduled {
                self.schedule.remove(&(old, id));
            }
            if let Some(new) = deadline {
                self.schedule.insert((new, id));
            }
            entry.scheduled = deadline;
        }
        if entry.machine.is_terminated() {
            if let Some(entry) = self.entries.remove(&id) {
                if let Some(at) = entry.scheduled {
                    self.schedule.remove(&(at, id));
                }
                match entry.keys {
                    EntryKeys::Client(key) => {
                        self.clients.remove(&key);
                    }
                    EntryKeys::Server(keys) => {
                        for key in keys {
                            self.servers.remove(&key);
                        }
                    }
                }
            }
            self.events.push_back(Event::Terminated { id });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::{request, request_with_via, response, secs};
    use crate::transaction::{build_ack_for_non_2xx, InviteServerState};

    type Layer = TransactionLayer<&'static str>;

    fn layer() -> Layer {
        TransactionLayer::new(TimerConfig::default())
    }

    fn events(layer: &mut Layer) -> Vec<Event<&'static str>> {
        std::iter::from_fn(|| layer.poll_event()).collect()
    }

    fn transmits(layer: &mut Layer) -> Vec<Transmit<&'static str>> {
        std::iter::from_fn(|| layer.poll_transmit()).collect()
    }

    /// Delivers a request and returns the id of the server transaction it created.
    fn new_server(layer: &mut Layer, now: Instant, request: Message) -> TransactionId {
        layer.handle_message(now, request, "uac", false).unwrap();
        match events(layer).as_slice() {
            [Event::Request { id, .. }] => *id,
            other => panic!("expected one Request event, got {other:?}"),
        }
    }

    #[test]
    fn retransmitted_request_is_absorbed_and_answered_with_last_response() {
        let t0 = Instant::now();
        let mut l = layer();
        let req = request("OPTIONS", "z9hG4bKo1");
        let id = new_server(&mut l, t0, req.clone());
        l.send_response(t0, id, response(&req, 200, Some("s")))
            .unwrap();
        let sent = transmits(&mut l);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].destination, "uac");
        assert_eq!(sent[0].transaction, Some(id));

        l.handle_message(t0 + secs(1), req, "uac", false).unwrap();
        assert!(
            events(&mut l).is_empty(),
            "the TU never sees the retransmission"
        );
        let again = transmits(&mut l);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].message.to_bytes(), sent[0].message.to_bytes());
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn same_branch_different_sent_by_is_a_different_transaction() {
        let t0 = Instant::now();
        let mut l = layer();
        let a = request_with_via("OPTIONS", "SIP/2.0/UDP a.example.com;branch=z9hG4bKsame");
        let b = request_with_via("OPTIONS", "SIP/2.0/UDP b.example.com;branch=z9hG4bKsame");
        let first = new_server(&mut l, t0, a);
        let second = new_server(&mut l, t0, b);
        assert_ne!(first, second);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn cancel_matches_the_invite_server_transaction() {
        let t0 = Instant::now();
        let mut l = layer();
        let invite = request("INVITE", "z9hG4bKcall");
        let invite_id = new_server(&mut l, t0, invite);
        let cancel = request("CANCEL", "z9hG4bKcall");
        l.handle_message(t0 + secs(1), cancel, "uac", false)
            .unwrap();
        let evs = events(&mut l);
        let [Event::Request {
            id: cancel_id,
            cancels,
            request: received,
            ..
        }] = evs.as_slice()
        else {
            panic!("expected the CANCEL as a new request: {evs:?}");
        };
        assert_eq!(received.method(), Some(&Method::CANCEL));
        assert_eq!(*cancels, Some(invite_id));
        assert_ne!(*cancel_id, invite_id, "CANCEL has its own transaction");
        assert!(l.non_invite_server(*cancel_id).is_some());

        // A CANCEL for an unknown branch matches nothing: the TU answers 481.
        l.handle_message(t0, request("CANCEL", "z9hG4bKother"), "uac", false)
            .unwrap();
        assert!(matches!(
            events(&mut l).as_slice(),
            [Event::Request { cancels: None, .. }]
        ));
    }

    #[test]
    fn ack_for_non_2xx_matches_invite_and_ack_for_2xx_goes_to_tu() {
        let t0 = Instant::now();
        let mut l = layer();
        let invite = request("INVITE", "z9hG4bKi");
        let id = new_server(&mut l, t0, invite.clone());
        let busy = response(&invite, 486, Some("t"));
        l.send_response(t0, id, busy.clone()).unwrap();
        let ack = build_ack_for_non_2xx(&invite, &busy).unwrap();
        l.handle_message(t0 + secs(1), ack, "uac", false).unwrap();
        assert!(events(&mut l).is_empty());
        assert_eq!(
            l.invite_server(id).map(|s| s.state()),
            Some(InviteServerState::Confirmed)
        );

        // An ACK for a 2xx carries a new branch and matches no transaction.
        let ack_2xx = request("ACK", "z9hG4bKnew");
        l.handle_message(t0 + secs(1), ack_2xx, "uac", false)
            .unwrap();
        assert!(matches!(
            events(&mut l).as_slice(),
            [Event::Ack { id: None, .. }]
        ));
    }

    #[test]
    fn rfc2543_requests_match_without_magic_cookie() {
        let t0 = Instant::now();
        let mut l = layer();
        let via = "SIP/2.0/UDP old.example.com;branch=1234";
        let invite = request_with_via("INVITE", via);
        let id = new_server(&mut l, t0, invite.clone());
        let _ = transmits(&mut l);

        // The identical retransmission matches (100 Trying re-sent, no new event).
        l.handle_message(t0 + secs(1), invite.clone(), "uac", false)
            .unwrap();
        assert!(events(&mut l).is_empty());
        assert_eq!(transmits(&mut l).len(), 1);

        // Same Via but another Call-ID is another transaction.
        let mut other = invite.clone();
        other
            .headers_mut()
            .set("Call-ID", "different@old.example.com");
        let other_id = new_server(&mut l, t0, other);
        assert_ne!(other_id, id);

        // The ACK carries the To tag of the 404 and is matched to the INVITE (§17.2.3).
        let not_found = response(&invite, 404, Some("srv-tag"));
        l.send_response(t0 + secs(1), id, not_found.clone())
            .unwrap();
        let ack = build_ack_for_non_2xx(&invite, &not_found).unwrap();
        l.handle_message(t0 + secs(2), ack, "uac", false).unwrap();
        assert!(events(&mut l).is_empty());
        assert_eq!(
            l.invite_server(id).map(|s| s.state()),
            Some(InviteServerState::Confirmed)
        );

        // Timer I ends it and every key (including the To-tag alias) is released.
        l.handle_timeout(t0 + secs(7));
        assert!(matches!(
            events(&mut l).as_slice(),
            [Event::Terminated { id: done }] if *done == id
        ));
        assert!(!l.contains(id));
        assert!(l.servers.values().all(|v| *v != id));
    }

    #[test]
    fn rfc2543_cancel_matches_invite() {
        let t0 = Instant::now();
        let mut l = layer();
        let via = "SIP/2.0/UDP old.example.com";
        let invite_id = new_server(&mut l, t0, request_with_via("INVITE", via));
        l.handle_message(t0, request_with_via("CANCEL", via), "uac", false)
            .unwrap();
        assert!(matches!(
            events(&mut l).as_slice(),
            [Event::Request { cancels: Some(c), .. }] if *c == invite_id
        ));
    }

    #[test]
    fn responses_match_client_transactions_by_branch_and_method() {
        let t0 = Instant::now();
        let mut l = layer();
        let invite = request("INVITE", "z9hG4bKc");
        let id = l.send_request(t0, invite.clone(), "uas", false).unwrap();
        let sent = transmits(&mut l);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].destination, "uas");

        // A 200 to a CANCEL with the same branch does not match the INVITE.
        let cancel = request("CANCEL", "z9hG4bKc");
        let cancel_id = l.send_request(t0, cancel.clone(), "uas", false).unwrap();
        assert_ne!(cancel_id, id);
        let _ = transmits(&mut l);
        l.handle_message(t0, response(&cancel, 200, Some("x")), "uas", false)
            .unwrap();
        let evs = events(&mut l);
        assert!(matches!(evs.first(), Some(Event::Response { id: c, .. }) if *c == cancel_id));

        // An unknown branch is a stray response for the core.
        l.handle_message(
            t0,
            response(&request("INVITE", "z9hG4bKzz"), 200, None),
            "uas",
            false,
        )
        .unwrap();
        assert!(matches!(
            events(&mut l).as_slice(),
            [Event::StrayResponse { .. }]
        ));
    }

    #[test]
    fn duplicate_branch_and_ack_are_refused() {
        let t0 = Instant::now();
        let mut l = layer();
        l.send_request(t0, request("OPTIONS", "z9hG4bKd"), "uas", true)
            .unwrap();
        let err = l
            .send_request(t0, request("OPTIONS", "z9hG4bKd"), "uas", true)
            .unwrap_err();
        assert!(matches!(err, TransactionError::DuplicateTransaction { .. }));
        let err = l
            .send_request(t0, request("ACK", "z9hG4bKa"), "uas", true)
            .unwrap_err();
        assert!(matches!(err, TransactionError::WrongMethod { .. }));
    }

    #[test]
    fn malformed_requests_map_to_400() {
        let t0 = Instant::now();
        let mut l = layer();
        let mut req = request("OPTIONS", "z9hG4bKm");
        req.headers_mut().remove("Via");
        let err = l.handle_message(t0, req, "uac", false).unwrap_err();
        assert_eq!(err, TransactionError::MissingHeader("Via"));
        assert_eq!(err.status(), crate::StatusCode::BAD_REQUEST);

        let mut req = request("OPTIONS", "z9hG4bKm");
        req.headers_mut().set("CSeq", "1 INVITE");
        let err = l.handle_message(t0, req, "uac", false).unwrap_err();
        assert!(matches!(err, TransactionError::CSeqMethodMismatch { .. }));

        let mut req = request("OPTIONS", "z9hG4bKm");
        req.headers_mut().set("CSeq", "4294967295 OPTIONS");
        let err = l.handle_message(t0, req, "uac", false).unwrap_err();
        assert!(matches!(
            err,
            TransactionError::MalformedHeader { header: "CSeq", .. }
        ));
        assert!(l.is_empty());
    }

    #[test]
    fn one_schedule_across_transactions_and_timeouts_reported() {
        let t0 = Instant::now();
        let mut l = layer();
        let a = l
            .send_request(t0, request("OPTIONS", "z9hG4bK1"), "uas", true)
            .unwrap();
        let b = l
            .send_request(t0 + secs(10), request("OPTIONS", "z9hG4bK2"), "uas", true)
            .unwrap();
        assert_eq!(l.poll_timeout(), Some(t0 + secs(32)));
        l.handle_timeout(t0 + secs(32));
        let evs = events(&mut l);
        assert!(matches!(
            evs.as_slice(),
            [Event::Timeout { id: x, timer: Timer::F }, Event::Terminated { id: y }] if *x == a && *y == a
        ));
        assert_eq!(l.poll_timeout(), Some(t0 + secs(42)));
        assert!(l.contains(b));
    }

    #[test]
    fn transport_error_is_reported_for_the_transaction() {
        let t0 = Instant::now();
        let mut l = layer();
        let id = l
            .send_request(t0, request("MESSAGE", "z9hG4bKte"), "uas", false)
            .unwrap();
        l.handle_transport_error(t0, id);
        let evs = events(&mut l);
        assert!(matches!(
            evs.as_slice(),
            [Event::TransportError { id: x }, Event::Terminated { .. }] if *x == id
        ));
        assert!(l.is_empty());
        assert_eq!(l.poll_timeout(), None);
    }
}
