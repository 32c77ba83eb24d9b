use super::*;
use proptest::prelude::*;

fn fire(wheel: &mut TimerWheel<u32>, now: u64) -> Vec<u32> {
    let mut out = Vec::new();
    wheel.expire_tick(now, &mut out);
    out
}

#[test]
fn fires_at_the_tick_and_not_before() {
    let mut w = TimerWheel::new();
    w.insert_tick(10, 1).unwrap();
    assert_eq!(fire(&mut w, 9), Vec::<u32>::new());
    assert_eq!(fire(&mut w, 10), vec![1]);
    assert!(w.is_empty());
}

#[test]
fn orders_by_tick_then_insertion() {
    let mut w = TimerWheel::new();
    for (item, tick) in [(1, 500), (2, 3), (3, 500), (4, 70_000), (5, 3), (6, 64)] {
        w.insert_tick(tick, item).unwrap();
    }
    assert_eq!(fire(&mut w, 1_000_000), vec![2, 5, 6, 1, 3, 4]);
}

#[test]
fn cancel_is_exact_and_stale_ids_do_nothing() {
    let mut w = TimerWheel::new();
    let a = w.insert_tick(100, 1).unwrap();
    let b = w.insert_tick(100, 2).unwrap();
    assert_eq!(w.cancel(a), Some(1));
    assert_eq!(w.cancel(a), None);
    let c = w.insert_tick(100, 3).unwrap();
    assert_eq!(c.index(), a.index(), "the slot is reused");
    assert_eq!(w.cancel(a), None, "a stale id cannot cancel the new timer");
    assert_eq!(w.get(b), Some(&2));
    assert_eq!(fire(&mut w, 100), vec![2, 3]);
    assert_eq!(w.cancel(b), None);
    assert_eq!(w.cancel(TimerId::from_raw(u64::MAX)), None);
}

#[test]
fn past_ticks_fire_at_the_next_expire() {
    let mut w = TimerWheel::new();
    assert_eq!(fire(&mut w, 1000), Vec::<u32>::new());
    w.insert_tick(5, 1).unwrap();
    w.insert_tick(1000, 2).unwrap();
    assert_eq!(w.next_due(), Some(NextDue::Exact(5)));
    assert_eq!(fire(&mut w, 1000), vec![1, 2]);
}

#[test]
fn next_due_is_exact_for_a_short_slot() {
    let mut w = TimerWheel::new();
    w.insert_tick(1_000_000, 1).unwrap();
    w.insert_tick(1_000_003, 2).unwrap();
    assert_eq!(w.next_due(), Some(NextDue::Exact(1_000_000)));
    assert_eq!(fire(&mut w, 999_999), Vec::<u32>::new());
    assert_eq!(fire(&mut w, 1_000_000), vec![1]);
    assert_eq!(w.next_due(), Some(NextDue::Exact(1_000_003)));
}

#[test]
fn next_due_is_a_lower_bound_that_makes_progress_for_a_crowded_slot() {
    let mut w = TimerWheel::new();
    let count = SCAN_LIMIT as u32 * 3;
    for i in 0..count {
        w.insert_tick(1_000_000 + u64::from(i) * 11, i).unwrap();
    }
    let mut fired = Vec::new();
    let mut wakeups = 0;
    while let Some(next) = w.next_due() {
        let tick = match next {
            NextDue::Exact(key) => key,
            NextDue::NotBefore(tick) => tick,
        };
        assert!(tick <= 1_000_000 + u64::from(fired.len() as u32) * 11);
        let before = (w.elapsed(), w.next_due());
        let got = fire(&mut w, tick);
        assert!(!got.is_empty() || (w.elapsed(), w.next_due()) != before);
        fired.extend(got);
        wakeups += 1;
    }
    assert_eq!(fired, (0..count).collect::<Vec<_>>());
    assert!(wakeups <= count as usize + 2 * LEVELS, "{wakeups} wakeups");
}

#[test]
fn the_whole_u64_range_works() {
    let mut w = TimerWheel::new();
    w.insert_tick(u64::MAX, 1).unwrap();
    w.insert_tick(u64::MAX - 1, 2).unwrap();
    w.insert_tick(1 << 63, 3).unwrap();
    assert_eq!(fire(&mut w, (1 << 63) - 1), Vec::<u32>::new());
    assert_eq!(fire(&mut w, 1 << 63), vec![3]);
    assert_eq!(fire(&mut w, u64::MAX), vec![2, 1]);
    assert_eq!(w.elapsed(), u64::MAX);
    w.insert_tick(7, 4).unwrap();
    assert_eq!(fire(&mut w, u64::MAX), vec![4]);
}

