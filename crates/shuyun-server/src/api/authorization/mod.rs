//! The authorization lifecycle API (授权运营, B1-B6, G6): implementation
//! plans (`plans`), operator selections (`selections`), agreements,
//! scenarios, the access decision and exits (`agreements`), and the
//! public disclosure (`disclosure`). Thin handlers: each calls one store
//! operation; working-day deadlines are computed here from the calendar and
//! passed in.

pub mod agreements;
pub mod disclosure;
pub mod plans;
pub mod selections;

use serde::Deserialize;

/// The note or reason that goes with a step (审核意见, 理由, 文号).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepNote {
    /// Required for rejections, withdrawals, suspensions and terminations
    /// (the reasons) and for filings (the document number, 备案文号).
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub note: String,
}
