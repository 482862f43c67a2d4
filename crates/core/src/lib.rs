//! convoqa's stages, between reading and writing: the config, assembling conversations,
//! enriching them with the language model, per-conversation features, linking returns, the risk
//! signals and scores, the QA list, the VOC themes and the KPI aggregates. No Arrow, no Parquet:
//! the IO crate reads into [`input`] and writes what the stages return.

pub mod aggregate;
pub mod assemble;
pub mod business_hours;
pub mod config;
pub mod enrich;
pub mod error;
pub mod features;
pub mod input;
pub mod link;
pub mod model_search;
pub mod qa;
pub mod score;
pub mod shard;
pub mod voc;

// The lower crates' modules, by the names the stages use.
use convoqa_domain::{diagnostics, model, redact, row, signals, text, timefmt};
use convoqa_ml::{context, encoder, heads};
