//! Stage 3, enrich with the model: sentiment for every customer message that has text.
//!
//! Only what is needed is inferred: customer messages only, and each distinct normalised text
//! once (bot templates aside, customers repeat "ok kak", "terima kasih", "1" constantly).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::config::ModelConfig;
use crate::encoder::{BranchedEncoder, Embed, Encoder};
use crate::error::Result;
use crate::heads::intent::{
    intent_document, intent_subject, intent_text, message_intent_proba, reads_intent, Taxonomy,
};
use crate::heads::lexical::{blended_proba, LexicalHead};
use crate::heads::resolution::{
    closing_exchange, deciding_slot, input_vector as resolution_input, slot_text, ClosingExchange, Resolution,
};
use crate::heads::Head;
use crate::model::{Conversation, Role};
use crate::text::inference_key;

/// The loaded model: encoder plus heads.
pub struct LanguageModel {
    /// The run's encoder; with a team intent head trained with `--adapt-encoder`, a
    /// `BranchedEncoder` that also reads the texts intent reads through the head's adapter.
    pub encoder: Box<dyn Embed>,
    pub sentiment: Head,
    /// The sentiment head's lexical reader, when its card blends one (`lexical_weight` > 0).
    pub sentiment_lexical: Option<LexicalHead>,
    pub intent: Head,
    /// The intent head's lexical reader, when its card blends one (`lexical_weight` > 0).
    pub intent_lexical: Option<LexicalHead>,
    /// Reads how each conversation ended; None when [model] resolution_head is "".
    pub resolution: Option<Head>,
    pub taxonomy: Taxonomy,
    pub encoder_path: PathBuf,
    /// "" = the plain encoder.
    pub adapter_path: PathBuf,
    pub sentiment_path: PathBuf,
    pub intent_path: PathBuf,
    pub resolution_path: PathBuf,
    pub max_tokens: usize,
}

impl LanguageModel {
    pub fn load(cfg: &ModelConfig) -> Result<LanguageModel> {
        let taxonomy = if cfg.intent_taxonomy.is_empty() {
            Taxonomy::default_taxonomy()
        } else {
            let path = Path::new(&cfg.intent_taxonomy);
            let text = std::fs::read_to_string(path).map_err(|e| {
                crate::error::Error::input(
                    path,
                    format!("cannot read the taxonomy ({e})"),
                    "fix [model] intent_taxonomy",
                )
            })?;
            Taxonomy::parse(&text, path)?
        };
        let (encoder, _) = Encoder::load_adapted(Path::new(&cfg.encoder), Some(Path::new(&cfg.adapter)))?;
        let sentiment = Head::load(Path::new(&cfg.sentiment_head))?;
        let sentiment_lexical = crate::heads::lexical::load_for(&sentiment, Path::new(&cfg.sentiment_head))?;
        let intent = Head::load(Path::new(&cfg.intent_head))?;
        let intent_lexical = crate::heads::lexical::load_for(&intent, Path::new(&cfg.intent_head))?;
        let resolution =
            if cfg.resolution_head.is_empty() { None } else { Some(Head::load(Path::new(&cfg.resolution_head))?) };
        for (head, dir) in [(&sentiment, &cfg.sentiment_head), (&intent, &cfg.intent_head)]
            .into_iter()
            .chain(resolution.as_ref().map(|h| (h, &cfg.resolution_head)))
        {
            check_head_fits(head, Path::new(dir), &encoder)?;
        }
        let encoder: Box<dyn Embed> = match &intent.card.encoder_adapter {
            Some(dir) => Box::new(BranchedEncoder::new(encoder, &Path::new(&cfg.intent_head).join(dir))?),
            None => Box::new(encoder),
        };
        Ok(LanguageModel {
            encoder,
            sentiment,
            sentiment_lexical,
            intent,
            intent_lexical,
            resolution,
            taxonomy,
            encoder_path: PathBuf::from(&cfg.encoder),
            adapter_path: PathBuf::from(&cfg.adapter),
            sentiment_path: PathBuf::from(&cfg.sentiment_head),
            intent_path: PathBuf::from(&cfg.intent_head),
            resolution_path: PathBuf::from(&cfg.resolution_head),
            max_tokens: cfg.max_tokens,
        })
    }
}

/// A head reads the embeddings of the encoder it was trained on and no other: the same width
/// is not enough (MiniLM and e5-small both give 384 floats that mean different things).
pub fn check_head_fits(head: &Head, dir: &Path, encoder: &Encoder) -> Result<()> {
    let trained_on = crate::encoder::encoder_name(Path::new(&head.card.encoder));
    if trained_on != encoder.name {
        return Err(crate::error::Error::config(
            "model",
            format!("the head in {} was trained on {trained_on} embeddings, but [model] encoder is {}", dir.display(), encoder.name),
            format!("train heads for this encoder: `convoqa train {} --model <encoder> --out DIR`, then point [model] at them", head.card.task),
        ));
    }
    Ok(())
}

