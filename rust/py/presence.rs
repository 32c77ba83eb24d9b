//! The Presence merge (`Presence.sync_state`, `Presence.sync_diff`, `Presence.list`), run
//! directly on the decoded payloads: Python dicts and lists in, Python dicts and lists out.
//!
//! The contract, shared with the pure-Python `phoenix_fast._presence_reference`:
//! - The inputs are never mutated. The result is a new top-level dict; a presence whose metas
//!   change is a new dict (a shallow copy with a new `metas` list); every other presence and
//!   every meta is shared with the inputs, so presences and metas are treated as immutable.
//! - The merge itself follows `presence.js`: joins first (metas already held and not in the join
//!   are kept in front of the joined ones), then leaves (metas removed by `phx_ref`, the key
//!   dropped when none remain). `phx_ref`s compare like Python's `in` on a list (what the JS
//!   client's `indexOf` does); a missing `phx_ref`, or a meta that is not a dict, counts as None.
//! - Instead of calling back, each function returns the join and leave records, in the order
//!   the JS client fires its callbacks, for the Python layer to fire.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySet, PyString};
use pyo3::{ffi, intern};

use super::errors::{dict_changed_error, diff_part_error, presence_error};

/// Up to this many refs (a presence has one meta per connection, usually one or two),
/// membership is a scan of refs held on the stack; above it, a Python set.
const INLINE: usize = 4;

/// A meta's `phx_ref`: None when missing, None, or the meta is not a dict.
type Ref<'py> = Option<Bound<'py, PyAny>>;

/// The refs of one metas list, in order, with a Python set of them when the list is long.
struct RefSet<'py> {
    inline: [Ref<'py>; INLINE],
    heap: Vec<Ref<'py>>,
    len: usize,
    /// None for a short list, or a long one with a ref that cannot be hashed.
    set: Option<Bound<'py, PySet>>,
}

impl<'py> RefSet<'py> {
    fn of(metas: &Bound<'py, PyList>) -> PyResult<Self> {
        let mut refs = Self { inline: Default::default(), heap: Vec::new(), len: 0, set: None };
        if metas.len() <= INLINE {
            for (slot, meta) in refs.inline.iter_mut().zip(metas.iter()) {
                *slot = meta_ref(&meta)?;
                refs.len += 1;
            }
            return Ok(refs);
        }
        refs.heap = metas.iter().map(|m| meta_ref(&m)).collect::<PyResult<Vec<_>>>()?;
        refs.len = refs.heap.len();
        let py = metas.py();
        let set = PySet::empty(py)?;
        for r in &refs.heap {
            let added = match r {
                None => set.add(py.None()),
                Some(obj) => set.add(obj),
            };
            if added.is_err() {
                return Ok(refs);
            }
        }
        refs.set = Some(set);
        Ok(refs)
    }

