//! The chat corpus (data/corpus) holds what its README promises: at least 600 conversations of at
//! least 10 kinds of business on four channels in three language mixes, every customer message
//! and conversation labelled, the taxonomy's intents all present in each split, outcome labels
//! consistent, and the split made by business (no business in two splits).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use convoqa::heads::corpus::{Corpus, SPLITS};
use convoqa::heads::intent::Taxonomy;

fn corpus() -> Corpus {
    Corpus::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/corpus")).expect("data/corpus loads")
}

#[test]
fn corpus_has_the_promised_size_and_coverage() {
    let c = corpus();
    assert!(c.conversations.len() >= 600, "{} conversations", c.conversations.len());
    let kinds_toml =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/corpus/businesses.toml")).unwrap();
    let kinds: BTreeSet<&str> = kinds_toml.lines().filter_map(|l| l.strip_prefix("kind = ")).collect();
    assert!(kinds.len() >= 10, "{} kinds of business", kinds.len());
    let channels: BTreeSet<&str> = c.conversations.iter().map(|c| c.channel.as_str()).collect();
    assert_eq!(channels, BTreeSet::from(["email", "instagram", "livechat", "whatsapp"]));
    let languages: BTreeSet<&str> = c.conversations.iter().map(|c| c.language.as_str()).collect();
    assert_eq!(languages, BTreeSet::from(["en", "id", "mixed"]));
    let taxonomy: BTreeSet<String> = Taxonomy::default_taxonomy().intent.into_iter().map(|i| i.name).collect();
    for split in SPLITS {
        let convs: Vec<_> = c.split(split).collect();
        assert!(convs.len() >= 100, "{split}: {} conversations", convs.len());
        let intents: BTreeSet<String> = convs.iter().map(|c| c.intent.clone()).collect();
        assert_eq!(intents, taxonomy, "{split}: every intent of the taxonomy, and nothing else");
        let mut sentiments = BTreeMap::new();
        for conv in &convs {
            for m in &conv.messages {
                match (m.role.as_str(), &m.sentiment) {
                    ("customer", Some(s)) => *sentiments.entry(s.clone()).or_insert(0) += 1,
                    ("customer", None) => panic!("{}: a customer message without sentiment", conv.conversation_id),
                    (_, Some(_)) => panic!("{}: sentiment on a {} message", conv.conversation_id, m.role),
                    _ => {}
                }
            }
        }
        for label in ["negative", "neutral", "positive"] {
            assert!(sentiments.get(label).copied().unwrap_or(0) >= 50, "{split}: {sentiments:?}");
        }
        let unsolved = convs.iter().filter(|c| !c.solved).count();
        let reopens = convs.iter().filter(|c| c.reopens.is_some()).count();
        let surveyed = convs.iter().filter(|c| c.csat_score.is_some()).count();
        assert!(unsolved * 5 >= convs.len(), "{split}: {unsolved} unsolved");
        assert!(reopens * 10 >= convs.len(), "{split}: {reopens} reopens");
        assert!(surveyed * 5 >= convs.len() && surveyed * 2 <= convs.len(), "{split}: {surveyed} surveyed");
    }
}

#[test]
fn outcome_labels_are_consistent_and_splits_are_by_business() {
    let c = corpus();
    let by_id: BTreeMap<&str, _> = c.conversations.iter().map(|c| (c.conversation_id.as_str(), c)).collect();
    assert_eq!(by_id.len(), c.conversations.len(), "conversation ids are unique");
    let mut split_of_business: BTreeMap<&str, &str> = BTreeMap::new();
    for conv in &c.conversations {
        let prev = split_of_business.insert(&conv.business, &conv.split);
        assert!(prev.is_none_or(|p| p == conv.split), "{} is in two splits", conv.business);
        if let Some(score) = conv.csat_score {
            assert_eq!(
                score <= 3,
                conv.expect_low_csat,
                "{}: csat_score {score} against expect_low_csat",
                conv.conversation_id
            );
        }
        if let Some(earlier) = &conv.reopens {
            let e = by_id
                .get(earlier.as_str())
                .unwrap_or_else(|| panic!("{}: reopens unknown {earlier}", conv.conversation_id));
            assert_eq!(e.customer_id, conv.customer_id, "{}: a reopen is the same customer's", conv.conversation_id);
            assert!(e.created_at < conv.created_at, "{}: a reopen comes later", conv.conversation_id);
        }
        assert!(conv.messages.windows(2).all(|w| w[0].t <= w[1].t), "{}: messages in time order", conv.conversation_id);
    }
    let splits: BTreeSet<&str> = split_of_business.values().copied().collect();
    assert_eq!(splits, BTreeSet::from(["dev", "test", "train"]));
}

