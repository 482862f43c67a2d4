//! Stage 5, score: before the survey goes out and before the reopen window matures, the risk
//! that a conversation gets a 1-3 star rating (low_csat_risk) and, for resolved ones, that the
//! customer comes back about the same issue (false_fcr_risk), each with the reason codes that
//! drove it.
//!
//! The model is a logistic regression over the explainable signals below, plus an offset for
//! the conversation's intent and channel: a conversation's contribution from each signal is its
//! coefficient x its value, and the largest positive contributions become its reasons. The
//! built-in coefficients are set by reasoning, not fitted (see [`RiskModel::default_low_csat`]);
//! `convoqa train risk` ([`train`]) fits them on a team's own history and `[risk] model` in the
//! config makes `analyze` use the result.

pub mod calibrate;
pub mod eval;
pub mod fit;
pub mod split_fit;
pub mod train;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::error::{Error, Result};

use serde::{Deserialize, Serialize};

use crate::enrich::MessageSentiment;
use crate::features::customer_turns;
use crate::heads::intent::is_substantive;
use crate::heads::resolution::Resolution;
use crate::model::{Conversation, Role};
use crate::row::{ConversationRow, ResolutionState, RiskOutcome};
use crate::text::inference_key;

pub use crate::signals::{RiskSignals, Signal, SIGNALS};

const HUMAN_ASK: [&str; 10] = [
    "agen",
    "agent",
    "manusia",
    "human",
    "operator",
    "orang asli",
    "cs nya",
    "real person",
    "bicara dengan",
    "talk to",
];
const CONFIRM: [&str; 14] = [
    "makasih",
    "terima kasih",
    "trims",
    "thx",
    "thanks",
    "thank",
    "sudah bisa",
    "udah bisa",
    "berhasil",
    "beres",
    "works",
    "solved",
    "oke",
    "ok",
];
const DEFER: [&str; 14] = [
    "diteruskan",
    "teruskan",
    "tim terkait",
    "1x24",
    "2x24",
    "3x24",
    "akan kami hubungi",
    "akan menghubungi",
    "eskalasi",
    "escalat",
    "forwarded",
    "get back to you",
    "follow up",
    "mohon ditunggu kabar",
];
const GREETING_WORDS: [&str; 36] = [
    "halo", "hai", "hi", "hello", "kak", "selamat", "pagi", "siang", "sore", "malam", "dengan", "saya", "di", "sini",
    "mohon", "maaf", "menunggu", "ditunggu", "tunggu", "sebentar", "ya", "baik", "terima", "kasih", "telah", "this",
    "is", "wait", "please", "sorry", "for", "the", "thanks", "a", "moment", "hold",
];

fn contains_any(text: &str, words: &[&str]) -> bool {
    let t = text.to_lowercase();
    words.iter().any(|w| t.contains(w))
}

/// A reply that only greets, apologises or asks to wait ("Halo kak, dengan Ayu, mohon ditunggu
/// ya"): every word a greeting word but at most one (the agent's name).
fn greeting_only(text: &str) -> bool {
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let unknown = words.iter().filter(|w| !GREETING_WORDS.contains(&w.as_str())).count();
    !words.is_empty() && words.len() <= 12 && unknown <= 1
}

/// Words that carry content: not greetings, politeness or pleas for help.
fn content_words(text: &str) -> usize {
    const FILLER: [&str; 24] = [
        "iya", "ya", "kak", "min", "tolong", "dibantu", "bantu", "bantuin", "please", "help", "dong", "ok", "oke",
        "halo", "hi", "hello", "makasih", "terima", "kasih", "thanks", "thank", "you", "ada", "orang",
    ];
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !FILLER.contains(&w.to_lowercase().as_str()))
        .count()
}

/// Everything the signals need besides the conversation itself. SLOW_FOR_INTENT is not here: it
/// compares with every conversation of the intent, so [`score_conversations`] sets it once all
/// rows are known (in one run, or over merged shards).
pub struct SignalContext<'a> {
    pub sentiment: Option<&'a [Option<MessageSentiment>]>,
    /// The resolution head's reading of the close, when it ran.
    pub resolution: Option<&'a Resolution>,
    pub recent_contacts: u32,
}

