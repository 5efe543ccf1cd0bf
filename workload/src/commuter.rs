//! Peak-commuter workload: the Muroran feed's real trips, scaled up, with riders tapping on and off
//! along real stop sequences on a morning profile that peaks 07:30–08:30.
//!
//! Every vehicle is one trip of the timetable run by one of `scale` copies of the bus. Riders come
//! from a pool of `riders_per_scale × scale`, mixed as the issue says (15 % aged 75+, 5 % licence
//! returned, 10 % children, 20 % visitors, half paying by wallet). A wallet rider's first ride is
//! preceded by a top-up. Some validators are offline: their vehicle's taps are uploaded as one late
//! batch several vehicles later, so they arrive out of time order.

use std::collections::VecDeque;
use std::sync::Arc;

use jiff::civil::{Date, date};

use super::clock::LocalDay;
use super::rider::{RiderKind, RiderMix, RiderRecord, record_for};
use super::rng::{SplitMix64, mix, reduce};
use super::timetable::Timetable;
use kanjo_core::event::{Event, EventKind, Media, Tap, TapDirection, Topup};

/// Streams of `mix` so per-item fates are independent of each other.
const STREAM_RIDER_KIND: u64 = 1;
const STREAM_RIDER_WALLET: u64 = 2;
const STREAM_RIDER_DETAIL: u64 = 3;
const STREAM_RIDER_MEDIA: u64 = 4;
const STREAM_VEHICLE: u64 = 5;
const STREAM_OFFLINE: u64 = 6;

/// A vehicle with more riders than this is not a bus.
pub const RIDES_PER_VEHICLE_MAX: u32 = 200;
/// A scale beyond this would build a rider pool past memory on a small machine.
pub const SCALE_MAX: u32 = 100_000;
/// Draws to find a rider not yet on this vehicle before giving up on the ride (tiny pools only).
const RIDER_DRAWS_MAX: u32 = 16;

#[derive(Clone, Debug)]
pub struct CommuterConfig {
    pub seed: u64,
    /// Multiplies vehicles (each trip runs `scale` times) and the rider pool.
    pub scale: u32,
    pub service_date: Date,
    /// Trips whose first departure is in `window_start_s..window_end_s` (local seconds) run.
    pub window_start_s: i64,
    pub window_end_s: i64,
    pub riders_per_scale: u32,
    /// Rides on a vehicle departing in the peak hour; other hours get a share of it.
    pub peak_rides_per_vehicle: u32,
    pub mix: RiderMix,
    /// Vehicles whose validator is offline and uploads late.
    pub offline_vehicle_per_mille: u32,
    /// How many vehicles later an offline validator's batch arrives.
    pub offline_upload_delay_vehicles: u32,
    /// Riders who forget to tap off (charged the highest fare from their stop).
    pub missing_tap_off_per_mille: u32,
    pub topup_amount_minor: u64,
    pub operator: String,
    /// Prefixes event and rider ids, so several runs can share one store.
    pub id_prefix: String,
}

impl CommuterConfig {
    pub fn new(seed: u64, scale: u32) -> CommuterConfig {
        CommuterConfig {
            seed,
            scale,
            service_date: date(2026, 11, 26),
            window_start_s: 5 * 3600,
            window_end_s: 12 * 3600,
            riders_per_scale: 4_000,
            peak_rides_per_vehicle: 40,
            mix: RiderMix::COMMUTER,
            offline_vehicle_per_mille: 30,
            offline_upload_delay_vehicles: 50,
            missing_tap_off_per_mille: 5,
            topup_amount_minor: 10_000,
            operator: "donan-bus".to_owned(),
            id_prefix: String::new(),
        }
    }
}

/// Share of the peak rides for a vehicle departing at `local_s`, in per mille: the peak hour
/// 07:30–08:30 is full, with hour-long ramps either side and a base load outside.
pub fn morning_profile_per_mille(local_s: i64) -> u32 {
    const BASE: i64 = 250;
    let hour = |h: i64, m: i64| h * 3600 + m * 60;
    let (ramp_up_start, peak_start, peak_end, ramp_down_end) =
        (hour(6, 30), hour(7, 30), hour(8, 30), hour(9, 30));
    let share = if (peak_start..peak_end).contains(&local_s) {
        1000
    } else if (ramp_up_start..peak_start).contains(&local_s) {
        BASE + (1000 - BASE) * (local_s - ramp_up_start) / 3600
    } else if (peak_end..ramp_down_end).contains(&local_s) {
        1000 - (1000 - BASE) * (local_s - peak_end) / 3600
    } else {
        BASE
    };
    share as u32
}

