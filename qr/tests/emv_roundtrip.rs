//! Properties: every typed payload that builds parses back to itself; parse never panics; a
//! fragment inserted into a good payload is refused.

use std::collections::BTreeMap;

use kanjo_qr::emv::{
    EmvError, Initiation, LanguageTemplate, MerchantPayload, Template, Tip, build, parse,
};
use proptest::collection::btree_map;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// Printable ASCII, the EMV common character set.
fn ascii(max: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("[ -~]{{1,{max}}}"))
        .unwrap()
        .boxed()
}

/// Any script, as tag 64 names and tags 65–99 allow.
fn any_script(max: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("[ -~ぁ-んァ-ン一-龥ｦ-ﾟ]{{1,{max}}}"))
        .unwrap()
        .boxed()
}

fn digits(count: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9]{{{count}}}")).unwrap()
}

fn amount() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[1-9][0-9]{0,6}(\\.[0-9]{0,2})?").unwrap()
}

fn template(value: BoxedStrategy<String>) -> impl Strategy<Value = Template> {
    (value.clone(), btree_map(1u8..=99, value, 0..=2)).prop_map(|(globally_unique_id, fields)| {
        Template {
            globally_unique_id,
            fields,
        }
    })
}

fn tip() -> impl Strategy<Value = Option<Tip>> {
    prop_oneof![
        Just(None),
        Just(Some(Tip::Prompt)),
        amount().prop_map(|fee| Some(Tip::FixedFee(fee))),
        proptest::string::string_regex("[1-9][0-9]?(\\.[0-9]{1,2})?")
            .unwrap()
            .prop_map(|percent| Some(Tip::Percentage(percent))),
    ]
}

fn language() -> impl Strategy<Value = Option<LanguageTemplate>> {
    let template = (
        "[a-zA-Z]{2}",
        any_script(25),
        proptest::option::of(any_script(15)),
        btree_map(3u8..=99, any_script(10), 0..=1),
    )
        .prop_map(
            |(language, merchant_name, merchant_city, reserved)| LanguageTemplate {
                language,
                merchant_name,
                merchant_city,
                reserved,
            },
        );
    proptest::option::of(template)
}

fn accounts() -> impl Strategy<Value = (BTreeMap<u8, String>, BTreeMap<u8, Template>)> {
    (
        btree_map(2u8..=25, ascii(16), 0..=2),
        btree_map(26u8..=51, template(ascii(12)), 0..=2),
    )
        .prop_filter("at least one merchant account", |(primitive, templates)| {
            !primitive.is_empty() || !templates.is_empty()
        })
}

fn payload() -> impl Strategy<Value = MerchantPayload> {
    let head = (
        proptest::option::of(prop_oneof![
            Just(Initiation::Static),
            Just(Initiation::Dynamic)
        ]),
        accounts(),
        digits(4),
        digits(3),
        proptest::option::of(amount()),
        tip(),
        "[A-Z]{2}",
    );
    let tail = (
        ascii(25),
        ascii(15),
        proptest::option::of(ascii(10)),
        btree_map(0u8..=99, ascii(12), 0..=2),
        language(),
        btree_map(65u8..=79, any_script(10), 0..=1),
        btree_map(80u8..=99, template(any_script(10)), 0..=1),
    );
    (head, tail).prop_map(|(head, tail)| {
        let (
            initiation,
            (primitive_accounts, account_templates),
            mcc,
            currency,
            amount,
            tip,
            country,
        ) = head;
        let (
            merchant_name,
            merchant_city,
            postal_code,
            additional_data,
            language,
            reserved,
            unreserved,
        ) = tail;
        MerchantPayload {
            initiation,
            primitive_accounts,
            account_templates,
            merchant_category_code: mcc,
            currency,
            amount,
            tip,
            country,
            merchant_name,
            merchant_city,
            postal_code,
            additional_data,
            language,
            reserved,
            unreserved_templates: unreserved,
        }
    })
}

/// The round-trip property is only worth something if most generated payloads fit in 512
/// characters and build; a too-large one is allowed to be refused, and only as too long.
#[test]
fn most_generated_payloads_fit_and_build() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = payload();
    let samples = 1_000;
    let built = (0..samples)
        .filter(|_| build(&strategy.new_tree(&mut runner).unwrap().current()).is_ok())
        .count();
    assert!(built * 10 >= samples * 9, "only {built} of {samples} built");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn build_then_parse_gives_the_same_payload(payload in payload()) {
        match build(&payload) {
            Ok(text) => {
                prop_assert!(text.chars().count() <= 512);
                prop_assert_eq!(parse(&text), Ok(payload));
            }
            Err(EmvError::TooLong { chars, max }) => prop_assert!(chars > max),
            Err(error) => prop_assert!(false, "{error} for {payload:?}"),
        }
    }

    #[test]
    fn parse_never_panics_on_any_text(text in "\\PC{0,600}") {
        let _ = parse(&text);
    }

    #[test]
    fn a_fragment_inserted_anywhere_is_refused(
        payload in payload(),
        at in any::<prop::sample::Index>(),
        insert in "[0-9A-Z]{1,3}",
    ) {
        if let Ok(text) = build(&payload) {
            let chars: Vec<char> = text.chars().collect();
            let at = at.index(chars.len());
            let mut edited: String = chars[..at].iter().collect();
            edited.push_str(&insert);
            edited.extend(&chars[at..]);
            prop_assert!(parse(&edited).is_err(), "inserting {insert:?} at {at} went unnoticed");
        }
    }
}
