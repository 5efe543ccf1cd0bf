//! Paying shops, on the machine: purchases, authorisations and their captures and voids, refunds,
//! and sends between riders, as spec/purchases.md gives them.
//!
//! - A payment is split over the rider's assets in payment order (`shops::spend_order`): what
//!   each asset has available, at most what is left to pay. Short funds refuse the whole event.
//! - Every accepted event is one linked chain. A purchase part is `rider → shop` then
//!   `shop → fees` (the fee, floor(part × bp / 10 000), money parts only), so the shop account
//!   shows gross sales and fees apart and never goes negative.
//! - An authorisation holds each part as a pending `rider → shop` transfer. A capture posts the
//!   parts in held order up to its amount (a partial post releases the rest; an untouched part is
//!   voided) and takes the fees; a void releases every part. Expiry follows event time: a capture
//!   or void later than `at + authorization_timeout_s` is refused and releases the hold, and the
//!   end-of-batch sweep releases holds nobody came back for once the event-time watermark is
//!   past the deadline by `MachineConfig::authorization_grace_ms`.
//! - A refund gives back in reverse paid order, never more per part than is unrefunded, and
//!   returns the fee the shop no longer owes: fee before − floor(kept × bp / 10 000).
//!
//! The splits are computed here from the ledger's available balances and posted as plain
//! transfers of exactly those amounts: a balancing transfer would quietly move less, and the fee
//! legs of the same chain depend on the exact part. So any disagreement with the ledger fails the
//! chain instead of moving a wrong amount.

use std::collections::BTreeSet;

use hashbrown::HashMap;
use kanjo_ledger::{AccountId, AssetId, Transfer, TransferFlags};
use serde_json::{Value, json};

use super::{Machine, NS_PER_MS, Prepared, event_id_hash, transfer_id};
use crate::answer::{AnswerContext, AssetAmount, Outcome, Rejection, RejectionCode};
use crate::chart::{AccountName, Reason};
use crate::event::{Capture, EventKind, PaymentToken, Refund, SendValue, ShopPayment, Void};
use crate::shops::{self, ShopIx, ShopSpec, fee_minor};

/// Parts one payment can have: one per asset that can pay.
pub const PAYMENT_PARTS_MAX: usize = shops::SPENDABLE_ASSETS_MAX;
/// Transfers of one payment chain: a part and its fee, per part.
pub const PAYMENT_LEGS_MAX: usize = 2 * PAYMENT_PARTS_MAX;

/// What the machine remembers of shop payments, by event id hash.
#[derive(Default)]
pub(super) struct PaymentBook {
    /// Purchases and captures, for refunds: id hash → slot in `purchase_records`. The records
    /// sit in a Vec so growing the index moves 20-byte entries, not whole records: rehashing
    /// millions of records stalls the pipeline (the event book's reason too).
    purchases: HashMap<u128, u32>,
    purchase_records: Vec<PurchaseRecord>,
    authorizations: HashMap<u128, Authorization>,
    /// Held authorisations by (deadline in event time, id hash): the sweep's queue.
    deadlines: BTreeSet<(i128, u128)>,
    /// The local day (`shops::day_stamp`) of the shop event being applied, 0 outside one: every
    /// leg it posts carries it in `user_data_64`, so statements can total shops per day.
    day_stamp: u64,
}

impl PaymentBook {
    fn purchase(&self, id_hash: u128) -> Option<&PurchaseRecord> {
        let slot = *self.purchases.get(&id_hash)?;
        Some(&self.purchase_records[slot as usize])
    }

    fn purchase_mut(&mut self, id_hash: u128) -> Option<&mut PurchaseRecord> {
        let slot = *self.purchases.get(&id_hash)?;
        Some(&mut self.purchase_records[slot as usize])
    }
}

struct PurchaseRecord {
    shop: ShopIx,
    /// The purchase's local day (`shops::day_stamp`): a refund after close names it.
    day: u32,
    rider: Box<str>,
    /// In paid order.
    parts: Vec<PaidPart>,
}

struct PaidPart {
    asset: AssetId,
    paid: u64,
    refunded: u64,
    fee_bp: u16,
    /// The fee the shop pays now: floor((paid − refunded) × fee_bp / 10 000).
    fee: u64,
}

impl PaidPart {
    fn kept(&self) -> u64 {
        self.paid - self.refunded
    }
}

