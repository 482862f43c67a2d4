//! convoqa's language model: the encoder (`encoder`: E5S1 files and Hugging Face directories,
//! LoRA adapters merged at load, behind the `Embed` trait), the context rules that read a
//! message with the one before it (`context`), and the sentiment and intent heads and their
//! training (`heads`). No Arrow outside the labelled-file loader, no run modes, no writers.

pub mod context;
pub mod encoder;
pub mod error;
pub mod heads;