/// SLOW_FOR_INTENT: log2 of resolution over its intent's median, 0..3.
pub fn slow_for_intent(resolution_s: f64, intent_median_s: f64) -> f64 {
    if intent_median_s > 0.0 {
        (resolution_s / intent_median_s).log2().clamp(0.0, 3.0)
    } else {
        0.0
    }
}

pub fn risk_signals(conv: &Conversation, row: &ConversationRow, ctx: &SignalContext) -> RiskSignals {
    let mut s = RiskSignals::default();
    let msgs = &conv.messages;
    let is_agent = |i: usize| msgs[i].role == Role::Agent && !msgs[i].is_auto_reply;
    let last_agent = (0..msgs.len()).rev().find(|&i| is_agent(i));

    let labelled = |i: usize| ctx.sentiment.and_then(|s| s.get(i).copied().flatten());
    // Evidence of a feeling quotes only messages the model read: a menu choice, an id or a
    // rating decided by a context rule is never shown to a reviewer as the customer's mood.
    let read_by_model = |i: usize| labelled(i).filter(|m| m.source == MessageSentiment::MODEL);
    let last_read = (0..msgs.len()).rev().find(|&i| read_by_model(i).is_some());
    let last_negative_read = (0..msgs.len()).rev().find(|&i| read_by_model(i).is_some_and(|m| m.label == "negative"));
    let last_customer = (0..msgs.len()).rev().find(|&i| msgs[i].role == Role::Customer);
    if row.reading.sentiment.ends_negative == Some(true) {
        s.set_with(Signal::NegativeEnd, 1.0, last_negative_read);
    }
    if let Some(trend) = row.reading.sentiment.trend {
        s.set_with(Signal::SentimentDrop, (-trend).clamp(0.0, 2.0), last_read);
    }
    let after = last_agent.map_or(0, |i| i + 1);
    let unaddressed: Vec<usize> =
        (after..msgs.len()).filter(|&i| labelled(i).is_some_and(|m| m.label == "negative")).collect();
    let first_unaddressed_read = unaddressed.iter().copied().find(|&i| read_by_model(i).is_some());
    s.set_with(Signal::UnaddressedNegative, unaddressed.len().min(3) as f64, first_unaddressed_read);
    if row.unanswered {
        s.set_with(Signal::Unanswered, 1.0, last_customer);
    }
    // A bot's instant answer is not help: the first human reply's wait counts too.
    let turns = customer_turns(msgs);
    let longest_turn = turns
        .iter()
        .filter(|t| t.response_s.is_some())
        .max_by(|a, b| a.response_s.partial_cmp(&b.response_s).expect("finite"));
    let first_customer = msgs.iter().position(|m| m.role == Role::Customer);
    let (longest_wait_s, waited) = match (longest_turn, row.frt_human_s) {
        (Some(t), Some(h)) if h > t.response_s.unwrap_or(0.0) => (h, first_customer),
        (Some(t), _) => (t.response_s.unwrap_or(0.0), Some(t.first_index)),
        (None, Some(h)) => (h, first_customer),
        (None, None) => (0.0, None),
    };
    s.set_with(Signal::LongWait, (1.0 + longest_wait_s / 3600.0).log2(), waited);

    let text = |i: usize| msgs[i].text.as_deref().unwrap_or("");
    let mut bot_seen: HashMap<&str, usize> = HashMap::new();
    let mut bot_repeat = None;
    for i in (0..msgs.len()).filter(|&i| msgs[i].role == Role::Bot && !msgs[i].is_auto_reply) {
        let n = bot_seen.entry(text(i)).or_default();
        *n += 1;
        if *n == 2 && bot_repeat.is_none() {
            bot_repeat = Some(i);
        }
    }
    let customer: Vec<usize> =
        (0..msgs.len()).filter(|&i| msgs[i].role == Role::Customer && msgs[i].text.is_some()).collect();
    let asked_for_human =
        row.had_bot.then(|| customer.iter().copied().find(|&i| contains_any(text(i), &HUMAN_ASK))).flatten();
    if let Some(i) = asked_for_human.or(bot_repeat) {
        s.set_with(Signal::BotLoop, 1.0, Some(i));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let (mut repeats, mut first_repeat) = (0usize, None);
    // Fillers ("iya kak, tolong dibantu ya") repeat by nature; a question restated has content.
    for &i in customer.iter().filter(|&&i| is_substantive(text(i)) && content_words(text(i)) >= 3) {
        let n = seen.entry(inference_key(text(i))).or_default();
        *n += 1;
        if *n >= 2 {
            repeats += 1;
            first_repeat.get_or_insert(i);
        }
    }
    s.set_with(Signal::RepeatedQuestion, repeats.min(3) as f64, first_repeat);

    if let Some(first_human) = (0..msgs.len()).find(|&i| is_agent(i)) {
        if msgs[first_human].text.as_deref().is_some_and(greeting_only) {
            s.set_with(Signal::GreetingOnlyFirstReply, 1.0, Some(first_human));
        }
    }
    if row.is_resolved() {
        let confirmed = last_agent.is_some_and(|i| {
            msgs[i + 1..]
                .iter()
                .any(|m| m.role == Role::Customer && m.text.as_deref().is_some_and(|t| contains_any(t, &CONFIRM)))
        });
        if last_agent.is_some() && !confirmed {
            s.set_with(Signal::ClosedWithoutConfirmation, 1.0, last_agent);
        }
    }
    if last_agent.is_some_and(|i| contains_any(text(i), &DEFER)) {
        s.set_with(Signal::DeferredResolution, 1.0, last_agent);
    }
    s.set(Signal::RepeatContact, ctx.recent_contacts.min(3) as f64);
    if let Some(r) = ctx.resolution {
        s.set_with(Signal::ReadAsDeferred, r.probability(ResolutionState::Deferred), r.decided_by);
        s.set_with(Signal::ReadAsUnsolved, r.probability(ResolutionState::Unsolved), r.decided_by);
    }
    s
}

/// A logistic model over the signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskModel {
    pub name: String,
    pub intercept: f64,
    pub weights: Vec<(Signal, f64)>,
    /// Log-odds added for a category of the conversation ("intent=refund", "channel=email");
    /// categories not listed add nothing. Empty in the built-in models.
    #[serde(default)]
    pub offsets: BTreeMap<String, f64>,
    /// Where the coefficients come from, for the card.
    pub source: String,
    /// Platt scaling fitted on data the coefficients were not fitted on; None = the logistic
    /// model's own probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<calibrate::Platt>,
}

