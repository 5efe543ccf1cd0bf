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
    /// Replayed customer tokens (the festival day only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_replays: Option<TokenReplays>,
    pub problems: Vec<String>,
}

/// Customer tokens of a run: every first use must be accepted, every replay refused
/// `token_used`. Counted from the answers; `generated` is what the workload made (a replay left
/// unsent when the last step ended is generated, not sent).
#[derive(Clone, Debug, Default, Serialize)]
pub struct TokenReplays {
    pub generated: u64,
    pub sent: u64,
    pub refused_token_used: u64,
    /// Refused, but for another reason than `token_used` (e.g. `token_expired`).
    pub refused_otherwise: u64,
    pub accepted: u64,
    pub first_uses_sent: u64,
    pub first_uses_accepted: u64,
}

impl TokenReplays {
    /// What contradicts the workload, as problems for the report.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.accepted > 0 {
            problems.push(format!(
                "kanjo: {} of {} replayed customer tokens were accepted",
                self.accepted, self.sent
            ));
        }
        if self.refused_token_used != self.sent {
            problems.push(format!(
                "kanjo: {} replayed tokens sent, {} refused token_used ({} refused otherwise)",
                self.sent, self.refused_token_used, self.refused_otherwise
            ));
        }
        if self.sent > self.generated {
            problems.push(format!(
                "kanjo: {} replays answered but only {} generated",
                self.sent, self.generated
            ));
        }
        if self.first_uses_accepted != self.first_uses_sent {
            problems.push(format!(
                "kanjo: {} of {} first uses of a customer token were accepted",
                self.first_uses_accepted, self.first_uses_sent
            ));
        }
        problems
    }
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
