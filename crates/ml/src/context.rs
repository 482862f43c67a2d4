//! Context rules: customer messages whose reading is certain from the message before them.
//!
//! A "1" after a bot menu is a choice, not a feeling; a "2" after "beri nilai 1-5" is a bad
//! rating; `<image>` and a bare order number say nothing about how the customer feels. The model
//! labels such messages at random (issue 10 measured it), so these rules decide them and the
//! model never sees them. Everything else goes to the model. The rules need no model, so the
//! in-chat rating also feeds `csat_score` under `--no-model`.

use std::cell::OnceCell;
use std::sync::LazyLock;

use regex::Regex;

use convoqa_domain::model::{Message, Role};

/// What a rule decided about one customer message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleReading {
    /// An answer to a bot or agent menu (a digit, a letter, the option's text or keyword).
    MenuChoice,
    /// An answer to a rating prompt, 1-5.
    Rating(u8),
    /// A media placeholder alone (`<image>`, `[Photo]`, `<attached: x.jpg>`).
    Media,
    /// A bare id: an order, tracking or phone number, an e-mail address, digits alone.
    Reference,
    /// One to three emoji and nothing else, read from a small lexicon.
    Emoji(Feeling),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feeling {
    // The sentiment head's label order: MessageSentiment::from_rule indexes probabilities by it.
    Negative = 0,
    Neutral = 1,
    Positive = 2,
}

impl Feeling {
    pub fn label(self) -> &'static str {
        match self {
            Feeling::Negative => "negative",
            Feeling::Neutral => "neutral",
            Feeling::Positive => "positive",
        }
    }
}

impl RuleReading {
    /// The sentiment the rule gives: ratings 1-2 negative, 3 neutral, 4-5 positive.
    pub fn feeling(self) -> Feeling {
        match self {
            RuleReading::Rating(r) if r <= 2 => Feeling::Negative,
            RuleReading::Rating(3) => Feeling::Neutral,
            RuleReading::Rating(_) => Feeling::Positive,
            RuleReading::Emoji(f) => f,
            RuleReading::MenuChoice | RuleReading::Media | RuleReading::Reference => Feeling::Neutral,
        }
    }

    /// Score on -1..1 (like the model's positive - negative): a rating maps linearly.
    pub fn score(self) -> f32 {
        match self {
            RuleReading::Rating(r) => (r as f32 - 3.0) / 2.0,
            other => match other.feeling() {
                Feeling::Negative => -1.0,
                Feeling::Neutral => 0.0,
                Feeling::Positive => 1.0,
            },
        }
    }

    /// Whether the message expresses a feeling at all. Menu choices, media and ids do not:
    /// they are labelled neutral but left out of the conversation's sentiment trajectory, so
    /// a closing "1" never makes a conversation end neutral (or negative).
    pub fn carries_feeling(self) -> bool {
        matches!(self, RuleReading::Rating(_) | RuleReading::Emoji(_))
    }

    /// The `sentiment_source` value in messages.parquet.
    pub fn source(self) -> &'static str {
        match self {
            RuleReading::MenuChoice => "rule_menu_choice",
            RuleReading::Rating(_) => "rule_rating",
            RuleReading::Media => "rule_media",
            RuleReading::Reference => "rule_reference",
            RuleReading::Emoji(_) => "rule_emoji",
        }
    }
}

/// The rule reading of every message of a conversation (None: not a customer message with
/// text, or no rule applies and the model decides). Messages are in time order. Each bot, agent
/// or system text is parsed as a prompt once, however many customer replies follow it.
pub fn rule_readings(messages: &[Message]) -> Vec<Option<RuleReading>> {
    read_replies(messages, read_reply)
}

/// The rule readings and, for each menu choice, the option it picked in the menu's words ("2"
/// after "1. Cek pesanan\n2. Refund dana" is "refund dana"; None for every other message), in
/// one pass. A customer who only typed "2" said what they came for through the menu: the intent
/// reading uses these words (heads::intent).
pub fn readings_with_menu_choices(messages: &[Message]) -> (Vec<Option<RuleReading>>, Vec<Option<String>>) {
    read_replies(messages, |text, prompt| {
        let reading = read_reply(text, prompt)?;
        let option = match reading {
            RuleReading::MenuChoice => prompt.and_then(|p| chosen_option(text.trim(), &p.options)).map(str::to_string),
            _ => None,
        };
        Some((reading, option))
    })
    .into_iter()
    .map(|r| r.map_or((None, None), |(reading, option)| (Some(reading), option)))
    .unzip()
}