    fn refs(&self) -> &[Ref<'py>] {
        if self.heap.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    fn contains(&self, candidate: &Ref<'py>) -> PyResult<bool> {
        if let Some(set) = &self.set {
            let found = match candidate {
                None => set.contains(set.py().None()),
                Some(obj) => set.contains(obj),
            };
            // An unhashable candidate equals none of the (hashable) refs.
            return found.or_else(|err| {
                if err.is_instance_of::<PyTypeError>(set.py()) {
                    Ok(false)
                } else {
                    Err(err)
                }
            });
        }
        for r in self.refs() {
            if same_ref(r, candidate)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether both lists hold equal refs in the same order (the common "nothing changed").
    fn same_as(&self, other: &Self) -> PyResult<bool> {
        if self.len != other.len {
            return Ok(false);
        }
        for (a, b) in self.refs().iter().zip(other.refs()) {
            if !same_ref(a, b)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Python's `a == b` as `in` on a list applies it: identity first, then equality.
fn same_ref(a: &Ref<'_>, b: &Ref<'_>) -> PyResult<bool> {
    match (a, b) {
        (None, None) => Ok(true),
        (None, Some(_)) | (Some(_), None) => Ok(false),
        (Some(a), Some(b)) => {
            if a.is(b) {
                return Ok(true);
            }
            if let (Ok(a), Ok(b)) = (a.cast_exact::<PyString>(), b.cast_exact::<PyString>()) {
                return Ok(a.to_str()? == b.to_str()?);
            }
            a.eq(b)
        }
    }
}

fn meta_ref<'py>(meta: &Bound<'py, PyAny>) -> PyResult<Ref<'py>> {
    let Ok(meta) = meta.cast::<PyDict>() else {
        return Ok(None);
    };
    Ok(meta.get_item(intern!(meta.py(), "phx_ref"))?.filter(|r| !r.is_none()))
}

/// What is left of a metas list once some metas are dropped (`Some` is a new list).
enum Kept<'py> {
    All,
    Empty,
    Some(Bound<'py, PyList>),
}

fn in_any<'py>(sets: &[&RefSet<'py>], r: &Ref<'py>) -> PyResult<bool> {
    for set in sets {
        if set.contains(r)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Drops the metas whose ref is in one of the `drop` sets; allocates a list only when some are
/// dropped and some are kept. `own` are the refs of `metas` when already known.
fn keep_metas<'py>(
    metas: &Bound<'py, PyList>,
    own: Option<&RefSet<'py>>,
    drop: &[&RefSet<'py>],
) -> PyResult<Kept<'py>> {
    let own = own.map(RefSet::refs);
    let mut first_dropped = None;
    let mut out: Option<Bound<'py, PyList>> = None;
    for (i, meta) in metas.iter().enumerate() {
        let dropped = match own.and_then(|refs| refs.get(i)) {
            Some(r) => in_any(drop, r)?,
            None => in_any(drop, &meta_ref(&meta)?)?,
        };
        if dropped {
            first_dropped.get_or_insert(i);
        } else if let Some(first) = first_dropped {
            out.get_or_insert_with(|| metas.get_slice(0, first)).append(meta)?;
        }
    }
    Ok(match (first_dropped, out) {
        (None, _) if metas.is_empty() => Kept::Empty,
        (None, _) => Kept::All,
        (Some(_), Some(out)) => Kept::Some(out),
        (Some(0), None) => Kept::Empty,
        (Some(first), None) => Kept::Some(metas.get_slice(0, first)),
    })
}

#[cold]
#[inline(never)]
fn bad_presence(key: &Bound<'_, PyAny>, presence: &Bound<'_, PyAny>) -> PyErr {
    let key = key.repr().map_or_else(|_| "?".to_owned(), |r| r.to_string());
    let kind = presence.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
    presence_error(&key, &kind)
}

/// The `metas` list of a presence, or a TypeError naming the key.
fn metas_of<'py>(key: &Bound<'py, PyAny>, presence: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let Ok(dict) = presence.cast::<PyDict>() else {
        return Err(bad_presence(key, presence));
    };
    match dict.get_item(intern!(presence.py(), "metas"))? {
        Some(metas) => metas.cast_into::<PyList>().map_err(|_| bad_presence(key, presence)),
        None => Err(bad_presence(key, presence)),
    }
}

fn extend<'py>(list: &Bound<'py, PyList>, other: &Bound<'py, PyList>) -> PyResult<()> {
    for item in other.iter() {
        list.append(item)?;
    }
    Ok(())
}

/// A shallow copy of a presence with another metas list.
fn with_metas<'py>(presence: &Bound<'py, PyAny>, metas: &Bound<'py, PyList>) -> PyResult<Bound<'py, PyAny>> {
    let copy = presence.cast::<PyDict>()?.copy()?;
    copy.set_item(intern!(presence.py(), "metas"), metas)?;
    Ok(copy.into_any())
}

/// Calls `f` on each item of a dict. Unlike pyo3's dict iterator, which panics (an abort in a
/// `panic = "abort"` build) when the dict changes size under it, a change made by Python code
/// run meanwhile (a key's `__eq__`, a ref's `__eq__`) is reported as a RuntimeError.
fn for_each_item<'py>(
    dict: &Bound<'py, PyDict>,
    mut f: impl FnMut(Bound<'py, PyAny>, Bound<'py, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    let py = dict.py();
    let len = dict.len();
    let mut pos: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    loop {
        // SAFETY: `dict` is a live dict; PyDict_Next reads its current entry table (bounds
        // checked against that table) and returns borrowed references, which become owned
        // references here, before any Python code can run and change the dict.
        let (k, v) = unsafe {
            if ffi::PyDict_Next(dict.as_ptr(), &raw mut pos, &raw mut key, &raw mut value) == 0 {
                break;
            }
            (Bound::from_borrowed_ptr(py, key), Bound::from_borrowed_ptr(py, value))
        };
        f(k, v)?;
        if dict.len() != len {
            return Err(dict_changed_error());
        }
    }
    Ok(())
}

/// The `joins` or `leaves` dict of a diff; missing or None is empty.
fn diff_part<'py>(
    diff: &Bound<'py, PyDict>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    match diff.get_item(name)? {
        None => Ok(None),
        Some(part) if part.is_none() => Ok(None),
        Some(part) => part
            .cast_into::<PyDict>()
            .map(Some)
            .map_err(|err| diff_part_error(&name.to_string(), &err.into_inner().get_type().to_string())),
    }
}

