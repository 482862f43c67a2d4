//! `convoqa train risk`: fits both risk models on a team's own history and says how well they
//! rank conversations they never saw.
//!
//! - Labels: a surveyed conversation is low-CSAT when it was rated 1-3; a resolved conversation
//!   whose reopen window has passed (fcr_mature) is a false FCR when it was reopened. Immature
//!   conversations never give a label.
//! - Split by time: the earliest (1 - test_fraction) of conversations by created_at train, the
//!   rest test, so the figures say how the model does on the next period, not on shuffled rows.
//! - Survey bias: only some customers answer, and who answers depends on how the chat went. A
//!   response-propensity model (the same features, label = answered) gives each surveyed
//!   training row the weight 1/propensity (normalised, capped at 10), so the low-CSAT model
//!   learns about all customers, not the ones who answer. The card reports the surveyed, the
//!   re-weighted and the predicted low-CSAT rate of the test period side by side.
//! - The saved models are refitted on all labelled rows with the same settings; the card's test
//!   figures come from the models fitted on the earlier part only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::eval::{calibration_table, roc_auc, CalibrationBin, RankingMetrics};
use super::fit::{fit_logistic, logit, Logistic};
use super::{category_keys, RiskModel, RiskModels, RiskSignals, SIGNALS};
use crate::error::{Error, Result};
use crate::row::ConversationRow;
use crate::timefmt::format_us;

/// How to train.
#[derive(Debug, Clone)]
pub struct RiskTraining {
    /// Share of conversations, the latest by created_at, held out for the test figures.
    pub test_fraction: f64,
    /// L2 penalty on the coefficients (not the intercept).
    pub l2: f64,
    /// An intent or channel gets its own offset when this many training rows have it.
    pub min_category_rows: usize,
    /// What the history was (input paths), for the card.
    pub source: String,
}

impl Default for RiskTraining {
    fn default() -> Self {
        RiskTraining { test_fraction: 0.3, l2: 1.0, min_category_rows: 30, source: String::new() }
    }
}

/// Test-period figures of one risk, for the trained and the built-in model on the same rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCard {
    pub label: String,
    pub train_rows: usize,
    pub train_positives: usize,
    pub test_trained: RankingMetrics,
    pub test_built_in: RankingMetrics,
    pub calibration_trained: Vec<CalibrationBin>,
    pub calibration_built_in: Vec<CalibrationBin>,
    /// Labelled rows the saved model was refitted on (train + test).
    pub saved_model_rows: usize,
    /// Platt scaling the saved model carries: fitted on the test period's log-odds of the model
    /// fitted on the training part (cross-fitted, as a calibrator must not see its own training
    /// rows), so the saved probabilities match the rates of the latest period.
    #[serde(default)]
    pub platt: Option<super::calibrate::Platt>,
    /// The test period's calibration table after Platt scaling (in-sample for its two
    /// parameters).
    #[serde(default)]
    pub calibration_platt: Vec<CalibrationBin>,
}

/// How the survey's non-response was handled, and what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyBias {
    pub method: String,
    /// Conversations that could have been surveyed (resolved or rated), and how many were rated.
    pub eligible: usize,
    pub responses: usize,
    pub response_rate: f64,
    /// How well the features predict who answers (test period): 0.5 = answering is random.
    pub propensity_roc_auc_test: Option<f64>,
    pub weight_min: f64,
    pub weight_max: f64,
    /// (sum w)^2 / sum w^2 over the surveyed training rows.
    pub effective_training_rows: f64,
    /// Test period: 1-3 star share among those who answered, the same re-weighted by
    /// 1/propensity, and the trained model's mean predicted risk over every eligible conversation.
    pub test_surveyed_low_csat_rate: f64,
    pub test_weighted_low_csat_rate: f64,
    pub test_predicted_low_csat_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskCard {
    pub source: String,
    pub command: String,
    pub conversations: usize,
    pub data_from: String,
    pub data_to: String,
    /// Conversations created at or after this are the test period.
    pub split_at: String,
    pub test_fraction: f64,
    pub l2: f64,
    pub low_csat: TargetCard,
    pub false_fcr: TargetCard,
    pub survey: SurveyBias,
}

/// The feature columns of one model: the signals, then one indicator per category key.
pub(super) struct Design {
    pub(super) categories: Vec<String>,
}

