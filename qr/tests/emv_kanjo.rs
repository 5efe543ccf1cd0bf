//! A kanjo shop's sticker: what is written, what is read back, and the limits.

use std::collections::BTreeMap;

use kanjo_qr::emv::{
    EmvError, KanjoShop, MerchantPayload, TagPath, Template, build, crc16_ccitt_false, parse,
};

fn yakitori() -> KanjoShop {
    KanjoShop {
        shop_id: "muroran-0042".to_owned(),
        merchant_name: "Muroran Yakitori".to_owned(),
        merchant_city: "Muroran".to_owned(),
        merchant_category_code: "5812".to_owned(),
        name_ja: Some("室蘭やきとり一平".to_owned()),
        city_ja: Some("室蘭市".to_owned()),
        amount_yen: None,
    }
}

fn build_shop(shop: &KanjoShop) -> Result<String, EmvError> {
    build(&MerchantPayload::kanjo_shop(shop))
}

#[test]
fn a_kanjo_sticker_is_written_field_by_field_in_tag_order() {
    let body = [
        "000201",                                   // payload format indicator
        "010211",                                   // static
        "26280008jp.kanjo0112muroran-0042",         // kanjo template: GUI, shop id
        "52045812",                                 // MCC
        "5303392",                                  // JPY
        "5802JP",                                   // country
        "5916Muroran Yakitori",                     // name
        "6007Muroran",                              // city
        "64250002ja0108室蘭やきとり一平0203室蘭市", // Japanese name and city, lengths in characters
        "6304",
    ]
    .concat();
    let crc = format!("{:04X}", crc16_ccitt_false(&body));
    assert_eq!(build_shop(&yakitori()), Ok(format!("{body}{crc}")));
}

#[test]
fn the_shop_id_is_read_back_from_the_sticker() {
    let payload = build_shop(&yakitori()).unwrap();
    let parsed = parse(&payload).unwrap();
    assert_eq!(parsed.kanjo_shop_id(), Some("muroran-0042"));
    assert_eq!(parsed, MerchantPayload::kanjo_shop(&yakitori()));
}

#[test]
fn another_networks_qr_has_no_kanjo_shop_id() {
    let mut payload = MerchantPayload::kanjo_shop(&yakitori());
    let template = payload.account_templates.get_mut(&26).unwrap();
    template.globally_unique_id = "jp.example".to_owned();
    assert_eq!(payload.kanjo_shop_id(), None);
    assert!(build(&payload).is_ok());
}

#[test]
fn a_fixed_price_sticker_carries_the_amount_in_yen() {
    let shop = KanjoShop {
        amount_yen: Some(1500),
        ..yakitori()
    };
    let payload = build_shop(&shop).unwrap();
    assert!(payload.contains("54041500"));
    let free = KanjoShop {
        amount_yen: Some(0),
        ..yakitori()
    };
    assert_eq!(build_shop(&free).unwrap_err().code(), "bad_amount");
}

#[test]
fn shop_ids_hold_1_to_64_printable_ascii_characters() {
    let longest = KanjoShop {
        shop_id: "s".repeat(64),
        ..yakitori()
    };
    assert_eq!(
        parse(&build_shop(&longest).unwrap())
            .unwrap()
            .kanjo_shop_id()
            .unwrap()
            .len(),
        64
    );
    let path = TagPath::sub(26, 1);
    let too_long = KanjoShop {
        shop_id: "s".repeat(65),
        ..yakitori()
    };
    let expected = EmvError::ValueTooLong {
        path,
        chars: 65,
        max: 64,
    };
    assert_eq!(build_shop(&too_long), Err(expected));
    let empty = KanjoShop {
        shop_id: String::new(),
        ..yakitori()
    };
    assert_eq!(build_shop(&empty), Err(EmvError::EmptyValue { path }));
    let japanese = KanjoShop {
        shop_id: "室蘭".to_owned(),
        ..yakitori()
    };
    assert_eq!(build_shop(&japanese), Err(EmvError::BadCharacters { path }));
}

#[test]
fn a_kanjo_template_without_a_shop_id_is_refused() {
    let mut payload = MerchantPayload::kanjo_shop(&yakitori());
    payload
        .account_templates
        .get_mut(&26)
        .unwrap()
        .fields
        .clear();
    let expected = EmvError::MissingTag {
        path: TagPath::sub(26, 1),
        name: "kanjo shop id",
    };
    assert_eq!(build(&payload), Err(expected));
}

#[test]
fn japanese_goes_in_tag_64_not_in_the_name() {
    let kanji_name = KanjoShop {
        merchant_name: "室蘭やきとり".to_owned(),
        ..yakitori()
    };
    let expected = EmvError::BadCharacters {
        path: TagPath::top(59),
    };
    assert_eq!(build_shop(&kanji_name), Err(expected));
    let long_ja = KanjoShop {
        name_ja: Some("あ".repeat(26)),
        ..yakitori()
    };
    let expected = EmvError::ValueTooLong {
        path: TagPath::sub(64, 1),
        chars: 26,
        max: 25,
    };
    assert_eq!(build_shop(&long_ja), Err(expected));
}

#[test]
fn build_reports_what_parse_would() {
    let shop = KanjoShop {
        merchant_category_code: "58".to_owned(),
        ..yakitori()
    };
    let expected = EmvError::BadMerchantCategoryCode { found: "58".into() };
    assert_eq!(build_shop(&shop), Err(expected));
    let shop = KanjoShop {
        merchant_city: "Muroran\nHokkaido".to_owned(),
        ..yakitori()
    };
    assert_eq!(build_shop(&shop).unwrap_err().code(), "control_character");
}

#[test]
fn build_refuses_fields_under_tags_that_cannot_hold_them() {
    let mut payload = MerchantPayload::kanjo_shop(&yakitori());
    payload
        .primitive_accounts
        .insert(30, "4000123456789012".to_owned());
    let path = TagPath::top(30);
    let expected = EmvError::TagOutOfRange {
        path,
        allowed: "02–25 (primitive accounts)",
    };
    assert_eq!(build(&payload), Err(expected));

    let mut payload = MerchantPayload::kanjo_shop(&yakitori());
    payload
        .account_templates
        .get_mut(&26)
        .unwrap()
        .fields
        .insert(0, "x".to_owned());
    let expected = EmvError::TagOutOfRange {
        path: TagPath::sub(26, 0),
        allowed: "01–99",
    };
    assert_eq!(build(&payload), Err(expected));
}

#[test]
fn build_refuses_a_payload_over_512_characters() {
    let mut payload = MerchantPayload::kanjo_shop(&yakitori());
    for tag in 80..=85 {
        let fields = BTreeMap::from([(1, "x".repeat(80))]);
        let template = Template {
            globally_unique_id: "jp.example".to_owned(),
            fields,
        };
        payload.unreserved_templates.insert(tag, template);
    }
    assert_eq!(build(&payload).unwrap_err().code(), "payload_too_long");
}
