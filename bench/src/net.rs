//! A real network of node processes on loopback: reach, failure detection, healing.
//!
//! Each run starts a fresh network of `n` processes (`--json --bind 127.0.0.1`,
//! default timers) linked as a random tree: node i joins a random earlier node. The
//! network counts as formed when every node has announced every other as joined.
//! Then:
//!
//! - **reach**: a random node is sent a line on its stdin; the figure is the time
//!   until the last of the `n` processes has printed it (its own echo included),
//!   as seen by this program reading their stdouts. The median of
//!   [`REACH_SAMPLES`] messages is the run's value.
//! - **crash** (SIGKILL of an inner node of the tree; the kernel closes its
//!   sockets): time until the first and until the last survivor prints `left` for
//!   it, and time until every survivor again lists every other survivor as a member
//!   (the tree was split: survivors must reconnect through the addresses they know).
//! - **silent node** (SIGSTOP of another inner node: its sockets stay open, it just
//!   stops answering): the same three times; detection has to wait for the
//!   heartbeat timeout (2.5 s by default).

use std::collections::HashSet;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use p2pchat_core::id::Rng;

use crate::procs::{Binary, Ev, NodeProc, Stamped, events, quit_all, wait_listening};
use crate::report::{Figure, Report, median};
use crate::util::{BenchResult, Opts, secs};

/// Messages sent per network to measure reach.
const REACH_SAMPLES: usize = 3;

struct Net {
    procs: Vec<NodeProc>,
    rx: Receiver<Stamped>,
    ids: Vec<String>,
    members: Vec<HashSet<String>>,
    alive: Vec<bool>,
    degree: Vec<usize>,
    /// The text being watched and when each node printed it.
    watch_text: Option<String>,
    arrived: Vec<Option<Instant>>,
    /// The member being watched for `left` and when each node printed it.
    watch_left: Option<String>,
    left_at: Vec<Option<Instant>>,
}

impl Net {
    fn start(bin: &Binary, n: usize, rng: &mut Rng) -> BenchResult<Net> {
        let (tx, rx) = events();
        let mut net = Net {
            procs: Vec::with_capacity(n),
            rx,
            ids: Vec::with_capacity(n),
            members: vec![HashSet::new(); n],
            alive: vec![true; n],
            degree: vec![0; n],
            watch_text: None,
            arrived: vec![None; n],
            watch_left: None,
            left_at: vec![None; n],
        };
        let mut backlog = Vec::new();
        for i in 0..n {
            let mut extra = Vec::new();
            if i > 0 {
                let parent = rng.below(i as u64) as usize;
                net.degree[parent] += 1;
                net.degree[i] += 1;
                extra = vec!["--connect".to_owned(), format!("127.0.0.1:{}", net.procs[parent].port)];
            }
            let mut p = NodeProc::spawn(&bin.path, i, &format!("p{i}"), &extra, tx.clone())?;
            let (port, id) = wait_listening(&net.rx, i, Duration::from_secs(10), &mut backlog)?;
            p.port = port;
            p.id = id.clone();
            net.ids.push(id);
            net.procs.push(p);
        }
        for ev in backlog {
            net.apply(ev);
        }
        net.pump_until(Duration::from_secs(60), "the network to form", |net| {
            net.members.iter().all(|m| m.len() == n - 1)
        })?;
        Ok(net)
    }

    fn apply(&mut self, (i, t, ev): Stamped) {
        match ev {
            Ev::Joined(id) => {
                self.members[i].insert(id);
            }
            Ev::Left(id) => {
                if self.watch_left.as_ref() == Some(&id) && self.left_at[i].is_none() {
                    self.left_at[i] = Some(t);
                }
                self.members[i].remove(&id);
            }
            Ev::Message(text) => {
                if self.watch_text.as_ref() == Some(&text) && self.arrived[i].is_none() {
                    self.arrived[i] = Some(t);
                }
            }
            Ev::Listening(..) | Ev::Closed | Ev::Other => {}
        }
    }