impl Design {
    pub(super) fn new(rows: &[&ConversationRow], min_rows: usize) -> Design {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in rows {
            for k in category_keys(r) {
                *counts.entry(k).or_default() += 1;
            }
        }
        Design { categories: counts.into_iter().filter(|(_, n)| *n >= min_rows).map(|(k, _)| k).collect() }
    }

    pub(super) fn row(&self, row: &ConversationRow, signals: &RiskSignals) -> Vec<f64> {
        let keys = category_keys(row);
        signals
            .values
            .iter()
            .copied()
            .chain(self.categories.iter().map(|c| if keys.contains(c) { 1.0 } else { 0.0 }))
            .collect()
    }

    pub(super) fn model(&self, fit: &Logistic, name: &str, source: &str) -> RiskModel {
        RiskModel {
            name: name.to_string(),
            intercept: fit.intercept,
            weights: SIGNALS.iter().copied().zip(fit.weights.iter().copied()).collect(),
            offsets: self.categories.iter().cloned().zip(fit.weights[SIGNALS.len()..].iter().copied()).collect(),
            source: source.to_string(),
            calibration: None,
        }
    }
}

/// One labelled row: its index into rows/signals, label and weight.
#[derive(Clone, Copy)]
struct Example {
    index: usize,
    label: bool,
    weight: f64,
}

struct Data<'a> {
    rows: &'a [ConversationRow],
    signals: &'a [RiskSignals],
    cfg: &'a RiskTraining,
}

impl Data<'_> {
    fn fit(&self, examples: &[Example]) -> Result<(Design, Logistic)> {
        let refs: Vec<&ConversationRow> = examples.iter().map(|e| &self.rows[e.index]).collect();
        let design = Design::new(&refs, self.cfg.min_category_rows);
        let x: Vec<Vec<f64>> =
            examples.iter().map(|e| design.row(&self.rows[e.index], &self.signals[e.index])).collect();
        let y: Vec<bool> = examples.iter().map(|e| e.label).collect();
        let w: Vec<f64> = examples.iter().map(|e| e.weight).collect();
        let fit = fit_logistic(&x, &y, &w, self.cfg.l2)?;
        Ok((design, fit))
    }

    fn scored(&self, examples: &[Example], model: &RiskModel) -> Vec<(f64, bool)> {
        examples
            .iter()
            .map(|e| (model.score(&self.signals[e.index], &category_keys(&self.rows[e.index])).probability, e.label))
            .collect()
    }
}

fn need_both_classes(what: &str, examples: &[Example], minimum: usize) -> Result<()> {
    let positives = examples.iter().filter(|e| e.label).count();
    let negatives = examples.len() - positives;
    if positives < minimum || negatives < minimum {
        return Err(Error::config(
            "train risk",
            format!("{what}: {positives} positive and {negatives} negative labelled conversations; at least {minimum} of each are needed"),
            "give more history (more days of messages with a conversations table holding csat_score, resolved conversations whose reopen window has passed), or a smaller --test-fraction",
        ));
    }
    Ok(())
}

/// Per-row weights that undo survey non-response: stabilised 1/propensity (mean 1 over the
/// surveyed rows), propensity floored at 0.02 and weights capped at 10.
fn inverse_propensity(propensity: &[f64]) -> Vec<f64> {
    let raw: Vec<f64> = propensity.iter().map(|p| 1.0 / p.max(0.02)).collect();
    let mean = raw.iter().sum::<f64>() / raw.len().max(1) as f64;
    raw.iter().map(|w| (w / mean).min(10.0)).collect()
}