#[test]
fn reschedule_moves_the_timer() {
    let mut w = TimerWheel::new();
    let a = w.insert_tick(10, 1).unwrap();
    let b = w.insert_tick(20, 2).unwrap();
    assert!(w.reschedule(a, 30, 30));
    assert_eq!(fire(&mut w, 25), vec![2]);
    assert!(!w.reschedule(b, 40, 40));
    assert!(w.reschedule(a, 26, 26));
    assert_eq!(fire(&mut w, 26), vec![1]);
}

#[test]
fn keys_finer_than_ticks_fire_exactly() {
    let mut w = TimerWheel::new();
    // key = tick * 10 + sub-tick
    w.insert(1, 15, 1).unwrap();
    w.insert(1, 12, 2).unwrap();
    let mut out = Vec::new();
    w.expire(1, 11, &mut out);
    assert!(out.is_empty());
    assert_eq!(w.next_due(), Some(NextDue::Exact(12)));
    w.expire(1, 14, &mut out);
    assert_eq!(out, vec![2]);
    w.expire(1, 15, &mut out);
    assert_eq!(out, vec![2, 1]);
}

#[test]
fn drain_returns_insertion_order_and_empties() {
    let mut w = TimerWheel::new();
    for (item, tick) in [(1, 900), (2, 3), (3, 1 << 40)] {
        w.insert_tick(tick, item).unwrap();
    }
    fire(&mut w, 4);
    w.insert_tick(2, 4).unwrap();
    assert_eq!(w.drain(), vec![1, 3, 4]);
    assert!(w.is_empty());
    assert_eq!(w.next_due(), None);
    assert_eq!(w.elapsed(), 4);
    w.insert_tick(5, 5).unwrap();
    assert_eq!(fire(&mut w, 5), vec![5]);
}

#[test]
fn many_timers_cost_memory_in_proportion() {
    let mut w = TimerWheel::new();
    let ids: Vec<_> = (0..10_000u32).map(|i| w.insert_tick(u64::from(i) * 7, i).unwrap()).collect();
    for id in ids {
        w.cancel(id).unwrap();
    }
    assert!(w.is_empty());
    assert_eq!(w.next_due(), None);
    for i in 0..10_000u32 {
        w.insert_tick(u64::from(i), i).unwrap();
    }
    assert_eq!(w.nodes.len(), 10_000, "freed nodes are reused");
}

#[test]
fn order_keys_follow_float_order() {
    let xs =
        [f64::NEG_INFINITY, -1e300, -1.0, -f64::MIN_POSITIVE, 0.0, 1e-300, 0.5, 1.0, 1e300, f64::INFINITY];
    for pair in xs.windows(2) {
        assert!(order_key(pair[0]) < order_key(pair[1]), "{pair:?}");
    }
    for x in xs {
        assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
    }
    assert_eq!(order_key(-0.0), order_key(0.0));
}

fn fire_s(wheel: &mut SecondsWheel<u32>, now: f64) -> Vec<u32> {
    let mut out = Vec::new();
    wheel.expire(now, &mut out).unwrap();
    out
}

#[test]
fn seconds_fire_exactly_within_a_tick() {
    let mut w = SecondsWheel::new(0.001).unwrap();
    w.insert(0.0105, 1).unwrap();
    let early = w.next_deadline().unwrap();
    assert!(early <= 0.0105);
    assert_eq!(fire_s(&mut w, 0.0104), Vec::<u32>::new());
    assert_eq!(w.next_deadline(), Some(0.0105));
    assert_eq!(fire_s(&mut w, 0.0106), vec![1]);
    assert_eq!(w.next_deadline(), None);
}

#[test]
fn seconds_reject_nan_and_bad_resolutions() {
    assert!(SecondsWheel::<u32>::new(0.0).is_none());
    assert!(SecondsWheel::<u32>::new(-1.0).is_none());
    assert!(SecondsWheel::<u32>::new(f64::NAN).is_none());
    assert!(SecondsWheel::<u32>::new(f64::INFINITY).is_none());
    let mut w = SecondsWheel::new(0.001).unwrap();
    assert_eq!(w.insert(f64::NAN, 1), Err(TimerError::NotANumber));
    assert_eq!(w.expire(f64::NAN, &mut Vec::new()), Err(TimerError::NotANumber));
    assert!(w.is_empty());
}

