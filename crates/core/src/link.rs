//! Stage 4, link across conversations: reopens, FCR and its maturity.
//!
//! A resolved conversation A is reopened when the same customer starts a conversation B with
//! A.resolved_at < B.created_at <= A.resolved_at + window. B records reopen_of = the most
//! recently resolved such A. With `reopen_match = "same_intent"` (the default) B must also be
//! about the same thing as A (see [`ReopenRule`]). FCR is only known once the window has passed
//! by as_of: before that, reopened and fcr are null and fcr_mature is false, so an immature
//! conversation is never counted as a success.

use std::collections::HashMap;

use crate::config::Settings;
use crate::diagnostics::Warnings;
use crate::enrich::Enrichment;
use crate::model::{Conversation, Role};
use crate::row::{ConversationRow, LinkOutcome, ResolutionState};
use crate::text::reference_numbers;

/// What a conversation is about, for `reopen_match = "same_intent"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topic<'a> {
    /// None when the customer said nothing substantive (topic unknown).
    pub intent: Option<&'a str>,
    /// Embedding of the first substantive customer message(s), unit length.
    pub embedding: Option<&'a [f32]>,
    /// Order, invoice and tracking numbers the customer wrote, upper-cased.
    pub references: Vec<String>,
    /// How the conversation ended, as the resolution head read it (None without the head).
    pub resolution: Option<ResolutionState>,
    /// The intent head's calibrated confidence (None when the intent is unknown).
    pub intent_confidence: Option<f64>,
}

/// A topic as stored by a nightly run (link_state.parquet), for linking the next nights' returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredTopic {
    pub intent: Option<String>,
    pub embedding: Option<Vec<f32>>,
    pub references: Vec<String>,
    pub resolution: Option<ResolutionState>,
}

impl StoredTopic {
    pub fn of(t: &Topic) -> StoredTopic {
        StoredTopic {
            intent: t.intent.map(str::to_string),
            embedding: t.embedding.map(<[f32]>::to_vec),
            references: t.references.clone(),
            resolution: t.resolution,
        }
    }
    pub fn as_topic(&self) -> Topic<'_> {
        Topic {
            intent: self.intent.as_deref(),
            embedding: self.embedding.as_deref(),
            references: self.references.clone(),
            resolution: self.resolution,
            // Stored topics are earlier conversations, never the return being read.
            intent_confidence: None,
        }
    }
}

/// How a return is matched to an earlier conversation.
#[derive(Debug, Clone, Copy)]
pub enum ReopenRule<'a> {
    /// Any later conversation of the same customer.
    Any,
    SameIntent {
        topics: &'a [Topic<'a>],
        min_similarity: f32,
        follow_up_intents: &'a [String],
        follow_up_below_confidence: f64,
        next_steps: &'a [[String; 2]],
    },
}

/// Why B was linked to A, written to conversations.parquet as `reopen_reason` so a reviewer can
/// see the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReopenReason {
    AnyReturn,
    SameReference,
    SameIntent,
    SimilarText,
    NextStep,
    FollowUp,
}

impl ReopenReason {
    pub const ALL: [ReopenReason; 6] = [
        ReopenReason::AnyReturn,
        ReopenReason::SameReference,
        ReopenReason::SameIntent,
        ReopenReason::SimilarText,
        ReopenReason::NextStep,
        ReopenReason::FollowUp,
    ];

    pub fn parse(raw: &str) -> Option<ReopenReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReopenReason::AnyReturn => "any_return",
            ReopenReason::SameReference => "same_reference",
            ReopenReason::SameIntent => "same_intent",
            ReopenReason::SimilarText => "similar_text",
            ReopenReason::NextStep => "next_step",
            ReopenReason::FollowUp => "follow_up",
        }
    }
}

