//! messages.parquet: every input message, normalised, with its turn and sentiment. `kpis` reads
//! its customer-message times back (store::read_customer_message_times).

use crate::enrich::MessageSentiment;
use crate::error::{Error, Result};
use crate::features::turn_indices;
use crate::model::Conversation;
use crate::write::TableBuilder;
use arrow::array::RecordBatch;

/// messages.parquet: the input columns, normalised role, a message_id for every row
/// (`<conversation_id>-<n>` where the input had none), the turn index, and for customer messages
/// with text the sentiment label, its three probabilities and its score (positive - negative).
pub fn to_batch(
    conversations: &[Conversation],
    sentiment: Option<&Vec<Vec<Option<MessageSentiment>>>>,
    redact: bool,
) -> Result<RecordBatch> {
    let msgs: Vec<_> = conversations.iter().flat_map(|c| c.messages.iter().enumerate()).collect();
    let turns: Vec<u32> = conversations.iter().flat_map(|c| turn_indices(&c.messages)).collect();
    let mut t = TableBuilder::new();
    t.str("conversation_id", msgs.iter().map(|(_, m)| Some(&m.conversation_id)));
    t.str("thread_id", msgs.iter().map(|(_, m)| Some(&m.thread_id)));
    t.str("message_id", msgs.iter().map(|(i, m)| Some(m.output_id(*i))));
    t.ts("sent_at", msgs.iter().map(|(_, m)| Some(m.sent_at_us)));
    t.str("sender_role", msgs.iter().map(|(_, m)| Some(m.role.as_str())));
    if redact {
        t.str("text", msgs.iter().map(|(_, m)| m.text.as_deref().map(|x| crate::redact::redact(x).text)));
    } else {
        t.str("text", msgs.iter().map(|(_, m)| m.text.as_deref()));
    }
    t.str("customer_id", msgs.iter().map(|(_, m)| m.customer_id.as_deref()));
    t.str("channel", msgs.iter().map(|(_, m)| m.channel.as_deref()));
    t.str("agent_id", msgs.iter().map(|(_, m)| m.agent_id.as_deref()));
    t.bool("is_auto_reply", msgs.iter().map(|(_, m)| Some(m.is_auto_reply)));
    t.u32("turn_index", turns);
    let sent: Vec<Option<MessageSentiment>> = match sentiment {
        Some(s) => s.iter().flatten().copied().collect(),
        None => vec![None; msgs.len()],
    };
    if sent.len() != msgs.len() {
        return Err(Error::internal(format!("{} sentiment rows for {} messages", sent.len(), msgs.len())));
    }
    t.str("sentiment", sent.iter().map(|s| s.map(|s| s.label)));
    t.f64("sentiment_negative", sent.iter().map(|s| s.map(|s| s.probabilities[0] as f64)));
    t.f64("sentiment_neutral", sent.iter().map(|s| s.map(|s| s.probabilities[1] as f64)));
    t.f64("sentiment_positive", sent.iter().map(|s| s.map(|s| s.probabilities[2] as f64)));
    t.f64("sentiment_score", sent.iter().map(|s| s.map(|s| s.score as f64)));
    t.str("sentiment_source", sent.iter().map(|s| s.map(|s| s.source)));
    t.finish()
}
