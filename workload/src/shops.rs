//! Festival-day workload: residents paying at the town's shops with town points, the SUZU coin and
//! yen (issue 15). A pure function of its config and seed, streamed one event at a time.
//!
//! - Setup (not measured): every resident is funded before the day opens. Buyers get JPY, SUZU
//!   and `muro-pt`; every third buyer also `bus-pt`, points only transport shops take. Senders
//!   (every `sender_every`-th resident) get SUZU only, and only send.
//! - The day: each action is drawn from the mix (`FestivalMix::draw`, the one place a new kind of
//!   action, such as a replayed customer token, is added): a purchase, an authorisation whose
//!   partial capture follows `capture_delay_events` later, a partial refund of a recent
//!   purchase, a send of SUZU between residents, or a purchase paid with a customer token
//!   (`kq1.`) whose very same token is presented again `capture_delay_events` later: the replay
//!   must be refused `token_used`. Every `token_every`-th buyer holds a device key (a rider
//!   record and the key are setup, `rider_records` and `device_keys`); its signing key is a hash
//!   of the seed and the resident, so setup and the day agree without a table.
//!
//! Every event is meant to be accepted, whatever order a load driver's lanes deliver them in:
//! a buyer never commits more than its funds to payments (holds count in full; refunds and
//! received sends are never counted back), a sender never sends more SUZU than it was given, a
//! refund never gives back more than is left of its purchase, and a capture is never more than
//! its hold. A refund and its purchase, a capture and its authorisation, name each other by id,
//! so a driver that keys lanes by those ids keeps each pair in order; a token's first use and
//! its replay carry the same token text, so a driver keys their lane by it. The first use spends
//! from the budget, the replay nothing (it must be refused).

use std::collections::{BTreeMap, VecDeque};

use jiff::civil::{Date, date};
use kanjo_core::event::{
    Capture, Event, EventKind, Grant, PaymentToken, Refund, SendValue, ShopPayment, Topup,
};
use kanjo_core::machine::DeviceKey;
use kanjo_core::shops::{ShopSpec, ShopStatus};
use kanjo_qr::token::{Nonce, SigningKey, TokenClaims, public_key_text, sign};

use super::clock::LocalDay;
use super::rider::{RiderKind, RiderRecord, record_for};
use super::rng::{SplitMix64, mix};

/// A festival bigger than this is a different town's problem (and a budget table past memory).
pub const RESIDENTS_MAX: u64 = 10_000_000;
pub const SHOPS_MAX: u32 = kanjo_core::shops::SHOPS_MAX as u32;
/// Recent purchases a refund may pick from.
pub const REFUNDABLE_MAX: usize = 4_096;
/// Residents tried after the drawn one before a payer with funds left is given up on.
const PAYER_PROBES_MAX: u64 = 64;
/// Shop categories besides `transport`; shop n has category n mod (len + 1) (the last is
/// transport), so every 5th shop takes `bus-pt`.
const CATEGORIES: [&str; 4] = ["grocery", "food", "crafts", "festival"];
const TRANSPORT: &str = "transport";
/// A capture comes this long after its authorisation, well inside `authorization_timeout_s`.
const CAPTURE_AFTER_S: i64 = 30;
/// A customer token lives this long after the event's `at` (kanjo-qr allows up to 120 s).
const TOKEN_LIFETIME_S: u64 = 60;
/// A replay is presented this long after the first use: well inside the token's lifetime, so it
/// is refused for being used, not for being expired.
const REPLAY_AFTER_S: i64 = 10;
const _: () = assert!(TOKEN_LIFETIME_S <= kanjo_qr::token::TOKEN_LIFETIME_MAX_S);
const _: () = assert!((REPLAY_AFTER_S as u64) < TOKEN_LIFETIME_S);
/// The mix's shares are per ten thousand, so 1 % of tokens leaves the issue's 80/10/5/5 exact.
const SHARES_TOTAL: u32 = 10_000;
/// Streams of `rng::mix` for a resident's signing key (four u64 make its 32 bytes).
const KEY_STREAM: u64 = 0x6B65_7973;
/// Event id prefixes (after `id_prefix`) of a token's first use and of its replay.
const FIRST_USE_PREFIX: &str = "t";
const REPLAY_PREFIX: &str = "u";

