//! The `error` outport of the rule nodes: a fact that an expression could not be evaluated
//! against goes there with the reason, never silently dropped.

use reflow_network::{ActorResult, Context, Message};

/// Sends `{"fact": fact, "error": reason, "process": name}` on `error`.
pub(crate) async fn report(ctx: &mut Context, fact: Message, reason: String) -> ActorResult {
    let process = Message::from(ctx.process_name());
    let report = Message::object([
        ("fact", fact),
        ("error", Message::from(reason)),
        ("process", process),
    ]);
    ctx.send("error", report).await
}
