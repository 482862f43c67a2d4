//! Arbitrary bytes as a messages Parquet file: the reader must answer with rows or a clear
//! error, never a panic.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::Builder::new().suffix(".parquet").tempfile().expect("temp file");
    file.write_all(data).expect("write");
    common::read_assemble_link(file.path());
});
