//! Programme versions (issue 12): a later programme takes effect at an instant, and each ride is
//! rated by the version in effect at its own time, not at its arrival.
//!
//! A version is a log entry `{digest, effective}`; the engine keeps the version's whole source
//! in the store under its digest and hands the compiled programme in. Budgets, caps, counters
//! and balances stay one ledger across versions, so a version may change fares (a new GTFS
//! feed), rules and budgets, but must keep what the books and the rating state are keyed by:
//!
//! - the town (code, time zone) and the passes, unchanged;
//! - every earlier operator, budget (id and fiscal year), rule (id and kind) and rule asset in
//!   its place; new ones come after them;
//! - no budget limit below what its budget has used;
//! - every asset of the book, with its kind and scale.
//!
//! Each refusal names the key. A budget a version adds is opened and funded from the treasury
//! when the version is applied; a raised or lowered limit moves the difference. Nothing moves
//! from one fiscal year's budget to another.

use std::sync::Arc;

use jiff::Timestamp;
use kanjo_ledger::Transfer;
use kanjo_rules::{Programme, RuleIx};
use serde::{Deserialize, Serialize};

use super::{Machine, transfer_id};
use crate::chart::{AccountName, AssetBook, Reason};

/// Versions one store may hold (the first is the programme the store was created with).
pub const PROGRAMME_VERSIONS_MAX: usize = 1_024;

/// The logged form of a version: its source's digest and the instant it takes effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionEntry {
    /// `Programme::source_digest`, 32 lowercase hex digits.
    pub digest: String,
    /// RFC 3339 with an offset.
    pub effective: String,
}

impl VersionEntry {
    pub fn new(digest: u128, effective: Timestamp) -> VersionEntry {
        VersionEntry {
            digest: format!("{digest:032x}"),
            effective: effective.to_string(),
        }
    }

    /// The log entry's idempotency id: the same source at the same instant is one version.
    pub fn entry_id(&self) -> String {
        format!(
            "programme-{}-{}",
            self.digest,
            self.effective_ns().unwrap_or(0)
        )
    }

    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("two strings")
    }

    pub fn parse(text: &str) -> Result<VersionEntry, String> {
        let entry: VersionEntry = serde_json::from_str(text).map_err(|error| error.to_string())?;
        entry.digest_value()?;
        entry.effective_ns()?;
        Ok(entry)
    }

    pub fn digest_value(&self) -> Result<u128, String> {
        let hex_ok = self.digest.len() == 32
            && self
                .digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            return Err(format!(
                "digest {:?} is not 32 lowercase hex digits",
                self.digest
            ));
        }
        u128::from_str_radix(&self.digest, 16).map_err(|error| error.to_string())
    }

    pub fn effective_ns(&self) -> Result<i128, String> {
        self.effective
            .parse::<Timestamp>()
            .map(|at| at.as_nanosecond())
            .map_err(|error| format!("effective {:?}: {error}", self.effective))
    }
}

/// One programme version in effect from `effective_ns` (event time) on.
#[derive(Clone, Debug)]
pub struct Version {
    /// 1 for the programme the store was created with, then 2, 3, ...
    pub number: u32,
    /// `i128::MIN` for version 1.
    pub effective_ns: i128,
    pub digest: u128,
    pub programme: Arc<Programme>,
}

/// Why a version was not applied; the key names what in the programme is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct VersionRefusal {
    pub key: String,
    pub problem: String,
}

fn refusal(key: impl Into<String>, problem: impl Into<String>) -> VersionRefusal {
    VersionRefusal {
        key: key.into(),
        problem: problem.into(),
    }
}

/// Every version, in effective order (which is also log order).
#[derive(Clone, Debug, Default)]
pub struct VersionBook {
    versions: Vec<Version>,
    /// The latest event time the machine has seen: a new version takes effect after it.
    pub(super) events_until_ns: i128,
}

