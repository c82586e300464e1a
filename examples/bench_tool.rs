//! The Rust side of `bench/`: one subcommand per measured stage, each printing one
//! JSON line that `bench/compare.py` reads. Not part of the product; run through
//! `bench/run.sh`.
//!
//! ```text
//! bench_tool prepare  --config C --source S --dir D   Spark features -> D/features.parquet, D/*.npy
//! bench_tool pull     --remote URL --path P           time `select *` of the materialized table
//! bench_tool encode   --config C --dir D              time the encoders on D/features.parquet
//! bench_tool fit      --dir D [--verify]              time the C grid + refit on D/x.npy ...
//! bench_tool threshold --dir D                        time PR curve + rule on D/oof.npy
//! bench_tool gbdt     --dir D --threads T             time forust's trees on D/x.npy, D/w.npy
//! bench_tool stream   [--mib N]                       memory bandwidth (read, triad)
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use arrow::record_batch::RecordBatch;
use clap::Parser;
use rarecall::cli::{Cli, Command};
use rarecall::config::{self, Config};
use rarecall::matrix::Matrix;
use rarecall::model::{GridSearchParams, GridSearchValidParams};
use rarecall::params::ParamGuard;
use rarecall::remote::Env;
use rarecall::table::{FeatureTable, Split};
use rarecall::threshold::{ThresholdRule, precision_recall_curve};
use serde_json::json;

// ---- .npy (little-endian, C order; only what this tool writes) ------------------------

fn write_npy(path: &Path, descr: &str, shape: &[usize], bytes: &[u8]) -> Result<()> {
    let shape_s = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    f.write_all(bytes)?;
    Ok(())
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reads an `<f8` or `<i8` .npy: (shape, raw little-endian 8-byte words).
fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<[u8; 8]>)> {
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .with_context(|| path.display().to_string())?
        .read_to_end(&mut buf)?;
    if &buf[..6] != b"\x93NUMPY" {
        bail!("{} is not a .npy file", path.display());
    }
    let hlen = u16::from_le_bytes([buf[8], buf[9]]) as usize;
    let header = std::str::from_utf8(&buf[10..10 + hlen])?;
    let shape_txt = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| anyhow!("no shape in {header}"))?;
    let shape: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|e| anyhow!("shape {s}: {e}")))
        .collect::<Result<_>>()?;
    let words = buf[10 + hlen..]
        .chunks_exact(8)
        .map(|c| c.try_into().unwrap())
        .collect();
    Ok((shape, words))
}

fn read_f64(path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let (s, w) = read_npy(path)?;
    Ok((s, w.into_iter().map(f64::from_le_bytes).collect()))
}

fn read_usize(path: &Path) -> Result<Vec<usize>> {
    let (_, w) = read_npy(path)?;
    Ok(w.into_iter()
        .map(|b| i64::from_le_bytes(b) as usize)
        .collect())
}

// ---- shared helpers ----------------------------------------------------------------------

fn load_config(config: &str, source: Option<&str>) -> Result<Config> {
    let mut argv = vec!["rarecall", "run", "--config", config];
    if let Some(s) = source {
        argv.extend(["--source", s]);
    }
    let Command::Run(args) = Cli::parse_from(argv).command else {
        bail!("expected run arguments");
    };
    Ok(config::load(
        &args.common,
        Some(&args),
        &Env::from_process(),
    )?)
}

fn read_parquet_dir(dir: &Path) -> Result<Vec<RecordBatch>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&f)?,
        )?
        .with_batch_size(65536)
        .build()?;
        for b in reader {
            out.push(b?);
        }
    }
    Ok(out)
}

fn cat_names(cfg: &Config) -> Vec<String> {
    cfg.settings
        .columns
        .categoricals
        .iter()
        .map(|c| c.1.clone())
        .collect()
}

struct TrainInputs {
    rows: Vec<usize>,
    y: Vec<f64>,
    sampling: Vec<f64>,
    folds: Vec<u8>,
}

