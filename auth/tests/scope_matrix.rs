//! The scope matrix (`scope_matrix.md` beside this file) is the specification of who may do
//! what: every role × every action, allowed or forbidden. These tests hold `authorize` to it,
//! and hold the matrix to covering every cell of the scope table.

use std::collections::BTreeSet;

use kanjo_auth::scope::{Rule, rule};
use kanjo_auth::{
    Action, ActionKind, Forbidden, KeyId, Principal, Role, RoleKind, Submit, authorize,
};

const MATRIX: &str = include_str!("scope_matrix.md");

struct Row {
    line: usize,
    action: Action,
    allowed: Vec<bool>,
}

struct Matrix {
    principals: Vec<Principal>,
    rows: Vec<Row>,
}

/// Reads every table of the matrix. Each table's header names the same principals.
fn matrix() -> Matrix {
    let mut principals: Option<Vec<Principal>> = None;
    let mut rows = Vec::new();
    for (index, line) in MATRIX.lines().enumerate() {
        let line_number = index + 1;
        let Some(inner) = line.strip_prefix('|').and_then(|l| l.strip_suffix('|')) else {
            continue;
        };
        let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
        if cells[0] == "action" {
            let header: Vec<Principal> = cells[1..]
                .iter()
                .enumerate()
                .map(|(column, role)| Principal {
                    key_id: KeyId::from_bytes([column as u8; 8]),
                    role: Role::parse(role).unwrap_or_else(|error| {
                        panic!("line {line_number}: role {role:?}: {error}")
                    }),
                })
                .collect();
            if let Some(principals) = &principals {
                assert_eq!(principals, &header, "line {line_number}: another header");
            }
            principals = Some(header);
            continue;
        }
        if cells[0].starts_with("---") {
            continue;
        }
        let action = Action::parse(cells[0])
            .unwrap_or_else(|error| panic!("line {line_number}: {:?}: {error}", cells[0]));
        assert_eq!(
            action.to_string(),
            cells[0],
            "line {line_number}: not canonical"
        );
        let allowed = cells[1..]
            .iter()
            .map(|cell| match *cell {
                "yes" => true,
                "·" => false,
                other => panic!("line {line_number}: cell {other:?} is neither `yes` nor `·`"),
            })
            .collect();
        rows.push(Row {
            line: line_number,
            action,
            allowed,
        });
    }
    let principals = principals.expect("the matrix has a table");
    assert!(rows.iter().all(|row| row.allowed.len() == principals.len()));
    Matrix { principals, rows }
}

#[test]
fn the_matrix_has_one_column_per_role_in_table_order() {
    let kinds: Vec<RoleKind> = matrix().principals.iter().map(|p| p.role.kind()).collect();
    assert_eq!(kinds, RoleKind::ALL);
}

#[test]
fn authorize_decides_every_cell_as_the_matrix_says() {
    let matrix = matrix();
    let mut wrong = Vec::new();
    for row in &matrix.rows {
        for (principal, allowed) in matrix.principals.iter().zip(&row.allowed) {
            let decided = authorize(principal, &row.action).is_ok();
            if decided != *allowed {
                wrong.push(format!(
                    "line {}: `{}` by `{}`: matrix says {}, authorize says {}",
                    row.line, row.action, principal.role, allowed, decided
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_action_is_listed_twice() {
    let matrix = matrix();
    let mut seen = BTreeSet::new();
    for row in &matrix.rows {
        assert!(
            seen.insert(row.action.to_string()),
            "line {}: `{}` again",
            row.line,
            row.action
        );
    }
}

/// Every allowing cell of the scope table is shown allowing in the matrix, and every `OWN` or
/// `SUBMITTER` cell is also shown refusing, so no rule goes untested.
#[test]
fn the_matrix_exercises_every_cell_of_the_scope_table() {
    let matrix = matrix();
    for kind in ActionKind::ALL {
        let rows: Vec<&Row> = matrix
            .rows
            .iter()
            .filter(|row| row.action.kind() == kind)
            .collect();
        assert!(!rows.is_empty(), "no row for {kind:?}");
        for (column, principal) in matrix.principals.iter().enumerate() {
            let role = principal.role.kind();
            let cell = rule(role, kind);
            let allowed_somewhere = rows.iter().any(|row| row.allowed[column]);
            let refused_somewhere = rows.iter().any(|row| !row.allowed[column]);
            match cell {
                Rule::No => assert!(!allowed_somewhere, "{kind:?} × {role}: NO, yet allowed"),
                Rule::Yes => assert!(!refused_somewhere, "{kind:?} × {role}: YES, yet refused"),
                Rule::Own | Rule::Submitter => assert!(
                    allowed_somewhere && refused_somewhere,
                    "{kind:?} × {role}: {cell:?} needs a row allowing and a row refusing"
                ),
            }
        }
    }
}

#[test]
fn a_refusal_names_the_role_and_the_action_and_answers_forbidden() {
    let principal = Principal {
        key_id: KeyId::from_bytes([1; 8]),
        role: Role::operator("donan-bus").unwrap(),
    };
    let action = Action::Submit(Submit::Ride {
        operator: "other-bus".into(),
    });
    let refusal: Forbidden = authorize(&principal, &action).unwrap_err();
    assert_eq!(refusal.code(), "forbidden");
    assert_eq!(refusal.role(), "operator:donan-bus");
    assert_eq!(refusal.action(), "submit ride operator:other-bus");
    assert_eq!(
        refusal.to_string(),
        "`operator:donan-bus` may not `submit ride operator:other-bus`"
    );
}

#[test]
fn an_election_office_is_named_by_its_station_count_not_its_whole_list() {
    let stations: Vec<String> = (0..300).map(|n| format!("station-{n:03}")).collect();
    let principal = Principal {
        key_id: KeyId::from_bytes([2; 8]),
        role: Role::election_office(&stations).unwrap(),
    };
    let refusal = authorize(&principal, &Action::Verify).unwrap_err();
    assert_eq!(refusal.role(), "election-office (300 stations)");
}
