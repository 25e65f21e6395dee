//! What the collector's samples add up to: one snapshot, their average, and the summary that goes
//! into the report (averages, peaks, the trend and a short series for the memory plot).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::trend::{MemoryKind, MemoryTrend};
use crate::serde_util::{duration_ns, rfc3339};

/// One sample of the process, taken by a `MetricsCollector` (in `profx`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemSnapshot {
    /// When it was taken.
    #[serde(with = "rfc3339")]
    pub timestamp: SystemTime,
    /// Resident memory (RSS), in bytes.
    pub resident_bytes: u64,
    /// Virtual memory, in bytes.
    pub virtual_bytes: u64,
    /// CPU used by the process since the previous snapshot, in percent of one core (above 100
    /// when several cores were busy). 0 for the first snapshot of a run: there is nothing to
    /// measure against yet.
    pub cpu_percent: f64,
    /// CPU time (user + system) the process has used since it started; the averages are taken
    /// from it.
    #[serde(with = "duration_ns")]
    pub cpu_time: Duration,
    /// Threads in the process, the collector's own included (0 where the platform does not
    /// say).
    pub threads: u64,
    /// Whether the counting allocator measured the four heap figures below (feature `alloc`
    /// with `profx::CountingAlloc` installed); when not, they are 0.
    pub heap_measured: bool,
    /// Bytes allocated on the heap and not yet freed.
    pub heap_live_bytes: u64,
    /// Bytes allocated since the program started, freed or not.
    pub allocated_total_bytes: u64,
    /// Allocations since the program started.
    pub allocations: u64,
    /// Deallocations since the program started.
    pub deallocations: u64,
}

/// The mean of a collector's snapshots (the source document's `GetAverageMetrics`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemAverage {
    /// Number of snapshots averaged.
    pub samples: u64,
    /// Mean resident memory, in bytes.
    pub avg_resident_bytes: u64,
    /// Mean virtual memory, in bytes.
    pub avg_virtual_bytes: u64,
    /// CPU used from the first snapshot to the last, in percent of one core (the CPU time
    /// between them over the wall time between them).
    pub avg_cpu_percent: f64,
    /// Mean number of threads.
    pub avg_threads: f64,
    /// Whether the heap figures were measured (see [`SystemSnapshot::heap_measured`]).
    pub heap_measured: bool,
    /// Mean live heap bytes (0 when not measured).
    pub avg_heap_live_bytes: u64,
}

impl SystemAverage {
    /// The average of `snapshots` (oldest first); `None` when there are none.
    pub fn of(snapshots: &[SystemSnapshot]) -> Option<SystemAverage> {
        let (first, last) = (snapshots.first()?, snapshots.last()?);
        let n = snapshots.len() as u128;
        let mean = |f: fn(&SystemSnapshot) -> u64| -> u64 {
            (snapshots.iter().map(|s| f(s) as u128).sum::<u128>() / n) as u64
        };
        let heap_measured = snapshots.iter().all(|s| s.heap_measured);
        let wall = last
            .timestamp
            .duration_since(first.timestamp)
            .unwrap_or_default();
        let avg_cpu_percent = if wall.is_zero() {
            snapshots.iter().map(|s| s.cpu_percent).sum::<f64>() / n as f64
        } else {
            last.cpu_time.saturating_sub(first.cpu_time).as_secs_f64() * 100.0 / wall.as_secs_f64()
        };
        Some(SystemAverage {
            samples: snapshots.len() as u64,
            avg_resident_bytes: mean(|s| s.resident_bytes),
            avg_virtual_bytes: mean(|s| s.virtual_bytes),
            avg_cpu_percent,
            avg_threads: snapshots.iter().map(|s| s.threads as f64).sum::<f64>() / n as f64,
            heap_measured,
            avg_heap_live_bytes: if heap_measured {
                mean(|s| s.heap_live_bytes)
            } else {
                0
            },
        })
    }
}

/// One point of the memory-over-time series in a [`SystemSummary`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPoint {
    /// Time since the first snapshot ([`SystemSummary::started`]).
    #[serde(with = "duration_ns")]
    pub offset: Duration,
    /// Resident memory, in bytes.
    pub resident_bytes: u64,
    /// Live heap bytes (0 when not measured).
    pub heap_live_bytes: u64,
    /// Threads in the process.
    pub threads: u64,
}

