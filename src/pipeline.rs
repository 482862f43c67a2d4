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
use crate::assemble::Assembled;
use crate::config::{ReopenMatch, Settings};
use crate::diagnostics::Warnings;
use crate::enrich::Enrichment;
use crate::enrich::{conversation_sentiment, enrich, LanguageModel};
use crate::error::{Error, Result};
use crate::features::{conversation_features, ConversationRow};
use crate::ingest::{read_conversations, read_messages, MessagesInput};
use crate::link::{conversation_topics, link_reopens, ReopenRule};
use crate::manifest::{InputFileEntry, Manifest};
use crate::qa::qa_review;
use crate::score::{conversation_signals, score_conversations, RiskModels};
use crate::tables::qa_review;
use crate::tables::{kpi, messages, quarantine};
use crate::timefmt::format_us;
use crate::voc::{voc_backlog, voc_markdown};
use crate::write::StagedOutput;

/// The input of a run, already validated.
#[derive(Debug, Clone)]
pub struct InputRequest {
    pub messages: Vec<PathBuf>,
    /// Empty when there is no conversations table.
    pub conversations: Vec<PathBuf>,
    /// `--as-of`, microseconds UTC; default: the latest sent_at in the input.
    pub as_of_us: Option<i64>,
    pub settings: Settings,
    pub show_progress: bool,
    /// `--shard I/N`: only this part of the customers.
    pub shard: Option<crate::shard::Shard>,
    /// `--date D`: a nightly run over a store of earlier nights.
    pub nightly: Option<Nightly>,
}

/// A nightly run: the conversations created on `day`, linked against the store's earlier nights.
#[derive(Debug, Clone)]
pub struct Nightly {
    pub day: jiff::civil::Date,
    /// The output store: each night writes `date=YYYY-MM-DD/` under it.
    pub store: PathBuf,
}

impl Nightly {
    pub fn partition(&self, day: jiff::civil::Date) -> PathBuf {
        self.store.join(format!("date={day}"))
    }
}

/// An earlier night's conversations, linked again with tonight's and rewritten.
pub(crate) struct PriorPartition {
    dir: PathBuf,
    rows: Vec<ConversationRow>,
    topics: Vec<crate::link::StoredTopic>,
}

/// The nights whose conversations can still be reopened or mature: every day whose conversations
/// may have been resolved within one reopen window (plus a day for conversations resolved the
/// day after they started) before `day`.
fn load_prior(nightly: &Nightly, settings: &Settings) -> Result<Vec<PriorPartition>> {
    let days = (settings.reopen_window_us as f64 / 86_400e6).ceil() as i64 + 1;
    let mut prior = Vec::new();
    for k in (1..=days).rev() {
        let day = nightly
            .day
            .checked_sub(jiff::Span::new().days(k))
            .map_err(|e| Error::Internal(format!("date arithmetic: {e}")))?;
        let dir = nightly.partition(day);
        let conversations = dir.join("conversations.parquet");
        if !conversations.exists() {
            continue;
        }
        let (_, rows) = crate::store::read_conversation_rows(&[conversations])?;
        let state_path = dir.join(LINK_STATE_FILE);
        let mut state =
            if state_path.exists() { crate::tables::link_state::read(&state_path)? } else { Default::default() };
        let topics = rows.iter().map(|r| state.remove(&r.conversation_id).unwrap_or_default()).collect();
        prior.push(PriorPartition { dir, rows, topics });
    }
    Ok(prior)
}

pub const LINK_STATE_FILE: &str = "link_state.parquet";

