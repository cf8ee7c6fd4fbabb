"""Why a work-order request was refused, in the words of whoever reads it.

A refusal carries a code and parameters; its catalog text is ``wo.error.<code>``. ``str()`` is the English text
(logs, API clients, tests); :meth:`Refusal.text` renders any locale, with the parameters that are codes (an action,
a state, a side, return reasons, satisfaction values) shown by their labels.
"""

from __future__ import annotations

from typing import Any

from hub.i18n import t

# parameter name -> catalog prefix of the labels of its values
LABELLED = {
    "action": "action.",
    "state": "state.",
    "side": "side.",
    "reasons": "reason.",
    "choices": "satisfaction.",
}
LIST_SEPARATOR = {"zh-CN": "、", "en": ", "}


class Refusal(ValueError):
    """A refused work-order request; ``code`` names the reason, ``params`` fill its text."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(self.text("en", labels=False))

    def text(self, locale: str, *, labels: bool = True) -> str:
        """The reason in ``locale``; with ``labels`` the coded parameters are shown by their labels."""
        values = {name: self._value(name, value, locale, labels) for name, value in self.params.items()}
        return t(f"wo.error.{self.code}", locale, **values)

    @staticmethod
    def _value(name: str, value: Any, locale: str, labels: bool) -> str:
        items = list(value) if isinstance(value, list | tuple) else [value]
        prefix = LABELLED.get(name)
        shown = [t(f"{prefix}{item}", locale) if labels and prefix else str(item) for item in items]
        return (LIST_SEPARATOR.get(locale, ", ") if labels else ", ").join(shown)
