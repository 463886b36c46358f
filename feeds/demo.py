"""The demo feed: a day at the "Acme Outfitters" response desk, generated offline.

Acme Outfitters is a fictional outdoor-gear retailer (``acme@mastodon.example`` on
Mastodon, ``acme.example.com`` on Bluesky, r/acmeoutfitters on Reddit, a blog with
comments, a web form). The feed's own ``platform`` is "demo", but every mention carries
a realistic platform (mastodon, bluesky, reddit, rss, webhook — weighted) with a
plausible handle, display name, follower count, URL and language for that platform.

What the stream contains (shares of ordinary posts, roughly):

* praise and thanks ~30 %, questions (sizes, stock, store hours, order status) ~30 %,
  mild complaints (late parcel, app glitch) ~20 %, serious complaints with stakes
  (charged twice, refund missing for weeks, unsafe product, hacked account, data leak,
  threats of chargeback / lawyer / regulator / press / cancelling) ~12 %, the rest
  spam, jokes, chit-chat, emoji-only posts and a few hostile-text posts;
* furious threads: about 40 % of serious complaints are followed by 1-3 more posts from
  the same customer, each replying to their own previous post (``in_reply_to``) and
  escalating (no answer → threats → "never again");
* regulars: a small pool of customers (per seed) who write again and again;
* big accounts (50k-500k followers): mostly neutral or praise, sometimes a real complaint;
* ~7 % in German, Spanish or French (``lang`` says which);
* bursts: once per ``burst_every`` seconds a crisis wave (app down, charged twice,
  checkout failing, parcels stuck, phishing/data leak, a product failing) — 10-24
  mentions from different people on one theme, emitted within a few seconds; about half
  the waves are picked up by one big account.

Decisions worth knowing:

* Determinism. Post number ``n`` (1-based) has external id ``demo-<seed>-<n>``; its text,
  author, platform, url and reply link depend only on (seed, n, burst period), never on
  wall-clock time. The sequence is planned in blocks of 256 posts (threads live inside
  a block), so any ``n`` is reachable in O(block) work — resuming at post 1,000,000
  costs no more than at post 10.
* The burst period is counted in posts: ``burst_every × rate`` (``rate`` 0 plans with the
  default 2/s). ``burst_every = 0`` turns bursts off. ``demo_mentions`` with
  ``spacing_s = 1/rate`` yields the same posts as a ``DemoFeed`` with that rate.
* Timing. ``created_at`` is the moment a post is emitted (live). Gaps are exponential
  around ``1/rate``; burst posts come ≥5× faster. ``rate = 0`` emits as fast as the
  consumer takes them.
* The cursor is the number of the last post emitted (every 20 posts and at the end), so
  a restart resumes right after the last persisted post. ``count`` is an absolute bound
  on that number: a feed with ``count = 1000`` restarted at 600 stops at 1000.
* ``raw`` holds labels, not a platform payload: ``{"demo": {"seq", "kind", "thread",
  "burst", "regular", "big"}}`` — handy for checking the heat rules against the mix.
* Text is the generator's own (nothing from the labelled corpus). A handful of templates
  are deliberately hostile (markup, ANSI/OSC escapes, bidi overrides); they are marked
  ``HOSTILE`` below and exist so the demo exercises the render boundary.
* ``demo_mentions(n, seed, start, spacing_s)`` builds the same posts as a list (benchmarks,
  tests): ``spacing_s`` apart, burst posts a fifth of that, ending "now" unless ``start``
  is given; ``source`` is "demo". 100k take 1-2 s (the feed at rate 0: about the same).
* The demo feed cannot send: replies to demo cases are delivered by the sandbox sender.
"""

from __future__ import annotations

import asyncio
import math
import random
import string
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from feeds.base import ConfigError, Cursor, FeedAdapter, FeedItem
from store.records import Mention

DEFAULT_RATE = 2.0
DEFAULT_SEED = 7
DEFAULT_BURST_EVERY = 90.0
CURSOR_EVERY = 20
BLOCK = 256  # posts planned together; threads never cross a block boundary
BURST_SPEEDUP = 5.0  # burst posts arrive at least this many times faster than usual
MIN_BURST_GAP_RATE = 6.0  # ... and at least this many per second

BRAND = "Acme Outfitters"
MASTODON_HANDLE = "acme@mastodon.example"
BLUESKY_HANDLE = "acme.example.com"
SUBREDDIT = "acmeoutfitters"
BLOG = "https://blog.acme-outfitters.example"

# The feed paces itself through these two (tests swap in a fake clock).
_sleep = asyncio.sleep
_monotonic = time.monotonic

PLATFORM_WEIGHTS = (("mastodon", 30), ("bluesky", 30), ("reddit", 18), ("webhook", 12),
                    ("rss", 10))

# --------------------------------------------------------------------------- slot values

FOOTWEAR = ("Trailhead boots", "Trailhead GTX lows", "Cascade trail runners")
CLOTHING = ("Summit down jacket", "Drift rain shell", "Glacier softshell", "Harbor fleece",
            "Alpine merino base layer", "Fjord rain trousers")
PACKS = ("Ridgeline 40L pack", "Ridgeline 28L daypack")
CAMP = ("Basecamp 2P tent", "Cirrus sleeping bag", "Nimbus sleeping pad", "Ember camp stove",
        "Canyon water filter", "Tundra insulated bottle", "Lumen headlamp")
OTHER = ("Switchback trekking poles", "Headwall harness", "Scree gaiters", "Boulder chalk bag")
PRODUCTS = FOOTWEAR + CLOTHING + PACKS + CAMP + OTHER
PLURAL = frozenset({"Trailhead boots", "Trailhead GTX lows", "Cascade trail runners",
                    "Fjord rain trousers", "Switchback trekking poles", "Scree gaiters"})
# Product slots by what a template says about the product, so a chalk bag is never
# waterproof and a tent never gives blisters. A trailing "1" keeps singular names only.
GROUPS: dict[str, tuple[str, ...]] = {
    "product": PRODUCTS,
    "product2": PRODUCTS,
    "sized": CLOTHING + FOOTWEAR + PACKS,
    "wear": CLOTHING,
    "layer": ("Summit down jacket", "Harbor fleece", "Alpine merino base layer",
              "Glacier softshell", "Drift rain shell"),
    "shoe": FOOTWEAR,
    "pack": PACKS,
    "shell": ("Drift rain shell", "Glacier softshell", "Fjord rain trousers",
              "Trailhead GTX lows", "Basecamp 2P tent"),
    "warm": ("Summit down jacket", "Harbor fleece", "Alpine merino base layer",
             "Cirrus sleeping bag", "Nimbus sleeping pad"),
    "zipped": ("Summit down jacket", "Drift rain shell", "Glacier softshell", "Harbor fleece",
               "Ridgeline 40L pack", "Ridgeline 28L daypack", "Cirrus sleeping bag",
               "Basecamp 2P tent"),
    "buckle": ("Ridgeline 40L pack", "Ridgeline 28L daypack", "Headwall harness"),
    "light": ("Summit down jacket", "Basecamp 2P tent", "Cirrus sleeping bag",
              "Nimbus sleeping pad", "Ridgeline 40L pack", "Switchback trekking poles",
              "Lumen headlamp"),
    "gear": CAMP + OTHER,
}
GROUPS.update({f"{k}1": tuple(p for p in v if p not in PLURAL) for k, v in list(GROUPS.items())})
# Agreement with the product drawn last: "{is}" reads "is" or "are", and so on.
AGREE = {
    "is": ("is", "are"), "Is": ("Is", "Are"), "was": ("was", "were"), "it": ("it", "they"),
    "obj": ("it", "them"), "its": ("its", "their"), "does": ("does", "do"),
    "Does": ("Does", "Do"), "has": ("has", "have"), "looks": ("looks", "look"),
    "comes": ("comes", "come"),
}
SIZES = ("S", "M", "L", "XL", "XS", "women's M", "women's S", "men's L", "kids' 10", "M tall")
SHOE_SIZES = ("EU 42", "EU 39", "EU 44.5", "US 9", "US 10.5", "US 7 women's", "UK 8", "UK 11")
COLOURS = ("slate", "moss green", "ember orange", "glacier blue", "black", "sand", "plum")
CITIES = ("Portland", "Denver", "Leeds", "Calgary", "Austin", "Bristol", "Minneapolis",
          "Boulder", "Vancouver", "Salt Lake City", "Asheville", "Burlington", "Edinburgh",
          "Seattle", "Manchester", "Halifax")
CITIES_DE = ("München", "Hamburg", "Berlin", "Köln", "Freiburg", "Innsbruck")
CITIES_ES = ("Madrid", "Barcelona", "Valencia", "Bilbao", "Granada")
CITIES_FR = ("Lyon", "Grenoble", "Annecy", "Paris", "Chamonix", "Toulouse")
PLACES = ("the Dolomites", "the West Highland Way", "the Lake District", "Yosemite",
          "the Cairngorms", "the Pyrenees", "Zion", "the Tatras", "Snowdonia",
          "the Rockies", "Glacier NP", "the Scottish Highlands", "Banff", "the Alps",
          "the Cascades", "Patagonia")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