/// The categories a risk model may offset: the conversation's intent and channel.
pub fn category_keys(row: &ConversationRow) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    if let Some(i) = &row.reading.intent {
        keys.push(format!("intent={i}"));
    }
    if let Some(c) = &row.channel {
        keys.push(format!("channel={c}"));
    }
    keys
}

/// A score and the signals that pushed it up most.
#[derive(Debug, Clone, PartialEq)]
pub struct Risk {
    pub probability: f64,
    pub reasons: Vec<Signal>,
}

impl RiskModel {
    /// Low-CSAT risk, coefficients by reasoning (log-odds): a base rate near 12% of 1-3 star
    /// ratings; an unhappy last word and an unanswered turn weigh most (customers rate the
    /// ending), then waiting, bot loops and having to repeat oneself; closing without the
    /// customer's confirmation and a hand-off to "the team" weigh like one more hour of waiting.
    pub fn default_low_csat() -> RiskModel {
        RiskModel {
            name: "low_csat (built-in)".into(),
            intercept: -2.0,
            weights: vec![
                (Signal::NegativeEnd, 1.6),
                (Signal::SentimentDrop, 0.6),
                (Signal::UnaddressedNegative, 0.8),
                (Signal::Unanswered, 1.2),
                (Signal::LongWait, 0.5),
                (Signal::BotLoop, 0.8),
                (Signal::RepeatedQuestion, 0.7),
                (Signal::GreetingOnlyFirstReply, 0.3),
                (Signal::ClosedWithoutConfirmation, 0.5),
                (Signal::DeferredResolution, 0.9),
                (Signal::SlowForIntent, 0.4),
                (Signal::RepeatContact, 0.5),
            ],
            offsets: BTreeMap::new(),
            source: "set by reasoning (src/score/mod.rs), not fitted".into(),
            calibration: None,
        }
    }

