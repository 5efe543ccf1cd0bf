//! [`MerchantPayload`] → payload text, data objects in ascending tag order, CRC last.
//!
//! Validation lives in one place: `build` checks only what stops it from writing (tags out of
//! their ranges, values of 0 or more than 99 characters), writes the text, and hands it to
//! [`parse`], whose errors it returns. So whatever `build` returns, `parse` accepts, and it
//! parses back to the same payload (asserted).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::crc::crc_text;
use super::error::{EmvError, TagPath};
use super::parse::parse;
use super::tlv::write_object;
use super::{Initiation, LanguageTemplate, MerchantPayload, Template, Tip, VALUE_CHARS_MAX};

/// Builds the payload text, or the first error [`parse`] would report for it.
pub fn build(payload: &MerchantPayload) -> Result<String, EmvError> {
    let mut out = String::new();
    put(&mut out, TagPath::top(0), "01")?;
    if let Some(initiation) = payload.initiation {
        let code = match initiation {
            Initiation::Static => "11",
            Initiation::Dynamic => "12",
        };
        put(&mut out, TagPath::top(1), code)?;
    }
    put_map(
        &mut out,
        &payload.primitive_accounts,
        2..=25,
        "02–25 (primitive accounts)",
    )?;
    put_templates(
        &mut out,
        &payload.account_templates,
        26..=51,
        "26–51 (account templates)",
    )?;
    put(&mut out, TagPath::top(52), &payload.merchant_category_code)?;
    put(&mut out, TagPath::top(53), &payload.currency)?;
    if let Some(amount) = &payload.amount {
        put(&mut out, TagPath::top(54), amount)?;
    }
    put_tip(&mut out, payload.tip.as_ref())?;
    put(&mut out, TagPath::top(58), &payload.country)?;
    put(&mut out, TagPath::top(59), &payload.merchant_name)?;
    put(&mut out, TagPath::top(60), &payload.merchant_city)?;
    if let Some(postal_code) = &payload.postal_code {
        put(&mut out, TagPath::top(61), postal_code)?;
    }
    if !payload.additional_data.is_empty() {
        let value = sub_fields(62, None, &payload.additional_data, 0..=99, "00–99")?;
        put(&mut out, TagPath::top(62), &value)?;
    }
    if let Some(language) = &payload.language {
        put(&mut out, TagPath::top(64), &language_value(language)?)?;
    }
    put_map(&mut out, &payload.reserved, 65..=79, "65–79 (reserved)")?;
    put_templates(
        &mut out,
        &payload.unreserved_templates,
        80..=99,
        "80–99 (unreserved)",
    )?;
    out.push_str("6304");
    let crc = crc_text(&out);
    out.push_str(&crc);
    let parsed = parse(&out)?;
    assert_eq!(&parsed, payload, "build and parse disagree on {out}");
    Ok(out)
}

/// One data object whose value has 1..=99 characters.
fn put(out: &mut String, path: TagPath, value: &str) -> Result<(), EmvError> {
    let chars = value.chars().count();
    if chars == 0 {
        return Err(EmvError::EmptyValue { path });
    }
    if chars > VALUE_CHARS_MAX {
        return Err(EmvError::ValueTooLong {
            path,
            chars,
            max: VALUE_CHARS_MAX,
        });
    }
    write_object(out, path.tag, value);
    Ok(())
}

fn check_range(
    path: TagPath,
    range: &RangeInclusive<u8>,
    allowed: &'static str,
) -> Result<(), EmvError> {
    if range.contains(&path.tag) {
        return Ok(());
    }
    Err(EmvError::TagOutOfRange { path, allowed })
}

fn put_map(
    out: &mut String,
    map: &BTreeMap<u8, String>,
    range: RangeInclusive<u8>,
    allowed: &'static str,
) -> Result<(), EmvError> {
    for (&tag, value) in map {
        let path = TagPath::top(tag);
        check_range(path, &range, allowed)?;
        put(out, path, value)?;
    }
    Ok(())
}

fn put_templates(
    out: &mut String,
    templates: &BTreeMap<u8, Template>,
    range: RangeInclusive<u8>,
    allowed: &'static str,
) -> Result<(), EmvError> {
    for (&tag, template) in templates {
        let path = TagPath::top(tag);
        check_range(path, &range, allowed)?;
        let gui = Some(template.globally_unique_id.as_str());
        let value = sub_fields(tag, gui, &template.fields, 1..=99, "01–99")?;
        put(out, path, &value)?;
    }
    Ok(())
}

/// A template's value: `first` as sub-tag 00 (if given), then `fields` in tag order.
fn sub_fields(
    template: u8,
    first: Option<&str>,
    fields: &BTreeMap<u8, String>,
    range: RangeInclusive<u8>,
    allowed: &'static str,
) -> Result<String, EmvError> {
    let mut value = String::new();
    if let Some(first) = first {
        put(&mut value, TagPath::sub(template, 0), first)?;
    }
    for (&sub_tag, text) in fields {
        let path = TagPath::sub(template, sub_tag);
        check_range(path, &range, allowed)?;
        put(&mut value, path, text)?;
    }
    Ok(value)
}

fn put_tip(out: &mut String, tip: Option<&Tip>) -> Result<(), EmvError> {
    match tip {
        None => Ok(()),
        Some(Tip::Prompt) => put(out, TagPath::top(55), "01"),
        Some(Tip::FixedFee(fee)) => {
            put(out, TagPath::top(55), "02")?;
            put(out, TagPath::top(56), fee)
        }
        Some(Tip::Percentage(percent)) => {
            put(out, TagPath::top(55), "03")?;
            put(out, TagPath::top(57), percent)
        }
    }
}

fn language_value(language: &LanguageTemplate) -> Result<String, EmvError> {
    let mut value = String::new();
    put(&mut value, TagPath::sub(64, 0), &language.language)?;
    put(&mut value, TagPath::sub(64, 1), &language.merchant_name)?;
    if let Some(city) = &language.merchant_city {
        put(&mut value, TagPath::sub(64, 2), city)?;
    }
    for (&sub_tag, text) in &language.reserved {
        let path = TagPath::sub(64, sub_tag);
        check_range(path, &(3..=99), "03–99 (reserved)")?;
        put(&mut value, path, text)?;
    }
    Ok(value)
}
