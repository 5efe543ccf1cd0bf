//! Property tests over random programmes, riders and rides:
//! - rider_pays ≤ fare and discount + cap_waived + rider_pays = fare;
//! - what a budget is charged never exceeds its limit, and `budget_used` is exactly the sum;
//! - under a cap that covers everyone, nobody pays more than the cap in a local day;
//! - a second run gives identical output.

use std::collections::HashMap;
use std::path::Path;

use kanjo_rules::{
    BudgetIx, EventRun, Programme, RatingState, RideFields, RiderRecord, Riders, commit, rate,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum RuleGen {
    Discount {
        kind: u8,
        value: u64,
        round: u8,
        budget: usize,
        eligible: u8,
    },
    Cap {
        amount: u64,
        operator: Option<usize>,
        eligible: u8,
    },
    Reward {
        every: u64,
        eligible: u8,
    },
    Points {
        eligible: u8,
    },
}

const ELIGIBLE: [&str; 8] = [
    "{}",
    "{ min_age = 75 }",
    r#"{ resident_of = "012050" }"#,
    r#"{ visitor_of = "012050" }"#,
    "{ license_returned = true }",
    "{ disability = true }",
    r#"{ school_stage = "elementary" }"#,
    r#"{ min_age = 65, resident_of = "012050" }"#,
];

fn rule_gen() -> impl Strategy<Value = RuleGen> {
    prop_oneof![
        4 => (0u8..3, 0u64..400, 0u8..3, 0usize..3, 0u8..8).prop_map(|(kind, value, round, budget, eligible)| {
            RuleGen::Discount { kind, value, round, budget, eligible }
        }),
        2 => (0u64..800, proptest::option::of(0usize..2), 0u8..8)
            .prop_map(|(amount, operator, eligible)| RuleGen::Cap { amount, operator, eligible }),
        1 => (1u64..5, 0u8..8).prop_map(|(every, eligible)| RuleGen::Reward { every, eligible }),
        1 => (0u8..8).prop_map(|eligible| RuleGen::Points { eligible }),
    ]
}

fn programme_text(fares: [u64; 2], limits: [u64; 3], rules: &[RuleGen]) -> String {
    let mut text = format!(
        "[town]\ncode = \"012050\"\ntimezone = \"Asia/Tokyo\"\n\n\
         [[fare_tables]]\noperator = \"bus-0\"\nflat_fare = {}\n\n\
         [[fare_tables]]\noperator = \"bus-1\"\nflat_fare = {}\n",
        fares[0], fares[1]
    );
    // Budgets b0 and b1 in FY2026, b2 in FY2027: rides straddle 1 April 2027.
    for (i, limit) in limits.iter().enumerate() {
        let year = if i == 2 { 2027 } else { 2026 };
        text.push_str(&format!(
            "\n[[budgets]]\nid = \"b{i}\"\nfiscal_year = {year}\nlimit = {limit}\n"
        ));
    }
    for (i, rule) in rules.iter().enumerate() {
        text.push_str(&format!("\n[[rules]]\nid = \"rule-{i}\"\n"));
        match rule {
            RuleGen::Discount { kind, value, round, budget, eligible } => {
                let discount = match kind {
                    0 => "{ type = \"free\" }".to_string(),
                    1 => format!("{{ type = \"fixed_fare\", amount = {value} }}"),
                    _ => format!(
                        "{{ type = \"percent_off\", percent = {}, round = \"{}\" }}",
                        value % 101,
                        ["up_10", "down_10", "none"][*round as usize]
                    ),
                };
                text.push_str(&format!(
                    "kind = \"fare_discount\"\neligible = {}\ndiscount = {discount}\nfunded_by = \"b{budget}\"\n",
                    ELIGIBLE[*eligible as usize]
                ));
            }
            RuleGen::Cap { amount, operator, eligible } => {
                text.push_str(&format!("kind = \"daily_cap\"\namount = {amount}\neligible = {}\n", ELIGIBLE[*eligible as usize]));
                if let Some(op) = operator {
                    text.push_str(&format!("operators = [\"bus-{op}\"]\n"));
                }
            }
            RuleGen::Reward { every, eligible } => text.push_str(&format!(
                "kind = \"ride_reward\"\nevery = {every}\nasset = \"ticket\"\namount = 1\neligible = {}\n",
                ELIGIBLE[*eligible as usize]
            )),
            RuleGen::Points { eligible } => text.push_str(&format!(
                "kind = \"points_per_ride\"\nasset = \"pt\"\namount = 5\neligible = {}\n",
                ELIGIBLE[*eligible as usize]
            )),
        }
    }
    text
}

fn rider_gen(i: usize) -> impl Strategy<Value = RiderRecord> {
    (
        1935i16..2022,
        1u8..13,
        1u8..29,
        prop::bool::ANY,
        prop::option::of(0u8..3),
        prop::bool::ANY,
        prop::option::of(0u8..20),
    )
        .prop_map(
            move |(year, month, day, resident, returned, disability, valid_days)| RiderRecord {
                rider: format!("r{i}"),
                birth_date: kanjo_rules::LocalDate::new(year, month, day),
                residence: Some(if resident { "012050" } else { "011002" }.to_string()),
                license_returned_on: returned
                    .map(|d| kanjo_rules::LocalDate::new(2027, 3, 29 + d).expect("valid")),
                disability: Some(disability),
                verified_at: None,
                valid_until: valid_days
                    .map(|d| kanjo_rules::LocalDate::new(2027, 3, 10 + d).expect("valid")),
                attributes: Default::default(),
            },
        )
}

#[derive(Debug, Clone)]
struct RideGen {
    minute: u32,
    operator: usize,
    rider: Option<usize>,
}

fn ride_gen(riders: usize) -> impl Strategy<Value = RideGen> {
    // Four days from 2027-03-30 00:00 Tokyo; rider index `riders` is an unknown rider.
    (
        0u32..4 * 24 * 60,
        0usize..2,
        prop::option::weighted(0.9, 0..=riders),
    )
        .prop_map(|(minute, operator, rider)| RideGen {
            minute,
            operator,
            rider,
        })
}

fn fields(ride: &RideGen) -> RideFields {
    let (day, minute) = (30 + ride.minute / (24 * 60), ride.minute % (24 * 60));
    let (month, day) = if day > 31 { (4, day - 31) } else { (3, day) };
    RideFields {
        at: format!(
            "2027-{month:02}-{day:02}T{:02}:{:02}:00+09:00",
            minute / 60,
            minute % 60
        ),
        operator: format!("bus-{}", ride.operator),
        route: None,
        from: None,
        to: None,
        rider: ride.rider.map(|r| format!("r{r}")),
    }
}

const RIDERS: usize = 6;

fn case() -> impl Strategy<Value = (String, Vec<RiderRecord>, Vec<RideGen>)> {
    let riders: Vec<_> = (0..RIDERS).map(rider_gen).collect();
    (
        [0u64..700, 0u64..700],
        [0u64..2000, 0u64..2000, 0u64..2000],
        prop::collection::vec(rule_gen(), 0..10),
        riders,
        prop::collection::vec(ride_gen(RIDERS), 1..60),
    )
        .prop_map(|(fares, limits, rules, riders, rides)| {
            (programme_text(fares, limits, &rules), riders, rides)
        })
}

fn compile(text: &str) -> Programme {
    Programme::from_toml(Path::new("property.toml"), text)
        .unwrap_or_else(|e| panic!("generated programme: {e}\n{text}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fares_split_exactly_and_budgets_stay_within_limits((text, records, rides) in case()) {
        let p = compile(&text);
        let mut riders = Riders::new();
        for record in records {
            riders.upsert(record).expect("generated riders are valid");
        }
        let mut state = RatingState::new(&p);
        let mut charged = vec![0u64; p.budgets().len()];
        for ride in &rides {
            let resolved = p.resolve_ride(&riders, &fields(ride)).expect("flat fares always resolve");
            let before = state.clone();
            let rating = rate(&p, &riders, &state, &resolved).expect("rates");
            prop_assert_eq!(&state, &before, "rate is pure");
            prop_assert!(rating.rider_pays <= rating.fare);
            prop_assert_eq!(rating.discount + rating.cap_waived + rating.rider_pays, rating.fare);
            prop_assert_eq!(rating.funded_by.is_some(), rating.discount > 0);
            commit(&mut state, &resolved, &rating);
            if let Some(budget) = rating.funded_by {
                charged[budget.index()] += rating.discount;
                // The budget's fiscal year is the ride's.
                prop_assert_eq!(p.budget(budget).fiscal_year, resolved.day.fiscal_year());
            }
        }
        for (ix, budget) in p.budgets().iter().enumerate() {
            let ix16 = BudgetIx(u16::try_from(ix).expect("few budgets"));
            prop_assert!(charged[ix] <= budget.limit, "budget {} charged {} over {}", budget.id, charged[ix], budget.limit);
            prop_assert_eq!(state.budget_used(ix16), charged[ix]);
        }
    }

    #[test]
    fn nobody_pays_more_than_an_all_covering_cap_in_a_local_day(
        (text, records, rides) in case(),
        cap in 0u64..900,
    ) {
        let text = format!("{text}\n[[rules]]\nid = \"cap-all\"\nkind = \"daily_cap\"\namount = {cap}\n");
        let p = compile(&text);
        let mut riders = Riders::new();
        for record in records {
            riders.upsert(record).expect("valid");
        }
        let mut state = RatingState::new(&p);
        let mut paid: HashMap<(String, kanjo_rules::LocalDate), u64> = HashMap::new();
        for ride in &rides {
            let f = fields(ride);
            let resolved = p.resolve_ride(&riders, &f).expect("resolves");
            let rating = rate(&p, &riders, &state, &resolved).expect("rates");
            commit(&mut state, &resolved, &rating);
            if let Some(rider) = f.rider {
                let total = paid.entry((rider, resolved.day)).or_insert(0);
                *total += rating.rider_pays;
                prop_assert!(*total <= cap, "paid {} over cap {}", total, cap);
            }
        }
    }

    #[test]
    fn a_second_run_gives_identical_output((text, records, rides) in case()) {
        let p = compile(&text);
        let mut riders = Riders::new();
        for record in records {
            riders.upsert(record).expect("valid");
        }
        let run = || {
            let mut run = EventRun::new(&p, &riders);
            let mut out = Vec::new();
            for (i, ride) in rides.iter().enumerate() {
                let mut event = serde_json::to_value(fields(ride)).expect("json");
                event["id"] = format!("e{}", i % 50).into(); // some duplicates
                event["type"] = "ride".into();
                run.rate_line(event.to_string().as_bytes(), &mut out).expect("vec");
            }
            out
        };
        prop_assert_eq!(run(), run());
    }
}

/// Three caps (the third kept outside the dense per-rider array), rides in random day order,
/// riders registered part-way: every ride pays exactly what a plain per (rider id, cap, day)
/// model says.
#[derive(Debug, Clone)]
struct CapRide {
    day: u8,
    hour: u8,
    operator: usize,
    rider: usize,
    register_before: bool,
}

fn cap_ride() -> impl Strategy<Value = CapRide> {
    (
        0u8..4,
        6u8..23,
        0usize..2,
        0usize..8,
        prop::bool::weighted(0.05),
    )
        .prop_map(|(day, hour, operator, rider, register_before)| CapRide {
            day,
            hour,
            operator,
            rider,
            register_before,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn day_tallies_match_a_plain_model(
        caps in [0u64..900, 0u64..900, 0u64..900],
        fares in [1u64..400, 1u64..400],
        rides in prop::collection::vec(cap_ride(), 1..120),
    ) {
        let text = format!(
            "[town]\ncode = \"012050\"\n\n\
             [[fare_tables]]\noperator = \"bus-0\"\nflat_fare = {}\n\n\
             [[fare_tables]]\noperator = \"bus-1\"\nflat_fare = {}\n\n\
             [[rules]]\nid = \"cap-all\"\nkind = \"daily_cap\"\namount = {}\n\n\
             [[rules]]\nid = \"cap-bus-1\"\nkind = \"daily_cap\"\noperators = [\"bus-1\"]\namount = {}\n\n\
             [[rules]]\nid = \"cap-bus-0\"\nkind = \"daily_cap\"\noperators = [\"bus-0\"]\namount = {}\n",
            fares[0], fares[1], caps[0], caps[1], caps[2]
        );
        let p = compile(&text);
        let covers = |cap: usize, operator: usize| match cap { 0 => true, 1 => operator == 1, _ => operator == 0 };
        let mut riders = Riders::new();
        // Riders 0..4 known from the start; 4..8 unknown until a ride registers them.
        for i in 0..4 {
            riders.upsert(RiderRecord {
                rider: format!("r{i}"), birth_date: None, residence: None, license_returned_on: None,
                disability: None, verified_at: None, valid_until: None, attributes: Default::default(),
            }).expect("valid");
        }
        let mut state = RatingState::new(&p);
        let mut model: HashMap<(usize, usize, u8), u64> = HashMap::new();
        for ride in &rides {
            if ride.register_before {
                riders.upsert(RiderRecord {
                    rider: format!("r{}", ride.rider), birth_date: None, residence: None,
                    license_returned_on: None, disability: None, verified_at: None, valid_until: None,
                    attributes: Default::default(),
                }).expect("valid");
            }
            let f = RideFields {
                at: format!("2027-01-{:02}T{:02}:00:00+09:00", 10 + ride.day, ride.hour),
                operator: format!("bus-{}", ride.operator),
                route: None, from: None, to: None,
                rider: Some(format!("r{}", ride.rider)),
            };
            let resolved = p.resolve_ride(&riders, &f).expect("resolves");
            let rating = rate(&p, &riders, &state, &resolved).expect("rates");
            let mut expected = fares[ride.operator];
            for (cap, amount) in caps.iter().enumerate() {
                if covers(cap, ride.operator) {
                    let paid = model.get(&(ride.rider, cap, ride.day)).copied().unwrap_or(0);
                    expected = expected.min(amount.saturating_sub(paid));
                }
            }
            prop_assert_eq!(rating.rider_pays, expected);
            commit(&mut state, &resolved, &rating);
            for cap in 0..3 {
                if covers(cap, ride.operator) {
                    *model.entry((ride.rider, cap, ride.day)).or_insert(0) += rating.rider_pays;
                }
            }
        }
    }
}
