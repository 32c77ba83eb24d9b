use super::*;

fn table() -> PendingTable<u32> {
    PendingTable::new(0.001).unwrap()
}

fn expire(pending: &mut PendingTable<u32>, now: f64) -> Vec<u32> {
    let mut out = Vec::new();
    pending.expire(now, &mut out).unwrap();
    out
}

#[test]
fn refuses_a_resolution_that_is_not_a_positive_number() {
    for resolution in [0.0, -0.001, f64::NAN, f64::INFINITY] {
        assert!(PendingTable::<u32>::new(resolution).is_none(), "{resolution}");
    }
    assert!((table().resolution() - 0.001).abs() < f64::EPSILON);
}

#[test]
fn add_next_makes_refs_like_the_js_client() {
    let mut pending = table();
    assert_eq!(pending.add_next(10, None).unwrap(), "1");
    assert_eq!(pending.add_next(20, Some(5.0)).unwrap(), "2");
    assert_eq!(pending.make_ref(), "3");
    assert_eq!(pending.ref_value(), 3);
    assert_eq!((pending.len(), pending.timers()), (2, 1));
    assert!(pending.contains("1") && pending.contains("2") && !pending.contains("3"));
}

#[test]
fn a_nan_deadline_is_refused_before_a_ref_is_made() {
    let mut pending = table();
    assert_eq!(pending.add_next(1, Some(f64::NAN)), Err(TimerError::NotANumber));
    assert_eq!(pending.ref_value(), 0);
    assert_eq!(pending.add("x", 1, Some(f64::NAN)), Err(TimerError::NotANumber));
    assert_eq!(pending.reschedule("x", Some(f64::NAN)), Err(TimerError::NotANumber));
    let mut out = Vec::new();
    assert_eq!(pending.expire(f64::NAN, &mut out), Err(TimerError::NotANumber));
    assert!(pending.is_empty());
}

#[test]
fn set_ref_keeps_the_js_range() {
    let mut pending = table();
    assert_eq!(
        pending.set_ref(crate::refs::WRAP_AT + 1),
        Err(RefError::OutOfRange(crate::refs::WRAP_AT + 1))
    );
    pending.set_ref(crate::refs::WRAP_AT).unwrap();
    assert_eq!(pending.add_next(1, None).unwrap(), "0");
}

#[test]
fn take_cancels_the_timer() {
    let mut pending = table();
    let r = pending.add_next(7, Some(1.0)).unwrap();
    assert_eq!(pending.take(&r), Some(7));
    assert_eq!(pending.take(&r), None);
    assert_eq!(pending.timers(), 0);
    assert_eq!(pending.next_deadline(), None);
    assert!(expire(&mut pending, 10.0).is_empty());
}

#[test]
fn get_looks_without_taking() {
    let mut pending = table();
    let timed = pending.add_next(7, Some(1.0)).unwrap();
    pending.add("text-ref", 8, None).unwrap();
    assert_eq!(pending.get(&timed), Some(&7));
    assert_eq!(pending.get("text-ref"), Some(&8));
    assert_eq!(pending.get("nope"), None);
    assert_eq!((pending.len(), pending.timers()), (2, 1));
    assert_eq!(expire(&mut pending, 1.0), [7]);
    assert_eq!(pending.get(&timed), None);
}

#[test]
fn adding_a_held_ref_replaces_it_timer_and_all() {
    let mut pending = table();
    assert_eq!(pending.add("r", 1, Some(1.0)).unwrap(), None);
    assert_eq!(pending.add("r", 2, None).unwrap(), Some(1));
    assert_eq!((pending.len(), pending.timers()), (1, 0));
    assert!(expire(&mut pending, 2.0).is_empty());
    assert_eq!(pending.add("r", 3, Some(3.0)).unwrap(), Some(2));
    assert_eq!(expire(&mut pending, 3.0), [3]);
    assert!(pending.is_empty());
}

#[test]
fn a_wrapped_counter_replaces_a_ref_still_held() {
    let mut pending = table();
    pending.add("1", 100, Some(1.0)).unwrap();
    assert_eq!(pending.add_next(200, None).unwrap(), "1");
    assert_eq!(pending.take("1"), Some(200));
    assert_eq!(pending.timers(), 0);
}

#[test]
fn expire_fires_by_deadline_then_by_order_of_adding() {
    let mut pending = table();
    pending.add("a", 1, Some(2.0)).unwrap();
    pending.add("b", 2, Some(1.0)).unwrap();
    pending.add("c", 3, Some(2.0)).unwrap();
    pending.add("d", 4, None).unwrap();
    assert_eq!(pending.next_deadline(), Some(1.0));
    assert!(expire(&mut pending, 0.999).is_empty());
    assert_eq!(expire(&mut pending, 2.0), [2, 1, 3]);
    assert!(!pending.contains("a") && !pending.contains("b") && !pending.contains("c"));
    assert_eq!(pending.len(), 1);
    assert_eq!(pending.next_deadline(), None);
}

#[test]
fn reschedule_moves_between_timed_and_untimed() {
    let mut pending = table();
    assert_eq!(pending.reschedule("nope", Some(1.0)), Ok(false));
    pending.add("t", 1, Some(1.0)).unwrap();
    pending.add("u", 2, None).unwrap();
    // Timed to later, timed to untimed, untimed to timed, untimed to untimed.
    assert_eq!(pending.reschedule("t", Some(5.0)), Ok(true));
    assert!(expire(&mut pending, 4.0).is_empty());
    assert_eq!(pending.reschedule("t", None), Ok(true));
    assert_eq!(pending.reschedule("u", Some(6.0)), Ok(true));
    assert_eq!(pending.reschedule("u", None), Ok(true));
    assert_eq!(pending.reschedule("u", Some(6.0)), Ok(true));
    assert_eq!((pending.len(), pending.timers()), (2, 1));
    assert_eq!(expire(&mut pending, 6.0), [2]);
    assert_eq!(pending.take("t"), Some(1));
}

#[test]
fn drain_returns_every_item_in_the_order_of_adding() {
    let mut pending = table();
    pending.add_next(1, Some(9.0)).unwrap();
    pending.add_next(2, None).unwrap();
    pending.add("x", 3, Some(1.0)).unwrap();
    pending.add_next(4, None).unwrap();
    pending.reschedule("1", None).unwrap();
    let mut items: Vec<u32> = pending.items().copied().collect();
    items.sort_unstable();
    assert_eq!(items, [1, 2, 3, 4]);
    assert_eq!(pending.drain(), [1, 2, 3, 4]);
    assert!(pending.is_empty());
    assert_eq!(pending.timers(), 0);
    assert_eq!(pending.items().count(), 0);
}

#[test]
fn clear_forgets_everything_but_the_counter() {
    let mut pending = table();
    pending.add_next(1, Some(1.0)).unwrap();
    pending.add_next(2, None).unwrap();
    pending.clear();
    assert!(pending.is_empty());
    assert_eq!(pending.timers(), 0);
    assert_eq!(pending.add_next(3, None).unwrap(), "3");
}
