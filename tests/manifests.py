"""Small manifests for tests, built in code."""

from __future__ import annotations

from typing import Any


def small_manifest_data(group: str = "ristretto255") -> dict[str, Any]:
    """Two districts (one with 3 seats, one minority seat), four stations, three factions."""
    return {
        "election_id": "test-2024",
        "name": "Test Majlis election",
        "date": "2024-03-01",
        "group": group,
        "factions": [
            {"id": "principlists", "name": "Principlists"},
            {"id": "reformists", "name": "Reformists"},
            {"id": "independents", "name": "Independents"},
        ],
        "districts": [
            {
                "id": "tabriz",
                "name": "Tabriz, Azarshahr and Osku",
                "seats": 3,
                "province": "East Azerbaijan",
                "candidates": [
                    {"code": "1101", "name": "Ali Karimi", "faction": "principlists"},
                    {"code": "1102", "name": "Zahra Ahmadi", "faction": "reformists"},
                    {"code": "1103", "name": "Reza Moradi", "faction": "independents"},
                    {"code": "1104", "name": "Maryam Jafari", "faction": "reformists"},
                    {"code": "1105", "name": "Hamid Nouri", "faction": "principlists"},
                ],
            },
            {
                "id": "armenians-south",
                "name": "Armenians of the south",
                "seats": 1,
                "minority": "armenian-south",
                "candidates": [
                    {"code": "2201", "name": "Ara Sarkisian"},
                    {"code": "2202", "name": "Sevak Petrosian"},
                ],
            },
        ],
        "stations": [
            {"id": "tabriz-001", "name": "School 1", "district": "tabriz"},
            {"id": "tabriz-002", "name": "Mosque 2", "district": "tabriz"},
            {"id": "tabriz-003", "name": "Library 3", "district": "tabriz"},
            {"id": "isfahan-arm-1", "name": "Vank", "district": "armenians-south"},
        ],
    }
