//! Working-day calendar (工作日历) for statutory deadlines: objections
//! answered within N working days (工作日), filing within 20 working days of
//! approval, registration accepted within 3 working days.
//!
//! A [`WorkCalendar`] knows, per configured year, the public holidays
//! (法定节假日, the 放假日期 of the State Council's annual notice) and the
//! adjusted working days (调休上班日: a Saturday or Sunday that is worked to
//! bridge a holiday). Monday to Friday are working days unless listed as
//! holidays; Saturday and Sunday are rest days unless listed as adjusted
//! working days. A year without a configured schedule still works (weekends
//! only); [`WorkCalendar::covers`] tells callers to warn about it.
//!
//! # Deadline convention
//!
//! Deadlines are in Beijing time (UTC+8, no daylight saving). "Within `n`
//! working days from `start`" does not count the start day (期间开始的当日不计算在内):
//! day 1 is the first working day after the start date, and the deadline is
//! the **end** of day `n`, i.e. its last millisecond, 23:59:59.999 Beijing
//! time ([`WorkCalendar::deadline_ms`]). An act at any moment of that day is
//! in time; a request is overdue when `now_ms > due_ms`. Because only working
//! days are counted, a deadline never falls on a rest day.
//!
//! Pure: no IO and no clock; instants are `i64` milliseconds since the Unix
//! epoch, passed in by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
/// Beijing time is UTC+8 all year.
pub const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

/// Number of Mondays to Fridays among the day numbers `[-3, x)`; day −3
/// (1969-12-29) is a Monday. Differences give weekday counts of any range.
fn weekdays_before(x: i64) -> i64 {
    let u = x + 3;
    5 * u.div_euclid(7) + u.rem_euclid(7).min(5)
}

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Saturday or Sunday.
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }

    /// The Chinese name as the State Council notices write it (周一 … 周日).
    pub fn zh(self) -> &'static str {
        match self {
            Weekday::Monday => "周一",
            Weekday::Tuesday => "周二",
            Weekday::Wednesday => "周三",
            Weekday::Thursday => "周四",
            Weekday::Friday => "周五",
            Weekday::Saturday => "周六",
            Weekday::Sunday => "周日",
        }
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A calendar date (proleptic Gregorian), held as days since 1970-01-01.
/// Text form `YYYY-MM-DD`; ordered chronologically.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    days: i64,
}

impl Date {
    /// A validated date; the year has four digits (1000–9999).
    pub fn from_ymd(year: i32, month: u32, day: u32) -> DomainResult<Self> {
        if !(1000..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return Err(DomainError::invalid(
                "date",
                format!("{year:04}-{month:02}-{day:02} is not a calendar date"),
            ));
        }
        Ok(Self::ymd(year, month, day))
    }

    /// Unchecked: for the built-in schedule, whose dates a test checks.
    const fn ymd(year: i32, month: u32, day: u32) -> Self {
        Self {
            days: days_from_civil(year as i64, month, day),
        }
    }

    /// The Beijing-time (UTC+8) calendar date of an instant in milliseconds
    /// since the Unix epoch. 2026-01-04T16:30Z is 2026-01-05 in Beijing.
    pub fn from_epoch_ms_beijing(ms: i64) -> Self {
        Self {
            days: ms.saturating_add(BEIJING_OFFSET_MS).div_euclid(DAY_MS),
        }
    }

    /// The first millisecond of this day in Beijing time (00:00:00.000 +08:00).
    pub fn start_epoch_ms_beijing(self) -> i64 {
        self.days
            .saturating_mul(DAY_MS)
            .saturating_sub(BEIJING_OFFSET_MS)
    }

    /// The last millisecond of this day in Beijing time (23:59:59.999 +08:00).
    pub fn end_epoch_ms_beijing(self) -> i64 {
        self.days
            .saturating_add(1)
            .saturating_mul(DAY_MS)
            .saturating_sub(BEIJING_OFFSET_MS + 1)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        self.days
    }

    pub fn year(self) -> i32 {
        let (y, _, _) = civil_from_days(self.days);
        // Real dates are far inside i32; the year saturates beyond it.
        i32::try_from(y).unwrap_or(if y < 0 { i32::MIN } else { i32::MAX })
    }

    pub fn month(self) -> u32 {
        civil_from_days(self.days).1
    }

    pub fn day(self) -> u32 {
        civil_from_days(self.days).2
    }

    pub fn weekday(self) -> Weekday {
        match (self.days + 3).rem_euclid(7) {
            0 => Weekday::Monday,
            1 => Weekday::Tuesday,
            2 => Weekday::Wednesday,
            3 => Weekday::Thursday,
            4 => Weekday::Friday,
            5 => Weekday::Saturday,
            _ => Weekday::Sunday,
        }
    }

