"""Heat: the sum that ranks the queue, on hand-written cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.rules import heat
from store.rules.sentiment import score

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
W = heat.HeatWeights()


def signal(text: str, followers: int = 50, minutes: float = 0) -> heat.MentionSignal:
    return heat.MentionSignal(text, score(text), followers, T0 + timedelta(minutes=minutes))


def case_heat(*mentions: heat.MentionSignal, prior: int = 0, used: float = 0.5) -> float:
    """Effective heat with the SLA clock ``used`` of the way to its target."""
    parts = heat.static_parts(list(mentions), prior, W)
    parts["sla"] = heat.sla_part(parts, used, W)
    return heat.total(parts)


FURIOUS = ("You took £180 from my card twice and nobody answers the phone. "
           "Refund me today or I raise a chargeback. Never again.")
QUESTION = "Does the Leeds store open on Sundays?"
THANKS = "Thank you so much, the boots are lovely!"


def test_furious_high_reach_complaint_over_question_over_thanks():
    furious = case_heat(signal(FURIOUS, followers=120_000))
    question = case_heat(signal(QUESTION))
    thanks = case_heat(signal(THANKS))
    assert furious > question > thanks
    assert furious >= 80


def test_praise_from_a_huge_account_stays_cool():
    for followers in (10, 5_000, 200_000, 5_000_000):
        parts = heat.static_parts([signal(THANKS, followers)], 0, W)
        assert parts["reach"] == 0 and parts["urgency"] == 0
        assert heat.priority(parts) == "normal"
        assert case_heat(signal(THANKS, followers), used=5) <= 5


def test_neutral_question_from_a_big_account_is_not_urgent():
    big = case_heat(signal("When does the spring range land in stores?", followers=90_000))
    assert big < 20


def test_big_account_complaint_is_a_stake():
    text = "Pretty disappointed: the zip on my new jacket broke on the first walk."
    small = case_heat(signal(text, followers=40))
    big_parts = heat.static_parts([signal(text, followers=80_000)], 0, W)
    assert heat.priority(big_parts) == "hot"
    assert case_heat(signal(text, followers=80_000)) > small + 20


def test_calmed_down_thread_cools():
    angry = signal("You charged me three times for one pair of gloves! I need that money for rent.")
    calm = signal("Update: my bank says two were only pending holds, all sorted now. Sorry for the rant!",
                  minutes=40)
    assert case_heat(angry) > 50
    assert case_heat(angry, calm, used=1.0) < 15
    assert case_heat(angry, calm) < case_heat(signal(QUESTION)) + 10


def test_escalating_thread_heats_up_and_counts_velocity():
    first = signal("Hi, any news on my return? Sent it last week.")
    second = signal("Still nothing. Second email with no reply and £90 missing from my account. "
                    "I'll go to my bank.", minutes=60)
    parts = heat.static_parts([first, second], 0, W)
    assert parts["velocity"] > 0
    assert case_heat(first, second) > case_heat(first) + 30


def test_a_threat_made_earlier_still_stands_while_the_thread_is_upset():
    """A customer who threatened a chargeback and now writes a shorter, angry line has
    not calmed down: the case stays hot, not cooled by the new mention's lower stakes."""
    first = signal("Charged twice for order 5512 (£119). Chargeback is next if it isn't "
                   "refunded today.")
    later = signal("Done waiting. My lawyer sends the letter on Monday.", minutes=30)
    assert case_heat(first, later) >= 0.8 * case_heat(first)
    assert case_heat(first, later) > case_heat(later) + 10


def test_the_latest_mention_matters_most():
    upset = signal("This is a scam, I want my refund now, you stole my money.")
    question = signal("Also, what size should I get in the new fleece?", minutes=20)
    # the earlier anger still counts while the thread is not calm, but less
    assert case_heat(upset) > case_heat(upset, question) > case_heat(question)


def test_polite_stake_beats_a_long_rant_with_no_stake():
    rant = signal("Honestly the new website is awful, terrible, horrible filters, ugly colours, "
                  "and the worst search I have ever used. Hate it.")
    polite = signal("Good afternoon. I cancelled my order within minutes but £210 has left my "
                    "account. I'd prefer not to involve my card provider. Kind regards.")
    assert case_heat(polite) > case_heat(rant)


