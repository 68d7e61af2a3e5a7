"""A msgspec mapper for stored events (set as MAPPER_TOPIC by adapters.store).

The library's JSON transcoder turns Decimal, date and datetime into strings unless each is
registered; a plain msgspec transcoder swap would return them as strings silently. Here each
event class is decoded against its own field types, so a stored event comes back exactly as
it was built. The library's upcasting (class_version, upcast_vX_vY) and its compressor and
cipher hooks are kept.

Stored state is JSON: it keeps the offsets of instants as sent and stays readable to a DBA.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

_ENVELOPE = ("originator_id", "originator_version")


class MsgspecMapper(Mapper[UUID]):
    """Maps domain events to stored events and back with per-class typed msgspec decoding."""

    _state_types: ClassVar[dict[type[Any], tuple[type[msgspec.Struct], msgspec.json.Decoder[Any]]]] = {}
    _encoder = msgspec.json.Encoder()

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        fields = vars(domain_event)
        cls = type(domain_event)
        class_version = getattr(cls, "class_version", 1)
        state = {k: v for k, v in fields.items() if k not in _ENVELOPE}
        if class_version > 1:
            state["class_version"] = class_version
        data = self._encoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(fields["originator_id"], fields["originator_version"], get_topic(cls), data)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(stored_event.topic)
        try:
            data = stored_event.state
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state = self._decode(cls, data)
        except Exception as e:
            msg = (
                f"Failed to deserialise stored event {stored_event.topic} of "
                f"{stored_event.originator_id} v{stored_event.originator_version}: {e}"
            )
            raise MapperDeserialisationError(msg) from e
        originator_id = stored_event.originator_id
        state["originator_id"] = originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
        state["originator_version"] = stored_event.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return typing.cast(DomainEventProtocol[UUID], event)

    @classmethod
    def _decode(cls, event_cls: type[Any], data: bytes) -> dict[str, Any]:
        struct_type, decoder = cls._state_type(event_cls)
        current = getattr(event_cls, "class_version", 1)
        try:
            decoded = decoder.decode(data)
            fresh = decoded.class_version == current
        except msgspec.ValidationError:
            fresh = False  # an older shape: upcast below
        if not fresh:
            raw: dict[str, Any] = msgspec.json.decode(data)
            version = raw.pop("class_version", 1)
            while version < current:
                getattr(event_cls, f"upcast_v{version}_v{version + 1}")(raw)
                version += 1
            decoded = msgspec.convert(raw, struct_type, strict=False)
        state = {name: getattr(decoded, name) for name in decoded.__struct_fields__}
        state.pop("class_version")
        return state

    @classmethod
    def _state_type(cls, event_cls: type[Any]) -> tuple[type[msgspec.Struct], msgspec.json.Decoder[Any]]:
        try:
            return cls._state_types[event_cls]
        except KeyError:
            pass
        hints = typing.get_type_hints(event_cls)
        # A field added with a default reads as that default from events stored without it.
        fields: list[Any] = [_field(f, hints[f.name]) for f in dataclasses.fields(event_cls) if f.name not in _ENVELOPE]
        fields.append(("class_version", int, 1))
        struct_type = msgspec.defstruct(f"{event_cls.__name__}State", fields, kw_only=True)
        entry = (struct_type, msgspec.json.Decoder(struct_type))
        cls._state_types[event_cls] = entry
        return entry


def _field(f: dataclasses.Field[Any], hint: Any) -> tuple[Any, ...]:
    """A state field for msgspec.defstruct: with its default (or default factory) when it has one."""
    if f.default is not dataclasses.MISSING:
        return (f.name, hint, f.default)
    if f.default_factory is not dataclasses.MISSING:
        return (f.name, hint, msgspec.field(default_factory=f.default_factory))
    return (f.name, hint)