/// One action of the day. A new kind of action is one variant here and one arm in
/// `FestivalEvents::next_action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Purchase,
    AuthorizeCapture,
    Refund,
    Send,
    /// A purchase paid with a fresh customer token, and later the same token again (refused).
    TokenReplay,
}

/// Shares of the day's actions, per ten thousand; they sum to 10 000.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FestivalMix {
    pub purchase: u32,
    pub authorize_capture: u32,
    pub refund: u32,
    pub send: u32,
    pub token_replay: u32,
}

impl FestivalMix {
    /// The issue's mix: 1 % replayed customer tokens, and of the rest 80 % purchases, 10 %
    /// authorise + capture, 5 % refunds, 5 % sends.
    pub const FESTIVAL: FestivalMix = FestivalMix {
        purchase: 7_920,
        authorize_capture: 990,
        refund: 495,
        send: 495,
        token_replay: 100,
    };

    fn table(&self) -> [(Action, u32); 5] {
        [
            (Action::Purchase, self.purchase),
            (Action::AuthorizeCapture, self.authorize_capture),
            (Action::Refund, self.refund),
            (Action::Send, self.send),
            (Action::TokenReplay, self.token_replay),
        ]
    }

    pub fn draw(&self, rng: &mut SplitMix64) -> Action {
        let table = self.table();
        assert_eq!(
            table.iter().map(|(_, share)| share).sum::<u32>(),
            SHARES_TOTAL
        );
        let mut roll = rng.below(u64::from(SHARES_TOTAL)) as u32;
        for (action, share) in table {
            if roll < share {
                return action;
            }
            roll -= share;
        }
        unreachable!("the shares sum to SHARES_TOTAL")
    }
}

#[derive(Clone, Debug)]
pub struct FestivalConfig {
    pub seed: u64,
    pub residents: u64,
    pub shops: u32,
    /// Actions of the day (an authorisation and its capture are one action, two events).
    pub actions: u64,
    pub date: Date,
    /// The day's events are spread evenly over `open_s..close_s` (local seconds).
    pub open_s: i64,
    pub close_s: i64,
    pub mix: FestivalMix,
    /// Resident n with n mod `sender_every` = 0 only sends SUZU.
    pub sender_every: u64,
    /// Resident n with n mod `token_every` = 1 (and not a sender) holds a device key and pays
    /// the token actions.
    pub token_every: u64,
    pub jpy_topup_minor: u64,
    pub suzu_topup_minor: u64,
    pub muro_pt_grant: u64,
    pub bus_pt_grant: u64,
    pub purchase_min_minor: u64,
    pub purchase_max_minor: u64,
    pub send_min_minor: u64,
    pub send_max_minor: u64,
    /// Events between an authorisation and its capture, and between a token's first use and
    /// its replay.
    pub capture_delay_events: usize,
    /// Prefixes event, resident and shop ids, so several runs can share one store.
    pub id_prefix: String,
}

impl FestivalConfig {
    pub fn new(seed: u64, residents: u64, shops: u32, actions: u64) -> FestivalConfig {
        assert!((2..=RESIDENTS_MAX).contains(&residents));
        assert!((1..=SHOPS_MAX).contains(&shops));
        FestivalConfig {
            seed,
            residents,
            shops,
            actions,
            date: date(2026, 11, 28),
            open_s: 10 * 3600,
            close_s: 21 * 3600,
            mix: FestivalMix::FESTIVAL,
            sender_every: 20,
            token_every: 10,
            jpy_topup_minor: 200_000,
            suzu_topup_minor: 50_000,
            muro_pt_grant: 3_000,
            bus_pt_grant: 1_000,
            purchase_min_minor: 100,
            purchase_max_minor: 5_000,
            send_min_minor: 100,
            send_max_minor: 2_000,
            capture_delay_events: 64,
            id_prefix: "fest-".to_owned(),
        }
    }
}

