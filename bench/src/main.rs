//! `p2pchat-bench`: the figures behind `make bench`.
//!
//! Starts real nodes on 127.0.0.1 only (in-process through the core's `Handle`, and
//! as separate processes of the node binary where process cost matters), measures,
//! and prints one table: every figure is the median of several runs, with min and
//! max, next to its target where there is one (the targets of the README's
//! "Performance" table: latency per hop, relay rate, idle memory). The same figures go to
//! a JSON file, `bench/results.json` in cargo's target directory unless `--out`
//! says otherwise; its path is printed. Nothing fails on a missed target.
//!
//! ```text
//! cargo run --release -p p2pchat-bench -- [--quick] [--only SECTION[,SECTION...]] [--runs N] [--out PATH]
//! ```
//!
//! Sections: `latency`, `relay`, `hub`, `hub-text`, `star`, `memory`, `sim`, `net` (the real-process
//! network with failure detection). Every wait is bounded; a watchdog ends the
//! program if it runs past [`WATCHDOG`].

mod hub;
mod hubtext;
mod latency;
mod memory;
mod net;
mod procs;
mod raw;
mod relay;
mod report;
mod sim;
mod star;
mod util;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use report::Report;
use util::{BenchResult, Opts};

/// Every section, in running order.
const SECTIONS: [&str; 8] = ["latency", "relay", "hub", "hub-text", "star", "memory", "sim", "net"];

/// The program exits with status 3 if it is still running after this long.
const WATCHDOG: Duration = Duration::from_secs(25 * 60);

const USAGE: &str = "\
usage: p2pchat-bench [--quick] [--only SECTION[,SECTION...]] [--runs N] [--out PATH]

Measures p2pchat on 127.0.0.1 and prints one table (median, min and max over runs),
also written as JSON to PATH (default: target/bench/results.json in the workspace).

  --quick          fewer runs and smaller sizes: a smoke test (about a minute)
  --only SECTION   run only these sections (repeatable, or comma-separated):
                   latency  per-hop latency along lines of 2, 5, 10, 20 nodes
                   relay    forwarding throughput of one relay, fan-out 1 and 4
                   hub      fan-out of a hub with 10, 100, 500 leaves
                   hub-text a hub process serving 100 and 500 plain-text clients,
                            side by side with Redis pub/sub (if installed)
                   star     a star of 100 node processes, against a naive star
                   memory   resident size of a node process, idle and per connection
                   sim      1000-node network in the simulator
                   net      100 node processes: reach, failure detection, healing
  --runs N         runs per figure (default 3; 1 with --quick)
  --out PATH       where to write the JSON results

The node binary for memory and net: $P2PCHAT_BIN, else ./p2pchat, else the Rust
headless example (target/release/examples/p2pchat-headless, which it builds
with cargo, or finds up to date).";

