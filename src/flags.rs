//! The pre-survey flags measured on the chat corpus: the built-in risk models fitted on its
//! train split and calibrated on dev (`convoqa train risk --corpus`), and the flags' targets
//! measured on a split (`convoqa eval-flags`). The corpus goes through the shipped pipeline
//! (context rules, the model, features, linking, signals), so the figures are what `analyze`
//! would produce on those conversations.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::heads::corpus::{Corpus, CorpusConversation};
use crate::pipeline::{risk_history, InputRequest};
use crate::row::ConversationRow;
use crate::score::split_fit::{fit_on_split, SplitFitCard, SplitLabel};
use crate::score::{score_conversations, RiskModels};

pub const LOW_CSAT_LABEL: &str =
    "expect_low_csat: a reviewer reading the transcript expects 1-3 stars (every conversation; consistent with the survey answers where there is one)";
pub const FALSE_FCR_LABEL: &str =
    "resolved (status resolved or closed) but not solved in fact, or the customer came back about the same issue (a later conversation reopens it)";

/// The corpus's conversations as `analyze` reads them (with the model), rows in corpus order.
pub fn corpus_rows(corpus: &Corpus, settings: &Settings) -> Result<Vec<ConversationRow>> {
    let dir = ScratchDir(std::env::temp_dir().join(format!("convoqa-corpus-{}", std::process::id())));
    crate::readings::export_conversations(corpus.conversations.iter(), dir.path())?;
    let request = InputRequest {
        messages: vec![dir.path().join("messages.parquet")],
        conversations: vec![dir.path().join("conversations.parquet")],
        as_of_us: None,
        settings: settings.clone(),
        show_progress: false,
        shard: None,
        nightly: None,
    };
    let (rows, _) = risk_history(&request)?;
    let mut by_id: HashMap<String, ConversationRow> =
        rows.into_iter().map(|r| (r.conversation_id.clone(), r)).collect();
    corpus
        .conversations
        .iter()
        .map(|c| {
            by_id.remove(&c.conversation_id).ok_or_else(|| {
                Error::internal(format!("corpus conversation {} has no row after the pipeline", c.conversation_id))
            })
        })
        .collect()
}

/// A scratch directory removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The conversations a later one returns to about the same issue.
fn returned_to(corpus: &Corpus) -> std::collections::HashSet<&str> {
    corpus.conversations.iter().filter_map(|c| c.reopens.as_deref()).collect()
}

/// Each row's labels (rows in corpus order).
fn labels(corpus: &Corpus, rows: &[ConversationRow], dev_split: &str) -> Vec<SplitLabel> {
    let returned = returned_to(corpus);
    corpus
        .conversations
        .iter()
        .zip(rows)
        .enumerate()
        .filter(|(_, (c, _))| c.split == "train" || c.split == dev_split)
        .map(|(index, (c, row))| SplitLabel {
            index,
            dev: c.split == dev_split,
            low_csat: Some(c.expect_low_csat),
            false_fcr: row.is_resolved().then(|| !c.solved || returned.contains(c.conversation_id.as_str())),
        })
        .collect()
}

