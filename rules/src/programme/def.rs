//! The programme TOML as written, and its validation into compiled rules.
//!
//! Known tables reject unknown keys (a typo such as `elegible` is an error naming the file,
//! the rule id and the key); unknown top-level tables belong to the engine and are ignored.

use std::path::Path;
use std::str::FromStr;

use hashbrown::HashMap;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Budget, FareSource, Operator, ProgrammeError};
use crate::date::LocalDate;
use crate::eligibility::{Eligibility, SchoolStage, Since};
use crate::ids::{AssetIx, BudgetIx, OperatorIx, RuleIx};
use crate::limits::{
    MAX_BUDGETS, MAX_GRANT_RULES, MAX_OPERATORS, MAX_PASS_PRODUCTS, MAX_PASS_VALID_DAYS,
    MAX_PASS_VALID_MONTHS, MAX_PERCENT_SCALE, MAX_RIDER_ATTRIBUTES, MAX_RULES,
    MAX_SINCE_WITHIN_DAYS,
};
use crate::municipality;
use crate::pass::{PassPayment, PassProduct, Validity};
use crate::riders::{RiderError, check_attribute_name};
use crate::rule::{CapRule, Discount, DiscountRule, Funding, GrantRule, Rounding, RuleKind};

#[derive(Deserialize)]
struct Document {
    town: Option<toml::Value>,
    #[serde(default)]
    fare_tables: Vec<toml::Value>,
    #[serde(default)]
    budgets: Vec<toml::Value>,
    #[serde(default)]
    rules: Vec<toml::Value>,
    #[serde(default)]
    attributes: Vec<toml::Value>,
    #[serde(default)]
    passes: Vec<toml::Value>,
}

/// One `[[passes]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PassDef {
    id: String,
    asset: String,
    valid_from: Option<LocalDate>,
    valid_until: Option<LocalDate>,
    valid_days: Option<u32>,
    valid_months: Option<u32>,
    operators: Vec<String>,
    routes: Option<Vec<String>>,
    rides_per_day: Option<u32>,
    rides_total: Option<u32>,
    #[serde(default)]
    eligible: EligibleDef,
    #[serde(default = "one")]
    per_person: u32,
    payment: PaymentDef,
    price: Option<u64>,
    funded_by: String,
    issue_limit: Option<u64>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PaymentDef {
    PerRide,
    Flat,
}

/// `[[attributes]] name = "tax_exempt_household" type = "bool"`: a custom rider attribute that
/// rules may name. Declaring them turns a misspelt name in a rule into a load error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttributeDef {
    name: String,
    #[serde(rename = "type")]
    kind: AttributeType,
}

/// What a custom attribute holds: `has` reads a `bool`, `since` a `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum AttributeType {
    Bool,
    Date,
}

