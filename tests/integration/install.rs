//! The binary as a data team installs it: copied to a prefix (`<prefix>/bin/convoqa`, models in
//! `<prefix>/share/convoqa/models`, as `cargo install --root` + `scripts/fetch-model.sh --dest`
//! or the container image lay it out), run from another directory.

use crate::common;

use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `<prefix>/bin/convoqa` and `<prefix>/share/convoqa/models` (the encoder linked, not copied).
fn install(prefix: &Path) -> std::path::PathBuf {
    let repo_models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let bin = prefix.join("bin").join("convoqa");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_convoqa"), &bin).unwrap();
    let models = prefix.join("share/convoqa/models");
    std::fs::create_dir_all(models.join("e5-small")).unwrap();
    std::os::unix::fs::symlink(repo_models.join("e5-small/e5-small-q4.bin"), models.join("e5-small/e5-small-q4.bin"))
        .unwrap();
    copy_dir(&repo_models.join("heads"), &models.join("heads"));
    copy_dir(&repo_models.join("adapters"), &models.join("adapters"));
    bin
}

/// The installed binary, run in `cwd` with a clean user environment.
fn run_in(bin: &Path, cwd: &Path, home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("CONVOQA_MODEL_DIR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn the_installed_binary_finds_its_models_from_any_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    let bin = install(&prefix);
    let (cwd, home) = (tmp.path().join("elsewhere"), tmp.path().join("home"));
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(&home).unwrap();

    let (code, stdout, stderr) = run_in(&bin, &cwd, &home, &["models"]);
    assert_eq!(code, 0, "{stderr}");
    let installed = prefix.join("bin/../share/convoqa/models");
    for file in ["e5-small/e5-small-q4.bin", "adapters/e5-small-chat", "heads/sentiment", "heads/intent"] {
        let want = format!("USED  {} (next to the binary)", installed.join(file).display());
        assert!(stdout.contains(&want), "{want}\nnot in:\n{stdout}");
    }

    // A real run with the model, input and output given relative to the working directory.
    let data = common::demo(tmp.path(), 30, 5);
    copy_dir(&data.join("messages"), &cwd.join("in"));
    let (code, _, stderr) = run_in(&bin, &cwd, &home, &["analyze", "--messages", "in", "--out", "out", "--quiet"]);
    assert_eq!(code, 0, "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("out/run_manifest.json")).unwrap()).unwrap();
    let encoder = manifest["model"]["encoder"].as_str().unwrap_or_default();
    assert!(encoder.starts_with(prefix.to_str().unwrap()), "the installed model was used: {}", manifest["model"]);
}

#[test]
fn config_paths_are_relative_to_the_config_file_and_a_miss_lists_every_place() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = install(&tmp.path().join("prefix"));
    let (cwd, home, etc) = (tmp.path().join("elsewhere"), tmp.path().join("home"), tmp.path().join("etc"));
    for d in [&cwd, &home, &etc.join("enc")] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/e5-small/e5-small-q4.bin"),
        etc.join("enc/e5.bin"),
    )
    .unwrap();
    std::fs::write(etc.join("convoqa.toml"), "[model]\nencoder = \"enc/e5.bin\"\n").unwrap();
    let cfg = etc.join("convoqa.toml");
    let (code, stdout, stderr) = run_in(&bin, &cwd, &home, &["models", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("USED  {} (relative to the config file)", etc.join("enc/e5.bin").display())),
        "{stdout}"
    );

    std::fs::write(&cfg, "[model]\nintent_head = \"nowhere/intent\"\n").unwrap();
    let model_dir = tmp.path().join("md");
    std::fs::create_dir_all(&model_dir).unwrap();
    let messages = common::demo(tmp.path(), 30, 5).join("messages");
    let (code, _, stderr) = run_in(
        &bin,
        &cwd,
        &home,
        &[
            "--model-dir",
            model_dir.to_str().unwrap(),
            "analyze",
            "--messages",
            messages.to_str().unwrap(),
            "--out",
            "o",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    for place in [
        "relative to the config file",
        "--model-dir / CONVOQA_MODEL_DIR",
        "next to the binary",
        "the user's data directory",
        "the working directory",
        "fix: install the models",
    ] {
        assert!(stderr.contains(place), "{place} missing from:\n{stderr}");
    }
    assert!(stderr.contains(&model_dir.join("nowhere/intent").display().to_string()), "{stderr}");
}
