//! `/finance`: the finance clerk's page, served by `kanjo serve`. Server-rendered HTML with
//! inline SVG charts and plain HTML forms (no script): the trial balance, budgets per fiscal
//! year with a burn-down, rides and shop sales per day, periods and their settlements (per party
//! and asset: payable, paid, unpaid, refund advances recovered, IC receivable, coin receipts;
//! links to each party's statement as CSV or XLSX and to the settlement's Zengin file), and
//! reconciliation runs with their open exceptions and the resolve action
//! (`POST /finance/reconciliations/{id}/exceptions/{n}/resolve`, a form, logged like the API's
//! resolution, then 303 back to the page). Japanese labels, English
//! beside them where a maintainer needs it. Every figure is read from the machine in one query.
//!
//! Figures carry `data-figure` attributes (e.g. `tb:JPY:debits`), so a browser test can compare
//! them with the API's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::Extension;
use kanjo_auth::{Action, Principal, Report};

use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use kanjo_core::chart::AccountName;
use kanjo_core::reconcile::{Resolution, StoredRun};
use kanjo_core::settlement::Settlement;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::api::ApiState;
use crate::machine::Machine;
use crate::pipeline::ReconRecord;
use crate::report::{self, OperatorDay, TrialBalance};

/// Everything the page shows, read in one query.
struct Figures {
    town: String,
    trial_balance: TrialBalance,
    budgets: Vec<BudgetBurn>,
    days: Vec<OperatorDay>,
    /// Local day → shop sales (minor units, every asset, ¥1 a unit).
    sales_by_day: BTreeMap<String, u128>,
    runs: Vec<StoredRun>,
    settlements: Vec<SettlementRow>,
}

/// A settlement and, per party and asset it names, where its payable stands.
struct SettlementRow {
    settlement: Settlement,
    amounts: Vec<PartyAmounts>,
}

struct PartyAmounts {
    party: String,
    asset: String,
    payable_minor: u64,
    paid_minor: u64,
    unpaid_minor: u64,
    /// Taken from the shop's receipts to repay the town's refund advances
    /// (`advances_recovered` in `GET /v1/settlements`).
    advance_recovered_minor: u64,
    /// What the IC clearing house owes (operators): reported, never paid by the town.
    ic_receivable_minor: u64,
    /// Coin receipts less fees (shops): the issuing bank pays them on redemption.
    coin_receipts_minor: u64,
}

/// What a settlement moved (or listed) for the party in the asset: its payable, IC receivable,
/// advance recovered or coin receipts.
fn moved(list: &[kanjo_core::settlement::Payable], party: &str, asset: &str) -> u64 {
    list.iter()
        .find(|p| p.party == party && p.asset == asset)
        .map_or(0, |p| p.amount_minor)
}

fn settlement_rows(machine: &Machine) -> Vec<SettlementRow> {
    let book = machine.settle_book();
    book.settlements()
        .iter()
        .map(|settlement| {
            let mut keys: Vec<(&str, &str)> = settlement
                .payables
                .iter()
                .map(|p| (p.party.as_str(), p.asset.as_str()))
                .chain(
                    settlement
                        .lines
                        .iter()
                        .map(|l| (l.party.as_str(), l.asset.as_str())),
                )
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let amounts = keys
                .into_iter()
                .map(|(party, asset)| PartyAmounts {
                    party: party.to_owned(),
                    asset: asset.to_owned(),
                    payable_minor: moved(&settlement.payables, party, asset),
                    paid_minor: book.paid_minor(&settlement.id, party, asset),
                    unpaid_minor: book.unpaid_minor(&settlement.id, party, asset),
                    advance_recovered_minor: moved(&settlement.advances_recovered, party, asset),
                    ic_receivable_minor: moved(&settlement.receivables, party, asset),
                    coin_receipts_minor: moved(&settlement.coin_receipts, party, asset),
                })
                .collect();
            SettlementRow {
                settlement: settlement.clone(),
                amounts,
            }
        })
        .collect()
}

struct BudgetBurn {
    id: String,
    fiscal_year: i32,
    limit_yen: u64,
    /// The ledger's remaining balance.
    remaining_yen: i128,
    /// Per local day: fare discounts charged to the budget that day.
    spent_by_day: BTreeMap<String, u64>,
}

