//! A policy's CEL condition: parsed and checked when an admin saves it
//! (only request fields, a bounded shape), and evaluated on a request
//! within a CPU-time budget.
//!
//! The bound has two halves. At save, what cannot be bounded is refused:
//! more than [`CONDITION_MAX_NODES`] parts, nesting deeper than
//! [`CONDITION_MAX_DEPTH`], a comprehension (`all`, `exists`, `map`, ...)
//! inside another's body, whose cost is the product of two lists' lengths.
//! At run time the condition is evaluated as written but with checkpoints:
//! every operand of every call, every element of a list or map, and every
//! loop's range passes through `__tick`, which fails once the request's
//! conditions have used their CPU time ([`ConditionBudget`]). An operation
//! between two checkpoints works on at most a request's `data` (256 KiB),
//! so the overrun past the budget is one such operation. A condition over
//! budget is an evaluation error, and a restrictive policy then applies
//! (`ActivePolicy::applies`).

use crate::model::{reveal_hidden, FieldProblem};
use cel::common::ast::{operators, CallExpr, EntryExpr, Expr, IdedExpr};
use cel::common::value::CowVal;
use cel::{ExecutionError, FunctionContext};
use std::cell::OnceCell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The request fields a condition may use.
pub const REQUEST_FIELDS: [&str; 4] = ["action", "title", "agent", "data"];

/// The longest condition an admin may write.
pub const CONDITION_MAX_CHARS: usize = 2_000;

/// The most parts a condition may have once its macros are expanded (an
/// `all(...)` is about six): plain conditions have a few dozen.
pub const CONDITION_MAX_NODES: usize = 300;

/// How deeply a condition's parts may nest (`a + (b + (c + ...))`, or a
/// left-leaning chain `1 + 1 + ... + 1`, which nests as deeply as it is
/// long).
pub const CONDITION_MAX_DEPTH: usize = 32;

/// The stack the parser gets (the cel parser stops at 96 levels itself).
const COMPILE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// The CPU time all the conditions tried on one request may use together.
pub const CONDITION_BUDGET: Duration = Duration::from_millis(3);

/// The checkpoint the evaluated expression passes through (not a name a
/// condition can reach: identifiers that are not request fields are
/// refused, and this one is only ever called).
const TICK: &str = "__holdpoint_tick";

/// A compiled CEL condition: the expression as written (for positions and
/// refusals) and the same with checkpoints (to evaluate).
#[derive(Debug)]
pub struct Condition {
    /// Err: a stored condition that no longer compiles (a bound added
    /// since it was saved), which never evaluates.
    instrumented: Result<IdedExpr, String>,
}

/// Where a condition went wrong: 1-based line and column, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ConditionError {
    pub fn to_problem(&self) -> FieldProblem {
        FieldProblem {
            field: "condition".to_owned(),
            message: format!(
                "line {}, column {}: {}",
                self.line, self.column, self.message
            ),
        }
    }
}

/// What a condition sees of a request.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub action: Option<&'a str>,
    pub title: &'a str,
    pub agent: &'a str,
    /// The request's `data` object.
    pub data: &'a serde_json::Value,
}

impl RequestFacts<'_> {
    /// The fields as a condition names them, for a person trying one.
    pub fn describe(&self) -> String {
        serde_json::json!({
            "action": self.action,
            "title": self.title,
            "agent": self.agent,
            "data": self.data,
        })
        .to_string()
    }
}

#[cfg(test)]
impl<'a> RequestFacts<'a> {
    /// A refund by `billing-agent` with this data, for unit tests.
    pub fn refund(data: &'a serde_json::Value) -> Self {
        RequestFacts {
            action: Some("billing.refund"),
            title: "Refund $12",
            agent: "billing-agent",
            data,
        }
    }
}

/// The CPU time left to one request's conditions: one budget for all the
/// policies tried on it, so many policies cannot multiply it. Measured on
/// the evaluating thread's own CPU clock (a busy machine that pauses the
/// thread does not make a cheap condition fail), read every
/// [`CLOCK_EVERY`] checkpoints (each read is a system call).
#[derive(Debug, Clone)]
pub struct ConditionBudget {
    inner: Arc<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    until_ns: u64,
    checkpoints: AtomicU32,
    spent: AtomicBool,
}