/// Everything `analyze` needs, already validated.
#[derive(Debug, Clone)]
pub struct AnalyzeRequest {
    pub input: InputRequest,
    pub out_dir: PathBuf,
    /// Redact messages.parquet's text as well (`--redact-all`).
    pub redact_all: bool,
    /// An earlier run's output directory: the VOC backlog gets a trend against it.
    pub previous_dir: Option<PathBuf>,
    /// Bounded memory (`--partitions N`): spill the input to N customer partitions on disk and
    /// process one at a time (src/partitioned.rs). The outputs are the one-pass run's.
    pub partitions: Option<u32>,
    /// Write (empty) outputs for an input with no message rows instead of refusing it.
    pub allow_empty: bool,
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

pub(crate) struct StageTimer {
    last: Instant,
    stages: Vec<(String, f64)>,
}

impl StageTimer {
    pub(crate) fn new() -> Self {
        StageTimer { last: Instant::now(), stages: Vec::new() }
    }
    pub(crate) fn done(&mut self, stage: &str) {
        let now = Instant::now();
        let s = (now - self.last).as_secs_f64();
        tracing::info!(
            stage,
            seconds = s,
            rss_mb = resident_mb("VmRSS:"),
            peak_rss_mb = resident_mb("VmHWM:"),
            "stage done"
        );
        self.stages.push((stage.to_string(), (s * 1000.0).round() / 1000.0));
        self.last = now;
    }
}

/// This process's resident memory in MB from /proc/self/status (`VmRSS:` now, `VmHWM:` peak),
/// for the stage log; None off Linux.
fn resident_mb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 =
        status.lines().find_map(|l| l.strip_prefix(field))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024)
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

/// The stages up to scoring, shared by `analyze` and `train risk`.
struct Prepared {
    model: Option<LanguageModel>,
    assembled: Assembled,
    enrichment: Option<Enrichment>,
    rows: Vec<ConversationRow>,
    /// Nightly: the earlier nights' rows with their link fields brought up to date.
    prior: Vec<PriorPartition>,
    /// Nightly: tonight's topics, stored for the next nights.
    tonight_topics: Vec<crate::link::StoredTopic>,
    warnings: Warnings,
    as_of_us: i64,
    as_of_source: &'static str,
    message_files: Vec<PathBuf>,
    conversation_files: Vec<PathBuf>,
    timer: StageTimer,
}

/// The risk models the config names: a trained risk_model.json or the built-in ones.
pub fn load_risk_models(settings: &Settings) -> Result<RiskModels> {
    match settings.risk_model_path()? {
        None => Ok(RiskModels::built_in()),
        Some(path) => RiskModels::load(&path),
    }
}

