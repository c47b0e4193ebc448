//! Policy conditions and requests shaped to make a condition work as hard
//! as it can: the corpus the condition budget is proved against, in the
//! integration tests (tests/it/condition_budget.rs) and the benchmark
//! (`holdpoint-bench --hostile-conditions`).

use serde_json::{json, Map, Value};

/// Conditions an admin (or a stolen admin session) could save, each doing
/// the most work its shape allows on a large request.
pub const CONDITIONS: [&str; 12] = [
    "data.l.all(x, x in data.l)",
    "data.l.exists(x, data.l.size() + x < 0)",
    "data.l.map(x, data.s + data.s).size() == 0",
    "data.l.map(x, data.l).size() == 0",
    "data.l.filter(x, string(x) in data.s).size() < 0",
    "data.l.all(x, data.l == data.l)",
    "data.l.map(x, [x, x, x, x]).map(y, [y, y, y, y]).size() == 0",
    "data.m.all(k, data.m[k] >= 0 && data.m == data.m)",
    "size(data.s + data.s + data.s + data.s + data.s + data.s + data.s + data.s) == 0",
    "data.s.contains(data.s + data.s) || data.s.endsWith(data.s + 'y')",
    "data.deep.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a == data.deep",
    "[data.l, data.l, data.l, data.l].all(x, x.size() > 0 && x == data.l)",
];

/// The condition every quadratic loop is like: 40,000 numbers, each
/// looked for in the same 40,000.
pub const QUADRATIC: &str = CONDITIONS[0];

/// Requests' `data` as large as the API accepts (256 KiB), shaped to hurt:
/// a long list, a long string, a wide map, a deep map. Each names its
/// shape.
pub fn data() -> Vec<(&'static str, Value)> {
    let mut deep = json!({"end": 1});
    for _ in 0..100 {
        deep = json!({ "a": deep });
    }
    let wide: Map<String, Value> = (0..12_000).map(|i| (format!("k{i}"), json!(i))).collect();
    vec![
        (
            "a list of 40,000 numbers",
            json!({"l": (0..40_000).collect::<Vec<_>>(), "s": "x"}),
        ),
        (
            "a string of 250,000 characters",
            json!({"l": [1], "s": "x".repeat(250_000)}),
        ),
        (
            "a map of 12,000 keys",
            json!({"l": [1], "s": "x", "m": wide}),
        ),
        (
            "a map 100 levels deep",
            json!({"l": [1], "s": "x", "deep": deep}),
        ),
    ]
}
