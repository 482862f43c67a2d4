//! The voice-of-customer backlog for product teams: what customers complain about, in their own
//! words, ranked by what it costs.
//!
//! Negative customer messages (with content: not "halo?" or "kak??") are grouped by their
//! conversation's intent, then clustered inside each intent by embedding similarity (leader
//! clustering: a message joins the first theme whose first message it is at least
//! `THEME_SIMILARITY` close to, in order of how often each text occurs). Each theme becomes an
//! item with a title from its most characteristic words, the conversations it touches, their
//! reopen rate and low-CSAT share, the intent's owner team, and 3-5 redacted quotes. Cost =
//! conversations affected x (reopen rate + low-CSAT share).
//!
//! Trend: given an earlier run's voc_backlog.parquet (`analyze --previous DIR`), each theme is
//! matched to the earlier theme of the same intent whose centroid is closest (cosine at least
//! `TREND_SIMILARITY`) and compared by share of all conversations, so periods of different
//! length compare fairly.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::enrich::Enrichment;
use crate::model::{Conversation, Role};
use crate::redact::snippet;
use crate::row::ConversationRow;

/// Cosine at or above which two negative messages share a theme. e5 embeddings sit close
/// together (different-intent pairs of the taxonomy: median 0.83, 99th percentile 0.91), so a
/// theme needs more than that.
pub const THEME_SIMILARITY: f32 = 0.9;

/// One row of voc_backlog.parquet.
#[derive(Debug, Clone, PartialEq)]
pub struct VocItem {
    pub rank: u64,
    pub intent: String,
    pub owner_team: Option<String>,
    pub title: String,
    pub conversations: u64,
    /// Of all conversations in the run.
    pub share: f64,
    pub messages: u64,
    pub reopen_rate: Option<f64>,
    /// Surveyed conversations rating 1-3, where there are ratings; else null.
    pub surveyed_low_csat_share: Option<f64>,
    /// Mean low_csat_risk of the affected conversations (covers the unsurveyed).
    pub low_csat_share: f64,
    pub cost: f64,
    /// 3-5 redacted quotes, the most central first.
    pub quotes: Vec<String>,
    /// Normalised mean embedding of the theme's messages: what the next run matches against.
    pub centroid: Vec<f32>,
    /// Filled by [`apply_trend`] when an earlier run is given.
    pub trend: Option<Trend>,
}

/// A theme against the earlier run.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// "new" (no matching theme before), "up", "down" or "steady".
    pub direction: &'static str,
    pub previous_conversations: Option<u64>,
    pub previous_share: Option<f64>,
}

/// An earlier run's theme, as read back from its voc_backlog.parquet.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousTheme {
    pub intent: String,
    pub conversations: u64,
    pub share: f64,
    pub centroid: Vec<f32>,
}

/// Same-intent themes of two runs at least this close (centroid cosine) are the same theme;
/// a little below THEME_SIMILARITY, since a centroid moves as the theme gains messages.
pub const TREND_SIMILARITY: f32 = 0.85;

/// Fills each item's trend: "up"/"down" when its share of conversations moved by 25% or more
/// (relative) and either period has at least 5 conversations in it; otherwise "steady".
pub fn apply_trend(items: &mut [VocItem], previous: &[PreviousTheme]) {
    for item in items {
        let best = previous
            .iter()
            .filter(|p| p.intent == item.intent && p.centroid.len() == item.centroid.len())
            .map(|p| (cosine(&p.centroid, &item.centroid), p))
            .filter(|(c, _)| *c >= TREND_SIMILARITY)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        item.trend = Some(match best {
            None => Trend { direction: "new", previous_conversations: None, previous_share: None },
            Some((_, p)) => {
                let ratio = item.share / p.share.max(f64::MIN_POSITIVE);
                let enough = item.conversations.max(p.conversations) >= 5;
                let direction = match () {
                    _ if enough && ratio >= 1.25 => "up",
                    _ if enough && ratio <= 0.8 => "down",
                    _ => "steady",
                };
                Trend { direction, previous_conversations: Some(p.conversations), previous_share: Some(p.share) }
            }
        });
    }
}

fn centroid(vectors: &[Vec<f32>], slots: &[usize]) -> Vec<f32> {
    let mut sum = vec![0.0f32; vectors[slots[0]].len()];
    for &s in slots {
        for (a, v) in sum.iter_mut().zip(&vectors[s]) {
            *a += v;
        }
    }
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    sum.iter().map(|v| v / norm).collect()
}