impl ReopenRule<'_> {
    /// Whether return `b` is about what `a` was about; strongest evidence first.
    fn matches(&self, a: usize, b: usize) -> Option<ReopenReason> {
        let ReopenRule::SameIntent {
            topics,
            min_similarity,
            follow_up_intents,
            follow_up_below_confidence,
            next_steps,
        } = self
        else {
            return Some(ReopenReason::AnyReturn);
        };
        let (ta, tb) = (&topics[a], &topics[b]);
        if ta.references.iter().any(|r| tb.references.contains(r)) {
            return Some(ReopenReason::SameReference);
        }
        // A return with nothing to solve ("makasih kemarin udah beres", a new price question)
        // after a conversation that was answered is not the earlier problem coming back. After a
        // deferred or unsolved close, the same question asked again is. On the corpus's train and
        // dev splits this removed 4 of 14 wrong links and none of 91 right ones.
        let answered = |t: &Topic| matches!(t.resolution, Some(ResolutionState::Solved | ResolutionState::Nothing));
        if tb.resolution == Some(ResolutionState::Nothing) && answered(ta) {
            return None;
        }
        if let (Some(ia), Some(ib)) = (ta.intent, tb.intent) {
            if ia == ib && ia != "other" {
                return Some(ReopenReason::SameIntent);
            }
        }
        if let (Some(ea), Some(eb)) = (ta.embedding, tb.embedding) {
            let cosine: f32 = ea.iter().zip(eb).map(|(x, y)| x * y).sum();
            if cosine >= *min_similarity {
                return Some(ReopenReason::SimilarText);
            }
        }
        // A return whose topic is unknown or a follow-up intent ("the issue from yesterday is
        // still not fixed") counts: FCR must not flatter when the model cannot tell. But only
        // after a close the resolution head read as open (deferred or unsolved, or unread): after
        // an answered close such a return was a new question. On the corpus's train and dev
        // splits all 8 right follow-up links came after a deferred or unsolved close, and 4 of
        // the 5 wrong ones after an answered one.
        if answered(ta) {
            return None;
        }
        // The problem moved on to its next step while left open: a refund asked for after a
        // double charge the agent only promised to check. On the corpus's train and dev splits
        // (the retired test splits included), unlinked returns after an open close with these
        // intent pairs were the same issue 7 times of 7; after an answered close, 1 of 4.
        if let (Some(ia), Some(ib)) = (ta.intent, tb.intent) {
            if next_steps.iter().any(|[a, b]| a == ia && b == ib) {
                return Some(ReopenReason::NextStep);
            }
        }
        match tb.intent {
            None => Some(ReopenReason::FollowUp),
            Some(ib) if follow_up_intents.iter().any(|f| f == ib) => Some(ReopenReason::FollowUp),
            // The model guessed: "kak ini aku lagi, masalah yg kemarin belum beres" read as
            // order_status at 0.29. On the corpus dev split, 0.5 raised recall 0.81 -> 0.94 and
            // lowered precision 0.88 -> 0.80 (0.4: no gain; 0.6: recall 1.00, precision 0.81).
            Some(_) if tb.intent_confidence.is_some_and(|c| c < *follow_up_below_confidence) => {
                Some(ReopenReason::FollowUp)
            }
            Some(_) => None,
        }
    }
}

/// Each conversation's topic from the enrichment (intent, embedding) and its customer messages.
pub fn conversation_topics<'a>(conversations: &[Conversation], enrichment: &'a Enrichment) -> Vec<Topic<'a>> {
    conversations
        .iter()
        .zip(&enrichment.intent)
        .zip(&enrichment.resolution)
        .map(|((conv, intent), resolution)| {
            let mut references: Vec<String> = conv
                .messages
                .iter()
                .filter(|m| m.role == Role::Customer)
                .filter_map(|m| m.text.as_deref())
                .flat_map(reference_numbers)
                .collect();
            references.sort();
            references.dedup();
            Topic {
                intent: intent.confidence.map(|_| intent.intent.as_str()),
                embedding: intent.text_slot.map(|i| enrichment.intent_embeddings[i].as_slice()),
                references,
                resolution: resolution.as_ref().map(|r| r.state()),
                intent_confidence: intent.confidence,
            }
        })
        .collect()
}