    /// The date `n` days later (earlier if negative).
    pub fn add_days(self, n: i64) -> Self {
        Self {
            days: self.days.saturating_add(n),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.days);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Date {
    type Err = DomainError;
    /// Strictly `YYYY-MM-DD`.
    fn from_str(s: &str) -> DomainResult<Self> {
        let t = s.trim();
        let b = t.as_bytes();
        let bad = || {
            DomainError::invalid(
                "date",
                format!("{t:?} is not a date of the form YYYY-MM-DD"),
            )
        };
        if b.len() != 10
            || b[4] != b'-'
            || b[7] != b'-'
            || !b
                .iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        {
            return Err(bad());
        }
        let (y, m, d) = (
            t[..4].parse().map_err(|_| bad())?,
            t[5..7].parse().map_err(|_| bad())?,
            t[8..].parse().map_err(|_| bad())?,
        );
        Self::from_ymd(y, m, d)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse()
            .map_err(|e: DomainError| <D::Error as serde::de::Error>::custom(e.message))
    }
}

impl schemars::JsonSchema for Date {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date", "description": "Calendar date YYYY-MM-DD" })
    }
    fn inline_schema() -> bool {
        true
    }
}

/// One item of a State Council notice: a holiday (e.g. 春节) with its days
/// off and the adjusted working days that go with it.
///
/// In TOML: `{ name = "春节", from = "2026-02-15", to = "2026-02-23",
/// workdays = ["2026-02-14", "2026-02-28"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The holiday's name, e.g. 春节, 国庆节.
    pub name: String,
    /// First day off.
    pub from: Date,
    /// Last day off, inclusive; absent for a single day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Date>,
    /// Adjusted working days (调休上班日): Saturdays or Sundays worked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workdays: Vec<Date>,
}

impl Holiday {
    /// The last day off.
    pub fn last(&self) -> Date {
        self.to.unwrap_or(self.from)
    }
}

/// The holiday schedule of one year, as published each autumn by the General
/// Office of the State Council (国务院办公厅关于…年部分节假日安排的通知).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearSchedule {
    pub year: i32,
    /// Where the schedule comes from, e.g. the notice's title and date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// Calendar configuration: the `[calendar]` section of the server
/// configuration.
///
/// ```toml
/// [calendar]
/// builtin = true          # start from the built-in 2025–2026 schedule
///
/// [[calendar.years]]      # add a year, or replace a built-in one
/// year = 2026
/// holidays = [
///   { name = "元旦", from = "2026-01-01", to = "2026-01-03", workdays = ["2026-01-04"] },
///   { name = "清明节", from = "2026-04-04", to = "2026-04-06" },
/// ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// Include the built-in schedules ([`builtin_schedules`]). A year listed
    /// in `years` replaces the built-in schedule of that year.
    #[serde(default = "yes")]
    pub builtin: bool,
    #[serde(default)]
    pub years: Vec<YearSchedule>,
}

fn yes() -> bool {
    true
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            builtin: true,
            years: Vec::new(),
        }
    }
}

type Ymd = (i32, u32, u32);

/// (name, first day off, last day off, adjusted working days)
type BuiltinHoliday = (&'static str, Ymd, Ymd, &'static [Ymd]);

/// The built-in schedules: (year, notice, holidays).
const BUILTIN: &[(i32, &str, &[BuiltinHoliday])] = &[
    (
        2025,
        "国务院办公厅关于2025年部分节假日安排的通知（2024年11月12日）",
        &[
            ("元旦", (2025, 1, 1), (2025, 1, 1), &[]),
            (
                "春节",
                (2025, 1, 28),
                (2025, 2, 4),
                &[(2025, 1, 26), (2025, 2, 8)],
            ),
            ("清明节", (2025, 4, 4), (2025, 4, 6), &[]),
            ("劳动节", (2025, 5, 1), (2025, 5, 5), &[(2025, 4, 27)]),
            ("端午节", (2025, 5, 31), (2025, 6, 2), &[]),
            (
                "国庆节、中秋节",
                (2025, 10, 1),
                (2025, 10, 8),
                &[(2025, 9, 28), (2025, 10, 11)],
            ),
        ],
    ),
    (
        2026,
        "国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）",
        &[
            ("元旦", (2026, 1, 1), (2026, 1, 3), &[(2026, 1, 4)]),
            (
                "春节",
                (2026, 2, 15),
                (2026, 2, 23),
                &[(2026, 2, 14), (2026, 2, 28)],
            ),
            ("清明节", (2026, 4, 4), (2026, 4, 6), &[]),
            ("劳动节", (2026, 5, 1), (2026, 5, 5), &[(2026, 5, 9)]),
            ("端午节", (2026, 6, 19), (2026, 6, 21), &[]),
            ("中秋节", (2026, 9, 25), (2026, 9, 27), &[]),
            (
                "国庆节",
                (2026, 10, 1),
                (2026, 10, 7),
                &[(2026, 9, 20), (2026, 10, 10)],
            ),
        ],
    ),
];

/// The built-in schedules: the State Council notices for 2025 and 2026.
pub fn builtin_schedules() -> Vec<YearSchedule> {
    let date = |(y, m, d): Ymd| Date::ymd(y, m, d);
    BUILTIN
        .iter()
        .map(|(year, notice, holidays)| YearSchedule {
            year: *year,
            notice: Some((*notice).to_string()),
            holidays: holidays
                .iter()
                .map(|(name, from, to, workdays)| Holiday {
                    name: (*name).to_string(),
                    from: date(*from),
                    to: (from != to).then(|| date(*to)),
                    workdays: workdays.iter().map(|w| date(*w)).collect(),
                })
                .collect(),
        })
        .collect()
}

