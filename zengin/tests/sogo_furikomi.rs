//! 総合振込 files, as finance needs them: what gets written, what gets refused, what reads back.

mod common;

use common::{date, payee, remitter, valid_payees};
use kanjo_zengin::layout::{data, header, trailer};
use kanjo_zengin::{
    AccountType, BuildError, FieldError, PayeeReference, RECORD_LEN_BYTES, RECORD_STRIDE_BYTES,
    ReadError, SogoFurikomi, TransferMethod, read,
};
use proptest::prelude::*;

fn two_payee_file() -> Vec<u8> {
    let payees = [
        payee("道南バス", "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ", 1_234_567),
        payee("カフェ・ムロラン", "ｶﾌｴ ﾑﾛﾗﾝ", 8_900),
    ];
    SogoFurikomi::build(&remitter(), date(), &payees)
        .expect("valid batch")
        .to_bytes()
}

fn records(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .chunks(RECORD_STRIDE_BYTES)
        .map(|c| &c[..RECORD_LEN_BYTES])
        .collect()
}

#[test]
fn a_file_is_header_data_trailer_end_each_120_bytes_plus_crlf() {
    let bytes = two_payee_file();
    assert_eq!(bytes.len(), 5 * 122);
    for chunk in bytes.chunks(RECORD_STRIDE_BYTES) {
        assert_eq!(chunk.len(), 122);
        assert_eq!(&chunk[120..], b"\r\n");
        assert!(!chunk[..120].contains(&b'\r') && !chunk[..120].contains(&b'\n'));
    }
    let kinds: Vec<u8> = records(&bytes).iter().map(|r| r[0]).collect();
    assert_eq!(kinds, b"12289");
}

#[test]
fn the_header_carries_type_21_jis_the_remitter_and_the_transfer_date() {
    let bytes = two_payee_file();
    let h = records(&bytes)[0];
    assert_eq!(&h[header::TYPE_CODE.range()], b"21");
    assert_eq!(&h[header::CODE_DIVISION.range()], b"0");
    assert_eq!(&h[header::REMITTER_CODE.range()], b"1234567890");
    assert_eq!(&h[header::TRANSFER_DATE.range()], b"1210");
    assert_eq!(&h[header::BANK_CODE.range()], b"0116");
    assert_eq!(&h[header::BRANCH_CODE.range()], b"401");
    assert_eq!(&h[header::ACCOUNT_TYPE.range()], b"1");
    assert_eq!(&h[header::ACCOUNT_NUMBER.range()], b"1234567");
    assert!(h[header::DUMMY.range()].iter().all(|b| *b == b' '));
    // ﾑﾛﾗﾝｼ ... in JIS X 0201: one byte per half-width kana, padded with spaces.
    let name = &h[header::REMITTER_NAME.range()];
    assert_eq!(&name[..5], &[0xD1, 0xDB, 0xD7, 0xDD, 0xBC]);
    assert!(name[16..].iter().all(|b| *b == b' '));
}

#[test]
fn a_data_record_carries_the_payees_account_name_and_amount() {
    let bytes = two_payee_file();
    let d = records(&bytes)[1];
    assert_eq!(&d[data::BANK_CODE.range()], b"0005");
    assert_eq!(&d[data::BRANCH_CODE.range()], b"123");
    assert_eq!(&d[data::CLEARING_HOUSE.range()], b"    ");
    assert_eq!(&d[data::ACCOUNT_TYPE.range()], b"1");
    assert_eq!(&d[data::ACCOUNT_NUMBER.range()], b"7654321");
    assert_eq!(&d[data::AMOUNT.range()], b"0001234567");
    assert_eq!(&d[data::NEW_CODE.range()], b"0");
    // ﾄﾞｳﾅﾝﾊﾞｽ(ｶ: the voiced marks are bytes of their own.
    let name = &d[data::RECIPIENT_NAME.range()];
    assert_eq!(
        &name[..10],
        &[0xC4, 0xDE, 0xB3, 0xC5, 0xDD, 0xCA, 0xDE, 0xBD, b'(', 0xB6]
    );
    assert!(d[data::CUSTOMER_CODE_1.offset..].iter().all(|b| *b == b' '));
}

