//! The state of a response context (RFC 3261 §16.2) and its branches.

use std::collections::VecDeque;

use super::{ForwardOptions, Target};
use crate::transaction::TransactionId;
use crate::{Message, Method, Uri};

/// Whether a branch was, or is to be, cancelled (§9.1: not before a provisional arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CancelState {
    None,
    /// Wanted, but no provisional response arrived yet.
    Pending,
    Sent,
}

/// One forwarded copy and its client transaction.
#[derive(Debug)]
pub(super) struct Branch<A> {
    pub(super) target: Uri,
    pub(super) request: Message,
    pub(super) destination: A,
    pub(super) reliable: bool,
    pub(super) transaction: TransactionId,
    pub(super) provisional: bool,
    /// The final response (our Via removed), received or synthesized.
    pub(super) final_response: Option<Message>,
    pub(super) cancel: CancelState,
    pub(super) transaction_alive: bool,
}

/// A response context (§16.2): one server transaction and its branches.
#[derive(Debug)]
pub(super) struct Context<A> {
    pub(super) server: TransactionId,
    pub(super) request: Message,
    pub(super) loop_hash: u64,
    /// The To tag of responses the proxy itself generates for this request (§8.2.6.2).
    pub(super) to_tag: String,
    pub(super) options: ForwardOptions,
    pub(super) branches: Vec<Branch<A>>,
    pub(super) queued: VecDeque<Vec<Target<A>>>,
    /// The branch with the best final response so far (§16.7 step 6).
    pub(super) best: Option<usize>,
    /// A final response was sent (or handed to the application for review).
    pub(super) final_sent: bool,
    /// That final response was a 2xx (further 2xx to an INVITE still go upstream).
    pub(super) success_sent: bool,
    /// No new branch may start: CANCEL received, a 6xx, or a 2xx to an INVITE (§16.7
    /// step 10, §16.10).
    pub(super) stopped: bool,
    /// BranchesExhausted was reported and the application has not decided yet.
    pub(super) awaiting_application: bool,
    pub(super) server_alive: bool,
}

impl<A> Context<A> {
    pub(super) fn is_invite(&self) -> bool {
        self.request.method() == Some(&Method::INVITE)
    }
    pub(super) fn pending(&self) -> bool {
        self.branches.iter().any(|b| b.final_response.is_none())
    }
}
