//! Who the town pays and from which account, for the Zengin payout file (issue 10).
//!
//! - `[payer]`: the town's own account, the file's header (振込依頼人).
//! - `[[payees]]`: bank details of the operators named by `[[fare_tables]]`
//!   (`party = "operator:donan-bus"`). Shops carry theirs in `[[shops]]`/shop records (`bank`).
//!
//! Both are engine sections of the programme, which the rating crate ignores. Like `[[shops]]`
//! they are read from the store's first programme: a programme version does not change them
//! (`machine::versions` keeps the first asset book).

use serde::Deserialize;

use crate::shops::{BankDetails, NAME_KANA_CHARS_MAX, check_kana};

/// `[[payees]]` a programme may hold: more operators than a town has is a mistake.
pub const PAYEES_MAX: usize = 1_024;
/// 振込依頼人名 is 40 characters wide.
pub const PAYER_NAME_KANA_CHARS_MAX: usize = 40;
/// 委託者コード: the bank assigns 10 digits.
pub const PAYER_CODE_DIGITS: usize = 10;

/// `[payer]`: the town's account the transfers are paid from.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayerSpec {
    /// 委託者コード (振込依頼人コード) the town's bank assigned: exactly 10 digits.
    pub code: String,
    /// 振込依頼人名 in half-width kana, e.g. "ﾑﾛﾗﾝｼ".
    pub name_kana: String,
    pub bank: BankDetails,
}

impl PayerSpec {
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.code.len() != PAYER_CODE_DIGITS || !self.code.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(format!(
                "`code` must be exactly {PAYER_CODE_DIGITS} digits 0-9, got {:?}",
                self.code
            ));
        }
        if let Err(problem) = check_kana(&self.name_kana, PAYER_NAME_KANA_CHARS_MAX) {
            problems.push(format!("`name_kana` {problem}"));
        }
        problems.extend(self.bank.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("[payer]: {}", problems.join("; ")))
        }
    }
}

/// One `[[payees]]` table: an operator's bank details.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayeeSpec {
    /// `operator:{code}`, as settlements name the party.
    pub party: String,
    /// 受取人名: the account holder's name as the bank registered it, half-width kana.
    pub name_kana: String,
    pub bank: BankDetails,
}

impl PayeeSpec {
    pub fn check(&self) -> Result<(), String> {
        let named = |problem: String| format!("payee {:?}: {problem}", self.party);
        let operator = self.party.strip_prefix("operator:").ok_or_else(|| {
            named(
                "`party` must be \"operator:{code}\"; shops carry their bank details in [[shops]]"
                    .to_owned(),
            )
        })?;
        if operator.is_empty() || operator.chars().any(char::is_control) {
            return Err(named("`party` names no operator".to_owned()));
        }
        let mut problems = Vec::new();
        if let Err(problem) = check_kana(&self.name_kana, NAME_KANA_CHARS_MAX) {
            problems.push(format!("`name_kana` {problem}"));
        }
        problems.extend(self.bank.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(named(problems.join("; ")))
        }
    }
}

/// `[payer]` and `[[payees]]`, each checked; no party twice.
pub fn check_section(payer: Option<&PayerSpec>, payees: &[PayeeSpec]) -> Result<(), String> {
    if let Some(payer) = payer {
        payer.check()?;
    }
    if payees.len() > PAYEES_MAX {
        return Err(format!("{} payees; at most {PAYEES_MAX}", payees.len()));
    }
    let mut seen = hashbrown::HashSet::with_capacity(payees.len());
    for payee in payees {
        payee.check()?;
        if !seen.insert(payee.party.as_str()) {
            return Err(format!("payee {:?} is declared twice", payee.party));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shops::BankAccountType;

    fn bank() -> BankDetails {
        BankDetails {
            bank_code: "0116".into(),
            bank_name_kana: "ﾎﾂｶｲﾄﾞｳ".into(),
            branch_code: "401".into(),
            branch_name_kana: "ﾑﾛﾗﾝ".into(),
            account_type: BankAccountType::Current,
            account_number: "1234567".into(),
        }
    }

    fn payee() -> PayeeSpec {
        PayeeSpec {
            party: "operator:donan-bus".into(),
            name_kana: "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ".into(),
            bank: bank(),
        }
    }

    #[test]
    fn a_payee_table_parses_with_japanese_account_types() {
        let text = r#"
            party = "operator:donan-bus"
            name_kana = "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ"
            bank = { bank_code = "0116", branch_code = "402", account_type = "当座", account_number = "7654321" }
        "#;
        let spec: PayeeSpec = toml::from_str(text).unwrap();
        assert_eq!(spec.bank.account_type, BankAccountType::Current);
        assert!(spec.check().is_ok());
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = payee();
        bad.bank.branch_code = "40".into();
        bad.bank.account_number = "123456a".into();
        bad.name_kana = "道南バス".into();
        let problem = bad.check().unwrap_err();
        for field in ["bank.branch_code", "bank.account_number", "name_kana"] {
            assert!(problem.contains(field), "{problem}");
        }
        assert!(problem.contains("operator:donan-bus"), "{problem}");
    }

    #[test]
    fn shops_and_twice_named_operators_are_refused() {
        let mut shop = payee();
        shop.party = "shop:muroran-shoten".into();
        assert!(
            check_section(None, &[shop])
                .unwrap_err()
                .contains("[[shops]]")
        );
        let twice = check_section(None, &[payee(), payee()]).unwrap_err();
        assert!(twice.contains("twice"), "{twice}");
    }

    #[test]
    fn the_payer_needs_a_ten_digit_code() {
        let mut payer = PayerSpec {
            code: "1234567890".into(),
            name_kana: "ﾑﾛﾗﾝｼ".into(),
            bank: bank(),
        };
        assert!(payer.check().is_ok());
        payer.code = "12345".into();
        assert!(payer.check().unwrap_err().contains("`code`"));
    }
}
