//! The encoder's forward pass (post-LayerNorm BERT: multilingual-e5-small, MiniLM, XLM-RoBERTa),
//! on candle. Modelled on candle-transformers' bert and xlm_roberta: a fused QKV projection, the
//! attention mask turned into an additive bias once per batch, erf-GELU, then mean (or CLS)
//! pooling and L2 normalisation.
//!
//! Weights come from an E5S1 file or a Hugging Face directory (see `hf`). From E5S1 the layer
//! matrices are dequantised to f32 (candle's f32 matmul is the fast path at this size) and the
//! 250k-row word table stays in Q4_0, dequantised only for the rows a batch looks up, which keeps
//! the loaded model near 140 MB instead of 470 MB.

use std::sync::Arc;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::ops::{layer_norm, softmax_last_dim};

use super::e5s1::{dequantise_q4_0, q4_row_bytes, E5s1File, EncoderShape};
use crate::error::{Error, Result};

/// A tensor operation's error, its source kept.
fn ce(source: candle_core::Error) -> Error {
    Error::Tensor { stage: "encoder", source }
}

/// y = x W^T + b, W stored [out, in] as in the file; the GEMM reads it transposed in place,
/// so no second copy of the weights is ever made (storing it transposed measured no faster).
/// Cloning shares the tensors (candle's storage is reference-counted).
#[derive(Clone)]
pub(crate) struct Linear {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
}