/// What kind of day a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Monday to Friday, not a holiday.
    Weekday,
    /// Saturday or Sunday, not an adjusted working day.
    Weekend,
    /// A day off of a public holiday (法定节假日), whatever its weekday.
    Holiday,
    /// A Saturday or Sunday worked (调休上班日).
    AdjustedWorkday,
}

impl DayKind {
    pub fn is_working(self) -> bool {
        matches!(self, DayKind::Weekday | DayKind::AdjustedWorkday)
    }
}

/// A deadline as shown to users: when it is due and how far away it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Deadline {
    /// The last millisecond of the deadline day, 23:59:59.999 Beijing time.
    pub due_ms: i64,
    /// Working days from today (Beijing) to the deadline day: 0 means due
    /// today, 3 means "3 working days left", −2 means "overdue by 2 working
    /// days". After a Friday deadline the weekend counts 0 (but is overdue).
    pub remaining_working_days: i64,
    /// `now_ms > due_ms`.
    pub overdue: bool,
}

/// Working days of Beijing time: weekends, public holidays and adjusted
/// working days of the configured years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    schedules: Vec<YearSchedule>,
    years: BTreeSet<i32>,
    /// Every day off listed, with its holiday's name.
    holidays: BTreeMap<i64, String>,
    /// Adjusted working days, with their holiday's name.
    workdays: BTreeMap<i64, String>,
    /// Holidays falling on Monday to Friday: the ones that change counts.
    weekday_holidays: BTreeSet<i64>,
}

/// The widest holiday accepted (the longest ever was 10 days, Spring Festival 2020).
const MAX_HOLIDAY_DAYS: i64 = 31;

fn invalid(message: String) -> DomainError {
    DomainError::invalid("calendar", message)
}

impl Default for WorkCalendar {
    /// The built-in schedule.
    fn default() -> Self {
        Self::builtin()
    }
}

impl WorkCalendar {
    /// Build from configuration, validating it: rejects a year configured
    /// twice, a year without holidays, a holiday ending before it starts or
    /// longer than 31 days or without any weekday, a date far outside its
    /// year, an adjusted working day on a weekday, and a date listed twice or
    /// as both holiday and working day.
    pub fn new(config: &CalendarConfig) -> DomainResult<Self> {
        let mut seen = BTreeSet::new();
        for y in &config.years {
            if !seen.insert(y.year) {
                return Err(invalid(format!(
                    "the {} holiday schedule is configured twice",
                    y.year
                )));
            }
        }
        let mut schedules: Vec<YearSchedule> = if config.builtin {
            builtin_schedules()
                .into_iter()
                .filter(|b| !seen.contains(&b.year))
                .collect()
        } else {
            Vec::new()
        };
        schedules.extend(config.years.iter().cloned());
        schedules.sort_by_key(|s| s.year);
        Self::from_schedules(schedules)
    }

    /// The built-in 2025–2026 schedule ([`builtin_schedules`]).
    pub fn builtin() -> Self {
        // The built-in data is checked by a test; should it ever fail to
        // validate, weekends still count correctly.
        Self::new(&CalendarConfig::default()).unwrap_or_else(|_| Self::weekends_only())
    }

    /// No holidays at all: Monday to Friday are working days.
    pub fn weekends_only() -> Self {
        Self {
            schedules: Vec::new(),
            years: BTreeSet::new(),
            holidays: BTreeMap::new(),
            workdays: BTreeMap::new(),
            weekday_holidays: BTreeSet::new(),
        }
    }

