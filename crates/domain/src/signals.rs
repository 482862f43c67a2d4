//! The risk signals of one conversation: what each is, and its value with the message that shows
//! it. A domain type at the bottom of the crate: `score` computes the signals and fits and
//! applies the risk models on them, `features` carries them on the per-conversation row, `store`
//! reads them back.

use serde::{Deserialize, Serialize};

/// The signals, in model order; each is 0 when absent.
pub const SIGNALS: [Signal; 14] = [
    Signal::NegativeEnd,
    Signal::SentimentDrop,
    Signal::UnaddressedNegative,
    Signal::Unanswered,
    Signal::LongWait,
    Signal::BotLoop,
    Signal::RepeatedQuestion,
    Signal::GreetingOnlyFirstReply,
    Signal::ClosedWithoutConfirmation,
    Signal::DeferredResolution,
    Signal::SlowForIntent,
    Signal::RepeatContact,
    Signal::ReadAsDeferred,
    Signal::ReadAsUnsolved,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Signal {
    /// The last labelled customer message is negative (0/1).
    NegativeEnd,
    /// Sentiment fell from start to end: max(0, -trend), 0..2.
    SentimentDrop,
    /// Negative customer messages after the last agent reply (capped at 3).
    UnaddressedNegative,
    /// The last customer turn got no reply (0/1).
    Unanswered,
    /// The longest wait for a reply (a customer turn's, or for the first human), log2(1 + hours).
    LongWait,
    /// The bot repeated itself, or the customer asked for a human (0/1).
    BotLoop,
    /// The customer asked the same thing again (messages with 3+ content words and the same
    /// text; count, capped at 3).
    RepeatedQuestion,
    /// The first human reply only greets or asks to wait (0/1).
    GreetingOnlyFirstReply,
    /// Resolved, and the customer never confirmed after the last agent reply (0/1).
    ClosedWithoutConfirmation,
    /// The last agent reply hands the issue on ("diteruskan ke tim terkait", "1x24 jam",
    /// "we'll get back to you"): closed, not solved (0/1).
    DeferredResolution,
    /// Resolution time over its intent's median, log2 of the ratio, 0..3.
    SlowForIntent,
    /// The customer's other conversations in the 7 days before this one (capped at 3).
    RepeatContact,
    /// The resolution head's probability that the close handed the problem on (a promise, a
    /// ticket, "mohon ditunggu 1x24 jam"), 0..1; 0 without the head.
    ReadAsDeferred,
    /// The resolution head's probability that the close left the problem open with no promise
    /// (unanswered, troubleshooting without a fix, a canned answer), 0..1; 0 without the head.
    ReadAsUnsolved,
}

impl Signal {
    /// Its column in conversations.parquet: `signal_negative_end`, ...
    pub fn column(self) -> String {
        format!("signal_{}", self.code().to_ascii_lowercase())
    }

    pub fn from_code(code: &str) -> Option<Signal> {
        SIGNALS.iter().copied().find(|s| s.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            Signal::NegativeEnd => "NEGATIVE_END",
            Signal::SentimentDrop => "SENTIMENT_DROP",
            Signal::UnaddressedNegative => "UNADDRESSED_NEGATIVE",
            Signal::Unanswered => "UNANSWERED",
            Signal::LongWait => "LONG_WAIT",
            Signal::BotLoop => "BOT_LOOP",
            Signal::RepeatedQuestion => "REPEATED_QUESTION",
            Signal::GreetingOnlyFirstReply => "GREETING_ONLY_FIRST_REPLY",
            Signal::ClosedWithoutConfirmation => "CLOSED_WITHOUT_CONFIRMATION",
            Signal::DeferredResolution => "DEFERRED_RESOLUTION",
            Signal::SlowForIntent => "SLOW_FOR_INTENT",
            Signal::RepeatContact => "REPEAT_CONTACT",
            Signal::ReadAsDeferred => "READ_AS_DEFERRED",
            Signal::ReadAsUnsolved => "READ_AS_UNSOLVED",
        }
    }
}

/// Signal values of one conversation, in SIGNALS order, and for each the message that shows it
/// (an index into the conversation's messages) where one does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskSignals {
    pub values: [f64; 14],
    /// u32: a conversation has fewer messages, and a row is kept per conversation.
    evidence: [Option<u32>; 14],
}

fn position(s: Signal) -> usize {
    SIGNALS.iter().position(|&x| x == s).expect("listed")
}

impl RiskSignals {
    pub fn get(&self, s: Signal) -> f64 {
        self.values[position(s)]
    }
    pub fn evidence(&self, s: Signal) -> Option<usize> {
        self.evidence[position(s)].map(|i| i as usize)
    }
    pub fn set(&mut self, s: Signal, v: f64) {
        self.values[position(s)] = v;
    }
    pub fn set_evidence(&mut self, s: Signal, message: Option<usize>) {
        self.evidence[position(s)] = message.map(|i| u32::try_from(i).unwrap_or(u32::MAX));
    }
    pub fn set_with(&mut self, s: Signal, v: f64, message: Option<usize>) {
        self.values[position(s)] = v;
        self.evidence[position(s)] = message.map(|i| u32::try_from(i).unwrap_or(u32::MAX));
    }
}
