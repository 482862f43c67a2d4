//! The convoqa command line: parses arguments, validates them into the library's request types,
//! and calls the library. Exit codes: 0 ok, 2 bad input or config, 1 internal error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use convoqa::pipeline::{analyze, load_settings, AnalyzeRequest, InputRequest};

mod cli;

#[derive(Parser)]
#[command(name = "convoqa", version, about = "Conversation-quality analysis for customer-service chats")]
struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// A directory holding the models (e5-small/, adapters/, heads/), searched after the config
    /// file's own directory; also CONVOQA_MODEL_DIR. `convoqa models` shows the whole search.
    #[arg(long, global = true, value_name = "DIR")]
    model_dir: Option<PathBuf>,
    /// Colour in log lines: auto (only when stderr is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Log lines as text, or as JSON objects (one per line) for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
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
        #[arg(long, default_value = "dev")]
        split: String,
        /// IBM's Twitter customer-care dev.json: also score the real tweets of the split's role
        /// (test: dialogs 0-359, data/eval labels; dev: dialogs 360-524, data/tweets labels).
        #[arg(long)]
        twitter: Option<PathBuf>,
        /// Sentiment labels for --twitter's dialogs (dialog TAB turn TAB sentiment) instead of the
        /// split's; then intent is scored only with --twitter-intents.
        #[arg(long, requires = "twitter")]
        twitter_labels: Option<PathBuf>,
        /// Intent labels for --twitter's dialogs (dialog TAB intent; `none` where the taxonomy
        /// does not fit) instead of the split's.
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
        #[arg(long, default_value = "dev")]
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
        #[arg(long, default_value = "dev")]
        split: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure encoder throughput on a corpus (one text per line).
    Bench {
        /// Text file, one message per line (the project's fixed corpus: ../shared/bench/corpus.txt).
        #[arg(long)]
        corpus: PathBuf,
        /// Encoder model file.
        #[arg(long, default_value = convoqa::encoder::DEFAULT_MODEL_PATH)]
        model: PathBuf,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        #[arg(long, default_value_t = convoqa::encoder::DEFAULT_BATCH_TOKENS)]
        batch_tokens: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write the embeddings (little-endian f32, corpus order) to this file.
        #[arg(long)]
        save_embeddings: Option<PathBuf>,
    },
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
enum TrainCommand {
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
        #[arg(long, default_value_t = 0.3)]
        test_fraction: f64,
        /// L2 penalty on the coefficients.
        #[arg(long, default_value_t = 1.0)]
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
        #[arg(long, default_value_t = 0.25)]
        holdout: f64,
        #[arg(long, default_value = "models/heads/intent")]
        out: PathBuf,
        #[arg(long, default_value = convoqa::encoder::DEFAULT_MODEL_PATH)]
        model: PathBuf,
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        #[arg(long)]
        cache: Option<PathBuf>,
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
        /// Adapter merged into the encoder (`train adapter`); "" for the plain encoder.
        #[arg(long, default_value = convoqa::encoder::DEFAULT_ADAPTER_PATH, value_parser = adapter_path)]
        adapter: PathBuf,
        /// Also fine-tune the encoder for this data: a low-rank adapter on its upper layers,
        /// trained on the team's labels. A head is fitted with and without it and the adapter is
        /// kept (saved in --out) only if it wins on the hold-out by 0.01 accuracy (`always`:
        /// kept regardless). Intent alone reads through it (sentiment is untouched); analyze
        /// then runs the upper layers twice for the texts read for intent.
        #[arg(long, conflicts_with = "corpus", num_args = 0..=1, default_missing_value = "if-better", value_name = "WHEN")]
        adapt_encoder: Option<AdapterChoiceArg>,
        /// Epochs of encoder adaptation (the hold-out picks the best).
        #[arg(long, default_value_t = 3, requires = "adapt_encoder")]
        adapter_epochs: usize,
    },
    /// Sentiment (negative, neutral, positive) on SmSA and NusaX (+ the chat corpus, + tweets),
    /// selected on their validation splits.
    Sentiment {
        /// The shared data folder (holds sentiment/smsa and sentiment/nusax).
        #[arg(long, default_value = "../shared/data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "models/heads/sentiment")]
        out: PathBuf,
        #[arg(long, default_value = convoqa::encoder::DEFAULT_MODEL_PATH)]
        model: PathBuf,
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        /// Keep embeddings here between runs.
        #[arg(long)]
        cache: Option<PathBuf>,
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
        /// Adapter merged into the encoder (`train adapter`); "" for the plain encoder.
        #[arg(long, default_value = convoqa::encoder::DEFAULT_ADAPTER_PATH, value_parser = adapter_path)]
        adapter: PathBuf,
    },
    /// How conversations ended (solved, deferred, unsolved, nothing), read from the closing
    /// exchange: trained on the corpus's train split (labels/resolution), selected on dev.
    Resolution {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        #[arg(long, default_value = "models/heads/resolution")]
        out: PathBuf,
        #[arg(long, default_value = convoqa::encoder::DEFAULT_MODEL_PATH)]
        model: PathBuf,
        /// Adapter merged into the encoder (`train adapter`); "" for the plain encoder.
        #[arg(long, default_value = convoqa::encoder::DEFAULT_ADAPTER_PATH, value_parser = adapter_path)]
        adapter: PathBuf,
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        /// Keep embeddings here between runs.
        #[arg(long)]
        cache: Option<PathBuf>,
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

/// `--adapter`'s parser: unlike clap's path parser it takes "" (the plain encoder, as documented).
fn adapter_path(value: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(value))
}

