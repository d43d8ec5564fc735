//! Dialogs (RFC 3261 §12): the state a UA keeps per call, and requests within a dialog.

use ims_sip::header::NameAddr;
use ims_sip::{Message, Method, Uri};

use crate::error::UeError;

/// One dialog, seen from our side (§12.1).
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (From tag when we are the UAC, To tag when the UAS).
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
    /// Our URI (From of our requests in this dialog).
    pub local_uri: NameAddr,
    /// The peer's URI (To of our requests).
    pub remote_uri: NameAddr,
    /// Local CSeq: the last number we used (§12.2.1.1 increments it per request).
    pub local_seq: u32,
    /// The peer's last CSeq, to order its requests (§12.2.2).
    pub remote_seq: Option<u32>,
    /// The peer's Contact (§12.1.1, §12.1.2).
    pub remote_target: Uri,
    /// The route set: Record-Route in order for the UAS, reversed for the UAC.
    pub route_set: Vec<NameAddr>,
}

impl Dialog {
    /// The UAC side of a dialog created by a response to our INVITE (§12.1.2): the route set
    /// is the response's Record-Route in reverse, the remote target its Contact.
    pub fn from_uac(invite: &Message, response: &Message) -> Result<Dialog, UeError> {
        let to = response.to()?;
        let from = invite.from()?;
        let remote_tag =
            to.0.tag()
                .ok_or(ims_sip::HeaderError::Missing("To tag"))?
                .to_owned();
        let mut route_set = response.name_addrs("Record-Route")?;
        route_set.reverse();
        Ok(Dialog {
            call_id: invite.call_id()?.to_owned(),
            local_tag: from.0.tag().unwrap_or("").to_owned(),
            remote_tag,
            local_uri: strip_tag(from.0),
            remote_uri: strip_tag(to.0),
            local_seq: invite.cseq()?.seq,
            remote_seq: None,
            remote_target: contact_uri(response)?,
            route_set,
        })
    }

    /// The UAS side of a dialog created by our response to `invite` (§12.1.1), with our tag.
    pub fn from_uas(invite: &Message, local_tag: &str) -> Result<Dialog, UeError> {
        let from = invite.from()?;
        let to = invite.to()?;
        Ok(Dialog {
            call_id: invite.call_id()?.to_owned(),
            local_tag: local_tag.to_owned(),
            remote_tag: from.0.tag().unwrap_or("").to_owned(),
            local_uri: strip_tag(to.0),
            remote_uri: strip_tag(from.0),
            local_seq: 0,
            remote_seq: Some(invite.cseq()?.seq),
            remote_target: contact_uri(invite)?,
            route_set: invite.name_addrs("Record-Route")?,
        })
    }

    /// Whether `message` belongs to this dialog: same Call-ID and tags (§12.2.2). For a
    /// response or a request we sent, our tag is in From; for a request from the peer, in To.
    pub fn matches_request(&self, request: &Message) -> bool {
        let ok = || -> Option<bool> {
            let to = request.to().ok()?;
            let from = request.from().ok()?;
            Some(
                request.call_id().ok()? == self.call_id
                    && to.0.tag() == Some(self.local_tag.as_str())
                    && from.0.tag().unwrap_or("") == self.remote_tag,
            )
        };
        ok().unwrap_or(false)
    }

    /// A request within the dialog (§12.2.1.1). `seq` is the CSeq to use: the next local
    /// number, or the INVITE's for an ACK (§13.2.2.4). Loose routing only chooses the
    /// Request-URI; a strict-routing first hop (no `lr`) gets the RFC 2543 treatment.
    pub fn request(&self, method: Method, seq: u32, via: &str) -> Message {
        let (request_uri, routes): (Uri, Vec<String>) = match self.route_set.first() {
            Some(first) if first.uri.param("lr").is_none() => {
                // §12.2.1.1 strict routing: first route becomes the Request-URI, the remote
                // target goes last.
                let mut routes: Vec<String> = self
                    .route_set
                    .iter()
                    .skip(1)
                    .map(|r| r.to_string())
                    .collect();
                routes.push(format!("<{}>", self.remote_target));
                (first.uri.clone(), routes)
            }
            _ => (
                self.remote_target.clone(),
                self.route_set.iter().map(|r| r.to_string()).collect(),
            ),
        };
        let mut m = Message::request(method.clone(), request_uri);
        let h = m.headers_mut();
        h.push("Via", via);
        h.push("Max-Forwards", "70");
        for r in &routes {
            h.push("Route", r);
        }
        h.push(
            "From",
            &format!("{};tag={}", self.local_uri, self.local_tag),
        );
        h.push(
            "To",
            &format!("{};tag={}", self.remote_uri, self.remote_tag),
        );
        h.push("Call-ID", &self.call_id);
        h.push("CSeq", &format!("{seq} {}", method.as_str()));
        m
    }