/// Reads every customer message with the last bot, agent or system text before it; each such
/// text is parsed as a prompt once, however many customer replies follow it.
fn read_replies<T>(messages: &[Message], read: impl Fn(&str, Option<&Prompt>) -> Option<T>) -> Vec<Option<T>> {
    let mut previous: Option<(&str, OnceCell<Prompt>)> = None;
    messages
        .iter()
        .map(|m| {
            let text = m.text.as_deref().filter(|t| !t.trim().is_empty());
            match (m.role, text) {
                (Role::Customer, Some(t)) => {
                    read(t, previous.as_ref().map(|(p, parsed)| parsed.get_or_init(|| Prompt::parse(p))))
                }
                (_, Some(t)) => {
                    previous = Some((t, OnceCell::new()));
                    None
                }
                _ => None,
            }
        })
        .collect()
}

/// The last rating the customer gave in the chat, if any: the conversation's in-chat CSAT.
pub fn chat_rating(readings: &[Option<RuleReading>]) -> Option<u8> {
    readings.iter().rev().find_map(|r| match r {
        Some(RuleReading::Rating(n)) => Some(*n),
        _ => None,
    })
}

/// The rule reading of one customer text given the last bot, agent or system text before it.
pub fn rule_reading(text: &str, previous: Option<&str>) -> Option<RuleReading> {
    read_reply(text, previous.map(Prompt::parse).as_ref())
}

/// Does a bot, agent or system text ask for a rating ("Beri nilai 1-5", "How would you rate")?
pub fn asks_rating(text: &str) -> bool {
    RATING_PROMPT.is_match(text)
}

/// What a bot, agent or system text asks the customer for.
struct Prompt {
    asks_rating: bool,
    /// Menu options, keys and labels lower-cased; empty when it is no menu.
    options: Vec<(String, String)>,
}

impl Prompt {
    fn parse(text: &str) -> Prompt {
        Prompt { asks_rating: RATING_PROMPT.is_match(text), options: menu_options(text) }
    }
}

fn read_reply(text: &str, prompt: Option<&Prompt>) -> Option<RuleReading> {
    let t = text.trim();
    if MEDIA.is_match(t) {
        return Some(RuleReading::Media);
    }
    if let Some(prompt) = prompt {
        if prompt.asks_rating {
            if let Some(r) = rating_value(t) {
                return Some(RuleReading::Rating(r));
            }
        }
        if is_menu_choice(t, &prompt.options) {
            return Some(RuleReading::MenuChoice);
        }
    }
    if is_reference(t) {
        return Some(RuleReading::Reference);
    }
    emoji_feeling(t).map(RuleReading::Emoji)
}

static MEDIA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:[<\[(]\s*(?:image|photo|picture|video|sticker|stiker|voice(?: note| message)?|audio|document|file|gif|attached|attachment|media|gambar|foto|lokasi|location|contact|kontak)\b[^>\])]*[>\])]|<?media omitted>?|image omitted|(?:image|video|audio|sticker) (?:omitted|attached))$",
    )
    .expect("media regex")
});

static RATING_PROMPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\brat(e|ing)\b|\bnilai\b|penilaian|\bskala\b|bintang|\bsurvei|\bsurvey|kepuasan|satisf|⭐|★|\b1\s*(-|–|sampai|s/d|to|hingga|sd)\s*5\b)")
        .expect("rating prompt regex")
});

/// "4", "5/5", "3 bintang", "5 kak", "⭐⭐⭐⭐", "4⭐".
fn rating_value(text: &str) -> Option<u8> {
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^([1-5])\s*(?:/\s*5)?\s*(?:bintang|stars?|⭐+|★+)?\s*(?:kak|min|ya|aja|deh|sih)?\s*[.!]*$")
            .expect("rating regex")
    });
    if let Some(c) = NUMBER.captures(text) {
        return c[1].parse().ok();
    }
    let stars = text.chars().filter(|c| *c == '⭐' || *c == '★').count();
    let only_stars = text.chars().all(|c| c == '⭐' || c == '★' || c.is_whitespace() || c == '\u{fe0f}');
    (only_stars && (1..=5).contains(&stars)).then_some(stars as u8)
}

/// Menu options a bot or agent text offers: "1. Cek pesanan", "2) Refund", "1️⃣ Promo",
/// "ketik BATAL", "balas YA untuk ...". Keys and labels, lower-cased.
fn menu_options(text: &str) -> Vec<(String, String)> {
    static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?m)^\s*[*_]*(?:\[)?([0-9]{1,2}|[a-hA-H])(?:\uFE0F?\u20E3|[.)\]:]|\s*[-–=·•|])[*_]*\s+([^\n]{1,80})$",
        )
        .expect("menu regex")
    });
    static INLINE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)(?:ketik|ketikkan|balas|reply|type|kirim|send|pilih|tekan|press)\s+(?:angka\s+|nomor\s+)?[*_'\x22]*([0-9]{1,2}|[A-Z#]{2,12})\b").expect("inline regex")
    });
    let mut options: Vec<(String, String)> =
        NUMBERED.captures_iter(text).map(|c| (c[1].to_lowercase(), clean_label(&c[2]))).collect();
    for c in INLINE.captures_iter(text) {
        let key = c[1].to_lowercase();
        // "balas pesan ini" is not an option: keywords are upper-case in the text, or digits.
        let raw = &c[1];
        if raw.chars().all(|ch| ch.is_ascii_digit()) || raw.chars().all(|ch| !ch.is_lowercase()) {
            options.push((key.clone(), key));
        }
    }
    if options.len() < 2 && !options.iter().any(|(k, _)| k.chars().all(|c| c.is_alphabetic())) {
        // A single numbered line is a list item, not a menu; a single keyword ("ketik BATAL") is.
        return Vec::new();
    }
    options
}