/// A conversation's intent and the head's probability for it; `other` when below the
/// taxonomy's min_confidence or when the customer said nothing substantive (confidence null).
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationIntent {
    pub intent: String,
    pub confidence: Option<f64>,
    /// Every label's probability, in the head's label order (None: nothing substantive said).
    pub probabilities: Option<Vec<f32>>,
    /// Index into `Enrichment::intent_embeddings` of the text the intent was read from.
    pub text_slot: Option<usize>,
}

/// A customer message's intent (`message_intents`). A conversation can move between needs
/// ("mau cancel" then "refundnya kapan masuk?").
#[derive(Debug, Clone, PartialEq)]
pub struct MessageIntent {
    pub intent: String,
    pub confidence: f64,
}

/// Sentiment of one message: probabilities in the head's label order (negative, neutral,
/// positive) and a score on -1..1 (positive minus negative probability).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MessageSentiment {
    pub label: &'static str,
    pub probabilities: [f32; 3],
    pub score: f32,
    /// "model", or the context rule that decided it (context::RuleReading::source).
    pub source: &'static str,
    /// False for rule-decided menu choices, media and ids: labelled neutral, but left out of
    /// the conversation's sentiment start/end/trend.
    pub carries_feeling: bool,
}

impl MessageSentiment {
    pub const MODEL: &'static str = "model";

    /// A context rule's reading as a sentiment (probability 1 on its label).
    pub fn from_rule(rule: crate::context::RuleReading) -> MessageSentiment {
        let feeling = rule.feeling();
        let mut probabilities = [0.0; 3];
        probabilities[feeling as usize] = 1.0;
        MessageSentiment {
            label: feeling.label(),
            probabilities,
            score: rule.score(),
            source: rule.source(),
            carries_feeling: rule.carries_feeling(),
        }
    }
}

