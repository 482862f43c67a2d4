//! Business-hours calendars: a weekly schedule in a time zone plus holidays, and the number of
//! seconds of an interval that fall inside business hours (frt_human_bh_s, resolution_bh_s).

use std::collections::{BTreeMap, HashSet};

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::timefmt::parse_time_zone;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessHoursConfig {
    /// Off by default: frt_human_bh_s and resolution_bh_s are then null.
    pub enabled: bool,
    pub default: ScheduleConfig,
    /// Per-channel schedules; a team schedule wins over a channel schedule.
    pub channel: BTreeMap<String, ScheduleConfig>,
    pub team: BTreeMap<String, ScheduleConfig>,
}

/// Built-in holiday calendars, opt-in by name in `calendars = [...]`.
const BUILT_IN_CALENDARS: &[(&str, &str)] = &[("indonesia", include_str!("../../../data/calendars/indonesia.toml"))];

/// One schedule as written in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    pub time_zone: String,
    /// Names of built-in holiday calendars, e.g. ["indonesia"] (public holidays and cuti bersama).
    pub calendars: Vec<String>,
    /// Extra closed dates, "YYYY-MM-DD".
    pub holidays: Vec<String>,
    pub mon: Vec<String>,
    pub tue: Vec<String>,
    pub wed: Vec<String>,
    pub thu: Vec<String>,
    pub fri: Vec<String>,
    pub sat: Vec<String>,
    pub sun: Vec<String>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        let office = || vec!["09:00-17:00".to_string()];
        ScheduleConfig {
            time_zone: "UTC".into(),
            calendars: vec![],
            holidays: vec![],
            mon: office(),
            tue: office(),
            wed: office(),
            thu: office(),
            fri: office(),
            sat: vec![],
            sun: vec![],
        }
    }
}

/// A parsed schedule. Intervals are [open, close) in local time, per weekday (Monday = 0).
#[derive(Debug, Clone)]
pub struct Schedule {
    time_zone: TimeZone,
    weekly: [Vec<(Time, Time)>; 7],
    closed_dates: HashSet<Date>,
}

/// All schedules of a config: the default and per-channel / per-team overrides.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    default: Schedule,
    by_channel: BTreeMap<String, Schedule>,
    by_team: BTreeMap<String, Schedule>,
}

#[derive(Debug, Deserialize)]
struct CalendarFile {
    holiday: Vec<HolidayEntry>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // name and kind document the data file; only the date is used
struct HolidayEntry {
    date: String,
    name: String,
    kind: String,
}

impl BusinessHours {
    pub fn from_config(cfg: &BusinessHoursConfig) -> Result<BusinessHours> {
        let default = Schedule::from_config("business_hours.default", &cfg.default)?;
        let parse_map = |prefix: &str, map: &BTreeMap<String, ScheduleConfig>| -> Result<BTreeMap<String, Schedule>> {
            map.iter().map(|(k, v)| Ok((k.clone(), Schedule::from_config(&format!("{prefix}.{k}"), v)?))).collect()
        };
        Ok(BusinessHours {
            default,
            by_channel: parse_map("business_hours.channel", &cfg.channel)?,
            by_team: parse_map("business_hours.team", &cfg.team)?,
        })
    }

    /// The schedule for a conversation: team first, then channel, then the default.
    pub fn schedule_for(&self, channel: Option<&str>, team: Option<&str>) -> &Schedule {
        team.and_then(|t| self.by_team.get(t))
            .or_else(|| channel.and_then(|c| self.by_channel.get(c)))
            .unwrap_or(&self.default)
    }
}

impl Schedule {
    pub fn from_config(key: &str, cfg: &ScheduleConfig) -> Result<Schedule> {
        let time_zone = parse_time_zone(&format!("{key}.time_zone"), &cfg.time_zone)?;
        let days = [&cfg.mon, &cfg.tue, &cfg.wed, &cfg.thu, &cfg.fri, &cfg.sat, &cfg.sun];
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut weekly: [Vec<(Time, Time)>; 7] = Default::default();
        for (i, day) in days.iter().enumerate() {
            for spec in day.iter() {
                let k = format!("{key}.{}", names[i]);
                weekly[i].push(parse_interval(&k, spec)?);
            }
            weekly[i].sort();
            for pair in weekly[i].windows(2) {
                if pair[1].0 < pair[0].1 {
                    return Err(Error::config(
                        format!("{key}.{}", names[i]),
                        "intervals overlap",
                        "list disjoint intervals such as [\"08:00-12:00\", \"13:00-17:00\"]",
                    ));
                }
            }
        }
        let mut closed_dates = HashSet::new();
        for name in &cfg.calendars {
            let text = BUILT_IN_CALENDARS.iter().find(|(n, _)| n == name).map(|(_, t)| *t).ok_or_else(|| {
                let known: Vec<_> = BUILT_IN_CALENDARS.iter().map(|(n, _)| *n).collect();
                Error::config(
                    format!("{key}.calendars"),
                    format!("unknown calendar {name:?}"),
                    format!("use one of {known:?} or list dates under `holidays`"),
                )
            })?;
            let file: CalendarFile =
                toml::from_str(text).map_err(Error::format(format!("built-in calendar {name}")))?;
            for h in file.holiday {
                let date: Date = h.date.parse().map_err(Error::format(format!("built-in calendar {name}")))?;
                closed_dates.insert(date);
            }
        }
        for d in &cfg.holidays {
            let date: Date = d.parse().map_err(|e| {
                Error::config(
                    format!("{key}.holidays"),
                    format!("{d:?} is not a date: {e}"),
                    "write dates as \"YYYY-MM-DD\"",
                )
            })?;
            closed_dates.insert(date);
        }
        Ok(Schedule { time_zone, weekly, closed_dates })
    }

