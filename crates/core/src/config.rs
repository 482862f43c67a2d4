//! The TOML config file and its validation into [`Settings`], the typed form the pipeline uses.
//!
//! `Config` mirrors the file one to one (so it can be written back into the run manifest);
//! `Settings` holds what was parsed out of it: time zones, durations in microseconds, role maps.

use std::collections::{BTreeMap, HashMap};

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::business_hours::BusinessHours;
pub use crate::business_hours::BusinessHoursConfig;
use crate::error::{Error, Result};
use crate::model::Role;
use crate::model_search::ModelSearch;
use crate::timefmt::parse_time_zone;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// IANA time zone for day, weekday and hour in the KPI tables and heatmap.
    pub time_zone: String,
    /// IANA time zone for input timestamps that carry none.
    pub input_time_zone: String,
    /// A return within this many hours of resolution is a reopen.
    pub reopen_window_hours: f64,
    /// "same_intent": a return counts when it is about the same thing (needs the model; without
    /// it the run falls back to "any" and says so); "any": any later conversation counts.
    pub reopen_match: ReopenMatch,
    /// same_intent: first substantive customer messages at least this close (cosine of their
    /// embeddings) match even when their intents differ.
    pub reopen_min_similarity: f64,
    /// same_intent: a return whose intent is one of these (or unknown) is read as a follow-up
    /// of whatever the customer contacted about last.
    pub reopen_follow_up_intents: Vec<String>,
    /// same_intent: a return whose intent the model reads with less confidence than this is read
    /// as a follow-up too ("kak masalah yg kemarin belum beres" names no topic; the model guesses).
    pub reopen_follow_up_below_confidence: f64,
    /// same_intent: [earlier intent, return intent] pairs where the return is the next step of
    /// an earlier problem left open (a refund asked for after a double charge the agent only
    /// promised to check); they match when the earlier close was read as deferred or unsolved.
    pub reopen_next_steps: Vec<[String; 2]>,
    /// Without a conversations table, a conversation is resolved at its last message once this
    /// many hours have passed by as_of.
    pub inactivity_close_hours: f64,
    /// Split endless per-customer threads where two messages are more than this many hours
    /// apart. 0 = off. Only used without a conversations table.
    pub session_gap_hours: f64,
    /// Maps raw sender_role values (lower-cased) to a role, on top of the four canonical ones.
    pub roles: BTreeMap<String, Role>,
    /// First-human-response SLA per channel, in seconds; `default` covers other channels. A
    /// config's entries override the built-in ones key by key (no need to repeat `default`).
    #[serde(deserialize_with = "sla_over_built_in")]
    pub sla_seconds: BTreeMap<String, f64>,
    pub columns: Columns,
    pub business_hours: BusinessHoursConfig,
    pub model: ModelConfig,
    pub qa: QaConfig,
    pub risk: RiskConfig,
}

/// Which risk models score conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// A risk_model.json written by `convoqa train risk`; empty = the built-in models
    /// (coefficients set by reasoning, docs/kpis.md). Relative to the config file (then the
    /// model search of src/model_search.rs).
    pub model: String,
}

/// The QA review list: which conversations it flags, and the control sample beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QaConfig {
    /// Flag conversations with low_csat_risk at or above this.
    pub low_csat_threshold: f64,
    /// Flag resolved conversations with false_fcr_risk at or above this.
    pub false_fcr_threshold: f64,
    /// Share of unflagged conversations sampled per channel x agent as the control group.
    pub control_rate: f64,
    /// At most this many flagged conversations per agent per run (their highest risks first):
    /// the usual weekly audit is about 10. 0 = no cap (every conversation over a threshold).
    pub reviews_per_agent: usize,
    /// At most this many flagged conversations without an agent (bot-only, unassigned) per run.
    /// 0 = no cap.
    pub reviews_unassigned: usize,
}

impl Default for QaConfig {
    fn default() -> Self {
        QaConfig {
            low_csat_threshold: 0.5,
            false_fcr_threshold: 0.5,
            control_rate: 0.05,
            reviews_per_agent: 10,
            reviews_unassigned: 10,
        }
    }
}

