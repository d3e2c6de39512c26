//! `reflow components`: what can be used in a graph.

use std::process::ExitCode;

use reflow_network::ComponentInfo;

pub(crate) fn list(json: bool) -> anyhow::Result<ExitCode> {
    let registry = reflow_actors::registry();
    if json {
        let items: Vec<_> = registry.components().map(to_json).collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(ExitCode::SUCCESS);
    }
    for info in registry.components() {
        println!("{}", info.name);
        println!("    {}", info.description);
        println!("    inports:  {}", names(&info.ports.inports));
        println!("    outports: {}", names(&info.ports.outports));
    }
    Ok(ExitCode::SUCCESS)
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".to_string()
    } else {
        list.join(", ")
    }
}

fn to_json(info: &ComponentInfo) -> serde_json::Value {
    serde_json::json!({
        "name": info.name,
        "description": info.description,
        "inports": info.ports.inports,
        "outports": info.ports.outports,
    })
}