    /// False-FCR risk for resolved conversations, by reasoning: a base rate near 10% of
    /// returns; a hand-off to another team ("1x24 jam") and a close the customer never
    /// confirmed are the strongest signs the issue is still open, then an unhappy ending,
    /// repeated questions and customers who already came back recently.
    pub fn default_false_fcr() -> RiskModel {
        RiskModel {
            name: "false_fcr (built-in)".into(),
            intercept: -2.2,
            weights: vec![
                (Signal::NegativeEnd, 0.9),
                (Signal::SentimentDrop, 0.3),
                (Signal::UnaddressedNegative, 0.6),
                (Signal::Unanswered, 0.8),
                (Signal::LongWait, 0.1),
                (Signal::BotLoop, 0.4),
                (Signal::RepeatedQuestion, 0.6),
                (Signal::GreetingOnlyFirstReply, 0.1),
                (Signal::ClosedWithoutConfirmation, 0.9),
                (Signal::DeferredResolution, 1.8),
                (Signal::SlowForIntent, 0.2),
                (Signal::RepeatContact, 0.7),
            ],
            offsets: BTreeMap::new(),
            source: "set by reasoning (src/score/mod.rs), not fitted".into(),
            calibration: None,
        }
    }

    /// Probability and up to three reasons: the signals contributing at least 0.3 log-odds,
    /// largest first.
    /// `categories` are the conversation's [`category_keys`]; their offsets shift the base rate
    /// but are not reasons (an intent is not something a reviewer can fix).
    pub fn score(&self, signals: &RiskSignals, categories: &[String]) -> Risk {
        let mut contributions: Vec<(f64, Signal)> =
            self.weights.iter().map(|&(s, w)| (w * signals.get(s), s)).collect();
        let offset: f64 = categories.iter().filter_map(|k| self.offsets.get(k)).sum();
        let raw = self.intercept + offset + contributions.iter().map(|c| c.0).sum::<f64>();
        let z = self.calibration.map_or(raw, |c| c.log_odds(raw));
        contributions.sort_by(|a, b| b.0.total_cmp(&a.0));
        Risk {
            probability: 1.0 / (1.0 + (-z).exp()),
            reasons: contributions.iter().filter(|c| c.0 >= 0.3).take(3).map(|c| c.1).collect(),
        }
    }
}

/// The two risk models `analyze` scores with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskModels {
    pub low_csat: RiskModel,
    pub false_fcr: RiskModel,
}

/// What `convoqa train risk` saves (risk_model.json): the models and how they were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskModelFile {
    pub format: String,
    pub models: RiskModels,
    pub card: train::RiskCard,
}

pub const RISK_MODEL_FORMAT: &str = "convoqa-risk-1";

/// The shipped models, fitted on the chat corpus's train split and calibrated on its dev split
/// (`convoqa train risk --corpus data/corpus`; models/risk/CARD.md).
const BUILT_IN: &str = include_str!("../../../../models/risk/built_in.json");

impl RiskModels {
    /// The fitted models `analyze` uses unless `[risk] model` names a team's own.
    pub fn built_in() -> RiskModels {
        serde_json::from_str(BUILT_IN).expect("models/risk/built_in.json is checked by a test")
    }

    /// The coefficients set by reasoning before any data was fitted: a baseline for cards.
    pub fn reasoned() -> RiskModels {
        RiskModels { low_csat: RiskModel::default_low_csat(), false_fcr: RiskModel::default_false_fcr() }
    }

