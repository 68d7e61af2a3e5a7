"""The StaffDay aggregate: one staff member's clock on one local day. It owns G-03: two
time entries of the same person that overlap in clock time cannot both stand."""

from __future__ import annotations

from datetime import date, datetime

from domain.base import Created, LedgerAggregate
from domain.keys import staff_day_key
from domain.reasons import Reason, Refused


class StaffDay(LedgerAggregate):
    TOPIC = "carelane.StaffDay"

    def __init__(self, staff_id: str, day: date) -> None:
        super().__init__()
        self.staff_id = staff_id
        self.day = day
        self.slots: dict[str, tuple[datetime, datetime]] = {}

    class Event(LedgerAggregate.Event):
        pass

    class Opened(Event, Created):
        TOPIC = "carelane.StaffDay.Opened.v1"
        staff_id: str
        day: date

    class SlotBooked(Event):
        TOPIC = "carelane.StaffDay.SlotBooked.v1"
        entry_id: str
        start: datetime
        end: datetime

        def assign(self, sd: StaffDay) -> None:
            sd.slots[self.entry_id] = (self.start, self.end)

    class SlotReleased(Event):
        TOPIC = "carelane.StaffDay.SlotReleased.v1"
        entry_id: str

        def assign(self, sd: StaffDay) -> None:
            sd.slots.pop(self.entry_id, None)

    @classmethod
    def open(cls, staff_id: str, day: date, at: datetime) -> StaffDay:
        return cls._create(cls.Opened, id=staff_day_key(staff_id, day), staff_id=staff_id, day=day, timestamp=at)

    def book(self, entry_id: str, start: datetime, end: datetime, at: datetime) -> None:
        """G-03: refuse a slot that overlaps one this person already has booked."""
        self.check(entry_id, start, end)
        self.trigger_event(StaffDay.SlotBooked, entry_id=entry_id, start=start, end=end, timestamp=at)

    def check(self, entry_id: str, start: datetime, end: datetime) -> None:
        """G-03: raise TIME_OVERLAP if the slot overlaps one already booked."""
        for other_id, (s, e) in self.slots.items():
            if start < e and s < end:
                raise Refused.one(
                    Reason.TIME_OVERLAP,
                    f"Staff {self.staff_id} already logged {s:%H:%M}-{e:%H:%M} "
                    f"(entry {other_id}); the same minutes cannot be counted twice",
                )

    def release(self, entry_id: str, at: datetime) -> None:
        if entry_id in self.slots:
            self.trigger_event(StaffDay.SlotReleased, entry_id=entry_id, timestamp=at)
