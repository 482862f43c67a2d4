//! Where the model files are found, so the binary runs from any directory (a scheduler's, a
//! container's, an installed one).
//!
//! A relative model path from the config (`models/e5-small/e5-small-q4.bin`, ...) is looked up,
//! first hit wins:
//! 1. relative to the config file's directory, when a config file was given;
//! 2. under `--model-dir` / `CONVOQA_MODEL_DIR`;
//! 3. next to the binary: `<bin>/models`, then `<bin>/../share/convoqa/models` (an install prefix);
//! 4. the per-user data directory: `$XDG_DATA_HOME/convoqa/models` (`~/.local/share/convoqa/models`);
//! 5. `./models` in the working directory;
//! 6. the source checkout the binary was built from.
//!
//! In 2-6 a model directory is laid out like the repository's `models/` (e5-small/, adapters/,
//! heads/), so the leading `models/` of a path is dropped there. Absolute paths are used as
//! they are.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable naming a model directory (as `--model-dir` does).
pub const MODEL_DIR_ENV: &str = "CONVOQA_MODEL_DIR";

/// The places a run looks for its models, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelSearch {
    /// The directory of the config file the paths came from.
    pub config_dir: Option<PathBuf>,
    /// `--model-dir`, else `CONVOQA_MODEL_DIR`.
    pub model_dir: Option<PathBuf>,
    /// Directories next to the binary (from `std::env::current_exe`).
    pub beside_binary: Vec<PathBuf>,
    /// The per-user data directory's models folder.
    pub user_dir: Option<PathBuf>,
    /// The checkout the binary was built from (its `models/`).
    pub build_tree: Option<PathBuf>,
}