/// The festival: its shops, its funding and its day.
#[derive(Clone, Debug)]
pub struct Festival {
    config: FestivalConfig,
}

impl Festival {
    pub fn new(config: FestivalConfig) -> Festival {
        assert!(config.open_s < config.close_s);
        assert!(config.purchase_min_minor >= 1);
        assert!(config.purchase_min_minor <= config.purchase_max_minor);
        assert!(config.send_min_minor >= 1 && config.send_min_minor <= config.send_max_minor);
        assert!(config.sender_every >= 2);
        assert!(config.token_every >= 2);
        Festival { config }
    }

    pub fn config(&self) -> &FestivalConfig {
        &self.config
    }

    pub fn resident_id(&self, resident: u64) -> String {
        format!("{}r{resident:07}", self.config.id_prefix)
    }

    pub fn shop_id(&self, shop: u32) -> String {
        format!("{}s{shop:05}", self.config.id_prefix)
    }

    fn is_sender(&self, resident: u64) -> bool {
        resident.is_multiple_of(self.config.sender_every)
    }

    fn holds_bus_points(&self, resident: u64) -> bool {
        !self.is_sender(resident) && resident.is_multiple_of(3)
    }

    fn holds_device_key(&self, resident: u64) -> bool {
        !self.is_sender(resident) && resident % self.config.token_every == 1
    }

