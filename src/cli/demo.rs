//! `convoqa demo-data`: realistic synthetic transcripts with planted ground truth.
//!
//! Each "story" is one customer: a conversation, and sometimes a return (a reopen inside the
//! window, or a return beyond it). The generator decides every delay itself, so the ground truth
//! (frt_total, frt_human, handover wait, handover, containment, primary agent, returns) comes
//! from the plan, not from re-reading the messages: tests compare the pipeline against it.
//! It also plants every row-level fault the reader must quarantine or drop.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use jiff::civil::date;
use jiff::tz::TimeZone;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use convoqa::error::{Error, Result};
use convoqa::timefmt::local_datetime;
use convoqa::write::{write_parquet, TableBuilder};

const S: i64 = 1_000_000;
const MIN: i64 = 60 * S;
const HOUR: i64 = 60 * MIN;
/// Demo period: 14 days from 2026-11-02 00:00 WIB.
const PERIOD_DAYS: i64 = 14;
const AGENTS: [&str; 8] =
    ["agt-ayu", "agt-bima", "agt-citra", "agt-dewi", "agt-eko", "agt-fajar", "agt-gita", "agt-hana"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Id,
    En,
    Mixed,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    BotContained,
    Handover,
    HumanOnly,
    Unanswered,
}

struct DemoMessage {
    conversation_id: String,
    message_id: String,
    sent_at_us: i64,
    role_raw: &'static str,
    text: Option<String>,
    customer_id: String,
    channel: &'static str,
    agent_id: Option<&'static str>,
    is_auto_reply: bool,
}

/// Planted facts about one conversation.
#[derive(Clone, Default)]
struct Truth {
    conversation_id: String,
    customer_id: String,
    channel: &'static str,
    team: &'static str,
    flow: &'static str,
    lang: &'static str,
    intent: &'static str,
    created_at_us: i64,
    resolved_at_us: Option<i64>,
    status: &'static str,
    frt_total_s: Option<f64>,
    frt_human_s: Option<f64>,
    frt_handover_s: Option<f64>,
    had_bot: bool,
    handed_over: bool,
    bot_contained: bool,
    primary_agent_id: Option<&'static str>,
    csat_score: Option<f64>,
    /// The rating every closed conversation would get; csat_score is it where the customer answered.
    latent_csat_score: Option<f64>,
    nps_score: Option<f64>,
    ces_score: Option<f64>,
    hold_s: Option<f64>,
    after_work_s: Option<f64>,
    /// Set on the first conversation of a story that has a return.
    return_conversation_id: Option<String>,
    return_gap_s: Option<f64>,
    /// How the return opens: "restate" (same issue, same order), "vague" ("the issue from
    /// yesterday is still not fixed") or "new_topic" (another issue: not a reopen by topic).
    return_kind: Option<&'static str>,
    polite_unresolved: bool,
}

/// How a returning customer opens the return conversation.
#[derive(Clone, Copy, PartialEq)]
enum Return {
    Restate,
    Vague,
    NewTopic,
}

/// Fault rows planted on top of the stories.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PlantedFaults {
    pub null_conversation_id: u64,
    pub unparsable_timestamp: u64,
    pub unknown_role: u64,
    pub duplicate_message_id_conflict: u64,
    pub redeliveries: u64,
    pub conversation_without_messages: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub seed: u64,
    pub stories: usize,
    pub conversations: usize,
    pub message_rows: u64,
    pub conversation_rows: u64,
    pub faults: PlantedFaults,
}

impl std::fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "demo data: {} conversations ({} customers), {} message rows, {} conversation rows, seed {}",
            self.conversations, self.stories, self.message_rows, self.conversation_rows, self.seed
        )
    }
}

