//! The stages' errors: the domain's and the language model's joined with `#[from]`, and a
//! built-in file that does not parse kept with its source.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Config, input, read, write and invariant errors, as every layer reports them.
    #[error(transparent)]
    Domain(#[from] convoqa_domain::Error),

    /// The language model's: its files, its tensors, its tokenizer.
    #[error(transparent)]
    Model(#[from] convoqa_ml::error::Error),

    /// A built-in file (a holiday calendar) or a serialisation failed.
    #[error("{what}")]
    Format {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// 2 for what the user can fix, 1 for convoqa's own faults.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Domain(e) => e.exit_code(),
            Error::Model(e) => e.exit_code(),
            Error::Format { .. } => 1,
        }
    }

    convoqa_domain::domain_constructors!();

    convoqa_domain::format_constructor!();
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