/// Runs the stages up to scoring; `read_messages_from` reads the messages (Parquet files or a
/// stream), after the model has loaded.
fn prepare(
    req: &InputRequest,
    risk_models: &RiskModels,
    read_messages_from: impl FnOnce(&Settings, &ProgressBar) -> Result<MessagesInput>,
) -> Result<Prepared> {
    let settings = &req.settings;
    let mut timer = StageTimer::new();
    let mut warnings = Warnings::default();
    // Load the model first: a missing model file fails the run before any data is read.
    let model =
        if settings.config.model.enabled { Some(LanguageModel::load(&settings.model_config()?)?) } else { None };
    timer.done("load_model");
    let progress = progress_bar(req.show_progress);

    progress.set_message("reading messages");
    let messages_in = read_messages_from(settings, &progress)?;
    let conversations_in = if req.conversations.is_empty() {
        None
    } else {
        progress.set_message("reading conversations");
        Some(read_conversations(&req.conversations, settings, &progress, &mut warnings)?)
    };
    progress.finish_and_clear();
    // The default as_of is the latest valid message of the whole input, so every shard of a run
    // judges reopen windows at the same moment.
    let latest = messages_in.messages.iter().map(|m| m.sent_at_us).max();
    let (messages_in, conversations_in) = match req.shard {
        Some(shard) => crate::shard::select(messages_in, conversations_in, shard),
        None => (messages_in, conversations_in),
    };
    timer.done("read");

    let message_files = messages_in.files.clone();
    let conversation_files = conversations_in.as_ref().map(|c| c.files.clone()).unwrap_or_default();
    let mut assembled = assemble(messages_in, conversations_in, settings, &mut warnings);
    if let Some(n) = &req.nightly {
        crate::shard::select_day(&mut assembled, n.day, &settings.time_zone);
    }
    timer.done("assemble");

    let (as_of_us, as_of_source) = match (req.as_of_us, latest) {
        (Some(t), _) => (t, "--as-of"),
        (None, Some(t)) => (t, "latest sent_at"),
        (None, None) => (0, "no messages"),
    };
    for m in assembled.conversations.iter().flat_map(|c| &c.messages).filter(|m| m.sent_at_us > as_of_us) {
        warnings.add(
            "message_after_as_of",
            format!("{}: sent_at {} is after as_of", m.conversation_id, format_us(m.sent_at_us)),
        );
    }

    let enrichment = match &model {
        Some(m) => Some(enrich(&assembled.conversations, m)?),
        None => None,
    };
    timer.done("enrich");

    let rows = featured_rows(&assembled.conversations, enrichment.as_ref(), settings, as_of_us);
    timer.done("features");

    let topics = reopen_topics(&assembled.conversations, enrichment.as_ref(), settings, &mut warnings);
    // Nightly: tonight's conversations are linked together with the earlier nights' still in
    // their window, so a return after midnight is found and their FCR matures.
    let mut prior = match &req.nightly {
        Some(n) => load_prior(n, settings)?,
        None => Vec::new(),
    };
    let prior_count: usize = prior.iter().map(|p| p.rows.len()).sum();
    let mut linked: Vec<ConversationRow> =
        prior.iter_mut().flat_map(|p| std::mem::take(&mut p.rows)).chain(rows).collect();
    let all_topics: Option<Vec<crate::link::Topic>> = topics.as_ref().map(|t| {
        prior
            .iter()
            .flat_map(|p| p.topics.iter().map(crate::link::StoredTopic::as_topic))
            .chain(t.iter().cloned())
            .collect()
    });
    link_reopens(&mut linked, &reopen_rule(all_topics.as_deref(), settings), settings, as_of_us, &mut warnings);
    drop(all_topics);
    let mut rows = linked.split_off(prior_count);
    for p in prior.iter_mut() {
        let rest = linked.split_off(p.topics.len());
        p.rows = std::mem::replace(&mut linked, rest);
    }
    let tonight_topics: Vec<crate::link::StoredTopic> = match &topics {
        Some(t) => t.iter().map(crate::link::StoredTopic::of).collect(),
        None => vec![Default::default(); rows.len()],
    };
    timer.done("link");

    set_signals(&mut rows, &assembled.conversations, enrichment.as_ref());
    score_conversations(&mut rows, risk_models);
    timer.done("score");

    // Every input row must be accounted for before anything is used.
    assembled.messages_rows.check("messages")?;
    if let Some(acc) = &assembled.conversations_rows {
        acc.check("conversations")?;
    }
    Ok(Prepared {
        model,
        assembled,
        enrichment,
        rows,
        prior,
        tonight_topics,
        warnings,
        as_of_us,
        as_of_source,
        message_files,
        conversation_files,
        timer,
    })
}

/// `convoqa stream`: one engine partition (every message of some customers) in.
#[derive(Debug, Clone)]
pub struct StreamRequest {
    pub settings: Settings,
    /// Required: each partition must judge reopen windows at the same moment.
    pub as_of_us: i64,
    pub redact_all: bool,
}

#[derive(Debug)]
pub struct StreamReport {
    pub messages: crate::diagnostics::RowAccounting,
    pub conversations_out: u64,
    pub warnings: Warnings,
}

