//! `POST /practice/logo`: the owner uploads the practice's logo (or
//! removes it); the lobby TVs show it within seconds.
//!
//! What is uploaded is never what is stored. A PNG or JPEG of at most
//! [`MAX_UPLOAD`] is decoded under limits (pixels, memory), scaled to fit
//! [`SIDE`]×[`SIDE`], and re-encoded as a fresh PNG (nothing of the file
//! survives: no metadata, no location in a photo's EXIF, no trailing
//! bytes). That PNG is wrapped in a small SVG of our own making, because
//! the box's branding carries its logo as SVG (`Branding::logo_svg`) and
//! the TV page inlines it. An SVG upload is refused: an SVG is a document
//! that can carry scripts and links, and the TV would inline it.

use std::io::Cursor;
use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use cloud_sync::practice::Branding;
use image::{ImageFormat, ImageReader, Limits};

use super::practice;
use super::routes::{Access, Routes};
use super::session::{Refused, RequestFrom, SignedIn, busy, cross_site};
use crate::admin::AdminError;
use crate::api::AppState;
use crate::tenants::{self, TenantFields};

/// The largest file accepted.
pub const MAX_UPLOAD: usize = 1024 * 1024;
/// The request around it: the file, the CSRF token, the multipart framing.
const MAX_BODY: usize = MAX_UPLOAD + 16 * 1024;
/// The stored logo fits in this square (the TV shows it at 5% of its width).
pub const SIDE: u32 = 256;
/// A picture larger than this is refused before it is decoded.
const MAX_PIXELS_SIDE: u32 = 6000;

pub fn routes(r: Routes) -> Routes {
    r.post(
        "/practice/logo",
        Access::Owner,
        upload.layer(DefaultBodyLimit::max(MAX_BODY)),
    )
}

/// Why an upload was refused, as the owner is told.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogoRefused {
    #[error("Choose an image file first.")]
    Empty,
    #[error("The file is larger than 1 MB. Save it smaller and upload it again.")]
    TooLarge,
    #[error(
        "SVG files are not accepted (they can carry scripts the TV would run). Upload a PNG or JPEG."
    )]
    Svg,
    #[error("This is not a PNG or JPEG image. Upload a PNG or JPEG.")]
    NotAnImage,
    #[error(
        "The picture is larger than {MAX_PIXELS_SIDE} × {MAX_PIXELS_SIDE} pixels. Save it smaller."
    )]
    TooManyPixels,
    #[error("The image could not be read. Is the file damaged? Try saving it again.")]
    Unreadable,
}

/// The uploaded file as the logo the boxes get: checked, scaled and
/// re-encoded, wrapped in an SVG.
pub fn logo_svg(file: &[u8]) -> Result<String, LogoRefused> {
    if file.is_empty() {
        return Err(LogoRefused::Empty);
    }
    if file.len() > MAX_UPLOAD {
        return Err(LogoRefused::TooLarge);
    }
    let format = match image::guess_format(file) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        _ if looks_like_svg(file) => return Err(LogoRefused::Svg),
        _ => return Err(LogoRefused::NotAnImage),
    };
    let mut reader = ImageReader::with_format(Cursor::new(file), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PIXELS_SIDE);
    limits.max_image_height = Some(MAX_PIXELS_SIDE);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => LogoRefused::TooManyPixels,
        _ => LogoRefused::Unreadable,
    })?;
    let picture = if picture.width() > SIDE || picture.height() > SIDE {
        picture.thumbnail(SIDE, SIDE)
    } else {
        picture
    };
    let (w, h) = (picture.width(), picture.height());
    let mut png = Vec::new();
    picture
        .into_rgba8()
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|_| LogoRefused::Unreadable)?;
    let data = base64::engine::general_purpose::STANDARD.encode(&png);
    Ok(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="Logo"><image href="data:image/png;base64,{data}" width="{w}" height="{h}"/></svg>"#
    ))
}

fn looks_like_svg(file: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&file[..file.len().min(512)]).to_lowercase();
    head.contains("<svg") || head.trim_start().starts_with("<?xml")
}

/// The upload form's fields.
#[derive(Default)]
struct Sent {
    csrf: String,
    file: Vec<u8>,
    remove: bool,
}

async fn read(mut form: Multipart) -> Result<Sent, Refused> {
    let mut sent = Sent::default();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refused::BadForm(LogoRefused::TooLarge.to_string())
        } else {
            Refused::BadForm("the upload did not arrive whole".into())
        }
    };
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => sent.csrf = field.text().await.map_err(unreadable)?,
            Some("remove") => sent.remove = true,
            Some("logo") => sent.file = field.bytes().await.map_err(unreadable)?.to_vec(),
            _ => {}
        }
    }
    Ok(sent)
}

