"""Playbook: the next step for a case, and the time to promise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.rules.heat import MentionSignal
from store.rules.playbook import HANDLE_MINUTES, MIN_PROMISE, promise_minutes, suggestion
from store.rules.sentiment import score

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def sig(text: str, followers: int = 40, minutes: float = 0) -> MentionSignal:
    return MentionSignal(text, score(text), followers, T0 + timedelta(minutes=minutes))


@pytest.mark.parametrize("text", [
    "I'm passing this to my lawyer if the £300 isn't back by Friday.",
    "Considering legal action over the way your guard treated my son.",
    "Filed a chargeback with my card provider today.",
    "I've reported you to Trading Standards for the fake 'was' prices.",
    "This is fraud. You took money for an order that doesn't exist.",
    "Sent the whole story to a journalist at the local paper.",
    "My account was hacked and someone ordered boots on my card.",
    "The heater caught fire and my daughter burned her arm.",
    "Your site showed me another customer's name and address.",
])
def test_threats_and_specialist_matters_escalate(text):
    assert suggestion([sig(text)], 0) == "escalate"


def test_a_big_account_with_a_problem_escalates_but_its_praise_does_not():
    assert suggestion([sig("The app lost my order and support is useless.", 250_000)], 0) == "escalate"
    assert suggestion([sig("Loving the new winter range, great work!", 250_000)], 0) is None
    assert suggestion([sig("Which store has the widest boot range?", 250_000)], 0) is None


def test_high_emotions_after_several_contacts_get_a_phone_call():
    thread = [
        sig("Where is my replacement tent?"),
        sig("Still no tent. This is really stressing me out.", minutes=60),
        sig("I am furious. Three messages and still nothing, this is appalling.", minutes=120),
    ]
    assert suggestion(thread, 0) == "phone"
    assert suggestion(thread[-1:], 2) == "phone"  # two earlier cases count as well


@pytest.mark.parametrize("text", [
    "My order arrived with the wrong size, can you swap it?",
    "My refund hasn't shown up yet, it's been two weeks.",
    "I can't log in to my account since the update.",
    "Absolutely disgusted with how the store staff spoke to me today.",
])
def test_problems_needing_private_details_go_to_dm(text):
    assert suggestion([sig(text)], 0) == "dm"


@pytest.mark.parametrize("text", [
    "Thanks, the boots are brilliant!",
    "What time does the Keswick store open on Sunday?",
    "This fleece is sick, no complaints.",
    "My brother is a lawyer and he loves your jackets.",
    "Going to the sale later, wish me luck",
])
def test_praise_chit_chat_and_plain_questions_need_nothing(text):
    assert suggestion([sig(text)], 0) is None


def test_a_calmed_thread_needs_nothing_but_a_standing_threat_still_escalates():
    angry = sig("You charged me twice! Sort it or it's a chargeback.")
    calm = sig("All sorted now, the second charge was only pending. Thanks!", minutes=30)
    assert suggestion([angry, calm], 0) is None
    follow_up = sig("Any update on this?", minutes=30)
    assert suggestion([angry, follow_up], 0) == "escalate"
    assert suggestion([], 0) is None


def test_promise_minutes_grows_with_queue_per_agent():
    assert promise_minutes(0, 3, 0) == MIN_PROMISE
    assert promise_minutes(0, 3, 30) == MIN_PROMISE + 30
    assert promise_minutes(20, 4, 0) == (20 / 4 + 1) * HANDLE_MINUTES
    assert promise_minutes(40, 4, 10) > promise_minutes(20, 4, 10) > promise_minutes(20, 8, 10)
    assert promise_minutes(10, 0, 0) == promise_minutes(10, 1, 0)  # nobody on shift: count one
    assert promise_minutes(-5, 2, -3) == MIN_PROMISE
    assert float(promise_minutes(7, 3, 0)).is_integer()
