//! The `error` outport of the rule nodes: a fact that an expression could not be evaluated
//! against goes there with the reason, never silently dropped.

use reflow_network::{ActorResult, Context, Message};

/// Where a rule node reports the facts it could not evaluate.
///
/// When the `error` outport is not connected, the first failure of the process is logged
/// as a warning and the later ones at debug level, so that a graph run without an error
/// sink still shows that its rules fail.
#[derive(Debug, Default)]
pub(crate) struct ErrorPort {
    unseen: u64,
}

impl ErrorPort {
    /// Sends `{"fact": fact, "error": reason, "process": name}` on `error`.
    pub(crate) async fn report(
        &mut self,
        ctx: &mut Context,
        fact: Message,
        reason: String,
    ) -> ActorResult {
        if !ctx.is_connected("error") {
            self.log(ctx.process_name(), &reason);
            return Ok(());
        }
        let process = Message::from(ctx.process_name());
        let report = Message::object([
            ("fact", fact),
            ("error", Message::from(reason)),
            ("process", process),
        ]);
        ctx.send("error", report).await
    }

    fn log(&mut self, process: &str, reason: &str) {
        self.unseen += 1;
        if self.unseen == 1 {
            tracing::warn!(
                process,
                "{reason} (the `error` outport is not connected; further failures are logged at debug level)"
            );
        } else {
            tracing::debug!(process, failures = self.unseen, "{reason}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use parking_lot::Mutex;
    use reflow_network::{Message, Network};
    use serde_json::json;

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn without_an_error_sink_the_first_failure_is_a_warning() {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let mut net = Network::new(crate::registry());
        net.add_node("check", "Rule", json!({"when": "fact.amount > 1"}))
            .unwrap();
        for fact in [json!({"id": 1}), json!({"id": 2}), json!({"amount": 2})] {
            net.add_initial(("check", "in"), Message::from(fact))
                .unwrap();
        }
        let report = net.start().unwrap().wait().await;
        assert!(report.is_success(), "{report:?}");
        let text = String::from_utf8(log.0.lock().clone()).unwrap();
        let warnings: Vec<&str> = text.lines().filter(|l| l.contains("WARN")).collect();
        assert_eq!(warnings.len(), 1, "{text}");
        assert!(
            warnings[0].contains("when: `fact.amount > 1` failed: No such key: amount (the `error` outport is not connected"),
            "{text}"
        );
        assert!(warnings[0].contains("process=\"check\""), "{text}");
    }
}
