//! The words a theme is titled by: unigrams and bigrams of customers' messages without
//! stopwords (stopwords.txt), ids or numbers, and class-based TF-IDF over them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

/// Words that say nothing about the problem (stopwords.txt: Indonesian and English function
/// words, chat politeness and fillers, e-mail letter formulae, and words every complaint has).
static STOPWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("stopwords.txt").lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
});

pub(super) fn words(text: &str) -> Vec<String> {
    crate::text::strip_references(text)
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| w.chars().count() >= 3 && !w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| !STOPWORDS.contains(w.as_str()))
        .collect()
}

/// Unigrams and bigrams of a text (bigrams over the words left after stopwords, as a
/// CountVectorizer with a stopword list makes them).
pub(super) fn terms(text: &str) -> Vec<String> {
    let w = words(text);
    let mut out: Vec<String> = w.clone();
    out.extend(w.windows(2).filter(|p| p[0] != p[1]).map(|p| format!("{} {}", p[0], p[1])));
    out
}

/// Up to three keyphrases for each theme by class-based TF-IDF; `docs[k]` are theme k's
/// conversations' term sets, `tail` the long tail's (a class of its own, as BERTopic's outliers).
pub(super) fn titles(docs: &[Vec<BTreeSet<String>>], tail: &[BTreeSet<String>]) -> Vec<String> {
    let mut classes: Vec<HashMap<&str, usize>> = Vec::new();
    for conversations in docs.iter().map(Vec::as_slice).chain(std::iter::once(tail)) {
        let mut tf: HashMap<&str, usize> = HashMap::new();
        for terms in conversations {
            for t in terms {
                *tf.entry(t.as_str()).or_default() += 1;
            }
        }
        classes.push(tf);
    }
    let mut frequency: HashMap<&str, usize> = HashMap::new();
    for tf in &classes {
        for (t, n) in tf {
            *frequency.entry(t).or_default() += n;
        }
    }
    let average = classes.iter().map(|tf| tf.values().sum::<usize>()).sum::<usize>() as f64 / classes.len() as f64;
    classes[..docs.len()]
        .iter()
        .map(|tf| {
            let mut scored: Vec<(f64, &str)> = tf
                .iter()
                .filter(|(_, &n)| n >= 2)
                .map(|(&t, &n)| (n as f64 * (1.0 + average / frequency[t] as f64).ln(), t))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            let mut chosen: Vec<&str> = Vec::new();
            for (_, t) in scored {
                let covered = |c: &&str| {
                    let cw: Vec<&str> = c.split(' ').collect();
                    t.split(' ').all(|w| cw.contains(&w)) || cw.iter().all(|w| t.split(' ').any(|x| x == *w))
                };
                if chosen.iter().any(covered) {
                    // A bigram holding a chosen unigram replaces it.
                    if t.contains(' ') {
                        if let Some(pos) = chosen.iter().position(|c| !c.contains(' ') && t.split(' ').any(|w| w == *c))
                        {
                            if !chosen.contains(&t) {
                                chosen[pos] = t;
                            }
                        }
                    }
                    continue;
                }
                chosen.push(t);
                if chosen.len() == 3 {
                    break;
                }
            }
            chosen.dedup();
            chosen.join(", ")
        })
        .collect()
}
