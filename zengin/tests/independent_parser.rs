//! Our files read back with an independently written Zengin parser, the `zengin-fmt` crate
//! (its `general_transfer` module parses 種別コード 21 files). Its reading must agree with what we
//! meant to pay: the count, the total (= Σ payables) and every payee.

mod common;

use common::{date, payee, remitter, valid_payees};
use kanjo_zengin::{Payee, PayeeReference, SogoFurikomi, TransferMethod};
use proptest::prelude::*;
use zengin_fmt::general_transfer;

/// Parses with zengin-fmt, or fails the test with its error.
fn parse_independently(bytes: &[u8]) -> general_transfer::File {
    zengin_fmt::parse_general_transfer(bytes)
        .unwrap_or_else(|e| panic!("zengin-fmt refused our file: {e}"))
}

/// Compares zengin-fmt's view of one data record with the payee it came from.
fn assert_detail_is_payee(detail: &general_transfer::Detail, payee: &Payee) {
    assert_eq!(detail.bank_code, payee.bank_code);
    assert_eq!(detail.bank_name, payee.bank_name_kana);
    assert_eq!(detail.branch_code, payee.branch_code);
    assert_eq!(detail.branch_name, payee.branch_name_kana);
    assert_eq!(detail.clearing_house_number, "");
    assert_eq!(detail.account_type, payee.account_type);
    assert_eq!(
        detail.account_number,
        format!("{:0>7}", payee.account_number)
    );
    assert_eq!(detail.recipient_name, payee.account_holder_kana);
    assert_eq!(detail.amount, payee.amount_yen);
    assert_eq!(detail.new_code, "0");
    let method = match payee.transfer_method {
        TransferMethod::BankDefault => "",
        TransferMethod::Telegraphic => "7",
        TransferMethod::Document => "8",
    };
    assert_eq!(detail.transfer_designated_type, method);
    match &payee.reference {
        PayeeReference::None => {
            assert_eq!(detail.identification, "");
            assert_eq!(
                (detail.customer_code1.as_str(), detail.edi_info.as_str()),
                ("", "")
            );
        }
        PayeeReference::CustomerCodes { code_1, code_2 } => {
            let padded = |c: &String| {
                if c.is_empty() {
                    String::new()
                } else {
                    format!("{c:0>10}")
                }
            };
            assert_eq!(detail.customer_code1, padded(code_1));
            assert_eq!(detail.customer_code2, padded(code_2));
            assert_eq!(detail.identification, "");
        }
        PayeeReference::Edi(info) => {
            assert_eq!(&detail.edi_info, info);
            assert_eq!(detail.identification, "Y");
        }
    }
}

#[test]
fn an_independent_parser_reads_the_remitter_count_total_and_each_payee() {
    let mut with_codes = payee("カフェ", "ｶﾌｴ ﾑﾛﾗﾝ", 8_900);
    with_codes.reference = PayeeReference::CustomerCodes {
        code_1: "2026".into(),
        code_2: "11".into(),
    };
    with_codes.transfer_method = TransferMethod::Document;
    let mut with_edi = payee("道南バス", "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ", 1_234_567);
    with_edi.reference = PayeeReference::Edi("KANJO SETTLE 42".into());
    with_edi.account_number = "98765".into();
    with_edi.account_type = 4;
    let payees = [payee("商店", "ｼﾖｳﾃﾝ", 100), with_codes, with_edi];
    let bytes = SogoFurikomi::build(&remitter(), date(), &payees)
        .unwrap()
        .to_bytes();

    let file = parse_independently(&bytes);
    let r = remitter();
    assert_eq!(file.header.kind_code, 21);
    assert_eq!(file.header.code_division, zengin_fmt::CodeDivision::Jis);
    assert_eq!(file.header.remitter_code, r.code);
    assert_eq!(file.header.remitter_name, r.name_kana);
    assert_eq!(file.header.transfer_date, "1210");
    assert_eq!(file.header.bank_code, r.bank_code);
    assert_eq!(file.header.branch_code, r.branch_code);
    assert_eq!(file.header.account_type, 1);
    assert_eq!(file.header.account_number, r.account_number);

    assert_eq!(file.trailer.total_count, 3);
    assert_eq!(file.trailer.total_amount, 100 + 8_900 + 1_234_567);
    assert_eq!(file.details.len(), payees.len());
    for (detail, payee) in file.details.iter().zip(&payees) {
        assert_detail_is_payee(detail, payee);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_valid_batch_reads_the_same_with_the_independent_parser(payees in valid_payees()) {
        let bytes = SogoFurikomi::build(&remitter(), date(), &payees).unwrap().to_bytes();
        let file = parse_independently(&bytes);
        let payables: u64 = payees.iter().map(|p| p.amount_yen).sum();
        prop_assert_eq!(file.trailer.total_amount, payables);
        prop_assert_eq!(file.trailer.total_count as usize, payees.len());
        prop_assert_eq!(file.details.len(), payees.len());
        for (detail, payee) in file.details.iter().zip(&payees) {
            assert_detail_is_payee(detail, payee);
        }
    }
}
