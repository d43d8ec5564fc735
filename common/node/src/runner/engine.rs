//! The sans-IO heart of the runner: one [`Function`] on one RFC 3261 §16 [`Proxy`], fed with
//! the bytes a transport received and drained of what to send.
//!
//! Both shells use it: the tokio [`runner`](super) over real sockets and the in-memory
//! `testing` network (feature `testing`) on virtual time, so a flow tested in memory runs the
//! same parsing, overload and dispatch code as the binary.
//!
//! What it adds around the function:
//! - parsing (RFC 3261 §7) with a stateless 400 (or 505/513) for a request that does not parse
//!   but whose Via can still be read (§8.2.2, §16.3 step 1);
//! - `received`/`rport` on the top Via of every request (§18.2.1, RFC 3581 §4);
//! - overload protection (RFC 3261 §21.5.4): a bounded number of response contexts; new
//!   out-of-dialog requests beyond it are answered 503 with Retry-After;
//! - queued Cx requests from [`Effects`] for the shell to send.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use ims_sip::proxy::{ContextId, Proxy, ProxyEvent};
use ims_sip::transaction::{TransactionId, Transmit};
use ims_sip::{Limits, Message, Method, ParseError, StatusCode};
use ims_transport::Target;

use crate::function::{CxOutcome, CxToken, Effects, Function};

/// Settings of an [`Engine`] besides its proxy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Parser limits applied to every received message.
    pub limits: Limits,
    /// Response contexts handed to the function at once. Beyond it new out-of-dialog
    /// requests are answered 503 by the engine; in-dialog requests (To tag present) still
    /// pass, since they end sessions that already hold resources. At twice this number
    /// every request except ACK and CANCEL is refused statelessly, before the proxy creates
    /// any state: that is the hard memory bound.
    pub max_contexts: usize,
    /// The Retry-After value (seconds, RFC 3261 §20.33) of those 503s.
    pub retry_after_secs: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            limits: Limits::DEFAULT,
            max_contexts: 10_000,
            retry_after_secs: 5,
        }
    }
}

/// One function, its proxy and the bookkeeping between them; see the [module docs](self).
pub struct Engine<F> {
    function: F,
    proxy: Proxy<Target>,
    settings: EngineSettings,
    /// Contexts handed to the function and not finished yet, with whether their final
    /// response went out.
    accepted: HashMap<ContextId, Accepted>,
    /// Accepted contexts by the key of their server transaction (see [`response_key`]).
    by_key: HashMap<String, ContextId>,
    /// Shutting down: new out-of-dialog requests are refused, the rest completes.
    draining: bool,
    cx_requests: VecDeque<(CxToken, ims_diameter::Message)>,
}

impl<F: Function> Engine<F> {
    pub fn new(function: F, proxy: Proxy<Target>, settings: EngineSettings) -> Self {
        Engine {
            function,
            proxy,
            settings,
            accepted: HashMap::new(),
            by_key: HashMap::new(),
            draining: false,
            cx_requests: VecDeque::new(),
        }
    }

    pub fn function(&self) -> &F {
        &self.function
    }

    pub fn function_mut(&mut self) -> &mut F {
        &mut self.function
    }

    pub fn proxy(&self) -> &Proxy<Target> {
        &self.proxy
    }

    /// Contexts the function is working on.
    pub fn open_contexts(&self) -> usize {
        self.accepted.len()
    }

    /// Starts a graceful shutdown: from now on new out-of-dialog requests get 503.
    pub fn start_draining(&mut self) {
        self.draining = true;
    }

    /// Whether every context handed to the function has sent its final response (the
    /// transactions may still linger to absorb retransmissions; a shutdown need not wait
    /// for them).
    pub fn is_idle(&self) -> bool {
        self.accepted.values().all(|a| a.answered)
    }

