//! Micro-benchmarks of the hot pure functions, so regressions show up in development:
//! `cargo bench --bench hot` (add `-- objective` etc. to pick one group).
//!
//! Inputs are synthetic and deterministic. The objective and fit run on a matrix shaped
//! like model format 2's (38 columns: 10 numeric, 25 description flags, 3
//! target-encoded categoricals); the encoder benchmark fits format 3's encoders (gap
//! bins, tokens and crosses included), so its timings are not comparable with earlier
//! ones.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rarecall::encode::{FeatureEncoderParams, MultiHotParams, TargetEncoderParams};
use rarecall::matrix::Matrix;
use rarecall::model::{LogisticRegressionParams, hessian, objective_and_gradient};
use rarecall::params::ParamGuard;
use rarecall::table::{
    Categorical, DescriptionSets, FeatureTable, NUMERIC_FEATURES, NumericRows, Split,
};
use rarecall::threshold::{ThresholdRule, precision_recall_curve};

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const COLS: usize = 38;

/// A standardized-looking matrix, rare labels (about 2 %), balanced class weights.
fn problem(n: usize) -> (Matrix, Vec<f64>, Vec<f64>) {
    let mut rng = Rng(42);
    let mut data = Vec::with_capacity(n * COLS);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut z = -4.0;
        for j in 0..COLS {
            let v = if (10..35).contains(&j) {
                f64::from(u8::from(rng.uniform() < 0.1))
            } else {
                2.0 * rng.uniform() - 1.0
            };
            z += v * if j % 3 == 0 { 0.8 } else { -0.2 };
            data.push(v);
        }
        let p = 1.0 / (1.0 + (-z).exp());
        y.push(f64::from(u8::from(rng.uniform() < p)));
    }
    let pos = y.iter().sum::<f64>();
    let (wp, wn) = (n as f64 / (2.0 * pos), n as f64 / (2.0 * (n as f64 - pos)));
    let w = y.iter().map(|&v| if v == 1.0 { wp } else { wn }).collect();
    (Matrix::from_vec(n, COLS, data).unwrap(), y, w)
}

fn objective(c: &mut Criterion) {
    let mut g = c.benchmark_group("objective");
    for n in [20_000, 200_000] {
        let (x, y, w) = problem(n);
        let params: Vec<f64> = (0..=COLS).map(|j| 0.01 * j as f64).collect();
        let mut grad = vec![0.0; params.len()];
        g.throughput(Throughput::Bytes((n * COLS * 8) as u64));
        g.bench_with_input(BenchmarkId::new("loss_and_gradient", n), &n, |b, _| {
            b.iter(|| objective_and_gradient(&x, &y, &w, 1.0, black_box(&params), &mut grad))
        });
        // The preconditioner's pass: `q (q + 1) / 2` products a row against the
        // objective's `2 q` (BENCHMARKS.md, "The fit preconditioned").
        g.bench_with_input(BenchmarkId::new("hessian", n), &n, |b, _| {
            b.iter(|| hessian(&x, &w, 1.0, black_box(&params)))
        });
    }
    let (x, y, w) = problem(20_000);
    g.throughput(Throughput::Elements(20_000));
    g.sample_size(10);
    let lr = LogisticRegressionParams::default().check().unwrap();
    g.bench_function("fit_c1_20000", |b| {
        b.iter(|| lr.fit(&x, &y, &w, None).unwrap())
    });
    g.finish();
}

