//! EMVCo Merchant-Presented Mode (MPM) payloads: the static QR a shop shows at the till.
//!
//! A payload is a run of data objects, each `ID` (2 digits) + `length` (2 digits) + `value`,
//! some of which are templates holding data objects of their own. Lengths count **characters**,
//! not bytes: the specification's own example carries `最佳运输` (4 characters, 12 UTF-8 bytes)
//! in tag 64 with length 04. The CRC in tag 63 is CRC-16/CCITT-FALSE (poly 0x1021, init
//! 0xFFFF) over the UTF-8 bytes of everything before its value, `6304` included, written as four
//! hexadecimal digits; it is the last data object.
//!
//! | tag | name | kanjo writes | parse checks |
//! |---|---|---|---|
//! | 00 | payload format indicator | `01` | present, first, `01` |
//! | 01 | point of initiation | `11` (static) | `11` or `12` if present |
//! | 02–25 | merchant account (primitive) | — | kept as text |
//! | 26–51 | merchant account template | 26: `00` = [`KANJO_GUI`], `01` = shop id | sub-tag 00 present |
//! | 52 | merchant category code | the shop's MCC | 4 digits |
//! | 53 | currency | `392` (JPY) | 3 digits |
//! | 54 | amount | only for a fixed-price QR | digits, at most one `.`, not zero, ≤ 13 |
//! | 55–57 | tip or convenience fee | — | 55 ∈ 01/02/03, 56 iff 02, 57 iff 03 |
//! | 58 | country | `JP` | 2 capital letters |
//! | 59 | merchant name | ASCII name | ≤ 25 |
//! | 60 | merchant city | ASCII city | ≤ 15 |
//! | 61 | postal code | optional | ≤ 10 |
//! | 62 | additional data template | optional | sub-tags kept |
//! | 63 | CRC | computed | last, 4 hex digits, matches |
//! | 64 | merchant information — language template | the Japanese name | `00` language (2 letters), `01` name |
//! | 65–79 | reserved for future use | — | kept as text |
//! | 80–99 | unreserved templates | — | sub-tag 00 present |
//!
//! At least one merchant account (02–51) is required, and no tag may appear twice at one level.
//! Every value uses the EMV common character set (printable ASCII), except the names in tag 64
//! and the contents of tags 65–99; no value holds a control character. The whole payload is at
//! most [`PAYLOAD_CHARS_MAX`] characters.
//!
//! The typed form [`MerchantPayload`] keeps tags in maps, so it has one canonical encoding:
//! [`build`] writes data objects in ascending tag order, and `parse(build(p)) == p`.

mod build;
mod crc;
mod error;
mod parse;
mod tlv;
mod values;

use std::collections::BTreeMap;

pub use build::build;
pub use crc::crc16_ccitt_false;
pub use error::{EmvError, Scope, TagPath};
pub use parse::{parse, parse_bytes};

/// EMVCo: a payload holds at most 512 characters.
pub const PAYLOAD_CHARS_MAX: usize = 512;
/// A length field has two digits, so a value holds at most 99 characters.
pub const VALUE_CHARS_MAX: usize = 99;
/// Tag 59.
pub const MERCHANT_NAME_CHARS_MAX: usize = 25;
/// Tag 60.
pub const MERCHANT_CITY_CHARS_MAX: usize = 15;
/// Tag 61.
pub const POSTAL_CODE_CHARS_MAX: usize = 10;
/// Tags 54 and 56.
pub const AMOUNT_CHARS_MAX: usize = 13;
/// Tag 57.
pub const TIP_PERCENTAGE_CHARS_MAX: usize = 5;
/// Tag 62, sub-tags 01–11 (bill number … merchant channel).
pub const ADDITIONAL_DATA_FIELD_CHARS_MAX: usize = 25;
/// Tag 64, sub-tag 01 (alternate merchant name).
pub const ALTERNATE_NAME_CHARS_MAX: usize = 25;
/// Tag 64, sub-tag 02 (alternate merchant city).
pub const ALTERNATE_CITY_CHARS_MAX: usize = 15;

/// The globally unique identifier of kanjo's merchant account template.
pub const KANJO_GUI: &str = "jp.kanjo";
/// The merchant account template kanjo writes (any of 26–51 is read).
pub const KANJO_ACCOUNT_TAG: u8 = 26;
/// The sub-tag of the kanjo template that holds the shop id.
pub const KANJO_SHOP_ID_SUB_TAG: u8 = 1;
/// Shop ids in a kanjo QR: 1..=64 printable ASCII characters (the template value must stay
/// ≤ 99 characters: `00` `08` `jp.kanjo` `01` `LL` + id).
pub const SHOP_ID_CHARS_MAX: usize = 64;
/// Japanese yen, ISO 4217 numeric.
pub const CURRENCY_JPY: &str = "392";

/// Tag 01: whether the QR is shown for many payments (a sticker) or made for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Initiation {
    /// `11`: the same QR for every payment; the customer enters the amount.
    Static,
    /// `12`: made for one payment.
    Dynamic,
}

/// Tags 55–57: whether the customer app asks for a tip or adds a convenience fee.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tip {
    /// 55 = `01`: the app asks the customer for a tip.
    Prompt,
    /// 55 = `02` with 56: a fixed convenience fee, in the amount format of tag 54.
    FixedFee(String),
    /// 55 = `03` with 57: a convenience fee as a percentage (e.g. `3.00`).
    Percentage(String),
}

/// A template whose sub-tag 00 is a globally unique identifier (tags 26–51 and 80–99).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    /// Sub-tag 00: a reverse domain name, an application identifier or a UUID.
    pub globally_unique_id: String,
    /// Sub-tags 01–99, meaning defined by the identifier's owner.
    pub fields: BTreeMap<u8, String>,
}