    /// Bytes received from `remote` (one datagram, or one message framed on a stream);
    /// `source` is where answers go. Never fails: bad input is answered or logged.
    pub fn handle_bytes(
        &mut self,
        now: Instant,
        data: Bytes,
        source: Target,
        stream: bool,
        remote: SocketAddr,
    ) {
        let parsed = if stream {
            Message::parse_stream(data.clone(), &self.settings.limits)
        } else {
            Message::parse_bytes(data.clone(), &self.settings.limits)
        };
        let mut message = match parsed {
            Ok(message) => message,
            Err(error) => {
                self.reject_unparsable(&data, &error, source, remote);
                return;
            }
        };
        if message.is_request() {
            set_received(&mut message, remote);
            if self.over_hard_limit(&message) {
                self.refuse_stateless(&message, source);
                return;
            }
        }
        if let Err(error) = self.proxy.handle_message(now, message, source, stream) {
            tracing::debug!(%remote, %error, "message refused by the transaction layer");
        }
        self.process(now);
    }

    /// A transport event other than a message (a flow opened or closed, a keep-alive).
    pub fn handle_transport_event(&mut self, now: Instant, event: &ims_transport::Event) {
        let mut effects = Effects::default();
        self.function
            .handle_transport_event(now, &mut self.proxy, event, &mut effects);
        self.take_effects(effects);
        self.process(now);
    }

    /// The transport could not send a [`Transmit`] of `transaction` (RFC 3261 §18.4).
    pub fn handle_transport_error(&mut self, now: Instant, transaction: TransactionId) {
        self.proxy.handle_transport_error(now, transaction);
        self.process(now);
    }

    /// The outcome of a Cx request taken with [`Engine::poll_cx_request`].
    pub fn handle_cx(&mut self, now: Instant, token: CxToken, outcome: CxOutcome) {
        let mut effects = Effects::default();
        self.function
            .handle_cx(now, &mut self.proxy, token, outcome, &mut effects);
        self.take_effects(effects);
        self.process(now);
    }