/// One part of a planned payment or of a hold.
#[derive(Clone, Copy)]
struct Part {
    asset: AssetId,
    amount: u64,
    /// The shop's fee on this asset when the payment was made (0 for points).
    fee_bp: u16,
}

/// One part of a refund: the part's index, what goes back, and the fee the shop gets back.
struct RefundStep {
    part: usize,
    asset: AssetId,
    take: u64,
    fee_back: u64,
}

struct Authorization {
    shop: ShopIx,
    rider: Box<str>,
    deadline_ns: i128,
    /// In held order; part k is the pending transfer `transfer_id(authorization, k)`.
    parts: Vec<Part>,
    state: AuthorizationState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AuthorizationState {
    Held,
    /// By the capture event with this id hash.
    Captured(u128),
    /// By the void event with this id hash.
    Voided(u128),
    Expired,
}

impl Machine {
    /// Loads the programme's `[[shops]]` into the registry (genesis).
    pub(super) fn open_programme_shops(&mut self) -> Result<(), super::MachineError> {
        let specs = self.assets.shops().to_vec();
        for spec in specs {
            self.upsert_shop(spec).map_err(super::MachineError::Shops)?;
        }
        Ok(())
    }

    /// Adds or replaces a shop (`[[shops]]` or a shop record); refused if it breaks a limit.
    pub fn upsert_shop(&mut self, spec: ShopSpec) -> Result<(), String> {
        let shop = spec.check(&self.assets)?;
        self.shops.upsert(shop).map(|_| ())
    }

    /// The shop with this id, as last upserted.
    pub fn shop(&self, id: &str) -> Option<&ShopSpec> {
        self.shops.get(id).map(|(_, shop)| &shop.spec)
    }

    pub fn shops_known(&self) -> usize {
        self.shops.len()
    }

    pub(super) fn apply_shop_event(&mut self, prepared: &Prepared) -> Outcome {
        // A customer token pays once: checked before, remembered only if the payment is accepted.
        let token = match &prepared.event.kind {
            EventKind::Purchase(payment) | EventKind::Authorize(payment) => payment
                .token
                .as_ref()
                .map(|token| (payment.rider.as_str(), token)),
            _ => None,
        };
        if let Some((rider, token)) = token
            && let Err(rejection) = self.check_token(rider, token, prepared.event.at)
        {
            return Outcome::Rejected(rejection);
        }
        self.payments.day_stamp = shops::day_stamp(self.programme.local_date(prepared.event.at));
        let result = match &prepared.event.kind {
            EventKind::Purchase(payment) => self.apply_purchase(prepared, payment),
            EventKind::Authorize(payment) => self.apply_authorize(prepared, payment),
            EventKind::Capture(capture) => self.apply_capture(prepared, capture),
            EventKind::Void(void) => self.apply_void(prepared, void),
            EventKind::Refund(refund) => self.apply_refund(prepared, refund),
            EventKind::Send(send) => self.apply_send(prepared, send),
            EventKind::Ride(_)
            | EventKind::Tap(_)
            | EventKind::Topup(_)
            | EventKind::Grant(_)
            | EventKind::Redeem(_)
            | EventKind::Withdraw(_)
            | EventKind::VoucherPurchase(_)
            | EventKind::Convert(_) => unreachable!("not a shop event"),
        };
        if let (Ok(_), Some((rider, PaymentToken::Checked(used)))) = (&result, token) {
            self.remember_token(rider, used);
        }
        // The end-of-batch expiry sweep posts outside any event: its voids carry no day.
        self.payments.day_stamp = 0;
        result.unwrap_or_else(Outcome::Rejected)
    }

    fn apply_purchase(
        &mut self,
        prepared: &Prepared,
        payment: &ShopPayment,
    ) -> Result<Outcome, Rejection> {
        let shop = self.paying_shop(&payment.shop)?;
        let parts = self.plan_payment(shop, payment)?;
        self.legs.clear();
        let mut fees = Vec::new();
        for part in &parts {
            let (rider, shop_account) = self.part_accounts(shop, &payment.rider, part.asset);
            self.legs.push(Transfer::new(
                0,
                rider,
                shop_account,
                part.amount,
                part.asset,
                Reason::Purchase as u16,
            ));
            if let Some(fee) = self.push_fee_leg(shop_account, part.asset, part.amount, part.fee_bp)
            {
                fees.push(fee);
            }
        }
        self.post_payment(prepared.id_hash, 0)?;
        let paid = amounts(parts.iter().map(|part| (part.asset, part.amount)));
        self.remember_purchase(prepared.id_hash, shop, &payment.rider, &parts);
        Ok(Outcome::Purchase {
            paid,
            fees: fees.into_boxed_slice(),
        })
    }