/// Checkpoints between two reads of the clock.
pub const CLOCK_EVERY: u32 = 32;

/// A list, map or string this long has the clock read when it passes.
const LARGE_VALUE: i64 = 256;

impl ConditionBudget {
    /// [`CONDITION_BUDGET`], starting now.
    pub fn start() -> Self {
        Self::of(CONDITION_BUDGET)
    }

    pub fn of(budget: Duration) -> Self {
        Self {
            inner: Arc::new(BudgetState {
                until_ns: thread_cpu_ns().saturating_add(budget.as_nanos() as u64),
                checkpoints: AtomicU32::new(0),
                spent: AtomicBool::new(false),
            }),
        }
    }

    /// Whether the budget is spent, reading the clock now.
    fn spent(&self) -> bool {
        if self.inner.spent.load(Ordering::Relaxed) {
            return true;
        }
        let spent = thread_cpu_ns() > self.inner.until_ns;
        self.inner.spent.store(spent, Ordering::Relaxed);
        spent
    }

    /// A checkpoint: whether the budget is spent, reading the clock at
    /// every [`CLOCK_EVERY`]th, and at each one a large value passes
    /// (copying it, as a `map` that collects it does, costs far more than
    /// reading the clock).
    fn checkpoint(&self, large: bool) -> bool {
        if self.inner.spent.load(Ordering::Relaxed) {
            return true;
        }
        let passed = self.inner.checkpoints.fetch_add(1, Ordering::Relaxed);
        (large || passed.is_multiple_of(CLOCK_EVERY)) && self.spent()
    }
}

/// A request as its conditions see it: converted into CEL's values once,
/// when a condition first needs it, and evaluated within one budget
/// (started after the conversion, whose cost the request's size limit
/// bounds) whatever the number of policies that try it.
pub struct Evaluation<'a> {
    pub facts: &'a RequestFacts<'a>,
    budget: Duration,
    prepared: OnceCell<Result<(cel::Context<'a, 'a>, ConditionBudget), String>>,
}

impl<'a> Evaluation<'a> {
    pub fn new(facts: &'a RequestFacts<'a>) -> Self {
        Self::with_budget(facts, CONDITION_BUDGET)
    }

    pub fn with_budget(facts: &'a RequestFacts<'a>, budget: Duration) -> Self {
        Self {
            facts,
            budget,
            prepared: OnceCell::new(),
        }
    }

