//! The practice's printable check-in QR code: SVG, PNG and a poster page.
//!
//! Everything is rendered from the module matrix here (the `qrcode` crate
//! only encodes) so the output is exactly what we want for print: black on
//! white whatever the brand colour (phone cameras need the contrast), a
//! 4-module quiet zone (the minimum the standard asks for), whole pixels
//! per module (no blurry edges), and medium error correction (survives a
//! scuffed or glare-hit poster without making the code much denser).

use qrcode::{Color, EcLevel, QrCode};

/// Used when the practice's colour is missing, malformed or too light.
pub const DEFAULT_COLOR: &str = "#0b6e99";
/// Blank modules around the code, on every side.
pub const QUIET_ZONE: u32 = 4;
/// Smallest SVG side in pixels, so an `<img>` of it is scannable as is.
const MIN_SVG_PX: u32 = 256;
/// Largest PNG side: far beyond any print need, and bounds memory.
pub const MAX_PNG_PX: u32 = 8192;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the check-in URL is too long to fit in a QR code")]
    TooLong,
    #[error("the check-in URL is empty")]
    Empty,
    #[error("the QR code could not be made: {0}")]
    Encode(String),
    #[error("scale {scale} is out of range: the image must be 1 to {max} pixels wide")]
    BadScale { scale: u32, max: u32 },
    #[error("the PNG could not be written: {0}")]
    Png(#[from] png::EncodingError),
}

/// The encoded code: `width` x `width` modules, row by row, `true` = dark.
struct Matrix {
    width: u32,
    dark: Vec<bool>,
}

impl Matrix {
    /// Side in modules, quiet zone included.
    fn side(&self) -> u32 {
        self.width + 2 * QUIET_ZONE
    }

    fn rows(&self) -> impl Iterator<Item = &[bool]> {
        // `max(1)`: chunks(0) would panic; width is never 0 for a real code.
        self.dark
            .chunks(usize::try_from(self.width).unwrap_or(1).max(1))
    }
}

fn encode(url: &str) -> Result<Matrix, QrError> {
    // A trailing newline from a config file would silently change the URL.
    let url = url.trim();
    if url.is_empty() {
        return Err(QrError::Empty);
    }
    let code =
        QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).map_err(|e| match e {
            qrcode::types::QrError::DataTooLong => QrError::TooLong,
            other => QrError::Encode(other.to_string()),
        })?;
    let width = u32::try_from(code.width()).map_err(|_| QrError::TooLong)?;
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok(Matrix { width, dark })
}

/// SVG markup in module units (`viewBox`), dark runs merged per row to keep
/// the path short. `px`: fixed width/height, or none to size with CSS.
fn svg_markup(m: &Matrix, px: Option<u32>) -> String {
    let side = m.side();
    let size = px
        .map(|px| format!(r#" width="{px}" height="{px}""#))
        .unwrap_or_default();
    let mut path = String::new();
    for (y, row) in m.rows().enumerate() {
        let y = y as u32 + QUIET_ZONE;
        let mut x = 0usize;
        while x < row.len() {
            if !row.get(x).copied().unwrap_or(false) {
                x += 1;
                continue;
            }
            let start = x;
            while row.get(x).copied().unwrap_or(false) {
                x += 1;
            }
            let run = x - start;
            path.push_str(&format!(
                "M{} {}h{run}v1h-{run}z",
                start as u32 + QUIET_ZONE,
                y
            ));
        }
    }
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1"{size} viewBox="0 0 {side} {side}""#,
            r#" shape-rendering="crispEdges" role="img" aria-label="Check-in QR code">"#,
            r##"<rect width="{side}" height="{side}" fill="#ffffff"/>"##,
            r##"<path fill="#000000" d="{path}"/></svg>"##
        ),
        size = size,
        side = side,
        path = path
    )
}

/// A standalone SVG of the check-in QR code, at least 256 px square.
pub fn svg(url: &str) -> Result<String, QrError> {
    let m = encode(url)?;
    let side = m.side();
    // Whole pixels per module so a browser showing it 1:1 draws crisp edges.
    let per_module = MIN_SVG_PX.div_ceil(side).max(1);
    Ok(svg_markup(&m, Some(per_module * side)))
}

