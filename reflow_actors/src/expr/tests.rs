use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

fn fact_of(value: Value) -> Message {
    Message::from(value)
}

fn eval(src: &str, fact: Value) -> Result<Message, EvalError> {
    let msg = fact_of(fact);
    let fact = Fact::new(&msg);
    Expr::compile(src).unwrap().eval(&fact)
}

#[test]
fn json_integers_are_cel_ints() {
    let fact = json!({"id": 41, "amount": 2.5, "name": "ada"});
    assert_eq!(eval("fact.id + 1", fact.clone()), Ok(Message::Integer(42)));
    assert_eq!(eval("fact.id - 50", fact.clone()), Ok(Message::Integer(-9)));
    assert_eq!(
        eval("int(fact.amount) + fact.id", fact.clone()),
        Ok(Message::Integer(43))
    );
    assert_eq!(
        eval("type(fact.id) == int", fact),
        Ok(Message::Boolean(true))
    );
}

#[test]
fn results_come_back_as_messages() {
    let fact = json!({"id": 7, "tags": ["a", "b"], "nested": {"x": 1}});
    assert_eq!(
        eval(
            "{'id': fact.id, 'tags': fact.tags, 'one': 1u, 2: true}",
            fact.clone()
        )
        .unwrap()
        .to_json(),
        json!({"id": 7, "tags": ["a", "b"], "one": 1, "2": true})
    );
    assert_eq!(eval("fact", fact.clone()).unwrap().to_json(), fact);
    assert_eq!(
        eval("fact.tags.map(t, t + '!')", fact.clone())
            .unwrap()
            .to_json(),
        json!(["a!", "b!"])
    );
    assert_eq!(
        eval("fact.nested.x * 2.5", json!({"nested": {"x": 2.0}})),
        Ok(Message::Float(5.0))
    );
    assert_eq!(eval("null", fact), Ok(Message::Flow));
}

#[test]
fn extensions_are_available() {
    let fact = json!({"name": "Ada Lovelace", "xs": [3, 1, 2]});
    assert_eq!(
        eval("fact.name.lowerAscii()", fact.clone()),
        Ok(Message::from("ada lovelace"))
    );
    assert_eq!(eval("math.abs(-3)", fact.clone()), Ok(Message::Integer(3)));
    assert_eq!(
        eval("math.greatest(fact.xs)", fact.clone()),
        Ok(Message::Integer(3))
    );
    assert_eq!(
        eval("lists.range(2)", fact.clone()).unwrap().to_json(),
        json!([0, 1])
    );
    assert_eq!(
        eval("fact.name.matches('^Ada')", fact.clone()),
        Ok(Message::Boolean(true))
    );
    assert_eq!(
        eval("fact.xs.exists(x, x > 2)", fact),
        Ok(Message::Boolean(true))
    );
}

/// Every function the rule-writing guide (docs) lists, once.
#[test]
fn the_documented_functions_work() {
    let fact = json!({"xs": [3, 1, 3], "s": " a,b ", "amount": 3});
    for (src, expected) in [
        ("fact.amount > 2.5", json!(true)),
        ("fact.xs.distinct()", json!([3, 1])),
        ("fact.xs.sort()", json!([1, 3, 3])),
        ("fact.xs.reverse()", json!([3, 1, 3])),
        ("fact.xs.slice(0, 1) + [9]", json!([3, 9])),
        ("[[1], [2]].flatten()", json!([1, 2])),
        ("fact.xs.sortBy(x, -x)", json!([3, 3, 1])),
        ("fact.s.trim().split(',')", json!(["a", "b"])),
        ("['a', 'b'].join('-')", json!("a-b")),
        ("'abc'.substring(1)", json!("bc")),
        ("'abc'.charAt(1) + 'abc'.upperAscii()", json!("bABC")),
        ("'abc'.indexOf('c') + 'abca'.lastIndexOf('a')", json!(5)),
        ("'a-b'.replace('-', '+')", json!("a+b")),
        ("'%s=%d'.format(['a', 1])", json!("a=1")),
        ("math.ceil(1.2) + math.sqrt(4)", json!(4.0)),
        ("math.least(fact.xs) + math.sign(-5)", json!(0)),
        ("bool('true') && string(bytes('a')) == 'a'", json!(true)),
        ("uint(fact.amount) + 2u", json!(5)),
        ("double(fact.amount) * 0.5", json!(1.5)),
        ("fact.xs.filter(x, x > 1).size()", json!(2)),
        (
            "fact.xs.all(x, x > 0) && fact.xs.exists_one(x, x == 1)",
            json!(true),
        ),
    ] {
        assert_eq!(
            eval(src, fact.clone()).map(|m| m.to_json()),
            Ok(expected),
            "{src}"
        );
    }
}

