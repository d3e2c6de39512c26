//! reflow: an actor-based dataflow runtime. Graphs written in JSON name processes (actors)
//! and the connections between their ports; the runtime runs each process as an actor
//! joined by bounded, ordered edges.
//!
//! This facade re-exports the core ([`reflow_network`]) and the ready-made components
//! ([`reflow_actors`]).

#[doc(inline)]
pub use reflow_actors as actors;
#[doc(inline)]
pub use reflow_actors::testing;
#[doc(inline)]
pub use reflow_bridge as bridge;
pub use reflow_network::{
    graph, Actor, ActorError, ActorResult, BoxedActor, BuildError, Component, ComponentInfo,
    ConfigError, Context, Error, Failure, Graph, Injector, Instance, Instances, Key, Message,
    Network, NetworkConfig, NetworkEvent, Object, Origin, Outputs, Ports, Problem, ProblemKind,
    Problems, Registry, Report, RunningNetwork, Tap, Tapped, TryInjectError, TryOutputError,
};
