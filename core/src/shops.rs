//! Shops: who may be paid at the counter, in which categories, and what the town charges them.
//!
//! Shops come from the programme (`[[shops]]`) and from shop records (`POST /v1/shops`), which are
//! logged and replayed like rider records; a record for a known id replaces that shop. Every shop
//! is checked here, once, against the asset book it will be paid in. The payment rules themselves
//! (order, fees, holds, refunds) live in `machine::payments`; the contract is `spec/purchases.md`.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use kanjo_ledger::AssetId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::{BodyError, split_items};
use crate::chart::{AssetBook, AssetKindName, AssetSpec};
use crate::event::REFERENCE_BYTES_MAX;

/// Shop ids are references in events (`shop`), so they share the events' reference limit.
pub const SHOP_ID_BYTES_MAX: usize = REFERENCE_BYTES_MAX;
pub const SHOP_NAME_BYTES_MAX: usize = 256;
/// The Zengin transfer's recipient name (受取人名) is 30 characters wide.
pub const NAME_KANA_CHARS_MAX: usize = 30;
pub const CATEGORIES_MAX: usize = 16;
pub const CATEGORY_BYTES_MAX: usize = 64;
/// 10 000 basis points = 100 %.
pub const FEE_BP_MAX: u32 = 10_000;
/// Shops the registry holds at most (programme and records together).
pub const SHOPS_MAX: usize = 65_536;
/// Assets that can pay at a shop; bounds the transfers of one payment chain.
pub const SPENDABLE_ASSETS_MAX: usize = 32;
pub const AUTHORIZATION_TIMEOUT_S_DEFAULT: u32 = 600;
/// A hold longer than a week is a configuration mistake, not an authorisation.
pub const AUTHORIZATION_TIMEOUT_S_MAX: u32 = 7 * 24 * 60 * 60;

/// `[payments]` of the programme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// An authorisation's capture or void later than this after its `at` is refused (event time).
    #[serde(default = "default_authorization_timeout_s")]
    pub authorization_timeout_s: u32,
}

fn default_authorization_timeout_s() -> u32 {
    AUTHORIZATION_TIMEOUT_S_DEFAULT
}

impl Default for PaymentSettings {
    fn default() -> PaymentSettings {
        PaymentSettings {
            authorization_timeout_s: AUTHORIZATION_TIMEOUT_S_DEFAULT,
        }
    }
}

impl PaymentSettings {
    pub fn check(&self) -> Result<(), String> {
        if self.authorization_timeout_s == 0
            || self.authorization_timeout_s > AUTHORIZATION_TIMEOUT_S_MAX
        {
            return Err(format!(
                "authorization_timeout_s is {}; it must be 1 to {AUTHORIZATION_TIMEOUT_S_MAX} seconds",
                self.authorization_timeout_s
            ));
        }
        Ok(())
    }

    pub fn authorization_timeout_ns(&self) -> i128 {
        i128::from(self.authorization_timeout_s) * 1_000_000_000
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopStatus {
    #[default]
    Active,
    /// Known, but takes no new purchases or authorisations (`shop_suspended`).
    Suspended,
}

/// A shop as written: a `[[shops]]` table or a shop record (JSON). Serialising it gives the
/// canonical JSON the log stores.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShopSpec {
    pub id: String,
    pub name: String,
    /// Half-width katakana, as the bank transfer that pays the shop needs it.
    pub name_kana: String,
    pub categories: Vec<String>,
    /// Basis points per asset code; absent = 0. Charged on yen and stablecoin parts only.
    #[serde(default)]
    pub fees_bp: BTreeMap<String, u32>,
    #[serde(default)]
    pub status: ShopStatus,
    /// 振込先口座: where the town's Zengin transfer pays the shop. Absent from records written
    /// before bank details existed, and then absent from their canonical JSON too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<BankDetails>,
}

/// 預金種目 of a payee's account, as the programme and shop records spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BankAccountType {
    /// 普通預金 (Zengin 1).
    #[serde(alias = "普通")]
    Ordinary,
    /// 当座預金 (Zengin 2).
    #[serde(alias = "当座")]
    Current,
}

