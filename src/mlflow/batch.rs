//! What one `runs/log-batch` request may carry, and the splitting of a run's metrics,
//! params and tags into requests that fit (pure: no I/O).
//!
//! The server's limits (MLflow REST API 2.0, `LogBatch`; the same on Databricks):
//! at most 1000 metrics, 100 params and 100 tags per request, 1000 items in all, and a
//! request body of at most 1 MB. Keys are at most 250 characters, param values 6000,
//! tag values 8000. A value over a limit is an error here, never cut short; a run with
//! more items than one request holds is split into several requests.
//!
//! A param is logged once per run: the server refuses a second value for the same key,
//! so a repeated key with the same value is sent once and one with another value is an
//! error before anything is sent.

use serde::{Serialize, Serializer};

use crate::error::{Error, Result};

/// Metrics per request.
pub(crate) const MAX_METRICS: usize = 1000;
/// Params per request.
pub(crate) const MAX_PARAMS: usize = 100;
/// Tags per request.
pub(crate) const MAX_TAGS: usize = 100;
/// Metrics, params and tags together per request.
pub(crate) const MAX_ITEMS: usize = 1000;
/// Request body bytes (1 MB; a few hundred bytes are kept for the envelope).
pub(crate) const MAX_BODY_BYTES: usize = 1_000_000 - 512;
/// Characters of a metric, param or tag key.
const MAX_KEY_CHARS: usize = 250;
/// Characters of a param value.
const MAX_PARAM_VALUE_CHARS: usize = 6000;
/// Characters of a tag value.
const MAX_TAG_VALUE_CHARS: usize = 8000;

/// One metric point. `value` is sent as a JSON number, or as the string `"NaN"`,
/// `"Infinity"` or `"-Infinity"` (JSON has no such numbers; the server's protobuf
/// JSON parser reads these strings as doubles).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Metric {
    pub(crate) key: String,
    #[serde(serialize_with = "double")]
    pub(crate) value: f64,
    /// Milliseconds since the epoch.
    pub(crate) timestamp: i64,
    pub(crate) step: i64,
}

/// A param or a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct KeyValue {
    pub(crate) key: String,
    pub(crate) value: String,
}

