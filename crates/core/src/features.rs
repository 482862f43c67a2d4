//! Stage 3, per-conversation features: every timing and outcome KPI of one conversation,
//! exactly as docs/kpis.md defines them. Pure functions of one conversation, the settings and
//! as_of, so they run in parallel and are tested one definition at a time.

use std::collections::HashMap;

use crate::config::Settings;
use crate::model::Status;
use crate::model::{Conversation, Message, Role};
use crate::row::{ConversationRow, ResolvedBy};

fn secs(from_us: i64, to_us: i64) -> f64 {
    (to_us - from_us) as f64 / 1e6
}

/// Computes every per-conversation KPI. `conv.messages` must be sorted by time (assemble does).
pub const CSAT_SURVEY: &str = "survey";
pub const CSAT_CHAT: &str = "chat";

/// The `csat_source` value as stored (outputs read back by `convoqa kpis`).
pub fn csat_source_name(stored: &str) -> Option<&'static str> {
    [CSAT_SURVEY, CSAT_CHAT].into_iter().find(|s| *s == stored)
}

pub fn conversation_features(conv: &Conversation, settings: &Settings, as_of_us: i64) -> ConversationRow {
    let msgs = &conv.messages;
    let rec = conv.record.as_ref();
    let first_at = msgs.first().map_or(0, |m| m.sent_at_us);
    let last_at = msgs.last().map_or(0, |m| m.sent_at_us);
    let created_at_us = rec.and_then(|r| r.created_at_us).unwrap_or(first_at);

    let first_customer = msgs.iter().position(|m| m.role == Role::Customer);
    let first_after = |start: usize, pred: &dyn Fn(&Message) -> bool| msgs[start + 1..].iter().find(|m| pred(m));
    let (frt_total_s, frt_human_s, first_human_after_customer) = match first_customer {
        Some(c) => {
            let t0 = msgs[c].sent_at_us;
            let total = first_after(c, &Message::is_reply).map(|m| secs(t0, m.sent_at_us));
            let human = first_after(c, &Message::is_human_reply);
            (total, human.map(|m| secs(t0, m.sent_at_us)), human.map(|m| m.sent_at_us))
        }
        None => (None, None, None),
    };

    let had_bot = msgs.iter().any(|m| m.role == Role::Bot && !m.is_auto_reply);
    let first_real_bot = msgs.iter().position(|m| m.role == Role::Bot && !m.is_auto_reply);
    let handover_reply = first_real_bot.and_then(|b| (b + 1..msgs.len()).find(|&j| msgs[j].is_human_reply()));
    let handed_over = handover_reply.is_some();
    let frt_handover_s = handover_reply.and_then(|h| {
        msgs[..h].iter().rev().find(|m| m.role == Role::Bot).map(|b| secs(b.sent_at_us, msgs[h].sent_at_us))
    });

    let turns = customer_turns(msgs);
    let answered: Vec<f64> = turns.iter().filter_map(|t| t.response_s).collect();
    let avg_response_s = (!answered.is_empty()).then(|| answered.iter().sum::<f64>() / answered.len() as f64);
    let unanswered_turns = turns.iter().filter(|t| t.response_s.is_none()).count() as u64;
    let unanswered = turns.last().is_some_and(|t| t.response_s.is_none());

    let (resolved_at_us, resolved_by) = resolution(conv, settings, as_of_us, last_at);
    let resolution_s = resolved_at_us.map(|r| secs(created_at_us, r));

    let human: Vec<&Message> = msgs.iter().filter(|m| m.is_human_reply()).collect();
    let handle_s = match (human.first(), human.last()) {
        (Some(a), Some(b)) => {
            let extra = rec.map_or(0.0, |r| r.hold_s.unwrap_or(0.0) + r.after_work_s.unwrap_or(0.0));
            Some(secs(a.sent_at_us, b.sent_at_us) + extra)
        }
        _ => None,
    };
    let status = rec.and_then(|r| r.status);
    let last_non_system = msgs.iter().rev().find(|m| m.role != Role::System);
    let bot_contained = had_bot
        && human.is_empty()
        && (status.is_some_and(Status::is_done) || last_non_system.is_some_and(|m| m.role != Role::Customer));

    let channel = conv.channel().map(str::to_string);
    let team = conv.team().map(str::to_string);
    let (frt_human_bh_s, resolution_bh_s) = match &settings.business_hours {
        Some(bh) => {
            let schedule = bh.schedule_for(channel.as_deref(), team.as_deref());
            let frt = first_customer
                .zip(first_human_after_customer)
                .map(|(c, h)| schedule.business_seconds(msgs[c].sent_at_us, h));
            let res = resolved_at_us.map(|r| schedule.business_seconds(created_at_us, r));
            (frt, res)
        }
        None => (None, None),
    };
    let sla_s = settings.sla_s(channel.as_deref());
    let sla_basis = if settings.business_hours.is_some() { frt_human_bh_s } else { frt_human_s };
    let within_sla = first_customer.map(|_| sla_basis.is_some_and(|v| v <= sla_s));
    let (csat_score, csat_source) = match rec.and_then(|r| r.csat_score) {
        Some(survey) => (Some(survey), Some(CSAT_SURVEY)),
        None => match crate::context::chat_rating(&crate::context::rule_readings(msgs)) {
            Some(rating) => (Some(rating as f64), Some(CSAT_CHAT)),
            None => (None, None),
        },
    };

    ConversationRow {
        conversation_id: conv.conversation_id.clone(),
        thread_id: conv.thread_id.clone(),
        customer_id: conv.customer_id().map(str::to_string),
        channel,
        team,
        status,
        created_at_us,
        first_message_at_us: first_at,
        last_message_at_us: last_at,
        resolved_at_us,
        resolved_by,
        messages: msgs.len() as u64,
        customer_messages: msgs.iter().filter(|m| m.role == Role::Customer).count() as u64,
        human_replies: human.len() as u64,
        bot_messages: msgs.iter().filter(|m| m.role == Role::Bot).count() as u64,
        frt_total_s,
        frt_human_s,
        frt_handover_s,
        avg_response_s,
        answered_turns: answered.len() as u64,
        unanswered_turns,
        unanswered,
        resolution_s,
        handle_s,
        frt_human_bh_s,
        resolution_bh_s,
        had_bot,
        handed_over,
        bot_contained,
        primary_agent_id: primary_agent(&human),
        csat_score,
        csat_source,
        nps_score: rec.and_then(|r| r.nps_score),
        ces_score: rec.and_then(|r| r.ces_score),
        sla_s,
        within_sla,
        // The later stages' parts, empty until their stages run.
        link: Default::default(),
        reading: Default::default(),
        risk_signals: Default::default(),
        risk: Default::default(),
    }
}

