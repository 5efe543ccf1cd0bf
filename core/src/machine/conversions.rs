//! Conversions and activity grants at a place (issue 9).
//!
//! - `convert` {rider, from_asset, to_asset, amount} at a `[[conversions]]` rate of whole blocks:
//!   blocks = floor(amount / from_units); the rider gives blocks × from_units of `from` (to
//!   `issuer:{from}`, `conversion_out`) and gets blocks × to_units of `to` (from `issuer:{to}`,
//!   `conversion_in`), one chain. What doesn't fill a block stays in `from` (the remainder).
//!   Refusals in order: `no_conversion`, `already_claimed` (a once-per-person conversion made
//!   before), `below_conversion_rate` (not one block), `insufficient_funds` (the rider holds less
//!   than the amount), `amount_too_large` (the result passes `to`'s bound).
//! - A `grant` with `place` counts per (rider, asset, place, local day); past the asset's
//!   `grants_per_place_per_day` it is `grant_limit_reached`. Counts are kept for the
//!   `GRANT_DAYS_KEPT` latest local days (bounded memory): a grant dated before them counts
//!   from zero.

use std::collections::{BTreeMap, BTreeSet};

use hashbrown::HashMap;
use kanjo_ledger::{AccountId, Transfer};
use kanjo_rules::LocalDate;
use xxhash_rust::xxh3::xxh3_64;

use super::{Machine, Movement, Prepared, check_amount_bound};
use crate::answer::{ConvertOutcome, Outcome, Rejection, RejectionCode};
use crate::chart::{AccountName, Reason};
use crate::event::{Convert, Grant};

/// Local days whose grants per place are counted.
pub const GRANT_DAYS_KEPT: usize = 8;

#[derive(Default)]
pub(super) struct ConversionBook {
    /// (conversion index, rider's source account) of once-per-person conversions made.
    claimed: BTreeSet<(usize, AccountId)>,
    /// Local day → (rider's account of the asset, place hash) → grants accepted.
    grants: BTreeMap<LocalDate, HashMap<(AccountId, u64), u32>>,
}

impl Machine {
    pub(super) fn apply_grant(&mut self, prepared: &Prepared, grant: &Grant) -> Outcome {
        let counted = match &grant.place {
            Some(place) => match self.check_grant_limit(prepared, grant, place) {
                Ok(key) => key,
                Err(rejection) => return Outcome::Rejected(rejection),
            },
            None => None,
        };
        let outcome = self.apply_movement(
            prepared,
            &grant.asset,
            grant.amount_minor,
            Movement::Grant {
                rider: &grant.rider,
            },
        );
        if let (Some((day, key)), Outcome::Grant { .. }) = (counted, &outcome) {
            let days = &mut self.conversions.grants;
            *days.entry(day).or_default().entry(key).or_default() += 1;
            while days.len() > GRANT_DAYS_KEPT {
                days.pop_first();
            }
        }
        outcome
    }

    /// The key to count the grant under if the asset limits grants per place; or the refusal.
    #[allow(clippy::type_complexity)]
    fn check_grant_limit(
        &self,
        prepared: &Prepared,
        grant: &Grant,
        place: &str,
    ) -> Result<Option<(LocalDate, (AccountId, u64))>, Rejection> {
        let Some(limit) = self
            .assets
            .get(&grant.asset)
            .and_then(|(_, spec)| spec.grants_per_place_per_day)
        else {
            return Ok(None);
        };
        let day = self.programme.local_date(prepared.event.at);
        let account = AccountName::Rider {
            rider: &grant.rider,
            asset: &grant.asset,
        }
        .id();
        let key = (account, xxh3_64(place.as_bytes()));
        let done = self
            .conversions
            .grants
            .get(&day)
            .and_then(|counts| counts.get(&key))
            .copied()
            .unwrap_or(0);
        if done >= limit {
            return Err(Rejection::new(
                RejectionCode::GrantLimitReached,
                format!(
                    "rider {} was granted {} at {place} {done} times on {day:?}; the limit is {limit} a day",
                    grant.rider, grant.asset
                ),
            ));
        }
        Ok(Some((day, key)))
    }

    pub(super) fn apply_convert(&mut self, prepared: &Prepared, convert: &Convert) -> Outcome {
        self.post_convert(prepared, convert)
            .unwrap_or_else(Outcome::Rejected)
    }

    fn post_convert(
        &mut self,
        prepared: &Prepared,
        convert: &Convert,
    ) -> Result<Outcome, Rejection> {
        let refuse = |code, message: String| Err(Rejection::new(code, message));
        let Some(index) = self.assets.conversions().iter().position(|conversion| {
            conversion.from == convert.from_asset && conversion.to == convert.to_asset
        }) else {
            return refuse(
                RejectionCode::NoConversion,
                format!(
                    "the programme converts no {} into {}",
                    convert.from_asset, convert.to_asset
                ),
            );
        };
        let rate = self.assets.conversions()[index].clone();
        let source = AccountName::Rider {
            rider: &convert.rider,
            asset: &convert.from_asset,
        }
        .id();
        if rate.once_per_person && self.conversions.claimed.contains(&(index, source)) {
            return refuse(
                RejectionCode::AlreadyClaimed,
                format!(
                    "rider {} already converted their {} into {}",
                    convert.rider, convert.from_asset, convert.to_asset
                ),
            );
        }
        let blocks = convert.amount_minor / rate.from_units;
        if blocks == 0 {
            return refuse(
                RejectionCode::BelowConversionRate,
                format!(
                    "{} {} is less than one block of {} (→ {} {})",
                    convert.amount_minor, rate.from, rate.from_units, rate.to_units, rate.to
                ),
            );
        }
        let available = self
            .ledger
            .account(source)
            .map_or(0, |held| held.available_debit());
        if available < convert.amount_minor {
            return refuse(
                RejectionCode::InsufficientFunds,
                format!(
                    "rider {} holds {available} {}; the conversion offers {}",
                    convert.rider, rate.from, convert.amount_minor
                ),
            );
        }
        let taken_minor = blocks * rate.from_units;
        // blocks ≤ amount ≤ u64::MAX and to_units ≤ 10^6: the product fits a u128.
        let received = u128::from(blocks) * u128::from(rate.to_units);
        let (to, to_spec) = self.assets.get(&rate.to).expect("checked at load");
        let received_minor = u64::try_from(received).unwrap_or(u64::MAX);
        check_amount_bound(&rate.to, received_minor, to_spec)?;
        let (from, _) = self.assets.get(&rate.from).expect("checked at load");
        self.start_legs();
        let from_issuer = self.leg_account(&AccountName::Issuer { asset: &rate.from }, from);
        let to_issuer = self.leg_account(&AccountName::Issuer { asset: &rate.to }, to);
        let target = self.leg_account(
            &AccountName::Rider {
                rider: &convert.rider,
                asset: &rate.to,
            },
            to,
        );
        let out = Transfer::new(
            0,
            source,
            from_issuer,
            taken_minor,
            from,
            Reason::ConversionOut as u16,
        );
        let into = Transfer::new(
            0,
            to_issuer,
            target,
            received_minor,
            to,
            Reason::ConversionIn as u16,
        );
        self.legs.extend([out, into]);
        self.post_legs(prepared.id_hash)
            .map_err(|error| self.post_rejection(&error))?;
        if rate.once_per_person {
            self.conversions.claimed.insert((index, source));
        }
        Ok(Outcome::Convert(ConvertOutcome {
            from,
            to,
            taken_minor,
            received_minor,
            remainder_minor: convert.amount_minor - taken_minor,
        }))
    }
}
