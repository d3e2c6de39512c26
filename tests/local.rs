//! The local runtime, the rule nodes, the flow components and the `reflow` command.
//! One test binary for several files (they are modules here): each integration-test binary
//! links the whole runtime, so one per file filled the disk and the link time of CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "cli.rs"]
mod cli;
#[path = "docs_guide.rs"]
mod docs_guide;
#[path = "flow_components.rs"]
mod flow_components;
#[path = "graph_validate.rs"]
mod graph_validate;
#[path = "hardening_actors.rs"]
mod hardening_actors;
#[path = "orders.rs"]
mod orders;
#[path = "rules_run.rs"]
mod rules_run;
#[path = "rules_validate.rs"]
mod rules_validate;
#[path = "runtime_backpressure.rs"]
mod runtime_backpressure;
#[path = "runtime_deadlock.rs"]
mod runtime_deadlock;
#[path = "runtime_external.rs"]
mod runtime_external;
#[path = "runtime_failures.rs"]
mod runtime_failures;
#[path = "runtime_fanout.rs"]
mod runtime_fanout;
#[path = "runtime_lifecycle.rs"]
mod runtime_lifecycle;
#[path = "runtime_state.rs"]
mod runtime_state;

/// Every file in tests/ runs: it is a test target of Cargo.toml or a module of one.
#[test]
fn every_test_file_belongs_to_a_test_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let targets: Vec<String> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("path = \"tests/"))
        .map(|rest| rest.trim_end_matches('"').to_string())
        .collect();
    let mut included = targets.clone();
    for target in &targets {
        let source = std::fs::read_to_string(root.join("tests").join(target)).unwrap();
        included.extend(source.lines().filter_map(|line| {
            let rest = line.strip_prefix("#[path = \"")?;
            Some(rest.trim_end_matches("\"]").to_string())
        }));
    }
    for entry in std::fs::read_dir(root.join("tests")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".rs") {
            assert!(
                included.contains(&name),
                "tests/{name} is in no test binary"
            );
        }
    }
}
