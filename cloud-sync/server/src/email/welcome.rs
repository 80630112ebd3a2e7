//! The welcome email: the link that sets the owner's password, the box's
//! provisioning token, and the three set-up steps. Its text is a template
//! (`assets/cloud/email/welcome.txt`), so changing the words needs no code.

use std::sync::OnceLock;

use minijinja::Environment;

const TEMPLATE: &str = include_str!("../../../../assets/cloud/email/welcome.txt");

/// What the email says, filled in when it is sent.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Welcome {
    pub practice: String,
    pub dashboard: String,
    pub password_link: String,
    pub link_expires: String,
    pub box_token: String,
    pub token_expires: String,
}

pub fn subject(w: &Welcome) -> String {
    format!("Welcome to SOS Edge: set up {}", w.practice)
}

pub fn body(w: &Welcome) -> Result<String, minijinja::Error> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Plain text: nothing to escape, and a practice name keeps its "&".
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_keep_trailing_newline(true);
        if let Err(e) = env.add_template("welcome.txt", TEMPLATE) {
            tracing::error!(error = %e, "the welcome email template does not parse");
        }
        env
    });
    env.get_template("welcome.txt")?.render(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_carries_the_link_the_token_and_the_three_steps() {
        let w = Welcome {
            practice: "Smith & Jones Dental".into(),
            dashboard: "https://cloud.example".into(),
            password_link: "https://cloud.example/password?token=sos_pw_abc".into(),
            link_expires: "2026-12-10 09:00 UTC".into(),
            box_token: "sos_prov_xyz".into(),
            token_expires: "2026-12-14 09:00 UTC".into(),
        };
        let text = body(&w).unwrap();
        for part in [
            "Smith & Jones Dental",
            "https://cloud.example/password?token=sos_pw_abc",
            "sos_prov_xyz",
            "1. Set your password",
            "2. Flash the card",
            "3. Scan the TV code",
        ] {
            assert!(text.contains(part), "{part} missing from:\n{text}");
        }
        assert_eq!(
            subject(&w),
            "Welcome to SOS Edge: set up Smith & Jones Dental"
        );
    }
}