/// A grayscale PNG, each module `scale` x `scale` pixels, quiet zone
/// included: `(modules + 8) * scale` pixels square.
pub fn png(url: &str, scale: u32) -> Result<Vec<u8>, QrError> {
    let m = encode(url)?;
    let bad_scale = QrError::BadScale {
        scale,
        max: MAX_PNG_PX,
    };
    let side_px = match m.side().checked_mul(scale) {
        Some(px) if scale > 0 && px <= MAX_PNG_PX => px,
        _ => return Err(bad_scale),
    };
    let scale = scale as usize;
    let side = side_px as usize;
    let quiet = QUIET_ZONE as usize * scale;

    let mut pixels = Vec::with_capacity(side * side);
    let white_row = vec![255u8; side];
    for _ in 0..quiet {
        pixels.extend_from_slice(&white_row);
    }
    for row in m.rows() {
        let mut line = Vec::with_capacity(side);
        line.resize(quiet, 255u8);
        for &dark in row {
            line.resize(line.len() + scale, if dark { 0 } else { 255 });
        }
        line.resize(side, 255u8);
        for _ in 0..scale {
            pixels.extend_from_slice(&line);
        }
    }
    for _ in 0..quiet {
        pixels.extend_from_slice(&white_row);
    }

    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_px, side_px);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// What the printable poster says, in the practice's vertical's words.
#[derive(Debug, Clone, Copy)]
pub struct Poster<'a> {
    pub practice_name: &'a str,
    pub url: &'a str,
    /// "patient", "pet owner", "client".
    pub customer_word: &'a str,
    /// "appointment", "visit", "consultation".
    pub appointment_word: &'a str,
    /// `#rgb` or `#rrggbb`, e.g. "#0b6e99"; anything else uses the default.
    pub primary_color: &'a str,
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn parse_hex_color(s: &str) -> Option<[u8; 3]> {
    let hex = s.trim().strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize, len: usize| {
        let v = u8::from_str_radix(hex.get(i..i + len)?, 16).ok()?;
        Some(if len == 1 { v * 17 } else { v })
    };
    match hex.len() {
        3 => Some([channel(0, 1)?, channel(1, 1)?, channel(2, 1)?]),
        6 => Some([channel(0, 2)?, channel(2, 2)?, channel(4, 2)?]),
        _ => None,
    }
}

/// WCAG contrast ratio of a colour against white.
fn contrast_with_white([r, g, b]: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    1.05 / (l + 0.05)
}