/// The language model: encoder file, heads, and the token limit per message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Off: KPIs only, no sentiment (also `analyze --no-model`).
    pub enabled: bool,
    /// Relative paths are looked up relative to the config file, then under --model-dir /
    /// CONVOQA_MODEL_DIR, next to the binary, in the user's data directory, in the working
    /// directory (src/model_search.rs).
    pub encoder: String,
    /// A low-rank adapter directory (`convoqa train adapter`) merged into the encoder at load;
    /// "" = the plain encoder. Heads fit the adapted encoder they were trained on.
    pub adapter: String,
    pub sentiment_head: String,
    pub intent_head: String,
    /// The resolution head (was it solved, read from the closing exchange); "" = none, and
    /// resolution_state stays empty.
    pub resolution_head: String,
    /// Taxonomy TOML (names, owner teams, min_confidence); empty = the built-in one.
    pub intent_taxonomy: String,
    /// Messages longer than this many tokens are cut (the manifest counts them).
    pub max_tokens: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            enabled: true,
            encoder: crate::encoder::DEFAULT_MODEL_PATH.into(),
            adapter: crate::encoder::DEFAULT_ADAPTER_PATH.into(),
            sentiment_head: "models/heads/sentiment".into(),
            intent_head: "models/heads/intent".into(),
            resolution_head: "models/heads/resolution".into(),
            intent_taxonomy: String::new(),
            max_tokens: 128,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReopenMatch {
    Any,
    SameIntent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Columns {
    pub messages: MessageColumns,
    pub conversations: ConversationColumns,
}

/// Input column names for the messages table: convoqa's name = the name in your export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageColumns {
    pub conversation_id: String,
    pub sent_at: String,
    pub sender_role: String,
    pub text: String,
    pub customer_id: String,
    pub channel: String,
    pub agent_id: String,
    pub message_id: String,
    pub is_auto_reply: String,
}

impl MessageColumns {
    /// The configured column name for a logical column of the contract.
    pub fn name_of(&self, logical: &str) -> &str {
        match logical {
            "conversation_id" => &self.conversation_id,
            "sent_at" => &self.sent_at,
            "sender_role" => &self.sender_role,
            "text" => &self.text,
            "customer_id" => &self.customer_id,
            "channel" => &self.channel,
            "agent_id" => &self.agent_id,
            "message_id" => &self.message_id,
            "is_auto_reply" => &self.is_auto_reply,
            other => unreachable!("not a messages column: {other}"),
        }
    }
}

impl Default for MessageColumns {
    fn default() -> Self {
        MessageColumns {
            conversation_id: "conversation_id".into(),
            sent_at: "sent_at".into(),
            sender_role: "sender_role".into(),
            text: "text".into(),
            customer_id: "customer_id".into(),
            channel: "channel".into(),
            agent_id: "agent_id".into(),
            message_id: "message_id".into(),
            is_auto_reply: "is_auto_reply".into(),
        }
    }
}

/// Input column names for the optional conversations table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationColumns {
    pub conversation_id: String,
    pub customer_id: String,
    pub channel: String,
    pub status: String,
    pub created_at: String,
    pub resolved_at: String,
    pub csat_score: String,
    pub nps_score: String,
    pub ces_score: String,
    pub hold_seconds: String,
    pub after_work_seconds: String,
    pub team: String,
    pub subject: String,
}

impl ConversationColumns {
    /// The configured column name for a logical column of the contract.
    pub fn name_of(&self, logical: &str) -> &str {
        match logical {
            "conversation_id" => &self.conversation_id,
            "customer_id" => &self.customer_id,
            "channel" => &self.channel,
            "status" => &self.status,
            "created_at" => &self.created_at,
            "resolved_at" => &self.resolved_at,
            "csat_score" => &self.csat_score,
            "nps_score" => &self.nps_score,
            "ces_score" => &self.ces_score,
            "hold_seconds" => &self.hold_seconds,
            "after_work_seconds" => &self.after_work_seconds,
            "team" => &self.team,
            "subject" => &self.subject,
            other => unreachable!("not a conversations column: {other}"),
        }
    }
}

