//! A corpus split written as analyze's input tables.

use std::path::Path;

use crate::error::{Error, Result};
use crate::heads::corpus::{Corpus, CorpusConversation};

/// Writes a split ("all": the whole corpus) as convoqa's input tables (messages.parquet, conversations.parquet with the
/// survey scores), so `analyze` can be run on it (scripts/demo.sh does).
pub fn export_split(corpus: &Corpus, split: &str, out: &Path) -> Result<(usize, usize)> {
    if split == "all" {
        return export_conversations(corpus.conversations.iter(), out);
    }
    export_conversations(corpus.split(split), out)
}

/// Writes corpus conversations as analyze's input tables (messages.parquet,
/// conversations.parquet with status, resolved_at, csat_score and the e-mail subject).
pub fn export_conversations<'a>(
    conversations: impl Iterator<Item = &'a CorpusConversation>,
    out: &Path,
) -> Result<(usize, usize)> {
    use crate::write::{write_parquet, TableBuilder};
    let convs: Vec<(&CorpusConversation, crate::model::Conversation)> =
        conversations.map(|c| Ok((c, c.to_conversation()?))).collect::<Result<_>>()?;
    let msgs: Vec<(&crate::model::Message, &CorpusConversation)> =
        convs.iter().flat_map(|(c, a)| a.messages.iter().map(move |m| (m, *c))).collect();
    let mut t = TableBuilder::new();
    t.str("conversation_id", msgs.iter().map(|(m, _)| Some(&m.conversation_id)));
    t.str("message_id", msgs.iter().map(|(m, _)| m.message_id.as_deref()));
    t.ts("sent_at", msgs.iter().map(|(m, _)| Some(m.sent_at_us)));
    t.str("sender_role", msgs.iter().map(|(m, _)| Some(m.role.as_str())));
    t.str("text", msgs.iter().map(|(m, _)| m.text.as_deref()));
    t.str("customer_id", msgs.iter().map(|(m, _)| m.customer_id.as_deref()));
    t.str("channel", msgs.iter().map(|(m, _)| m.channel.as_deref()));
    t.str("agent_id", msgs.iter().map(|(m, _)| m.agent_id.as_deref()));
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    write_parquet(&out.join("messages.parquet"), &t.finish()?)?;
    let mut c = TableBuilder::new();
    c.str("conversation_id", convs.iter().map(|(c, _)| Some(&c.conversation_id)));
    c.str("customer_id", convs.iter().map(|(c, _)| Some(&c.customer_id)));
    c.str("channel", convs.iter().map(|(c, _)| Some(&c.channel)));
    c.str("status", convs.iter().map(|(c, _)| Some(&c.status)));
    c.ts("created_at", convs.iter().map(|(_, a)| a.messages.first().map(|m| m.sent_at_us)));
    let done = |c: &CorpusConversation| c.status == "resolved" || c.status == "closed";
    c.ts(
        "resolved_at",
        convs.iter().map(|(c, a)| if done(c) { a.messages.last().map(|m| m.sent_at_us) } else { None }),
    );
    c.f64("csat_score", convs.iter().map(|(c, _)| c.csat_score.map(f64::from)));
    c.str("subject", convs.iter().map(|(c, _)| c.subject.as_deref()));
    write_parquet(&out.join("conversations.parquet"), &c.finish()?)?;
    Ok((convs.len(), msgs.len()))
}
