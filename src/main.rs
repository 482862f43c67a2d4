//! The convoqa command line: parses arguments (`cli::args`), validates them into the library's
//! request types, and calls the library. Exit codes: 0 ok, 2 bad input or config, 1 internal
//! error.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use convoqa::pipeline::{analyze, AnalyzeRequest, InputRequest};

mod cli;

use cli::args::{Cli, ColorChoice, Command, LogFormat};

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
    match run(cli.command, &cli::Context { model_dir: cli.model_dir }) {
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

fn run(command: Command, cx: &cli::Context) -> anyhow::Result<()> {
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
            let mut settings = cx.settings(config.as_deref())?;
            if no_model {
                settings.config.model.enabled = false;
            }
            let as_of_us = as_of.map(|s| cli::parse_as_of(&s)).transpose()?;
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
            let mut settings = cx.settings(config.as_deref())?;
            if no_model {
                settings.config.model.enabled = false;
            }
            let request =
                convoqa::pipeline::StreamRequest { settings, as_of_us: cli::parse_as_of(&as_of)?, redact_all };
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
            let settings = cx.settings(config.as_deref())?;
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
            let settings = cx.settings(config.as_deref())?;
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
        Command::Train { what } => cli::train::run(what, cx),
        Command::Eval { head, data, model, adapter } => cli::evaluate::eval_head(&head, &data, &model, &adapter),
        Command::CorpusExport { corpus, split, out } => cli::evaluate::corpus_export(&corpus, &split, &out),
        Command::EvalFlags { corpus, split, config } => {
            cli::evaluate::eval_flags(&corpus, &split, config.as_deref(), cx)
        }
        Command::EvalReadings { corpus, split, twitter, twitter_labels, twitter_intents, config, json } => {
            let twitter = match twitter {
                Some(dev_json) => Some((
                    dev_json,
                    convoqa::readings::TwitterLabelFiles::for_split(&split, twitter_labels, twitter_intents)?,
                )),
                None => None,
            };
            cli::evaluate::eval_readings(&corpus, &split, twitter, config.as_deref(), json, cx)
        }
        Command::Bench(args) => cli::bench::run(&args),
        Command::DemoData { out, conversations, seed } => {
            let summary = cli::demo::generate(&out, conversations, seed)?;
            println!("{summary}");
            Ok(())
        }
    }
}
