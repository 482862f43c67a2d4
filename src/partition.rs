//! The per-partition stages of a run, as DataFusion's `ExecutionPlan::execute(partition)`: a
//! partition is every message (and conversation record) of a set of customers, so everything
//! that links conversations stays inside one. Each partition is assembled, enriched, featured,
//! linked and given its risk signals alone, and hands on a [`PartitionOutput`]: its rows, its
//! messages table, its heatmap counts, its complaint messages for the VOC, and the quotes the QA
//! list will need. The whole-run barriers (scoring with the run's intent norms, the QA list, the
//! VOC themes, the KPIs, the writing) run over the collected outputs in `pipeline`.
//!
//! Every mode is a way of cutting the input into partitions: one pass is one partition in
//! memory; `--partitions N` spills the input to N partitions on disk ([`Partitions::spill`]);
//! `--shard I/N` keeps the customers of part I before partitioning; `stream` is one partition
//! read from stdin; nightly (`--date`) keeps tonight's conversations and links them with the
//! earlier nights' rows of the same customers ([`PriorRow`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use arrow::array::RecordBatch;
use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::assemble::assemble;
use crate::config::{ReopenMatch, Settings};
use crate::diagnostics::{RowAccounting, Warnings};
use crate::enrich::{enrich, model_readings, EnrichStats, Enrichment, LanguageModel};
use crate::error::Result;
use crate::features::conversation_features;
use crate::ingest::{read_conversations, read_messages_each, ConversationsInput, MessagesInput};
use crate::link::{conversation_topics, link_reopens, ReopenRule, StoredTopic, Topic};
use crate::model::{Conversation, QuarantinedRow};
use crate::qa::EvidenceQuotes;
use crate::row::ConversationRow;
use crate::score::conversation_signals;
use crate::shard::{CustomerKeys, Shard};
use crate::spill::{read_spill, SpillDir, SpillWriter};
use crate::tables::messages;
use crate::timefmt::format_us;
use crate::voc::ComplaintMessage;

/// What every partition of a run shares.
pub struct PartitionContext<'a> {
    pub settings: &'a Settings,
    pub model: Option<&'a LanguageModel>,
    pub as_of_us: i64,
    /// Nightly: only the conversations created on this local day are tonight's.
    pub day: Option<jiff::civil::Date>,
    /// Redact messages.parquet's text as well (`--redact-all`).
    pub redact_all: bool,
}

/// One partition's input.
pub struct PartitionInput {
    pub messages: MessagesInput,
    pub conversations: Option<ConversationsInput>,
    /// Nightly: the earlier nights' rows of this partition's customers, linked with tonight's.
    pub prior: Vec<PriorRow>,
}

/// An earlier night's row, linked again with tonight's; `night` and `index` say where it is
/// written back. Its stored topic is taken by the partition that links it.
pub struct PriorRow {
    pub night: usize,
    pub index: usize,
    pub row: ConversationRow,
    pub topic: StoredTopic,
}

/// The stages timed inside a partition, summed over partitions in the manifest.
pub const PARTITION_STAGES: [&str; 5] = ["assemble", "enrich", "features", "link", "signals"];

/// What one partition hands to the whole-run barriers.
pub struct PartitionOutput {
    /// Tonight's conversations, sorted by id: featured, linked, with risk signals; not scored.
    pub rows: Vec<ConversationRow>,
    /// Nightly: each row's topic, stored for the next nights (empty otherwise).
    pub topics: Vec<StoredTopic>,
    /// The quotes of the conversations with evidence, for the QA list.
    pub quotes: Vec<(String, EvidenceQuotes)>,
    /// messages.parquet's rows of this partition, sorted by conversation.
    pub messages: RecordBatch,
    pub heatmap: [[u64; 24]; 7],
    /// The negative customer messages (by conversation id) and their embeddings; `slot`s index
    /// `complaint_vectors`.
    pub complaints: Vec<(String, ComplaintMessage)>,
    pub complaint_vectors: Vec<Vec<f32>>,
    pub sentiment_counts: BTreeMap<String, u64>,
    pub model_stats: Option<EnrichStats>,
    pub messages_rows: RowAccounting,
    pub conversations_rows: Option<RowAccounting>,
    pub quarantined: Vec<QuarantinedRow>,
    pub warnings: Warnings,
    /// The earlier nights' rows with their link fields brought up to date.
    pub prior: Vec<PriorRow>,
    pub stage_seconds: [f64; PARTITION_STAGES.len()],
}

