//! The expectAuth gate: operations held until the server accepts the first token.
//!
//! The gate only orders opaque operation ids; the driver keeps the operations themselves.

use alloc::vec::Vec;

/// An operation on the wrapped client, numbered by the caller in call order.
pub type OpId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpDecision {
    /// Run it now.
    Run,
    /// Keep it; a later `ReleaseOperations` or `RejectOperations` output names it.
    Hold,
}

#[derive(Debug, Clone)]
pub struct Gate {
    /// `Some` while holding, with the held ids in call order.
    held: Option<Vec<OpId>>,
}

impl Gate {
    pub fn new(expect_auth: bool) -> Self {
        Gate { held: expect_auth.then(Vec::new) }
    }

    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }

    pub fn submit(&mut self, op: OpId) -> OpDecision {
        match &mut self.held {
            Some(held) => {
                held.push(op);
                OpDecision::Hold
            }
            None => OpDecision::Run,
        }
    }

    /// Forgets a held operation (e.g. an unsubscribe before release). True if it was held.
    pub fn cancel(&mut self, op: OpId) -> bool {
        let Some(held) = &mut self.held else { return false };
        let before = held.len();
        held.retain(|&id| id != op);
        held.len() != before
    }

    /// Opens for good and returns what was held, in call order. Opening twice returns nothing.
    pub fn open(&mut self) -> Vec<OpId> {
        self.held.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_in_order_until_opened_then_runs_everything() {
        let mut gate = Gate::new(true);
        assert_eq!(gate.submit(1), OpDecision::Hold);
        assert_eq!(gate.submit(2), OpDecision::Hold);
        assert_eq!(gate.submit(3), OpDecision::Hold);
        assert!(gate.cancel(2));
        assert!(!gate.cancel(2));
        assert_eq!(gate.open(), vec![1, 3]);
        assert_eq!(gate.open(), Vec::<OpId>::new());
        assert_eq!(gate.submit(4), OpDecision::Run);
    }

    #[test]
    fn a_gate_without_expect_auth_never_holds() {
        let mut gate = Gate::new(false);
        assert!(!gate.is_holding());
        assert_eq!(gate.submit(1), OpDecision::Run);
    }
}
