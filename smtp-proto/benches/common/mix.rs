//! The realistic command mix shared by `smtp-proto/benches/codec.rs` and
//! `benches-peers/benches/peers.rs`: what a plain ESMTP client sends for one message (the
//! lines are modelled on the recordings in shared/transcripts: lettre, Go net/smtp, smtplib).

/// `(name, line with CRLF)`.
pub(crate) const MIX: &[(&str, &[u8])] = &[
    ("ehlo", b"EHLO client.example.org\r\n"),
    (
        "mail_size_body",
        b"MAIL FROM:<sender.name@example.org> SIZE=123456 BODY=8BITMIME\r\n",
    ),
    (
        "rcpt_notify_orcpt",
        b"RCPT TO:<recipient@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;recipient@example.net\r\n",
    ),
    ("rcpt_plain", b"RCPT TO:<second@example.net>\r\n"),
    ("mail_lowercase", b"mail FROM:<sender@example.org> size=4242\r\n"),
    ("data", b"DATA\r\n"),
    ("rset", b"RSET\r\n"),
    ("quit", b"QUIT\r\n"),
];

/// The same line without its CRLF.
pub(crate) fn without_crlf(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r\n").unwrap_or(line)
}
