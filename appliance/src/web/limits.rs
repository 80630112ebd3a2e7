//! Per-client rate limits, so one phone (or a script on the Wi-Fi) cannot
//! flood check-ins or guess PINs.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct RateLimits {
    checkin: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
}

/// Check-ins one client may send per minute unless configured otherwise.
pub const DEFAULT_CHECKINS_PER_MINUTE: u32 = 20;

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(DEFAULT_CHECKINS_PER_MINUTE)
    }
}

fn per_minute(n: u32, burst: u32) -> Quota {
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(burst)
}

impl RateLimits {
    /// A family checking in several people from one phone is fine;
    /// hundreds a minute is not. Benchmarks raise the limit.
    pub fn new(checkins_per_minute: u32) -> RateLimits {
        RateLimits {
            checkin: RateLimiter::keyed(per_minute(
                checkins_per_minute,
                checkins_per_minute.div_ceil(2),
            )),
            login: RateLimiter::keyed(per_minute(10, 10)),
        }
    }

    pub fn checkin_allowed(&self, ip: IpAddr) -> bool {
        self.checkin.check_key(&ip).is_ok()
    }

    pub fn login_allowed(&self, ip: IpAddr) -> bool {
        self.login.check_key(&ip).is_ok()
    }
}