/// Reads the messages of one partition as an Arrow IPC stream from `input` and writes its
/// conversations, enriched messages and quarantined rows to `output` as one IPC stream (the
/// `record` column says which, and an `accounting` row; see write::write_ipc_stream). The risks are scored with this
/// partition's intent norms: `convoqa kpis --rescore` over all partitions' conversations makes
/// them the whole run's, as for shards.
pub fn stream(req: &StreamRequest, input: impl std::io::Read, output: impl std::io::Write) -> Result<StreamReport> {
    let risk_models = load_risk_models(&req.settings)?;
    let input_req = InputRequest {
        messages: Vec::new(),
        conversations: Vec::new(),
        as_of_us: Some(req.as_of_us),
        settings: req.settings.clone(),
        show_progress: false,
        shard: None,
        nightly: None,
    };
    let p = prepare(&input_req, &risk_models, |s, _| crate::ingest::read_messages_ipc(input, s))?;
    let conversations = crate::tables::conversations::to_batch(&p.rows)?;
    let messages =
        messages::to_batch(&p.assembled.conversations, p.enrichment.as_ref().map(|e| &e.sentiment), req.redact_all)?;
    let quarantine = quarantine::to_batch(&p.assembled.quarantined, |_| crate::ingest::STDIN_PATH.to_string())?;
    p.assembled.messages_rows.check("messages")?;
    let accounting = crate::tables::quarantine::accounting_batch(&p.assembled.messages_rows)?;
    let tables = [
        ("conversation", &conversations),
        ("message", &messages),
        ("quarantine", &quarantine),
        ("accounting", &accounting),
    ];
    crate::write::write_ipc_stream(output, &tables)?;
    Ok(StreamReport {
        messages: p.assembled.messages_rows,
        conversations_out: p.rows.len() as u64,
        warnings: p.warnings,
    })
}

/// Per-conversation features, with the model's sentiment and intent where it ran.
pub(crate) fn featured_rows(
    conversations: &[crate::model::Conversation],
    enrichment: Option<&Enrichment>,
    settings: &Settings,
    as_of_us: i64,
) -> Vec<ConversationRow> {
    let mut rows: Vec<ConversationRow> =
        conversations.par_iter().map(|c| conversation_features(c, settings, as_of_us)).collect();
    if let Some(e) = enrichment {
        for ((row, scores), intent) in rows.iter_mut().zip(&e.sentiment).zip(&e.intent) {
            row.sentiment = conversation_sentiment(scores);
            row.intent = Some(intent.intent.clone());
            row.intent_confidence = intent.confidence;
        }
    }
    rows
}

/// What reopen matching compares, when the config asks for same-topic matching and the model ran.
pub(crate) fn reopen_topics<'a>(
    conversations: &[crate::model::Conversation],
    enrichment: Option<&'a Enrichment>,
    settings: &Settings,
    warnings: &mut Warnings,
) -> Option<Vec<crate::link::Topic<'a>>> {
    match (&settings.config.reopen_match, enrichment) {
        (ReopenMatch::SameIntent, Some(e)) => Some(conversation_topics(conversations, e)),
        (ReopenMatch::SameIntent, None) => {
            warnings.add(
                "reopen_match_fallback",
                "reopen_match = \"same_intent\" needs the model, which is off: any return counted as a reopen"
                    .to_string(),
            );
            None
        }
        (ReopenMatch::Any, _) => None,
    }
}

pub(crate) fn reopen_rule<'a>(topics: Option<&'a [crate::link::Topic<'a>]>, settings: &'a Settings) -> ReopenRule<'a> {
    match topics {
        Some(topics) => ReopenRule::SameIntent {
            topics,
            min_similarity: settings.config.reopen_min_similarity as f32,
            follow_up_intents: &settings.config.reopen_follow_up_intents,
        },
        None => ReopenRule::Any,
    }
}

/// The risk signals of each row (aligned with `conversations`), for scoring.
pub(crate) fn set_signals(
    rows: &mut [ConversationRow],
    conversations: &[crate::model::Conversation],
    enrichment: Option<&Enrichment>,
) {
    let signals = conversation_signals(rows, conversations, enrichment.map(|e| e.sentiment.as_slice()));
    for (row, s) in rows.iter_mut().zip(signals) {
        row.risk_signals = s;
    }
}

/// The per-conversation rows (risk signals on them) of a history, for `convoqa train risk`.
pub fn risk_history(req: &InputRequest) -> Result<(Vec<ConversationRow>, Warnings)> {
    let p = prepare(req, &RiskModels::built_in(), |s, p| read_messages(&req.messages, s, p))?;
    Ok((p.rows, p.warnings))
}