impl ModelSearch {
    /// The search for this process: the binary's location, the user's data directory and the
    /// environment; `model_dir` (from `--model-dir`) wins over `CONVOQA_MODEL_DIR`.
    pub fn for_process(config_dir: Option<PathBuf>, model_dir: Option<PathBuf>) -> ModelSearch {
        let model_dir =
            model_dir.or_else(|| std::env::var_os(MODEL_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
        let beside_binary = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .map(|bin| vec![bin.join("models"), bin.join("..").join("share").join("convoqa").join("models")])
            .unwrap_or_default();
        // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
        let user_dir = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| Path::new(v).is_absolute())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".local").join("share"))
            })
            .map(|d| d.join("convoqa").join("models"));
        // Only while that checkout is there (not in a container image or after it is deleted).
        // This crate sits at crates/core of the checkout.
        let build_tree =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").canonicalize().ok().filter(|d| d.is_dir());
        ModelSearch { config_dir, model_dir, beside_binary, user_dir, build_tree }
    }

    /// Every candidate for a configured path, in search order, with where each came from.
    pub fn candidates(&self, configured: &str) -> Vec<(PathBuf, &'static str)> {
        let path = Path::new(configured);
        if path.is_absolute() {
            return vec![(path.to_path_buf(), "absolute path")];
        }
        let in_model_dir = strip_models_prefix(path);
        let mut out = Vec::new();
        if let Some(dir) = &self.config_dir {
            out.push((dir.join(path), "relative to the config file"));
        }
        if let Some(dir) = &self.model_dir {
            out.push((dir.join(&in_model_dir), "--model-dir / CONVOQA_MODEL_DIR"));
        }
        for dir in &self.beside_binary {
            out.push((dir.join(&in_model_dir), "next to the binary"));
        }
        if let Some(dir) = &self.user_dir {
            out.push((dir.join(&in_model_dir), "the user's data directory"));
        }
        out.push((path.to_path_buf(), "the working directory"));
        if let Some(dir) = &self.build_tree {
            out.push((dir.join(&in_model_dir), "the source checkout it was built from"));
        }
        out
    }

    /// The first candidate that exists; the error lists every place searched and how to put
    /// the model where the binary finds it.
    pub fn resolve(&self, key: &str, configured: &str) -> Result<PathBuf> {
        let fix = format!(
            "install the models with `scripts/fetch-model.sh --user` (to {}), or point --model-dir / {MODEL_DIR_ENV} at a directory holding e5-small/, adapters/ and heads/; `convoqa models` shows the search",
            self.user_dir.as_deref().map_or("~/.local/share/convoqa/models".into(), |d| d.display().to_string())
        );
        self.resolve_or(key, configured, &fix)
    }

    /// As [`ModelSearch::resolve`], with the fix a miss should suggest.
    pub fn resolve_or(&self, key: &str, configured: &str, fix: &str) -> Result<PathBuf> {
        let candidates = self.candidates(configured);
        if let Some((found, _)) = candidates.iter().find(|(p, _)| p.exists()) {
            return Ok(found.clone());
        }
        let searched: Vec<String> = candidates.iter().map(|(p, why)| format!("{} ({why})", p.display())).collect();
        Err(Error::config(key, format!("{configured:?} was not found; searched: {}", searched.join("; ")), fix))
    }

    /// Checks `--model-dir` / `CONVOQA_MODEL_DIR` names a directory: a typo there should not
    /// fall through silently to another copy of the models.
    pub fn check_model_dir(&self) -> Result<()> {
        match &self.model_dir {
            Some(dir) if !dir.is_dir() => Err(Error::config(
                "--model-dir",
                format!("{} is not a directory", dir.display()),
                format!(
                    "pass the directory that holds e5-small/, adapters/ and heads/ (as --model-dir or {MODEL_DIR_ENV})"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// `models/heads/intent` -> `heads/intent`: a model directory holds what the repository's
/// `models/` holds.
fn strip_models_prefix(path: &Path) -> PathBuf {
    let mut parts = path.components().filter(|c| !matches!(c, Component::CurDir)).peekable();
    if parts.peek().is_some_and(|c| c.as_os_str() == "models") {
        parts.next();
    }
    parts.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search() -> ModelSearch {
        ModelSearch {
            config_dir: Some("/etc/convoqa".into()),
            model_dir: Some("/opt/m".into()),
            beside_binary: vec!["/usr/local/bin/models".into(), "/usr/local/bin/../share/convoqa/models".into()],
            user_dir: Some("/home/u/.local/share/convoqa/models".into()),
            build_tree: Some("/src/convoqa/models".into()),
        }
    }

    #[test]
    fn search_order_is_config_then_model_dir_then_binary_then_user_then_cwd_then_build_tree() {
        let got: Vec<PathBuf> = search().candidates("models/heads/intent").into_iter().map(|(p, _)| p).collect();
        let want: Vec<PathBuf> = [
            "/etc/convoqa/models/heads/intent",
            "/opt/m/heads/intent",
            "/usr/local/bin/models/heads/intent",
            "/usr/local/bin/../share/convoqa/models/heads/intent",
            "/home/u/.local/share/convoqa/models/heads/intent",
            "models/heads/intent",
            "/src/convoqa/models/heads/intent",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn absolute_paths_are_used_as_they_are() {
        assert_eq!(search().candidates("/data/enc.bin"), vec![(PathBuf::from("/data/enc.bin"), "absolute path")]);
    }

    #[test]
    fn paths_without_the_models_prefix_join_as_they_are() {
        let c = search().candidates("./my-heads/intent");
        assert_eq!(c[1].0, PathBuf::from("/opt/m/my-heads/intent"));
    }

    #[test]
    fn a_missing_model_names_every_place_searched() {
        let err = search().resolve("model.encoder", "models/none/x.bin").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = format!("{err}");
        for place in [
            "/etc/convoqa/models/none/x.bin",
            "/opt/m/none/x.bin",
            "/home/u/.local/share/convoqa/models/none/x.bin",
            "working directory",
        ] {
            assert!(text.contains(place), "{place} missing from: {text}");
        }
    }

    #[test]
    fn found_in_the_first_place_that_has_it() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("user");
        std::fs::create_dir_all(user.join("heads/intent")).unwrap();
        let s = ModelSearch { user_dir: Some(user.clone()), ..ModelSearch::default() };
        assert_eq!(s.resolve("model.intent_head", "models/heads/intent").unwrap(), user.join("heads/intent"));
    }
}
