//! Reading and writing: Parquet and Arrow IPC input checked and read into the stages' input
//! types (`ingest`), one codec per stored table (`tables`), staged atomic output, the output lock
//! and the Parquet/IPC/CSV plumbing (`write`), stored outputs read back (`store`), and a
//! partitioned run's spill files (`spill`).

pub mod error;
pub mod ingest;
pub mod spill;
pub mod store;
pub mod tables;
pub mod write;

// The lower crates' modules, by the names the codecs use.
use convoqa_core::{aggregate, config, enrich, features, link, qa, score, voc};
use convoqa_domain::{diagnostics, model, redact, row, signals, timefmt};
