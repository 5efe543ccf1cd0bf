//! The ledger's rules, one test each, written as the specification reads.

use kanjo_ledger::{
    ACCOUNT_FILTER_LIMIT_MAX, Account, AccountField, AccountFilter, AccountFlags, AccountId, Asset,
    AssetField, AssetId, AssetKind, CreateAccountError, CreateAssetError, CreateTransferError as E,
    CreateTransferResult, Ledger, OwnerKind, PendingStatus, TRANSFERS_PER_BATCH_MAX, Transfer,
    TransferField, TransferFlags,
};

const JPY: AssetId = AssetId(1);
const POINTS: AssetId = AssetId(2);
const BALLOT: AssetId = AssetId(3);
const SECOND_NS: u64 = 1_000_000_000;
const T0: u64 = 1_767_225_600 * SECOND_NS;

// Accounts used throughout: a yen issuer (bank), an operator, a rider wallet, a town budget,
// a points issuer and the rider's points wallet.
const BANK: AccountId = 100;
const OPERATOR: AccountId = 101;
const RIDER: AccountId = 102;
const TOWN: AccountId = 103;
const POINTS_ISSUER: AccountId = 200;
const RIDER_POINTS: AccountId = 202;

fn ledger() -> Ledger {
    let mut ledger = Ledger::new();
    let failed = ledger.create_assets(&[
        Asset::new(JPY.0, "JPY", AssetKind::Yen, 0),
        Asset::new(POINTS.0, "PT", AssetKind::Points, 0),
        Asset::new(BALLOT.0, "BALLOT", AssetKind::Entitlement, 0),
    ]);
    assert!(failed.is_empty());
    let wallet = AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags::HISTORY;
    let failed = ledger.create_accounts(
        &[
            Account::new(BANK, JPY, OwnerKind::Issuer, AccountFlags::NONE),
            Account::new(OPERATOR, JPY, OwnerKind::Operator, AccountFlags::HISTORY),
            Account::new(RIDER, JPY, OwnerKind::Rider, wallet),
            Account::new(TOWN, JPY, OwnerKind::TownBudget, AccountFlags::NONE),
            Account::new(POINTS_ISSUER, POINTS, OwnerKind::Issuer, AccountFlags::NONE),
            Account::new(RIDER_POINTS, POINTS, OwnerKind::Rider, wallet),
        ],
        T0,
    );
    assert!(failed.is_empty(), "{failed:?}");
    ledger
}

fn yen(id: u128, debit: AccountId, credit: AccountId, amount: u64) -> Transfer {
    Transfer::new(id, debit, credit, amount, JPY, 1)
}

fn linked(transfer: Transfer) -> Transfer {
    let flags = transfer.flags | TransferFlags::LINKED;
    transfer.with_flags(flags)
}

fn pending(transfer: Transfer, timeout_seconds: u32) -> Transfer {
    Transfer {
        timeout_seconds,
        ..transfer.with_flags(transfer.flags | TransferFlags::PENDING)
    }
}

fn apply(ledger: &mut Ledger, transfers: &[Transfer], clock_ns: u64) -> Vec<(u32, E)> {
    let results = ledger.create_transfers(transfers, clock_ns);
    ledger
        .check_invariants()
        .expect("invariants hold after every batch");
    results.iter().map(|r| (r.index, r.result)).collect()
}

fn balances(ledger: &Ledger, id: AccountId) -> (u64, u64, u64, u64) {
    let a = ledger.account(id).expect("account exists");
    (
        a.debits_pending,
        a.debits_posted,
        a.credits_pending,
        a.credits_posted,
    )
}

/// Tops the rider's yen wallet up from the bank.
fn fund_rider(ledger: &mut Ledger, id: u128, amount: u64) {
    assert_eq!(apply(ledger, &[yen(id, BANK, RIDER, amount)], T0), vec![]);
}

#[test]
fn an_asset_is_created_once_and_resending_it_is_exists() {
    let mut ledger = ledger();
    let again = ledger.create_assets(&[Asset::new(JPY.0, "JPY", AssetKind::Yen, 0)]);
    assert_eq!(again[0].result, CreateAssetError::Exists);
    assert_eq!(ledger.assets().len(), 3);
    assert_eq!(
        ledger.asset(POINTS).map(|a| a.kind),
        Some(AssetKind::Points)
    );
}

