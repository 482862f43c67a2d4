//! The analyze run: read -> assemble -> enrich -> features -> link -> score -> aggregate -> write, timed
//! per stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::aggregate::{aggregate, KpiTables};
use crate::assemble::assemble;
use crate::config::{ReopenMatch, Settings};
use crate::enrich::{conversation_sentiment, enrich, LanguageModel};
use crate::error::{Error, Result};
use crate::features::{conversation_features, ConversationRow};
use crate::ingest::{read_conversations, read_messages};
use crate::link::{conversation_topics, link_reopens, ReopenRule};
use crate::score::score_conversations;
use crate::manifest::{InputFileEntry, Manifest, Warnings};
use crate::timefmt::format_us;
use crate::qa::qa_review;
use crate::voc::{voc_backlog, voc_markdown};
use crate::write::{conversations_batch, kpi_batches, messages_batch, qa_batch, qa_csv, quarantine_batch, voc_batch, StagedOutput};

/// Everything `analyze` needs, already validated.
#[derive(Debug, Clone)]
pub struct AnalyzeRequest {
    pub messages: Vec<PathBuf>,
    /// Empty when there is no conversations table.
    pub conversations: Vec<PathBuf>,
    pub out_dir: PathBuf,
    /// `--as-of`, microseconds UTC; default: the latest sent_at in the input.
    pub as_of_us: Option<i64>,
    pub settings: Settings,
    pub show_progress: bool,
    /// Redact messages.parquet's text as well (`--redact-all`).
    pub redact_all: bool,
}

/// What a run produced, for the summary and for tests.
#[derive(Debug)]
pub struct AnalyzeReport {
    pub manifest: Manifest,
    pub kpis: KpiTables,
    pub conversations: Vec<ConversationRow>,
    pub out_dir: PathBuf,
    pub as_of_us: i64,
    /// Customer messages by sentiment label (empty without the model).
    pub sentiment_counts: Vec<(String, u64)>,
}

pub const MANIFEST_FILE: &str = "run_manifest.json";

struct StageTimer {
    last: Instant,
    stages: Vec<(String, f64)>,
}

impl StageTimer {
    fn new() -> Self {
        StageTimer { last: Instant::now(), stages: Vec::new() }
    }
    fn done(&mut self, stage: &str) {
        let now = Instant::now();
        let s = (now - self.last).as_secs_f64();
        tracing::info!(stage, seconds = s, "stage done");
        self.stages.push((stage.to_string(), (s * 1000.0).round() / 1000.0));
        self.last = now;
    }
}

fn progress_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} {human_pos} rows ({per_sec})").expect("valid template"));
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn file_entries(files: &[PathBuf]) -> Vec<InputFileEntry> {
    files
        .iter()
        .map(|p| InputFileEntry { path: p.display().to_string(), bytes: std::fs::metadata(p).map_or(0, |m| m.len()) })
        .collect()
}