/// Records for the callbacks: a flat list of `(key, presence, presence)` triples.
struct Records<'py>(Option<Bound<'py, PyList>>);

impl<'py> Records<'py> {
    fn new(py: Python<'py>, wanted: bool) -> Self {
        Self(wanted.then(|| PyList::empty(py)))
    }

    fn push(&self, key: Bound<'py, PyAny>, a: Bound<'py, PyAny>, b: Bound<'py, PyAny>) -> PyResult<()> {
        if let Some(list) = &self.0 {
            list.append(key)?;
            list.append(a)?;
            list.append(b)?;
        }
        Ok(())
    }

    fn wanted(&self) -> bool {
        self.0.is_some()
    }

    fn into_list(self, py: Python<'py>) -> Bound<'py, PyList> {
        self.0.unwrap_or_else(|| PyList::empty(py))
    }
}

/// Applies one join to `state`; records `key, current or None, joined`.
fn apply_join<'py>(
    state: &Bound<'py, PyDict>,
    key: Bound<'py, PyAny>,
    joined: Bound<'py, PyAny>,
    records: &Records<'py>,
) -> PyResult<()> {
    let py = state.py();
    let joined_metas = metas_of(&key, &joined)?;
    let current = state.get_item(&key)?;
    let stored = match &current {
        None => joined.clone(),
        Some(current) => {
            let current_metas = metas_of(&key, current)?;
            match keep_metas(&current_metas, None, &[&RefSet::of(&joined_metas)?])? {
                Kept::Empty => joined.clone(),
                Kept::All => with_metas(&joined, current_metas.add(&joined_metas)?.cast::<PyList>()?)?,
                Kept::Some(kept) => {
                    extend(&kept, &joined_metas)?;
                    with_metas(&joined, &kept)?
                }
            }
        }
    };
    state.set_item(&key, stored)?;
    records.push(key, current.unwrap_or_else(|| py.None().into_bound(py)), joined)
}

/// Applies one leave to `state`; records `key, current after removal, left`.
fn apply_leave<'py>(
    state: &Bound<'py, PyDict>,
    key: Bound<'py, PyAny>,
    left: Bound<'py, PyAny>,
    records: &Records<'py>,
) -> PyResult<()> {
    let left_metas = metas_of(&key, &left)?;
    let Some(current) = state.get_item(&key)? else {
        return Ok(());
    };
    let current_metas = metas_of(&key, &current)?;
    let after = match keep_metas(&current_metas, None, &[&RefSet::of(&left_metas)?])? {
        Kept::All => current,
        Kept::Empty => {
            state.del_item(&key)?;
            if !records.wanted() {
                return Ok(());
            }
            with_metas(&current, &PyList::empty(state.py()))?
        }
        Kept::Some(kept) => {
            let after = with_metas(&current, &kept)?;
            state.set_item(&key, &after)?;
            after
        }
    };
    records.push(key, after, left)
}

