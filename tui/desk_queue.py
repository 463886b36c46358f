"""A plain stand-in for the queue widget (used only while tui/queue_view.py is missing)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.queue_model import QueueModel
from tui.safe_text import fit


class QueueView(ScrollView, can_focus=True):
    """Cases one per line: heat, status, customer, text."""

    class Highlighted(Message):
        def __init__(self, case_id: int | None) -> None:
            super().__init__()
            self.case_id = case_id

    class Selected(Message):
        def __init__(self, case_id: int) -> None:
            super().__init__()
            self.case_id = case_id

    def __init__(self, model: QueueModel, **kw) -> None:
        super().__init__(**kw)
        self.model = model
        self.cursor = 0
        self.presence: dict = {}
        model.add_listener(self._changed)

    def _changed(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.model))
        self.cursor = min(self.cursor, max(0, len(self.model) - 1))
        self.refresh()

    def on_mount(self) -> None:
        self._changed()

    def current_id(self) -> int | None:
        try:
            return self.model.id_at(self.cursor) if len(self.model) else None
        except IndexError:
            return None

    def goto(self, index: int) -> None:
        if not len(self.model):
            return
        self.cursor = max(0, min(index, len(self.model) - 1))
        self.scroll_to_region_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self.current_id()))

    def scroll_to_region_cursor(self) -> None:
        top, height = int(self.scroll_offset.y), self.size.height or 1
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def keep_on(self, case_id: int | None, scroll: bool = False) -> None:
        if case_id is None:
            return
        index = self.model.index_of(case_id)
        if index is not None and index != self.cursor:
            self.cursor = index
            if scroll:
                self.scroll_to_region_cursor()
            self.refresh()

    def set_presence(self, presence: dict) -> None:
        self.presence = presence
        self.refresh()

    def action_cursor_down(self) -> None:
        self.goto(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.goto(self.cursor - 1)

    def on_click(self, event) -> None:
        self.goto(int(self.scroll_offset.y) + event.y)

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.size.width
        if index >= len(self.model):
            return Strip([Segment(" " * width)])
        case_id = self.model.id_at(index)
        case = self.model.get(case_id)
        mark = "●" if case_id in self.model.marks else " "
        who = "◉" if self.presence.get(case_id) else " "
        text = (f"{mark}{who}{self.model.heat(case_id):5.1f} {case.status.value[:6]:<6} "
                f"{fit(case.customer, 18)} {case.last_text}")
        style = Style(reverse=True) if index == self.cursor else Style()
        return Strip([Segment(fit(text, width, ellipsis=True), style)])