/// Runs the per-partition stages: assemble, enrich, features, link, signals; and takes what the
/// barriers need from the messages while they are here.
pub fn run_partition(input: PartitionInput, ctx: &PartitionContext) -> Result<PartitionOutput> {
    let settings = ctx.settings;
    let mut seconds = [0.0; PARTITION_STAGES.len()];
    let mut clock = Instant::now();
    let mut lap = |stage: usize| {
        seconds[stage] += clock.elapsed().as_secs_f64();
        clock = Instant::now();
    };
    let mut warnings = Warnings::default();
    let mut assembled = assemble(input.messages, input.conversations, settings, &mut warnings);
    if let Some(day) = ctx.day {
        crate::shard::select_day(&mut assembled, day, &settings.time_zone);
    }
    let conversations = &assembled.conversations;
    for m in conversations.iter().flat_map(|c| &c.messages).filter(|m| m.sent_at_us > ctx.as_of_us) {
        warnings.add(
            "message_after_as_of",
            format!("{}: sent_at {} is after as_of", m.conversation_id, format_us(m.sent_at_us)),
        );
    }
    lap(0);

    let enrichment = ctx.model.map(|m| enrich(conversations, m)).transpose()?;
    lap(1);

    let mut rows = featured_rows(conversations, enrichment.as_ref(), settings, ctx.as_of_us);
    lap(2);

    let topics = reopen_topics(conversations, enrichment.as_ref(), settings);
    // Tonight's conversations are linked together with the earlier nights' of the same
    // customers, so a return after midnight is found and their FCR matures.
    let mut prior = input.prior;
    let prior_count = prior.len();
    let prior_topics: Vec<StoredTopic> = prior.iter_mut().map(|p| std::mem::take(&mut p.topic)).collect();
    let all_topics: Option<Vec<Topic>> =
        topics.as_ref().map(|t| prior_topics.iter().map(StoredTopic::as_topic).chain(t.iter().cloned()).collect());
    let mut linked: Vec<ConversationRow> = prior.iter_mut().map(|p| std::mem::take(&mut p.row)).chain(rows).collect();
    let outcomes =
        link_reopens(&linked, &reopen_rule(all_topics.as_deref(), settings), settings, ctx.as_of_us, &mut warnings);
    for (row, outcome) in linked.iter_mut().zip(outcomes) {
        row.link = outcome;
    }
    drop(all_topics);
    rows = linked.split_off(prior_count);
    for (p, row) in prior.iter_mut().zip(linked) {
        p.row = row;
    }
    let stored_topics: Vec<StoredTopic> = match (ctx.day, &topics) {
        (None, _) => Vec::new(),
        (Some(_), Some(t)) => t.iter().map(StoredTopic::of).collect(),
        (Some(_), None) => vec![StoredTopic::default(); rows.len()],
    };
    drop(topics);
    lap(3);

    let signals = conversation_signals(
        &rows,
        conversations,
        enrichment.as_ref().map(|e| e.sentiment.as_slice()),
        enrichment.as_ref().map(|e| e.resolution.as_slice()),
    );
    for (row, s) in rows.iter_mut().zip(signals) {
        row.risk_signals = s;
    }
    let quotes: Vec<(String, EvidenceQuotes)> = rows
        .iter()
        .zip(conversations)
        .map(|(row, conv)| (row.conversation_id.clone(), EvidenceQuotes::of(row, conv)))
        .filter(|(_, q)| !q.0.is_empty())
        .collect();
    lap(4);

    let messages = messages::to_batch(conversations, enrichment.as_ref().map(|e| &e.sentiment), ctx.redact_all)?;
    let heatmap = crate::aggregate::conversations_heatmap(conversations, &settings.time_zone);
    let mut complaints = Vec::new();
    let mut complaint_vectors: Vec<Vec<f32>> = Vec::new();
    let mut sentiment_counts: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(e) = &enrichment {
        // One vector per slot the complaints use, renumbered in order of first use.
        let mut local: HashMap<usize, usize> = HashMap::new();
        for n in crate::voc::complaint_messages(&rows, conversations, e) {
            let slot = *local.entry(n.slot).or_insert_with(|| {
                complaint_vectors.push(e.intent_embeddings[n.slot].clone());
                complaint_vectors.len() - 1
            });
            complaints.push((rows[n.conversation].conversation_id.clone(), ComplaintMessage { slot, ..n }));
        }
        for s in e.sentiment.iter().flatten().flatten() {
            *sentiment_counts.entry(s.label.to_string()).or_default() += 1;
        }
    }
    Ok(PartitionOutput {
        rows,
        topics: stored_topics,
        quotes,
        messages,
        heatmap,
        complaints,
        complaint_vectors,
        sentiment_counts,
        model_stats: enrichment.map(|e| e.stats),
        messages_rows: assembled.messages_rows,
        conversations_rows: assembled.conversations_rows,
        quarantined: assembled.quarantined,
        warnings,
        prior,
        stage_seconds: seconds,
    })
}