impl VersionBook {
    pub fn new(programme: &Arc<Programme>) -> VersionBook {
        VersionBook {
            versions: vec![Version {
                number: 1,
                effective_ns: i128::MIN,
                digest: programme.source_digest(),
                programme: Arc::clone(programme),
            }],
            events_until_ns: i128::MIN,
        }
    }

    /// The version in effect at `at_ns` (event time).
    pub fn at(&self, at_ns: i128) -> &Version {
        let after = self.versions.partition_point(|v| v.effective_ns <= at_ns);
        &self.versions[after.max(1) - 1]
    }

    pub fn all(&self) -> &[Version] {
        &self.versions
    }

    fn latest(&self) -> &Version {
        self.versions.last().expect("version 1 is always there")
    }
}

impl Machine {
    /// The programme versions, oldest first.
    pub fn versions(&self) -> &[Version] {
        self.versions.all()
    }

    /// The latest event time seen: a new version must take effect after it.
    pub fn events_until(&self) -> Option<Timestamp> {
        Timestamp::from_nanosecond(self.versions.events_until_ns).ok()
    }

    /// The programme in effect at an event time.
    pub fn programme_at(&self, at: Timestamp) -> &Arc<Programme> {
        &self.versions.at(at.as_nanosecond()).programme
    }

    /// Checks a version against the books without applying it.
    pub fn check_version(
        &self,
        entry: &VersionEntry,
        programme: &Programme,
        assets: &AssetBook,
    ) -> Result<(), VersionRefusal> {
        let effective_ns = entry
            .effective_ns()
            .map_err(|problem| refusal("effective", problem))?;
        if entry.digest_value() != Ok(programme.source_digest()) {
            return Err(refusal("digest", "does not match the programme's source"));
        }
        let latest = self.versions.latest();
        if self.versions.all().len() >= PROGRAMME_VERSIONS_MAX {
            return Err(refusal(
                "version",
                format!("a store holds at most {PROGRAMME_VERSIONS_MAX} programme versions"),
            ));
        }
        if effective_ns <= latest.effective_ns {
            return Err(refusal(
                "effective",
                format!(
                    "{} is not after version {}'s instant; versions take effect in order",
                    entry.effective, latest.number
                ),
            ));
        }
        if effective_ns <= self.versions.events_until_ns {
            return Err(refusal(
                "effective",
                format!(
                    "{} is not after the latest event already rated ({}); a version can't \
                     change the answers already given",
                    entry.effective,
                    Timestamp::from_nanosecond(self.versions.events_until_ns)
                        .map(|at| at.to_string())
                        .unwrap_or_default()
                ),
            ));
        }
        self.check_programme_keeps_books(&latest.programme, programme)?;
        self.check_assets_kept(assets)
    }

    /// Applies a version (checked again: the log may hold a version the books no longer allow,
    /// which is then refused the same way on every replay). The same digest and instant again
    /// is the same version.
    pub fn apply_version(
        &mut self,
        entry: &VersionEntry,
        programme: Arc<Programme>,
        assets: &AssetBook,
    ) -> Result<u32, VersionRefusal> {
        let effective_ns = entry
            .effective_ns()
            .map_err(|problem| refusal("effective", problem))?;
        if let Some(same) = self
            .versions
            .all()
            .iter()
            .find(|v| v.effective_ns == effective_ns && Ok(v.digest) == entry.digest_value())
        {
            return Ok(same.number);
        }
        self.check_version(entry, &programme, assets)?;
        let number = self.versions.latest().number + 1;
        self.open_version_accounts(&programme, number);
        self.rating.set_budgets(&programme);
        self.rule_assets = programme
            .assets()
            .map(|(_, code)| self.assets.get(code).expect("checked: in the book").0)
            .collect();
        self.programme = Arc::clone(&programme);
        self.versions.versions.push(Version {
            number,
            effective_ns,
            digest: programme.source_digest(),
            programme,
        });
        Ok(number)
    }
}