fn read_figures(machine: &Machine) -> Figures {
    let programme = machine.programme();
    let days = report::operator_days(machine);
    let budgets = programme
        .budgets()
        .iter()
        .map(|budget| {
            let name = AccountName::Budget {
                budget: &budget.id,
                fiscal_year: budget.fiscal_year,
            };
            let remaining_yen = machine.ledger().account(name.id()).map_or(0, |account| {
                i128::from(account.credits_posted) - i128::from(account.debits_posted)
            });
            let mut spent_by_day = BTreeMap::new();
            for day in &days {
                if let Some(amount) = day.subsidy_due.get(&budget.id) {
                    *spent_by_day.entry(day.date.clone()).or_default() += amount;
                }
            }
            BudgetBurn {
                id: budget.id.clone(),
                fiscal_year: budget.fiscal_year,
                limit_yen: budget.limit,
                remaining_yen,
                spent_by_day,
            }
        })
        .collect();
    let mut sales_by_day = BTreeMap::new();
    for day in report::shop_report(machine).days {
        *sales_by_day.entry(day.date).or_default() += day.sales_minor;
    }
    Figures {
        town: programme.town_name().to_owned(),
        trial_balance: report::trial_balance(machine),
        budgets,
        days,
        sales_by_day,
        runs: machine.reconciliations().runs().to_vec(),
        settlements: settlement_rows(machine),
    }
}

pub async fn get_finance(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
) -> Response {
    if let Err(response) =
        crate::api::auth::allow(&principal, &Action::ReadReport(Report::FinancePage))
    {
        return response;
    }
    let figures = match state.engine.query(read_figures) {
        Ok(receiver) => match receiver.await {
            Ok(figures) => figures,
            Err(_) => return unavailable("the pipeline ended"),
        },
        Err(error) => return unavailable(&error.to_string()),
    };
    Html(render(&figures)).into_response()
}

fn unavailable(message: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>kanjo</title><p>一時的に利用できません (unavailable): {}</p>",
        escape(message)
    );
    (StatusCode::SERVICE_UNAVAILABLE, Html(body)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    reason: String,
    clerk: String,
}

/// The resolve form: logged like `POST /v1/reconciliations/{id}/exceptions/{n}/resolve`.
pub async fn post_resolve(
    State(state): State<Arc<ApiState>>,
    Path((run, n)): Path<(String, u32)>,
    Extension(principal): Extension<Arc<Principal>>,
    Form(form): Form<ResolveForm>,
) -> Response {
    if let Err(response) = crate::api::auth::allow(&principal, &Action::ResolveException) {
        return response;
    }
    let resolution = Resolution {
        run: run.clone(),
        n,
        reason: form.reason,
        clerk: form.clerk,
        at: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        principal: Some(principal.key_id.to_string()),
    };
    let refused = |message: String| {
        let body = format!(
            "<!doctype html><meta charset=utf-8><title>kanjo</title><p>処理できません (refused): {}</p><p><a href=\"/finance\">戻る (back)</a></p>",
            escape(&message)
        );
        (StatusCode::BAD_REQUEST, Html(body)).into_response()
    };
    if let Err(refusal) = resolution.check() {
        return refused(refusal.to_string());
    }
    let submitted = state
        .engine
        .submit_recon(vec![ReconRecord::Resolve(resolution)]);
    let results = match submitted {
        Ok(receiver) => match receiver.await {
            Ok(Ok(results)) => results,
            Ok(Err(error)) => return unavailable(&error.to_string()),
            Err(_) => return unavailable("the pipeline ended"),
        },
        Err(error) => return unavailable(&error.to_string()),
    };
    match results.into_iter().next().expect("one result per record") {
        Ok(()) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, format!("/finance#run-{run}"))],
        )
            .into_response(),
        Err(refusal) => refused(refusal.to_string()),
    }
}

