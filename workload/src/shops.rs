//! Festival-day workload: residents paying at the town's shops with town points, the SUZU coin and
//! yen (issue 15). A pure function of its config and seed, streamed one event at a time.
//!
//! - Setup (not measured): every resident is funded before the day opens. Buyers get JPY, SUZU
//!   and `muro-pt`; every third buyer also `bus-pt`, points only transport shops take. Senders
//!   (every `sender_every`-th resident) get SUZU only, and only send.
//! - The day: each action is drawn from the mix (`FestivalMix::draw`, the one place a new kind of
//!   action, such as a replayed customer token, is added): a purchase, an authorisation whose
//!   partial capture follows `capture_delay_events` later, a partial refund of a recent
//!   purchase, or a send of SUZU between residents.
//!
//! Every event is meant to be accepted, whatever order a load driver's lanes deliver them in:
//! a buyer never commits more than its funds to payments (holds count in full; refunds and
//! received sends are never counted back), a sender never sends more SUZU than it was given, a
//! refund never gives back more than is left of its purchase, and a capture is never more than
//! its hold. A refund and its purchase, a capture and its authorisation, name each other by id,
//! so a driver that keys lanes by those ids keeps each pair in order.

use std::collections::{BTreeMap, VecDeque};

use jiff::civil::{Date, date};
use kanjo_core::event::{Capture, Event, EventKind, Grant, Refund, SendValue, ShopPayment, Topup};
use kanjo_core::shops::{ShopSpec, ShopStatus};

use super::clock::LocalDay;
use super::rng::SplitMix64;

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

/// One action of the day. A new kind of action is one variant here and one arm in
/// `FestivalEvents::next_action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Purchase,
    AuthorizeCapture,
    Refund,
    Send,
}

/// Shares of the day's actions, per mille; they sum to 1000.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FestivalMix {
    pub purchase: u32,
    pub authorize_capture: u32,
    pub refund: u32,
    pub send: u32,
}

impl FestivalMix {
    /// The issue's mix: 80 % purchases, 10 % authorise + capture, 5 % refunds, 5 % sends.
    pub const FESTIVAL: FestivalMix = FestivalMix {
        purchase: 800,
        authorize_capture: 100,
        refund: 50,
        send: 50,
    };

    fn table(&self) -> [(Action, u32); 4] {
        [
            (Action::Purchase, self.purchase),
            (Action::AuthorizeCapture, self.authorize_capture),
            (Action::Refund, self.refund),
            (Action::Send, self.send),
        ]
    }

    pub fn draw(&self, rng: &mut SplitMix64) -> Action {
        let table = self.table();
        assert_eq!(table.iter().map(|(_, share)| share).sum::<u32>(), 1000);
        let mut roll = rng.below(1000) as u32;
        for (action, share) in table {
            if roll < share {
                return action;
            }
            roll -= share;
        }
        unreachable!("the shares sum to 1000")
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
    pub jpy_topup_minor: u64,
    pub suzu_topup_minor: u64,
    pub muro_pt_grant: u64,
    pub bus_pt_grant: u64,
    pub purchase_min_minor: u64,
    pub purchase_max_minor: u64,
    pub send_min_minor: u64,
    pub send_max_minor: u64,
    /// Events between an authorisation and its capture.
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
            captures: VecDeque::with_capacity(self.config.capture_delay_events + 1),
            ready: VecDeque::with_capacity(2),
            actions_done: 0,
            events_emitted: 0,
        }
    }
}

struct RefundablePurchase {
    id: String,
    left_minor: u64,
}

/// A capture waiting for its turn: emitted once `due_event` events have been emitted.
struct WaitingCapture {
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
    captures: VecDeque<WaitingCapture>,
    ready: VecDeque<Event>,
    actions_done: u64,
    events_emitted: u64,
}

impl FestivalEvents<'_> {
    fn config(&self) -> &FestivalConfig {
        &self.festival.config
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
    fn payer(&mut self, sender: bool, amount: u64) -> Option<u64> {
        let residents = self.config().residents;
        let start = self.rng.below(residents);
        (0..PAYER_PROBES_MAX.min(residents) * self.config().sender_every)
            .map(|probe| (start + probe) % residents)
            .filter(|resident| self.festival.is_sender(*resident) == sender)
            .take(PAYER_PROBES_MAX as usize)
            .find(|resident| self.budgets[*resident as usize] >= amount)
    }

    fn payment(&mut self, amount: u64) -> Option<ShopPayment> {
        let payer = self.payer(false, amount)?;
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

    /// The next action's events into `ready`; false when the day is over.
    fn next_action(&mut self) -> bool {
        if self.actions_done >= self.config().actions {
            return false;
        }
        let at = self.day.at(self.at_s());
        let action = self.festival.config.mix.draw(&mut self.rng);
        self.actions_done += 1;
        let (low, high) = (
            self.config().purchase_min_minor,
            self.config().purchase_max_minor,
        );
        let amount = self.rng.between(low, high);
        let kind = match action {
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
                let Some(from) = self.payer(true, amount) else {
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
                self.captures.push_back(WaitingCapture {
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
        let capture_due = self
            .captures
            .front()
            .is_some_and(|capture| capture.due_event <= self.events_emitted);
        let event = if capture_due {
            self.captures.pop_front().map(|capture| capture.event)
        } else {
            if self.ready.is_empty() && !self.next_action() {
                // The day is over: the captures still waiting close it.
                self.ready
                    .extend(self.captures.drain(..).map(|capture| capture.event));
            }
            self.ready.pop_front()
        }?;
        self.events_emitted += 1;
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
        let events: Vec<Event> = festival(20_000).events().collect();
        for event in &events {
            let kind = match event.kind {
                EventKind::Purchase(_) => "purchase",
                EventKind::Authorize(_) => "authorize",
                EventKind::Capture(_) => "capture",
                EventKind::Refund(_) => "refund",
                EventKind::Send(_) => "send",
                _ => "other",
            };
            *counts.entry(kind).or_default() += 1;
        }
        let per_mille = |kind: &str| counts.get(kind).copied().unwrap_or(0) * 1000 / 20_000;
        assert!((790..=810).contains(&per_mille("purchase")), "{counts:?}");
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
                EventKind::Purchase(payment) => {
                    *committed.entry(payment.rider.clone()).or_default() += payment.amount_minor;
                    purchases.insert(event.id.clone(), payment.amount_minor);
                }
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