    /// Runs the proxy's and the function's timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.proxy.poll_timeout().is_some_and(|t| t <= now) {
            self.proxy.handle_timeout(now);
            self.process(now);
        }
        if self.function.poll_timeout().is_some_and(|t| t <= now) {
            let mut effects = Effects::default();
            self.function
                .handle_timeout(now, &mut self.proxy, &mut effects);
            self.take_effects(effects);
            self.process(now);
        }
    }

    /// The earliest timer of the proxy and the function.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.proxy.poll_timeout(), self.function.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<Target>> {
        let transmit = self.proxy.poll_transmit()?;
        if transmit.message.status().is_some_and(StatusCode::is_final) {
            let context = response_key(&transmit.message).and_then(|k| self.by_key.get(&k));
            if let Some(accepted) = context.and_then(|c| self.accepted.get_mut(c)) {
                accepted.answered = true;
            }
        }
        Some(transmit)
    }

    /// The next Cx request the function asked for.
    pub fn poll_cx_request(&mut self) -> Option<(CxToken, ims_diameter::Message)> {
        self.cx_requests.pop_front()
    }

    // ---- internals -------------------------------------------------------------------

    /// Hands every proxy event to the function (or refuses new work when overloaded).
    fn process(&mut self, now: Instant) {
        while let Some(event) = self.proxy.poll_event() {
            let hand_over = match &event {
                ProxyEvent::Request {
                    context, request, ..
                } => {
                    let busy = self.draining || self.accepted.len() >= self.settings.max_contexts;
                    if busy && is_out_of_dialog(request) {
                        self.refuse_context(now, *context);
                        false
                    } else {
                        self.accept(*context, request);
                        true
                    }
                }
                // A refused context finishes too; it was never handed over.
                ProxyEvent::Finished { context } => match self.accepted.remove(context) {
                    Some(accepted) => {
                        if let Some(key) = accepted.key {
                            self.by_key.remove(&key);
                        }
                        true
                    }
                    None => false,
                },
                _ => true,
            };
            if !hand_over {
                continue;
            }
            let mut effects = Effects::default();
            self.function
                .handle_event(now, &mut self.proxy, event, &mut effects);
            self.take_effects(effects);
        }
    }

    fn accept(&mut self, context: ContextId, request: &Message) {
        let key = response_key(request);
        if let Some(key) = &key {
            self.by_key.insert(key.clone(), context);
        }
        self.accepted.insert(
            context,
            Accepted {
                key,
                answered: false,
            },
        );
    }

    fn take_effects(&mut self, effects: Effects) {
        self.cx_requests.extend(effects.cx_requests);
    }

    /// 503 through the context's server transaction, so retransmissions are absorbed.
    fn refuse_context(&mut self, now: Instant, context: ContextId) {
        tracing::warn!(
            open = self.accepted.len(),
            draining = self.draining,
            "overload: refusing a new request with 503"
        );
        let Ok(mut response) = self
            .proxy
            .response(context, StatusCode::SERVICE_UNAVAILABLE)
        else {
            return;
        };
        response
            .headers_mut()
            .push("Retry-After", &self.settings.retry_after_secs.to_string());
        if let Err(error) = self.proxy.respond(now, context, response) {
            tracing::warn!(%error, "could not send the overload 503");
        }
    }

    fn over_hard_limit(&self, request: &Message) -> bool {
        let method = request.method();
        method != Some(&Method::ACK)
            && method != Some(&Method::CANCEL)
            && self.proxy.context_count() >= self.settings.max_contexts.saturating_mul(2)
    }

    fn refuse_stateless(&mut self, request: &Message, source: Target) {
        tracing::warn!(
            contexts = self.proxy.context_count(),
            "overload: hard limit reached, refusing statelessly"
        );
        let mut response = Message::response_to(request, StatusCode::SERVICE_UNAVAILABLE);
        add_to_tag(&mut response);
        response
            .headers_mut()
            .push("Retry-After", &self.settings.retry_after_secs.to_string());
        self.proxy.send_stateless(source, response);
    }

    /// §16.3 step 1 / §21.4.1: a request that does not parse gets 400 (505, 513) with the
    /// parse error as reason phrase, when its Via can still be read; anything else is only
    /// logged (a response or an unreadable request cannot be answered, §18.1.2).
    fn reject_unparsable(
        &mut self,
        data: &[u8],
        error: &ParseError,
        source: Target,
        remote: SocketAddr,
    ) {
        tracing::info!(%remote, %error, "unparsable SIP message");
        let Some(lazy) = salvage_headers(data, &self.settings.limits) else {
            return;
        };
        if !lazy.is_request() || lazy.method() == Some(&Method::ACK) || lazy.top_via().is_err() {
            return;
        }
        let status = error.status();
        let mut response = Message::response_to(&lazy, status);
        response.set_reason(&reason_phrase(status, error));
        add_to_tag(&mut response);
        self.proxy.send_stateless(source, response);
    }
}

/// The header section of a message that failed to parse, indexed without checks so that
/// the headers a response copies (§8.2.6) can be read. The body and Content-Length are
/// dropped first: a wrong Content-Length is a common reason for the failure.
fn salvage_headers(data: &[u8], limits: &Limits) -> Option<Message> {
    let end = memchr_crlfcrlf(data)?;
    let head = std::str::from_utf8(data.get(..end)?).ok()?;
    let mut text = String::with_capacity(head.len() + 24);
    for line in head.split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l") {
            continue;
        }
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    Message::parse_lazy(text.as_bytes(), limits).ok()
}

fn memchr_crlfcrlf(data: &[u8]) -> Option<usize> {
    data.windows(4).position(|w| w == b"\r\n\r\n")
}

/// An accepted context.
#[derive(Debug)]
struct Accepted {
    key: Option<String>,
    answered: bool,
}

/// What ties a response to its request's server transaction (RFC 3261 §17.2.3): the top
/// Via branch and sent-by, and the CSeq method (so the 200 to a CANCEL, which shares the
/// INVITE's branch, is not taken for the INVITE's final response).
fn response_key(message: &Message) -> Option<String> {
    let via = message.top_via().ok()?;
    let method = message.cseq().ok()?.method;
    Some(format!(
        "{}|{}|{:?}|{method}",
        via.branch()?,
        via.host,
        via.port
    ))
}