/// A summary of the process's system metrics over the run: what goes into
/// [`Report::system`](crate::Report::system).
///
/// The first five fields are the averages ([`SystemAverage`]); fields after them were added
/// later and read as empty from reports saved without them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemSummary {
    /// Number of snapshots the averages are over.
    pub samples: u64,
    /// Mean resident memory, in bytes.
    pub avg_resident_bytes: u64,
    /// Mean virtual memory, in bytes.
    pub avg_virtual_bytes: u64,
    /// Mean process CPU use, in percent of one core.
    pub avg_cpu_percent: f64,
    /// Mean number of threads.
    pub avg_threads: f64,
    /// The collector's sampling interval (zero when unknown).
    #[serde(default, with = "duration_ns")]
    pub interval: Duration,
    /// When the first snapshot was taken.
    #[serde(default, with = "rfc3339_opt")]
    pub started: Option<SystemTime>,
    /// From the first snapshot to the last.
    #[serde(default, with = "duration_ns")]
    pub duration: Duration,
    /// The largest resident memory seen, in bytes.
    #[serde(default)]
    pub peak_resident_bytes: u64,
    /// The most threads seen.
    #[serde(default)]
    pub max_threads: u64,
    /// Whether the heap figures below were measured (feature `alloc` with
    /// `profx::CountingAlloc` installed).
    #[serde(default)]
    pub heap_measured: bool,
    /// Mean live heap bytes.
    #[serde(default)]
    pub avg_heap_live_bytes: u64,
    /// The most live heap bytes seen.
    #[serde(default)]
    pub peak_heap_live_bytes: u64,
    /// Bytes allocated from the first snapshot to the last (freed or not).
    #[serde(default)]
    pub allocated_bytes: u64,
    /// Allocations from the first snapshot to the last.
    #[serde(default)]
    pub allocations: u64,
    /// Where memory is heading (live heap bytes when measured, resident memory otherwise);
    /// `None` with fewer than two snapshots.
    #[serde(default)]
    pub trend: Option<MemoryTrend>,
    /// Memory and threads over time for plotting: every snapshot when there are at most
    /// [`SystemSummary::MAX_SERIES_POINTS`], otherwise that many points, each the peak of
    /// an equal share of the snapshots.
    #[serde(default)]
    pub series: Vec<MemoryPoint>,
}

impl SystemSummary {
    /// The most points [`SystemSummary::series`] holds.
    pub const MAX_SERIES_POINTS: usize = 300;

    /// The summary of `snapshots` (oldest first) taken every `interval`; `None` when there
    /// are none.
    pub fn from_snapshots(snapshots: &[SystemSnapshot], interval: Duration) -> Option<Self> {
        let avg = SystemAverage::of(snapshots)?;
        let (first, last) = (snapshots.first()?, snapshots.last()?);
        let heap = avg.heap_measured;
        let max = |f: fn(&SystemSnapshot) -> u64| snapshots.iter().map(f).max().unwrap_or(0);
        Some(SystemSummary {
            samples: avg.samples,
            avg_resident_bytes: avg.avg_resident_bytes,
            avg_virtual_bytes: avg.avg_virtual_bytes,
            avg_cpu_percent: avg.avg_cpu_percent,
            avg_threads: avg.avg_threads,
            interval,
            started: Some(first.timestamp),
            duration: last
                .timestamp
                .duration_since(first.timestamp)
                .unwrap_or_default(),
            peak_resident_bytes: max(|s| s.resident_bytes),
            max_threads: max(|s| s.threads),
            heap_measured: heap,
            avg_heap_live_bytes: avg.avg_heap_live_bytes,
            peak_heap_live_bytes: if heap { max(|s| s.heap_live_bytes) } else { 0 },
            allocated_bytes: if heap {
                last.allocated_total_bytes
                    .saturating_sub(first.allocated_total_bytes)
            } else {
                0
            },
            allocations: if heap {
                last.allocations.saturating_sub(first.allocations)
            } else {
                0
            },
            trend: MemoryTrend::of_snapshots(snapshots),
            series: series(snapshots, heap),
        })
    }

    /// The averages alone.
    pub fn average(&self) -> SystemAverage {
        SystemAverage {
            samples: self.samples,
            avg_resident_bytes: self.avg_resident_bytes,
            avg_virtual_bytes: self.avg_virtual_bytes,
            avg_cpu_percent: self.avg_cpu_percent,
            avg_threads: self.avg_threads,
            heap_measured: self.heap_measured,
            avg_heap_live_bytes: self.avg_heap_live_bytes,
        }
    }

