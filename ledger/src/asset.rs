//! Assets: what an amount is counted in.

/// Identifies an asset. `AssetId(0)` is invalid (it means "unset" on post/void transfers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetId(pub u32);

/// What kind of value an asset is; the ledger moves all kinds the same way, the rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssetKind {
    /// Japanese yen (scale 0).
    Yen,
    /// A bank-issued, redeemable stablecoin.
    Stablecoin,
    /// Spend-only loyalty points.
    Points,
    /// Countable rights: ballots, ride tickets, vouchers.
    Entitlement,
}

impl AssetKind {
    pub(crate) fn tag(self) -> u8 {
        match self {
            AssetKind::Yen => 1,
            AssetKind::Stablecoin => 2,
            AssetKind::Points => 3,
            AssetKind::Entitlement => 4,
        }
    }
}

/// An asset definition. Amounts of it are unsigned integers in minor units; `scale` says how many
/// decimal places a minor unit is (yen: 0, a 2-decimal stablecoin: 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    pub id: AssetId,
    pub code: String,
    pub kind: AssetKind,
    pub scale: u8,
}

impl Asset {
    pub fn new(id: u32, code: &str, kind: AssetKind, scale: u8) -> Asset {
        Asset {
            id: AssetId(id),
            code: code.to_owned(),
            kind,
            scale,
        }
    }
}
