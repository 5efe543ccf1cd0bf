//! A stablecoin's issue and redemption at its bank (issue 9).
//!
//! - A `topup` of a stablecoin that names its `issuer` is an issue (mint):
//!   `backing:{bank}:{asset} → rider`, reason `coin_issue`; a topup naming another `source` is
//!   `wrong_issuer`. A stablecoin without an `issuer` keeps plain topups from any bank, so that
//!   logs written before issue 9 replay to the same ledger, and can't be withdrawn.
//! - A `withdraw` redeems coins for yen at the bank (burn): `holder → backing:{bank}:{asset}`,
//!   reason `coin_redemption`, answered with a redemption record. Only a stablecoin can be
//!   withdrawn (`not_redeemable`); more than the holder has is `insufficient_funds`.
//! - The backing account's debits are the coins issued and its credits the coins redeemed, so its
//!   balance is the yen the bank holds against coins in circulation. The machine keeps its own
//!   issued and redeemed totals and asserts after every posting that they agree with the ledger;
//!   `report::trial_balance` sums every other account of the asset to check circulation too.

use std::collections::BTreeMap;

use kanjo_ledger::{AccountId, AssetId, Transfer};

use super::{Machine, Prepared, check_amount_bound};
use crate::answer::{Outcome, Rejection, RejectionCode, WithdrawOutcome};
use crate::chart::{AccountName, Reason};
use crate::event::{Holder, Topup, Withdraw};

/// Coins issued and redeemed per stablecoin, as the machine posted them.
#[derive(Default)]
pub(super) struct CoinBook {
    totals: BTreeMap<AssetId, CoinTotals>,
}

/// One stablecoin's issue and redemption totals. u128: many u64 events sum past u64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoinTotals {
    pub issued_minor: u128,
    pub redeemed_minor: u128,
}

impl CoinTotals {
    /// Coins in circulation: issued − redeemed.
    pub fn circulation_minor(&self) -> u128 {
        self.issued_minor - self.redeemed_minor
    }
}

impl Machine {
    /// Whether a topup of this asset is a stablecoin issue.
    pub(super) fn is_stablecoin(&self, asset_code: &str) -> bool {
        self.assets
            .get(asset_code)
            .is_some_and(|(_, spec)| spec.issuing_bank().is_some())
    }

    /// The issue and redemption totals of a stablecoin (zero if none was ever issued).
    pub fn coin_totals(&self, asset: AssetId) -> CoinTotals {
        self.coins.totals.get(&asset).copied().unwrap_or_default()
    }

    pub(super) fn apply_coin_issue(&mut self, prepared: &Prepared, topup: &Topup) -> Outcome {
        self.post_coin_issue(prepared.id_hash, topup)
            .unwrap_or_else(Outcome::Rejected)
    }

    fn post_coin_issue(&mut self, id_hash: u128, topup: &Topup) -> Result<Outcome, Rejection> {
        let (asset, spec) = self
            .assets
            .get(&topup.asset)
            .expect("the caller checked it is a stablecoin");
        let bank = spec.issuing_bank().expect("a stablecoin").to_owned();
        check_amount_bound(&topup.asset, topup.amount_minor, spec)?;
        if let Some(source) = topup.source.as_deref().filter(|source| *source != bank) {
            return Err(Rejection::new(
                RejectionCode::WrongIssuer,
                format!("{} is issued by {bank}, not {source}", topup.asset),
            ));
        }
        self.start_legs();
        let backing = self.leg_account(
            &AccountName::Backing {
                bank: &bank,
                asset: &topup.asset,
            },
            asset,
        );
        let holder = self.leg_account(
            &AccountName::Rider {
                rider: &topup.rider,
                asset: &topup.asset,
            },
            asset,
        );
        let issue = Transfer::new(
            0,
            backing,
            holder,
            topup.amount_minor,
            asset,
            Reason::CoinIssue as u16,
        );
        self.legs.push(issue);
        self.post_legs(id_hash)
            .map_err(|error| self.post_rejection(&error))?;
        self.coins.totals.entry(asset).or_default().issued_minor += u128::from(topup.amount_minor);
        self.assert_circulation(asset, &bank, &topup.asset);
        Ok(Outcome::Topup {
            asset,
            amount_minor: topup.amount_minor,
        })
    }