    /// Whether memory grows fast enough for the summary to warn of a possible leak
    /// ([`MemoryTrend::is_growth_warning`]).
    pub fn memory_growth_warning(&self) -> Option<&MemoryTrend> {
        self.trend.as_ref().filter(|t| t.is_growth_warning())
    }
}

impl MemoryTrend {
    /// The trend of `snapshots` (oldest first): of live heap bytes when every snapshot has them
    /// (the counting allocator is installed), of resident memory otherwise. `None` with fewer
    /// than two snapshots.
    pub fn of_snapshots(snapshots: &[SystemSnapshot]) -> Option<MemoryTrend> {
        let heap = snapshots.iter().all(|s| s.heap_measured);
        let points: Vec<(SystemTime, u64)> = snapshots
            .iter()
            .map(|s| {
                let bytes = if heap {
                    s.heap_live_bytes
                } else {
                    s.resident_bytes
                };
                (s.timestamp, bytes)
            })
            .collect();
        let kind = if heap {
            MemoryKind::HeapLive
        } else {
            MemoryKind::Resident
        };
        MemoryTrend::fit(&points, kind)
    }
}

/// At most [`SystemSummary::MAX_SERIES_POINTS`] points: each the peak of an equal share of the
/// snapshots, at the time of that share's last snapshot (so the first and last snapshots keep
/// their times).
fn series(snapshots: &[SystemSnapshot], heap: bool) -> Vec<MemoryPoint> {
    let Some(first) = snapshots.first() else {
        return Vec::new();
    };
    let n = snapshots.len();
    let buckets = n.min(SystemSummary::MAX_SERIES_POINTS);
    let offset = |s: &SystemSnapshot| {
        s.timestamp
            .duration_since(first.timestamp)
            .unwrap_or_default()
    };
    let mut out = Vec::with_capacity(buckets);
    for b in 0..buckets {
        // Bucket b holds snapshots [b·n/buckets, (b+1)·n/buckets); the first bucket holds only
        // the first snapshot when there are more snapshots than points.
        let (lo, hi) = if b == 0 {
            (0, 1)
        } else {
            (
                1 + (b - 1) * (n - 1) / (buckets - 1),
                1 + b * (n - 1) / (buckets - 1),
            )
        };
        let part = &snapshots[lo..hi.max(lo + 1).min(n)];
        let end = &part[part.len() - 1];
        out.push(MemoryPoint {
            offset: offset(end),
            resident_bytes: part.iter().map(|s| s.resident_bytes).max().unwrap_or(0),
            heap_live_bytes: if heap {
                part.iter().map(|s| s.heap_live_bytes).max().unwrap_or(0)
            } else {
                0
            },
            threads: part.iter().map(|s| s.threads).max().unwrap_or(0),
        });
    }
    out
}

