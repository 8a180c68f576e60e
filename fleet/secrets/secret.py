"""``Secret``: a string that has no printable form.

A passphrase that can be printed will be printed, by a log line, an f-string or a report. ``Secret``
shows ``Secret('***')`` everywhere, refuses pickling and plain ``json.dumps``, serialises as
``"***"`` inside pydantic models, and registers its value with the process-wide scrubber so the
value is removed even where it escaped as a plain ``str``. ``reveal()`` is the one way out, used
only where the value goes on the wire to ONTAP.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from fleet.secrets.scrub import MASK, SCRUBBER


class Secret:
    """An immutable secret value; equality and hash by value, compared in constant time."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret takes a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)
        SCRUBBER.register(value)

    def reveal(self) -> str:
        """The value itself: call it only where it is sent to ONTAP or written to a secret store."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("Secret cannot be pickled: write it to a secret store explicitly")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Accept a Secret or a str (wrapped); serialise as ``***`` in both python and JSON modes."""
        from_str = core_schema.no_info_after_validator_function(cls, core_schema.str_schema())
        return core_schema.json_or_python_schema(
            json_schema=from_str,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_str]),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _secret: MASK),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "password", "writeOnly": True}
