"""The kernel's text rule (bridgedesk/text.py): which control characters a field may hold,
and header values (email subjects, file names) that never carry CR/LF."""

import base64
from datetime import UTC, datetime

import pytest

from bridgedesk.outbox import ClaimedMessage, build_email
from bridgedesk.settings import get_settings
from bridgedesk.text import checked, content_disposition, header_value


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x0b", "\r", "\x1b", "\x7f", "\n", "\t"])
def test_a_single_line_refuses_every_control_character(character):
    with pytest.raises(ValueError, match="control characters"):
        checked(f"a{character}b")


def test_a_multi_line_field_keeps_tab_and_lf_and_turns_crlf_into_lf():
    assert checked("one\r\ntwo\tthree\n", multiline=True) == "one\ntwo\tthree\n"
    for character in ("\r", "\x0b", "\x00", "\x7f"):
        with pytest.raises(ValueError):
            checked(f"a{character}b", multiline=True)


def test_header_values_never_carry_a_line_break():
    assert header_value("Booked: Q3\r\nBcc: victim@example.com") == (
        "Booked: Q3 Bcc: victim@example.com"
    )
    assert content_disposition('inv"\r\n.csv') == 'inline; filename="inv\' .csv"'


def test_an_email_whose_subject_held_a_line_break_is_built_on_one_line():
    """A row written before the edge rule (or by a job) cannot break the headers."""
    message = ClaimedMessage(
        id=1,
        channel="email",
        topic="booked",
        recipients=["a@example.com"],
        subject="Booked: Q3\r\nBcc: victim@example.com",
        body="body",
        attachments=[
            {
                "filename": "a\r\nb.ics",
                "content_type": "text/calendar",
                "content_b64": base64.b64encode(b"x").decode(),
            }
        ],
        lease_until=datetime(2026, 1, 1, tzinfo=UTC),
    )
    email = build_email(message, get_settings())
    assert email["Subject"] == "Booked: Q3 Bcc: victim@example.com"
    assert email["Bcc"] is None
    assert "\r" not in email.as_string().split("\n\n", 1)[0].replace("\r\n", "\n")
    [attachment] = list(email.iter_attachments())
    assert attachment.get_filename() == "a b.ics"