impl KeyValue {
    pub(crate) fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The body of one `runs/log-batch` request, without `run_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Batch {
    pub(crate) metrics: Vec<Metric>,
    pub(crate) params: Vec<KeyValue>,
    pub(crate) tags: Vec<KeyValue>,
}

fn double<S: Serializer>(v: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v.is_infinite() {
        s.serialize_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        s.serialize_f64(*v)
    }
}

fn too_long(what: &str, key: &str, chars: usize, limit: usize) -> Error {
    Error::Tracking {
        endpoint: "runs/log-batch".into(),
        status: format!(
            "not sent: {what} `{}` has {chars} characters, the server takes at most {limit}",
            key.chars().take(80).collect::<String>()
        ),
        fix: "report this as a bug (rarecall should shorten this value before logging it)".into(),
    }
}

/// The params with repeats of the same (key, value) dropped; a key given two values is
/// an error (the server would refuse the second). Also checks every length.
pub(crate) fn checked(mut batch: Batch) -> Result<Batch> {
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    let mut params = Vec::with_capacity(batch.params.len());
    for p in batch.params {
        match seen.get(&p.key) {
            Some(v) if *v == p.value => continue,
            Some(v) => {
                return Err(Error::Tracking {
                    endpoint: "runs/log-batch".into(),
                    status: format!(
                        "not sent: param `{}` has two values ({v:?} and {:?}); MLflow keeps the first value of a param for ever",
                        p.key, p.value
                    ),
                    fix: "report this as a bug (a param is logged once per run)".into(),
                });
            }
            None => {
                seen.insert(p.key.clone(), p.value.clone());
                params.push(p);
            }
        }
    }
    batch.params = params;
    for (what, items, value_limit) in [
        ("param", &batch.params, MAX_PARAM_VALUE_CHARS),
        ("tag", &batch.tags, MAX_TAG_VALUE_CHARS),
    ] {
        for kv in items {
            let (k, v) = (kv.key.chars().count(), kv.value.chars().count());
            if k > MAX_KEY_CHARS {
                return Err(too_long(&format!("{what} key"), &kv.key, k, MAX_KEY_CHARS));
            }
            if v > value_limit {
                return Err(too_long(
                    &format!("{what} value of"),
                    &kv.key,
                    v,
                    value_limit,
                ));
            }
        }
    }
    for m in &batch.metrics {
        let k = m.key.chars().count();
        if k > MAX_KEY_CHARS {
            return Err(too_long("metric key", &m.key, k, MAX_KEY_CHARS));
        }
    }
    Ok(batch)
}

/// Bytes an item adds to a request body: its JSON and a separating comma.
fn json_len<T: Serialize>(item: &T) -> usize {
    serde_json::to_vec(item).map_or(0, |v| v.len()) + 1
}

/// Splits a (checked) batch into requests within every limit, in order: params first,
/// then tags, then metrics, each request filled before the next starts. Nothing is
/// dropped: the concatenation of the parts is the input.
pub(crate) fn chunks(batch: Batch) -> Vec<Batch> {
    // The empty envelope `{"run_id":"<32 hex>","metrics":[],"params":[],"tags":[]}`.
    const ENVELOPE: usize = 100;
    let mut out = Vec::new();
    let mut cur = Batch::default();
    let mut bytes = ENVELOPE;
    let full = |cur: &Batch, bytes: usize, add: usize, kind_full: bool| {
        let items = cur.metrics.len() + cur.params.len() + cur.tags.len();
        kind_full || items + 1 > MAX_ITEMS || bytes + add > MAX_BODY_BYTES
    };
    let flush = |out: &mut Vec<Batch>, cur: &mut Batch, bytes: &mut usize| {
        if !(cur.metrics.is_empty() && cur.params.is_empty() && cur.tags.is_empty()) {
            out.push(std::mem::take(cur));
        }
        *bytes = ENVELOPE;
    };
    for p in batch.params {
        let add = json_len(&p);
        if full(&cur, bytes, add, cur.params.len() >= MAX_PARAMS) {
            flush(&mut out, &mut cur, &mut bytes);
        }
        bytes += add;
        cur.params.push(p);
    }
    for t in batch.tags {
        let add = json_len(&t);
        if full(&cur, bytes, add, cur.tags.len() >= MAX_TAGS) {
            flush(&mut out, &mut cur, &mut bytes);
        }
        bytes += add;
        cur.tags.push(t);
    }
    for m in batch.metrics {
        let add = json_len(&m);
        if full(&cur, bytes, add, cur.metrics.len() >= MAX_METRICS) {
            flush(&mut out, &mut cur, &mut bytes);
        }
        bytes += add;
        cur.metrics.push(m);
    }
    flush(&mut out, &mut cur, &mut bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(i: usize) -> Metric {
        Metric {
            key: format!("m{}", i % 7),
            value: i as f64 * 0.5,
            timestamp: 1_700_000_000_000,
            step: i as i64,
        }
    }

    #[test]
    fn non_finite_values_are_sent_as_strings() {
        let m = |v: f64| {
            serde_json::to_string(&Metric {
                key: "k".into(),
                value: v,
                timestamp: 1,
                step: 0,
            })
            .unwrap()
        };
        assert_eq!(
            m(f64::NAN),
            r#"{"key":"k","value":"NaN","timestamp":1,"step":0}"#
        );
        assert!(m(f64::INFINITY).contains(r#""value":"Infinity""#));
        assert!(m(f64::NEG_INFINITY).contains(r#""value":"-Infinity""#));
        assert!(m(0.25).contains(r#""value":0.25"#));
    }

    #[test]
    fn every_chunk_is_within_the_limits_and_nothing_is_lost() {
        let batch = Batch {
            metrics: (0..2503).map(metric).collect(),
            params: (0..250)
                .map(|i| KeyValue::new(format!("p{i}"), "v"))
                .collect(),
            tags: (0..130)
                .map(|i| KeyValue::new(format!("t{i}"), "w"))
                .collect(),
        };
        let parts = chunks(batch.clone());
        for c in &parts {
            assert!(c.metrics.len() <= MAX_METRICS);
            assert!(c.params.len() <= MAX_PARAMS);
            assert!(c.tags.len() <= MAX_TAGS);
            assert!(c.metrics.len() + c.params.len() + c.tags.len() <= MAX_ITEMS);
            let body = serde_json::to_vec(c).unwrap().len() + 50;
            assert!(body <= 1_000_000, "{body}");
        }
        let joined = parts.into_iter().fold(Batch::default(), |mut a, c| {
            a.metrics.extend(c.metrics);
            a.params.extend(c.params);
            a.tags.extend(c.tags);
            a
        });
        assert_eq!(joined, batch);
    }

    #[test]
    fn large_values_split_on_the_body_size() {
        // 100 params of 5000 characters and 100 tags of 7000: 1.2 MB, within every
        // count limit of one request, so only the body size splits them.
        let batch = Batch {
            params: (0..100)
                .map(|i| KeyValue::new(format!("p{i}"), "x".repeat(5000)))
                .collect(),
            tags: (0..100)
                .map(|i| KeyValue::new(format!("t{i}"), "y".repeat(7000)))
                .collect(),
            ..Default::default()
        };
        let parts = chunks(checked(batch).unwrap());
        assert_eq!(parts.len(), 2);
        for c in &parts {
            assert!(serde_json::to_vec(c).unwrap().len() + 50 <= 1_000_000);
        }
        assert_eq!(parts.iter().map(|c| c.params.len()).sum::<usize>(), 100);
        assert_eq!(parts.iter().map(|c| c.tags.len()).sum::<usize>(), 100);
    }

    #[test]
    fn a_param_is_never_sent_with_a_second_value() {
        let b = Batch {
            params: vec![
                KeyValue::new("seed", "42"),
                KeyValue::new("seed", "42"),
                KeyValue::new("c", "1"),
            ],
            ..Default::default()
        };
        assert_eq!(checked(b).unwrap().params.len(), 2);
        let b = Batch {
            params: vec![KeyValue::new("seed", "42"), KeyValue::new("seed", "7")],
            ..Default::default()
        };
        let e = checked(b).unwrap_err().to_string();
        assert!(e.contains("`seed` has two values"), "{e}");
    }

    #[test]
    fn over_long_values_are_refused_not_cut() {
        let b = Batch {
            params: vec![KeyValue::new("rules", "r".repeat(6001))],
            ..Default::default()
        };
        let e = checked(b).unwrap_err().to_string();
        assert!(
            e.contains("6001 characters") && e.contains("at most 6000"),
            "{e}"
        );
        let b = Batch {
            metrics: vec![Metric {
                key: "k".repeat(251),
                ..metric(0)
            }],
            ..Default::default()
        };
        assert!(checked(b).is_err());
    }
}
