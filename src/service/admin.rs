//! Admin calls: who may make them, and the audit trail they leave.

use super::Service;
use crate::config::AdminRole;
use crate::domain::Result;
use crate::domain::admin::{Caller, denied};
use crate::store::admin::AuditEntry;

impl Service {
    /// Checks the admin credential of a call (`Authorization: Bearer <key>`) against the role
    /// `need`. A refusal is logged and counted as a security event, never with the key.
    pub fn admin(
        &self,
        authorization: Option<&str>,
        need: AdminRole,
        action: &'static str,
    ) -> Result<Caller> {
        let keys = &self.inner.admin_keys;
        keys.authorize(authorization, need)
            .map_err(|(denial, name)| {
                self.inner.deps.metrics.security_event("admin_denied");
                tracing::warn!(
                    target: "lares::security", event = "admin_denied", action,
                    why = denial.as_str(), key = name.as_deref().unwrap_or("-"),
                    need = need.as_str(), "admin call refused"
                );
                denied(denial, need)
            })
    }

    /// An audit record of `caller` doing `action` to `target`, stamped now. `detail` is what
    /// was asked, without secrets.
    pub(crate) fn audit_entry(
        &self,
        caller: &Caller,
        action: &str,
        target: String,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            actor: caller.name.clone(),
            action: action.to_owned(),
            target,
            detail: detail.to_string(),
            at_ms: self.inner.deps.clock.now_ms(),
        }
    }

    /// Appends an audit record on its own (for changes that are not a single store write).
    #[allow(
        dead_code,
        reason = "no admin change outside a single store write uses it yet"
    )]
    pub(crate) async fn audit(&self, entry: &AuditEntry) -> Result<()> {
        self.inner.deps.data.store().append_audit(entry).await?;
        tracing::info!(
            target: "lares::audit", actor = %entry.actor, action = %entry.action,
            target_id = %entry.target, "admin action"
        );
        Ok(())
    }
}
