"""The desk's keymap as data: every action once, with its default keys and its help text.

CONTRACTS.md lists the defaults; a config's ``[keys]`` table maps an action name to other
keys (``claim = "ctrl+k"``, several keys comma-separated). Bindings carry the id
``desk.<action>``, so the remapping is Textual's own keymap (``App.set_keymap``), and the
footer, the help screen and the command palette all show the keys actually in force.

Decisions: actions without a default key (reopen, wait, assign, score…) are still
actions: the palette lists them and ``[keys]`` can bind them. Unknown action names in
``[keys]`` are reported once as a notification rather than refused, so an old config
never stops the desk from starting.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class DeskAction:
    """One thing an agent can do from the keyboard."""

    name: str  # the action method is ``action_<name>`` on the desk screen
    keys: str | None  # default keys, comma-separated (Textual key names), or None
    description: str  # short, for the footer
    help: str  # one line, for the help screen and the command palette
    group: str  # help screen section
    footer: bool = False  # shown in the footer by default


ACTIONS: tuple[DeskAction, ...] = (
    # moving around
    DeskAction("cursor_down", "j,down", "Next", "next case", "Move"),
    DeskAction("cursor_up", "k,up", "Prev", "previous case", "Move"),
    DeskAction("cursor_top", "g,home", "Top", "first case", "Move"),
    DeskAction("cursor_bottom", "G,end", "Bottom", "last case", "Move"),
    DeskAction("open_case", "enter", "Open", "open the case in the side pane", "Move"),
    DeskAction("switch_pane", "tab", "Pane", "move focus queue ↔ timeline", "Move"),
    DeskAction("close_pane", "escape", "Back", "clear the filter / close the side pane "
               "(narrow screens)", "Move"),
    # working a case
    DeskAction("claim", "c", "Claim", "claim the case (marked cases: claim them all)", "Case",
               True),
    DeskAction("release", "C", "Release", "release your claim", "Case"),
    DeskAction("reply", "r", "Reply", "reply in public", "Case", True),
    DeskAction("acknowledge", "a", "Ack", "acknowledge in public with a promised time", "Case",
               True),
    DeskAction("offline", "o", "Offline", "take offline: DM, phone or email", "Case"),
    DeskAction("escalate", "e", "Escalate", "escalate to a supervisor or executive", "Case",
               True),
    DeskAction("note", "n", "Note", "internal note (never sent)", "Case"),
    DeskAction("resolve", "x", "Resolve", "resolve (marked cases: resolve them all)", "Case",
               True),
    DeskAction("close_loop", "l", "Close loop", "close the loop: resolve and ask for a "
               "follow-up", "Case"),
    DeskAction("tag", "t", "Tag", "tag or untag (marked cases: tag them all)", "Case"),
    DeskAction("snooze", "z", "Snooze", "snooze until later", "Case"),
    DeskAction("undo", "u", "Undo", "unsend your last reply within the undo window", "Case"),
    DeskAction("reopen", None, "Reopen", "reopen a resolved case", "Case"),
    DeskAction("wait_customer", None, "Waiting", "mark as waiting on the customer", "Case"),
    DeskAction("score", None, "Score", "QA score a handled case (1–5)", "Case"),
    # the queue
    DeskAction("toggle_mark", "space", "Mark", "mark for a bulk action", "Queue"),
    DeskAction("clear_marks", None, "Unmark all", "clear every mark", "Queue"),
    DeskAction("assign_marked", None, "Assign…", "assign the marked cases to an agent",
               "Queue"),
    DeskAction("cycle_sort", "s", "Sort", "cycle the sort key", "Queue"),
    DeskAction("reverse_sort", "S", "Reverse", "reverse the sort", "Queue"),
    DeskAction("filter", "slash", "Filter", "filter the queue (esc clears)", "Queue", True),
    DeskAction("view_open", "1", "Open", "view: open cases", "Views"),
    DeskAction("view_mine", "2", "Mine", "view: my cases", "Views"),
    DeskAction("view_escalated", "3", "Escalated", "view: escalated cases", "Views"),
    DeskAction("view_breaching", "4", "Breaching", "view: cases past their SLA", "Views"),
    DeskAction("view_resolved_today", "5", "Resolved", "view: resolved today", "Views"),
    DeskAction("view_all", None, "All", "view: every case", "Views"),
    # the desk
    DeskAction("wallboard", "w", "Wallboard", "show the wallboard", "Desk"),
    DeskAction("help", "question_mark", "Help", "this help", "Desk", True),
    DeskAction("command_palette", "ctrl+p", "Commands", "the command palette", "Desk"),
    DeskAction("quit", "q", "Quit", "quit (asks first if replies are still unsent)", "Desk",
               True),
)

BY_NAME = {a.name: a for a in ACTIONS}
ID_PREFIX = "desk."
# The queue widget binds some of the same actions itself (when it has focus); remapping
# an action remaps both bindings.
QUEUE_IDS = {"cursor_down": "queue.next", "cursor_up": "queue.previous",
             "cursor_top": "queue.top", "cursor_bottom": "queue.bottom",
             "toggle_mark": "queue.mark", "open_case": "queue.open"}


def binding_id(action: str) -> str:
    """The Textual binding id for a desk action."""
    return ID_PREFIX + action


# The footer shows bindings in order; at 80 columns only the first few fit, so the
# ones an agent needs most come first (help lists the rest).
FOOTER_ORDER = ("claim", "reply", "acknowledge", "resolve", "help", "escalate", "filter",
                "quit")


def desk_bindings() -> list[Binding]:
    """Bindings for every action that has a default key (footer ones first, in order)."""
    out = []
    first = {name: i for i, name in enumerate(FOOTER_ORDER)}
    for a in sorted(ACTIONS, key=lambda a: first.get(a.name, len(first))):
        if a.keys is None:
            continue
        # The command palette lives on the app; the desk's binding just forwards to it.
        out.append(Binding(a.keys, a.name, a.description, show=a.footer, id=binding_id(a.name)))
    return out


def keymap_from_config(keys: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Textual keymap (binding id → keys) from a config's ``[keys]``, plus unknown names."""
    keymap, unknown = {}, []
    for action, key in keys.items():
        name = action.replace("-", "_")
        if name not in BY_NAME:
            unknown.append(action)
            continue
        keymap[binding_id(name)] = key
        if name in QUEUE_IDS:
            keymap[QUEUE_IDS[name]] = key
    return keymap, unknown


def unbound_actions(keys: dict[str, str]) -> list[Binding]:
    """Bindings for actions without a default key that the config gives one."""
    out = []
    for action, key in keys.items():
        a = BY_NAME.get(action.replace("-", "_"))
        if a is not None and a.keys is None:
            out.append(Binding(key, a.name, a.description, show=False, id=binding_id(a.name)))
    return out


_KEY_NAMES = {"slash": "/", "question_mark": "?", "space": "space", "escape": "esc",
              "enter": "enter", "down": "↓", "up": "↑", "home": "home", "end": "end",
              "tab": "tab", "number_sign": "#", "asterisk": "*", "exclamation_mark": "!"}


def display_keys(keys: str) -> str:
    """Keys as a person reads them: ``j,down`` → ``j/↓``."""
    return "/".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))
