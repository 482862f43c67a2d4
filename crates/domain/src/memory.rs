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

/// Memory the kernel could give this process now without swapping (`MemAvailable`), in bytes.
pub fn available_bytes() -> Option<u64> {
    proc_kib("/proc/meminfo", "MemAvailable:").map(|kib| kib * 1024)
}

/// The value of a `Key:   1234 kB` line.
fn proc_kib(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    parse_kib(&text, key)
}

fn parse_kib(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key))?.trim().strip_suffix("kB")?.trim().parse().ok()
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

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_reports_all_three() {
        assert!(resident_mib().unwrap() > 1.0);
        assert!(peak_resident_mib().unwrap() >= resident_mib().unwrap());
        assert!(available_bytes().unwrap() > 1 << 20);
    }
}