impl Machine {
    /// Town, passes, operators, rules, rule assets and budgets as the module docs say.
    fn check_programme_keeps_books(
        &self,
        old: &Programme,
        new: &Programme,
    ) -> Result<(), VersionRefusal> {
        if old.town_code() != new.town_code() {
            return Err(refusal(
                "[town] code",
                format!(
                    "was {}, now {}; a store keeps its town",
                    old.town_code(),
                    new.town_code()
                ),
            ));
        }
        if old.timezone() != new.timezone() {
            return Err(refusal(
                "[town] timezone",
                "changed; a store keeps its time zone",
            ));
        }
        let old_passes: Vec<&str> = old.passes().iter().map(|p| p.id.as_str()).collect();
        let new_passes: Vec<&str> = new.passes().iter().map(|p| p.id.as_str()).collect();
        if old_passes != new_passes {
            return Err(refusal(
                "[[passes]]",
                "a version can't change the pass products yet",
            ));
        }
        let old_operators: Vec<&str> = old.operators().map(|(_, code)| code).collect();
        let new_operators: Vec<&str> = new.operators().map(|(_, code)| code).collect();
        kept_in_place("fare table", &old_operators, &new_operators)?;
        let old_assets: Vec<&str> = old.assets().map(|(_, code)| code).collect();
        let new_assets: Vec<&str> = new.assets().map(|(_, code)| code).collect();
        kept_in_place("rule asset", &old_assets, &new_assets)?;
        check_rules_kept(old, new)?;
        self.check_budgets_kept(old, new)
    }

    fn check_budgets_kept(&self, old: &Programme, new: &Programme) -> Result<(), VersionRefusal> {
        for (index, budget) in old.budgets().iter().enumerate() {
            let key = format!("budget {} (FY{})", budget.id, budget.fiscal_year);
            let Some(kept) = new.budgets().get(index) else {
                return Err(refusal(
                    key,
                    "removed; a version keeps every earlier budget",
                ));
            };
            if kept.id != budget.id || kept.fiscal_year != budget.fiscal_year {
                return Err(refusal(
                    key,
                    format!(
                        "moved or removed (budget {} (FY{}) is in its place); a version keeps every \
                         earlier budget in its place and adds new ones after them",
                        kept.id, kept.fiscal_year
                    ),
                ));
            }
            let used = self.rating.budget_used(kanjo_rules::BudgetIx(
                u16::try_from(index).expect("bounded"),
            ));
            if kept.limit < used {
                return Err(refusal(
                    key,
                    format!("limit {} is below the {used} yen already used", kept.limit),
                ));
            }
        }
        Ok(())
    }

    /// Every asset of the machine's book, with its kind and scale; the book itself stays the
    /// store's first one (its other sections can't change in a version yet).
    fn check_assets_kept(&self, assets: &AssetBook) -> Result<(), VersionRefusal> {
        for (id, spec) in self.assets.iter() {
            let key = format!("asset {}", spec.code);
            let Some((_, kept)) = assets.get(&spec.code) else {
                let totals = self.ledger.totals(id);
                if totals.debits_posted > 0 || totals.debits_pending > 0 {
                    return Err(refusal(
                        key,
                        format!(
                            "removed, but accounts hold it ({} minor units posted); an asset with \
                             balances stays",
                            totals.debits_posted
                        ),
                    ));
                }
                return Err(refusal(key, "removed; a version can't remove an asset yet"));
            };
            if kept.scale != spec.scale {
                return Err(refusal(
                    key,
                    format!(
                        "scale changed from {} to {}; balances are kept in the old minor units",
                        spec.scale, kept.scale
                    ),
                ));
            }
            if kept != spec {
                return Err(refusal(
                    key,
                    "changed; a version can't change an asset's terms yet",
                ));
            }
        }
        if let Some((_, added)) = assets
            .iter()
            .find(|(_, s)| self.assets.get(&s.code).is_none())
        {
            return Err(refusal(
                format!("asset {}", added.code),
                "added; a version can't add assets yet",
            ));
        }
        Ok(())
    }

