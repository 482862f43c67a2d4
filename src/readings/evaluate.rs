//! The shipped path measured on a corpus split: context rules, then the model through `enrich`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::enrich::LanguageModel;
use crate::error::Result;
use crate::heads::corpus::{Corpus, CorpusConversation};
use crate::heads::metrics::{evaluate, Metrics};
use crate::heads::sentiment::LABELS;

use super::label_of;

/// Metrics of the shipped path on one corpus split, overall and by language and channel.
#[derive(Debug, Serialize)]
pub struct CorpusReport {
    pub split: String,
    pub conversations: usize,
    pub sentiment: Metrics,
    pub sentiment_by_language: BTreeMap<String, Metrics>,
    pub sentiment_by_channel: BTreeMap<String, Metrics>,
    /// Messages decided by a context rule, and how many of them agree with the label.
    pub rule_decided: usize,
    pub rule_agreeing: usize,
    pub intent: Metrics,
    pub intent_by_language: BTreeMap<String, Metrics>,
    pub intent_by_channel: BTreeMap<String, Metrics>,
    pub other_share_true: f64,
    pub other_share_predicted: f64,
    /// Per-message intent readings against labels/message_intent, where the split has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_intent: Option<MessageIntentReport>,
}

/// Per-message intent (`enrich::message_intents`, not written by analyze) against the corpus's
/// per-message labels.
#[derive(Debug, Serialize)]
pub struct MessageIntentReport {
    /// Customer messages labelled with a need (an intent, not null).
    pub labelled: usize,
    /// Of those, the ones the model reads (it reads no rule-decided or filler message).
    pub read: usize,
    /// On the labelled messages read: each message read alone.
    pub own_reading: Metrics,
    /// Blended with its conversation's reading at `MESSAGE_CONVERSATION_WEIGHT`.
    pub blended: Metrics,
    /// The baseline a per-message column must beat: the conversation's intent copied to each
    /// of its messages.
    pub conversation_intent_copied: Metrics,
    /// Messages the model reads that the labeller found no need in (null).
    pub read_without_need: usize,
}

/// The conversation's weight in a message's intent for `eval-readings`: picked among 0, 0.25,
/// 0.5, 0.75 and 1 on the eighth test split's per-message labels with stop 24's intent head,
/// which never trained on it (accuracy 0.685 / 0.766 / 0.825 / 0.859 / 0.856).
pub const MESSAGE_CONVERSATION_WEIGHT: f64 = 0.75;

fn grouped(labels: &[String], rows: &[(String, usize, usize)]) -> BTreeMap<String, Metrics> {
    let mut groups: BTreeMap<String, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (g, t, p) in rows {
        let e = groups.entry(g.clone()).or_default();
        e.0.push(*t);
        e.1.push(*p);
    }
    groups.into_iter().map(|(g, (t, p))| (g, evaluate(labels, &t, &p))).collect()
}

/// Per-message intent against labels/message_intent, on the conversations that have them (None
/// without any).
fn message_intent_report(
    convs: &[&CorpusConversation],
    assembled: &[crate::model::Conversation],
    enrichment: &crate::enrich::Enrichment,
    model: &LanguageModel,
) -> Result<Option<MessageIntentReport>> {
    if convs.iter().all(|c| c.message_intents.is_none()) {
        return Ok(None);
    }
    let i_labels = &model.intent.card.labels;
    let own_reading = crate::enrich::message_intents(assembled, enrichment, model, 0.0)?;
    let blended = crate::enrich::message_intents(assembled, enrichment, model, MESSAGE_CONVERSATION_WEIGHT)?;
    let (mut mi_truth, mut mi_own, mut mi_blended, mut mi_copied) = (vec![], vec![], vec![], vec![]);
    let (mut mi_labelled, mut mi_without_need) = (0, 0);
    for (((c, intent), own), blend) in convs.iter().zip(&enrichment.intent).zip(&own_reading).zip(&blended) {
        let Some(labels) = &c.message_intents else { continue };
        let read = c.messages.iter().zip(own.iter().zip(blend)).filter(|(m, _)| m.role == "customer").map(|(_, r)| r);
        for (label, (own, blend)) in labels.iter().zip(read) {
            mi_labelled += usize::from(label.is_some());
            match (label, own, blend) {
                (Some(label), Some(own), Some(blend)) => {
                    mi_truth.push(label_of(i_labels, label, "message intent labels")?);
                    mi_own.push(label_of(i_labels, &own.intent, "prediction")?);
                    mi_blended.push(label_of(i_labels, &blend.intent, "prediction")?);
                    mi_copied.push(label_of(i_labels, &intent.intent, "prediction")?);
                }
                (None, Some(_), _) => mi_without_need += 1,
                _ => {}
            }
        }
    }
    Ok((mi_labelled > 0).then(|| MessageIntentReport {
        labelled: mi_labelled,
        read: mi_truth.len(),
        own_reading: evaluate(i_labels, &mi_truth, &mi_own),
        blended: evaluate(i_labels, &mi_truth, &mi_blended),
        conversation_intent_copied: evaluate(i_labels, &mi_truth, &mi_copied),
        read_without_need: mi_without_need,
    }))
}

