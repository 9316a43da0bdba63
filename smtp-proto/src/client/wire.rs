//! Writing the client's command lines with the codec's writers.

use bytes::{BufMut, BytesMut};

use crate::address::{ForwardPath, Host, ReversePath};
use crate::command::{MailParams, RcptParams};

pub(crate) fn hello(out: &mut BytesMut, verb: &[u8], name: &Host) {
    out.put_slice(verb);
    out.put_u8(b' ');
    name.write(out);
    out.put_slice(b"\r\n");
}

pub(crate) fn mail(out: &mut BytesMut, from: &ReversePath, p: &MailParams) {
    out.put_slice(b"MAIL FROM:");
    from.write(out);
    p.write(out);
    out.put_slice(b"\r\n");
}

pub(crate) fn rcpt(out: &mut BytesMut, to: &ForwardPath, p: &RcptParams) {
    out.put_slice(b"RCPT TO:");
    to.write(out);
    p.write(out);
    out.put_slice(b"\r\n");
}

pub(crate) fn bdat(out: &mut BytesMut, size: usize, last: bool) {
    use core::fmt::Write as _;
    // Writing into a BytesMut cannot fail.
    let _ = write!(out, "BDAT {size}");
    if last {
        out.put_slice(b" LAST");
    }
    out.put_slice(b"\r\n");
}
