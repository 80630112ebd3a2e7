//! iCalendar (`.ics`) calendars: one appointment per `VEVENT`, the patient
//! and details read from the summary, description and our X- properties.

use std::collections::HashMap;

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;

use super::*;

// A small reader of our own rather than the `ical` crate: that crate trims
// whitespace at fold boundaries ("Siobhán \r\n O'Brien" would become one word),
// cannot give event line numbers for reports, and stops at a multi-byte
// character split by a fold.

#[derive(Debug)]
pub(super) struct Prop {
    name: String,
    params: Vec<(String, Vec<String>)>,
    value: String,
}

impl Prop {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

#[derive(Debug)]
pub(super) struct RawEvent {
    line: usize,
    props: Vec<Prop>,
}

impl RawEvent {
    fn get(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }

    /// A TEXT property, unescaped and trimmed; absent or blank is `None`.
    fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|p| unescape_text(&p.value).trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

/// Undoes RFC 5545 folding (CRLF or LF followed by one space or tab) on
/// bytes, so a fold inside a multi-byte character is harmless. Returns
/// logical lines with the 1-based number of their first physical line.
pub(super) fn unfold(bytes: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, phys) in bytes.split(|&b| b == b'\n').enumerate() {
        let phys = phys.strip_suffix(b"\r").unwrap_or(phys);
        match (phys.split_first(), out.last_mut()) {
            (Some((b' ' | b'\t', rest)), Some(last)) => last.1.extend_from_slice(rest),
            (None, _) => {}
            _ => out.push((i + 1, phys.to_vec())),
        }
    }
    out
}

/// `NAME;P1=a,b;P2="x:y":value`; `None` for a malformed line.
pub(super) fn parse_content_line(line: &str) -> Option<Prop> {
    let end = line.find([';', ':'])?;
    let name = line.get(..end)?.trim().to_ascii_uppercase();
    if name.is_empty() {
        return None;
    }
    let mut rest = line.get(end..)?;
    let mut params = Vec::new();
    while let Some(after) = rest.strip_prefix(';') {
        let (pname, mut vals) = after.split_once('=')?;
        let mut values = Vec::new();
        loop {
            if let Some(quoted) = vals.strip_prefix('"') {
                let (v, after_quote) = quoted.split_once('"')?;
                values.push(v.to_string());
                vals = after_quote;
            } else {
                let stop = vals.find([',', ';', ':'])?;
                values.push(vals.get(..stop)?.to_string());
                vals = vals.get(stop..)?;
            }
            match vals.strip_prefix(',') {
                Some(more) => vals = more,
                None => break,
            }
        }
        params.push((pname.trim().to_ascii_uppercase(), values));
        rest = vals;
    }
    let value = rest.strip_prefix(':')?;
    Some(Prop {
        name,
        params,
        value: value.to_string(),
    })
}

pub(super) fn unescape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

pub(super) fn ics_import(bytes: &[u8], tz: &TimeZone) -> Result<ImportReport, ImportError> {
    let lines = unfold(bytes);
    let is_begin_calendar = lines
        .iter()
        .find(|(_, l)| !l.trim_ascii().is_empty())
        .is_some_and(|(_, l)| l.trim_ascii().eq_ignore_ascii_case(b"BEGIN:VCALENDAR"));
    if !is_begin_calendar {
        return Err(ImportError::NotIcs);
    }

    let mut report = ImportReport::default();
    let mut stack: Vec<String> = Vec::new();
    // The open event and the stack depth at which it was opened, so a
    // nested component's END does not close it.
    let mut current: Option<(RawEvent, usize)> = None;
    let mut events = Vec::new();
    for (line, raw) in &lines {
        let text = decode_str(raw);
        let Some(prop) = parse_content_line(&text) else {
            continue;
        };
        match prop.name.as_str() {
            "BEGIN" => {
                let component = prop.value.trim().to_ascii_uppercase();
                stack.push(component);
                if current.is_none() && stack.last().is_some_and(|c| c == "VEVENT") {
                    current = Some((
                        RawEvent {
                            line: *line,
                            props: Vec::new(),
                        },
                        stack.len(),
                    ));
                }
            }
            "END" => {
                if let Some((event, depth)) = current.take() {
                    if depth == stack.len() {
                        events.push(event);
                    } else {
                        current = Some((event, depth));
                    }
                }
                stack.pop();
            }
            _ => {
                if let Some((event, depth)) = current.as_mut()
                    && *depth == stack.len()
                {
                    event.props.push(prop);
                }
            }
        }
    }
    if let Some((event, _)) = current {
        report.errors.push(RowError {
            line: event.line,
            field: Some("VEVENT".to_string()),
            message: "this event is not closed with END:VEVENT (the file may be cut short)"
                .to_string(),
        });
    }

    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    for event in &events {
        match ics_event(event, tz) {
            Ok(None) => {}
            Ok(Some(appt)) => match appt.external_id.as_ref().and_then(|id| seen_ids.get(id)) {
                Some(&first) => report.errors.push(RowError {
                    line: appt.line,
                    field: Some("UID".to_string()),
                    message: format!(
                        "UID \"{}\" is also used by the event on line {first}",
                        appt.external_id.as_deref().unwrap_or_default()
                    ),
                }),
                None => {
                    if let Some(id) = &appt.external_id {
                        seen_ids.insert(id.clone(), appt.line);
                    }
                    report.rows.push(appt);
                }
            },
            Err(mut errs) => report.errors.append(&mut errs),
        }
    }
    Ok(report)
}

/// `20250314T143000`, `20250314T1430` or with a trailing `Z` (UTC).
pub(super) fn parse_ics_datetime(s: &str) -> Option<(DateTime, bool)> {
    let s = s.trim();
    let (s, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let (d, t) = s.split_once(['T', 't'])?;
    let date = parse_date(d).ok().filter(|_| d.len() == 8)?;
    let (h, m, sec) = match t.len() {
        6 => (t.get(0..2)?, t.get(2..4)?, t.get(4..6)?),
        4 => (t.get(0..2)?, t.get(2..4)?, "00"),
        _ => return None,
    };
    let time = Time::new(
        i8::try_from(digits(h, 2, 2)?).ok()?,
        i8::try_from(digits(m, 2, 2)?).ok()?,
        i8::try_from(digits(sec, 2, 2)?).ok()?,
        0,
    )
    .ok()?;
    Some((date.to_datetime(time), utc))
}

/// "First Last - Type", "Last, First - Type", "First Middle Last".
pub(super) fn split_summary(summary: &str) -> (&str, &str) {
    let seps = [" - ", " – ", " — "];
    let cut = seps
        .iter()
        .filter_map(|sep| summary.find(sep).map(|i| (i, sep.len())))
        .min_by_key(|(i, _)| *i);
    match cut {
        Some((i, len)) => (
            summary.get(..i).unwrap_or(summary).trim(),
            summary.get(i + len..).unwrap_or_default().trim(),
        ),
        None => (summary.trim(), ""),
    }
}

pub(super) fn split_name(who: &str) -> Option<(String, String)> {
    if let Some((last, first)) = who.split_once(',') {
        let (first, last) = (first.trim(), last.trim());
        return (!first.is_empty() && !last.is_empty())
            .then(|| (first.to_string(), last.to_string()));
    }
    let words: Vec<&str> = who.split_whitespace().collect();
    let (last, first) = words.split_last()?;
    (!first.is_empty()).then(|| (first.join(" "), (*last).to_string()))
}

/// DTSTART as the practice's wall-clock time; an all-day event has none.
fn start_of(ev: &RawEvent, tz: &TimeZone) -> Result<DateTime, String> {
    let Some(p) = ev.get("DTSTART") else {
        return Err("the event has no start time (DTSTART)".to_string());
    };
    let raw = p.value.trim();
    let all_day = p
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || (raw.len() == 8 && raw.bytes().all(|b| b.is_ascii_digit()));
    match parse_ics_datetime(raw) {
        _ if all_day => Err(format!(
            "DTSTART \"{raw}\" is an all-day event; a start time is needed"
        )),
        None => Err(format!("DTSTART \"{raw}\" is not a date and time")),
        // TZID: the wall-clock time is already the practice's.
        Some((dt, true)) if p.param("TZID").is_none() => TimeZone::UTC
            .to_timestamp(dt)
            .map(|ts| tz.to_datetime(ts))
            .map_err(|_| format!("DTSTART \"{raw}\" is out of range")),
        Some((dt, _)) => Ok(dt),
    }
}

/// The patient's first and last name: our X- properties when both are
/// there, else the start of the summary (`who`).
fn names_of(ev: &RawEvent, summary: &str, who: &str) -> Result<(String, String), String> {
    if let Some(pair) = ev.text("X-SOS-FIRST-NAME").zip(ev.text("X-SOS-LAST-NAME")) {
        return Ok(pair);
    }
    if who.is_empty() {
        return Err("SUMMARY is empty; it must start with the first and last name".to_string());
    }
    split_name(who)
        .ok_or_else(|| format!("SUMMARY \"{summary}\" must start with a first and a last name"))
}

/// DESCRIPTION's first `DOB:` line, and every other line (the notes).
fn split_description(description: &str) -> (Option<String>, Vec<&str>) {
    let mut dob_line = None;
    let mut note_lines = Vec::new();
    for l in description.lines() {
        let t = l.trim();
        let value = t
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("DOB:"))
            .and_then(|_| t.get(4..));
        match value {
            Some(v) if dob_line.is_none() => dob_line = Some(v.trim().to_string()),
            Some(_) => {}
            None => note_lines.push(l),
        }
    }
    (dob_line, note_lines)
}

/// `Ok(None)` for a cancelled event.
pub(super) fn ics_event(
    ev: &RawEvent,
    tz: &TimeZone,
) -> Result<Option<ImportedAppointment>, Vec<RowError>> {
    if ev
        .get("STATUS")
        .is_some_and(|p| p.value.trim().eq_ignore_ascii_case("CANCELLED"))
    {
        return Ok(None);
    }
    let line = ev.line;
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(RowError {
            line,
            field: Some(field.to_string()),
            message,
        });
    };

