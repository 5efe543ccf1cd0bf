//! Statements as files (issue 10): JSON, CSV (UTF-8 with a BOM, CR LF) and XLSX, for
//! `kanjo statement` and `GET /v1/settlements/{id}/statements/{party}` (and `/finance`'s twin).
//!
//! XLSX (rust_xlsxwriter): one sheet per party, Japanese headers with English, every amount a
//! number cell (`#,##0`), and per asset a totals row whose 支払予定額 is a `SUMIFS` formula over
//! the settlement and adjustment lines (its cached result is the net payable, so a reader that
//! does not calculate still sees the figure); an operator's IC精算受取額 likewise over its IC
//! clearing lines. The workbook's creation date is the settlement's
//! date, so the same statement makes the same bytes.

use std::str::FromStr;

use kanjo_core::report::statement::{COLUMNS, IC_RECEIVABLE, NET_PAYABLE, Statement, section};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Formula, Workbook, XlsxError};
use thiserror::Error;

/// Excel's worksheet name limit (characters).
const SHEET_NAME_CHARS_MAX: usize = 31;
/// Numbers an XLSX cell holds exactly (an f64's integer range).
const XLSX_EXACT_MAX: i128 = 1 << 53;
/// Rows above the table: the title row and a blank row.
const TABLE_HEADER_ROW: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementFormat {
    Json,
    Csv,
    Xlsx,
}

#[derive(Debug, Error)]
pub enum StatementFileError {
    #[error("format must be json, csv or xlsx, not {0:?}")]
    BadFormat(String),
    #[error("{party}: {amount} is more than an XLSX number cell holds exactly")]
    TooLargeForXlsx { party: String, amount: i128 },
    #[error("xlsx: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl FromStr for StatementFormat {
    type Err = StatementFileError;

    fn from_str(text: &str) -> Result<StatementFormat, StatementFileError> {
        match text {
            "json" => Ok(StatementFormat::Json),
            "csv" => Ok(StatementFormat::Csv),
            "xlsx" => Ok(StatementFormat::Xlsx),
            other => Err(StatementFileError::BadFormat(other.to_owned())),
        }
    }
}

impl StatementFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            StatementFormat::Json => "application/json",
            StatementFormat::Csv => "text/csv; charset=utf-8",
            StatementFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            StatementFormat::Json => "json",
            StatementFormat::Csv => "csv",
            StatementFormat::Xlsx => "xlsx",
        }
    }

    /// `statement-settle-2026-11-30-shop_books.csv`; `party` absent: every party. Only ASCII
    /// letters, digits, `-`, `_` and `.` survive, so the name is safe in a header and a shell.
    pub fn file_name(self, settlement: &str, party: Option<&str>) -> String {
        let stem = match party {
            Some(party) => format!("statement-{settlement}-{party}"),
            None => format!("statement-{settlement}-all"),
        };
        format!("{}.{}", safe_file_name(&stem), self.extension())
    }
}

/// A file name any header, shell or file system takes: ASCII letters, digits, `-`, `_` and `.`
/// kept, anything else (`:` of a party id, say) becomes `_`.
pub fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file's bytes. JSON is one object for one party and an array for several (`every`).
pub fn render(
    statements: &[Statement],
    format: StatementFormat,
    every: bool,
) -> Result<Vec<u8>, StatementFileError> {
    match format {
        StatementFormat::Json if every => Ok(serde_json::to_vec_pretty(statements)?),
        StatementFormat::Json => Ok(serde_json::to_vec_pretty(&statements.first())?),
        StatementFormat::Csv => {
            Ok(kanjo_core::report::statement::statements_csv(statements).into_bytes())
        }
        StatementFormat::Xlsx => to_xlsx(statements),
    }
}

/// One sheet per party, in the given order.
pub fn to_xlsx(statements: &[Statement]) -> Result<Vec<u8>, StatementFileError> {
    let mut workbook = Workbook::new();
    if let Some(first) = statements.first()
        && let Some(date) = excel_date(&first.period_through)
    {
        workbook.set_properties(&DocProperties::new().set_creation_datetime(&date));
    }
    let mut names: Vec<String> = Vec::with_capacity(statements.len());
    for statement in statements {
        let name = sheet_name(&statement.party, &names);
        names.push(name.clone());
        write_sheet(&mut workbook, &name, statement)?;
    }
    if statements.is_empty() {
        workbook.add_worksheet().set_name("精算書")?;
    }
    Ok(workbook.save_to_buffer()?)
}

