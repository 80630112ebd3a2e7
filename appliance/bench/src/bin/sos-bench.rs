//! `sos-bench`: the committed benchmark for the box daemon.
//!
//! Run it with one command from the workspace root:
//!
//! ```text
//! cargo run --release -p sos-bench --bin sos-bench
//! ```
//!
//! It starts the real release `sos-appliance` binary (the one next to this
//! executable; under `cargo run` it is rebuilt first) on a temporary data
//! directory, talks to it only over loopback HTTP and WebSocket the way
//! phones, TVs and the front desk do, and prints a table of figures with
//! PASS/MISS against the targets. See docs/benchmarks.md.
//!
//! Clients are deliberately thin (hand-built HTTP/1.1 keep-alive requests
//! and a minimal WebSocket reader over tokio `TcpStream`) so that client
//! overhead does not show up as daemon latency. Every time stamp comes from
//! the same monotonic clock (`Instant`).
//!
//! Environment: `SOS_BENCH_DIR` (where temporary data directories go;
//! default the system temp dir), `SOS_BENCH_KEEP=1` (keep them),
//! `SOS_BENCH_NO_BUILD=1` (do not rebuild the daemon under `cargo run`),
//! `SOS_BENCH_CLIENTS=16,64` (client counts for the sustained-load runs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const PIN: &str = "2468";
const TVS: usize = 10;
const STARTS: usize = 5;
const SEQ_WARMUP: usize = 20;
const SEQ_CHECKINS: usize = 500;
const LOAD_SECS: u64 = 5;
const LOAD_CLIENTS: &[usize] = &[16, 64];
const NAIVE_SECS: u64 = 3;
const IDLE_SECS: u64 = 2;

const TARGET_READY_MS: f64 = 300.0;
const TARGET_IDLE_RSS_MB: f64 = 30.0;
const TARGET_TV_P99_MS: f64 = 5.0;
const TARGET_RATE: f64 = 2000.0;

fn main() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run())
}

// ------------------------------------------------------------------ driver

async fn run() -> Result<()> {
    let daemon_exe = locate_daemon()?;
    let bench_started = Instant::now();
    let base = make_base_dir()?;
    let keep = std::env::var_os("SOS_BENCH_KEEP").is_some();
    let result = run_in(&daemon_exe, &base).await;
    if keep {
        eprintln!("kept data directories in {}", base.display());
    } else if let Err(e) = std::fs::remove_dir_all(&base) {
        eprintln!("note: cannot remove {}: {e}", base.display());
    }
    let report = result?;
    report.print(bench_started.elapsed());
    Ok(())
}

