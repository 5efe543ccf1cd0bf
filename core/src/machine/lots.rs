//! Point lots and their expiry (issue 9).
//!
//! - Every credit of a points asset to a rider makes (or joins) a **lot**: what is left, the
//!   grant time, and the end of its life from the asset's rule (`expires_after_days`: grant +
//!   N × 86 400 s; `expires = "fiscal_year_end"`: 1 April 00:00:00 JST after the grant, so
//!   31 March 23:59:59 is the last second it pays). A lot is usable at instants before its end.
//! - Lots follow the ledger, not the event kinds: after every chain posts, each posted debit of a
//!   rider's points takes from the earliest-ending lots first (ties: earliest grant), and each
//!   credit adds a lot. So shop payments, captures, redemptions, sends and expiry itself all
//!   spend in the same order, and Σ lots = the account's posted balance (asserted).
//! - Lots with the same end are one lot (the earliest grant is kept): an asset without a rule has
//!   one lot per rider, a fiscal-year asset one per year. Fully spent lots are dropped.
//! - The sweep (before every event and at the end of a batch, on the event-time watermark) moves
//!   what is left of every lot whose end has come from `rider:…:{asset}` to `expired:{asset}` in
//!   a transfer of its own. A hold (authorisation) on the points waits: the held part is swept
//!   once the hold is captured or released.
//! - A refund gives back in reverse of the lots the purchase took: into the rider's lot while it
//!   lives, to `expired:{asset}` once its end has come.

use std::collections::{BTreeMap, BTreeSet};

use hashbrown::HashMap;
use jiff::Timestamp;
use kanjo_ledger::{AccountId, AssetId, OwnerKind, Transfer, TransferFlags};
use xxhash_rust::xxh3::Xxh3;

use super::{Machine, NS_PER_MS};
use crate::chart::{AccountName, ExpiryRule, Reason};

/// Lots one rider may hold of one asset; a grant past it joins the latest-ending lot.
pub const LOTS_PER_ACCOUNT_MAX: usize = 512;
/// Lots in the whole book; past it a grant joins the account's latest-ending lot.
pub const LOTS_TOTAL_MAX: usize = 16 * 1024 * 1024;
/// Lots one purchase can take from, per asset, remembered for its refunds.
const SLICES_PER_PURCHASE_MAX: usize = 64;
/// Keeps at most `SLICES_PER_PURCHASE_MAX` slices: the overflow joins the last kept slice, dated
/// by the earliest grant and end among them, so a refund never revives a lapsed point (it may
/// lapse a little early instead).
fn fold_overflow(kept: &mut Vec<Slice>) {
    if kept.len() <= SLICES_PER_PURCHASE_MAX {
        return;
    }
    let overflow: Vec<Slice> = kept.drain(SLICES_PER_PURCHASE_MAX..).collect();
    let last = kept.last_mut().expect("SLICES_PER_PURCHASE_MAX > 0");
    for slice in overflow {
        last.taken_minor += slice.taken_minor;
        last.granted_ns = last.granted_ns.min(slice.granted_ns);
        last.ends_ns = last.ends_ns.min(slice.ends_ns);
    }
    debug_assert_eq!(kept.len(), SLICES_PER_PURCHASE_MAX);
}

/// Lots that never end.
pub const NEVER_NS: i128 = i128::MAX;

const NS_PER_DAY: i128 = 86_400 * 1_000 * NS_PER_MS;

/// One lot of points, as `GET /v1/riders/{id}/lots` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lot {
    pub left_minor: u64,
    pub granted_ns: i128,
    /// The first instant the lot no longer pays; `NEVER_NS` for none.
    pub ends_ns: i128,
}

/// Part of a lot a purchase took, for its refunds.
#[derive(Clone, Copy)]
pub(super) struct Slice {
    taken_minor: u64,
    granted_ns: i128,
    ends_ns: i128,
}

