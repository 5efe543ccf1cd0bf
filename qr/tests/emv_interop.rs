//! Payloads made by other EMVCo implementations. The payload strings are published examples
//! from open-source EMV QR projects, taken as facts; the checks here are kanjo's own.

use kanjo_qr::emv::{EmvError, Initiation, TagPath, parse};

/// From the README of an open-source Go EMV QR library: a card-network (primitive) account in
/// tag 02, no point of initiation.
const PRIMITIVE_ACCOUNT: &str =
    "000201021640001234567890125204525153038405802US5911ABC Hammers6008New York63047222";

/// From the tests of an open-source Mojaloop QR generator: a static QR with a template in 28.
const MOJALOOP: &str = "00020101021128730012org.mojaloop0105ALIAS0208100000010332581b314e257f41bfbbdc6384daa31d165204000053038405802US5911ABC Hammers6008New York63043660";

/// A Thai PromptPay QR as a public PromptPay generator makes it: EMVCo framing and CRC, but
/// without tags 52, 59 and 60, which EMVCo requires.
const PROMPTPAY: &str =
    "00020101021129370016A000000677010111011300669186952145802TH5303764630471E4";

/// From the README of an open-source Kotlin EMV QR library (Cambodia): its city has 16
/// characters, one more than EMVCo allows.
const CITY_TOO_LONG: &str = "00020101021252044131153137210116372101160123456789ABCDE6016Banteay Meanchey5913Kuntheas Shop5802KH540510.005303840621201081234567863041FF2";

#[test]
fn a_payload_with_a_primitive_card_account_parses() {
    let payload = parse(PRIMITIVE_ACCOUNT).unwrap();
    assert_eq!(
        payload.primitive_accounts.get(&2).map(String::as_str),
        Some("4000123456789012")
    );
    assert_eq!(payload.initiation, None);
    assert_eq!(
        (
            payload.merchant_name.as_str(),
            payload.merchant_city.as_str()
        ),
        ("ABC Hammers", "New York")
    );
    assert_eq!(payload.kanjo_shop_id(), None);
}

#[test]
fn a_mojaloop_payload_parses_with_its_template() {
    let payload = parse(MOJALOOP).unwrap();
    assert_eq!(payload.initiation, Some(Initiation::Static));
    let template = &payload.account_templates[&28];
    assert_eq!(template.globally_unique_id, "org.mojaloop");
    assert_eq!(template.fields[&1], "ALIAS");
    assert_eq!(template.fields[&3], "581b314e257f41bfbbdc6384daa31d16");
    assert_eq!(payload.merchant_category_code, "0000");
}

#[test]
fn other_generators_crcs_agree_with_ours_even_where_a_payload_breaks_a_rule() {
    // Both get past framing and the CRC check; each is refused for its first broken rule.
    let missing = EmvError::MissingTag {
        path: TagPath::top(52),
        name: "merchant category code",
    };
    assert_eq!(parse(PROMPTPAY), Err(missing));
    let too_long = EmvError::ValueTooLong {
        path: TagPath::top(60),
        chars: 16,
        max: 15,
    };
    assert_eq!(parse(CITY_TOO_LONG), Err(too_long));
}
