//! convoqa's labelled chat corpus (data/corpus): conversations with a sentiment label on every
//! customer message and intent and outcome labels per conversation, split by business.
//! The heads train on its train split, are selected on dev, and are measured once on test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use convoqa_domain::model::{Conversation, ConversationRecord, Message, Role, RowRef};

#[derive(Debug, Clone, Deserialize)]
pub struct CorpusMessage {
    /// Seconds since the conversation's created_at.
    pub t: f64,
    pub role: String,
    pub text: String,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub sentiment: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CorpusConversation {
    pub conversation_id: String,
    pub business: String,
    pub channel: String,
    pub language: String,
    pub customer_id: String,
    pub created_at: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub status: String,
    pub intent: String,
    pub solved: bool,
    pub reopens: Option<String>,
    pub expect_low_csat: bool,
    pub csat_score: Option<u8>,
    pub messages: Vec<CorpusMessage>,
    /// From businesses.toml, filled at load.
    #[serde(skip)]
    pub split: String,
    /// From labels/resolution/<business>.jsonl where present, filled at load.
    #[serde(skip)]
    pub resolution: Option<ResolutionLabel>,
    /// From labels/message_intent/<business>.jsonl where present, filled at load: one entry per
    /// customer message, in order (README "Message intents").
    #[serde(skip)]
    pub message_intents: Option<Vec<Option<String>>>,
}

/// The second label pass (README "Resolution state"): how the conversation ended and the message
/// that decided it.
#[derive(Debug, Clone, Deserialize)]
pub struct ResolutionLabel {
    pub conversation_id: String,
    pub resolution_state: String,
    pub decided_by: usize,
}

/// The per-message intent label pass: each customer message's need, or null.
#[derive(Debug, Clone, Deserialize)]
struct MessageIntentLabel {
    conversation_id: String,
    intents: Vec<Option<String>>,
}

/// A label pass (`labels/<name>/*.jsonl`, one object per line) keyed by conversation_id; empty
/// when the directory is absent.
fn read_label_pass<T: serde::de::DeserializeOwned>(dir: &Path, id: impl Fn(&T) -> &str) -> Result<BTreeMap<String, T>> {
    let mut labels = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(labels);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, format!("cannot list ({e})")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, format!("cannot read ({e})")))?;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let label: T = serde_json::from_str(line).map_err(|e| bad(&path, format!("line {}: {e}", i + 1)))?;
            labels.insert(id(&label).to_string(), label);
        }
    }
    Ok(labels)
}

#[derive(Debug, Deserialize)]
struct Business {
    id: String,
    split: String,
}

#[derive(Debug, Deserialize)]
struct Businesses {
    business: Vec<Business>,
}

pub struct Corpus {
    pub dir: PathBuf,
    pub conversations: Vec<CorpusConversation>,
}

pub const SPLITS: [&str; 3] = ["train", "dev", "test"];

fn bad(path: &Path, problem: impl Into<String>) -> Error {
    Error::input(path, problem, "see data/corpus/README.md for the format; scripts/corpus_check.py names the line")
}

