//! `convoqa train ...`: loads what a trainer needs (encoder, corpus, labelled rows), calls the
//! library's trainer, and prints what it chose. The card each trainer saves records the command.

use std::io::IsTerminal;

use anyhow::Context as _;

use super::args::{AdapterChoiceArg, TrainCommand};
use convoqa::pipeline::InputRequest;

use super::Context;

pub(crate) fn run(what: TrainCommand, cx: &Context) -> anyhow::Result<()> {
    match what {
        TrainCommand::Risk { corpus: Some(dir), config, out, .. } => {
            let settings = cx.settings(config.as_deref())?;
            let corpus = convoqa::heads::corpus::Corpus::load(&dir)?;
            let card = convoqa::flags::fit_built_in(&corpus, &settings, &out, &super::invocation())?;
            for (name, t) in [("low CSAT", &card.low_csat), ("false FCR", &card.false_fcr)] {
                println!(
                    "{name}: dev ROC-AUC reasoned {:?} fitted {:?}; Brier fitted {:?} calibrated {:?}",
                    t.dev_reasoned.roc_auc, t.dev_fitted.roc_auc, t.dev_fitted.brier, t.dev_calibrated.brier
                );
            }
            println!("saved {}", out.display());
            Ok(())
        }
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
        } => {
            if conversations.is_empty() {
                eprintln!("warning: no --conversations table: there are no survey answers, so the low-CSAT model cannot be trained");
            }
            let mut settings = cx.settings(config.as_deref())?;
            settings.config.model.enabled &= !no_model;
            let as_of_us = as_of.map(|s| super::parse_as_of(&s)).transpose()?;
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
            let (models, card) = convoqa::score::train::train_risk(&rows, &how, &super::invocation())?;
            let saved = convoqa::write::save_risk_model(&out, &models, &card)?;
            print!("{}", convoqa::score::train::summary(&card));
            println!("saved {} (use it: [risk] model = \"{}\" in the config)", out.display(), saved.display());
            Ok(())
        }
        TrainCommand::Resolution { corpus, out, encoder: args } => {
            let corpus = convoqa::heads::corpus::Corpus::load(&corpus)?;
            let (encoder, model_name) = args.load()?;
            let command = super::invocation();
            let head = convoqa::readings::train_resolution(&encoder, &corpus, &out, args.run(&model_name, &command))?;
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
        TrainCommand::Adapter { data_dir, corpus, out, model, epochs, rank, first_layer, smsa_rows } => {
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
            let outcome = convoqa::heads::adapt::train_adapter(
                &encoder,
                &data_dir,
                &corpus,
                &convoqa::heads::intent::Taxonomy::default_taxonomy(),
                &recipe,
                &super::invocation(),
            )?;
            outcome.adapter.save(&out)?;
            println!("{}", serde_json::to_string_pretty(&outcome.report)?);
            println!("saved {}", out.display());
            Ok(())
        }
        TrainCommand::Sentiment { data_dir, out, corpus, lexical_only, tweets, encoder: args } => {
            let (encoder, name) = args.load()?;
            let command = super::invocation();
            let run = args.run(&name, &command);
            let head = match corpus {
                Some(dir) if lexical_only => {
                    let corpus = convoqa::heads::corpus::Corpus::load(&dir)?;
                    convoqa::readings::train_sentiment_lexical(
                        &encoder,
                        &data_dir,
                        &corpus,
                        tweets.as_deref(),
                        &out,
                        args.cache.as_deref(),
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
        TrainCommand::Intent { corpus: Some(dir), taxonomy, out, encoder: args, .. } => {
            let taxonomy = match &taxonomy {
                Some(t) => {
                    let text = std::fs::read_to_string(t).with_context(|| format!("reading {}", t.display()))?;
                    convoqa::heads::intent::Taxonomy::parse(&text, t)?
                }
                None => convoqa::heads::intent::Taxonomy::default_taxonomy(),
            };
            let corpus = convoqa::heads::corpus::Corpus::load(&dir)?;
            let (encoder, model_name) = args.load()?;
            let command = super::invocation();
            let run = args.run(&model_name, &command);
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
        TrainCommand::Intent {
            data,
            taxonomy,
            holdout,
            out,
            out_of_scope,
            out_of_scope_recall,
            corpus: None,
            adapt_encoder,
            adapter_epochs,
            encoder: args,
        } => {
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
            let (encoder, model_name) = args.load()?;
            // The upper half of the layers is adapted (6-11 of e5-small's 12, as the chat adapter).
            let adapt_recipe = adapt_encoder.map(|when| {
                let recipe = convoqa::heads::adapt::AdaptRecipe {
                    epochs: adapter_epochs,
                    max_tokens: args.max_tokens,
                    first_layer: encoder.model.shape.layers / 2,
                    ..Default::default()
                };
                let choice = match when {
                    AdapterChoiceArg::IfBetter => convoqa::heads::intent::AdapterChoice::IfBetter,
                    AdapterChoiceArg::Always => convoqa::heads::intent::AdapterChoice::Always,
                };
                (recipe, choice)
            });
            let command = super::invocation();
            let how = convoqa::heads::intent::IntentTraining {
                run: args.run(&model_name, &command),
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
    }
}