/// Per-conversation features, with the model's sentiment and intent where it ran.
pub(crate) fn featured_rows(
    conversations: &[Conversation],
    enrichment: Option<&Enrichment>,
    settings: &Settings,
    as_of_us: i64,
) -> Vec<ConversationRow> {
    let mut rows: Vec<ConversationRow> =
        conversations.par_iter().map(|c| conversation_features(c, settings, as_of_us)).collect();
    if let Some(e) = enrichment {
        for (row, reading) in rows.iter_mut().zip(model_readings(e)) {
            row.reading = reading;
        }
    }
    rows
}

/// What reopen matching compares, when the config asks for same-topic matching and the model ran
/// (without the model a run falls back to any return: see [`reopen_fallback_warning`]).
fn reopen_topics<'a>(
    conversations: &[Conversation],
    enrichment: Option<&'a Enrichment>,
    settings: &Settings,
) -> Option<Vec<Topic<'a>>> {
    match (&settings.config.reopen_match, enrichment) {
        (ReopenMatch::SameIntent, Some(e)) => Some(conversation_topics(conversations, e)),
        _ => None,
    }
}

/// The run's warning when same-topic reopen matching is asked for and the model is off.
pub fn reopen_fallback_warning(settings: &Settings, model_loaded: bool, warnings: &mut Warnings) {
    if matches!(settings.config.reopen_match, ReopenMatch::SameIntent) && !model_loaded {
        warnings.add(
            "reopen_match_fallback",
            "reopen_match = \"same_intent\" needs the model, which is off: any return counted as a reopen".to_string(),
        );
    }
}

fn reopen_rule<'a>(topics: Option<&'a [Topic<'a>]>, settings: &'a Settings) -> ReopenRule<'a> {
    match topics {
        Some(topics) => ReopenRule::SameIntent {
            topics,
            min_similarity: settings.config.reopen_min_similarity as f32,
            follow_up_intents: &settings.config.reopen_follow_up_intents,
            follow_up_below_confidence: settings.config.reopen_follow_up_below_confidence,
            next_steps: &settings.config.reopen_next_steps,
        },
        None => ReopenRule::Any,
    }
}

/// A run's input cut into partitions: in memory (one partition), or spilled to disk.
pub struct Partitions {
    pub message_files: Vec<PathBuf>,
    pub conversation_files: Vec<PathBuf>,
    /// The latest valid sent_at of the whole input (before a shard is cut): a run's default
    /// as_of, the same for every shard.
    pub latest_sent_at_us: Option<i64>,
    /// Rows read and rows that never reach a partition (quarantined at read, other shards);
    /// the partitions account for the rest.
    pub messages_rows: RowAccounting,
    pub conversations_rows: Option<RowAccounting>,
    /// The rows read from the input files, which the partitions' accounts must add up to.
    pub rows_read: (u64, Option<u64>),
    /// Rows quarantined at read time that no partition holds.
    pub quarantined: Vec<QuarantinedRow>,
    pub warnings: Warnings,
    cut: Cut,
}

