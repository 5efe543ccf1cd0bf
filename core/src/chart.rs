//! The chart of accounts: which ledger account each party's money sits in, how its id is derived
//! from its name, and the reason codes on transfers. A clerk reads accounts by name
//! (`rider:r-001:JPY`, `operator:donan-bus:fares`); the ledger sees only the 128-bit id hashed from it.
//!
//! Names are hashed as length-prefixed parts, so no choice of rider or place id can make two
//! different accounts collide by concatenation.

use std::fmt;

use kanjo_ledger::{AccountFlags, AccountId, AssetId, AssetKind, OwnerKind};
use serde::Deserialize;
use thiserror::Error;
use xxhash_rust::xxh3::Xxh3;

/// Reason codes carried by every transfer (`Transfer::code`), so statements can say why money moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Reason {
    /// The town appropriates a fiscal year's budget.
    BudgetFunding = 1,
    /// A rider's share of a fare, paid from the rider's wallet.
    FareWallet = 10,
    /// A rider's share of a fare, paid in cash on board.
    FareCash = 11,
    /// A rider's share of a fare, paid by an external IC card (owed by the IC clearing house).
    FareIc = 12,
    /// The discount a budget pays the operator.
    Subsidy = 13,
    /// Points or entitlements a rule granted for a ride.
    RideGrant = 14,
    /// Stored value or stablecoin loaded into a wallet.
    Topup = 20,
    /// Points or entitlements granted by a programme.
    Grant = 21,
    /// An entitlement or points used at a place.
    Redeem = 22,
    /// A part of a shop purchase (or of a capture): rider → shop, in the part's asset.
    Purchase = 30,
    /// The town's fee on a yen or stablecoin part: shop → fee account.
    ShopFee = 31,
    /// Value a refund gives back: shop → rider.
    Refund = 32,
    /// The fee a refund gives back to the shop: fee account → shop.
    FeeReturn = 33,
    /// Person to person: rider → rider, transferable assets only.
    Send = 34,
    /// An authorisation's hold (a pending rider → shop transfer), and its capture, void or expiry.
    Authorization = 35,
    /// A stablecoin minted by a topup: the issuing bank's backing → holder.
    CoinIssue = 40,
    /// A stablecoin redeemed for yen at its bank (burned): holder → the bank's backing.
    CoinRedemption = 41,
    /// What a rider pays for premium vouchers: wallet or cash → voucher sales, in yen.
    VoucherSale = 42,
    /// The premium the town funds: voucher budget → voucher sales, in yen.
    VoucherPremium = 43,
    /// Voucher units sold: the voucher's issuer → rider, face value × sets.
    VoucherIssue = 44,
    /// What was left of an expired points lot, rider → `expired:{asset}` (breakage).
    Expiry = 45,
    /// A conversion's source given up, rider → `issuer:{from}`.
    ConversionOut = 46,
    /// A conversion's target received, `issuer:{to}` → rider.
    ConversionIn = 47,
    /// A closed period's amount moved to what the town owes the party: party → `payable:…`.
    Settlement = 50,
    /// A payable the bank confirmed paid: `payable:…` → `payouts:{asset}`.
    Payout = 51,
    /// A refund after close that the shop's receipts can't cover draws on what the town still
    /// owes the shop: `payable:shop:…` → `shop:{shop}:{asset}`, in the refund's chain.
    RefundAdvance = 52,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::BudgetFunding => "budget_funding",
            Reason::FareWallet => "fare_wallet",
            Reason::FareCash => "fare_cash",
            Reason::FareIc => "fare_ic",
            Reason::Subsidy => "subsidy",
            Reason::RideGrant => "ride_grant",
            Reason::Topup => "topup",
            Reason::Grant => "grant",
            Reason::Redeem => "redeem",
            Reason::Purchase => "purchase",
            Reason::ShopFee => "shop_fee",
            Reason::Refund => "refund",
            Reason::FeeReturn => "fee_return",
            Reason::Send => "send",
            Reason::Authorization => "authorization",
            Reason::CoinIssue => "coin_issue",
            Reason::CoinRedemption => "coin_redemption",
            Reason::VoucherSale => "voucher_sale",
            Reason::VoucherPremium => "voucher_premium",
            Reason::VoucherIssue => "voucher_issue",
            Reason::Expiry => "expiry",
            Reason::ConversionOut => "conversion_out",
            Reason::ConversionIn => "conversion_in",
            Reason::Settlement => "settlement",
            Reason::Payout => "payout",
            Reason::RefundAdvance => "refund_advance",
        }
    }

    pub fn from_code(code: u16) -> Option<Reason> {
        [
            Reason::BudgetFunding,
            Reason::FareWallet,
            Reason::FareCash,
            Reason::FareIc,
            Reason::Subsidy,
            Reason::RideGrant,
            Reason::Topup,
            Reason::Grant,
            Reason::Redeem,
            Reason::Purchase,
            Reason::ShopFee,
            Reason::Refund,
            Reason::FeeReturn,
            Reason::Send,
            Reason::Authorization,
            Reason::CoinIssue,
            Reason::CoinRedemption,
            Reason::VoucherSale,
            Reason::VoucherPremium,
            Reason::VoucherIssue,
            Reason::Expiry,
            Reason::ConversionOut,
            Reason::ConversionIn,
            Reason::Settlement,
            Reason::Payout,
            Reason::RefundAdvance,
        ]
        .into_iter()
        .find(|reason| *reason as u16 == code)
    }
}

