"""Demo-like grants data for the benchmarks: valid items with a few invalid ones mixed in."""

from __future__ import annotations

import random
from typing import Any

import orjson

CURRENCIES = ["GBP", "EUR", "USD"]


def grant(index: int, rng: random.Random) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"G-{index:06d}",
        "title": f"Grant {index} for a community project",
        "description": "Support for local work. " * rng.randint(5, 30),
        "amount": {"value": rng.randint(100, 500_000), "currency": rng.choice(CURRENCIES)},
        "awardDate": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "lastModified": "2026-06-01T12:00:00Z",
        "recipientOrganization": {
            "id": f"GB-CHC-{rng.randint(100000, 999999)}",
            "name": f"Organisation {rng.randint(1, 5000)}",
            "address": {"postcode": "AB1 2CD", "countryCode": "GB"},
        },
        "fundingOrganization": {"id": "GB-GOR-PB1", "name": "The Example Fund"},
        "classifications": [
            {"scheme": "topic", "code": f"T{rng.randint(1, 40)}", "title": "Topic"}
            for _ in range(rng.randint(1, 4))
        ],
        "documents": [
            {
                "url": f"https://example.org/grants/{index}/{number}.pdf",
                "title": "Award letter",
                "format": "application/pdf",
            }
            for number in range(rng.randint(1, 3))
        ],
        "contact": {"name": "Grants team", "email": f"grants{rng.randint(1, 99)}@example.org"},
    }
    return spoil(item, rng) if rng.random() < 0.03 else item


def spoil(item: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Make one of the usual mistakes."""
    mistake = rng.randrange(4)
    if mistake == 0:
        del item["amount"]["currency"]
    elif mistake == 1:
        item["awardDate"] = "2026-13-45"
    elif mistake == 2:
        item["amount"]["value"] = str(item["amount"]["value"])
    else:
        item["documents"][0]["url"] = "not a url"
    return item


def grants_json(items: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    return orjson.dumps({"grants": [grant(index, rng) for index in range(items)]})
