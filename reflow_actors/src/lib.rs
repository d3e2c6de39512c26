//! Ready-made reflow components, one per module. [`registry`] returns a registry holding
//! all of them; [`register_all`] adds them to an existing one.
//!
//! ```
//! let registry = reflow_actors::registry();
//! assert!(registry.info("Range").is_some());
//! ```

mod config;
mod console;
mod error_port;
pub mod expr;
mod fields;
mod forward;
mod range;
mod rule;

#[cfg(test)]
mod testing;

pub use console::Console;
pub use forward::Forward;
pub use range::Range;
pub use rule::Rule;

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
        .register::<Console>()
        .register::<Forward>()
        .register::<Range>()
        .register::<Rule>();
}