    fn residents_with_keys(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.config.residents).filter(|resident| self.holds_device_key(*resident))
    }

    /// The resident's phone key: a hash of the seed and the resident, never stored.
    fn signing_key(&self, resident: u64) -> SigningKey {
        let mut bytes = [0u8; 32];
        for (stream, chunk) in bytes.chunks_exact_mut(8).enumerate() {
            let word = mix(self.config.seed, KEY_STREAM + stream as u64, resident);
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        SigningKey::from_bytes(&bytes)
    }

    /// Rider records of the residents holding a device key (a key needs a known rider; setup).
    pub fn rider_records(&self) -> Vec<RiderRecord> {
        self.residents_with_keys()
            .map(|resident| {
                let hash = mix(self.config.seed, KEY_STREAM - 1, resident);
                let rider = self.resident_id(resident);
                record_for(rider, RiderKind::Resident, self.config.date, hash)
            })
            .collect()
    }

    /// Their device keys (`POST /v1/riders/{id}/keys`; setup, after `rider_records`).
    pub fn device_keys(&self) -> Vec<DeviceKey> {
        self.residents_with_keys()
            .map(|resident| DeviceKey {
                rider: self.resident_id(resident),
                public_key: public_key_text(&self.signing_key(resident).verifying_key()),
            })
            .collect()
    }

    /// Whether `event` is a token's first use or its replay (`None`: no token of the day).
    pub fn token_use(&self, event: &Event) -> Option<TokenRole> {
        let (EventKind::Purchase(payment) | EventKind::Authorize(payment)) = &event.kind else {
            return None;
        };
        payment.token.as_ref()?;
        let kind = event.id.strip_prefix(self.config.id_prefix.as_str())?;
        if kind.starts_with(REPLAY_PREFIX) {
            Some(TokenRole::Replay)
        } else if kind.starts_with(FIRST_USE_PREFIX) {
            Some(TokenRole::FirstUse)
        } else {
            None
        }
    }

    /// The shop records to register before the day (`POST /v1/shops`).
    pub fn shops(&self) -> Vec<ShopSpec> {
        (0..self.config.shops)
            .map(|shop| {
                let kind = shop as usize % (CATEGORIES.len() + 1);
                let category = CATEGORIES.get(kind).copied().unwrap_or(TRANSPORT);
                ShopSpec {
                    id: self.shop_id(shop),
                    name: format!("室蘭まつり 屋台{shop}"),
                    name_kana: format!("ﾑﾛﾗﾝﾏﾂﾘﾔﾀｲ{shop}"),
                    categories: vec![category.to_owned()],
                    fees_bp: BTreeMap::from([
                        ("SUZU".to_owned(), 50),
                        ("JPY".to_owned(), 100 + 50 * (shop % 3)),
                    ]),
                    status: ShopStatus::Active,
                    bank: None,
                }
            })
            .collect()
    }

    /// Top-ups and grants before the day opens (setup).
    pub fn funding(&self) -> impl Iterator<Item = Event> + '_ {
        let at = LocalDay::jst(self.config.date).at(self.config.open_s - 3600);
        (0..self.config.residents).flat_map(move |resident| {
            let rider = self.resident_id(resident);
            let event = |asset: &str, amount_minor: u64, grant: bool| Event {
                id: format!("{}fund-{resident}-{asset}", self.config.id_prefix),
                at,
                kind: if grant {
                    EventKind::Grant(Grant {
                        rider: rider.clone(),
                        asset: asset.to_owned(),
                        amount_minor,
                        place: None,
                    })
                } else {
                    EventKind::Topup(Topup {
                        rider: rider.clone(),
                        asset: asset.to_owned(),
                        amount_minor,
                        source: None,
                    })
                },
            };
            let mut events = vec![event("SUZU", self.config.suzu_topup_minor, false)];
            if !self.is_sender(resident) {
                events.push(event("JPY", self.config.jpy_topup_minor, false));
                events.push(event("muro-pt", self.config.muro_pt_grant, true));
            }
            if self.holds_bus_points(resident) {
                events.push(event("bus-pt", self.config.bus_pt_grant, true));
            }
            events
        })
    }

    /// What the funding gives, per asset code: what the riders can have spent at most.
    pub fn funding_by_asset(&self) -> BTreeMap<String, u128> {
        let mut totals = BTreeMap::new();
        for event in self.funding() {
            let (asset, amount) = match event.kind {
                EventKind::Topup(topup) => (topup.asset, topup.amount_minor),
                EventKind::Grant(grant) => (grant.asset, grant.amount_minor),
                _ => unreachable!("funding is top-ups and grants"),
            };
            *totals.entry(asset).or_insert(0u128) += u128::from(amount);
        }
        totals
    }

    /// The festival day, streamed.
    pub fn events(&self) -> FestivalEvents<'_> {
        let budgets = (0..self.config.residents)
            .map(|resident| {
                if self.is_sender(resident) {
                    self.config.suzu_topup_minor
                } else {
                    // bus-pt pays only at transport shops: never counted on.
                    self.config.jpy_topup_minor
                        + self.config.suzu_topup_minor
                        + self.config.muro_pt_grant
                }
            })
            .collect();
        FestivalEvents {
            festival: self,
            day: LocalDay::jst(self.config.date),
            rng: SplitMix64::new(self.config.seed ^ 0xF357_1BA1),
            budgets,
            refundable: Vec::with_capacity(REFUNDABLE_MAX),
            waiting: VecDeque::with_capacity(self.config.capture_delay_events + 1),
            ready: VecDeque::with_capacity(2),
            actions_done: 0,
            events_emitted: 0,
            replays_emitted: 0,
        }
    }
}

/// A token-paid event's part in the day: every first use must be accepted, every replay refused
/// `token_used`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRole {
    FirstUse,
    Replay,
}

/// Who may pay an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payer {
    Buyer,
    Sender,
    KeyHolder,
}

struct RefundablePurchase {
    id: String,
    left_minor: u64,
}

/// A capture or a token replay waiting for its turn: emitted once `due_event` events have been
/// emitted.
struct Waiting {
    due_event: u64,
    event: Event,
}

