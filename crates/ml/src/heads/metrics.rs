//! Classification metrics: accuracy, per-class and macro F1, confusion matrix.

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class_f1: Vec<(String, f64)>,
    /// confusion[true][predicted]
    pub confusion: Vec<Vec<usize>>,
    pub labels: Vec<String>,
}

pub fn evaluate(labels: &[String], truth: &[usize], predicted: &[usize]) -> Metrics {
    let k = labels.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&t, &p) in truth.iter().zip(predicted) {
        confusion[t][p] += 1;
    }
    let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
    let mut per_class_f1 = Vec::with_capacity(k);
    let mut present = 0usize;
    let mut f1_sum = 0.0;
    for i in 0..k {
        let tp = confusion[i][i] as f64;
        let actual: usize = confusion[i].iter().sum();
        let predicted_i: usize = (0..k).map(|r| confusion[r][i]).sum();
        let f1 = if actual + predicted_i == 0 { 0.0 } else { 2.0 * tp / (actual + predicted_i) as f64 };
        // Macro-F1 over the classes that occur in the truth (scikit-learn's labels=present).
        if actual > 0 {
            present += 1;
            f1_sum += f1;
        }
        per_class_f1.push((labels[i].clone(), f1));
    }
    Metrics {
        n: truth.len(),
        accuracy: if truth.is_empty() { 0.0 } else { correct as f64 / truth.len() as f64 },
        macro_f1: if present == 0 { 0.0 } else { f1_sum / present as f64 },
        per_class_f1,
        confusion,
        labels: labels.to_vec(),
    }
}

impl Metrics {
    /// Recall of one class: the share of its true rows predicted as it (e.g. out-of-scope recall).
    pub fn recall(&self, label: &str) -> Option<f64> {
        let i = self.labels.iter().position(|l| l == label)?;
        let actual: usize = self.confusion[i].iter().sum();
        (actual > 0).then(|| self.confusion[i][i] as f64 / actual as f64)
    }

    /// Accuracy over the rows whose true label is not `out_of_scope` (None without such rows).
    pub fn in_scope_accuracy(&self, out_of_scope: &str) -> Option<f64> {
        let rows = self.labels.iter().enumerate().filter(|(_, l)| *l != out_of_scope).map(|(i, _)| i);
        let (right, total) =
            rows.fold((0, 0), |(r, t), i| (r + self.confusion[i][i], t + self.confusion[i].iter().sum::<usize>()));
        (total > 0).then(|| right as f64 / total as f64)
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "n = {}  accuracy = {:.4}  macro-F1 = {:.4}", self.n, self.accuracy, self.macro_f1)?;
        let w = self.labels.iter().map(|l| l.len()).max().unwrap_or(4).clamp(4, 24);
        write!(f, "{:>w$}  ", "true \\ pred")?;
        for l in &self.labels {
            write!(f, " {:>9.9}", l)?;
        }
        writeln!(f, "{:>8}", "F1")?;
        for (i, row) in self.confusion.iter().enumerate() {
            write!(f, "{:>w$.w$}  ", self.labels[i])?;
            for c in row {
                write!(f, " {c:>9}")?;
            }
            writeln!(f, "{:>8.3}", self.per_class_f1[i].1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_matches_a_hand_computed_case() {
        let labels: Vec<String> = ["neg", "neu", "pos"].iter().map(|s| s.to_string()).collect();
        let truth = [0, 0, 1, 2, 2, 2];
        let pred = [0, 2, 1, 2, 2, 0];
        let m = evaluate(&labels, &truth, &pred);
        // neg: tp 1, actual 2, predicted 2 -> 0.5; neu: 1.0; pos: tp 2, actual 3, predicted 3 -> 2/3.
        assert!((m.macro_f1 - (0.5 + 1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(m.confusion[0], vec![1, 0, 1]);
        assert_eq!(m.recall("pos"), Some(2.0 / 3.0));
    }

    #[test]
    fn in_scope_accuracy_leaves_out_the_out_of_scope_rows() {
        let labels: Vec<String> = ["a", "b", "oos"].iter().map(|s| s.to_string()).collect();
        // In scope: 2 of 3 right (one read as oos); out of scope: 1 of 2 caught.
        let m = evaluate(&labels, &[0, 1, 1, 2, 2], &[0, 1, 2, 2, 0]);
        assert_eq!(m.in_scope_accuracy("oos"), Some(2.0 / 3.0));
        assert_eq!(m.recall("oos"), Some(0.5));
        assert_eq!(evaluate(&labels, &[2], &[2]).in_scope_accuracy("oos"), None);
    }
}
