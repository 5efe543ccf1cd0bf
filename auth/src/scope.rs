//! The decision: may this principal do this action? One table, [`SCOPE_TABLE`], one row per
//! [`ActionKind`] and one column per [`RoleKind`]; [`authorize`] looks the cell up and applies it.
//! Nothing else decides, and a cell that is not spelled out as allowed refuses.
//!
//! A cell is one of:
//! - `NO`: never;
//! - `YES`: always;
//! - `OWN`: only when the action's subject is the role's own: an operator's own operator, a
//!   shop's own shop, a bank's own source, one of an election office's stations. An action
//!   with no subject, an unresolved one, or one of another kind (an operator reading a shop's
//!   account) is refused;
//! - `SUBMITTER`: (event lookups) whoever may submit that event, with that subject, may read it.

use thiserror::Error;

use crate::action::{Action, ActionKind, Subject};
use crate::role::{Principal, Role, RoleKind};

/// One cell of the scope table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    No,
    Yes,
    Own,
    Submitter,
}

const NO: Rule = Rule::No;
const YES: Rule = Rule::Yes;
const OWN: Rule = Rule::Own;
const SUBMITTER: Rule = Rule::Submitter;

/// Who may do what. Columns in [`RoleKind::ALL`] order; rows in [`ActionKind::ALL`] order
/// (checked when the crate builds). The scope matrix (`auth/tests/scope_matrix.md`) spells the
/// same decisions out for concrete principals and subjects.
#[rustfmt::skip]
pub const SCOPE_TABLE: [(ActionKind, [Rule; 7]); ActionKind::COUNT] = [
    //                                 operator   shop       bank       election   admin      clerk      auditor
    (ActionKind::SubmitRide,            [OWN,       NO,        NO,        NO,        NO,        NO,        NO]),
    (ActionKind::SubmitTap,             [OWN,       NO,        NO,        NO,        NO,        NO,        NO]),
    (ActionKind::SubmitPurchase,        [NO,        OWN,       NO,        NO,        NO,        NO,        NO]),
    (ActionKind::SubmitAuthorize,       [NO,        OWN,       NO,        NO,        NO,        NO,        NO]),
    (ActionKind::SubmitCapture,         [NO,        OWN,       NO,        NO,        NO,        NO,        NO]),
    (ActionKind::SubmitVoid,            [NO,        OWN,       NO,        NO,        NO,        NO,        NO]),
    (ActionKind::SubmitRefund,          [NO,        OWN,       NO,        NO,        NO,        NO,        NO]),
    (ActionKind::SubmitTopup,           [NO,        NO,        OWN,       NO,        NO,        NO,        NO]),
    (ActionKind::SubmitWithdraw,        [NO,        NO,        OWN,       NO,        NO,        NO,        NO]),
    (ActionKind::SubmitSend,            [NO,        NO,        OWN,       NO,        NO,        NO,        NO]),
    (ActionKind::SubmitRedeem,          [NO,        NO,        NO,        OWN,       NO,        NO,        NO]),
    (ActionKind::SubmitGrant,           [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::SubmitVoucherPurchase, [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::SubmitConvert,         [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::ReadEvent,             [SUBMITTER, SUBMITTER, SUBMITTER, SUBMITTER, SUBMITTER, NO,        YES]),
    (ActionKind::ReadAccount,           [OWN,       OWN,       NO,        NO,        NO,        NO,        YES]),
    (ActionKind::ReadHistory,           [OWN,       OWN,       NO,        NO,        NO,        NO,        YES]),
    (ActionKind::ReadShop,              [NO,        OWN,       NO,        NO,        YES,       NO,        YES]),
    (ActionKind::ReadReport,            [OWN,       OWN,       NO,        NO,        NO,        YES,       YES]),
    (ActionKind::ResolveException,      [NO,        NO,        NO,        NO,        NO,        YES,       NO]),
    (ActionKind::RunReconciliation,     [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::Settle,                [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::RecordPayout,          [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::UpsertRiders,          [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::RegisterRiderDevice,   [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::UpsertShops,           [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::ChangeProgramme,       [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::CreateKey,             [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::RevokeKey,             [NO,        NO,        NO,        NO,        YES,       NO,        NO]),
    (ActionKind::ListKeys,              [NO,        NO,        NO,        NO,        YES,       NO,        YES]),
    (ActionKind::Verify,                [NO,        NO,        NO,        NO,        NO,        NO,        YES]),
    (ActionKind::ReadMetrics,           [NO,        NO,        NO,        NO,        NO,        NO,        YES]),
];

// A misordered table would not build: row i is ActionKind i.
const _: () = {
    let mut index = 0;
    while index < ActionKind::COUNT {
        assert!(SCOPE_TABLE[index].0 as usize == index);
        index += 1;
    }
};

/// The cell for this role kind and action kind.
pub fn rule(role: RoleKind, action: ActionKind) -> Rule {
    SCOPE_TABLE[action as usize].1[role as usize]
}

/// Allows the action or says why not. Deny by default: only a `YES` cell, an `OWN` cell whose
/// subject is the role's own, or a `SUBMITTER` cell over an event the role may submit allows.
pub fn authorize(principal: &Principal, action: &Action) -> Result<(), Forbidden> {
    if allows(&principal.role, action) {
        Ok(())
    } else {
        Err(Forbidden {
            role: principal.role.label(),
            action: action.to_string(),
        })
    }
}

fn allows(role: &Role, action: &Action) -> bool {
    match rule(role.kind(), action.kind()) {
        Rule::No => false,
        Rule::Yes => true,
        Rule::Own => action.subject().is_some_and(|subject| owns(role, subject)),
        Rule::Submitter => match action {
            Action::ReadEvent(submit) => allows(role, &Action::Submit(submit.clone())),
            _ => false,
        },
    }
}

/// Whether the subject is the role's own. Kinds must agree: a shop never owns an operator, even
/// one with its name.
fn owns(role: &Role, subject: Subject<'_>) -> bool {
    match (role, subject) {
        (Role::Operator { operator }, Subject::Operator(name)) => operator == name,
        (Role::Shop { shop }, Subject::Shop(name)) => shop == name,
        (Role::Bank { source }, Subject::Bank(name)) => source == name,
        (Role::ElectionOffice { stations }, Subject::Place(name)) => {
            stations.iter().any(|station| station == name)
        }
        _ => false,
    }
}

/// A request outside the principal's scope (HTTP 403; inside a batch, that event's answer).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("`{role}` may not `{action}`")]
pub struct Forbidden {
    role: String,
    action: String,
}

impl Forbidden {
    pub const CODE: &'static str = "forbidden";

    pub fn code(&self) -> &'static str {
        Self::CODE
    }

    /// The role, as [`Role::label`] names it.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The action, in its text form.
    pub fn action(&self) -> &str {
        &self.action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_row_per_action_kind_in_order() {
        for (index, kind) in ActionKind::ALL.into_iter().enumerate() {
            assert_eq!(SCOPE_TABLE[index].0, kind);
            assert_eq!(kind as usize, index);
        }
        for (index, kind) in RoleKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, index);
        }
    }

    #[test]
    fn submitter_cells_appear_only_on_event_lookups() {
        for (kind, cells) in SCOPE_TABLE {
            if cells.contains(&Rule::Submitter) {
                assert_eq!(kind, ActionKind::ReadEvent);
            }
        }
    }
}
