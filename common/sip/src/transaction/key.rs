//! Transaction keys: how a message finds its transaction (RFC 3261 §17.1.3, §17.2.3, §9.2).
//!
//! Only the fields a key compares are parsed (the top Via's branch and sent-by, the CSeq,
//! and for RFC 2543 peers the tags and Call-ID), so a message with an odd but irrelevant
//! header still matches.

use super::TransactionError;
use crate::header::BRANCH_MAGIC_COOKIE;
use crate::{HeaderError, Message, Method, Via};

/// The prefix RFC 3261 §8.1.1.7 puts on every branch, telling RFC 3261 peers from RFC 2543
/// ones.
pub const MAGIC_COOKIE: &str = BRANCH_MAGIC_COOKIE;

/// The key of a client transaction (§17.1.3): the branch of the top Via the client inserted
/// and the CSeq method (so a CANCEL's responses do not match the INVITE with the same branch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub branch: String,
    pub method: Method,
}

impl ClientKey {
    /// The key a request will be matched under; it needs a branch (§8.1.1.7) and a CSeq whose
    /// method equals the request's.
    pub fn from_request(request: &Message) -> Result<ClientKey, TransactionError> {
        let method = request_method(request)?;
        Ok(ClientKey {
            branch: branch_of(&top_via(request)?)?,
            method,
        })
    }

    /// The key a response is matched with: top Via branch and CSeq method.
    pub fn from_response(response: &Message) -> Result<ClientKey, TransactionError> {
        let branch = branch_of(&top_via(response)?)?;
        let (_, method) = cseq_of(response)?;
        Ok(ClientKey { branch, method })
    }
}

/// The key of a server transaction (§17.2.3).
///
/// In both forms the method of an ACK is recorded as INVITE, so the ACK for a non-2xx finds
/// its INVITE transaction; CANCEL keeps its own method and so gets its own transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerKey {
    /// The top Via branch carries the magic cookie: branch, sent-by and method.
    Rfc3261 {
        branch: String,
        /// `host[:port]` with the host lower-cased (host names are case-insensitive).
        sent_by: String,
        method: Method,
    },
    /// RFC 2543 fallback (§17.2.3): Request-URI, To tag, From tag, Call-ID, CSeq and top
    /// Via. For an ACK the To tag is the one the server put in its response, so the layer
    /// indexes an INVITE transaction under each To tag it answered with as well.
    Rfc2543 {
        request_uri: String,
        to_tag: Option<String>,
        from_tag: Option<String>,
        call_id: String,
        cseq: u32,
        method: Method,
        /// The top Via as re-serialised after parsing, so insignificant whitespace differences
        /// do not matter.
        top_via: String,
    },
}

impl ServerKey {
    /// The key of a received request.
    pub fn from_request(request: &Message) -> Result<ServerKey, TransactionError> {
        let method = request_method(request)?;
        let (cseq, _) = cseq_of(request)?;
        // §17.2.3: the ACK for a non-2xx matches the INVITE it acknowledges.
        let method = if method == Method::ACK {
            Method::INVITE
        } else {
            method
        };
        let via = top_via(request)?;
        if let Some(branch) = via.branch().filter(|_| via.has_rfc3261_branch()) {
            let sent_by = match via.port {
                Some(port) => format!("{}:{port}", via.host),
                None => via.host.to_string(),
            };
            return Ok(ServerKey::Rfc3261 {
                branch: branch.to_owned(),
                sent_by: sent_by.to_ascii_lowercase(),
                method,
            });
        }
        let request_uri = request.request_uri().map(|uri| uri.to_string()).ok_or(
            TransactionError::WrongMessageKind {
                expected: "request",
            },
        )?;
        let call_id = request.call_id().map_err(header_error("Call-ID"))?;
        Ok(ServerKey::Rfc2543 {
            request_uri,
            to_tag: to_tag(request),
            from_tag: request
                .from()
                .map_err(header_error("From"))?
                .tag()
                .map(str::to_owned),
            call_id: call_id.trim().to_owned(),
            cseq,
            method,
            top_via: via.to_string(),
        })
    }

    /// For the key of a CANCEL: the key of the INVITE server transaction it cancels (§9.2:
    /// same fields but the method; with RFC 2543 peers the CSeq number is the INVITE's too).
    pub fn cancelled_invite(&self) -> Option<ServerKey> {
        let mut invite = self.clone();
        match &mut invite {
            ServerKey::Rfc3261 { method, .. } | ServerKey::Rfc2543 { method, .. } => {
                if *method != Method::CANCEL {
                    return None;
                }
                *method = Method::INVITE;
            }
        }
        Some(invite)
    }

    /// For an RFC 2543 key: the same key with the To tag a response carries, under which the
    /// ACK for that response will arrive. `None` for RFC 3261 keys (they ignore To).
    pub fn with_to_tag(&self, tag: Option<String>) -> Option<ServerKey> {
        match self {
            ServerKey::Rfc3261 { .. } => None,
            ServerKey::Rfc2543 { .. } => {
                let mut alias = self.clone();
                if let ServerKey::Rfc2543 { to_tag, .. } = &mut alias {
                    *to_tag = tag;
                }
                Some(alias)
            }
        }
    }
}

