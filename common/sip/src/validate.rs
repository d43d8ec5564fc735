//! The syntax checks a message gets when it is parsed (RFC 3261 §16.3 step 1, §8.2).
//!
//! Only the headers that any element needs to handle a message with a transaction, or to
//! forward it, are checked here; the first error found (in the order below) is returned.

use crate::error::{HeaderError, ParseError};
use crate::header::{CSeq, CallId, Contact, MaxForwards, NameAddr, Via};
use crate::headers::Canon;
use crate::message::Message;

fn bad(name: &'static str) -> impl Fn(HeaderError) -> ParseError {
    move |error| ParseError::BadHeader { name, error }
}

pub(crate) fn check_essential_headers(msg: &Message) -> Result<(), ParseError> {
    let h = msg.headers();
    for v in h.values_canon(Canon::VIA) {
        Via::check(v).map_err(bad("Via"))?;
    }
    if let Some(v) = h.get_canon(Canon::FROM) {
        NameAddr::check(v).map_err(bad("From"))?;
    }
    if let Some(v) = h.get_canon(Canon::TO) {
        NameAddr::check(v).map_err(bad("To"))?;
    }
    if let Some(v) = h.get_canon(Canon::CALL_ID) {
        CallId::check(v).map_err(bad("Call-ID"))?;
    }
    if let Some(v) = h.get_canon(Canon::CSEQ) {
        let cseq = CSeq::parse(v).map_err(bad("CSeq"))?;
        if let Some(m) = msg.method() {
            if *m != cseq.method {
                return Err(ParseError::CSeqMethodMismatch);
            }
        }
    }
    if let Some(v) = h.get_canon(Canon::MAX_FORWARDS) {
        MaxForwards::parse(v).map_err(bad("Max-Forwards"))?;
    }
    for v in h.values_canon(Canon::CONTACT) {
        Contact::check(v).map_err(bad("Contact"))?;
    }
    for v in h.get_all_canon(Canon::CONTENT_LENGTH) {
        crate::parser::parse_content_length(v)?;
    }
    if let Some(v) = h.get_canon(Canon::DATE) {
        crate::header::date::SipDate::parse(v).map_err(bad("Date"))?;
    }
    Ok(())
}