/// Each row's link outcome: reopened, reopen_of, reopen_reason, fcr and fcr_mature. A
/// reopen_of a row already has (an earlier night's, linked when it was tonight) is kept.
pub fn link_reopens(
    rows: &[ConversationRow],
    rule: &ReopenRule,
    settings: &Settings,
    as_of_us: i64,
    warnings: &mut Warnings,
) -> Vec<LinkOutcome> {
    let window = settings.reopen_window_us;
    // Split threads carry the customer in their thread id when no customer_id is given.
    let thread_is_customer = settings.session_gap_us.is_some();
    let mut by_customer: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let key = row.customer_id.clone().or_else(|| thread_is_customer.then(|| row.thread_id.clone()));
        match key {
            Some(k) => by_customer.entry(k).or_default().push(i),
            None => warnings.add(
                "no_customer_id",
                format!("{}: no customer_id, so reopens cannot be linked and FCR stays unknown", row.conversation_id),
            ),
        }
    }
    let mut reopened_flag = vec![false; rows.len()];
    let mut returns_to: Vec<(Option<String>, Option<&'static str>)> =
        rows.iter().map(|r| (r.link.reopen_of.clone(), r.link.reopen_reason)).collect();
    let mut linkable = vec![false; rows.len()];
    for idxs in by_customer.values() {
        for &i in idxs {
            linkable[i] = true;
        }
        // Resolved conversations of this customer by resolved_at (then id, for a stable tie).
        let mut resolved: Vec<usize> = idxs.iter().copied().filter(|&i| rows[i].is_resolved()).collect();
        resolved.sort_by(|&a, &b| {
            (rows[a].resolved_at_us, &rows[a].conversation_id).cmp(&(rows[b].resolved_at_us, &rows[b].conversation_id))
        });
        let resolved_at: Vec<i64> = resolved.iter().map(|&i| rows[i].resolved_at_us.expect("resolved")).collect();
        for &b in idxs {
            let created = rows[b].created_at_us;
            // Candidates A: created - window <= resolved_at < created, i.e. B starts inside A's
            // window. Every matching A is reopened; B records the most recently resolved one.
            let lo = resolved_at.partition_point(|&r| r < created - window);
            let hi = resolved_at.partition_point(|&r| r < created);
            for &a in resolved[lo..hi].iter().rev().filter(|&&a| a != b) {
                if let Some(reason) = rule.matches(a, b) {
                    reopened_flag[a] = true;
                    if returns_to[b].0.is_none() {
                        returns_to[b] = (Some(rows[a].conversation_id.clone()), Some(reason.as_str()));
                    }
                }
            }
        }
    }
    rows.iter()
        .zip(returns_to)
        .enumerate()
        .map(|(i, (row, (reopen_of, reopen_reason)))| {
            let mature = row.resolved_at_us.is_some_and(|r| as_of_us >= r + window) && linkable[i];
            LinkOutcome {
                reopened: mature.then_some(reopened_flag[i]),
                reopen_of,
                reopen_reason,
                fcr: mature.then_some(!reopened_flag[i]),
                fcr_mature: mature,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const H: i64 = 3_600_000_000;

    fn row(id: &str, customer: &str, created_h: i64, resolved_h: Option<i64>) -> ConversationRow {
        ConversationRow {
            conversation_id: id.into(),
            thread_id: id.into(),
            customer_id: Some(customer.into()),
            created_at_us: created_h * H,
            resolved_at_us: resolved_h.map(|r| r * H),
            ..Default::default()
        }
    }

    fn link(rows: &mut [ConversationRow], as_of_h: i64) {
        let settings = Config::default().validate().unwrap();
        let outcomes = link_reopens(rows, &ReopenRule::Any, &settings, as_of_h * H, &mut Warnings::default());
        for (row, outcome) in rows.iter_mut().zip(outcomes) {
            row.link = outcome;
        }
    }

    #[test]
    fn return_within_window_is_a_reopen_and_after_it_is_not() {
        let mut rows = vec![
            row("a", "c1", 0, Some(1)),
            row("b", "c1", 49, Some(50)),  // 48 h after a's resolution: inside (inclusive)
            row("c", "c1", 99, Some(100)), // 49 h after b's resolution: outside
        ];
        link(&mut rows, 1000);
        assert_eq!(rows[0].link.reopened, Some(true));
        assert_eq!(rows[0].link.fcr, Some(false));
        assert_eq!(rows[1].link.reopen_of.as_deref(), Some("a"));
        assert_eq!(rows[1].link.reopened, Some(false));
        assert_eq!(rows[1].link.fcr, Some(true));
        assert_eq!(rows[2].link.reopen_of, None);
    }

    #[test]
    fn immature_conversations_have_unknown_fcr() {
        let mut rows = vec![row("a", "c1", 0, Some(10)), row("b", "c1", 20, None)];
        link(&mut rows, 57); // a's window ends at 58 h
        assert!(!rows[0].link.fcr_mature);
        assert_eq!((rows[0].link.reopened, rows[0].link.fcr), (None, None));
        // The reopen itself is a fact about b and is recorded now.
        assert_eq!(rows[1].link.reopen_of.as_deref(), Some("a"));
        // Unresolved: never mature.
        assert_eq!((rows[1].link.fcr, rows[1].link.fcr_mature), (None, false));
        link(&mut rows, 58);
        assert_eq!((rows[0].link.reopened, rows[0].link.fcr, rows[0].link.fcr_mature), (Some(true), Some(false), true));
    }

    #[test]
    fn reopen_of_is_the_most_recently_resolved_and_other_customers_do_not_count() {
        let mut rows = vec![
            row("a", "c1", 0, Some(2)),
            row("b", "c1", 1, Some(3)),
            row("c", "c1", 4, Some(5)),
            row("x", "c2", 3, Some(4)),
        ];
        link(&mut rows, 1000);
        assert_eq!(rows[2].link.reopen_of.as_deref(), Some("b"));
        assert_eq!(rows[0].link.reopened, Some(true)); // c came within a's window too
        assert_eq!(rows[1].link.reopened, Some(true));
        assert_eq!(rows[3].link.reopened, Some(false));
        assert_eq!(rows[3].link.reopen_of, None);
    }

    #[test]
    fn a_conversation_starting_at_the_resolution_instant_is_not_a_reopen() {
        let mut rows = vec![row("a", "c1", 0, Some(5)), row("b", "c1", 5, Some(6))];
        link(&mut rows, 1000);
        assert_eq!(rows[0].link.reopened, Some(false));
        assert_eq!(rows[1].link.reopen_of, None);
    }

    fn topic<'a>(intent: Option<&'a str>, embedding: Option<&'a [f32]>, refs: &[&str]) -> Topic<'a> {
        Topic {
            intent,
            embedding,
            references: refs.iter().map(|r| r.to_string()).collect(),
            resolution: None,
            intent_confidence: None,
        }
    }

    #[test]
    fn same_intent_links_only_returns_about_the_same_thing() {
        let follow_up = vec!["other".to_string(), "complaint_service".to_string()];
        let (e1, e2, e3) = ([1.0f32, 0.0], [0.95f32, 0.312], [0.0f32, 1.0]);
        let topics = vec![
            topic(Some("order_status"), Some(&e1), &["INV/2026/123456"]),
            topic(Some("refund_return"), Some(&e3), &["INV/2026/123456"]), // same order
            topic(Some("order_status"), Some(&e3), &[]),                   // same intent
            topic(Some("refund_return"), Some(&e2), &[]),                  // near-identical text
            topic(Some("refund_return"), Some(&e3), &[]),                  // a new topic
            topic(Some("other"), Some(&e3), &[]),                          // "yang kemarin gimana?"
            topic(None, None, &[]),                                        // nothing substantive
            topic(Some("other"), Some(&e1), &[]),
        ];
        let rule = ReopenRule::SameIntent {
            topics: &topics,
            min_similarity: 0.92,
            follow_up_intents: &follow_up,
            follow_up_below_confidence: 0.0,
            next_steps: &[],
        };
        let reason = |a, b| rule.matches(a, b).map(ReopenReason::as_str);
        assert_eq!(reason(0, 1), Some("same_reference"));
        assert_eq!(reason(0, 2), Some("same_intent"));
        assert_eq!(reason(0, 3), Some("similar_text"));
        assert_eq!(reason(0, 4), None);
        assert_eq!(reason(0, 5), Some("follow_up"));
        assert_eq!(reason(0, 6), Some("follow_up"));
        // "other" on both sides is not a shared intent; the follow-up rule decides.
        let no_follow_up = ReopenRule::SameIntent {
            topics: &topics,
            min_similarity: 0.92,
            follow_up_intents: &[],
            follow_up_below_confidence: 0.0,
            next_steps: &[],
        };
        assert_eq!(no_follow_up.matches(5, 7), None);
        assert_eq!(ReopenRule::Any.matches(0, 4), Some(ReopenReason::AnyReturn));
    }

    #[test]
    fn a_return_with_nothing_to_solve_after_an_answered_close_is_not_a_reopen() {
        use ResolutionState::{Deferred, Nothing, Solved};
        let follow_up = vec!["other".to_string()];
        let e = [1.0f32, 0.0];
        fn read(mut t: Topic<'_>, state: ResolutionState) -> Topic<'_> {
            t.resolution = Some(state);
            t
        }
        let topics = vec![
            read(topic(Some("order_status"), Some(&e), &["INV/2026/123456"]), Solved),
            read(topic(Some("order_status"), Some(&e), &[]), Nothing), // same intent and text: a thank-you
            read(topic(Some("other"), None, &[]), Nothing),            // "makasih yg kemarin udah beres"
            read(topic(Some("order_status"), None, &["INV/2026/123456"]), Nothing), // the same order
            read(topic(Some("product_inquiry"), Some(&e), &[]), Deferred), // a question left open
            read(topic(Some("product_inquiry"), Some(&e), &[]), Nothing), // ... asked again, answered
            topic(Some("order_status"), Some(&e), &[]),                // no resolution head: unchanged
        ];
        let rule = ReopenRule::SameIntent {
            topics: &topics,
            min_similarity: 0.92,
            follow_up_intents: &follow_up,
            follow_up_below_confidence: 0.0,
            next_steps: &[],
        };
        assert_eq!(rule.matches(0, 1), None);
        assert_eq!(rule.matches(0, 2), None);
        assert_eq!(rule.matches(0, 3), Some(ReopenReason::SameReference));
        assert_eq!(rule.matches(4, 5), Some(ReopenReason::SameIntent), "after a deferral it is a return");
        assert_eq!(rule.matches(0, 6), Some(ReopenReason::SameIntent));
        assert_eq!(
            rule.matches(1, 0),
            Some(ReopenReason::SameIntent),
            "only a return with nothing to solve is dropped"
        );
    }

    #[test]
    fn a_vague_return_follows_up_only_a_close_read_as_open() {
        use ResolutionState::{Deferred, Nothing, Solved, Unsolved};
        let follow_up = vec!["other".to_string()];
        let with = |state: Option<ResolutionState>, intent| {
            let mut t = topic(Some(intent), None, &[]);
            t.resolution = state;
            t
        };
        let topics = vec![
            with(Some(Deferred), "delivery_problem"),
            with(Some(Unsolved), "technical_issue"),
            with(Some(Solved), "product_inquiry"),
            with(Some(Nothing), "product_inquiry"),
            with(None, "product_inquiry"), // no resolution head: as before
            with(Some(Unsolved), "other"), // the vague return: "masalah kemarin belum beres"
        ];
        let rule = ReopenRule::SameIntent {
            topics: &topics,
            min_similarity: 0.92,
            follow_up_intents: &follow_up,
            follow_up_below_confidence: 0.0,
            next_steps: &[],
        };
        assert_eq!(rule.matches(0, 5), Some(ReopenReason::FollowUp));
        assert_eq!(rule.matches(1, 5), Some(ReopenReason::FollowUp));
        assert_eq!(rule.matches(2, 5), None, "after a solved close it is a new question");
        assert_eq!(rule.matches(3, 5), None, "after an answered question too");
        assert_eq!(rule.matches(4, 5), Some(ReopenReason::FollowUp));
    }

    #[test]
    fn the_next_step_of_a_problem_left_open_is_a_reopen() {
        use ResolutionState::{Deferred, Solved, Unsolved};
        let with = |state: Option<ResolutionState>, intent| {
            let mut t = topic(Some(intent), None, &[]);
            t.resolution = state;
            t
        };
        let topics = vec![
            with(Some(Deferred), "payment_billing"), // "double charge, we'll check it"
            with(Some(Solved), "payment_billing"),   // the double charge was refunded on the spot
            with(Some(Unsolved), "order_status"),
            with(None, "order_status"), // no resolution head: read as open
            with(Some(Unsolved), "refund_return"),
            with(Some(Unsolved), "delivery_problem"),
            with(Some(Deferred), "refund_return"), // the return: "refund belum masuk"
            with(Some(Deferred), "delivery_problem"),
        ];
        let next_steps = Config::default().reopen_next_steps;
        let rule = ReopenRule::SameIntent {
            topics: &topics,
            min_similarity: 0.92,
            follow_up_intents: &[],
            follow_up_below_confidence: 0.0,
            next_steps: &next_steps,
        };
        assert_eq!(rule.matches(0, 6), Some(ReopenReason::NextStep));
        assert_eq!(rule.matches(1, 6), None, "after a solved close a refund request is a new issue");
        assert_eq!(rule.matches(2, 7), Some(ReopenReason::NextStep));
        assert_eq!(rule.matches(3, 6), Some(ReopenReason::NextStep));
        assert_eq!(rule.matches(4, 6), Some(ReopenReason::SameIntent), "the same intent comes first");
        assert_eq!(rule.matches(5, 6), Some(ReopenReason::NextStep));
        // Pairs are ordered: a status question after an open refund is not its next step.
        assert_eq!(rule.matches(4, 2), None);
        let off = ReopenRule::SameIntent {
            topics: &topics,
            min_similarity: 0.92,
            follow_up_intents: &[],
            follow_up_below_confidence: 0.0,
            next_steps: &[],
        };
        assert_eq!(off.matches(0, 6), None);
    }

    #[test]
    fn a_return_whose_intent_the_model_guesses_is_a_follow_up() {
        let mut guessed = topic(Some("order_status"), None, &[]);
        guessed.intent_confidence = Some(0.29);
        let mut sure = topic(Some("order_status"), None, &[]);
        sure.intent_confidence = Some(0.97);
        let topics = vec![topic(Some("cancellation"), None, &[]), guessed, sure];
        let rule = |below| ReopenRule::SameIntent {
            topics: &topics,
            min_similarity: 0.92,
            follow_up_intents: &[],
            follow_up_below_confidence: below,
            next_steps: &[],
        };
        assert_eq!(rule(0.5).matches(0, 1), Some(ReopenReason::FollowUp));
        assert_eq!(rule(0.5).matches(0, 2), None, "a confident new topic is not a return");
        assert_eq!(rule(0.0).matches(0, 1), None, "0 turns it off");
    }

    #[test]
    fn a_new_topic_does_not_reopen_but_a_later_same_topic_return_does() {
        let mut rows = vec![row("a", "c1", 0, Some(1)), row("b", "c1", 5, Some(6)), row("c", "c1", 10, Some(11))];
        let follow_up: Vec<String> = vec![];
        let topics = vec![
            topic(Some("order_status"), None, &[]),
            topic(Some("promo_voucher"), None, &[]),
            topic(Some("order_status"), None, &[]),
        ];
        let rule = ReopenRule::SameIntent {
            topics: &topics,
            min_similarity: 0.92,
            follow_up_intents: &follow_up,
            follow_up_below_confidence: 0.0,
            next_steps: &[],
        };
        let settings = Config::default().validate().unwrap();
        let outcomes = link_reopens(&rows, &rule, &settings, 1000 * H, &mut Warnings::default());
        for (row, outcome) in rows.iter_mut().zip(outcomes) {
            row.link = outcome;
        }
        assert_eq!(rows[1].link.reopen_of, None);
        // c skips the more recent b (another topic) and links to a.
        assert_eq!(rows[2].link.reopen_of.as_deref(), Some("a"));
        assert_eq!(rows[2].link.reopen_reason, Some("same_intent"));
        assert_eq!((rows[0].link.reopened, rows[1].link.reopened), (Some(true), Some(false)));
    }
}
