//! Rule throughput: 1,000,000 small facts (`{"id", "amount", "country"}` objects, built
//! before timing) through a chain of 10 `Rule` nodes, each `matched` feeding the next rule's
//! `in`, beside the same 10 conditions as hand-written Rust closures over the same messages,
//! in the same run and the same chain shape: 10 tokio tasks joined by bounded
//! `tokio::sync::mpsc` channels of the same capacity (1024), each taking up to 256 queued
//! facts per wake-up as the runtime does. Every condition holds for every fact, so each
//! fact is evaluated by all 10 rules.
//!
//! A third chain runs the same conditions wrapped in `dyn(...)`, which keeps their meaning
//! but takes them out of the directly evaluated subset: the CEL interpreter's figure.
//! Then, without any runtime, a plain loop on one thread evaluates the 10 conditions on
//! every fact: closures, direct CEL, and the interpreter converting each fact once per rule
//! or once for all 10.
//!
//! Run with `cargo run --release --example bench_rules [-- FACTS [ROUNDS]]`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reflow::actors::expr::{Expr, Fact};
use reflow::{Actor, ActorResult, Context, Message, Network, NetworkConfig, Ports};
use serde_json::json;
use tokio::sync::mpsc;

const CAPACITY: usize = 1024;
const BATCH: usize = 256;
const COUNTRIES: [&str; 5] = ["FR", "DE", "US", "IT", "ES"];

/// The 10 conditions, in CEL.
const RULES: [&str; 10] = [
    "fact.amount >= 0",
    "fact.country != 'XX'",
    "fact.id >= 0 && fact.amount < 1000",
    "has(fact.country)",
    "fact.country in ['FR', 'DE', 'US', 'IT', 'ES']",
    "fact.amount * 2 >= fact.amount",
    "size(fact.country) == 2",
    "fact.id + 1 > fact.id",
    "!(fact.amount > 5000 && fact.country == 'XX')",
    "fact.id % 7 != 7",
];

type Check = fn(&Message) -> bool;

/// Evaluates the 10 rules on a fact; returns how many held.
type EvalAll<'f> = &'f dyn Fn(&Message) -> usize;

fn int(m: &Message, key: &str) -> Option<i64> {
    m.get(key).and_then(Message::as_i64)
}

fn text<'m>(m: &'m Message, key: &str) -> Option<&'m str> {
    m.get(key).and_then(Message::as_str)
}

/// The same 10 conditions, by hand.
const CLOSURES: [Check; 10] = [
    |m| int(m, "amount").is_some_and(|a| a >= 0),
    |m| text(m, "country").is_some_and(|c| c != "XX"),
    |m| int(m, "id").is_some_and(|i| i >= 0) && int(m, "amount").is_some_and(|a| a < 1000),
    |m| m.get("country").is_some(),
    |m| text(m, "country").is_some_and(|c| ["FR", "DE", "US", "IT", "ES"].contains(&c)),
    |m| int(m, "amount").is_some_and(|a| a.checked_mul(2).is_some_and(|d| d >= a)),
    |m| text(m, "country").is_some_and(|c| c.chars().count() == 2),
    |m| int(m, "id").is_some_and(|i| i.checked_add(1).is_some_and(|n| n > i)),
    |m| !(int(m, "amount").is_some_and(|a| a > 5000) && text(m, "country") == Some("XX")),
    |m| int(m, "id").is_some_and(|i| i % 7 != 7),
];

fn facts(n: usize) -> Arc<[Message]> {
    (0..n)
        .map(|i| {
            let i = i as i64;
            Message::from(
                json!({"id": i, "amount": i % 1000, "country": COUNTRIES[i as usize % 5]}),
            )
        })
        .collect()
}

struct Source(Arc<[Message]>);

impl Actor for Source {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        for fact in self.0.iter() {
            ctx.send("out", fact.clone()).await?;
        }
        Ok(())
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }
}

#[derive(Default)]
struct Count(Arc<std::sync::atomic::AtomicU64>);

impl Actor for Count {
    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

async fn reflow_chain(facts: &Arc<[Message]>, rules: &[String]) -> Duration {
    let config = NetworkConfig {
        capacity: CAPACITY,
        ..NetworkConfig::default()
    };
    let mut net = Network::with_config(reflow::actors::registry(), config);
    let no_ports = Vec::<String>::new;
    net.add_actor(
        "source",
        Source(facts.clone()),
        Ports::new(no_ports(), ["out"]),
    )
    .unwrap();
    let mut prev = ("source".to_string(), "out");
    for (i, rule) in rules.iter().enumerate() {
        let name = format!("rule{i}");
        net.add_node(&name, "Rule", json!({ "when": rule }))
            .unwrap();
        net.add_connection((prev.0.as_str(), prev.1), (name.as_str(), "in"))
            .unwrap();
        prev = (name, "matched");
    }
    let seen = Count::default();
    let counter = seen.0.clone();
    net.add_actor("sink", seen, Ports::new(["in"], no_ports()))
        .unwrap();
    net.add_connection((prev.0.as_str(), prev.1), ("sink", "in"))
        .unwrap();
    let started = Instant::now();
    let report = net.start().unwrap().wait().await;
    let elapsed = started.elapsed();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        counter.load(std::sync::atomic::Ordering::Relaxed),
        facts.len() as u64
    );
    elapsed
}