pub struct FestivalEvents<'a> {
    festival: &'a Festival,
    day: LocalDay,
    rng: SplitMix64,
    /// What each resident may still commit to payments or sends.
    budgets: Vec<u64>,
    refundable: Vec<RefundablePurchase>,
    /// Captures and replays, in the order they fall due (both wait `capture_delay_events`).
    waiting: VecDeque<Waiting>,
    ready: VecDeque<Event>,
    actions_done: u64,
    events_emitted: u64,
    replays_emitted: u64,
}

impl FestivalEvents<'_> {
    fn config(&self) -> &FestivalConfig {
        &self.festival.config
    }

    /// Token replays handed out so far.
    pub fn replays_emitted(&self) -> u64 {
        self.replays_emitted
    }

    fn id(&self, kind: &str) -> String {
        format!("{}{kind}{}", self.config().id_prefix, self.events_emitted)
    }

    /// Action k's time: the day's actions spread evenly from opening to closing.
    fn at_s(&self) -> i64 {
        let config = self.config();
        let span_s = config.close_s - config.open_s;
        let actions = config.actions.max(1);
        config.open_s + (span_s as i128 * self.actions_done as i128 / actions as i128) as i64
    }

    /// A resident of the wanted kind who can still commit `amount`; `None` if none near the
    /// drawn one can (the festival ran out of money).
    fn payer(&mut self, kind: Payer, amount: u64) -> Option<u64> {
        let residents = self.config().residents;
        let start = self.rng.below(residents);
        let stride = self.config().sender_every.max(self.config().token_every);
        let festival = self.festival;
        (0..PAYER_PROBES_MAX.min(residents) * stride)
            .map(|probe| (start + probe) % residents)
            .filter(|resident| match kind {
                Payer::Buyer => !festival.is_sender(*resident),
                Payer::Sender => festival.is_sender(*resident),
                Payer::KeyHolder => festival.holds_device_key(*resident),
            })
            .take(PAYER_PROBES_MAX as usize)
            .find(|resident| self.budgets[*resident as usize] >= amount)
    }

    fn payment(&mut self, amount: u64) -> Option<ShopPayment> {
        let payer = self.payer(Payer::Buyer, amount)?;
        self.budgets[payer as usize] -= amount;
        let shop = self.rng.below(u64::from(self.config().shops)) as u32;
        Some(ShopPayment {
            shop: self.festival.shop_id(shop),
            rider: self.festival.resident_id(payer),
            amount_minor: amount,
            pay_with: None,
            token: None,
        })
    }

    /// A purchase paid with a fresh token of a key holder into `ready`, and the same token's
    /// replay into `waiting`; false when no key holder near the drawn one has `amount` left.
    fn token_action(&mut self, amount: u64, at_s: i64) -> bool {
        let Some(payer) = self.payer(Payer::KeyHolder, amount) else {
            return false;
        };
        // The first use spends; the replay must be refused, so it spends nothing.
        self.budgets[payer as usize] -= amount;
        let at = self.day.at(at_s);
        let issued_at_unix_s = u64::try_from(at.as_second()).expect("the festival is after 1970");
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        nonce[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        let claims = TokenClaims {
            rider_id: self.festival.resident_id(payer),
            nonce: Nonce(nonce),
            issued_at_unix_s,
            expires_at_unix_s: issued_at_unix_s + TOKEN_LIFETIME_S,
        };
        let text = sign(&claims, &self.festival.signing_key(payer))
            .expect("a festival rider id fits a token");
        let shops = u64::from(self.config().shops);
        let purchase = |amount_minor: u64, shop: u64| {
            EventKind::Purchase(ShopPayment {
                shop: self.festival.shop_id(shop as u32),
                rider: String::new(),
                amount_minor,
                pay_with: None,
                token: Some(PaymentToken::Presented(text.clone())),
            })
        };
        let first_use = purchase(amount, self.rng.below(shops));
        let (low, high) = (
            self.config().purchase_min_minor,
            self.config().purchase_max_minor,
        );
        let replay_amount = self.rng.between(low, high);
        let replay = purchase(replay_amount, self.rng.below(shops));
        let prefix = &self.config().id_prefix;
        let replay = Event {
            id: format!("{prefix}{REPLAY_PREFIX}{}", self.events_emitted),
            at: self.day.at(at_s + REPLAY_AFTER_S),
            kind: replay,
        };
        self.waiting.push_back(Waiting {
            due_event: self.events_emitted + self.config().capture_delay_events as u64,
            event: replay,
        });
        self.ready.push_back(Event {
            id: self.id(FIRST_USE_PREFIX),
            at,
            kind: first_use,
        });
        true
    }

    /// The next action's events into `ready`; false when the day is over.
    fn next_action(&mut self) -> bool {
        if self.actions_done >= self.config().actions {
            return false;
        }
        let at_s = self.at_s();
        let at = self.day.at(at_s);
        let action = self.festival.config.mix.draw(&mut self.rng);
        self.actions_done += 1;
        let (low, high) = (
            self.config().purchase_min_minor,
            self.config().purchase_max_minor,
        );
        let amount = self.rng.between(low, high);
        let kind = match action {
            Action::TokenReplay => return self.token_action(amount, at_s),
            Action::Refund if !self.refundable.is_empty() => {
                let pick = self.rng.below(self.refundable.len() as u64) as usize;
                let left_minor = self.refundable[pick].left_minor;
                let take = self.rng.between(1, left_minor);
                let purchase = &mut self.refundable[pick];
                purchase.left_minor -= take;
                let refund = Refund {
                    purchase: purchase.id.clone(),
                    amount_minor: take,
                };
                if purchase.left_minor == 0 {
                    self.refundable.swap_remove(pick);
                }
                EventKind::Refund(refund)
            }
            Action::Send => {
                let (low, high) = (self.config().send_min_minor, self.config().send_max_minor);
                let amount = self.rng.between(low, high);
                let Some(from) = self.payer(Payer::Sender, amount) else {
                    return self.next_action();
                };
                self.budgets[from as usize] -= amount;
                let to = self.rng.below(self.config().residents);
                let to = if to == from {
                    (to + 1) % self.config().residents
                } else {
                    to
                };
                EventKind::Send(SendValue {
                    from: self.festival.resident_id(from),
                    to: self.festival.resident_id(to),
                    asset: "SUZU".to_owned(),
                    amount_minor: amount,
                })
            }
            Action::AuthorizeCapture => {
                let Some(payment) = self.payment(amount) else {
                    return false;
                };
                let captured = self.rng.between(amount.div_ceil(2), amount);
                let authorization = self.id("a");
                let due_event = self.events_emitted + self.config().capture_delay_events as u64;
                self.waiting.push_back(Waiting {
                    due_event,
                    event: Event {
                        id: format!("{}c{}", self.config().id_prefix, self.events_emitted),
                        at: self.day.at(self.at_s() + CAPTURE_AFTER_S),
                        kind: EventKind::Capture(Capture {
                            authorization,
                            amount_minor: captured,
                        }),
                    },
                });
                EventKind::Authorize(payment)
            }
            // A refund with nothing to refund yet is a purchase.
            Action::Purchase | Action::Refund => {
                let Some(payment) = self.payment(amount) else {
                    return false;
                };
                let id = self.id("p");
                if self.refundable.len() >= REFUNDABLE_MAX {
                    let oldest = self.rng.below(REFUNDABLE_MAX as u64) as usize;
                    self.refundable.swap_remove(oldest);
                }
                self.refundable.push(RefundablePurchase {
                    id,
                    left_minor: amount,
                });
                EventKind::Purchase(payment)
            }
        };
        let prefix = match kind {
            EventKind::Refund(_) => "f",
            EventKind::Send(_) => "x",
            EventKind::Authorize(_) => "a",
            _ => "p",
        };
        self.ready.push_back(Event {
            id: self.id(prefix),
            at,
            kind,
        });
        true
    }
}

