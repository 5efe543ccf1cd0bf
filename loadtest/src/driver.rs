//! The open-loop driver. Batches leave at their intended times (rate R, batch B: batch i is due at
//! i·B/R); each batch's latency is counted from its intended send time, not from when it actually
//! left, so a stalled system cannot hide its stall (coordinated omission). Events are spread over
//! lanes by rider so one rider's events keep their order; lanes submit in parallel.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use hdrhistogram::Histogram;
use kanjo_core::event::{Event, EventKind, Holder, PaymentToken, ShopPayment};
use kanjo_rules::ids::{FNV_OFFSET_128, fnv1a_128};

use crate::checks::AnswerProblems;
use crate::target::{Answer, Pending, Target};

pub const LANES_MAX: usize = 64;
/// Batches waiting per lane; beyond that the dispatcher waits (and the waiting shows in latency).
pub const LANE_QUEUE_BATCHES_MAX: usize = 256;
/// Batches generated ahead of the dispatcher.
pub const PREFETCH_BATCHES_MAX: usize = 64;
pub const BATCH_EVENTS_MAX: usize = 10_000;
/// The longest gap between two batches at low rates.
pub const BATCH_INTERVAL_MS: f64 = 5.0;
/// Batches one lane may have handed over and not yet had answered.
pub const IN_FLIGHT_BATCHES_MAX: usize = 64;
/// Latency above this is recorded as this (a minute is already a failed run).
pub const LATENCY_US_MAX: u64 = 60_000_000;
pub const TIMELINE_BUCKET_MS: u64 = 100;
pub const FIND_MAX_STEPS_MAX: usize = 16;

/// Judges one answer against what the workload expects; returns a problem to report.
pub type Verdict<'a> = dyn Fn(&Event, &Answer) -> Option<String> + Sync + 'a;

#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub rate_per_s: f64,
    pub batch_events: usize,
    pub max_events: u64,
    pub duration_s: f64,
    pub lanes: usize,
}

/// One measured run at one target rate.
#[derive(Clone, Debug)]
pub struct StepResult {
    pub target_rate_per_s: f64,
    pub events: u64,
    pub accepted: u64,
    pub rejected_by_code: HashMap<String, u64>,
    pub duration_s: f64,
    pub events_per_sec: f64,
    pub latency_us: Histogram<u64>,
    /// Events answered per `TIMELINE_BUCKET_MS`, from the step's start.
    pub timeline: Vec<u64>,
}

impl StepResult {
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// Everything the lanes collected besides timing.
#[derive(Default)]
pub struct Collected {
    pub acknowledged_ids: Vec<String>,
    pub problems: AnswerProblems,
}

/// The workload stream plus events generated for an earlier step but not sent before it ended:
/// they go first in the next step, so no event is skipped.
pub struct Source<'a> {
    carry: VecDeque<Event>,
    events: &'a mut (dyn Iterator<Item = Event> + Send),
}

impl<'a> Source<'a> {
    pub fn new(events: &'a mut (dyn Iterator<Item = Event> + Send)) -> Source<'a> {
        Source {
            carry: VecDeque::new(),
            events,
        }
    }
}

impl Iterator for Source<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.carry.pop_front().or_else(|| self.events.next())
    }
}

