//! Deterministic synthetic raw service events that follow the input contract.
//!
//! A year (2024) of interactions per member, with bursts of repeat calls, 1-4 events
//! per interaction, messy description variants (case, spacing, abbreviations,
//! suffixes, nulls, empty strings) that the default rules map back, and a rare label
//! (about 1-2 %) driven by descriptions, channel, recency, call frequency and earlier
//! escalations. Each member draws from its own generator seeded by (seed, member), so
//! the output is the same bytes for the same seed and member count.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// SplitMix64: tiny, fast, and fixed forever (no dependency whose stream may change).
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.f64() * n as f64) as usize % n.max(1)
    }
    pub(crate) fn normal(&mut self) -> f64 {
        // Box-Muller; 1 - u keeps the log argument in (0, 1].
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// Canonical description, its spellings in raw data, its log-odds effect, its frequency.
const TOPICS: &[(&str, &[&str], f64, f64)] = &[
    (
        "claim status",
        &[
            "claim status",
            "claims status",
            "clm status",
            "status of claim",
        ],
        0.4,
        14.0,
    ),
    (
        "billing question",
        &[
            "billing question",
            "billing inquiry",
            "bill question",
            "billing q",
        ],
        0.2,
        12.0,
    ),
    (
        "prior authorization",
        &["prior authorization", "prior auth", "pa request", "preauth"],
        0.9,
        7.0,
    ),
    (
        "pharmacy benefits",
        &[
            "pharmacy benefits",
            "rx benefits",
            "pharm benefits",
            "pharmacy benefit",
        ],
        0.1,
        8.0,
    ),
    (
        "id card request",
        &[
            "id card request",
            "id card",
            "new id card",
            "replacement card",
        ],
        -0.8,
        7.0,
    ),
    (
        "provider search",
        &["provider search", "find a doctor", "provider lookup"],
        -0.5,
        7.0,
    ),
    (
        "eligibility check",
        &["eligibility check", "eligibility", "elig verification"],
        -0.2,
        6.0,
    ),
    (
        "complaint",
        &["complaint", "member complaint", "complaint call"],
        2.0,
        2.0,
    ),
    (
        "grievance",
        &["grievance", "formal grievance", "grievance filing"],
        2.4,
        1.0,
    ),
    (
        "appeal status",
        &["appeal status", "appeals status", "appeal follow up"],
        1.5,
        1.5,
    ),
    (
        "coverage denial",
        &[
            "coverage denial",
            "denied claim",
            "claim denial",
            "denial of coverage",
        ],
        1.8,
        2.0,
    ),
    (
        "premium payment",
        &["premium payment", "pay premium", "premium pmt"],
        -0.3,
        5.0,
    ),
    (
        "address change",
        &["address change", "change of address", "addr change"],
        -1.0,
        3.0,
    ),
    (
        "enrollment",
        &["enrollment", "enrolment", "new enrollment"],
        -0.4,
        3.0,
    ),
    (
        "explanation of benefits",
        &["explanation of benefits", "eob", "eob question", "e.o.b."],
        0.5,
        4.0,
    ),
    (
        "cost estimate",
        &["cost estimate", "cost estimator", "price estimate"],
        0.0,
        3.0,
    ),
    (
        "care management",
        &["care management", "care mgmt", "case management"],
        0.6,
        2.0,
    ),
    (
        "password reset",
        &["password reset", "reset password", "portal login"],
        -1.2,
        4.0,
    ),
    (
        "transportation",
        &["transportation", "ride request", "transport benefit"],
        0.3,
        1.5,
    ),
    ("dental benefits", &["dental benefits", "dental"], -0.6, 2.0),
    ("vision benefits", &["vision benefits", "vision"], -0.6, 1.5),
    ("referral", &["referral", "referral request"], 0.2, 2.0),
    ("general inquiry", &["general question"], 0.0, 1.0),
];

/// Spellings of each topic that the shipped rules (`rules/pydescription_rules.csv`) do
/// not cover: abbreviations, typos, reordered and free-text variants, as a new user's
/// export carries them. Some share no word with their topic ("eye exam" for vision
/// benefits, "wants to cancel" for enrollment): no text similarity can place those.
pub(crate) const UNMAPPED_VARIANTS: &[(&str, &[&str])] = &[
    (
        "claim status",
        &["clm stat", "claim inq", "status on claim"],
    ),
    (
        "billing question",
        &["bill inq", "billing issue", "question on bill"],
    ),
    (
        "prior authorization",
        &["auth request", "prior authorisation", "pa status"],
    ),
    (
        "pharmacy benefits",
        &["rx question", "pharmacy inq", "rx coverage"],
    ),
    (
        "id card request",
        &["lost id card", "card replacement", "need new card"],
    ),
    (
        "provider search",
        &["find provider", "doctor lookup", "provider directory"],
    ),
    (
        "eligibility check",
        &["elig check", "check eligibility", "verify eligibility"],
    ),
    (
        "complaint",
        &["mbr complaint", "complaints", "unhappy member"],
    ),
    (
        "grievance",
        &["grievence", "griev filing", "file grievance"],
    ),
    (
        "appeal status",
        &["appeal inq", "status of appeal", "appeals"],
    ),
    (
        "coverage denial",
        &["claim denied", "denied coverage", "coverage denied"],
    ),
    (
        "premium payment",
        &["premium pymt", "pay my premium", "premium bill"],
    ),
    (
        "address change",
        &["update address", "addr update", "new address"],
    ),
    (
        "enrollment",
        &["enroll", "open enrollment", "wants to cancel"],
    ),
    (
        "explanation of benefits",
        &[
            "benefits explanation",
            "expl of benefits",
            "explain my benefits",
        ],
    ),
    (
        "cost estimate",
        &["estimate cost", "cost of procedure", "procedure estimate"],
    ),
    (
        "care management",
        &["case mgmt", "care manager", "care coordination"],
    ),
    (
        "password reset",
        &["pwd reset", "portal password", "login issue"],
    ),
    (
        "transportation",
        &["transport request", "need a ride", "rides"],
    ),
    (
        "dental benefits",
        &["dntl benefits", "teeth cleaning", "dentist visit"],
    ),
    (
        "vision benefits",
        &["eye exam", "vis benefits", "glasses coverage"],
    ),
    (
        "referral",
        &["ref request", "specialist referral", "referal"],
    ),
    ("general inquiry", &["general q", "gen inquiry", "xfer"]),
];

const CHANNELS: &[(&str, f64, f64)] = &[
    ("phone", 0.35, 50.0),
    ("chat", 0.0, 20.0),
    ("web", -0.4, 12.0),
    ("email", -0.2, 8.0),
    ("ivr", -0.6, 10.0),
];
const REGIONS: &[&str] = &["northeast", "southeast", "midwest", "southwest", "west"];
const PLANS: &[(&str, f64)] = &[
    ("hmo", 0.0),
    ("ppo", -0.1),
    ("medicare advantage", 0.25),
    ("medicaid", 0.35),
];
const SUFFIXES: &[&str] = &[
    " - inbound",
    " (transfer)",
    " / callback",
    " - follow up",
    "...",
];

/// 2024-01-01T00:00:00Z in microseconds.
const YEAR_START_US: i64 = 1_704_067_200_000_000;
const DAY_US: i64 = 86_400_000_000;

/// One raw event row.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub member_id: String,
    pub interaction_id: String,
    pub event_ts_us: i64,
    pub description: Option<String>,
    pub escalated: i32,
    pub channel: Option<String>,
    pub region: Option<String>,
    pub plan_type: Option<String>,
}

