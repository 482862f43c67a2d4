//! Was it solved? The resolution head reads a conversation's closing exchange and says how it
//! ended: solved, deferred (handed on: a promise, a ticket, "mohon ditunggu 1x24 jam"), unsolved
//! (left open with no promise) or nothing (nothing to fix). Status fields cannot say this: a
//! fast, polite "pesanan sedang dalam pengiriman, mohon ditunggu ya kak" closes as resolved.
//!
//! Input: four message slots of the closing exchange, each the embedding of one message (zeros
//! when absent), then a few flags on who spoke last. The head is linear, so the logit of a
//! state is a sum over the slots, and the slot contributing most to the chosen state names the
//! message that decided it (the evidence a reviewer reads).

use convoqa_domain::model::{Message, Role};
use convoqa_domain::row::ResolutionState;

use crate::context::{asks_rating, RuleReading};

/// The head's labels, in ResolutionState::ALL order.
pub const LABELS: [&str; 4] = ["solved", "deferred", "unsolved", "nothing"];

/// Slots of the closing exchange: the business's last two messages (agent or bot; rating
/// prompts skipped), then the customer's last two messages the model reads.
pub const SLOTS: usize = 4;
pub const SLOT_NAMES: [&str; SLOTS] =
    ["last business message", "business message before it", "last customer message", "customer message before it"];
/// Flags after the slots: the customer spoke last; customer messages after the business's last
/// message (0, 1/3, 2/3, 1); no human agent took part.
pub const FLAGS: usize = 3;

/// A business message is read by its last this many words: the closing move ("mohon ditunggu
/// 1x24 jam ya kak", "sudah kami refund") sits at the end, and bot menus and templates are long,
/// so reading all of them doubled analyze's encoder time on written chats.
pub const BUSINESS_WORDS: usize = 32;

/// The text the encoder reads for slot `slot` (business slots: the last BUSINESS_WORDS words).
pub fn slot_text(slot: usize, text: &str) -> std::borrow::Cow<'_, str> {
    if slot >= 2 {
        return std::borrow::Cow::Borrowed(text);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= BUSINESS_WORDS {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(words[words.len() - BUSINESS_WORDS..].join(" "))
    }
}

/// Where the closing exchange's messages are (indices into the conversation's messages).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClosingExchange {
    pub slots: [Option<usize>; SLOTS],
    pub flags: [f32; FLAGS],
}

fn has_text(m: &Message) -> bool {
    m.text.as_deref().is_some_and(|t| !t.trim().is_empty())
}

/// The closing exchange of a conversation. `rules` are its context-rule readings: customer
/// messages a rule decided (menu choices, ratings, ids, media) are not read by the model, so
/// they fill no slot.
pub fn closing_exchange(messages: &[Message], rules: &[Option<RuleReading>]) -> ClosingExchange {
    let is_business = |m: &Message| {
        matches!(m.role, Role::Agent | Role::Bot) && has_text(m) && !asks_rating(m.text.as_deref().unwrap_or(""))
    };
    let business: Vec<usize> = (0..messages.len()).rev().filter(|&i| is_business(&messages[i])).take(2).collect();
    let customer: Vec<usize> = (0..messages.len())
        .rev()
        .filter(|&i| messages[i].role == Role::Customer && has_text(&messages[i]) && rules[i].is_none())
        .take(2)
        .collect();
    let last_spoken = (0..messages.len())
        .rev()
        .find(|&i| has_text(&messages[i]) && (messages[i].role == Role::Customer || is_business(&messages[i])));
    let customer_after = match business.first() {
        Some(&b) => messages[b + 1..].iter().filter(|m| m.role == Role::Customer && has_text(m)).count(),
        None => messages.iter().filter(|m| m.role == Role::Customer && has_text(m)).count(),
    };
    let no_agent = !messages.iter().any(|m| m.role == Role::Agent && !m.is_auto_reply);
    ClosingExchange {
        slots: [
            business.first().copied(),
            business.get(1).copied(),
            customer.first().copied(),
            customer.get(1).copied(),
        ],
        flags: [
            if last_spoken.is_some_and(|i| messages[i].role == Role::Customer) { 1.0 } else { 0.0 },
            customer_after.min(3) as f32 / 3.0,
            if no_agent { 1.0 } else { 0.0 },
        ],
    }
}

