"""Sends one raw message over SMTP with Python's standard smtplib, as a member's mail server would.

Usage: send_mail.py HOST PORT MAIL_FROM RCPT FILE
Prints the server's final reply code, or the refusal ("refused CODE MESSAGE"), and exits 0 either way;
a connection failure exits 1.
"""
import smtplib
import sys


def main() -> int:
    host, port, mail_from, rcpt, path = sys.argv[1:6]
    with open(path, "rb") as f:
        raw = f.read()
    try:
        with smtplib.SMTP(host, int(port), timeout=30) as smtp:
            smtp.ehlo("mx.example.org")
            smtp.sendmail(mail_from, [rcpt], raw)
            print("accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, msg = list(e.recipients.values())[0]
        print(f"refused {code} {msg.decode(errors='replace')}")
    except smtplib.SMTPDataError as e:
        print(f"refused {e.smtp_code} {e.smtp_error.decode(errors='replace')}")
    except smtplib.SMTPSenderRefused as e:
        print(f"refused {e.smtp_code} {e.smtp_error.decode(errors='replace')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
