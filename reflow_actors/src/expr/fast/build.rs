//! Builds a [`Node`] tree from a parsed CEL expression, when the whole expression keeps to
//! the subset that [`Node::eval`] knows.

use cel::common::ast::{operators, CallExpr, Expr, IdedExpr, LiteralValue};
use reflow_network::Message;

use super::{Arith, Cmp, Node, TextFn};

/// The tree for `expr`, or `None` when any part of it is outside the subset.
pub(in crate::expr) fn build(expr: &IdedExpr) -> Option<Node> {
    match &expr.expr {
        Expr::Ident(name) if name == "fact" => Some(Node::Fact),
        Expr::Literal(literal) => literal_value(literal).map(Node::Lit),
        Expr::List(list) if list.optional_indices.is_empty() => {
            let items = list
                .elements
                .iter()
                .map(|e| match build(e)? {
                    Node::Lit(msg) => Some(msg),
                    _ => None,
                })
                .collect::<Option<Vec<Message>>>()?;
            Some(Node::Lit(Message::array(items)))
        }
        Expr::Select(select) => {
            let operand = build(&select.operand)?;
            let field = select.field.as_str().into();
            Some(match (select.test, operand) {
                (true, operand) => Node::Has(Box::new(operand), field),
                (false, Node::Fact) => Node::FactField(field),
                (false, operand) => Node::Field(Box::new(operand), field),
            })
        }
        Expr::Call(call) => build_call(call),
        _ => None,
    }
}

fn literal_value(literal: &LiteralValue) -> Option<Message> {
    Some(match literal {
        LiteralValue::Boolean(b) => Message::Boolean(*b.inner()),
        LiteralValue::Int(i) => Message::Integer(*i.inner()),
        LiteralValue::Double(d) => Message::Float(*d.inner()),
        LiteralValue::String(s) => Message::from(s.inner()),
        LiteralValue::Null => Message::Flow,
        // `uint` and `bytes` have no direct counterpart among messages.
        LiteralValue::UInt(_) | LiteralValue::Bytes(_) => return None,
    })
}

fn build_call(call: &CallExpr) -> Option<Node> {
    let args: Vec<Node> = call.args.iter().map(build).collect::<Option<_>>()?;
    let target = match &call.target {
        Some(target) => Some(build(target)?),
        None => None,
    };
    match (target, <[Node; 1]>::try_from(args)) {
        (None, Ok([arg])) => unary(&call.func_name, arg),
        (None, Err(args)) => global(&call.func_name, args),
        (Some(target), Ok([arg])) => member(&call.func_name, target, Some(arg)),
        (Some(target), Err(args)) if args.is_empty() => member(&call.func_name, target, None),
        (Some(_), Err(_)) => None,
    }
}

fn unary(name: &str, arg: Node) -> Option<Node> {
    let arg = Box::new(arg);
    match name {
        operators::LOGICAL_NOT => Some(Node::Not(arg)),
        operators::NEGATE => Some(Node::Neg(arg)),
        "size" => Some(Node::Size(arg)),
        _ => None,
    }
}

/// Operators of two or more operands.
fn global(name: &str, args: Vec<Node>) -> Option<Node> {
    if name == operators::CONDITIONAL {
        let [cond, then, otherwise] = <[Node; 3]>::try_from(args).ok()?;
        return Some(Node::Cond(
            Box::new(cond),
            Box::new(then),
            Box::new(otherwise),
        ));
    }
    let [lhs, rhs] = <[Node; 2]>::try_from(args).ok()?;
    let (lhs, rhs) = (Box::new(lhs), Box::new(rhs));
    Some(match binary(name)? {
        Binary::And => Node::And(lhs, rhs),
        Binary::Or => Node::Or(lhs, rhs),
        Binary::Index => Node::Index(lhs, rhs),
        Binary::In => Node::In(lhs, rhs),
        Binary::Cmp(op) => match *rhs {
            Node::Lit(lit) => Node::CmpLit(op, lhs, lit),
            rhs => Node::Cmp(op, lhs, Box::new(rhs)),
        },
        Binary::Arith(op) => Node::Arith(op, lhs, rhs),
    })
}

enum Binary {
    And,
    Or,
    Index,
    In,
    Cmp(Cmp),
    Arith(Arith),
}

fn binary(name: &str) -> Option<Binary> {
    Some(match name {
        operators::LOGICAL_AND => Binary::And,
        operators::LOGICAL_OR => Binary::Or,
        operators::INDEX => Binary::Index,
        operators::IN => Binary::In,
        operators::EQUALS => Binary::Cmp(Cmp::Eq),
        operators::NOT_EQUALS => Binary::Cmp(Cmp::Ne),
        operators::LESS => Binary::Cmp(Cmp::Lt),
        operators::LESS_EQUALS => Binary::Cmp(Cmp::Le),
        operators::GREATER => Binary::Cmp(Cmp::Gt),
        operators::GREATER_EQUALS => Binary::Cmp(Cmp::Ge),
        operators::ADD => Binary::Arith(Arith::Add),
        operators::SUBSTRACT => Binary::Arith(Arith::Sub),
        operators::MULTIPLY => Binary::Arith(Arith::Mul),
        operators::DIVIDE => Binary::Arith(Arith::Div),
        operators::MODULO => Binary::Arith(Arith::Rem),
        _ => return None,
    })
}

/// `target.name()` and `target.name(arg)`.
fn member(name: &str, target: Node, arg: Option<Node>) -> Option<Node> {
    let target = Box::new(target);
    let f = match (name, arg) {
        ("size", None) => return Some(Node::Size(target)),
        (_, None) => return None,
        ("contains", Some(arg)) => (TextFn::Contains, arg),
        ("startsWith", Some(arg)) => (TextFn::StartsWith, arg),
        ("endsWith", Some(arg)) => (TextFn::EndsWith, arg),
        _ => return None,
    };
    Some(Node::Text(f.0, target, Box::new(f.1)))
}
