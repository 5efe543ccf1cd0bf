//! kanjo in-process: the engine's pipeline driven through `Engine::submit`, on the embedded SQLite
//! store or PostgreSQL. After the run, the checks read the engine (trial balance, redemptions)
//! and then the store's log itself (every accepted event stored exactly once). Customer tokens are
//! checked at the edge first, with the engine's own edge check (`kanjo_engine::tokens::check_event`,
//! as the API and `kanjo import` do), against the device keys read once after they were
//! registered: the API reads them per request through the pipeline, which here would make every
//! lane wait for a flush per batch, and let the lanes drift apart in event time (a lane an hour
//! of festival time ahead makes the machine forget the other lane's nonces and expire its holds).

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

use anyhow::{Context, Result, anyhow, bail};
use kanjo_core::answer::Outcome;
use kanjo_core::event::Event;
use kanjo_core::machine::{DeviceKey, Machine, Prepared};
use kanjo_core::report::{self, TrialBalance};
use kanjo_core::shops::ShopSpec;
use kanjo_engine::pipeline::{
    Answer as EngineAnswer, Engine, EngineConfig, SUBMISSION_EVENTS_MAX, SubmitError,
};
use kanjo_engine::tokens::{KeysByRider, check_event, claimed_riders, keys_query};
use kanjo_store::{self as store, EntryKind, StoreTarget};
use kanjo_workload::RiderRecord;

use crate::checks::CheckReport;
use crate::target::{Answer, Pending, Target};

/// How long a submission waits in total for room in a full queue, or for the store to recover,
/// before the run fails.
const QUEUE_FULL_WAIT_MS_MAX: u64 = 30_000;
const RECOVERING_WAIT_MS_MAX: u64 = 120_000;
const RECOVERING_PAUSE_MS: u64 = 20;
const LOG_PAGE_RECORDS: usize = 64;

pub struct InProcess {
    engine: Engine,
    store: StoreTarget,
    /// The device keys registered through `register_keys` (the run registers keys in setup only).
    keys: RwLock<KeysByRider>,
}

impl InProcess {
    /// `expected_events` sizes the engine's tables up front (0: grow on demand).
    pub fn start(
        store: StoreTarget,
        programme: &Path,
        expected_events: usize,
    ) -> Result<InProcess> {
        if let StoreTarget::Postgres { url } = &store {
            let config: tokio_postgres::Config = url.parse().context("parsing --database-url")?;
            crate::baseline::check_loopback(&config)?;
            store::migrate(&store).context("migrating the kanjo PostgreSQL schema")?;
        }
        let mut config = EngineConfig::new(store.clone(), programme);
        config.machine.expected_events = expected_events;
        let engine = Engine::start(config)
            .with_context(|| format!("starting kanjo with {}", programme.display()))?;
        Ok(InProcess {
            engine,
            store,
            keys: RwLock::new(KeysByRider::new()),
        })
    }

    /// A second engine over a live server's store, for the checks: replays, takes no writer lock,
    /// writes nothing.
    pub fn start_read_only(store: StoreTarget, programme: &Path) -> Result<InProcess> {
        let mut config = EngineConfig::new(store.clone(), programme);
        config.read_only = true;
        let engine =
            Engine::start(config).context("replaying the server's store for the checks")?;
        Ok(InProcess {
            engine,
            store,
            keys: RwLock::new(KeysByRider::new()),
        })
    }

    pub fn register_riders(&self, records: &[RiderRecord]) -> Result<()> {
        for chunk in records.chunks(SUBMISSION_EVENTS_MAX) {
            let mut items = Vec::with_capacity(chunk.len());
            for record in chunk {
                let value = serde_json::to_value(record).context("a rider record is JSON")?;
                let item = kanjo_core::riders::check_rider_value(&value)
                    .map(kanjo_core::riders::CheckedRider::into_entry)
                    .map_err(|(rider, message)| anyhow!("rider {rider:?} refused: {message}"))?;
                items.push(item);
            }
            let results = self
                .engine
                .submit_riders(items)?
                .blocking_recv()
                .map_err(|_| anyhow!("the engine stopped while loading riders"))??;
            if let Some(Err(message)) = results.into_iter().find(Result::is_err) {
                bail!("a rider record was refused: {message}");
            }
        }
        Ok(())
    }

