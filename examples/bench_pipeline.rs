//! A real pipeline end to end: `graphs/orders.json` run by the `reflow` binary on N generated
//! orders (default 1,000,000), beside a one-thread hand-written Rust loop that does the same
//! work on the same file (typed parse, the three rules, the per-class aggregate, the flags
//! written as JSON lines), in the same run.
//!
//! Each round checks that both wrote the same flags (as sorted lines: the graph's three rules
//! run concurrently) and printed the same summary, then prints facts per second for each,
//! the CPU time of the `reflow` process, their ratio and the target of issue 12 item 2
//! (reflow at least 0.5x the loop). The files go to `target/bench-pipeline/`.
//!
//! Run with `cargo run --release --example bench_pipeline [-- ORDERS [ROUNDS]]`; it builds the
//! release `reflow` binary first when run through cargo.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "bench_pipeline/orders.rs"]
mod orders;

/// Issue 12, item 2: reflow at least this fraction of the loop's facts per second.
const TARGET: f64 = 0.5;

/// The loop uses the allocator the `reflow` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The paths of one benchmark setup.
struct Setup {
    input: PathBuf,
    graph: PathBuf,
    reflow_flags: PathBuf,
    loop_flags: PathBuf,
    reflow: PathBuf,
}

fn setup(n: u64) -> Setup {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench-pipeline");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join(format!("orders-{n}.jsonl"));
    if !input.exists() {
        orders::generate(&input, n).unwrap();
    }
    let setup = Setup {
        graph: dir.join("orders.json"),
        reflow_flags: dir.join("flagged-reflow.jsonl"),
        loop_flags: dir.join("flagged-loop.jsonl"),
        reflow: std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("reflow"),
        input,
    };
    let text = std::fs::read_to_string(root.join("graphs/orders.json")).unwrap();
    let mut graph: serde_json::Value = serde_json::from_str(&text).unwrap();
    let processes = &mut graph["processes"];
    processes["read"]["metadata"]["path"] = setup.input.to_str().unwrap().into();
    processes["flagged"]["metadata"]["path"] = setup.reflow_flags.to_str().unwrap().into();
    std::fs::write(&setup.graph, graph.to_string()).unwrap();
    setup
}

/// Builds the release `reflow` binary when run through cargo, so that the figure is for the
/// code at hand.
fn build_reflow() {
    let Ok(cargo) = std::env::var("CARGO") else {
        return;
    };
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "reflow"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building the reflow binary failed");
}

/// User plus system CPU seconds of this process's waited-for children.
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 16 and 17 of proc(5) (cutime, cstime), counted from the state (field 3).
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    ticks / 100.0
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort_unstable();
    lines
}

/// One round: the loop, then reflow; seconds of each and reflow's CPU seconds.
fn round(s: &Setup) -> (f64, f64, f64) {
    let started = Instant::now();
    let summary = orders::run(&s.input, &s.loop_flags).unwrap();
    let loop_secs = started.elapsed().as_secs_f64();

    let cpu_before = children_cpu();
    let started = Instant::now();
    let out = Command::new(&s.reflow)
        .arg("run")
        .arg(&s.graph)
        .output()
        .unwrap();
    let reflow_secs = started.elapsed().as_secs_f64();
    let cpu = children_cpu() - cpu_before;

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "reflow failed: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        summary,
        "summaries differ"
    );
    let (ours, theirs) = (sorted_lines(&s.reflow_flags), sorted_lines(&s.loop_flags));
    assert_eq!(ours.len(), theirs.len(), "numbers of flags differ");
    assert!(ours == theirs, "flags differ");
    (loop_secs, reflow_secs, cpu)
}

/// Min, median and max of `values`.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn print_spread(label: &str, values: &[f64]) {
    let (min, med, max) = spread(values);
    println!("{label:<30}: min {min:>12.2}  median {med:>12.2}  max {max:>12.2}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    build_reflow();
    let setup = setup(n);
    println!("graphs/orders.json on {n} orders, {rounds} rounds, same output checked each round");
    let (mut ours, mut theirs, mut ratios, mut cpus) = (vec![], vec![], vec![], vec![]);
    for i in 1..=rounds {
        let (loop_secs, reflow_secs, cpu) = round(&setup);
        let (r, l) = (n as f64 / reflow_secs, n as f64 / loop_secs);
        println!(
            "round {i}: reflow {r:>10.0} facts/s ({cpu:.2} s CPU in {reflow_secs:.2} s), \
             loop {l:>10.0} facts/s, ratio {:.2}",
            r / l
        );
        ours.push(r);
        theirs.push(l);
        ratios.push(r / l);
        cpus.push(cpu / reflow_secs);
    }
    print_spread("reflow facts/s", &ours);
    print_spread("one-thread loop facts/s", &theirs);
    print_spread("reflow CPUs busy", &cpus);
    print_spread("ratio reflow/loop (per round)", &ratios);
    let median = spread(&ratios).1;
    let verdict = if median >= TARGET { "met" } else { "not met" };
    println!("target (issue 12 item 2): reflow at least {TARGET}x the loop (median): {verdict}");
}
