//! Printable QR images: text → QR (error correction level M, quiet zone of 4 modules) →
//! 8-bit greyscale PNG, black modules on white, each module a square of `module_px` pixels.
//!
//! Level M restores up to ~15 % of damaged modules, so a scuffed or partly covered sticker
//! still scans, at a modest cost in size; the 4-module quiet zone is what ISO/IEC 18004 asks
//! for and what phone scanners need to find the code on a busy counter.
//!
//! The QR is made by the `qrcode` crate and the PNG written by the `png` crate; this module only
//! scales the module matrix to pixels.

use std::io::Write;
use std::path::Path;

use qrcode::{Color, EcLevel, QrCode};

/// The error-correction level of every kanjo QR.
pub const EC_LEVEL: EcLevel = EcLevel::M;
/// White modules around the code, on each side.
pub const QUIET_ZONE_MODULES: u32 = 4;
/// Pixels per module: 1 (for tests) up to 40 (a 57-module code at 40 px is 2 280 px wide, A5
/// at 300 dpi).
pub const MODULE_PX_MAX: u32 = 40;
/// The longest text rendered: an EMVCo payload of 512 characters, each up to 4 UTF-8 bytes
/// (a version-40 level-M QR holds 2 331 bytes).
pub const TEXT_BYTES_MAX: usize = 2048;

const BLACK: u8 = 0;
const WHITE: u8 = 255;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("module size {module_px} px is outside 1..={MODULE_PX_MAX}")]
    ModuleSize { module_px: u32 },
    #[error("text is {bytes} bytes; at most {TEXT_BYTES_MAX} are rendered")]
    TextTooLong { bytes: usize },
    #[error("text is empty")]
    TextEmpty,
    #[error("QR encoding failed: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
    #[error("writing the PNG failed: {0}")]
    Io(#[from] std::io::Error),
}

impl RenderError {
    pub fn code(&self) -> &'static str {
        match self {
            RenderError::ModuleSize { .. } => "bad_module_size",
            RenderError::TextTooLong { .. } => "text_too_long",
            RenderError::TextEmpty => "text_empty",
            RenderError::Qr(_) => "qr_encoding_failed",
            RenderError::Png(_) => "png_encoding_failed",
            RenderError::Io(_) => "io_error",
        }
    }
}

/// What was drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PngInfo {
    /// Modules per side of the QR itself, without the quiet zone (21 for version 1).
    pub modules: u32,
    /// Pixels per side of the image: (modules + 2 × quiet zone) × module_px.
    pub width_px: u32,
}

/// The QR of `text` at level M, as `qrcode` makes it.
pub fn qr_code(text: &str) -> Result<QrCode, RenderError> {
    if text.is_empty() {
        return Err(RenderError::TextEmpty);
    }
    if text.len() > TEXT_BYTES_MAX {
        return Err(RenderError::TextTooLong { bytes: text.len() });
    }
    Ok(QrCode::with_error_correction_level(
        text.as_bytes(),
        EC_LEVEL,
    )?)
}

/// Writes the PNG of `text`'s QR to `writer`.
pub fn render_png<W: Write>(text: &str, writer: W, module_px: u32) -> Result<PngInfo, RenderError> {
    if !(1..=MODULE_PX_MAX).contains(&module_px) {
        return Err(RenderError::ModuleSize { module_px });
    }
    let code = qr_code(text)?;
    let modules = u32::try_from(code.width()).expect("a QR is at most 177 modules wide");
    let side_modules = modules + 2 * QUIET_ZONE_MODULES;
    let width_px = side_modules * module_px;
    let colors = code.to_colors();
    assert_eq!(colors.len(), (modules * modules) as usize);

    let mut encoder = png::Encoder::new(writer, width_px, width_px);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut png_writer = encoder.write_header()?;
    let mut stream = png_writer.stream_writer()?;
    let mut row = vec![WHITE; width_px as usize];
    for module_y in 0..side_modules {
        fill_row(&mut row, &colors, modules, module_y, module_px);
        for _ in 0..module_px {
            stream.write_all(&row)?;
        }
    }
    stream.finish()?;
    Ok(PngInfo { modules, width_px })
}

/// One pixel row of module row `module_y` (counted with the quiet zone).
fn fill_row(row: &mut [u8], colors: &[Color], modules: u32, module_y: u32, module_px: u32) {
    row.fill(WHITE);
    let Some(y) = module_y
        .checked_sub(QUIET_ZONE_MODULES)
        .filter(|&y| y < modules)
    else {
        return;
    };
    for x in 0..modules {
        if colors[(y * modules + x) as usize] == Color::Dark {
            let start = ((QUIET_ZONE_MODULES + x) * module_px) as usize;
            row[start..start + module_px as usize].fill(BLACK);
        }
    }
}

/// Creates (or replaces) `path` with the PNG of `text`'s QR. The image is made in memory
/// first, so bad arguments leave no file behind.
pub fn write_png_file(text: &str, path: &Path, module_px: u32) -> Result<PngInfo, RenderError> {
    let mut png_bytes = Vec::new();
    let info = render_png(text, &mut png_bytes, module_px)?;
    std::fs::write(path, png_bytes)?;
    Ok(info)
}