WEEKDAYS_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
COUNTRIES = ("Canada", "Ireland", "Norway", "Australia", "Iceland", "Japan", "Mexico",
             "Switzerland", "New Zealand")
STAFF = ("Rafa", "Jen", "Kofi", "Ingrid", "Matt", "Siobhan", "Tariq", "Lou")
BLOG_POSTS = ("winter-layering-guide", "how-we-test-our-tents", "black-friday-2026",
              "repair-program-update", "new-ridgeline-packs", "trail-stories-patagonia",
              "membership-changes", "boot-fitting-101", "leave-no-trace-weekend")

FIRST = {
    "en": ("Alex", "Jordan", "Sam", "Priya", "Marcus", "Hannah", "Tom", "Aisha", "Ben",
           "Chloe", "Diego", "Emma", "Fatima", "Grace", "Hiro", "Isla", "Jake", "Kemi",
           "Liam", "Maya", "Noah", "Olivia", "Pete", "Quinn", "Rosa", "Sean", "Tara", "Uma",
           "Victor", "Wen", "Yusuf", "Zoe", "Nate", "Leah", "Owen", "Ruby", "Caleb", "Mei",
           "Dev", "Freya", "Dana", "Gus", "Imani", "Kai"),
    "de": ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Mia", "Tobias", "Sophie", "Jan",
           "Katrin", "Matthias", "Julia"),
    "es": ("Lucía", "Javier", "Carmen", "Pablo", "Elena", "Diego", "Marta", "Álvaro",
           "Sofía", "Andrés"),
    "fr": ("Camille", "Louis", "Manon", "Hugo", "Chloé", "Théo", "Léa", "Julien", "Inès",
           "Mathieu"),
}
LAST = {
    "en": ("Whitfield", "Carter", "Okafor", "Nguyen", "Patel", "Brennan", "Morales",
           "Fischer", "Lindqvist", "Holloway", "Reyes", "Kowalski", "Sato", "Mbeki",
           "O'Neill", "Duarte", "Harper", "Ellison", "Park", "Tanaka", "Byrne", "Ashworth",
           "Castillo", "Novak", "Rahman", "Sullivan", "Vance", "Yates", "Ziegler", "Abara"),
    "de": ("Müller", "Schneider", "Weber", "Hoffmann", "Becker", "Wagner", "Schäfer", "Koch",
           "Bauer", "Richter"),
    "es": ("García", "Fernández", "López", "Martín", "Sánchez", "Romero", "Navarro", "Torres",
           "Ruiz", "Ortega"),
    "fr": ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux",
           "Fournier", "Mercier"),
}
NOUNS = ("trail", "peak", "ridge", "fern", "moss", "boulder", "summit", "cairn", "alder",
         "birch", "tarn", "scree", "basecamp", "canyon", "marmot", "owl", "fox", "heron",
         "granite", "pine", "switchback", "glacier")
ADJS = ("soggy", "lazy", "happy", "muddy", "slow", "lost", "tired", "windy", "sunny",
        "rocky", "quiet", "grumpy", "wild", "salty", "dusty", "sleepy", "brave")
INSTANCES = {
    "en": ("hikers.example", "social.example", "mountains.example", "toot.example",
           "fosstodon.example", "mastodon.example", "outdoors.example", "pnw.example"),
    "de": ("alpen.example", "norden.example", "social.example"),
    "es": ("mastodon.example", "sierra.example"),
    "fr": ("piaille.example", "mastodon.example"),
}
NAME_EMOJI = ("", "", "", "", " 🏔️", " 🌲", " 🎒", " ⛺", " 🥾", " 🧗")
B32 = "234567abcdefghijklmnopqrstuvwxyz"
B36 = "0123456789abcdefghijklmnopqrstuvwxyz"

# --------------------------------------------------------------------------- templates
# English. Slots: the product groups above, {size} {shoe_size} {colour} {colour2} {city}
# {place} {order} {amount} {days} {weeks} {hours} {weekday} {country} {staff} {km}
# {ticket}, and the agreement words in AGREE.

PRAISE = (
    "Just back from {place} and the {product} {was} perfect. Zero complaints. Thanks Acme!",
    ("Shoutout to {staff} at the {city} store, who spent 20 minutes helping me fit my "
     "{sized}. That's proper service."),
    "My {shell} survived {days} days of rain in {place}. Dry as a bone. Impressed.",
    "Ordered on {weekday}, arrived two days later, fits perfectly. Happy camper.",
    "Your returns team sorted my exchange in a single day. Thank you!",
    "Third purchase from Acme and the {product} {is} the best yet.",
    "Asked about sizing for the {sized} and got a helpful answer in minutes. Love this brand.",
    "The {product} {is} worth every penny. Sunrise summit in {place} this morning.",
    "Big thanks to whoever packed order {order}, the handwritten note made my day 😊",
    "Repair service fixed the zip on my six-year-old {zipped} for free. Customer for life.",
    "Took the kids on their first overnight hike. The {gear} made it so easy. Thanks Acme!",
    "Finally broke in my {shoe}. {km} km, no blisters. Chef's kiss.",
    "Member discount plus the trail-day sale paid for my {product}. Nice one.",
    "The {city} store ran a free map-reading workshop last night. Lovely people.",
    "Honestly the best customer service I've had all year. Refund landed in two days.",
    "Wore the {layer} up a ridge in {place} in a snowstorm. Toasty the whole way.",
    "Can't believe how light the {light} {is}. Shaved almost a kilo off my base weight.",
    ("Lost a pole tip on the trail, emailed Acme, replacement arrived in three days. Free. "
     "Wow."),
    ("Five years with my {product} and {it} still {looks} new. They don't make things like "
     "this anymore, except you do."),
    ("Quick thank you to the Acme chat team for talking me out of the wrong size. The {size} "
     "fits like a glove."),
    "The {wear} in {colour} {is} gorgeous in person. Photos don't do {obj} justice.",
    "Got caught in a hailstorm in {place} today. The {shell} did {its} job. Grateful.",
    "Love that you publish repair guides instead of telling people to buy new. Respect.",
    "My partner surprised me with the {product}. Already planning the next trip!",
    "Brilliant advice from the {city} team on layering for {place}. Stayed warm all week.",
    "Acme's gift wrapping is adorable. My brother loved his {product}.",
    "The Cirrus sleeping bag kept me warm at -5°C in {place}. Slept like a log.",
    "My {zipped} is back from the Acme repair team and better than new.",
    ("The Ember camp stove boils water in under three minutes. Trail coffee has never been "
    "better ☕"),
    "Honest review: the {product} {is} not cheap, but {it} {is} built to last.",
)
PRAISE_TAIL = ("", "", "", "", " 🙌", " ❤️", " Highly recommend.", " 10/10.", " Thanks again!",
               " #hiking", " #optoutside", " 🏔️", " 🥾✨", " Cheers!")
PRAISE_EXTRA = ("Worth the wait.", "Already recommended Acme to my hiking club.",
                "Will be back for more.", "Bought in the {city} store.",
                "Thanks to the team in {city}!", "Customer since 2014 and still happy.",
                "Best gear shop around.", "Take my money for the next one.")

QUESTION = (
    "{Does} the {wear} run small? I'm usually a {size}.",
    "{Does} the {shoe} run small? I'm usually a {shoe_size}.",
    "Any chance the {wear} in {colour} {comes} back in stock? Sold out in {size} everywhere.",
    "What are the {city} store's opening hours on {weekday}?",
    "Order {order} still says 'processing' after {days} days. Is that normal?",
    "Can I return something I bought online at the {city} store?",
    "{Is} the {shell} actually waterproof or just water-resistant?",
    "Do you ship to {country}? Couldn't find it on the site.",
    "How do I apply my member discount in the app?",
    "Will the {product} be in the Black Friday sale? Asking for my wallet.",
    "{Is} the {warm} any good for winter camping around -10°C?",
    "Where do I find the warranty details for my {product}?",
    "Can I change the delivery address on order {order}? I've just moved.",
    "Do you price match? Saw the {product} a bit cheaper elsewhere.",
    "Is the {city} store doing boot fittings this weekend?",
    "How long do refunds usually take to show up on a card?",
    "Can gift cards be used both online and in store?",
    "Ridgeline 40L or 28L for a weekend in {place}? Can't decide.",
    "Drift rain shell or Glacier softshell for {place} in spring?",
    "Tracking for {order} hasn't updated since {weekday}. Any idea where it is?",
    "Is there a women's cut of the {wear}?",
    "{Does} the {pack} fit carry-on size limits?",
    "Are you hiring seasonal staff at the {city} store?",
    "Can the {shoe} be resoled, or are they glued?",
    "Between sizes in the {wear}: go with {size} or size up?",
    "Is click & collect available in {city} yet?",
    "Do you still run the gear rental scheme? Want to try the {gear} before buying.",
    "Is there a synthetic alternative to the Summit down jacket? Looking for something vegan.",
    "Can I still get a replacement hip belt for an old {pack}?",
    "Does the Ember camp stove take the gas canisters sold in {country}?",
    "Is the Lumen headlamp rechargeable over USB-C?",
)
QUESTION_TAIL = ("", "", "", " Thanks!", " Cheers.", " 🙏", " TIA", " Thanks in advance!")
QUESTION_PRE = ("Quick one: ", "Hi! ", "Sorry if this has been asked before: ",
                "Planning a trip to {place}. ", "Hello Acme, ", "Newbie here. ")

