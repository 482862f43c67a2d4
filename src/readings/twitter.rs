//! The real tweets: IBM's Twitter customer-care dialogs with our labels, as a test split
//! (data/eval) and a selection split (data/tweets), and the tweets written for training.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::enrich::LanguageModel;
use crate::error::{Error, Result};
use crate::heads::corpus::CorpusConversation;
use crate::heads::metrics::{evaluate, Metrics};
use crate::heads::sentiment::LABELS;

use super::label_of;

/// The real tweets: IBM's Twitter customer-care dialogs with our labels (data/eval's test
/// dialogs, data/tweets' dev dialogs).
#[derive(Debug, Serialize)]
pub struct TwitterReport {
    pub dialogs: usize,
    pub sentiment: Metrics,
    /// Dialogs whose need fits the taxonomy (`none` labels left out), where intent labels were
    /// read (the test split's own, or `--twitter-intents`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<Metrics>,
}

impl TwitterReport {
    /// The line a person reads, after the corpus summary; `title` names the labels (the split's
    /// role, or the file given).
    pub fn summary(&self, title: &str) -> String {
        let intent = match &self.intent {
            Some(i) => format!("; intent accuracy {:.3}, macro-F1 {:.3}", i.accuracy, i.macro_f1),
            None => String::new(),
        };
        format!(
            "real Twitter {title} ({} dialogs): message sentiment macro-F1 {:.3} (accuracy {:.3}){intent}\n",
            self.dialogs, self.sentiment.macro_f1, self.sentiment.accuracy
        )
    }
}

/// The labels files the real tweets are scored against. Each starts with a header line; lines
/// starting with `#` are comments.
#[derive(Debug, Clone, PartialEq)]
pub struct TwitterLabelFiles {
    /// dialog TAB turn TAB sentiment, one line per labelled customer message.
    pub messages: PathBuf,
    /// dialog TAB intent (`none` where the taxonomy does not fit); without it every dialog with
    /// a labelled message is read, its intent unknown.
    pub intents: Option<PathBuf>,
    /// What the labels are, for the summary: the split's role, or the file given.
    title: String,
}

impl TwitterLabelFiles {
    /// The files given, else the project's own for a corpus split's role, relative to the
    /// project's root: `test` (dialogs 0-359: sentiment and intent, data/eval) or `dev` (dialogs
    /// 360-524: sentiment, data/tweets). Sentiment labels that are given replace the split's
    /// entirely: intent labels are then read only if they are given too.
    pub fn for_split(split: &str, messages: Option<PathBuf>, intents: Option<PathBuf>) -> Result<Self> {
        if let Some(messages) = messages {
            let title = format!("labelled in {}", messages.display());
            return Ok(Self { messages, intents, title });
        }
        let (messages, default_intents) = match split {
            "test" => ("data/eval/twitter_care_messages.tsv", Some("data/eval/twitter_care_intents.tsv")),
            "dev" => ("data/tweets/twitter_dev_messages.tsv", None),
            _ => {
                return Err(Error::config(
                    "--twitter",
                    format!("the real tweets have no {split} split"),
                    "use --split dev or --split test with --twitter, or give your own labels with --twitter-labels",
                ))
            }
        };
        Ok(Self {
            messages: messages.into(),
            intents: intents.or(default_intents.map(PathBuf::from)),
            title: split.to_string(),
        })
    }

    /// Reads and checks both files, before any model loads: a line that does not parse, or a
    /// sentiment label that is not one, is the file's error (exit 2) with its line.
    pub fn read(&self) -> Result<TwitterLabels> {
        const FIX: &str = "give the file with --twitter-labels / --twitter-intents, or run from the project's root \
             (the split's own labels are in data/eval and data/tweets)";
        let messages = twitter_message_labels(&self.messages, FIX)?;
        let intents = match &self.intents {
            Some(path) => Some(twitter_intent_labels(path, FIX)?),
            None => None,
        };
        Ok(TwitterLabels { files: self.clone(), messages, intents })
    }
}

/// The real tweets' labels, read: sentiment by (dialog, turn), intent by dialog with its line.
pub struct TwitterLabels {
    files: TwitterLabelFiles,
    messages: BTreeMap<(usize, usize), String>,
    intents: Option<BTreeMap<usize, (usize, String)>>,
}