pub fn analyze(req: &AnalyzeRequest) -> Result<AnalyzeReport> {
    let settings = &req.input.settings;
    // Everything a user can get wrong is checked before the model loads and the data is read.
    crate::write::check_out_dir(&req.out_dir, "--out")?;
    let (files, rows) = crate::ingest::check_messages(&req.input.messages, settings)?;
    if settings.config.model.enabled {
        settings.model_config()?;
    }
    // Held until the outputs are in place; a nightly run locks its whole store.
    let _lock = crate::write::OutDirLock::acquire(&req.out_dir, "--out")?;
    if rows == 0 {
        let where_ = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
        if !req.allow_empty {
            return Err(Error::input(
                files.first().cloned().unwrap_or_default(),
                format!("no messages in {where_} (the files have the right columns but no rows)"),
                "check the export or the partition path; for a night with no traffic pass --allow-empty --as-of <time> to write empty outputs",
            ));
        }
        if req.input.as_of_us.is_none() {
            return Err(Error::config(
                "--as-of",
                "--allow-empty with no messages needs the moment the run is judged at",
                "pass --as-of, e.g. --as-of 2026-11-22T00:00:00Z",
            ));
        }
    }
    // Before the model and the data: a bad risk model path fails at once.
    let risk_models = load_risk_models(settings)?;
    let previous_voc = req.previous_dir.as_deref().map(crate::tables::voc_backlog::read_previous).transpose()?;
    if let Some(count) = req.partitions {
        return crate::partitioned::analyze_partitioned(req, count, &risk_models, previous_voc.as_deref());
    }
    let Prepared {
        model,
        assembled,
        enrichment,
        rows,
        prior,
        tonight_topics,
        warnings,
        as_of_us,
        as_of_source,
        message_files,
        conversation_files,
        mut timer,
    } = prepare(&req.input, &risk_models, |s, p| read_messages(&req.input.messages, s, p))?;

    let heatmap = crate::aggregate::conversations_heatmap(&assembled.conversations, &settings.time_zone);
    let (qa_items, qa_stats) = qa_review(&rows, &assembled.conversations, &settings.config.qa);
    let voc_items = match (&enrichment, &model) {
        (Some(e), Some(m)) => voc_backlog(
            &rows,
            &crate::voc::negative_messages(&rows, &assembled.conversations, e),
            &e.intent_embeddings,
            &owner_teams(m),
        ),
        _ => Vec::new(),
    };
    let messages =
        messages::to_batch(&assembled.conversations, enrichment.as_ref().map(|e| &e.sentiment), req.redact_all)?;
    let mut sentiment_counts: BTreeMap<String, u64> = BTreeMap::new();
    for s in enrichment.iter().flat_map(|e| e.sentiment.iter().flatten().flatten()) {
        *sentiment_counts.entry(s.label.to_string()).or_default() += 1;
    }
    let run = FinishedRun {
        rows,
        heatmap,
        qa: QaOutput::Items(qa_items),
        qa_stats,
        voc_items,
        quarantined: assembled.quarantined,
        messages_rows: assembled.messages_rows,
        conversations_rows: assembled.conversations_rows,
        model_stats: enrichment.map(|e| e.stats),
        sentiment_counts,
        warnings,
        as_of_us,
        as_of_source,
        message_files,
        conversation_files,
        prior,
        tonight_topics,
        partitions: None,
    };
    timer.done("aggregate");
    finish(req, &risk_models, run, previous_voc.as_deref(), timer, |staged| {
        staged.parquet("messages.parquet", &messages)
    })
}

/// The intents' owner teams, from the model's taxonomy (VOC items name them).
pub(crate) fn owner_teams(model: &LanguageModel) -> std::collections::HashMap<String, String> {
    model.taxonomy.intent.iter().map(|i| (i.name.clone(), i.owner_team.clone())).collect()
}

