"""Draft check: tone and personal data in public replies."""

from __future__ import annotations

import dataclasses

import pytest

from store.rules.drafts import DraftIssue, check_draft, luhn_ok, personal_data


def kinds(text: str, public: bool = True) -> list[str]:
    return [i.kind for i in check_draft(text, public)]


@pytest.mark.parametrize("text", [
    "Hi Sam, we're so sorry your parcel went missing. Could you DM us so we can fix this today?",
    ("Sorry for the delay and the frustration, we hate that you were charged twice. "
     "The duplicate charge has been refunded."),
    "We can actually refund that for you today!",
    "Thanks so much, glad you love the boots!",
    "Unfortunately that item is sold out, sorry. It's back in stock on Friday.",
    "That sounds awful, and we're sorry. A replacement is on its way.",
])
def test_polite_replies_pass(text):
    assert check_draft(text, public=True) == []


@pytest.mark.parametrize("text, phrase", [
    ("As I said, the parcel left our warehouse on Monday.", "As I said"),
    ("As I already said, returns take 14 days.", "As I already said"),
    ("Our policy clearly states that sale items are final.", "clearly states"),
    ("That's your fault for choosing the wrong size.", "your fault"),
    ("You should have read the care label.", "You should have"),
    ("Please calm down and we'll look into it.", "calm down"),
    ("Actually, the tracking shows it was delivered.", "Actually"),
    ("Well actually you signed for it.", "Well actually"),
    ("We've already explained this twice.", "We've already explained"),
])
def test_arguing_or_blaming_is_a_tone_issue(text, phrase):
    issues = check_draft(text, public=False)
    assert [i.kind for i in issues][:1] == ["tone"]
    assert phrase in issues[0].message and "—" in issues[0].message


def test_actually_inside_other_words_or_as_emphasis_is_fine():
    assert kinds("Factually, the store opens at 9. We actually open at 8 on Saturdays!") == []


def test_strongly_negative_draft():
    issues = check_draft("This is a ridiculous complaint and a pathetic attitude.", public=False)
    assert any(i.kind == "tone" and "negative" in i.message for i in issues)
    assert any(i.kind == "tone" for i in check_draft("We hate your terrible, awful review.", False))


@pytest.mark.parametrize("text, what", [
    ("Your card 4111 1111 1111 1111 has been refunded.", "card number"),
    ("Refunded to 5500-0000-0000-0004.", "card number"),
    ("Card ending 378282246310005 sorted.", "card number"),
    ("We've emailed jo.smith@example.com with the label.", "email address"),
    ("We'll call you on +44 7700 900123 this afternoon.", "phone number"),
    ("We'll ring 07700 900123 shortly.", "phone number"),
    ("Call the store on (020) 7946 0958.", "phone number"),
    ("Our rep will call (555) 123-4567 today.", "phone number"),
    ("Is 555-123-4567 still your number?", "phone number"),
    ("+1 415 555 2671 is the number we have.", "phone number"),
    ("Your order #12345 is on its way.", "order number"),
    ("Order number AB-123456 shipped today.", "order number"),
    ("Order NW-551907 was refunded.", "order number"),
])
def test_personal_data_in_a_public_reply(text, what):
    issues = check_draft(text, public=True)
    assert DraftIssue("pii", f"personal data in a public reply ({what}) — send it privately") in issues


@pytest.mark.parametrize("text", [
    "Your card 4111 1111 1111 1111 has been refunded.",
    "We've emailed jo.smith@example.com.",
    "We'll call you on +44 7700 900123.",
    "Your order #12345 is on its way.",
])
def test_personal_data_is_fine_in_private(text):
    assert check_draft(text, public=False) == []


@pytest.mark.parametrize("text", [
    "The resole costs £45.00 and takes 10 days.",
    "Refund of €129.99 issued on 21/11/2026 at 14:30.",
    "It should arrive 2026-11-24; we have 1,200 in stock.",
    "Not a card: 4111 1111 1111 1112 fails the checksum.",
    "Order of 3 items, size 10, 2 boxes.",
    "Call our free helpline on 0800 123 4567 or 1-800-555-0199.",
    "Write to help@northwind.example or ask @ann@example.social.",
    "Thanks for the 5 stars! Code SAVE20 works until 30 Nov.",
    "Our year: 2019, 2020, 2021, 2022, 2023, 2024.",
])
def test_numbers_that_are_not_personal_data(text):
    assert personal_data(text) == []


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")


def test_issue_is_frozen_and_one_line():
    issue = check_draft("As I said, call 07700 900123.", public=True)
    assert {i.kind for i in issue} == {"tone", "pii"}
    assert all("\n" not in i.message for i in issue)
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue[0].kind = "other"  # type: ignore[misc]
