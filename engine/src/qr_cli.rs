//! `kanjo qr`: the shop-presented static QR (an EMVCo Merchant-Presented Mode payload, as JPQR
//! stickers are) made from a shop kanjo knows, and a validator for any such payload.
//!
//! The payload format, its limits and every error are kanjo-qr's (`kanjo_qr::emv`); this module
//! only looks the shop up, chooses the fields, and prints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use kanjo_engine::machine::Machine;
use kanjo_qr::emv::{self, EmvError, Initiation, KanjoShop, MerchantPayload, Template, Tip};
use serde_json::{Value, json};

/// The merchant category code written when none is given: ISO 18245 5999, miscellaneous retail.
const MCC_DEFAULT: &str = "5999";
/// Pixels per QR module of the PNG: 10 px makes a 37-module code 450 px wide, a sticker at 150 dpi.
const MODULE_PX_DEFAULT: u32 = 10;

#[derive(Args)]
pub struct QrArgs {
    #[command(subcommand)]
    command: QrCommand,
}

#[derive(Subcommand)]
enum QrCommand {
    /// Print a shop's static payment QR (EMVCo MPM payload) and write it as a printable PNG.
    Shop(Box<ShopArgs>),
    /// Validate an EMVCo merchant-presented payload and print its fields as JSON.
    Parse(ParseArgs),
}

#[derive(Args)]
struct ShopArgs {
    #[command(flatten)]
    engine: crate::EngineArgs,
    /// The shop id, as in `[[shops]]` or `POST /v1/shops`.
    shop: String,
    /// Where to write the PNG.
    #[arg(long)]
    png: PathBuf,
    /// Tag 59, printable ASCII, at most 25 characters; default: the shop id.
    #[arg(long)]
    merchant_name: Option<String>,
    /// Tag 60, printable ASCII, at most 15 characters.
    #[arg(long, default_value = "Japan")]
    city: String,
    /// Tag 52, the ISO 18245 merchant category code (4 digits).
    #[arg(long, default_value = MCC_DEFAULT)]
    mcc: String,
    /// Tag 54: a fixed price in yen (a single-item sticker); none lets the customer enter it.
    #[arg(long)]
    amount_yen: Option<u64>,
    /// Pixels per QR module (1–40).
    #[arg(long, default_value_t = MODULE_PX_DEFAULT)]
    module_px: u32,
}

#[derive(Args)]
struct ParseArgs {
    /// The payload text, as a scanner reads it.
    payload: String,
}

pub fn run(args: QrArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        QrCommand::Shop(args) => shop(*args),
        QrCommand::Parse(args) => Ok(parse(&args.payload)),
    }
}

fn shop(args: ShopArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.start_read_only()?;
    let id = args.shop.clone();
    let found = engine.query_blocking(move |machine: &Machine| {
        let spec = machine.shop(&id)?;
        Some((
            spec.name.clone(),
            machine.programme().town_name().to_owned(),
        ))
    })?;
    engine.shutdown();
    let Some((name, town)) = found else {
        bail!(
            "no shop {:?}: add it to the programme's [[shops]] or through POST /v1/shops",
            args.shop
        );
    };
    let merchant_name = args
        .merchant_name
        .clone()
        .unwrap_or_else(|| args.shop.clone());
    let shop = KanjoShop {
        shop_id: args.shop.clone(),
        merchant_name,
        merchant_city: args.city.clone(),
        merchant_category_code: args.mcc.clone(),
        // Tag 64 holds at most 25 (name) and 15 (city) characters: a display name, cut to fit.
        name_ja: Some(truncate_chars(&name, emv::ALTERNATE_NAME_CHARS_MAX)),
        city_ja: (!town.is_empty()).then(|| truncate_chars(&town, emv::ALTERNATE_CITY_CHARS_MAX)),
        amount_yen: args.amount_yen,
    };
    let payload = emv::build(&MerchantPayload::kanjo_shop(&shop)).map_err(|error| {
        anyhow::anyhow!(
            "shop {:?} can't be written as an EMVCo payload ({}): {error}; \
             --merchant-name, --city and --mcc set the ASCII fields",
            args.shop,
            error.code()
        )
    })?;
    let info = kanjo_qr::render::write_png_file(&payload, &args.png, args.module_px)
        .with_context(|| format!("writing {}", args.png.display()))?;
    println!("{payload}");
    eprintln!(
        "kanjo: wrote {} ({} × {} px, {} modules)",
        args.png.display(),
        info.width_px,
        info.width_px,
        info.modules
    );
    Ok(ExitCode::SUCCESS)
}

fn truncate_chars(text: &str, chars_max: usize) -> String {
    text.chars().take(chars_max).collect()
}

/// Prints the fields (stdout) or the one error (stderr, `{"error": {"code", "message"}}`, exit 1).
fn parse(payload: &str) -> ExitCode {
    match emv::parse(payload) {
        Ok(parsed) => {
            let crc = &payload[payload.len() - 4..];
            let fields = payload_json(&parsed, crc);
            println!(
                "{}",
                serde_json::to_string_pretty(&fields).expect("JSON values serialise")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}", error_json(&error));
            ExitCode::FAILURE
        }
    }
}

pub fn error_json(error: &EmvError) -> Value {
    json!({"error": {"code": error.code(), "message": error.to_string()}})
}

/// Every data object of a parsed payload, tags as two-digit keys where the spec numbers them.
pub fn payload_json(payload: &MerchantPayload, crc: &str) -> Value {
    json!({
        "payload_format_indicator": "01",
        "point_of_initiation": payload.initiation.map(|initiation| match initiation {
            Initiation::Static => "static",
            Initiation::Dynamic => "dynamic",
        }),
        "merchant_accounts": tagged(&payload.primitive_accounts),
        "merchant_account_templates": templates(&payload.account_templates),
        "kanjo_shop_id": payload.kanjo_shop_id(),
        "merchant_category_code": payload.merchant_category_code,
        "currency": payload.currency,
        "amount": payload.amount,
        "tip": payload.tip.as_ref().map(|tip| match tip {
            Tip::Prompt => json!({"indicator": "01"}),
            Tip::FixedFee(fee) => json!({"indicator": "02", "fixed_fee": fee}),
            Tip::Percentage(percentage) => json!({"indicator": "03", "percentage": percentage}),
        }),
        "country": payload.country,
        "merchant_name": payload.merchant_name,
        "merchant_city": payload.merchant_city,
        "postal_code": payload.postal_code,
        "additional_data": tagged(&payload.additional_data),
        "language": payload.language.as_ref().map(|language| json!({
            "language": language.language,
            "merchant_name": language.merchant_name,
            "merchant_city": language.merchant_city,
            "reserved": tagged(&language.reserved),
        })),
        "reserved": tagged(&payload.reserved),
        "unreserved_templates": templates(&payload.unreserved_templates),
        "crc": crc,
    })
}

fn tagged(fields: &BTreeMap<u8, String>) -> Value {
    fields
        .iter()
        .map(|(tag, value)| (format!("{tag:02}"), json!(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn templates(templates: &BTreeMap<u8, Template>) -> Value {
    templates
        .iter()
        .map(|(tag, template)| {
            let value = json!({
                "globally_unique_id": template.globally_unique_id,
                "fields": tagged(&template.fields),
            });
            (format!("{tag:02}"), value)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}