impl AttributeType {
    fn name(self) -> &'static str {
        match self {
            AttributeType::Bool => "bool",
            AttributeType::Date => "date",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SinceDef {
    attribute: String,
    within_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TownDef {
    code: String,
    #[serde(default)]
    name: String,
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FareTableDef {
    operator: String,
    gtfs: Option<String>,
    flat_fare: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetDef {
    id: String,
    fiscal_year: i32,
    limit: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EligibleDef {
    min_age: Option<u32>,
    max_age: Option<u32>,
    resident_of: Option<String>,
    visitor_of: Option<String>,
    #[serde(alias = "licence_returned")]
    license_returned: Option<bool>,
    disability: Option<bool>,
    school_stage: Option<String>,
    has: Option<String>,
    since: Option<SinceDef>,
}

/// `discount = { type = ... }`: serde picks the variant by `type` and refuses a key that does
/// not belong to it (`amount` on `free`), naming the key.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum DiscountDef {
    Free {},
    FixedFare {
        amount: u64,
    },
    PercentOff {
        percent: toml::Value,
        round: Option<RoundDef>,
    },
}

#[derive(Clone, Copy, Deserialize)]
enum RoundDef {
    #[serde(rename = "up_10")]
    Up10,
    #[serde(rename = "down_10")]
    Down10,
    #[serde(rename = "none")]
    Yen,
}

/// One `[[rules]]` entry: serde picks the variant by `kind`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RuleDef {
    FareDiscount(FareDiscountDef),
    DailyCap(DailyCapDef),
    RideReward(RideRewardDef),
    PointsPerRide(PointsDef),
}

impl RuleDef {
    fn kind(&self) -> RuleKind {
        match self {
            RuleDef::FareDiscount(_) => RuleKind::FareDiscount,
            RuleDef::DailyCap(_) => RuleKind::DailyCap,
            RuleDef::RideReward(_) => RuleKind::RideReward,
            RuleDef::PointsPerRide(_) => RuleKind::PointsPerRide,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FareDiscountDef {
    #[serde(rename = "id")]
    _id: String,
    operators: Option<Vec<String>>,
    #[serde(default)]
    eligible: EligibleDef,
    discount: DiscountDef,
    funded_by: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DailyCapDef {
    #[serde(rename = "id")]
    _id: String,
    operators: Option<Vec<String>>,
    #[serde(default)]
    eligible: EligibleDef,
    amount: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RideRewardDef {
    #[serde(rename = "id")]
    _id: String,
    operators: Option<Vec<String>>,
    #[serde(default)]
    eligible: EligibleDef,
    every: u64,
    asset: String,
    amount: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointsDef {
    #[serde(rename = "id")]
    _id: String,
    operators: Option<Vec<String>>,
    #[serde(default)]
    eligible: EligibleDef,
    asset: String,
    amount: u64,
}

/// Everything `Programme` holds, compiled.
pub(super) struct Compiled {
    pub town_code: String,
    pub town_name: String,
    pub timezone: jiff::tz::TimeZone,
    pub operators: Vec<Operator>,
    pub operator_by_code: HashMap<String, OperatorIx>,
    pub budgets: Vec<Budget>,
    pub rule_ids: Vec<String>,
    pub rule_kinds: Vec<RuleKind>,
    pub discounts: Vec<DiscountRule>,
    pub caps: Vec<CapRule>,
    pub grants: Vec<GrantRule>,
    pub assets: Vec<String>,
    pub attributes: Vec<(String, AttributeType)>,
    pub passes: Vec<PassProduct>,
    pub warnings: Vec<String>,
}

/// Builds errors that name the programme file and what in it is wrong.
struct Ctx<'p> {
    path: &'p Path,
}

impl Ctx<'_> {
    fn invalid(&self, context: impl Into<String>, problem: impl Into<String>) -> ProgrammeError {
        ProgrammeError::Invalid {
            path: self.path.to_path_buf(),
            context: context.into(),
            problem: problem.into(),
        }
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        context: &str,
        value: toml::Value,
    ) -> Result<T, ProgrammeError> {
        value
            .try_into::<T>()
            .map_err(|e| self.invalid(context, e.message().trim().to_string()))
    }
}

pub(super) fn compile(
    path: &Path,
    text: &str,
    gtfs: super::GtfsLoader<'_>,
) -> Result<Compiled, ProgrammeError> {
    let ctx = Ctx { path };
    let doc: Document = toml::from_str(text).map_err(|e| ProgrammeError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim().to_string(),
    })?;

    let town_value = doc
        .town
        .ok_or_else(|| ctx.invalid("[town]", "missing: the programme needs a [town] table"))?;
    let town: TownDef = ctx.parse("[town]", town_value)?;
    municipality::validate(&town.code).map_err(|e| ctx.invalid("[town] code", e.to_string()))?;
    let timezone_name = town.timezone.as_deref().unwrap_or("Asia/Tokyo");
    let timezone = time_zone(timezone_name).ok_or_else(|| {
        ctx.invalid(
            "[town] timezone",
            format!("`{timezone_name}` is not a known IANA time zone"),
        )
    })?;

    let base_dir = path.parent().unwrap_or(Path::new("."));
    let mut warnings = Vec::new();
    let (operators, operator_by_code) =
        compile_fare_tables(&ctx, base_dir, doc.fare_tables, &mut warnings, gtfs)?;
    let budgets = compile_budgets(&ctx, doc.budgets)?;
    let attributes = compile_attributes(&ctx, doc.attributes)?;

    if doc.rules.len() > MAX_RULES {
        return Err(ctx.invalid(
            "[[rules]]",
            format!(
                "{} rules; a programme may have at most {MAX_RULES}",
                doc.rules.len()
            ),
        ));
    }
    let mut out = Compiled {
        town_code: town.code,
        town_name: town.name,
        timezone,
        operators,
        operator_by_code,
        budgets,
        rule_ids: Vec::new(),
        rule_kinds: Vec::new(),
        discounts: Vec::new(),
        caps: Vec::new(),
        grants: Vec::new(),
        assets: Vec::new(),
        attributes,
        passes: Vec::new(),
        warnings,
    };
    for (position, value) in doc.rules.into_iter().enumerate() {
        compile_rule(&ctx, &mut out, position, value)?;
    }
    compile_passes(&ctx, &mut out, doc.passes)?;
    if out.grants.len() > MAX_GRANT_RULES {
        return Err(ctx.invalid(
            "[[rules]]",
            format!(
                "{} ride_reward / points_per_ride rules; a programme may have at most {MAX_GRANT_RULES}",
                out.grants.len()
            ),
        ));
    }
    Ok(out)
}

/// IANA names through jiff (system tzdb). Japan has had no daylight saving since 1951, so
/// Asia/Tokyo falls back to a fixed +09:00 where no tzdb is installed.
fn time_zone(name: &str) -> Option<jiff::tz::TimeZone> {
    match jiff::tz::TimeZone::get(name) {
        Ok(tz) => Some(tz),
        Err(_) if matches!(name, "Asia/Tokyo" | "Japan") => {
            Some(jiff::tz::TimeZone::fixed(jiff::tz::offset(9)))
        }
        Err(_) if matches!(name, "UTC" | "Etc/UTC") => Some(jiff::tz::TimeZone::UTC),
        Err(_) => None,
    }
}

fn compile_fare_tables(
    ctx: &Ctx<'_>,
    base_dir: &Path,
    values: Vec<toml::Value>,
    warnings: &mut Vec<String>,
    gtfs: super::GtfsLoader<'_>,
) -> Result<(Vec<Operator>, HashMap<String, OperatorIx>), ProgrammeError> {
    if values.len() > MAX_OPERATORS {
        return Err(ctx.invalid(
            "[[fare_tables]]",
            format!(
                "{} fare tables; a programme may have at most {MAX_OPERATORS}",
                values.len()
            ),
        ));
    }
    let mut operators = Vec::new();
    let mut by_code = HashMap::new();
    for (position, value) in values.into_iter().enumerate() {
        let name = table_name(&value, "fare table", "operator", position);
        let def: FareTableDef = ctx.parse(&name, value)?;
        if def.operator.is_empty() {
            return Err(ctx.invalid(name, "`operator` is empty"));
        }
        let fares = match (def.gtfs, def.flat_fare) {
            (Some(dir), None) => {
                let dir = base_dir.join(dir);
                let fares = gtfs(&def.operator, &dir).map_err(|source| ProgrammeError::Gtfs {
                    path: ctx.path.to_path_buf(),
                    operator: def.operator.clone(),
                    source,
                })?;
                warnings.extend(
                    fares
                        .warnings()
                        .iter()
                        .map(|w| format!("fare table `{}`: {w}", def.operator)),
                );
                FareSource::Gtfs(Box::new(fares))
            }
            (None, Some(flat)) => FareSource::Flat(flat),
            _ => return Err(ctx.invalid(name, "needs exactly one of `gtfs` or `flat_fare`")),
        };
        let ix = OperatorIx(u16::try_from(operators.len()).expect("bounded by MAX_OPERATORS"));
        if by_code.insert(def.operator.clone(), ix).is_some() {
            return Err(ctx.invalid(name, "operator is listed twice"));
        }
        operators.push(Operator {
            code: def.operator,
            fares,
        });
    }
    Ok((operators, by_code))
}

fn compile_budgets(ctx: &Ctx<'_>, values: Vec<toml::Value>) -> Result<Vec<Budget>, ProgrammeError> {
    if values.len() > MAX_BUDGETS {
        return Err(ctx.invalid(
            "[[budgets]]",
            format!(
                "{} budgets; a programme may have at most {MAX_BUDGETS}",
                values.len()
            ),
        ));
    }
    let mut budgets: Vec<Budget> = Vec::new();
    for (position, value) in values.into_iter().enumerate() {
        let name = table_name(&value, "budget", "id", position);
        let def: BudgetDef = ctx.parse(&name, value)?;
        if def.id.is_empty() {
            return Err(ctx.invalid(name, "`id` is empty"));
        }
        if budgets
            .iter()
            .any(|b| b.id == def.id && b.fiscal_year == def.fiscal_year)
        {
            return Err(ctx.invalid(
                name,
                format!("fiscal year {} is given twice", def.fiscal_year),
            ));
        }
        budgets.push(Budget {
            id: def.id,
            fiscal_year: def.fiscal_year,
            limit: def.limit,
        });
    }
    Ok(budgets)
}

fn compile_attributes(
    ctx: &Ctx<'_>,
    values: Vec<toml::Value>,
) -> Result<Vec<(String, AttributeType)>, ProgrammeError> {
    if values.len() > MAX_RIDER_ATTRIBUTES {
        return Err(ctx.invalid(
            "[[attributes]]",
            format!(
                "{} attributes; a programme may declare at most {MAX_RIDER_ATTRIBUTES}",
                values.len()
            ),
        ));
    }
    let mut attributes: Vec<(String, AttributeType)> = Vec::new();
    for (position, value) in values.into_iter().enumerate() {
        let name = table_name(&value, "attribute", "name", position);
        let def: AttributeDef = ctx.parse(&name, value)?;
        if !check_attribute_name(&def.name) {
            return Err(ctx.invalid(name, RiderError::BadAttributeName.to_string()));
        }
        if attributes.iter().any(|(n, _)| *n == def.name) {
            return Err(ctx.invalid(name, "is declared twice"));
        }
        attributes.push((def.name, def.kind));
    }
    Ok(attributes)
}

fn compile_passes(
    ctx: &Ctx<'_>,
    out: &mut Compiled,
    values: Vec<toml::Value>,
) -> Result<(), ProgrammeError> {
    if values.len() > MAX_PASS_PRODUCTS {
        return Err(ctx.invalid(
            "[[passes]]",
            format!(
                "{} pass products; a programme may have at most {MAX_PASS_PRODUCTS}",
                values.len()
            ),
        ));
    }
    for (position, value) in values.into_iter().enumerate() {
        let name = table_name(&value, "pass", "id", position);
        if let Some(eligible) = value.get("eligible") {
            ctx.parse::<EligibleDef>(&format!("{name}: eligible"), eligible.clone())?;
        }
        let def: PassDef = ctx.parse(&name, value)?;
        if def.id.is_empty() || def.asset.is_empty() {
            return Err(ctx.invalid(name, "`id` and `asset` must not be empty"));
        }
        if out.passes.iter().any(|p| p.id == def.id) {
            return Err(ctx.invalid(name, "id is used by an earlier pass"));
        }
        // A grant of the asset issues the pass, so one asset names one product.
        if out.passes.iter().any(|p| p.asset == def.asset) {
            return Err(ctx.invalid(name, "asset is used by an earlier pass"));
        }
        if def.operators.is_empty() {
            return Err(ctx.invalid(name, "`operators` names at least one operator"));
        }
        let product = PassProduct {
            validity: pass_validity(ctx, &name, &def)?,
            operators: operator_mask(ctx, &name, out, Some(&def.operators))?,
            first_operator: out.operator_by_code[def.operators[0].as_str()],
            routes: def.routes.clone().map(Vec::into_boxed_slice),
            eligible: eligibility(ctx, &name, &out.attributes, &def.eligible)?,
            payment: pass_payment(ctx, &name, &def)?,
            funding: funding(ctx, &name, out, &def.funded_by)?,
            id: def.id,
            asset: def.asset,
            rides_per_day: def.rides_per_day,
            rides_total: def.rides_total,
            per_person: def.per_person,
            issue_limit: def.issue_limit,
        };
        if product.per_person == 0
            || product.rides_per_day == Some(0)
            || product.rides_total == Some(0)
        {
            return Err(ctx.invalid(
                name,
                "`per_person`, `rides_per_day` and `rides_total` are at least 1 when given",
            ));
        }
        out.passes.push(product);
    }
    Ok(())
}

fn pass_validity(ctx: &Ctx<'_>, name: &str, def: &PassDef) -> Result<Validity, ProgrammeError> {
    let validity = match (
        def.valid_from,
        def.valid_until,
        def.valid_days,
        def.valid_months,
    ) {
        (Some(from), Some(until), None, None) if from <= until => Validity::Fixed { from, until },
        (None, None, Some(days), None) if (1..=MAX_PASS_VALID_DAYS).contains(&days) => {
            Validity::Days(days)
        }
        (None, None, None, Some(months)) if (1..=MAX_PASS_VALID_MONTHS).contains(&months) => {
            Validity::Months(months)
        }
        _ => {
            return Err(ctx.invalid(
                name,
                format!(
                    "validity is `valid_from` <= `valid_until`, or `valid_days` (1..={MAX_PASS_VALID_DAYS}), or `valid_months` (1..={MAX_PASS_VALID_MONTHS})"
                ),
            ));
        }
    };
    Ok(validity)
}

fn pass_payment(ctx: &Ctx<'_>, name: &str, def: &PassDef) -> Result<PassPayment, ProgrammeError> {
    match (def.payment, def.price) {
        (PaymentDef::PerRide, None) => Ok(PassPayment::PerRide),
        (PaymentDef::Flat, Some(price_minor)) => Ok(PassPayment::Flat { price_minor }),
        (PaymentDef::PerRide, Some(_)) => {
            Err(ctx.invalid(name, "`price` is for `payment = \"flat\"` only"))
        }
        (PaymentDef::Flat, None) => Err(ctx.invalid(name, "`payment = \"flat\"` needs a `price`")),
    }
}

/// A budget id resolved to its entries per fiscal year.
fn funding(
    ctx: &Ctx<'_>,
    name: &str,
    out: &Compiled,
    budget_id: &str,
) -> Result<Funding, ProgrammeError> {
    let years: Vec<(i32, BudgetIx)> = out
        .budgets
        .iter()
        .enumerate()
        .filter(|(_, b)| b.id == budget_id)
        .map(|(ix, b)| {
            let ix = u16::try_from(ix).expect("bounded by MAX_BUDGETS");
            (b.fiscal_year, BudgetIx(ix))
        })
        .collect();
    if years.is_empty() {
        return Err(ctx.invalid(
            name,
            format!("funded_by `{budget_id}`: no [[budgets]] entry has that id"),
        ));
    }
    Ok(Funding {
        by_fiscal_year: years.into_boxed_slice(),
    })
}

fn compile_rule(
    ctx: &Ctx<'_>,
    out: &mut Compiled,
    position: usize,
    value: toml::Value,
) -> Result<(), ProgrammeError> {
    let Some(table) = value.as_table() else {
        return Err(ctx.invalid(format!("rule #{}", position + 1), "is not a table"));
    };
    let id = match table.get("id") {
        Some(toml::Value::String(id)) if !id.is_empty() => id.clone(),
        Some(_) => {
            return Err(ctx.invalid(
                format!("rule #{}", position + 1),
                "`id` must be a non-empty string",
            ));
        }
        None => return Err(ctx.invalid(format!("rule #{}", position + 1), "has no `id`")),
    };
    let name = format!("rule `{id}`");
    if out.rule_ids.contains(&id) {
        return Err(ctx.invalid(name, "id is used by an earlier rule"));
    }
    // Nested tables first, so a bad value inside them is reported under their key.
    if let Some(eligible) = table.get("eligible") {
        ctx.parse::<EligibleDef>(&format!("{name}: eligible"), eligible.clone())?;
    }
    if let Some(discount) = table.get("discount") {
        ctx.parse::<DiscountDef>(&format!("{name}: discount"), discount.clone())?;
    }
    let def: RuleDef = ctx.parse(&name, value)?;
    let kind = def.kind();
    let rule = RuleIx(u16::try_from(out.rule_ids.len()).expect("bounded by MAX_RULES"));
    match def {
        RuleDef::FareDiscount(def) => {
            let budget_id = def.funded_by;
            let years: Vec<(i32, BudgetIx)> = out
                .budgets
                .iter()
                .enumerate()
                .filter(|(_, b)| b.id == budget_id)
                .map(|(ix, b)| {
                    let ix = u16::try_from(ix).expect("bounded by MAX_BUDGETS");
                    (b.fiscal_year, BudgetIx(ix))
                })
                .collect();
            if years.is_empty() {
                return Err(ctx.invalid(
                    name,
                    format!("funded_by `{budget_id}`: no [[budgets]] entry has that id"),
                ));
            }
            let funding = Funding {
                by_fiscal_year: years.into_boxed_slice(),
            };
            out.discounts.push(DiscountRule {
                rule,
                operators: operator_mask(ctx, &name, out, def.operators.as_deref())?,
                eligible: eligibility(ctx, &name, &out.attributes, &def.eligible)?,
                discount: discount(ctx, &name, &def.discount)?,
                funding,
            });
        }
        RuleDef::DailyCap(def) => {
            let slot = u16::try_from(out.caps.len()).expect("bounded by MAX_RULES");
            out.caps.push(CapRule {
                rule,
                slot,
                operators: operator_mask(ctx, &name, out, def.operators.as_deref())?,
                eligible: eligibility(ctx, &name, &out.attributes, &def.eligible)?,
                amount: def.amount,
            });
        }
        RuleDef::RideReward(def) => {
            if def.every == 0 {
                return Err(ctx.invalid(name, "`every` must be at least 1"));
            }
            let grant = GrantRule {
                rule,
                operators: operator_mask(ctx, &name, out, def.operators.as_deref())?,
                eligible: eligibility(ctx, &name, &out.attributes, &def.eligible)?,
                asset: asset(ctx, &name, out, &def.asset, def.amount)?,
                amount: def.amount,
                every: Some(def.every),
            };
            out.grants.push(grant);
        }
        RuleDef::PointsPerRide(def) => {
            let grant = GrantRule {
                rule,
                operators: operator_mask(ctx, &name, out, def.operators.as_deref())?,
                eligible: eligibility(ctx, &name, &out.attributes, &def.eligible)?,
                asset: asset(ctx, &name, out, &def.asset, def.amount)?,
                amount: def.amount,
                every: None,
            };
            out.grants.push(grant);
        }
    }
    out.rule_ids.push(id);
    out.rule_kinds.push(kind);
    Ok(())
}

fn operator_mask(
    ctx: &Ctx<'_>,
    name: &str,
    out: &Compiled,
    operators: Option<&[String]>,
) -> Result<u64, ProgrammeError> {
    let Some(operators) = operators else {
        return Ok(u64::MAX);
    };
    let mut mask = 0u64;
    for code in operators {
        let Some(ix) = out.operator_by_code.get(code.as_str()) else {
            return Err(ctx.invalid(
                name,
                format!("operators: `{code}` has no [[fare_tables]] entry"),
            ));
        };
        mask |= 1u64 << ix.0;
    }
    Ok(mask)
}

fn asset(
    ctx: &Ctx<'_>,
    name: &str,
    out: &mut Compiled,
    code: &str,
    amount: u64,
) -> Result<AssetIx, ProgrammeError> {
    if code.is_empty() {
        return Err(ctx.invalid(name, "`asset` is empty"));
    }
    if amount == 0 {
        return Err(ctx.invalid(name, "`amount` must be at least 1"));
    }
    let position = match out.assets.iter().position(|a| a == code) {
        Some(position) => position,
        None => {
            out.assets.push(code.to_string());
            out.assets.len() - 1
        }
    };
    Ok(AssetIx(
        u16::try_from(position).expect("bounded by MAX_RULES"),
    ))
}

/// A custom attribute named in `eligible.{key}`: it must be declared with type `wanted`.
fn declared_attribute(
    ctx: &Ctx<'_>,
    name: &str,
    declared: &[(String, AttributeType)],
    key: &str,
    attribute: &str,
    wanted: AttributeType,
) -> Result<Box<str>, ProgrammeError> {
    match declared.iter().find(|(n, _)| n == attribute) {
        None => Err(ctx.invalid(
            name,
            format!("eligible.{key}: `{attribute}` is not declared in [[attributes]]"),
        )),
        Some((_, kind)) if *kind != wanted => Err(ctx.invalid(
            name,
            format!(
                "eligible.{key}: `{attribute}` is declared as `{}`, not `{}`",
                kind.name(),
                wanted.name()
            ),
        )),
        Some(_) => Ok(Box::from(attribute)),
    }
}

fn since(
    ctx: &Ctx<'_>,
    name: &str,
    declared: &[(String, AttributeType)],
    def: &SinceDef,
) -> Result<Since, ProgrammeError> {
    let attribute = declared_attribute(
        ctx,
        name,
        declared,
        "since",
        &def.attribute,
        AttributeType::Date,
    )?;
    if def.within_days > MAX_SINCE_WITHIN_DAYS {
        return Err(ctx.invalid(
            name,
            format!("eligible.since.within_days is at most {MAX_SINCE_WITHIN_DAYS}"),
        ));
    }
    Ok(Since {
        attribute,
        within_days: def.within_days,
    })
}

fn eligibility(
    ctx: &Ctx<'_>,
    name: &str,
    declared: &[(String, AttributeType)],
    def: &EligibleDef,
) -> Result<Eligibility, ProgrammeError> {
    let code = |key: &str, value: &Option<String>| -> Result<Option<u32>, ProgrammeError> {
        value
            .as_deref()
            .map(|code| {
                municipality::validate(code)
                    .map_err(|e| ctx.invalid(name, format!("eligible.{key}: {e}")))
            })
            .transpose()
    };
    let school_stage = match def.school_stage.as_deref() {
        None => None,
        Some("elementary") => Some(SchoolStage::Elementary),
        Some("junior_high") => Some(SchoolStage::JuniorHigh),
        Some(other) => {
            return Err(ctx.invalid(
                name,
                format!("eligible.school_stage: `{other}` is not `elementary` or `junior_high`"),
            ));
        }
    };
    Ok(Eligibility {
        min_age: def.min_age,
        max_age: def.max_age,
        resident_of: code("resident_of", &def.resident_of)?,
        visitor_of: code("visitor_of", &def.visitor_of)?,
        license_returned: def.license_returned,
        disability: def.disability,
        school_stage,
        has: def
            .has
            .as_deref()
            .map(|a| declared_attribute(ctx, name, declared, "has", a, AttributeType::Bool))
            .transpose()?,
        since: def
            .since
            .as_ref()
            .map(|def| since(ctx, name, declared, def))
            .transpose()?,
    })
}

fn discount(ctx: &Ctx<'_>, name: &str, def: &DiscountDef) -> Result<Discount, ProgrammeError> {
    match def {
        DiscountDef::Free {} => Ok(Discount::Free),
        DiscountDef::FixedFare { amount } => Ok(Discount::FixedFare { amount: *amount }),
        DiscountDef::PercentOff { percent, round } => {
            let percent = match percent {
                toml::Value::Integer(p) => Some(Decimal::from(*p)),
                toml::Value::Float(p) => Decimal::from_str(&p.to_string()).ok(),
                _ => None,
            }
            .filter(|p| *p >= Decimal::ZERO && *p <= Decimal::ONE_HUNDRED)
            .ok_or_else(|| ctx.invalid(name, "discount.percent must be a number from 0 to 100"))?;
            let percent = percent.normalize();
            if percent.scale() > MAX_PERCENT_SCALE {
                return Err(ctx.invalid(
                    name,
                    format!("discount.percent has more than {MAX_PERCENT_SCALE} decimal places"),
                ));
            }
            // P = mantissa / 10^scale, so pay = fare × (100·10^scale − mantissa) / (100·10^scale).
            let denominator = 100u128 * 10u128.pow(percent.scale());
            let mantissa =
                u128::try_from(percent.mantissa()).expect("percent is 0..=100, not negative");
            let round = match round {
                Some(RoundDef::Up10) => Rounding::Up10,
                Some(RoundDef::Down10) => Rounding::Down10,
                Some(RoundDef::Yen) | None => Rounding::Yen,
            };
            Ok(Discount::PercentOff {
                pay_numerator: denominator - mantissa,
                denominator,
                round,
            })
        }
    }
}

/// How errors name a `[[table]]` entry: by its key when it has one, else by its position.
fn table_name(value: &toml::Value, kind: &str, key: &str, position: usize) -> String {
    match value.get(key).and_then(|v| v.as_str()) {
        Some(name) => format!("{kind} `{name}`"),
        None => format!("{kind} #{}", position + 1),
    }
}