    fn from_schedules(schedules: Vec<YearSchedule>) -> DomainResult<Self> {
        let mut cal = Self::weekends_only();
        for s in &schedules {
            let year = s.year;
            if !(1000..=9999).contains(&year) {
                return Err(invalid(format!("{year} is not a four-digit year")));
            }
            if !cal.years.insert(year) {
                return Err(invalid(format!(
                    "the {year} holiday schedule is configured twice"
                )));
            }
            if s.holidays.is_empty() {
                return Err(invalid(format!(
                    "the {year} holiday schedule lists no holidays"
                )));
            }
            // A notice may reach into the neighbouring months: the 2019
            // New Year holiday began on 2018-12-30, with 2018-12-29 worked.
            let window = (Date::ymd(year - 1, 12, 1), Date::ymd(year + 1, 1, 31));
            for h in &s.holidays {
                let name = h.name.trim();
                if name.is_empty() || name.chars().count() > 50 {
                    return Err(invalid(format!(
                        "a holiday of {year} needs a name of 1 to 50 characters"
                    )));
                }
                let at = format!("{year} {name}");
                let (from, to) = (h.from, h.last());
                for d in [from, to].iter().chain(&h.workdays) {
                    if *d < window.0 || *d > window.1 {
                        return Err(invalid(format!(
                            "{at}: {d} lies outside the {year} schedule \
                             (December {} to January {})",
                            year - 1,
                            year + 1
                        )));
                    }
                }
                if to < from {
                    return Err(invalid(format!(
                        "{at}: the holiday ends ({to}) before it starts ({from})"
                    )));
                }
                if to.days - from.days >= MAX_HOLIDAY_DAYS {
                    return Err(invalid(format!(
                        "{at}: {from} to {to} is longer than {MAX_HOLIDAY_DAYS} days"
                    )));
                }
                if weekdays_before(to.days + 1) == weekdays_before(from.days) {
                    return Err(invalid(format!(
                        "{at}: {from} to {to} holds no weekday, so it changes no \
                         working day; check the dates"
                    )));
                }
                for days in from.days..=to.days {
                    let d = Date { days };
                    if let Some(other) = cal.holidays.insert(days, name.to_string()) {
                        return Err(invalid(format!(
                            "{at}: {d} is already listed as a holiday ({other})"
                        )));
                    }
                    if !d.weekday().is_weekend() {
                        cal.weekday_holidays.insert(days);
                    }
                }
                for &w in &h.workdays {
                    if !w.weekday().is_weekend() {
                        return Err(invalid(format!(
                            "{at}: {w} is a {}; an adjusted working day (调休上班日) \
                             must be a Saturday or Sunday",
                            w.weekday()
                        )));
                    }
                    if let Some(other) = cal.workdays.insert(w.days, name.to_string()) {
                        return Err(invalid(format!(
                            "{at}: {w} is already listed as an adjusted working day ({other})"
                        )));
                    }
                }
            }
        }
        if let Some((days, holiday)) = cal
            .workdays
            .iter()
            .find_map(|(d, _)| cal.holidays.get(d).map(|h| (*d, h)))
        {
            let work = cal.workdays.get(&days).map_or("", String::as_str);
            return Err(invalid(format!(
                "{} is listed both as a holiday ({holiday}) and as an adjusted \
                 working day ({work})",
                Date { days }
            )));
        }
        cal.schedules = schedules;
        Ok(cal)
    }

    /// Whether a holiday schedule is configured for `year`. Outside covered
    /// years only weekends are rest days: callers should warn, e.g. "holiday
    /// schedule for 2028 not configured".
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    /// The years with a configured schedule, ascending.
    pub fn covered_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// The years from `a` to `b` (either order, inclusive) without a
    /// configured schedule: a deadline computed across them may be early.
    pub fn uncovered_years(&self, a: Date, b: Date) -> Vec<i32> {
        let (lo, hi) = (a.min(b).year(), a.max(b).year());
        (lo..=hi).filter(|y| !self.covers(*y)).collect()
    }

    /// The schedules in force, by year.
    pub fn schedules(&self) -> &[YearSchedule] {
        &self.schedules
    }

    pub fn day_kind(&self, date: Date) -> DayKind {
        if self.holidays.contains_key(&date.days) {
            DayKind::Holiday
        } else if self.workdays.contains_key(&date.days) {
            DayKind::AdjustedWorkday
        } else if date.weekday().is_weekend() {
            DayKind::Weekend
        } else {
            DayKind::Weekday
        }
    }

    /// The holiday a day off or an adjusted working day belongs to.
    pub fn holiday_name(&self, date: Date) -> Option<&str> {
        self.holidays
            .get(&date.days)
            .or_else(|| self.workdays.get(&date.days))
            .map(String::as_str)
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        self.day_kind(date).is_working()
    }

    /// Working days in `(a, b]`, for `a <= b`.
    fn count(&self, a: i64, b: i64) -> i64 {
        if a >= b {
            // Also keeps `BTreeSet::range` from panicking on `a + 1 > b`.
            return 0;
        }
        let range = a.saturating_add(1)..=b;
        let weekdays = weekdays_before(b.saturating_add(1)) - weekdays_before(a.saturating_add(1));
        let off = self.weekday_holidays.range(range.clone()).count();
        let on = self.workdays.range(range).count();
        weekdays - off as i64 + on as i64
    }

