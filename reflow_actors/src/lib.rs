//! Ready-made reflow components, one per module. [`registry`] returns a registry holding
//! all of them; [`register_all`] adds them to an existing one.
//!
//! ```
//! let registry = reflow_actors::registry();
//! assert!(registry.info("Range").is_some());
//! ```

mod batch;
mod collect;
mod config;
mod console;
mod delay;
mod forward;
mod interval;
mod join;
mod range;
mod read_lines;
mod split;
mod throttle;
mod write_lines;

#[cfg(test)]
mod harness;
#[cfg(test)]
mod testing;

pub use batch::Batch;
pub use collect::Collect;
pub use console::Console;
pub use delay::Delay;
pub use forward::Forward;
pub use interval::Interval;
pub use join::Join;
pub use range::Range;
pub use read_lines::ReadLines;
pub use split::Split;
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
        .register::<Batch>()
        .register::<Collect>()
        .register::<Console>()
        .register::<Delay>()
        .register::<Forward>()
        .register::<Interval>()
        .register::<Join>()
        .register::<Range>()
        .register::<ReadLines>()
        .register::<Split>()
        .register::<Throttle>()
        .register::<WriteLines>();
}
