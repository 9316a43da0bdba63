//! Reply writing.

use bytes::{BufMut, BytesMut};

use super::Reply;

impl Reply {
    /// Appends the reply in wire form: `code-text` for every line but the last, `code text`
    /// for the last, each with the enhanced code (if any) and CRLF.
    pub fn write(&self, out: &mut BytesMut) {
        self.write_inner(out, true);
    }

    /// Like [`Reply::write`] but without the enhanced status code, for sessions in which
    /// ENHANCEDSTATUSCODES is not in effect.
    pub fn write_plain(&self, out: &mut BytesMut) {
        self.write_inner(out, false);
    }

    /// The number of bytes [`Reply::write`] appends.
    pub fn wire_len(&self) -> usize {
        let enh = self.enhanced().map_or(0, |e| {
            let mut b = [0u8; 9];
            e.write_to(&mut b)
        });
        let n = self.line_count();
        // Mirrors `write_inner`: a last line with neither enhanced code nor text is the bare
        // code (`354\r\n`, no separator), and the space between enhanced code and text only
        // appears when both are there (found by the `reply` fuzz target).
        self.lines()
            .enumerate()
            .map(|(i, l)| {
                let last = i + 1 == n;
                let sep = usize::from(!(last && enh == 0 && l.is_empty()));
                let gap = usize::from(enh != 0 && !l.is_empty());
                3 + sep + enh + gap + l.len() + 2
            })
            .sum()
    }

    fn write_inner(&self, out: &mut BytesMut, with_enhanced: bool) {
        let digits = self.code().digits();
        let mut enh_buf = [0u8; 9];
        let enh_len = match self.enhanced() {
            Some(e) if with_enhanced => e.write_to(&mut enh_buf),
            _ => 0,
        };
        let enh = &enh_buf[..enh_len];
        let n = self.line_count();
        for (i, line) in self.lines().enumerate() {
            out.reserve(4 + enh.len() + 1 + line.len() + 2);
            out.put_slice(&digits);
            let last = i + 1 == n;
            if enh.is_empty() && line.is_empty() {
                if !last {
                    out.put_u8(b'-');
                }
            } else {
                out.put_u8(if last { b' ' } else { b'-' });
                out.put_slice(enh);
                if !enh.is_empty() && !line.is_empty() {
                    out.put_u8(b' ');
                }
                out.put_slice(line);
            }
            out.put_slice(b"\r\n");
        }
    }
}