COMPLAINT = (
    "Parcel {order} was supposed to arrive {weekday}. Still nothing. Bit annoying.",
    "The app logs me out every time I open the basket. iOS, latest version.",
    "Bit disappointed the stitching on my {sized} came loose after a month.",
    "Waited 40 minutes on the phone line today and gave up.",
    "Wrong colour arrived: ordered {colour}, got {colour2}. Can I swap it?",
    "Checkout froze twice before my order finally went through. Not a great experience.",
    "The promo code from yesterday's newsletter says expired?",
    "The {city} store had no {wear} in {size} even though the website said in stock.",
    "Courier left my parcel on the doorstep in the rain. Gear's fine, box was soaked.",
    "Why does the app need my location just to show me the catalogue?",
    "Love the gear, hate the packaging. So much plastic for one pair of socks.",
    "Delivery estimate jumped from {days} days to two weeks without a word.",
    "Size chart is way off for the {sized}. Had to send {obj} back.",
    "The app shows my order as delivered. It hasn't been. Order {order}.",
    "The {product} arrived with a scuff on {obj}. Not the end of the world but a bit meh.",
    "Chat bot keeps sending me to the FAQ. I just want to talk to a person.",
    "Return label link in the email doesn't work.",
    "Your website is so slow today, took five minutes to load my basket.",
    "Zip on the {zipped} sticks every time. Expected better at this price.",
    "Got charged for shipping even though the banner said free over $75.",
    "My new Basecamp 2P tent smells like a chemical factory. Is that normal?",
    "Half my order arrived, the rest has been 'on its way' since {weekday}.",
    "The {shoe} squeak on every step. Is that a thing?",
    "Exchange took {days} days to process. A bit slow.",
    "Ordered a {size}, got an XXL. Now I have to queue at the post office again.",
)
COMPLAINT_TAIL = ("", "", "", " 🙄", " Not great.", " Please sort it.", " 😕", " Any update?",
                  " Come on, Acme.")
COMPLAINT_EXTRA = ("Order {order}.", "Second time this month.",
                   "Usually love you guys, but still.", "Not what I expect from Acme.",
                   "Just saying.", "Anyone else?")

SERIOUS = (
    ("I've been charged twice for order {order}, {amount} taken two times. Fix this today or "
     "I'm filing a chargeback."),
    "Returned my {product} {weeks} weeks ago. Still no refund of {amount}. This is theft.",
    ("The buckle on my {buckle} snapped on a descent and I fell. Bruised ribs. This is a "
     "safety issue and I want answers."),
    ("My Acme account was hacked and someone ordered {amount} of gear to an address abroad. "
     "Nobody is answering."),
    ("Got an email from you with someone else's name, address and order history. That's a "
     "data leak. Reporting it to the regulator."),
    ("Third time asking about my refund for {order}. The next message will come from my "
     "lawyer."),
    "Cancelling my membership after eight years. {weeks} weeks, no refund, no reply.",
    ("My Ember camp stove leaked fuel in the vestibule. Could have burned the tent down with "
     "us in it. Do you even test these?"),
    "If my {amount} isn't back in my account by {weekday} I'm going to the press.",
    ("Your 'lifetime warranty' is a joke. Claim rejected with no explanation. See you in "
     "small claims court."),
    "Someone used my saved card on your site. My bank had to block it. How did this happen??",
    ("The zip pull on my son's {layer} has a sharp edge and cut his chin. Please recall "
     "these."),
    "Filed a complaint with consumer protection today. {weeks} weeks of being ignored is enough.",
    ("Hi, sorry to bother you, but I've been charged twice ({amount}) for order {order}. "
     "Could someone please look into it? Thanks so much."),
    ("Kindly note that I will have to start a chargeback with my bank if the refund for "
     "{order} is not processed this week. Thank you for understanding."),
    ("Paid {amount} for express delivery, parcel lost, and support closed my ticket. "
     "Disputing the charge."),
    "Your delivery driver was abusive to my elderly mother. I want this escalated, today.",
    "My {shell} failed at 3000 m in a storm. I could have died up there.",
    "I never get a straight answer. {weeks} weeks chasing {amount}. Never again, Acme.",
    ("Password reset emails I didn't ask for, then an order I didn't place. Your security is "
     "a scam."),
    ("You sold me a used {product} as new, with someone's hair on {obj}. I want a full refund "
     "and an explanation."),
    ("Polite reminder number four: refund for {order}, {amount}, still missing after {weeks} "
     "weeks. Would appreciate an actual reply."),
    ("The Lumen headlamp got so hot in my pocket it burned through the lining. This could "
     "have been a fire."),
    ("Ticket {ticket} closed as 'resolved'. Nothing is resolved. {amount} is still missing "
     "and I'm contacting the ombudsman."),
)
SERIOUS_TAIL = ("", "", "", " 😡", " Unacceptable.", " Fix it.", " I'm done being patient.",
                " 🤬", " Shameful.")
SERIOUS_EXTRA = ("I have screenshots of everything.", "Customer since 2015.",
                 "I've emailed three times.", "Order {order}.", "My bank is already involved.",
                 "Ticket {ticket}.")

# A furious thread: the same customer replying to their own previous post, escalating.
FOLLOWUP = (
    (  # stage 1: still no answer
        "Still nothing. {hours} hours and not a single reply.",
        "Hello?? Anyone there? Order {order}, {amount}. Still waiting.",
        "Following up on this. No answer by email either.",
        "Bumping this because apparently it's the only way to get your attention.",
        "Nobody from Acme has replied. Is anyone actually reading these?",
        "Still waiting. Your auto-reply said 24 hours. It's been {hours}.",
    ),
    (  # stage 2: threats
        "Third time asking. If I don't hear back today I'm disputing the charge with my bank.",
        "Called the hotline, on hold 55 minutes, then cut off. Unbelievable.",
        "That's four emails ignored now. I'm talking to a lawyer tomorrow.",
        "Your support bot closed my ticket without answering. Escalate this NOW.",
        "I want a manager. Not a template, not a bot. A manager.",
        "Contacted my card issuer. Chargeback is next if {amount} isn't refunded.",
    ),
    (  # stage 3: done
        ("That's it. Chargeback filed, membership cancelled, never again. Telling everyone I "
         "know to avoid Acme."),
        ("Reported you to the consumer regulator, and a journalist at the local paper is "
         "interested. Enjoy."),
        ("NEVER AGAIN. {weeks} weeks, {amount}, zero help. Screenshots of this thread are "
         "going everywhere."),
        "Done waiting. My lawyer sends the letter on Monday.",
        "Twenty years a customer. Gone. Absolute scam of a company.",
        "Posting this everywhere until someone at Acme grows a conscience.",
    ),
)

# Threats and final words are also composed from parts, so the hottest cases on the desk
# do not all read the same.
THREAT_OPENERS = (
    "Third time asking.", "Still nothing.", "Day {days} of being ignored.",
    "Four emails, zero replies.", "Called the hotline: an hour on hold, then cut off.",
    "Your support bot closed my ticket without answering.", "Another day, another non-answer.",
    "Ticket {ticket}, still open, still ignored.",
)
THREATS = (
    "If I don't hear back today I'm disputing the {amount} with my bank.",
    "I'm talking to a lawyer tomorrow.", "Next stop: chargeback.",
    "I want a manager. Not a template, not a bot.", "Escalate this NOW.",
    "I'll be filing a complaint with consumer protection.",
    "Refund the {amount} today or I cancel my membership.",
    "One more day and this goes to the local news.",
)
FINAL_OPENERS = (
    "That's it.", "Enough.", "Done waiting.", "It's been {weeks} weeks, {amount}, zero help.",
    "Unbelievable.", "Final update.", "Well, that's that.", "No reply again.",
)
FINAL_ACTIONS = (
    "Chargeback filed.", "Membership cancelled.", "My lawyer sends the letter on Monday.",
    "Reported you to the consumer regulator.",
    "A journalist at the local paper wants the story.", "Small claims paperwork is in.",
    "Complaint lodged with the ombudsman.", "Disputed the {amount} with my bank.",
)
FINAL_CLOSERS = (
    "Never again.", "Telling everyone I know to avoid Acme.",
    "Screenshots of this thread are going everywhere.", "Absolute scam of a company.",
    "Twenty years a customer. Gone.", "Enjoy the one-star reviews.", "", "",
)

