//! Writes the E5S1 encoder as a standard Hugging Face directory (config.json, model.safetensors
//! with the dequantised f32 weights, tokenizer.json), so the tools a user would pick instead
//! (ONNX Runtime, sentence-transformers on PyTorch) run the very same weights in
//! scripts/bench-baselines.sh.
//!
//! cargo run --release --example export_hf -- models/e5-small/e5-small-q4.bin OUT_DIR [CORPUS]
//!
//! The tokenizer.json is a `tokenizers` Unigram over the file's pieces. Its normalisation is
//! NFKC with the file's table applied first where the table and NFKC disagree: close to, not
//! exactly, the file's own (which convoqa follows exactly). With CORPUS, prints the share of its
//! lines whose token ids equal convoqa's.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use convoqa::encoder::e5s1::E5s1File;
use convoqa::encoder::Encoder;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{replace::Replace, strip::Strip, unicode::NFKC, NormalizerWrapper, Sequence};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::NormalizedString;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    let (model, out) = (Path::new(&args[1]), Path::new(&args[2]));
    std::fs::create_dir_all(out)?;
    let file = E5s1File::open(model)?;
    let s = file.shape;
    let (h, f) = (s.hidden, s.ffn);

    let config = serde_json::json!({
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": h, "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads, "intermediate_size": f, "max_position_embeddings": s.max_positions,
        "type_vocab_size": s.type_vocab, "vocab_size": s.vocab, "layer_norm_eps": s.layer_norm_eps,
        "pad_token_id": file.tokenizer.pad_id, "hidden_act": "gelu", "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
    });
    std::fs::write(out.join("config.json"), serde_json::to_string_pretty(&config)?)?;
    std::fs::create_dir_all(out.join("1_Pooling"))?;
    std::fs::write(
        out.join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true, "pooling_mode_cls_token": false}"#,
    )?;
    std::fs::write(
        out.join("modules.json"),
        r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]"#,
    )?;
    std::fs::write(out.join("sentence_bert_config.json"), r#"{"max_seq_length": 512, "do_lower_case": false}"#)?;

    let dev = Device::Cpu;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut put = |name: String, v: Vec<f32>, shape: &[usize]| -> candle_core::Result<()> {
        tensors.insert(name, Tensor::from_vec(v, shape, &dev)?);
        Ok(())
    };
    put(
        "embeddings.word_embeddings.weight".into(),
        file.q4_tensor_dequantised("emb.word", s.vocab * h)?,
        &[s.vocab, h],
    )?;
    put(
        "embeddings.position_embeddings.weight".into(),
        file.f32_tensor("emb.pos", s.max_positions * h)?,
        &[s.max_positions, h],
    )?;
    put(
        "embeddings.token_type_embeddings.weight".into(),
        file.f32_tensor("emb.type", s.type_vocab * h)?,
        &[s.type_vocab, h],
    )?;
    put("embeddings.LayerNorm.weight".into(), file.f32_tensor("emb.ln.w", h)?, &[h])?;
    put("embeddings.LayerNorm.bias".into(), file.f32_tensor("emb.ln.b", h)?, &[h])?;
    for l in 0..s.layers {
        let p = format!("encoder.layer.{l}.");
        let linears = [
            ("q", "attention.self.query", h, h),
            ("k", "attention.self.key", h, h),
            ("v", "attention.self.value", h, h),
            ("ao", "attention.output.dense", h, h),
            ("fi", "intermediate.dense", f, h),
            ("fo", "output.dense", h, f),
        ];
        for (ours, theirs, o, i) in linears {
            put(format!("{p}{theirs}.weight"), file.q4_tensor_dequantised(&format!("l{l}.{ours}.w"), o * i)?, &[o, i])?;
            put(format!("{p}{theirs}.bias"), file.f32_tensor(&format!("l{l}.{ours}.b"), o)?, &[o])?;
        }
        for (ours, theirs) in [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")] {
            put(format!("{p}{theirs}.weight"), file.f32_tensor(&format!("l{l}.{ours}.w"), h)?, &[h])?;
            put(format!("{p}{theirs}.bias"), file.f32_tensor(&format!("l{l}.{ours}.b"), h)?, &[h])?;
        }
    }
    candle_core::safetensors::save(&tensors, out.join("model.safetensors"))?;

    // Tokenizer: the table where it differs from NFKC, then NFKC, then SentencePiece's whitespace.
    let t = &file.tokenizer;
    let mut fixes: Vec<NormalizerWrapper> = Vec::new();
    let mut entries: Vec<(&char, &Vec<char>)> = t.normalisation.iter().collect();
    entries.sort();
    for (c, to) in entries {
        let mut n = NormalizedString::from(c.to_string());
        n.nfkc();
        let to: String = to.iter().collect();
        if n.get() != to {
            fixes.push(Replace::new(c.to_string(), to)?.into());
        }
    }
    let differing = fixes.len();
    let mut normalizers = fixes;
    normalizers.push(NFKC.into());
    normalizers.push(Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()), " ")?.into());
    normalizers.push(Strip::new(true, true).into());
    let mut tok = tokenizers::Tokenizer::new(Unigram::from(t.pieces.clone(), Some(t.unk_id as usize), false)?);
    tok.with_normalizer(Some(Sequence::new(normalizers)))?;
    tok.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::Always, true)));
    let piece = |id: u32| t.pieces[id as usize].0.clone();
    tok.with_post_processor(Some(
        TemplateProcessing::builder()
            .try_single(format!("{} $A {}", piece(t.bos_id), piece(t.eos_id)))?
            .special_tokens(vec![(piece(t.bos_id), t.bos_id), (piece(t.eos_id), t.eos_id)])
            .build()?,
    ));
    tok.save(out.join("tokenizer.json"), false)?;
    // transformers' AutoTokenizer would otherwise guess a WordPiece BertTokenizer from model_type.
    let tokenizer_config = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": s.max_positions,
        "bos_token": piece(t.bos_id), "eos_token": piece(t.eos_id), "cls_token": piece(t.bos_id), "sep_token": piece(t.eos_id),
        "unk_token": piece(t.unk_id), "pad_token": piece(t.pad_id),
    });
    std::fs::write(out.join("tokenizer_config.json"), serde_json::to_string_pretty(&tokenizer_config)?)?;
    println!("wrote {}: {} layers, {} table entries differ from NFKC", out.display(), s.layers, differing);

    if let Some(corpus) = args.get(3) {
        let ours = Encoder::load(model)?;
        let text = std::fs::read_to_string(corpus)?;
        let lines: Vec<&str> = text.lines().collect();
        let same = lines
            .iter()
            .filter(|l| {
                let q = format!("query: {l}");
                let a = ours.tokenizer.encode(&q, 512).map(|t| t.ids).unwrap_or_default();
                let b = tok.encode(q.as_str(), true).map(|e| e.get_ids().to_vec()).unwrap_or_default();
                a == b
            })
            .count();
        println!("token ids equal to convoqa's on {same} of {} corpus lines", lines.len());
    }
    Ok(())
}