impl TwitterLabels {
    /// What the labels are: the split's role, or the file given.
    pub fn title(&self) -> &str {
        &self.files.title
    }

    /// Every intent label is one of the intent head's `labels` or `none`; else the intents
    /// file's error (exit 2), with its line. Called as soon as the head is loaded.
    pub fn check_intents(&self, labels: &[String]) -> Result<()> {
        let (Some(intents), Some(path)) = (&self.intents, &self.files.intents) else { return Ok(()) };
        match intents.values().find(|(_, intent)| intent != "none" && !labels.contains(intent)) {
            Some((line, intent)) => Err(Error::input(
                path,
                format!("line {line}: intent {intent:?} is not one of the intent head's {labels:?}"),
                "write one of the head's intents, or none where the taxonomy does not fit",
            )),
            None => Ok(()),
        }
    }
}

/// Intent labels of a Twitter labels file (dialog TAB intent), with their line numbers.
fn twitter_intent_labels(path: &Path, fix: &str) -> Result<BTreeMap<usize, (usize, String)>> {
    let mut out = BTreeMap::new();
    for (line, r) in read_tsv_lines(path, fix)? {
        let Some((d, intent)) = r.first().and_then(|d| d.trim().parse::<usize>().ok()).zip(r.get(1)) else {
            return Err(Error::input(
                path,
                format!("line {line} is not dialog TAB intent"),
                "write the dialog's index (a number) and its intent, or none",
            ));
        };
        if let Some((first, _)) = out.insert(d, (line, intent.trim().to_string())) {
            return Err(duplicate_label(path, line, first, &format!("dialog {d}")));
        }
    }
    Ok(out)
}

/// A second label for what an earlier line labelled: which one is meant cannot be told.
fn duplicate_label(path: &Path, line: usize, first: usize, what: &str) -> Error {
    Error::input(path, format!("line {line} labels {what} again (line {first} did)"), "keep one of the two lines")
}

/// The rows of a labels TSV (comment lines and the header skipped) with their 1-based line
/// numbers, for errors that say where; `fix` tells how to give the file if it cannot be read.
fn read_tsv_lines(path: &Path, fix: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, format!("cannot read ({e})"), fix))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|(i, l)| (i + 1, l.split('\t').map(str::to_string).collect()))
        .collect())
}

/// A sentiment label of a labels file, as an index; a label outside `labels` is the file's error.
fn file_label(labels: &[String], name: &str, path: &Path, at: &str) -> Result<usize> {
    labels.iter().position(|l| l == name).ok_or_else(|| {
        Error::input(
            path,
            format!("{at}: label {name:?} is not one of {labels:?}"),
            "write negative, neutral or positive",
        )
    })
}

const TWITTER_DEV_JSON_FIX: &str = "give IBM's twitter-customer-care/dev.json (eval-readings --twitter), or a \
     --data-dir holding conversations/twitter-customer-care/dev.json (train sentiment --tweets)";

/// Reads IBM's Twitter customer-care `dev.json`: its list of dialogs.
fn read_twitter_dialogs(dev_json: &Path) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(dev_json)
        .map_err(|e| Error::input(dev_json, format!("cannot read ({e})"), TWITTER_DEV_JSON_FIX))?;
    serde_json::from_str(&text).map_err(|e| Error::input(dev_json, format!("not JSON: {e}"), TWITTER_DEV_JSON_FIX))
}

/// Message labels of a Twitter labels file (dialog TAB turn TAB sentiment), each checked to be
/// a sentiment label.
fn twitter_message_labels(messages_tsv: &Path, fix: &str) -> Result<BTreeMap<(usize, usize), String>> {
    let sentiment: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let (mut out, mut lines) = (BTreeMap::new(), BTreeMap::new());
    for (line, r) in read_tsv_lines(messages_tsv, fix)? {
        let parsed = (|| Some(((r.first()?.parse().ok()?, r.get(1)?.parse().ok()?), r.get(2)?.trim().to_string())))();
        let ((d, turn), label): ((usize, usize), String) = parsed.ok_or_else(|| {
            Error::input(
                messages_tsv,
                format!("line {line} is not dialog TAB turn TAB sentiment"),
                "write the dialog's and the turn's index (numbers) and the label",
            )
        })?;
        file_label(&sentiment, &label, messages_tsv, &format!("line {line}"))?;
        if let Some(first) = lines.insert((d, turn), line) {
            return Err(duplicate_label(messages_tsv, line, first, &format!("dialog {d} turn {turn}")));
        }
        out.insert((d, turn), label);
    }
    Ok(out)
}