async fn run_in(daemon_exe: &Path, base: &Path) -> Result<Report> {
    let mut r = Report {
        host: host_info(base),
        ..Report::default()
    };
    println!("SOS Edge benchmark");
    println!("  daemon:   {}", daemon_exe.display());
    println!("  host:     {}", r.host);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let busy = load_average();
    println!("  load:     {busy:.2} (1-minute average before the run)");
    if busy > 0.5 * cpus as f64 {
        println!(
            "  WARNING:  the machine is busy (load {busy:.2} on {cpus} CPUs); latency and rate figures will be noisy."
        );
    }
    if cfg!(debug_assertions) {
        println!("  WARNING:  this is a debug build; figures are not meaningful. Use --release.");
    }
    println!();

    // 1. Start-up: fresh data directories (first boot: migrate, seed the demo
    //    practice, hash the staff PIN), then restarts on an existing one.
    println!("[1/5] start-up: /healthz ready after process start, polled every 5 ms");
    let main_dir = base.join("box");
    for i in 0..STARTS {
        let dir = if i == 0 {
            main_dir.clone()
        } else {
            base.join(format!("fresh-{i}"))
        };
        let d = Daemon::start(daemon_exe, &dir).await?;
        r.ready_fresh.push(d.ready);
        d.stop().await?;
    }
    // The demo practice is on the "pro" plan (3 TVs). Ten TVs need "elite":
    // set it in the replica while the daemon is stopped (what a cloud sync
    // of a plan upgrade would write).
    set_plan(&main_dir.join("sos-edge.db"), "elite")?;
    let mut daemon = None;
    for i in 0..STARTS {
        let d = Daemon::start(daemon_exe, &main_dir).await?;
        r.ready_restart.push(d.ready);
        if i + 1 < STARTS {
            d.stop().await?;
        } else {
            daemon = Some(d);
        }
    }
    let daemon = daemon.context("no daemon running")?;
    println!(
        "      fresh dir: median {} max {}; restart: median {} max {}",
        ms(median(&r.ready_fresh)),
        ms(max(&r.ready_fresh)),
        ms(median(&r.ready_restart)),
        ms(max(&r.ready_restart))
    );

    // 2. Idle memory.
    println!("[2/5] memory: idle {IDLE_SECS} s with no clients");
    tokio::time::sleep(Duration::from_secs(IDLE_SECS)).await;
    r.rss_idle_kb = daemon.rss_kb()?;
    println!("      idle RSS {}", mb(r.rss_idle_kb));

    // 3. Ten paired TVs, then sequential check-ins.
    println!("[3/5] {TVS} TVs paired over WebSocket; {SEQ_CHECKINS} sequential check-ins");
    let mut lobby = Lobby::open(daemon).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.rss_tvs_kb = lobby.daemon.rss_kb()?;
    let health = get_json(lobby.daemon.addr, "/healthz").await?;
    r.tv_clients_reported = health["tv_clients"].as_u64().unwrap_or(0);
    println!(
        "      RSS with {TVS} TVs {} (daemon reports {} TV subscribers)",
        mb(r.rss_tvs_kb),
        r.tv_clients_reported
    );
    let (addr, path) = (lobby.daemon.addr, lobby.daemon.checkin_path.clone());
    let mut phone = Http::connect(addr).await?;
    lobby.recording.store(true, Ordering::SeqCst);
    for i in 0..(SEQ_WARMUP + SEQ_CHECKINS) {
        let measured = i >= SEQ_WARMUP;
        let first = format!("Seq{i}");
        let req = checkin_request(addr, &path, &lobby.form_token, &first, i as u64);
        let t0 = Instant::now();
        let resp = phone.send(&req).await?;
        let http = t0.elapsed();
        ensure!(
            resp.status == 303,
            "sequential check-in {i} answered {} (expected 303): {}",
            resp.status,
            resp.body_snippet()
        );
        // Wait for the arrival on every TV.
        let mut seen = 0usize;
        let wait_until = t0 + Duration::from_secs(2);
        while seen < TVS {
            let left = wait_until.saturating_duration_since(Instant::now());
            let Ok(Some(a)) = tokio::time::timeout(left, lobby.arrivals.recv()).await else {
                break;
            };
            if arrival_index(&a.text, "Seq") != Some(i) {
                r.tv_unexpected += 1;
                continue;
            }
            seen += 1;
            if measured {
                r.tv_latency.push(a.at.saturating_duration_since(t0));
            }
        }
        if measured {
            r.seq_http.push(http);
            r.tv_missing += TVS - seen;
        }
    }
    lobby.recording.store(false, Ordering::SeqCst);
    drop(phone);
    println!(
        "      check-in -> arrived on each TV: p50 {} p99 {} max {}; HTTP p50 {} p99 {}",
        ms(pct(&mut r.tv_latency, 0.50)),
        ms(pct(&mut r.tv_latency, 0.99)),
        ms(max(&r.tv_latency)),
        ms(pct(&mut r.seq_http, 0.50)),
        ms(pct(&mut r.seq_http, 0.99)),
    );
    let shutdown = lobby.close().await?;
    r.shutdown = Some(shutdown);
    r.acknowledged += (SEQ_WARMUP + SEQ_CHECKINS) as u64;
    r.stored += count_checkins(&main_dir.join("sos-edge.db"))?;

    // 4. Sustained load, each run on a fresh box (an empty day) with ten
    //    paired TVs connected, as in a real lobby.
    println!(
        "[4/5] sustained durable check-ins, {LOAD_SECS} s per run, fresh box each run, {TVS} TVs connected"
    );
    let counter = Arc::new(AtomicU64::new(1_000_000));
    for clients in load_clients()? {
        let dir = base.join(format!("load-{clients}"));
        let d = Daemon::start(daemon_exe, &dir).await?;
        d.stop().await?;
        set_plan(&dir.join("sos-edge.db"), "elite")?;
        let lobby = Lobby::open(Daemon::start(daemon_exe, &dir).await?).await?;
        let daemon = &lobby.daemon;
        let tvs = &lobby.tvs;
        let before: Vec<(u64, u64)> = tvs.iter().map(|t| t.counts()).collect();
        let cpu0 = (cpu_time("self")?, cpu_time(&daemon.pid.to_string())?);
        let mut run = load(
            daemon.addr,
            &daemon.checkin_path,
            &lobby.form_token,
            clients,
            &counter,
        )
        .await?;
        run.daemon_cpu = cpu_time(&daemon.pid.to_string())?.saturating_sub(cpu0.1);
        run.bench_cpu = cpu_time("self")?.saturating_sub(cpu0.0);
        // Give the fan-out a moment to finish, then see what the TVs got.
        let settle = Instant::now();
        loop {
            let all = tvs.iter().zip(&before).all(|(t, (a0, s0))| {
                let (a, s) = t.counts();
                a - a0 >= run.ok || s > *s0
            });
            if all || settle.elapsed() > Duration::from_secs(3) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (mut got, mut resyncs) = (0u64, 0u64);
        for (t, (a0, s0)) in tvs.iter().zip(&before) {
            let (a, s) = t.counts();
            got += a - a0;
            resyncs += s - s0;
        }
        println!(
            "      {clients:>3} clients: {:.0} check-ins/s, p50 {} p99 {} max {}, {} errors; TVs got {}/{} arrived frames, {} resync snapshots",
            run.rate(),
            ms(pct(&mut run.latency.clone(), 0.50)),
            ms(pct(&mut run.latency.clone(), 0.99)),
            ms(max(&run.latency)),
            run.errors,
            got,
            run.ok * TVS as u64,
            resyncs
        );
        println!(
            "                  check-ins per second of the run: {:?}",
            &run.per_second[..LOAD_SECS as usize],
        );
        r.rss_after_kb = daemon.rss_kb()?;
        r.hwm_kb = daemon.status_kb("VmHWM:")?;
        r.threads_after = daemon.status_kb("Threads:")?;
        r.db_files_after = daemon.open_files_matching("sos-edge.db")?;
        println!(
            "                  CPU: daemon {:.2} s ({:.0} us per check-in), bench {:.2} s, over {:.2} s wall",
            run.daemon_cpu.as_secs_f64(),
            run.daemon_cpu.as_secs_f64() * 1e6 / run.ok.max(1) as f64,
            run.bench_cpu.as_secs_f64(),
            run.elapsed.as_secs_f64(),
        );
        println!(
            "                  daemon after the run: RSS {} (peak {}), {} threads, {} open sos-edge.db* files",
            mb(r.rss_after_kb),
            mb(r.hwm_kb),
            r.threads_after,
            r.db_files_after
        );
        // A TV that reloads gets the whole lobby again: how big and how
        // fast, now that the day's queue holds every check-in above.
        if let Some(tv) = tvs.first() {
            let (took, bytes, entries) = reconnect_tv(daemon.addr, &tv.token).await?;
            println!(
                "                  TV reconnect with its token: snapshot after {}, {:.0} KB, {entries} queue entries",
                ms(took),
                bytes as f64 / 1024.0
            );
            r.resync = Some((took, bytes, entries));
        }
        r.tv_load_frames.push((got, run.ok * TVS as u64, resyncs));
        r.acknowledged += run.ok;
        r.load.push(run);
        lobby.close().await?;
        r.stored += count_checkins(&dir.join("sos-edge.db"))?;
    }
    println!(
        "      after shutdown: {} check-ins stored, {} acknowledged (all runs)",
        r.stored, r.acknowledged
    );

    // 5. Reference: one transaction (one fsync) per check-in.
    println!(
        "[5/5] reference: plain rusqlite, WAL + synchronous=FULL, one transaction per check-in, 1 thread, {NAIVE_SECS} s"
    );
    let naive_dir = base.join("naive");
    let naive = tokio::task::spawn_blocking(move || naive_reference(&naive_dir))
        .await
        .context("naive reference panicked")??;
    println!(
        "      {:.0} check-ins/s, p50 {} p99 {}",
        naive.rate(),
        ms(pct(&mut naive.latency.clone(), 0.50)),
        ms(pct(&mut naive.latency.clone(), 0.99))
    );
    r.naive = Some(naive);
    Ok(r)
}

// ------------------------------------------------------------------ report

#[derive(Default)]
struct Report {
    host: String,
    ready_fresh: Vec<Duration>,
    ready_restart: Vec<Duration>,
    rss_idle_kb: u64,
    rss_tvs_kb: u64,
    rss_after_kb: u64,
    hwm_kb: u64,
    threads_after: u64,
    db_files_after: u64,
    resync: Option<(Duration, usize, usize)>,
    tv_clients_reported: u64,
    tv_latency: Vec<Duration>,
    tv_missing: usize,
    tv_unexpected: usize,
    seq_http: Vec<Duration>,
    load: Vec<LoadRun>,
    tv_load_frames: Vec<(u64, u64, u64)>,
    naive: Option<LoadRun>,
    shutdown: Option<Duration>,
    acknowledged: u64,
    stored: u64,
}

impl Report {
    fn print(mut self, total: Duration) {
        let w = 46;
        println!();
        println!("== figures ({}) ==", self.host);
        println!("{:<w$} measured", "figure");
        println!("{}", "-".repeat(100));
        let row = |k: &str, v: String| println!("{k:<w$} {v}");
        row(
            &format!("/healthz ready, fresh data dir ({STARTS} starts)"),
            format!(
                "median {}  max {}",
                ms(median(&self.ready_fresh)),
                ms(max(&self.ready_fresh))
            ),
        );
        row(
            &format!("/healthz ready, restart ({STARTS} starts)"),
            format!(
                "median {}  max {}",
                ms(median(&self.ready_restart)),
                ms(max(&self.ready_restart))
            ),
        );
        row(
            &format!("RSS idle ({IDLE_SECS} s, no clients)"),
            mb(self.rss_idle_kb),
        );
        row(
            &format!("RSS with {TVS} TVs connected"),
            mb(self.rss_tvs_kb),
        );
        row(
            "RSS after the load runs (peak)",
            format!(
                "{} ({}); {} threads, {} open sos-edge.db* files",
                mb(self.rss_after_kb),
                mb(self.hwm_kb),
                self.threads_after,
                self.db_files_after
            ),
        );
        let pairs = self.tv_latency.len();
        row(
            &format!("check-in -> arrived on TV ({pairs} pairs)"),
            format!(
                "p50 {}  p99 {}  max {}  (missing {}, unexpected {})",
                ms(pct(&mut self.tv_latency, 0.50)),
                ms(pct(&mut self.tv_latency, 0.99)),
                ms(max(&self.tv_latency)),
                self.tv_missing,
                self.tv_unexpected
            ),
        );
        row(
            &format!("check-in HTTP response ({SEQ_CHECKINS} sequential)"),
            format!(
                "p50 {}  p99 {}",
                ms(pct(&mut self.seq_http, 0.50)),
                ms(pct(&mut self.seq_http, 0.99))
            ),
        );
        for (run, (got, want, resyncs)) in self.load.iter().zip(&self.tv_load_frames) {
            let mut lat = run.latency.clone();
            row(
                &format!(
                    "durable check-ins/s, {} clients, {LOAD_SECS} s",
                    run.clients
                ),
                format!(
                    "{:.0}/s  p50 {}  p99 {}  errors {}  (TV frames {got}/{want}, resyncs {resyncs})",
                    run.rate(),
                    ms(pct(&mut lat, 0.50)),
                    ms(pct(&mut lat, 0.99)),
                    run.errors
                ),
            );
        }
        let best = self.load.iter().map(LoadRun::rate).fold(0.0, f64::max);
        if let Some(naive) = &self.naive {
            let mut lat = naive.latency.clone();
            row(
                "reference: 1 txn per check-in, 1 thread",
                format!(
                    "{:.0}/s  p50 {}  p99 {}  (daemon's best is {:.1}x)",
                    naive.rate(),
                    ms(pct(&mut lat, 0.50)),
                    ms(pct(&mut lat, 0.99)),
                    if naive.rate() > 0.0 {
                        best / naive.rate()
                    } else {
                        0.0
                    }
                ),
            );
        }
        if let Some((took, bytes, entries)) = self.resync {
            row(
                "TV reconnect -> full snapshot",
                format!(
                    "{}  {:.0} KB  ({entries} entries in today's queue)",
                    ms(took),
                    bytes as f64 / 1024.0
                ),
            );
        }
        row(
            "acknowledged check-ins found in the DB",
            format!("{}/{}", self.stored, self.acknowledged),
        );
        if let Some(s) = self.shutdown {
            row("clean shutdown (SIGTERM -> exit)", ms(s));
        }

        println!();
        println!("== targets ==");
        let worst_start = max(&self.ready_fresh).max(max(&self.ready_restart));
        let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
        let start_ok = as_ms(worst_start) <= TARGET_READY_MS;
        let rss_ok = (self.rss_idle_kb as f64 / 1024.0) <= TARGET_IDLE_RSS_MB;
        let tv_p99 = pct(&mut self.tv_latency, 0.99);
        let tv_ok = as_ms(tv_p99) <= TARGET_TV_P99_MS && self.tv_missing == 0 && pairs > 0;
        let rate_ok = best >= TARGET_RATE;
        let durable_ok = self.stored == self.acknowledged;
        println!(
            "{}  start-up: /healthz ready <= {TARGET_READY_MS} ms (worst of {} starts: {})",
            verdict(start_ok),
            2 * STARTS,
            ms(worst_start)
        );
        println!(
            "{}  idle RSS <= {TARGET_IDLE_RSS_MB} MB ({})",
            verdict(rss_ok),
            mb(self.rss_idle_kb)
        );
        println!(
            "{}  check-in -> every TV p99 <= {TARGET_TV_P99_MS} ms ({}, {} missing)",
            verdict(tv_ok),
            ms(tv_p99),
            self.tv_missing
        );
        println!(
            "{}  durable check-ins >= {TARGET_RATE}/s (best of {:?} clients: {best:.0}/s)",
            verdict(rate_ok),
            self.load.iter().map(|r| r.clients).collect::<Vec<_>>()
        );
        println!(
            "{}  every acknowledged check-in is in the database ({}/{})",
            verdict(durable_ok),
            self.stored,
            self.acknowledged
        );
        println!();
        println!(
            "total bench time {:.1} s; 1-minute load average now {:.2}",
            total.as_secs_f64(),
            load_average()
        );
    }
}

fn as_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ms(d: Duration) -> String {
    let v = as_ms(d);
    if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.0} ms")
    }
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    pct(&mut v, 0.5)
}

