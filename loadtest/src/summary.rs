//! One system's measured run and the run's summary (the `--json` object).

use serde::Serialize;

use crate::checks::CheckReport;
use crate::driver::{StepResult, best_step};

pub struct SystemRun {
    pub target: String,
    pub store: String,
    pub setup_events: u64,
    pub setup_s: f64,
    pub steps: Vec<StepResult>,
    pub checks: CheckReport,
    pub p99_bound_ms: f64,
}

impl SystemRun {
    pub fn best(&self) -> Option<&StepResult> {
        best_step(&self.steps, self.p99_bound_ms)
    }

    pub fn best_events_per_sec(&self) -> f64 {
        self.best().map_or(0.0, |step| step.events_per_sec)
    }

    pub fn within_bound(&self) -> bool {
        self.best()
            .is_some_and(|step| step.quantile_ms(0.99) <= self.p99_bound_ms)
    }

    fn quantile_ms(&self, quantile: f64) -> f64 {
        self.best().map_or(0.0, |step| step.quantile_ms(quantile))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub target: String,
    pub store: String,
    /// Events measured on kanjo (all steps).
    pub events: u64,
    pub duration_s: f64,
    pub kanjo_events_per_sec: f64,
    pub baseline_events_per_sec: f64,
    /// kanjo ÷ baseline at the same p99 bound; 0 when the baseline did not run.
    pub ratio: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub baseline_p50_ms: f64,
    pub baseline_p99_ms: f64,
    pub baseline_p999_ms: f64,
    pub p99_bound_ms: f64,
    /// Whether kanjo's / the baseline's reported step kept p99 within the bound (when none did,
    /// the first step is reported and the ratio is not "at the same p99 bound").
    pub kanjo_within_p99_bound: bool,
    pub baseline_within_p99_bound: bool,
    pub correct: bool,
    pub kanjo_checks: CheckReport,
    pub baseline_checks: Option<CheckReport>,
    pub command: String,
    pub notes: Vec<String>,
    pub report: Option<String>,
}

impl Summary {
    pub fn new(
        scenario: &str,
        command: String,
        kanjo: &SystemRun,
        baseline: Option<&SystemRun>,
    ) -> Summary {
        let kanjo_rate = kanjo.best_events_per_sec();
        let baseline_rate = baseline.map_or(0.0, SystemRun::best_events_per_sec);
        Summary {
            scenario: scenario.to_owned(),
            target: kanjo.target.clone(),
            store: kanjo.store.clone(),
            events: kanjo.steps.iter().map(|step| step.events).sum(),
            duration_s: kanjo.steps.iter().map(|step| step.duration_s).sum(),
            kanjo_events_per_sec: kanjo_rate,
            baseline_events_per_sec: baseline_rate,
            ratio: if baseline_rate > 0.0 {
                kanjo_rate / baseline_rate
            } else {
                0.0
            },
            p50_ms: kanjo.quantile_ms(0.5),
            p99_ms: kanjo.quantile_ms(0.99),
            p999_ms: kanjo.quantile_ms(0.999),
            baseline_p50_ms: baseline.map_or(0.0, |run| run.quantile_ms(0.5)),
            baseline_p99_ms: baseline.map_or(0.0, |run| run.quantile_ms(0.99)),
            baseline_p999_ms: baseline.map_or(0.0, |run| run.quantile_ms(0.999)),
            p99_bound_ms: kanjo.p99_bound_ms,
            kanjo_within_p99_bound: kanjo.within_bound(),
            baseline_within_p99_bound: baseline.is_some_and(SystemRun::within_bound),
            correct: kanjo.checks.passed() && baseline.is_none_or(|run| run.checks.passed()),
            kanjo_checks: kanjo.checks.clone(),
            baseline_checks: baseline.map(|run| run.checks.clone()),
            command,
            notes: Vec::new(),
            report: None,
        }
    }

    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}: kanjo ({}, {}) {:.0} events/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms\n",
            self.scenario,
            self.target,
            self.store,
            self.kanjo_events_per_sec,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms
        );
        if self.baseline_events_per_sec > 0.0 {
            text.push_str(&format!(
                "naive PostgreSQL baseline {:.0} events/s, p99 {:.2} ms; ratio {:.1}x (p99 bound {} ms)\n",
                self.baseline_events_per_sec, self.baseline_p99_ms, self.ratio, self.p99_bound_ms
            ));
        }
        if !self.kanjo_within_p99_bound
            || (self.baseline_events_per_sec > 0.0 && !self.baseline_within_p99_bound)
        {
            text.push_str("note: no step of a system kept p99 within the bound; the ratio is not at the same p99 bound\n");
        }
        text.push_str(&format!(
            "checks: {}\n",
            if self.correct { "pass" } else { "FAIL" }
        ));
        if let Some(replays) = &self.kanjo_checks.token_replays {
            text.push_str(&format!(
                "replayed customer tokens: {} sent (of {} generated), {} refused token_used, {} accepted; {} of {} first uses accepted\n",
                replays.sent,
                replays.generated,
                replays.refused_token_used,
                replays.accepted,
                replays.first_uses_accepted,
                replays.first_uses_sent
            ));
        }
        for problem in self
            .kanjo_checks
            .problems
            .iter()
            .chain(self.baseline_checks.iter().flat_map(|c| c.problems.iter()))
        {
            text.push_str(&format!("  {problem}\n"));
        }
        if let Some(report) = &self.report {
            text.push_str(&format!("report: {report}\n"));
        }
        text
    }
}