fn train_inputs(t: &FeatureTable, cfg: &Config) -> TrainInputs {
    let p = &cfg.train;
    let rows = t.rows_of(Split::Train);
    let y: Vec<f64> = rows.iter().map(|&i| f64::from(t.label[i])).collect();
    let sampling = rows.iter().map(|&i| t.sample_weight[i]).collect();
    let members: Vec<&str> = rows.iter().map(|&i| &t.member_id[i]).collect();
    let folds = rarecall::train::member_folds(&members, &y, p.grid().n_folds, p.seed());
    TrainInputs {
        rows,
        y,
        sampling,
        folds,
    }
}

fn peak_rss_mib() -> f64 {
    rarecall::commands::common::peak_rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0)
}

// ---- subcommands -------------------------------------------------------------------------

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    Prepare {
        #[arg(long)]
        config: String,
        #[arg(long)]
        source: String,
        #[arg(long)]
        dir: PathBuf,
    },
    Pull {
        #[arg(long)]
        remote: String,
        #[arg(long)]
        path: String,
        #[arg(long)]
        config: String,
    },
    Encode {
        #[arg(long)]
        config: String,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        reps: usize,
    },
    Fit {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        reps: usize,
        /// Also fit every (C, fold) alone, untimed, and report its objective.
        #[arg(long)]
        verify: bool,
    },
    Threshold {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        reps: usize,
    },
    Stream {
        #[arg(long, default_value_t = 1024)]
        mib: usize,
    },
    Gbdt {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        threads: usize,
        #[arg(long, default_value_t = 300)]
        rounds: usize,
        #[arg(long, default_value_t = 5)]
        depth: usize,
    },
    GbdtEval {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 5)]
        depth: usize,
        #[arg(long, default_value_t = 0.1)]
        lr: f32,
        #[arg(long, default_value_t = 1.0)]
        min_leaf: f32,
        #[arg(long, default_value_t = 1.0)]
        l2: f32,
        #[arg(long, default_value_t = 20)]
        es: usize,
        #[arg(long, default_value_t = 300)]
        rounds: usize,
        /// Scale the loss weights to mean 1 before fitting.
        #[arg(long)]
        normalize: bool,
        /// The loss weights' file in D (w.npy: the grid's first class weight x the
        /// inverse sampling rate; eval_w.npy: the inverse sampling rate alone).
        #[arg(long, default_value = "w.npy")]
        weights: String,
        /// Leaf size in rows of average weight at the weighted base rate's hessian
        /// (overrides --min-leaf: min_leaf_weight = m p (1 - p) on mean-1 weights).
        #[arg(long)]
        min_leaf_rows: Option<f32>,
    },
}

fn main() -> Result<()> {
    match Args::parse().cmd {
        Sub::Prepare {
            config,
            source,
            dir,
        } => prepare(&config, &source, &dir),
        Sub::Pull {
            remote,
            path,
            config,
        } => pull(&remote, &path, &config),
        Sub::Encode { config, dir, reps } => encode(&config, &dir, reps),
        Sub::Fit { dir, reps, verify } => fit(&dir, reps, verify),
        Sub::Threshold { dir, reps } => threshold(&dir, reps),
        Sub::Stream { mib } => stream(mib),
        Sub::Gbdt {
            dir,
            threads,
            rounds,
            depth,
        } => gbdt(&dir, threads, rounds, depth),
        Sub::GbdtEval {
            dir,
            depth,
            lr,
            min_leaf,
            l2,
            es,
            rounds,
            normalize,
            weights,
            min_leaf_rows,
        } => {
            let min_leaf = match min_leaf_rows {
                Some(m) => {
                    let y = read_f64(&dir.join("y.npy"))?.1;
                    let w = read_f64(&dir.join(&weights))?.1;
                    let p =
                        y.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / w.iter().sum::<f64>();
                    m * (p * (1.0 - p)) as f32
                }
                None => min_leaf,
            };
            gbdt_eval(
                &dir, depth, lr, min_leaf, l2, es, rounds, normalize, &weights,
            )
        }
    }
}