fn max(v: &[Duration]) -> Duration {
    v.iter().copied().max().unwrap_or_default()
}

/// Nearest-rank percentile.
fn pct(v: &mut [Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

// ------------------------------------------------------------------ host

/// Client counts for the sustained-load runs (`SOS_BENCH_CLIENTS=16,64`).
fn load_clients() -> Result<Vec<usize>> {
    match std::env::var("SOS_BENCH_CLIENTS") {
        Ok(v) => v
            .split(',')
            .map(|n| {
                n.trim()
                    .parse::<usize>()
                    .context("SOS_BENCH_CLIENTS: use e.g. 16,64")
            })
            .filter(|n| !matches!(n, Ok(0)))
            .collect(),
        Err(_) => Ok(LOAD_CLIENTS.to_vec()),
    }
}

/// The 1-minute load average (other work on the machine skews every figure).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// User + system CPU time of a process (`self` or a pid), from /proc.
fn cpu_time(pid: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').context("bad /proc stat")? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    let ticks: u64 = f
        .get(11)
        .zip(f.get(12))
        .and_then(|(u, s)| Some(u.parse::<u64>().ok()? + s.parse::<u64>().ok()?))
        .context("bad /proc stat fields")?;
    // USER_HZ is 100 on every Linux the box runs on.
    Ok(Duration::from_millis(ticks * 10))
}

fn host_info(dir: &Path) -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kb| format!("{:.1} GB RAM", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!(
        "{cpus} CPUs ({model}), {mem}, Linux {kernel}, data on {}",
        fs_type(dir)
    )
}

/// The file system holding `dir` (fsync cost depends on it; tmpfs makes
/// durability free and the figures meaningless).
fn fs_type(dir: &Path) -> String {
    let Ok(path) = dir.canonicalize() else {
        return "unknown fs".into();
    };
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return "unknown fs".into();
    };
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, mnt, ty) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mnt).then(|| (mnt.len(), ty.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, ty)| ty)
        .unwrap_or_else(|| "unknown fs".into())
}

