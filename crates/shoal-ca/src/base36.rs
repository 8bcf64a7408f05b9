//! Base 36 text for big-endian unsigned integers, as swarmkit writes join tokens
//! (`big.Int.Text(36)` zero-padded with `%0*s`). Hand-rolled so the crate needs no bignum
//! dependency: the inputs are at most 32 bytes, so schoolbook division is plenty.

/// Go's `big.Int.Text(36)` alphabet: lowercase digits then letters.
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Writes `bytes` (a big-endian unsigned integer) in base 36, left-padded with '0' to
/// at least `width` characters. Never truncates, like Go's `%0*s`.
pub(crate) fn encode_padded(bytes: &[u8], width: usize) -> String {
    let mut num = bytes.to_vec();
    // Least significant digit first; reversed at the end.
    let mut digits: Vec<u8> = Vec::with_capacity(width);
    while num.iter().any(|&b| b != 0) {
        digits.push(DIGITS[div_rem_36(&mut num)]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

/// Divides the big-endian number in place by 36 and returns the remainder.
fn div_rem_36(num: &mut [u8]) -> usize {
    let mut rem: u16 = 0;
    for byte in num.iter_mut() {
        // rem < 36, so acc < 36 * 256 and acc / 36 < 256: the quotient digit fits a byte.
        let acc = (rem << 8) | u16::from(*byte);
        *byte = (acc / 36) as u8;
        rem = acc % 36;
    }
    usize::from(rem)
}

/// True when every character is in the lowercase base 36 alphabet we emit.
pub(crate) fn is_base36(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Expected values computed independently with python3:
    // `int(hexdigest, 16)` converted to base 36 and `.rjust(width, '0')`.
    #[test]
    fn sha256_of_abc_matches_python() {
        let h = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            encode_padded(&h, 50),
            "4nb7oofka9ml8nasnokxxc1unhmtpr1wxsuwhpd9km3vt5as31"
        );
    }

    #[test]
    fn leading_zero_bytes_are_padded_like_python() {
        let h = hex("000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c");
        assert_eq!(
            encode_padded(&h, 50),
            "00000000ghzm3jtq4qvweuhq13pbgo3em86wri7r207qp7zk0s"
        );
        let s = hex("0000ff00000000000000000000000000");
        assert_eq!(encode_padded(&s, 25), "000aqwr2ytbjczf91x6g9zrpc");
    }

    #[test]
    fn maximum_values_fit_the_token_widths() {
        assert_eq!(
            encode_padded(&[0xff; 32], 50),
            "6dp5qcb22im238nr3wvp0ic7q99w035jmy2iw7i6n43d37jtof"
        );
        assert_eq!(encode_padded(&[0xff; 16], 25), "f5lxx1zz5pnorynqglhzmsp33");
    }

    #[test]
    fn zero_and_small_numbers() {
        assert_eq!(encode_padded(&[0; 16], 25), "0".repeat(25));
        assert_eq!(encode_padded(&[35], 0), "z");
        assert_eq!(encode_padded(&[36], 3), "010");
        assert_eq!(encode_padded(&[], 2), "00");
    }

    #[test]
    fn alphabet_check() {
        assert!(is_base36("09az"));
        assert!(!is_base36("09aZ"));
        assert!(!is_base36("a-b"));
    }
}