struct Gen {
    rng: ChaCha8Rng,
    tz: TimeZone,
    messages: Vec<DemoMessage>,
    truths: Vec<Truth>,
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Log-normal delay in microseconds with the given median (seconds) and spread.
fn lognormal_us(rng: &mut ChaCha8Rng, median_s: f64, sigma: f64) -> i64 {
    let u1: f64 = rng.random_range(1e-12..1.0);
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    // Whole seconds: exports carry second (or millisecond) precision.
    ((median_s * (sigma * z).exp()).round().max(1.0) as i64) * S
}

const INTENTS: [&str; 8] = [
    "order_status",
    "delivery_problem",
    "refund_return",
    "payment_billing",
    "cancellation",
    "account_access",
    "product_inquiry",
    "promo_voucher",
];

fn opening(intent: &str, lang: Lang, order: &str) -> String {
    let id = match intent {
        "order_status" => format!("kak pesanan aku {order} kok blm dikirim ya? udah 3 hari"),
        "delivery_problem" => format!("min paket {order} katanya udah sampai tp aku gak terima apa2"),
        "refund_return" => format!("kak aku mau retur barang {order}, ukurannya kekecilan. gimana caranya?"),
        "payment_billing" => "kak aku udah transfer tp status masih menunggu pembayaran, tolong dicek dong".to_string(),
        "cancellation" => format!("min tolong batalin pesanan {order} ya, salah pilih warna"),
        "account_access" => "kak akun aku gak bisa login, kode OTP nya gak masuk2".to_string(),
        "product_inquiry" => "kak sepatu yg hitam size 42 ready gak? bahannya apa ya".to_string(),
        _ => "min kode voucher GAJIAN50 kok gak bisa dipake ya".to_string(),
    };
    let en = match intent {
        "order_status" => format!("Hi, my order {order} still hasn't shipped after 3 days. Any update?"),
        "delivery_problem" => format!("Tracking says {order} was delivered but I never got it"),
        "refund_return" => format!("I'd like to return {order}, the size is wrong. How do I do that?"),
        "payment_billing" => "I paid by bank transfer but the order still says awaiting payment".to_string(),
        "cancellation" => format!("Please cancel order {order}, I picked the wrong colour"),
        "account_access" => "I can't log in to my account, the OTP code never arrives".to_string(),
        "product_inquiry" => "Is the black sneaker in size 42 in stock? What material is it?".to_string(),
        _ => "The voucher code GAJIAN50 doesn't work at checkout".to_string(),
    };
    let mixed = match intent {
        "order_status" => format!("kak order {order} status nya masih processing terus, kapan shipped ya?"),
        "delivery_problem" => format!("min tracking {order} bilang delivered tapi paketnya gak ada, please check"),
        "refund_return" => format!("kak mau refund aja buat {order}, barangnya defect"),
        "payment_billing" => "kak payment via VA udah success tapi order masih pending".to_string(),
        "cancellation" => format!("min please cancel order {order} ya, double order"),
        "account_access" => "kak aku ke-logout terus, login lagi error 'session expired'".to_string(),
        "product_inquiry" => "kak produk ini original kan? ada warranty nya gak".to_string(),
        _ => "min promo cashback nya kok gak masuk ke saldo aku ya".to_string(),
    };
    match lang {
        Lang::Id => id,
        Lang::En => en,
        Lang::Mixed => mixed,
    }
}

fn say(lang: Lang, id: &str, en: &str) -> String {
    if lang == Lang::En {
        en.to_string()
    } else {
        id.to_string()
    }
}

impl Gen {
    /// Agents work 08:00-21:00 WIB, Monday to Saturday; outside, a human reply waits until the
    /// next opening. Returns the earliest instant at or after `t` when agents are working.
    fn next_working(&self, t: i64) -> i64 {
        let mut t = t;
        for _ in 0..(8 * 24) {
            let dt = local_datetime(t, &self.tz).expect("valid time");
            let working = dt.weekday() != jiff::civil::Weekday::Sunday && (8..21).contains(&dt.hour());
            if working {
                return t;
            }
            // Jump to the next whole hour.
            let into_hour = (dt.minute() as i64 * 60 + dt.second() as i64) * S + dt.subsec_nanosecond() as i64 / 1000;
            t += HOUR - into_hour;
        }
        t
    }

    fn human_delay(&mut self, t: i64, channel: &str) -> i64 {
        let median_s = match channel {
            "email" => 2.0 * 3600.0,
            "live_chat" => 60.0,
            "instagram" => 600.0,
            _ => 180.0,
        };
        let start = self.next_working(t);
        start - t + lognormal_us(&mut self.rng, median_s, 0.9)
    }

    fn push(
        &mut self,
        conv: &str,
        customer: &str,
        channel: &'static str,
        t: i64,
        role: &'static str,
        text: Option<String>,
        agent: Option<&'static str>,
        auto: bool,
    ) {
        let n = self.messages.iter().rev().take_while(|m| m.conversation_id == conv).count() + 1;
        self.messages.push(DemoMessage {
            conversation_id: conv.to_string(),
            message_id: format!("wamid.{conv}.{n:03}"),
            sent_at_us: t,
            role_raw: role,
            text,
            customer_id: customer.to_string(),
            channel,
            agent_id: agent,
            is_auto_reply: auto,
        });
    }