/// Fits both models, evaluates them on the later part, and refits on everything for saving.
/// `rows` carry their risk signals (SLOW_FOR_INTENT set, as the score stage leaves them).
pub fn train_risk(rows: &[ConversationRow], cfg: &RiskTraining, command: &str) -> Result<(RiskModels, RiskCard)> {
    let signals: Vec<RiskSignals> = rows.iter().map(|r| r.risk_signals.clone()).collect();
    let signals = signals.as_slice();
    if rows.is_empty() {
        return Err(Error::config(
            "train risk",
            "the history has no conversations",
            "pass the messages (and conversations table) of past weeks",
        ));
    }
    let data = Data { rows, signals, cfg };
    let mut created: Vec<i64> = rows.iter().map(|r| r.created_at_us).collect();
    created.sort_unstable();
    let split_at = created[((created.len() as f64 * (1.0 - cfg.test_fraction)) as usize).min(created.len() - 1)];
    let is_test = |i: usize| rows[i].created_at_us >= split_at;

    // Survey response propensity over every conversation that could have been surveyed.
    let eligible: Vec<Example> = (0..rows.len())
        .filter(|&i| rows[i].is_resolved() || rows[i].csat_score.is_some())
        .map(|i| Example { index: i, label: rows[i].csat_score.is_some(), weight: 1.0 })
        .collect();
    let (eligible_train, eligible_test): (Vec<Example>, Vec<Example>) =
        eligible.iter().partition(|e| !is_test(e.index));
    need_both_classes("survey response (rated vs not rated)", &eligible_train, 10)?;
    let (p_design, p_fit) = data.fit(&eligible_train)?;
    let propensity_model = p_design.model(&p_fit, "survey_response", "");
    let propensity = |i: usize| propensity_model.score(&signals[i], &category_keys(&rows[i])).probability;

    let low_csat_label = |i: usize| rows[i].csat_score.map(|s| s <= 3.0);
    // The rated rows of `part`, weighted 1/propensity under `model`.
    let surveyed = |part: &[Example], model: &RiskModel| -> Vec<Example> {
        let picked: Vec<usize> = part.iter().filter(|e| e.label).map(|e| e.index).collect();
        let p: Vec<f64> =
            picked.iter().map(|&i| model.score(&signals[i], &category_keys(&rows[i])).probability).collect();
        picked
            .iter()
            .zip(inverse_propensity(&p))
            .map(|(&i, w)| Example { index: i, label: low_csat_label(i).expect("rated"), weight: w })
            .collect()
    };
    let csat_train = surveyed(&eligible_train, &propensity_model);
    let csat_test = surveyed(&eligible_test, &propensity_model);
    need_both_classes("low CSAT (training part)", &csat_train, 20)?;
    need_both_classes("low CSAT (test part)", &csat_test, 1)?;

    let matured = |test: bool| -> Vec<Example> {
        (0..rows.len())
            .filter(|&i| is_test(i) == test && rows[i].is_resolved() && rows[i].link.fcr_mature)
            .filter_map(|i| rows[i].link.reopened.map(|r| Example { index: i, label: r, weight: 1.0 }))
            .collect()
    };
    let fcr_train = matured(false);
    let fcr_test = matured(true);
    need_both_classes("false FCR (training part)", &fcr_train, 20)?;
    need_both_classes("false FCR (test part)", &fcr_test, 1)?;

    let source = format!("fitted by `convoqa train risk` on {}", cfg.source);
    let built_in = RiskModels::built_in();
    // Returns the saved model (refitted on all), the model fitted on the training part, and the card.
    let evaluate = |label: &str,
                    train: &[Example],
                    test: &[Example],
                    built_in: &RiskModel,
                    all: &[Example],
                    name: &str|
     -> Result<(RiskModel, RiskModel, TargetCard)> {
        let (design, fit) = data.fit(train)?;
        let trained = design.model(&fit, name, &source);
        // Test figures are unweighted: they describe the conversations whose outcome is known.
        let scored = data.scored(test, &trained);
        let scored_built_in = data.scored(test, built_in);
        let (design_all, fit_all) = data.fit(all)?;
        let platt = super::calibrate::fit_platt(&scored.iter().map(|&(p, y)| (logit(p), y)).collect::<Vec<_>>())
            .ok()
            .filter(|p| p.b > 0.0 && p.a.is_finite() && p.b.is_finite());
        let calibration_platt = match platt {
            Some(c) => calibration_table(
                &scored.iter().map(|&(p, y)| (super::fit::sigmoid(c.log_odds(logit(p))), y)).collect::<Vec<_>>(),
                10,
            ),
            None => Vec::new(),
        };
        let card = TargetCard {
            label: label.to_string(),
            train_rows: train.len(),
            train_positives: train.iter().filter(|e| e.label).count(),
            test_trained: RankingMetrics::of(&scored),
            test_built_in: RankingMetrics::of(&scored_built_in),
            calibration_trained: calibration_table(&scored, 10),
            calibration_built_in: calibration_table(&scored_built_in, 10),
            saved_model_rows: all.len(),
            platt,
            calibration_platt,
        };
        let mut saved = design_all.model(&fit_all, name, &source);
        saved.calibration = platt;
        Ok((saved, trained, card))
    };

    // The saved low-CSAT model is weighted by a propensity model refitted on all eligible rows.
    let (p_all_design, p_all_fit) = data.fit(&eligible)?;
    let propensity_all = p_all_design.model(&p_all_fit, "survey_response", "");
    let csat_all = surveyed(&eligible, &propensity_all);
    let (low_csat, low_csat_on_train, low_csat_card) = evaluate(
        "csat_score <= 3 of 5, among surveyed conversations",
        &csat_train,
        &csat_test,
        &built_in.low_csat,
        &csat_all,
        "low_csat (trained)",
    )?;
    let fcr_all: Vec<Example> = fcr_train.iter().chain(&fcr_test).copied().collect();
    let (false_fcr, _, false_fcr_card) = evaluate(
        "reopened within the reopen window, among resolved conversations whose window has passed",
        &fcr_train,
        &fcr_test,
        &built_in.false_fcr,
        &fcr_all,
        "false_fcr (trained)",
    )?;

    // What re-weighting changes, on the test period.
    let weights: Vec<f64> = csat_train.iter().map(|e| e.weight).collect();
    let weighted_rate = |examples: &[Example]| {
        let total: f64 = examples.iter().map(|e| e.weight).sum();
        examples.iter().filter(|e| e.label).map(|e| e.weight).sum::<f64>() / total
    };
    let unweighted: Vec<Example> = csat_test.iter().map(|e| Example { weight: 1.0, ..*e }).collect();
    let test_propensity: Vec<(f64, bool)> = eligible_test.iter().map(|e| (propensity(e.index), e.label)).collect();
    let predicted: Vec<f64> = eligible_test
        .iter()
        .map(|e| low_csat_on_train.score(&signals[e.index], &category_keys(&rows[e.index])).probability)
        .collect();
    let responses = eligible.iter().filter(|e| e.label).count();
    let survey = SurveyBias {
        method: "inverse response propensity: a logistic model of answered-the-survey on the same features; surveyed training rows weighted 1/propensity (normalised to mean 1, propensity floored at 0.02, weight capped at 10)".into(),
        eligible: eligible.len(),
        responses,
        response_rate: responses as f64 / eligible.len() as f64,
        propensity_roc_auc_test: roc_auc(&test_propensity),
        weight_min: weights.iter().copied().fold(f64::INFINITY, f64::min),
        weight_max: weights.iter().copied().fold(0.0, f64::max),
        effective_training_rows: weights.iter().sum::<f64>().powi(2) / weights.iter().map(|w| w * w).sum::<f64>(),
        test_surveyed_low_csat_rate: weighted_rate(&unweighted),
        test_weighted_low_csat_rate: weighted_rate(&csat_test),
        test_predicted_low_csat_rate: predicted.iter().sum::<f64>() / predicted.len().max(1) as f64,
    };
    let card = RiskCard {
        source: cfg.source.clone(),
        command: command.to_string(),
        conversations: rows.len(),
        data_from: format_us(created[0]),
        data_to: format_us(created[created.len() - 1]),
        split_at: format_us(split_at),
        test_fraction: cfg.test_fraction,
        l2: cfg.l2,
        low_csat: low_csat_card,
        false_fcr: false_fcr_card,
        survey,
    };
    Ok((RiskModels { low_csat, false_fcr }, card))
}

