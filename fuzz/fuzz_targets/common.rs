// Shared by the targets: read a messages file and run it through assemble, features and link,
// checking the row accounting. Any panic is a finding; errors (exit 2 material) are fine.
use std::path::Path;

use convoqa::assemble::assemble;
use convoqa::config::Config;
use convoqa::features::conversation_features;
use convoqa::ingest::read_messages;
use convoqa::link::{link_reopens, ReopenRule};
use convoqa::manifest::Warnings;

pub fn read_assemble_link(path: &Path) {
    let settings = Config { session_gap_hours: 6.0, ..Config::default() }.validate().expect("default config");
    let Ok(input) = read_messages(&[path.to_path_buf()], &settings, &indicatif::ProgressBar::hidden()) else { return };
    let rows_in = input.rows_in;
    let mut warnings = Warnings::default();
    let assembled = assemble(input, None, &settings, &mut warnings);
    assert_eq!(assembled.messages_rows.rows_in, rows_in);
    assembled.messages_rows.check("messages").expect("every row accounted for");
    let as_of = assembled.conversations.iter().flat_map(|c| &c.messages).map(|m| m.sent_at_us).max().unwrap_or(0);
    let mut rows: Vec<_> = assembled.conversations.iter().map(|c| conversation_features(c, &settings, as_of)).collect();
    let links = link_reopens(&rows, &ReopenRule::Any, &settings, as_of, &mut warnings);
    for (row, link) in rows.iter_mut().zip(links) {
        row.link = link;
    }
    let _ = convoqa::aggregate::aggregate(&rows, convoqa::aggregate::conversations_heatmap(&assembled.conversations, &settings.time_zone), &settings.time_zone);
}
