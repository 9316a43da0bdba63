"""Send one message with Python's smtplib and print the server's reply to the data.

usage: smtplib_send.py HOST PORT MODE MESSAGE_FILE CAFILE [USER PASSWORD]
MODE is a '+'-joined set of: plain, starttls, tls (implicit), auth-plain, auth-login, utf8.
"""
import smtplib
import ssl
import sys

host, port, mode, path, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
user, password = (sys.argv[6], sys.argv[7]) if len(sys.argv) > 7 else (None, None)
modes = set(mode.split("+"))
message = open(path, "rb").read()
context = ssl.create_default_context(cafile=cafile)

if "tls" in modes:
    s = smtplib.SMTP_SSL(host, port, local_hostname="client.example", timeout=20, context=context)
else:
    s = smtplib.SMTP(host, port, local_hostname="client.example", timeout=20)
s.ehlo()
if "starttls" in modes:
    s.starttls(context=context)
    s.ehlo()
if "auth-plain" in modes or "auth-login" in modes:
    s.user, s.password = user, password
    if "auth-plain" in modes:
        code, resp = s.auth("PLAIN", s.auth_plain)
    else:
        code, resp = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    print("auth", code, resp.decode())
if "utf8" in modes:
    # RFC 6531: a UTF-8 envelope with the SMTPUTF8 parameter.
    code, resp = s.mail("sénder@client.example", ["SMTPUTF8"])
    assert code == 250, (code, resp)
    code, resp = s.rcpt("rcpt@tëst.example")
else:
    code, resp = s.mail("sender@client.example")
    assert code == 250, (code, resp)
    code, resp = s.rcpt("rcpt@test.example")
assert code == 250, (code, resp)
code, resp = s.data(message)
print("data", code, resp.decode())
s.quit()
