//! CSV exports of practice-management systems: header names recognised in
//! several spellings, the delimiter sniffed, one error per bad field.

use std::collections::HashMap;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Col {
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
pub(super) fn sniff_delimiter(text: &str) -> u8 {
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

pub(super) fn csv_import(text: &str) -> Result<ImportReport, ImportError> {
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
pub(super) struct LineIndex<'t> {
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
pub(super) fn csv_row<'r>(
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
}
