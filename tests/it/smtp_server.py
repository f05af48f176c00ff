"""A real SMTP server for juru's integration tests (aiosmtpd), on 127.0.0.1.

Every accepted message goes into a Maildir, with the envelope in X-MailFrom and
X-RcptTo headers. Optionally it refuses some recipients for good (550) or for now
(451), speaks STARTTLS or implicit TLS with the given certificate, and requires
AUTH PLAIN/LOGIN. Each RCPT it answers is appended to a log file, so a test can
count attempts.

    python3 smtp_server.py --port N --maildir DIR --log FILE
        [--refuse ADDR]... [--later ADDR]...
        [--tls starttls|implicit --cert PEM --key PEM] [--auth USER:PASSWORD]
"""

import argparse
import asyncio
import ssl

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler(Mailbox):
    def __init__(self, maildir, log, refuse, later):
        super().__init__(maildir)
        self.log = log
        self.refuse = set(refuse)
        self.later = set(later)

    def note(self, line):
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            self.note(f"550 {address}")
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        if address in self.later:
            self.note(f"451 {address}")
            return f"451 4.2.1 <{address}>: Mailbox temporarily unavailable, try again later"
        self.note(f"250 {address}")
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--later", action="append", default=[])
    p.add_argument("--tls", choices=["starttls", "implicit"])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth")
    args = p.parse_args()

    handler = Handler(args.maildir, args.log, args.refuse, args.later)
    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    options = {"hostname": "juru-test-smtp"}
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)
        options.update(
            authenticator=authenticator(user, password),
            auth_required=True,
            # aiosmtpd counts only STARTTLS as TLS; implicit TLS is TLS too.
            auth_require_tls=args.tls == "starttls",
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **options),
        host="127.0.0.1",
        port=args.port,
        ssl=context if args.tls == "implicit" else None,
    )
    async with server:
        await server.serve_forever()


asyncio.run(main())