    fn prepared(&self) -> Result<&(cel::Context<'a, 'a>, ConditionBudget), String> {
        self.prepared
            .get_or_init(|| {
                let facts = self.facts;
                let mut context = cel::Context::default();
                let unconvertible =
                    |name: &'static str| move |e: cel::SerializationError| format!("{name}: {e}");
                context
                    .add_variable("action", facts.action)
                    .map_err(unconvertible("action"))?;
                context
                    .add_variable("title", facts.title)
                    .map_err(unconvertible("title"))?;
                context
                    .add_variable("agent", facts.agent)
                    .map_err(unconvertible("agent"))?;
                context
                    .add_variable("data", facts.data)
                    .map_err(unconvertible("data"))?;
                let budget = ConditionBudget::of(self.budget);
                context
                    .add_function(TICK, checkpoint(budget.clone()))
                    .map_err(|e| format!("{e:?}"))?;
                Ok((context, budget))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// This thread's CPU time in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to write; the clock
    // id is a constant every Linux kernel since 2.6.12 knows.
    let answered = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if answered != 0 {
        // Cannot happen on Linux; were it to, every budget is spent (a
        // check that cannot decide fails closed).
        return u64::MAX;
    }
    (now.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(now.tv_nsec as u64)
}

impl Condition {
    /// Parses `source` and checks that it names only request fields and
    /// has a shape whose cost is bounded.
    pub fn compile(source: &str) -> Result<Self, ConditionError> {
        if source.chars().count() > CONDITION_MAX_CHARS {
            return Err(ConditionError {
                line: 1,
                column: CONDITION_MAX_CHARS + 1,
                message: format!("a condition has at most {CONDITION_MAX_CHARS} characters"),
            });
        }
        // The parser recurses once per bracket or prefix operator, up to its
        // own limit, with frames large enough that a deeply nested source
        // would overflow a server thread's stack before that limit: parse
        // (and walk) on a thread of its own with room to spare. Rare: on
        // save, and once per policy per process.
        let owned = source.to_owned();
        std::thread::Builder::new()
            .name("condition-compile".to_owned())
            .stack_size(COMPILE_STACK_BYTES)
            .spawn(move || Self::compile_here(&owned))
            .ok()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_else(|| {
                Err(ConditionError {
                    line: 1,
                    column: 1,
                    message: "the condition could not be checked: try again".to_owned(),
                })
            })
    }

    fn compile_here(source: &str) -> Result<Self, ConditionError> {
        if source.chars().count() > CONDITION_MAX_CHARS {
            return Err(ConditionError {
                line: 1,
                column: CONDITION_MAX_CHARS + 1,
                message: format!("a condition has at most {CONDITION_MAX_CHARS} characters"),
            });
        }
        let program = cel::Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map(|e| e.pos).unwrap_or((1, 1));
            ConditionError {
                line: line.max(1) as usize,
                column: column.max(1) as usize,
                message: first
                    .map(|e| e.msg.clone())
                    .unwrap_or_else(|| "the condition does not parse".to_owned()),
            }
        })?;
        let refuse = |id: u64, message: String| {
            let offset = program
                .source_info()
                .offset_for(id)
                .map(|(start, _)| start as usize)
                .unwrap_or(0);
            let (line, column) = line_and_column(source, offset);
            ConditionError {
                line,
                column,
                message,
            }
        };
        // The shape first: the walks below recurse as deeply as it nests.
        let mut nodes = 0;
        check_shape(program.expression(), 1, false, &mut nodes)
            .map_err(|(id, message)| refuse(id, message))?;
        let mut unknown = Vec::new();
        free_names(program.expression(), &mut Vec::new(), &mut unknown);
        if let Some((name, id)) = unknown
            .into_iter()
            .find(|(name, _)| !REQUEST_FIELDS.contains(&name.as_str()))
        {
            return Err(refuse(
                id,
                format!(
                    "{name} is not a request field: a condition may use {} \
                     (the request's own data as data.<field>)",
                    REQUEST_FIELDS.join(", ")
                ),
            ));
        }
        let mut instrumented = program.expression().clone();
        instrument(&mut instrumented);
        Ok(Self {
            instrumented: Ok(instrumented),
        })
    }

    /// A stored condition that no longer compiles, for why: it cannot be
    /// evaluated on any request, so its policy fails closed (a gate or
    /// deny policy holds back every request it covers) rather than
    /// dropping out of the order and letting a looser one rule.
    pub fn unusable(why: String) -> Self {
        Self {
            instrumented: Err(why),
        }
    }

    /// False for [`Condition::unusable`].
    pub fn is_usable(&self) -> bool {
        self.instrumented.is_ok()
    }

    /// Whether the condition holds for this request, within the request's
    /// budget. An error (a field the request lacks, a comparison of
    /// mismatched types, the budget spent) or a result that is not a
    /// boolean is an `Err` saying what, briefly (the agent's own values
    /// appear in it): whether the policy then applies depends on its mode
    /// (`ActivePolicy::applies`).
    pub fn holds(&self, evaluation: &Evaluation<'_>) -> Result<bool, String> {
        let expression = self.instrumented.as_ref().map_err(Clone::clone)?;
        let (context, budget) = evaluation.prepared().map_err(|why| brief(&why))?;
        if budget.spent() {
            return Err(over_budget());
        }
        match cel::Value::resolve(expression, context) {
            Ok(cel::Value::Bool(holds)) => Ok(holds),
            Ok(other) => Err(brief(&format!(
                "the condition gives {other:?}, not true or false"
            ))),
            Err(_) if budget.spent() => Err(over_budget()),
            Err(error) => Err(brief(&error.to_string())),
        }
    }
}

/// The longest reason an evaluation error gives (it may quote the agent's
/// own values, which a person then reads on the card).
const WHY_MAX_CHARS: usize = 200;

/// An error, short and with hidden characters shown.
fn brief(why: &str) -> String {
    let shown = reveal_hidden(why);
    if shown.chars().count() <= WHY_MAX_CHARS {
        return shown.into_owned();
    }
    let cut: String = shown.chars().take(WHY_MAX_CHARS - 1).collect();
    format!("{cut}…")
}

fn over_budget() -> String {
    format!(
        "the request's conditions ran past their budget of {} ms of CPU time",
        CONDITION_BUDGET.as_millis()
    )
}

/// The checkpoint function: passes its one argument through unchanged
/// (borrowed, not copied) while the budget lasts, and fails after.
type Checkpoint = Box<
    dyn for<'c, 'a> Fn(&mut FunctionContext<'c, 'a>) -> Result<CowVal<'c, 'a>, ExecutionError>
        + Send
        + Sync,
>;

fn checkpoint(budget: ConditionBudget) -> Checkpoint {
    Box::new(move |call: &mut FunctionContext| {
        let large = call
            .args
            .last()
            .and_then(|value| value.as_sizer())
            .is_some_and(|sizer| *sizer.size().inner() > LARGE_VALUE);
        if budget.checkpoint(large) {
            return Err(call.error(over_budget()));
        }
        call.args
            .pop()
            .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))
    })
}