fn make_base_dir() -> Result<PathBuf> {
    let root = std::env::var_os("SOS_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = root.join(format!("sos-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// The daemon binary next to this one; under `cargo run` it is (re)built
/// first so the figures are for the current source.
fn locate_daemon() -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .context("cannot find this executable")?
        .with_file_name("sos-appliance");
    if let Some(cargo) = std::env::var_os("CARGO")
        && std::env::var_os("SOS_BENCH_NO_BUILD").is_none()
    {
        let mut cmd = std::process::Command::new(cargo);
        if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
            cmd.current_dir(dir);
        }
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "sos-appliance",
            "--bin",
            "sos-appliance",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .context("cannot run cargo to build the daemon")?;
        ensure!(status.success(), "building sos-appliance failed");
    }
    ensure!(
        exe.exists(),
        "{} not found: build it first with `cargo build --release -p sos-appliance`",
        exe.display()
    );
    Ok(exe)
}

// ------------------------------------------------------------------ daemon

struct Daemon {
    child: Option<Child>,
    pid: u32,
    addr: SocketAddr,
    checkin_path: String,
    ready: Duration,
}

impl Daemon {
    async fn start(exe: &Path, dir: &Path) -> Result<Daemon> {
        std::fs::create_dir_all(dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("log"))
            .context("cannot open the daemon log")?;
        let (tx, mut lines) = mpsc::unbounded_channel::<String>();
        let t0 = Instant::now();
        let mut child = std::process::Command::new(exe)
            .args(["demo", "--data-dir"])
            .arg(dir)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--pin",
                PIN,
                "--checkin-rate-per-minute",
                "100000000",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("no daemon stdout")?;
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Nobody may listen any more; keep draining regardless so
                // the daemon never blocks on a full pipe.
                let _ = tx.send(line);
            }
        });
        let mut daemon = Daemon {
            child: Some(child),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            checkin_path: String::new(),
            ready: Duration::ZERO,
        };
        let first = tokio::time::timeout(Duration::from_secs(20), lines.recv())
            .await
            .ok()
            .flatten()
            .with_context(|| {
                format!(
                    "the daemon printed nothing (log: {})",
                    dir.with_extension("log").display()
                )
            })?;
        let addr = first
            .strip_prefix("listening on http://")
            .with_context(|| format!("unexpected first line from the daemon: {first:?}"))?;
        daemon.addr = addr
            .trim()
            .parse()
            .with_context(|| format!("bad address {addr:?}"))?;
        loop {
            if let Ok(Ok(resp)) = tokio::time::timeout(
                Duration::from_secs(1),
                one_shot(daemon.addr, "GET", "/healthz"),
            )
            .await
                && resp.status == 200
            {
                daemon.ready = t0.elapsed();
                break;
            }
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("the daemon was not ready after 20 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while daemon.checkin_path.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = tokio::time::timeout(left, lines.recv())
                .await
                .ok()
                .flatten()
                .context("the daemon did not print its check-in URL")?;
            if let Some(url) = line.trim().strip_prefix("check-in:") {
                let url = url.trim();
                let path = url
                    .strip_prefix("http://")
                    .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
                    .with_context(|| format!("bad check-in URL {url:?}"))?;
                daemon.checkin_path = path.to_string();
            }
        }
        Ok(daemon)
    }

    fn status_kb(&self, key: &str) -> Result<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("cannot read the daemon's /proc status")?;
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {key} in /proc/{}/status", self.pid))
    }

    /// Open file descriptors of the daemon whose target contains `needle`.
    fn open_files_matching(&self, needle: &str) -> Result<u64> {
        let dir = format!("/proc/{}/fd", self.pid);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {dir}"))? {
            let Ok(entry) = entry else { continue };
            if std::fs::read_link(entry.path()).is_ok_and(|t| t.to_string_lossy().contains(needle))
            {
                n += 1;
            }
        }
        Ok(n)
    }

    fn rss_kb(&self) -> Result<u64> {
        self.status_kb("VmRSS:")
    }

    /// SIGTERM, then wait for a clean exit; returns how long it took.
    async fn stop(mut self) -> Result<Duration> {
        let mut child = self.child.take().context("daemon already stopped")?;
        let t0 = Instant::now();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !sent {
            child.kill().context("cannot stop the daemon")?;
        }
        loop {
            if let Some(status) = child.try_wait()? {
                ensure!(
                    status.success() || !sent,
                    "the daemon exited with {status} on SIGTERM"
                );
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the daemon did not stop within 15 s of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn set_plan(db: &Path, plan: &str) -> Result<()> {
    let conn =
        rusqlite::Connection::open(db).with_context(|| format!("cannot open {}", db.display()))?;
    let n = conn
        .execute("UPDATE tenant SET plan = ?1", [plan])
        .context("cannot set the plan")?;
    ensure!(n == 1, "expected one tenant row, found {n}");
    Ok(())
}

fn count_checkins(db: &Path) -> Result<u64> {
    let conn =
        rusqlite::Connection::open(db).with_context(|| format!("cannot open {}", db.display()))?;
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM checkins", [], |r| r.get(0))
        .context("cannot count check-ins")?;
    Ok(n as u64)
}

// ------------------------------------------------------------------ HTTP

/// A minimal HTTP/1.1 keep-alive client: hand-built requests, responses
/// parsed just enough (status, headers, Content-Length or chunked body).
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn body_snippet(&self) -> String {
        self.text().chars().take(300).collect()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Http {
    async fn connect(addr: SocketAddr) -> Result<Http> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    async fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        ensure!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn send(&mut self, request: &[u8]) -> Result<Resp> {
        self.stream.write_all(request).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> Result<Resp> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end);
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line in {head:?}"))?;
        let mut resp = Resp {
            status,
            head,
            body: Vec::new(),
        };
        if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().context("bad Content-Length")?;
            while self.buf.len() < len {
                self.fill().await?;
            }
            resp.body = self.buf.drain(..len).collect();
        } else if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    self.fill().await?;
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .context("bad chunk size")?;
                self.buf.drain(..line_end + 2);
                if size == 0 {
                    // Trailers (none expected) end with an empty line.
                    loop {
                        if let Some(i) = find(&self.buf, b"\r\n") {
                            self.buf.drain(..i + 2);
                            if i == 0 {
                                break;
                            }
                        } else {
                            self.fill().await?;
                        }
                    }
                    break;
                }
                while self.buf.len() < size + 2 {
                    self.fill().await?;
                }
                resp.body.extend(self.buf.drain(..size));
                self.buf.drain(..2);
            }
        } else if status != 204 && status != 304 && !(100..200).contains(&status) {
            bail!("response without a length: {}", resp.head);
        }
        Ok(resp)
    }
}

