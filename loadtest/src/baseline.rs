//! The naive PostgreSQL ledger: how most teams start. One database transaction per event that reads
//! and locks balances, rates in the application (with kanjo-rules, the code kanjo rates with, see
//! `rating`), updates balance rows and inserts entry rows, then commits. Several connections so it is not artificially serial; a rider's events stay on one
//! connection (lane) so their order holds. Accounts are locked in name order to avoid deadlocks,
//! and a deadlock or serialization failure is retried.
//!
//! It runs in its own database, created for the run and dropped after it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use kanjo_core::event::{Event, EventKind, Media, TapDirection, media_name};
use kanjo_rules::{Rating, RideRef};
use kanjo_workload::RiderRecord;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, Statement, Transaction};

use crate::rating::{Rated, Rater};
use crate::target::{Answer, Target};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const CONNECTIONS_MAX: usize = 64;
/// Riders and ids loaded per bulk statement.
const BULK_ROWS_MAX: usize = 10_000;
/// A deadlock or serialization failure is retried this many times before it is an error.
const TRANSACTION_ATTEMPTS_MAX: u32 = 5;

const SCHEMA: &str = "
CREATE TABLE riders (
    rider TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    code TEXT
);
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    asset TEXT NOT NULL,
    balance BIGINT NOT NULL,
    floor_zero BOOLEAN NOT NULL,
    CHECK (NOT floor_zero OR balance >= 0)
);
CREATE TABLE entries (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL,
    account TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount BIGINT NOT NULL
);
CREATE TABLE open_taps (
    rider TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    route TEXT,
    stop TEXT NOT NULL,
    at_s BIGINT NOT NULL,
    PRIMARY KEY (rider, vehicle)
);
CREATE TABLE redemptions (
    rider TEXT NOT NULL,
    asset TEXT NOT NULL,
    place TEXT NOT NULL,
    at_s BIGINT NOT NULL
);
CREATE INDEX redemptions_rider ON redemptions (rider, asset);
";

/// Refuses anything but loopback: the load test must never hit a shared database.
pub fn check_loopback(config: &Config) -> Result<()> {
    for host in config.get_hosts() {
        match host {
            Host::Tcp(name) if matches!(name.as_str(), "127.0.0.1" | "localhost" | "::1") => {}
            Host::Unix(_) => {}
            Host::Tcp(name) => bail!("refusing non-loopback PostgreSQL host {name:?}"),
        }
    }
    Ok(())
}