/// Refuses what cannot be bounded: too many parts, too deep, or a
/// comprehension in another's body. The id of the node at fault, and why.
fn check_shape(
    expr: &IdedExpr,
    depth: usize,
    in_loop_body: bool,
    nodes: &mut usize,
) -> Result<(), (u64, String)> {
    *nodes += 1;
    if *nodes > CONDITION_MAX_NODES {
        return Err((
            expr.id,
            format!(
                "a condition has at most {CONDITION_MAX_NODES} parts (its macros expanded): \
                 split it into several policies"
            ),
        ));
    }
    if depth > CONDITION_MAX_DEPTH {
        return Err((
            expr.id,
            format!(
                "a condition nests at most {CONDITION_MAX_DEPTH} levels deep \
                 (a long chain such as 1 + 1 + ... nests one level per term)"
            ),
        ));
    }
    let next = depth + 1;
    match &expr.expr {
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                check_shape(target, next, in_loop_body, nodes)?;
            }
            for arg in &call.args {
                check_shape(arg, next, in_loop_body, nodes)?;
            }
        }
        Expr::Select(select) => check_shape(&select.operand, next, in_loop_body, nodes)?,
        Expr::List(list) => {
            for element in &list.elements {
                check_shape(element, next, in_loop_body, nodes)?;
            }
        }
        Expr::Map(map) => entries_shape(&map.entries, next, in_loop_body, nodes)?,
        Expr::Struct(structure) => entries_shape(&structure.entries, next, in_loop_body, nodes)?,
        Expr::Comprehension(comprehension) => {
            if in_loop_body {
                return Err((
                    expr.id,
                    "a comprehension (all, exists, exists_one, map, filter) inside another's \
                     body is refused: its cost grows with the product of the lists' lengths"
                        .to_owned(),
                ));
            }
            // A loop over another loop's result (`l.filter(...).all(...)`)
            // costs their sum: only the body counts as inside.
            check_shape(&comprehension.iter_range, next, in_loop_body, nodes)?;
            check_shape(&comprehension.accu_init, next, in_loop_body, nodes)?;
            check_shape(&comprehension.loop_cond, next, true, nodes)?;
            check_shape(&comprehension.loop_step, next, true, nodes)?;
            check_shape(&comprehension.result, next, true, nodes)?;
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
    Ok(())
}

