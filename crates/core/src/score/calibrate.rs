//! Platt scaling: a risk model's log-odds z become sigmoid(a + b z), with a and b fitted by
//! logistic regression on a development set the model was not fitted on. Ranking is unchanged
//! (b > 0 on any useful model); the probabilities then match the rates seen on that set.

use serde::{Deserialize, Serialize};

use super::fit::fit_logistic;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

impl Platt {
    pub fn log_odds(&self, z: f64) -> f64 {
        self.a + self.b * z
    }
}

/// Fits a and b on (log-odds, label) pairs, unpenalised.
pub fn fit_platt(scored: &[(f64, bool)]) -> Result<Platt> {
    let x: Vec<Vec<f64>> = scored.iter().map(|s| vec![s.0]).collect();
    let y: Vec<bool> = scored.iter().map(|s| s.1).collect();
    let fit = fit_logistic(&x, &y, &vec![1.0; y.len()], 1e-6)?;
    Ok(Platt { a: fit.intercept, b: fit.weights[0] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::fit::sigmoid;

    #[test]
    fn platt_scaling_corrects_an_overconfident_score() {
        // Scores twice as extreme as the truth: the true log-odds are z / 2 - 0.5.
        let mut scored = Vec::new();
        for i in 0..2000 {
            let z = (i % 41) as f64 / 5.0 - 4.0;
            let p = sigmoid(z / 2.0 - 0.5);
            // Deterministic labels at the right rate: the first round(p * 50) of every 50.
            scored.push((z, ((i / 41) % 50) < (p * 50.0).round() as usize));
        }
        let platt = fit_platt(&scored).unwrap();
        assert!((platt.b - 0.5).abs() < 0.05, "{platt:?}");
        assert!((platt.a + 0.5).abs() < 0.1, "{platt:?}");
    }
}