#[test]
fn the_trailer_counts_the_payees_and_totals_their_yen() {
    let bytes = two_payee_file();
    let t = records(&bytes)[3];
    assert_eq!(&t[trailer::TOTAL_COUNT.range()], b"000002");
    assert_eq!(&t[trailer::TOTAL_AMOUNT.range()], b"000001243467");
    assert!(t[trailer::DUMMY.range()].iter().all(|b| *b == b' '));
    let e = records(&bytes)[4];
    assert!(e[1..].iter().all(|b| *b == b' '));
}

#[test]
fn short_account_numbers_are_zero_filled_and_customer_codes_right_aligned() {
    let mut p = payee("商店", "ｼﾖｳﾃﾝ", 500);
    p.account_number = "4321".into();
    p.reference = PayeeReference::CustomerCodes {
        code_1: "42".into(),
        code_2: String::new(),
    };
    p.transfer_method = TransferMethod::Telegraphic;
    let bytes = SogoFurikomi::build(&remitter(), date(), &[p])
        .unwrap()
        .to_bytes();
    let d = records(&bytes)[1];
    assert_eq!(&d[data::ACCOUNT_NUMBER.range()], b"0004321");
    assert_eq!(&d[data::CUSTOMER_CODE_1.range()], b"0000000042");
    assert_eq!(&d[data::CUSTOMER_CODE_2.range()], b"          ");
    assert_eq!(&d[data::TRANSFER_METHOD.range()], b"7");
    assert_eq!(&d[data::IDENTIFICATION.range()], b" ");
}

#[test]
fn edi_information_replaces_the_customer_codes_and_is_marked_y() {
    let mut p = payee("商店", "ｼﾖｳﾃﾝ", 500);
    p.reference = PayeeReference::Edi("KANJO 2026-11".into());
    let bytes = SogoFurikomi::build(&remitter(), date(), &[p])
        .unwrap()
        .to_bytes();
    let d = records(&bytes)[1];
    assert_eq!(&d[data::EDI_INFO.range()], b"KANJO 2026-11       ");
    assert_eq!(&d[data::IDENTIFICATION.range()], b"Y");
}

#[test]
fn a_batch_with_bad_payees_is_refused_naming_every_bad_payee_and_field() {
    let mut short_bank = payee("道南バス", "ﾄﾞｳﾅﾝﾊﾞｽ", 1000);
    short_bank.bank_code = "116".into();
    let good = payee("カフェ", "ｶﾌｴ", 2000);
    let mut many_problems = payee("室蘭パン店", "ムロランパン", 0);
    many_problems.branch_code = "12".into();
    many_problems.account_number = "12345678".into();
    many_problems.account_type = 3;
    let payees = [short_bank, good, many_problems];

    let err = SogoFurikomi::build(&remitter(), date(), &payees).unwrap_err();
    assert_eq!(err.code(), "invalid_fields");
    let BuildError::Invalid { remitter, payees } = &err else {
        panic!("{err:?}");
    };
    assert!(remitter.is_empty());
    assert_eq!(payees.len(), 2);
    assert_eq!(
        (payees[0].index, payees[0].display_name.as_str()),
        (0, "道南バス")
    );
    assert_eq!(payees[0].errors.len(), 1);
    assert_eq!(payees[0].errors[0].field(), data::BANK_CODE);
    assert_eq!(payees[0].errors[0].code(), "not_exact_digits");

    assert_eq!(payees[1].index, 2);
    let fields: Vec<&str> = payees[1].errors.iter().map(|e| e.field().name).collect();
    assert_eq!(
        fields,
        [
            "branch_code",
            "account_type",
            "account_number",
            "recipient_name",
            "amount"
        ]
    );
    let message = err.to_string();
    for needle in [
        "道南バス",
        "室蘭パン店",
        "被仕向銀行番号",
        "受取人名",
        "'ム'",
    ] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
    assert!(!message.contains("カフェ"), "{message}");
}