/// The workload: the timetable, the window's trips and the rider pool, all derived from the seed.
#[derive(Clone, Debug)]
pub struct Commuter {
    config: CommuterConfig,
    timetable: Arc<Timetable>,
    /// Indices into `timetable.trips` of the trips in the window.
    trips: Vec<u32>,
    day: LocalDay,
}

impl Commuter {
    pub fn new(config: CommuterConfig, timetable: Arc<Timetable>) -> Commuter {
        assert!(
            (1..=SCALE_MAX).contains(&config.scale),
            "scale must be 1..={SCALE_MAX}"
        );
        assert!(
            config.riders_per_scale > 0 && config.peak_rides_per_vehicle <= RIDES_PER_VEHICLE_MAX
        );
        assert!(
            config.offline_vehicle_per_mille <= 1000 && config.missing_tap_off_per_mille <= 1000
        );
        assert!(config.topup_amount_minor > 0);
        let trips: Vec<u32> = (0..timetable.trips.len() as u32)
            .filter(|&index| {
                let departure_s = timetable.trips[index as usize].first_departure_s();
                (config.window_start_s..config.window_end_s).contains(&departure_s)
            })
            .collect();
        let day = LocalDay::jst(config.service_date);
        Commuter {
            config,
            timetable,
            trips,
            day,
        }
    }

    pub fn config(&self) -> &CommuterConfig {
        &self.config
    }

    pub fn vehicle_count(&self) -> u64 {
        self.trips.len() as u64 * u64::from(self.config.scale)
    }

    pub fn rider_count(&self) -> u64 {
        u64::from(self.config.riders_per_scale) * u64::from(self.config.scale)
    }

    pub fn rider_id(&self, rider: u64) -> String {
        format!("{}r{rider}", self.config.id_prefix)
    }

    pub fn rider_kind(&self, rider: u64) -> RiderKind {
        self.config
            .mix
            .kind_of(mix(self.config.seed, STREAM_RIDER_KIND, rider))
    }

    pub fn pays_by_wallet(&self, rider: u64) -> bool {
        reduce(mix(self.config.seed, STREAM_RIDER_WALLET, rider), 1000)
            < u64::from(self.config.mix.wallet_per_mille)
    }

    /// Wallet riders pay by wallet; the others by IC card (60 %) or cash.
    pub fn media_of(&self, rider: u64) -> Media {
        if self.pays_by_wallet(rider) {
            Media::Wallet
        } else if reduce(mix(self.config.seed, STREAM_RIDER_MEDIA, rider), 10) < 6 {
            Media::Ic
        } else {
            Media::Cash
        }
    }

    pub fn rider_record(&self, rider: u64) -> RiderRecord {
        let hash = mix(self.config.seed, STREAM_RIDER_DETAIL, rider);
        record_for(
            self.rider_id(rider),
            self.rider_kind(rider),
            self.config.service_date,
            hash,
        )
    }

    /// Every rider of the pool, as the riders file would list them.
    pub fn riders(&self) -> impl Iterator<Item = RiderRecord> + '_ {
        (0..self.rider_count()).map(|rider| self.rider_record(rider))
    }

    /// The events in arrival order.
    pub fn events(&self) -> CommuterEvents<'_> {
        let rider_words = self.rider_count().div_ceil(64) as usize;
        CommuterEvents {
            workload: self,
            next_vehicle: 0,
            next_event_number: 0,
            pending: VecDeque::new(),
            late_batches: VecDeque::new(),
            topped_up: vec![0; rider_words],
            scratch: Vec::new(),
        }
    }
}

/// Streams a commuter workload one vehicle at a time; memory is one vehicle plus the late batches.
pub struct CommuterEvents<'a> {
    workload: &'a Commuter,
    next_vehicle: u64,
    next_event_number: u64,
    pending: VecDeque<Event>,
    /// (vehicle index at which it is uploaded, the taps); ordered by that index.
    late_batches: VecDeque<(u64, Vec<Event>)>,
    /// One bit per rider: a wallet rider gets one top-up, before their first ride.
    topped_up: Vec<u64>,
    scratch: Vec<(i64, u64, Event)>,
}

