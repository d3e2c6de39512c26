//! The `Actor` trait: the behaviour a component supplies. The runtime owns the loop and
//! calls these hooks; an actor keeps whatever state it needs in `self`.

use std::future::Future;

use serde_json::Value;

use crate::context::Context;
use crate::error::{ActorError, ConfigError};
use crate::message::Message;

/// What an actor's hooks return.
pub type ActorResult = Result<(), ActorError>;

/// Behaviour of one process.
///
/// The runtime calls `on_start` once, then `on_message` for every message in arrival order
/// (IIPs first), `on_timer` when a timer set through the context fires, and `on_end` once
/// every connection into the process has finished. The process finishes when its inputs
/// have ended and no timer is pending, or when it calls [`Context::stop`]; then `on_stop`
/// runs and its outgoing edges close, which ends the inputs downstream in turn.
///
/// An actor that waits for several inports (a join) keeps what arrived in `self` until the
/// set is complete.
///
/// ```
/// use reflow_network::{Actor, ActorResult, Context, Message};
///
/// /// Counts messages and emits the total when its input ends.
/// #[derive(Default)]
/// struct Count(i64);
///
/// impl Actor for Count {
///     async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
///         self.0 += 1;
///         Ok(())
///     }
///
///     async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
///         ctx.send("out", Message::Integer(self.0)).await
///     }
/// }
/// ```
pub trait Actor: Send + 'static {
    /// Called once before any message. Sources usually emit from here.
    fn on_start(&mut self, ctx: &mut Context) -> impl Future<Output = ActorResult> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Called for each message that arrives on the inport `port`.
    fn on_message(
        &mut self,
        port: &str,
        msg: Message,
        ctx: &mut Context,
    ) -> impl Future<Output = ActorResult> + Send;

    /// Called when the timer set with [`Context::set_timer`] fires.
    fn on_timer(&mut self, ctx: &mut Context) -> impl Future<Output = ActorResult> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Called once when every connection into the process has finished, so the actor can
    /// flush what it holds.
    fn on_end(&mut self, ctx: &mut Context) -> impl Future<Output = ActorResult> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Called once when the process finishes, before its outgoing edges close.
    fn on_stop(&mut self, ctx: &mut Context) -> impl Future<Output = ActorResult> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Ports that depend on this instance's configuration (a `Switch` names its outports in
    /// its config). `None` means the ports declared in the component's [`ComponentInfo`].
    fn ports(&self) -> Option<Ports> {
        None
    }
}

/// The inports and outports of a process.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ports {
    /// Inport names.
    pub inports: Vec<String>,
    /// Outport names.
    pub outports: Vec<String>,
}

impl Ports {
    /// Ports from two lists of names.
    pub fn new<I, O>(inports: I, outports: O) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
        O: IntoIterator,
        O::Item: Into<String>,
    {
        Ports {
            inports: inports.into_iter().map(Into::into).collect(),
            outports: outports.into_iter().map(Into::into).collect(),
        }
    }
}

/// The description of a component shown by `reflow components` and used by validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// The name graphs use in a process's `component` field.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// Declared ports (a component with configured ports lists its fixed ones here).
    pub ports: Ports,
}

impl ComponentInfo {
    /// A component description.
    pub fn new(name: impl Into<String>, description: impl Into<String>, ports: Ports) -> Self {
        ComponentInfo {
            name: name.into(),
            description: description.into(),
            ports,
        }
    }
}

/// An actor type that can be registered and built from a process's configuration.
pub trait Component: Actor + Sized {
    /// Name, description and ports.
    fn info() -> ComponentInfo;

    /// Builds a fresh instance from the process `metadata` (an object, or `Null` when the
    /// process has none). Must not do I/O: validation builds every process to check it.
    fn from_config(config: &Value) -> Result<Self, ConfigError>;
}
