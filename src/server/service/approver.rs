//! The approver's side: the inbox, one approval, history, and deciding.

use super::error::{Missing, ServiceError, ServiceResult};
use super::{from_ms, Service, INBOX_LIMIT};
use crate::model::{
    Approval, ApprovalChange, ApprovalSummary, HistoryPage, InboxData, Status, Verdict,
};
use crate::server::domain::{
    ApprovalFilter, ApprovalRecord, Order, Role, Route, Transition, User, Visibility,
};

impl Service {
    /// What a list shows this person (`User::may_see`, in SQL).
    fn visibility(user: &User) -> Option<Visibility> {
        match user.role {
            Role::Admin | Role::Viewer => None,
            Role::Approver => Some(Visibility {
                user_id: user.id.clone(),
                group_ids: user.group_ids.clone(),
            }),
        }
    }

    async fn record_for_user(&self, user: &User, id: &str) -> ServiceResult<ApprovalRecord> {
        match self.stored_approval(id).await? {
            Some(record) if user.may_see(&record.route) => Ok(record),
            _ => Err(ServiceError::NotFound(Missing::Approval)),
        }
    }

    pub async fn approval_for_user(&self, user: &User, id: &str) -> ServiceResult<Approval> {
        Ok(self.to_approval(self.record_for_user(user, id).await?))
    }

    /// Whether this person may decide the approval (which they may see).
    pub async fn may_decide(&self, user: &User, id: &str) -> ServiceResult<bool> {
        Ok(user.may_decide(&self.record_for_user(user, id).await?.route))
    }

    /// Pending approvals in this person's inbox (`User::in_inbox`), oldest
    /// first, without their previews and data (the card on screen loads
    /// its own).
    pub async fn inbox(
        &self,
        user: &User,
        everything: bool,
        limit: i64,
    ) -> ServiceResult<Vec<ApprovalSummary>> {
        let mut filter = ApprovalFilter::new(Order::OldestFirst, limit);
        filter.statuses = vec![Status::Pending];
        filter.visible_to = match (user.role, everything) {
            (Role::Viewer, _) | (Role::Admin, true) => None,
            _ => Some(Visibility {
                user_id: user.id.clone(),
                group_ids: user.group_ids.clone(),
            }),
        };
        filter.with_content = false;
        let records = self.store.approvals(&filter).await?;
        Ok(records.into_iter().map(Self::to_summary).collect())
    }

    /// What the inbox page and a live inbox's snapshot show: everything
    /// pending for this person and when they (or anyone they can see) last
    /// decided.
    pub async fn inbox_data(&self, user: &User, everything: bool) -> ServiceResult<InboxData> {
        let everything = everything && user.role == Role::Admin;
        let approvals = self.inbox(user, everything, INBOX_LIMIT).await?;
        let mut latest = Self::decided_filter(user, 1);
        latest.with_content = false;
        let latest = self.store.approvals(&latest).await?;
        Ok(InboxData {
            approvals,
            last_decided_at: latest.first().and_then(|a| a.decided_at).map(from_ms),
            viewer_email: user.email.clone(),
            may_decide: user.role.decides(),
            everything,
            may_show_everything: user.role == Role::Admin,
            now_ms: self.now_ms(),
            shown: None,
            flag_notices: Vec::new(),
        })
    }

    /// An approval as live inboxes are told of it after a change: the
    /// change itself, and whom it is routed to, so each connection can tell
    /// whether its person may see it.
    pub async fn inbox_change(
        &self,
        id: &str,
        seq: i64,
    ) -> ServiceResult<Option<(ApprovalChange, Route)>> {
        Ok(self
            .store
            .approval(id)
            .await?
            .map(|record| Self::inbox_change_of(record, seq)))
    }

    /// A changed approval as the inboxes are told it, and its route.
    pub fn inbox_change_of(record: ApprovalRecord, seq: i64) -> (ApprovalChange, Route) {
        let route = record.route.clone();
        let decided_by_name = record.decided_by_name.clone();
        let change = ApprovalChange {
            seq,
            approval: Self::to_summary(record),
            decided_by_name,
        };
        (change, route)
    }

    /// Decided approvals this person may see, newest first, without their
    /// previews and data.
    pub async fn history(
        &self,
        user: &User,
        text_contains: Option<String>,
        cursor: Option<String>,
        limit: i64,
    ) -> ServiceResult<HistoryPage> {
        let mut filter = Self::decided_filter(user, limit + 1);
        filter.text_contains = text_contains;
        filter.after = cursor;
        filter.with_content = false;
        let (records, next_cursor) = self.records_page(filter, limit).await?;
        Ok(HistoryPage {
            items: records.into_iter().map(Self::to_summary).collect(),
            next_cursor,
        })
    }

    /// Decided approvals this person may see, newest first.
    fn decided_filter(user: &User, limit: i64) -> ApprovalFilter {
        let mut filter = ApprovalFilter::new(Order::NewestFirst, limit);
        filter.statuses = Status::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        filter.visible_to = Self::visibility(user);
        filter
    }

    #[tracing::instrument(name = "decide", skip_all, fields(user = %user.id, approval = %id))]
    pub async fn decide(&self, user: &User, id: &str, verdict: Verdict) -> ServiceResult<Approval> {
        let record = self.record_for_user(user, id).await?;
        if !user.may_decide(&record.route) {
            return Err(ServiceError::Forbidden(
                "a viewer sees approvals but does not decide them: ask an admin for the \
                 approver role"
                    .to_owned(),
            ));
        }
        let transition = Transition {
            status: verdict.status(),
            reason: verdict.reason().map(str::to_owned),
            decided_by: Some(user.id.clone()),
            decided_by_policy: None,
            actor: format!("user:{}", user.id),
            at: self.now_ms(),
        };
        self.apply(id, &transition).await
    }
}