/// Runs the Spark stages, writes the sampled feature table as Parquet (for the pull and
/// encoding benchmarks) and the training matrix, labels, weights and folds as .npy.
fn prepare(config: &str, source: &str, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    let cfg = load_config(config, Some(source))?;
    let spark = rarecall::spark::Spark::connect(&cfg.remote, cfg.timeout_secs)?;
    let mut timings = rarecall::pipeline::Timings::default();
    let scratch = rarecall::pipeline::Scratch::local(
        std::env::temp_dir()
            .join("rarecall-scratch")
            .to_str()
            .unwrap_or("/tmp"),
    )?;
    let got = rarecall::pipeline::run_spark(&spark, &cfg.settings, Some(&scratch), &mut timings)?;
    let feat_dir = dir.join("features.parquet");
    let t0 = Instant::now();
    spark.query(
        "materialize features",
        &format!(
            "insert overwrite directory '{}' using parquet select * from features where in_sample",
            feat_dir.display()
        ),
        &BTreeMap::new(),
    )?;
    let materialize_secs = t0.elapsed().as_secs_f64();
    let t = &got.features;
    let p = &cfg.train;
    let ti = train_inputs(t, &cfg);
    let (enc, x) = p.encoder().fit_transform(
        t,
        &ti.rows,
        &ti.y,
        &ti.sampling,
        &ti.folds,
        p.grid().n_folds,
    )?;
    // The loss weights training uses: the first class weight of the grid times the
    // inverse sampling rate of each row.
    let cw = p.class_weights()[0].class_weights(&ti.y, Some(&ti.sampling))?;
    let w = rarecall::train::loss_weights(&ti.y, &ti.sampling, cw);
    let (n, k) = (x.n_rows(), x.n_cols());
    write_npy(&dir.join("x.npy"), "<f8", &[n, k], &f64_bytes(x.data()))?;
    write_npy(&dir.join("y.npy"), "<f8", &[n], &f64_bytes(&ti.y))?;
    write_npy(&dir.join("w.npy"), "<f8", &[n], &f64_bytes(&w))?;
    write_npy(
        &dir.join("eval_w.npy"),
        "<f8",
        &[n],
        &f64_bytes(&ti.sampling),
    )?;
    // The test window, encoded by the same fitted encoder (for model comparisons).
    let test_rows = t.rows_of(Split::Test);
    let xt = enc.transform(t, &test_rows)?;
    let yt: Vec<f64> = test_rows.iter().map(|&i| f64::from(t.label[i])).collect();
    write_npy(
        &dir.join("x_test.npy"),
        "<f8",
        &[xt.n_rows(), xt.n_cols()],
        &f64_bytes(xt.data()),
    )?;
    write_npy(&dir.join("y_test.npy"), "<f8", &[yt.len()], &f64_bytes(&yt))?;
    let folds: Vec<i64> = ti.folds.iter().map(|&f| f as i64).collect();
    write_npy(&dir.join("folds.npy"), "<i8", &[n], &i64_bytes(&folds))?;
    // Raw encoder inputs, in the same row order.
    let n_num = rarecall::table::NUMERIC_FEATURES.len();
    let mut num = Vec::with_capacity(n * n_num);
    for &i in &ti.rows {
        for j in 0..n_num {
            num.push(t.numeric.get(i, j));
        }
    }
    write_npy(
        &dir.join("numeric.npy"),
        "<f8",
        &[n, n_num],
        &f64_bytes(&num),
    )?;
    let n_cat = t.categoricals.len();
    let mut cats = Vec::with_capacity(n * n_cat);
    for &i in &ti.rows {
        for c in &t.categoricals {
            cats.push(i64::from(c.codes[i]));
        }
    }
    write_npy(
        &dir.join("cat_codes.npy"),
        "<i8",
        &[n, n_cat],
        &i64_bytes(&cats),
    )?;
    let mut offsets = vec![0_i64];
    let mut ids = Vec::new();
    for &i in &ti.rows {
        let d = &t.descriptions;
        ids.extend(
            d.ids[d.offsets[i]..d.offsets[i + 1]]
                .iter()
                .map(|&v| i64::from(v)),
        );
        offsets.push(ids.len() as i64);
    }
    write_npy(
        &dir.join("desc_offsets.npy"),
        "<i8",
        &[n + 1],
        &i64_bytes(&offsets),
    )?;
    write_npy(
        &dir.join("desc_ids.npy"),
        "<i8",
        &[ids.len()],
        &i64_bytes(&ids),
    )?;
    let meta = json!({
        "rows": n,
        "cols": k,
        "train_positives": ti.y.iter().filter(|&&v| v == 1.0).count(),
        "feature_names": enc.feature_names,
        "n_numeric": enc.numeric.len(),
        "n_multi_hot": enc.multi_hot.n_features(),
        "multi_hot_columns": enc.multi_hot.feature_names(),
        "numeric_sources": enc.numeric.iter().map(|c| (c.source.clone(), format!("{:?}", c.transform))).collect::<Vec<_>>(),
        "numeric_features": rarecall::table::NUMERIC_FEATURES,
        "missing_days": p.encoder().missing_days(),
        "top_n": p.encoder().multi_hot().top_n,
        "min_support": p.encoder().multi_hot().min_support,
        "desc_dictionary": t.descriptions.dictionary,
        "cat_names": t.categoricals.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "cat_dictionaries": t.categoricals.iter().map(|c| c.dictionary.clone()).collect::<Vec<_>>(),
        "c_grid": p.grid().c_grid,
        "n_folds": p.grid().n_folds,
        "tol": p.grid().tol,
        "max_iter": p.grid().max_iter,
        "class_weights": [cw.0, cw.1],
        "table_rows": t.len(),
        "test_rows": t.rows_of(Split::Test).len(),
        "events": got.checks.n_events,
        "materialize_secs": materialize_secs,
        "spark_stage_seconds": timings.0,
    });
    std::fs::write(dir.join("meta.json"), serde_json::to_vec_pretty(&meta)?)?;
    println!("{}", json!({"rows": n, "cols": k, "dir": dir}));
    Ok(())
}