#[test]
fn a_bad_remitter_is_reported_with_the_bad_payees() {
    let mut r = remitter();
    r.account_type = 4; // 貯蓄 can't pay
    r.name_kana = "室蘭市".into();
    let mut p = payee("店", "ﾐｾ", 1);
    p.account_holder_kana = String::new();
    let err = SogoFurikomi::build(&r, date(), &[p]).unwrap_err();
    let BuildError::Invalid { remitter, payees } = err else {
        panic!()
    };
    let codes: Vec<&str> = remitter.iter().map(FieldError::code).collect();
    assert_eq!(codes, ["not_zengin_chars", "bad_account_type"]);
    assert_eq!(payees[0].errors[0].code(), "empty");
}

#[test]
fn an_empty_batch_or_one_past_the_limits_is_refused() {
    let err = SogoFurikomi::build(&remitter(), date(), &[]).unwrap_err();
    assert_eq!(err.code(), "no_payees");

    let max = kanjo_zengin::AMOUNT_YEN_MAX;
    let payees: Vec<_> = (0..101).map(|_| payee("大口", "ｵｵｸﾞﾁ", max)).collect();
    let err = SogoFurikomi::build(&remitter(), date(), &payees).unwrap_err();
    assert_eq!(err.code(), "total_too_large");

    // The count is checked before any payee is: blank payees keep this test small.
    let blank = kanjo_zengin::Payee {
        display_name: String::new(),
        bank_code: String::new(),
        bank_name_kana: String::new(),
        branch_code: String::new(),
        branch_name_kana: String::new(),
        account_type: 1,
        account_number: String::new(),
        account_holder_kana: String::new(),
        amount_yen: 1,
        reference: PayeeReference::None,
        transfer_method: TransferMethod::BankDefault,
    };
    let too_many = vec![blank; kanjo_zengin::PAYEES_PER_FILE_MAX + 1];
    let err = SogoFurikomi::build(&remitter(), date(), &too_many).unwrap_err();
    assert_eq!(err.code(), "too_many_payees");
}

#[test]
fn the_reader_returns_what_the_writer_wrote() {
    let bytes = two_payee_file();
    let file = read(&bytes).unwrap();
    assert_eq!(file.header().transfer_date, date());
    assert_eq!(file.header().remitter_name, "ﾑﾛﾗﾝｼ ｶｲｹｲｶﾝﾘｼﾔ");
    assert_eq!(file.records().len(), 2);
    assert_eq!(file.records()[0].recipient_name, "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ");
    assert_eq!(file.records()[0].account_type, AccountType::Ordinary);
    assert_eq!(file.trailer().record_count, 2);
    assert_eq!(file.trailer().total_yen, 1_243_467);
}

fn replace(bytes: &[u8], record: usize, offset: usize, new: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = record * RECORD_STRIDE_BYTES + offset;
    out[at..at + new.len()].copy_from_slice(new);
    out
}

#[test]
fn the_reader_refuses_broken_structure() {
    let good = two_payee_file();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..good.len() - 1].to_vec(), "not_whole_records"),
        (replace(&good, 2, 120, b"\n\n"), "missing_crlf"),
        (replace(&good, 0, 0, b"2"), "unexpected_record"),
        (replace(&good, 3, 0, b"9"), "unexpected_record"),
        (good[..4 * 122].to_vec(), "incomplete"),
        (
            [good.clone(), good[..122].to_vec()].concat(),
            "unexpected_record",
        ),
        (Vec::new(), "not_whole_records"),
    ];
    for (bytes, code) in cases {
        let err = read(&bytes).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
    }
}