impl Corpus {
    /// Reads `<dir>/businesses.toml` and every `<dir>/conversations/*.jsonl`, in file name order.
    pub fn load(dir: &Path) -> Result<Corpus> {
        let toml_path = dir.join("businesses.toml");
        let text = std::fs::read_to_string(&toml_path).map_err(|e| bad(&toml_path, format!("cannot read ({e})")))?;
        let businesses: Businesses = toml::from_str(&text).map_err(|e| bad(&toml_path, e.message().to_string()))?;
        let split_of: BTreeMap<String, String> = businesses.business.into_iter().map(|b| (b.id, b.split)).collect();
        let conv_dir = dir.join("conversations");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&conv_dir)
            .map_err(|e| bad(&conv_dir, format!("cannot list ({e})")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        let mut conversations = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, format!("cannot read ({e})")))?;
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let mut c: CorpusConversation =
                    serde_json::from_str(line).map_err(|e| bad(&path, format!("line {}: {e}", i + 1)))?;
                c.split = split_of
                    .get(&c.business)
                    .ok_or_else(|| {
                        bad(&path, format!("line {}: business {:?} is not in businesses.toml", i + 1, c.business))
                    })?
                    .clone();
                conversations.push(c);
            }
        }
        let labels_dir = dir.join("labels").join("resolution");
        let mut labels = read_label_pass(&labels_dir, |l: &ResolutionLabel| &l.conversation_id)?;
        let intents_dir = dir.join("labels").join("message_intent");
        let mut intents = read_label_pass(&intents_dir, |l: &MessageIntentLabel| &l.conversation_id)?;
        for c in &mut conversations {
            c.resolution = labels.remove(&c.conversation_id);
            if let Some(label) = intents.remove(&c.conversation_id) {
                let customer = c.messages.iter().filter(|m| m.role == "customer").count();
                if label.intents.len() != customer {
                    return Err(bad(
                        &intents_dir,
                        format!(
                            "{:?} has {} message intents for {customer} customer messages",
                            c.conversation_id,
                            label.intents.len()
                        ),
                    ));
                }
                c.message_intents = Some(label.intents);
            }
        }
        if let Some(id) = labels.keys().next() {
            return Err(bad(&labels_dir, format!("a resolution label for {id:?}, which is no corpus conversation")));
        }
        if let Some(id) = intents.keys().next() {
            return Err(bad(
                &intents_dir,
                format!("a message intent label for {id:?}, which is no corpus conversation"),
            ));
        }
        Ok(Corpus { dir: dir.to_path_buf(), conversations })
    }

    pub fn split<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a CorpusConversation> + 'a {
        self.conversations.iter().filter(move |c| c.split == name)
    }
}

fn role(name: &str) -> Role {
    match name {
        "customer" => Role::Customer,
        "agent" => Role::Agent,
        "bot" => Role::Bot,
        _ => Role::System,
    }
}

impl CorpusConversation {
    /// The conversation as convoqa's assembled type, so evaluation runs the shipped stages.
    pub fn to_conversation(&self) -> Result<Conversation> {
        let start_us = jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%:z", &self.created_at)
            .map_err(|e| Error::internal(format!("{}: created_at {:?}: {e}", self.conversation_id, self.created_at)))?
            .as_microsecond();
        let messages = self
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| Message {
                conversation_id: self.conversation_id.clone(),
                thread_id: self.conversation_id.clone(),
                message_id: Some(format!("{}-{}", self.conversation_id, i + 1)),
                sent_at_us: start_us + (m.t * 1e6) as i64,
                role: role(&m.role),
                text: Some(m.text.clone()),
                customer_id: Some(self.customer_id.clone()),
                channel: Some(self.channel.clone()),
                agent_id: m.agent_id.clone(),
                is_auto_reply: false,
                source: RowRef { file: 0, row: i as u64 },
            })
            .collect();
        Ok(Conversation {
            conversation_id: self.conversation_id.clone(),
            thread_id: self.conversation_id.clone(),
            messages,
            // The conversations-table fields the readings use: the e-mail subject.
            record: self.subject.as_ref().map(|s| ConversationRecord {
                conversation_id: self.conversation_id.clone(),
                subject: Some(s.clone()),
                ..Default::default()
            }),
        })
    }

    /// (text, sentiment label) of the customer messages the model reads (no context rule
    /// decides them): the sentiment head's training rows.
    pub fn model_sentiment_rows(&self) -> Result<Vec<(String, String)>> {
        let conv = self.to_conversation()?;
        let rules = crate::context::rule_readings(&conv.messages);
        Ok(self
            .messages
            .iter()
            .zip(rules)
            .filter(|(m, rule)| m.role == "customer" && rule.is_none())
            .filter_map(|(m, _)| m.sentiment.clone().map(|s| (m.text.clone(), s)))
            .collect())
    }
}