/// Fits the built-in models on the corpus's train split, calibrates them on dev, and writes
/// built_in.json, card.json and CARD.md to `out`.
pub fn fit_built_in(corpus: &Corpus, settings: &Settings, out: &Path, command: &str) -> Result<SplitFitCard> {
    let rows = corpus_rows(corpus, settings)?;
    let labels = labels(corpus, &rows, "dev");
    let train_count = corpus.split("train").count();
    let source = format!(
        "fitted on the chat corpus's train split ({train_count} conversations, {} businesses), Platt-calibrated on its dev split ({} conversations of other businesses): `{command}`",
        corpus.split("train").map(|c| c.business.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
        corpus.split("dev").count()
    );
    let (models, card) = fit_on_split(&rows, &labels, (LOW_CSAT_LABEL, FALSE_FCR_LABEL), &source, command)?;
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    let json = |v: serde_json::Result<String>| v.map(|s| s + "\n").map_err(|e| Error::internal(e.to_string()));
    write_atomic(&out.join("built_in.json"), &json(serde_json::to_string_pretty(&models))?)?;
    write_atomic(&out.join("card.json"), &json(serde_json::to_string_pretty(&card))?)?;
    write_atomic(&out.join("CARD.md"), &card_markdown(&card, &models))?;
    Ok(card)
}

/// Written beside, then renamed over: a reader never sees half a file.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::write(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::write(path, e))
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

pub fn card_markdown(card: &SplitFitCard, models: &RiskModels) -> String {
    let mut md = String::from("# Built-in risk models (the default)\n\n");
    md.push_str(&format!(
        "`analyze` scores `low_csat_risk` and `false_fcr_risk` with these unless `[risk] model` names a model trained by \
         `convoqa train risk` on a team's own history.\n\n**Where they come from:** {}. Logistic regression (L2 = {}) over \
         the risk signals (including the resolution head's READ_AS_DEFERRED and READ_AS_UNSOLVED) plus an offset for each \
         intent and channel with at least {} training rows; then Platt scaling (sigmoid(a + b z)) fitted on dev.\n\n",
        card.source, card.l2, card.min_category_rows
    ));
    md.push_str(
        "**What this is evidence of.** The corpus was written for convoqa by language-model helpers to a guideline \
         (data/corpus/README.md); dev holds businesses, templates and writers train never saw. It is not a sample of a \
         real team's customers: calibrate on your own history with `convoqa train risk --messages ...`.\n\n",
    );
    for (title, t, m) in
        [("Low CSAT", &card.low_csat, &models.low_csat), ("False FCR", &card.false_fcr, &models.false_fcr)]
    {
        md.push_str(&format!(
            "## {title}\n\nLabel: {}. Training rows {} ({} positive).\n\n",
            t.label, t.train_rows, t.train_positives
        ));
        md.push_str("| model (dev split) | rows | positives | base rate | ROC-AUC | PR-AUC | Brier |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for (name, r) in [
            ("coefficients set by reasoning (before)", &t.dev_reasoned),
            ("fitted", &t.dev_fitted),
            ("fitted + Platt (shipped)", &t.dev_calibrated),
        ] {
            md.push_str(&format!(
                "| {name} | {} | {} | {:.3} | {} | {} | {} |\n",
                r.rows,
                r.positives,
                r.base_rate,
                num(r.roc_auc),
                num(r.pr_auc),
                num(r.brier)
            ));
        }
        md.push_str(&format!(
            "\nPlatt: a = {:.3}, b = {:.3}. Reliability of the shipped model on dev (in-sample for Platt's two parameters):\n\n\
             | predicted | rows | mean predicted | observed |\n|---|---:|---:|---:|\n",
            t.platt.a, t.platt.b
        ));
        for b in &t.reliability_dev {
            md.push_str(&format!(
                "| {:.1}-{:.1} | {} | {:.3} | {:.3} |\n",
                b.lower, b.upper, b.rows, b.mean_predicted, b.observed_rate
            ));
        }
        md.push_str("\nCoefficients (log-odds, before Platt):\n\n| term | weight |\n|---|---:|\n");
        md.push_str(&format!("| intercept | {:.3} |\n", m.intercept));
        for (s, w) in &m.weights {
            md.push_str(&format!("| {} | {w:.3} |\n", s.code()));
        }
        for (k, w) in &m.offsets {
            md.push_str(&format!("| {k} | {w:.3} |\n"));
        }
        md.push('\n');
    }
    md.push_str(
        "The test split's figures are in the issue-13 closing note and BENCHMARKS.md (`convoqa eval-flags --split test`, \
         run once).\n",
    );
    md
}

/// What the flags score on one split of the corpus.
#[derive(Debug, Clone, Serialize)]
pub struct FlagsReport {
    pub split: String,
    pub conversations: usize,
    /// Resolution head: the four states, and P(deferred or unsolved) against `solved` = false.
    pub resolution_accuracy: Option<f64>,
    pub resolution_macro_f1: Option<f64>,
    pub resolution_open_roc_auc: Option<f64>,
    pub false_fcr_auc_not_solved: Option<f64>,
    pub false_fcr_auc_returns: Option<f64>,
    pub low_csat_auc_survey: Option<f64>,
    pub low_csat_auc_expected: Option<f64>,
    /// Predicted beside surveyed 1-3 star share, overall and per channel.
    pub predicted_vs_surveyed: Vec<SurveyedShare>,
    /// The QA list at the configured setting on this split: its size, the most any agent got,
    /// and the share a reviewer would flag (expected low CSAT, or resolved but not solved).
    pub qa_listed: usize,
    pub qa_max_per_agent: usize,
    pub qa_precision: Option<f64>,
    pub qa_precision_at_10: Option<f64>,
    /// Same-issue reopen links against the corpus's `reopens`: precision over the links made,
    /// recall over the returns to conversations closed as resolved.
    pub reopen_links: usize,
    pub reopen_precision: Option<f64>,
    /// Precision counting a link to an earlier conversation of the same issue as right: the
    /// corpus labels a return to its immediate predecessor, which may be pending or open, while
    /// convoqa links only to conversations closed as resolved (a return after A resolved, then B
    /// pending, reopens A: A's resolution did not hold).
    pub reopen_precision_same_issue: Option<f64>,
    pub reopen_recall_resolved: Option<f64>,
}

/// The conversations `c` returns to about the same issue: the one it reopens, the one that one
/// reopens, and so on (the labels form chains; a cycle would be a labelling error, so the walk is
/// bounded by the corpus size).
fn same_issue_chain<'a>(
    c: &'a CorpusConversation,
    by_id: &'a HashMap<&str, &'a CorpusConversation>,
) -> impl Iterator<Item = &'a str> + 'a {
    std::iter::successors(c.reopens.as_deref(), move |id| by_id.get(id).and_then(|e| e.reopens.as_deref()))
        .take(by_id.len())
}