impl Default for ConversationColumns {
    fn default() -> Self {
        ConversationColumns {
            conversation_id: "conversation_id".into(),
            customer_id: "customer_id".into(),
            channel: "channel".into(),
            status: "status".into(),
            created_at: "created_at".into(),
            resolved_at: "resolved_at".into(),
            csat_score: "csat_score".into(),
            nps_score: "nps_score".into(),
            ces_score: "ces_score".into(),
            hold_seconds: "hold_seconds".into(),
            after_work_seconds: "after_work_seconds".into(),
            team: "team".into(),
            subject: "subject".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let roles = [
            ("user", Role::Customer),
            ("client", Role::Customer),
            ("contact", Role::Customer),
            ("operator", Role::Agent),
            ("human_agent", Role::Agent),
            ("staff", Role::Agent),
            ("chatbot", Role::Bot),
            ("assistant", Role::Bot),
            ("automation", Role::Bot),
            ("note", Role::System),
            ("event", Role::System),
        ];
        Config {
            time_zone: "UTC".into(),
            input_time_zone: "UTC".into(),
            reopen_window_hours: 48.0,
            reopen_match: ReopenMatch::SameIntent,
            reopen_min_similarity: 0.92,
            reopen_follow_up_intents: vec!["other".into(), "complaint_service".into()],
            reopen_follow_up_below_confidence: 0.5,
            reopen_next_steps: [
                ["payment_billing", "refund_return"],
                ["cancellation", "refund_return"],
                ["delivery_problem", "refund_return"],
                ["order_status", "refund_return"],
                ["order_status", "delivery_problem"],
            ]
            .map(|pair| pair.map(String::from))
            .to_vec(),
            inactivity_close_hours: 24.0,
            session_gap_hours: 0.0,
            roles: roles.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            sla_seconds: built_in_sla(),
            columns: Columns::default(),
            business_hours: BusinessHoursConfig::default(),
            model: ModelConfig::default(),
            qa: QaConfig::default(),
            risk: RiskConfig::default(),
        }
    }
}

/// The built-in SLAs: 5 minutes on chat channels, an hour on e-mail, 15 minutes elsewhere.
const BUILT_IN_SLA_S: [(&str, f64); 5] =
    [("whatsapp", 300.0), ("live_chat", 300.0), ("instagram", 300.0), ("email", 3600.0), ("default", 900.0)];

fn built_in_sla() -> BTreeMap<String, f64> {
    BUILT_IN_SLA_S.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// `[sla_seconds]` from a file: its entries on top of the built-in ones.
fn sla_over_built_in<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, f64>, D::Error> {
    let mut sla = built_in_sla();
    sla.extend(BTreeMap::<String, f64>::deserialize(d)?);
    Ok(sla)
}

/// The commented default config that `convoqa init` writes. A unit test checks that it parses
/// to exactly `Config::default()`, so the two cannot drift apart.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_config.toml");

/// What the pipeline runs with: the config, validated and parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub time_zone: TimeZone,
    pub input_time_zone: TimeZone,
    pub reopen_window_us: i64,
    pub inactivity_close_us: i64,
    pub session_gap_us: Option<i64>,
    /// Lower-cased raw role value -> role, canonical names included.
    pub roles: HashMap<String, Role>,
    pub business_hours: Option<BusinessHours>,
    /// Where relative model paths are looked up (src/model_search.rs).
    pub model_search: ModelSearch,
}

const US_PER_HOUR: f64 = 3_600_000_000.0;

impl Config {
    /// Parses a TOML config; unknown keys are errors, so a typo never silently means "default".
    /// Errors say where (line and column), which key, what was expected (with the unit) and,
    /// for an unknown key, the closest valid one.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| {
            let at = e.span().map(|span| {
                let (line, column) = line_column(text, span.start);
                (line, column, key_at(text, span.start))
            });
            let message = e.message().trim().to_string();
            let key = match &at {
                Some((_, _, Some(key))) => key.clone(),
                _ => String::new(),
            };
            let place = match &at {
                Some((line, column, _)) => format!("{origin}, line {line}, column {column}"),
                None => origin.to_string(),
            };
            let (problem, fix) = if let Some((unknown, valid)) = unknown_field(&message) {
                let problem = match closest(&unknown, &valid) {
                    Some(best) => format!("unknown key `{unknown}` at {place}; did you mean `{best}`?"),
                    None => format!("unknown key `{unknown}` at {place}; valid keys here: {}", valid.join(", ")),
                };
                (
                    problem,
                    "fix the key's spelling; `convoqa init FILE` writes every setting with its default".to_string(),
                )
            } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
                let expected = expected_value(&key, &message);
                (format!("{message} at {place}"), format!("set `{key}` to {expected}"))
            } else {
                (
                    format!("{message} at {place}"),
                    "compare with the commented defaults that `convoqa init FILE` writes".to_string(),
                )
            };
            Error::config(if key.is_empty() { origin.to_string() } else { key }, problem, fix)
        })
    }

    /// Checks every setting and parses it into [`Settings`].
    pub fn validate(self) -> Result<Settings> {
        let time_zone = parse_time_zone("time_zone", &self.time_zone)?;
        let input_time_zone = parse_time_zone("input_time_zone", &self.input_time_zone)?;
        let hours = |key: &str, v: f64, allow_zero: bool| -> Result<i64> {
            if !v.is_finite() || v < 0.0 || (!allow_zero && v == 0.0) {
                return Err(Error::config(
                    key,
                    format!("must be a positive number of hours, found {v}"),
                    format!("set `{key}` to e.g. 24"),
                ));
            }
            Ok((v * US_PER_HOUR).round() as i64)
        };
        let reopen_window_us = hours("reopen_window_hours", self.reopen_window_hours, false)?;
        let inactivity_close_us = hours("inactivity_close_hours", self.inactivity_close_hours, true)?;
        let gap = hours("session_gap_hours", self.session_gap_hours, true)?;
        let session_gap_us = (gap > 0).then_some(gap);
        for (key, v) in [
            ("qa.low_csat_threshold", self.qa.low_csat_threshold),
            ("qa.false_fcr_threshold", self.qa.false_fcr_threshold),
            ("qa.control_rate", self.qa.control_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::config(
                    key,
                    format!("must be between 0 and 1, found {v}"),
                    "thresholds are probabilities, the rate a share, e.g. 0.05",
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.reopen_follow_up_below_confidence) {
            return Err(Error::config(
                "reopen_follow_up_below_confidence",
                format!("must be a probability between 0 and 1, found {}", self.reopen_follow_up_below_confidence),
                "0.5 reads a return as a follow-up when the model is less sure of its intent than not; 0 turns it off",
            ));
        }
        if !(0.0..=1.0).contains(&self.reopen_min_similarity) {
            return Err(Error::config(
                "reopen_min_similarity",
                format!("must be a cosine similarity between 0 and 1, found {}", self.reopen_min_similarity),
                "the default 0.92 lets about 0.3% of different-intent message pairs match",
            ));
        }
        for (channel, s) in &self.sla_seconds {
            if !s.is_finite() || *s < 0.0 {
                return Err(Error::config(
                    format!("sla_seconds.{channel}"),
                    format!("must be a non-negative number of seconds, found {s}"),
                    "e.g. whatsapp = 300",
                ));
            }
        }
        if !(8..=512).contains(&self.model.max_tokens) {
            return Err(Error::config(
                "model.max_tokens",
                format!("must be between 8 and 512 (the encoder's positions), found {}", self.model.max_tokens),
                "the default 128 covers almost every chat message",
            ));
        }
        let mut roles: HashMap<String, Role> = Role::ALL.iter().map(|r| (r.as_str().to_string(), *r)).collect();
        for (raw, role) in &self.roles {
            roles.insert(raw.trim().to_lowercase(), *role);
        }
        let business_hours =
            if self.business_hours.enabled { Some(BusinessHours::from_config(&self.business_hours)?) } else { None };
        Ok(Settings {
            config: self,
            time_zone,
            input_time_zone,
            reopen_window_us,
            inactivity_close_us,
            session_gap_us,
            roles,
            business_hours,
            model_search: ModelSearch::for_process(None, None),
        })
    }

    /// Canonical TOML of the effective config, hashed into the manifest.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }
}

impl Settings {
    /// The [model] section with every path resolved to the file found (the search order is in
    /// src/model_search.rs); an error names each place searched.
    pub fn model_config(&self) -> Result<ModelConfig> {
        self.model_search.check_model_dir()?;
        let m = &self.config.model;
        let find = |key: &str, path: &str| -> Result<String> {
            if path.is_empty() {
                return Ok(String::new());
            }
            self.model_search.resolve(key, path).map(|p| p.display().to_string())
        };
        Ok(ModelConfig {
            encoder: find("model.encoder", &m.encoder)?,
            adapter: find("model.adapter", &m.adapter)?,
            sentiment_head: find("model.sentiment_head", &m.sentiment_head)?,
            intent_head: find("model.intent_head", &m.intent_head)?,
            resolution_head: find("model.resolution_head", &m.resolution_head)?,
            intent_taxonomy: find("model.intent_taxonomy", &m.intent_taxonomy)?,
            ..m.clone()
        })
    }

    /// Channel names the config sets (SLAs other than the built-in ones, business-hours
    /// schedules) that no conversation in `seen` has: most likely a typo, which would silently
    /// leave that channel on the default. (config key, channel) pairs.
    pub fn channels_not_in_input(&self, seen: &std::collections::BTreeSet<&str>) -> Vec<(String, String)> {
        let sla = self
            .config
            .sla_seconds
            .keys()
            .filter(|c| c.as_str() != "default" && !BUILT_IN_SLA_S.iter().any(|(b, _)| b == c))
            .map(|c| ("sla_seconds", c));
        let hours = self.config.business_hours.channel.keys().map(|c| ("business_hours.channel", c));
        sla.chain(hours)
            .filter(|(_, c)| !seen.contains(c.as_str()))
            .map(|(k, c)| (format!("{k}.{c}"), c.clone()))
            .collect()
    }

    /// `[risk] model`, resolved like the model paths; None = the built-in risk models.
    pub fn risk_model_path(&self) -> Result<Option<std::path::PathBuf>> {
        match self.config.risk.model.as_str() {
            "" => Ok(None),
            path => self
                .model_search
                .resolve_or("risk.model", path, "fit one on your history with `convoqa train risk --out DIR` and set [risk] model to its risk_model.json (relative to the config file), or \"\" for the built-in models")
                .map(Some),
        }
    }

    /// SLA in seconds for a channel (None channel uses the default).
    pub fn sla_s(&self, channel: Option<&str>) -> f64 {
        let map = &self.config.sla_seconds;
        channel.and_then(|c| map.get(c)).or_else(|| map.get("default")).copied().unwrap_or(900.0)
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The dotted key whose value or name sits at a byte offset: the `key = ...` on that line,
/// under the last `[table]` header above it.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let name = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('['))?;
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{name}"),
        _ => name,
    })
}