def test_repeat_contact_amplifies_a_problem_not_praise():
    problem = signal("My parcel never arrived and nobody replies to my emails.")
    assert case_heat(problem, prior=2) > case_heat(problem, prior=0)
    assert case_heat(signal(THANKS), prior=5) == case_heat(signal(THANKS), prior=0)


def test_question_and_mild_problem_rank_over_chit_chat():
    chat = case_heat(signal("Off up Helvellyn tomorrow in my new boots"))
    question = case_heat(signal("Do you sell spare tent pegs?"))
    problem = case_heat(signal("The app keeps crashing when I open my basket."))
    assert problem > question > chat


def test_parts_and_totals():
    parts = heat.static_parts([signal(FURIOUS, 120_000)], 0, W)
    assert set(parts) == {"negativity", "urgency", "reach", "repeat", "velocity"}
    assert all(0 <= v <= getattr(W, k) for k, v in parts.items())
    assert heat.priority(parts) == "hot"
    assert heat.total({"a": 80.0, "b": 50.0}) == 100.0
    assert heat.total({"a": -5.0}) == 0.0
    assert heat.static_parts([], 0, W) == dict.fromkeys(parts, 0.0)


@pytest.mark.parametrize("used", [0.0, 0.3, 1.0, 4.0])
def test_sla_part_is_the_queue_models_arithmetic(used):
    parts = heat.static_parts([signal(FURIOUS)], 0, W)
    level = max(0.25, heat.problem_level(parts, W))
    assert heat.sla_part(parts, used, W) == round(W.sla * min(1.0, used) * level, 1)


def test_weights_from_config():
    w = heat.HeatWeights.from_config({"negativity": 30, "sla": 25, "nonsense": 9})
    assert (w.negativity, w.sla, w.urgency) == (30.0, 25.0, heat.HeatWeights().urgency)
    assert heat.HeatWeights.from_config(None) == heat.HeatWeights()
    zero = heat.HeatWeights.from_config({"negativity": 0, "urgency": 0})
    assert heat.problem_level({"negativity": 10}, zero) == 0.0


def test_reach_factor_is_log_scaled():
    assert heat.reach_factor(0) == heat.reach_factor(100) == 0.0
    assert 0 < heat.reach_factor(1_000) < heat.reach_factor(10_000) < 1.0
    assert heat.reach_factor(50_000) == heat.reach_factor(10_000_000) == 1.0


URGENT = [
    ("Day 20 waiting for my £75 refund. Phoned twice, emailed three times. Next step is my bank.", 40),
    ("The harness buckle cracked while I was climbing. I could have been killed.", 150),
    ("Someone logged into my account and used my saved card for £300. I didn't order this!", 12),
    ("Your order email showed another customer's name, address and phone number.", 0),
    (("Good morning. I cancelled within the hour, yet £189.00 has left my account. "
      "I would rather not raise a chargeback, but I will if needed."), 0),
    ("Jacket fell apart after three wears and the store refused a return. Expected better.", 90_000),
]
NOT_URGENT = [
    ("Parcel is a day late, any idea when it'll turn up?", 60),
    ("Mild grumble: the chatbot looped twice before I got an answer by email.", 400),
    ("Does the 20% discount stack with my student card?", 30),
    ("Genuine question: is your down responsibly sourced? My followers keep asking.", 80_000),
    ("This coat is sick, no complaints whatsoever 🔥", 300),
    ("Thank you Priya at the Bath store, absolute star!", 45),
    ("Lawyer by trade, walker by choice: these boots are brilliant.", 500),
    ("Win free followers!!! click here, DM now", 3),
]


def test_every_urgent_case_outranks_every_other_case():
    urgent = [case_heat(signal(t, f)) for t, f in URGENT]
    calm = [case_heat(signal(t, f)) for t, f in NOT_URGENT]
    assert min(urgent) > max(calm), (urgent, calm)
