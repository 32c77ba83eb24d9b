//! The client scenarios (S1-S5) run with phoenix_channels_client, the Rust client of the
//! LiveView Native project, for side-by-side comparison with phoenix_fast and the JS client in
//! one run (benches/scenarios.py drives all three).
//!
//!   rust_peer <ws://host:port/socket> <scenario> [scale] [websocket]
//!
//! Prints one JSON line: {"client": "rust", "scenario": ..., "result": {...}}, or
//! {"client": "rust", "scenario": ..., "error": "..."} and exit status 1. The scenarios mirror
//! benches/js/scenarios.mjs, figure for figure; each runs on a tokio current_thread runtime,
//! as a user of this client on one core would run it. `quirks` is not a scenario: it shows the
//! two faults recorded in README.md (broadcasts dropped past a queue of 50; routing by a
//! 32-bit hash of the topic).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use phoenix_channels_client::{Channel, Client, Config, Payload};
use serde_json::{json, Value};
use tokio::sync::Notify;

type Res<T> = Result<T, Box<dyn Error>>;

/// Join and reply timeout: as long as the other runners' (30 s).
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(30));
/// A wait for events fails once this long passes with none arriving.
const STALL: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Heap accounting: the live bytes the process allocates while `COUNTING` is on (the analogue
// of tracemalloc for phoenix_fast and of V8's heapUsed for the JS client). Off, the allocator
// costs one relaxed load per call, so the timed scenarios are not slowed by the accounting.

struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn account(bytes: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call forwards to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            account(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            account(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Resident memory of this process in bytes (VmRSS).
fn rss() -> Res<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS in /proc/self/status")?;
    let kib: f64 = line.split_whitespace().nth(1).ok_or("malformed VmRSS")?.parse()?;
    Ok(kib * 1024.0)
}

/// This process's CPU time in seconds: the time on a CPU of each of its threads, user and
/// system (the first field of /proc/self/task/*/schedstat, in nanoseconds).
fn cpu_seconds() -> Res<f64> {
    let mut nanos = 0u64;
    for task in std::fs::read_dir("/proc/self/task")? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat"))?;
        nanos += stat.split_whitespace().next().ok_or("empty schedstat")?.parse::<u64>()?;
    }
    Ok(nanos as f64 / 1e9)
}

/// The wall time and the CPU time of a timed section.
struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> Res<Self> {
        Ok(Self { wall: Instant::now(), cpu: cpu_seconds()? })
    }

    /// (seconds, CPU microseconds per operation) since the start.
    fn stop(&self, ops: u64) -> Res<(f64, f64)> {
        let seconds = self.wall.elapsed().as_secs_f64();
        Ok((seconds, (cpu_seconds()? - self.cpu) / ops as f64 * 1e6))
    }
}

// ---------------------------------------------------------------------------------------------

struct Args {
    url: String,
    scale: f64,
    run: String,
}

impl Args {
    fn count(&self, base: f64) -> u64 {
        (base * self.scale).round() as u64
    }
}

async fn connect(args: &Args) -> Res<Client> {
    // The client takes the transport's own URL; the others append "/websocket" themselves.
    let config = Config::new(format!("{}/websocket", args.url).as_str())?;
    let mut client = Client::new(config)?;
    client.connect().await?;
    Ok(client)
}

async fn join(client: &Client, topic: &str) -> Res<Arc<Channel>> {
    Ok(client.join(topic, TIMEOUT).await?)
}

async fn push(channel: &Channel, event: &str, payload: Value) -> Res<Payload> {
    Ok(channel.send_with_timeout(event, payload, TIMEOUT).await?)
}

fn field(payload: &Payload, key: &str) -> u64 {
    match payload {
        Payload::Value(value) => value.get(key).and_then(Value::as_u64).unwrap_or(u64::MAX),
        Payload::Binary(_) => u64::MAX,
    }
}

/// Waits until `count` reaches `expected` (handlers call `done.notify_one()` then); fails if
/// no event arrives for `STALL`, or more arrive than expected.
async fn wait_for(count: &AtomicU64, expected: u64, done: &Notify, what: &str) -> Res<()> {
    loop {
        let seen = count.load(Ordering::Relaxed);
        if seen >= expected {
            break;
        }
        if tokio::time::timeout(STALL, done.notified()).await.is_err()
            && count.load(Ordering::Relaxed) == seen
        {
            return Err(format!("{what}: {seen} of {expected} received, then none for {STALL:?}").into());
        }
    }
    let seen = count.load(Ordering::Relaxed);
    if seen != expected {
        return Err(format!("{what}: {seen} received, {expected} expected").into());
    }
    Ok(())
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

// S1: one channel receives n pushes of 100-byte payloads, each delivered to a callback.
async fn s1(args: &Args) -> Res<Value> {
    let n = args.count(200_000.0);
    let mut client = connect(args).await?;
    let channel = join(&client, &format!("echo:{}-s1", args.run)).await?;
    let count = Arc::new(AtomicU64::new(0));
    let sum = Arc::new(AtomicU64::new(0));
    let done = Arc::new(Notify::new());
    // Handlers must be Send + Sync, so the counters are atomics (uncontended: one thread).
    let (c, s, d) = (count.clone(), sum.clone(), done.clone());
    channel
        .on("burst_msg", move |_channel, payload| {
            s.fetch_add(field(payload, "i"), Ordering::Relaxed);
            if c.fetch_add(1, Ordering::Relaxed) + 1 == n {
                d.notify_one();
            }
        })
        .await?;
    let clock = Clock::start()?;
    push(&channel, "burst", json!({"n": n, "size": 100})).await?;
    wait_for(&count, n, &done, "S1 burst").await?;
    let (seconds, cpu) = clock.stop(n)?;
    drop(channel);
    client.disconnect().await?;
    if sum.load(Ordering::Relaxed) != n * n.saturating_sub(1) / 2 {
        return Err("burst out of order or incomplete".into());
    }
    Ok(json!({"messages": n, "seconds": seconds, "rate": n as f64 / seconds, "cpu_us_per_op": cpu}))
}

/// Joins every topic at once on one socket.
async fn join_all(client: &Client, topics: &[String]) -> Res<Vec<Arc<Channel>>> {
    try_join_all(topics.iter().map(|topic| join(client, topic))).await
}

// The heap held per joined channel, on a second batch of n channels.
async fn heap_per_channel(args: &Args, client: &Client, n: u64) -> Res<f64> {
    let topics: Vec<String> = (0..n).map(|i| format!("load:{}-heap-{i}", args.run)).collect();
    LIVE.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let channels = join_all(client, &topics).await;
    COUNTING.store(false, Ordering::Relaxed);
    let held = LIVE.load(Ordering::Relaxed);
    drop(channels?);
    Ok(held as f64 / n as f64)
}

// S2 + S3: join n channels on one socket, then 20 rounds of broadcasts to all of them.
async fn s2s3(args: &Args) -> Res<Value> {
    let (n, rounds) = (args.count(2000.0), 20u64);
    let mut client = connect(args).await?;
    let topics: Vec<String> = (0..n).map(|i| format!("load:{}-{i}", args.run)).collect();
    let before = rss()?;
    let clock = Clock::start()?;
    let channels = join_all(&client, &topics).await?;
    let (join_seconds, join_cpu) = clock.stop(n)?;
    let per_channel = (rss()? - before) / n as f64;

    let expected = n * rounds;
    let received = Arc::new(AtomicU64::new(0));
    // Per channel too: a channel that receives another topic's broadcasts (see `quirks`) would
    // make the total come out right while two channels are wrong.
    let per_topic: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let done = Arc::new(Notify::new());
    for (i, channel) in channels.iter().enumerate() {
        let (r, p, d) = (received.clone(), per_topic.clone(), done.clone());
        channel
            .on("tick", move |_channel, _payload| {
                p[i].fetch_add(1, Ordering::Relaxed);
                if r.fetch_add(1, Ordering::Relaxed) + 1 == expected {
                    d.notify_one();
                }
            })
            .await?;
    }
    let clock = Clock::start()?;
    let fanout = json!({"prefix": format!("load:{}-", args.run), "count": n, "n": rounds, "size": 100});
    push(&channels[0], "fanout", fanout).await?;
    wait_for(&received, expected, &done, "S3 broadcasts").await?;
    let (fan_seconds, fan_cpu) = clock.stop(expected)?;
    if let Some(i) = per_topic.iter().position(|c| c.load(Ordering::Relaxed) != rounds) {
        let got = per_topic[i].load(Ordering::Relaxed);
        return Err(format!("S3: {} received {got} ticks, {rounds} expected", topics[i]).into());
    }
    let heap = heap_per_channel(args, &client, n).await?;
    drop(channels);
    client.disconnect().await?;
    Ok(json!({
        "s2": {"channels": n, "seconds": join_seconds, "bytes_per_channel": per_channel,
               "heap_bytes_per_channel": heap, "cpu_us_per_op": join_cpu},
        "s3": {"events": expected, "seconds": fan_seconds, "rate": expected as f64 / fan_seconds,
               "cpu_us_per_op": fan_cpu},
    }))
}

// S4: n pushes with replies, at most 100 in flight; latency percentiles.
async fn s4(args: &Args) -> Res<Value> {
    let (n, window) = (args.count(20_000.0), 100);
    let mut client = connect(args).await?;
    let channel = join(&client, &format!("echo:{}-s4", args.run)).await?;
    let sent = Cell::new(0u64);
    let latencies = RefCell::new(Vec::with_capacity(n as usize));
    let body = json!({"body": "x".repeat(64)});
    let worker = || async {
        while sent.get() < n {
            sent.set(sent.get() + 1);
            let t = Instant::now();
            push(&channel, "ping", body.clone()).await?;
            latencies.borrow_mut().push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Res::Ok(())
    };
    let clock = Clock::start()?;
    try_join_all((0..window).map(|_| worker())).await?;
    let (seconds, cpu) = clock.stop(n)?;
    drop(channel);
    client.disconnect().await?;
    let mut sorted = latencies.into_inner();
    sorted.sort_by(f64::total_cmp);
    Ok(json!({
        "pushes": n, "seconds": seconds, "rate": n as f64 / seconds,
        "p50_ms": percentile(&sorted, 0.5), "p99_ms": percentile(&sorted, 0.99),
        "cpu_us_per_op": cpu,
    }))
}

// S5: n sockets, each joining one channel; time and memory per socket.
async fn s5(args: &Args) -> Res<Value> {
    let n = args.count(200.0);
    let before = rss()?;
    let clock = Clock::start()?;
    let sockets = try_join_all((0..n).map(|i| async move {
        let client = connect(args).await?;
        let channel = join(&client, &format!("echo:{}-s5-{i}", args.run)).await?;
        Res::Ok((client, channel))
    }))
    .await?;
    let (seconds, cpu) = clock.stop(n)?;
    let per_socket = (rss()? - before) / n as f64;
    try_join_all(sockets.into_iter().map(|(mut client, channel)| async move {
        drop(channel);
        client.disconnect().await
    }))
    .await?;
    Ok(json!({"sockets": n, "seconds": seconds, "bytes_per_socket": per_socket, "cpu_us_per_op": cpu}))
}

/// The prefix of this run's topics: `rs<pid>`, padded with `_` until S3's topics all have
/// distinct 32-bit hashes. The client routes broadcasts by that hash (FxHash32 of the topic),
/// so two colliding topics receive each other's broadcasts and S3 fails. With FxHash that is no
/// rare event: it mixes the topic a 4-byte word at a time, and unless the counter starts on a
/// word boundary topics such as `load:rs3e8-19` and `load:rs3e8-92` collide. Over 3000 pids
/// each, the bare prefix made S3's 2000 topics collide for 1 pid in 3000 with four hex digits
/// and for every pid with three or five. The second batch of S2 (heap per channel) receives no
/// broadcasts; a collision there only lets two channels share one broadcast queue.
fn run_prefix(pid: u32, n: u64) -> Res<String> {
    let distinct = |run: &str| {
        let mut seen = HashSet::new();
        (0..n).all(|i| seen.insert(fxhash::hash32(format!("load:{run}-{i}").as_str())))
    };
    let base = format!("rs{pid:x}");
    (0..16)
        .map(|pad| format!("{base}{}", "_".repeat(pad)))
        .find(|run| distinct(run))
        .ok_or_else(|| format!("no padding of {base} gives {n} topics distinct hashes").into())
}

/// Two topics of the form `echo:<run>-c<i>` with the same 32-bit FxHash, the client's
/// channel id.
fn colliding_topics(run: &str) -> (String, String) {
    let mut seen: HashMap<u32, String> = HashMap::new();
    for i in 0u64.. {
        let topic = format!("echo:{run}-c{i}");
        let id = fxhash::hash32(&topic);
        if let Some(other) = seen.insert(id, topic.clone()) {
            return (other, topic);
        }
    }
    unreachable!("a 32-bit hash collides within 2^32 + 1 topics")
}

// Not a scenario: the two faults README.md records, shown on this server.
async fn quirks(args: &Args) -> Res<Value> {
    let mut client = connect(args).await?;

    // 1. A burst of broadcasts to one channel: its listener's queue holds 50, the socket's
    //    task reads far more than that before the channel's task runs, and the rest is
    //    dropped (tokio's broadcast channel reports Lagged, which the client ignores).
    let sent = 1000u64;
    let channel = join(&client, &format!("load:{}-q-0", args.run)).await?;
    let received = Arc::new(AtomicU64::new(0));
    let r = received.clone();
    channel
        .on("tick", move |_, _| {
            r.fetch_add(1, Ordering::Relaxed);
        })
        .await?;
    let fanout = json!({"prefix": format!("load:{}-q-", args.run), "count": 1, "n": sent, "size": 100});
    push(&channel, "fanout", fanout).await?;
    // The fanout's reply precedes its broadcasts; wait until they stop arriving.
    loop {
        let seen = received.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if received.load(Ordering::Relaxed) == seen {
            break;
        }
    }
    let burst_received = received.load(Ordering::Relaxed);

    // 2. Two topics whose 32-bit hashes collide: a broadcast to one reaches both channels.
    let (a, b) = colliding_topics(&args.run);
    let (ca, cb) = (join(&client, &a).await?, join(&client, &b).await?);
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let done = Arc::new(Notify::new());
    for (k, channel) in [&ca, &cb].into_iter().enumerate() {
        let (c, d) = (counts.clone(), done.clone());
        channel
            .on("shout", move |_, _| {
                c[k].fetch_add(1, Ordering::Relaxed);
                d.notify_one();
            })
            .await?;
    }
    // `shout` replies ok after broadcasting "shout" to its own topic (a) only.
    push(&ca, "shout", json!({"from": a})).await?;
    let deadline = Instant::now() + STALL;
    while counts.iter().any(|c| c.load(Ordering::Relaxed) == 0) && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), done.notified()).await;
    }
    drop((channel, ca, cb));
    client.disconnect().await?;
    Ok(json!({
        "broadcast_burst": {"sent": sent, "received": burst_received},
        "hash_collision": {
            "topics": [a, b],
            "fxhash32": fxhash::hash32(&a),
            "shouts_received": [counts[0].load(Ordering::Relaxed), counts[1].load(Ordering::Relaxed)],
        },
    }))
}