#[test]
fn compile_errors_name_the_expression_with_line_and_column() {
    let err = Expr::compile("fact.amount >= ").unwrap_err().to_string();
    assert!(
        err.starts_with("`fact.amount >= ` does not compile: line 1, column 16: Syntax error"),
        "{err}"
    );
    let err = Expr::compile("fact.a &&\n  * 2").unwrap_err().to_string();
    assert!(err.contains("line 2, column 3"), "{err}");
}

#[test]
fn unknown_identifiers_are_refused_at_compile_time() {
    let err = Expr::compile("facts.amount > 3").unwrap_err().to_string();
    assert_eq!(
        err,
        "`facts.amount > 3` does not compile: unknown identifier `facts` (the incoming fact is `fact`)"
    );
    assert!(Expr::compile("fact.xs.all(x, x > y)").is_err());
    for fine in [
        "fact.xs.all(x, x > 0)",
        "type(fact.a) == string",
        "[1, 2].exists_one(v, v == fact.a)",
        "math.abs(fact.a)",
        "strings.quote(fact.s)",
        "optional.none().hasValue()",
        "[3, 1].sortBy(x, x)",
    ] {
        assert!(
            Expr::compile(fine).is_ok(),
            "{fine}: {:?}",
            Expr::compile(fine)
        );
    }
}

#[test]
fn evaluation_errors_carry_the_expression_and_the_reason() {
    let err = eval("fact.missing > 1", json!({"id": 1})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`fact.missing > 1` failed: No such key: missing"
    );
    assert_eq!(err.expr(), "fact.missing > 1");
    let err = eval("fact.name > 3", json!({"name": "x"})).unwrap_err();
    assert!(
        err.reason()
            .contains("no matching overload for '_>_' applied to '(string, int)'"),
        "{err}"
    );
    let err = eval("fact.id + 1.5", json!({"id": 1})).unwrap_err();
    assert!(err.reason().contains("add"), "{err}");
    let err = eval("fact.id / 0", json!({"id": 1})).unwrap_err();
    assert!(err.reason().contains("Division by zero"), "{err}");
    let err = eval("nope(fact)", json!({})).unwrap_err();
    assert!(err.reason().contains("nope"), "{err}");
    let err = eval("optional.of(1)", json!({})).unwrap_err();
    assert!(err.reason().contains("no message form"), "{err}");
}

/// Infinity and NaN, from the direct path or the interpreter, at the top or nested, are
/// errors that name the expression and the value; never a `null` in disguise.
#[test]
fn non_finite_results_are_errors_naming_the_value() {
    let fact = json!({"f": 0.0, "x": 2.0});
    for (src, direct, value) in [
        ("fact.x / 0.0", true, "inf"),
        ("-fact.x / fact.f", true, "-inf"),
        ("fact.f / fact.f", true, "NaN"),
        ("double(fact.x) / 0.0", false, "inf"),
        ("math.sqrt(-1.0)", false, "NaN"),
        ("1e308 * 10.0", true, "inf"),
    ] {
        assert_eq!(Expr::compile(src).unwrap().is_direct(), direct, "{src}");
        let err = eval(src, fact.clone()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("`{src}` failed: returned the double {value} (infinity and NaN are errors: JSON has no form for them)")
        );
    }
    let err = eval("{'a': [1.0, fact.x / 0.0]}", fact.clone()).unwrap_err();
    assert!(
        err.reason()
            .starts_with("returned the double inf at `.a[1]`"),
        "{err}"
    );
    let err = eval("[fact.f / 0.0]", fact.clone()).unwrap_err();
    assert!(
        err.reason().starts_with("returned the double NaN at `[0]`"),
        "{err}"
    );
    // An infinity on the way to a finite answer is no error.
    assert_eq!(
        eval("fact.x / 0.0 > 1.0", fact.clone()),
        Ok(Message::Boolean(true))
    );
    let msg = fact_of(fact);
    for src in ["fact.x / 0.0", "double(fact.x) / 0.0"] {
        let err = Expr::compile(src)
            .unwrap()
            .eval_bool(&Fact::new(&msg))
            .unwrap_err();
        assert!(
            err.reason().starts_with("returned the double inf ("),
            "{err}"
        );
    }
}

