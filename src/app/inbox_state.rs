//! What the inbox holds and how each live event changes it: the pending
//! approvals, which card is shown, which are selected for a batch, and a
//! card kept on screen when someone else decided it while its denial was
//! being written. The filters are `inbox_filters.rs`.

use super::dom;
use super::inbox_filters::Filters;
use super::time::ago;
use super::Notice;
use crate::model::{Approval, ApprovalChange, ApprovalSummary, InboxData, InboxEvent, Status};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::params::ParamsMap;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One pending approval as the list has it (no preview or data: the card
/// on screen loads its own); shared, since lists are rebuilt often.
pub type Card = Arc<ApprovalSummary>;

/// What the page must do after the inbox took in a live event. The state
/// (its signals) has already changed; these touch the browser, so `apply`
/// returns them for the page to `perform`, and tests read them instead.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A desktop notification of a new approval (the page is hidden).
    Notify {
        id: String,
        title: String,
        body: String,
    },
    /// Words for the status line, which screen readers announce.
    Announce(String),
    /// If focus is on the card `from` (it left), move it to `to`'s entry.
    MoveFocus { from: String, to: String },
}

/// A card someone else decided while this person was writing its denial:
/// it stays on screen, with what happened, until they move on.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub card: Card,
    /// "approved by Ana, just now"
    pub what_happened: String,
    /// The card to show next.
    pub next: Option<String>,
}

/// The inbox's state, shared with its parts through context. All signals,
/// so it is `Copy` and can be moved into any callback.
#[derive(Clone, Copy)]
pub struct Inbox {
    /// Pending, oldest first.
    pub approvals: RwSignal<Vec<Card>>,
    pub last_decided_at: RwSignal<Option<DateTime<Utc>>>,
    viewer_email: StoredValue<String>,
    /// Whether this person decides at all (a viewer only looks).
    pub may_decide: RwSignal<bool>,
    pub filters: RwSignal<Filters>,
    /// The card the person picked (None: the first one shown).
    pub chosen: RwSignal<Option<String>>,
    /// Selected for a batch decision.
    pub checked: RwSignal<BTreeSet<String>>,
    pub held: RwSignal<Option<Held>>,
    /// The card whose denial reason is open, if any.
    pub drafting: RwSignal<Option<String>>,
    pub help_open: RwSignal<bool>,
    /// The id of the card on screen.
    pub current: Memo<Option<String>>,
    /// Cards loaded in full (preview and data), by id: the list has
    /// neither. Kept here, for the life of the page, so that a card on
    /// screen never depends on anything that could be gone before it.
    pub loaded: RwSignal<HashMap<String, Arc<Approval>>>,
    /// The card on screen in full, once loaded. Changes only when another
    /// card is shown (or the shown one arrives), never when the list does.
    pub shown: Memo<Option<Arc<Approval>>>,
    notice: Option<Notice>,
}

/// At most this many full cards are kept loaded.
const LOADED_CARDS: usize = 32;

impl Inbox {
    pub fn new(initial: &InboxData, query: &ParamsMap) -> Self {
        let approvals = RwSignal::new(sorted(&initial.approvals));
        let filters = RwSignal::new(Filters::from_query(query));
        let chosen = RwSignal::new(query.get("selected"));
        let held = RwSignal::new(None::<Held>);
        let current = Memo::new(move |_| {
            if let Some(held) = held.get() {
                return Some(held.card.id.clone());
            }
            let wanted = chosen.get();
            filters.with(|filters| {
                approvals.with(|list| {
                    let mut shown = list.iter().filter(|a| filters.matches(a));
                    let first = shown.clone().next();
                    shown
                        .find(|a| Some(&a.id) == wanted.as_ref())
                        .or(first)
                        .map(|a| a.id.clone())
                })
            })
        });
        let loaded = RwSignal::new(
            initial
                .shown
                .iter()
                .map(|approval| (approval.id.clone(), Arc::new(Approval::clone(approval))))
                .collect::<HashMap<_, _>>(),
        );
        let shown = Memo::new(move |_| {
            let id = current.get()?;
            loaded.with(|cards| cards.get(&id).cloned())
        });
        Inbox {
            approvals,
            loaded,
            shown,
            last_decided_at: RwSignal::new(initial.last_decided_at),
            viewer_email: StoredValue::new(initial.viewer_email.clone()),
            may_decide: RwSignal::new(initial.may_decide),
            filters,
            chosen,
            checked: RwSignal::new(BTreeSet::new()),
            held,
            drafting: RwSignal::new(None),
            help_open: RwSignal::new(false),
            current,
            notice: use_context::<Notice>(),
        }
    }

