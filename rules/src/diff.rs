//! `kanjo programme diff OLD NEW`: what a new programme changes for riders, before anyone
//! applies it: fares per origin–destination pair (how many changed, the largest rises and cuts),
//! rules added, removed or changed, and budgets.

use std::collections::BTreeMap;
use std::fmt;

use crate::programme::{FareSource, Programme, ProgrammeSource};

/// Changed fares listed each way (largest first).
pub const FARE_CHANGES_SHOWN_MAX: usize = 5;

/// (operator, route, origin, destination) → yen; `*` is "any".
type FareMap = BTreeMap<(String, String, String, String), u64>;

/// One fare that differs between the two programmes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FareChange {
    /// `operator route origin→destination`.
    pub key: String,
    pub old: Option<u64>,
    pub new: Option<u64>,
}

impl FareChange {
    fn delta(&self) -> i128 {
        i128::from(self.new.unwrap_or(0)) - i128::from(self.old.unwrap_or(0))
    }
}

/// The differences, each list in a fixed order (byte-identical output for identical input).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgrammeDiff {
    pub fares_compared: usize,
    pub fares_changed: usize,
    /// Largest rises first, at most `FARE_CHANGES_SHOWN_MAX`.
    pub largest_rises: Vec<FareChange>,
    /// Largest cuts first, at most `FARE_CHANGES_SHOWN_MAX`.
    pub largest_cuts: Vec<FareChange>,
    pub rules_added: Vec<String>,
    pub rules_removed: Vec<String>,
    pub rules_changed: Vec<String>,
    /// `id (FYyyyy): old → new` lines, `-` for absent.
    pub budgets: Vec<String>,
}

fn fare_map(programme: &Programme) -> FareMap {
    let mut map = FareMap::new();
    for (ix, operator) in programme.operators() {
        match programme.fare_source(ix) {
            FareSource::Flat(yen) => {
                let any = || "*".to_owned();
                map.insert((operator.to_owned(), any(), any(), any()), *yen);
            }
            FareSource::Gtfs(fares) => {
                for (route, from, to, yen) in fares.named_fares() {
                    let key = (operator.to_owned(), route.into(), from.into(), to.into());
                    map.insert(key, yen);
                }
            }
        }
    }
    map
}

/// `[[rules]]` or `[[budgets]]` tables of a programme's TOML, by a key made of their fields.
fn tables(
    toml_text: &str,
    array: &str,
    key: &dyn Fn(&toml::Table) -> String,
) -> BTreeMap<String, toml::Table> {
    let Ok(doc) = toml_text.parse::<toml::Table>() else {
        return BTreeMap::new();
    };
    let Some(toml::Value::Array(items)) = doc.get(array) else {
        return BTreeMap::new();
    };
    items
        .iter()
        .filter_map(|item| item.as_table())
        .map(|table| (key(table), table.clone()))
        .collect()
}

fn text_of(table: &toml::Table, field: &str) -> String {
    table
        .get(field)
        .map(|v| v.to_string().trim_matches('"').to_owned())
        .unwrap_or_default()
}

impl ProgrammeDiff {
    /// Compares two compiled programmes and their sources (rules and budgets as written).
    pub fn of(
        old: (&ProgrammeSource, &Programme),
        new: (&ProgrammeSource, &Programme),
    ) -> ProgrammeDiff {
        let mut diff = ProgrammeDiff::default();
        diff.compare_fares(&fare_map(old.1), &fare_map(new.1));
        let rule_key = |t: &toml::Table| text_of(t, "id");
        let (old_rules, new_rules) = (
            tables(&old.0.toml, "rules", &rule_key),
            tables(&new.0.toml, "rules", &rule_key),
        );
        for (id, rule) in &new_rules {
            match old_rules.get(id) {
                None => diff.rules_added.push(id.clone()),
                Some(before) if before != rule => diff.rules_changed.push(id.clone()),
                Some(_) => {}
            }
        }
        diff.rules_removed = old_rules
            .keys()
            .filter(|id| !new_rules.contains_key(*id))
            .cloned()
            .collect();
        let budget_key =
            |t: &toml::Table| format!("{} (FY{})", text_of(t, "id"), text_of(t, "fiscal_year"));
        let (old_budgets, new_budgets) = (
            tables(&old.0.toml, "budgets", &budget_key),
            tables(&new.0.toml, "budgets", &budget_key),
        );
        let mut keys: Vec<&String> = old_budgets.keys().chain(new_budgets.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let limit = |tables: &BTreeMap<String, toml::Table>| {
                tables
                    .get(key)
                    .map(|t| text_of(t, "limit"))
                    .unwrap_or_else(|| "-".into())
            };
            let (before, after) = (limit(&old_budgets), limit(&new_budgets));
            if before != after {
                diff.budgets.push(format!("{key}: {before} → {after}"));
            }
        }
        diff
    }