fn request(method: &str, addr: SocketAddr, path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

async fn one_shot(addr: SocketAddr, method: &str, path: &str) -> Result<Resp> {
    let mut c = Http::connect(addr).await?;
    c.send(&request(method, addr, path, "", b"")).await
}

async fn get_json(addr: SocketAddr, path: &str) -> Result<Value> {
    let resp = one_shot(addr, "GET", path).await?;
    ensure!(resp.status == 200, "GET {path}: {}", resp.status);
    serde_json::from_slice(&resp.body).with_context(|| format!("GET {path}: not JSON"))
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the first `attr="…"` after `marker` in an HTML page.
fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let start = html.find(marker)?;
    let rest = &html[start..];
    let tag_end = rest.find('>')?;
    let tag = &rest[..tag_end];
    let key = format!("{attr}=\"");
    let v = &tag[tag.find(&key)? + key.len()..];
    Some(html_unescape(&v[..v.find('"')?]))
}

async fn fetch_form_token(addr: SocketAddr, checkin_path: &str) -> Result<String> {
    let resp = one_shot(addr, "GET", checkin_path).await?;
    ensure!(resp.status == 200, "GET check-in form: {}", resp.status);
    attr_after(&resp.text(), "name=\"form_token\"", "value")
        .context("no form_token in the check-in form")
}

/// A distinct, valid date of birth per patient number.
fn dob(n: u64) -> String {
    format!(
        "{}-{:02}-{:02}",
        1940 + (n / 336) % 80,
        (n / 28) % 12 + 1,
        n % 28 + 1
    )
}

fn checkin_request(addr: SocketAddr, path: &str, form_token: &str, first: &str, n: u64) -> Vec<u8> {
    let body = format!(
        "first_name={first}&last_name=Bench&date_of_birth={}&form_token={}&walk_in=yes",
        dob(n),
        urlencode(form_token)
    );
    request(
        "POST",
        addr,
        path,
        "Content-Type: application/x-www-form-urlencoded\r\n",
        body.as_bytes(),
    )
}

/// A signed-in front-desk session.
struct Desk {
    cookie: String,
    csrf: String,
}

impl Desk {
    async fn login(addr: SocketAddr) -> Result<Desk> {
        let mut c = Http::connect(addr).await?;
        let body = format!("pin={PIN}&next=%2Fdesk");
        let resp = c
            .send(&request(
                "POST",
                addr,
                "/desk/login",
                "Content-Type: application/x-www-form-urlencoded\r\n",
                body.as_bytes(),
            ))
            .await?;
        ensure!(
            resp.status == 303 || resp.status == 302,
            "desk login answered {}: {}",
            resp.status,
            resp.body_snippet()
        );
        let cookie = resp
            .header("set-cookie")
            .and_then(|v| v.split(';').next())
            .filter(|v| v.starts_with("sos_desk="))
            .context("desk login set no sos_desk cookie")?
            .to_string();
        let page = c
            .send(&request(
                "GET",
                addr,
                "/desk",
                &format!("Cookie: {cookie}\r\n"),
                b"",
            ))
            .await?;
        ensure!(page.status == 200, "GET /desk answered {}", page.status);
        let csrf = attr_after(&page.text(), "name=\"csrf-token\"", "content")
            .context("no csrf-token meta on /desk")?;
        Ok(Desk { cookie, csrf })
    }

    async fn pair(&self, addr: SocketAddr, code: &str, name: &str) -> Result<()> {
        let body = serde_json::json!({"code": code, "name": name}).to_string();
        let headers = format!(
            "Cookie: {}\r\nX-CSRF-Token: {}\r\nContent-Type: application/json\r\n",
            self.cookie, self.csrf
        );
        let resp = one_shot_with(
            addr,
            "POST",
            "/desk/api/displays/pair",
            &headers,
            body.as_bytes(),
        )
        .await?;
        ensure!(
            resp.status == 200,
            "pairing {name} answered {}: {}",
            resp.status,
            resp.body_snippet()
        );
        Ok(())
    }
}

async fn one_shot_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> Result<Resp> {
    let mut c = Http::connect(addr).await?;
    c.send(&request(method, addr, path, headers, body)).await
}

// ------------------------------------------------------------------ load

struct LoadRun {
    clients: usize,
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latency: Vec<Duration>,
    daemon_cpu: Duration,
    bench_cpu: Duration,
    /// Check-ins completed in each second of the run.
    per_second: Vec<u64>,
}

impl LoadRun {
    fn rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.ok as f64 / self.elapsed.as_secs_f64()
        }
    }
}

