//! Payload text → [`MerchantPayload`], checking in this order: size and characters, framing
//! (every tag and length), the CRC's place and value, duplicate tags, then each value.

use std::collections::BTreeMap;

use super::crc::crc_text;
use super::error::{EmvError, Scope, TagPath};
use super::tlv::{DataObject, Reader};
use super::values::{
    all_digits, check_amount, check_chars_max, check_country, check_language, check_percentage,
    check_text,
};
use super::{
    ADDITIONAL_DATA_FIELD_CHARS_MAX, ALTERNATE_CITY_CHARS_MAX, ALTERNATE_NAME_CHARS_MAX,
    Initiation, KANJO_GUI, KANJO_SHOP_ID_SUB_TAG, LanguageTemplate, MERCHANT_CITY_CHARS_MAX,
    MERCHANT_NAME_CHARS_MAX, MerchantPayload, PAYLOAD_CHARS_MAX, POSTAL_CODE_CHARS_MAX,
    SHOP_ID_CHARS_MAX, Template, Tip, VALUE_CHARS_MAX,
};

const TAG_COUNT: usize = 100;
const TAG_CRC: u8 = 63;
/// Additional data sub-tags 01–11 have names and a 25-character limit; 12–99 are RFU or
/// payment-system templates.
const ADDITIONAL_DATA_NAMED_SUB_TAG_MAX: u8 = 11;

/// One level's data objects by tag, each tag at most once.
type Slots<'a> = [Option<DataObject<'a>>; TAG_COUNT];

/// Parses raw bytes (as scanned), refusing anything that is not UTF-8.
pub fn parse_bytes(bytes: &[u8]) -> Result<MerchantPayload, EmvError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(error) => Err(EmvError::NotUtf8 {
            byte_offset: error.valid_up_to(),
        }),
    }
}

/// Parses and validates a merchant-presented payload.
pub fn parse(payload: &str) -> Result<MerchantPayload, EmvError> {
    check_characters(payload)?;
    let objects = read_top_level(payload)?;
    check_crc(payload, &objects)?;
    let first = objects
        .first()
        .expect("a payload with a CRC has at least one data object");
    let slots = index_level(&objects, Scope::Top)?;
    if first.tag != 0 {
        return Err(match slots[0] {
            Some(_) => EmvError::PayloadFormatIndicatorNotFirst,
            None => EmvError::MissingTag {
                path: TagPath::top(0),
                name: "payload format indicator",
            },
        });
    }
    typed_payload(&slots)
}

fn check_characters(payload: &str) -> Result<(), EmvError> {
    let chars = payload.chars().count();
    if chars > PAYLOAD_CHARS_MAX {
        return Err(EmvError::TooLong {
            chars,
            max: PAYLOAD_CHARS_MAX,
        });
    }
    match payload.chars().enumerate().find(|(_, c)| c.is_control()) {
        Some((position, c)) => Err(EmvError::ControlCharacter {
            position,
            code_point: c.into(),
        }),
        None => Ok(()),
    }
}

/// Every top-level data object; the CRC may only be the last.
fn read_top_level(payload: &str) -> Result<Vec<DataObject<'_>>, EmvError> {
    let mut reader = Reader::new(payload, Scope::Top, 0);
    let mut objects = Vec::new();
    while let Some(object) = reader.next_object() {
        let object = object?;
        if object.tag == TAG_CRC && !reader.at_end() {
            return Err(EmvError::CrcNotLast {
                position: object.position,
            });
        }
        objects.push(object);
    }
    assert!(
        objects.len() <= PAYLOAD_CHARS_MAX / 5,
        "each data object takes ≥ 5 characters"
    );
    Ok(objects)
}

fn check_crc(payload: &str, objects: &[DataObject<'_>]) -> Result<(), EmvError> {
    let Some(last) = objects.last() else {
        return Err(EmvError::MissingTag {
            path: TagPath::top(TAG_CRC),
            name: "CRC",
        });
    };
    if last.tag != TAG_CRC {
        return Err(EmvError::CrcMissing { last_tag: last.tag });
    }
    let found = last.value;
    if found.len() != 4 || !found.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(EmvError::BadCrcField {
            found: found.to_owned(),
        });
    }
    // Over everything before the CRC's value, its "6304" included.
    let expected = crc_text(&payload[..last.value_byte_offset]);
    if !expected.eq_ignore_ascii_case(found) {
        return Err(EmvError::CrcMismatch {
            expected,
            found: found.to_owned(),
        });
    }
    Ok(())
}