/// An optional timestamp as RFC 3339 text, or `null`.
mod rfc3339_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(&humantime::format_rfc3339_nanos(*t)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => humantime::parse_rfc3339_weak(&text).map(Some).map_err(|e| {
                serde::de::Error::custom(format!("bad RFC 3339 timestamp {text:?}: {e}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrendDirection;

    const MIB: u64 = 1024 * 1024;

    fn snap(i: u64, resident: u64, cpu_ms: u64) -> SystemSnapshot {
        SystemSnapshot {
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_000 + 100 * i),
            resident_bytes: resident,
            virtual_bytes: 4 * resident,
            cpu_percent: 0.0,
            cpu_time: Duration::from_millis(cpu_ms),
            threads: 3 + i % 2,
            heap_measured: false,
            heap_live_bytes: 0,
            allocated_total_bytes: 0,
            allocations: 0,
            deallocations: 0,
        }
    }

    #[test]
    fn averages_of_the_snapshots() {
        let s: Vec<_> = (0..4).map(|i| snap(i, (10 + i) * MIB, 25 * i)).collect();
        let a = SystemAverage::of(&s).unwrap();
        assert_eq!(a.samples, 4);
        assert_eq!(
            a.avg_resident_bytes,
            (10 * MIB + 11 * MIB + 12 * MIB + 13 * MIB) / 4
        );
        assert_eq!(a.avg_virtual_bytes, 4 * a.avg_resident_bytes);
        assert_eq!(a.avg_threads, 3.5);
        // 75 ms of CPU over 300 ms of wall time.
        assert!(
            (a.avg_cpu_percent - 25.0).abs() < 1e-9,
            "{}",
            a.avg_cpu_percent
        );
        assert!(!a.heap_measured);
        assert!(SystemAverage::of(&[]).is_none());
    }

    #[test]
    fn the_summary_uses_heap_bytes_when_measured() {
        let mut s: Vec<_> = (0..10).map(|i| snap(i, 50 * MIB, 0)).collect();
        for (i, x) in s.iter_mut().enumerate() {
            x.heap_measured = true;
            x.heap_live_bytes = MIB + i as u64 * MIB / 2;
            x.allocated_total_bytes = 100 + i as u64 * MIB;
            x.allocations = 7 * i as u64;
        }
        let sum = SystemSummary::from_snapshots(&s, Duration::from_millis(100)).unwrap();
        let t = sum.trend.as_ref().unwrap();
        assert_eq!(t.memory, MemoryKind::HeapLive);
        assert_eq!(t.direction, TrendDirection::Increasing);
        assert!((t.rate_bytes_per_sec - 5.0 * MIB as f64).abs() < 1.0);
        // 5 MiB/s, but over 0.9 s: too short to call a leak.
        assert!(sum.memory_growth_warning().is_none());
        assert_eq!(sum.allocated_bytes, 9 * MIB);
        assert_eq!(sum.allocations, 63);
        assert_eq!(sum.peak_heap_live_bytes, MIB + 9 * MIB / 2);
        assert_eq!(sum.duration, Duration::from_millis(900));
        assert_eq!(sum.average(), SystemAverage::of(&s).unwrap());

        // One snapshot without heap figures: resident memory is fitted instead (stable here).
        s[3].heap_measured = false;
        let sum = SystemSummary::from_snapshots(&s, Duration::from_millis(100)).unwrap();
        let t = sum.trend.unwrap();
        assert_eq!(t.memory, MemoryKind::Resident);
        assert_eq!(t.direction, TrendDirection::Stable);
        assert_eq!(sum.allocated_bytes, 0);
    }

    #[test]
    fn the_series_is_bounded_and_keeps_the_ends_and_peaks() {
        let small: Vec<_> = (0..5).map(|i| snap(i, i * MIB, 0)).collect();
        let sum = SystemSummary::from_snapshots(&small, Duration::from_millis(100)).unwrap();
        assert_eq!(sum.series.len(), 5);
        assert_eq!(sum.series[4].offset, Duration::from_millis(400));

        let n = 3600u64;
        let mut big: Vec<_> = (0..n).map(|i| snap(i, 10 * MIB + i, 0)).collect();
        big[1234].resident_bytes = 900 * MIB; // a spike survives the downsampling
        let sum = SystemSummary::from_snapshots(&big, Duration::from_millis(100)).unwrap();
        assert_eq!(sum.series.len(), SystemSummary::MAX_SERIES_POINTS);
        assert_eq!(sum.series[0].offset, Duration::ZERO);
        assert_eq!(sum.series[0].resident_bytes, 10 * MIB);
        let last = sum.series.last().unwrap();
        assert_eq!(last.offset, Duration::from_millis(100 * (n - 1)));
        assert_eq!(last.resident_bytes, 10 * MIB + n - 1);
        assert!(sum.series.windows(2).all(|w| w[0].offset < w[1].offset));
        assert!(sum.series.iter().any(|p| p.resident_bytes == 900 * MIB));
        assert_eq!(sum.peak_resident_bytes, 900 * MIB);
        assert_eq!(sum.max_threads, 4);
    }

    #[test]
    fn summaries_round_trip_and_old_ones_read() {
        let s: Vec<_> = (0..3).map(|i| snap(i, (10 + i) * MIB, 10 * i)).collect();
        let sum = SystemSummary::from_snapshots(&s, Duration::from_secs(1)).unwrap();
        let json = serde_json::to_string(&sum).unwrap();
        assert_eq!(serde_json::from_str::<SystemSummary>(&json).unwrap(), sum);
        let old = r#"{"samples":2,"avg_resident_bytes":1,"avg_virtual_bytes":2,
                      "avg_cpu_percent":3.5,"avg_threads":4.0}"#;
        let old: SystemSummary = serde_json::from_str(old).unwrap();
        assert_eq!(old.samples, 2);
        assert!(old.trend.is_none() && old.series.is_empty() && old.started.is_none());
        let snap_json = serde_json::to_string(&s[1]).unwrap();
        assert_eq!(
            serde_json::from_str::<SystemSnapshot>(&snap_json).unwrap(),
            s[1]
        );
    }
}
