//! The standard `process_*` metrics (memory, CPU, file descriptors, start time), read from `/proc/self` at
//! scrape time on Linux. Elsewhere, or when `/proc` cannot be read, the collector exposes none of them.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Exposes the `process_*` family, as the Prometheus client libraries of other languages name it.
#[derive(Debug, Default)]
pub(crate) struct ProcessCollector;

/// One reading of the process's resources.
#[derive(Debug, Default, PartialEq)]
struct ProcessStats {
    resident_bytes: u64,
    virtual_bytes: u64,
    cpu_seconds: f64,
    start_time_seconds: Option<f64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(stats) = read() else {
            return Ok(());
        };
        gauge(
            &mut encoder,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            ConstGauge::new(stats.resident_bytes),
        )?;
        gauge(
            &mut encoder,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            ConstGauge::new(stats.virtual_bytes),
        )?;
        let cpu = ConstCounter::new(stats.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        if let Some(started) = stats.start_time_seconds {
            gauge(
                &mut encoder,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                ConstGauge::new(started),
            )?;
        }
        if let Some(open) = stats.open_fds {
            gauge(
                &mut encoder,
                "process_open_fds",
                "Number of open file descriptors.",
                ConstGauge::new(open),
            )?;
        }
        if let Some(max) = stats.max_fds {
            gauge(
                &mut encoder,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                ConstGauge::new(max),
            )?;
        }
        Ok(())
    }
}

fn gauge<N: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: ConstGauge<N>,
) -> Result<(), std::fmt::Error> {
    value.encode(encoder.encode_descriptor(name, help, None, value.metric_type())?)
}

#[cfg(not(target_os = "linux"))]
fn read() -> Option<ProcessStats> {
    None
}

#[cfg(target_os = "linux")]
fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // /proc/stat is hidden under systemd's ProcSubset=pid: then no start time.
    let boot = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let mut stats = parse_stat(
        &stat,
        &boot,
        rustix::param::clock_ticks_per_second(),
        rustix::param::page_size() as u64,
    )?;
    stats.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count() as u64);
    stats.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| parse_max_open_files(&limits));
    Some(stats)
}

/// Memory, CPU time and start time from `/proc/self/stat` (see proc(5)) and `/proc/stat`'s `btime` (no start
/// time without it).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_stat(stat: &str, proc_stat: &str, ticks: u64, page_size: u64) -> Option<ProcessStats> {
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    let (_, after_name) = stat.rsplit_once(')')?;
    // Field 3 (state) is the first after the name.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |number: usize| -> Option<u64> { fields.get(number - 3)?.parse().ok() };
    let ticks = ticks.max(1) as f64;
    let boot_seconds = proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|seconds| seconds.trim().parse::<u64>().ok());
    let started_ticks = field(22)?;
    Some(ProcessStats {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        start_time_seconds: boot_seconds.map(|boot| boot as f64 + started_ticks as f64 / ticks),
        virtual_bytes: field(23)?,
        resident_bytes: field(24)?.saturating_mul(page_size),
        open_fds: None,
        max_fds: None,
    })
}

/// The soft limit of `Max open files` in `/proc/self/limits` (`None` when unlimited).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (assetsync (x) y) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 50 0 0 20 0 \
                    9 0 1000 123456789 300 18446744073709551615 1 1 0 0 0 0 0 4096 17663 0 0 0 17 1 0 0";
        let stats = parse_stat(
            stat,
            "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n",
            100,
            4096,
        );
        assert_eq!(
            stats,
            Some(ProcessStats {
                resident_bytes: 300 * 4096,
                virtual_bytes: 123_456_789,
                cpu_seconds: 3.0,
                start_time_seconds: Some(1_700_000_010.0),
                open_fds: None,
                max_fds: None,
            })
        );
        let hidden = parse_stat(stat, "", 100, 4096).unwrap();
        assert_eq!((hidden.start_time_seconds, hidden.cpu_seconds), (None, 3.0));
        assert_eq!(parse_stat("4242 (short) S 1", "btime 1\n", 100, 4096), None);
    }

    #[test]
    fn max_open_files_is_the_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63474                63474                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
        assert_eq!(
            parse_max_open_files(
                "Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
    }
}