async fn upload(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    from: RequestFrom,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let result = async {
        let tenant = who.require_owner()?.to_string();
        if cross_site(&headers) {
            return Err(Refused::Stale);
        }
        let too_long = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .is_some_and(|n| n > MAX_BODY);
        if too_long {
            return Ok(practice::page_with_error(
                &state,
                &who,
                StatusCode::PAYLOAD_TOO_LARGE,
                LogoRefused::TooLarge.to_string(),
            )
            .await);
        }
        let form = form.map_err(|_| Refused::BadForm("the upload is not a file form".into()))?;
        let sent = read(form).await?;
        if !who.csrf_is(&sent.csrf) {
            return Err(Refused::Stale);
        }
        let logo = if sent.remove {
            String::new()
        } else {
            match logo_svg(&sent.file) {
                Ok(svg) => svg,
                Err(why) => {
                    let status = if why == LogoRefused::TooLarge {
                        StatusCode::PAYLOAD_TOO_LARGE
                    } else {
                        StatusCode::UNPROCESSABLE_ENTITY
                    };
                    return Ok(
                        practice::page_with_error(&state, &who, status, why.to_string()).await,
                    );
                }
            }
        };
        save(&state, &tenant, logo, &who.actor(), &from).await?;
        Ok(Redirect::to("/practice?saved=1").into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The new logo in the practice's branding, as a new config version.
async fn save(
    state: &AppState,
    tenant: &str,
    logo: String,
    actor: &str,
    from: &RequestFrom,
) -> Result<(), Refused> {
    let mut client = state.pool.get().await.map_err(busy)?;
    let tx = client.transaction().await.map_err(busy)?;
    let row = tx
        .query_one(
            "SELECT branding::text FROM tenants WHERE tenant_id = $1 FOR UPDATE",
            &[&tenant],
        )
        .await
        .map_err(busy)?;
    let text: String = row.try_get(0).map_err(busy)?;
    let mut branding: Branding = serde_json::from_str(&text).unwrap_or_default();
    branding.logo_svg = logo;
    let fields = TenantFields {
        branding: Some(serde_json::to_value(&branding).map_err(busy)?),
        ..Default::default()
    };
    match tenants::update(&*tx, tenant, fields, actor, Some(from)).await {
        Ok(_) => {}
        Err(AdminError::Invalid(why)) => return Err(Refused::BadForm(why)),
        Err(e) => return Err(busy(e)),
    }
    tx.commit().await.map_err(busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let picture = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut out), format)
            .unwrap();
        out
    }

    /// The PNG inside a stored logo, decoded.
    fn inner(svg: &str) -> image::DynamicImage {
        let b64 = svg
            .split("base64,")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        image::load_from_memory_with_format(&png, ImageFormat::Png).unwrap()
    }

    #[test]
    fn a_photo_becomes_a_small_fresh_png_in_an_svg() {
        let svg = logo_svg(&encoded(1000, 500, ImageFormat::Jpeg)).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 256 128\"")
        );
        let png = inner(&svg);
        assert_eq!((png.width(), png.height()), (256, 128));
        // A small PNG keeps its size.
        let small = logo_svg(&encoded(64, 32, ImageFormat::Png)).unwrap();
        assert_eq!((inner(&small).width(), inner(&small).height()), (64, 32));
    }

    #[test]
    fn what_is_not_a_png_or_jpeg_is_refused_plainly() {
        assert_eq!(logo_svg(b""), Err(LogoRefused::Empty));
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert_eq!(logo_svg(svg), Err(LogoRefused::Svg));
        assert_eq!(logo_svg(b"GIF89a......"), Err(LogoRefused::NotAnImage));
        assert_eq!(logo_svg(b"hello, world"), Err(LogoRefused::NotAnImage));
        let mut cut = encoded(300, 300, ImageFormat::Png);
        cut.truncate(cut.len() / 2);
        assert_eq!(logo_svg(&cut), Err(LogoRefused::Unreadable));
        assert_eq!(
            logo_svg(&vec![0x89; MAX_UPLOAD + 1]),
            Err(LogoRefused::TooLarge)
        );
    }

    #[test]
    fn a_picture_too_large_to_decode_is_refused_before_it_is() {
        // A narrow strip compresses to a few bytes but would be 7000 wide.
        let strip = encoded(7000, 1, ImageFormat::Png);
        assert!(strip.len() < MAX_UPLOAD);
        assert_eq!(logo_svg(&strip), Err(LogoRefused::TooManyPixels));
    }
}
