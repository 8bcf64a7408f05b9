//! Resolving what a user typed to one object: full ID, then name, then unique ID prefix
//! (moby's `getNode`/`getService` rules and texts).

use shoal_store::ReadTx;
use shoal_types::{Error, StoreObject};

/// Finds the one object `input` names. `name_of` gives an object's user-visible name.
pub fn resolve<T: StoreObject>(
    view: &ReadTx<'_>,
    input: &str,
    name_of: impl Fn(&T) -> &str,
) -> Result<T, Error> {
    let noun = T::KIND.noun();
    if input.is_empty() {
        return Err(Error::not_found(format!("{noun} {input} not found")));
    }
    if let Some(o) = view.get::<T>(input) {
        return Ok(o);
    }
    let by_name: Vec<T> = view
        .list::<T>()
        .into_iter()
        .filter(|o| name_of(o) == input)
        .collect();
    match by_name.len() {
        1 => return Ok(by_name.into_iter().next().expect("one")),
        n if n > 1 => {
            return Err(Error::invalid(format!(
                "{noun} {input} is ambiguous ({n} matches found)"
            )));
        }
        _ => {}
    }
    let by_prefix = view.list_prefix::<T>(input);
    match by_prefix.len() {
        0 => Err(Error::not_found(format!("{noun} {input} not found"))),
        1 => Ok(by_prefix.into_iter().next().expect("one")),
        n => Err(Error::invalid(format!(
            "{noun} {input} is ambiguous ({n} matches found)"
        ))),
    }
}