async fn load(
    addr: SocketAddr,
    path: &str,
    form_token: &str,
    clients: usize,
    counter: &Arc<AtomicU64>,
) -> Result<LoadRun> {
    // Connect everyone first so connection set-up is not part of the run.
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Http::connect(addr).await?);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(LOAD_SECS);
    let mut tasks = Vec::with_capacity(clients);
    for mut conn in conns {
        let (path, token, counter) = (path.to_string(), form_token.to_string(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut per_second = vec![0u64; LOAD_SECS as usize + 1];
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut first_error = None;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let req = checkin_request(addr, &path, &token, &format!("Load{n}"), n);
                let t0 = Instant::now();
                let resp = conn.send(&req).await?;
                let took = t0.elapsed();
                if resp.status == 303 {
                    ok += 1;
                    lat.push(took);
                    let sec = (t0 + took - start).as_secs() as usize;
                    if let Some(b) = per_second.get_mut(sec) {
                        *b += 1;
                    }
                } else {
                    errors += 1;
                    first_error
                        .get_or_insert_with(|| format!("{}: {}", resp.status, resp.body_snippet()));
                }
            }
            anyhow::Ok((lat, ok, errors, first_error, per_second, Instant::now()))
        }));
    }
    let mut run = LoadRun {
        clients,
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: Vec::new(),
        daemon_cpu: Duration::ZERO,
        bench_cpu: Duration::ZERO,
        per_second: vec![0; LOAD_SECS as usize + 1],
    };
    let mut end = start;
    for t in tasks {
        let (lat, ok, errors, first_error, per_second, done) =
            t.await.context("load client panicked")??;
        for (total, n) in run.per_second.iter_mut().zip(per_second) {
            *total += n;
        }
        run.latency.extend(lat);
        run.ok += ok;
        run.errors += errors;
        end = end.max(done);
        if let Some(e) = first_error {
            eprintln!("      first error from a client: {e}");
        }
    }
    run.elapsed = end - start;
    Ok(run)
}

// ------------------------------------------------------------------ TVs

/// A minimal WebSocket client: masked text frames out, frames in (pings
/// answered), nothing else.
struct Ws {
    stream: TcpStream,
    buf: Vec<u8>,
    last_read: Instant,
}

enum WsMsg {
    Text(String),
    Closed,
}

