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

mod from_csv;
mod from_ics;
mod text;
mod when;

use std::fmt;

use jiff::civil::{Date, DateTime};
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

/// A row's fields as CSV or ICS read them: a missing one means the row
/// failed, and its errors say why. One builder for both formats.
struct Fields {
    first_name: Option<String>,
    last_name: Option<String>,
    date_of_birth: Option<Date>,
    starts_at: Option<DateTime>,
    provider: Option<String>,
    kind: Option<String>,
    notes: Option<String>,
    external_id: Option<Option<String>>,
}

impl Fields {
    /// The appointment, or every error of the row (`errors` non-empty, or
    /// a field missing because its check already failed).
    fn finish(
        self,
        line: usize,
        errors: Vec<RowError>,
    ) -> Result<ImportedAppointment, Vec<RowError>> {
        match self {
            Fields {
                first_name: Some(first_name),
                last_name: Some(last_name),
                date_of_birth: Some(date_of_birth),
                starts_at: Some(starts_at),
                provider: Some(provider),
                kind: Some(kind),
                notes: Some(notes),
                external_id: Some(external_id),
            } if errors.is_empty() => Ok(ImportedAppointment {
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

use from_csv::*;
use from_ics::*;
use text::*;
use when::*;

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const SAMPLE_CSV: &[u8] = include_bytes!("../../../assets/samples/appointments.csv");
    const SAMPLE_ICS: &[u8] = include_bytes!("../../../assets/samples/appointments.ics");

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
