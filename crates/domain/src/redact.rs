//! PII redaction for every text that leaves convoqa in a review list, a backlog or a report:
//! e-mail addresses, phone numbers (Indonesian +62 / 62 / 08xx and international), card numbers
//! that pass the Luhn check, NIK (the 16-digit Indonesian national id), bank account numbers
//! next to a bank word, social handles, and URLs that carry a token or an id.
//!
//! Each kind becomes a bracketed tag (`[EMAIL]`, `[PHONE]`, ...) so a reader still sees what was
//! there. Order matters: cards before NIK (both can be 16 digits; a Luhn-valid one is a card),
//! e-mails before handles (`@` in both), bank accounts before phones (a long digit run after
//! "rek" is an account, not a phone).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a redaction replaced, for counts in the manifest and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PiiKind {
    Email,
    Url,
    Card,
    Nik,
    BankAccount,
    Phone,
    Handle,
}

impl PiiKind {
    pub fn tag(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Url => "[URL]",
            PiiKind::Card => "[CARD]",
            PiiKind::Nik => "[NIK]",
            PiiKind::BankAccount => "[ACCOUNT]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Handle => "[HANDLE]",
        }
    }
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b").expect("valid"));
/// A URL, spaces inside it tolerated where exports break them ("https: //host/...").
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(?:https?:\s?//|www\.)[^\s<>]+").expect("valid"));
/// 13-19 digits, optionally grouped by spaces or dashes.
static CARD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").expect("valid"));
static NIK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{16}\b").expect("valid"));
/// A bank word, then within a few characters an account number of 7-20 digits.
static BANK_ACCOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(no\.?\s?rek(?:ening)?|rek(?:ening)?|rekening|account(?:\s+(?:no|number))?|acc(?:t)?|a/n|va|virtual account|bca|bni|bri|mandiri|cimb|permata|btn|bsi|danamon|jago|seabank)\b([\s.:#-]{0,4}(?:no\.?\s?)?[:#]?\s?)(\d(?:[ -]?\d){6,19})\b")
        .expect("valid")
});
/// Indonesian mobiles (+62 8xx, 62 8xx, 08xx) and international numbers written with a +.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\+62[\s-]?|\b62[\s-]?|\b0)8\d{1,3}(?:[\s-]?\d{2,4}){2,3}\b|\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}\d\b",
    )
    .expect("valid")
});
static HANDLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:^|[^\w@])(@[A-Za-z0-9_]{2,30})\b").expect("valid"));

/// Luhn checksum over the digits of `s`.
pub fn luhn_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() < 13 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A 16-digit NIK: province code 11-94, then a birth date DDMMYY (women add 40 to the day).
fn looks_like_nik(d: &str) -> bool {
    let b = d.as_bytes();
    let num = |i: usize| (b[i] - b'0') as u32 * 10 + (b[i + 1] - b'0') as u32;
    let (province, day, month) = (num(0), num(6), num(8));
    (11..=94).contains(&province) && ((1..=31).contains(&day) || (41..=71).contains(&day)) && (1..=12).contains(&month)
}

/// A URL is kept when it is a bare site or a plain path; one with a query string, a fragment or
/// a path segment carrying an id or token (a digit run of 4+, or 16+ mixed characters) goes.
fn url_has_token(url: &str) -> bool {
    let rest = url.split_once("//").map_or(url, |(_, r)| r);
    let Some((_, path)) = rest.split_once('/') else {
        return rest.contains(['?', '#']);
    };
    if path.contains(['?', '#', '=']) {
        return true;
    }
    path.split(['/', '-', '_', '.']).any(|seg| {
        let digits = seg.chars().filter(char::is_ascii_digit).count();
        digits >= 4 || (seg.len() >= 16 && seg.chars().all(|c| c.is_ascii_alphanumeric()))
    })
}

/// The redacted text and what was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub found: Vec<PiiKind>,
}

fn replace_all<'a>(
    text: Cow<'a, str>,
    re: &Regex,
    found: &mut Vec<PiiKind>,
    f: impl Fn(&Captures) -> Option<(PiiKind, String)>,
) -> Cow<'a, str> {
    if !re.is_match(&text) {
        return text;
    }
    let replaced = re.replace_all(&text, |c: &Captures| match f(c) {
        Some((kind, with)) => {
            found.push(kind);
            with
        }
        None => c[0].to_string(),
    });
    Cow::Owned(replaced.into_owned())
}