    fn apply_authorize(
        &mut self,
        prepared: &Prepared,
        payment: &ShopPayment,
    ) -> Result<Outcome, Rejection> {
        let shop = self.paying_shop(&payment.shop)?;
        let parts = self.plan_payment(shop, payment)?;
        self.legs.clear();
        for part in &parts {
            let (rider, shop_account) = self.part_accounts(shop, &payment.rider, part.asset);
            self.legs.push(
                Transfer::new(
                    0,
                    rider,
                    shop_account,
                    part.amount,
                    part.asset,
                    Reason::Authorization as u16,
                )
                .with_flags(TransferFlags::PENDING),
            );
        }
        self.post_payment(prepared.id_hash, 0)?;
        let deadline_ns =
            prepared.event.at.as_nanosecond() + self.assets.payments().authorization_timeout_ns();
        self.payments
            .deadlines
            .insert((deadline_ns, prepared.id_hash));
        let held = amounts(parts.iter().map(|part| (part.asset, part.amount)));
        self.payments.authorizations.insert(
            prepared.id_hash,
            Authorization {
                shop,
                rider: payment.rider.clone().into_boxed_str(),
                deadline_ns,
                parts,
                state: AuthorizationState::Held,
            },
        );
        Ok(Outcome::Authorize { held })
    }

    fn apply_capture(
        &mut self,
        prepared: &Prepared,
        capture: &Capture,
    ) -> Result<Outcome, Rejection> {
        let authorization = event_id_hash(&capture.authorization);
        self.open_authorization(authorization, &capture.authorization, prepared)?;
        let held = &self.payments.authorizations[&authorization];
        let (shop, parts) = (held.shop, held.parts.clone());
        let rider = held.rider.clone();
        let held_minor: u64 = parts.iter().map(|part| part.amount).sum();
        if capture.amount_minor > held_minor {
            return Err(Rejection::new(
                RejectionCode::AmountExceedsAuthorized,
                format!(
                    "authorization {} holds {held_minor}; a capture of {} is more",
                    capture.authorization, capture.amount_minor
                ),
            ));
        }
        self.legs.clear();
        let (mut paid, mut fees, mut released) = (Vec::new(), Vec::new(), Vec::new());
        let mut left = capture.amount_minor;
        for (k, part) in parts.iter().enumerate() {
            let take = part.amount.min(left);
            left -= take;
            let pending_id = transfer_id(authorization, k as u8);
            if take == 0 {
                self.legs.push(Transfer::void(0, pending_id));
            } else {
                // A partial post releases the rest of the part.
                self.legs.push(Transfer::post(0, pending_id, take));
                let shop_account = self.shop_account(shop, part.asset);
                fees.extend(self.push_fee_leg(shop_account, part.asset, take, part.fee_bp));
                paid.push(Part {
                    amount: take,
                    ..*part
                });
            }
            if take < part.amount {
                released.push((part.asset, part.amount - take));
            }
        }
        assert_eq!(left, 0, "the hold covers the capture");
        self.post_payment(prepared.id_hash, 0)?;
        self.close_authorization(
            authorization,
            AuthorizationState::Captured(prepared.id_hash),
        );
        self.remember_purchase(prepared.id_hash, shop, &rider, &paid);
        Ok(Outcome::Capture {
            paid: amounts(paid.iter().map(|part| (part.asset, part.amount))),
            fees: fees.into_boxed_slice(),
            released: amounts(released),
        })
    }

    fn apply_void(&mut self, prepared: &Prepared, void: &Void) -> Result<Outcome, Rejection> {
        let authorization = event_id_hash(&void.authorization);
        self.open_authorization(authorization, &void.authorization, prepared)?;
        let released = self.release_hold(authorization, prepared.id_hash, 0)?;
        self.close_authorization(authorization, AuthorizationState::Voided(prepared.id_hash));
        Ok(Outcome::Void { released })
    }

