//! The types that flow between stages. Times are microseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Agent,
    Bot,
    System,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Customer, Role::Agent, Role::Bot, Role::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
            Role::Bot => "bot",
            Role::System => "system",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Resolved,
    Closed,
    Open,
    Pending,
}

impl Status {
    pub fn parse(raw: &str) -> Option<Status> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "resolved" | "solved" => Some(Status::Resolved),
            "closed" => Some(Status::Closed),
            "open" | "new" => Some(Status::Open),
            "pending" | "on_hold" | "hold" => Some(Status::Pending),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Open => "open",
            Status::Pending => "pending",
        }
    }

    pub fn is_done(self) -> bool {
        matches!(self, Status::Resolved | Status::Closed)
    }
}

/// Where an input row came from: index into the run's input file list, and row number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowRef {
    pub file: u32,
    pub row: u64,
}

/// One valid message row.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Conversation id after session splitting (`<thread>#<n>`), else the input id.
    pub conversation_id: String,
    /// The input's conversation_id (the thread, for split WhatsApp threads).
    pub thread_id: String,
    pub message_id: Option<String>,
    pub sent_at_us: i64,
    pub role: Role,
    pub text: Option<String>,
    pub customer_id: Option<String>,
    pub channel: Option<String>,
    pub agent_id: Option<String>,
    pub is_auto_reply: bool,
    pub source: RowRef,
}

impl Message {
    /// A message for unit tests (of this crate and the ones above it): `role` says `text` at
    /// `sent_at_us` in conversation `id`.
    #[doc(hidden)]
    pub fn for_test(id: &str, sent_at_us: i64, role: Role, text: &str) -> Message {
        Message {
            conversation_id: id.into(),
            thread_id: id.into(),
            message_id: None,
            sent_at_us,
            role,
            text: Some(text.into()),
            customer_id: Some("u".into()),
            channel: Some("whatsapp".into()),
            agent_id: (role == Role::Agent).then(|| "a".into()),
            is_auto_reply: false,
            source: RowRef { file: 0, row: 0 },
        }
    }
}

impl Message {
    /// The id written to messages.parquet: the input's, or `<conversation_id>-<n>` (1-based
    /// position in the conversation) where the input had none.
    pub fn output_id(&self, index: usize) -> String {
        self.message_id.clone().unwrap_or_else(|| format!("{}-{}", self.conversation_id, index + 1))
    }

    /// A human reply: an agent message that is not an auto-reply.
    pub fn is_human_reply(&self) -> bool {
        self.role == Role::Agent && !self.is_auto_reply
    }

    /// A reply: any bot or agent message, auto-replies included.
    pub fn is_reply(&self) -> bool {
        matches!(self.role, Role::Agent | Role::Bot)
    }
}

/// One valid row of the optional conversations table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationRecord {
    pub conversation_id: String,
    pub customer_id: Option<String>,
    pub channel: Option<String>,
    pub status: Option<Status>,
    pub created_at_us: Option<i64>,
    pub resolved_at_us: Option<i64>,
    pub csat_score: Option<f64>,
    pub nps_score: Option<f64>,
    pub ces_score: Option<f64>,
    pub hold_s: Option<f64>,
    pub after_work_s: Option<f64>,
    pub team: Option<String>,
    /// The e-mail or ticket subject line: the customer's own summary of the need.
    pub subject: Option<String>,
}

/// A conversation: its messages in time order and its conversations-table row, if any.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub conversation_id: String,
    pub thread_id: String,
    pub messages: Vec<Message>,
    pub record: Option<ConversationRecord>,
}

impl Conversation {
    pub fn customer_id(&self) -> Option<&str> {
        self.record
            .as_ref()
            .and_then(|r| r.customer_id.as_deref())
            .or_else(|| self.messages.iter().find_map(|m| m.customer_id.as_deref()))
    }

    pub fn channel(&self) -> Option<&str> {
        self.record
            .as_ref()
            .and_then(|r| r.channel.as_deref())
            .or_else(|| self.messages.iter().find_map(|m| m.channel.as_deref()))
    }

    pub fn team(&self) -> Option<&str> {
        self.record.as_ref().and_then(|r| r.team.as_deref())
    }
}

/// Why a row went to quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    NullConversationId,
    NullSentAt,
    UnparsableTimestamp,
    NullSenderRole,
    UnknownRole,
    DuplicateMessageIdConflict,
    ConversationWithoutMessages,
    DuplicateConversationRow,
}

impl QuarantineReason {
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineReason::NullConversationId => "null_conversation_id",
            QuarantineReason::NullSentAt => "null_sent_at",
            QuarantineReason::UnparsableTimestamp => "unparsable_timestamp",
            QuarantineReason::NullSenderRole => "null_sender_role",
            QuarantineReason::UnknownRole => "unknown_role",
            QuarantineReason::DuplicateMessageIdConflict => "duplicate_message_id_conflict",
            QuarantineReason::ConversationWithoutMessages => "conversation_without_messages",
            QuarantineReason::DuplicateConversationRow => "duplicate_conversation_row",
        }
    }
}

/// A row that could not be used, kept with its reason and its raw values as text.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantinedRow {
    /// "messages" or "conversations".
    pub table: &'static str,
    pub source: RowRef,
    pub reason: QuarantineReason,
    pub detail: String,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub sent_at_raw: Option<String>,
    pub sender_role_raw: Option<String>,
    pub text: Option<String>,
}
