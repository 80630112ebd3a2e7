//! Fault injection for the fault tests: a small random source for fault
//! timing, generated names, and a TCP proxy between box and cloud that drops
//! connections mid-answer (the cloud committed, the box never heard) or cuts
//! every open connection at once, as a network cut would.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// xorshift: enough randomness for fault timing, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A fresh seed (never 0, which xorshift would keep forever).
pub fn seed() -> u64 {
    (cloud_sync::auth::now_ms() as u64) | 1
}

/// Letters-only unique name for person `i`.
pub fn name(mut i: usize) -> String {
    let mut s = String::from("Gen");
    for _ in 0..4 {
        s.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
    }
    s
}

/// Forwards `url` to an upstream address. While chaos is on, drops about one
/// connection in five right after the first bytes of the upstream's answer;
/// [`ChaosProxy::cut`] closes every connection open at that moment.
pub struct ChaosProxy {
    pub url: String,
    upstream: Arc<RwLock<String>>,
    chaos: Arc<AtomicBool>,
    drops: Arc<AtomicU64>,
    cut_connections: Arc<AtomicU64>,
    cut: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl ChaosProxy {
    /// Listens on a free local port; chaos starts on.
    pub async fn start(upstream: &str, seed: u64) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let chaos = Arc::new(AtomicBool::new(true));
        let drops = Arc::new(AtomicU64::new(0));
        let cut_connections = Arc::new(AtomicU64::new(0));
        let (cut, _) = watch::channel(0u64);
        let upstream = Arc::new(RwLock::new(upstream.to_string()));
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&upstream),
            Rng(seed | 1),
            Arc::clone(&chaos),
            Arc::clone(&drops),
            Arc::clone(&cut_connections),
            cut.subscribe(),
        ));
        ChaosProxy {
            url,
            upstream,
            chaos,
            drops,
            cut_connections,
            cut,
            task,
        }
    }

    /// New connections go to `addr` (e.g. a restarted cloud on another
    /// port: the boxes keep the proxy's address).
    pub fn set_upstream(&self, addr: &str) {
        *self.upstream.write().unwrap_or_else(|p| p.into_inner()) = addr.to_string();
    }

    pub fn set_chaos(&self, on: bool) {
        self.chaos.store(on, Ordering::Relaxed);
    }

    /// Connections dropped mid-answer so far.
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    /// Connections closed by [`ChaosProxy::cut`] so far.
    pub fn cut_connections(&self) -> u64 {
        self.cut_connections.load(Ordering::Relaxed)
    }

    /// Closes every connection open now (requests in flight included).
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: Arc<RwLock<String>>,
    mut rng: Rng,
    chaos: Arc<AtomicBool>,
    drops: Arc<AtomicU64>,
    cut_connections: Arc<AtomicU64>,
    cut: watch::Receiver<u64>,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            return;
        };
        let drop_it = chaos.load(Ordering::Relaxed) && rng.below(5) == 0;
        let mut cut = cut.clone();
        cut.mark_unchanged();
        let upstream = upstream.read().unwrap_or_else(|p| p.into_inner()).clone();
        tokio::spawn(forward(
            inbound,
            upstream,
            drop_it,
            Arc::clone(&drops),
            Arc::clone(&cut_connections),
            cut,
        ));
    }
}

async fn forward(
    mut inbound: TcpStream,
    upstream: String,
    drop_it: bool,
    drops: Arc<AtomicU64>,
    cut_connections: Arc<AtomicU64>,
    mut cut: watch::Receiver<u64>,
) {
    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut ri, mut wi) = inbound.split();
    let (mut ro, mut wo) = outbound.split();
    let up = tokio::io::copy(&mut ri, &mut wo);
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match ro.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if drop_it {
                drops.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if wi.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
        r = cut.changed() => {
            if r.is_ok() {
                cut_connections.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
