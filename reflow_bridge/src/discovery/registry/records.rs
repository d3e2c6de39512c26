//! The JSON bodies of the registry's API, and the checks a registration must pass.

use serde::{Deserialize, Serialize};

/// Longest instance, network or actor id, and longest incarnation, in bytes.
pub(crate) const MAX_ID_BYTES: usize = 256;
/// What an instance id may be, as the error refusing one says it. Ids appear in paths
/// (`DELETE /v1/instances/{instance_id}`) and in the `after` cursor of the list: this set
/// needs no escaping in either, and the first character rules out `.` and `..`, which URL
/// normalisers collapse.
pub(crate) const INSTANCE_ID_RULE: &str = "an instance id is 1 to 256 ASCII letters, digits, \
     `-`, `_`, `.` and `:`, starting with a letter or digit";
/// Longest address, in bytes.
pub(crate) const MAX_ADDRESS_BYTES: usize = 512;
/// Most actors one instance may announce.
pub(crate) const MAX_ACTORS: usize = 1_000;

/// What an instance announces: `POST /v1/instances` registers or renews it.
///
/// The registry keys instances by `instance_id`; a record with a new `incarnation` (the
/// process restarted) replaces the old one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The network the instance belongs to; peers use its actors as `actor@network_id`.
    pub network_id: String,
    /// The instance's unique id.
    pub instance_id: String,
    /// Changes every time the instance's process starts.
    pub incarnation: String,
    /// Where peers link to it, as `HOST:PORT` or `wss://HOST:PORT`.
    pub address: String,
    /// The actors it exports.
    pub actors: Vec<ActorRecord>,
    /// How long the entry lives without a renewal, in seconds. The registry uses its
    /// default when absent and clamps it between its minimum and maximum; in a list, it is
    /// the TTL the registry granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

/// One exported actor of an [`InstanceRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorRecord {
    /// The actor's name within its network.
    pub name: String,
    /// Its input ports.
    pub inports: Vec<String>,
    /// Its output ports.
    pub outports: Vec<String>,
    /// Free-form metadata; `GET /v1/instances?meta=KEY:VALUE` matches its top-level fields.
    #[serde(default)]
    pub metadata: serde_json::Value,
}

/// An entry of [`InstanceList`]: the record as last registered and the seconds it has left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedInstance {
    /// The record, its fields inline.
    #[serde(flatten)]
    pub record: InstanceRecord,
    /// Seconds until the entry expires unless renewed (rounded up).
    pub expires_in_secs: u64,
}

/// The body of `GET /v1/instances`: one page of the list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceList {
    /// Live entries matching the query, ordered by instance id.
    pub instances: Vec<ListedInstance>,
    /// When more entries may follow: the cursor for the next page, passed back as
    /// `after=NEXT` (the last instance id of this page). Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl InstanceRecord {
    /// Checks the limits of a registration; the error names the offending field.
    pub(crate) fn validate(&self) -> Result<(), String> {
        check_id("network_id", &self.network_id)?;
        check_instance_id(&self.instance_id)?;
        check_id("incarnation", &self.incarnation)?;
        check_len("address", &self.address, MAX_ADDRESS_BYTES)?;
        if self.actors.len() > MAX_ACTORS {
            return Err(format!(
                "`actors` has {} entries, at most {MAX_ACTORS} are allowed",
                self.actors.len()
            ));
        }
        for (i, actor) in self.actors.iter().enumerate() {
            actor.validate(i)?;
        }
        Ok(())
    }
}

impl InstanceRecord {
    /// The length in bytes of its JSON, counted without building it: what a page of the
    /// list budgets for this entry.
    pub(crate) fn json_len(&self) -> usize {
        let mut counter = ByteCounter(0);
        // Writing to a counter cannot fail, and every field serialises.
        let _ = serde_json::to_writer(&mut counter, self);
        counter.0
    }
}