enum Cut {
    Memory(Option<PartitionInput>),
    Spilled {
        /// Kept until the run ends; its files are removed on drop.
        spill: SpillDir,
        files: Vec<PathBuf>,
        records: Vec<Vec<(crate::model::ConversationRecord, crate::model::RowRef)>>,
        has_table: bool,
        keys: CustomerKeys,
        shard: Option<Shard>,
        count: u32,
    },
}

impl Partitions {
    /// The whole input as one partition in memory (`--shard` keeps its part of the customers).
    pub fn memory(
        messages_in: MessagesInput,
        conversations_in: Option<ConversationsInput>,
        shard: Option<Shard>,
    ) -> Partitions {
        let latest_sent_at_us = messages_in.messages.iter().map(|m| m.sent_at_us).max();
        let (messages_in, conversations_in) = match shard {
            Some(shard) => crate::shard::select(messages_in, conversations_in, shard),
            None => (messages_in, conversations_in),
        };
        Partitions {
            message_files: messages_in.files.clone(),
            conversation_files: conversations_in.as_ref().map(|c| c.files.clone()).unwrap_or_default(),
            latest_sent_at_us,
            rows_read: (messages_in.rows_in, conversations_in.as_ref().map(|c| c.rows_in)),
            messages_rows: RowAccounting::default(),
            conversations_rows: conversations_in.as_ref().map(|_| RowAccounting::default()),
            quarantined: Vec::new(),
            warnings: Warnings::default(),
            cut: Cut::Memory(Some(PartitionInput {
                messages: messages_in,
                conversations: conversations_in,
                prior: Vec::new(),
            })),
        }
    }

