//! What may be spoken, and in which pieces.
//!
//! Text reaching the speakers comes from templates filled with names typed by
//! patients and staff, so it is sanitised first: no markup (nothing that
//! could pass for SSML), no URLs or e-mail addresses read out letter by
//! letter, only letters, digits and ordinary punctuation, and a length limit.
//! Then it is split into clauses at `, . ! ? ; :` so each clause can be
//! phonemised with its punctuation kept (piper-rs 0.2.0 drops it, which
//! removes every pause) and synthesised, cached and played on its own.

/// Longest text spoken at once, in characters.
pub const DEFAULT_MAX_CHARS: usize = 240;

/// Words ending in "." that do not end a clause.
const ABBREVIATIONS: [&str; 10] = [
    "dr", "mr", "mrs", "ms", "mx", "st", "jr", "sr", "prof", "no",
];

/// One clause: the words and the punctuation that ended it (if any).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Clause {
    pub body: String,
    pub punct: Option<char>,
}

impl Clause {
    /// The clause as written, e.g. "Welcome,".
    pub fn text(&self) -> String {
        match self.punct {
            Some(p) => format!("{}{p}", self.body),
            None => self.body.clone(),
        }
    }

    /// True when the clause ends a sentence.
    pub fn ends_sentence(&self) -> bool {
        matches!(self.punct, Some('.' | '!' | '?') | None)
    }
}

fn is_url_like(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    w.contains("://") || w.starts_with("www.") || w.contains('@')
}

