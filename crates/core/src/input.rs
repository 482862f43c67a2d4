//! A run's input as read and validated (by the IO crate's `ingest`): the stages take it from here.

use std::path::PathBuf;

use crate::model::{ConversationRecord, Message, QuarantinedRow, RowRef};

/// Messages read from every input file, with quarantined rows and the count of rows seen.
#[derive(Debug, Default)]
pub struct MessagesInput {
    pub files: Vec<PathBuf>,
    pub rows_in: u64,
    /// Rows left to other shards by shard::select.
    pub rows_other_shards: u64,
    pub messages: Vec<Message>,
    pub quarantined: Vec<QuarantinedRow>,
}

/// Rows of the optional conversations table.
#[derive(Debug, Default)]
pub struct ConversationsInput {
    pub files: Vec<PathBuf>,
    pub rows_in: u64,
    /// Rows left to other shards by shard::select.
    pub rows_other_shards: u64,
    pub records: Vec<(ConversationRecord, RowRef)>,
    pub quarantined: Vec<QuarantinedRow>,
}
