//! Properties of the scope decision over arbitrary roles, names and actions.

use kanjo_auth::scope::{Rule, rule};
use kanjo_auth::{
    AccountOwner, Action, EventType, KeyId, Party, Principal, Report, Role, RoleKind, Submit,
    authorize,
};
use proptest::prelude::*;

/// Names as the engine lets them through: short ids, and now and then `:`, spaces or kana.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,12}",
        "[a-z]{1,4}:[a-z0-9]{1,4}",
        "[あ-ん ]{1,6}",
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        name().prop_map(|n| Role::operator(&n).unwrap()),
        name().prop_map(|n| Role::shop(&n).unwrap()),
        name().prop_map(|n| Role::bank(&n).unwrap()),
        prop::collection::btree_set("[a-z0-9-]{1,12}", 1..6)
            .prop_map(|s| Role::election_office(&s.into_iter().collect::<Vec<_>>()).unwrap()),
        Just(Role::TownAdmin),
        Just(Role::Clerk),
        Just(Role::Auditor),
    ]
}

fn principal() -> impl Strategy<Value = Principal> {
    (any::<[u8; 8]>(), role()).prop_map(|(id, role)| Principal {
        key_id: KeyId::from_bytes(id),
        role,
    })
}

/// Every name a role holds.
fn own_names(role: &Role) -> Vec<String> {
    match role {
        Role::Operator { operator: name }
        | Role::Shop { shop: name }
        | Role::Bank { source: name } => {
            vec![name.clone()]
        }
        Role::ElectionOffice { stations } => stations.clone(),
        Role::TownAdmin | Role::Clerk | Role::Auditor => Vec::new(),
    }
}

fn submit_for(event_type: EventType, subject: Option<String>) -> Submit {
    let named = || subject.clone().unwrap_or_default();
    match event_type {
        EventType::Ride => Submit::Ride { operator: named() },
        EventType::Tap => Submit::Tap { operator: named() },
        EventType::Purchase => Submit::Purchase { shop: named() },
        EventType::Authorize => Submit::Authorize { shop: named() },
        EventType::Capture => Submit::Capture { shop: subject },
        EventType::Void => Submit::Void { shop: subject },
        EventType::Refund => Submit::Refund { shop: subject },
        EventType::Topup => Submit::Topup { source: named() },
        EventType::Withdraw => Submit::Withdraw { source: subject },
        EventType::Send => Submit::Send { source: subject },
        EventType::Redeem => Submit::Redeem { place: named() },
        EventType::Grant => Submit::Grant,
        EventType::VoucherPurchase => Submit::VoucherPurchase,
        EventType::Convert => Submit::Convert,
    }
}

const SUBJECT_EVENTS: [EventType; 11] = [
    EventType::Ride,
    EventType::Tap,
    EventType::Purchase,
    EventType::Authorize,
    EventType::Capture,
    EventType::Void,
    EventType::Refund,
    EventType::Topup,
    EventType::Withdraw,
    EventType::Send,
    EventType::Redeem,
];

/// Every action whose subject is `subject`, or with no subject at all.
fn actions_about(subject: &str) -> Vec<Action> {
    let s = || subject.to_owned();
    let mut actions: Vec<Action> = EventType::ALL
        .into_iter()
        .flat_map(|t| {
            [
                Action::Submit(submit_for(t, Some(s()))),
                Action::ReadEvent(submit_for(t, Some(s()))),
            ]
        })
        .collect();
    for owner in [
        AccountOwner::Rider { rider: s() },
        AccountOwner::Operator { operator: s() },
        AccountOwner::Shop { shop: s() },
        AccountOwner::Budget { budget: s() },
        AccountOwner::Town { town: s() },
        AccountOwner::Bank { source: s() },
        AccountOwner::Issuer { asset: s() },
        AccountOwner::Place { place: s() },
        AccountOwner::Breakage { asset: s() },
        AccountOwner::Clearing,
        AccountOwner::Unclassified,
    ] {
        actions.push(Action::ReadAccount(owner.clone()));
        actions.push(Action::ReadHistory(owner));
    }
    actions.push(Action::ReadShop { shop: s() });
    for report in [
        Report::TrialBalance,
        Report::Operator { operator: s() },
        Report::Shop { shop: s() },
        Report::AllShops,
        Report::Budgets,
        Report::Expiry,
        Report::Settlements,
        Report::Statement {
            party: Party::Operator(s()),
        },
        Report::Statement {
            party: Party::Shop(s()),
        },
        Report::PayoutFile,
        Report::Reconciliations,
        Report::FinancePage,
    ] {
        actions.push(Action::ReadReport(report));
    }
    actions.extend(ADMIN_AND_OTHER_ACTIONS.iter().cloned());
    actions
}

const ADMIN_AND_OTHER_ACTIONS: [Action; 13] = [
    Action::ResolveException,
    Action::RunReconciliation,
    Action::Settle,
    Action::RecordPayout,
    Action::UpsertRiders,
    Action::RegisterRiderDevice,
    Action::UpsertShops,
    Action::ChangeProgramme,
    Action::CreateKey,
    Action::RevokeKey,
    Action::ListKeys,
    Action::Verify,
    Action::ReadMetrics,
];

/// Whether the role may do this action whoever it is about: a `YES` cell, or a `SUBMITTER`
/// cell over an event type with a `YES` cell.
fn unscoped(role: RoleKind, action: &Action) -> bool {
    match rule(role, action.kind()) {
        Rule::Yes => true,
        Rule::Submitter => match action {
            Action::ReadEvent(submit) => {
                rule(role, Action::Submit(submit.clone()).kind()) == Rule::Yes
            }
            _ => false,
        },
        Rule::No | Rule::Own => false,
    }
}

