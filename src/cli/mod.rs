//! What only the binary needs: the demo data generator (`convoqa demo-data`) and the encoder
//! benchmark (`convoqa bench`), kept out of the production library.

pub mod bench;
pub mod demo;