struct Statements {
    insert_event: Statement,
    event_body: Statement,
    set_rejected: Statement,
    open_tap: Statement,
    close_tap: Statement,
    rider: Statement,
    lock_balance: Statement,
    add_balance: Statement,
    create_account: Statement,
    insert_entry: Statement,
    insert_redemption: Statement,
    find_redemption: Statement,
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Statements> {
        Ok(Statements {
            insert_event: client
                .prepare("INSERT INTO events (id, body, status) VALUES ($1, $2, 'accepted') ON CONFLICT (id) DO NOTHING")
                .await?,
            event_body: client.prepare("SELECT body FROM events WHERE id = $1").await?,
            set_rejected: client.prepare("UPDATE events SET status = 'rejected', code = $2 WHERE id = $1").await?,
            open_tap: client
                .prepare(
                    "INSERT INTO open_taps (rider, vehicle, route, stop, at_s) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (rider, vehicle) DO UPDATE SET route = excluded.route, stop = excluded.stop, at_s = excluded.at_s",
                )
                .await?,
            close_tap: client
                .prepare("DELETE FROM open_taps WHERE rider = $1 AND vehicle = $2 RETURNING route, stop, at_s")
                .await?,
            rider: client
                .prepare("SELECT record FROM riders WHERE rider = $1")
                .await?,
            lock_balance: client.prepare("SELECT balance FROM accounts WHERE id = $1 FOR UPDATE").await?,
            // UPDATE first, INSERT when the account is new: an upsert would check the floor on the
            // proposed row (a debit) before it finds the existing one.
            add_balance: client
                .prepare("UPDATE accounts SET balance = balance + $2 WHERE id = $1")
                .await?,
            create_account: client
                .prepare("INSERT INTO accounts (id, asset, balance, floor_zero) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
                .await?,
            insert_entry: client
                .prepare("INSERT INTO entries (event_id, account, asset, amount) VALUES ($1, $2, $3, $4)")
                .await?,
            insert_redemption: client
                .prepare("INSERT INTO redemptions (rider, asset, place, at_s) VALUES ($1, $2, $3, $4)")
                .await?,
            find_redemption: client
                .prepare("SELECT place, at_s FROM redemptions WHERE rider = $1 AND asset = $2 LIMIT 1")
                .await?,
        })
    }
}

struct Lane {
    client: Client,
    statements: Statements,
    /// The event this lane rated last and its rating: a retried transaction posts the same
    /// rating again instead of rating (and committing caps and budgets) twice.
    rated: Option<(String, Rating)>,
}

/// One leg of a posting: (account, asset, signed amount, may the balance go below zero?).
struct Leg {
    account: String,
    asset: String,
    amount: i64,
    floor_zero: bool,
}

fn leg(account: String, asset: &str, amount: i64, floor_zero: bool) -> Leg {
    Leg {
        account,
        asset: asset.to_owned(),
        amount,
        floor_zero,
    }
}

enum Outcome {
    Posted(Vec<Leg>),
    Rejected(&'static str),
}

pub struct Baseline {
    runtime: tokio::runtime::Runtime,
    lanes: Vec<Mutex<Lane>>,
    admin: Config,
    dbname: String,
    rater: Arc<Rater>,
    keep_database: bool,
}

impl Baseline {
    /// Creates a fresh database next to `pg_url`'s and opens `connections` lanes to it.
    pub fn create(
        pg_url: &str,
        connections: usize,
        rater: Arc<Rater>,
        keep_database: bool,
    ) -> Result<Baseline> {
        assert!(
            (1..=CONNECTIONS_MAX).contains(&connections),
            "connections must be 1..={CONNECTIONS_MAX}"
        );
        let admin: Config = pg_url
            .parse()
            .with_context(|| format!("parsing --pg-url {pg_url:?}"))?;
        check_loopback(&admin)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the baseline's runtime")?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dbname = format!("kanjo_baseline_{}_{nanos}", std::process::id());
        let lanes = runtime.block_on(async {
            let admin_client = connect(&admin)
                .await
                .context("connecting to PostgreSQL for the baseline")?;
            admin_client
                .batch_execute(&format!("CREATE DATABASE {dbname}"))
                .await
                .context("creating the baseline database")?;
            let mut config = admin.clone();
            config.dbname(&dbname);
            let first = connect(&config).await?;
            first
                .batch_execute(SCHEMA)
                .await
                .context("creating the baseline schema")?;
            let mut lanes = Vec::with_capacity(connections);
            for _ in 0..connections {
                let client = connect(&config).await?;
                let statements = Statements::prepare(&client)
                    .await
                    .context("preparing baseline statements")?;
                lanes.push(Mutex::new(Lane {
                    client,
                    statements,
                    rated: None,
                }));
            }
            anyhow::Ok(lanes)
        })?;
        Ok(Baseline {
            runtime,
            lanes,
            admin,
            dbname,
            rater,
            keep_database,
        })
    }

    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Loads the riders file in bulk (setup, not measured).
    pub fn register_riders(&self, riders: &[RiderRecord]) -> Result<()> {
        let lane = self.lanes[0]
            .lock()
            .expect("a lane is never poisoned: submit does not panic while holding it");
        self.runtime.block_on(async {
            for chunk in riders.chunks(BULK_ROWS_MAX) {
                let ids: Vec<&str> = chunk.iter().map(|r| r.rider.as_str()).collect();
                let records = chunk
                    .iter()
                    .map(serde_json::to_string)
                    .collect::<Result<Vec<String>, _>>()?;
                lane.client
                    .execute(
                        "INSERT INTO riders SELECT r, j FROM unnest($1::TEXT[], $2::TEXT[]) AS t(r, j)
                         ON CONFLICT (rider) DO NOTHING",
                        &[&ids, &records],
                    )
                    .await
                    .context("loading baseline riders")?;
            }
            anyhow::Ok(())
        })
    }