    fn apply_refund(&mut self, prepared: &Prepared, refund: &Refund) -> Result<Outcome, Rejection> {
        let purchase = event_id_hash(&refund.purchase);
        let steps = self.plan_refund(purchase, refund)?;
        let record = self.payments.purchase(purchase).expect("planned above");
        let (shop, rider, purchase_day) = (record.shop, record.rider.clone(), record.day);
        // After close the shop's receipts may have been swept into its payable.
        let shop_id = self.shops.shop(shop).id().to_owned();
        let parts: Vec<_> = steps
            .iter()
            .map(|s| (s.asset, s.take, s.fee_back))
            .collect();
        let draws = self.plan_refund_draws(&shop_id, &parts, u64::from(purchase_day))?;
        self.legs.clear();
        let rider_accounts: Vec<AccountId> = steps
            .iter()
            .map(|step| {
                let asset = self.asset_code(step.asset);
                AccountName::Rider {
                    rider: &rider,
                    asset: &asset,
                }
                .id()
            })
            .collect();
        let lots_before = self.refund_lots_snapshot(purchase, rider_accounts.into_iter());
        for (step, draw) in steps.iter().zip(&draws) {
            let (rider_account, shop_account) = self.part_accounts(shop, &rider, step.asset);
            if step.fee_back > 0 {
                // The fee first, so the shop holds what it gives back whatever else it sold.
                let fees = self.fee_account(step.asset);
                self.legs.push(Transfer::new(
                    0,
                    fees,
                    shop_account,
                    step.fee_back,
                    step.asset,
                    Reason::FeeReturn as u16,
                ));
            }
            if draw.advance > 0 {
                let leg = self.advance_leg(&shop_id, draw, shop_account);
                self.legs.push(leg);
            }
            // Points from lots that lapsed since go to breakage, not back to the rider.
            let at_ns = prepared.event.at.as_nanosecond();
            self.push_refund_legs(
                purchase,
                step.asset,
                shop_account,
                rider_account,
                step.take,
                at_ns,
            );
        }
        if let Err(rejection) = self.post_payment(prepared.id_hash, 0) {
            self.restore_refund_lots(lots_before);
            return Err(rejection);
        }
        let record = self.payments.purchase_mut(purchase).expect("planned above");
        for step in &steps {
            let part = &mut record.parts[step.part];
            part.refunded += step.take;
            part.fee -= step.fee_back;
            assert_eq!(part.fee, fee_minor(part.kept(), part.fee_bp));
        }
        let days = (u64::from(purchase_day), self.payments.day_stamp);
        self.record_refund_draws(&prepared.event.id, &shop_id, days, draws);
        Ok(Outcome::Refund {
            returned: amounts(steps.iter().map(|step| (step.asset, step.take))),
            fees_returned: amounts(steps.iter().map(|step| (step.asset, step.fee_back))),
        })
    }

    /// What a refund gives back, part by part in reverse paid order, and the fee each part no
    /// longer owes; or why it can't.
    fn plan_refund(&self, purchase: u128, refund: &Refund) -> Result<Vec<RefundStep>, Rejection> {
        let Some(record) = self.payments.purchase(purchase) else {
            return Err(Rejection::new(
                RejectionCode::UnknownPurchase,
                format!(
                    "no accepted purchase or capture {:?} to refund",
                    refund.purchase
                ),
            ));
        };
        let refundable: u64 = record.parts.iter().map(PaidPart::kept).sum();
        if refund.amount_minor > refundable {
            return Err(Rejection::new(
                RejectionCode::RefundExceedsPurchase,
                format!(
                    "{} has {refundable} left to refund; {} is more",
                    refund.purchase, refund.amount_minor
                ),
            ));
        }
        let mut steps = Vec::with_capacity(record.parts.len());
        let mut left = refund.amount_minor;
        for (index, part) in record.parts.iter().enumerate().rev() {
            let take = part.kept().min(left);
            left -= take;
            if take > 0 {
                let fee_after = fee_minor(part.kept() - take, part.fee_bp);
                steps.push(RefundStep {
                    part: index,
                    asset: part.asset,
                    take,
                    fee_back: part.fee - fee_after,
                });
            }
        }
        assert_eq!(left, 0, "the refundable total covers the refund");
        Ok(steps)
    }

