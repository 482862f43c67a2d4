//! Stage 2, assemble conversations: drop duplicate deliveries, group messages by conversation,
//! sort them in time, split endless threads into sessions, and attach conversations-table rows.

use std::collections::{BTreeMap, HashMap};

use crate::config::Settings;
use crate::diagnostics::{RowAccounting, Warnings};
use crate::input::{ConversationsInput, MessagesInput};
use crate::model::{Conversation, ConversationRecord, Message, QuarantineReason, QuarantinedRow, Role, RowRef};
use crate::timefmt::format_us;

#[derive(Debug, Default)]
pub struct Assembled {
    /// Sorted by conversation_id; messages inside each in `message_order`.
    pub conversations: Vec<Conversation>,
    pub quarantined: Vec<QuarantinedRow>,
    pub messages_rows: RowAccounting,
    pub conversations_rows: Option<RowAccounting>,
}

pub fn assemble(
    messages_in: MessagesInput,
    conversations_in: Option<ConversationsInput>,
    settings: &Settings,
    warnings: &mut Warnings,
) -> Assembled {
    let mut quarantined = messages_in.quarantined;
    let message_rows_quarantined_at_read = quarantined.len() as u64;
    let (messages, duplicates_dropped, conflicts) = drop_duplicates(messages_in.messages);
    let conflicts_n = conflicts.len() as u64;
    quarantined.extend(conflicts);

    // Group by the input conversation id (the thread).
    let mut threads: HashMap<String, Vec<Message>> = HashMap::new();
    for m in messages {
        threads.entry(m.thread_id.clone()).or_default().push(m);
    }
    let has_table = conversations_in.is_some();
    let split_gap = if has_table { None } else { settings.session_gap_us };
    let mut by_id: BTreeMap<String, Conversation> = BTreeMap::new();
    for (thread_id, mut msgs) in threads {
        msgs.sort_by(message_order);
        match split_gap {
            Some(gap) => {
                for (n, session) in split_sessions(msgs, gap).into_iter().enumerate() {
                    let id = format!("{thread_id}#{}", n + 1);
                    let session = session.into_iter().map(|m| Message { conversation_id: id.clone(), ..m }).collect();
                    by_id.insert(
                        id.clone(),
                        Conversation {
                            conversation_id: id,
                            thread_id: thread_id.clone(),
                            messages: session,
                            record: None,
                        },
                    );
                }
            }
            None => {
                by_id.insert(
                    thread_id.clone(),
                    Conversation { conversation_id: thread_id.clone(), thread_id, messages: msgs, record: None },
                );
            }
        }
    }
    let messages_used: u64 = by_id.values().map(|c| c.messages.len() as u64).sum();
    let messages_rows = RowAccounting {
        rows_in: messages_in.rows_in,
        rows_used: messages_used,
        rows_quarantined: message_rows_quarantined_at_read + conflicts_n,
        duplicates_dropped,
        rows_other_shards: messages_in.rows_other_shards,
        rows_other_days: 0,
    };

    let conversations_rows = conversations_in.map(|conv_in| {
        let mut acc = RowAccounting {
            rows_in: conv_in.rows_in,
            rows_quarantined: conv_in.quarantined.len() as u64,
            rows_other_shards: conv_in.rows_other_shards,
            ..Default::default()
        };
        quarantined.extend(conv_in.quarantined);
        attach_records(&mut by_id, conv_in.records, &mut quarantined, &mut acc, warnings);
        acc
    });

    for conv in by_id.values() {
        // A reply before the customer's first message means the timestamps run backwards (an
        // importer lost a sign, a clock was off) or [roles] is wrong; FRT then counts from the
        // first customer message only. Outbound templates also start this way: a warning, not an
        // error. Judged on the sorted messages, so it does not depend on row order.
        let first = conv.messages.iter().find(|m| m.role != Role::System);
        if let Some(first) = first.filter(|m| m.role != Role::Customer) {
            if conv.messages.iter().any(|m| m.role == Role::Customer) {
                warnings.add(
                    "first_message_not_customer",
                    format!(
                        "{}: the first message is the {}'s, at {}, before the customer's first; if the customer wrote first, the export's timestamps or [roles] are off",
                        conv.conversation_id,
                        first.role.as_str(),
                        format_us(first.sent_at_us)
                    ),
                );
            }
        }
        if let Some(created) = conv.record.as_ref().and_then(|r| r.created_at_us) {
            let early = conv.messages.iter().filter(|m| m.sent_at_us < created).count();
            for _ in 0..early {
                warnings.add(
                    "message_before_created_at",
                    format!("{}: a message precedes created_at {}", conv.conversation_id, format_us(created)),
                );
            }
        }
    }

    Assembled { conversations: by_id.into_values().collect(), quarantined, messages_rows, conversations_rows }
}