/// Which lane an event goes to: by rider, so a rider's events are ordered (payments: see below).
pub fn lane_of(event: &Event, lanes: usize) -> usize {
    let key = match &event.kind {
        EventKind::Tap(tap) => tap.rider.as_str(),
        EventKind::Ride(ride) => ride.rider.as_deref().unwrap_or(&event.id),
        EventKind::Topup(topup) => topup.rider.as_str(),
        EventKind::Grant(grant) => grant.rider.as_str(),
        EventKind::Redeem(redeem) => redeem.rider.as_str(),
        // A payment paid with a customer token goes by the token's text, so a replay of the
        // token follows its first use in one lane (and is refused `token_used`, not raced).
        EventKind::Purchase(ShopPayment {
            token: Some(PaymentToken::Presented(text)),
            ..
        })
        | EventKind::Authorize(ShopPayment {
            token: Some(PaymentToken::Presented(text)),
            ..
        }) => text.as_str(),
        // Any other payment goes by its own id, and a capture, void or refund by the id it
        // names, so each follows its payment in one lane. A rider's payments may then race each
        // other across lanes: the shops workload never lets a rider overspend in any order.
        EventKind::Purchase(_) | EventKind::Authorize(_) => event.id.as_str(),
        EventKind::Send(send) => send.from.as_str(),
        EventKind::Withdraw(withdraw) => match &withdraw.holder {
            Holder::Rider(rider) | Holder::Shop(rider) => rider.as_str(),
        },
        EventKind::VoucherPurchase(purchase) => purchase.rider.as_str(),
        EventKind::Convert(convert) => convert.rider.as_str(),
        EventKind::Capture(capture) => capture.authorization.as_str(),
        EventKind::Void(void) => void.authorization.as_str(),
        EventKind::Refund(refund) => refund.purchase.as_str(),
    };
    // FNV-1a: tiny, stable across runs and platforms.
    let hash = fnv1a_128(FNV_OFFSET_128, key.as_bytes());
    (hash % lanes as u128) as usize
}

struct LaneOutput {
    latency_us: Histogram<u64>,
    timeline: Vec<u64>,
    accepted: u64,
    rejected_by_code: HashMap<String, u64>,
    collected: Collected,
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("static histogram bounds are valid")
}

/// Runs one open-loop step, pulling events from `events`. With `rate_per_s` = infinity it is a
/// closed loop (setup): batches go as fast as lanes take them.
pub fn run_step(
    target: &dyn Target,
    source: &mut Source,
    spec: &LoadSpec,
    verdict: &Verdict<'_>,
    collected: &mut Collected,
) -> Result<StepResult> {
    assert!(
        (1..=LANES_MAX).contains(&spec.lanes),
        "lanes must be 1..={LANES_MAX}"
    );
    assert!((1..=BATCH_EVENTS_MAX).contains(&spec.batch_events));
    assert!(spec.rate_per_s > 0.0 && spec.duration_s > 0.0);
    // Small batches at low rates: a batch leaves at least every BATCH_INTERVAL_MS, so a slow
    // system is not handed its whole step at once (that would measure a burst, not a rate).
    let batch_events = if spec.rate_per_s.is_finite() {
        spec.batch_events
            .min(((spec.rate_per_s * BATCH_INTERVAL_MS / 1000.0) as usize).max(1))
    } else {
        spec.batch_events
    };
    let spec = &LoadSpec {
        batch_events,
        ..spec.clone()
    };
    let batch_interval_s = spec.batch_events as f64 / spec.rate_per_s;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(spec.duration_s);

    let stop = AtomicBool::new(false);
    let mut leftover: Vec<Event> = Vec::new();
    let outputs: Vec<Result<LaneOutput>> = std::thread::scope(|scope| {
        let (prefetch_tx, prefetch_rx) = sync_channel::<Vec<Event>>(PREFETCH_BATCHES_MAX);
        let max_events = spec.max_events;
        let batch_events = spec.batch_events;
        let stop = &stop;
        let source = &mut *source;
        scope.spawn(move || {
            let mut sent = 0u64;
            while sent < max_events && !stop.load(Ordering::Relaxed) {
                let take = batch_events.min((max_events - sent) as usize);
                let batch: Vec<Event> = source.by_ref().take(take).collect();
                if batch.is_empty() {
                    break;
                }
                sent += batch.len() as u64;
                if prefetch_tx.send(batch).is_err() {
                    break;
                }
            }
        });

        let mut senders: Vec<SyncSender<(Instant, Vec<Event>)>> = Vec::with_capacity(spec.lanes);
        let mut workers = Vec::with_capacity(spec.lanes);
        for lane in 0..spec.lanes {
            let (tx, rx) = sync_channel::<(Instant, Vec<Event>)>(LANE_QUEUE_BATCHES_MAX);
            senders.push(tx);
            workers.push(scope.spawn(move || lane_worker(target, lane, rx, start, verdict)));
        }
        if let Some(unsent) = dispatch(
            &prefetch_rx,
            &senders,
            start,
            deadline,
            batch_interval_s,
            spec.lanes,
        ) {
            leftover.extend(unsent);
        }
        drop(senders);
        // Whatever was generated but not sent goes back to the source, in order.
        stop.store(true, Ordering::Relaxed);
        while let Ok(batch) = prefetch_rx.recv() {
            leftover.extend(batch);
        }
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err(anyhow!("a lane thread panicked")))
            })
            .collect()
    });
    let elapsed_s = start.elapsed().as_secs_f64();
    for event in leftover.into_iter().rev() {
        source.carry.push_front(event);
    }

    let mut result = StepResult {
        target_rate_per_s: spec.rate_per_s,
        events: 0,
        accepted: 0,
        rejected_by_code: HashMap::new(),
        duration_s: elapsed_s,
        events_per_sec: 0.0,
        latency_us: new_histogram(),
        timeline: Vec::new(),
    };
    for output in outputs {
        let output = output?;
        result
            .latency_us
            .add(&output.latency_us)
            .expect("histograms share bounds");
        if result.timeline.len() < output.timeline.len() {
            result.timeline.resize(output.timeline.len(), 0);
        }
        for (bucket, count) in output.timeline.iter().enumerate() {
            result.timeline[bucket] += count;
        }
        result.accepted += output.accepted;
        for (code, count) in output.rejected_by_code {
            *result.rejected_by_code.entry(code).or_default() += count;
        }
        collected
            .acknowledged_ids
            .extend(output.collected.acknowledged_ids);
        collected.problems.merge(output.collected.problems);
    }
    result.events = result.latency_us.len();
    result.events_per_sec = result.events as f64 / elapsed_s.max(1e-9);
    Ok(result)
}

