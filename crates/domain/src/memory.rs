//! What the kernel says about memory, for the stage log, the bench command and the training
//! cache's check. Linux's /proc only: elsewhere every reading is None, and callers skip what
//! needs it rather than guess.

/// This process's resident memory now (`VmRSS`), in MiB.
pub fn resident_mib() -> Option<f64> {
    proc_kib("/proc/self/status", "VmRSS:").map(|kib| kib as f64 / 1024.0)
}

/// This process's peak resident memory so far (`VmHWM`), in MiB.
pub fn peak_resident_mib() -> Option<f64> {
    proc_kib("/proc/self/status", "VmHWM:").map(|kib| kib as f64 / 1024.0)
}

/// Memory the kernel could give this process now without swapping, in bytes: the machine's
/// `MemAvailable`, or less where a container's memory limit (cgroup v2 or v1, as mounted in the
/// container) leaves less room, since that limit is what the out-of-memory killer enforces.
pub fn available_bytes() -> Option<u64> {
    let machine = proc_kib("/proc/meminfo", "MemAvailable:").map(|kib| kib * 1024);
    let read = |file: &str| std::fs::read_to_string(file).ok();
    // (limit, usage, stat, the stat key of reclaimable file cache) for cgroup v2, then v1.
    let container = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat", "inactive_file"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
            "/sys/fs/cgroup/memory/memory.stat",
            "total_inactive_file",
        ),
    ]
    .iter()
    .find_map(|(limit, usage, stat, cache_key)| {
        let (limit, usage) = (read(limit)?, read(usage)?);
        let reclaimable = read(stat).and_then(|s| stat_value(&s, cache_key)).unwrap_or(0);
        cgroup_headroom(&limit, &usage, reclaimable)
    });
    match (machine, container) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

/// Room left under a cgroup's memory limit, counting the inactive file cache the kernel would
/// reclaim before killing (as the container runtimes count their working set); None without a
/// limit ("max" in v2, a number near 2^63 in v1) or when the files do not parse.
fn cgroup_headroom(limit: &str, usage: &str, reclaimable: u64) -> Option<u64> {
    let limit: u64 = limit.trim().parse().ok().filter(|&l| l < 1 << 60)?;
    let usage: u64 = usage.trim().parse().ok()?;
    Some(limit.saturating_sub(usage.saturating_sub(reclaimable)))
}

/// The value of a `Key:   1234 kB` line.
fn proc_kib(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    parse_kib(&text, key)
}

fn parse_kib(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key))?.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// A `key value` line's value in a cgroup memory.stat file.
fn stat_value(stat: &str, key: &str) -> Option<u64> {
    stat.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kib_line_is_read_by_its_key() {
        let status = "Name:\tconvoqa\nVmHWM:\t  204800 kB\nVmRSS:\t   102400 kB\n";
        assert_eq!(parse_kib(status, "VmRSS:"), Some(102_400));
        assert_eq!(parse_kib(status, "VmHWM:"), Some(204_800));
        assert_eq!(parse_kib(status, "VmSwap:"), None);
        assert_eq!(parse_kib("VmRSS:\tlots\n", "VmRSS:"), None);
    }

    #[test]
    fn a_container_limit_leaves_its_headroom_and_no_limit_none() {
        assert_eq!(cgroup_headroom("1073741824\n", "268435456\n", 0), Some(805_306_368));
        // Inactive file cache is reclaimable: it counts as room.
        assert_eq!(cgroup_headroom("1073741824\n", "268435456\n", 68_435_456), Some(873_741_824));
        assert_eq!(cgroup_headroom("1000", "2000", 0), Some(0), "over the limit: no room");
        assert_eq!(cgroup_headroom("max\n", "268435456\n", 0), None, "cgroup v2 without a limit");
        assert_eq!(cgroup_headroom("9223372036854771712\n", "4404654080\n", 0), None, "cgroup v1 without a limit");
        let stat = "active_file 10\ninactive_file 4096\ntotal_inactive_file 8192\n";
        assert_eq!(
            (stat_value(stat, "inactive_file"), stat_value(stat, "total_inactive_file")),
            (Some(4096), Some(8192))
        );
        assert_eq!(stat_value(stat, "file"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_reports_all_three() {
        assert!(resident_mib().unwrap() > 1.0);
        assert!(peak_resident_mib().unwrap() >= resident_mib().unwrap());
        assert!(available_bytes().unwrap() > 1 << 20);
    }
}
