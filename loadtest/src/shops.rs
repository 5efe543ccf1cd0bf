//! `kanjo-load shops`: a festival day at the town's shops (workload `shops`), in-process, with the
//! same driver, report and checks as the commuter and election runs, and two checks of its own:
//! every event is accepted (the workload never overspends, whatever order lanes deliver it in),
//! and per asset Σ rider spend = Σ shop net + fees, where rider spend is the funding less what
//! the riders' accounts hold and the right-hand side is the shop statement (`report shops`).
//! Customer tokens: every first use is accepted and every replayed token refused `token_used`,
//! counted against the replays sent (`TokenReplays`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use kanjo_core::event::{Event, EventKind};
use kanjo_core::machine::Machine;
use kanjo_core::report::shop_report;
use kanjo_workload::{Festival, FestivalConfig, TokenRole};

use crate::checks::TokenReplays;
use crate::driver::Collected;
use crate::run::{CommonArgs, Kanjo, TargetKind, finish, measure, setup, with_answer_checks};
use crate::summary::{Summary, SystemRun};
use crate::target::Answer;

#[derive(Args, Clone, Debug)]
pub struct ShopsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(long, default_value_t = 50_000)]
    pub residents: u64,
    #[arg(long, default_value_t = 300)]
    pub shops: u32,
    /// Actions of the day (default: enough for every find-max step; 2 000 000 with --quick).
    #[arg(long)]
    pub actions: Option<u64>,
}

/// Per asset: (funding, Σ rider balances, Σ shop net, Σ fees), and the problems found.
pub struct SpendCheck {
    pub lines: BTreeMap<String, (u128, i128, i128, i128)>,
    pub problems: Vec<String>,
}

/// Σ rider spend = Σ shop net + fees, per asset. Rider spend is `funding` less what every rider
/// account holds (sends move value between riders and cancel out); the shop side is the statement.
pub fn spend_check(machine: &Machine, funding: &BTreeMap<String, u128>) -> SpendCheck {
    let mut held: BTreeMap<String, i128> = BTreeMap::new();
    for account in machine.ledger().accounts() {
        let is_rider = machine
            .account_name(account.id)
            .is_some_and(|name| name.starts_with("rider:"));
        let Some(spec) = machine.assets().spec(account.asset) else {
            continue;
        };
        if is_rider {
            *held.entry(spec.code.clone()).or_default() +=
                i128::from(account.credits_posted) - i128::from(account.debits_posted);
        }
    }
    let report = shop_report(machine);
    let mut check = SpendCheck {
        lines: BTreeMap::new(),
        problems: Vec::new(),
    };
    for (asset, funded) in funding {
        let total = report.totals.iter().find(|total| &total.asset == asset);
        let (net, fees) = total.map_or((0, 0), |total| (total.net_minor, total.fees_minor));
        let riders = held.get(asset).copied().unwrap_or(0);
        let spend = *funded as i128 - riders;
        if spend != net + fees {
            check.problems.push(format!(
                "kanjo: {asset}: riders spent {spend} (funded {funded}, hold {riders}) but shops netted {net} and paid {fees} in fees"
            ));
        }
        check
            .lines
            .insert(asset.clone(), (*funded, riders, net, fees));
    }
    check
}

/// Every event of the festival is meant to be accepted.
fn verdict(event: &Event, answer: &Answer) -> Option<String> {
    if answer.accepted {
        return None;
    }
    let kind = match event.kind {
        EventKind::Purchase(_) => "purchase",
        EventKind::Authorize(_) => "authorize",
        EventKind::Capture(_) => "capture",
        EventKind::Refund(_) => "refund",
        EventKind::Send(_) => "send",
        EventKind::Topup(_) => "topup",
        EventKind::Grant(_) => "grant",
        _ => "other",
    };
    Some(format!(
        "{kind} {} was rejected ({:?})",
        event.id, answer.code
    ))
}

/// The token answers, counted by the lanes as they come.
#[derive(Default)]
struct TokenAnswers {
    replays_sent: AtomicU64,
    replays_refused_token_used: AtomicU64,
    replays_refused_otherwise: AtomicU64,
    replays_accepted: AtomicU64,
    first_uses_sent: AtomicU64,
    first_uses_accepted: AtomicU64,
}

impl TokenAnswers {
    /// Counts `answer` if `event` carries a token of the day; a replay is judged here (refused
    /// `token_used`), anything else by `verdict`.
    fn judge(&self, festival: &Festival, event: &Event, answer: &Answer) -> Option<String> {
        let count = |counter: &AtomicU64| counter.fetch_add(1, Ordering::Relaxed);
        match festival.token_use(event) {
            Some(TokenRole::Replay) => {
                count(&self.replays_sent);
                if answer.accepted {
                    count(&self.replays_accepted);
                    return Some(format!("replayed token {} was accepted", event.id));
                }
                if answer.code.as_deref() == Some("token_used") {
                    count(&self.replays_refused_token_used);
                    return None;
                }
                count(&self.replays_refused_otherwise);
                Some(format!(
                    "replayed token {} was refused {:?}, not token_used",
                    event.id, answer.code
                ))
            }
            Some(TokenRole::FirstUse) => {
                count(&self.first_uses_sent);
                if answer.accepted {
                    count(&self.first_uses_accepted);
                }
                verdict(event, answer)
            }
            None => verdict(event, answer),
        }
    }

