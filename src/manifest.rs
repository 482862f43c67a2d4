//! The run manifest: what ran, on what, and an account of every input row.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::diagnostics::{RowAccounting, WarningEntry, Warnings};

#[derive(Debug, Clone, Serialize)]
pub struct InputFileEntry {
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub as_of: String,
    pub as_of_source: &'static str,
    pub config_sha256: String,
    pub config: serde_json::Value,
    pub inputs: BTreeMap<&'static str, Vec<InputFileEntry>>,
    pub rows: BTreeMap<&'static str, RowAccounting>,
    pub quarantine_by_reason: BTreeMap<String, u64>,
    pub conversations_out: u64,
    /// What the language model did; null when it was off.
    pub model: Option<crate::enrich::EnrichStats>,
    /// The QA review list: counts, thresholds and the control sample per stratum.
    pub qa: crate::qa::QaStats,
    /// The VOC backlog: complaint conversations, themes, the long tail and the method.
    pub voc: crate::voc::VocStats,
    /// Where the risk models' coefficients come from (the built-in ones or a trained file).
    pub risk_model: String,
    /// `--shard I/N` when the run was one part of N; merge parts with `convoqa kpis --rescore`.
    /// `--partitions N`: the run was processed in N customer partitions spilled to disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u32>,
    pub shard: Option<String>,
    /// `--date D`: the night, and the earlier nights whose conversations it relinked.
    pub nightly: Option<NightlyInfo>,
    pub warnings: Warnings,
    pub stage_seconds: Vec<(String, f64)>,
    pub outputs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NightlyInfo {
    pub day: String,
    pub earlier_partitions_updated: Vec<String>,
    pub earlier_conversations_relinked: u64,
}