/// A feature table of `n` training interactions with 60 distinct descriptions (one to
/// three per row) and three categoricals.
fn table(n: usize) -> (FeatureTable, Vec<usize>, Vec<f64>, Vec<u8>) {
    let mut rng = Rng(7);
    let mut t = FeatureTable {
        descriptions: DescriptionSets {
            dictionary: (0..60).map(|k| format!("description number {k}")).collect(),
            offsets: vec![0],
            ids: Vec::new(),
        },
        categoricals: ["cat_channel", "cat_region", "cat_plan_type"]
            .iter()
            .zip([4_u32, 12, 3])
            .map(|(name, k)| Categorical {
                name: name.to_string(),
                dictionary: (0..k).map(|v| format!("value {v}")).collect(),
                codes: Vec::with_capacity(n),
            })
            .collect(),
        ..Default::default()
    };
    let mut numeric = vec![Vec::with_capacity(n); NUMERIC_FEATURES.len()];
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        t.interaction_id.push(&format!("i{i}"));
        t.member_id.push(&format!("m{}", i / 3));
        t.interaction_ts_us.push(i as i64);
        let label = u8::from(rng.uniform() < 0.03);
        t.label.push(label);
        y.push(f64::from(label));
        t.split.push(Split::Train);
        t.sample_weight.push(1.0);
        for col in numeric.iter_mut() {
            let v = (rng.uniform() * 40.0).floor();
            col.push(if rng.uniform() < 0.1 { f64::NAN } else { v });
        }
        let k = 1 + (rng.next() % 3) as usize;
        // Skewed: low ids are common.
        let mut row: Vec<u32> = (0..k)
            .map(|_| {
                let u = rng.uniform();
                (u * u * 60.0) as u32
            })
            .collect();
        row.sort_unstable();
        row.dedup();
        t.descriptions.ids.extend(row);
        t.descriptions.offsets.push(t.descriptions.ids.len());
        for c in t.categoricals.iter_mut() {
            let k = c.dictionary.len() as u64;
            c.codes.push((rng.next() % k) as u32);
        }
    }
    t.numeric = NumericRows::from_columns(&numeric).expect("columns of one length");
    let rows: Vec<usize> = (0..n).collect();
    let folds = (0..n).map(|i| ((i / 3) % 5) as u8).collect();
    (t, rows, y, folds)
}

fn encoders(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.sample_size(10);
    let n = 100_000;
    let (t, rows, y, folds) = table(n);
    let params = FeatureEncoderParams {
        multi_hot: MultiHotParams {
            top_n: 25,
            min_support: 20,
        },
        tokens: rarecall::encode::tokens::TokenParams {
            top_n: 60,
            min_support: 20,
        },
        crosses: rarecall::encode::cross::CrossParams { top_n: 5 },
        target: TargetEncoderParams::default(),
        missing_days: 365.0,
    }
    .check()
    .unwrap();
    let w = vec![1.0; n];
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("fit_transform_100000", |b| {
        b.iter(|| params.fit_transform(&t, &rows, &y, &w, &folds, 5).unwrap())
    });
    let (fitted, _) = params.fit_transform(&t, &rows, &y, &w, &folds, 5).unwrap();
    g.bench_function("transform_100000", |b| {
        b.iter(|| fitted.transform(&t, &rows).unwrap())
    });
    g.finish();
}

fn pr_curve(c: &mut Criterion) {
    let mut g = c.benchmark_group("threshold");
    g.sample_size(10);
    let n = 500_000;
    let mut rng = Rng(3);
    let y: Vec<f64> = (0..n)
        .map(|_| f64::from(u8::from(rng.uniform() < 0.02)))
        .collect();
    let s: Vec<f64> = y
        .iter()
        .map(|&v| (rng.uniform() + 0.3 * v).min(1.0))
        .collect();
    let w: Vec<f64> = y
        .iter()
        .map(|&v| if v == 1.0 { 1.0 } else { 4.0 })
        .collect();
    let rule = ThresholdRule {
        target_precision: 0.2,
        cap: None,
    }
    .check()
    .unwrap();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("curve_and_rule_500000", |b| {
        b.iter(|| {
            let curve = precision_recall_curve(&y, &s, Some(&w)).unwrap();
            rule.select(&curve).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, objective, encoders, pr_curve);
criterion_main!(benches);
