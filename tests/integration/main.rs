//! The integration tests, one test binary (as ripgrep does): each module runs the real binary
//! or the library on small fixtures. One binary links the crate once instead of once per file.

mod common;

mod adapter;
mod bad_input;
mod corpus;
mod demo_ground_truth;
mod encoder_parity;
mod fuzz_regressions;
mod golden;
mod heads_validation;
mod hf_encoder;
mod install;
mod killed_run;
mod nightly;
mod partitioned;
mod period_kpis;
mod properties;
mod redaction_real;
mod report;
mod risk_training;
mod sentiment_lexical;
mod sentiment_pipeline;
mod shards;
mod stream;
mod team_intent;
