//! Import today's appointments from a CSV export or an iCalendar (.ics) file.
//!
//! Practice software exports are messy, so the importer is tolerant of form
//! but strict about the data the check-in match depends on (name, date of
//! birth, start time). A bad row never sinks the file: it is reported with
//! its line number and the field at fault, and the good rows still import.
//! Whole-file problems (too large, not text, no usable header) are an
//! [`ImportError`].
//!
//! # Text encoding
//!
//! UTF-8 (with or without BOM) and UTF-16 with a BOM are read as such. Text
//! that is not valid UTF-8 is read as Windows-1252, which is what Excel on
//! Windows writes for "CSV", so "José" survives a round trip through it.
//!
//! # CSV
//!
//! The first non-blank row is the header. Column names are matched ignoring
//! case, spaces, underscores and hyphens (`First Name` = `first_name`).
//! The delimiter is `,`, `;` or tab, whichever the header uses most.
//!
//! | column | required | accepted values |
//! |---|---|---|
//! | `first_name` (`first`, `given_name`) | yes | |
//! | `last_name` (`last`, `surname`, `family_name`) | yes | |
//! | `date_of_birth` (`dob`, `birth_date`) | yes | `1990-02-14`, `2/14/1990` (month first), `19900214` |
//! | `time` (`start`, `start_time`, `starts_at`) | yes | `14:30`, `2:30 PM`, `2:30pm`, `2 PM`, or with a date: `2025-03-14 14:30`, `2025-03-14T14:30` |
//! | `date` (`appointment_date`) | when `time` has no date | `2025-03-14` or `3/14/2025` |
//! | `provider` (`doctor`, `dentist`, `vet`, `attorney`) | yes | display name, e.g. `Dr. Lee` |
//! | `type` (`kind`, `appointment_type`, `service`) | no | e.g. `Cleaning` |
//! | `notes` (`note`, `comments`) | no | free text |
//! | `id` (`external_id`, `appointment_id`) | no | the practice software's id |
//!
//! Other columns (phone, e-mail, ...) are ignored on purpose: the box keeps
//! as little patient data as it needs. A time without AM/PM is read as a
//! 24-hour time (`2:30` is 02:30).
//!
//! # iCalendar
//!
//! Each `VEVENT` is one appointment; events with `STATUS:CANCELLED` are
//! skipped. Recurrence rules are not expanded (an export of one day's
//! appointments has none).
//!
//! - **Start**: `DTSTART`. A floating time or one with a `TZID=` parameter is
//!   taken as the practice's wall-clock time as written; a UTC time (`...Z`)
//!   is converted into the zone given to [`parse_ics_in`] (UTC for
//!   [`parse_ics`]). An all-day event is a row error.
//! - **Name and type**: `SUMMARY` is `First Last`, optionally followed by
//!   ` - Type` (`Sarah Johnson - Cleaning`). With more than two words the last
//!   word is the last name; write `Last, First` (`Núñez García, José`) to say
//!   otherwise. `X-SOS-FIRST-NAME` and `X-SOS-LAST-NAME`, when both present,
//!   win over `SUMMARY` for the name.
//! - **Date of birth**: `X-SOS-DOB`, else a `DOB: 1990-02-14` line in
//!   `DESCRIPTION` (same formats as CSV).
//! - **Provider**: `X-SOS-PROVIDER`, else the `CN=` parameter of `ORGANIZER`
//!   (calendar apps set it to the calendar owner, usually the provider).
//!   `LOCATION` is not used: it is usually a room, not a person.
//! - **Notes**: the rest of `DESCRIPTION`, without the `DOB:` line.
//! - **Id**: `UID`; for an edited instance of a recurring event
//!   (`RECURRENCE-ID`), `UID#RECURRENCE-ID` so that it stays unique.
//!
//! Row errors name the iCalendar property at fault (`SUMMARY`, `DTSTART`,
//! `DOB`, `X-SOS-PROVIDER`, ...) and `line` is the line of `BEGIN:VEVENT`.
//!
//! Row error messages quote the offending value and so may contain patient
//! data: show them to staff, never write them to logs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// Largest file accepted. A day of appointments is a few kilobytes; anything
/// near this is the wrong file, and the cap bounds memory on a small box.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;

const MAX_NAME_CHARS: usize = 60;
const MAX_PROVIDER_CHARS: usize = 80;
const MAX_KIND_CHARS: usize = 60;
const MAX_NOTES_CHARS: usize = 1000;
const MAX_ID_CHARS: usize = 200;
/// Older dates of birth are typos (or placeholder values like 1800-01-01).
const MIN_BIRTH_YEAR: i16 = 1900;

/// One appointment read from an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedAppointment {
    /// 1-based line of the row (CSV) or of `BEGIN:VEVENT` (ICS), for reports.
    pub line: usize,
    /// CSV `id` column or ICS `UID`, if present.
    pub external_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Date,
    /// Local wall-clock time of the practice.
    pub starts_at: DateTime,
    /// Provider display name, e.g. "Dr. Lee".
    pub provider: String,
    /// Appointment type, e.g. "Cleaning"; may be empty.
    pub kind: String,
    /// May be empty.
    pub notes: String,
}

/// A row (CSV) or event (ICS) that was skipped, and why.
///
/// `message` is a plain-language sentence that names the field; it does not
/// include the line number, which `Display` adds ("line 4: ...").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub line: usize,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The good rows and the row-level errors of one import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: Vec<ImportedAppointment>,
    pub errors: Vec<RowError>,
}

/// A failure of the whole file; nothing was imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "the file is {:.1} MB; the limit is {} MB",
        *.size as f64 / 1_048_576.0,
        MAX_FILE_BYTES / 1_048_576
    )]
    TooLarge { size: usize },
    #[error("the file is empty")]
    Empty,
    #[error(
        "this is an Excel workbook, not a CSV file: in Excel choose File > Save As > \"CSV UTF-8\" and import that file"
    )]
    Spreadsheet,
    #[error("this is not a text file: import a CSV export or an iCalendar (.ics) file")]
    NotText,
    #[error("this is not an iCalendar file: it does not start with BEGIN:VCALENDAR")]
    NotIcs,
    #[error(
        "the first row must be a header naming the columns, e.g. first_name,last_name,date_of_birth,time,date,provider"
    )]
    NoHeader,
    #[error("the header row is missing the required column(s): {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("the header row has two columns for {field}: \"{first}\" and \"{second}\"")]
    DuplicateColumn {
        field: String,
        first: String,
        second: String,
    },
    #[error("the file could not be read as CSV: {0}")]
    Csv(String),
}

/// Parses a CSV export (see the module docs for the columns).
pub fn parse_csv(input: &[u8]) -> Result<ImportReport, ImportError> {
    let bytes = prepare(input)?;
    let text = decode_str(&bytes);
    csv_import(&text)
}