/// serde's "unknown field `x`, expected one of `a`, `b`" -> (x, [a, b]).
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let valid = rest.split('`').skip(1).step_by(2).map(str::to_string).collect();
    Some((unknown.to_string(), valid))
}

/// The valid key nearest a typo, if it is near enough to be the one meant.
fn closest(unknown: &str, valid: &[String]) -> Option<String> {
    valid
        .iter()
        .map(|v| (strsim::damerau_levenshtein(unknown, v), v))
        .filter(|(d, v)| *d <= 3.max(v.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v.clone())
}

/// What a key takes, in words a user can act on ("a number of hours, e.g. 48").
fn expected_value(key: &str, message: &str) -> String {
    let name = key.rsplit('.').next().unwrap_or(key);
    if name.ends_with("_hours") {
        return "a number of hours, e.g. 48 (no unit suffix)".into();
    }
    if key.starts_with("sla_seconds.") || name.ends_with("_seconds") {
        return "a number of seconds, e.g. 300 (no unit suffix)".into();
    }
    match name {
        "low_csat_threshold" | "false_fcr_threshold" => return "a probability between 0 and 1, e.g. 0.5".into(),
        "control_rate" => return "a share between 0 and 1, e.g. 0.05".into(),
        "reopen_min_similarity" => return "a cosine similarity between 0 and 1, e.g. 0.92".into(),
        "reopen_follow_up_below_confidence" => return "a probability between 0 and 1, e.g. 0.5".into(),
        "max_tokens" => return "a whole number of tokens, e.g. 128".into(),
        "reopen_match" => return "\"same_intent\" or \"any\"".into(),
        _ => {}
    }
    if message.contains("expected f64") || message.contains("expected a number") {
        "a number, e.g. 1.5".into()
    } else if message.contains("expected usize") || message.contains("expected u") || message.contains("expected i") {
        "a whole number".into()
    } else if message.contains("expected a boolean") || message.contains("expected bool") {
        "true or false".into()
    } else if message.contains("expected a string") {
        "a quoted string".into()
    } else {
        "the form `convoqa init FILE` shows for it".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commented_default_parses_to_the_built_in_default() {
        let parsed = Config::from_toml(DEFAULT_CONFIG_TOML, "default").unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_key_is_a_config_error() {
        let err = Config::from_toml("reopen_windw_hours = 12", "x.toml").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("reopen_windw_hours"), "{err}");
    }

    #[test]
    fn bad_time_zone_names_the_key() {
        let cfg = Config { time_zone: "Asia/Jakartaa".into(), ..Config::default() };
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().contains("time_zone"), "{err}");
    }

    #[test]
    fn sla_falls_back_to_default() {
        let s = Config::default().validate().unwrap();
        assert_eq!(s.sla_s(Some("email")), 3600.0);
        assert_eq!(s.sla_s(Some("line")), 900.0);
        assert_eq!(s.sla_s(None), 900.0);
    }

    #[test]
    fn role_map_is_case_insensitive_and_keeps_canonical_names() {
        let s = Config::default().validate().unwrap();
        assert_eq!(s.roles.get("agent"), Some(&Role::Agent));
        assert_eq!(s.roles.get("user"), Some(&Role::Customer));
    }
}