impl BankAccountType {
    /// The digit the Zengin file holds.
    pub const fn zengin_digit(self) -> u8 {
        match self {
            BankAccountType::Ordinary => 1,
            BankAccountType::Current => 2,
        }
    }
}

/// Bank and branch names are 15 characters wide in a Zengin record.
pub const BANK_NAME_KANA_CHARS_MAX: usize = 15;

/// 振込先口座: a bank account in Japan as a Zengin transfer names it. Checked once at the edge
/// ([`BankDetails::check`]); every field is what the file holds, digits unpadded.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BankDetails {
    /// 金融機関コード: exactly 4 digits.
    pub bank_code: String,
    /// 金融機関名 in half-width kana; optional (banks fill it in from the code).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bank_name_kana: String,
    /// 支店コード: exactly 3 digits.
    pub branch_code: String,
    /// 支店名 in half-width kana; optional.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch_name_kana: String,
    pub account_type: BankAccountType,
    /// 口座番号: exactly 7 digits.
    pub account_number: String,
}

impl BankDetails {
    /// Every bad field, each named `bank.{field}`; empty when the details can be written.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (field, value, digits) in [
            ("bank_code", &self.bank_code, 4),
            ("branch_code", &self.branch_code, 3),
            ("account_number", &self.account_number, 7),
        ] {
            if value.len() != digits || !value.bytes().all(|b| b.is_ascii_digit()) {
                problems.push(format!(
                    "`bank.{field}` must be exactly {digits} digits 0-9, got {value:?}"
                ));
            }
        }
        for (field, value) in [
            ("bank_name_kana", &self.bank_name_kana),
            ("branch_name_kana", &self.branch_name_kana),
        ] {
            if value.is_empty() {
                continue;
            }
            if let Err(problem) = check_kana(value, BANK_NAME_KANA_CHARS_MAX) {
                problems.push(format!("`bank.{field}` {problem}"));
            }
        }
        problems
    }

    /// The first problem, if any (shop records answer one reason per record).
    pub fn check(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some(problem) => Err(problem),
        }
    }
}

/// A checked shop: its record and its fees by ledger asset (money assets only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shop {
    pub spec: ShopSpec,
    fees_bp: Vec<(AssetId, u16)>,
}

impl Shop {
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn is_active(&self) -> bool {
        self.spec.status == ShopStatus::Active
    }

    /// The fee in basis points on a part paid in `asset`; 0 for points and entitlements.
    pub fn fee_bp(&self, asset: AssetId) -> u16 {
        self.fees_bp
            .iter()
            .find(|(fee_asset, _)| *fee_asset == asset)
            .map_or(0, |(_, bp)| *bp)
    }

    /// Whether the shop has one of `categories`.
    pub fn in_any(&self, categories: &[String]) -> bool {
        self.spec
            .categories
            .iter()
            .any(|category| categories.contains(category))
    }
}

/// fee = floor(part × bp / 10 000), the one rounding rule of shop fees.
pub fn fee_minor(part_minor: u64, bp: u16) -> u64 {
    debug_assert!(u32::from(bp) <= FEE_BP_MAX);
    let fee = u128::from(part_minor) * u128::from(bp) / u128::from(FEE_BP_MAX);
    u64::try_from(fee).expect("a fee is at most its part")
}

