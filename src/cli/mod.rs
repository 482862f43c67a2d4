//! The binary's side of the command line: the flags (`args`), the trainers' and evaluators'
//! command handlers (`train`, `evaluate`), the demo data generator (`convoqa demo-data`) and the
//! encoder benchmark (`convoqa bench`), kept out of the production library.

pub mod args;
pub mod bench;
pub mod demo;
pub mod evaluate;
pub mod train;

use std::path::{Path, PathBuf};

/// What every command shares: where models are searched beyond the config's own directory.
pub(crate) struct Context {
    pub(crate) model_dir: Option<PathBuf>,
}

impl Context {
    /// A config file's settings (the documented defaults without one), with `--model-dir`.
    pub(crate) fn settings(&self, config: Option<&Path>) -> Result<convoqa::config::Settings, convoqa::Error> {
        let mut settings = convoqa::pipeline::load_settings(config)?;
        if self.model_dir.is_some() {
            settings.model_search.model_dir = self.model_dir.clone();
        }
        Ok(settings)
    }
}

/// The command line as typed, the program named `convoqa` whatever the path it ran from, each
/// argument shell-quoted (an empty `--adapter ""` stays there): what a trained model's card
/// records, so that the model can be made again by pasting it.
pub(crate) fn invocation() -> String {
    command_line(std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()))
}

fn command_line(args: impl Iterator<Item = String>) -> String {
    // Plain flags and paths stay as typed (shlex would quote `--flag=value` too).
    let plain = |a: &str| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    let quoted = args.map(|a| match plain(&a) {
        true => a,
        false => shlex::try_quote(&a).map_or_else(|_| format!("{a:?}"), |q| q.into_owned()),
    });
    std::iter::once("convoqa".to_string()).chain(quoted).collect::<Vec<_>>().join(" ")
}

/// `--as-of`: an RFC 3339 timestamp, in microseconds.
pub(crate) fn parse_as_of(raw: &str) -> Result<i64, convoqa::Error> {
    convoqa::timefmt::parse_timestamp_str(raw, &jiff::tz::TimeZone::UTC).ok_or_else(|| {
        convoqa::Error::config(
            "--as-of",
            format!("{raw:?} is not a timestamp"),
            "use RFC 3339, e.g. 2026-11-22T00:00:00Z",
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_recorded_command_line_pastes_back_into_a_shell() {
        let args =
            ["train", "intent", "--adapt-encoder=always", "--adapter", "", "--out", "my heads/it's"].map(String::from);
        let line = super::command_line(args.clone().into_iter());
        assert!(line.starts_with("convoqa train intent --adapt-encoder=always --adapter '' --out "), "{line}");
        let words = shlex::split(&line).unwrap();
        assert_eq!(words[1..], args, "{line}");
    }
}