    /// The approvals the filters let through, oldest first.
    pub fn visible(&self) -> Vec<Card> {
        let filters = self.filters.get();
        self.approvals.with(|list| {
            list.iter()
                .filter(|a| filters.matches(a))
                .cloned()
                .collect()
        })
    }

    /// The card with this id: a pending one, or the held one.
    pub fn card_untracked(&self, id: &str) -> Option<Card> {
        let held = self.held.with_untracked(|h| {
            h.as_ref()
                .filter(|h| h.card.id == id)
                .map(|h| h.card.clone())
        });
        held.or_else(|| {
            self.approvals
                .with_untracked(|list| list.iter().find(|a| a.id == id).cloned())
        })
    }

    pub fn say(&self, message: String) {
        if let Some(Notice(notice)) = self.notice {
            notice.set(Some(message));
        }
    }

    // ----- what the server says ---------------------------------------------

    /// Takes in one live event; returns what the page must do about it.
    /// `page_hidden`: whether the tab is out of sight (new approvals are
    /// then notified).
    pub fn apply(&self, event: InboxEvent, page_hidden: bool) -> Vec<Effect> {
        match event {
            InboxEvent::Snapshot(data) => {
                self.replace(data);
                Vec::new()
            }
            InboxEvent::Created(change) => self.arrive(change.approval, page_hidden),
            InboxEvent::Decided(change)
            | InboxEvent::Expired(change)
            | InboxEvent::Cancelled(change) => self.depart(change),
            InboxEvent::Resync | InboxEvent::Heartbeat { .. } => Vec::new(),
        }
    }

