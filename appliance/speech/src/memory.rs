//! Giving memory back to the system after the speech models have worked.
//!
//! The lobby voice (ONNX Runtime) and the recogniser (whisper.cpp) each
//! allocate and free tens of megabytes per sentence on their own threads.
//! glibc keeps what a thread's arena freed for that thread's next use, so
//! a box that has spoken and listened once would carry both peaks for the
//! rest of the day. `give_back` returns the free pages once the work is
//! done, off the path anyone waits on. A fixed `M_MMAP_THRESHOLD` would do
//! it too, but made synthesis slower still and first audio later (docs/voice.md).

use std::time::{Duration, Instant};

/// How long a thread must have had nothing to do before it gives memory
/// back: trimming takes a few milliseconds, which a greeting or an answer
/// arriving right behind the last one must not wait for.
pub const AFTER_IDLE: Duration = Duration::from_secs(1);

/// Remembers whether a thread has freed memory since it last gave it back.
#[derive(Debug, Default)]
pub struct GiveBack {
    worked_at: Option<Instant>,
}

impl GiveBack {
    /// The thread just finished a piece of work (which freed memory).
    pub fn worked(&mut self) {
        self.worked_at = Some(Instant::now());
    }

    /// The thread worked and has been idle for [`AFTER_IDLE`] since.
    pub fn is_due(&self) -> bool {
        self.worked_at.is_some_and(|t| t.elapsed() >= AFTER_IDLE)
    }

    /// Gives memory back if [`GiveBack::is_due`].
    pub fn when_idle(&mut self) {
        if self.is_due() {
            self.worked_at = None;
            give_back();
        }
    }
}

/// Returns the free pages of every malloc arena to the kernel.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = Instant::now();
        // SAFETY: malloc_trim only walks glibc's own arenas under their
        // locks; it takes no pointers from us and is safe to call from
        // any thread at any time.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
        tracing::trace!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "free memory returned"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_mb() -> f64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    #[test]
    fn gives_back_only_after_work_and_a_quiet_second() {
        let mut g = GiveBack::default();
        assert!(!g.is_due(), "nothing was done");
        g.worked();
        assert!(!g.is_due(), "the next job may be right behind");
        g.worked_at = Some(Instant::now() - AFTER_IDLE);
        assert!(g.is_due());
        g.when_idle();
        assert!(!g.is_due(), "given back once, not on every idle tick");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn memory_a_thread_freed_goes_back_to_the_system() {
        // 64 MB in small blocks (kept in the thread's arena, not mapped
        // one by one), freed below a block that stays: glibc keeps it all.
        let (freed, after) = std::thread::spawn(|| {
            let blocks: Vec<Vec<u8>> = (0..65_536).map(|_| vec![1u8; 1000]).collect();
            let keep = vec![1u8; 1000];
            drop(blocks);
            let freed = rss_mb();
            give_back();
            let after = rss_mb();
            drop(keep);
            (freed, after)
        })
        .join()
        .unwrap_or((0.0, 0.0));
        assert!(
            freed - after >= 32.0,
            "RSS {freed:.0} MB before giving back, {after:.0} MB after"
        );
    }
}
