//! Pairing tap-ons with tap-offs into rides.
//!
//! Taps are paired by (rider, vehicle) and by their own times, not by arrival: validators that were
//! offline upload late and out of order. A tap-on pairs with the earliest tap-off after it within
//! the pairing window; a tap-off with the latest tap-on before it. A tap that is still alone when
//! the event-time watermark (the latest `at` seen) passes `at + window + upload grace` expires.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use xxhash_rust::xxh3::Xxh3;

use crate::event::{Media, TapDirection};

/// Pending taps the engine will hold before refusing more (memory bound).
pub const PENDING_TAPS_MAX: usize = 4_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingTap {
    pub event_id: Box<str>,
    pub id_hash: u128,
    pub direction: TapDirection,
    pub at_ns: i128,
    pub operator: Box<str>,
    pub route: Option<Box<str>>,
    pub stop: Box<str>,
    pub rider: Box<str>,
    pub media: Media,
    sequence: u64,
    deadline_ns: i128,
}

#[derive(Default)]
pub struct TapBook {
    by_key: HashMap<u128, Vec<PendingTap>>,
    by_deadline: BTreeMap<(i128, u64), u128>,
    next_sequence: u64,
    len: usize,
}

pub struct NewTap<'a> {
    pub event_id: &'a str,
    pub id_hash: u128,
    pub direction: TapDirection,
    pub at_ns: i128,
    pub operator: &'a str,
    pub route: Option<&'a str>,
    pub stop: &'a str,
    pub rider: &'a str,
    pub vehicle: &'a str,
    pub media: Media,
}

pub fn pairing_key(rider: &str, vehicle: &str) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(&(rider.len() as u64).to_le_bytes());
    hasher.update(rider.as_bytes());
    hasher.update(vehicle.as_bytes());
    hasher.digest128()
}

impl TapBook {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes the tap that pairs with `tap`, if one is waiting.
    pub fn take_partner(&mut self, tap: &NewTap, window_ns: i128) -> Option<PendingTap> {
        let key = pairing_key(tap.rider, tap.vehicle);
        let waiting = self.by_key.get_mut(&key)?;
        let best = match tap.direction {
            // The earliest tap-off at or after this tap-on, within the window.
            TapDirection::On => waiting
                .iter()
                .enumerate()
                .filter(|(_, other)| {
                    other.direction == TapDirection::Off
                        && other.at_ns >= tap.at_ns
                        && other.at_ns - tap.at_ns <= window_ns
                })
                .min_by_key(|(_, other)| (other.at_ns, other.sequence))
                .map(|(index, _)| index),
            // The latest tap-on at or before this tap-off, within the window.
            TapDirection::Off => waiting
                .iter()
                .enumerate()
                .filter(|(_, other)| {
                    other.direction == TapDirection::On
                        && other.at_ns <= tap.at_ns
                        && tap.at_ns - other.at_ns <= window_ns
                })
                .max_by_key(|(_, other)| (other.at_ns, u64::MAX - other.sequence))
                .map(|(index, _)| index),
        }?;
        let partner = waiting.swap_remove(best);
        if waiting.is_empty() {
            self.by_key.remove(&key);
        }
        let removed = self
            .by_deadline
            .remove(&(partner.deadline_ns, partner.sequence));
        assert_eq!(
            removed,
            Some(key),
            "the deadline index tracks every pending tap"
        );
        self.len -= 1;
        Some(partner)
    }

    /// Holds a tap until its partner arrives or it expires. False when the book is full.
    pub fn hold(&mut self, tap: &NewTap, expires_after_ns: i128) -> bool {
        if self.len >= PENDING_TAPS_MAX {
            return false;
        }
        let key = pairing_key(tap.rider, tap.vehicle);
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let deadline_ns = tap.at_ns + expires_after_ns;
        self.by_key.entry(key).or_default().push(PendingTap {
            event_id: tap.event_id.into(),
            id_hash: tap.id_hash,
            direction: tap.direction,
            at_ns: tap.at_ns,
            operator: tap.operator.into(),
            route: tap.route.map(Into::into),
            stop: tap.stop.into(),
            rider: tap.rider.into(),
            media: tap.media,
            sequence,
            deadline_ns,
        });
        self.by_deadline.insert((deadline_ns, sequence), key);
        self.len += 1;
        true
    }

    /// Removes and returns, oldest deadline first, every tap whose deadline is before `watermark_ns`.
    pub fn expire(&mut self, watermark_ns: i128) -> Vec<PendingTap> {
        let mut expired = Vec::new();
        while let Some((&(deadline_ns, sequence), &key)) = self.by_deadline.first_key_value() {
            if deadline_ns >= watermark_ns {
                break;
            }
            self.by_deadline.pop_first();
            let waiting = self
                .by_key
                .get_mut(&key)
                .expect("every deadline entry has its tap in by_key");
            let index = waiting
                .iter()
                .position(|tap| tap.sequence == sequence)
                .expect("the deadline entry's tap is waiting");
            expired.push(waiting.swap_remove(index));
            if waiting.is_empty() {
                self.by_key.remove(&key);
            }
            self.len -= 1;
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE_NS: i128 = 60_000_000_000;
    const WINDOW_NS: i128 = 180 * MINUTE_NS;

    fn tap<'a>(id: &'a str, direction: TapDirection, minute: i128, stop: &'a str) -> NewTap<'a> {
        NewTap {
            event_id: id,
            id_hash: u128::from(id.len() as u64),
            direction,
            at_ns: minute * MINUTE_NS,
            operator: "bus",
            route: Some("r1"),
            stop,
            rider: "rider",
            vehicle: "v1",
            media: Media::Cash,
        }
    }

    #[test]
    fn a_tap_off_pairs_with_the_latest_earlier_tap_on() {
        let mut book = TapBook::default();
        assert!(book.hold(&tap("on-1", TapDirection::On, 0, "a"), WINDOW_NS));
        assert!(book.hold(&tap("on-2", TapDirection::On, 30, "b"), WINDOW_NS));
        let partner = book
            .take_partner(&tap("off", TapDirection::Off, 40, "c"), WINDOW_NS)
            .unwrap();
        assert_eq!(&*partner.event_id, "on-2");
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn a_late_tap_on_finds_the_tap_off_that_arrived_first() {
        let mut book = TapBook::default();
        assert!(book.hold(&tap("off", TapDirection::Off, 50, "c"), WINDOW_NS));
        let partner = book
            .take_partner(&tap("on", TapDirection::On, 10, "a"), WINDOW_NS)
            .unwrap();
        assert_eq!(&*partner.event_id, "off");
        assert!(book.is_empty());
    }

    #[test]
    fn taps_further_apart_than_the_window_do_not_pair() {
        let mut book = TapBook::default();
        assert!(book.hold(&tap("on", TapDirection::On, 0, "a"), WINDOW_NS));
        assert!(
            book.take_partner(&tap("off", TapDirection::Off, 181, "c"), WINDOW_NS)
                .is_none()
        );
    }

    #[test]
    fn taps_expire_in_deadline_order_once_the_watermark_passes() {
        let mut book = TapBook::default();
        assert!(book.hold(&tap("late", TapDirection::On, 20, "a"), WINDOW_NS));
        assert!(book.hold(&tap("early", TapDirection::On, 10, "a"), WINDOW_NS));
        assert!(book.expire(190 * MINUTE_NS).is_empty());
        let expired = book.expire(201 * MINUTE_NS);
        let ids: Vec<&str> = expired.iter().map(|tap| &*tap.event_id).collect();
        assert_eq!(ids, ["early", "late"]);
        assert!(book.is_empty());
    }
}
