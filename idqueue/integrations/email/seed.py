"""A consultancy's support fortnight in the loopback mailbox (the sandbox's email seed).

Three customers write to ``support@madetech.example``; the triage team (``ROSTER``) answers from
the support address or their own. The mail covers every shape the email source handles: new
requests answered and unanswered, replies that thread and one that breaks threading, a
forwarded mail from a customer's staff, HTML-only mail, a wrong charset, an attachment, quoted
history, a hostile subject, an out-of-office reply, a bounce, a newsletter and idqueue's own
reply. Deterministic: the same ``now`` gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from idqueue.integrations.email.imap_server import MailStore

SUPPORT = "support@madetech.example"
ROSTER = {
    "nick": ("Nick Wood", "nick@madetech.example"),
    "luke": ("Luke", "luke@madetech.example"),
    "chris": ("Chris", "chris@madetech.example"),
    "rory": ("Rory", "rory@madetech.example"),
}
"""Roster key → (name, email) of the triage team."""
CUSTOMERS = {
    "acme": ("Acme Rail", "acme-rail.example"),
    "globex": ("Globex Health", "globex-health.example"),
    "initech": ("Initech Councils", "initech.example"),
}
"""Customer key → (name, mail domain)."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What the seed holds, for tests and the sandbox banner."""

    requests: int
    answered: int
    never_requests: int
    messages: int


