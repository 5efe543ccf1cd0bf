//! A month of Muroran (issue 10): residents top up their wallets at the bank, ride the town bus
//! (flat fare) with IC cards or cash, and buy at the programme's shops. Some buses carry offline
//! validators that upload their rides `late_days` days late, so the last days' rides arrive after
//! the month end. Seeded (the workload's SplitMix64): the same config gives the same month.
//!
//! `Month::plan` gives every happening with its upload instant; `Month::events` the events in
//! upload order, as kanjo receives them. The reconciliation tests build the bank, IC and operator
//! files from the plan alone (their own model), never from kanjo.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use kanjo_core::event::{Event, EventKind, Media, Ride, ShopPayment, Topup};

use crate::rng::SplitMix64;

/// The operator whose flat fare the month's rides pay (`examples/muroran/programme.toml`).
pub const MONTH_OPERATOR: &str = "town-bus";
/// The bank the residents top up from (`bank:{source}:JPY`).
pub const MONTH_BANK: &str = "muroran-shinkin";
const SHOPS: [&str; 3] = ["yakitori-ippei", "muroran-shoten", "nakajima-yaoya"];

#[derive(Clone, Debug)]
pub struct MonthConfig {
    pub seed: u64,
    /// The month's first local day (Asia/Tokyo) and how many days it has.
    pub first_day: Date,
    pub days: u32,
    pub residents: u32,
    /// Rides per day: uniformly between these.
    pub rides_per_day_min: u64,
    pub rides_per_day_max: u64,
    /// Rides on buses with offline validators, per mille; they upload `late_days` later, 08:00.
    pub offline_per_mille: u32,
    pub late_days: u32,
    pub id_prefix: String,
}

impl MonthConfig {
    /// November 2026: 200 residents, 40–80 rides a day, one ride in five uploaded two days late.
    pub fn november(seed: u64) -> MonthConfig {
        MonthConfig {
            seed,
            first_day: jiff::civil::date(2026, 11, 1),
            days: 30,
            residents: 200,
            rides_per_day_min: 40,
            rides_per_day_max: 80,
            offline_per_mille: 200,
            late_days: 2,
            id_prefix: "m-".into(),
        }
    }
}

/// One happening of the month: the event, and when kanjo receives it.
#[derive(Clone, Debug)]
pub struct Planned {
    pub event: Event,
    pub uploaded_at: Timestamp,
    /// The local day it happened.
    pub day: Date,
}

pub struct Month {
    config: MonthConfig,
}

impl Month {
    pub fn new(config: MonthConfig) -> Month {
        assert!(config.days >= 1 && config.days <= 62, "a month, not a year");
        assert!(config.residents >= 1 && config.residents <= 100_000);
        assert!(config.rides_per_day_min <= config.rides_per_day_max);
        assert!(config.rides_per_day_max <= 100_000);
        Month { config }
    }

    pub fn config(&self) -> &MonthConfig {
        &self.config
    }

    /// The month's riders (residents with a wallet), for rider records.
    pub fn residents(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.config.residents).map(|r| self.resident(r))
    }

    fn resident(&self, r: u32) -> String {
        format!("{}res-{r:05}", self.config.id_prefix)
    }

    /// Every happening, in the order it happened.
    pub fn plan(&self) -> Vec<Planned> {
        let config = &self.config;
        let mut rng = SplitMix64::new(config.seed);
        // What each resident holds (yen), so no purchase is ever refused.
        let mut wallets = vec![0u64; config.residents as usize];
        let mut plan = Vec::new();
        for d in 0..config.days {
            let day = config.first_day + Span::new().days(i64::from(d));
            for (r, wallet) in wallets.iter_mut().enumerate() {
                if *wallet < 1_000 && (d == 0 || rng.chance_per_mille(150)) {
                    let amount = 1_000 * rng.between(3, 10);
                    *wallet += amount;
                    let at = local(day, 6 * 3_600 + rng.below(3_600 * 3) as i64);
                    let id = format!("{}topup-{d:02}-{r:05}", config.id_prefix);
                    let kind = EventKind::Topup(Topup {
                        rider: self.resident(r as u32),
                        asset: "JPY".into(),
                        amount_minor: amount,
                        source: Some(MONTH_BANK.into()),
                    });
                    plan.push(Planned {
                        event: Event { id, at, kind },
                        uploaded_at: at,
                        day,
                    });
                }
            }
            let rides = rng.between(config.rides_per_day_min, config.rides_per_day_max);
            for i in 0..rides {
                let at = local(day, 6 * 3_600 + rng.below(3_600 * 16) as i64);
                let media = if rng.chance_per_mille(600) {
                    Media::Ic
                } else {
                    Media::Cash
                };
                let uploaded_at = if rng.chance_per_mille(config.offline_per_mille) {
                    let late = day + Span::new().days(i64::from(config.late_days));
                    local(late, 8 * 3_600)
                } else {
                    at
                };
                let id = format!("{}ride-{d:02}-{i:05}", config.id_prefix);
                let kind = EventKind::Ride(Ride {
                    operator: MONTH_OPERATOR.into(),
                    route: None,
                    from: None,
                    to: None,
                    rider: None,
                    media,
                });
                plan.push(Planned {
                    event: Event { id, at, kind },
                    uploaded_at,
                    day,
                });
            }
            for (r, wallet) in wallets.iter_mut().enumerate() {
                if !rng.chance_per_mille(100) {
                    continue;
                }
                let price = (rng.between(3, 20) * 100).min(*wallet);
                if price == 0 {
                    continue;
                }
                *wallet -= price;
                let at = local(day, 10 * 3_600 + rng.below(3_600 * 9) as i64);
                let shop = SHOPS[rng.below(SHOPS.len() as u64) as usize];
                let id = format!("{}buy-{d:02}-{r:05}", config.id_prefix);
                let kind = EventKind::Purchase(ShopPayment {
                    shop: shop.into(),
                    rider: self.resident(r as u32),
                    amount_minor: price,
                    pay_with: None,
                    token: None,
                });
                plan.push(Planned {
                    event: Event { id, at, kind },
                    uploaded_at: at,
                    day,
                });
            }
        }
        plan
    }

    /// The events in the order kanjo receives them: by upload instant, then as planned.
    pub fn events(&self) -> Vec<Event> {
        let mut plan = self.plan();
        plan.sort_by_key(|planned| planned.uploaded_at); // stable: ties keep plan order
        plan.into_iter().map(|planned| planned.event).collect()
    }
}

/// A local (Asia/Tokyo) day and second of the day as an instant.
fn local(day: Date, second_of_day: i64) -> Timestamp {
    let tz = TimeZone::get("Asia/Tokyo").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(9)));
    tz.to_timestamp(day.at(0, 0, 0, 0)).expect("a day in range")
        + Span::new().seconds(second_of_day)
}
