//! convoqa: conversation-quality analysis for customer service, as a batch job over Parquet.
//!
//! Data flows one way, one module per stage:
//! [`ingest`] (read and validate) -> [`assemble`] (conversations) -> [`enrich`] (sentiment and
//! intent from the language model after the [`context`] rules: [`encoder`] + [`heads`]) -> [`features`]
//! (per-conversation KPIs) -> [`link`] (reopens, FCR maturity) -> [`score`] (low-CSAT and false-FCR risk) -> [`aggregate`] (KPI tables)
//! -> [`write`] (Parquet, atomically). [`partition`] runs the per-partition stages on one
//! customer partition (the whole input in memory, or one of N spilled to disk in bounded memory);
//! [`pipeline`] cuts the input into partitions, runs them, then the whole-run barriers (scoring,
//! QA list, VOC, KPIs, writing). The binary only parses arguments into an
//! [`pipeline::AnalyzeRequest`] and calls it.

pub mod error;
pub mod flags;
pub mod manifest;
pub mod partition;
pub mod pipeline;
pub mod readings;
pub mod report;
pub mod summary;
pub mod wording;

// The lower crates, re-exported at the paths the stages and the tests use.
pub use convoqa_core::{
    aggregate, assemble, business_hours, config, enrich, features, input, link, model_search, qa, score, shard, voc,
};
pub use convoqa_domain::{diagnostics, memory, model, redact, row, signals, text, timefmt};
pub use convoqa_io::{ingest, spill, store, tables, write};
pub use convoqa_ml::{context, encoder, heads};

pub use error::{Error, Result};