#[derive(Debug)]
struct Args {
    opts: Opts,
    only: Vec<&'static str>,
    out: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut quick = false;
    let mut runs = None;
    let mut only = Vec::new();
    let mut out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or(format!("{flag} needs a value"));
        match flag {
            "--quick" => quick = true,
            "--only" => {
                for name in value()?.split(',').filter(|s| !s.is_empty()) {
                    let section = match name {
                        "throughput" | "forwarding" => "relay",
                        "fanout" | "fan-out" => "hub",
                        "scale" => {
                            only.push("sim");
                            "net"
                        }
                        "failure" | "processes" => "net",
                        other => SECTIONS.iter().find(|s| **s == other).ok_or(format!("unknown section {other}"))?,
                    };
                    only.push(section);
                }
            }
            "--runs" => {
                let v = value()?;
                runs = Some(v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or(format!("bad --runs {v}"))?);
            }
            "--out" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let runs = runs.unwrap_or(if quick { 1 } else { 3 });
    let out = out.unwrap_or_else(|| util::target_dir().join("bench/results.json"));
    Ok(Args { opts: Opts { quick, runs }, only, out })
}

fn context(args: &Args, total: f64, binary: Option<&procs::Binary>) -> serde_json::Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(util::workspace_root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    json!({
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "commit": commit,
        "cpu": cpu,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "open_files_limit": util::open_files_limit(),
        "quick": args.opts.quick,
        "runs": args.opts.runs,
        "node_binary": binary.map(|b| b.how.clone()),
        "total_seconds": (total * 10.0).round() / 10.0,
    })
}

fn run_section(
    name: &'static str,
    args: &Args,
    report: &mut Report,
    bin: &mut Option<procs::Binary>,
) -> BenchResult<()> {
    let needs_binary = matches!(name, "memory" | "net" | "hub-text" | "star");
    if needs_binary && bin.is_none() {
        *bin = Some(procs::find_binary()?);
    }
    let o = args.opts;
    match (name, bin.as_ref()) {
        ("latency", _) => latency::run(o, report),
        ("relay", _) => relay::run(o, report),
        ("hub", _) => hub::run(o, report),
        ("sim", _) => sim::run(o, report),
        ("hub-text", Some(b)) => hubtext::run(o, report, b),
        ("star", Some(b)) => star::run(o, report, b),
        ("memory", Some(b)) => memory::run(o, report, b),
        ("net", Some(b)) => net::run(o, report, b),
        _ => Err(format!("no such section {name}")),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("__naive-hub") => std::process::exit(star::naive_hub()),
        Some("__naive-leaf") => {
            let arg = |i: usize| argv.get(i).map_or("", String::as_str);
            std::process::exit(star::naive_leaf(arg(1), arg(2)));
        }
        _ => {}
    }
    if argv.first().map(String::as_str) == Some("__sim-child") {
        let n = argv.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
        let seed = argv.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
        match sim::child(n, seed) {
            Ok(v) => println!("{v}"),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("p2pchat-bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("p2pchat-bench: still running after {} s; giving up", WATCHDOG.as_secs());
        std::process::exit(3);
    });

    let start = Instant::now();
    let mut report = Report::default();
    let mut bin = None;
    if args.opts.quick {
        report.note("quick mode: fewer runs and smaller sizes; a smoke test, not figures to quote");
    }
    for name in SECTIONS {
        if !args.only.is_empty() && !args.only.contains(&name) {
            continue;
        }
        eprintln!("[{:6.1} s] {name} ...", start.elapsed().as_secs_f64());
        let t = Instant::now();
        if let Err(e) = run_section(name, &args, &mut report, &mut bin) {
            eprintln!("[{:6.1} s] {name} FAILED: {e}", start.elapsed().as_secs_f64());
            report.note(format!("{name}: FAILED, figures missing: {e}"));
        }
        report.timings.push((name, t.elapsed().as_secs_f64()));
    }
    let total = start.elapsed().as_secs_f64();
    for tag in ["procs", "relay", "latency", "hubtext", "star"] {
        let _ = std::fs::remove_dir_all(util::scratch_dir(tag));
    }

    println!("{}", report.table());
    for n in &report.notes {
        println!("note: {n}");
    }
    let timing: Vec<String> = report.timings.iter().map(|(s, t)| format!("{s} {t:.0} s")).collect();
    println!("time: {total:.0} s in all ({})", timing.join(", "));
    let doc = report.to_json(context(&args, total, bin.as_ref()));
    let written = args
        .out
        .parent()
        .map_or(Ok(()), |d| if d.as_os_str().is_empty() { Ok(()) } else { std::fs::create_dir_all(d) })
        .and_then(|()| std::fs::write(&args.out, format!("{doc:#}\n")));
    match written {
        Ok(()) => println!("results: {}", args.out.display()),
        Err(e) => {
            eprintln!("p2pchat-bench: cannot write {}: {e}", args.out.display());
            std::process::exit(1);
        }
    }
}