async fn raw_chain(facts: &Arc<[Message]>) -> Duration {
    let started = Instant::now();
    let (first_tx, mut rx) = mpsc::channel::<Message>(CAPACITY);
    for check in CLOSURES {
        let (tx, next_rx) = mpsc::channel::<Message>(CAPACITY);
        let mut input = std::mem::replace(&mut rx, next_rx);
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(BATCH);
            while input.recv_many(&mut buf, BATCH).await > 0 {
                for fact in buf.drain(..) {
                    if check(&fact) && tx.send(fact).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
    let sink = tokio::spawn(async move {
        let (mut count, mut buf) = (0u64, Vec::with_capacity(BATCH));
        while rx.recv_many(&mut buf, BATCH).await > 0 {
            count += buf.drain(..).count() as u64;
        }
        count
    });
    let feed = facts.clone();
    tokio::spawn(async move {
        for fact in feed.iter() {
            first_tx.send(fact.clone()).await.unwrap();
        }
    });
    assert_eq!(sink.await.unwrap(), facts.len() as u64);
    started.elapsed()
}

/// Evaluates every rule on every fact on this thread; returns the time and the matches.
fn eval_loop(facts: &[Message], mut eval: impl FnMut(&Message) -> usize) -> (Duration, usize) {
    let started = Instant::now();
    let matched = facts.iter().map(|fact| eval(black_box(fact))).sum();
    (started.elapsed(), black_box(matched))
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn best(rounds: usize, mut run: impl FnMut() -> Duration) -> Duration {
    (0..rounds).map(|_| run()).min().unwrap_or_default()
}

async fn chains(facts: &Arc<[Message]>, rounds: usize) {
    let n = facts.len();
    let cel: Vec<String> = RULES.iter().map(|r| r.to_string()).collect();
    let interpreted: Vec<String> = RULES.iter().map(|r| format!("dyn({r})")).collect();
    let (mut raw, mut ours, mut slow) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        raw = raw.min(raw_chain(facts).await);
        ours = ours.min(reflow_chain(facts, &cel).await);
        slow = slow.min(reflow_chain(facts, &interpreted).await);
    }
    println!(
        "chain of {} rules, {n} facts, best of {rounds}:",
        RULES.len()
    );
    let evals = n * RULES.len();
    for (label, d) in [
        ("tokio tasks + Rust closures", raw),
        ("reflow Rule nodes (CEL)", ours),
        ("reflow Rule nodes, dyn() (interpreter)", slow),
    ] {
        println!(
            "  {label:<40} {:>11.0} facts/s {:>12.0} rule evals/s",
            rate(n, d),
            rate(evals, d)
        );
    }
    println!(
        "  ratio reflow CEL / closures              {:>11.2}",
        rate(n, ours) / rate(n, raw)
    );
    println!(
        "  ratio interpreter / closures             {:>11.2}",
        rate(n, slow) / rate(n, raw)
    );
}

fn loops(facts: &[Message], rounds: usize) {
    let direct: Vec<Expr> = RULES.iter().map(|r| Expr::compile(r).unwrap()).collect();
    assert!(direct.iter().all(Expr::is_direct));
    let slow: Vec<Expr> = RULES
        .iter()
        .map(|r| Expr::interpreted(r).unwrap())
        .collect();
    let check = |f: &Message| CLOSURES.iter().filter(|c| c(f)).count();
    let cel = |f: &Message| {
        let fact = Fact::new(f);
        direct
            .iter()
            .filter(|e| e.eval_bool(&fact) == Ok(true))
            .count()
    };
    let per_rule = |f: &Message| {
        slow.iter()
            .filter(|e| e.eval_bool(&Fact::new(f)) == Ok(true))
            .count()
    };
    let once = |f: &Message| {
        let fact = Fact::new(f);
        slow.iter()
            .filter(|e| e.eval_bool(&fact) == Ok(true))
            .count()
    };
    let evals = facts.len() * RULES.len();
    let slice = &facts[..facts.len() / 5];
    println!(
        "plain loop on one thread, {} rules per fact, best of {rounds}:",
        RULES.len()
    );
    let runs: [(&str, &[Message], EvalAll<'_>); 4] = [
        ("Rust closures", facts, &check),
        ("CEL, direct evaluation", facts, &cel),
        ("CEL interpreter, convert per rule", slice, &per_rule),
        ("CEL interpreter, convert once per fact", slice, &once),
    ];
    for (label, input, f) in runs {
        let mut matched = 0;
        let d = best(rounds, || {
            let (d, m) = eval_loop(input, f);
            matched = m;
            d
        });
        assert_eq!(matched, input.len() * RULES.len(), "{label}");
        let evals = evals * input.len() / facts.len();
        println!(
            "  {label:<40} {:>8.1} ns/eval {:>12.0} rule evals/s",
            d.as_nanos() as f64 / evals as f64,
            rate(evals, d)
        );
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let facts = facts(n);
    chains(&facts, rounds).await;
    loops(&facts, rounds);
}
