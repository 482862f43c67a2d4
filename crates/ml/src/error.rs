//! The language model's errors. What a user can fix (a missing or malformed model file, a bad
//! training file) and broken invariants are the domain's errors, joined here with `#[from]`; what
//! only the model layer meets keeps its source: a failed tensor operation (candle), a failed
//! tokenizer, a JSON card that does not serialise.

use convoqa_domain::error::Error as DomainError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Domain(#[from] DomainError),

    /// A tensor operation failed in `stage` (encoding, training, a head, an adapter): a shape
    /// or dtype convoqa got wrong, or weights that do not fit the model.
    #[error("{stage}: a tensor operation failed")]
    Tensor {
        stage: &'static str,
        #[source]
        source: candle_core::Error,
    },

    /// The tokenizer failed on a text.
    #[error("the tokenizer failed")]
    Tokenizer(#[source] tokenizers::Error),

    /// A model card or adapter spec did not serialise.
    #[error("{what} to JSON")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// 2 for what the user can fix, 1 for convoqa's own faults.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Domain(e) => e.exit_code(),
            Error::Tensor { .. } | Error::Tokenizer(_) | Error::Json { .. } => 1,
        }
    }

    convoqa_domain::domain_constructors!();
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
