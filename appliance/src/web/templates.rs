//! Server-rendered pages (minijinja, auto-escaped). Templates live in
//! `assets/web/templates/` and are compiled into the binary so the box needs
//! nothing beside it to serve every page.

use std::sync::OnceLock;

use minijinja::Environment;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../assets/web/templates/base.html"),
    ),
    (
        "error.html",
        include_str!("../../../assets/web/templates/error.html"),
    ),
    (
        "checkin.html",
        include_str!("../../../assets/web/templates/checkin.html"),
    ),
    (
        "checkin_result.html",
        include_str!("../../../assets/web/templates/checkin_result.html"),
    ),
    (
        "status.html",
        include_str!("../../../assets/web/templates/status.html"),
    ),
    (
        "tv.html",
        include_str!("../../../assets/web/templates/tv.html"),
    ),
    (
        "desk.html",
        include_str!("../../../assets/web/templates/desk.html"),
    ),
    (
        "login.html",
        include_str!("../../../assets/web/templates/login.html"),
    ),
    (
        "pair.html",
        include_str!("../../../assets/web/templates/pair.html"),
    ),
    (
        "kiosk.html",
        include_str!("../../../assets/web/templates/kiosk.html"),
    ),
    (
        "home.html",
        include_str!("../../../assets/web/templates/home.html"),
    ),
    (
        "cast_panel.html",
        include_str!("../../../assets/web/templates/cast_panel.html"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in TEMPLATES {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

pub fn render(name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
    env().get_template(name)?.render(ctx).inspect_err(|e| {
        tracing::error!(template = name, error = %e, "page failed to render");
    })
}

/// Static files (CSS, JS) served under `/assets/`.
pub fn static_file(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "style.css" => (
            "text/css; charset=utf-8",
            include_str!("../../../assets/web/static/style.css"),
        ),
        "tv.js" => (
            "text/javascript; charset=utf-8",
            include_str!("../../../assets/web/static/tv.js"),
        ),
        "desk.js" => (
            "text/javascript; charset=utf-8",
            include_str!("../../../assets/web/static/desk.js"),
        ),
        "status.js" => (
            "text/javascript; charset=utf-8",
            include_str!("../../../assets/web/static/status.js"),
        ),
        "kiosk.js" => (
            "text/javascript; charset=utf-8",
            include_str!("../../../assets/web/static/kiosk.js"),
        ),
        "cast.js" => (
            "text/javascript; charset=utf-8",
            include_str!("../../../assets/web/static/cast.js"),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        let env = super::env();
        for (name, _) in super::TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name} does not compile");
        }
    }
}