/// One timed pull of the materialized feature table, then (timed apart) its
/// conversion into the typed feature table.
fn pull(remote: &str, path: &str, config: &str) -> Result<()> {
    let cfg = load_config(config, None)?;
    let remote = rarecall::remote::parse_sc_url(remote, "--remote")?;
    let spark = rarecall::spark::Spark::connect(&remote, cfg.timeout_secs)?;
    let t0 = Instant::now();
    let batches = spark.query(
        "pull",
        &format!("select * from parquet.`{path}`"),
        &BTreeMap::new(),
    )?;
    let secs = t0.elapsed().as_secs_f64();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let t1 = Instant::now();
    let table = rarecall::table::feature_table(&batches, &cat_names(&cfg))?;
    let table_secs = t1.elapsed().as_secs_f64();
    assert_eq!(table.len(), rows);
    println!(
        "{}",
        json!({"secs": secs, "rows": rows, "batches": batches.len(), "table_secs": table_secs, "peak_rss_mib": peak_rss_mib()})
    );
    Ok(())
}

fn encode(config: &str, dir: &Path, reps: usize) -> Result<()> {
    let cfg = load_config(config, None)?;
    let batches = read_parquet_dir(&dir.join("features.parquet"))?;
    let t = rarecall::table::feature_table(&batches, &cat_names(&cfg))?;
    drop(batches);
    let p = &cfg.train;
    let ti = train_inputs(&t, &cfg);
    let mut secs = Vec::new();
    let mut x = Matrix::default();
    for _ in 0..reps {
        let t0 = Instant::now();
        let (_, m) = p.encoder().fit_transform(
            &t,
            &ti.rows,
            &ti.y,
            &ti.sampling,
            &ti.folds,
            p.grid().n_folds,
        )?;
        secs.push(t0.elapsed().as_secs_f64());
        x = m;
    }
    // The same matrix as prepare wrote?
    let (_, reference) = read_f64(&dir.join("x.npy"))?;
    let max_diff = reference
        .iter()
        .zip(x.data())
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    println!(
        "{}",
        json!({"secs": secs, "rows": x.n_rows(), "cols": x.n_cols(), "max_abs_diff_vs_prepare": max_diff})
    );
    Ok(())
}

/// Fold ids from an `.npy` of integers: rarecall's are bytes (at most 50 folds).
fn read_folds(path: &Path) -> Result<Vec<u8>> {
    read_usize(path)?
        .into_iter()
        .map(|f| {
            u8::try_from(f).map_err(|_| anyhow!("fold id {f} above 255 in {}", path.display()))
        })
        .collect()
}