    /// Generates one conversation starting at `t0`; returns its truth (resolved_at included).
    #[allow(clippy::too_many_arguments)]
    fn conversation(
        &mut self,
        conv: &str,
        customer: &str,
        channel: &'static str,
        t0: i64,
        flow: Flow,
        lang: Lang,
        intent: &'static str,
        order: &str,
        polite_unresolved: bool,
        returning: Option<Return>,
    ) -> Truth {
        let rng = &mut self.rng;
        // Real exports mix role spellings; the default config maps "user" and "operator".
        let customer_role: &'static str = if rng.random_bool(0.2) { "user" } else { "customer" };
        let agent_role: &'static str = if rng.random_bool(0.2) { "operator" } else { "agent" };
        let main_agent = *pick(rng, &AGENTS);
        let team = match channel {
            "email" => "cs_email",
            "instagram" => "social",
            _ => {
                if main_agent < "agt-e" {
                    "cs_chat_a"
                } else {
                    "cs_chat_b"
                }
            }
        };
        let mut truth = Truth {
            conversation_id: conv.to_string(),
            customer_id: customer.to_string(),
            channel,
            team,
            lang: match lang {
                Lang::Id => "id",
                Lang::En => "en",
                Lang::Mixed => "mixed",
            },
            intent,
            created_at_us: t0,
            polite_unresolved,
            ..Default::default()
        };
        let mut t = t0;
        let first_text = match returning {
            Some(Return::Vague) => say(
                lang,
                "kak ini aku lagi, masalah yg kemarin belum beres juga",
                "Hi again, the issue from before still isn't fixed",
            ),
            Some(Return::Restate) => {
                format!("{}{}", say(lang, "kak ini aku lagi. ", "Hi again. "), opening(intent, lang, order))
            }
            Some(Return::NewTopic) | None => opening(intent, lang, order),
        };
        self.push(conv, customer, channel, t, customer_role, Some(first_text), None, false);
        if self.rng.random_bool(0.15) {
            // A second message before any reply: still the same customer turn.
            t += lognormal_us(&mut self.rng, 20.0, 0.5);
            self.push(
                conv,
                customer,
                channel,
                t,
                customer_role,
                Some(say(lang, "halo? ada orang?", "hello? anyone there?")),
                None,
                false,
            );
        }
        let bot = matches!(flow, Flow::BotContained | Flow::Handover);
        let mut last_bot_t = None;
        if bot || channel == "email" {
            // Auto-acknowledgement: bot on chat channels, agent-side autoresponder on email.
            let ack_t = t0 + self.rng.random_range(1..4) * S;
            t = t.max(ack_t);
            let role = if bot { "bot" } else { "agent" };
            let text = say(
                lang,
                "Terima kasih telah menghubungi kami. Pesan kamu sudah kami terima 🙏",
                "Thanks for contacting us. We have received your message.",
            );
            self.push(conv, customer, channel, t, role, Some(text), None, true);
            truth.frt_total_s = Some((t - t0) as f64 / S as f64);
            if bot {
                last_bot_t = Some(t);
            }
        }
        if bot {
            truth.had_bot = true;
            t += self.rng.random_range(1..3) * S;
            self.push(
                conv,
                customer,
                channel,
                t,
                "bot",
                Some(say(
                    lang,
                    "Silakan pilih menu:\n1. Cek pesanan\n2. Pengembalian dana\n3. Bicara dengan agen",
                    "Please choose:\n1. Track order\n2. Refunds\n3. Talk to an agent",
                )),
                None,
                false,
            );
            last_bot_t = Some(t);
            t += lognormal_us(&mut self.rng, 25.0, 0.6);
            let digit = if flow == Flow::Handover { "3" } else { "1" };
            self.push(conv, customer, channel, t, customer_role, Some(digit.to_string()), None, false);
            t += self.rng.random_range(1..3) * S;
            if flow == Flow::BotContained {
                self.push(
                    conv,
                    customer,
                    channel,
                    t,
                    "bot",
                    Some(say(
                        lang,
                        "Pesanan kamu sedang dikemas dan akan dikirim besok. Nomor resi akan dikirim via WA.",
                        "Your order is being packed and ships tomorrow. Tracking will follow by message.",
                    )),
                    None,
                    false,
                );
                t += lognormal_us(&mut self.rng, 30.0, 0.6);
                self.push(
                    conv,
                    customer,
                    channel,
                    t,
                    customer_role,
                    Some(say(lang, "ok makasih kak", "ok thanks")),
                    None,
                    false,
                );
                t += self.rng.random_range(1..3) * S;
                self.push(
                    conv,
                    customer,
                    channel,
                    t,
                    "bot",
                    Some(say(lang, "Sama-sama! Senang bisa membantu 😊", "You're welcome! Glad to help.")),
                    None,
                    false,
                );
                truth.bot_contained = true;
            } else {
                self.push(
                    conv,
                    customer,
                    channel,
                    t,
                    "bot",
                    Some(say(
                        lang,
                        "Baik, mohon tunggu sebentar, kami sambungkan ke agen ya",
                        "Sure, please hold on while we connect you to an agent",
                    )),
                    None,
                    false,
                );
                last_bot_t = Some(t);
            }
        }
        if matches!(flow, Flow::Handover | Flow::HumanOnly) {
            let wait = self.human_delay(t, channel);
            t += wait;
            let greeting = say(
                lang,
                "Halo kak, dengan Ayu di sini. Mohon maaf menunggu, saya bantu cek ya",
                "Hi, this is your support agent. Sorry for the wait, let me check that for you",
            );
            self.push(conv, customer, channel, t, agent_role, Some(greeting), Some(main_agent), false);
            truth.frt_human_s = Some((t - t0) as f64 / S as f64);
            truth.frt_total_s.get_or_insert((t - t0) as f64 / S as f64);
            if flow == Flow::Handover {
                truth.handed_over = true;
                truth.frt_handover_s = Some((t - last_bot_t.expect("bot spoke")) as f64 / S as f64);
            }
            let mut agent_replies = 1;
            if matches!(intent, "refund_return" | "payment_billing") {
                // Money questions wait on the finance team: the slow intents of the demo.
                t += lognormal_us(&mut self.rng, 3.0 * 3600.0, 0.5);
                self.push(
                    conv,
                    customer,
                    channel,
                    t,
                    agent_role,
                    Some(say(lang, "Sudah kami cek dengan tim finance ya kak", "Finance has checked it now")),
                    Some(main_agent),
                    false,
                );
                agent_replies += 1;
            }
            let exchanges = self.rng.random_range(1..4);
            for _ in 0..exchanges {
                t += lognormal_us(&mut self.rng, 60.0, 0.8);
                self.push(
                    conv,
                    customer,
                    channel,
                    t,
                    customer_role,
                    Some(say(lang, "iya kak, tolong dibantu ya", "ok, please help")),
                    None,
                    false,
                );
                t += self.human_delay(t, channel);
                let reply = if polite_unresolved {
                    say(
                        lang,
                        "Baik kak, sudah kami teruskan ke tim terkait ya. Mohon ditunggu 1x24 jam 🙏",
                        "Thank you for your patience! I've forwarded this to the team, they'll get back to you.",
                    )
                } else {
                    say(
                        lang,
                        "Sudah kami proses ya kak, nomor resinya JX1234567890",
                        "Done, it's been processed. Your tracking number is JX1234567890",
                    )
                };
                self.push(conv, customer, channel, t, agent_role, Some(reply), Some(main_agent), false);
                agent_replies += 1;
            }
            if agent_replies >= 2 && self.rng.random_bool(0.15) {
                // A colleague adds one note: the main agent keeps the most replies.
                let other = AGENTS.iter().copied().find(|a| *a != main_agent).expect("several agents");
                t += self.rng.random_range(30..300) * S;
                self.push(
                    conv,
                    customer,
                    channel,
                    t,
                    agent_role,
                    Some(say(
                        lang,
                        "Saya bantu tambahkan ya kak, sudah kami cek di gudang",
                        "Adding a note: I checked with the warehouse",
                    )),
                    Some(other),
                    false,
                );
            }
            truth.primary_agent_id = Some(main_agent);
            if self.rng.random_bool(0.6) {
                t += lognormal_us(&mut self.rng, 40.0, 0.6);
                self.push(
                    conv,
                    customer,
                    channel,
                    t,
                    customer_role,
                    Some(say(lang, "oke makasih kak 🙏", "great, thanks")),
                    None,
                    false,
                );
                if self.rng.random_bool(0.8) {
                    t += self.rng.random_range(10..120) * S;
                    self.push(
                        conv,
                        customer,
                        channel,
                        t,
                        agent_role,
                        Some(say(
                            lang,
                            "Sama-sama kak, ada lagi yang bisa dibantu? 😊",
                            "You're welcome! Anything else I can help with?",
                        )),
                        Some(main_agent),
                        false,
                    );
                }
            }
            if self.rng.random_bool(0.3) {
                truth.hold_s = Some(self.rng.random_range(0..300) as f64);
                truth.after_work_s = Some(self.rng.random_range(10..120) as f64);
            }
        }
        if flow == Flow::Unanswered {
            truth.status = "open";
            return truth;
        }
        t += self.rng.random_range(5..60) * S;
        self.push(conv, customer, channel, t, "system", Some("conversation closed".into()), None, false);
        truth.status = if self.rng.random_bool(0.7) { "resolved" } else { "closed" };
        truth.resolved_at_us = Some(t);
        // Surveys: unresolved and slow conversations score lower, and, as in real surveys, unhappy
        // customers answer more often (about 55% of 1-3 star raters, 35% of the rest): the
        // surveyed low-CSAT share overstates the real one, which `train risk` must correct.
        let slow = truth.frt_human_s.is_some_and(|s| s > 1800.0);
        let base: f64 = if polite_unresolved || matches!(returning, Some(Return::Restate | Return::Vague)) {
            2.2
        } else if slow {
            3.4
        } else {
            4.4
        };
        let score = (base + self.rng.random_range(-1.2..1.2)).round().clamp(1.0, 5.0);
        truth.latent_csat_score = Some(score);
        if self.rng.random_bool(if score <= 3.0 { 0.55 } else { 0.35 }) {
            truth.csat_score = Some(score);
            if self.rng.random_bool(0.5) {
                truth.nps_score =
                    Some(((score - 1.0) * 2.5 + self.rng.random_range(-1.0..1.0)).round().clamp(0.0, 10.0));
            }
            if self.rng.random_bool(0.3) {
                truth.ces_score = Some((8.0 - score * 1.3 + self.rng.random_range(-0.5..0.5)).round().clamp(1.0, 7.0));
            }
        }
        truth
    }
}

/// Writes demo transcripts to `out`: messages/ (Hive-partitioned by day, plus a legacy export
/// with string timestamps), conversations.parquet, ground_truth.parquet and ground_truth.json.
pub fn generate(out: &Path, conversations: usize, seed: u64) -> Result<DemoSummary> {
    let tz = TimeZone::get("Asia/Jakarta").map_err(Error::format("the Asia/Jakarta time zone"))?;
    let start = date(2026, 11, 2)
        .at(0, 0, 0, 0)
        .to_zoned(tz.clone())
        .map_err(Error::format("the demo start time"))?
        .timestamp()
        .as_microsecond();
    let mut g = Gen { rng: ChaCha8Rng::seed_from_u64(seed), tz, messages: Vec::new(), truths: Vec::new() };
    let mut stories = 0usize;
    while g.truths.len() < conversations {
        stories += 1;
        let customer = format!("62812{:08}", g.rng.random_range(0..100_000_000u64));
        let channel: &'static str = pick::<&str>(
            &mut g.rng,
            &[
                "whatsapp",
                "whatsapp",
                "whatsapp",
                "whatsapp",
                "whatsapp",
                "whatsapp",
                "instagram",
                "instagram",
                "live_chat",
                "email",
            ],
        );
        let lang = *pick(&mut g.rng, &[Lang::Id, Lang::Id, Lang::Id, Lang::En, Lang::Mixed]);
        let intent = *pick(&mut g.rng, &INTENTS);
        // Customers write mostly 07:00-23:00 WIB.
        let day = g.rng.random_range(0..PERIOD_DAYS);
        let hour = *pick(&mut g.rng, &[7, 8, 9, 10, 10, 11, 11, 12, 13, 14, 15, 16, 19, 19, 20, 20, 21, 22, 23, 2]);
        let t0 = start + day * 24 * HOUR + hour * HOUR + g.rng.random_range(0..3600) * S;
        let flow = if channel == "whatsapp" || channel == "instagram" {
            *pick(&mut g.rng, &[Flow::BotContained, Flow::Handover, Flow::Handover, Flow::Handover, Flow::Unanswered])
        } else {
            *pick(&mut g.rng, &[Flow::HumanOnly, Flow::HumanOnly, Flow::HumanOnly, Flow::Unanswered])
        };
        let polite_unresolved = matches!(flow, Flow::Handover | Flow::HumanOnly) && g.rng.random_bool(0.2);
        let conv_id = format!("conv-{seed}-{:05}", g.truths.len() + 1);
        let order = new_order(&mut g.rng);
        let mut truth =
            g.conversation(&conv_id, &customer, channel, t0, flow, lang, intent, &order, polite_unresolved, None);
        truth.flow = flow_name(flow);
        // Returns: polite-but-unresolved chats come back inside the window about the same issue
        // (restated with the order number, or vaguely); some others come back inside it about a
        // new issue, and some later, beyond it.
        let kind = match (truth.resolved_at_us.is_some(), polite_unresolved) {
            (false, _) => None,
            (true, true) => Some(if g.rng.random_bool(0.5) { Return::Restate } else { Return::Vague }),
            (true, false) if g.rng.random_bool(0.06) => Some(Return::NewTopic),
            (true, false) if g.rng.random_bool(0.12) => Some(Return::Restate),
            _ => None,
        };
        if let (Some(kind), Some(resolved)) = (kind, truth.resolved_at_us) {
            let within = polite_unresolved || kind == Return::NewTopic;
            let gap_s = if within {
                g.rng.random_range(2 * 3600..40 * 3600)
            } else {
                g.rng.random_range(50 * 3600..160 * 3600)
            };
            let gap = gap_s * S;
            let ret_id = format!("conv-{seed}-{:05}", g.truths.len() + 2);
            let ret_flow =
                if channel == "whatsapp" || channel == "instagram" { Flow::Handover } else { Flow::HumanOnly };
            let (ret_intent, ret_order) = if kind == Return::NewTopic {
                let others: Vec<&'static str> = INTENTS.iter().copied().filter(|i| *i != intent).collect();
                (*pick(&mut g.rng, &others), new_order(&mut g.rng))
            } else {
                (intent, order)
            };
            let mut ret = g.conversation(
                &ret_id,
                &customer,
                channel,
                resolved + gap,
                ret_flow,
                lang,
                ret_intent,
                &ret_order,
                false,
                Some(kind),
            );
            ret.flow = flow_name(ret_flow);
            truth.return_conversation_id = Some(ret_id);
            truth.return_gap_s = Some(gap as f64 / S as f64);
            truth.return_kind = Some(match kind {
                Return::Restate => "restate",
                Return::Vague => "vague",
                Return::NewTopic => "new_topic",
            });
            g.truths.push(truth);
            g.truths.push(ret);
        } else {
            g.truths.push(truth);
        }
    }
    write_demo(out, g, seed, stories)
}