    /// Does in the browser what `apply` asked for.
    pub fn perform(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Notify { id, title, body } => {
                    let chosen = self.chosen;
                    let tag = id.clone();
                    dom::notify(&title, &body, &tag, move || chosen.set(Some(id)));
                }
                Effect::Announce(message) => self.say(message),
                Effect::MoveFocus { from, to } => {
                    let had_focus = dom::focus_within(&format!("article[data-id=\"{from}\"]"))
                        || dom::focus_within(&format!("a.inbox-item[data-id=\"{from}\"]"));
                    if had_focus {
                        request_animation_frame(move || dom::focus_inbox_item(&to));
                    }
                }
            }
        }
    }

    /// After a (re)connection: the server's view wins.
    fn replace(&self, data: InboxData) {
        let cards = sorted(&data.approvals);
        self.checked.update(|checked| {
            checked.retain(|id| cards.iter().any(|card| card.id == *id));
        });
        self.approvals.set(cards);
        self.last_decided_at.set(data.last_decided_at);
        self.may_decide.set(data.may_decide);
    }

    fn arrive(&self, approval: ApprovalSummary, page_hidden: bool) -> Vec<Effect> {
        let present = self
            .approvals
            .with_untracked(|list| list.iter().any(|a| a.id == approval.id));
        if present || approval.status != Status::Pending {
            return Vec::new();
        }
        let mut effects = Vec::new();
        if page_hidden && self.filters.with_untracked(|f| f.matches(&approval)) {
            effects.push(Effect::Notify {
                id: approval.id.clone(),
                title: "New approval · Holdpoint".to_owned(),
                body: format!("{} ({})", approval.title, approval.agent),
            });
        }
        let card = Arc::new(approval);
        self.approvals.update(|list| {
            let at = list.partition_point(|a| order_key(a) < order_key(&card));
            list.insert(at, card);
        });
        effects
    }

    fn depart(&self, change: ApprovalChange) -> Vec<Effect> {
        let approval = &change.approval;
        self.note_decision(approval.decided_at);
        let present = self
            .approvals
            .with_untracked(|list| list.iter().any(|a| a.id == approval.id));
        if !present {
            return Vec::new();
        }
        let mine = self
            .viewer_email
            .with_value(|me| approval.decided_by.as_deref() == Some(me.as_str()));
        if mine {
            // Decided here or in another of this person's tabs.
            let mut effects: Vec<Effect> = self.remove(&approval.id).into_iter().collect();
            effects.push(Effect::Announce(confirmation(
                approval.status,
                &approval.title,
            )));
            return effects;
        }
        let what_happened = what_happened(&change);
        let on_screen = self.current.get_untracked().as_deref() == Some(approval.id.as_str());
        let writing = self.drafting.get_untracked().as_deref() == Some(approval.id.as_str());
        if on_screen && writing {
            let next = self.neighbour_untracked(&approval.id);
            let card = self.card_untracked(&approval.id).expect("present");
            self.held.set(Some(Held {
                card,
                what_happened,
                next,
            }));
            self.forget(&approval.id);
            Vec::new()
        } else {
            let mut effects: Vec<Effect> = self.remove(&approval.id).into_iter().collect();
            effects.push(Effect::Announce(format!(
                "“{}” was {what_happened}.",
                approval.title
            )));
            effects
        }
    }

    // ----- what the person does ---------------------------------------------

    /// After this person's own decision, from the card or a batch.
    pub fn decided_here(&self, approval: &Approval) {
        self.note_decision(approval.decided_at);
        let effects = self.remove(&approval.id).into_iter().collect();
        self.perform(effects);
    }

    /// Moves the shown card `by` places (1: next, -1: previous), taking
    /// focus and scrolling along.
    pub fn step(&self, by: isize) {
        let visible = self.visible_untracked();
        if visible.is_empty() {
            return;
        }
        let here = self
            .current
            .get_untracked()
            .and_then(|id| visible.iter().position(|a| a.id == id));
        let to = match here {
            Some(at) => at.saturating_add_signed(by).min(visible.len() - 1),
            None => 0,
        };
        let id = visible[to].id.clone();
        self.dismiss_held();
        self.show(id);
    }

    /// Shows this card, with focus on its entry in the list.
    pub fn show(&self, id: String) {
        self.chosen.set(Some(id.clone()));
        request_animation_frame(move || dom::focus_inbox_item(&id));
    }

    /// Lets go of a held card and moves on to the next one.
    pub fn dismiss_held(&self) {
        if let Some(held) = self.held.get_untracked() {
            self.held.set(None);
            self.drafting.set(None);
            self.chosen.set(held.next);
        }
    }

    pub fn toggle_checked(&self, id: &str) {
        self.checked.update(|checked| {
            if !checked.remove(id) {
                checked.insert(id.to_owned());
            }
        });
    }

    // ----- helpers ----------------------------------------------------------

    fn visible_untracked(&self) -> Vec<Card> {
        untrack(|| self.visible())
    }

    /// The card after this one in the visible list, else the one before.
    fn neighbour_untracked(&self, id: &str) -> Option<String> {
        let visible = self.visible_untracked();
        let at = visible.iter().position(|a| a.id == id)?;
        visible
            .get(at + 1)
            .or_else(|| at.checked_sub(1).and_then(|before| visible.get(before)))
            .map(|a| a.id.clone())
    }

    /// Takes a card off the inbox; if it was on screen, the next one takes
    /// its place, and focus follows if it was on the card that left.
    fn remove(&self, id: &str) -> Option<Effect> {
        let mut focus = None;
        if self.current.get_untracked().as_deref() == Some(id) {
            let next = self.neighbour_untracked(id);
            self.held.set(None);
            focus = next.clone().map(|to| Effect::MoveFocus {
                from: id.to_owned(),
                to,
            });
            self.chosen.set(next);
        }
        self.forget(id);
        focus
    }

    /// Loads the card on screen, and the one after it (the next `j`), when
    /// they are not loaded yet. Call from the browser only.
    pub fn load_shown_and_next(&self, fetch: impl Fn(String) + Copy) {
        let Some(id) = self.current.get() else {
            return;
        };
        let next = untrack(|| self.neighbour_untracked(&id));
        for id in std::iter::once(id).chain(next) {
            if !self.loaded.with_untracked(|cards| cards.contains_key(&id)) {
                fetch(id);
            }
        }
    }

    /// A card arrived in full.
    pub fn card_loaded(&self, approval: Approval) {
        let keep = self.current.get_untracked();
        self.loaded.update(|cards| {
            if cards.len() >= LOADED_CARDS {
                cards.retain(|id, _| Some(id) == keep.as_ref());
            }
            cards.insert(approval.id.clone(), Arc::new(approval));
        });
    }

    fn forget(&self, id: &str) {
        self.approvals.update(|list| list.retain(|a| a.id != id));
        if self
            .held
            .with_untracked(|held| held.as_ref().is_none_or(|h| h.card.id != id))
        {
            self.loaded.update(|cards| {
                cards.remove(id);
            });
        }
        self.checked.update(|checked| {
            checked.remove(id);
        });
        if self.drafting.get_untracked().as_deref() == Some(id)
            && self.held.get_untracked().is_none()
        {
            self.drafting.set(None);
        }
    }

    fn note_decision(&self, decided_at: Option<DateTime<Utc>>) {
        if let Some(at) = decided_at {
            self.last_decided_at
                .update(|last| *last = Some(last.map_or(at, |last| last.max(at))));
        }
    }
}