/// What a run computed, however (one pass, or partition by partition), before it is written.
pub(crate) struct FinishedRun {
    /// Scored, sorted by conversation_id.
    pub rows: Vec<ConversationRow>,
    pub heatmap: [[u64; 24]; 7],
    pub qa: QaOutput,
    pub qa_stats: crate::qa::QaStats,
    pub voc_items: Vec<crate::voc::VocItem>,
    pub quarantined: Vec<crate::model::QuarantinedRow>,
    pub messages_rows: crate::diagnostics::RowAccounting,
    pub conversations_rows: Option<crate::diagnostics::RowAccounting>,
    pub model_stats: Option<crate::enrich::EnrichStats>,
    pub sentiment_counts: BTreeMap<String, u64>,
    pub warnings: Warnings,
    pub as_of_us: i64,
    pub as_of_source: &'static str,
    pub message_files: Vec<PathBuf>,
    pub conversation_files: Vec<PathBuf>,
    pub prior: Vec<PriorPartition>,
    pub tonight_topics: Vec<crate::link::StoredTopic>,
    pub partitions: Option<u32>,
}

/// The QA list: in memory (written by `finish`), or already written to the stage by
/// `write_large` (a partitioned run merges it from parts) with the items the report shows.
pub(crate) enum QaOutput {
    Items(Vec<crate::qa::QaItem>),
    Written { top: Vec<crate::qa::QaItem> },
}

