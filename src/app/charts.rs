//! Small SVG charts of our own (no chart library): a histogram of decision
//! times on a logarithmic time axis with p50 and p90 marked, and a daily
//! trend of p50 and p90. Each has a title and a description for screen
//! readers, axes labelled in units, and colours from the page's theme; the
//! Stats page puts the numbers beside each and a table under it.

use super::time::duration_label;
use crate::model::{HistogramBar, TrendPoint};
use leptos::prelude::*;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

/// Where times below a second start on a logarithmic axis.
const AXIS_FLOOR_MS: f64 = 100.0;

/// Round times the time axis may mark, with their short labels.
const TIME_TICKS: [(f64, &str); 18] = [
    (100.0, "0.1s"),
    (1_000.0, "1s"),
    (5_000.0, "5s"),
    (10_000.0, "10s"),
    (30_000.0, "30s"),
    (60_000.0, "1m"),
    (300_000.0, "5m"),
    (600_000.0, "10m"),
    (1_800_000.0, "30m"),
    (3_600_000.0, "1h"),
    (7_200_000.0, "2h"),
    (21_600_000.0, "6h"),
    (43_200_000.0, "12h"),
    (86_400_000.0, "1d"),
    (172_800_000.0, "2d"),
    (604_800_000.0, "1w"),
    (2_592_000_000.0, "30d"),
    (31_536_000_000.0, "1y"),
];

/// Marks at most this many ticks on an axis.
const MAX_TICKS: usize = 7;

/// A logarithmic scale from `low` to `high` ms onto the plot's width.
#[derive(Clone, Copy)]
struct LogScale {
    low: f64,
    high: f64,
}

impl LogScale {
    fn x(&self, ms: f64) -> f64 {
        let ms = ms.clamp(self.low, self.high);
        let span = (self.high / self.low).log10().max(f64::EPSILON);
        LEFT + (WIDTH - LEFT - RIGHT) * (ms / self.low).log10() / span
    }

    /// The round times inside the scale, thinned to [`MAX_TICKS`].
    fn ticks(&self) -> Vec<(f64, &'static str)> {
        let inside: Vec<_> = TIME_TICKS
            .iter()
            .copied()
            .filter(|(ms, _)| *ms >= self.low && *ms <= self.high)
            .collect();
        let step = inside.len().div_ceil(MAX_TICKS).max(1);
        inside.into_iter().step_by(step).collect()
    }
}

fn plot_bottom() -> f64 {
    HEIGHT - BOTTOM
}

/// The y of `value` on a linear scale from 0 to `max`.
fn y_of(value: f64, max: f64) -> f64 {
    let height = plot_bottom() - TOP;
    plot_bottom() - height * (value / max.max(1.0))
}

/// Decision times as bars on a logarithmic time axis, p50 and p90 marked.
#[component]
pub fn LatencyHistogram(
    bars: Vec<HistogramBar>,
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    /// For `aria-labelledby`: unique on the page.
    id: &'static str,
    title: String,
) -> impl IntoView {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return view! { <p class="muted">"No decisions in this window."</p> }.into_any();
    };
    let scale = LogScale {
        low: first.start_ms.max(AXIS_FLOOR_MS),
        high: last.end_ms.max(first.start_ms.max(AXIS_FLOOR_MS) * 10.0),
    };
    let max = bars.iter().map(|b| b.decisions).max().unwrap_or(1) as f64;
    let total: u64 = bars.iter().map(|b| b.decisions).sum();
    let description = format!(
        "{total} decisions. Half took {} or less; nine in ten took {} or less.",
        p50_ms.map(duration_label).unwrap_or_default(),
        p90_ms.map(duration_label).unwrap_or_default(),
    );
    let rects = bars
        .iter()
        .filter(|bar| bar.decisions > 0)
        .map(|bar| {
            let x = scale.x(bar.start_ms.max(AXIS_FLOOR_MS));
            let width = (scale.x(bar.end_ms) - x - 1.0).max(1.0);
            let y = y_of(bar.decisions as f64, max);
            let tip = format!(
                "{} to {}: {} decisions",
                duration_label(bar.start_ms),
                duration_label(bar.end_ms),
                bar.decisions
            );
            view! {
                <rect class="bar" x=x y=y width=width height=plot_bottom() - y>
                    <title>{tip}</title>
                </rect>
            }
        })
        .collect_view();
    let marker = |ms: Option<f64>, label: &'static str, class: &'static str| {
        ms.map(|ms| {
            let x = scale.x(ms);
            view! {
                <g class=class>
                    <line x1=x x2=x y1=TOP y2=plot_bottom()/>
                    <text x=x + 4.0 y=TOP + 10.0>{format!("{label} {}", duration_label(ms))}</text>
                </g>
            }
        })
    };
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
            aria-labelledby=format!("{id}-title {id}-desc")>
            <title id=format!("{id}-title")>{title}</title>
            <desc id=format!("{id}-desc")>{description}</desc>
            <TimeAxis scale/>
            <CountAxis max=max label="decisions"/>
            {rects}
            {marker(p50_ms, "p50", "marker p50")}
            {marker(p90_ms, "p90", "marker p90")}
        </svg>
    }
    .into_any()
}

