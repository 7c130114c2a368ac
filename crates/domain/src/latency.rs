//! A compact latency histogram (log-linear buckets, < 1.6 % relative error) for SLA reporting: percentiles,
//! maximum, and the share of samples within a bound.

use std::collections::BTreeMap;

/// Values below this are exact (one bucket per millisecond).
const LINEAR: u64 = 1024;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB_BUCKETS: u64 = 64;

/// Latencies in milliseconds. Serialisable, so that processes can hand theirs to each other and merge them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LatencyHistogram {
    buckets: BTreeMap<u32, u64>,
    count: u64,
    max: u64,
    sum: u64,
}

fn bucket_of(value: u64) -> u32 {
    if value < LINEAR {
        return u32::try_from(value).unwrap_or(u32::MAX);
    }
    let power = 63 - u64::from(value.leading_zeros());
    let mantissa = (value >> (power - 6)) & (SUB_BUCKETS - 1);
    let index = LINEAR + (power - 10) * SUB_BUCKETS + mantissa;
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// The largest value a bucket holds (what percentiles report).
fn upper_bound(bucket: u32) -> u64 {
    let bucket = u64::from(bucket);
    if bucket < LINEAR {
        return bucket;
    }
    let power = (bucket - LINEAR) / SUB_BUCKETS + 10;
    let mantissa = (bucket - LINEAR) % SUB_BUCKETS;
    let low = (1u64 << power) + (mantissa << (power - 6));
    low + (1u64 << (power - 6)) - 1
}

impl LatencyHistogram {
    /// Records one latency (negative values count as 0).
    pub fn record(&mut self, millis: i64) {
        let value = u64::try_from(millis).unwrap_or(0);
        *self.buckets.entry(bucket_of(value)).or_default() += 1;
        self.count += 1;
        self.max = self.max.max(value);
        self.sum = self.sum.saturating_add(value);
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Self) {
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += count;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
        self.sum = self.sum.saturating_add(other.sum);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The sum of every sample (ms).
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The value at quantile `q` ∈ [0, 1] (0 when empty), never above the maximum seen.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (bucket, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return upper_bound(*bucket).min(self.max);
            }
        }
        self.max
    }

    /// The share of samples at or below `millis` (1.0 when empty).
    pub fn share_within(&self, millis: u64) -> f64 {
        if self.count == 0 {
            return 1.0;
        }
        self.count_within(millis) as f64 / self.count as f64
    }

    /// The number of samples at or below `millis` (those whose bucket lies wholly within it).
    pub fn count_within(&self, millis: u64) -> u64 {
        self.buckets
            .iter()
            .filter(|(b, _)| upper_bound(**b) <= millis)
            .map(|(_, c)| c)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_close_and_shares_exact_at_bucket_edges() {
        let mut h = LatencyHistogram::default();
        for v in 1..=10_000 {
            h.record(v);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), 10_000);
        for (q, exact) in [(0.5, 5_000.0), (0.9, 9_000.0), (0.99, 9_900.0)] {
            let got = h.quantile(q) as f64;
            assert!(
                (got - exact).abs() / exact < 0.016,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.quantile(0.001), 10);
        assert!((h.share_within(1_000) - 0.1).abs() < 0.001);
        assert_eq!(h.count_within(1_000), 1_000, "exact below 1024 ms");
        assert_eq!(h.count_within(50), 50);
        assert_eq!(h.sum(), 50_005_000);
        assert_eq!(LatencyHistogram::default().quantile(0.99), 0);
        let mut other = LatencyHistogram::default();
        other.record(400_000);
        h.merge(&other);
        assert_eq!(h.max(), 400_000);
        assert!(h.share_within(300_000) < 1.0);
    }

    #[test]
    fn buckets_cover_their_values() {
        for v in [
            0u64,
            1,
            1023,
            1024,
            1025,
            5_000,
            65_535,
            1 << 30,
            123_456_789,
        ] {
            let bucket = bucket_of(v);
            assert!(upper_bound(bucket) >= v, "{v}");
            assert!(bucket == 0 || upper_bound(bucket - 1) < v, "{v}");
        }
    }
}