/// Aggregates, writes every output (staged, then moved into place with the manifest last) and
/// the earlier nights' updated rows. `write_large` writes messages.parquet into the stage (and
/// the QA list when `run.qa` says it is written there).
pub(crate) fn finish(
    req: &AnalyzeRequest,
    risk_models: &RiskModels,
    run: FinishedRun,
    previous_voc: Option<&[crate::voc::PreviousTheme]>,
    mut timer: StageTimer,
    write_large: impl FnOnce(&mut StagedOutput) -> Result<()>,
) -> Result<AnalyzeReport> {
    let settings = &req.input.settings;
    let FinishedRun {
        rows,
        heatmap,
        qa,
        qa_stats,
        mut voc_items,
        mut quarantined,
        messages_rows,
        conversations_rows,
        model_stats,
        sentiment_counts,
        mut warnings,
        as_of_us,
        as_of_source,
        message_files,
        conversation_files,
        prior,
        tonight_topics,
        partitions,
    } = run;
    let seen_channels: std::collections::BTreeSet<&str> = rows.iter().filter_map(|r| r.channel.as_deref()).collect();
    for (key, channel) in settings.channels_not_in_input(&seen_channels) {
        warnings.add("config_channel_not_in_input", format!("{key}: no conversation has channel {channel:?} (channels in the input: {seen_channels:?}); a typo leaves that channel on the default"));
    }
    let kpis = aggregate(&rows, heatmap, &settings.time_zone);
    timer.done("kpis");
    // In input order (table, file, row), however the run met them.
    quarantined.sort_by_key(|q| (q.table, q.source));
    if let Some(previous) = previous_voc {
        crate::voc::apply_trend(&mut voc_items, previous);
    }

    let out_dir = match &req.input.nightly {
        Some(n) => n.partition(n.day),
        None => req.out_dir.clone(),
    };
    let mut staged = StagedOutput::new(&out_dir)?;
    staged.parquet_rows("conversations.parquet", &rows, crate::tables::conversations::to_batch)?;
    if req.input.nightly.is_some() {
        staged.parquet(LINK_STATE_FILE, &crate::tables::link_state::to_batch(&rows, &tonight_topics)?)?;
    }
    write_large(&mut staged)?;
    for (name, batch) in kpi::to_batches(&kpis)? {
        staged.parquet(name, &batch)?;
    }
    let qa_top: &[crate::qa::QaItem] = match &qa {
        QaOutput::Items(items) => {
            staged.parquet_rows("qa_review.parquet", items, qa_review::to_batch)?;
            staged.file("qa_review.csv", |out| qa_review::csv(items, out))?;
            items
        }
        QaOutput::Written { top } => top,
    };
    staged.parquet("voc_backlog.parquet", &crate::tables::voc_backlog::to_batch(&voc_items)?)?;
    staged.bytes("voc_backlog.md", voc_markdown(&voc_items, 20).as_bytes())?;
    let local = |us: i64| {
        crate::timefmt::local_datetime(us, &settings.time_zone)
            .map_or("-".to_string(), |d| d.strftime("%Y-%m-%d %H:%M").to_string())
    };
    let risk_model = match settings.config.risk.model.as_str() {
        "" => format!("built-in: {}", risk_models.low_csat.source),
        path => format!("{path}: {}", risk_models.low_csat.source),
    };
    let report = crate::report::report_html(&crate::report::ReportInput {
        kpis: &kpis,
        rows: &rows,
        qa: qa_top,
        qa_flagged: qa_stats.flagged,
        voc: &voc_items,
        period: (
            rows.iter().map(|r| r.created_at_us).min().map_or("-".into(), local),
            rows.iter().map(|r| r.created_at_us).max().map_or("-".into(), local),
        ),
        as_of: local(as_of_us),
        time_zone: settings.config.time_zone.clone(),
        risk_model: risk_model.clone(),
        quarantined_rows: quarantined.len() as u64,
        quarantined_message_rows: quarantined.iter().filter(|q| q.table == "messages").count() as u64,
    })?;
    staged.bytes("report.html", report.as_bytes())?;
    let source_path = |q: &crate::model::QuarantinedRow| {
        let files = if q.table == "messages" { &message_files } else { &conversation_files };
        files.get(q.source.file as usize).map(|p| p.display().to_string()).unwrap_or_default()
    };
    staged.parquet("quarantine.parquet", &quarantine::to_batch(&quarantined, source_path)?)?;
    timer.done("write");

    let mut quarantine_by_reason = BTreeMap::new();
    for q in &quarantined {
        *quarantine_by_reason.entry(q.reason.as_str().to_string()).or_insert(0u64) += 1;
    }
    let mut rows_acc = BTreeMap::new();
    rows_acc.insert("messages", messages_rows);
    if let Some(acc) = conversations_rows {
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
        model: model_stats,
        qa: qa_stats,
        risk_model,
        shard: req.input.shard.map(|s| format!("{}/{}", s.index, s.count)),
        partitions,
        nightly: req.input.nightly.as_ref().map(|n| crate::manifest::NightlyInfo {
            day: n.day.to_string(),
            earlier_partitions_updated: prior.iter().map(|p| p.dir.display().to_string()).collect(),
            earlier_conversations_relinked: prior.iter().map(|p| p.rows.len() as u64).sum(),
        }),
        warnings,
        stage_seconds: timer.stages.clone(),
        outputs,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(format!("manifest to JSON: {e}")))?;
    staged.bytes(MANIFEST_FILE, &json)?;
    staged.commit(MANIFEST_FILE)?;
    // Then the earlier nights' conversations, with reopened / fcr / fcr_mature as of tonight.
    // Each file is replaced by a rename; a crash before or between them is repaired by running
    // the night again (the same inputs give the same rows).
    for p in &prior {
        let mut staged = StagedOutput::new(&p.dir)?;
        staged.parquet_rows("conversations.parquet", &p.rows, crate::tables::conversations::to_batch)?;
        staged.commit("conversations.parquet")?;
    }

    Ok(AnalyzeReport {
        manifest,
        kpis,
        conversations: rows,
        out_dir,
        as_of_us,
        sentiment_counts: sentiment_counts.into_iter().collect(),
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
                Error::config(
                    p.display().to_string(),
                    format!("cannot read the config file: {e}"),
                    "check the --config path; `convoqa init FILE` writes a default",
                )
            })?;
            crate::config::Config::from_toml(&text, &p.display().to_string())?
        }
        None => crate::config::Config::default(),
    };
    let mut settings = config.validate()?;
    // Paths in a config file are relative to the file, not to wherever the scheduler runs.
    settings.model_search.config_dir = path.map(|p| match p.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    });
    Ok(settings)
}