struct FitData {
    x: Matrix,
    y: Vec<f64>,
    w: Vec<f64>,
    eval_w: Vec<f64>,
    folds: Vec<u8>,
    grid: GridSearchValidParams,
}

fn load_fit_data(dir: &Path) -> Result<FitData> {
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json"))?)?;
    let (shape, data) = read_f64(&dir.join("x.npy"))?;
    let x = Matrix::from_vec(shape[0], shape[1], data)?;
    let grid = GridSearchParams {
        c_grid: serde_json::from_value(meta["c_grid"].clone())?,
        n_folds: serde_json::from_value(meta["n_folds"].clone())?,
        tol: serde_json::from_value(meta["tol"].clone())?,
        max_iter: serde_json::from_value(meta["max_iter"].clone())?,
    }
    .check()?;
    Ok(FitData {
        x,
        y: read_f64(&dir.join("y.npy"))?.1,
        w: read_f64(&dir.join("w.npy"))?.1,
        eval_w: read_f64(&dir.join("eval_w.npy"))?.1,
        folds: read_folds(&dir.join("folds.npy"))?,
        grid,
    })
}

fn fit(dir: &Path, reps: usize, verify: bool) -> Result<()> {
    let d = load_fit_data(dir)?;
    let mut secs = Vec::new();
    let mut last = None;
    for _ in 0..reps {
        let t0 = Instant::now();
        let r = d.grid.grid_search(&d.x, &d.y, &d.w, &d.eval_w, &d.folds)?;
        secs.push(t0.elapsed().as_secs_f64());
        last = Some(r);
    }
    let r = last.ok_or_else(|| anyhow!("--reps 0"))?;
    // The OOF scores of the chosen C, for the threshold benchmark.
    let oof_scores = r.oof_scores();
    write_npy(
        &dir.join("oof.npy"),
        "<f8",
        &[oof_scores.len()],
        &f64_bytes(&oof_scores),
    )?;
    let mut folds_out = Vec::new();
    if verify {
        // The grid's distinct C values, ascending, each with its checked fit params.
        for lr in d.grid.fit_params() {
            let c = lr.c;
            for fold in 0..d.grid.n_folds {
                let wf: Vec<f64> =
                    d.w.iter()
                        .zip(&d.folds)
                        .map(|(&w, &f)| if usize::from(f) == fold { 0.0 } else { w })
                        .collect();
                let m = lr.fit(&d.x, &d.y, &wf, None)?;
                folds_out.push(
                    json!({"c": c, "fold": fold, "objective": m.objective, "n_iter": m.n_iter}),
                );
            }
        }
    }
    println!(
        "{}",
        json!({
            "secs": secs,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "best_c": r.best_c,
            "cv": r.scores,
            "refit": {"coef": r.model.coef, "intercept": r.model.intercept, "objective": r.model.objective, "n_iter": r.model.n_iter, "converged": r.model.converged},
            "verify": folds_out,
        })
    );
    Ok(())
}

/// One fit of forust's trees as `rarecall`'s challenger sets them up (`model::gbdt`:
/// log loss, learning rate 0.1, the given depth, no subsampling, seed 42), for a fixed
/// number of rounds on the rows of weight > 0 of D/x.npy with the loss weights
/// D/w.npy, column-major copy included (as `fit_rounds` makes it). Prints the
/// seconds and the weighted training log loss (to check both sides fit alike).
fn gbdt(dir: &Path, threads: usize, rounds: usize, depth: usize) -> Result<()> {
    use forust_ml::GradientBooster;
    use forust_ml::data::Matrix as ForustMatrix;
    let (shape, data) = read_f64(&dir.join("x.npy"))?;
    let x = Matrix::from_vec(shape[0], shape[1], data)?;
    let y = read_f64(&dir.join("y.npy"))?.1;
    let w = read_f64(&dir.join("w.npy"))?.1;
    let t0 = Instant::now();
    let rows: Vec<usize> = (0..y.len()).filter(|&i| w[i] > 0.0).collect();
    let (n, p) = (rows.len(), x.n_cols());
    let mut cols = vec![0.0; n * p];
    let data = x.data();
    for (r, &i) in rows.iter().enumerate() {
        for (j, v) in data[i * p..(i + 1) * p].iter().enumerate() {
            cols[j * n + r] = *v;
        }
    }
    let fy: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
    let fw: Vec<f64> = rows.iter().map(|&i| w[i]).collect();
    let m = ForustMatrix::new(&cols, n, p);
    let mut b = GradientBooster::default()
        .set_iterations(rounds)
        .set_learning_rate(0.1)
        .set_max_depth(depth)
        .set_seed(42)
        .set_num_threads(Some(threads));
    b.fit(&m, &fy, &fw, None).map_err(|e| anyhow!("{e}"))?;
    let secs = t0.elapsed().as_secs_f64();
    let margin = b.predict(&m, true);
    let (mut loss, mut total) = (0.0, 0.0);
    for ((z, yi), wi) in margin.iter().zip(&fy).zip(&fw) {
        let p = 1.0 / (1.0 + (-z).exp());
        loss -= wi * (yi * p.max(1e-15).ln() + (1.0 - yi) * (1.0 - p).max(1e-15).ln());
        total += wi;
    }
    println!(
        "{}",
        json!({"secs": secs, "rows": n, "cols": p, "trees": b.trees.len(), "train_log_loss": loss / total, "peak_rss_mib": peak_rss_mib()})
    );
    Ok(())
}