pub fn redact(text: &str) -> Redacted {
    let mut found = Vec::new();
    let t = Cow::Borrowed(text);
    let t = replace_all(t, &EMAIL, &mut found, |_| Some((PiiKind::Email, PiiKind::Email.tag().into())));
    let t =
        replace_all(t, &URL, &mut found, |c| url_has_token(&c[0]).then(|| (PiiKind::Url, PiiKind::Url.tag().into())));
    let t = replace_all(t, &BANK_ACCOUNT, &mut found, |c| {
        Some((PiiKind::BankAccount, format!("{}{}{}", &c[1], &c[2], PiiKind::BankAccount.tag())))
    });
    let t =
        replace_all(t, &CARD, &mut found, |c| luhn_valid(&c[0]).then(|| (PiiKind::Card, PiiKind::Card.tag().into())));
    let t =
        replace_all(t, &NIK, &mut found, |c| looks_like_nik(&c[0]).then(|| (PiiKind::Nik, PiiKind::Nik.tag().into())));
    let t = replace_all(t, &PHONE, &mut found, |_| Some((PiiKind::Phone, PiiKind::Phone.tag().into())));
    let t = replace_all(t, &HANDLE, &mut found, |c| {
        let whole = &c[0];
        Some((PiiKind::Handle, format!("{}{}", &whole[..whole.len() - c[1].len()], PiiKind::Handle.tag())))
    });
    Redacted { text: t.into_owned(), found }
}

/// A redacted snippet of at most `max_chars` characters, cut at a word boundary.
pub fn snippet(text: &str, max_chars: usize) -> String {
    let r = redact(text).text;
    let flat: String = r.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        return flat;
    }
    let cut: String = flat.chars().take(max_chars).collect();
    let at = cut.rfind(' ').filter(|&i| i > max_chars / 2).unwrap_or(cut.len());
    format!("{}…", &cut[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: &str) -> String {
        redact(t).text
    }

    #[test]
    fn each_kind_is_replaced_by_its_tag() {
        assert_eq!(r("email aku budi.santoso+cs@gmail.co.id ya"), "email aku [EMAIL] ya");
        assert_eq!(r("wa ke +62 812-3456-7890 atau 081234567890"), "wa ke [PHONE] atau [PHONE]");
        assert_eq!(r("call me on +44 20 7946 0958"), "call me on [PHONE]");
        assert_eq!(r("kartu 4111 1111 1111 1111 ditolak"), "kartu [CARD] ditolak");
        assert_eq!(r("NIK 3174055708900003 ya kak"), "NIK [NIK] ya kak");
        assert_eq!(r("transfer ke rek BCA 1234567890 a/n Budi"), "transfer ke rek BCA [ACCOUNT] a/n Budi");
        assert_eq!(r("no rek: 0987 6543 21"), "no rek: [ACCOUNT]");
        assert_eq!(r("@TeamYouTube my channel"), "[HANDLE] my channel");
        assert_eq!(r("reset link https://acme.co/reset?token=abc123"), "reset link [URL]");
        assert_eq!(r("track at https://acme.co/orders/INV20261122"), "track at [URL]");
    }

    #[test]
    fn ordinary_numbers_and_plain_links_stay() {
        for t in [
            "pesanan INV/2026/31517000 belum sampai",
            "harganya 1500000 kak",
            "tanggal 22/11/2026 jam 10.30",
            "see https://support.google.com/youtube",
            "kode voucher GAJIAN50",
            "4111 1111 1111 1112 is not a valid card",
        ] {
            assert_eq!(r(t), t, "{t}");
        }
    }

    #[test]
    fn luhn_and_nik_checks() {
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(looks_like_nik("3174055708900003"));
        assert!(!looks_like_nik("9999999999999999"));
    }

    #[test]
    fn snippets_are_redacted_and_cut_at_a_word() {
        let s = snippet("kak   tolong   hubungi 081234567890 secepatnya karena paket saya belum datang juga", 40);
        assert!(s.starts_with("kak tolong hubungi [PHONE]"), "{s}");
        assert!(s.chars().count() <= 41 && s.ends_with('…'), "{s}");
    }
}
