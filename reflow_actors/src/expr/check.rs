//! A compile-time check the CEL crate does not make: every identifier must be `fact`, a
//! variable bound by a macro (`x` in `list.exists(x, ...)`), a type name (`int`) or a
//! function namespace (`math`). A typo such as `facts.amount` is then a configuration
//! error rather than an error on every message.

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::Env;

/// Namespaces of the functions in the environment (`math.abs`, `lists.range`, ...).
const NAMESPACES: [&str; 4] = ["math", "lists", "strings", "optional"];

/// The first identifier of `expr` that nothing declares.
pub(super) fn undeclared(expr: &IdedExpr, env: &Env) -> Option<String> {
    let mut scope = Vec::new();
    walk(expr, env, &mut scope)
}

fn walk<'e>(expr: &'e IdedExpr, env: &Env, scope: &mut Vec<&'e str>) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => (!known(name, env, scope)).then(|| name.clone()),
        Expr::Select(select) => match qualified_name(expr) {
            Some(name) if env.types().find_type(&name).is_some() => None,
            _ => walk(&select.operand, env, scope),
        },
        Expr::Call(call) => {
            let target = call
                .target
                .as_deref()
                .and_then(|target| match &target.expr {
                    Expr::Ident(name) if NAMESPACES.contains(&name.as_str()) => None,
                    _ => walk(target, env, scope),
                });
            target.or_else(|| call.args.iter().find_map(|arg| walk(arg, env, scope)))
        }
        Expr::List(list) => list.elements.iter().find_map(|e| walk(e, env, scope)),
        Expr::Map(map) => map.entries.iter().find_map(|entry| match &entry.expr {
            EntryExpr::MapEntry(e) => {
                walk(&e.key, env, scope).or_else(|| walk(&e.value, env, scope))
            }
            EntryExpr::StructField(f) => walk(&f.value, env, scope),
        }),
        Expr::Struct(s) => s.entries.iter().find_map(|entry| match &entry.expr {
            EntryExpr::MapEntry(e) => walk(&e.value, env, scope),
            EntryExpr::StructField(f) => walk(&f.value, env, scope),
        }),
        Expr::Comprehension(c) => {
            let outer = walk(&c.iter_range, env, scope).or_else(|| walk(&c.accu_init, env, scope));
            if outer.is_some() {
                return outer;
            }
            let depth = scope.len();
            scope.push(&c.iter_var);
            scope.extend(c.iter_var2.as_deref());
            scope.push(&c.accu_var);
            let inner = [&c.loop_cond, &c.loop_step, &c.result]
                .into_iter()
                .find_map(|e| walk(e, env, scope));
            scope.truncate(depth);
            inner
        }
        Expr::Literal(_) | Expr::Unspecified => None,
    }
}

fn known(name: &str, env: &Env, scope: &[&str]) -> bool {
    name == "fact" || scope.contains(&name) || env.types().find_type(name).is_some()
}

/// `a.b.c` as one dotted name, when `expr` is made of identifiers and field selections.
fn qualified_name(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => {
            qualified_name(&select.operand).map(|root| format!("{root}.{}", select.field))
        }
        _ => None,
    }
}