/// One group's predicted 1-3 star share beside its surveyed share.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SurveyedShare {
    /// "all" or "channel=<channel>".
    pub group: String,
    pub conversations: usize,
    pub surveyed: usize,
    pub surveyed_low_share: Option<f64>,
    /// Over all the group's conversations: what a dashboard shows for the whole team. It differs
    /// from the surveyed share wherever surveys are answered more often after some chats than
    /// others (the corpus's, like real ones).
    pub predicted_low_share: f64,
    /// Over the surveyed conversations only: the calibration check against the answers.
    pub predicted_low_share_surveyed: Option<f64>,
}

pub fn evaluate_flags(corpus: &Corpus, settings: &Settings, split: &str) -> Result<FlagsReport> {
    let mut rows = corpus_rows(corpus, settings)?;
    score_conversations(&mut rows, &crate::pipeline::load_risk_models(settings)?);
    let returned = returned_to(corpus);
    let pairs: Vec<(&CorpusConversation, &ConversationRow)> =
        corpus.conversations.iter().zip(&rows).filter(|(c, _)| c.split == split).collect();
    let auc = |v: Vec<(f64, bool)>| crate::score::eval::roc_auc(&v);
    let resolved: Vec<&(&CorpusConversation, &ConversationRow)> =
        pairs.iter().filter(|(_, r)| r.is_resolved()).collect();
    let fcr_not_solved =
        auc(resolved.iter().filter_map(|(c, r)| r.risk.false_fcr_risk.map(|p| (p, !c.solved))).collect());
    let fcr_returns = auc(resolved
        .iter()
        .filter_map(|(c, r)| r.risk.false_fcr_risk.map(|p| (p, returned.contains(c.conversation_id.as_str()))))
        .collect());
    let low_survey = auc(pairs.iter().filter_map(|(c, r)| Some((r.risk.low_csat_risk?, c.csat_score? <= 3))).collect());
    let low_expected =
        auc(pairs.iter().filter_map(|(c, r)| Some((r.risk.low_csat_risk?, c.expect_low_csat))).collect());
    let states: Vec<(usize, usize)> = pairs
        .iter()
        .filter_map(|(c, r)| {
            let truth = crate::row::ResolutionState::parse(&c.resolution.as_ref()?.resolution_state)?;
            let read = r.reading.resolution_state?;
            let idx = |s| crate::row::ResolutionState::ALL.iter().position(|&x| x == s).expect("listed");
            Some((idx(truth), idx(read)))
        })
        .collect();
    let (resolution_accuracy, resolution_macro_f1) = if states.is_empty() {
        (None, None)
    } else {
        let labels: Vec<String> = crate::heads::resolution::LABELS.iter().map(|s| s.to_string()).collect();
        let (t, p): (Vec<usize>, Vec<usize>) = states.iter().copied().unzip();
        let m = crate::heads::metrics::evaluate(&labels, &t, &p);
        (Some(m.accuracy), Some(m.macro_f1))
    };
    let open = auc(pairs
        .iter()
        .filter(|(_, r)| r.reading.resolution_state.is_some())
        .map(|(c, r)| {
            let s = &r.risk_signals;
            (s.get(crate::signals::Signal::ReadAsDeferred) + s.get(crate::signals::Signal::ReadAsUnsolved), !c.solved)
        })
        .collect());
    // Predicted 1-3 star share beside the surveyed share: overall and per channel.
    let mut groups: BTreeMap<String, (SurveyedShare, usize, f64)> = BTreeMap::new();
    for (c, r) in &pairs {
        for key in ["all".to_string(), format!("channel={}", c.channel)] {
            let (g, low, predicted_surveyed) = groups.entry(key).or_default();
            let predicted = r.risk.low_csat_risk.unwrap_or(0.0);
            g.conversations += 1;
            g.predicted_low_share += predicted;
            if let Some(score) = c.csat_score {
                g.surveyed += 1;
                *low += usize::from(score <= 3);
                *predicted_surveyed += predicted;
            }
        }
    }
    let predicted_vs_surveyed = groups
        .into_iter()
        .map(|(group, (g, low, predicted_surveyed))| {
            let over_surveyed = |x: f64| (g.surveyed > 0).then(|| x / g.surveyed as f64);
            SurveyedShare {
                group,
                surveyed_low_share: over_surveyed(low as f64),
                predicted_low_share: g.predicted_low_share / g.conversations as f64,
                predicted_low_share_surveyed: over_surveyed(predicted_surveyed),
                ..g
            }
        })
        .collect();
    // The QA list over this split's rows alone.
    let split_rows: Vec<ConversationRow> = pairs.iter().map(|(_, r)| (*r).clone()).collect();
    let (selected, _) = crate::qa::qa_selection(&split_rows, &settings.config.qa);
    let flagged: Vec<usize> = selected.iter().filter(|s| s.group == "flagged").map(|s| s.row).collect();
    let would_flag = |i: usize| pairs[i].0.expect_low_csat || (pairs[i].1.is_resolved() && !pairs[i].0.solved);
    let share = |list: &[usize]| {
        (!list.is_empty()).then(|| list.iter().filter(|&&i| would_flag(i)).count() as f64 / list.len() as f64)
    };
    let mut per_agent: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    for &i in &flagged {
        *per_agent.entry(pairs[i].1.primary_agent_id.as_deref()).or_default() += 1;
    }
    let qa_max_per_agent = per_agent.iter().filter(|(a, _)| a.is_some()).map(|(_, n)| *n).max().unwrap_or(0);
    // Reopen links.
    let by_id: HashMap<&str, &CorpusConversation> =
        corpus.conversations.iter().map(|c| (c.conversation_id.as_str(), c)).collect();
    let links: Vec<(&CorpusConversation, &str)> =
        pairs.iter().filter_map(|(c, r)| Some((*c, r.link.reopen_of.as_deref()?))).collect();
    let correct = links.iter().filter(|(c, to)| c.reopens.as_deref() == Some(*to)).count();
    let same_issue = links.iter().filter(|(c, to)| same_issue_chain(c, &by_id).any(|e| e == *to)).count();
    let resolved_returns: Vec<&CorpusConversation> = pairs
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| c.reopens.as_deref().and_then(|e| by_id.get(e)).is_some_and(|e| e.status == "resolved"))
        .collect();
    let found = resolved_returns
        .iter()
        .filter(|c| {
            links.iter().any(|(l, to)| l.conversation_id == c.conversation_id && c.reopens.as_deref() == Some(*to))
        })
        .count();
    Ok(FlagsReport {
        qa_listed: flagged.len(),
        qa_max_per_agent,
        qa_precision: share(&flagged),
        qa_precision_at_10: share(&flagged[..flagged.len().min(10)]),
        reopen_links: links.len(),
        reopen_precision: (!links.is_empty()).then(|| correct as f64 / links.len() as f64),
        reopen_precision_same_issue: (!links.is_empty()).then(|| same_issue as f64 / links.len() as f64),
        reopen_recall_resolved: (!resolved_returns.is_empty()).then(|| found as f64 / resolved_returns.len() as f64),
        split: split.to_string(),
        conversations: pairs.len(),
        resolution_accuracy,
        resolution_macro_f1,
        resolution_open_roc_auc: open,
        false_fcr_auc_not_solved: fcr_not_solved,
        false_fcr_auc_returns: fcr_returns,
        low_csat_auc_survey: low_survey,
        low_csat_auc_expected: low_expected,
        predicted_vs_surveyed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(id: &str, reopens: Option<&str>) -> CorpusConversation {
        serde_json::from_value(serde_json::json!({
            "conversation_id": id, "business": "b", "channel": "whatsapp", "language": "id",
            "customer_id": "c1", "created_at": "2026-10-01T10:00:00+07:00", "status": "resolved",
            "intent": "refund_return", "solved": false, "reopens": reopens, "expect_low_csat": true,
            "csat_score": null, "messages": []
        }))
        .expect("a corpus conversation")
    }

    #[test]
    fn a_return_chains_back_through_every_earlier_conversation_of_its_issue() {
        let convs = [conv("a", None), conv("b", Some("a")), conv("c", Some("b")), conv("d", None)];
        let by_id: HashMap<&str, &CorpusConversation> = convs.iter().map(|c| (c.conversation_id.as_str(), c)).collect();
        assert_eq!(same_issue_chain(&convs[2], &by_id).collect::<Vec<_>>(), vec!["b", "a"]);
        assert_eq!(same_issue_chain(&convs[3], &by_id).count(), 0);
        // A labelling cycle ends the walk instead of looping.
        let cycle = [conv("x", Some("y")), conv("y", Some("x"))];
        let by_id: HashMap<&str, &CorpusConversation> = cycle.iter().map(|c| (c.conversation_id.as_str(), c)).collect();
        assert_eq!(same_issue_chain(&cycle[0], &by_id).count(), 2);
    }
}