fn new_order(rng: &mut ChaCha8Rng) -> String {
    format!("INV/2026/{}", rng.random_range(10_000_000..99_999_999))
}

fn flow_name(flow: Flow) -> &'static str {
    match flow {
        Flow::BotContained => "bot_contained",
        Flow::Handover => "handover",
        Flow::HumanOnly => "human_only",
        Flow::Unanswered => "unanswered",
    }
}

fn messages_batch(rows: &[&DemoMessage], faults: &[FaultRow]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("conversation_id", DataType::Utf8, true),
        Field::new("message_id", DataType::Utf8, true),
        Field::new("sent_at", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), true),
        Field::new("sender_role", DataType::Utf8, true),
        Field::new("text", DataType::Utf8, true),
        Field::new("customer_id", DataType::Utf8, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("agent_id", DataType::Utf8, true),
        Field::new("is_auto_reply", DataType::Boolean, true),
    ]));
    let all: Vec<FaultRow> = rows.iter().map(|m| FaultRow::from_message(m)).chain(faults.iter().cloned()).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(all.iter().map(|r| r.conversation_id.clone()).collect::<StringArray>()),
        Arc::new(all.iter().map(|r| Some(r.message_id.clone())).collect::<StringArray>()),
        Arc::new(
            all.iter().map(|r| Some(r.sent_at_us / 1000)).collect::<TimestampMillisecondArray>().with_timezone("UTC"),
        ),
        Arc::new(all.iter().map(|r| Some(r.role_raw.clone())).collect::<StringArray>()),
        Arc::new(all.iter().map(|r| r.text.clone()).collect::<StringArray>()),
        Arc::new(all.iter().map(|r| Some(r.customer_id.clone())).collect::<StringArray>()),
        Arc::new(all.iter().map(|r| Some(r.channel.clone())).collect::<StringArray>()),
        Arc::new(all.iter().map(|r| r.agent_id.clone()).collect::<StringArray>()),
        Arc::new(all.iter().map(|r| Some(r.is_auto_reply)).collect::<BooleanArray>()),
    ];
    RecordBatch::try_new(schema, cols).map_err(|e| Error::from(convoqa_io::error::Error::arrow("demo batch")(e)))
}