#[test]
fn an_asset_id_reused_with_another_kind_is_an_error_naming_the_kind() {
    let mut ledger = ledger();
    let result = ledger.create_assets(&[Asset::new(JPY.0, "JPY", AssetKind::Stablecoin, 0)]);
    assert_eq!(
        result[0].result,
        CreateAssetError::ExistsWithDifferent(AssetField::Kind)
    );
    assert_eq!(result[0].result.code(), "exists_with_different_kind");
}

#[test]
fn an_asset_code_names_one_asset_only_and_id_zero_is_invalid() {
    let mut ledger = ledger();
    let result = ledger.create_assets(&[
        Asset::new(9, "JPY", AssetKind::Yen, 0),
        Asset::new(0, "X", AssetKind::Yen, 0),
        Asset::new(10, "JPYC", AssetKind::Stablecoin, 19),
    ]);
    let codes: Vec<_> = result.iter().map(|r| (r.index, r.result)).collect();
    assert_eq!(
        codes,
        vec![
            (0, CreateAssetError::CodeAlreadyUsed),
            (1, CreateAssetError::IdMustNotBeZero),
            (2, CreateAssetError::ScaleTooLarge)
        ]
    );
}

#[test]
fn an_account_must_hold_an_existing_asset() {
    let mut ledger = ledger();
    let result = ledger.create_accounts(
        &[Account::new(
            7,
            AssetId(77),
            OwnerKind::Rider,
            AccountFlags::NONE,
        )],
        T0,
    );
    assert_eq!(result[0].result, CreateAccountError::AssetNotFound);
    assert!(ledger.account(7).is_none());
}

#[test]
fn an_account_resent_is_exists_and_with_another_field_names_the_field() {
    let mut ledger = ledger();
    let same = Account::new(OPERATOR, JPY, OwnerKind::Operator, AccountFlags::HISTORY);
    let other_owner = Account::new(OPERATOR, JPY, OwnerKind::Shop, AccountFlags::HISTORY);
    let result = ledger.create_accounts(&[same, other_owner], T0);
    assert_eq!(result[0].result, CreateAccountError::Exists);
    assert_eq!(
        result[1].result,
        CreateAccountError::ExistsWithDifferent(AccountField::Owner)
    );
    assert_eq!(result[1].result.code(), "exists_with_different_owner");
}

#[test]
fn an_account_arrives_with_zero_balances_no_timestamp_and_one_limit_flag() {
    let mut ledger = ledger();
    let mut with_balance = Account::new(1, JPY, OwnerKind::Rider, AccountFlags::NONE);
    with_balance.credits_posted = 5;
    let mut with_timestamp = Account::new(2, JPY, OwnerKind::Rider, AccountFlags::NONE);
    with_timestamp.timestamp = 1;
    let both_limits = Account::new(
        3,
        JPY,
        OwnerKind::Rider,
        AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS,
    );
    let zero = Account::new(0, JPY, OwnerKind::Rider, AccountFlags::NONE);
    let result = ledger.create_accounts(&[with_balance, with_timestamp, both_limits, zero], T0);
    let got: Vec<_> = result.iter().map(|r| r.result).collect();
    assert_eq!(
        got,
        vec![
            CreateAccountError::CreditsPostedMustBeZero,
            CreateAccountError::TimestampMustBeZero,
            CreateAccountError::FlagsAreMutuallyExclusive,
            CreateAccountError::IdMustNotBeZero,
        ]
    );
}

#[test]
fn linked_accounts_are_created_together_or_not_at_all() {
    let mut ledger = ledger();
    let yen_wallet = Account::new(300, JPY, OwnerKind::Rider, AccountFlags::LINKED);
    let bad_points_wallet = Account::new(301, AssetId(99), OwnerKind::Rider, AccountFlags::NONE);
    let result = ledger.create_accounts(&[yen_wallet, bad_points_wallet], T0);
    let got: Vec<_> = result.iter().map(|r| (r.index, r.result)).collect();
    assert_eq!(
        got,
        vec![
            (0, CreateAccountError::LinkedEventFailed),
            (1, CreateAccountError::AssetNotFound)
        ]
    );
    assert!(ledger.account(300).is_none());
    ledger.check_invariants().expect("invariants hold");
}

