//! CEL expressions over an incoming fact, shared by the rule nodes: compiled once from the
//! process configuration, evaluated per message against the variable `fact`.
//!
//! An expression is parsed by the `cel` crate. Where it keeps to a common subset (field
//! access, literals, comparisons, arithmetic, `&&`, `||`, `!`, `?:`, `in`, `has()`,
//! `size()`, `contains`/`startsWith`/`endsWith`) it is also compiled into a small tree that
//! is evaluated directly over the [`Message`], without converting it. Whenever that tree
//! meets a case it does not model exactly (a missing field, mixed types, an overflow), it
//! hands the evaluation to the CEL interpreter, which stays the authority on results and on
//! error messages; the fact is then converted to a CEL value once per [`Fact`], however
//! many expressions look at it.
//!
//! A result that is, or holds, an infinite or NaN double is an evaluation error naming that
//! value, whichever path computed it: JSON has no form for it, and `null` would hide the cause.
//!
//! ```
//! use reflow_actors::expr::{Expr, Fact};
//! use reflow_network::Message;
//! use serde_json::json;
//!
//! let big = Expr::compile("fact.amount > 100 && fact.country in ['FR', 'DE']").unwrap();
//! let next = Expr::compile("fact.id + 1").unwrap();
//! let msg = Message::from(json!({"id": 7, "amount": 250, "country": "FR"}));
//! let fact = Fact::new(&msg);
//! assert_eq!(big.eval_bool(&fact), Ok(true));
//! assert_eq!(next.eval(&fact), Ok(Message::Integer(8)));
//! ```

mod check;
mod convert;
mod fast;
mod finite;

use std::cell::OnceCell;
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::{Env, ParseErrors, Program};
use reflow_network::{ConfigError, Message};

/// The CEL environment every expression is compiled and evaluated in: the standard library
/// and the `strings`, `math` and `lists` extensions.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // These register functions under names the standard library does not use, so they
    // cannot clash; the tests call a function of each.
    let _ = env.add_extension(cel::extensions::strings);
    let _ = env.add_extension(cel::extensions::math);
    let _ = env.add_extension(cel::extensions::lists);
    Arc::new(env)
});

/// A CEL expression compiled once, evaluated against any number of facts.
pub struct Expr {
    source: Arc<str>,
    program: Program,
    fast: Option<fast::Node>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expr")
            .field("source", &self.source)
            .field("fast", &self.fast.is_some())
            .finish()
    }
}

impl Expr {
    /// Compiles `source`. Fails with a [`ConfigError`] naming the expression, with the
    /// parser's line, column and reason, or the first identifier other than `fact` that the
    /// expression uses and nothing declares.
    pub fn compile(source: &str) -> Result<Self, ConfigError> {
        let mut expr = Self::interpreted(source)?;
        expr.fast = fast::build(expr.program.expression());
        Ok(expr)
    }

    /// Compiles `source` for the CEL interpreter only, without the direct evaluation of the
    /// common subset: the same results, more slowly. Meant for comparisons and tests.
    pub fn interpreted(source: &str) -> Result<Self, ConfigError> {
        let program = ENV
            .compile(source)
            .map_err(|errors| ConfigError::new(describe_parse_errors(source, &errors)))?;
        if let Some(name) = check::undeclared(program.expression(), &ENV) {
            return Err(ConfigError::new(format!(
                "`{source}` does not compile: unknown identifier `{name}` (the incoming fact is `fact`)"
            )));
        }
        Ok(Expr {
            source: source.into(),
            program,
            fast: None,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression is evaluated directly over messages when it can be, rather
    /// than always by the interpreter.
    pub fn is_direct(&self) -> bool {
        self.fast.is_some()
    }

    /// Evaluates the expression with `fact` bound to the variable `fact`.
    ///
    /// A result that is, or holds, an infinite or NaN double is an error naming that value:
    /// JSON has no form for it, and turning it into `null` would hide a division by zero.
    pub fn eval(&self, fact: &Fact<'_>) -> Result<Message, EvalError> {
        let value = match self.fast.as_ref().and_then(|node| node.eval(fact.msg)) {
            Some(value) => value,
            None => self.interpret(fact)?,
        };
        self.finite(value)
    }

    /// Evaluates a condition: the result must be a boolean, anything else is an error.
    pub fn eval_bool(&self, fact: &Fact<'_>) -> Result<bool, EvalError> {
        let value = match self.fast.as_ref().and_then(|node| node.test(fact.msg)) {
            Some(Ok(b)) => return Ok(b),
            Some(Err(value)) => value,
            None => self.interpret(fact)?,
        };
        match self.finite(value)? {
            Message::Boolean(b) => Ok(b),
            other => Err(self.error(format!(
                "returned {} {other}, not a bool",
                convert::type_name(&other)
            ))),
        }
    }

    fn interpret(&self, fact: &Fact<'_>) -> Result<Message, EvalError> {
        let value = self
            .program
            .execute(fact.context())
            .map_err(|e| self.error(e))?;
        convert::from_value(value).map_err(|reason| self.error(reason))
    }

    /// `value`, unless it is or holds an infinite or NaN double. Checked after either path,
    /// so that the direct one and the interpreter give the same error by construction.
    fn finite(&self, value: Message) -> Result<Message, EvalError> {
        match finite::first_non_finite(&value) {
            None => Ok(value),
            Some(found) => Err(self.error(found)),
        }
    }

    fn error(&self, reason: impl fmt::Display) -> EvalError {
        EvalError {
            expr: self.source.clone(),
            reason: reason.to_string(),
        }
    }
}

/// A message being evaluated: converted to a CEL value at most once, the first time an
/// expression needs the interpreter, then shared by every expression evaluated on it.
pub struct Fact<'m> {
    msg: &'m Message,
    // Boxed so that a fact the interpreter never sees costs two words to make and drop.
    context: OnceCell<Box<cel::Context<'m, 'm>>>,
}

impl fmt::Debug for Fact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fact")
            .field("msg", self.msg)
            .field("converted", &self.context.get().is_some())
            .finish()
    }
}

impl<'m> Fact<'m> {
    /// Wraps a message; nothing is converted yet.
    pub fn new(msg: &'m Message) -> Self {
        Fact {
            msg,
            context: OnceCell::new(),
        }
    }

    /// The message.
    pub fn message(&self) -> &'m Message {
        self.msg
    }

    fn context(&self) -> &cel::Context<'m, 'm> {
        self.context.get_or_init(|| {
            let mut context = cel::Context::with_env(ENV.clone());
            context.add_variable_as_val("fact", convert::to_val(self.msg));
            Box::new(context)
        })
    }
}

/// Why an expression could not be evaluated against a fact: a missing field, a type
/// mismatch, no such function for those arguments, a condition that is not a boolean.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{expr}` failed: {reason}")]
pub struct EvalError {
    expr: Arc<str>,
    reason: String,
}

impl EvalError {
    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// What went wrong, as the interpreter put it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// One line per parse error: `` `src` does not compile: line L, column C: reason ``.
fn describe_parse_errors(source: &str, errors: &ParseErrors) -> String {
    let reasons: Vec<String> = errors
        .errors
        .iter()
        .map(|e| format!("line {}, column {}: {}", e.pos.0, e.pos.1, e.msg))
        .collect();
    let reasons = if reasons.is_empty() {
        errors.to_string()
    } else {
        reasons.join("; ")
    };
    format!("`{source}` does not compile: {reasons}")
}

#[cfg(test)]
mod tests;