impl ShopSpec {
    /// Checks every field against the limits and the asset book; the shop ready for the registry.
    pub fn check(&self, assets: &AssetBook) -> Result<Shop, String> {
        check_shop_id(&self.id)?;
        let named = |problem: String| format!("shop {:?}: {problem}", self.id);
        if self.name.is_empty()
            || self.name.len() > SHOP_NAME_BYTES_MAX
            || self.name.chars().any(char::is_control)
        {
            return Err(named(format!(
                "`name` must be 1 to {SHOP_NAME_BYTES_MAX} bytes without control characters"
            )));
        }
        check_name_kana(&self.name_kana).map_err(named)?;
        if let Some(bank) = &self.bank {
            bank.check().map_err(named)?;
        }
        check_categories("categories", &self.categories).map_err(named)?;
        let mut fees_bp = Vec::with_capacity(self.fees_bp.len());
        for (code, bp) in &self.fees_bp {
            let Some((asset, spec)) = assets.get(code) else {
                return Err(named(format!(
                    "`fees_bp` names asset {code:?}, which the programme does not have"
                )));
            };
            if *bp > FEE_BP_MAX {
                return Err(named(format!(
                    "`fees_bp` for {code} is {bp}; at most {FEE_BP_MAX} (100 %)"
                )));
            }
            // Points and entitlements never pay a fee, whatever the table says.
            if matches!(spec.kind, AssetKindName::Yen | AssetKindName::Stablecoin) && *bp > 0 {
                fees_bp.push((asset, u16::try_from(*bp).expect("at most 10 000")));
            }
        }
        Ok(Shop {
            spec: self.clone(),
            fees_bp,
        })
    }

    /// The JSON a clerk reads (and the log stores).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a shop is strings and integers")
    }
}

/// The same limits as an event's references: a shop no event could name is refused.
pub fn check_shop_id(id: &str) -> Result<(), String> {
    crate::limits::check_entry_id(id).map_err(|error| format!("shop id {id:?}: {error}"))?;
    // The log allows any non-NUL id; a shop id is printed on QR stickers and statements.
    if id.chars().any(char::is_control) {
        return Err(format!("shop id {id:?} holds a control character"));
    }
    if kanjo_privacy::contains_my_number(id) {
        return Err(format!(
            "shop id {id:?} looks like a 12-digit My Number; events could never name it"
        ));
    }
    Ok(())
}

/// Half-width katakana (and the Zengin letters, digits and symbols), short enough for the
/// recipient name of a Zengin transfer once spelled in Zengin characters.
fn check_name_kana(text: &str) -> Result<(), String> {
    check_kana(text, NAME_KANA_CHARS_MAX).map_err(|problem| format!("`name_kana` {problem}"))
}

/// A name a Zengin record can carry: half-width kana that converts completely to Zengin
/// characters, 1 to `chars_max` of them. The message starts with the value, not the field.
pub fn check_kana(text: &str, chars_max: usize) -> Result<(), String> {
    let half_width = |c: char| {
        kanjo_zengin::charset::is_zengin_char(c) || ('\u{FF65}'..='\u{FF9F}').contains(&c)
    };
    let wrong: Vec<char> = text.chars().filter(|c| !half_width(*c)).collect();
    if text.is_empty() || !wrong.is_empty() {
        return Err(format!(
            "{text:?} must be half-width katakana (ｱ-ﾝ, ﾞ, ﾟ, ｰ, A-Z, 0-9); not {:?}",
            wrong.into_iter().collect::<String>()
        ));
    }
    let zengin = kanjo_zengin::to_zengin_kana(text);
    if !zengin.is_complete() {
        return Err(format!(
            "{text:?} has characters a bank transfer can't carry: {:?}",
            zengin.unconvertible
        ));
    }
    let chars = zengin.kana.chars().count();
    if chars > chars_max {
        return Err(format!(
            "{text:?} is {chars} characters; the bank transfer's field holds {chars_max}"
        ));
    }
    Ok(())
}

