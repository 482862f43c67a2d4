//! The shipped chat adapter merged into the encoder's weights at load gives the embeddings the
//! adapter gives beside the frozen weights (as it was trained): cosine >= 0.9999 on 200 texts.
//! And it is small: the file in git stays under 20 MB.

use std::path::PathBuf;

use convoqa::encoder::bert::cosine;
use convoqa::encoder::lora::{AdaptedStack, Adapter};
use convoqa::encoder::Encoder;
use convoqa::heads::corpus::Corpus;

#[test]
fn merged_adapter_matches_the_unmerged_one() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(convoqa::encoder::DEFAULT_ADAPTER_PATH);
    let size = std::fs::metadata(dir.join("adapter.safetensors")).expect("the shipped adapter").len();
    assert!(size < 20 * 1024 * 1024, "adapter file {size} bytes");
    let model_path = Encoder::default_path(&root);
    let (plain, _) = Encoder::load_adapted(&model_path, None).expect("the model: run scripts/fetch-model.sh");
    let (merged, name) = Encoder::load_adapted(&model_path, Some(&dir)).unwrap();
    assert!(name.ends_with("+e5-small-chat"), "{name}");
    let adapter = Adapter::load(&dir).unwrap();
    let corpus = Corpus::load(&root.join("data/corpus")).unwrap();
    let mut texts: Vec<String> = corpus.split("dev").flat_map(|c| c.messages.iter().map(|m| m.text.clone())).collect();
    texts.sort();
    texts.dedup();
    let texts: Vec<String> = texts.into_iter().step_by(3).take(200).collect();
    assert_eq!(texts.len(), 200);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let merged_vecs =
        merged.embed(&refs, &merged.query_prefix, 128, convoqa::encoder::DEFAULT_BATCH_TOKENS).unwrap().vectors;
    let plain_vecs =
        plain.embed(&refs, &plain.query_prefix, 128, convoqa::encoder::DEFAULT_BATCH_TOKENS).unwrap().vectors;
    let stack = AdaptedStack {
        model: &plain.model,
        first_layer: adapter.spec.first_layer,
        scale: adapter.scale(),
        weights: &adapter.weights,
    };
    let mut changed = 0;
    for (i, t) in texts.iter().enumerate() {
        let ids = plain.tokenizer.encode(&format!("{}{t}", plain.query_prefix), 128).unwrap().ids;
        let (hidden, mask) =
            plain.model.hidden_until(&[ids.as_slice()], plain.tokenizer.pad_id(), adapter.spec.first_layer).unwrap();
        let unmerged = stack.embed(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap().remove(0);
        let c = cosine(&unmerged, &merged_vecs[i]);
        assert!(c >= 0.9999, "text {i}: cosine {c}");
        changed += usize::from(cosine(&plain_vecs[i], &merged_vecs[i]) < 0.999);
    }
    // The adapter does change the embeddings (a no-op adapter would pass the check above).
    assert!(changed > 100, "{changed} of 200 embeddings changed");
}

#[test]
fn shipped_adapter_matches_its_sha256() {
    use sha2::{Digest, Sha256};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sums = std::fs::read_to_string(root.join("models/SHA256SUMS")).unwrap();
    let expected = sums
        .lines()
        .find_map(|l| l.strip_suffix("  adapters/e5-small-chat/adapter.safetensors"))
        .expect("listed in models/SHA256SUMS");
    let bytes = std::fs::read(root.join("models/adapters/e5-small-chat/adapter.safetensors")).unwrap();
    let got: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(got, expected, "the adapter file changed: retrain the heads on it and update models/SHA256SUMS");
}