/// When `train intent --adapt-encoder` keeps the adapter it trains.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AdapterChoiceArg {
    /// Only if the head read through it wins on the hold-out by 0.01 accuracy.
    IfBetter,
    /// Always.
    Always,
}

/// A share between 0 and 1, as clap parses it (a bad value exits 2 with clap's message).
fn unit_share(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("{value:?} is not a share between 0 and 1, e.g. 0.8")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    convoqa::encoder::configure_threads(threads);
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into());
    // Log files and shippers get no escape codes: colour only on a terminal, and never under
    // NO_COLOR (https://no-color.org) unless asked for.
    let ansi = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.with_ansi(ansi).init(),
        LogFormat::Json => logs.json().with_ansi(false).flatten_event(true).init(),
    }
    match run(cli.command, cli.model_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(exit_code(&err) as u8)
        }
    }
}

/// 2 for what the user can fix, 1 for the rest: from the first of the layers' errors (app,
/// language model, domain) in the chain.
fn exit_code(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| {
            e.downcast_ref::<convoqa::Error>()
                .map(convoqa::Error::exit_code)
                .or_else(|| e.downcast_ref::<convoqa_io::error::Error>().map(convoqa_io::error::Error::exit_code))
                .or_else(|| e.downcast_ref::<convoqa_core::error::Error>().map(convoqa_core::error::Error::exit_code))
                .or_else(|| e.downcast_ref::<convoqa_ml::error::Error>().map(convoqa_ml::error::Error::exit_code))
                .or_else(|| e.downcast_ref::<convoqa_domain::Error>().map(convoqa_domain::Error::exit_code))
        })
        .unwrap_or(1)
}

