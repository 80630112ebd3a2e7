//! A practice's own settings and branding: what the owner sets on the
//! dashboard, what the cloud stores as JSON and what the box replicates and
//! uses. One definition and one check for both sides, so the cloud never
//! accepts what the box would not use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::verticals::Templates;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Branding {
    /// Inline SVG logo (served by the box; no external fetches from TVs).
    pub logo_svg: String,
    pub primary_color: String,
    pub accent_color: String,
    pub background_color: String,
    pub text_color: String,
    /// Extra idle-screen messages on top of the vertical's.
    pub messages: Vec<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            logo_svg: String::new(),
            primary_color: "#0b6e99".into(),
            accent_color: "#f2a541".into(),
            background_color: "#0f2233".into(),
            text_color: "#ffffff".into(),
            messages: Vec::new(),
        }
    }
}

/// How much of a name the lobby TV shows (its privacy mode).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum NameDisplay {
    /// "Sarah J."
    #[default]
    FirstLastInitial,
    /// "S. J."
    Initials,
    /// "Ticket 12"
    Ticket,
}

impl NameDisplay {
    pub const ALL: [NameDisplay; 3] = [
        NameDisplay::FirstLastInitial,
        NameDisplay::Initials,
        NameDisplay::Ticket,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NameDisplay::FirstLastInitial => "first_last_initial",
            NameDisplay::Initials => "initials",
            NameDisplay::Ticket => "ticket",
        }
    }

    pub fn parse(s: &str) -> Option<NameDisplay> {
        NameDisplay::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// What the lobby shows for a person: never more than first name and
    /// last initial.
    pub fn show(self, first: &str, last: &str, ticket: i64) -> String {
        let initial = |s: &str| {
            s.trim()
                .chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
        };
        match self {
            NameDisplay::FirstLastInitial => match initial(last) {
                Some(l) => format!("{} {l}.", first.trim()),
                None => first.trim().to_string(),
            },
            NameDisplay::Initials => {
                let f = initial(first).unwrap_or_default();
                match initial(last) {
                    Some(l) => format!("{f}. {l}."),
                    None => format!("{f}."),
                }
            }
            NameDisplay::Ticket => format!("Ticket {ticket}"),
        }
    }

    /// What the lobby hears a greeting call a person (`{first_name}` in the
    /// greeting templates): the first name where the lobby may see it,
    /// otherwise no more than the lobby sees ("S. J.", "Ticket 12"), so a
    /// spoken greeting never says more than the TV.
    pub fn greet(self, first: &str, last: &str, ticket: i64) -> String {
        match self {
            NameDisplay::FirstLastInitial => first.trim().to_string(),
            NameDisplay::Initials | NameDisplay::Ticket => self.show(first, last, ticket),
        }
    }
}

/// The owner's own words for what the lobby speakers say; `None` keeps the
/// vertical's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TemplateOverrides {
    pub welcome: Option<String>,
    pub welcome_walk_in: Option<String>,
    pub call: Option<String>,
}

impl TemplateOverrides {
    /// The vertical's templates with the owner's words in place.
    pub fn apply(&self, templates: &mut Templates) {
        for (own, slot) in [
            (&self.welcome, &mut templates.welcome),
            (&self.welcome_walk_in, &mut templates.welcome_walk_in),
            (&self.call, &mut templates.call),
        ] {
            if let Some(words) = own.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
                *slot = words.to_string();
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// IANA zone the practice's day is counted in.
    pub timezone: String,
    /// The street address, for the owner's records and printed posters.
    pub address: String,
    pub allow_walk_ins: bool,
    pub name_display: NameDisplay,
    pub rooms: Vec<String>,
    /// Lobby speaker volume 0-100; None: the box's own setting.
    pub voice_volume: Option<u8>,
    /// "22:00-07:00" in the practice's time; None: the box's own setting.
    pub quiet_hours: Option<String>,
    pub templates: TemplateOverrides,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timezone: "UTC".into(),
            address: String::new(),
            allow_walk_ins: true,
            name_display: NameDisplay::FirstLastInitial,
            rooms: (1..=4).map(|n| format!("Room {n}")).collect(),
            voice_volume: None,
            quiet_hours: None,
            templates: TemplateOverrides::default(),
        }
    }
}

/// The voices a box ships with (`scripts/fetch-voice.sh`): (id, how the
/// owner's page names it).
pub const VOICES: &[(&str, &str)] = &[("en_US-joe-medium", "Joe (US English)")];

/// A setting that cannot be used, named as the owner's form names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct Invalid {
    pub field: &'static str,
    pub why: String,
}

fn invalid(field: &'static str, why: impl Into<String>) -> Invalid {
    Invalid {
        field,
        why: why.into(),
    }
}