/// Parses an iCalendar file; UTC (`Z`) start times stay in UTC.
pub fn parse_ics(input: &[u8]) -> Result<ImportReport, ImportError> {
    parse_ics_in(input, &TimeZone::UTC)
}

/// Parses an iCalendar file, converting UTC (`Z`) start times into `tz`,
/// the practice's time zone.
pub fn parse_ics_in(input: &[u8], tz: &TimeZone) -> Result<ImportReport, ImportError> {
    let bytes = prepare(input)?;
    ics_import(&bytes, tz)
}

/// Picks the parser: content that starts with `BEGIN:VCALENDAR` is ICS
/// whatever its name (staff rename files), then `.ics`/`.ical` by
/// extension, and everything else is tried as CSV.
pub fn parse_auto(file_name: &str, input: &[u8]) -> Result<ImportReport, ImportError> {
    parse_auto_in(file_name, input, &TimeZone::UTC)
}

/// [`parse_auto`] with UTC iCalendar times converted into `tz`.
pub fn parse_auto_in(
    file_name: &str,
    input: &[u8],
    tz: &TimeZone,
) -> Result<ImportReport, ImportError> {
    let bytes = prepare(input)?;
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if looks_like_ics(&bytes) || ext == "ics" || ext == "ical" || ext == "ifb" {
        ics_import(&bytes, tz)
    } else {
        csv_import(&decode_str(&bytes))
    }
}

// ---------------------------------------------------------------------------
// Shared: bytes to text
// ---------------------------------------------------------------------------

/// Size and type checks, BOM removal and UTF-16 to UTF-8. The result may
/// still be Windows-1252; see [`decode_str`].
fn prepare(input: &[u8]) -> Result<Cow<'_, [u8]>, ImportError> {
    if input.len() > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge { size: input.len() });
    }
    // Excel files are zip (xlsx) or OLE (xls) containers: the most common
    // wrong upload, so it gets its own message.
    if input.starts_with(b"PK\x03\x04") || input.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(ImportError::Spreadsheet);
    }
    let bytes: Cow<'_, [u8]> = if let Some(rest) = input.strip_prefix(&[0xFF, 0xFE]) {
        Cow::Owned(utf16_to_utf8(rest, u16::from_le_bytes).into_bytes())
    } else if let Some(rest) = input.strip_prefix(&[0xFE, 0xFF]) {
        Cow::Owned(utf16_to_utf8(rest, u16::from_be_bytes).into_bytes())
    } else {
        Cow::Borrowed(input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input))
    };
    if bytes.contains(&0) {
        return Err(ImportError::NotText);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty);
    }
    Ok(bytes)
}

fn utf16_to_utf8(bytes: &[u8], read: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| read([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// UTF-8 if valid, else Windows-1252 (never fails: every byte maps).
fn decode_str(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| cp1252(b)).collect()),
    }
}

fn cp1252(b: u8) -> char {
    // Only 0x80..=0x9F differ from Latin-1; the five undefined ones map to
    // the C1 control of the same value, which name checks then reject.
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

fn looks_like_ics(bytes: &[u8]) -> bool {
    let start = bytes.trim_ascii_start();
    start
        .get(..15)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"BEGIN:VCALENDAR"))
}

// ---------------------------------------------------------------------------
// Shared: field checks
// ---------------------------------------------------------------------------

/// Control and invisible direction characters: in a name they are paste
/// accidents or spoofing (a right-to-left override reverses what staff see).
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One free-text field: trimmed, inner whitespace collapsed, bounded; names
/// and providers are also free of characters that only ever appear in markup
/// or injection attempts.
fn clean_text(label: &str, raw: &str, max: usize, name_like: bool) -> Result<String, String> {
    // A tab is just whitespace to collapse; a line break means a broken cell.
    if raw.chars().any(|c| c != '\t' && is_forbidden_char(c)) {
        return Err(format!("{label} contains control characters"));
    }
    let text = collapse_ws(raw);
    if name_like && text.is_empty() {
        return Err(format!("{label} is empty"));
    }
    if text.chars().count() > max {
        return Err(format!("{label} is longer than {max} characters"));
    }
    if name_like && text.contains(['<', '>', '{', '}']) {
        return Err(format!(
            "{label} contains a character that is not allowed in a name (< > {{ }})"
        ));
    }
    Ok(text)
}

fn clean_name(label: &str, raw: &str) -> Result<String, String> {
    clean_text(label, raw, MAX_NAME_CHARS, true)
}

fn clean_provider(label: &str, raw: &str) -> Result<String, String> {
    clean_text(label, raw, MAX_PROVIDER_CHARS, true)
}

fn clean_kind(label: &str, raw: &str) -> Result<String, String> {
    clean_text(label, raw, MAX_KIND_CHARS, false)
}

/// Notes are free text from the practice software: keep line breaks, drop
/// other control characters rather than refuse the appointment over them.
fn clean_notes(label: &str, raw: &str) -> Result<String, String> {
    let text = raw.replace("\r\n", "\n");
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l: String = l
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .filter(|c| !is_forbidden_char(*c))
                .collect();
            l.trim().to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    let notes = lines.join("\n");
    if notes.chars().count() > MAX_NOTES_CHARS {
        return Err(format!(
            "{label} is longer than {MAX_NOTES_CHARS} characters"
        ));
    }
    Ok(notes)
}

fn clean_id(label: &str, raw: &str) -> Result<Option<String>, String> {
    let id = raw.trim();
    if id.is_empty() {
        return Ok(None);
    }
    if id.chars().any(is_forbidden_char) {
        return Err(format!("{label} contains control characters"));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(format!("{label} is longer than {MAX_ID_CHARS} characters"));
    }
    Ok(Some(id.to_string()))
}

// ---------------------------------------------------------------------------
// Shared: dates and times
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum DateErr {
    /// Not shaped like any accepted date.
    Shape,
    /// Shaped like a date but no such day (Feb 31, month 13).
    NotReal { slashes: bool },
}