/// Category codes (`grocery`, `transport`, …): a non-empty list of short words.
fn check_categories(field: &str, categories: &[String]) -> Result<(), String> {
    if categories.is_empty() || categories.len() > CATEGORIES_MAX {
        return Err(format!(
            "`{field}` must list 1 to {CATEGORIES_MAX} categories"
        ));
    }
    for category in categories {
        if category.is_empty()
            || category.len() > CATEGORY_BYTES_MAX
            || category
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(format!(
                "`{field}`: category {category:?} must be 1 to {CATEGORY_BYTES_MAX} bytes without spaces"
            ));
        }
    }
    Ok(())
}

/// An asset's spending settings: `usable_at` restricts points only; a ballot never moves.
pub(crate) fn check_spending(spec: &AssetSpec) -> Result<(), String> {
    if let Some(categories) = &spec.usable_at {
        if spec.kind != AssetKindName::Points {
            return Err(format!(
                "asset {:?}: only points can be restricted with `usable_at`",
                spec.code
            ));
        }
        check_categories("usable_at", categories)
            .map_err(|problem| format!("asset {:?}: {problem}", spec.code))?;
    }
    if spec.transferable == Some(true) && spec.one_per_person {
        return Err(format!(
            "asset {:?}: a one_per_person entitlement can't be transferable",
            spec.code
        ));
    }
    Ok(())
}

pub(crate) fn check_spendable_count(specs: &[AssetSpec]) -> Result<(), String> {
    let spendable = specs
        .iter()
        .filter(|spec| spend_group(spec).is_some())
        .count();
    if spendable > SPENDABLE_ASSETS_MAX {
        return Err(format!(
            "{spendable} assets can pay at shops; at most {SPENDABLE_ASSETS_MAX}"
        ));
    }
    Ok(())
}

/// The programme's shops: each checked, and no id twice.
pub(crate) fn check_programme_shops(shops: &[ShopSpec], assets: &AssetBook) -> Result<(), String> {
    if shops.len() > SHOPS_MAX {
        return Err(format!("{} shops; at most {SHOPS_MAX}", shops.len()));
    }
    let mut seen = hashbrown::HashSet::with_capacity(shops.len());
    for shop in shops {
        shop.check(assets)?;
        if !seen.insert(shop.id.as_str()) {
            return Err(format!("shop {:?} is declared twice", shop.id));
        }
    }
    Ok(())
}

/// Which step of the payment order an asset pays in (spec/purchases.md): 1 points restricted to
/// categories, 2 unrestricted points, 3 stablecoins, 4 the yen wallet; `None` never pays (an
/// entitlement, or an asset whose unit is not ¥1).
pub fn spend_group(spec: &AssetSpec) -> Option<u8> {
    if spec.scale != 0 {
        return None;
    }
    match spec.kind {
        AssetKindName::Points if spec.usable_at.is_some() => Some(1),
        AssetKindName::Points => Some(2),
        AssetKindName::Stablecoin => Some(3),
        AssetKindName::Yen => Some(4),
        AssetKindName::Entitlement => None,
    }
}

/// Whether `send` may move the asset between riders.
pub fn is_transferable(spec: &AssetSpec) -> bool {
    spec.transferable
        .unwrap_or(spec.kind == AssetKindName::Stablecoin)
}

/// The assets that can pay, in payment order: by group, then in `[[assets]]` order.
pub fn spend_order(assets: &AssetBook) -> impl Iterator<Item = (AssetId, &AssetSpec)> {
    (1..=4u8).flat_map(move |group| {
        assets
            .iter()
            .filter(move |(_, spec)| spend_group(spec) == Some(group))
    })
}

/// A local day as the integer YYYYMMDD, the `user_data_64` of every shop payment leg: readable
/// in a transfer dump, and ordered like the dates.
pub fn day_stamp(date: kanjo_rules::LocalDate) -> u64 {
    // An event may be dated before year 1 (jiff reads years from -9999): such a day has no stamp.
    u64::try_from(date.year)
        .ok()
        .filter(|&year| year > 0)
        .map_or(0, |year| {
            year * 10_000 + u64::from(date.month) * 100 + u64::from(date.day)
        })
}

