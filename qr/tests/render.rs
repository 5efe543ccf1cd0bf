//! Printable PNGs: a QR decoder reads back exactly the payload that was drawn.

use kanjo_qr::emv::{KanjoShop, MerchantPayload, build};
use kanjo_qr::render::{
    MODULE_PX_MAX, PngInfo, QUIET_ZONE_MODULES, RenderError, qr_code, render_png, write_png_file,
};
use kanjo_qr::token::{Nonce, RIDER_ID_BYTES_MAX, SigningKey, TokenClaims, sign};

const SPEC_EXAMPLE: &str = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A";

struct Grey {
    width: usize,
    pixels: Vec<u8>,
}

fn decode_png(png_bytes: &[u8]) -> Grey {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    assert_eq!(frame.width, frame.height, "a QR image is square");
    pixels.truncate(frame.buffer_size());
    Grey {
        width: frame.width as usize,
        pixels,
    }
}

/// Every QR that `rqrr` finds in the image, as text.
fn read_qr(image: &Grey) -> Vec<String> {
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(image.width, image.width, |x, y| {
            image.pixels[y * image.width + x]
        });
    prepared
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().expect("the QR decodes").1)
        .collect()
}

fn render(text: &str, module_px: u32) -> (PngInfo, Grey) {
    let mut png_bytes = Vec::new();
    let info = render_png(text, &mut png_bytes, module_px).unwrap();
    (info, decode_png(&png_bytes))
}

#[test]
fn the_specification_example_is_read_back_from_its_png() {
    let (info, image) = render(SPEC_EXAMPLE, 4);
    assert_eq!(read_qr(&image), vec![SPEC_EXAMPLE.to_owned()]);
    assert_eq!(image.width as u32, info.width_px);
}

#[test]
fn a_kanjo_sticker_is_read_back_from_its_png() {
    let shop = KanjoShop {
        shop_id: "muroran-0042".to_owned(),
        merchant_name: "Muroran Yakitori".to_owned(),
        merchant_city: "Muroran".to_owned(),
        merchant_category_code: "5812".to_owned(),
        name_ja: Some("室蘭やきとり一平".to_owned()),
        city_ja: Some("室蘭市".to_owned()),
        amount_yen: None,
    };
    let payload = build(&MerchantPayload::kanjo_shop(&shop)).unwrap();
    let (_, image) = render(&payload, 3);
    assert_eq!(read_qr(&image), vec![payload]);
}

#[test]
fn the_longest_customer_token_is_read_back_from_its_png() {
    let claims = TokenClaims {
        rider_id: "r".repeat(RIDER_ID_BYTES_MAX),
        nonce: Nonce([0xA5; 16]),
        issued_at_unix_s: 1_767_225_600,
        expires_at_unix_s: 1_767_225_720,
    };
    let token = sign(&claims, &SigningKey::from_bytes(&[9; 32])).unwrap();
    let (_, image) = render(&token, 3);
    assert_eq!(read_qr(&image), vec![token]);
}

#[test]
fn the_image_is_the_qrcode_matrix_scaled_with_a_white_quiet_zone() {
    let module_px = 5;
    let (info, image) = render(SPEC_EXAMPLE, module_px);
    let code = qr_code(SPEC_EXAMPLE).unwrap();
    let modules = code.width();
    assert_eq!(info.modules as usize, modules);
    let quiet = QUIET_ZONE_MODULES as usize;
    let px = module_px as usize;
    assert_eq!(image.width, (modules + 2 * quiet) * px);
    let colors = code.to_colors();
    for y in 0..image.width {
        for x in 0..image.width {
            let (mx, my) = ((x / px).wrapping_sub(quiet), (y / px).wrapping_sub(quiet));
            let dark =
                mx < modules && my < modules && colors[my * modules + mx] == qrcode::Color::Dark;
            let expected = if dark { 0 } else { 255 };
            assert_eq!(
                image.pixels[y * image.width + x],
                expected,
                "pixel ({x}, {y})"
            );
        }
    }
}

#[test]
fn error_correction_is_level_m() {
    assert_eq!(
        qr_code(SPEC_EXAMPLE).unwrap().error_correction_level(),
        qrcode::EcLevel::M
    );
}

#[test]
fn module_sizes_outside_1_to_40_pixels_are_refused() {
    for module_px in [0, MODULE_PX_MAX + 1] {
        let error = render_png(SPEC_EXAMPLE, Vec::new(), module_px).unwrap_err();
        assert_eq!(error.code(), "bad_module_size");
        assert!(matches!(error, RenderError::ModuleSize { .. }));
    }
    assert!(render_png(SPEC_EXAMPLE, Vec::new(), MODULE_PX_MAX).is_ok());
}

#[test]
fn empty_and_oversized_text_is_refused() {
    assert_eq!(
        render_png("", Vec::new(), 4).unwrap_err().code(),
        "text_empty"
    );
    let huge = "x".repeat(2049);
    assert_eq!(
        render_png(&huge, Vec::new(), 4).unwrap_err().code(),
        "text_too_long"
    );
}

#[test]
fn a_png_file_is_written_and_nothing_is_left_on_error() {
    let dir = std::env::temp_dir().join(format!("kanjo-qr-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sticker.png");
    let info = write_png_file(SPEC_EXAMPLE, &path, 4).unwrap();
    let image = decode_png(&std::fs::read(&path).unwrap());
    assert_eq!(image.width as u32, info.width_px);
    assert_eq!(read_qr(&image), vec![SPEC_EXAMPLE.to_owned()]);

    let refused = dir.join("refused.png");
    assert!(write_png_file(SPEC_EXAMPLE, &refused, 0).is_err());
    assert!(!refused.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
