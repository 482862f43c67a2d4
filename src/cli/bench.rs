//! `convoqa bench`: encoder throughput on a fixed corpus (messages/s, real tokens/s, peak RSS),
//! median of several runs. A benchmark, not a test: figures go to BENCHMARKS.md.

use std::time::Instant;

use anyhow::Context as _;
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

/// `convoqa bench`: loads the encoder, embeds the corpus `runs` times, prints the median.
pub(crate) fn run(args: &super::args::BenchArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.corpus).with_context(|| format!("reading {}", args.corpus.display()))?;
    let texts: Vec<&str> = text.lines().collect();
    let rss_before = rss_mb();
    let load_start = std::time::Instant::now();
    let encoder = convoqa::encoder::Encoder::load(&args.model)?;
    let load_s = load_start.elapsed().as_secs_f64();
    let rss_loaded = rss_mb();
    let b = bench_encoder(&encoder, &texts, args.max_tokens, args.batch_tokens, args.runs)?;
    if let Some(path) = &args.save_embeddings {
        let bytes: Vec<u8> = b.vectors.iter().flatten().flat_map(|f| f.to_le_bytes()).collect();
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"encoder": b, "load_seconds": load_s, "rss_before_load_mb": rss_before, "rss_after_load_mb": rss_loaded})
        );
    } else {
        println!(
            "encoder: {} messages, {} real tokens ({} truncated at {}), {} threads\n  median of {} runs: {:.2} s -> {:.1} messages/s, {:.0} tokens/s\n  load {:.2} s, RSS {:.0} MB before load, {:.0} MB after (model {:.0} MB), peak {:.0} MB",
            b.messages, b.real_tokens, b.truncated, args.max_tokens, b.threads, b.runs_seconds.len(), b.median_seconds, b.messages_per_s, b.tokens_per_s, load_s, rss_before, rss_loaded, rss_loaded - rss_before, b.peak_rss_mb
        );
    }
    Ok(())
}
