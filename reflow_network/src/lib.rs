//! The core of reflow: messages, the [`Actor`] trait and its [`Context`], the component
//! [`Registry`], the [`Graph`] model (FBP JSON and the Reflow export variant), and the local
//! [`Network`] runtime that runs a graph as one actor per process joined by bounded, ordered
//! edges.
//!
//! ```
//! use reflow_network::{Actor, ActorResult, Context, Message, Network, Ports, Registry};
//! # #[tokio::main] async fn main() -> Result<(), reflow_network::Error> {
//! struct Emit;
//! impl Actor for Emit {
//!     async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
//!         for i in 0..3 {
//!             ctx.send("out", Message::Integer(i)).await?;
//!         }
//!         Ok(())
//!     }
//!     async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
//!         Ok(())
//!     }
//! }
//!
//! let mut net = Network::new(Registry::new());
//! net.add_actor("emit", Emit, Ports::new(Vec::<String>::new(), ["out"]))?;
//! let report = net.start()?.wait().await;
//! assert_eq!(report.finished, ["emit"]);
//! # Ok(()) }
//! ```

mod activity;
mod actor;
mod context;
mod deadlock;
mod edge;
mod error;
mod events;
mod external;
pub mod graph;
mod instances;
mod message;
mod network;
mod process;
mod registry;
mod remote;
mod stall;

pub use actor::{Actor, ActorResult, Component, ComponentInfo, Ports};
pub use context::Context;
pub use edge::Origin;
pub use error::{ActorError, ConfigError, Error};
pub use events::{Failure, NetworkEvent, Report};
pub use external::{Injector, Outputs, Tap, Tapped, TryInjectError, TryOutputError};
pub use graph::{Graph, Problem, ProblemKind, Problems, Warning, WarningKind};
pub use instances::{Instance, Instances};
pub use message::{Key, Message, Object, INTERNED_KEYS, INTERNED_LEN};
pub use network::{Network, NetworkConfig, RunningNetwork};
pub use process::BoxedActor;
pub use registry::{BuildError, Registry};
pub use remote::RemoteResolver;
