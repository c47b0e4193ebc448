//! Exports over HTTP, streamed a page at a time: the audit log as CSV or
//! JSONL and decided approvals as JSONL for signed-in admins (`/exports/`,
//! the Audit page's links), and the same decision lines for API keys an
//! admin has allowed (`GET /api/v1/decisions`, `rest/decisions.rs`).
//! Refusals (not signed in, not allowed, a bad filter) are JSON problems,
//! decided before the first byte is sent.

use crate::model::Status;
use crate::server::domain::{ApiKey, AuditFilter, Order, StoredAuditEntry, User};
use crate::server::http::paged_body::paged_body;
use crate::server::http::problem::Problem;
use crate::server::http::session;
use crate::server::service::{
    Actor, DecisionLine, DecisionQuery, DecisionReader, Service, ServiceError, EXPORT_PAGE,
};
use crate::server::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/exports/audit.csv", get(audit_csv))
        .route("/exports/audit.jsonl", get(audit_jsonl))
        .route("/exports/decisions.jsonl", get(decisions_jsonl))
}

pub type Params = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

/// The query's parameters, a malformed query a JSON problem.
pub fn params(params: Params) -> Result<HashMap<String, String>, Problem> {
    params
        .map(|Query(params)| params)
        .map_err(|rejection| Problem::bad_request("invalid_query", rejection.body_text()))
}

fn text(params: &HashMap<String, String>, name: &str) -> Option<String> {
    params
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A time filter: RFC 3339 (`2026-11-29T10:00:00Z`) or a UTC date
/// (`2026-11-29`, its midnight), as Unix ms; the error names `name`.
pub fn parse_time(name: &str, raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(at.timestamp_millis());
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(day
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    Err(format!(
        "{name} must be a date (2026-11-29) or an RFC 3339 time (got {raw:?})"
    ))
}

fn time(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Problem> {
    text(params, name)
        .map(|raw| parse_time(name, &raw))
        .transpose()
        .map_err(|detail| Problem::unprocessable("invalid_time", detail))
}

async fn signed_in(service: &Service, headers: &HeaderMap) -> Result<User, Problem> {
    session::current_user(service, headers)
        .await?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "not_signed_in",
                "sign in as an admin to export",
            )
        })
}

fn streamed(content_type: &'static str, file_name: &str, body: Body) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The audit filter of a query: actor, approval, kind, since, until.
pub fn audit_filter(params: &HashMap<String, String>) -> Result<AuditFilter, Problem> {
    Ok(AuditFilter {
        // Resolved from words (an email, an agent's name) by the caller.
        actors: None,
        approval_id: text(params, "approval"),
        kind: text(params, "kind"),
        since: time(params, "since")?,
        until: time(params, "until")?,
        order: Order::OldestFirst,
        after_seq: None,
        limit: EXPORT_PAGE,
    })
}

async fn audit_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Params,
) -> Result<Response, Problem> {
    let header = "seq,time,kind,actor,approval_id,subject,detail,hash\n";
    audit_export(
        state,
        headers,
        query,
        header,
        csv_line,
        "text/csv; charset=utf-8",
        "csv",
    )
    .await
}

async fn audit_jsonl(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Params,
) -> Result<Response, Problem> {
    audit_export(
        state,
        headers,
        query,
        "",
        json_line,
        "application/x-ndjson",
        "jsonl",
    )
    .await
}

async fn audit_export(
    state: AppState,
    headers: HeaderMap,
    query: Params,
    header: &'static str,
    line: fn(&StoredAuditEntry) -> String,
    content_type: &'static str,
    extension: &str,
) -> Result<Response, Problem> {
    let params = params(query)?;
    let mut filter = audit_filter(&params)?;
    let service = state.service;
    let user = signed_in(&service, &headers).await?;
    if let Some(words) = text(&params, "actor") {
        filter.actors = Some(service.audit_actors(&words).await?);
    }
    let read = move |service: Arc<Service>, user: User, filter: AuditFilter| async move {
        let entries = service.audit_log(Actor::Person(&user), &filter).await?;
        let after = entries.last().and_then(|e| e.seq);
        let bytes: String = entries.iter().map(line).collect();
        let next = (entries.len() as i64 == filter.limit).then_some(AuditFilter {
            after_seq: after,
            ..filter
        });
        Ok::<_, ServiceError>((bytes, next))
    };
    let (first, next) = read(service.clone(), user.clone(), filter).await?;
    let body = paged_body(
        Bytes::from(format!("{header}{first}")),
        next,
        move |filter: AuditFilter| {
            let (service, user) = (service.clone(), user.clone());
            async move {
                let (bytes, next) = read(service, user, filter).await?;
                Ok::<_, ServiceError>((Bytes::from(bytes), next))
            }
        },
    );
    Ok(streamed(
        content_type,
        &format!("holdpoint-audit.{extension}"),
        body,
    ))
}