/// A non-finite double that arrives in the fact is refused as a result as well.
#[test]
fn a_non_finite_field_of_the_fact_is_refused_when_returned() {
    let msg = Message::object([("f", Message::Float(f64::INFINITY))]);
    for src in ["fact.f", "fact", "dyn(fact.f)"] {
        let err = Expr::compile(src)
            .unwrap()
            .eval(&Fact::new(&msg))
            .unwrap_err();
        assert!(
            err.reason().starts_with("returned the double inf"),
            "{src}: {err}"
        );
    }
}

#[test]
fn conditions_must_be_booleans() {
    let msg = fact_of(json!({"amount": 5}));
    let fact = Fact::new(&msg);
    let direct = Expr::compile("fact.amount").unwrap();
    assert!(direct.is_direct());
    assert_eq!(
        direct.eval_bool(&fact).unwrap_err().to_string(),
        "`fact.amount` failed: returned int 5, not a bool"
    );
    let interpreted = Expr::compile("string(fact.amount)").unwrap();
    assert!(!interpreted.is_direct());
    assert_eq!(
        interpreted.eval_bool(&fact).unwrap_err().reason(),
        "returned string \"5\", not a bool"
    );
}

#[test]
fn the_fact_is_converted_once_for_all_expressions() {
    let msg = fact_of(json!({"a": 1, "s": "x"}));
    let fact = Fact::new(&msg);
    let direct = Expr::compile("fact.a == 1 && fact.s.startsWith('x')").unwrap();
    assert_eq!(direct.eval_bool(&fact), Ok(true));
    assert!(
        fact.context.get().is_none(),
        "the direct path needs no conversion"
    );
    let interpreted = Expr::compile("fact.s.upperAscii()").unwrap();
    assert_eq!(interpreted.eval(&fact), Ok(Message::from("X")));
    let first = fact.context.get().map(|c| &**c as *const _);
    assert_eq!(
        Expr::compile("string(fact.a)").unwrap().eval(&fact),
        Ok(Message::from("1"))
    );
    assert_eq!(fact.context.get().map(|c| &**c as *const _), first);
}

#[test]
fn the_common_subset_is_evaluated_directly() {
    for src in [
        "fact.amount >= 0",
        "fact.country != 'XX' && !(fact.id < 0)",
        "fact.id % 2 == 0 || fact.tag in ['a', 'b']",
        "has(fact.x) ? fact.x.y : -1",
        "size(fact.name) > 2 && fact.name.contains('a')",
        "fact['id'] * 2 - 1",
        "fact.xs[0] / 2.0 <= 1.5",
        "fact.a + 'b'",
    ] {
        assert!(Expr::compile(src).unwrap().is_direct(), "{src}");
    }
    for src in [
        "1u + fact.a",
        "fact.xs.exists(x, x > 1)",
        "int(fact.a)",
        "{'a': 1}",
    ] {
        assert!(!Expr::compile(src).unwrap().is_direct(), "{src}");
    }
}

/// The result in a form where NaN equals NaN.
fn same(expr: &Expr, msg: &Message) -> String {
    format!("{:?}", expr.eval(&Fact::new(msg)))
}

