//! Event (RFC 6665 §8.2.1) and Subscription-State (RFC 6665 §8.2.3).

use std::fmt;

use crate::error::HeaderError;
use crate::header::cseq::parse_u32_max;
use crate::scan::{Cursor, Params};

/// `Event = event-type *( SEMI event-param )`, e.g. `reg` (RFC 3680) with an optional `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event package (with templates), e.g. `reg`, `presence.winfo`.
    pub event_type: String,
    /// Parameters (`id`, ...).
    pub params: Params,
}

impl Event {
    /// Parses the value.
    pub fn parse(s: &str) -> Result<Event, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let t = c.token()?;
        let params = Params::parse_semi(&mut c)?;
        c.finish()?;
        Ok(Event {
            event_type: t.to_owned(),
            params,
        })
    }
    /// The `id` parameter.
    pub fn id(&self) -> Option<&str> {
        self.params.get("id").flatten()
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.event_type, self.params)
    }
}

/// `Subscription-State = substate-value *( SEMI subexp-params )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// `active`, `pending`, `terminated` or an extension.
    pub state: String,
    /// Parameters (`expires`, `reason`, `retry-after`).
    pub params: Params,
}

impl SubscriptionState {
    /// Parses the value.
    pub fn parse(s: &str) -> Result<SubscriptionState, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let t = c.token()?;
        let params = Params::parse_semi(&mut c)?;
        c.finish()?;
        Ok(SubscriptionState {
            state: t.to_owned(),
            params,
        })
    }
    fn seconds(&self, name: &str) -> Result<Option<u32>, HeaderError> {
        match self.params.get(name) {
            None => Ok(None),
            Some(None) => Err(HeaderError::BadNumber),
            Some(Some(v)) if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() => {
                parse_u32_max(v, u64::from(u32::MAX)).map(Some)
            }
            Some(Some(_)) => Err(HeaderError::BadNumber),
        }
    }
    /// `expires` in seconds.
    pub fn expires(&self) -> Result<Option<u32>, HeaderError> {
        self.seconds("expires")
    }
    /// `retry-after` in seconds.
    pub fn retry_after(&self) -> Result<Option<u32>, HeaderError> {
        self.seconds("retry-after")
    }
    /// `reason` (`deactivated`, `probation`, `rejected`, `timeout`, `giveup`, `noresource`...).
    pub fn reason(&self) -> Option<&str> {
        self.params.get("reason").flatten()
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.state, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_and_state() {
        let e = Event::parse("reg;id=7").unwrap();
        assert_eq!(e.event_type, "reg");
        assert_eq!(e.id(), Some("7"));
        let s = SubscriptionState::parse("terminated;reason=timeout;retry-after=30").unwrap();
        assert_eq!(s.state, "terminated");
        assert_eq!(s.reason(), Some("timeout"));
        assert_eq!(s.retry_after(), Ok(Some(30)));
        assert_eq!(
            SubscriptionState::parse("active;expires=x")
                .unwrap()
                .expires(),
            Err(HeaderError::BadNumber)
        );
        assert_eq!(Event::parse(""), Err(HeaderError::BadToken));
    }
}