fn excel_date(day: &str) -> Option<ExcelDateTime> {
    let date = kanjo_rules::LocalDate::parse(day).ok()?;
    let year = u16::try_from(date.year).ok()?;
    ExcelDateTime::from_ymd(year, date.month, date.day).ok()
}

/// `operator:donan-bus` → `運行 donan-bus`, `shop:books` → `店舗 books`; characters Excel
/// forbids become `_`, at most 31 characters, a number added when two would clash.
fn sheet_name(party: &str, taken: &[String]) -> String {
    let readable = if let Some(operator) = party.strip_prefix("operator:") {
        format!("運行 {operator}")
    } else if let Some(shop) = party.strip_prefix("shop:") {
        format!("店舗 {shop}")
    } else {
        party.to_owned()
    };
    let cleaned: String = readable
        .chars()
        .map(|c| {
            if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\' | '\'') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let base: String = cleaned.chars().take(SHEET_NAME_CHARS_MAX).collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        let suffix = format!(" ({n})");
        let keep = SHEET_NAME_CHARS_MAX - suffix.chars().count();
        name = format!("{}{suffix}", base.chars().take(keep).collect::<String>());
        n += 1;
    }
    name
}

fn exact(party: &str, amount: i128) -> Result<f64, StatementFileError> {
    if amount.abs() > XLSX_EXACT_MAX {
        return Err(StatementFileError::TooLargeForXlsx {
            party: party.to_owned(),
            amount,
        });
    }
    // Exact: |amount| ≤ 2^53.
    Ok(amount as f64)
}

fn write_sheet(
    workbook: &mut Workbook,
    name: &str,
    statement: &Statement,
) -> Result<(), StatementFileError> {
    let bold = Format::new().set_bold();
    let yen = Format::new().set_num_format("#,##0");
    let bold_yen = Format::new().set_bold().set_num_format("#,##0");
    let sheet = workbook.add_worksheet();
    sheet.set_name(name)?;
    let period = format!(
        "{} 〜 {}",
        statement.period_from.as_deref().unwrap_or(""),
        statement.period_through
    );
    let title = [
        "精算書 statement",
        statement.party.as_str(),
        statement.party_name.as_str(),
        statement.settlement.as_str(),
        period.as_str(),
    ];
    for (col, text) in (0u16..).zip(title) {
        sheet.write_string_with_format(0, col, text, &bold)?;
    }
    for (col, label) in (0u16..).zip(&COLUMNS[1..]) {
        sheet.write_string_with_format(TABLE_HEADER_ROW, col, *label, &bold)?;
    }
    let mut row = TABLE_HEADER_ROW + 1;
    for line in statement.rows() {
        sheet.write_string(row, 0, line.section)?;
        sheet.write_string(row, 1, &line.date)?;
        sheet.write_string(row, 2, &line.asset)?;
        sheet.write_string(row, 3, &line.item)?;
        if let Some(amount) = line.amount {
            sheet.write_number_with_format(row, 4, exact(&statement.party, amount)?, &yen)?;
        }
        row += 1;
    }
    // Excel rows are 1-based: the table's first and last data rows.
    let (first, last) = (TABLE_HEADER_ROW + 2, row);
    for total in statement.total_rows() {
        sheet.write_string_with_format(row, 0, total.section, &bold)?;
        sheet.write_string(row, 2, &total.asset)?;
        sheet.write_string(row, 3, &total.item)?;
        let amount = total.amount.unwrap_or(0);
        // The sums' sections: the payable's lines, or the IC clearing lines.
        let summed = match total.item.as_str() {
            NET_PAYABLE => Some((section::LINE, section::ADJUSTMENT)),
            IC_RECEIVABLE => Some((section::IC_LINE, section::IC_ADJUSTMENT)),
            _ => None,
        };
        if let Some((lines, adjustments)) = summed {
            let sum = |section_label: &str| {
                format!(
                    "SUMIFS(E{first}:E{last},A{first}:A{last},\"{section_label}\",C{first}:C{last},\"{}\")",
                    total.asset
                )
            };
            let formula = format!("={}+{}", sum(lines), sum(adjustments));
            let formula = Formula::new(formula).set_result(amount.to_string());
            sheet.write_formula_with_format(row, 4, formula, &bold_yen)?;
        } else {
            sheet.write_number_with_format(row, 4, exact(&statement.party, amount)?, &bold_yen)?;
        }
        row += 1;
    }
    for (col, width) in [(0u16, 26.0), (1, 12.0), (2, 14.0), (3, 40.0), (4, 14.0)] {
        sheet.set_column_width(col, width)?;
    }
    sheet.set_freeze_panes(TABLE_HEADER_ROW + 1, 0)?;
    Ok(())
}
