//! What the UE tells its user (a test, `ims bench`, a person at the `ims ue` prompt).

use ims_sip::StatusCode;

/// Names one call of a UE; never reused by that UE. Not the SIP Call-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

/// Why an established or early call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// We sent BYE (RFC 3261 §15.1.1).
    LocalHangup,
    /// The peer sent BYE (§15.1.2).
    RemoteHangup,
    /// We cancelled our INVITE and got 487 (§9.1).
    Cancelled,
    /// The caller cancelled the INVITE we were ringing for (§9.2).
    CancelledByCaller,
    /// We rejected the incoming INVITE with this final status.
    Rejected(StatusCode),
    /// We answered but no ACK came within 64·T1; the UE sent BYE (§13.3.1.4).
    AckTimeout,
    /// The BYE got no answer (Timer F) or the transport failed; the dialog is gone anyway.
    Timeout,
}

/// An event of the UE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UeEvent {
    /// The registration (initial or refresh) succeeded (TS 24.229 §5.1.1.2.1 / §5.1.1.4.1).
    Registered {
        /// Granted expiry in seconds.
        expires: u32,
        /// P-Associated-URI of the 200 OK: the implicitly registered public identities.
        associated_uris: Vec<String>,
    },
    /// The registration failed with this final status (403, 408 for a timeout, 503 when the
    /// transport failed…).
    RegistrationFailed {
        /// The status.
        status: StatusCode,
    },
    /// The AUTN of a challenge did not verify (MAC failure, TS 24.229 §5.1.1.5.3): the network
    /// is not authentic and the UE answered with an empty `response`.
    NetworkAuthenticationFailed,
    /// The challenge's SQN was out of range; the UE answered with `auts` (TS 24.229
    /// §5.1.1.5.3, RFC 3310 §3.4) and waits for a fresh challenge.
    SynchronisationFailure,
    /// The de-registration (Expires: 0) was accepted, or the registration lapsed.
    Deregistered,
    /// An INVITE arrived; the UE has sent 180 and waits for `answer` or `reject`.
    IncomingCall {
        /// The new call.
        call: CallHandle,
        /// The From URI.
        from: String,
        /// The Request-URI.
        to: String,
    },
    /// The callee rings (180) or sent early media (183).
    CallRinging {
        /// The call.
        call: CallHandle,
    },
    /// The call is confirmed: for a caller when the 2xx arrived (and was ACKed), for a callee
    /// when the ACK arrived.
    CallEstablished {
        /// The call.
        call: CallHandle,
    },
    /// The call ended.
    CallEnded {
        /// The call.
        call: CallHandle,
        /// Why.
        reason: EndReason,
    },
    /// Our INVITE got a final non-2xx response (408 when Timer B fired).
    CallFailed {
        /// The call.
        call: CallHandle,
        /// The status.
        status: StatusCode,
    },
}