/// Every account kanjo opens. The comment on each says what its balance means.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AccountName<'a> {
    /// What a rider holds of one asset (credit balance). Can never go negative.
    Rider { rider: &'a str, asset: &'a str },
    /// Fares riders paid to an operator, by any media (credit balance).
    OperatorFares { operator: &'a str },
    /// Subsidy the town owes an operator for discounts (credit balance).
    OperatorSubsidy { operator: &'a str },
    /// Cash an operator collected on board (debit balance: the operator holds it).
    OperatorCash { operator: &'a str },
    /// Fares the IC clearing house owes operators (debit balance).
    IcClearing,
    /// What is left of a fiscal year's budget (credit balance). Can never go negative.
    Budget { budget: &'a str, fiscal_year: i32 },
    /// The town's appropriations to its budgets (debit balance).
    Treasury { town: &'a str },
    /// Value banks moved into wallets (debit balance: what the banks were paid for).
    Bank { source: &'a str, asset: &'a str },
    /// Points and entitlements issued (debit balance: units outstanding or used).
    Issuer { asset: &'a str },
    /// Points and entitlements used at a place: a shop, a polling station (credit balance).
    Place { place: &'a str, asset: &'a str },
    /// What a shop was paid in one asset, net of the town's fee (credit balance). Can never go
    /// negative: refunds take back at most what the purchase left with the shop.
    Shop { shop: &'a str, asset: &'a str },
    /// The town's fees on shop payments in one asset (credit balance). Can never go negative.
    Fees { asset: &'a str },
    /// A stablecoin's issuing bank (debit balance): coins issued − coins redeemed, the yen the
    /// bank holds against the coins in circulation. Its credits can never pass its debits.
    Backing { bank: &'a str, asset: &'a str },
    /// Yen taken in for a voucher asset, price and premium (credit balance): what the town owes
    /// shops for the vouchers in circulation. Can never go negative.
    VoucherSales { asset: &'a str },
    /// What is left of a voucher asset's premium budget (credit balance). Can never go negative.
    VoucherBudget { asset: &'a str },
    /// Cash the voucher counter took in (debit balance: the counter holds it).
    VoucherCash { asset: &'a str },
    /// Points that lapsed unspent (breakage), and refunds of points from lapsed lots (credit
    /// balance).
    Expired { asset: &'a str },
}

impl AccountName<'_> {
    pub fn id(&self) -> AccountId {
        let mut hasher = Xxh3::new();
        let mut part = |text: &str| {
            hasher.update(&(text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        };
        match self {
            AccountName::Rider { rider, asset } => {
                part("rider");
                part(rider);
                part(asset);
            }
            AccountName::OperatorFares { operator } => {
                part("operator-fares");
                part(operator);
            }
            AccountName::OperatorSubsidy { operator } => {
                part("operator-subsidy");
                part(operator);
            }
            AccountName::OperatorCash { operator } => {
                part("operator-cash");
                part(operator);
            }
            AccountName::IcClearing => part("ic-clearing"),
            AccountName::Budget {
                budget,
                fiscal_year,
            } => {
                part("budget");
                part(budget);
                part(&fiscal_year.to_string());
            }
            AccountName::Treasury { town } => {
                part("treasury");
                part(town);
            }
            AccountName::Bank { source, asset } => {
                part("bank");
                part(source);
                part(asset);
            }
            AccountName::Issuer { asset } => {
                part("issuer");
                part(asset);
            }
            AccountName::Place { place, asset } => {
                part("place");
                part(place);
                part(asset);
            }
            AccountName::Shop { shop, asset } => {
                part("shop");
                part(shop);
                part(asset);
            }
            AccountName::Fees { asset } => {
                part("fees");
                part(asset);
            }
            AccountName::Expired { asset } => {
                part("expired");
                part(asset);
            }
            AccountName::Backing { bank, asset } => {
                part("backing");
                part(bank);
                part(asset);
            }
            AccountName::VoucherSales { asset } => {
                part("voucher-sales");
                part(asset);
            }
            AccountName::VoucherBudget { asset } => {
                part("voucher-budget");
                part(asset);
            }
            AccountName::VoucherCash { asset } => {
                part("voucher-cash");
                part(asset);
            }
        }
        let id = hasher.digest128();
        // Zero is the ledger's "no account"; a 2^-128 chance, but the ledger would reject it loudly.
        debug_assert_ne!(id, 0);
        id
    }

    pub fn owner(&self) -> OwnerKind {
        match self {
            AccountName::Rider { .. } => OwnerKind::Rider,
            AccountName::OperatorFares { .. }
            | AccountName::OperatorSubsidy { .. }
            | AccountName::OperatorCash { .. } => OwnerKind::Operator,
            AccountName::IcClearing => OwnerKind::System,
            AccountName::Budget { .. } | AccountName::Treasury { .. } => OwnerKind::TownBudget,
            AccountName::Bank { .. } | AccountName::Issuer { .. } | AccountName::Backing { .. } => {
                OwnerKind::Issuer
            }
            AccountName::Place { .. } | AccountName::Shop { .. } => OwnerKind::Shop,
            AccountName::Fees { .. } | AccountName::Expired { .. } => OwnerKind::System,
            AccountName::VoucherSales { .. }
            | AccountName::VoucherBudget { .. }
            | AccountName::VoucherCash { .. } => OwnerKind::TownBudget,
        }
    }

    /// Limits are the ledger's to enforce: a wallet or a budget can't be overdrawn, whatever the rating said.
    pub fn flags(&self) -> AccountFlags {
        match self {
            AccountName::Rider { .. }
            | AccountName::Budget { .. }
            | AccountName::Shop { .. }
            | AccountName::Fees { .. }
            | AccountName::VoucherSales { .. }
            | AccountName::VoucherBudget { .. } => {
                AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags::HISTORY
            }
            // More redeemed than issued would be coins from nowhere.
            AccountName::Backing { .. } => {
                AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags::HISTORY
            }
            AccountName::VoucherCash { .. } => AccountFlags::HISTORY,
            AccountName::OperatorFares { .. }
            | AccountName::OperatorSubsidy { .. }
            | AccountName::OperatorCash { .. }
            | AccountName::Place { .. }
            | AccountName::Expired { .. } => AccountFlags::HISTORY,
            AccountName::IcClearing
            | AccountName::Treasury { .. }
            | AccountName::Bank { .. }
            | AccountName::Issuer { .. } => AccountFlags::default(),
        }
    }
}

impl<'a> AccountName<'a> {
    /// Reads a display name back (`rider:r-001:JPY`). Rider, place and bank names may themselves
    /// hold `:`, so the kind is the first part, the suffix the last, and the name what is between.
    pub fn parse(text: &'a str) -> Option<AccountName<'a>> {
        if text == "clearing:ic:JPY" {
            return Some(AccountName::IcClearing);
        }
        let (kind, rest) = text.split_once(':')?;
        if kind == "issuer" {
            return (!rest.is_empty()).then_some(AccountName::Issuer { asset: rest });
        }
        if kind == "fees" {
            return (!rest.is_empty()).then_some(AccountName::Fees { asset: rest });
        }
        if kind == "expired" {
            return (!rest.is_empty()).then_some(AccountName::Expired { asset: rest });
        }
        let (middle, last) = rest.rsplit_once(':')?;
        if middle.is_empty() || last.is_empty() {
            return None;
        }
        Some(match (kind, last) {
            ("rider", asset) => AccountName::Rider {
                rider: middle,
                asset,
            },
            ("operator", "fares") => AccountName::OperatorFares { operator: middle },
            ("operator", "subsidy") => AccountName::OperatorSubsidy { operator: middle },
            ("operator", "cash") => AccountName::OperatorCash { operator: middle },
            ("budget", year) => AccountName::Budget {
                budget: middle,
                fiscal_year: year.strip_prefix("FY")?.parse().ok()?,
            },
            ("town", "treasury") => AccountName::Treasury { town: middle },
            ("bank", asset) => AccountName::Bank {
                source: middle,
                asset,
            },
            ("place", asset) => AccountName::Place {
                place: middle,
                asset,
            },
            ("shop", asset) => AccountName::Shop {
                shop: middle,
                asset,
            },
            ("backing", asset) => AccountName::Backing {
                bank: middle,
                asset,
            },
            ("voucher-sales", YEN) => AccountName::VoucherSales { asset: middle },
            ("voucher-budget", YEN) => AccountName::VoucherBudget { asset: middle },
            ("voucher-cash", YEN) => AccountName::VoucherCash { asset: middle },
            _ => return None,
        })
    }

    /// Whether the account's balance is read as credits − debits (what the system owes the
    /// holder) or debits − credits (what the holder has taken in or is owed).
    pub fn is_credit_normal(&self) -> bool {
        !matches!(
            self,
            AccountName::OperatorCash { .. }
                | AccountName::IcClearing
                | AccountName::Treasury { .. }
                | AccountName::Bank { .. }
                | AccountName::Issuer { .. }
                | AccountName::Backing { .. }
                | AccountName::VoucherCash { .. }
        )
    }
}

impl fmt::Display for AccountName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountName::Rider { rider, asset } => write!(f, "rider:{rider}:{asset}"),
            AccountName::OperatorFares { operator } => write!(f, "operator:{operator}:fares"),
            AccountName::OperatorSubsidy { operator } => write!(f, "operator:{operator}:subsidy"),
            AccountName::OperatorCash { operator } => write!(f, "operator:{operator}:cash"),
            AccountName::IcClearing => write!(f, "clearing:ic:JPY"),
            AccountName::Budget {
                budget,
                fiscal_year,
            } => write!(f, "budget:{budget}:FY{fiscal_year}"),
            AccountName::Treasury { town } => write!(f, "town:{town}:treasury"),
            AccountName::Bank { source, asset } => write!(f, "bank:{source}:{asset}"),
            AccountName::Issuer { asset } => write!(f, "issuer:{asset}"),
            AccountName::Place { place, asset } => write!(f, "place:{place}:{asset}"),
            AccountName::Shop { shop, asset } => write!(f, "shop:{shop}:{asset}"),
            AccountName::Fees { asset } => write!(f, "fees:{asset}"),
            AccountName::Expired { asset } => write!(f, "expired:{asset}"),
            AccountName::Backing { bank, asset } => write!(f, "backing:{bank}:{asset}"),
            AccountName::VoucherSales { asset } => write!(f, "voucher-sales:{asset}:{YEN}"),
            AccountName::VoucherBudget { asset } => write!(f, "voucher-budget:{asset}:{YEN}"),
            AccountName::VoucherCash { asset } => write!(f, "voucher-cash:{asset}:{YEN}"),
        }
    }
}

/// The asset every fare is in.
pub const YEN: &str = "JPY";
/// Where top-ups come from when an event names no bank.
pub const DEFAULT_BANK: &str = "default";
/// More assets than a town runs is a configuration mistake.
pub const ASSETS_MAX: usize = 256;

/// The engine's part of a programme file: `[[assets]]`, `[payments]` and `[[shops]]`, which the
/// rating crate ignores.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AssetSection {
    #[serde(default)]
    pub assets: Vec<AssetSpec>,
    #[serde(default)]
    pub payments: crate::shops::PaymentSettings,
    #[serde(default)]
    pub shops: Vec<crate::shops::ShopSpec>,
    #[serde(default)]
    pub conversions: Vec<ConversionSpec>,
    /// `[payer]`: the town's account the Zengin payout file pays from.
    #[serde(default)]
    pub payer: Option<crate::settlement::payees::PayerSpec>,
    /// `[[payees]]`: operators' bank details for the Zengin payout file.
    #[serde(default)]
    pub payees: Vec<crate::settlement::payees::PayeeSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetSpec {
    pub code: String,
    pub kind: AssetKindName,
    #[serde(default)]
    pub scale: u8,
    /// Entitlements that each person may use once (ballots): a second use is `already_redeemed`.
    #[serde(default)]
    pub one_per_person: bool,
    /// The most one topup, grant or redeem may carry, in minor units; larger is
    /// `amount_too_large`. Absent: [`default_max_amount_per_event_minor`].
    #[serde(default)]
    pub max_amount_per_event: Option<u64>,
    /// Points only: the shop categories they pay at (`["transport"]`); absent = every shop.
    #[serde(default)]
    pub usable_at: Option<Vec<String>>,
    /// Whether `send` may move it between riders; absent = true for a stablecoin, else false.
    #[serde(default)]
    pub transferable: Option<bool>,
    /// Stablecoins only: the bank that issues and redeems it. Absent: topups come from any bank
    /// as plain loads (`bank:{source}:{asset}`, as logs written before issue 9 replay) and the
    /// coin can't be withdrawn.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Points only: `[assets.voucher]` makes them premium vouchers sold by `voucher_purchase`.
    #[serde(default)]
    pub voucher: Option<VoucherSpec>,
    /// Points only: each grant's lot lapses this many days (of 86 400 s) after it was granted.
    #[serde(default)]
    pub expires_after_days: Option<u32>,
    /// Points only: `"fiscal_year_end"`, each lot lapses after 31 March 23:59:59 JST of the
    /// Japanese fiscal year it was granted in. Absent (with no `expires_after_days`): never.
    #[serde(default)]
    pub expires: Option<String>,
    /// Points and entitlements: a `grant` carrying `place` is refused `grant_limit_reached` past
    /// this many per rider, place and local day. Absent: no limit.
    #[serde(default)]
    pub grants_per_place_per_day: Option<u32>,
}

/// `[[conversions]]`: `convert` turns `from` into `to` in whole blocks of `from_units` →
/// `to_units` (an integer ratio, rounding down: what doesn't fill a block stays in `from`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionSpec {
    pub from: String,
    pub to: String,
    pub from_units: u64,
    pub to_units: u64,
    /// Once per rider ever (a Mynapoint claim): a second is `already_claimed`.
    #[serde(default)]
    pub once_per_person: bool,
}

/// Conversions one programme may declare.
pub const CONVERSIONS_MAX: usize = 64;
/// The largest block of either side of a conversion ratio.
pub const CONVERSION_UNITS_MAX: u64 = 1_000_000;

/// `[assets.voucher]`: a premium voucher's sale terms, in minor units (yen for `price` and
/// `premium_budget`, the voucher asset for `face`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherSpec {
    /// Yen a rider pays for one set.
    pub price: u64,
    /// Voucher units one set gives; at least the price (the premium is `face − price`).
    pub face: u64,
    /// Sets one rider may buy over the whole sale.
    pub limit_sets: u32,
    /// The sale opens at this instant (RFC 3339 with an offset)…
    pub sale_starts_at: String,
    /// …and closes at this one: a purchase at `sale_ends_at` or later is outside the window.
    pub sale_ends_at: String,
    /// Yen the town funds premiums with; when it can't fund a set's premium, the sale is over.
    pub premium_budget: u64,
}

/// Sets one rider may buy, at most: a per-person limit is a handful of sets.
pub const VOUCHER_LIMIT_SETS_MAX: u32 = 1_000;

impl VoucherSpec {
    /// The sale window `[starts, ends)`, read from the two instants.
    pub fn sale_window(&self) -> Result<(jiff::Timestamp, jiff::Timestamp), String> {
        let read = |field: &str, text: &str| {
            text.parse::<jiff::Timestamp>()
                .map_err(|error| format!("`{field}` {text:?} is not an RFC 3339 time: {error}"))
        };
        Ok((
            read("sale_starts_at", &self.sale_starts_at)?,
            read("sale_ends_at", &self.sale_ends_at)?,
        ))
    }

    /// Terms that every purchase within the limit can post: `face × limit_sets` and the yen
    /// amounts fit one event, so no product of checked event fields can overflow.
    fn check(&self) -> Result<(), String> {
        let (starts, ends) = self.sale_window()?;
        if starts >= ends {
            return Err("the sale must start before it ends".into());
        }
        if self.price == 0 || self.face < self.price {
            return Err("`price` must be at least 1 and `face` at least the price".into());
        }
        if !(1..=VOUCHER_LIMIT_SETS_MAX).contains(&self.limit_sets) {
            return Err(format!(
                "`limit_sets` must be 1 to {VOUCHER_LIMIT_SETS_MAX}"
            ));
        }
        let most = self.face.checked_mul(u64::from(self.limit_sets));
        if most.is_none_or(|most| most > AMOUNT_PER_EVENT_CEILING_MINOR)
            || self.premium_budget > AMOUNT_PER_EVENT_CEILING_MINOR
        {
            return Err(format!(
                "`face × limit_sets` and `premium_budget` must be at most {AMOUNT_PER_EVENT_CEILING_MINOR}"
            ));
        }
        Ok(())
    }
}

impl AssetSpec {
    fn new(code: &str, kind: AssetKindName) -> AssetSpec {
        AssetSpec {
            code: code.to_owned(),
            kind,
            scale: 0,
            one_per_person: false,
            max_amount_per_event: None,
            usable_at: None,
            transferable: None,
            issuer: None,
            voucher: None,
            expires_after_days: None,
            expires: None,
            grants_per_place_per_day: None,
        }
    }

    /// A stablecoin's issuing bank, if it names one: only then is a topup an issue and a
    /// withdrawal possible.
    pub fn issuing_bank(&self) -> Option<&str> {
        self.issuer
            .as_deref()
            .filter(|_| self.kind == AssetKindName::Stablecoin)
    }

    /// The declared bound, or the default for the asset's kind and scale.
    pub fn max_amount_per_event_minor(&self) -> u64 {
        self.max_amount_per_event
            .unwrap_or_else(|| default_max_amount_per_event_minor(self.kind, self.scale))
    }
}

/// No asset may declare a larger `max_amount_per_event`: 2^53, the largest integer every JSON
/// client reads exactly. `LEGS_PER_EVENT_MAX` legs of it are far below `u64::MAX`, so no single
/// event can fill an account's u64 debits or credits.
pub const AMOUNT_PER_EVENT_CEILING_MINOR: u64 = 1 << 53;

/// The default bound in major units: ¥1 000 000 for yen (a generous wallet top-up), 1 000 000
/// coins of a stablecoin and 1 000 000 points (the same order as yen), 1 000 entitlements (a town
/// grants them by the handful; one-per-person ones are 1 anyway).
pub fn default_max_amount_per_event_major(kind: AssetKindName) -> u64 {
    match kind {
        AssetKindName::Yen | AssetKindName::Stablecoin | AssetKindName::Points => 1_000_000,
        AssetKindName::Entitlement => 1_000,
    }
}

/// [`default_max_amount_per_event_major`] in minor units (× 10^scale), at most the ceiling.
pub fn default_max_amount_per_event_minor(kind: AssetKindName, scale: u8) -> u64 {
    10u64
        .checked_pow(u32::from(scale))
        .and_then(|unit| default_max_amount_per_event_major(kind).checked_mul(unit))
        .map_or(AMOUNT_PER_EVENT_CEILING_MINOR, |bound| {
            bound.min(AMOUNT_PER_EVENT_CEILING_MINOR)
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKindName {
    Yen,
    Stablecoin,
    Points,
    Entitlement,
}

impl From<AssetKindName> for AssetKind {
    fn from(kind: AssetKindName) -> AssetKind {
        match kind {
            AssetKindName::Yen => AssetKind::Yen,
            AssetKindName::Stablecoin => AssetKind::Stablecoin,
            AssetKindName::Points => AssetKind::Points,
            AssetKindName::Entitlement => AssetKind::Entitlement,
        }
    }
}

#[derive(Debug, Error)]
pub enum ChartError {
    #[error("{file}: `[[assets]]` is not valid: {reason}")]
    Invalid { file: String, reason: String },
    #[error("{file}: `[payments]`, `[[shops]]`, `[payer]` or `[[payees]]` is not valid: {reason}")]
    InvalidShops { file: String, reason: String },
}

/// The assets of one programme, in a fixed order: JPY is always asset 1.
#[derive(Clone, Debug)]
pub struct AssetBook {
    specs: Vec<AssetSpec>,
    /// `[payments]`: shop payment settings.
    payments: crate::shops::PaymentSettings,
    /// `[[shops]]`, each checked against these assets.
    shops: Vec<crate::shops::ShopSpec>,
    /// `[[conversions]]`, each checked against these assets.
    conversions: Vec<ConversionSpec>,
    /// `[payer]`, checked.
    payer: Option<crate::settlement::payees::PayerSpec>,
    /// `[[payees]]`, checked.
    payees: Vec<crate::settlement::payees::PayeeSpec>,
}

impl AssetBook {
    /// Declared assets, plus JPY if it is not declared, plus the assets rules grant (as points) if they are not.
    pub fn new(
        file: &str,
        declared: Vec<AssetSpec>,
        granted_by_rules: &[&str],
    ) -> Result<AssetBook, ChartError> {
        let invalid = |reason: String| ChartError::Invalid {
            file: file.to_owned(),
            reason,
        };
        let mut specs: Vec<AssetSpec> = Vec::with_capacity(declared.len() + 1);
        if !declared.iter().any(|spec| spec.code == YEN) {
            specs.push(AssetSpec::new(YEN, AssetKindName::Yen));
        }
        for spec in declared {
            if spec.code.is_empty() || spec.code.len() > 32 || spec.code.contains(':') {
                return Err(invalid(format!(
                    "asset code {:?} must be 1 to 32 bytes without ':'",
                    spec.code
                )));
            }
            if specs.iter().any(|known| known.code == spec.code) {
                return Err(invalid(format!("asset {:?} is declared twice", spec.code)));
            }
            if spec.code == YEN && (spec.kind != AssetKindName::Yen || spec.scale != 0) {
                return Err(invalid(
                    "JPY must be of kind \"yen\" with scale 0".to_owned(),
                ));
            }
            if let Some(bound) = spec.max_amount_per_event
                && !(1..=AMOUNT_PER_EVENT_CEILING_MINOR).contains(&bound)
            {
                return Err(invalid(format!(
                    "asset {:?}: max_amount_per_event must be 1 to {AMOUNT_PER_EVENT_CEILING_MINOR}",
                    spec.code
                )));
            }
            if spec.one_per_person && spec.kind != AssetKindName::Entitlement {
                return Err(invalid(format!(
                    "asset {:?}: only entitlements can be one_per_person",
                    spec.code
                )));
            }
            crate::shops::check_spending(&spec).map_err(invalid)?;
            check_value_terms(&spec).map_err(invalid)?;
            specs.push(spec);
        }
        for code in granted_by_rules {
            if !specs.iter().any(|known| known.code == *code) {
                specs.push(AssetSpec::new(code, AssetKindName::Points));
            }
        }
        if specs.len() > ASSETS_MAX {
            return Err(invalid(format!(
                "{} assets, more than {ASSETS_MAX}",
                specs.len()
            )));
        }
        crate::shops::check_spendable_count(&specs).map_err(invalid)?;
        Ok(AssetBook {
            specs,
            payments: crate::shops::PaymentSettings::default(),
            shops: Vec::new(),
            conversions: Vec::new(),
            payer: None,
            payees: Vec::new(),
        })
    }

    pub fn get(&self, code: &str) -> Option<(AssetId, &AssetSpec)> {
        self.specs
            .iter()
            .position(|spec| spec.code == code)
            .map(|index| (asset_id(index), &self.specs[index]))
    }

    pub fn iter(&self) -> impl Iterator<Item = (AssetId, &AssetSpec)> {
        self.specs
            .iter()
            .enumerate()
            .map(|(index, spec)| (asset_id(index), spec))
    }

    pub fn yen(&self) -> AssetId {
        self.get(YEN).expect("JPY is always in the book").0
    }

    /// The whole engine section: the assets, then `[payments]` and `[[shops]]` checked against them.
    pub fn from_section(
        file: &str,
        section: AssetSection,
        granted_by_rules: &[&str],
    ) -> Result<AssetBook, ChartError> {
        let mut book = AssetBook::new(file, section.assets, granted_by_rules)?;
        let invalid = |reason: String| ChartError::InvalidShops {
            file: file.to_owned(),
            reason,
        };
        section.payments.check().map_err(invalid)?;
        crate::shops::check_programme_shops(&section.shops, &book).map_err(invalid)?;
        book.payments = section.payments;
        book.shops = section.shops;
        check_conversions(&section.conversions, &book).map_err(invalid)?;
        book.conversions = section.conversions;
        crate::settlement::payees::check_section(section.payer.as_ref(), &section.payees)
            .map_err(invalid)?;
        book.payer = section.payer;
        book.payees = section.payees;
        Ok(book)
    }

    /// `[payer]`: the town's paying account, if the programme names one.
    pub fn payer(&self) -> Option<&crate::settlement::payees::PayerSpec> {
        self.payer.as_ref()
    }

    /// `[[payees]]`: operators' bank details.
    pub fn payees(&self) -> &[crate::settlement::payees::PayeeSpec] {
        &self.payees
    }

    /// `[[conversions]]`, checked.
    pub fn conversions(&self) -> &[ConversionSpec] {
        &self.conversions
    }

    /// `[payments]`.
    pub fn payments(&self) -> crate::shops::PaymentSettings {
        self.payments
    }

    /// The programme's `[[shops]]`, checked.
    pub fn shops(&self) -> &[crate::shops::ShopSpec] {
        &self.shops
    }

    /// The assets by id (ids are dense from 1, in book order).
    pub fn spec(&self, asset: AssetId) -> Option<&AssetSpec> {
        (asset.0 as usize)
            .checked_sub(1)
            .and_then(|index| self.specs.get(index))
    }
}

/// `issuer` only on a stablecoin, a valid bank reference; `[assets.voucher]` only on points.
fn check_value_terms(spec: &AssetSpec) -> Result<(), String> {
    if let Some(bank) = &spec.issuer {
        if spec.kind != AssetKindName::Stablecoin {
            return Err(format!(
                "asset {:?}: only a stablecoin names an `issuer`",
                spec.code
            ));
        }
        crate::event::check_id("issuer", bank)
            .map_err(|reason| format!("asset {:?}: {reason}", spec.code))?;
    }
    if let Some(voucher) = &spec.voucher {
        if spec.kind != AssetKindName::Points {
            return Err(format!(
                "asset {:?}: only points can be vouchers",
                spec.code
            ));
        }
        voucher
            .check()
            .map_err(|reason| format!("asset {:?}: [assets.voucher]: {reason}", spec.code))?;
    }
    check_expiry_terms(spec)
}

/// `expires_after_days` (1..=`EXPIRY_DAYS_MAX`) or `expires = "fiscal_year_end"`, on points only,
/// not both.
fn check_expiry_terms(spec: &AssetSpec) -> Result<(), String> {
    let (days, rule) = (spec.expires_after_days, spec.expires.as_deref());
    if days.is_none() && rule.is_none() {
        return Ok(());
    }
    let fail = |reason: &str| Err(format!("asset {:?}: {reason}", spec.code));
    if spec.kind != AssetKindName::Points {
        return fail("only points expire");
    }
    if days.is_some() && rule.is_some() {
        return fail("give `expires_after_days` or `expires`, not both");
    }
    if let Some(days) = days
        && !(1..=EXPIRY_DAYS_MAX).contains(&days)
    {
        return fail(&format!(
            "`expires_after_days` must be 1..={EXPIRY_DAYS_MAX}"
        ));
    }
    if let Some(rule) = rule
        && rule != "fiscal_year_end"
    {
        return fail("`expires` knows only \"fiscal_year_end\"");
    }
    Ok(())
}

/// Each conversion: known points or entitlement assets, two different ones, ratios 1..=1 000 000,
/// and one conversion per (from, to).
fn check_conversions(conversions: &[ConversionSpec], book: &AssetBook) -> Result<(), String> {
    if conversions.len() > CONVERSIONS_MAX {
        return Err(format!("more than {CONVERSIONS_MAX} [[conversions]]"));
    }
    for (index, conversion) in conversions.iter().enumerate() {
        let fail = |reason: &str| {
            Err(format!(
                "[[conversions]] {} → {}: {reason}",
                conversion.from, conversion.to
            ))
        };
        for code in [&conversion.from, &conversion.to] {
            match book.get(code) {
                None => return fail(&format!("no asset {code:?}")),
                Some((_, spec))
                    if !matches!(
                        spec.kind,
                        AssetKindName::Points | AssetKindName::Entitlement
                    ) || spec.one_per_person =>
                {
                    return fail(&format!("{code} is not points or a plain entitlement"));
                }
                Some(_) => {}
            }
        }
        if conversion.from == conversion.to {
            return fail("an asset converts to another");
        }
        let units = 1..=CONVERSION_UNITS_MAX;
        if !units.contains(&conversion.from_units) || !units.contains(&conversion.to_units) {
            return fail(&format!("units must be 1..={CONVERSION_UNITS_MAX}"));
        }
        if conversions[..index]
            .iter()
            .any(|other| other.from == conversion.from && other.to == conversion.to)
        {
            return fail("declared twice");
        }
    }
    Ok(())
}

/// Ten years: longer than any scheme's points live.
pub const EXPIRY_DAYS_MAX: u32 = 3_660;

/// How a points asset's lots lapse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryRule {
    Never,
    AfterDays(u32),
    FiscalYearEnd,
}

impl AssetSpec {
    /// The asset's expiry rule (checked at load).
    pub fn expiry_rule(&self) -> ExpiryRule {
        match (self.expires_after_days, self.expires.as_deref()) {
            (Some(days), _) => ExpiryRule::AfterDays(days),
            (None, Some("fiscal_year_end")) => ExpiryRule::FiscalYearEnd,
            _ => ExpiryRule::Never,
        }
    }
}

fn asset_id(index: usize) -> AssetId {
    AssetId(u32::try_from(index + 1).expect("ASSETS_MAX fits in u32"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_separators_do_not_collide() {
        let a = AccountName::Rider {
            rider: "a:b",
            asset: "c",
        };
        let b = AccountName::Rider {
            rider: "a",
            asset: "b:c",
        };
        assert_eq!(a.to_string(), b.to_string(), "the display names look alike");
        assert_ne!(a.id(), b.id(), "but the ids differ");
    }

    #[test]
    fn every_display_name_parses_back_to_its_account() {
        let names = [
            AccountName::Rider {
                rider: "r:1",
                asset: "JPY",
            },
            AccountName::OperatorFares {
                operator: "donan-bus",
            },
            AccountName::OperatorSubsidy {
                operator: "donan-bus",
            },
            AccountName::OperatorCash {
                operator: "donan-bus",
            },
            AccountName::IcClearing,
            AccountName::Budget {
                budget: "transit-subsidy",
                fiscal_year: 2026,
            },
            AccountName::Treasury { town: "012050" },
            AccountName::Bank {
                source: "default",
                asset: "SUZU",
            },
            AccountName::Issuer { asset: "muro-pt" },
            AccountName::Place {
                place: "station-12",
                asset: "ballot-2026",
            },
            AccountName::Shop {
                shop: "books:2",
                asset: "SUZU",
            },
            AccountName::Fees { asset: "SUZU" },
            AccountName::Backing {
                bank: "hokkoku-bank",
                asset: "SUZU",
            },
            AccountName::VoucherSales { asset: "gero-v" },
            AccountName::VoucherBudget { asset: "gero-v" },
            AccountName::VoucherCash { asset: "gero-v" },
        ];
        for name in names {
            let text = name.to_string();
            assert_eq!(AccountName::parse(&text), Some(name), "{text}");
        }
        assert_eq!(AccountName::parse("nonsense"), None);
    }

    #[test]
    fn wallets_and_budgets_cannot_go_negative() {
        for name in [
            AccountName::Rider {
                rider: "r",
                asset: YEN,
            },
            AccountName::Budget {
                budget: "b",
                fiscal_year: 2026,
            },
            AccountName::Shop {
                shop: "books",
                asset: YEN,
            },
            AccountName::Fees { asset: YEN },
        ] {
            assert!(
                name.flags()
                    .contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
            );
        }
        assert!(
            !AccountName::Issuer { asset: "pt" }
                .flags()
                .contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
        );
    }

    #[test]
    fn yen_is_always_the_first_asset_and_rule_assets_default_to_points() {
        let book = AssetBook::new("p.toml", vec![], &["muro-pt"]).unwrap();
        assert_eq!(book.yen(), AssetId(1));
        assert_eq!(book.get("muro-pt").unwrap().1.kind, AssetKindName::Points);
    }

    #[test]
    fn only_entitlements_are_one_per_person() {
        let spec = AssetSpec {
            one_per_person: true,
            ..AssetSpec::new("pt", AssetKindName::Points)
        };
        assert!(AssetBook::new("p.toml", vec![spec], &[]).is_err());
    }

    #[test]
    fn amounts_per_event_default_by_kind_and_scale_and_are_bounded() {
        let book = AssetBook::new("p.toml", vec![], &["muro-pt"]).unwrap();
        assert_eq!(
            book.get(YEN).unwrap().1.max_amount_per_event_minor(),
            1_000_000
        );
        let coin = AssetSpec {
            scale: 2,
            ..AssetSpec::new("SUZU", AssetKindName::Stablecoin)
        };
        assert_eq!(coin.max_amount_per_event_minor(), 100_000_000);
        let ticket = AssetSpec::new("ticket", AssetKindName::Entitlement);
        assert_eq!(ticket.max_amount_per_event_minor(), 1_000);
        let tiny = AssetSpec {
            scale: 18,
            ..AssetSpec::new("tiny", AssetKindName::Points)
        };
        assert_eq!(
            tiny.max_amount_per_event_minor(),
            AMOUNT_PER_EVENT_CEILING_MINOR
        );
        for bound in [0, AMOUNT_PER_EVENT_CEILING_MINOR + 1, u64::MAX] {
            let spec = AssetSpec {
                max_amount_per_event: Some(bound),
                ..AssetSpec::new("pt", AssetKindName::Points)
            };
            assert!(
                AssetBook::new("p.toml", vec![spec], &[]).is_err(),
                "{bound}"
            );
        }
    }
}