/// Trees as the challenger trains them (early stopping with fold 0 held out, then a
/// refit on every row with the kept rounds), with the given settings; prints the test
/// window's average precision of the refit's margins (D/x_test.npy, D/y_test.npy).
#[allow(clippy::too_many_arguments)]
fn gbdt_eval(
    dir: &Path,
    depth: usize,
    lr: f32,
    min_leaf: f32,
    l2: f32,
    es: usize,
    rounds: usize,
    normalize: bool,
    weights: &str,
) -> Result<()> {
    use forust_ml::GradientBooster;
    use forust_ml::data::Matrix as ForustMatrix;
    use forust_ml::metric::Metric;
    let (shape, data) = read_f64(&dir.join("x.npy"))?;
    let x = Matrix::from_vec(shape[0], shape[1], data)?;
    let y = read_f64(&dir.join("y.npy"))?.1;
    let mut w = read_f64(&dir.join(weights))?.1;
    if normalize {
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        w.iter_mut().for_each(|v| *v /= mean);
    }
    let folds = read_folds(&dir.join("folds.npy"))?;
    let (shape_t, data_t) = read_f64(&dir.join("x_test.npy"))?;
    let xt = Matrix::from_vec(shape_t[0], shape_t[1], data_t)?;
    let yt = read_f64(&dir.join("y_test.npy"))?.1;
    let p = x.n_cols();
    let cols = |m: &Matrix, rows: &[usize]| {
        let n = rows.len();
        let mut out = vec![0.0; n * p];
        for (r, &i) in rows.iter().enumerate() {
            for (j, v) in m.data()[i * p..(i + 1) * p].iter().enumerate() {
                out[j * n + r] = *v;
            }
        }
        out
    };
    let booster = |n: usize, stop: bool| {
        GradientBooster::default()
            .set_iterations(n)
            .set_learning_rate(lr)
            .set_max_depth(depth)
            .set_min_leaf_weight(min_leaf)
            .set_l2(l2)
            .set_seed(42)
            .set_num_threads(Some(1))
            .set_evaluation_metric(stop.then_some(Metric::LogLoss))
            .set_early_stopping_rounds(stop.then_some(es))
    };
    let pick = |v: &[f64], rows: &[usize]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let fit: Vec<usize> = (0..y.len())
        .filter(|&i| folds[i] != 0 && w[i] > 0.0)
        .collect();
    let held: Vec<usize> = (0..y.len())
        .filter(|&i| folds[i] == 0 && w[i] > 0.0)
        .collect();
    let (fd, hd) = (cols(&x, &fit), cols(&x, &held));
    let (fy, fw, hy, hw) = (
        pick(&y, &fit),
        pick(&w, &fit),
        pick(&y, &held),
        pick(&w, &held),
    );
    let mut b = booster(rounds, true);
    b.fit(
        &ForustMatrix::new(&fd, fit.len(), p),
        &fy,
        &fw,
        Some(vec![(ForustMatrix::new(&hd, held.len(), p), &hy, &hw)]),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let kept = b.prediction_iteration.unwrap_or(b.trees.len()).max(1);
    let all: Vec<usize> = (0..y.len()).filter(|&i| w[i] > 0.0).collect();
    let ad = cols(&x, &all);
    let mut r = booster(kept, false);
    r.fit(
        &ForustMatrix::new(&ad, all.len(), p),
        &pick(&y, &all),
        &pick(&w, &all),
        None,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let trows: Vec<usize> = (0..yt.len()).collect();
    let td = cols(&xt, &trows);
    let margin = r.predict(&ForustMatrix::new(&td, yt.len(), p), true);
    let curve = precision_recall_curve(&yt, &margin, None)?;
    println!(
        "{}",
        json!({"rounds": kept, "test_ap": rarecall::threshold::average_precision_of(&curve)})
    );
    Ok(())
}

fn threshold(dir: &Path, reps: usize) -> Result<()> {
    let y = read_f64(&dir.join("y.npy"))?.1;
    let w = read_f64(&dir.join("eval_w.npy"))?.1;
    let s = read_f64(&dir.join("oof.npy"))?.1;
    let rule = ThresholdRule {
        target_precision: 0.4,
        cap: None,
    }
    .check()?;
    let mut secs = Vec::new();
    let mut out = None;
    for _ in 0..reps {
        let t0 = Instant::now();
        let curve = precision_recall_curve(&y, &s, Some(&w))?;
        let choice = rule.select(&curve)?;
        let ap = rarecall::threshold::average_precision_of(&curve);
        secs.push(t0.elapsed().as_secs_f64());
        out = Some((curve.thresholds.len(), choice, ap));
    }
    let (points, choice, ap) = out.ok_or_else(|| anyhow!("--reps 0"))?;
    println!(
        "{}",
        json!({"secs": secs, "rows": y.len(), "points": points, "choice": choice, "ap": ap})
    );
    Ok(())
}

/// STREAM-like bandwidth: a read-only sum and a triad `a = b + s * c` over arrays of
/// `mib` MiB each, best of 5, on one thread and on every core.
fn stream(mib: usize) -> Result<()> {
    let n = mib * 1024 * 1024 / 8;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let b: Vec<f64> = (0..n).map(|i| i as f64 * 1e-9).collect();
    let c: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 1e-9).collect();
    let mut a = vec![0.0_f64; n];
    let read = |parts: usize| -> f64 {
        let chunk = n.div_ceil(parts);
        let t0 = Instant::now();
        let s: f64 = std::thread::scope(|sc| {
            let hs: Vec<_> = b
                .chunks(chunk)
                .map(|part| {
                    sc.spawn(move || {
                        let mut acc = [0.0_f64; 8];
                        for ch in part.chunks_exact(8) {
                            for k in 0..8 {
                                acc[k] += ch[k];
                            }
                        }
                        acc.iter().sum::<f64>()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        std::hint::black_box(s);
        (n * 8) as f64 / t0.elapsed().as_secs_f64() / 1e9
    };
    let mut triad = |parts: usize| -> f64 {
        let chunk = n.div_ceil(parts);
        let t0 = Instant::now();
        std::thread::scope(|sc| {
            for ((ap, bp), cp) in a
                .chunks_mut(chunk)
                .zip(b.chunks(chunk))
                .zip(c.chunks(chunk))
            {
                sc.spawn(move || {
                    for ((x, y), z) in ap.iter_mut().zip(bp).zip(cp) {
                        *x = y + 3.0 * z;
                    }
                });
            }
        });
        std::hint::black_box(&a);
        (3 * n * 8) as f64 / t0.elapsed().as_secs_f64() / 1e9
    };
    let best = |f: &mut dyn FnMut() -> f64| (0..5).map(|_| f()).fold(0.0, f64::max);
    let r1 = best(&mut || read(1));
    let rn = best(&mut || read(threads));
    let t1 = best(&mut || triad(1));
    let tn = best(&mut || triad(threads));
    println!(
        "{}",
        json!({"mib": mib, "threads": threads, "read_gbs_1": r1, "read_gbs_all": rn, "triad_gbs_1": t1, "triad_gbs_all": tn})
    );
    Ok(())
}
