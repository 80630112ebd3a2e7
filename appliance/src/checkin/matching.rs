//! Which of today's appointments a typed name belongs to. The date of birth
//! must match exactly (by hash); the name may differ by case, accents,
//! spacing and one typo. When two people fit, we never guess.

use crate::store::ScheduleEntry;

#[derive(Debug, PartialEq)]
pub enum Match<'a> {
    One(&'a ScheduleEntry),
    /// Several appointments fit equally well: the desk must sort it out.
    Ambiguous,
    None,
}

/// Edits allowed between the typed and the booked full name.
const MAX_EDITS: usize = 1;

pub fn find<'a>(schedule: &'a [ScheduleEntry], name_key: &str, dob_hash: &str) -> Match<'a> {
    let mut best: Option<(usize, &ScheduleEntry)> = None;
    let mut tie = false;
    for entry in schedule.iter().filter(|e| e.dob_hash == dob_hash) {
        let d = distance(&entry.name_key, name_key);
        if d > MAX_EDITS {
            continue;
        }
        match best {
            Some((bd, b)) if d == bd && b.patient_id != entry.patient_id => tie = true,
            Some((bd, _)) if d >= bd => {}
            _ => {
                best = Some((d, entry));
                tie = false;
            }
        }
    }
    match best {
        Some(_) if tie => Match::Ambiguous,
        Some((_, e)) => Match::One(e),
        None => Match::None,
    }
}

/// Damerau-Levenshtein, and names typed last-first count as the same.
fn distance(booked: &str, typed: &str) -> usize {
    let direct = strsim::damerau_levenshtein(booked, typed);
    let swapped = match typed.split_once(' ') {
        Some((a, b)) => strsim::damerau_levenshtein(booked, &format!("{b} {a}")),
        None => usize::MAX,
    };
    direct.min(swapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, key: &str, dob: &str) -> ScheduleEntry {
        ScheduleEntry {
            appointment_id: format!("a-{id}"),
            patient_id: id.into(),
            first_name: String::new(),
            last_name: String::new(),
            name_key: key.into(),
            dob_hash: dob.into(),
            provider_id: "p".into(),
            provider_name: "Lee".into(),
            starts_at: 0,
            kind: String::new(),
            notes: String::new(),
            checkin_id: None,
            checkin_status: None,
        }
    }

    #[test]
    fn one_typo_matches_two_do_not() {
        let s = vec![entry("1", "sarah jones", "d1"), entry("2", "mark li", "d2")];
        assert!(matches!(find(&s, "sarah jones", "d1"), Match::One(e) if e.patient_id == "1"));
        assert!(matches!(find(&s, "sarah jomes", "d1"), Match::One(_)));
        assert!(matches!(find(&s, "sarha jones", "d1"), Match::One(_)));
        assert!(matches!(find(&s, "jones sarah", "d1"), Match::One(_)));
        assert_eq!(find(&s, "sara jomes", "d1"), Match::None);
        // Right name, wrong date of birth: no match, whoever else is booked.
        assert_eq!(find(&s, "sarah jones", "d2"), Match::None);
    }

    #[test]
    fn two_people_equally_close_are_never_guessed_between() {
        let s = vec![entry("1", "jon smith", "d"), entry("2", "jan smith", "d")];
        assert_eq!(find(&s, "jen smith", "d"), Match::Ambiguous);
        // An exact hit beats a one-typo neighbour.
        assert!(matches!(find(&s, "jon smith", "d"), Match::One(e) if e.patient_id == "1"));
    }
}