/// The day a `day_stamp` stands for; `None` for 0 (a leg posted outside an event) or garbage.
pub fn day_of_stamp(stamp: u64) -> Option<kanjo_rules::LocalDate> {
    let year = i16::try_from(stamp / 10_000).ok()?;
    let month = u8::try_from(stamp / 100 % 100).ok()?;
    let day = u8::try_from(stamp % 100).ok()?;
    kanjo_rules::LocalDate::new(year, month, day)
}

/// Dense shop index; only meaningful for the registry that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShopIx(pub u32);

/// Every known shop. An upsert replaces a shop in place, so its index never changes.
#[derive(Clone, Debug, Default)]
pub struct ShopBook {
    index: HashMap<Box<str>, ShopIx>,
    shops: Vec<Shop>,
}

impl ShopBook {
    pub fn len(&self) -> usize {
        self.shops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shops.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<(ShopIx, &Shop)> {
        let ix = *self.index.get(id)?;
        Some((ix, &self.shops[ix.0 as usize]))
    }

    pub fn shop(&self, ix: ShopIx) -> &Shop {
        &self.shops[ix.0 as usize]
    }

    /// Adds the shop, or replaces the one with its id.
    pub fn upsert(&mut self, shop: Shop) -> Result<ShopIx, String> {
        if let Some(ix) = self.index.get(shop.id()) {
            self.shops[ix.0 as usize] = shop;
            return Ok(*ix);
        }
        if self.shops.len() >= SHOPS_MAX {
            return Err(format!(
                "the registry holds {SHOPS_MAX} shops, the most it may"
            ));
        }
        let ix = ShopIx(u32::try_from(self.shops.len()).expect("SHOPS_MAX fits u32"));
        self.index.insert(shop.id().into(), ix);
        self.shops.push(shop);
        Ok(ix)
    }
}

/// One shop record: its canonical JSON and the record, or its id (if readable) and why not.
pub type ShopItem = Result<(String, ShopSpec), (Option<String>, String)>;

/// Shop records as `POST /v1/shops` takes them (a JSON array or NDJSON), at most `items_max`: each
/// record is checked on its own, so one bad record never costs the others.
pub fn parse_shops(
    body: &str,
    assets: &AssetBook,
    items_max: usize,
) -> Result<Vec<ShopItem>, BodyError> {
    Ok(split_items(body, items_max)?
        .into_iter()
        .map(|item| match item.map(serde_json::from_str::<Value>) {
            Ok(Ok(value)) => check_shop_value(&value, assets),
            Ok(Err(error)) => Err((None, format!("not JSON: {error}"))),
            Err(error) => Err((None, error.to_string())),
        })
        .collect())
}

/// One shop record, checked against privacy, the shop rules and the log's entry limits.
pub fn check_shop_value(value: &Value, assets: &AssetBook) -> ShopItem {
    // An id that fails the id check (a My Number, 20 kB) is not repeated back.
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| check_shop_id(id).is_ok())
        .map(str::to_owned);
    kanjo_privacy::check_json(value).map_err(|refusal| (id.clone(), refusal.to_string()))?;
    let spec = ShopSpec::deserialize(value)
        .map_err(|error| (id.clone(), format!("not a shop record: {error}")))?;
    spec.check(assets)
        .map_err(|problem| (id.clone(), problem))?;
    let canonical = serde_json::to_string(&spec).expect("a shop is strings and integers");
    crate::limits::check_entry(&spec.id, canonical.len()).map_err(|error| {
        (
            id.clone(),
            format!("the shop record can't be logged: {error}"),
        )
    })?;
    Ok((canonical, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> AssetBook {
        let text = r#"
            [[assets]]
            code = "SUZU"
            kind = "stablecoin"
            [[assets]]
            code = "muro-pt"
            kind = "points"
        "#;
        let section: crate::chart::AssetSection = toml::from_str(text).unwrap();
        AssetBook::from_section("p.toml", section, &[]).unwrap()
    }

    fn books_shop() -> ShopSpec {
        ShopSpec {
            id: "books".into(),
            name: "室蘭書店".into(),
            name_kana: "ﾑﾛﾗﾝｼﾖﾃﾝ".into(),
            categories: vec!["books".into()],
            fees_bp: BTreeMap::from([("SUZU".into(), 50), ("JPY".into(), 50)]),
            status: ShopStatus::Active,
            bank: None,
        }
    }

    #[test]
    fn shop_ids_refuse_nul_control_characters_my_numbers_and_overlong_ids() {
        for bad in [
            "",
            "a\0b",
            "a\u{1}b",
            "tab\tid",
            "123456789012",
            &"x".repeat(129),
        ] {
            assert!(check_shop_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_shop_id("室蘭パン-1").is_ok());
    }

    #[test]
    fn fees_round_down_per_part() {
        assert_eq!(fee_minor(700, 50), 3);
        assert_eq!(fee_minor(199, 50), 0);
        assert_eq!(fee_minor(200, 50), 1);
        assert_eq!(fee_minor(u64::MAX, 10_000), u64::MAX);
    }

    #[test]
    fn a_long_vowel_mark_is_half_width_katakana() {
        let mut shop = books_shop();
        shop.name_kana = "ﾑﾛﾗﾝﾊｲﾔｰ".into();
        assert!(shop.check(&book()).is_ok());
    }

    #[test]
    fn full_width_kana_kanji_and_long_names_are_refused() {
        for kana in ["ムロラン", "室蘭", "ﾑﾛﾗﾝ\u{0}", "", &"ｱ".repeat(31)] {
            let mut shop = books_shop();
            shop.name_kana = kana.into();
            assert!(shop.check(&book()).is_err(), "{kana:?}");
        }
    }

    #[test]
    fn fees_name_known_assets_and_stay_at_or_under_100_percent() {
        let mut shop = books_shop();
        shop.fees_bp.insert("SUZU".into(), 10_001);
        assert!(shop.check(&book()).unwrap_err().contains("10001"));
        let mut shop = books_shop();
        shop.fees_bp.insert("nowhere-coin".into(), 5);
        assert!(shop.check(&book()).unwrap_err().contains("nowhere-coin"));
    }

    #[test]
    fn points_never_pay_a_fee_even_when_the_table_names_them() {
        let mut shop = books_shop();
        shop.fees_bp.insert("muro-pt".into(), 300);
        let checked = shop.check(&book()).unwrap();
        let points = book().get("muro-pt").unwrap().0;
        assert_eq!(checked.fee_bp(points), 0);
    }

    #[test]
    fn ids_follow_the_event_reference_limits() {
        for id in ["", "a\0b", "1234-5678-9012"] {
            let mut shop = books_shop();
            shop.id = id.into();
            assert!(shop.check(&book()).is_err(), "{id:?}");
        }
        let mut shop = books_shop();
        shop.id = "x".repeat(SHOP_ID_BYTES_MAX);
        assert!(shop.check(&book()).is_ok());
        shop.id.push('x');
        assert!(shop.check(&book()).is_err());
    }

    #[test]
    fn bank_details_are_optional_and_absent_from_the_canonical_json_when_absent() {
        let canonical = serde_json::to_string(&books_shop()).unwrap();
        assert!(!canonical.contains("bank"), "{canonical}");
        let mut shop = books_shop();
        shop.bank = Some(BankDetails {
            bank_code: "0501".into(),
            bank_name_kana: String::new(),
            branch_code: "411".into(),
            branch_name_kana: "ﾑﾛﾗﾝ".into(),
            account_type: BankAccountType::Ordinary,
            account_number: "0234502".into(),
        });
        assert!(shop.check(&book()).is_ok());
        let json = serde_json::to_string(&shop).unwrap();
        assert!(
            json.contains(r#""bank":{"bank_code":"0501","branch_code":"411","#),
            "{json}"
        );
        let back: ShopSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, shop);
    }

    #[test]
    fn a_bad_branch_code_is_refused_naming_the_field_and_the_shop() {
        let mut shop = books_shop();
        shop.bank = Some(BankDetails {
            bank_code: "0501".into(),
            bank_name_kana: String::new(),
            branch_code: "41".into(),
            branch_name_kana: String::new(),
            account_type: BankAccountType::Current,
            account_number: "0234502".into(),
        });
        let problem = shop.check(&book()).unwrap_err();
        assert!(
            problem.contains("bank.branch_code") && problem.contains("books"),
            "{problem}"
        );
        let details = shop.bank.as_mut().unwrap();
        details.branch_code = "411".into();
        details.account_number = "234502".into();
        details.branch_name_kana = "室蘭".into();
        let problems = details.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn a_shop_needs_a_category() {
        let mut shop = books_shop();
        shop.categories.clear();
        assert!(shop.check(&book()).unwrap_err().contains("categories"));
    }

    #[test]
    fn an_upsert_replaces_the_shop_under_the_same_index() {
        let mut shops = ShopBook::default();
        let first = shops.upsert(books_shop().check(&book()).unwrap()).unwrap();
        let mut suspended = books_shop();
        suspended.status = ShopStatus::Suspended;
        let second = shops.upsert(suspended.check(&book()).unwrap()).unwrap();
        assert_eq!(first, second);
        assert_eq!(shops.len(), 1);
        assert!(!shops.get("books").unwrap().1.is_active());
    }

    #[test]
    fn records_are_checked_one_by_one_and_canonical() {
        let body = r#"[{"status":"active","id":"taxi","name":"室蘭ハイヤー","name_kana":"ﾑﾛﾗﾝﾊｲﾔｰ","categories":["transport"]}, {"id":"bad"}]"#;
        let items = parse_shops(body, &book(), 16).unwrap();
        let (canonical, spec) = items[0].as_ref().unwrap();
        assert!(canonical.starts_with(r#"{"id":"taxi","#), "{canonical}");
        assert_eq!(spec.status, ShopStatus::Active);
        assert_eq!(items[1].as_ref().unwrap_err().0.as_deref(), Some("bad"));
    }

    #[test]
    fn the_payment_order_is_restricted_points_points_coin_yen() {
        let text = r#"
            [[assets]]
            code = "JPY"
            kind = "yen"
            [[assets]]
            code = "SUZU"
            kind = "stablecoin"
            [[assets]]
            code = "ballot"
            kind = "entitlement"
            [[assets]]
            code = "muro-pt"
            kind = "points"
            [[assets]]
            code = "bus-pt"
            kind = "points"
            usable_at = ["transport"]
        "#;
        let section: crate::chart::AssetSection = toml::from_str(text).unwrap();
        let assets = AssetBook::from_section("p.toml", section, &[]).unwrap();
        let order: Vec<&str> = spend_order(&assets)
            .map(|(_, spec)| spec.code.as_str())
            .collect();
        assert_eq!(order, ["bus-pt", "muro-pt", "SUZU", "JPY"]);
    }

    #[test]
    fn only_points_are_restricted_and_only_the_coin_moves_by_default() {
        let text = r#"
            [[assets]]
            code = "SUZU"
            kind = "stablecoin"
            usable_at = ["grocery"]
        "#;
        let section: crate::chart::AssetSection = toml::from_str(text).unwrap();
        assert!(AssetBook::from_section("p.toml", section, &[]).is_err());
        let assets = book();
        assert!(is_transferable(assets.get("SUZU").unwrap().1));
        assert!(!is_transferable(assets.get("muro-pt").unwrap().1));
        assert!(!is_transferable(assets.get("JPY").unwrap().1));
    }
}