SPAM = (
    "🔥 Earn $500/day from home!! DM me 'GEAR' 🔥 #acme #hiking",
    "Free Acme gift cards here 👉 bit.example/fr33-g1ft",
    "Follow for daily trail pics! #acme #outdoors #followback",
    "CRYPTO GIVEAWAY 🚀 send 0.1 ETH, get 1 back. Official Acme partner. 100% legit",
    "Cheap hiking boots 90% off, best replica, visit boots-outlet.example",
    "I made $12k last month with this one trick, link in bio",
    ("Congratulations! You've been selected for an Acme loyalty prize, claim at "
     "acme-prize.example"),
    "Looking for brand ambassadors!! DM us to collab 💸💸",
)
CHAT = (
    "Who else is stuck at work dreaming about the mountains?",
    "If the Summit down jacket were a person I'd marry it",
    "Is it just me or does every hiking group have one guy with a 90L pack for a day hike",
    "Saw an Acme van parked at the trailhead. Does that count as a sponsorship",
    "Good morning everyone ☕ off to the hills",
    "poll: tent or hammock? go",
    "The Acme catalogue is my bedtime reading now. This is who I am.",
    "Rain forecast all weekend. Guess I'm reorganising my gear closet again.",
    "My dog has claimed the new sleeping pad. It's his now.",
    "Hot take: trekking poles are cheat codes and I'm fine with that",
    "Anyone from the {city} hiking meetup going out this Saturday?",
    "Not a complaint, just a confession: I own four headlamps and can never find one.",
    "Hiking tip: eat the heavy snacks first. You're welcome.",
    "What's everyone's favourite trail in {place}?",
)
EMOJI = ("👍", "🔥🔥🔥", "😍🏔️🎒", "😡😡😡", "🙏", "❤️", "⛺🌲✨", "🤬📦❌", "💸💸😤", "👀",
         "🥾🥾🥾", "🙄", "😭📦", "🏕️❤️🏕️", "👏👏")

# HOSTILE: deliberately malicious text for robustness. The desk must show these as plain
# text: never interpret the markup, strip the escape sequences and bidi controls at the
# render boundary, and keep the original bytes in the store.
HOSTILE = (
    "[bold red]REFUND NOW[/] or I'm telling everyone about order {order}",  # Rich markup
    "nice desk you have [link=https://evil.example]click for refund[/link] lol",  # markup
    "order {order} \x1b[31mURGENT\x1b[0m please someone answer",  # ANSI colour (CSI)
    "copy my order number \x1b]52;c;ZWNobyBwd25lZA==\x07 thanks",  # OSC 52 clipboard write
    "refund status for invoice_\u202egnp.exe\u202c please?",  # bidi override U+202E
    ("tracking here: \x1b]8;;https://evil.example\x1b\\https://acme.example/track\x1b]8;;"
     "\x1b\\ still stuck"),  # OSC 8 fake hyperlink
    "all fine thanks\rI WANT A REFUND FOR {order}",  # carriage return overwrite
    "\x1b[2J\x1b[Hcleared your screen, now answer me about {order}",  # CSI clear screen
    "[/] [/red] [blink]help[/blink] my parcel is lost",  # broken markup
    "\u202eevil right-to-left text\u202c then normal text about the {product}",  # bidi
)
HOSTILE_NAMES = ("[bold]Acme Support[/bold]", "\x1b[32mverified\x1b[0m", "\u202etroppuS",
                 "Dana [link=https://evil.example]✔[/link]")  # HOSTILE author names

BIG_ACCOUNTS = (  # (platform, handle, name, followers)
    ("mastodon", "trailnotes@outdoors.example", "Trail Notes Magazine", 182_000),
    ("bluesky", "ines-alpine.bsky.social", "Ines Alpine 🏔️", 247_000),
    ("bluesky", "wanderingwei.bsky.social", "Wandering Wei", 93_000),
    ("mastodon", "peakseason@podcasts.example", "Peak Season Podcast", 58_000),
    ("bluesky", "did:plc:m7x2kq4vtn3wzr6ahc5ej2pd", "Mountain Safety Network", 410_000),
    ("mastodon", "coldfeet@climbing.example", "Cold Feet Climbing Club", 71_500),
    ("reddit", "GearLoftReviews", "GearLoftReviews", 64_000),
    ("bluesky", "thru-hike-hana.bsky.social", "Hana on the Trail", 128_000),
)
BIG_NEUTRAL = (
    "Testing the {product} in {place} this week. Full review on Friday.",
    "Our winter gear picks are up. The {product} made the list, alongside a few surprises.",
    ("We asked 2,000 readers which outdoor brand handles returns best. Results in "
     "tomorrow's newsletter."),
    "Packing list for {place} is live. Yes, the {product} {is} on it.",
    ("New episode: how outdoor retailers decide what to repair and what to replace. With "
     "folks from Acme and others."),
    "Weekend safety reminder: check your forecast, tell someone your route, pack a headlamp.",
    "Spotted Acme's new {colour} colourway in {city}. Thoughts?",
    "Live Q&A on layering tonight. Bring your questions about the {wear}.",
)
BIG_PRAISE = (
    "Three seasons in, the {product} {is} still my go-to. Acme nailed this one.",
    "Shoutout to Acme for sponsoring the {city} trail clean-up. 400 kg of litter gone!",
    "Acme's repair programme is the real deal. Sent in a torn {zipped}, came back like new.",
    "Packed the {light} for the whole thru-hike. Not one failure. Well made, Acme.",
    "Acme's staff in {city} gave our club a proper avalanche-kit talk. Free. Good people.",
    "Rare brand that answers emails within the hour. Acme, keep doing what you're doing.",
)
BIG_COMPLAINT = (
    ("Several readers tell us the buckle on the {buckle} is failing under load. We've asked "
     "Acme for comment."),
    "Hey Acme, the zip on my {zipped} broke on day one of a filmed trip. Not a great look. DM me?",
    "Our last two orders from Acme took three weeks. What's going on with shipping?",
    "We're hearing from members who were charged twice by Acme this week. Anyone else?",
)

FOREIGN = {
    "de": {
        "praise": (
            "{product}: super! War damit eine Woche in {place} unterwegs. Danke, Acme!",
            "Toller Service in der Filiale {city}, danke für die Beratung!",
            "Nach {km} km in den {shoe} keine einzige Blase. Klare Empfehlung.",
            "Reklamation in zwei Tagen erledigt. So muss das sein.",
        ),
        "question": (
            "Gibt es {wear1} noch in Größe {size}?",
            "Wann hat die Filiale {city} am {weekday_de} geöffnet?",
            "Liefert ihr auch in die Schweiz? Wie lange dauert das?",
            "Wie fallen die {shoe} aus, eher klein?",
        ),
        "complaint": (
            "Mein Paket {order} ist seit {days} Tagen unterwegs. Etwas ärgerlich.",
            "Die App stürzt beim Bezahlen ständig ab.",
            "Falsche Farbe geliefert. Wie kann ich umtauschen?",
        ),
        "serious": (
            ("Ihr habt mir {amount} doppelt abgebucht! Wenn das nicht bis Freitag erstattet "
             "wird, gehe ich zum Anwalt."),
            ("Seit {weeks} Wochen warte ich auf meine Rückerstattung. Ich kündige meine "
            "Mitgliedschaft."),
            ("Die Schnalle an meinem {buckle1} ist beim Abstieg gebrochen, ich bin gestürzt. "
             "Das ist gefährlich!"),
            ("Mein Konto wurde gehackt und niemand antwortet. Ich melde das der "
             "Verbraucherzentrale."),
        ),
        "followup": (
            ("Immer noch keine Antwort.", "Hallo? Bestellung {order}, {amount}. Ich warte."),
            ("Letzte Warnung: morgen Rückbuchung über meine Bank.",
             "Mein Anwalt ist informiert."),
            ("Das war's. Nie wieder Acme. Ich erzähle es allen.",
             "Rückbuchung veranlasst, Mitgliedschaft gekündigt."),
        ),
    },
    "es": {
        "praise": (
            "¡Las {shoe} son increíbles! Cero ampollas después de {km} km. Gracias.",
            "Muy buena atención en la tienda de {city}. ¡Gracias!",
            "Mi {shell1} aguantó una semana de lluvia en {place}. Encantada.",
            "Devolución resuelta en dos días. Así da gusto.",
        ),
        "question": (
            "¿Hacéis envíos a Canarias? ¿Cuánto tarda?",
            "¿El {wear1} talla grande o pequeño? Suelo usar una {size}.",
            "¿A qué hora abre la tienda de {city} el {weekday_es}?",
            "¿Cuándo vuelve a haber stock del {product1}?",
        ),
        "complaint": (
            "Mi pedido {order} lleva {days} días de retraso. Un poco decepcionante.",
            "La app no me deja aplicar el descuento de socio.",
            "Me llegó la talla equivocada. ¿Cómo la cambio?",
        ),
        "serious": (
            ("Me habéis cobrado dos veces {amount}. Si no lo solucionáis hoy, pondré una "
             "reclamación con mi banco."),
            "La hebilla de mi {buckle1} se rompió y me caí. Esto es peligroso.",
            "Llevo {weeks} semanas esperando el reembolso. Voy a ir a consumo.",
            "Me han hackeado la cuenta y nadie responde. Vergonzoso.",
        ),
        "followup": (
            ("Sigo sin respuesta.", "¿Hola? Pedido {order}, {amount}. Sigo esperando."),
            ("Mañana hablo con mi abogado.", "Voy a pedir la devolución del cargo al banco."),
            ("Se acabó. Nunca más compro en Acme.", "Reclamación presentada en consumo. Adiós."),
        ),
    },
    "fr": {
        "praise": (
            "Super service client à {city}, merci pour les conseils !",
            "Mon {shell1} a tenu une semaine de pluie dans {place}. Bravo.",
            "Échange fait en deux jours, top.",
            "{km} km avec les {shoe}, pas une ampoule. Merci Acme !",
        ),
        "question": (
            "Question taille : le {wear1}, ça taille grand ? Je fais du {size} d'habitude.",
            "Vous livrez en Belgique ?",
            "Le magasin de {city} est ouvert le {weekday_fr} ?",
            "Quand est-ce que le {product1} revient en stock ?",
        ),
        "complaint": (
            "Colis {order} toujours pas arrivé après {days} jours...",
            "L'appli plante à chaque paiement.",
            "Mauvaise couleur reçue. Comment faire un échange ?",
        ),
        "serious": (
            ("Débité deux fois pour la commande {order} ({amount}). Sans réponse, je saisis la "
             "répression des fraudes."),
            "Mon compte a été piraté et personne ne répond. Inadmissible.",
            "Remboursement attendu depuis {weeks} semaines. Je vais voir un avocat.",
            ("La fermeture éclair du {layer} de mon fils l'a coupé au menton. Produit "
             "dangereux."),
        ),
        "followup": (
            ("Toujours aucune réponse.", "Allô ? Commande {order}, {amount}. J'attends."),
            ("Dernier avertissement : opposition bancaire demain.",
             "Mon avocat est au courant."),
            ("C'est fini. Plus jamais Acme.", "Plainte déposée. Je préviens tout le monde."),
        ),
    },
}

