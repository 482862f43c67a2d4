//! Library errors. Two kinds matter to a scheduler: the user can fix it (bad input or config,
//! exit code 2) or convoqa is wrong (internal, exit code 1). Row-level faults are not errors:
//! they go to quarantine and the run goes on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting in the config file (or on the command line) is invalid.
    #[error("invalid config: `{key}`: {problem}\n  fix: {fix}")]
    Config { key: String, problem: String, fix: String },

    /// An input file is missing a column, has a column of the wrong type, or cannot be read.
    #[error("bad input: {}: {problem}\n  fix: {fix}", path.display())]
    Input { path: PathBuf, problem: String, fix: String },

    /// Reading an input file failed below the schema level (I/O, corrupt Parquet).
    #[error("cannot read {}: {context}", path.display())]
    Read {
        path: PathBuf,
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Writing an output failed.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An invariant of convoqa itself broke (row accounting, array lengths): a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Exit code for the process: 2 for what the user can fix, 1 for convoqa's own faults.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::Input { .. } | Error::Read { .. } => 2,
            Error::Write { .. } | Error::Internal(_) => 1,
        }
    }

    pub fn config(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Config { key: key.into(), problem: problem.into(), fix: fix.into() }
    }

    pub fn input(path: impl Into<PathBuf>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Input { path: path.into(), problem: problem.into(), fix: fix.into() }
    }

    pub fn read(
        path: impl Into<PathBuf>,
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Read { path: path.into(), context: context.into(), source: Box::new(source) }
    }

    pub fn write(path: impl Into<PathBuf>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Write { path: path.into(), source: Box::new(source) }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The domain errors' constructors (`config`, `input`, `read`, `write`, `internal`) on a higher
/// layer's error type that wraps [`Error`] with `#[from]`, so every layer builds them the same
/// way: `impl LayerError { convoqa_domain::domain_constructors!(); }`.
#[macro_export]
macro_rules! domain_constructors {
    () => {
        pub fn config(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
            $crate::Error::config(key, problem, fix).into()
        }

        pub fn input(path: impl Into<std::path::PathBuf>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
            $crate::Error::input(path, problem, fix).into()
        }

        pub fn read(
            path: impl Into<std::path::PathBuf>,
            context: impl Into<String>,
            source: impl std::error::Error + Send + Sync + 'static,
        ) -> Self {
            $crate::Error::read(path, context, source).into()
        }

        pub fn write(
            path: impl Into<std::path::PathBuf>,
            source: impl std::error::Error + Send + Sync + 'static,
        ) -> Self {
            $crate::Error::write(path, source).into()
        }

        /// A broken invariant of convoqa itself: a bug.
        pub fn internal(problem: impl Into<String>) -> Self {
            $crate::Error::Internal(problem.into()).into()
        }
    };
}

/// The `format` constructor of a layer's error with a `Format { what, source }` variant: a
/// serialisation or parse error of `what`, its source kept.
#[macro_export]
macro_rules! format_constructor {
    () => {
        pub fn format<E: std::error::Error + Send + Sync + 'static>(what: impl Into<String>) -> impl FnOnce(E) -> Self {
            let what = what.into();
            move |source| Self::Format { what, source: Box::new(source) }
        }
    };
}
