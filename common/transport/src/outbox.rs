//! The bounded queue of messages waiting to be written on one connection.
//!
//! A tokio mpsc channel allocates a block of 32 slots (over 1 KB) per channel up front, even
//! when idle; with 100 000 RFC 5626 flows that alone is 100+ MB. This queue allocates nothing
//! while empty: a `VecDeque` behind a mutex (held only to push or pop, never across an await)
//! and two `Notify`s, one waking the connection task, one waking senders waiting for room.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// Above this many slots, an empty queue gives its memory back.
const KEEP_SLOTS: usize = 4;

/// Returned when the queue was closed (the connection is ending or has ended).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closed<T>(pub(crate) T);

/// Returned by [`Outbox::try_push`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TryPushError<T> {
    Full(T),
    Closed(T),
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

/// A bounded multi-producer, single-consumer queue.
#[derive(Debug)]
pub(crate) struct Outbox<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Wakes the consumer when an item arrives or the queue closes.
    item_ready: Notify,
    /// Wakes producers when room frees up or the queue closes.
    room_ready: Notify,
}

impl<T> Outbox<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
            }),
            capacity: capacity.max(1),
            item_ready: Notify::new(),
            room_ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while the lock is held; if something did, the queue is still valid.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an item unless the queue is full or closed.
    pub(crate) fn try_push(&self, item: T) -> Result<(), TryPushError<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(TryPushError::Closed(item));
        }
        if state.items.len() >= self.capacity {
            return Err(TryPushError::Full(item));
        }
        state.items.push_back(item);
        drop(state);
        self.item_ready.notify_one();
        Ok(())
    }

    /// Appends an item, waiting while the queue is full (backpressure).
    pub(crate) async fn push(&self, mut item: T) -> Result<(), Closed<T>> {
        loop {
            // Register interest before checking, so a pop between the check and the await
            // cannot be missed.
            let room = self.room_ready.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_push(item) {
                Ok(()) => return Ok(()),
                Err(TryPushError::Closed(back)) => return Err(Closed(back)),
                Err(TryPushError::Full(back)) => item = back,
            }
            room.await;
        }
    }

    /// Takes the next item; `None` once the queue is closed and empty. Cancel-safe.
    pub(crate) async fn pop(&self) -> Option<T> {
        loop {
            {
                let mut state = self.lock();
                if let Some(item) = state.items.pop_front() {
                    if state.items.is_empty() && state.items.capacity() > KEEP_SLOTS {
                        state.items = VecDeque::new();
                    }
                    drop(state);
                    self.room_ready.notify_one();
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            // `notify_one` stores a permit when nobody waits, so an item pushed between the
            // check above and this await still wakes us.
            self.item_ready.notified().await;
        }
    }

    /// Appends an item even beyond the capacity (a control item such as a close request).
    /// Ignored once closed.
    pub(crate) fn push_close(&self, item: T) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.items.push_back(item);
        drop(state);
        self.item_ready.notify_one();
    }

    /// Refuses further items; those already queued can still be taken.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.item_ready.notify_one();
        self.room_ready.notify_waiters();
    }

    /// Closes and drops whatever is queued (the connection ended).
    pub(crate) fn close_and_clear(&self) {
        {
            let mut state = self.lock();
            state.closed = true;
            state.items = VecDeque::new();
        }
        self.room_ready.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn bounded_fifo_with_backpressure() {
        let q = Arc::new(Outbox::new(2));
        assert_eq!(q.try_push(1), Ok(()));
        assert_eq!(q.try_push(2), Ok(()));
        assert_eq!(q.try_push(3), Err(TryPushError::Full(3)));
        let producer = {
            let q = q.clone();
            tokio::spawn(async move { q.push(3).await })
        };
        assert_eq!(q.pop().await, Some(1));
        assert_eq!(producer.await.ok(), Some(Ok(())));
        assert_eq!(q.pop().await, Some(2));
        assert_eq!(q.pop().await, Some(3));
    }

    #[tokio::test]
    async fn close_drains_then_ends_and_wakes_waiting_producers() {
        let q = Arc::new(Outbox::new(1));
        assert_eq!(q.try_push(1), Ok(()));
        let producer = {
            let q = q.clone();
            tokio::spawn(async move { q.push(2).await })
        };
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(producer.await.ok(), Some(Err(Closed(2))));
        assert_eq!(q.try_push(3), Err(TryPushError::Closed(3)));
        assert_eq!(q.pop().await, Some(1));
        assert_eq!(q.pop().await, None);
        assert!(q.is_closed());
    }

    #[tokio::test]
    async fn close_and_clear_drops_items() {
        let q = Outbox::new(4);
        assert_eq!(q.try_push(1), Ok(()));
        q.close_and_clear();
        assert_eq!(q.pop().await, None);
    }
}