    /// Setup only (not measured): posts grants in bulk, one transaction per chunk, the way a team
    /// would load an entitlement roll. Every event must be a grant with a fresh id.
    pub fn bulk_grants(&self, grants: &[Event]) -> Result<Vec<Answer>> {
        let mut lane = self.lanes[0]
            .lock()
            .map_err(|_| anyhow::anyhow!("a baseline lane panicked earlier"))?;
        let Lane {
            client, statements, ..
        } = &mut *lane;
        self.runtime.block_on(async {
            let mut answers = Vec::with_capacity(grants.len());
            for chunk in grants.chunks(BULK_ROWS_MAX) {
                let mut ids = Vec::with_capacity(chunk.len());
                let mut bodies = Vec::with_capacity(chunk.len());
                let mut accounts = Vec::with_capacity(chunk.len());
                let mut assets = Vec::with_capacity(chunk.len());
                let mut amounts = Vec::with_capacity(chunk.len());
                let mut issued: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
                for event in chunk {
                    let EventKind::Grant(grant) = &event.kind else {
                        bail!("bulk_grants got a {} event ({})", event.type_name(), event.id);
                    };
                    ids.push(event.id.clone());
                    bodies.push(event.canonical_json());
                    accounts.push(format!("rider:{}:{}", grant.rider, grant.asset));
                    assets.push(grant.asset.clone());
                    amounts.push(grant.amount_minor as i64);
                    *issued.entry(grant.asset.clone()).or_default() += grant.amount_minor as i64;
                }
                let tx = client.transaction().await?;
                tx.execute(
                    "INSERT INTO events (id, body, status) SELECT i, b, 'accepted' FROM unnest($1::TEXT[], $2::TEXT[]) AS t(i, b)",
                    &[&ids, &bodies],
                )
                .await?;
                tx.execute(
                    "INSERT INTO accounts (id, asset, balance, floor_zero) SELECT a, s, m, TRUE FROM unnest($1::TEXT[], $2::TEXT[], $3::INT8[]) AS t(a, s, m)
                     ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + excluded.balance",
                    &[&accounts, &assets, &amounts],
                )
                .await?;
                tx.execute(
                    "INSERT INTO entries (event_id, account, asset, amount)
                     SELECT i, a, s, m FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::INT8[]) AS t(i, a, s, m)
                     UNION ALL SELECT i, 'issuer:' || s, s, -m FROM unnest($1::TEXT[], $3::TEXT[], $4::INT8[]) AS u(i, s, m)",
                    &[&ids, &accounts, &assets, &amounts],
                )
                .await?;
                for (asset, amount) in &issued {
                    let issuer = format!("issuer:{asset}");
                    add_to_account(&tx, statements, &issuer, asset, -amount, false).await?;
                }
                tx.commit().await?;
                answers.extend(ids.into_iter().map(|id| Answer { id, accepted: true, code: None }));
            }
            anyhow::Ok(answers)
        })
    }

    /// Runs the correctness checks on the baseline's own tables.
    pub fn check(&self, acknowledged_ids: &[String]) -> Result<crate::checks::CheckReport> {
        let lane = self.lanes[0].lock().expect("a lane is never poisoned");
        self.runtime.block_on(async {
            let client = &lane.client;
            let mut report = crate::checks::CheckReport::default();
            let unbalanced = client
                .query(
                    "SELECT asset, SUM(balance)::TEXT FROM accounts GROUP BY asset HAVING SUM(balance) <> 0
                     UNION ALL SELECT asset, SUM(amount)::TEXT FROM entries GROUP BY asset HAVING SUM(amount) <> 0",
                    &[],
                )
                .await?;
            report.trial_balance_holds = unbalanced.is_empty();
            for row in &unbalanced {
                report.problems.push(format!("baseline: asset {} sums to {}", row.get::<_, String>(0), row.get::<_, String>(1)));
            }
            let negative: i64 = client
                .query_one("SELECT count(*) FROM accounts WHERE floor_zero AND balance < 0", &[])
                .await?
                .get(0);
            if negative > 0 {
                report.trial_balance_holds = false;
                report.problems.push(format!("baseline: {negative} accounts below zero"));
            }
            let unique: HashSet<&str> = acknowledged_ids.iter().map(String::as_str).collect();
            let stored: i64 = client.query_one("SELECT count(*) FROM events", &[]).await?.get(0);
            let mut found = 0i64;
            let ids: Vec<&str> = unique.iter().copied().collect();
            for chunk in ids.chunks(BULK_ROWS_MAX) {
                let count: i64 = client
                    .query_one("SELECT count(*) FROM events WHERE id = ANY($1)", &[&chunk])
                    .await?
                    .get(0);
                found += count;
            }
            report.acknowledged_stored_once = found == ids.len() as i64 && stored == ids.len() as i64;
            if !report.acknowledged_stored_once {
                report.problems.push(format!(
                    "baseline: {} acknowledged, {found} of them stored, {stored} stored in all",
                    ids.len()
                ));
            }
            let twice: i64 = client
                .query_one(
                    "SELECT count(*) FROM (SELECT 1 FROM redemptions GROUP BY rider, asset HAVING count(*) > 1) AS d",
                    &[],
                )
                .await?
                .get(0);
            report.no_double_redemption = twice == 0;
            if twice > 0 {
                report.problems.push(format!("baseline: {twice} riders redeemed twice"));
            }
            anyhow::Ok(report)
        })
    }