#[test]
fn a_transfer_moves_its_amount_from_the_debit_to_the_credit_account() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 1_000);
    assert_eq!(
        apply(&mut ledger, &[yen(2, RIDER, OPERATOR, 230)], T0),
        vec![]
    );
    assert_eq!(balances(&ledger, RIDER), (0, 230, 0, 1_000));
    assert_eq!(balances(&ledger, OPERATOR), (0, 0, 0, 230));
    let rider = ledger.account(RIDER).expect("exists");
    assert_eq!(rider.credit_balance_posted(), 770);
    assert_eq!(rider.available_debit(), 770);
    let totals = ledger.totals(JPY);
    assert_eq!(totals.debits_posted, 1_230);
    assert_eq!(totals.credits_posted, 1_230);
}

#[test]
fn a_transfer_moves_one_asset_held_by_both_accounts() {
    let mut ledger = ledger();
    let cross_asset = yen(1, BANK, RIDER_POINTS, 5);
    let wrong_asset = Transfer::new(2, BANK, RIDER, 5, POINTS, 1);
    assert_eq!(
        apply(&mut ledger, &[cross_asset, wrong_asset], T0),
        vec![(0, E::AccountsMustHaveSameAsset), (1, E::AssetMismatch)]
    );
}

#[test]
fn a_wallet_that_debits_must_not_exceed_credits_cannot_go_negative() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 200);
    assert_eq!(
        apply(&mut ledger, &[yen(2, RIDER, OPERATOR, 201)], T0),
        vec![(0, E::ExceedsCredits)]
    );
    assert_eq!(
        apply(&mut ledger, &[yen(3, RIDER, OPERATOR, 200)], T0),
        vec![]
    );
    assert_eq!(ledger.account(RIDER).map(|a| a.available_debit()), Some(0));
}

#[test]
fn an_account_whose_credits_must_not_exceed_debits_refuses_excess_credits() {
    let mut ledger = ledger();
    let flags = AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS;
    assert!(
        ledger
            .create_accounts(&[Account::new(400, JPY, OwnerKind::System, flags)], T0)
            .is_empty()
    );
    assert_eq!(
        apply(&mut ledger, &[yen(1, BANK, 400, 1)], T0),
        vec![(0, E::ExceedsDebits)]
    );
    assert_eq!(
        apply(
            &mut ledger,
            &[yen(2, 400, BANK, 10), yen(3, BANK, 400, 10)],
            T0
        ),
        vec![]
    );
}

#[test]
fn a_closed_account_takes_no_new_transfers() {
    let mut ledger = ledger();
    let flags = AccountFlags::CLOSED;
    assert!(
        ledger
            .create_accounts(&[Account::new(500, JPY, OwnerKind::Shop, flags)], T0)
            .is_empty()
    );
    assert_eq!(
        apply(
            &mut ledger,
            &[yen(1, 500, BANK, 1), yen(2, BANK, 500, 1)],
            T0
        ),
        vec![(0, E::DebitAccountClosed), (1, E::CreditAccountClosed)]
    );
}

#[test]
fn timestamps_strictly_increase_even_when_the_clock_goes_back() {
    let mut ledger = ledger();
    apply(
        &mut ledger,
        &[yen(1, BANK, TOWN, 1), yen(2, BANK, TOWN, 1)],
        T0 + 50,
    );
    apply(&mut ledger, &[yen(3, BANK, TOWN, 1)], T0);
    let stamps: Vec<u64> = ledger.transfers().map(|t| t.timestamp).collect();
    assert_eq!(stamps, vec![T0 + 50, T0 + 51, T0 + 52]);
    let account_stamp = ledger.account(RIDER).map(|a| a.timestamp).unwrap_or(0);
    assert!(
        account_stamp < stamps[0],
        "accounts and transfers share one clock"
    );
}

#[test]
fn input_timestamps_must_be_zero() {
    let mut ledger = ledger();
    let mut transfer = yen(1, BANK, TOWN, 1);
    transfer.timestamp = 5;
    assert_eq!(
        apply(&mut ledger, &[transfer], T0),
        vec![(0, E::TimestampMustBeZero)]
    );
}