/// Dialog `d` of `dialogs` as a corpus conversation: customer tweets as customer messages
/// (labelled where `message_labels` has their turn), company tweets as agent messages, in order.
fn twitter_conversation(
    dialogs: &[serde_json::Value],
    d: usize,
    intent: &str,
    message_labels: &BTreeMap<(usize, usize), String>,
    (dialog_file, messages_file): (&Path, &Path),
    dev_json: &Path,
) -> Result<CorpusConversation> {
    let dialog = dialogs.get(d).ok_or_else(|| {
        Error::input(
            dialog_file,
            format!("dialog {d} is not in {}", dev_json.display()),
            "use the labels made for this file",
        )
    })?;
    let content = dialog["dialogContent"].as_array().cloned().unwrap_or_default();
    // A label must name a customer tweet of the dialog: one that names anything else is lost.
    for &(_, turn) in message_labels.range((d, 0)..=(d, usize::MAX)).map(|(k, _)| k) {
        if content.get(turn).is_none_or(|m| m.get("agent").is_some()) {
            return Err(Error::input(
                messages_file,
                format!("dialog {d} turn {turn} is not a customer tweet of {}", dev_json.display()),
                "label the customer turns (dialogContent entries without an \"agent\" key) of this file's dialogs",
            ));
        }
    }
    let messages: Vec<crate::heads::corpus::CorpusMessage> = content
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let agent = m.get("agent").is_some();
            crate::heads::corpus::CorpusMessage {
                t: i as f64 * 60.0,
                role: if agent { "agent".into() } else { "customer".into() },
                text: m["message"].as_str().unwrap_or("").to_string(),
                agent_id: agent.then(|| "agent".to_string()),
                sentiment: if agent { None } else { message_labels.get(&(d, i)).cloned() },
            }
        })
        .collect();
    Ok(CorpusConversation {
        conversation_id: format!("twitter-{d}"),
        business: "twitter".into(),
        channel: "twitter".into(),
        language: "en".into(),
        customer_id: format!("twitter-{d}"),
        created_at: "2020-01-01T00:00:00+00:00".into(),
        subject: None,
        status: "closed".into(),
        intent: intent.to_string(),
        solved: false,
        reopens: None,
        expect_low_csat: false,
        csat_score: None,
        messages,
        split: "twitter".into(),
        resolution: None,
        message_intents: None,
    })
}

/// Runs the shipped path on the labelled dialogs of `dev_json` (customer tweets as customer
/// messages, company tweets as agent messages, in order): every dialog with a labelled message
/// or an intent label.
pub fn evaluate_twitter(model: &LanguageModel, dev_json: &Path, labels: &TwitterLabels) -> Result<TwitterReport> {
    let dialogs = read_twitter_dialogs(dev_json)?;
    let i_labels = model.intent.card.labels.clone();
    labels.check_intents(&i_labels)?;
    // Dialogs without an intent label are read for sentiment, their intent unknown (`none`).
    let mut intent_of: BTreeMap<usize, String> =
        labels.messages.keys().map(|(d, _)| (*d, "none".to_string())).collect();
    for (&d, (_, intent)) in labels.intents.iter().flatten() {
        intent_of.insert(d, intent.clone());
    }
    let files = &labels.files;
    let conversations: Vec<CorpusConversation> = intent_of
        .iter()
        .map(|(&d, intent)| {
            // The file that named the dialog, for an error about it.
            let named_by = match (labels.messages.range((d, 0)..=(d, usize::MAX)).next(), &files.intents) {
                (None, Some(intents)) => intents.as_path(),
                _ => files.messages.as_path(),
            };
            twitter_conversation(&dialogs, d, intent, &labels.messages, (named_by, &files.messages), dev_json)
        })
        .collect::<Result<_>>()?;
    let assembled: Vec<crate::model::Conversation> =
        conversations.iter().map(|c| c.to_conversation()).collect::<convoqa_ml::error::Result<_>>()?;
    let enrichment = crate::enrich::enrich(&assembled, model)?;
    let s_labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let (mut st, mut sp, mut it, mut ip) = (vec![], vec![], vec![], vec![]);
    for (c, (sent, intent)) in conversations.iter().zip(enrichment.sentiment.iter().zip(&enrichment.intent)) {
        for (m, s) in c.messages.iter().zip(sent) {
            if let (Some(label), Some(s)) = (&m.sentiment, s) {
                st.push(label_of(&s_labels, label, "twitter labels")?);
                sp.push(label_of(&s_labels, s.label, "prediction")?);
            }
        }
        if c.intent != "none" {
            it.push(label_of(&i_labels, &c.intent, "twitter intents")?);
            ip.push(label_of(&i_labels, &intent.intent, "prediction")?);
        }
    }
    Ok(TwitterReport {
        dialogs: conversations.len(),
        sentiment: evaluate(&s_labels, &st, &sp),
        intent: labels.intents.as_ref().map(|_| evaluate(&i_labels, &it, &ip)),
    })
}