    fn apply_send(&mut self, prepared: &Prepared, send: &SendValue) -> Result<Outcome, Rejection> {
        let Some((asset, spec)) = self.assets.get(&send.asset) else {
            return Err(Rejection::new(
                RejectionCode::UnknownAsset,
                format!("no asset {:?} in this programme", send.asset),
            ));
        };
        if !shops::is_transferable(spec) {
            return Err(Rejection::new(
                RejectionCode::NotTransferable,
                format!("{} does not move between riders", send.asset),
            ));
        }
        let from = AccountName::Rider {
            rider: &send.from,
            asset: &send.asset,
        }
        .id();
        let available = self.available(from);
        if available < send.amount_minor {
            return Err(Rejection::new(
                RejectionCode::InsufficientFunds,
                format!(
                    "rider {} holds {available} {} available; the send is {}",
                    send.from, send.asset, send.amount_minor
                ),
            ));
        }
        let to = self.leg_account(
            &AccountName::Rider {
                rider: &send.to,
                asset: &send.asset,
            },
            asset,
        );
        self.legs.clear();
        self.legs.push(Transfer::new(
            0,
            from,
            to,
            send.amount_minor,
            asset,
            Reason::Send as u16,
        ));
        self.post_payment(prepared.id_hash, 0)?;
        Ok(Outcome::Send {
            asset,
            amount_minor: send.amount_minor,
        })
    }

    /// Releases the holds of authorisations nobody captured or voided, once the event-time
    /// watermark is past their deadline by the grace for late uploads. Run at the end of a batch.
    pub fn expire_authorizations(&mut self) -> usize {
        let grace_ns = i128::from(self.config.authorization_grace_ms) * NS_PER_MS;
        let mut expired = 0;
        while let Some(&(deadline_ns, authorization)) = self.payments.deadlines.first() {
            if deadline_ns.saturating_add(grace_ns) >= self.watermark_ns {
                break;
            }
            self.expire_authorization(authorization);
            expired += 1;
        }
        expired
    }

    /// A capture or void may go on: the authorisation exists, is still held, and the event is
    /// not later than its deadline (else the hold is released and the answer says it expired).
    fn open_authorization(
        &mut self,
        authorization: u128,
        name: &str,
        prepared: &Prepared,
    ) -> Result<(), Rejection> {
        let Some(held) = self.payments.authorizations.get(&authorization) else {
            return Err(Rejection::new(
                RejectionCode::UnknownAuthorization,
                format!("no accepted authorization {name:?}"),
            ));
        };
        let by =
            |machine: &Machine, event: u128| machine.event_id_of(event).unwrap_or("?").to_owned();
        match held.state {
            AuthorizationState::Held => {}
            AuthorizationState::Captured(event) => {
                return Err(Rejection::new(
                    RejectionCode::AlreadyCaptured,
                    format!("authorization {name} was captured by {}", by(self, event)),
                ));
            }
            AuthorizationState::Voided(event) => {
                return Err(Rejection::new(
                    RejectionCode::AlreadyVoided,
                    format!("authorization {name} was voided by {}", by(self, event)),
                ));
            }
            AuthorizationState::Expired => {
                return Err(Rejection::new(
                    RejectionCode::AuthorizationExpired,
                    format!("authorization {name} expired and its hold was released"),
                ));
            }
        }
        if prepared.event.at.as_nanosecond() > held.deadline_ns {
            self.expire_authorization(authorization);
            return Err(Rejection::new(
                RejectionCode::AuthorizationExpired,
                format!(
                    "authorization {name} expired {} s after it was made; its hold is released",
                    self.assets.payments().authorization_timeout_s
                ),
            ));
        }
        Ok(())
    }

    /// Releases an expired hold: a chain of voids under the authorisation's own id, numbered
    /// after its hold legs.
    fn expire_authorization(&mut self, authorization: u128) {
        let legs = self.payments.authorizations[&authorization].parts.len();
        let first_leg = u8::try_from(legs).expect("at most PAYMENT_PARTS_MAX parts");
        self.release_hold(authorization, authorization, first_leg)
            .expect("voiding a held authorization always succeeds");
        self.close_authorization(authorization, AuthorizationState::Expired);
    }