/// Maps a codec error on `header` to the transaction layer's error.
fn header_error(header: &'static str) -> impl Fn(HeaderError) -> TransactionError {
    move |error| match error {
        HeaderError::Missing(_) => TransactionError::MissingHeader(header),
        source => TransactionError::MalformedHeader { header, source },
    }
}

fn top_via(message: &Message) -> Result<Via, TransactionError> {
    message.top_via().map_err(header_error("Via"))
}

fn branch_of(via: &Via) -> Result<String, TransactionError> {
    via.branch()
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .ok_or(TransactionError::MissingHeader("Via branch"))
}

/// The top Via value as received: the first element of the first Via header field (one
/// field may hold several comma-separated values, §7.3.1). Used for the ACK of §17.1.1.3 and
/// the CANCEL of §9.1, which must equal it; it is checked to parse.
pub(crate) fn top_via_value(message: &Message) -> Result<String, TransactionError> {
    top_via(message)?;
    message
        .headers()
        .values("Via")
        .next()
        .map(|v| v.trim().to_owned())
        .ok_or(TransactionError::MissingHeader("Via"))
}

/// The request method, or an error for a response or when CSeq names another method
/// (§8.1.1.5).
fn request_method(request: &Message) -> Result<Method, TransactionError> {
    let method = request
        .method()
        .cloned()
        .ok_or(TransactionError::WrongMessageKind {
            expected: "request",
        })?;
    let (_, cseq_method) = cseq_of(request)?;
    if cseq_method != method {
        return Err(TransactionError::CSeqMethodMismatch {
            cseq: cseq_method.as_str().to_owned(),
            method: method.as_str().to_owned(),
        });
    }
    Ok(method)
}

/// The CSeq number and method.
pub(crate) fn cseq_of(message: &Message) -> Result<(u32, Method), TransactionError> {
    let cseq = message.cseq().map_err(header_error("CSeq"))?;
    Ok((cseq.seq, cseq.method))
}

/// The `tag` parameter of the To header field, if any (a To that does not parse has none).
pub(crate) fn to_tag(message: &Message) -> Option<String> {
    message.to().ok()?.tag().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::{request, request_with_via, response};

    #[test]
    fn ack_shares_the_invite_key_and_cancel_does_not() {
        let invite = ServerKey::from_request(&request("INVITE", "z9hG4bKk")).unwrap();
        let ack = ServerKey::from_request(&request("ACK", "z9hG4bKk")).unwrap();
        let cancel = ServerKey::from_request(&request("CANCEL", "z9hG4bKk")).unwrap();
        assert_eq!(ack, invite);
        assert_ne!(cancel, invite);
        assert_eq!(cancel.cancelled_invite(), Some(invite.clone()));
        assert_eq!(invite.cancelled_invite(), None);
        assert_eq!(invite.with_to_tag(Some("x".into())), None);
    }

    #[test]
    fn sent_by_host_is_case_insensitive() {
        let a = request_with_via(
            "OPTIONS",
            "SIP/2.0/UDP Host.Example.COM:5060;branch=z9hG4bKc",
        );
        let b = request_with_via(
            "OPTIONS",
            "SIP/2.0/UDP host.example.com:5060;branch=z9hG4bKc",
        );
        assert_eq!(
            ServerKey::from_request(&a).unwrap(),
            ServerKey::from_request(&b).unwrap()
        );
    }

    #[test]
    fn rfc2543_key_uses_dialog_fields() {
        let req = request_with_via("INVITE", "SIP/2.0/UDP old.example.com;branch=1");
        let Ok(ServerKey::Rfc2543 {
            to_tag,
            from_tag,
            call_id,
            cseq,
            method,
            top_via,
            ..
        }) = ServerKey::from_request(&req)
        else {
            panic!("a branch without the magic cookie selects RFC 2543 matching");
        };
        assert_eq!(to_tag, None);
        assert_eq!(from_tag.as_deref(), Some("1928301774"));
        assert_eq!(call_id, "a84b4c76e66710@pc33.atlanta.example.com");
        assert_eq!(cseq, 314159);
        assert_eq!(method, Method::INVITE);
        assert_eq!(top_via, "SIP/2.0/UDP old.example.com;branch=1");
    }

    #[test]
    fn client_key_from_response_uses_cseq_method() {
        let req = request("CANCEL", "z9hG4bKcl");
        let resp = response(&req, 200, Some("t"));
        assert_eq!(
            ClientKey::from_response(&resp).unwrap(),
            ClientKey::from_request(&req).unwrap()
        );
        assert_eq!(to_tag(&resp).as_deref(), Some("t"));
    }

    #[test]
    fn malformed_via_and_cseq_are_errors() {
        let mut req = request("OPTIONS", "z9hG4bKm");
        req.headers_mut().set("Via", "garbage");
        assert!(matches!(
            ServerKey::from_request(&req),
            Err(TransactionError::MalformedHeader { header: "Via", .. })
        ));
        let mut req = request("OPTIONS", "z9hG4bKm");
        req.headers_mut().set("CSeq", "x OPTIONS");
        assert!(matches!(
            ClientKey::from_request(&req),
            Err(TransactionError::MalformedHeader { header: "CSeq", .. })
        ));
    }

    #[test]
    fn a_branch_without_the_cookie_selects_rfc2543() {
        let req = request("OPTIONS", "z9hG4bK");
        assert!(matches!(
            ServerKey::from_request(&req),
            Ok(ServerKey::Rfc2543 { .. })
        ));
    }
}
