//! Turning what a person typed into something we can match: names folded
//! (case, accents, punctuation, spacing) and dates of birth parsed and
//! hashed with the box key, so the replica never holds a date of birth.

use crate::secrets::{BoxKey, Purpose};

/// Longest name part we accept; longer input is refused, not truncated.
pub const MAX_NAME_CHARS: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("Please enter your {0}.")]
    Missing(&'static str),
    #[error("Your {0} is too long (at most {MAX_NAME_CHARS} characters).")]
    TooLong(&'static str),
    #[error("Your {0} contains characters we can't read. Please use letters only.")]
    BadCharacters(&'static str),
    #[error("Please enter your date of birth as day, month and year (for example 1985-04-23).")]
    BadDate,
    #[error("That date of birth is not a real date.")]
    ImpossibleDate,
}

/// Folds a name for matching: "  José  O'Brien-Smith " -> "jose obriensmith".
pub fn fold_name(s: &str) -> String {
    let ascii = deunicode::deunicode(s).to_lowercase();
    let mut out = String::with_capacity(ascii.len());
    for word in ascii.split_whitespace() {
        let w: String = word.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w);
    }
    out
}

/// Tidies a name for display, keeping accents: collapses spaces, trims.
pub fn tidy_name(field: &'static str, s: &str) -> Result<String, IdentityError> {
    let tidy = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if tidy.is_empty() {
        return Err(IdentityError::Missing(field));
    }
    if tidy.chars().count() > MAX_NAME_CHARS {
        return Err(IdentityError::TooLong(field));
    }
    if tidy
        .chars()
        .any(|c| c.is_control() || matches!(c, '<' | '>' | '{' | '}' | '\\' | '"' | '`'))
    {
        return Err(IdentityError::BadCharacters(field));
    }
    if fold_name(&tidy).is_empty() {
        return Err(IdentityError::BadCharacters(field));
    }
    Ok(tidy)
}

/// The key we match people by: folded "first last".
pub fn name_key(first: &str, last: &str) -> String {
    let f = fold_name(first);
    let l = fold_name(last);
    match (f.is_empty(), l.is_empty()) {
        (false, false) => format!("{f} {l}"),
        (false, true) => f,
        _ => l,
    }
}

/// Accepts what phones send from a date input (YYYY-MM-DD) and what people
/// type (DD/MM/YYYY is ambiguous, so slashes are read as MM/DD/YYYY only when
/// the first part cannot be a day... we keep it simple: ISO, or M/D/YYYY).
pub fn parse_dob(s: &str) -> Result<jiff::civil::Date, IdentityError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(IdentityError::Missing("date of birth"));
    }
    if s.len() > 20 {
        return Err(IdentityError::BadDate);
    }
    let parts: Vec<&str> = s.split(['-', '/', '.']).map(str::trim).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(IdentityError::BadDate);
    }
    let nums: Vec<i32> = parts
        .iter()
        .map(|p| p.parse::<i32>().map_err(|_| IdentityError::BadDate))
        .collect::<Result<_, _>>()?;
    let (y, m, d) = if parts[0].len() == 4 {
        (nums[0], nums[1], nums[2])
    } else if parts[2].len() == 4 {
        (nums[2], nums[0], nums[1])
    } else {
        return Err(IdentityError::BadDate);
    };
    let date = jiff::civil::Date::new(
        i16::try_from(y).map_err(|_| IdentityError::ImpossibleDate)?,
        i8::try_from(m).map_err(|_| IdentityError::ImpossibleDate)?,
        i8::try_from(d).map_err(|_| IdentityError::ImpossibleDate)?,
    )
    .map_err(|_| IdentityError::ImpossibleDate)?;
    if y < 1900 || date > jiff::Zoned::now().date() {
        return Err(IdentityError::ImpossibleDate);
    }
    Ok(date)
}

/// Keyed hash of a date of birth for one tenant. The same date gives the same
/// hash on this box only.
pub fn dob_hash(key: &BoxKey, tenant: &str, dob: jiff::civil::Date) -> String {
    let tag = key.mac(Purpose::DateOfBirth, format!("{tenant}\n{dob}").as_bytes());
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_spacing_and_punctuation() {
        assert_eq!(fold_name("  José   O'Brien-Smith "), "jose obriensmith");
        assert_eq!(fold_name("ZOË"), "zoe");
        assert_eq!(name_key("Sarah ", " JONES"), "sarah jones");
    }

    #[test]
    fn dates_in_common_shapes_parse_and_nonsense_is_refused() {
        let d = jiff::civil::date(1985, 4, 23);
        assert_eq!(parse_dob("1985-04-23"), Ok(d));
        assert_eq!(parse_dob("4/23/1985"), Ok(d));
        assert_eq!(parse_dob("1985-02-30"), Err(IdentityError::ImpossibleDate));
        assert_eq!(parse_dob("yesterday"), Err(IdentityError::BadDate));
        assert_eq!(parse_dob(""), Err(IdentityError::Missing("date of birth")));
        assert_eq!(parse_dob("2999-01-01"), Err(IdentityError::ImpossibleDate));
    }

    #[test]
    fn names_with_markup_or_too_long_are_refused() {
        assert!(tidy_name("first name", "<script>").is_err());
        assert!(tidy_name("first name", &"a".repeat(61)).is_err());
        assert_eq!(
            tidy_name("first name", "  Anne  Marie ").unwrap(),
            "Anne Marie"
        );
    }
}
