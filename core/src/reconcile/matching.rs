//! The pure matching of outside records against kanjo's own: by reference, then amount (and, for
//! an operator's own figures, ride count). Ordered output, so a run is a function of its inputs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One of kanjo's own items: what kanjo expects the outside record to say for `reference`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub reference: String,
    pub amount_yen: u64,
    /// Rides, for an operator's own figures; `None` where the source has no count.
    pub count: Option<u64>,
}

/// One line of an outside file, already parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// 1-based line of the file (the header is line 1).
    pub line: u32,
    pub reference: String,
    pub amount_yen: u64,
    pub count: Option<u64>,
}

/// What is wrong with one reference. Matched references are counted, not listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// In the file, not in kanjo.
    MissingInKanjo,
    /// In kanjo, not in the file.
    MissingInFile,
    /// Both have it; the amounts differ (and the counts, if any, agree).
    AmountDiffers,
    /// Both have it; the ride counts differ (amounts shown beside them).
    CountDiffers,
    /// The file names a reference again: every line after the first is one of these.
    Duplicate,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 5] = [
        ExceptionKind::MissingInKanjo,
        ExceptionKind::MissingInFile,
        ExceptionKind::AmountDiffers,
        ExceptionKind::CountDiffers,
        ExceptionKind::Duplicate,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            ExceptionKind::MissingInKanjo => "missing_in_kanjo",
            ExceptionKind::MissingInFile => "missing_in_file",
            ExceptionKind::AmountDiffers => "amount_differs",
            ExceptionKind::CountDiffers => "count_differs",
            ExceptionKind::Duplicate => "duplicate",
        }
    }

    /// What a clerk reads (Japanese).
    pub const fn label_ja(self) -> &'static str {
        match self {
            ExceptionKind::MissingInKanjo => "勘定に無し",
            ExceptionKind::MissingInFile => "ファイルに無し",
            ExceptionKind::AmountDiffers => "金額相違",
            ExceptionKind::CountDiffers => "件数相違",
            ExceptionKind::Duplicate => "重複",
        }
    }
}

/// One unreconciled item, numbered from 1 in the run (the `n` a clerk resolves).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub n: u32,
    pub kind: ExceptionKind,
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kanjo_amount_yen: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_amount_yen: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kanjo_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_count: Option<u64>,
    /// The file's line, when the item comes from the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// The whole comparison: how many matched, and every exception in reference order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub matched: u64,
    pub exceptions: Vec<Exception>,
}

impl Comparison {
    pub fn count(&self, kind: ExceptionKind) -> u64 {
        self.exceptions.iter().filter(|e| e.kind == kind).count() as u64
    }

    pub fn is_reconciled(&self) -> bool {
        self.exceptions.is_empty()
    }
}

/// Compares the file's rows with kanjo's items. A reference kanjo holds twice is a caller bug
/// (asserted). Exceptions come in reference order, a reference's duplicates after it.
pub fn compare(expected: &[Expected], rows: &[Row]) -> Comparison {
    let mut ours: BTreeMap<&str, &Expected> = BTreeMap::new();
    for item in expected {
        let previous = ours.insert(item.reference.as_str(), item);
        assert!(previous.is_none(), "kanjo lists {} twice", item.reference);
    }
    let mut theirs: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        theirs.entry(row.reference.as_str()).or_default().push(row);
    }
    let mut comparison = Comparison::default();
    let mut references: Vec<&str> = ours.keys().chain(theirs.keys()).copied().collect();
    references.sort_unstable();
    references.dedup();
    for reference in references {
        let lines = theirs.get(reference).map(Vec::as_slice).unwrap_or(&[]);
        let kind = match (ours.get(reference), lines.first()) {
            (Some(mine), Some(row)) => differs(mine, row),
            (Some(_), None) => Some(ExceptionKind::MissingInFile),
            (None, Some(_)) => Some(ExceptionKind::MissingInKanjo),
            (None, None) => unreachable!("every reference comes from one side"),
        };
        match kind {
            None => comparison.matched += 1,
            Some(kind) => push(&mut comparison, kind, ours.get(reference), lines.first()),
        }
        for duplicate in lines.iter().skip(1) {
            push(
                &mut comparison,
                ExceptionKind::Duplicate,
                ours.get(reference),
                Some(duplicate),
            );
        }
    }
    comparison
}

fn differs(mine: &Expected, row: &Row) -> Option<ExceptionKind> {
    if mine.count != row.count {
        Some(ExceptionKind::CountDiffers)
    } else if mine.amount_yen != row.amount_yen {
        Some(ExceptionKind::AmountDiffers)
    } else {
        None
    }
}

fn push(
    comparison: &mut Comparison,
    kind: ExceptionKind,
    mine: Option<&&Expected>,
    row: Option<&&Row>,
) {
    let n = u32::try_from(comparison.exceptions.len() + 1).expect("files are bounded");
    let reference = mine
        .map(|m| m.reference.clone())
        .or_else(|| row.map(|r| r.reference.clone()))
        .expect("one side names it");
    comparison.exceptions.push(Exception {
        n,
        kind,
        reference,
        kanjo_amount_yen: mine.map(|m| m.amount_yen),
        file_amount_yen: row.map(|r| r.amount_yen),
        kanjo_count: mine.and_then(|m| m.count),
        file_count: row.and_then(|r| r.count),
        line: row.map(|r| r.line),
    });
}
