//! Building a network: processes and ports found by index give the same answers and errors
//! as a search by name, and messages reach the port each connection names.

use std::sync::Arc;

use parking_lot::Mutex;
use proptest::prelude::*;

use crate::{Actor, ActorResult, Context, Error, Message, Network, Ports, Registry};

/// What a recorder saw: (inport, integer).
type Seen = Arc<Mutex<Vec<(String, i64)>>>;

/// Does nothing; for building only.
struct Idle;

impl Actor for Idle {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        Ok(())
    }
}

/// Sends the given (outport, integer) pairs when it starts.
struct Emit(Vec<(&'static str, i64)>);

impl Actor for Emit {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        for (port, value) in std::mem::take(&mut self.0) {
            ctx.send(port, Message::Integer(value)).await?;
        }
        Ok(())
    }

    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        Ok(())
    }
}

/// Records every message with its inport; stops after `stop_after` of them, if set.
struct Record {
    seen: Seen,
    stop_after: Option<usize>,
}

impl Actor for Record {
    async fn on_message(&mut self, port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let mut seen = self.seen.lock();
        seen.push((port.to_string(), msg.as_i64().unwrap_or(-1)));
        if Some(seen.len()) == self.stop_after {
            ctx.stop();
        }
        Ok(())
    }
}

fn record(stop_after: Option<usize>) -> (Record, Seen) {
    let seen = Seen::default();
    let actor = Record {
        seen: seen.clone(),
        stop_after,
    };
    (actor, seen)
}

fn seen(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(p, v)| (p.to_string(), *v)).collect()
}

#[test]
fn errors_name_the_process_and_the_port() {
    let mut net = Network::new(Registry::new());
    net.add_actor("a", Idle, Ports::new(["in"], ["out"]))
        .unwrap();
    let err = net.add_actor("a", Idle, Ports::default()).unwrap_err();
    assert!(matches!(&err, Error::DuplicateProcess(name) if name == "a"));
    let err = net.add_connection(("x", "out"), ("a", "in")).unwrap_err();
    assert_eq!(err.to_string(), "no process named `x`");
    let err = net.add_connection(("a", "out"), ("y", "in")).unwrap_err();
    assert_eq!(err.to_string(), "no process named `y`");
    let err = net.add_connection(("a", "in"), ("a", "in")).unwrap_err();
    assert_eq!(err.to_string(), "process `a` has no outport `in`");
    let err = net.add_connection(("a", "out"), ("a", "out")).unwrap_err();
    assert_eq!(err.to_string(), "process `a` has no inport `out`");
    let err = net.add_initial(("a", "nope"), 1).unwrap_err();
    assert_eq!(err.to_string(), "process `a` has no inport `nope`");
    assert!(matches!(net.export("z"), Err(Error::UnknownProcess(name)) if name == "z"));
    assert!(matches!(net.tap("z"), Err(Error::UnknownProcess(name)) if name == "z"));
    assert_eq!(net.ports("a"), Some(&Ports::new(["in"], ["out"])));
    assert_eq!(net.ports("z"), None);
}

#[tokio::test]
async fn messages_reach_the_port_each_connection_names() {
    let mut net = Network::new(Registry::new());
    let emit = Emit(vec![("y", 1), ("x", 2), ("y", 3)]);
    net.add_actor("emit", emit, Ports::new(Vec::<String>::new(), ["x", "y"]))
        .unwrap();
    let (actor, seen_by) = record(None);
    net.add_actor(
        "rec",
        actor,
        Ports::new(["a", "b", "c"], Vec::<String>::new()),
    )
    .unwrap();
    net.add_connection(("emit", "y"), ("rec", "c")).unwrap();
    net.add_connection(("emit", "x"), ("rec", "a")).unwrap();
    net.add_initial(("rec", "b"), 7).unwrap();
    let report = net.start().unwrap().wait().await;
    assert!(report.is_success(), "{report:?}");
    // The IIP comes first, then the messages in the order they were sent.
    let expected = seen(&[("b", 7), ("c", 1), ("a", 2), ("c", 3)]);
    assert_eq!(*seen_by.lock(), expected);
}

#[tokio::test]
async fn a_stop_in_a_batch_leaves_the_rest_of_it_unhandled() {
    let mut net = Network::new(Registry::new());
    let (actor, iips_seen) = record(Some(2));
    net.add_actor("iips", actor, Ports::new(["in"], Vec::<String>::new()))
        .unwrap();
    for value in 1..=4 {
        net.add_initial(("iips", "in"), value).unwrap();
    }
    let emit = Emit((1..=10).map(|v| ("out", v)).collect());
    net.add_actor("emit", emit, Ports::new(Vec::<String>::new(), ["out"]))
        .unwrap();
    let (actor, inbox_seen) = record(Some(3));
    net.add_actor("inbox", actor, Ports::new(["in"], Vec::<String>::new()))
        .unwrap();
    net.add_connection(("emit", "out"), ("inbox", "in"))
        .unwrap();
    let report = net.start().unwrap().wait().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(*iips_seen.lock(), seen(&[("in", 1), ("in", 2)]));
    assert_eq!(*inbox_seen.lock(), seen(&[("in", 1), ("in", 2), ("in", 3)]));
}

