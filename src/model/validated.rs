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
