//! The evaluation commands: a head on a labelled file (`eval`), the shipped readings on a corpus
//! split and the real tweets (`eval-readings`), the pre-survey flags (`eval-flags`), and a
//! corpus split as analyze's input (`corpus-export`). Each loads, calls the library's measure,
//! and prints it.

use std::path::{Path, PathBuf};

use super::Context;

/// `convoqa eval`: a head's accuracy, macro-F1 and confusion matrix on a labelled file, read as
/// analyze reads (its lexical reader and its own encoder adapter, if any).
pub(crate) fn eval_head(head_dir: &Path, data: &Path, model: &Path, adapter: &Path) -> anyhow::Result<()> {
    let (encoder, _) = convoqa::encoder::Encoder::load_adapted(model, Some(adapter))?;
    let (head, m) = convoqa::heads::evaluate_on_file(head_dir, &encoder, data)?;
    print!("{m}");
    if let Some(o) = &head.card.out_of_scope {
        let label = &o.label;
        if let Some(r) = m.recall(label) {
            println!("recall of `{label}` = {r:.4} (top probability below {:.2} -> `{label}`)", o.min_confidence);
        }
        if let Some(a) = m.in_scope_accuracy(label) {
            println!("in-scope accuracy = {a:.4}");
        }
    }
    Ok(())
}

/// `convoqa corpus-export`.
pub(crate) fn corpus_export(corpus: &Path, split: &str, out: &Path) -> anyhow::Result<()> {
    let corpus = convoqa::heads::corpus::Corpus::load(corpus)?;
    let (convs, msgs) = convoqa::readings::export_split(&corpus, split, out)?;
    println!(
        "{convs} conversations, {msgs} messages of the {split} split -> {}/messages.parquet, conversations.parquet",
        out.display()
    );
    Ok(())
}

/// `convoqa eval-flags`.
pub(crate) fn eval_flags(corpus: &Path, split: &str, config: Option<&Path>, cx: &Context) -> anyhow::Result<()> {
    let settings = cx.settings(config)?;
    let corpus = convoqa::heads::corpus::Corpus::load(corpus)?;
    let report = convoqa::flags::evaluate_flags(&corpus, &settings, split)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `convoqa eval-readings`: the corpus split, and with `twitter` (IBM's dev.json and the labels'
/// files) the real tweets. The labels are read and checked before the model loads.
pub(crate) fn eval_readings(
    corpus: &Path,
    split: &str,
    twitter: Option<(PathBuf, convoqa::readings::TwitterLabelFiles)>,
    config: Option<&Path>,
    json: bool,
    cx: &Context,
) -> anyhow::Result<()> {
    let twitter = match twitter {
        Some((dev_json, files)) => Some((dev_json, files.read()?)),
        None => None,
    };
    let model_cfg = cx.settings(config)?.model_config()?;
    let model = convoqa::enrich::LanguageModel::load(&model_cfg)?;
    if let Some((_, labels)) = &twitter {
        labels.check_intents(&model.intent.card.labels)?;
    }
    let corpus = convoqa::heads::corpus::Corpus::load(corpus)?;
    let report = convoqa::readings::evaluate_corpus(&model, &corpus, split)?;
    let twitter_report = match &twitter {
        Some((dev_json, labels)) => Some((convoqa::readings::evaluate_twitter(&model, dev_json, labels)?, labels)),
        None => None,
    };
    if json {
        let mut out = serde_json::json!({"corpus": report});
        if let Some((t, _)) = &twitter_report {
            out["twitter"] = serde_json::to_value(t)?;
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", convoqa::readings::summary(&report));
        if let Some((t, labels)) = &twitter_report {
            print!("{}", t.summary(labels.title()));
        }
    }
    Ok(())
}
