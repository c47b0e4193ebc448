//! Validated newtypes. The inner value is private: the only way to get one is
//! `parse`, so a `Title` in hand is always a valid title.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an input was refused: a stable machine code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub code: &'static str,
    pub detail: String,
}

impl ValidationError {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for ValidationError {}

/// Characters that make text display differently from what it says:
/// bidirectional controls (an override can show "Refund $24\u{202E}0001" as
/// "Refund $241000") and zero-width characters (invisible, so two titles that
/// look the same differ). Refused wherever a person reads a field.
const DECEPTIVE: &[(char, &str)] = &[
    ('\u{061C}', "ARABIC LETTER MARK"),
    ('\u{180E}', "MONGOLIAN VOWEL SEPARATOR"),
    ('\u{200B}', "ZERO WIDTH SPACE"),
    ('\u{200C}', "ZERO WIDTH NON-JOINER"),
    ('\u{200D}', "ZERO WIDTH JOINER"),
    ('\u{200E}', "LEFT-TO-RIGHT MARK"),
    ('\u{200F}', "RIGHT-TO-LEFT MARK"),
    ('\u{202A}', "LEFT-TO-RIGHT EMBEDDING"),
    ('\u{202B}', "RIGHT-TO-LEFT EMBEDDING"),
    ('\u{202C}', "POP DIRECTIONAL FORMATTING"),
    ('\u{202D}', "LEFT-TO-RIGHT OVERRIDE"),
    ('\u{202E}', "RIGHT-TO-LEFT OVERRIDE"),
    ('\u{2060}', "WORD JOINER"),
    ('\u{2066}', "LEFT-TO-RIGHT ISOLATE"),
    ('\u{2067}', "RIGHT-TO-LEFT ISOLATE"),
    ('\u{2068}', "FIRST STRONG ISOLATE"),
    ('\u{2069}', "POP DIRECTIONAL ISOLATE"),
    ('\u{FEFF}', "ZERO WIDTH NO-BREAK SPACE"),
];

/// Text with each bidirectional control and zero-width character shown as
/// its escape (`\u{202E}`), as code editors show them, for text a person
/// reads but that could not be refused (an agent's preview and data keys):
/// the reader sees what is there, not what it makes the text look like.
pub fn reveal_hidden(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| DECEPTIVE.iter().any(|(deceptive, _)| *deceptive == c);
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hidden(c) {
            shown.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

/// Refuses text holding a bidirectional control or zero-width character,
/// naming it and its position (1-based, in characters) for `field`.
pub fn refuse_deceptive(
    text: &str,
    field: &str,
    code: &'static str,
) -> Result<(), ValidationError> {
    let found = text.chars().enumerate().find_map(|(index, c)| {
        DECEPTIVE
            .iter()
            .find(|(deceptive, _)| *deceptive == c)
            .map(|(_, name)| (index + 1, c, name))
    });
    match found {
        None => Ok(()),
        Some((position, c, name)) => Err(ValidationError::new(
            code,
            format!(
                "{field} contains U+{:04X} {name} at character {position}: bidirectional \
                 controls and zero-width characters are not allowed, because they make text \
                 display differently from what it says",
                c as u32
            ),
        )),
    }
}

pub const TITLE_MAX_CHARS: usize = 200;
pub const REASON_MAX_CHARS: usize = 2000;
pub const ACTION_MAX_CHARS: usize = 100;

/// The sentence the agent wrote: 1-200 characters after trimming, no control
/// characters (a title is one line the approver reads at a glance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err(ValidationError::new(
                "invalid_title",
                "title is required: a short sentence saying what the agent wants to do",
            ));
        }
        if chars > TITLE_MAX_CHARS {
            return Err(ValidationError::new(
                "invalid_title",
                format!("title is {chars} characters long; the limit is {TITLE_MAX_CHARS}"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "invalid_title",
                "title must be one line without control characters (newlines, tabs, ...)",
            ));
        }
        refuse_deceptive(trimmed, "title", "invalid_title")?;
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A denial reason: required, because it goes back to the agent and into the
/// next revision of its prompt. Newlines are allowed; other control
/// characters are not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err(ValidationError::new(
                "reason_required",
                "A denial needs a reason: say what the agent should do differently.",
            ));
        }
        if chars > REASON_MAX_CHARS {
            return Err(ValidationError::new(
                "invalid_reason",
                format!("The reason is {chars} characters long; the limit is {REASON_MAX_CHARS}."),
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(ValidationError::new(
                "invalid_reason",
                "The reason contains control characters.",
            ));
        }
        refuse_deceptive(trimmed, "The reason", "invalid_reason")?;
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A dotted kind such as `email.send_campaign`: lowercase ASCII segments of
/// letters, digits, `_` and `-`, separated by single dots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionKind(String);

impl ActionKind {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let invalid = || {
            ValidationError::new(
                "invalid_action",
                format!(
                    "action {raw:?} is not a dotted kind like \"email.send_campaign\" \
                     (lowercase letters, digits, '_' and '-', segments separated by '.', \
                     at most {ACTION_MAX_CHARS} characters)"
                ),
            )
        };
        if raw.is_empty() || raw.len() > ACTION_MAX_CHARS {
            return Err(invalid());
        }
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        if raw.split('.').all(segment_ok) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_revealed() {
        assert!(matches!(
            reveal_hidden("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
        assert_eq!(
            reveal_hidden("Refund $24\u{202E}0001\u{200B}"),
            "Refund $24\\u{202E}0001\\u{200B}"
        );
    }

    #[test]
    fn title_is_trimmed_and_bounded() {
        assert_eq!(
            Title::parse("  Refund $240  ").unwrap().as_str(),
            "Refund $240"
        );
        assert_eq!(Title::parse("   ").unwrap_err().code, "invalid_title");
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert!(Title::parse(&"é".repeat(201)).is_err());
        assert!(Title::parse("two\nlines").is_err());
        assert!(Title::parse("bell\u{7}").is_err());
    }

    #[test]
    fn text_that_displays_differently_is_refused_with_the_character_named() {
        let error = Title::parse("Refund $24\u{202E}0001").unwrap_err();
        assert_eq!(error.code, "invalid_title");
        assert!(
            error
                .detail
                .contains("U+202E RIGHT-TO-LEFT OVERRIDE at character 11"),
            "{}",
            error.detail
        );
        for c in [
            '\u{202A}', '\u{202D}', '\u{2066}', '\u{2069}', '\u{200B}', '\u{200D}', '\u{200F}',
            '\u{FEFF}', '\u{2060}',
        ] {
            assert!(Title::parse(&format!("a{c}b")).is_err(), "{c:?} in a title");
            let reason = Reason::parse(&format!("no{c}pe")).unwrap_err();
            assert_eq!(reason.code, "invalid_reason");
            assert!(
                reason.detail.contains("at character 3"),
                "{}",
                reason.detail
            );
        }
        assert!(Title::parse("Réembolso de 240 € a Lila — pedido 8821").is_ok());
        assert!(Title::parse("طلب استرداد").is_ok());
    }

    #[test]
    fn reason_is_required_and_may_span_lines() {
        assert_eq!(Reason::parse(" \n ").unwrap_err().code, "reason_required");
        assert!(Reason::parse("wrong segment\nuse the EU list").is_ok());
        assert!(Reason::parse("nul\u{0}").is_err());
    }

    #[test]
    fn action_kind_is_dotted_lowercase() {
        assert!(ActionKind::parse("email.send_campaign").is_ok());
        assert!(ActionKind::parse("db.delete-rows.v2").is_ok());
        for bad in ["", "Email.send", "a..b", ".a", "a.", "a b", "ä"] {
            assert!(ActionKind::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