impl Ws {
    async fn connect(addr: SocketAddr, path: &str) -> Result<Ws> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await?;
        let mut ws = Ws {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            last_read: Instant::now(),
        };
        let head_end = loop {
            if let Some(i) = find(&ws.buf, b"\r\n\r\n") {
                break i + 4;
            }
            ensure!(
                ws.read_more().await?,
                "connection closed during the WebSocket handshake"
            );
        };
        let head = String::from_utf8_lossy(&ws.buf[..head_end]).into_owned();
        ensure!(
            head.starts_with("HTTP/1.1 101"),
            "WebSocket upgrade refused: {head}"
        );
        ws.buf.drain(..head_end);
        Ok(ws)
    }

    async fn read_more(&mut self) -> Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.last_read = Instant::now();
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<()> {
        let mut f = Vec::with_capacity(payload.len() + 14);
        f.push(0x80 | opcode);
        let len = payload.len();
        if len < 126 {
            f.push(0x80 | len as u8);
        } else if len <= u16::MAX as usize {
            f.push(0x80 | 126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mask: [u8; 4] = rand::random();
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&f).await?;
        Ok(())
    }

    /// The next message and when the read that completed it returned.
    async fn recv(&mut self) -> Result<(Instant, WsMsg)> {
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let Some(FrameHead {
                fin,
                opcode,
                start,
                len,
                mask,
            }) = parse_frame(&self.buf)
            else {
                if !self.read_more().await? {
                    return Ok((self.last_read, WsMsg::Closed));
                }
                continue;
            };
            let mut payload: Vec<u8> = self.buf[start..start + len].to_vec();
            self.buf.drain(..start + len);
            if let Some(m) = mask {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= m[i % 4];
                }
            }
            match opcode {
                0x0..=0x2 => {
                    partial.extend_from_slice(&payload);
                    if fin {
                        let text = String::from_utf8(partial).context("frame is not UTF-8")?;
                        return Ok((self.last_read, WsMsg::Text(text)));
                    }
                }
                0x8 => return Ok((self.last_read, WsMsg::Closed)),
                0x9 => self.send(0xA, &payload).await?,
                _ => {}
            }
        }
    }

    async fn recv_json(&mut self, within: Duration) -> Result<Value> {
        match tokio::time::timeout(within, self.recv()).await {
            Ok(Ok((_, WsMsg::Text(t)))) => serde_json::from_str(&t).context("TV frame is not JSON"),
            Ok(Ok((_, WsMsg::Closed))) => bail!("the TV socket closed"),
            Ok(Err(e)) => Err(e),
            Err(_) => bail!("no TV frame within {within:?}"),
        }
    }
}

/// Where a complete frame's payload is in the buffer.
struct FrameHead {
    fin: bool,
    opcode: u8,
    start: usize,
    len: usize,
    mask: Option<[u8; 4]>,
}

