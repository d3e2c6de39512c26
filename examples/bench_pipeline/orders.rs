//! The orders of the benchmark and the hand-written loop that does the work of
//! `graphs/orders.json` on them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

const COUNTRIES: [&str; 10] = ["FR", "US", "DE", "IT", "ES", "NG", "KP", "RU", "GB", "JP"];

/// Writes `n` orders as JSON lines, the same for the same `n`, in the form of
/// `graphs/data/orders.jsonl`.
pub(crate) fn generate(path: &Path, n: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    for id in 1..=n {
        writeln!(
            out,
            r#"{{"id": {id}, "customer": "c{:03}", "country": "{}", "amount": {}, "items": {}, "previous_orders": {}}}"#,
            next(100),
            COUNTRIES[next(10) as usize],
            next(5000),
            1 + next(9),
            next(5),
        )?;
    }
    out.flush()
}

/// One order, as the loop parses it: the strongest honest version of the graph's parse is a
/// typed struct, not a generic JSON value.
#[derive(Deserialize)]
struct Order<'a> {
    id: i64,
    #[serde(borrow)]
    customer: &'a str,
    #[serde(borrow)]
    country: &'a str,
    amount: i64,
    previous_orders: i64,
}

/// One flag, with its fields in the order the graph writes them (sorted by key).
#[derive(Serialize)]
struct Flag<'a> {
    amount: i64,
    class: &'a str,
    customer: &'a str,
    id: i64,
}

/// One summary row, as the graph's `Aggregate` in `final` mode and `Split` print it.
#[derive(Serialize)]
struct Row<'a> {
    avg: f64,
    count: u64,
    group: &'a str,
    max: i64,
    min: i64,
    sum: i64,
}

#[derive(Clone, Copy)]
struct Stats {
    count: u64,
    sum: i64,
    min: i64,
    max: i64,
}

impl Stats {
    fn add(entry: Option<&mut Stats>, amount: i64) -> Option<Stats> {
        match entry {
            Some(s) => {
                s.count += 1;
                s.sum += amount;
                s.min = s.min.min(amount);
                s.max = s.max.max(amount);
                None
            }
            None => Some(Stats {
                count: 1,
                sum: amount,
                min: amount,
                max: amount,
            }),
        }
    }
}

/// The three rules of `graphs/orders.json`.
fn classes(order: &Order<'_>) -> impl Iterator<Item = &'static str> {
    let rules = [
        ("high_value", order.amount >= 1000),
        (
            "suspicious_country",
            matches!(order.country, "NG" | "KP" | "RU"),
        ),
        ("repeat_customer", order.previous_orders >= 2),
    ];
    rules.into_iter().filter(|r| r.1).map(|r| r.0)
}

/// Reads `input`, writes every flag to `flagged` and returns the summary as the graph prints
/// it, one JSON line per class.
pub(crate) fn run(input: &Path, flagged: &Path) -> std::io::Result<String> {
    let reader = BufReader::with_capacity(1 << 16, File::open(input)?);
    let mut out = BufWriter::with_capacity(1 << 16, File::create(flagged)?);
    let mut per_class: BTreeMap<&'static str, Stats> = BTreeMap::new();
    for line in reader.lines() {
        let line = line?;
        let order: Order<'_> = serde_json::from_str(&line)?;
        for class in classes(&order) {
            let flag = Flag {
                amount: order.amount,
                class,
                customer: order.customer,
                id: order.id,
            };
            serde_json::to_writer(&mut out, &flag)?;
            out.write_all(b"\n")?;
            if let Some(first) = Stats::add(per_class.get_mut(class), order.amount) {
                per_class.insert(class, first);
            }
        }
    }
    out.flush()?;
    let mut summary = String::new();
    for (group, s) in per_class {
        let row = Row {
            avg: s.sum as f64 / s.count as f64,
            count: s.count,
            group,
            max: s.max,
            min: s.min,
            sum: s.sum,
        };
        summary.push_str(&serde_json::to_string(&row)?);
        summary.push('\n');
    }
    Ok(summary)
}
