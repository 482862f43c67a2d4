//! Weighted, L2-penalised logistic regression fitted by Newton's method.
//!
//! Written here rather than taken from a crate: the risk models need per-row weights (survey
//! response propensity) and an exact, deterministic optimum over a few dozen columns, and the
//! Rust logistic-regression crates (linfa-logistic) take no sample weights. Newton on a convex
//! objective with d <= ~40 columns converges in a handful of O(n d^2) steps.

use crate::error::{Error, Result};

/// Coefficients: `intercept + weights . x` is the log-odds.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub intercept: f64,
    pub weights: Vec<f64>,
}

impl Logistic {
    pub fn log_odds(&self, x: &[f64]) -> f64 {
        self.intercept + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }
    pub fn probability(&self, x: &[f64]) -> f64 {
        sigmoid(self.log_odds(x))
    }
}

/// The inverse of [`sigmoid`], with p kept inside (0, 1) so that 0 and 1 stay finite.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Maximises sum_i w_i log p(y_i | x_i) - l2/2 |weights|^2 (the intercept is not penalised).
/// Rows of `x` must all have the same length.
pub fn fit_logistic(x: &[Vec<f64>], y: &[bool], w: &[f64], l2: f64) -> Result<Logistic> {
    assert!(x.len() == y.len() && y.len() == w.len(), "rows, labels and weights differ in length");
    let d = x.first().map_or(0, Vec::len) + 1;
    let row = |i: usize, j: usize| if j == 0 { 1.0 } else { x[i][j - 1] };
    let mut beta = vec![0.0; d];
    let objective = |beta: &[f64]| -> f64 {
        let mut ll = 0.0;
        for i in 0..x.len() {
            let z: f64 = (0..d).map(|j| beta[j] * row(i, j)).sum();
            // log(1 + e^z) without overflow.
            let softplus = if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
            ll += w[i] * (if y[i] { z } else { 0.0 } - softplus);
        }
        ll - 0.5 * l2 * beta[1..].iter().map(|b| b * b).sum::<f64>()
    };
    let mut current = objective(&beta);
    for _ in 0..100 {
        let mut gradient = vec![0.0; d];
        let mut hessian = vec![vec![0.0; d]; d];
        for i in 0..x.len() {
            let z: f64 = (0..d).map(|j| beta[j] * row(i, j)).sum();
            let p = sigmoid(z);
            let residual = w[i] * (if y[i] { 1.0 } else { 0.0 } - p);
            let curvature = w[i] * p * (1.0 - p);
            for a in 0..d {
                let xa = row(i, a);
                gradient[a] += residual * xa;
                for (b, cell) in hessian[a][..=a].iter_mut().enumerate() {
                    *cell += curvature * xa * row(i, b);
                }
            }
        }
        for a in 1..d {
            gradient[a] -= l2 * beta[a];
            hessian[a][a] += l2;
        }
        // A tiny ridge on the intercept too keeps a one-class sample solvable.
        hessian[0][0] += 1e-9;
        let step = cholesky_solve(&hessian, &gradient)
            .ok_or_else(|| Error::internal("risk fit: the Hessian is not positive definite"))?;
        // Step halving keeps every step an improvement.
        let mut scale = 1.0;
        loop {
            let candidate: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + scale * s).collect();
            let value = objective(&candidate);
            if value >= current - 1e-12 || scale < 1e-6 {
                beta = candidate;
                current = value;
                break;
            }
            scale /= 2.0;
        }
        if step.iter().map(|s| (s * scale).abs()).fold(0.0, f64::max) < 1e-9 {
            break;
        }
    }
    Ok(Logistic { intercept: beta[0], weights: beta[1..].to_vec() })
}

/// Solves A v = b for a symmetric positive-definite A given by its lower triangle.
fn cholesky_solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut v = vec![0.0; n];
    for i in (0..n).rev() {
        v[i] = (z[i] - (i + 1..n).map(|k| l[k][i] * v[k]).sum::<f64>()) / l[i][i];
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpenalised_fit_solves_the_score_equations() {
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0, 0.5, 1.5, 2.5, 3.5, 4.5, 1.0, 3.0];
        let ys = [false, false, false, true, true, false, true, false, true, true, false, true];
        let x: Vec<Vec<f64>> = xs.iter().map(|&v| vec![v]).collect();
        let fit = fit_logistic(&x, &ys, &vec![1.0; xs.len()], 0.0).unwrap();
        // At the unpenalised optimum the gradient is zero: sum(y - p) = 0 and sum((y - p) x) = 0.
        let r: Vec<f64> = x.iter().zip(&ys).map(|(x, &y)| (y as u8 as f64) - fit.probability(x)).collect();
        assert!(r.iter().sum::<f64>().abs() < 1e-8);
        assert!(r.iter().zip(&xs).map(|(r, x)| r * x).sum::<f64>().abs() < 1e-8);
        assert!(fit.weights[0] > 0.5);
    }

    #[test]
    fn integer_weights_equal_repeated_rows() {
        let x = vec![vec![0.0], vec![1.0], vec![2.0], vec![1.0]];
        let y = [false, true, true, false];
        let weighted = fit_logistic(&x, &y, &[1.0, 3.0, 1.0, 1.0], 0.5).unwrap();
        let mut xr = x.clone();
        xr.extend([vec![1.0], vec![1.0]]);
        let yr = [false, true, true, false, true, true];
        let repeated = fit_logistic(&xr, &yr, &[1.0; 6], 0.5).unwrap();
        assert!((weighted.intercept - repeated.intercept).abs() < 1e-9);
        assert!((weighted.weights[0] - repeated.weights[0]).abs() < 1e-9);
    }

    #[test]
    fn separable_data_stays_finite_under_the_penalty() {
        let x = vec![vec![0.0], vec![0.0], vec![1.0], vec![1.0]];
        let fit = fit_logistic(&x, &[false, false, true, true], &[1.0; 4], 1.0).unwrap();
        assert!(fit.weights[0].is_finite() && fit.weights[0] > 0.5, "{fit:?}");
        let weaker = fit_logistic(&x, &[false, false, true, true], &[1.0; 4], 0.01).unwrap();
        assert!(weaker.weights[0].is_finite() && weaker.weights[0] > fit.weights[0]);
    }
}
