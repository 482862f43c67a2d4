//! Low-rank adapters (LoRA) for the encoder: W' = W + (alpha / r) B A on chosen matrices of the
//! upper layers. Trained with candle's autograd (heads::adapt), shipped as a small f16
//! safetensors file plus adapter.json, and merged into the f32 weights at load, so inference
//! costs exactly what the plain encoder costs.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};

use super::bert::{BertModel, Layer, Linear, Norm};
use crate::error::{Error, Result};

/// The matrices an adapter may change, by their name in adapter files.
pub const TARGETS: [&str; 4] = ["qkv", "attn_out", "ffn_in", "ffn_out"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdapterSpec {
    /// The encoder file it was trained on (Encoder::name); it fits no other.
    pub base: String,
    /// For an adapter trained on top of another (a team's, over the chat adapter): the
    /// weights id of the encoder it was trained on (Encoder::weights_id), so a base adapter
    /// retrained under the same name is caught. Absent in adapters trained on the plain file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_weights_id: Option<String>,
    pub rank: usize,
    pub alpha: f64,
    /// Layers from this index up are adapted.
    pub first_layer: usize,
    pub targets: Vec<String>,
    /// How it was trained (data, recipe, the command), for the card.
    #[serde(default)]
    pub training: serde_json::Value,
}

/// An adapter's weights: for "l{layer}.{target}", A [r, in] and B [out, r].
pub struct Adapter {
    pub spec: AdapterSpec,
    pub weights: BTreeMap<String, (Tensor, Tensor)>,
}

/// A tensor operation's error, its source kept.
fn ce(source: candle_core::Error) -> Error {
    Error::Tensor { stage: "adapter", source }
}

pub(crate) fn target<'a>(layer: &'a Layer, name: &str) -> &'a Linear {
    match name {
        "qkv" => &layer.qkv,
        "attn_out" => &layer.attn_out,
        "ffn_in" => &layer.ffn_in,
        _ => &layer.ffn_out,
    }
}

fn target_mut<'a>(layer: &'a mut Layer, name: &str) -> &'a mut Linear {
    match name {
        "qkv" => &mut layer.qkv,
        "attn_out" => &mut layer.attn_out,
        "ffn_in" => &mut layer.ffn_in,
        _ => &mut layer.ffn_out,
    }
}

impl Adapter {
    pub fn scale(&self) -> f64 {
        self.spec.alpha / self.spec.rank as f64
    }

    /// Reads `<dir>/adapter.json` and `<dir>/adapter.safetensors` (f16 or f32).
    pub fn load(dir: &Path) -> Result<Adapter> {
        let spec_path = dir.join("adapter.json");
        let text = std::fs::read_to_string(&spec_path)
            .map_err(|e| Error::input(&spec_path, format!("cannot read the adapter's description ({e})"), "point [model] adapter at a directory made by `convoqa train adapter`, or set it to \"\" for the plain encoder"))?;
        let spec: AdapterSpec = serde_json::from_str(&text).map_err(|e| {
            Error::input(
                &spec_path,
                format!("not an adapter description: {e}"),
                "re-create it with `convoqa train adapter`",
            )
        })?;
        let weights_path = dir.join("adapter.safetensors");
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu).map_err(|e| {
            Error::input(
                &weights_path,
                format!("cannot read adapter weights: {e}"),
                "re-create it with `convoqa train adapter`",
            )
        })?;
        let mut weights = BTreeMap::new();
        for (name, a) in &tensors {
            if let Some(key) = name.strip_suffix(".a") {
                let b = tensors.get(&format!("{key}.b")).ok_or_else(|| {
                    Error::input(
                        &weights_path,
                        format!("{key}.a without {key}.b"),
                        "re-create it with `convoqa train adapter`",
                    )
                })?;
                weights.insert(
                    key.to_string(),
                    (a.to_dtype(DType::F32).map_err(ce)?, b.to_dtype(DType::F32).map_err(ce)?),
                );
            }
        }
        Ok(Adapter { spec, weights })
    }

    /// Writes the weights in f16 (the adapter is a small file in git) and the description.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let mut map = std::collections::HashMap::new();
        for (key, (a, b)) in &self.weights {
            map.insert(format!("{key}.a"), a.to_dtype(DType::F16).map_err(ce)?);
            map.insert(format!("{key}.b"), b.to_dtype(DType::F16).map_err(ce)?);
        }
        let path = dir.join("adapter.safetensors");
        candle_core::safetensors::save(&map, &path).map_err(|e| Error::write(&path, e))?;
        let json =
            serde_json::to_string_pretty(&self.spec).map_err(|source| Error::Json { what: "adapter spec", source })?;
        std::fs::write(dir.join("adapter.json"), json).map_err(|e| Error::write(dir, e))?;
        Ok(())
    }

    /// W += scale * B A for every adapted matrix, in place: after this the model runs as fast
    /// as before and gives the adapted embeddings.
    pub fn merge_into(&self, model: &mut BertModel) -> Result<()> {
        let scale = self.scale();
        for (key, (a, b)) in &self.weights {
            let (layer, name) = key
                .split_once('.')
                .and_then(|(l, n)| Some((l.strip_prefix('l')?.parse::<usize>().ok()?, n)))
                .ok_or_else(|| Error::internal(format!("adapter key {key:?}")))?;
            let lin = model
                .layers
                .get_mut(layer)
                .map(|l| target_mut(l, name))
                .ok_or_else(|| Error::internal(format!("adapter layer {layer} beyond the model")))?;
            let delta = (b.matmul(a).map_err(ce)? * scale).map_err(ce)?;
            if delta.dims() != lin.weight.dims() {
                return Err(Error::internal(format!(
                    "adapter {key}: {:?} for a {:?} matrix",
                    delta.dims(),
                    lin.weight.dims()
                )));
            }
            lin.weight = (&lin.weight + delta).map_err(ce)?;
        }
        Ok(())
    }
}