fn json_line<T: serde::Serialize>(value: &T) -> String {
    let mut line = serde_json::to_string(value).unwrap_or_default();
    line.push('\n');
    line
}

fn csv_line(entry: &StoredAuditEntry) -> String {
    let time = chrono::DateTime::from_timestamp_millis(entry.at)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let fields = [
        entry.seq.map(|s| s.to_string()).unwrap_or_default(),
        time,
        entry.kind.clone(),
        entry.actor.clone(),
        entry.approval_id.clone().unwrap_or_default(),
        entry.subject.clone().unwrap_or_default(),
        entry.detail.clone().unwrap_or_default(),
        entry.hash.clone().unwrap_or_default(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// A CSV field: quoted when it holds a comma, quote or line break; and a
/// leading `=`, `+`, `-`, `@`, tab or carriage return made inert with a
/// `'` (OWASP's list), so a spreadsheet never runs text an agent or a
/// person wrote as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The decision query of a request: kind, agent, outcome (one or several,
/// comma-separated), since, until.
pub fn decision_query(params: &HashMap<String, String>) -> Result<DecisionQuery, Problem> {
    let outcomes = match text(params, "outcome") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|raw| match raw.trim().parse::<Status>() {
                Ok(status) if status != Status::Pending => Ok(status),
                _ => Err(Problem::unprocessable(
                    "invalid_outcome",
                    format!(
                        "outcome must be approved, denied, expired or cancelled, or several \
                         of them separated by commas (got {raw:?})"
                    ),
                )),
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(DecisionQuery {
        kind: text(params, "kind"),
        agent: text(params, "agent"),
        outcomes,
        since: time(params, "since")?,
        until: time(params, "until")?,
    })
}

/// Who reads the decisions, owned for as long as the answer streams.
#[derive(Clone)]
pub enum DecisionAsker {
    Person(User),
    Key(ApiKey),
}

impl DecisionAsker {
    fn reader(&self) -> DecisionReader<'_> {
        match self {
            DecisionAsker::Person(user) => DecisionReader::Person(user),
            DecisionAsker::Key(key) => DecisionReader::Key(key),
        }
    }
}

/// Decided approvals as JSONL, streamed.
pub async fn decisions_response(
    service: Arc<Service>,
    asker: DecisionAsker,
    query: DecisionQuery,
) -> Result<Response, Problem> {
    let filter = service.decision_filter(asker.reader(), &query).await?;
    let read = move |service: Arc<Service>, asker: DecisionAsker, filter| async move {
        let lines: Vec<DecisionLine> = service.decisions_page(asker.reader(), &filter).await?;
        let next = (lines.len() as i64 == filter.limit).then(|| {
            let mut next = filter.clone();
            next.after = lines.last().map(|line| line.id.clone());
            next
        });
        let bytes: String = lines.iter().map(json_line).collect();
        Ok::<_, ServiceError>((bytes, next))
    };
    let (first, next) = read(service.clone(), asker.clone(), filter).await?;
    let body = paged_body(Bytes::from(first), next, move |filter| {
        let (service, asker) = (service.clone(), asker.clone());
        async move {
            let (bytes, next) = read(service, asker, filter).await?;
            Ok::<_, ServiceError>((Bytes::from(bytes), next))
        }
    });
    Ok(streamed(
        "application/x-ndjson",
        "holdpoint-decisions.jsonl",
        body,
    ))
}

async fn decisions_jsonl(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Params,
) -> Result<Response, Problem> {
    let query = decision_query(&params(query)?)?;
    let user = signed_in(&state.service, &headers).await?;
    decisions_response(state.service, DecisionAsker::Person(user), query).await
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_made_inert() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"no\""), "\"say \"\"no\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
        // A leading tab or carriage return, too (a spreadsheet may drop
        // it and read the formula after it).
        assert_eq!(csv_field("\t=1+1"), "'\t=1+1");
        assert_eq!(csv_field("\r=1+1"), "\"'\r=1+1\"");
    }
}
