//! Labelled text files for training and evaluating heads: TSV without a header (text, label),
//! CSV with a header naming a text column and a label column, or Parquet with the same columns.

use std::path::Path;

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub text: String,
    pub label: String,
}

const TEXT_COLUMNS: [&str; 4] = ["text", "message", "utterance", "sentence"];
const LABEL_COLUMNS: [&str; 4] = ["label", "category", "intent", "sentiment"];

fn bad(path: &Path, problem: impl Into<String>) -> Error {
    Error::input(
        path,
        problem,
        "give a TSV without header (text<TAB>label), or a CSV/Parquet with a text column (text, message, utterance or sentence) and a label column (label, category, intent or sentiment)",
    )
}

pub fn load(path: &Path) -> Result<Vec<Labelled>> {
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".parquet") {
        load_parquet(path)
    } else if name.ends_with(".json") {
        load_json(path)
    } else if name.ends_with(".tsv") {
        load_tsv(path)
    } else {
        load_csv(path)
    }
}

/// TSV without a header; a text may hold tabs, so the label is what follows the last one.
fn load_tsv(path: &Path) -> Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read ({e})")))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match line.rsplit_once('\t') {
            Some((t, l)) if !t.trim().is_empty() && !l.trim().is_empty() => {
                out.push(Labelled { text: t.to_string(), label: l.trim().to_string() })
            }
            _ => return Err(bad(path, format!("line {} is not text<TAB>label", i + 1))),
        }
    }
    Ok(out)
}

fn load_csv(path: &Path) -> Result<Vec<Labelled>> {
    let mut reader = csv::ReaderBuilder::new().from_path(path).map_err(|e| bad(path, format!("cannot read ({e})")))?;
    let headers = reader.headers().map_err(|e| bad(path, format!("cannot read the header ({e})")))?.clone();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim().to_lowercase().as_str()));
    let (Some(text_col), Some(label_col)) = (find(&TEXT_COLUMNS), find(&LABEL_COLUMNS)) else {
        return Err(bad(path, format!("no text and label columns among {:?}", headers.iter().collect::<Vec<_>>())));
    };
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(path, format!("row {}: {e}", i + 1)))?;
        match (record.get(text_col), record.get(label_col)) {
            (Some(t), Some(l)) if !t.trim().is_empty() && !l.trim().is_empty() => {
                out.push(Labelled { text: t.to_string(), label: l.trim().to_string() })
            }
            _ => return Err(bad(path, format!("row {} has no text or no label", i + 1))),
        }
    }
    Ok(out)
}

/// JSON lists of [text, label] pairs (CLINC150's layout): a top-level list, or an object of such
/// lists, of which only the keys without "val" or "test" in their name are read, so validation
/// and test splits are never trained on.
fn load_json(path: &Path) -> Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read ({e})")))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(path, format!("not JSON ({e})")))?;
    let lists: Vec<&serde_json::Value> = match &value {
        serde_json::Value::Array(_) => vec![&value],
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().filter(|k| !k.contains("val") && !k.contains("test")).collect();
            keys.sort();
            keys.into_iter().map(|k| &map[k]).collect()
        }
        _ => return Err(bad(path, "expected a list of [text, label] pairs or an object of such lists")),
    };
    let mut out = Vec::new();
    for list in lists {
        for pair in list.as_array().into_iter().flatten() {
            match pair.as_array().map(|p| (p.first().and_then(|v| v.as_str()), p.get(1).and_then(|v| v.as_str()))) {
                Some((Some(t), Some(l))) => out.push(Labelled { text: t.to_string(), label: l.to_string() }),
                _ => return Err(bad(path, format!("{pair} is not a [text, label] pair"))),
            }
        }
    }
    Ok(out)
}

fn load_parquet(path: &Path) -> Result<Vec<Labelled>> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, "opening", e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(path, format!("not Parquet ({e})")))?;
    let schema = builder.schema().clone();
    let find = |names: &[&str]| schema.fields().iter().position(|f| names.contains(&f.name().to_lowercase().as_str()));
    let (Some(t), Some(l)) = (find(&TEXT_COLUMNS), find(&LABEL_COLUMNS)) else {
        return Err(bad(path, "no text and label columns"));
    };
    let mut out = Vec::new();
    for batch in builder.build().map_err(|e| Error::read(path, "reading", e))? {
        let batch = batch.map_err(|e| Error::read(path, "reading", e))?;
        let texts = cast(batch.column(t), &DataType::Utf8).map_err(|e| bad(path, e.to_string()))?;
        let labels = cast(batch.column(l), &DataType::Utf8).map_err(|e| bad(path, e.to_string()))?;
        for (text, label) in texts.as_string::<i32>().iter().zip(labels.as_string::<i32>().iter()) {
            if let (Some(text), Some(label)) = (text, label) {
                out.push(Labelled { text: text.to_string(), label: label.to_string() });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_label_is_the_last_field_and_csv_finds_columns_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("a.tsv");
        std::fs::write(&tsv, "enak banget\tpositive\ntidak \"enak\"\tnegative\n").unwrap();
        let rows = load(&tsv).unwrap();
        assert_eq!(rows[1], Labelled { text: "tidak \"enak\"".into(), label: "negative".into() });
        let csv = dir.path().join("b.csv");
        std::fs::write(&csv, "id,text,label\n1,\"hi, there\",neutral\n").unwrap();
        assert_eq!(load(&csv).unwrap(), vec![Labelled { text: "hi, there".into(), label: "neutral".into() }]);
        let json = dir.path().join("d.json");
        std::fs::write(&json, r#"{"train": [["hi", "greet"]], "oos_train": [["x", "oos"]], "val": [["no", "greet"]]}"#)
            .unwrap();
        let rows = load(&json).unwrap();
        assert_eq!(rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(), vec!["oos", "greet"]);
        let bad_csv = dir.path().join("c.csv");
        std::fs::write(&bad_csv, "foo,bar\n1,2\n").unwrap();
        assert_eq!(load(&bad_csv).unwrap_err().exit_code(), 2);
    }
}
