//! convoqa's domain types, at the bottom of the crate graph: they import no stage. Messages and
//! conversations (`model`), the per-conversation row and the typed part each stage adds to it
//! (`row`), the risk signals (`signals`), what a run noticed (`diagnostics`: warnings, row
//! accounting), the error type and exit codes (`error`), and shared text, time, redaction and
//! memory helpers.

pub mod diagnostics;
pub mod error;
pub mod memory;
pub mod model;
pub mod redact;
pub mod row;
pub mod signals;
pub mod text;
pub mod timefmt;

pub use error::{Error, Result};