fn dispatch(
    prefetch: &Receiver<Vec<Event>>,
    lanes: &[SyncSender<(Instant, Vec<Event>)>],
    start: Instant,
    deadline: Instant,
    batch_interval_s: f64,
    lane_count: usize,
) -> Option<Vec<Event>> {
    let mut batch_index: u64 = 0;
    let mut split: Vec<Vec<Event>> = (0..lane_count).map(|_| Vec::new()).collect();
    while let Ok(batch) = prefetch.recv() {
        let intended = start + Duration::from_secs_f64(batch_index as f64 * batch_interval_s);
        if intended >= deadline {
            return Some(batch);
        }
        batch_index += 1;
        let now = Instant::now();
        if intended > now {
            std::thread::sleep(intended - now);
        }
        for event in batch {
            split[lane_of(&event, lane_count)].push(event);
        }
        for (lane, events) in split.iter_mut().enumerate() {
            if !events.is_empty()
                && lanes[lane]
                    .send((intended, std::mem::take(events)))
                    .is_err()
            {
                return None; // the lane failed; its error is reported by join
            }
        }
    }
    None
}

fn lane_worker(
    target: &dyn Target,
    lane: usize,
    batches: Receiver<(Instant, Vec<Event>)>,
    start: Instant,
    verdict: &Verdict<'_>,
) -> Result<LaneOutput> {
    // The submitter hands batches over; the waiter takes their answers in order. Up to
    // IN_FLIGHT_BATCHES_MAX batches per lane are in flight when the target allows it.
    let (in_flight_tx, in_flight_rx) =
        sync_channel::<(Instant, Vec<Event>, Box<dyn Pending>)>(IN_FLIGHT_BATCHES_MAX);
    std::thread::scope(|scope| {
        let waiter = scope.spawn(move || answer_waiter(target, in_flight_rx, start, verdict));
        let mut submit_error = None;
        while let Ok((intended, events)) = batches.recv() {
            match target.begin(lane, &events) {
                Ok(pending) => {
                    if in_flight_tx.send((intended, events, pending)).is_err() {
                        break; // the waiter failed; join reports why
                    }
                }
                Err(error) => {
                    submit_error = Some(error);
                    break;
                }
            }
        }
        drop(in_flight_tx);
        let output = waiter
            .join()
            .unwrap_or_else(|_| Err(anyhow!("an answer thread panicked")));
        match submit_error {
            Some(error) => Err(error),
            None => output,
        }
    })
}