#[test]
fn seconds_handle_negative_and_infinite_times() {
    let mut w = SecondsWheel::new(0.001).unwrap();
    w.insert(f64::INFINITY, 1).unwrap();
    w.insert(-5.0, 2).unwrap();
    w.insert(-0.0, 3).unwrap();
    assert_eq!(w.next_deadline(), Some(-5.0));
    assert_eq!(fire_s(&mut w, -6.0), Vec::<u32>::new());
    assert_eq!(fire_s(&mut w, 0.0), vec![2, 3]);
    assert!(w.next_deadline().unwrap() > 1e15);
    assert_eq!(fire_s(&mut w, 1e300), Vec::<u32>::new());
    assert_eq!(fire_s(&mut w, f64::INFINITY), vec![1]);
}

#[test]
fn tick_start_is_the_first_time_of_the_tick() {
    for res in [0.001, 0.1, 1.0 / 3.0, 1e-9, 7.0] {
        let w = SecondsWheel::<u32>::new(res).unwrap();
        for tick in [1, 2, 3, 10, 999, 1_000_003, 1 << 40, 1 << 53, (1 << 60) + 12345, u64::MAX] {
            let t = w.tick_start(tick);
            assert!(w.tick(t) >= tick, "res {res} tick {tick}");
            assert!(w.tick(next_down(t)) < tick, "res {res} tick {tick}");
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64),
    Cancel(usize),
    Reschedule(usize, u64),
    Advance(u64),
    Back(u64),
    Jump,
}

fn op(span: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..span).prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), 0..span).prop_map(|(i, d)| Op::Reschedule(i, d)),
        3 => (0..span / 4 + 1).prop_map(Op::Advance),
        1 => (0..span / 8 + 1).prop_map(Op::Back),
        1 => Just(Op::Jump),
    ]
}

