//! The run's report: Markdown with both systems side by side, a latency-percentile plot and a
//! throughput-over-time plot (SVG, drawn with plotters).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;

use crate::driver::{StepResult, TIMELINE_BUCKET_MS};
use crate::summary::{Summary, SystemRun};

/// A row of the side-by-side table: how to print it for one system.
type Column = dyn Fn(&SystemRun) -> String;

const PLOT_SIZE_PX: (u32, u32) = (900, 480);
/// Percentiles on the latency plot, as quantiles.
const PLOT_QUANTILES: [f64; 9] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999];

/// Writes `<dir>/<scenario>-<timestamp>.md` and its two SVGs; returns the Markdown's path.
pub fn write(
    dir: &Path,
    summary: &Summary,
    kanjo: &SystemRun,
    baseline: Option<&SystemRun>,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let stem = format!("{}-{stamp}", summary.scenario);
    let latency_svg = format!("{stem}-latency.svg");
    let throughput_svg = format!("{stem}-throughput.svg");
    let mut systems = vec![kanjo];
    systems.extend(baseline);
    latency_plot(&dir.join(&latency_svg), &systems)?;
    throughput_plot(&dir.join(&throughput_svg), &systems)?;

    let mut md = String::new();
    let _ = writeln!(md, "# kanjo-load: {} ({})\n", summary.scenario, stamp);
    let _ = writeln!(md, "Command: `{}`\n", summary.command);
    let _ = writeln!(
        md,
        "Result: **{}**. kanjo {:.0} events/s vs naive PostgreSQL {:.0} events/s: **{:.1}×** at p99 ≤ {} ms.\n",
        if summary.correct {
            "correct"
        } else {
            "CHECKS FAILED"
        },
        summary.kanjo_events_per_sec,
        summary.baseline_events_per_sec,
        summary.ratio,
        summary.p99_bound_ms
    );
    if !summary.kanjo_within_p99_bound || (baseline.is_some() && !summary.baseline_within_p99_bound)
    {
        let _ = writeln!(
            md,
            "Note: no step of at least one system kept p99 within the bound; its first step is shown, so the ratio is not at the same p99 bound.\n"
        );
    }
    let _ = writeln!(md, "| | kanjo | naive PostgreSQL |\n|---|---:|---:|");
    let cell = |run: Option<&SystemRun>, f: &dyn Fn(&SystemRun) -> String| {
        run.map(f).unwrap_or_else(|| "—".to_owned())
    };
    let rows: [(&str, &Column); 9] = [
        ("target / store", &|run| {
            format!("{} / {}", run.target, run.store)
        }),
        ("best sustained events/s", &|run| {
            format!("{:.0}", run.best().map_or(0.0, |s| s.events_per_sec))
        }),
        ("at target rate", &|run| {
            format!("{:.0}", run.best().map_or(0.0, |s| s.target_rate_per_s))
        }),
        ("p50 ms", &|run| {
            format!("{:.2}", run.best().map_or(0.0, |s| s.quantile_ms(0.5)))
        }),
        ("p99 ms", &|run| {
            format!("{:.2}", run.best().map_or(0.0, |s| s.quantile_ms(0.99)))
        }),
        ("p99.9 ms", &|run| {
            format!("{:.2}", run.best().map_or(0.0, |s| s.quantile_ms(0.999)))
        }),
        ("events measured (all steps)", &|run| {
            format!("{}", run.steps.iter().map(|s| s.events).sum::<u64>())
        }),
        ("setup events", &|run| {
            format!("{} in {:.1} s", run.setup_events, run.setup_s)
        }),
        ("checks", &|run| {
            if run.checks.passed() {
                "pass".to_owned()
            } else {
                format!("FAIL: {}", run.checks.problems.join("; "))
            }
        }),
    ];
    for (name, value) in rows {
        let _ = writeln!(
            md,
            "| {name} | {} | {} |",
            cell(Some(kanjo), value),
            cell(baseline, value)
        );
    }
    let _ = writeln!(
        md,
        "\n![latency percentiles]({latency_svg})\n\n![throughput over time]({throughput_svg})\n"
    );
    for run in &systems {
        let _ = writeln!(md, "## Steps: {}\n", run.target);
        let _ = writeln!(
            md,
            "| target rate/s | events | achieved/s | p50 ms | p99 ms | p99.9 ms | rejected |\n|---:|---:|---:|---:|---:|---:|---|"
        );
        for step in &run.steps {
            let mut rejected: Vec<String> = step
                .rejected_by_code
                .iter()
                .map(|(code, count)| format!("{code}: {count}"))
                .collect();
            rejected.sort();
            let _ = writeln!(
                md,
                "| {:.0} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                step.target_rate_per_s,
                step.events,
                step.events_per_sec,
                step.quantile_ms(0.5),
                step.quantile_ms(0.99),
                step.quantile_ms(0.999),
                rejected.join(", ")
            );
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md, "## Notes\n\n{}\n", summary.notes.join("\n\n"));
    let path = dir.join(format!("{stem}.md"));
    std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn plot_error<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow!("drawing the plot: {error:?}")
}

/// Latency at each percentile of each system's best step; x is "nines" (p90 = 1, p99 = 2, p99.9 = 3).
fn latency_plot(path: &Path, systems: &[&SystemRun]) -> Result<()> {
    let root = SVGBackend::new(path, PLOT_SIZE_PX).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let series: Vec<(String, Vec<(f64, f64)>)> = systems
        .iter()
        .filter_map(|run| {
            let step = run.best()?;
            let points = PLOT_QUANTILES
                .iter()
                .map(|&q| (-(1.0 - q).log10(), step.quantile_ms(q).max(0.001)))
                .collect();
            Some((
                format!("{} at {:.0}/s", run.target, step.events_per_sec),
                points,
            ))
        })
        .collect();
    let y_max = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Latency by percentile (from intended send time)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.2f64..4.1f64, (0.01f64..y_max).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency ms (log)")
        .x_label_formatter(&|nines| format!("p{}", 100.0 - 100.0 * 10f64.powf(-nines)))
        .draw()
        .map_err(plot_error)?;
    for (index, (label, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(plot_error)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

/// Events answered per second over the run, all steps back to back.
fn throughput_plot(path: &Path, systems: &[&SystemRun]) -> Result<()> {
    let root = SVGBackend::new(path, PLOT_SIZE_PX).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let per_second = 1000.0 / TIMELINE_BUCKET_MS as f64;
    let series: Vec<(String, Vec<(f64, f64)>)> = systems
        .iter()
        .map(|run| {
            let mut points = Vec::new();
            let mut offset_s = 0.0;
            for step in &run.steps {
                points.extend(timeline_points(step, offset_s, per_second));
                offset_s += step.duration_s;
            }
            (run.target.clone(), points)
        })
        .collect();
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let y_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.1))
        .fold(10.0, f64::max)
        * 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Throughput over time (find-max steps back to back)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, (1f64..y_max).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("seconds into the measured run")
        .y_desc("events/s (log)")
        .draw()
        .map_err(plot_error)?;
    for (index, (label, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.into_iter().map(|(x, y)| (x, y.max(1.0))),
                color.stroke_width(2),
            ))
            .map_err(plot_error)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn timeline_points(
    step: &StepResult,
    offset_s: f64,
    per_second: f64,
) -> impl Iterator<Item = (f64, f64)> + '_ {
    step.timeline
        .iter()
        .enumerate()
        .map(move |(bucket, &count)| {
            (
                offset_s + bucket as f64 * TIMELINE_BUCKET_MS as f64 / 1000.0,
                count as f64 * per_second,
            )
        })
}