fn digits(s: &str, min: usize, max: usize) -> Option<i32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD`, `M/D/YYYY` (US order), `YYYY/MM/DD` or `YYYYMMDD`.
fn parse_date(s: &str) -> Result<Date, DateErr> {
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

fn date_message(field: &str, value: &str, err: &DateErr) -> String {
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
fn parse_time(s: &str) -> Option<Time> {
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
fn parse_start(s: &str) -> Result<(Option<Date>, Time), Option<DateErr>> {
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

fn check_birth(field: &str, value: &str, dob: Date, day: Date) -> Result<(), String> {
    if dob.year() < MIN_BIRTH_YEAR {
        return Err(format!("{field} \"{value}\" is before {MIN_BIRTH_YEAR}"));
    }
    if dob > day {
        return Err(format!("{field} \"{value}\" is after the appointment date"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Col {
    FirstName,
    LastName,
    Dob,
    Time,
    Date,
    Provider,
    Kind,
    Notes,
    Id,
}

impl Col {
    const REQUIRED: [Col; 5] = [
        Col::FirstName,
        Col::LastName,
        Col::Dob,
        Col::Time,
        Col::Provider,
    ];

    fn name(self) -> &'static str {
        match self {
            Col::FirstName => "first_name",
            Col::LastName => "last_name",
            Col::Dob => "date_of_birth",
            Col::Time => "time",
            Col::Date => "date",
            Col::Provider => "provider",
            Col::Kind => "type",
            Col::Notes => "notes",
            Col::Id => "id",
        }
    }

    /// Header names compared with case, spaces, `_`, `-` and `.` removed.
    fn from_header(header: &str) -> Option<Col> {
        let key: String = header
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        Some(match key.as_str() {
            "firstname" | "first" | "givenname" | "forename" | "patientfirstname" => Col::FirstName,
            "lastname" | "last" | "surname" | "familyname" | "patientlastname" => Col::LastName,
            "dateofbirth" | "dob" | "birthdate" | "birthday" | "patientdob" => Col::Dob,
            "time" | "start" | "starttime" | "startsat" | "appointmenttime" | "appttime" => {
                Col::Time
            }
            "date" | "appointmentdate" | "apptdate" => Col::Date,
            "provider" | "providername" | "doctor" | "dentist" | "vet" | "veterinarian"
            | "attorney" => Col::Provider,
            "type" | "kind" | "appointmenttype" | "appttype" | "service" => Col::Kind,
            "notes" | "note" | "comments" | "comment" => Col::Notes,
            "id" | "externalid" | "appointmentid" | "apptid" => Col::Id,
            _ => return None,
        })
    }
}

/// The delimiter the header line uses most; Excel in many European locales
/// writes `;`, and "Unicode text" exports use tabs.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let count = |c: char| first.matches(c).count();
    let (comma, semi, tab) = (count(','), count(';'), count('\t'));
    if tab > comma && tab >= semi {
        b'\t'
    } else if semi > comma {
        b';'
    } else {
        b','
    }
}

fn csv_import(text: &str) -> Result<ImportReport, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(text))
        .from_reader(text.as_bytes());
    let mut records = reader.records();

    let header = loop {
        match records.next() {
            None => return Err(ImportError::NoHeader),
            Some(Err(e)) => return Err(ImportError::Csv(e.to_string())),
            Some(Ok(r)) if r.iter().all(|f| f.trim().is_empty()) => continue,
            Some(Ok(r)) => break r,
        }
    };

    let mut columns: HashMap<Col, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let Some(col) = Col::from_header(h) else {
            continue;
        };
        if let Some(&prev) = columns.get(&col) {
            return Err(ImportError::DuplicateColumn {
                field: col.name().to_string(),
                first: header.get(prev).unwrap_or_default().trim().to_string(),
                second: h.trim().to_string(),
            });
        }
        columns.insert(col, i);
    }
    if columns.is_empty() {
        return Err(ImportError::NoHeader);
    }
    let missing: Vec<String> = Col::REQUIRED
        .iter()
        .filter(|c| !columns.contains_key(c))
        .map(|c| match c {
            Col::Time => "time (or start)".to_string(),
            c => c.name().to_string(),
        })
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns(missing));
    }

    // The csv crate reports a record that follows a blank line as starting
    // on the blank line, so lines are counted here from byte offsets.
    let lines = LineIndex::new(text);
    let line_of = |pos: Option<&csv::Position>, fallback: usize| {
        pos.map_or(fallback, |p| lines.line_at(p.byte()))
    };
    let mut report = ImportReport::default();
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut fallback_line = line_of(header.position(), 1);
    for record in records {
        fallback_line += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = line_of(e.position(), fallback_line);
                report.errors.push(RowError {
                    line,
                    field: None,
                    message: format!("this row could not be read: {e}"),
                });
                continue;
            }
        };
        // Excel leaves rows of bare commas below the data.
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let line = line_of(record.position(), fallback_line);
        fallback_line = line;

        // Extra non-empty cells mean the columns are shifted, usually by an
        // unquoted comma in a name: every value in the row is suspect.
        if record
            .iter()
            .skip(header.len())
            .any(|f| !f.trim().is_empty())
        {
            report.errors.push(RowError {
                line,
                field: None,
                message: format!(
                    "this row has more values than the header has columns ({} > {}); a value containing the delimiter must be in double quotes",
                    record
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| !f.trim().is_empty())
                        .map(|(i, _)| i + 1)
                        .last()
                        .unwrap_or_default(),
                    header.len()
                ),
            });
            continue;
        }

        let get = |col: Col| {
            columns
                .get(&col)
                .and_then(|&i| record.get(i))
                .unwrap_or_default()
        };
        match csv_row(line, get) {
            Ok(appt) => match appt.external_id.as_ref().and_then(|id| seen_ids.get(id)) {
                Some(&first) => report.errors.push(RowError {
                    line,
                    field: Some(Col::Id.name().to_string()),
                    message: format!(
                        "id \"{}\" is also used on line {first}",
                        appt.external_id.as_deref().unwrap_or_default()
                    ),
                }),
                None => {
                    if let Some(id) = &appt.external_id {
                        seen_ids.insert(id.clone(), line);
                    }
                    report.rows.push(appt);
                }
            },
            Err(mut errs) => report.errors.append(&mut errs),
        }
    }
    Ok(report)
}

/// Byte offset to 1-based line number.
struct LineIndex<'t> {
    text: &'t str,
    newlines: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    fn new(text: &'t str) -> Self {
        let newlines = text.match_indices('\n').map(|(i, _)| i).collect();
        LineIndex { text, newlines }
    }

    /// The line of the first character at or after `byte` that is not a
    /// line break (a record never starts with one).
    fn line_at(&self, byte: u64) -> usize {
        let mut at = usize::try_from(byte).unwrap_or(usize::MAX);
        let bytes = self.text.as_bytes();
        while bytes.get(at).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            at += 1;
        }
        self.newlines.partition_point(|&nl| nl < at) + 1
    }
}

/// Validates one CSV row; reports every bad field at once so staff can fix
/// the row in one go.
fn csv_row<'r>(
    line: usize,
    get: impl Fn(Col) -> &'r str,
) -> Result<ImportedAppointment, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut fail = |col: Col, message: String| {
        errors.push(RowError {
            line,
            field: Some(col.name().to_string()),
            message,
        });
    };

    let first_name = clean_name("first_name", get(Col::FirstName))
        .map_err(|m| fail(Col::FirstName, m))
        .ok();
    let last_name = clean_name("last_name", get(Col::LastName))
        .map_err(|m| fail(Col::LastName, m))
        .ok();
    let provider = clean_provider("provider", get(Col::Provider))
        .map_err(|m| fail(Col::Provider, m))
        .ok();
    let kind = clean_kind("type", get(Col::Kind))
        .map_err(|m| fail(Col::Kind, m))
        .ok();
    let notes = clean_notes("notes", get(Col::Notes))
        .map_err(|m| fail(Col::Notes, m))
        .ok();
    let external_id = clean_id("id", get(Col::Id))
        .map_err(|m| fail(Col::Id, m))
        .ok();

    let dob_raw = get(Col::Dob).trim();
    let dob = if dob_raw.is_empty() {
        fail(Col::Dob, "date_of_birth is empty".to_string());
        None
    } else {
        parse_date(dob_raw)
            .map_err(|e| fail(Col::Dob, date_message("date_of_birth", dob_raw, &e)))
            .ok()
    };

    let date_raw = get(Col::Date).trim();
    let date = if date_raw.is_empty() {
        None
    } else {
        parse_date(date_raw)
            .map_err(|e| fail(Col::Date, date_message("date", date_raw, &e)))
            .ok()
    };
    let date_bad = !date_raw.is_empty() && date.is_none();

    let time_raw = get(Col::Time).trim();
    let starts_at = if time_raw.is_empty() {
        fail(Col::Time, "time is empty".to_string());
        None
    } else {
        match parse_start(time_raw) {
            Ok((Some(d), t)) => match date {
                Some(other) if other != d => {
                    fail(
                        Col::Date,
                        format!("date \"{date_raw}\" is not the date in time \"{time_raw}\""),
                    );
                    None
                }
                _ => Some(d.to_datetime(t)),
            },
            Ok((None, t)) => match date {
                Some(d) => Some(d.to_datetime(t)),
                None if date_bad => None,
                None => {
                    fail(
                        Col::Date,
                        format!(
                            "date is missing: time \"{time_raw}\" has no date, so the date column must give one"
                        ),
                    );
                    None
                }
            },
            Err(Some(e)) => {
                fail(Col::Time, date_message("the date in time", time_raw, &e));
                None
            }
            Err(None) => {
                fail(
                    Col::Time,
                    format!(
                        "time \"{time_raw}\" is not a time of day; use 14:30, 2:30 PM or 2025-03-14 14:30"
                    ),
                );
                None
            }
        }
    };

    if let (Some(dob), Some(start)) = (dob, starts_at)
        && let Err(m) = check_birth("date_of_birth", dob_raw, dob, start.date())
    {
        fail(Col::Dob, m);
    }

    match (
        first_name,
        last_name,
        dob,
        starts_at,
        provider,
        kind,
        notes,
        external_id,
    ) {
        (
            Some(first_name),
            Some(last_name),
            Some(date_of_birth),
            Some(starts_at),
            Some(provider),
            Some(kind),
            Some(notes),
            Some(external_id),
        ) if errors.is_empty() => Ok(ImportedAppointment {
            line,
            external_id,
            first_name,
            last_name,
            date_of_birth,
            starts_at,
            provider,
            kind,
            notes,
        }),
        _ => Err(errors),
    }
}

// ---------------------------------------------------------------------------
// iCalendar
// ---------------------------------------------------------------------------

// A small reader of our own rather than the `ical` crate: that crate trims
// whitespace at fold boundaries ("Siobhán \r\n O'Brien" would become one word),
// cannot give event line numbers for reports, and stops at a multi-byte
// character split by a fold.

#[derive(Debug)]
struct Prop {
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
struct RawEvent {
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
fn unfold(bytes: &[u8]) -> Vec<(usize, Vec<u8>)> {
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
fn parse_content_line(line: &str) -> Option<Prop> {
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

fn unescape_text(s: &str) -> String {
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

fn ics_import(bytes: &[u8], tz: &TimeZone) -> Result<ImportReport, ImportError> {
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
fn parse_ics_datetime(s: &str) -> Option<(DateTime, bool)> {
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
fn split_summary(summary: &str) -> (&str, &str) {
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

fn split_name(who: &str) -> Option<(String, String)> {
    if let Some((last, first)) = who.split_once(',') {
        let (first, last) = (first.trim(), last.trim());
        return (!first.is_empty() && !last.is_empty())
            .then(|| (first.to_string(), last.to_string()));
    }
    let words: Vec<&str> = who.split_whitespace().collect();
    let (last, first) = words.split_last()?;
    (!first.is_empty()).then(|| (first.join(" "), (*last).to_string()))
}

/// `Ok(None)` for a cancelled event.
fn ics_event(ev: &RawEvent, tz: &TimeZone) -> Result<Option<ImportedAppointment>, Vec<RowError>> {
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

    // Start time.
    let starts_at = match ev.get("DTSTART") {
        None => {
            fail(
                "DTSTART",
                "the event has no start time (DTSTART)".to_string(),
            );
            None
        }
        Some(p) => {
            let raw = p.value.trim();
            let all_day = p
                .param("VALUE")
                .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
                || (raw.len() == 8 && raw.bytes().all(|b| b.is_ascii_digit()));
            match parse_ics_datetime(raw) {
                _ if all_day => {
                    fail(
                        "DTSTART",
                        format!("DTSTART \"{raw}\" is an all-day event; a start time is needed"),
                    );
                    None
                }
                None => {
                    fail(
                        "DTSTART",
                        format!("DTSTART \"{raw}\" is not a date and time"),
                    );
                    None
                }
                // TZID: the wall-clock time is already the practice's.
                Some((dt, true)) if p.param("TZID").is_none() => {
                    match TimeZone::UTC.to_timestamp(dt) {
                        Ok(ts) => Some(tz.to_datetime(ts)),
                        Err(_) => {
                            fail("DTSTART", format!("DTSTART \"{raw}\" is out of range"));
                            None
                        }
                    }
                }
                Some((dt, _)) => Some(dt),
            }
        }
    };

    // Name and type.
    let summary = ev.text("SUMMARY").unwrap_or_default();
    let (who, kind_raw) = split_summary(&summary);
    let explicit = ev.text("X-SOS-FIRST-NAME").zip(ev.text("X-SOS-LAST-NAME"));
    let names = match explicit {
        Some(pair) => Some(pair),
        None if who.is_empty() => {
            fail(
                "SUMMARY",
                "SUMMARY is empty; it must start with the first and last name".to_string(),
            );
            None
        }
        None => {
            let split = split_name(who);
            if split.is_none() {
                fail(
                    "SUMMARY",
                    format!("SUMMARY \"{summary}\" must start with a first and a last name"),
                );
            }
            split
        }
    };
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

    match (
        first_name,
        last_name,
        dob,
        starts_at,
        provider,
        kind,
        notes,
        external_id,
    ) {
        (
            Some(first_name),
            Some(last_name),
            Some(date_of_birth),
            Some(starts_at),
            Some(provider),
            Some(kind),
            Some(notes),
            Some(external_id),
        ) if errors.is_empty() => Ok(Some(ImportedAppointment {
            line,
            external_id,
            first_name,
            last_name,
            date_of_birth,
            starts_at,
            provider,
            kind,
            notes,
        })),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const SAMPLE_CSV: &[u8] = include_bytes!("../../assets/samples/appointments.csv");
    const SAMPLE_ICS: &[u8] = include_bytes!("../../assets/samples/appointments.ics");

    const HEADER: &str = "first_name,last_name,date_of_birth,time,date,provider\n";

    fn csv(body: &str) -> ImportReport {
        match parse_csv(format!("{HEADER}{body}").as_bytes()) {
            Ok(r) => r,
            Err(e) => panic!("whole-file error: {e}"),
        }
    }

    fn only_error(r: &ImportReport) -> &RowError {
        assert!(r.rows.is_empty(), "unexpected rows: {:?}", r.rows);
        assert_eq!(r.errors.len(), 1, "errors: {:?}", r.errors);
        &r.errors[0]
    }

    fn ics(events: &str) -> ImportReport {
        let text = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{events}END:VCALENDAR\r\n");
        match parse_ics(text.as_bytes()) {
            Ok(r) => r,
            Err(e) => panic!("whole-file error: {e}"),
        }
    }

    fn event(lines: &[&str]) -> String {
        let mut s = String::from("BEGIN:VEVENT\r\n");
        for l in lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        s.push_str("END:VEVENT\r\n");
        s
    }

    // ----- CSV -----

    #[test]
    fn sample_csv_imports_good_rows_and_reports_the_bad_one() {
        let r = parse_csv(SAMPLE_CSV).expect("sample parses");
        let names: Vec<_> = r
            .rows
            .iter()
            .map(|a| (a.line, a.first_name.as_str(), a.last_name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                (2, "Sarah", "Johnson"),
                (3, "José", "Núñez"),
                (4, "Siobhán", "O'Brien"),
                (7, "Mary Ann", "Smith"),
                (8, "Zoë", "Ng-Alvarez"),
            ]
        );
        assert_eq!(r.errors.len(), 1);
        let e = &r.errors[0];
        assert_eq!(e.line, 5);
        assert_eq!(e.field.as_deref(), Some("date_of_birth"));
        assert!(
            e.to_string()
                .starts_with("line 5: date_of_birth \"31/02/1990\" is not a real date"),
            "{e}"
        );

        let jose = &r.rows[1];
        assert_eq!(jose.external_id.as_deref(), Some("A-1002"));
        assert_eq!(jose.date_of_birth, date(1979, 7, 3));
        assert_eq!(jose.starts_at, date(2025, 3, 14).at(9, 30, 0, 0));
        assert_eq!(jose.provider, "Dr. Lee");
        assert_eq!(jose.kind, "Filling");
        assert_eq!(jose.notes, "Prefers Spanish; mild anxiety");
        assert_eq!(r.rows[0].starts_at, date(2025, 3, 14).at(9, 0, 0, 0));
        assert_eq!(r.rows[2].starts_at, date(2025, 3, 14).at(14, 30, 0, 0));
        // Date taken from the start cell when the date column is blank.
        assert_eq!(r.rows[3].starts_at, date(2025, 3, 14).at(11, 0, 0, 0));
        assert_eq!(r.rows[3].kind, "");
        assert_eq!(r.rows[3].notes, "Bring X-rays, new insurance");
        assert_eq!(r.rows[4].starts_at, date(2025, 3, 14).at(15, 45, 0, 0));
    }

    #[test]
    fn headers_are_tolerant_of_case_spaces_and_aliases() {
        let input = "Last Name;First-Name;DOB;Start Time;Appointment Date;Doctor;Appointment Type;Phone\n\
                     Núñez;José;1979-07-03;2:30 PM;2025-03-14;Dr. Lee;Filling;555-0100\n";
        let r = parse_csv(input.as_bytes()).expect("parses");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows.len(), 1);
        let a = &r.rows[0];
        assert_eq!(
            (a.first_name.as_str(), a.last_name.as_str()),
            ("José", "Núñez")
        );
        assert_eq!(a.starts_at, date(2025, 3, 14).at(14, 30, 0, 0));
        assert_eq!(a.kind, "Filling");
        assert_eq!(a.external_id, None);
    }

    #[test]
    fn missing_required_columns_are_named() {
        let err = parse_csv(b"first_name,date_of_birth,date\nA,1990-01-01,2025-03-14\n")
            .expect_err("missing columns");
        match &err {
            ImportError::MissingColumns(cols) => {
                assert_eq!(cols, &["last_name", "time (or start)", "provider"])
            }
            other => panic!("wrong error {other:?}"),
        }
        assert!(
            err.to_string()
                .contains("last_name, time (or start), provider")
        );
    }

    #[test]
    fn whole_file_failures() {
        assert!(matches!(parse_csv(b""), Err(ImportError::Empty)));
        assert!(matches!(parse_csv(b" \r\n\n"), Err(ImportError::Empty)));
        assert!(matches!(
            parse_csv(b"Sarah,Johnson,1985-04-12\n"),
            Err(ImportError::NoHeader)
        ));
        assert!(matches!(
            parse_csv(b"PK\x03\x04\x14\x00rest-of-zip"),
            Err(ImportError::Spreadsheet)
        ));
        assert!(matches!(
            parse_csv(b"\x89PNG\r\n\x1a\n\x00\x00"),
            Err(ImportError::NotText)
        ));
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        let err = parse_csv(&big).expect_err("too large");
        assert!(matches!(err, ImportError::TooLarge { .. }));
        assert!(err.to_string().contains("limit is 5 MB"), "{err}");
        let dup = parse_csv(b"first_name,last_name,Given Name,dob,time,provider\n");
        assert!(
            matches!(dup, Err(ImportError::DuplicateColumn { ref field, .. }) if field == "first_name"),
            "{dup:?}"
        );
    }

    #[test]
    fn header_only_is_an_empty_report() {
        let r = parse_csv(HEADER.as_bytes()).expect("parses");
        assert_eq!(r, ImportReport::default());
    }

    #[test]
    fn time_formats() {
        let cases = [
            ("14:30", (14, 30, 0)),
            ("2:30 PM", (14, 30, 0)),
            ("2:30pm", (14, 30, 0)),
            ("2:30 p.m.", (14, 30, 0)),
            ("2 PM", (14, 0, 0)),
            ("12:15 AM", (0, 15, 0)),
            ("12:15 PM", (12, 15, 0)),
            ("9:05:30", (9, 5, 30)),
            ("09:00", (9, 0, 0)),
        ];
        for (input, (h, m, s)) in cases {
            let r = csv(&format!("A,B,1990-01-01,{input},2025-03-14,Dr. Lee\n"));
            assert!(r.errors.is_empty(), "{input}: {:?}", r.errors);
            assert_eq!(
                r.rows[0].starts_at,
                date(2025, 3, 14).at(h, m, s, 0),
                "{input}"
            );
        }
        for bad in ["25:00", "13:00 PM", "0:30 AM", "14", "noon", "2:3", "14h30"] {
            let r = csv(&format!("A,B,1990-01-01,{bad},2025-03-14,Dr. Lee\n"));
            let e = only_error(&r);
            assert_eq!(e.field.as_deref(), Some("time"), "{bad}");
            assert!(
                e.message.contains("is not a time of day"),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn full_start_datetime_formats() {
        for input in [
            "2025-03-14 14:30",
            "2025-03-14T14:30",
            "2025-03-14 2:30 PM",
            "3/14/2025 14:30:00",
        ] {
            let r = parse_csv(
                format!(
                    "first_name,last_name,dob,start,provider\nA,B,1990-01-01,{input},Dr. Lee\n"
                )
                .as_bytes(),
            )
            .expect("parses");
            assert!(r.errors.is_empty(), "{input}: {:?}", r.errors);
            assert_eq!(
                r.rows[0].starts_at,
                date(2025, 3, 14).at(14, 30, 0, 0),
                "{input}"
            );
        }
    }

    #[test]
    fn missing_date_is_a_row_error_naming_date() {
        let r = csv("A,B,1990-01-01,14:30,,Dr. Lee\n");
        let e = only_error(&r);
        assert_eq!(e.field.as_deref(), Some("date"));
        assert!(e.message.contains("date is missing"), "{}", e.message);
        // No date column at all: same.
        let r =
            parse_csv(b"first_name,last_name,dob,time,provider\nA,B,1990-01-01,14:30,Dr. Lee\n")
                .expect("parses");
        assert_eq!(only_error(&r).field.as_deref(), Some("date"));
    }

    #[test]
    fn date_and_start_must_agree() {
        let r = csv("A,B,1990-01-01,2025-03-15 14:30,2025-03-14,Dr. Lee\n");
        assert_eq!(only_error(&r).field.as_deref(), Some("date"));
    }

    #[test]
    fn dates_of_birth() {
        for (input, want) in [
            ("1990-02-14", date(1990, 2, 14)),
            ("2/14/1990", date(1990, 2, 14)),
            ("02/04/1990", date(1990, 2, 4)),
            ("19900214", date(1990, 2, 14)),
            ("1990/02/14", date(1990, 2, 14)),
        ] {
            let r = csv(&format!("A,B,{input},14:30,2025-03-14,Dr. Lee\n"));
            assert!(r.errors.is_empty(), "{input}: {:?}", r.errors);
            assert_eq!(r.rows[0].date_of_birth, want, "{input}");
        }
        let cases = [
            ("1990-02-30", "is not a real date"),
            ("14/2/1990", "read as month/day/year"),
            ("2/14/90", "is not a date; use YYYY-MM-DD or M/D/YYYY"),
            ("Feb 14 1990", "is not a date"),
            ("", "date_of_birth is empty"),
            ("1850-01-01", "is before 1900"),
            ("2025-03-15", "is after the appointment date"),
        ];
        for (input, want) in cases {
            let r = csv(&format!("A,B,{input},14:30,2025-03-14,Dr. Lee\n"));
            let e = only_error(&r);
            assert_eq!(e.field.as_deref(), Some("date_of_birth"), "{input}");
            assert!(e.message.contains(want), "{input}: {}", e.message);
        }
    }

    #[test]
    fn names_are_cleaned_and_checked() {
        let r = csv("  Mary \t  Ann  ,  O'Brien ,1990-01-01,14:30,2025-03-14,  Dr.   Lee \n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows[0].first_name, "Mary Ann");
        assert_eq!(r.rows[0].last_name, "O'Brien");
        assert_eq!(r.rows[0].provider, "Dr. Lee");

        let long = "x".repeat(61);
        let exactly = "é".repeat(60);
        let r = csv(&format!(
            "{exactly},B,1990-01-01,14:30,2025-03-14,Dr. Lee\n"
        ));
        assert!(r.errors.is_empty(), "60 chars (not bytes) is fine");
        for (first, want) in [
            (long.as_str(), "longer than 60 characters"),
            ("<script>", "not allowed in a name"),
            ("{{name}}", "not allowed in a name"),
            ("Bob\u{7}", "control characters"),
            ("Bob\u{202E}", "control characters"),
            ("\"Bob\nby\"", "control characters"),
            ("  ", "first_name is empty"),
        ] {
            let r = csv(&format!("{first},B,1990-01-01,14:30,2025-03-14,Dr. Lee\n"));
            let e = only_error(&r);
            assert_eq!(e.field.as_deref(), Some("first_name"), "{first:?}");
            assert!(e.message.contains(want), "{first:?}: {}", e.message);
        }
    }

    #[test]
    fn every_bad_field_in_a_row_is_reported() {
        let r = csv(",<b>,31/31/1990,25:00,2025-03-14,\n");
        let fields: Vec<_> = r.errors.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(
            fields,
            [
                "first_name",
                "last_name",
                "provider",
                "date_of_birth",
                "time"
            ]
        );
        assert!(r.errors.iter().all(|e| e.line == 2));
        assert!(r.rows.is_empty());
    }

    #[test]
    fn blank_lines_and_empty_rows_are_skipped_with_true_line_numbers() {
        let body = "\nA,B,1990-01-01,14:30,2025-03-14,Dr. Lee\n,,,,,\n\n\"Multi\nline\",B,1990-01-01,14:30,2025-03-14,Dr. Lee\nC,D,bad,14:30,2025-03-14,Dr. Lee\n";
        let r = csv(body);
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].line, 3);
        let lines: Vec<_> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [6, 8], "{:?}", r.errors);
    }

    #[test]
    fn shifted_columns_are_reported_not_misread() {
        let r = csv("Mary,Smith, Jr.,1990-01-01,14:30,2025-03-14,Dr. Lee\n");
        let e = only_error(&r);
        assert_eq!(e.field, None);
        assert!(e.message.contains("double quotes"), "{}", e.message);
        // Trailing empty cells from spreadsheets are harmless.
        let r = csv("Mary,Smith,1990-01-01,14:30,2025-03-14,Dr. Lee,,,\n");
        assert_eq!(r.rows.len(), 1, "{:?}", r.errors);
        // Short rows: the missing cells are empty fields.
        let r = csv("Mary,Smith,1990-01-01\n");
        assert!(r.errors.iter().any(|e| e.field.as_deref() == Some("time")));
    }

    #[test]
    fn duplicate_ids_are_reported() {
        let input = "id,first_name,last_name,dob,time,date,provider\n\
                     7,A,B,1990-01-01,9:00,2025-03-14,Dr. Lee\n\
                     7,C,D,1990-01-01,9:30,2025-03-14,Dr. Lee\n";
        let r = parse_csv(input.as_bytes()).expect("parses");
        assert_eq!(r.rows.len(), 1);
        let e = only_error(&ImportReport {
            rows: vec![],
            ..r.clone()
        })
        .clone();
        assert_eq!((e.line, e.field.as_deref()), (3, Some("id")));
        assert!(e.message.contains("also used on line 2"), "{}", e.message);
    }

    #[test]
    fn notes_keep_line_breaks_and_drop_control_characters() {
        let input = "first_name,last_name,dob,time,date,provider,notes\n\
                     A,B,1990-01-01,9:00,2025-03-14,Dr. Lee,\"line one\r\n\r\n\tline\u{7} two \"\n";
        let r = parse_csv(input.as_bytes()).expect("parses");
        assert_eq!(r.rows[0].notes, "line one\nline two");
    }

    #[test]
    fn windows_1252_and_utf16_and_bom_are_decoded() {
        // "José,Núñez" as Excel on Windows writes it.
        let mut cp = HEADER.as_bytes().to_vec();
        cp.extend_from_slice(b"Jos\xe9,N\xfa\xf1ez,1979-07-03,9:30,2025-03-14,Dr. Lee\n");
        let r = parse_csv(&cp).expect("parses");
        assert_eq!(
            (r.rows[0].first_name.as_str(), r.rows[0].last_name.as_str()),
            ("José", "Núñez")
        );

        let text = format!("{HEADER}José,Núñez,1979-07-03,9:30,2025-03-14,Dr. Lee\n");
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(parse_csv(&bom).expect("parses").rows[0].first_name, "José");

        let mut utf16 = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let r = parse_csv(&utf16).expect("parses");
        assert_eq!(r.rows[0].last_name, "Núñez");
    }

    // ----- ICS -----

    #[test]
    fn sample_ics_imports_good_events_and_reports_the_bad_one() {
        let ny = TimeZone::get("America/New_York").expect("tzdb");
        let r = parse_ics_in(SAMPLE_ICS, &ny).expect("sample parses");
        let got: Vec<_> = r
            .rows
            .iter()
            .map(|a| {
                (
                    a.line,
                    a.first_name.as_str(),
                    a.last_name.as_str(),
                    a.kind.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (5, "Sarah", "Johnson", "Cleaning"),
                (14, "José", "Núñez", "Filling"),
                (22, "Siobhán", "O'Brien", "Check-up"),
                (41, "Mary Ann", "Smith", ""),
                (63, "Zoë", "Ng-Alvarez", "Kids check-up"),
            ]
        );
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        let e = &r.errors[0];
        assert_eq!((e.line, e.field.as_deref()), (33, Some("DOB")));
        assert!(e.message.contains("no date of birth"), "{e}");

        let [sarah, jose, siobhan, mary, zoe] = r.rows.as_slice() else {
            panic!("five rows");
        };
        assert_eq!(
            sarah.starts_at,
            date(2025, 3, 14).at(9, 0, 0, 0),
            "TZID kept as is"
        );
        assert_eq!(sarah.provider, "Dr. Lee");
        assert_eq!(sarah.notes, "");
        assert_eq!(
            sarah.external_id.as_deref(),
            Some("appt-2001@example-dental")
        );
        assert_eq!(jose.provider, "Dr. Lee", "from ORGANIZER CN");
        assert_eq!(jose.date_of_birth, date(1979, 7, 3));
        assert_eq!(jose.notes, "Prefers Spanish; mild anxiety");
        assert_eq!(
            siobhan.starts_at,
            date(2025, 3, 14).at(14, 30, 0, 0),
            "18:30Z in EDT"
        );
        assert_eq!(siobhan.date_of_birth, date(1992, 11, 30), "X-SOS-DOB");
        assert_eq!(siobhan.provider, "Dr. Patel");
        assert_eq!(
            siobhan.notes,
            "Asked for the last appointment of the day if one opens up, following her physiotherapy at the clinic next door"
        );
        assert_eq!(
            mary.notes, "Bring X-rays, new insurance",
            "VALARM DESCRIPTION ignored"
        );
        assert_eq!(mary.date_of_birth, date(2001, 1, 5));
        assert_eq!(zoe.starts_at, date(2025, 3, 14).at(15, 45, 0, 0));
        assert_eq!(zoe.notes, "Parent will accompany");
    }

    #[test]
    fn utc_times_stay_utc_by_default() {
        let r = parse_ics(SAMPLE_ICS).expect("parses");
        assert_eq!(r.rows[2].starts_at, date(2025, 3, 14).at(18, 30, 0, 0));
    }

    #[test]
    fn ics_with_lf_line_endings_and_lowercase_parses() {
        let text = String::from_utf8(SAMPLE_ICS.to_vec())
            .expect("utf8")
            .replace("\r\n", "\n");
        let r = parse_ics(text.as_bytes()).expect("parses");
        assert_eq!((r.rows.len(), r.errors.len()), (5, 1));
    }

    #[test]
    fn folds_inside_a_multibyte_character_are_joined() {
        let mut bytes =
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20250314T090000\r\nSUMMARY:Siobh\xC3"
                .to_vec();
        bytes.extend_from_slice(b"\r\n \xA1n O'Brien\r\nX-SOS-DOB:1992-11-30\r\nX-SOS-PROVIDER:Dr. Lee\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        let r = parse_ics(&bytes).expect("parses");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.rows[0].first_name, "Siobhán");
    }

    #[test]
    fn summary_conventions() {
        let base = [
            "DTSTART:20250314T090000",
            "X-SOS-DOB:1990-01-01",
            "X-SOS-PROVIDER:Dr. Lee",
        ];
        let name_of = |summary: &str, extra: &[&str]| {
            let mut lines = base.to_vec();
            let s = format!("SUMMARY:{summary}");
            lines.push(&s);
            lines.extend_from_slice(extra);
            let r = ics(&event(&lines));
            match (r.rows.first(), r.errors.first()) {
                (Some(a), _) => Ok((a.first_name.clone(), a.last_name.clone(), a.kind.clone())),
                (None, Some(e)) => Err(e.message.clone()),
                (None, None) => Err("nothing".to_string()),
            }
        };
        let ok = |f: &str, l: &str, k: &str| Ok((f.to_string(), l.to_string(), k.to_string()));
        assert_eq!(name_of("Sarah Johnson", &[]), ok("Sarah", "Johnson", ""));
        assert_eq!(
            name_of("Mary Ann Smith - Cleaning", &[]),
            ok("Mary Ann", "Smith", "Cleaning")
        );
        assert_eq!(
            name_of("Núñez García\\, José – X-ray", &[]),
            ok("José", "Núñez García", "X-ray")
        );
        assert_eq!(
            name_of("Anne-Marie Lee-Smith", &[]),
            ok("Anne-Marie", "Lee-Smith", "")
        );
        assert_eq!(
            name_of(
                "Cleaning",
                &["X-SOS-FIRST-NAME:José", "X-SOS-LAST-NAME:Núñez García"]
            ),
            ok("José", "Núñez García", "")
        );
        let err = name_of("Cleaning", &[]).expect_err("one word");
        assert!(err.contains("first and a last name"), "{err}");
        let err = name_of("<img> Smith", &[]).expect_err("markup");
        assert!(err.contains("not allowed in a name"), "{err}");
    }

    #[test]
    fn dtstart_variants() {
        let start_of = |dtstart: &str| {
            let r = ics(&event(&[
                dtstart,
                "SUMMARY:A B",
                "X-SOS-DOB:1990-01-01",
                "X-SOS-PROVIDER:P",
            ]));
            match (r.rows.first(), r.errors.first()) {
                (Some(a), _) => Ok(a.starts_at),
                (None, Some(e)) => Err((e.field.clone(), e.message.clone())),
                (None, None) => Err((None, String::new())),
            }
        };
        let d = date(2025, 3, 14);
        assert_eq!(start_of("DTSTART:20250314T093000"), Ok(d.at(9, 30, 0, 0)));
        assert_eq!(
            start_of("DTSTART;TZID=\"Europe/Paris\":20250314T0930"),
            Ok(d.at(9, 30, 0, 0))
        );
        assert_eq!(start_of("dtstart:20250314T093000Z"), Ok(d.at(9, 30, 0, 0)));
        let (field, msg) = start_of("DTSTART;VALUE=DATE:20250314").expect_err("all day");
        assert_eq!(field.as_deref(), Some("DTSTART"));
        assert!(msg.contains("all-day"), "{msg}");
        let (_, msg) = start_of("DTSTART:20250230T090000").expect_err("feb 30");
        assert!(msg.contains("not a date and time"), "{msg}");
        let (_, msg) = start_of("DTEND:20250314T093000").expect_err("no start");
        assert!(msg.contains("no start time"), "{msg}");
    }

    #[test]
    fn ics_row_errors_for_missing_provider_and_bad_dob() {
        let r = ics(&event(&[
            "DTSTART:20250314T090000",
            "SUMMARY:A B",
            "DESCRIPTION:DOB: 31/02/1990",
        ]));
        let fields: Vec<_> = r.errors.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(fields, ["DOB", "X-SOS-PROVIDER"]);
        assert!(r.errors[0].message.contains("is not a real date"));
        assert!(r.errors.iter().all(|e| e.line == 3));
    }

    #[test]
    fn ics_ids_duplicates_recurrence_and_cancelled() {
        let common = [
            "DTSTART:20250314T090000",
            "SUMMARY:A B",
            "X-SOS-DOB:1990-01-01",
            "X-SOS-PROVIDER:P",
        ];
        let with = |extra: &[&str]| {
            let mut l = common.to_vec();
            l.extend_from_slice(extra);
            event(&l)
        };
        let r = ics(&format!(
            "{}{}{}{}",
            with(&["UID:u1"]),
            with(&["UID:u1", "RECURRENCE-ID:20250314T090000"]),
            with(&["UID:u1"]),
            with(&["UID:u2", "STATUS:CANCELLED"]),
        ));
        let ids: Vec<_> = r
            .rows
            .iter()
            .filter_map(|a| a.external_id.as_deref())
            .collect();
        assert_eq!(ids, ["u1", "u1#20250314T090000"]);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].field.as_deref(), Some("UID"));
        assert!(
            r.errors[0]
                .message
                .contains("also used by the event on line 3")
        );
    }

    #[test]
    fn unterminated_event_is_reported() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20250314T090000\nSUMMARY:A B\n";
        let r = parse_ics(text.as_bytes()).expect("parses");
        let e = only_error(&r);
        assert_eq!((e.line, e.field.as_deref()), (2, Some("VEVENT")));
    }

    #[test]
    fn malformed_lines_are_ignored_not_fatal() {
        let r = ics(&event(&[
            "DTSTART:20250314T090000",
            "this line has no colon",
            "X-BAD;PARAM=\"unclosed:value",
            "SUMMARY:A B",
            "X-SOS-DOB:1990-01-01",
            "X-SOS-PROVIDER:P",
        ]));
        assert_eq!(r.rows.len(), 1, "{:?}", r.errors);
    }

    #[test]
    fn not_ics_is_a_whole_file_error() {
        assert!(matches!(
            parse_ics(b"first_name,last_name\n"),
            Err(ImportError::NotIcs)
        ));
        assert!(matches!(parse_ics(b""), Err(ImportError::Empty)));
    }

    // ----- auto -----

    #[test]
    fn auto_picks_by_extension_then_content() {
        assert_eq!(
            parse_auto("today.CSV", SAMPLE_CSV).expect("csv").rows.len(),
            5
        );
        assert_eq!(
            parse_auto("today.ics", SAMPLE_ICS).expect("ics").rows.len(),
            5
        );
        // Content wins over a misleading or missing extension.
        assert_eq!(
            parse_auto("export.txt", SAMPLE_ICS)
                .expect("ics")
                .rows
                .len(),
            5
        );
        assert_eq!(
            parse_auto("calendar.csv", SAMPLE_ICS)
                .expect("ics")
                .rows
                .len(),
            5
        );
        assert_eq!(parse_auto("export", SAMPLE_CSV).expect("csv").rows.len(), 5);
        assert!(matches!(
            parse_auto("today.ics", SAMPLE_CSV),
            Err(ImportError::NotIcs)
        ));
        assert!(matches!(
            parse_auto("today.xlsx", b"PK\x03\x04...."),
            Err(ImportError::Spreadsheet)
        ));
        let ny = TimeZone::get("America/New_York").expect("tzdb");
        let r = parse_auto_in("a.ics", SAMPLE_ICS, &ny).expect("ics");
        assert_eq!(r.rows[2].starts_at, date(2025, 3, 14).at(14, 30, 0, 0));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let samples: [&[u8]; 8] = [
            b"BEGIN:VCALENDAR\n;;;:\n:\nBEGIN:\nEND:\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART;=:\nDTSTART;A=\"",
            b"BEGIN:VCALENDAR\r\n \r\n\t\r\nBEGIN:VEVENT\r\nSUMMARY:\\\r\nDTSTART:T\r\nDTSTART:ZZ\r\nEND:VEVENT",
            b"\xff\xfe\x00",
            b"\xfe\xff\xd8\x00",
            b"first_name,last_name,dob,time,provider\n\"unterminated,a,b\n",
            b"first_name,last_name,dob,time,provider\n\xe9\xe9,\x81,99999999,99:99 PM,\x9d\n",
            b"time,start\n",
            b"dob,time\n1/1/99999,2025-99-99T99:99\n",
        ];
        for s in samples {
            let _ = parse_auto("x", s);
            let _ = parse_csv(s);
            let _ = parse_ics(s);
        }
    }
}
