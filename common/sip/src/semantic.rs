//! Request checks after parsing: which error response (if any) a server must send for a
//! syntactically valid request (RFC 3261 §8.2 UAS behaviour, §16.3 proxy request validation,
//! §10.3 registrar checks), as exercised by the RFC 4475 §3.2-§3.4 torture messages.

use crate::header::{Accept, MaxForwards, MediaType, OptionTags};
use crate::message::Message;
use crate::method::Method;
use crate::status::StatusCode;
use crate::uri::Scheme;

/// What the answering element supports; drives [`expected_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPolicy {
    /// Request-URI schemes the element handles (§8.2.2.1; otherwise 416).
    pub uri_schemes: &'static [&'static str],
    /// Option tags the element understands (§8.2.2.3 and §16.3 step 5; otherwise 420).
    pub option_tags: &'static [&'static str],
    /// Body types the element understands (§8.2.3; otherwise 415).
    pub content_types: &'static [&'static str],
    /// Content codings the element understands (§8.2.3; otherwise 415). `identity` is implied.
    pub content_encodings: &'static [&'static str],
    /// Body types the element can answer INVITE/OPTIONS with (§8.2.3 / §21.4.7; otherwise 406).
    pub response_types: &'static [&'static str],
    /// Authorization schemes the element can verify (§22.1; otherwise 401 with a challenge).
    pub auth_schemes: &'static [&'static str],
}

impl ServerPolicy {
    /// The capabilities of this project's IMS nodes.
    pub const IMS: ServerPolicy = ServerPolicy {
        uri_schemes: &["sip", "sips", "tel"],
        option_tags: &[
            "path",
            "outbound",
            "sec-agree",
            "gruu",
            "100rel",
            "timer",
            "replaces",
            "norefersub",
            "precondition",
            "eventlist",
        ],
        content_types: &[
            "application/sdp",
            "application/reginfo+xml",
            "application/pidf+xml",
            "application/3gpp-ims+xml",
            "application/vnd.3gpp.sms",
            "message/sipfrag",
            "multipart/mixed",
            "multipart/related",
            "multipart/alternative",
            "text/plain",
        ],
        content_encodings: &["identity"],
        response_types: &["application/sdp"],
        auth_schemes: &["Digest"],
    };
}

impl Default for ServerPolicy {
    fn default() -> Self {
        ServerPolicy::IMS
    }
}

/// Headers that may appear only once (§7.3.1, §20: not defined as comma lists).
const SINGLE_VALUED: [&str; 7] = [
    "To",
    "From",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
];

/// The error response `msg` calls for under `policy`, or `None` when it should be processed
/// normally. Responses always give `None`: they are never answered (a response with a bad Via,
/// e.g. RFC 4475 §3.3.10, is dropped by the transport layer's Via check, §18.1.2).
///
/// Checks, in order (the first failing one decides):
/// 1. To, From, Call-ID, CSeq, Via present (§8.1.1) → 400. Max-Forwards is not required:
///    RFC 2543 requests lack it and must be accepted (RFC 4475 §3.4.1; §16.6 step 3 adds it).
/// 2. A single-valued header present more than once (§7.3.1; RFC 4475 §3.3.8, §3.3.9) → 400.
/// 3. A body without Content-Type (§20.15) → 400.
/// 4. Request-URI scheme not handled (§8.2.2.1) → 416.
/// 5. Max-Forwards 0 on a request that would be forwarded (§16.3 step 3) → 483.
/// 6. Require / Proxy-Require with an unknown option tag (§8.2.2.3, §16.3 step 5) → 420
///    (not for ACK and CANCEL).
/// 7. Content-Type or Content-Encoding not understood (§8.2.3) → 415.
/// 8. INVITE/OPTIONS whose Accept excludes every type the element can answer with (§21.4.7) → 406.
/// 9. REGISTER whose To is not a SIP/SIPS address-of-record (§10.2, §10.3 step 3) → 400.
/// 10. Credentials in a scheme the element cannot verify (§22.1) → 401.
pub fn expected_response(msg: &Message, policy: &ServerPolicy) -> Option<StatusCode> {
    let method = msg.method()?;
    let h = msg.headers();
    let bad = Some(StatusCode::BAD_REQUEST);

    if ["To", "From", "Call-ID", "CSeq", "Via"]
        .iter()
        .any(|n| !h.contains(n))
    {
        return bad;
    }
    for name in SINGLE_VALUED {
        if h.values(name).count() > 1 {
            return bad;
        }
    }
    if !msg.body().is_empty() && !h.contains("Content-Type") {
        return bad;
    }
    let uri = msg.request_uri()?;
    if !policy.uri_schemes.contains(&uri.scheme().as_str()) {
        return Some(StatusCode::UNSUPPORTED_URI_SCHEME);
    }
    if let Some(mf) = h.get("Max-Forwards") {
        match MaxForwards::parse(mf) {
            Ok(MaxForwards(0)) => return Some(StatusCode::TOO_MANY_HOPS),
            Ok(_) => {}
            Err(_) => return bad,
        }
    }
    if *method != Method::ACK && *method != Method::CANCEL {
        for name in ["Require", "Proxy-Require"] {
            for v in h.get_all(name) {
                match OptionTags::parse(v) {
                    Ok(tags) => {
                        if tags
                            .0
                            .iter()
                            .any(|t| !policy.option_tags.contains(&t.as_str()))
                        {
                            return Some(StatusCode::BAD_EXTENSION);
                        }
                    }
                    Err(_) => return bad,
                }
            }
        }
    }
    if let Some(ct) = h.get("Content-Type") {
        match MediaType::parse(ct) {
            Ok(mt) => {
                if !policy.content_types.iter().any(|t| mt.is(t)) {
                    return Some(StatusCode::UNSUPPORTED_MEDIA_TYPE);
                }
            }
            Err(_) => return bad,
        }
    }
    for coding in h.values("Content-Encoding") {
        if !coding.eq_ignore_ascii_case("identity")
            && !policy
                .content_encodings
                .iter()
                .any(|c| c.eq_ignore_ascii_case(coding))
        {
            return Some(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
    }
    if (*method == Method::INVITE || *method == Method::OPTIONS) && h.contains("Accept") {
        let ranges: Result<Vec<MediaType>, _> = h.values("Accept").map(MediaType::parse).collect();
        match ranges {
            Ok(ranges) => {
                let accept = Accept(ranges);
                if !policy.response_types.iter().any(|t| accept.accepts(t)) {
                    return Some(StatusCode::NOT_ACCEPTABLE);
                }
            }
            Err(_) => return bad,
        }
    }
    if *method == Method::REGISTER {
        match msg.to() {
            Ok(to) if matches!(to.uri().scheme(), Scheme::Sip | Scheme::Sips) => {}
            _ => return bad,
        }
    }
    for name in ["Authorization", "Proxy-Authorization"] {
        for v in h.get_all(name) {
            let scheme = v.trim_start().split([' ', '\t']).next().unwrap_or("");
            if !policy
                .auth_schemes
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme))
            {
                return Some(if name == "Authorization" {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::PROXY_AUTHENTICATION_REQUIRED
                });
            }
        }
    }
    None
}

/// [`expected_response`] with [`ServerPolicy::IMS`]: the response RFC 4475 prescribes for its
/// semantic torture messages.
pub fn rfc4475_expected_response(msg: &Message) -> Option<StatusCode> {
    expected_response(msg, &ServerPolicy::IMS)
}