    /// Registers device keys (their riders must be registered first), as
    /// `POST /v1/riders/{id}/keys` does; any refusal fails the setup.
    pub fn register_keys(&self, keys: &[DeviceKey]) -> Result<()> {
        for chunk in keys.chunks(SUBMISSION_EVENTS_MAX) {
            let results = self
                .engine
                .submit_keys(chunk.to_vec())?
                .blocking_recv()
                .map_err(|_| anyhow!("the engine stopped while loading device keys"))??;
            if let Some((key, Err(refusal))) = chunk
                .iter()
                .zip(results)
                .find(|(_, result)| result.is_err())
            {
                bail!(
                    "the device key of {} was refused: {} ({})",
                    key.rider,
                    refusal.message,
                    refusal.code.code()
                );
            }
        }
        // Read back from the machine, as the edge would: only durable keys verify tokens.
        let riders = claimed_riders_of(keys);
        let durable = self.engine.query_blocking(keys_query(riders))?;
        self.keys
            .write()
            .map_err(|_| anyhow!("the key table was poisoned"))?
            .extend(durable);
        Ok(())
    }

    /// Adds the shops (checked against the programme's assets first), as `POST /v1/shops` does.
    pub fn register_shops(&self, shops: &[ShopSpec]) -> Result<()> {
        let assets = self.engine.answer_context().assets;
        for chunk in shops.chunks(SUBMISSION_EVENTS_MAX) {
            let mut records = Vec::with_capacity(chunk.len());
            for shop in chunk {
                shop.check(assets)
                    .map_err(|problem| anyhow!("shop refused: {problem}"))?;
                let canonical = serde_json::to_string(shop).context("a shop is JSON")?;
                records.push((canonical, shop.clone()));
            }
            let results = self
                .engine
                .submit_shops(records)?
                .blocking_recv()
                .map_err(|_| anyhow!("the engine stopped while loading shops"))??;
            if let Some(Err(message)) = results.into_iter().find(Result::is_err) {
                bail!("a shop record was refused: {message}");
            }
        }
        Ok(())
    }

    /// Runs `read` on the machine once everything before it is durable.
    pub fn query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Machine) -> T + Send + 'static,
    ) -> Result<T> {
        Ok(self.engine.query_blocking(read)?)
    }

    /// The checks, then shuts the engine down. `redeems` are (event id, rider) of every redeem sent.
    pub fn check_and_shutdown(
        self,
        accepted_ids: &[String],
        redeems: Vec<(String, String)>,
    ) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let balance: TrialBalance = self.engine.query_blocking(report::trial_balance)?;
        report.trial_balance_holds = balance.balanced;
        report.problems.extend(
            balance
                .problems
                .iter()
                .map(|problem| format!("kanjo: {problem}")),
        );

        let doubles = self.engine.query_blocking(move |machine: &Machine| {
            let mut accepted_per_rider: HashMap<&str, u32> = HashMap::new();
            for (id, rider) in &redeems {
                if matches!(machine.outcome(id), Some(outcome) if matches!(outcome, Outcome::Redeem { .. })) {
                    *accepted_per_rider.entry(rider.as_str()).or_default() += 1;
                }
            }
            accepted_per_rider.values().filter(|&&count| count > 1).count()
        })?;
        report.no_double_redemption = doubles == 0;
        if doubles > 0 {
            report.problems.push(format!(
                "kanjo: {doubles} riders redeemed the same entitlement twice"
            ));
        }
        self.engine.shutdown();

        let mut seen: HashMap<&str, u32> = accepted_ids.iter().map(|id| (id.as_str(), 0)).collect();
        let mut log = store::open(&self.store).context("reopening the store to check it")?;
        let mut from_seq = 1;
        loop {
            let records = log.read(from_seq, LOG_PAGE_RECORDS)?;
            let Some(last) = records.last() else { break };
            from_seq = last.seq + 1;
            for record in &records {
                for entry in record
                    .entries
                    .iter()
                    .filter(|entry| entry.kind == EntryKind::Event)
                {
                    if let Some(count) = seen.get_mut(entry.id.as_str()) {
                        *count += 1;
                    }
                }
            }
        }
        let missing = seen.values().filter(|&&count| count == 0).count();
        let repeated = seen.values().filter(|&&count| count > 1).count();
        report.acknowledged_stored_once = missing == 0 && repeated == 0;
        if !report.acknowledged_stored_once {
            report.problems.push(format!(
                "kanjo: of {} accepted events, {missing} are not in the log and {repeated} are in it more than once",
                seen.len()
            ));
        }
        Ok(report)
    }
}

/// The load test's view of an engine answer.
pub fn answer_of(id: String, outcome: &Outcome) -> Answer {
    match outcome {
        Outcome::Rejected(rejection) => Answer {
            id,
            accepted: false,
            code: Some(rejection.code.code().to_owned()),
        },
        _ => Answer {
            id,
            accepted: true,
            code: None,
        },
    }
}

impl Target for InProcess {
    fn name(&self) -> String {
        "kanjo (in-process)".to_owned()
    }

    fn store(&self) -> String {
        match &self.store {
            StoreTarget::Sqlite { .. } => "sqlite".to_owned(),
            StoreTarget::Postgres { .. } => "postgresql".to_owned(),
        }
    }

