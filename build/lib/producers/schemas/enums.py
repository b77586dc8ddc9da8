"""The enums of the contract, serialized by name (§1.1 SEEN: `"IOS"`, `"MESSAGE_TYPE_MARKETING"`).

Each value's source is noted. Names whose spelling the reference does not give are
kept apart (`*_INFERRED`) so strict mode can refuse them.
"""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    """§11.1 `Platform`."""

    IOS = "IOS"  # SEEN [D1][D2]
    ANDROID = "ANDROID"  # SEEN [D1][D2]
    EMAIL = "EMAIL"  # SEEN [D4]
    HUAWEI_ANDROID = "HUAWEI_ANDROID"  # SEEN-3P [C1]
    CHROME = "CHROME"  # SEEN-3P [C1]
    SAFARI = "SAFARI"  # SEEN-3P [C1]
    FIREFOX = "FIREFOX"  # SEEN-3P [C1]
    IE = "IE"  # SEEN-3P [C1]
    WEB = "WEB"  # SEEN-3P [C1]
    # INFERRED from the SEEN content block keys (§7) and the visible naming
    # (huawei_android <-> HUAWEI_ANDROID); lenient mode only.
    BAIDU_ANDROID = "BAIDU_ANDROID"
    MAC_OS = "MAC_OS"
    AMAZON = "AMAZON"


PLATFORMS_INFERRED = (Platform.BAIDU_ANDROID, Platform.MAC_OS, Platform.AMAZON)
PLATFORMS_CONFIRMED = tuple(p for p in Platform if p not in PLATFORMS_INFERRED)

#: §7 content block key -> the platform it serves (used by warnings and builders).
BLOCK_PLATFORMS: dict[str, Platform] = {
    "ios": Platform.IOS,
    "android": Platform.ANDROID,
    "huawei_android": Platform.HUAWEI_ANDROID,
    "baidu_android": Platform.BAIDU_ANDROID,
    "mac_os": Platform.MAC_OS,
    "amazon": Platform.AMAZON,
    "safari": Platform.SAFARI,
    "chrome": Platform.CHROME,
    "firefox": Platform.FIREFOX,
    "ie": Platform.IE,
}


class MessageType(StrEnum):
    """§11.2 `MessageType`; `MESSAGE_TYPE_UNSPECIFIED` is unconfirmed and left out."""

    MARKETING = "MESSAGE_TYPE_MARKETING"  # SEEN [D2], the server's default
    TRANSACTIONAL = "MESSAGE_TYPE_TRANSACTIONAL"  # SEEN [D2]


class LiveUpdateOperation(StrEnum):
    """§8.1 / §11.3 Android Live Update `op` (SEEN-SDK [S1])."""

    START = "OPERATION_START"
    UPDATE = "OPERATION_UPDATE"
    END = "OPERATION_END"


class Priority(StrEnum):
    """§8.2 content `priority` (SEEN-3P [C1])."""

    UNSPECIFIED = "PRIORITY_UNSPECIFIED"
    MIN = "PRIORITY_MIN"
    LOW = "PRIORITY_LOW"
    DEFAULT = "PRIORITY_DEFAULT"
    HIGH = "PRIORITY_HIGH"
    MAX = "PRIORITY_MAX"


class DeliveryPriority(StrEnum):
    """§8.2 content `delivery_priority` (SEEN-3P [C1])."""

    NORMAL = "NORMAL"
    HIGH = "HIGH"


def names(enum: type[StrEnum], *, leave_out: tuple[StrEnum, ...] = ()) -> tuple[str, ...]:
    """The wire names of `enum`, in declaration order."""
    return tuple(member.value for member in enum if member not in leave_out)
