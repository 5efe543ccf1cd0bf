//! One fiscal year of a town's points (issue 9): residents earn `year-pt` every week and spend it
//! at shops, premium vouchers (`year-v`) go on sale in July, and both lapse at the fiscal year
//! end (1 April 00:00:00 JST).
//!
//! - Week 0 opens with one yen top-up per resident (what pays when points run short).
//! - Every week each resident is granted `grant_min..=grant_max` points on Monday morning and
//!   shops 0, 1 or 2 times; how often depends on the resident (some hoard, so points lapse).
//! - A share of residents buys 1 to `VOUCHER_LIMIT_SETS` voucher sets in one July week; a few
//!   also try in the last June and first August weeks, which the machine must refuse.
//! - Events come a week at a time in time order, so memory is one week's events, whatever the
//!   number of weeks.

use jiff::Timestamp;
use jiff::civil::{Date, date};
use kanjo_core::event::{Event, EventKind, Grant, Media, ShopPayment, Topup, VoucherPurchase};

use super::clock::LocalDay;
use super::rng::{SplitMix64, mix};

pub const RESIDENTS_MAX: u64 = 1_000_000;
/// Two fiscal years and a bit: two year-end expiries.
pub const WEEKS_MAX: u32 = 120;
pub const SHOPS_MAX: u32 = 1_000;
/// Events one resident can make in one week: a grant, two purchases, a voucher try, a top-up.
const EVENTS_PER_RESIDENT_WEEK_MAX: u64 = 5;

pub const POINTS: &str = "year-pt";
pub const VOUCHER: &str = "year-v";
pub const VOUCHER_PRICE_MINOR: u64 = 10_000;
pub const VOUCHER_FACE_MINOR: u64 = 12_000;
pub const VOUCHER_LIMIT_SETS: u32 = 3;
/// The sale window, JST: all of July 2026.
pub const SALE_STARTS_AT: &str = "2026-07-01T00:00:00+09:00";
pub const SALE_ENDS_AT: &str = "2026-08-01T00:00:00+09:00";

const SECONDS_PER_DAY: i64 = 86_400;
const STREAM_SHOPPER: u64 = 1;
const STREAM_VOUCHER: u64 = 2;

#[derive(Clone, Debug)]
pub struct YearConfig {
    pub seed: u64,
    pub residents: u64,
    pub shops: u32,
    /// A Monday; the first week's grants are made on it.
    pub first_monday: Date,
    pub weeks: u32,
    pub grant_min_minor: u64,
    pub grant_max_minor: u64,
    pub purchase_min_minor: u64,
    pub purchase_max_minor: u64,
    pub yen_topup_minor: u64,
    /// Residents who buy vouchers, per mille.
    pub voucher_buyers_per_mille: u32,
    pub id_prefix: String,
}

