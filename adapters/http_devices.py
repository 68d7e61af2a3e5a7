"""`POST /devices/readings`: device clouds send one webhook per measurement. The ledger keeps
what the rules count, one DataTransmitted per patient, device and day (in the practice's
time zone), never one event per reading: the readings of a day after the first are
answered as already recorded."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, post
from litestar.exceptions import HTTPException

from adapters.feeds.items import FeedResult, Item, fact_item, record
from adapters.http_service import Service, service_of
from adapters.lines import describe
from domain.contract import Ident, Instant, Text
from domain.timing import local_day

MAX_READINGS = 10_000
MAX_BODY = 5 * 1024 * 1024


class Reading(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    patient_id: Ident
    device_id: Ident
    measured_at: Instant
    reading_kind: Text | None = None  # accepted, not kept: two kinds on one day are still one device day
    manual: bool = False  # keyed by hand (not a device day, P-RPM-1)


Readings = Annotated[list[Reading], msgspec.Meta(max_length=MAX_READINGS)]


def items(body: bytes, service: Service) -> list[Item]:
    """One Item per reading: its day's DataTransmitted, or why the reading is unusable."""
    try:
        raw: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise HTTPException(status_code=400, detail="expected a JSON object or array of readings") from None
    raws = raw if isinstance(raw, list) else [raw]
    if len(raws) > MAX_READINGS:
        raise HTTPException(status_code=413, detail=f"more than {MAX_READINGS} readings; send several requests")
    out = []
    for n, one in enumerate(raws, start=1):
        where = f"reading {n}"
        try:
            reading = msgspec.convert(one, Reading)
        except msgspec.ValidationError as e:
            out.append(Item(where, error=describe(str(e), msgspec.json.encode(one))))
            continue
        day = local_day(reading.measured_at, service.ledger.policy)
        out.append(fact_item(where, {"type": "DataTransmitted", "patient_id": reading.patient_id,
                                     "device_id": reading.device_id, "transmitted_on": day.isoformat(),
                                     "manual": reading.manual, "source": "device webhook"}))  # fmt: skip
    return out


@post("/devices/readings", opt={"roles": {"recorder"}}, status_code=200, summary="Device readings (webhooks)",
      request_max_body_size=MAX_BODY)  # fmt: skip
async def post_readings(request: Request[Any, Any, Any]) -> Response[list[FeedResult]]:
    """A reading or a JSON array of readings ({patient_id, device_id, measured_at,
    reading_kind?, manual?}); one answer per reading."""
    service = service_of(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status_code=413, detail=f"body over {MAX_BODY} bytes; send several requests")

    def work() -> Response[list[FeedResult]]:
        answers: list[FeedResult] = []
        batch = items(body, service)
        with service.writing:
            record(service.ledger, batch, answers.append)
        service.refresh()
        return Response(answers)

    return await anyio.to_thread.run_sync(work)
