//! Direct evaluation of the common subset of CEL over a [`Message`], without converting it.
//!
//! [`Node::eval`] returns `None` ("ask the interpreter") for every case it does not model
//! exactly as the CEL interpreter does: a missing field, operands of different types, an
//! integer overflow or a division by zero, a NaN in an ordering. So a result it does return
//! is the interpreter's result, and every error comes from the interpreter.

mod build;
mod value;

use reflow_network::Message;

pub(super) use build::build;
use value::V;

/// An expression of the subset, over the variable `fact`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// The variable `fact`.
    Fact,
    /// `fact.field`, the most common operand.
    FactField(Box<str>),
    /// A constant (scalars, and lists of constants).
    Lit(Message),
    /// `operand.field`.
    Field(Box<Node>, Box<str>),
    /// `has(operand.field)`.
    Has(Box<Node>, Box<str>),
    /// `operand[index]`.
    Index(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    /// `cond ? then : otherwise`.
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    /// A comparison with a constant on the right, the most common condition.
    CmpLit(Cmp, Box<Node>, Message),
    Arith(Arith, Box<Node>, Box<Node>),
    /// `item in collection`.
    In(Box<Node>, Box<Node>),
    /// `size(x)` or `x.size()`.
    Size(Box<Node>),
    /// `text.contains(part)` and the like.
    Text(TextFn, Box<Node>, Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextFn {
    Contains,
    StartsWith,
    EndsWith,
}

impl Node {
    /// The value of the expression with `fact` bound to `fact`, or `None` when the
    /// interpreter must decide.
    pub(in crate::expr) fn eval(&self, fact: &Message) -> Option<Message> {
        self.value(fact).map(V::into_message)
    }

    /// The boolean value of a condition; `Err` with the value when it is not a boolean.
    pub(in crate::expr) fn test(&self, fact: &Message) -> Option<Result<bool, Message>> {
        Some(match self.value(fact)? {
            V::Bool(b) => Ok(b),
            other => Err(other.into_message()),
        })
    }

    fn value<'a>(&'a self, fact: &'a Message) -> Option<V<'a>> {
        Some(match self {
            Node::Fact => V::of(fact),
            Node::FactField(field) => V::of(fact.get(field)?),
            Node::Lit(msg) => V::of(msg),
            Node::Field(operand, field) => match operand.value(fact)? {
                V::Map(map) => V::of(map.get(field)?),
                _ => return None,
            },
            Node::Has(operand, field) => match operand.value(fact)? {
                V::Map(map) => V::Bool(map.contains_key(field)),
                _ => return None,
            },
            Node::Index(operand, i) => V::of(value::index(&operand.value(fact)?, &i.value(fact)?)?),
            Node::Not(operand) => match operand.value(fact)? {
                V::Bool(b) => V::Bool(!b),
                _ => return None,
            },
            Node::Neg(operand) => value::negate(&operand.value(fact)?)?,
            Node::And(lhs, rhs) => logic(lhs, rhs, fact, false)?,
            Node::Or(lhs, rhs) => logic(lhs, rhs, fact, true)?,
            Node::Cond(cond, then, otherwise) => match cond.value(fact)? {
                V::Bool(true) => then.value(fact)?,
                V::Bool(false) => otherwise.value(fact)?,
                _ => return None,
            },
            Node::Cmp(op, lhs, rhs) => {
                V::Bool(value::compare(*op, &lhs.value(fact)?, &rhs.value(fact)?)?)
            }
            Node::CmpLit(op, lhs, lit) => {
                V::Bool(value::compare(*op, &lhs.value(fact)?, &V::of(lit))?)
            }
            Node::Arith(op, lhs, rhs) => value::arith(*op, &lhs.value(fact)?, &rhs.value(fact)?)?,
            Node::In(item, collection) => V::Bool(value::contains(
                &collection.value(fact)?,
                &item.value(fact)?,
            )?),
            Node::Size(operand) => V::Int(value::size(&operand.value(fact)?)?),
            Node::Text(f, text, part) => {
                V::Bool(value::text(*f, &text.value(fact)?, &part.value(fact)?)?)
            }
        })
    }
}

/// `&&` (`absorbing` false) and `||` (`absorbing` true). When the left side decides, the
/// right is not evaluated: the interpreter gives the same result whatever the right side
/// is, even an error.
fn logic<'a>(lhs: &'a Node, rhs: &'a Node, fact: &'a Message, absorbing: bool) -> Option<V<'a>> {
    match lhs.value(fact)? {
        V::Bool(b) if b == absorbing => Some(V::Bool(absorbing)),
        V::Bool(_) => match rhs.value(fact)? {
            V::Bool(b) => Some(V::Bool(b)),
            _ => None,
        },
        _ => None,
    }
}
