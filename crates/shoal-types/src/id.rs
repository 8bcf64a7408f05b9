//! Object IDs as swarmkit makes them: 128 random bits written in base 36, zero-padded to 25
//! characters (`identity.NewID`), so IDs look and sort like Docker's.

use rand::TryRng;

/// Length of every object ID.
pub const ID_LEN: usize = 25;

/// A fresh random object ID (25 lowercase base-36 characters).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .expect("the OS random number generator failed");
    let text = to_base36(u128::from_be_bytes(bytes));
    format!("{text:0>ID_LEN$}")
}

fn to_base36(mut n: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(ID_LEN);
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("base36 digits are ASCII")
}

/// True when `s` has the shape of an object ID.
pub fn is_id(s: &str) -> bool {
    s.len() == ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_25_base36_chars_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert!(is_id(&a), "{a}");
        assert!(is_id(&b), "{b}");
        assert_ne!(a, b);
    }

    #[test]
    fn base36_of_max_fits_in_25_chars() {
        assert_eq!(to_base36(u128::MAX).len(), 25);
        assert_eq!(to_base36(0), "0");
        assert_eq!(to_base36(35), "z");
        assert_eq!(to_base36(36), "10");
    }
}