# Crisis waves. Each burst picks one theme; {product} and {defect} hold for the whole burst.
BURSTS = {
    "app_down": (
        "Is the Acme app down? Can't log in.",
        "App crashing on launch for anyone else?",
        "Acme app says 'Something went wrong' on every screen. Just trying to track {order}.",
        "+1, app is dead here too ({city})",
        "Can't get my membership card up in the app and I'm at the till right now 😩",
        "App down in the middle of the sale. Classic.",
        "Login loop in the app. Reinstalled twice.",
        "Website works, app is completely broken. Android.",
        "Is there a status page? The app has been down for ages.",
        ("Your app just logged me into someone else's account?! I can see their address. What "
         "is going on"),
        ("Tried to return something in store and the till couldn't find my order because the "
        "app is down."),
        "Acme app down for an hour now. Any ETA?",
        "Status page says 'all systems operational'. The app says otherwise.",
        "Die App stürzt ständig ab. Geht das nur mir so?",
        "La app no funciona. ¿Alguien más?",
    ),
    "charged_twice": (
        "Just got charged twice for the same order. {amount} x2. What is going on?",
        "Checked my bank: two identical charges from Acme Outfitters, {amount} each.",
        "Same here, double charge on {order}.",
        "Are you aware your payment system is double-charging people? It's all over my feed.",
        "Card got charged THREE times for one jacket. Reverse this TODAY.",
        "If this double charge isn't fixed by tomorrow I'm calling my bank for a chargeback.",
        "Overdraft fee thanks to your double charge. Who's paying that?",
        ("Hi, I think I've been charged twice too ({amount}). Could you check order {order}? "
         "Thank you."),
        "Doppelt abgebucht, {amount}. Bitte sofort erstatten.",
        "Cobro duplicado de {amount}. Quiero mi dinero ya.",
        "Rent is due and you've taken {amount} twice. This is serious.",
        "My bank flagged the second {amount} charge as suspicious. Was it you or a fraudster?",
        "Double charged, and support chat says 'wait 10 business days'. No.",
        "Charged twice for order {order}. Who do I talk to?",
    ),
    "checkout_error": (
        "Checkout keeps failing with 'payment declined' but my card is fine.",
        "Sale started and the site is on fire. Error 503 on every page.",
        "Basket emptied itself at the payment step. Third time now.",
        "Can't complete checkout, spinner forever. Anyone else?",
        "Sold out while I was stuck on your broken payment page. Brilliant.",
        "Checkout error code PX-502. What does that mean?",
        "Tried three cards. All 'declined'. My bank says they never saw the request.",
        "Got an order confirmation AND a payment-failed email. Which is it??",
        "Is the website down or is it just me?",
        "Waited all year for this sale and the site crashes. Never again.",
        "Payment went through on my bank's side but the site says the order failed.",
        ("Site keeps timing out at 'Place order'. Is it safe to try again or will I be charged "
        "twice?"),
    ),
    "shipping_delay": (
        "Got an email saying order {order} is delayed 'indefinitely'?? What does that mean?",
        "Is everyone's parcel stuck? Mine hasn't moved in {days} days.",
        "Tracking says 'exception' for {order}. No one can tell me what that is.",
        "Needed my order for a trip on {weekday}. Now it won't arrive in time. Great.",
        ("Half my order arrived, the other half is 'delayed'. Guess which half has the tent. "
         "Not mine."),
        "Any official update on the delivery delays? Lots of us waiting.",
        "Ordered {days} days ago with next-day delivery. I want my shipping fee back.",
        "Paket {order} hängt seit Tagen im Verteilzentrum.",
        "Colis bloqué depuis {days} jours, aucune info.",
        "Delivery delayed again. Cancel it and refund me, please.",
        "Carrier says they never received my parcel from you. Order {order}.",
        "Three delivery dates, three no-shows. What's going on at Acme?",
    ),
    "phishing": (
        "Got a text 'from Acme' asking me to confirm my card details. Is this you??",
        "Warning: fake Acme 'refund' emails going round. Don't click the link.",
        "Did Acme get hacked? Why do scammers know my order number {order}?",
        "If my data leaked from your site I want to know NOW.",
        "Scam email with my full name, address and last order. Only Acme had that. Explain.",
        "Clicked the fake Acme link before I realised. Bank card cancelled. Thanks a lot.",
        "Has Acme reported a data breach? Asking before I report it myself.",
        "PSA: Acme will never ask for your password. Someone is pretending they do.",
        "Third phishing text this week pretending to be Acme. Do something.",
        "My account password was changed and I didn't do it. Locked out.",
        "Why does a 'refund' text from Acme link to a site called acme-refunds-secure?",
        "Someone logged into my Acme account from another country last night.",
        "Please tell me you've reset everyone's passwords. My details are clearly out there.",
    ),
    "product_fault": (
        "Heard about the {product} {defect}. Is there a recall?",
        "Mine too!! {product}, {defect}. Thought it was just me.",
        "My {product} is {defect} after one outing. Seeing lots of the same online.",
        "Is the {product} safe to use? Lots of posts about {defect}.",
        "Returned my {product} today. The store said I'm the tenth this week.",
        "My daughter got hurt when her {product} failed. We need answers.",
        "Acme please comment on the {product} reports. People take these into the mountains.",
        "If the {product} is being recalled, how do I get my {amount} back?",
        "Leaving my {product} at home until Acme says something.",
        "Gleiches Problem hier: {product}. Gibt es einen Rückruf?",
        "Same thing happened to mine, {product}, {defect}. Photos attached.",
        "Guided group this weekend. Half of them have the {product}. Should we swap it out?",
    ),
}
BURST_PRODUCTS = (("Ridgeline 40L pack", "hip-belt buckle snapping"),
                  ("Ember camp stove", "fuel valve leaking"),
                  ("Headwall harness", "buckle slipping"),
                  ("Lumen headlamp", "battery overheating"),
                  ("Basecamp 2P tent", "poles cracking"),
                  ("Summit down jacket", "zip pull coming off"))


def _fields(template: str) -> tuple[str, ...]:
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


_FIELD_CACHE: dict[str, tuple[str, ...]] = {}


def _fill(template: str, rng: random.Random, lang: str, fixed: dict[str, str]) -> str:
    """The template with each slot filled (``fixed`` slots win, others drawn now)."""
    names = _FIELD_CACHE.get(template)
    if names is None:
        names = _FIELD_CACHE[template] = _fields(template)
    if not names:
        return template
    values: dict[str, str] = {}
    plural = False
    for name in names:
        if name in values:
            continue
        agree = AGREE.get(name)
        if agree is not None:
            values[name] = agree[plural]
            continue
        value = fixed.get(name)
        if value is None:
            group = GROUPS.get(name)
            if group is not None:
                value = rng.choice(group)
                while value in values.values():  # two products in one post differ
                    value = rng.choice(group)
            else:
                value = _slot(name, rng, lang)
                if name == "colour2":
                    while value == values.get("colour"):
                        value = _slot(name, rng, lang)
        if name in GROUPS:
            plural = value in PLURAL
        values[name] = value
    return template.format_map(values)


