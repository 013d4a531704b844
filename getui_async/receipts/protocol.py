"""Getui's receipt lines (回执): parse one, verify its ``sign``, and say what its ``actionId`` means.

Getui POSTs newline-delimited JSON, one object per receipt, with ``appid``, ``cid``, ``taskid``,
``msgid``, ``code``, ``desc`` [doc] and, in the copies of the doc we have, ``sign``, ``actionId``,
``recvtime`` and ``alias`` [3p]. Since part of this comes from copies, parsing is tolerant: unknown
fields are kept (the original line is stored whole), an unknown ``actionId`` is kept by its number, and
a line without ``actionId`` is Getui's basic arrival receipt (stored under :data:`NO_ACTION_ID`).

``sign`` = hex MD5(appid + cid + taskid + msgid + master secret) [3p]: anyone who knows the URL can POST,
so a line whose sign does not verify, or that names another app, is refused and never stored.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeVar

from getui_async import _json
from getui_async.config import Secret

__all__ = [
    "ACTIONS",
    "FUNNEL",
    "NO_ACTION_ID",
    "Action",
    "Receipt",
    "Refusal",
    "Stage",
    "Verifier",
    "classify",
]

#: The ``actionId`` stored for a line that has none (the official doc's basic receipt: an arrival).
NO_ACTION_ID: Final = -1
#: Getui's "ok" receipt code; any other number is a failure (400: the APNs call failed).
CODE_OK: Final = 200


class Stage(str, enum.Enum):
    """What a receipt says happened to one push on one device."""

    ARRIVED = "arrived"
    DISPLAYED = "displayed"
    CLICKED = "clicked"
    FAILED = "failed"
    OTHER = "other"  # a custom (90000-90999) or unknown actionId: counted by number only

    def __str__(self) -> str:
        return self.value


#: The funnel's stages, in order: a later stage implies the earlier ones.
FUNNEL: Final = (Stage.ARRIVED, Stage.DISPLAYED, Stage.CLICKED)


class Refusal(str, enum.Enum):
    """Why a receipt line was refused (and never stored)."""

    BAD_JSON = "bad_json"  # not JSON, or JSON but not an object
    MISSING_FIELD = "missing_field"  # no appid, cid, taskid or msgid
    BAD_FIELD = "bad_field"  # a field of the wrong type (an actionId that is not a number)
    OTHER_APP = "other_app"  # another app's receipt: we cannot verify it, and it is not ours
    MISSING_SIGN = "missing_sign"
    BAD_SIGN = "bad_sign"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Action:
    """One ``actionId``: who reports it, what stage it means, a failure's reason, how sure we are."""

    action_id: int
    source: str
    stage: Stage
    label: str
    reason: str | None = None
    #: ``3p``: seen in copies of Getui's doc; ``3p?``: one 2025 third-party table only.
    confidence: str = "3p"


def _table(*actions: Action) -> dict[int, Action]:
    return {a.action_id: a for a in actions}


_A, _D, _C, _F = Stage.ARRIVED, Stage.DISPLAYED, Stage.CLICKED, Stage.FAILED

#: The actionIds we know (docs/receipts.md prints this table).
ACTIONS: Final[dict[int, Action]] = _table(
    Action(NO_ACTION_ID, "getui", _A, "receipt without actionId (basic arrival)", confidence="doc"),
    Action(0, "getui", _A, "Getui channel arrived"),
    Action(10000, "getui", _D, "Getui channel shown"),
    Action(10010, "getui", _C, "Getui channel clicked"),
    Action(10030, "getui", _A, "Getui pass-through arrived"),
    Action(10009, "apns", _D, "APNs shown"),
    Action(10019, "apns", _C, "APNs clicked"),
    Action(110000, "huawei", _A, "Huawei delivered"),
    Action(120000, "xiaomi", _A, "Xiaomi sent"),
    Action(120010, "xiaomi", _C, "Xiaomi clicked"),
    Action(130000, "meizu", _A, "Meizu arrived"),
    Action(130010, "meizu", _C, "Meizu clicked"),
    Action(140000, "oppo", _A, "OPPO arrived"),
    Action(150000, "vivo", _A, "vivo arrived"),
    Action(60020, "huawei", _C, "Huawei clicked", confidence="3p?"),
    Action(60030, "oppo", _C, "OPPO clicked", confidence="3p?"),
    Action(60040, "vivo", _C, "vivo clicked", confidence="3p?"),
    Action(60070, "honor", _C, "Honor clicked", confidence="3p?"),
    Action(60090, "harmony", _C, "HarmonyOS clicked", confidence="3p?"),
    Action(110030, "huawei", _F, "app uninstalled", "huawei_app_uninstalled", "3p?"),
    Action(110070, "huawei", _F, "notifications off", "huawei_notifications_off", "3p?"),
    Action(110102, "huawei", _F, "marketing message cap", "huawei_marketing_cap", "3p?"),
    Action(120050, "xiaomi", _F, "daily cap", "xiaomi_daily_cap", "3p?"),
    Action(140002, "oppo", _F, "daily cap", "oppo_daily_cap", "3p?"),
    Action(140004, "oppo", _F, "quiet hours", "oppo_quiet_hours", "3p?"),
    Action(1501017, "vivo", _F, "no marketing pushes 23:00-07:00", "vivo_night_hours", "3p?"),
    Action(15020006, "vivo", _F, "device offline 14 days", "vivo_offline_14_days", "3p?"),
)
#: Custom actionIds (``90000``-``90999``): the app's own events, counted by number.
CUSTOM_ACTION_IDS: Final = range(90000, 91000)


