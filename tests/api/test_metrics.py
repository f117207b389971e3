"""/metrics of the web service: request latency by route template and status class (never
the raw path, so ids do not multiply the series), and this process's recommender index."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_api import auth

SIMILAR = "/api/v1/titles/{title_id}/similar"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _count(metrics: dict, route: str, method: str, status: str) -> float:
    key = (
        "coldstart_api_request_duration_seconds_count",
        (("method", method), ("route", route), ("status", status)),
    )
    return metrics.get(key, 0.0)


def test_requests_by_route_template_and_index_gauges(client, seeded, tokens) -> None:
    before = samples(client.get("/metrics").text)
    h = auth(tokens["read"])
    for name in ("haunted-a", "sunny", "romance"):
        assert client.get(f"/api/v1/titles/{seeded[name]}/similar", headers=h).status_code == 200
    assert client.get("/api/v1/titles/999999/similar", headers=h).status_code == 404
    assert client.get(f"/api/v1/titles/{seeded['sunny']}/similar").status_code == 401
    assert client.get("/no/such/path").status_code == 404
    after = samples(client.get("/metrics").text)

    def grew(route: str, method: str, status: str) -> float:
        return _count(after, route, method, status) - _count(before, route, method, status)

    assert grew(SIMILAR, "GET", "2xx") == 3  # three ids, one series
    assert grew(SIMILAR, "GET", "4xx") == 2
    assert grew("unmatched", "GET", "4xx") == 1
    assert not any(str(seeded["sunny"]) in dict(labels).get("route", "") for _, labels in after)
    assert after[("coldstart_api_index_titles", ())] == len(seeded)
    assert after[("coldstart_api_index_ready", ())] == 1
    assert after[("coldstart_api_index_last_event_id", ())] > 0