/// Removes markup, URLs and anything that is not speech; collapses
/// whitespace and repeated punctuation; cuts to `max_chars` at a clause or
/// word boundary.
pub fn sanitise(text: &str, max_chars: usize) -> String {
    // 1. Drop markup: everything between < and >, and unfilled {placeholders}.
    let mut plain = String::with_capacity(text.len());
    let mut depth_angle = 0usize;
    let mut depth_brace = 0usize;
    for c in text.chars() {
        match c {
            '<' => depth_angle += 1,
            '>' if depth_angle > 0 => {
                depth_angle -= 1;
                plain.push(' ');
            }
            '{' => depth_brace += 1,
            '}' if depth_brace > 0 => {
                depth_brace -= 1;
                plain.push(' ');
            }
            _ if depth_angle > 0 || depth_brace > 0 => {}
            _ => plain.push(c),
        }
    }

    // 2. Drop URL-like words, map the rest character by character.
    let mut mapped = String::with_capacity(plain.len());
    for word in plain.split_whitespace() {
        if is_url_like(word) {
            continue;
        }
        for c in word.chars() {
            match c {
                c if c.is_alphanumeric() => mapped.push(c),
                '.' | ',' | '!' | '?' | ';' | ':' | '-' | '\'' => mapped.push(c),
                '\u{2019}' | '\u{2018}' | '`' => mapped.push('\''),
                '\u{2013}' | '\u{2014}' => mapped.push_str(", "),
                '&' => mapped.push_str(" and "),
                _ => mapped.push(' '),
            }
        }
        mapped.push(' ');
    }

    // 3. Collapse whitespace and punctuation runs; no space before punctuation.
    let mut out = String::with_capacity(mapped.len());
    for c in mapped.chars() {
        let is_punct = matches!(c, '.' | ',' | '!' | '?' | ';' | ':');
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if is_punct {
            while out.ends_with(' ') {
                out.pop();
            }
            match out.chars().last() {
                // A clause cannot start with punctuation.
                None => {}
                // An initial before a comma: "Sarah J., please".
                Some('.') if c == ',' => out.push(c),
                // Keep the stronger mark: a full stop beats a comma.
                Some(',' | ';' | ':') if matches!(c, '.' | '!' | '?') => {
                    out.pop();
                    out.push(c);
                }
                Some('.' | ',' | '!' | '?' | ';' | ':') => {}
                Some(_) => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    let out = out
        .trim()
        .trim_start_matches(['-', '\''])
        .trim()
        .to_string();
    limit(&out, max_chars)
}

fn limit(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    // Prefer the end of the last whole clause, else the last whole word.
    let at_clause = cut
        .char_indices()
        .filter(|(i, c)| {
            matches!(c, '.' | '!' | '?' | ',' | ';' | ':')
                && cut[i + c.len_utf8()..].starts_with(' ')
        })
        .map(|(i, c)| i + c.len_utf8())
        .next_back();
    let mut kept = match at_clause {
        Some(end) if end > max_chars / 2 => cut[..end].to_string(),
        _ => match cut.rfind(' ') {
            Some(space) => cut[..space].to_string(),
            None => cut,
        },
    };
    while kept.ends_with([',', ';', ':', ' ']) {
        kept.pop();
    }
    if !kept.ends_with(['.', '!', '?']) {
        kept.push('.');
    }
    kept
}

fn is_abbreviation(word: &str) -> bool {
    let w = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    let letters = w.chars().filter(|c| c.is_alphabetic()).count();
    // An initial ("J.") or a title ("Dr.").
    (letters == 1 && w.chars().all(char::is_alphabetic))
        || ABBREVIATIONS.contains(&w.to_lowercase().as_str())
}

/// Splits sanitised text into clauses at punctuation followed by a space or
/// the end. Initials ("Sarah J.") and titles ("Dr. Lee") do not end a clause
/// unless they are the last word; "2:30" and "2.5" are not split.
pub fn clauses(text: &str) -> Vec<Clause> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut body = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let at_break = next.is_none_or(char::is_whitespace);
        if matches!(c, ',' | '.' | '!' | '?' | ';' | ':') && at_break {
            let last_word = body.split_whitespace().last().unwrap_or("");
            if c == '.' && next.is_some() && is_abbreviation(last_word) {
                body.push(c);
                continue;
            }
            let trimmed = body.trim();
            if trimmed.is_empty() {
                // Stray punctuation: let it strengthen the previous clause.
                if let Some(prev) = out.last_mut() {
                    let prev: &mut Clause = prev;
                    if matches!(c, '.' | '!' | '?') {
                        prev.punct = Some(c);
                    }
                }
            } else {
                out.push(Clause {
                    body: trimmed.to_string(),
                    punct: Some(c),
                });
            }
            body.clear();
        } else {
            body.push(c);
        }
    }
    let trimmed = body.trim();
    if !trimmed.is_empty() {
        out.push(Clause {
            body: trimmed.to_string(),
            punct: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        clauses(s).iter().map(Clause::text).collect()
    }

    #[test]
    fn greeting_and_call_split_at_their_punctuation() {
        assert_eq!(
            texts("Welcome, Sarah! Doctor Lee will be with you shortly."),
            ["Welcome,", "Sarah!", "Doctor Lee will be with you shortly."]
        );
        assert_eq!(
            texts("Sarah J., please come to Room 2."),
            ["Sarah J.,", "please come to Room 2."]
        );
        assert_eq!(
            texts("Dr. Lee is ready at 2:30. Thanks"),
            ["Dr. Lee is ready at 2:30.", "Thanks"]
        );
        assert_eq!(texts("S. J., please come."), ["S. J.,", "please come."]);
    }

    #[test]
    fn unusual_names_pass_through_unharmed() {
        for name in [
            "Zoë",
            "José",
            "Nguyễn",
            "O'Brien",
            "Anne-Marie",
            "Søren",
            "Siobhán",
            "李",
        ] {
            let s = sanitise(&format!("Welcome, {name}! Please take a seat."), 240);
            assert_eq!(s, format!("Welcome, {name}! Please take a seat."));
        }
        assert_eq!(
            sanitise("Welcome, D\u{2019}Angelo!", 240),
            "Welcome, D'Angelo!"
        );
    }

    #[test]
    fn markup_urls_and_symbols_are_not_read_out() {
        assert_eq!(
            sanitise(
                "Welcome, <speak><break time=\"9s\"/>Sarah</speak>! Visit https://evil.example/x or www.x.com, mail a@b.c",
                240
            ),
            "Welcome, Sarah! Visit or mail"
        );
        assert_eq!(sanitise("Hi {first_name}!!! ** ok ##", 240), "Hi! ok");
        assert_eq!(
            sanitise("We're ready for you — Room 2.", 240),
            "We're ready for you, Room 2."
        );
        assert_eq!(sanitise(" ,. \u{0}\u{7}", 240), "");
        assert_eq!(sanitise("Tom & Jerry", 240), "Tom and Jerry");
        assert_eq!(
            sanitise("Sarah J., please come to Room 2.", 240),
            "Sarah J., please come to Room 2."
        );
    }

    #[test]
    fn long_text_is_cut_at_a_boundary() {
        let long = "Welcome, Sarah! ".to_string() + &"blah ".repeat(100);
        let s = sanitise(&long, 60);
        assert!(s.chars().count() <= 61, "{s}");
        assert!(s.ends_with('.'));
        let s = sanitise(&"word, ".repeat(50), 40);
        assert!(s.chars().count() <= 41 && s.ends_with('.'), "{s}");
        let s = sanitise(&"x".repeat(500), 100);
        assert_eq!(s.chars().count(), 101);
    }
}