/// A join and a leave of the same key in one diff (how an update arrives), applied at once:
/// the result is what `apply_join` then `apply_leave` give, without the presence in between.
/// Records the join; the leave is recorded in its turn by `record_update_leave`.
fn apply_update<'py>(
    state: &Bound<'py, PyDict>,
    key: Bound<'py, PyAny>,
    joined: Bound<'py, PyAny>,
    left: &Bound<'py, PyAny>,
    records: &Records<'py>,
) -> PyResult<()> {
    let py = state.py();
    let joined_metas = metas_of(&key, &joined)?;
    let left_refs = RefSet::of(&metas_of(&key, left)?)?;
    let joined_refs = RefSet::of(&joined_metas)?;
    let current = state.get_item(&key)?;
    // what stays of the held metas (a list of our own, so it may be extended)
    let held = match &current {
        None => None,
        Some(current) => {
            let current_metas = metas_of(&key, current)?;
            match keep_metas(&current_metas, None, &[&joined_refs, &left_refs])? {
                Kept::All => Some(current_metas.get_slice(0, current_metas.len())),
                Kept::Empty => None,
                Kept::Some(kept) => Some(kept),
            }
        }
    };
    let new = keep_metas(&joined_metas, Some(&joined_refs), &[&left_refs])?;
    let stored = match (held, new) {
        (None, Kept::All) => Some(joined.clone()),
        (None, Kept::Empty) => None,
        (None, Kept::Some(metas)) => Some(with_metas(&joined, &metas)?),
        (Some(metas), new) => {
            match new {
                Kept::All => extend(&metas, &joined_metas)?,
                Kept::Some(new) => extend(&metas, &new)?,
                Kept::Empty => {}
            }
            Some(with_metas(&joined, &metas)?)
        }
    };
    match stored {
        Some(stored) => state.set_item(&key, stored)?,
        None => {
            if current.is_some() {
                state.del_item(&key)?;
            }
        }
    }
    records.push(key, current.unwrap_or_else(|| py.None().into_bound(py)), joined)
}

/// Records the leave half of an update applied by `apply_update`.
fn record_update_leave<'py>(
    state: &Bound<'py, PyDict>,
    key: Bound<'py, PyAny>,
    joined: &Bound<'py, PyAny>,
    left: Bound<'py, PyAny>,
    records: &Records<'py>,
) -> PyResult<()> {
    if !records.wanted() {
        return Ok(());
    }
    let after = match state.get_item(&key)? {
        Some(after) => after,
        None => with_metas(joined, &PyList::empty(state.py()))?,
    };
    records.push(key, after, left)
}

type Synced<'py> = (Bound<'py, PyDict>, Bound<'py, PyList>, Bound<'py, PyList>);

/// `Presence.syncDiff` without callbacks: returns `(new_state, joins, leaves)`, where `joins`
/// is a flat list of `key, current or None, new_presence` triples and `leaves` one of
/// `key, current after removal, left_presence` triples, each in callback order (empty when not
/// wanted).
#[pyfunction]
#[pyo3(signature = (state, diff, want_joins=true, want_leaves=true))]
pub fn presence_sync_diff<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyDict>,
    diff: &Bound<'py, PyDict>,
    want_joins: bool,
    want_leaves: bool,
) -> PyResult<Synced<'py>> {
    let result = state.copy()?;
    let joins = Records::new(py, want_joins);
    let leaves = Records::new(py, want_leaves);
    let joins_part = diff_part(diff, intern!(py, "joins"))?.filter(|part| !part.is_empty());
    let leaves_part = diff_part(diff, intern!(py, "leaves"))?.filter(|part| !part.is_empty());
    if let Some(part) = &joins_part {
        for_each_item(part, |key, joined| {
            if let Some(left) = leaves_part.as_ref().map(|p| p.get_item(&key)).transpose()?.flatten() {
                return apply_update(&result, key, joined, &left, &joins);
            }
            apply_join(&result, key, joined, &joins)
        })?;
    }
    if let Some(part) = &leaves_part {
        for_each_item(part, |key, left| {
            if let Some(joined) = joins_part.as_ref().map(|p| p.get_item(&key)).transpose()?.flatten() {
                return record_update_leave(&result, key, &joined, left, &leaves);
            }
            apply_leave(&result, key, left, &leaves)
        })?;
    }
    Ok((result, joins.into_list(py), leaves.into_list(py)))
}

