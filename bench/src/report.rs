//! Figures, their statistics, the printed table and the JSON file.
//!
//! Every figure holds one value per run; the table shows their median, min and max.
//! A figure may carry a target (the bounds of the README's "Performance" table); the
//! table says whether the median met it, and nothing fails when it did not: tests
//! never assert on wall-clock time (DESIGN.md §5).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

/// How a target compares.
#[derive(Debug, Clone, Copy)]
pub enum Cmp {
    /// The median must be at most the value.
    AtMost,
    /// The median must be at least the value.
    AtLeast,
    /// The median must be strictly below the value.
    Below,
}

/// A bound the median of a figure is aimed at (the README's "Performance" table).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// How to compare.
    pub cmp: Cmp,
    /// The bound, in the figure's unit.
    pub value: f64,
}

impl Target {
    /// `median <= value`.
    pub fn at_most(value: f64) -> Option<Target> {
        Some(Target { cmp: Cmp::AtMost, value })
    }

    /// `median >= value`.
    pub fn at_least(value: f64) -> Option<Target> {
        Some(Target { cmp: Cmp::AtLeast, value })
    }

    /// `median < value`.
    pub fn below(value: f64) -> Option<Target> {
        Some(Target { cmp: Cmp::Below, value })
    }

    fn met(&self, v: f64) -> bool {
        match self.cmp {
            Cmp::AtMost => v <= self.value,
            Cmp::AtLeast => v >= self.value,
            Cmp::Below => v < self.value,
        }
    }

    fn text(&self, unit: &str) -> String {
        let op = match self.cmp {
            Cmp::AtMost => "<=",
            Cmp::AtLeast => ">=",
            Cmp::Below => "<",
        };
        format!("{op} {} {unit}", fmt_num(self.value))
    }
}

/// One figure: a value per run.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Section name (`latency`, `relay`, ...).
    pub section: &'static str,
    /// What is measured.
    pub name: String,
    /// Unit of the values.
    pub unit: &'static str,
    /// One value per run.
    pub values: Vec<f64>,
    /// Its target, if any.
    pub target: Option<Target>,
}

impl Figure {
    /// A figure from per-run values.
    pub fn new(
        section: &'static str,
        name: impl Into<String>,
        unit: &'static str,
        values: Vec<f64>,
        target: Option<Target>,
    ) -> Figure {
        Figure { section, name: name.into(), unit, values, target }
    }

    /// Median of the runs (mean of the middle two for an even count).
    pub fn median(&self) -> f64 {
        median(&self.values)
    }

    fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    fn status(&self) -> Option<bool> {
        self.target.map(|t| t.met(self.median()))
    }
}

/// Median of a list (NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The `q` quantile (0..=1) of a sorted list, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50 and p99 of durations, in microseconds.
pub fn p50_p99_us(samples: &[Duration]) -> (f64, f64) {
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    v.sort_by(f64::total_cmp);
    (quantile(&v, 0.50), quantile(&v, 0.99))
}

/// A number for the table: no decimals for big values, three significant digits
/// for small ones, thousands separated by commas.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        let s = format!("{:.0}", a);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Everything the run produced.
#[derive(Debug, Default)]
pub struct Report {
    /// Figures, in order.
    pub figures: Vec<Figure>,
    /// Notes printed under the table (what was used, what was skipped, why).
    pub notes: Vec<String>,
    /// Wall time of each section, seconds.
    pub timings: Vec<(&'static str, f64)>,
}

impl Report {
    /// Adds a figure.
    pub fn add(&mut self, f: Figure) {
        self.figures.push(f);
    }

    /// Adds a note.
    pub fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// The table, as printed.
    pub fn table(&self) -> String {
        let header = ["section", "figure", "median", "min", "max", "unit", "runs", "target", "status"];
        let mut rows: Vec<[String; 9]> = Vec::new();
        for f in &self.figures {
            let status = match f.status() {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            };
            rows.push([
                f.section.to_owned(),
                f.name.clone(),
                fmt_num(f.median()),
                fmt_num(f.min()),
                fmt_num(f.max()),
                f.unit.to_owned(),
                f.values.len().to_string(),
                f.target.map(|t| t.text(f.unit)).unwrap_or_default(),
                status.to_owned(),
            ]);
        }
        let mut width = header.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        // Numbers right-aligned, text left-aligned.
        let right = [false, false, true, true, true, false, true, false, false];
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = width[i] - c.chars().count();
                if i > 0 {
                    s.push_str("  ");
                }
                if right[i] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad));
                }
            }
            let _ = writeln!(out, "{}", s.trim_end());
        };
        let mut out = String::new();
        line(&header.map(str::to_owned), &mut out);
        let total: usize = width.iter().sum::<usize>() + 2 * (width.len() - 1);
        let _ = writeln!(out, "{}", "-".repeat(total));
        let mut last = "";
        for (f, r) in self.figures.iter().zip(&rows) {
            if !last.is_empty() && f.section != last {
                let _ = writeln!(out);
            }
            last = f.section;
            line(r, &mut out);
        }
        out
    }

    /// The JSON document written to the results file.
    pub fn to_json(&self, context: Value) -> Value {
        let figures: Vec<Value> = self
            .figures
            .iter()
            .map(|f| {
                json!({
                    "section": f.section,
                    "figure": f.name,
                    "unit": f.unit,
                    "median": finite(f.median()),
                    "min": finite(f.min()),
                    "max": finite(f.max()),
                    "runs": f.values.iter().map(|v| finite(*v)).collect::<Vec<_>>(),
                    "target": f.target.map(|t| t.text(f.unit)),
                    "met": f.status(),
                })
            })
            .collect();
        let timings: serde_json::Map<String, Value> =
            self.timings.iter().map(|(s, t)| ((*s).to_owned(), json!((t * 10.0).round() / 10.0))).collect();
        json!({
            "context": context,
            "figures": figures,
            "notes": self.notes,
            "section_seconds": timings,
        })
    }
}

fn finite(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(fmt_num(1_234_567.8), "1,234,568");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.234), "1.23");
    }
}