pub fn analyze(req: &AnalyzeRequest) -> Result<AnalyzeReport> {
    let settings = &req.settings;
    let mut timer = StageTimer::new();
    let mut warnings = Warnings::default();
    // Load the model first: a missing model file fails the run before any data is read.
    let model_cfg = &settings.config.model;
    let model = if model_cfg.enabled {
        Some(LanguageModel::load(model_cfg)?)
    } else {
        None
    };
    timer.done("load_model");
    let progress = progress_bar(req.show_progress);

    progress.set_message("reading messages");
    let messages_in = read_messages(&req.messages, settings, &progress)?;
    let conversations_in = if req.conversations.is_empty() {
        None
    } else {
        progress.set_message("reading conversations");
        Some(read_conversations(&req.conversations, settings, &progress, &mut warnings)?)
    };
    progress.finish_and_clear();
    timer.done("read");

    let message_files = messages_in.files.clone();
    let conversation_files = conversations_in.as_ref().map(|c| c.files.clone()).unwrap_or_default();
    let assembled = assemble(messages_in, conversations_in, settings, &mut warnings);
    timer.done("assemble");

    let latest = assembled.conversations.iter().filter_map(|c| c.messages.last()).map(|m| m.sent_at_us).max();
    let (as_of_us, as_of_source) = match (req.as_of_us, latest) {
        (Some(t), _) => (t, "--as-of"),
        (None, Some(t)) => (t, "latest sent_at"),
        (None, None) => (0, "no messages"),
    };
    for m in assembled.conversations.iter().flat_map(|c| &c.messages).filter(|m| m.sent_at_us > as_of_us) {
        warnings.add("message_after_as_of", format!("{}: sent_at {} is after as_of", m.conversation_id, format_us(m.sent_at_us)));
    }

    let enrichment = match &model {
        Some(m) => Some(enrich(&assembled.conversations, m)?),
        None => None,
    };
    timer.done("enrich");

    let mut rows: Vec<ConversationRow> =
        assembled.conversations.par_iter().map(|c| conversation_features(c, settings, as_of_us)).collect();
    if let Some(e) = &enrichment {
        for ((row, scores), intent) in rows.iter_mut().zip(&e.sentiment).zip(&e.intent) {
            row.sentiment = conversation_sentiment(scores);
            row.intent = Some(intent.intent.clone());
            row.intent_confidence = intent.confidence;
        }
    }
    timer.done("features");

    let topics = match (&settings.config.reopen_match, &enrichment) {
        (ReopenMatch::SameIntent, Some(e)) => Some(conversation_topics(&assembled.conversations, e)),
        (ReopenMatch::SameIntent, None) => {
            warnings.add(
                "reopen_match_fallback",
                "reopen_match = \"same_intent\" needs the model, which is off: any return counted as a reopen".to_string(),
            );
            None
        }
        (ReopenMatch::Any, _) => None,
    };
    let rule = match &topics {
        Some(topics) => ReopenRule::SameIntent {
            topics,
            min_similarity: settings.config.reopen_min_similarity as f32,
            follow_up_intents: &settings.config.reopen_follow_up_intents,
        },
        None => ReopenRule::Any,
    };
    link_reopens(&mut rows, &rule, settings, as_of_us, &mut warnings);
    timer.done("link");

    score_conversations(&mut rows, &assembled.conversations, enrichment.as_ref().map(|e| e.sentiment.as_slice()));
    timer.done("score");

    let kpis = aggregate(&rows, &assembled.conversations, &settings.time_zone);
    let (qa_items, qa_stats) = qa_review(&rows, &assembled.conversations, &settings.config.qa);
    let voc_items = match (&enrichment, &model) {
        (Some(e), Some(m)) => {
            let owners = m.taxonomy.intent.iter().map(|i| (i.name.clone(), i.owner_team.clone())).collect();
            voc_backlog(&rows, &assembled.conversations, e, &owners)
        }
        _ => Vec::new(),
    };
    timer.done("aggregate");

    // Every input row must be accounted for before anything is written.
    assembled.messages_rows.check("messages")?;
    if let Some(acc) = &assembled.conversations_rows {
        acc.check("conversations")?;
    }

    let mut staged = StagedOutput::new(&req.out_dir)?;
    staged.parquet("conversations.parquet", &conversations_batch(&rows)?)?;
    staged.parquet("messages.parquet", &messages_batch(&assembled.conversations, enrichment.as_ref().map(|e| &e.sentiment), req.redact_all)?)?;
    for (name, batch) in kpi_batches(&kpis)? {
        staged.parquet(name, &batch)?;
    }
    staged.parquet("qa_review.parquet", &qa_batch(&qa_items)?)?;
    staged.bytes("qa_review.csv", &qa_csv(&qa_items)?)?;
    staged.parquet("voc_backlog.parquet", &voc_batch(&voc_items)?)?;
    staged.bytes("voc_backlog.md", voc_markdown(&voc_items, 20).as_bytes())?;
    let source_path = |q: &crate::model::QuarantinedRow| {
        let files = if q.table == "messages" { &message_files } else { &conversation_files };
        files.get(q.source.file as usize).map(|p| p.display().to_string()).unwrap_or_default()
    };
    staged.parquet("quarantine.parquet", &quarantine_batch(&assembled.quarantined, source_path)?)?;
    timer.done("write");

    let mut quarantine_by_reason = BTreeMap::new();
    for q in &assembled.quarantined {
        *quarantine_by_reason.entry(q.reason.as_str().to_string()).or_insert(0u64) += 1;
    }
    let mut rows_acc = BTreeMap::new();
    rows_acc.insert("messages", assembled.messages_rows);
    if let Some(acc) = assembled.conversations_rows {
        rows_acc.insert("conversations", acc);
    }
    let mut inputs = BTreeMap::new();
    inputs.insert("messages", file_entries(&message_files));
    inputs.insert("conversations", file_entries(&conversation_files));
    let mut outputs: Vec<String> = staged.file_names().to_vec();
    outputs.push(MANIFEST_FILE.to_string());
    let manifest = Manifest {
        tool: "convoqa",
        tool_version: env!("CARGO_PKG_VERSION"),
        as_of: format_us(as_of_us),
        as_of_source,
        config_sha256: hex(&Sha256::digest(settings.config.to_toml().as_bytes())),
        config: serde_json::to_value(&settings.config).map_err(|e| Error::Internal(format!("config to JSON: {e}")))?,
        inputs,
        rows: rows_acc,
        quarantine_by_reason,
        conversations_out: rows.len() as u64,
        model: enrichment.as_ref().map(|e| e.stats.clone()),
        qa: qa_stats,
        warnings,
        stage_seconds: timer.stages.clone(),
        outputs,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(format!("manifest to JSON: {e}")))?;
    staged.bytes(MANIFEST_FILE, &json)?;
    staged.commit(MANIFEST_FILE)?;

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for s in enrichment.iter().flat_map(|e| e.sentiment.iter().flatten().flatten()) {
        *counts.entry(s.label.to_string()).or_default() += 1;
    }
    Ok(AnalyzeReport {
        manifest,
        kpis,
        conversations: rows,
        out_dir: req.out_dir.clone(),
        as_of_us,
        sentiment_counts: counts.into_iter().collect(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a config file, or the defaults when none is given.
pub fn load_settings(path: Option<&Path>) -> Result<Settings> {
    let config = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Error::config(p.display().to_string(), format!("cannot read the config file: {e}"), "check the --config path; `convoqa init FILE` writes a default")
            })?;
            crate::config::Config::from_toml(&text, &p.display().to_string())?
        }
        None => crate::config::Config::default(),
    };
    config.validate()
}