#[derive(Default)]
pub(super) struct LotBook {
    /// Rider account → its asset and lots in spend order (ends, then grant).
    accounts: HashMap<AccountId, (AssetId, Vec<Lot>)>,
    total: usize,
    /// (end, account) of every lot that ends: the sweep's queue.
    ends: BTreeSet<(i128, AccountId)>,
    /// (purchase or capture id hash, rider account) → the lots it took, in the order taken.
    spent: HashMap<(u128, AccountId), Vec<Slice>>,
    /// Lots a refund being posted gives back: applied when its chain posts.
    restoring: Vec<(AccountId, Lot)>,
    /// What the current event's credits are dated.
    pub(super) now_ns: i128,
    sweeps: u64,
}

impl LotBook {
    fn add(&mut self, account: AccountId, asset: AssetId, lot: Lot) {
        assert!(lot.left_minor > 0);
        let (_, lots) = self
            .accounts
            .entry(account)
            .or_insert_with(|| (asset, Vec::new()));
        let at = lots.partition_point(|held| held.ends_ns < lot.ends_ns);
        if let Some(same) = lots.get_mut(at).filter(|held| held.ends_ns == lot.ends_ns) {
            same.left_minor += lot.left_minor;
            same.granted_ns = same.granted_ns.min(lot.granted_ns);
            return;
        }
        let full = lots.len() >= LOTS_PER_ACCOUNT_MAX || self.total >= LOTS_TOTAL_MAX;
        // Bounded memory over a precise end: join the latest-ending lot (the earlier end). An
        // account with no lot yet gets its first even when the total is reached (one per account).
        if full && let Some(last) = lots.last_mut() {
            last.left_minor += lot.left_minor;
            return;
        }
        lots.insert(at, lot);
        self.total += 1;
        if lot.ends_ns != NEVER_NS {
            self.ends.insert((lot.ends_ns, account));
        }
    }

    /// Takes `amount` from the account's lots in spend order; the slices taken.
    fn take(&mut self, account: AccountId, mut amount: u64) -> Vec<Slice> {
        let (_, lots) = self
            .accounts
            .get_mut(&account)
            .expect("a rider's points were credited before they are spent");
        let mut slices = Vec::new();
        let mut emptied = 0;
        for lot in lots.iter_mut() {
            if amount == 0 {
                break;
            }
            let taken = lot.left_minor.min(amount);
            lot.left_minor -= taken;
            amount -= taken;
            slices.push(Slice {
                taken_minor: taken,
                granted_ns: lot.granted_ns,
                ends_ns: lot.ends_ns,
            });
            emptied += usize::from(lot.left_minor == 0);
        }
        assert_eq!(amount, 0, "Σ lots covers every posted debit");
        for lot in lots.iter().take(emptied) {
            assert_eq!(lot.left_minor, 0);
            if lot.ends_ns != NEVER_NS {
                self.ends.remove(&(lot.ends_ns, account));
            }
        }
        lots.drain(..emptied);
        self.total -= emptied;
        if lots.is_empty() {
            self.accounts.remove(&account);
        }
        slices
    }

    fn sum(&self, account: AccountId) -> u64 {
        self.accounts
            .get(&account)
            .map_or(0, |(_, lots)| lots.iter().map(|lot| lot.left_minor).sum())
    }
}

/// The first instant a lot granted at `granted_ns` no longer pays.
pub fn lot_end_ns(rule: ExpiryRule, granted_ns: i128) -> i128 {
    match rule {
        ExpiryRule::Never => NEVER_NS,
        ExpiryRule::AfterDays(days) => granted_ns.saturating_add(i128::from(days) * NS_PER_DAY),
        ExpiryRule::FiscalYearEnd => fiscal_year_end_ns(granted_ns),
    }
}