#[test]
fn a_linked_chain_succeeds_or_fails_as_one_posting() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 100);
    // A ride: fare from the rider, subsidy from the town, points granted. The fare exceeds the
    // wallet, so nothing of the ride is posted.
    let ride = [
        linked(yen(2, RIDER, OPERATOR, 180)),
        linked(yen(3, TOWN, OPERATOR, 50)),
        Transfer::new(4, POINTS_ISSUER, RIDER_POINTS, 2, POINTS, 7),
    ];
    assert_eq!(
        apply(&mut ledger, &ride, T0),
        vec![
            (0, E::ExceedsCredits),
            (1, E::LinkedEventFailed),
            (2, E::LinkedEventFailed)
        ]
    );
    assert_eq!(ledger.transfer_count(), 1);
    assert_eq!(balances(&ledger, OPERATOR), (0, 0, 0, 0));
    assert_eq!(balances(&ledger, RIDER_POINTS), (0, 0, 0, 0));

    let affordable = [
        linked(yen(12, RIDER, OPERATOR, 80)),
        linked(yen(13, TOWN, OPERATOR, 50)),
        Transfer::new(14, POINTS_ISSUER, RIDER_POINTS, 2, POINTS, 7),
    ];
    assert_eq!(apply(&mut ledger, &affordable, T0), vec![]);
    assert_eq!(balances(&ledger, OPERATOR), (0, 0, 0, 130));
    assert_eq!(balances(&ledger, RIDER_POINTS), (0, 0, 0, 2));
}

#[test]
fn a_chain_left_open_at_the_end_of_a_batch_fails() {
    let mut ledger = ledger();
    let batch = [linked(yen(1, BANK, TOWN, 1)), linked(yen(2, BANK, TOWN, 1))];
    assert_eq!(
        apply(&mut ledger, &batch, T0),
        vec![(0, E::LinkedEventFailed), (1, E::LinkedEventChainOpen)]
    );
    assert_eq!(ledger.transfer_count(), 0);
}

#[test]
fn a_failure_outside_a_chain_affects_no_other_transfer() {
    let mut ledger = ledger();
    let batch = [
        yen(1, BANK, TOWN, 10),
        yen(2, RIDER, TOWN, 10), // rider has nothing
        linked(yen(3, BANK, RIDER, 5)),
        yen(4, RIDER, OPERATOR, 5),
        yen(5, 999, TOWN, 1),
    ];
    assert_eq!(
        apply(&mut ledger, &batch, T0),
        vec![(1, E::ExceedsCredits), (4, E::DebitAccountNotFound)]
    );
    assert_eq!(ledger.transfer_count(), 3);
    assert_eq!(balances(&ledger, RIDER), (0, 5, 0, 5));
}

#[test]
fn the_same_id_with_the_same_fields_is_exists_and_changes_nothing() {
    let mut ledger = ledger();
    apply(&mut ledger, &[yen(1, BANK, TOWN, 10)], T0);
    let accounts_before: Vec<Account> = ledger.accounts().copied().collect();
    let transfers_before: Vec<Transfer> = ledger.transfers().copied().collect();
    assert_eq!(
        apply(&mut ledger, &[yen(1, BANK, TOWN, 10)], T0),
        vec![(0, E::Exists)]
    );
    let accounts_after: Vec<Account> = ledger.accounts().copied().collect();
    let transfers_after: Vec<Transfer> = ledger.transfers().copied().collect();
    assert_eq!(accounts_before, accounts_after);
    assert_eq!(transfers_before, transfers_after);
}

#[test]
fn the_same_id_with_another_field_is_an_error_naming_that_field() {
    let mut ledger = ledger();
    let original = yen(1, BANK, TOWN, 10);
    apply(&mut ledger, &[original], T0);
    let mut other_reference = original;
    other_reference.user_data_128 = 42;
    let results = apply(
        &mut ledger,
        &[
            yen(1, BANK, TOWN, 11),
            other_reference,
            yen(1, BANK, OPERATOR, 10),
        ],
        T0,
    );
    assert_eq!(
        results,
        vec![
            (0, E::ExistsWithDifferent(TransferField::Amount)),
            (1, E::ExistsWithDifferent(TransferField::UserData128)),
            (2, E::ExistsWithDifferent(TransferField::CreditAccountId)),
        ]
    );
    assert_eq!(results[0].1.code(), "exists_with_different_amount");
    assert_eq!(
        results[0].1.to_string(),
        "the transfer already exists with a different amount"
    );
    assert_eq!(balances(&ledger, TOWN), (0, 0, 0, 10));
}