fn clean_label(label: &str) -> String {
    label
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace() || "/&-".contains(*c))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn is_menu_choice(text: &str, options: &[(String, String)]) -> bool {
    chosen_option(text, options).is_some()
}

/// The label of the option a reply picks: "1", "1 kak", "no 2", the option's label ("cek
/// pesanan"), or its keyword ("batal", whose label is the keyword itself).
fn chosen_option<'a>(text: &str, options: &'a [(String, String)]) -> Option<&'a str> {
    if options.is_empty() {
        return None;
    }
    let answer = clean_label(text.trim_end_matches(['.', '!', ' ']));
    let words = answer.split_whitespace().count();
    if answer.is_empty() || words > 6 {
        return None;
    }
    let first = answer.split_whitespace().next().unwrap_or("");
    let by_key =
        if words <= 2 { options.iter().find(|(k, _)| k == first || answer == format!("no {k}")) } else { None };
    by_key
        .or_else(|| options.iter().find(|(k, label)| &answer == label || &answer == k))
        .map(|(_, label)| label.as_str())
}

/// Nothing but ids: order, tracking or phone numbers, digits, e-mail addresses, with separators.
fn is_reference(text: &str) -> bool {
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || ",;:()[]\"'".contains(c))
        .map(|w| w.trim_matches(|c: char| ".!?".contains(c)))
        .filter(|w| !w.is_empty())
        .collect();
    !tokens.is_empty()
        && tokens.iter().all(|w| {
            let digits = w.chars().filter(char::is_ascii_digit).count();
            let id_like = digits >= 3 && w.chars().all(|c| c.is_ascii_alphanumeric() || "/-#+_.".contains(c));
            let number = w.chars().all(|c| c.is_ascii_digit() || "#+-./".contains(c)) && digits >= 1;
            let email = w.contains('@') && w.contains('.') && !w.starts_with('@');
            id_like || number || email
        })
}

