//! Exit (退出, B5/G9): when an agreement expires, is terminated or the
//! operator leaves, its platform access is cut at once (every access is
//! denied by [`super::decide`] from then on), its working copies are
//! deleted with a destruction record (销毁记录), its full work logs (全量
//! 工作日志) are kept at least three years, and the handover (交接) is
//! tracked item by item (seed 002 §3(8); Jiangxi measures §16).

use serde::{Deserialize, Serialize};

use super::agreement::AgreementState;
use super::{add_months, text};
use crate::calendar::Date;
use crate::error::{DomainError, DomainResult};

/// How long work logs are kept after an exit, in years (G9).
pub const LOG_RETENTION_YEARS: u32 = 3;

/// Why an operator leaves.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExitCause {
    /// The term ended (期满退出).
    Expiry,
    /// Terminated by the authorities for a breach (终止运营权).
    Termination,
    /// The operator's own early exit (申请提前终止).
    Voluntary,
}

impl ExitCause {
    pub const ALL: [ExitCause; 3] = [
        ExitCause::Expiry,
        ExitCause::Termination,
        ExitCause::Voluntary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExitCause::Expiry => "expiry",
            ExitCause::Termination => "termination",
            ExitCause::Voluntary => "voluntary",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown exit cause '{s}'")))
    }

    /// The exit an agreement state means, if any (a cancelled agreement
    /// was never signed: nothing to exit).
    pub fn of(state: AgreementState) -> Option<ExitCause> {
        match state {
            AgreementState::Expired => Some(ExitCause::Expiry),
            AgreementState::Terminated => Some(ExitCause::Termination),
            AgreementState::Exited => Some(ExitCause::Voluntary),
            _ => None,
        }
    }
}

/// The instant from which a log written (or an operator exited) at
/// `from_ms` may be deleted: the start of the day after the third
/// anniversary of its Beijing date. Whole days, so always at least three
/// years.
pub fn retention_ends_ms(from_ms: i64) -> i64 {
    add_months(
        Date::from_epoch_ms_beijing(from_ms),
        LOG_RETENTION_YEARS * 12,
    )
    .add_days(1)
    .start_epoch_ms_beijing()
}

/// Refuses (`Forbidden`) deleting the logs of an operator that exited at
/// `exited_at_ms` before [`retention_ends_ms`].
pub fn check_log_deletion(exited_at_ms: i64, now_ms: i64) -> DomainResult<()> {
    let ends = retention_ends_ms(exited_at_ms);
    if now_ms < ends {
        Err(DomainError::forbidden(format!(
            "work logs are kept at least {LOG_RETENTION_YEARS} years: not before {}",
            Date::from_epoch_ms_beijing(ends)
        )))
    } else {
        Ok(())
    }
}

/// When the working copies of an exited operator are due for deletion:
/// at once (B5: "删除相关数据").
pub fn working_copies_due_ms(exited_at_ms: i64) -> i64 {
    exited_at_ms
}

/// A record that data was destroyed (销毁记录), kept in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestructionRecord {
    /// What was destroyed (a workspace, an object key), 1–500 characters.
    pub object: String,
    /// How, e.g. deletion of the objects and their encryption keys,
    /// 1–200 characters.
    pub method: String,
    pub destroyed_at_ms: i64,
    pub destroyed_by_user_id: i64,
    /// A second person who confirms (销毁确认); not the one destroying.
    pub confirmed_by_user_id: i64,
}

impl DestructionRecord {
    pub fn check(mut self) -> DomainResult<Self> {
        self.object = text("object", &self.object, 1, 500)?;
        self.method = text("method", &self.method, 1, 200)?;
        if self.confirmed_by_user_id == self.destroyed_by_user_id {
            return Err(DomainError::forbidden(
                "destruction is confirmed by a second person",
            ));
        }
        Ok(self)
    }
}