/// resolved_at and how it was decided; (None, None) when the conversation is not resolved.
fn resolution(
    conv: &Conversation,
    settings: &Settings,
    as_of_us: i64,
    last_at: i64,
) -> (Option<i64>, Option<ResolvedBy>) {
    let rec = conv.record.as_ref();
    match (rec.and_then(|r| r.status), rec.and_then(|r| r.resolved_at_us)) {
        (Some(s), resolved_at) if s.is_done() => (Some(resolved_at.unwrap_or(last_at)), Some(ResolvedBy::Status)),
        (Some(_), _) => (None, None),
        (None, Some(r)) => (Some(r), Some(ResolvedBy::ResolvedAt)),
        (None, None) => {
            if as_of_us - last_at >= settings.inactivity_close_us {
                (Some(last_at), Some(ResolvedBy::Inactivity))
            } else {
                (None, None)
            }
        }
    }
}

/// The agent with the most human replies; a tie goes to the one who replied first.
fn primary_agent(human: &[&Message]) -> Option<String> {
    let mut counts: HashMap<&str, (u64, usize)> = HashMap::new();
    for (i, m) in human.iter().enumerate() {
        if let Some(a) = m.agent_id.as_deref() {
            let e = counts.entry(a).or_insert((0, i));
            e.0 += 1;
        }
    }
    counts.into_iter().max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1))).map(|(agent, _)| agent.to_string())
}

/// A customer turn: a maximal run of customer messages once system messages and auto-replies
/// are set aside; its response time runs from its first message to the message after the run.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerTurn {
    pub first_index: usize,
    pub response_s: Option<f64>,
}

pub fn customer_turns(msgs: &[Message]) -> Vec<CustomerTurn> {
    let seq: Vec<(usize, &Message)> =
        msgs.iter().enumerate().filter(|(_, m)| m.role != Role::System && !m.is_auto_reply).collect();
    let mut turns = Vec::new();
    let mut i = 0;
    while i < seq.len() {
        if seq[i].1.role != Role::Customer {
            i += 1;
            continue;
        }
        let start = i;
        while i < seq.len() && seq[i].1.role == Role::Customer {
            i += 1;
        }
        let response_s = seq.get(i).map(|(_, next)| secs(seq[start].1.sent_at_us, next.sent_at_us));
        turns.push(CustomerTurn { first_index: seq[start].0, response_s });
    }
    turns
}

