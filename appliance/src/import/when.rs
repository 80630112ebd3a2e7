//! Shared by CSV and ICS: dates of birth and appointment times as people
//! type them, with plain-language errors.

use jiff::civil::{Date, Time};

use super::*;

#[derive(Debug, PartialEq, Eq)]
pub(super) enum DateErr {
    /// Not shaped like any accepted date.
    Shape,
    /// Shaped like a date but no such day (Feb 31, month 13).
    NotReal { slashes: bool },
}

pub(super) fn digits(s: &str, min: usize, max: usize) -> Option<i32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD`, `M/D/YYYY` (US order), `YYYY/MM/DD` or `YYYYMMDD`.
pub(super) fn parse_date(s: &str) -> Result<Date, DateErr> {
    let s = s.trim();
    let (y, m, d, slashes) = if let Some(ymd) = digits(s, 8, 8) {
        (ymd / 10000, ymd / 100 % 100, ymd % 100, false)
    } else {
        let sep = if s.contains('/') { '/' } else { '-' };
        let parts: Vec<&str> = s.split(sep).map(str::trim).collect();
        let [a, b, c] = parts.as_slice() else {
            return Err(DateErr::Shape);
        };
        let a4 = digits(a, 4, 4);
        match (sep, a4) {
            (_, Some(y)) => (
                y,
                digits(b, 1, 2).ok_or(DateErr::Shape)?,
                digits(c, 1, 2).ok_or(DateErr::Shape)?,
                false,
            ),
            ('/', None) => (
                digits(c, 4, 4).ok_or(DateErr::Shape)?,
                digits(a, 1, 2).ok_or(DateErr::Shape)?,
                digits(b, 1, 2).ok_or(DateErr::Shape)?,
                true,
            ),
            _ => return Err(DateErr::Shape),
        }
    };
    // All three fit: y has at most 4 digits, m and d at most 2.
    let (Ok(y), Ok(m), Ok(d)) = (i16::try_from(y), i8::try_from(m), i8::try_from(d)) else {
        return Err(DateErr::NotReal { slashes });
    };
    Date::new(y, m, d).map_err(|_| DateErr::NotReal { slashes })
}

pub(super) fn date_message(field: &str, value: &str, err: &DateErr) -> String {
    match err {
        DateErr::Shape => {
            format!("{field} \"{value}\" is not a date; use YYYY-MM-DD or M/D/YYYY")
        }
        DateErr::NotReal { slashes: true } => format!(
            "{field} \"{value}\" is not a real date (dates with slashes are read as month/day/year)"
        ),
        DateErr::NotReal { slashes: false } => format!("{field} \"{value}\" is not a real date"),
    }
}

/// `14:30`, `14:30:00`, `2:30 PM`, `2:30pm`, `2 p.m.`; no AM/PM means a
/// 24-hour clock. A bare `14` is refused: too easy to be something else.
pub(super) fn parse_time(s: &str) -> Option<Time> {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .flat_map(char::to_lowercase)
        .collect();
    let (clock, pm) = if let Some(c) = compact.strip_suffix("pm") {
        (c, Some(true))
    } else if let Some(c) = compact.strip_suffix("am") {
        (c, Some(false))
    } else {
        (compact.as_str(), None)
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let (h, m, sec) = match (parts.as_slice(), pm) {
        ([h], Some(_)) => (digits(h, 1, 2)?, 0, 0),
        ([h, m], _) => (digits(h, 1, 2)?, digits(m, 2, 2)?, 0),
        ([h, m, s], _) => (digits(h, 1, 2)?, digits(m, 2, 2)?, digits(s, 2, 2)?),
        _ => return None,
    };
    let h = match pm {
        None => h,
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(false) => h % 12,
        Some(true) => h % 12 + 12,
    };
    Time::new(
        i8::try_from(h).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(sec).ok()?,
        0,
    )
    .ok()
}

/// A start cell: a time alone, or a date and a time separated by a space
/// or `T`.
pub(super) fn parse_start(s: &str) -> Result<(Option<Date>, Time), Option<DateErr>> {
    let s = s.trim();
    if let Some(t) = parse_time(s) {
        return Ok((None, t));
    }
    let split = match (s.get(..10), s.get(10..11), s.get(11..)) {
        (Some(d), Some("T" | "t"), Some(t)) => Some((d, t)),
        _ => s.split_once(char::is_whitespace),
    };
    let Some((d, t)) = split else {
        return Err(None);
    };
    let date = parse_date(d).map_err(|e| match e {
        DateErr::Shape => None,
        real => Some(real),
    })?;
    let time = parse_time(t).ok_or(None)?;
    Ok((Some(date), time))
}

pub(super) fn check_birth(field: &str, value: &str, dob: Date, day: Date) -> Result<(), String> {
    if dob.year() < MIN_BIRTH_YEAR {
        return Err(format!("{field} \"{value}\" is before {MIN_BIRTH_YEAR}"));
    }
    if dob > day {
        return Err(format!("{field} \"{value}\" is after the appointment date"));
    }
    Ok(())
}