/// Tag 64: the merchant's name (and city) in a local language and script.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LanguageTemplate {
    /// Sub-tag 00: ISO 639-1, two lower-case letters (`ja`, `zh`); the spec's example writes
    /// `ZH`, so either case is read.
    pub language: String,
    /// Sub-tag 01: the name, any script, ≤ [`ALTERNATE_NAME_CHARS_MAX`] characters.
    pub merchant_name: String,
    /// Sub-tag 02: the city, any script, ≤ [`ALTERNATE_CITY_CHARS_MAX`] characters.
    pub merchant_city: Option<String>,
    /// Sub-tags 03–99, reserved for future use.
    pub reserved: BTreeMap<u8, String>,
}

/// A merchant-presented payload, every data object typed. Tag 00 (always `01`) and tag 63 (the
/// CRC) are not fields: [`build`] writes them and [`parse`] checks them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MerchantPayload {
    /// Tag 01.
    pub initiation: Option<Initiation>,
    /// Tags 02–25: card-network account information, kept as text.
    pub primitive_accounts: BTreeMap<u8, String>,
    /// Tags 26–51: merchant account templates (kanjo's is one of them).
    pub account_templates: BTreeMap<u8, Template>,
    /// Tag 52: ISO 18245 merchant category code, 4 digits.
    pub merchant_category_code: String,
    /// Tag 53: ISO 4217 numeric currency code, 3 digits.
    pub currency: String,
    /// Tag 54: the amount as written (`1500`, `23.72`).
    pub amount: Option<String>,
    /// Tags 55–57.
    pub tip: Option<Tip>,
    /// Tag 58: ISO 3166-1 alpha-2.
    pub country: String,
    /// Tag 59.
    pub merchant_name: String,
    /// Tag 60.
    pub merchant_city: String,
    /// Tag 61.
    pub postal_code: Option<String>,
    /// Tag 62: sub-tags 00–99 (01 bill number, 03 store label, 07 terminal label, …); empty
    /// when the payload has no tag 62 (a template cannot be empty).
    pub additional_data: BTreeMap<u8, String>,
    /// Tag 64.
    pub language: Option<LanguageTemplate>,
    /// Tags 65–79: reserved for future use, kept as text.
    pub reserved: BTreeMap<u8, String>,
    /// Tags 80–99: unreserved templates.
    pub unreserved_templates: BTreeMap<u8, Template>,
}

/// What kanjo prints on a shop's sticker: the fields [`MerchantPayload::kanjo_shop`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KanjoShop {
    /// kanjo's shop id, 1..=[`SHOP_ID_CHARS_MAX`] printable ASCII characters.
    pub shop_id: String,
    /// Tag 59: printable ASCII (romaji), ≤ [`MERCHANT_NAME_CHARS_MAX`] characters.
    pub merchant_name: String,
    /// Tag 60: printable ASCII, ≤ [`MERCHANT_CITY_CHARS_MAX`] characters.
    pub merchant_city: String,
    /// Tag 52: 4 digits.
    pub merchant_category_code: String,
    /// Tag 64 (`ja`): the name in Japanese, if the shop has one.
    pub name_ja: Option<String>,
    /// Tag 64 (`ja`): the city in Japanese; written only with `name_ja`.
    pub city_ja: Option<String>,
    /// Tag 54: a fixed price in yen, for a single-item sticker; `None` lets the customer enter it.
    pub amount_yen: Option<u64>,
}

impl MerchantPayload {
    /// The static payload of a kanjo shop: template [`KANJO_ACCOUNT_TAG`] with
    /// [`KANJO_GUI`] and the shop id, currency JPY, country JP. [`build`] validates it.
    pub fn kanjo_shop(shop: &KanjoShop) -> MerchantPayload {
        let mut fields = BTreeMap::new();
        fields.insert(KANJO_SHOP_ID_SUB_TAG, shop.shop_id.clone());
        let mut account_templates = BTreeMap::new();
        account_templates.insert(
            KANJO_ACCOUNT_TAG,
            Template {
                globally_unique_id: KANJO_GUI.to_owned(),
                fields,
            },
        );
        let language = shop.name_ja.as_ref().map(|name| LanguageTemplate {
            language: "ja".to_owned(),
            merchant_name: name.clone(),
            merchant_city: shop.city_ja.clone(),
            reserved: BTreeMap::new(),
        });
        MerchantPayload {
            initiation: Some(Initiation::Static),
            primitive_accounts: BTreeMap::new(),
            account_templates,
            merchant_category_code: shop.merchant_category_code.clone(),
            currency: CURRENCY_JPY.to_owned(),
            amount: shop.amount_yen.map(|yen| yen.to_string()),
            tip: None,
            country: "JP".to_owned(),
            merchant_name: shop.merchant_name.clone(),
            merchant_city: shop.merchant_city.clone(),
            postal_code: None,
            additional_data: BTreeMap::new(),
            language,
            reserved: BTreeMap::new(),
            unreserved_templates: BTreeMap::new(),
        }
    }

    /// The kanjo shop id: sub-tag 01 of the first merchant account template (26–51) whose
    /// identifier is [`KANJO_GUI`]. `None` for a QR that is not a kanjo shop's.
    pub fn kanjo_shop_id(&self) -> Option<&str> {
        self.account_templates
            .values()
            .find(|template| template.globally_unique_id == KANJO_GUI)
            .and_then(|template| template.fields.get(&KANJO_SHOP_ID_SUB_TAG))
            .map(String::as_str)
    }
}