fn answer_waiter(
    target: &dyn Target,
    in_flight: Receiver<(Instant, Vec<Event>, Box<dyn Pending>)>,
    start: Instant,
    verdict: &Verdict<'_>,
) -> Result<LaneOutput> {
    let mut output = LaneOutput {
        latency_us: new_histogram(),
        timeline: Vec::new(),
        accepted: 0,
        rejected_by_code: HashMap::new(),
        collected: Collected::default(),
    };
    while let Ok((intended, events, pending)) = in_flight.recv() {
        let count = events.len() as u64;
        let answers = pending.wait()?;
        let done = Instant::now();
        if answers.len() != events.len() {
            return Err(anyhow!(
                "{} answered {} of {} events",
                target.name(),
                answers.len(),
                events.len()
            ));
        }
        let latency_us = done.saturating_duration_since(intended).as_micros() as u64;
        output
            .latency_us
            .saturating_record_n(latency_us.clamp(1, LATENCY_US_MAX), count);
        let bucket = (done.duration_since(start).as_millis() as u64 / TIMELINE_BUCKET_MS) as usize;
        if output.timeline.len() <= bucket {
            output.timeline.resize(bucket + 1, 0);
        }
        output.timeline[bucket] += count;
        for (event, answer) in events.iter().zip(answers) {
            if answer.id != event.id {
                output.collected.problems.push(format!(
                    "answer for {} came back as {}",
                    event.id, answer.id
                ));
            }
            if let Some(problem) = verdict(event, &answer) {
                output.collected.problems.push(problem);
            }
            if answer.accepted {
                output.accepted += 1;
            } else {
                *output
                    .rejected_by_code
                    .entry(answer.code.clone().unwrap_or_default())
                    .or_default() += 1;
            }
            output.collected.acknowledged_ids.push(answer.id);
        }
    }
    Ok(output)
}

/// Steps the rate up from `spec.rate_per_s` by `factor` until p99 passes `p99_bound_ms` or the
/// system falls behind (under 90 % of the target rate); returns every step.
pub fn find_max(
    target: &dyn Target,
    source: &mut Source,
    spec: &LoadSpec,
    factor: f64,
    p99_bound_ms: f64,
    verdict: &Verdict<'_>,
    collected: &mut Collected,
) -> Result<Vec<StepResult>> {
    assert!(factor > 1.0);
    let mut steps = Vec::new();
    let mut rate = spec.rate_per_s;
    for _ in 0..FIND_MAX_STEPS_MAX {
        let step_spec = LoadSpec {
            rate_per_s: rate,
            max_events: spec.max_events.min((rate * spec.duration_s).ceil() as u64),
            ..spec.clone()
        };
        let step = run_step(target, source, &step_spec, verdict, collected)?;
        let exhausted = step.events < step_spec.max_events;
        let sustained = step.quantile_ms(0.99) <= p99_bound_ms && step.events_per_sec >= 0.9 * rate;
        steps.push(step);
        if !sustained || exhausted {
            break;
        }
        rate *= factor;
    }
    Ok(steps)
}

/// The best step: the highest throughput among those within the p99 bound (or the first step).
pub fn best_step(steps: &[StepResult], p99_bound_ms: f64) -> Option<&StepResult> {
    steps
        .iter()
        .filter(|step| step.quantile_ms(0.99) <= p99_bound_ms)
        .max_by(|a, b| a.events_per_sec.total_cmp(&b.events_per_sec))
        .or_else(|| steps.first())
}