/// `Presence.syncState` without callbacks: the joins and leaves that turn `state` into
/// `new_state` (by `phx_ref`), applied as one diff. Returns what `presence_sync_diff` returns.
///
/// The JS client builds that diff and applies it, joins then leaves; as each join and leave
/// touches only its own key, they are applied here as they are found, and only the records
/// keep the JS order: every join (in `new_state` order), then the leaves of keys gone (in
/// `state` order), then the leaves of keys changed (in `new_state` order).
#[pyfunction]
#[pyo3(signature = (state, new_state, want_joins=true, want_leaves=true))]
pub fn presence_sync_state<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyDict>,
    new_state: &Bound<'py, PyDict>,
    want_joins: bool,
    want_leaves: bool,
) -> PyResult<Synced<'py>> {
    let result = state.copy()?;
    let joins = Records::new(py, want_joins);
    let gone = Records::new(py, want_leaves);
    let changed = Records::new(py, want_leaves);
    for_each_item(state, |key, current| {
        if new_state.get_item(&key)?.is_some() {
            return Ok(());
        }
        // a leave of all its metas
        if metas_of(&key, &current)?.is_empty() {
            result.del_item(&key)?;
            return gone.push(key, current.clone(), current);
        }
        result.del_item(&key)?;
        if gone.wanted() {
            let after = with_metas(&current, &PyList::empty(py))?;
            gone.push(key, after, current)?;
        }
        Ok(())
    })?;
    for_each_item(new_state, |key, presence| {
        let new_metas = metas_of(&key, &presence)?;
        let Some(current) = state.get_item(&key)? else {
            result.set_item(&key, &presence)?;
            return joins.push(key, py.None().into_bound(py), presence);
        };
        let current_metas = metas_of(&key, &current)?;
        let new_refs = RefSet::of(&new_metas)?;
        let current_refs = RefSet::of(&current_metas)?;
        if new_refs.same_as(&current_refs)? {
            return Ok(());
        }
        let joined = match keep_metas(&new_metas, Some(&new_refs), &[&current_refs])? {
            Kept::Empty => None,
            Kept::All => Some(presence),
            Kept::Some(metas) => Some(with_metas(&presence, &metas)?),
        };
        let left = match keep_metas(&current_metas, Some(&current_refs), &[&new_refs])? {
            Kept::Empty => None,
            Kept::All => Some(current),
            Kept::Some(metas) => Some(with_metas(&current, &metas)?),
        };
        if let Some(joined) = joined {
            apply_join(&result, key.clone(), joined, &joins)?;
        }
        if let Some(left) = left {
            apply_leave(&result, key, left, &changed)?;
        }
        Ok(())
    })?;
    let leaves = gone.into_list(py);
    if want_leaves {
        leaves.call_method1(intern!(py, "extend"), (changed.into_list(py),))?;
    }
    Ok((result, joins.into_list(py), leaves))
}

/// `Presence.list`: the presences in key order, or `chooser(key, presence)` for each.
#[pyfunction]
#[pyo3(signature = (presences, chooser=None))]
pub fn presence_list<'py>(
    presences: &Bound<'py, PyDict>,
    chooser: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let Some(chooser) = chooser else {
        return Ok(presences.values());
    };
    let out = PyList::empty(presences.py());
    for_each_item(presences, |key, presence| out.append(chooser.call1((key, presence))?))?;
    Ok(out)
}