/// A standard handover item, or one added by the implementing institution.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HandoverKind {
    /// 关闭平台权限: the operator's accounts and tokens disabled.
    RevokeAccess,
    /// 删除相关数据: working copies deleted, with a destruction record.
    DeleteWorkingCopies,
    /// 留存全量工作日志: the logs sealed for retention.
    RetainLogs,
    /// 报告本级数据主管部门.
    ReportToAuthority,
    /// 交接在运营产品与服务: products, contracts and customers handed over.
    HandOverProducts,
    /// 结清费用与收益.
    SettleAccounts,
    Other,
}

impl HandoverKind {
    pub const STANDARD: [HandoverKind; 6] = [
        HandoverKind::RevokeAccess,
        HandoverKind::DeleteWorkingCopies,
        HandoverKind::RetainLogs,
        HandoverKind::ReportToAuthority,
        HandoverKind::HandOverProducts,
        HandoverKind::SettleAccounts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoverKind::RevokeAccess => "revoke_access",
            HandoverKind::DeleteWorkingCopies => "delete_working_copies",
            HandoverKind::RetainLogs => "retain_logs",
            HandoverKind::ReportToAuthority => "report_to_authority",
            HandoverKind::HandOverProducts => "hand_over_products",
            HandoverKind::SettleAccounts => "settle_accounts",
            HandoverKind::Other => "other",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            HandoverKind::RevokeAccess => "关闭运营机构平台权限",
            HandoverKind::DeleteWorkingCopies => "删除相关数据并出具销毁记录",
            HandoverKind::RetainLogs => "留存全量工作日志不少于3年",
            HandoverKind::ReportToAuthority => "报告本级数据主管部门",
            HandoverKind::HandOverProducts => "交接在运营的数据产品和服务",
            HandoverKind::SettleAccounts => "结清费用与收益",
            HandoverKind::Other => "其他",
        }
    }
}

/// One item of the handover list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HandoverItem {
    pub kind: HandoverKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by_user_id: Option<i64>,
    /// What shows it was done (a destruction record's ledger index, a
    /// document number), up to 500 characters.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence: String,
}

/// The handover to-do list of an exit, stored as one JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct HandoverChecklist(Vec<HandoverItem>);

impl HandoverChecklist {
    /// The standard items, all open.
    pub fn standard() -> Self {
        Self(
            HandoverKind::STANDARD
                .into_iter()
                .map(|kind| HandoverItem {
                    kind,
                    title: kind.label_zh().to_string(),
                    done_at_ms: None,
                    done_by_user_id: None,
                    evidence: String::new(),
                })
                .collect(),
        )
    }

    pub fn items(&self) -> &[HandoverItem] {
        &self.0
    }

    /// Adds an item of kind `other` (1–100 characters); at most 50 items.
    pub fn add(&mut self, title: &str) -> DomainResult<usize> {
        if self.0.len() >= 50 {
            return Err(DomainError::invalid("title", "at most 50 handover items"));
        }
        self.0.push(HandoverItem {
            kind: HandoverKind::Other,
            title: text("title", title, 1, 100)?,
            done_at_ms: None,
            done_by_user_id: None,
            evidence: String::new(),
        });
        Ok(self.0.len() - 1)
    }

    /// Marks item `index` done. Done once; the evidence is required for
    /// the deletion of working copies.
    pub fn complete(
        &mut self,
        index: usize,
        user_id: i64,
        evidence: &str,
        now_ms: i64,
    ) -> DomainResult<()> {
        let item = self
            .0
            .get_mut(index)
            .ok_or_else(|| DomainError::not_found(format!("handover item {index}")))?;
        if item.done_at_ms.is_some() {
            return Err(DomainError::conflict(format!(
                "'{}' is already done",
                item.title
            )));
        }
        let evidence = text("evidence", evidence, 0, 500)?;
        if item.kind == HandoverKind::DeleteWorkingCopies && evidence.is_empty() {
            return Err(DomainError::invalid(
                "evidence",
                "name the destruction record (销毁记录)",
            ));
        }
        item.done_at_ms = Some(now_ms);
        item.done_by_user_id = Some(user_id);
        item.evidence = evidence;
        Ok(())
    }

