//! Stage 2, assemble conversations: drop duplicate deliveries, group messages by conversation,
//! sort them in time, split endless threads into sessions, and attach conversations-table rows.

use std::collections::{BTreeMap, HashMap};

use crate::config::Settings;
use crate::ingest::{ConversationsInput, MessagesInput};
use crate::manifest::{RowAccounting, Warnings};
use crate::model::{Conversation, ConversationRecord, Message, QuarantineReason, QuarantinedRow, RowRef};
use crate::timefmt::format_us;

#[derive(Debug, Default)]
pub struct Assembled {
    /// Sorted by conversation_id; messages inside each sorted by (sent_at, input position).
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
        msgs.sort_by_key(|m| (m.sent_at_us, m.source));
        match split_gap {
            Some(gap) => {
                for (n, session) in split_sessions(msgs, gap).into_iter().enumerate() {
                    let id = format!("{thread_id}#{}", n + 1);
                    let session = session.into_iter().map(|m| Message { conversation_id: id.clone(), ..m }).collect();
                    by_id.insert(id.clone(), Conversation { conversation_id: id, thread_id: thread_id.clone(), messages: session, record: None });
                }
            }
            None => {
                by_id.insert(thread_id.clone(), Conversation { conversation_id: thread_id.clone(), thread_id, messages: msgs, record: None });
            }
        }
    }
    let messages_used: u64 = by_id.values().map(|c| c.messages.len() as u64).sum();
    let messages_rows = RowAccounting {
        rows_in: messages_in.rows_in,
        rows_used: messages_used,
        rows_quarantined: message_rows_quarantined_at_read + conflicts_n,
        duplicates_dropped,
    };

    let conversations_rows = conversations_in.map(|conv_in| {
        let mut acc = RowAccounting { rows_in: conv_in.rows_in, rows_quarantined: conv_in.quarantined.len() as u64, ..Default::default() };
        quarantined.extend(conv_in.quarantined);
        attach_records(&mut by_id, conv_in.records, &mut quarantined, &mut acc, warnings);
        acc
    });

    for conv in by_id.values() {
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

/// Keeps the first delivery of each message_id. A later row with the same id and the same
/// content is a redelivery (webhooks retry) and is dropped; one with different content is a
/// conflict and goes to quarantine, since we cannot know which is right.
fn drop_duplicates(messages: Vec<Message>) -> (Vec<Message>, u64, Vec<QuarantinedRow>) {
    let mut first_by_id: HashMap<String, usize> = HashMap::new();
    let mut kept: Vec<Message> = Vec::with_capacity(messages.len());
    let mut dropped = 0u64;
    let mut conflicts = Vec::new();
    for m in messages {
        if let Some(id) = &m.message_id {
            if let Some(&i) = first_by_id.get(id) {
                let first = &kept[i];
                let same = first.conversation_id == m.conversation_id
                    && first.sent_at_us == m.sent_at_us
                    && first.role == m.role
                    && first.text == m.text;
                if same {
                    dropped += 1;
                } else {
                    conflicts.push(QuarantinedRow {
                        table: "messages",
                        source: m.source,
                        reason: QuarantineReason::DuplicateMessageIdConflict,
                        detail: format!(
                            "message_id {id:?} already used by input row {} of file #{} with different content",
                            first.source.row, first.source.file
                        ),
                        conversation_id: Some(m.conversation_id.clone()),
                        message_id: Some(id.clone()),
                        sent_at_raw: Some(format_us(m.sent_at_us)),
                        sender_role_raw: Some(m.role.as_str().to_string()),
                        text: m.text.clone(),
                    });
                }
                continue;
            }
            first_by_id.insert(id.clone(), kept.len());
        }
        kept.push(m);
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
    use crate::model::Role;

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
        let conflict = Message { source: RowRef { file: 0, row: 2 }, text: Some("other".into()), ..a.clone() };
        let (kept, dropped, q) = drop_duplicates(vec![a, redelivered, conflict]);
        assert_eq!((kept.len(), dropped, q.len()), (1, 1, 1));
        assert_eq!(q[0].reason, QuarantineReason::DuplicateMessageIdConflict);
    }

    #[test]
    fn sessions_split_only_on_gaps_longer_than_the_setting() {
        let msgs = vec![
            msg("t", 0, Role::Customer, None, 0),
            msg("t", 3600, Role::Agent, None, 1),   // exactly the gap: same session
            msg("t", 7201, Role::Customer, None, 2), // 1 h + 1 s later: new session
        ];
        let s = split_sessions(msgs, 3_600_000_000);
        assert_eq!(s.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1]);
    }
}