/// 1 April 00:00:00 JST after `at_ns` (the Japanese fiscal year runs April to March).
fn fiscal_year_end_ns(at_ns: i128) -> i128 {
    let jst = jiff::tz::offset(9);
    let local = jst.to_datetime(Timestamp::from_nanosecond(at_ns).unwrap_or(Timestamp::MAX));
    let year = if local.month() >= 4 {
        local.year() + 1
    } else {
        local.year()
    };
    // A grant dated in the last fiscal year jiff knows (April 9999 on) has no end it can name.
    jiff::civil::Date::new(year, 4, 1)
        .ok()
        .and_then(|april_first| jst.to_timestamp(april_first.at(0, 0, 0, 0)).ok())
        .map_or(NEVER_NS, |end| end.as_nanosecond())
}

impl Machine {
    fn expiry_rule(&self, asset: AssetId) -> Option<ExpiryRule> {
        let spec = self.assets.spec(asset)?;
        (kanjo_ledger::AssetKind::from(spec.kind) == kanjo_ledger::AssetKind::Points)
            .then(|| spec.expiry_rule())
    }

    fn is_rider(&self, account: AccountId) -> bool {
        self.ledger
            .account(account)
            .is_some_and(|held| held.owner == OwnerKind::Rider)
    }

    /// Follows a chain that just posted: debits of riders' points take from their lots, credits
    /// add lots. Then Σ lots = balance for every rider account the chain touched.
    pub(super) fn follow_lots(&mut self, id_hash: u128) {
        let restoring = std::mem::take(&mut self.lots.restoring);
        // Index, not iterate: the legs are Copy, and a clone would allocate on every chain.
        for index in 0..self.legs.len() {
            let leg = self.legs[index];
            if leg.flags.contains(TransferFlags::PENDING)
                || leg.flags.contains(TransferFlags::VOID_PENDING)
            {
                continue;
            }
            let (debit, credit, asset, reason) = if leg.flags.contains(TransferFlags::POST_PENDING)
            {
                let held = self
                    .ledger
                    .transfer(leg.pending_id)
                    .expect("a posted hold exists");
                (
                    held.debit_account_id,
                    held.credit_account_id,
                    held.asset,
                    held.code,
                )
            } else {
                (
                    leg.debit_account_id,
                    leg.credit_account_id,
                    leg.asset,
                    leg.code,
                )
            };
            let Some(rule) = self.expiry_rule(asset) else {
                continue;
            };
            let mut slices = Vec::new();
            if self.is_rider(debit) && leg.amount > 0 {
                slices = self.lots.take(debit, leg.amount);
                let paid =
                    reason == Reason::Purchase as u16 || reason == Reason::Authorization as u16;
                if paid && rule != ExpiryRule::Never {
                    let kept = self.lots.spent.entry((id_hash, debit)).or_default();
                    kept.extend(slices.iter().copied());
                    fold_overflow(kept);
                }
            }
            if self.is_rider(credit) && leg.amount > 0 {
                self.credit_lots(credit, asset, rule, leg.amount, reason, &slices, &restoring);
            }
            self.assert_lots_balance(debit);
            self.assert_lots_balance(credit);
        }
    }

    /// A credit to a rider: a refund gives back the lots it planned, a send carries the sender's
    /// lots, anything else is a new lot dated now.
    #[allow(clippy::too_many_arguments)]
    fn credit_lots(
        &mut self,
        account: AccountId,
        asset: AssetId,
        rule: ExpiryRule,
        amount: u64,
        reason: u16,
        sent: &[Slice],
        restoring: &[(AccountId, Lot)],
    ) {
        let mut left = amount;
        let carried: Vec<Lot> = if reason == Reason::Refund as u16 {
            restoring
                .iter()
                .filter(|(to, _)| *to == account)
                .map(|(_, lot)| *lot)
                .collect()
        } else if reason == Reason::Send as u16 {
            sent.iter()
                .map(|slice| Lot {
                    left_minor: slice.taken_minor,
                    granted_ns: slice.granted_ns,
                    ends_ns: slice.ends_ns,
                })
                .collect()
        } else {
            Vec::new()
        };
        for lot in carried {
            let part = lot.left_minor.min(left);
            if part > 0 {
                left -= part;
                self.lots.add(
                    account,
                    asset,
                    Lot {
                        left_minor: part,
                        ..lot
                    },
                );
            }
        }
        if left > 0 {
            let now_ns = self.lots.now_ns;
            let lot = Lot {
                left_minor: left,
                granted_ns: now_ns,
                ends_ns: lot_end_ns(rule, now_ns),
            };
            self.lots.add(account, asset, lot);
        }
    }

