//! A team's own encoder in the standard Hugging Face layout: `config.json`, `model.safetensors`
//! and `tokenizer.json` in one directory (sentence-transformers' `1_Pooling/config.json` and
//! `config_sentence_transformers.json` are read when present). BERT and XLM-RoBERTa encoders.
//!
//! The tokenizer is `tokenizers`' own (from tokenizer.json); the weights are read with candle's
//! safetensors reader and converted to f32 into the same forward pass the E5S1 file uses.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

use super::bert::{BertModel, EmbeddingWeights, LayerWeights, Pooling, WordTable};
use super::e5s1::EncoderShape;
use super::tokenizer::Tokens;
use crate::error::{Error, Result};

/// The fields of config.json the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct HfConfig {
    pub model_type: String,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "one")]
    pub type_vocab_size: usize,
    pub vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: Option<usize>,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn one() -> usize {
    1
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

/// `tokenizers`' tokenizer with convoqa's truncation: content cut, the closing special kept.
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    pub pad_id: u32,
}

impl HfTokenizer {
    pub fn encode(&self, text: &str, max_tokens: usize) -> Result<Tokens> {
        let enc = self.inner.encode(text, true).map_err(Error::Tokenizer)?;
        let mut ids = enc.get_ids().to_vec();
        let truncated = ids.len() > max_tokens;
        if truncated {
            // [CLS] content [SEP]: keep the first max_tokens - 1 and the closing special.
            let last = *ids.last().expect("non-empty");
            ids.truncate(max_tokens.saturating_sub(1));
            ids.push(last);
        }
        Ok(Tokens { ids, truncated })
    }
}

/// A loaded Hugging Face encoder: tokenizer, model, and the prefix its embeddings expect.
pub struct HfEncoder {
    pub tokenizer: HfTokenizer,
    pub model: BertModel,
    pub query_prefix: String,
}

fn bad(path: &Path, what: impl Into<String>) -> Error {
    Error::input(
        path,
        what,
        "point [model] encoder at a directory with config.json, model.safetensors and tokenizer.json of a BERT or XLM-RoBERTa encoder",
    )
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read it ({e})")))?;
    serde_json::from_str(&text).map_err(|e| bad(path, format!("not the expected JSON: {e}")))
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

#[derive(Deserialize, Default)]
struct SentenceTransformersConfig {
    #[serde(default)]
    prompts: HashMap<String, String>,
}

pub fn load(dir: &Path) -> Result<HfEncoder> {
    let config: HfConfig = read_json(&dir.join("config.json"))?;
    let config_path = dir.join("config.json");
    let position_offset = match config.model_type.as_str() {
        "bert" => 0,
        // XLM-RoBERTa numbers positions from padding_idx + 1.
        "xlm-roberta" | "roberta" => config.pad_token_id.unwrap_or(1) + 1,
        other => {
            return Err(bad(
                &config_path,
                format!("model_type {other:?} is not supported (bert, xlm-roberta, roberta are)"),
            ))
        }
    };
    if config.hidden_act != "gelu" {
        return Err(bad(
            &config_path,
            format!("hidden_act {:?} is not supported (the forward pass uses erf-GELU, \"gelu\")", config.hidden_act),
        ));
    }
    if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
        return Err(bad(&config_path, "hidden_size is not a multiple of num_attention_heads"));
    }
    let pooling = match dir.join("1_Pooling/config.json") {
        p if p.exists() => {
            let pc: PoolingConfig = read_json(&p)?;
            match (pc.pooling_mode_mean_tokens, pc.pooling_mode_cls_token) {
                (true, false) => Pooling::Mean,
                (false, true) => Pooling::Cls,
                _ => return Err(bad(&p, "only mean or CLS pooling is supported")),
            }
        }
        _ => Pooling::Mean,
    };
    let st_path = dir.join("config_sentence_transformers.json");
    let st: SentenceTransformersConfig = if st_path.exists() { read_json(&st_path)? } else { Default::default() };
    let query_prefix = st.prompts.get("query").cloned().unwrap_or_default();

    let tokenizer_path = dir.join("tokenizer.json");
    let mut inner = tokenizers::Tokenizer::from_file(&tokenizer_path)
        .map_err(|e| bad(&tokenizer_path, format!("cannot load it: {e}")))?;
    // convoqa batches and truncates itself.
    inner.with_padding(None);
    inner.with_truncation(None).map_err(|e| bad(&tokenizer_path, e.to_string()))?;
    let pad_id = config.pad_token_id.unwrap_or(0) as u32;

    let weights_path = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
        .map_err(|e| bad(&weights_path, format!("cannot read the weights: {e}")))?;
    let shape = EncoderShape {
        hidden: config.hidden_size,
        layers: config.num_hidden_layers,
        heads: config.num_attention_heads,
        ffn: config.intermediate_size,
        vocab: config.vocab_size,
        max_positions: config.max_position_embeddings,
        type_vocab: config.type_vocab_size,
        layer_norm_eps: config.layer_norm_eps,
    };
    let w = Weights { tensors, path: &weights_path };
    let (h, f) = (shape.hidden, shape.ffn);
    let layers = (0..shape.layers).map(|l| {
        let p = format!("encoder.layer.{l}.");
        let lin = |name: &str, out: usize, inp: usize| -> Result<(Vec<f32>, Vec<f32>)> {
            Ok((w.get(&format!("{p}{name}.weight"), out * inp)?, w.get(&format!("{p}{name}.bias"), out)?))
        };
        Ok(LayerWeights {
            q: lin("attention.self.query", h, h)?,
            k: lin("attention.self.key", h, h)?,
            v: lin("attention.self.value", h, h)?,
            attn_out: lin("attention.output.dense", h, h)?,
            attn_norm: lin("attention.output.LayerNorm", h, 1)?,
            ffn_in: lin("intermediate.dense", f, h)?,
            ffn_out: lin("output.dense", h, f)?,
            out_norm: lin("output.LayerNorm", h, 1)?,
        })
    });
    let emb = EmbeddingWeights {
        words: WordTable::F32(w.get("embeddings.word_embeddings.weight", shape.vocab * h)?),
        positions: w.get("embeddings.position_embeddings.weight", shape.max_positions * h)?,
        position_offset,
        token_type0: w.get("embeddings.token_type_embeddings.weight", shape.type_vocab * h)?[..h].to_vec(),
        norm: (w.get("embeddings.LayerNorm.weight", h)?, w.get("embeddings.LayerNorm.bias", h)?),
    };
    Ok(HfEncoder {
        tokenizer: HfTokenizer { inner, pad_id },
        model: BertModel::from_weights(shape, pooling, emb, layers)?,
        query_prefix,
    })
}

struct Weights<'a> {
    tensors: HashMap<String, Tensor>,
    path: &'a Path,
}

impl Weights<'_> {
    /// A tensor as f32, under its bare name or the prefix a task model saves it with.
    fn get(&self, name: &str, expected_len: usize) -> Result<Vec<f32>> {
        let t = ["", "bert.", "roberta.", "model."]
            .iter()
            .find_map(|p| self.tensors.get(&format!("{p}{name}")))
            .ok_or_else(|| bad(self.path, format!("tensor {name} is missing")))?;
        let v = t
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| bad(self.path, format!("tensor {name}: {e}")))?;
        if v.len() != expected_len {
            return Err(bad(
                self.path,
                format!("tensor {name} has {} values, config.json implies {expected_len}", v.len()),
            ));
        }
        Ok(v)
    }
}
