//! Typed header values, each parsed on demand from the raw text kept in
//! [`Headers`](crate::Headers): `parse(&str) -> Result<Self, HeaderError>` and `Display`.
//! A value is one element of a comma-separated header line (use
//! [`Headers::values`](crate::Headers::values)), except for the authentication headers and
//! Date whose values contain commas ([`Headers::get_all`](crate::Headers::get_all)).

pub mod auth;
pub mod contact;
pub mod content_type;
pub mod cseq;
pub mod date;
pub mod event;
pub mod ims;
pub mod name_addr;
pub mod sec_agree;
pub mod simple;
pub mod via;

pub use auth::{
    AuthParams, Authorization, Challenge, Credentials, ProxyAuthenticate, ProxyAuthorization,
    WwwAuthenticate,
};
pub use contact::{parse_qvalue, Contact};
pub use content_type::{Accept, ContentType, MediaType};
pub use cseq::CSeq;
pub use date::SipDate;
pub use event::{Event, SubscriptionState};
pub use ims::{PChargingVector, VisitedNetwork};
pub use name_addr::{
    From, NameAddr, PAssertedIdentity, PAssociatedUri, PPreferredIdentity, Path, RecordRoute,
    Route, ServiceRoute, To,
};
pub use sec_agree::{SecMechanism, SecurityClient, SecurityServer, SecurityVerify, IPSEC_3GPP};
pub use simple::{
    Allow, CallId, ContentLength, Expires, FlowTimer, MaxForwards, MinExpires, OptionTags,
};
pub use via::{Via, BRANCH_MAGIC_COOKIE};

pub use crate::scan::{split_commas, unquote, Param, Params};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Typed parsers return a value or an error for any text, never panic, and whatever
        /// they accept prints back to text they accept again.
        #[test]
        fn typed_parsers_never_panic(s in "[ -~\\t]{0,80}") {
            if let Ok(v) = Via::parse(&s) {
                prop_assert!(Via::parse(&v.to_string()).is_ok());
            }
            if let Ok(n) = NameAddr::parse(&s) {
                prop_assert!(NameAddr::parse(&n.to_string()).is_ok());
            }
            if let Ok(c) = Contact::parse(&s) {
                let _ = (c.expires(), c.q(), c.reg_id(), c.instance());
            }
            if let Ok(u) = crate::Uri::parse(&s) {
                let again = crate::Uri::parse(&u.to_string());
                prop_assert!(again.is_ok());
                prop_assert!(again.is_ok_and(|a| a.equivalent(&u)));
            }
            let _ = CSeq::parse(&s);
            let _ = Credentials::parse(&s);
            if let Ok(list) = SecMechanism::parse_list(&s) {
                for m in &list {
                    let _ = (m.spi_c(), m.port_s(), m.q());
                }
            }
            let _ = PChargingVector::parse(&s);
            let _ = SipDate::parse(&s);
            let _ = MediaType::parse(&s);
            let _ = SubscriptionState::parse(&s).map(|x| x.expires());
            let _ = parse_qvalue(&s);
        }

        /// The same for structured-looking input, which reaches deeper into the grammars.
        #[test]
        fn structured_inputs_never_panic(
            d in "(\"[^\"]{0,8}\" ?)?",
            u in "(sips?|tel|x):[a-z0-9%@:;=.\\[\\]?&+-]{0,30}",
            p in "(;[a-z+.-]{1,6}(=[a-z0-9\"<>:]{0,8})?){0,4}",
        ) {
            let s = format!("{d}<{u}>{p}");
            if let Ok(n) = NameAddr::parse(&s) {
                prop_assert!(NameAddr::parse(&n.to_string()).is_ok());
            }
            let _ = Via::parse(&format!("SIP/2.0/UDP {}{p}", u.split(':').nth(1).unwrap_or("")));
        }
    }
}