    fn assert_lots_balance(&self, account: AccountId) {
        if !self.is_rider(account) || !self.lots.accounts.contains_key(&account) {
            return;
        }
        let held = self.ledger.account(account).expect("checked above");
        assert_eq!(
            i128::from(self.lots.sum(account)),
            held.credit_balance_posted(),
            "Σ lots = the balance of {}",
            self.account_name(account).unwrap_or("?")
        );
    }

    /// The refund legs of a points part: what goes back to lots still living to the rider, what
    /// goes back to lapsed lots to `expired:{asset}`. Lots given back are applied when the chain
    /// posts.
    /// The slices a refund of `purchase` may take from `rider_accounts`, to put back with
    /// `restore_refund_lots` if the refund's chain is refused (`push_refund_legs` takes them
    /// before the chain posts).
    pub(super) fn refund_lots_snapshot(
        &self,
        purchase: u128,
        rider_accounts: impl Iterator<Item = AccountId>,
    ) -> Vec<((u128, AccountId), Vec<Slice>)> {
        rider_accounts
            .filter_map(|account| {
                let key = (purchase, account);
                self.lots
                    .spent
                    .get(&key)
                    .map(|slices| (key, slices.clone()))
            })
            .collect()
    }

    /// Undoes `push_refund_legs` for a refused chain: its slices back, nothing to restore.
    pub(super) fn restore_refund_lots(&mut self, snapshot: Vec<((u128, AccountId), Vec<Slice>)>) {
        for (key, slices) in snapshot {
            self.lots.spent.insert(key, slices);
        }
        self.lots.restoring.clear();
    }

    pub(super) fn push_refund_legs(
        &mut self,
        purchase: u128,
        asset: AssetId,
        shop_account: AccountId,
        rider_account: AccountId,
        take: u64,
        at_ns: i128,
    ) {
        let mut to_rider = take;
        let mut lapsed = 0;
        if let Some(slices) = self.lots.spent.get_mut(&(purchase, rider_account)) {
            let mut left = take;
            for slice in slices.iter_mut().rev() {
                let part = slice.taken_minor.min(left);
                if part == 0 {
                    continue;
                }
                slice.taken_minor -= part;
                left -= part;
                if slice.ends_ns <= at_ns {
                    lapsed += part;
                } else {
                    let lot = Lot {
                        left_minor: part,
                        granted_ns: slice.granted_ns,
                        ends_ns: slice.ends_ns,
                    };
                    self.lots.restoring.push((rider_account, lot));
                }
            }
            to_rider = take - lapsed;
        }
        let push = |machine: &mut Machine, credit, amount, reason: Reason| {
            if amount > 0 {
                let leg = Transfer::new(0, shop_account, credit, amount, asset, reason as u16);
                machine.legs.push(leg);
            }
        };
        push(self, rider_account, to_rider, Reason::Refund);
        if lapsed > 0 {
            let code = self.asset_code_of(asset);
            let expired = self.leg_account(&AccountName::Expired { asset: &code }, asset);
            // Still a refund by the shop (the shop statement counts it so): only its destination
            // is breakage.
            push(self, expired, lapsed, Reason::Refund);
        }
    }

    fn asset_code_of(&self, asset: AssetId) -> String {
        self.assets
            .spec(asset)
            .expect("lot assets are in the book")
            .code
            .clone()
    }