fn render(figures: &Figures) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        "<!doctype html><html lang=ja><head><meta charset=utf-8><title>財務 Finance — {town}</title>\
         <style>{STYLE}</style></head><body><h1>財務 <small>Finance</small> — {town}</h1>",
        town = escape(&figures.town)
    );
    trial_balance_section(&mut page, &figures.trial_balance);
    budgets_section(&mut page, &figures.budgets);
    days_section(&mut page, &figures.days, &figures.sales_by_day);
    settlements_section(&mut page, &figures.settlements);
    runs_section(&mut page, &figures.runs);
    page.push_str("</body></html>");
    page
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #bbb;padding:.2em .6em}td.n{text-align:right;font-variant-numeric:tabular-nums}\
small{color:#666;font-weight:normal}.note{color:#666}.bad{color:#b00}.ok{color:#070}svg{background:#fafafa;border:1px solid #ddd}\
form{display:inline}input[type=text]{width:14em}";

fn trial_balance_section(page: &mut String, tb: &TrialBalance) {
    page.push_str("<section id=trial-balance><h2>試算表 <small>Trial balance</small></h2><table><tr><th>資産 asset</th><th>借方 debits</th><th>貸方 credits</th><th>口座数 accounts</th></tr>");
    for line in &tb.lines {
        let _ = write!(
            page,
            "<tr><td>{a}</td><td class=n data-figure=\"tb:{a}:debits\">{d}</td><td class=n data-figure=\"tb:{a}:credits\">{c}</td><td class=n>{n}</td></tr>",
            a = escape(&line.asset),
            d = line.debits_posted,
            c = line.credits_posted,
            n = line.accounts
        );
    }
    let (class, text) = if tb.balanced {
        ("ok", "貸借一致 (balanced)")
    } else {
        ("bad", "貸借不一致 (NOT balanced)")
    };
    let _ = write!(
        page,
        "</table><p class={class} data-figure=\"tb:balanced\">{text}</p></section>"
    );
}

fn budgets_section(page: &mut String, budgets: &[BudgetBurn]) {
    page.push_str("<section id=budgets><h2>予算 <small>Budgets per fiscal year</small></h2>");
    for budget in budgets {
        let spent: u64 = budget.spent_by_day.values().sum();
        let _ = write!(
            page,
            "<h3>{id} <small>FY{fy}</small></h3><p>予算額 limit ¥<span data-figure=\"budget:{id}:limit\">{limit}</span> ・ 残額 remaining ¥<span data-figure=\"budget:{id}:remaining\">{rem}</span> ・ 運賃割引 fare discounts ¥{spent}</p>",
            id = escape(&budget.id),
            fy = budget.fiscal_year,
            limit = budget.limit_yen,
            rem = budget.remaining_yen,
        );
        // Burn-down: what is left after each day's fare discounts.
        let mut left = budget.limit_yen as f64;
        let points: Vec<(String, f64)> = budget
            .spent_by_day
            .iter()
            .map(|(day, amount)| {
                left -= *amount as f64;
                (day.clone(), left)
            })
            .collect();
        line_chart(
            page,
            &format!("burn-{}", budget.id),
            &points,
            budget.limit_yen as f64,
            "残額 remaining",
        );
    }
    page.push_str("</section>");
}

fn days_section(page: &mut String, days: &[OperatorDay], sales: &BTreeMap<String, u128>) {
    let mut rides: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for day in days {
        let entry = rides.entry(day.date.as_str()).or_default();
        entry.0 += day.rides;
        entry.1 += day.fares;
    }
    page.push_str(
        "<section id=days><h2>日別 乗車・売上 <small>Rides and sales per day</small></h2>",
    );
    let ride_bars: Vec<(String, f64)> = rides
        .iter()
        .map(|(d, (n, _))| ((*d).to_owned(), *n as f64))
        .collect();
    bar_chart(page, "rides-chart", &ride_bars, "乗車数 rides");
    let sale_bars: Vec<(String, f64)> = sales.iter().map(|(d, v)| (d.clone(), *v as f64)).collect();
    bar_chart(page, "sales-chart", &sale_bars, "店舗売上 shop sales (¥)");
    page.push_str("<table><tr><th>日付 date</th><th>乗車 rides</th><th>運賃 fares ¥</th><th>店舗売上 shop sales ¥</th></tr>");
    let mut all_days: Vec<&str> = rides
        .keys()
        .copied()
        .chain(sales.keys().map(String::as_str))
        .collect();
    all_days.sort_unstable();
    all_days.dedup();
    for day in all_days {
        let (n, fares) = rides.get(day).copied().unwrap_or_default();
        let sold = sales.get(day).copied().unwrap_or_default();
        let _ = write!(
            page,
            "<tr><td>{day}</td><td class=n data-figure=\"rides:{day}\">{n}</td><td class=n data-figure=\"fares:{day}\">{fares}</td><td class=n data-figure=\"sales:{day}\">{sold}</td></tr>"
        );
    }
    page.push_str("</table></section>");
}

/// A path segment: everything but letters, digits and `-._~` percent-encoded (a party is
/// `shop:{id}`; a shop id is the town's to choose).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

fn settlements_section(page: &mut String, rows: &[SettlementRow]) {
    page.push_str(
        "<section id=settlements><h2>期間・精算 <small>Periods and settlements</small></h2>",
    );
    if rows.is_empty() {
        page.push_str("<p class=note>精算はまだありません (no settlements yet): <code>kanjo settle --through YYYY-MM-DD</code></p>");
    }
    for row in rows.iter().rev() {
        let s = &row.settlement;
        let id = escape(&s.id);
        let seg = segment(&s.id);
        let adjustments = s.lines.iter().filter(|l| l.adjustment).count();
        let _ = write!(
            page,
            "<article id=\"settlement-{id}\" data-settlement=\"{id}\"><h3>精算 <small>settlement</small> {id}</h3>\
             <p>期間 period {from} 〜 <span data-figure=\"settlement:{id}:through\">{through}</span> ・ \
             明細 lines <span data-figure=\"settlement:{id}:lines\">{lines}</span> ・ \
             調整 adjustments <span data-figure=\"settlement:{id}:adjustments\">{adjustments}</span> ・ \
             <a href=\"/finance/settlements/{seg}/zengin\" data-link=\"zengin:{id}\">全銀振込ファイル <small>Zengin file</small></a></p>",
            from = s
                .previous_through
                .as_deref()
                .map_or("—".to_owned(), |d| format!(
                    "{} の翌日 (after)",
                    escape(d)
                )),
            through = escape(&s.through),
            lines = s.lines.len(),
        );
        page.push_str("<table><tr><th>相手先 party</th><th>資産 asset</th><th>支払予定額 payable</th><th>支払済額 paid</th><th>未払額 unpaid</th><th>返金立替回収 refund advance recovered</th><th>IC精算受取額 IC clearing receivable</th><th>コイン受取額 coin receipts (bank)</th><th>明細書 statement</th></tr>");
        for a in &row.amounts {
            let key = format!("settlement:{id}:{}:{}", escape(&a.party), escape(&a.asset));
            let party = segment(&a.party);
            let _ = write!(
                page,
                "<tr data-party=\"{p}\"><td>{p}</td><td>{asset}</td>\
                 <td class=n data-figure=\"{key}:payable\">{payable}</td>\
                 <td class=n data-figure=\"{key}:paid\">{paid}</td>\
                 <td class=n data-figure=\"{key}:unpaid\">{unpaid}</td>\
                 <td class=n data-figure=\"{key}:advance_recovered\">{advance}</td>\
                 <td class=n data-figure=\"{key}:ic_receivable\">{ic}</td>\
                 <td class=n data-figure=\"{key}:coin_receipts\">{coin}</td>\
                 <td><a href=\"/finance/settlements/{seg}/statements/{party}?format=csv\" data-link=\"statement-csv:{id}:{p}\">CSV</a> \
                 <a href=\"/finance/settlements/{seg}/statements/{party}?format=xlsx\" data-link=\"statement-xlsx:{id}:{p}\">XLSX</a></td></tr>",
                p = escape(&a.party),
                asset = escape(&a.asset),
                payable = a.payable_minor,
                paid = a.paid_minor,
                unpaid = a.unpaid_minor,
                advance = a.advance_recovered_minor,
                ic = a.ic_receivable_minor,
                coin = a.coin_receipts_minor,
            );
        }
        page.push_str("</table>");
        for c in &s.carried {
            let _ = write!(
                page,
                "<p class=note>繰越 carried: {p} {amount} {asset} [{pot}] ({reason})</p>",
                p = escape(&c.party),
                pot = c.pot.name(),
                amount = c.amount_minor,
                asset = escape(&c.asset),
                reason = escape(&c.reason),
            );
        }
        page.push_str("</article>");
    }
    page.push_str("</section>");
}

fn runs_section(page: &mut String, runs: &[StoredRun]) {
    page.push_str("<section id=reconciliations><h2>照合 <small>Reconciliation runs</small></h2>");
    if runs.is_empty() {
        page.push_str(
            "<p class=note>照合はまだありません (no runs yet): <code>kanjo reconcile</code></p>",
        );
    }
    for stored in runs.iter().rev() {
        let run = &stored.run;
        let open = stored.open_exceptions().count();
        let _ = write!(
            page,
            "<article id=\"run-{id}\"><h3>{label} <small>{id} ・ {file} ・ {at}</small></h3><p>一致 matched <span data-figure=\"run:{id}:matched\">{m}</span> ・ 例外 exceptions <span data-figure=\"run:{id}:total\">{t}</span> ・ 未解決 open <span data-figure=\"run:{id}:open\">{open}</span></p>",
            id = escape(&run.id),
            label = run.source.label_ja(),
            file = escape(&run.file),
            at = escape(&run.at),
            m = run.matched,
            t = run.exceptions_total,
        );
        if run.exceptions.is_empty() {
            page.push_str("</article>");
            continue;
        }
        page.push_str("<table><tr><th>#</th><th>種類 kind</th><th>参照 reference</th><th>勘定 kanjo</th><th>ファイル file</th><th>解決 resolution</th></tr>");
        for e in &run.exceptions {
            let figure = |amount: Option<u64>, count: Option<u64>| {
                let amount = amount.map_or("—".to_owned(), |a| format!("¥{a}"));
                count.map_or(amount.clone(), |c| format!("{amount} ({c}件)"))
            };
            let _ = write!(
                page,
                "<tr data-exception=\"{id}:{n}\"><td>{n}</td><td>{ja} <small>{code}</small></td><td>{r}</td><td class=n>{k}</td><td class=n>{f}</td><td>",
                id = escape(&run.id),
                n = e.n,
                ja = e.kind.label_ja(),
                code = e.kind.code(),
                r = escape(&e.reference),
                k = figure(e.kanjo_amount_yen, e.kanjo_count),
                f = figure(e.file_amount_yen, e.file_count),
            );
            match stored.resolutions.get(&e.n) {
                Some(r) => {
                    let _ = write!(
                        page,
                        "<span class=ok>解決済 resolved</span> {clerk} ・ {at} ・ {reason}",
                        clerk = escape(&r.clerk),
                        at = escape(&r.at),
                        reason = escape(&r.reason)
                    );
                }
                None => {
                    let _ = write!(
                        page,
                        "<form method=post action=\"/finance/reconciliations/{id}/exceptions/{n}/resolve\">\
                         <input type=text name=reason required placeholder=\"理由 reason\"> \
                         <input type=text name=clerk required placeholder=\"担当 clerk\"> \
                         <button type=submit>解決 resolve</button></form>",
                        id = escape(&run.id),
                        n = e.n
                    );
                }
            }
            page.push_str("</td></tr>");
        }
        page.push_str("</table></article>");
    }
    page.push_str("</section>");
}

const CHART_W: f64 = 720.0;
const CHART_H: f64 = 180.0;
const PAD: f64 = 40.0;

fn bar_chart(page: &mut String, id: &str, bars: &[(String, f64)], label: &str) {
    let max = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
    let width = (CHART_W - 2.0 * PAD) / bars.len().max(1) as f64;
    let _ = write!(
        page,
        "<figure><svg id=\"{id}\" width={CHART_W} height={CHART_H} role=img aria-label=\"{label}\">"
    );
    for (i, (day, value)) in bars.iter().enumerate() {
        let h = value / max * (CHART_H - 2.0 * PAD);
        let x = PAD + i as f64 * width;
        let y = CHART_H - PAD - h;
        let _ = write!(
            page,
            "<rect x={x:.1} y={y:.1} width={w:.1} height={h:.1} fill=\"#4a7bb7\"><title>{day}: {value}</title></rect>",
            w = (width - 1.0).max(1.0)
        );
    }
    axes(page, bars, max);
    let _ = write!(page, "</svg><figcaption>{label}</figcaption></figure>");
}

fn line_chart(page: &mut String, id: &str, points: &[(String, f64)], max: f64, label: &str) {
    let max = max.max(1.0);
    let step = (CHART_W - 2.0 * PAD) / points.len().max(1) as f64;
    let coords: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let x = PAD + (i as f64 + 0.5) * step;
            let y = CHART_H - PAD - v.max(0.0) / max * (CHART_H - 2.0 * PAD);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(
        page,
        "<figure><svg id=\"{id}\" width={CHART_W} height={CHART_H} role=img aria-label=\"{label}\"><polyline fill=none stroke=\"#c0392b\" stroke-width=2 points=\"{}\"/>",
        coords.join(" ")
    );
    axes(page, points, max);
    let _ = write!(page, "</svg><figcaption>{label}</figcaption></figure>");
}

fn axes(page: &mut String, series: &[(String, f64)], max: f64) {
    let bottom = CHART_H - PAD;
    let _ = write!(
        page,
        "<line x1={PAD} y1={bottom} x2={x2} y2={bottom} stroke=\"#555\"/><line x1={PAD} y1={PAD} x2={PAD} y2={bottom} stroke=\"#555\"/>\
         <text x=2 y={ty} font-size=10>{max:.0}</text><text x=2 y={bottom} font-size=10>0</text>",
        x2 = CHART_W - PAD,
        ty = PAD + 4.0,
    );
    if let (Some((first, _)), Some((last, _))) = (series.first(), series.last()) {
        let _ = write!(
            page,
            "<text x={PAD} y={y} font-size=10>{first}</text><text x={x} y={y} font-size=10 text-anchor=end>{last}</text>",
            y = bottom + 14.0,
            x = CHART_W - PAD,
            first = escape(first),
            last = escape(last)
        );
    }
}

/// HTML text and attribute escaping.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