/// The brand colour if it is a hex colour dark enough to read on white
/// paper and under white step numbers (3:1, the large-text minimum);
/// otherwise the default. Only a validated value ever reaches the CSS.
fn safe_color(s: &str) -> String {
    match parse_hex_color(s) {
        Some(rgb) if contrast_with_white(rgb) >= 3.0 => s.trim().to_ascii_lowercase(),
        _ => DEFAULT_COLOR.to_string(),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A complete, self-contained printable page (A4 or Letter) with the QR
/// code, three steps and the URL to type by hand.
pub fn poster_html(p: &Poster) -> Result<String, QrError> {
    let qr = svg_markup(&encode(p.url)?, None);
    let color = safe_color(p.primary_color);
    let practice = escape(&collapse(p.practice_name));
    let url = escape(p.url.trim());
    let customer = collapse(p.customer_word);
    let kicker = if customer.is_empty() {
        "Check-in".to_string()
    } else {
        escape(&format!("{} check-in", capitalize(&customer)))
    };
    let appointment = match collapse(p.appointment_word) {
        w if w.is_empty() => "appointment".to_string(),
        w => escape(&w),
    };
    let title = if practice.is_empty() {
        "Check in here".to_string()
    } else {
        format!("Check in here — {practice}")
    };

    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
@page {{ size: auto; margin: 12mm; }}
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; padding: 0; background: #ffffff; color: #1a1a1a; }}
body {{
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  -webkit-print-color-adjust: exact; print-color-adjust: exact;
}}
/* Fits the printable area of both A4 and Letter with 12 mm margins. */
.poster {{ width: 180mm; max-width: 100%; margin: 0 auto; padding: 4mm 0; text-align: center; break-inside: avoid; }}
.practice {{ font-size: 18pt; font-weight: 600; margin: 0 0 3mm; }}
.kicker {{ display: inline-block; margin: 0; padding: 1.5mm 4mm; border-radius: 2mm;
  background: {color}; color: #ffffff; font-size: 12pt; font-weight: 700; letter-spacing: .06em; text-transform: uppercase; }}
h1 {{ margin: 4mm 0 1mm; font-size: 46pt; line-height: 1.05; color: {color}; }}
.sub {{ margin: 0 0 5mm; font-size: 16pt; }}
.qr {{ width: 100mm; height: 100mm; margin: 0 auto; }}
.qr svg {{ display: block; width: 100%; height: 100%; }}
ol.steps {{ list-style: none; counter-reset: step; width: 150mm; max-width: 100%; margin: 7mm auto 0; padding: 0; text-align: left; }}
ol.steps li {{ counter-increment: step; display: flex; align-items: center; gap: 5mm; margin: 0 0 4mm; font-size: 19pt; }}
ol.steps li::before {{ content: counter(step); flex: none; display: flex; align-items: center; justify-content: center;
  width: 12mm; height: 12mm; border-radius: 50%; background: {color}; color: #ffffff; font-weight: 700; }}
.url {{ margin: 5mm 0 0; font-size: 10pt; color: #444444; }}
.url code {{ font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }}
</style>
</head>
<body>
<main class="poster">
<p class="practice">{practice}</p>
<p class="kicker">{kicker}</p>
<h1>Check in here</h1>
<p class="sub">Here for your {appointment} today? No app or account needed.</p>
<div class="qr">{qr}</div>
<ol class="steps">
<li>Scan with your phone&#39;s camera</li>
<li>Enter your name and date of birth</li>
<li>Take a seat — we&#39;ll call you</li>
</ol>
<p class="url">No camera? Type this address: <code>{url}</code></p>
</main>
</body>
</html>
"#
    ))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://sos-edge.local/c/3f9a2b7c?sig=Zm9vYmFy";

    fn modules(url: &str) -> u32 {
        encode(url).map(|m| m.width).expect("encodes")
    }

    fn decode_png(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png frame");
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    fn poster(url: &str) -> Poster<'_> {
        Poster {
            practice_name: "Smile Dental",
            url,
            customer_word: "patient",
            appointment_word: "appointment",
            primary_color: "#0b6e99",
        }
    }

    #[test]
    fn svg_is_standalone_and_at_least_256px() {
        let s = svg(URL).expect("svg");
        assert!(s.starts_with("<svg"), "{}", &s[..40]);
        assert!(s.contains("<rect") && s.contains("<path"));
        assert!(s.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
        assert!(s.ends_with("</svg>"));
        let side = modules(URL) + 2 * QUIET_ZONE;
        assert!(s.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
        let width: u32 = s
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|w| w.parse().ok())
            .expect("width attribute");
        assert!(width >= 256, "{width}");
        assert_eq!(width % side, 0, "whole pixels per module");
        // Dark on white; the quiet zone is the white background around the path.
        assert!(s.contains(r##"fill="#ffffff""##) && s.contains(r##"fill="#000000""##));
        assert!(
            s.contains(&format!("M{QUIET_ZONE} {QUIET_ZONE}h7")),
            "finder pattern at the quiet-zone offset"
        );
    }

    #[test]
    fn png_has_signature_and_expected_size() {
        for scale in [1, 4, 10] {
            let bytes = png(URL, scale).expect("png");
            assert!(bytes.starts_with(&[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n']));
            let (info, pixels) = decode_png(&bytes);
            let side = (modules(URL) + 8) * scale;
            assert_eq!((info.width, info.height), (side, side));
            assert_eq!(info.color_type, png::ColorType::Grayscale);
            assert_eq!(pixels.len(), (side * side) as usize);
            assert!(pixels.iter().all(|&p| p == 0 || p == 255));
            let at = |x: u32, y: u32| pixels[(y * side + x) as usize];
            let q = QUIET_ZONE * scale;
            // Quiet zone white, finder pattern's corner dark, on all sides.
            assert_eq!(at(q - 1, q - 1), 255);
            assert_eq!(at(q, q), 0);
            assert_eq!(at(side - q - 1, q), 0);
            assert_eq!(at(q, side - q - 1), 0);
            assert_eq!(at(side - q, side - q), 255);
            assert!(
                (0..side).all(|i| at(i, 0) == 255 && at(0, i) == 255 && at(side - 1, i) == 255)
            );
        }
    }

    #[test]
    fn png_rejects_bad_scales() {
        assert!(matches!(png(URL, 0), Err(QrError::BadScale { .. })));
        assert!(matches!(png(URL, 1000), Err(QrError::BadScale { .. })));
        assert!(matches!(png(URL, u32::MAX), Err(QrError::BadScale { .. })));
    }

    #[test]
    fn module_count_grows_with_url_length() {
        let short = modules("http://a.local/c");
        let medium = modules(&format!("http://a.local/c/{}", "x".repeat(100)));
        let long = modules(&format!("http://a.local/c/{}", "x".repeat(600)));
        assert!(short < medium && medium < long, "{short} {medium} {long}");
        assert_eq!((short - 17) % 4, 0, "a QR side is 17 + 4 * version");
    }

    #[test]
    fn empty_and_too_long_urls_fail() {
        assert!(matches!(svg("  \n"), Err(QrError::Empty)));
        assert!(matches!(svg(&"x".repeat(3000)), Err(QrError::TooLong)));
        assert!(matches!(png(&"x".repeat(3000), 4), Err(QrError::TooLong)));
        assert!(matches!(
            poster_html(&poster(&"x".repeat(3000))),
            Err(QrError::TooLong)
        ));
    }

    #[test]
    fn poster_is_complete_and_uses_the_vertical_words() {
        let html = poster_html(&Poster {
            practice_name: "Happy Paws Vet",
            url: URL,
            customer_word: "pet owner",
            appointment_word: "visit",
            primary_color: "#075",
        })
        .expect("poster");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        assert!(html.contains("<h1>Check in here</h1>"));
        assert!(html.contains("Pet owner check-in"));
        assert!(html.contains("your visit today"));
        assert!(html.contains("Happy Paws Vet"));
        assert!(html.contains(&format!("<code>{URL}</code>")));
        assert!(html.contains("<svg") && html.contains("<path"));
        for step in [
            "Scan with your phone&#39;s camera",
            "Enter your name and date of birth",
            "Take a seat — we&#39;ll call you",
        ] {
            assert!(html.contains(step), "{step}");
        }
        assert_eq!(html.matches("<li>").count(), 3);
        assert!(html.contains("background: #075;"));
        // Self-contained: nothing fetched when printed offline.
        for external in ["src=", "href=", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn poster_escapes_every_inserted_string() {
        let url = "http://x.local/c?a=1&b=\"2\"";
        let html = poster_html(&Poster {
            practice_name: "<script>alert('x')</script> & Co",
            url,
            customer_word: "<b>client</b>",
            appointment_word: "consult\"ation",
            primary_color: "#0b6e99",
        })
        .expect("poster");
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
        assert!(html.contains("http://x.local/c?a=1&amp;b=&quot;2&quot;"));
        assert!(html.contains("consult&quot;ation"));
    }

    #[test]
    fn bad_or_unreadable_colours_fall_back() {
        for bad in [
            "red",
            "#12345",
            "#ggg",
            "0b6e99",
            "#fff",
            "#ffff00",
            "#000; } body { display:none",
            "",
        ] {
            let html = poster_html(&Poster {
                primary_color: bad,
                ..poster(URL)
            })
            .expect("poster");
            assert!(
                html.contains(&format!("background: {DEFAULT_COLOR};")),
                "{bad}"
            );
            assert!(!html.contains("display:none"), "{bad}");
        }
        let html = poster_html(&Poster {
            primary_color: " #7B1FA2 ",
            ..poster(URL)
        })
        .expect("poster");
        assert!(html.contains("background: #7b1fa2;"));
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
