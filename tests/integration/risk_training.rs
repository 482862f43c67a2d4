//! `convoqa train risk` on demo history: trains, reports figures on the later period, saves a
//! model `analyze` then uses through the config. The demo's outcomes are synthetic (planted by
//! its generator), so these are wiring and direction checks, not quality claims.

use crate::common;

use common::{demo, run, run_ok, Table};

#[test]
fn train_risk_fits_evaluates_saves_and_analyze_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 2000, 11);
    let model_dir = dir.path().join("risk");
    let messages = data.join("messages");
    let conversations = data.join("conversations.parquet");
    let out = run_ok(&[
        "train",
        "risk",
        "--messages",
        messages.to_str().unwrap(),
        "--conversations",
        conversations.to_str().unwrap(),
        "--out",
        model_dir.to_str().unwrap(),
    ]);
    assert!(out.contains("ROC-AUC trained"), "{out}");

    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_dir.join("risk_model.json")).unwrap()).unwrap();
    let card = &file["card"];
    for target in ["low_csat", "false_fcr"] {
        let trained = card[target]["test_trained"]["roc_auc"].as_f64().unwrap();
        let built_in = card[target]["test_built_in"]["roc_auc"].as_f64().unwrap();
        // The fitted model ranks the later period at least as well as the reasoned one.
        assert!(trained > 0.7 && trained >= built_in - 0.02, "{target}: trained {trained}, built-in {built_in}");
        assert!(
            card[target]["test_trained"]["pr_auc"].as_f64().unwrap()
                > card[target]["test_trained"]["base_rate"].as_f64().unwrap()
        );
        let calibration = card[target]["calibration_trained"].as_array().unwrap();
        let rows: u64 = calibration.iter().map(|b| b["rows"].as_u64().unwrap()).sum();
        assert_eq!(rows, card[target]["test_trained"]["rows"].as_u64().unwrap());
        // The saved model is Platt-calibrated on the later period: there, its mean prediction is
        // the observed rate (a logistic fit with an intercept matches the mean).
        let platt = &file["models"][target]["calibration"];
        assert!(platt["b"].as_f64().unwrap() > 0.0, "{target}: {platt}");
        let bins = card[target]["calibration_platt"].as_array().unwrap();
        let n: f64 = bins.iter().map(|b| b["rows"].as_f64().unwrap()).sum();
        let weighted =
            |k: &str| bins.iter().map(|b| b["rows"].as_f64().unwrap() * b[k].as_f64().unwrap()).sum::<f64>() / n;
        assert_eq!(n as u64, rows);
        assert!((weighted("mean_predicted") - weighted("observed_rate")).abs() < 0.01, "{target}: {bins:?}");
    }
    // The demo's unhappy customers answer more often: what the surveyed rate overstates, the
    // re-weighted and predicted rates take back toward the truth (known here, from the generator).
    let survey = &card["survey"];
    let surveyed = survey["test_surveyed_low_csat_rate"].as_f64().unwrap();
    assert!(survey["test_weighted_low_csat_rate"].as_f64().unwrap() < surveyed, "{survey}");
    assert!(survey["test_predicted_low_csat_rate"].as_f64().unwrap() < surveyed, "{survey}");
    let md = std::fs::read_to_string(model_dir.join("CARD.md")).unwrap();
    assert!(md.contains("## Survey bias") && md.contains("| DEFERRED_RESOLUTION |"), "{md}");

    // analyze with the trained model: named in the manifest, risks differ from the built-in run.
    let config = dir.path().join("risk.toml");
    std::fs::write(&config, format!("[risk]\nmodel = {:?}\n", model_dir.join("risk_model.json").to_str().unwrap()))
        .unwrap();
    let analyze = |out: &std::path::Path, config: Option<&std::path::Path>| {
        let mut args = vec![
            "analyze",
            "--messages",
            messages.to_str().unwrap(),
            "--conversations",
            conversations.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ];
        if let Some(c) = config {
            args.extend(["--config", c.to_str().unwrap()]);
        }
        run_ok(&args);
    };
    let (trained_out, built_in_out) = (dir.path().join("trained"), dir.path().join("built-in"));
    analyze(&trained_out, Some(&config));
    analyze(&built_in_out, None);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(trained_out.join("run_manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["risk_model"].as_str().unwrap().contains("fitted by `convoqa train risk`"),
        "{}",
        manifest["risk_model"]
    );
    let (a, b) = (
        Table::open(&trained_out.join("conversations.parquet")),
        Table::open(&built_in_out.join("conversations.parquet")),
    );
    let differ = (0..a.len()).filter(|&i| a.get("low_csat_risk", i).f64() != b.get("low_csat_risk", i).f64()).count();
    assert!(differ > a.len() / 2, "{differ} of {} risks changed", a.len());
    // Predicted low-CSAT beside the surveyed one, in every KPI table.
    let k = Table::open(&trained_out.join("kpi_overall.parquet"));
    assert!(k.get("predicted_low_csat_pct", 0).f64().unwrap() < k.get("low_csat_pct", 0).f64().unwrap());
}

#[test]
fn a_missing_or_foreign_risk_model_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 60, 3);
    let config = dir.path().join("risk.toml");
    let bogus = dir.path().join("not-a-model.json");
    std::fs::write(&bogus, "{\"format\": \"something else\"}").unwrap();
    for model in [dir.path().join("missing.json"), bogus] {
        std::fs::write(&config, format!("[risk]\nmodel = {:?}\n", model.to_str().unwrap())).unwrap();
        let out = dir.path().join("out");
        let (code, _, stderr) = run(&[
            "analyze",
            "--messages",
            data.join("messages").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--no-model",
        ]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("convoqa train risk"), "the fix is named: {stderr}");
        assert!(!out.join("run_manifest.json").exists());
    }
    // No survey answers (no conversations table): exit 2 saying what is missing, nothing saved.
    let model_dir = dir.path().join("r");
    let (code, _, stderr) = run(&[
        "train",
        "risk",
        "--messages",
        data.join("messages").to_str().unwrap(),
        "--out",
        model_dir.to_str().unwrap(),
        "--no-model",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("at least") && stderr.contains("csat_score"), "{stderr}");
    assert!(!model_dir.join("risk_model.json").exists());
}