fn messy(rng: &mut SplitMix64, spelling: &str) -> Option<String> {
    let r = rng.f64();
    if r < 0.03 {
        return None;
    }
    if r < 0.05 {
        return Some(rng.pick(&["", "  ", "--", "n/a?"]).to_string())
            .map(|s| if s == "n/a?" { "".to_string() } else { s });
    }
    let mut s = spelling.to_string();
    match rng.below(4) {
        0 => s = s.to_uppercase(),
        1 => {
            s = s
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                        None => String::new(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
        _ => {}
    }
    if rng.f64() < 0.2 {
        s = s.replace(' ', "  ");
    }
    if rng.f64() < 0.25 {
        let suffix: &&str = rng.pick(SUFFIXES);
        s.push_str(suffix);
    }
    if rng.f64() < 0.15 {
        s = format!("  {s} ");
    }
    Some(s)
}

/// How a generated data set departs from the demo: its base rate and its drift.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DemoSpec {
    /// Added to every interaction's log-odds: about -0.9 halves the demo's 1.4 %
    /// base rate, +0.8 doubles it.
    pub base_shift: f64,
    /// Drift over the year, in log-odds at the year's end (0 at its start, linear in
    /// between): the base rate moves, and so does the channel mix (a share of up to
    /// `|drift| / 4` of interactions moves to chat) and the effect of chat
    /// (`+drift / 2` at the year's end), so the test window differs from training.
    pub drift: f64,
    /// Share of events spelled with one of [`UNMAPPED_VARIANTS`] instead of a spelling
    /// the shipped rules cover (0 for the demo).
    pub unmapped: f64,
    /// Share of interactions moved to email whatever the year ([`crate::demo_shift`]).
    pub channel_shift: f64,
    /// A risk that peaks at a middle gap (0 for the demo): log-odds added when the
    /// member's previous interaction was [`GAP_PEAK_DAYS`] days ago, falling off as a
    /// Gaussian of sd [`GAP_PEAK_SD_DAYS`]. The encoder's gap bins (7-30 days) only
    /// average it and the log gap puts it on one slope; trees can cut around it.
    pub gap_peak: f64,
    /// A risk that peaks at a middle call count (0 for the demo): log-odds added when
    /// the member had [`CALLS_PEAK`] interactions in the previous 90 days, falling off
    /// as a Gaussian of sd [`CALLS_PEAK_SD`] calls. The 90-day count has no bins, only
    /// `ln(1 + calls)` on one slope, so a linear model cannot rise and fall with it;
    /// trees can.
    pub calls_peak: f64,
}

/// Where the planted gap risk peaks, and its width (days).
pub const GAP_PEAK_DAYS: f64 = 12.0;
pub const GAP_PEAK_SD_DAYS: f64 = 1.5;
/// Where the planted call-count risk peaks, and its width (interactions in 90 days).
pub const CALLS_PEAK: f64 = 6.0;
pub const CALLS_PEAK_SD: f64 = 1.5;

/// Generates the events of one member, in time order.
#[cfg(test)]
fn member_events(seed: u64, member: usize, next_interaction: &mut u64, out: &mut Vec<Event>) {
    member_events_with(seed, member, next_interaction, out, &DemoSpec::default())
}

/// [`member_events`] for a [`DemoSpec`]; the default spec gives the same bytes.
fn member_events_with(
    seed: u64,
    member: usize,
    next_interaction: &mut u64,
    out: &mut Vec<Event>,
    spec: &DemoSpec,
) {
    let mut rng = SplitMix64::new(seed ^ (member as u64).wrapping_mul(0xD134_2543_DE82_EF95));
    rng.next_u64();
    let member_id = format!("M{member:07}");
    let region = REGIONS[rng.below(REGIONS.len())];
    let plan = rng.below(PLANS.len());
    let activity = (-0.3 + 0.8 * rng.normal()).exp();
    let propensity = 0.5 * rng.normal();
    let n_episodes = {
        // Poisson(3 * activity) by inversion; bounded.
        let lambda = (3.0 * activity).min(40.0);
        let (mut k, mut p, l) = (0usize, 1.0, (-lambda).exp());
        loop {
            p *= rng.f64();
            if p <= l || k >= 80 {
                break k;
            }
            k += 1;
        }
    };
    let mut starts: Vec<i64> = (0..n_episodes)
        .map(|_| YEAR_START_US + (rng.f64() * 366.0 * DAY_US as f64) as i64)
        .collect();
    starts.sort_unstable();
    let topic_weights: Vec<f64> = TOPICS.iter().map(|t| t.3).collect();
    let channel_weights: Vec<f64> = CHANNELS.iter().map(|c| c.2).collect();
    let mut history: Vec<(i64, bool)> = Vec::new();
    for start in starts {
        let topic = rng.weighted(&topic_weights);
        let mut t = start;
        let mut repeats = 1;
        while repeats < 4 && rng.f64() < 0.45 {
            repeats += 1;
        }
        for _ in 0..repeats {
            let mut channel = rng.weighted(&channel_weights);
            channel =
                crate::demo_shift::shifted_channel(channel, spec.channel_shift, &mut || rng.f64());
            let year_frac = ((t - YEAR_START_US) as f64 / (366.0 * DAY_US as f64)).clamp(0.0, 1.5);
            if spec.drift != 0.0 && rng.f64() < spec.drift.abs() / 4.0 * year_frac {
                channel = 1; // chat
            }
            let second_topic = (rng.f64() < 0.3).then(|| rng.weighted(&topic_weights));
            let n_events = 1 + rng.below(4);
            // Label: log-odds from the description(s), channel, plan, recency, history.
            let calls_7d = history
                .iter()
                .filter(|(h, _)| t - h <= 7 * DAY_US && *h < t)
                .count();
            let prior_esc = history.iter().filter(|(h, e)| *e && *h < t).count();
            let days_since_prev = history.last().map(|(h, _)| (t - h) as f64 / DAY_US as f64);
            let mut z = -6.1 + propensity + spec.base_shift + spec.drift * year_frac;
            if channel == 1 {
                z += spec.drift / 2.0 * year_frac;
            }
            z += TOPICS[topic].2;
            if let Some(s) = second_topic {
                z += 0.5 * TOPICS[s].2;
            }
            z += CHANNELS[channel].1 + PLANS[plan].1;
            z += 0.45 * (calls_7d.min(4) as f64);
            z += 0.9 * (prior_esc.min(3) as f64);
            if days_since_prev.is_some_and(|d| d < 2.0) {
                z += 0.4;
            }
            if let Some(d) = days_since_prev.filter(|_| spec.gap_peak != 0.0) {
                z +=
                    spec.gap_peak * (-0.5 * ((d - GAP_PEAK_DAYS) / GAP_PEAK_SD_DAYS).powi(2)).exp();
            }
            if spec.calls_peak != 0.0 {
                let calls_90d = history
                    .iter()
                    .filter(|(h, _)| t - h <= 90 * DAY_US && *h < t)
                    .count() as f64;
                z += spec.calls_peak
                    * (-0.5 * ((calls_90d - CALLS_PEAK) / CALLS_PEAK_SD).powi(2)).exp();
            }
            z += 0.15 * (n_events as f64 - 1.0);
            let positive = rng.f64() < 1.0 / (1.0 + (-z).exp());
            let interaction_id = format!("I{:010}", *next_interaction);
            *next_interaction += 1;
            let mut et = t;
            for e in 0..n_events {
                let topic_here = match second_topic {
                    Some(s) if e % 2 == 1 => s,
                    _ => topic,
                };
                let spelling = if spec.unmapped > 0.0 && rng.f64() < spec.unmapped {
                    *rng.pick(UNMAPPED_VARIANTS[topic_here].1)
                } else {
                    *rng.pick(TOPICS[topic_here].1)
                };
                let ch = if rng.f64() < 0.15 {
                    CHANNELS[rng.weighted(&channel_weights)].0
                } else {
                    CHANNELS[channel].0
                };
                out.push(Event {
                    member_id: member_id.clone(),
                    interaction_id: interaction_id.clone(),
                    event_ts_us: et,
                    description: messy(&mut rng, spelling),
                    escalated: i32::from(positive && e + 1 == n_events),
                    channel: (rng.f64() >= 0.01).then(|| ch.to_string()),
                    region: Some(region.to_string()),
                    plan_type: Some(PLANS[plan].0.to_string()),
                });
                et += (60.0 + rng.exp(240.0)) as i64 * 1_000_000;
            }
            history.push((t, positive));
            t += (0.2 * DAY_US as f64 + rng.exp(2.5 * DAY_US as f64)) as i64;
        }
    }
}

/// The Arrow schema of raw events as written by `demo-data`.
fn event_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("member_id", DataType::Utf8, false),
        Field::new("interaction_id", DataType::Utf8, false),
        Field::new(
            "event_ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("pydescription", DataType::Utf8, true),
        Field::new("escalated", DataType::Int32, false),
        Field::new("channel", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("plan_type", DataType::Utf8, true),
    ]))
}