def _amount(rng: random.Random, lang: str) -> str:
    whole = rng.choice((19, 24, 39, 49, 59, 64, 79, 89, 119, 129, 149, 189, 219, 249, 289,
                        349, 419))
    cents = rng.choice(("00", "95", "99", "50"))
    if lang in ("de", "fr", "es"):
        return f"{whole},{cents} €"
    currency = rng.choice(("$", "$", "$", "£", "€"))
    return f"{currency}{whole}.{cents}"


def _order(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.6:
        return f"#AO-{rng.randint(100000, 999999)}"
    if style < 0.85:
        return f"AO{rng.randint(1000000, 9999999)}"
    return f"{rng.randint(40000000, 49999999)}"


def _slot(name: str, rng: random.Random, lang: str) -> str:
    if name == "size":
        return rng.choice(SIZES)
    if name == "shoe_size":
        return rng.choice(SHOE_SIZES)
    if name in ("colour", "colour2"):
        return rng.choice(COLOURS)
    if name == "city":
        return rng.choice({"de": CITIES_DE, "es": CITIES_ES, "fr": CITIES_FR}.get(lang, CITIES))
    if name == "place":
        return rng.choice(PLACES)
    if name == "order":
        return _order(rng)
    if name == "amount":
        return _amount(rng, lang)
    if name == "days":
        return str(rng.randint(3, 14))
    if name == "weeks":
        return rng.choice(("three", "four", "five", "six", "seven", "3", "4", "5", "6", "8"))
    if name == "hours":
        return str(rng.choice((6, 9, 12, 18, 24, 30, 36, 48, 72)))
    if name == "weekday":
        return rng.choice(WEEKDAYS)
    if name == "weekday_de":
        return rng.choice(WEEKDAYS_DE)
    if name == "weekday_es":
        return rng.choice(WEEKDAYS_ES)
    if name == "weekday_fr":
        return rng.choice(WEEKDAYS_FR)
    if name == "country":
        return rng.choice(COUNTRIES)
    if name == "staff":
        return rng.choice(STAFF)
    if name == "km":
        return str(rng.choice((12, 18, 25, 30, 42, 60, 100, 160)))
    if name == "ticket":
        return f"#{rng.randint(200000, 999999)}"
    raise KeyError(name)


def _weighted(rng: random.Random, pairs) -> str:
    total = sum(w for _, w in pairs)
    pick = rng.random() * total
    for value, weight in pairs:
        pick -= weight
        if pick < 0:
            return value
    return pairs[-1][0]


# --------------------------------------------------------------------------- authors


@dataclass(frozen=True, slots=True)
class _Author:
    platform: str
    handle: str
    name: str | None
    followers: int
    lang: str
    persona: str = "any"  # fan | asker | grumbler | any | big
    home: str = ""  # mastodon instance / bluesky profile key, for URLs


def _username(rng: random.Random, first: str, last: str) -> str:
    first_l = _ascii(first).lower()
    last_l = _ascii(last).lower().replace("'", "")
    style = rng.randrange(6)
    if style == 0:
        return first_l
    if style == 1:
        return f"{first_l}{last_l[0]}"
    if style == 2:
        return f"{first_l}_{rng.choice(NOUNS)}"
    if style == 3:
        return f"{rng.choice(ADJS)}{rng.choice(NOUNS)}"
    if style == 4:
        return f"{first_l}{last_l}"
    return f"{rng.choice(NOUNS)}{first_l}{rng.randint(2, 99)}"


_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "á": "a", "é": "e",
                        "í": "i", "ó": "o", "ú": "u", "ñ": "n", "è": "e", "ê": "e", "à": "a",
                        "ç": "c", "Á": "A", "É": "E", "Í": "I", "Ó": "O", "Ú": "U", "À": "A",
                        "Ü": "Ue", "Ö": "Oe", "Ä": "Ae"})


def _ascii(text: str) -> str:
    return text.translate(_ASCII)


def _followers(rng: random.Random, platform: str) -> int:
    if platform in ("rss", "webhook"):
        return 0
    # A long tail: most people have a few dozen to a few hundred, a few have thousands.
    value = int((rng.paretovariate(1.15) - 1.0) * 90) + rng.randint(0, 40)
    cap = 2_500 if platform == "reddit" else 30_000
    return min(value, cap)


def _new_author(rng: random.Random, platform: str, lang: str, persona: str = "any") -> _Author:
    first = rng.choice(FIRST[lang])
    last = rng.choice(LAST[lang])
    followers = _followers(rng, platform)
    if platform == "mastodon":
        user = _username(rng, first, last)
        instance = rng.choice(INSTANCES[lang])
        name = first + (f" {last}" if rng.random() < 0.4 else "") + rng.choice(NAME_EMOJI)
        return _Author(platform, f"{user}@{instance}", name, followers, lang, persona,
                       home=instance)
    if platform == "bluesky":
        name = f"{first} {last}" if rng.random() < 0.6 else first + rng.choice(NAME_EMOJI)
        if rng.random() < 0.3:
            did = "did:plc:" + "".join(rng.choice(B32) for _ in range(24))
            return _Author(platform, did, name, followers, lang, persona, home=did)
        handle = f"{_username(rng, first, last).replace('_', '-')}.bsky.social"
        return _Author(platform, handle, name, followers, lang, persona, home=handle)
    if platform == "reddit":
        style = rng.randrange(4)
        if style == 0:
            user = f"{rng.choice(ADJS).title()}{rng.choice(NOUNS).title()}{rng.randint(1, 999)}"
        elif style == 1:
            user = f"throwaway_{rng.randint(1000, 99999)}"
        elif style == 2:
            user = f"{_ascii(first).lower()}_hikes"
        else:
            user = f"{rng.choice(NOUNS)}_{rng.choice(ADJS)}_{rng.randint(10, 99)}"
        return _Author(platform, user, user, followers, lang, persona)
    if platform == "rss":
        name = f"{first} {last[0]}." if rng.random() < 0.7 else f"{first}{rng.randint(1, 99)}"
        return _Author(platform, name, name, 0, lang, persona)
    # webhook: the web form's customer number
    return _Author(platform, f"webform:cust_{rng.randint(10000, 99999)}", f"{first} {last}",
                   0, lang, persona)


def _pick_lang(rng: random.Random) -> str:
    x = rng.random()
    if x < 0.93:
        return "en"
    if x < 0.96:
        return "de"
    if x < 0.98:
        return "es"
    return "fr"


PERSONA_WEIGHTS = {
    "fan": (("praise", 60), ("question", 25), ("chat", 15)),
    "asker": (("question", 70), ("complaint", 20), ("praise", 10)),
    "grumbler": (("complaint", 50), ("serious", 20), ("question", 20), ("praise", 10)),
}
CATEGORY_WEIGHTS = (
    ("praise", 30.0), ("question", 30.0), ("complaint", 20.0), ("serious", 12.0),
    ("spam", 2.8), ("chat", 2.8), ("emoji", 1.6), ("hostile", 0.8),
)
BIG_WEIGHTS = (("neutral", 45), ("praise", 35), ("big_complaint", 20))


# --------------------------------------------------------------------------- the script


@dataclass(slots=True)
class _Post:
    n: int
    author: _Author
    text: str
    kind: str
    lang: str | None
    in_reply_to: str | None = None
    thread: int = 0  # 0 = not a thread follow-up; 1.. = follow-up stage
    burst: str | None = None
    regular: bool = False
    big: bool = False
    author_name: str | None = None  # overrides author.name (hostile names)
    slug: str = ""


@dataclass(slots=True)
class _Thread:
    author: _Author
    lang: str
    slots: dict[str, str]
    stages: list[int]  # the follow-ups still to come, by stage (1 nudge, 2 threats, 3 done)
    previous: str
    regular: bool


@dataclass(slots=True)
class _BlockPlan:
    index: int
    posts: list[_Post] = field(default_factory=list)


