//! Direct evaluation of the common subset of CEL over a [`Message`], without converting it.
//!
//! [`Node::eval`] returns `None` ("ask the interpreter") for every case it does not model
//! exactly as the CEL interpreter does: a missing field, operands of different types, an
//! integer overflow or a division by zero, a NaN in an ordering. So a result it does return
//! is the interpreter's result, and every error comes from the interpreter.

mod build;

use std::borrow::Cow;
use std::cmp::Ordering;

use reflow_network::Message;

pub(super) use build::build;

/// An expression of the subset, over the variable `fact`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// The variable `fact`.
    Fact,
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

type Out<'a> = Option<Cow<'a, Message>>;

fn value<'a>(msg: Message) -> Out<'a> {
    Some(Cow::Owned(msg))
}

fn boolean<'a>(b: bool) -> Out<'a> {
    value(Message::Boolean(b))
}

impl Node {
    /// The value of the expression with `fact` bound to `fact`, or `None` when the
    /// interpreter must decide.
    pub(super) fn eval<'a>(&'a self, fact: &'a Message) -> Out<'a> {
        match self {
            Node::Fact => Some(Cow::Borrowed(fact)),
            Node::Lit(msg) => Some(Cow::Borrowed(msg)),
            Node::Field(operand, field) => borrow(operand.eval(fact)?, |m| m.get(field)),
            Node::Has(operand, field) => match &*operand.eval(fact)? {
                Message::Object(map) => boolean(map.contains_key(&**field)),
                _ => None,
            },
            Node::Index(operand, index) => {
                let index = index.eval(fact)?;
                borrow(operand.eval(fact)?, |m| lookup(m, &index))
            }
            Node::Not(operand) => match &*operand.eval(fact)? {
                Message::Boolean(b) => boolean(!b),
                _ => None,
            },
            Node::Neg(operand) => match &*operand.eval(fact)? {
                Message::Integer(i) => value(Message::Integer(i.checked_neg()?)),
                Message::Float(f) => value(Message::Float(-f)),
                _ => None,
            },
            Node::And(lhs, rhs) => logic(lhs, rhs, fact, false),
            Node::Or(lhs, rhs) => logic(lhs, rhs, fact, true),
            Node::Cond(cond, then, otherwise) => match &*cond.eval(fact)? {
                Message::Boolean(true) => then.eval(fact),
                Message::Boolean(false) => otherwise.eval(fact),
                _ => None,
            },
            Node::Cmp(op, lhs, rhs) => boolean(compare(*op, &*lhs.eval(fact)?, &*rhs.eval(fact)?)?),
            Node::Arith(op, lhs, rhs) => value(arith(*op, &*lhs.eval(fact)?, &*rhs.eval(fact)?)?),
            Node::In(item, collection) => {
                boolean(contains(&*collection.eval(fact)?, &*item.eval(fact)?)?)
            }
            Node::Size(operand) => value(Message::Integer(size(&*operand.eval(fact)?)?)),
            Node::Text(f, text, part) => match (&*text.eval(fact)?, &*part.eval(fact)?) {
                (Message::String(text), Message::String(part)) => boolean(match f {
                    TextFn::Contains => text.contains(&**part),
                    TextFn::StartsWith => text.starts_with(&**part),
                    TextFn::EndsWith => text.ends_with(&**part),
                }),
                _ => None,
            },
        }
    }
}

/// A part of `outer`, borrowed as long as `outer` is (cloned when `outer` was computed).
fn borrow<'a>(outer: Cow<'a, Message>, part: impl Fn(&Message) -> Option<&Message>) -> Out<'a> {
    match outer {
        Cow::Borrowed(m) => part(m).map(Cow::Borrowed),
        Cow::Owned(m) => part(&m).cloned().map(Cow::Owned),
    }
}

fn lookup<'m>(container: &'m Message, index: &Message) -> Option<&'m Message> {
    match (container, index) {
        (Message::Object(map), Message::String(key)) => map.get(&**key),
        (Message::Array(items), Message::Integer(i)) => items.get(usize::try_from(*i).ok()?),
        _ => None,
    }
}

/// `&&` (`absorbing` false) and `||` (`absorbing` true). When the left side decides, the
/// right is not evaluated: the interpreter gives the same result whatever the right side
/// is, even an error.
fn logic<'a>(lhs: &'a Node, rhs: &'a Node, fact: &'a Message, absorbing: bool) -> Out<'a> {
    match &*lhs.eval(fact)? {
        Message::Boolean(b) if *b == absorbing => boolean(absorbing),
        Message::Boolean(_) => match &*rhs.eval(fact)? {
            Message::Boolean(b) => boolean(*b),
            _ => None,
        },
        _ => None,
    }
}

/// Equality of two values of the same scalar type; `None` for anything else.
fn equal(a: &Message, b: &Message) -> Option<bool> {
    Some(match (a, b) {
        (Message::Flow, Message::Flow) => true,
        (Message::Boolean(x), Message::Boolean(y)) => x == y,
        (Message::Integer(x), Message::Integer(y)) => x == y,
        (Message::Float(x), Message::Float(y)) => x == y,
        (Message::String(x), Message::String(y)) => x == y,
        _ => return None,
    })
}

fn order(a: &Message, b: &Message) -> Option<Ordering> {
    match (a, b) {
        (Message::Integer(x), Message::Integer(y)) => Some(x.cmp(y)),
        (Message::Float(x), Message::Float(y)) => x.partial_cmp(y),
        (Message::String(x), Message::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn compare(op: Cmp, a: &Message, b: &Message) -> Option<bool> {
    Some(match op {
        Cmp::Eq => equal(a, b)?,
        Cmp::Ne => !equal(a, b)?,
        Cmp::Lt => order(a, b)?.is_lt(),
        Cmp::Le => order(a, b)?.is_le(),
        Cmp::Gt => order(a, b)?.is_gt(),
        Cmp::Ge => order(a, b)?.is_ge(),
    })
}

fn arith(op: Arith, a: &Message, b: &Message) -> Option<Message> {
    match (a, b) {
        (Message::Integer(x), Message::Integer(y)) => Some(Message::Integer(match op {
            Arith::Add => x.checked_add(*y)?,
            Arith::Sub => x.checked_sub(*y)?,
            Arith::Mul => x.checked_mul(*y)?,
            Arith::Div => x.checked_div(*y)?,
            Arith::Rem => x.checked_rem(*y)?,
        })),
        (Message::Float(x), Message::Float(y)) => Some(Message::Float(match op {
            Arith::Add => x + y,
            Arith::Sub => x - y,
            Arith::Mul => x * y,
            Arith::Div => x / y,
            Arith::Rem => return None,
        })),
        (Message::String(x), Message::String(y)) if op == Arith::Add => {
            Some(Message::from(format!("{x}{y}")))
        }
        _ => None,
    }
}

/// `item in collection`: an element of a list, or a key of a map.
fn contains(collection: &Message, item: &Message) -> Option<bool> {
    match collection {
        Message::Array(items) => {
            for element in items.iter() {
                if equal(item, element)? {
                    return Some(true);
                }
            }
            Some(false)
        }
        Message::Object(map) => item.as_str().map(|key| map.contains_key(key)),
        _ => None,
    }
}

/// CEL's `size`: code points of a string, elements of a list, entries of a map.
fn size(msg: &Message) -> Option<i64> {
    let n = match msg {
        Message::String(s) => s.chars().count(),
        Message::Array(items) => items.len(),
        Message::Object(map) => map.len(),
        Message::Bytes(bytes) => bytes.len(),
        _ => return None,
    };
    i64::try_from(n).ok()
}