    /// Voids every held part, as one chain under `event` (legs from `first_leg`).
    fn release_hold(
        &mut self,
        authorization: u128,
        event: u128,
        first_leg: u8,
    ) -> Result<Box<[AssetAmount]>, Rejection> {
        let parts = &self.payments.authorizations[&authorization].parts;
        let released = amounts(parts.iter().map(|part| (part.asset, part.amount)));
        self.legs.clear();
        for k in 0..parts.len() {
            self.legs
                .push(Transfer::void(0, transfer_id(authorization, k as u8)));
        }
        self.post_payment(event, first_leg)?;
        Ok(released)
    }

    fn close_authorization(&mut self, authorization: u128, state: AuthorizationState) {
        let held = self
            .payments
            .authorizations
            .get_mut(&authorization)
            .expect("closing a known authorization");
        assert!(held.state == AuthorizationState::Held, "closed once");
        held.state = state;
        let removed = self
            .payments
            .deadlines
            .remove(&(held.deadline_ns, authorization));
        assert!(removed, "a held authorization waits in the deadline queue");
    }

    fn remember_purchase(&mut self, id_hash: u128, shop: ShopIx, rider: &str, parts: &[Part]) {
        let parts = parts
            .iter()
            .map(|part| PaidPart {
                asset: part.asset,
                paid: part.amount,
                refunded: 0,
                fee_bp: part.fee_bp,
                fee: fee_minor(part.amount, part.fee_bp),
            })
            .collect();
        let book = &mut self.payments;
        let slot = u32::try_from(book.purchase_records.len()).expect("fewer than 2^32 purchases");
        let previous = book.purchases.insert(id_hash, slot);
        assert!(previous.is_none(), "an event id is a purchase once");
        let day = u32::try_from(book.day_stamp).unwrap_or(0);
        book.purchase_records.push(PurchaseRecord {
            shop,
            day,
            rider: rider.into(),
            parts,
        });
    }

    /// The shop a purchase or authorisation may pay: known and active.
    fn paying_shop(&self, id: &str) -> Result<ShopIx, Rejection> {
        match self.shops.get(id) {
            None => Err(Rejection::new(
                RejectionCode::UnknownShop,
                format!("no shop {id:?}"),
            )),
            Some((_, shop)) if !shop.is_active() => Err(Rejection::new(
                RejectionCode::ShopSuspended,
                format!("shop {id} is suspended and takes no payments"),
            )),
            Some((ix, _)) => Ok(ix),
        }
    }

    /// Splits the amount over the rider's assets in payment order, each paying what it has
    /// available and at most what is left; `insufficient_funds` if they can't pay it all.
    fn plan_payment(&self, shop: ShopIx, payment: &ShopPayment) -> Result<Vec<Part>, Rejection> {
        if let Some(codes) = &payment.pay_with
            && let Some(code) = codes.iter().find(|code| self.assets.get(code).is_none())
        {
            return Err(Rejection::new(
                RejectionCode::UnknownAsset,
                format!("`pay_with` names {code:?}, which this programme does not have"),
            ));
        }
        let shop = self.shops.shop(shop);
        let mut left = payment.amount_minor;
        let mut usable = 0u128;
        let mut parts = Vec::new();
        for (asset, spec) in shops::spend_order(&self.assets) {
            let chosen = payment
                .pay_with
                .as_ref()
                .is_none_or(|codes| codes.binary_search(&spec.code).is_ok());
            let accepted = spec
                .usable_at
                .as_ref()
                .is_none_or(|categories| shop.in_any(categories));
            if !chosen || !accepted || left == 0 {
                continue;
            }
            let holder = AccountName::Rider {
                rider: &payment.rider,
                asset: &spec.code,
            }
            .id();
            let available = self.available(holder);
            usable += u128::from(available);
            let take = available.min(left);
            if take > 0 {
                left -= take;
                parts.push(Part {
                    asset,
                    amount: take,
                    fee_bp: shop.fee_bp(asset),
                });
            }
        }
        if left > 0 {
            return Err(Rejection::new(
                RejectionCode::InsufficientFunds,
                format!(
                    "rider {} can pay {usable} of {} at {}",
                    payment.rider,
                    payment.amount_minor,
                    shop.id()
                ),
            ));
        }
        assert!(parts.len() <= PAYMENT_PARTS_MAX);
        Ok(parts)
    }