impl Linear {
    fn new(weight_out_in: Vec<f32>, bias: Vec<f32>, out: usize, inp: usize, dev: &Device) -> Result<Linear> {
        Ok(Linear {
            weight: Tensor::from_vec(weight_out_in, (out, inp), dev).map_err(ce)?,
            bias: Tensor::from_vec(bias, out, dev).map_err(ce)?,
        })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

#[derive(Clone)]
pub(crate) struct Norm {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    pub(crate) eps: f32,
}

impl Norm {
    pub(crate) fn new(weight: Vec<f32>, bias: Vec<f32>, eps: f64, dev: &Device) -> Result<Norm> {
        let h = weight.len();
        Ok(Norm {
            weight: Tensor::from_vec(weight, h, dev).map_err(ce)?,
            bias: Tensor::from_vec(bias, h, dev).map_err(ce)?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

/// One encoder layer's weights, f32, matrices stored [out, in].
pub(crate) struct LayerWeights {
    pub q: (Vec<f32>, Vec<f32>),
    pub k: (Vec<f32>, Vec<f32>),
    pub v: (Vec<f32>, Vec<f32>),
    pub attn_out: (Vec<f32>, Vec<f32>),
    pub attn_norm: (Vec<f32>, Vec<f32>),
    pub ffn_in: (Vec<f32>, Vec<f32>),
    pub ffn_out: (Vec<f32>, Vec<f32>),
    pub out_norm: (Vec<f32>, Vec<f32>),
}

#[derive(Clone)]
pub(crate) struct Layer {
    pub(crate) qkv: Linear,
    pub(crate) attn_out: Linear,
    pub(crate) attn_norm: Norm,
    pub(crate) ffn_in: Linear,
    pub(crate) ffn_out: Linear,
    pub(crate) out_norm: Norm,
}

impl Layer {
    fn new(w: LayerWeights, s: &EncoderShape, dev: &Device) -> Result<Layer> {
        let (h, f) = (s.hidden, s.ffn);
        // Fused QKV: one [3h, h] matrix, so each layer streams the input once. The attention
        // scale 1/sqrt(head_dim) is folded into Q here rather than applied to every batch.
        let scale = 1.0 / ((h / s.heads) as f32).sqrt();
        let scaled = |v: Vec<f32>| -> Vec<f32> { v.into_iter().map(|x| x * scale).collect() };
        let qkv_w: Vec<f32> = [scaled(w.q.0), w.k.0, w.v.0].concat();
        let qkv_b: Vec<f32> = [scaled(w.q.1), w.k.1, w.v.1].concat();
        Ok(Layer {
            qkv: Linear::new(qkv_w, qkv_b, 3 * h, h, dev)?,
            attn_out: Linear::new(w.attn_out.0, w.attn_out.1, h, h, dev)?,
            attn_norm: Norm::new(w.attn_norm.0, w.attn_norm.1, s.layer_norm_eps, dev)?,
            ffn_in: Linear::new(w.ffn_in.0, w.ffn_in.1, f, h, dev)?,
            ffn_out: Linear::new(w.ffn_out.0, w.ffn_out.1, h, f, dev)?,
            out_norm: Norm::new(w.out_norm.0, w.out_norm.1, s.layer_norm_eps, dev)?,
        })
    }
}

/// The word-embedding table: Q4_0 rows (E5S1) or plain f32 (Hugging Face).
pub(crate) enum WordTable {
    Q4(Vec<u8>),
    F32(Vec<f32>),
}

/// How the sentence vector is made from the last hidden states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
}

/// Everything but the layers: the embedding tables and how positions are numbered.
pub(crate) struct EmbeddingWeights {
    pub words: WordTable,
    pub positions: Vec<f32>,
    /// XLM-RoBERTa numbers positions from pad_id + 1; BERT from 0.
    pub position_offset: usize,
    pub token_type0: Vec<f32>,
    pub norm: (Vec<f32>, Vec<f32>),
}

/// Cloning is cheap: the word table and the layers' tensors are shared, so a copy that gets
/// an adapter merged (`Encoder::branch`) holds only the matrices the adapter changes.
#[derive(Clone)]
pub struct BertModel {
    pub shape: EncoderShape,
    pub pooling: Pooling,
    device: Device,
    words: Arc<WordTable>,
    positions: Arc<Vec<f32>>,
    position_offset: usize,
    token_type0: Vec<f32>,
    emb_norm: Norm,
    pub(crate) layers: Vec<Layer>,
}

impl BertModel {
    /// Builds the model from f32 weights (the loaders' common form).
    /// Layers are read one at a time and turned into tensors at once, so loading never holds
    /// more than one layer's f32 copy beside the model (the resident size stays near the model's).
    pub(crate) fn from_weights(
        shape: EncoderShape,
        pooling: Pooling,
        emb: EmbeddingWeights,
        layers: impl Iterator<Item = Result<LayerWeights>>,
    ) -> Result<BertModel> {
        let dev = Device::Cpu;
        let layers: Vec<Layer> = layers.map(|w| Layer::new(w?, &shape, &dev)).collect::<Result<_>>()?;
        if layers.len() != shape.layers {
            return Err(Error::internal(format!(
                "{} layers of weights for a {}-layer shape",
                layers.len(),
                shape.layers
            )));
        }
        Ok(BertModel {
            emb_norm: Norm::new(emb.norm.0, emb.norm.1, shape.layer_norm_eps, &dev)?,
            layers,
            shape,
            pooling,
            words: Arc::new(emb.words),
            positions: Arc::new(emb.positions),
            position_offset: emb.position_offset,
            token_type0: emb.token_type0,
            device: dev,
        })
    }

    /// Longest input, specials included, the position table allows.
    pub fn max_tokens(&self) -> usize {
        self.shape.max_positions - self.position_offset
    }

    pub fn from_file(file: &E5s1File) -> Result<BertModel> {
        let s = file.shape;
        let (h, f) = (s.hidden, s.ffn);
        let pair = |w: &str, b: &str, n: usize| -> Result<(Vec<f32>, Vec<f32>)> {
            Ok((file.f32_tensor(w, n)?, file.f32_tensor(b, n)?))
        };
        let layers = (0..s.layers).map(|l| {
            let q4 = |name: &str, n: usize| file.q4_tensor_dequantised(&format!("l{l}.{name}"), n);
            let f32t = |name: &str, n: usize| file.f32_tensor(&format!("l{l}.{name}"), n);
            Ok(LayerWeights {
                q: (q4("q.w", h * h)?, f32t("q.b", h)?),
                k: (q4("k.w", h * h)?, f32t("k.b", h)?),
                v: (q4("v.w", h * h)?, f32t("v.b", h)?),
                attn_out: (q4("ao.w", h * h)?, f32t("ao.b", h)?),
                attn_norm: pair(&format!("l{l}.aln.w"), &format!("l{l}.aln.b"), h)?,
                ffn_in: (q4("fi.w", f * h)?, f32t("fi.b", f)?),
                ffn_out: (q4("fo.w", h * f)?, f32t("fo.b", h)?),
                out_norm: pair(&format!("l{l}.oln.w"), &format!("l{l}.oln.b"), h)?,
            })
        });
        let emb = EmbeddingWeights {
            words: WordTable::Q4(file.q4_tensor_raw("emb.word", s.vocab * h)?),
            positions: file.f32_tensor("emb.pos", s.max_positions * h)?,
            position_offset: 0,
            token_type0: file.f32_tensor("emb.type", s.type_vocab * h)?[..h].to_vec(),
            norm: pair("emb.ln.w", "emb.ln.b", h)?,
        };
        BertModel::from_weights(s, Pooling::Mean, emb, layers)
    }

    /// Word + position + token-type embeddings for a padded batch, as [batch, len, hidden].
    fn embed_tokens(&self, batch: &[&[u32]], len: usize, pad_id: u32) -> Result<Tensor> {
        let h = self.shape.hidden;
        let row_bytes = q4_row_bytes(h);
        let mut x = vec![0f32; batch.len() * len * h];
        for (b, ids) in batch.iter().enumerate() {
            for t in 0..len {
                let id = ids.get(t).copied().unwrap_or(pad_id) as usize;
                if id >= self.shape.vocab {
                    return Err(Error::internal(format!("token id {id} outside the vocabulary")));
                }
                let dst = &mut x[(b * len + t) * h..(b * len + t + 1) * h];
                match self.words.as_ref() {
                    WordTable::Q4(q4) => dequantise_q4_0(&q4[id * row_bytes..(id + 1) * row_bytes], dst),
                    WordTable::F32(table) => dst.copy_from_slice(&table[id * h..(id + 1) * h]),
                }
                let p = t + self.position_offset;
                let pos = &self.positions[p * h..(p + 1) * h];
                for ((d, p), ty) in dst.iter_mut().zip(pos).zip(&self.token_type0) {
                    *d += p + ty;
                }
            }
        }
        Tensor::from_vec(x, (batch.len(), len, h), &self.device).map_err(ce)
    }

    /// Sentence embeddings (mean of the last hidden states over real tokens, L2-normalised),
    /// one row of `hidden` floats per input. Inputs are token ids with specials.
    pub fn embed(&self, batch: &[&[u32]], pad_id: u32) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let len = batch.iter().map(|b| b.len()).max().unwrap_or(0);
        if len > self.max_tokens() {
            return Err(Error::internal(format!("sequence of {len} tokens exceeds {} positions", self.max_tokens())));
        }
        let hidden = self.forward(batch, len, pad_id).map_err(ce)?;
        Ok(hidden)
    }

    /// The padding mask [b, len], its additive attention bias (0 for real tokens, a large
    /// negative for padding, built once per batch) and the normalised embeddings [b * len, h].
    fn embedded_input(
        &self,
        batch: &[&[u32]],
        len: usize,
        pad_id: u32,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let (b, h) = (batch.len(), self.shape.hidden);
        let mask: Vec<f32> =
            batch.iter().flat_map(|ids| (0..len).map(move |t| if t < ids.len() { 1.0 } else { 0.0 })).collect();
        let mask = Tensor::from_vec(mask, (b, len), &self.device)?;
        let bias = ((mask.clone() - 1.0)? * 1e9)?.reshape((b, 1, 1, len))?;
        let x = self.embed_tokens(batch, len, pad_id).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let x = self.emb_norm.forward(&x)?.reshape((b * len, h))?;
        Ok((mask, bias, x))
    }

    /// Hidden states [batch, len, hidden] after the first `upto` layers, and the padding mask
    /// [batch, len]: adapter training runs the frozen lower layers once through this.
    pub fn hidden_until(&self, batch: &[&[u32]], pad_id: u32, upto: usize) -> candle_core::Result<(Tensor, Tensor)> {
        let len = batch.iter().map(|b| b.len()).max().unwrap_or(0);
        let (b, h, nh) = (batch.len(), self.shape.hidden, self.shape.heads);
        let (mask, bias, mut x) = self.embedded_input(batch, len, pad_id)?;
        for layer in &self.layers[..upto] {
            x = layer_forward(layer, &x, &bias, b, len, nh, h)?;
        }
        Ok((x.reshape((b, len, h))?, mask))
    }

    fn forward(&self, batch: &[&[u32]], len: usize, pad_id: u32) -> candle_core::Result<Vec<Vec<f32>>> {
        let (b, h, nh) = (batch.len(), self.shape.hidden, self.shape.heads);
        let (mask, bias, mut x) = self.embedded_input(batch, len, pad_id)?;
        for layer in &self.layers {
            x = layer_forward(layer, &x, &bias, b, len, nh, h)?;
        }
        self.pool(&x, &mask, b, len)
    }

    /// Sentence embeddings of a batch, and of its rows `branch_rows` through `branch` too: a copy
    /// of this model that differs only from layer `first_layer` up (`Encoder::branch`), so the
    /// layers below run once for both.
    pub fn embed_branched(
        &self,
        batch: &[&[u32]],
        pad_id: u32,
        branch: &BertModel,
        first_layer: usize,
        branch_rows: &[usize],
    ) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>)> {
        if batch.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let len = batch.iter().map(|b| b.len()).max().unwrap_or(0);
        if len > self.max_tokens() {
            return Err(Error::internal(format!("sequence of {len} tokens exceeds {} positions", self.max_tokens())));
        }
        let run = || -> candle_core::Result<(Vec<Vec<f32>>, Vec<Vec<f32>>)> {
            let (b, h, nh) = (batch.len(), self.shape.hidden, self.shape.heads);
            let (mask, bias, mut x) = self.embedded_input(batch, len, pad_id)?;
            for layer in &self.layers[..first_layer] {
                x = layer_forward(layer, &x, &bias, b, len, nh, h)?;
            }
            let mut branched = Vec::new();
            if !branch_rows.is_empty() {
                let nb = branch_rows.len();
                let rows =
                    Tensor::from_vec(branch_rows.iter().map(|&r| r as u32).collect::<Vec<_>>(), nb, &self.device)?;
                let mut xb = x.reshape((b, len, h))?.index_select(&rows, 0)?.reshape((nb * len, h))?;
                let (bias_b, mask_b) = (bias.index_select(&rows, 0)?, mask.index_select(&rows, 0)?);
                for layer in &branch.layers[first_layer..] {
                    xb = layer_forward(layer, &xb, &bias_b, nb, len, nh, h)?;
                }
                branched = self.pool(&xb, &mask_b, nb, len)?;
            }
            for layer in &self.layers[first_layer..] {
                x = layer_forward(layer, &x, &bias, b, len, nh, h)?;
            }
            Ok((self.pool(&x, &mask, b, len)?, branched))
        };
        run().map_err(ce)
    }

    /// [b * len, h] last hidden states -> one L2-normalised sentence vector per row.
    fn pool(&self, x: &Tensor, mask: &Tensor, b: usize, len: usize) -> candle_core::Result<Vec<Vec<f32>>> {
        let x = x.reshape((b, len, self.shape.hidden))?;
        let pooled = match self.pooling {
            Pooling::Mean => {
                let summed = x.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
                summed.broadcast_div(&mask.sum_keepdim(1)?)?
            }
            Pooling::Cls => x.narrow(1, 0, 1)?.squeeze(1)?,
        };
        let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        pooled.broadcast_div(&norm)?.to_dtype(DType::F32)?.to_vec2::<f32>()
    }
}

/// One encoder layer on [b * len, h] hidden states with an additive attention bias.
fn layer_forward(
    layer: &Layer,
    x: &Tensor,
    bias: &Tensor,
    b: usize,
    len: usize,
    nh: usize,
    h: usize,
) -> candle_core::Result<Tensor> {
    let hd = h / nh;
    let qkv = layer.qkv.forward(x)?.reshape((b, len, 3, nh, hd))?.permute((2, 0, 3, 1, 4))?;
    let q = qkv.get(0)?.contiguous()?;
    let k = qkv.get(1)?.contiguous()?;
    let v = qkv.get(2)?.contiguous()?;
    let scores = q.matmul(&k.t()?)?.broadcast_add(bias)?;
    let probs = softmax_last_dim(&scores)?;
    let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b * len, h))?;
    let attn = layer.attn_out.forward(&ctx)?;
    let x = layer.attn_norm.forward(&(x + attn)?)?;
    let ff = layer.ffn_out.forward(&super::gelu::gelu_erf(&layer.ffn_in.forward(&x)?)?)?;
    layer.out_norm.forward(&(x + ff)?)
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-12)
}
