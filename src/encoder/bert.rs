//! The encoder's forward pass (post-LayerNorm BERT, as multilingual-e5-small), on candle.
//! Modelled on candle-transformers' bert: a fused QKV projection, the attention mask turned into
//! an additive bias once per batch, erf-GELU, then mean pooling and L2 normalisation.
//!
//! Weights load from the E5S1 file: layer matrices dequantised to f32 (candle's f32 matmul is
//! the fast path at this size), the 250k-row word table kept in Q4_0 and dequantised only for
//! the rows a batch looks up, which keeps the loaded model near 140 MB instead of 470 MB.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::ops::{layer_norm, softmax_last_dim};

use super::e5s1::{dequantise_q4_0, q4_row_bytes, E5s1File, EncoderShape};
use crate::error::{Error, Result};

fn ce(e: candle_core::Error) -> Error {
    Error::Internal(format!("encoder: {e}"))
}

/// y = x W^T + b, W stored [out, in] as in the file; the GEMM reads it transposed in place,
/// so no second copy of the weights is ever made.
struct Linear {
    weight: Tensor,
    bias: Tensor,
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

struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    ffn_in: Linear,
    ffn_out: Linear,
    out_norm: Norm,
}

pub struct E5Model {
    pub shape: EncoderShape,
    device: Device,
    word_q4: Vec<u8>,
    positions: Vec<f32>,
    token_type0: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
}

impl E5Model {
    pub fn from_file(file: &E5s1File) -> Result<E5Model> {
        let s = file.shape;
        let (h, f) = (s.hidden, s.ffn);
        let dev = Device::Cpu;
        let eps = s.layer_norm_eps as f32;
        let norm = |w: &str, b: &str| -> Result<Norm> {
            Ok(Norm {
                weight: Tensor::from_vec(file.f32_tensor(w, h)?, h, &dev).map_err(ce)?,
                bias: Tensor::from_vec(file.f32_tensor(b, h)?, h, &dev).map_err(ce)?,
                eps,
            })
        };
        let mut layers = Vec::with_capacity(s.layers);
        for l in 0..s.layers {
            let q4 = |name: &str, n: usize| file.q4_tensor_dequantised(&format!("l{l}.{name}"), n);
            let f32t = |name: &str, n: usize| file.f32_tensor(&format!("l{l}.{name}"), n);
            // Fused QKV: one [3h, h] matrix, so each layer streams the input once.
            let mut qkv_w = q4("q.w", h * h)?;
            qkv_w.extend(q4("k.w", h * h)?);
            qkv_w.extend(q4("v.w", h * h)?);
            let mut qkv_b = f32t("q.b", h)?;
            qkv_b.extend(f32t("k.b", h)?);
            qkv_b.extend(f32t("v.b", h)?);
            layers.push(Layer {
                qkv: Linear::new(qkv_w, qkv_b, 3 * h, h, &dev)?,
                attn_out: Linear::new(q4("ao.w", h * h)?, f32t("ao.b", h)?, h, h, &dev)?,
                attn_norm: norm(&format!("l{l}.aln.w"), &format!("l{l}.aln.b"))?,
                ffn_in: Linear::new(q4("fi.w", f * h)?, f32t("fi.b", f)?, f, h, &dev)?,
                ffn_out: Linear::new(q4("fo.w", h * f)?, f32t("fo.b", h)?, h, f, &dev)?,
                out_norm: norm(&format!("l{l}.oln.w"), &format!("l{l}.oln.b"))?,
            });
        }
        Ok(E5Model {
            shape: s,
            word_q4: file.q4_tensor_raw("emb.word", s.vocab * h)?,
            positions: file.f32_tensor("emb.pos", s.max_positions * h)?,
            token_type0: file.f32_tensor("emb.type", s.type_vocab * h)?[..h].to_vec(),
            emb_norm: norm("emb.ln.w", "emb.ln.b")?,
            layers,
            device: dev,
        })
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
                    return Err(Error::Internal(format!("token id {id} outside the vocabulary")));
                }
                let dst = &mut x[(b * len + t) * h..(b * len + t + 1) * h];
                dequantise_q4_0(&self.word_q4[id * row_bytes..(id + 1) * row_bytes], dst);
                let pos = &self.positions[t * h..(t + 1) * h];
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
        if len > self.shape.max_positions {
            return Err(Error::Internal(format!("sequence of {len} tokens exceeds {} positions", self.shape.max_positions)));
        }
        let hidden = self.forward(batch, len, pad_id).map_err(ce)?;
        Ok(hidden)
    }

    fn forward(&self, batch: &[&[u32]], len: usize, pad_id: u32) -> candle_core::Result<Vec<Vec<f32>>> {
        let (b, h, nh) = (batch.len(), self.shape.hidden, self.shape.heads);
        let hd = h / nh;
        let mask: Vec<f32> = batch.iter().flat_map(|ids| (0..len).map(move |t| if t < ids.len() { 1.0 } else { 0.0 })).collect();
        let mask = Tensor::from_vec(mask, (b, len), &self.device)?;
        // Additive bias: 0 for real tokens, a large negative for padding, built once per batch.
        let bias = ((mask.clone() - 1.0)? * 1e9)?.reshape((b, 1, 1, len))?;
        let x = self.embed_tokens(batch, len, pad_id).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut x = self.emb_norm.forward(&x)?.reshape((b * len, h))?;
        let scale = 1.0 / (hd as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?.reshape((b, len, 3, nh, hd))?.permute((2, 0, 3, 1, 4))?;
            let q = (qkv.get(0)?.contiguous()? * scale)?;
            let k = qkv.get(1)?.contiguous()?;
            let v = qkv.get(2)?.contiguous()?;
            let scores = q.matmul(&k.t()?)?.broadcast_add(&bias)?;
            let probs = softmax_last_dim(&scores)?;
            let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b * len, h))?;
            let attn = layer.attn_out.forward(&ctx)?;
            x = layer.attn_norm.forward(&(x + attn)?)?;
            let ff = layer.ffn_out.forward(&super::gelu::gelu_erf(&layer.ffn_in.forward(&x)?)?)?;
            x = layer.out_norm.forward(&(x + ff)?)?;
        }
        let x = x.reshape((b, len, h))?;
        let summed = x.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
        let counts = mask.sum_keepdim(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norm)?.to_dtype(DType::F32)?.to_vec2::<f32>()
    }
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-12)
}