    /// The models of a risk_model.json written by `convoqa train risk`.
    pub fn load(path: &Path) -> Result<RiskModels> {
        let fix = "train one with `convoqa train risk --messages ... --out DIR` and point [risk] model at DIR/risk_model.json, or set model = \"\" for the built-in model";
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(path.display().to_string(), format!("cannot read the risk model: {e}"), fix))?;
        let file: RiskModelFile = serde_json::from_str(&text)
            .map_err(|e| Error::config(path.display().to_string(), format!("not a convoqa risk model: {e}"), fix))?;
        if file.format != RISK_MODEL_FORMAT {
            return Err(Error::config(
                path.display().to_string(),
                format!("format {:?}, expected {RISK_MODEL_FORMAT:?}", file.format),
                fix,
            ));
        }
        Ok(file.models)
    }
}

const WEEK_US: i64 = 7 * 24 * 3_600_000_000;

/// Every conversation's signals (rows and conversations in the same order).
pub fn conversation_signals(
    rows: &[ConversationRow],
    conversations: &[Conversation],
    sentiment: Option<&[Vec<Option<MessageSentiment>>]>,
    resolution: Option<&[Option<Resolution>]>,
) -> Vec<RiskSignals> {
    let mut created_by_customer: HashMap<&str, Vec<i64>> = HashMap::new();
    for r in rows.iter() {
        if let Some(c) = r.customer_id.as_deref() {
            created_by_customer.entry(c).or_default().push(r.created_at_us);
        }
    }
    for v in created_by_customer.values_mut() {
        v.sort_unstable();
    }
    let recent: Vec<u32> = rows
        .iter()
        .map(|r| {
            r.customer_id.as_deref().and_then(|c| created_by_customer.get(c)).map_or(0, |times| {
                let lo = times.partition_point(|&t| t < r.created_at_us - WEEK_US);
                let hi = times.partition_point(|&t| t < r.created_at_us);
                (hi - lo) as u32
            })
        })
        .collect();
    rows.iter()
        .zip(conversations)
        .enumerate()
        .map(|(i, (row, conv))| {
            let ctx = SignalContext {
                sentiment: sentiment.map(|s| s[i].as_slice()),
                resolution: resolution.and_then(|r| r[i].as_ref()),
                recent_contacts: recent[i],
            };
            risk_signals(conv, row, &ctx)
        })
        .collect()
}

/// SLOW_FOR_INTENT of every row, from the medians of these rows' intents: the part of the
/// signals that needs every row of the run.
pub fn intent_norm_signal(rows: &[ConversationRow]) -> Vec<f64> {
    let mut by_intent: HashMap<String, Vec<f64>> = HashMap::new();
    for r in rows.iter() {
        if let (Some(i), Some(s)) = (r.reading.intent.as_deref(), r.resolution_s) {
            by_intent.entry(i.to_string()).or_default().push(s);
        }
    }
    let medians: HashMap<String, f64> = by_intent
        .into_iter()
        .filter_map(|(k, mut v)| crate::aggregate::distribution(&mut v).median.map(|m| (k, m)))
        .collect();
    rows.iter()
        .map(|r| match (r.resolution_s, r.reading.intent.as_deref().and_then(|k| medians.get(k))) {
            (Some(s), Some(&m)) => slow_for_intent(s, m),
            _ => 0.0,
        })
        .collect()
}

/// Sets SLOW_FOR_INTENT on every row's signals from the medians of these rows' intents.
pub fn apply_intent_norms(rows: &mut [ConversationRow]) {
    let slow = intent_norm_signal(rows);
    for (r, value) in rows.iter_mut().zip(slow) {
        r.risk_signals.set(Signal::SlowForIntent, value);
    }
}