    /// Moves what is left of every lot whose end has come (by the event-time watermark, or by
    /// `now_ns` if later) to `expired:{asset}`, one transfer per rider account and end.
    pub fn expire_lots(&mut self) -> usize {
        self.expire_lots_at(self.watermark_ns)
    }

    pub(super) fn expire_lots_at(&mut self, now_ns: i128) -> usize {
        let due: Vec<(i128, AccountId)> = self
            .lots
            .ends
            .range(..(now_ns.saturating_add(1), 0))
            .copied()
            .collect();
        let mut moved = 0;
        for (ends_ns, account) in due {
            if self.expire_lot(ends_ns, account) {
                moved += 1;
            }
        }
        moved
    }

    /// One lapsed lot's transfer; false if a hold keeps it (it is swept again later).
    fn expire_lot(&mut self, ends_ns: i128, account: AccountId) -> bool {
        let Some((asset, lots)) = self.lots.accounts.get(&account) else {
            return false;
        };
        let asset = *asset;
        let due: u64 = lots
            .iter()
            .take_while(|lot| lot.ends_ns <= ends_ns)
            .map(|lot| lot.left_minor)
            .sum();
        let available = self
            .ledger
            .account(account)
            .map_or(0, |held| held.available_debit());
        let amount = due.min(available);
        if amount == 0 {
            return false;
        }
        let code = self.asset_code_of(asset);
        self.start_legs();
        let expired = self.leg_account(&AccountName::Expired { asset: &code }, asset);
        let mut leg = Transfer::new(0, account, expired, amount, asset, Reason::Expiry as u16);
        // The lot's last usable local day, as shop legs carry their day: breakage is reported
        // by the fiscal year the points lapsed in, not the day the sweep happened to run.
        let last_usable = Timestamp::from_nanosecond(ends_ns - 1).unwrap_or(Timestamp::MAX);
        leg.user_data_64 = crate::shops::day_stamp(self.programme.local_date(last_usable));
        self.legs.push(leg);
        let mut hasher = Xxh3::new();
        hasher.update(b"lot-expiry");
        hasher.update(&account.to_le_bytes());
        hasher.update(&ends_ns.to_le_bytes());
        hasher.update(&self.lots.sweeps.to_le_bytes());
        self.lots.sweeps += 1;
        let posted = self.post_legs(hasher.digest128());
        assert!(
            posted.is_ok(),
            "a lapsed lot moves: it is within the rider's balance"
        );
        true
    }

    /// Lots held in memory, every rider and asset: what the bound on memory is about (fully
    /// spent and lapsed lots are dropped).
    pub fn live_lots(&self) -> usize {
        self.lots.total
    }

    /// Purchases whose lot slices are remembered for their refunds.
    pub fn remembered_purchase_slices(&self) -> usize {
        self.lots.spent.len()
    }

    /// The lots of one rider's asset, in spend order; None for an unknown asset.
    pub fn lots(&self, rider: &str, asset: &str) -> Option<Vec<Lot>> {
        self.assets.get(asset)?;
        let account = AccountName::Rider { rider, asset }.id();
        Some(
            self.lots
                .accounts
                .get(&account)
                .map(|(_, lots)| lots.clone())
                .unwrap_or_default(),
        )
    }

    /// What of an asset ends in `[from_ns, until_ns]`, summed per end instant.
    pub fn lots_ending(
        &self,
        asset: AssetId,
        from_ns: i128,
        until_ns: i128,
    ) -> BTreeMap<i128, u64> {
        let mut ending = BTreeMap::new();
        for (ends_ns, account) in self
            .lots
            .ends
            .range((from_ns, 0)..=(until_ns, AccountId::MAX))
        {
            let Some((held, lots)) = self.lots.accounts.get(account) else {
                continue;
            };
            if *held != asset {
                continue;
            }
            let left: u64 = lots
                .iter()
                .filter(|lot| lot.ends_ns == *ends_ns)
                .map(|lot| lot.left_minor)
                .sum();
            *ending.entry(*ends_ns).or_default() += left;
        }
        ending
    }
}
