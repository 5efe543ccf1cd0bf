//! `kanjo qr`: a shop's static EMVCo payload and PNG from a shop kanjo knows, and `kanjo qr parse`
//! validating payloads, kanjo's own and other implementations', each wrong field with its own
//! error.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{TempDir, kanjo};
use kanjo_qr::emv::crc16_ccitt_false;
use serde_json::Value;

/// The example of spec/purchases.md: its programme has `[[shops]]` (books: 室蘭書店).
fn shops_programme() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/purchases-example/programme.toml")
}

/// The example payload of the EMVCo MPM specification (also in qr/tests/emv_spec.rs).
const SPEC_EXAMPLE: &str = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A";
/// Published examples of two open-source EMV QR implementations (also in qr/tests/emv_interop.rs).
const PRIMITIVE_ACCOUNT: &str =
    "000201021640001234567890125204525153038405802US5911ABC Hammers6008New York63047222";
const MOJALOOP: &str = "00020101021128730012org.mojaloop0105ALIAS0208100000010332581b314e257f41bfbbdc6384daa31d165204000053038405802US5911ABC Hammers6008New York63043660";

/// `kanjo qr shop SHOP` on a fresh store with the shops programme: (exit ok, stdout, stderr).
fn qr_shop(dir: &TempDir, shop: &str, png: &Path) -> (bool, String, String) {
    let data = dir.join("data");
    let programme = shops_programme();
    let output = kanjo(&[
        "qr",
        "shop",
        shop,
        "--png",
        png.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--programme",
        programme.to_str().unwrap(),
        "--city",
        "Muroran",
    ]);
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// `kanjo qr parse PAYLOAD`: the fields, or the error object with a non-zero exit.
fn qr_parse(payload: &str) -> Result<Value, Value> {
    let output = kanjo(&["qr", "parse", payload]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    if output.status.success() {
        Ok(serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}")))
    } else {
        assert!(stdout.is_empty(), "nothing on stdout for a refused payload");
        Err(serde_json::from_str(stderr.trim()).unwrap_or_else(|error| panic!("{error}: {stderr}")))
    }
}

fn books_payload(dir: &TempDir) -> String {
    let (ok, stdout, stderr) = qr_shop(dir, "books", &dir.join("books.png"));
    assert!(ok, "{stderr}");
    stdout.trim().to_owned()
}

/// `payload` (ending in `6304XXXX`) with its CRC recomputed, so only the edit is wrong.
fn fix_crc(payload: &str) -> String {
    let body = &payload[..payload.len() - 4];
    assert!(body.ends_with("6304"));
    format!("{body}{:04X}", crc16_ccitt_false(body))
}

fn edited(payload: &str, from: &str, to: &str) -> String {
    assert_eq!(payload.matches(from).count(), 1, "{from:?} in {payload}");
    fix_crc(&payload.replacen(from, to, 1))
}

#[test]
fn a_shops_payload_parses_back_to_the_shop() {
    let dir = TempDir::new("qr-round-trip");
    let payload = books_payload(&dir);
    let fields = qr_parse(&payload).unwrap();
    assert_eq!(fields["kanjo_shop_id"], "books");
    let template = &fields["merchant_account_templates"]["26"];
    assert_eq!(template["globally_unique_id"], "jp.kanjo");
    assert_eq!(template["fields"]["01"], "books");
    assert_eq!(fields["point_of_initiation"], "static");
    assert_eq!(fields["currency"], "392");
    assert_eq!(fields["country"], "JP");
    assert_eq!(fields["merchant_name"], "books");
    assert_eq!(fields["merchant_city"], "Muroran");
    assert_eq!(fields["language"]["language"], "ja");
    assert_eq!(fields["language"]["merchant_name"], "室蘭書店");
    assert_eq!(fields["language"]["merchant_city"], "室蘭市");
    assert_eq!(fields["amount"], Value::Null);
    let crc = format!("{:04X}", crc16_ccitt_false(&payload[..payload.len() - 4]));
    assert_eq!(fields["crc"], crc.as_str());
}

#[test]
fn the_png_is_a_png_whose_qr_reads_back_as_the_payload() {
    let dir = TempDir::new("qr-png");
    let png_path = dir.join("books.png");
    let (ok, stdout, stderr) = qr_shop(&dir, "books", &png_path);
    assert!(ok, "{stderr}");
    let png_bytes = std::fs::read(&png_path).unwrap();
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n", "the PNG signature");

    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes.as_slice()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    let width = frame.width as usize;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, width, |x, y| pixels[y * width + x]);
    let read: Vec<String> = image
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().unwrap().1)
        .collect();
    assert_eq!(read, vec![stdout.trim().to_owned()]);
}

