//! A complete demo clinic that needs no configuration: Bright Smile Dental,
//! two dentists, twenty of today's appointments spread over the day, a
//! staff PIN, and branding.

use crate::config::PracticeSeed;
use crate::import::ImportedAppointment;
use crate::store::{Branding, Settings};

pub const TENANT_ID: &str = "demo-bright-smile";
pub const DEFAULT_PIN: &str = "2468";

/// (first, last, date of birth, provider, kind, notes)
const ROSTER: [(&str, &str, &str, &str, &str, &str); 20] = [
    (
        "Sarah",
        "Jones",
        "1985-04-23",
        "Dr. Lee",
        "Cleaning",
        "Prefers the window chair",
    ),
    ("José", "Núñez", "1979-11-02", "Dr. Patel", "Filling", ""),
    (
        "Siobhán",
        "O'Brien",
        "1992-07-14",
        "Dr. Lee",
        "Check-up",
        "Nervous: explain each step",
    ),
    (
        "Mei",
        "Chen",
        "2015-03-30",
        "Dr. Patel",
        "Kids check-up",
        "Parent: Lin Chen",
    ),
    (
        "Oluwaseun",
        "Adeyemi",
        "1988-09-09",
        "Dr. Lee",
        "Crown fitting",
        "",
    ),
    ("Priya", "Patel", "1990-01-17", "Dr. Lee", "Cleaning", ""),
    (
        "Lars",
        "Øberg",
        "1966-12-05",
        "Dr. Patel",
        "Root canal, part 2",
        "Allergic to latex",
    ),
    ("Aisha", "Khan", "2001-06-21", "Dr. Lee", "Whitening", ""),
    ("Mateo", "García", "1983-02-11", "Dr. Patel", "Filling", ""),
    ("Hannah", "Schmidt", "1975-08-28", "Dr. Lee", "Check-up", ""),
    ("Kwame", "Mensah", "1997-04-04", "Dr. Patel", "Cleaning", ""),
    (
        "Yuki",
        "Tanaka",
        "1986-10-19",
        "Dr. Lee",
        "Implant consult",
        "Bring X-rays from previous dentist",
    ),
    (
        "Fatima",
        "Al-Sayed",
        "1994-05-07",
        "Dr. Patel",
        "Check-up",
        "",
    ),
    (
        "Liam",
        "Murphy",
        "2012-09-15",
        "Dr. Lee",
        "Kids check-up",
        "Parent: Aoife Murphy",
    ),
    ("Zoë", "Dubois", "1981-03-03", "Dr. Patel", "Cleaning", ""),
    (
        "Tomasz",
        "Kowalski",
        "1970-07-30",
        "Dr. Lee",
        "Extraction",
        "Arrange a ride home",
    ),
    ("Ana", "Silva", "1999-12-24", "Dr. Patel", "Filling", ""),
    ("Noah", "Williams", "1989-11-11", "Dr. Lee", "Cleaning", ""),
    (
        "Ingrid",
        "Larsen",
        "1958-01-08",
        "Dr. Patel",
        "Denture fitting",
        "",
    ),
    ("David", "Cohen", "1977-06-06", "Dr. Lee", "Check-up", ""),
];

const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="Bright Smile Dental"><circle cx="32" cy="32" r="30" fill="#f2a541"/><path d="M20 18c-6 0-9 6-7 14 2 7 3 16 7 16 3 0 3-8 6-8h12c3 0 3 8 6 8 4 0 5-9 7-16 2-8-1-14-7-14-4 0-6 2-12 2s-8-2-12-2z" fill="#fff"/></svg>"##;

/// The demo practice, in the practice's own (the machine's) time zone.
pub fn practice() -> PracticeSeed {
    let timezone = jiff::tz::TimeZone::system()
        .iana_name()
        .unwrap_or("UTC")
        .to_string();
    PracticeSeed {
        tenant_id: TENANT_ID.into(),
        name: "Bright Smile Dental".into(),
        vertical: "dental".into(),
        agent_name: None,
        agent_voice: None,
        plan: "pro".into(),
        branding: Branding {
            logo_svg: LOGO.into(),
            primary_color: "#0b6e99".into(),
            accent_color: "#f2a541".into(),
            background_color: "#0f2233".into(),
            text_color: "#ffffff".into(),
            messages: vec!["Free parking behind the building.".into()],
        },
        settings: Settings {
            timezone,
            ..Settings::default()
        },
    }
}

/// Today's twenty appointments, every 25 minutes from 8:00.
pub fn appointments(today: jiff::civil::Date) -> Vec<ImportedAppointment> {
    ROSTER
        .iter()
        .enumerate()
        .filter_map(|(i, (first, last, dob, provider, kind, notes))| {
            let minutes = 8 * 60 + 25 * i as i64;
            let starts_at = today
                .at(0, 0, 0, 0)
                .checked_add(jiff::Span::new().minutes(minutes))
                .ok()?;
            Some(ImportedAppointment {
                line: i + 1,
                external_id: Some(format!("demo-{today}-{i:02}")),
                first_name: (*first).into(),
                last_name: (*last).into(),
                date_of_birth: dob.parse().ok()?,
                starts_at,
                provider: (*provider).into(),
                kind: (*kind).into(),
                notes: (*notes).into(),
            })
        })
        .collect()
}

/// A few people a visitor can check in as, for the demo banner.
pub fn sample_people() -> Vec<(String, &'static str)> {
    ROSTER
        .iter()
        .take(3)
        .map(|(f, l, dob, ..)| (format!("{f} {l}"), *dob))
        .collect()
}
