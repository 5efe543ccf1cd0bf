//! What the driver needs from a system under test: submit a batch, get one answer per event.

use anyhow::Result;
use kanjo_core::event::Event;

/// One event's answer, reduced to what the load test counts and checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub id: String,
    pub accepted: bool,
    /// The rejection code (`already_redeemed`, `insufficient_funds`, ...), if rejected.
    pub code: Option<String>,
}

/// Answers that will arrive: a batch handed to the system but not yet durable.
pub trait Pending: Send {
    fn wait(self: Box<Self>) -> Result<Vec<Answer>>;
}

/// Answers already in hand (systems that answer synchronously).
pub struct Ready(pub Result<Vec<Answer>>);

impl Pending for Ready {
    fn wait(self: Box<Self>) -> Result<Vec<Answer>> {
        self.0
    }
}

/// A system under test. `submit` blocks until the batch is durable and answered. Events of one
/// `lane` are submitted in order by one thread at a time; lanes run in parallel.
pub trait Target: Send + Sync {
    fn name(&self) -> String;
    fn store(&self) -> String;
    fn submit(&self, lane: usize, events: &[Event]) -> Result<Vec<Answer>>;

    /// Hands a batch over without waiting for its answers, so a lane can keep several batches in
    /// flight. Systems that keep submission order (one queue) override it; the default waits.
    fn begin(&self, lane: usize, events: &[Event]) -> Result<Box<dyn Pending>> {
        Ok(Box::new(Ready(self.submit(lane, events))))
    }
}
