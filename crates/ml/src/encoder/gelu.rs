//! Exact-GELU, vectorisable. candle's `gelu_erf` calls scalar libm `erf` per element, which
//! costs about as much as the feed-forward matmul itself; this uses the rational erf
//! approximation of Eigen/XNNPACK (a few ulp in f32 on [-4, 4], clamped beyond, where
//! |erf| rounds to 1), written so the compiler vectorises it.

use candle_core::{Result, Tensor};

#[inline(always)]
fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    let p = p * x;
    let mut q = x2 * -1.456_607_2e-5 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329_4e-3;
    q = q * x2 - 1.426_474e-2;
    p / q
}

/// GELU(x) = x/2 (1 + erf(x / sqrt 2)), in place.
pub fn gelu_erf_in_place(values: &mut [f32]) {
    const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    for v in values.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf_f32(*v * FRAC_1_SQRT_2));
    }
}

/// GELU over a tensor of f32.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    let shape = x.shape().clone();
    let mut v = x.flatten_all()?.to_vec1::<f32>()?;
    gelu_erf_in_place(&mut v);
    Tensor::from_vec(v, shape, x.device())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf in f64 by its Taylor series (converges fast for |x| <= 4 with enough terms).
    fn erf_reference(x: f64) -> f64 {
        let mut sum = 0.0;
        let mut term = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 || n < 10.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
            if n > 200.0 {
                break;
            }
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    }

    #[test]
    fn erf_approximation_is_within_a_few_ulp_of_exact() {
        let mut worst: f64 = 0.0;
        for i in -6000..=6000 {
            let x = i as f64 / 1000.0;
            let exact = if x.abs() > 5.0 { x.signum() } else { erf_reference(x) };
            worst = worst.max((erf_f32(x as f32) as f64 - exact).abs());
        }
        assert!(worst < 5e-7, "max error {worst}");
    }

    #[test]
    fn gelu_matches_its_definition() {
        let mut v = vec![-3.0f32, -1.0, 0.0, 0.5, 2.0];
        let want: Vec<f32> =
            v.iter().map(|&x| (0.5 * x as f64 * (1.0 + erf_reference(x as f64 / 2f64.sqrt()))) as f32).collect();
        gelu_erf_in_place(&mut v);
        for (a, b) in v.iter().zip(&want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