    /// The deadline date of "within `n` working days from `start`": the
    /// `n`-th working day after `start` (the start day itself never counts,
    /// whether or not it is a working day). `n = 0` gives `start`.
    ///
    /// 20 working days from Tuesday 2026-02-10 is Monday 2026-03-16 (the
    /// Spring Festival is skipped, its two Saturdays worked are counted).
    pub fn add_working_days(&self, start: Date, n: u32) -> Date {
        let n = i64::from(n);
        if n == 0 {
            return start;
        }
        let a = start.days;
        // count(a, a + span) is non-decreasing in span: gallop, then bisect
        // for the first day where it reaches n.
        let (mut lo, mut hi) = (0_i64, n);
        while self.count(a, a.saturating_add(hi)) < n {
            lo = hi;
            hi = hi.saturating_mul(2);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.count(a, a.saturating_add(mid)) >= n {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        start.add_days(hi)
    }

    /// Signed working-day distance: the working days in `(a, b]` when
    /// `a <= b`, and minus those in `(b, a]` otherwise, so
    /// `between(a, b) == -between(b, a)` and
    /// `between(s, add_working_days(s, n)) == n`.
    pub fn working_days_between(&self, a: Date, b: Date) -> i64 {
        if a <= b {
            self.count(a.days, b.days)
        } else {
            -self.count(b.days, a.days)
        }
    }

    /// The deadline instant of "within `n` working days" counted from the
    /// instant `start_ms`: the last millisecond (23:59:59.999 Beijing time)
    /// of the `n`-th working day after the Beijing date of `start_ms`.
    pub fn deadline_ms(&self, start_ms: i64, n: u32) -> i64 {
        self.add_working_days(Date::from_epoch_ms_beijing(start_ms), n)
            .end_epoch_ms_beijing()
    }

    /// The display status at `now_ms` of a deadline due at `due_ms` (usually
    /// from [`deadline_ms`](Self::deadline_ms), stored when the clock started).
    pub fn deadline_status(&self, due_ms: i64, now_ms: i64) -> Deadline {
        Deadline {
            due_ms,
            remaining_working_days: self.working_days_between(
                Date::from_epoch_ms_beijing(now_ms),
                Date::from_epoch_ms_beijing(due_ms),
            ),
            overdue: now_ms > due_ms,
        }
    }
}

impl<'de> Deserialize<'de> for WorkCalendar {
    /// Deserialises a [`CalendarConfig`] and validates it.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let config = CalendarConfig::deserialize(d)?;
        Self::new(&config).map_err(|e| <D::Error as serde::de::Error>::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().expect("test date")
    }

    fn cal() -> WorkCalendar {
        WorkCalendar::new(&CalendarConfig::default()).expect("built-in schedule validates")
    }

    /// Epoch ms of a UTC date and time.
    fn utc_ms(date: &str, h: i64, m: i64, s: i64, ms: i64) -> i64 {
        d(date).days * DAY_MS + ((h * 60 + m) * 60 + s) * 1000 + ms
    }

    #[test]
    fn dates() {
        assert_eq!(d("1970-01-01").days_since_epoch(), 0);
        assert_eq!(d("1970-01-01").weekday(), Weekday::Thursday);
        assert_eq!(d("2026-01-01").weekday(), Weekday::Thursday);
        assert_eq!(d("2024-02-29").to_string(), "2024-02-29");
        assert_eq!(d(" 2026-02-10 ").add_days(34), d("2026-03-16"));
        let x = d("2026-03-16");
        assert_eq!((x.year(), x.month(), x.day()), (2026, 3, 16));
        assert_eq!(Date::from_ymd(2026, 3, 16), Ok(x));
        for bad in [
            "2026-02-29",
            "2025-13-01",
            "2026-1-1",
            "20260101",
            "2026-01-0a",
            "0999-01-01",
            "+026-01-01",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&x).expect("json"), "\"2026-03-16\"");
        let back: Date = serde_json::from_str("\"2026-03-16\"").expect("json");
        assert_eq!(back, x);
        assert!(serde_json::from_str::<Date>("\"2026-02-30\"").is_err());
        // The civil conversions agree with the weekday-count shortcut.
        for days in -800..800 {
            let (y, m, dd) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, dd), days);
            let wd = weekdays_before(days + 1) - weekdays_before(days);
            assert_eq!(wd == 1, !Date { days }.weekday().is_weekend());
        }
    }

    #[test]
    fn beijing_time() {
        // 2026-01-04T16:30Z is 00:30 on Monday 2026-01-05 in Beijing.
        let t = utc_ms("2026-01-04", 16, 30, 0, 0);
        assert_eq!(Date::from_epoch_ms_beijing(t), d("2026-01-05"));
        // One millisecond before Beijing midnight it is still Sunday
        // 2026-01-04, an adjusted working day.
        let t0 = utc_ms("2026-01-04", 15, 59, 59, 999);
        assert_eq!(Date::from_epoch_ms_beijing(t0), d("2026-01-04"));
        assert!(cal().is_working_day(d("2026-01-04")));
        assert_eq!(d("2026-01-05").start_epoch_ms_beijing(), t0 + 1);
        assert_eq!(d("2026-01-04").end_epoch_ms_beijing(), t0);
        // Before the epoch.
        assert_eq!(
            Date::from_epoch_ms_beijing(-BEIJING_OFFSET_MS - 1),
            d("1969-12-31")
        );
        // Extreme instants do not panic.
        let _ = Date::from_epoch_ms_beijing(i64::MAX).year();
        let _ = Date::from_epoch_ms_beijing(i64::MIN).end_epoch_ms_beijing();
        let _ = cal().deadline_ms(i64::MAX, u32::MAX);
    }

    /// (date, kind, holiday name) for every listed day of 2026.
    const LISTED_2026: &[(&str, DayKind, &str)] = {
        use DayKind::{AdjustedWorkday as W, Holiday as H};
        &[
            ("2026-01-01", H, "元旦"),
            ("2026-01-02", H, "元旦"),
            ("2026-01-03", H, "元旦"),
            ("2026-01-04", W, "元旦"),
            ("2026-02-14", W, "春节"),
            ("2026-02-15", H, "春节"),
            ("2026-02-16", H, "春节"),
            ("2026-02-17", H, "春节"),
            ("2026-02-18", H, "春节"),
            ("2026-02-19", H, "春节"),
            ("2026-02-20", H, "春节"),
            ("2026-02-21", H, "春节"),
            ("2026-02-22", H, "春节"),
            ("2026-02-23", H, "春节"),
            ("2026-02-28", W, "春节"),
            ("2026-04-04", H, "清明节"),
            ("2026-04-05", H, "清明节"),
            ("2026-04-06", H, "清明节"),
            ("2026-05-01", H, "劳动节"),
            ("2026-05-02", H, "劳动节"),
            ("2026-05-03", H, "劳动节"),
            ("2026-05-04", H, "劳动节"),
            ("2026-05-05", H, "劳动节"),
            ("2026-05-09", W, "劳动节"),
            ("2026-06-19", H, "端午节"),
            ("2026-06-20", H, "端午节"),
            ("2026-06-21", H, "端午节"),
            ("2026-09-20", W, "国庆节"),
            ("2026-09-25", H, "中秋节"),
            ("2026-09-26", H, "中秋节"),
            ("2026-09-27", H, "中秋节"),
            ("2026-10-01", H, "国庆节"),
            ("2026-10-02", H, "国庆节"),
            ("2026-10-03", H, "国庆节"),
            ("2026-10-04", H, "国庆节"),
            ("2026-10-05", H, "国庆节"),
            ("2026-10-06", H, "国庆节"),
            ("2026-10-07", H, "国庆节"),
            ("2026-10-10", W, "国庆节"),
        ]
    };

    #[test]
    fn every_day_of_2026() {
        let cal = cal();
        assert!(cal.covers(2025) && cal.covers(2026) && !cal.covers(2027));
        for (date, kind, name) in LISTED_2026 {
            let x = d(date);
            assert_eq!(cal.day_kind(x), *kind, "{date}");
            assert_eq!(cal.holiday_name(x), Some(*name), "{date}");
            // The notice's weekdays: adjusted working days are weekend days.
            if *kind == DayKind::AdjustedWorkday {
                assert!(x.weekday().is_weekend(), "{date}");
            }
        }
        // Every other day of the year follows the week.
        let (first, last) = (d("2026-01-01"), d("2026-12-31"));
        let mut working = 0;
        for days in first.days..=last.days {
            let x = Date { days };
            let listed = LISTED_2026.iter().any(|(s, _, _)| d(s) == x);
            if !listed {
                assert_eq!(cal.holiday_name(x), None, "{x}");
                assert_eq!(cal.is_working_day(x), !x.weekday().is_weekend(), "{x}");
            }
            working += i64::from(cal.is_working_day(x));
        }
        // 261 weekdays (52 weeks and a Thursday), 19 of them holidays
        // (元旦 2, 春节 6, 清明 1, 劳动节 3, 端午 1, 中秋 1, 国庆 5), plus 6
        // adjusted working days: 248.
        assert_eq!(working, 248);
        assert_eq!(cal.working_days_between(first.add_days(-1), last), 248);
        // 2025: 261 weekdays (52 weeks and a Wednesday), 18 holidays on
        // weekdays (元旦 1, 春节 6, 清明 1, 劳动节 3, 端午 1, 国庆中秋 6),
        // 5 adjusted working days: 248.
        assert_eq!(
            cal.working_days_between(d("2024-12-31"), d("2025-12-31")),
            248
        );
        assert_eq!(cal.holiday_name(d("2025-10-08")), Some("国庆节、中秋节"));
        assert_eq!(cal.day_kind(d("2025-01-26")), DayKind::AdjustedWorkday);
    }

    #[test]
    fn adding_working_days() {
        let cal = cal();
        let cases = [
            // Approval on Tuesday 2026-02-10, filing within 20 working days:
            //  1-3  Feb 11, 12, 13 (Wed-Fri)
            //  4    Feb 14 (Sat, worked for the Spring Festival)
            //       Feb 15-23 Spring Festival off
            //  5-8  Feb 24-27 (Tue-Fri)
            //  9    Feb 28 (Sat, worked)      Mar 1 is a Sunday
            // 10-14 Mar 2-6, 15-19 Mar 9-13, 20 Mon Mar 16.
            ("2026-02-10", 20, "2026-03-16"),
            // National Day, from Friday 2026-09-18, 15 working days:
            //  1    Sep 20 (Sun, worked)
            //  2-5  Sep 21-24 (Mon-Thu)       Sep 25-27 Mid-Autumn off
            //  6-8  Sep 28-30                 Oct 1-7 National Day off
            //  9-10 Oct 8, 9 (Thu, Fri)
            // 11    Oct 10 (Sat, worked)      Oct 11 is a Sunday
            // 12-15 Oct 12-15: Thursday Oct 15.
            ("2026-09-18", 15, "2026-10-15"),
            // Year end into 2027, which has no schedule: Thursday
            // 2026-12-24, 10 working days: Dec 25, 28, 29, 30, 31 (5),
            // Fri 2027-01-01 counts as a plain Friday (6), Jan 4-7 (10).
            ("2026-12-24", 10, "2027-01-07"),
            // Year end 2025 into 2026: Jan 1-3 off, Sun Jan 4 worked (1),
            // Jan 5 (2), Jan 6 (3).
            ("2025-12-31", 3, "2026-01-06"),
            // Registration accepted within 3 working days, filed on a
            // Friday: Mon, Tue, Wed.
            ("2026-03-13", 3, "2026-03-18"),
            // Started on a holiday: the first working day after it.
            ("2026-02-15", 1, "2026-02-24"),
            // Started on a Saturday worked: the start day never counts.
            ("2026-02-14", 1, "2026-02-24"),
            ("2026-02-10", 0, "2026-02-10"),
        ];
        for (start, n, due) in cases {
            assert_eq!(cal.add_working_days(d(start), n), d(due), "{start} + {n}");
            assert_eq!(cal.working_days_between(d(start), d(due)), i64::from(n));
        }
        assert_eq!(
            cal.uncovered_years(d("2026-12-24"), d("2027-01-07")),
            vec![2027]
        );
        assert!(
            cal.uncovered_years(d("2026-02-10"), d("2025-03-16"))
                .is_empty()
        );
        // Against a day-by-day walk, from every day of 2025-2026.
        for days in d("2024-12-25").days..=d("2026-12-31").days {
            let start = Date { days };
            let mut walk = start;
            for n in 0..=45 {
                if n > 0 {
                    walk = walk.add_days(1);
                    while !cal.is_working_day(walk) {
                        walk = walk.add_days(1);
                    }
                }
                assert_eq!(cal.add_working_days(start, n), walk, "{start} + {n}");
            }
        }
        // Large counts stay fast and exact.
        let weekends = WorkCalendar::weekends_only();
        let far = weekends.add_working_days(d("2026-01-05"), 5_000);
        assert_eq!(far, d("2026-01-05").add_days(7_000));
    }

    #[test]
    fn working_days_between() {
        let cal = cal();
        let cases = [
            ("2026-03-13", "2026-03-16", 1), // Friday to Monday
            ("2026-03-16", "2026-03-16", 0),
            ("2026-03-14", "2026-03-15", 0), // Saturday to Sunday
            ("2026-02-13", "2026-02-24", 2), // Sat Feb 14 worked, Tue Feb 24
            ("2026-02-14", "2026-02-23", 0), // the whole Spring Festival
            ("2026-09-30", "2026-10-08", 1),
            ("2026-02-10", "2026-03-16", 20),
            ("2025-12-31", "2026-01-05", 2),
        ];
        for (a, b, n) in cases {
            assert_eq!(cal.working_days_between(d(a), d(b)), n, "{a} → {b}");
            assert_eq!(cal.working_days_between(d(b), d(a)), -n, "{b} → {a}");
        }
    }

    #[test]
    fn deadlines() {
        let cal = cal();
        // Approved at 2026-02-10 09:00 Beijing; 20 working days: the end of
        // Monday 2026-03-16, Beijing time.
        let approved = utc_ms("2026-02-10", 1, 0, 0, 0);
        let due = cal.deadline_ms(approved, 20);
        assert_eq!(due, utc_ms("2026-03-16", 15, 59, 59, 999));
        assert_eq!(Date::from_epoch_ms_beijing(due), d("2026-03-16"));
        // An instant late on 2026-01-04 UTC is already Monday 2026-01-05 in
        // Beijing, so day 1 is Tuesday 2026-01-06.
        let late = utc_ms("2026-01-04", 16, 30, 0, 0);
        assert_eq!(
            cal.deadline_ms(late, 1),
            utc_ms("2026-01-06", 15, 59, 59, 999)
        );
        // Status at various moments.
        let at = |date: &str, h: i64| utc_ms(date, h, 0, 0, 0);
        let status = |now| cal.deadline_status(due, now);
        assert_eq!(
            status(at("2026-03-13", 2)),
            Deadline {
                due_ms: due,
                remaining_working_days: 1,
                overdue: false
            }
        );
        assert_eq!(status(at("2026-03-16", 15)).remaining_working_days, 0);
        assert!(!status(due).overdue);
        assert!(status(due + 1).overdue);
        assert_eq!(status(due + 1).remaining_working_days, -1);
        assert_eq!(
            status(at("2026-03-19", 2)),
            Deadline {
                due_ms: due,
                remaining_working_days: -3,
                overdue: true
            }
        );
        assert_eq!(status(at("2026-02-11", 2)).remaining_working_days, 19);
        let json = serde_json::to_value(status(due + 1)).expect("json");
        assert_eq!(json["overdue"], true);
    }

    fn rejected(json: &str) -> String {
        let config: CalendarConfig = serde_json::from_str(json).expect("well-formed config");
        match WorkCalendar::new(&config) {
            Ok(_) => panic!("accepted: {json}"),
            Err(e) => {
                assert_eq!(e.code, crate::ErrorCode::Validation);
                assert_eq!(e.field.as_deref(), Some("calendar"));
                e.message
            }
        }
    }

    #[test]
    fn invalid_configurations_are_rejected() {
        let cases = [
            (
                r#"{"years":[{"year":2026,"holidays":[{"name":"元旦","from":"2026-01-01","workdays":["2026-01-05"]}]}]}"#,
                "2026-01-05 is a Monday; an adjusted working day (调休上班日) must be a Saturday or Sunday",
            ),
            (
                r#"{"builtin":false,"years":[{"year":2026,"holidays":[{"name":"春节","from":"2026-02-14","to":"2026-02-23","workdays":["2026-02-14"]}]}]}"#,
                "2026-02-14 is listed both as a holiday (春节) and as an adjusted working day (春节)",
            ),
            (
                r#"{"years":[{"year":2026,"holidays":[{"name":"春节","from":"2026-02-23","to":"2026-02-15"}]}]}"#,
                "2026 春节: the holiday ends (2026-02-15) before it starts (2026-02-23)",
            ),
            (
                r#"{"years":[{"year":2027,"holidays":[{"name":"元旦","from":"2027-01-01"}]},{"year":2027,"holidays":[{"name":"元旦","from":"2027-01-01"}]}]}"#,
                "the 2027 holiday schedule is configured twice",
            ),
            (
                r#"{"years":[{"year":2027}]}"#,
                "the 2027 holiday schedule lists no holidays",
            ),
            (
                r#"{"years":[{"year":2027,"holidays":[{"name":"春节","from":"2026-02-15","to":"2026-02-23"}]}]}"#,
                "2027 春节: 2026-02-15 lies outside the 2027 schedule (December 2026 to January 2028)",
            ),
            (
                r#"{"years":[{"year":2027,"holidays":[{"name":"春节","from":"2027-02-01","to":"2027-03-15"}]}]}"#,
                "2027 春节: 2027-02-01 to 2027-03-15 is longer than 31 days",
            ),
            (
                r#"{"years":[{"year":2026,"holidays":[{"name":"清明节","from":"2026-04-04","to":"2026-04-05"}]}]}"#,
                "2026 清明节: 2026-04-04 to 2026-04-05 holds no weekday",
            ),
            (
                r#"{"years":[{"year":2026,"holidays":[{"name":"劳动节","from":"2026-05-01","to":"2026-05-05"},{"name":"五一","from":"2026-05-05"}]}]}"#,
                "2026 五一: 2026-05-05 is already listed as a holiday (劳动节)",
            ),
            (
                r#"{"years":[{"year":2026,"holidays":[{"name":" ","from":"2026-05-01"}]}]}"#,
                "a holiday of 2026 needs a name",
            ),
            (
                // An adjusted working day listed twice.
                r#"{"years":[{"year":2027,"holidays":[{"name":"元旦","from":"2027-01-01","workdays":["2026-12-26","2026-12-26"]}]}]}"#,
                "2027 元旦: 2026-12-26 is already listed as an adjusted working day (元旦)",
            ),
        ];
        for (json, message) in cases {
            let got = rejected(json);
            assert!(got.contains(message), "{got:?} should contain {message:?}");
        }
        // Malformed data is refused by deserialisation.
        for json in [
            r#"{"years":[{"year":2026,"holidays":[{"name":"x","from":"2026-02-30"}]}]}"#,
            r#"{"years":[{"year":2026,"holidays":[{"name":"x","from":"2026-02-03","until":"2026-02-04"}]}]}"#,
            r#"{"yearz":[]}"#,
        ] {
            assert!(
                serde_json::from_str::<CalendarConfig>(json).is_err(),
                "{json}"
            );
        }
        let err = serde_json::from_str::<WorkCalendar>(
            r#"{"years":[{"year":2026,"holidays":[{"name":"元旦","from":"2026-01-01","workdays":["2026-01-05"]}]}]}"#,
        )
        .expect_err("weekday workday");
        assert!(
            err.to_string().contains("must be a Saturday or Sunday"),
            "{err}"
        );
    }

    #[test]
    fn configuration() {
        // The built-in data validates and has both years.
        let builtin = cal();
        assert_eq!(builtin, WorkCalendar::builtin());
        assert_eq!(
            builtin.covered_years().collect::<Vec<_>>(),
            vec![2025, 2026]
        );
        // A configured year is added; the same year replaces the built-in one.
        let json = r#"{"years":[
            {"year":2027,"notice":"test","holidays":[{"name":"元旦","from":"2027-01-01"}]},
            {"year":2026,"holidays":[{"name":"元旦","from":"2026-01-01"}]}
        ]}"#;
        let cal: WorkCalendar = serde_json::from_str(json).expect("config");
        assert!(cal.covers(2025) && cal.covers(2026) && cal.covers(2027));
        assert_eq!(cal.day_kind(d("2027-01-01")), DayKind::Holiday);
        assert_eq!(cal.day_kind(d("2026-02-16")), DayKind::Weekday);
        assert_eq!(cal.day_kind(d("2025-02-03")), DayKind::Holiday);
        assert_eq!(cal.schedules().len(), 3);
        // Without the built-in data.
        let none: WorkCalendar = serde_json::from_str(r#"{"builtin":false}"#).expect("config");
        assert_eq!(none, WorkCalendar::weekends_only());
        assert!(!none.covers(2026));
        assert!(none.is_working_day(d("2026-02-16")));
        // The built-in schedules round-trip through serde.
        let config = CalendarConfig {
            builtin: false,
            years: builtin_schedules(),
        };
        let text = serde_json::to_string(&config).expect("json");
        let back: CalendarConfig = serde_json::from_str(&text).expect("json");
        assert_eq!(back, config);
        assert_eq!(WorkCalendar::new(&back), Ok(builtin));
    }
}
