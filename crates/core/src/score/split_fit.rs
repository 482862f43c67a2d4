//! Fitting the risk models on a fixed split: coefficients on the train rows, Platt scaling on
//! the dev rows. `convoqa train risk --corpus` fits the built-in models this way on the chat
//! corpus (train and dev are different businesses), and the card reports the dev figures of the
//! reasoned coefficients, the fitted model and the calibrated one side by side.

use serde::{Deserialize, Serialize};

use super::calibrate::{fit_platt, Platt};
use super::eval::{calibration_table, CalibrationBin, RankingMetrics};
use super::fit::{fit_logistic, logit};
use super::train::Design;
use super::{category_keys, RiskModel, RiskModels};
use crate::error::{Error, Result};
use crate::row::ConversationRow;

/// One labelled row: its index into the rows, whether it is a dev row, and its labels (None:
/// the row does not count for that risk, e.g. false FCR of a conversation not resolved).
#[derive(Debug, Clone, Copy)]
pub struct SplitLabel {
    pub index: usize,
    pub dev: bool,
    pub low_csat: Option<bool>,
    pub false_fcr: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitTargetCard {
    pub label: String,
    pub train_rows: usize,
    pub train_positives: usize,
    pub dev_reasoned: RankingMetrics,
    pub dev_fitted: RankingMetrics,
    pub dev_calibrated: RankingMetrics,
    pub platt: Platt,
    /// Reliability of the calibrated model on dev (5 equal-width bins; in-sample for Platt's two
    /// parameters).
    pub reliability_dev: Vec<CalibrationBin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitFitCard {
    pub source: String,
    pub command: String,
    pub l2: f64,
    pub min_category_rows: usize,
    pub low_csat: SplitTargetCard,
    pub false_fcr: SplitTargetCard,
}

fn need(what: &str, rows: &[(usize, bool)]) -> Result<()> {
    let positives = rows.iter().filter(|r| r.1).count();
    if positives < 5 || rows.len() - positives < 5 {
        return Err(Error::config(
            "train risk",
            format!(
                "{what}: {positives} positive of {} labelled rows; at least 5 of each class are needed",
                rows.len()
            ),
            "label more conversations",
        ));
    }
    Ok(())
}

fn fit_target(
    rows: &[ConversationRow],
    labels: &[SplitLabel],
    pick: impl Fn(&SplitLabel) -> Option<bool>,
    reasoned: &RiskModel,
    how: (&str, &str, f64, usize),
) -> Result<(RiskModel, SplitTargetCard)> {
    let (name, label, l2, min_category_rows) = how;
    let part = |dev: bool| -> Vec<(usize, bool)> {
        labels.iter().filter(|l| l.dev == dev).filter_map(|l| pick(l).map(|y| (l.index, y))).collect()
    };
    let (train, dev) = (part(false), part(true));
    need(&format!("{name} (train)"), &train)?;
    need(&format!("{name} (dev)"), &dev)?;
    let refs: Vec<&ConversationRow> = train.iter().map(|&(i, _)| &rows[i]).collect();
    let design = Design::new(&refs, min_category_rows);
    let x: Vec<Vec<f64>> = train.iter().map(|&(i, _)| design.row(&rows[i], &rows[i].risk_signals)).collect();
    let y: Vec<bool> = train.iter().map(|r| r.1).collect();
    let fit = fit_logistic(&x, &y, &vec![1.0; y.len()], l2)?;
    let mut model = design.model(&fit, name, "");
    let score = |m: &RiskModel, i: usize| m.score(&rows[i].risk_signals, &category_keys(&rows[i])).probability;
    let fitted: Vec<(f64, bool)> = dev.iter().map(|&(i, y)| (score(&model, i), y)).collect();
    let platt = fit_platt(&fitted.iter().map(|&(p, y)| (logit(p), y)).collect::<Vec<_>>())?;
    let reasoned_dev: Vec<(f64, bool)> = dev.iter().map(|&(i, y)| (score(reasoned, i), y)).collect();
    model.calibration = Some(platt);
    let calibrated: Vec<(f64, bool)> = dev.iter().map(|&(i, y)| (score(&model, i), y)).collect();
    let card = SplitTargetCard {
        label: label.to_string(),
        train_rows: train.len(),
        train_positives: y.iter().filter(|&&y| y).count(),
        dev_reasoned: RankingMetrics::of(&reasoned_dev),
        dev_fitted: RankingMetrics::of(&fitted),
        dev_calibrated: RankingMetrics::of(&calibrated),
        platt,
        reliability_dev: calibration_table(&calibrated, 5),
    };
    Ok((model, card))
}

/// Fits both risks on the train rows and calibrates them on the dev rows. `labels` name the rows
/// that count; the rows carry their signals (SLOW_FOR_INTENT set).
pub fn fit_on_split(
    rows: &[ConversationRow],
    labels: &[SplitLabel],
    labels_text: (&str, &str),
    source: &str,
    command: &str,
) -> Result<(RiskModels, SplitFitCard)> {
    let (l2, min_category_rows) = (1.0, 30);
    let reasoned = RiskModels::reasoned();
    let (mut low_csat, low_card) = fit_target(
        rows,
        labels,
        |l| l.low_csat,
        &reasoned.low_csat,
        ("low_csat (fitted)", labels_text.0, l2, min_category_rows),
    )?;
    let (mut false_fcr, fcr_card) = fit_target(
        rows,
        labels,
        |l| l.false_fcr,
        &reasoned.false_fcr,
        ("false_fcr (fitted)", labels_text.1, l2, min_category_rows),
    )?;
    low_csat.source = source.to_string();
    false_fcr.source = source.to_string();
    let card = SplitFitCard {
        source: source.to_string(),
        command: command.to_string(),
        l2,
        min_category_rows,
        low_csat: low_card,
        false_fcr: fcr_card,
    };
    Ok((RiskModels { low_csat, false_fcr }, card))
}
