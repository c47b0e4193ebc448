//! Server functions of the Policies and Review pages, and of the inbox's
//! notices of flags. Each checks that the caller is a signed-in admin (the
//! evidence answers others with none).

use crate::model::{
    ConditionTrial, KindEvidence, PoliciesData, PolicyDraft, PolicySaved, ReviewItem, ReviewQueue,
};
#[cfg(feature = "ssr")]
use crate::server::service::Actor;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "policies")]
pub async fn policies() -> Result<PoliciesData, ServerFnError> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_admin(&service).await?;
    let actor = Actor::Person(&user);
    let policies = service
        .policy_views(actor)
        .await
        .map_err(super::ssr::to_fn_error)?;
    let evidence = service
        .evidence(actor)
        .await
        .map_err(super::ssr::to_fn_error)?;
    let agents = service
        .live_key_names(actor)
        .await
        .map_err(super::ssr::to_fn_error)?;
    Ok(PoliciesData {
        policies,
        evidence,
        agents,
        thresholds: service.suggestion_thresholds(),
    })
}

/// The evidence per action kind and agent, with suggestions, for the Stats
/// page: None for people who are not admins (the section is not shown).
#[server(prefix = "/rpc", endpoint = "policy_evidence")]
pub async fn policy_evidence() -> Result<Option<(Vec<KindEvidence>, String)>, ServerFnError> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_user(&service).await?;
    match service.evidence(Actor::Person(&user)).await {
        Ok(lines) => Ok(Some((lines, service.suggestion_thresholds()))),
        Err(crate::server::service::ServiceError::Forbidden(_)) => Ok(None),
        Err(error) => Err(super::ssr::to_fn_error(error)),
    }
}

/// Creates (no id) or changes a policy. `suggestion` is the text of the
/// suggestion it was applied from, for the audit log.
#[server(prefix = "/rpc", endpoint = "save_policy")]
pub async fn save_policy(
    draft: PolicyDraft,
    suggestion: Option<String>,
) -> Result<PolicySaved, ServerFnError> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_admin(&service).await?;
    let suggestion = suggestion.filter(|s| !s.trim().is_empty());
    service
        .save_policy(Actor::Person(&user), &draft, suggestion.as_deref())
        .await
        .map_err(super::ssr::to_fn_error)
}

#[server(prefix = "/rpc", endpoint = "delete_policy")]
pub async fn delete_policy(id: String) -> Result<(), ServerFnError> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_admin(&service).await?;
    service
        .delete_policy(Actor::Person(&user), &id)
        .await
        .map_err(super::ssr::to_fn_error)
}

/// Evaluates a condition against a past request (its approval's id).
#[server(prefix = "/rpc", endpoint = "try_condition")]
pub async fn try_condition(
    condition: String,
    approval_id: String,
) -> Result<ConditionTrial, ServerFnError> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_admin(&service).await?;
    service
        .try_condition(Actor::Person(&user), &condition, &approval_id)
        .await
        .map_err(super::ssr::to_fn_error)
}

#[server(prefix = "/rpc", endpoint = "sampled_reviews")]
pub async fn sampled_reviews() -> Result<ReviewQueue, ServerFnError> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_admin(&service).await?;
    service
        .review_queue(Actor::Person(&user))
        .await
        .map_err(super::ssr::to_fn_error)
}

/// Confirms a sampled approval, or flags it with a reason (`flag`): a flag
/// puts its policy back to gate.
#[server(prefix = "/rpc", endpoint = "review_sample")]
pub async fn review_sample(
    approval_id: String,
    flag: Option<String>,
) -> Result<ReviewItem, ServerFnError> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_admin(&service).await?;
    service
        .review_sample(Actor::Person(&user), &approval_id, flag.as_deref())
        .await
        .map_err(super::ssr::to_fn_error)
}

#[server(prefix = "/rpc", endpoint = "acknowledge_flag")]
pub async fn acknowledge_flag(approval_id: String) -> Result<(), ServerFnError> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_admin(&service).await?;
    service
        .acknowledge_flag(Actor::Person(&user), &approval_id)
        .await
        .map_err(super::ssr::to_fn_error)
}