fn order_key(approval: &ApprovalSummary) -> (DateTime<Utc>, &str) {
    (approval.created_at, approval.id.as_str())
}

fn sorted(approvals: &[ApprovalSummary]) -> Vec<Card> {
    let mut cards: Vec<Card> = approvals.iter().cloned().map(Arc::new).collect();
    cards.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    cards
}

/// "Approved: Refund $240 ..." after this person's own decision.
pub fn confirmation(status: Status, title: &str) -> String {
    let verb = match status {
        Status::Approved => "Approved",
        _ => "Denied",
    };
    format!("{verb}: {title}")
}

/// "approved by Ana, 2 s ago", "expired", "withdrawn by the agent".
pub fn what_happened(change: &ApprovalChange) -> String {
    let approval = &change.approval;
    let when = approval
        .decided_at
        .map(|at| ago((Utc::now() - at).num_milliseconds()))
        .unwrap_or_else(|| "just now".to_owned());
    let by = change
        .decided_by_name
        .clone()
        .or_else(|| approval.decided_by.clone())
        .unwrap_or_else(|| "someone".to_owned());
    match approval.status {
        Status::Approved => format!("approved by {by}, {when}"),
        Status::Denied => format!("denied by {by}, {when}"),
        Status::Expired => format!("expired, {when}"),
        Status::Cancelled => format!("withdrawn by the agent, {when}"),
        Status::Pending => "changed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos_router::params::ParamsMap;

    const ME: &str = "me@example.com";

    /// Signals live in an arena owned by a root, as on a page.
    fn in_reactive_root(test: impl FnOnce()) {
        let owner = Owner::new_root(None);
        owner.with(test);
    }

    fn pending(id: &str, title: &str, minute: i64) -> ApprovalSummary {
        ApprovalSummary {
            id: id.to_owned(),
            status: Status::Pending,
            title: title.to_owned(),
            action: None,
            agent: "billing-agent".to_owned(),
            approver: None,
            group: None,
            reason: None,
            decided_by: None,
            decided_at: None,
            created_at: DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap(),
            expires_at: DateTime::from_timestamp(1_800_100_000, 0).unwrap(),
            body_bytes: 0,
            data_bytes: 0,
        }
    }

    fn decided(approval: &ApprovalSummary, by: &str, by_name: &str) -> ApprovalChange {
        let mut approval = approval.clone();
        approval.status = Status::Approved;
        approval.decided_by = Some(by.to_owned());
        approval.decided_at = Some(Utc::now());
        ApprovalChange {
            seq: 1,
            approval,
            decided_by_name: Some(by_name.to_owned()),
        }
    }

    fn inbox_with(approvals: Vec<ApprovalSummary>) -> Inbox {
        Inbox::new(
            &InboxData {
                approvals,
                last_decided_at: None,
                viewer_email: ME.to_owned(),
                may_decide: true,
                everything: false,
                may_show_everything: false,
                now_ms: 0,
                shown: None,
                flag_notices: Vec::new(),
            },
            &ParamsMap::new(),
        )
    }

    fn ids(inbox: &Inbox) -> Vec<String> {
        inbox
            .approvals
            .get_untracked()
            .iter()
            .map(|a| a.id.clone())
            .collect()
    }

    #[test]
    fn a_new_approval_takes_its_place_and_is_notified_only_while_the_page_is_hidden() {
        in_reactive_root(
            a_new_approval_takes_its_place_and_is_notified_only_while_the_page_is_hidden_body,
        );
    }

    fn a_new_approval_takes_its_place_and_is_notified_only_while_the_page_is_hidden_body() {
        let inbox = inbox_with(vec![
            pending("apr_1", "First", 1),
            pending("apr_3", "Third", 3),
        ]);
        let seen = inbox.apply(
            InboxEvent::Created(ApprovalChange {
                seq: 1,
                approval: pending("apr_2", "Second", 2),
                decided_by_name: None,
            }),
            false,
        );
        assert!(seen.is_empty());
        assert_eq!(ids(&inbox), ["apr_1", "apr_2", "apr_3"]);

        let hidden = inbox.apply(
            InboxEvent::Created(ApprovalChange {
                seq: 2,
                approval: pending("apr_4", "Refund $240", 4),
                decided_by_name: None,
            }),
            true,
        );
        assert_eq!(
            hidden,
            [Effect::Notify {
                id: "apr_4".to_owned(),
                title: "New approval · Holdpoint".to_owned(),
                body: "Refund $240 (billing-agent)".to_owned(),
            }]
        );
        // The same event again changes nothing.
        let again = inbox.apply(
            InboxEvent::Created(ApprovalChange {
                seq: 3,
                approval: pending("apr_4", "Refund $240", 4),
                decided_by_name: None,
            }),
            true,
        );
        assert!(again.is_empty());
        assert_eq!(ids(&inbox).len(), 4);
    }

    #[test]
    fn a_card_decided_elsewhere_leaves_with_words_and_focus_follows_to_the_next() {
        in_reactive_root(
            a_card_decided_elsewhere_leaves_with_words_and_focus_follows_to_the_next_body,
        );
    }

    fn a_card_decided_elsewhere_leaves_with_words_and_focus_follows_to_the_next_body() {
        let first = pending("apr_1", "Refund $240", 1);
        let inbox = inbox_with(vec![first.clone(), pending("apr_2", "Delete rows", 2)]);
        assert_eq!(inbox.current.get_untracked().as_deref(), Some("apr_1"));
        let effects = inbox.apply(
            InboxEvent::Decided(decided(&first, "ana@example.com", "Ana")),
            false,
        );
        assert_eq!(ids(&inbox), ["apr_2"]);
        assert_eq!(inbox.chosen.get_untracked().as_deref(), Some("apr_2"));
        assert_eq!(effects.len(), 2);
        assert_eq!(
            effects[0],
            Effect::MoveFocus {
                from: "apr_1".to_owned(),
                to: "apr_2".to_owned()
            }
        );
        let Effect::Announce(words) = &effects[1] else {
            panic!("{effects:?}");
        };
        assert!(
            words.starts_with("“Refund $240” was approved by Ana"),
            "{words}"
        );
    }

    #[test]
    fn my_own_decision_from_another_tab_is_confirmed_and_a_denial_being_written_is_held() {
        in_reactive_root(
            my_own_decision_from_another_tab_is_confirmed_and_a_denial_being_written_is_held_body,
        );
    }

    fn my_own_decision_from_another_tab_is_confirmed_and_a_denial_being_written_is_held_body() {
        let first = pending("apr_1", "Refund $240", 1);
        let second = pending("apr_2", "Delete rows", 2);
        let inbox = inbox_with(vec![first.clone(), second.clone()]);
        let mine = inbox.apply(InboxEvent::Decided(decided(&first, ME, "Me")), false);
        assert!(mine.contains(&Effect::Announce("Approved: Refund $240".to_owned())));

        // Someone else decides the card on screen while its denial is open.
        inbox.drafting.set(Some("apr_2".to_owned()));
        let held = inbox.apply(
            InboxEvent::Decided(decided(&second, "ana@example.com", "Ana")),
            false,
        );
        assert!(held.is_empty(), "nothing moves under the person: {held:?}");
        let kept = inbox.held.get_untracked().expect("held on screen");
        assert_eq!(kept.card.id, "apr_2");
        assert!(kept.what_happened.starts_with("approved by Ana"));
        assert!(ids(&inbox).is_empty());
    }
}