    /// The next local CSeq number (§12.2.1.1: "MUST be incremented by one").
    pub fn next_seq(&mut self) -> u32 {
        self.local_seq = self.local_seq.saturating_add(1);
        self.local_seq
    }
}

fn strip_tag(mut a: NameAddr) -> NameAddr {
    a.params.remove("tag");
    a
}

/// The URI of the first Contact (§12.1.1: the remote target).
fn contact_uri(m: &Message) -> Result<Uri, UeError> {
    let contacts = m.contacts()?;
    contacts
        .first()
        .and_then(|c| c.uri().cloned())
        .ok_or(UeError::Header(ims_sip::HeaderError::Missing("Contact")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialog(routes: &[&str]) -> Dialog {
        Dialog {
            call_id: "c1@x".into(),
            local_tag: "lt".into(),
            remote_tag: "rt".into(),
            local_uri: NameAddr::parse("<sip:a@ims.example>").unwrap(),
            remote_uri: NameAddr::parse("<sip:b@ims.example>").unwrap(),
            local_seq: 1,
            remote_seq: None,
            remote_target: Uri::parse("sip:b@192.0.2.20:5060").unwrap(),
            route_set: routes.iter().map(|r| NameAddr::parse(r).unwrap()).collect(),
        }
    }

    #[test]
    fn loose_routing_keeps_remote_target_as_request_uri() {
        let mut d = dialog(&["<sip:p1.example;lr>", "<sip:p2.example;lr>"]);
        let seq = d.next_seq();
        let m = d.request(Method::BYE, seq, "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1");
        assert_eq!(
            m.request_uri().unwrap().to_string(),
            "sip:b@192.0.2.20:5060"
        );
        let routes: Vec<&str> = m.headers().get_all("Route").collect();
        assert_eq!(routes, ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]);
        assert_eq!(m.cseq().unwrap().seq, 2);
        assert_eq!(m.from().unwrap().tag(), Some("lt"));
        assert_eq!(m.to().unwrap().tag(), Some("rt"));
    }

    #[test]
    fn strict_route_becomes_request_uri() {
        let d = dialog(&["<sip:strict.example>", "<sip:p2.example;lr>"]);
        let m = d.request(Method::BYE, 5, "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1");
        assert_eq!(m.request_uri().unwrap().to_string(), "sip:strict.example");
        let routes: Vec<&str> = m.headers().get_all("Route").collect();
        assert_eq!(routes, ["<sip:p2.example;lr>", "<sip:b@192.0.2.20:5060>"]);
    }

    #[test]
    fn uac_dialog_reverses_record_route() {
        let invite = Message::parse(
            b"INVITE sip:b@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@ims.example>;tag=lt\r\nTo: <sip:b@ims.example>\r\n\
Call-ID: c1@x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@192.0.2.10>\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        let ok = Message::parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\n\
Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>\r\n\
From: <sip:a@ims.example>;tag=lt\r\nTo: <sip:b@ims.example>;tag=rt\r\n\
Call-ID: c1@x\r\nCSeq: 1 INVITE\r\nContact: <sip:b@192.0.2.20>\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        let d = Dialog::from_uac(&invite, &ok).unwrap();
        let hosts: Vec<String> = d.route_set.iter().map(|r| r.uri.to_string()).collect();
        assert_eq!(hosts, ["sip:p1.example;lr", "sip:p2.example;lr"]);
        assert_eq!(d.remote_tag, "rt");
        assert_eq!(d.remote_target.to_string(), "sip:b@192.0.2.20");
        // A 2xx without a To tag creates no dialog.
        let mut untagged = ok.clone();
        untagged.headers_mut().set("To", "<sip:b@ims.example>");
        assert!(Dialog::from_uac(&invite, &untagged).is_err());
    }
}