pub const MAX_ROOMS: usize = 30;
pub const MAX_ROOM_CHARS: usize = 40;
pub const MAX_ADDRESS_CHARS: usize = 200;
pub const MAX_TEMPLATE_CHARS: usize = 300;
pub const MAX_MESSAGES: usize = 6;
pub const MAX_MESSAGE_CHARS: usize = 140;

/// The words every template may use, and those each template adds.
pub const COMMON_PLACEHOLDERS: &[&str] = &[
    "practice",
    "agent",
    "customer",
    "appointment",
    "provider_word",
];
pub const GREETING_PLACEHOLDERS: &[&str] = &["first_name", "provider"];
pub const CALL_PLACEHOLDERS: &[&str] = &["display_name", "room"];

/// Fills `{name}` placeholders; unknown placeholders are left as they are.
pub fn fill(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if values.contains_key(&after[..close]) => {
                out.push_str(&values[&after[..close]]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A template the owner typed: not too long, and every `{word}` one the box
/// fills in (a typo would otherwise be spoken as is).
pub fn check_template(field: &'static str, text: &str, extra: &[&str]) -> Result<(), Invalid> {
    if text.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(invalid(
            field,
            format!("at most {MAX_TEMPLATE_CHARS} characters"),
        ));
    }
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(invalid(field, "a \"}\" without its \"{\""));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(invalid(field, "a \"{\" without its \"}\""));
        };
        let word = &after[..close];
        if !COMMON_PLACEHOLDERS.contains(&word) && !extra.contains(&word) {
            let known: Vec<String> = COMMON_PLACEHOLDERS
                .iter()
                .chain(extra)
                .map(|w| format!("{{{w}}}"))
                .collect();
            return Err(invalid(
                field,
                format!("{{{word}}} is not filled in here; use {}", known.join(", ")),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// "HH:MM-HH:MM", two different times of day.
fn check_quiet_hours(text: &str) -> Result<(), Invalid> {
    let time = |t: &str| -> Option<(u8, u8)> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60 && t.trim().len() == 5).then_some((h, m))
    };
    let why = "write quiet hours as two times, like 22:00-07:00";
    let (from, to) = text
        .split_once('-')
        .ok_or_else(|| invalid("quiet_hours", why))?;
    match (time(from), time(to)) {
        (Some(a), Some(b)) if a != b => Ok(()),
        (Some(_), Some(_)) => Err(invalid("quiet_hours", "the two times are the same")),
        _ => Err(invalid("quiet_hours", why)),
    }
}

impl Settings {
    /// Whether the box can use these settings. `is_zone` says whether a
    /// name is an IANA time zone (the caller's time-zone database).
    pub fn check(&self, is_zone: impl Fn(&str) -> bool) -> Result<(), Invalid> {
        if !is_zone(&self.timezone) {
            return Err(invalid(
                "timezone",
                format!(
                    "\"{}\" is not a time zone; use a name like Europe/London or America/New_York",
                    self.timezone
                ),
            ));
        }
        if self.address.chars().count() > MAX_ADDRESS_CHARS {
            return Err(invalid(
                "address",
                format!("at most {MAX_ADDRESS_CHARS} characters"),
            ));
        }
        if self.rooms.is_empty() {
            return Err(invalid("rooms", "name at least one room"));
        }
        if self.rooms.len() > MAX_ROOMS {
            return Err(invalid("rooms", format!("at most {MAX_ROOMS} rooms")));
        }
        for (i, room) in self.rooms.iter().enumerate() {
            let n = room.trim().chars().count();
            if n == 0 || n > MAX_ROOM_CHARS {
                return Err(invalid(
                    "rooms",
                    format!("each room's name has 1 to {MAX_ROOM_CHARS} characters"),
                ));
            }
            if self.rooms[..i]
                .iter()
                .any(|r| r.trim().eq_ignore_ascii_case(room.trim()))
            {
                return Err(invalid(
                    "rooms",
                    format!("\"{}\" is named twice", room.trim()),
                ));
            }
        }
        if self.voice_volume.is_some_and(|v| v > 100) {
            return Err(invalid("voice_volume", "a volume is 0 to 100"));
        }
        if let Some(q) = &self.quiet_hours {
            check_quiet_hours(q)?;
        }
        let t = &self.templates;
        for (field, text, extra) in [
            ("welcome", &t.welcome, GREETING_PLACEHOLDERS),
            ("welcome_walk_in", &t.welcome_walk_in, GREETING_PLACEHOLDERS),
            ("call", &t.call, CALL_PLACEHOLDERS),
        ] {
            if let Some(text) = text {
                check_template(field, text, extra)?;
            }
        }
        Ok(())
    }
}

/// "#0b6e99": what the box's pages put in their CSS.
fn is_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// The largest logo a config carries (an SVG wrapping a 256×256 PNG).
pub const MAX_LOGO_SVG_BYTES: usize = 512 * 1024;

impl Branding {
    pub fn check(&self) -> Result<(), Invalid> {
        for (field, colour) in [
            ("primary_color", &self.primary_color),
            ("accent_color", &self.accent_color),
            ("background_color", &self.background_color),
            ("text_color", &self.text_color),
        ] {
            if !is_colour(colour) {
                return Err(invalid(field, "a colour is written like #0b6e99"));
            }
        }
        // The cloud's re-encoded upload is well under this; anything larger
        // was not made by it, and every config carries the logo.
        if self.logo_svg.len() > MAX_LOGO_SVG_BYTES {
            return Err(invalid("logo_svg", "a logo is at most 512 KB"));
        }
        if self.messages.len() > MAX_MESSAGES {
            return Err(invalid(
                "messages",
                format!("at most {MAX_MESSAGES} messages"),
            ));
        }
        for m in &self.messages {
            let n = m.trim().chars().count();
            if n == 0 || n > MAX_MESSAGE_CHARS {
                return Err(invalid(
                    "messages",
                    format!("each message has 1 to {MAX_MESSAGE_CHARS} characters"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(z: &str) -> bool {
        ["UTC", "Europe/London"].contains(&z)
    }

    #[test]
    fn the_defaults_pass_their_own_check() {
        assert_eq!(Settings::default().check(zones), Ok(()));
        assert_eq!(Branding::default().check(), Ok(()));
    }

    #[test]
    fn settings_the_box_cannot_use_are_named() {
        let field = |s: Settings| s.check(zones).unwrap_err().field;
        let with = |f: fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            s
        };
        assert_eq!(field(with(|s| s.timezone = "Mars/Base".into())), "timezone");
        assert_eq!(field(with(|s| s.rooms.clear())), "rooms");
        assert_eq!(field(with(|s| s.rooms.push("room 1".into()))), "rooms");
        assert_eq!(
            field(with(|s| s.quiet_hours = Some("22-07".into()))),
            "quiet_hours"
        );
        assert_eq!(
            field(with(|s| s.quiet_hours = Some("25:00-07:00".into()))),
            "quiet_hours"
        );
        assert_eq!(field(with(|s| s.voice_volume = Some(101))), "voice_volume");
        assert_eq!(
            field(with(
                |s| s.templates.call = Some("{first_name}, room {room}".into())
            )),
            "call"
        );
        let ok = with(|s| {
            s.quiet_hours = Some("22:00-07:00".into());
            s.templates.welcome = Some("Hello {first_name}, welcome to {practice}!".into());
        });
        assert_eq!(ok.check(zones), Ok(()));
    }

    #[test]
    fn a_template_typo_says_which_words_work() {
        let e = check_template("welcome", "Hi {firstname}", GREETING_PLACEHOLDERS).unwrap_err();
        assert!(e.why.contains("{firstname}") && e.why.contains("{first_name}"));
        assert!(check_template("welcome", "Hi {first_name", GREETING_PLACEHOLDERS).is_err());
        assert!(check_template("welcome", "Hi first_name}", GREETING_PLACEHOLDERS).is_err());
    }

    #[test]
    fn overrides_replace_only_what_the_owner_wrote() {
        let mut t = Templates {
            welcome: "v-welcome".into(),
            welcome_walk_in: "v-walk-in".into(),
            call: "v-call".into(),
            checked_in: String::new(),
            ready: String::new(),
            no_match: String::new(),
            idle_messages: Vec::new(),
        };
        TemplateOverrides {
            welcome: Some("Hello {first_name}".into()),
            welcome_walk_in: Some("  ".into()),
            call: None,
        }
        .apply(&mut t);
        assert_eq!(
            (
                t.welcome.as_str(),
                t.welcome_walk_in.as_str(),
                t.call.as_str()
            ),
            ("Hello {first_name}", "v-walk-in", "v-call")
        );
    }

    #[test]
    fn colours_and_names() {
        let b = Branding {
            accent_color: "red".into(),
            ..Branding::default()
        };
        assert_eq!(b.check().unwrap_err().field, "accent_color");
        assert_eq!(NameDisplay::Initials.show("sarah", "jones", 3), "S. J.");
        assert_eq!(
            NameDisplay::FirstLastInitial.show("Sarah", "jones", 3),
            "Sarah J."
        );
        assert_eq!(NameDisplay::parse("ticket"), Some(NameDisplay::Ticket));
    }
}