fn index_level<'a>(objects: &[DataObject<'a>], scope: Scope) -> Result<Slots<'a>, EmvError> {
    let mut slots: Slots<'a> = [None; TAG_COUNT];
    for object in objects {
        let slot = &mut slots[usize::from(object.tag)];
        if slot.is_some() {
            return Err(EmvError::DuplicateTag {
                path: TagPath {
                    scope,
                    tag: object.tag,
                },
            });
        }
        *slot = Some(*object);
    }
    Ok(slots)
}

/// A template's value read as a level of its own.
fn read_template<'a>(object: &DataObject<'a>) -> Result<Slots<'a>, EmvError> {
    let scope = Scope::Template(object.tag);
    let mut reader = Reader::new(object.value, scope, object.value_position);
    let mut objects = Vec::new();
    while let Some(sub) = reader.next_object() {
        objects.push(sub?);
    }
    index_level(&objects, scope)
}

fn value<'a>(slots: &Slots<'a>, tag: u8) -> Option<&'a str> {
    slots[usize::from(tag)].map(|object| object.value)
}

fn required<'a>(slots: &Slots<'a>, tag: u8, name: &'static str) -> Result<&'a str, EmvError> {
    value(slots, tag).ok_or(EmvError::MissingTag {
        path: TagPath::top(tag),
        name,
    })
}

fn typed_payload(slots: &Slots<'_>) -> Result<MerchantPayload, EmvError> {
    let indicator = value(slots, 0).expect("checked: tag 00 comes first");
    if indicator != "01" {
        return Err(EmvError::BadPayloadFormatIndicator {
            found: indicator.to_owned(),
        });
    }
    let initiation = value(slots, 1).map(initiation).transpose()?;
    let (primitive_accounts, account_templates) = merchant_accounts(slots)?;
    let transaction = transaction_fields(slots)?;
    let merchant = merchant_fields(slots)?;
    let additional_data = slots[62]
        .as_ref()
        .map(additional_data)
        .transpose()?
        .unwrap_or_default();
    let language = slots[64].as_ref().map(language_template).transpose()?;
    let (reserved, unreserved_templates) = later_tags(slots)?;
    Ok(MerchantPayload {
        initiation,
        primitive_accounts,
        account_templates,
        merchant_category_code: transaction.merchant_category_code.to_owned(),
        currency: transaction.currency.to_owned(),
        amount: transaction.amount.map(str::to_owned),
        tip: transaction.tip,
        country: merchant.country.to_owned(),
        merchant_name: merchant.name.to_owned(),
        merchant_city: merchant.city.to_owned(),
        postal_code: merchant.postal_code.map(str::to_owned),
        additional_data,
        language,
        reserved,
        unreserved_templates,
    })
}

struct TransactionFields<'a> {
    merchant_category_code: &'a str,
    currency: &'a str,
    amount: Option<&'a str>,
    tip: Option<Tip>,
}

/// Tags 52–57.
fn transaction_fields<'a>(slots: &Slots<'a>) -> Result<TransactionFields<'a>, EmvError> {
    let merchant_category_code = required(slots, 52, "merchant category code")?;
    if !all_digits(merchant_category_code, 4) {
        let found = merchant_category_code.to_owned();
        return Err(EmvError::BadMerchantCategoryCode { found });
    }
    let currency = required(slots, 53, "transaction currency")?;
    if !all_digits(currency, 3) {
        return Err(EmvError::BadCurrency {
            found: currency.to_owned(),
        });
    }
    let amount = value(slots, 54);
    if let Some(amount) = amount {
        check_amount(TagPath::top(54), amount)?;
    }
    let tip = tip(value(slots, 55), value(slots, 56), value(slots, 57))?;
    Ok(TransactionFields {
        merchant_category_code,
        currency,
        amount,
        tip,
    })
}

struct MerchantFields<'a> {
    country: &'a str,
    name: &'a str,
    city: &'a str,
    postal_code: Option<&'a str>,
}