/// Events as one Arrow batch with [`event_schema`].
pub fn events_to_batch(events: &[Event]) -> Result<RecordBatch> {
    let n = events.len();
    let mut member = StringBuilder::with_capacity(n, n * 8);
    let mut inter = StringBuilder::with_capacity(n, n * 11);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut desc = StringBuilder::with_capacity(n, n * 16);
    let mut esc = Int32Builder::with_capacity(n);
    let mut chan = StringBuilder::with_capacity(n, n * 5);
    let mut region = StringBuilder::with_capacity(n, n * 8);
    let mut plan = StringBuilder::with_capacity(n, n * 6);
    for e in events {
        member.append_value(&e.member_id);
        inter.append_value(&e.interaction_id);
        ts.append_value(e.event_ts_us);
        desc.append_option(e.description.as_deref());
        esc.append_value(e.escalated);
        chan.append_option(e.channel.as_deref());
        region.append_option(e.region.as_deref());
        plan.append_option(e.plan_type.as_deref());
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(member.finish()),
        Arc::new(inter.finish()),
        Arc::new(ts.finish()),
        Arc::new(desc.finish()),
        Arc::new(esc.finish()),
        Arc::new(chan.finish()),
        Arc::new(region.finish()),
        Arc::new(plan.finish()),
    ];
    RecordBatch::try_new(event_schema(), cols).map_err(|e| Error::Output {
        location: "demo events".into(),
        problem: e.to_string(),
        fix: "report this as a bug".into(),
    })
}

