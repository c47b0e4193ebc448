//! The Stats page: how long decisions take (p50/p90/p99, a histogram, the
//! daily trend, per approver, group, kind and agent), the backlog now, how
//! approvals end per kind, and webhook health. Filters live in the address;
//! the page counts again as changes arrive on the live link.

use super::charts::{LatencyHistogram, TrendChart};
use super::errors::error_message;
use super::inbox_connection::{use_live_link, LinkIndicator};
use super::policies::Evidence;
use super::time::{ago, duration_label, stamp};
use super::url_encode;
use crate::api::{policy_evidence, stats};
use crate::model::{
    BacklogRow, InboxEvent, Latency, LatencyRow, OutcomeRow, StatsQuery, StatsView, StatsWindow,
    WebhookHealth,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use std::time::Duration;

/// Changes arriving closer together than this are counted once.
const REFRESH_AFTER: Duration = Duration::from_millis(700);

/// Counted again this often even without news: the live link tells an
/// approver only of what they may see.
const REFRESH_EVERY: Duration = Duration::from_secs(60);

#[component]
pub fn StatsPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.trim().is_empty());
    let refresh = RwSignal::new(0_u32);
    let data = Resource::new(
        move || {
            (
                param("window"),
                param("kind"),
                param("agent"),
                param("approver"),
                param("group"),
                refresh.get(),
            )
        },
        |(window, kind, agent, approver, group, _)| stats(window, kind, agent, approver, group),
    );
    let scheduled = StoredValue::new(false);
    let schedule_refresh = move || {
        if !scheduled.get_value() {
            scheduled.set_value(true);
            set_timeout(
                move || {
                    scheduled.set_value(false);
                    refresh.update(|n| *n += 1);
                },
                REFRESH_AFTER,
            );
        }
    };
    let link = use_live_link(true, move |event| {
        if !matches!(
            event,
            InboxEvent::Snapshot(_) | InboxEvent::Heartbeat { .. }
        ) {
            schedule_refresh();
        }
    });
    Effect::new(move |_| {
        if let Ok(timer) = set_interval_with_handle(schedule_refresh, REFRESH_EVERY) {
            on_cleanup(move || timer.clear());
        }
    });
    view! {
        <Title text="Stats · Holdpoint"/>
        <main class="page stats">
            <div class="page-head">
                <h1>"Stats"</h1>
                <LinkIndicator state=link title="Whether these figures are counted again as decisions happen"/>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Counting…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(view) => view! { <StatsBody view/> }.into_any(),
                        Err(error) => view! {
                            <p class="error" role="alert">{error_message(&error)}</p>
                        }.into_any(),
                    }
                })}
            </Transition>
            <PolicyEvidence/>
        </main>
    }
}

