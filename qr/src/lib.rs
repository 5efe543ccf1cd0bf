//! kanjo-qr: the QR codes of paying at a shop.
//!
//! Two directions, two formats:
//!
//! - [`emv`]: the **shop-presented static QR** (what JPQR stickers are). An EMVCo
//!   Merchant-Presented Mode payload: TLV fields, kanjo's shop id in a merchant account template,
//!   CRC-16/CCITT-FALSE in tag 63. [`emv::build`] makes one from a typed
//!   [`emv::MerchantPayload`]; [`emv::parse`] validates any EMVCo payload, with one typed error per
//!   wrong thing.
//! - [`token`]: the **customer-presented one-time QR**. A rider's phone signs
//!   (rider id, nonce, issued-at, expiry ≤ 120 s) with its Ed25519 device key;
//!   [`token::verify`] checks it against the registered public key. Remembering each nonce once
//!   is stateful and belongs to the engine: this crate hands it the nonce.
//!
//! [`render`] turns either text into a printable PNG.
//!
//! The crate is pure: it reads no clock (callers pass `now`), and its only I/O is the PNG writer
//! the caller hands to [`render::render_png`] (or the file [`render::write_png_file`] creates).

pub mod emv;
pub mod render;
pub mod token;