    let starts_at = start_of(ev, tz).map_err(|m| fail("DTSTART", m)).ok();

    // Name and type.
    let summary = ev.text("SUMMARY").unwrap_or_default();
    let (who, kind_raw) = split_summary(&summary);
    let names = names_of(ev, &summary, who)
        .map_err(|m| fail("SUMMARY", m))
        .ok();
    let (first_name, last_name) = match names {
        Some((first, last)) => (
            clean_name("the first name in SUMMARY", &first)
                .map_err(|m| fail("SUMMARY", m))
                .ok(),
            clean_name("the last name in SUMMARY", &last)
                .map_err(|m| fail("SUMMARY", m))
                .ok(),
        ),
        None => (None, None),
    };
    let kind = clean_kind("the type in SUMMARY", kind_raw)
        .map_err(|m| fail("SUMMARY", m))
        .ok();

    // Date of birth and notes, both from DESCRIPTION.
    let description = ev.text("DESCRIPTION").unwrap_or_default();
    let (dob_line, note_lines) = split_description(&description);
    let dob_raw = ev.text("X-SOS-DOB").or(dob_line);
    let dob = match &dob_raw {
        None => {
            fail(
                "DOB",
                "the event has no date of birth: add a line \"DOB: YYYY-MM-DD\" to DESCRIPTION"
                    .to_string(),
            );
            None
        }
        Some(raw) => parse_date(raw)
            .map_err(|e| fail("DOB", date_message("DOB", raw, &e)))
            .ok(),
    };
    if let (Some(dob), Some(start), Some(raw)) = (dob, starts_at, &dob_raw)
        && let Err(m) = check_birth("DOB", raw, dob, start.date())
    {
        fail("DOB", m);
    }
    let notes = clean_notes("the notes in DESCRIPTION", &note_lines.join("\n"))
        .map_err(|m| fail("DESCRIPTION", m))
        .ok();

    // Provider.
    let provider_raw = ev.text("X-SOS-PROVIDER").or_else(|| {
        ev.get("ORGANIZER")
            .and_then(|p| p.param("CN"))
            .map(|cn| cn.trim().to_string())
            .filter(|cn| !cn.is_empty())
    });
    let provider = match provider_raw {
        None => {
            fail(
                "X-SOS-PROVIDER",
                "the event names no provider: add X-SOS-PROVIDER, or an ORGANIZER with CN="
                    .to_string(),
            );
            None
        }
        Some(raw) => clean_provider("the provider", &raw)
            .map_err(|m| fail("X-SOS-PROVIDER", m))
            .ok(),
    };

    // Id: an edited instance of a recurring event shares its series' UID.
    let uid = ev.text("UID").map(|uid| match ev.get("RECURRENCE-ID") {
        Some(r) => format!("{uid}#{}", r.value.trim()),
        None => uid,
    });
    let external_id = clean_id("UID", uid.as_deref().unwrap_or_default())
        .map_err(|m| fail("UID", m))
        .ok();

    Fields {
        first_name,
        last_name,
        date_of_birth: dob,
        starts_at,
        provider,
        kind,
        notes,
        external_id,
    }
    .finish(line, errors)
    .map(Some)
}
