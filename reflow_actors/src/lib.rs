//! Ready-made reflow components, one per module. [`registry`] returns a registry holding
//! all of them; [`register_all`] adds them to an existing one.
//!
//! The rule nodes ([`Rule`], [`Switch`], [`Map`], [`Filter`], [`Aggregate`], [`Dedupe`]) are
//! configured from the process `metadata` with CEL expressions over the incoming fact,
//! bound to `fact`; [`expr`] compiles and evaluates those expressions.
//!
//! ```
//! let registry = reflow_actors::registry();
//! assert!(registry.info("Range").is_some());
//! ```

mod aggregate;
mod batch;
mod collect;
pub mod config;
mod console;
mod dedupe;
mod delay;
mod error_port;
pub mod expr;
mod fields;
mod filter;
mod forward;
mod interval;
mod join;
mod map;
mod range;
mod read_lines;
mod rule;
mod split;
mod switch;
mod throttle;
mod write_lines;

/// Bytes that `ReadLines` and `WriteLines` move per read or write of their file: each goes
/// through tokio's blocking pool, so one per 256 KiB rather than one per 8 KiB.
const FILE_BUFFER: usize = 256 * 1024;

#[cfg(test)]
mod harness;
pub mod testing;

pub use aggregate::Aggregate;
pub use batch::Batch;
pub use collect::Collect;
pub use console::Console;
pub use dedupe::Dedupe;
pub use delay::Delay;
pub use filter::Filter;
pub use forward::Forward;
pub use interval::Interval;
pub use join::Join;
pub use map::Map;
pub use range::Range;
pub use read_lines::ReadLines;
pub use rule::Rule;
pub use split::Split;
pub use switch::Switch;
pub use throttle::Throttle;
pub use write_lines::WriteLines;

use reflow_network::Registry;

/// A registry with every component of this crate.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    register_all(&mut registry);
    registry
}

/// Adds every component of this crate to `registry`.
pub fn register_all(registry: &mut Registry) {
    registry
        .register::<Aggregate>()
        .register::<Batch>()
        .register::<Collect>()
        .register::<Console>()
        .register::<Dedupe>()
        .register::<Delay>()
        .register::<Filter>()
        .register::<Forward>()
        .register::<Interval>()
        .register::<Join>()
        .register::<Map>()
        .register::<Range>()
        .register::<ReadLines>()
        .register::<Rule>()
        .register::<Split>()
        .register::<Switch>()
        .register::<Throttle>()
        .register::<WriteLines>();
}
