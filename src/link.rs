//! Stage 4, link across conversations: reopens, FCR and its maturity.
//!
//! A resolved conversation A is reopened when the same customer starts a conversation B with
//! A.resolved_at < B.created_at <= A.resolved_at + window. B records reopen_of = the most
//! recently resolved such A. FCR is only known once the window has passed by as_of: before
//! that, reopened and fcr are null and fcr_mature is false, so an immature conversation is never
//! counted as a success.

use std::collections::HashMap;

use crate::config::Settings;
use crate::features::ConversationRow;
use crate::manifest::Warnings;

/// Fills reopened, reopen_of, fcr and fcr_mature in place.
pub fn link_reopens(rows: &mut [ConversationRow], settings: &Settings, as_of_us: i64, warnings: &mut Warnings) {
    let window = settings.reopen_window_us;
    // Split threads carry the customer in their thread id when no customer_id is given.
    let thread_is_customer = settings.session_gap_us.is_some();
    let mut by_customer: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let key = row.customer_id.clone().or_else(|| thread_is_customer.then(|| row.thread_id.clone()));
        match key {
            Some(k) => by_customer.entry(k).or_default().push(i),
            None => warnings.add(
                "no_customer_id",
                format!("{}: no customer_id, so reopens cannot be linked and FCR stays unknown", row.conversation_id),
            ),
        }
    }
    let mut reopened_flag = vec![false; rows.len()];
    let mut linkable = vec![false; rows.len()];
    for idxs in by_customer.values() {
        for &i in idxs {
            linkable[i] = true;
        }
        // Resolved conversations of this customer by resolved_at (then id, for a stable tie).
        let mut resolved: Vec<usize> = idxs.iter().copied().filter(|&i| rows[i].is_resolved()).collect();
        resolved.sort_by(|&a, &b| {
            (rows[a].resolved_at_us, &rows[a].conversation_id).cmp(&(rows[b].resolved_at_us, &rows[b].conversation_id))
        });
        let resolved_at: Vec<i64> = resolved.iter().map(|&i| rows[i].resolved_at_us.expect("resolved")).collect();
        for &b in idxs {
            let created = rows[b].created_at_us;
            // Candidates A: created - window <= resolved_at < created.
            let lo = resolved_at.partition_point(|&r| r < created - window);
            let hi = resolved_at.partition_point(|&r| r < created);
            // The most recently resolved candidate that is not B itself.
            if let Some(&a) = resolved[lo..hi].iter().rev().find(|&&a| a != b) {
                reopened_flag[a] = true;
                rows[b].reopen_of = Some(rows[a].conversation_id.clone());
            }
        }
    }
    // Any A with some B in its window is reopened; the loop above marks only the most recent A
    // for each B, so mark the rest directly.
    for idxs in by_customer.values() {
        let mut created: Vec<i64> = idxs.iter().map(|&i| rows[i].created_at_us).collect();
        created.sort_unstable();
        for &a in idxs {
            if let Some(r) = rows[a].resolved_at_us {
                let first_after = created.partition_point(|&c| c <= r);
                if created.get(first_after).is_some_and(|&c| c <= r + window) {
                    reopened_flag[a] = true;
                }
            }
        }
    }
    for (i, row) in rows.iter_mut().enumerate() {
        let mature = row.resolved_at_us.is_some_and(|r| as_of_us >= r + window) && linkable[i];
        row.fcr_mature = mature;
        row.reopened = mature.then_some(reopened_flag[i]);
        row.fcr = mature.then_some(!reopened_flag[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const H: i64 = 3_600_000_000;

    fn row(id: &str, customer: &str, created_h: i64, resolved_h: Option<i64>) -> ConversationRow {
        ConversationRow {
            conversation_id: id.into(),
            thread_id: id.into(),
            customer_id: Some(customer.into()),
            created_at_us: created_h * H,
            resolved_at_us: resolved_h.map(|r| r * H),
            ..Default::default()
        }
    }

    fn link(rows: &mut [ConversationRow], as_of_h: i64) {
        let settings = Config::default().validate().unwrap();
        link_reopens(rows, &settings, as_of_h * H, &mut Warnings::default());
    }

    #[test]
    fn return_within_window_is_a_reopen_and_after_it_is_not() {
        let mut rows = vec![
            row("a", "c1", 0, Some(1)),
            row("b", "c1", 49, Some(50)), // 48 h after a's resolution: inside (inclusive)
            row("c", "c1", 99, Some(100)), // 49 h after b's resolution: outside
        ];
        link(&mut rows, 1000);
        assert_eq!(rows[0].reopened, Some(true));
        assert_eq!(rows[0].fcr, Some(false));
        assert_eq!(rows[1].reopen_of.as_deref(), Some("a"));
        assert_eq!(rows[1].reopened, Some(false));
        assert_eq!(rows[1].fcr, Some(true));
        assert_eq!(rows[2].reopen_of, None);
    }

    #[test]
    fn immature_conversations_have_unknown_fcr() {
        let mut rows = vec![row("a", "c1", 0, Some(10)), row("b", "c1", 20, None)];
        link(&mut rows, 57); // a's window ends at 58 h
        assert!(!rows[0].fcr_mature);
        assert_eq!((rows[0].reopened, rows[0].fcr), (None, None));
        // The reopen itself is a fact about b and is recorded now.
        assert_eq!(rows[1].reopen_of.as_deref(), Some("a"));
        // Unresolved: never mature.
        assert_eq!((rows[1].fcr, rows[1].fcr_mature), (None, false));
        link(&mut rows, 58);
        assert_eq!((rows[0].reopened, rows[0].fcr, rows[0].fcr_mature), (Some(true), Some(false), true));
    }

    #[test]
    fn reopen_of_is_the_most_recently_resolved_and_other_customers_do_not_count() {
        let mut rows = vec![
            row("a", "c1", 0, Some(2)),
            row("b", "c1", 1, Some(3)),
            row("c", "c1", 4, Some(5)),
            row("x", "c2", 3, Some(4)),
        ];
        link(&mut rows, 1000);
        assert_eq!(rows[2].reopen_of.as_deref(), Some("b"));
        assert_eq!(rows[0].reopened, Some(true)); // c came within a's window too
        assert_eq!(rows[1].reopened, Some(true));
        assert_eq!(rows[3].reopened, Some(false));
        assert_eq!(rows[3].reopen_of, None);
    }

    #[test]
    fn a_conversation_starting_at_the_resolution_instant_is_not_a_reopen() {
        let mut rows = vec![row("a", "c1", 0, Some(5)), row("b", "c1", 5, Some(6))];
        link(&mut rows, 1000);
        assert_eq!(rows[0].reopened, Some(false));
        assert_eq!(rows[1].reopen_of, None);
    }
}