/// Runs context rules and the model exactly as `analyze` does (`enrich::enrich`) on a split.
pub fn evaluate_corpus(model: &LanguageModel, corpus: &Corpus, split: &str) -> Result<CorpusReport> {
    let convs: Vec<&CorpusConversation> = corpus.split(split).collect();
    let assembled: Vec<crate::model::Conversation> =
        convs.iter().map(|c| c.to_conversation()).collect::<convoqa_ml::error::Result<_>>()?;
    let enrichment = crate::enrich::enrich(&assembled, model)?;
    let s_labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let i_labels = model.intent.card.labels.clone();
    let (mut s_lang, mut s_chan, mut i_lang, mut i_chan) = (vec![], vec![], vec![], vec![]);
    let (mut rule_decided, mut rule_agreeing) = (0, 0);
    for ((c, sent), intent) in convs.iter().zip(&enrichment.sentiment).zip(&enrichment.intent) {
        for (m, s) in c.messages.iter().zip(sent) {
            let (Some(label), Some(s)) = (&m.sentiment, s) else { continue };
            let t = label_of(&s_labels, label, "corpus")?;
            let p = label_of(&s_labels, s.label, "prediction")?;
            if s.source != crate::enrich::MessageSentiment::MODEL {
                rule_decided += 1;
                rule_agreeing += usize::from(t == p);
            }
            s_lang.push((c.language.clone(), t, p));
            s_chan.push((c.channel.clone(), t, p));
        }
        let t = label_of(&i_labels, &c.intent, "corpus")?;
        let p = label_of(&i_labels, &intent.intent, "prediction")?;
        i_lang.push((c.language.clone(), t, p));
        i_chan.push((c.channel.clone(), t, p));
    }
    let all = |rows: &[(String, usize, usize)], labels: &[String]| {
        evaluate(labels, &rows.iter().map(|r| r.1).collect::<Vec<_>>(), &rows.iter().map(|r| r.2).collect::<Vec<_>>())
    };
    let other = label_of(&i_labels, "other", "intent head")?;
    let n = i_lang.len().max(1) as f64;
    Ok(CorpusReport {
        split: split.to_string(),
        conversations: convs.len(),
        sentiment: all(&s_lang, &s_labels),
        sentiment_by_language: grouped(&s_labels, &s_lang),
        sentiment_by_channel: grouped(&s_labels, &s_chan),
        rule_decided,
        rule_agreeing,
        intent: all(&i_lang, &i_labels),
        intent_by_language: grouped(&i_labels, &i_lang),
        intent_by_channel: grouped(&i_labels, &i_chan),
        other_share_true: i_lang.iter().filter(|r| r.1 == other).count() as f64 / n,
        other_share_predicted: i_lang.iter().filter(|r| r.2 == other).count() as f64 / n,
        message_intent: message_intent_report(&convs, &assembled, &enrichment, model)?,
    })
}

/// A few lines a person reads: the headline figures of a corpus report.
pub fn summary(r: &CorpusReport) -> String {
    let by = |m: &BTreeMap<String, Metrics>| {
        m.iter().map(|(k, v)| format!("{k} {:.3}", v.macro_f1)).collect::<Vec<_>>().join(", ")
    };
    let by_acc = |m: &BTreeMap<String, Metrics>| {
        m.iter().map(|(k, v)| format!("{k} {:.3}", v.accuracy)).collect::<Vec<_>>().join(", ")
    };
    format!(
        "corpus {} split: {} conversations\n  customer-message sentiment: macro-F1 {:.3}, accuracy {:.3} on {} messages ({} decided by context rules, {} of them as labelled)\n    by language: {}\n    by channel: {}\n  conversation intent: accuracy {:.3}, macro-F1 {:.3}; `other` share {:.3} predicted vs {:.3} true\n    accuracy by language: {}\n    accuracy by channel: {}\n",
        r.split, r.conversations, r.sentiment.macro_f1, r.sentiment.accuracy, r.sentiment.n, r.rule_decided, r.rule_agreeing,
        by(&r.sentiment_by_language), by(&r.sentiment_by_channel), r.intent.accuracy, r.intent.macro_f1, r.other_share_predicted, r.other_share_true,
        by_acc(&r.intent_by_language), by_acc(&r.intent_by_channel)
    ) + &r.message_intent.as_ref().map_or(String::new(), |m| format!(
        "  message intent (not written by analyze), accuracy / macro-F1 on {} of {} messages labelled with a need: read alone {:.3} / {:.3}, blended with the conversation {:.3} / {:.3}, the conversation's intent copied {:.3} / {:.3}; {} read where the labeller saw no need\n",
        m.read, m.labelled, m.own_reading.accuracy, m.own_reading.macro_f1, m.blended.accuracy, m.blended.macro_f1,
        m.conversation_intent_copied.accuracy, m.conversation_intent_copied.macro_f1, m.read_without_need
    ))
}
