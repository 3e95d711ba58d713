//! The standard `process_*` series every Prometheus client library exports (CPU seconds, resident
//! and virtual memory, open and maximum file descriptors, start time), read from `/proc/self` at
//! scrape time.
//!
//! This is the one part of `metrics` that reads files, and only procfs: on a system without it
//! [`ProcessStats::read`] answers `None` and the series are left out of the scrape rather than
//! reported as zero. Nothing here allocates per request or keeps state between scrapes.

/// One reading of the process's own counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub resident_memory_bytes: u64,
    /// Virtual memory size, bytes.
    pub virtual_memory_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on open file descriptors (`None`: unlimited).
    pub max_fds: Option<u64>,
    /// When the process started, Unix seconds.
    pub start_time_seconds: f64,
}

impl ProcessStats {
    /// Reads `/proc/self/{stat,fd,limits}` and the boot time from `/proc/stat`.
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot_time = std::fs::read_to_string("/proc/stat").ok().as_deref().and_then(boot_time_seconds)?;
        let limits = std::fs::read_to_string("/proc/self/limits").ok();
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        // SAFETY: sysconf only reads a system constant.
        let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        if ticks <= 0 || page <= 0 {
            return None;
        }
        let fields = StatFields::parse(&stat)?;
        let ticks = ticks as f64;
        Some(Self {
            cpu_seconds: (fields.utime + fields.stime) as f64 / ticks,
            resident_memory_bytes: fields.rss_pages.saturating_mul(page as u64),
            virtual_memory_bytes: fields.vsize,
            open_fds,
            max_fds: limits.as_deref().and_then(max_open_files),
            start_time_seconds: boot_time as f64 + fields.starttime as f64 / ticks,
        })
    }
}

/// The fields of `/proc/self/stat` the series need (proc(5): utime 14, stime 15, starttime 22,
/// vsize 23, rss 24, counted from 1).
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

impl StatFields {
    fn parse(stat: &str) -> Option<Self> {
        // The command name (field 2) is in parentheses and may hold spaces or ')': split after the
        // last ')'; what follows starts at field 3.
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        Some(Self {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
            vsize: field(23)?,
            rss_pages: field(24)?,
        })
    }
}

/// `btime` of `/proc/stat`: boot time, Unix seconds.
fn boot_time_seconds(stat: &str) -> Option<u64> {
    stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

/// The soft limit of the `Max open files` row of `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let row = limits.lines().find(|l| l.starts_with("Max open files"))?;
    row["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (openkvs (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 \
                    123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let f = StatFields::parse(stat).unwrap();
        assert_eq!(
            f,
            StatFields { utime: 250, stime: 50, starttime: 123456, vsize: 987654321, rss_pages: 2048 }
        );
    }

    #[test]
    fn limits_and_boot_time() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(max_open_files("Max open files            unlimited  unlimited  files\n"), None);
        assert_eq!(boot_time_seconds("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"), Some(1700000000));
    }

    #[test]
    fn this_process_reads_back() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let s = ProcessStats::read().expect("procfs readable");
        assert!(s.resident_memory_bytes > 0 && s.open_fds > 0, "{s:?}");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!(s.start_time_seconds > now - 86_400.0 * 365.0 && s.start_time_seconds <= now + 1.0, "{s:?}");
    }
}