    /// `--partitions N`: the messages read batch by batch and spilled to `count` partition files
    /// under `spill_parent` by a stable hash of the customer (the key `--shard` uses).
    pub fn spill(
        messages: &[PathBuf],
        conversations: &[PathBuf],
        settings: &Settings,
        shard: Option<Shard>,
        count: u32,
        spill_parent: &std::path::Path,
    ) -> Result<Partitions> {
        let progress = ProgressBar::hidden();
        let mut warnings = Warnings::default();
        let conversations_in = if conversations.is_empty() {
            None
        } else {
            Some(read_conversations(conversations, settings, &progress, &mut warnings)?)
        };
        // Pass 1: each conversation's customer.
        let mut keys = CustomerKeys::default();
        keys.add_records(conversations_in.as_ref());
        read_messages_each(messages, settings, &progress, |messages, _| {
            messages.iter().for_each(|m| keys.add_message(m));
            Ok(())
        })?;
        let place = |keys: &CustomerKeys, id: &str| keys.place(id, shard, count);

        // Pass 2: every valid message of this shard to its partition; rows quarantined at read
        // are kept here.
        let spill = SpillDir::new(spill_parent)?;
        let mut writers: Vec<SpillWriter> = (0..count)
            .map(|p| SpillWriter::create(&spill.path.join(format!("part-{p}.arrow"))))
            .collect::<convoqa_io::error::Result<_>>()?;
        let mut quarantined: Vec<QuarantinedRow> = Vec::new();
        let mut latest: Option<i64> = None;
        let mut other_shards = 0u64;
        let (message_files, rows_in) = read_messages_each(messages, settings, &progress, |messages, bad| {
            for q in bad {
                match shard.is_none_or(|s| crate::shard::owns_quarantined(&keys, s, &q)) {
                    true => quarantined.push(q),
                    false => other_shards += 1,
                }
            }
            for m in messages {
                latest = latest.max(Some(m.sent_at_us));
                match place(&keys, &m.thread_id) {
                    Some(p) => writers[p as usize].push(m)?,
                    None => other_shards += 1,
                }
            }
            Ok(())
        })?;
        let files: Vec<PathBuf> =
            writers.into_iter().map(SpillWriter::finish).collect::<convoqa_io::error::Result<_>>()?;
        // The rows no partition holds; each partition accounts for its own.
        let messages_rows = RowAccounting {
            rows_in: quarantined.len() as u64 + other_shards,
            rows_quarantined: quarantined.len() as u64,
            rows_other_shards: other_shards,
            ..Default::default()
        };
        debug_assert!(rows_in >= messages_rows.rows_in);

        // The conversations table's records, by partition (they are per-conversation rows).
        let mut records: Vec<Vec<_>> = vec![Vec::new(); count as usize];
        let conversations_read = conversations_in.as_ref().map(|c| c.rows_in);
        let (conversation_files, conversations_rows) = match conversations_in {
            Some(c) => {
                let mut acc = RowAccounting::default();
                for r in c.records {
                    match place(&keys, &r.0.conversation_id) {
                        Some(p) => records[p as usize].push(r),
                        None => acc.rows_other_shards += 1,
                    }
                }
                for q in c.quarantined {
                    match shard.is_none_or(|s| crate::shard::owns_quarantined(&keys, s, &q)) {
                        true => {
                            acc.rows_quarantined += 1;
                            quarantined.push(q);
                        }
                        false => acc.rows_other_shards += 1,
                    }
                }
                acc.rows_in = acc.rows_quarantined + acc.rows_other_shards;
                (c.files, Some(acc))
            }
            None => (Vec::new(), None),
        };
        let has_table = conversations_rows.is_some();
        Ok(Partitions {
            message_files,
            conversation_files,
            latest_sent_at_us: latest,
            rows_read: (rows_in, conversations_read),
            messages_rows,
            conversations_rows,
            quarantined,
            warnings,
            cut: Cut::Spilled { spill, files, records, has_table, keys, shard, count },
        })
    }

    pub fn count(&self) -> usize {
        match &self.cut {
            Cut::Memory(_) => 1,
            Cut::Spilled { files, .. } => files.len(),
        }
    }

    /// Where the parts of the outputs are spilled, for a spilled run.
    pub fn spill_dir(&self) -> Option<&std::path::Path> {
        match &self.cut {
            Cut::Memory(_) => None,
            Cut::Spilled { spill, .. } => Some(&spill.path),
        }
    }

    /// The partition an earlier night's row belongs to: its customer's.
    pub fn partition_of_row(&self, row: &ConversationRow) -> usize {
        match &self.cut {
            Cut::Memory(_) => 0,
            Cut::Spilled { keys, shard, count, .. } => {
                let key = row.customer_id.as_deref().unwrap_or(&row.thread_id);
                keys.place_key(key, *shard, *count).unwrap_or(0) as usize
            }
        }
    }

    /// Partition `p`'s input (each is taken once), with the earlier nights' rows for it.
    pub fn take(&mut self, p: usize, prior: Vec<PriorRow>) -> Result<PartitionInput> {
        match &mut self.cut {
            Cut::Memory(input) => {
                let mut input = input.take().expect("the one partition is taken once");
                input.prior = prior;
                Ok(input)
            }
            Cut::Spilled { files, records, has_table, .. } => {
                let messages = read_spill(&files[p])?;
                let records = std::mem::take(&mut records[p]);
                let messages_in = MessagesInput {
                    files: self.message_files.clone(),
                    rows_in: messages.len() as u64,
                    rows_other_shards: 0,
                    messages,
                    quarantined: Vec::new(),
                };
                let conversations_in = has_table.then(|| ConversationsInput {
                    files: self.conversation_files.clone(),
                    rows_in: records.len() as u64,
                    rows_other_shards: 0,
                    records,
                    quarantined: Vec::new(),
                });
                Ok(PartitionInput { messages: messages_in, conversations: conversations_in, prior })
            }
        }
    }
}
