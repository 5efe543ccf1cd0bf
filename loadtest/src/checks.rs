//! Correctness after a run: the trial balance holds, every acknowledged event is stored exactly
//! once, no voter is checked in twice. A run that fails any check fails, whatever its speed.

use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    pub trial_balance_holds: bool,
    pub acknowledged_stored_once: bool,
    pub no_double_redemption: bool,
    /// Answers that contradict the workload (a retry accepted, a first vote rejected, ...).
    pub answers_as_expected: bool,
    pub problems: Vec<String>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.trial_balance_holds
            && self.acknowledged_stored_once
            && self.no_double_redemption
            && self.answers_as_expected
            && self.problems.is_empty()
    }
}

/// Problems found in answers while the run was going; only the first few are kept verbatim.
#[derive(Clone, Debug, Default)]
pub struct AnswerProblems {
    pub count: u64,
    pub examples: Vec<String>,
}

pub const ANSWER_PROBLEM_EXAMPLES_MAX: usize = 10;

impl AnswerProblems {
    pub fn push(&mut self, problem: String) {
        self.count += 1;
        if self.examples.len() < ANSWER_PROBLEM_EXAMPLES_MAX {
            self.examples.push(problem);
        }
    }

    pub fn merge(&mut self, other: AnswerProblems) {
        self.count += other.count;
        for example in other.examples {
            if self.examples.len() < ANSWER_PROBLEM_EXAMPLES_MAX {
                self.examples.push(example);
            }
        }
    }
}
