//! Reading and writing tables: the layers below joined with `#[from]`, and the Arrow and
//! serialisation errors of building, conforming, merging and writing tables kept as sources.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Config, input, read, write and invariant errors, as every layer reports them.
    #[error(transparent)]
    Domain(#[from] convoqa_domain::Error),

    /// The stages' (and through them the language model's).
    #[error(transparent)]
    Core(#[from] convoqa_core::error::Error),

    /// Building, converting or merging an Arrow table failed: a schema convoqa got wrong.
    #[error("{context}")]
    Arrow {
        context: String,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// A CSV or JSON output did not serialise.
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
            Error::Core(e) => e.exit_code(),
            Error::Arrow { .. } | Error::Format { .. } => 1,
        }
    }

    convoqa_domain::domain_constructors!();

    /// An Arrow error while `context`, its source kept.
    pub fn arrow(context: impl Into<String>) -> impl FnOnce(arrow::error::ArrowError) -> Error {
        let context = context.into();
        move |source| Error::Arrow { context, source }
    }

    convoqa_domain::format_constructor!();
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