    fn available(&self, account: AccountId) -> u64 {
        self.ledger
            .account(account)
            .map_or(0, |account| account.available_debit())
    }

    /// The rider's account (it pays, so it exists) and the shop's, opened when the chain posts.
    fn part_accounts(
        &mut self,
        shop: ShopIx,
        rider: &str,
        asset: AssetId,
    ) -> (AccountId, AccountId) {
        let code = self.asset_code(asset);
        let rider = AccountName::Rider {
            rider,
            asset: &code,
        }
        .id();
        (rider, self.shop_account(shop, asset))
    }

    fn shop_account(&mut self, shop: ShopIx, asset: AssetId) -> AccountId {
        let code = self.asset_code(asset);
        let shop = self.shops.shop(shop).id().to_owned();
        self.leg_account(
            &AccountName::Shop {
                shop: &shop,
                asset: &code,
            },
            asset,
        )
    }

    fn fee_account(&mut self, asset: AssetId) -> AccountId {
        let code = self.asset_code(asset);
        self.leg_account(&AccountName::Fees { asset: &code }, asset)
    }

    fn asset_code(&self, asset: AssetId) -> String {
        self.assets
            .spec(asset)
            .expect("payment assets are in the book")
            .code
            .clone()
    }

    /// Adds the fee leg `shop → fees` for a part, if the fee is not zero.
    fn push_fee_leg(
        &mut self,
        shop_account: AccountId,
        asset: AssetId,
        part_minor: u64,
        fee_bp: u16,
    ) -> Option<AssetAmount> {
        let fee = fee_minor(part_minor, fee_bp);
        if fee == 0 {
            return None;
        }
        let fees = self.fee_account(asset);
        self.legs.push(Transfer::new(
            0,
            shop_account,
            fees,
            fee,
            asset,
            Reason::ShopFee as u16,
        ));
        Some(AssetAmount {
            asset,
            amount_minor: fee,
        })
    }

    /// Posts the legs as one chain. The plan was made from the ledger's own balances, so a
    /// refusal means the two disagree: the event is refused and nothing moves.
    fn post_payment(&mut self, id_hash: u128, first_leg: u8) -> Result<(), Rejection> {
        for leg in &mut self.legs {
            leg.user_data_64 = self.payments.day_stamp;
        }
        self.post_legs_from(id_hash, first_leg)
            .map_err(|error| self.post_rejection(&error))
    }

    /// A purchase's, capture's or authorisation's state for `GET /v1/events/{id}`: the shop, the
    /// rider, and what is refunded or what became of the hold.
    pub fn payment_state_json(&self, id: &str) -> Option<Value> {
        let id_hash = event_id_hash(id);
        let context = AnswerContext {
            programme: &self.programme,
            assets: &self.assets,
        };
        if let Some(record) = self.payments.purchase(id_hash) {
            let list = |amount: fn(&PaidPart) -> u64| {
                context.amounts_json(
                    &record
                        .parts
                        .iter()
                        .map(|part| AssetAmount {
                            asset: part.asset,
                            amount_minor: amount(part),
                        })
                        .collect::<Vec<_>>(),
                )
            };
            return Some(json!({
                "shop": self.shops.shop(record.shop).id(),
                "rider": &*record.rider,
                "refunded": list(|part| part.refunded),
                "refundable": list(PaidPart::kept),
                "fees_now": list(|part| part.fee),
            }));
        }
        let held = self.payments.authorizations.get(&id_hash)?;
        let (state, by) = match held.state {
            AuthorizationState::Held => ("held", None),
            AuthorizationState::Captured(event) => ("captured", self.event_id_of(event)),
            AuthorizationState::Voided(event) => ("voided", self.event_id_of(event)),
            AuthorizationState::Expired => ("expired", None),
        };
        let expires_at = jiff::Timestamp::from_nanosecond(held.deadline_ns)
            .map(|at| at.to_string())
            .ok();
        Some(json!({
            "shop": self.shops.shop(held.shop).id(),
            "rider": &*held.rider,
            "authorization": state,
            "by": by,
            "expires_at": expires_at,
        }))
    }
}

fn amounts(parts: impl IntoIterator<Item = (AssetId, u64)>) -> Box<[AssetAmount]> {
    parts
        .into_iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|(asset, amount_minor)| AssetAmount {
            asset,
            amount_minor,
        })
        .collect()
}