    fn compare_fares(&mut self, old: &FareMap, new: &FareMap) {
        let mut changes = Vec::new();
        let mut keys: Vec<_> = old.keys().chain(new.keys()).collect();
        keys.sort();
        keys.dedup();
        self.fares_compared = keys.len();
        for key in keys {
            let (before, after) = (old.get(key).copied(), new.get(key).copied());
            if before != after {
                let (operator, route, from, to) = key;
                changes.push(FareChange {
                    key: format!("{operator} {route} {from}→{to}"),
                    old: before,
                    new: after,
                });
            }
        }
        self.fares_changed = changes.len();
        let mut rises: Vec<FareChange> =
            changes.iter().filter(|c| c.delta() > 0).cloned().collect();
        rises.sort_by(|a, b| b.delta().cmp(&a.delta()).then(a.key.cmp(&b.key)));
        rises.truncate(FARE_CHANGES_SHOWN_MAX);
        let mut cuts: Vec<FareChange> = changes.into_iter().filter(|c| c.delta() < 0).collect();
        cuts.sort_by(|a, b| a.delta().cmp(&b.delta()).then(a.key.cmp(&b.key)));
        cuts.truncate(FARE_CHANGES_SHOWN_MAX);
        self.largest_rises = rises;
        self.largest_cuts = cuts;
    }
}

fn yen(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |yen| format!("{yen}円"))
}

impl fmt::Display for ProgrammeDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "運賃 fares: {} of {} origin–destination fares changed",
            self.fares_changed, self.fares_compared
        )?;
        for (title, list) in [
            ("値上げ largest rises", &self.largest_rises),
            ("値下げ largest cuts", &self.largest_cuts),
        ] {
            if !list.is_empty() {
                writeln!(f, "  {title}:")?;
            }
            for change in list {
                writeln!(
                    f,
                    "    {}: {} → {} ({:+})",
                    change.key,
                    yen(change.old),
                    yen(change.new),
                    change.delta()
                )?;
            }
        }
        for (title, list) in [
            ("ルール追加 rules added", &self.rules_added),
            ("ルール削除 rules removed", &self.rules_removed),
            ("ルール変更 rules changed", &self.rules_changed),
            ("予算 budgets", &self.budgets),
        ] {
            writeln!(
                f,
                "{title}: {}",
                if list.is_empty() {
                    "none".to_owned()
                } else {
                    list.join(", ")
                }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn read(text_edit: impl Fn(String) -> String) -> (ProgrammeSource, Programme) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/muroran/programme.toml");
        let (mut source, _) = ProgrammeSource::read(&path).unwrap();
        source.toml = text_edit(source.toml);
        let programme = source.compile().unwrap();
        (source, programme)
    }

    #[test]
    fn a_diff_counts_changed_fares_and_names_rules_and_budgets() {
        let old = read(|text| text);
        let new = read(|text| {
            text.replace("flat_fare = 100", "flat_fare = 150")
                .replace("id = \"day-cap\"\nkind = \"daily_cap\"\noperators = [\"donan-bus\"]\namount = 600", "id = \"day-cap\"\nkind = \"daily_cap\"\noperators = [\"donan-bus\"]\namount = 500")
                .replace("limit = 20000000", "limit = 30000000")
                + "\n[[rules]]\nid = \"new-rule\"\nkind = \"daily_cap\"\namount = 400\n"
        });
        let diff = ProgrammeDiff::of((&old.0, &old.1), (&new.0, &new.1));
        assert_eq!(diff.fares_changed, 1);
        assert_eq!(
            diff.largest_rises,
            [FareChange {
                key: "town-bus * *→*".into(),
                old: Some(100),
                new: Some(150)
            }]
        );
        assert!(diff.largest_cuts.is_empty());
        assert_eq!(diff.rules_added, ["new-rule"]);
        assert_eq!(diff.rules_changed, ["day-cap"]);
        assert!(diff.rules_removed.is_empty());
        assert_eq!(diff.budgets, ["welfare (FY2026): 20000000 → 30000000"]);
        let text = diff.to_string();
        assert!(text.contains("1 of "), "{text}");
    }

    #[test]
    fn a_programme_compared_with_itself_has_no_differences() {
        let old = read(|text| text);
        let diff = ProgrammeDiff::of((&old.0, &old.1), (&old.0, &old.1));
        assert_eq!(diff.fares_changed, 0);
        assert!(
            diff.fares_compared > 1000,
            "the GTFS feed's fares are compared"
        );
        assert!(
            diff.rules_added.is_empty() && diff.rules_changed.is_empty() && diff.budgets.is_empty()
        );
    }
}
