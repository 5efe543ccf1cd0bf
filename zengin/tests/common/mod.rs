//! Shared fixtures and generators for the integration tests.
#![allow(dead_code)] // each test binary uses a different part

use kanjo_zengin::{Payee, PayeeReference, Remitter, TransferDate, TransferMethod};
use proptest::prelude::*;

pub fn remitter() -> Remitter {
    Remitter {
        code: "1234567890".into(),
        name_kana: "ﾑﾛﾗﾝｼ ｶｲｹｲｶﾝﾘｼﾔ".into(),
        bank_code: "0116".into(),
        bank_name_kana: "ﾎﾂｶｲﾄﾞｳ".into(),
        branch_code: "401".into(),
        branch_name_kana: "ﾑﾛﾗﾝ".into(),
        account_type: 1,
        account_number: "1234567".into(),
    }
}

pub fn date() -> TransferDate {
    TransferDate::new(12, 10).expect("a calendar date")
}

pub fn payee(display_name: &str, holder: &str, amount_yen: u64) -> Payee {
    Payee {
        display_name: display_name.into(),
        bank_code: "0005".into(),
        bank_name_kana: "ﾐﾂﾋﾞｼUFJ".into(),
        branch_code: "123".into(),
        branch_name_kana: "ﾑﾛﾗﾝ".into(),
        account_type: 1,
        account_number: "7654321".into(),
        account_holder_kana: holder.into(),
        amount_yen,
        reference: PayeeReference::None,
        transfer_method: TransferMethod::BankDefault,
    }
}

/// Every character a Zengin text field may hold.
pub fn zengin_chars() -> Vec<char> {
    (0u32..0x1_0000)
        .filter_map(char::from_u32)
        .filter(|c| kanjo_zengin::charset::is_zengin_char(*c))
        .collect()
}

/// A Zengin text of 1..=`max` characters that is not blank and has no trailing space.
pub fn zengin_text(max: usize) -> impl Strategy<Value = String> {
    let chars = zengin_chars();
    proptest::collection::vec(proptest::sample::select(chars), 1..=max).prop_map(|cs| {
        let mut text: String = cs.into_iter().collect();
        let trimmed = text.trim_end_matches(' ').len();
        text.truncate(trimmed);
        if text.is_empty() {
            text.push('ｱ');
        }
        text
    })
}

fn digits(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::char::range('0', '9'), min..=max)
        .prop_map(|ds| ds.into_iter().collect())
}

fn reference() -> impl Strategy<Value = PayeeReference> {
    prop_oneof![
        Just(PayeeReference::None),
        (digits(1, 10), digits(0, 10))
            .prop_map(|(code_1, code_2)| PayeeReference::CustomerCodes { code_1, code_2 }),
        zengin_text(20).prop_map(PayeeReference::Edi),
    ]
}

fn transfer_method() -> impl Strategy<Value = TransferMethod> {
    prop_oneof![
        Just(TransferMethod::BankDefault),
        Just(TransferMethod::Telegraphic),
        Just(TransferMethod::Document),
    ]
}

/// A payee every field of which is valid.
pub fn valid_payee() -> impl Strategy<Value = Payee> {
    (
        (digits(4, 4), zengin_text(15), digits(3, 3), zengin_text(15)),
        (
            proptest::sample::select(vec![1u8, 2, 4]),
            digits(1, 7),
            zengin_text(30),
            1u64..=kanjo_zengin::AMOUNT_YEN_MAX,
        ),
        (
            reference(),
            transfer_method(),
            "[a-z\u{5ba4}\u{862d} ]{1,12}",
        ),
    )
        .prop_map(
            |(
                (bank_code, bank_name_kana, branch_code, branch_name_kana),
                (account_type, account_number, account_holder_kana, amount_yen),
                (reference, transfer_method, display_name),
            )| Payee {
                display_name,
                bank_code,
                bank_name_kana,
                branch_code,
                branch_name_kana,
                account_type,
                account_number,
                account_holder_kana,
                amount_yen,
                reference,
                transfer_method,
            },
        )
}

/// 1..=40 valid payees: their total always fits the trailer's 12 digits.
pub fn valid_payees() -> impl Strategy<Value = Vec<Payee>> {
    proptest::collection::vec(valid_payee(), 1..=40)
}