/// The head of the first frame in `buf`, once all of it has arrived.
fn parse_frame(buf: &[u8]) -> Option<FrameHead> {
    if buf.len() < 2 {
        return None;
    }
    let fin = buf[0] & 0x80 != 0;
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let (mut idx, len) = match buf[1] & 0x7f {
        126 => {
            if buf.len() < 4 {
                return None;
            }
            (4, u16::from_be_bytes([buf[2], buf[3]]) as usize)
        }
        127 => {
            if buf.len() < 10 {
                return None;
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (10, u64::from_be_bytes(b) as usize)
        }
        n => (2, n as usize),
    };
    let mask = if masked {
        if buf.len() < idx + 4 {
            return None;
        }
        let m = [buf[idx], buf[idx + 1], buf[idx + 2], buf[idx + 3]];
        idx += 4;
        Some(m)
    } else {
        None
    };
    (buf.len() >= idx + len).then_some(FrameHead {
        fin,
        opcode,
        start: idx,
        len,
        mask,
    })
}

/// An `arrived` frame as one TV received it.
struct Arrival {
    at: Instant,
    text: String,
}

/// The check-in number in an `arrived` frame's lobby name ("Seq17 B.").
fn arrival_index(text: &str, prefix: &str) -> Option<usize> {
    let v: Value = serde_json::from_str(text).ok()?;
    let name = v["entry"]["name"].as_str()?;
    name.strip_prefix(prefix)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct Tv {
    token: String,
    arrived: Arc<AtomicU64>,
    snapshots: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Tv {
    fn counts(&self) -> (u64, u64) {
        (
            self.arrived.load(Ordering::Relaxed),
            self.snapshots.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Tv {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects a TV, has the desk approve its pairing code, waits for its
/// snapshot, then leaves it running as its own task.
async fn pair_tv(
    addr: SocketAddr,
    desk: &Desk,
    i: usize,
    tx: mpsc::UnboundedSender<Arrival>,
    recording: Arc<AtomicBool>,
) -> Result<Tv> {
    let mut ws = Ws::connect(addr, "/tv/ws").await?;
    ws.send(0x1, br#"{"type":"hello","token":null}"#).await?;
    let pairing = ws.recv_json(Duration::from_secs(5)).await?;
    ensure!(
        pairing["type"] == "pairing",
        "expected a pairing frame, got {pairing}"
    );
    let code = pairing["code"]
        .as_str()
        .context("pairing frame without a code")?;
    desk.pair(addr, code, &format!("Bench TV {}", i + 1))
        .await?;
    let mut token = String::new();
    loop {
        let f = ws.recv_json(Duration::from_secs(5)).await?;
        match f["type"].as_str() {
            Some("paired") => token = f["token"].as_str().unwrap_or_default().to_string(),
            Some("welcome") => {}
            Some("snapshot") => break,
            other => bail!("unexpected frame while pairing: {other:?}"),
        }
    }
    ensure!(!token.is_empty(), "TV {} was not given a token", i + 1);
    let arrived = Arc::new(AtomicU64::new(0));
    let snapshots = Arc::new(AtomicU64::new(0));
    let (a, s) = (arrived.clone(), snapshots.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((at, msg)) = ws.recv().await else {
                return;
            };
            let WsMsg::Text(text) = msg else { return };
            // serde_json writes keys in order, so this is exact and cheap.
            if text.contains(r#""type":"arrived""#) {
                a.fetch_add(1, Ordering::Relaxed);
                if recording.load(Ordering::Relaxed) {
                    let _ = tx.send(Arrival { at, text });
                }
            } else if text.contains(r#""type":"snapshot""#) {
                s.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Ok(Tv {
        token,
        arrived,
        snapshots,
        task,
    })
}

/// A running box with a signed-in desk and ten paired TVs.
struct Lobby {
    daemon: Daemon,
    tvs: Vec<Tv>,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    recording: Arc<AtomicBool>,
    form_token: String,
}

impl Lobby {
    async fn open(daemon: Daemon) -> Result<Lobby> {
        let desk = Desk::login(daemon.addr).await?;
        let (tx, arrivals) = mpsc::unbounded_channel::<Arrival>();
        let recording = Arc::new(AtomicBool::new(false));
        let mut tvs = Vec::new();
        for i in 0..TVS {
            tvs.push(pair_tv(daemon.addr, &desk, i, tx.clone(), recording.clone()).await?);
        }
        let form_token = fetch_form_token(daemon.addr, &daemon.checkin_path).await?;
        Ok(Lobby {
            daemon,
            tvs,
            arrivals,
            recording,
            form_token,
        })
    }

    /// Disconnects the TVs and stops the daemon; returns the stop time.
    async fn close(self) -> Result<Duration> {
        drop(self.tvs);
        self.daemon.stop().await
    }
}

/// Reconnects as an already-paired TV; returns the time to its snapshot,
/// the snapshot's size and how many queue entries it holds.
async fn reconnect_tv(addr: SocketAddr, token: &str) -> Result<(Duration, usize, usize)> {
    let t0 = Instant::now();
    let mut ws = Ws::connect(addr, "/tv/ws").await?;
    let hello = serde_json::json!({"type": "hello", "token": token}).to_string();
    ws.send(0x1, hello.as_bytes()).await?;
    loop {
        let (at, msg) = tokio::time::timeout(Duration::from_secs(10), ws.recv())
            .await
            .context("no snapshot within 10 s of reconnecting")??;
        let WsMsg::Text(text) = msg else {
            bail!("the TV socket closed while reconnecting")
        };
        if text.contains(r#""type":"snapshot""#) {
            let v: Value = serde_json::from_str(&text).context("snapshot is not JSON")?;
            let entries = v["queue"].as_array().map(Vec::len).unwrap_or(0);
            return Ok((at - t0, text.len(), entries));
        }
        ensure!(
            text.contains(r#""type":"welcome""#) || text.contains(r#""type":"arrived""#),
            "unexpected frame on reconnect: {}",
            text.chars().take(200).collect::<String>()
        );
    }
}

// ------------------------------------------------------------------ reference

/// The same durable work as one check-in in the daemon (look-up, walk-in
/// patient, check-in, audit entry, three outbox events, read back), done the
/// naive way: one transaction and one fsync per check-in, one thread.
fn naive_reference(dir: &Path) -> Result<LoadRun> {
    use appliance::store::{self, Method, NewCheckin, PatientRow};
    use cloud_sync::events::{BoxEvent, CheckinArrived, CheckinProcessed};
    use serde_json::json;

    std::fs::create_dir_all(dir)?;
    let db = dir.join("naive.db");
    // The daemon's own schema (store/migrations/001_initial.sql and every
    // later migration, indexes included), so only the commit strategy differs.
    store::Store::open(&db)
        .context("cannot create the schema")?
        .close();
    let mut conn = rusqlite::Connection::open(&db)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let tenant_cfg = appliance::demo::practice()
        .into_tenant()
        .map_err(|e| anyhow!("demo practice: {e}"))?;
    let tenant = tenant_cfg.tenant_id.clone();
    store::upsert_tenant(&conn, &tenant_cfg)?;
    let day = "2030-01-01";

    let mut latency = Vec::new();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(NAIVE_SECS);
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let t0 = Instant::now();
        let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let patient_id = format!("walkin-{}", uuid::Uuid::now_v7());
        if store::checkin_for_patient_on(&txn, &tenant, &patient_id, day)?.is_some() {
            bail!("duplicate patient in the reference run");
        }
        store::upsert_patient(
            &txn,
            &tenant,
            &PatientRow {
                patient_id: patient_id.clone(),
                first_name: format!("Ref{n}"),
                last_name: "Bench".into(),
                name_key: format!("ref{n} bench"),
                dob_hash: format!("{:064x}", n),
            },
        )?;
        let checkin_id = uuid::Uuid::now_v7().to_string();
        let token_hash = format!("{:032x}{:032x}", n, uuid::Uuid::new_v4().as_u128());
        let arrived_at = store::now_ms();
        let ticket = store::insert_checkin(
            &txn,
            &tenant,
            &NewCheckin {
                checkin_id: &checkin_id,
                appointment_id: None,
                patient_id: &patient_id,
                local_date: day,
                method: Method::Qr,
                arrived_at,
                status_token_hash: &token_hash,
            },
        )?;
        store::append_audit(
            &txn,
            &tenant,
            "patient:qr",
            "checkin.arrived",
            &checkin_id,
            &json!({"method": "qr", "walk_in": true}),
        )?;
        store::enqueue_event(
            &txn,
            &tenant,
            &BoxEvent::CheckinArrived(CheckinArrived {
                checkin_id: checkin_id.clone(),
                appointment_id: None,
                patient_id: None,
                walk_in: true,
                method: Method::Qr,
                local_date: day.to_string(),
                ticket,
                arrived_at,
            }),
        )?;
        store::enqueue_event(
            &txn,
            &tenant,
            &BoxEvent::CheckinProcessed(CheckinProcessed {
                checkin_id: checkin_id.clone(),
                method: Method::Qr,
                at: arrived_at,
            }),
        )?;
        store::get_checkin(&txn, &tenant, &checkin_id)?.context("check-in vanished")?;
        txn.commit()?;
        latency.push(t0.elapsed());
    }
    Ok(LoadRun {
        clients: 1,
        ok: n,
        errors: 0,
        elapsed: start.elapsed(),
        latency,
        daemon_cpu: Duration::ZERO,
        bench_cpu: Duration::ZERO,
        per_second: Vec::new(),
    })
}