    /// The items still open.
    pub fn outstanding(&self) -> impl Iterator<Item = (usize, &HandoverItem)> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, i)| i.done_at_ms.is_none())
    }

    pub fn is_complete(&self) -> bool {
        self.outstanding().next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn at(s: &str, hour: i64) -> i64 {
        s.parse::<Date>().unwrap().start_epoch_ms_beijing() + hour * 3_600_000
    }

    #[test]
    fn logs_kept_three_years() {
        let exited = at("2026-06-30", 15);
        assert_eq!(retention_ends_ms(exited), at("2029-07-01", 0));
        assert!(check_log_deletion(exited, at("2029-06-30", 23)).is_err());
        assert_eq!(
            check_log_deletion(exited, at("2029-07-01", 0) - 1).map_err(|e| e.code),
            Err(ErrorCode::Forbidden)
        );
        assert!(check_log_deletion(exited, at("2029-07-01", 0)).is_ok());
        // Leap day: the anniversary of 29 February is 1 March.
        let leap = at("2028-02-29", 9);
        assert_eq!(retention_ends_ms(leap), at("2031-03-02", 0));
        // Late in the evening Beijing time is still that day.
        assert_eq!(retention_ends_ms(at("2026-12-31", 23)), at("2030-01-01", 0));
        assert!(retention_ends_ms(exited) - exited >= 3 * 365 * 86_400_000);
        assert_eq!(working_copies_due_ms(exited), exited);
    }

    #[test]
    fn causes() {
        assert_eq!(
            ExitCause::of(AgreementState::Expired),
            Some(ExitCause::Expiry)
        );
        assert_eq!(
            ExitCause::of(AgreementState::Terminated),
            Some(ExitCause::Termination)
        );
        assert_eq!(
            ExitCause::of(AgreementState::Exited),
            Some(ExitCause::Voluntary)
        );
        for s in AgreementState::ALL {
            assert_eq!(
                ExitCause::of(s).is_some(),
                s.is_final() && s != AgreementState::Cancelled
            );
        }
        for c in ExitCause::ALL {
            assert_eq!(ExitCause::parse(c.as_str()), Ok(c));
        }
    }

    #[test]
    fn handover() {
        let mut h = HandoverChecklist::standard();
        assert_eq!(h.items().len(), 6);
        assert!(!h.is_complete());
        let extra = h.add("归还纸质资料").unwrap();
        assert!(h.add(" ").is_err());
        let delete = h
            .items()
            .iter()
            .position(|i| i.kind == HandoverKind::DeleteWorkingCopies)
            .unwrap();
        assert_eq!(
            h.complete(delete, 1, "", 10).map_err(|e| e.code),
            Err(ErrorCode::Validation)
        );
        h.complete(delete, 1, "ledger #1234", 10).unwrap();
        assert_eq!(
            h.complete(delete, 1, "again", 11).map_err(|e| e.code),
            Err(ErrorCode::Conflict)
        );
        assert_eq!(
            h.complete(99, 1, "", 11).map_err(|e| e.code),
            Err(ErrorCode::NotFound)
        );
        let open: Vec<usize> = h.outstanding().map(|(i, _)| i).collect();
        for i in open {
            h.complete(i, 2, "", 20).unwrap();
        }
        assert!(h.is_complete());
        assert_eq!(h.items()[extra].done_by_user_id, Some(2));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<HandoverChecklist>(&json).unwrap(), h);
    }

    #[test]
    fn destruction_needs_a_second_person() {
        let r = DestructionRecord {
            object: "workspace 7".into(),
            method: "对象与密钥删除".into(),
            destroyed_at_ms: 1,
            destroyed_by_user_id: 3,
            confirmed_by_user_id: 3,
        };
        assert_eq!(
            r.clone().check().map_err(|e| e.code),
            Err(ErrorCode::Forbidden)
        );
        let ok = DestructionRecord {
            confirmed_by_user_id: 4,
            ..r
        };
        assert!(ok.check().is_ok());
    }
}
