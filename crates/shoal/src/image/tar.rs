//! A minimal in-memory ustar writer: regular files and directories, enough for a build context.

#[derive(Default)]
pub struct Builder {
    out: Vec<u8>,
}

impl Builder {
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.header(path, mode, data.len() as u64, b'0');
        self.out.extend_from_slice(data);
        self.pad();
    }

    pub fn dir(&mut self, path: &str) {
        self.header(&format!("{}/", path.trim_end_matches('/')), 0o755, 0, b'5');
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }

    fn pad(&mut self) {
        let rem = self.out.len() % 512;
        if rem != 0 {
            self.out.resize(self.out.len() + 512 - rem, 0);
        }
    }

    fn header(&mut self, path: &str, mode: u32, size: u64, kind: u8) {
        let mut h = [0u8; 512];
        let name = path.as_bytes();
        // Names over 100 bytes go into the ustar prefix field (split at a '/').
        if name.len() <= 100 {
            h[..name.len()].copy_from_slice(name);
        } else {
            let split = path[..path.len().min(156)]
                .rfind('/')
                .filter(|i| path.len() - i - 1 <= 100)
                .expect("path too long for ustar");
            h[..path.len() - split - 1].copy_from_slice(&name[split + 1..]);
            h[345..345 + split].copy_from_slice(&name[..split]);
        }
        octal(&mut h[100..108], mode as u64);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], size);
        octal(&mut h[136..148], 0);
        h[148..156].copy_from_slice(b"        ");
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        octal(&mut h[148..155], sum as u64);
        self.out.extend_from_slice(&h);
    }
}

/// Writes `v` as zero-padded octal filling `field` but its last byte (a NUL).
fn octal(field: &mut [u8], v: u64) {
    let n = field.len() - 1;
    let s = format!("{v:0n$o}");
    field[..n].copy_from_slice(s.as_bytes());
    field[n] = 0;
}
