//! Command writing: the canonical wire form (upper-case verbs, one SP, CRLF).

use bytes::{BufMut, BytesMut};

use super::params::write_u64;
use super::{ChunkKind, Command, InitialResponse, XAttribute};

fn write_attributes(out: &mut BytesMut, verb: &[u8], attrs: &[XAttribute]) {
    out.extend_from_slice(verb);
    for a in attrs {
        out.put_u8(b' ');
        out.extend_from_slice(&a.name);
        out.put_u8(b'=');
        out.extend_from_slice(&a.value);
    }
}

fn write_last(out: &mut BytesMut, kind: ChunkKind) {
    if kind == ChunkKind::Last {
        out.extend_from_slice(b" LAST");
    }
}

impl Command {
    /// Appends the command line with its CRLF. Verbs are written in upper case.
    ///
    /// ```
    /// use bytes::{Bytes, BytesMut};
    /// use smtp_proto::{Command, ParseOptions};
    /// let cmd = Command::parse_line(&Bytes::from_static(b"rcpt to:<Joe@Example.ORG> notify=never"), &ParseOptions::default()).unwrap();
    /// let mut out = BytesMut::new();
    /// cmd.write(&mut out);
    /// assert_eq!(&out[..], b"RCPT TO:<Joe@Example.ORG> NOTIFY=NEVER\r\n");
    /// ```
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            Command::Helo(h) => {
                out.extend_from_slice(b"HELO ");
                h.write(out);
            }
            Command::Ehlo(h) => {
                out.extend_from_slice(b"EHLO ");
                h.write(out);
            }
            Command::Lhlo(h) => {
                out.extend_from_slice(b"LHLO ");
                h.write(out);
            }
            Command::Mail { from, params } => {
                out.extend_from_slice(b"MAIL FROM:");
                from.write(out);
                params.write(out);
            }
            Command::Rcpt { to, params } => {
                out.extend_from_slice(b"RCPT TO:");
                to.write(out);
                params.write(out);
            }
            Command::Data => out.extend_from_slice(b"DATA"),
            Command::Bdat { size, kind } => {
                out.extend_from_slice(b"BDAT ");
                write_u64(out, *size);
                write_last(out, *kind);
            }
            Command::Rset => out.extend_from_slice(b"RSET"),
            Command::Noop(arg) => {
                out.extend_from_slice(b"NOOP");
                if let Some(a) = arg {
                    out.put_u8(b' ');
                    out.extend_from_slice(a);
                }
            }
            Command::Quit => out.extend_from_slice(b"QUIT"),
            Command::Vrfy(a) => {
                out.extend_from_slice(b"VRFY ");
                out.extend_from_slice(a);
            }
            Command::Expn(a) => {
                out.extend_from_slice(b"EXPN ");
                out.extend_from_slice(a);
            }
            Command::Help(arg) => {
                out.extend_from_slice(b"HELP");
                if let Some(a) = arg {
                    out.put_u8(b' ');
                    out.extend_from_slice(a);
                }
            }
            Command::StartTls => out.extend_from_slice(b"STARTTLS"),
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                out.extend_from_slice(b"AUTH ");
                out.extend_from_slice(mechanism.name());
                match initial_response {
                    None => {}
                    Some(InitialResponse::Empty) => out.extend_from_slice(b" ="),
                    Some(InitialResponse::Base64(r)) => {
                        out.put_u8(b' ');
                        out.extend_from_slice(r.expose());
                    }
                }
            }
            Command::Etrn(node) => {
                out.extend_from_slice(b"ETRN ");
                out.extend_from_slice(node);
            }
            Command::Atrn(domains) => {
                out.extend_from_slice(b"ATRN");
                for (i, d) in domains.iter().enumerate() {
                    out.put_u8(if i == 0 { b' ' } else { b',' });
                    d.write(out);
                }
            }
            Command::Burl { url, kind } => {
                out.extend_from_slice(b"BURL ");
                out.extend_from_slice(url);
                write_last(out, *kind);
            }
            Command::Xclient(attrs) => write_attributes(out, b"XCLIENT", attrs),
            Command::Xforward(attrs) => write_attributes(out, b"XFORWARD", attrs),
            Command::Unknown { verb, args } => {
                out.extend_from_slice(verb);
                if let Some(a) = args {
                    out.put_u8(b' ');
                    out.extend_from_slice(a);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}
