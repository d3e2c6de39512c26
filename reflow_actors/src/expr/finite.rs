//! The rule that an expression's result holds no infinite or NaN double. JSON has no form
//! for one, so it would reach the next process as `null` and hide, say, a division by zero.

use std::fmt;

use reflow_network::Message;

/// A non-finite double in a result, and where it sits.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NonFinite {
    /// `.key` and `[index]` steps from the result to the double; empty for the result itself.
    path: String,
    value: f64,
}

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "returned the double {}", self.value)?;
        } else {
            write!(f, "returned the double {} at `{}`", self.value, self.path)?;
        }
        f.write_str(" (infinity and NaN are errors: JSON has no form for them)")
    }
}

/// The first infinite or NaN double in `msg`, searched through arrays and objects.
pub(super) fn first_non_finite(msg: &Message) -> Option<NonFinite> {
    let mut steps = Vec::new();
    let value = find(msg, &mut steps)?;
    let path = steps.iter().rev().map(ToString::to_string).collect();
    Some(NonFinite { path, value })
}

enum Step<'m> {
    Index(usize),
    Key(&'m str),
}

impl fmt::Display for Step<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Index(i) => write!(f, "[{i}]"),
            Step::Key(key) => write!(f, ".{key}"),
        }
    }
}

/// The non-finite double, with the steps to it pushed innermost first. Nothing is allocated
/// while the search finds nothing, which is the common case.
fn find<'m>(msg: &'m Message, steps: &mut Vec<Step<'m>>) -> Option<f64> {
    let (value, step) = match msg {
        Message::Float(f) if !f.is_finite() => return Some(*f),
        Message::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| Some((find(item, steps)?, Step::Index(i))))?,
        Message::Object(map) => map
            .iter()
            .find_map(|(key, item)| Some((find(item, steps)?, Step::Key(key))))?,
        _ => return None,
    };
    steps.push(step);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finite_values_pass_at_any_depth() {
        let msg = Message::from(json!({"a": [1, 2.5, {"b": -0.0}], "s": "inf"}));
        assert_eq!(first_non_finite(&msg), None);
        assert_eq!(first_non_finite(&Message::Float(f64::MAX)), None);
    }

    #[test]
    fn a_non_finite_result_is_named_with_its_value() {
        for (value, text) in [
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "NaN"),
        ] {
            let found = first_non_finite(&Message::Float(value)).unwrap();
            assert_eq!(
                found.to_string(),
                format!(
                    "returned the double {text} (infinity and NaN are errors: JSON has no form for them)"
                )
            );
        }
    }

    #[test]
    fn a_nested_one_is_named_with_its_path() {
        let inner = Message::object([("b", Message::Float(f64::NAN))]);
        let msg = Message::object([
            ("a", Message::array([Message::Integer(1), inner])),
            ("z", Message::Float(f64::INFINITY)),
        ]);
        let found = first_non_finite(&msg).unwrap();
        assert!(found.value.is_nan());
        assert_eq!(found.path, ".a[1].b");
        assert!(
            found
                .to_string()
                .starts_with("returned the double NaN at `.a[1].b` ("),
            "{found}"
        );
    }
}