/// For admins: the evidence per kind and agent that policies are loosened
/// on, with its suggestions (as on the Policies page).
#[component]
fn PolicyEvidence() -> impl IntoView {
    let reload = RwSignal::new(0u64);
    let evidence = Resource::new(move || reload.get(), |_| policy_evidence());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match evidence.await {
                    Ok(Some((lines, thresholds))) => view! {
                        <div class="stats-evidence"><Evidence lines thresholds reload/></div>
                    }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn StatsBody(view: StatsView) -> impl IntoView {
    let StatsView {
        query,
        since,
        whole_days,
        latency,
        histogram,
        by_approver,
        by_group,
        by_kind,
        by_agent,
        trend,
        backlog,
        outcomes,
        webhooks,
        bucket_error,
        choices,
        computed_at,
    } = view;
    let span = match since {
        Some(since) if whole_days => format!("Since {} (whole UTC days)", stamp(since)),
        Some(since) => format!("Since {}", stamp(since)),
        None => "All time".to_owned(),
    };
    let trend_days = trend.clone();
    // Only admins narrow by a person (by email): others get names to read.
    let approver_link = (!choices.approvers.is_empty()).then_some("approver");
    view! {
        <Filters query=query.clone() choices/>
        <p class="muted window-note">{span}" · updated "{stamp(computed_at)}</p>

        <section aria-labelledby="latency-heading">
            <h2 id="latency-heading">"Decision time"</h2>
            <Figures latency=latency.clone()/>
            <LatencyHistogram bars=histogram.clone() p50_ms=latency.p50_ms p90_ms=latency.p90_ms
                id="latency-chart" title="How long decisions took".to_owned()/>
            <details>
                <summary>"The histogram as a table"</summary>
                <div class="table-wrap" tabindex="0">
                    <table class="admin-table stats-table">
                        <thead><tr>
                            <th scope="col" class="num">"From"</th>
                            <th scope="col" class="num">"Up to"</th>
                            <th scope="col" class="num">"Decisions"</th>
                        </tr></thead>
                        <tbody>
                            {histogram.into_iter().filter(|bar| bar.decisions > 0).map(|bar| view! {
                                <tr>
                                    <td class="num">{duration_label(bar.start_ms)}</td>
                                    <td class="num">{duration_label(bar.end_ms)}</td>
                                    <td class="num">{bar.decisions}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </details>
        </section>

        <section aria-labelledby="trend-heading">
            <h2 id="trend-heading">"Daily trend"</h2>
            <p class="legend"><span class="key p50"></span>"p50 " <span class="key p90"></span>"p90"</p>
            <TrendChart points=trend id="trend-chart" title="Daily p50 and p90 of decision times".to_owned()/>
            <details>
                <summary>"The trend as a table"</summary>
                <LatencyTable first="Day (UTC)" rows=trend_days.into_iter().map(|point| LatencyRow {
                    name: point.day,
                    latency: point.latency,
                }).collect() link=None query=query.clone()/>
            </details>
        </section>

        <div class="stats-grid">
            <section aria-labelledby="by-approver">
                <h2 id="by-approver">"By approver"</h2>
                <LatencyTable first="Approver" rows=by_approver link=approver_link query=query.clone()/>
            </section>
            <section aria-labelledby="by-group">
                <h2 id="by-group">"By group"</h2>
                <LatencyTable first="Group" rows=by_group link=Some("group") query=query.clone()/>
            </section>
            <section aria-labelledby="by-kind">
                <h2 id="by-kind">"By action kind"</h2>
                <LatencyTable first="Kind" rows=by_kind link=Some("kind") query=query.clone()/>
            </section>
            <section aria-labelledby="by-agent">
                <h2 id="by-agent">"By agent"</h2>
                <LatencyTable first="Agent" rows=by_agent link=Some("agent") query=query.clone()/>
            </section>
        </div>

        <section aria-labelledby="outcomes-heading">
            <h2 id="outcomes-heading">"How approvals ended, by kind"</h2>
            <p class="muted">"A kind approved nearly every time is a gate to loosen."</p>
            <OutcomeTable rows=outcomes/>
        </section>

        <section aria-labelledby="backlog-heading">
            <h2 id="backlog-heading">"Waiting now"</h2>
            <dl class="figures">
                <div><dt>"Pending"</dt><dd data-figure="pending">{backlog.pending}</dd></div>
                <div><dt>"Oldest waiting"</dt><dd>{backlog.oldest_created_at.map_or_else(
                    || "—".to_owned(),
                    |at| ago((computed_at - at).num_milliseconds()),
                )}</dd></div>
                <div><dt>"Expire within the hour"</dt><dd>{backlog.expiring_within_hour}</dd></div>
                <div><dt>"For anyone"</dt><dd>{backlog.unrouted}</dd></div>
            </dl>
            <div class="stats-grid">
                <BacklogTable first="Approver" rows=backlog.by_approver/>
                <BacklogTable first="Group" rows=backlog.by_group/>
            </div>
        </section>

        <section aria-labelledby="webhooks-heading">
            <h2 id="webhooks-heading">"Webhook health"</h2>
            <Webhooks health=webhooks/>
        </section>

        <p class="muted footnote">
            {format!(
                "Percentiles are read from histogram buckets (four to each doubling of time): \
                 from a second up, each is within {:.0} % of the exact value.",
                bucket_error * 100.0
            )}
        </p>
    }
}

/// The filters, as a form that works before the page's code has loaded.
#[component]
fn Filters(query: StatsQuery, choices: crate::model::StatsChoices) -> impl IntoView {
    let select = |name: &'static str,
                  label: &'static str,
                  chosen: Option<String>,
                  options: Vec<String>| {
        let any = format!("Any {}", label.to_lowercase());
        let id = format!("filter-{name}");
        view! {
            <div class="filter">
                <label for=id.clone()>{label}</label>
                <select name=name id=id>
                    <option value="" selected=chosen.is_none()>{any}</option>
                    {options.into_iter().map(|option| {
                        let selected = chosen.as_deref() == Some(option.as_str());
                        view! { <option value=option.clone() selected=selected>{option.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
        }
    };
    let mut kinds = choices.kinds;
    kinds.push("none".to_owned());
    view! {
        <form method="get" action="/stats" class="stats-filters" aria-label="Filters">
            <fieldset class="windows">
                <legend class="visually-hidden">"Window"</legend>
                {StatsWindow::ALL.into_iter().map(|window| view! {
                    <label class="window">
                        <input type="radio" name="window" value=window.as_str()
                            checked=query.window == window/>
                        <span>{window.label()}</span>
                    </label>
                }).collect_view()}
            </fieldset>
            {select("kind", "Kind", query.kind.clone(), kinds)}
            {select("agent", "Agent", query.agent.clone(), choices.agents)}
            {(!choices.approvers.is_empty()).then(|| {
                select("approver", "Approver", query.approver.clone(), choices.approvers)
            })}
            {select("group", "Group", query.group.clone(), choices.groups)}
            <button type="submit" class="button">"Show"</button>
            <a href="/stats" class="reset">"Reset"</a>
        </form>
    }
}

#[component]
fn Figures(latency: Latency) -> impl IntoView {
    let figure = |ms: Option<f64>| ms.map_or_else(|| "—".to_owned(), duration_label);
    view! {
        <dl class="figures">
            <div><dt>"Decisions"</dt><dd data-figure="decisions">{latency.decisions}</dd></div>
            <div><dt>"p50"</dt><dd data-figure="p50" data-ms=latency.p50_ms>{figure(latency.p50_ms)}</dd></div>
            <div><dt>"p90"</dt><dd data-figure="p90" data-ms=latency.p90_ms>{figure(latency.p90_ms)}</dd></div>
            <div><dt>"p99"</dt><dd data-figure="p99" data-ms=latency.p99_ms>{figure(latency.p99_ms)}</dd></div>
        </dl>
    }
}

/// The address of this view narrowed further by `name` = `value`.
fn narrowed(query: &StatsQuery, name: &str, value: &str) -> String {
    let mut pairs = vec![("window", query.window.as_str().to_owned())];
    for (key, current) in [
        ("kind", &query.kind),
        ("agent", &query.agent),
        ("approver", &query.approver),
        ("group", &query.group),
    ] {
        if key != name {
            if let Some(current) = current {
                pairs.push((key, current.clone()));
            }
        }
    }
    pairs.push((name, value.to_owned()));
    let encoded: Vec<String> = pairs
        .into_iter()
        .map(|(key, value)| format!("{key}={}", url_encode(&value)))
        .collect();
    format!("/stats?{}", encoded.join("&"))
}

#[component]
fn LatencyTable(
    first: &'static str,
    rows: Vec<LatencyRow>,
    /// The filter a row's name narrows the page to, if any.
    link: Option<&'static str>,
    query: StatsQuery,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No decisions."</p> }.into_any();
    }
    let figure = |ms: Option<f64>| ms.map_or_else(|| "—".to_owned(), duration_label);
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="admin-table stats-table">
                <thead>
                    <tr>
                        <th scope="col">{first}</th>
                        <th scope="col" class="num">"Decisions"</th>
                        <th scope="col" class="num">"p50"</th>
                        <th scope="col" class="num">"p90"</th>
                        <th scope="col" class="num">"p99"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|row| {
                        let name = match link {
                            Some(filter) => view! {
                                <a href=narrowed(&query, filter, &row.name)>{row.name.clone()}</a>
                            }.into_any(),
                            None => view! { <span>{row.name.clone()}</span> }.into_any(),
                        };
                        view! {
                            <tr>
                                <th scope="row">{name}</th>
                                <td class="num">{row.latency.decisions}</td>
                                <td class="num">{figure(row.latency.p50_ms)}</td>
                                <td class="num">{figure(row.latency.p90_ms)}</td>
                                <td class="num">{figure(row.latency.p99_ms)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn OutcomeTable(rows: Vec<OutcomeRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No approvals have ended in this window."</p> }.into_any();
    }
    let cell = |row: &OutcomeRow, count: u64| format!("{count} ({:.0} %)", row.rate(count));
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="admin-table stats-table outcomes">
                <thead>
                    <tr>
                        <th scope="col">"Kind"</th>
                        <th scope="col" class="num">"Approved"</th>
                        <th scope="col" class="num">"Denied"</th>
                        <th scope="col" class="num">"Expired"</th>
                        <th scope="col" class="num">"Cancelled"</th>
                        <th scope="col" class="num">"Total"</th>
                        <th scope="col"><span class="visually-hidden">"Mix"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|row| {
                        let share = |count: u64| format!("width: {:.2}%", row.rate(count));
                        view! {
                            <tr>
                                <th scope="row">{row.kind.clone()}</th>
                                <td class="num">{cell(&row, row.approved)}</td>
                                <td class="num">{cell(&row, row.denied)}</td>
                                <td class="num">{cell(&row, row.expired)}</td>
                                <td class="num">{cell(&row, row.cancelled)}</td>
                                <td class="num">{row.total()}</td>
                                <td class="mix-cell" aria-hidden="true">
                                    <div class="mix">
                                        <span class="approved" style=share(row.approved)></span>
                                        <span class="denied" style=share(row.denied)></span>
                                        <span class="expired" style=share(row.expired)></span>
                                        <span class="cancelled" style=share(row.cancelled)></span>
                                    </div>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn BacklogTable(first: &'static str, rows: Vec<BacklogRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">{format!("Nothing waits for one {}.", first.to_lowercase())}</p> }
            .into_any();
    }
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="admin-table stats-table">
                <thead><tr><th scope="col">{first}</th><th scope="col" class="num">"Pending"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|row| view! {
                        <tr><th scope="row">{row.route}</th><td class="num">{row.pending}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Webhooks(health: WebhookHealth) -> impl IntoView {
    let rate = health
        .success_rate()
        .map_or_else(|| "—".to_owned(), |rate| format!("{rate:.1} %"));
    let per_message = health
        .attempts_per_message()
        .map_or_else(|| "—".to_owned(), |n| format!("{n:.2}"));
    let first = |ms: Option<f64>| ms.map_or_else(|| "—".to_owned(), duration_label);
    let failing = if health.failing.is_empty() {
        view! { <p class="muted">"No endpoint is failing now."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap" tabindex="0">
                <table class="admin-table stats-table">
                    <thead><tr>
                        <th scope="col">"Agent"</th><th scope="col">"URL"</th>
                        <th scope="col" class="num">"Failures in a row"</th><th scope="col">"State"</th>
                    </tr></thead>
                    <tbody>
                        {health.failing.into_iter().map(|endpoint| view! {
                            <tr>
                                <th scope="row">{endpoint.agent}</th>
                                <td><code>{endpoint.url}</code></td>
                                <td class="num">{endpoint.failure_streak}</td>
                                <td>{endpoint.disabled_reason.map_or_else(
                                    || "retrying".to_owned(),
                                    |reason| format!("disabled: {reason}"),
                                )}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <dl class="figures">
            <div><dt>"Attempts that succeeded"</dt><dd>{rate}</dd></div>
            <div><dt>"Attempts per message"</dt><dd>{per_message}</dd></div>
            <div><dt>"First delivery, p50"</dt><dd>{first(health.first_delivery.p50_ms)}</dd></div>
            <div><dt>"First delivery, p90"</dt><dd>{first(health.first_delivery.p90_ms)}</dd></div>
        </dl>
        {failing}
    }
}
