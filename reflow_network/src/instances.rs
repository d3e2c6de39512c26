//! Fresh instances of a process, each run on its own outside the network's graph: a bridge
//! gives every remote session of an exported process an instance of its own, built from the
//! same component and configuration, so that a client gets what the node would give it if
//! it were local in the client's graph (its state, its timers, its end-of-stream output).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::activity::Activity;
use crate::actor::{ActorResult, Ports};
use crate::context::Context;
use crate::edge::OutPort;
use crate::error::{ActorError, Error};
use crate::external::{Injector, Tap, TapRef};
use crate::process::{inport_names, panic_text, BoxedActor, Phase, ProcessIo};
use crate::registry::{BuildError, Registry};

/// How a process was built: the component and configuration that make another instance.
#[derive(Debug, Clone)]
pub(crate) struct Recipe {
    pub(crate) component: String,
    pub(crate) config: Value,
}

/// Makes fresh instances of one exported process ([`RunningNetwork::instances`]).
///
/// [`RunningNetwork::instances`]: crate::RunningNetwork::instances
#[derive(Debug, Clone)]
pub struct Instances {
    process: Arc<str>,
    registry: Arc<Registry>,
    recipe: Recipe,
    capacity: usize,
}

/// One running instance: feed it through `injector`; dropping every clone of the injector
/// ends its input, so it runs its end-of-stream hook, lets its timers fire, and finishes.
#[derive(Debug)]
pub struct Instance {
    /// Puts messages into the instance's inbox.
    pub injector: Injector,
    /// The instance's task: how it ended (a panic is an error). Every output has reached
    /// the tap before it completes. Abort it to stop the instance at once.
    pub task: JoinHandle<ActorResult>,
}

impl Instances {
    pub(crate) fn new(
        process: Arc<str>,
        registry: Arc<Registry>,
        recipe: Recipe,
        capacity: usize,
    ) -> Self {
        Instances {
            process,
            registry,
            recipe,
            capacity,
        }
    }

    /// Instances get inboxes of at least `capacity` messages.
    pub fn with_min_capacity(mut self, capacity: usize) -> Self {
        self.capacity = self.capacity.max(capacity);
        self
    }

    /// The process these instances copy.
    pub fn process(&self) -> &str {
        &self.process
    }

    /// Builds and starts a fresh instance; every output it makes goes to `tap` (it has no
    /// connections of its own). Fails when the component rejects its configuration, which
    /// it accepted when the network was built, so only a component whose build is not
    /// deterministic can fail here.
    pub fn spawn(&self, tap: Arc<dyn Tap>) -> Result<Instance, Error> {
        let (actor, ports) = build(&self.registry, &self.process, &self.recipe)?;
        let (tx, inbox) = mpsc::channel(self.capacity.max(1));
        let injector = Injector::new(
            self.process.clone(),
            ports.inports.clone().into(),
            tx.clone(),
        );
        let outports = ports
            .outports
            .iter()
            .map(|name| OutPort {
                name: Arc::from(name.as_str()),
                edges: Vec::new(),
            })
            .collect();
        // Nobody reads the idle reports of a lone instance, and it never stops by phase: it
        // has an input, and ends when that input ends.
        let activity = Activity::new(Vec::new(), broadcast::channel(1).0);
        let io = ProcessIo {
            inports: inport_names(&ports),
            inbox,
            initials: Vec::new(),
            ctx: Context::new(self.process.clone(), outports, Some(TapRef(tap)), None),
            is_source: false,
            phase: watch::channel(Phase::Running).1,
            activity: Arc::new(activity),
        };
        drop(tx);
        // A panic is the instance's error, as the supervisor reports one in a network.
        let run = AssertUnwindSafe(actor.run(io)).catch_unwind();
        let task = tokio::spawn(async move {
            run.await
                .unwrap_or_else(|payload| Err(ActorError::new(panic_text(&*payload))))
        });
        Ok(Instance { injector, task })
    }
}

/// Builds the actor of `recipe` for the process `name`, with its ports.
pub(crate) fn build(
    registry: &Registry,
    name: &str,
    recipe: &Recipe,
) -> Result<(BoxedActor, Ports), Error> {
    registry
        .build(&recipe.component, &recipe.config)
        .map_err(|e| match e {
            BuildError::Unknown(_) => registry.unknown(&recipe.component),
            BuildError::Config(source) => Error::Config {
                process: name.to_string(),
                source,
            },
        })
}