/// The command line as typed, the program named `convoqa` whatever the path it ran from: what a
/// trained model's card records, so that the model can be made again. Arguments holding spaces
/// are quoted.
fn invocation() -> String {
    std::iter::once("convoqa".to_string())
        .chain(std::env::args().skip(1).map(|a| if a.contains(char::is_whitespace) { format!("'{a}'") } else { a }))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(command: Command, model_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let settings_from = |config: Option<&std::path::Path>| -> Result<convoqa::config::Settings, convoqa::Error> {
        let mut settings = load_settings(config)?;
        if model_dir.is_some() {
            settings.model_search.model_dir = model_dir.clone();
        }
        Ok(settings)
    };
    match command {
        Command::Analyze {
            messages,
            conversations,
            out,
            config,
            as_of,
            quiet,
            no_model,
            redact_all,
            previous,
            shard,
            date,
            partitions,
            allow_empty,
        } => {
            let mut settings = settings_from(config.as_deref())?;
            if no_model {
                settings.config.model.enabled = false;
            }
            let as_of_us = as_of.map(|s| parse_as_of(&s)).transpose()?;
            let request = AnalyzeRequest {
                input: InputRequest {
                    messages,
                    conversations,
                    as_of_us,
                    settings,
                    show_progress: !quiet && std::io::stderr().is_terminal(),
                    shard: shard.as_deref().map(convoqa::shard::Shard::parse).transpose()?,
                    nightly: date
                        .map(|d| {
                            d.parse::<jiff::civil::Date>()
                                .map(|day| convoqa::pipeline::Nightly { day, store: out.clone() })
                                .map_err(|e| {
                                    convoqa::Error::config(
                                        "--date",
                                        format!("{d:?} is not a date ({e})"),
                                        "use YYYY-MM-DD, e.g. --date 2026-11-22",
                                    )
                                })
                        })
                        .transpose()?,
                },
                out_dir: out,
                redact_all,
                previous_dir: previous,
                partitions,
                allow_empty,
            };
            let report = analyze(&request)?;
            // The manifest keeps every warning; stderr (the scheduler's log) gets one line each.
            for (kind, w) in &report.manifest.warnings.0 {
                tracing::warn!(kind = %kind, count = w.count, example = w.examples.first().map_or("", String::as_str), "input warning (see run_manifest.json)");
            }
            if !quiet {
                print!("{}", convoqa::summary::render(&report));
            }
            Ok(())
        }
        Command::Stream { as_of, config, no_model, redact_all } => {
            let mut settings = settings_from(config.as_deref())?;
            if no_model {
                settings.config.model.enabled = false;
            }
            let request = convoqa::pipeline::StreamRequest { settings, as_of_us: parse_as_of(&as_of)?, redact_all };
            let report = convoqa::pipeline::stream(
                &request,
                std::io::stdin().lock(),
                std::io::BufWriter::new(std::io::stdout().lock()),
            )?;
            // stdout carries the data; the accounting goes to stderr for the engine's logs.
            let m = &report.messages;
            eprintln!(
                "convoqa stream: {} message rows in: {} used, {} quarantined, {} duplicates dropped; {} conversations out",
                m.rows_in, m.rows_used, m.rows_quarantined, m.duplicates_dropped, report.conversations_out
            );
            for (kind, w) in &report.warnings.0 {
                eprintln!("  warning {kind}: {} (e.g. {})", w.count, w.examples.first().map_or("", String::as_str));
            }
            Ok(())
        }
        Command::Kpis { conversations, messages, out, from, to, rescore, config } => {
            let settings = settings_from(config.as_deref())?;
            let day = |flag: &str, raw: Option<String>| -> Result<Option<jiff::civil::Date>, convoqa::Error> {
                raw.map(|r| {
                    r.parse::<jiff::civil::Date>().map_err(|e| {
                        convoqa::Error::config(
                            flag,
                            format!("{r:?} is not a date ({e})"),
                            "use YYYY-MM-DD, e.g. 2026-11-01",
                        )
                    })
                })
                .transpose()
            };
            let (from, to) = (day("--from", from)?, day("--to", to)?);
            if let (Some(f), Some(t)) = (from, to) {
                if f > t {
                    return Err(convoqa::Error::config("--from", format!("{f} is after --to {t}"), "swap them").into());
                }
            }
            let request =
                convoqa::pipeline::KpisRequest { conversations, messages, from, to, rescore, settings, out_dir: out };
            let (manifest, _) = convoqa::pipeline::period_kpis(&request)?;
            println!(
                "{} of {} stored conversations in the period ({} .. {}){}; KPI tables in {}",
                manifest.conversations_in_period,
                manifest.conversations_read,
                manifest.from.as_deref().unwrap_or("start"),
                manifest.to.as_deref().unwrap_or("end"),
                if manifest.rescored { ", risks rescored" } else { "" },
                request.out_dir.display()
            );
            Ok(())
        }
        Command::Models { config } => {
            let settings = settings_from(config.as_deref())?;
            settings.model_search.check_model_dir()?;
            let m = &settings.config.model;
            let mut missing = 0;
            for (key, path) in [
                ("model.encoder", &m.encoder),
                ("model.adapter", &m.adapter),
                ("model.sentiment_head", &m.sentiment_head),
                ("model.intent_head", &m.intent_head),
                ("model.resolution_head", &m.resolution_head),
                ("model.intent_taxonomy", &m.intent_taxonomy),
                ("risk.model", &settings.config.risk.model),
            ] {
                if path.is_empty() {
                    continue;
                }
                println!("{key} = {path:?}");
                let candidates = settings.model_search.candidates(path);
                let found = candidates.iter().position(|(p, _)| p.exists());
                for (i, (p, why)) in candidates.iter().enumerate() {
                    let mark = match found {
                        Some(f) if f == i => "USED ",
                        _ if p.exists() => "found",
                        _ => "-    ",
                    };
                    println!("  {mark} {} ({why})", p.display());
                }
                missing += usize::from(found.is_none());
            }
            if missing > 0 {
                return Err(convoqa::Error::config(
                    "[model]",
                    format!("{missing} model path(s) found nowhere"),
                    "install the models with `scripts/fetch-model.sh --user`, or pass --model-dir DIR",
                )
                .into());
            }
            Ok(())
        }
        Command::Schema => {
            print!("{}", convoqa::ingest::contract_text());
            Ok(())
        }
        Command::Init { file, force } => {
            if file.exists() && !force {
                return Err(convoqa::Error::config(
                    file.display().to_string(),
                    "file exists",
                    "choose another path or pass --force to overwrite",
                )
                .into());
            }
            std::fs::write(&file, convoqa::config::DEFAULT_CONFIG_TOML)
                .with_context(|| format!("writing {}", file.display()))?;
            println!("wrote {}", file.display());
            Ok(())
        }
        Command::Train { what: TrainCommand::Risk { corpus: Some(dir), config, out, .. } } => {
            let settings = settings_from(config.as_deref())?;
            let corpus = convoqa::heads::corpus::Corpus::load(&dir)?;
            let card = convoqa::flags::fit_built_in(&corpus, &settings, &out, &invocation())?;
            for (name, t) in [("low CSAT", &card.low_csat), ("false FCR", &card.false_fcr)] {
                println!(
                    "{name}: dev ROC-AUC reasoned {:?} fitted {:?}; Brier fitted {:?} calibrated {:?}",
                    t.dev_reasoned.roc_auc, t.dev_fitted.roc_auc, t.dev_fitted.brier, t.dev_calibrated.brier
                );
            }
            println!("saved {}", out.display());
            Ok(())
        }
        Command::Train {
            what:
                TrainCommand::Risk {
                    messages,
                    conversations,
                    config,
                    as_of,
                    out,
                    test_fraction,
                    l2,
                    no_model,
                    corpus: None,
                },
        } => {
            if !(0.05..=0.5).contains(&test_fraction) {
                return Err(convoqa::Error::config(
                    "--test-fraction",
                    format!("{test_fraction} is outside 0.05..0.5"),
                    "e.g. --test-fraction 0.3",
                )
                .into());
            }
            if !(l2 >= 0.0 && l2.is_finite()) {
                return Err(convoqa::Error::config(
                    "--l2",
                    format!("{l2} is not a non-negative number"),
                    "e.g. --l2 1.0",
                )
                .into());
            }
            if conversations.is_empty() {
                eprintln!("warning: no --conversations table: there are no survey answers, so the low-CSAT model cannot be trained");
            }
            let mut settings = settings_from(config.as_deref())?;
            settings.config.model.enabled &= !no_model;
            let as_of_us = as_of.map(|s| parse_as_of(&s)).transpose()?;
            let source =
                messages.iter().chain(&conversations).map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            let input = InputRequest {
                messages,
                conversations,
                as_of_us,
                settings,
                show_progress: std::io::stderr().is_terminal(),
                shard: None,
                nightly: None,
            };
            let (rows, _warnings) = convoqa::pipeline::risk_history(&input)?;
            let how = convoqa::score::train::RiskTraining { test_fraction, l2, source, ..Default::default() };
            let (models, card) = convoqa::score::train::train_risk(&rows, &how, &invocation())?;
            let saved = convoqa::write::save_risk_model(&out, &models, &card)?;
            print!("{}", convoqa::score::train::summary(&card));
            println!("saved {} (use it: [risk] model = \"{}\" in the config)", out.display(), saved.display());
            Ok(())
        }
        Command::Train { what: TrainCommand::Resolution { corpus, out, model, adapter, max_tokens, cache } } => {
            let corpus = convoqa::heads::corpus::Corpus::load(&corpus)?;
            let (encoder, model_name) = convoqa::encoder::Encoder::load_adapted(&model, Some(&adapter))?;
            let run = convoqa::heads::TrainRun {
                model_name: &model_name,
                max_tokens,
                cache: cache.as_deref(),
                command: &invocation(),
            };
            let head = convoqa::readings::train_resolution(&encoder, &corpus, &out, run)?;
            for (name, m) in &head.card.validation {
                println!("{name}: {m}");
            }
            println!(
                "temperature {:.2}; dev open-vs-solved ROC-AUC {}; evidence agreement {}",
                head.card.temperature, head.card.recipe["dev_open_roc_auc"], head.card.recipe["dev_evidence_agreement"]
            );
            println!("saved {}", out.display());
            Ok(())
        }
        Command::Train {
            what: TrainCommand::Adapter { data_dir, corpus, out, model, epochs, rank, first_layer, smsa_rows },
        } => {
            let encoder = convoqa::encoder::Encoder::load(&model)?;
            let corpus = convoqa::heads::corpus::Corpus::load(&corpus)?;
            let recipe = convoqa::heads::adapt::AdaptRecipe {
                epochs,
                rank,
                first_layer,
                smsa_rows,
                alpha: 2.0 * rank as f64,
                ..Default::default()
            };
            let mut outcome = convoqa::heads::adapt::train_adapter(
                &encoder,
                &data_dir,
                &corpus,
                &convoqa::heads::intent::Taxonomy::default_taxonomy(),
                &recipe,
            )?;
            outcome.adapter.spec.training["command"] = serde_json::Value::String(invocation());
            outcome.adapter.save(&out)?;
            println!("{}", serde_json::to_string_pretty(&outcome.report)?);
            println!("saved {}", out.display());
            Ok(())
        }
        Command::Train {
            what:
                TrainCommand::Sentiment { data_dir, out, model, max_tokens, cache, corpus, lexical_only, tweets, adapter },
        } => {
            let (encoder, name) = convoqa::encoder::Encoder::load_adapted(&model, Some(&adapter))?;
            let command = invocation();
            let run =
                convoqa::heads::TrainRun { model_name: &name, max_tokens, cache: cache.as_deref(), command: &command };
            let head = match corpus {
                Some(dir) if lexical_only => {
                    let corpus = convoqa::heads::corpus::Corpus::load(&dir)?;
                    convoqa::readings::train_sentiment_lexical(
                        &encoder,
                        &data_dir,
                        &corpus,
                        tweets.as_deref(),
                        &out,
                        cache.as_deref(),
                        &command,
                    )?
                }
                Some(dir) => {
                    let corpus = convoqa::heads::corpus::Corpus::load(&dir)?;
                    convoqa::readings::train_sentiment_with_corpus(
                        &encoder,
                        &data_dir,
                        &corpus,
                        tweets.as_deref(),
                        &out,
                        run,
                    )?
                }
                None => convoqa::heads::sentiment::train_sentiment(&encoder, &data_dir, &out, run)?,
            };
            for (name, m) in &head.card.validation {
                println!("{name}: {m}");
            }
            println!("saved {}", out.display());
            Ok(())
        }
        Command::Train {
            what: TrainCommand::Intent { corpus: Some(dir), taxonomy, out, model, max_tokens, cache, adapter, .. },
        } => {
            let taxonomy = match &taxonomy {
                Some(t) => {
                    let text = std::fs::read_to_string(t).with_context(|| format!("reading {}", t.display()))?;
                    convoqa::heads::intent::Taxonomy::parse(&text, t)?
                }
                None => convoqa::heads::intent::Taxonomy::default_taxonomy(),
            };
            let corpus = convoqa::heads::corpus::Corpus::load(&dir)?;
            let (encoder, model_name) = convoqa::encoder::Encoder::load_adapted(&model, Some(&adapter))?;
            let run = convoqa::heads::TrainRun {
                model_name: &model_name,
                max_tokens,
                cache: cache.as_deref(),
                command: &invocation(),
            };
            let head = convoqa::readings::train_conversation_intent(&encoder, &corpus, &taxonomy, &out, run)?;
            for (name, m) in &head.card.validation {
                println!("{name}: {m}");
            }
            println!(
                "temperature {:.2}; `other` below {:.2}",
                head.card.temperature,
                head.card.out_of_scope.as_ref().map_or(0.0, |o| o.min_confidence)
            );
            println!("saved {}", out.display());
            Ok(())
        }
        Command::Train {
            what:
                TrainCommand::Intent {
                    data,
                    taxonomy,
                    holdout,
                    out,
                    model,
                    max_tokens,
                    cache,
                    out_of_scope,
                    out_of_scope_recall,
                    corpus: None,
                    adapter,
                    adapt_encoder,
                    adapter_epochs,
                },
        } => {
            if !(0.05..=0.5).contains(&holdout) {
                return Err(convoqa::Error::config(
                    "--holdout",
                    format!("{holdout} is outside 0.05..0.5"),
                    "e.g. --holdout 0.25",
                )
                .into());
            }
            let (rows, source) = match (&data, &taxonomy) {
                (Some(d), _) => (convoqa::heads::data::load(d)?, d.display().to_string()),
                (None, Some(t)) => {
                    let text = std::fs::read_to_string(t).with_context(|| format!("reading {}", t.display()))?;
                    (convoqa::heads::intent::Taxonomy::parse(&text, t)?.labelled(), t.display().to_string())
                }
                (None, None) => (
                    convoqa::heads::intent::Taxonomy::default_taxonomy().labelled(),
                    "built-in taxonomy data/taxonomy/intents.toml".to_string(),
                ),
            };
            if adapt_encoder.is_some() && adapter_epochs == 0 {
                return Err(convoqa::Error::config("--adapter-epochs", "0", "at least 1, e.g. 3").into());
            }
            let (encoder, model_name) = convoqa::encoder::Encoder::load_adapted(&model, Some(&adapter))?;
            // The upper half of the layers is adapted (6-11 of e5-small's 12, as the chat adapter).
            let adapt_recipe = adapt_encoder.map(|when| {
                let recipe = convoqa::heads::adapt::AdaptRecipe {
                    epochs: adapter_epochs,
                    max_tokens,
                    first_layer: encoder.model.shape.layers / 2,
                    ..Default::default()
                };
                let choice = match when {
                    AdapterChoiceArg::IfBetter => convoqa::heads::intent::AdapterChoice::IfBetter,
                    AdapterChoiceArg::Always => convoqa::heads::intent::AdapterChoice::Always,
                };
                (recipe, choice)
            });
            let command = invocation();
            let how = convoqa::heads::intent::IntentTraining {
                run: convoqa::heads::TrainRun {
                    model_name: &model_name,
                    max_tokens,
                    cache: cache.as_deref(),
                    command: &command,
                },
                source: &source,
                holdout,
                out_of_scope: out_of_scope.as_deref(),
                out_of_scope_recall,
                adapt_encoder: adapt_recipe.as_ref().map(|(recipe, choice)| (recipe, *choice)),
            };
            let head = convoqa::heads::intent::train_intent(&encoder, &rows, &how, &out)?;
            for (name, m) in &head.card.validation {
                println!("{name}: {m}");
                for scope in ["oos", "other"] {
                    if let Some(r) = m.recall(scope) {
                        println!("{name}: recall of `{scope}` = {r:.4}");
                    }
                }
            }
            if let Some(o) = &head.card.out_of_scope {
                println!(
                    "out-of-scope: top probability below {:.2} -> `{}` (picked on the calibration rows)",
                    o.min_confidence, o.label
                );
            }
            if let Some(report) = head.card.recipe.get("encoder_adapter") {
                let verdict = match &head.card.encoder_adapter {
                    Some(dir) => format!("kept, saved in {}", out.join(dir).display()),
                    None => format!(
                        "not kept: it must win by {} to be worth its run-time cost; the head reads the shared encoder",
                        convoqa::heads::intent::ADAPTER_MIN_GAIN
                    ),
                };
                let accuracies: Vec<String> =
                    [("holdout_accuracy_with", "with it"), ("holdout_accuracy_without", "without")]
                        .iter()
                        .filter_map(|(key, side)| report[key].as_f64().map(|a| format!("{a:.4} {side}")))
                        .collect();
                println!(
                    "encoder adapter: epoch {} of {} (hold-out accuracy of its task head), {:.0} s; head hold-out accuracy {}: {verdict}",
                    report["best_epoch"],
                    report["epochs"].as_array().map_or(0, Vec::len),
                    report["seconds"].as_f64().unwrap_or(0.0),
                    accuracies.join(", "),
                );
            }
            println!("saved {}", out.display());
            Ok(())
        }
        Command::Eval { head: head_dir, data, model, adapter } => {
            let head = convoqa::heads::Head::load(&head_dir)?;
            let lexical = convoqa::heads::lexical::load_for(&head, &head_dir)?;
            let (encoder, _) = convoqa::encoder::Encoder::load_adapted(&model, Some(&adapter))?;
            let encoder = match &head.card.encoder_adapter {
                Some(dir) => encoder.branch(&head_dir.join(dir))?,
                None => encoder,
            };
            let set = convoqa::heads::sentiment::embedded_set(
                &encoder,
                "eval",
                &data,
                &head.card.labels,
                head.card.max_tokens,
                None,
            )?;
            let rows = convoqa::heads::data::load(&data)?;
            let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
            let probs = convoqa::heads::lexical::blended_proba(&head, lexical.as_ref(), &set.x, &texts)?;
            let pred = convoqa::heads::intent::predict_labels(&head, &probs);
            let m = convoqa::heads::metrics::evaluate(&head.card.labels, &set.y, &pred);
            print!("{m}");
            if let Some(o) = &head.card.out_of_scope {
                let label = &o.label;
                if let Some(r) = m.recall(label) {
                    println!(
                        "recall of `{label}` = {r:.4} (top probability below {:.2} -> `{label}`)",
                        o.min_confidence
                    );
                }
                if let Some(a) = m.in_scope_accuracy(label) {
                    println!("in-scope accuracy = {a:.4}");
                }
            }
            Ok(())
        }
        Command::CorpusExport { corpus, split, out } => {
            if split != "all" && !convoqa::heads::corpus::SPLITS.contains(&split.as_str()) {
                return Err(convoqa::Error::config(
                    "--split",
                    format!("{split:?} is not a split"),
                    "use train, dev, test or all",
                )
                .into());
            }
            let corpus = convoqa::heads::corpus::Corpus::load(&corpus)?;
            let (convs, msgs) = convoqa::readings::export_split(&corpus, &split, &out)?;
            println!("{convs} conversations, {msgs} messages of the {split} split -> {}/messages.parquet, conversations.parquet", out.display());
            Ok(())
        }
        Command::EvalFlags { corpus, split, config } => {
            if !convoqa::heads::corpus::SPLITS.contains(&split.as_str()) {
                return Err(convoqa::Error::config(
                    "--split",
                    format!("{split:?} is not a split"),
                    "use train, dev or test",
                )
                .into());
            }
            let settings = settings_from(config.as_deref())?;
            let corpus = convoqa::heads::corpus::Corpus::load(&corpus)?;
            let report = convoqa::flags::evaluate_flags(&corpus, &settings, &split)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::EvalReadings { corpus, split, twitter, twitter_labels, twitter_intents, config, json } => {
            if !convoqa::heads::corpus::SPLITS.contains(&split.as_str()) {
                return Err(convoqa::Error::config(
                    "--split",
                    format!("{split:?} is not a split"),
                    "use train, dev or test",
                )
                .into());
            }
            let twitter_files = match &twitter {
                Some(_) => {
                    Some(convoqa::readings::TwitterLabelFiles::for_split(&split, twitter_labels, twitter_intents)?)
                }
                None => None,
            };
            let model_cfg = settings_from(config.as_deref())?.model_config()?;
            let model = convoqa::enrich::LanguageModel::load(&model_cfg)?;
            let corpus = convoqa::heads::corpus::Corpus::load(&corpus)?;
            let report = convoqa::readings::evaluate_corpus(&model, &corpus, &split)?;
            let twitter_report = match (twitter, twitter_files) {
                (Some(dev_json), Some(files)) => Some(convoqa::readings::evaluate_twitter(
                    &model,
                    &dev_json,
                    &files.messages,
                    files.intents.as_deref(),
                )?),
                _ => None,
            };
            if json {
                let mut out = serde_json::json!({"corpus": report});
                if let Some(t) = &twitter_report {
                    out["twitter"] = serde_json::to_value(t)?;
                }
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", convoqa::readings::summary(&report));
                if let Some(t) = &twitter_report {
                    print!("{}", t.summary(&split));
                }
            }
            Ok(())
        }
        Command::Bench { corpus, model, runs, max_tokens, batch_tokens, json, save_embeddings } => {
            let text = std::fs::read_to_string(&corpus).with_context(|| format!("reading {}", corpus.display()))?;
            let texts: Vec<&str> = text.lines().collect();
            let rss_before = cli::bench::rss_mb();
            let load_start = std::time::Instant::now();
            let encoder = convoqa::encoder::Encoder::load(&model)?;
            let load_s = load_start.elapsed().as_secs_f64();
            let rss_loaded = cli::bench::rss_mb();
            let b = cli::bench::bench_encoder(&encoder, &texts, max_tokens, batch_tokens, runs)?;
            if let Some(path) = save_embeddings {
                let bytes: Vec<u8> = b.vectors.iter().flatten().flat_map(|f| f.to_le_bytes()).collect();
                std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({"encoder": b, "load_seconds": load_s, "rss_before_load_mb": rss_before, "rss_after_load_mb": rss_loaded})
                );
            } else {
                println!(
                    "encoder: {} messages, {} real tokens ({} truncated at {max_tokens}), {} threads\n  median of {} runs: {:.2} s -> {:.1} messages/s, {:.0} tokens/s\n  load {:.2} s, RSS {:.0} MB before load, {:.0} MB after (model {:.0} MB), peak {:.0} MB",
                    b.messages, b.real_tokens, b.truncated, b.threads, b.runs_seconds.len(), b.median_seconds, b.messages_per_s, b.tokens_per_s, load_s, rss_before, rss_loaded, rss_loaded - rss_before, b.peak_rss_mb
                );
            }
            Ok(())
        }
        Command::DemoData { out, conversations, seed } => {
            let summary = cli::demo::generate(&out, conversations, seed)?;
            println!("{summary}");
            Ok(())
        }
    }
}

fn parse_as_of(raw: &str) -> Result<i64, convoqa::Error> {
    convoqa::timefmt::parse_timestamp_str(raw, &jiff::tz::TimeZone::UTC).ok_or_else(|| {
        convoqa::Error::config(
            "--as-of",
            format!("{raw:?} is not a timestamp"),
            "use RFC 3339, e.g. 2026-11-22T00:00:00Z",
        )
    })
}
