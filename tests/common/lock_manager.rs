//! Web Locks as the driver uses them, for the virtual-clock tabs (`tabs`): one exclusive lock,
//! FIFO; stealers queue on a second "takeover" lock and, holding it, steal the main one (its holder
//! is told it lost the grant). A request that finds the lock free (so nobody queues either: a
//! release hands it to the head of the queue) from a tab with no other present is granted as
//! [`LockGrant::Uncontended`] — what the driver's `ifAvailable` try and presence query report —
//! and every other grant, handed over or stolen, as [`LockGrant::MaybeContended`]. With `lease`
//! set it models the driver's localStorage lease instead, which cannot tell: every grant is
//! `MaybeContended`.

use std::collections::VecDeque;

use authlane::core::{LockGrant, LockId};

#[derive(Default)]
pub struct LockManager {
    pub lease: bool,
    pub holder: Option<(usize, LockId)>,
    queue: VecDeque<(usize, LockId)>,
    takeover_holder: Option<(usize, LockId)>,
    takeover_queue: VecDeque<(usize, LockId)>,
    /// Grants not delivered yet, with how each came about.
    pub grants: VecDeque<(usize, LockId, LockGrant)>,
    pub losses: VecDeque<(usize, LockId)>,
    /// Every loss, as it was inflicted (drained into `Tabs::events`).
    pub stolen: Vec<(usize, LockId)>,
}

impl LockManager {
    /// `alone`: no other tab of the app is present (open and loaded) as the request is made.
    pub fn request(&mut self, tab: usize, lock: LockId, steal: bool, alone: bool) {
        self.queue.retain(|&entry| entry != (tab, lock));
        let queued_stealer = self.takeover_queue.contains(&(tab, lock));
        self.takeover_queue.retain(|&entry| entry != (tab, lock));
        if steal && queued_stealer {
            // A steal asked again while queued: the takeover lock is taken too (its thief is frozen).
            self.take_over(tab, lock);
        } else if steal {
            if self.takeover_holder.is_none() {
                self.take_over(tab, lock);
            } else {
                self.takeover_queue.push_back((tab, lock));
            }
        } else if self.holder.is_none() {
            debug_assert!(self.queue.is_empty(), "a free lock with a queue");
            self.holder = Some((tab, lock));
            let grant = if alone && !self.lease { LockGrant::Uncontended } else { LockGrant::MaybeContended };
            self.grants.push_back((tab, lock, grant));
        } else {
            self.queue.push_back((tab, lock));
        }
    }

    fn take_over(&mut self, tab: usize, lock: LockId) {
        self.takeover_holder = Some((tab, lock));
        if let Some(previous) = self.holder.replace((tab, lock)) {
            self.losses.push_back(previous);
            self.stolen.push(previous);
        }
        self.grants.push_back((tab, lock, LockGrant::MaybeContended));
    }

    pub fn release(&mut self, tab: usize, lock: LockId) {
        self.queue.retain(|&entry| entry != (tab, lock));
        self.takeover_queue.retain(|&entry| entry != (tab, lock));
        if self.takeover_holder == Some((tab, lock)) {
            self.takeover_holder = None;
        }
        if self.holder == Some((tab, lock)) {
            self.holder = None;
            if let Some((next_tab, next_lock)) = self.queue.pop_front() {
                self.holder = Some((next_tab, next_lock));
                self.grants.push_back((next_tab, next_lock, LockGrant::MaybeContended));
            }
        }
        if self.takeover_holder.is_none() {
            if let Some((next_tab, next_lock)) = self.takeover_queue.pop_front() {
                self.take_over(next_tab, next_lock);
            }
        }
    }

    /// The tab gave back every lock it held or asked for (the driver's `releaseAll` on
    /// `pagehide`): grants and losses not delivered yet are never delivered.
    pub fn let_go(&mut self, tab: usize) {
        self.forget_tab(tab);
        self.grants.retain(|&(t, ..)| t != tab);
        self.losses.retain(|&(t, _)| t != tab);
    }

    pub fn forget_tab(&mut self, tab: usize) {
        self.queue.retain(|&(t, _)| t != tab);
        self.takeover_queue.retain(|&(t, _)| t != tab);
        for held in [self.holder, self.takeover_holder].into_iter().flatten() {
            if held.0 == tab {
                self.release(held.0, held.1);
            }
        }
    }
}