async fn run(scenario: &str, args: &Args) -> Res<Value> {
    match scenario {
        "s1" => s1(args).await,
        "s2s3" => s2s3(args).await,
        "s4" => s4(args).await,
        "s5" => s5(args).await,
        "quirks" => quirks(args).await,
        other => Err(format!("unknown scenario {other:?} (s1, s2s3, s4, s5, quirks)").into()),
    }
}

fn parse_args(argv: &[String]) -> Res<(String, Args)> {
    let usage = "usage: rust_peer <ws://host:port/socket> <s1|s2s3|s4|s5|quirks> [scale] [websocket]";
    let (url, scenario) = match argv {
        [url, scenario, ..] => (url.clone(), scenario.clone()),
        _ => return Err(usage.into()),
    };
    let scale: f64 = match argv.get(2) {
        Some(s) => s.parse().map_err(|_| format!("scale must be a number, got {s:?}"))?,
        None => 1.0,
    };
    if !scale.is_finite() || scale <= 0.0 {
        return Err(format!("scale must be positive, got {scale}").into());
    }
    match argv.get(3).map(String::as_str) {
        None | Some("websocket") => {}
        Some(other) => return Err(format!("transport {other:?}: this client has only websocket").into()),
    }
    let n = (2000.0 * scale).round() as u64;
    Ok((scenario, Args { url, scale, run: run_prefix(std::process::id(), n)? }))
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let scenario = argv.get(1).cloned().unwrap_or_default();
    let outcome = parse_args(&argv).and_then(|(scenario, args)| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(run(&scenario, &args))
    });
    match outcome {
        Ok(result) => println!("{}", json!({"client": "rust", "scenario": scenario, "result": result})),
        Err(err) => {
            println!("{}", json!({"client": "rust", "scenario": scenario, "error": err.to_string()}));
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_prefix_gives_s3_topics_distinct_hashes() {
        // Pids of three to six hex digits; with five, the bare prefix always collides.
        for pid in [0x3e8, 0x1234, 0x20000, 0x2df2f, 0x3fffff] {
            let run = run_prefix(pid, 2000).unwrap();
            let mut seen = HashSet::new();
            for i in 0..2000 {
                assert!(seen.insert(fxhash::hash32(format!("load:{run}-{i}").as_str())), "{run}");
            }
        }
        assert_eq!(run_prefix(0x20000, 2000).unwrap(), "rs20000___");
    }
}
