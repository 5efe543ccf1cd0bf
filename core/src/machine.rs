//! The one deterministic state machine: events in, rated and posted as balanced transfer chains.
//!
//! It owns the ledger, the rating state, the riders, the pending taps and the answer of every event
//! id it has seen. It does no I/O and reads no clock: each batch brings its `clock_ns`, and event
//! times drive tap expiry. Replaying the same log gives the same state, answer for answer.

use std::sync::Arc;

use hashbrown::HashMap;
use jiff::Timestamp;
use kanjo_ledger::{
    Account, AccountId, Asset, AssetId, AssetKind, CreateTransferError, Ledger, Transfer,
    TransferFlags,
};
use kanjo_rules::{
    LocalDate, OperatorIx, Programme, RateError, RatingState, RiderKey, RiderRecord, Riders,
};
use thiserror::Error;
use xxhash_rust::xxh3::{Xxh3, xxh3_64, xxh3_128};

use crate::answer::{GrantOutcome, Outcome, Rejection, RejectionCode, RideOutcome};
use crate::chart::{AMOUNT_PER_EVENT_CEILING_MINOR, AccountName, AssetBook, DEFAULT_BANK, Reason};
use crate::event::{Event, EventKind, Media, Redeem, Ride, Tap, TapDirection};
use crate::report::classes::RatedBy;
use crate::taps::{NewTap, PendingTap, TapBook};

mod chain;
mod coin;
mod conversions;
mod lots;
pub mod passes;
mod payments;
pub mod settle;
mod vouchers;
use chain::{NewAccount, legs_keep_limits};
pub use coin::CoinTotals;
pub use lots::{LOTS_PER_ACCOUNT_MAX, LOTS_TOTAL_MAX, Lot, NEVER_NS, lot_end_ns};
mod tokens;
mod versions;
pub use payments::{PAYMENT_LEGS_MAX, PAYMENT_PARTS_MAX};
pub use tokens::{
    DEVICE_KEY_TEXT_CHARS, DEVICE_KEYS_PER_RIDER_MAX, DeviceKey, KeyRefusal, KeyRefusalCode,
    TOKEN_UPLOAD_GRACE_S, USED_TOKENS_MAX,
};
pub use versions::{PROGRAMME_VERSIONS_MAX, Version, VersionBook, VersionEntry, VersionRefusal};

/// Transfers one event can post: fare, subsidy and a grant per rule at most; or a shop payment's
/// part and fee per asset.
pub const LEGS_PER_EVENT_MAX: usize = {
    let ride_legs = 2 + kanjo_rules::limits::MAX_GRANT_RULES;
    if ride_legs > PAYMENT_LEGS_MAX {
        ride_legs
    } else {
        PAYMENT_LEGS_MAX
    }
};

// One event at the largest amount an asset may declare can fill no account: an account has room
// for at least 16 of the largest events, and `legs_fit_accounts` refuses the one that would pass.
const _: () = assert!(
    LEGS_PER_EVENT_MAX as u128 * AMOUNT_PER_EVENT_CEILING_MINOR as u128 <= u64::MAX as u128 / 16
);

/// Accounts one chain may need opened: both sides of every leg.
const ACCOUNTS_TO_OPEN_MAX: usize = 2 * LEGS_PER_EVENT_MAX;

const NS_PER_MS: i128 = 1_000_000;
/// How far ahead of its batch's clock an event's time may move the tap-expiry watermark: a
/// device with a clock set years ahead must not expire everyone's taps.
const WATERMARK_LEAD_MAX_NS: i128 = 10 * 60 * 1_000_000_000;

#[derive(Clone, Debug)]
pub struct MachineConfig {
    /// A tap-on and a tap-off further apart than this are not one ride.
    pub tap_window_ms: u64,
    /// How long after the window a lone tap waits for a late upload before it expires.
    pub tap_upload_grace_ms: u64,
    /// Events (and as many accounts and transfers) to allocate room for up front, so a large day
    /// doesn't stall on growing tables mid-run; 0 grows on demand.
    pub expected_events: usize,
    /// How long past its deadline (event time) an authorisation nobody captured or voided keeps
    /// its hold, for late uploads, before the end-of-batch sweep releases it.
    pub authorization_grace_ms: u64,
}

impl Default for MachineConfig {
    fn default() -> MachineConfig {
        MachineConfig {
            tap_window_ms: 3 * 60 * 60 * 1000,
            tap_upload_grace_ms: 60 * 60 * 1000,
            expected_events: 0,
            authorization_grace_ms: 60 * 60 * 1000,
        }
    }
}

#[derive(Debug, Error)]
pub enum MachineError {
    #[error("the ledger refused the chart of accounts: {0}")]
    Genesis(String),
    #[error("the programme's shops: {0}")]
    Shops(String),
}

/// An event ready for the machine: parsed, with its id and body hashed off the machine thread.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub event: Event,
    pub id_hash: u128,
    pub body_hash: u64,
    pub canonical: String,
}

impl Prepared {
    pub fn new(event: Event) -> Prepared {
        let canonical = event.canonical_json();
        Prepared {
            id_hash: event_id_hash(&event.id),
            body_hash: xxh3_64(canonical.as_bytes()),
            canonical,
            event,
        }
    }
}

pub fn event_id_hash(id: &str) -> u128 {
    xxh3_128(id.as_bytes())
}

/// Every event id seen, with its first answer. The hash index holds only (id hash → slot), so
/// growing it moves 24-byte entries rather than whole records: rehashing millions of full
/// records stalled the pipeline for hundreds of milliseconds at election scale.
#[derive(Default)]
struct EventBook {
    index: HashMap<u128, u32>,
    records: Vec<EventRecord>,
}