/// The head's input: each slot's embedding (zeros when empty), then the flags.
pub fn input_vector(exchange: &ClosingExchange, slot_vectors: [Option<&[f32]>; SLOTS], dim: usize) -> Vec<f32> {
    let mut x = Vec::with_capacity(SLOTS * dim + FLAGS);
    for v in slot_vectors {
        match v {
            Some(v) => x.extend_from_slice(v),
            None => x.extend(std::iter::repeat_n(0.0, dim)),
        }
    }
    x.extend_from_slice(&exchange.flags);
    x
}

/// One conversation's reading: the state's probabilities (ResolutionState::ALL order) and the
/// message that decided it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolution {
    pub probabilities: [f32; 4],
    pub decided_by: Option<usize>,
}

impl Resolution {
    pub fn state(&self) -> ResolutionState {
        ResolutionState::ALL[crate::heads::argmax(&self.probabilities)]
    }

    pub fn confidence(&self) -> f64 {
        self.probabilities[crate::heads::argmax(&self.probabilities)] as f64
    }

    pub fn probability(&self, state: ResolutionState) -> f64 {
        self.probabilities[ResolutionState::ALL.iter().position(|&s| s == state).expect("listed")] as f64
    }
}

/// The slot whose embedding adds most to `class`'s logit under the linear weights `w` ([classes,
/// SLOTS * dim + FLAGS], row-major); None when every slot is empty.
pub fn deciding_slot(w: &[f32], class: usize, x: &[f32], dim: usize) -> Option<usize> {
    let row = &w[class * x.len()..(class + 1) * x.len()];
    (0..SLOTS)
        .filter(|s| x[s * dim..(s + 1) * dim].iter().any(|&v| v != 0.0))
        .map(|s| {
            let range = s * dim..(s + 1) * dim;
            let contribution: f32 = row[range.clone()].iter().zip(&x[range]).map(|(a, b)| a * b).sum();
            (s, contribution)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, text: &str) -> Message {
        Message::for_test("c", 0, role, text)
    }

    #[test]
    fn the_closing_exchange_skips_rating_prompts_and_rule_decided_replies() {
        let messages = vec![
            msg(Role::Customer, "paket saya belum sampai kak"),
            msg(Role::Agent, "Baik kak, sudah kami teruskan ke tim terkait, mohon ditunggu 1x24 jam"),
            msg(Role::Customer, "oke ditunggu"),
            msg(Role::Bot, "Beri nilai 1-5 untuk layanan kami"),
            msg(Role::Customer, "3"),
        ];
        let rules = crate::context::rule_readings(&messages);
        let ex = closing_exchange(&messages, &rules);
        // The prompt is skipped, the rating "3" is rule-decided: the close is the agent's promise.
        assert_eq!(ex.slots, [Some(1), None, Some(2), Some(0)]);
        assert_eq!(ex.flags, [1.0, 2.0 / 3.0, 0.0]);
    }

    #[test]
    fn business_messages_are_read_by_their_closing_words() {
        let long = format!("{} mohon ditunggu 1x24 jam ya kak", "kata ".repeat(40));
        let read = slot_text(0, &long);
        assert_eq!(read.split_whitespace().count(), BUSINESS_WORDS);
        assert!(read.ends_with("mohon ditunggu 1x24 jam ya kak"));
        assert_eq!(slot_text(2, &long), long.as_str(), "customer messages are read whole");
    }

    #[test]
    fn the_deciding_slot_is_the_largest_contribution_to_the_class() {
        let dim = 2;
        let x = vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        // Two classes; class 1 weighs slot 1's second component most.
        let mut w = vec![0.0; 2 * x.len()];
        w[x.len() + 3] = 2.0;
        w[x.len() + 4] = 5.0; // slot 2 is empty (zeros): never chosen
        w[x.len() + 6] = 1.0;
        assert_eq!(deciding_slot(&w, 1, &x, dim), Some(1));
        assert_eq!(deciding_slot(&w, 0, &[0.0; 11], dim), None);
    }
}