/// An `io::Write` that only counts what it is given.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ActorRecord {
    fn validate(&self, index: usize) -> Result<(), String> {
        check_id(&format!("actors[{index}].name"), &self.name)?;
        for (kind, ports) in [("inports", &self.inports), ("outports", &self.outports)] {
            for (j, port) in ports.iter().enumerate() {
                check_id(&format!("actors[{index}].{kind}[{j}]"), port)?;
            }
        }
        Ok(())
    }

    /// Whether `metadata[key]` is `value` as a string, number or boolean.
    pub(crate) fn has_metadata(&self, key: &str, value: &str) -> bool {
        match self.metadata.get(key) {
            Some(serde_json::Value::String(s)) => s == value,
            Some(serde_json::Value::Number(n)) => n.to_string() == value,
            Some(serde_json::Value::Bool(b)) => b.to_string() == value,
            _ => false,
        }
    }
}

/// Checks an instance id against [`INSTANCE_ID_RULE`]; the error names the first character
/// at fault.
pub(crate) fn check_instance_id(id: &str) -> Result<(), String> {
    check_id("instance_id", id)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    let bad = id
        .char_indices()
        .find(|&(i, c)| !allowed(c) || (i == 0 && !c.is_ascii_alphanumeric()));
    match bad {
        None => Ok(()),
        Some((i, c)) => Err(format!(
            "`instance_id` has {c:?} at byte {i}: {INSTANCE_ID_RULE}"
        )),
    }
}

fn check_id(field: &str, value: &str) -> Result<(), String> {
    check_len(field, value, MAX_ID_BYTES)
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("`{field}` is empty"));
    }
    if value.len() > max {
        return Err(format!(
            "`{field}` is {} bytes long, at most {max} are allowed",
            value.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> InstanceRecord {
        InstanceRecord {
            network_id: "n".into(),
            instance_id: "i".into(),
            incarnation: "1".into(),
            address: "127.0.0.1:7400".into(),
            actors: vec![ActorRecord {
                name: "check".into(),
                inports: vec!["in".into()],
                outports: vec![],
                metadata: serde_json::Value::Null,
            }],
            ttl_secs: None,
        }
    }

    type Breakage = (fn(&mut InstanceRecord), &'static str);

    #[test]
    fn instance_ids_outside_the_safe_set_are_refused_naming_the_rule() {
        for good in [
            "a",
            "9",
            "node-1.eu_west:7400",
            "1bc3cb30-a25f-41ef-9a53-deb5fe5bdc3c",
        ] {
            assert_eq!(check_instance_id(good), Ok(()), "{good}");
        }
        let cases = [
            ("a/b", "'/' at byte 1"),
            ("a b", "' ' at byte 1"),
            ("a?b", "'?' at byte 1"),
            ("a#b", "'#' at byte 1"),
            ("a%2Fb", "'%' at byte 1"),
            ("..", "'.' at byte 0"),
            ("-x", "'-' at byte 0"),
            ("caf\u{e9}", "'\u{e9}' at byte 3"),
            ("a\nb", "'\\n' at byte 1"),
        ];
        for (bad, at) in cases {
            let err = check_instance_id(bad).unwrap_err();
            assert!(err.contains(at), "{bad:?}: {err}");
            assert!(err.ends_with(INSTANCE_ID_RULE), "{err}");
        }
    }

    #[test]
    fn the_counted_json_length_is_the_real_one() {
        let mut r = record();
        r.ttl_secs = Some(30);
        r.actors[0].metadata = serde_json::json!({"zone": "\u{e9}u \"quoted\""});
        assert_eq!(r.json_len(), serde_json::to_vec(&r).unwrap().len());
    }

    #[test]
    fn each_limit_is_reported_with_its_field() {
        assert_eq!(record().validate(), Ok(()));
        let cases: Vec<Breakage> = vec![
            (|r| r.network_id.clear(), "`network_id` is empty"),
            (
                |r| r.instance_id = "x".repeat(257),
                "`instance_id` is 257 bytes",
            ),
            (|r| r.incarnation.clear(), "`incarnation` is empty"),
            (|r| r.address = "a".repeat(513), "`address` is 513 bytes"),
            (|r| r.actors[0].name.clear(), "`actors[0].name` is empty"),
            (
                |r| r.actors[0].inports.push(String::new()),
                "`actors[0].inports[1]` is empty",
            ),
            (
                |r| r.actors = vec![r.actors[0].clone(); 1001],
                "`actors` has 1001 entries",
            ),
        ];
        for (break_it, expected) in cases {
            let mut r = record();
            break_it(&mut r);
            let err = r.validate().unwrap_err();
            assert!(
                err.starts_with(expected),
                "{err} should start with {expected}"
            );
        }
    }
}
