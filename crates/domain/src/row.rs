//! One conversation's row, the domain type every stage after assembly adds its typed part to,
//! and those parts. At the bottom of the crate: it imports no stage.

use crate::model::Status;
use crate::signals::RiskSignals;

/// How a conversation's resolution was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedBy {
    /// The conversations table says resolved or closed.
    Status,
    /// No status, but the conversations table gives resolved_at.
    ResolvedAt,
    /// No status: quiet for inactivity_close_hours by as_of.
    Inactivity,
}

impl ResolvedBy {
    pub fn parse(raw: &str) -> Option<ResolvedBy> {
        [ResolvedBy::Status, ResolvedBy::ResolvedAt, ResolvedBy::Inactivity].into_iter().find(|r| r.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedBy::Status => "status",
            ResolvedBy::ResolvedAt => "resolved_at",
            ResolvedBy::Inactivity => "inactivity",
        }
    }
}

/// One row of conversations.parquet: the features stage's KPIs, then one typed part per later
/// stage (the model's reading, the link outcome, the risk signals, the risk outcome). Each stage
/// computes its part from what came before without changing it; the run puts it in place.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationRow {
    pub conversation_id: String,
    pub thread_id: String,
    pub customer_id: Option<String>,
    pub channel: Option<String>,
    pub team: Option<String>,
    pub status: Option<Status>,
    pub created_at_us: i64,
    pub first_message_at_us: i64,
    pub last_message_at_us: i64,
    pub resolved_at_us: Option<i64>,
    pub resolved_by: Option<ResolvedBy>,
    pub messages: u64,
    pub customer_messages: u64,
    pub human_replies: u64,
    pub bot_messages: u64,
    pub frt_total_s: Option<f64>,
    pub frt_human_s: Option<f64>,
    pub frt_handover_s: Option<f64>,
    pub avg_response_s: Option<f64>,
    pub answered_turns: u64,
    pub unanswered_turns: u64,
    pub unanswered: bool,
    pub resolution_s: Option<f64>,
    pub handle_s: Option<f64>,
    pub frt_human_bh_s: Option<f64>,
    pub resolution_bh_s: Option<f64>,
    pub had_bot: bool,
    pub handed_over: bool,
    pub bot_contained: bool,
    pub primary_agent_id: Option<String>,
    pub csat_score: Option<f64>,
    /// Where csat_score came from: "survey" (the conversations table) or "chat" (the customer's
    /// answer to a rating prompt in the chat, used only where the survey has none).
    pub csat_source: Option<&'static str>,
    pub nps_score: Option<f64>,
    pub ces_score: Option<f64>,
    pub sla_s: f64,
    /// None when the conversation has no customer message (not in the service-level base).
    pub within_sla: Option<bool>,
    /// The link stage's outcome.
    pub link: LinkOutcome,
    /// The enrich stage's reading; all None without the model.
    pub reading: ModelReading,
    /// The signals stage's output (score::SIGNALS; SLOW_FOR_INTENT is set with the run's intent
    /// norms at scoring), kept for explanation and for rescoring merged shards; evidence indices
    /// only live within a run.
    pub risk_signals: RiskSignals,
    /// The score stage's outcome.
    pub risk: RiskOutcome,
}

/// What the model read in one conversation (enrich).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelReading {
    pub sentiment: ConversationSentiment,
    pub intent: Option<String>,
    pub intent_confidence: Option<f64>,
    /// Was it solved, read from the closing exchange (heads::resolution); None without the
    /// model or the resolution head.
    pub resolution_state: Option<ResolutionState>,
    pub resolution_confidence: Option<f64>,
}

/// How a conversation ended, read from its words: the resolution head's four labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResolutionState {
    /// The problem was fixed, or the customer got what they needed.
    Solved,
    /// Handed on: a promise, an ETA to wait for, a ticket, an escalation.
    Deferred,
    /// Left open with no promise: unanswered, troubleshooting without a fix, a canned answer.
    Unsolved,
    /// Nothing to fix: information given and acknowledged, greetings, spam.
    Nothing,
}

impl ResolutionState {
    /// In the head's label order.
    pub const ALL: [ResolutionState; 4] =
        [ResolutionState::Solved, ResolutionState::Deferred, ResolutionState::Unsolved, ResolutionState::Nothing];

    pub fn parse(raw: &str) -> Option<ResolutionState> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionState::Solved => "solved",
            ResolutionState::Deferred => "deferred",
            ResolutionState::Unsolved => "unsolved",
            ResolutionState::Nothing => "nothing",
        }
    }

    /// Deferred and unsolved closes leave the customer's problem open.
    pub fn leaves_problem_open(self) -> bool {
        matches!(self, ResolutionState::Deferred | ResolutionState::Unsolved)
    }
}

/// Conversation-level sentiment from its customer messages' scores, in time order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ConversationSentiment {
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub trend: Option<f64>,
    /// The last labelled customer message was negative: the customer left unhappy.
    pub ends_negative: Option<bool>,
}

/// Whether a conversation came back (link): None until its reopen window has passed by as_of.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinkOutcome {
    pub reopened: Option<bool>,
    /// The earlier conversation this one returns to.
    pub reopen_of: Option<String>,
    /// Why reopen_of was linked (link::ReopenReason), e.g. "same_reference".
    pub reopen_reason: Option<&'static str>,
    pub fcr: Option<bool>,
    pub fcr_mature: bool,
}

/// The risk models' outputs (score): probability of a 1-3 star rating, and for resolved
/// conversations of a return about the same issue; reason codes largest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskOutcome {
    pub low_csat_risk: Option<f64>,
    pub low_csat_reasons: Vec<&'static str>,
    pub false_fcr_risk: Option<f64>,
    pub false_fcr_reasons: Vec<&'static str>,
    /// For each reason, the index (into the conversation's messages) of the message showing it.
    pub evidence: Vec<(&'static str, usize)>,
}

impl ConversationRow {
    pub fn is_resolved(&self) -> bool {
        self.resolved_at_us.is_some()
    }
}
