//! One codec per stored table: its schema, how rows become a batch and, for the tables convoqa
//! reads back, how a batch becomes rows again. The writer (`write`) keeps only the Parquet, IPC
//! and CSV plumbing, the staging and the atomic renames.

pub mod conversations;
pub mod kpi;
pub mod link_state;
pub mod messages;
pub mod qa_evidence;
pub mod qa_review;
pub mod quarantine;
pub mod voc_backlog;

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType, UInt64Type};

use crate::error::{Error, Result};

pub(crate) const FIX: &str = "pass conversations.parquet files (or directories of them) written by `convoqa analyze` of this version; re-run analyze for outputs of an older version";

/// One batch's columns by name, with the file for error messages.
pub(crate) struct Columns<'a> {
    pub batch: &'a RecordBatch,
    pub path: &'a Path,
}

impl Columns<'_> {
    pub(crate) fn column(&self, name: &str, want: &DataType) -> Result<&dyn Array> {
        let c = self.batch.column_by_name(name).ok_or_else(|| {
            Error::input(self.path, format!("no column {name:?}: not a convoqa conversations table"), FIX)
        })?;
        if c.data_type() != want {
            return Err(Error::input(self.path, format!("column {name:?} is {}, expected {want}", c.data_type()), FIX));
        }
        Ok(c.as_ref())
    }
    pub(crate) fn str(&self, name: &str, i: usize) -> Result<Option<String>> {
        let a = self.column(name, &DataType::Utf8)?.as_string::<i32>();
        Ok(a.is_valid(i).then(|| a.value(i).to_string()))
    }
    pub(crate) fn f64(&self, name: &str, i: usize) -> Result<Option<f64>> {
        let a = self.column(name, &DataType::Float64)?.as_primitive::<Float64Type>();
        Ok(a.is_valid(i).then(|| a.value(i)))
    }
    pub(crate) fn u64(&self, name: &str, i: usize) -> Result<u64> {
        let a = self.column(name, &DataType::UInt64)?.as_primitive::<UInt64Type>();
        Ok(a.value(i))
    }
    pub(crate) fn bool(&self, name: &str, i: usize) -> Result<Option<bool>> {
        let a = self.column(name, &DataType::Boolean)?.as_boolean();
        Ok(a.is_valid(i).then(|| a.value(i)))
    }
    pub(crate) fn ts(&self, name: &str, i: usize) -> Result<Option<i64>> {
        let a = self
            .column(name, &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))?
            .as_primitive::<TimestampMicrosecondType>();
        Ok(a.is_valid(i).then(|| a.value(i)))
    }
    pub(crate) fn required<T>(&self, name: &str, i: usize, v: Option<T>) -> Result<T> {
        v.ok_or_else(|| Error::input(self.path, format!("row {i}: {name} is null"), FIX))
    }
    pub(crate) fn known<T>(
        &self,
        name: &str,
        raw: Option<String>,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        raw.map(|r| {
            parse(&r).ok_or_else(|| Error::input(self.path, format!("{name} {r:?} is not a value convoqa writes"), FIX))
        })
        .transpose()
    }
}

/// A stored batch in the types convoqa writes. Tables written back by an engine differ: Spark has
/// no unsigned integers and may write other timestamp units or large strings. Integers become
/// UInt64 (every integer column of the tables read here is a count), timestamps microseconds
/// UTC, strings Utf8; a cast that would lose anything (a negative count) is an error.
pub(crate) fn conform(batch: RecordBatch, path: &Path) -> Result<RecordBatch> {
    let micros_utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut changed = false;
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let want = match column.data_type() {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt32 => {
                Some(DataType::UInt64)
            }
            DataType::Timestamp(..) if column.data_type() != &micros_utc => Some(micros_utc.clone()),
            DataType::LargeUtf8 | DataType::Utf8View => Some(DataType::Utf8),
            _ => None,
        };
        match want {
            Some(want) => {
                let cast = cast_with_options(column, &want, &CastOptions { safe: false, ..Default::default() })
                    .map_err(|e| {
                        Error::input(
                            path,
                            format!("column {:?} ({}) cannot be read as {want}: {e}", field.name(), column.data_type()),
                            FIX,
                        )
                    })?;
                fields.push(field.as_ref().clone().with_data_type(want));
                columns.push(cast);
                changed = true;
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    }
    if !changed {
        return Ok(batch);
    }
    RecordBatch::try_new(std::sync::Arc::new(arrow::datatypes::Schema::new(fields)), columns)
        .map_err(Error::arrow(format!("conforming {}", path.display())))
}
