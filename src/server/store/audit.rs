//! The audit trail: every write of it goes through `insert_audit`, inside
//! the transaction of the change it records (where the hash chain of the
//! audit log will be kept).

macro_rules! audit_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        async fn insert_audit(
            conn: &mut $conn,
            approval_id: &str,
            kind: &str,
            actor: &str,
            detail: Option<&str>,
            at: i64,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO audit_events (approval_id, kind, actor, detail, at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(approval_id)
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