fn entries_shape(
    entries: &[cel::common::ast::IdedEntryExpr],
    depth: usize,
    in_loop_body: bool,
    nodes: &mut usize,
) -> Result<(), (u64, String)> {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(field) => check_shape(&field.value, depth, in_loop_body, nodes)?,
            EntryExpr::MapEntry(pair) => {
                check_shape(&pair.key, depth, in_loop_body, nodes)?;
                check_shape(&pair.value, depth, in_loop_body, nodes)?;
            }
        }
    }
    Ok(())
}

/// Puts a checkpoint in front of every value an operation works on. The
/// shapes the interpreter recognises to run loops fast are kept: a loop's
/// step (`@result && p`, `@result + [e]`, `c ? @result + [e] : @result`)
/// gets its checkpoints inside, never around the step or the accumulator.
fn instrument(expr: &mut IdedExpr) {
    match &mut expr.expr {
        Expr::Call(call) => instrument_call(call),
        Expr::Select(select) => instrument(&mut select.operand),
        Expr::List(list) => {
            for element in &mut list.elements {
                instrument(element);
                checkpoint_before(element);
            }
        }
        Expr::Map(map) => instrument_entries(&mut map.entries),
        Expr::Struct(structure) => instrument_entries(&mut structure.entries),
        Expr::Comprehension(comprehension) => {
            instrument(&mut comprehension.iter_range);
            checkpoint_before(&mut comprehension.iter_range);
            instrument(&mut comprehension.accu_init);
            instrument(&mut comprehension.loop_cond);
            // `all` and `exists` check a condition before each element (a
            // call): a checkpoint there ends the loop as soon as the budget
            // is spent. `map` and `filter` have a literal `true` there,
            // which their fast path needs, and checkpoints in their step.
            checkpoint_before(&mut comprehension.loop_cond);
            instrument_step(&mut comprehension.loop_step, &comprehension.accu_var);
            instrument(&mut comprehension.result);
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn instrument_call(call: &mut CallExpr) {
    if let Some(target) = &mut call.target {
        instrument(target);
        checkpoint_before(target);
    }
    for arg in &mut call.args {
        instrument(arg);
        checkpoint_before(arg);
    }
}

/// A loop's step. The interpreter's fast path for `map` and `filter`
/// recognises `@result + [e]`, bare or guarded (`c ? @result + [e] :
/// @result`): those keep their shape, with checkpoints inside `c` and `e`.
/// Any other step is a call whose accumulator operand stays bare (names
/// get no checkpoint), as `all` and `exists` need.
fn instrument_step(step: &mut IdedExpr, accumulator: &str) {
    let Expr::Call(call) = &mut step.expr else {
        return instrument(step);
    };
    if call.func_name == operators::CONDITIONAL && call.args.len() == 3 {
        let [guard, then, otherwise] = &mut call.args[..] else {
            unreachable!("three arguments")
        };
        instrument(guard);
        checkpoint_before(guard);
        if !instrument_append(then, accumulator) {
            instrument(then);
        }
        instrument(otherwise);
    } else if !instrument_append(step, accumulator) {
        instrument(step);
    }
}

/// `@result + [e, ...]`: checkpoints before each `e`, the list left a list.
/// False when `expr` is not that shape.
fn instrument_append(expr: &mut IdedExpr, accumulator: &str) -> bool {
    let Expr::Call(call) = &mut expr.expr else {
        return false;
    };
    let is_append = call.func_name == operators::ADD
        && call.target.is_none()
        && matches!(call.args.as_slice(), [lhs, rhs]
            if matches!(&lhs.expr, Expr::Ident(name) if name == accumulator)
                && matches!(rhs.expr, Expr::List(_)));
    if !is_append {
        return false;
    }
    if let Expr::List(list) = &mut call.args[1].expr {
        for element in &mut list.elements {
            instrument(element);
            checkpoint_before(element);
        }
    }
    true
}

fn instrument_entries(entries: &mut [cel::common::ast::IdedEntryExpr]) {
    for entry in entries {
        match &mut entry.expr {
            EntryExpr::StructField(field) => {
                instrument(&mut field.value);
                checkpoint_before(&mut field.value);
            }
            EntryExpr::MapEntry(pair) => {
                instrument(&mut pair.key);
                checkpoint_before(&mut pair.key);
                instrument(&mut pair.value);
                checkpoint_before(&mut pair.value);
            }
        }
    }
}

/// Wraps `expr` as `__holdpoint_tick(expr)`, unless it is a name or a
/// constant (nothing to compute: the operation they feed has its own
/// checkpoints around it). Literal lists and maps get one too: an
/// operation on `[x, x, x]` costs as much as its elements are large.
fn checkpoint_before(expr: &mut IdedExpr) {
    if matches!(
        expr.expr,
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified
    ) {
        return;
    }
    let inner = std::mem::take(expr);
    *expr = IdedExpr {
        id: inner.id,
        expr: Expr::Call(CallExpr {
            func_name: TICK.to_owned(),
            target: None,
            args: vec![inner],
        }),
    };
}

/// Identifiers the expression reads that no comprehension binds, with the
/// id of their node (for its position).
fn free_names(expr: &IdedExpr, bound: &mut Vec<String>, found: &mut Vec<(String, u64)>) {
    match &expr.expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.contains(name) {
                found.push((name.clone(), expr.id));
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                free_names(target, bound, found);
            }
            for arg in &call.args {
                free_names(arg, bound, found);
            }
        }
        Expr::Select(select) => free_names(&select.operand, bound, found),
        Expr::List(list) => {
            for element in &list.elements {
                free_names(element, bound, found);
            }
        }
        Expr::Map(map) => entries(&map.entries, bound, found),
        Expr::Struct(structure) => entries(&structure.entries, bound, found),
        Expr::Comprehension(comprehension) => {
            free_names(&comprehension.iter_range, bound, found);
            free_names(&comprehension.accu_init, bound, found);
            let before = bound.len();
            bound.push(comprehension.iter_var.clone());
            bound.extend(comprehension.iter_var2.clone());
            bound.push(comprehension.accu_var.clone());
            free_names(&comprehension.loop_cond, bound, found);
            free_names(&comprehension.loop_step, bound, found);
            free_names(&comprehension.result, bound, found);
            bound.truncate(before);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entries(
    entries: &[cel::common::ast::IdedEntryExpr],
    bound: &mut Vec<String>,
    found: &mut Vec<(String, u64)>,
) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(field) => free_names(&field.value, bound, found),
            EntryExpr::MapEntry(pair) => {
                free_names(&pair.key, bound, found);
                free_names(&pair.value, bound, found);
            }
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(condition: &Condition, data: &serde_json::Value) -> Result<bool, String> {
        condition.holds(&Evaluation::new(&RequestFacts::refund(data)))
    }

    #[test]
    fn conditions_hold_on_the_request() {
        let data = serde_json::json!({"amount_cents": 900, "currency": "USD", "lines": [1, 2]});
        let small =
            Condition::compile("data.amount_cents <= 1000 && data.currency == \"USD\"").unwrap();
        assert_eq!(holds(&small, &data), Ok(true));
        let big = Condition::compile("data.amount_cents > 1000").unwrap();
        assert_eq!(holds(&big, &data), Ok(false));
        let each =
            Condition::compile("data.lines.all(l, l < 3) && agent == 'billing-agent'").unwrap();
        assert_eq!(holds(&each, &data), Ok(true));
        let missing = Condition::compile("data.country == 'DE'").unwrap();
        assert!(holds(&missing, &data).is_err());
        let not_bool = Condition::compile("data.amount_cents").unwrap();
        assert!(holds(&not_bool, &data).is_err());
    }

    /// The checkpoints change no answer: macros, their fast paths, error
    /// absorption by `&&` and `||` and in loops, as the interpreter gives
    /// them without checkpoints.
    #[test]
    fn checkpoints_keep_every_answer() {
        let data = serde_json::json!({
            "amount_cents": 900, "lines": [1, 2, 3], "tags": {"a": 1},
            "items": [{"sku": "x", "qty": 2}, {"sku": "y", "qty": 0}],
        });
        for source in [
            "data.lines.all(l, l < 3)",
            "data.lines.exists(l, l == 3)",
            "data.lines.exists_one(l, l > 2)",
            "data.lines.map(l, l * 2) == [2, 4, 6]",
            "data.lines.filter(l, l > 1).size() == 2",
            "data.lines.map(l, l > 1, l * 10) == [20, 30]",
            "data.items.filter(i, i.qty > 0).map(i, i.sku) == ['x']",
            "data.items.all(i, i.missing > 0) || true",
            "data.items.exists(i, i.missing > 0) && false",
            "data.items.all(i, i.qty > 5 && i.missing)",
            "has(data.tags.a) && !has(data.tags.b)",
            "{'k': data.amount_cents}.k + size([1, 2]) == 902",
            "'a' in data.tags && data.amount_cents in [900, 1]",
            "data.lines[1] == 2 ? title.startsWith('Refund') : false",
            "data.amount_cents > 50000",
            "data.nope == 1",
        ] {
            let program = cel::Program::compile(source).unwrap();
            let mut context = cel::Context::default();
            context.add_variable("data", &data).unwrap();
            context.add_variable("title", "Refund $12").unwrap();
            let plain = program.execute(&context);
            let checked = holds(&Condition::compile(source).unwrap(), &data);
            match plain {
                Ok(cel::Value::Bool(b)) => assert_eq!(checked, Ok(b), "{source}"),
                _ => assert!(checked.is_err(), "{source}: {plain:?} / {checked:?}"),
            }
        }
    }

    #[test]
    fn conditions_are_refused_with_a_position() {
        let error = Condition::compile("data.amount_cents <= ").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.column >= 20, "{error:?}");
        let error = Condition::compile("data.amount <= 10 &&\n  amount_cents < 5").unwrap_err();
        assert_eq!((error.line, error.column), (2, 3), "{error:?}");
        assert!(error
            .message
            .contains("amount_cents is not a request field"));
        // A comprehension's variable is not a request field, and is allowed.
        assert!(Condition::compile("data.items.exists(i, i.sku == 'x')").is_ok());
    }

    #[test]
    fn unbounded_shapes_are_refused_with_a_position() {
        let nested = Condition::compile("data.a.all(x,\n  data.b.all(y, x == y))").unwrap_err();
        assert_eq!(nested.line, 2, "{nested:?}");
        assert!(nested.message.contains("inside another"), "{nested:?}");
        // A loop over a loop's result is a sum, not a product: allowed.
        assert!(Condition::compile("data.a.filter(x, x > 1).all(y, y < 9)").is_ok());

        let chain = format!("data.n == 1{}", " + 1".repeat(80));
        let deep = Condition::compile(&chain).unwrap_err();
        assert!(deep.message.contains("levels deep"), "{deep:?}");
        let lists = format!("data.n in {}1{}", "[".repeat(70), "]".repeat(70));
        let deep = Condition::compile(&lists).unwrap_err();
        assert!(deep.message.contains("levels deep"), "{deep:?}");
        // Within bounds, the same shapes are fine.
        assert!(Condition::compile(&format!("data.n == 1{}", " + 1".repeat(20))).is_ok());
        // Deeper than the parser allows, refused without harm.
        let brackets = format!("data.n in {}1{}", "[".repeat(400), "]".repeat(400));
        assert!(Condition::compile(&brackets).is_err());
        // A long run of prefix operators: refused, or (folded by the
        // parser) evaluated; either way without harm.
        let negations = format!("{}true", "!".repeat(1_500));
        if let Ok(condition) = Condition::compile(&negations) {
            assert!(holds(&condition, &serde_json::json!({})).is_ok());
        }

        let wide = format!("data.n in [{}]", vec!["0"; 400].join(","));
        let wide = Condition::compile(&wide).unwrap_err();
        assert!(wide.message.contains("parts"), "{wide:?}");
    }
}