const STOPWORDS: [&str; 48] = [
    "kak", "min", "ya", "yg", "yang", "aku", "saya", "gak", "ga", "tidak", "nggak", "udah", "sudah", "belum", "blm",
    "ini", "itu", "di", "ke", "dan", "tapi", "tp", "juga", "kok", "sih", "dong", "nya", "the", "a", "to", "i", "my",
    "is", "it", "and", "of", "for", "not", "still", "in", "on", "me", "you", "ada", "mau", "lagi", "masih", "buat",
];

fn words(text: &str) -> Vec<String> {
    crate::text::strip_references(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3 && !w.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

struct Theme {
    leader: usize,
    /// (conversation index, message index) of every member message.
    members: Vec<(usize, usize)>,
    slots: Vec<usize>,
}

/// Builds the backlog; `owner_team` maps an intent to its owner from the taxonomy.
/// One negative customer message a VOC theme can be made of.
#[derive(Debug, Clone)]
pub struct NegativeMessage {
    /// Index of its conversation in the rows.
    pub conversation: usize,
    /// Position in its conversation (the order messages are met in).
    pub message: usize,
    pub text: String,
    /// Its embedding's index in the vectors passed to `voc_backlog`.
    pub slot: usize,
}

/// The negative customer messages (two words or more) of conversations with an intent, in
/// conversation then message order; `slot`s index `enrichment.intent_embeddings`.
pub fn negative_messages(
    rows: &[ConversationRow],
    conversations: &[Conversation],
    enrichment: &Enrichment,
) -> Vec<NegativeMessage> {
    let mut out = Vec::new();
    for (c, conv) in conversations.iter().enumerate() {
        if rows[c].reading.intent.is_none() {
            continue;
        }
        for (m, msg) in conv.messages.iter().enumerate() {
            let negative = enrichment.sentiment[c][m].is_some_and(|s| s.label == "negative");
            let text = msg.text.as_deref().unwrap_or("");
            if msg.role == Role::Customer && negative && words(text).len() >= 2 {
                if let Some(slot) = enrichment.message_slots[c][m] {
                    out.push(NegativeMessage { conversation: c, message: m, text: text.to_string(), slot });
                }
            }
        }
    }
    out
}

/// Themes of the negative messages (in conversation then message order), by intent.
pub fn voc_backlog(
    rows: &[ConversationRow],
    negative: &[NegativeMessage],
    vectors: &[Vec<f32>],
    owner_team: &HashMap<String, String>,
) -> Vec<VocItem> {
    let mut by_intent: BTreeMap<&str, Vec<(usize, usize, usize)>> = BTreeMap::new();
    let mut texts: HashMap<(usize, usize), &str> = HashMap::new();
    for n in negative {
        let Some(intent) = rows[n.conversation].reading.intent.as_deref() else { continue };
        by_intent.entry(intent).or_default().push((n.conversation, n.message, n.slot));
        texts.insert((n.conversation, n.message), &n.text);
    }
    let text_of = |c: usize, m: usize| texts[&(c, m)];
    let total_conversations = rows.len().max(1) as f64;
    let mut items = Vec::new();
    for (intent, msgs) in by_intent {
        // Leaders in order of frequency (then first appearance), so common complaints lead.
        let mut freq: HashMap<usize, usize> = HashMap::new();
        for &(_, _, s) in &msgs {
            *freq.entry(s).or_default() += 1;
        }
        let mut order: Vec<usize> = (0..msgs.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(freq[&msgs[i].2]), i));
        let mut themes: Vec<Theme> = Vec::new();
        for i in order {
            let (c, m, slot) = msgs[i];
            let v = &vectors[slot];
            match themes.iter_mut().find(|t| cosine(&vectors[t.leader], v) >= THEME_SIMILARITY) {
                Some(t) => {
                    t.members.push((c, m));
                    t.slots.push(slot);
                }
                None => themes.push(Theme { leader: slot, members: vec![(c, m)], slots: vec![slot] }),
            }
        }
        // Words across the intent's negative messages, for the titles' contrast.
        let mut intent_words: HashMap<String, usize> = HashMap::new();
        for &(c, m, _) in &msgs {
            for w in words(text_of(c, m)) {
                *intent_words.entry(w).or_default() += 1;
            }
        }
        for t in themes {
            let affected: BTreeSet<usize> = t.members.iter().map(|&(c, _)| c).collect();
            let reopen: Vec<bool> = affected.iter().filter_map(|&c| rows[c].link.reopened).collect();
            let surveyed: Vec<f64> = affected.iter().filter_map(|&c| rows[c].csat_score).collect();
            let low_csat_share = affected.iter().map(|&c| rows[c].risk.low_csat_risk.unwrap_or(0.0)).sum::<f64>()
                / affected.len() as f64;
            let reopen_rate =
                (!reopen.is_empty()).then(|| reopen.iter().filter(|&&r| r).count() as f64 / reopen.len() as f64);
            // Title: the theme's words weighted by how much more they occur here than in the
            // intent as a whole (smoothed), top three.
            let mut counts: HashMap<String, usize> = HashMap::new();
            for &(c, m) in &t.members {
                for w in words(text_of(c, m)) {
                    *counts.entry(w).or_default() += 1;
                }
            }
            let mut scored: Vec<(f64, String)> = counts
                .into_iter()
                .map(|(w, n)| (n as f64 * (n as f64 + 1.0) / (intent_words[&w] as f64 + 1.0), w))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let title = scored.iter().take(3).map(|s| s.1.as_str()).collect::<Vec<_>>().join(" ");
            // Quotes: distinct texts closest to the leader.
            let mut quotes: Vec<(f32, String)> = Vec::new();
            let mut seen: BTreeSet<usize> = BTreeSet::new();
            for (&(c, m), &slot) in t.members.iter().zip(&t.slots) {
                if seen.insert(slot) {
                    let text = text_of(c, m);
                    quotes.push((cosine(&vectors[t.leader], &vectors[slot]), snippet(text, 160)));
                }
            }
            quotes.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let n = affected.len() as f64;
            items.push(VocItem {
                rank: 0,
                intent: intent.to_string(),
                owner_team: owner_team.get(intent).cloned(),
                title,
                conversations: affected.len() as u64,
                share: n / total_conversations,
                messages: t.members.len() as u64,
                reopen_rate,
                surveyed_low_csat_share: (!surveyed.is_empty())
                    .then(|| surveyed.iter().filter(|&&s| s <= 3.0).count() as f64 / surveyed.len() as f64),
                low_csat_share,
                cost: n * (reopen_rate.unwrap_or(0.0) + low_csat_share),
                quotes: quotes.into_iter().take(5).map(|q| q.1).collect(),
                centroid: centroid(vectors, &t.slots),
                trend: None,
            });
        }
    }
    items.sort_by(|a, b| b.cost.total_cmp(&a.cost).then(a.intent.cmp(&b.intent)).then(a.title.cmp(&b.title)));
    for (i, item) in items.iter_mut().enumerate() {
        item.rank = i as u64 + 1;
    }
    items
}

/// "; trend: up from 1.2% of conversations" for the Markdown and the report.
pub fn trend_text(t: &Trend) -> String {
    match t.previous_share {
        None => "; trend: new since the previous run".into(),
        Some(p) => format!("; trend: {} (previous run {:.1}% of conversations)", t.direction, p * 100.0),
    }
}

/// voc_backlog.md: the items as a readable list for a product team.
pub fn voc_markdown(items: &[VocItem], limit: usize) -> String {
    let mut out = String::from("# Voice of the customer: what customers complain about\n\n");
    out.push_str("Ranked by cost = conversations affected x (reopen rate + low-CSAT share). Quotes are redacted.\n\n");
    if items.is_empty() {
        out.push_str("No negative customer messages in this run.\n");
    }
    for item in items.iter().take(limit) {
        out.push_str(&format!(
            "## {}. {} ({}): \"{}\"\n\n- owner: {}\n- {} conversations ({:.1}% of all), {} messages{}\n- reopen rate {}, low-CSAT share {:.0}%, cost {:.1}\n",
            item.rank,
            item.intent,
            item.conversations,
            item.title,
            item.owner_team.as_deref().unwrap_or("-"),
            item.conversations,
            item.share * 100.0,
            item.messages,
            item.trend.as_ref().map_or(String::new(), trend_text),
            item.reopen_rate.map_or("-".to_string(), |r| format!("{:.0}%", r * 100.0)),
            item.low_csat_share * 100.0,
            item.cost
        ));
        for q in &item.quotes {
            out.push_str(&format!("  > {q}\n"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::MessageSentiment;
    use crate::model::Message;

    fn msg(text: &str) -> Message {
        Message::for_test("c", 0, Role::Customer, text)
    }

    const NEG: Option<MessageSentiment> = Some(MessageSentiment {
        label: "negative",
        probabilities: [0.9, 0.05, 0.05],
        score: -0.85,
        source: MessageSentiment::MODEL,
        carries_feeling: true,
    });

    #[test]
    fn negative_messages_cluster_into_themes_ranked_by_cost_with_redacted_quotes() {
        // Conversations 0-2 complain about the courier (two near-identical texts), 3 about a refund.
        let texts = [
            "kurirnya kasar banget, paket dilempar",
            "kurir kasar, paketnya dilempar ke pagar",
            "kurirnya kasar banget, paket dilempar",
            "refund belum masuk, hubungi 081234567890",
        ];
        let conversations: Vec<Conversation> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Conversation {
                conversation_id: format!("c{i}"),
                thread_id: format!("c{i}"),
                messages: vec![msg(t)],
                record: None,
            })
            .collect();
        let mut rows: Vec<ConversationRow> = (0..4)
            .map(|_| ConversationRow {
                reading: crate::row::ModelReading { intent: Some("delivery_problem".into()), ..Default::default() },
                risk: crate::row::RiskOutcome { low_csat_risk: Some(0.5), ..Default::default() },
                ..Default::default()
            })
            .collect();
        rows[3].reading.intent = Some("refund_return".into());
        rows[0].link.reopened = Some(true);
        rows[1].link.reopened = Some(false);
        let enrichment = Enrichment {
            sentiment: vec![vec![NEG]; 4],
            intent: vec![],
            intent_embeddings: vec![vec![1.0, 0.0], vec![0.95, 0.312], vec![0.0, 1.0]],
            message_slots: vec![vec![Some(0)], vec![Some(1)], vec![Some(0)], vec![Some(2)]],
            resolution: vec![None; 4],
            stats: Default::default(),
        };
        let owners: HashMap<String, String> =
            [("delivery_problem".to_string(), "logistics".to_string())].into_iter().collect();
        let items = voc_backlog(
            &rows,
            &negative_messages(&rows, &conversations, &enrichment),
            &enrichment.intent_embeddings,
            &owners,
        );
        assert_eq!(items.len(), 2);
        let courier = &items[0];
        assert_eq!(
            (courier.rank, courier.intent.as_str(), courier.conversations, courier.messages),
            (1, "delivery_problem", 3, 3)
        );
        assert_eq!(courier.owner_team.as_deref(), Some("logistics"));
        assert!(courier.title.contains("kasar") || courier.title.contains("dilempar"), "{}", courier.title);
        assert_eq!(courier.reopen_rate, Some(0.5));
        assert!((courier.cost - 3.0 * (0.5 + 0.5)).abs() < 1e-9);
        assert_eq!(courier.quotes.len(), 2, "distinct texts only");
        assert!(items[1].quotes[0].contains("[PHONE]"), "{:?}", items[1].quotes);
        assert!(voc_markdown(&items, 10).contains("## 1. delivery_problem (3)"));
    }

    fn item(intent: &str, conversations: u64, share: f64, centroid: Vec<f32>) -> VocItem {
        VocItem {
            rank: 1,
            intent: intent.into(),
            owner_team: None,
            title: String::new(),
            conversations,
            share,
            messages: conversations,
            reopen_rate: None,
            surveyed_low_csat_share: None,
            low_csat_share: 0.0,
            cost: 0.0,
            quotes: vec![],
            centroid,
            trend: None,
        }
    }

    #[test]
    fn trend_matches_same_intent_themes_by_centroid_and_compares_shares() {
        let previous = vec![
            PreviousTheme {
                intent: "delivery_problem".into(),
                conversations: 10,
                share: 0.02,
                centroid: vec![1.0, 0.0],
            },
            PreviousTheme { intent: "refund_return".into(), conversations: 8, share: 0.04, centroid: vec![0.0, 1.0] },
        ];
        let mut items = vec![
            item("delivery_problem", 30, 0.03, vec![0.96, 0.28]), // same theme, share x1.5
            item("refund_return", 4, 0.01, vec![0.0, 1.0]),       // same theme, share /4
            item("delivery_problem", 6, 0.012, vec![0.0, 1.0]),   // another theme: new
            item("payment_billing", 3, 0.0201, vec![1.0, 0.0]),   // same direction, other intent: new
        ];
        apply_trend(&mut items, &previous);
        let directions: Vec<&str> = items.iter().map(|i| i.trend.as_ref().unwrap().direction).collect();
        assert_eq!(directions, ["up", "down", "new", "new"]);
        assert_eq!(items[0].trend.as_ref().unwrap().previous_conversations, Some(10));
        // Small counts on both sides are not called a trend.
        let mut small = vec![item("refund_return", 2, 0.08, vec![0.0, 1.0])];
        apply_trend(
            &mut small,
            &[PreviousTheme {
                intent: "refund_return".into(),
                conversations: 1,
                share: 0.02,
                centroid: vec![0.0, 1.0],
            }],
        );
        assert_eq!(small[0].trend.as_ref().unwrap().direction, "steady");
        assert!(voc_markdown(&items, 10).contains("trend: up (previous run 2.0% of conversations)"));
    }
}
