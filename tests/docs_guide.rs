//! docs/writing-components.md shows code from examples/custom_components.rs, which CI builds
//! and tests: every Rust block of the guide must appear in the example word for word, so the
//! guide cannot drift from code that compiles.

use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// The contents of every fenced block of `lang` in `markdown`.
fn blocks(markdown: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    let mut found = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```\n").expect("a closed block");
        found.push(body[..end].to_string());
        rest = &body[end..];
    }
    found
}

#[test]
fn every_rust_block_of_the_guide_is_in_the_example() {
    let guide = read("docs/writing-components.md");
    let example = read("examples/custom_components.rs");
    let rust = blocks(&guide, "rust");
    assert!(
        rust.len() >= 8,
        "the guide shows its code: {} blocks",
        rust.len()
    );
    for block in rust {
        assert!(
            example.contains(&block),
            "not in examples/custom_components.rs:\n{block}"
        );
    }
}

#[test]
fn the_guide_is_linked_from_the_readme() {
    assert!(read("README.md").contains("docs/writing-components.md"));
}