    /// Applies events until `done` holds; returns the stamp of the event that made it
    /// hold (now, if it already held).
    fn pump_until(&mut self, timeout: Duration, what: &str, done: impl Fn(&Net) -> bool) -> BenchResult<Instant> {
        let end = Instant::now() + timeout;
        let mut last = Instant::now();
        loop {
            if done(self) {
                return Ok(last);
            }
            match self.rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(ev) => {
                    last = ev.1;
                    self.apply(ev);
                }
                Err(_) => return Err(format!("timed out after {} s waiting for {what}", timeout.as_secs())),
            }
        }
    }

    fn survivors(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.procs.len()).filter(|i| self.alive[*i])
    }

    /// Sends a line from `from`; the time until every live node printed it.
    fn reach(&mut self, from: usize, text: &str) -> BenchResult<Duration> {
        self.watch_text = Some(text.to_owned());
        self.arrived.iter_mut().for_each(|a| *a = None);
        let t0 = Instant::now();
        self.procs[from].type_line(text)?;
        self.pump_until(Duration::from_secs(20), "a message to reach everyone", |net| {
            net.survivors().all(|i| net.arrived[i].is_some())
        })?;
        let last = self.survivors().filter_map(|i| self.arrived[i]).max().unwrap_or(t0);
        Ok(last.saturating_duration_since(t0))
    }

    /// An inner node of the tree (at least two links) other than `avoid`.
    fn pick_inner(&self, rng: &mut Rng, avoid: &[usize]) -> Option<usize> {
        let inner: Vec<usize> =
            self.survivors().filter(|i| self.degree[*i] >= 2 && i != &0 && !avoid.contains(i)).collect();
        (!inner.is_empty()).then(|| inner[rng.below(inner.len() as u64) as usize])
    }

    /// Fails node `v` with `fail`; returns (first left, last left, healed) after the failure.
    fn failure(&mut self, v: usize, fail: impl FnOnce(&mut NodeProc)) -> BenchResult<(Duration, Duration, Duration)> {
        let victim = self.ids[v].clone();
        self.watch_left = Some(victim.clone());
        self.left_at.iter_mut().for_each(|a| *a = None);
        let t0 = Instant::now();
        fail(&mut self.procs[v]);
        self.alive[v] = false;
        let want = self.survivors().count() - 1;
        self.pump_until(Duration::from_secs(30), "every survivor to notice the failure", |net| {
            net.survivors().all(|i| net.left_at[i].is_some())
        })?;
        let healed = self.pump_until(Duration::from_secs(60), "the survivors to reconnect", |net| {
            net.survivors().all(|i| net.members[i].len() == want && !net.members[i].contains(&victim))
        })?;
        let times: Vec<Instant> = self.survivors().filter_map(|i| self.left_at[i]).collect();
        let first = times.iter().min().copied().unwrap_or(t0);
        let last = times.iter().max().copied().unwrap_or(t0);
        self.watch_left = None;
        Ok((first - t0, last - t0, healed.saturating_duration_since(t0)))
    }
}

#[derive(Default)]
struct Series {
    reach: Vec<f64>,
    form: Vec<f64>,
    crash: [Vec<f64>; 3],
    hang: [Vec<f64>; 3],
}

fn one_run(bin: &Binary, n: usize, rng: &mut Rng, s: &mut Series, failures: bool) -> BenchResult<()> {
    let t_form = Instant::now();
    let mut net = Net::start(bin, n, rng)?;
    let result = (|| {
        s.form.push(secs(t_form.elapsed()));
        let mut reach = Vec::new();
        for k in 0..REACH_SAMPLES {
            let from = rng.below(n as u64) as usize;
            reach.push(secs(net.reach(from, &format!("reach {k} from p{from}"))?) * 1e3);
        }
        s.reach.push(median(&reach));
        if !failures {
            return Ok(());
        }
        let crash = net.pick_inner(rng, &[]).ok_or("no inner node to crash")?;
        let (a, b, c) = net.failure(crash, NodeProc::kill)?;
        for (v, d) in s.crash.iter_mut().zip([a, b, c]) {
            v.push(secs(d) * 1e3);
        }
        let hang = net.pick_inner(rng, &[crash]).ok_or("no inner node to stop")?;
        let mut stop_err = None;
        let (a, b, c) = net.failure(hang, |p| stop_err = p.signal("STOP").err())?;
        if let Some(e) = stop_err {
            return Err(e);
        }
        net.procs[hang].kill();
        for (v, d) in s.hang.iter_mut().zip([a, b, c]) {
            v.push(secs(d) * 1e3);
        }
        Ok(())
    })();
    quit_all(&mut net.procs, Duration::from_secs(3));
    result
}

/// Runs the section.
pub fn run(opts: Opts, report: &mut Report, bin: &Binary) -> BenchResult<()> {
    let n = if opts.quick { 30 } else { 100 };
    let mut rng = Rng::new(Rng::seed_from_env());
    let mut s = Series::default();
    for _ in 0..opts.runs {
        one_run(bin, n, &mut rng, &mut s, true)?;
    }
    report.add(Figure::new("net", format!("{n} processes: one message reaches all"), "ms", s.reach, None));
    report.add(Figure::new("net", format!("{n} processes: start and form the network"), "s", s.form, None));
    let names = ["first neighbour prints left", "every survivor prints left", "survivors reconnected"];
    for (name, v) in names.iter().zip(s.crash) {
        report.add(Figure::new("failure", format!("crash (SIGKILL): {name}"), "ms", v, None));
    }
    for (name, v) in names.iter().zip(s.hang) {
        report.add(Figure::new("failure", format!("silent (SIGSTOP): {name}"), "ms", v, None));
    }
    report.note(format!(
        "net: {n} node processes ({}) in a random tree on 127.0.0.1, default timers (heartbeat 500 ms, peer timeout \
         2500 ms); reach = median of {REACH_SAMPLES} messages per network, from stdin of one to the stdout of the \
         last; failure: an inner node of the tree is killed (SIGKILL) or frozen (SIGSTOP) per network",
        bin.how
    ));
    Ok(())
}