#[test]
fn a_file_without_data_records_is_refused() {
    let good = two_payee_file();
    let bytes = [&good[..122], &good[3 * 122..]].concat();
    let err = read(&bytes).unwrap_err();
    assert_eq!(
        err,
        ReadError::UnexpectedRecord {
            record: 2,
            found: '8',
            expected: "a data record (2)"
        }
    );
}

#[test]
fn the_reader_refuses_bad_fields_naming_record_and_field() {
    let good = two_payee_file();
    let cases = [
        (0, header::TYPE_CODE.offset, &b"11"[..], "type_code"),
        (0, header::TRANSFER_DATE.offset, b"1332", "transfer_date"),
        (0, header::DUMMY.offset, b"X", "dummy"),
        (1, data::BANK_CODE.offset, b"00A5", "bank_code"),
        (1, data::RECIPIENT_NAME.offset, &[0xB0], "recipient_name"), // ｰ
        (1, data::ACCOUNT_TYPE.offset, b"9", "account_type"),
        (2, data::AMOUNT.offset, b"0000000000", "amount"),
        (2, data::IDENTIFICATION.offset, b"N", "identification"),
        (3, trailer::TOTAL_COUNT.offset, b"00000x", "total_count"),
    ];
    for (record, offset, new, field) in cases {
        let err = read(&replace(&good, record, offset, new)).unwrap_err();
        let ReadError::BadField {
            record: n,
            field: f,
            ..
        } = &err
        else {
            panic!("{field}: {err:?}");
        };
        assert_eq!((*n, f.name), (record + 1, field), "{err}");
    }
}

#[test]
fn a_trailer_that_disagrees_with_the_data_is_refused() {
    let good = two_payee_file();
    let bad_count = replace(&good, 3, trailer::TOTAL_COUNT.offset, b"000003");
    assert_eq!(
        read(&bad_count).unwrap_err(),
        ReadError::CountMismatch {
            trailer: 3,
            actual: 2
        }
    );
    let bad_total = replace(&good, 3, trailer::TOTAL_AMOUNT.offset, b"000001243468");
    assert_eq!(
        read(&bad_total).unwrap_err(),
        ReadError::TotalMismatch {
            trailer_yen: 1_243_468,
            actual_yen: 1_243_467
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_valid_batch_round_trips_and_the_trailer_totals_its_amounts(payees in valid_payees()) {
        let file = SogoFurikomi::build(&remitter(), date(), &payees).unwrap();
        let bytes = file.to_bytes();
        prop_assert_eq!(bytes.len(), (payees.len() + 3) * 122);
        for chunk in bytes.chunks(RECORD_STRIDE_BYTES) {
            prop_assert_eq!(&chunk[120..], b"\r\n");
        }
        let back = read(&bytes).unwrap();
        prop_assert_eq!(&back, &file);

        let total: u64 = payees.iter().map(|p| p.amount_yen).sum();
        prop_assert_eq!(back.trailer().total_yen, total);
        prop_assert_eq!(back.trailer().record_count, payees.len() as u64);
        for (record, payee) in back.records().iter().zip(&payees) {
            prop_assert_eq!(&record.bank_code, &payee.bank_code);
            prop_assert_eq!(&record.recipient_name, &payee.account_holder_kana);
            prop_assert_eq!(record.amount_yen, payee.amount_yen);
            prop_assert_eq!(record.account_type.digit(), payee.account_type);
            prop_assert_eq!(record.account_number.trim_start_matches('0'),
                payee.account_number.trim_start_matches('0'));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the reader accepts, the writer reproduces byte for byte; anything else is an
    /// error, never a panic.
    #[test]
    fn a_file_with_any_one_byte_changed_reads_exactly_or_is_refused(
        payees in valid_payees(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = SogoFurikomi::build(&remitter(), date(), &payees).unwrap().to_bytes();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        if let Ok(file) = read(&bytes) {
            prop_assert_eq!(file.to_bytes(), bytes);
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..800),
    ) {
        let _ = read(&bytes);
    }
}