/// turn_index for each message: the number of customer turns begun up to and including it, so
/// a reply carries the index of the turn it answers; messages before any customer turn get 0.
pub fn turn_indices(msgs: &[Message]) -> Vec<u32> {
    let starts: std::collections::HashSet<usize> = customer_turns(msgs).iter().map(|t| t.first_index).collect();
    let mut n = 0u32;
    (0..msgs.len())
        .map(|i| {
            if starts.contains(&i) {
                n += 1;
            }
            n
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::{ConversationRecord, RowRef};

    const MIN: i64 = 60;

    fn m(t_s: i64, role: Role) -> Message {
        Message {
            conversation_id: "c".into(),
            thread_id: "c".into(),
            message_id: None,
            sent_at_us: t_s * 1_000_000,
            role,
            text: Some("x".into()),
            customer_id: Some("cust".into()),
            channel: Some("whatsapp".into()),
            agent_id: None,
            is_auto_reply: false,
            source: RowRef { file: 0, row: t_s as u64 },
        }
    }
    fn auto(mut msg: Message) -> Message {
        msg.is_auto_reply = true;
        msg
    }
    fn by(mut msg: Message, agent: &str) -> Message {
        msg.agent_id = Some(agent.into());
        msg
    }
    fn conv(messages: Vec<Message>, record: Option<ConversationRecord>) -> Conversation {
        Conversation { conversation_id: "c".into(), thread_id: "c".into(), messages, record }
    }
    fn features(c: &Conversation, as_of_s: i64) -> ConversationRow {
        conversation_features(c, &Config::default().validate().unwrap(), as_of_s * 1_000_000)
    }

    #[test]
    fn frt_total_counts_auto_replies_and_frt_human_does_not() {
        let c = conv(vec![m(100, Role::Customer), auto(m(102, Role::Bot)), m(400, Role::Agent)], None);
        let f = features(&c, 1000);
        assert_eq!(f.frt_total_s, Some(2.0));
        assert_eq!(f.frt_human_s, Some(300.0));
    }

    #[test]
    fn frt_starts_at_first_customer_message_and_ignores_earlier_replies() {
        // An outbound template before the customer writes is not a response.
        let c =
            conv(vec![m(0, Role::Agent), m(100, Role::Customer), m(160, Role::Customer), m(250, Role::Agent)], None);
        let f = features(&c, 1000);
        assert_eq!(f.frt_total_s, Some(150.0));
        assert_eq!(f.frt_human_s, Some(150.0));
    }

    #[test]
    fn frt_human_is_null_without_a_human_reply_and_auto_agent_messages_are_not_human() {
        let c = conv(vec![m(0, Role::Customer), auto(m(5, Role::Agent)), m(9, Role::Bot)], None);
        let f = features(&c, 1000);
        assert_eq!(f.frt_total_s, Some(5.0));
        assert_eq!(f.frt_human_s, None);
        assert_eq!(f.handle_s, None);
    }

    #[test]
    fn handover_wait_runs_from_the_last_bot_message_before_the_human() {
        let c = conv(
            vec![
                m(0, Role::Customer),
                auto(m(1, Role::Bot)),
                m(10, Role::Bot),
                m(20, Role::Customer),
                auto(m(30, Role::Bot)), // "connecting you to an agent": last bot message
                m(30 + 7 * MIN, Role::Agent),
            ],
            None,
        );
        let f = features(&c, 100_000);
        assert!(f.had_bot && f.handed_over && !f.bot_contained);
        assert_eq!(f.frt_handover_s, Some(420.0));
    }

    #[test]
    fn an_auto_reply_bot_alone_is_not_had_bot() {
        let c = conv(vec![m(0, Role::Customer), auto(m(1, Role::Bot)), m(60, Role::Agent)], None);
        let f = features(&c, 1000);
        assert!(!f.had_bot && !f.handed_over);
        assert_eq!(f.frt_handover_s, None);
    }

    #[test]
    fn avg_response_uses_turns_without_system_and_auto_replies() {
        let c = conv(
            vec![
                m(0, Role::Customer),
                m(10, Role::Customer),
                auto(m(11, Role::Bot)), // skipped: auto-reply
                m(12, Role::System),    // skipped
                m(40, Role::Agent),     // turn 1: 40 s from its first message
                m(100, Role::Customer),
                m(120, Role::Agent),    // turn 2: 20 s
                m(200, Role::Customer), // turn 3: unanswered
            ],
            None,
        );
        let f = features(&c, 1000);
        assert_eq!(f.avg_response_s, Some(30.0));
        assert_eq!((f.answered_turns, f.unanswered_turns), (2, 1));
        assert!(f.unanswered);
        assert_eq!(turn_indices(&c.messages), vec![1, 1, 1, 1, 1, 2, 2, 3]);
    }

    #[test]
    fn resolution_uses_the_table_when_given() {
        let rec = ConversationRecord {
            conversation_id: "c".into(),
            status: Some(Status::Resolved),
            created_at_us: Some(-60 * 1_000_000),
            resolved_at_us: Some(500 * 1_000_000),
            hold_s: Some(30.0),
            after_work_s: Some(15.0),
            ..Default::default()
        };
        let c = conv(vec![m(0, Role::Customer), by(m(60, Role::Agent), "a"), by(m(120, Role::Agent), "a")], Some(rec));
        let f = features(&c, 1000);
        assert_eq!(f.resolution_s, Some(560.0));
        assert_eq!(f.resolved_by, Some(ResolvedBy::Status));
        assert_eq!(f.handle_s, Some(60.0 + 45.0));
    }

    #[test]
    fn resolved_status_without_resolved_at_uses_last_message() {
        let rec =
            ConversationRecord { conversation_id: "c".into(), status: Some(Status::Closed), ..Default::default() };
        let c = conv(vec![m(0, Role::Customer), m(60, Role::Agent), m(90, Role::Customer)], Some(rec));
        assert_eq!(features(&c, 100).resolution_s, Some(90.0));
    }

    #[test]
    fn open_status_is_not_resolved() {
        let rec = ConversationRecord {
            conversation_id: "c".into(),
            status: Some(Status::Open),
            resolved_at_us: Some(1),
            ..Default::default()
        };
        let c = conv(vec![m(0, Role::Customer)], Some(rec));
        assert_eq!(features(&c, 10_000_000).resolved_at_us, None);
    }

    #[test]
    fn without_a_table_inactivity_resolves_after_the_configured_hours() {
        let c = conv(vec![m(0, Role::Customer), m(60, Role::Agent)], None);
        let day = 24 * 3600;
        assert_eq!(features(&c, 60 + day - 1).resolved_at_us, None);
        let f = features(&c, 60 + day);
        assert_eq!(f.resolved_at_us, Some(60_000_000));
        assert_eq!(f.resolved_by, Some(ResolvedBy::Inactivity));
    }

    #[test]
    fn primary_agent_has_most_replies_and_ties_go_to_the_earliest() {
        let c = conv(
            vec![
                m(0, Role::Customer),
                by(m(1, Role::Agent), "b"),
                by(m(2, Role::Agent), "a"),
                by(m(3, Role::Agent), "a"),
            ],
            None,
        );
        assert_eq!(features(&c, 10).primary_agent_id.as_deref(), Some("a"));
        let tie = conv(vec![m(0, Role::Customer), by(m(1, Role::Agent), "b"), by(m(2, Role::Agent), "a")], None);
        assert_eq!(features(&tie, 10).primary_agent_id.as_deref(), Some("b"));
    }

    #[test]
    fn bot_containment_needs_no_human_and_a_done_status_or_last_word_not_the_customers() {
        let contained = conv(vec![m(0, Role::Customer), m(1, Role::Bot), m(2, Role::System)], None);
        assert!(features(&contained, 10).bot_contained);
        let abandoned = conv(vec![m(0, Role::Customer), m(1, Role::Bot), m(5, Role::Customer)], None);
        assert!(!features(&abandoned, 10).bot_contained);
        let rec =
            ConversationRecord { conversation_id: "c".into(), status: Some(Status::Resolved), ..Default::default() };
        let closed = conv(vec![m(0, Role::Customer), m(1, Role::Bot), m(5, Role::Customer)], Some(rec));
        assert!(features(&closed, 10).bot_contained);
    }

    #[test]
    fn sla_counts_only_conversations_with_a_customer_message() {
        let fast = conv(vec![m(0, Role::Customer), m(300, Role::Agent)], None);
        assert_eq!(features(&fast, 1000).within_sla, Some(true)); // whatsapp: 300 s inclusive
        let slow = conv(vec![m(0, Role::Customer), m(301, Role::Agent)], None);
        assert_eq!(features(&slow, 1000).within_sla, Some(false));
        let outbound = conv(vec![m(0, Role::Agent)], None);
        assert_eq!(features(&outbound, 1000).within_sla, None);
    }
}
