//! Branch parameters of the proxy's Via (RFC 3261 §16.6 step 8, §8.1.1.7) and the loop
//! detection hash of §16.3 step 4 / RFC 5393 §4.2.
//!
//! A branch this proxy creates reads `z9hG4bK<loop>.<unique>`, both parts 16 hex digits:
//! `<loop>` is a hash of the fields of the received request that stay the same when it
//! comes back through a loop and change on a legitimate spiral (§16.6 step 8), `<unique>`
//! comes from an injected [`TokenSource`], so the proxy never reads a clock or an OS RNG.

use crate::header::BRANCH_MAGIC_COOKIE;
use crate::Message;

/// Where the proxy gets unique values for branches and To tags.
pub trait TokenSource: Send {
    /// A value never returned before by this source.
    fn next_token(&mut self) -> u64;
}

/// A seedable [`TokenSource`]: SplitMix64 of `key + counter`, which is a bijection of the
/// counter, so values never repeat within 2^64 calls, yet are hard to guess without the key.
/// Not a cryptographic generator; branches only need uniqueness (§8.1.1.7).
#[derive(Debug, Clone)]
pub struct CounterTokens {
    key: u64,
    counter: u64,
}

impl CounterTokens {
    pub fn new(key: u64) -> CounterTokens {
        CounterTokens { key, counter: 0 }
    }
}

impl TokenSource for CounterTokens {
    fn next_token(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        splitmix64(
            self.key
                .wrapping_add(self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        )
    }
}

/// The SplitMix64 finaliser (a bijection on u64).
fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a: stable across builds and platforms, which a loop hash must be (another
/// instance of the same proxy, or a restarted one, must compute the same value).
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

/// The loop-detection hash of a received request (§16.6 step 8): Request-URI as received,
/// To tag, From tag, Call-ID, CSeq number, every Route value as received, Proxy-Require and
/// Proxy-Authorization.
///
/// The topmost Via, which §16.6 step 8 also lists, is left out on purpose: a request that
/// comes back through a loop carries the previous hop's Via on top, not the one it had the
/// first time, so including it would hide every loop (RFC 5393 §4.2 computes the hash over
/// the request's "loop-relevant" fields for the same reason). Route is included so that an
/// IMS spiral (S-CSCF → AS → S-CSCF, same Request-URI, different Route) is not a loop.
pub fn loop_hash(request: &Message) -> u64 {
    let mut h = Fnv::new();
    if let Some(uri) = request.request_uri() {
        h.write(uri.to_string().as_bytes());
    }
    let to_tag = request.to().ok().and_then(|t| t.tag().map(str::to_owned));
    h.write(to_tag.unwrap_or_default().as_bytes());
    let from_tag = request.from().ok().and_then(|f| f.tag().map(str::to_owned));
    h.write(from_tag.unwrap_or_default().as_bytes());
    h.write(request.call_id().unwrap_or("").trim().as_bytes());
    let seq = request.cseq().map(|c| c.seq).unwrap_or(0);
    h.write(&seq.to_be_bytes());
    for name in ["Route", "Proxy-Require", "Proxy-Authorization"] {
        for value in request.headers().get_all(name) {
            h.write(value.trim().as_bytes());
        }
        h.write(b"|");
    }
    h.0
}

/// The branch of a stateful branch: loop hash, then a fresh token.
pub fn stateful_branch(loop_hash: u64, token: u64) -> String {
    format!("{BRANCH_MAGIC_COOKIE}{loop_hash:016x}.{token:016x}")
}

/// The branch a stateless forward uses (§16.11): it must be the same for retransmissions of
/// the same request and differ between requests, so it is derived from the incoming top Via
/// branch (and the loop hash) rather than drawn from the token source.
pub fn stateless_branch(loop_hash: u64, incoming_top_via: &str) -> String {
    let mut h = Fnv::new();
    h.write(incoming_top_via.trim().as_bytes());
    stateful_branch(loop_hash, h.0)
}

/// The loop-hash part of a branch this proxy generated, if `branch` has that shape.
pub fn loop_part(branch: &str) -> Option<u64> {
    let rest = branch.strip_prefix(BRANCH_MAGIC_COOKIE)?;
    let (hash, unique) = rest.split_once('.')?;
    if hash.len() != 16 || unique.len() != 16 || !unique.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hash, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(uri: &str, route: Option<&str>) -> Message {
        let route = route.map(|r| format!("Route: {r}\r\n")).unwrap_or_default();
        let text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n{route}\
             Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=f\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn tokens_are_unique_and_seeded() {
        let mut a = CounterTokens::new(7);
        let mut b = CounterTokens::new(7);
        let mut c = CounterTokens::new(8);
        let xs: Vec<u64> = (0..1000).map(|_| a.next_token()).collect();
        let ys: Vec<u64> = (0..1000).map(|_| b.next_token()).collect();
        assert_eq!(xs, ys, "same seed, same sequence");
        let mut sorted = xs.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), xs.len());
        assert_ne!(c.next_token(), xs[0]);
    }

    #[test]
    fn loop_hash_ignores_top_via_but_not_route_or_uri() {
        let a = invite("sip:bob@example.com", None);
        let mut looped = a.clone();
        looped
            .headers_mut()
            .push_front("Via", "SIP/2.0/UDP other.example.com;branch=z9hG4bK2");
        assert_eq!(loop_hash(&a), loop_hash(&looped));
        assert_ne!(
            loop_hash(&a),
            loop_hash(&invite("sip:carol@example.com", None))
        );
        assert_ne!(
            loop_hash(&a),
            loop_hash(&invite(
                "sip:bob@example.com",
                Some("<sip:as.example.com;lr>")
            ))
        );
    }

    #[test]
    fn branches_carry_the_cookie_and_the_loop_part() {
        let b = stateful_branch(0xabc, 0x1234);
        assert!(b.starts_with("z9hG4bK"));
        assert_eq!(loop_part(&b), Some(0xabc));
        assert_eq!(loop_part("z9hG4bK776asdhds"), None);
        assert_eq!(loop_part("z9hG4bK0000000000000abc.zz"), None);
        let s1 = stateless_branch(1, "SIP/2.0/UDP a;branch=z9hG4bK1");
        assert_eq!(s1, stateless_branch(1, "SIP/2.0/UDP a;branch=z9hG4bK1"));
        assert_ne!(s1, stateless_branch(1, "SIP/2.0/UDP a;branch=z9hG4bK2"));
    }
}