/// The upper layers with the adapter beside (not merged into) the frozen weights, in ops candle
/// can differentiate: training, and the merged-vs-unmerged check.
pub struct AdaptedStack<'a> {
    pub model: &'a BertModel,
    pub first_layer: usize,
    pub scale: f64,
    /// "l{layer}.{target}" -> (A, B), Vars while training.
    pub weights: &'a BTreeMap<String, (Tensor, Tensor)>,
}

fn norm(n: &Norm, x: &Tensor) -> candle_core::Result<Tensor> {
    candle_nn::ops::layer_norm_slow(x, &n.weight, &n.bias, n.eps)
}

impl AdaptedStack<'_> {
    fn linear(&self, layer: usize, name: &str, x: &Tensor) -> candle_core::Result<Tensor> {
        let lin = target(&self.model.layers[layer], name);
        let y = x.matmul(&lin.weight.t()?)?.broadcast_add(&lin.bias)?;
        match self.weights.get(&format!("l{layer}.{name}")) {
            Some((a, b)) => y + (x.matmul(&a.t()?)?.matmul(&b.t()?)? * self.scale)?,
            None => Ok(y),
        }
    }

    /// Hidden states [b, len, h] after the lower layers and the mask [b, len] -> L2-normalised
    /// mean-pooled sentence embeddings [b, h].
    pub fn embed(&self, hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (b, len, h) = hidden.dims3()?;
        let nh = self.model.shape.heads;
        let hd = h / nh;
        let bias = ((mask - 1.0)? * 1e9)?.reshape((b, 1, 1, len))?;
        let mut x = hidden.reshape((b * len, h))?;
        for l in self.first_layer..self.model.layers.len() {
            let layer = &self.model.layers[l];
            let qkv = self.linear(l, "qkv", &x)?.reshape((b, len, 3, nh, hd))?.permute((2, 0, 3, 1, 4))?;
            let q = qkv.get(0)?.contiguous()?;
            let k = qkv.get(1)?.contiguous()?;
            let v = qkv.get(2)?.contiguous()?;
            let scores = q.matmul(&k.t()?.contiguous()?)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b * len, h))?;
            let attn = self.linear(l, "attn_out", &ctx)?;
            x = norm(&layer.attn_norm, &(x + attn)?)?;
            let ff = self.linear(l, "ffn_out", &self.linear(l, "ffn_in", &x)?.gelu_erf()?)?;
            x = norm(&layer.out_norm, &(x + ff)?)?;
        }
        let x = x.reshape((b, len, h))?;
        let pooled = x.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?.broadcast_div(&mask.sum_keepdim(1)?)?;
        let n = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        pooled.broadcast_div(&n)
    }
}