impl CommuterEvents<'_> {
    fn next_id(&mut self, kind: char) -> String {
        let number = self.next_event_number;
        self.next_event_number += 1;
        format!("{}{kind}{number}", self.workload.config.id_prefix)
    }

    /// Generates vehicle `self.next_vehicle` into `pending` (or a late batch).
    fn generate_vehicle(&mut self) {
        let workload = self.workload;
        let config = &workload.config;
        let vehicle = self.next_vehicle;
        self.next_vehicle += 1;
        let trip_slot = (vehicle / u64::from(config.scale)) as usize;
        let copy = vehicle % u64::from(config.scale);
        let trip = &workload.timetable.trips[workload.trips[trip_slot] as usize];
        let vehicle_id = format!("{}{}/{copy}", config.id_prefix, trip.trip_id);
        let mut rng = SplitMix64::new(mix(config.seed, STREAM_VEHICLE, vehicle));

        let boardable: Vec<usize> = (0..trip.calls.len() - 1)
            .filter(|&i| trip.calls[i].boarding_allowed)
            .collect();
        let jitter_per_mille = rng.between(750, 1250);
        let rides = u64::from(config.peak_rides_per_vehicle)
            * u64::from(morning_profile_per_mille(trip.first_departure_s()))
            * jitter_per_mille
            / 1_000_000;
        self.scratch.clear();
        let mut riders_on_board: Vec<u64> = Vec::with_capacity(rides as usize);
        let mut order = 0u64;
        for _ in 0..rides {
            let Some(&board) = boardable.get(rng.below(boardable.len().max(1) as u64) as usize)
            else {
                break;
            };
            let alightable: Vec<usize> = (board + 1..trip.calls.len())
                .filter(|&i| trip.calls[i].alighting_allowed)
                .collect();
            let Some(&alight) = alightable.get(rng.below(alightable.len().max(1) as u64) as usize)
            else {
                continue;
            };
            // One ride per rider per vehicle: taps pair by (rider, vehicle).
            let mut rider = rng.below(workload.rider_count());
            let mut draws = 1;
            while riders_on_board.contains(&rider) {
                if draws == RIDER_DRAWS_MAX {
                    break;
                }
                rider = rng.below(workload.rider_count());
                draws += 1;
            }
            if riders_on_board.contains(&rider) {
                continue;
            }
            riders_on_board.push(rider);
            let media = workload.media_of(rider);
            let rider_id = workload.rider_id(rider);
            let on_s = trip.calls[board].departure_s - rng.below(40) as i64;
            let off_s = trip.calls[alight].departure_s + rng.below(40) as i64;
            debug_assert!(on_s <= off_s);

            if media == Media::Wallet && !self.take_topup(rider) {
                // Topped up online just before boarding, so it is never in a late batch.
                let topup = Event {
                    id: self.next_id('u'),
                    at: workload.day.at(on_s - 300),
                    kind: EventKind::Topup(Topup {
                        rider: rider_id.clone(),
                        asset: "JPY".to_owned(),
                        amount_minor: config.topup_amount_minor,
                        source: None,
                    }),
                };
                self.pending.push_back(topup);
            }
            let tap = |direction: TapDirection, stop: u32| Tap {
                direction,
                operator: config.operator.clone(),
                route: Some(trip.route_id.clone()),
                stop: workload.timetable.stops[stop as usize].clone(),
                vehicle: vehicle_id.clone(),
                rider: rider_id.clone(),
                media,
            };
            let on = Event {
                id: self.next_id('t'),
                at: workload.day.at(on_s),
                kind: EventKind::Tap(tap(TapDirection::On, trip.calls[board].stop)),
            };
            self.scratch.push((on_s, order, on));
            order += 1;
            if !rng.chance_per_mille(config.missing_tap_off_per_mille) {
                let off = Event {
                    id: self.next_id('t'),
                    at: workload.day.at(off_s),
                    kind: EventKind::Tap(tap(TapDirection::Off, trip.calls[alight].stop)),
                };
                self.scratch.push((off_s, order, off));
                order += 1;
            }
        }
        // A validator records in time order; ties keep generation order (a rider's on before off).
        self.scratch.sort_by_key(|(at_s, order, _)| (*at_s, *order));
        let taps = self.scratch.drain(..).map(|(_, _, event)| event);
        let offline = reduce(mix(config.seed, STREAM_OFFLINE, vehicle), 1000)
            < u64::from(config.offline_vehicle_per_mille);
        if offline {
            let upload_at = vehicle + u64::from(config.offline_upload_delay_vehicles);
            self.late_batches.push_back((upload_at, taps.collect()));
        } else {
            self.pending.extend(taps);
        }
        while self
            .late_batches
            .front()
            .is_some_and(|(upload_at, _)| *upload_at <= vehicle)
        {
            let (_, batch) = self
                .late_batches
                .pop_front()
                .expect("front was just checked");
            self.pending.extend(batch);
        }
    }

    /// Marks the rider topped up; returns whether they already were.
    fn take_topup(&mut self, rider: u64) -> bool {
        let (word, bit) = ((rider / 64) as usize, rider % 64);
        let was = self.topped_up[word] & (1 << bit) != 0;
        self.topped_up[word] |= 1 << bit;
        was
    }
}