#[test]
fn an_unknown_shop_is_a_clear_error_and_writes_no_png() {
    let dir = TempDir::new("qr-unknown");
    let png_path = dir.join("nowhere.png");
    let (ok, stdout, stderr) = qr_shop(&dir, "nowhere", &png_path);
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("no shop \"nowhere\""), "{stderr}");
    assert!(!png_path.exists());
}

#[test]
fn each_corrupted_field_gets_its_own_error() {
    let dir = TempDir::new("qr-corrupt");
    let payload = books_payload(&dir);
    let crc = &payload[payload.len() - 4..];
    let wrong_crc = format!(
        "{}{}",
        &payload[..payload.len() - 1],
        if crc.ends_with('0') { '1' } else { '0' }
    );
    let cases: Vec<(&str, String)> = vec![
        ("crc_mismatch", wrong_crc),
        ("crc_missing", payload[..payload.len() - 8].to_owned()),
        ("bad_length", edited(&payload, "5905books", "59x5books")),
        (
            "length_past_end",
            edited(&payload, "5905books", "5999books"),
        ),
        ("missing_tag", edited(&payload, "52045999", "")),
        (
            "bad_merchant_category_code",
            edited(&payload, "52045999", "520459X9"),
        ),
        ("bad_currency", edited(&payload, "5303392", "53033X2")),
        ("bad_country", edited(&payload, "5802JP", "5802jp")),
        (
            "bad_payload_format_indicator",
            edited(&payload, "000201", "000202"),
        ),
        (
            "bad_point_of_initiation",
            edited(&payload, "010211", "010213"),
        ),
        ("duplicate_tag", edited(&payload, "5802JP", "5802JP5802JP")),
        (
            "value_too_long",
            edited(&payload, "6007Muroran", "6016MuroranMuroranXY"),
        ),
        (
            "missing_merchant_account",
            edited(&payload, "26210008jp.kanjo0105books", ""),
        ),
    ];
    let mut codes = BTreeSet::new();
    for (expected, corrupted) in &cases {
        let error = qr_parse(corrupted).expect_err(corrupted);
        assert_eq!(error["error"]["code"], *expected, "{corrupted}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        codes.insert(expected);
    }
    assert_eq!(codes.len(), cases.len(), "every case is a different error");
}

#[test]
fn payloads_of_other_implementations_are_accepted() {
    let spec = qr_parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(spec["merchant_name"], "BEST TRANSPORT");
    assert_eq!(spec["merchant_city"], "BEIJING");
    assert_eq!(spec["currency"], "156");
    assert_eq!(spec["amount"], "23.72");
    assert_eq!(spec["language"]["merchant_name"], "最佳运输");
    assert_eq!(spec["kanjo_shop_id"], Value::Null);
    assert_eq!(spec["crc"], "A13A");

    let card = qr_parse(PRIMITIVE_ACCOUNT).unwrap();
    assert_eq!(card["merchant_accounts"]["02"], "4000123456789012");
    assert_eq!(card["point_of_initiation"], Value::Null);

    let mojaloop = qr_parse(MOJALOOP).unwrap();
    assert_eq!(
        mojaloop["merchant_account_templates"]["28"]["globally_unique_id"],
        "org.mojaloop"
    );
    assert_eq!(
        mojaloop["merchant_account_templates"]["28"]["fields"]["01"],
        "ALIAS"
    );
}