/// Tags 58–61.
fn merchant_fields<'a>(slots: &Slots<'a>) -> Result<MerchantFields<'a>, EmvError> {
    let country = required(slots, 58, "country code")?;
    check_country(country)?;
    let name = required(slots, 59, "merchant name")?;
    check_text(TagPath::top(59), name, MERCHANT_NAME_CHARS_MAX)?;
    let city = required(slots, 60, "merchant city")?;
    check_text(TagPath::top(60), city, MERCHANT_CITY_CHARS_MAX)?;
    let postal_code = value(slots, 61);
    if let Some(postal_code) = postal_code {
        check_text(TagPath::top(61), postal_code, POSTAL_CODE_CHARS_MAX)?;
    }
    Ok(MerchantFields {
        country,
        name,
        city,
        postal_code,
    })
}

type LaterTags = (BTreeMap<u8, String>, BTreeMap<u8, Template>);

/// Tags 65–79 (reserved, kept as text) and 80–99 (unreserved templates).
fn later_tags(slots: &Slots<'_>) -> Result<LaterTags, EmvError> {
    let mut reserved = BTreeMap::new();
    for tag in 65..=79 {
        if let Some(text) = value(slots, tag) {
            reserved.insert(tag, text.to_owned());
        }
    }
    let mut unreserved_templates = BTreeMap::new();
    for tag in 80..=99 {
        if let Some(object) = &slots[usize::from(tag)] {
            unreserved_templates.insert(tag, gui_template(object, Charset::Any)?);
        }
    }
    Ok((reserved, unreserved_templates))
}

fn initiation(value: &str) -> Result<Initiation, EmvError> {
    match value {
        "11" => Ok(Initiation::Static),
        "12" => Ok(Initiation::Dynamic),
        _ => Err(EmvError::BadPointOfInitiation {
            found: value.to_owned(),
        }),
    }
}

type Accounts = (BTreeMap<u8, String>, BTreeMap<u8, Template>);

/// Tags 02–25 (primitive) and 26–51 (templates); at least one of them.
fn merchant_accounts(slots: &Slots<'_>) -> Result<Accounts, EmvError> {
    let mut primitive = BTreeMap::new();
    for tag in 2..=25 {
        if let Some(object) = &slots[usize::from(tag)] {
            check_text(TagPath::top(tag), object.value, VALUE_CHARS_MAX)?;
            primitive.insert(tag, object.value.to_owned());
        }
    }
    let mut templates = BTreeMap::new();
    for tag in 26..=51 {
        if let Some(object) = &slots[usize::from(tag)] {
            let template = gui_template(object, Charset::Common)?;
            if template.globally_unique_id == KANJO_GUI {
                check_kanjo_template(tag, &template)?;
            }
            templates.insert(tag, template);
        }
    }
    if primitive.is_empty() && templates.is_empty() {
        return Err(EmvError::MissingMerchantAccount);
    }
    Ok((primitive, templates))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// Printable ASCII (merchant account templates).
    Common,
    /// Any non-control character (unreserved templates 80–99).
    Any,
}

/// A template whose sub-tag 00 is a globally unique identifier.
fn gui_template(object: &DataObject<'_>, charset: Charset) -> Result<Template, EmvError> {
    let slots = read_template(object)?;
    let mut globally_unique_id = None;
    let mut fields = BTreeMap::new();
    for (sub_tag, sub) in slots.iter().enumerate() {
        let Some(sub) = sub else { continue };
        let sub_tag = u8::try_from(sub_tag).expect("tags are below 100");
        let path = TagPath::sub(object.tag, sub_tag);
        match charset {
            Charset::Common => check_text(path, sub.value, VALUE_CHARS_MAX)?,
            Charset::Any => check_chars_max(path, sub.value, VALUE_CHARS_MAX)?,
        }
        if sub_tag == 0 {
            globally_unique_id = Some(sub.value.to_owned());
        } else {
            fields.insert(sub_tag, sub.value.to_owned());
        }
    }
    let Some(globally_unique_id) = globally_unique_id else {
        let path = TagPath::sub(object.tag, 0);
        return Err(EmvError::MissingTag {
            path,
            name: "globally unique identifier",
        });
    };
    Ok(Template {
        globally_unique_id,
        fields,
    })
}