/// One to three emoji, nothing else: a feeling from a small lexicon (neutral when mixed or unknown).
fn emoji_feeling(text: &str) -> Option<Feeling> {
    const POSITIVE: &str = "🙏👍😊❤♥🥰😍👌💯🤗😁😄🙂😀😃✨🥳👏💖💕😇🤩😘";
    const NEGATIVE: &str = "😡😤🙄😭😠😢😞😔👎💔😩😫🤬😒😑😓😥😣😖😟☹🙁";
    let symbols: Vec<char> = text
        .chars()
        .filter(|c| {
            !c.is_whitespace() && *c != '\u{fe0f}' && *c != '\u{200d}' && !('\u{1f3fb}'..='\u{1f3ff}').contains(c)
        })
        .collect();
    let is_symbol = |c: &char| !c.is_alphanumeric() && !c.is_ascii_punctuation() && (*c as u32) > 0x2000;
    if symbols.is_empty() || symbols.len() > 3 || !symbols.iter().all(is_symbol) {
        return None;
    }
    let pos = symbols.iter().filter(|c| POSITIVE.contains(**c)).count();
    let neg = symbols.iter().filter(|c| NEGATIVE.contains(**c)).count();
    Some(match (pos, neg) {
        (p, 0) if p > 0 => Feeling::Positive,
        (0, n) if n > 0 => Feeling::Negative,
        _ => Feeling::Neutral,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MENU: &str = "Halo kak! Selamat datang di Belanjain 😊\nBalas dengan angka:\n1. Cek status pesanan\n2. Pengembalian dana\n3. Chat dengan agen\nKetik BATAL untuk keluar";
    const RATING: &str = "Terima kasih sudah menghubungi kami! Beri nilai layanan kami 1-5 ya kak";

    #[test]
    fn menu_choice_after_a_menu_is_neutral() {
        for t in ["1", "2 kak", "BATAL", "cek status pesanan", "3."] {
            let r = rule_reading(t, Some(MENU));
            assert_eq!(r, Some(RuleReading::MenuChoice), "{t}");
            assert_eq!(r.unwrap().feeling(), Feeling::Neutral);
            assert!(!r.unwrap().carries_feeling());
        }
        assert_eq!(
            rule_reading("2", Some("Pilih layanan:\n1 · Tebus resep\n2 · Status pesanan")),
            Some(RuleReading::MenuChoice)
        );
        assert_eq!(rule_reading("6", Some("Menu:\n5️⃣ Promo\n6️⃣ Chat agen")), Some(RuleReading::MenuChoice));
        // A sentence after a menu is the model's to read; so is a digit after plain prose.
        assert_eq!(rule_reading("kak pesanan saya belum sampai udah seminggu", Some(MENU)), None);
        assert_eq!(rule_reading("1", Some("Baik kak, ada yang bisa dibantu lagi?")), Some(RuleReading::Reference));
    }

    #[test]
    fn a_number_after_a_rating_prompt_is_that_rating() {
        assert_eq!(rule_reading("2", Some(RATING)), Some(RuleReading::Rating(2)));
        assert_eq!(RuleReading::Rating(2).feeling(), Feeling::Negative);
        assert_eq!(RuleReading::Rating(3).feeling(), Feeling::Neutral);
        assert_eq!(RuleReading::Rating(4).feeling(), Feeling::Positive);
        assert_eq!(rule_reading("5/5", Some("How would you rate our service today?")), Some(RuleReading::Rating(5)));
        assert_eq!(rule_reading("⭐⭐⭐⭐", Some(RATING)), Some(RuleReading::Rating(4)));
        assert_eq!(rule_reading("1 bintang", Some(RATING)), Some(RuleReading::Rating(1)));
        assert_eq!(rule_reading("5 tapi masalah saya belum beres", Some(RATING)), None);
        assert!((RuleReading::Rating(1).score() + 1.0).abs() < 1e-6);
    }

    #[test]
    fn media_ids_and_emoji_have_fixed_readings() {
        for t in ["<image>", "[Photo]", "<attached: bukti_tf.jpg>", "[sticker]", "<voice note>", "<Media omitted>"] {
            assert_eq!(rule_reading(t, None), Some(RuleReading::Media), "{t}");
        }
        for t in ["INV/2026/31517000", "JX1234567890", "081234567890", "budi.s@gmail.com", "#88213"] {
            assert_eq!(rule_reading(t, None), Some(RuleReading::Reference), "{t}");
        }
        assert_eq!(rule_reading("🙏", None), Some(RuleReading::Emoji(Feeling::Positive)));
        assert_eq!(rule_reading("😡😡", None), Some(RuleReading::Emoji(Feeling::Negative)));
        assert_eq!(rule_reading("🚚", None), Some(RuleReading::Emoji(Feeling::Neutral)));
        assert_eq!(rule_reading("ok 👍", None), None);
        assert_eq!(rule_reading("kak resi pesanan saya ga bisa dilacak", None), None);
    }

    #[test]
    fn readings_follow_the_last_non_customer_text_and_give_the_chat_rating() {
        let msgs = vec![
            Message::for_test("c", 0, Role::Bot, MENU),
            Message::for_test("c", 1, Role::Customer, "1"),
            Message::for_test("c", 2, Role::Agent, "Baik kak, pesanan sudah dikirim ya"),
            Message::for_test("c", 3, Role::Customer, "oke makasih"),
            Message::for_test("c", 4, Role::Bot, RATING),
            Message::for_test("c", 5, Role::Customer, "2"),
        ];
        let r = rule_readings(&msgs);
        assert_eq!(r, vec![None, Some(RuleReading::MenuChoice), None, None, None, Some(RuleReading::Rating(2))]);
        assert_eq!(chat_rating(&r), Some(2));
    }

    #[test]
    fn a_menu_choice_reads_as_the_option_it_picked() {
        let msgs = vec![
            Message::for_test("c", 0, Role::Bot, MENU),
            Message::for_test("c", 1, Role::Customer, "2 kak"),
            Message::for_test("c", 2, Role::Bot, MENU),
            Message::for_test("c", 3, Role::Customer, "BATAL"),
            Message::for_test("c", 4, Role::Bot, MENU),
            Message::for_test("c", 5, Role::Customer, "no 1"),
            Message::for_test("c", 6, Role::Customer, "pesanan saya belum sampai"),
            Message::for_test("c", 7, Role::Bot, RATING),
            Message::for_test("c", 8, Role::Customer, "2"),
        ];
        let (readings, picked) = readings_with_menu_choices(&msgs);
        assert_eq!(readings, rule_readings(&msgs));
        assert_eq!(picked[1].as_deref(), Some("pengembalian dana"));
        assert_eq!(picked[3].as_deref(), Some("batal"));
        assert_eq!(picked[5].as_deref(), Some("cek status pesanan"));
        // Prose after a menu, a rating and non-customer messages pick nothing.
        assert_eq!(picked.iter().filter(|p| p.is_some()).count(), 3);
    }
}