    fn submit(&self, lane: usize, events: &[Event]) -> Result<Vec<Answer>> {
        self.begin(lane, events)?.wait()
    }

    /// The engine's queue is one FIFO, so a lane may have many batches in flight and still have
    /// its events applied in order. Tokens are checked first; a refused event is answered here.
    fn begin(&self, _lane: usize, events: &[Event]) -> Result<Box<dyn Pending>> {
        let mut parts = Vec::with_capacity(events.len().div_ceil(SUBMISSION_EVENTS_MAX));
        for chunk in events.chunks(SUBMISSION_EVENTS_MAX) {
            let (checked, refused) = self.check_tokens(chunk)?;
            let receiver = if checked.is_empty() {
                None
            } else {
                Some(self.submit_checked(&checked)?)
            };
            parts.push(Part { receiver, refused });
        }
        Ok(Box::new(EngineAnswers { parts }))
    }
}

impl InProcess {
    /// Hands checked events to the pipeline.
    fn submit_checked(&self, chunk: &[Event]) -> Result<EngineReply> {
        retrying(|| {
            let items = chunk.iter().cloned().map(Prepared::new).collect();
            self.engine.submit_prepared(items)
        })
    }

    /// The edge's token check of one submission: the events to submit and the refusals, each at
    /// its index.
    fn check_tokens(&self, chunk: &[Event]) -> Result<(Vec<Event>, Refusals)> {
        if claimed_riders(chunk).is_empty() {
            return Ok((chunk.to_vec(), Vec::new()));
        }
        let keys = self
            .keys
            .read()
            .map_err(|_| anyhow!("the key table was poisoned"))?;
        let mut checked = Vec::with_capacity(chunk.len());
        let mut refused = Vec::new();
        for (index, event) in chunk.iter().enumerate() {
            match check_event(event.clone(), &keys) {
                Ok(event) => checked.push(event),
                Err(refusal) => refused.push((
                    index,
                    answer_of(refusal.id, &Outcome::Rejected(refusal.rejection)),
                )),
            }
        }
        Ok((checked, refused))
    }
}

fn claimed_riders_of(keys: &[DeviceKey]) -> Vec<String> {
    let mut riders: Vec<String> = keys.iter().map(|key| key.rider.clone()).collect();
    riders.sort_unstable();
    riders.dedup();
    riders
}

/// Runs `attempt` until the engine takes it, waiting out back-pressure and store recovery.
fn retrying<T>(mut attempt: impl FnMut() -> Result<T, SubmitError>) -> Result<T> {
    let mut waited_ms = 0;
    let mut recovering_ms = 0;
    loop {
        match attempt() {
            // Back-pressure: wait and retry; the wait counts in the batch's latency.
            Err(SubmitError::QueueFull { .. }) if waited_ms < QUEUE_FULL_WAIT_MS_MAX => {
                std::thread::sleep(std::time::Duration::from_millis(1));
                waited_ms += 1;
            }
            // The store is being reconnected: as a client honouring 503 + Retry-After.
            Err(SubmitError::Recovering(_)) if recovering_ms < RECOVERING_WAIT_MS_MAX => {
                std::thread::sleep(std::time::Duration::from_millis(RECOVERING_PAUSE_MS));
                recovering_ms += RECOVERING_PAUSE_MS;
            }
            result => return Ok(result?),
        }
    }
}

/// Edge refusals of one submission, each with its index in it.
type Refusals = Vec<(usize, Answer)>;

type EngineReply = tokio::sync::oneshot::Receiver<Result<Vec<EngineAnswer>, SubmitError>>;

/// One submission's answers: the engine's for the events it took, and the edge's refusals at
/// their places (index in the submission).
struct Part {
    receiver: Option<EngineReply>,
    refused: Refusals,
}

struct EngineAnswers {
    parts: Vec<Part>,
}

impl Pending for EngineAnswers {
    fn wait(self: Box<Self>) -> Result<Vec<Answer>> {
        let mut answers = Vec::new();
        for part in self.parts {
            let engine_answers = match part.receiver {
                Some(receiver) => receiver
                    .blocking_recv()
                    .map_err(|_| anyhow!("the engine stopped before answering"))??,
                None => Vec::new(),
            };
            let mut engine_answers = engine_answers
                .into_iter()
                .map(|answer| answer_of(answer.id, &answer.outcome));
            let mut refused = part.refused.into_iter().peekable();
            let total = engine_answers.len() + refused.len();
            for index in 0..total {
                let answer = match refused.next_if(|(at, _)| *at == index) {
                    Some((_, answer)) => answer,
                    None => engine_answers
                        .next()
                        .ok_or_else(|| anyhow!("the engine answered too few events"))?,
                };
                answers.push(answer);
            }
        }
        Ok(answers)
    }
}