#[tokio::test]
async fn a_long_chain_carries_every_message_to_its_end() {
    const LENGTH: usize = 1_000;
    let mut net = Network::new(Registry::new());
    let emit = Emit((0..5).map(|v| ("out", v)).collect());
    net.add_actor("p0", emit, Ports::new(Vec::<String>::new(), ["out"]))
        .unwrap();
    for i in 1..LENGTH {
        net.add_actor(&format!("p{i}"), Pass, Ports::new(["in"], ["out"]))
            .unwrap();
        let (from, to) = (format!("p{}", i - 1), format!("p{i}"));
        net.add_connection((from.as_str(), "out"), (to.as_str(), "in"))
            .unwrap();
    }
    let (actor, seen_by) = record(None);
    net.add_actor("end", actor, Ports::new(["in"], Vec::<String>::new()))
        .unwrap();
    let last = format!("p{}", LENGTH - 1);
    net.add_connection((last.as_str(), "out"), ("end", "in"))
        .unwrap();
    assert_eq!(net.processes().count(), LENGTH + 1);
    let report = net.start().unwrap().wait().await;
    assert!(report.is_success(), "{report:?}");
    let expected: Vec<_> = (0..5).map(|v| ("in".to_string(), v)).collect();
    assert_eq!(*seen_by.lock(), expected);
}

/// Passes every message on.
struct Pass;

impl Actor for Pass {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        ctx.send("out", msg).await
    }
}

/// One step of building a network, with names and ports drawn from small pools so that
/// duplicates and misses are frequent.
#[derive(Debug, Clone)]
enum Step {
    Add(usize, usize),
    Connect(usize, usize, usize, usize),
    Initial(usize, usize),
    Export(usize),
}

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const PORTS: [&str; 6] = ["in", "out", "left", "right", "err", "nope"];

fn shape(ix: usize) -> Ports {
    match ix % 3 {
        0 => Ports::new(["in"], ["out"]),
        1 => Ports::new(["left", "right"], ["out", "err"]),
        _ => Ports::new(Vec::<String>::new(), ["out"]),
    }
}

fn step() -> impl Strategy<Value = Step> {
    let (n, p) = (0..NAMES.len(), 0..PORTS.len());
    prop_oneof![
        (n.clone(), 0..3usize).prop_map(|(a, b)| Step::Add(a, b)),
        (n.clone(), p.clone(), n.clone(), p.clone())
            .prop_map(|(a, b, c, d)| Step::Connect(a, b, c, d)),
        (n.clone(), p).prop_map(|(a, b)| Step::Initial(a, b)),
        n.prop_map(Step::Export),
    ]
}

/// The network as a list searched by name, as it was built before the index.
#[derive(Default)]
struct Model(Vec<(String, Ports)>);

impl Model {
    fn check(&self, process: &str, port: &str, inport: bool) -> Result<(), String> {
        let Some((_, ports)) = self.0.iter().find(|(n, _)| n == process) else {
            return Err(format!("no process named `{process}`"));
        };
        let (list, word) = match inport {
            true => (&ports.inports, "inport"),
            false => (&ports.outports, "outport"),
        };
        match list.iter().any(|p| p == port) {
            true => Ok(()),
            false => Err(format!("process `{process}` has no {word} `{port}`")),
        }
    }

    fn apply(&mut self, step: &Step) -> Result<(), String> {
        match *step {
            Step::Add(n, _) if self.0.iter().any(|(name, _)| name == NAMES[n]) => {
                Err(format!("duplicate process `{}`", NAMES[n]))
            }
            Step::Add(n, s) => {
                self.0.push((NAMES[n].to_string(), shape(s)));
                Ok(())
            }
            Step::Connect(a, b, c, d) => {
                self.check(NAMES[a], PORTS[b], false)?;
                self.check(NAMES[c], PORTS[d], true)
            }
            Step::Initial(a, b) => self.check(NAMES[a], PORTS[b], true),
            Step::Export(a) => match self.0.iter().any(|(name, _)| name == NAMES[a]) {
                true => Ok(()),
                false => Err(format!("no process named `{}`", NAMES[a])),
            },
        }
    }
}

fn apply(net: &mut Network, step: &Step) -> Result<(), String> {
    let done = match *step {
        Step::Add(n, s) => net.add_actor(NAMES[n], Idle, shape(s)),
        Step::Connect(a, b, c, d) => net.add_connection((NAMES[a], PORTS[b]), (NAMES[c], PORTS[d])),
        Step::Initial(a, b) => net.add_initial((NAMES[a], PORTS[b]), 1),
        Step::Export(a) => net.export(NAMES[a]),
    };
    done.map_err(|err| err.to_string())
}

proptest! {
    #[test]
    fn building_answers_as_a_search_by_name_does(steps in prop::collection::vec(step(), 0..40)) {
        let mut net = Network::new(Registry::new());
        let mut model = Model::default();
        for step in &steps {
            prop_assert_eq!(apply(&mut net, step), model.apply(step), "{:?}", step);
        }
        let names: Vec<&str> = model.0.iter().map(|(n, _)| n.as_str()).collect();
        prop_assert_eq!(net.processes().collect::<Vec<_>>(), names);
        for name in NAMES {
            let expected = model.0.iter().find(|(n, _)| n == name).map(|(_, p)| p);
            prop_assert_eq!(net.ports(name), expected);
        }
    }
}
