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
mod config;
mod console;
mod dedupe;
mod error_port;
pub mod expr;
mod fields;
mod filter;
mod forward;
mod map;
mod range;
mod rule;
mod switch;

#[cfg(test)]
mod testing;

pub use aggregate::Aggregate;
pub use console::Console;
pub use dedupe::Dedupe;
pub use filter::Filter;
pub use forward::Forward;
pub use map::Map;
pub use range::Range;
pub use rule::Rule;
pub use switch::Switch;

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
        .register::<Console>()
        .register::<Dedupe>()
        .register::<Filter>()
        .register::<Forward>()
        .register::<Map>()
        .register::<Range>()
        .register::<Rule>()
        .register::<Switch>();
}
