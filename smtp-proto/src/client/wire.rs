//! Writing the client's command lines.
//!
//! Provisional: the codec's `Command::write` replaces these once it lands on main.

use bytes::{BufMut, BytesMut};
use core::fmt::Write;

use crate::address::{AddressLiteral, ForwardPath, Host, Mailbox, ReversePath};
use crate::command::{BodyType, DsnReturn, MailParams, Notify, RcptParams};

pub(crate) fn host(out: &mut BytesMut, h: &Host) {
    match h {
        Host::Domain(d) => out.put_slice(d.as_bytes()),
        Host::Literal(AddressLiteral::Ipv4(a)) => {
            let _ = write!(out, "[{a}]");
        }
        Host::Literal(AddressLiteral::Ipv6(a)) => {
            let _ = write!(out, "[IPv6:{a}]");
        }
        Host::Literal(AddressLiteral::General { tag, content }) => {
            out.put_u8(b'[');
            out.put_slice(tag);
            out.put_u8(b':');
            out.put_slice(content);
            out.put_u8(b']');
        }
    }
}

fn mailbox(out: &mut BytesMut, m: &Mailbox) {
    out.put_slice(m.local_part().as_bytes());
    out.put_u8(b'@');
    host(out, m.host());
}

/// RFC 3461 4 xtext.
fn xtext(out: &mut BytesMut, s: &[u8]) {
    for &b in s {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.put_u8(b);
        } else {
            let _ = write!(out, "+{b:02X}");
        }
    }
}

pub(crate) fn hello(out: &mut BytesMut, verb: &[u8], name: &Host) {
    out.put_slice(verb);
    out.put_u8(b' ');
    host(out, name);
    out.put_slice(b"\r\n");
}

pub(crate) fn mail(out: &mut BytesMut, from: &ReversePath, p: &MailParams) {
    out.put_slice(b"MAIL FROM:<");
    if let ReversePath::Mailbox(m) = from {
        mailbox(out, m);
    }
    out.put_u8(b'>');
    if let Some(n) = p.size {
        let _ = write!(out, " SIZE={n}");
    }
    if let Some(b) = p.body {
        out.put_slice(match b {
            BodyType::SevenBit => b" BODY=7BIT",
            BodyType::EightBitMime => b" BODY=8BITMIME",
            BodyType::BinaryMime => b" BODY=BINARYMIME",
        });
    }
    if p.smtputf8 {
        out.put_slice(b" SMTPUTF8");
    }
    if let Some(r) = p.ret {
        out.put_slice(match r {
            DsnReturn::Full => b" RET=FULL",
            DsnReturn::Headers => b" RET=HDRS",
        });
    }
    if let Some(e) = &p.envid {
        out.put_slice(b" ENVID=");
        xtext(out, e);
    }
    if let Some(a) = &p.auth {
        out.put_slice(b" AUTH=");
        if &a[..] == b"<>" {
            out.put_slice(b"<>");
        } else {
            xtext(out, a);
        }
    }
    if p.requiretls {
        out.put_slice(b" REQUIRETLS");
    }
    if let Some(n) = p.mt_priority {
        let _ = write!(out, " MT-PRIORITY={n}");
    }
    for u in &p.unknown {
        out.put_u8(b' ');
        out.put_slice(&u.keyword);
        if let Some(v) = &u.value {
            out.put_u8(b'=');
            out.put_slice(v);
        }
    }
    out.put_slice(b"\r\n");
}

pub(crate) fn rcpt(out: &mut BytesMut, to: &ForwardPath, p: &RcptParams) {
    out.put_slice(b"RCPT TO:<");
    match to {
        ForwardPath::Postmaster => out.put_slice(b"Postmaster"),
        ForwardPath::Mailbox(m) => mailbox(out, m),
    }
    out.put_u8(b'>');
    match p.notify {
        Some(Notify::Never) => out.put_slice(b" NOTIFY=NEVER"),
        Some(Notify::On {
            success,
            failure,
            delay,
        }) => {
            out.put_slice(b" NOTIFY=");
            let mut first = true;
            for (on, name) in [
                (success, &b"SUCCESS"[..]),
                (failure, b"FAILURE"),
                (delay, b"DELAY"),
            ] {
                if on {
                    if !first {
                        out.put_u8(b',');
                    }
                    out.put_slice(name);
                    first = false;
                }
            }
        }
        None => {}
    }
    if let Some(o) = &p.orcpt {
        out.put_slice(b" ORCPT=");
        out.put_slice(&o.addr_type);
        out.put_u8(b';');
        xtext(out, &o.address);
    }
    for u in &p.unknown {
        out.put_u8(b' ');
        out.put_slice(&u.keyword);
        if let Some(v) = &u.value {
            out.put_u8(b'=');
            out.put_slice(v);
        }
    }
    out.put_slice(b"\r\n");
}

pub(crate) fn bdat(out: &mut BytesMut, size: usize, last: bool) {
    let _ = write!(out, "BDAT {size}");
    if last {
        out.put_slice(b" LAST");
    }
    out.put_slice(b"\r\n");
}
