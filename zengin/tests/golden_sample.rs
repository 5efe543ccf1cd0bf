//! A sample file assembled by hand from the published layout (tests/data/README.md): our reader
//! reads it, and our writer, given the same payees, writes it byte for byte.

use kanjo_zengin::{
    AccountType, NewCode, Payee, PayeeReference, Remitter, SogoFurikomi, TransferDate,
    TransferMethod, read,
};

const SAMPLE: &[u8] = include_bytes!("data/sogo-furikomi-sample.txt");

fn remitter() -> Remitter {
    Remitter {
        code: "123456789".into(), // zero-filled to 0123456789
        name_kana: "ﾑﾛﾗﾝｼ".into(),
        bank_code: "0116".into(),
        bank_name_kana: "ﾎﾂｶｲﾄﾞｳ".into(),
        branch_code: "401".into(),
        branch_name_kana: "ﾑﾛﾗﾝ".into(),
        account_type: 1,
        account_number: "12345".into(), // zero-filled to 0012345
    }
}

fn payees() -> Vec<Payee> {
    vec![
        Payee {
            display_name: "道南バス".into(),
            bank_code: "0005".into(),
            bank_name_kana: "ﾐﾂﾋﾞｼUFJ".into(),
            branch_code: "123".into(),
            branch_name_kana: "ﾑﾛﾗﾝ".into(),
            account_type: 1,
            account_number: "7654321".into(),
            account_holder_kana: "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ".into(),
            amount_yen: 1_234_567,
            reference: PayeeReference::CustomerCodes {
                code_1: "42".into(),
                code_2: String::new(),
            },
            transfer_method: TransferMethod::Telegraphic,
        },
        Payee {
            display_name: "カフェ室蘭".into(),
            bank_code: "9900".into(),
            bank_name_kana: "ﾕｳﾁﾖ".into(),
            branch_code: "018".into(),
            branch_name_kana: "ｾﾞﾛｲﾁﾊﾁ".into(),
            account_type: 2,
            account_number: "98765".into(),
            account_holder_kana: "ｶﾌｴ ﾑﾛﾗﾝ".into(),
            amount_yen: 8_900,
            reference: PayeeReference::Edi("KANJO 2026-11".into()),
            transfer_method: TransferMethod::BankDefault,
        },
    ]
}

#[test]
fn the_sample_has_the_published_shape() {
    assert_eq!(SAMPLE.len(), 5 * 122);
    let record = |n: usize| &SAMPLE[n * 122..n * 122 + 120];
    // 1-based positions from the published tables, as 0-based ranges.
    assert_eq!(&record(0)[0..4], b"1210"); // データ区分 1, 種別コード 21, コード区分 0
    assert_eq!(&record(0)[54..58], b"1210"); // 振込指定日 (55–58)
    assert_eq!(&record(1)[80..90], b"0001234567"); // 振込金額 (81–90)
    assert_eq!(&record(2)[111..113], b" Y"); // 振込指定区分, 識別表示 (112–113)
    assert_eq!(&record(3)[0..19], b"8000002000001243467"); // 合計件数, 合計金額 (2–19)
    assert_eq!(record(4)[0], b'9');
}

#[test]
fn our_reader_reads_the_sample() {
    let file = read(SAMPLE).unwrap();
    let h = file.header();
    assert_eq!(h.remitter_code, "0123456789");
    assert_eq!(h.remitter_name, "ﾑﾛﾗﾝｼ");
    assert_eq!(h.transfer_date, TransferDate::new(12, 10).unwrap());
    assert_eq!(h.account_number, "0012345");

    let [bus, cafe] = file.records() else {
        panic!("two data records")
    };
    assert_eq!(bus.recipient_name, "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ");
    assert_eq!(bus.amount_yen, 1_234_567);
    assert_eq!(bus.new_code, NewCode::Other);
    assert_eq!(bus.transfer_method, TransferMethod::Telegraphic);
    assert_eq!(
        bus.reference,
        PayeeReference::CustomerCodes {
            code_1: "0000000042".into(),
            code_2: String::new()
        }
    );
    assert_eq!(cafe.account_type, AccountType::Current);
    assert_eq!(cafe.account_number, "0098765");
    assert_eq!(cafe.reference, PayeeReference::Edi("KANJO 2026-11".into()));

    assert_eq!(file.trailer().record_count, 2);
    assert_eq!(file.trailer().total_yen, 1_243_467);
}

#[test]
fn our_writer_writes_the_sample_byte_for_byte() {
    let date = TransferDate::new(12, 10).unwrap();
    let file = SogoFurikomi::build(&remitter(), date, &payees()).unwrap();
    let bytes = file.to_bytes();
    for (n, (ours, sample)) in bytes.chunks(122).zip(SAMPLE.chunks(122)).enumerate() {
        assert_eq!(
            ours,
            sample,
            "record {}:\n ours   {:?}\n sample {:?}",
            n + 1,
            String::from_utf8_lossy(ours),
            String::from_utf8_lossy(sample)
        );
    }
    assert_eq!(bytes, SAMPLE);
}