#[component]
fn TimeAxis(scale: LogScale) -> impl IntoView {
    let ticks = scale
        .ticks()
        .into_iter()
        .map(|(ms, label)| {
            let x = scale.x(ms);
            view! {
                <line class="grid" x1=x x2=x y1=TOP y2=plot_bottom()/>
                <text class="tick" x=x y=plot_bottom() + 14.0 text-anchor="middle">{label}</text>
            }
        })
        .collect_view();
    view! {
        <g class="axis">
            <line x1=LEFT x2=WIDTH - RIGHT y1=plot_bottom() y2=plot_bottom()/>
            {ticks}
            <text class="axis-label" x=(LEFT + WIDTH - RIGHT) / 2.0 y=HEIGHT - 4.0 text-anchor="middle">
                "decision time (log scale)"
            </text>
        </g>
    }
}

#[component]
fn CountAxis(max: f64, label: &'static str) -> impl IntoView {
    view! {
        <g class="axis">
            <line x1=LEFT x2=LEFT y1=TOP y2=plot_bottom()/>
            <text class="tick" x=LEFT - 6.0 y=TOP + 4.0 text-anchor="end">{format!("{max:.0}")}</text>
            <text class="tick" x=LEFT - 6.0 y=plot_bottom() text-anchor="end">"0"</text>
            <text class="axis-label" x=12.0 y=(TOP + plot_bottom()) / 2.0 text-anchor="middle"
                transform=format!("rotate(-90 12 {})", (TOP + plot_bottom()) / 2.0)>{label}</text>
        </g>
    }
}

/// The daily p50 and p90 as two lines over the days of the window.
#[component]
pub fn TrendChart(points: Vec<TrendPoint>, id: &'static str, title: String) -> impl IntoView {
    let days: Vec<(String, f64, f64)> = points
        .iter()
        .filter_map(|point| {
            Some((
                point.day.clone(),
                point.latency.p50_ms?,
                point.latency.p90_ms?,
            ))
        })
        .collect();
    if days.is_empty() {
        return view! { <p class="muted">"No decisions in this window."</p> }.into_any();
    }
    let max = days.iter().map(|(_, _, p90)| *p90).fold(1.0, f64::max);
    let plot_width = WIDTH - LEFT - RIGHT;
    let x_of = |i: usize| match days.len() {
        1 => LEFT + plot_width / 2.0,
        n => LEFT + plot_width * i as f64 / (n - 1) as f64,
    };
    let path = |pick: fn(&(String, f64, f64)) -> f64| {
        days.iter()
            .enumerate()
            .map(|(i, day)| format!("{:.1},{:.1}", x_of(i), y_of(pick(day), max)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let dots = days
        .iter()
        .enumerate()
        .map(|(i, (day, p50, p90))| {
            let x = x_of(i);
            let tip = format!(
                "{day}: p50 {}, p90 {}",
                duration_label(*p50),
                duration_label(*p90)
            );
            view! {
                <circle class="dot p90" cx=x cy=y_of(*p90, max) r=3><title>{tip.clone()}</title></circle>
                <circle class="dot p50" cx=x cy=y_of(*p50, max) r=3><title>{tip}</title></circle>
            }
        })
        .collect_view();
    let step = days.len().div_ceil(MAX_TICKS).max(1);
    let labels = days
        .iter()
        .enumerate()
        .step_by(step)
        .map(|(i, (day, _, _))| {
            // "11-28": the year is in the table.
            let short = day.get(5..).unwrap_or(day).to_owned();
            view! { <text class="tick" x=x_of(i) y=plot_bottom() + 14.0 text-anchor="middle">{short}</text> }
        })
        .collect_view();
    let description = format!(
        "Daily p50 and p90 of decision times over {} days; the highest p90 is {}.",
        days.len(),
        duration_label(max)
    );
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
            aria-labelledby=format!("{id}-title {id}-desc")>
            <title id=format!("{id}-title")>{title}</title>
            <desc id=format!("{id}-desc")>{description}</desc>
            <g class="axis">
                <line x1=LEFT x2=WIDTH - RIGHT y1=plot_bottom() y2=plot_bottom()/>
                <line x1=LEFT x2=LEFT y1=TOP y2=plot_bottom()/>
                <text class="tick" x=LEFT - 6.0 y=TOP + 4.0 text-anchor="end">{duration_label(max)}</text>
                <text class="tick" x=LEFT - 6.0 y=plot_bottom() text-anchor="end">"0"</text>
                {labels}
                <text class="axis-label" x=(LEFT + WIDTH - RIGHT) / 2.0 y=HEIGHT - 4.0 text-anchor="middle">
                    "day (UTC)"
                </text>
            </g>
            <polyline class="line p90" points=path(|d| d.2)/>
            <polyline class="line p50" points=path(|d| d.1)/>
            {dots}
        </svg>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_scale_puts_each_tenfold_the_same_width_apart() {
        let scale = LogScale {
            low: 1_000.0,
            high: 100_000.0,
        };
        let (a, b, c) = (scale.x(1_000.0), scale.x(10_000.0), scale.x(100_000.0));
        assert!((a - LEFT).abs() < 1e-9);
        assert!(((b - a) - (c - b)).abs() < 1e-9);
        assert!((c - (WIDTH - RIGHT)).abs() < 1e-9);
    }

    #[test]
    fn ticks_stay_inside_and_few() {
        let scale = LogScale {
            low: 100.0,
            high: 31_536_000_000.0,
        };
        let ticks = scale.ticks();
        assert!(ticks.len() <= MAX_TICKS);
        assert!(ticks.iter().all(|(ms, _)| *ms >= 100.0));
    }
}
