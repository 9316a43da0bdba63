#!/usr/bin/env python3
"""A capturing SMTP server on aiosmtpd, for the client interop tests.

Binds 127.0.0.1 on a free port, prints "READY <port>" on stdout, and writes every accepted
message into OUTDIR as NNNN.env (JSON: mail_from, rcpt_tos, mail_options, tls, auth) and
NNNN.eml (the content bytes exactly as aiosmtpd hands them over: dot-unstuffed, line endings
as received). Recipients whose local part starts with "reject" get 550, "defer" 450. Exits by itself after --lifetime seconds, or when stdin closes
(with --exit-on-stdin-eof).

Options: --auth USER:PASSWORD (offer AUTH PLAIN/LOGIN, require it for MAIL),
--tls-cert PEM --tls-key PEM (offer STARTTLS), --require-starttls, --lmtp.
"""
import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
import threading
import warnings

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Capture:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # Scripted refusals, so that tests can check per-recipient results.
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: no such user" % address
        if local.startswith("defer"):
            return "450 4.2.1 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.outdir, "%04d" % self.count)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "tls": session.ssl is not None,
            "auth": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
        }
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or b"")
        os.rename(base + ".eml.tmp", base + ".eml")
        with open(base + ".env.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".env.tmp", base + ".env")
        if server.__class__ is LMTP:
            return "\r\n".join("250 2.0.0 <%s> delivered as %04d" % (r, self.count) for r in envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued as %04d" % self.count


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--auth")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--lmtp", action="store_true")
    p.add_argument("--lifetime", type=float, default=60.0)
    p.add_argument("--exit-on-stdin-eof", action="store_true")
    a = p.parse_args()

    # Session exceptions (e.g. a client refusing our certificate, as some tests do on purpose)
    # are expected here; the tests check outcomes, not this log.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    handler = Capture(a.outdir)
    kwargs = {"hostname": "aiosmtpd.test", "enable_SMTPUTF8": True}
    warnings.simplefilter("ignore")
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = a.require_starttls
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()
            )
            # handled=False: aiosmtpd itself answers 535 on failure.
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # Plain-text AUTH only when no TLS is offered (the tests' loopback-only AUTH case).
        kwargs["auth_require_tls"] = bool(a.tls_cert)

    cls = LMTP if a.lmtp else SMTP
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: cls(handler, **kwargs), host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)

    stdin_closed = loop.create_future()
    if a.exit_on_stdin_eof:
        # The parent test holds our stdin: when it ends (even by a crash), so do we.
        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            loop.call_soon_threadsafe(lambda: stdin_closed.done() or stdin_closed.set_result(None))

        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        await asyncio.wait_for(stdin_closed, timeout=a.lifetime)
    except asyncio.TimeoutError:
        pass
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
