//! What each email says. The words are templates
//! (`assets/cloud/email/<kind>.txt`), so changing them needs no code:
//!
//! * welcome: the link that sets the owner's password, the box's
//!   provisioning token, and the three set-up steps;
//! * reset: a link that sets a new password;
//! * invite: a staff member's link to set a password and sign in.

use std::sync::OnceLock;

use minijinja::Environment;

use super::Kind;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "welcome",
        include_str!("../../../../assets/cloud/email/welcome.txt"),
    ),
    (
        "reset",
        include_str!("../../../../assets/cloud/email/reset.txt"),
    ),
    (
        "invite",
        include_str!("../../../../assets/cloud/email/invite.txt"),
    ),
];

/// What an email says, filled in when it is sent.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Letter {
    pub practice: String,
    pub dashboard: String,
    /// The address the email goes to (an invitation names it).
    pub to: String,
    pub password_link: String,
    pub link_expires: String,
    /// The welcome email's box token.
    pub box_token: Option<String>,
    pub token_expires: Option<String>,
}

pub fn subject(kind: Kind, l: &Letter) -> String {
    match kind {
        Kind::Welcome => format!("Welcome to SOS Edge: set up {}", l.practice),
        Kind::Reset => "Set a new SOS Edge password".to_string(),
        Kind::Invite => format!("You are invited to {}'s SOS Edge dashboard", l.practice),
    }
}

pub fn body(kind: Kind, l: &Letter) -> Result<String, minijinja::Error> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Plain text: nothing to escape, and a practice name keeps its "&".
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_keep_trailing_newline(true);
        for (name, text) in TEMPLATES {
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(template = name, error = %e, "an email template does not parse");
            }
        }
        env
    });
    env.get_template(kind.as_str())?.render(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> Letter {
        Letter {
            practice: "Smith & Jones Dental".into(),
            dashboard: "https://cloud.example".into(),
            to: "sam@clinic.example".into(),
            password_link: "https://cloud.example/password?token=sos_pw_abc".into(),
            link_expires: "2026-12-10 09:00 UTC".into(),
            box_token: Some("sos_prov_xyz".into()),
            token_expires: Some("2026-12-14 09:00 UTC".into()),
        }
    }

    #[test]
    fn the_welcome_email_carries_the_link_the_token_and_the_three_steps() {
        let text = body(Kind::Welcome, &letter()).unwrap();
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
            subject(Kind::Welcome, &letter()),
            "Welcome to SOS Edge: set up Smith & Jones Dental"
        );
    }

    #[test]
    fn a_reset_and_an_invitation_carry_their_link_and_no_box_token() {
        for kind in [Kind::Reset, Kind::Invite] {
            let text = body(kind, &letter()).unwrap();
            assert!(text.contains("password?token=sos_pw_abc"), "{text}");
            assert!(text.contains("2026-12-10 09:00 UTC"), "{text}");
            assert!(!text.contains("sos_prov_xyz"), "{text}");
        }
        let invite = body(Kind::Invite, &letter()).unwrap();
        assert!(invite.contains("Smith & Jones Dental") && invite.contains("sam@clinic.example"));
    }
}
