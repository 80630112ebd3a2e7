//! The demo practice, Bright Smile Dental: one definition for the box's
//! `sos-appliance demo` (on its own) and the cloud's `sos-cloud demo` (the
//! whole system, `scripts/demo.sh --with-cloud`), so both show the same
//! clinic: two dentists, twenty of today's appointments, a staff PIN and
//! branding.

use crate::practice::Branding;

pub const PRACTICE_NAME: &str = "Bright Smile Dental";
pub const VERTICAL: &str = "dental";
pub const PLAN: &str = "pro";
/// The front desk's PIN in the demo (staff id `desk`).
pub const STAFF_PIN: &str = "2468";

/// (first, last, date of birth, provider, kind, notes)
pub const ROSTER: [(&str, &str, &str, &str, &str, &str); 20] = [
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

/// The `i`-th appointment's time of day, in minutes after midnight:
/// every 25 minutes from 8:00.
pub fn minutes_of_day(i: usize) -> i64 {
    8 * 60 + 25 * i as i64
}

pub const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="Bright Smile Dental"><circle cx="32" cy="32" r="30" fill="#f2a541"/><path d="M20 18c-6 0-9 6-7 14 2 7 3 16 7 16 3 0 3-8 6-8h12c3 0 3 8 6 8 4 0 5-9 7-16 2-8-1-14-7-14-4 0-6 2-12 2s-8-2-12-2z" fill="#fff"/></svg>"##;

pub fn branding() -> Branding {
    Branding {
        logo_svg: LOGO.into(),
        primary_color: "#0b6e99".into(),
        accent_color: "#f2a541".into(),
        background_color: "#0f2233".into(),
        text_color: "#ffffff".into(),
        messages: vec!["Free parking behind the building.".into()],
    }
}

/// A few people a visitor can check in as, for the demo's banner.
pub fn sample_people() -> Vec<(String, &'static str)> {
    ROSTER
        .iter()
        .take(3)
        .map(|(f, l, dob, ..)| (format!("{f} {l}"), *dob))
        .collect()
}
