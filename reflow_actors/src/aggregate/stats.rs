//! The running figures of one group: count, sum, min, max, and the mean derived from them.

use std::cmp::Ordering;

use reflow_network::Message;

#[derive(Debug, Default)]
pub(super) struct Stats {
    count: i64,
    sum: Sum,
    min: Option<Message>,
    max: Option<Message>,
}

/// An int while every value is an int and the total fits, a double from then on.
#[derive(Debug, Clone, Copy)]
enum Sum {
    Int(i64),
    Float(f64),
}

impl Default for Sum {
    fn default() -> Self {
        Sum::Int(0)
    }
}

impl Sum {
    fn add(self, value: &Message) -> Sum {
        match (self, value) {
            (Sum::Int(s), Message::Integer(v)) => match s.checked_add(*v) {
                Some(total) => Sum::Int(total),
                None => Sum::Float(s as f64 + *v as f64),
            },
            (sum, value) => Sum::Float(sum.as_f64() + value.as_f64().unwrap_or(f64::NAN)),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Sum::Int(i) => i as f64,
            Sum::Float(f) => f,
        }
    }

    fn to_message(self) -> Message {
        match self {
            Sum::Int(i) => Message::Integer(i),
            Sum::Float(f) => Message::Float(f),
        }
    }
}

impl Stats {
    /// Counts one fact, with its value when the aggregate has one (a finite int or double).
    ///
    /// A value that would take a double sum to infinity is refused and the figures stay as
    /// they were: an infinite sum and mean have no JSON form and would read as `null`. A
    /// group's first value never overflows, so a refused fact never leaves an empty group.
    pub(super) fn add(&mut self, value: Option<Message>) -> Result<(), String> {
        let Some(value) = value else {
            self.count += 1;
            return Ok(());
        };
        self.sum = self.checked_sum(&value)?;
        self.count += 1;
        if self
            .min
            .as_ref()
            .is_none_or(|m| compare(&value, m) == Ordering::Less)
        {
            self.min = Some(value.clone());
        }
        if self
            .max
            .as_ref()
            .is_none_or(|m| compare(&value, m) == Ordering::Greater)
        {
            self.max = Some(value);
        }
        Ok(())
    }

    /// The sum with `value` added, unless that sum is an infinite double.
    fn checked_sum(&self, value: &Message) -> Result<Sum, String> {
        match self.sum.add(value) {
            Sum::Float(total) if !total.is_finite() => Err(format!(
                "adding {value} would take the sum {} past the largest double",
                self.sum.to_message()
            )),
            sum => Ok(sum),
        }
    }

    /// `{"group", "count", "sum", "min", "max", "avg"}`, or only the first two without values.
    pub(super) fn to_message(&self, group: &Message, with_value: bool) -> Message {
        let mut entries = vec![
            ("group", group.clone()),
            ("count", Message::Integer(self.count)),
        ];
        if with_value {
            let avg = match self.count {
                0 => Message::Flow,
                n => Message::Float(self.sum.as_f64() / n as f64),
            };
            entries.extend([
                ("sum", self.sum.to_message()),
                ("min", self.min.clone().unwrap_or_default()),
                ("max", self.max.clone().unwrap_or_default()),
                ("avg", avg),
            ]);
        }
        Message::object(entries)
    }
}

/// Ints compare exactly; otherwise as doubles, NaN equal to anything (so it is never kept).
fn compare(a: &Message, b: &Message) -> Ordering {
    match (a, b) {
        (Message::Integer(x), Message::Integer(y)) => x.cmp(y),
        _ => {
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_stay_ints_until_a_double_or_an_overflow() {
        let mut stats = Stats::default();
        stats.add(Some(Message::Integer(2))).unwrap();
        stats.add(Some(Message::Integer(3))).unwrap();
        assert!(matches!(stats.sum, Sum::Int(5)));
        stats.add(Some(Message::Float(0.5))).unwrap();
        assert!(matches!(stats.sum, Sum::Float(f) if f == 5.5));
        let mut big = Stats::default();
        big.add(Some(Message::Integer(i64::MAX))).unwrap();
        big.add(Some(Message::Integer(1))).unwrap();
        assert!(matches!(big.sum, Sum::Float(f) if f == i64::MAX as f64 + 1.0));
    }

    #[test]
    fn min_and_max_keep_the_value_as_it_came() {
        let mut stats = Stats::default();
        for v in [
            Message::Integer(3),
            Message::Float(1.5),
            Message::Integer(7),
            Message::Float(7.0),
        ] {
            stats.add(Some(v)).unwrap();
        }
        assert_eq!(stats.min, Some(Message::Float(1.5)));
        assert_eq!(stats.max, Some(Message::Integer(7)));
        let figures = stats.to_message(&Message::from("g"), true).to_json();
        assert_eq!(
            figures,
            serde_json::json!({"group": "g", "count": 4, "sum": 18.5, "min": 1.5, "max": 7, "avg": 4.625})
        );
    }

    #[test]
    fn a_value_that_would_make_the_sum_infinite_is_refused() {
        let mut stats = Stats::default();
        stats.add(Some(Message::Float(1e308))).unwrap();
        let err = stats.add(Some(Message::Float(1e308))).unwrap_err();
        assert_eq!(
            err,
            "adding 1e+308 would take the sum 1e+308 past the largest double"
        );
        stats.add(Some(Message::Float(-1e308))).unwrap();
        assert_eq!(
            stats.to_message(&Message::Flow, true).to_json(),
            serde_json::json!({"group": null, "count": 2, "sum": 0.0, "min": -1e308, "max": 1e308, "avg": 0.0})
        );
    }

    #[test]
    fn no_value_means_null_figures() {
        let stats = Stats::default();
        assert_eq!(
            stats.to_message(&Message::Flow, true).to_json(),
            serde_json::json!({"group": null, "count": 0, "sum": 0, "min": null, "max": null, "avg": null})
        );
        assert_eq!(
            stats.to_message(&Message::Flow, false).to_json(),
            serde_json::json!({"group": null, "count": 0})
        );
    }
}