/// kanjo's own template must name a shop, within kanjo's shop id limit.
fn check_kanjo_template(tag: u8, template: &Template) -> Result<(), EmvError> {
    let path = TagPath::sub(tag, KANJO_SHOP_ID_SUB_TAG);
    let Some(shop_id) = template.fields.get(&KANJO_SHOP_ID_SUB_TAG) else {
        return Err(EmvError::MissingTag {
            path,
            name: "kanjo shop id",
        });
    };
    check_text(path, shop_id, SHOP_ID_CHARS_MAX)
}

/// Tags 55–57: 56 goes with 55 = 02 only, 57 with 55 = 03 only.
fn tip(
    indicator: Option<&str>,
    fixed: Option<&str>,
    percentage: Option<&str>,
) -> Result<Option<Tip>, EmvError> {
    let bad = |reason| Err(EmvError::BadTip { reason });
    match (indicator, fixed, percentage) {
        (None, None, None) => Ok(None),
        (None, _, _) => bad("tag 56 or 57 without tag 55"),
        (Some("01"), None, None) => Ok(Some(Tip::Prompt)),
        (Some("01"), _, _) => bad("tag 55 = 01 (prompt) takes neither 56 nor 57"),
        (Some("02"), Some(fee), None) => {
            check_amount(TagPath::top(56), fee)?;
            Ok(Some(Tip::FixedFee(fee.to_owned())))
        }
        (Some("02"), _, _) => bad("tag 55 = 02 (fixed fee) needs tag 56 and no tag 57"),
        (Some("03"), None, Some(percent)) => {
            check_percentage(percent)?;
            Ok(Some(Tip::Percentage(percent.to_owned())))
        }
        (Some("03"), _, _) => bad("tag 55 = 03 (percentage fee) needs tag 57 and no tag 56"),
        (Some(_), _, _) => bad("tag 55 is not 01, 02 or 03"),
    }
}

/// Tag 62: sub-tags 01–11 are named fields of at most 25 characters; the rest up to 99.
fn additional_data(object: &DataObject<'_>) -> Result<BTreeMap<u8, String>, EmvError> {
    let slots = read_template(object)?;
    let mut fields = BTreeMap::new();
    for (sub_tag, sub) in slots.iter().enumerate() {
        let Some(sub) = sub else { continue };
        let sub_tag = u8::try_from(sub_tag).expect("tags are below 100");
        let max = if (1..=ADDITIONAL_DATA_NAMED_SUB_TAG_MAX).contains(&sub_tag) {
            ADDITIONAL_DATA_FIELD_CHARS_MAX
        } else {
            VALUE_CHARS_MAX
        };
        check_text(TagPath::sub(object.tag, sub_tag), sub.value, max)?;
        fields.insert(sub_tag, sub.value.to_owned());
    }
    Ok(fields)
}

/// Tag 64: 00 language and 01 name are required; 02 city optional; names in any script.
fn language_template(object: &DataObject<'_>) -> Result<LanguageTemplate, EmvError> {
    let slots = read_template(object)?;
    let value = |sub_tag: u8| slots[usize::from(sub_tag)].map(|sub| sub.value);
    let required = |sub_tag: u8, name: &'static str| {
        value(sub_tag).ok_or(EmvError::MissingTag {
            path: TagPath::sub(object.tag, sub_tag),
            name,
        })
    };
    let language = required(0, "language preference")?;
    check_language(language)?;
    let merchant_name = required(1, "alternate merchant name")?;
    check_chars_max(
        TagPath::sub(object.tag, 1),
        merchant_name,
        ALTERNATE_NAME_CHARS_MAX,
    )?;
    let merchant_city = value(2);
    if let Some(city) = merchant_city {
        check_chars_max(TagPath::sub(object.tag, 2), city, ALTERNATE_CITY_CHARS_MAX)?;
    }
    let mut reserved = BTreeMap::new();
    for sub_tag in 3..=99 {
        if let Some(text) = value(sub_tag) {
            reserved.insert(sub_tag, text.to_owned());
        }
    }
    Ok(LanguageTemplate {
        language: language.to_owned(),
        merchant_name: merchant_name.to_owned(),
        merchant_city: merchant_city.map(str::to_owned),
        reserved,
    })
}