#[test]
fn a_retried_chain_reports_exists_for_every_link() {
    let mut ledger = ledger();
    let chain = [linked(yen(1, BANK, TOWN, 10)), yen(2, TOWN, OPERATOR, 4)];
    assert_eq!(apply(&mut ledger, &chain, T0), vec![]);
    assert_eq!(
        apply(&mut ledger, &chain, T0),
        vec![(0, E::Exists), (1, E::Exists)]
    );
    // A chain that only partly exists is a different chain: it fails as a whole.
    let partly = [linked(yen(1, BANK, TOWN, 10)), yen(3, TOWN, OPERATOR, 4)];
    assert_eq!(
        apply(&mut ledger, &partly, T0),
        vec![(0, E::Exists), (1, E::LinkedEventFailed)]
    );
    assert!(ledger.transfer(3).is_none());
}

#[test]
fn a_pending_transfer_reserves_and_posting_it_moves_the_full_amount() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 500);
    assert_eq!(
        apply(&mut ledger, &[pending(yen(2, RIDER, OPERATOR, 300), 0)], T0),
        vec![]
    );
    assert_eq!(balances(&ledger, RIDER), (300, 0, 0, 500));
    assert_eq!(
        ledger.account(RIDER).map(|a| a.available_debit()),
        Some(200)
    );
    assert_eq!(
        apply(&mut ledger, &[yen(3, RIDER, OPERATOR, 201)], T0),
        vec![(0, E::ExceedsCredits)],
        "a reservation is not spendable"
    );
    assert_eq!(ledger.pending_status(2), Some(PendingStatus::Pending));
    assert_eq!(apply(&mut ledger, &[Transfer::post(4, 2, 0)], T0), vec![]);
    assert_eq!(balances(&ledger, RIDER), (0, 300, 0, 500));
    assert_eq!(balances(&ledger, OPERATOR), (0, 0, 0, 300));
    assert_eq!(ledger.pending_status(2), Some(PendingStatus::Posted));
    let post = ledger.transfer(4).expect("stored");
    assert_eq!(
        (post.debit_account_id, post.amount, post.asset),
        (RIDER, 300, JPY)
    );
    assert_eq!(
        apply(&mut ledger, &[Transfer::post(4, 2, 0)], T0),
        vec![(0, E::Exists)],
        "a resent post of amount 0 compares with what was asked"
    );
}

#[test]
fn a_partial_post_moves_part_and_releases_the_rest() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 500);
    apply(&mut ledger, &[pending(yen(2, RIDER, OPERATOR, 300), 0)], T0);
    assert_eq!(
        apply(&mut ledger, &[Transfer::post(3, 2, 301)], T0),
        vec![(0, E::ExceedsPendingTransferAmount)]
    );
    assert_eq!(apply(&mut ledger, &[Transfer::post(4, 2, 120)], T0), vec![]);
    assert_eq!(balances(&ledger, RIDER), (0, 120, 0, 500));
    assert_eq!(balances(&ledger, OPERATOR), (0, 0, 0, 120));
}

#[test]
fn voiding_a_pending_transfer_releases_its_reservation() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 500);
    apply(&mut ledger, &[pending(yen(2, RIDER, OPERATOR, 300), 0)], T0);
    assert_eq!(apply(&mut ledger, &[Transfer::void(3, 2)], T0), vec![]);
    assert_eq!(balances(&ledger, RIDER), (0, 0, 0, 500));
    assert_eq!(ledger.pending_status(2), Some(PendingStatus::Voided));
}