def _msg(mid: str, sender: str, subject: str, body: str, when: datetime, *, to: str = SUPPORT,
         refs: tuple[str, ...] = (), html: bool = False, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"], msg["Message-ID"] = format_datetime(when), f"<{mid}>"
    if refs:
        msg["In-Reply-To"] = f"<{refs[-1]}>"
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if html:
        msg.set_content(body, subtype="html")
    else:
        msg.set_content(body)
    return msg


def seed_mailbox(store: MailStore, now: datetime, *, inbox: str = "INBOX", sent: str = "Sent") -> SeedSummary:
    """Fill the mailbox with the fortnight (oldest first); returns what it holds."""
    start = now - timedelta(days=13)
    acme, globex, initech = (f"@{domain}" for _, domain in CUSTOMERS.values())
    nick, luke = ROSTER["nick"], ROSTER["luke"]
    mail: list[tuple[str, bytes, datetime]] = []

    def add(folder: str, msg: EmailMessage | bytes, hours: float) -> None:
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        mail.append((folder, raw, start + timedelta(hours=hours)))

    t = start
    # 1. Acme: a broken booking page, answered by Nick from his own address, customer replies.
    add(inbox, _msg("booking-1" + acme, "Priya Shah <priya" + acme + ">", "Booking page returns 500",
                    "Since this morning the seat booking page fails with a 500 for every user.\n\nPriya",
                    t + timedelta(hours=9)), 9)
    add(sent, _msg("booking-2@madetech.example", f"{nick[0]} <{nick[1]}>", "Re: Booking page returns 500",
                   "Thanks Priya, looking at it now.\n\nOn Mon, Priya wrote:\n> Since this morning the seat booking page fails",
                   t + timedelta(hours=9.5), to="priya" + acme, refs=("booking-1" + acme,)), 9.5)
    add(inbox, _msg("booking-3" + acme, "Priya Shah <priya" + acme + ">", "Re: Booking page returns 500",
                    "It works again, thank you!", t + timedelta(hours=12),
                    refs=("booking-1" + acme, "booking-2@madetech.example")), 12)
    # 2. Acme: a request forwarded by the customer's office manager (she is the requester).
    add(inbox, _msg("fwd-1" + acme, "Tom Reed <tom" + acme + ">", "Fwd: Export of last month's tickets",
                    "Could you do this for our finance team?\n\n---------- Forwarded message ---------\n"
                    "From: Finance <finance" + acme + ">\nPlease send the ticket export for March.",
                    t + timedelta(days=1, hours=10)), 34)
    # 3. Globex: HTML-only mail, unanswered.
    add(inbox, _msg("html-1" + globex, "Dr Lee <lee" + globex + ">", "Patient portal: add Welsh translation",
                    "<html><body><p>Hello,</p><p>We would like the portal in <b>Welsh</b>:</p>"
                    "<ul><li>sign-in page</li><li>appointments</li></ul></body></html>",
                    t + timedelta(days=3, hours=14), html=True), 86)
    # 4. Globex: a reply that broke threading (no References), same subject: joins request 3.
    add(inbox, _msg("html-2" + globex, "Ana Ruiz <ana" + globex + ">", "RE: Patient portal: add Welsh translation",
                    "Adding to Dr Lee's mail: the consent form too, please.", t + timedelta(days=4, hours=9)), 105)
    # 5. Initech: an attachment and a wrong charset, answered from the support address by idqueue.
    latin = _msg("csv-1" + initech, "Jo Parry <jo" + initech + ">", "Import fails for résumé.csv",
                 "The import stops at row 12.", t + timedelta(days=5, hours=11))
    latin.add_attachment(b"name,role\nJo,admin\n", maintype="text", subtype="csv", filename="résumé.csv")
    add(inbox, latin, 131)
    add(sent, _msg("idqueue.seed-action-1@madetech.example", f"Made Tech Support <{SUPPORT}>",
                   "Re: Import fails for résumé.csv", "Thanks Jo, we have picked this up.",
                   t + timedelta(days=5, hours=12), to="jo" + initech, refs=("csv-1" + initech,),
                   X_Idqueue_Action="seed-action-1"), 132)
    # The customer answers in Latin-1 bytes while declaring UTF-8 (a wrong charset).
    add(inbox, (f"From: Jo Parry <jo{initech}>\r\nTo: {SUPPORT}\r\nSubject: Re: Import fails\r\n"
                f"Date: {format_datetime(t + timedelta(days=5, hours=13))}\r\nMessage-ID: <csv-3{initech}>\r\n"
                f"In-Reply-To: <idqueue.seed-action-1@madetech.example>\r\n"
                f"References: <csv-1{initech}> <idqueue.seed-action-1@madetech.example>\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n").encode()
        + "Merci, ça marche à moitié.\r\n".encode("latin-1"), 133)
    # 6. Initech: a hostile subject and body, unanswered.
    add(inbox, _msg("odd-1" + initech, "Sam <sam" + initech + ">", "[bold red]URGENT[/] <script>x</script> \x1b[31m",
                    "Markup [link=https://evil.example]here[/link] and {{ 7*7 }} stay text.",
                    t + timedelta(days=8, hours=16)), 208)
    # 7. Acme: a new request answered by Luke, then an out-of-office reply from the customer.
    add(inbox, _msg("sso-1" + acme, "Priya Shah <priya" + acme + ">", "SSO for contractors",
                    "Can contractors sign in with their own Google accounts?", t + timedelta(days=10, hours=10)), 250)
    add(sent, _msg("sso-2@madetech.example", f"{luke[0]} <{luke[1]}>", "Re: SSO for contractors",
                   "Yes, we can add that; it is about two days of work. Shall I put it on your board?",
                   t + timedelta(days=10, hours=15), to="priya" + acme, refs=("sso-1" + acme,)), 255)
    add(inbox, _msg("sso-3" + acme, "Priya Shah <priya" + acme + ">", "Automatic reply: Re: SSO for contractors",
                    "I am out of the office until Monday.", t + timedelta(days=10, hours=15.1),
                    refs=("sso-1" + acme, "sso-2@madetech.example"), Auto_Submitted="auto-replied"), 255.1)
    # Never requests.
    add(inbox, _msg("ooo-1" + globex, "Dr Lee <lee" + globex + ">", "Out of office", "Back on the 20th.",
                    t + timedelta(days=11, hours=8), X_Autoreply="yes"), 272)
    add(inbox, _msg("bounce-1@mx.madetech.example", "MAILER-DAEMON@mx.madetech.example",
                    "Undelivered Mail Returned to Sender", "This is the mail system: delivery failed.",
                    t + timedelta(days=11, hours=9)), 273)
    add(inbox, _msg("news-1@news.example", "Cloud News <news@news.example>", "This week in cloud",
                    "Ten things to read.", t + timedelta(days=12, hours=7), List_Id="<weekly.news.example>",
                    List_Unsubscribe="<mailto:unsubscribe@news.example>"), 295)
    # 8. Globex: a new request this morning, unanswered.
    add(inbox, _msg("perf-1" + globex, "Ana Ruiz <ana" + globex + ">", "Appointments list is slow",
                    "Loading the appointments list takes 20 seconds since Friday.", now - timedelta(hours=2)), 310)
    for folder, raw, when in sorted(mail, key=lambda entry: entry[2]):
        store.deliver(folder, raw, when=when, flags=["\\Seen"] if folder == sent else [])
    return SeedSummary(requests=7, answered=3, never_requests=3, messages=len(mail))