    async fn apply(&self, lane: &mut Lane, event: &Event) -> Result<Answer> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_once(lane, event).await {
                Err(error) if attempt < TRANSACTION_ATTEMPTS_MAX && is_retryable(&error) => {
                    continue;
                }
                result => {
                    return result
                        .with_context(|| format!("baseline transaction for {}", event.id));
                }
            }
        }
    }

    async fn apply_once(&self, lane: &mut Lane, event: &Event) -> Result<Answer> {
        let Lane {
            client,
            statements,
            rated,
        } = lane;
        let body = event.canonical_json();
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(&statements.insert_event, &[&event.id, &body])
            .await?;
        if inserted == 0 {
            let stored: String = tx
                .query_one(&statements.event_body, &[&event.id])
                .await?
                .get(0);
            tx.rollback().await?;
            return Ok(if stored == body {
                Answer {
                    id: event.id.clone(),
                    accepted: true,
                    code: None,
                }
            } else {
                Answer {
                    id: event.id.clone(),
                    accepted: false,
                    code: Some("id_conflict".into()),
                }
            });
        }
        let outcome = self.decide(&tx, statements, rated, event).await?;
        let answer = match outcome {
            Outcome::Posted(mut legs) => {
                debug_assert!(balanced(&legs), "every posting balances per asset");
                legs.sort_by(|a, b| a.account.cmp(&b.account));
                for leg in &legs {
                    add_to_account(
                        &tx,
                        statements,
                        &leg.account,
                        &leg.asset,
                        leg.amount,
                        leg.floor_zero,
                    )
                    .await?;
                    tx.execute(
                        &statements.insert_entry,
                        &[&event.id, &leg.account, &leg.asset, &leg.amount],
                    )
                    .await?;
                }
                Answer {
                    id: event.id.clone(),
                    accepted: true,
                    code: None,
                }
            }
            Outcome::Rejected(code) => {
                tx.execute(&statements.set_rejected, &[&event.id, &code])
                    .await?;
                Answer {
                    id: event.id.clone(),
                    accepted: false,
                    code: Some(code.to_owned()),
                }
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn decide(
        &self,
        tx: &Transaction<'_>,
        statements: &Statements,
        rated: &mut Option<(String, Rating)>,
        event: &Event,
    ) -> Result<Outcome> {
        let at_s = event.at.as_second();
        Ok(match &event.kind {
            EventKind::Tap(tap) if tap.direction == TapDirection::On => {
                tx.execute(
                    &statements.open_tap,
                    &[&tap.rider, &tap.vehicle, &tap.route, &tap.stop, &at_s],
                )
                .await?;
                Outcome::Posted(Vec::new())
            }
            EventKind::Tap(tap) => {
                let Some(row) = tx
                    .query_opt(&statements.close_tap, &[&tap.rider, &tap.vehicle])
                    .await?
                else {
                    return Ok(Outcome::Rejected("no_tap_on"));
                };
                let route: Option<String> = row.get(0);
                let from: String = row.get(1);
                let on_at_s: i64 = row.get(2);
                let route = route.or_else(|| tap.route.clone());
                // As kanjo: the ride is rated at the tap-on's time.
                let ride = RideRef {
                    at: Timestamp::from_second(on_at_s).unwrap_or(event.at),
                    operator: &tap.operator,
                    route: route.as_deref(),
                    from: Some(&from),
                    to: Some(&tap.stop),
                    rider: Some(&tap.rider),
                };
                self.rate_ride(tx, statements, rated, &event.id, &ride, tap.media)
                    .await?
            }
            EventKind::Ride(ride) => {
                let ride_ref = RideRef {
                    at: event.at,
                    operator: &ride.operator,
                    route: ride.route.as_deref(),
                    from: ride.from.as_deref(),
                    to: ride.to.as_deref(),
                    rider: ride.rider.as_deref(),
                };
                self.rate_ride(tx, statements, rated, &event.id, &ride_ref, ride.media)
                    .await?
            }
            EventKind::Topup(topup) => {
                let clearing = format!(
                    "clearing:{}:{}",
                    topup.source.as_deref().unwrap_or("default"),
                    topup.asset
                );
                Outcome::Posted(vec![
                    leg(clearing, &topup.asset, -(topup.amount_minor as i64), false),
                    leg(
                        format!("rider:{}:{}", topup.rider, topup.asset),
                        &topup.asset,
                        topup.amount_minor as i64,
                        true,
                    ),
                ])
            }
            EventKind::Grant(grant) => Outcome::Posted(vec![
                leg(
                    format!("issuer:{}", grant.asset),
                    &grant.asset,
                    -(grant.amount_minor as i64),
                    false,
                ),
                leg(
                    format!("rider:{}:{}", grant.rider, grant.asset),
                    &grant.asset,
                    grant.amount_minor as i64,
                    true,
                ),
            ]),
            EventKind::Redeem(redeem) => {
                let account = format!("rider:{}:{}", redeem.rider, redeem.asset);
                let balance: i64 = tx
                    .query_opt(&statements.lock_balance, &[&account])
                    .await?
                    .map(|row| row.get(0))
                    .unwrap_or(0);
                if balance < redeem.amount_minor as i64 {
                    let used = tx
                        .query_opt(&statements.find_redemption, &[&redeem.rider, &redeem.asset])
                        .await?;
                    return Ok(Outcome::Rejected(if used.is_some() {
                        "already_redeemed"
                    } else {
                        "insufficient_balance"
                    }));
                }
                tx.execute(
                    &statements.insert_redemption,
                    &[&redeem.rider, &redeem.asset, &redeem.place, &at_s],
                )
                .await?;
                Outcome::Posted(vec![
                    leg(account, &redeem.asset, -(redeem.amount_minor as i64), true),
                    leg(
                        format!("redeemed:{}", redeem.asset),
                        &redeem.asset,
                        redeem.amount_minor as i64,
                        false,
                    ),
                ])
            }
            // The naive baseline models the transit and election scenarios only.
            EventKind::Purchase(_)
            | EventKind::Authorize(_)
            | EventKind::Capture(_)
            | EventKind::Void(_)
            | EventKind::Refund(_)
            | EventKind::Send(_)
            | EventKind::Withdraw(_)
            | EventKind::VoucherPurchase(_)
            | EventKind::Convert(_) => Outcome::Rejected("not_in_baseline"),
        })
    }

    /// Rates a ride with kanjo-rules, reading the rider's record (and wallet) from the database
    /// first, and turns the rating into legs: what the rider pays, what the budget funds, what
    /// the operator is owed, and the grants.
    async fn rate_ride(
        &self,
        tx: &Transaction<'_>,
        statements: &Statements,
        rated: &mut Option<(String, Rating)>,
        event_id: &str,
        ride: &RideRef<'_>,
        media: Media,
    ) -> Result<Outcome> {
        let record = match ride.rider {
            Some(rider) => tx
                .query_opt(&statements.rider, &[&rider])
                .await?
                .and_then(|row| serde_json::from_str(row.get::<_, &str>(0)).ok()),
            None => None,
        };
        let wallet = match (media, ride.rider) {
            (Media::Wallet, Some(rider)) => {
                let account = format!("rider:{rider}:JPY");
                let balance: i64 = tx
                    .query_opt(&statements.lock_balance, &[&account])
                    .await?
                    .map(|row| row.get(0))
                    .unwrap_or(0);
                Some((account, balance))
            }
            _ => None,
        };
        let rating = match rated.as_ref() {
            // A retry of the transaction: the rating was committed on the first attempt.
            Some((id, rating)) if id == event_id => *rating,
            _ => {
                let can_pay = |rating: &Rating| {
                    wallet
                        .as_ref()
                        .is_none_or(|(_, balance)| *balance >= rating.rider_pays as i64)
                };
                let rating = match self.rater.rate(ride, record, can_pay)? {
                    Err(error) => return Ok(Outcome::Rejected(error.code())),
                    Ok(Rated::Declined(_)) => return Ok(Outcome::Rejected("insufficient_funds")),
                    Ok(Rated::Posted(rating)) => rating,
                };
                *rated = Some((event_id.to_owned(), rating));
                rating
            }
        };
        Ok(Outcome::Posted(
            self.ride_legs(ride, media, wallet, &rating),
        ))
    }

    fn ride_legs(
        &self,
        ride: &RideRef<'_>,
        media: Media,
        wallet: Option<(String, i64)>,
        rating: &Rating,
    ) -> Vec<Leg> {
        let programme = self.rater.programme();
        let operator = ride.operator;
        let pays = rating.rider_pays as i64;
        let discount = rating.discount as i64;
        let mut legs = vec![leg(
            format!("operator:{operator}:JPY"),
            "JPY",
            pays + discount,
            false,
        )];
        if let (Some(budget), true) = (rating.funded_by, discount > 0) {
            legs.push(leg(
                format!("budget:{}:JPY", programme.budget(budget).id),
                "JPY",
                -discount,
                false,
            ));
        }
        if pays > 0 {
            legs.push(match wallet {
                Some((account, _)) => leg(account, "JPY", -pays, true),
                None => leg(
                    format!("{}:{operator}:JPY", media_name(media)),
                    "JPY",
                    -pays,
                    false,
                ),
            });
        }
        if let Some(rider) = ride.rider {
            for grant in rating.grants.as_slice() {
                let asset = programme.asset_code(grant.asset);
                legs.push(leg(
                    format!("issuer:{asset}"),
                    asset,
                    -(grant.amount as i64),
                    false,
                ));
                legs.push(leg(
                    format!("rider:{rider}:{asset}"),
                    asset,
                    grant.amount as i64,
                    true,
                ));
            }
        }
        legs
    }
}

impl Target for Baseline {
    fn name(&self) -> String {
        "baseline".to_owned()
    }

    fn store(&self) -> String {
        "postgresql (naive: one transaction per event)".to_owned()
    }

    fn submit(&self, lane: usize, events: &[Event]) -> Result<Vec<Answer>> {
        let mut lane = self.lanes[lane % self.lanes.len()]
            .lock()
            .map_err(|_| anyhow::anyhow!("a baseline lane panicked earlier"))?;
        self.runtime.block_on(async {
            let mut answers = Vec::with_capacity(events.len());
            for event in events {
                answers.push(self.apply(&mut lane, event).await?);
            }
            anyhow::Ok(answers)
        })
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        if self.keep_database {
            eprintln!("kanjo-load: kept baseline database {}", self.dbname);
            return;
        }
        self.lanes.clear();
        let admin = self.admin.clone();
        let dbname = self.dbname.clone();
        let dropped = self.runtime.block_on(async move {
            let client = connect(&admin).await?;
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"))
                .await?;
            anyhow::Ok(())
        });
        if let Err(error) = dropped {
            eprintln!(
                "kanjo-load: could not drop baseline database {}: {error:#}",
                self.dbname
            );
        }
    }
}

/// Adds to a balance, creating the account the first time. Two transactions may race to create
/// it: the loser's insert does nothing and it updates the winner's row (waiting for its lock).
async fn add_to_account(
    tx: &Transaction<'_>,
    statements: &Statements,
    account: &str,
    asset: &str,
    amount: i64,
    floor_zero: bool,
) -> Result<(), tokio_postgres::Error> {
    if tx
        .execute(&statements.add_balance, &[&account, &amount])
        .await?
        > 0
    {
        return Ok(());
    }
    if tx
        .execute(
            &statements.create_account,
            &[&account, &asset, &amount, &floor_zero],
        )
        .await?
        > 0
    {
        return Ok(());
    }
    let updated = tx
        .execute(&statements.add_balance, &[&account, &amount])
        .await?;
    debug_assert_eq!(
        updated, 1,
        "the account exists once another transaction created it"
    );
    Ok(())
}

async fn connect(config: &Config) -> Result<Client> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("kanjo-load: baseline connection ended: {error}");
        }
    });
    Ok(client)
}

fn is_retryable(error: &anyhow::Error) -> bool {
    let code = error
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code);
    matches!(code, Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE)
}

fn balanced(legs: &[Leg]) -> bool {
    let mut sums: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for leg in legs {
        *sums.entry(&leg.asset).or_default() += leg.amount;
    }
    sums.values().all(|&sum| sum == 0)
}