/// The order of a conversation's messages: by time, and at the same timestamp by content, never
/// by input position, so the outputs depend on the set of input rows and not on how files were
/// listed or rows shuffled. Within one timestamp the customer comes first (a reply stamped in the
/// same second as the question answers it), then agent, bot, system; then message_id and text.
/// The input position only orders rows identical in everything the outputs show.
fn message_order(a: &Message, b: &Message) -> std::cmp::Ordering {
    fn key(m: &Message) -> (i64, Role, Option<&str>, Option<&str>, Option<&str>, bool, Option<&str>, Option<&str>) {
        (
            m.sent_at_us,
            m.role,
            m.message_id.as_deref(),
            m.text.as_deref(),
            m.agent_id.as_deref(),
            m.is_auto_reply,
            m.channel.as_deref(),
            m.customer_id.as_deref(),
        )
    }
    key(a).cmp(&key(b)).then(a.source.cmp(&b.source))
}

/// Keeps one delivery of each message_id within its conversation (thread). Rows with the same id
/// and the same content (time, role, text) are deliveries of one message (webhooks retry): one is
/// kept, the others dropped and counted. Rows with the same id and other content are conflicts:
/// the content delivered most often is kept (ties: the first in `message_order`), the others go
/// to quarantine, since we cannot know which is right. The choice never depends on row order.
/// Ids are scoped by conversation because live-chat exports number messages per conversation,
/// and because a shard (customer) must be able to decide alone.
fn drop_duplicates(messages: Vec<Message>) -> (Vec<Message>, u64, Vec<QuarantinedRow>) {
    // Only rows whose id occurs more than once need deciding; they are set apart and grouped.
    // Ids are counted by hash: a collision only sets a few more rows apart.
    let id_hash =
        |m: &Message| m.message_id.as_deref().map(|id| crate::text::stable_hash(&format!("{}\u{1f}{id}", m.thread_id)));
    let mut id_counts: HashMap<u64, u32> = HashMap::new();
    for h in messages.iter().filter_map(id_hash) {
        *id_counts.entry(h).or_default() += 1;
    }
    let (mut shared_id, mut kept): (Vec<Message>, Vec<Message>) =
        messages.into_iter().partition(|m| id_hash(m).is_some_and(|h| id_counts[&h] > 1));
    shared_id.sort_by(|a, b| {
        (&a.thread_id, &a.message_id).cmp(&(&b.thread_id, &b.message_id)).then_with(|| message_order(a, b))
    });

    let same_content = |a: &Message, b: &Message| a.sent_at_us == b.sent_at_us && a.role == b.role && a.text == b.text;
    let mut dropped = 0u64;
    let mut conflicts = Vec::new();
    for rows in shared_id.chunk_by(|a, b| (&a.thread_id, &a.message_id) == (&b.thread_id, &b.message_id)) {
        // Content groups, in message_order of their first row; the largest wins, the first on ties.
        let mut groups: Vec<Vec<&Message>> = Vec::new();
        for m in rows {
            match groups.iter_mut().find(|g| same_content(g[0], m)) {
                Some(g) => g.push(m),
                None => groups.push(vec![m]),
            }
        }
        let winner = (0..groups.len()).max_by_key(|&i| (groups[i].len(), std::cmp::Reverse(i))).expect("a group");
        let first = groups[winner][0];
        dropped += groups[winner].len() as u64 - 1;
        for m in groups.iter().enumerate().filter(|(i, _)| *i != winner).flat_map(|(_, g)| g) {
            let id = m.message_id.clone().expect("only rows with an id share one");
            conflicts.push(QuarantinedRow {
                table: "messages",
                source: m.source,
                reason: QuarantineReason::DuplicateMessageIdConflict,
                detail: format!(
                    "message_id {id:?} already used by input row {} of file #{} with different content",
                    first.source.row, first.source.file
                ),
                conversation_id: Some(m.conversation_id.clone()),
                message_id: Some(id),
                sent_at_raw: Some(format_us(m.sent_at_us)),
                sender_role_raw: Some(m.role.as_str().to_string()),
                text: m.text.clone(),
            });
        }
        kept.push(first.clone());
    }
    (kept, dropped, conflicts)
}

/// Splits time-sorted messages wherever consecutive messages are more than `gap_us` apart.
pub fn split_sessions(msgs: Vec<Message>, gap_us: i64) -> Vec<Vec<Message>> {
    let mut sessions: Vec<Vec<Message>> = Vec::new();
    for m in msgs {
        let new_session = match sessions.last().and_then(|s| s.last()) {
            Some(prev) => m.sent_at_us - prev.sent_at_us > gap_us,
            None => true,
        };
        if new_session {
            sessions.push(Vec::new());
        }
        sessions.last_mut().expect("a session").push(m);
    }
    sessions
}

