//! The command line's shape: every command and flag, as clap parses them. Values are checked
//! here where clap can (ranges, shares, choices); the rest is validated where it is used.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "convoqa", version, about = "Conversation-quality analysis for customer-service chats")]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// A directory holding the models (e5-small/, adapters/, heads/), searched after the config
    /// file's own directory; also CONVOQA_MODEL_DIR. `convoqa models` shows the whole search.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) model_dir: Option<PathBuf>,
    /// Colour in log lines: auto (only when stderr is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
    /// Log lines as text, or as JSON objects (one per line) for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Analyse transcripts and write the enriched tables.
    Analyze {
        /// Messages: Parquet file(s) or directories of them.
        #[arg(long, required = true, num_args = 1..)]
        messages: Vec<PathBuf>,
        /// Optional conversations table: Parquet file(s) or directories.
        #[arg(long, num_args = 1..)]
        conversations: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// TOML config; without it the documented defaults apply.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The moment the data is judged at (RFC 3339, e.g. 2026-11-22T00:00:00Z). Default: the
        /// latest sent_at in the input.
        #[arg(long)]
        as_of: Option<String>,
        /// No progress bar and no summary.
        #[arg(short, long)]
        quiet: bool,
        /// KPIs only: skip the language model (no sentiment).
        #[arg(long)]
        no_model: bool,
        /// Redact PII in messages.parquet's text too (the QA list, VOC backlog and report always are).
        #[arg(long)]
        redact_all: bool,
        /// An earlier run's output directory: VOC themes get a trend (new/up/down/steady) against it.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Only part I of N (0-based), by a stable hash of the customer: run N of these, then
        /// `convoqa kpis --rescore` over their outputs.
        #[arg(long)]
        shard: Option<String>,
        /// Bounded memory: spill the input to N customer partitions on disk and process one at
        /// a time (same outputs). Memory then grows with the input's conversations, not its
        /// messages; pick N so a partition holds ~50,000-100,000 messages (messages / 50,000).
        #[arg(long)]
        partitions: Option<u32>,
        /// Nightly: the conversations created on this local day (YYYY-MM-DD); --out is the
        /// store, this night writes --out/date=DAY/ and updates the earlier nights' reopen and
        /// FCR fields.
        #[arg(long)]
        date: Option<String>,
        /// An input with no message rows writes empty outputs (needs --as-of) instead of exit 2.
        #[arg(long)]
        allow_empty: bool,
    },
    /// Engine mode: one partition's messages (every message of some customers) as an Arrow IPC
    /// stream on stdin; its conversations, enriched messages and quarantined rows as one Arrow
    /// IPC stream on stdout (column `record` = conversation | message | quarantine). For Spark's
    /// mapInArrow and the like: scripts/spark_job.py. Then `convoqa kpis --rescore` over the
    /// conversation and message rows of all partitions.
    Stream {
        /// The moment every partition is judged at (RFC 3339), the same for all: the whole
        /// input's latest sent_at for the result of one `analyze`.
        #[arg(long)]
        as_of: String,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Skip the language model (no sentiment or intent).
        #[arg(long)]
        no_model: bool,
        /// Redact PII in the messages' text too.
        #[arg(long)]
        redact_all: bool,
    },
    /// Recompute every KPI table for a period from stored outputs (no model): one run's, several
    /// nights', or the shards of one run (--rescore).
    Kpis {
        /// Stored conversations.parquet files or directories.
        #[arg(long, required = true, num_args = 1..)]
        conversations: Vec<PathBuf>,
        /// The matching stored messages.parquet files or directories (busy-hours heatmap).
        #[arg(long, required = true, num_args = 1..)]
        messages: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// First local day (YYYY-MM-DD, config time_zone) of created_at to include.
        #[arg(long)]
        from: Option<String>,
        /// Last local day to include.
        #[arg(long)]
        to: Option<String>,
        /// Recompute intent norms (SLOW_FOR_INTENT) and the risks over the rows given: for merging shards.
        #[arg(long)]
        rescore: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the input contract.
    Schema,
    /// Where each model file is looked for and which copy a run would use.
    Models {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write a commented config with every setting and its default.
    Init {
        file: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Train a classification head on labelled data.
    Train {
        #[command(subcommand)]
        what: TrainCommand,
    },
    /// Accuracy, macro-F1 and a confusion matrix of a head on a labelled file (TSV, CSV or Parquet).
    Eval {
        /// Head directory (card.json + head.safetensors).
        #[arg(long)]
        head: PathBuf,
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = convoqa::encoder::DEFAULT_MODEL_PATH)]
        model: PathBuf,
        /// Adapter merged into the encoder; "" for the plain encoder.
        #[arg(long, default_value = convoqa::encoder::DEFAULT_ADAPTER_PATH, value_parser = adapter_path)]
        adapter: PathBuf,
    },
    /// The shipped readings (context rules + sentiment and intent heads, as analyze runs them)
    /// measured on a split of the chat corpus and, given its files, the real-Twitter test.
    EvalReadings {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        /// train, dev or test. Select on dev; score test once, for the card.
        #[arg(long, default_value = "dev", value_parser = convoqa::heads::corpus::SPLITS)]
        split: String,
        /// IBM's Twitter customer-care dev.json: also score the real tweets of the split's role
        /// (test: dialogs 0-359, data/eval labels; dev: dialogs 360-524, data/tweets labels).
        #[arg(long)]
        twitter: Option<PathBuf>,
        /// Sentiment labels for --twitter's dialogs instead of the split's: a header line, then
        /// dialog TAB turn TAB sentiment (0-based indices into dev.json). Intent is then scored
        /// only with --twitter-intents.
        #[arg(long, requires = "twitter")]
        twitter_labels: Option<PathBuf>,
        /// Intent labels for --twitter's dialogs instead of the split's: a header line, then
        /// dialog TAB intent (`none` where the taxonomy does not fit).
        #[arg(long, requires = "twitter")]
        twitter_intents: Option<PathBuf>,
        /// Config whose [model] section names the encoder and heads (default: the shipped ones).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Everything (per class, per language and channel, confusion matrices) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The pre-survey flags measured on a split of the chat corpus: the resolution reading, the
    /// risks' ROC-AUC against the corpus's outcomes, predicted beside surveyed 1-3 star share.
    EvalFlags {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        /// train, dev or test. Select on dev; score test once.
        #[arg(long, default_value = "dev", value_parser = convoqa::heads::corpus::SPLITS)]
        split: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write a split of the chat corpus as analyze's input tables (messages.parquet,
    /// conversations.parquet), e.g. to see the readings in analyze's outputs.
    CorpusExport {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        /// train, dev, test, or all (the whole corpus as one input, e.g. for the VOC on 1,000+
        /// conversations)
        #[arg(long, default_value = "dev", value_parser = ["train", "dev", "test", "all"])]
        split: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure encoder throughput on a corpus (one text per line).
    Bench(BenchArgs),
    /// Generate realistic synthetic transcripts with planted ground truth.
    DemoData {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 500)]
        conversations: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

#[derive(Subcommand)]
pub(crate) enum TrainCommand {
    /// The low-CSAT and false-FCR risk models, on your own history (messages plus a conversations
    /// table with csat_score); evaluated on the latest part by time, saved with a card.
    Risk {
        /// Messages: Parquet file(s) or directories of them.
        #[arg(long, required_unless_present = "corpus", num_args = 1..)]
        messages: Vec<PathBuf>,
        /// Fit the built-in models instead: on this chat corpus's train split, calibrated on its
        /// dev split (writes built_in.json, card.json and CARD.md to --out).
        #[arg(long, conflicts_with_all = ["messages", "conversations", "as_of", "no_model"])]
        corpus: Option<PathBuf>,
        /// Conversations table with csat_score (the low-CSAT labels).
        #[arg(long, num_args = 1..)]
        conversations: Vec<PathBuf>,
        /// The same config `analyze` runs with (time zone, reopen window, model).
        #[arg(long)]
        config: Option<PathBuf>,
        /// As in analyze: the moment reopen windows are judged at.
        #[arg(long)]
        as_of: Option<String>,
        /// Writes risk_model.json and CARD.md here.
        #[arg(long, default_value = "models/risk")]
        out: PathBuf,
        /// Share of conversations, the latest by created_at, held out for the test figures.
        #[arg(long, default_value_t = 0.3, value_parser = held_out_share)]
        test_fraction: f64,
        /// L2 penalty on the coefficients.
        #[arg(long, default_value_t = 1.0, value_parser = non_negative)]
        l2: f64,
        /// Without the language model: no sentiment or intent features (train the model `analyze
        /// --no-model` will score with).
        #[arg(long)]
        no_model: bool,
    },
    /// Intent, from a taxonomy's examples (default: the built-in one) or a labelled file.
    Intent {
        /// Labelled messages or conversations: TSV (text<TAB>label), CSV or Parquet with text and label columns.
        #[arg(long, conflicts_with = "taxonomy")]
        data: Option<PathBuf>,
        /// A taxonomy TOML like data/taxonomy/intents.toml (default: the built-in taxonomy).
        #[arg(long)]
        taxonomy: Option<PathBuf>,
        /// Share of each label held out to pick the recipe and report metrics.
        #[arg(long, default_value_t = 0.25, value_parser = held_out_share)]
        holdout: f64,
        #[arg(long, default_value = "models/heads/intent")]
        out: PathBuf,
        /// The data's out-of-scope label (e.g. `oos` for CLINC150): a confidence threshold for it
        /// is picked on 15% of the training part and stored in the card.
        #[arg(long)]
        out_of_scope: Option<String>,
        /// The out-of-scope recall you need (0-1): the threshold becomes the best in-scope
        /// accuracy among those reaching it on the calibration rows. Default: recall and
        /// in-scope accuracy weigh equally.
        #[arg(long, requires = "out_of_scope", value_parser = unit_share)]
        out_of_scope_recall: Option<f64>,
        /// The default conversation-intent head: train on this chat corpus's train split plus
        /// the taxonomy's examples, select and calibrate on its dev split (data/corpus).
        #[arg(long, conflicts_with = "data")]
        corpus: Option<PathBuf>,
        /// Also fine-tune the encoder for this data: a low-rank adapter on its upper layers,
        /// trained on the team's labels. A head is fitted with and without it and the adapter is
        /// kept (saved in --out) only if it wins on the hold-out by 0.01 accuracy (`always`:
        /// kept regardless). Intent alone reads through it (sentiment is untouched); analyze
        /// then runs the upper layers twice for the texts read for intent.
        #[arg(long, conflicts_with = "corpus", num_args = 0..=1, default_missing_value = "if-better", value_name = "WHEN")]
        adapt_encoder: Option<AdapterChoiceArg>,
        /// Epochs of encoder adaptation (the hold-out picks the best).
        #[arg(long, default_value_t = 3, requires = "adapt_encoder", value_parser = at_least_one)]
        adapter_epochs: usize,
        #[command(flatten)]
        encoder: EncoderArgs,
    },
    /// Sentiment (negative, neutral, positive) on SmSA and NusaX (+ the chat corpus, + tweets),
    /// selected on their validation splits.
    Sentiment {
        /// The shared data folder (holds sentiment/smsa and sentiment/nusax).
        #[arg(long, default_value = "../shared/data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "models/heads/sentiment")]
        out: PathBuf,
        /// Also train on this chat corpus's train split and select on its dev split (data/corpus).
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// Keep the head in --out and train only its lexical reader (hashed n-grams) and the
        /// blend weight, selected like the head on SmSA and NusaX valid and the corpus dev split
        /// (+ the real dev tweets with --tweets; reads the head's encoder and token limit).
        #[arg(long, requires = "corpus")]
        lexical_only: bool,
        /// Also train on the tweets written for convoqa and select on the real tweets' dev
        /// split (data/tweets; reads dialogs from --data-dir's twitter-customer-care/dev.json).
        #[arg(long, requires = "corpus")]
        tweets: Option<PathBuf>,
        #[command(flatten)]
        encoder: EncoderArgs,
    },
    /// How conversations ended (solved, deferred, unsolved, nothing), read from the closing
    /// exchange: trained on the corpus's train split (labels/resolution), selected on dev.
    Resolution {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        #[arg(long, default_value = "models/heads/resolution")]
        out: PathBuf,
        #[command(flatten)]
        encoder: EncoderArgs,
    },
    /// A low-rank adapter that fine-tunes the encoder's upper layers for chats, on sentiment
    /// (SmSA sample + NusaX + the corpus's train messages) and intent (taxonomy examples + the
    /// corpus's train conversations) at once; epochs chosen on the corpus dev split.
    Adapter {
        #[arg(long, default_value = "../shared/data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        #[arg(long, default_value = convoqa::encoder::DEFAULT_ADAPTER_PATH, value_parser = adapter_path)]
        out: PathBuf,
        #[arg(long, default_value = convoqa::encoder::DEFAULT_MODEL_PATH)]
        model: PathBuf,
        #[arg(long, default_value_t = 3)]
        epochs: usize,
        #[arg(long, default_value_t = 8)]
        rank: usize,
        /// Layers from this one up get adapters (the lower ones stay frozen and are cached).
        #[arg(long, default_value_t = 6)]
        first_layer: usize,
        #[arg(long, default_value_t = 3000)]
        smsa_rows: usize,
    },
}

/// `convoqa bench`: the encoder alone on a fixed corpus.
#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Text file, one message per line (the project's fixed corpus: ../shared/bench/corpus.txt).
    #[arg(long)]
    pub(crate) corpus: PathBuf,
    /// Encoder model file.
    #[arg(long, default_value = convoqa::encoder::DEFAULT_MODEL_PATH)]
    pub(crate) model: PathBuf,
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    #[arg(long, default_value_t = 128)]
    pub(crate) max_tokens: usize,
    #[arg(long, default_value_t = convoqa::encoder::DEFAULT_BATCH_TOKENS)]
    pub(crate) batch_tokens: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also write the embeddings (little-endian f32, corpus order) to this file.
    #[arg(long)]
    pub(crate) save_embeddings: Option<PathBuf>,
}

/// The encoder a head is trained on and how it reads texts. A head fits only the encoder and
/// adapter it was trained on: analyze refuses any other.
#[derive(Args)]
pub(crate) struct EncoderArgs {
    /// The encoder: an E5S1 file (models/e5-small) or a Hugging Face model directory.
    #[arg(long, default_value = convoqa::encoder::DEFAULT_MODEL_PATH)]
    pub(crate) model: PathBuf,
    /// Adapter merged into the encoder (`train adapter`); "" for the plain encoder.
    #[arg(long, default_value = convoqa::encoder::DEFAULT_ADAPTER_PATH, value_parser = adapter_path)]
    pub(crate) adapter: PathBuf,
    /// Tokens read of each text, specials included; longer texts are cut.
    #[arg(long, default_value_t = 128)]
    pub(crate) max_tokens: usize,
    /// Keep embeddings here between runs.
    #[arg(long)]
    pub(crate) cache: Option<PathBuf>,
}

impl EncoderArgs {
    /// The encoder with its adapter merged, and the name head cards record for it.
    pub(crate) fn load(&self) -> Result<(convoqa::encoder::Encoder, String), convoqa::Error> {
        Ok(convoqa::encoder::Encoder::load_adapted(&self.model, Some(&self.adapter))?)
    }

    /// What a head trainer is told about this run.
    pub(crate) fn run<'a>(&'a self, model_name: &'a str, command: &'a str) -> convoqa::heads::TrainRun<'a> {
        convoqa::heads::TrainRun { model_name, max_tokens: self.max_tokens, cache: self.cache.as_deref(), command }
    }
}

/// `--adapter`'s parser: unlike clap's path parser it takes "" (the plain encoder, as documented).
fn adapter_path(value: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(value))
}

/// When `train intent --adapt-encoder` keeps the adapter it trains.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum AdapterChoiceArg {
    /// Only if the head read through it wins on the hold-out by 0.01 accuracy.
    IfBetter,
    /// Always.
    Always,
}

/// A share of the data held out for figures: between 0.05 (too few rows to measure below) and
/// 0.5 (too few to train on above).
fn held_out_share(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(x) if (0.05..=0.5).contains(&x) => Ok(x),
        _ => Err(format!("{value:?} is not a share between 0.05 and 0.5, e.g. 0.25")),
    }
}

/// A count of one or more.
fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{value:?} is not a count of 1 or more, e.g. 3")),
    }
}

/// A finite number, zero or more.
fn non_negative(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("{value:?} is not a non-negative number, e.g. 1.0")),
    }
}

/// A share between 0 and 1, as clap parses it (a bad value exits 2 with clap's message).
fn unit_share(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("{value:?} is not a share between 0 and 1, e.g. 0.8")),
    }
}