/// A message row as written, faults included.
#[derive(Clone)]
struct FaultRow {
    conversation_id: Option<String>,
    message_id: String,
    sent_at_us: i64,
    sent_at_text: String,
    role_raw: String,
    text: Option<String>,
    customer_id: String,
    channel: String,
    agent_id: Option<String>,
    is_auto_reply: bool,
}

impl FaultRow {
    fn from_message(m: &DemoMessage) -> FaultRow {
        FaultRow {
            conversation_id: Some(m.conversation_id.clone()),
            message_id: m.message_id.clone(),
            sent_at_us: m.sent_at_us,
            sent_at_text: String::new(),
            role_raw: m.role_raw.to_string(),
            text: m.text.clone(),
            customer_id: m.customer_id.clone(),
            channel: m.channel.to_string(),
            agent_id: m.agent_id.map(str::to_string),
            is_auto_reply: m.is_auto_reply,
        }
    }
}

fn write_demo(out: &Path, mut g: Gen, seed: u64, stories: usize) -> Result<DemoSummary> {
    let msg_dir = out.join("messages");
    if msg_dir.exists() {
        std::fs::remove_dir_all(&msg_dir).map_err(|e| Error::write(&msg_dir, e))?;
    }
    std::fs::create_dir_all(&msg_dir).map_err(|e| Error::write(&msg_dir, e))?;
    g.messages.sort_by(|a, b| (a.sent_at_us, &a.message_id).cmp(&(b.sent_at_us, &b.message_id)));

    let mut faults = PlantedFaults::default();
    let n = g.messages.len();
    // Legacy export with ISO strings (WIB offsets), a few of them unparsable.
    let legacy_count = (n / 50).max(3);
    let legacy_idx: Vec<usize> =
        (0..legacy_count).map(|k| (k * 53 + 11) % n).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut legacy: Vec<FaultRow> = Vec::new();
    for &i in &legacy_idx {
        let mut r = FaultRow::from_message(&g.messages[i]);
        let z = jiff::Timestamp::from_microsecond(r.sent_at_us).expect("valid").to_zoned(g.tz.clone());
        r.sent_at_text = z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        legacy.push(r);
    }
    for k in 0..(n / 500).max(1) {
        let mut r = legacy[k % legacy.len()].clone();
        r.message_id = format!("legacy-bad-{k}");
        r.sent_at_text = ["kemarin 10.00", "31/11/2026 25:00", "n/a"][k % 3].to_string();
        legacy.push(r);
        faults.unparsable_timestamp += 1;
    }
    let legacy_set: std::collections::HashSet<usize> = legacy_idx.iter().copied().collect();
    // Row-level faults, planted on copies of real rows.
    // Copies come from day-partition rows only, so the original is always read first.
    let not_legacy =
        |i: usize| (i..i + n).map(|j| j % n).find(|j| !legacy_set.contains(j)).expect("most rows are not legacy");
    let mut retries: Vec<FaultRow> = Vec::new();
    for k in 0..(n / 150).max(2) {
        let mut r = FaultRow::from_message(&g.messages[not_legacy((k * 97) % n)]);
        retries.push(r.clone()); // webhook redelivery: identical
        faults.redeliveries += 1;
        if k % 2 == 0 {
            r.text = Some("(edited) ".to_string() + r.text.as_deref().unwrap_or(""));
            retries.push(r); // same id, different content
            faults.duplicate_message_id_conflict += 1;
        }
    }
    for k in 0..(n / 400).max(1) {
        let mut r = FaultRow::from_message(&g.messages[not_legacy((k * 131 + 7) % n)]);
        r.conversation_id = None;
        r.message_id = format!("orphan-{k}");
        retries.push(r);
        faults.null_conversation_id += 1;
        let mut r = FaultRow::from_message(&g.messages[not_legacy((k * 211 + 3) % n)]);
        r.role_raw = "supervisor_whisper".into();
        r.message_id = format!("whisper-{k}");
        retries.push(r);
        faults.unknown_role += 1;
    }

    // Day partitions (UTC dates) with the remaining messages.
    let mut by_day: std::collections::BTreeMap<String, Vec<&DemoMessage>> = std::collections::BTreeMap::new();
    for (i, m) in g.messages.iter().enumerate() {
        if legacy_set.contains(&i) {
            continue;
        }
        let d = jiff::Timestamp::from_microsecond(m.sent_at_us).expect("valid").to_zoned(TimeZone::UTC).date();
        by_day.entry(d.to_string()).or_default().push(m);
    }
    let mut message_rows = 0u64;
    let last_day = by_day.keys().last().cloned().unwrap_or_default();
    for (day, rows) in &by_day {
        let dir = msg_dir.join(format!("date={day}"));
        std::fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
        let batch = messages_batch(rows, &[])?;
        message_rows += batch.num_rows() as u64;
        write_parquet(&dir.join("part-0.parquet"), &batch)?;
        if *day == last_day {
            let batch = messages_batch(&[], &retries)?;
            message_rows += batch.num_rows() as u64;
            write_parquet(&dir.join("part-9-retries.parquet"), &batch)?;
        }
    }
    let legacy_dir = msg_dir.join("legacy_export");
    std::fs::create_dir_all(&legacy_dir).map_err(|e| Error::write(&legacy_dir, e))?;
    let mut t = TableBuilder::new();
    t.str("conversation_id", legacy.iter().map(|r| r.conversation_id.as_deref()));
    t.str("message_id", legacy.iter().map(|r| Some(&r.message_id)));
    t.str("sent_at", legacy.iter().map(|r| Some(&r.sent_at_text)));
    t.str("sender_role", legacy.iter().map(|r| Some(&r.role_raw)));
    t.str("text", legacy.iter().map(|r| r.text.as_deref()));
    t.str("customer_id", legacy.iter().map(|r| Some(&r.customer_id)));
    t.str("channel", legacy.iter().map(|r| Some(&r.channel)));
    t.str("agent_id", legacy.iter().map(|r| r.agent_id.as_deref()));
    t.bool("is_auto_reply", legacy.iter().map(|r| Some(r.is_auto_reply)));
    let batch = t.finish()?;
    message_rows += batch.num_rows() as u64;
    write_parquet(&legacy_dir.join("export-2026-11.parquet"), &batch)?;

    // Conversations table, plus rows for conversations that have no messages.
    let mut conv_rows: Vec<Truth> = g.truths.clone();
    for k in 0..(g.truths.len() / 100).max(1) {
        let mut ghost = g.truths[k].clone();
        ghost.conversation_id = format!("ghost-{k}");
        conv_rows.push(ghost);
        faults.conversation_without_messages += 1;
    }
    let mut c = TableBuilder::new();
    c.str("conversation_id", conv_rows.iter().map(|r| Some(&r.conversation_id)));
    c.str("customer_id", conv_rows.iter().map(|r| Some(&r.customer_id)));
    c.str("channel", conv_rows.iter().map(|r| Some(r.channel)));
    c.str("status", conv_rows.iter().map(|r| Some(r.status)));
    c.ts("created_at", conv_rows.iter().map(|r| Some(r.created_at_us)));
    c.ts("resolved_at", conv_rows.iter().map(|r| r.resolved_at_us));
    c.f64("csat_score", conv_rows.iter().map(|r| r.csat_score));
    c.f64("nps_score", conv_rows.iter().map(|r| r.nps_score));
    c.f64("ces_score", conv_rows.iter().map(|r| r.ces_score));
    c.f64("hold_seconds", conv_rows.iter().map(|r| r.hold_s));
    c.f64("after_work_seconds", conv_rows.iter().map(|r| r.after_work_s));
    c.str("team", conv_rows.iter().map(|r| Some(r.team)));
    let conv_batch = c.finish()?;
    write_parquet(&out.join("conversations.parquet"), &conv_batch)?;

    let tr = &g.truths;
    let mut gt = TableBuilder::new();
    gt.str("conversation_id", tr.iter().map(|r| Some(&r.conversation_id)));
    gt.str("customer_id", tr.iter().map(|r| Some(&r.customer_id)));
    gt.str("channel", tr.iter().map(|r| Some(r.channel)));
    gt.str("team", tr.iter().map(|r| Some(r.team)));
    gt.str("flow", tr.iter().map(|r| Some(r.flow)));
    gt.str("lang", tr.iter().map(|r| Some(r.lang)));
    gt.str("intent", tr.iter().map(|r| Some(r.intent)));
    gt.str("status", tr.iter().map(|r| Some(r.status)));
    gt.ts("created_at", tr.iter().map(|r| Some(r.created_at_us)));
    gt.ts("resolved_at", tr.iter().map(|r| r.resolved_at_us));
    gt.f64("frt_total_s", tr.iter().map(|r| r.frt_total_s));
    gt.f64("frt_human_s", tr.iter().map(|r| r.frt_human_s));
    gt.f64("frt_handover_s", tr.iter().map(|r| r.frt_handover_s));
    gt.bool("had_bot", tr.iter().map(|r| Some(r.had_bot)));
    gt.bool("handed_over", tr.iter().map(|r| Some(r.handed_over)));
    gt.bool("bot_contained", tr.iter().map(|r| Some(r.bot_contained)));
    gt.str("primary_agent_id", tr.iter().map(|r| r.primary_agent_id));
    gt.f64("csat_score", tr.iter().map(|r| r.csat_score));
    gt.f64("latent_csat_score", tr.iter().map(|r| r.latent_csat_score));
    gt.str("return_conversation_id", tr.iter().map(|r| r.return_conversation_id.as_deref()));
    gt.f64("return_gap_s", tr.iter().map(|r| r.return_gap_s));
    gt.str("return_kind", tr.iter().map(|r| r.return_kind));
    gt.bool("polite_unresolved", tr.iter().map(|r| Some(r.polite_unresolved)));
    write_parquet(&out.join("ground_truth.parquet"), &gt.finish()?)?;

    let summary = DemoSummary {
        seed,
        stories,
        conversations: g.truths.len(),
        message_rows,
        conversation_rows: conv_batch.num_rows() as u64,
        faults,
    };
    let json = serde_json::to_vec_pretty(&summary).map_err(Error::format("demo summary to JSON"))?;
    let path = out.join("ground_truth.json");
    std::fs::write(&path, json).map_err(|e| Error::write(&path, e))?;
    Ok(summary)
}
