//! A minimal SDP (RFC 4566) offer/answer (RFC 3264) for one audio stream.
//!
//! The simulator signals media but sends none: the offer lists PCMU (0) and PCMA (8) and
//! telephone-event (RFC 4733), the answer keeps the first of PCMU/PCMA the offer lists.
//! Anything beyond the first `m=audio` line is ignored (partial by design: no video, no
//! preconditions of TS 24.229 §6.1.2, no hold/re-INVITE).

use std::net::IpAddr;

/// Static RTP payload types this UE can use (RFC 3551 Table 4).
const SUPPORTED_CODECS: [(u8, &str); 2] = [(0, "PCMU/8000"), (8, "PCMA/8000")];
/// Dynamic payload type of telephone-event in our offer.
const TELEPHONE_EVENT_PT: u8 = 101;

/// Why an SDP body cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not UTF-8 text.
    #[error("SDP body is not text")]
    NotText,
    /// No `m=audio` line (or a malformed one).
    #[error("no usable m=audio line")]
    NoAudio,
    /// No payload type in common (RFC 3264 §6: answer with 488).
    #[error("no common codec")]
    NoCommonCodec,
}

/// The audio stream of a session description, as far as this UE cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioMedia {
    /// Connection address (`c=` line).
    pub address: Option<String>,
    /// RTP port.
    pub port: u16,
    /// Payload types in order of preference.
    pub payload_types: Vec<u8>,
}

impl AudioMedia {
    /// Reads the first `m=audio` line and the session- or media-level `c=` address.
    pub fn parse(body: &[u8]) -> Result<AudioMedia, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
        let mut address = None;
        let mut media: Option<AudioMedia> = None;
        for line in text.lines().map(str::trim_end) {
            if let Some(c) = line.strip_prefix("c=") {
                // c=IN IP4 192.0.2.1 — a media-level c= overrides the session one.
                let addr = c.split_whitespace().nth(2).map(str::to_owned);
                match &mut media {
                    Some(m) => m.address = addr.or(m.address.take()),
                    None => address = addr,
                }
            } else if let Some(m) = line.strip_prefix("m=") {
                if media.is_some() {
                    break;
                }
                let mut parts = m.split_whitespace();
                if parts.next() != Some("audio") {
                    continue;
                }
                let port = parts
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok())
                    .ok_or(SdpError::NoAudio)?;
                let _proto = parts.next().ok_or(SdpError::NoAudio)?;
                let payload_types = parts.filter_map(|p| p.parse().ok()).collect();
                media = Some(AudioMedia {
                    address: address.clone(),
                    port,
                    payload_types,
                });
            }
        }
        media.ok_or(SdpError::NoAudio)
    }
}

impl AudioMedia {
    /// Checks the offer can be answered (RFC 3264 §6: otherwise 488).
    pub fn check_answerable(&self) -> Result<(), SdpError> {
        let common = self
            .payload_types
            .iter()
            .any(|pt| SUPPORTED_CODECS.iter().any(|(s, _)| s == pt));
        if common {
            Ok(())
        } else {
            Err(SdpError::NoCommonCodec)
        }
    }
}

/// Session-level values of the descriptions a UE writes.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// Our media address.
    pub address: IpAddr,
    /// Our RTP port.
    pub port: u16,
    /// `sess-id` (RFC 4566 §5.2), unique per call.
    pub session_id: u64,
}

fn write(origin: &Origin, payloads: &[(u8, &str)]) -> String {
    let ip = match origin.address {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    };
    let pts: Vec<String> = payloads.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut s = format!(
        "v=0\r\no=- {id} {id} IN {ip} {addr}\r\ns=-\r\nc=IN {ip} {addr}\r\nt=0 0\r\nm=audio {port} RTP/AVP {pts}\r\n",
        id = origin.session_id,
        addr = origin.address,
        port = origin.port,
        pts = pts.join(" "),
    );
    for (pt, name) in payloads {
        s.push_str(&format!("a=rtpmap:{pt} {name}\r\n"));
    }
    s.push_str("a=sendrecv\r\n");
    s
}

/// The offer of an outgoing INVITE.
pub fn offer(origin: &Origin) -> String {
    let mut payloads: Vec<(u8, &str)> = SUPPORTED_CODECS.to_vec();
    payloads.push((TELEPHONE_EVENT_PT, "telephone-event/8000"));
    write(origin, &payloads)
}

/// The answer to `offer` (RFC 3264 §6.1): the first supported codec the offer lists.
pub fn answer(origin: &Origin, offer: &AudioMedia) -> Result<String, SdpError> {
    let chosen = offer
        .payload_types
        .iter()
        .find_map(|pt| SUPPORTED_CODECS.iter().find(|(s, _)| s == pt))
        .ok_or(SdpError::NoCommonCodec)?;
    Ok(write(origin, &[*chosen]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            address: "192.0.2.1".parse().unwrap(),
            port: 4000,
            session_id: 7,
        }
    }

    #[test]
    fn offer_parses_back() {
        let o = offer(&origin());
        let m = AudioMedia::parse(o.as_bytes()).unwrap();
        assert_eq!(m.port, 4000);
        assert_eq!(m.payload_types, vec![0, 8, 101]);
        assert_eq!(m.address.as_deref(), Some("192.0.2.1"));
    }

    #[test]
    fn answer_picks_first_supported_codec() {
        let remote = AudioMedia::parse(
            b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5000 RTP/AVP 18 8 0\r\nc=IN IP4 10.0.0.2\r\n",
        )
        .unwrap();
        assert_eq!(remote.address.as_deref(), Some("10.0.0.2"));
        let a = answer(&origin(), &remote).unwrap();
        assert!(a.contains("m=audio 4000 RTP/AVP 8\r\n"), "{a}");
        assert!(a.contains("a=rtpmap:8 PCMA/8000"));
    }

    #[test]
    fn no_common_codec_and_no_audio() {
        let remote = AudioMedia::parse(b"m=audio 5000 RTP/AVP 18\r\n").unwrap();
        assert_eq!(answer(&origin(), &remote), Err(SdpError::NoCommonCodec));
        assert_eq!(remote.check_answerable(), Err(SdpError::NoCommonCodec));
        assert_eq!(
            AudioMedia::parse(b"v=0\r\nm=video 5000 RTP/AVP 96\r\n"),
            Err(SdpError::NoAudio)
        );
        assert_eq!(AudioMedia::parse(&[0xff, 0xfe]), Err(SdpError::NotText));
    }
}