class DemoScript:
    """The deterministic sequence of demo posts for one seed and burst period (in posts)."""

    def __init__(self, seed: int = DEFAULT_SEED, burst_period: int = 180):
        self.seed = int(seed)
        self.burst_period = int(burst_period) if burst_period and burst_period > 0 else 0
        if self.burst_period:
            self.burst_period = max(self.burst_period, 10)
        self._block: _BlockPlan | None = None
        self._bursts: dict[int, tuple[int, int, str, tuple[str, str], int]] = {}
        rng = random.Random(f"heatdesk-demo:{self.seed}:regulars")
        personas = ("fan", "fan", "asker", "asker", "grumbler", "any")
        self.regulars = [
            _new_author(rng, _weighted(rng, PLATFORM_WEIGHTS),
                        "en" if rng.random() < 0.85 else rng.choice(("de", "es", "fr")),
                        personas[i % len(personas)])
            for i in range(24)
        ]
        self.bigs = [_Author(p, h, name, f, "en", "big", home=h.split("@")[-1] if p ==
                             "mastodon" else h) for p, h, name, f in BIG_ACCOUNTS]

    def external_id(self, n: int) -> str:
        return f"demo-{self.seed}-{n}"

    # -- bursts: a pure function of the post index, so any block can be planned alone

    def _burst_window(self, k: int) -> tuple[int, int, str, tuple[str, str], int]:
        """Burst ``k``: (first index, length, theme, (product, defect), big-account slot)."""
        hit = self._bursts.get(k)
        if hit is None:
            rng = random.Random(f"heatdesk-demo:{self.seed}:burst:{k}")
            period = self.burst_period
            length = min(rng.randint(10, 24), max(3, period // 3))
            offset = int(period * rng.uniform(0.25, 0.6))
            offset = min(offset, period - length)
            theme = rng.choice(sorted(BURSTS))
            fault = rng.choice(BURST_PRODUCTS)
            # about half the waves get picked up by one big account, part-way through
            amplifier = rng.randrange(length // 3, length) if rng.random() < 0.5 else -1
            hit = (k * period + offset, length, theme, fault, amplifier)
            if len(self._bursts) > 64:
                self._bursts.clear()
            self._bursts[k] = hit
        return hit

    def _burst_deck(self, k: int, theme: str) -> list[str]:
        """Burst ``k``'s templates in a shuffled order, so one wave rarely repeats itself."""
        deck = list(BURSTS[theme])
        random.Random(f"heatdesk-demo:{self.seed}:deck:{k}").shuffle(deck)
        return deck

    def burst_at(self, index: int) -> tuple[int, int, str, tuple[str, str]] | None:
        """The burst (k, position in it, theme, fault) covering post ``index`` (0-based)."""
        if not self.burst_period:
            return None
        k = index // self.burst_period
        first, length, theme, fault, _ = self._burst_window(k)
        if first <= index < first + length:
            return k, index - first, theme, fault
        return None

    # -- posts

    def post(self, n: int) -> _Post:
        """Post number ``n`` (1-based)."""
        if n < 1:
            raise ValueError("posts are numbered from 1")
        index = n - 1
        b, j = divmod(index, BLOCK)
        if self._block is None or self._block.index != b:
            self._block = self._plan(b)
        return self._block.posts[j]

    def mention(self, n: int, created_at: datetime, source: str | None = None) -> Mention:
        """Post ``n`` as a Mention created at ``created_at``."""
        p = self.post(n)
        a = p.author
        return Mention(
            platform=a.platform,
            external_id=self.external_id(n),
            author=a.handle,
            text=p.text,
            created_at=created_at,
            author_name=p.author_name or a.name,
            followers=a.followers,
            url=self._url(p),
            in_reply_to=p.in_reply_to,
            lang=p.lang,
            raw={"demo": {"seq": n, "kind": p.kind, "thread": p.thread, "burst": p.burst,
                          "regular": p.regular, "big": p.big}},
            source=source,
        )

    def _url(self, p: _Post) -> str | None:
        a, n = p.author, p.n
        if a.platform == "mastodon":
            user = a.handle.split("@")[0]
            return f"https://{a.home}/@{user}/{(1093 + self.seed % 1000) * 10**14 + n}"
        if a.platform == "bluesky":
            return f"https://bsky.app/profile/{a.home}/post/{self._rkey(n)}"
        if a.platform == "reddit":
            base = _base36(1_900_000_000 + self.seed * 7_919_000 + n * 37)
            return f"https://www.reddit.com/r/{SUBREDDIT}/comments/{base}/"
        if a.platform == "rss":
            return f"{BLOG}/{p.slug}/#comment-{self.seed}{n:07d}"
        return None  # a web-form submission has no public address

    def _rkey(self, n: int) -> str:
        value = 1_732_000_000_000_000 + self.seed * 10**12 + n * 1_000
        chars = []
        for _ in range(13):
            value, r = divmod(value, 32)
            chars.append(B32[r])
        return "".join(reversed(chars))

    def _plan(self, b: int) -> _BlockPlan:
        rng = random.Random(f"heatdesk-demo:{self.seed}:block:{b}")
        base = b * BLOCK
        pending: dict[int, _Thread] = {}
        plan = _BlockPlan(b)
        for j in range(BLOCK):
            index = base + j
            n = index + 1
            burst = self.burst_at(index)
            if burst is not None:
                plan.posts.append(self._burst_post(n, *burst))
                continue
            thread = pending.pop(j, None)
            if thread is not None:
                post = self._followup(n, thread, rng)
            else:
                post, thread = self._fresh(n, rng)
            plan.posts.append(post)
            if thread is not None and thread.stages:
                target = j + rng.randint(3, 40)
                while target < BLOCK and (target in pending
                                          or self.burst_at(base + target) is not None):
                    target += 1
                if target < BLOCK:
                    pending[target] = thread
        return plan

    def _decorate(self, text: str, author: _Author, rng: random.Random, kind: str) -> str:
        """Platform habits: @-mentions, web-form greetings, lowercase, hashtags."""
        platform = author.platform
        if platform == "mastodon":
            x = rng.random()
            if x < 0.7:
                text = f"@{MASTODON_HANDLE} {text}"
            elif x < 0.8:
                text = f"@acme {text}"
            elif kind in ("praise", "complaint", "question"):
                text = f"{text} #AcmeOutfitters"
        elif platform == "bluesky":
            if rng.random() < 0.6:
                text = f"@{BLUESKY_HANDLE} {text}"
        elif platform == "webhook" and author.lang == "en":
            if kind != "followup" and rng.random() < 0.6:
                text = rng.choice(("Hello! ", "Hi Acme team! ", "Hi there. ",
                                   "Good afternoon. ", "Hello Acme. ")) + text
            if rng.random() < 0.4:
                first = (author.name or "").split(" ")[0]
                text += rng.choice((f" Regards, {first}", f" Thanks, {first}",
                                    f" — {author.name}", f" Kind regards, {author.name}"))
        elif platform == "reddit" and kind == "question" and rng.random() < 0.3:
            text = rng.choice(("Question: ", "Quick question: ", "[Help] ")) + text
        if platform in ("mastodon", "bluesky", "reddit") and rng.random() < 0.06:
            text = text.lower()
        return text

    def _english(self, kind: str, rng: random.Random, slots: dict[str, str]) -> str:
        """An English post of ``kind``: a template, maybe an extra sentence, a tail."""
        if kind == "praise":
            text = _fill(rng.choice(PRAISE), rng, "en", slots)
            if rng.random() < 0.3:
                text += " " + _fill(rng.choice(PRAISE_EXTRA), rng, "en", slots)
            return text + rng.choice(PRAISE_TAIL)
        if kind == "question":
            text = _fill(rng.choice(QUESTION), rng, "en", slots)
            if rng.random() < 0.25:
                text = _fill(rng.choice(QUESTION_PRE), rng, "en", slots) + text
            return text + rng.choice(QUESTION_TAIL)
        if kind in ("complaint", "serious"):
            table, extras, tails = ((COMPLAINT, COMPLAINT_EXTRA, COMPLAINT_TAIL)
                                    if kind == "complaint"
                                    else (SERIOUS, SERIOUS_EXTRA, SERIOUS_TAIL))
            template = rng.choice(table)
            text = _fill(template, rng, "en", slots)
            if rng.random() < 0.3:
                extra = rng.choice(extras)
                if "{order}" not in extra or "{order}" not in template:
                    text += " " + _fill(extra, rng, "en", slots)
            return text + rng.choice(tails)
        if kind == "spam":
            return rng.choice(SPAM)
        return _fill(rng.choice(CHAT), rng, "en", slots) + rng.choice(("", "", " 😄", " 🏔️"))

    def _fresh(self, n: int, rng: random.Random) -> tuple[_Post, _Thread | None]:
        who = rng.random()
        regular = big = False
        if who < 0.015:
            author = rng.choice(self.bigs)
            big = True
            kind = _weighted(rng, BIG_WEIGHTS)
        else:
            if who < 0.105:
                author = rng.choice(self.regulars)
                regular = True
            else:
                platform = _weighted(rng, PLATFORM_WEIGHTS)
                author = _new_author(rng, platform, _pick_lang(rng))
            weights = PERSONA_WEIGHTS.get(author.persona)
            if weights is not None and rng.random() < 0.7:
                kind = _weighted(rng, weights)
            else:
                kind = _weighted(rng, CATEGORY_WEIGHTS)
        lang: str | None = author.lang
        author_name = None
        thread = None
        foreign = FOREIGN.get(author.lang)
        # A serious complaint's order, amount and weeks carry over into its thread.
        slots: dict[str, str] = {}
        if kind == "serious" and not big:
            slots = {"order": _order(rng), "amount": _amount(rng, author.lang),
                     "weeks": rng.choice(("three", "four", "five", "six", "3", "5", "7"))
                     if foreign is None else str(rng.randint(3, 8))}
        if big:
            table = {"neutral": BIG_NEUTRAL,
                     "praise": BIG_PRAISE if rng.random() < 0.7 else PRAISE,
                     "big_complaint": BIG_COMPLAINT}[kind]
            kind = "complaint" if kind == "big_complaint" else kind
            if kind == "complaint" and rng.random() < 0.4:
                kind = "serious"
            text = _fill(rng.choice(table), rng, "en", slots)
            text = self._decorate(text, author, rng, kind)
        elif foreign is not None and kind in ("praise", "question", "complaint", "serious"):
            text = _fill(rng.choice(foreign[kind]), rng, author.lang, slots)
            text = self._decorate(text, author, rng, kind)
        elif kind == "emoji":
            text, lang = rng.choice(EMOJI), None
        elif kind == "hostile":
            lang = "en"
            text = _fill(rng.choice(HOSTILE), rng, "en", slots)
            if rng.random() < 0.3:
                author_name = rng.choice(HOSTILE_NAMES)
        else:
            lang = "en"  # spam and chit-chat are in English whoever writes them
            text = self._decorate(self._english(kind, rng, slots), author, rng, kind)
        if kind == "serious" and not big and rng.random() < 0.4:
            # 2-4 posts in all; a short thread jumps straight to threats.
            stages = rng.choice(([2], [3], [1, 3], [2, 3], [1, 2, 3], [1, 2, 3]))
            thread = _Thread(author, author.lang, slots, stages, self.external_id(n), regular)
        post = _Post(n, author, text, kind, lang, regular=regular, big=big,
                     author_name=author_name, slug=rng.choice(BLOG_POSTS))
        return post, thread

    def _followup(self, n: int, thread: _Thread, rng: random.Random) -> _Post:
        stage = thread.stages.pop(0)
        foreign = FOREIGN.get(thread.lang)
        if foreign is not None:
            template = rng.choice(foreign["followup"][stage - 1])
        elif stage == 2 and rng.random() < 0.75:
            template = f"{rng.choice(THREAT_OPENERS)} {rng.choice(THREATS)}"
        elif stage == 3 and rng.random() < 0.8:
            actions = rng.sample(FINAL_ACTIONS, rng.choice((1, 1, 2)))
            template = " ".join([rng.choice(FINAL_OPENERS), *actions,
                                 rng.choice(FINAL_CLOSERS)]).rstrip()
        else:
            template = rng.choice(FOLLOWUP[stage - 1])
        text = _fill(template, rng, thread.lang, thread.slots)
        text = self._decorate(text, thread.author, rng, "followup")
        post = _Post(n, thread.author, text, "followup", thread.lang,
                     in_reply_to=thread.previous, thread=stage, regular=thread.regular,
                     slug=rng.choice(BLOG_POSTS))
        thread.previous = self.external_id(n)
        return post

    def _burst_post(self, n: int, k: int, pos: int, theme: str,
                    fault: tuple[str, str]) -> _Post:
        rng = random.Random(f"heatdesk-demo:{self.seed}:burst:{k}:{pos}")
        fixed = {"product": fault[0], "defect": fault[1]}
        if pos == self._burst_window(k)[4]:  # a big account amplifies the wave
            author = rng.choice(self.bigs)
            headline = _fill(BURST_HEADLINES[theme], rng, "en", fixed)
            text = rng.choice(BIG_AMPLIFY).format(headline=headline)
            text = self._decorate(text, author, rng, "serious")
            return _Post(n, author, text, "serious", "en", burst=theme, big=True)
        template = self._burst_deck(k, theme)[pos % len(BURSTS[theme])]
        lang = _BURST_LANGS.get(template, "en")
        regular = lang == "en" and rng.random() < 0.08
        if regular:
            author = rng.choice(self.regulars)
        else:
            author = _new_author(rng, _weighted(rng, PLATFORM_WEIGHTS), lang)
        text = _fill(template, rng, lang, fixed)
        if lang == "en" and author.platform in ("mastodon", "bluesky", "reddit"):
            tails = ("", "", "", " 😡", " 🙄", " Anyone?")
            if theme in ("app_down", "checkout_error"):
                tails += (" #AcmeDown",)
            text += rng.choice(tails)
        text = self._decorate(text, author, rng, "complaint")
        return _Post(n, author, text, "serious" if theme in SERIOUS_BURSTS else "complaint",
                     lang, burst=theme, regular=regular, slug=rng.choice(BLOG_POSTS))


BURST_HEADLINES = {
    "app_down": "the app being down", "charged_twice": "double charges",
    "checkout_error": "checkout failing", "shipping_delay": "parcels stuck for days",
    "phishing": "phishing messages that know their order numbers",
    "product_fault": "the {product} {defect}",
}
BIG_AMPLIFY = (
    "Lots of reports coming in about {headline} at Acme. Acme, any update for your customers?",
    ("Our mentions are full of Acme customers reporting {headline} today. Acme, please say "
    "something."),
    "Is anyone else seeing this? Dozens of people posting about {headline} at Acme.",
    "Acme has a problem today: {headline}. We've asked them what happened.",
)
SERIOUS_BURSTS = frozenset({"charged_twice", "phishing", "product_fault"})
_BURST_LANGS = {t: lang for theme in BURSTS.values() for t in theme
                for lang, words in (("de", ("Die App", "Doppelt", "Paket", "Gleiches")),
                                    ("es", ("La app", "Cobro")), ("fr", ("Colis",)))
                if t.startswith(words)}


def _base36(value: int) -> str:
    chars = []
    while value:
        value, r = divmod(value, 36)
        chars.append(B36[r])
    return "".join(reversed(chars)) or "0"


def _burst_period(burst_every: float, rate: float) -> int:
    if not burst_every or burst_every <= 0:
        return 0
    return max(10, round(burst_every * (rate if rate > 0 else DEFAULT_RATE)))


def demo_mentions(n: int, seed: int = DEFAULT_SEED, start: datetime | None = None,
                  spacing_s: float = 1.0, *, burst_every: float = DEFAULT_BURST_EVERY,
                  first: int = 1) -> list[Mention]:
    """``n`` demo mentions (posts ``first`` … ``first + n - 1``) with planned timestamps.

    Consecutive mentions are ``spacing_s`` apart, burst posts a fifth of that; ``start``
    is the first one's time (default: so that the last one is "now"). The posts are the
    ones a ``DemoFeed(rate=1/spacing_s, seed=seed)`` emits. ``source`` is "demo", so
    replies to them go to the sandbox.
    """
    rate = 1.0 / spacing_s if spacing_s > 0 else DEFAULT_RATE
    script = DemoScript(seed, _burst_period(burst_every, rate))
    offsets: list[float] = []
    at = 0.0
    for k in range(n):
        if k:
            fast = script.burst_at(first + k - 1) is not None
            at += spacing_s * (0.2 if fast else 1.0)
        offsets.append(at)
    if start is None:
        start = datetime.now(UTC) - timedelta(seconds=offsets[-1] if offsets else 0)
    elif start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return [script.mention(first + k, start + timedelta(seconds=offsets[k]), "demo")
            for k in range(n)]


class DemoFeed(FeedAdapter):
    """An endless (or ``count``-long) stream of Acme Outfitters mentions, offline."""

    kind = "demo"
    platform = "demo"

    def __init__(self, name, options, env=None):
        super().__init__(name, options, env)
        self.rate = self._number("rate", DEFAULT_RATE, float)
        self.seed = self._number("seed", DEFAULT_SEED, int)
        self.burst_every = self._number("burst_every", DEFAULT_BURST_EVERY, float)
        count = self.options.get("count")
        self.count = None if count is None else self._number("count", 0, int)
        if self.rate < 0:
            raise ConfigError(f"demo feed {name!r}: rate must be 0 or more")
        if self.burst_every < 0:
            raise ConfigError(f"demo feed {name!r}: burst_every must be 0 or more")
        if self.count is not None and self.count < 0:
            raise ConfigError(f"demo feed {name!r}: count must be 0 or more")
        self.script = DemoScript(self.seed, _burst_period(self.burst_every, self.rate))

    def _number(self, key: str, default, kind):
        value = self.options.get(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            raise ConfigError(f"demo feed {self.name!r}: {key} must be a number, not {value!r}")
        return int(number) if kind is int else number

    @property
    def finite(self) -> bool:
        return self.count is not None

    async def stream(self, cursor: str | None) -> AsyncIterator[FeedItem]:
        n = int(cursor) if cursor and cursor.strip().isdigit() else 0
        timing = random.Random(f"heatdesk-demo:{self.seed}:timing:{n}")
        rate = self.rate
        burst_rate = max(rate * BURST_SPEEDUP, MIN_BURST_GAP_RATE)
        next_at = _monotonic()
        emitted = 0
        while self.count is None or n < self.count:
            n += 1
            if rate > 0:
                if emitted:
                    if self.script.burst_at(n - 1) is not None:
                        gap = timing.uniform(0.4, 1.6) / burst_rate
                    else:
                        gap = min(max(timing.expovariate(rate), 0.1 / rate), 5.0 / rate)
                    next_at += gap
                    delay = next_at - _monotonic()
                    if delay > 0:
                        await _sleep(delay)
                    elif delay < -5.0:  # the consumer stalled: carry on, don't rush to catch up
                        next_at = _monotonic()
                else:
                    next_at = _monotonic()
            yield self.script.mention(n, datetime.now(UTC), self.name)
            emitted += 1
            if n % CURSOR_EVERY == 0:
                yield Cursor(str(n))
                if rate == 0:
                    await _sleep(0)
        yield Cursor(str(n))
