//! A miniature of the lobby TV in the practice's colours, as an SVG
//! `data:` image: the page's CSP allows no inline style, and an image
//! carries its own colours. The layout follows the box's `/tv` page: the
//! practice's bar, who is checked in, a call to a room, an idle message.

use cloud_sync::practice::Branding;

/// What the miniature shows.
pub struct Scene<'a> {
    pub practice: &'a str,
    pub branding: &'a Branding,
    /// Lobby names as the privacy mode shows them.
    pub waiting: &'a [String],
    /// "Sarah J., please come to Room 1."
    pub call: &'a str,
    pub idle: &'a str,
}

/// Text for SVG: XML forbids control characters, and the rest is escaped
/// as the pages escape it (minijinja's HTML escaping is valid XML too).
fn esc(s: &str) -> String {
    let text: String = s.chars().filter(|c| !c.is_control()).collect();
    minijinja::HtmlEscape(&text).to_string()
}

/// At most `n` characters, with an ellipsis when cut (the TV wraps; the
/// miniature does not).
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Words in lines of at most `width` characters, at most `lines` of them
/// (the last cut with an ellipsis).
fn wrap(s: &str, width: usize, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut words = s.split_whitespace().peekable();
    while let Some(word) = words.next() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            if out.len() + 1 == lines {
                line.push(' ');
                line.push_str(word);
                for w in words.by_ref() {
                    line.push(' ');
                    line.push_str(w);
                }
                break;
            }
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out.into_iter().map(|l| cut(&l, width)).collect()
}

/// The miniature as SVG text (the colours are checked `#rrggbb` values).
pub fn svg(scene: &Scene) -> String {
    let b = scene.branding;
    let (bg, fg, primary, accent) = (
        &b.background_color,
        &b.text_color,
        &b.primary_color,
        &b.accent_color,
    );
    let mut rows = String::new();
    for (i, name) in scene.waiting.iter().take(4).enumerate() {
        let y = 96 + i as i32 * 26;
        rows.push_str(&format!(
            r#"<rect x="24" y="{}" width="250" height="22" rx="4" fill="{fg}" fill-opacity="0.1"/><text x="34" y="{}" font-size="13" fill="{fg}">{}</text>"#,
            y - 16,
            y,
            esc(&cut(name, 30))
        ));
    }
    // The logo as the TV's bar shows it, left of the name (its SVG is the
    // cloud's own re-encoding, see `super::logo`).
    let (logo, name_x) = if b.logo_svg.is_empty() {
        (String::new(), 24)
    } else {
        (
            format!(
                r#"<image x="16" y="8" width="36" height="36" href="{}"/>"#,
                super::svg_data_uri(&b.logo_svg)
            ),
            62,
        )
    };
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 360" width="640" height="360" font-family="sans-serif" role="img"><title>The lobby TV with these settings</title><rect width="640" height="360" fill="{bg}"/><rect width="640" height="52" fill="{primary}"/>{logo}<text x="{name_x}" y="34" font-size="22" font-weight="bold" fill="{fg}">{practice}</text><text x="24" y="74" font-size="12" fill="{fg}" fill-opacity="0.8">CHECKED IN</text>{rows}<rect x="300" y="80" width="316" height="110" rx="8" fill="{accent}"/><text x="316" y="108" font-size="12" fill="{bg}">NOW CALLING</text>{call}<rect y="316" width="640" height="44" fill="{primary}" fill-opacity="0.6"/><text x="24" y="344" font-size="14" fill="{fg}">{idle}</text></svg>"##,
        practice = esc(&cut(scene.practice, 44)),
        call = wrap(scene.call, 28, 2)
            .iter()
            .enumerate()
            .map(|(i, l)| format!(
                r#"<text x="316" y="{}" font-size="17" font-weight="bold" fill="{bg}">{}</text>"#,
                140 + i * 24,
                esc(l)
            ))
            .collect::<String>(),
        idle = esc(&cut(scene.idle, 72)),
    )
}

/// The miniature as an `<img src>`.
pub fn data_uri(scene: &Scene) -> String {
    super::svg_data_uri(&svg(scene))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_wrap_onto_two_lines() {
        assert_eq!(
            wrap("Sarah J., please come to Room 1.", 28, 2),
            ["Sarah J., please come to", "Room 1."]
        );
        let two = wrap("one two three four five six seven eight nine ten", 10, 2);
        assert_eq!(two.len(), 2);
        assert!(two[1].ends_with('…'), "{two:?}");
    }

    #[test]
    fn the_miniature_uses_the_colours_and_escapes_the_words() {
        let branding = Branding {
            primary_color: "#112233".into(),
            ..Branding::default()
        };
        let waiting = vec!["Sarah J.".to_string()];
        let s = svg(&Scene {
            practice: "Smith & <Jones>",
            branding: &branding,
            waiting: &waiting,
            call: "Sarah J., please come to Room 1.",
            idle: "Welcome",
        });
        assert!(s.contains("fill=\"#112233\""));
        assert!(s.contains("Smith &amp; &lt;Jones&gt;"));
        assert!(!s.contains("<Jones>"));
        assert!(
            data_uri(&Scene {
                practice: "x",
                branding: &branding,
                waiting: &waiting,
                call: "",
                idle: ""
            })
            .starts_with("data:image/svg+xml;base64,")
        );
    }
}