def classify(action_id: int, code: int | None) -> tuple[Stage, str | None]:
    """The stage a receipt means and, for a failure, its reason.

    A ``code`` other than 200 is a failure whatever the actionId (Getui: 400 = the APNs call failed).
    """
    if code is not None and code != CODE_OK:
        return Stage.FAILED, f"code_{code}"
    action = ACTIONS.get(action_id)
    if action is None:
        return Stage.OTHER, None
    return action.stage, action.reason


class Receipt(NamedTuple):
    """One verified receipt line; ``line`` is the original JSON, unknown fields included.

    A named tuple, not a dataclass: the server makes thousands a second.
    """

    appid: str
    cid: str
    taskid: str
    msgid: str
    action_id: int
    code: int | None
    recvtime: int | None
    alias: str | None
    line: str

    @property
    def key(self) -> tuple[str, str, int, str]:
        """What makes a receipt unique: Getui's re-sends and our repeats share it."""
        return (self.taskid, self.cid, self.action_id, self.msgid)


_Default = TypeVar("_Default", int, None)


def _text(value: Any) -> str | None:
    """An id field as text: strings as they are, integers spelled out (tolerant), others refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: Any, default: _Default) -> int | _Default:
    """An integer field (``actionId``, ``code``, ``recvtime``), also when sent as digits in a string.

    Absent (or null, or empty) is ``default``; anything else that is not an integer raises ValueError.
    """
    if type(value) is int:
        return value
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(value)


def _ids(*values: Any) -> tuple[str, str, str, str] | Refusal:
    """appid, cid, taskid, msgid as text (integers spelled out), or why they are refused."""
    if any(v is None or v == "" for v in values):
        return Refusal.MISSING_FIELD
    appid, cid, taskid, msgid = (_text(v) for v in values)
    if appid is None or cid is None or taskid is None or msgid is None:
        return Refusal.BAD_FIELD
    return appid, cid, taskid, msgid


class Verifier:
    """Checks receipt lines for one app: its id and its master secret (held as a :class:`Secret`)."""

    __slots__ = ("_app_id", "_secret")

    def __init__(self, app_id: str, master_secret: Secret) -> None:
        self._app_id = app_id
        self._secret = master_secret

    def __repr__(self) -> str:
        return f"Verifier(app_id={self._app_id!r})"

    def expected_sign(self, cid: str, taskid: str, msgid: str) -> str:
        """Hex MD5 of appid + cid + taskid + msgid + master secret (what Getui sends as ``sign``)."""
        text = self._app_id + cid + taskid + msgid + self._secret.reveal()
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    def check(self, line: bytes) -> Receipt | Refusal:
        """One line (without its newline) as a verified :class:`Receipt`, or why it is refused."""
        try:
            obj = _json.loads(line)
        except _json.JSONDecodeError:
            return Refusal.BAD_JSON
        if type(obj) is not dict:
            return Refusal.BAD_JSON
        get = obj.get
        appid, cid, taskid, msgid = get("appid"), get("cid"), get("taskid"), get("msgid")
        if not (type(appid) is str and type(cid) is str and type(taskid) is str and type(msgid) is str):
            ids = _ids(appid, cid, taskid, msgid)  # the slow path: numbers, gaps, wrong types
            if isinstance(ids, Refusal):
                return ids
            appid, cid, taskid, msgid = ids
        elif not (appid and cid and taskid and msgid):
            return Refusal.MISSING_FIELD
        if appid != self._app_id:
            return Refusal.OTHER_APP
        sign = get("sign")
        if type(sign) is not str or not sign:
            return Refusal.MISSING_SIGN
        expected = self.expected_sign(cid, taskid, msgid)
        if not hmac.compare_digest(sign.lower().encode(), expected.encode()):
            return Refusal.BAD_SIGN
        try:
            action_id = _number(get("actionId"), NO_ACTION_ID)
            code = _number(get("code"), None)
            recvtime = _number(get("recvtime"), None)
        except ValueError:
            return Refusal.BAD_FIELD
        alias = get("alias")
        alias = alias if alias is None or type(alias) is str else _text(alias)
        return Receipt(appid, cid, taskid, msgid, action_id, code, recvtime, alias, line.decode())