impl Iterator for FestivalEvents<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let due = self
            .waiting
            .front()
            .is_some_and(|waiting| waiting.due_event <= self.events_emitted);
        let event = if due {
            self.waiting.pop_front().map(|waiting| waiting.event)
        } else {
            if self.ready.is_empty() && !self.next_action() {
                // The day is over: the captures and replays still waiting close it.
                self.ready
                    .extend(self.waiting.drain(..).map(|waiting| waiting.event));
            }
            self.ready.pop_front()
        }?;
        self.events_emitted += 1;
        if self.festival.token_use(&event) == Some(TokenRole::Replay) {
            self.replays_emitted += 1;
        }
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn festival(actions: u64) -> Festival {
        Festival::new(FestivalConfig::new(1, 2_000, 30, actions))
    }

    #[test]
    fn the_same_seed_gives_the_same_day() {
        let a: Vec<Event> = festival(2_000).events().collect();
        let b: Vec<Event> = festival(2_000).events().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn ids_are_unique_and_every_capture_and_refund_follows_what_it_names() {
        let mut seen = std::collections::HashSet::new();
        for event in festival(5_000).events() {
            match &event.kind {
                EventKind::Capture(capture) => assert!(seen.contains(&capture.authorization)),
                EventKind::Refund(refund) => assert!(seen.contains(&refund.purchase)),
                _ => {}
            }
            assert!(seen.insert(event.id.clone()), "{} twice", event.id);
        }
    }

    #[test]
    fn the_mix_is_the_issues_within_a_few_per_mille() {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        let festival = festival(20_000);
        let events: Vec<Event> = festival.events().collect();
        for event in &events {
            let kind = match (festival.token_use(event), &event.kind) {
                (Some(TokenRole::FirstUse), _) => "first use",
                (Some(TokenRole::Replay), _) => "replay",
                (None, kind) => match kind {
                    EventKind::Purchase(_) => "purchase",
                    EventKind::Authorize(_) => "authorize",
                    EventKind::Capture(_) => "capture",
                    EventKind::Refund(_) => "refund",
                    EventKind::Send(_) => "send",
                    _ => "other",
                },
            };
            *counts.entry(kind).or_default() += 1;
        }
        let per_mille = |kind: &str| counts.get(kind).copied().unwrap_or(0) * 1000 / 20_000;
        // Of 99 % ordinary actions: 80 % purchases is 79.2 % of all.
        assert!((782..=802).contains(&per_mille("purchase")), "{counts:?}");
        assert!((7..=13).contains(&per_mille("first use")), "{counts:?}");
        assert_eq!(counts["first use"], counts["replay"]);
        assert!((90..=110).contains(&per_mille("authorize")), "{counts:?}");
        assert_eq!(counts["authorize"], counts["capture"]);
        assert!((40..=60).contains(&per_mille("refund")), "{counts:?}");
        assert!((40..=60).contains(&per_mille("send")), "{counts:?}");
        assert_eq!(counts.get("other"), None);
    }

    #[test]
    fn nobody_commits_more_than_their_funding_and_refunds_stay_within_their_purchase() {
        let festival = festival(20_000);
        let mut committed: BTreeMap<String, u64> = BTreeMap::new();
        let mut purchases: BTreeMap<String, u64> = BTreeMap::new();
        for event in festival.events() {
            match &event.kind {
                EventKind::Purchase(payment) => match festival.token_use(&event) {
                    // The replay is refused, so it commits nothing.
                    Some(TokenRole::Replay) => {}
                    Some(TokenRole::FirstUse) => {
                        *committed.entry(token_rider(payment)).or_default() += payment.amount_minor
                    }
                    None => {
                        *committed.entry(payment.rider.clone()).or_default() +=
                            payment.amount_minor;
                        purchases.insert(event.id.clone(), payment.amount_minor);
                    }
                },
                EventKind::Authorize(payment) => {
                    *committed.entry(payment.rider.clone()).or_default() += payment.amount_minor
                }
                EventKind::Send(send) => {
                    *committed.entry(send.from.clone()).or_default() += send.amount_minor
                }
                EventKind::Refund(refund) => {
                    let left = purchases.get_mut(&refund.purchase).expect("a purchase");
                    *left = left.checked_sub(refund.amount_minor).expect("within it");
                }
                _ => {}
            }
        }
        let config = festival.config();
        let most = config.jpy_topup_minor + config.suzu_topup_minor + config.muro_pt_grant;
        assert!(committed.values().all(|amount| *amount <= most));
    }

    fn token_text(payment: &ShopPayment) -> &str {
        match &payment.token {
            Some(PaymentToken::Presented(text)) => text,
            other => panic!("a presented token, not {other:?}"),
        }
    }

    fn token_rider(payment: &ShopPayment) -> String {
        let token = kanjo_qr::token::UnverifiedToken::parse(token_text(payment)).unwrap();
        token.rider_id().to_owned()
    }

    #[test]
    fn every_replay_presents_an_earlier_first_uses_token_again_before_it_expires() {
        let festival = festival(20_000);
        let keys: BTreeMap<String, String> = festival
            .device_keys()
            .into_iter()
            .map(|key| (key.rider, key.public_key))
            .collect();
        let riders: Vec<String> = festival
            .rider_records()
            .into_iter()
            .map(|r| r.rider)
            .collect();
        assert_eq!(riders, keys.keys().cloned().collect::<Vec<_>>());
        let mut first_uses: BTreeMap<String, (jiff::Timestamp, bool)> = BTreeMap::new();
        let mut events = festival.events();
        for event in events.by_ref() {
            let Some(role) = festival.token_use(&event) else {
                continue;
            };
            let EventKind::Purchase(payment) = &event.kind else {
                panic!("a token pays purchases only");
            };
            assert!(payment.rider.is_empty(), "the token names the rider");
            let text = token_text(payment).to_owned();
            let token = kanjo_qr::token::UnverifiedToken::parse(&text).unwrap();
            let key = kanjo_qr::token::parse_public_key(&keys[token.rider_id()]).unwrap();
            let now_unix_s = u64::try_from(event.at.as_second()).unwrap();
            let verified = token
                .verify(&key, now_unix_s)
                .expect("signed by the rider's key");
            assert!(verified.expires_at_unix_s() - verified.issued_at_unix_s() <= 120);
            match role {
                TokenRole::FirstUse => {
                    assert!(
                        first_uses.insert(text, (event.at, false)).is_none(),
                        "fresh"
                    );
                }
                TokenRole::Replay => {
                    let (first_at, replayed) = first_uses.get_mut(&text).expect("used before");
                    assert!(event.at > *first_at && !*replayed);
                    *replayed = true;
                }
            }
        }
        assert!(first_uses.len() > 100, "{}", first_uses.len());
        assert!(first_uses.values().all(|(_, replayed)| *replayed));
        assert_eq!(events.replays_emitted(), first_uses.len() as u64);
    }

    #[test]
    fn every_fifth_shop_is_transport_and_shops_pass_the_shop_checks() {
        let shops = festival(1).shops();
        assert_eq!(shops.len(), 30);
        assert_eq!(
            shops
                .iter()
                .filter(|shop| shop.categories == ["transport"])
                .count(),
            6
        );
        let text = r#"
            [[assets]]
            code = "JPY"
            kind = "yen"
            [[assets]]
            code = "SUZU"
            kind = "stablecoin"
        "#;
        let section: kanjo_core::chart::AssetSection = toml_section(text);
        let book = kanjo_core::chart::AssetBook::from_section("t", section, &[]).unwrap();
        for shop in &shops {
            shop.check(&book).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    fn toml_section(text: &str) -> kanjo_core::chart::AssetSection {
        toml::from_str(text).expect("an asset section")
    }
}
