use super::*;

fn row(t: f64, pending: u32) -> TimelineRow {
    TimelineRow {
        t,
        nodes_by_pool: vec![1],
        instances: 1,
        pending_pods: pending,
        replicas: vec![2],
        desired: vec![2],
        desired_unclamped: vec![2],
        load: vec![1.0],
        requested_cpu: 1.0,
        allocatable_cpu: 2.0,
        requested_memory_gib: 1.0,
        allocatable_memory_gib: 2.0,
        cost: 0.0,
        nodes_lower_bound: 0.5,
        pools: Vec::new(),
    }
}

#[test]
fn bucketing_keeps_pending_spikes() {
    let mut rows: Vec<TimelineRow> = (0..2000).map(|i| row(f64::from(i), 0)).collect();
    rows[1001].pending_pods = 40;
    let b = bucket(&rows);
    assert!(b.len() <= MAX_POINTS);
    assert_eq!(b.iter().map(|r| r.pending_pods).max(), Some(40));
    assert_eq!(b.last().map(|r| r.t), Some(1999.0));
}