/// `convoqa kpis`: every KPI table for a period, from stored per-conversation rows.
#[derive(Debug, Clone)]
pub struct KpisRequest {
    /// Stored conversations.parquet files or directories (one run, several days, or shards).
    pub conversations: Vec<PathBuf>,
    /// The matching stored messages.parquet files or directories (for the busy-hours heatmap).
    pub messages: Vec<PathBuf>,
    /// Local days (config time_zone) of created_at, inclusive; None = open-ended.
    pub from: Option<jiff::civil::Date>,
    pub to: Option<jiff::civil::Date>,
    /// Recompute SLOW_FOR_INTENT over these rows and rescore the risks with the configured model:
    /// what merging shards needs (each shard only knew its own intent norms).
    pub rescore: bool,
    pub settings: Settings,
    pub out_dir: PathBuf,
}

pub const KPIS_MANIFEST_FILE: &str = "kpis_manifest.json";

#[derive(Debug, serde::Serialize)]
pub struct KpisManifest {
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub rescored: bool,
    pub risk_model: String,
    pub conversation_files: Vec<String>,
    pub message_files: Vec<String>,
    pub conversations_read: u64,
    pub conversations_in_period: u64,
    pub outputs: Vec<String>,
}

/// Recomputes the KPI tables (and writes the period's conversations) without the model.
pub fn period_kpis(req: &KpisRequest) -> Result<(KpisManifest, KpiTables)> {
    let settings = &req.settings;
    let risk_models = load_risk_models(settings)?;
    crate::write::check_out_dir(&req.out_dir, "--out")?;
    let _lock = crate::write::OutDirLock::acquire(&req.out_dir, "--out")?;
    let (conversation_files, all_rows) = crate::store::read_conversation_rows(&req.conversations)?;
    let read = all_rows.len() as u64;
    let tz = &settings.time_zone;
    let mut rows: Vec<ConversationRow> = all_rows
        .into_iter()
        .filter(|r| {
            let day = crate::aggregate::local_day(r.created_at_us, tz);
            req.from.is_none_or(|f| day.is_some_and(|d| d >= f)) && req.to.is_none_or(|t| day.is_some_and(|d| d <= t))
        })
        .collect();
    if req.rescore {
        score_conversations(&mut rows, &risk_models);
    }
    let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r.conversation_id.as_str()).collect();
    let (message_files, times) = crate::store::read_customer_message_times(&req.messages, &ids)?;
    let kpis = aggregate(&rows, crate::aggregate::customer_heatmap(times.into_iter(), tz), tz);

    let mut staged = StagedOutput::new(&req.out_dir)?;
    staged.parquet_rows("conversations.parquet", &rows, crate::tables::conversations::to_batch)?;
    for (name, batch) in kpi::to_batches(&kpis)? {
        staged.parquet(name, &batch)?;
    }
    let mut outputs = staged.file_names().to_vec();
    outputs.push(KPIS_MANIFEST_FILE.to_string());
    let manifest = KpisManifest {
        tool: "convoqa",
        tool_version: env!("CARGO_PKG_VERSION"),
        from: req.from.map(|d| d.to_string()),
        to: req.to.map(|d| d.to_string()),
        rescored: req.rescore,
        risk_model: if req.rescore { risk_models.low_csat.source.clone() } else { "as stored".into() },
        conversation_files: conversation_files.iter().map(|p| p.display().to_string()).collect(),
        message_files: message_files.iter().map(|p| p.display().to_string()).collect(),
        conversations_read: read,
        conversations_in_period: rows.len() as u64,
        outputs,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(format!("manifest to JSON: {e}")))?;
    staged.bytes(KPIS_MANIFEST_FILE, &json)?;
    staged.commit(KPIS_MANIFEST_FILE)?;
    Ok((manifest, kpis))
}
