//! The app's errors: every lower layer's (domain, language model, stages, IO) joined with
//! `#[from]`, and a manifest or file that does not serialise kept with its source. Two kinds matter to a
//! scheduler: the user can fix it (exit code 2: bad input or config, with a "fix:") or convoqa
//! is wrong (exit code 1). Row-level faults are not errors: they go to quarantine.

use convoqa_domain::error::Error as DomainError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Config, input, read, write and invariant errors, as every layer reports them.
    #[error(transparent)]
    Domain(#[from] DomainError),

    /// The language model's: its files, its tensors, its tokenizer.
    #[error(transparent)]
    Model(#[from] convoqa_ml::error::Error),

    /// The stages'.
    #[error(transparent)]
    Core(#[from] convoqa_core::error::Error),

    /// Reading and writing tables.
    #[error(transparent)]
    Io(#[from] convoqa_io::error::Error),

    /// A manifest, card or model file did not serialise, or a built-in file did not parse.
    #[error("{what}")]
    Format {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Exit code for the process: 2 for what the user can fix, 1 for convoqa's own faults.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Domain(e) => e.exit_code(),
            Error::Model(e) => e.exit_code(),
            Error::Core(e) => e.exit_code(),
            Error::Io(e) => e.exit_code(),
            Error::Format { .. } => 1,
        }
    }

    convoqa_domain::domain_constructors!();

    convoqa_domain::format_constructor!();
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_keep_their_exit_codes_and_sources() {
        let user: Error = convoqa_ml::error::Error::input("m.e5s1", "truncated", "fetch it again").into();
        assert_eq!(user.exit_code(), 2);
        assert!(user.to_string().contains("fix: fetch it again"), "{user}");
        let bug: Error = convoqa_io::error::Error::arrow("building a table")(arrow::error::ArrowError::SchemaError(
            "no column".into(),
        ))
        .into();
        assert_eq!(bug.exit_code(), 1);
        let source = std::error::Error::source(&bug).expect("the Arrow error is kept as the source");
        assert!(source.to_string().contains("no column"), "{source}");
    }
}