#[test]
fn a_pending_transfer_is_posted_or_voided_once() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 500);
    apply(
        &mut ledger,
        &[
            pending(yen(2, RIDER, OPERATOR, 300), 0),
            yen(3, BANK, TOWN, 1),
        ],
        T0,
    );
    let results = apply(
        &mut ledger,
        &[
            Transfer::post(4, 2, 0),
            Transfer::post(5, 2, 0),
            Transfer::void(6, 2),
            Transfer::post(7, 3, 0),
            Transfer::post(8, 99, 0),
        ],
        T0,
    );
    assert_eq!(
        results,
        vec![
            (1, E::PendingTransferAlreadyPosted),
            (2, E::PendingTransferAlreadyPosted),
            (3, E::PendingTransferNotPending),
            (4, E::PendingTransferNotFound),
        ]
    );
}

#[test]
fn a_post_must_agree_with_the_pending_transfer_it_names() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 500);
    apply(&mut ledger, &[pending(yen(2, RIDER, OPERATOR, 300), 0)], T0);
    let mut other_credit = Transfer::post(3, 2, 0);
    other_credit.credit_account_id = TOWN;
    let mut timeout = Transfer::post(4, 2, 0);
    timeout.timeout_seconds = 5;
    assert_eq!(
        apply(&mut ledger, &[other_credit, timeout], T0),
        vec![
            (0, E::PendingTransferHasDifferentCreditAccountId),
            (1, E::TimeoutReservedForPendingTransfer)
        ]
    );
}

#[test]
fn a_pending_transfer_expires_after_its_timeout_and_releases_its_reservation() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 500);
    apply(
        &mut ledger,
        &[pending(yen(2, RIDER, OPERATOR, 300), 10)],
        T0,
    );
    let created = ledger.transfer(2).map(|t| t.timestamp).unwrap_or(0);
    assert_eq!(
        ledger.expire_pending_transfers(created + 10 * SECOND_NS - 1),
        0
    );
    assert_eq!(ledger.pending_status(2), Some(PendingStatus::Pending));
    assert_eq!(ledger.expire_pending_transfers(created + 10 * SECOND_NS), 1);
    assert_eq!(ledger.pending_status(2), Some(PendingStatus::Expired));
    assert_eq!(balances(&ledger, RIDER), (0, 0, 0, 500));
    assert_eq!(
        apply(
            &mut ledger,
            &[Transfer::post(3, 2, 0)],
            created + 11 * SECOND_NS
        ),
        vec![(0, E::PendingTransferExpired)]
    );
}

#[test]
fn a_batch_expires_pending_transfers_before_it_applies() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 500);
    apply(&mut ledger, &[pending(yen(2, RIDER, OPERATOR, 500), 1)], T0);
    // The reservation held all 500; once expired at the batch's clock, 500 are spendable again.
    assert_eq!(
        apply(
            &mut ledger,
            &[yen(3, RIDER, OPERATOR, 500)],
            T0 + 2 * SECOND_NS
        ),
        vec![]
    );
    assert_eq!(ledger.pending_status(2), Some(PendingStatus::Expired));
}

#[test]
fn a_post_whose_timestamp_reaches_the_deadline_is_too_late() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 500);
    apply(&mut ledger, &[pending(yen(2, RIDER, OPERATOR, 100), 1)], T0);
    let deadline = ledger.transfer(2).map(|t| t.timestamp).unwrap_or(0) + SECOND_NS;
    // The batch clock is before the deadline, but the post is the second event: its timestamp
    // is the deadline itself.
    let batch = [yen(3, BANK, TOWN, 1), Transfer::post(4, 2, 0)];
    assert_eq!(
        apply(&mut ledger, &batch, deadline - 1),
        vec![(1, E::PendingTransferExpired)]
    );
}

#[test]
fn a_balancing_debit_moves_at_most_what_the_debit_account_holds() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 120);
    // Points-first, then coin: a 300-yen fare takes all 120 yen here and the rest elsewhere.
    let take_all = yen(2, RIDER, OPERATOR, 300).with_flags(TransferFlags::BALANCING_DEBIT);
    assert_eq!(apply(&mut ledger, &[take_all], T0), vec![]);
    assert_eq!(ledger.transfer(2).map(|t| t.amount), Some(120));
    assert_eq!(balances(&ledger, RIDER), (0, 120, 0, 120));
    assert_eq!(apply(&mut ledger, &[take_all], T0), vec![(0, E::Exists)]);
    let asked_less = yen(2, RIDER, OPERATOR, 120).with_flags(TransferFlags::BALANCING_DEBIT);
    assert_eq!(
        apply(&mut ledger, &[asked_less], T0),
        vec![(0, E::ExistsWithDifferent(TransferField::Amount))]
    );
}