fn is_write(action: &Action) -> bool {
    matches!(
        action,
        Action::Submit(_)
            | Action::ResolveException
            | Action::RunReconciliation
            | Action::Settle
            | Action::RecordPayout
            | Action::UpsertRiders
            | Action::RegisterRiderDevice
            | Action::UpsertShops
            | Action::ChangeProgramme
            | Action::CreateKey
            | Action::RevokeKey
    )
}

proptest! {
    /// Deny by default: a party that is not the principal's own gets nothing an owner would get.
    /// Whatever a principal may do about a stranger, it may do about anyone (it is not scoped).
    #[test]
    fn a_stranger_subject_gets_only_what_every_subject_gets(
        principal in principal(),
        stranger in name(),
        other in name(),
    ) {
        let own = own_names(&principal.role);
        prop_assume!(!own.contains(&stranger) && !own.contains(&other));
        for (about_stranger, about_other) in actions_about(&stranger).iter().zip(actions_about(&other)) {
            let allowed = authorize(&principal, about_stranger).is_ok();
            prop_assert_eq!(
                allowed,
                authorize(&principal, &about_other).is_ok(),
                "`{}` vs `{}`", about_stranger, about_other
            );
            if allowed {
                prop_assert!(unscoped(principal.role.kind(), about_stranger), "`{}` allowed to `{}` through an OWN cell", about_stranger, principal.role);
            }
        }
    }

    /// A subject the engine could not look up is refused to every role; only the auditor reads
    /// such an event.
    #[test]
    fn an_unresolved_subject_is_refused(principal in principal()) {
        for event_type in [EventType::Capture, EventType::Void, EventType::Refund, EventType::Withdraw, EventType::Send] {
            let submit = submit_for(event_type, None);
            prop_assert!(authorize(&principal, &Action::Submit(submit.clone())).is_err());
            prop_assert_eq!(
                authorize(&principal, &Action::ReadEvent(submit)).is_ok(),
                principal.role == Role::Auditor
            );
        }
    }

    /// Scoped events are allowed exactly when the subject is the role's own, for the one kind of
    /// role that submits that type.
    #[test]
    fn a_scoped_event_is_allowed_only_for_its_own_subject(principal in principal(), pick in any::<prop::sample::Index>()) {
        let own = own_names(&principal.role);
        prop_assume!(!own.is_empty());
        let own_name = pick.get(&own).clone();
        for event_type in SUBJECT_EVENTS {
            let submitter = match event_type {
                EventType::Ride | EventType::Tap => RoleKind::Operator,
                EventType::Redeem => RoleKind::ElectionOffice,
                EventType::Topup | EventType::Withdraw | EventType::Send => RoleKind::Bank,
                _ => RoleKind::Shop,
            };
            let action = Action::Submit(submit_for(event_type, Some(own_name.clone())));
            prop_assert_eq!(authorize(&principal, &action).is_ok(), principal.role.kind() == submitter, "{}", action);
        }
    }

    /// Nobody but the town administrator makes or revokes keys; listing them is also the
    /// auditor's.
    #[test]
    fn nobody_but_town_admin_manages_keys(principal in principal()) {
        let admin = principal.role == Role::TownAdmin;
        prop_assert_eq!(authorize(&principal, &Action::CreateKey).is_ok(), admin);
        prop_assert_eq!(authorize(&principal, &Action::RevokeKey).is_ok(), admin);
        prop_assert_eq!(
            authorize(&principal, &Action::ListKeys).is_ok(),
            admin || principal.role == Role::Auditor
        );
    }

    /// The auditor reads everything and writes nothing.
    #[test]
    fn the_auditor_reads_everything_and_writes_nothing(key in any::<[u8; 8]>(), subject in name()) {
        let auditor = Principal { key_id: KeyId::from_bytes(key), role: Role::Auditor };
        for action in actions_about(&subject) {
            prop_assert_eq!(authorize(&auditor, &action).is_ok(), !is_write(&action), "{}", action);
        }
    }

    /// The check-in leak: an election office reads no account, not even its own stations'.
    #[test]
    fn an_election_office_reads_no_place_account(principal in principal()) {
        if let Role::ElectionOffice { stations } = &principal.role {
            for station in stations {
                let owner = AccountOwner::Place { place: station.clone() };
                prop_assert!(authorize(&principal, &Action::ReadAccount(owner.clone())).is_err());
                prop_assert!(authorize(&principal, &Action::ReadHistory(owner)).is_err());
                let redeem = Action::Submit(Submit::Redeem { place: station.clone() });
                prop_assert!(authorize(&principal, &redeem).is_ok());
            }
        }
    }

    /// The decision depends on the role alone, never on which key carried it.
    #[test]
    fn the_key_id_does_not_matter(a in principal(), other_key in any::<[u8; 8]>(), subject in name()) {
        let b = Principal { key_id: KeyId::from_bytes(other_key), role: a.role.clone() };
        for action in actions_about(&subject) {
            prop_assert_eq!(authorize(&a, &action).is_ok(), authorize(&b, &action).is_ok());
        }
    }

    /// Every action's text form reads back as the same action.
    #[test]
    fn actions_read_back_from_their_text(subject in name()) {
        for action in actions_about(&subject) {
            prop_assert_eq!(Action::parse(&action.to_string()), Ok(action));
        }
    }

    /// Parsing any text as an action or a role answers, and never panics.
    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,40}|[a-z -:(),]{0,40}") {
        let _ = Action::parse(&text);
        let _ = Role::parse(&text);
    }
}