/// The second label pass: every conversation has a resolution state that agrees with its
/// `solved` label (conversations outside the taxonomy have nothing to solve), and the deciding
/// message is one of its messages; dev and test carry theme labels for the VOC.
#[test]
fn resolution_labels_cover_every_conversation_and_agree_with_solved() {
    let c = corpus();
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for conv in &c.conversations {
        let label = conv.resolution.as_ref().unwrap_or_else(|| panic!("{}: no resolution label", conv.conversation_id));
        let state = label.resolution_state.as_str();
        *states.entry(state).or_default() += 1;
        let agrees = match state {
            "solved" => conv.solved,
            "deferred" | "unsolved" => !conv.solved,
            "nothing" => conv.solved || conv.intent == "other",
            other => panic!("{}: unknown state {other:?}", conv.conversation_id),
        };
        assert!(agrees, "{}: {state} against solved = {}", conv.conversation_id, conv.solved);
        assert!(label.decided_by < conv.messages.len(), "{}: decided_by out of range", conv.conversation_id);
    }
    assert!(states.len() == 4 && states.values().all(|&n| n >= 30), "every state well represented: {states:?}");
    let themes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus/labels/themes");
    for conv in c.conversations.iter().filter(|c| c.split != "train") {
        let file = themes.join(format!("{}.jsonl", conv.business));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(text.contains(&format!("\"{}\"", conv.conversation_id)), "{}: no theme label", conv.conversation_id);
    }
}

/// The test split measures new writers as well as new businesses: no writer of a test business
/// wrote a train or dev business (their phrasing never reached a head or a selection).
#[test]
fn test_businesses_come_from_writers_seen_nowhere_else() {
    let text =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/corpus/businesses.toml")).unwrap();
    let field = |block: &str, key: &str| -> String {
        let line = block.lines().find_map(|l| l.trim().strip_prefix(&format!("{key} = "))).expect(key);
        line.split('"').nth(1).expect("a quoted value").to_string()
    };
    let mut writers_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for block in text.split("[[business]]").skip(1) {
        writers_of.entry(field(block, "split")).or_default().insert(field(block, "writer"));
    }
    let test = &writers_of["test"];
    assert!(test.len() >= 3, "test writers: {test:?}");
    for split in ["train", "dev"] {
        let shared: Vec<_> = test.intersection(&writers_of[split]).collect();
        assert!(shared.is_empty(), "test writers {shared:?} also wrote {split} businesses");
    }
}

/// The per-message intent labels (README "Message intents") cover the dev and test splits, one
/// entry per customer message (the loader checks the count), each a taxonomy intent or null.
#[test]
fn message_intent_labels_cover_dev_and_test_with_taxonomy_intents() {
    let c = corpus();
    let taxonomy = Taxonomy::default_taxonomy();
    let intents: BTreeSet<&str> = taxonomy.intent.iter().map(|i| i.name.as_str()).collect();
    let mut with_need = 0;
    for conv in c.conversations.iter().filter(|c| c.split != "train") {
        let labels = conv
            .message_intents
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no message intent labels", conv.conversation_id));
        for label in labels.iter().flatten() {
            assert!(intents.contains(label.as_str()), "{}: {label:?} is no taxonomy intent", conv.conversation_id);
            with_need += 1;
        }
    }
    assert!(with_need >= 300, "{with_need} messages labelled with a need");
}
