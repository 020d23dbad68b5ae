//! Conversations in progress. A request takes the oldest conversation whose previous turn
//! has answered (or starts a new one from the workload); after the answer, the turn and the
//! server's reply join the history and the conversation waits for its next turn.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crate::workload::{Conversation, Turn, Workload};

pub struct Session {
    conversation: Conversation,
    next_turn: usize,
    history: Vec<(String, String)>,
}

impl Session {
    pub fn system(&self) -> Option<&str> {
        self.conversation.system.as_deref()
    }

    pub fn history(&self) -> &[(String, String)] {
        &self.history
    }

    pub fn turn(&self) -> &Turn {
        // `next_turn` is always in range: sessions with no turn left are dropped in `finish`.
        &self.conversation.turns[self.next_turn.min(self.conversation.turns.len() - 1)]
    }
}

pub struct SessionPool {
    inner: Mutex<Inner>,
}

struct Inner {
    ready: VecDeque<Session>,
    workload: Box<dyn Workload>,
}

impl SessionPool {
    pub fn new(workload: Box<dyn Workload>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                ready: VecDeque::new(),
                workload,
            }),
        }
    }

    pub fn describe(&self) -> String {
        self.lock().workload.describe()
    }

    pub fn take(&self) -> Session {
        let mut inner = self.lock();
        if let Some(session) = inner.ready.pop_front() {
            return session;
        }
        loop {
            let conversation = inner.workload.next_conversation();
            // Workloads never yield empty conversations; skip one defensively.
            if !conversation.turns.is_empty() {
                return Session {
                    conversation,
                    next_turn: 0,
                    history: Vec::new(),
                };
            }
        }
    }

    /// `reply` is the server's answer; `None` after a failure ends the conversation (its
    /// next turn would be sent with a history the server never produced).
    pub fn finish(&self, mut session: Session, reply: Option<String>) {
        let Some(reply) = reply else { return };
        let turn = session.conversation.turns[session.next_turn].user.clone();
        session.next_turn += 1;
        if session.next_turn < session.conversation.turns.len() {
            session.history.push((turn, reply));
            self.lock().ready.push_back(session);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{LengthDist, Synthetic};

    #[test]
    fn turns_follow_each_other_with_the_real_replies() {
        let pool = SessionPool::new(Box::new(Synthetic::new(
            LengthDist::Fixed(3),
            LengthDist::Fixed(2),
            2,
            1,
        )));
        let first = pool.take();
        assert!(first.history().is_empty());
        let user1 = first.turn().user.clone();
        pool.finish(first, Some("reply one".into()));
        let second = pool.take();
        assert_eq!(second.history(), &[(user1, "reply one".to_string())]);
        pool.finish(second, Some("reply two".into()));
        // Both turns done: a new conversation starts.
        assert!(pool.take().history().is_empty());
    }

    #[test]
    fn a_failed_turn_ends_its_conversation() {
        let pool = SessionPool::new(Box::new(Synthetic::new(
            LengthDist::Fixed(3),
            LengthDist::Fixed(2),
            3,
            1,
        )));
        let s = pool.take();
        pool.finish(s, None);
        assert!(pool.take().history().is_empty());
    }
}