impl EventBook {
    fn with_capacity(events: usize) -> EventBook {
        EventBook {
            index: HashMap::with_capacity(events),
            records: Vec::with_capacity(events),
        }
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn get(&self, id_hash: u128) -> Option<&EventRecord> {
        let slot = *self.index.get(&id_hash)?;
        Some(&self.records[slot as usize])
    }

    fn get_mut(&mut self, id_hash: u128) -> Option<&mut EventRecord> {
        let slot = *self.index.get(&id_hash)?;
        Some(&mut self.records[slot as usize])
    }

    fn insert(&mut self, id_hash: u128, record: EventRecord) {
        let slot = u32::try_from(self.records.len()).expect("fewer than 2^32 events per store");
        let previous = self.index.insert(id_hash, slot);
        assert!(previous.is_none(), "an event id is recorded once");
        self.records.push(record);
    }
}

struct EventRecord {
    id: Box<str>,
    body_hash: u64,
    outcome: Outcome,
}

/// Where and when a one-per-person entitlement was used, for the answer to a second attempt.
struct Redemption {
    place: Box<str>,
    at: Timestamp,
}

pub struct Machine {
    config: MachineConfig,
    programme: Arc<Programme>,
    assets: AssetBook,
    ledger: Ledger,
    riders: Riders,
    rating: RatingState,
    events: EventBook,
    taps: TapBook,
    redemptions: HashMap<AccountId, Redemption>,
    account_names: HashMap<AccountId, Box<str>>,
    /// Rules' asset index → ledger asset.
    rule_assets: Vec<AssetId>,
    /// Budget index → ledger account, for the budget's own fiscal year.
    budget_accounts: Vec<AccountId>,
    /// Settlement totals per (operator, local day), kept as rides are posted.
    operator_days: std::collections::BTreeMap<(OperatorIx, LocalDate), DayTotals>,
    /// Reconciliation runs and their resolutions (log entries 8 and 9).
    reconciliations: crate::reconcile::ReconBook,
    clock_ns: u64,
    watermark_ns: i128,
    legs: Vec<Transfer>,
    /// Accounts the legs need that the ledger doesn't hold yet, opened when the chain posts.
    accounts_to_open: Vec<NewAccount>,
    /// Shops from the programme and from shop records.
    shops: crate::shops::ShopBook,
    /// Purchases (for refunds) and authorisations (for captures, voids and expiry).
    payments: payments::PaymentBook,
    /// Device keys and used nonces of customer tokens.
    tokens: tokens::TokenBook,
    /// Stablecoins issued and redeemed.
    coins: coin::CoinBook,
    /// Voucher terms and sets bought.
    vouchers: vouchers::VoucherBook,
    /// Issued passes and their use (issue 13).
    passes: passes::PassBook,
    /// Riders' points lots, for spend order and expiry.
    lots: lots::LotBook,
    /// Once-per-person conversions made and grants counted per place and day.
    conversions: conversions::ConversionBook,
    /// Programme versions by effective instant (issue 12); `programme` is the latest.
    versions: versions::VersionBook,
    /// Closed periods, what each settled and the payouts recorded (issue 10).
    settlements: crate::settlement::SettleBook,
    /// Per settlement number: its period's days as closed, for its statements.
    closed_days: std::collections::BTreeMap<u64, Arc<crate::report::closed::ClosedDays>>,
}

/// One operator's local day of rides, as posted: what the settlement report is built from.
#[derive(Clone, Debug, Default)]
pub struct DayTotals {
    pub rides: u64,
    pub fares: u64,
    pub paid_wallet: u64,
    pub paid_cash: u64,
    pub paid_ic: u64,
    /// Budget index → subsidy.
    pub subsidy_by_budget: std::collections::BTreeMap<u16, u64>,
    pub cap_waived: u64,
    pub unfinished_rides: u64,
    /// The day's rides by how they were rated (rider class, fare rules), for statements.
    pub by_rating: std::collections::BTreeMap<
        crate::report::classes::RatedBy,
        crate::report::classes::RideSums,
    >,
}

impl Machine {
    /// A machine at genesis: assets, the town's and operators' accounts, and every budget funded.
    pub fn new(
        programme: Arc<Programme>,
        assets: AssetBook,
        config: MachineConfig,
    ) -> Result<Machine, MachineError> {
        let rule_assets = programme
            .assets()
            .map(|(_, code)| {
                assets.get(code).map(|(id, _)| id).ok_or_else(|| {
                    MachineError::Genesis(format!("asset {code} is not in the book"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let expected_events = config.expected_events;
        let passes = passes::PassBook::new(&programme);
        let mut machine = Machine {
            config,
            assets,
            ledger: if expected_events > 0 {
                Ledger::with_capacity(expected_events, expected_events)
            } else {
                Ledger::new()
            },
            riders: Riders::new(),
            rating: RatingState::new(&programme),
            versions: versions::VersionBook::new(&programme),
            events: EventBook::with_capacity(expected_events),
            taps: TapBook::default(),
            redemptions: HashMap::new(),
            account_names: HashMap::new(),
            rule_assets,
            budget_accounts: Vec::new(),
            operator_days: std::collections::BTreeMap::new(),
            reconciliations: crate::reconcile::ReconBook::default(),
            clock_ns: 0,
            watermark_ns: i128::MIN,
            legs: Vec::with_capacity(LEGS_PER_EVENT_MAX),
            accounts_to_open: Vec::with_capacity(ACCOUNTS_TO_OPEN_MAX),
            programme,
            shops: crate::shops::ShopBook::default(),
            payments: payments::PaymentBook::default(),
            tokens: tokens::TokenBook::default(),
            coins: coin::CoinBook::default(),
            vouchers: vouchers::VoucherBook::default(),
            passes,
            lots: lots::LotBook::default(),
            conversions: conversions::ConversionBook::default(),
            settlements: crate::settlement::SettleBook::default(),
            closed_days: std::collections::BTreeMap::new(),
        };
        machine.genesis()?;
        machine.open_programme_shops()?;
        machine.open_voucher_budgets()?;
        Ok(machine)
    }

    fn genesis(&mut self) -> Result<(), MachineError> {
        const GENESIS_CLOCK_NS: u64 = 1;
        let ledger_assets: Vec<Asset> = self
            .assets
            .iter()
            .map(|(id, spec)| Asset::new(id.0, &spec.code, spec.kind.into(), spec.scale))
            .collect();
        let failures = self.ledger.create_assets(&ledger_assets);
        if let Some(failure) = failures.first() {
            return Err(MachineError::Genesis(format!(
                "asset {}: {}",
                ledger_assets[failure.index as usize].code,
                failure.result.code()
            )));
        }
        let yen = self.assets.yen();
        let programme = Arc::clone(&self.programme);
        let treasury = self.open_account(
            &AccountName::Treasury {
                town: programme.town_code(),
            },
            yen,
            GENESIS_CLOCK_NS,
        );
        for (_, operator) in programme.operators() {
            for name in [
                AccountName::OperatorFares { operator },
                AccountName::OperatorSubsidy { operator },
                AccountName::OperatorCash { operator },
            ] {
                self.open_account(&name, yen, GENESIS_CLOCK_NS);
            }
        }
        self.open_account(&AccountName::IcClearing, yen, GENESIS_CLOCK_NS);
        for (_, code) in programme.assets() {
            let (asset, _) = self.assets.get(code).expect("rule assets are in the book");
            self.open_account(
                &AccountName::Issuer { asset: code },
                asset,
                GENESIS_CLOCK_NS,
            );
        }
        let mut funding = Vec::new();
        for budget in programme.budgets() {
            let name = AccountName::Budget {
                budget: &budget.id,
                fiscal_year: budget.fiscal_year,
            };
            let account = self.open_account(&name, yen, GENESIS_CLOCK_NS);
            self.budget_accounts.push(account);
            if budget.limit > 0 {
                funding.push(Transfer::new(
                    transfer_id(account, 0),
                    treasury,
                    account,
                    budget.limit,
                    yen,
                    Reason::BudgetFunding as u16,
                ));
            }
        }
        let failures = self.ledger.create_transfers(&funding, GENESIS_CLOCK_NS);
        if let Some(failure) = failures.first() {
            return Err(MachineError::Genesis(format!(
                "funding budget {}: {}",
                programme.budgets()[failure.index as usize].id,
                failure.result.code()
            )));
        }
        self.clock_ns = GENESIS_CLOCK_NS;
        Ok(())
    }

    /// Opens the account if it does not exist yet; its id either way.
    fn open_account(&mut self, name: &AccountName, asset: AssetId, clock_ns: u64) -> AccountId {
        let id = name.id();
        if self.ledger.account(id).is_some() {
            return id;
        }
        let account = Account::new(id, asset, name.owner(), name.flags());
        let failures = self.ledger.create_accounts(&[account], clock_ns);
        assert!(failures.is_empty(), "opening {name}: {:?}", failures);
        self.account_names
            .insert(id, name.to_string().into_boxed_str());
        id
    }

    pub fn programme(&self) -> &Arc<Programme> {
        &self.programme
    }

    pub fn assets(&self) -> &AssetBook {
        &self.assets
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn clock_ns(&self) -> u64 {
        self.clock_ns
    }

    pub fn account_name(&self, id: AccountId) -> Option<&str> {
        self.account_names.get(&id).map(|name| &**name)
    }

    pub fn events_seen(&self) -> usize {
        self.events.len()
    }

    pub fn pending_taps(&self) -> usize {
        self.taps.len()
    }

    /// Reconciliation runs and the clerks' resolutions of their exceptions.
    pub fn reconciliations(&self) -> &crate::reconcile::ReconBook {
        &self.reconciliations
    }

    /// Keeps a reconciliation run (log entry 8); the same run again changes nothing.
    pub fn record_reconciliation(
        &mut self,
        run: &crate::reconcile::ReconRun,
    ) -> Result<(), crate::reconcile::ReconRefusal> {
        self.reconciliations.record_run(run)
    }

    /// Marks a run's exception resolved (log entry 9), for the audit trail.
    pub fn resolve_exception(
        &mut self,
        resolution: &crate::reconcile::Resolution,
    ) -> Result<(), crate::reconcile::ReconRefusal> {
        self.reconciliations.resolve(resolution)
    }

    pub fn riders_known(&self) -> usize {
        self.riders.len()
    }

    /// The stored answer of an event id, if the machine has seen it.
    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.events
            .get(event_id_hash(id))
            .map(|record| &record.outcome)
    }

    /// The id of the event whose hash a transfer carries in `user_data_128`.
    pub fn event_id_of(&self, id_hash: u128) -> Option<&str> {
        self.events.get(id_hash).map(|record| &*record.id)
    }

    /// Starts a batch: time moves forward only.
    pub fn begin_batch(&mut self, clock_ns: u64) {
        assert!(
            clock_ns > self.clock_ns,
            "batch clocks strictly increase: {clock_ns} after {}",
            self.clock_ns
        );
        self.clock_ns = clock_ns;
        self.forget_expired_tokens();
    }

    /// Adds or replaces a rider's attribute record.
    pub fn upsert_rider(&mut self, record: RiderRecord) -> Result<(), String> {
        self.riders
            .upsert(record)
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    /// Applies one event and returns its answer. The same id with the same body returns the first
    /// answer and changes nothing; with another body it is refused and changes nothing.
    pub fn apply(&mut self, prepared: &Prepared) -> Outcome {
        if let Some(record) = self.events.get(prepared.id_hash) {
            if record.body_hash == prepared.body_hash {
                return record.outcome.clone();
            }
            return Outcome::Rejected(Rejection::new(
                RejectionCode::IdConflict,
                format!(
                    "event {} was already received with a different body; an id can't be reused",
                    prepared.event.id
                ),
            ));
        }
        let at_ns = prepared.event.at.as_nanosecond();
        self.accounts_to_open.clear();
        let lead_limit_ns = i128::from(self.clock_ns) + WATERMARK_LEAD_MAX_NS;
        // Lots that ended by this event's time (within the watermark's lead) pay no more.
        self.expire_lots_at(self.watermark_ns.max(at_ns.min(lead_limit_ns)));
        self.lots.now_ns = at_ns;
        let outcome = match &prepared.event.kind {
            EventKind::Ride(ride) => self.apply_ride(prepared, ride),
            EventKind::Tap(tap) => self.apply_tap(prepared, tap),
            EventKind::Topup(topup) if self.is_stablecoin(&topup.asset) => {
                self.apply_coin_issue(prepared, topup)
            }
            EventKind::Topup(topup) => {
                let source = topup.source.as_deref().unwrap_or(DEFAULT_BANK);
                self.apply_movement(
                    prepared,
                    &topup.asset,
                    topup.amount_minor,
                    Movement::Topup {
                        source,
                        rider: &topup.rider,
                    },
                )
            }
            EventKind::Grant(grant) if let Some(product) = self.pass_product_of(&grant.asset) => {
                self.apply_pass_issue(prepared, grant, &product)
            }
            EventKind::Grant(grant) => self.apply_grant(prepared, grant),
            EventKind::Convert(convert) => self.apply_convert(prepared, convert),
            EventKind::Redeem(redeem) => self.apply_redeem(prepared, redeem),
            EventKind::Purchase(_)
            | EventKind::Authorize(_)
            | EventKind::Capture(_)
            | EventKind::Void(_)
            | EventKind::Refund(_)
            | EventKind::Send(_) => self.apply_shop_event(prepared),
            EventKind::Withdraw(withdraw) => self.apply_withdraw(prepared, withdraw),
            EventKind::VoucherPurchase(purchase) => self.apply_voucher_purchase(prepared, purchase),
        };
        self.watermark_ns = self.watermark_ns.max(at_ns.min(lead_limit_ns));
        self.versions.events_until_ns = self.versions.events_until_ns.max(at_ns);
        self.events.insert(
            prepared.id_hash,
            EventRecord {
                id: prepared.event.id.clone().into_boxed_str(),
                body_hash: prepared.body_hash,
                outcome: outcome.clone(),
            },
        );
        outcome
    }

    /// Charges the taps whose time ran out by the event-time watermark. Run at the end of a batch.
    pub fn expire_taps(&mut self) -> usize {
        let expired = self.taps.expire(self.watermark_ns);
        let count = expired.len();
        for tap in expired {
            self.lots.now_ns = tap.at_ns;
            let outcome = match tap.direction {
                TapDirection::On => match self.charge_unfinished_ride(&tap) {
                    Ok(ride) => Outcome::TapExpired { ride },
                    Err(rejection) => Outcome::Rejected(rejection),
                },
                TapDirection::Off => Outcome::TapUnmatched,
            };
            let record = self
                .events
                .get_mut(tap.id_hash)
                .expect("every pending tap was recorded when it arrived");
            record.outcome = outcome;
        }
        count
    }

    fn tap_expiry_ns(&self) -> i128 {
        i128::from(self.config.tap_window_ms + self.config.tap_upload_grace_ms) * NS_PER_MS
    }

    fn apply_ride(&mut self, prepared: &Prepared, ride: &Ride) -> Outcome {
        let fields = RideParts {
            at: prepared.event.at,
            operator: &ride.operator,
            route: ride.route.as_deref(),
            from: ride.from.as_deref(),
            to: ride.to.as_deref(),
            rider: ride.rider.as_deref(),
            media: ride.media,
        };
        match self.rate_and_post(prepared.id_hash, &fields, None) {
            Ok(ride) => Outcome::Ride(ride),
            Err(rejection) => Outcome::Rejected(rejection),
        }
    }

    fn apply_tap(&mut self, prepared: &Prepared, tap: &Tap) -> Outcome {
        if self.programme.operator(&tap.operator).is_none() {
            return Outcome::Rejected(Rejection::new(
                RejectionCode::UnknownOperator,
                format!("no fare table for operator {:?}", tap.operator),
            ));
        }
        let new_tap = NewTap {
            event_id: &prepared.event.id,
            id_hash: prepared.id_hash,
            direction: tap.direction,
            at_ns: prepared.event.at.as_nanosecond(),
            operator: &tap.operator,
            route: tap.route.as_deref(),
            stop: &tap.stop,
            rider: &tap.rider,
            vehicle: &tap.vehicle,
            media: tap.media,
        };
        let window_ns = i128::from(self.config.tap_window_ms) * NS_PER_MS;
        let Some(partner) = self.taps.take_partner(&new_tap, window_ns) else {
            if self.taps.hold(&new_tap, self.tap_expiry_ns()) {
                return Outcome::TapPending;
            }
            return Outcome::Rejected(Rejection::new(
                RejectionCode::TooManyPendingTaps,
                "the engine holds the most unpaired taps it may; pair or expire some first",
            ));
        };
        let fields = paired_ride(prepared, tap, &partner);
        match self.rate_and_post(prepared.id_hash, &fields, None) {
            Ok(ride) => {
                let record = self
                    .events
                    .get_mut(partner.id_hash)
                    .expect("a pending tap was recorded when it arrived");
                record.outcome = Outcome::TapCompletedBy {
                    with: prepared.event.id.clone().into_boxed_str(),
                };
                Outcome::TapPaired {
                    ride,
                    with: partner.event_id,
                }
            }
            Err(rejection) => {
                // The pair could not be charged (an unknown stop, a wallet that can't pay): the partner
                // waits again, so a corrected tap can still complete it.
                self.hold_again(&partner, &tap.vehicle);
                Outcome::Rejected(rejection)
            }
        }
    }

    /// Puts a tap taken for a pair that could not be charged back among the waiting taps.
    fn hold_again(&mut self, partner: &PendingTap, vehicle: &str) {
        let restored = self.taps.hold(
            &NewTap {
                event_id: &partner.event_id,
                id_hash: partner.id_hash,
                direction: partner.direction,
                at_ns: partner.at_ns,
                operator: &partner.operator,
                route: partner.route.as_deref(),
                stop: &partner.stop,
                rider: &partner.rider,
                vehicle,
                media: partner.media,
            },
            self.tap_expiry_ns(),
        );
        debug_assert!(restored, "a slot was just freed");
    }

    /// A tap-on nobody tapped off for: charged the highest fare from its stop on its route.
    fn charge_unfinished_ride(&mut self, tap: &PendingTap) -> Result<RideOutcome, Rejection> {
        let operator = self.programme.operator(&tap.operator).ok_or_else(|| {
            Rejection::new(RejectionCode::UnknownOperator, tap.operator.to_string())
        })?;
        let longest = self
            .versions
            .at(tap.at_ns)
            .programme
            .max_fare_from(operator, tap.route.as_deref().unwrap_or(""), &tap.stop)
            .map_err(|error| rate_rejection(&error))?;
        let fields = RideParts {
            at: Timestamp::from_nanosecond(tap.at_ns)
                .expect("tap times come from valid timestamps"),
            operator: &tap.operator,
            route: tap.route.as_deref(),
            from: Some(&tap.stop),
            to: Some(&tap.stop),
            rider: Some(&tap.rider),
            media: tap.media,
        };
        self.rate_and_post(tap.id_hash, &fields, Some((operator, longest)))
    }

    /// Rates a ride and posts it as one chain: the rider's part, the subsidy and the grants.
    /// Nothing changes (no rating state, no account) unless the chain posts.
    fn rate_and_post(
        &mut self,
        id_hash: u128,
        parts: &RideParts,
        longest_fare: Option<(OperatorIx, u64)>,
    ) -> Result<RideOutcome, Rejection> {
        let ride = self.resolve_ride(parts, longest_fare)?;
        let pass_refused = match self.pass_for_ride(parts.rider, parts.route, &ride) {
            Ok(cover) => {
                let outcome =
                    self.post_pass_ride(id_hash, parts.operator, parts.media, &ride, cover)?;
                self.add_to_operator_day(ride.operator, ride.day, &outcome, longest_fare.is_some());
                let version = self.versions.at(parts.at.as_nanosecond()).number;
                let rated = RatedBy::of(version, &outcome, None);
                self.add_rated(ride.operator, ride.day, rated, &outcome);
                return Ok(outcome);
            }
            Err(refusal) => refusal.map(passes::refusal_code),
        };
        // Rated by the version in effect at the ride's own time, not at its arrival.
        let programme = &self.versions.at(parts.at.as_nanosecond()).programme;
        let rating = kanjo_rules::rate(programme, &self.riders, &self.rating, &ride)
            .map_err(|error| rate_rejection(&error))?;
        debug_assert_eq!(
            rating.fare,
            rating.rider_pays + rating.discount + rating.cap_waived
        );
        let fare_legs = self.fare_legs(parts, &rating)?;
        self.start_legs();
        self.legs.extend(fare_legs.into_iter().flatten());
        let grants = self.push_grant_legs(parts.rider, &rating);
        self.post_legs(id_hash)
            .map_err(|error| self.ride_post_rejection(error, rating.rider_pays))?;
        kanjo_rules::commit(&mut self.rating, &ride, &rating);
        let outcome = RideOutcome {
            fare: rating.fare,
            rider_pays: rating.rider_pays,
            discount: rating.discount,
            cap_waived: rating.cap_waived,
            funded_by: rating.funded_by.map(|budget| budget.index() as u16),
            media: parts.media,
            rules: rating.rules.0,
            grants,
            pass: None,
            pass_refused,
        };
        let rated = RatedBy::of(
            self.versions.at(parts.at.as_nanosecond()).number,
            &outcome,
            rating.discount_rule,
        );
        self.add_to_operator_day(ride.operator, ride.day, &outcome, longest_fare.is_some());
        self.add_rated(ride.operator, ride.day, rated, &outcome);
        Ok(outcome)
    }

    /// The ride as the rules rate it: its fare looked up, or given (the longest from its stop)
    /// when the alighting stop is unknown.
    fn resolve_ride(
        &self,
        parts: &RideParts,
        longest_fare: Option<(OperatorIx, u64)>,
    ) -> Result<kanjo_rules::Ride, Rejection> {
        let programme = &self.versions.at(parts.at.as_nanosecond()).programme;
        match longest_fare {
            Some((operator, fare)) => Ok(kanjo_rules::Ride {
                at: parts.at,
                day: programme.local_date(parts.at),
                operator,
                fare,
                rider: parts.rider.and_then(|rider| self.riders.get(rider)),
                rider_key: parts.rider.map(RiderKey::of),
            }),
            None => programme
                .resolve_ride_ref(&self.riders, &parts.as_ref())
                .map_err(|error| rate_rejection(&error)),
        }
    }

    /// The legs of what the ride costs, pure: the rider's part to the operator's fares, and the
    /// discount from its budget to the operator's subsidy; either is absent when zero.
    fn fare_legs(
        &self,
        parts: &RideParts,
        rating: &kanjo_rules::Rating,
    ) -> Result<[Option<Transfer>; 2], Rejection> {
        let yen = self.assets.yen();
        let operator = parts.operator;
        let paid = if rating.rider_pays > 0 {
            let (payer, reason) = self.fare_payer(parts)?;
            let fares = AccountName::OperatorFares { operator }.id();
            Some(Transfer::new(
                0,
                payer,
                fares,
                rating.rider_pays,
                yen,
                reason as u16,
            ))
        } else {
            None
        };
        let subsidy = (rating.discount > 0).then(|| {
            let budget = rating
                .funded_by
                .expect("a discount always names its budget");
            Transfer::new(
                0,
                self.budget_accounts[budget.index()],
                AccountName::OperatorSubsidy { operator }.id(),
                rating.discount,
                yen,
                Reason::Subsidy as u16,
            )
        });
        Ok([paid, subsidy])
    }

    /// Who pays the rider's part, by media: the rider's wallet (which must exist), the
    /// operator's cash account, or IC clearing.
    fn fare_payer(&self, parts: &RideParts) -> Result<(AccountId, Reason), Rejection> {
        let operator = parts.operator;
        match parts.media {
            Media::Wallet => {
                let Some(rider) = parts.rider else {
                    return Err(Rejection::new(
                        RejectionCode::BadEvent,
                        "a wallet payment needs a `rider`",
                    ));
                };
                let wallet = AccountName::Rider {
                    rider,
                    asset: crate::chart::YEN,
                }
                .id();
                if self.ledger.account(wallet).is_none() {
                    return Err(Rejection::new(
                        RejectionCode::InsufficientFunds,
                        format!("rider {rider} has no wallet; top it up first"),
                    ));
                }
                Ok((wallet, Reason::FareWallet))
            }
            Media::Cash => Ok((
                AccountName::OperatorCash { operator }.id(),
                Reason::FareCash,
            )),
            Media::Ic => Ok((AccountName::IcClearing.id(), Reason::FareIc)),
        }
    }

    /// Adds a leg per grant, from the asset's issuer to the rider's holding (opened only if the
    /// chain posts); a ride with no rider is granted nothing.
    fn push_grant_legs(
        &mut self,
        rider: Option<&str>,
        rating: &kanjo_rules::Rating,
    ) -> Box<[GrantOutcome]> {
        let Some(rider) = rider else {
            return Box::default();
        };
        let programme = Arc::clone(&self.programme);
        let mut grants = Vec::with_capacity(rating.grants.as_slice().len());
        for grant in rating.grants.as_slice() {
            let asset = self.rule_assets[grant.asset.index()];
            let code = programme.asset_code(grant.asset);
            let issuer = AccountName::Issuer { asset: code }.id();
            let holder = self.leg_account(&AccountName::Rider { rider, asset: code }, asset);
            self.legs.push(Transfer::new(
                0,
                issuer,
                holder,
                grant.amount,
                asset,
                Reason::RideGrant as u16,
            ));
            grants.push(GrantOutcome {
                rule: grant.rule.index() as u16,
                asset,
                amount_minor: grant.amount,
            });
        }
        grants.into_boxed_slice()
    }

    /// The answer for a ride chain that did not post: a wallet short of the rider's part is
    /// `insufficient_funds`; any other refusal names the ledger's code and the leg's reason.
    fn ride_post_rejection(&self, error: PostError, rider_pays: u64) -> Rejection {
        let PostError::Ledger { leg, error } = error else {
            return self.post_rejection(&error);
        };
        let code = self.legs[leg].code;
        if error == CreateTransferError::ExceedsCredits && code == Reason::FareWallet as u16 {
            let balance = self
                .ledger
                .account(self.legs[leg].debit_account_id)
                .map_or(0, |wallet| wallet.available_debit());
            return Rejection::new(
                RejectionCode::InsufficientFunds,
                format!("the wallet holds {balance} yen, the ride costs {rider_pays} yen"),
            );
        }
        Rejection::new(
            RejectionCode::LedgerRefused,
            format!(
                "{} ({})",
                error.code(),
                Reason::from_code(code).map_or("?", Reason::name)
            ),
        )
    }

    fn add_to_operator_day(
        &mut self,
        operator: OperatorIx,
        day: LocalDate,
        ride: &RideOutcome,
        unfinished: bool,
    ) {
        let totals = self.operator_days.entry((operator, day)).or_default();
        totals.rides += 1;
        totals.fares += ride.fare;
        match ride.media {
            Media::Wallet => totals.paid_wallet += ride.rider_pays,
            Media::Cash => totals.paid_cash += ride.rider_pays,
            Media::Ic => totals.paid_ic += ride.rider_pays,
        }
        if let Some(budget) = ride.funded_by {
            *totals.subsidy_by_budget.entry(budget).or_default() += ride.discount;
        }
        totals.cap_waived += ride.cap_waived;
        totals.unfinished_rides += u64::from(unfinished);
    }

    /// Statements' breakdown of the day (kept apart from `add_to_operator_day`, which other
    /// reports read, so that its totals stay exactly what they were).
    fn add_rated(
        &mut self,
        operator: OperatorIx,
        day: LocalDate,
        rated: RatedBy,
        ride: &RideOutcome,
    ) {
        let totals = self.operator_days.entry((operator, day)).or_default();
        totals.by_rating.entry(rated).or_default().add_ride(ride);
    }

    /// Settlement totals per (operator, local day), in operator then date order.
    pub fn operator_day_totals(
        &self,
    ) -> &std::collections::BTreeMap<(OperatorIx, LocalDate), DayTotals> {
        &self.operator_days
    }

    fn apply_movement(
        &mut self,
        prepared: &Prepared,
        asset_code: &str,
        amount_minor: u64,
        movement: Movement,
    ) -> Outcome {
        self.post_movement(prepared.id_hash, asset_code, amount_minor, movement)
            .unwrap_or_else(Outcome::Rejected)
    }

    /// A topup (bank → rider) or a grant (issuer → rider): checked, then posted as one leg.
    fn post_movement(
        &mut self,
        id_hash: u128,
        asset_code: &str,
        amount_minor: u64,
        movement: Movement,
    ) -> Result<Outcome, Rejection> {
        let Some((asset, spec)) = self.assets.get(asset_code) else {
            return Err(Rejection::new(
                RejectionCode::UnknownAsset,
                format!("no asset {asset_code:?} in this programme"),
            ));
        };
        check_amount_bound(asset_code, amount_minor, spec)?;
        check_movement_kind(asset_code, AssetKind::from(spec.kind), &movement)?;
        let one_per_person = spec.one_per_person;
        let (debit, reason, rider) = match movement {
            Movement::Topup { source, rider } => (
                AccountName::Bank {
                    source,
                    asset: asset_code,
                },
                Reason::Topup,
                rider,
            ),
            Movement::Grant { rider } => (
                AccountName::Issuer { asset: asset_code },
                Reason::Grant,
                rider,
            ),
        };
        let credit = AccountName::Rider {
            rider,
            asset: asset_code,
        };
        if one_per_person {
            self.check_first_of_one(asset_code, amount_minor, rider, credit.id())?;
        }
        self.start_legs();
        let debit = self.leg_account(&debit, asset);
        let holder = self.leg_account(&credit, asset);
        self.legs.push(Transfer::new(
            0,
            debit,
            holder,
            amount_minor,
            asset,
            reason as u16,
        ));
        self.post_legs(id_hash)
            .map_err(|error| self.post_rejection(&error))?;
        Ok(match reason {
            Reason::Topup => Outcome::Topup {
                asset,
                amount_minor,
            },
            _ => Outcome::Grant {
                asset,
                amount_minor,
                pass: None,
            },
        })
    }

    /// A one-per-person asset comes one at a time, and once per rider ever.
    fn check_first_of_one(
        &self,
        asset_code: &str,
        amount_minor: u64,
        rider: &str,
        holder: AccountId,
    ) -> Result<(), Rejection> {
        if amount_minor != 1 {
            return Err(Rejection::new(
                RejectionCode::OnePerPerson,
                format!("{asset_code} is granted one at a time"),
            ));
        }
        if self
            .ledger
            .account(holder)
            .is_some_and(|holder| holder.credits_posted > 0)
        {
            return Err(Rejection::new(
                RejectionCode::AlreadyGranted,
                format!("rider {rider} already holds or used their {asset_code}"),
            ));
        }
        Ok(())
    }

    fn apply_redeem(&mut self, prepared: &Prepared, redeem: &Redeem) -> Outcome {
        self.post_redeem(prepared, redeem)
            .unwrap_or_else(Outcome::Rejected)
    }

    /// A redemption (rider → place): checked, then posted as one leg; a one-per-person
    /// entitlement remembers where and when it was used.
    fn post_redeem(&mut self, prepared: &Prepared, redeem: &Redeem) -> Result<Outcome, Rejection> {
        let Some((asset, spec)) = self.assets.get(&redeem.asset) else {
            return Err(Rejection::new(
                RejectionCode::UnknownAsset,
                format!("no asset {:?} in this programme", redeem.asset),
            ));
        };
        if !matches!(
            AssetKind::from(spec.kind),
            AssetKind::Points | AssetKind::Entitlement
        ) {
            return Err(Rejection::new(
                RejectionCode::WrongAssetKind,
                format!("{} is money: pay with it, don't redeem it", redeem.asset),
            ));
        }
        check_amount_bound(&redeem.asset, redeem.amount_minor, spec)?;
        let one_per_person = spec.one_per_person;
        let holder = AccountName::Rider {
            rider: &redeem.rider,
            asset: &redeem.asset,
        }
        .id();
        self.check_redeemable(redeem, holder, one_per_person)?;
        self.start_legs();
        let place = self.leg_account(
            &AccountName::Place {
                place: &redeem.place,
                asset: &redeem.asset,
            },
            asset,
        );
        self.legs.push(Transfer::new(
            0,
            holder,
            place,
            redeem.amount_minor,
            asset,
            Reason::Redeem as u16,
        ));
        self.post_legs(prepared.id_hash)
            .map_err(|error| self.post_rejection(&error))?;
        if one_per_person {
            self.redemptions.insert(
                holder,
                Redemption {
                    place: redeem.place.clone().into_boxed_str(),
                    at: prepared.event.at,
                },
            );
        }
        Ok(Outcome::Redeem {
            asset,
            amount_minor: redeem.amount_minor,
        })
    }

    /// `already_redeemed` for a one-per-person entitlement used before (saying where and when),
    /// `not_entitled` if the rider holds less than the redemption needs.
    fn check_redeemable(
        &self,
        redeem: &Redeem,
        holder: AccountId,
        one_per_person: bool,
    ) -> Result<(), Rejection> {
        if let Some(used) = self.redemptions.get(&holder).filter(|_| one_per_person) {
            return Err(Rejection::new(
                RejectionCode::AlreadyRedeemed,
                format!(
                    "rider {} already used their {} at {} at {}",
                    redeem.rider,
                    redeem.asset,
                    used.place,
                    self.programme
                        .timezone()
                        .to_datetime(used.at)
                        .strftime("%Y-%m-%d %H:%M local time")
                ),
            ));
        }
        let available = self
            .ledger
            .account(holder)
            .map_or(0, |account| account.available_debit());
        if available < redeem.amount_minor {
            return Err(Rejection::new(
                RejectionCode::NotEntitled,
                format!(
                    "rider {} holds {available} {}, needs {}",
                    redeem.rider, redeem.asset, redeem.amount_minor
                ),
            ));
        }
        Ok(())
    }

    /// Posts `self.legs` as one linked chain; ids and references derive from the event. A chain
    /// that would overflow an account is refused before the ledger sees it, and the accounts it
    /// needs are opened only once it is known to post.
    fn post_legs(&mut self, id_hash: u128) -> Result<(), PostError> {
        self.post_legs_from(id_hash, 0)
    }

    /// `post_legs` with the legs numbered from `first_leg`: a second chain under the same event
    /// (an authorisation's expiry) gets transfer ids of its own.
    fn post_legs_from(&mut self, id_hash: u128, first_leg: u8) -> Result<(), PostError> {
        assert!(self.legs.len() <= LEGS_PER_EVENT_MAX);
        assert!(usize::from(first_leg) + self.legs.len() <= usize::from(u8::MAX));
        let checked = self.check_legs();
        if checked.is_ok() {
            self.open_leg_accounts();
        }
        self.accounts_to_open.clear();
        checked?;
        if self.legs.is_empty() {
            return Ok(());
        }
        let last = self.legs.len() - 1;
        for (leg, transfer) in self.legs.iter_mut().enumerate() {
            transfer.id = transfer_id(id_hash, first_leg + leg as u8);
            transfer.user_data_128 = id_hash;
            if leg < last {
                transfer.flags |= TransferFlags::LINKED;
            }
        }
        let failures = self.ledger.create_transfers(&self.legs, self.clock_ns);
        // The failing link names the cause; the others only say the chain failed.
        let Some(failure) = failures
            .iter()
            .find(|failure| failure.result != CreateTransferError::LinkedEventFailed)
            .or(failures.first())
        else {
            self.follow_lots(id_hash);
            return Ok(());
        };
        debug_assert!(
            !matches!(
                failure.result,
                CreateTransferError::OverflowsDebitsPosted
                    | CreateTransferError::OverflowsCreditsPosted
                    | CreateTransferError::OverflowsDebitsPending
                    | CreateTransferError::OverflowsCreditsPending
                    | CreateTransferError::OverflowsDebits
                    | CreateTransferError::OverflowsCredits
            ),
            "legs_fit_accounts let an overflow through: {:?}",
            failure.result
        );
        Err(PostError::Ledger {
            leg: failure.index as usize,
            error: failure.result,
        })
    }

    /// What the machine checks before the ledger sees the chain: every account has room for the
    /// legs; and when the chain needs accounts the ledger doesn't hold yet, every account limit
    /// holds leg by leg, so that those accounts are opened only for a chain that posts.
    fn check_legs(&self) -> Result<(), PostError> {
        legs_fit_accounts(&self.ledger, &self.legs)
            .map_err(|account| PostError::NoHeadroom { account })?;
        if self.accounts_to_open.is_empty() {
            return Ok(());
        }
        legs_keep_limits(&self.ledger, &self.legs, &self.accounts_to_open)
            .map_err(|(leg, error)| PostError::Ledger { leg, error })
    }

    /// Starts a chain: no legs, no accounts to open.
    fn start_legs(&mut self) {
        self.legs.clear();
        self.accounts_to_open.clear();
    }

    /// The id of an account a leg will use. An account the ledger doesn't hold yet is opened by
    /// `post_legs` just before the chain posts, and never if the event is rejected.
    fn leg_account(&mut self, name: &AccountName, asset: AssetId) -> AccountId {
        let id = name.id();
        let known = self.ledger.account(id).is_some()
            || self.accounts_to_open.iter().any(|new| new.account.id == id);
        if !known {
            assert!(
                self.accounts_to_open.len() < ACCOUNTS_TO_OPEN_MAX,
                "a chain touches at most two accounts per leg"
            );
            self.accounts_to_open.push(NewAccount {
                account: Account::new(id, asset, name.owner(), name.flags()),
                name: name.to_string().into_boxed_str(),
            });
        }
        id
    }

    /// Opens the accounts the legs use that the ledger doesn't hold yet, one at a time in the
    /// order the legs asked for them (the order, and so the ledger timestamps, of opening them on
    /// first use).
    fn open_leg_accounts(&mut self) {
        let mut opening = std::mem::take(&mut self.accounts_to_open);
        for new in opening.drain(..) {
            let id = new.account.id;
            let used = self
                .legs
                .iter()
                .any(|leg| leg.debit_account_id == id || leg.credit_account_id == id);
            if !used || self.ledger.account(id).is_some() {
                continue;
            }
            let failures = self.ledger.create_accounts(&[new.account], self.clock_ns);
            assert!(failures.is_empty(), "opening {}: {:?}", new.name, failures);
            self.account_names.insert(id, new.name);
        }
        self.accounts_to_open = opening;
    }

    /// The answer for a chain that could not be posted.
    fn post_rejection(&self, error: &PostError) -> Rejection {
        match error {
            PostError::NoHeadroom { account } => Rejection::new(
                RejectionCode::AmountTooLarge,
                format!(
                    "account {} can't take this amount: its running totals would pass the largest the ledger holds",
                    self.account_name(*account).unwrap_or("?")
                ),
            ),
            PostError::Ledger { error, .. } => {
                Rejection::new(RejectionCode::LedgerRefused, error.code())
            }
        }
    }
}

/// Why `post_legs` posted nothing.
enum PostError {
    /// Posting would overflow this account's u64 debits or credits: the event's own amount is
    /// the problem, so it alone is refused (`amount_too_large`), never later events.
    NoHeadroom { account: AccountId },
    /// The ledger refused the chain; `leg` is the leg that names the cause.
    Ledger {
        leg: usize,
        error: CreateTransferError,
    },
}

/// `amount_too_large` when a topup, grant or redeem carries more than its asset allows.
fn check_amount_bound(
    asset_code: &str,
    amount_minor: u64,
    spec: &crate::chart::AssetSpec,
) -> Result<(), Rejection> {
    let bound = spec.max_amount_per_event_minor();
    if amount_minor <= bound {
        return Ok(());
    }
    Err(Rejection::new(
        RejectionCode::AmountTooLarge,
        format!(
            "{amount_minor} {asset_code} is more than one event may carry ({bound}, max_amount_per_event)"
        ),
    ))
}

/// Checks that every account the legs touch has room for them: for each account and side, the
/// legs' sum plus posted plus pending fits a u64 (what the ledger needs for this chain and for
/// its `debits_posted + debits_pending` sums). Err names the first account without room.
fn legs_fit_accounts(ledger: &Ledger, legs: &[Transfer]) -> Result<(), AccountId> {
    debug_assert!(legs.len() <= LEGS_PER_EVENT_MAX);
    // At most LEGS_PER_EVENT_MAX legs: summing per (account, side) by rescanning is cheaper than a map.
    for (index, leg) in legs.iter().enumerate() {
        for debit in [true, false] {
            let side = |transfer: &Transfer| {
                if debit {
                    transfer.debit_account_id
                } else {
                    transfer.credit_account_id
                }
            };
            let account = side(leg);
            if legs[..index].iter().any(|earlier| side(earlier) == account) {
                continue;
            }
            let adding: u128 = legs
                .iter()
                .filter(|other| side(other) == account)
                .map(|other| u128::from(other.amount))
                .sum();
            let held = ledger.account(account).map_or(0, |held| {
                if debit {
                    u128::from(held.debits_posted) + u128::from(held.debits_pending)
                } else {
                    u128::from(held.credits_posted) + u128::from(held.credits_pending)
                }
            });
            if held + adding > u128::from(u64::MAX) {
                return Err(account);
            }
        }
    }
    Ok(())
}

/// `wrong_asset_kind` unless money is topped up, and points and entitlements are granted.
fn check_movement_kind(
    asset_code: &str,
    kind: AssetKind,
    movement: &Movement,
) -> Result<(), Rejection> {
    match movement {
        Movement::Topup { .. } if !matches!(kind, AssetKind::Yen | AssetKind::Stablecoin) => {
            Err(Rejection::new(
                RejectionCode::WrongAssetKind,
                format!(
                    "{asset_code} is not money: points and entitlements are granted, not topped up"
                ),
            ))
        }
        Movement::Grant { .. } if !matches!(kind, AssetKind::Points | AssetKind::Entitlement) => {
            Err(Rejection::new(
                RejectionCode::WrongAssetKind,
                format!("{asset_code} is money: it is topped up from a bank, not granted"),
            ))
        }
        _ => Ok(()),
    }
}

enum Movement<'a> {
    Topup { source: &'a str, rider: &'a str },
    Grant { rider: &'a str },
}

struct RideParts<'a> {
    at: Timestamp,
    operator: &'a str,
    route: Option<&'a str>,
    from: Option<&'a str>,
    to: Option<&'a str>,
    rider: Option<&'a str>,
    media: Media,
}

impl RideParts<'_> {
    fn as_ref(&self) -> kanjo_rules::RideRef<'_> {
        kanjo_rules::RideRef {
            at: self.at,
            operator: self.operator,
            route: self.route,
            from: self.from,
            to: self.to,
            rider: self.rider,
        }
    }
}

/// The ride a tap pair makes: the tap-on's time, stop, route and media; the tap-off's stop.
fn paired_ride<'a>(prepared: &Prepared, tap: &'a Tap, partner: &'a PendingTap) -> RideParts<'a> {
    let (on_at_ns, on_stop, route, media, off_stop) = match tap.direction {
        TapDirection::Off => (
            partner.at_ns,
            &*partner.stop,
            partner.route.as_deref().or(tap.route.as_deref()),
            partner.media,
            tap.stop.as_str(),
        ),
        TapDirection::On => (
            prepared.event.at.as_nanosecond(),
            tap.stop.as_str(),
            tap.route.as_deref().or(partner.route.as_deref()),
            tap.media,
            &*partner.stop,
        ),
    };
    RideParts {
        at: Timestamp::from_nanosecond(on_at_ns).unwrap_or(prepared.event.at),
        operator: &tap.operator,
        route,
        from: Some(on_stop),
        to: Some(off_stop),
        rider: Some(&tap.rider),
        media,
    }
}

fn rate_rejection(error: &RateError) -> Rejection {
    Rejection::new(RejectionCode::of_rate_error(error), error.to_string())
}

/// Transfer ids derive from the event, so a replayed event maps onto the same transfers.
pub fn transfer_id(event: u128, leg: u8) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(&event.to_le_bytes());
    hasher.update(&[leg]);
    hasher.digest128()
}
