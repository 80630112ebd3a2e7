//! Shared by CSV and ICS: bytes to text (BOMs, UTF-16, Windows-1252) and
//! the field checks every imported value passes (length, control
//! characters, names).

use std::borrow::Cow;

use super::*;

/// Size and type checks, BOM removal and UTF-16 to UTF-8. The result may
/// still be Windows-1252; see [`decode_str`].
pub(super) fn prepare(input: &[u8]) -> Result<Cow<'_, [u8]>, ImportError> {
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

pub(super) fn utf16_to_utf8(bytes: &[u8], read: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| read([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// UTF-8 if valid, else Windows-1252 (never fails: every byte maps).
pub(super) fn decode_str(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| cp1252(b)).collect()),
    }
}

pub(super) fn cp1252(b: u8) -> char {
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

pub(super) fn looks_like_ics(bytes: &[u8]) -> bool {
    let start = bytes.trim_ascii_start();
    start
        .get(..15)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"BEGIN:VCALENDAR"))
}

/// Control and invisible direction characters: in a name they are paste
/// accidents or spoofing (a right-to-left override reverses what staff see).
pub(super) fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

pub(super) fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One free-text field: trimmed, inner whitespace collapsed, bounded; names
/// and providers are also free of characters that only ever appear in markup
/// or injection attempts.
pub(super) fn clean_text(
    label: &str,
    raw: &str,
    max: usize,
    name_like: bool,
) -> Result<String, String> {
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

pub(super) fn clean_name(label: &str, raw: &str) -> Result<String, String> {
    clean_text(label, raw, MAX_NAME_CHARS, true)
}

pub(super) fn clean_provider(label: &str, raw: &str) -> Result<String, String> {
    clean_text(label, raw, MAX_PROVIDER_CHARS, true)
}

pub(super) fn clean_kind(label: &str, raw: &str) -> Result<String, String> {
    clean_text(label, raw, MAX_KIND_CHARS, false)
}

/// Notes are free text from the practice software: keep line breaks, drop
/// other control characters rather than refuse the appointment over them.
pub(super) fn clean_notes(label: &str, raw: &str) -> Result<String, String> {
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

pub(super) fn clean_id(label: &str, raw: &str) -> Result<Option<String>, String> {
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