/// A request outside any dialog (no To tag, RFC 3261 §12): what overload control refuses.
fn is_out_of_dialog(request: &Message) -> bool {
    request.to().map_or(true, |to| to.tag().is_none())
}

/// `Bad Request - <what failed>`, with characters a reason phrase cannot carry removed.
fn reason_phrase(status: StatusCode, error: &ParseError) -> String {
    let text: String = format!("{} - {}", status.canonical_reason(), error)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    text
}

/// A To tag for a response generated here (§8.2.6.2); a stateless answer needs one that is
/// stable across retransmissions, so it is derived from the request's top Via branch.
fn add_to_tag(response: &mut Message) {
    let has_tag = response.to().is_ok_and(|t| t.tag().is_some());
    let Some(to) = response.headers().get("To").map(str::to_owned) else {
        return;
    };
    if has_tag {
        return;
    }
    let seed = response
        .top_via()
        .ok()
        .and_then(|v| v.branch().map(str::to_owned))
        .unwrap_or_default();
    let tag = format!("{:016x}", fnv1a(seed.as_bytes()));
    response.headers_mut().set("To", &format!("{to};tag={tag}"));
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// RFC 3261 §18.2.1: `received` when the sent-by host is not the source address; RFC 3581
/// §4: an empty `rport` is filled in with the source port.
fn set_received(request: &mut Message, remote: SocketAddr) {
    let Ok(mut via) = request.top_via() else {
        return;
    };
    let source_ip = remote.ip();
    let same_host = match &via.host {
        ims_sip::Host::Ipv4(ip) => std::net::IpAddr::V4(*ip) == source_ip,
        ims_sip::Host::Ipv6(ip) => std::net::IpAddr::V6(*ip) == source_ip,
        ims_sip::Host::Domain(_) => false,
    };
    let wants_rport = via.rport() == Some(None);
    if same_host && !wants_rport {
        return;
    }
    via.set_received(&source_ip.to_string());
    if wants_rport {
        via.set_rport(remote.port());
    }
    let headers = request.headers_mut();
    headers.remove_first_value("Via");
    headers.insert_first("Via", &via.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(via: &str) -> Message {
        let text = format!(
            "OPTIONS sip:x@example.com SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n\
             To: <sip:x@example.com>\r\nFrom: <sip:y@example.com>;tag=1\r\nCall-ID: c\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn received_and_rport_follow_18_2_1_and_rfc3581() {
        let remote: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        let mut m = request("SIP/2.0/UDP ue.example.com;branch=z9hG4bK1;rport");
        set_received(&mut m, remote);
        let via = m.top_via().unwrap();
        assert_eq!(via.received(), Some("192.0.2.7"));
        assert_eq!(via.rport(), Some(Some(4000)));

        let mut same = request("SIP/2.0/UDP 192.0.2.7:4000;branch=z9hG4bK1");
        set_received(&mut same, remote);
        assert_eq!(same.top_via().unwrap().received(), None);
    }

    #[test]
    fn parse_errors_become_reason_phrases() {
        let phrase = reason_phrase(StatusCode::BAD_REQUEST, &ParseError::BadContentLength);
        assert_eq!(phrase, "Bad Request - invalid Content-Length");
        let mut r = Message::response_to(
            &request("SIP/2.0/UDP a;branch=z9hG4bKx"),
            StatusCode::BAD_REQUEST,
        );
        add_to_tag(&mut r);
        let tag = r.to().unwrap().tag().map(str::to_owned);
        assert!(tag.is_some());
        let mut again = Message::response_to(
            &request("SIP/2.0/UDP a;branch=z9hG4bKx"),
            StatusCode::BAD_REQUEST,
        );
        add_to_tag(&mut again);
        assert_eq!(again.to().unwrap().tag().map(str::to_owned), tag);
    }
}