/// One row's risks from its signals: low_csat_risk, false_fcr_risk (resolved only), their
/// reasons and the messages that show them.
pub fn risk_outcome(row: &ConversationRow, models: &RiskModels) -> RiskOutcome {
    let signals = &row.risk_signals;
    let categories = category_keys(row);
    let csat = models.low_csat.score(signals, &categories);
    let fcr = row.is_resolved().then(|| models.false_fcr.score(signals, &categories));
    let mut evidence: Vec<(&'static str, usize)> = Vec::new();
    for &r in csat.reasons.iter().chain(fcr.iter().flat_map(|f| &f.reasons)) {
        if let Some(i) = signals.evidence(r) {
            if !evidence.iter().any(|e| e.0 == r.code()) {
                evidence.push((r.code(), i));
            }
        }
    }
    RiskOutcome {
        low_csat_risk: Some(csat.probability),
        low_csat_reasons: csat.reasons.iter().map(|r| r.code()).collect(),
        false_fcr_risk: fcr.as_ref().map(|f| f.probability),
        false_fcr_reasons: fcr.iter().flat_map(|f| f.reasons.iter().map(|r| r.code())).collect(),
        evidence,
    }
}

/// The score barrier: SLOW_FOR_INTENT from these rows' intent norms, then each row's
/// [`RiskOutcome`] put in place.
pub fn score_conversations(rows: &mut [ConversationRow], models: &RiskModels) {
    apply_intent_norms(rows);
    for row in rows.iter_mut() {
        row.risk = risk_outcome(row, models);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Message;

    fn msg(t_min: i64, role: Role, text: &str) -> Message {
        Message::for_test("c", t_min * 60_000_000, role, text)
    }

    fn conv(msgs: Vec<Message>) -> Conversation {
        Conversation { conversation_id: "c".into(), thread_id: "c".into(), messages: msgs, record: None }
    }

    fn ctx() -> SignalContext<'static> {
        SignalContext { sentiment: None, resolution: None, recent_contacts: 1 }
    }

    #[test]
    fn each_signal_reads_what_its_name_says() {
        let c = conv(vec![
            msg(0, Role::Customer, "kak paket aku belum sampai"),
            msg(1, Role::Bot, "Silakan pilih menu"),
            msg(2, Role::Customer, "mau bicara dengan agen"),
            msg(3, Role::Bot, "Silakan pilih menu"),
            msg(63, Role::Agent, "Halo kak, mohon ditunggu ya"),
            msg(64, Role::Customer, "kak paket aku belum sampai"),
            msg(70, Role::Agent, "Baik kak, sudah kami teruskan ke tim terkait, mohon ditunggu 1x24 jam"),
        ]);
        let row = ConversationRow {
            had_bot: true,
            frt_human_s: Some(3780.0),
            resolved_at_us: Some(71 * 60_000_000),
            resolution_s: Some(2400.0),
            ..Default::default()
        };
        let mut rows = vec![ConversationRow {
            risk_signals: risk_signals(&c, &row, &ctx()),
            reading: crate::row::ModelReading { intent: Some("x".into()), ..Default::default() },
            ..row.clone()
        }];
        // Its intent's median: 600 s (two quick others), so 2400 s is 4x: log2 = 2.
        for _ in 0..2 {
            rows.push(ConversationRow {
                reading: crate::row::ModelReading { intent: Some("x".into()), ..Default::default() },
                resolution_s: Some(600.0),
                ..Default::default()
            });
        }
        apply_intent_norms(&mut rows);
        let s = rows[0].risk_signals.clone();
        assert_eq!(s.get(Signal::BotLoop), 1.0);
        assert_eq!(s.get(Signal::RepeatedQuestion), 1.0);
        assert_eq!(s.get(Signal::GreetingOnlyFirstReply), 1.0);
        assert_eq!(s.get(Signal::DeferredResolution), 1.0);
        assert_eq!(s.get(Signal::ClosedWithoutConfirmation), 1.0);
        assert_eq!(s.get(Signal::SlowForIntent), 2.0); // 2400 s against a 600 s median
        assert_eq!(slow_for_intent(300.0, 600.0), 0.0);
        assert_eq!(slow_for_intent(1e9, 600.0), 3.0);
        // 63 minutes until a human answered.
        assert!(
            (s.get(Signal::LongWait) - (1.0f64 + 3780.0 / 3600.0).log2()).abs() < 1e-9,
            "{}",
            s.get(Signal::LongWait)
        );
        assert_eq!(s.get(Signal::RepeatContact), 1.0);
        let fcr = RiskModel::default_false_fcr().score(&s, &[]);
        assert_eq!(fcr.reasons[0], Signal::DeferredResolution);
        assert_eq!(s.evidence(Signal::DeferredResolution), Some(6));
        assert_eq!(s.evidence(Signal::RepeatedQuestion), Some(5));
        assert_eq!(s.evidence(Signal::BotLoop), Some(2), "the customer asking for an agent");
        assert_eq!(s.evidence(Signal::GreetingOnlyFirstReply), Some(4));
        assert!(fcr.probability > 0.9);
    }

    #[test]
    fn a_confirmed_quick_resolution_scores_low_with_no_reasons() {
        let c = conv(vec![
            msg(0, Role::Customer, "kak voucher GAJIAN50 gak bisa dipakai"),
            msg(2, Role::Agent, "Sudah kami aktifkan ya kak, silakan dicoba lagi"),
            msg(3, Role::Customer, "udah bisa kak, makasih"),
        ]);
        let row =
            ConversationRow { resolved_at_us: Some(4 * 60_000_000), resolution_s: Some(240.0), ..Default::default() };
        let s = risk_signals(&c, &row, &SignalContext { recent_contacts: 0, ..ctx() });
        assert_eq!(s.get(Signal::ClosedWithoutConfirmation), 0.0);
        assert_eq!(s.get(Signal::GreetingOnlyFirstReply), 0.0);
        for model in [RiskModel::default_low_csat(), RiskModel::default_false_fcr()] {
            let r = model.score(&s, &[]);
            assert!(r.probability < 0.15, "{}: {}", model.name, r.probability);
            assert!(r.reasons.is_empty(), "{:?}", r.reasons);
        }
    }

    #[test]
    fn the_built_in_models_are_fitted_calibrated_and_listed_in_their_card() {
        let card = include_str!("../../../../models/risk/CARD.md");
        let built_in = RiskModels::built_in();
        for m in [&built_in.low_csat, &built_in.false_fcr] {
            assert!(m.source.contains("fitted on the chat corpus"), "{}", m.source);
            assert!(m.calibration.is_some_and(|c| c.b > 0.0), "{} is not calibrated", m.name);
            assert_eq!(m.weights.len(), SIGNALS.len());
            assert!(card.contains(&format!("| intercept | {:.3} |", m.intercept)));
            for (s, w) in &m.weights {
                let row = format!("| {} | {w:.3} |", s.code());
                assert!(card.contains(&row), "models/risk/CARD.md lacks {row}");
            }
        }
    }

    #[test]
    fn feeling_evidence_never_quotes_a_message_a_rule_decided() {
        let c = conv(vec![
            msg(0, Role::Customer, "kak udah seminggu paket ga nyampe, kecewa"),
            msg(1, Role::Bot, "Pilih menu: 1. Lacak paket 2. Komplain"),
            msg(2, Role::Customer, "2"),
        ]);
        let negative = MessageSentiment {
            label: "negative",
            probabilities: [0.9, 0.1, 0.0],
            score: -0.9,
            source: MessageSentiment::MODEL,
            carries_feeling: true,
        };
        let menu = MessageSentiment::from_rule(crate::context::RuleReading::MenuChoice);
        let sentiment = vec![Some(negative), None, Some(menu)];
        let mut row = ConversationRow::default();
        row.reading.sentiment.ends_negative = Some(true);
        row.reading.sentiment.trend = Some(-0.5);
        let ctx = SignalContext { sentiment: Some(&sentiment), resolution: None, recent_contacts: 0 };
        let s = risk_signals(&c, &row, &ctx);
        assert_eq!(s.evidence(Signal::NegativeEnd), Some(0), "the menu choice \"2\" is not the negative end");
        assert_eq!(s.evidence(Signal::SentimentDrop), Some(0));
    }

    #[test]
    fn calibration_moves_the_probability_but_not_the_reasons() {
        let mut model = RiskModel::default_false_fcr();
        let mut s = RiskSignals::default();
        s.set(Signal::DeferredResolution, 1.0);
        let raw = model.score(&s, &[]);
        model.calibration = Some(calibrate::Platt { a: -1.0, b: 0.5 });
        let calibrated = model.score(&s, &[]);
        let z = (raw.probability / (1.0 - raw.probability)).ln();
        assert!((calibrated.probability - fit::sigmoid(-1.0 + 0.5 * z)).abs() < 1e-12);
        assert_eq!(calibrated.reasons, raw.reasons);
    }
}