impl Iterator for CommuterEvents<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.next_vehicle < self.workload.vehicle_count() {
                self.generate_vehicle();
                continue;
            }
            // The day is over: whatever offline validators still hold is uploaded now.
            let (_, batch) = self.late_batches.pop_front()?;
            self.pending.extend(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::timetable::muroran_feed_dir;
    use super::*;

    fn workload(seed: u64, scale: u32) -> Commuter {
        let timetable = Arc::new(Timetable::load(&muroran_feed_dir(), "weekday").unwrap());
        Commuter::new(CommuterConfig::new(seed, scale), timetable)
    }

    #[test]
    fn the_rider_mix_is_within_one_point_of_the_issue() {
        let commuter = Commuter::new(
            CommuterConfig {
                riders_per_scale: 50_000,
                ..CommuterConfig::new(3, 1)
            },
            Arc::new(Timetable::load(&muroran_feed_dir(), "weekday").unwrap()),
        );
        let mut counts: HashMap<RiderKind, u64> = HashMap::new();
        let mut wallet = 0u64;
        for rider in 0..commuter.rider_count() {
            *counts.entry(commuter.rider_kind(rider)).or_default() += 1;
            wallet += u64::from(commuter.pays_by_wallet(rider));
        }
        let per_mille = |count: u64| count * 1000 / commuter.rider_count();
        let near = |count: u64, expected: u64| per_mille(count).abs_diff(expected) <= 10;
        assert!(near(counts[&RiderKind::Senior], 150), "{counts:?}");
        assert!(near(counts[&RiderKind::LicenceReturned], 50), "{counts:?}");
        assert!(near(counts[&RiderKind::Child], 100), "{counts:?}");
        assert!(near(counts[&RiderKind::Visitor], 200), "{counts:?}");
        assert!(near(wallet, 500), "{wallet}");
    }

    #[test]
    fn every_tap_on_is_followed_by_its_tap_off_on_the_same_vehicle_further_along_the_trip() {
        let commuter = workload(5, 2);
        let timetable = Timetable::load(&muroran_feed_dir(), "weekday").unwrap();
        let mut open: HashMap<(String, String), (String, jiff::Timestamp)> = HashMap::new();
        let (mut ons, mut offs) = (0u64, 0u64);
        for event in commuter.events() {
            let EventKind::Tap(tap) = &event.kind else {
                continue;
            };
            let key = (tap.rider.clone(), tap.vehicle.clone());
            match tap.direction {
                TapDirection::On => {
                    ons += 1;
                    // A forgotten tap-off leaves the previous one open; a new tap-on replaces it.
                    open.insert(key, (tap.stop.clone(), event.at));
                }
                TapDirection::Off => {
                    offs += 1;
                    let (from, on_at) = open
                        .remove(&key)
                        .expect("a tap-off has its tap-on earlier in the stream");
                    assert!(on_at <= event.at);
                    let trip_id = tap.vehicle.rsplit_once('/').unwrap().0;
                    let trip = timetable
                        .trips
                        .iter()
                        .find(|trip| trip.trip_id == trip_id)
                        .unwrap();
                    // Loop routes call at some stops twice: the first boarding must precede the last alighting.
                    let calls_at = |stop: &str| -> Vec<usize> {
                        (0..trip.calls.len())
                            .filter(|&index| {
                                timetable.stops[trip.calls[index].stop as usize] == stop
                            })
                            .collect()
                    };
                    let first_from = *calls_at(&from).first().unwrap();
                    let last_to = *calls_at(&tap.stop).last().unwrap();
                    assert!(first_from < last_to, "{from} → {} on {trip_id}", tap.stop);
                }
            }
        }
        assert!(ons > 1_000, "{ons}");
        let missing = ons - offs;
        assert!(
            missing * 1000 <= ons * 15,
            "{missing} of {ons} taps-on have no tap-off"
        );
    }

    #[test]
    fn the_peak_hour_carries_more_riders_than_the_hours_around_it() {
        let commuter = workload(9, 1);
        let mut by_hour = [0u64; 24];
        for event in commuter.events() {
            if let EventKind::Tap(tap) = &event.kind
                && tap.direction == TapDirection::On
            {
                let local_s = (event.at.as_second() + 9 * 3600).rem_euclid(86_400);
                by_hour[(local_s / 3600) as usize] += 1;
            }
        }
        let peak = by_hour[7] + by_hour[8];
        assert!(peak > 2 * (by_hour[5] + by_hour[6]), "{by_hour:?}");
        assert!(peak > 2 * (by_hour[10] + by_hour[11]), "{by_hour:?}");
        assert!(
            morning_profile_per_mille(8 * 3600) == 1000
                && morning_profile_per_mille(11 * 3600) < 300
        );
    }

    #[test]
    fn each_wallet_rider_is_topped_up_once_before_their_first_tap() {
        let commuter = workload(13, 1);
        let mut topped_up: HashMap<String, u32> = HashMap::new();
        for event in commuter.events() {
            match &event.kind {
                EventKind::Topup(topup) => *topped_up.entry(topup.rider.clone()).or_default() += 1,
                EventKind::Tap(tap) if tap.media == Media::Wallet => {
                    assert_eq!(topped_up.get(&tap.rider), Some(&1), "{}", tap.rider);
                }
                EventKind::Tap(tap) => assert!(!topped_up.contains_key(&tap.rider)),
                _ => panic!("a commuter morning has only taps and top-ups"),
            }
        }
        assert!(!topped_up.is_empty());
    }

    #[test]
    fn offline_validators_upload_taps_out_of_time_order() {
        let commuter = workload(21, 2);
        let mut latest = jiff::Timestamp::MIN;
        let mut late = 0u64;
        for event in commuter.events() {
            if matches!(event.kind, EventKind::Tap(_)) {
                if event.at + jiff::SignedDuration::from_mins(30) < latest {
                    late += 1;
                }
                latest = latest.max(event.at);
            }
        }
        assert!(late > 0, "no tap arrived more than 30 minutes late");
    }

    #[test]
    fn the_same_seed_gives_the_same_events_and_ids_are_unique() {
        let first: Vec<String> = workload(1, 1)
            .events()
            .map(|event| event.canonical_json())
            .collect();
        let again: Vec<String> = workload(1, 1)
            .events()
            .map(|event| event.canonical_json())
            .collect();
        let other: Vec<String> = workload(2, 1)
            .events()
            .map(|event| event.canonical_json())
            .collect();
        assert_eq!(first, again);
        assert_ne!(first, other);
        let mut ids: Vec<&str> = first
            .iter()
            .map(|json| json.split('"').nth(3).unwrap())
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }

    #[test]
    fn scale_multiplies_vehicles_and_riders() {
        let one = workload(4, 1);
        let three = workload(4, 3);
        assert_eq!(three.vehicle_count(), 3 * one.vehicle_count());
        assert_eq!(three.rider_count(), 3 * one.rider_count());
        let events_one = one.events().count() as f64;
        let events_three = three.events().count() as f64;
        assert!(
            (2.7..3.3).contains(&(events_three / events_one)),
            "{events_one} {events_three}"
        );
    }
}