/// Where IBM's Twitter customer-care dialogs sit under the shared data folder.
pub fn twitter_dev_json(data_dir: &Path) -> PathBuf {
    data_dir.join("conversations/twitter-customer-care/dev.json")
}

/// A selection split scores only the classes it has at least this many rows of: the real
/// tweets hold a handful of positives, whose F1 would swing the mean by itself.
const MIN_SELECTION_CLASS_ROWS: usize = 10;

/// Customer tweets for the sentiment head (data/tweets, README there): `written.tsv`, tweets
/// written for convoqa, which the head and its reader train on; and the real customer tweets of
/// IBM's Twitter dialogs labelled in `twitter_dev_messages.tsv` (never the test dialogs of
/// data/eval), which select, as the messages the model reads, in the classes that have at least
/// `MIN_SELECTION_CLASS_ROWS` of them.
pub struct TweetSets {
    pub written: Vec<(String, usize)>,
    pub twitter_dev: Vec<(String, usize)>,
    /// What was read, for the card's training_data.
    pub described: Vec<String>,
}

const TWEETS_FIX: &str = "give --tweets a folder like data/tweets (written.tsv, twitter_dev_messages.tsv)";

pub fn tweet_sets(tweets_dir: &Path, data_dir: &Path, labels: &[String]) -> Result<TweetSets> {
    let written_tsv = tweets_dir.join("written.tsv");
    let written: Vec<(String, usize)> = read_tsv_lines(&written_tsv, TWEETS_FIX)?
        .into_iter()
        .map(|(line, r)| match (r.first(), r.get(1)) {
            (Some(text), Some(label)) => Ok((
                crate::text::inference_key(text),
                file_label(labels, label, &written_tsv, &format!("line {line}"))?,
            )),
            _ => Err(Error::input(
                &written_tsv,
                format!("line {line} has {} column(s)", r.len()),
                "write text TAB label TAB kind TAB writer",
            )),
        })
        .collect::<Result<_>>()?;
    let dev_json = twitter_dev_json(data_dir);
    let labels_tsv = tweets_dir.join("twitter_dev_messages.tsv");
    let message_labels = twitter_message_labels(&labels_tsv, TWEETS_FIX)?;
    let dialogs = read_twitter_dialogs(&dev_json)?;
    let mut twitter_dev = Vec::new();
    for d in message_labels.keys().map(|(d, _)| *d).collect::<std::collections::BTreeSet<_>>() {
        let c = twitter_conversation(&dialogs, d, "none", &message_labels, (&labels_tsv, &labels_tsv), &dev_json)?;
        for (text, label) in c.model_sentiment_rows()? {
            let index = file_label(labels, &label, &labels_tsv, &format!("dialog {d}"))?;
            twitter_dev.push((crate::text::inference_key(&text), index));
        }
    }
    let kept: Vec<usize> = (0..labels.len())
        .filter(|&k| twitter_dev.iter().filter(|(_, l)| *l == k).count() >= MIN_SELECTION_CLASS_ROWS)
        .collect();
    let read = twitter_dev.len();
    twitter_dev.retain(|(_, l)| kept.contains(l));
    let described = vec![
        format!("{}: {} tweets written for convoqa", written_tsv.display(), written.len()),
        format!(
            "selection: {} of the {read} customer tweets the model reads in the dialogs labelled in {} ({}; classes with at least {MIN_SELECTION_CLASS_ROWS} rows: {:?})",
            twitter_dev.len(),
            labels_tsv.display(),
            dev_json.display(),
            kept.iter().map(|&k| labels[k].as_str()).collect::<Vec<_>>()
        ),
    ];
    Ok(TweetSets { written, twitter_dev, described })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_given_replace_the_splits_own_and_their_intents() {
        let test = TwitterLabelFiles::for_split("test", None, None).unwrap();
        assert_eq!(test.messages, Path::new("data/eval/twitter_care_messages.tsv"));
        assert_eq!(test.intents.as_deref(), Some(Path::new("data/eval/twitter_care_intents.tsv")));
        assert_eq!(test.title, "test");
        let dev = TwitterLabelFiles::for_split("dev", None, None).unwrap();
        assert_eq!((dev.messages.as_path(), dev.intents), (Path::new("data/tweets/twitter_dev_messages.tsv"), None));
        // Own sentiment labels: the test split's intent labels are not read with them.
        let own = TwitterLabelFiles::for_split("test", Some("mine.tsv".into()), None).unwrap();
        assert_eq!((own.messages.as_path(), own.intents), (Path::new("mine.tsv"), None));
        assert_eq!(own.title, "labelled in mine.tsv");
        let both = TwitterLabelFiles::for_split("train", Some("m.tsv".into()), Some("i.tsv".into())).unwrap();
        assert_eq!(both.intents.as_deref(), Some(Path::new("i.tsv")));
        let err = TwitterLabelFiles::for_split("train", None, None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--twitter-labels"), "{err}");
    }

    /// The real tweets' dev split (data/tweets, which selects) and test split (data/eval, scored
    /// once) share no dialog, and no tweet written for training copies a real test tweet (short
    /// generic replies such as "DM sent" aside). The text check needs ../shared/data.
    #[test]
    fn the_real_tweet_splits_share_no_dialog_and_training_copies_no_test_tweet() {
        use std::collections::BTreeSet;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let labels = |file: &str| twitter_message_labels(&root.join(file), "").unwrap();
        let dialogs = |m: &BTreeMap<(usize, usize), String>| m.keys().map(|k| k.0).collect::<BTreeSet<usize>>();
        let dev = labels("data/tweets/twitter_dev_messages.tsv");
        let test = labels("data/eval/twitter_care_messages.tsv");
        let (dev_dialogs, test_dialogs) = (dialogs(&dev), dialogs(&test));
        assert!(
            dev_dialogs.len() >= 150 && test_dialogs.len() >= 300,
            "{} / {}",
            dev_dialogs.len(),
            test_dialogs.len()
        );
        let shared: Vec<&usize> = dev_dialogs.intersection(&test_dialogs).collect();
        assert!(shared.is_empty(), "dialogs in both the dev and the test split: {shared:?}");

        let dev_json = twitter_dev_json(&root.join("../shared/data"));
        if !dev_json.exists() {
            eprintln!("skipping the text check: {} is absent", dev_json.display());
            return;
        }
        let all = read_twitter_dialogs(&dev_json).unwrap();
        let test_texts: BTreeSet<String> = test
            .keys()
            .map(|&(d, turn)| crate::text::inference_key(all[d]["dialogContent"][turn]["message"].as_str().unwrap()))
            .collect();
        let written = read_tsv_lines(&root.join("data/tweets/written.tsv"), "").unwrap();
        assert!(written.len() > 1000, "{}", written.len());
        let copies: Vec<&String> = written
            .iter()
            .filter_map(|(_, row)| row.first())
            .filter(|text| text.split_whitespace().count() >= 4)
            .filter(|text| test_texts.contains(&crate::text::inference_key(text)))
            .collect();
        assert!(copies.is_empty(), "written tweets that copy real test tweets: {copies:?}");
    }
}