impl YearConfig {
    /// FY2026 and the first five weeks of FY2027: one fiscal-year-end expiry.
    pub fn new(seed: u64, residents: u64) -> YearConfig {
        YearConfig {
            seed,
            residents,
            shops: 40,
            first_monday: date(2026, 4, 6),
            weeks: 56,
            grant_min_minor: 50,
            grant_max_minor: 300,
            purchase_min_minor: 200,
            purchase_max_minor: 3_000,
            yen_topup_minor: 1_000_000,
            voucher_buyers_per_mille: 300,
            id_prefix: "yr-".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Year {
    config: YearConfig,
    /// The weeks whose Monday is in July: the voucher buyers' weeks.
    july_weeks: Vec<u32>,
}

impl Year {
    pub fn new(config: YearConfig) -> Year {
        assert!((1..=RESIDENTS_MAX).contains(&config.residents));
        assert!((1..=WEEKS_MAX).contains(&config.weeks));
        assert!((2..=SHOPS_MAX).contains(&config.shops));
        assert_eq!(config.first_monday.weekday(), jiff::civil::Weekday::Monday);
        assert!(1 <= config.grant_min_minor && config.grant_min_minor <= config.grant_max_minor);
        assert!(1 <= config.purchase_min_minor);
        assert!(config.purchase_min_minor <= config.purchase_max_minor);
        assert!(config.voucher_buyers_per_mille <= 1000);
        let july = date(2026, 7, 1)..date(2026, 8, 1);
        let july_weeks = (0..config.weeks)
            .filter(|week| july.contains(&monday_of(config.first_monday, *week)))
            .collect();
        Year { config, july_weeks }
    }

    pub fn config(&self) -> &YearConfig {
        &self.config
    }

    pub fn resident_id(&self, resident: u64) -> String {
        format!("{}r{resident:07}", self.config.id_prefix)
    }

    pub fn shop_id(&self, shop: u32) -> String {
        format!("{}s{shop:04}", self.config.id_prefix)
    }

    /// Even shops sell groceries (vouchers pay there), odd shops food.
    pub fn is_grocery(&self, shop: u32) -> bool {
        shop.is_multiple_of(2)
    }

    /// The programme (TOML): the town, yen, the points, the voucher and the shops.
    pub fn programme_toml(&self) -> String {
        let budget_minor = self.config.residents
            * u64::from(VOUCHER_LIMIT_SETS)
            * (VOUCHER_FACE_MINOR - VOUCHER_PRICE_MINOR);
        let mut text = format!(
            r#"[town]
code = "016365"
name = "更別村"
timezone = "Asia/Tokyo"

[[assets]]
code = "JPY"
kind = "yen"

[[assets]]
code = "{VOUCHER}"
kind = "points"
usable_at = ["grocery"]
expires = "fiscal_year_end"

[assets.voucher]
price = {VOUCHER_PRICE_MINOR}
face = {VOUCHER_FACE_MINOR}
limit_sets = {VOUCHER_LIMIT_SETS}
sale_starts_at = "{SALE_STARTS_AT}"
sale_ends_at = "{SALE_ENDS_AT}"
premium_budget = {budget_minor}

[[assets]]
code = "{POINTS}"
kind = "points"
expires = "fiscal_year_end"
"#
        );
        for shop in 0..self.config.shops {
            let category = if self.is_grocery(shop) {
                "grocery"
            } else {
                "food"
            };
            text.push_str(&format!(
                "\n[[shops]]\nid = \"{}\"\nname = \"更別 店{shop}\"\nname_kana = \"ｻﾗﾍﾞﾂﾐｾ{shop}\"\ncategories = [\"{category}\"]\nfees_bp = {{ JPY = 100 }}\n",
                self.shop_id(shop)
            ));
        }
        text
    }

    /// Every week's events, in time order, a week at a time.
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        (0..self.config.weeks).flat_map(move |week| self.week(week))
    }

    /// One week's events, sorted by time (ties by id, so the order is the seed's alone).
    pub fn week(&self, week: u32) -> Vec<Event> {
        assert!(week < self.config.weeks);
        let monday = LocalDay::jst(monday_of(self.config.first_monday, week));
        let capacity = self.config.residents * EVENTS_PER_RESIDENT_WEEK_MAX;
        let mut events = Vec::with_capacity(usize::try_from(capacity).unwrap_or(usize::MAX));
        let mut rng = SplitMix64::new(mix(self.config.seed, 0, u64::from(week)));
        for resident in 0..self.config.residents {
            self.resident_week(&mut events, &mut rng, &monday, week, resident);
        }
        assert!(events.len() as u64 <= capacity);
        events.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        events
    }

    fn resident_week(
        &self,
        events: &mut Vec<Event>,
        rng: &mut SplitMix64,
        monday: &LocalDay,
        week: u32,
        resident: u64,
    ) {
        let config = &self.config;
        let rider = self.resident_id(resident);
        let prefix = &config.id_prefix;
        let spread_s = i64::try_from(resident % 3_600).expect("below an hour");
        if week == 0 {
            let topup = EventKind::Topup(Topup {
                rider: rider.clone(),
                asset: "JPY".to_owned(),
                amount_minor: config.yen_topup_minor,
                source: None,
            });
            events.push(event(
                format!("{prefix}t-{resident}"),
                monday.at(spread_s),
                topup,
            ));
        }
        let grant = EventKind::Grant(Grant {
            rider: rider.clone(),
            asset: POINTS.to_owned(),
            amount_minor: rng.between(config.grant_min_minor, config.grant_max_minor),
            place: None,
        });
        let grant_at = monday.at(6 * 3_600 + spread_s);
        events.push(event(
            format!("{prefix}g{week}-{resident}"),
            grant_at,
            grant,
        ));
        // Shoppers visit up to twice a week; how likely is the resident's own.
        let visits_per_mille = reduce_per_mille(mix(config.seed, STREAM_SHOPPER, resident));
        for visit in 0..2 {
            if !rng.chance_per_mille(visits_per_mille) {
                continue;
            }
            let shop = u32::try_from(rng.below(u64::from(config.shops))).expect("below shops");
            let payment = EventKind::Purchase(ShopPayment {
                shop: self.shop_id(shop),
                rider: rider.clone(),
                amount_minor: rng.between(config.purchase_min_minor, config.purchase_max_minor),
                pay_with: None,
                token: None,
            });
            // After the grant: Monday 08:00 to Sunday 20:00.
            let second = rng.between(8 * 3_600, 6 * SECONDS_PER_DAY as u64 + 20 * 3_600);
            let at = monday.at(i64::try_from(second).expect("within the week"));
            events.push(event(
                format!("{prefix}p{week}-{resident}-{visit}"),
                at,
                payment,
            ));
        }
        self.voucher_try(events, monday, week, resident);
    }

    /// A buyer's July purchase, and a few tries just outside the window.
    fn voucher_try(&self, events: &mut Vec<Event>, monday: &LocalDay, week: u32, resident: u64) {
        let hash = mix(self.config.seed, STREAM_VOUCHER, resident);
        if reduce_per_mille(hash) >= self.config.voucher_buyers_per_mille {
            return;
        }
        let weeks_in_july = &self.july_weeks;
        let (Some(&first), Some(&last)) = (weeks_in_july.first(), weeks_in_july.last()) else {
            return;
        };
        let sets = 1 + u32::try_from(hash % u64::from(VOUCHER_LIMIT_SETS)).expect("small");
        let probe = resident.is_multiple_of(50);
        let (at, suffix) = if weeks_in_july.contains(&week)
            && (hash >> 32) % weeks_in_july.len() as u64 == u64::from(week - first)
        {
            (monday.at(10 * 3_600), "v")
        } else if probe && week + 1 == first {
            // Tuesday 30 June, 20:00: the evening before the sale opens.
            (monday.at(SECONDS_PER_DAY + 20 * 3_600), "v-early")
        } else if probe && week == last + 1 {
            (monday.at(10 * 3_600), "v-late")
        } else {
            return;
        };
        let purchase = EventKind::VoucherPurchase(VoucherPurchase {
            rider: self.resident_id(resident),
            asset: VOUCHER.to_owned(),
            sets,
            media: Media::Cash,
        });
        let id = format!("{}{suffix}{week}-{resident}", self.config.id_prefix);
        events.push(event(id, at, purchase));
    }
}

fn monday_of(first_monday: Date, week: u32) -> Date {
    first_monday
        .checked_add(jiff::Span::new().days(i64::from(week) * 7))
        .expect("weeks stay within the calendar")
}

/// A hash to 0..1000.
fn reduce_per_mille(hash: u64) -> u32 {
    u32::try_from(super::rng::reduce(hash, 1_000)).expect("below 1000")
}

fn event(id: String, at: Timestamp, kind: EventKind) -> Event {
    Event { id, at, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_in_time_order_and_the_same_for_the_same_seed() {
        let year = Year::new(YearConfig::new(7, 50));
        let week = year.week(3);
        assert!(week.windows(2).all(|pair| pair[0].at <= pair[1].at));
        assert_eq!(week, year.week(3));
        let grants = week
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Grant(_)))
            .count();
        assert_eq!(grants, 50, "one grant per resident a week");
    }

    #[test]
    fn vouchers_are_tried_in_july_and_just_outside_it() {
        let year = Year::new(YearConfig::new(7, 400));
        let tries: Vec<(String, Timestamp)> = year
            .events()
            .filter(|e| matches!(e.kind, EventKind::VoucherPurchase(_)))
            .map(|e| (e.id, e.at))
            .collect();
        let starts: Timestamp = SALE_STARTS_AT.parse().unwrap();
        let ends: Timestamp = SALE_ENDS_AT.parse().unwrap();
        let inside = tries.iter().filter(|(_, at)| starts <= *at && *at < ends);
        assert!(inside.count() > 50, "{} tries", tries.len());
        assert!(tries.iter().any(|(_, at)| *at < starts));
        assert!(tries.iter().any(|(_, at)| *at >= ends));
    }
}