/// Facts and expressions where the direct path and the interpreter must agree exactly,
/// including on errors (the direct path defers those to the interpreter).
#[test]
fn direct_and_interpreted_agree_on_edge_cases() {
    let facts = [
        json!({"a": 1, "b": 2, "s": "héllo", "f": 2.5, "xs": [1, 2, 3], "m": {"k": 1}, "t": true, "n": null}),
        json!({"a": 9223372036854775807i64, "b": -1, "s": "", "f": 0.0, "xs": [], "m": {}, "t": false, "n": null}),
        json!({"a": -9223372036854775807i64 - 1, "b": 0, "s": "z", "f": -1.5, "xs": ["a", 1], "m": {"a": "b"}, "t": true, "n": 1}),
        json!({"a": "1", "b": 1.0, "s": 1, "f": 1, "xs": {"k": 1}, "m": [1], "t": 1, "n": "x"}),
        json!({}),
        json!([1, 2]),
        json!("text"),
    ];
    let exprs = [
        "fact.a + fact.b",
        "fact.a - fact.b",
        "fact.a * fact.b",
        "fact.a / fact.b",
        "fact.a % fact.b",
        "-fact.a",
        "-fact.f",
        "fact.f / 0.0",
        "fact.f / fact.f",
        "-(fact.f / 0.0)",
        "[fact.f / 0.0][0]",
        "fact.f % 2.0",
        "fact.s + fact.s",
        "fact.s + fact.a",
        "fact.a == fact.b",
        "fact.a != fact.b",
        "fact.a < fact.b",
        "fact.f >= fact.b",
        "fact.s < 'm'",
        "fact.a == 1.0",
        "fact.n == null",
        "fact.t == true",
        "fact.xs == [1, 2, 3]",
        "fact.m == {'k': 1}",
        "fact.a in fact.xs",
        "'k' in fact.m",
        "1 in fact.m",
        "fact.s in ['héllo', 'z']",
        "fact.a in [1, 'a']",
        "size(fact.s)",
        "fact.xs.size()",
        "size(fact.m)",
        "size(fact.a)",
        "fact.s.contains('ll')",
        "fact.s.startsWith('h')",
        "fact.s.endsWith(fact.s)",
        "fact.a.contains('x')",
        "fact.t && fact.a > 0",
        "fact.t || fact.missing",
        "fact.missing && false",
        "!fact.t",
        "!fact.a",
        "fact.t ? fact.a : fact.b",
        "fact.a ? 1 : 2",
        "has(fact.a)",
        "has(fact.zz)",
        "has(fact.m.k)",
        "fact.xs[0]",
        "fact.xs[5]",
        "fact.xs[-1]",
        "fact.m['k']",
        "fact.m.k",
        "fact.s.k",
        "fact['a']",
        "fact.missing",
        "fact",
        "fact[0]",
        "[fact.a, 1][0]",
        "fact.f < 0.0 / 0.0",
        "fact.a >= fact.s",
    ];
    for fact in &facts {
        let msg = fact_of(fact.clone());
        for src in exprs {
            let direct = Expr::compile(src).unwrap();
            let interpreted = Expr::interpreted(src).unwrap();
            assert_eq!(
                same(&direct, &msg),
                same(&interpreted, &msg),
                "{src} on {fact}"
            );
        }
    }
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("fact.i".to_string()),
        Just("fact.j".to_string()),
        Just("fact.f".to_string()),
        Just("fact.s".to_string()),
        Just("fact.b".to_string()),
        Just("fact.xs".to_string()),
        Just("fact.m".to_string()),
        Just("fact.gone".to_string()),
        (-3i64..4).prop_map(|i| i.to_string()),
        prop_oneof![
            Just("9223372036854775807"),
            Just("0.5"),
            Just("-2.0"),
            Just("'a'"),
            Just("''"),
            Just("true"),
            Just("null"),
            Just("['a', 1]")
        ]
        .prop_map(String::from),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    field().prop_recursive(4, 24, 2, |inner| {
        let ops = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("=="),
            Just("!="),
            Just("<"),
            Just("<="),
            Just(">"),
            Just(">="),
            Just("&&"),
            Just("||"),
            Just("in"),
        ];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            inner.clone().prop_map(|a| format!("size({a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.startsWith({b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a}[{b}]")),
        ]
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-5i64..5).prop_map(Value::from),
        (-4.0f64..4.0).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn fact() -> impl Strategy<Value = Value> {
    (scalar(), scalar(), scalar(), scalar(), scalar(), prop::collection::vec(scalar(), 0..3), "[a-c]")
        .prop_map(|(i, j, f, s, b, xs, key)| json!({"i": i, "j": j, "f": f, "s": s, "b": b, "xs": xs, "m": {key: 1}}))
}