#[test]
fn a_balancing_credit_moves_at_most_what_the_credit_account_lacks() {
    let mut ledger = ledger();
    let flags = AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS;
    assert!(
        ledger
            .create_accounts(&[Account::new(400, JPY, OwnerKind::System, flags)], T0)
            .is_empty()
    );
    apply(&mut ledger, &[yen(1, 400, BANK, 70)], T0);
    let settle = yen(2, BANK, 400, 100).with_flags(TransferFlags::BALANCING_CREDIT);
    assert_eq!(apply(&mut ledger, &[settle], T0), vec![]);
    assert_eq!(ledger.transfer(2).map(|t| t.amount), Some(70));
}

#[test]
fn a_closing_transfer_must_be_pending_closes_the_account_and_voiding_reopens_it() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 50);
    let closing_posted = yen(2, RIDER, BANK, 50).with_flags(TransferFlags::CLOSING_DEBIT);
    assert_eq!(
        apply(&mut ledger, &[closing_posted], T0),
        vec![(0, E::ClosingTransferMustBePending)]
    );
    let close = pending(
        yen(3, RIDER, BANK, 50).with_flags(TransferFlags::CLOSING_DEBIT),
        0,
    );
    assert_eq!(apply(&mut ledger, &[close], T0), vec![]);
    assert!(ledger.account(RIDER).is_some_and(|a| a.is_closed()));
    assert_eq!(
        apply(&mut ledger, &[yen(4, BANK, RIDER, 1)], T0),
        vec![(0, E::CreditAccountClosed)]
    );
    assert_eq!(apply(&mut ledger, &[Transfer::void(5, 3)], T0), vec![]);
    assert!(ledger.account(RIDER).is_some_and(|a| !a.is_closed()));
    assert_eq!(apply(&mut ledger, &[yen(6, BANK, RIDER, 1)], T0), vec![]);
}

#[test]
fn posting_a_closing_transfer_keeps_the_account_closed() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 50);
    let close = pending(
        yen(2, RIDER, BANK, 50).with_flags(TransferFlags::CLOSING_DEBIT),
        0,
    );
    apply(&mut ledger, &[close], T0);
    assert_eq!(apply(&mut ledger, &[Transfer::post(3, 2, 0)], T0), vec![]);
    assert!(ledger.account(RIDER).is_some_and(|a| a.is_closed()));
    assert_eq!(balances(&ledger, RIDER), (0, 50, 0, 50));
}

#[test]
fn a_batch_holds_at_most_transfers_per_batch_max() {
    let mut ledger = ledger();
    let batch: Vec<Transfer> = (1..=TRANSFERS_PER_BATCH_MAX as u128 + 1)
        .map(|id| yen(id, BANK, TOWN, 1))
        .collect();
    let results = ledger.create_transfers(&batch, T0);
    assert_eq!(results.len(), batch.len());
    assert!(results.iter().all(|r| r.result == E::BatchTooLarge));
    assert_eq!(ledger.transfer_count(), 0);
    let full = &batch[..TRANSFERS_PER_BATCH_MAX];
    assert_eq!(
        ledger.create_transfers(full, T0),
        Vec::<CreateTransferResult>::new()
    );
}

#[test]
fn amounts_that_would_overflow_a_balance_are_refused() {
    let mut ledger = ledger();
    apply(&mut ledger, &[yen(1, BANK, TOWN, u64::MAX)], T0);
    assert_eq!(
        apply(
            &mut ledger,
            &[yen(2, BANK, TOWN, 1), yen(3, OPERATOR, TOWN, 1)],
            T0
        ),
        vec![
            (0, E::OverflowsDebitsPosted),
            (1, E::OverflowsCreditsPosted)
        ]
    );
}