/// The shipped rules plus one rule per topic for its [`UNMAPPED_VARIANTS`]: the
/// "complete" rules file of a generated set, to compare against the shipped one.
pub fn complete_rules_csv() -> String {
    let mut out = crate::rules::DEFAULT_RULES.trim_end().to_string();
    out.push('\n');
    for (canonical, variants) in UNMAPPED_VARIANTS {
        let name = canonical.replace(' ', "_");
        out.push_str(&format!(
            "{name}_variants,regex,^({})( .*)?$,{canonical}\n",
            variants.join("|")
        ));
    }
    out
}

/// Summary of what `write_demo` wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoStats {
    pub(crate) members: usize,
    pub(crate) interactions: u64,
    pub(crate) positive_interactions: u64,
    pub(crate) events: u64,
}

/// Writes Parquet to `path` from any sequence of event chunks.
fn write_events_parquet<I>(path: &Path, chunks: I) -> Result<()>
where
    I: IntoIterator<Item = Result<Vec<Event>>>,
{
    let out_err = |problem: String| Error::Output {
        location: path.display().to_string(),
        problem,
        fix: "choose a writable --out path".into(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| out_err(e.to_string()))?;
    }
    // Write to a temporary name and rename: a failed run leaves no half file.
    let tmp = path.with_extension("parquet.partial");
    let file = File::create(&tmp).map_err(|e| out_err(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("rarecall demo-data".to_string())
        .build();
    let mut writer = ArrowWriter::try_new(file, event_schema(), Some(props))
        .map_err(|e| out_err(e.to_string()))?;
    for chunk in chunks {
        let batch = events_to_batch(&chunk?)?;
        writer.write(&batch).map_err(|e| out_err(e.to_string()))?;
    }
    writer.close().map_err(|e| out_err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| out_err(e.to_string()))?;
    Ok(())
}

/// Generates `members` members with `seed` and writes them to `path` as Parquet.
pub fn write_demo(path: &Path, members: usize, seed: u64) -> Result<DemoStats> {
    write_demo_with(path, members, seed, &DemoSpec::default())
}

/// [`write_demo`] with another base rate or drift.
pub fn write_demo_with(
    path: &Path,
    members: usize,
    seed: u64,
    spec: &DemoSpec,
) -> Result<DemoStats> {
    crate::demo_shift::check(spec.channel_shift)?;
    if !(0.0..=1.0).contains(&spec.unmapped) {
        return Err(Error::config(
            "--unmapped",
            "a share in [0, 1]",
            spec.unmapped,
            "pass for example --unmapped 0.5",
        ));
    }
    for (key, v) in [("--base-shift", spec.base_shift), ("--drift", spec.drift)] {
        if !(v.is_finite() && v.abs() <= 4.0) {
            return Err(Error::config(
                key,
                "log-odds in [-4, 4]",
                v,
                "pass a small shift, e.g. -0.9 or 0.8",
            ));
        }
    }
    if members == 0 {
        return Err(Error::config(
            "--members",
            "at least 1",
            0,
            "ask for some members, e.g. --members 20000",
        ));
    }
    let mut stats = DemoStats {
        members,
        interactions: 0,
        positive_interactions: 0,
        events: 0,
    };
    let mut next_interaction = 1u64;
    let chunk_members = 20_000;
    let mut start = 0;
    // Members are generated chunk by chunk so memory stays bounded.
    let stats_ref = &mut stats;
    let iter = std::iter::from_fn(|| {
        if start >= members {
            return None;
        }
        let end = (start + chunk_members).min(members);
        let mut events = Vec::new();
        for m in start..end {
            member_events_with(seed, m, &mut next_interaction, &mut events, spec);
        }
        start = end;
        stats_ref.events += events.len() as u64;
        let mut last: Option<&str> = None;
        for e in &events {
            if last != Some(e.interaction_id.as_str()) {
                stats_ref.interactions += 1;
                last = Some(e.interaction_id.as_str());
            }
            if e.escalated == 1 {
                stats_ref.positive_interactions += 1;
            }
        }
        Some(Ok(events))
    });
    write_events_parquet(path, iter)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events_and_a_rare_label() {
        let gen_events = |seed| {
            let mut next = 1;
            let mut v = Vec::new();
            for m in 0..3000 {
                member_events(seed, m, &mut next, &mut v);
            }
            v
        };
        let a = gen_events(7);
        assert_eq!(a, gen_events(7));
        assert_ne!(a, gen_events(8));
        let interactions: std::collections::BTreeSet<_> =
            a.iter().map(|e| e.interaction_id.clone()).collect();
        let positives = a.iter().filter(|e| e.escalated == 1).count();
        let rate = positives as f64 / interactions.len() as f64;
        assert!((0.008..0.03).contains(&rate), "rate {rate}");
        assert!(a.iter().any(|e| e.description.is_none()));
        assert!(a.iter().any(|e| e.description.as_deref() == Some("")));
    }

    /// `gap_peak` draws nothing: the same events, and labels only turn positive, and
    /// mostly where the previous interaction was near the peak's gap.
    #[test]
    fn a_planted_gap_peak_adds_positives_near_the_peak_gap_only() {
        let gen_events = |gap_peak| {
            let (mut next, mut v) = (1, Vec::new());
            let spec = DemoSpec {
                gap_peak,
                ..Default::default()
            };
            for m in 0..3000 {
                member_events_with(7, m, &mut next, &mut v, &spec);
            }
            v
        };
        let (plain, peaked) = (gen_events(0.0), gen_events(3.0));
        assert_eq!(plain.len(), peaked.len());
        // Gap since the member's previous interaction, per interaction (days).
        let mut gap = std::collections::BTreeMap::new();
        let mut prev: Option<(&str, &str, i64)> = None;
        for e in &plain {
            if prev.is_none_or(|(_, i, _)| i != e.interaction_id) {
                if let Some((_, _, t)) = prev.filter(|(m, _, _)| *m == e.member_id) {
                    gap.insert(
                        e.interaction_id.clone(),
                        (e.event_ts_us - t) as f64 / DAY_US as f64,
                    );
                }
                prev = Some((&e.member_id, &e.interaction_id, e.event_ts_us));
            }
        }
        // A new positive away from the peak only follows one near it (a member's earlier
        // escalations raise the risk of its later interactions).
        let (mut near, mut far) = (0, 0);
        let mut flipped_members = std::collections::BTreeSet::new();
        for (a, b) in plain.iter().zip(&peaked) {
            assert_eq!(
                (&a.interaction_id, a.event_ts_us),
                (&b.interaction_id, b.event_ts_us)
            );
            assert!(b.escalated >= a.escalated, "a label turned negative");
            if b.escalated > a.escalated {
                let d = gap[&a.interaction_id];
                let peak =
                    GAP_PEAK_DAYS - 3.0 * GAP_PEAK_SD_DAYS..=GAP_PEAK_DAYS + 3.0 * GAP_PEAK_SD_DAYS;
                if peak.contains(&d) {
                    near += 1;
                    flipped_members.insert(a.member_id.clone());
                } else {
                    far += 1;
                    assert!(
                        flipped_members.contains(&a.member_id),
                        "{a:?}, gap {d:.1} days"
                    );
                }
            }
        }
        let before = plain.iter().filter(|e| e.escalated == 1).count();
        assert!(
            near > before / 10,
            "{near} new positives near the peak, {before} before"
        );
        assert!(
            far < near,
            "{far} new positives away from the peak, {near} near"
        );
    }

    #[test]
    fn every_messy_variant_maps_back_with_the_default_rules() {
        let rules = crate::rules::Rules::default_rules().unwrap();
        let mut rng = SplitMix64::new(1);
        for (canonical, spellings, _, _) in TOPICS {
            for s in *spellings {
                for _ in 0..30 {
                    let Some(raw) = messy(&mut rng, s) else {
                        continue;
                    };
                    let cleaned = spark_clean(&raw);
                    if cleaned.is_empty() {
                        continue;
                    }
                    let got = rules.canonical_of(&cleaned).map(|r| r.canonical.as_str());
                    assert_eq!(got, Some(*canonical), "{raw:?} -> {cleaned:?}");
                }
            }
        }
    }

    #[test]
    fn unmapped_variants_escape_the_shipped_rules_and_the_complete_rules_catch_them() {
        let shipped = crate::rules::Rules::default_rules().unwrap();
        let complete = crate::rules::Rules::parse(&complete_rules_csv(), "complete").unwrap();
        assert_eq!(UNMAPPED_VARIANTS.len(), TOPICS.len());
        let mut rng = SplitMix64::new(3);
        for ((canonical, variants), topic) in UNMAPPED_VARIANTS.iter().zip(TOPICS) {
            assert_eq!(*canonical, topic.0);
            for v in *variants {
                for _ in 0..20 {
                    let Some(raw) = messy(&mut rng, v) else {
                        continue;
                    };
                    let cleaned = spark_clean(&raw);
                    if cleaned.is_empty() {
                        continue;
                    }
                    assert!(shipped.canonical_of(&cleaned).is_none(), "{cleaned:?}");
                    let got = complete
                        .canonical_of(&cleaned)
                        .map(|r| r.canonical.as_str());
                    assert_eq!(got, Some(*canonical), "{raw:?} -> {cleaned:?}");
                }
            }
        }
    }

    /// The cleaning of sql/02_descriptions.sql, mirrored for this test.
    fn spark_clean(s: &str) -> String {
        let lowered = crate::rules::clean_text(s);
        let edge = regex::Regex::new(r"^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$").unwrap();
        edge.replace_all(&lowered, "").trim().to_string()
    }
}