/// Runs ops against the wheel with keys `div` times finer than ticks, and a `BTreeMap` model.
fn check_against_model(ops: &[Op], base: u64, div: u64) {
    let mut wheel: TimerWheel<u64> = TimerWheel::new();
    // model: (key, seq) -> item; live: item -> (id, key, seq)
    let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut live: Vec<(u64, TimerId, u64, u64)> = Vec::new();
    let mut now_key = base;
    let mut next_item = 0u64;
    let mut seq = 0u64;
    let mut fired_total = 0usize;
    let expire = |wheel: &mut TimerWheel<u64>,
                  model: &mut BTreeMap<(u64, u64), u64>,
                  live: &mut Vec<(u64, TimerId, u64, u64)>,
                  now_key: u64| {
        let mut out = Vec::new();
        wheel.expire(now_key / div, now_key, &mut out);
        let mut expected = Vec::new();
        while let Some(entry) = model.first_entry() {
            if entry.key().0 > now_key {
                break;
            }
            expected.push(entry.remove());
        }
        assert_eq!(out, expected, "at key {now_key}");
        live.retain(|(item, ..)| !out.contains(item));
        out.len()
    };
    for op in ops {
        match *op {
            Op::Insert(delta) => {
                let key = now_key.saturating_add(delta).saturating_sub(div);
                let id = wheel.insert(key / div, key, next_item).unwrap();
                model.insert((key, seq), next_item);
                live.push((next_item, id, key, seq));
                next_item += 1;
                seq += 1;
            }
            Op::Cancel(i) if !live.is_empty() => {
                let (item, id, key, s) = live.swap_remove(i % live.len());
                assert_eq!(wheel.cancel(id), Some(item));
                assert_eq!(model.remove(&(key, s)), Some(item));
                assert_eq!(wheel.cancel(id), None);
            }
            Op::Reschedule(i, delta) if !live.is_empty() => {
                let i = i % live.len();
                let (item, id, key, s) = live[i];
                let moved_to = now_key.saturating_add(delta);
                assert!(wheel.reschedule(id, moved_to / div, moved_to));
                model.remove(&(key, s));
                model.insert((moved_to, s), item);
                live[i].2 = moved_to;
            }
            Op::Advance(delta) => {
                now_key = now_key.saturating_add(delta);
                fired_total += expire(&mut wheel, &mut model, &mut live, now_key);
            }
            Op::Back(delta) => {
                // Time going backwards fires nothing new that is not due.
                fired_total += expire(&mut wheel, &mut model, &mut live, now_key.saturating_sub(delta));
            }
            Op::Jump => {
                if let Some(next) = wheel.next_due() {
                    let (&(min_key, _), _) = model.first_key_value().unwrap();
                    let at = match next {
                        NextDue::Exact(key) => {
                            assert_eq!(key, min_key);
                            key
                        }
                        NextDue::NotBefore(tick) => {
                            assert!(tick <= min_key / div, "next tick {tick} after {min_key}");
                            tick.saturating_mul(div)
                        }
                    };
                    // Waking at the reported time always makes progress.
                    let before = (wheel.elapsed(), wheel.next_due());
                    now_key = now_key.max(at);
                    let fired = expire(&mut wheel, &mut model, &mut live, now_key);
                    fired_total += fired;
                    assert!(fired > 0 || (wheel.elapsed(), wheel.next_due()) != before);
                } else {
                    assert!(model.is_empty());
                }
            }
            Op::Cancel(_) | Op::Reschedule(..) => {}
        }
        assert_eq!(wheel.len(), model.len());
    }
    fired_total += expire(&mut wheel, &mut model, &mut live, u64::MAX);
    assert!(wheel.is_empty());
    assert!(model.is_empty());
    assert!(fired_total <= usize::try_from(next_item).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_a_model_on_ticks(ops in prop::collection::vec(op(5_000), 0..200)) {
        check_against_model(&ops, 0, 1);
    }

    #[test]
    fn matches_a_model_on_fine_keys(ops in prop::collection::vec(op(300_000), 0..200), div in 1u64..2000) {
        check_against_model(&ops, 0, div);
    }

    #[test]
    fn matches_a_model_on_far_ticks(ops in prop::collection::vec(op(1 << 40), 0..100), base in any::<u64>()) {
        check_against_model(&ops, base, 1);
    }

    #[test]
    fn matches_a_model_near_the_end_of_time(ops in prop::collection::vec(op(1 << 20), 0..100)) {
        check_against_model(&ops, u64::MAX - (1 << 21), 1);
    }

    #[test]
    fn seconds_fire_exactly_once_never_early_in_order(
        deadlines in prop::collection::vec(-1.0f64..50.0, 1..100),
        nows in prop::collection::vec(-1.0f64..60.0, 1..30),
        res in prop::sample::select(vec![0.001, 0.01, 0.25, 1.0 / 3.0]),
    ) {
        let mut w = SecondsWheel::new(res).unwrap();
        for (i, &d) in deadlines.iter().enumerate() {
            w.insert(d, i).unwrap();
        }
        let mut nows = nows;
        nows.sort_by(f64::total_cmp);
        let mut fired = vec![false; deadlines.len()];
        for now in nows.into_iter().chain([f64::INFINITY]) {
            if let Some(next) = w.next_deadline() {
                let min = deadlines.iter().enumerate().filter(|&(i, _)| !fired[i]).map(|(_, &d)| d).fold(f64::INFINITY, f64::min);
                prop_assert!(next <= min, "next {} after earliest {}", next, min);
                // Expiring at the reported time makes progress.
                let mut probe = Vec::new();
                let before = (w.len(), w.wheel.elapsed(), w.wheel.next_due());
                w.expire(next, &mut probe).unwrap();
                prop_assert!(!probe.is_empty() || (w.len(), w.wheel.elapsed(), w.wheel.next_due()) != before);
                for i in &probe {
                    prop_assert!(deadlines[*i] <= next);
                    prop_assert!(!fired[*i]);
                    fired[*i] = true;
                }
            }
            let mut out = Vec::new();
            w.expire(now, &mut out).unwrap();
            for pair in out.windows(2) {
                prop_assert!((deadlines[pair[0]], pair[0]) < (deadlines[pair[1]], pair[1]));
            }
            for &i in &out {
                prop_assert!(deadlines[i] <= now, "fired early");
                prop_assert!(!fired[i], "fired twice");
                fired[i] = true;
            }
            for (i, &d) in deadlines.iter().enumerate() {
                prop_assert!(fired[i] || d > now, "late: {} <= {}", d, now);
            }
        }
        prop_assert!(fired.iter().all(|&f| f));
        prop_assert!(w.is_empty());
    }
}
