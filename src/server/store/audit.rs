//! The audit trail: every write of it goes through `insert_audit_entry`,
//! inside the transaction of the change it records (where the hash chain of
//! the audit log will be kept): an approval's events, and admins' actions on
//! people, groups and keys.

macro_rules! audit_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        /// An approval's event (created, decided, expired, cancelled).
        async fn insert_audit(
            conn: &mut $conn,
            approval_id: &str,
            kind: &str,
            actor: &str,
            detail: Option<&str>,
            at: i64,
        ) -> StoreResult<()> {
            insert_audit_entry(conn, Some(approval_id), None, kind, actor, detail, at).await
        }

        /// An admin action on a person, a group or a key (`subject`:
        /// `user:ID`, `group:ID`, `key:ID`).
        async fn insert_admin_audit(
            conn: &mut $conn,
            audit: &Audit,
            kind: &str,
            subject: &str,
            detail: Option<&str>,
        ) -> StoreResult<()> {
            insert_audit_entry(
                conn,
                None,
                Some(subject),
                kind,
                &audit.actor,
                detail,
                audit.at,
            )
            .await
        }

        /// The one write of the audit trail.
        async fn insert_audit_entry(
            conn: &mut $conn,
            approval_id: Option<&str>,
            subject: Option<&str>,
            kind: &str,
            actor: &str,
            detail: Option<&str>,
            at: i64,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO audit_events (approval_id, subject, kind, actor, detail, at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(approval_id)
            .bind(subject)
            .bind(kind)
            .bind(actor)
            .bind(detail)
            .bind(at)
            .execute(conn)
            .await?;
            Ok(())
        }
    };
}

pub(crate) use audit_sql;