    pub(super) fn apply_withdraw(&mut self, prepared: &Prepared, withdraw: &Withdraw) -> Outcome {
        self.post_withdraw(prepared.id_hash, withdraw)
            .unwrap_or_else(Outcome::Rejected)
    }

    fn post_withdraw(&mut self, id_hash: u128, withdraw: &Withdraw) -> Result<Outcome, Rejection> {
        let Some((asset, spec)) = self.assets.get(&withdraw.asset) else {
            return Err(Rejection::new(
                RejectionCode::UnknownAsset,
                format!("no asset {:?} in this programme", withdraw.asset),
            ));
        };
        let Some(bank) = spec.issuing_bank().map(str::to_owned) else {
            return Err(Rejection::new(
                RejectionCode::NotRedeemable,
                format!(
                    "{} is not a stablecoin with an issuing bank: only those are redeemed for yen",
                    withdraw.asset
                ),
            ));
        };
        check_amount_bound(&withdraw.asset, withdraw.amount_minor, spec)?;
        let (holder_name, holder) = self.withdraw_holder(withdraw)?;
        let available = self
            .ledger
            .account(holder)
            .map_or(0, |account| account.available_debit());
        if available < withdraw.amount_minor {
            return Err(Rejection::new(
                RejectionCode::InsufficientFunds,
                format!(
                    "{holder_name} holds {available} {} available; the withdrawal is {}",
                    withdraw.asset, withdraw.amount_minor
                ),
            ));
        }
        self.start_legs();
        let backing = self.leg_account(
            &AccountName::Backing {
                bank: &bank,
                asset: &withdraw.asset,
            },
            asset,
        );
        let burn = Transfer::new(
            0,
            holder,
            backing,
            withdraw.amount_minor,
            asset,
            Reason::CoinRedemption as u16,
        );
        self.legs.push(burn);
        self.post_legs(id_hash)
            .map_err(|error| self.post_rejection(&error))?;
        let totals = self.coins.totals.entry(asset).or_default();
        totals.redeemed_minor += u128::from(withdraw.amount_minor);
        let circulation = totals.circulation_minor();
        self.assert_circulation(asset, &bank, &withdraw.asset);
        Ok(Outcome::Withdraw(WithdrawOutcome {
            asset,
            amount_minor: withdraw.amount_minor,
            holder: holder_name.into_boxed_str(),
            circulation_minor: u64::try_from(circulation)
                .expect("circulation is the backing account's u64 balance"),
        }))
    }

    /// The holder's display name and account; a shop must be one the machine knows.
    fn withdraw_holder(&self, withdraw: &Withdraw) -> Result<(String, AccountId), Rejection> {
        let name = match &withdraw.holder {
            Holder::Rider(rider) => AccountName::Rider {
                rider,
                asset: &withdraw.asset,
            },
            Holder::Shop(shop) => {
                if self.shops.get(shop).is_none() {
                    return Err(Rejection::new(
                        RejectionCode::UnknownShop,
                        format!("no shop {shop:?}"),
                    ));
                }
                AccountName::Shop {
                    shop,
                    asset: &withdraw.asset,
                }
            }
        };
        let holder = match &withdraw.holder {
            Holder::Rider(rider) => format!("rider:{rider}"),
            Holder::Shop(shop) => format!("shop:{shop}"),
        };
        Ok((holder, name.id()))
    }

    /// issued − redeemed, as the machine counted them, is the backing account's balance.
    fn assert_circulation(&self, asset: AssetId, bank: &str, asset_code: &str) {
        let totals = self.coin_totals(asset);
        let backing = self
            .ledger
            .account(
                AccountName::Backing {
                    bank,
                    asset: asset_code,
                }
                .id(),
            )
            .expect("a posted coin chain opened its backing account");
        assert_eq!(totals.issued_minor, u128::from(backing.debits_posted));
        assert_eq!(totals.redeemed_minor, u128::from(backing.credits_posted));
    }
}