#[test]
fn history_is_kept_only_for_accounts_with_the_history_flag() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 1_000);
    apply(
        &mut ledger,
        &[yen(2, RIDER, OPERATOR, 10), yen(3, RIDER, OPERATOR, 20)],
        T0 + 10,
    );
    apply(&mut ledger, &[yen(4, TOWN, OPERATOR, 30)], T0 + 20);
    let ids = |transfers: Vec<Transfer>| transfers.iter().map(|t| t.id).collect::<Vec<_>>();
    let all = AccountFilter::default();
    assert_eq!(ids(ledger.account_transfers(RIDER, &all)), vec![1, 2, 3]);
    assert_eq!(ids(ledger.account_transfers(OPERATOR, &all)), vec![2, 3, 4]);
    assert_eq!(
        ids(ledger.account_transfers(TOWN, &all)),
        Vec::<u128>::new()
    );
    let newest_debits = AccountFilter {
        reversed: true,
        credits: false,
        limit: 1,
        ..AccountFilter::default()
    };
    assert_eq!(
        ids(ledger.account_transfers(RIDER, &newest_debits)),
        vec![3]
    );
    let window = AccountFilter {
        timestamp_min: T0 + 11,
        timestamp_max: T0 + 20,
        ..AccountFilter::default()
    };
    assert_eq!(ids(ledger.account_transfers(OPERATOR, &window)), vec![3, 4]);
    assert_eq!(AccountFilter::default().limit, ACCOUNT_FILTER_LIMIT_MAX);
}

#[test]
fn replaying_the_same_batches_with_the_same_clocks_gives_the_same_digest() {
    let batches = [
        (
            vec![
                yen(1, BANK, RIDER, 500),
                pending(yen(2, RIDER, OPERATOR, 100), 3),
            ],
            T0,
        ),
        (
            vec![
                linked(yen(3, RIDER, TOWN, 50)),
                yen(4, TOWN, OPERATOR, 999_999),
            ],
            T0 + 1,
        ),
        (vec![yen(5, RIDER, OPERATOR, 10)], T0 + 5 * SECOND_NS),
    ];
    let run = |clock_shift: u64| {
        let mut ledger = ledger();
        for (batch, clock_ns) in &batches {
            ledger.create_transfers(batch, clock_ns + clock_shift);
        }
        ledger.check_invariants().expect("invariants hold");
        ledger.digest()
    };
    assert_eq!(run(0), run(0));
    assert_ne!(run(0), run(1), "timestamps are part of the state");
}

#[test]
fn the_invariant_check_accepts_every_reachable_state_and_totals_match_accounts() {
    let mut ledger = ledger();
    fund_rider(&mut ledger, 1, 700);
    apply(&mut ledger, &[pending(yen(2, RIDER, OPERATOR, 300), 0)], T0);
    let totals = ledger.totals(JPY);
    assert_eq!(totals.debits_pending, 300);
    assert_eq!(totals.credits_pending, 300);
    let summed: u128 = ledger
        .accounts()
        .filter(|a| a.asset == JPY)
        .map(|a| u128::from(a.credits_posted))
        .sum();
    assert_eq!(totals.credits_posted, summed);
    assert!(ledger.check_invariants().is_ok());
    assert_eq!(ledger.totals(AssetId(42)), Default::default());
}

#[test]
fn every_error_has_a_stable_snake_case_code() {
    let errors = [
        (E::ExceedsCredits, "exceeds_credits"),
        (E::LinkedEventFailed, "linked_event_failed"),
        (E::PendingTransferExpired, "pending_transfer_expired"),
        (
            E::ExistsWithDifferent(TransferField::TimeoutSeconds),
            "exists_with_different_timeout_seconds",
        ),
    ];
    for (error, code) in errors {
        assert_eq!(error.code(), code);
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn a_preallocated_ledger_ends_in_the_same_state_as_a_growing_one() {
    use kanjo_ledger::workload::{TransferGenerator, run, setup_ledger};
    let accounts = 3_000;
    let transfers = 20_000;
    let mut preallocated = setup_ledger(accounts, transfers);
    let mut growing = setup_ledger(accounts, 0);
    for ledger in [&mut preallocated, &mut growing] {
        let mut generator = TransferGenerator::new(accounts, false, 7);
        let stats = run(ledger, &mut generator, transfers, |apply| apply());
        assert_eq!((stats.transfers, stats.failed), (transfers, 0));
        ledger.check_invariants().expect("invariants hold");
    }
    assert_eq!(preallocated.digest(), growing.digest());
    assert_eq!(preallocated.transfer_count(), transfers as usize);
}