/// Per-message results aligned with `conversations[i].messages[j]`.
#[derive(Debug, Default)]
pub struct Enrichment {
    pub sentiment: Vec<Vec<Option<MessageSentiment>>>,
    pub intent: Vec<ConversationIntent>,
    /// Embeddings of every distinct text inferred; `ConversationIntent::text_slot` indexes it
    /// (same-topic reopen matching compares intent texts).
    pub intent_embeddings: Vec<Vec<f32>>,
    /// Per message (aligned like `sentiment`), its index into `intent_embeddings`.
    pub message_slots: Vec<Vec<Option<usize>>>,
    /// With a team intent head that reads through its own adapter (`BranchedEncoder`): the vectors the
    /// intent head reads, indexed like `intent_embeddings` and filled only at the slots intent
    /// reads (the rest empty). None when the intent head reads `intent_embeddings` itself.
    pub intent_head_embeddings: Option<Vec<Vec<f32>>>,
    /// How each conversation ended (None without the resolution head, or with nothing said).
    pub resolution: Vec<Option<Resolution>>,
    pub stats: EnrichStats,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct EnrichStats {
    /// The model files used, as found by the model search: which copy a run read.
    pub encoder: String,
    pub adapter: String,
    pub sentiment_head: String,
    pub intent_head: String,
    pub resolution_head: String,
    pub customer_texts: u64,
    /// Agent and bot messages embedded for the resolution head (their closing exchanges).
    pub business_texts: u64,
    pub distinct_texts: u64,
    pub tokens: u64,
    pub truncated: u64,
    pub max_tokens: usize,
    /// Texts embedded a second time through a team intent head's encoder adapter.
    #[serde(skip_serializing_if = "is_zero")]
    pub intent_adapter_texts: u64,
    pub seconds: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub fn enrich(conversations: &[Conversation], model: &LanguageModel) -> Result<Enrichment> {
    let start = Instant::now();
    let labels = &model.sentiment.card.labels;
    let position = |name: &str| labels.iter().position(|l| l == name);
    let (Some(neg), Some(neu), Some(pos)) = (position("negative"), position("neutral"), position("positive")) else {
        return Err(crate::error::Error::input(
            &model.sentiment_path,
            format!("a sentiment head needs the labels negative, neutral and positive; this one has {labels:?}"),
            "point [model] sentiment_head at a sentiment head",
        ));
    };
    // One pass feeding both heads: customer messages and each conversation's intent text go into
    // one deduplicated set (the intent text is usually one of the messages), embedded once.
    let mut texts = TextIndex::default();
    let mut customer_texts = 0u64;
    // Context rules decide menu choices, ratings, media, ids and lone emoji; only the rest is
    // embedded for the sentiment head.
    let (rules, menu_choices): (Vec<Vec<Option<crate::context::RuleReading>>>, Vec<Vec<Option<String>>>) =
        conversations.iter().map(|c| crate::context::readings_with_menu_choices(&c.messages)).unzip();
    let slots: Vec<Vec<Option<usize>>> = conversations
        .iter()
        .zip(&rules)
        .map(|(conv, conv_rules)| {
            conv.messages
                .iter()
                .zip(conv_rules)
                .map(|(m, rule)| {
                    let text = m
                        .text
                        .as_deref()
                        .filter(|t| m.role == Role::Customer && !t.trim().is_empty() && rule.is_none());
                    text.map(|t| {
                        customer_texts += 1;
                        texts.slot(t)
                    })
                })
                .collect()
        })
        .collect();
    let intent_slots: Vec<Option<usize>> = conversations
        .iter()
        .map(|c| {
            intent_text(c.messages.iter().filter(|m| m.role == Role::Customer).filter_map(|m| m.text.as_deref()))
                .map(|t| texts.slot(&t))
        })
        .collect();
    // Intent heads trained with subjects read an e-mail's subject line (one short text per
    // e-mail conversation; `subject` in the conversations table).
    let pooling = model.intent.card.intent_pooling();
    let subject_texts: Vec<Option<&str>> = conversations
        .iter()
        .map(|c| c.record.as_ref().and_then(|r| r.subject.as_deref()).and_then(intent_subject))
        .collect();
    let subject_slots: Vec<Option<usize>> =
        subject_texts.iter().map(|subject| subject.filter(|_| pooling.subject > 0.0).map(|s| texts.slot(s))).collect();
    // Intent heads trained with menu choices read the options the customer picked; options
    // repeat across a business's conversations, so they deduplicate well.
    let menu_slots: Vec<Vec<usize>> = menu_choices
        .iter()
        .map(|picked| picked.iter().flatten().filter(|_| pooling.menu_choice > 0.0).map(|o| texts.slot(o)).collect())
        .collect();
    // The resolution head also reads the business's last two messages (customer ones are
    // embedded already); templates repeat, so they deduplicate well.
    let mut business_texts = 0u64;
    let exchanges: Vec<Option<(ClosingExchange, Vec<Option<usize>>)>> = match &model.resolution {
        None => vec![None; conversations.len()],
        Some(_) => conversations
            .iter()
            .zip(&rules)
            .zip(&slots)
            .map(|((conv, conv_rules), conv_slots)| {
                let exchange = closing_exchange(&conv.messages, conv_rules);
                let text_slots: Vec<Option<usize>> = exchange
                    .slots
                    .iter()
                    .enumerate()
                    .map(|(k, slot)| {
                        slot.and_then(|i| match conv_slots[i] {
                            Some(s) => Some(s),
                            None => conv.messages[i].text.as_deref().map(|t| {
                                business_texts += 1;
                                texts.slot(&slot_text(k, t))
                            }),
                        })
                    })
                    .collect();
                text_slots.iter().any(Option::is_some).then_some((exchange, text_slots))
            })
            .collect(),
    };
    let refs: Vec<&str> = texts.distinct.iter().map(String::as_str).collect();
    let read_for_intent = intent_read_slots(conversations, &slots, &rules, &menu_slots, &subject_slots);
    let (embedded, intent_head_embeddings) =
        model.encoder.embed_texts_and_branch(&refs, model.max_tokens, &read_for_intent)?;
    let intent_vectors = intent_head_embeddings.as_ref().unwrap_or(&embedded.vectors);
    let probs = sentiment_proba(model, &embedded.vectors, &refs, &slots)?;
    let results: Vec<MessageSentiment> = probs
        .iter()
        .map(|p| {
            let ordered = [p[neg], p[neu], p[pos]];
            let best = crate::heads::argmax(&ordered);
            MessageSentiment {
                label: ["negative", "neutral", "positive"][best],
                probabilities: ordered,
                score: ordered[2] - ordered[0],
                source: MessageSentiment::MODEL,
                carries_feeling: true,
            }
        })
        .collect();
    let sentiment = slots
        .iter()
        .zip(&rules)
        .map(|(row, conv_rules)| {
            row.iter()
                .zip(conv_rules)
                .map(|(s, rule)| s.map(|i| results[i]).or(rule.map(MessageSentiment::from_rule)))
                .collect()
        })
        .collect();
    // Intent from every customer message that speaks to it and the menu options picked (pooled
    // embeddings; the messages are embedded for sentiment anyway), and, for a head that blends
    // a lexical reader, the same texts raw in message order (as the trainer reads them: word
    // pairs span lines), with the subject last.
    let (intent_inputs, intent_documents): (Vec<Option<Vec<f32>>>, Vec<Option<String>>) = conversations
        .iter()
        .zip(&slots)
        .zip(&rules)
        .zip(&menu_choices)
        .zip(menu_slots.iter().zip(&subject_slots).zip(&subject_texts))
        .map(|((((conv, row), conv_rules), picked_options), ((menus, subject), subject_text))| {
            let mut vectors: Vec<&[f32]> = Vec::new();
            let mut read: Vec<&str> = Vec::new();
            for (((m, slot), rule), option) in conv.messages.iter().zip(row).zip(conv_rules).zip(picked_options) {
                match (m.text.as_deref(), slot) {
                    (Some(t), Some(slot)) if reads_intent(t, *rule) => {
                        vectors.push(intent_vectors[*slot].as_slice());
                        read.push(t);
                    }
                    _ => read.extend(option.as_deref()),
                }
            }
            let picked: Vec<&[f32]> = menus.iter().map(|&i| intent_vectors[i].as_slice()).collect();
            let subject = subject.map(|i| intent_vectors[i].as_slice());
            let document =
                model.intent_lexical.as_ref().map(|_| intent_document(read.into_iter().chain(*subject_text)));
            (pooling.pool(&vectors, &picked, subject), document)
        })
        .unzip();
    let intent = conversation_intents(&intent_inputs, &intent_documents, &intent_slots, model)?;
    let resolution = match &model.resolution {
        Some(head) => conversation_resolutions(head, &exchanges, &embedded.vectors)?,
        None => vec![None; conversations.len()],
    };
    Ok(Enrichment {
        sentiment,
        intent,
        stats: EnrichStats {
            encoder: model.encoder_path.display().to_string(),
            adapter: model.adapter_path.display().to_string(),
            sentiment_head: model.sentiment_path.display().to_string(),
            intent_head: model.intent_path.display().to_string(),
            resolution_head: model.resolution_path.display().to_string(),
            customer_texts,
            business_texts,
            distinct_texts: texts.distinct.len() as u64,
            tokens: embedded.tokens as u64,
            truncated: embedded.truncated as u64,
            max_tokens: model.max_tokens,
            intent_adapter_texts: intent_head_embeddings
                .as_ref()
                .map_or(0, |v| v.iter().filter(|e| !e.is_empty()).count() as u64),
            seconds: (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        },
        intent_embeddings: embedded.vectors,
        intent_head_embeddings,
        message_slots: slots,
        resolution,
    })
}

/// The slots of the texts the intent head pools: substantive customer messages no rule decided,
/// and the menu options and subjects its card reads (as `enrich` pools them).
fn intent_read_slots(
    conversations: &[Conversation],
    slots: &[Vec<Option<usize>>],
    rules: &[Vec<Option<crate::context::RuleReading>>],
    menu_slots: &[Vec<usize>],
    subject_slots: &[Option<usize>],
) -> Vec<usize> {
    let mut read = std::collections::BTreeSet::new();
    for (((conv, row), conv_rules), (menus, subject)) in
        conversations.iter().zip(slots).zip(rules).zip(menu_slots.iter().zip(subject_slots))
    {
        for ((m, slot), rule) in conv.messages.iter().zip(row).zip(conv_rules) {
            if let (Some(t), Some(slot)) = (m.text.as_deref(), slot) {
                if reads_intent(t, *rule) {
                    read.insert(*slot);
                }
            }
        }
        read.extend(menus.iter().copied().chain(*subject));
    }
    read.into_iter().collect()
}

/// Each conversation's resolution from its closing exchange's embeddings (text slots index
/// `vectors`), with the message that decided it.
fn conversation_resolutions(
    head: &Head,
    exchanges: &[Option<(ClosingExchange, Vec<Option<usize>>)>],
    vectors: &[Vec<f32>],
) -> Result<Vec<Option<Resolution>>> {
    let dim = vectors.first().map_or(0, Vec::len);
    let inputs: Vec<Vec<f32>> = exchanges
        .iter()
        .flatten()
        .map(|(exchange, text_slots)| {
            resolution_input(exchange, std::array::from_fn(|k| text_slots[k].map(|t| vectors[t].as_slice())), dim)
        })
        .collect();
    let probs = head.predict_proba(&inputs)?;
    let weights = head.linear_weights()?;
    let mut read = probs.into_iter().zip(&inputs);
    Ok(exchanges
        .iter()
        .map(|e| {
            e.as_ref().map(|(exchange, _)| {
                let (p, x) = read.next().expect("one prediction per exchange");
                let probabilities = [p[0], p[1], p[2], p[3]];
                let class = crate::heads::argmax(&probabilities);
                let decided_by =
                    weights.as_deref().and_then(|w| deciding_slot(w, class, x, dim)).and_then(|s| exchange.slots[s]);
                Resolution { probabilities, decided_by }
            })
        })
        .collect())
}

/// Distinct inference keys in first-seen order.
#[derive(Default)]
struct TextIndex {
    index: HashMap<String, usize>,
    distinct: Vec<String>,
}

impl TextIndex {
    fn slot(&mut self, text: &str) -> usize {
        let key = inference_key(text);
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        self.distinct.push(key.clone());
        self.index.insert(key, self.distinct.len() - 1);
        self.distinct.len() - 1
    }
}

/// The sentiment head's probabilities for each distinct text. A head that blends a lexical
/// reader blends it only on the texts read for sentiment (`slots`); the rest (intent
/// documents, subjects, closing messages) share the embedding pass but never read sentiment.
fn sentiment_proba(
    model: &LanguageModel,
    vectors: &[Vec<f32>],
    texts: &[&str],
    slots: &[Vec<Option<usize>>],
) -> Result<Vec<Vec<f32>>> {
    let mut probs = model.sentiment.predict_proba(vectors)?;
    if let Some(lexical) = &model.sentiment_lexical {
        let mut read: Vec<usize> = slots.iter().flatten().flatten().copied().collect();
        read.sort_unstable();
        read.dedup();
        let read_vectors: Vec<Vec<f32>> = read.iter().map(|&i| vectors[i].clone()).collect();
        let read_texts: Vec<&str> = read.iter().map(|&i| texts[i]).collect();
        let blended = blended_proba(&model.sentiment, Some(lexical), &read_vectors, &read_texts)?;
        for (i, p) in read.into_iter().zip(blended) {
            probs[i] = p;
        }
    }
    Ok(probs)
}

/// Each conversation's intent from its pooled intent vector and lexical document (None: nothing
/// substantive said). `text_slots` (the opening's embedding) travel along for same-topic reopen
/// matching.
fn conversation_intents(
    inputs: &[Option<Vec<f32>>],
    documents: &[Option<String>],
    text_slots: &[Option<usize>],
    model: &LanguageModel,
) -> Result<Vec<ConversationIntent>> {
    let present: Vec<Vec<f32>> = inputs.iter().flatten().cloned().collect();
    let present_documents: Vec<&str> =
        inputs.iter().zip(documents).filter(|(i, _)| i.is_some()).map(|(_, d)| d.as_deref().unwrap_or("")).collect();
    let mut probs =
        blended_proba(&model.intent, model.intent_lexical.as_ref(), &present, &present_documents)?.into_iter();
    Ok(inputs
        .iter()
        .zip(text_slots)
        .map(|(input, &text_slot)| match input {
            Some(_) => {
                let p = probs.next().expect("one prediction per present input");
                let (intent, confidence) = intent_label(&p, model);
                ConversationIntent { intent, confidence: Some(confidence), probabilities: Some(p), text_slot }
            }
            None => ConversationIntent { intent: "other".into(), confidence: None, probabilities: None, text_slot },
        })
        .collect())
}

/// The most probable intent and its probability; below the threshold, the fallback label (a head
/// trained with an out-of-scope label carries its own calibrated threshold).
fn intent_label(probs: &[f32], model: &LanguageModel) -> (String, f64) {
    let (fallback, min_confidence) = match &model.intent.card.out_of_scope {
        Some(o) => (o.label.as_str(), o.min_confidence),
        None => ("other", model.taxonomy.min_confidence),
    };
    let best = crate::heads::argmax(probs);
    let confidence = probs[best] as f64;
    let intent =
        if confidence >= min_confidence { model.intent.card.labels[best].clone() } else { fallback.to_string() };
    (intent, confidence)
}

/// Each customer message's intent, read after enrichment (aligned like `Enrichment::sentiment`;
/// None for messages not read for intent): the message's own reading (its embedding and, for a
/// head that blends a lexical reader, its inference key, so one distinct text always reads the
/// same) blended with its conversation's probabilities by `conversation_weight`
/// (heads::intent::message_intent_proba; 0 reads the message alone, 1 copies the conversation).
///
/// `convoqa eval-readings` measures it against the corpus's per-message labels; analyze does not
/// write it, because it has not measured better than the conversation's intent (intent CARD).
pub fn message_intents(
    conversations: &[Conversation],
    enrichment: &Enrichment,
    model: &LanguageModel,
    conversation_weight: f64,
) -> Result<Vec<Vec<Option<MessageIntent>>>> {
    // Slotted customer messages are the ones no context rule decided; of those, the substantive
    // ones are read for intent, as `enrich` reads them for the conversation's.
    let reads: Vec<Vec<Option<(usize, String)>>> = conversations
        .iter()
        .zip(&enrichment.message_slots)
        .map(|(c, slots)| {
            c.messages
                .iter()
                .zip(slots)
                .map(|(m, slot)| match (m.text.as_deref(), slot) {
                    (Some(t), Some(slot)) if reads_intent(t, None) => Some((*slot, inference_key(t))),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let mut position: HashMap<usize, usize> = HashMap::new();
    let mut inputs: Vec<Vec<f32>> = Vec::new();
    let mut documents: Vec<&str> = Vec::new();
    for (slot, key) in reads.iter().flatten().flatten() {
        position.entry(*slot).or_insert_with(|| {
            let vectors = enrichment.intent_head_embeddings.as_ref().unwrap_or(&enrichment.intent_embeddings);
            inputs.push(vectors[*slot].clone());
            documents.push(key);
            inputs.len() - 1
        });
    }
    let own = blended_proba(&model.intent, model.intent_lexical.as_ref(), &inputs, &documents)?;
    Ok(reads
        .iter()
        .zip(&enrichment.intent)
        .map(|(row, conversation)| {
            row.iter()
                .map(|read| {
                    read.as_ref().map(|(slot, _)| {
                        let own = &own[position[slot]];
                        let p = match &conversation.probabilities {
                            Some(c) => message_intent_proba(own, c, conversation_weight),
                            None => own.clone(),
                        };
                        let (intent, confidence) = intent_label(&p, model);
                        MessageIntent { intent, confidence }
                    })
                })
                .collect()
        })
        .collect())
}

pub use crate::row::ConversationSentiment;
use crate::row::ModelReading;

/// Each conversation's reading (aligned with the conversations enriched): its sentiment shape and
/// intent.
pub fn model_readings(e: &Enrichment) -> Vec<ModelReading> {
    e.sentiment
        .iter()
        .zip(&e.intent)
        .zip(&e.resolution)
        .map(|((scores, intent), resolution)| ModelReading {
            sentiment: conversation_sentiment(scores),
            intent: Some(intent.intent.clone()),
            intent_confidence: intent.confidence,
            resolution_state: resolution.map(|r| r.state()),
            resolution_confidence: resolution.map(|r| r.confidence()),
        })
        .collect()
}

pub fn conversation_sentiment(scores: &[Option<MessageSentiment>]) -> ConversationSentiment {
    let felt = || scores.iter().flatten().filter(|m| m.carries_feeling);
    let s: Vec<f64> = felt().map(|m| m.score as f64).collect();
    let Some(last) = felt().next_back() else {
        return ConversationSentiment::default();
    };
    let (start, end) = (s[0], s[s.len() - 1]);
    ConversationSentiment {
        start: Some(start),
        end: Some(end),
        mean: Some(s.iter().sum::<f64>() / s.len() as f64),
        min: Some(s.iter().copied().fold(f64::INFINITY, f64::min)),
        trend: Some(end - start),
        ends_negative: Some(last.label == "negative"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(score: f32) -> Option<MessageSentiment> {
        Some(MessageSentiment {
            label: "neutral",
            probabilities: [0.0; 3],
            score,
            source: MessageSentiment::MODEL,
            carries_feeling: true,
        })
    }

    /// Three directions: complaint words, thanks, anything else; "paket" leans to delivery.
    struct FakeEncoder {
        calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl Embed for FakeEncoder {
        fn name(&self) -> &str {
            "fake"
        }
        fn embed_texts(
            &self,
            texts: &[&str],
            _max_tokens: usize,
        ) -> convoqa_ml::error::Result<crate::encoder::Embedded> {
            self.calls.lock().unwrap().extend(texts.iter().map(|t| t.to_string()));
            let vectors = texts
                .iter()
                .map(|t| {
                    let v: [f32; 3] = if t.contains("kecewa") {
                        [1.0, 0.0, 0.0]
                    } else if t.contains("makasih") {
                        [0.0, 0.0, 1.0]
                    } else {
                        [0.0, 1.0, 0.0]
                    };
                    let paket = if t.contains("paket") { 1.0 } else { 0.0 };
                    vec![v[0], v[1], v[2], paket]
                })
                .collect();
            Ok(crate::encoder::Embedded { vectors, tokens: texts.len(), truncated: 0 })
        }
    }

    fn head(labels: &[&str], weights: Vec<f32>) -> Head {
        let n = labels.len();
        let w = candle_core::Tensor::from_vec(weights, (n, 4), &candle_core::Device::Cpu).unwrap();
        let b = candle_core::Tensor::zeros(n, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
        Head::new(crate::heads::HeadCard::bare(&labels.iter().map(|l| l.to_string()).collect::<Vec<_>>()), vec![(w, b)])
    }

    /// Conversation "c1" of (seconds, role, text) messages.
    fn conversation(said: &[(i64, Role, &str)]) -> Conversation {
        let messages = said
            .iter()
            .map(|&(t_s, role, text)| crate::model::Message::for_test("c1", t_s * 1_000_000, role, text))
            .collect();
        Conversation { conversation_id: "c1".into(), thread_id: "c1".into(), messages, record: None }
    }

    fn fake_model(calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> LanguageModel {
        LanguageModel {
            encoder: Box::new(FakeEncoder { calls }),
            // Each label reads its own direction, sharply.
            sentiment: head(
                &["negative", "neutral", "positive"],
                vec![10., 0., 0., 0., 0., 10., 0., 0., 0., 0., 10., 0.],
            ),
            intent: head(&["delivery_problem", "order_status"], vec![0., 0., 0., 10., 0., 1., 0., 0.]),
            sentiment_lexical: None,
            intent_lexical: None,
            resolution: None,
            taxonomy: Taxonomy::default_taxonomy(),
            encoder_path: "fake".into(),
            adapter_path: "".into(),
            sentiment_path: "fake".into(),
            intent_path: "fake".into(),
            resolution_path: "".into(),
            max_tokens: 128,
        }
    }

    #[test]
    fn enrich_reads_customer_texts_once_and_leaves_rule_decided_ones_to_the_rules() {
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let model = fake_model(calls.clone());
        let said = [
            (0, Role::Customer, "kak paket saya belum sampai, kecewa"),
            (60, Role::Bot, "Pilih menu: 1. Lacak paket 2. Komplain"),
            (70, Role::Customer, "1"),
            (120, Role::Agent, "mohon maaf kak, sudah kami cek"),
            (180, Role::Customer, "oke makasih"),
            (200, Role::Customer, "kak paket saya belum sampai, kecewa"),
        ];
        let c = conversation(&said);
        let e = enrich(std::slice::from_ref(&c), &model).unwrap();
        let labels: Vec<Option<&str>> = e.sentiment[0].iter().map(|s| s.as_ref().map(|m| m.label)).collect();
        assert_eq!(labels, vec![Some("negative"), None, Some("neutral"), None, Some("positive"), Some("negative")]);
        let menu = e.sentiment[0][2].as_ref().unwrap();
        assert_ne!(menu.source, MessageSentiment::MODEL, "a menu choice is decided by the rule");
        assert!(!menu.carries_feeling);
        assert_eq!(e.intent[0].intent, "delivery_problem");
        // The repeated text is embedded once; the menu choice and agent texts never.
        let calls = calls.lock().unwrap();
        assert_eq!(calls.iter().filter(|t| t.contains("kecewa")).count(), 1, "{calls:?}");
        assert!(!calls.iter().any(|t| t == "1" || t.contains("mohon maaf")), "{calls:?}");
        assert_eq!(e.stats.customer_texts, 3);
    }

    /// A lexical reader over `classes` labels that knows only `words`, each pointing to `class`
    /// with weight `weight` per n-gram.
    fn lexical_reader(classes: usize, class: usize, words: &[&str], weight: f32) -> LexicalHead {
        use crate::heads::lexical::{term_counts, Idf, SparseLinear, BUCKETS};
        let mut weights = vec![0f32; classes * BUCKETS];
        for (s, _) in words.iter().flat_map(|w| term_counts(w)) {
            weights[class * BUCKETS + s as usize] = weight;
        }
        LexicalHead::new(Idf::fit(&[]), SparseLinear { weights, bias: vec![0.0; classes] })
    }

    #[test]
    fn the_lexical_reader_blends_in_and_reads_the_menu_option_picked() {
        let said = [
            (0, Role::Customer, "kak paket saya belum sampai"),
            (60, Role::Bot, "Pilih menu: 1. Lacak pesanan 2. Komplain"),
            (70, Role::Customer, "1"),
        ];
        let c = conversation(&said);
        // The lexical reader knows only "lacak" (in the option picked, never typed): order_status.
        let lexical = lexical_reader(2, 1, &["lacak"], 20.0);
        let read = |weight: f64| {
            let mut model = fake_model(Default::default());
            model.intent.card.lexical_weight = weight;
            model.intent_lexical = Some(lexical.clone());
            enrich(std::slice::from_ref(&c), &model).unwrap().intent.remove(0)
        };
        assert_eq!(read(0.0).intent, "delivery_problem");
        let blended = read(0.7);
        assert_eq!(blended.intent, "order_status");
        let p = blended.confidence.unwrap();
        assert!(p > 0.5 && p < 1.0, "{p}");
    }

    #[test]
    fn the_sentiment_lexical_reader_turns_a_typed_complaint_negative() {
        // The embedding head reads "udah telat 3 hari" as neutral; the lexical reader knows
        // "telat" is negative. A bare menu choice "2" is the rule's, whatever the reader says.
        let said = [
            (0, Role::Customer, "udah telat 3 hari"),
            (60, Role::Bot, "Pilih menu: 1. Lacak 2. Telat"),
            (70, Role::Customer, "2"),
            (80, Role::Customer, "oke makasih"),
        ];
        let c = conversation(&said);
        let lexical = lexical_reader(3, 0, &["telat", "2"], 40.0);
        let read = |weight: f64| {
            let mut model = fake_model(Default::default());
            model.sentiment.card.lexical_weight = weight;
            model.sentiment_lexical = Some(lexical.clone());
            let e = enrich(std::slice::from_ref(&c), &model).unwrap();
            e.sentiment[0].iter().map(|s| s.as_ref().map(|m| m.label)).collect::<Vec<_>>()
        };
        assert_eq!(read(0.0), [Some("neutral"), None, Some("neutral"), Some("positive")]);
        // Blended, the typed complaint turns negative; the rule-decided choice and the thanks
        // (no n-gram the reader knows: it is unsure, the head is sure) keep their readings.
        assert_eq!(read(0.6), [Some("negative"), None, Some("neutral"), Some("positive")]);
    }

    #[test]
    fn sentiment_blends_only_the_texts_read_for_sentiment() {
        // Two distinct texts embedded alike; only the first is a message's slot (the second
        // stands for an intent document or a closing message sharing the embedding pass).
        let mut model = fake_model(Default::default());
        model.sentiment.card.lexical_weight = 0.6;
        model.sentiment_lexical = Some(lexical_reader(3, 0, &["telat"], 40.0));
        let vectors = vec![vec![0.0, 1.0, 0.0, 0.0]; 2];
        let texts = ["udah telat", "udah telat lg"];
        let probs = sentiment_proba(&model, &vectors, &texts, &[vec![Some(0), None]]).unwrap();
        let alone = model.sentiment.predict_proba(&vectors).unwrap();
        assert!(probs[0][0] > 0.5, "blended: {:?}", probs[0]);
        assert_eq!(probs[1], alone[1], "not read for sentiment: the head alone");
    }

    #[test]
    fn a_messages_intent_is_its_own_reading_leaning_on_its_conversation_by_the_weight() {
        let model = fake_model(Default::default());
        let said = [
            (0, Role::Customer, "kak paket saya hilang di jalan"),
            (60, Role::Bot, "Pilih menu: 1. Lacak paket 2. Komplain"),
            (70, Role::Customer, "1"),
            (120, Role::Customer, "kapan dikirim ulang?"),
        ];
        let c = conversation(&said);
        let e = enrich(std::slice::from_ref(&c), &model).unwrap();
        assert_eq!(e.intent[0].intent, "delivery_problem");
        let read = |weight: f64| -> Vec<Option<String>> {
            message_intents(std::slice::from_ref(&c), &e, &model, weight).unwrap()[0]
                .iter()
                .map(|m| m.as_ref().map(|m| m.intent.clone()))
                .collect()
        };
        // Alone, the follow-up reads as order_status; the bot message and the menu choice (a
        // rule decides it) are not read.
        let alone = read(0.0);
        assert_eq!(alone, [Some("delivery_problem".to_string()), None, None, Some("order_status".to_string())]);
        // Copying the conversation's reading makes it delivery_problem.
        assert_eq!(read(1.0)[3].as_deref(), Some("delivery_problem"));
    }

    #[test]
    fn the_resolution_head_reads_the_closing_exchange_and_names_the_deciding_message() {
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut model = fake_model(calls.clone());
        // Inputs: 4 slots x 4 dims + 3 flags. "deferred" reads a plain last business message
        // (dim 1 of slot 0); "solved" reads thanks in the last customer message (dim 2 of slot 2).
        let inputs = 4 * 4 + 3;
        let mut w = vec![0.0f32; 4 * inputs];
        w[inputs + 1] = 10.0;
        w[2 * 4 + 2] = 20.0;
        let w = candle_core::Tensor::from_vec(w, (4, inputs), &candle_core::Device::Cpu).unwrap();
        let b = candle_core::Tensor::zeros(4, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
        let labels: Vec<String> = crate::heads::resolution::LABELS.iter().map(|l| l.to_string()).collect();
        model.resolution = Some(Head::new(crate::heads::HeadCard::bare(&labels), vec![(w, b)]));
        let conv = |id: &str, said: &[(Role, &str)]| Conversation {
            conversation_id: id.into(),
            thread_id: id.into(),
            messages: said
                .iter()
                .enumerate()
                .map(|(i, &(role, text))| crate::model::Message::for_test(id, i as i64 * 60_000_000, role, text))
                .collect(),
            record: None,
        };
        let promised = conv("a", &[(Role::Customer, "paket belum sampai"), (Role::Agent, "mohon ditunggu ya kak")]);
        let thanked = conv(
            "b",
            &[
                (Role::Customer, "paket belum sampai"),
                (Role::Agent, "mohon ditunggu ya kak"),
                (Role::Customer, "oke makasih"),
            ],
        );
        let e = enrich(&[promised, thanked], &model).unwrap();
        let a = e.resolution[0].unwrap();
        assert_eq!((a.state(), a.decided_by), (crate::row::ResolutionState::Deferred, Some(1)));
        let b = e.resolution[1].unwrap();
        assert_eq!((b.state(), b.decided_by), (crate::row::ResolutionState::Solved, Some(2)));
        // The agent's template is embedded once for both conversations.
        let calls = calls.lock().unwrap();
        assert_eq!(calls.iter().filter(|t| t.contains("mohon ditunggu")).count(), 1, "{calls:?}");
        assert_eq!(e.stats.business_texts, 2);
    }

    #[test]
    fn conversation_sentiment_summarises_customer_scores_in_order() {
        let c = conversation_sentiment(&[None, ms(0.5), None, ms(-1.0), ms(-0.25)]);
        assert_eq!(c.start, Some(0.5));
        assert_eq!(c.end, Some(-0.25));
        assert_eq!(c.min, Some(-1.0));
        assert_eq!(c.trend, Some(-0.75));
        assert_eq!(c.ends_negative, Some(false)); // the last label, not the score's sign
        assert!((c.mean.unwrap() - (-0.25)).abs() < 1e-12);
        assert_eq!(conversation_sentiment(&[None]), ConversationSentiment::default());
    }
}