fn int_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("fact.i".to_string()),
        Just("fact.j".to_string()),
        Just("fact.xs[0]".to_string()),
        Just("size(fact.s)".to_string()),
        (-3i64..4).prop_map(|i| i.to_string()),
        Just("9223372036854775807".to_string()),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        let op = prop_oneof![Just("+"), Just("-"), Just("*"), Just("/"), Just("%")];
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            (bool_leaf(), inner.clone(), inner).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        ]
    })
}

fn float_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("fact.f".to_string()),
        Just("0.5".to_string()),
        Just("-2.0".to_string()),
        Just("0.0".to_string()),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        let op = prop_oneof![Just("+"), Just("-"), Just("*"), Just("/")];
        (inner.clone(), op, inner).prop_map(|(a, op, b)| format!("({a} {op} {b})"))
    })
}

fn str_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("fact.s".to_string()),
        Just("'a'".to_string()),
        Just("''".to_string()),
        Just("(fact.s + 'b')".to_string()),
        Just("fact.m.k".to_string()),
    ]
}

fn bool_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("fact.b".to_string()),
        Just("has(fact.m.k)".to_string()),
        Just("true".to_string()),
        Just("(fact.s in ['a', 'ab'])".to_string()),
        Just("(fact.i in fact.xs)".to_string()),
        Just("('k' in fact.m)".to_string()),
    ]
}

fn bool_expr() -> impl Strategy<Value = String> {
    let cmp = prop_oneof![
        Just("=="),
        Just("!="),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">=")
    ];
    let leaf = prop_oneof![
        bool_leaf(),
        (int_expr(), cmp.clone(), int_expr()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        (float_expr(), cmp.clone(), float_expr()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        (str_expr(), cmp, str_expr()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        (str_expr(), str_expr()).prop_map(|(a, b)| format!("{a}.startsWith({b})")),
        (str_expr(), str_expr()).prop_map(|(a, b)| format!("{a}.contains({b})")),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        let op = prop_oneof![Just("&&"), Just("||")];
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.prop_map(|a| format!("!({a})")),
        ]
    })
}

/// A fact of the types the typed expressions expect, with now and then a field missing or
/// of another type.
fn typed_fact() -> impl Strategy<Value = Value> {
    let int = prop_oneof![8 => (-5i64..5).prop_map(Value::from), 1 => any::<i64>().prop_map(Value::from), 1 => scalar()];
    let float = prop_oneof![9 => (-4.0f64..4.0).prop_map(Value::from), 1 => scalar()];
    let text = prop_oneof![9 => "[ab]{0,2}".prop_map(Value::from), 1 => scalar()];
    let flag = prop_oneof![9 => any::<bool>().prop_map(Value::from), 1 => scalar()];
    let ints = prop::collection::vec((-3i64..3).prop_map(Value::from), 0..3);
    (
        int.clone(),
        int,
        float,
        text.clone(),
        flag,
        ints,
        prop::option::weighted(0.8, text),
    )
        .prop_map(|(i, j, f, s, b, xs, k)| {
            let m = k.map_or(json!({}), |k| json!({"k": k}));
            json!({"i": i, "j": j, "f": f, "s": s, "b": b, "xs": xs, "m": m})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever the expression and the fact, the direct path gives the interpreter's answer.
    #[test]
    fn direct_path_matches_the_interpreter(src in expression(), fact in fact()) {
        let msg = fact_of(fact);
        let direct = Expr::compile(&src).unwrap();
        let interpreted = Expr::interpreted(&src).unwrap();
        prop_assert_eq!(same(&direct, &msg), same(&interpreted, &msg), "{}", src);
    }

    /// The same with well-typed expressions, most of which evaluate to a value.
    #[test]
    fn typed_direct_path_matches_the_interpreter(
        src in prop_oneof![bool_expr(), int_expr(), float_expr()],
        fact in typed_fact(),
    ) {
        let msg = fact_of(fact);
        let direct = Expr::compile(&src).unwrap();
        prop_assert!(direct.is_direct(), "{}", src);
        let interpreted = Expr::interpreted(&src).unwrap();
        prop_assert_eq!(same(&direct, &msg), same(&interpreted, &msg), "{}", src);
    }
}
