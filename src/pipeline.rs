//! The analyze run: read -> assemble -> enrich -> features -> link -> score -> aggregate -> write, timed
//! per stage.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::aggregate::{aggregate, KpiTables};
use crate::config::Settings;
use crate::diagnostics::{RowAccounting, Warnings};
use crate::enrich::{EnrichStats, LanguageModel};
use crate::error::{Error, Result};
use crate::ingest::{read_conversations, read_messages, MessagesInput};
use crate::link::StoredTopic;
use crate::manifest::{InputFileEntry, Manifest};
use crate::memory;
use crate::model::QuarantinedRow;
use crate::partition::{
    reopen_fallback_warning, run_partition, PartitionContext, PartitionOutput, Partitions, PriorRow, PARTITION_STAGES,
};
use crate::qa::EvidenceQuotes;
use crate::row::ConversationRow;
use crate::score::{score_conversations, RiskModels};
use crate::tables::qa_review;
use crate::tables::{kpi, quarantine};
use crate::timefmt::format_us;
use crate::voc::{voc_backlog, voc_markdown, ComplaintMessage};
use crate::write::{write_spill_parquet, StagedOutput};

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
    /// process one at a time (src/partition.rs). The outputs are the one-pass run's.
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
    /// The per-partition stages' times summed over the partitions, then what the partitions'
    /// spilling and reading took beside them.
    pub(crate) fn partitions(&mut self, stage_seconds: &[f64; PARTITION_STAGES.len()]) {
        let total = self.last.elapsed().as_secs_f64();
        for (stage, s) in PARTITION_STAGES.iter().zip(stage_seconds) {
            self.stages.push((stage.to_string(), (s * 1000.0).round() / 1000.0));
        }
        let other = (total - stage_seconds.iter().sum::<f64>()).max(0.0);
        self.stages.push(("partition_io".to_string(), (other * 1000.0).round() / 1000.0));
        self.last = Instant::now();
    }

    pub(crate) fn done(&mut self, stage: &str) {
        let now = Instant::now();
        let s = (now - self.last).as_secs_f64();
        tracing::info!(
            stage,
            seconds = s,
            rss_mb = memory::resident_mib().map(|mib| mib.round() as u64),
            peak_rss_mb = memory::peak_resident_mib().map(|mib| mib.round() as u64),
            "stage done"
        );
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

/// The risk models the config names: a trained risk_model.json or the built-in ones.
pub fn load_risk_models(settings: &Settings) -> Result<RiskModels> {
    match settings.risk_model_path()? {
        None => Ok(RiskModels::built_in()),
        Some(path) => Ok(RiskModels::load(&path)?),
    }
}

fn load_model(settings: &Settings) -> Result<Option<LanguageModel>> {
    if settings.config.model.enabled {
        Ok(Some(LanguageModel::load(&settings.model_config()?)?))
    } else {
        Ok(None)
    }
}

/// The moment a run is judged at: `--as-of`, else the latest valid message of the whole input.
fn as_of(given: Option<i64>, latest: Option<i64>) -> (i64, &'static str) {
    match (given, latest) {
        (Some(t), _) => (t, "--as-of"),
        (None, Some(t)) => (t, "latest sent_at"),
        (None, None) => (0, "no messages"),
    }
}

/// Reads the whole input into one partition in memory.
fn read_in_memory(req: &InputRequest, messages: MessagesInput, progress: &ProgressBar) -> Result<Partitions> {
    let mut warnings = Warnings::default();
    let conversations = if req.conversations.is_empty() {
        None
    } else {
        progress.set_message("reading conversations");
        Some(read_conversations(&req.conversations, &req.settings, progress, &mut warnings)?)
    };
    progress.finish_and_clear();
    let mut partitions = Partitions::memory(messages, conversations, req.shard);
    partitions.warnings.merge(warnings);
    Ok(partitions)
}

/// The partitions' outputs gathered for the barriers. A spilled run keeps the large parts (rows,
/// messages, QA quotes) on disk until they are needed; everything else is small or already
/// bounded by the rows.
struct Gathered {
    spill_dir: Option<PathBuf>,
    rows: Vec<ConversationRow>,
    row_files: Vec<PathBuf>,
    messages: Vec<RecordBatch>,
    message_files: Vec<PathBuf>,
    quotes: Vec<(String, EvidenceQuotes)>,
    quote_files: Vec<PathBuf>,
    /// Nightly: tonight's topics by conversation id.
    topics: Vec<(String, StoredTopic)>,
    heatmap: [[u64; 24]; 7],
    complaints: Vec<(String, ComplaintMessage)>,
    complaint_vectors: Vec<Vec<f32>>,
    /// A complaint text's vector slot, keyed as the encoder dedups (order numbers stripped), so
    /// partitions share slots as one pass does.
    slot_of_text: HashMap<String, usize>,
    sentiment_counts: BTreeMap<String, u64>,
    model_stats: Option<EnrichStats>,
    messages_rows: RowAccounting,
    conversations_rows: Option<RowAccounting>,
    quarantined: Vec<QuarantinedRow>,
    warnings: Warnings,
    prior: Vec<PriorRow>,
    stage_seconds: [f64; PARTITION_STAGES.len()],
}

impl Gathered {
    fn new(partitions: &mut Partitions) -> Gathered {
        Gathered {
            spill_dir: partitions.spill_dir().map(Path::to_path_buf),
            rows: Vec::new(),
            row_files: Vec::new(),
            messages: Vec::new(),
            message_files: Vec::new(),
            quotes: Vec::new(),
            quote_files: Vec::new(),
            topics: Vec::new(),
            heatmap: [[0; 24]; 7],
            complaints: Vec::new(),
            complaint_vectors: Vec::new(),
            slot_of_text: HashMap::new(),
            sentiment_counts: BTreeMap::new(),
            model_stats: None,
            messages_rows: partitions.messages_rows,
            conversations_rows: partitions.conversations_rows,
            quarantined: std::mem::take(&mut partitions.quarantined),
            warnings: std::mem::take(&mut partitions.warnings),
            prior: Vec::new(),
            stage_seconds: [0.0; PARTITION_STAGES.len()],
        }
    }

    fn add(&mut self, p: usize, out: PartitionOutput) -> Result<()> {
        if !out.topics.is_empty() {
            self.topics.extend(out.rows.iter().map(|r| r.conversation_id.clone()).zip(out.topics));
        }
        match &self.spill_dir {
            None => {
                self.rows.extend(out.rows);
                self.messages.push(out.messages);
                self.quotes.extend(out.quotes);
            }
            Some(dir) => {
                // The rows wait on disk too, so the model and a partition's messages are never
                // in memory beside every row.
                let rows = dir.join(format!("rows-{p}.parquet"));
                write_spill_parquet(&rows, &crate::tables::conversations::spill_batch(&out.rows)?)?;
                self.row_files.push(rows);
                let messages = dir.join(format!("messages-{p}.parquet"));
                write_spill_parquet(&messages, &out.messages)?;
                self.message_files.push(messages);
                let quotes = dir.join(format!("quotes-{p}.parquet"));
                write_spill_parquet(&quotes, &crate::tables::qa_evidence::to_batch(&out.quotes)?)?;
                self.quote_files.push(quotes);
            }
        }
        for (total, part) in self.heatmap.iter_mut().flatten().zip(out.heatmap.iter().flatten()) {
            *total += part;
        }
        if self.spill_dir.is_none() {
            // One partition: its slots are already one per distinct text.
            let offset = self.complaint_vectors.len();
            self.complaint_vectors.extend(out.complaint_vectors);
            self.complaints.extend(
                out.complaints.into_iter().map(|(id, n)| (id, ComplaintMessage { slot: offset + n.slot, ..n })),
            );
        } else {
            for (id, n) in out.complaints {
                let slot = *self.slot_of_text.entry(crate::text::inference_key(&n.text)).or_insert_with(|| {
                    self.complaint_vectors.push(out.complaint_vectors[n.slot].clone());
                    self.complaint_vectors.len() - 1
                });
                self.complaints.push((id, ComplaintMessage { slot, ..n }));
            }
        }
        for (label, n) in out.sentiment_counts {
            *self.sentiment_counts.entry(label).or_default() += n;
        }
        if let Some(part) = out.model_stats {
            self.model_stats = Some(match self.model_stats.take() {
                None => part,
                // Distinct texts are counted per partition.
                Some(t) => EnrichStats {
                    customer_texts: t.customer_texts + part.customer_texts,
                    distinct_texts: t.distinct_texts + part.distinct_texts,
                    tokens: t.tokens + part.tokens,
                    truncated: t.truncated + part.truncated,
                    seconds: t.seconds + part.seconds,
                    ..t
                },
            });
        }
        self.messages_rows.add(&out.messages_rows);
        if let (Some(total), Some(part)) = (&mut self.conversations_rows, &out.conversations_rows) {
            total.add(part);
        }
        self.quarantined.extend(out.quarantined);
        self.warnings.merge(out.warnings);
        self.prior.extend(out.prior);
        for (total, s) in self.stage_seconds.iter_mut().zip(out.stage_seconds) {
            *total += s;
        }
        Ok(())
    }

    /// Every partition's rows, sorted by conversation_id.
    fn take_rows(&mut self) -> Result<Vec<ConversationRow>> {
        let mut rows = std::mem::take(&mut self.rows);
        for f in &self.row_files {
            rows.extend(crate::store::read_rows_file(f)?);
        }
        // Unstable: ids are unique, and the stable sort would borrow half the rows again.
        rows.sort_unstable_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
        Ok(rows)
    }

    /// The QA quotes of the conversations in `ids`.
    fn quotes_for(&mut self, ids: &HashSet<&str>) -> Result<HashMap<String, EvidenceQuotes>> {
        let mut out: HashMap<String, EvidenceQuotes> =
            std::mem::take(&mut self.quotes).into_iter().filter(|(id, _)| ids.contains(id.as_str())).collect();
        for f in &self.quote_files {
            for batch in crate::spill::read_parquet_batches(f)? {
                let quotes = crate::tables::qa_evidence::from_batch(&batch)?;
                out.extend(quotes.into_iter().filter(|(id, _)| ids.contains(id.as_str())));
            }
        }
        Ok(out)
    }

    /// messages.parquet: the one partition's batch, or the spilled parts merged in order.
    fn write_messages(&mut self, staged: &mut StagedOutput) -> Result<()> {
        match (&self.spill_dir, self.messages.as_slice()) {
            (Some(_), _) => Ok(crate::spill::merge_messages(&self.message_files, staged)?),
            (None, [batch]) => Ok(staged.parquet("messages.parquet", batch)?),
            (None, _) => Err(Error::internal("an in-memory run has one partition")),
        }
    }
}

/// Runs the per-partition stages over every partition.
fn run_partitions(
    partitions: &mut Partitions,
    ctx: &PartitionContext,
    nightly: Option<&Nightly>,
) -> Result<(Gathered, Vec<PriorNight>)> {
    let mut gathered = Gathered::new(partitions);
    reopen_fallback_warning(ctx.settings, ctx.model.is_some(), &mut gathered.warnings);
    let (nights, prior) = match nightly {
        Some(n) => load_prior(n, ctx.settings)?,
        None => (Vec::new(), Vec::new()),
    };
    let mut prior_by_part: Vec<Vec<PriorRow>> = (0..partitions.count()).map(|_| Vec::new()).collect();
    for p in prior {
        prior_by_part[partitions.partition_of_row(&p.row)].push(p);
    }
    for (p, prior) in prior_by_part.into_iter().enumerate() {
        let input = partitions.take(p, prior)?;
        let out = run_partition(input, ctx)?;
        gathered.add(p, out)?;
    }
    // Every row read is in exactly one partition's account (or held back at read).
    let accounted = (gathered.messages_rows.rows_in, gathered.conversations_rows.map(|a| a.rows_in));
    if accounted != partitions.rows_read {
        return Err(Error::internal(format!(
            "rows read {:?} but the partitions account for {accounted:?} (messages, conversations)",
            partitions.rows_read
        )));
    }
    Ok((gathered, nights))
}

/// An earlier night's partition of the store; its rows are written back after tonight's run.
struct PriorNight {
    dir: PathBuf,
    rows: usize,
}

/// The nights whose conversations can still be reopened or mature: every day whose conversations
/// may have been resolved within one reopen window (plus a day for conversations resolved the
/// day after they started) before `day`.
fn load_prior(nightly: &Nightly, settings: &Settings) -> Result<(Vec<PriorNight>, Vec<PriorRow>)> {
    let days = (settings.reopen_window_us as f64 / 86_400e6).ceil() as i64 + 1;
    let (mut nights, mut prior) = (Vec::new(), Vec::new());
    for k in (1..=days).rev() {
        let day = nightly.day.checked_sub(jiff::Span::new().days(k)).map_err(Error::format("date arithmetic"))?;
        let dir = nightly.partition(day);
        let conversations = dir.join("conversations.parquet");
        if !conversations.exists() {
            continue;
        }
        let (_, rows) = crate::store::read_conversation_rows(&[conversations])?;
        let state_path = dir.join(LINK_STATE_FILE);
        let mut state =
            if state_path.exists() { crate::tables::link_state::read(&state_path)? } else { Default::default() };
        let night = nights.len();
        nights.push(PriorNight { dir, rows: rows.len() });
        for (index, row) in rows.into_iter().enumerate() {
            let topic = state.remove(&row.conversation_id).unwrap_or_default();
            prior.push(PriorRow { night, index, row, topic });
        }
    }
    Ok((nights, prior))
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
/// `record` column says which, and an `accounting` row; see write::write_ipc_stream). The risks
/// are scored with this partition's intent norms: `convoqa kpis --rescore` over all partitions'
/// conversations makes them the whole run's, as for shards.
pub fn stream(req: &StreamRequest, input: impl std::io::Read, output: impl std::io::Write) -> Result<StreamReport> {
    let settings = &req.settings;
    let risk_models = load_risk_models(settings)?;
    let model = load_model(settings)?;
    let messages_in = crate::ingest::read_messages_ipc(input, settings)?;
    let mut partitions = Partitions::memory(messages_in, None, None);
    let ctx = PartitionContext {
        settings,
        model: model.as_ref(),
        as_of_us: req.as_of_us,
        day: None,
        redact_all: req.redact_all,
    };
    let (mut gathered, _) = run_partitions(&mut partitions, &ctx, None)?;
    let mut rows = gathered.take_rows()?;
    score_conversations(&mut rows, &risk_models);
    gathered.messages_rows.check("messages")?;
    let conversations = crate::tables::conversations::to_batch(&rows)?;
    let messages = gathered.messages.pop().expect("one partition");
    let quarantine = quarantine::to_batch(&gathered.quarantined, |_| crate::ingest::STDIN_PATH.to_string())?;
    let accounting = crate::tables::quarantine::accounting_batch(&gathered.messages_rows)?;
    let tables = [
        ("conversation", &conversations),
        ("message", &messages),
        ("quarantine", &quarantine),
        ("accounting", &accounting),
    ];
    crate::write::write_ipc_stream(output, &tables)?;
    Ok(StreamReport {
        messages: gathered.messages_rows,
        conversations_out: rows.len() as u64,
        warnings: gathered.warnings,
    })
}

/// The per-conversation rows (risk signals on them) of a history, for `convoqa train risk`.
pub fn risk_history(req: &InputRequest) -> Result<(Vec<ConversationRow>, Warnings)> {
    let settings = &req.settings;
    let model = load_model(settings)?;
    let progress = progress_bar(req.show_progress);
    progress.set_message("reading messages");
    let messages = read_messages(&req.messages, settings, &progress)?;
    let mut partitions = read_in_memory(req, messages, &progress)?;
    let (as_of_us, _) = as_of(req.as_of_us, partitions.latest_sent_at_us);
    let ctx = PartitionContext { settings, model: model.as_ref(), as_of_us, day: None, redact_all: false };
    let (mut gathered, _) = run_partitions(&mut partitions, &ctx, None)?;
    let mut rows = gathered.take_rows()?;
    score_conversations(&mut rows, &RiskModels::built_in());
    Ok((rows, gathered.warnings))
}

pub fn analyze(req: &AnalyzeRequest) -> Result<AnalyzeReport> {
    let settings = &req.input.settings;
    // Everything a user can get wrong is checked before the model loads and the data is read.
    crate::write::check_out_dir(&req.out_dir, "--out")?;
    let (files, rows) = crate::ingest::check_messages(&req.input.messages, settings)?;
    if settings.config.model.enabled {
        settings.model_config()?;
    }
    if req.partitions == Some(0) {
        return Err(Error::config("--partitions", "0 partitions", "use 1 or more, e.g. --partitions 16"));
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
    let input = &req.input;
    let mut timer = StageTimer::new();
    // Load the model first: a missing model file fails the run before any data is read.
    let model = load_model(settings)?;
    timer.done("load_model");

    let mut partitions = match req.partitions {
        None => {
            let progress = progress_bar(input.show_progress);
            progress.set_message("reading messages");
            let messages = read_messages(&input.messages, settings, &progress)?;
            read_in_memory(input, messages, &progress)?
        }
        Some(count) => {
            Partitions::spill(&input.messages, &input.conversations, settings, input.shard, count, &req.out_dir)?
        }
    };
    timer.done("read");
    let (as_of_us, as_of_source) = as_of(input.as_of_us, partitions.latest_sent_at_us);
    let ctx = PartitionContext {
        settings,
        model: model.as_ref(),
        as_of_us,
        day: input.nightly.as_ref().map(|n| n.day),
        redact_all: req.redact_all,
    };
    let (mut gathered, nights) = run_partitions(&mut partitions, &ctx, input.nightly.as_ref())?;
    timer.partitions(&gathered.stage_seconds);
    let owner_teams = model.as_ref().map(owner_teams);
    drop(model);
    // A spilled run hands the partitions' memory back before the rows are read in; one pass
    // keeps glibc's free lists (trimming a large heap costs more than it gives back).
    let spilled = partitions.spill_dir().is_some();
    if spilled {
        crate::spill::release_free_memory();
    }

    // The barriers: score with the whole run's intent norms, then the VOC themes and the QA list.
    let mut rows = gathered.take_rows()?;
    score_conversations(&mut rows, &risk_models);
    // Every input row must be accounted for before anything is used.
    gathered.messages_rows.check("messages")?;
    if let Some(acc) = &gathered.conversations_rows {
        acc.check("conversations")?;
    }
    timer.done("score");
    // Rows are sorted by id: a binary search finds one without an index beside them.
    let position =
        |id: &str| rows.binary_search_by(|r| r.conversation_id.as_str().cmp(id)).expect("a row for every conversation");
    let mut complaints: Vec<ComplaintMessage> = std::mem::take(&mut gathered.complaints)
        .into_iter()
        .map(|(id, n)| ComplaintMessage { conversation: position(&id), ..n })
        .collect();
    complaints.sort_by_key(|n| (n.conversation, n.message));
    let (mut voc_items, voc_stats) = match &owner_teams {
        Some(owners) => voc_backlog(&rows, &complaints, &gathered.complaint_vectors, owners),
        None => (Vec::new(), crate::voc::VocStats::default()),
    };
    drop(complaints);
    gathered.complaint_vectors = Vec::new();
    if spilled {
        crate::spill::release_free_memory();
    }
    timer.done("voc");

    let (selected, qa_stats) = crate::qa::qa_selection(&rows, &settings.config.qa);
    let on_list: HashSet<&str> = selected.iter().map(|s| rows[s.row].conversation_id.as_str()).collect();
    let quotes = gathered.quotes_for(&on_list)?;
    let none = EvidenceQuotes::default();
    // Items are built a chunk at a time as they are written: a long list is never whole.
    let item = |s: &crate::qa::Selected| {
        let row = &rows[s.row];
        crate::qa::item(row, quotes.get(&row.conversation_id).unwrap_or(&none), s.group, s.rank)
    };
    let items = |chunk: &[crate::qa::Selected]| chunk.iter().map(item).collect::<Vec<_>>();
    let qa_top = items(&selected[..selected.len().min(crate::report::QA_TOP)]);
    timer.done("qa_review");

    let mut warnings = std::mem::take(&mut gathered.warnings);
    let seen_channels: std::collections::BTreeSet<&str> = rows.iter().filter_map(|r| r.channel.as_deref()).collect();
    for (key, channel) in settings.channels_not_in_input(&seen_channels) {
        warnings.add("config_channel_not_in_input", format!("{key}: no conversation has channel {channel:?} (channels in the input: {seen_channels:?}); a typo leaves that channel on the default"));
    }
    let kpis = aggregate(&rows, gathered.heatmap, &settings.time_zone);
    timer.done("kpis");
    let mut quarantined = std::mem::take(&mut gathered.quarantined);
    // In input order (table, file, row), however the run met them.
    quarantined.sort_by_key(|q| (q.table, q.source));
    if let Some(previous) = previous_voc.as_deref() {
        crate::voc::apply_trend(&mut voc_items, previous);
    }

    let out_dir = match &input.nightly {
        Some(n) => n.partition(n.day),
        None => req.out_dir.clone(),
    };
    let mut staged = StagedOutput::new(&out_dir)?;
    staged.parquet_rows("conversations.parquet", &rows, crate::tables::conversations::to_batch)?;
    if input.nightly.is_some() {
        let mut topics = std::mem::take(&mut gathered.topics);
        topics.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let topics: Vec<StoredTopic> = topics.into_iter().map(|(_, t)| t).collect();
        staged.parquet(LINK_STATE_FILE, &crate::tables::link_state::to_batch(&rows, &topics)?)?;
    }
    gathered.write_messages(&mut staged)?;
    for (name, batch) in kpi::to_batches(&kpis)? {
        staged.parquet(name, &batch)?;
    }
    // Both files from one pass over the list, a chunk of items at a time (an empty list still
    // writes its schema).
    let chunks: Vec<&[crate::qa::Selected]> = match selected.is_empty() {
        true => vec![&[]],
        false => selected.chunks(crate::write::ROWS_PER_WRITE).collect(),
    };
    let mut qa_parquet = staged.parquet_writer("qa_review.parquet", qa_review::to_batch(&[])?.schema())?;
    staged.file("qa_review.csv", |out| {
        let mut csv = qa_review::csv_writer(out)?;
        for chunk in &chunks {
            let chunk_items = items(chunk);
            qa_parquet.write(&qa_review::to_batch(&chunk_items)?)?;
            qa_review::csv_rows(&mut csv, &chunk_items)?;
        }
        qa_review::csv_finish(csv)
    })?;
    qa_parquet.close()?;
    drop((on_list, quotes));
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
        qa: &qa_top,
        qa_stats: &qa_stats,
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
    let (message_files, conversation_files) = (&partitions.message_files, &partitions.conversation_files);
    let source_path = |q: &QuarantinedRow| {
        let files = if q.table == "messages" { message_files } else { conversation_files };
        files.get(q.source.file as usize).map(|p| p.display().to_string()).unwrap_or_default()
    };
    staged.parquet("quarantine.parquet", &quarantine::to_batch(&quarantined, source_path)?)?;
    timer.done("write");

    let mut quarantine_by_reason = BTreeMap::new();
    for q in &quarantined {
        *quarantine_by_reason.entry(q.reason.as_str().to_string()).or_insert(0u64) += 1;
    }
    let mut rows_acc = BTreeMap::new();
    rows_acc.insert("messages", gathered.messages_rows);
    if let Some(acc) = gathered.conversations_rows {
        rows_acc.insert("conversations", acc);
    }
    let mut inputs = BTreeMap::new();
    inputs.insert("messages", file_entries(message_files));
    inputs.insert("conversations", file_entries(conversation_files));
    let mut outputs: Vec<String> = staged.file_names().to_vec();
    outputs.push(MANIFEST_FILE.to_string());
    let mut prior_rows: Vec<Vec<ConversationRow>> =
        nights.iter().map(|n| vec![ConversationRow::default(); n.rows]).collect();
    for p in std::mem::take(&mut gathered.prior) {
        prior_rows[p.night][p.index] = p.row;
    }
    let manifest = Manifest {
        tool: "convoqa",
        tool_version: env!("CARGO_PKG_VERSION"),
        as_of: format_us(as_of_us),
        as_of_source,
        config_sha256: hex(&Sha256::digest(settings.config.to_toml().as_bytes())),
        config: serde_json::to_value(&settings.config).map_err(Error::format("config to JSON"))?,
        inputs,
        rows: rows_acc,
        quarantine_by_reason,
        conversations_out: rows.len() as u64,
        model: gathered.model_stats.take(),
        qa: qa_stats,
        voc: voc_stats,
        risk_model,
        shard: input.shard.map(|s| format!("{}/{}", s.index, s.count)),
        partitions: req.partitions,
        nightly: input.nightly.as_ref().map(|n| crate::manifest::NightlyInfo {
            day: n.day.to_string(),
            earlier_partitions_updated: nights.iter().map(|p| p.dir.display().to_string()).collect(),
            earlier_conversations_relinked: nights.iter().map(|p| p.rows as u64).sum(),
        }),
        warnings,
        stage_seconds: timer.stages.clone(),
        outputs,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(Error::format("manifest to JSON"))?;
    staged.bytes(MANIFEST_FILE, &json)?;
    staged.commit(MANIFEST_FILE)?;
    // Then the earlier nights' conversations, with reopened / fcr / fcr_mature as of tonight.
    // Each file is replaced by a rename; a crash before or between them is repaired by running
    // the night again (the same inputs give the same rows).
    for (night, rows) in nights.iter().zip(&prior_rows) {
        let mut staged = StagedOutput::new(&night.dir)?;
        staged.parquet_rows("conversations.parquet", rows, crate::tables::conversations::to_batch)?;
        staged.commit("conversations.parquet")?;
    }
    drop(partitions);

    Ok(AnalyzeReport {
        manifest,
        kpis,
        conversations: rows,
        out_dir,
        as_of_us,
        sentiment_counts: gathered.sentiment_counts.into_iter().collect(),
    })
}

/// The intents' owner teams, from the model's taxonomy (VOC items name them).
fn owner_teams(model: &LanguageModel) -> HashMap<String, String> {
    model.taxonomy.intent.iter().map(|i| (i.name.clone(), i.owner_team.clone())).collect()
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
    let json = serde_json::to_vec_pretty(&manifest).map_err(Error::format("manifest to JSON"))?;
    staged.bytes(KPIS_MANIFEST_FILE, &json)?;
    staged.commit(KPIS_MANIFEST_FILE)?;
    Ok((manifest, kpis))
}
