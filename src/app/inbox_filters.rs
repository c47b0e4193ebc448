//! The inbox's filters (agent, action, text), read from and written to the
//! address, so a filtered inbox can be bookmarked and shared.

use crate::model::ApprovalSummary;
use leptos_router::params::ParamsMap;

/// The inbox's filters, as in the address: `?agent=&action=&q=`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub agent: Option<String>,
    pub action: Option<String>,
    /// Matched case-insensitively against titles.
    pub text: Option<String>,
    /// An admin's view of every pending approval, not only theirs (the
    /// server's choice of what to list, kept in the address).
    pub everything: bool,
}

impl Filters {
    pub fn from_query(query: &ParamsMap) -> Self {
        let field = |name: &str| non_empty(query.get(name).unwrap_or_default());
        Filters {
            agent: field("agent"),
            action: field("action"),
            text: field("q"),
            everything: query.get("everything").as_deref() == Some("1"),
        }
    }

    /// Whether nothing narrows the list (the scope is not a filter).
    pub fn is_empty(&self) -> bool {
        self.agent.is_none() && self.action.is_none() && self.text.is_none()
    }

    pub fn matches(&self, approval: &ApprovalSummary) -> bool {
        let agent_ok = self.agent.as_ref().is_none_or(|a| *a == approval.agent);
        let action_ok = self
            .action
            .as_ref()
            .is_none_or(|a| Some(a) == approval.action.as_ref());
        let text_ok = self
            .text
            .as_ref()
            .is_none_or(|text| approval.title.to_lowercase().contains(&text.to_lowercase()));
        agent_ok && action_ok && text_ok
    }

    /// The inbox's address with these filters and the shown card.
    pub fn url(&self, selected: Option<&str>) -> String {
        let pairs = [
            ("agent", self.agent.as_deref()),
            ("action", self.action.as_deref()),
            ("q", self.text.as_deref()),
            ("everything", self.everything.then_some("1")),
            ("selected", selected),
        ];
        let query: Vec<String> = pairs
            .iter()
            .filter_map(|(name, value)| value.map(|v| format!("{name}={}", super::url_encode(v))))
            .collect();
        if query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", query.join("&"))
        }
    }
}

/// Trimmed, and None when nothing is left.
pub fn non_empty(raw: String) -> Option<String> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_and_write_the_address() {
        let filters = Filters {
            agent: Some("billing agent".into()),
            action: None,
            text: Some("refund & co".into()),
            everything: false,
        };
        assert_eq!(
            filters.url(Some("apr_1")),
            "/?agent=billing%20agent&q=refund%20%26%20co&selected=apr_1"
        );
        assert_eq!(Filters::default().url(None), "/");
        assert_eq!(non_empty("  ".into()), None);
    }
}
