//! `convoqa bench`: encoder throughput on a fixed corpus (messages/s, real tokens/s, peak RSS),
//! median of several runs. A benchmark, not a test: figures go to BENCHMARKS.md.

use std::time::Instant;

use convoqa::encoder::Encoder;
use convoqa::error::Result;

#[derive(Debug, Clone, serde::Serialize)]
pub struct EncoderBench {
    pub messages: usize,
    pub real_tokens: usize,
    pub truncated: usize,
    pub runs_seconds: Vec<f64>,
    pub median_seconds: f64,
    pub messages_per_s: f64,
    pub tokens_per_s: f64,
    pub peak_rss_mb: f64,
    pub threads: usize,
    /// The last run's embeddings, in corpus order (for comparing other tools' outputs).
    #[serde(skip)]
    pub vectors: Vec<Vec<f32>>,
}

/// Peak resident memory of this process so far (Linux); 0 elsewhere.
pub fn peak_rss_mb() -> f64 {
    convoqa_domain::memory::peak_resident_mib().unwrap_or(0.0)
}

/// Resident memory now (Linux); 0 elsewhere.
pub fn rss_mb() -> f64 {
    convoqa_domain::memory::resident_mib().unwrap_or(0.0)
}

pub fn bench_encoder(
    encoder: &Encoder,
    texts: &[&str],
    max_tokens: usize,
    batch_tokens: usize,
    runs: usize,
) -> Result<EncoderBench> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let out = encoder.embed(texts, &encoder.query_prefix, max_tokens, batch_tokens)?;
        times.push(start.elapsed().as_secs_f64());
        last = Some(out);
    }
    let out = last.expect("at least one run");
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    Ok(EncoderBench {
        messages: texts.len(),
        real_tokens: out.tokens,
        truncated: out.truncated,
        runs_seconds: times,
        median_seconds: median,
        messages_per_s: texts.len() as f64 / median,
        tokens_per_s: out.tokens as f64 / median,
        peak_rss_mb: peak_rss_mb(),
        threads: rayon::current_num_threads(),
        vectors: out.vectors,
    })
}