    /// Opens what a version adds (operators' accounts, budgets) and moves budget funding:
    /// a new budget is funded in full, a changed limit by the difference.
    fn open_version_accounts(&mut self, new: &Programme, number: u32) {
        let yen = self.assets.yen();
        let clock_ns = self.clock_ns;
        let town = new.town_code().to_owned();
        let treasury = AccountName::Treasury { town: &town }.id();
        for (_, operator) in new.operators() {
            for name in [
                AccountName::OperatorFares { operator },
                AccountName::OperatorSubsidy { operator },
                AccountName::OperatorCash { operator },
            ] {
                self.open_account(&name, yen, clock_ns);
            }
        }
        let old_limits: Vec<u64> = self.programme.budgets().iter().map(|b| b.limit).collect();
        let mut funding = Vec::new();
        for (index, budget) in new.budgets().iter().enumerate() {
            let name = AccountName::Budget {
                budget: &budget.id,
                fiscal_year: budget.fiscal_year,
            };
            let account = self.open_account(&name, yen, clock_ns);
            if index >= self.budget_accounts.len() {
                self.budget_accounts.push(account);
            }
            assert_eq!(
                self.budget_accounts[index], account,
                "budgets keep their place"
            );
            let old = old_limits.get(index).copied().unwrap_or(0);
            let leg = u8::try_from(number % 256).expect("mod 256");
            let id = transfer_id(account ^ u128::from(number), leg);
            if budget.limit > old {
                let raise = budget.limit - old;
                funding.push(Transfer::new(
                    id,
                    treasury,
                    account,
                    raise,
                    yen,
                    Reason::BudgetFunding as u16,
                ));
            } else if budget.limit < old {
                let cut = old - budget.limit;
                funding.push(Transfer::new(
                    id,
                    account,
                    treasury,
                    cut,
                    yen,
                    Reason::BudgetFunding as u16,
                ));
            }
        }
        let failures = self.ledger.create_transfers(&funding, clock_ns);
        assert!(
            failures.is_empty(),
            "budget funding of version {number}: {failures:?}"
        );
    }
}

/// `new` starts with every name of `old`, in the same places.
fn kept_in_place(what: &str, old: &[&str], new: &[&str]) -> Result<(), VersionRefusal> {
    for (index, name) in old.iter().enumerate() {
        if new.get(index) != Some(name) {
            let problem = if new.contains(name) {
                "moved; a version keeps every earlier one in its place and adds new ones after them"
            } else {
                "removed; a version keeps every earlier one in its place"
            };
            return Err(refusal(format!("{what} {name}"), problem));
        }
    }
    Ok(())
}

/// A rule id keeps its kind; every earlier rule stays in its place (answers and counters name
/// rules by place).
fn check_rules_kept(old: &Programme, new: &Programme) -> Result<(), VersionRefusal> {
    let new_rules: Vec<(&str, kanjo_rules::RuleKind)> = (0..new.rule_count())
        .map(|ix| {
            let rule = RuleIx(u16::try_from(ix).expect("at most 64 rules"));
            (new.rule_id(rule), new.rule_kind(rule))
        })
        .collect();
    for ix in 0..old.rule_count() {
        let rule = RuleIx(u16::try_from(ix).expect("at most 64 rules"));
        let (id, kind) = (old.rule_id(rule), old.rule_kind(rule));
        if let Some((_, new_kind)) = new_rules.iter().find(|(new_id, _)| *new_id == id)
            && *new_kind != kind
        {
            return Err(refusal(
                format!("rule {id}"),
                format!(
                    "was a {} rule, now a {}; a rule id can't be reused for a different kind",
                    kind.name(),
                    new_kind.name()
                ),
            ));
        }
    }
    let old_ids: Vec<&str> = (0..old.rule_count())
        .map(|ix| old.rule_id(RuleIx(u16::try_from(ix).expect("at most 64 rules"))))
        .collect();
    let new_ids: Vec<&str> = new_rules.iter().map(|(id, _)| *id).collect();
    kept_in_place("rule", &old_ids, &new_ids)
}
