//! How close e5 embeddings of two messages are when they share an intent and when they do not,
//! on the default taxonomy's examples: the evidence behind `reopen_min_similarity`.
//!
//! cargo run --release --example reopen_similarity   (needs scripts/fetch-model.sh first)

use convoqa::encoder::{Encoder, QUERY_PREFIX};
use convoqa::heads::intent::Taxonomy;
use convoqa::text::inference_key;

fn main() -> convoqa::Result<()> {
    convoqa::encoder::configure_threads(2);
    let encoder = Encoder::load(std::path::Path::new(convoqa::encoder::DEFAULT_MODEL_PATH))?;
    let rows = Taxonomy::default_taxonomy().labelled();
    let keys: Vec<String> = rows.iter().map(|r| inference_key(&r.text)).collect();
    let texts: Vec<&str> = keys.iter().map(String::as_str).collect();
    let vectors = encoder.embed(&texts, QUERY_PREFIX, 128, convoqa::encoder::DEFAULT_BATCH_TOKENS)?.vectors;
    let (mut same, mut different) = (Vec::new(), Vec::new());
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let cosine: f32 = vectors[i].iter().zip(&vectors[j]).map(|(a, b)| a * b).sum();
            if rows[i].label == rows[j].label {
                same.push(cosine)
            } else {
                different.push(cosine)
            }
        }
    }
    println!("{} same-intent pairs, {} different-intent pairs", same.len(), different.len());
    println!("threshold  same-intent pairs >= it  different-intent pairs >= it");
    for threshold in [0.85f32, 0.88, 0.90, 0.92, 0.94] {
        let share = |v: &[f32]| 100.0 * v.iter().filter(|&&c| c >= threshold).count() as f64 / v.len() as f64;
        println!("{threshold:9.2}  {:23.2}%  {:28.2}%", share(&same), share(&different));
    }
    Ok(())
}