fn attach_records(
    by_id: &mut BTreeMap<String, Conversation>,
    records: Vec<(ConversationRecord, RowRef)>,
    quarantined: &mut Vec<QuarantinedRow>,
    acc: &mut RowAccounting,
    warnings: &mut Warnings,
) {
    for (rec, source) in records {
        let reject = |reason: QuarantineReason, detail: String, rec: &ConversationRecord| QuarantinedRow {
            table: "conversations",
            source,
            reason,
            detail,
            conversation_id: Some(rec.conversation_id.clone()),
            message_id: None,
            sent_at_raw: rec.created_at_us.map(format_us),
            sender_role_raw: None,
            text: None,
        };
        match by_id.get_mut(&rec.conversation_id) {
            None => {
                quarantined.push(reject(
                    QuarantineReason::ConversationWithoutMessages,
                    "no message in the messages input has this conversation_id".into(),
                    &rec,
                ));
                acc.rows_quarantined += 1;
            }
            Some(conv) if conv.record.is_some() => {
                quarantined.push(reject(
                    QuarantineReason::DuplicateConversationRow,
                    "an earlier conversations row has the same conversation_id".into(),
                    &rec,
                ));
                acc.rows_quarantined += 1;
            }
            Some(conv) => {
                conv.record = Some(rec);
                acc.rows_used += 1;
            }
        }
    }
    for conv in by_id.values() {
        if conv.record.is_none() {
            warnings.add(
                "conversation_not_in_conversations_table",
                format!("{}: messages but no conversations row; status inferred from inactivity", conv.conversation_id),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn msg(conv: &str, t_s: i64, role: Role, id: Option<&str>, row: u64) -> Message {
        Message {
            conversation_id: conv.into(),
            thread_id: conv.into(),
            message_id: id.map(String::from),
            sent_at_us: t_s * 1_000_000,
            role,
            text: Some(format!("text {row}")),
            customer_id: Some("c1".into()),
            channel: None,
            agent_id: None,
            is_auto_reply: false,
            source: RowRef { file: 0, row },
        }
    }

    #[test]
    fn redelivery_is_dropped_and_conflict_is_quarantined() {
        let a = msg("x", 10, Role::Customer, Some("m1"), 0);
        let redelivered = Message { source: RowRef { file: 0, row: 1 }, ..a.clone() };
        // The same id a second later with other text: the earlier row is kept, this one conflicts.
        let conflict = Message {
            source: RowRef { file: 0, row: 2 },
            sent_at_us: a.sent_at_us + 1_000_000,
            text: Some("other".into()),
            ..a.clone()
        };
        let (kept, dropped, q) = drop_duplicates(vec![conflict, a, redelivered]);
        assert_eq!((kept.len(), dropped, q.len()), (1, 1, 1));
        assert_eq!(q[0].source.row, 2);
        assert_eq!(q[0].reason, QuarantineReason::DuplicateMessageIdConflict);
    }

    #[test]
    fn which_duplicate_is_kept_does_not_depend_on_row_order() {
        let a = msg("x", 10, Role::Customer, Some("m1"), 0);
        let b = Message { source: RowRef { file: 0, row: 1 }, text: Some("a different text".into()), ..a.clone() };
        let (kept_ab, _, q_ab) = drop_duplicates(vec![a.clone(), b.clone()]);
        let (kept_ba, _, q_ba) = drop_duplicates(vec![b, a]);
        assert_eq!(kept_ab[0].text, kept_ba[0].text);
        assert_eq!(q_ab[0].source, q_ba[0].source);
    }

    #[test]
    fn same_second_messages_are_ordered_by_content_not_input_position() {
        let customer = msg("x", 10, Role::Customer, None, 5);
        let bot = msg("x", 10, Role::Bot, None, 1);
        let agent = msg("x", 10, Role::Agent, None, 3);
        let mut one = vec![bot.clone(), customer.clone(), agent.clone()];
        let mut other = vec![agent, bot, customer];
        one.sort_by(message_order);
        other.sort_by(message_order);
        let roles = |v: &[Message]| v.iter().map(|m| m.role).collect::<Vec<_>>();
        assert_eq!(roles(&one), vec![Role::Customer, Role::Agent, Role::Bot]);
        assert_eq!(roles(&one), roles(&other));
    }

    #[test]
    fn sessions_split_only_on_gaps_longer_than_the_setting() {
        let msgs = vec![
            msg("t", 0, Role::Customer, None, 0),
            msg("t", 3600, Role::Agent, None, 1),    // exactly the gap: same session
            msg("t", 7201, Role::Customer, None, 2), // 1 h + 1 s later: new session
        ];
        let s = split_sessions(msgs, 3_600_000_000);
        assert_eq!(s.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1]);
    }
}