pub const MODEL_FILE: &str = "risk_model.json";

/// What `[risk] model` loads: the models and the card that says how they were fitted.
pub fn model_file(models: &RiskModels, card: &RiskCard) -> super::RiskModelFile {
    super::RiskModelFile { format: super::RISK_MODEL_FORMAT.into(), models: models.clone(), card: card.clone() }
}

/// A few lines for the terminal.
pub fn summary(card: &RiskCard) -> String {
    let mut out = format!("risk models on {} conversations, test period from {}:\n", card.conversations, card.split_at);
    for (name, t) in [("low CSAT ", &card.low_csat), ("false FCR", &card.false_fcr)] {
        out.push_str(&format!(
            "  {name}: {} test rows ({} positive)  ROC-AUC trained {} / built-in {}  PR-AUC trained {} / built-in {}\n",
            t.test_trained.rows,
            t.test_trained.positives,
            num(t.test_trained.roc_auc),
            num(t.test_built_in.roc_auc),
            num(t.test_trained.pr_auc),
            num(t.test_built_in.pr_auc)
        ));
    }
    let s = &card.survey;
    out.push_str(&format!(
        "  survey: {:.0}% answered; test-period low-CSAT rate {:.3} surveyed, {:.3} re-weighted, {:.3} predicted for all\n",
        s.response_rate * 100.0,
        s.test_surveyed_low_csat_rate,
        s.test_weighted_low_csat_rate,
        s.test_predicted_low_csat_rate
    ));
    out
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

/// The card as Markdown (CARD.md beside risk_model.json).
pub fn card_markdown(card: &RiskCard, models: &RiskModels) -> String {
    let mut md = String::new();
    md.push_str("# Risk model card\n\n");
    md.push_str(&format!(
        "Fitted by `convoqa train risk` on {}: {} conversations created {} .. {}.\nCommand: `{}`\n\n",
        card.source, card.conversations, card.data_from, card.data_to, card.command
    ));
    md.push_str(&format!(
        "**Split by time.** Conversations created before {} trained the evaluated models; the later {:.0}% are the test period. \
         The saved models were refitted on all labelled rows with the same settings (L2 = {}).\n\n",
        card.split_at,
        card.test_fraction * 100.0,
        card.l2
    ));
    for (title, t) in [("Low CSAT", &card.low_csat), ("False FCR", &card.false_fcr)] {
        md.push_str(&format!(
            "## {title}\n\nLabel: {}. Training rows {} ({} positive).\n\n",
            t.label, t.train_rows, t.train_positives
        ));
        md.push_str("| model (test period) | rows | positives | base rate | ROC-AUC | PR-AUC | Brier |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for (name, m) in [("trained", &t.test_trained), ("built-in", &t.test_built_in)] {
            md.push_str(&format!(
                "| {name} | {} | {} | {:.3} | {} | {} | {} |\n",
                m.rows,
                m.positives,
                m.base_rate,
                num(m.roc_auc),
                num(m.pr_auc),
                num(m.brier)
            ));
        }
        md.push_str("\nCalibration of the trained model on the test period:\n\n| predicted | rows | mean predicted | observed |\n|---|---:|---:|---:|\n");
        for b in &t.calibration_trained {
            md.push_str(&format!(
                "| {:.1}-{:.1} | {} | {:.3} | {:.3} |\n",
                b.lower, b.upper, b.rows, b.mean_predicted, b.observed_rate
            ));
        }
        if let Some(p) = t.platt {
            md.push_str(&format!(
                "\nThe saved model carries Platt scaling (a = {:.3}, b = {:.3}) fitted on the test period's log-odds of the model fitted on the training part. After it (in-sample for its two parameters):\n\n| predicted | rows | mean predicted | observed |\n|---|---:|---:|---:|\n",
                p.a, p.b
            ));
            for b in &t.calibration_platt {
                md.push_str(&format!(
                    "| {:.1}-{:.1} | {} | {:.3} | {:.3} |\n",
                    b.lower, b.upper, b.rows, b.mean_predicted, b.observed_rate
                ));
            }
        }
        md.push('\n');
    }
    let s = &card.survey;
    md.push_str(&format!(
        "## Survey bias\n\n{} of {} eligible conversations answered the survey ({:.1}%). Method: {}.\n\n\
         Who answers is {} from the features (propensity ROC-AUC on the test period {}). Training weights {:.2}..{:.2}, \
         effective training rows {:.0}.\n\n\
         | test period | low-CSAT rate |\n|---|---:|\n| among those who answered | {:.3} |\n| re-weighted by 1/propensity | {:.3} |\n| predicted, every eligible conversation | {:.3} |\n\n",
        s.responses,
        s.eligible,
        s.response_rate * 100.0,
        s.method,
        if s.propensity_roc_auc_test.is_some_and(|a| a > 0.55) { "partly predictable" } else { "close to random" },
        num(s.propensity_roc_auc_test),
        s.weight_min,
        s.weight_max,
        s.effective_training_rows,
        s.test_surveyed_low_csat_rate,
        s.test_weighted_low_csat_rate,
        s.test_predicted_low_csat_rate
    ));
    md.push_str("## Coefficients (log-odds, saved models)\n\n| term | low CSAT | false FCR |\n|---|---:|---:|\n");
    md.push_str(&format!("| intercept | {:.3} | {:.3} |\n", models.low_csat.intercept, models.false_fcr.intercept));
    for (i, s) in SIGNALS.iter().enumerate() {
        md.push_str(&format!(
            "| {} | {:.3} | {:.3} |\n",
            s.code(),
            models.low_csat.weights[i].1,
            models.false_fcr.weights[i].1
        ));
    }
    let keys: std::collections::BTreeSet<&String> =
        models.low_csat.offsets.keys().chain(models.false_fcr.offsets.keys()).collect();
    for k in keys {
        let cell = |m: &RiskModel| m.offsets.get(k).map_or("-".into(), |v| format!("{v:.3}"));
        md.push_str(&format!("| {k} | {} | {} |\n", cell(&models.low_csat), cell(&models.false_fcr)));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Signal;

    /// Planted history: NEGATIVE_END drives low CSAT, DEFERRED_RESOLUTION drives returns, and
    /// unhappy customers answer the survey more often.
    fn history(n: usize) -> Vec<ConversationRow> {
        let mut rows = Vec::new();
        for i in 0..n {
            let h = |salt: u64| {
                ((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt).wrapping_mul(0xBF58_476D_1CE4_E5B9) % 1000
            };
            let negative_end = h(1) < 300;
            let deferred = h(2) < 250;
            let mut s = RiskSignals::default();
            s.set(Signal::NegativeEnd, negative_end as u8 as f64);
            s.set(Signal::DeferredResolution, deferred as u8 as f64);
            let low = h(3) < if negative_end { 700 } else { 100 };
            let answers = h(4) < if low { 600 } else { 300 };
            let returns = h(5) < if deferred { 600 } else { 80 };
            rows.push(ConversationRow {
                created_at_us: i as i64 * 60_000_000,
                resolved_at_us: Some(i as i64 * 60_000_000 + 1),
                link: crate::row::LinkOutcome { fcr_mature: true, reopened: Some(returns), ..Default::default() },
                csat_score: answers.then_some(if low { 2.0 } else { 5.0 }),
                channel: Some(if i % 3 == 0 { "email" } else { "whatsapp" }.into()),
                risk_signals: s,
                ..Default::default()
            });
        }
        rows
    }

    #[test]
    fn recovers_planted_drivers_and_beats_chance_on_the_later_period() {
        let rows = history(3000);
        let (models, card) = train_risk(&rows, &RiskTraining::default(), "test").unwrap();
        let w = |m: &RiskModel, s: Signal| m.weights.iter().find(|x| x.0 == s).unwrap().1;
        assert!(w(&models.low_csat, Signal::NegativeEnd) > 2.0, "{:?}", models.low_csat);
        assert!(w(&models.false_fcr, Signal::DeferredResolution) > 2.0, "{:?}", models.false_fcr);
        assert!(w(&models.low_csat, Signal::DeferredResolution).abs() < 0.5);
        assert!(card.low_csat.test_trained.roc_auc.unwrap() > 0.75);
        assert!(card.false_fcr.test_trained.roc_auc.unwrap() > 0.75);
        // Test rows are the latest 30%.
        assert_eq!(
            card.low_csat.test_trained.rows + card.low_csat.train_rows,
            rows.iter().filter(|r| r.csat_score.is_some()).count()
        );
        assert!((card.false_fcr.test_trained.rows as f64 - 900.0).abs() <= 1.0);
        // Unhappy customers answer more: the surveyed rate overstates low CSAT, re-weighting
        // moves it toward the truth (0.3 x 0.7 + 0.7 x 0.1 = 0.28).
        let s = &card.survey;
        assert!(s.propensity_roc_auc_test.unwrap() > 0.55);
        assert!(s.test_surveyed_low_csat_rate > s.test_weighted_low_csat_rate, "{s:?}");
        assert!((s.test_weighted_low_csat_rate - 0.28).abs() < (s.test_surveyed_low_csat_rate - 0.28).abs());
        assert!(card_markdown(&card, &models).contains("| NEGATIVE_END |"));
    }

    #[test]
    fn too_little_history_is_a_clear_error() {
        let rows = history(40);
        let err = train_risk(&rows, &RiskTraining::default(), "test").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("at least"), "{err}");
    }
}