    fn report(&self, generated: u64) -> TokenReplays {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        TokenReplays {
            generated,
            sent: read(&self.replays_sent),
            refused_token_used: read(&self.replays_refused_token_used),
            refused_otherwise: read(&self.replays_refused_otherwise),
            accepted: read(&self.replays_accepted),
            first_uses_sent: read(&self.first_uses_sent),
            first_uses_accepted: read(&self.first_uses_accepted),
        }
    }
}

pub fn run_shops(args: &ShopsArgs, command: String) -> Result<Summary> {
    let common = &args.common;
    if common.target != TargetKind::Inproc {
        bail!("kanjo-load shops runs in-process (--target inproc) for now");
    }
    let actions = args
        .actions
        .unwrap_or(if common.quick { 2_000_000 } else { 8_000_000 });
    let festival = Festival::new(FestivalConfig::new(
        common.seed,
        args.residents,
        args.shops,
        actions,
    ));
    let funding = festival.funding_by_asset();
    // The day's size is known: the engine sizes its tables up front, so no table grows (and
    // stalls the pipeline while it rehashes) mid-run. An authorisation is two events, and so is
    // a token's first use and its replay.
    let expected_events = festival.funding().count() as u64 + actions + actions / 8 + actions / 64;
    let system = Kanjo::start(
        common,
        usize::try_from(expected_events).unwrap_or(usize::MAX),
    )?;
    let setup_start = Instant::now();
    system.register_shops(&festival.shops())?;
    let (riders, keys) = (festival.rider_records(), festival.device_keys());
    system.register_riders(&riders)?;
    system.register_keys(&keys)?;
    let mut collected = Collected::default();
    let mut funding_events = festival.funding();
    let setup_events = setup(
        system.target(),
        &mut funding_events,
        common.lanes,
        common.batch,
        &verdict,
        &mut collected,
    )?;
    let setup_s = setup_start.elapsed().as_secs_f64();
    let mut day = festival.events();
    let tokens = TokenAnswers::default();
    let judge = |event: &Event, answer: &Answer| tokens.judge(&festival, event, answer);
    let steps = measure(
        system.target(),
        &mut day,
        &common.kanjo_plan(None),
        common,
        &judge,
        &mut collected,
    )?;
    let replays = tokens.report(day.replays_emitted());
    let spend = system.query(move |machine: &Machine| spend_check(machine, &funding))?;
    let (target, store_name) = (system.target().name(), system.target().store());
    let mut checks = system.check_and_shutdown(common, &collected.acknowledged_ids, Vec::new())?;
    checks.problems.extend(spend.problems.iter().cloned());
    checks.problems.extend(replays.problems());
    checks.token_replays = Some(replays.clone());
    let kanjo = SystemRun {
        target,
        store: store_name,
        setup_events: setup_events + u64::from(args.shops) + (riders.len() + keys.len()) as u64,
        setup_s,
        steps,
        checks: with_answer_checks(checks, &collected),
        p99_bound_ms: common.p99_bound_ms,
    };
    let mut notes = vec![
        format!(
            "Workload: a festival day (seed {}) at {} shops with {} residents; {actions} actions drawn 1 % customer-token purchases each replayed later (two events), and of the rest 80 % purchases, 10 % authorise + capture (two events), 5 % partial refunds, 5 % SUZU sends; funding (top-ups and grants), {} rider records and their device keys are setup, not measured.",
            common.seed, args.shops, args.residents, riders.len()
        ),
        format!(
            "Replayed customer tokens: {} sent (of {} generated), {} refused token_used, {} accepted; {} of {} first uses accepted.",
            replays.sent,
            replays.generated,
            replays.refused_token_used,
            replays.accepted,
            replays.first_uses_accepted,
            replays.first_uses_sent
        ),
        "No baseline: the naive PostgreSQL ledger has no shop payments; compare with `kanjo-load commuter` run beside it.".to_owned(),
    ];
    for (asset, (funded, riders, net, fees)) in &spend.lines {
        notes.push(format!(
            "{asset}: funded {funded}, riders hold {riders}, so they spent {}; shops netted {net} + fees {fees} = {}.",
            *funded as i128 - riders,
            net + fees
        ));
    }
    finish("shops", common, command, kanjo, None, notes)
}