    /// Seconds of [start_us, end_us) inside business hours. Zero when end <= start.
    pub fn business_seconds(&self, start_us: i64, end_us: i64) -> f64 {
        if end_us <= start_us {
            return 0.0;
        }
        let (Ok(start), Ok(end)) = (Timestamp::from_microsecond(start_us), Timestamp::from_microsecond(end_us)) else {
            return 0.0;
        };
        let first_day = start.to_zoned(self.time_zone.clone()).date();
        let last_day = end.to_zoned(self.time_zone.clone()).date();
        let mut total_us: i64 = 0;
        let mut day = first_day;
        while day <= last_day {
            if !self.closed_dates.contains(&day) {
                let weekday = day.weekday().to_monday_zero_offset() as usize;
                for (open, close) in &self.weekly[weekday] {
                    let (Ok(o), Ok(c)) = (
                        day.to_datetime(*open).to_zoned(self.time_zone.clone()),
                        day.to_datetime(*close).to_zoned(self.time_zone.clone()),
                    ) else {
                        continue;
                    };
                    let lo = o.timestamp().as_microsecond().max(start_us);
                    let hi = c.timestamp().as_microsecond().min(end_us);
                    if hi > lo {
                        total_us += hi - lo;
                    }
                }
            }
            day = match day.checked_add(1.day()) {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        total_us as f64 / 1e6
    }
}

fn parse_interval(key: &str, spec: &str) -> Result<(Time, Time)> {
    let bad = |why: String| {
        Error::config(
            key,
            format!("{spec:?}: {why}"),
            "write intervals as \"HH:MM-HH:MM\", e.g. \"08:00-17:00\"; \"24:00\" ends a day",
        )
    };
    let (a, b) = spec.split_once('-').ok_or_else(|| bad("no '-' between open and close".into()))?;
    let parse = |s: &str| -> Result<Time> {
        let s = s.trim();
        if s == "24:00" {
            return Ok(Time::MAX);
        }
        s.parse::<Time>().map_err(|e| bad(e.to_string()))
    };
    let (open, close) = (parse(a)?, parse(b)?);
    if close <= open {
        return Err(bad("close must be after open".into()));
    }
    Ok((open, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_microsecond()
    }

    fn jakarta_office() -> Schedule {
        let cfg = ScheduleConfig { time_zone: "Asia/Jakarta".into(), ..ScheduleConfig::default() };
        Schedule::from_config("t", &cfg).unwrap()
    }

    #[test]
    fn counts_only_open_seconds() {
        let s = jakarta_office();
        // Mon 2026-11-23 16:30 WIB (09:30Z) to Tue 09:30 WIB (02:30Z): 30 min Mon + 30 min Tue.
        assert_eq!(s.business_seconds(ts("2026-11-23T09:30:00Z"), ts("2026-11-24T02:30:00Z")), 3600.0);
    }

    #[test]
    fn weekend_and_holiday_are_closed() {
        let mut cfg = ScheduleConfig { time_zone: "Asia/Jakarta".into(), ..ScheduleConfig::default() };
        cfg.calendars = vec!["indonesia".into()];
        let s = Schedule::from_config("t", &cfg).unwrap();
        // Fri 2026-12-25 is Christmas; Sat/Sun closed; Mon 2026-12-28 09:00-10:00 WIB counts.
        assert_eq!(s.business_seconds(ts("2026-12-24T10:00:00Z"), ts("2026-12-28T03:00:00Z")), 3600.0);
    }

    #[test]
    fn bad_interval_names_key() {
        let cfg = ScheduleConfig { mon: vec!["9-17".into()], ..ScheduleConfig::default() };
        let err = Schedule::from_config("business_hours.default", &cfg).unwrap_err();
        assert!(err.to_string().contains("business_hours.default.mon"), "{err}");
    }

    #[test]
    fn indonesian_calendar_covers_2025_to_2027() {
        let file: CalendarFile = toml::from_str(BUILT_IN_CALENDARS[0].1).unwrap();
        for year in [2025, 2026, 2027] {
            let n = file.holiday.iter().filter(|h| h.date.starts_with(&year.to_string())).count();
            assert!(n >= 15, "{year}: only {n} dates");
        }
    }
}
